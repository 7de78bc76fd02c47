/* cli_dedup.h: `mvmm run --dedup / --dedup-domain / --dedup-budget / --ksm`: glue to the fleet. */
#ifndef MVMM_CLI_DEDUP_H
#define MVMM_CLI_DEDUP_H

#include <stdint.h>

#include "cli_stats.h"
#include "fleet/fleet.h"
#include "mem/dedup.h"

struct cli_dedup_opts {
	int on;		    /* --dedup given */
	uint64_t period_ms; /* --dedup=MS (default 1000) */
	uint64_t budget_ms; /* --dedup-budget=MS (default 100) */
	unsigned domains;   /* --dedup-domain=N: instance i in domain i % N (default 1) */
	int ksm;	    /* --ksm */
};

struct cli_dedup {
	const struct cli_dedup_opts *o;
	struct dedup *d;
	struct cli_stats *stats;
	struct dedup_stats st;
};

/* Handles one of the options (by its long name); returns 0 or -1 (message printed). */
int cli_dedup_option(struct cli_dedup_opts *o, const char *name, const char *arg);

/* Before fleet_run: hooks the fleet (on_vm, and on_hold in front of the stats'). */
int cli_dedup_setup(struct cli_dedup *cd, const struct cli_dedup_opts *o, struct fleet_config *fc,
		    struct cli_stats *stats);
/* After fleet_run: stops the pass thread, hands the figures to stats, frees. */
void cli_dedup_finish(struct cli_dedup *cd);

#endif
