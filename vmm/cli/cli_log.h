/*
 * cli_log.h: -q, -v and --log-level of run and serve: the log level of the
 * library's facility (core/log.h), whose lines the command prints on stderr
 * as "mvmm: LEVEL: ...", and whether progress is shown (cli_progress.h).
 */
#ifndef MVMM_CLI_LOG_H
#define MVMM_CLI_LOG_H

#include <getopt.h>

#define CLI_LOG_LEVEL 0x120 /* --log-level; -q and -v are their own short options */

/* For the getopt_long option string, after "+". */
#define CLI_LOG_SHORTOPTS "qv"

#define CLI_LOG_LONGOPTS                                       \
	{"quiet", no_argument, NULL, 'q'},                     \
	{"verbose", no_argument, NULL, 'v'},                   \
	{"log-level", required_argument, NULL, CLI_LOG_LEVEL}

/* In main, before any subcommand: the sink that keeps progress lines clean. */
void cli_log_init(void);

/*
 * Takes getopt's c and optarg: -q (errors only, no progress), -v
 * (repeatable: info, then debug), --log-level=error|warn|info|debug.
 * 1 when it was one of them, 0 when not, -1 on a bad value (said).
 */
int cli_log_option(int c, const char *arg, const char *cmd);

/* Whether stdout / stderr were terminals when mvmm started (1, 2). */
int cli_log_tty(int fd);

#endif
