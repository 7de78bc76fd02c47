/*
 * test_lx_save.c: the file form of a template's process state (lx_save.c): what is saved
 * comes back, what cannot be saved is refused by name, and a damaged or hostile state is
 * refused before anything is built from it; then templates of programs through snapshots
 * and the image cache, whose clones open the --dir trees of their own run.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "guestabi/lx_int.h"
#include "guestabi/lx_run.h"

#define MEM (64ull << 20)

/* A process as a program leaves it at ready: stdio, a dup of stdout, mappings, a handler. */
static struct lx_proc *sample(void)
{
	struct lx_proc *p = calloc(1, sizeof(*p));

	cr_assert(p);
	cr_assert_eq(lx_fd_init(p), 0);
	p->fds[5] = p->fds[1];
	p->fds[5].cloexec = 1;
	p->cwd = strdup("/data/sub");
	p->umask = 027;
	p->brk_start = 0x600000;
	p->brk = 0x612345;
	p->mmap_floor = 0x600000;
	p->mmap_top = 0x3eff000;
	p->vmas = calloc(2, sizeof(*p->vmas));
	cr_assert(p->vmas && p->cwd);
	p->vmas[0] = (struct lx_vma){0x3e00000, 0x3e10000, 3};
	p->vmas[1] = (struct lx_vma){0x3e20000, 0x3e21000, 1};
	p->nvmas = p->capvmas = 2;
	p->kept[0] = (struct lx_vma){0x3d00000, 0x3d04000, 0};
	p->nkept = 1;
	p->kept_bytes = 0x4000;
	p->sig[2] = (struct lx_sigaction){0x401234, 0x4000000, 0x401000, 1ull << 14};
	p->sigmask = 1ull << 9;
	p->at_random = 0x3fffe10;
	p->tid_address = 0x600100;
	memcpy(p->comm, "worker", 7);
	p->comm[15] = 1;
	return p;
}

static void save(const struct lx_proc *p, void **buf, size_t *len)
{
	cr_assert_eq(lx_proc_save(p, buf, len), 0, "%s", mvmm_errmsg());
	cr_assert(*len % 8 == 0 && *len <= LX_SAVED_MAX);
}

Test(lx_save, what_is_saved_comes_back)
{
	struct lx_proc *p = sample(), *q;
	void *buf;
	size_t len;

	save(p, &buf, &len);
	q = lx_proc_load(buf, len, MEM);
	cr_assert(q, "%s", mvmm_errmsg());
	cr_expect_eq(q->nfds, p->nfds);
	for (unsigned i = 0; i < p->nfds; i++) {
		cr_expect_eq(q->fds[i].kind, p->fds[i].kind, "fd %u", i);
		cr_expect_eq(q->fds[i].stream, p->fds[i].stream, "fd %u", i);
		cr_expect_eq(q->fds[i].cloexec, p->fds[i].cloexec, "fd %u", i);
		cr_expect_eq(q->fds[i].flags, p->fds[i].flags, "fd %u", i);
		cr_expect_eq(q->fds[i].host, -1, "fd %u", i);
	}
	cr_expect_str_eq(q->cwd, "/data/sub");
	cr_expect_eq(q->umask, 027);
	cr_expect_eq(q->brk, 0x612345);
	cr_expect_eq(q->nvmas, 2);
	cr_expect_eq(q->vmas[1].start, 0x3e20000);
	cr_expect_eq(q->vmas[1].prot, 1);
	cr_expect_eq(q->nkept, 1);
	cr_expect_eq(q->kept_bytes, 0x4000);
	cr_expect_eq(q->sig[2].handler, 0x401234);
	cr_expect_eq(q->sig[2].mask, 1ull << 14);
	cr_expect_eq(q->sigmask, 1ull << 9);
	cr_expect_eq(q->at_random, 0x3fffe10);
	cr_expect_str_eq(q->comm, "worker");
	cr_expect_eq(q->nmounts, 0, "trees are the clone's run's, never the file's");
	cr_expect(q->trees_from_clone);
	lx_proc_free(q);
	free(buf);
	lx_proc_free(p);
}

Test(lx_save, an_open_host_file_cannot_be_saved)
{
	struct lx_proc *p = sample();
	void *buf = NULL;
	size_t len = 0;

	cr_expect(lx_proc_can_save(p));
	p->fds[4].kind = LX_FD_FILE;
	p->fds[4].host = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_expect(!lx_proc_can_save(p));
	cr_expect_eq(lx_proc_save(p, &buf, &len), -1);
	cr_expect(strstr(mvmm_errmsg(), "descriptor 4"), "%s", mvmm_errmsg());
	cr_expect_null(buf);
	lx_proc_free(p);
}

