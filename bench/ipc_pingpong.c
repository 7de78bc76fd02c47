/* ipc_pingpong.c: bench/ipc's guest: ring round trips over one region, or the cost of one exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mvmm/ring.h>

/* CLOCK_MONOTONIC in nanoseconds: one clock_gettime system call, one exit (no vDSO in a guest). */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * ping N SPIN | pong SPIN: two rings in the region "pp" (ping->pong in the
 * first half, pong->ping in the second); ping sends N 64-byte messages,
 * each answered by pong; SPIN 0 sleeps on the doorbell at once.
 * exits N: N clock_gettime system calls (one exit each).
 */
int main(int argc, char **argv)
{
	const char *role = argc > 1 ? argv[1] : "";
	struct mvmm_shm_handle h;
	struct ring tx, rx;
	uint8_t msg[64] = { 1 }, buf[64];
	uint64_t size, half, i, n, t0;
	int64_t err;
	uint8_t *mem;
	int ping = !strcmp(role, "ping");

	if (!strcmp(role, "exits")) {
		n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
		t0 = now_ns();
		for (i = 0; i < n; i++)
			now_ns();
		printf("exit_ns %lu\n", (unsigned long)((now_ns() - t0) / (n + 1)));
		return 0;
	}
	n = ping && argc > 2 ? strtoul(argv[2], NULL, 10) : 0;
	mem = mvmm_shm_open("pp", NULL, 0, &h, &size, &err);
	if (!mem)
		return 2;
	half = size / 2;
	if (ring_init(&tx, ping ? mem : mem + half, half, &h) < 0 ||
	    ring_open(&rx, ping ? mem + half : mem, half, &h) < 0)
		return 3;
	tx.spin = rx.spin = (unsigned)strtoul(argv[ping ? 3 : 2], NULL, 10);
	if (!ping) {
		int64_t got = ring_recv(&rx, buf, sizeof(buf));

		/* each reply, and the sleep for the next ping, in one exit */
		while (got >= 0)
			got = ring_call(&tx, buf, (uint32_t)got, &rx, buf, sizeof(buf));
		return got == RING_EOF ? 0 : 5;
	}
	ring_call(&tx, msg, sizeof(msg), &rx, buf, sizeof(buf)); /* warm-up */
	t0 = now_ns();
	for (i = 0; i < n; i++)
		if (ring_call(&tx, msg, sizeof(msg), &rx, buf, sizeof(buf)) != sizeof(msg))
			return 4;
	t0 = now_ns() - t0;
	ring_close(&tx);
	printf("rtt_ns %lu sleeps %lu notifies %lu\n", (unsigned long)(t0 / n),
	       (unsigned long)(rx.sleeps + tx.sleeps), (unsigned long)(rx.notifies + tx.notifies));
	return 0;
}
