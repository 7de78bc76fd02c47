/* snapshot_restore.c: restore a chain of snapshots (a base and its diffs), each verified and
 * the chain checked, into a template whose clones resume where the chain ends. */
#define _GNU_SOURCE
#include "snapshot.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/layout.h"
#include "guestabi/lx.h"
#include "snapshot_int.h"

#define SNAP_SEALS     (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)
#define SNAP_CHAIN_MAX 4096

static int fill_pwrite(int fd, const uint8_t *src, uint64_t len, uint64_t off)
{
	if (fd_pwrite_all(fd, src, len, off) < 0)
		return err_sys("writing restored memory");
	return 0;
}

/* Applies one file's pages to memfd: runs of consecutive stored pages in one write each. */
static int apply_file(int memfd, const struct snap_file *f, uint8_t *data_map)
{
	uint64_t i = 0, d = 0, n = f->hdr.index_entries;

	while (i < n) {
		uint64_t page = f->index[i] & ~SNAP_ZERO_PAGE, j = i + 1;

		if (f->index[i] & SNAP_ZERO_PAGE) {
			if (fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)(page * PAGE), PAGE) < 0)
				return err_sys("punching a zero page");
			data_map[page >> 3] &= (uint8_t) ~(1u << (page & 7));
			i++;
			continue;
		}
		while (j < n && !(f->index[j] & SNAP_ZERO_PAGE) && f->index[j] == page + (j - i))
			j++;
		if (fill_pwrite(memfd, f->data + d * PAGE, (j - i) * PAGE, page * PAGE) < 0)
			return -1;
		for (; i < j; i++, d++, page++)
			data_map[page >> 3] |= (uint8_t)(1u << (page & 7));
	}
	return 0;
}

static int check_chain(struct snap_file *files, const char *const *paths, size_t n)
{
	char want[33], got[33];
	size_t i;

	if (files[0].hdr.kind != SNAP_BASE)
		return err_set("snapshot %s: is a diff (checkpoint %lu); a chain starts with a base",
			       paths[0], (unsigned long)files[0].hdr.seq);
	for (i = 1; i < n; i++) {
		const struct snap_header *h = &files[i].hdr, *p = &files[i - 1].hdr;

		if (h->kind != SNAP_DIFF)
			return err_set("snapshot %s: is a base; only diffs may follow the first file",
				       paths[i]);
		if (h->mem_size != p->mem_size)
			return err_set("snapshot %s: for a %lu MiB guest, but %s is for %lu MiB",
				       paths[i], (unsigned long)(h->mem_size >> 20), paths[i - 1],
				       (unsigned long)(p->mem_size >> 20));
		if (memcmp(h->parent_hash, p->content_hash, 16) != 0) {
			snap_hash_hex(h->parent_hash, want);
			snap_hash_hex(p->content_hash, got);
			return err_set("snapshot %s: its parent is %s, but the file before it (%s) "
				       "is %s: wrong order or a foreign chain",
				       paths[i], want, paths[i - 1], got);
		}
	}
	return 0;
}

/* The image for a restored guest: the ELF's symbols when it is still there and unchanged. */
static struct image *restore_image(const struct snap_header *base, int memfd,
				   uint8_t *data_map, const char *name)
{
	struct image *img = calloc(1, sizeof(*img));
	uint64_t npages = base->mem_size / PAGE, p;
	uint8_t *buf = NULL;
	struct stat st;
	int fd = -1;

	if (!img) {
		free(data_map);
		err_set("out of memory");
		return NULL;
	}
	img->refs = 1;
	img->memfd = fcntl(memfd, F_DUPFD_CLOEXEC, 0);
	img->mem_size = base->mem_size;
	img->data_map = data_map;
	for (p = 0; p < npages; p++)
		img->data_pages += image_page_has_data(img, p);
	img->heap_end = layout_guard_page(base->mem_size);
	/* A path the file names: only a regular file of the recorded size (no FIFO, no device). */
	if (base->elf_path[0] && base->elf_size <= MVMM_MEM_MAX)
		fd = fd_open_regular(base->elf_path, 0);
	if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_size == base->elf_size &&
	    (buf = malloc(base->elf_size)) &&
	    pread(fd, buf, base->elf_size, 0) == (ssize_t)base->elf_size) {
		uint8_t h[16];

		hash128(buf, base->elf_size, h);
		if (memcmp(h, base->elf_hash, 16) == 0 &&
		    elfload_parse(buf, base->elf_size, base->mem_size, MVMM_IMAGE_BASE,
				  &img->prog) == 0) {
			img->name = strdup(base->elf_path);
			if (image_place_interp(img, buf, base->elf_size, 0, NULL, NULL, NULL) < 0)
				img->heap_start = img->prog.hi; /* the record check names it */
		}
	}
	if (fd >= 0)
		close(fd);
	free(buf);
	if (!img->name)
		img->name = strdup(name);
	if (img->memfd < 0 || !img->name) {
		image_put(img);
		err_set("out of memory");
		return NULL;
	}
	return img;
}

