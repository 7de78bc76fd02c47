/*
 * test_linux_hostile.c: Linux programs that misbehave. A system-call fuzzer (every number
 * 0..600, garbage arguments) must survive with only mvmm's notes on stderr; mmap/brk/mremap
 * abuse gives errors, never crashes, and zeroed memory; paths escaping a --dir tree (.., planted
 * symlinks, /proc/self/root) never reach host data; SIGPIPE ends a writer whose reader left
 * (141), or gives EPIPE when ignored; abort() is 134, a NULL dereference 123 with a page-fault
 * report; an unknown system call answers ENOSYS, named once (dynamic programs:
 * test_linux_dynamic.c).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "guestabi/lx_run.h"

TestSuite(linux_hostile, .init = lxt_need_kvm, .timeout = 600);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Every line of err is one of mvmm's notes on a system call it does not answer. */
static void expect_only_notes(const char *what, const char *err)
{
	for (const char *s = err; *s;) {
		const char *nl = strchr(s, '\n');
		int len = nl ? (int)(nl - s) : (int)strlen(s);

		cr_expect(!strncmp(s, "mvmm: system call ", 18) &&
				  (strstr(s, "is not supported") || strstr(s, "is not a known")) &&
				  (!nl || strstr(s, "is not") < nl),
			  "%s: unexpected on stderr: [%.*s]", what, len, s);
		s += len + (nl ? 1 : 0);
	}
}

/* ---- the system-call fuzzer ------------------------------------------------------------- */

Test(linux_hostile, sysfuzz_survives)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char prog[256];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "sysfuzz", lxt_libcs[i]);
		lxt_guest(&g, ARGS("--timeout", "60"), prog, NULL, NULL, 180000);
		cr_expect(!g.timed_out, "%s: the harness had to kill it", prog);
		cr_expect_eq(g.status, 0, "%s: status %d, stderr:\n%.3000s", prog, g.status, g.err);
		cr_expect_str_eq(g.out, "survived\n", "%s: stdout:\n%.2000s", prog, g.out);
		lxt_expect_no_sanitizer(prog, &g);
		expect_only_notes(prog, g.err);
		/* a number below the table's limit is named once, however often it is called */
		cr_expect_eq(lxt_count(g.err, "system call io_pgetevents "), 1, "%s", prog);
		t_proc_free(&g);
	}
}

/* --strace decodes every one of those garbage arguments, through the same checked accessors. */
Test(linux_hostile, sysfuzz_survives_under_strace)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char prog[256];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "sysfuzz", lxt_libcs[i]);
		lxt_guest(&g, ARGS("--timeout", "60", "--strace"), prog, NULL, NULL, 180000);
		cr_expect(!g.timed_out, "%s: the harness had to kill it", prog);
		cr_expect_eq(g.status, 0, "%s: status %d", prog, g.status);
		cr_expect_str_eq(g.out, "survived\n", "%s: stdout:\n%.2000s", prog, g.out);
		lxt_expect_no_sanitizer(prog, &g);
		cr_expect(strstr(g.err, "\nexit_group(0) = ?\n"), "%s: no exit_group line", prog);
		cr_expect(lxt_count(g.err, ") = ") > 4 * 500, "%s: too few trace lines", prog);
		t_proc_free(&g);
	}
}

/* ---- memory ------------------------------------------------------------------------------ */

Test(linux_hostile, memory_abuse_as_on_linux)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char prog[256];
		struct t_proc g, h;

		lxt_prog(prog, sizeof(prog), "memabuse", lxt_libcs[i]);
		lxt_guest(&g, NULL, prog, NULL, NULL, LXT_LIMIT_MS);
		lxt_native(&h, prog, NULL, NULL, NULL, LXT_LIMIT_MS);
		lxt_expect_same(prog, &g, &h);
		cr_expect(strstr(g.out, "bad=0\ndone\n"), "%s:\n%s", prog, g.out);
		t_proc_free(&g);
		t_proc_free(&h);
	}
}

Test(linux_hostile, memory_abuse_only_a_guest_tries)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char prog[256];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "memabuse", lxt_libcs[i]);
		lxt_guest(&g, NULL, prog, ARGS("hostile"), NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 0, "%s: status %d, stderr:\n%s", prog, g.status, g.err);
		cr_expect(strstr(g.out, "bad=0\ndone\n"), "%s: failed checks:\n%s", prog, g.out);
		cr_expect(!strstr(g.out, ": NO\n"), "%s:\n%s", prog, g.out);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
		/* and in the smallest memory */
		lxt_guest(&g, ARGS("--mem", "8M"), prog, ARGS("hostile"), NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 0, "%s --mem 8M: status %d, stderr:\n%s", prog, g.status,
			     g.err);
		cr_expect(strstr(g.out, "done\n"), "%s --mem 8M:\n%s", prog, g.out);
		t_proc_free(&g);
	}
}

