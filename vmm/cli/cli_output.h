/* cli_output.h: guest output of many instances: "[N] " line prefixes or one file per instance. */
#ifndef MVMM_CLI_OUTPUT_H
#define MVMM_CLI_OUTPUT_H

#include <pthread.h>
#include <stdint.h>

#include "core/vm.h"

struct cli_line {
	char buf[1024];
	size_t len;
};

struct cli_output {
	const char *dir; /* --output-dir, or NULL for prefixed lines on stdout/stderr */
	unsigned first;	 /* instance numbers first .. first + count - 1 */
	unsigned count;
	struct cli_line *lines; /* [count][2]: a partial line per instance and stream */
	pthread_mutex_t lock;	/* whole lines from different instances never interleave */
};

int cli_output_init(struct cli_output *o, unsigned first, unsigned count, const char *dir);
/* Writes out what is left of partial lines and frees the buffers. */
void cli_output_finish(struct cli_output *o);

extern const struct vm_hooks cli_output_hooks; /* .output, ctx = struct cli_output * */

#endif
