/* cli_shm.h: `mvmm run --shm NAME:SIZE[:ro]` regions and `---` groups of different guests. */
#ifndef MVMM_CLI_SHM_H
#define MVMM_CLI_SHM_H

#include <stdint.h>

#include "mem/shm.h"

#define CLI_SHM_MAX    16
#define CLI_GROUPS_MAX 64

struct cli_shm {
	unsigned n;
	struct {
		const char *name; /* points into argv */
		uint64_t size;
		int ro;
		struct shm_region *region;
	} spec[CLI_SHM_MAX];
	struct shm_grant grants[CLI_SHM_MAX + 1]; /* ended by a NULL name; vm_config.shm */
};

/* Adds one --shm NAME:SIZE[:ro]; -1 with a usage message printed. */
int cli_shm_option(struct cli_shm *s, const char *arg);
/* Creates the regions and fills the grants (read-only handles for :ro); -1 on failure (mvmm_errmsg). */
int cli_shm_create(struct cli_shm *s, unsigned guests);
void cli_shm_destroy(struct cli_shm *s);

struct cli_group {
	char **argv; /* GUEST.elf [ARGS...], NULL-terminated */
	unsigned count;
};

/*
 * Cuts `mvmm run` arguments at each "---": *argc becomes the first group's
 * length (argv[*argc] is set to NULL), and every later group
 * `[--count N] GUEST.elf [ARGS...]` lands in groups[1..]. Returns the number
 * of later groups (0 without "---"), or -1 with a usage message printed.
 */
int cli_groups_split(int *argc, char **argv, struct cli_group *groups, unsigned max);

#endif
