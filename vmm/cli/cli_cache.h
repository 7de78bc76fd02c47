/* cli_cache.h: the cache options of run and serve, and `mvmm cache`. */
#ifndef MVMM_CLI_CACHE_H
#define MVMM_CLI_CACHE_H

#include <getopt.h>

#include "cache/cache.h"

/* Option values for getopt_long tables (outside the ASCII range the parsers use). */
#define CLI_CACHE_DIR 0x101
#define CLI_CACHE_OFF 0x102
#define CLI_CACHE_MAX 0x103
#define CLI_HUGE      0x104

/* How images are built and found: the cache's options and --huge-pages. */
#define CLI_CACHE_LONGOPTS                                        \
	{"cache-dir", required_argument, NULL, CLI_CACHE_DIR},    \
	{"no-cache", no_argument, NULL, CLI_CACHE_OFF},            \
	{"cache-max", required_argument, NULL, CLI_CACHE_MAX},     \
	{"huge-pages", required_argument, NULL, CLI_HUGE}

/*
 * Takes getopt's c and optarg: 1 when it was one of CLI_CACHE_LONGOPTS, 0
 * when not, -1 on a bad value (said).
 */
int cli_cache_option(struct cache_opts *o, int c, const char *arg, const char *cmd);

/* Prints st's warning, if any, as one line "mvmm: warning: ..." on stderr. */
void cli_cache_warn(const struct cache_status *st);

int cmd_cache(int argc, char **argv);

#endif
