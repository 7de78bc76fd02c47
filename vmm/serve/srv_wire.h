/*
 * srv_wire.h: the wire protocol between `mvmm serve` and its clients: frames,
 * requests, statuses and connecting; the server (server.h) and clients use it.
 */
#ifndef MVMM_SRV_WIRE_H
#define MVMM_SRV_WIRE_H

/*
 * Wire protocol, version 1 (`mvmm serve` / `mvmm launch`).
 *
 * A Unix stream socket. All integers are little-endian. Everything sent in
 * either direction is a frame:
 *
 *     u32 len        bytes that follow: the type byte and the payload,
 *                    1 .. SRV_FRAME_MAX (1 MiB)
 *     u8  type
 *     u8  payload[len - 1]
 *
 * A connection carries one exchange. The client sends exactly one frame:
 *
 *   SRV_REQUEST (0x01)  u32 version (SRV_PROTO_VERSION), u32 argc, then argc
 *                       NUL-terminated strings back to back, filling the
 *                       payload exactly; argc <= SRV_MAX_ARGS. The strings
 *                       become the clone's request (MVMM_HC_REQUEST).
 *   SRV_RETIRE  (0x02)  u32 version. Only from a peer with the server's own
 *                       uid (or root). The server stops accepting once its
 *                       listen backlog is drained, finishes the clones in
 *                       flight, and exits. Sent by `serve --replace` after it
 *                       has renamed its own socket over the path.
 *   SRV_STATUS_REQ (0x03) u32 version. Asks how the server is doing; the
 *                       answer is one SRV_INFO frame. Any user that may
 *                       connect may ask (it tells counts, not requests).
 *
 * The server answers a request with any number of data frames, in the order
 * the clone wrote them, then one final frame, then closes the connection:
 *
 *   SRV_STDOUT  (0x10)  bytes the clone wrote to its stdout
 *   SRV_STDERR  (0x11)  bytes the clone wrote to its stderr
 *   SRV_STATUS  (0x12)  final: u32 version, u32 status (the exit status
 *                       `mvmm run` would give: the guest's code 0-255, 123
 *                       fault or guest error, 124 timeout, 125 mvmm error,
 *                       134 abort), u32 end (enum srv_end), u32 zero,
 *                       u64 clone number (0: no clone was made), then the
 *                       text for the client's stderr (possibly empty; the
 *                       crash report after a fault), not NUL-terminated.
 *   SRV_ERROR   (0x13)  final: u32 code (enum srv_error), u32 the server's
 *                       protocol version, then a one-line message. Sent for
 *                       a malformed, truncated or oversized frame, an unknown
 *                       type or version, when no clone could be made, or when
 *                       the server is stopping. The server carries on.
 *   SRV_RETIRED (0x14)  the answer to SRV_RETIRE: u32 clones in flight, then
 *                       (servers since the status request) u32 the retiring
 *                       server's generation; a new server's is that plus 1.
 *   SRV_INFO    (0x15)  the answer to SRV_STATUS_REQ: SRV_INFO_SIZE bytes or
 *                       more (later fields may follow; a client ignores them):
 *                         u32 version, u32 generation (1 for a server that
 *                         replaced none), u64 clones served (status sent),
 *                         u32 clones in flight, u32 shells ready in the pool,
 *                         u32 the pool's target size, u32 latency samples
 *                         (the last SRV_LATENCY_RING clones at most), then
 *                         u64 each: latency p50, p90, p99 in ns (request read
 *                         to status sent), the server's RSS and PSS in KiB
 *                         (/proc/self/smaps_rollup; 0 if unreadable), the
 *                         template's frozen memory in bytes, guest memory
 *                         size in bytes, time since the server started in ns.
 *
 * A client that closes its connection (fully; a half-close is allowed)
 * before the final frame has its clone stopped and freed. A client whose
 * whole request frame has not arrived SRV_READ_TIMEOUT_S seconds after it
 * connected is dropped. A user id may hold SRV_MAX_CONNS_UID connections
 * at once, and all clients together SRV_BUFFER_MAX bytes of unfinished
 * requests; past either, the answer is SRV_E_BUSY.
 */
#include <stddef.h>
#include <stdint.h>

#include "core/vm.h"

/* Little-endian integers on the wire. */
static inline void srv_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline uint32_t srv_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define SRV_PROTO_VERSION 1u
#define SRV_FRAME_MAX	  (1u << 20) /* type + payload */
#define SRV_HEADER_SIZE	  5u
#define SRV_MAX_ARGS	  4096u
#define SRV_MAX_CONNS	  4096u /* connections served at once; more get SRV_E_BUSY */
#define SRV_MAX_CONNS_UID 512u	/* of those, from one user id */
#define SRV_BUFFER_MAX	  (64u << 20) /* request bytes all connections may hold at once */
#define SRV_READ_TIMEOUT_S 10	/* for a client's whole request frame */

