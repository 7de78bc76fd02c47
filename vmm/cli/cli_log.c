/* cli_log.c: the command's log options, and its sink for the library's log lines. */
#define _GNU_SOURCE
#include "cli_log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli_progress.h"
#include "core/log.h"

static int tty_out, tty_err;

/* A line on stderr, after erasing a progress line that may stand there. */
static void cli_log_sink(void *ctx, int level, const char *line)
{
	char buf[1100];
	size_t len = strlen(line), done = 0;

	(void)ctx;
	(void)level;
	if (len > sizeof(buf) - 1)
		len = sizeof(buf) - 1;
	memcpy(buf, line, len);
	buf[len++] = '\n';
	cli_progress_before_output(2);
	while (done < len) {
		ssize_t n = write(STDERR_FILENO, buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		done += (size_t)n;
	}
}

void cli_log_init(void)
{
	/* Here, before the seccomp filter: isatty is an ioctl the filter refuses. */
	tty_out = isatty(STDOUT_FILENO);
	tty_err = isatty(STDERR_FILENO);
	vlog_set_level(VLOG_WARN);
	vlog_set_sink(cli_log_sink, NULL);
	/* Guest writes to this terminal (a template's boot) erase the progress line first. */
	vlog_set_before_output(cli_progress_before_output,
			       (tty_out ? 1u << STDOUT_FILENO : 0) | (tty_err ? 1u << STDERR_FILENO : 0));
}

int cli_log_tty(int fd)
{
	return fd == 1 ? tty_out : fd == 2 ? tty_err : 0;
}

int cli_log_option(int c, const char *arg, const char *cmd)
{
	int level = vlog_get_level();

	switch (c) {
	case 'q':
		vlog_set_level(VLOG_ERROR);
		return 1;
	case 'v':
		vlog_set_level(level < VLOG_INFO ? VLOG_INFO : level + 1);
		return 1;
	case CLI_LOG_LEVEL:
		level = vlog_level_parse(arg);
		if (level < 0) {
			fprintf(stderr,
				"mvmm %s: --log-level needs error, warn, info or debug, not '%s'\n"
				"(see 'mvmm --help')\n",
				cmd, arg ? arg : "");
			return -1;
		}
		vlog_set_level(level);
		return 1;
	default:
		return 0;
	}
}
