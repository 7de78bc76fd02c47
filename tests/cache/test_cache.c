/* test_cache.c: the persistent image cache: hits map the file, keys miss, damage is rebuilt, races, full disks. */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mount.h>

#include "cache/cache.h"
#include "harness.h"
#include "mvmm_abi.h"

#define READY T_GUEST("ready")
#define HELLO T_GUEST("hello")
#define BIG   T_GUEST("bigimage")
#define RUN_MS 60000

static char dir[64];

static void t_cache_dir(void)
{
	strcpy(dir, "/tmp/mvmm-cache-test-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void t_rm_rf(const char *d)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	cr_assert(system(cmd) == 0);
}

/* Entry files (*.mvmmc) in d; *tmp gets temporary files left behind. */
static int t_entries(const char *d, char *first, size_t len, int *tmp)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	if (tmp)
		*tmp = 0;
	if (!dp)
		return 0;
	while ((e = readdir(dp)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l > 6 && strcmp(e->d_name + l - 6, CACHE_SUFFIX) == 0) {
			if (first && !n)
				snprintf(first, len, "%s/%s", d, e->d_name);
			n++;
		} else if (tmp && strstr(e->d_name, ".tmp.")) {
			(*tmp)++;
		}
	}
	closedir(dp);
	return n;
}

static int t_lines(const char *s, const char *needle)
{
	int n = 0;

	for (; (s = strstr(s, needle)) != NULL; s += strlen(needle))
		n++;
	return n;
}

static void t_header(const char *path, struct cache_header *h, off_t *off)
{
	int fd = open(path, O_RDONLY);
	struct stat st;

	cr_assert(fd >= 0 && fstat(fd, &st) == 0);
	*off = st.st_size - (off_t)sizeof(*h);
	cr_assert(pread(fd, h, sizeof(*h), *off) == (ssize_t)sizeof(*h));
	close(fd);
}

static void t_poke(const char *path, off_t off, uint8_t xor)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	cr_assert(fd >= 0);
	cr_assert(pread(fd, &b, 1, off) == 1);
	b ^= xor;
	cr_assert(pwrite(fd, &b, 1, off) == 1);
	close(fd);
}

/* `mvmm run --cache-dir DIR --template READY 5`: must print its line and exit 0. */
static void t_ready(struct t_proc *p, const char *extra)
{
	if (extra)
		T_MVMM(p, RUN_MS, "run", "--cache-dir", dir, (char *)extra, "--template", READY, "5");
	else
		T_MVMM(p, RUN_MS, "run", "--cache-dir", dir, "--template", READY, "5");
	cr_assert_eq(p->status, 0, "status %d, stderr: %s", p->status, p->err);
	cr_assert(strstr(p->out, "table[5] = "), "%s", p->out);
}

static uint64_t t_hits(void)
{
	struct cache_opts o = {.dir = dir};
	struct cache_entry_info *v;
	uint64_t hits = 0;
	size_t n, i;

	cr_assert(cache_list(&o, &v, &n) == 0);
	for (i = 0; i < n; i++)
		hits += v[i].hits;
	free(v);
	return hits;
}

/*
 * Starts `mvmm run --template BIG hold` with a pipe as stdin, waits until
 * the guest holds (its memory mapped), and returns whether the process maps
 * the cache file `entry`; then lets it end.
 */
