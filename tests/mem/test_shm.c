/* test_shm.c: shared-memory regions: a ring between two guests, read-only enforcement, handle
 * validation, attach/detach leaving nothing behind, a peer's death waking its partner. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "harness.h"
#include "load/image.h"
#include "mvmm_abi.h"
#include "core/vm.h"
#include "guestabi/guest.h"
#include "mem/shm.h"

#define SHMTEST	 T_TEST_GUEST("shmtest")
#define PRODUCER T_GUEST("producer")
#define CONSUMER T_GUEST("consumer")

/* The hex checksum after "checksum " in the line starting with who; "" if none. */
static void checksum_of(const char *out, const char *who, char sum[17])
{
	const char *l = strstr(out, who), *c;

	sum[0] = '\0';
	if (l && (c = strstr(l, "checksum ")) != NULL && sscanf(c, "checksum %16s", sum) != 1)
		sum[0] = '\0';
}

/* ---- through the command --------------------------------------------------------------- */

Test(shm_cli, million_messages_intact, .timeout = 120)
{
	struct t_proc p;
	char a[17], b[17];

	T_MVMM(&p, 100000, "run", "--timeout", "90", "--shm", "ring:1M", PRODUCER, "1000000", "16",
	       "2048", "ring", "check", "7", "---", CONSUMER, "ring");
	cr_assert_eq(p.status, 0, "status %d\nstdout:\n%s\nstderr:\n%s", p.status, p.out, p.err);
	checksum_of(p.out, "[0] producer: sent 1000000 messages", a);
	checksum_of(p.out, "[1] consumer: received 1000000 messages", b);
	cr_assert(a[0] && strcmp(a, b) == 0, "checksums differ:\n%s", p.out);
	cr_assert(strstr(p.out, " 0 bad"), "%s", p.out);
	t_proc_free(&p);
}

Test(shm_cli, read_only_write_faults, .timeout = 60)
{
	struct t_proc p;

	T_MVMM(&p, 30000, "run", "--timeout", "20", "--shm", "ro:8K:ro", SHMTEST, "ro-write", "ro");
	cr_assert_eq(p.status, 123, "status %d\n%s\n%s", p.status, p.out, p.err);
	cr_expect(strstr(p.out, "read 0") && !strstr(p.out, "wrote") && !strstr(p.out, "FAIL"),
		  "%s", p.out);
	cr_expect(strstr(p.err, "page fault") && strstr(p.err, "protection violation") &&
			  strstr(p.err, "0x0000000040000000"),
		  "%s", p.err);
	t_proc_free(&p);
}

Test(shm_cli, every_bad_argument_is_an_error_code, .timeout = 60)
{
	struct t_proc p;

	T_MVMM(&p, 30000, "run", "--timeout", "20", "--shm", "a:8K", "--shm", "b:16K", SHMTEST,
	       "args", "a", "b");
	cr_assert_eq(p.status, 0, "status %d\n%s\n%s", p.status, p.out, p.err);
	cr_expect(strstr(p.out, "ok args"), "%s", p.out);
	t_proc_free(&p);
}

Test(shm_cli, detached_memory_faults, .timeout = 60)
{
	struct t_proc p;

	T_MVMM(&p, 30000, "run", "--timeout", "20", "--shm", "a:8K", SHMTEST, "after-detach", "a");
	cr_assert_eq(p.status, 123, "status %d\n%s\n%s", p.status, p.out, p.err);
	cr_expect(strstr(p.out, "detached") && strstr(p.err, "page not present"), "%s\n%s", p.out,
		  p.err);
	t_proc_free(&p);
}

