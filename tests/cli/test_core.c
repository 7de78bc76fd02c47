/*
 * test_core.c: crash reports' backtraces (function, file and line), "stack
 * overflow", a call through a null function pointer, and core files that
 * gdb opens (--core, --core-dir), for tests/debugged/bt.c built with -g.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define T_LIMIT_MS   30000
#define GDB_LIMIT_MS 60000
#define BT_SRC	     "tests/debugged/bt.c"
#define BT_STATIC    "build/tests/debugged/bt-musl"
#define BT_DYNAMIC   "build/tests/debugged/bt-dyn"

/* The line of BT_SRC that carries marker (a comment such as BT_LEVEL3): the tests' truth. */
static int marker_line(const char *marker)
{
	FILE *f = fopen(BT_SRC, "r");
	char buf[512];
	int n = 0, found = 0;

	cr_assert_not_null(f, "%s", BT_SRC);
	while (fgets(buf, sizeof(buf), f)) {
		n++;
		if (strstr(buf, marker) && strstr(buf, "/*") && strncmp(buf, " *", 2)) {
			found = n;
			break;
		}
	}
	fclose(f);
	cr_assert(found, "no %s in %s", marker, BT_SRC);
	return found;
}

/* The text of backtrace line "#n" in a report (malloc'd), or NULL. */
static char *frame(const char *report, int n)
{
	char tag[16];
	const char *s, *e;

	snprintf(tag, sizeof(tag), "  #%-2d ", n);
	s = strstr(report, tag);
	if (!s)
		return NULL;
	e = strchr(s, '\n');
	return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

/* Frame n of report names function fn at BT_SRC's line of marker. */
static void expect_frame(const char *report, int n, const char *fn, const char *marker)
{
	char *line = frame(report, n), want_fn[64], want_at[64];

	cr_assert_not_null(line, "no frame #%d in:\n%s", n, report);
	snprintf(want_fn, sizeof(want_fn), " in %s+0x", fn);
	snprintf(want_at, sizeof(want_at), "bt.c:%d)", marker_line(marker));
	cr_expect(strstr(line, want_fn) && strstr(line, want_at),
		  "frame #%d is '%s', want %s at %s", n, line, fn, want_at);
	free(line);
}

static void expect_three_deep(const char *prog)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", (char *)prog, "deep");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_assert(strstr(p.err, "backtrace:\n"), "%s", p.err);
	expect_frame(p.err, 0, "level3", "BT_LEVEL3");
	expect_frame(p.err, 1, "level2", "BT_LEVEL2");
	expect_frame(p.err, 2, "level1", "BT_LEVEL1");
	expect_frame(p.err, 3, "main", "BT_MAIN");
	t_proc_free(&p);
}

Test(backtrace, three_calls_deep_with_file_and_line)
{
	expect_three_deep(BT_STATIC);
}

/* A dynamic program: the same frames through the program's module, libc's frames from the host. */
Test(backtrace, dynamic_program)
{
	expect_three_deep(BT_DYNAMIC);
}

Test(backtrace, endless_recursion_is_a_stack_overflow)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", BT_STATIC, "recurse");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "stack overflow: the faulting address is in the guard page"), "%s",
		  p.err);
	expect_frame(p.err, 1, "recurse", "BT_RECURSE");
	cr_expect(strstr(p.err, "the same frame"), "a recursion is one line:\n%s", p.err);
	t_proc_free(&p);
}

Test(backtrace, null_function_pointer)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", BT_STATIC, "nullfn");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "at rip 0x0 "), "%s", p.err);
	cr_expect(strstr(p.err, "rip 0: a call through a null function pointer?"), "%s", p.err);
	cr_expect(strstr(p.err, "backtrace (from the return address at [rsp]):"), "%s", p.err);
	expect_frame(p.err, 0, "call_null", "BT_NULLFN");
	cr_expect(!strstr(p.err, "=> 0x0"), "page 0 is not disassembled:\n%s", p.err);
	t_proc_free(&p);
}

Test(backtrace, jump_to_unmapped_memory)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", BT_STATIC, "wild");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "at rip 0x7f0000000000 "), "%s", p.err);
	cr_expect(strstr(p.err, "rip is not in mapped memory"), "%s", p.err);
	expect_frame(p.err, 0, "call_wild", "BT_WILD");
	cr_expect(strstr(p.err, "nothing to show"), "no disassembly of unmapped memory:\n%s", p.err);
	t_proc_free(&p);
}

static char *tmpdir(void)
{
	char *d = strdup("/tmp/mvmm-core-test.XXXXXX");

	cr_assert(d && mkdtemp(d));
	return d;
}

static void rmtree(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_expect_eq(system(cmd), 0);
}

/* `gdb -batch PROG CORE -ex bt -ex 'info registers rip'`, bounded. */
static void gdb_core(const char *prog, const char *core, struct t_proc *p)
{
	char *argv[] = {"/usr/bin/timeout",   "60",	    "gdb", "-nx", "-batch",
			(char *)prog,	      (char *)core, "-ex", "bt",  "-ex",
			"info registers rip", NULL};

	t_run(argv, GDB_LIMIT_MS, p);
	cr_assert(!p->timed_out);
}

