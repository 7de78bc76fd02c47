/* main.c: a dynamically linked test program that calls into one library of its own (dep.c). */
#include <stdio.h>

int dep_value(void);

int main(void)
{
	printf("dep says %d\n", dep_value());
	return 0;
}
