/* test_elf.c: the ELF loader's checks on malformed, hostile and valid guest programs (no KVM). */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/layout.h"
#include "harness.h"
#include "load/elfload.h"
#include "mvmm_abi.h"

#define MEM (64ull << 20)

/*
 * A minimal valid static ELF64: a text segment R+X at 0x401000 (entry at its
 * start) and a data segment R+W at 0x402000 with a bss tail.
 */
#define BASE_LEN 0x2000

struct base_elf {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[3]; /* the third is spare (PT_NULL) for cases that add one */
};

static uint8_t *make_base(void)
{
	uint8_t *f = calloc(1, BASE_LEN);
	struct base_elf *b = (struct base_elf *)f;

	cr_assert(f);
	memcpy(b->eh.e_ident, ELFMAG, SELFMAG);
	b->eh.e_ident[EI_CLASS] = ELFCLASS64;
	b->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	b->eh.e_ident[EI_VERSION] = EV_CURRENT;
	b->eh.e_type = ET_EXEC;
	b->eh.e_machine = EM_X86_64;
	b->eh.e_version = EV_CURRENT;
	b->eh.e_entry = 0x401000;
	b->eh.e_phoff = sizeof(Elf64_Ehdr);
	b->eh.e_ehsize = sizeof(Elf64_Ehdr);
	b->eh.e_phentsize = sizeof(Elf64_Phdr);
	b->eh.e_phnum = 3;
	b->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = 0x1000,
				 .p_vaddr = 0x401000, .p_paddr = 0x401000, .p_filesz = 0x100,
				 .p_memsz = 0x100, .p_align = 0x1000 };
	b->ph[1] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = 0x1800,
				 .p_vaddr = 0x402800, .p_paddr = 0x402800, .p_filesz = 0x100,
				 .p_memsz = 0x2000, .p_align = 0x1000 };
	b->ph[2] = (Elf64_Phdr){ .p_type = PT_NULL };
	memset(f + 0x1000, 0x90, 0x100); /* nops */
	return f;
}

#define EH(f)	  (&((struct base_elf *)(f))->eh)
#define PH(f, i)  (&((struct base_elf *)(f))->ph[i])

