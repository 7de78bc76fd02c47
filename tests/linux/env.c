/* env.c: the environment a program gets: the variables named in argv, the count of all, and
 * whether envp follows argv; compared with a native run given the same environment. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

int main(int argc, char **argv, char **envp)
{
	int n = 0, count_only = argc > 1 && !strcmp(argv[1], "--count");

	for (char **e = environ; *e; e++)
		n++;
	printf("envp follows argv: %s\n", envp == argv + argc + 1 ? "yes" : "no");
	printf("environ is envp: %s\n", environ == envp ? "yes" : "no");
	if (count_only)
		printf("count=%d\n", n);
	for (int i = 1 + count_only; i < argc; i++) {
		const char *v = getenv(argv[i]);

		if (v)
			printf("%s=[%s]\n", argv[i], v);
		else
			printf("%s unset\n", argv[i]);
	}
	if (setenv("ADDED", "by setenv", 1) == 0)
		printf("ADDED=[%s]\n", getenv("ADDED"));
	return 0;
}
