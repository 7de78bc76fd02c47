/* fuzz_wire.c: libFuzzer target: the server's wire protocol: frames read from a pipe holding the
 * input (srv_read_frame, srv_read_frame_limited), their payloads parsed as requests and statuses
 * (srv_parse_request, srv_parse_status), and what parses written back the same. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "serve/srv_wire.h"

#include "fuzz.h"

/*
 * Input: one mode byte, then the byte stream a peer sends. Mode bit 0: read with
 * srv_read_frame_limited, a deadline 10 s away and a budget of (mode >> 1) KiB of buffered
 * payload; else srv_read_frame. Frames are read until the stream ends or a read fails.
 */
#define FUZZ_STREAM_MAX (1u << 20)
/* Frames sent back through the socket pair: what its default buffer takes without blocking. */
#define FUZZ_SEND_MAX (32u << 10)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* A parsed request written back with srv_request_frame must be the payload it came from. */
static void check_request(const uint8_t *p, uint32_t len, const struct vm_request *req)
{
	const char **args;
	const char *s = req->data;
	uint8_t *buf = NULL;
	size_t blen = 0;
	uint64_t i;

	FUZZ_CHECK(req->data == (const char *)p + 8 && req->len == len - 8u, "request bounds");
	FUZZ_CHECK(req->argc <= SRV_MAX_ARGS, "argc %lu", (unsigned long)req->argc);
	args = calloc(req->argc + 1, sizeof(*args));
	fuzz_need(args != NULL, "calloc");
	for (i = 0; i < req->argc; i++) {
		FUZZ_CHECK(s < req->data + req->len, "argument %lu beyond the payload",
			   (unsigned long)i);
		args[i] = s;
		s += strnlen(s, (size_t)(req->data + req->len - s)) + 1;
	}
	FUZZ_CHECK(s == req->data + req->len, "bytes after the last argument");
	FUZZ_CHECK(srv_request_frame(args, (int)req->argc, &buf, &blen) == 0, "re-encoding: %s",
		   mvmm_errmsg());
	FUZZ_CHECK(blen == SRV_HEADER_SIZE + (size_t)len && srv_get32(buf) == len + 1u &&
			   buf[4] == SRV_REQUEST && memcmp(buf + SRV_HEADER_SIZE, p, len) == 0,
		   "re-encoded request differs");
	free(buf);
	free(args);
}

/* A frame sent with srv_send_frame reads back the same. */
static void check_send(int sock[2], const struct srv_frame *f)
{
	struct srv_frame g = {0};
	uint32_t half = f->len / 2;

	FUZZ_CHECK(srv_send_frame(sock[0], f->type, f->data, half, f->data + half, f->len - half) ==
			   0,
		   "send: %s", mvmm_errmsg());
	FUZZ_CHECK(srv_read_frame(sock[1], &g) == SRV_READ_OK && g.type == f->type &&
			   g.len == f->len && memcmp(g.data, f->data, f->len) == 0,
		   "frame sent differs from frame read");
	srv_frame_free(&g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int sock[2] = {-1, -1};
	struct srv_read_limits lim = {0};
	struct srv_frame f = {0};
	struct vm_request req;
	struct srv_status st;
	enum srv_read r;
	uint64_t budget = 0;
	unsigned mode;
	int pfd[2];
	size_t done = 0;

	if (sock[0] < 0) {
		int big = 4 << 20;

		fuzz_need(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sock) == 0,
			  "socketpair");
		setsockopt(sock[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
		setsockopt(sock[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	}
	if (size < 1)
		return 0;
	mode = data[0];
	data++, size--;
	if (size > FUZZ_STREAM_MAX)
		size = FUZZ_STREAM_MAX;
	fuzz_need(pipe2(pfd, O_CLOEXEC) == 0, "pipe2");
	if (size > 65536)
		fcntl(pfd[1], F_SETPIPE_SZ, (int)size);
	fcntl(pfd[1], F_SETFL, O_NONBLOCK);
	while (done < size) {
		ssize_t n = write(pfd[1], data + done, size - done);

		if (n <= 0)
			break; /* the pipe is full: the stream is cut there */
		done += (size_t)n;
	}
	close(pfd[1]);
	if (mode & 1) {
		budget = (uint64_t)(mode >> 1) << 10;
		lim.budget = &budget;
		lim.deadline_ns = mono_ns() + 10000000000ull;
	}
	while ((r = mode & 1 ? srv_read_frame_limited(pfd[0], &f, &lim)
			     : srv_read_frame(pfd[0], &f)) == SRV_READ_OK) {
		FUZZ_LOG("wire: frame type 0x%02x, %u bytes\n", f.type, f.len);
		FUZZ_CHECK(f.len < SRV_FRAME_MAX && f.cap > f.len && f.data[f.len] == 0,
			   "frame buffer");
		if (srv_parse_request(f.data, f.len, &req) == 0)
			check_request(f.data, f.len, &req);
		else
			FUZZ_LOG("wire: not a request: %s\n", mvmm_errmsg());
		if (srv_parse_status(f.data, f.len, &st) == 0)
			FUZZ_CHECK(st.text == (const char *)f.data + 24 &&
					   st.text_len == f.len - 24u,
				   "status text bounds");
		if (f.len <= FUZZ_SEND_MAX)
			check_send(sock, &f);
	}
	FUZZ_LOG("wire: stream ends with %d\n", r);
	FUZZ_CHECK(r != SRV_READ_IO, "read error on a pipe: %s", mvmm_errmsg());
	srv_frame_free(&f);
	FUZZ_CHECK(budget == (uint64_t)(mode >> 1) << 10 || !(mode & 1),
		   "budget %lu after the frame was freed, %u at first", (unsigned long)budget,
		   (mode >> 1) << 10);
	close(pfd[0]);
	return 0;
}