/* Each case mutates a fresh copy of the base; len is the length handed to the parser. */
static void m_bad_magic(uint8_t *f, size_t *len) { (void)len; f[1] = 'X'; }
static void m_empty(uint8_t *f, size_t *len) { (void)f; *len = 0; }
static void m_tiny(uint8_t *f, size_t *len) { (void)f; *len = 3; }
static void m_class32(uint8_t *f, size_t *len) { (void)len; f[EI_CLASS] = ELFCLASS32; }
static void m_bigendian(uint8_t *f, size_t *len) { (void)len; f[EI_DATA] = ELFDATA2MSB; }
static void m_i386(uint8_t *f, size_t *len) { (void)len; EH(f)->e_machine = EM_386; }
static void m_aarch64(uint8_t *f, size_t *len) { (void)len; EH(f)->e_machine = EM_AARCH64; }
static void m_rel(uint8_t *f, size_t *len) { (void)len; EH(f)->e_type = ET_REL; }
static void m_core(uint8_t *f, size_t *len) { (void)len; EH(f)->e_type = ET_CORE; }
static void m_trunc_ehdr(uint8_t *f, size_t *len) { (void)f; *len = 40; }
static void m_trunc_phdrs(uint8_t *f, size_t *len) { (void)f; *len = sizeof(Elf64_Ehdr) + 80; }
static void m_phoff_huge(uint8_t *f, size_t *len) { (void)len; EH(f)->e_phoff = UINT64_MAX - 8; }
static void m_phentsize(uint8_t *f, size_t *len) { (void)len; EH(f)->e_phentsize = 32; }
static void m_phnum0(uint8_t *f, size_t *len) { (void)len; EH(f)->e_phnum = 0; }
static void m_phnum_many(uint8_t *f, size_t *len) { (void)len; EH(f)->e_phnum = 65; }
static void m_interp(uint8_t *f, size_t *len)
{
	(void)len;
	*PH(f, 2) = (Elf64_Phdr){ .p_type = PT_INTERP, .p_offset = 0x1f00, .p_filesz = 28,
				  .p_memsz = 28, .p_vaddr = 0x403000 };
}
static void m_filesz(uint8_t *f, size_t *len) { (void)len; PH(f, 0)->p_filesz = 0x101; }
static void m_beyond_eof(uint8_t *f, size_t *len) { (void)len; PH(f, 1)->p_offset = 0x1f80; }
static void m_offset_overflow(uint8_t *f, size_t *len)
{
	(void)len;
	PH(f, 1)->p_offset = UINT64_MAX - 0x10;
}
static void m_vaddr_overflow(uint8_t *f, size_t *len)
{
	(void)len;
	PH(f, 1)->p_vaddr = UINT64_MAX - 0x100;
}
static void m_vaddr_overflow_page(uint8_t *f, size_t *len)
{
	(void)len; /* end fits in 64 bits, but not once rounded up to a page */
	PH(f, 1)->p_vaddr = UINT64_MAX - 0x2100;
}
static void m_low(uint8_t *f, size_t *len) { (void)len; PH(f, 1)->p_vaddr = 0x10000; }
static void m_just_low(uint8_t *f, size_t *len) { (void)len; PH(f, 1)->p_vaddr = 0x3ff000; }
static void m_zero(uint8_t *f, size_t *len) { (void)len; PH(f, 1)->p_vaddr = 0; }
static void m_high(uint8_t *f, size_t *len) { (void)len; PH(f, 1)->p_vaddr = MEM - 0x1000; }
static void m_into_stack(uint8_t *f, size_t *len)
{
	(void)len; /* ends one byte into the guard page below the stack */
	PH(f, 1)->p_vaddr = layout_guard_page(MEM) - 0x2000 + 1;
}
static void m_huge_memsz(uint8_t *f, size_t *len) { (void)len; PH(f, 1)->p_memsz = 1ull << 40; }
static void m_overlap(uint8_t *f, size_t *len) { (void)len; PH(f, 1)->p_vaddr = 0x4010f8; }
static void m_overlap_order(uint8_t *f, size_t *len)
{
	(void)len; /* listed out of order, overlapping once sorted */
	PH(f, 1)->p_vaddr = 0x400f80;
}
static void m_no_load(uint8_t *f, size_t *len)
{
	(void)len;
	PH(f, 0)->p_type = PT_NOTE;
	PH(f, 1)->p_type = PT_NULL;
}
static void m_all_empty(uint8_t *f, size_t *len)
{
	(void)len; /* PT_LOADs of zero size load nothing */
	PH(f, 0)->p_memsz = PH(f, 0)->p_filesz = 0;
	PH(f, 1)->p_memsz = PH(f, 1)->p_filesz = 0;
}
static void m_entry_outside(uint8_t *f, size_t *len) { (void)len; EH(f)->e_entry = 0x500000; }
static void m_entry_end(uint8_t *f, size_t *len) { (void)len; EH(f)->e_entry = 0x401100; }
static void m_entry_zero(uint8_t *f, size_t *len) { (void)len; EH(f)->e_entry = 0; }
static void m_entry_data(uint8_t *f, size_t *len) { (void)len; EH(f)->e_entry = 0x402800; }
static void m_pie_high(uint8_t *f, size_t *len)
{
	(void)len; /* a PIE whose lowest segment lies above the load base */
	EH(f)->e_type = ET_DYN;
	PH(f, 0)->p_vaddr += 0x10000000;
	PH(f, 1)->p_vaddr += 0x10000000;
	EH(f)->e_entry += 0x10000000;
}
static void m_pie_beyond(uint8_t *f, size_t *len)
{
	(void)len; /* PIE at link address 0 whose data lies past the end of memory after the bias */
	EH(f)->e_type = ET_DYN;
	PH(f, 0)->p_vaddr = 0x1000;
	PH(f, 1)->p_vaddr = MEM;
	EH(f)->e_entry = 0x1000;
}

