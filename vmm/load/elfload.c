/* elfload.c: validate a guest ELF and describe its segments and symbols. */
#define _GNU_SOURCE
#include "elfload.h"

#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/layout.h"
#include "mvmm_abi.h"

static pthread_once_t elfload_once = PTHREAD_ONCE_INIT;

static void elfload_init_libelf(void)
{
	elf_version(EV_CURRENT);
}

/* a + b without wrapping, else -1. */
static int add_ok(uint64_t a, uint64_t b, uint64_t *sum)
{
	return __builtin_add_overflow(a, b, sum) ? -1 : 0;
}

static int elfload_check_ident(const unsigned char *file, size_t len)
{
	if (len < SELFMAG || memcmp(file, ELFMAG, SELFMAG) != 0)
		return err_set("not an ELF file (bad magic)");
	if (len < EI_NIDENT)
		return err_set("truncated ELF header (%zu of %zu bytes)", len, sizeof(Elf64_Ehdr));
	if (file[EI_CLASS] != ELFCLASS64)
		return err_set("not a 64-bit ELF (class %u); guests are x86-64 ELF64",
			       file[EI_CLASS]);
	if (file[EI_DATA] != ELFDATA2LSB)
		return err_set("not a little-endian ELF (data encoding %u)", file[EI_DATA]);
	if (len < sizeof(Elf64_Ehdr))
		return err_set("truncated ELF header (%zu of %zu bytes)", len, sizeof(Elf64_Ehdr));
	return 0;
}

static int elfload_check_ehdr(const GElf_Ehdr *eh, size_t len)
{
	uint64_t table_size, table_end;

	if (eh->e_machine != EM_X86_64)
		return err_set("wrong machine %u; guests are x86-64 (EM_X86_64)", eh->e_machine);
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return err_set("not an executable (ELF type %u; need ET_EXEC or ET_DYN)",
			       eh->e_type);
	if (eh->e_phnum == 0)
		return err_set("no program headers");
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return err_set("bad program header size %u", eh->e_phentsize);
	if (eh->e_phnum > 64)
		return err_set("too many program headers (%u)", eh->e_phnum);
	table_size = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);
	if (add_ok(eh->e_phoff, table_size, &table_end) < 0 || table_end > len)
		return err_set("truncated: program headers end beyond the file's %zu bytes", len);
	return 0;
}

/* Checks one PT_LOAD header against the file; records it at link address. */
static int elfload_add_segment(struct elfload_program *prog, const GElf_Phdr *ph, size_t idx,
			       size_t len)
{
	struct elfload_segment *seg;
	uint64_t file_end, mem_end;

	if (ph->p_filesz > ph->p_memsz)
		return err_set("segment %zu: p_filesz 0x%lx > p_memsz 0x%lx", idx,
			       (unsigned long)ph->p_filesz, (unsigned long)ph->p_memsz);
	if (add_ok(ph->p_offset, ph->p_filesz, &file_end) < 0)
		return err_set("segment %zu: offset + size overflows", idx);
	if (file_end > len)
		return err_set("truncated: segment %zu's data ends at 0x%lx, beyond the file's "
			       "%zu bytes",
			       idx, (unsigned long)file_end, len);
	if (add_ok(ph->p_vaddr, ph->p_memsz, &mem_end) < 0 || add_ok(mem_end, 4095, &mem_end) < 0)
		return err_set("segment %zu: address + size overflows", idx);
	if (prog->nsegs == ELFLOAD_MAX_SEGMENTS)
		return err_set("too many loadable segments (more than %d)", ELFLOAD_MAX_SEGMENTS);
	seg = &prog->segs[prog->nsegs++];
	seg->gpa = ph->p_vaddr;
	seg->memsz = ph->p_memsz;
	seg->filesz = ph->p_filesz;
	seg->offset = ph->p_offset;
	seg->flags = ph->p_flags;
	return 0;
}

/*
 * PT_INTERP: the dynamic loader's host path, one absolute NUL-terminated
 * string inside the file (the loader is read from the host: image.c).
 */
static int elfload_read_interp(const uint8_t *file, size_t len, const GElf_Phdr *ph,
			       struct elfload_program *prog)
{
	uint64_t end;

