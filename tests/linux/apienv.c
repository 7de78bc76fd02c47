/*
 * apienv.c: test_api_guest.c's Linux program. Reads one line of stdin
 * first (a template freezes there), then prints what mvmm_guest_options
 * gave it: $GREETING, its working directory, the first line of data.txt
 * (relative: in its cwd), the first line of the file argv[1] names (an
 * exposed host file), and writes "written by LINE" to out.txt beside
 * data.txt (refused unless the directory is writable).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void first_line(const char *what, const char *path)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");

	if (!f) {
		printf("%s: %s\n", what, strerror(errno));
		return;
	}
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
	printf("%s: %s\n", what, buf);
}

int main(int argc, char **argv)
{
	char line[128] = "", cwd[256];
	const char *g = getenv("GREETING");
	FILE *out;

	if (fgets(line, sizeof(line), stdin))
		line[strcspn(line, "\n")] = '\0';
	printf("greeting: %s\n", g ? g : "(none)");
	printf("cwd: %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : strerror(errno));
	first_line("data", "data.txt");
	if (argc > 1)
		first_line("exposed", argv[1]);
	out = fopen("out.txt", "w");
	if (!out) {
		printf("out: %s\n", strerror(errno));
		return 0;
	}
	fprintf(out, "written by %s\n", line);
	printf("out: %s\n", fclose(out) == 0 ? "ok" : strerror(errno));
	return 0;
}
