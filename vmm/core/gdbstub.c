/*
 * gdbstub.c: the GDB remote serial protocol (the GDB manual's "Remote
 * Protocol" appendix), the part a one-thread x86-64 target needs. Every byte
 * from the socket is hostile: packets longer than GDB_PACKET_MAX are refused
 * whole, hex is parsed strictly, and lengths in m/M are bounded by the
 * packet size before anything is read or written.
 */
#define _GNU_SOURCE
#include "gdbstub.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define GDB_ACK_WAIT_MS 30000 /* gdb acknowledges at once; a silent peer is gone */
#define GDB_RESENDS	8
#define BP_INSN		0xcc

/* Register sizes in target.xml's order (bytes; 0 ends the list). */
static const unsigned gdb_reg_size[] = {
	8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, /* rax..r15 */
	8, 4,				/* rip, eflags */
	4, 4, 4, 4, 4, 4,		/* cs ss ds es fs gs */
	10, 10, 10, 10, 10, 10, 10, 10, /* st0..st7 */
	4, 4, 4, 4, 4, 4, 4, 4,		/* fctrl fstat ftag fiseg fioff foseg fooff fop */
	16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, 16, /* xmm0..15 */
	4,				/* mxcsr */
	8, 8,				/* fs_base, gs_base */
	0,
};

#define REG_RIP	    16
#define REG_EFLAGS  17
#define REG_SEG0    18
#define REG_FS_BASE 57
#define REG_GS_BASE 58
#define REG_COUNT   59

static uint64_t gdb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void gdb_stub_init(struct gdb_stub *s, int fd, const struct gdb_target_ops *ops, void *ctx)
{
	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->ops = ops;
	s->ctx = ctx;
}

/* Waits for input: 1 readable, 0 the deadline (or max_ms, if >= 0) passed, -1 error. */
static int gdb_wait(struct gdb_stub *s, int max_ms)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};

	for (;;) {
		int ms = max_ms, r;

		if (s->deadline_ns) {
			uint64_t now = gdb_now_ns(), left;

			if (now >= s->deadline_ns)
				return 0;
			left = (s->deadline_ns - now) / 1000000 + 1;
			if (left > 1000000)
				left = 1000000;
			if (ms < 0 || left < (uint64_t)ms)
				ms = (int)left;
		}
		r = poll(&p, 1, ms);
		if (r < 0 && errno == EINTR)
			continue; /* a kick for the vCPU, or its timer: look at the deadline again */
		if (r < 0)
			return -1;
		if (r == 0 && (max_ms >= 0 || (s->deadline_ns && gdb_now_ns() >= s->deadline_ns)))
			return 0;
		if (r > 0)
			return 1;
	}
}

/* The next byte from gdb, -1 when the connection ended, -2 when the wait ran out. */
static int gdb_getc(struct gdb_stub *s, int max_ms)
{
	ssize_t n;

	while (s->rpos == s->rlen) {
		int w = gdb_wait(s, max_ms);

		if (w == 0)
			return -2;
		if (w < 0)
			return -1;
		n = read(s->fd, s->rbuf, sizeof(s->rbuf));
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		s->rpos = 0;
		s->rlen = (size_t)n;
	}
	return s->rbuf[s->rpos++];
}