/* The producer faults mid-stream: the consumer sleeping on the ring gets EPIPE, not a hang. */
Test(shm_cli, producer_death_wakes_consumer, .timeout = 60)
{
	struct t_proc p;

	T_MVMM(&p, 40000, "run", "--timeout", "30", "--shm", "ring:64K", SHMTEST, "producer-dies",
	       "ring", "50", "---", CONSUMER, "ring");
	cr_assert(!p.timed_out);
	cr_assert_eq(p.status, 123, "status %d\n%s\n%s", p.status, p.out, p.err);
	cr_expect(strstr(p.err, "[1] ") == NULL || !strstr(p.err, "timeout"), "%s", p.err);
	cr_expect(strstr(p.out, "[1] consumer: the producer vanished after 50 messages") ||
			  strstr(p.err, "[1] consumer: the producer vanished after 50 messages"),
		  "%s\n%s", p.out, p.err);
	cr_expect(p.secs < 20, "took %.1f s", p.secs);
	t_proc_free(&p);
}

/* The consumer leaves with the ring full: the producer sleeping for space gets EPIPE. */
Test(shm_cli, consumer_death_wakes_producer, .timeout = 60)
{
	struct t_proc p;

	T_MVMM(&p, 40000, "run", "--timeout", "30", "--shm", "ring:64K", PRODUCER, "100000", "16",
	       "1024", "---", SHMTEST, "consumer-dies", "ring", "10");
	cr_assert(!p.timed_out);
	cr_assert_eq(p.status, 3, "status %d\n%s\n%s", p.status, p.out, p.err);
	cr_expect(strstr(p.err, "[0] producer: message") && strstr(p.err, "error -11"), "%s",
		  p.err);
	cr_expect(strstr(p.out, "[1] leaving"), "%s", p.out);
	t_proc_free(&p);
}

/* A consumer that ends without ever attaching: the producer's wait on the full ring ends too. */
Test(shm_cli, a_peer_that_never_attached_wakes_producer, .timeout = 60)
{
	struct t_proc p;

	T_MVMM(&p, 40000, "run", "--timeout", "30", "--shm", "ring:16M", PRODUCER, "200000", "16",
	       "1024", "---", T_GUEST("hello"));
	cr_assert(!p.timed_out);
	cr_assert_eq(p.status, 3, "status %d\n%s\n%s", p.status, p.out, p.err);
	cr_expect(strstr(p.err, "[0] producer: message") && strstr(p.err, "error -11"), "%s",
		  p.err);
	cr_expect(!strstr(p.err, "timeout"), "the producer waited for its timeout:\n%s", p.err);
	t_proc_free(&p);
}

/* Groups: instance numbers continue, each group may carry its own --count; status in order. */
Test(shm_cli, groups_number_instances_in_order, .timeout = 60)
{
	struct t_proc p;

	T_MVMM(&p, 30000, "run", T_GUEST("exitcode"), "0", "---", "--count", "2", T_GUEST("args"),
	       "x", "---", T_GUEST("exitcode"), "7", "---", T_GUEST("exitcode"), "9");
	cr_assert_eq(p.status, 7, "status %d\n%s\n%s", p.status, p.out, p.err);
	cr_expect(strstr(p.out, "[1] x") && strstr(p.out, "[2] x") && !strstr(p.out, "[3] x"),
		  "%s", p.out);
	t_proc_free(&p);
}

Test(shm_cli, usage_errors, .timeout = 60)
{
	static const char *bad[][6] = {
		{ "run", "--shm", "nosize", "x.elf", NULL },
		{ "run", "--shm", "a:1000", "x.elf", NULL },
		{ "run", "--shm", "a:4K:rw", "x.elf", NULL },
		{ "run", "--shm", "a b:4K", "x.elf", NULL },
		{ "run", "--shm", "a:4K", "--shm", "a:8K", NULL },
		{ "run", T_GUEST("hello"), "---", NULL },
		{ "run", T_GUEST("hello"), "---", "--count", "0", NULL },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *argv[8] = { (char *)t_mvmm_bin() };
		struct t_proc p;
		int j;

		for (j = 0; bad[i][j]; j++)
			argv[j + 1] = (char *)bad[i][j];
		t_run(argv, 20000, &p);
		cr_expect_eq(p.status, 125, "case %zu: status %d\n%s", i, p.status, p.err);
		t_proc_free(&p);
	}
}

