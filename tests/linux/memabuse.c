/*
 * memabuse.c: mmap, munmap, mremap, brk and madvise misused. The common part (no argument)
 * only does what Linux answers the same way everywhere (errors for huge, empty and unaligned
 * requests, zeroed memory, contents kept across mremap) and is compared with a native run.
 * "hostile" adds what only a confined guest should try: MAP_FIXED over its own stack or text
 * or below 0x400000, executable writable memory, brk into the stack; each must fail (or be
 * harmless) rather than crash. The last line is "done".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PG 4096ul

static int bad;

static const char *err_name(int e)
{
	switch (e) {
	case EINVAL:
		return "EINVAL";
	case ENOMEM:
		return "ENOMEM";
	case EEXIST:
		return "EEXIST";
	case EACCES:
		return "EACCES";
	case EFAULT:
		return "EFAULT";
	case EPERM:
		return "EPERM";
	case EBADF:
		return "EBADF";
	}
	return "other";
}

/* A failed call's errno, or "ok". */
static void result(const char *what, long r)
{
	if (r == -1)
		printf("%s: -1 %s\n", what, err_name(errno));
	else
		printf("%s: ok\n", what);
}

static void *map(void *addr, size_t len, int prot, int flags)
{
	return mmap(addr, len, prot, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static int zero(const void *p, size_t len)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i])
			return 0;
	return 1;
}

static void expect(const char *what, int ok)
{
	printf("%s: %s\n", what, ok ? "yes" : "NO");
	bad += !ok;
}