struct bad_case {
	const char *name;
	void (*mutate)(uint8_t *f, size_t *len);
	const char *expect; /* a substring of mvmm_errmsg() */
};

static const struct bad_case bad_cases[] = {
	{ "empty file", m_empty, "not an ELF file" },
	{ "3 bytes", m_tiny, "not an ELF file" },
	{ "bad magic", m_bad_magic, "bad magic" },
	{ "32-bit class", m_class32, "not a 64-bit ELF" },
	{ "big-endian", m_bigendian, "not a little-endian ELF" },
	{ "EM_386", m_i386, "wrong machine 3;" },
	{ "EM_AARCH64", m_aarch64, "wrong machine 183" },
	{ "ET_REL", m_rel, "not an executable (ELF type 1" },
	{ "ET_CORE", m_core, "not an executable (ELF type 4" },
	{ "truncated header", m_trunc_ehdr, "truncated ELF header" },
	{ "truncated program headers", m_trunc_phdrs, "program headers end beyond" },
	{ "program header offset wraps", m_phoff_huge, "program headers end beyond" },
	{ "e_phentsize wrong", m_phentsize, "bad program header size 32" },
	{ "zero phnum", m_phnum0, "no program headers" },
	{ "too many program headers", m_phnum_many, "too many program headers" },
	{ "PT_INTERP not a path", m_interp, "(PT_INTERP) is not an absolute path" },
	{ "p_filesz > p_memsz", m_filesz, "p_filesz 0x101 > p_memsz 0x100" },
	{ "segment data beyond EOF", m_beyond_eof, "segment 1's data ends at 0x2080" },
	{ "offset + filesz overflows", m_offset_overflow, "offset + size overflows" },
	{ "vaddr + memsz overflows", m_vaddr_overflow, "address + size overflows" },
	{ "vaddr + memsz overflows at page rounding", m_vaddr_overflow_page, "overflows" },
	{ "segment in the system area", m_low, "reserved area" },
	{ "segment just below 0x400000", m_just_low, "reserved area" },
	{ "segment at address 0", m_zero, "reserved area" },
	{ "segment beyond guest memory", m_high, "outside guest memory" },
	{ "segment into the stack guard", m_into_stack, "outside guest memory" },
	{ "segment memsz 1 TiB", m_huge_memsz, "outside guest memory" },
	{ "overlapping segments", m_overlap, "overlap" },
	{ "overlapping segments out of order", m_overlap_order, "overlap" },
	{ "no PT_LOAD", m_no_load, "no loadable segments" },
	{ "only empty PT_LOADs", m_all_empty, "no loadable segments" },
	{ "entry outside any segment", m_entry_outside, "not inside an executable segment" },
	{ "entry one past the text", m_entry_end, "not inside an executable segment" },
	{ "entry 0", m_entry_zero, "not inside an executable segment" },
	{ "entry in a non-executable segment", m_entry_data, "0x402800 is not inside an executable" },
	{ "PIE above its load base", m_pie_high, "above the load base" },
	{ "PIE beyond guest memory", m_pie_beyond, "outside guest memory" },
};

Test(elf, base_is_valid)
{
	uint8_t *f = make_base();
	struct elfload_program prog;

	cr_assert_eq(elfload_parse(f, BASE_LEN, MEM, MVMM_IMAGE_BASE, &prog), 0, "%s",
		     mvmm_errmsg());
	cr_assert_eq(prog.pie, 0);
	cr_assert_eq(prog.base, 0);
	cr_assert_eq(prog.entry, 0x401000);
	cr_assert_eq(prog.nsegs, 2);
	cr_assert_eq(prog.segs[0].gpa, 0x401000);
	cr_assert_eq(prog.segs[1].gpa, 0x402800);
	cr_assert_eq(prog.segs[1].memsz, 0x2000);
	cr_assert_eq(prog.lo, 0x401000);
	cr_assert_eq(prog.hi, 0x405000);
	elfload_free(&prog);
	free(f);
}