Test(core, gdb_shows_the_faulting_frame_and_rip)
{
	char *dir = tmpdir(), core[128], rip_hex[32], want[64];
	unsigned long rip = 0;
	const char *at;
	struct t_proc p, g;
	struct stat st;

	snprintf(core, sizeof(core), "%s/bt.core", dir);
	T_MVMM(&p, T_LIMIT_MS, "run", "--core", core, BT_STATIC, "deep");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_assert(strstr(p.err, "core file: written to "), "%s", p.err);
	at = strstr(p.err, "at rip 0x");
	cr_assert(at && sscanf(at, "at rip 0x%lx", &rip) == 1, "%s", p.err);
	cr_assert_eq(stat(core, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600);
	gdb_core(BT_STATIC, core, &g);
	cr_expect(strstr(g.out, "level3"), "gdb:\n%s\n%s", g.out, g.err);
	snprintf(want, sizeof(want), "bt.c:%d", marker_line("BT_LEVEL3"));
	cr_expect(strstr(g.out, want), "gdb:\n%s", g.out);
	cr_expect(strstr(g.out, "in main"), "gdb:\n%s", g.out);
	snprintf(rip_hex, sizeof(rip_hex), "0x%lx", rip);
	at = strstr(g.out, "\nrip ");
	cr_expect(at && strstr(at, rip_hex), "rip %s, gdb:\n%s", rip_hex, g.out);
	t_proc_free(&g);
	t_proc_free(&p);
	/* a second run never replaces the file, and says so; the fault is still reported */
	T_MVMM(&p, T_LIMIT_MS, "run", "--core", core, BT_STATIC, "deep");
	cr_expect_eq(p.status, 123);
	cr_expect(strstr(p.err, "core file: not written: ") && strstr(p.err, "File exists"), "%s",
		  p.err);
	cr_expect(strstr(p.err, "backtrace:"), "%s", p.err);
	t_proc_free(&p);
	rmtree(dir);
	free(dir);
}

Test(core, abort_writes_one_too)
{
	char *dir = tmpdir(), core[128];
	struct t_proc p, g;

	snprintf(core, sizeof(core), "%s/abort.core", dir);
	/* glibc's abort has unwind tables (musl's raise has none: gdb stops there) */
	T_MVMM(&p, T_LIMIT_MS, "run", "--core", core, BT_DYNAMIC, "abort");
	cr_expect_eq(p.status, 134, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "killed by SIGABRT; core file written to"), "%s", p.err);
	gdb_core(BT_DYNAMIC, core, &g);
	cr_expect(strstr(g.out, "SIGABRT") || strstr(g.err, "SIGABRT"), "gdb:\n%s\n%s", g.out,
		  g.err);
	cr_expect(strstr(g.out, "in main"), "gdb:\n%s", g.out);
	t_proc_free(&g);
	t_proc_free(&p);
	rmtree(dir);
	free(dir);
}

/* A signal the guest raised itself that dumps core on Linux: status 139, and a core file. */
Test(core, raised_sigsegv_writes_one_and_says_so)
{
	char *dir = tmpdir(), core[128];
	struct t_proc p;
	struct stat st;

	snprintf(core, sizeof(core), "%s/raise.core", dir);
	T_MVMM(&p, T_LIMIT_MS, "run", "--core", core, BT_STATIC, "raise");
	cr_expect_eq(p.status, 139, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "killed by SIGSEGV; core file written to"), "%s", p.err);
	cr_expect_eq(stat(core, &st), 0);
	t_proc_free(&p);
	rmtree(dir);
	free(dir);
}

/* --core-dir with --count 3: only the instance that faults leaves DIR/core.N. */
Test(core, core_dir_holds_only_the_faulting_instance)
{
	char *dir = tmpdir();
	struct dirent *e;
	struct t_proc p;
	int n = 0, one = 0;
	DIR *d;

	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "3", "--core-dir", dir, BT_STATIC, "inst1");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "[1] guest fault"), "%s", p.err);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			n++;
			one |= !strcmp(e->d_name, "core.1");
		}
	closedir(d);
	cr_expect(n == 1 && one, "%d files in %s, core.1 %s", n, dir, one ? "among them" : "not");
	t_proc_free(&p);
	rmtree(dir);
	free(dir);
}

/* --core FILE with --count: FILE.N for the instance that faults. */
Test(core, core_file_with_count_is_numbered)
{
	char *dir = tmpdir(), core[128], one[140], zero[140];
	struct t_proc p;
	struct stat st;

	snprintf(core, sizeof(core), "%s/c", dir);
	snprintf(one, sizeof(one), "%s.1", core);
	snprintf(zero, sizeof(zero), "%s.0", core);
	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "2", "--core", core, BT_STATIC, "inst1");
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect_eq(stat(one, &st), 0, "no %s:\n%s", one, p.err);
	cr_expect_neq(stat(zero, &st), 0);
	cr_expect_neq(stat(core, &st), 0);
	t_proc_free(&p);
	rmtree(dir);
	free(dir);
}

/* A directory others may write to is refused with a clear warning; the fault is still reported. */
Test(core, hostile_core_dir_is_refused_and_the_fault_still_reported)
{
	char *dir = tmpdir();
	struct t_proc p;
	DIR *d;
	struct dirent *e;
	int n = 0;

	cr_assert_eq(chmod(dir, 0777), 0);
	T_MVMM(&p, T_LIMIT_MS, "run", "--core-dir", dir, BT_STATIC, "deep");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "--core-dir") && strstr(p.err, "writable by others") &&
			  strstr(p.err, "no core file will be written"),
		  "%s", p.err);
	cr_expect(strstr(p.err, "guest fault: page fault") && strstr(p.err, "backtrace:"), "%s",
		  p.err);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	cr_expect_eq(n, 0);
	t_proc_free(&p);
	/* a directory that is not there and cannot be made: the same */
	T_MVMM(&p, T_LIMIT_MS, "run", "--core-dir", "/proc/self/nowhere", BT_STATIC, "deep");
	cr_expect_eq(p.status, 123, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "no core file will be written") && strstr(p.err, "backtrace:"),
		  "%s", p.err);
	t_proc_free(&p);
	rmtree(dir);
	free(dir);
}
