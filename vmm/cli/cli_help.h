/* cli_help.h: each subcommand's help text and option table, and how option errors are told. */
#ifndef MVMM_CLI_HELP_H
#define MVMM_CLI_HELP_H

#include <getopt.h>
#include <stdio.h>

/* One subcommand: `mvmm help NAME` prints text; opts is its getopt_long table. */
struct cli_help {
	const char *name;
	const char *summary; /* one line, for the overview and the man page's NAME */
	const char *text;
	const struct option *opts;
};

/* Every subcommand, ending with a NULL name. */
extern const struct cli_help cli_helps[];

/* The subcommands' getopt_long tables (each ends with a zeroed entry). */
extern const struct option cli_run_longopts[];
extern const struct option cli_serve_longopts[];
extern const struct option cli_launch_longopts[];
extern const struct option cli_snapshot_longopts[];
extern const struct option cli_cache_longopts[];

/* --help in every table; 'h' also in every optstring ("+:h"), so -h works too. */
#define CLI_HELP_LONGOPT {"help", no_argument, NULL, 'h'}

const struct cli_help *cli_help_find(const char *name);

/* The overview: the commands, one line each. */
void cli_help_overview(FILE *out);

/* The command's help; -1 when there is no such command. */
int cli_help_print(const char *name, FILE *out);

/* The command's long options, one "--name" a line ("--name=" when it takes a value). */
int cli_help_options(const char *name, FILE *out);

/*
 * getopt_long (optstring starting with "+:" or ":") returned '?' or ':' for
 * command cmd: says on stderr which option and what is wrong with it, with
 * the nearest long option of opts when the name looks misspelt. Always -1.
 */
int cli_option_error(const char *cmd, int c, char *const argv[], const struct option *opts);

/*
 * The name in names (NULL-terminated, or opts' names when names is NULL)
 * closest to word by edit distance (a swap of two letters counts once),
 * when close enough to be a misspelling of it; else NULL.
 */
const char *cli_nearest(const char *word, size_t len, const struct option *opts,
			const char *const *names);

#endif
