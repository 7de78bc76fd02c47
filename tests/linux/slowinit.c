/*
 * slowinit.c: a template (--ready-on=stdin) whose initialisation takes 3 s:
 * it sleeps 1.5 s, prints "slowinit: halfway" on stderr, sleeps 1.5 s more,
 * then reads stdin (its ready point) and prints "slowinit: got N bytes".
 * The progress line of a template's boot, and guest output during it.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

int main(void)
{
	struct timespec ts = {1, 500000000L};
	char buf[256];
	ssize_t n;

	nanosleep(&ts, NULL);
	fprintf(stderr, "slowinit: halfway\n");
	nanosleep(&ts, NULL);
	n = read(0, buf, sizeof(buf));
	fprintf(stderr, "slowinit: got %zd bytes\n", n);
	return 0;
}
