/* cli_gdb.h: `mvmm run --gdb`: the debugger's options and its listening socket. */
#ifndef MVMM_CLI_GDB_H
#define MVMM_CLI_GDB_H

#include <getopt.h>

#include "core/gdbvm.h"
#include "load/image.h"

/* Option values for getopt_long tables (outside the ASCII range the parsers use). */
#define CLI_GDB		 0x170
#define CLI_GDB_ON_FAULT 0x171
#define CLI_GDB_INSTANCE 0x172

#define CLI_GDB_LONGOPTS                                               \
	{"gdb", required_argument, NULL, CLI_GDB},                     \
	{"gdb-on-fault", no_argument, NULL, CLI_GDB_ON_FAULT},         \
	{"gdb-instance", required_argument, NULL, CLI_GDB_INSTANCE}

struct cli_gdb {
	const char *spec; /* --gdb PORT or unix:PATH, or NULL */
	int on_fault;
	unsigned long instance;
	int instance_set;
	int unix_bound; /* the socket file at spec + 5 is ours to remove */
	struct gdb_link *link; /* for vm_config.gdb: NULL without --gdb (owned) */
};

/* Takes getopt's c and optarg: 1 when it was one of CLI_GDB_LONGOPTS, 0 when not, -1 on a bad value (said). */
int cli_gdb_option(struct cli_gdb *g, int c, const char *arg, const char *cmd);

/*
 * Before confinement: checks the options against the run (count instances;
 * other: a mode --gdb does not go with, or NULL) and opens the listening
 * socket. 0 (also without --gdb), or -1 (said).
 */
int cli_gdb_open(struct cli_gdb *g, unsigned count, const char *other);

/*
 * Tells gdb where img's program was placed (qOffsets), when it is a PIE and
 * the debugged instance is one of [first, first + count) (a '---' group's;
 * groups start in threads of their own: only the debugged one's writes).
 */
void cli_gdb_image(struct cli_gdb *g, const struct image *img, unsigned first, unsigned count);

/* What a vCPU thread's filter must allow too (confine.h), 0 without --gdb. */
unsigned cli_gdb_confine(const struct cli_gdb *g);

/* Closes the socket (and removes a unix one). */
void cli_gdb_close(struct cli_gdb *g);

#endif
