/* mvmm/ring.h: a single-producer single-consumer ring of variable-size messages in a shared region. */
#ifndef MVMM_RING_H
#define MVMM_RING_H

#include <stddef.h>
#include <stdint.h>

#include <mvmm/shm.h>

/*
 * The ring lives in [mem, mem + size) of an attached region (a region may
 * hold several rings, e.g. one per direction): a 256-byte header, then the
 * data. Each message is an 8-byte record header (its length) and its bytes,
 * padded to 8; a message never wraps (a skip record fills the end instead),
 * so ring_peek can hand out the message in place. The producer owns `tail`,
 * the consumer `head`; each publishes with a release store and reads the
 * other's with an acquire load, and caches it, so the data path costs no
 * exit and touches the other side's cache line only when its view says
 * full or empty. Doorbells only on transitions: a side that finds the ring
 * empty (full) spins `spin` rounds, then sets its waiting flag, fences,
 * looks once more and sleeps in MVMM_HC_SHM_WAIT; the other side rings only
 * when it sees that flag (a seq_cst fence on both sides makes a missed
 * flag and a missed message impossible together).
 */
#define RING_MAGIC   0x676e6972u /* "ring" */
#define RING_VERSION 1u
#define RING_HDR_SIZE 256u
#define RING_EOF     (-1000) /* the producer closed the ring and every message was read */

struct ring_hdr {
	uint32_t magic; /* written last by ring_init (release): the ring is ready */
	uint32_t version;
	uint64_t cap; /* data bytes, a multiple of 8 */
	uint8_t pad0[48];
	uint64_t tail; /* producer: bytes ever written (records and skips) */
	uint32_t closed;
	uint8_t pad1[52];
	uint64_t head; /* consumer: bytes ever consumed */
	uint8_t pad2[56];
	uint32_t cons_waiting; /* the consumer sleeps (or is about to): ring the bell */
	uint32_t prod_waiting; /* the producer sleeps for space */
	uint8_t pad3[56];
};
_Static_assert(sizeof(struct ring_hdr) == RING_HDR_SIZE, "ring header size");

struct ring {
	struct ring_hdr *hdr;
	uint8_t *data;
	uint64_t cap;
	struct mvmm_shm_handle bell; /* the region's doorbell */
	uint64_t seen;		     /* the doorbell counter as last seen */
	uint64_t pos;		     /* producer: its tail; consumer: its head */
	uint64_t other;		     /* the other side's index as last read */
	uint64_t pending;	     /* producer: bytes of the reserved record; consumer: of the peeked one */
	unsigned spin;		     /* rounds to poll before sleeping (default 4096; 0: sleep at once) */
	int notify_pending;	     /* ring_call: a notify to fold into the next sleep */
	uint64_t sleeps, notifies;   /* doorbell statistics */
};

/* The producer formats [mem, mem + size) (size >= 1 KiB) and owns the ring. 0 or -MVMM_EINVAL. */
int ring_init(struct ring *r, void *mem, uint64_t size, const struct mvmm_shm_handle *bell);
/* The consumer opens a ring: sleeps on the bell until the producer formatted it. 0 or -MVMM_E*. */
int ring_open(struct ring *r, void *mem, uint64_t size, const struct mvmm_shm_handle *bell);

/* The largest message this ring takes. */
uint32_t ring_max_msg(const struct ring *r);

/* Copies a message in, sleeping while full. 0, or -MVMM_EINVAL (too big), -MVMM_EPIPE (consumer gone). */
int ring_send(struct ring *r, const void *msg, uint32_t len);
/* Zero-copy send: room for len bytes in the ring (NULL with *err on failure), then ring_commit. */
void *ring_reserve(struct ring *r, uint32_t len, int *err);
void ring_commit(struct ring *r);
/* Marks the end of the stream (after the last message) and rings the bell. */
void ring_close(struct ring *r);

/*
 * Copies the next message into buf (at most cap bytes; the rest is
 * dropped), sleeping while empty. Returns the message's full length,
 * RING_EOF, or -MVMM_EPIPE when the producer ended without closing.
 */
int64_t ring_recv(struct ring *r, void *buf, uint32_t cap);
/* Zero-copy receive: the next message in place (NULL with *err as above), then ring_release. */
const void *ring_peek(struct ring *r, uint32_t *len, int64_t *err);
void ring_release(struct ring *r);

/*
 * Request/response over two rings of one region (tx produced here, rx
 * consumed here): sends msg, then receives the reply. When both the peer
 * and we must sleep, the peer's wake-up and our sleep are one exit
 * (MVMM_SHM_WAIT_NOTIFY), so a round trip costs about two exits in all.
 */
int64_t ring_call(struct ring *tx, const void *msg, uint32_t len, struct ring *rx, void *buf,
		  uint32_t cap);

#endif /* MVMM_RING_H */
