/*
 * test_linux_libshare.c: 50 instances of Debian's lua5.4, one per mvmm process, map one
 * physical copy of libc: every page of libc.so.6 that two guests both map from the file is
 * the same host page (pagemap gives the frame, kpagecount its mappers), and the pages the
 * loader wrote (relocations, .data) are private copies, one per guest. Within one process,
 * --stats counts each instance's library pages shared and written. Measured, not assumed.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define N	   50
#define LUA	   "/usr/bin/lua5.4"
#define PM_PRESENT (1ull << 63)
#define PM_FILE	   (1ull << 61)
#define PM_PFN	   ((1ull << 55) - 1)
#define MAXPAGES   (1u << 20)

static void need_kvm(void)
{
	cr_assert(access("/dev/kvm", R_OK | W_OK) == 0, "/dev/kvm is required");
}

TestSuite(libshare, .init = need_kvm, .timeout = 300);

/* A file page of libc: its offset in the file and the host frame one instance maps. */
struct fpage {
	uint64_t off, pfn;
};

struct scan {
	struct fpage *file; /* file-backed pages found, in all instances */
	size_t nfile;
	uint64_t *anon; /* frames of private (written) pages in libc's mappings */
	size_t nanon;
};

static void scan_vma(int pm, uint64_t lo, uint64_t hi, uint64_t off, struct scan *s)
{
	for (uint64_t a = lo; a < hi; a += 4096) {
		uint64_t e;

		cr_assert_eq(pread(pm, &e, 8, (off_t)(a / 4096 * 8)), 8);
		if (!(e & PM_PRESENT))
			continue;
		cr_assert_neq(e & PM_PFN, 0, "pagemap hides frames: the test needs root");
		if (e & PM_FILE) {
			cr_assert_lt(s->nfile, MAXPAGES);
			s->file[s->nfile++] = (struct fpage){off + (a - lo), e & PM_PFN};
		} else {
			cr_assert_lt(s->nanon, MAXPAGES);
			s->anon[s->nanon++] = e & PM_PFN;
		}
	}
}

/*
 * Every guest mapping of libc.so.6 in process pid, page by page: mvmm maps a guest's file
 * pages read-write private, the whole library in one VMA; mvmm's own libc (the host
 * loader's) is mapped r--p, r-xp and a small rw-p.
 */
static void scan_libc(pid_t pid, struct scan *s)
{
	char path[64], line[1024], name[512];
	FILE *maps;
	int pm;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	cr_assert(maps, "%s", path);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	pm = open(path, O_RDONLY);
	cr_assert_geq(pm, 0, "%s", path);
	while (fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi, off;

		name[0] = '\0';
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %511s", &lo, &hi, &off, name) < 3)
			continue;
		if (strstr(name, "/libc.so.6") && strstr(line, " rw-p ") && hi - lo >= (1ul << 20))
			scan_vma(pm, lo, hi, off, s);
	}
	close(pm);
	fclose(maps);
}

static uint64_t kpagecount(uint64_t pfn)
{
	int fd = open("/proc/kpagecount", O_RDONLY);
	uint64_t n = 0;

	cr_assert_geq(fd, 0, "/proc/kpagecount");
	cr_assert_eq(pread(fd, &n, 8, (off_t)(pfn * 8)), 8);
	close(fd);
	return n;
}

static int fpage_cmp(const void *a, const void *b)
{
	const struct fpage *x = a, *y = b;

	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return x->pfn < y->pfn ? -1 : x->pfn > y->pfn;
}

static int u64_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return *x < *y ? -1 : *x > *y;
}

/* Starts N mvmm processes, each one lua5.4 that says "up" and blocks reading stdin. */
static void start_held(pid_t *pids, int *in_w, int *out_r)
{
	int in[2], out[2];
	char buf[4096];
	size_t ups = 0;

	cr_assert_eq(pipe(in), 0);
	cr_assert_eq(pipe(out), 0);
	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0) {
			dup2(in[0], 0);
			dup2(out[1], 1);
			close(in[1]);
			close(out[0]);
			execl(t_mvmm_bin(), "mvmm", "run", LUA, "-e",
			      "io.write('up\\n') io.flush() io.read()", (char *)NULL);
			_exit(127);
		}
	}
	close(in[0]);
	close(out[1]);
	while (ups < N) {
		ssize_t n = read(out[0], buf, sizeof(buf));

		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			ups += buf[i] == '\n';
	}
	cr_assert_eq(ups, N, "%zu of %d instances came up", ups, N);
	*in_w = in[1];
	*out_r = out[0];
}