Test(elf, malformed_table)
{
	size_t i;

	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		uint8_t *f = make_base();
		size_t len = BASE_LEN;
		struct elfload_program prog;
		int rc;

		c->mutate(f, &len);
		rc = elfload_parse(f, len, MEM, MVMM_IMAGE_BASE, &prog);
		cr_expect_eq(rc, -1, "case '%s' was accepted", c->name);
		if (rc == -1)
			cr_expect(strstr(mvmm_errmsg(), c->expect) != NULL,
				  "case '%s': message '%s' lacks '%s'", c->name, mvmm_errmsg(),
				  c->expect);
		cr_expect_null(prog.syms, "case '%s' leaves symbols behind", c->name);
		free(f);
	}
	t_lsan_check();
}

/* Each rejection carries its own message: no two unrelated cases share one word for word. */
Test(elf, messages_differ)
{
	static const size_t pick[] = { 2, 3, 4, 5, 7, 9, 10, 12, 13, 15, 16, 17, 18, 19, 21, 24,
				       27, 29, 31 };
	char msgs[sizeof(pick) / sizeof(pick[0])][512];
	size_t i, j;

	for (i = 0; i < sizeof(pick) / sizeof(pick[0]); i++) {
		uint8_t *f = make_base();
		size_t len = BASE_LEN;
		struct elfload_program prog;

		bad_cases[pick[i]].mutate(f, &len);
		cr_assert_eq(elfload_parse(f, len, MEM, MVMM_IMAGE_BASE, &prog), -1);
		snprintf(msgs[i], sizeof(msgs[i]), "%s", mvmm_errmsg());
		cr_assert(strlen(msgs[i]) > 10 && !strchr(msgs[i], '\n'), "'%s'", msgs[i]);
		for (j = 0; j < i; j++)
			cr_expect_str_neq(msgs[i], msgs[j], "'%s' and '%s' give the same message",
					  bad_cases[pick[i]].name, bad_cases[pick[j]].name);
		free(f);
	}
}

Test(elf, null_pointer_empty)
{
	struct elfload_program prog;

	cr_assert_eq(elfload_parse(NULL, 0, MEM, MVMM_IMAGE_BASE, &prog), -1);
	cr_assert(strstr(mvmm_errmsg(), "not an ELF"));
}

Test(elf, small_memory_moves_the_limit)
{
	uint8_t *f = make_base();
	struct elfload_program prog;

	/* Data ending 8 MiB - 1 MiB - 4 KiB fits an 8 MiB guest; one page more does not. */
	PH(f, 1)->p_vaddr = layout_guard_page(8u << 20) - 0x2000;
	cr_assert_eq(elfload_parse(f, BASE_LEN, 8u << 20, MVMM_IMAGE_BASE, &prog), 0, "%s",
		     mvmm_errmsg());
	elfload_free(&prog);
	PH(f, 1)->p_vaddr += 0x1000;
	cr_assert_eq(elfload_parse(f, BASE_LEN, 8u << 20, MVMM_IMAGE_BASE, &prog), -1);
	cr_assert(strstr(mvmm_errmsg(), "outside guest memory"), "%s", mvmm_errmsg());
	free(f);
}

Test(elf, pie_base_applied)
{
	uint8_t *f = make_base();
	struct elfload_program prog;

	EH(f)->e_type = ET_DYN;
	PH(f, 0)->p_vaddr = 0x1000;
	PH(f, 1)->p_vaddr = 0x2800;
	EH(f)->e_entry = 0x1010;
	cr_assert_eq(elfload_parse(f, BASE_LEN, MEM, MVMM_IMAGE_BASE, &prog), 0, "%s",
		     mvmm_errmsg());
	/* The lowest segment's page lands at the load base. */
	cr_assert_eq(prog.pie, 1);
	cr_assert_eq(prog.base, MVMM_IMAGE_BASE - 0x1000);
	cr_assert_eq(prog.lo, MVMM_IMAGE_BASE);
	cr_assert_eq(prog.entry, MVMM_IMAGE_BASE + 0x10);
	cr_assert_eq(prog.segs[0].gpa, MVMM_IMAGE_BASE);
	cr_assert_eq(prog.segs[1].gpa, MVMM_IMAGE_BASE + 0x1800);
	elfload_free(&prog);
	free(f);
}

