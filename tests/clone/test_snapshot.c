/* test_snapshot.c: snapshots on disk: exact restore of base + diffs, damaged files and chains refused. */
#define _GNU_SOURCE
#include <sched.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <xxhash.h>

#include "clone/snapshot.h"
#include "clone/template.h"
#include "core/vcpu_state.h"
#include "core/vm.h"
#include "guestabi/lx_int.h"
#include "harness.h"

#define STAGES	   T_GUEST("stages")
#define MEM	   (64ull << 20)
#define CP_MAX	   3
#define T_TIMEOUT  20000

/* ---- an in-process run that takes a chain and records the live state at each checkpoint ---- */

struct live {
	struct snap_taker *taker; /* NULL: replay, checkpoints just count on */
	int capture;
	int64_t next_cp;
	char *out;
	size_t out_len;
	size_t off[CP_MAX + 1]; /* output length at checkpoint k */
	uint8_t *mem[CP_MAX + 1];
	struct vcpu_state st[CP_MAX + 1];
	uint64_t mem_size;
};

static int64_t live_output(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len)
{
	struct live *l = ctx;

	(void)vm;
	(void)stream;
	t_append(&l->out, &l->out_len, buf, len);
	return (int64_t)len;
}

static int64_t live_checkpoint(void *ctx, struct vm *vm)
{
	struct live *l = ctx;
	int64_t k = l->taker ? snap_taker_checkpoint(l->taker, vm) : ++l->next_cp;

	if (k < 0 || !l->capture || k > CP_MAX)
		return k;
	/* The taker completed the I/O: this is the state a restored VM resumes from. */
	cr_assert(vcpu_state_save(vm->vcpu_fd, &l->st[k]) == 0, "%s", mvmm_errmsg());
	l->mem[k] = mmap(NULL, vm->mem.size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	cr_assert(l->mem[k] != MAP_FAILED);
	memcpy(l->mem[k], vm->mem.host, vm->mem.size);
	l->off[k] = l->out_len;
	return k;
}

static const struct vm_hooks live_hooks = {.output = live_output, .checkpoint = live_checkpoint};

static void live_free(struct live *l)
{
	int k;

	for (k = 0; k <= CP_MAX; k++)
		if (l->mem[k])
			munmap(l->mem[k], l->mem_size);
	free(l->out);
	memset(l, 0, sizeof(*l));
}

static char t_dir[256];

static const char *t_path(const char *name)
{
	static char buf[8][512];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, 512, "%s/%s", t_dir, name);
	return p;
}

static void t_mkdir(void)
{
	snprintf(t_dir, sizeof(t_dir), "/tmp/mvmm-snap-XXXXXX");
	cr_assert(mkdtemp(t_dir));
}

/* s, s.1, ... s.CP_MAX in buf, pointed to by paths. */
static void t_chain_paths(char buf[][512], const char **paths)
{
	int k;

	for (k = 0; k <= CP_MAX; k++) {
		if (k == 0)
			snprintf(buf[k], 512, "%s/s", t_dir);
		else
			snprintf(buf[k], 512, "%s/s.%d", t_dir, k);
		paths[k] = buf[k];
	}
}

