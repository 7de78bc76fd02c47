/* srv_stats.c: a server's clone counts and a bounded ring of recent latencies. */
#define _GNU_SOURCE
#include "srv_stats.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "mem/memstat.h"

void srv_stats_init(struct srv_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_init(&st->lock, NULL);
}

void srv_stats_destroy(struct srv_stats *st)
{
	pthread_mutex_destroy(&st->lock);
}

void srv_stats_clone_start(struct srv_stats *st)
{
	pthread_mutex_lock(&st->lock);
	st->in_flight++;
	pthread_mutex_unlock(&st->lock);
}

void srv_stats_clone_done(struct srv_stats *st, uint64_t ns)
{
	pthread_mutex_lock(&st->lock);
	st->in_flight--;
	st->served++;
	st->latency_ns[st->next] = ns;
	st->next = (st->next + 1) % SRV_LATENCY_RING;
	if (st->n < SRV_LATENCY_RING)
		st->n++;
	pthread_mutex_unlock(&st->lock);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

uint64_t srv_percentile(const uint64_t *sorted, uint32_t n, unsigned p)
{
	uint64_t rank;

	if (!n)
		return 0;
	rank = ((uint64_t)n * p + 99) / 100; /* the smallest value with p% at or below it */
	return sorted[(rank ? rank : 1) - 1];
}

void srv_stats_fill(struct srv_stats *st, struct srv_info *info)
{
	uint64_t *sorted = malloc(sizeof(st->latency_ns));
	uint32_t n;

	pthread_mutex_lock(&st->lock);
	info->served = st->served;
	info->in_flight = st->in_flight;
	n = sorted ? st->n : 0;
	if (n)
		memcpy(sorted, st->latency_ns, n * sizeof(*sorted));
	pthread_mutex_unlock(&st->lock);
	if (n)
		qsort(sorted, n, sizeof(*sorted), cmp_u64);
	info->samples = n;
	info->p50_ns = srv_percentile(sorted, n, 50);
	info->p90_ns = srv_percentile(sorted, n, 90);
	info->p99_ns = srv_percentile(sorted, n, 99);
	free(sorted);
}

int srv_stats_answer(int fd, const struct srv_frame *f, struct srv_stats *st,
		     struct srv_info *info)
{
	struct memstat_proc mp;
	uint8_t out[SRV_INFO_SIZE];

	srv_stats_fill(st, info);
	if (memstat_proc_read(&mp) == 0) {
		info->rss_kb = mp.rss_kb;
		info->pss_kb = mp.pss_kb;
	}
	(void)f;
	srv_info_encode(info, out);
	return srv_send_frame(fd, SRV_INFO, out, sizeof(out), NULL, 0);
}
