/*
 * test_linux_busybox.c: the static busybox (Debian's busybox-static) as an unmodified Linux
 * guest: echo, printf, cat and sha256sum of exposed files, wc, sort, seq, ls -l of a --dir
 * tree, sh with loops, variables and builtins, exit statuses. Each command's stdout, stderr
 * (without mvmm's notes on unsupported calls) and status must equal the same command run on
 * the host with the same arguments, stdin and environment.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guestabi/lx_run.h"

TestSuite(busybox, .init = lxt_need_kvm, .timeout = 300);

/* `mvmm run OPTS busybox GARGS` against `busybox HARGS` with the environment HENV. */
static void bb_compare(const char *what, const char *const *opts, const char *const *gargs,
		       const char *const *hargs, const char *const *henv, const char *in)
{
	struct t_proc g, h;

	cr_assert(access(LXT_BUSYBOX, X_OK) == 0, "%s missing: apt-get install busybox-static",
		  LXT_BUSYBOX);
	lxt_guest(&g, opts, LXT_BUSYBOX, gargs, in, LXT_LIMIT_MS);
	lxt_native(&h, LXT_BUSYBOX, hargs ? hargs : gargs, henv, in, LXT_LIMIT_MS);
	lxt_expect_same(what, &g, &h);
	t_proc_free(&g);
	t_proc_free(&h);
}

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

Test(busybox, echo)
{
	bb_compare("echo hi", NULL, ARGS("echo", "hi"), NULL, NULL, NULL);
	bb_compare("echo -n", NULL, ARGS("echo", "-n", "a  b", "", "c"), NULL, NULL, NULL);
	bb_compare("echo -e", NULL, ARGS("echo", "-e", "tab\\there\\nnew\\0101"), NULL, NULL, NULL);
	bb_compare("echo nothing", NULL, ARGS("echo"), NULL, NULL, NULL);
}

Test(busybox, printf)
{
	bb_compare("printf formats", NULL,
		   ARGS("printf", "%s=%d %05.2f %x|%-6s|%c %o %e\\n", "a", "42", "3.14159", "255",
			"left", "xyz", "8", "12345.678"),
		   NULL, NULL, NULL);
	bb_compare("printf repeats its format", NULL, ARGS("printf", "[%s]\\n", "a", "b c", ""),
		   NULL, NULL, NULL);
	bb_compare("printf %b", NULL, ARGS("printf", "%b|%%\\n", "a\\tb"), NULL, NULL, NULL);
	bb_compare("printf bad number", NULL, ARGS("printf", "%d\\n", "12abc"), NULL, NULL, NULL);
}

static const char poem[] = "the quick brown fox\njumps over\n\nthe lazy dog\n\twith a tab\n"
			   "and a last line without newline";

Test(busybox, cat_and_sha256sum_of_an_exposed_file)
{
	char *d = lxt_tmpdir(), f[4096];

	lxt_mkfile(d, "poem.txt", poem, sizeof(poem) - 1);
	lxt_path(f, sizeof(f), d, "poem.txt");
	bb_compare("cat --expose", ARGS("--expose", f), ARGS("cat", f), NULL, NULL, NULL);
	bb_compare("sha256sum --expose", ARGS("--expose", f), ARGS("sha256sum", f), NULL, NULL,
		   NULL);
	bb_compare("cat -n --expose", ARGS("--expose", f), ARGS("cat", "-n", f), NULL, NULL, NULL);
	lxt_rmtree(d);
}

Test(busybox, cat_and_sha256sum_under_dir)
{
	char *d = lxt_tmpdir(), f[4096], big[300000];
	struct t_proc g;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7 + i / 251);
	lxt_mkfile(d, "poem.txt", poem, sizeof(poem) - 1);
	lxt_mkfile(d, "big.bin", big, sizeof(big));
	/* the tree at its own path: the same command line on both sides */
	lxt_path(f, sizeof(f), d, "poem.txt");
	bb_compare("cat --dir", ARGS("--dir", d), ARGS("cat", f), NULL, NULL, NULL);
	bb_compare("sha256sum --dir", ARGS("--dir", d), ARGS("sha256sum", f), NULL, NULL, NULL);
	lxt_path(f, sizeof(f), d, "big.bin");
	bb_compare("sha256sum of 300 KB", ARGS("--dir", d), ARGS("sha256sum", f), NULL, NULL, NULL);
	bb_compare("md5sum of 300 KB", ARGS("--dir", d), ARGS("md5sum", f), NULL, NULL, NULL);
	/* and under another name */
	{
		char spec[4200];

		snprintf(spec, sizeof(spec), "%s:/data", d);
		lxt_guest(&g, ARGS("--dir", spec), LXT_BUSYBOX, ARGS("cat", "/data/poem.txt"), NULL,
			  LXT_LIMIT_MS);
		cr_expect_eq(g.status, 0, "status %d, stderr:\n%s", g.status, g.err);
		cr_expect_str_eq(g.out, poem);
		t_proc_free(&g);
		lxt_guest(&g, ARGS("--dir", spec), LXT_BUSYBOX, ARGS("cat", "/data/missing"), NULL,
			  LXT_LIMIT_MS);
		cr_expect_eq(g.status, 1, "status %d, stderr:\n%s", g.status, g.err);
		cr_expect(strstr(g.err, "No such file"), "stderr:\n%s", g.err);
		t_proc_free(&g);
	}
	lxt_rmtree(d);
}

