/*
 * test_gdbstub.c: the gdb remote protocol without a VM: a fake target (registers and 64 KiB
 * of memory) served over a socketpair, the test playing gdb: framing, checksums and acks,
 * registers, memory, breakpoints, resumes, and hostile packets.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/gdbstub.h"

#define FAKE_BASE 0x10000u
#define FAKE_SIZE 0x10000u
#define WAIT_MS	  10000

struct fake {
	struct gdb_regs regs;
	uint8_t mem[FAKE_SIZE];
	struct gdb_stub stub;
	enum gdb_resume last;
	int resumes;
	pthread_t thread;
	int sv[2]; /* [0] the test's (gdb's) end, [1] the stub's */
};

static int f_get_regs(void *ctx, struct gdb_regs *r)
{
	*r = ((struct fake *)ctx)->regs;
	return 0;
}

static int f_set_regs(void *ctx, const struct gdb_regs *r)
{
	((struct fake *)ctx)->regs = *r;
	return 0;
}

static uint8_t *f_ptr(struct fake *f, uint64_t addr, size_t len)
{
	if (addr < FAKE_BASE || len > FAKE_SIZE || addr - FAKE_BASE > FAKE_SIZE - len)
		return NULL;
	return f->mem + (addr - FAKE_BASE);
}

static int f_read(void *ctx, uint64_t addr, void *buf, size_t len)
{
	uint8_t *p = f_ptr(ctx, addr, len);

	if (!p)
		return -1;
	memcpy(buf, p, len);
	return 0;
}

static int f_write(void *ctx, uint64_t addr, const void *buf, size_t len)
{
	uint8_t *p = f_ptr(ctx, addr, len);

	if (!p)
		return -1;
	memcpy(p, buf, len);
	return 0;
}

static const struct gdb_target_ops f_ops = {f_get_regs, f_set_regs, f_read, f_write};

/* The stub's side: serves stops until gdb kills, detaches or goes. */
static void *f_serve(void *p)
{
	struct fake *f = p;

	for (;;) {
		f->last = gdb_stub_serve(&f->stub, GDB_SIGTRAP, 0);
		__atomic_add_fetch(&f->resumes, 1, __ATOMIC_SEQ_CST);
		if (f->last != GDB_CONTINUE && f->last != GDB_STEP)
			return NULL;
	}
}

static struct fake *fake_start(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	cr_assert(f);
	for (unsigned i = 0; i < 16; i++)
		f->regs.gpr[i] = 0x1111111111111111ull * (i + 1);
	f->regs.rip = 0x401000;
	f->regs.eflags = 0x246;
	for (unsigned i = 0; i < FAKE_SIZE; i++)
		f->mem[i] = (uint8_t)i;
	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, f->sv) == 0);
	gdb_stub_init(&f->stub, f->sv[1], &f_ops, f);
	cr_assert(pthread_create(&f->thread, NULL, f_serve, f) == 0);
	return f;
}

static void fake_stop(struct fake *f)
{
	close(f->sv[0]);
	pthread_join(f->thread, NULL);
	close(f->sv[1]);
	free(f);
}

/* One byte from the stub, bounded. */
static int rd(struct fake *f)
{
	struct pollfd p = {.fd = f->sv[0], .events = POLLIN};
	uint8_t c;

	cr_assert(poll(&p, 1, WAIT_MS) == 1, "the stub said nothing");
	cr_assert(read(f->sv[0], &c, 1) == 1);
	return c;
}

static void send_raw(struct fake *f, const char *s, size_t n)
{
	cr_assert(write(f->sv[0], s, n) == (ssize_t)n);
}

static void send_pkt(struct fake *f, const char *payload)
{
	size_t n = strlen(payload);
	char *buf = malloc(n + 5);
	unsigned sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += (uint8_t)payload[i];
	buf[0] = '$';
	memcpy(buf + 1, payload, n);
	snprintf(buf + n + 1, 4, "#%02x", sum & 0xff);
	send_raw(f, buf, n + 4);
	free(buf);
}

/* A reply packet's payload (checked, acknowledged) into a static buffer. */
static const char *recv_pkt(struct fake *f)
{
	static char buf[GDB_PACKET_MAX * 2 + 1];
	unsigned sum = 0, want;
	size_t n = 0;
	char cs[3] = {0};
	int c;

	while ((c = rd(f)) != '$')
		cr_assert(c == '+', "unexpected byte 0x%x before a reply", c);
	while ((c = rd(f)) != '#') {
		cr_assert(n < sizeof(buf) - 1, "reply longer than PacketSize");
		buf[n++] = (char)c;
		sum += (uint8_t)c;
	}
	buf[n] = '\0';
	cs[0] = (char)rd(f);
	cs[1] = (char)rd(f);
	want = (unsigned)strtoul(cs, NULL, 16);
	cr_assert_eq(want, sum & 0xff, "bad checksum on the reply %s", buf);
	send_raw(f, "+", 1);
	return buf;
}

/* Sends payload, expects '+' and returns the reply. */
static const char *ask(struct fake *f, const char *payload)
{
	send_pkt(f, payload);
	cr_assert_eq(rd(f), '+', "packet %s not acknowledged", payload);
	return recv_pkt(f);
}

