/*
 * regs.c: a template guest for the register-isolation tests. Before ready it puts distinctive
 * values in every register class; a clone asked "read" checks it resumed with exactly those.
 *
 * Requests (the clone's argv):
 *   read    prints "<class> same" or "<class> DIFFERENT" for each register class the CPU has
 *   write   scribbles over every class, prints the same report (all DIFFERENT), exits 0
 * Classes: gpr (rbx, r8-r15), x87 (control, status, tags, the eight stack registers), mxcsr,
 * xmm, ymm (upper halves), opmask, zmm (upper halves of 0-15 and zmm16-31), gsbase; a class
 * the CPU lacks prints "<class> absent".
 */
#include <mvmm/hypercall.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define AREA_SIZE 4096

struct values {
	uint64_t gpr[9]; /* rbx, r8..r15 */
	uint64_t x87[8];
	uint16_t fcw;
	uint32_t mxcsr;
	uint8_t vec[16][32];
	uint8_t zmm_hi[16][64]; /* zmm16-31 */
	uint64_t k[8];
	uint64_t gsbase;
};

static struct values tpl_values, junk;
static uint8_t before[AREA_SIZE] __attribute__((aligned(64)));
static uint8_t after[AREA_SIZE] __attribute__((aligned(64)));
static uint64_t gpr_after[9];
static uint64_t gsbase_after;
static struct mvmm_hc_ready ready_blk;
static uint64_t xcr0;
static int have_avx, have_avx512, have_fsgs;
static uint32_t off_ymm, off_k, off_zmm_hi256, off_hi16_zmm;

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
	__asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static void probe_cpu(void)
{
	uint32_t r[4], lo, hi;

	cpuid(1, 0, r);
	if (!(r[2] & (1u << 27))) /* OSXSAVE: no xgetbv, no xsave */
		return;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	xcr0 = (uint64_t)hi << 32 | lo;
	have_avx = (r[2] & (1u << 28)) && (xcr0 & 6) == 6;
	cpuid(7, 0, r);
	have_avx512 = have_avx && (r[1] & (1u << 16)) && (xcr0 & 0xe0) == 0xe0;
	have_fsgs = r[1] & 1;
	cpuid(0xd, 2, r);
	off_ymm = r[1];
	cpuid(0xd, 5, r);
	off_k = r[1];
	cpuid(0xd, 6, r);
	off_zmm_hi256 = r[1];
	cpuid(0xd, 7, r);
	off_hi16_zmm = r[1];
}

static void fill(struct values *v, uint8_t seed)
{
	unsigned i, j;

	for (i = 0; i < 9; i++)
		v->gpr[i] = 0x0101010101010101ull * seed + i;
	for (i = 0; i < 8; i++)
		v->x87[i] = (uint64_t)seed * 1000003u + i;
	v->fcw = seed & 1 ? 0x0c7f : 0x037f; /* rounding toward zero vs. to nearest */
	v->mxcsr = seed & 1 ? 0x7f80 : 0x1f80; /* round toward zero vs. to nearest */
	for (i = 0; i < 16; i++)
		for (j = 0; j < 32; j++)
			v->vec[i][j] = (uint8_t)(seed + i * 32 + j);
	for (i = 0; i < 16; i++)
		for (j = 0; j < 64; j++)
			v->zmm_hi[i][j] = (uint8_t)(seed * 3 + i * 64 + j);
	for (i = 0; i < 8; i++)
		v->k[i] = 0x1111111111111111ull * (seed & 0xf) + i;
	v->gsbase = 0x100000000000ull + (uint64_t)seed * 0x1000;
}