static const char lines[] = "pear 3\napple 10\nfig 2\nbanana 7\napple 10\ncherry 1\n"
			    "date 22\n  spaced 0\n";

Test(busybox, wc_and_sort_from_stdin)
{
	char *d = lxt_tmpdir(), in[4096];

	lxt_mkfile(d, "in.txt", lines, sizeof(lines) - 1);
	lxt_path(in, sizeof(in), d, "in.txt");
	bb_compare("wc", NULL, ARGS("wc"), NULL, NULL, in);
	bb_compare("wc -l", NULL, ARGS("wc", "-l"), NULL, NULL, in);
	bb_compare("wc -w -c", NULL, ARGS("wc", "-w", "-c"), NULL, NULL, in);
	bb_compare("sort", NULL, ARGS("sort"), NULL, NULL, in);
	bb_compare("sort -u", NULL, ARGS("sort", "-u"), NULL, NULL, in);
	bb_compare("sort -k2 -n -r", NULL, ARGS("sort", "-k2", "-n", "-r"), NULL, NULL, in);
	bb_compare("wc FILE", ARGS("--dir", d), ARGS("wc", in), NULL, NULL, NULL);
	lxt_rmtree(d);
}

Test(busybox, seq)
{
	bb_compare("seq 10", NULL, ARGS("seq", "10"), NULL, NULL, NULL);
	bb_compare("seq 5 -2 -5", NULL, ARGS("seq", "5", "-2", "-5"), NULL, NULL, NULL);
	bb_compare("seq -s, 1 5", NULL, ARGS("seq", "-s,", "1", "5"), NULL, NULL, NULL);
	bb_compare("seq -w 8 11", NULL, ARGS("seq", "-w", "8", "11"), NULL, NULL, NULL);
	bb_compare("seq 1 0.5 3", NULL, ARGS("seq", "1", "0.5", "3"), NULL, NULL, NULL);
	bb_compare("seq 1 20000", NULL, ARGS("seq", "1", "20000"), NULL, NULL, NULL);
}

/* A tree whose listing does not depend on when the test ran: every mtime fixed. */
static char *make_tree(void)
{
	char *d = lxt_tmpdir();
	char p[4096];

	lxt_mkfile(d, "a.txt", "alpha\n", 6);
	lxt_mkfile(d, "b-longer-name.dat", poem, sizeof(poem) - 1);
	lxt_mkfile(d, "empty", "", 0);
	lxt_mkdir(d, "sub");
	lxt_mkdir(d, "sub/deeper");
	lxt_mkfile(d, "sub/c.txt", "see\n", 4);
	lxt_mkfile(d, "sub/deeper/d.txt", "dee\n", 4);
	lxt_symlink(d, "link", "a.txt");
	lxt_symlink(d, "sub/dangling", "../nowhere");
	lxt_path(p, sizeof(p), d, "a.txt");
	cr_assert(chmod(p, 0640) == 0);
	lxt_path(p, sizeof(p), d, "empty");
	cr_assert(chmod(p, 0755) == 0);
	lxt_settime(d, "a.txt", 1577836800); /* 2020-01-01 */
	lxt_settime(d, "b-longer-name.dat", 1600000000);
	lxt_settime(d, "empty", 1234567890);
	lxt_settime(d, "sub/c.txt", 1500000000);
	lxt_settime(d, "sub/deeper/d.txt", 1500000001);
	lxt_settime(d, "link", 1400000000);
	lxt_settime(d, "sub/dangling", 1400000001);
	lxt_settime(d, "sub/deeper", 1300000000);
	lxt_settime(d, "sub", 1300000001);
	lxt_settime(d, ".", 1300000002);
	return d;
}

