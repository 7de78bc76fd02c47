/* sigpipe.c: prints numbered lines forever. Default: killed by SIGPIPE once the reader goes
 * (status 141). "ignore": SIGPIPE ignored, the failing write's errno goes to stderr. "handler":
 * a handler counts the signal and the write fails with EPIPE too. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t caught;

static void on_pipe(int sig)
{
	caught = sig;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "default";
	char line[64];

	if (!strcmp(mode, "ignore"))
		signal(SIGPIPE, SIG_IGN);
	else if (!strcmp(mode, "handler"))
		signal(SIGPIPE, on_pipe);
	for (unsigned long i = 0;; i++) {
		int n = snprintf(line, sizeof(line), "line %lu\n", i);

		if (write(1, line, (size_t)n) < 0) {
			fprintf(stderr, "write failed: %s, caught=%d\n",
				errno == EPIPE ? "EPIPE" : strerror(errno), (int)caught);
			return 0;
		}
	}
}