/* ---- in-process ------------------------------------------------------------------------ */

static struct kvm_sys kvm = { .fd = -1 };
static struct image *shmtest;

static void lib_setup(void)
{
	t_kvm_open(&kvm);
	shmtest = image_load_file(SHMTEST, 16u << 20);
	cr_assert(shmtest, "%s", mvmm_errmsg());
}

static void lib_teardown(void)
{
	image_put(shmtest);
	kvm_sys_close(&kvm);
}

TestSuite(shm_lib, .init = lib_setup, .fini = lib_teardown, .timeout = 60);

static void run_guest(const char *const *argv, const struct shm_grant *grants,
		      const struct vm_hooks *hooks, void *ctx, struct vm_result *res)
{
	struct vm_config cfg = { .argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1,
				 .timeout_ns = 20000000000ull, .shm = grants, .hooks = hooks,
				 .hooks_ctx = ctx };
	struct vm *vm = vm_create(&kvm, shmtest, &cfg);

	cr_assert(vm, "%s", mvmm_errmsg());
	cr_assert_eq(vm_run(vm, res), 0, "%s", mvmm_errmsg());
	vm_destroy(vm);
}

struct out_capture {
	char buf[4096];
	size_t len;
};

static int64_t capture_output(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len)
{
	struct out_capture *o = ctx;
	size_t n = len < sizeof(o->buf) - 1 - o->len ? (size_t)len : sizeof(o->buf) - 1 - o->len;

	(void)vm;
	(void)stream;
	memcpy(o->buf + o->len, buf, n);
	o->len += n;
	o->buf[o->len] = '\0';
	return (int64_t)len;
}

/* A destroyed region's handle resolves nowhere, its grant finds nothing; the region is freed. */
Test(shm_lib, destroyed_handle_is_refused)
{
	static const struct vm_hooks hooks = { .output = capture_output };
	unsigned live = shm_live_regions();
	struct shm_region *r = shm_region_create(8192);
	struct shm_grant grants[2] = { { "gone", { { 0, 0 } } }, { NULL, { { 0, 0 } } } };
	struct out_capture out = { .len = 0 };
	struct vm_result res;
	char h0[17], h1[17];

	cr_assert(r, "%s", mvmm_errmsg());
	cr_assert_eq(shm_live_regions(), live + 1);
	shm_region_handle(r, 0, &grants[0].handle);
	cr_assert(grants[0].handle.w[0] || grants[0].handle.w[1]);
	snprintf(h0, sizeof(h0), "%016lx", (unsigned long)grants[0].handle.w[0]);
	snprintf(h1, sizeof(h1), "%016lx", (unsigned long)grants[0].handle.w[1]);
	shm_region_destroy(r);
	cr_assert_eq(shm_live_regions(), live);
	{
		const char *argv[] = { "shmtest", "handle", h0, h1, NULL };

		run_guest(argv, grants, &hooks, &out, &res);
		cr_expect_eq(res.end, VM_END_EXIT, "end %d (%s)", res.end, res.message);
		cr_expect_eq(res.status, 0, "%s", out.buf);
		cr_expect(strstr(out.buf, "ok handle"), "%s", out.buf);
		vm_result_clear(&res);
	}
	{
		const char *argv[] = { "shmtest", "ro-write", "gone", NULL };

		out.len = 0;
		run_guest(argv, grants, &hooks, &out, &res);
		cr_expect_eq(res.end, VM_END_EXIT);
		cr_expect_eq(res.status, 2, "lookup of a destroyed region: %s", out.buf);
		cr_expect(strstr(out.buf, "lookup gone: -5"), "%s", out.buf);
		vm_result_clear(&res);
	}
	t_lsan_check();
}