Test(busybox, ls_l_of_a_dir_tree)
{
	char *d = make_tree(), sub[4096];
	static const char *const tz[] = {"TZ=UTC0", NULL};

	lxt_path(sub, sizeof(sub), d, "sub");
	bb_compare("ls -ln", ARGS("--dir", d, "--env", "TZ=UTC0"), ARGS("ls", "-ln", d), NULL, tz,
		   NULL);
	/* -a inside the tree: the root's ".." is outside it, no host directory's listing */
	bb_compare("ls -lna sub", ARGS("--dir", d, "--env", "TZ=UTC0"), ARGS("ls", "-lna", sub),
		   NULL, tz, NULL);
	bb_compare("ls -lnR", ARGS("--dir", d, "--env", "TZ=UTC0"), ARGS("ls", "-lnR", d), NULL, tz,
		   NULL);
	bb_compare("ls -ln sub", ARGS("--dir", d, "--env", "TZ=UTC0"), ARGS("ls", "-ln", sub), NULL,
		   tz, NULL);
	bb_compare("ls -1", ARGS("--dir", d), ARGS("ls", "-1", d), NULL, NULL, NULL);
	bb_compare("ls -s", ARGS("--dir", d), ARGS("ls", "-s", "-1", d), NULL, NULL, NULL);
	bb_compare("find", ARGS("--dir", d), ARGS("find", d), NULL, NULL, NULL);
	lxt_rmtree(d);
}

Test(busybox, ls_of_missing_path)
{
	char *d = make_tree(), p[4096];

	lxt_path(p, sizeof(p), d, "nothing-here");
	bb_compare("ls missing", ARGS("--dir", d), ARGS("ls", p), NULL, NULL, NULL);
	lxt_rmtree(d);
}

Test(busybox, sh_loops_variables_builtins)
{
	static const char script[] =
		"i=0; while [ $i -lt 5 ]; do echo \"n=$i\"; i=$((i + 1)); done\n"
		"for w in alpha beta 'gam ma'; do printf '%s|' \"$w\"; done; echo\n"
		"x=hello; echo ${#x} ${x%lo} ${x#he} ${y:-default} ${x:1:3}\n"
		"set -- p q r; echo $# \"$@\"; shift; echo $1\n"
		"test -n \"$x\" && echo nonempty; [ 3 -gt 2 ] || echo never\n"
		"case $x in h*) echo matched;; *) echo not;; esac\n"
		"f() { echo \"f:$1\"; return 3; }; f arg; echo rc=$?\n"
		"n=0; until [ $n -ge 3 ]; do n=$((n+1)); done; echo until=$n\n"
		"s=0; for k in 1 2 3 4 5 6 7 8 9 10; do s=$((s + k * k)); done; echo sum=$s\n"
		"echo $((7 * 6)) $((17 % 5)) $((1 << 10)) $((-3 / 2))\n"
		"type echo; type cd\n"
		"false; echo false=$?; true; echo true=$?\n"
		"read v <<EOF\nfrom-heredoc\nEOF\necho \"v=$v\"\n"
		"IFS=:; set -- a:b:c; echo $2; unset IFS\n"
		"echo done >&2\n";

	bb_compare("sh -c script", NULL, ARGS("sh", "-c", script), NULL, NULL, NULL);
}

Test(busybox, sh_reads_stdin)
{
	char *d = lxt_tmpdir(), in[4096];

	lxt_mkfile(d, "in.txt", lines, sizeof(lines) - 1);
	lxt_path(in, sizeof(in), d, "in.txt");
	bb_compare("sh read loop", NULL,
		   ARGS("sh", "-c",
			"n=0; while read a b; do n=$((n+1)); echo \"$n: $b $a\"; done; "
			"echo total $n"),
		   NULL, NULL, in);
	lxt_rmtree(d);
}

Test(busybox, sh_exit_status)
{
	struct t_proc g;

	bb_compare("sh exit 7", NULL, ARGS("sh", "-c", "exit 7"), NULL, NULL, NULL);
	bb_compare("sh exit 255", NULL, ARGS("sh", "-c", "echo before; exit 255"), NULL, NULL,
		   NULL);
	bb_compare("false", NULL, ARGS("false"), NULL, NULL, NULL);
	bb_compare("sh syntax error", NULL, ARGS("sh", "-c", "if then fi"), NULL, NULL, NULL);
	lxt_guest(&g, NULL, LXT_BUSYBOX, ARGS("sh", "-c", "exit 7"), NULL, LXT_LIMIT_MS);
	cr_expect_eq(g.status, 7, "status %d, stderr:\n%s", g.status, g.err);
	t_proc_free(&g);
}

Test(busybox, unknown_applet)
{
	bb_compare("no such applet", NULL, ARGS("no-such-applet"), NULL, NULL, NULL);
}