Test(gdbstub, stop_reason_and_unknown_packets)
{
	struct fake *f = fake_start();

	cr_expect_str_eq(ask(f, "?"), "T05thread:1;");
	cr_expect_str_eq(ask(f, "qTStatus"), "");
	cr_expect_str_eq(ask(f, "vMustReplyEmpty"), "");
	cr_expect_str_eq(ask(f, "Z1,401000,1"), "", "hardware breakpoints are not offered");
	cr_expect_str_eq(ask(f, "qAttached"), "1");
	cr_expect_str_eq(ask(f, "qC"), "QC1");
	cr_expect_str_eq(ask(f, "Hg0"), "OK");
	cr_expect_str_eq(ask(f, "qOffsets"), "", "no offsets without a load bias");
	cr_expect(strstr(ask(f, "qSupported:multiprocess+;swbreak+"), "PacketSize=1000"));
	cr_expect_str_eq(ask(f, "vCont?"), "vCont;c;C;s;S");
	fake_stop(f);
}

Test(gdbstub, bad_checksum_and_overlong_packets_are_refused)
{
	struct fake *f = fake_start();
	char *big = malloc(GDB_PACKET_MAX + 100);

	send_raw(f, "$?#00", 5);
	cr_expect_eq(rd(f), '-', "a bad checksum is answered with '-'");
	send_raw(f, "$?#zz", 5);
	cr_expect_eq(rd(f), '-', "checksum digits that are not hex");
	memset(big, 'm', GDB_PACKET_MAX + 99);
	big[GDB_PACKET_MAX + 99] = '\0';
	send_pkt(f, big);
	cr_expect_eq(rd(f), '-', "a packet over PacketSize is refused whole");
	free(big);
	/* Noise and a stray Ctrl-C between packets are skipped. */
	send_raw(f, "xyz\x03", 4);
	cr_expect_str_eq(ask(f, "?"), "T05thread:1;", "the stub still works afterwards");
	fake_stop(f);
}

Test(gdbstub, registers)
{
	struct fake *f = fake_start();
	const char *g = ask(f, "g");

	/* 16 GPRs, rip, eflags, 6 segments, 8 x87, 8 control, 16 xmm, mxcsr, fs_base, gs_base */
	cr_assert_eq(strlen(g), 2 * (16 * 8 + 8 + 4 + 6 * 4 + 8 * 10 + 8 * 4 + 16 * 16 + 4 + 8 + 8));
	cr_expect(!strncmp(g, "1111111111111111", 16), "rax little-endian: %.16s", g);
	cr_expect(!strncmp(g + 16 * 16, "0010400000000000", 16), "rip: %.16s", g + 256);
	cr_expect(!strncmp(g + 16 * 16 + 16, "46020000", 8), "eflags");
	cr_expect(strstr(g, "xxxxxxxxxxxxxxxxxxxx"), "x87 registers are unavailable, not zero");
	cr_expect_str_eq(ask(f, "p10"), "0010400000000000", "rip is register 0x10");
	cr_expect_str_eq(ask(f, "P0=efbeadde00000000"), "OK");
	cr_expect_eq(f->regs.gpr[0], 0xdeadbeef);
	cr_expect_str_eq(ask(f, "P0=efbe"), "E01", "a short value");
	cr_expect_str_eq(ask(f, "P18=00000000"), "E01", "segments are read-only");
	cr_expect_str_eq(ask(f, "p99"), "E01", "no such register");
	cr_expect_str_eq(ask(f, "pffffffffffffffffff"), "E01", "a number too long");
	cr_expect_str_eq(ask(f, "G00"), "E01", "G needs every general register");
	fake_stop(f);
}

Test(gdbstub, memory)
{
	struct fake *f = fake_start();
	const char *r;

	cr_expect_str_eq(ask(f, "m10010,4"), "10111213");
	cr_expect_str_eq(ask(f, "m0,4"), "E14", "unmapped");
	cr_expect_str_eq(ask(f, "mffffffffffffffff,10"), "E14", "wraps around");
	cr_expect_str_eq(ask(f, "m1fffe,4"), "feff", "a read that runs off the end is cut short");
	r = ask(f, "m10000,ffffffffffffffff");
	cr_expect_eq(strlen(r), GDB_PACKET_MAX, "a huge length is bounded by the packet size");
	cr_expect_str_eq(ask(f, "mzz,4"), "E01", "bad hex");
	cr_expect_str_eq(ask(f, "m10000"), "E01", "no length");
	cr_expect_str_eq(ask(f, "M10020,2:abcd"), "OK");
	cr_expect_eq(f->mem[0x20], 0xab);
	cr_expect_eq(f->mem[0x21], 0xcd);
	cr_expect_str_eq(ask(f, "M10020,3:abcd"), "E01", "length and data disagree");
	cr_expect_str_eq(ask(f, "M10020,ffffffff:abcd"), "E01", "a huge length");
	cr_expect_str_eq(ask(f, "M10020,1:zz"), "E01", "bad hex data");
	cr_expect_str_eq(ask(f, "M0,1:00"), "E14", "unmapped");
	cr_expect_str_eq(ask(f, "X10020,0:"), "", "binary writes are not offered: gdb uses M");
	fake_stop(f);
}

