/*
 * cli_linux.c: what `mvmm run` and `mvmm serve` give a Linux program
 * besides its arguments: host directory trees (--dir HOST[:GUEST][:rw]),
 * its working directory, --strace, and the host environment on request.
 */
#define _GNU_SOURCE
#include "cli_linux.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static int linux_usage(const char *cmd, const char *why, const char *arg)
{
	fprintf(stderr, "mvmm %s: %s%s%s\n(see 'mvmm help %s')\n", cmd, why, arg ? ": " : "",
		arg ? arg : "", cmd);
	return -1;
}

/* HOST[:GUEST][:rw|:ro]; GUEST must be absolute, HOST an existing directory. */
static int linux_dir(struct cli_linux *l, const char *arg, const char *cmd)
{
	struct lx_dir *d;
	char *spec, *guest, *mode;
	struct stat st;

	if (l->cfg.ndirs == CLI_DIRS_MAX)
		return linux_usage(cmd, "too many --dir options", NULL);
	spec = strdup(arg);
	if (!spec)
		return linux_usage(cmd, "out of memory", NULL);
	l->dir_specs[l->cfg.ndirs] = spec;
	d = &l->dirs[l->cfg.ndirs++];
	memset(d, 0, sizeof(*d));
	guest = strchr(spec, ':');
	if (guest)
		*guest++ = '\0';
	mode = guest ? strchr(guest, ':') : NULL;
	if (mode)
		*mode++ = '\0';
	/* "HOST:rw" alone: the mode, at the same path. */
	if (guest && !mode && (!strcmp(guest, "rw") || !strcmp(guest, "ro"))) {
		mode = guest;
		guest = NULL;
	}
	if (!*spec)
		return linux_usage(cmd, "--dir needs HOST[:GUEST][:rw]", arg);
	if (guest && *guest != '/')
		return linux_usage(cmd, "--dir: the guest path must be absolute", arg);
	if (mode && strcmp(mode, "rw") && strcmp(mode, "ro"))
		return linux_usage(cmd, "--dir: the mode is rw or ro", arg);
	if (!guest && *spec != '/')
		return linux_usage(cmd, "--dir HOST without GUEST needs an absolute HOST path", arg);
	if (stat(spec, &st) < 0)
		return linux_usage(cmd, "--dir: no such directory on the host", spec);
	if (!S_ISDIR(st.st_mode))
		return linux_usage(cmd, "--dir: not a directory", spec);
	d->host = spec;
	d->guest = guest && *guest ? guest : spec;
	d->rw = mode && !strcmp(mode, "rw");
	l->cfg.dirs = l->dirs;
	return 0;
}

int cli_linux_option(struct cli_linux *l, int opt, const char *arg, const char *cmd)
{
	switch (opt) {
	case CLI_LX_DIR:
		return linux_dir(l, arg, cmd) < 0 ? -1 : 1;
	case CLI_LX_CWD:
		if (*arg != '/')
			return linux_usage(cmd, "--cwd needs an absolute guest path", arg);
		l->cfg.cwd = arg;
		return 1;
	case CLI_LX_STRACE:
		l->cfg.strace = 1;
		l->cfg.strace_fd = STDERR_FILENO;
		return 1;
	case CLI_LX_ENV_INHERIT:
		l->env_inherit = 1;
		return 1;
	case CLI_LX_READY_ON:
		/* "ready": the SDK's ready hypercall (the default); "stdin": a Linux program's first read. */
		if (!strcmp(arg, "stdin"))
			l->cfg.ready_on_stdin = 1;
		else if (strcmp(arg, "ready"))
			return linux_usage(cmd, "--ready-on is stdin or ready", arg);
		return 1;
	}
	return 0;
}

int cli_env_option(const char *arg, const char **var, const char *cmd)
{
	size_t n = strcspn(arg, "=");

	*var = NULL;
	if (n == 0)
		return linux_usage(cmd, "--env needs NAME=VALUE or NAME, NAME not empty", arg);
	if (arg[n] == '=') {
		*var = arg;
		return 0;
	}
	/* NAME alone: the host's "NAME=value" string itself, as docker run -e NAME */
	for (char **e = environ; e && *e; e++)
		if (!strncmp(*e, arg, n) && (*e)[n] == '=') {
			*var = *e;
			break;
		}
	return 0;
}

/* Whether env sets the variable named by var ("NAME=value"). */
static int env_sets(const char *const *env, const char *var)
{
	size_t n = strcspn(var, "=");

	for (; env && *env; env++)
		if (!strncmp(*env, var, n) && (*env)[n] == '=')
			return 1;
	return 0;
}

const char *const *cli_linux_env(struct cli_linux *l, const char *const *env)
{
	size_t n = 0, k = 0;

	if (!l->env_inherit)
		return env;
	while (env && env[n])
		n++;
	for (char **e = environ; e && *e; e++)
		k++;
	free(l->envp);
	l->envp = calloc(n + k + 1, sizeof(*l->envp));
	if (!l->envp)
		return NULL;
	memcpy(l->envp, env, n * sizeof(*env));
	for (char **e = environ; e && *e; e++)
		if (!env_sets(env, *e))
			l->envp[n++] = *e;
	return l->envp;
}

void cli_linux_free(struct cli_linux *l)
{
	for (size_t i = 0; i < l->cfg.ndirs; i++)
		free(l->dir_specs[i]);
	free(l->envp);
	memset(l, 0, sizeof(*l));
}
