/* main.c: the mvmm command: a table of subcommands over libmvmm. */
#define _GNU_SOURCE
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_log.h"
#include "core/hugepage.h"
#include "mvmm_abi.h"

#define MVMM_VERSION "0.1.0"

static const char usage_text[] =
	"usage: mvmm run [OPTIONS] GUEST.elf [ARGS...]\n"
	"       mvmm run [OPTIONS] A.elf [ARGS...] --- [--count N] B.elf [ARGS...] ...\n"
	"       mvmm serve --socket PATH [--replace] [--mem SIZE] [--timeout SECONDS]\n"
	"                  GUEST.elf [ARGS...]\n"
	"       mvmm launch --socket PATH [ARGS...]\n"
	"       mvmm launch --socket PATH --status[=json]\n"
	"       mvmm run --from-snapshot BASE[,DIFF...] [OPTIONS] [ARGS...]\n"
	"       mvmm snapshot info FILE...\n"
	"       mvmm cache ls|verify|clear [--cache-dir DIR]\n"
	"       mvmm --help | --version\n"
	"\n"
	"Runs GUEST.elf in a fresh KVM virtual machine: an x86-64 Linux program\n"
	"(musl or glibc, ET_EXEC or PIE, static or dynamic, unmodified: mvmm answers\n"
	"its system calls; no guest kernel), such as /usr/bin/lua5.4 or one built\n"
	"with mvmm-cc (musl-gcc -static plus <mvmm/*.h> for ready, request, wait,\n"
	"checkpoint and shared memory). A dynamic program sees, read-only, its loader,\n"
	"/etc/ld.so.cache and the libraries it needs (mapped from the host's page\n"
	"cache, shared by every guest); --dir adds trees (python3: --dir\n"
	"/usr/lib/python3.11). The guest's stdout and stderr are mvmm's; it reads\n"
	"mvmm's stdin. A program built by the old mvmm SDK is refused with status 125.\n"
	"\n"
	"run options:\n"
	"  --mem SIZE          guest memory, e.g. 64M (default 64M; 8M to 1G)\n"
	"  --timeout SECONDS   stop each guest after SECONDS (fractions allowed)\n"
	"  --env NAME=VALUE    add to the guest's environment (repeatable)\n"
	"  --expose PATH       let the guest read the host file PATH at that path\n"
	"                      (repeatable)\n"
	"  --dir HOST[:GUEST][:rw]  the guest sees the host directory tree HOST\n"
	"                      at GUEST (default: the same path), read-only unless :rw;\n"
	"                      nothing outside the trees and --expose files exists for\n"
	"                      it (repeatable)\n"
	"  --cwd PATH          the guest's working directory (default /)\n"
	"  --env-inherit       the guest gets mvmm's environment too (--env entries\n"
	"                      win); without it, only --env\n"
	"  --strace            print each system call of the guest on stderr with its\n"
	"                      arguments and result ([instance] first with --count)\n"
	"  --ready-on=stdin    with --template (and serve): for a program that does not\n"
	"                      call mvmm_ready(), the ready point is its first read of\n"
	"                      stdin; each clone re-issues that read and gets its own\n"
	"                      input (serve, launch, --count: its ARGS, one per line;\n"
	"                      --count 1: mvmm's stdin)\n"
	"  --count N           run N instances of the guest at once, sharing its image;\n"
	"                      their output lines are prefixed with [instance]\n"
	"  --hold              hold every instance at mvmm_wait() (or its first read of\n"
	"                      an empty stdin) until all have arrived, measure them\n"
	"                      (see --stats), release them\n"
	"  --output-dir DIR    write instance I's output to DIR/I.out and DIR/I.err;\n"
	"                      DIR must be yours and writable by nobody else, and no\n"
	"                      link in it is followed\n"
	"  --stats[=json]      print memory accounting on stderr at the end: a table,\n"
	"                      or one JSON object per instance and a summary object\n"
	"  --per-process N     instances per worker process (default 50; 0: all in\n"
	"                      one process); bigger runs are spread over processes\n"
	"                      (not with --template, --dedup, --ksm, --shm or ---)\n"
	"  --no-share          give each instance a private copy of the image (the\n"
	"                      baseline that sharing is measured against)\n"
	"  --dedup[=MS]        merge identical private pages of the instances into\n"
	"                      shared pages: a pass every MS ms (default 1000) and a\n"
	"                      full one when all are held (--hold); see --stats\n"
	"  --dedup-budget=MS   time bound of each periodic pass (default 100)\n"
	"  --dedup-domain=N    instance I merges only with instances J, I%N == J%N\n"
	"                      (sharing leaks page contents through timing)\n"
	"  --ksm               mark guest memory MADV_MERGEABLE for the kernel's KSM\n"
	"  --template          boot one instance to its mvmm_ready() call, freeze it,\n"
	"                      then run --count clones of it; each clone resumes from\n"
	"                      ready with ARGS as its request (mvmm_request())\n"
	"  --snapshot PATH     with --template: write the ready state to PATH, then run\n"
	"                      the guest on (--count 1) writing PATH.1, PATH.2, ... as\n"
	"                      page diffs at its checkpoints; --count 0 stops at PATH;\n"
	"                      the guest's open files are saved by guest path and\n"
	"                      offset (one holding a pipe is refused)\n"
	"  --from-snapshot BASE[,DIFF...]  resume the last state of a snapshot chain\n"
	"                      (no GUEST.elf; the guest's files are opened again\n"
	"                      beneath this run's --dir trees); mvmm snapshot info FILE\n"
	"                      describes a file\n"
	"  --shm NAME:SIZE[:ro]  create a shared-memory region (SIZE a multiple of 4K,\n"
	"                      at most 512M) that every instance may look up by NAME\n"
	"                      and attach (read-only only, with :ro); repeatable\n"
	"  ---                 starts another group: [--count N] B.elf [ARGS...]; all\n"
	"                      groups run at once in this process, sharing --shm\n"
	"                      regions and the options, instance numbers continuing\n"
	"  --no-seccomp        run without the system-call filter (for debugging mvmm;\n"
	"                      see Security in the README)\n"
	"  --huge-pages=MODE   2 MiB pages for the guest's code and constants (also for\n"
	"                      serve): auto (default: THP if the host allows it, else\n"
	"                      free hugetlbfs pages, else 4 KiB pages and a one-line\n"
	"                      hint on a terminal), thp, hugetlb (status 125 if the\n"
	"                      host lacks them, with the setting that enables them),\n"
	"                      off; --stats reports what was used\n"
	"  -q, --quiet         errors only: no warnings, no progress (also for serve,\n"
	"                      which still says 'ready on PATH')\n"
	"  -v, --verbose       say what mvmm decided (cache hit or miss and why, huge\n"
	"                      pages, worker processes, dedup passes, template boot) as\n"
	"                      'mvmm: info: ...' lines; twice: 'mvmm: debug: ...' too\n"
	"  --log-level=LEVEL   error, warn (the default of run), info (the default of\n"
	"                      serve) or debug\n"
	"  on a terminal, a run of --count instances that lasts over a second shows one\n"
	"  line of progress on stderr (started, held, exited, time), erased before any\n"
	"  other line and at the end; nothing on a pipe or a file, nor with -q\n"
	"\n"
	"environment: MVMM_HINTS=1 prints hints (such as the huge-page one) even when\n"
	"stderr is not a terminal, MVMM_HINTS=0 never\n"
	"\n"
	"exit status of run (with --count, the first non-zero one by instance order):\n"
	"  0-255  the guest's exit code\n"
	"  123    the guest faulted (crash report on stderr) or broke the hypercall ABI\n"
	"  128+N  the guest ended by signal N it raised itself (141: SIGPIPE, a\n"
	"         write to a pipe whose reader has gone)\n"
	"  124    the guest was stopped by --timeout\n"
	"  125    mvmm's own error (usage, bad ELF, old-SDK program, no KVM)\n"
	"  134    the guest called abort() (was killed by SIGABRT)\n"
	"  159    mvmm made a system call its seccomp filter forbids (named on stderr)\n"
	"\n"
	"serve boots GUEST.elf once to its ready call and serves clones of it on the\n"
	"Unix socket PATH until SIGTERM or SIGINT (a PIE guest at a new random base\n"
	"in each server generation); launch asks it for one clone with ARGS as the\n"
	"clone's request (put -- before ARGS that start with -; with no ARGS and a\n"
	"stdin that is not a terminal, stdin is the request: echo 'print(1+1)' |\n"
	"mvmm launch --socket S), relays its stdout and stderr, and exits with the\n"
	"status rules of run (125 also when it cannot reach the server).\n"
	"  --replace           take PATH over from a running server, which finishes its\n"
	"                      clones in flight and exits (no request fails meanwhile)\n"
	"  --mem, --timeout, --env, --no-seccomp, --huge-pages, --dir, --cwd, --strace,\n"
	"  --env-inherit, --ready-on, -q, -v, --log-level   as for run (--timeout applies\n"
	"                      to each clone); a clone frozen at a stdin read reads its\n"
	"                      request there; serve logs each generation change\n"
	"                      ('mvmm: info: serve: generation N: ...')\n"
	"  launch --status[=json]  print the server's generation, clones served and in\n"
	"                      flight, shell pool, latency percentiles of its recent\n"
	"                      clones and its memory (RSS, PSS, template); =json: one\n"
	"                      JSON object\n"
	"\n"
	"image cache (run, serve): a prepared image or booted template is kept in a file\n"
	"per (ELF content, memory size, 2 MiB pages or not, and for templates argv,\n"
	"environment, --dir, --cwd and --ready-on) and mapped by later runs instead of\n"
	"being built again (not a template holding a pipe open)\n"
	"  --cache-dir DIR     where (default $XDG_CACHE_HOME/mvmm, else ~/.cache/mvmm)\n"
	"  --no-cache          neither look up nor store\n"
	"  --cache-max SIZE    cap on the cache's disk use, least recently used entries\n"
	"                      removed first (default 4G)\n"
	"cache ls: entries with size, age, last use, hits; cache verify: check every\n"
	"entry's checksums, remove damaged ones (status 1 if any); cache clear: remove all\n";

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fputs(usage_text, stdout);
	return 0;
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
	{"run", cmd_run},     {"serve", cmd_serve}, {"launch", cmd_launch}, {"snapshot", cmd_snapshot}, {"cache", cmd_cache},	  {"help", cmd_help},
	{"--help", cmd_help}, {"-h", cmd_help},	    {"--version", cmd_version},
};

int main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		fputs(usage_text, stderr);
		return CLI_STATUS_ERROR;
	}
	huge_hints_enable();
	cli_log_init();
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "mvmm: unknown command '%s' (try 'mvmm --help')\n", argv[1]);
	return CLI_STATUS_ERROR;
}
