/* main.c: the mvmm command: a table of subcommands over libmvmm. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_help.h"
#include "cli_log.h"
#include "core/hugepage.h"
#include "mvmm_abi.h"

#define MVMM_VERSION "0.1.0"

/*
 * `mvmm help [COMMAND]`; `mvmm help --options COMMAND` lists the command's
 * long options, one a line (for the bash completion and the man page test).
 */
static int cmd_help(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--options") == 0) {
		if (cli_help_options(argv[2], stdout) == 0)
			return 0;
	} else if (argc < 2) {
		cli_help_overview(stdout);
		return 0;
	} else if (argc == 2 && cli_help_print(argv[1], stdout) == 0) {
		return 0;
	}
	fprintf(stderr, "mvmm help: no command '%s' (see 'mvmm help')\n", argv[argc - 1]);
	return CLI_STATUS_ERROR;
}

static int cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("mvmm %s (guest ABI %d)\n", MVMM_VERSION, MVMM_ABI_VERSION);
	return 0;
}

/* Snapshot files (cmd_snapshot.c). */
int cmd_snapshot(int argc, char **argv);

/* The preloading server's subcommands (cmd_serve.c, cmd_launch.c). */
int cmd_serve(int argc, char **argv);
int cmd_launch(int argc, char **argv);

/* The image cache (cmd_cache.c). */
int cmd_cache(int argc, char **argv);

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} commands[] = {
	{"run", cmd_run},	  {"serve", cmd_serve},	    {"launch", cmd_launch},
	{"snapshot", cmd_snapshot}, {"cache", cmd_cache},	    {"help", cmd_help},
	{"--help", cmd_help},	  {"-h", cmd_help},	    {"--version", cmd_version},
	{"-V", cmd_version},	  {"version", cmd_version},
};

/* An unknown command: the nearest one when it looks misspelt. */
static int unknown_command(const char *name)
{
	static const char *const names[] = {"run", "serve", "launch", "snapshot", "cache",
					    "help", "version", NULL};
	const char *near = cli_nearest(name, strlen(name), NULL, names);

	if (name[0] == '-')
		fprintf(stderr, "mvmm: unknown option '%s'", name);
	else
		fprintf(stderr, "mvmm: unknown command '%s'", name);
	if (near && name[0] != '-')
		fprintf(stderr, " (did you mean '%s'?)", near);
	fprintf(stderr, "\n(see 'mvmm help')\n");
	return CLI_STATUS_ERROR;
}

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		cli_help_overview(stderr);
		return CLI_STATUS_ERROR;
	}
	huge_hints_enable();
	cli_log_init();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	return unknown_command(argv[1]);
}
