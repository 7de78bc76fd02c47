/*
 * test_output.c: guest output under --count and --output-dir as a careless or hostile world
 * sees it: long lines, planted symlinks, a reader that never reads, numbering across workers.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

#define LINES T_TEST_GUEST("lines")

/* Every line of out starts with "[N] "; returns how many lines there are. */
static int check_prefixed(const char *out)
{
	const char *p = out;
	int n = 0;

	while (*p) {
		const char *nl = strchr(p, '\n');
		unsigned inst;
		char close;

		cr_assert(nl, "output does not end with a newline");
		cr_assert(sscanf(p, "[%u%c", &inst, &close) == 2 && close == ']',
			  "line %d is not prefixed: %.40s", n, p);
		n++;
		p = nl + 1;
	}
	return n;
}

/* A line of 3,000 bytes written in 30 pieces stays one line per instance, whole. */
Test(output, long_lines_stay_whole_under_count, .timeout = 60)
{
	struct t_proc p;
	char *line, *save = NULL;
	int whole = 0;

	T_MVMM(&p, 30000, "run", "--count", "4", LINES, "long", "3000");
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert_eq(check_prefixed(p.out), 8);
	for (line = strtok_r(p.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned inst;

		if (strstr(line, "end"))
			continue;
		cr_assert(sscanf(line, "[%u]", &inst) == 1);
		cr_assert_eq(strlen(line), 4 + 3000, "line of %zu bytes: %.20s", strlen(line), line);
		cr_assert_eq(strspn(line + 4, (char[]){(char)('a' + inst), 0}), 3000,
			     "instance %u's line holds another's bytes", inst);
		whole++;
	}
	cr_assert_eq(whole, 4);
	t_proc_free(&p);
}

/* Past 64 KiB a line is cut, but every piece is a line of its own with its prefix. */
Test(output, very_long_lines_are_cut_into_prefixed_lines, .timeout = 60)
{
	struct t_proc p;

	T_MVMM(&p, 30000, "run", "--count", "2", LINES, "long", "100000");
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert_eq(check_prefixed(p.out), 2 * 3, "%d lines", check_prefixed(p.out));
	t_proc_free(&p);
}

static char *mkdtemp_mode(mode_t mode)
{
	char *d = strdup("/tmp/mvmm-out-XXXXXX");

	cr_assert(d && mkdtemp(d));
	cr_assert(chmod(d, mode) == 0);
	return d;
}

/* A symlink planted as an output file is not followed: the file it names is untouched. */
Test(output, output_dir_never_follows_a_planted_symlink, .timeout = 60)
{
	char *d = mkdtemp_mode(0700), link[256], victim[256], out1[256];
	struct t_proc p;
	size_t len;
	uint8_t *v;

	snprintf(victim, sizeof(victim), "%s.victim", d);
	snprintf(link, sizeof(link), "%s/0.out", d);
	snprintf(out1, sizeof(out1), "%s/1.out", d);
	t_write_file(victim, "victim\n", 7);
	cr_assert(symlink(victim, link) == 0);
	T_MVMM(&p, 30000, "run", "--count", "2", "--output-dir", d, T_GUEST("hello"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	v = t_read_file(victim, &len);
	cr_assert(len == 7 && memcmp(v, "victim\n", 7) == 0, "the victim file was written");
	free(v);
	v = t_read_file(out1, &len);
	cr_assert(strstr((char *)v, T_HELLO_TEXT));
	free(v);
	t_proc_free(&p);
	unlink(link);
	unlink(out1);
	unlink(victim);
	rmdir(d);
	free(d);
}

/* A directory others can write into is refused: they could plant anything there. */
Test(output, output_dir_writable_by_others_is_refused, .timeout = 60)
{
	char *d = mkdtemp_mode(0777);
	struct t_proc p;

	T_MVMM(&p, 30000, "run", "--count", "2", "--output-dir", d, T_GUEST("hello"));
	cr_assert_eq(p.status, 125, "%s", p.err);
	cr_assert(strstr(p.err, "writable by others"), "%s", p.err);
	t_proc_free(&p);
	rmdir(d);
	free(d);
}

/*
 * --timeout wins over a stdout whose reader never reads: both instances stop at their
 * deadline (status 124), the run does not wait for the reader.
 */
Test(output, timeout_wins_over_a_blocked_stdout, .timeout = 60)
{
	int out[2], st = 0;
	uint64_t t0 = t_now_ns();
	pid_t pid;

	cr_assert(pipe(out) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(out[1], 1);
		dup2(null, 2);
		execl(t_mvmm_bin(), t_mvmm_bin(), "run", "--count", "2", "--timeout", "1", LINES,
		      "flood", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	/* the pipe fills (64 KiB) and is never read; wait up to 30 s for mvmm to end */
	while (waitpid(pid, &st, WNOHANG) == 0 && t_now_ns() - t0 < 30000000000ull)
		usleep(10000);
	if (t_now_ns() - t0 >= 30000000000ull) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		cr_assert_fail("mvmm run --count 2 --timeout 1 still blocked after 30 s");
	}
	close(out[0]);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 124, "status 0x%x", st);
}

/*
 * Instance numbers continue across '---' groups, each printed once, also with --per-process
 * below a group's count (groups run in this one process: see run_many).
 */
Test(output, sharded_groups_number_every_instance_once, .timeout = 120)
{
	int seen[6] = {0}, i;
	struct t_proc p;
	char *line, *save = NULL;

	T_MVMM(&p, 60000, "run", "--per-process", "2", "--count", "2", T_GUEST("hello"), "---",
	       "--count", "4", T_GUEST("hello"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	for (line = strtok_r(p.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		unsigned inst;

		cr_assert(sscanf(line, "[%u]", &inst) == 1 && inst < 6, "%s", line);
		seen[inst]++;
	}
	for (i = 0; i < 6; i++)
		cr_expect_eq(seen[i], 1, "instance %d printed %d times", i, seen[i]);
	t_proc_free(&p);
}
