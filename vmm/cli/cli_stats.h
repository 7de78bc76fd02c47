/* cli_stats.h: --stats output of mvmm run: a human table or JSON lines, on stderr. */
#ifndef MVMM_CLI_STATS_H
#define MVMM_CLI_STATS_H

#include "fleet/fleet.h"
#include "mem/dedup.h"
#include "mem/memstat.h"

enum cli_stats_mode { CLI_STATS_NONE, CLI_STATS_TABLE, CLI_STATS_JSON };

struct cli_stats {
	enum cli_stats_mode mode;
	int no_share;
	uint64_t mem_available_before_kb;
	uint64_t kernel_before_kb;
	uint64_t page_tables_before_kb;
	struct memstat_proc held; /* at the hold point */
	int held_ok;
	int ksm;			/* --ksm */
	int dedup_on;			/* --dedup: the figures below are set */
	struct dedup_stats dedup_held;	/* after the pass at the hold point */
	int dedup_held_ok;
	struct dedup_stats dedup_end;	/* at the end of the run */
};

/* Call before the instances start. */
void cli_stats_begin(struct cli_stats *s);
/* The fleet's on_hold callback: reads the process-wide figures while all are held. */
void cli_stats_on_hold(void *ctx, struct fleet *f);
/* Prints per-instance and summary figures; statuses[i] is instance i's exit status. */
void cli_stats_print(const struct cli_stats *s, const struct fleet *f, const int *statuses);

#endif
