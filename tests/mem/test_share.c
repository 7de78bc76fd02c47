/* test_share.c: many instances over one sealed image: copy-on-write, isolation, fleets, stats. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "harness.h"
#include "load/image.h"
#include "mem/memstat.h"
#include "mvmm_abi.h"
#include "core/vm.h"
#include "guestabi/guest.h"

#define T_LIMIT_MS   30000  /* per run; the harness kills a run that goes past it */
#define T_FLEET_MS   150000 /* the 2,000-instance run (about 4 s plain, 13 s under ASan) */
#define WRITER	     T_TEST_GUEST("writer")
#define ISOLATE	     T_TEST_GUEST("isolate")
#define STATUS	     T_TEST_GUEST("status")
#define DENSITY	     T_GUEST("density")
#define WRITER_PAGES 64 /* tests/guests/writer.c */
#define DENSITY_PAGES 4096 /* density.elf's 16 MiB table */

static void expect_no_sanitizer(const struct t_proc *p)
{
	cr_expect(!strstr(p->err, "AddressSanitizer") && !strstr(p->err, "runtime error") &&
			  !strstr(p->err, "LeakSanitizer"),
		  "sanitizer report:\n%s", p->err);
}

/* ---- a tiny JSON field extractor: one flat object per line ------------------------------ */

#define MAX_OBJS 16

struct jlines {
	char *obj[MAX_OBJS]; /* the lines of the text that start with '{' (pointers into it) */
	int n;
};

/* Splits text (modified in place) into lines; keeps those that look like JSON objects. */
static void j_split(char *text, struct jlines *j)
{
	char *save = NULL, *line;

	memset(j, 0, sizeof(*j));
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (line[0] != '{')
			continue;
		cr_assert(j->n < MAX_OBJS, "too many JSON lines");
		cr_assert(line[strlen(line) - 1] == '}', "unterminated object: %s", line);
		j->obj[j->n++] = line;
	}
}

/* Where key's value starts in obj, or a test failure. */
static const char *j_find(const char *obj, const char *key)
{
	char pat[128];
	const char *at;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	at = strstr(obj, pat);
	cr_assert(at, "no \"%s\" in %s", key, obj);
	return at + strlen(pat);
}

static uint64_t j_u64(const char *obj, const char *key)
{
	const char *v = j_find(obj, key);
	char *end;
	unsigned long long n;

	cr_assert(*v >= '0' && *v <= '9', "\"%s\" is not an unsigned number in %s", key, obj);
	n = strtoull(v, &end, 10);
	cr_assert(*end == ',' || *end == '}', "\"%s\" is not an integer in %s", key, obj);
	return n;
}

static double j_num(const char *obj, const char *key)
{
	const char *v = j_find(obj, key);
	char *end;
	double d = strtod(v, &end);

	cr_assert(end != v && (*end == ',' || *end == '}'), "\"%s\" is not a number in %s", key,
		  obj);
	return d;
}

static int j_bool(const char *obj, const char *key)
{
	const char *v = j_find(obj, key);

	if (strncmp(v, "true", 4) == 0 && (v[4] == ',' || v[4] == '}'))
		return 1;
	cr_assert(strncmp(v, "false", 5) == 0 && (v[5] == ',' || v[5] == '}'),
		  "\"%s\" is not a boolean in %s", key, obj);
	return 0;
}

static int j_has(const char *obj, const char *key)
{
	char pat[128];

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	return strstr(obj, pat) != NULL;
}

/* Runs argv (mvmm's arguments); expects status 0 and count instance objects plus a summary. */
static void stats_run(char *const args[], unsigned count, struct t_proc *p, struct jlines *j)
{
	char *argv[32] = { (char *)t_mvmm_bin() };
	unsigned i;

	for (i = 0; args[i]; i++) {
		cr_assert(i + 2 < sizeof(argv) / sizeof(argv[0]));
		argv[i + 1] = args[i];
	}
	t_run(argv, T_LIMIT_MS, p);
	cr_assert(!p->timed_out, "timed out; stderr:\n%s", p->err);
	cr_assert_eq(p->status, 0, "status %d, stderr:\n%s", p->status, p->err);
	expect_no_sanitizer(p);
	j_split(p->err, j); /* p->err is cut into lines from here on */
	cr_assert_eq(j->n, (int)count + 1, "%d JSON objects, expected %u + 1", j->n, count);
	for (i = 0; i < count; i++) {
		cr_assert(!j_has(j->obj[i], "summary"), "object %u: %s", i, j->obj[i]);
		cr_assert_eq(j_u64(j->obj[i], "instance"), i, "objects out of order: %s",
			     j->obj[i]);
		cr_expect(strstr(j->obj[i], "\"end\":\"exit\""), "%s", j->obj[i]);
		cr_expect_eq(j_num(j->obj[i], "status"), 0, "%s", j->obj[i]);
		cr_expect(j_bool(j->obj[i], "measured"), "%s", j->obj[i]);
	}
	cr_assert(j_bool(j->obj[count], "summary"), "last object: %s", j->obj[count]);
	cr_assert_eq(j_u64(j->obj[count], "instances"), count, "%s", j->obj[count]);
}

