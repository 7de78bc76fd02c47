/*
 * cli_help.c: the help texts of the mvmm command, one per subcommand, and
 * the overview. `mvmm help CMD`, `mvmm CMD --help`, the man pages
 * (tools/help2man.sh turns these texts into roff) and the bash completion
 * (from the option tables) all come from here, so they cannot drift apart.
 *
 * Layout the man page generator relies on: the text opens with "usage:"
 * lines; a line of its own ending in ':' at column 0 starts a section
 * ("options:"); an item is a line starting with two spaces then a term
 * ("  --mem SIZE"), its description after two or more spaces or on the
 * following lines indented further; anything else is running text.
 * To add an option: one item line (and its continuations) under the
 * command's "options:" section, or in a HELP_* block shared by commands.
 */
#define _GNU_SOURCE
#include "cli_help.h"

#include <stdio.h>
#include <string.h>

/* ---- blocks shared by several commands ------------------------------------------------ */

/* The guest and its environment: run and serve. */
#define HELP_GUEST_OPTS                                                                     \
	"  --mem SIZE          guest memory: a plain number is MiB, as in QEMU (64: 64 MiB);\n" \
	"                      suffixes K, M, G (also KiB, MiB, GiB); default 64M,\n"         \
	"                      8M to 1G\n"                                                      \
	"  --timeout SECONDS   stop each guest after SECONDS (fractions allowed)\n"            \
	"  --env NAME=VALUE    add to the guest's environment (repeatable); --env NAME\n"     \
	"                      alone takes the host's value of NAME, as docker run -e\n"      \
	"                      does (nothing when the host has no NAME)\n"                    \
	"  --env-inherit       the guest gets mvmm's environment too (--env entries\n"        \
	"                      win); without it, only --env\n"                                \
	"  --dir HOST[:GUEST][:rw]  the guest sees the host directory tree HOST\n"             \
	"                      at GUEST (default: the same path), read-only unless :rw\n"     \
	"                      (writes answer EROFS); paths are resolved by the kernel\n"     \
	"                      beneath the tree (openat2 RESOLVE_BENEATH), so no .., link\n"  \
	"                      or /proc path leaves it; nothing outside the trees and\n"      \
	"                      --expose files exists for the guest (repeatable); HOST\n"      \
	"                      must be an existing directory (status 125 if not)\n"           \
	"  --cwd PATH          the guest's working directory (default /)\n"                   \
	"  --strace            print each system call of the guest on stderr with its\n"     \
	"                      arguments and result ([instance] first with --count)\n"        \
	"  --ready-on=stdin    with --template (and serve): for a program that does not\n"    \
	"                      call mvmm_ready(), the ready point is its first read of\n"     \
	"                      stdin; each clone re-issues that read and gets its own\n"      \
	"                      input (serve, launch, --count: its ARGS, one per line;\n"      \
	"                      --count 1: mvmm's stdin); --ready-on=ready: the SDK's\n"       \
	"                      ready call (the default)\n"                                    \
	"  --no-seccomp        run without the system-call filter (for debugging mvmm;\n"    \
	"                      see Security in the README)\n"                                 \
	"  --huge-pages=MODE   2 MiB pages for the guest's code and constants: auto\n"       \
	"                      (default: THP if the host allows it, else free hugetlbfs\n"    \
	"                      pages, else 4 KiB pages and a one-line hint on a\n"            \
	"                      terminal), thp, hugetlb (status 125 if the host lacks\n"       \
	"                      them, with the setting that enables them), off; --stats\n"     \
	"                      reports what was used\n"

/* The image cache: run and serve. */
#define HELP_CACHE_SECTION                                                                  \
	"image cache:\n"                                                                       \
	"A prepared image or booted template is kept in a file per (ELF content, memory\n"   \
	"size, 2 MiB pages or not, and for templates argv, environment, --dir, --cwd and\n"  \
	"--ready-on) and mapped by later runs instead of being built again (not a\n"         \
	"template holding a pipe open); see mvmm cache.\n"                                     \
	"  --cache-dir DIR     where (default $XDG_CACHE_HOME/mvmm, else ~/.cache/mvmm)\n"   \
	"  --no-cache          neither look up nor store\n"                                   \
	"  --cache-max SIZE    cap on the cache's disk use (a plain number is bytes;\n"      \
	"                      suffixes K, M, G), least recently used entries removed\n"      \
	"                      first (default 4G); an entry larger than the cap is not\n"     \
	"                      stored, with a note on stderr\n"