static int gdb_write_all(struct gdb_stub *s, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(s->fd, buf, len);

		if (n < 0 && errno == EAGAIN) {
			struct pollfd p = {.fd = s->fd, .events = POLLOUT};

			if (poll(&p, 1, GDB_ACK_WAIT_MS) <= 0 && errno != EINTR)
				return -1;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static const char hexdig[] = "0123456789abcdef";

/* Sends s->out (NUL-terminated) as a packet and waits for gdb's '+'. 0, or -1: gone. */
static int gdb_send(struct gdb_stub *s)
{
	size_t len = strlen(s->out);
	char frame[GDB_PACKET_MAX + 8];
	uint8_t sum = 0;
	int tries, c;

	frame[0] = '$';
	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + (uint8_t)s->out[i]);
	memcpy(frame + 1, s->out, len);
	frame[len + 1] = '#';
	frame[len + 2] = hexdig[sum >> 4];
	frame[len + 3] = hexdig[sum & 15];
	for (tries = 0; tries < GDB_RESENDS; tries++) {
		if (gdb_write_all(s, frame, len + 4) < 0)
			return -1;
		do
			c = gdb_getc(s, GDB_ACK_WAIT_MS);
		while (c >= 0 && c != '+' && c != '-');
		if (c == '+')
			return 0;
		if (c < 0)
			return -1;
	}
	return -1;
}

static int gdb_reply(struct gdb_stub *s, const char *text)
{
	snprintf(s->out, sizeof(s->out), "%s", text);
	return gdb_send(s);
}

/*
 * The next well-formed packet's payload into s->in, acknowledged. A bad
 * checksum or an overlong packet is refused with '-' and skipped. Returns
 * its length, or -1 (gone) / -2 (deadline).
 */
static int gdb_read_packet(struct gdb_stub *s)
{
	for (;;) {
		size_t len = 0;
		int c, overlong = 0, h1, h2;
		uint8_t sum = 0;

		do
			c = gdb_getc(s, -1);
		while (c >= 0 && c != '$'); /* acks, a stray Ctrl-C while stopped, noise */
		if (c < 0)
			return c;
		while ((c = gdb_getc(s, -1)) >= 0 && c != '#') {
			sum = (uint8_t)(sum + c);
			if (len < GDB_PACKET_MAX)
				s->in[len++] = (char)c;
			else
				overlong = 1;
		}
		if (c < 0)
			return c;
		h1 = gdb_getc(s, GDB_ACK_WAIT_MS);
		h2 = h1 < 0 ? h1 : gdb_getc(s, GDB_ACK_WAIT_MS);
		if (h2 < 0 && h2 != -2)
			return -1;
		if (overlong || h2 < 0 || hexval(h1) < 0 || hexval(h2) < 0 ||
		    (hexval(h1) << 4 | hexval(h2)) != sum) {
			if (gdb_write_all(s, "-", 1) < 0)
				return -1;
			continue;
		}
		if (gdb_write_all(s, "+", 1) < 0)
			return -1;
		s->in[len] = '\0';
		return (int)len;
	}
}

/* Strict hex number of at most 16 digits at *p, ended by one of `ends` (or NUL if ends has it). */
static int parse_hex(const char **p, uint64_t *v, const char *ends)
{
	const char *q = *p;
	uint64_t x = 0;
	int n = 0;

	while (hexval(*q) >= 0) {
		if (++n > 16)
			return -1;
		x = x << 4 | (uint64_t)hexval(*q++);
	}
	if (n == 0 || (*q && !strchr(ends, *q)) || (!*q && !strchr(ends, '$')))
		return -1;
	*v = x;
	*p = q;
	return 0;
}

static int parse_bytes(const char *hex, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int a = hexval(hex[2 * i]), b = a < 0 ? -1 : hexval(hex[2 * i + 1]);

		if (b < 0)
			return -1;
		out[i] = (uint8_t)(a << 4 | b);
	}
	return 0;
}

static char *put_bytes(char *o, const void *buf, size_t n)
{
	const uint8_t *b = buf;

	for (size_t i = 0; i < n; i++) {
		*o++ = hexdig[b[i] >> 4];
		*o++ = hexdig[b[i] & 15];
	}
	*o = '\0';
	return o;
}

/* Register n of r as gdb's bytes, little-endian; NULL for the unavailable ones. */
static const void *reg_ptr(const struct gdb_regs *r, unsigned n)
{
	if (n < 16)
		return &r->gpr[n];
	if (n == REG_RIP)
		return &r->rip;
	if (n == REG_EFLAGS)
		return &r->eflags;
	if (n >= REG_SEG0 && n < REG_SEG0 + 6)
		return &r->seg[n - REG_SEG0];
	if (n == REG_FS_BASE)
		return &r->fs_base;
	if (n == REG_GS_BASE)
		return &r->gs_base;
	return NULL;
}

static char *put_reg(char *o, const struct gdb_regs *r, unsigned n)
{
	const void *p = reg_ptr(r, n);

	if (p)
		return put_bytes(o, p, gdb_reg_size[n]);
	memset(o, 'x', 2 * gdb_reg_size[n]);
	o[2 * gdb_reg_size[n]] = '\0';
	return o + 2 * gdb_reg_size[n];
}

static int cmd_read_regs(struct gdb_stub *s)
{
	struct gdb_regs r;
	char *o = s->out;

	if (s->ops->get_regs(s->ctx, &r) < 0)
		return gdb_reply(s, "E01");
	for (unsigned n = 0; n < REG_COUNT; n++)
		o = put_reg(o, &r, n);
	return gdb_send(s);
}