/* ---- 1. exactly K diverged pages --------------------------------------------------------- */

Test(share, diverged_pages_exactly_k)
{
	static const unsigned ks[] = { 0, 1, 7, 33, WRITER_PAGES };
	uint64_t priv[5], zero_priv[5], data_pages = 0;
	size_t i;

	for (i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
		char karg[16];
		char *args[] = { "run", "--hold", "--stats=json", WRITER, karg, NULL };
		struct t_proc p;
		struct jlines j;
		const char *in, *sum;
		uint64_t untouched, shared;

		snprintf(karg, sizeof(karg), "%u", ks[i]);
		stats_run(args, 1, &p, &j);
		in = j.obj[0];
		sum = j.obj[1];
		cr_assert(j_bool(sum, "held"), "%s", sum);
		priv[i] = j_u64(in, "image_private_pages");
		zero_priv[i] = j_u64(in, "zero_private_pages");
		untouched = j_u64(in, "image_untouched_pages");
		shared = j_u64(in, "image_shared_pages");
		data_pages = j_u64(sum, "image_data_pages");
		cr_expect(data_pages >= WRITER_PAGES, "image_data_pages %lu", data_pages);
		cr_expect_eq(untouched + shared + priv[i], data_pages, "K=%u: %s", ks[i], in);
		cr_expect_eq(j_u64(sum, "image_private_pages"), priv[i], "%s", sum);
		cr_expect_eq(j_u64(in, "private_kib"), (priv[i] + zero_priv[i]) * 4, "%s", in);
		cr_log_info("writer K=%u: image_private_pages %lu, zero_private_pages %lu, "
			    "image_shared_pages %lu, image_data_pages %lu",
			    ks[i], priv[i], zero_priv[i], shared, data_pages);
		t_proc_free(&p);
	}
	/* musl's own writes (its .data) are a constant; every K adds exactly K copies. */
	cr_expect(priv[0] <= 4, "libc diverges %lu image pages before main's writes", priv[0]);
	for (i = 1; i < sizeof(ks) / sizeof(ks[0]); i++) {
		cr_expect_eq(priv[i], priv[0] + ks[i],
			     "K=%u: image_private_pages %lu, expected %lu + %u", ks[i], priv[i],
			     priv[0], ks[i]);
		/* the stack's top is random within 64 KiB: its pages may be one more or fewer */
		cr_expect(zero_priv[i] + 1 >= zero_priv[0] && zero_priv[i] <= zero_priv[0] + 1,
			  "K=%u: zero_private_pages %lu vs %lu", ks[i], zero_priv[i], zero_priv[0]);
	}
}

/* ---- 2. isolation ------------------------------------------------------------------------ */

Test(share, write_is_private_to_its_instance)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "2", "--hold", ISOLATE);
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, "[0] page MARKED-0--------\n"), "stdout:\n%s", p.out);
	cr_expect(strstr(p.out, "[1] page ORIGINAL-CONTENT\n"), "stdout:\n%s", p.out);
	cr_expect_eq(p.out_len, 2 * strlen("[0] page ORIGINAL-CONTENT\n"), "stdout:\n%s", p.out);
	expect_no_sanitizer(&p);
	t_proc_free(&p);

	/* A writer in the middle: neither neighbour sees its page. */
	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "3", "--hold", ISOLATE, "1");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, "[0] page ORIGINAL-CONTENT\n"), "stdout:\n%s", p.out);
	cr_expect(strstr(p.out, "[1] page MARKED-1--------\n"), "stdout:\n%s", p.out);
	cr_expect(strstr(p.out, "[2] page ORIGINAL-CONTENT\n"), "stdout:\n%s", p.out);
	t_proc_free(&p);
}

