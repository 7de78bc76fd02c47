/* cli_linux.h: the options for Linux programs: --dir, --cwd, --strace, --env-inherit, --ready-on. */
#ifndef MVMM_CLI_LINUX_H
#define MVMM_CLI_LINUX_H

#include "guestabi/lx.h"

#define CLI_DIRS_MAX 64
#define CLI_ENV_MAX  4096

enum {
	CLI_LX_DIR = 0x110,
	CLI_LX_CWD,
	CLI_LX_STRACE,
	CLI_LX_ENV_INHERIT,
	CLI_LX_READY_ON,
};

#define CLI_LINUX_LONGOPTS                                                  \
	{"dir", required_argument, NULL, CLI_LX_DIR},                       \
		{"cwd", required_argument, NULL, CLI_LX_CWD},               \
		{"strace", no_argument, NULL, CLI_LX_STRACE},               \
		{"env-inherit", no_argument, NULL, CLI_LX_ENV_INHERIT},     \
		{"ready-on", required_argument, NULL, CLI_LX_READY_ON}

struct cli_linux {
	struct lx_dir dirs[CLI_DIRS_MAX];
	char *dir_specs[CLI_DIRS_MAX]; /* owned copies the dirs point into */
	struct lx_config cfg;	       /* vm_config.lx */
	int env_inherit;
	const char **envp; /* --env first, then the inherited environment it does not override */
};

/* Takes getopt's opt and arg: 1 when it was one of the options above, 0 when not, -1 on a bad value (said). */
int cli_linux_option(struct cli_linux *l, int opt, const char *arg, const char *cmd);

/*
 * --env ARG: *var is ARG when it is NAME=VALUE; for NAME alone, the host's
 * NAME=value (environ's own string), or NULL when the host has no NAME
 * (the guest gets none either). -1 with a usage message for an empty NAME.
 */
int cli_env_option(const char *arg, const char **var, const char *cmd);

/*
 * The guest environment: env (the --env list, NULL-terminated) alone, or with
 * --env-inherit followed by every host variable env does not set. NULL: out of memory.
 */
const char *const *cli_linux_env(struct cli_linux *l, const char *const *env);

void cli_linux_free(struct cli_linux *l);

#endif