Test(gdbstub, breakpoints)
{
	struct fake *f = fake_start();

	cr_expect_str_eq(ask(f, "Z0,10100,1"), "OK");
	cr_expect_eq(f->mem[0x100], 0xcc);
	cr_expect(gdb_stub_is_bp(&f->stub, 0x10100));
	cr_expect_str_eq(ask(f, "Z0,10100,1"), "OK", "twice is once");
	cr_expect_str_eq(ask(f, "Z0,10200,1"), "OK");
	cr_expect_str_eq(ask(f, "z0,10100,1"), "OK");
	cr_expect_eq(f->mem[0x100], 0x00, "the byte is back");
	cr_expect(!gdb_stub_is_bp(&f->stub, 0x10100));
	cr_expect_str_eq(ask(f, "Z0,5,1"), "E14", "unmapped");
	cr_expect_str_eq(ask(f, "Z0,zz,1"), "E01");
	cr_expect_eq(f->mem[0x200], 0xcc);
	/* A kill takes no reply; the breakpoints are the target's owner's to clear. */
	send_pkt(f, "k");
	cr_expect_eq(rd(f), '+');
	pthread_join(f->thread, NULL);
	cr_expect_eq(f->last, GDB_KILL);
	gdb_stub_clear_bps(&f->stub);
	cr_expect_eq(f->mem[0x200], 0x00, "cleared at the end");
	close(f->sv[0]);
	close(f->sv[1]);
	free(f);
}

Test(gdbstub, continue_then_the_stop_is_reported_unasked)
{
	struct fake *f = fake_start();

	send_pkt(f, "c");
	cr_expect_eq(rd(f), '+');
	/* The fake stops again at once: its next serve reports it without a '?'. */
	cr_expect_str_eq(recv_pkt(f), "T05thread:1;");
	cr_expect_eq(f->last, GDB_CONTINUE);
	send_pkt(f, "vCont;s:1");
	cr_expect_eq(rd(f), '+');
	cr_expect_str_eq(recv_pkt(f), "T05thread:1;");
	cr_expect_eq(f->last, GDB_STEP);
	send_pkt(f, "c402000");
	cr_expect_eq(rd(f), '+');
	cr_expect_str_eq(recv_pkt(f), "T05thread:1;");
	cr_expect_eq(f->regs.rip, 0x402000, "c ADDR resumes there");
	cr_expect_str_eq(ask(f, "vCont;t"), "", "an action the stub does not know");
	send_pkt(f, "D");
	cr_expect_eq(rd(f), '+');
	cr_expect_str_eq(recv_pkt(f), "OK");
	pthread_join(f->thread, NULL);
	cr_expect_eq(f->last, GDB_DETACH);
	close(f->sv[0]);
	close(f->sv[1]);
	free(f);
}

Test(gdbstub, a_closed_connection_is_gone)
{
	struct fake *f = fake_start();

	cr_expect_str_eq(ask(f, "?"), "T05thread:1;");
	fake_stop(f); /* closes gdb's end first, then joins */
}

Test(gdbstub, target_xml_is_served_in_pieces)
{
	struct fake *f = fake_start();
	char *all = calloc(1, strlen(gdb_target_xml) + 1);
	size_t off = 0;

	for (;;) {
		char q[80];
		const char *r;

		snprintf(q, sizeof(q), "qXfer:features:read:target.xml:%zx,200", off);
		r = ask(f, q);
		cr_assert(r[0] == 'm' || r[0] == 'l', "reply %s", r);
		cr_assert(off + strlen(r + 1) <= strlen(gdb_target_xml));
		memcpy(all + off, r + 1, strlen(r + 1));
		off += strlen(r + 1);
		if (r[0] == 'l')
			break;
	}
	cr_expect_str_eq(all, gdb_target_xml);
	cr_expect(strstr(all, "<architecture>i386:x86-64</architecture>"));
	cr_expect(strstr(all, "fs_base"));
	cr_expect_str_eq(ask(f, "qXfer:features:read:other.xml:0,100"), "E00");
	free(all);
	fake_stop(f);
}

Test(gdbstub, interrupt_while_running)
{
	int sv[2];
	struct gdb_stub s;

	cr_assert(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
	gdb_stub_init(&s, sv[1], &f_ops, NULL);
	cr_expect_eq(gdb_stub_poll_interrupt(&s), 0, "nothing sent");
	cr_assert(write(sv[0], "+", 1) == 1);
	cr_expect_eq(gdb_stub_poll_interrupt(&s), 0, "a late ack is not an interrupt");
	cr_assert(write(sv[0], "\x03", 1) == 1);
	cr_expect_eq(gdb_stub_poll_interrupt(&s), 1);
	close(sv[0]);
	cr_expect_eq(gdb_stub_poll_interrupt(&s), -1, "gdb went away");
	close(sv[1]);
}
