/*
 * test_linux_dynamic.c: dynamically linked programs as unmodified guests: Debian's lua5.4
 * and python3 with their shared libraries from the host, compared with the same
 * interpreters run natively; what the guest sees of the host (exactly its closure);
 * $ORIGIN; hostile DT_NEEDED names and a library that is not an ELF; templates of them.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guestabi/lx_run.h"

TestSuite(dynamic, .init = lxt_need_kvm, .timeout = 300);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define LUA	  "/usr/bin/lua5.4"
#define PYTHON	  "/usr/bin/python3"
#define PYLIB	  "/usr/lib/python3.11"
#define DYN	  "build/tests/dynamic/"

static void need(const char *path)
{
	cr_assert(access(path, X_OK) == 0, "%s missing: make test-build-plain (or apt-get)", path);
}

/* The repository's tests/dynamic at /t in the guest, its absolute host path into buf. */
static const char *tests_dir(char *buf, size_t cap)
{
	char cwd[2048];

	cr_assert(getcwd(cwd, sizeof(cwd)));
	snprintf(buf, cap, "%s/tests/dynamic:/t", cwd);
	return buf;
}

/* `mvmm run OPTS PROG ARGS` prints exactly want, nothing on stderr, status 0. */
static void expect_prints(const char *const *opts, const char *prog, const char *const *args,
			  const char *want)
{
	struct t_proc g;

	need(prog);
	lxt_guest(&g, opts, prog, args, NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "%s: status %d, stderr:\n%s", prog, g.status, g.err);
	cr_expect_str_eq(g.out, want, "%s", prog);
	cr_expect_eq(g.err_len, 0, "%s: stderr:\n%s", prog, g.err);
	lxt_expect_no_sanitizer(prog, &g);
	t_proc_free(&g);
}

Test(dynamic, lua_prints)
{
	expect_prints(NULL, LUA, ARGS("-e", "print(1+1)"), "2\n");
}

Test(dynamic, python_prints)
{
	expect_prints(ARGS("--dir", PYLIB), PYTHON, ARGS("-c", "print(6*7)"), "42\n");
}

/*
 * tests/dynamic/SCRIPT run by PROG in the guest (the tests at /t, and --dir opt when given)
 * and on the host: the same output, and enough of it that the script ran.
 */
static void expect_like_host(const char *opt, const char *prog, const char *script)
{
	char dir[4096], gpath[256], hpath[256];
	struct t_proc g, h;

	need(prog);
	snprintf(gpath, sizeof(gpath), "/t/%s", script);
	snprintf(hpath, sizeof(hpath), "tests/dynamic/%s", script);
	tests_dir(dir, sizeof(dir));
	lxt_guest(&g, opt ? ARGS("--dir", opt, "--dir", dir) : ARGS("--dir", dir), prog,
		  ARGS(gpath), NULL, LXT_LIMIT_MS);
	lxt_native(&h, prog, ARGS(hpath), NULL, NULL, LXT_LIMIT_MS);
	cr_expect_gt(h.out_len, 200, "host %s printed:\n%s", prog, h.out);
	lxt_expect_same(script, &g, &h);
	t_proc_free(&g);
	t_proc_free(&h);
}

Test(dynamic, lua_conformance_matches_the_host)
{
	expect_like_host(NULL, LUA, "conform.lua");
}

Test(dynamic, python_conformance_matches_the_host)
{
	expect_like_host(PYLIB, PYTHON, "conform.py");
}

/* Without --dir the guest sees its closure only: /etc holds ld.so.cache and nothing else. */
Test(dynamic, sees_exactly_its_closure)
{
	struct t_proc g;

	need("/bin/ls");
	lxt_guest(&g, NULL, "/bin/ls", ARGS("/etc"), NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "status %d, stderr:\n%s", g.status, g.err);
	cr_expect_str_eq(g.out, "ld.so.cache\n");
	t_proc_free(&g);
	lxt_guest(&g, NULL, "/bin/cat", ARGS("/etc/passwd"), NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 1, "status %d, stderr:\n%s", g.status, g.err);
	cr_expect(strstr(g.err, "No such file"), "stderr:\n%s", g.err);
	cr_expect_eq(g.out_len, 0);
	t_proc_free(&g);
	/* the libraries are there, read-only */
	lxt_guest(&g, NULL, "/bin/sh", ARGS("-c", "echo x > /lib/x86_64-linux-gnu/libc.so.6"), NULL,
		  LXT_LIMIT_MS);
	cr_expect_neq(g.status, 0, "a write to libc succeeded");
	cr_expect(strstr(g.err, "Read-only file system"), "stderr:\n%s", g.err);
	t_proc_free(&g);
}

Test(dynamic, origin_runpath_finds_the_programs_own_library)
{
	struct t_proc g;

	need(DYN "origin");
	lxt_guest(&g, NULL, DYN "origin", NULL, NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "status %d, stderr:\n%s", g.status, g.err);
	cr_expect_str_eq(g.out, "dep says 42\n");
	t_proc_free(&g);
}

