/* ring.c: the single-producer single-consumer message ring over a shared region (mvmm/ring.h). */
#include <mvmm/ring.h>
#include <string.h>

#define REC_HDR	 8u
#define REC_SKIP 0xffffffffu /* a record length that means: the data restarts at offset 0 */
#define RING_SPIN_DEFAULT 4096u

static uint64_t align8(uint64_t n)
{
	return (n + 7) & ~7ull;
}

static void ring_setup(struct ring *r, void *mem, uint64_t size, const struct mvmm_shm_handle *bell)
{
	memset(r, 0, sizeof(*r));
	r->hdr = mem;
	r->data = (uint8_t *)mem + RING_HDR_SIZE;
	r->cap = (size - RING_HDR_SIZE) & ~7ull;
	r->bell = *bell;
	r->spin = RING_SPIN_DEFAULT;
}

int ring_init(struct ring *r, void *mem, uint64_t size, const struct mvmm_shm_handle *bell)
{
	struct ring_hdr *h = mem;

	if (size < 1024 || ((uintptr_t)mem & 63))
		return -MVMM_EINVAL;
	ring_setup(r, mem, size, bell);
	memset(h, 0, sizeof(*h));
	h->version = RING_VERSION;
	h->cap = r->cap;
	__atomic_store_n(&h->magic, RING_MAGIC, __ATOMIC_RELEASE);
	/* A consumer may already sleep in ring_open. */
	mvmm_shm_notify(bell, &r->seen);
	return 0;
}

int ring_open(struct ring *r, void *mem, uint64_t size, const struct mvmm_shm_handle *bell)
{
	struct ring_hdr *h = mem;

	if (size < 1024 || ((uintptr_t)mem & 63))
		return -MVMM_EINVAL;
	ring_setup(r, mem, size, bell);
	/* seen starts at 0: any notify since the region was made (ring_init's) wakes us at once. */
	while (__atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) != RING_MAGIC) {
		int64_t rc = mvmm_shm_wait(bell, &r->seen, MVMM_SHM_FOREVER, 0);

		if (rc < 0 && rc != -MVMM_ETIMEDOUT)
			return (int)rc;
	}
	if (h->version != RING_VERSION || h->cap > size - RING_HDR_SIZE || h->cap % 8 || h->cap < 512)
		return -MVMM_EINVAL;
	r->cap = h->cap;
	r->pos = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
	r->other = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
	return 0;
}

uint32_t ring_max_msg(const struct ring *r)
{
	uint64_t m = r->cap / 2 - REC_HDR;

	return m > 0x7fffffffu ? 0x7fffffffu : (uint32_t)m;
}

/* Rings the bell for the other side, or leaves it for the next sleep to fold in (ring_call). */
static void ring_bell(struct ring *r)
{
	if (r->notify_pending < 0) {
		r->notify_pending = 1;
		return;
	}
	r->notifies++;
	mvmm_shm_notify(&r->bell, &r->seen);
}

static void ring_flush(struct ring *r)
{
	if (r->notify_pending > 0) {
		r->notify_pending = 0;
		r->notifies++;
		mvmm_shm_notify(&r->bell, &r->seen);
	}
}

/*
 * Sleeps on the bell after `flag` is set and the ring re-checked by the
 * caller. A pending notify (ring_call) goes into the same exit.
 */
static int64_t ring_sleep(struct ring *r)
{
	uint32_t flags = r->notify_pending > 0 ? MVMM_SHM_WAIT_NOTIFY : 0;
	int64_t rc;

	if (flags)
		r->notifies++;
	r->notify_pending = 0;
	r->sleeps++;
	rc = mvmm_shm_wait(&r->bell, &r->seen, MVMM_SHM_FOREVER, flags);
	return rc == -MVMM_ETIMEDOUT ? 0 : rc;
}