/* Takes one register's value from hex; only the general registers, rip and eflags are writable. */
static int set_reg(struct gdb_regs *r, unsigned n, const char *hex)
{
	uint8_t b[8] = {0};

	if (n > REG_EFLAGS || parse_bytes(hex, b, gdb_reg_size[n]) < 0)
		return -1;
	if (n == REG_EFLAGS) {
		uint32_t v;

		memcpy(&v, b, 4);
		r->eflags = v;
	} else {
		memcpy(n == REG_RIP ? &r->rip : &r->gpr[n], b, 8);
	}
	return 0;
}

static int cmd_write_regs(struct gdb_stub *s, const char *hex)
{
	struct gdb_regs r;
	size_t off = 0;

	if (s->ops->get_regs(s->ctx, &r) < 0)
		return gdb_reply(s, "E01");
	/* The general registers, rip and eflags must be there; the rest is ignored. */
	for (unsigned n = 0; n <= REG_EFLAGS; n++) {
		if (strnlen(hex + off, 2 * gdb_reg_size[n]) < 2 * gdb_reg_size[n] ||
		    set_reg(&r, n, hex + off) < 0)
			return gdb_reply(s, "E01");
		off += 2 * gdb_reg_size[n];
	}
	return gdb_reply(s, s->ops->set_regs(s->ctx, &r) < 0 ? "E01" : "OK");
}

static int cmd_read_reg(struct gdb_stub *s, const char *arg)
{
	struct gdb_regs r;
	uint64_t n;

	if (parse_hex(&arg, &n, "$") < 0 || n >= REG_COUNT)
		return gdb_reply(s, "E01");
	if (s->ops->get_regs(s->ctx, &r) < 0)
		return gdb_reply(s, "E01");
	put_reg(s->out, &r, (unsigned)n);
	return gdb_send(s);
}

static int cmd_write_reg(struct gdb_stub *s, const char *arg)
{
	struct gdb_regs r;
	uint64_t n;

	if (parse_hex(&arg, &n, "=") < 0 || n >= REG_COUNT)
		return gdb_reply(s, "E01");
	arg++;
	if (strlen(arg) != 2 * gdb_reg_size[n] || s->ops->get_regs(s->ctx, &r) < 0 ||
	    set_reg(&r, (unsigned)n, arg) < 0 || s->ops->set_regs(s->ctx, &r) < 0)
		return gdb_reply(s, "E01");
	return gdb_reply(s, "OK");
}

/* m addr,len: as many bytes as are readable from addr (a short answer is allowed), else E14. */
static int cmd_read_mem(struct gdb_stub *s, const char *arg)
{
	uint8_t buf[GDB_PACKET_MAX / 2];
	uint64_t addr, len;
	size_t got;

	if (parse_hex(&arg, &addr, ",") < 0 || (arg++, parse_hex(&arg, &len, "$")) < 0)
		return gdb_reply(s, "E01");
	if (len > sizeof(buf))
		len = sizeof(buf);
	if (len == 0)
		return gdb_reply(s, "");
	if (s->ops->read_mem(s->ctx, addr, buf, len) == 0) {
		got = len;
	} else {
		for (got = 0; got < len; got++)
			if (addr + got < addr || s->ops->read_mem(s->ctx, addr + got, buf + got, 1) < 0)
				break;
	}
	if (got == 0)
		return gdb_reply(s, "E14");
	put_bytes(s->out, buf, got);
	return gdb_send(s);
}

static int cmd_write_mem(struct gdb_stub *s, const char *arg)
{
	uint8_t buf[GDB_PACKET_MAX / 2];
	uint64_t addr, len;

	if (parse_hex(&arg, &addr, ",") < 0 || (arg++, parse_hex(&arg, &len, ":")) < 0)
		return gdb_reply(s, "E01");
	arg++;
	if (len > sizeof(buf) || strlen(arg) != 2 * len || parse_bytes(arg, buf, len) < 0)
		return gdb_reply(s, "E01");
	if (len && s->ops->write_mem(s->ctx, addr, buf, len) < 0)
		return gdb_reply(s, "E14");
	return gdb_reply(s, "OK");
}

int gdb_stub_is_bp(const struct gdb_stub *s, uint64_t addr)
{
	for (unsigned i = 0; i < s->nbp; i++)
		if (s->bp[i].addr == addr)
			return 1;
	return 0;
}

