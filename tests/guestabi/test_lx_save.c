/*
 * test_lx_save.c: the process state's record (lx_save.c, lx_load.c) in-process: what is saved
 * comes back, an open file is opened again by its guest path beneath the loading run's tree
 * at its offset, a pipe is refused by name; then templates on disk: busybox sh frozen at its
 * first stdin read, and a guest frozen at mvmm_ready() holding a file open (its ready block
 * gets each clone's number), through snapshots and the image cache. Damaged and forged
 * records: tests/clone/test_linux_snapshot.c and fuzz_lxsave.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/vm.h"
#include "guestabi/lx.h"
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
	p->mmap_top = 0x3eff000; /* the guard page of a 64 MiB guest */
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

static void save(const struct lx_proc *p, uint8_t **buf, size_t *len)
{
	cr_assert_eq(lx_proc_save(p, buf, len), 0, "%s", mvmm_errmsg());
	cr_assert(*len > LX_REC_FIXED && *len <= LX_REC_MAX);
}

Test(lx_save, what_is_saved_comes_back)
{
	struct lx_proc *p = sample(), *q;
	uint8_t *buf;
	size_t len;

	save(p, &buf, &len);
	q = lx_proc_load(buf, len, NULL, MEM, NULL, 0, NULL);
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
	cr_expect_eq(q->nmounts, 0, "trees are the loading run's, never the record's");
	lx_proc_free(q);
	free(buf);
	lx_proc_free(p);
}

/* An open file is saved by guest path and offset, and opened again beneath the loader's tree. */
Test(lx_save, an_open_file_is_opened_again_at_its_offset)
{
	char *d = lxt_tmpdir(), host[4200];
	struct lx_dir dir = {.host = d, .guest = "/data"};
	struct lx_config lxc = {.dirs = &dir, .ndirs = 1, .strace_fd = 2};
	struct vm_config cfg = {.lx = &lxc};
	struct lx_proc *p = sample(), *q;
	uint8_t *buf;
	size_t len;
	char got[5] = "";

	lxt_mkfile(d, "f.txt", "HEAD4567rest", 12);
	lxt_path(host, sizeof(host), d, "f.txt");
	p->fds[4] = (struct lx_fd){.kind = LX_FD_FILE, .flags = O_RDONLY,
				   .host = open(host, O_RDONLY | O_CLOEXEC),
				   .path = strdup("/data/f.txt")};
	cr_assert(p->fds[4].host >= 0 && p->fds[4].path);
	cr_assert_eq(lseek(p->fds[4].host, 4, SEEK_SET), 4);
	save(p, &buf, &len);
	q = lx_proc_load(buf, len, &cfg, MEM, NULL, LX_LOAD_SAME_FILES, NULL);
	cr_assert(q, "%s", mvmm_errmsg());
	cr_expect_eq(q->fds[4].kind, LX_FD_FILE);
	cr_expect_str_eq(q->fds[4].path, "/data/f.txt");
	cr_assert(q->fds[4].host >= 0 && q->fds[4].host != p->fds[4].host);
	cr_expect_eq(read(q->fds[4].host, got, 4), 4);
	cr_expect_str_eq(got, "4567", "not at the saved offset");
	cr_expect_eq(q->nmounts, 1, "the loader's tree");
	lx_proc_free(q);
	/* Without the tree the file is not there: refused, naming its guest path. */
	q = lx_proc_load(buf, len, NULL, MEM, NULL, 0, NULL);
	cr_expect_null(q);
	cr_expect(strstr(mvmm_errmsg(), "/data/f.txt"), "%s", mvmm_errmsg());
	lx_proc_free(q);
	free(buf);
	lx_proc_free(p);
	lxt_rmtree(d);
}