/* Checks what an accepted program promises: segments inside the program area, entry executable. */
static void check_invariants(const struct elfload_program *prog, uint64_t mem)
{
	uint64_t limit = layout_program_limit(mem);
	int entry_ok = 0;
	size_t i;

	cr_assert(prog->nsegs >= 1 && prog->nsegs <= ELFLOAD_MAX_SEGMENTS);
	for (i = 0; i < prog->nsegs; i++) {
		const struct elfload_segment *s = &prog->segs[i];

		cr_assert(s->gpa >= MVMM_IMAGE_BASE, "segment at 0x%lx", (unsigned long)s->gpa);
		cr_assert(s->memsz <= limit && s->gpa <= limit - s->memsz);
		cr_assert(s->filesz <= s->memsz);
		if (i > 0)
			cr_assert(s->gpa >= prog->segs[i - 1].gpa + prog->segs[i - 1].memsz);
		if ((s->flags & PF_X) && prog->entry >= s->gpa && prog->entry - s->gpa < s->memsz)
			entry_ok = 1;
	}
	cr_assert(entry_ok, "entry 0x%lx", (unsigned long)prog->entry);
	cr_assert(prog->lo >= MVMM_IMAGE_BASE && prog->hi <= limit && prog->lo < prog->hi);
}

static const struct elfload_symbol *find_symbol(const struct elfload_program *prog,
						const char *name)
{
	size_t i;

	for (i = 0; i < prog->nsyms; i++)
		if (strcmp(prog->syms[i].name, name) == 0)
			return &prog->syms[i];
	return NULL;
}

Test(elf, hello_exec_accepted)
{
	size_t len;
	uint8_t *f = t_read_file(T_TEST_GUEST("hello-exec"), &len);
	struct elfload_program prog;
	const struct elfload_symbol *main_sym, *at;
	uint64_t off = 99;

	cr_assert_eq(EH(f)->e_type, ET_EXEC, "hello-exec.elf (mvmm-cc -no-pie) should be ET_EXEC");
	cr_assert_eq(elfload_parse(f, len, MEM, MVMM_IMAGE_BASE, &prog), 0, "%s", mvmm_errmsg());
	cr_assert_eq(prog.pie, 0);
	cr_assert_eq(prog.base, 0);
	cr_assert_eq(prog.entry, EH(f)->e_entry);
	check_invariants(&prog, MEM);
	main_sym = find_symbol(&prog, "main");
	cr_assert(main_sym, "no symbol 'main' among %zu", prog.nsyms);
	at = elfload_symbol_at(&prog, main_sym->gpa + (main_sym->size ? main_sym->size - 1 : 0),
			       &off);
	cr_assert(at && strcmp(at->name, "main") == 0);
	cr_assert_eq(off, main_sym->size ? main_sym->size - 1 : 0);
	cr_assert_null(elfload_symbol_at(&prog, 0x1000, NULL));
	elfload_free(&prog);
	free(f);
}

Test(elf, hello_pie_accepted)
{
	size_t len;
	uint8_t *f = t_read_file(T_HELLO_PIE, &len);
	struct elfload_program prog;
	const struct elfload_symbol *main_sym;

	cr_assert_eq(EH(f)->e_type, ET_DYN, "the PIE build should be ET_DYN");
	cr_assert_eq(elfload_parse(f, len, MEM, MVMM_IMAGE_BASE, &prog), 0, "%s", mvmm_errmsg());
	cr_assert_eq(prog.pie, 1);
	cr_assert_eq(prog.lo, MVMM_IMAGE_BASE, "lo 0x%lx", (unsigned long)prog.lo);
	cr_assert_eq(prog.base, MVMM_IMAGE_BASE - (prog.segs[0].gpa - prog.base) / 4096 * 4096);
	cr_assert_eq(prog.entry, EH(f)->e_entry + prog.base);
	check_invariants(&prog, MEM);
	main_sym = find_symbol(&prog, "main");
	cr_assert(main_sym, "no symbol 'main'");
	cr_assert(main_sym->gpa >= prog.lo && main_sym->gpa < prog.hi, "main not relocated");
	elfload_free(&prog);

	/* Another load base moves everything by the same amount. */
	cr_assert_eq(elfload_parse(f, len, MEM, 0x800000, &prog), 0, "%s", mvmm_errmsg());
	cr_assert_eq(prog.lo, 0x800000);
	check_invariants(&prog, MEM);
	elfload_free(&prog);
	free(f);
}

