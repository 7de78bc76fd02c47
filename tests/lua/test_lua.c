/* test_lua.c: the Lua subset interpreter (build/guest/lua.elf) against Debian's lua5.4. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

/*
 * Each tests/lua/NAME.lua runs as `mvmm run --timeout 20 build/guest/lua.elf - < NAME.lua`.
 * Its stdout, the first line of its stderr and its exit status must match lua5.4's when
 * /usr/bin/lua5.4 is installed (run live), else the recorded NAME.expected, NAME.stderr and
 * NAME.status (recorded from lua5.4 with `lua5.4:` turned into `lua:`).
 */
#define T_LUA_LIMIT_MS 30000
#define T_LUA5_4       "/usr/bin/lua5.4"

static void run_sh(const char *cmd, struct t_proc *p)
{
	char *argv[] = { "/bin/sh", "-c", (char *)cmd, NULL };

	t_run(argv, T_LUA_LIMIT_MS, p);
}

/* The first line of s, with a leading "lua5.4: " turned into "lua: ". */
static char *first_line(const char *s)
{
	const char *nl = strchr(s, '\n');
	size_t n = nl ? (size_t)(nl - s) : strlen(s);
	char *r;

	/* lua5.4 names itself by argv[0]: "/usr/bin/lua5.4: msg" */
	const char *p = strstr(s, "lua5.4: ");

	if (p && (size_t)(p - s) < n) {
		size_t skip = (size_t)(p - s) + 8;

		r = malloc(n + 8);
		cr_assert(r);
		snprintf(r, n + 8, "lua: %.*s", (int)(n - skip), s + skip);
		return r;
	}
	return strndup(s, n);
}

static char *slurp(const char *path)
{
	size_t len;
	char *b = (char *)t_read_file(path, &len);

	b[len] = 0;
	return b;
}

/* How the script reaches lua.elf: a cold run, or a clone of a template (see lmain.c). */
enum mode { COLD, CLONE_STDIN, CLONE_SOURCE };

static void run_lua(const char *name, enum mode mode, struct t_proc *got)
{
	char cmd[1024], path[512];

	switch (mode) {
	case COLD:
		snprintf(cmd, sizeof cmd, "exec %s run --timeout 20 %s - < tests/lua/%s.lua",
			 t_mvmm_bin(), T_GUEST("lua"), name);
		run_sh(cmd, got);
		break;
	case CLONE_STDIN:
		snprintf(cmd, sizeof cmd,
			 "exec %s run --template --count 1 --timeout 20 %s - < tests/lua/%s.lua",
			 t_mvmm_bin(), T_GUEST("lua"), name);
		run_sh(cmd, got);
		break;
	case CLONE_SOURCE: {
		/* the script's text as the request: --source stdin TEXT (chunk name "stdin") */
		size_t len;
		char *text;

		snprintf(path, sizeof path, "tests/lua/%s.lua", name);
		text = (char *)t_read_file(path, &len);
		text[len] = 0;
		{
			char *argv[] = { (char *)t_mvmm_bin(), "run", "--template", "--count", "1",
					 "--timeout", "20", (char *)T_GUEST("lua"), "--source",
					 "stdin", text, NULL };

			t_run(argv, T_LUA_LIMIT_MS, got);
		}
		free(text);
		break;
	}
	}
}

static void check_script_mode(const char *name, enum mode mode)
{
	static const char *const modes[] = { "cold", "clone, stdin", "clone, --source" };
	char cmd[1024], path[512];
	struct t_proc got, want;
	char *want_out, *want_err, *got_err;
	int want_status;

	run_lua(name, mode, &got);
	cr_assert(!got.timed_out, "%s (%s): timed out", name, modes[mode]);
	if (access(T_LUA5_4, X_OK) == 0) {
		snprintf(cmd, sizeof cmd, "exec %s - < tests/lua/%s.lua", T_LUA5_4, name);
		run_sh(cmd, &want);
		want_out = strdup(want.out);
		want_err = first_line(want.err);
		want_status = want.status;
		t_proc_free(&want);
	} else {
		char *st;

		snprintf(path, sizeof path, "tests/lua/%s.expected", name);
		want_out = slurp(path);
		snprintf(path, sizeof path, "tests/lua/%s.stderr", name);
		st = slurp(path);
		want_err = first_line(st);
		free(st);
		snprintf(path, sizeof path, "tests/lua/%s.status", name);
		st = slurp(path);
		want_status = atoi(st);
		free(st);
	}
	got_err = first_line(got.err);
	cr_expect_str_eq(got.out, want_out, "%s (%s): stdout differs", name, modes[mode]);
	cr_expect_str_eq(got_err, want_err, "%s (%s): stderr differs", name, modes[mode]);
	cr_expect_eq(got.status, want_status, "%s (%s): status %d, want %d", name, modes[mode],
		     got.status, want_status);
	free(want_out);
	free(want_err);
	free(got_err);
	t_proc_free(&got);
}

/* Every script three ways: cold, and as a clone with the script on stdin or in the request. */
static void check_script(const char *name)
{
	check_script_mode(name, COLD);
	check_script_mode(name, CLONE_STDIN);
	check_script_mode(name, CLONE_SOURCE);
}

