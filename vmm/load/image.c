/* image.c: load a guest ELF into a sealed memfd with its page and descriptor tables. */
#define _GNU_SOURCE
#include "image.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/layout.h"
#include "mvmm_abi.h"
#include "core/vm.h"
#include "core/x86.h"
#include "dynlink.h"
#include "pagetable.h"

#define IMAGE_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

static int image_check_size(uint64_t *mem_size)
{
	/* Check before rounding: rounding a size near 2^64 up would wrap to 0. */
	if (*mem_size < MVMM_MEM_MIN || *mem_size > MVMM_MEM_MAX)
		return err_set("guest memory size %lu bytes is outside %u MiB .. %llu MiB",
			       (unsigned long)*mem_size, MVMM_MEM_MIN >> 20, MVMM_MEM_MAX >> 20);
	*mem_size = (*mem_size + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
	return 0;
}

static void image_copy_segments(uint8_t *mem, const uint8_t *file,
				const struct elfload_program *prog)
{
	size_t i;

	/* Bytes past p_filesz stay zero: the memfd is fresh. */
	for (i = 0; i < prog->nsegs; i++)
		memcpy(mem + prog->segs[i].gpa, file + prog->segs[i].offset, prog->segs[i].filesz);
}

/* Writes program and tables through a shared mapping, then seals the memfd. */
static int image_fill(struct image *img, const void *file, const void *interp)
{
	uint8_t *mem;

	img->memfd = memfd_create("mvmm-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (img->memfd < 0)
		return err_sys("memfd_create");
	if (ftruncate(img->memfd, (off_t)img->mem_size) < 0)
		return err_sys("sizing the image memfd");
	mem = mmap(NULL, img->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED, img->memfd, 0);
	if (mem == MAP_FAILED)
		return err_sys("mapping the image memfd");
	image_copy_segments(mem, file, &img->prog);
	if (interp)
		image_copy_segments(mem, interp, &img->interp);
	x86_build_system(mem);
	pagetable_build(mem, img->mem_size, &img->prog, &img->interp, img->heap_start, &img->huge);
	munmap(mem, img->mem_size);
	/* From here on nobody can change a page under a running guest. */
	if (fcntl(img->memfd, F_ADD_SEALS, IMAGE_SEALS) < 0)
		return err_sys("sealing the image memfd");
	return 0;
}

/*
 * Records which pages of fd hold data, asking the file itself (SEEK_DATA
 * and SEEK_HOLE) so that the accounting and --no-share copies follow
 * exactly what was written, not a guess.
 */
int data_map_of_fd(int fd, uint64_t size, uint8_t **map, uint64_t *pages)
{
	uint64_t npages = size / MVMM_PAGE_SIZE, p;
	off_t data = 0, hole;

	*pages = 0;
	*map = calloc((npages + 7) / 8, 1);
	if (!*map)
		return err_set("out of memory");
	for (;;) {
		data = lseek(fd, data, SEEK_DATA);
		if (data < 0)
			break; /* ENXIO: no data after this point */
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0) {
			free(*map);
			*map = NULL;
			return err_sys("SEEK_HOLE");
		}
		for (p = (uint64_t)data / MVMM_PAGE_SIZE;
		     p < npages && p * MVMM_PAGE_SIZE < (uint64_t)hole; p++) {
			(*map)[p >> 3] |= (uint8_t)(1u << (p & 7));
			(*pages)++;
		}
		data = hole;
	}
	return 0;
}

static int image_map_data(struct image *img)
{
	return data_map_of_fd(img->memfd, img->mem_size, &img->data_map, &img->data_pages);
}

int image_copy_to(const struct image *img, uint8_t *mem)
{
	uint64_t npages = img->mem_size / MVMM_PAGE_SIZE, p, q;

	for (p = 0; p < npages; p = q) {
		if (!image_page_has_data(img, p)) {
			q = p + 1;
			continue;
		}
		for (q = p + 1; q < npages && image_page_has_data(img, q); q++)
			;
		size_t len = (size_t)(q - p) * MVMM_PAGE_SIZE;

		if (fd_pread_all(img->memfd, mem + p * MVMM_PAGE_SIZE, len, p * MVMM_PAGE_SIZE) < 0)
			return err_sys("copying the image");
	}
	return 0;
}

void image_plan_huge_as(struct image *img, enum huge_backing backing)
{
	img->huge.fd = -1;
	img->huge.host_huge = 0;
	img->huge.backing = backing;
	memset(img->huge.chunks, 0, sizeof(img->huge.chunks));
	img->huge.nchunks = 0;
	if (backing != HUGE_BACKING_NONE)
		pagetable_plan_huge(img->mem_size, &img->prog, img->heap_start, &img->huge);
	if (img->huge.nchunks == 0)
		img->huge.backing = HUGE_BACKING_NONE;
}

int image_plan_huge(struct image *img, enum huge_mode mode)
{
	enum huge_backing backing = HUGE_BACKING_NONE;

	/* How many chunks qualify decides whether there is anything to ask the host for. */
	image_plan_huge_as(img, mode == HUGE_MODE_OFF ? HUGE_BACKING_NONE : HUGE_BACKING_THP);
	if (img->huge.nchunks && huge_choose(mode, img->huge.nchunks, &backing) < 0)
		return -1;
	if (backing == HUGE_BACKING_NONE)
		image_plan_huge_as(img, HUGE_BACKING_NONE); /* nothing backs them: 4 KiB tables */
	else
		img->huge.backing = backing;
	return 0;
}

int image_fill_huge(struct image *img, int memfd, enum huge_mode mode)
{
	return image_fill_huge_at(img, memfd, 0, mode);
}

int image_fill_huge_at(struct image *img, int memfd, uint64_t off, enum huge_mode mode)
{
	if (huge_overlay_fill_at(memfd, off, img->mem_size, &img->huge) == 0)
		return 0;
	if (mode != HUGE_MODE_AUTO)
		return -1;
	/*
	 * auto never fails: the pool emptied since it was counted. The guest
	 * keeps its 2 MiB entries over the 4 KiB pages of memfd.
	 */
	img->huge.backing = HUGE_BACKING_NONE;
	return 0;
}

struct image *image_load_buffer(const void *elf, size_t len, const char *name, uint64_t mem_size)
{
	return image_load_buffer_at(elf, len, name, mem_size, MVMM_IMAGE_BASE);
}

struct image *image_load_buffer_at(const void *elf, size_t len, const char *name, uint64_t mem_size,
				   uint64_t pie_base)
{
	struct image_params p = {.mem_size = mem_size, .pie_base = pie_base, .huge = HUGE_MODE_OFF};

	return image_load_buffer_with(elf, len, name, &p);
}

struct image *image_load_buffer_with(const void *elf, size_t len, const char *name,
				     const struct image_params *p)
{
	uint64_t mem_size = p->mem_size, pie_base = p->pie_base ? p->pie_base : MVMM_IMAGE_BASE;
	void *interp = NULL;
	size_t interp_len = 0;
	struct image *img;

	if (image_check_size(&mem_size) < 0)
		return NULL;
	img = calloc(1, sizeof(*img));
	if (!img) {
		err_set("out of memory");
		return NULL;
	}
	img->memfd = -1;
	img->huge.fd = -1;
	img->refs = 1;
	img->mem_size = mem_size;
	img->name = strdup(name ? name : "(buffer)");
	if (!img->name) {
		err_set("out of memory");
		goto fail;
	}
	if (elfload_parse(elf, len, mem_size, pie_base, &img->prog) < 0) {
		err_prefix("%s", img->name);
		goto fail;
	}
	img->heap_end = layout_guard_page(mem_size);
	if (image_place_interp(img, elf, len, p->interp_slide, p->needed, &interp, &interp_len) < 0 ||
	    image_plan_huge(img, p->huge) < 0 || image_fill(img, elf, interp) < 0 ||
	    image_map_data(img) < 0 || image_fill_huge(img, img->memfd, p->huge) < 0) {
		err_prefix("%s", img->name);
		goto fail;
	}
	free(interp);
	return img;
fail:
	free(interp);
	image_put(img);
	return NULL;
}

static void *image_read_file(const char *path, size_t *len)
{
	struct stat st;
	void *buf = NULL;
	size_t done = 0;
	int fd;

	fd = fd_open_regular_msg(path, "");
	if (fd < 0) {
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		err_sys("%s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err_set("%s: not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > MVMM_MEM_MAX) {
		err_set("%s: file larger than any guest memory", path);
		goto out;
	}
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		err_set("out of memory");
		goto out;
	}
	if (fd_read_all(fd, buf, (size_t)st.st_size) < 0) {
		err_sys("%s: read", path);
		free(buf);
		buf = NULL;
		goto out;
	}
	done = (size_t)st.st_size;
	*len = done;
out:
	close(fd);
	return buf;
}

int image_place_interp(struct image *img, const void *elf, size_t elf_len, uint64_t slide,
		       const struct dl_needed *known, void **file, size_t *len)
{
	const char *path = img->prog.interp;
	uint64_t base;
	size_t n = 0;
	void *buf;

	img->heap_start = img->prog.hi;
	if (!path)
		return 0;
	buf = image_read_file(path, &n);
	if (!buf)
		return err_prefix("its interpreter");
	base = (img->prog.hi + HUGE_PAGE_SIZE - 1) & ~(uint64_t)(HUGE_PAGE_SIZE - 1);
	base += slide % HUGE_PAGE_SIZE & ~(uint64_t)(MVMM_PAGE_SIZE - 1);
	if (elfload_parse(buf, n, img->mem_size, base, &img->interp) < 0) {
		free(buf);
		return err_prefix("its interpreter %s", path);
	}
	if (!img->interp.pie || img->interp.interp) {
		free(buf);
		elfload_free(&img->interp);
		memset(&img->interp, 0, sizeof(img->interp));
		return err_set("its interpreter %s is not a dynamic loader (ET_DYN, no PT_INTERP)",
			       path);
	}
	img->heap_start = img->interp.hi;
	if (known ? dl_needed_copy(&img->needed, known) < 0
		  : dl_needed_resolve(img->name, elf, elf_len, path, &img->needed) < 0) {
		free(buf);
		return err_prefix("its libraries");
	}
	if (file) {
		*file = buf;
		*len = n;
	} else {
		free(buf);
	}
	return 0;
}

struct image *image_load_file(const char *path, uint64_t mem_size)
{
	return image_load_file_at(path, mem_size, MVMM_IMAGE_BASE);
}

struct image *image_load_file_at(const char *path, uint64_t mem_size, uint64_t pie_base)
{
	struct image_params p = {.mem_size = mem_size, .pie_base = pie_base, .huge = HUGE_MODE_OFF};

	return image_load_file_with(path, &p);
}

struct image *image_load_file_with(const char *path, const struct image_params *p)
{
	struct image *img;
	size_t len = 0;
	void *buf;

	buf = image_read_file(path, &len);
	if (!buf)
		return NULL;
	img = image_load_buffer_with(buf, len, path, p);
	free(buf);
	return img;
}

/*
 * A PIE placed at a random base in the lower quarter of guest memory above
 * MVMM_IMAGE_BASE (each server generation gets its own): any page (4,096
 * bases in a 64 MiB guest), or a 2 MiB boundary where 2 MiB pages may back
 * its code. Falls back to MVMM_IMAGE_BASE when the program does not fit
 * there. An ET_EXEC program loads at its link address either way.
 */
struct image *image_load_file_random(const char *path, uint64_t mem_size, enum huge_mode huge)
{
	enum huge_backing backing = HUGE_BACKING_NONE;
	struct image_params p = {.mem_size = mem_size, .huge = huge};
	uint64_t step, slots, r[2] = {0, 0};
	struct image *img;

	/* 2 MiB pages need a 2 MiB-aligned program; without them any page will do. */
	if (huge == HUGE_MODE_OFF || huge_choose(huge, 1, &backing) < 0)
		backing = HUGE_BACKING_NONE;
	step = backing == HUGE_BACKING_NONE ? MVMM_PAGE_SIZE : HUGE_PAGE_SIZE;
	slots = mem_size / 4 / step;
	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		r[0] = r[1] = (uint64_t)vm_now_ns();
	p.pie_base = MVMM_IMAGE_BASE + (slots ? r[0] % slots : 0) * step;
	p.interp_slide = r[1] % (HUGE_PAGE_SIZE / MVMM_PAGE_SIZE) * MVMM_PAGE_SIZE;
	img = image_load_file_with(path, &p);
	if (!img && p.pie_base != MVMM_IMAGE_BASE) {
		p.pie_base = MVMM_IMAGE_BASE;
		img = image_load_file_with(path, &p);
	}
	return img;
}

struct image *image_get(struct image *img)
{
	__atomic_add_fetch(&img->refs, 1, __ATOMIC_RELAXED);
	return img;
}

void image_put(struct image *img)
{
	if (!img || __atomic_sub_fetch(&img->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (img->memfd >= 0)
		close(img->memfd);
	huge_map_release(&img->huge);
	elfload_free(&img->prog);
	elfload_free(&img->interp);
	dl_needed_free(&img->needed);
	free(img->data_map);
	free(img->name);
	free(img);
}

static void image_vm_release(struct vm *vm)
{
	image_put(vm->img);
	vm->img = NULL;
}

static const struct vm_ext image_vm_ext = {
	.release = image_vm_release,
};

int image_hold_in_vm(struct vm *vm, struct image *img)
{
	if (vm_ext_add(vm, &image_vm_ext) < 0)
		return -1;
	image_get(img);
	if (vm->img)
		image_put(vm->img);
	vm->img = img;
	return 0;
}
