/* image.h: a guest program prepared once in a sealed memfd, mapped by every instance. */
#ifndef MVMM_IMAGE_H
#define MVMM_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "core/hugepage.h"
#include "dynlink.h"
#include "elfload.h"

struct image {
	int memfd;	   /* sealed: F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE */
	uint64_t mem_size; /* guest memory size; the memfd's size */
	uint64_t heap_start;
	uint64_t heap_end;
	struct elfload_program prog;
	struct elfload_program interp; /* prog.interp's dynamic loader (nsegs 0: static) */
	struct dl_needed needed;       /* what the guest sees of the host to start (dynamic) */
	uint8_t *data_map; /* one bit per page: 1 where the image holds data, 0 for holes */
	uint64_t data_pages;
	char *name; /* path or caller-given name, for messages */
	struct huge_map huge; /* its guest 2 MiB pages and their host backing */
	int refs;
};

/* How to build an image. */
struct image_params {
	uint64_t mem_size;
	uint64_t pie_base;   /* where a PIE goes (2 MiB-aligned); 0: MVMM_IMAGE_BASE */
	enum huge_mode huge; /* 0 is HUGE_MODE_AUTO */
	uint64_t interp_slide; /* a dynamic program's loader this far above its slot (pages, < 2 MiB) */
	const struct dl_needed *needed; /* its closure, already resolved (the cache's), or NULL */
};

/*
 * Prepares a guest image from an ELF file or buffer: segments loaded, page
 * and descriptor tables built, the rest of memory left as holes (read as
 * zero, cost nothing until written). mem_size is rounded up to 2 MiB and
 * must lie in [MVMM_MEM_MIN, MVMM_MEM_MAX].
 */
struct image *image_load_file(const char *path, uint64_t mem_size);
struct image *image_load_buffer(const void *elf, size_t len, const char *name, uint64_t mem_size);
/* The same with every parameter; the functions above build 4 KiB pages only (HUGE_MODE_OFF). */
struct image *image_load_buffer_with(const void *elf, size_t len, const char *name,
				     const struct image_params *p);
struct image *image_load_file_with(const char *path, const struct image_params *p);
/* The same with a PIE placed at pie_base (2 MiB-aligned, >= MVMM_IMAGE_BASE). */
struct image *image_load_file_at(const char *path, uint64_t mem_size, uint64_t pie_base);
struct image *image_load_buffer_at(const void *elf, size_t len, const char *name, uint64_t mem_size,
				   uint64_t pie_base);
/*
 * A PIE at a random base (a new one for each call: page-granular, or in 2 MiB
 * steps when 2 MiB pages may back it), and its loader at a random page
 * above; ET_EXEC at its link address.
 */
struct image *image_load_file_random(const char *path, uint64_t mem_size, enum huge_mode huge);

/*
 * Plans img's guest 2 MiB pages (img->prog and heap_start set) and picks
 * their backing under mode (huge_choose: AUTO falls back to none with a
 * hint, THP and HUGETLB fail when the host lacks them). With no backing
 * there is no plan: the tables stay 4 KiB.
 */
int image_plan_huge(struct image *img, enum huge_mode mode);
/* The same with the backing already decided (a cache entry built with it). */
void image_plan_huge_as(struct image *img, enum huge_backing backing);
/*
 * Builds img's huge-page memfd from memfd, which holds its pages (its own,
 * a cache file's, a restored snapshot's). Under AUTO a pool that emptied
 * since huge_choose counted it leaves 4 KiB host pages instead of failing.
 */
int image_fill_huge(struct image *img, int memfd, enum huge_mode mode);
/* The same from a file holding guest page 0 at offset off (a snapshot base file). */
int image_fill_huge_at(struct image *img, int memfd, uint64_t off, enum huge_mode mode);

/*
 * Places a dynamic program's loader (img->prog.interp, read from the host)
 * at the first 2 MiB boundary above the program plus slide (page-aligned,
 * below 2 MiB; 0 where an image is rebuilt from memory), sets heap_start past
 * whichever ends last, and resolves the files the program needs to start
 * (img->needed, from its ELF: elf, elf_len; or a copy of known, when the
 * caller resolved it already). When file is not NULL the
 * loader's bytes are kept for the image's fill (*file, *len, malloc'd).
 * A static program: the heap starts at the program's end. The loader must
 * be an x86-64 ET_DYN ELF with no interpreter of its own.
 */
int image_place_interp(struct image *img, const void *elf, size_t elf_len, uint64_t slide,
		       const struct dl_needed *known, void **file, size_t *len);

/* Whether bit `page` is set in a data map (one bit per guest page). */
static inline int data_map_test(const uint8_t *map, uint64_t page)
{
	return (map[page >> 3] >> (page & 7)) & 1;
}

/* Whether guest page `page` (index) holds image data rather than a hole. */
static inline int image_page_has_data(const struct image *img, uint64_t page)
{
	return data_map_test(img->data_map, page);
}

/* The pages of fd (size bytes) that hold data, as a malloc'd bitmap, and how many. */
int data_map_of_fd(int fd, uint64_t size, uint8_t **map, uint64_t *pages);

/* Copies the image's data pages into mem (a private, zeroed guest-sized mapping). */
int image_copy_to(const struct image *img, uint8_t *mem);

/* Reference counting: instances hold the image they map. */
struct image *image_get(struct image *img);
void image_put(struct image *img);

struct vm;
/* Makes vm hold img as its program's image (vm->img), released with the VM. */
int image_hold_in_vm(struct vm *vm, struct image *img);

#endif