#define LUA_SCRIPT(name) Test(lua, name) { check_script(#name); }
LUA_SCRIPT(arith)
LUA_SCRIPT(closures)
LUA_SCRIPT(meta)
LUA_SCRIPT(errors)
LUA_SCRIPT(gc)
LUA_SCRIPT(recursion)
LUA_SCRIPT(sort)
LUA_SCRIPT(err_syntax)
LUA_SCRIPT(err_unclosed)
LUA_SCRIPT(err_runtime)
LUA_SCRIPT(err_table)
LUA_SCRIPT(err_string)
LUA_SCRIPT(err_extra_end)

Test(lua, dash_e)
{
	struct t_proc p;

	T_MVMM(&p, T_LUA_LIMIT_MS, "run", T_GUEST("lua"), "-e", "print(1+1, arg[1])", "x");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect_str_eq(p.out, "2\tx\n");
	t_proc_free(&p);
}

Test(lua, dash_e_error)
{
	struct t_proc p;

	T_MVMM(&p, T_LUA_LIMIT_MS, "run", T_GUEST("lua"), "-e", "x = = 1");
	cr_expect_eq(p.status, 1);
	cr_expect_str_eq(p.err, "lua: (command line):1: unexpected symbol near '='\n");
	t_proc_free(&p);
}

/* Many prints are batched: far fewer exits than lines (each exit costs ~35 us here). */
Test(lua, output_batched)
{
	struct t_proc p;

	T_MVMM(&p, T_LUA_LIMIT_MS, "run", T_GUEST("lua"), "-e", "for i = 1, 20000 do print(i) end");
	cr_expect_eq(p.status, 0);
	cr_expect(strstr(p.out, "\n20000\n") != NULL);
	cr_expect(p.secs < 5.0, "20000 prints took %.2f s", p.secs);
	t_proc_free(&p);
}

/* The same request works cold and as clones of one template (lmain.c calls mvmm_ready). */
Test(lua, clone_dash_e)
{
	struct t_proc p;

	T_MVMM(&p, T_LUA_LIMIT_MS, "run", "--template", "--count", "3", T_GUEST("lua"), "-e",
	       "print(1+1, arg[1], ...)", "x", "y");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	for (int i = 0; i < 3; i++) {
		char line[64];

		snprintf(line, sizeof line, "[%d] 2\tx\tx\ty\n", i);
		cr_expect(strstr(p.out, line) != NULL, "no %s in:\n%s", line, p.out);
	}
	t_proc_free(&p);
}

/* Clones start from the template's state, not from each other's: globals do not leak. */
Test(lua, clone_isolated)
{
	struct t_proc p;

	T_MVMM(&p, T_LUA_LIMIT_MS, "run", "--template", "--count", "2", T_GUEST("lua"), "-e",
	       "print(counter) counter = 1 string.x = 1 print(#arg)");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, "[0] nil\n") != NULL, "%s", p.out);
	cr_expect(strstr(p.out, "[1] nil\n") != NULL, "%s", p.out);
	cr_expect(strstr(p.out, "[1] 1\n") == NULL && strstr(p.out, "[0] 1\n") == NULL, "%s",
		  p.out);
	t_proc_free(&p);
}

Test(lua, source_request)
{
	struct t_proc p;

	T_MVMM(&p, T_LUA_LIMIT_MS, "run", T_GUEST("lua"), "--source", "s.lua",
	       "print(arg[0], ...) error('boom')", "a");
	cr_expect_eq(p.status, 1);
	cr_expect_str_eq(p.out, "s.lua\ta\n");
	cr_expect_str_eq(p.err, "lua: s.lua:1: boom\n");
	t_proc_free(&p);
}

Test(lua, clone_error_status)
{
	struct t_proc p;

	T_MVMM(&p, T_LUA_LIMIT_MS, "run", "--template", "--count", "1", T_GUEST("lua"), "-e",
	       "x = = 1");
	cr_expect_eq(p.status, 1);
	cr_expect_str_eq(p.err, "lua: (command line):1: unexpected symbol near '='\n");
	t_proc_free(&p);
}

/* A script file: readable only when exposed, and then exactly as lua5.4 runs it. */
Test(lua, exposed_script_file)
{
	char path[] = "/tmp/mvmm-lua-XXXXXX.lua";
	const char *src = "local t = {}\nfor i = 1, 3 do t[i] = i * i end\n"
			  "print(table.concat(t, ','), arg[0] ~= nil, ...)\n";
	struct t_proc p;
	int fd = mkstemps(path, 4);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, src, strlen(src)), (ssize_t)strlen(src));
	close(fd);
	T_MVMM(&p, T_LUA_LIMIT_MS, "run", "--expose", path, T_GUEST("lua"), path, "a", "b");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect_str_eq(p.out, "1,4,9\ttrue\ta\tb\n");
	t_proc_free(&p);
	/* not exposed: refused, and no other path gets through either */
	T_MVMM(&p, T_LUA_LIMIT_MS, "run", "--expose", "/etc/hostname", T_GUEST("lua"), path);
	cr_expect_eq(p.status, 1);
	cr_expect(strstr(p.err, "cannot open"), "stderr: %s", p.err);
	t_proc_free(&p);
	unlink(path);
}
