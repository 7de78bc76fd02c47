/* cmd_run.h: `mvmm run`'s options, parsed by cmd_run_opts.c and run by cmd_run.c. */
#ifndef MVMM_CMD_RUN_H
#define MVMM_CMD_RUN_H

#include <stdint.h>

#include "cli_cache.h"
#include "cli_core.h"
#include "cli_dedup.h"
#include "cli_gdb.h"
#include "cli_linux.h"
#include "cli_shm.h"
#include "cli_stats.h"

#define RUN_MAX_ENV   256
#define RUN_MAX_COUNT 100000

struct run_opts {
	uint64_t mem_size;
	uint64_t timeout_ns;
	const char *env[RUN_MAX_ENV + 1];
	int nenv;
	const char *exposed[RUN_MAX_ENV + 1]; /* --expose PATH: host files the guest may read */
	int nexposed;
	unsigned count;
	int hold;
	int no_share;
	int template;
	unsigned per_process; /* instances per worker process; 0: all in this one */
	int per_process_set;
	const char *output_dir;
	enum cli_stats_mode stats;
	const char *snapshot;	   /* --snapshot PATH */
	const char *from_snapshot; /* --from-snapshot BASE[,DIFF...] */
	struct cli_dedup_opts dedup; /* --dedup[=MS], --dedup-budget, --dedup-domain, --ksm */
	struct cache_opts cache;     /* --cache-dir, --no-cache, --cache-max */
	char **guest_argv; /* guest path, then its arguments */
	struct cli_shm shm; /* --shm NAME:SIZE[:ro] */
	unsigned first;	    /* first instance number (groups after '---' continue the count) */
	int grouped;	    /* part of a run with '---' groups */
	int no_seccomp;	    /* --no-seccomp: no system-call filter (debugging) */
	struct cli_linux lx; /* --dir, --cwd, --strace, --env-inherit */
	const char *const *envp; /* the guest's environment: --env, with --env-inherit the host's */
	struct cli_core core;	 /* --core FILE, --core-dir DIR */
	struct cli_gdb gdb;	 /* --gdb, --gdb-on-fault, --gdb-instance */
};

/* "mvmm run: WHY" and where to read more, on stderr; returns -1. */
int run_usage(const char *why);

/* -1 on a usage error (said), 1 when the help was asked for (printed), else 0. */
int run_parse(int argc, char **argv, struct run_opts *o);

#endif
