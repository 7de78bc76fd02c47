/* srv_wire.c: the server's wire protocol: frames, requests and statuses, and connecting. */
#define _GNU_SOURCE
#include "srv_wire.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/error.h"

/* Waits until fd is readable or deadline_ns (0: no deadline) passes; -1 with errmsg then. */
static int wait_readable(int fd, uint64_t deadline_ns)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	uint64_t now;
	int r;

	if (!deadline_ns)
		return 0;
	for (;;) {
		now = vm_now_ns();
		if (now >= deadline_ns)
			return err_set("the frame did not arrive in time");
		r = poll(&p, 1, (int)((deadline_ns - now + 999999) / 1000000));
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return err_sys("poll");
	}
}

/*
 * 1: all read; 0: end of file before the first byte; -2: end of file later;
 * -1: error, or deadline_ns passed (the whole frame has one deadline, so a
 * client trickling a byte at a time cannot hold a connection for long).
 */
static int read_full(int fd, void *buf, size_t len, uint64_t deadline_ns)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n;

		if (wait_readable(fd, deadline_ns) < 0)
			return -1;
		n = read(fd, (uint8_t *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys("reading from the socket");
		if (n == 0)
			return done ? -2 : 0;
		done += (size_t)n;
	}
	return 1;
}

/* Takes len bytes from the shared budget; 0 when it has not that many left. */
static int budget_take(uint64_t *budget, uint32_t len)
{
	uint64_t left = __atomic_load_n(budget, __ATOMIC_RELAXED);

	do {
		if (left < len)
			return 0;
	} while (!__atomic_compare_exchange_n(budget, &left, left - len, 0, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return 1;
}

static void frame_release(struct srv_frame *f)
{
	if (f->budget && f->reserved)
		__atomic_add_fetch(f->budget, f->reserved, __ATOMIC_RELAXED);
	f->reserved = 0;
}

enum srv_read srv_read_frame_limited(int fd, struct srv_frame *f,
				     const struct srv_read_limits *lim)
{
	uint64_t deadline = lim ? lim->deadline_ns : 0;
	uint8_t hdr[SRV_HEADER_SIZE];
	uint32_t len;
	int r = read_full(fd, hdr, sizeof(hdr), deadline);

	if (r <= 0)
		return r == 0 ? SRV_READ_EOF : r == -2 ? SRV_READ_TRUNCATED : SRV_READ_IO;
	len = srv_get32(hdr);
	if (len == 0 || len > SRV_FRAME_MAX) {
		err_set("frame length %u outside 1..%u", len, SRV_FRAME_MAX);
		return SRV_READ_TOO_BIG;
	}
	frame_release(f);
	if (lim && lim->budget) {
		if (!budget_take(lim->budget, len)) {
			err_set("the server is holding too many unfinished requests");
			return SRV_READ_BUSY;
		}
		f->budget = lim->budget;
		f->reserved = len;
	}
	f->type = hdr[4];
	f->len = len - 1;
	if (f->cap < f->len + 1) {
		uint8_t *d = realloc(f->data, f->len + 1);

		if (!d) {
			err_set("out of memory");
			return SRV_READ_IO;
		}
		f->data = d;
		f->cap = f->len + 1;
	}
	r = f->len ? read_full(fd, f->data, f->len, deadline) : 1;
	if (r <= 0)
		return r < 0 && r != -2 ? SRV_READ_IO : SRV_READ_TRUNCATED;
	f->data[f->len] = 0; /* convenience for text payloads; not part of the frame */
	return SRV_READ_OK;
}

enum srv_read srv_read_frame(int fd, struct srv_frame *f)
{
	return srv_read_frame_limited(fd, f, NULL);
}

void srv_frame_free(struct srv_frame *f)
{
	frame_release(f);
	free(f->data);
	memset(f, 0, sizeof(*f));
}

int srv_send_frame(int fd, uint8_t type, const void *a, size_t alen, const void *b, size_t blen)
{
	uint8_t hdr[SRV_HEADER_SIZE];
	struct iovec iov[3] = {{hdr, sizeof(hdr)}, {(void *)a, alen}, {(void *)b, blen}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};

	if (alen + blen + 1 > SRV_FRAME_MAX)
		return err_set("frame of %zu bytes is over the limit", alen + blen + 1);
	srv_put32(hdr, (uint32_t)(alen + blen + 1));
	hdr[4] = type;
	while (msg.msg_iovlen > 0) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_sys("writing to the socket");
		while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

int srv_request_frame(const char *const *args, int argc, uint8_t **buf, size_t *len)
{
	size_t total = SRV_HEADER_SIZE + 8;
	uint8_t *p;
	int i;

	if (argc < 0 || (unsigned)argc > SRV_MAX_ARGS)
		return err_set("too many arguments (at most %u)", SRV_MAX_ARGS);
	for (i = 0; i < argc; i++)
		total += strlen(args[i]) + 1;
	if (total - 4 > SRV_FRAME_MAX)
		return err_set("the arguments take more than %u bytes", SRV_FRAME_MAX);
	p = malloc(total);
	if (!p)
		return err_set("out of memory");
	*buf = p;
	*len = total;
	srv_put32(p, (uint32_t)(total - 4));
	p[4] = SRV_REQUEST;
	srv_put32(p + 5, SRV_PROTO_VERSION);
	srv_put32(p + 9, (uint32_t)argc);
	p += SRV_HEADER_SIZE + 8;
	for (i = 0; i < argc; i++) {
		size_t l = strlen(args[i]) + 1;

		memcpy(p, args[i], l);
		p += l;
	}
	return 0;
}

int srv_parse_request(const uint8_t *p, size_t len, struct vm_request *req)
{
	uint32_t argc, nuls = 0;
	size_t i;

	if (len < 8)
		return err_set("request payload of %zu bytes is shorter than its 8-byte head", len);
	if (srv_get32(p) != SRV_PROTO_VERSION)
		return err_set("protocol version %u, this server speaks %u", srv_get32(p),
			       SRV_PROTO_VERSION);
	argc = srv_get32(p + 4);
	if (argc > SRV_MAX_ARGS)
		return err_set("%u arguments, at most %u", argc, SRV_MAX_ARGS);
	for (i = 8; i < len; i++)
		nuls += p[i] == 0;
	if (nuls != argc || (len > 8 && p[len - 1] != 0))
		return err_set("request holds %u NUL-terminated strings, argc says %u", nuls, argc);
	req->data = (const char *)p + 8;
	req->len = len - 8;
	req->argc = argc;
	return 0;
}

int srv_parse_status(const uint8_t *p, size_t len, struct srv_status *st)
{
	if (len < 24)
		return err_set("status frame of %zu bytes is too short", len);
	st->status = srv_get32(p + 4);
	st->end = srv_get32(p + 8);
	st->clone_no = (uint64_t)srv_get32(p + 16) | (uint64_t)srv_get32(p + 20) << 32;
	st->text = (const char *)p + 24;
	st->text_len = len - 24;
	return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
	srv_put32(p, (uint32_t)v);
	srv_put32(p + 4, (uint32_t)(v >> 32));
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)srv_get32(p) | (uint64_t)srv_get32(p + 4) << 32;
}

void srv_info_encode(const struct srv_info *in, uint8_t out[SRV_INFO_SIZE])
{
	srv_put32(out, SRV_PROTO_VERSION);
	srv_put32(out + 4, in->generation);
	put64(out + 8, in->served);
	srv_put32(out + 16, in->in_flight);
	srv_put32(out + 20, in->pool_ready);
	srv_put32(out + 24, in->pool_target);
	srv_put32(out + 28, in->samples);
	put64(out + 32, in->p50_ns);
	put64(out + 40, in->p90_ns);
	put64(out + 48, in->p99_ns);
	put64(out + 56, in->rss_kb);
	put64(out + 64, in->pss_kb);
	put64(out + 72, in->template_bytes);
	put64(out + 80, in->mem_size);
	put64(out + 88, in->uptime_ns);
	srv_put32(out + 96, 0);
}

int srv_parse_info(const uint8_t *p, size_t len, struct srv_info *out)
{
	if (len < SRV_INFO_SIZE)
		return err_set("status answer of %zu bytes, at least %u expected", len,
			       SRV_INFO_SIZE);
	if (srv_get32(p) != SRV_PROTO_VERSION)
		return err_set("status answer of protocol version %u, this client speaks %u",
			       srv_get32(p), SRV_PROTO_VERSION);
	out->generation = srv_get32(p + 4);
	out->served = get64(p + 8);
	out->in_flight = srv_get32(p + 16);
	out->pool_ready = srv_get32(p + 20);
	out->pool_target = srv_get32(p + 24);
	out->samples = srv_get32(p + 28);
	out->p50_ns = get64(p + 32);
	out->p90_ns = get64(p + 40);
	out->p99_ns = get64(p + 48);
	out->rss_kb = get64(p + 56);
	out->pss_kb = get64(p + 64);
	out->template_bytes = get64(p + 72);
	out->mem_size = get64(p + 80);
	out->uptime_ns = get64(p + 88);
	if (out->samples > SRV_LATENCY_RING)
		return err_set("status answer with %u latency samples, at most %u", out->samples,
			       SRV_LATENCY_RING);
	return 0;
}

int srv_address(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return err_set("socket path %s is longer than %zu bytes", path,
			       sizeof(sa->sun_path) - 1);
	strcpy(sa->sun_path, path);
	return 0;
}

int srv_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd;

	if (srv_address(path, &sa) < 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_sys("socket");
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		err_sys("cannot connect to %s", path);
		close(fd);
		return -1;
	}
	return fd;
}