Test(share, image_memfd_is_sealed)
{
	struct image *img = image_load_file(WRITER, MVMM_MEM_MIN);
	char byte = 1;
	void *m;
	int seals;

	cr_assert(img, "%s", mvmm_errmsg());
	seals = fcntl(img->memfd, F_GET_SEALS);
	cr_assert(seals >= 0, "F_GET_SEALS: %s", strerror(errno));
	cr_expect_eq(seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE),
		     F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE, "seals 0x%x", seals);

	errno = 0;
	cr_expect_eq(pwrite(img->memfd, &byte, 1, MVMM_IMAGE_BASE), -1, "pwrite succeeded");
	cr_expect_eq(errno, EPERM, "pwrite: %s", strerror(errno));
	errno = 0;
	cr_expect_eq(ftruncate(img->memfd, (off_t)img->mem_size * 2), -1, "grew");
	cr_expect_eq(errno, EPERM, "ftruncate: %s", strerror(errno));

	errno = 0;
	m = mmap(NULL, img->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, img->memfd, 0);
	cr_expect_eq(m, MAP_FAILED, "a writable shared mapping of the image was allowed");
	cr_expect_eq(errno, EPERM, "mmap: %s", strerror(errno));
	if (m != MAP_FAILED)
		munmap(m, img->mem_size);

	/* What the instances do: a private writable mapping, whose writes stay private. */
	m = mmap(NULL, img->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE, img->memfd, 0);
	cr_assert(m != MAP_FAILED, "mmap MAP_PRIVATE: %s", strerror(errno));
	((volatile char *)m)[MVMM_IMAGE_BASE] ^= 0xff;
	cr_assert_eq(pread(img->memfd, &byte, 1, MVMM_IMAGE_BASE), 1);
	cr_expect_eq((unsigned char)byte,
		     (unsigned char)(((volatile char *)m)[MVMM_IMAGE_BASE] ^ 0xff),
		     "a private write reached the memfd");
	munmap(m, img->mem_size);
	image_put(img);
	t_lsan_check();
}

/* The whole image memfd's content (holes read as zeros). */
static uint8_t *read_memfd(const struct image *img)
{
	uint8_t *buf = malloc(img->mem_size);
	uint64_t done = 0;

	cr_assert(buf);
	while (done < img->mem_size) {
		ssize_t n = pread(img->memfd, buf + done, img->mem_size - done, (off_t)done);

		cr_assert(n > 0, "pread memfd: %s", strerror(errno));
		done += (uint64_t)n;
	}
	return buf;
}

/* Runs writer K in this process; returns its exit status; *st is taken before teardown. */
static int run_writer(struct kvm_sys *kvm, struct image *img, const char *k, int no_share,
		      struct memstat_vm *st)
{
	const char *argv[] = { "writer", k, NULL };
	struct vm_config cfg = { .argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1,
				 .timeout_ns = 20000000000ull, .no_share = no_share };
	struct vm_result res = { 0 };
	struct vm *vm = vm_create(kvm, img, &cfg);
	int status;

	cr_assert(vm, "%s", mvmm_errmsg());
	cr_assert_eq(vm_run(vm, &res), 0, "%s", mvmm_errmsg());
	cr_assert_eq(res.end, VM_END_EXIT, "end %d (%s)", res.end, res.message);
	status = res.status;
	cr_assert_eq(memstat_vm_read(vm, st), 0, "%s", mvmm_errmsg());
	vm_result_clear(&res);
	vm_destroy(vm);
	return status;
}