/* xorshift64*: reproducible pseudo-random numbers. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static const uint64_t interesting[] = { 0, 1, 0x7f, 0x80, 0xff, 0xfff, 0x1000, 0x400000,
					0x7fffffff, 0xffffffff, 0x100000000ull, UINT64_MAX,
					UINT64_MAX - 0xfff, 1ull << 63 };

/* One random mutation: byte flips, an interesting 1/2/4/8-byte value, or a truncation. */
static size_t mutate(uint8_t *f, size_t len, uint64_t *s)
{
	/* Three mutations in four land in the ELF and program headers. */
	size_t hot = len < 64 + 8 * 56 ? len : 64 + 8 * 56;
	unsigned k, n = 1 + (unsigned)(rnd(s) % 4);

	for (k = 0; k < n; k++) {
		uint64_t r = rnd(s);
		size_t at = (r & 3) ? rnd(s) % hot : rnd(s) % len;

		switch ((r >> 2) % 4) {
		case 0:
			f[at] ^= (uint8_t)(1u << (rnd(s) % 8));
			break;
		case 1:
			f[at] = (uint8_t)rnd(s);
			break;
		case 2: {
			uint64_t v = interesting[rnd(s) % (sizeof(interesting) / sizeof(interesting[0]))];
			size_t w = (size_t)1 << (rnd(s) % 4);

			if (at + w <= len)
				memcpy(f + at, &v, w);
			break;
		}
		default:
			if (rnd(s) % 4 == 0)
				len = rnd(s) % (len + 1);
			break;
		}
		if (len == 0)
			break;
	}
	return len;
}

static void fuzz(const uint8_t *orig, size_t orig_len, int rounds, uint64_t seed)
{
	uint8_t *f = malloc(orig_len);
	int i, accepted = 0;

	cr_assert(f);
	for (i = 0; i < rounds; i++) {
		struct elfload_program prog;
		size_t len;
		uint8_t *exact;

		memcpy(f, orig, orig_len);
		len = mutate(f, orig_len, &seed);
		/* An exact-size heap copy, so that ASan sees any read past the end. */
		exact = malloc(len ? len : 1);
		cr_assert(exact);
		memcpy(exact, f, len);
		if (elfload_parse(exact, len, MEM, MVMM_IMAGE_BASE, &prog) == 0) {
			accepted++;
			check_invariants(&prog, MEM);
			if (prog.nsyms)
				elfload_symbol_at(&prog, prog.entry, NULL);
			elfload_free(&prog);
		} else {
			cr_assert(mvmm_errmsg()[0], "a rejection without a message");
		}
		free(exact);
	}
	cr_log_info("fuzz: %d of %d mutants accepted", accepted, rounds);
	free(f);
	t_lsan_check();
}

Test(elf, fuzz_hello, .timeout = 120)
{
	size_t len;
	uint8_t *f = t_read_file(T_GUEST("hello"), &len);

	fuzz(f, len, 2000, 0x6d766d6d5eedull);
	free(f);
}

Test(elf, fuzz_hello_pie, .timeout = 120)
{
	size_t len;
	uint8_t *f = t_read_file(T_HELLO_PIE, &len);

	fuzz(f, len, 500, 0x1234567ull);
	free(f);
}

Test(elf, fuzz_minimal)
{
	uint8_t *f = make_base();

	fuzz(f, BASE_LEN, 2000, 42);
	free(f);
}
