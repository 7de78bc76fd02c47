/* cli_output.h: guest output of many instances: "[N] " line prefixes or one file per instance. */
#ifndef MVMM_CLI_OUTPUT_H
#define MVMM_CLI_OUTPUT_H

#include <pthread.h>
#include <stdint.h>

#include "core/vm.h"

/* A line is kept whole up to this length; a longer one is cut into lines of this size. */
#define CLI_LINE_MAX (64u << 10)

struct cli_line {
	char *buf; /* grows to CLI_LINE_MAX + 1 (room for the newline finish adds) */
	size_t len, cap;
};

struct cli_output {
	const char *dir; /* --output-dir, or NULL for prefixed lines on stdout/stderr */
	int dir_fd;	 /* the checked --output-dir, or -1 */
	unsigned first;	 /* instance numbers first .. first + count - 1 */
	unsigned count;
	struct cli_line *lines; /* [count][2]: a partial line per instance and stream */
	pthread_mutex_t lock;	/* whole lines from different instances never interleave */
	int stalled;		/* a write was given up at a deadline: finish writes no leftovers */
};

/* Whether --output-dir DIR is usable (created if missing); -1 with the reason (mvmm_errmsg). */
int cli_output_check(const char *dir);

/*
 * Prefixed lines for instances first .. first + count - 1, or, with dir, one
 * file per instance and stream in dir (created 0700 if missing; the
 * instances' files of an earlier run removed). dir must be owned by this
 * user, writable by it and by nobody else, as the cache directory.
 */
int cli_output_init(struct cli_output *o, unsigned first, unsigned count, const char *dir);
/* Writes out what is left of partial lines and frees the buffers. */
void cli_output_finish(struct cli_output *o);

extern const struct vm_hooks cli_output_hooks; /* .output, ctx = struct cli_output * */

#endif