#define HELP_ENVIRONMENT                                                                    \
	"environment:\n"                                                                       \
	"  MVMM_HINTS          1: print hints (such as the huge-page one) even when\n"       \
	"                      stderr is not a terminal; 0: never\n"                          \
	"  XDG_CACHE_HOME      the image cache is $XDG_CACHE_HOME/mvmm (else\n"              \
	"                      ~/.cache/mvmm)\n"

/* How a guest's end becomes mvmm's status: run and launch. */
#define HELP_EXIT_STATUS                                                                    \
	"exit status:\n"                                                                       \
	"With --count, the first non-zero one by instance order.\n"                          \
	"  0-255  the guest's exit code\n"                                                    \
	"  123    the guest faulted (crash report on stderr) or broke the hypercall ABI\n"   \
	"  124    the guest was stopped by --timeout\n"                                       \
	"  125    mvmm's own error: usage, a bad ELF, a program of the old SDK, no KVM, a\n" \
	"         damaged snapshot, a FIFO where a file belongs\n"                            \
	"  128+N  the guest ended by signal N it raised itself (141: SIGPIPE, a\n"            \
	"         write to a pipe whose reader has gone)\n"                                   \
	"  134    the guest called abort() (was killed by SIGABRT); stderr says\n"           \
	"         \"guest aborted\"\n"                                                        \
	"  159    mvmm made a system call its seccomp filter forbids (named on stderr)\n"

#define HELP_HELP_OPT "  -h, --help          print this help and exit\n"

/* What mvmm says on stderr: run and serve. */
#define HELP_LOG_OPTS                                                                       \
	"  -q, --quiet         errors only: no warnings, no progress (serve still says\n"     \
	"                      'ready on PATH')\n"                                            \
	"  -v, --verbose       say what mvmm decided (cache hit or miss and why, huge\n"     \
	"                      pages, worker processes, dedup passes, template boot) as\n"   \
	"                      'mvmm: info: ...' lines; twice: 'mvmm: debug: ...' too\n"      \
	"  --log-level=LEVEL   error, warn (the default of run), info (the default of\n"     \
	"                      serve) or debug\n"

/* ---- the commands --------------------------------------------------------------------- */