/* Loads every vector, x87 and MXCSR register of v (no general register but rax is touched). */
static void load_fpu(const struct values *v)
{
	__asm__ volatile("fninit\n\t"
			 "fldcw %1\n\t"
			 ".irp i,0,1,2,3,4,5,6,7\n\t"
			 "fildq 8*\\i(%0)\n\t"
			 ".endr\n\t"
			 "ldmxcsr %2\n\t"
			 :
			 : "r"(v->x87), "m"(v->fcw), "m"(v->mxcsr)
			 : "memory", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)",
			   "st(7)");
	if (have_avx)
		__asm__ volatile(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
				 "vmovdqu 32*\\i(%0), %%ymm\\i\n\t"
				 ".endr\n\t"
				 :
				 : "r"(v->vec)
				 : "memory");
	else
		__asm__ volatile(".irp i,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n\t"
				 "movdqu 32*\\i(%0), %%xmm\\i\n\t"
				 ".endr\n\t"
				 :
				 : "r"(v->vec)
				 : "memory");
	if (have_avx512)
		__asm__ volatile(".irp i,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31\n\t"
				 "vmovdqu64 64*(\\i-16)(%0), %%zmm\\i\n\t"
				 ".endr\n\t"
				 ".irp i,0,1,2,3,4,5,6,7\n\t"
				 "kmovq 8*\\i(%1), %%k\\i\n\t"
				 ".endr\n\t"
				 :
				 : "r"(v->zmm_hi), "r"(v->k)
				 : "memory");
	if (have_fsgs)
		__asm__ volatile("wrgsbase %0" : : "r"(v->gsbase));
}

static void xsave_to(uint8_t *area)
{
	__asm__ volatile("xsave (%0)"
			 :
			 : "r"(area), "a"((uint32_t)xcr0), "d"((uint32_t)(xcr0 >> 32))
			 : "memory");
}

/*
 * The template's last act and each clone's first: the general registers get their values,
 * the ready hypercall freezes the template, and a clone resumes right after the `out` and
 * records every register before any other instruction can change one.
 */
static void ready_and_record(void)
{
	__asm__ volatile("mov 0(%[g]), %%rbx\n\t"
			 "mov 8(%[g]), %%r8\n\t"
			 "mov 16(%[g]), %%r9\n\t"
			 "mov 24(%[g]), %%r10\n\t"
			 "mov 32(%[g]), %%r11\n\t"
			 "mov 40(%[g]), %%r12\n\t"
			 "mov 48(%[g]), %%r13\n\t"
			 "mov 56(%[g]), %%r14\n\t"
			 "mov 64(%[g]), %%r15\n\t"
			 "push %[out]\n\t"
			 "mov %[blk], %%rax\n\t"
			 "mov %[port], %%edx\n\t"
			 "outl %%eax, %%dx\n\t"
			 "pop %%rax\n\t"
			 "mov %%rbx, 0(%%rax)\n\t"
			 "mov %%r8, 8(%%rax)\n\t"
			 "mov %%r9, 16(%%rax)\n\t"
			 "mov %%r10, 24(%%rax)\n\t"
			 "mov %%r11, 32(%%rax)\n\t"
			 "mov %%r12, 40(%%rax)\n\t"
			 "mov %%r13, 48(%%rax)\n\t"
			 "mov %%r14, 56(%%rax)\n\t"
			 "mov %%r15, 64(%%rax)\n\t"
			 :
			 : [g] "r"(tpl_values.gpr), [out] "r"(gpr_after),
			   [blk] "r"((uint64_t)(uintptr_t)&ready_blk),
			   [port] "i"(MVMM_HC_PORT_BASE + MVMM_HC_READY)
			 : "rax", "rdx", "rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",
			   "memory");
	if (xcr0)
		xsave_to(after);
	if (have_fsgs)
		__asm__ volatile("rdgsbase %0" : "=r"(gsbase_after));
}

/* A component in its initial state is all zeros, whether xsave wrote it or not. */
static void normalize(uint8_t *area)
{
	uint64_t bv;

	memcpy(&bv, area + 512, sizeof(bv));
	if (!(bv & (1u << 2)) && off_ymm)
		memset(area + off_ymm, 0, 256);
	if (!(bv & (1u << 5)) && off_k)
		memset(area + off_k, 0, 64);
	if (!(bv & (1u << 6)) && off_zmm_hi256)
		memset(area + off_zmm_hi256, 0, 512);
	if (!(bv & (1u << 7)) && off_hi16_zmm)
		memset(area + off_hi16_zmm, 0, 1024);
}