static void common(void)
{
	unsigned char *a, *b, *c;
	long cur, r;

	errno = 0;
	result("mmap len 0", (long)map(NULL, 0, PROT_READ, 0));
	result("mmap 2^48 bytes", (long)map(NULL, 1ul << 48, PROT_READ | PROT_WRITE, 0));
	result("mmap SIZE_MAX", (long)map(NULL, SIZE_MAX, PROT_READ | PROT_WRITE, 0));
	result("mmap SIZE_MAX-4095", (long)map(NULL, SIZE_MAX - 4095, PROT_READ, 0));
	result("mmap fixed unaligned", (long)map((void *)0x10001001ul, PG, PROT_READ, MAP_FIXED));
	result("mmap no type", (long)mmap(NULL, PG, PROT_READ, MAP_ANONYMOUS, -1, 0));
	result("mmap bad fd", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 77, 0));
	result("mmap unaligned offset", (long)mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 0, 123));

	a = map(NULL, 1 << 20, PROT_READ | PROT_WRITE, 0);
	expect("1 MiB mapping is zero", a != MAP_FAILED && zero(a, 1 << 20));
	if (a == MAP_FAILED)
		return;
	memset(a, 0x5a, 1 << 20);
	result("munmap unaligned", munmap(a + 1, PG));
	result("munmap len 0", munmap(a, 0));
	result("munmap", munmap(a, 1 << 20));
	b = map(a, 1 << 20, PROT_READ | PROT_WRITE, MAP_FIXED);
	expect("mapped again at the same place", b == a);
	expect("and it reads zero", b == a && zero(b, 1 << 20));
	if (b != a)
		return;
	memset(b, 0x33, 1 << 20);
	c = map(b + 4 * PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_FIXED);
	expect("MAP_FIXED over the middle", c == b + 4 * PG);
	expect("replaced pages are zero", zero(c, 2 * PG));
	expect("neighbours kept", b[4 * PG - 1] == 0x33 && b[6 * PG] == 0x33);
	result("MAP_FIXED_NOREPLACE over a mapping",
	       (long)map(b, PG, PROT_READ, MAP_FIXED_NOREPLACE));
	result("madvise DONTNEED", madvise(b, 2 * PG, MADV_DONTNEED));
	expect("DONTNEED pages read zero", zero(b, 2 * PG) && b[2 * PG] == 0x33);
	result("madvise unaligned", madvise(b + 1, PG, MADV_DONTNEED));
	result("mprotect read-only", mprotect(b, PG, PROT_READ));
	result("mprotect unaligned", syscall(SYS_mprotect, b + 5, PG, PROT_READ));
	result("mprotect bad prot", mprotect(b, PG, 0x1000));
	result("mprotect back", mprotect(b, PG, PROT_READ | PROT_WRITE));

	/* mremap: unaligned, no room without MAYMOVE, growth keeping contents, shrink */
	result("mremap unaligned", (long)mremap(b + 1, PG, 2 * PG, MREMAP_MAYMOVE));
	result("mremap new len 0", (long)mremap(b, PG, 0, MREMAP_MAYMOVE));
	result("mremap bad flags", (long)mremap(b, PG, 2 * PG, 0x80));
	result("mremap grow inside a mapping, no move", (long)mremap(b, PG, 2 * PG, 0));
	c = map(NULL, 64 * 1024, PROT_READ | PROT_WRITE, 0);
	expect("64 KiB mapped", c != MAP_FAILED);
	if (c == MAP_FAILED)
		return;
	for (size_t i = 0; i < 64 * 1024; i++)
		c[i] = (unsigned char)(i * 13);
	a = mremap(c, 64 * 1024, 1 << 20, MREMAP_MAYMOVE);
	expect("mremap grew", a != MAP_FAILED);
	if (a != MAP_FAILED) {
		int same = 1;

		for (size_t i = 0; i < 64 * 1024; i++)
			same &= a[i] == (unsigned char)(i * 13);
		expect("contents kept", same);
		expect("grown tail is zero", zero(a + 64 * 1024, (1 << 20) - 64 * 1024));
		c = mremap(a, 1 << 20, 8 * PG, 0);
		expect("mremap shrank in place", c == a);
		expect("shrunk contents kept", c[8 * PG - 1] == (unsigned char)((8 * PG - 1) * 13));
		result("munmap shrunk", munmap(c, 8 * PG));
	}
	result("munmap b", munmap(b, 1 << 20));
	result("munmap nothing mapped", munmap(b, 1 << 20));

	/* brk: huge and tiny requests leave the break where it was; growth reads zero */
	cur = syscall(SYS_brk, 0);
	r = syscall(SYS_brk, cur + (1l << 46));
	expect("brk huge refused", r == cur);
	r = syscall(SYS_brk, 0x1000);
	expect("brk below the program refused", r == cur);
	r = syscall(SYS_brk, cur + 256 * 1024);
	expect("brk grew", r == cur + 256 * 1024);
	expect("grown break reads zero", r == cur + 256 * 1024 && zero((void *)cur, 256 * 1024));
	if (r == cur + 256 * 1024)
		memset((void *)cur, 0x77, 256 * 1024);
	r = syscall(SYS_brk, cur);
	expect("brk back", r == cur);
	r = syscall(SYS_brk, cur + 256 * 1024);
	expect("regrown break reads zero again",
	       r == cur + 256 * 1024 && zero((void *)cur, 256 * 1024));
	syscall(SYS_brk, cur);

	/* many small mappings, then all unmapped */
	{
		void *m[200];
		int okz = 1;

		for (int i = 0; i < 200; i++) {
			m[i] = map(NULL, PG * (1 + i % 5), PROT_READ | PROT_WRITE, 0);
			okz &= m[i] != MAP_FAILED && zero(m[i], PG * (1 + i % 5));
			if (m[i] != MAP_FAILED)
				memset(m[i], i, PG * (1 + i % 5));
		}
		for (int i = 0; i < 200; i += 2)
			munmap(m[i], PG * (1 + i % 5));
		for (int i = 0; i < 200; i += 2) {
			m[i] = map(NULL, PG * (1 + i % 5), PROT_READ | PROT_WRITE, 0);
			okz &= m[i] != MAP_FAILED && zero(m[i], PG * (1 + i % 5));
		}
		for (int i = 1; i < 200; i += 2)
			okz &= m[i] != MAP_FAILED && ((unsigned char *)m[i])[0] == (unsigned char)i;
		for (int i = 0; i < 200; i++)
			if (m[i] != MAP_FAILED)
				munmap(m[i], PG * (1 + i % 5));
		expect("200 mappings zero, kept, unmapped", okz);
	}
}

