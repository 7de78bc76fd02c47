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
/* Runs of diff pages a restore maps over the base (each a mapping in every clone) at most */
#define SNAP_OVL_RUNS 256

static int fill_pwrite(int fd, const uint8_t *src, uint64_t len, uint64_t off)
{
	if (fd_pwrite_all(fd, src, len, off) < 0)
		return err_sys("writing restored memory");
	return 0;
}

/*
 * Applies one file's pages to memfd: runs of consecutive stored pages in one
 * write each; marks every page the file names in touched (unless NULL).
 */
static int apply_file(int memfd, const struct snap_file *f, uint8_t *data_map, uint8_t *touched)
{
	uint64_t i = 0, d = 0, n = f->hdr.index_entries;

	while (i < n) {
		uint64_t page = f->index[i] & ~SNAP_ZERO_PAGE, j = i + 1;

		if (touched)
			touched[page >> 3] |= (uint8_t)(1u << (page & 7));
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
		/* consecutive pages lie together in both layouts (a base's and a diff's) */
		if (fill_pwrite(memfd, snap_page(f, page, d), (j - i) * PAGE, page * PAGE) < 0)
			return -1;
		for (; i < j; i++, d++, page++) {
			data_map[page >> 3] |= (uint8_t)(1u << (page & 7));
			if (touched)
				touched[page >> 3] |= (uint8_t)(1u << (page & 7));
		}
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
static int restore_huge(struct image *img, int memfd, uint64_t off, enum huge_mode mode)
{
	if (img->prog.nsegs == 0)
		return 0; /* the ELF is gone or changed: symbols and plan unknown, 4 KiB pages */
	if (image_plan_huge(img, mode) < 0)
		return -1;
	return image_fill_huge_at(img, memfd, off, mode);
}

/*
 * The image's 2 MiB pages hide what lies under them: a diff may not change
 * one (a program's read-only pages are never written, so no diff of a run
 * of it holds any); a mapped overlay could not split them either.
 */
static int overlay_under_huge(const struct image *img, uint64_t (*runs)[2], uint32_t n,
			      const char *name)
{
	const uint64_t per = HUGE_PAGE_SIZE / PAGE;
	uint32_t i;
	uint64_t c;

	if (img->huge.backing == HUGE_BACKING_NONE)
		return 0;
	for (i = 0; i < n; i++)
		for (c = runs[i][0] / per; c <= (runs[i][0] + runs[i][1] - 1) / per; c++)
			if (huge_map_test(&img->huge, c))
				return err_set("snapshot %s: changes the guest program's read-only "
					       "pages (guest page %lu)",
					       name, (unsigned long)runs[i][0]);
	return 0;
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
		if (apply_file(memfd, &files[i], data_map, NULL) < 0)
			goto fail;
	if (fcntl(memfd, F_ADD_SEALS, SNAP_SEALS) < 0) {
		err_sys("sealing the restored memory");
		goto fail;
	}
	img = restore_image(base, memfd, data_map, name);
	data_map = NULL;
	if (!img)
		goto fail;
	if (restore_huge(img, memfd, 0, mode) < 0) {
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

/* The runs of set bits in map (npages bits) into *out; 1 past SNAP_OVL_RUNS of them. */
static int overlay_runs(const uint8_t *map, uint64_t npages, uint64_t (**out)[2], uint32_t *n)
{
	uint64_t(*runs)[2] = calloc(SNAP_OVL_RUNS, sizeof(*runs));
	uint64_t p = 0, q;

	*n = 0;
	*out = runs;
	if (!runs)
		return err_set("out of memory");
	while (p < npages) {
		if (!data_map_test(map, p)) {
			p++;
			continue;
		}
		for (q = p; q < npages && data_map_test(map, q); q++)
			;
		if (*n == SNAP_OVL_RUNS)
			return 1;
		runs[*n][0] = p;
		runs[(*n)++][1] = q - p;
		p = q;
	}
	return 0;
}

/* The pages of mvmm's system area a template's file is checked for (x86_system_is_ours). */
static int in_system_area(uint64_t page)
{
	uint64_t gpa = page * PAGE;

	return (gpa >= MVMM_GDT_GPA && gpa < MVMM_STUBS_GPA + PAGE) || gpa == MVMM_SYSCALL_GPA;
}

/*
 * The diffs of a chain into a new sealed memfd (pages at their guest
 * offsets) and the runs of pages they name, data_map updated. 1 when they
 * scatter over more than SNAP_OVL_RUNS runs (each run is a mapping in every
 * clone): the caller copies the chain instead.
 */
static int build_overlay(struct snap_file *files, size_t n, const char *const *paths,
			 uint8_t *data_map, int *fd, uint64_t (**runs)[2], uint32_t *nruns)
{
	const struct snap_header *base = &files[0].hdr;
	uint64_t npages = base->mem_size / PAGE, p;
	uint8_t *touched = calloc((npages + 7) / 8, 1);
	int r = -1;
	size_t i;

	*runs = NULL;
	*fd = memfd_create("mvmm-snapshot-diffs", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (!touched || *fd < 0 || ftruncate(*fd, (off_t)base->mem_size) < 0) {
		err_sys("restoring a snapshot's diffs");
		goto done;
	}
	for (i = 1; i < n; i++)
		if (apply_file(*fd, &files[i], data_map, touched) < 0)
			goto done;
	for (p = 0; p < npages; p++)
		if (data_map_test(touched, p) && in_system_area(p)) {
			err_set("snapshot %s: changes mvmm's system area (guest page %lu)",
				paths[n - 1], (unsigned long)p);
			goto done;
		}
	if (fcntl(*fd, F_ADD_SEALS, SNAP_SEALS) < 0) {
		err_sys("sealing the restored diffs");
		goto done;
	}
	r = overlay_runs(touched, npages, runs, nruns);
done:
	free(touched);
	if (r != 0) {
		if (*fd >= 0)
			close(*fd);
		*fd = -1;
		free(*runs);
		*runs = NULL;
	}
	return r;
}

/*
 * The chain with its base mapped from the file (guest page 0 at the base's
 * data_offset) and its diffs in an overlay: every process restoring it
 * shares the base's page-cache pages; only the diffs are its own. 1 when it
 * cannot be (the caller copies the chain into a memfd instead).
 */
static int restore_mapped(struct snap_file *files, size_t n, const char *const *paths,
			  enum huge_mode mode, const struct vm_config *cfg, struct template **out)
{
	const struct snap_header *base = &files[0].hdr, *last = &files[n - 1].hdr;
	uint64_t npages = base->mem_size / PAGE, i, (*runs)[2] = NULL;
	uint8_t *data_map = calloc((npages + 7) / 8, 1), *tpl_map = NULL;
	struct template *tpl;
	struct image *img;
	int ovl = -1, fd, r;
	uint32_t nruns = 0;

	*out = NULL;
	if (!data_map)
		return err_set("out of memory");
	for (i = 0; i < base->index_entries; i++)
		if (!(files[0].index[i] & SNAP_ZERO_PAGE))
			data_map[files[0].index[i] >> 3] |= (uint8_t)(1u << (files[0].index[i] & 7));
	if (n > 1) {
		r = build_overlay(files, n, paths, data_map, &ovl, &runs, &nruns);
		if (r != 0) {
			free(data_map);
			return r;
		}
		if (!nruns) { /* diffs that name no page */
			close(ovl);
			ovl = -1;
		}
	}
	tpl_map = malloc((npages + 7) / 8);
	fd = fcntl(files[0].fd, F_DUPFD_CLOEXEC, 0);
	if (!tpl_map || fd < 0) {
		err_sys("restoring a snapshot");
		goto fail;
	}
	memcpy(tpl_map, data_map, (npages + 7) / 8);
	img = restore_image(base, fd, data_map, paths[0]);
	data_map = NULL;
	if (!img)
		goto fail;
	if (restore_huge(img, fd, base->data_offset, mode) < 0 ||
	    overlay_under_huge(img, runs, nruns, paths[n - 1]) < 0) {
		image_put(img);
		goto fail;
	}
	tpl = template_from_file(img, fd, base->data_offset, ovl, runs, nruns, tpl_map,
				 &last->state, last->resume_gpa);
	image_put(img);
	if (!tpl)
		return -1;
	if (last->resume_kind == SNAP_RESUME_CHECKPOINT)
		tpl->resume_ret = last->resume_ret;
	if (restore_lx(tpl, &files[n - 1], paths[0], cfg) < 0) {
		template_put(tpl);
		return -1;
	}
	*out = tpl;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (nruns)
		close(ovl);
	free(runs);
	free(tpl_map);
	free(data_map);
	return -1;
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
	if (check_chain(files, paths, n) < 0)
		goto done;
	/* Mapped from the file when it may be (snap_file_load). */
	if (files[0].mappable && restore_mapped(files, n, paths, huge, cfg, &tpl) <= 0)
		goto done;
	tpl = restore_build(files, n, paths[0], huge, cfg);
done:
	for (i = 0; i < loaded; i++)
		snap_file_free(&files[i]);
	free(files);
	return tpl;
}

/* Splits "BASE[,DIFF...]" into c->paths (c->copy holds them). */
static int chain_split(const char *list, struct snap_chain *c)
{
	char *save = NULL, *tok;

	c->copy = strdup(list);
	c->paths = calloc(SNAP_CHAIN_MAX, sizeof(*c->paths));
	if (!c->copy || !c->paths)
		return err_set("out of memory");
	for (tok = strtok_r(c->copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (c->n == SNAP_CHAIN_MAX)
			return err_set("more than %u snapshot files", SNAP_CHAIN_MAX);
		c->paths[c->n++] = tok;
	}
	if (!c->n)
		return err_set("a snapshot chain needs 1 to %u files", SNAP_CHAIN_MAX);
	return 0;
}

int snap_chain_load(const char *list, struct snap_chain *c)
{
	size_t loaded;

	memset(c, 0, sizeof(*c));
	if (chain_split(list, c) < 0)
		goto fail;
	c->files = calloc(c->n, sizeof(*c->files));
	if (!c->files) {
		err_set("out of memory");
		goto fail;
	}
	for (loaded = 0; loaded < c->n; loaded++)
		if (snap_file_load(c->paths[loaded], &c->files[loaded]) < 0) {
			c->n = loaded;
			goto fail;
		}
	if (check_chain(c->files, c->paths, c->n) < 0)
		goto fail;
	return 0;
fail:
	snap_chain_free(c);
	return -1;
}

void snap_chain_free(struct snap_chain *c)
{
	size_t i;

	for (i = 0; c->files && i < c->n; i++)
		snap_file_free(&c->files[i]);
	free(c->files);
	free(c->paths);
	free(c->copy);
	memset(c, 0, sizeof(*c));
}

struct template *snap_restore_list(const char *list, enum huge_mode huge,
				   const struct vm_config *cfg)
{
	struct snap_chain c = {0};
	struct template *tpl;

	if (chain_split(list, &c) < 0) {
		snap_chain_free(&c);
		return NULL;
	}
	tpl = snap_restore_cfg(c.paths, c.n, huge, cfg);
	snap_chain_free(&c);
	return tpl;
}