Test(share, guest_writes_leave_the_image_unchanged)
{
	struct kvm_sys kvm = { .fd = -1 };
	struct image *img;
	struct memstat_vm st;
	uint8_t *before, *after;
	uint64_t page, table_pages = 0;
	int vm_no;

	t_kvm_open(&kvm);
	img = image_load_file(WRITER, MVMM_MEM_MIN);
	cr_assert(img, "%s", mvmm_errmsg());
	before = read_memfd(img);
	/* The table is in the image: 64 pages wholly of 0x5a. */
	for (page = 0; page < img->mem_size / MVMM_PAGE_SIZE; page++) {
		const uint8_t *pg = before + page * MVMM_PAGE_SIZE;
		size_t i = 0;

		while (i < MVMM_PAGE_SIZE && pg[i] == 0x5a)
			i++;
		if (i == MVMM_PAGE_SIZE) {
			table_pages++;
			cr_expect(image_page_has_data(img, page), "table page %lu is a hole", page);
		}
	}
	cr_assert_eq(table_pages, WRITER_PAGES, "%lu pages of 0x5a in the image", table_pages);

	/* Two VMs in turn write every table page (exit 0: they read their own writes back). */
	for (vm_no = 0; vm_no < 2; vm_no++) {
		cr_expect_eq(run_writer(&kvm, img, "64", 0, &st), 0, "writer 64 failed");
		cr_expect(st.image_private >= WRITER_PAGES, "only %lu image pages copied",
			  st.image_private);
	}
	after = read_memfd(img);
	cr_expect(memcmp(before, after, img->mem_size) == 0, "the image memfd changed");
	/* A later VM sees the original table (writer 0 exits 2 if any page is not 0x5a). */
	cr_expect_eq(run_writer(&kvm, img, "0", 0, &st), 0, "a later VM saw another VM's write");
	/* --no-share: a private copy of everything, nothing from the image's pages. */
	cr_expect_eq(run_writer(&kvm, img, "7", 1, &st), 0, "writer 7 --no-share failed");
	cr_expect_eq(st.image_shared, 0, "--no-share: %lu shared image pages", st.image_shared);
	cr_expect_eq(st.image_private, img->data_pages, "--no-share: %lu of %lu pages private",
		     st.image_private, img->data_pages);
	free(after);
	after = read_memfd(img);
	cr_expect(memcmp(before, after, img->mem_size) == 0, "the image memfd changed");
	free(before);
	free(after);
	image_put(img);
	kvm_sys_close(&kvm);
	t_lsan_check();
}

/* ---- 3. a fleet of 2,000 ----------------------------------------------------------------- */

/* 2,000 hellos, all in one process (per = "0") or spread over worker processes. */
static void check_two_thousand_hellos(char *per)
{
	enum { N = 2000 };
	static const char text[] = " " T_HELLO_TEXT;
	unsigned char *seen = calloc(N, 1);
	struct t_proc p;
	char *line, *save = NULL;
	unsigned lines = 0, distinct = 0;

	cr_assert(seen);
	T_MVMM(&p, T_FLEET_MS, "run", "--per-process", per, "--count", "2000", T_GUEST("hello"));
	cr_assert(!p.timed_out, "timed out after %.1f s", p.secs);
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%.2000s", p.status, p.err);
	cr_expect_eq(p.err_len, 0, "stderr:\n%.2000s", p.err);
	cr_assert(p.out_len > 0 && p.out[p.out_len - 1] == '\n', "stdout does not end a line");
	for (line = strtok_r(p.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *end;
		unsigned long i;

		lines++;
		cr_assert(line[0] == '[', "line %u: '%s'", lines, line);
		i = strtoul(line + 1, &end, 10);
		cr_assert(end != line + 1 && *end == ']' && i < N, "line %u: '%s'", lines, line);
		cr_assert_str_eq(end + 1, text, "line %u: '%s'", lines, line);
		if (!seen[i]++)
			distinct++;
		cr_assert_eq(seen[i], 1, "instance %lu printed twice", i);
	}
	cr_expect_eq(lines, N, "%u lines", lines);
	cr_expect_eq(distinct, N, "%u distinct instances", distinct);
	cr_log_info("2,000 hellos in %.2f s", p.secs);
	free(seen);
	t_proc_free(&p);
}

Test(share, two_thousand_hellos_in_one_process, .timeout = 200)
{
	check_two_thousand_hellos("0");
}

Test(share, two_thousand_hellos_over_worker_processes, .timeout = 200)
{
	check_two_thousand_hellos("250");
}

/* ---- 4. output prefixes and exit statuses ------------------------------------------------ */

Test(share, status_is_first_nonzero_by_instance_order)
{
	struct t_proc p;
	unsigned i;

	/* Instance 4 exits 9 at once; instance 2 exits 7 300 ms later: 7 wins, by order. */
	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "6", STATUS, "2=7@300", "4=9");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 7, "status %d, stderr:\n%s", p.status, p.err);
	for (i = 0; i < 6; i++) {
		char want[32];

		snprintf(want, sizeof(want), "[%u] line %u\n", i, i);
		cr_expect(strstr(p.out, want), "no '%s' in stdout:\n%s", want, p.out);
		snprintf(want, sizeof(want), "[%u] err %u\n", i, i);
		cr_expect(strstr(p.err, want), "no '%s' in stderr:\n%s", want, p.err);
	}
	expect_no_sanitizer(&p);
	t_proc_free(&p);

	/* The other way round: the lower instance's status wins though it ended first. */
	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "6", STATUS, "1=3", "5=200@200");
	cr_expect_eq(p.status, 3, "status %d, stderr:\n%s", p.status, p.err);
	t_proc_free(&p);

	/* Only the last instance fails. */
	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "6", STATUS, "5=255");
	cr_expect_eq(p.status, 255, "status %d, stderr:\n%s", p.status, p.err);
	t_proc_free(&p);

	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "6", STATUS);
	cr_expect_eq(p.status, 0, "all zero gave %d, stderr:\n%s", p.status, p.err);
	cr_expect_eq(p.out_len, 6 * strlen("[0] line 0\n"), "stdout:\n%s", p.out);
	t_proc_free(&p);
}

