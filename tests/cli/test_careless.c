/*
 * test_careless.c: what a careless user hands mvmm: FIFOs and huge files where a guest or a
 * snapshot belongs, and files of their own in the cache directory.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mvmm-careless-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

TestSuite(careless, .init = setup, .fini = teardown, .timeout = 60);

static char *in_dir(const char *name)
{
	static char path[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

/* A FIFO is refused before it is opened for reading (which would wait for a writer forever). */
Test(careless, a_fifo_as_the_guest_or_a_snapshot_is_refused)
{
	char *fifo = in_dir("fifo");
	struct t_proc p;

	cr_assert(mkfifo(fifo, 0600) == 0);
	T_MVMM(&p, 20000, "run", fifo);
	cr_assert_eq(p.status, 125, "%s", p.err);
	cr_assert(strstr(p.err, "not a regular file"), "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 20000, "run", "--from-snapshot", fifo);
	cr_assert_eq(p.status, 125, "%s", p.err);
	cr_assert(strstr(p.err, "not a regular file"), "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 20000, "snapshot", "info", fifo);
	cr_assert_neq(p.status, 0);
	cr_assert(!p.timed_out);
	t_proc_free(&p);
}

/* A 2 GiB file of something else is refused after reading its header, not all of it. */
Test(careless, a_huge_file_that_is_no_snapshot_is_refused_by_its_header)
{
	char *big = in_dir("big");
	struct t_proc p;
	FILE *f = fopen(big, "we");

	cr_assert(f);
	cr_assert(fputs("not a snapshot", f) >= 0);
	cr_assert(ftruncate(fileno(f), 2ll << 30) == 0); /* sparse: costs no disk */
	fclose(f);
	T_MVMM(&p, 20000, "run", "--from-snapshot", big, "x");
	cr_assert_eq(p.status, 125, "%s", p.err);
	cr_assert(strstr(p.err, "not an mvmm snapshot"), "%s", p.err);
	t_proc_free(&p);
}

/* `cache clear` removes the cache's own files only, never a file by its suffix alone. */
Test(careless, cache_clear_removes_only_the_caches_own_files)
{
	char *cache = in_dir("cache");
	char notes[128], ids[128], mine[128], cmd[256];
	struct t_proc p;
	struct stat st;

	T_MVMM(&p, 30000, "run", "--cache-dir", cache, T_GUEST("hello"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	snprintf(notes, sizeof(notes), "%s/notes.meta", cache);
	snprintf(ids, sizeof(ids), "%s/ids", cache);
	snprintf(mine, sizeof(mine), "%s/ids/mine.txt", cache);
	mkdir(ids, 0700);
	t_write_file(notes, "my notes\n", 9);
	t_write_file(mine, "mine\n", 5);
	T_MVMM(&p, 30000, "cache", "clear", "--cache-dir", cache);
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	cr_assert(stat(notes, &st) == 0, "cache clear deleted notes.meta");
	cr_assert(stat(mine, &st) == 0, "cache clear deleted ids/mine.txt");
	snprintf(cmd, sizeof(cmd), "ls %s/*.mvmmc >/dev/null 2>&1", cache);
	cr_assert_neq(system(cmd), 0, "the cache entry is still there");
}

/* Writes a byte into the first hole past the program in the cache's one entry. */
static void write_into_hole(const char *cache)
{
	char cmd[256], entry[256] = "";
	FILE *ls;
	off_t hole;
	int fd;

	snprintf(cmd, sizeof(cmd), "ls %s/*.mvmmc", cache);
	ls = popen(cmd, "r");
	cr_assert(ls && fgets(entry, sizeof(entry), ls), "no cache entry in %s", cache);
	pclose(ls);
	entry[strcspn(entry, "\n")] = '\0';
	fd = open(entry, O_WRONLY);
	cr_assert(fd >= 0, "%s", entry);
	hole = lseek(fd, 0x400000, SEEK_HOLE); /* past the program: its .bss and heap */
	cr_assert(hole > 0x400000);
	cr_assert(pwrite(fd, "X", 1, hole + 100) == 1);
	close(fd);
}

/* A byte written into a hole of a cache entry (zero memory for the guest) is caught. */
Test(careless, bytes_in_a_cache_files_hole_are_caught)
{
	char *cache = in_dir("cache");
	struct t_proc p;

	T_MVMM(&p, 30000, "run", "--cache-dir", cache, T_GUEST("hello"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	/* a run finds it: the entry is rebuilt, the guest never sees the byte */
	write_into_hole(cache);
	T_MVMM(&p, 30000, "run", "--cache-dir", cache, T_GUEST("hello"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert(strstr(p.out, T_HELLO_TEXT));
	cr_assert(strstr(p.err, "must be zero") && strstr(p.err, "rebuilding"), "%s", p.err);
	t_proc_free(&p);
	/* and so does cache verify */
	write_into_hole(cache);
	T_MVMM(&p, 30000, "cache", "verify", "--cache-dir", cache);
	cr_assert_neq(p.status, 0, "cache verify said ok:\n%s%s", p.out, p.err);
	cr_assert(strstr(p.out, "must be zero") || strstr(p.err, "must be zero"), "%s%s", p.out,
		  p.err);
	t_proc_free(&p);
}