static void hostile(void)
{
	volatile char here = 1;
	uintptr_t stack = (uintptr_t)&here & ~(PG - 1), text = (uintptr_t)&hostile & ~(PG - 1);
	unsigned char *m;
	long cur, r;

	/* each of these would destroy the process if it succeeded: they must fail */
	m = map((void *)stack, PG, PROT_READ | PROT_WRITE, MAP_FIXED);
	expect("MAP_FIXED over the stack fails", m == MAP_FAILED);
	m = map((void *)text, PG, PROT_READ | PROT_WRITE, MAP_FIXED);
	expect("MAP_FIXED over the program's text fails", m == MAP_FAILED);
	m = map((void *)0x200000, PG, PROT_READ | PROT_WRITE, MAP_FIXED);
	expect("MAP_FIXED at 0x200000 fails", m == MAP_FAILED);
	m = map((void *)0, PG, PROT_READ | PROT_WRITE, MAP_FIXED);
	expect("MAP_FIXED at 0 fails", m == MAP_FAILED);
	m = map((void *)(stack - 16 * PG), 64 * PG, PROT_READ | PROT_WRITE, MAP_FIXED);
	expect("MAP_FIXED across the stack fails", m == MAP_FAILED);
	m = map((void *)0x7ffffffff000ul, 2 * PG, PROT_READ | PROT_WRITE, MAP_FIXED);
	expect("MAP_FIXED past the top of user space fails", m == MAP_FAILED);
	m = map((void *)-PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_FIXED);
	expect("MAP_FIXED wrapping fails", m == MAP_FAILED);
	m = map(NULL, PG, PROT_READ | PROT_WRITE | PROT_EXEC, 0);
	expect("writable executable mapping fails", m == MAP_FAILED);
	m = map(NULL, PG, PROT_READ | PROT_WRITE, 0);
	expect("mprotect of written memory to executable fails",
	       m != MAP_FAILED && mprotect(m, PG, PROT_READ | PROT_EXEC) == -1);
	expect("mremap of the stack fails",
	       mremap((void *)stack, PG, 2 * PG, MREMAP_MAYMOVE) == MAP_FAILED);
	expect("mremap of the text fails",
	       mremap((void *)text, PG, 2 * PG, MREMAP_MAYMOVE) == MAP_FAILED);
	expect("mremap to a fixed address below 0x400000 fails",
	       mremap(m, PG, PG, MREMAP_MAYMOVE | MREMAP_FIXED, (void *)0x200000) == MAP_FAILED);
	cur = syscall(SYS_brk, 0);
	r = syscall(SYS_brk, stack);
	expect("brk into the stack refused", r == cur);
	r = syscall(SYS_brk, (long)m + PG);
	expect("brk over a mapping refused", r == cur);

	/* these may succeed or fail, but the stack, the text and the data must survive */
	munmap((void *)stack, PG);
	madvise((void *)stack, PG, MADV_DONTNEED);
	munmap((void *)text, PG);
	madvise((void *)(stack - 64 * PG), 128 * PG, MADV_DONTNEED);
	mincore((void *)0x200000, PG, (unsigned char *)text);
	mincore((void *)stack, PG, (unsigned char *)&here);
	expect("the stack survived", here == 1);

	/* memory handed out after all that still reads zero */
	m = map(NULL, 3 << 20, PROT_READ | PROT_WRITE, 0);
	expect("a fresh 3 MiB mapping reads zero", m != MAP_FAILED && zero(m, 3 << 20));
}

int main(int argc, char **argv)
{
	common();
	if (argc > 1 && !strcmp(argv[1], "hostile"))
		hostile();
	printf("bad=%d\ndone\n", bad);
	return 0;
}