Test(lx_save, a_pipe_cannot_be_saved)
{
	struct lx_proc *p = sample();
	uint8_t *buf = NULL;
	size_t len = 0;
	int fds[2];

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	close(fds[1]);
	p->fds[4] = (struct lx_fd){.kind = LX_FD_PIPE, .flags = O_RDONLY, .host = fds[0]};
	cr_expect_eq(lx_proc_save(p, &buf, &len), -1);
	cr_expect(strstr(mvmm_errmsg(), "descriptor 4 is a pipe"), "%s", mvmm_errmsg());
	cr_expect_null(buf);
	lx_proc_free(p);
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

/* Each clone's line: its own number (the ready block), the bytes after the template's 4. */
static void expect_clones(const char *out, const char *what)
{
	cr_expect(strstr(out, "clone 1 head HEAD next 4567 at 8\n"), "%s: %s", what, out);
	cr_expect(strstr(out, "clone 2 head HEAD next 4567 at 8\n"), "%s: %s", what, out);
}

/*
 * A guest frozen at mvmm_ready() holding a file open: its snapshot carries the file (by guest
 * path, at its offset) and the ready block; clones restored by another run, with a tree of
 * their own, each get their clone number and read on from where the template stopped.
 */
Test(lx_templates, a_ready_template_holding_a_file_is_snapshotted)
{
	char *d = lxt_tmpdir(), *d2 = lxt_tmpdir(), snap[4200], spec[4200], spec2[4200];
	struct t_proc p;

	lxt_mkfile(d, "in.txt", "HEAD4567rest", 12);
	lxt_mkfile(d2, "in.txt", "HEAD4567rest", 12);
	lxt_path(snap, sizeof(snap), d, "ready.snap");
	snprintf(spec, sizeof(spec), "%s:/data", d);
	snprintf(spec2, sizeof(spec2), "%s:/data", d2);
	lxt_guest(&p, ARGS("--dir", spec, "--template", "--snapshot", snap, "--count", "0"),
		  T_TEST_GUEST("tplopen"), ARGS("/data/in.txt"), NULL, LXT_LIMIT_MS);
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, LXT_LIMIT_MS, "snapshot", "info", snap);
	cr_expect(strstr(p.out, "3 /data/in.txt"), "%s", p.out);
	cr_expect(strstr(p.out, "from its ready call (block 0x"), "%s", p.out);
	t_proc_free(&p);
	lxt_guest(&p, ARGS("--from-snapshot", snap, "--dir", spec2, "--count", "2"), NULL, NULL,
		  NULL, LXT_LIMIT_MS);
	cr_expect_eq(p.status, 0, "%s", p.err);
	expect_clones(p.out, "restored");
	t_proc_free(&p);
	lxt_rmtree(d);
	lxt_rmtree(d2);
}

/* The same template through the image cache: the second run is a hit and behaves the same. */
Test(lx_templates, a_ready_template_holding_a_file_is_cached)
{
	char *d = lxt_tmpdir(), cache[4200], spec[4200];
	struct t_proc p;

	lxt_mkfile(d, "in.txt", "HEAD4567rest", 12);
	lxt_path(cache, sizeof(cache), d, "cache");
	snprintf(spec, sizeof(spec), "%s:/data", d);
	for (int i = 0; i < 2; i++) {
		lxt_guest(&p, ARGS("--cache-dir", cache, "--dir", spec, "--template", "--count", "2"),
			  T_TEST_GUEST("tplopen"), ARGS("/data/in.txt"), NULL, LXT_LIMIT_MS);
		cr_expect_eq(p.status, 0, "run %d: %s", i, p.err);
		cr_expect(!strstr(p.err, "cache"), "run %d: %s", i, p.err);
		expect_clones(p.out, i ? "a hit" : "built");
		t_proc_free(&p);
	}
	T_MVMM(&p, LXT_LIMIT_MS, "cache", "ls", "--cache-dir", cache);
	{
		const char *row = strstr(p.out, "template");
		char kind[16], mem[16], size[16], age[16], used[16];
		unsigned hits = 0;

		cr_assert(row, "%s", p.out);
		cr_expect_eq(sscanf(row, "%15s %15s %15s %15s %15s %u", kind, mem, size, age, used,
				    &hits),
			     6, "%s", row);
		cr_expect_eq(hits, 1, "%s", p.out);
	}
	t_proc_free(&p);
	lxt_rmtree(d);
}