static const char run_text[] =
	"usage: mvmm run [OPTIONS] GUEST.elf [ARGS...]\n"
	"       mvmm run [OPTIONS] A.elf [ARGS...] --- [--count N] B.elf [ARGS...] ...\n"
	"       mvmm run --from-snapshot BASE[,DIFF...] [OPTIONS] [ARGS...]\n"
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
	"Options go before GUEST.elf; what follows it belongs to the guest.\n"
	"\n"
	"options:\n"
	HELP_GUEST_OPTS
	"  --expose PATH       let the guest read the host file PATH at that path\n"
	"                      (repeatable); PATH must exist (status 125 if not)\n"
	"  --count N           run N instances of the guest at once, sharing its image;\n"
	"                      their output lines are prefixed with [instance] (a line\n"
	"                      is kept whole up to 64 KiB)\n"
	"  --hold              hold every instance at mvmm_wait() (or its first read of\n"
	"                      an empty stdin) until all have arrived, measure them\n"
	"                      (see --stats), release them\n"
	"  --output-dir DIR    write instance I's output to DIR/I.out and DIR/I.err,\n"
	"                      replacing those of an earlier run; DIR is created if\n"
	"                      missing, must be a directory of yours, writable by you\n"
	"                      and by nobody else (status 125 if not), and no link in\n"
	"                      it is followed\n"
	"  --stats[=json]      print memory accounting on stderr at the end: a table,\n"
	"                      or one JSON object per instance and a summary object\n"
	"  --per-process N     instances per worker process (default 50; 0: all in\n"
	"                      one process); bigger runs are spread over processes\n"
	"                      (not with --dedup, --ksm, --shm or ---); --template\n"
	"                      clones are too, all mapping the one frozen template\n"
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
	"                      describes a file. The base is mapped from its file\n"
	"                      (processes restoring it share its pages) when we own it\n"
	"                      and nobody else may write it, else copied; the diffs\n"
	"                      are each process's own\n"
	"  --shm NAME:SIZE[:ro]  create a shared-memory region (SIZE in bytes, suffixes\n"
	"                      K, M; a multiple of 4K, at most 512M) that every instance\n"
	"                      may look up by NAME and attach (read-only only, with\n"
	"                      :ro); repeatable\n"
	"  ---                 starts another group: [--count N] B.elf [ARGS...]; all\n"
	"                      groups run at once in this process, sharing --shm\n"
	"                      regions and the options, instance numbers continuing\n"
	"  --gdb PORT          let gdb debug the guest: it waits before its first\n"
	"                      instruction for `target remote :PORT` (TCP on 127.0.0.1\n"
	"                      only: the port is full control of the guest; 0: any\n"
	"                      free port, printed); breakpoints, steps, registers,\n"
	"                      memory, Ctrl-C; gdb's kill ends the run with 125\n"
	"  --gdb unix:PATH     the same on a unix socket PATH (created 0600, removed at\n"
	"                      the end; an existing PATH other than a stale socket of\n"
	"                      yours is refused)\n"
	"  --gdb-on-fault      with --gdb: run freely; at a fault print the crash report,\n"
	"                      then wait for gdb there\n"
	"  --gdb-instance I    with --gdb and --count: the instance gdb gets (default 0)\n"
	"                      (--timeout bounds the wait for gdb and the time in it; not\n"
	"                      with --template, --from-snapshot or --dedup)\n"
	"  --core FILE         when the guest faults, aborts or is killed by a signal\n"
	"                      that dumps core, write its ELF core file to FILE (never\n"
	"                      over an existing file; mode 0600) for gdb GUEST.elf FILE;\n"
	"                      with --count, FILE.I for instance I\n"
	"  --core-dir DIR      the same as DIR/core.I for instance I; DIR (created if\n"
	"                      missing) must be yours and writable by nobody else (or\n"
	"                      sticky, as /tmp): if not, a warning and no core files\n"
	HELP_LOG_OPTS
	HELP_HELP_OPT
	"\n"
	"progress:\n"
	"When stderr is a terminal and the level is warn or more, a run of --count\n"
	"instances (in one process or over worker processes) that lasts over a second\n"
	"shows one line on stderr, redrawn in place at most every 150 ms: instances\n"
	"started, held and exited, the time, and the start rate while they start.\n"
	"A long phase before that shows its name and the time the same way: a\n"
	"template's boot to its ready point and its storing in the cache\n"
	"(\"mvmm: booting the template: 1.4 s\"), an image built and stored in the\n"
	"cache (\"mvmm: loading the image: 1.1 s\").\n"
	"Guest output (a booting template's too) and log lines bound for the terminal\n"
	"erase it first (it comes back after a second without such output); it is\n"
	"erased at the end of the phase or run, before the run's results. On a pipe\n"
	"or a file, or with -q, nothing is shown.\n"
	"\n"
	"crash reports:\n"
	"A guest that faults (status 123) gets a report on stderr: the exception, its\n"
	"error code and address, the registers, a backtrace (function+offset, and file\n"
	"and line where the program or library has -g debug information; DWARF CFI,\n"
	"else frame pointers; at most 64 frames) and the code around rip. A fault in\n"
	"the guard page below the stack says \"stack overflow\"; rip 0 or rip outside\n"
	"mapped code is said as such, and the backtrace starts at the return address.\n"
	"\n"
	HELP_CACHE_SECTION
	"\n"
	HELP_ENVIRONMENT
	"\n"
	HELP_EXIT_STATUS;

