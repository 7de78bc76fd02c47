/* ipc_common.h: the message format producer.c and consumer.c agree on. */
#ifndef IPC_COMMON_H
#define IPC_COMMON_H

#include <stdint.h>
#include <string.h>
#include <time.h>

/*
 * A checked message: u64 sequence number, u64 hash of the rest, then bytes
 * generated from the sequence number. "copy" mode sends a fixed buffer and
 * checks nothing (the transport alone, for benchmarks).
 */
#define IPC_MSG_MIN 16u

/* CLOCK_MONOTONIC in nanoseconds. */
static inline uint64_t ipc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline uint64_t ipc_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline void ipc_fill(uint8_t *p, uint32_t len, uint64_t seq)
{
	uint64_t x = ipc_mix(seq + 1), i;

	for (i = 0; i + 8 <= len; i += 8) {
		x += 0x9e3779b97f4a7c15ull;
		memcpy(p + i, &x, 8);
	}
	for (; i < len; i++)
		p[i] = (uint8_t)(x >> (i % 8 * 8));
}

static inline uint64_t ipc_hash(const uint8_t *p, uint32_t len)
{
	uint64_t h = 0x84222325cbf29ce4ull ^ len, w, i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ull;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Parses a decimal number with an optional K/M suffix; 0 on junk. */
static inline uint64_t ipc_num(const char *s)
{
	uint64_t v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	if (*s == 'K' || *s == 'k')
		v <<= 10;
	else if (*s == 'M' || *s == 'm')
		v <<= 20;
	return v;
}

#endif
