/*
 * server.h: the preloading server: one booted template, a clone per request
 * over a Unix socket speaking the protocol of srv_wire.h.
 */
#ifndef MVMM_SERVER_H
#define MVMM_SERVER_H

#include "core/kvm.h"
#include "core/vm.h"
#include "load/image.h"
#include "srv_wire.h"

struct srv_config {
	const char *path;	 /* the socket path to serve at */
	const char *const *argv; /* the template guest's argv (argv[0]: program name) */
	const char *const *envp;
	uint64_t timeout_ns; /* per clone; 0: none */
	unsigned shells;     /* VM shells kept ready (default 8) */
	int replace;	     /* take the path over from a running server, then retire it */
	int stop_fd;	     /* readable (a signalfd): stop now; -1 for none */
	int confine;	     /* each clone's thread runs under the vCPU filter (core/confine.h) */
	struct template *tpl; /* a template already made (the image cache): served instead of
				 booting img; the server takes a reference */
	const struct lx_config *lx; /* a Linux program's trees, --ready-on, --strace; or NULL */
	unsigned workers; /* > 1: srv_run forks this many worker processes (srv_workers.c) */
};

struct srv;
struct lx_config;

/*
 * Boots the template (img with cfg->argv) to its ready call, starts the
 * shell pool and binds a socket next to cfg->path, then renames it over
 * the path; with cfg->replace, tells the server that was there to retire.
 * Refuses to take over a path where a server answers unless cfg->replace.
 * NULL on failure (errmsg set); if the template guest ended before ready,
 * *tpl_res says how.
 */
struct srv *srv_create(struct kvm_sys *kvm, struct image *img, const struct srv_config *cfg,
		       struct vm_result *tpl_res);

/* A problem met while taking over the path that did not stop the server, or NULL. */
const char *srv_warning(const struct srv *s);

/* How long the template took to boot to ready. */
uint64_t srv_boot_ns(const struct srv *s);

/*
 * Serves until cfg->stop_fd becomes readable (clones in flight are stopped
 * and get status 125) or a retire request arrives (the backlog is drained,
 * clones in flight finish). Returns 0, or -1 on a host failure.
 * With cfg->workers > 1 this process forks the workers, which accept on the
 * one listening socket and clone from the one frozen template (its memfd is
 * shared), each with its own shells; it serves nothing itself, passes a stop
 * (cfg->stop_fd) or a retire request one worker received on to all of them,
 * and returns once every worker has ended. A status request is answered by
 * the worker that accepted it: its counts are that worker's.
 */
int srv_run(struct srv *s);

/* Frees the server (after srv_run, or instead of it). */
void srv_destroy(struct srv *s);

#endif