/* ---- paths ------------------------------------------------------------------------------- */

#define SECRET "HOST-SECRET-7f3a91"
#define PASSWD "root:x:0:0:" /* the first line of the host's /etc/passwd */

/* ROOT/secret.txt outside, ROOT/tree the --dir tree with links planted to get out of it. */
static char *escape_tree(void)
{
	char *root = lxt_tmpdir(), p[4096];

	lxt_mkfile(root, "secret.txt", SECRET "\n", sizeof(SECRET));
	lxt_mkdir(root, "tree");
	lxt_mkdir(root, "tree/sub");
	lxt_mkfile(root, "tree/inside.txt", "inside\n", 7);
	lxt_symlink(root, "tree/up", "..");
	lxt_symlink(root, "tree/upsecret", "../secret.txt");
	lxt_symlink(root, "tree/deep", "sub/../../secret.txt");
	lxt_symlink(root, "tree/abs", "/etc/passwd");
	lxt_symlink(root, "tree/absdir", "/etc");
	lxt_symlink(root, "tree/absroot", "/");
	lxt_path(p, sizeof(p), root, "secret.txt");
	lxt_symlink(root, "tree/tmpsecret", p);
	lxt_symlink(root, "tree/procroot", "/proc/self/root");
	lxt_symlink(root, "tree/ok", "inside.txt");
	lxt_symlink(root, "tree/sub/okup", "../inside.txt");
	lxt_symlink(root, "tree/sub/loop", "loop");
	return root;
}

static int exists(const char *root, const char *rel)
{
	char p[4096];
	struct stat st;

	lxt_path(p, sizeof(p), root, rel);
	return lstat(p, &st) == 0;
}

Test(linux_hostile, path_escapes_fail)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char *root = escape_tree(), prog[256], spec[4200], secret[4096], *data;
		struct t_proc g;
		size_t len;

		lxt_prog(prog, sizeof(prog), "pathesc", lxt_libcs[i]);
		snprintf(spec, sizeof(spec), "%s/tree:/data:rw", root);
		lxt_path(secret, sizeof(secret), root, "secret.txt");
		lxt_guest(&g, ARGS("--dir", spec), prog, ARGS(secret), NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 0, "%s: status %d, stderr:\n%s", prog, g.status, g.err);
		cr_expect(strstr(g.out, "\ndone\n"), "%s: did not finish:\n%s", prog, g.out);
		/* what stays inside works */
		cr_expect(strstr(g.out, "/data/inside.txt: OPENED [inside ]\n"), "%s:\n%s", prog,
			  g.out);
		cr_expect(strstr(g.out, "/data/ok: OPENED [inside ]\n"), "%s:\n%s", prog, g.out);
		cr_expect(strstr(g.out, "/data/sub/okup: OPENED [inside ]\n"), "%s:\n%s", prog,
			  g.out);
		/* nothing else opens (but the tree by a relative name from "/"), is found, made,
		 * ... */
		cr_expect_eq(lxt_count(g.out, "OPENED"),
			     3 + lxt_count(g.out, "\ndata/inside.txt: OPENED"),
			     "%s: an escape opened:\n%s", prog, g.out);
		cr_expect(!strstr(g.out, "FOUND"), "%s: an escape was found:\n%s", prog, g.out);
		cr_expect(!strstr(g.out, "MADE") && !strstr(g.out, "MOVED") &&
				  !strstr(g.out, "REMOVED"),
			  "%s:\n%s", prog, g.out);
		/* no host data, in either stream */
		cr_expect(!strstr(g.out, SECRET) && !strstr(g.err, SECRET), "%s: the secret leaked",
			  prog);
		cr_expect(!strstr(g.out, PASSWD) && !strstr(g.err, PASSWD),
			  "%s: /etc/passwd leaked:\n%s", prog, g.out);
		cr_expect(!strstr(g.out, ": secret.txt\n") && !strstr(g.out, ": tree\n") &&
				  !strstr(g.out, ": etc\n") && !strstr(g.out, ": usr\n") &&
				  !strstr(g.out, ": passwd\n"),
			  "%s: a host directory was listed:\n%s", prog, g.out);
		cr_expect(!strstr(g.out, "cwd after ../..: /tmp"), "%s:\n%s", prog, g.out);
		cr_expect(strstr(g.out, "cwd: /data/sub\n"), "%s:\n%s", prog, g.out);
		lxt_expect_no_sanitizer(prog, &g);
		/* and the host is as it was */
		data = (char *)t_read_file(secret, &len);
		cr_expect(len == sizeof(SECRET) && !memcmp(data, SECRET "\n", len),
			  "%s: the secret was changed", prog);
		free(data);
		cr_expect(!exists(root, "created") && !exists(root, "newdir") &&
				  !exists(root, "moved") && !exists(root, "tree/stolen"),
			  "%s: something was made outside the tree", prog);
		cr_expect(exists(root, "tree/inside.txt") && exists(root, "secret.txt"),
			  "%s: a file went away", prog);
		t_proc_free(&g);
		lxt_rmtree(root);
	}
}

