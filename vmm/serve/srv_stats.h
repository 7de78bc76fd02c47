/* srv_stats.h: a server's counts and the latencies of its recent clones, for status requests. */
#ifndef MVMM_SRV_STATS_H
#define MVMM_SRV_STATS_H

#include <pthread.h>
#include <stdint.h>

#include "srv_wire.h"

struct srv_stats {
	pthread_mutex_t lock;
	uint64_t served;			  /* clones whose final status was sent */
	uint32_t in_flight;			  /* clones running now */
	uint32_t n, next;			  /* samples in the ring; where the next goes */
	uint64_t latency_ns[SRV_LATENCY_RING]; /* the last clones' request-to-status times */
};

void srv_stats_init(struct srv_stats *st);
void srv_stats_destroy(struct srv_stats *st);

void srv_stats_clone_start(struct srv_stats *st);
/* A clone's status was sent (or its client left) ns after its request was read. */
void srv_stats_clone_done(struct srv_stats *st, uint64_t ns);

/* served, in_flight, samples and the percentiles of info (nearest rank); 0s with no sample. */
void srv_stats_fill(struct srv_stats *st, struct srv_info *info);

/*
 * Answers a status request on fd: info holds what the server knows
 * (generation, pool, template, uptime); the counts, the percentiles and the
 * process's memory are added here.
 */
int srv_stats_answer(int fd, const struct srv_frame *f, struct srv_stats *st,
		     struct srv_info *info);

/* The p-th percentile (nearest rank, 0 < p <= 100) of n sorted values. */
uint64_t srv_percentile(const uint64_t *sorted, uint32_t n, unsigned p);

#endif
