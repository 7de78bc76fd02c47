/*
 * test_huge.c: guests on 2 MiB pages, for each backing: shmem transparent
 * huge pages and hugetlbfs. These tests change host settings
 * (transparent_hugepage/shmem_enabled, vm.nr_hugepages) as root and put
 * them back; make runs this suite alone, after every other, one test at a
 * time (tests/tests.mk: test-host).
 *
 * A first touch is counted with KVM's own statistics (the vCPU's pf_taken,
 * the VM's pages_2m), not timed.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <string.h>

#include "clone/template.h"
#include "core/hugepage.h"
#include "core/kvmstat.h"
#include "guestabi/guest.h"
#include "harness.h"
#include "load/image.h"
#include "mem/memstat.h"

#define SHMEM_ENABLED "/sys/kernel/mm/transparent_hugepage/shmem_enabled"
#define NR_HUGEPAGES  "/proc/sys/vm/nr_hugepages"
#define GUEST	      T_TEST_GUEST("hugeread")
#define TABLE_PAGES   2048u /* hugeread's 8 MiB table */
#define HUGE_CHUNKS   5u    /* the table's 4 chunks and the one of its code */

static char saved_shmem[32];
static char saved_nr[32];

/* The policy in brackets: "always [never] ..." gives "never". */
static void read_setting(const char *path, char *out, size_t size)
{
	char buf[256] = "", *a, *b;
	size_t n;
	FILE *f = fopen(path, "re");

	cr_assert(f, "%s: %s", path, strerror(errno));
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	a = strchr(buf, '[');
	b = a ? strchr(a, ']') : NULL;
	if (a && b) {
		*b = '\0';
		snprintf(out, size, "%s", a + 1);
	} else {
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(out, size, "%s", buf);
	}
}

static void write_setting(const char *path, const char *value)
{
	FILE *f = fopen(path, "we");

	cr_assert(f, "%s: %s", path, strerror(errno));
	cr_assert(fputs(value, f) >= 0 && fclose(f) == 0, "writing %s to %s", value, path);
}

static void host_save(void)
{
	if (geteuid() != 0)
		cr_skip_test("changing %s and %s needs root", SHMEM_ENABLED, NR_HUGEPAGES);
	read_setting(SHMEM_ENABLED, saved_shmem, sizeof(saved_shmem));
	read_setting(NR_HUGEPAGES, saved_nr, sizeof(saved_nr));
}

static void host_restore(void)
{
	if (geteuid() != 0)
		return;
	write_setting(SHMEM_ENABLED, saved_shmem);
	write_setting(NR_HUGEPAGES, saved_nr);
}

/* Offers THP (policy "advise") or hugetlbfs pages (n reserved), or neither. */
static void host_offer(const char *shmem, unsigned hugetlb_pages)
{
	char n[32];

	write_setting(SHMEM_ENABLED, shmem);
	snprintf(n, sizeof(n), "%u", hugetlb_pages);
	write_setting(NR_HUGEPAGES, n);
	if (hugetlb_pages)
		cr_assert(huge_host_free() >= HUGE_CHUNKS,
			  "the kernel reserved too few huge pages (%lu free)",
			  (unsigned long)huge_host_free());
}

TestSuite(huge, .init = host_save, .fini = host_restore, .timeout = 120);

struct run_out {
	struct vm_result res;
	uint64_t faults;   /* the vCPU's pf_taken */
	uint64_t pages_2m; /* the VM's shadow entries mapping 2 MiB */
	struct memstat_vm mem;
};

static void run_counted(struct kvm_sys *kvm, struct vm *vm, struct run_out *o)
{
	(void)kvm;
	cr_assert_eq(vm_run(vm, &o->res), 0, "%s", mvmm_errmsg());
	cr_assert_eq(kvm_stat_read(vm->vcpu_fd, "pf_taken", &o->faults), 0, "%s", mvmm_errmsg());
	cr_assert_eq(kvm_stat_read(vm->fd, "pages_2m", &o->pages_2m), 0, "%s", mvmm_errmsg());
	cr_assert_eq(memstat_vm_read(vm, &o->mem), 0, "%s", mvmm_errmsg());
}

