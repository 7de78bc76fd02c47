/* elfload.h: parse and validate an x86-64 guest ELF (libelf underneath). */
#ifndef MVMM_ELFLOAD_H
#define MVMM_ELFLOAD_H

#include <stddef.h>
#include <stdint.h>

#define ELFLOAD_MAX_SEGMENTS 32
#define ELFLOAD_MAX_SYMBOLS  (1u << 20)
#define ELFLOAD_INTERP_MAX   4096 /* bytes of PT_INTERP's path, its NUL included */

struct elfload_segment {
	uint64_t gpa; /* where it goes in guest memory (load base applied) */
	uint64_t memsz;
	uint64_t filesz;
	uint64_t offset; /* in the file */
	uint32_t flags;	 /* PF_R | PF_W | PF_X */
};

struct elfload_symbol {
	uint64_t gpa;
	uint64_t size;
	const char *name; /* points into elfload_program.names */
};

struct elfload_program {
	int pie;	 /* ET_DYN: loaded at `base` */
	uint64_t phdr;	 /* guest address of the program headers (AT_PHDR), 0 if not loaded */
	uint32_t phnum;	 /* AT_PHNUM */
	uint64_t base;	 /* load bias added to every address (0 for ET_EXEC) */
	uint64_t entry;	 /* guest address of the entry point */
	uint64_t lo, hi; /* page-aligned guest span of all PT_LOAD segments */
	size_t nsegs;
	struct elfload_segment segs[ELFLOAD_MAX_SEGMENTS];
	struct elfload_symbol *syms; /* sorted by address */
	size_t nsyms;
	char *names;
	char *interp; /* PT_INTERP: the dynamic loader's absolute path, or NULL (static) */
};

/*
 * Checks `file` (len bytes) as a guest program for a guest of mem_size bytes
 * and fills *prog: a Linux executable (ET_EXEC, or PIE placed at pie_base)
 * whose system calls the VMM answers; a dynamic one names its loader in
 * prog->interp. Every rejection names the
 * problem (not ELF, wrong class or machine, a bad PT_INTERP, truncated, a
 * segment outside guest memory or over the VMM's reserved area, p_filesz >
 * p_memsz, overflow, entry outside an executable segment, built by the
 * retired mvmm SDK: its note).
 * Nothing in a hostile file can make this crash: all sums are checked.
 */
int elfload_parse(const void *file, size_t len, uint64_t mem_size, uint64_t pie_base,
		  struct elfload_program *prog);
void elfload_free(struct elfload_program *prog);

/* A quick look, no checks beyond bounds: file's PT_INTERP path (malloc'd), or NULL. */
char *elfload_interp_of(const void *file, size_t len);

/* The symbol containing gpa (or NULL), and gpa's offset into it. */
const struct elfload_symbol *elfload_symbol_at(const struct elfload_program *prog, uint64_t gpa,
					       uint64_t *offset);

#endif