static const char serve_text[] =
	"usage: mvmm serve --socket PATH [--replace] [OPTIONS] GUEST.elf [ARGS...]\n"
	"       mvmm serve --socket PATH [--replace] [OPTIONS] --from-snapshot BASE[,DIFF...]\n"
	"\n"
	"Boots GUEST.elf once to its ready call (mvmm_ready(), or with --ready-on=stdin\n"
	"its first read of stdin) and serves clones of it on the Unix socket PATH until\n"
	"SIGTERM or SIGINT; mvmm launch asks it for one. A PIE guest is placed at a new\n"
	"random base in each server generation. A clone frozen at a stdin read reads\n"
	"its request there, one argument per line. --timeout applies to each clone.\n"
	"\n"
	"options:\n"
	"  --socket PATH       the Unix socket to serve on (required)\n"
	"  --replace           take PATH over from a running server, which finishes its\n"
	"                      clones in flight and exits (no request fails meanwhile)\n"
	"  --from-snapshot BASE[,DIFF...]  serve clones of a snapshot chain's last state\n"
	"                      instead of booting a guest (no GUEST.elf; its files are\n"
	"                      opened again beneath --dir trees); the base is mapped\n"
	"                      from its file as for mvmm run --from-snapshot, so servers\n"
	"                      and runs restoring one chain share it\n"
	"  --workers K         serve from K worker processes (1-256; default 1), forked\n"
	"                      after the template is booted: all accept on PATH and\n"
	"                      clone from the one frozen template; SIGTERM and\n"
	"                      --replace end every worker. --status answers for the\n"
	"                      worker that took the request (its own counts)\n"
	HELP_GUEST_OPTS
	HELP_LOG_OPTS
	HELP_HELP_OPT
	"\n"
	"log:\n"
	"The server logs one line per generation change: 'mvmm: info: serve:\n"
	"generation N: serving PATH' (with --replace, the generation it replaces and\n"
	"its connections in flight), and when a generation retires or stops, with the\n"
	"clones it served. mvmm launch --socket PATH --status prints its status.\n"
	"\n"
	HELP_CACHE_SECTION
	"\n"
	HELP_ENVIRONMENT
	"\n"
	"exit status:\n"
	"  0      stopped by SIGTERM or SIGINT\n"
	"  123    the template faulted while booting (crash report on stderr)\n"
	"  125    mvmm's own error: usage, a bad ELF, no KVM, the socket is taken\n"
	"  159    mvmm made a system call its seccomp filter forbids (named on stderr)\n";

static const char launch_text[] =
	"usage: mvmm launch --socket PATH [--] [ARGS...]\n"
	"       mvmm launch --socket PATH --status[=json]\n"
	"\n"
	"Asks the mvmm serve on PATH for one clone with ARGS as the clone's request,\n"
	"relays its stdout and stderr, and exits with its status. Put -- before ARGS\n"
	"that start with -. With no ARGS and a stdin that is not a terminal, stdin is\n"
	"the request: echo 'print(1+1)' | mvmm launch --socket S.\n"
	"\n"
	"options:\n"
	"  --socket PATH       the server's Unix socket (required)\n"
	"  --status[=json]     instead of a clone, print the server's status: generation,\n"
	"                      clones served and in flight, shell pool, p50/p90/p99\n"
	"                      latency of its last 1,024 clones at most (request read to\n"
	"                      status sent), its RSS and PSS, the template's frozen\n"
	"                      memory; =json: one JSON object with the same figures\n"
	HELP_HELP_OPT
	"\n"
	HELP_EXIT_STATUS
	"Also 125 when the server cannot be reached.\n";

static const char snapshot_text[] =
	"usage: mvmm snapshot info [--json] FILE...\n"
	"       mvmm snapshot diff A[,DIFF...] B[,DIFF...] -o OUT\n"
	"\n"
	"info verifies each snapshot file (written by mvmm run --template --snapshot)\n"
	"and describes it: format, kind (base, or diff with its checkpoint), memory\n"
	"size, hashes, pages stored, the guest's process state, where it resumes and\n"
	"the guest ELF it came from.\n"
	"\n"
	"diff writes OUT, a diff holding the pages of chain B's last state that differ\n"
	"from chain A's, with B's vCPU and process state: mvmm run --from-snapshot\n"
	"A,OUT then resumes B. A and B may be snapshots of two different VMs (not only\n"
	"checkpoints of one), of one guest program and one memory size (others are\n"
	"refused). Many processes restoring A,OUT share A's base (mapped from its\n"
	"file) and each holds only OUT's pages. Prints the pages that differ and OUT's\n"
	"hash.\n"
	"\n"
	"options:\n"
	"  -o, --output OUT    diff: the file to write (atomically: written beside it,\n"
	"                      then renamed)\n"
	"  --json              one JSON object per file, one per line, with the keys\n"
	"                      file, format_version, abi_version, kind (\"base\" or\n"
	"                      \"diff\"), checkpoint (diffs), mem_bytes, hash, parent\n"
	"                      (diffs), data_pages, zero_pages, process, resume\n"
	"                      (\"clone-stdin\", \"clone-ready\" or \"checkpoint\"),\n"
	"                      resume_gpa, rip, elf_path, elf_size, elf_hash (when known)\n"
	HELP_HELP_OPT
	"\n"
	"exit status:\n"
	"  0      every file checked out (diff: OUT written)\n"
	"  125    a file could not be read or is damaged (said on stderr); info still\n"
	"         describes the others; diff: A and B do not fit, or OUT could not be\n"
	"         written (no file left)\n";