	if (prog->interp)
		return err_set("more than one interpreter (PT_INTERP)");
	if (add_ok(ph->p_offset, ph->p_filesz, &end) < 0 || end > len)
		return err_set("truncated: the interpreter's name lies beyond the file");
	if (ph->p_filesz < 2 || ph->p_filesz > ELFLOAD_INTERP_MAX ||
	    file[ph->p_offset + ph->p_filesz - 1] != '\0' ||
	    strlen((const char *)file + ph->p_offset) != ph->p_filesz - 1 ||
	    file[ph->p_offset] != '/')
		return err_set("the interpreter's name (PT_INTERP) is not an absolute path");
	prog->interp = strdup((const char *)file + ph->p_offset);
	if (!prog->interp)
		return err_set("out of memory");
	return 0;
}

static int elfload_read_phdrs(Elf *elf, const GElf_Ehdr *eh, size_t len,
			      struct elfload_program *prog)
{
	GElf_Phdr ph;
	size_t i;

	const uint8_t *file = (const uint8_t *)elf_rawfile(elf, NULL);

	for (i = 0; i < eh->e_phnum; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph))
			return err_set("program header %zu unreadable: %s", i, elf_errmsg(-1));
		if (ph.p_type == PT_INTERP && elfload_read_interp(file, len, &ph, prog) < 0)
			return -1;
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (elfload_add_segment(prog, &ph, i, len) < 0)
			return -1;
	}
	if (prog->nsegs == 0)
		return err_set("no loadable segments");
	return 0;
}

/* The guest address of the program headers: inside a PT_LOAD that maps them from the file. */
static void elfload_find_phdr(const GElf_Ehdr *eh, struct elfload_program *prog)
{
	uint64_t table = (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr);

	prog->phnum = eh->e_phnum;
	for (size_t i = 0; i < prog->nsegs; i++) {
		const struct elfload_segment *s = &prog->segs[i];

		if (eh->e_phoff >= s->offset && eh->e_phoff - s->offset <= s->filesz &&
		    table <= s->filesz - (eh->e_phoff - s->offset)) {
			prog->phdr = s->gpa + (eh->e_phoff - s->offset);
			return;
		}
	}
}

/* Whether a note section holds the retired SDK's note (bounds checked: the file is hostile). */
static int notes_have_mvmm(const uint8_t *p, size_t len)
{
	static const char name[] = MVMM_NOTE_NAME;
	size_t off = 0;

	while (len - off >= 12) {
		uint32_t namesz, descsz, type;
		size_t nlen, dlen;

		memcpy(&namesz, p + off, 4);
		memcpy(&descsz, p + off + 4, 4);
		memcpy(&type, p + off + 8, 4);
		off += 12;
		nlen = ((size_t)namesz + 3) & ~(size_t)3;
		dlen = ((size_t)descsz + 3) & ~(size_t)3;
		if (namesz > len || descsz > len || nlen > len - off || dlen > len - off - nlen)
			return 0;
		if (type == MVMM_NOTE_TYPE && namesz == sizeof(name) &&
		    memcmp(p + off, name, sizeof(name)) == 0)
			return 1;
		off += nlen + dlen;
	}
	return 0;
}

/*
 * The retired SDK's crt0 linked a note into every program it built; such a
 * program expects boot info and hypercalls this VMM no longer has.
 */
static int elfload_is_old_sdk(Elf *elf)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    (sh.sh_type != SHT_NOTE && !(sh.sh_flags & SHF_ALLOC)))
			continue;
		if (sh.sh_type != SHT_NOTE && sh.sh_size > 4096)
			continue;
		d = elf_rawdata(scn, NULL);
		if (d && d->d_buf && notes_have_mvmm(d->d_buf, d->d_size))
			return 1;
	}
	return 0;
}