static int t_big_maps_entry(const char *entry)
{
	int in[2], found = 0, st;
	char maps[64], line[1400];
	pid_t pid;
	uint64_t deadline = t_now_ns() + 20000000000ull;

	cr_assert(pipe(in) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (getenv("T_CHILD_ASAN_OPTIONS"))
			setenv("ASAN_OPTIONS", getenv("T_CHILD_ASAN_OPTIONS"), 1);
		dup2(in[0], 0);
		dup2(null, 1);
		close(in[1]);
		execl(t_mvmm_bin(), t_mvmm_bin(), "run", "--cache-dir", dir, "--template", BIG,
		      "hold", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	while (!found && t_now_ns() < deadline) {
		FILE *f = fopen(maps, "r");

		cr_assert(f);
		while (fgets(line, sizeof(line), f))
			if (entry && strstr(line, entry))
				found = 1;
		fclose(f);
		if (!found)
			usleep(20000);
		if (!entry && t_now_ns() + 18000000000ull > deadline)
			break; /* only waiting for the build's store */
	}
	close(in[1]); /* end of file: the guest ends */
	cr_assert(waitpid(pid, &st, 0) == pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	return found;
}

Test(cache, a_second_run_maps_what_the_first_stored)
{
	struct t_proc p;
	char entry[256];

	t_cache_dir();
	cr_assert_eq(t_big_maps_entry(NULL), 0);
	cr_assert_eq(t_entries(dir, entry, sizeof(entry), NULL), 1, "no entry stored");
	cr_assert_eq(t_hits(), 0);
	cr_expect(t_big_maps_entry(entry), "the second run does not map %s", entry);
	cr_expect_eq(t_hits(), 1);
	/* Plain images too. */
	T_MVMM(&p, RUN_MS, "run", "--cache-dir", dir, HELLO);
	cr_assert_eq(p.status, 0);
	t_proc_free(&p);
	T_MVMM(&p, RUN_MS, "run", "--cache-dir", dir, HELLO);
	cr_assert_eq(p.status, 0);
	cr_expect(strstr(p.out, T_HELLO_TEXT));
	cr_expect_eq(p.err_len, 0, "%s", p.err);
	t_proc_free(&p);
	cr_expect_eq(t_entries(dir, NULL, 0, NULL), 2);
	cr_expect_eq(t_hits(), 2);
	t_rm_rf(dir);
}

Test(cache, no_cache_stores_nothing)
{
	struct t_proc p;

	t_cache_dir();
	t_ready(&p, "--no-cache");
	t_proc_free(&p);
	cr_expect_eq(t_entries(dir, NULL, 0, NULL), 0);
	t_rm_rf(dir);
}

Test(cache, another_elf_argument_memory_or_abi_misses)
{
	char elf[128], cmd[400], entry[256];
	struct cache_header h;
	struct t_proc p;
	off_t off;
	int fd;

	t_cache_dir();
	t_ready(&p, NULL);
	t_proc_free(&p);
	/* Another argument: the template's initialization sees its argv. */
	T_MVMM(&p, RUN_MS, "run", "--cache-dir", dir, "--template", READY, "6");
	cr_assert_eq(p.status, 0);
	t_proc_free(&p);
	cr_expect_eq(t_entries(dir, NULL, 0, NULL), 2);
	/* Another environment, another memory size. */
	T_MVMM(&p, RUN_MS, "run", "--cache-dir", dir, "--env", "A=1", "--template", READY, "5");
	cr_assert_eq(p.status, 0);
	t_proc_free(&p);
	T_MVMM(&p, RUN_MS, "run", "--cache-dir", dir, "--mem", "32M", "--template", READY, "5");
	cr_assert_eq(p.status, 0);
	t_proc_free(&p);
	cr_expect_eq(t_entries(dir, NULL, 0, NULL), 4);
	/* Another ELF at the same path. */
	snprintf(elf, sizeof(elf), "%s/guest.elf", dir);
	snprintf(cmd, sizeof(cmd), "cp %s %s", HELLO, elf);
	cr_assert(system(cmd) == 0);
	T_MVMM(&p, RUN_MS, "run", "--cache-dir", dir, elf);
	cr_assert(strstr(p.out, T_HELLO_TEXT));
	t_proc_free(&p);
	snprintf(cmd, sizeof(cmd), "cp %s %s", T_GUEST("args"), elf);
	cr_assert(system(cmd) == 0);
	T_MVMM(&p, RUN_MS, "run", "--cache-dir", dir, elf, "x");
	cr_assert_eq(p.status, 0);
	cr_expect(!strstr(p.out, T_HELLO_TEXT), "the old ELF's image was used: %s", p.out);
	t_proc_free(&p);
	cr_expect_eq(t_entries(dir, NULL, 0, NULL), 6);
	/* An entry of another guest ABI: replaced quietly. */
	t_rm_rf(dir);
	t_cache_dir();
	t_ready(&p, NULL);
	t_proc_free(&p);
	cr_assert_eq(t_entries(dir, entry, sizeof(entry), NULL), 1);
	t_header(entry, &h, &off);
	h.abi_version = MVMM_ABI_VERSION + 1;
	cache_header_seal(&h);
	fd = open(entry, O_WRONLY);
	cr_assert(pwrite(fd, &h, sizeof(h), off) == (ssize_t)sizeof(h));
	close(fd);
	t_ready(&p, NULL);
	cr_expect_eq(p.err_len, 0, "an incompatible entry is no damage: %s", p.err);
	t_proc_free(&p);
	t_header(entry, &h, &off);
	cr_expect_eq(h.abi_version, MVMM_ABI_VERSION, "the entry was not replaced");
	cr_expect_eq(t_hits(), 0);
	t_ready(&p, NULL);
	t_proc_free(&p);
	cr_expect_eq(t_hits(), 1);
	t_rm_rf(dir);
}

enum damage { D_HEADER, D_INDEX, D_DATA, D_TRUNCATE, D_EMPTY };

static void t_damage(enum damage d, const char *what)
{
	struct cache_header h;
	char entry[256];
	struct t_proc p;
	uint64_t first_page;
	off_t off;
	int fd;

	t_cache_dir();
	t_ready(&p, NULL);
	t_proc_free(&p);
	t_ready(&p, NULL); /* a hit: verified, so the data check must come from the damage */
	t_proc_free(&p);
	cr_assert_eq(t_hits(), 1);
	cr_assert_eq(t_entries(dir, entry, sizeof(entry), NULL), 1);
	t_header(entry, &h, &off);
	fd = open(entry, O_RDWR);
	cr_assert(fd >= 0);
	cr_assert(pread(fd, &first_page, 8, (off_t)h.index_offset) == 8);
	close(fd);
	switch (d) {
	case D_HEADER:
		t_poke(entry, off + (off_t)offsetof(struct cache_header, elf_name), 0x20);
		break;
	case D_INDEX:
		t_poke(entry, (off_t)h.index_offset + 9, 0x01);
		break;
	case D_DATA:
		t_poke(entry, (off_t)(first_page * 4096 + 123), 0x80);
		break;
	case D_TRUNCATE:
		cr_assert(truncate(entry, off + 100) == 0);
		break;
	case D_EMPTY:
		cr_assert(truncate(entry, 0) == 0);
		break;
	}
	t_ready(&p, NULL);
	cr_expect_eq(t_lines(p.err, "\n"), 1, "%s: not one line: %s", what, p.err);
	cr_expect(strstr(p.err, "mvmm: warning: cache:") && strstr(p.err, "rebuilding"),
		  "%s: %s", what, p.err);
	t_proc_free(&p);
	/* Rebuilt: the next run is a clean hit. */
	cr_expect_eq(t_hits(), 0, "%s", what);
	t_ready(&p, NULL);
	cr_expect_eq(p.err_len, 0, "%s: %s", what, p.err);
	t_proc_free(&p);
	cr_expect_eq(t_hits(), 1, "%s", what);
	t_rm_rf(dir);
}

Test(cache, a_flipped_header_byte_is_rebuilt)
{
	t_damage(D_HEADER, "header");
}

Test(cache, a_flipped_index_byte_is_rebuilt)
{
	t_damage(D_INDEX, "index");
}

Test(cache, a_flipped_data_byte_is_rebuilt)
{
	t_damage(D_DATA, "data");
}

Test(cache, a_truncated_entry_is_rebuilt)
{
	t_damage(D_TRUNCATE, "truncated");
}

Test(cache, an_empty_entry_is_rebuilt)
{
	t_damage(D_EMPTY, "zero-length");
}

Test(cache, eight_racing_processes_all_succeed_and_leave_one_entry)
{
	pid_t pids[8];
	int i, tmp, st;

	t_cache_dir();
	for (i = 0; i < 8; i++) {
		pids[i] = fork();
		cr_assert(pids[i] >= 0);
		if (pids[i] == 0) {
			int null = open("/dev/null", O_RDWR);

			if (getenv("T_CHILD_ASAN_OPTIONS"))
				setenv("ASAN_OPTIONS", getenv("T_CHILD_ASAN_OPTIONS"), 1);
			dup2(null, 0);
			dup2(null, 1);
			execl(t_mvmm_bin(), t_mvmm_bin(), "run", "--cache-dir", dir, "--template",
			      READY, "5", (char *)NULL);
			_exit(127);
		}
	}
	for (i = 0; i < 8; i++) {
		cr_assert(waitpid(pids[i], &st, 0) == pids[i]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "process %d: status %d", i, st);
	}
	cr_expect_eq(t_entries(dir, NULL, 0, &tmp), 1);
	cr_expect_eq(tmp, 0, "temporary files left behind");
	t_rm_rf(dir);
}

/* A private mount namespace with a tmpfs at mnt; the cache directory mnt/c. */
static int t_private_tmpfs(char *mnt, const char *opts)
{
	if (unshare(CLONE_NEWNS) < 0)
		return -1;
	cr_assert(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	cr_assert(mkdtemp(mnt));
	cr_assert(mount("tmpfs", mnt, "tmpfs", 0, opts) == 0, "%s", strerror(errno));
	snprintf(dir, sizeof(dir), "%s/c", mnt);
	return 0;
}

static void t_degrades(const char *what)
{
	struct t_proc p;
	int tmp;

	t_ready(&p, NULL);
	cr_expect_eq(t_lines(p.err, "\n"), 1, "%s: not one line: %s", what, p.err);
	cr_expect(strstr(p.err, "mvmm: warning: cache:") &&
		  strstr(p.err, "running without the cache"), "%s: %s", what, p.err);
	t_proc_free(&p);
	cr_expect_eq(t_entries(dir, NULL, 0, &tmp), 0, "%s", what);
	cr_expect_eq(tmp, 0, "%s: temporary file left behind", what);
}

Test(cache, a_full_disk_runs_without_the_cache)
{
	char mnt[] = "/tmp/mvmm-cache-full-XXXXXX";

	if (t_private_tmpfs(mnt, "size=1m") < 0)
		cr_skip_test("no mount namespace here (%s)", strerror(errno));
	t_degrades("full disk"); /* the template's entry is ~4 MiB */
	umount(mnt);
	rmdir(mnt);
}

Test(cache, a_read_only_directory_runs_without_the_cache)
{
	char mnt[] = "/tmp/mvmm-cache-ro-XXXXXX";

	if (t_private_tmpfs(mnt, "size=64m") < 0)
		cr_skip_test("no mount namespace here (%s)", strerror(errno));
	cr_assert(mkdir(dir, 0700) == 0);
	cr_assert(mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL) == 0, "%s",
		  strerror(errno));
	t_degrades("read-only");
	umount(mnt);
	rmdir(mnt);
}

Test(cache, ls_verify_clear_and_the_size_cap)
{
	const char *guests[3] = {HELLO, T_GUEST("args"), T_GUEST("exitcode")};
	struct cache_header h;
	char entry[256];
	struct t_proc p;
	off_t off;
	int i;

	t_cache_dir();
	t_ready(&p, NULL);
	t_proc_free(&p);
	T_MVMM(&p, RUN_MS, "cache", "ls", "--cache-dir", dir);
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.out, "template") && strstr(p.out, "ready.elf 5") &&
		  strstr(p.out, "1 entries"), "%s", p.out);
	t_proc_free(&p);
	T_MVMM(&p, RUN_MS, "cache", "verify", "--cache-dir", dir);
	cr_expect_eq(p.status, 0, "%s%s", p.out, p.err);
	cr_expect(strstr(p.out, " ok "), "%s", p.out);
	t_proc_free(&p);
	cr_assert_eq(t_entries(dir, entry, sizeof(entry), NULL), 1);
	t_header(entry, &h, &off);
	{
		uint64_t first_page = 0;
		int fd = open(entry, O_RDONLY);

		cr_assert(pread(fd, &first_page, 8, (off_t)h.index_offset) == 8);
		close(fd);
		t_poke(entry, (off_t)(first_page * 4096 + 5), 1);
	}
	T_MVMM(&p, RUN_MS, "cache", "verify", "--cache-dir", dir);
	cr_expect_eq(p.status, 1, "%s", p.out);
	cr_expect(strstr(p.out, "DAMAGED"), "%s", p.out);
	t_proc_free(&p);
	cr_expect_eq(t_entries(dir, NULL, 0, NULL), 0);
	/* The cap: three small images in ~600 KiB, a cap of 450 KiB keeps the two latest. */
	for (i = 0; i < 3; i++) {
		T_MVMM(&p, RUN_MS, "run", "--cache-dir", dir, "--cache-max", "450K",
		       (char *)guests[i], "0");
		t_proc_free(&p);
	}
	T_MVMM(&p, RUN_MS, "cache", "ls", "--cache-dir", dir);
	cr_expect(!strstr(p.out, "hello.elf") && strstr(p.out, "args.elf") &&
		  strstr(p.out, "exitcode.elf"), "%s", p.out);
	t_proc_free(&p);
	T_MVMM(&p, RUN_MS, "cache", "clear", "--cache-dir", dir);
	cr_expect_eq(p.status, 0);
	cr_expect(strstr(p.out, "removed 2 entries"), "%s", p.out);
	t_proc_free(&p);
	cr_expect_eq(t_entries(dir, NULL, 0, NULL), 0);
	t_rm_rf(dir);
}

/* Copies src to dst (mode 0755) through a temporary name and a rename, as an upgrade does. */
static void t_copy(const char *src, const char *dst)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s.new' && chmod 755 '%s.new' && mv '%s.new' '%s'", src,
		 dst, dst, dst, dst);
	cr_assert(system(cmd) == 0, "%s", cmd);
}