static void t_rmdir(void)
{
	DIR *d = opendir(t_dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			unlink(t_path(e->d_name));
	closedir(d);
	rmdir(t_dir);
}

static int t_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * Boots stages.elf (with `seed` as its request) to ready, writes the base
 * `name`, and runs its continuation to the end under a taker writing
 * name.1..3. *status is the guest's exit status. Returns the template.
 */
static struct template *t_chain(struct kvm_sys *kvm, const char *name, uint64_t mem,
				 const char *seed, struct live *l, int capture, int *status)
{
	const char *argv[] = {STAGES, seed, NULL}, *req_args[] = {seed, NULL};
	struct vm_request req;
	struct vm_config cfg = {.argv = argv, .in_fd = -1, .out_fd = -1, .err_fd = -1,
				.timeout_ns = 20ull * 1000000000ull};
	struct vm_result res;
	struct image *img = image_load_file(STAGES, mem);
	struct template *tpl;
	uint8_t hash[16];
	struct vm *vm;

	cr_assert(img, "%s", mvmm_errmsg());
	tpl = template_create(kvm, img, &cfg, &res);
	cr_assert(tpl, "%s", mvmm_errmsg());
	vm_result_clear(&res);
	image_put(img);
	cr_assert(snap_write_base(t_path(name), tpl, STAGES, hash) == 0, "%s", mvmm_errmsg());
	memset(l, 0, sizeof(*l));
	l->mem_size = mem;
	l->capture = capture;
	l->taker = snap_taker_new(t_path(name), tpl, hash);
	cr_assert(l->taker, "%s", mvmm_errmsg());
	cr_assert(vm_request_init(&req, req_args) == 0);
	cfg.request = &req;
	cfg.hooks = &live_hooks;
	cfg.hooks_ctx = l;
	vm = template_clone(tpl, kvm, NULL, &cfg);
	cr_assert(vm, "%s", mvmm_errmsg());
	cr_assert(vm_run(vm, &res) == 0, "%s", res.message);
	cr_assert_eq(res.end, VM_END_EXIT, "end %d: %s", res.end, res.message);
	*status = res.status;
	vm_result_clear(&res);
	vm_destroy(vm);
	vm_request_free(&req);
	snap_taker_free(l->taker);
	l->taker = NULL;
	return tpl;
}

static void t_make_chain(const char *name, uint64_t mem, const char *seed)
{
	struct kvm_sys kvm;
	struct live l;
	int status;

	t_kvm_open(&kvm);
	template_put(t_chain(&kvm, name, mem, seed, &l, 0, &status));
	live_free(&l);
	kvm_sys_close(&kvm);
}

/* ---- restore equals the saved state ---- */

static void t_same_sregs(const struct kvm_sregs *a, const struct kvm_sregs *b)
{
	const struct kvm_segment *sa[] = {&a->cs, &a->ds, &a->es, &a->fs, &a->gs, &a->ss, &a->tr};
	const struct kvm_segment *sb[] = {&b->cs, &b->ds, &b->es, &b->fs, &b->gs, &b->ss, &b->tr};
	size_t i;

	for (i = 0; i < sizeof(sa) / sizeof(sa[0]); i++) {
		cr_expect_eq(sa[i]->selector, sb[i]->selector, "segment %zu selector", i);
		cr_expect_eq(sa[i]->base, sb[i]->base, "segment %zu base", i);
		cr_expect_eq(sa[i]->limit, sb[i]->limit, "segment %zu limit", i);
		cr_expect_eq(sa[i]->dpl, sb[i]->dpl, "segment %zu dpl", i);
		cr_expect_eq(sa[i]->l, sb[i]->l, "segment %zu l", i);
	}
	cr_expect_eq(a->cr0, b->cr0);
	cr_expect_eq(a->cr3, b->cr3);
	cr_expect_eq(a->cr4, b->cr4);
	cr_expect_eq(a->efer, b->efer);
	cr_expect_eq(a->gdt.base, b->gdt.base);
	cr_expect_eq(a->gdt.limit, b->gdt.limit);
	cr_expect_eq(a->idt.base, b->idt.base);
	cr_expect_eq(a->idt.limit, b->idt.limit);
}

Test(snapshot, restored_chain_is_the_saved_vm_and_runs_on_alike)
{
	char pbuf[CP_MAX + 1][512];
	const char *paths[CP_MAX + 1];
	const char *req_args[] = {"abc", NULL};
	struct vm_config cfg = {.in_fd = -1, .out_fd = -1, .err_fd = -1,
				.timeout_ns = 20ull * 1000000000ull, .hooks = &live_hooks};
	struct vm_request req;
	struct vm_result res;
	struct kvm_sys kvm;
	struct template *tpl;
	struct live l, r;
	int status, k;

	t_mkdir();
	t_chain_paths(pbuf, paths);
	t_kvm_open(&kvm);
	tpl = t_chain(&kvm, "s", MEM, "abc", &l, 1, &status);
	cr_assert(vm_request_init(&req, req_args) == 0);
	cfg.request = &req;
	for (k = 1; k <= CP_MAX; k++) {
		struct template *rt = snap_restore(paths, (size_t)k + 1);
		struct vcpu_state st;
		struct vm *rv;
		uint64_t p, differ = 0;

		cr_assert(rt, "chain of %d: %s", k + 1, mvmm_errmsg());
		cr_expect_eq(rt->resume_ret, k);
		memset(&r, 0, sizeof(r));
		r.next_cp = k; /* later checkpoints return what the taker returned */
		cfg.hooks_ctx = &r;
		rv = template_clone(rt, &kvm, NULL, &cfg);
		cr_assert(rv, "%s", mvmm_errmsg());
		/* A clone's AT_RANDOM bytes are its own, as if exec'd: all else is the saved VM. */
		cr_assert(rt->lx);
		memcpy(l.mem[k] + rt->lx->at_random, rv->mem.host + rt->lx->at_random, 16);
		for (p = 0; p < MEM / 4096; p++)
			differ += memcmp(rv->mem.host + p * 4096, l.mem[k] + p * 4096, 4096) != 0;
		cr_expect_eq(differ, 0, "checkpoint %d: %lu pages differ", k, (unsigned long)differ);
		cr_assert(vcpu_state_save(rv->vcpu_fd, &st) == 0);
		cr_expect(memcmp(&st.regs, &l.st[k].regs, sizeof(st.regs)) == 0,
			  "checkpoint %d: registers differ (rip %llx vs %llx)", k, st.regs.rip,
			  l.st[k].regs.rip);
		t_same_sregs(&st.sregs, &l.st[k].sregs);
		/* the xsave area's XMM registers (bytes 160..415) and MXCSR (bytes 24..27) */
		cr_expect(memcmp((const uint8_t *)st.xsave.region + 160,
				 (const uint8_t *)l.st[k].xsave.region + 160, 256) == 0);
		cr_expect_eq(st.xsave.region[6], l.st[k].xsave.region[6]);
		cr_assert(vm_run(rv, &res) == 0);
		cr_expect_eq(res.end, VM_END_EXIT, "%s", res.message);
		cr_expect_eq(res.status, status);
		cr_expect_str_eq(r.out, l.out + l.off[k], "checkpoint %d: output differs", k);
		vm_result_clear(&res);
		vm_destroy(rv);
		template_put(rt);
		free(r.out);
	}
	vm_request_free(&req);
	/* The base alone: the restored memory is the template's, page for page. */
	{
		struct template *bt = snap_restore(paths, 1);
		uint8_t a[4096], b[4096];
		uint64_t p;

		cr_assert(bt, "%s", mvmm_errmsg());
		/* our own file: its data region is the memory, mapped, not copied */
		cr_expect_neq(bt->mem_off, 0);
		cr_expect_eq(bt->ovl_n, 0);
		for (p = 0; p < MEM / 4096; p++) {
			cr_assert(pread(bt->memfd, a, 4096, (off_t)(bt->mem_off + p * 4096)) == 4096);
			cr_assert(pread(tpl->memfd, b, 4096, (off_t)(p * 4096)) == 4096);
			cr_assert(memcmp(a, b, 4096) == 0, "base page %lu differs", (unsigned long)p);
		}
		cr_expect(memcmp(&bt->state.regs, &tpl->state.regs, sizeof(tpl->state.regs)) == 0);
		cr_expect_eq(bt->ready_block, tpl->ready_block);
		cr_expect_eq(bt->resume_ret, 0);
		cr_expect(bt->img->prog.nsyms > 0, "the ELF is there: symbols loaded");
		template_put(bt);
	}
	template_put(tpl);
	live_free(&l);
	kvm_sys_close(&kvm);
	t_rmdir();
	t_lsan_check();
}

/* ---- damaged files ---- */

static uint8_t *t_load(const char *name, size_t *len)
{
	return t_read_file(t_path(name), len);
}

static void t_expect_refused(const uint8_t *buf, size_t len, const char *what, const char *msg)
{
	struct snap_file f;

	cr_expect_eq(snap_verify(buf, len, "x", &f), -1, "%s accepted", what);
	if (msg)
		cr_expect(strstr(mvmm_errmsg(), msg), "%s: message '%s' lacks '%s'", what,
			  mvmm_errmsg(), msg);
}

/* Re-seals a header after a field was changed on purpose (both hashes recomputed). */
static void t_reseal(struct snap_header *h)
{
	struct snap_header c;

	memcpy(&c, h, sizeof(c));
	memset(c.content_hash, 0, 16);
	c.header_checksum = 0;
	XXH128_canonicalFromHash((XXH128_canonical_t *)h->content_hash,
				 XXH3_128bits(&c, sizeof(c)));
	memcpy(c.content_hash, h->content_hash, 16);
	h->header_checksum = XXH3_64bits(&c, sizeof(c));
}

Test(snapshot, every_kind_of_damage_is_refused_with_its_own_message)
{
	struct snap_file f;
	struct snap_header *h;
	size_t len, dlen, i;
	uint8_t *base, *diff, *b;

	t_mkdir();
	t_make_chain("s", MEM, "abc");
	base = t_load("s", &len);
	diff = t_load("s.2", &dlen);
	cr_assert(snap_verify(base, len, "s", &f) == 0, "%s", mvmm_errmsg());
	cr_assert(snap_verify(diff, dlen, "s.2", &f) == 0, "%s", mvmm_errmsg());
	cr_assert_eq(f.hdr.zero_pages, 1, "stage 2 zeroes one page");
	b = malloc(len > dlen ? len : dlen);
	cr_assert(b);

	/* Any byte of header, index or padding flipped; data bytes sampled. */
	for (i = 0; i < dlen; i += i < f.hdr.data_offset ? 1 : 61) {
		memcpy(b, diff, dlen);
		b[i] ^= 0x40;
		t_expect_refused(b, dlen, "a flipped byte", NULL);
	}
	h = (struct snap_header *)b;
	memcpy(b, diff, dlen);
	b[offsetof(struct snap_header, mem_size)] ^= 1;
	t_expect_refused(b, dlen, "flipped header", "header corrupted");
	memcpy(b, diff, dlen);
	b[f.hdr.index_offset] ^= 1;
	t_expect_refused(b, dlen, "flipped index", "page index corrupted");
	memcpy(b, diff, dlen);
	b[f.hdr.data_offset + 100] ^= 1;
	t_expect_refused(b, dlen, "flipped data", "page data corrupted");
	memcpy(b, diff, dlen);
	b[0] = 'X';
	t_expect_refused(b, dlen, "wrong magic", "not an mvmm snapshot");
	memcpy(b, diff, dlen);
	h->format_version = SNAP_FORMAT_VERSION + 1;
	{
		char want[32];

		snprintf(want, sizeof(want), "format version %u", SNAP_FORMAT_VERSION + 1);
		t_expect_refused(b, dlen, "wrong version", want);
	}
	/* A forged state with a valid checksum: every field is checked, not only the sums. */
	memcpy(b, diff, dlen);
	h->state.nmsrs = 16; /* restoring copied nmsrs x 16 bytes into an 8-entry stack array */
	t_reseal(h);
	t_expect_refused(b, dlen, "16 MSRs", "16 MSRs, at most 8");
	memcpy(b, diff, dlen);
	h->state.nmsrs = 9;
	t_reseal(h);
	t_expect_refused(b, dlen, "9 MSRs", "9 MSRs, at most 8");
	memcpy(b, diff, dlen);
	h->state.msrs[0].index = 0x174; /* SYSENTER_CS: not one mvmm saves */
	h->state.nmsrs = 1;
	t_reseal(h);
	t_expect_refused(b, dlen, "unknown MSR", "MSR 0x174 is not one mvmm saves");
	memcpy(b, diff, dlen);
	h->state.sregs.cs.dpl = 0;
	h->state.sregs.cs.selector = 0x8;
	t_reseal(h);
	t_expect_refused(b, dlen, "ring-0 code segment", "not the guest's CPL3 one");
	memcpy(b, diff, dlen);
	h->state.sregs.idt.base = 0x400000;
	t_reseal(h);
	t_expect_refused(b, dlen, "moved IDT", "descriptor tables are not mvmm's");
	memcpy(b, diff, dlen);
	h->state.regs.rflags |= 3u << 12; /* IOPL 3 */
	t_reseal(h);
	t_expect_refused(b, dlen, "IOPL 3", "rflags");
	memcpy(b, diff, dlen);
	h->state.events.exception.pending = 1;
	t_reseal(h);
	t_expect_refused(b, dlen, "pending exception", "an event is pending");
	memcpy(b, diff, dlen);
	h->abi_version = 99;
	t_reseal(h);
	t_expect_refused(b, dlen, "wrong ABI", "guest ABI 99");
	memcpy(b, diff, dlen);
	h->zero_pages++;
	h->data_pages--;
	t_reseal(h);
	t_expect_refused(b, dlen, "inconsistent counts", "inconsistent layout");
	memcpy(b, diff, dlen);
	t_expect_refused(b, 10, "10 bytes", "truncated");
	t_expect_refused(b, 1000, "half a header", "truncated");
	t_expect_refused(b, dlen - 1, "one byte short", "truncated");
	t_expect_refused(b, f.hdr.data_offset, "no data", "truncated");
	memcpy(b, base, len);
	t_expect_refused(b, len / 2, "half a base", "truncated");
	/* Trailing garbage, as a file on disk, through the restore path. */
	{
		FILE *fp = fopen(t_path("long"), "we");

		cr_assert(fp);
		cr_assert(fwrite(diff, 1, dlen, fp) == dlen && fputc(0, fp) == 0);
		fclose(fp);
		cr_expect_eq(snap_file_load(t_path("long"), &f), -1);
		cr_expect(strstr(mvmm_errmsg(), "where the header says"), "%s", mvmm_errmsg());
	}
	free(b);
	free(base);
	free(diff);
	t_rmdir();
	t_lsan_check();
}

static void t_chain_refused(const char *const *names, size_t n, const char *msg)
{
	const char *paths[8];
	struct template *tpl;
	size_t i;

	for (i = 0; i < n; i++)
		paths[i] = t_path(names[i]);
	tpl = snap_restore(paths, n);
	cr_expect_null(tpl, "chain %s... accepted", names[0]);
	template_put(tpl);
	cr_expect(strstr(mvmm_errmsg(), msg), "message '%s' lacks '%s'", mvmm_errmsg(), msg);
}

Test(snapshot, chains_out_of_order_foreign_or_of_another_size_are_refused)
{
	t_mkdir();
	t_make_chain("s", MEM, "abc");
	t_make_chain("o", MEM, "other");
	t_make_chain("m", 32ull << 20, "abc");
	{
		const char *c1[] = {"s.1"}, *c2[] = {"s", "s"}, *c3[] = {"s", "s.2"},
			   *c4[] = {"s", "s.2", "s.1"}, *c5[] = {"s", "o.1"},
			   *c6[] = {"s", "s.1", "o.2"}, *c7[] = {"s", "m.1"}, *c8[] = {"s", "nope"};

		t_chain_refused(c1, 1, "a chain starts with a base");
		t_chain_refused(c2, 2, "only diffs may follow");
		t_chain_refused(c3, 2, "wrong order or a foreign chain");
		t_chain_refused(c4, 3, "wrong order or a foreign chain");
		t_chain_refused(c5, 2, "wrong order or a foreign chain");
		t_chain_refused(c6, 3, "wrong order or a foreign chain");
		t_chain_refused(c7, 2, "for a 32 MiB guest");
		t_chain_refused(c8, 2, "No such file");
	}
	t_rmdir();
	t_lsan_check();
}

/* ---- a full disk ---- */

Test(snapshot, a_full_disk_is_a_clear_error_and_leaves_no_file)
{
	struct kvm_sys kvm;
	struct template *tpl;
	struct live l;
	char mnt[] = "/tmp/mvmm-snap-full-XXXXXX", path[64];
	int status;

	if (unshare(CLONE_NEWNS) < 0)
		cr_skip_test("no mount namespace here (%s)", strerror(errno));
	cr_assert(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0);
	cr_assert(mkdtemp(mnt));
	cr_assert(mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == 0, "%s", strerror(errno));
	t_mkdir();
	t_kvm_open(&kvm);
	tpl = t_chain(&kvm, "s", MEM, "abc", &l, 0, &status);
	snprintf(path, sizeof(path), "%s/s", mnt);
	cr_expect_eq(snap_write_base(path, tpl, STAGES, NULL), -1, "a 2 MiB base fit in 1 MiB");
	cr_expect(strstr(mvmm_errmsg(), "disk is full"), "%s", mvmm_errmsg());
	cr_expect_eq(t_dir_entries(mnt), 0, "a partial file was left behind");
	template_put(tpl);
	live_free(&l);
	kvm_sys_close(&kvm);
	umount(mnt);
	rmdir(mnt);
	t_rmdir();
}

/* ---- the command ---- */

static const char *t_line(const char *out, const char *prefix)
{
	const char *p = strstr(out, prefix);

	cr_assert(p, "no '%s' in:\n%s", prefix, out);
	return p;
}

Test(snapshot, command_takes_describes_and_resumes_chains)
{
	struct t_proc p, q;
	char chain[2048], hash1[40] = "";
	int status;

	t_mkdir();
	T_MVMM(&p, T_TIMEOUT, "run", "--template", "--snapshot", (char *)t_path("s"), STAGES,
	       "abc");
	cr_assert(p.status < 123, "status %d: %s", p.status, p.err);
	status = p.status;
	cr_expect(strstr(p.out, "checkpoint 3: stage 3 done"), "%s", p.out);

	T_MVMM(&q, T_TIMEOUT, "snapshot", "info", (char *)t_path("s.1"));
	cr_assert_eq(q.status, 0, "%s", q.err);
	cr_assert(sscanf(t_line(q.out, "hash:"), "hash: %32s", hash1) == 1);
	t_proc_free(&q);
	T_MVMM(&q, T_TIMEOUT, "snapshot", "info", (char *)t_path("s.2"));
	cr_assert_eq(q.status, 0, "%s", q.err);
	cr_expect(strstr(q.out, "kind:           diff (checkpoint 2)"), "%s", q.out);
	cr_expect(strstr(q.out, "pages zero:     1"), "%s", q.out);
	cr_expect(strstr(t_line(q.out, "parent:"), hash1), "parent is s.1: %s", q.out);
	cr_expect(strstr(q.out, "rip:            0x"), "%s", q.out);
	cr_expect(strstr(q.out, "memory:         64 MiB"), "%s", q.out);
	t_proc_free(&q);
	T_MVMM(&q, T_TIMEOUT, "snapshot", "info", (char *)t_path("s"));
	cr_expect_eq(q.status, 0);
	cr_expect(strstr(q.out, "kind:           base"), "%s", q.out);
	cr_expect(strstr(q.out, "guest ELF:"), "%s", q.out);
	t_proc_free(&q);

	/* The base resumes like a clone: the same output as the run that took it. */
	T_MVMM(&q, T_TIMEOUT, "run", "--from-snapshot", (char *)t_path("s"), "abc");
	cr_expect_eq(q.status, status, "%s", q.err);
	cr_expect(strncmp(q.out, p.out, strcspn(p.out, "\n")) == 0, "%s\nvs\n%s", q.out, p.out);
	cr_expect_str_eq(t_line(q.out, "end:"), t_line(p.out, "end:"));
	t_proc_free(&q);

	snprintf(chain, sizeof(chain), "%s,%s,%s,%s", t_path("s"), t_path("s.1"), t_path("s.2"),
		 t_path("s.3"));
	T_MVMM(&q, T_TIMEOUT, "run", "--from-snapshot", chain);
	cr_expect_eq(q.status, status, "%s", q.err);
	cr_expect(strncmp(q.out, "checkpoint 3: stage 3 done", 26) == 0, "%s", q.out);
	cr_expect_str_eq(t_line(q.out, "end:"), t_line(p.out, "end:"));
	t_proc_free(&q);

	/* Damage through the command: 125 and a message. */
	snprintf(chain, sizeof(chain), "%s,%s", t_path("s"), t_path("s.2"));
	T_MVMM(&q, T_TIMEOUT, "run", "--from-snapshot", chain);
	cr_expect_eq(q.status, 125);
	cr_expect(strstr(q.err, "wrong order or a foreign chain"), "%s", q.err);
	t_proc_free(&q);
	cr_assert(truncate(t_path("s.3"), 5000) == 0);
	T_MVMM(&q, T_TIMEOUT, "snapshot", "info", (char *)t_path("s.3"));
	cr_expect_eq(q.status, 125);
	cr_expect(strstr(q.err, "truncated"), "%s", q.err);
	t_proc_free(&q);
	T_MVMM(&q, T_TIMEOUT, "run", "--from-snapshot", (char *)t_path("s.1"));
	cr_expect_eq(q.status, 125);
	cr_expect(strstr(q.err, "starts with a base"), "%s", q.err);
	t_proc_free(&q);
	t_proc_free(&p);
	t_rmdir();
}

Test(snapshot, count_zero_writes_the_base_only_and_a_vanished_elf_costs_symbols_only)
{
	struct t_proc p;
	size_t len;
	uint8_t *elf = t_read_file(STAGES, &len);
	FILE *fp;

	t_mkdir();
	fp = fopen(t_path("g.elf"), "we");
	cr_assert(fp && fwrite(elf, 1, len, fp) == len);
	fclose(fp);
	free(elf);
	cr_assert(chmod(t_path("g.elf"), 0755) == 0);
	T_MVMM(&p, T_TIMEOUT, "run", "--template", "--snapshot", (char *)t_path("b"), "--count",
	       "0", (char *)t_path("g.elf"), "x");
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect_str_eq(p.out, "");
	cr_expect_eq(access(t_path("b"), F_OK), 0);
	cr_expect_neq(access(t_path("b.1"), F_OK), 0);
	t_proc_free(&p);
	unlink(t_path("g.elf"));
	T_MVMM(&p, T_TIMEOUT, "run", "--from-snapshot", (char *)t_path("b"), "zz");
	cr_expect(p.status < 123, "%d: %s", p.status, p.err);
	cr_expect(strstr(p.out, "ready: clone 1, seed 'zz'"), "%s", p.out);
	t_proc_free(&p);
	T_MVMM(&p, T_TIMEOUT, "run", "--snapshot", (char *)t_path("c"), STAGES);
	cr_expect_eq(p.status, 125, "--snapshot without --template");
	t_proc_free(&p);
	t_rmdir();
}

/* ---- restore time ---- */

static int t_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

Test(snapshot, restore_of_a_64m_base_and_three_diffs_is_fast)
{
	char pbuf[CP_MAX + 1][512];
	const char *paths[CP_MAX + 1];
	struct kvm_sys kvm;
	uint64_t t[9];
	int i;

	t_mkdir();
	t_chain_paths(pbuf, paths);
	t_make_chain("s", MEM, "abc");
	t_kvm_open(&kvm);
	for (i = 0; i < 9; i++) {
		uint64_t t0 = t_now_ns();
		struct template *tpl = snap_restore(paths, 4);
		struct vm *vm;
		struct vm_config cfg = {.in_fd = -1, .out_fd = -1, .err_fd = -1};

		cr_assert(tpl, "%s", mvmm_errmsg());
		vm = template_clone(tpl, &kvm, NULL, &cfg);
		cr_assert(vm, "%s", mvmm_errmsg());
		t[i] = t_now_ns() - t0;
		vm_destroy(vm);
		template_put(tpl);
	}
	qsort(t, 9, sizeof(t[0]), t_cmp_u64);
	fprintf(stderr, "snapshot restore, 64 MiB guest, base + 3 diffs, to a runnable VM: "
			"median %.2f ms (min %.2f, max %.2f, 9 runs)\n",
		t[4] / 1e6, t[0] / 1e6, t[8] / 1e6);
#ifndef __SANITIZE_ADDRESS__
	cr_expect(t[4] <= 20000000, "median restore %.2f ms over the 20 ms target", t[4] / 1e6);
#endif
	kvm_sys_close(&kvm);
	t_rmdir();
}

/*
 * A snapshot whose exception stub is patched to `jmp .` (hashes and checksums recomputed, as
 * anyone can) is refused: the VMM runs its own stubs, and warming a shell over these would spin.
 */
Test(snapshot, a_template_whose_stubs_are_not_mvmms_is_refused, .timeout = 60)
{
	struct snap_header *h;
	struct snap_file f;
	const char *path;
	uint64_t i;
	struct template *tpl;
	uint8_t *base;
	size_t len;

	t_mkdir();
	t_make_chain("s", MEM, "abc");
	base = t_load("s", &len);
	cr_assert(snap_verify(base, len, "s", &f) == 0, "%s", mvmm_errmsg());
	for (i = 0; i < f.hdr.index_entries; i++)
		if ((f.index[i] & ~SNAP_ZERO_PAGE) == MVMM_STUBS_GPA / 4096)
			break;
	cr_assert(i < f.hdr.index_entries, "the stub page is not in the base");
	/* a base holds each page at its guest offset */
	base[f.hdr.data_offset + MVMM_STUBS_GPA] = 0xeb; /* jmp . */
	base[f.hdr.data_offset + MVMM_STUBS_GPA + 1] = 0xfe;
	h = (struct snap_header *)base;
	{
		XXH3_state_t *st = XXH3_createState();

		cr_assert(st);
		XXH3_128bits_reset(st);
		for (i = 0; i < f.hdr.index_entries; i++)
			XXH3_128bits_update(st, base + f.hdr.data_offset + f.index[i] * 4096, 4096);
		XXH128_canonicalFromHash((XXH128_canonical_t *)h->data_hash,
					 XXH3_128bits_digest(st));
		XXH3_freeState(st);
	}
	t_reseal(h);
	cr_assert(snap_verify(base, len, "forged", &f) == 0, "the forgery must pass the sums");
	path = t_path("forged");
	t_write_file(path, base, len);
	tpl = snap_restore(&path, 1);
	cr_expect_null(tpl, "a template with foreign stubs was restored");
	template_put(tpl);
	cr_expect(strstr(mvmm_errmsg(), "system area"), "%s", mvmm_errmsg());
	free(base);
	t_rmdir();
}
