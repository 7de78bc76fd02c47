/* consumer.c: receives and checks the messages producer.c sends; prints a summary. */
#include <stdio.h>
#include <string.h>

#include <mvmm/ring.h>

#include "ipc_common.h"

/*
 * consumer [REGION [MODE]]: reads the ring in region REGION (default
 * "ring") until the producer closes it. MODE "check" (default) verifies
 * every message's sequence number and hash; "copy" copies each message out
 * and checks nothing. Exits 0 if all were intact, 1 on a bad message, 3 if
 * the producer vanished without closing the ring.
 */
static uint8_t out[1u << 20];

int main(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "ring";
	int copy = argc > 2 && strcmp(argv[2], "copy") == 0;
	uint64_t n = 0, bytes = 0, sum = 0, bad = 0, size, t0 = 0, t1;
	struct mvmm_shm_handle h;
	struct ring r;
	int64_t err;
	void *mem;
	int rc;

	mem = mvmm_shm_open(name, NULL, 0, &h, &size, &err);
	if (!mem || (rc = ring_open(&r, mem, size, &h)) < 0) {
		fprintf(stderr, "consumer: region '%s': error %ld\n", name, (long)(mem ? rc : err));
		return 2;
	}
	for (;;) {
		uint32_t len;
		const uint8_t *p;

		if (copy) {
			int64_t got = ring_recv(&r, out, sizeof(out));

			if (got < 0) {
				err = got;
				break;
			}
			len = (uint32_t)got;
		} else {
			p = ring_peek(&r, &len, &err);
			if (!p)
				break;
			if (len < 16) {
				bad++;
			} else {
				uint64_t seq, hash, want = ipc_hash(p + 16, len - 16);

				memcpy(&seq, p, 8);
				memcpy(&hash, p + 8, 8);
				if (seq != n || hash != want) {
					if (bad++ < 5)
						fprintf(stderr,
							"consumer: message %lu: seq %lu, hash %016lx, "
							"computed %016lx\n",
							(unsigned long)n, (unsigned long)seq,
							(unsigned long)hash, (unsigned long)want);
				}
				sum += want;
			}
			ring_release(&r);
		}
		if (!n)
			t0 = ipc_now_ns();
		n++;
		bytes += len;
	}
	t1 = ipc_now_ns();
	if (err != RING_EOF) {
		fprintf(stderr, "consumer: the producer vanished after %lu messages (error %ld)\n",
			(unsigned long)n, (long)err);
		return 3;
	}
	{
		uint64_t ns = t1 > t0 ? t1 - t0 : 1;

		printf("consumer: received %lu messages, %lu bytes, checksum %016lx, %lu bad, "
		       "%lu ns, %lu msg/s, %lu MiB/s, %lu sleeps, %lu notifies\n",
		       (unsigned long)n, (unsigned long)bytes, (unsigned long)sum,
		       (unsigned long)bad, (unsigned long)ns,
		       (unsigned long)(n * 1000000000ull / ns),
		       (unsigned long)(bytes * 1000000000ull / ns >> 20), (unsigned long)r.sleeps,
		       (unsigned long)r.notifies);
	}
	return bad ? 1 : 0;
}