/*
 * A dynamic program's template is cached under a key that takes in its libraries: a
 * second run maps it; once the library it found through $ORIGIN changes, the key misses
 * and the template is booted again with the new library.
 */
Test(cache, a_dynamic_template_is_keyed_by_its_libraries)
{
	char tmp[] = "/tmp/mvmm-cache-dyn-XXXXXX", prog[128], lib[128];
	struct t_proc p;

	t_cache_dir();
	cr_assert(mkdtemp(tmp));
	snprintf(prog, sizeof(prog), "%s/origin", tmp);
	snprintf(lib, sizeof(lib), "%s/lib", tmp);
	cr_assert_eq(mkdir(lib, 0755), 0);
	snprintf(lib, sizeof(lib), "%s/lib/libdep.so", tmp);
	t_copy("build/tests/dynamic/origin", prog);
	t_copy("build/tests/dynamic/lib/libdep.so", lib);
	for (int run = 0; run < 3; run++) {
		if (run == 2)
			t_copy("build/tests/dynamic/lib43/libdep.so", lib);
		T_MVMM(&p, RUN_MS, "run", "--cache-dir", dir, "--template", "--ready-on=stdin",
		       "--count", "1", prog, "read");
		cr_assert_eq(p.status, 0, "run %d: status %d, stderr: %s", run, p.status, p.err);
		/* the template prints before its ready point: only when it is booted */
		if (run == 0)
			cr_expect(strstr(p.out, "dep says 42"), "run 0: %s", p.out);
		if (run == 1)
			cr_expect(!strstr(p.out, "dep says"), "run 1 booted again: %s", p.out);
		if (run == 2)
			cr_expect(strstr(p.out, "dep says 43"), "run 2: %s", p.out);
		cr_expect_eq(t_entries(dir, NULL, 0, NULL), run < 2 ? 1 : 2, "run %d", run);
		cr_expect_eq(t_hits(), run == 0 ? 0 : 1, "run %d", run);
		t_proc_free(&p);
	}
	t_rm_rf(tmp);
	t_rm_rf(dir);
}