static void report(const char *cls, int present, const void *a, const void *b, size_t len)
{
	if (!present)
		printf("%s absent\n", cls);
	else
		printf("%s %s\n", cls, memcmp(a, b, len) ? "DIFFERENT" : "same");
}

static void compare(const uint64_t *gpr, uint64_t gsbase)
{
	uint8_t x87_a[160], x87_b[160];

	normalize(before);
	normalize(after);
	report("gpr", 1, tpl_values.gpr, gpr, sizeof(tpl_values.gpr));
	/* FCW, FSW, abridged FTW; then ST0-7 (bytes 32..159) */
	memcpy(x87_a, before, 5);
	memcpy(x87_b, after, 5);
	memcpy(x87_a + 5, before + 32, 128);
	memcpy(x87_b + 5, after + 32, 128);
	report("x87", xcr0 != 0, x87_a, x87_b, 133);
	report("mxcsr", xcr0 != 0, before + 24, after + 24, 4);
	report("xmm", xcr0 != 0, before + 160, after + 160, 256);
	report("ymm", have_avx, before + off_ymm, after + off_ymm, 256);
	report("opmask", have_avx512, before + off_k, after + off_k, 64);
	report("zmm", have_avx512, before + off_zmm_hi256, after + off_zmm_hi256, 512);
	report("zmm16-31", have_avx512, before + off_hi16_zmm, after + off_hi16_zmm, 1024);
	report("gsbase", have_fsgs, &tpl_values.gsbase, &gsbase, sizeof(gsbase));
}

/* Overwrites every class, then records it the same way a resumed clone does. */
static void scribble(void)
{
	uint64_t gpr[9];

	fill(&junk, 0xa5);
	load_fpu(&junk);
	__asm__ volatile("mov 0(%[g]), %%rbx\n\t"
			 "mov 8(%[g]), %%r8\n\t"
			 "mov 16(%[g]), %%r9\n\t"
			 "mov 24(%[g]), %%r10\n\t"
			 "mov 32(%[g]), %%r11\n\t"
			 "mov 40(%[g]), %%r12\n\t"
			 "mov 48(%[g]), %%r13\n\t"
			 "mov 56(%[g]), %%r14\n\t"
			 "mov 64(%[g]), %%r15\n\t"
			 "mov %%rbx, 0(%[o])\n\t"
			 "mov %%r8, 8(%[o])\n\t"
			 "mov %%r9, 16(%[o])\n\t"
			 "mov %%r10, 24(%[o])\n\t"
			 "mov %%r11, 32(%[o])\n\t"
			 "mov %%r12, 40(%[o])\n\t"
			 "mov %%r13, 48(%[o])\n\t"
			 "mov %%r14, 56(%[o])\n\t"
			 "mov %%r15, 64(%[o])\n\t"
			 :
			 : [g] "r"(junk.gpr), [o] "r"(gpr)
			 : "rbx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "memory");
	if (xcr0)
		xsave_to(after);
	compare(gpr, have_fsgs ? junk.gsbase : 0);
}

int main(void)
{
	char req[64];
	uint64_t argc = 0;
	int64_t n;

	probe_cpu();
	fill(&tpl_values, 0x3c);
	load_fpu(&tpl_values);
	if (xcr0)
		xsave_to(before);
	ready_and_record();
	n = mvmm_request(req, sizeof(req) - 1, &argc);
	if (n < 0 || argc < 1)
		return 2;
	req[n < (int64_t)sizeof(req) ? n : (int64_t)sizeof(req) - 1] = 0;
	if (!strcmp(req, "write")) {
		scribble();
		return 0;
	}
	compare(gpr_after, gsbase_after);
	return 0;
}
