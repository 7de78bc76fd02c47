/* isolate.c: one instance writes a marker into a shared image page; every one prints that page. */
#include <mvmm/hypercall.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * argv[1] is the instance that writes (default 0). That instance copies
 * "MARKED-<n>" over the start of isolate_page (a preinitialized, page-aligned
 * page of image data reading "ORIGINAL..."), then every instance waits (mvmm
 * run --hold releases them together, so the write has happened before any
 * instance reads) and prints "[page] " and the page's first 16 bytes.
 */
__attribute__((aligned(4096))) char isolate_page[4096] = "ORIGINAL-CONTENT";

int main(int argc, char **argv)
{
	unsigned long writer = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
	unsigned long me = (unsigned long)mvmm_instance();
	volatile char *p = isolate_page;
	char line[17];
	unsigned i;

	if (me == writer) {
		char marker[17];

		snprintf(marker, sizeof(marker), "MARKED-%lu--------", me);
		for (i = 0; i < 16; i++)
			p[i] = marker[i];
	}
	mvmm_wait();
	for (i = 0; i < 16; i++)
		line[i] = p[i];
	line[16] = '\0';
	printf("page %s\n", line);
	return 0;
}