static int seg_cmp(const void *a, const void *b)
{
	const struct elfload_segment *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

/* Applies the load bias and checks the segments fit the program area. */
static int elfload_place(struct elfload_program *prog, int pie, uint64_t mem_size,
			 uint64_t pie_base)
{
	uint64_t limit = layout_program_limit(mem_size);
	uint64_t end;
	size_t i;

	qsort(prog->segs, prog->nsegs, sizeof(prog->segs[0]), seg_cmp);
	prog->pie = pie;
	prog->base = 0;
	if (pie) {
		uint64_t lo = prog->segs[0].gpa & ~(uint64_t)4095;

		if (lo > pie_base)
			return err_set("PIE's lowest segment 0x%lx is above the load base",
				       (unsigned long)lo);
		prog->base = pie_base - lo;
	}
	for (i = 0; i < prog->nsegs; i++) {
		struct elfload_segment *s = &prog->segs[i];

		if (add_ok(s->gpa, prog->base, &s->gpa) < 0 || add_ok(s->gpa, s->memsz, &end) < 0)
			return err_set("segment at 0x%lx: address overflows",
				       (unsigned long)s->gpa);
		if (s->gpa < MVMM_IMAGE_BASE)
			return err_set(
				"segment at 0x%lx overlaps the VMM's reserved area below 0x%x",
				(unsigned long)s->gpa, MVMM_IMAGE_BASE);
		if (end > limit)
			return err_set("segment 0x%lx-0x%lx lies outside guest memory's program "
				       "area (ends at 0x%lx; try a larger --mem)",
				       (unsigned long)s->gpa, (unsigned long)end,
				       (unsigned long)limit);
		if (i > 0 && s->gpa < prog->segs[i - 1].gpa + prog->segs[i - 1].memsz)
			return err_set("segments at 0x%lx and 0x%lx overlap",
				       (unsigned long)prog->segs[i - 1].gpa, (unsigned long)s->gpa);
	}
	prog->lo = prog->segs[0].gpa & ~(uint64_t)4095;
	end = prog->segs[prog->nsegs - 1].gpa + prog->segs[prog->nsegs - 1].memsz;
	prog->hi = (end + 4095) & ~(uint64_t)4095;
	return 0;
}

static int elfload_check_entry(struct elfload_program *prog, uint64_t link_entry)
{
	uint64_t entry;
	size_t i;

	if (add_ok(link_entry, prog->base, &entry) < 0)
		return err_set("entry point overflows");
	for (i = 0; i < prog->nsegs; i++) {
		const struct elfload_segment *s = &prog->segs[i];

		if ((s->flags & PF_X) && entry >= s->gpa && entry - s->gpa < s->memsz) {
			prog->entry = entry;
			return 0;
		}
	}
	return err_set("entry point 0x%lx is not inside an executable segment",
		       (unsigned long)entry);
}

static int sym_cmp(const void *a, const void *b)
{
	const struct elfload_symbol *x = a, *y = b;

	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

static int sym_wanted(const GElf_Sym *s)
{
	int type = GELF_ST_TYPE(s->st_info);

	return s->st_value != 0 && s->st_shndx != SHN_UNDEF &&
	       (type == STT_FUNC || type == STT_OBJECT || type == STT_NOTYPE);
}

/* Copies the wanted symbols of one SHT_SYMTAB; names go into one block. */
static void elfload_read_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
				struct elfload_program *prog)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n, i, names_len = 0, k = 0;
	GElf_Sym sym;
	char *p;

	if (!data || sh->sh_entsize != sizeof(Elf64_Sym))
		return;
	n = sh->sh_size / sizeof(Elf64_Sym);
	if (n > ELFLOAD_MAX_SYMBOLS)
		n = ELFLOAD_MAX_SYMBOLS;
	for (i = 0; i < n; i++) {
		const char *name;

		if (!gelf_getsym(data, (int)i, &sym) || !sym_wanted(&sym))
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (name && *name)
			names_len += strnlen(name, 256) + 1, k++;
	}
	prog->syms = calloc(k ? k : 1, sizeof(*prog->syms));
	prog->names = malloc(names_len ? names_len : 1);
	if (!prog->syms || !prog->names)
		goto fail;
	p = prog->names;
	for (i = 0; i < n && prog->nsyms < k; i++) {
		const char *name;
		size_t l;

		if (!gelf_getsym(data, (int)i, &sym) || !sym_wanted(&sym))
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name || !*name)
			continue;
		l = strnlen(name, 256);
		memcpy(p, name, l);
		p[l] = '\0';
		prog->syms[prog->nsyms].gpa = sym.st_value + prog->base;
		prog->syms[prog->nsyms].size = sym.st_size;
		prog->syms[prog->nsyms].name = p;
		prog->nsyms++;
		p += l + 1;
	}
	qsort(prog->syms, prog->nsyms, sizeof(*prog->syms), sym_cmp);
	return;