static const char *bp_insert(struct gdb_stub *s, uint64_t addr)
{
	const uint8_t cc = BP_INSN;
	uint8_t saved;

	if (gdb_stub_is_bp(s, addr))
		return "OK";
	if (s->nbp == GDB_BP_MAX)
		return "E28"; /* ENOSPC */
	if (s->ops->read_mem(s->ctx, addr, &saved, 1) < 0 ||
	    s->ops->write_mem(s->ctx, addr, &cc, 1) < 0)
		return "E14";
	s->bp[s->nbp].addr = addr;
	s->bp[s->nbp].saved = saved;
	s->nbp++;
	return "OK";
}

static const char *bp_remove(struct gdb_stub *s, uint64_t addr)
{
	for (unsigned i = 0; i < s->nbp; i++) {
		if (s->bp[i].addr != addr)
			continue;
		if (s->ops->write_mem(s->ctx, addr, &s->bp[i].saved, 1) < 0)
			return "E14";
		s->bp[i] = s->bp[--s->nbp];
		return "OK";
	}
	return "OK";
}

void gdb_stub_clear_bps(struct gdb_stub *s)
{
	while (s->nbp) {
		s->nbp--;
		s->ops->write_mem(s->ctx, s->bp[s->nbp].addr, &s->bp[s->nbp].saved, 1);
	}
}

/* Z0,addr,kind / z0,addr,kind: software breakpoints; other kinds are not offered (empty). */
static int cmd_breakpoint(struct gdb_stub *s, const char *arg, int insert)
{
	uint64_t addr, kind;

	if (arg[0] != '0' || arg[1] != ',')
		return gdb_reply(s, "");
	arg += 2;
	if (parse_hex(&arg, &addr, ",;") < 0 || *arg != ',' || (arg++, parse_hex(&arg, &kind, ";$")) < 0)
		return gdb_reply(s, "E01");
	return gdb_reply(s, insert ? bp_insert(s, addr) : bp_remove(s, addr));
}

/* c [addr] / s [addr]: the optional address is where to resume. */
static int cmd_resume_at(struct gdb_stub *s, const char *arg)
{
	struct gdb_regs r;
	uint64_t addr;

	if (!*arg)
		return 0;
	if (parse_hex(&arg, &addr, "$") < 0 || s->ops->get_regs(s->ctx, &r) < 0)
		return -1;
	r.rip = addr;
	return s->ops->set_regs(s->ctx, &r);
}

/* vCont;ACTION[:thread][;...]: the one thread takes the first action. -1: not understood. */
static int cmd_vcont(const char *arg, enum gdb_resume *how)
{
	if (arg[0] != ';')
		return -1;
	switch (arg[1]) {
	case 'c':
	case 'C': /* a signal to deliver: the guest has no such thing; it just runs on */
		*how = GDB_CONTINUE;
		return 0;
	case 's':
	case 'S':
		*how = GDB_STEP;
		return 0;
	default:
		return -1;
	}
}

/* Binary-escapes [src, src + n) into dst after a one-letter prefix (qXfer's m or l). */
static void put_escaped(char *dst, size_t cap, char prefix, const char *src, size_t n)
{
	size_t o = 0;

	dst[o++] = prefix;
	for (size_t i = 0; i < n && o + 3 < cap; i++) {
		char c = src[i];

		if (c == '#' || c == '$' || c == '}' || c == '*') {
			dst[o++] = '}';
			c ^= 0x20;
		}
		dst[o++] = c;
	}
	dst[o] = '\0';
}

static int cmd_xfer_features(struct gdb_stub *s, const char *arg)
{
	size_t total = strlen(gdb_target_xml);
	uint64_t off, len;

	if (strncmp(arg, "target.xml:", 11) != 0)
		return gdb_reply(s, "E00");
	arg += 11;
	if (parse_hex(&arg, &off, ",") < 0 || (arg++, parse_hex(&arg, &len, "$")) < 0)
		return gdb_reply(s, "E01");
	if (off >= total)
		return gdb_reply(s, "l");
	/* Escaping may double a byte: half the packet is always enough room. */
	if (len > GDB_PACKET_MAX / 2 - 2)
		len = GDB_PACKET_MAX / 2 - 2;
	if (len > total - off)
		len = total - off;
	put_escaped(s->out, sizeof(s->out), off + len >= total ? 'l' : 'm', gdb_target_xml + off,
		    len);
	return gdb_send(s);
}

