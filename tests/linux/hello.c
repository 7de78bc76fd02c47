#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(int argc, char **argv) {
	printf("hello from musl, argc=%d argv0=%s\n", argc, argv[0]);
	char *p = malloc(100000); memset(p, 1, 100000); free(p);
	for (int i = 1; i < argc; i++) printf("arg %s\n", argv[i]);
	return 3;
}