static struct image *load(enum huge_mode mode)
{
	struct image_params p = { .mem_size = 64ull << 20, .huge = mode };
	struct image *img = image_load_file_with(GUEST, &p);

	cr_assert(img, "%s", mvmm_errmsg());
	return img;
}

static void run_mode(struct kvm_sys *kvm, struct image *img, const char *mode, struct run_out *o)
{
	const char *argv[] = { "hugeread", mode, NULL };
	struct vm_config cfg = { .argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1,
				 .timeout_ns = 20000000000ull };
	struct vm *vm = vm_create(kvm, img, &cfg);

	cr_assert(vm, "%s", mvmm_errmsg());
	memset(o, 0, sizeof(*o));
	run_counted(kvm, vm, o);
	vm_destroy(vm);
}

/* Reads of the huge-mapped table: one fault per 2 MiB; writes: the same 4 KiB copies as before. */
static void expect_huge_reads(enum huge_mode mode, enum huge_backing backing)
{
	struct kvm_sys kvm = { .fd = -1 };
	struct image *off, *huge;
	struct run_out a, b;

	t_kvm_open(&kvm);
	off = load(HUGE_MODE_OFF);
	huge = load(mode);
	cr_assert_eq(huge->huge.backing, backing, "backing %s", huge_backing_name(huge->huge.backing));
	cr_assert_eq(huge->huge.nchunks, HUGE_CHUNKS);
	cr_assert_eq(huge->huge.host_huge, HUGE_CHUNKS, "only %lu chunks are host huge pages",
		     (unsigned long)huge->huge.host_huge);
	cr_assert_eq(off->huge.nchunks, 0);

	run_mode(&kvm, off, "read", &a);
	run_mode(&kvm, huge, "read", &b);
	cr_assert_eq(a.res.end, VM_END_EXIT);
	cr_assert_eq(a.res.status, 0);
	cr_assert_eq(b.res.end, VM_END_EXIT, "%s", b.res.message);
	cr_assert_eq(b.res.status, 0);
	/* 4 KiB: a fault for each of the table's 2,048 pages; huge: a handful for all of it. */
	cr_assert_geq(a.faults, TABLE_PAGES, "4 KiB run took %lu faults", (unsigned long)a.faults);
	cr_assert_leq(b.faults + TABLE_PAGES - 64, a.faults,
		      "huge run took %lu faults, the 4 KiB one %lu", (unsigned long)b.faults,
		      (unsigned long)a.faults);
	cr_assert_geq(b.pages_2m, 4, "KVM mapped %lu 2 MiB pages", (unsigned long)b.pages_2m);
	cr_assert_eq(a.pages_2m, 0);
	/*
	 * Writes stay 4 KiB copy-on-write: exactly the private pages of the 4 KiB run (the
	 * stack's top is random within 64 KiB at each start: its pages may be one more or fewer).
	 */
	cr_assert_eq(b.mem.image_private, a.mem.image_private);
	cr_assert(b.mem.zero_private + 1 >= a.mem.zero_private &&
			  b.mem.zero_private <= a.mem.zero_private + 1,
		  "zero_private_pages %lu against %lu", (unsigned long)b.mem.zero_private,
		  (unsigned long)a.mem.zero_private);
	cr_assert_geq(b.mem.image_private + b.mem.zero_private, 16);
	image_put(off);
	image_put(huge);
	kvm_sys_close(&kvm);
}

Test(huge, thp_maps_read_only_program_memory_with_one_fault_per_2_mib)
{
	host_offer("advise", 0);
	expect_huge_reads(HUGE_MODE_THP, HUGE_BACKING_THP);
}

Test(huge, hugetlbfs_maps_read_only_program_memory_with_one_fault_per_2_mib)
{
	host_offer("never", 16);
	expect_huge_reads(HUGE_MODE_HUGETLB, HUGE_BACKING_HUGETLB);
}

