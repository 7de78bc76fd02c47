/*
 * test_api_store.c: mvmm.h's calls over files, through the installed
 * header: template snapshots (write, restore a chain) and the image cache
 * (a second load, in this process or another, maps the stored entry).
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
#include <sys/wait.h>
#include <unistd.h>

/* Guests, relative to the repository root (make test-api runs from there). */
#define CASES_ELF (getenv("MVMM_CASES") ? getenv("MVMM_CASES") : "build/tests/harness/cases.elf")

static struct mvmm_runtime *rt;
static char dir[] = "/tmp/mvmm-api-store.XXXXXX";

static void setup(void)
{
	strcpy(dir, "/tmp/mvmm-api-store.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(mvmm_runtime_new(&rt), 0, "%s", mvmm_last_error());
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
	mvmm_runtime_free(rt);
	rt = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(api_store, .init = setup, .fini = teardown, .timeout = 120);

/* Asserts that a clone of t computes add 2 40. */
static void assert_adds(struct mvmm_template *t)
{
	const char *args[] = { "add", "2", "40", NULL };
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 5000 };
	struct mvmm_result *r = NULL;

	cr_assert_eq(mvmm_run(t, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->end, MVMM_END_EXIT, "%s: %s", mvmm_end_name(r->end), r->message);
	cr_assert_str_eq(r->out, "42\n");
	mvmm_result_free(r);
}

/* A template of the harness cases, booted afresh. */
static struct mvmm_template *cases_template(void)
{
	struct mvmm_template *t;
	struct mvmm_image *img;

	cr_assert_eq(mvmm_image_load_file(CASES_ELF, 0, &img), 0, "%s", mvmm_last_error());
	cr_assert_eq(mvmm_template_new(rt, img, NULL, 10000, &t), 0, "%s", mvmm_last_error());
	mvmm_image_free(img);
	return t;
}

/* ---- snapshots -------------------------------------------------------- */

Test(api_store, snapshot_written_then_restored_runs)
{
	struct mvmm_template *t = cases_template(), *back;
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "%s/cases.snap", dir);
	cr_assert_eq(mvmm_template_snapshot(t, path), 0, "%s", mvmm_last_error());
	mvmm_template_free(t);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_gt(st.st_size, 4096);
	cr_assert_eq(mvmm_template_from_snapshot(rt, path, MVMM_HUGE_OFF, &back), 0, "%s",
		     mvmm_last_error());
	assert_adds(back);
	assert_adds(back); /* clones of it, one after another */
	mvmm_template_free(back);
}

Test(api_store, snapshot_bad_files_are_refused)
{
	struct mvmm_template *t = cases_template(), *back = (struct mvmm_template *)1;
	char path[96], chain[200], junk[96];
	int fd;

	snprintf(path, sizeof(path), "%s/base.snap", dir);
	snprintf(junk, sizeof(junk), "%s/junk", dir);
	cr_assert_eq(mvmm_template_snapshot(t, path), 0, "%s", mvmm_last_error());
	mvmm_template_free(t);
	/* missing */
	snprintf(chain, sizeof(chain), "%s/none.snap", dir);
	cr_assert_eq(mvmm_template_from_snapshot(rt, chain, 0, &back), MVMM_ERR_IMAGE);
	cr_assert_null(back);
	cr_assert_not_null(strstr(mvmm_last_error(), "none.snap"), "%s", mvmm_last_error());
	/* not a snapshot, as a diff after a good base */
	fd = open(junk, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "MVMMSNAP and then nothing good", 30), 30);
	close(fd);
	snprintf(chain, sizeof(chain), "%s,%s", path, junk);
	cr_assert_eq(mvmm_template_from_snapshot(rt, chain, 0, &back), MVMM_ERR_IMAGE);
	cr_assert_not_null(strstr(mvmm_last_error(), "junk"), "%s", mvmm_last_error());
	/* a base twice: the second is not a diff of the first */
	snprintf(chain, sizeof(chain), "%s,%s", path, path);
	cr_assert_eq(mvmm_template_from_snapshot(rt, chain, 0, &back), MVMM_ERR_IMAGE);
	/* arguments */
	cr_assert_eq(mvmm_template_from_snapshot(rt, "", 0, &back), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_template_from_snapshot(rt, path, 7, &back), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_template_from_snapshot(NULL, path, 0, &back), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_template_snapshot(NULL, path), MVMM_ERR_INVAL);
	/* an unwritable place */
	t = cases_template();
	cr_assert_eq(mvmm_template_snapshot(t, "/proc/mvmm-no/such.snap"), MVMM_ERR_IO);
	mvmm_template_free(t);
}

/*
 * A chain the command wrote (base and three checkpoint diffs of
 * stages.elf): restored through the library at its second checkpoint, a
 * clone prints what the command's run printed after that checkpoint.
 */
Test(api_store, snapshot_chain_written_by_the_command)
{
	const char *mvmm = getenv("MVMM_BIN") ? getenv("MVMM_BIN") : "build/mvmm";
	struct mvmm_run_opts o = { .timeout_ms = 10000 };
	char cmd[512], chain[400], want[512];
	struct mvmm_template *t;
	struct mvmm_result *r;
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s run --template --snapshot %s/s build/guest/stages.elf abc",
		 mvmm, dir);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	n = fread(want, 1, sizeof(want) - 1, f);
	want[n] = '\0';
	cr_assert_eq(WEXITSTATUS(pclose(f)), 11, "the guest's status: %s", want);
	cr_assert_not_null(strstr(want, "checkpoint 2: stage 2 done"), "%s", want);
	snprintf(chain, sizeof(chain), "%s/s,%s/s.1,%s/s.2", dir, dir, dir);
	cr_assert_eq(mvmm_template_from_snapshot(rt, chain, MVMM_HUGE_AUTO, &t), 0, "%s",
		     mvmm_last_error());
	cr_assert_eq(mvmm_run(t, &o, &r), 0, "%s", mvmm_last_error());
	cr_assert_eq(r->end, MVMM_END_EXIT, "%s: %s", mvmm_end_name(r->end), r->message);
	cr_assert_eq(r->status, 11);
	/*
	 * What followed checkpoint 2 in the command's run, from the line it
	 * printed on; only checkpoint 3's number differs: a run that takes no
	 * snapshots gets 0 from mvmm_checkpoint().
	 */
	memcpy(strstr(want, "checkpoint 3:"), "checkpoint 0:", 13);
	cr_assert_str_eq(r->out, strstr(want, "checkpoint 2:"));
	mvmm_result_free(r);
	mvmm_template_free(t);
}

