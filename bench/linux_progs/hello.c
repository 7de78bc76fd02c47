/* hello: the smallest useful static musl program, for bench/linux.sh's start-up figures. */
#include <stdio.h>

int main(void)
{
	printf("hello\n");
	return 0;
}