/* A DT_NEEDED naming a path is never looked up on the host: the guest's loader misses it. */
Test(dynamic, hostile_needed_names_stay_outside)
{
	static const char *const progs[] = {DYN "needs-dotdot", DYN "needs-abs"};
	static const char *const names[] = {"../../etc/shadow", "/etc/shadow"};

	for (int i = 0; i < 2; i++) {
		struct t_proc g;

		need(progs[i]);
		lxt_guest(&g, NULL, progs[i], NULL, NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 127, "%s: status %d, stderr:\n%s", progs[i], g.status, g.err);
		cr_expect(strstr(g.err, names[i]) && strstr(g.err, "cannot open shared object"),
			  "%s: stderr:\n%s", progs[i], g.err);
		cr_expect_eq(g.out_len, 0, "%s: stdout:\n%s", progs[i], g.out);
		lxt_expect_no_sanitizer(progs[i], &g);
		t_proc_free(&g);
	}
}

/* A library that is not an ELF is not exposed; shown by a --dir, the loader refuses it. */
Test(dynamic, library_that_is_not_an_elf)
{
	struct t_proc g;
	char dir[4096], cwd[2048];

	need(DYN "needs-notelf");
	lxt_guest(&g, NULL, DYN "needs-notelf", NULL, NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 127, "status %d, stderr:\n%s", g.status, g.err);
	cr_expect(strstr(g.err, "libdep.so: cannot open shared object"), "stderr:\n%s", g.err);
	t_proc_free(&g);
	cr_assert(getcwd(cwd, sizeof(cwd)));
	snprintf(dir, sizeof(dir), "%s/" DYN, cwd);
	lxt_guest(&g, ARGS("--dir", dir), DYN "needs-notelf", NULL, NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 127, "status %d, stderr:\n%s", g.status, g.err);
	cr_expect(strstr(g.err, "notelf/libdep.so: file too short") ||
			  strstr(g.err, "invalid ELF header"),
		  "stderr:\n%s", g.err);
	lxt_expect_no_sanitizer("needs-notelf", &g);
	t_proc_free(&g);
}

/* A template frozen after lua5.4 started; the clone runs mvmm's stdin as its script. */
Test(dynamic, lua_template_clone_runs_its_stdin)
{
	struct t_proc g;
	char in[4096], *d = lxt_tmpdir();
	FILE *f;

	need(LUA);
	snprintf(in, sizeof(in), "%s/in.lua", d);
	f = fopen(in, "w");
	cr_assert(f);
	fputs("local t = {} for i = 1, 5 do t[i] = i * i end print(table.concat(t, ' '))\n", f);
	fclose(f);
	lxt_guest(&g, ARGS("--template", "--ready-on=stdin", "--count", "1", "--no-cache"), LUA,
		  ARGS("-"), in, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "status %d, stderr:\n%s", g.status, g.err);
	cr_expect_str_eq(g.out, "1 4 9 16 25\n", "stderr:\n%s", g.err);
	lxt_expect_no_sanitizer("lua5.4 template", &g);
	t_proc_free(&g);
	lxt_rmtree(d);
}

/*
 * Each python3 clone of one template gets its own random bytes (getrandom: os.urandom).
 * (Its str hash seed is the template's: Python drew it at start, before the ready point.)
 */
Test(dynamic, python_clones_draw_their_own_randomness)
{
	struct t_proc g;
	char a[64] = "", b[64] = "";

	need(PYTHON);
	lxt_guest(&g,
		  ARGS("--template", "--ready-on=stdin", "--count", "2", "--no-cache", "--dir",
		       PYLIB),
		  PYTHON, ARGS("-c", "import os, sys; sys.stdin.read(); print(os.urandom(8).hex())"),
		  NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 0, "status %d, stderr:\n%s", g.status, g.err);
	cr_assert_eq(sscanf(g.out, "[%*d] %63s\n[%*d] %63s", a, b), 2, "stdout:\n%s", g.out);
	cr_expect_eq(strlen(a), 16, "%s", g.out);
	cr_expect_str_neq(a, b, "two clones drew the same bytes:\n%s", g.out);
	t_proc_free(&g);
}

/* Each start places the heap (brk) and the libraries (mmap) anew; clones share their template's. */
Test(dynamic, each_start_places_heap_and_libraries_anew)
{
	unsigned long heap[3], lib[3];

	need(LUA);
	for (int i = 0; i < 3; i++) {
		struct t_proc g;

		lxt_guest(&g, NULL, LUA, ARGS("-e", "print(tostring({}), tostring(io.stdout))"), NULL,
			  LXT_LIMIT_MS);
		cr_assert_eq(g.status, 0, "status %d, stderr:\n%s", g.status, g.err);
		cr_assert_eq(sscanf(g.out, "table: 0x%lx file (0x%lx)", &heap[i], &lib[i]), 2, "%s",
			     g.out);
		t_proc_free(&g);
	}
	/* 512 break placements and 2,048 mmap tops in a 64 MiB guest */
	cr_expect(heap[0] != heap[1] || heap[1] != heap[2], "three starts, one heap 0x%lx", heap[0]);
	cr_expect(lib[0] != lib[1] || lib[1] != lib[2], "three starts, one libc 0x%lx", lib[0]);
}