enum srv_frame_type {
	SRV_REQUEST = 0x01,
	SRV_RETIRE = 0x02,
	SRV_STATUS_REQ = 0x03,
	SRV_STDOUT = 0x10,
	SRV_STDERR = 0x11,
	SRV_STATUS = 0x12,
	SRV_ERROR = 0x13,
	SRV_RETIRED = 0x14,
	SRV_INFO = 0x15,
};

/* How a clone ended, on the wire (stable; not enum vm_end). */
enum srv_end {
	SRV_END_EXIT = 1,
	SRV_END_FAULT = 2,
	SRV_END_ABORT = 3,
	SRV_END_GUEST_ERROR = 4,
	SRV_END_TIMEOUT = 5,
	SRV_END_HOST_ERROR = 6, /* includes a clone stopped by the server */
};

enum srv_error {
	SRV_E_MALFORMED = 1, /* bad payload, or a frame cut short */
	SRV_E_TOO_BIG = 2,   /* length 0 or over SRV_FRAME_MAX */
	SRV_E_VERSION = 3,   /* unknown protocol version */
	SRV_E_TYPE = 4,	     /* not a request, retire or status request frame */
	SRV_E_BUSY = 5,	     /* too many connections, or the server is stopping */
	SRV_E_CLONE = 6,     /* the clone could not be made */
	SRV_E_DENIED = 7,    /* retire from another user */
};

/* A frame as read; data is reused between reads and freed by srv_frame_free. */
struct srv_frame {
	uint8_t type;
	uint8_t *data; /* payload */
	uint32_t len;  /* payload bytes */
	size_t cap;
	uint64_t *budget; /* srv_read_limits.budget the frame took `reserved` bytes from */
	uint32_t reserved;
};

enum srv_read {
	SRV_READ_OK = 1,
	SRV_READ_EOF = 0,	/* closed cleanly between frames */
	SRV_READ_IO = -1,	/* read error or timeout (errmsg set) */
	SRV_READ_TRUNCATED = -2, /* closed inside a frame */
	SRV_READ_TOO_BIG = -3,	/* length 0 or over SRV_FRAME_MAX */
	SRV_READ_BUSY = -4,	/* the budget of buffered bytes is spent (errmsg set) */
};

/* Reads one frame (blocking, EINTR retried). */
enum srv_read srv_read_frame(int fd, struct srv_frame *f);

/* What a server allows one frame from a client. */
struct srv_read_limits {
	uint64_t deadline_ns; /* CLOCK_MONOTONIC: the whole frame by then, else SRV_READ_IO */
	uint64_t *budget;     /* payload bytes all connections may still hold (atomic), or NULL */
};
/* The same within lim: the frame's bytes are taken from the budget until srv_frame_free. */
enum srv_read srv_read_frame_limited(int fd, struct srv_frame *f,
				     const struct srv_read_limits *lim);
void srv_frame_free(struct srv_frame *f);

/*
 * Writes one frame whose payload is a then b (either may be empty) with
 * MSG_NOSIGNAL; -1 when the peer is gone or the write timed out.
 */
int srv_send_frame(int fd, uint8_t type, const void *a, size_t alen, const void *b, size_t blen);

/* A whole SRV_REQUEST frame (header included) for args; malloc'd into *buf. */
int srv_request_frame(const char *const *args, int argc, uint8_t **buf, size_t *len);

/* Checks a SRV_REQUEST payload; *req points into p. -1 with the reason in errmsg. */
int srv_parse_request(const uint8_t *p, size_t len, struct vm_request *req);

struct srv_status {
	uint32_t status;
	uint32_t end;
	uint64_t clone_no;
	const char *text; /* points into the payload; not NUL-terminated */
	size_t text_len;
};

/* Decodes a SRV_STATUS payload; -1 when malformed. */
int srv_parse_status(const uint8_t *p, size_t len, struct srv_status *st);

#define SRV_LATENCY_RING 1024 /* recent clones the latency percentiles are taken over */
#define SRV_INFO_SIZE	 100u

/* A server's answer to SRV_STATUS_REQ. */
struct srv_info {
	uint32_t generation;
	uint64_t served;
	uint32_t in_flight;
	uint32_t pool_ready, pool_target;
	uint32_t samples;
	uint64_t p50_ns, p90_ns, p99_ns;
	uint64_t rss_kb, pss_kb;
	uint64_t template_bytes;
	uint64_t mem_size;
	uint64_t uptime_ns;
};

/* The SRV_INFO payload of in (SRV_INFO_SIZE bytes). */
void srv_info_encode(const struct srv_info *in, uint8_t out[SRV_INFO_SIZE]);
/* Decodes a SRV_INFO payload; -1 when short or of another version (errmsg set). */
int srv_parse_info(const uint8_t *p, size_t len, struct srv_info *out);

/* Connects to the server socket at path; -1 with errmsg set. */
int srv_connect(const char *path);

struct sockaddr_un;
/* Fills sa with the Unix socket address of path; -1 if path does not fit. */
int srv_address(const char *path, struct sockaddr_un *sa);

#endif