Test(libshare, fifty_lua_processes_map_one_copy_of_libc)
{
	struct scan s = {calloc(MAXPAGES, sizeof(struct fpage)), 0, calloc(MAXPAGES, 8), 0};
	size_t shared_frames = 0, offsets = 0, i, j;
	int in_w, out_r, status;
	pid_t pids[N];

	cr_assert(access(LUA, X_OK) == 0, LUA " missing: apt-get install lua5.4");
	cr_assert(s.file && s.anon);
	start_held(pids, &in_w, &out_r);
	for (i = 0; i < N; i++)
		scan_libc(pids[i], &s);
	cr_expect_geq(s.nfile, N * 16, "only %zu file pages of libc mapped in %d instances",
		      s.nfile, N);
	/* One frame per file offset, however many instances map it. */
	qsort(s.file, s.nfile, sizeof(*s.file), fpage_cmp);
	for (i = 0; i < s.nfile; i = j) {
		size_t mappers = 0;

		for (j = i; j < s.nfile && s.file[j].off == s.file[i].off; j++) {
			cr_expect_eq(s.file[j].pfn, s.file[i].pfn,
				     "libc offset 0x%lx is in two frames (0x%lx, 0x%lx)",
				     (unsigned long)s.file[i].off, (unsigned long)s.file[i].pfn,
				     (unsigned long)s.file[j].pfn);
			mappers++;
		}
		offsets++;
		if (mappers > 1)
			shared_frames++;
		cr_expect_geq(kpagecount(s.file[i].pfn), mappers, "offset 0x%lx",
			      (unsigned long)s.file[i].off);
	}
	cr_expect_geq(shared_frames, 16, "only %zu libc frames shared", shared_frames);
	/* What the loader wrote is each instance's own. */
	cr_expect_geq(s.nanon, N, "only %zu private libc pages in %d instances", s.nanon, N);
	qsort(s.anon, s.nanon, 8, u64_cmp);
	for (i = 1; i < s.nanon; i++)
		cr_expect_neq(s.anon[i], s.anon[i - 1], "a private libc page is shared");
	fprintf(stderr,
		"libshare: %d lua5.4 processes: %zu libc file pages mapped over %zu frames "
		"(%zu shared); %zu private pages\n",
		N, s.nfile, offsets, shared_frames, s.nanon);
	close(in_w); /* end of file: every instance's read returns, lua5.4 exits */
	close(out_r);
	for (i = 0; i < N; i++) {
		cr_assert_eq(waitpid(pids[i], &status, 0), pids[i]);
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "mvmm status 0x%x",
			  status);
	}
	free(s.file);
	free(s.anon);
}

/* In one process: --stats=json counts every instance's library pages, shared and written. */
Test(libshare, stats_count_library_pages_per_instance)
{
	struct t_proc p;
	const char *at;
	unsigned long shared = 0, priv = 0;

	T_MVMM(&p, 120000, "run", "--count", "8", "--hold", "--stats=json", LUA, "-e",
	       "print(1)");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	at = strstr(p.err, "\"summary\":true");
	cr_assert(at, "no summary in:\n%s", p.err);
	cr_assert(strstr(at, "\"lib_shared_pages\":"), "%s", at);
	sscanf(strstr(at, "\"lib_shared_pages\":") + 19, "%lu", &shared);
	sscanf(strstr(at, "\"lib_private_pages\":") + 20, "%lu", &priv);
	/* libc alone: hundreds of pages read from the file, a few dozen relocated */
	cr_expect_geq(shared, 8 * 100, "lib_shared_pages %lu", shared);
	cr_expect_geq(priv, 8 * 2, "lib_private_pages %lu", priv);
	cr_expect_lt(priv, shared / 4, "lib_private_pages %lu of %lu", priv, shared);
	t_proc_free(&p);
}

/*
 * A guest with a writable tree on the file system of its libraries (mvmm runs as root here,
 * so it could write them) gets copies: a hard link in that tree could truncate a mapped file.
 */
Test(libshare, a_writable_tree_on_the_libraries_file_system_means_copies)
{
	char tmp[] = "/tmp/mvmm-libshare-XXXXXX", dir[64];
	struct stat lib, t;
	struct t_proc p;
	unsigned long shared = 0;
	const char *at;

	cr_assert(mkdtemp(tmp));
	cr_assert_eq(stat("/lib/x86_64-linux-gnu/libc.so.6", &lib), 0);
	cr_assert_eq(stat(tmp, &t), 0);
	snprintf(dir, sizeof(dir), "%s:/w:rw", tmp);
	T_MVMM(&p, 120000, "run", "--count", "2", "--hold", "--stats=json", "--dir", dir, LUA, "-e",
	       "print(1)");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	at = strstr(p.err, "\"summary\":true");
	cr_assert(at && strstr(at, "\"lib_shared_pages\":"), "%s", p.err);
	sscanf(strstr(at, "\"lib_shared_pages\":") + 19, "%lu", &shared);
	if (geteuid() == 0 && lib.st_dev == t.st_dev)
		cr_expect_eq(shared, 0, "lib_shared_pages %lu beside a :rw tree on one device", shared);
	else
		cr_expect_gt(shared, 0, "lib_shared_pages %lu", shared);
	t_proc_free(&p);
	rmdir(tmp);
}