Test(huge, auto_takes_thp_then_hugetlbfs_then_4_kib)
{
	struct image *img;

	host_offer("advise", 16);
	img = load(HUGE_MODE_AUTO);
	cr_assert_eq(img->huge.backing, HUGE_BACKING_THP);
	image_put(img);
	host_offer("never", 16);
	img = load(HUGE_MODE_AUTO);
	cr_assert_eq(img->huge.backing, HUGE_BACKING_HUGETLB);
	image_put(img);
	host_offer("never", 0);
	img = load(HUGE_MODE_AUTO);
	cr_assert_eq(img->huge.backing, HUGE_BACKING_NONE);
	cr_assert_eq(img->huge.nchunks, 0, "4 KiB tables when nothing backs 2 MiB pages");
	image_put(img);
}

/* A guest cannot write its huge pages, neither itself nor through a hypercall; others are unharmed. */
static void expect_read_only(enum huge_mode mode)
{
	struct kvm_sys kvm = { .fd = -1 };
	struct image *img;
	struct run_out o;

	t_kvm_open(&kvm);
	img = load(mode);
	cr_assert_neq(img->huge.backing, HUGE_BACKING_NONE);
	run_mode(&kvm, img, "store", &o);
	cr_assert_eq(o.res.end, VM_END_FAULT, "a store into read-only data ended as %d", o.res.end);
	cr_assert_eq(o.res.fault.vector, 14);
	cr_assert(o.res.fault.cr2 >= 0x400000 && o.res.fault.cr2 < 0xc00000, "cr2 0x%lx",
		  (unsigned long)o.res.fault.cr2);
	cr_assert_eq(o.res.fault.error_code & 3, 3, "not a write to a present page");
	vm_result_clear(&o.res);
	run_mode(&kvm, img, "hcwrite", &o);
	cr_assert_eq(o.res.end, VM_END_GUEST_ERROR);
	cr_assert(strstr(o.res.message, "read-only memory"), "%s", o.res.message);
	run_mode(&kvm, img, "read", &o);
	cr_assert_eq(o.res.end, VM_END_EXIT);
	cr_assert_eq(o.res.status, 0, "the next instance saw a changed table");
	image_put(img);
	kvm_sys_close(&kvm);
}

Test(huge, thp_pages_are_read_only_to_the_guest_and_its_hypercalls)
{
	host_offer("advise", 0);
	expect_read_only(HUGE_MODE_THP);
}

Test(huge, hugetlbfs_pages_are_read_only_to_the_guest_and_its_hypercalls)
{
	host_offer("never", 16);
	expect_read_only(HUGE_MODE_HUGETLB);
}

/* Clones of a template map the image's huge pages: their reads of the table cost no 4 KiB faults. */
static void expect_clones_huge(enum huge_mode mode)
{
	const char *argv[] = { "hugeread", "ready", NULL };
	struct vm_config cfg = { .argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1,
				 .timeout_ns = 20000000000ull };
	struct kvm_sys kvm = { .fd = -1 };
	struct template *tpl;
	struct image *img;
	struct run_out o;

	t_kvm_open(&kvm);
	img = load(mode);
	tpl = template_create(&kvm, img, &cfg, &o.res);
	cr_assert(tpl, "%s", mvmm_errmsg());
	for (int i = 0; i < 3; i++) {
		struct vm *vm = template_clone(tpl, &kvm, NULL, &cfg);

		cr_assert(vm, "%s", mvmm_errmsg());
		memset(&o, 0, sizeof(o));
		run_counted(&kvm, vm, &o);
		cr_assert_eq(o.res.end, VM_END_EXIT, "%s", o.res.message);
		cr_assert_eq(o.res.status, 0);
		cr_assert_lt(o.faults, TABLE_PAGES / 4, "clone %d took %lu faults", i,
			     (unsigned long)o.faults);
		vm_destroy(vm);
	}
	template_put(tpl);
	image_put(img);
	kvm_sys_close(&kvm);
}

Test(huge, thp_clones_read_the_template_through_huge_pages)
{
	host_offer("advise", 0);
	expect_clones_huge(HUGE_MODE_THP);
}

Test(huge, hugetlbfs_clones_read_the_template_through_huge_pages)
{
	host_offer("never", 16);
	expect_clones_huge(HUGE_MODE_HUGETLB);
}

