/* cli_core.h: run's core-file options, --core FILE and --core-dir DIR. */
#ifndef MVMM_CLI_CORE_H
#define MVMM_CLI_CORE_H

#include <getopt.h>
#include <limits.h>

#include "core/vm.h"

/* Option values for getopt_long tables (outside the ASCII range the parsers use). */
#define CLI_CORE_FILE 0x140
#define CLI_CORE_DIR  0x141

#define CLI_CORE_LONGOPTS                                       \
	{"core", required_argument, NULL, CLI_CORE_FILE},       \
	{"core-dir", required_argument, NULL, CLI_CORE_DIR}

/*
 * Where core files go. The directory is opened (and checked) when the
 * option is read, before the seccomp filter is on, and stays open for the
 * life of the process: a core file is created under it by name at the end
 * of a faulting run (guestabi/lx_core.c).
 */
struct cli_core {
	struct vm_core_file one;  /* one instance: --core FILE, or DIR/core.N */
	struct vm_core_file many; /* several: FILE.N, or DIR/core.N */
	int set;
	char dir[PATH_MAX];	  /* as given, for messages */
	char name[NAME_MAX + 1];  /* FILE's last component, or "core." */
	char prefix[NAME_MAX + 2]; /* FILE's last component and "." */
};

/*
 * Takes getopt's c and optarg: 1 when it was one of CLI_CORE_LONGOPTS, 0
 * when not, -1 on a bad value (said). A directory that cannot be used (not
 * there, owned by another user, writable by others) is a warning: the run
 * goes on, without core files.
 */
int cli_core_option(struct cli_core *o, int c, const char *arg, const char *cmd);

/* What vm_config.core should point at (NULL: no core files); many: more than one instance. */
const struct vm_core_file *cli_core_target(const struct cli_core *o, int many);

#endif
