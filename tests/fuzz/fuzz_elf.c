/* fuzz_elf.c: libFuzzer target: the guest ELF loader (elfload_parse, image_load_buffer) on the
 * input as a guest ELF file. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "core/layout.h"
#include "load/elfload.h"
#include "load/image.h"
#include "mvmm_abi.h"

#include "fuzz.h"

#define FUZZ_MEM (16ull << 20)

/* What elfload.h promises of an accepted program. */
static void check_program(const struct elfload_program *p, size_t len, uint64_t mem_size,
			  uint64_t pie_base)
{
	uint64_t limit = layout_program_limit(mem_size);
	size_t i;

	FUZZ_CHECK(p->nsegs >= 1 && p->nsegs <= ELFLOAD_MAX_SEGMENTS, "%zu segments", p->nsegs);
	FUZZ_CHECK(p->pie || p->base == 0, "ET_EXEC with base 0x%lx", (unsigned long)p->base);
	FUZZ_CHECK(!p->pie || p->lo == pie_base, "PIE at 0x%lx, asked 0x%lx", (unsigned long)p->lo,
		   (unsigned long)pie_base);
	for (i = 0; i < p->nsegs; i++) {
		const struct elfload_segment *s = &p->segs[i];

		FUZZ_CHECK(s->gpa >= MVMM_IMAGE_BASE && s->gpa <= limit &&
				   s->memsz <= limit - s->gpa,
			   "segment 0x%lx+0x%lx outside [0x%x, 0x%lx)", (unsigned long)s->gpa,
			   (unsigned long)s->memsz, MVMM_IMAGE_BASE, (unsigned long)limit);
		FUZZ_CHECK(s->filesz <= s->memsz, "segment %zu filesz > memsz", i);
		FUZZ_CHECK(s->offset <= len && s->filesz <= len - s->offset,
			   "segment %zu's data 0x%lx+0x%lx beyond the file's %zu bytes", i,
			   (unsigned long)s->offset, (unsigned long)s->filesz, len);
		FUZZ_CHECK(i == 0 || s->gpa >= p->segs[i - 1].gpa + p->segs[i - 1].memsz,
			   "segments %zu and %zu overlap or are unsorted", i - 1, i);
	}
	FUZZ_CHECK(p->lo <= p->segs[0].gpa && p->hi <= limit && p->lo < p->hi, "span 0x%lx-0x%lx",
		   (unsigned long)p->lo, (unsigned long)p->hi);
	FUZZ_CHECK(p->lo % MVMM_PAGE_SIZE == 0 && p->hi % MVMM_PAGE_SIZE == 0, "span not aligned");
	for (i = 0; i < p->nsegs; i++)
		if ((p->segs[i].flags & 1) && p->entry >= p->segs[i].gpa &&
		    p->entry - p->segs[i].gpa < p->segs[i].memsz)
			break;
	FUZZ_CHECK(i < p->nsegs, "entry 0x%lx in no executable segment", (unsigned long)p->entry);
	for (i = 0; i < p->nsyms; i++) {
		const struct elfload_symbol *s = &p->syms[i];
		uint64_t off = 0;

		FUZZ_CHECK(i == 0 || p->syms[i - 1].gpa <= s->gpa, "symbols unsorted at %zu", i);
		FUZZ_CHECK(s->name >= p->names && strlen(s->name) <= 256, "symbol %zu's name", i);
		/* the lookup must find a symbol at each symbol's own address */
		FUZZ_CHECK(elfload_symbol_at(p, s->gpa, &off) != NULL || s->size == 0,
			   "no symbol at 0x%lx", (unsigned long)s->gpa);
	}
	elfload_symbol_at(p, p->entry, NULL);
	elfload_symbol_at(p, 0, NULL);
	elfload_symbol_at(p, UINT64_MAX, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct elfload_program prog;
	struct image *img;

	if (elfload_parse(data, size, FUZZ_MEM, MVMM_IMAGE_BASE, &prog) < 0) {
		FUZZ_LOG("elf: rejected: %s\n", mvmm_errmsg());
	} else {
		FUZZ_LOG("elf: accepted: %zu segments, %zu symbols, entry 0x%lx\n", prog.nsegs,
			 prog.nsyms, (unsigned long)prog.entry);
		check_program(&prog, size, FUZZ_MEM, MVMM_IMAGE_BASE);
		/*
		 * What the parser accepted the image must load: segments copied, tables built;
		 * a dynamic one's loader is a host file, which may be missing or no loader.
		 */
		img = image_load_buffer(data, size, "fuzz", FUZZ_MEM);
		FUZZ_CHECK(img != NULL || prog.interp, "image_load_buffer refused what elfload_parse "
			   "took: %s", mvmm_errmsg());
		FUZZ_CHECK(!img || (img->heap_start >= img->prog.hi &&
				    img->heap_start <= img->heap_end),
			   "heap 0x%lx-0x%lx", img ? (unsigned long)img->heap_start : 0ul,
			   img ? (unsigned long)img->heap_end : 0ul);
		image_put(img);
		elfload_free(&prog);
	}
	/* The largest guest with a PIE placed high: the placement arithmetic near its limits. */
	if (elfload_parse(data, size, MVMM_MEM_MAX, MVMM_MEM_MAX / 2, &prog) == 0) {
		check_program(&prog, size, MVMM_MEM_MAX, MVMM_MEM_MAX / 2);
		elfload_free(&prog);
	}
	return 0;
}
