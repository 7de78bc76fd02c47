/* shmtest.c: shared-region cases for test_shm.c, chosen by argv[1]; prints "ok CASE" on success. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mvmm/ring.h>
#include <mvmm/shm.h>

#define BASE ((uint8_t *)(uintptr_t)MVMM_SHM_BASE)

static int failures;

#define CHECK(cond)                                                                   \
	do {                                                                          \
		if (!(cond)) {                                                        \
			printf("FAIL line %d: %s\n", __LINE__, #cond);                \
			failures++;                                                   \
		}                                                                     \
	} while (0)

static struct mvmm_shm_handle lookup(const char *name, uint64_t *size, uint32_t *flags)
{
	struct mvmm_shm_handle h = { { 0, 0 } };
	int64_t r = mvmm_shm_lookup(name, &h, size, flags);

	if (r < 0) {
		printf("lookup %s: %ld\n", name, (long)r);
		exit(2);
	}
	return h;
}

static uint64_t hex(const char *s)
{
	uint64_t v = 0;

	for (; *s; s++)
		v = v * 16 + (uint64_t)(*s <= '9' ? *s - '0' : (*s | 0x20) - 'a' + 10);
	return v;
}

/* ro-write NAME: a read-only attachment reads, refuses rw, then a write faults. */
static int ro_write(const char *name)
{
	uint64_t size;
	uint32_t flags;
	struct mvmm_shm_handle h = lookup(name, &size, &flags);
	volatile uint8_t *p = BASE;

	CHECK(flags & MVMM_SHM_RO);
	CHECK(mvmm_shm_attach(&h, BASE, size, 0) == -MVMM_EPERM);
	CHECK(mvmm_shm_attach(&h, BASE, size, MVMM_SHM_RO) == 0);
	printf("read %u\n", p[0]);
	fflush(stdout);
	p[0] = 1; /* must fault */
	printf("wrote to a read-only region\n");
	return 99;
}

/* args NAME OTHER: validation of every argument; returns after printing ok. */
static int args(const char *name, const char *other)
{
	uint64_t size, osize, seen = 0;
	struct mvmm_shm_handle h = lookup(name, &size, NULL), o = lookup(other, &osize, NULL), bad;
	uint32_t attached = 0;
	int i;

	CHECK(size != osize);
	/* random handles: nothing resolves them */
	for (i = 0; i < 100; i++) {
		if (getrandom(&bad, sizeof(bad), 0) != (ssize_t)sizeof(bad))
			return 1;
		CHECK(mvmm_shm_attach(&bad, BASE, size, 0) == -MVMM_ENOENT);
		CHECK(mvmm_shm_info(&bad, NULL, NULL, NULL) == -MVMM_ENOENT);
		CHECK(mvmm_shm_notify(&bad, NULL) == -MVMM_ENOENT);
		CHECK(mvmm_shm_wait(&bad, &seen, 0, 0) == -MVMM_ENOENT);
	}
	/* a valid handle off by one bit */
	bad = h;
	bad.w[1] ^= 1;
	CHECK(mvmm_shm_attach(&bad, BASE, size, 0) == -MVMM_ENOENT);
	CHECK(mvmm_shm_lookup("no-such-region", &bad, NULL, NULL) == -MVMM_ENOENT);
	/* another region's size, zero, unaligned, outside the window, flags */
	CHECK(mvmm_shm_attach(&h, BASE, osize, 0) == -MVMM_EINVAL);
	CHECK(mvmm_shm_attach(&h, BASE, 0, 0) == -MVMM_EINVAL);
	CHECK(mvmm_shm_attach(&h, BASE + 8, size, 0) == -MVMM_EINVAL);
	CHECK(mvmm_shm_attach(&h, (void *)(uintptr_t)0x400000, size, 0) == -MVMM_EINVAL);
	CHECK(mvmm_shm_attach(&h, BASE - 4096, size, 0) == -MVMM_EINVAL);
	CHECK(mvmm_shm_attach(&h, BASE + MVMM_SHM_WINDOW - 4096, size, 0) == -MVMM_EINVAL);
	CHECK(mvmm_shm_attach(&h, (void *)(uintptr_t)(UINT64_MAX - 4095), size, 0) ==
	      -MVMM_EINVAL);
	CHECK(mvmm_shm_attach(&h, BASE, size, 2) == -MVMM_EINVAL);
	CHECK(mvmm_shm_wait(&h, &seen, 0, 8) == -MVMM_EINVAL);
	/* overlap */
	CHECK(mvmm_shm_attach(&h, BASE, size, 0) == 0);
	CHECK(mvmm_shm_attach(&h, BASE, size, 0) == -MVMM_EBUSY);
	CHECK(mvmm_shm_attach(&o, BASE + size - 4096, osize, 0) == -MVMM_EBUSY);
	CHECK(mvmm_shm_attach(&o, BASE + size, osize, 0) == 0);
	CHECK(mvmm_shm_info(&h, NULL, NULL, &attached) == 0 && attached == 1);
	CHECK(mvmm_shm_detach(BASE + 4096) == -MVMM_EINVAL);
	CHECK(mvmm_shm_detach(BASE + size) == 0);
	CHECK(mvmm_shm_detach(BASE + size) == -MVMM_EINVAL);
	/* too many attachments */
	for (i = 1; i < (int)MVMM_SHM_ATTACH_MAX; i++)
		CHECK(mvmm_shm_attach(&h, BASE + (uint64_t)i * size, size, 0) == 0);
	CHECK(mvmm_shm_attach(&h, BASE + (uint64_t)i * size, size, 0) == -MVMM_ENOSPC);
	/* the same region twice is one region: a write shows at both addresses */
	BASE[0] = 42;
	CHECK(BASE[size] == 42);
	for (i = 0; i < (int)MVMM_SHM_ATTACH_MAX; i++)
		CHECK(mvmm_shm_detach(BASE + (uint64_t)i * size) == 0);
	/* wait's own timeout, and alone on the region without anyone having ended: ETIMEDOUT */
	seen = 0;
	mvmm_shm_notify(&h, &seen);
	CHECK(mvmm_shm_wait(&h, &seen, 1000000, 0) == -MVMM_ETIMEDOUT);
	CHECK(mvmm_shm_wait(&h, &seen, 0, 0) == -MVMM_ETIMEDOUT);
	seen--;
	CHECK(mvmm_shm_wait(&h, &seen, MVMM_SHM_FOREVER, 0) == 0); /* moved: at once */
	if (failures)
		return 1;
	printf("ok args\n");
	return 0;
}