Test(share, one_instance_is_not_prefixed)
{
	struct t_proc p;

	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "1", STATUS, "0=4");
	cr_expect_eq(p.status, 4, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect_str_eq(p.out, "line 0\n");
	cr_expect_str_eq(p.err, "err 0\n");
	t_proc_free(&p);
}

Test(share, unterminated_line_still_prefixed)
{
	struct t_proc p;
	unsigned i;

	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "3", STATUS, "nonl");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	for (i = 0; i < 3; i++) {
		char want[32];

		snprintf(want, sizeof(want), "[%u] partial %u\n", i, i);
		cr_expect(strstr(p.out, want), "no '%s' in stdout:\n%s", want, p.out);
	}
	cr_expect_eq(p.out_len, 3 * (strlen("[0] line 0\n") + strlen("[0] partial 0\n")),
		     "stdout:\n%s", p.out);
	expect_no_sanitizer(&p);
	t_proc_free(&p);
}

static char *read_text(const char *path)
{
	size_t len;
	char *text = (char *)t_read_file(path, &len); /* allocates len + 1 bytes */

	text[len] = '\0';
	return text;
}

Test(share, output_dir_files_unprefixed)
{
	char dir[] = "/tmp/mvmm-share-XXXXXX";
	struct t_proc p;
	unsigned i;

	cr_assert(mkdtemp(dir));
	T_MVMM(&p, T_LIMIT_MS, "run", "--count", "3", "--output-dir", dir, STATUS, "1=5", "nonl");
	cr_assert(!p.timed_out);
	cr_expect_eq(p.status, 5, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect_eq(p.out_len, 0, "stdout:\n%s", p.out);
	cr_expect_eq(p.err_len, 0, "stderr:\n%s", p.err);
	for (i = 0; i < 3; i++) {
		char path[256], want[64], *got;

		snprintf(path, sizeof(path), "%s/%u.out", dir, i);
		got = read_text(path);
		snprintf(want, sizeof(want), "line %u\npartial %u", i, i);
		cr_expect_str_eq(got, want, "%s", path);
		free(got);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%u.err", dir, i);
		got = read_text(path);
		snprintf(want, sizeof(want), "err %u\n", i);
		cr_expect_str_eq(got, want, "%s", path);
		free(got);
		unlink(path);
	}
	cr_expect_eq(rmdir(dir), 0, "%s holds more files: %s", dir, strerror(errno));
	expect_no_sanitizer(&p);
	t_proc_free(&p);
}

/* ---- 5. --stats=json --------------------------------------------------------------------- */

Test(share, stats_json_totals_add_up)
{
	char *args[] = { "run", "--count", "5", "--hold", "--stats=json", DENSITY, NULL };
	uint64_t shared = 0, priv = 0, zero_priv = 0, private_kib = 0, touched = 0, data_pages;
	struct t_proc p;
	struct jlines j;
	const char *sum;
	double per_inst;
	unsigned i;

	stats_run(args, 5, &p, &j);
	sum = j.obj[5];
	data_pages = j_u64(sum, "image_data_pages");
	cr_expect(data_pages >= DENSITY_PAGES, "image_data_pages %lu", data_pages);
	for (i = 0; i < 5; i++) {
		const char *in = j.obj[i];
		uint64_t s = j_u64(in, "image_shared_pages"), pv = j_u64(in, "image_private_pages");
		uint64_t zp = j_u64(in, "zero_private_pages");

		cr_expect_eq(j_u64(in, "image_untouched_pages") + s + pv, data_pages,
			     "instance %u: %s", i, in);
		cr_expect(s >= DENSITY_PAGES, "instance %u shares only %lu pages", i, s);
		cr_expect(zp >= 16, "instance %u: its 64 KiB of heap are not private: %s", i, in);
		cr_expect_eq(j_u64(in, "private_kib"), (pv + zp) * 4, "%s", in);
		(void)j_u64(in, "zero_shared_pages");
		shared += s;
		priv += pv;
		zero_priv += zp;
		private_kib += j_u64(in, "private_kib");
		touched += s + pv + zp;
	}
	cr_expect_eq(j_u64(sum, "image_shared_pages"), shared, "%s", sum);
	cr_expect_eq(j_u64(sum, "image_private_pages"), priv, "%s", sum);
	cr_expect_eq(j_u64(sum, "zero_private_pages"), zero_priv, "%s", sum);
	cr_expect(j_bool(sum, "held"), "%s", sum);
	cr_expect(j_bool(sum, "share"), "%s", sum);
	cr_expect_eq(j_u64(sum, "guest_mem_kib"), MVMM_MEM_DEFAULT / 1024, "%s", sum);
	cr_expect(j_num(sum, "start_all_ms") > 0, "%s", sum);
	cr_expect(j_num(sum, "total_ms") >= j_num(sum, "start_all_ms"), "%s", sum);
	/* Process figures: every private guest page is dirty in this process, every touched
	 * page is resident, and sharing makes PSS well below RSS. */
	cr_expect(j_u64(sum, "private_dirty_kib") >= private_kib, "%s", sum);
	cr_expect(j_u64(sum, "rss_kib") >= touched * 4, "%s", sum);
	cr_expect(j_u64(sum, "pss_kib") < j_u64(sum, "rss_kib") / 2, "%s", sum);
	/* Its sign is checked on the --no-share run below, where the signal is large. */
	/* PSS (user memory, shared pages split) plus the kernel's growth (KVM), over N */
	per_inst = j_num(sum, "host_kib_per_instance");
	double want = j_num(sum, "pss_kib") + j_num(sum, "kernel_growth_kib");
	cr_expect(per_inst * 5 > want - 5 && per_inst * 5 < want + 5,
		  "host_kib_per_instance is not (pss_kib + kernel_growth_kib) / instances: %s", sum);
	t_proc_free(&p);
}

/*
 * --no-share: every instance holds a private copy of all image pages. Five of them hold
 * 80 MiB of PSS, far above the noise in the kernel-growth part of host_kib_per_instance
 * (system-wide, so other processes move it by a few MiB), whose sign is checked on this
 * run, and on up to three tries.
 */
Test(share, stats_json_no_share)
{
	char *args[] = { "run", "--count", "5", "--hold", "--no-share", "--stats=json", DENSITY,
			 NULL };
	double per_inst = 0;
	int attempt;
	unsigned i;

	for (attempt = 0; attempt < 3 && per_inst <= 0; attempt++) {
		struct t_proc p;
		struct jlines j;
		const char *sum;

		stats_run(args, 5, &p, &j);
		sum = j.obj[5];
		for (i = 0; i < 5; i++) {
			uint64_t pv = j_u64(j.obj[i], "image_private_pages");

			cr_expect_eq(j_u64(j.obj[i], "image_shared_pages"), 0, "%s", j.obj[i]);
			cr_expect_eq(j_u64(j.obj[i], "image_untouched_pages"), 0, "%s", j.obj[i]);
			cr_expect(pv >= DENSITY_PAGES, "%s", j.obj[i]);
			cr_expect_eq(pv, j_u64(sum, "image_data_pages"), "%s", j.obj[i]);
		}
		cr_expect(!j_bool(sum, "share"), "%s", sum);
		cr_expect(j_bool(sum, "held"), "%s", sum);
		cr_expect_eq(j_u64(sum, "image_shared_pages"), 0, "%s", sum);
		cr_expect(j_u64(sum, "image_private_pages") >= 5 * DENSITY_PAGES, "%s", sum);
		cr_expect(j_u64(sum, "private_dirty_kib") >= 5 * DENSITY_PAGES * 4, "%s", sum);
		per_inst = j_num(sum, "host_kib_per_instance");
		cr_log_info("--no-share x5: %s", sum);
		t_proc_free(&p);
	}
	cr_expect(per_inst > 0, "host_kib_per_instance %.1f after %d runs", per_inst, attempt);
}
