/*
 * x86.c: the guest's descriptor tables, TSS with its I/O bitmap and ring-0
 * exception stubs, long-mode segment registers, and exception names.
 */
#include "x86.h"

#include <pthread.h>
#include <string.h>

#include "fdio.h"
#include "layout.h"
#include "mvmm_abi.h"

#define TSS_SIZE       104
#define TSS_IOMAP_BASE TSS_SIZE
/* Bitmap bytes up to and including the last open port + 3 (outl tests 4 bits), then 0xff. */
#define IOMAP_OPEN_LO (MVMM_HC_PORT_BASE / 8)
#define IOMAP_OPEN_HI ((MVMM_HC_PORT_BASE + X86_HC_PORT_SLOTS + 3) / 8)
#define IOMAP_BYTES   (IOMAP_OPEN_HI + 2)
#define TSS_LIMIT     (TSS_IOMAP_BASE + IOMAP_BYTES - 1)
#define GDT_ENTRIES   7
#define STUB_SIZE     16

_Static_assert(MVMM_FAULT_PORT < 0x100, "stubs use out %al,$imm8");
_Static_assert(MVMM_SYSCALL_PORT < 0x100, "the system-call entry uses out %al,$imm8");
_Static_assert(MVMM_SYSCALL_PORT / 8 < IOMAP_BYTES, "the system-call port must be in the bitmap");
_Static_assert(TSS_IOMAP_BASE + IOMAP_BYTES <= MVMM_PAGE_SIZE, "TSS must fit its page");
_Static_assert(256 * STUB_SIZE <= MVMM_PAGE_SIZE, "stubs must fit their page");

static uint64_t gdt_segment(uint64_t access, uint64_t flags)
{
	/* base 0, limit 0xfffff (ignored in long mode except for data's G/D bits) */
	return 0xffffull | (0xfull << 48) | (access << 40) | (flags << 52);
}

static void build_gdt_tss(uint8_t *mem)
{
	uint64_t *gdt = (uint64_t *)(mem + MVMM_GDT_GPA);
	uint8_t *tss = mem + MVMM_TSS_GPA;
	uint64_t base = MVMM_TSS_GPA, rsp0 = MVMM_R0STACK_TOP;
	uint16_t iomap = TSS_IOMAP_BASE;

	gdt[0] = 0;
	gdt[MVMM_SEL_KCODE >> 3] = gdt_segment(0x9b, 0xa); /* P, DPL0, code, L, G */
	gdt[MVMM_SEL_KDATA >> 3] = gdt_segment(0x93, 0xc); /* P, DPL0, data, D, G */
	gdt[MVMM_SEL_UDATA >> 3] = gdt_segment(0xf3, 0xc); /* P, DPL3, data */
	gdt[MVMM_SEL_UCODE >> 3] = gdt_segment(0xfb, 0xa); /* P, DPL3, code, L */
	gdt[MVMM_SEL_TSS >> 3] = (TSS_LIMIT & 0xffff) | ((base & 0xffffff) << 16) |
				 (0x8bull << 40) /* P, busy 64-bit TSS */ |
				 ((uint64_t)(TSS_LIMIT >> 16) << 48) | ((base >> 24 & 0xff) << 56);
	gdt[(MVMM_SEL_TSS >> 3) + 1] = base >> 32;

	memset(tss, 0, TSS_SIZE);
	memcpy(tss + 4, &rsp0, sizeof(rsp0));
	memcpy(tss + 102, &iomap, sizeof(iomap));
	/* Every port closed to CPL3 except the hypercall ports and the system-call port. */
	memset(tss + TSS_IOMAP_BASE, 0xff, IOMAP_BYTES);
	memset(tss + TSS_IOMAP_BASE + IOMAP_OPEN_LO, 0, IOMAP_OPEN_HI - IOMAP_OPEN_LO + 1);
	tss[TSS_IOMAP_BASE + MVMM_SYSCALL_PORT / 8] &= (uint8_t)~(1u << (MVMM_SYSCALL_PORT % 8));
}

/*
 * The system-call entry: out %al,$SYSCALL_PORT; ud2. It touches no
 * register and no stack (a leaf function's red zone stays intact); the VMM
 * answers the exit and resumes the guest at RCX itself, so the ud2 is only
 * reached if something jumps here without a syscall.
 */
static void build_syscall_entry(uint8_t *mem)
{
	uint8_t *s = mem + MVMM_SYSCALL_GPA;

	memset(s, 0xcc, MVMM_PAGE_SIZE); /* int3 */
	s[0] = 0xe6;
	s[1] = MVMM_SYSCALL_PORT;
	s[2] = 0x0f;
	s[3] = 0x0b;
}

int x86_vector_has_error_code(unsigned v)
{
	return v == 8 || v == 10 || v == 11 || v == 12 || v == 13 || v == 14 || v == 17 ||
	       v == 21 || v == 29 || v == 30;
}

/*
 * Each stub: [push $0] push $vector; out %al,$FAULT_PORT; hlt; jmp .
 * The VMM reads the frame at the stub's RSP (struct mvmm_fault_frame); no
 * general register is changed, so the report shows the guest's own values.
 */