/* handle HEX0 HEX1: a handle passed on the command line (revoked by the host): ENOENT everywhere. */
static int handle_case(const char *a, const char *b)
{
	struct mvmm_shm_handle h = { { hex(a), hex(b) } };
	uint64_t seen = 0;

	CHECK(mvmm_shm_attach(&h, BASE, 4096, 0) == -MVMM_ENOENT);
	CHECK(mvmm_shm_info(&h, NULL, NULL, NULL) == -MVMM_ENOENT);
	CHECK(mvmm_shm_wait(&h, &seen, 0, 0) == -MVMM_ENOENT);
	if (failures)
		return 1;
	printf("ok handle\n");
	return 0;
}

/*
 * cycles NAME OTHER N: attach/detach N times (with a write and a read each),
 * with mvmm_wait before and after for the host to count its mappings;
 * re-attaching another region at the same address shows the other's bytes.
 */
static int cycles(const char *name, const char *other, int n)
{
	uint64_t size, osize;
	struct mvmm_shm_handle h = lookup(name, &size, NULL), o = lookup(other, &osize, NULL);
	volatile uint64_t *p = (volatile uint64_t *)BASE;
	int i;

	CHECK(mvmm_shm_attach(&h, BASE, size, 0) == 0);
	p[0] = 0xaaaa;
	CHECK(mvmm_shm_detach(BASE) == 0);
	mvmm_wait(); /* the host counts: nothing attached */
	for (i = 0; i < n; i++) {
		CHECK(mvmm_shm_attach(&h, BASE, size, 0) == 0);
		CHECK(p[0] == 0xaaaa + (uint64_t)i);
		p[0] = 0xaaaa + (uint64_t)i + 1;
		CHECK(mvmm_shm_detach(BASE) == 0);
		CHECK(mvmm_shm_attach(&o, BASE, osize, 0) == 0);
		CHECK(p[0] == (uint64_t)i); /* the other region's own word, not a stale page */
		p[0] = (uint64_t)i + 1;
		CHECK(mvmm_shm_detach(BASE) == 0);
		if (failures)
			break;
	}
	mvmm_wait(); /* the host counts again: the same */
	if (failures)
		return 1;
	printf("ok cycles\n");
	return 0;
}

/* after-detach NAME: touching a detached region faults. */
static int after_detach(const char *name)
{
	uint64_t size;
	struct mvmm_shm_handle h = lookup(name, &size, NULL);
	volatile uint8_t *p = BASE;

	CHECK(mvmm_shm_attach(&h, BASE, size, 0) == 0);
	p[0] = 7;
	CHECK(mvmm_shm_detach(BASE) == 0);
	printf("detached\n");
	fflush(stdout);
	return p[0] == 7 ? 98 : 97; /* must fault before */
}

/* producer-dies NAME N: formats a ring, sends N messages, then faults without closing. */
static int producer_dies(const char *name, int n)
{
	uint64_t size;
	struct mvmm_shm_handle h = lookup(name, &size, NULL);
	struct ring r;
	char msg[100] = "x";
	int i;

	CHECK(mvmm_shm_attach(&h, BASE, size, 0) == 0);
	CHECK(ring_init(&r, BASE, size, &h) == 0);
	for (i = 0; i < n; i++)
		ring_send(&r, msg, sizeof(msg));
	printf("dying\n");
	fflush(stdout);
	*(volatile int *)8 = 1;
	return 99;
}

/* consumer-dies NAME N: reads N messages, then exits without reading the rest. */
static int consumer_dies(const char *name, int n)
{
	uint64_t size;
	struct mvmm_shm_handle h = lookup(name, &size, NULL);
	struct ring r;
	char msg[4096];
	int i;

	CHECK(mvmm_shm_attach(&h, BASE, size, 0) == 0);
	CHECK(ring_open(&r, BASE, size, &h) == 0);
	for (i = 0; i < n; i++)
		CHECK(ring_recv(&r, msg, sizeof(msg)) >= 0);
	printf("leaving\n");
	return 5;
}

int main(int argc, char **argv)
{
	const char *c = argc > 1 ? argv[1] : "";

	if (!strcmp(c, "ro-write") && argc == 3)
		return ro_write(argv[2]);
	if (!strcmp(c, "args") && argc == 4)
		return args(argv[2], argv[3]);
	if (!strcmp(c, "handle") && argc == 4)
		return handle_case(argv[2], argv[3]);
	if (!strcmp(c, "cycles") && argc == 5)
		return cycles(argv[2], argv[3], atoi(argv[4]));
	if (!strcmp(c, "after-detach") && argc == 3)
		return after_detach(argv[2]);
	if (!strcmp(c, "producer-dies") && argc == 4)
		return producer_dies(argv[2], atoi(argv[3]));
	if (!strcmp(c, "consumer-dies") && argc == 4)
		return consumer_dies(argv[2], atoi(argv[3]));
	fprintf(stderr, "shmtest: unknown case\n");
	return 2;
}