/*
 * The image's read-only 2 MiB pages under mode, when the ELF was found and
 * parsed: the restored memory holds their pages (they are never written), so
 * it feeds the huge-page memfd as an image's own memfd would.
 */
static int restore_huge(struct image *img, int memfd, enum huge_mode mode)
{
	if (img->prog.nsegs == 0)
		return 0; /* the ELF is gone or changed: symbols and plan unknown, 4 KiB pages */
	if (image_plan_huge(img, mode) < 0)
		return -1;
	return image_fill_huge(img, memfd, mode);
}

/* The guest's process state into tpl, from the chain's last file (snap_verify saw one). */
static int restore_lx(struct template *tpl, const struct snap_file *last, const char *name,
		      const struct vm_config *cfg)
{
	if (!last->lx)
		return err_set("snapshot %s: no process state", name);
	tpl->lx = lx_proc_load(last->lx, last->lx_len, cfg, tpl->mem_size, tpl->img, 0, NULL);
	if (!tpl->lx)
		return err_prefix("snapshot %s", name);
	return 0;
}

static struct template *restore_build(struct snap_file *files, size_t n, const char *name,
				      enum huge_mode mode, const struct vm_config *cfg)
{
	const struct snap_header *base = &files[0].hdr, *last = &files[n - 1].hdr;
	uint64_t npages = base->mem_size / PAGE;
	struct template *tpl = NULL;
	struct image *img = NULL;
	uint8_t *data_map;
	size_t i;
	int memfd;

	data_map = calloc((npages + 7) / 8, 1);
	memfd = memfd_create("mvmm-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (!data_map || memfd < 0) {
		free(data_map);
		if (memfd >= 0)
			close(memfd);
		err_sys("restoring a snapshot");
		return NULL;
	}
	if (ftruncate(memfd, (off_t)base->mem_size) < 0) {
		err_sys("sizing the restored memory");
		goto fail;
	}
	for (i = 0; i < n; i++)
		if (apply_file(memfd, &files[i], data_map) < 0)
			goto fail;
	if (fcntl(memfd, F_ADD_SEALS, SNAP_SEALS) < 0) {
		err_sys("sealing the restored memory");
		goto fail;
	}
	img = restore_image(base, memfd, data_map, name);
	data_map = NULL;
	if (!img)
		goto fail;
	if (restore_huge(img, memfd, mode) < 0) {
		image_put(img);
		goto fail;
	}
	tpl = template_from_parts(img, memfd, &last->state, last->resume_gpa);
	memfd = -1; /* taken, even on failure */
	image_put(img);
	if (!tpl)
		return NULL;
	tpl->data_pages = img->data_pages;
	if (last->resume_kind == SNAP_RESUME_CHECKPOINT)
		tpl->resume_ret = last->resume_ret;
	if (restore_lx(tpl, &files[n - 1], name, cfg) < 0) {
		template_put(tpl);
		return NULL;
	}
	return tpl;
fail:
	free(data_map);
	if (memfd >= 0)
		close(memfd);
	return NULL;
}

struct template *snap_restore(const char *const *paths, size_t n)
{
	return snap_restore_with(paths, n, HUGE_MODE_OFF);
}

struct template *snap_restore_with(const char *const *paths, size_t n, enum huge_mode huge)
{
	return snap_restore_cfg(paths, n, huge, NULL);
}

struct template *snap_restore_cfg(const char *const *paths, size_t n, enum huge_mode huge,
				  const struct vm_config *cfg)
{
	struct snap_file *files;
	struct template *tpl = NULL;
	size_t i, loaded = 0;

	if (n == 0 || n > SNAP_CHAIN_MAX) {
		err_set("a snapshot chain needs 1 to %u files", SNAP_CHAIN_MAX);
		return NULL;
	}
	files = calloc(n, sizeof(*files));
	if (!files) {
		err_set("out of memory");
		return NULL;
	}
	for (loaded = 0; loaded < n; loaded++)
		if (snap_file_load(paths[loaded], &files[loaded]) < 0)
			goto done;
	if (check_chain(files, paths, n) == 0)
		tpl = restore_build(files, n, paths[0], huge, cfg);
done:
	for (i = 0; i < loaded; i++)
		snap_file_free(&files[i]);
	free(files);
	return tpl;
}

struct template *snap_restore_list(const char *list, enum huge_mode huge,
				   const struct vm_config *cfg)
{
	const char *paths[SNAP_CHAIN_MAX];
	struct template *tpl;
	char *copy = strdup(list), *save = NULL, *tok;
	size_t n = 0;

	if (!copy) {
		err_set("out of memory");
		return NULL;
	}
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == SNAP_CHAIN_MAX) {
			free(copy);
			err_set("more than %u snapshot files", SNAP_CHAIN_MAX);
			return NULL;
		}
		paths[n++] = tok;
	}
	tpl = snap_restore_cfg(paths, n, huge, cfg);
	free(copy);
	return tpl;
}