static int cmd_query(struct gdb_stub *s, const char *q)
{
	if (strncmp(q, "qSupported", 10) == 0) {
		snprintf(s->out, sizeof(s->out),
			 "PacketSize=%x;qXfer:features:read+;swbreak+;vContSupported+",
			 GDB_PACKET_MAX);
		return gdb_send(s);
	}
	if (strncmp(q, "qXfer:features:read:", 20) == 0)
		return cmd_xfer_features(s, q + 20);
	if (strcmp(q, "qAttached") == 0)
		return gdb_reply(s, "1"); /* gdb's quit detaches: the guest runs on */
	if (strcmp(q, "qC") == 0)
		return gdb_reply(s, "QC1");
	if (strcmp(q, "qfThreadInfo") == 0)
		return gdb_reply(s, "m1");
	if (strcmp(q, "qsThreadInfo") == 0)
		return gdb_reply(s, "l");
	if (strcmp(q, "qOffsets") == 0 && s->has_offset) {
		snprintf(s->out, sizeof(s->out), "Text=%llx;Data=%llx;Bss=%llx",
			 (unsigned long long)s->offset, (unsigned long long)s->offset,
			 (unsigned long long)s->offset);
		return gdb_send(s);
	}
	return gdb_reply(s, "");
}

static int send_stop(struct gdb_stub *s)
{
	snprintf(s->out, sizeof(s->out), "T%02xthread:1;%s", s->sig & 0xff,
		 s->swbreak ? "swbreak:;" : "");
	return gdb_send(s);
}

/* One packet; 1 when it resumed the target (*how says how), 0 served, -1 connection gone. */
static int gdb_dispatch(struct gdb_stub *s, enum gdb_resume *how)
{
	const char *p = s->in;

	switch (p[0]) {
	case '?':
		return send_stop(s);
	case 'g':
		return cmd_read_regs(s);
	case 'G':
		return cmd_write_regs(s, p + 1);
	case 'p':
		return cmd_read_reg(s, p + 1);
	case 'P':
		return cmd_write_reg(s, p + 1);
	case 'm':
		return cmd_read_mem(s, p + 1);
	case 'M':
		return cmd_write_mem(s, p + 1);
	case 'Z':
	case 'z':
		return cmd_breakpoint(s, p + 1, p[0] == 'Z');
	case 'H':
	case 'T':
		return gdb_reply(s, "OK");
	case 'q':
		return cmd_query(s, p);
	case 'c':
	case 's':
		if (cmd_resume_at(s, p + 1) < 0)
			return gdb_reply(s, "E01");
		*how = p[0] == 'c' ? GDB_CONTINUE : GDB_STEP;
		return 1;
	case 'D':
		*how = GDB_DETACH;
		return gdb_reply(s, "OK") < 0 ? -1 : 1;
	case 'k':
		*how = GDB_KILL;
		return 1;
	case 'v':
		if (strcmp(p, "vCont?") == 0)
			return gdb_reply(s, "vCont;c;C;s;S");
		if (strncmp(p, "vCont", 5) == 0 && cmd_vcont(p + 5, how) == 0)
			return 1;
		return gdb_reply(s, "");
	default:
		return gdb_reply(s, "");
	}
}

enum gdb_resume gdb_stub_serve(struct gdb_stub *s, int sig, int swbreak)
{
	enum gdb_resume how = GDB_CONTINUE;

	s->sig = sig;
	s->swbreak = swbreak;
	if (s->owe_stop) {
		s->owe_stop = 0;
		if (send_stop(s) < 0)
			return GDB_GONE;
	}
	for (;;) {
		int n = gdb_read_packet(s), r;

		if (n == -2)
			return GDB_TIMEOUT;
		if (n < 0)
			return GDB_GONE;
		r = gdb_dispatch(s, &how);
		if (r < 0)
			return GDB_GONE;
		if (r > 0) {
			s->owe_stop = how == GDB_CONTINUE || how == GDB_STEP;
			return how;
		}
	}
}

int gdb_stub_poll_interrupt(struct gdb_stub *s)
{
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	int seen = 0;

	while (poll(&p, 1, 0) > 0) {
		uint8_t buf[64];
		ssize_t n = read(s->fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			return -1;
		if (memchr(buf, 0x03, (size_t)n))
			seen = 1;
	}
	return seen;
}

void gdb_stub_exited(struct gdb_stub *s, int exited, int code)
{
	gdb_stub_clear_bps(s);
	if (!s->owe_stop)
		return; /* gdb is not waiting for a stop: it learns of the end when it next asks */
	s->owe_stop = 0;
	snprintf(s->out, sizeof(s->out), "%c%02x", exited ? 'W' : 'X', code & 0xff);
	gdb_send(s);
}
