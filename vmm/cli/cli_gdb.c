/*
 * cli_gdb.c: --gdb PORT | unix:PATH, --gdb-on-fault, --gdb-instance N. The
 * socket is made here, before the process confines itself (no new sockets
 * afterwards); the vCPU thread only accepts on it. A debugger port is full
 * control of the guest: TCP listens on 127.0.0.1 only, a unix socket is
 * created 0600 and never over anything but a stale socket of our own.
 */
#define _GNU_SOURCE
#include "cli_gdb.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/confine.h"

int cli_gdb_option(struct cli_gdb *g, int c, const char *arg, const char *cmd)
{
	char *end;

	switch (c) {
	case CLI_GDB:
		g->spec = arg;
		return 1;
	case CLI_GDB_ON_FAULT:
		g->on_fault = 1;
		return 1;
	case CLI_GDB_INSTANCE:
		g->instance = strtoul(arg, &end, 10);
		if (*arg < '0' || *arg > '9' || *end) {
			fprintf(stderr, "mvmm %s: --gdb-instance needs an instance number\n", cmd);
			return -1;
		}
		g->instance_set = 1;
		return 1;
	default:
		return 0;
	}
}

static int gdb_listen_tcp(struct cli_gdb *g, const char *port_s)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);
	char *end;
	unsigned long port = strtoul(port_s, &end, 10);
	int fd, one = 1;

	if (*port_s < '0' || *port_s > '9' || *end || port > 65535) {
		fprintf(stderr, "mvmm run: --gdb takes a TCP port (0: any free one) or unix:PATH\n");
		return -1;
	}
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK); /* never another host: gdb owns the guest */
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		fprintf(stderr, "mvmm run: --gdb: listening on 127.0.0.1:%lu: %s\n", port,
			strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	g->link->listen_fd = fd;
	snprintf(g->link->where, sizeof(g->link->where), "127.0.0.1:%u (target remote :%u)",
		 ntohs(a.sin_port), ntohs(a.sin_port));
	return 0;
}

/* An existing path is taken over only when it is a socket of ours (one a run left behind). */
static int gdb_unix_free(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode) || st.st_uid != geteuid()) {
		errno = EEXIST;
		return -1;
	}
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

static int gdb_listen_unix(struct cli_gdb *g, const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	mode_t old;
	int fd, rc;

	if (!*path || strlen(path) >= sizeof(a.sun_path)) {
		fprintf(stderr, "mvmm run: --gdb unix:PATH needs a path of 1 to %zu bytes\n",
			sizeof(a.sun_path) - 1);
		return -1;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || gdb_unix_free(path) < 0) {
		fprintf(stderr, "mvmm run: --gdb: %s: %s (not replaced: only a socket of ours is)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* bind creates the file with 0777 & ~umask and never follows a symlink there. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&a, sizeof(a));
	umask(old);
	if (rc < 0 || listen(fd, 1) < 0) {
		fprintf(stderr, "mvmm run: --gdb: listening on %s: %s\n", path, strerror(errno));
		if (rc == 0)
			unlink(path);
		close(fd);
		return -1;
	}
	g->unix_bound = 1;
	g->link->listen_fd = fd;
	snprintf(g->link->where, sizeof(g->link->where), "%s (target remote %s)", path, path);
	return 0;
}

static int gdb_listen(struct cli_gdb *g)
{
	if (strncmp(g->spec, "unix:", 5) == 0)
		return gdb_listen_unix(g, g->spec + 5);
	return gdb_listen_tcp(g, g->spec);
}

int cli_gdb_open(struct cli_gdb *g, unsigned count, const char *other)
{
	if (!g->spec) {
		if (g->on_fault || g->instance_set) {
			fprintf(stderr, "mvmm run: --gdb-on-fault and --gdb-instance go with --gdb\n");
			return -1;
		}
		return 0;
	}
	if (other) {
		fprintf(stderr, "mvmm run: --gdb does not go with %s\n", other);
		return -1;
	}
	if (g->instance >= count) {
		fprintf(stderr, "mvmm run: --gdb-instance %lu: the run has instances 0 to %u\n",
			g->instance, count - 1);
		return -1;
	}
	g->link = calloc(1, sizeof(*g->link));
	if (!g->link) {
		fprintf(stderr, "mvmm run: out of memory\n");
		return -1;
	}
	g->link->listen_fd = -1;
	g->link->conn = -1;
	g->link->on_fault = g->on_fault;
	g->link->instance = g->instance;
	if (gdb_listen(g) < 0) {
		free(g->link);
		g->link = NULL;
		return -1;
	}
	return 0;
}

void cli_gdb_image(struct cli_gdb *g, const struct image *img, unsigned first, unsigned count)
{
	if (g->link && img && img->prog.pie && g->instance >= first &&
	    g->instance - first < count) {
		g->link->has_bias = 1;
		g->link->load_bias = img->prog.base;
	}
}

unsigned cli_gdb_confine(const struct cli_gdb *g)
{
	return g->spec ? CONFINE_VCPU_DEBUGGER : 0;
}

void cli_gdb_close(struct cli_gdb *g)
{
	if (!g->link)
		return;
	if (g->link->listen_fd >= 0)
		close(g->link->listen_fd);
	if (g->unix_bound)
		unlink(g->spec + 5);
	g->unix_bound = 0;
	free(g->link);
	g->link = NULL;
}