Test(linux_hostile, busybox_cannot_read_outside)
{
	char *root = escape_tree(), spec[4200];
	static const char *const paths[] = {"/data/upsecret",	   "/data/up/secret.txt",
					    "/data/../secret.txt", "/data/tmpsecret",
					    "/data/abs",	   "/proc/self/root/etc/passwd",
					    "/etc/passwd"};
	struct t_proc g;

	snprintf(spec, sizeof(spec), "%s/tree:/data", root);
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		lxt_guest(&g, ARGS("--dir", spec), LXT_BUSYBOX, ARGS("cat", paths[i]), NULL,
			  LXT_LIMIT_MS);
		cr_expect_eq(g.status, 1, "cat %s: status %d", paths[i], g.status);
		cr_expect_eq(g.out_len, 0, "cat %s printed:\n%s", paths[i], g.out);
		cr_expect(!strstr(g.err, SECRET) && !strstr(g.err, PASSWD), "cat %s", paths[i]);
		t_proc_free(&g);
	}
	lxt_guest(&g, ARGS("--dir", spec), LXT_BUSYBOX, ARGS("ls", "/data/up", "/data/absroot"),
		  NULL, LXT_LIMIT_MS);
	cr_expect(!strstr(g.out, "secret.txt") && !strstr(g.out, "etc"), "ls:\n%s", g.out);
	t_proc_free(&g);
	lxt_rmtree(root);
}

/* ---- SIGPIPE ----------------------------------------------------------------------------- */

/*
 * `ARGV | head -2` without a shell: reads two lines of ARGV's stdout, closes the pipe, then
 * collects stderr and the status (128 + signal if a signal ended it).
 */