static void build_idt_stubs(uint8_t *mem)
{
	uint64_t *idt = (uint64_t *)(mem + MVMM_IDT_GPA);
	unsigned v;

	for (v = 0; v < 256; v++) {
		uint8_t *s = mem + MVMM_STUBS_GPA + v * STUB_SIZE;
		uint64_t addr = MVMM_STUBS_GPA + v * STUB_SIZE;
		size_t n = 0;

		if (!x86_vector_has_error_code(v)) {
			s[n++] = 0x6a; /* push $0 */
			s[n++] = 0x00;
		}
		s[n++] = 0x68; /* push $imm32 */
		s[n++] = (uint8_t)v;
		s[n++] = 0;
		s[n++] = 0;
		s[n++] = 0;
		s[n++] = 0xe6; /* out %al, $imm8 */
		s[n++] = MVMM_FAULT_PORT;
		s[n++] = 0xf4; /* hlt */
		s[n++] = 0xeb; /* jmp . */
		s[n++] = 0xfe;
		/* 64-bit interrupt gate, DPL0, selector KCODE */
		idt[2 * v] = (addr & 0xffff) | ((uint64_t)MVMM_SEL_KCODE << 16) | (0x8eull << 40) |
			     ((addr >> 16 & 0xffff) << 48);
		idt[2 * v + 1] = addr >> 32;
	}
}

void x86_build_system(uint8_t *mem)
{
	build_gdt_tss(mem);
	build_idt_stubs(mem);
	build_syscall_entry(mem);
}

static void set_segment(struct kvm_segment *seg, uint16_t sel, uint8_t type, int code)
{
	memset(seg, 0, sizeof(*seg));
	seg->limit = 0xffffffff;
	seg->selector = sel;
	seg->type = type;
	seg->present = 1;
	seg->dpl = sel & 3;
	seg->s = 1;
	seg->g = 1;
	seg->l = code;
	seg->db = !code;
}

void x86_user_sregs(struct kvm_sregs *s, int osxsave)
{
	set_segment(&s->cs, MVMM_SEL_UCODE, 11, 1);
	set_segment(&s->ss, MVMM_SEL_UDATA, 3, 0);
	s->ds = s->es = s->fs = s->gs = s->ss;

	memset(&s->tr, 0, sizeof(s->tr));
	s->tr.base = MVMM_TSS_GPA;
	s->tr.limit = TSS_LIMIT;
	s->tr.selector = MVMM_SEL_TSS;
	s->tr.type = 11;
	s->tr.present = 1;

	memset(&s->ldt, 0, sizeof(s->ldt));
	s->ldt.type = 2;
	s->ldt.unusable = 1;

	s->gdt.base = MVMM_GDT_GPA;
	s->gdt.limit = GDT_ENTRIES * 8 - 1;
	s->idt.base = MVMM_IDT_GPA;
	s->idt.limit = 256 * 16 - 1;

	s->cr0 = 0x80050033; /* PG AM WP NE ET MP PE */
	s->cr3 = LAYOUT_PML4_GPA;
	s->cr4 = 0x620;	 /* OSXMMEXCPT OSFXSR PAE */
	if (osxsave)
		s->cr4 |= X86_CR4_OSXSAVE;
	s->efer = 0xd01; /* NXE LMA LME SCE */
}

static const struct {
	const char *mnemonic;
	const char *name;
} x86_vectors[32] = {
	[0] = {"#DE", "divide error"},
	[1] = {"#DB", "debug"},
	[2] = {"NMI", "non-maskable interrupt"},
	[3] = {"#BP", "breakpoint"},
	[4] = {"#OF", "overflow"},
	[5] = {"#BR", "bound range exceeded"},
	[6] = {"#UD", "invalid opcode"},
	[7] = {"#NM", "device not available"},
	[8] = {"#DF", "double fault"},
	[10] = {"#TS", "invalid TSS"},
	[11] = {"#NP", "segment not present"},
	[12] = {"#SS", "stack-segment fault"},
	[13] = {"#GP", "general protection fault"},
	[14] = {"#PF", "page fault"},
	[16] = {"#MF", "x87 floating-point error"},
	[17] = {"#AC", "alignment check"},
	[18] = {"#MC", "machine check"},
	[19] = {"#XM", "SIMD floating-point exception"},
	[20] = {"#VE", "virtualization exception"},
	[21] = {"#CP", "control protection"},
};

const char *x86_vector_name(unsigned v)
{
	return v < 32 ? x86_vectors[v].name : NULL;
}

const char *x86_vector_mnemonic(unsigned v)
{
	return v < 32 && x86_vectors[v].mnemonic ? x86_vectors[v].mnemonic : "#??";
}

static int x86_range_is(int fd, uint64_t off, const uint8_t *want, uint8_t *have, uint64_t lo,
			uint64_t hi)
{
	return fd_pread_all(fd, have + lo, hi - lo, off + lo) == 0 &&
	       memcmp(have + lo, want + lo, hi - lo) == 0;
}

int x86_system_is_ours(int fd)
{
	return x86_system_is_ours_at(fd, 0);
}

int x86_system_is_ours_at(int fd, uint64_t off)
{
	static uint8_t want[MVMM_SYSCALL_GPA + MVMM_PAGE_SIZE], have[sizeof(want)];
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static int built;
	int same;

	pthread_mutex_lock(&lock);
	if (!built) {
		x86_build_system(want);
		built = 1;
	}
	/* Everything but the ring-0 stack between the stubs and the system-call entry. */
	same = x86_range_is(fd, off, want, have, MVMM_GDT_GPA, MVMM_STUBS_GPA + MVMM_PAGE_SIZE) &&
	       x86_range_is(fd, off, want, have, MVMM_SYSCALL_GPA,
			    MVMM_SYSCALL_GPA + MVMM_PAGE_SIZE);
	pthread_mutex_unlock(&lock);
	return same;
}

