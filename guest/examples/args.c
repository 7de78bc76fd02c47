/* args.c: prints argv, one argument per line, argv[0] first. */
#include <stdio.h>

int main(int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++)
		printf("%s\n", argv[i]);
	return 0;
}
