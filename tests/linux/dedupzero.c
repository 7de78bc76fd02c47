/*
 * dedupzero.c: after --dedup may have merged its pages, memory given back and mapped again
 * reads as zeros. Fills PAGES pages of a private anonymous mapping with one byte pattern (the
 * same in every page and every instance), prints "filled", reads stdin to EOF (so --hold holds
 * it there while dedup merges the pages), checks the pattern, then gives the memory back and
 * checks that every byte of it now reads 0: prints "zero ok" (status 0), or what it found
 * (status 1). The mode (argv[1]) says how the memory is given back:
 *   small     64 pages: munmap, then mmap of the same size (default)
 *   big       1280 pages (5 MiB): munmap, then mmap of the same size
 *   dontneed  64 pages: madvise(MADV_DONTNEED), the mapping stays
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static unsigned char pattern(size_t i)
{
	return (unsigned char)(0xa5 ^ (i % 4096 % 251));
}

static unsigned char *map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "small";
	size_t size = (strcmp(mode, "big") ? 64 : 1280) * 4096ul, i;
	unsigned char *p = map(size), buf[256];

	if (!p) {
		perror("mmap");
		return 2;
	}
	for (i = 0; i < size; i++)
		p[i] = pattern(i);
	printf("filled\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0)
		;
	for (i = 0; i < size; i++)
		if (p[i] != pattern(i)) {
			printf("pattern lost at %zu: %02x\n", i, p[i]);
			return 1;
		}
	if (!strcmp(mode, "dontneed")) {
		if (madvise(p, size, MADV_DONTNEED) != 0) {
			perror("madvise");
			return 2;
		}
	} else {
		if (munmap(p, size) != 0) {
			perror("munmap");
			return 2;
		}
		p = map(size);
		if (!p) {
			perror("mmap again");
			return 2;
		}
	}
	for (i = 0; i < size; i++)
		if (p[i]) {
			printf("byte %zu (page %zu) reads %02x, not 0\n", i, i / 4096, p[i]);
			return 1;
		}
	printf("zero ok\n");
	return 0;
}