/* ---- the image cache -------------------------------------------------- */

/* In a child process: loads what `template` says through the cache; exits with the outcome. */
static int child_outcome(int template)
{
	struct mvmm_cache_options c = { .dir = dir };
	struct mvmm_cache_info info;
	pid_t pid = fork();
	int status;

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		struct mvmm_runtime *crt;
		struct mvmm_template *t;
		struct mvmm_image *img;

		/* KVM objects are per process: the child makes its own runtime */
		if (!template) {
			if (mvmm_image_load_cached(CASES_ELF, 0, &c, &img, &info) < 0)
				_exit(100);
			mvmm_image_free(img);
			_exit(info.outcome);
		}
		if (mvmm_runtime_new(&crt) < 0 ||
		    mvmm_template_new_cached(crt, CASES_ELF, 0, NULL, 10000, NULL, &c, &t, &info) < 0)
			_exit(100);
		mvmm_runtime_free(crt);
		_exit(info.outcome);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

Test(api_store, cache_image_second_load_is_a_hit)
{
	struct mvmm_cache_options c = { .dir = dir, .max_bytes = 256 << 20 };
	struct mvmm_cache_info info;
	struct mvmm_template *t;
	struct mvmm_image *img;

	cr_assert_eq(mvmm_image_load_cached(CASES_ELF, 0, &c, &img, &info), 0, "%s",
		     mvmm_last_error());
	cr_assert_eq(info.outcome, MVMM_CACHE_BUILT, "%d %s", info.outcome, info.warning);
	cr_assert_str_eq(info.warning, "");
	cr_assert_not_null(strstr(info.path, dir), "%s", info.path);
	mvmm_image_free(img);
	cr_assert_eq(mvmm_image_load_cached(CASES_ELF, 0, &c, &img, &info), 0, "%s",
		     mvmm_last_error());
	cr_assert_eq(info.outcome, MVMM_CACHE_HIT, "%d %s", info.outcome, info.warning);
	/* the mapped image runs */
	cr_assert_eq(mvmm_template_new(rt, img, NULL, 10000, &t), 0, "%s", mvmm_last_error());
	mvmm_image_free(img);
	assert_adds(t);
	mvmm_template_free(t);
	cr_assert_eq(child_outcome(0), MVMM_CACHE_HIT, "another process maps it from the cache");
}

Test(api_store, cache_template_second_load_is_a_hit)
{
	struct mvmm_cache_options c = { .dir = dir };
	struct mvmm_cache_info info;
	struct mvmm_template *t;

	cr_assert_eq(mvmm_template_new_cached(rt, CASES_ELF, 0, NULL, 10000, NULL, &c, &t, &info), 0,
		     "%s", mvmm_last_error());
	cr_assert_eq(info.outcome, MVMM_CACHE_BUILT, "%d %s", info.outcome, info.warning);
	assert_adds(t);
	mvmm_template_free(t);
	cr_assert_eq(child_outcome(1), MVMM_CACHE_HIT, "another process maps it from the cache");
	cr_assert_eq(mvmm_template_new_cached(rt, CASES_ELF, 0, NULL, 10000, NULL, &c, &t, &info), 0,
		     "%s", mvmm_last_error());
	cr_assert_eq(info.outcome, MVMM_CACHE_HIT, "%d %s", info.outcome, info.warning);
	assert_adds(t);
	mvmm_template_free(t);
}

Test(api_store, cache_bad_arguments)
{
	struct mvmm_cache_options c = { .dir = NULL }, bad = { .dir = dir, .huge_pages = 9 };
	struct mvmm_template *t = (struct mvmm_template *)1;
	struct mvmm_image *img = (struct mvmm_image *)1;

	cr_assert_eq(mvmm_image_load_cached(CASES_ELF, 0, &c, &img, NULL), MVMM_ERR_INVAL);
	cr_assert_null(img);
	cr_assert_eq(mvmm_image_load_cached(CASES_ELF, 0, NULL, &img, NULL), MVMM_ERR_INVAL);
	cr_assert_eq(mvmm_image_load_cached(CASES_ELF, 0, &bad, &img, NULL), MVMM_ERR_INVAL);
	c.dir = dir;
	c.flags = 2;
	cr_assert_eq(mvmm_image_load_cached(CASES_ELF, 0, &c, &img, NULL), MVMM_ERR_INVAL);
	c.flags = 0;
	cr_assert_eq(mvmm_image_load_cached("/nonexistent/guest.elf", 0, &c, &img, NULL),
		     MVMM_ERR_IO);
	cr_assert_eq(mvmm_template_new_cached(rt, "/nonexistent/guest.elf", 0, NULL, 0, NULL, &c, &t,
					      NULL),
		     MVMM_ERR_IO);
	cr_assert_null(t);
	cr_assert_eq(mvmm_template_new_cached(NULL, CASES_ELF, 0, NULL, 0, NULL, &c, &t, NULL),
		     MVMM_ERR_INVAL);
}
