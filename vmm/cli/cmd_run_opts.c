/* cmd_run_opts.c: `mvmm run`'s options: the getopt table, their values, how they combine. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_help.h"
#include "cli_log.h"
#include "cli_output.h"
#include "cmd_run.h"
#include "core/error.h"
#include "core/vm.h"

int run_usage(const char *why)
{
	fprintf(stderr, "mvmm run: %s\n(see 'mvmm help run')\n", why);
	return -1;
}

static int parse_stats_mode(const char *arg, enum cli_stats_mode *mode)
{
	if (!arg || strcmp(arg, "table") == 0)
		*mode = CLI_STATS_TABLE;
	else if (strcmp(arg, "json") == 0)
		*mode = CLI_STATS_JSON;
	else
		return run_usage("--stats takes no value, =table or =json");
	return 0;
}

/* How --snapshot, --from-snapshot and --count 0 go with the rest. */
static int run_check_snapshot(const struct run_opts *o, int have_guest)
{
	if (o->snapshot && (!o->template || o->count > 1))
		return run_usage("--snapshot needs --template, and --count 0 or 1");
	/*
	 * A page merged or zeroed by dedup is mapped from the dedup store, and a
	 * snapshot diff would take it for the base's unchanged page.
	 */
	if (o->snapshot && o->dedup.on)
		return run_usage("--snapshot does not go with --dedup");
	if (!o->count && !o->snapshot)
		return run_usage("--count needs a number from 1 to 100000");
	if (o->from_snapshot && (o->template || o->snapshot || o->no_share))
		return run_usage("--from-snapshot goes with neither --template, --snapshot "
				 "nor --no-share");
	if (!have_guest && !o->from_snapshot)
		return run_usage("no guest program given");
	return 0;
}

const struct option cli_run_longopts[] = {
	{"mem", required_argument, NULL, 'm'},
	{"timeout", required_argument, NULL, 't'},
	{"env", required_argument, NULL, 'e'},
	{"expose", required_argument, NULL, 'x'},
	{"shm", required_argument, NULL, 'M'},
	{"count", required_argument, NULL, 'n'},
	{"hold", no_argument, NULL, 'H'},
	{"no-share", no_argument, NULL, 'P'},
	{"template", no_argument, NULL, 'T'},
	{"per-process", required_argument, NULL, 'p'},
	{"output-dir", required_argument, NULL, 'o'},
	{"stats", optional_argument, NULL, 's'},
	{"snapshot", required_argument, NULL, 'S'},
	{"from-snapshot", required_argument, NULL, 'F'},
	{"dedup", optional_argument, NULL, 'D'},
	{"dedup-budget", required_argument, NULL, 'D'},
	{"dedup-domain", required_argument, NULL, 'D'},
	{"ksm", no_argument, NULL, 'D'},
	{"no-seccomp", no_argument, NULL, 'Z'},
	CLI_CACHE_LONGOPTS,
	CLI_CORE_LONGOPTS,
	CLI_LINUX_LONGOPTS,
	CLI_GDB_LONGOPTS,
	CLI_LOG_LONGOPTS,
	CLI_HELP_LONGOPT,
	{NULL, 0, NULL, 0},
};

/* --expose PATH: the file must be there now, not be found missing by the guest later. */
static int run_expose(struct run_opts *o, const char *path)
{
	struct stat st;

	if (o->nexposed == RUN_MAX_ENV)
		return run_usage("too many --expose options");
	if (stat(path, &st) < 0) {
		fprintf(stderr, "mvmm run: --expose %s: %s\n", path, strerror(errno));
		return -1;
	}
	o->exposed[o->nexposed++] = path;
	return 0;
}

/*
 * The option groups run shares with other commands (log, cache and huge
 * pages, Linux programs, core files, gdb): 1 when c was one of theirs, 0
 * when not (getopt's '?' and ':' included), -1 on a bad value (said).
 */
static int run_option_group(struct run_opts *o, int c, const char *arg)
{
	int r;

	if (c == '?' || c == ':')
		return 0;
	if ((r = cli_log_option(c, arg, "run")) || (r = cli_cache_option(&o->cache, c, arg, "run")) ||
	    (r = cli_linux_option(&o->lx, c, arg, "run")) ||
	    (r = cli_core_option(&o->core, c, arg, "run")))
		return r;
	return cli_gdb_option(&o->gdb, c, arg, "run");
}

int run_parse(int argc, char **argv, struct run_opts *o)
{
	const struct option *longopts = cli_run_longopts;
	char *end;
	int c, g, li = 0;

	o->mem_size = MVMM_MEM_DEFAULT;
	o->count = 1;
	optind = 0; /* full re-initialisation of getopt for the subcommand's argv */
	opterr = 0;
	/* '+': stop at GUEST.elf; what follows belongs to the guest. */
	while ((c = getopt_long(argc, argv, "+:h" CLI_LOG_SHORTOPTS, longopts, &li)) != -1) {
		switch (c) {
		case 'h':
			cli_help_print("run", stdout);
			return 1;
		case 'm':
			if (cli_parse_mem(optarg, &o->mem_size) < 0)
				return run_usage("--mem needs a size such as 64 (MiB), 64M or 1G");
			break;
		case 't':
			if (cli_parse_seconds(optarg, &o->timeout_ns) < 0)
				return run_usage("--timeout needs a positive number of seconds");
			break;
		case 'x':
			if (run_expose(o, optarg) < 0)
				return -1;
			break;
		case 'M':
			if (cli_shm_option(&o->shm, optarg) < 0)
				return -1;
			break;
		case 'e': {
			const char *var;

			if (o->nenv == RUN_MAX_ENV)
				return run_usage("too many --env options");
			if (cli_env_option(optarg, &var, "run") < 0)
				return -1;
			if (var)
				o->env[o->nenv++] = var;
			break;
		}
		case 'n': {
			unsigned long n = strtoul(optarg, &end, 10);

			if (*optarg < '0' || *optarg > '9' || *end || n > RUN_MAX_COUNT)
				return run_usage("--count needs a number from 1 to 100000");
			o->count = (unsigned)n;
			break;
		}
		case 'H':
			o->hold = 1;
			break;
		case 'P':
			o->no_share = 1;
			break;
		case 'p': {
			unsigned long n = strtoul(optarg, &end, 10);

			if (*optarg < '0' || *optarg > '9' || *end || n > RUN_MAX_COUNT)
				return run_usage("--per-process needs a number (0: all in one process)");
			o->per_process = (unsigned)n;
			o->per_process_set = 1;
			break;
		}
		case 'T':
			o->template = 1;
			break;
		case 'o':
			if (cli_output_check(optarg) < 0) {
				fprintf(stderr, "mvmm run: %s\n", mvmm_errmsg());
				return -1;
			}
			o->output_dir = optarg;
			break;
		case 's':
			if (parse_stats_mode(optarg, &o->stats) < 0)
				return -1;
			break;
		case 'S':
			o->snapshot = optarg;
			break;
		case 'F':
			o->from_snapshot = optarg;
			break;
		case 'Z':
			o->no_seccomp = 1;
			break;
		case 'D':
			if (cli_dedup_option(&o->dedup, longopts[li].name, optarg) < 0)
				return -1;
			break;
		default:
			g = run_option_group(o, c, optarg);
			if (g < 0)
				return -1;
			if (!g)
				return cli_option_error("run", c, argv, longopts);
			break;
		}
	}
	o->envp = cli_linux_env(&o->lx, o->env);
	if (!o->envp)
		return run_usage("out of memory");
	o->guest_argv = argv + optind;
	return run_check_snapshot(o, optind < argc);
}
