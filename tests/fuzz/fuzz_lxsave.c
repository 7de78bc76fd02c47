/* fuzz_lxsave.c: libFuzzer target: a Linux program's process record (lx_proc_load, which
 * snapshots and cache entries feed with bytes from a file) over a tree of its own, without
 * KVM; what it accepts must save and load again to the same record. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/vm.h"
#include "guestabi/lx.h"
#include "guestabi/lx_int.h"
#include "load/image.h"

#include "fuzz.h"

/*
 * Input: one flags byte, then the record. The tree at /data holds input.txt and sub/rel.txt
 * (what tests/linux/tplfile.c opens; the seed is its record). Flags:
 *   IMG   the program's end is known (an image whose heap starts at the record's break),
 *         else the record's break is only bounded below
 *   SAME  LX_LOAD_SAME_FILES: every file must be the very one saved
 *   DESC  lx_proc_describe instead of a load
 */
#define IMG  1u
#define SAME 2u
#define DESC 4u
#define MEM  (64ull << 20)

static char tree[256];
static struct lx_dir dir;
static struct lx_config lxc;
static struct vm_config cfg;

static void rm_tree(void)
{
	char p[400];

	snprintf(p, sizeof(p), "%s/sub/rel.txt", tree);
	unlink(p);
	snprintf(p, sizeof(p), "%s/sub", tree);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/input.txt", tree);
	unlink(p);
	rmdir(tree);
}

static void put_file(const char *rel, const char *text)
{
	char p[400];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	fuzz_need(fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text), p);
	close(fd);
}

static void init(void)
{
	const char *tmp = getenv("TMPDIR");
	char p[400];

	snprintf(tree, sizeof(tree), "%s/mvmm-fuzz-lx.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fuzz_need(mkdtemp(tree) != NULL, "mkdtemp");
	atexit(rm_tree);
	snprintf(p, sizeof(p), "%s/sub", tree);
	fuzz_need(mkdir(p, 0755) == 0, "mkdir");
	put_file("input.txt", "HEADER0123456789abcdefghij");
	put_file("sub/rel.txt", "relative ok\n");
	dir = (struct lx_dir){.host = tree, .guest = "/data"};
	lxc = (struct lx_config){.dirs = &dir, .ndirs = 1, .strace_fd = 2};
	cfg = (struct vm_config){.lx = &lxc};
}

/* The lowest free descriptor: a load that leaks one moves it. */
static int lowest_fd(void)
{
	int fd = dup(0);

	fuzz_need(fd >= 0, "dup");
	close(fd);
	return fd;
}

/* What lx_proc_load promises of a process it accepted. */
static void check_proc(const struct lx_proc *p)
{
	FUZZ_CHECK(p->nfds >= 16 && p->nfds <= LX_FD_LIMIT && p->cwd && p->cwd[0] == '/',
		   "table %u, cwd %s", p->nfds, p->cwd ? p->cwd : "(none)");
	FUZZ_CHECK(p->brk_start <= p->brk && p->brk <= p->mmap_top && p->mmap_top < MEM,
		   "break 0x%lx..0x%lx, top 0x%lx", (unsigned long)p->brk_start,
		   (unsigned long)p->brk, (unsigned long)p->mmap_top);
	for (size_t i = 0; i < p->nvmas; i++)
		FUZZ_CHECK(p->vmas[i].start < p->vmas[i].end && p->vmas[i].end <= p->mmap_top &&
				   (!i || p->vmas[i - 1].end <= p->vmas[i].start),
			   "mapping %zu", i);
	for (size_t i = 0; i < p->nkept; i++)
		FUZZ_CHECK(p->kept[i].start >= p->brk_start && p->kept[i].end <= p->mmap_top,
			   "kept %zu", i);
	for (unsigned i = 0; i < p->nfds; i++) {
		const struct lx_fd *f = &p->fds[i];

		FUZZ_CHECK(f->kind <= LX_FD_DIR &&
				   (f->kind == LX_FD_FREE || f->kind == LX_FD_STREAM ||
				    (f->path && f->path[0] == '/')),
			   "descriptor %u: kind %u", i, f->kind);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct image img = {.memfd = -1};
	struct lx_proc *p, *q;
	uint8_t *a, *b;
	size_t alen, blen;
	unsigned flags;
	int fd0;

	if (!tree[0])
		init();
	if (size < 1)
		return 0;
	flags = data[0];
	data++, size--;
	fd0 = lowest_fd();
	if (flags & DESC) {
		char *d = lx_proc_describe(data, size, MEM);

		FUZZ_LOG("lxsave: %s\n", d ? d : mvmm_errmsg());
		free(d);
		FUZZ_CHECK(lowest_fd() == fd0, "a descriptor leaked");
		return 0;
	}
	if ((flags & IMG) && size >= 56) {
		memcpy(&img.heap_start, data + 48, 8); /* the record's brk_start */
		img.prog.nsegs = 1;
	}
	p = lx_proc_load(data, size, &cfg, MEM, (flags & IMG) ? &img : NULL,
			 (flags & SAME) ? LX_LOAD_SAME_FILES : 0, NULL);
	if (!p) {
		FUZZ_LOG("lxsave: refused: %s\n", mvmm_errmsg());
		FUZZ_CHECK(lowest_fd() == fd0, "a descriptor leaked by a refusal");
		return 0;
	}
	check_proc(p);
	/* What was accepted saves, loads again and saves alike (the files' identity is this run's).
	 */
	fuzz_need(lx_proc_save(p, &a, &alen) == 0, mvmm_errmsg());
	q = lx_proc_load(a, alen, &cfg, MEM, (flags & IMG) ? &img : NULL, LX_LOAD_SAME_FILES, NULL);
	FUZZ_CHECK(q != NULL, "an accepted record saved as one refused: %s", mvmm_errmsg());
	fuzz_need(lx_proc_save(q, &b, &blen) == 0, mvmm_errmsg());
	FUZZ_CHECK(alen == blen && !memcmp(a, b, alen), "saved twice: %zu and %zu bytes", alen,
		   blen);
	FUZZ_LOG("lxsave: loaded: %u descriptors' table, %zu mappings, %zu bytes saved\n", p->nfds,
		 p->nvmas, alen);
	free(a);
	free(b);
	lx_proc_free(q);
	lx_proc_free(p);
	FUZZ_CHECK(lowest_fd() == fd0, "a descriptor leaked");
	return 0;
}
