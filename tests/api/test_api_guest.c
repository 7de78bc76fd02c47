/*
 * test_api_guest.c: mvmm_guest_options through the installed header: a
 * Linux program's environment, directories, cwd, exposed files and strace,
 * for mvmm_run_image_opts, mvmm_template_new_opts (and its clones) and
 * mvmm_template_new_cached.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <ftw.h>
#include <mvmm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define APIENV "build/tests/linux/apienv-musl" /* relative to the repository root */

static struct mvmm_runtime *rt;
static struct mvmm_image *img;
static char dir[64], data[96], exposed[96], outfile[96];

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	strcpy(dir, "/tmp/mvmm-api-guest.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(data, sizeof(data), "%s/data.txt", dir);
	snprintf(exposed, sizeof(exposed), "%s/exposed.txt", dir);
	snprintf(outfile, sizeof(outfile), "%s/out.txt", dir);
	put(data, "data in the tree\n");
	put(exposed, "an exposed file\n");
	cr_assert_eq(mvmm_runtime_new(&rt), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_image_load_file(APIENV, 0, &img), 0, "%s", mvmm_last_error());
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void teardown(void)
{
	mvmm_image_free(img);
	mvmm_runtime_free(rt);
	img = NULL;
	rt = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(api_guest, .init = setup, .fini = teardown, .timeout = 120);

static const char *const env[] = { "GREETING=hello from the host", NULL };

/* The options of these tests: the temporary directory as /work (rw or not), cwd /work. */
static struct mvmm_guest_options options(struct mvmm_dir *d, int rw)
{
	struct mvmm_guest_options g = { .envp = env, .dirs = d, .ndirs = 1, .cwd = "/work" };
	static const char *list[2];

	list[0] = exposed;
	list[1] = NULL;
	*d = (struct mvmm_dir){ .host = dir, .guest = "/work", .rw = rw };
	g.expose = list;
	return g;
}

/* What apienv prints for these options. */
static void expect(const struct mvmm_result *r, const char *out_line)
{
	char want[512];

	snprintf(want, sizeof(want),
		 "greeting: hello from the host\ncwd: /work\ndata: data in the tree\n"
		 "exposed: an exposed file\nout: %s\n",
		 out_line);
	cr_assert_eq(r->end, MVMM_END_EXIT, "%s: %s", mvmm_end_name(r->end), r->message);
	cr_assert_str_eq(r->out, want);
}

static void file_is(const char *path, const char *text)
{
	char buf[128] = "";
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "%s", path);
	cr_assert_not_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_str_eq(buf, text);
}

Test(api_guest, run_image_with_env_dir_cwd_and_exposed_file)
{
	const char *argv[] = { "apienv", exposed, NULL };
	struct mvmm_run_opts o = { .input = "first\n", .input_len = 6, .timeout_ms = 10000 };
	struct mvmm_result *r = NULL;
	struct mvmm_dir d;
	struct mvmm_guest_options g = options(&d, 1);

	cr_assert_eq(mvmm_run_image_opts(rt, img, argv, &g, &o, &r), 0, "%s", mvmm_last_error());
	expect(r, "ok");
	mvmm_result_free(r);
	file_is(outfile, "written by first\n");
	/* read-only: the tree's writes fail */
	unlink(outfile);
	g = options(&d, 0);
	cr_assert_eq(mvmm_run_image_opts(rt, img, argv, &g, &o, &r), 0, "%s", mvmm_last_error());
	expect(r, "Read-only file system");
	mvmm_result_free(r);
	cr_assert_neq(access(outfile, F_OK), 0);
	/* without options: none of it */
	cr_assert_eq(mvmm_run_image_opts(rt, img, argv, NULL, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_not_null(strstr(r->out, "greeting: (none)\ncwd: /\n"), "%s", r->out);
	mvmm_result_free(r);
}

Test(api_guest, template_clones_keep_the_tree_and_the_exposed_file)
{
	const char *argv[] = { "apienv", exposed, NULL };
	struct mvmm_run_opts o = { .input = "clone\n", .input_len = 6, .timeout_ms = 10000 };
	struct mvmm_template *t;
	struct mvmm_result *r;
	struct mvmm_dir d;
	struct mvmm_guest_options g = options(&d, 1);
	int i;

	cr_assert_eq(mvmm_template_new_opts(rt, img, argv, 10000, &g, &t), 0, "%s",
		     mvmm_last_error());
	/* the options' storage may go once the call returned */
	memset(&g, 0, sizeof(g));
	memset(&d, 0, sizeof(d));
	for (i = 0; i < 2; i++) {
		cr_assert_eq(mvmm_run(t, &o, &r), 0, "%s", mvmm_last_error());
		expect(r, "ok");
		mvmm_result_free(r);
		file_is(outfile, "written by clone\n");
		unlink(outfile);
	}
	mvmm_template_free(t);
}

Test(api_guest, strace_lines_go_to_the_fd)
{
	const char *argv[] = { "apienv", NULL };
	struct mvmm_run_opts o = { .timeout_ms = 10000 };
	struct mvmm_guest_options g = { .strace = 1 };
	struct mvmm_result *r;
	char path[96], buf[4096];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/strace", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	g.strace_fd = fd;
	cr_assert_eq(mvmm_run_image_opts(rt, img, argv, &g, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->end, MVMM_END_EXIT);
	mvmm_result_free(r);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	cr_assert_gt(n, 0);
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, "getcwd("), "%s", buf);
	cr_assert_not_null(strstr(buf, "exit_group(0)"), "%s", buf);
}

Test(api_guest, cached_template_with_options)
{
	const char *argv[] = { "apienv", NULL };
	struct mvmm_run_opts o = { .input = "c\n", .input_len = 2, .timeout_ms = 10000 };
	struct mvmm_guest_options g = { .envp = env, .cwd = "/work" };
	struct mvmm_cache_options c = { .dir = dir };
	struct mvmm_cache_info info;
	struct mvmm_template *t;
	struct mvmm_result *r;
	struct mvmm_dir d = { .host = dir, .guest = "/work" };
	int i;

	g.dirs = &d;
	g.ndirs = 1;
	for (i = 0; i < 2; i++) {
		cr_assert_eq(mvmm_template_new_cached(rt, APIENV, 0, argv, 10000, &g, &c, &t, &info),
			     0, "%s", mvmm_last_error());
		cr_assert_eq(info.outcome, i ? MVMM_CACHE_HIT : MVMM_CACHE_BUILT, "%d %s",
			     info.outcome, info.warning);
		cr_assert_eq(mvmm_run(t, &o, &r), 0, "%s", mvmm_last_error());
		cr_assert_str_eq(r->out, "greeting: hello from the host\ncwd: /work\n"
					 "data: data in the tree\nout: Read-only file system\n");
		mvmm_result_free(r);
		mvmm_template_free(t);
	}
	/* another environment is another key */
	g.envp = NULL;
	cr_assert_eq(mvmm_template_new_cached(rt, APIENV, 0, argv, 10000, &g, &c, &t, &info), 0);
	cr_assert_eq(info.outcome, MVMM_CACHE_BUILT);
	mvmm_template_free(t);
	/* exposed files: not cached */
	g.expose = (const char *const[]){ exposed, NULL };
	cr_assert_eq(mvmm_template_new_cached(rt, APIENV, 0, argv, 10000, &g, &c, &t, &info), 0);
	cr_assert_eq(info.outcome, MVMM_CACHE_OFF);
	mvmm_template_free(t);
}

Test(api_guest, bad_options)
{
	const char *argv[] = { "apienv", NULL };
	struct mvmm_guest_options g = { .ndirs = 1 };
	struct mvmm_dir d = { .host = "/nonexistent/mvmm-dir" };
	struct mvmm_template *t = (struct mvmm_template *)1;
	struct mvmm_result *r = (struct mvmm_result *)1;

	cr_assert_eq(mvmm_template_new_opts(rt, img, argv, 1000, &g, &t), MVMM_ERR_INVAL);
	cr_assert_null(t);
	cr_assert_eq(mvmm_run_image_opts(rt, img, argv, &g, NULL, &r), MVMM_ERR_INVAL);
	cr_assert_null(r);
	g.dirs = &d;
	d.guest = "relative";
	cr_assert_eq(mvmm_run_image_opts(rt, img, argv, &g, NULL, &r), MVMM_ERR_INVAL);
	d.guest = NULL;
	g.ndirs = 65;
	cr_assert_eq(mvmm_run_image_opts(rt, img, argv, &g, NULL, &r), MVMM_ERR_INVAL);
	g.ndirs = 1;
	g.strace = 1;
	g.strace_fd = -1;
	cr_assert_eq(mvmm_run_image_opts(rt, img, argv, &g, NULL, &r), MVMM_ERR_INVAL);
	g.strace = 0;
	g.flags = 1;
	cr_assert_eq(mvmm_run_image_opts(rt, img, argv, &g, NULL, &r), MVMM_ERR_INVAL);
	cr_assert_not_null(strstr(mvmm_last_error(), "unknown flags"), "%s", mvmm_last_error());
	g.flags = 0;
	/* a directory that does not exist: the template cannot start, the message names it */
	cr_assert_eq(mvmm_template_new_opts(rt, img, argv, 1000, &g, &t), MVMM_ERR_HOST);
	cr_assert_not_null(strstr(mvmm_last_error(), "/nonexistent/mvmm-dir"), "%s",
			   mvmm_last_error());
}