/* Producer: waits until need more bytes fit. */
static int ring_wait_space(struct ring *r, uint64_t need)
{
	struct ring_hdr *h = r->hdr;
	unsigned spun = 0;

	while (r->pos + need - r->other > r->cap) {
		int64_t rc;

		r->other = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
		if (r->pos + need - r->other <= r->cap)
			break;
		if (spun < r->spin) {
			spun++;
			__builtin_ia32_pause();
			continue;
		}
		__atomic_store_n(&h->prod_waiting, 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		r->other = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
		if (r->pos + need - r->other <= r->cap) {
			__atomic_store_n(&h->prod_waiting, 0, __ATOMIC_RELAXED);
			break;
		}
		rc = ring_sleep(r);
		__atomic_store_n(&h->prod_waiting, 0, __ATOMIC_RELAXED);
		if (rc == -MVMM_EPIPE) {
			r->other = __atomic_load_n(&h->head, __ATOMIC_ACQUIRE);
			if (r->pos + need - r->other <= r->cap)
				break;
			return -MVMM_EPIPE;
		}
		if (rc < 0)
			return (int)rc;
		spun = 0;
	}
	return 0;
}

void *ring_reserve(struct ring *r, uint32_t len, int *err)
{
	uint64_t rec = REC_HDR + align8(len), off = r->pos % r->cap, room = r->cap - off;
	int rc;

	if (len > ring_max_msg(r)) {
		*err = -MVMM_EINVAL;
		return NULL;
	}
	rc = ring_wait_space(r, rec <= room ? rec : room + rec);
	if (rc < 0) {
		*err = rc;
		return NULL;
	}
	if (rec > room) {
		*(uint32_t *)(r->data + off) = REC_SKIP;
		r->pos += room;
		off = 0;
	}
	*(uint32_t *)(r->data + off) = len;
	r->pending = rec;
	return r->data + off + REC_HDR;
}

void ring_commit(struct ring *r)
{
	struct ring_hdr *h = r->hdr;

	r->pos += r->pending;
	r->pending = 0;
	__atomic_store_n(&h->tail, r->pos, __ATOMIC_RELEASE);
	/* Store tail, then load the flag: the consumer does the mirror image. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&h->cons_waiting, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&h->cons_waiting, 0, __ATOMIC_SEQ_CST))
		ring_bell(r);
}

int ring_send(struct ring *r, const void *msg, uint32_t len)
{
	int err = 0;
	void *p = ring_reserve(r, len, &err);

	if (!p)
		return err;
	memcpy(p, msg, len);
	ring_commit(r);
	return 0;
}

void ring_close(struct ring *r)
{
	__atomic_store_n(&r->hdr->closed, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&r->hdr->cons_waiting, 0, __ATOMIC_RELAXED);
	r->notifies++;
	mvmm_shm_notify(&r->bell, &r->seen);
}

const void *ring_peek(struct ring *r, uint32_t *len, int64_t *err)
{
	struct ring_hdr *h = r->hdr;
	unsigned spun = 0;

	for (;;) {
		int64_t rc;

		if (r->pos == r->other)
			r->other = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
		if (r->pos != r->other) {
			uint64_t off = r->pos % r->cap;
			uint32_t n = *(const uint32_t *)(r->data + off);

			if (n == REC_SKIP) {
				r->pos += r->cap - off;
				continue;
			}
			ring_flush(r);
			*len = n;
			r->pending = REC_HDR + align8(n);
			return r->data + off + REC_HDR;
		}
		if (spun < r->spin) {
			if (!spun++)
				ring_flush(r); /* a peer to wake must not wait for our spinning */
			__builtin_ia32_pause();
			continue;
		}
		__atomic_store_n(&h->cons_waiting, 1, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		r->other = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
		if (r->pos != r->other) {
			__atomic_store_n(&h->cons_waiting, 0, __ATOMIC_RELAXED);
			continue;
		}
		/* closed is stored after the last tail: seeing it, a fresh tail is final. */
		if (__atomic_load_n(&h->closed, __ATOMIC_ACQUIRE)) {
			__atomic_store_n(&h->cons_waiting, 0, __ATOMIC_RELAXED);
			r->other = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
			if (r->pos != r->other)
				continue;
			ring_flush(r);
			*err = RING_EOF;
			return NULL;
		}
		rc = ring_sleep(r);
		__atomic_store_n(&h->cons_waiting, 0, __ATOMIC_RELAXED);
		if (rc == -MVMM_EPIPE) {
			r->other = __atomic_load_n(&h->tail, __ATOMIC_ACQUIRE);
			if (r->pos != r->other || __atomic_load_n(&h->closed, __ATOMIC_ACQUIRE))
				continue;
			*err = -MVMM_EPIPE;
			return NULL;
		}
		if (rc < 0) {
			*err = rc;
			return NULL;
		}
		spun = 0;
	}
}

void ring_release(struct ring *r)
{
	struct ring_hdr *h = r->hdr;

	r->pos += r->pending;
	r->pending = 0;
	__atomic_store_n(&h->head, r->pos, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&h->prod_waiting, __ATOMIC_RELAXED) &&
	    __atomic_exchange_n(&h->prod_waiting, 0, __ATOMIC_SEQ_CST))
		ring_bell(r);
}

int64_t ring_recv(struct ring *r, void *buf, uint32_t cap)
{
	int64_t err = 0;
	uint32_t len;
	const void *p = ring_peek(r, &len, &err);

	if (!p)
		return err;
	memcpy(buf, p, len < cap ? len : cap);
	ring_release(r);
	return len;
}

static int same_bell(const struct ring *a, const struct ring *b)
{
	return a->bell.w[0] == b->bell.w[0] && a->bell.w[1] == b->bell.w[1];
}

int64_t ring_call(struct ring *tx, const void *msg, uint32_t len, struct ring *rx, void *buf,
		  uint32_t cap)
{
	int rc;

	tx->notify_pending = -1; /* ring_bell records instead of ringing */
	rc = ring_send(tx, msg, len);
	if (tx->notify_pending > 0 && same_bell(tx, rx)) {
		rx->notify_pending = 1; /* rx's sleep (or its first message) rings for us */
		tx->notify_pending = 0;
	} else if (tx->notify_pending > 0) {
		ring_flush(tx);
	}
	tx->notify_pending = 0;
	if (rc < 0) {
		ring_flush(rx);
		return rc;
	}
	return ring_recv(rx, buf, cap);
}