fail:
	free(prog->syms);
	free(prog->names);
	prog->syms = NULL;
	prog->names = NULL;
	prog->nsyms = 0;
}

/* Symbols are a help for fault reports, not a requirement: a broken table is ignored. */
static void elfload_read_symbols(Elf *elf, struct elfload_program *prog)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
			continue;
		elfload_read_symtab(elf, scn, &sh, prog);
		return;
	}
}

int elfload_parse(const void *file, size_t len, uint64_t mem_size, uint64_t pie_base,
		  struct elfload_program *prog)
{
	GElf_Ehdr eh;
	Elf *elf;
	int ret = -1;

	memset(prog, 0, sizeof(*prog));
	pthread_once(&elfload_once, elfload_init_libelf);
	if (elfload_check_ident(file, len) < 0)
		return -1;
	/* libelf only reads a native-endian ELF64 in memory; the cast drops no promise. */
	elf = elf_memory((char *)file, len);
	if (!elf)
		return err_set("malformed ELF: %s", elf_errmsg(-1));
	if (!gelf_getehdr(elf, &eh)) {
		err_set("malformed ELF header: %s", elf_errmsg(-1));
		goto out;
	}
	if (elfload_check_ehdr(&eh, len) < 0 || elfload_read_phdrs(elf, &eh, len, prog) < 0 ||
	    elfload_place(prog, eh.e_type == ET_DYN, mem_size, pie_base) < 0 ||
	    elfload_check_entry(prog, eh.e_entry) < 0)
		goto out;
	elfload_find_phdr(&eh, prog);
	if (elfload_is_old_sdk(elf)) {
		err_set("built with an older mvmm SDK (its own libc and hypercalls); "
			"rebuild it with mvmm-cc");
		goto out;
	}
	elfload_read_symbols(elf, prog);
	ret = 0;
out:
	elf_end(elf);
	if (ret < 0)
		elfload_free(prog);
	return ret;
}

char *elfload_interp_of(const void *file, size_t len)
{
	const uint8_t *f = file;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;

	if (len < sizeof(eh) || memcmp(f, ELFMAG, SELFMAG) != 0 || f[EI_CLASS] != ELFCLASS64)
		return NULL;
	memcpy(&eh, f, sizeof(eh));
	if (eh.e_phentsize != sizeof(ph) || eh.e_phoff > len ||
	    (len - eh.e_phoff) / sizeof(ph) < eh.e_phnum)
		return NULL;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		memcpy(&ph, f + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_INTERP || ph.p_offset > len || len - ph.p_offset < ph.p_filesz ||
		    ph.p_filesz < 2 || ph.p_filesz > ELFLOAD_INTERP_MAX ||
		    f[ph.p_offset + ph.p_filesz - 1] != '\0')
			continue;
		return strdup((const char *)f + ph.p_offset);
	}
	return NULL;
}

void elfload_free(struct elfload_program *prog)
{
	free(prog->interp);
	prog->interp = NULL;
	free(prog->syms);
	free(prog->names);
	prog->syms = NULL;
	prog->names = NULL;
	prog->nsyms = 0;
}

const struct elfload_symbol *elfload_symbol_at(const struct elfload_program *prog, uint64_t gpa,
					       uint64_t *offset)
{
	size_t lo = 0, hi = prog->nsyms;
	const struct elfload_symbol *s;

	/* The last symbol starting at or below gpa. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (prog->syms[mid].gpa <= gpa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	s = &prog->syms[lo - 1];
	if (s->size && gpa - s->gpa >= s->size)
		return NULL;
	if (offset)
		*offset = gpa - s->gpa;
	return s;
}
