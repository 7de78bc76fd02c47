/*
 * main.c: a dynamically linked test program that calls into one library of its own
 * (dep.c); with the argument "read" it then echoes each line of stdin (a template's
 * ready point under --ready-on=stdin).
 */
#include <stdio.h>
#include <string.h>

int dep_value(void);

int main(int argc, char **argv)
{
	char line[256];

	printf("dep says %d\n", dep_value());
	if (argc > 1 && !strcmp(argv[1], "read")) {
		fflush(stdout);
		while (fgets(line, sizeof(line), stdin))
			printf("got: %s", line);
	}
	return 0;
}
