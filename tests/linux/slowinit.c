/*
 * slowinit.c: a template (--ready-on=stdin) whose initialisation takes 5.5 s:
 * it sleeps 3 s (the progress line is drawn after 1 s: 2 s of slack for a
 * loaded machine), prints "slowinit: halfway" on stderr, sleeps 2.5 s more
 * (the line, kept away for 1 s after output, is drawn again before the end),
 * then reads stdin (its ready point) and prints "slowinit: got N bytes".
 * The progress line of a template's boot, and guest output during it.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	struct timespec first = {3, 0}, then = {2, 500000000L};
	char buf[256];
	ssize_t n;

	nanosleep(&first, NULL);
	fprintf(stderr, "slowinit: halfway\n");
	nanosleep(&then, NULL);
	n = read(0, buf, sizeof(buf));
	fprintf(stderr, "slowinit: got %zd bytes\n", n);
	return 0;
}