static const char cache_text[] =
	"usage: mvmm cache ls [--json] [--cache-dir DIR]\n"
	"       mvmm cache verify [--cache-dir DIR]\n"
	"       mvmm cache clear [--cache-dir DIR]\n"
	"\n"
	"The image cache of mvmm run and mvmm serve (see mvmm help run). ls: its\n"
	"entries with kind, memory size, size on disk, age, last use, hits and the\n"
	"guest; verify: check every entry's checksums and remove damaged ones; clear:\n"
	"remove every entry (the cache's own files only).\n"
	"\n"
	"options:\n"
	"  --cache-dir DIR     the cache (default $XDG_CACHE_HOME/mvmm, else\n"
	"                      ~/.cache/mvmm)\n"
	"  --json              ls: one JSON object {\"dir\", \"entries\": [...],\n"
	"                      \"total_bytes\"}; each entry has key, kind (\"image\",\n"
	"                      \"template\" or what is wrong with it), mem_bytes,\n"
	"                      disk_bytes, created (Unix seconds, 0 unknown), last_use\n"
	"                      (Unix seconds, 0 never), hits, verified, guest, args\n"
	"  --no-cache, --cache-max SIZE, --huge-pages=MODE  accepted and ignored\n"
	"                      (those of run and serve)\n"
	HELP_HELP_OPT
	"\n"
	"exit status:\n"
	"  0      done\n"
	"  1      verify found damaged entries (removed)\n"
	"  125    mvmm's own error (usage, the cache cannot be read)\n";

static const char overview_text[] =
	"usage: mvmm COMMAND [OPTIONS] [ARGS...]\n"
	"       mvmm help [COMMAND]\n"
	"       mvmm --help | --version\n"
	"\n"
	"Runs x86-64 Linux programs (unmodified, or built with mvmm-cc) in fresh,\n"
	"isolated KVM micro-VMs with no guest kernel that share their pages: one\n"
	"guest, thousands of instances of it, clones of a guest frozen at its ready\n"
	"call, snapshots, and a server of clones.\n"
	"\n"
	"commands:\n";

static const char overview_tail[] =
	"\n"
	"options:\n"
	"  -h, --help          print this overview and exit\n"
	"  -V, --version       print the version and the guest ABI, and exit\n"
	"\n"
	"'mvmm help COMMAND' or 'mvmm COMMAND --help' prints a command's options;\n"
	"man mvmm-COMMAND has the same text; the README has a guided tour.\n";

const struct cli_help cli_helps[] = {
	{"run", "run a guest program (or many instances of it) in fresh VMs", run_text,
	 cli_run_longopts},
	{"serve", "boot a guest once and serve clones of it on a Unix socket", serve_text,
	 cli_serve_longopts},
	{"launch", "ask a server for one clone and relay its output and status", launch_text,
	 cli_launch_longopts},
	{"snapshot", "describe snapshot files, diff two of them", snapshot_text, cli_snapshot_longopts},
	{"cache", "list, verify or clear the image cache", cache_text, cli_cache_longopts},
	{NULL, NULL, NULL, NULL},
};

const struct cli_help *cli_help_find(const char *name)
{
	const struct cli_help *h;

	for (h = cli_helps; name && h->name; h++)
		if (strcmp(h->name, name) == 0)
			return h;
	return NULL;
}

void cli_help_overview(FILE *out)
{
	const struct cli_help *h;

	fputs(overview_text, out);
	for (h = cli_helps; h->name; h++)
		fprintf(out, "  %-18s  %s\n", h->name, h->summary);
	fprintf(out, "  %-18s  %s\n", "help [COMMAND]", "print this overview or a command's help");
	fputs(overview_tail, out);
}

int cli_help_print(const char *name, FILE *out)
{
	const struct cli_help *h = cli_help_find(name);

	if (!h)
		return -1;
	fputs(h->text, out);
	return 0;
}

/* Every long option of the command, "--name" one per line ("--name=" when it takes a value). */
int cli_help_options(const char *name, FILE *out)
{
	const struct cli_help *h = cli_help_find(name);
	const struct option *o;

	if (!h)
		return -1;
	for (o = h->opts; o->name; o++)
		fprintf(out, "--%s%s\n", o->name, o->has_arg == required_argument ? "=" : "");
	return 0;
}
