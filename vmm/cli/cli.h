/* cli.h: the mvmm command's subcommands, exit statuses and option parsers. */
#ifndef MVMM_CLI_H
#define MVMM_CLI_H

#include <stdint.h>

/* Exit statuses of `mvmm run` besides the guest's own (0-255). Part of the interface. */
#define CLI_STATUS_FAULT   123 /* the guest faulted or broke the hypercall ABI */
#define CLI_STATUS_TIMEOUT 124 /* --timeout expired */
#define CLI_STATUS_ERROR   125 /* mvmm's own error: usage, bad ELF, no KVM */
#define CLI_STATUS_ABORT   134 /* the guest called abort() (as a process killed by SIGABRT) */

/* "64M", "1G", "65536", "512K": bytes; -1 on a malformed or overflowing size. */
int cli_parse_size(const char *s, uint64_t *bytes);

/* --mem: a size as above, but a plain number is MiB, as QEMU's -m ("64": 64 MiB). */
int cli_parse_mem(const char *s, uint64_t *bytes);

/* "1", "0.5", "2.25": nanoseconds; -1 unless a positive finite number of seconds. */
int cli_parse_seconds(const char *s, uint64_t *ns);

/* Thousands of instances hold an fd or two each: raises the soft open-files limit to the hard one. */
void cli_raise_fd_limit(void);

int cmd_run(int argc, char **argv);

#endif
