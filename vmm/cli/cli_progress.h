/*
 * cli_progress.h: one line of progress on stderr while a fleet runs:
 * instances started, held and exited, time elapsed, starts per second; or
 * while one long phase runs (a template's boot, an image built and stored
 * in the cache): its name and the time elapsed.
 *
 * Shown only when stderr is a terminal and the level is warn or more (not
 * with -q), and only once the run has taken a second; redrawn in place at
 * most every 150 ms. Nothing else may land on that line: guest output
 * lines bound for a terminal, log lines, and a guest's own writes to the
 * terminal (through vlog_before_output, set by cli_log_init) call
 * cli_progress_before_output first, which erases the line and keeps it away for a second (it comes
 * back once the output pauses). The counts and the lock live in a shared
 * mapping, so instances in forked worker processes do the same. At the end
 * the line is erased, before the run's results are printed.
 */
#ifndef MVMM_CLI_PROGRESS_H
#define MVMM_CLI_PROGRESS_H

#include "fleet/fleet.h"

struct cli_progress;

/* Starts showing the progress of total instances; NULL when none is to be shown. */
struct cli_progress *cli_progress_start(unsigned total);
/* Starts showing "mvmm: PHASE: 1.4 s" (phase is not copied); NULL when none is to be shown. */
struct cli_progress *cli_progress_start_phase(const char *phase);
/* The counts the fleet bumps (fleet_config.progress); NULL for a NULL p. */
struct fleet_progress *cli_progress_counts(struct cli_progress *p);
/* Erases the line and frees p (NULL is fine). */
void cli_progress_stop(struct cli_progress *p);

/* Before writing to fd 1 or 2: erases the progress line if that fd is the terminal. */
void cli_progress_before_output(int fd);

#endif
