/* args.c: argv as a program gets it (each argument, its length, argv[argc]) and a few auxv
 * entries; compared with a native run with the same arguments. */
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

int main(int argc, char **argv)
{
	unsigned long sum = 0;

	printf("argc=%d\n", argc);
	for (int i = 0; i < argc; i++) {
		size_t len = strlen(argv[i]);

		for (size_t k = 0; k < len; k++)
			sum = sum * 33 + (unsigned char)argv[i][k];
		if (len > 64)
			printf("argv[%d] len=%zu (long)\n", i, len);
		else
			printf("argv[%d] len=%zu [%s]\n", i, len, argv[i]);
	}
	printf("argv[argc] %s\n", argv[argc] ? "not NULL" : "NULL");
	printf("sum=%lu\n", sum);
	printf("AT_PAGESZ=%lu\n", getauxval(AT_PAGESZ));
	printf("AT_RANDOM %s\n", getauxval(AT_RANDOM) ? "set" : "missing");
	printf("AT_EXECFN %s\n",
	       getauxval(AT_EXECFN) && !strcmp((const char *)getauxval(AT_EXECFN), argv[0])
		       ? "is argv[0]"
		       : "differs");
	printf("AT_SECURE=%lu\n", getauxval(AT_SECURE));
	return argc % 256;
}