static void head2(char *const argv[], struct t_proc *p)
{
	int out[2], err[2], st = 0, newlines = 0;
	uint64_t deadline = t_now_ns() + LXT_LIMIT_MS * 1000000ull;
	pid_t pid;

	memset(p, 0, sizeof(*p));
	t_append(&p->out, &p->out_len, "", 0);
	t_append(&p->err, &p->err_len, "", 0);
	cr_assert(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
	if (getenv("T_CHILD_ASAN_OPTIONS"))
		setenv("ASAN_OPTIONS", getenv("T_CHILD_ASAN_OPTIONS"), 1);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		lxt_child_stdio(NULL, out[1], err[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	/* head -2: one byte at a time, so that nothing past the second line is taken */
	while (newlines < 2 && t_now_ns() < deadline) {
		struct pollfd pfd = {out[0], POLLIN, 0};
		char c;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (read(out[0], &c, 1) != 1)
			break;
		t_append(&p->out, &p->out_len, &c, 1);
		newlines += c == '\n';
	}
	close(out[0]);
	for (;;) {
		struct pollfd pfd = {err[0], POLLIN, 0};
		char buf[4096];
		ssize_t n;

		if (t_now_ns() >= deadline) {
			kill(pid, SIGKILL);
			p->timed_out = 1;
			break;
		}
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(err[0], buf, sizeof(buf));
		if (n <= 0)
			break;
		t_append(&p->err, &p->err_len, buf, (size_t)n);
	}
	close(err[0]);
	cr_assert(waitpid(pid, &st, 0) == pid);
	p->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

Test(linux_hostile, sigpipe_ends_a_writer)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char prog[256];
		struct t_proc g, h;

		lxt_prog(prog, sizeof(prog), "sigpipe", lxt_libcs[i]);
		head2((char *const[]){(char *)t_mvmm_bin(), "run", prog, NULL}, &g);
		head2((char *const[]){prog, NULL}, &h);
		cr_expect(!g.timed_out, "%s: did not end once its reader left", prog);
		cr_expect_str_eq(g.out, "line 0\nline 1\n", "%s", prog);
		cr_expect_eq(h.status, 141, "%s natively: status %d", prog, h.status);
		cr_expect_eq(g.status, 141, "%s: status %d, stderr:\n%s", prog, g.status, g.err);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
		t_proc_free(&h);
	}
}

Test(linux_hostile, sigpipe_ignored_or_caught_gives_epipe)
{
	static const char *const modes[] = {"ignore", "handler"};

	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		for (size_t m = 0; m < 2; m++) {
			char prog[256];
			struct t_proc g, h;
			char *ge;

			lxt_prog(prog, sizeof(prog), "sigpipe", lxt_libcs[i]);
			head2((char *const[]){(char *)t_mvmm_bin(), "run", prog, (char *)modes[m],
					      NULL},
			      &g);
			head2((char *const[]){prog, (char *)modes[m], NULL}, &h);
			cr_expect(!g.timed_out, "%s %s: did not end", prog, modes[m]);
			cr_expect_eq(h.status, 0, "%s %s natively: status %d", prog, modes[m],
				     h.status);
			cr_expect_eq(g.status, 0, "%s %s: status %d, stderr:\n%s", prog, modes[m],
				     g.status, g.err);
			ge = lxt_strip_notes(g.err);
			cr_expect_str_eq(ge, h.err, "%s %s: stderr differs", prog, modes[m]);
			cr_expect(strstr(ge, m ? "write failed: EPIPE, caught=13\n"
					       : "write failed: EPIPE, caught=0\n"),
				  "%s %s: stderr:\n%s", prog, modes[m], g.err);
			free(ge);
			t_proc_free(&g);
			t_proc_free(&h);
		}
	}
}

/* ---- ends -------------------------------------------------------------------------------- */

Test(linux_hostile, abort_is_134)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char prog[256];
		struct t_proc g, h;

		lxt_prog(prog, sizeof(prog), "crash", lxt_libcs[i]);
		lxt_guest(&g, NULL, prog, ARGS("abort"), NULL, LXT_LIMIT_MS);
		lxt_native(&h, prog, ARGS("abort"), NULL, NULL, LXT_LIMIT_MS);
		cr_expect_eq(h.status, 134, "%s natively: %d", prog, h.status);
		cr_expect_eq(g.status, 134, "%s: status %d, stderr:\n%s", prog, g.status, g.err);
		cr_expect_str_eq(g.out, "before\n", "%s", prog);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
		t_proc_free(&h);
	}
}

Test(linux_hostile, null_dereference_is_123_with_a_report)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char prog[256];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "crash", lxt_libcs[i]);
		lxt_guest(&g, NULL, prog, ARGS("null"), NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 123, "%s: status %d, stderr:\n%s", prog, g.status, g.err);
		cr_expect(strstr(g.err, "page fault"), "%s: no page fault in:\n%s", prog, g.err);
		cr_expect(strstr(g.err, "rip"), "%s: no rip in:\n%s", prog, g.err);
		cr_expect_str_eq(g.out, "before\n", "%s", prog);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
	}
}

Test(linux_hostile, unknown_system_call_answers_enosys_named_once)
{
	for (size_t i = 0; i < sizeof(lxt_libcs) / sizeof(lxt_libcs[0]); i++) {
		char prog[256];
		struct t_proc g;

		lxt_prog(prog, sizeof(prog), "enosys", lxt_libcs[i]);
		lxt_guest(&g, NULL, prog, NULL, NULL, LXT_LIMIT_MS);
		cr_expect_eq(g.status, 0, "%s: status %d, stderr:\n%s", prog, g.status, g.err);
		cr_expect_str_eq(g.out,
				 "syscall(333) = -1 ENOSYS\nsyscall(333) = -1 ENOSYS\n"
				 "syscall(1000) = -1 ENOSYS\ncarried on\n",
				 "%s", prog);
		cr_expect_eq(lxt_count(g.err, "io_pgetevents"), 1, "%s: stderr:\n%s", prog, g.err);
		cr_expect(strstr(g.err, "mvmm: system call io_pgetevents is not supported"),
			  "%s: stderr:\n%s", prog, g.err);
		cr_expect(strstr(g.err, "1000"), "%s: stderr:\n%s", prog, g.err);
		lxt_expect_no_sanitizer(prog, &g);
		t_proc_free(&g);
	}
}