struct cycle_probe {
	struct out_capture out;
	int maps[2];
	int slot_free[2];
	int waits;
};

/* Whether no memslot covers the attachment window's first 16 KiB: a probe slot there must fit. */
static int window_slot_free(struct vm *vm)
{
	struct kvm_userspace_memory_region slot = { .slot = 500, .guest_phys_addr = MVMM_SHM_BASE,
						    .memory_size = 16384 };
	void *mem = mmap(NULL, 16384, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int ok;

	cr_assert(mem != MAP_FAILED);
	slot.userspace_addr = (uintptr_t)mem;
	ok = ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot) == 0;
	if (ok) {
		slot.memory_size = 0;
		cr_assert(ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot) == 0);
	}
	munmap(mem, 16384);
	return ok;
}

static int cycle_wait(void *ctx, struct vm *vm)
{
	struct cycle_probe *p = ctx;

	if (p->waits < 2) {
		p->maps[p->waits] = t_count_maps();
		p->slot_free[p->waits] = window_slot_free(vm);
	}
	p->waits++;
	return 0;
}

static int64_t cycle_output(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len)
{
	return capture_output(&((struct cycle_probe *)ctx)->out, vm, stream, buf, len);
}

/* 200 attach/detach cycles of two regions at one address leave no mapping and no memslot. */
Test(shm_lib, attach_detach_cycles_leave_nothing)
{
	static const struct vm_hooks hooks = { .output = cycle_output, .wait = cycle_wait };
	unsigned live = shm_live_regions();
	struct shm_region *a = shm_region_create(8192), *b = shm_region_create(16384);
	struct shm_grant grants[3] = { { "a", { { 0, 0 } } }, { "b", { { 0, 0 } } },
				       { NULL, { { 0, 0 } } } };
	const char *argv[] = { "shmtest", "cycles", "a", "b", "200", NULL };
	struct cycle_probe probe = { .waits = 0 };
	struct vm_result res;
	int before;

	cr_assert(a && b);
	shm_region_handle(a, 0, &grants[0].handle);
	shm_region_handle(b, 0, &grants[1].handle);
	before = t_count_maps();
	run_guest(argv, grants, &hooks, &probe, &res);
	cr_assert_eq(res.end, VM_END_EXIT, "end %d (%s)", res.end, res.message);
	cr_expect_eq(res.status, 0, "%s", probe.out.buf);
	cr_expect(strstr(probe.out.buf, "ok cycles"), "%s", probe.out.buf);
	cr_assert_eq(probe.waits, 2);
	cr_expect_eq(probe.maps[0], probe.maps[1], "maps: %d lines after one cycle, %d after 200",
		     probe.maps[0], probe.maps[1]);
	cr_expect(probe.slot_free[0] && probe.slot_free[1], "a memslot was left in the window");
	cr_expect_eq(shm_region_attached(a) + shm_region_attached(b), 0);
	cr_expect_eq(t_count_maps(), before, "mappings left after the VM");
	vm_result_clear(&res);
	shm_region_destroy(a);
	shm_region_destroy(b);
	cr_expect_eq(shm_live_regions(), live);
	t_lsan_check();
}

/* The host view, the host doorbell, and the sizes a region refuses. */
Test(shm_lib, host_view_and_sizes)
{
	struct shm_region *r = shm_region_create(4096);
	unsigned live;
	uint8_t *host;

	cr_assert(r);
	live = shm_live_regions();
	host = shm_region_host(r);
	cr_assert(host);
	host[0] = 5;
	cr_expect_eq(shm_region_notify(r), 1);
	cr_expect_eq(shm_region_notify(r), 2);
	shm_region_destroy(r);
	cr_expect_eq(shm_live_regions(), live - 1);
	cr_expect_null(shm_region_create(0));
	cr_expect_null(shm_region_create(4095));
	cr_expect_null(shm_region_create(MVMM_SHM_WINDOW + 4096));
	t_lsan_check();
}