/* Each case damages a saved state one way; every one must be refused. */
Test(lx_save, damage_and_lies_are_refused)
{
	struct lx_proc *p = sample();
	uint8_t *buf, *copy;
	size_t len;
	/* offsets into the file form (lx_save.c's struct lx_saved, fixed layout) */
	enum { O_SIZE = 12, O_NFDS = 16, O_NVMAS = 20, O_BRK_START = 56, O_BRK = 64,
	       O_MMAP_TOP = 80 };
	static const struct {
		size_t off;
		uint64_t val;
		int width;
		const char *what;
	} cases[] = {
		{0, 0x58, 1, "magic"},
		{8, 7, 4, "version"},
		{O_SIZE, 8, 4, "size"},
		{O_NFDS, 100000, 4, "descriptor count"},
		{O_NFDS, 1, 4, "too few descriptors"},
		{O_NVMAS, 3, 4, "a mapping more than stored"},
		{O_BRK_START, 0x1000, 8, "break in the system area"},
		{O_BRK_START, 0x600001, 8, "unaligned break start"},
		{O_BRK, 0x5ff000, 8, "break below its start"},
		{O_MMAP_TOP, UINT64_MAX & ~0xfffull, 8, "mmap area beyond memory"},
		{O_MMAP_TOP, MEM, 8, "mmap area over the stack"},
	};

	save(p, (void **)&buf, &len);
	copy = malloc(len);
	cr_assert(copy);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lx_proc *q;

		memcpy(copy, buf, len);
		memcpy(copy + cases[i].off, &cases[i].val, (size_t)cases[i].width);
		q = lx_proc_load(copy, len, MEM);
		cr_expect_null(q, "%s: accepted", cases[i].what);
		lx_proc_free(q);
	}
	/* truncated, and a smaller guest than the mappings need */
	cr_expect_null(lx_proc_load(buf, len - 8, MEM));
	cr_expect_null(lx_proc_load(buf, 16, MEM));
	cr_expect_null(lx_proc_load(buf, len, 16ull << 20), "mappings beyond a 16 MiB guest");
	free(copy);
	free(buf);
	lx_proc_free(p);
}

/* A mapping out of order, a kept range outside memory, a descriptor that is not stdio. */
Test(lx_save, inconsistent_ranges_and_descriptors_are_refused)
{
	static const int which[] = {0, 1, 2, 3};

	for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
		struct lx_proc *p = sample(), *q;
		void *buf;
		size_t len;

		if (which[i] == 0) {
			struct lx_vma v = p->vmas[0];

			p->vmas[0] = p->vmas[1];
			p->vmas[1] = v;
		} else if (which[i] == 1) {
			p->kept[0] = (struct lx_vma){MEM, MEM + 0x1000, 0};
		} else if (which[i] == 2) {
			p->kept_bytes = 0x8000;
		} else {
			p->fds[1].stream = 7;
		}
		save(p, &buf, &len);
		q = lx_proc_load(buf, len, MEM);
		cr_expect_null(q, "case %d accepted", which[i]);
		lx_proc_free(q);
		free(buf);
		lx_proc_free(p);
	}
}

/* ---- templates of programs on disk ----------------------------------------------------- */

TestSuite(lx_templates, .init = lxt_need_kvm, .timeout = 120);

#define ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})

/*
 * busybox sh frozen at its first read of stdin, written as a snapshot, restored by another
 * run with a --dir tree of its own: the clone runs the script it reads and sees that tree.
 */
Test(lx_templates, a_stdin_template_is_snapshotted_and_restored)
{
	char *d = lxt_tmpdir(), snap[4200], spec[4200], in[4200];
	struct t_proc p;

	lxt_mkfile(d, "data.txt", "from the tree\n", 14);
	/* builtins only: a Linux guest cannot fork */
	lxt_mkfile(d, "script", "echo restored; read l < /data/data.txt; echo \"$l\"\n", 50);
	lxt_path(snap, sizeof(snap), d, "sh.snap");
	lxt_path(in, sizeof(in), d, "script");
	snprintf(spec, sizeof(spec), "%s:/data", d);
	lxt_guest(&p, ARGS("--template", "--ready-on=stdin", "--snapshot", snap, "--count", "0"),
		  LXT_BUSYBOX, ARGS("sh"), NULL, LXT_LIMIT_MS);
	cr_expect_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	lxt_guest(&p, ARGS("--from-snapshot", snap, "--dir", spec), NULL, NULL, in,
		  LXT_LIMIT_MS);
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect_str_eq(p.out, "restored\nfrom the tree\n", "stderr:\n%s", p.err);
	t_proc_free(&p);
	lxt_rmtree(d);
}

/* The same template through the image cache: the second run maps it, and it still works. */
Test(lx_templates, a_stdin_template_is_cached)
{
	char *d = lxt_tmpdir(), cache[4200], in[4200];
	struct t_proc p;

	lxt_mkfile(d, "script", "echo cached $((6 * 7))\n", 23);
	lxt_path(cache, sizeof(cache), d, "cache");
	lxt_path(in, sizeof(in), d, "script");
	for (int i = 0; i < 2; i++) {
		lxt_guest(&p, ARGS("--cache-dir", cache, "--template", "--ready-on=stdin"),
			  LXT_BUSYBOX, ARGS("sh"), in, LXT_LIMIT_MS);
		cr_expect_eq(p.status, 0, "run %d: %s", i, p.err);
		cr_expect_str_eq(p.out, "cached 42\n", "run %d", i);
		t_proc_free(&p);
	}
	T_MVMM(&p, LXT_LIMIT_MS, "cache", "ls", "--cache-dir", cache);
	cr_expect(strstr(p.out, "template") && strstr(p.out, "busybox sh"), "%s", p.out);
	cr_expect(strstr(p.out, "1 entries"), "%s", p.out);
	/* KEY KIND MEM SIZE AGE USED HITS ...: the second run was a hit */
	{
		const char *row = strstr(p.out, "template");
		char kind[16], mem[16], size[16], age[16], used[16];
		unsigned hits = 0;

		cr_assert(row);
		cr_expect_eq(sscanf(row, "%15s %15s %15s %15s %15s %u", kind, mem, size, age, used,
				    &hits),
			     6, "%s", row);
		cr_expect_eq(hits, 1, "%s", p.out);
	}
	t_proc_free(&p);
	lxt_rmtree(d);
}