Test(huge, without_huge_pages_auto_hints_once_and_explicit_modes_fail)
{
	struct t_proc p;

	host_offer("never", 0);
	setenv("MVMM_HINTS", "1", 1);
	T_MVMM(&p, 60000, "run", "--no-cache", "--count", "3", GUEST, "read");
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert(strstr(p.err, "hint: the host offers no huge pages"), "%s", p.err);
	cr_assert(strstr(p.err, SHMEM_ENABLED), "%s", p.err);
	cr_assert_null(strstr(strstr(p.err, "hint:") + 1, "hint:"), "hinted twice: %s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 60000, "run", "--no-cache", "--huge-pages=thp", GUEST, "read");
	cr_assert_eq(p.status, 125, "%s", p.err);
	cr_assert(strstr(p.err, "echo advise > " SHMEM_ENABLED), "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 60000, "run", "--no-cache", "--huge-pages=hugetlb", GUEST, "read");
	cr_assert_eq(p.status, 125, "%s", p.err);
	cr_assert(strstr(p.err, "nr_hugepages"), "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 60000, "run", "--no-cache", "--huge-pages=off", GUEST, "read");
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert_null(strstr(p.err, "hint"), "off asks for no hint: %s", p.err);
	t_proc_free(&p);
	setenv("MVMM_HINTS", "0", 1);
	T_MVMM(&p, 60000, "run", "--no-cache", GUEST, "read");
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert_null(strstr(p.err, "hint"), "MVMM_HINTS=0 silences the hint: %s", p.err);
	t_proc_free(&p);
}

/* The command's paths on each backing: stats, the cache (built, then mapped), templates, dedup. */
static void expect_cli_paths(const char *backing)
{
	char mode[32];
	struct t_proc p;

	snprintf(mode, sizeof(mode), "--huge-pages=%s", backing);
	T_MVMM(&p, 60000, "run", "--no-cache", mode, "--stats=json", "--count", "2", GUEST, "read");
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert(strstr(p.err, "\"huge_mapped_kib_per_instance\":10240"), "%s", p.err);
	snprintf(mode, sizeof(mode), "\"huge_pages\":\"%s\"", backing);
	cr_assert(strstr(p.err, mode), "%s", p.err);
	snprintf(mode, sizeof(mode), "--huge-pages=%s", backing);
	t_proc_free(&p);
	for (int pass = 0; pass < 2; pass++) {
		T_MVMM(&p, 60000, "run", mode, "--template", "--stats=json", "--count", "3", GUEST,
		       "ready");
		cr_assert_eq(p.status, 0, "pass %d: %s", pass, p.err);
		t_proc_free(&p);
	}
	{
		char dir[] = "/tmp/mvmm-huge-snap-XXXXXX", snap[64];

		cr_assert(mkdtemp(dir));
		snprintf(snap, sizeof(snap), "%s/s", dir);
		T_MVMM(&p, 60000, "run", "--no-cache", mode, "--template", "--snapshot", snap,
		       "--count", "0", GUEST, "ready");
		cr_assert_eq(p.status, 0, "%s", p.err);
		t_proc_free(&p);
		T_MVMM(&p, 60000, "run", "--from-snapshot", snap, mode, "--stats=json", "--count",
		       "2");
		cr_assert_eq(p.status, 0, "a snapshot of a guest on 2 MiB pages: %s", p.err);
		cr_assert(strstr(p.err, "\"huge_mapped_kib_per_instance\":10240"),
			  "restored on huge pages: %s", p.err);
		t_proc_free(&p);
		unlink(snap);
		rmdir(dir);
	}
	T_MVMM(&p, 60000, "run", "--no-cache", mode, "--no-share", "--count", "2", GUEST, "read");
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 60000, "run", "--no-cache", mode, "--dedup", "--count", "4", GUEST, "read");
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
}

Test(huge, thp_command_paths_work)
{
	host_offer("advise", 0);
	expect_cli_paths("thp");
}

Test(huge, hugetlbfs_command_paths_work)
{
	host_offer("never", 32);
	expect_cli_paths("hugetlb");
}
