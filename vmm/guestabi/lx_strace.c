/*
 * lx_strace.c: `mvmm run --strace`: one strace-style line per Linux system
 * call on p->strace_fd, written after the handler ran:
 *
 *	openat(AT_FDCWD, "/data/x", O_RDONLY|O_CLOEXEC) = 3
 *	read(3, "abc\n", 4096) = 4
 *	openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)
 *
 * Arguments are decoded by the kinds in the table row (lx_int.h); guest
 * memory is read only through lx_uptr/lx_ustr, so a bad pointer prints as
 * its value, never faults the VMM. Flags of a few calls get symbolic names
 * from the tables below. Each line is built in a bounded buffer and written
 * with one write().
 */
#define _GNU_SOURCE
#include "lx_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/vm.h"

#define LX_STRACE_LINE 1024 /* bytes in one line, newline included; longer ones are cut */
#define LX_STRACE_STR  32   /* bytes of a string or buffer shown before "..." */
#define LX_AT_FDCWD    (-100)

/* The line being built: appends past the end are dropped, the newline always fits. */
struct lx_line {
	char buf[LX_STRACE_LINE];
	size_t len;
	int cut;
};

static void line_put(struct lx_line *l, const char *s, size_t n)
{
	size_t room = sizeof(l->buf) - 1 - l->len; /* one byte kept for the newline */

	if (n > room) {
		n = room;
		l->cut = 1;
	}
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void line_str(struct lx_line *l, const char *s)
{
	line_put(l, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void line_fmt(struct lx_line *l, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	line_put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Bytes as a C string literal: "\n", "\t", "\\", "\"" and octal escapes, like strace. */
static void line_quoted(struct lx_line *l, const uint8_t *s, size_t n, int more)
{
	line_put(l, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = s[i];
		char esc[8];

		switch (ch) {
		case '\n':
			line_put(l, "\\n", 2);
			continue;
		case '\t':
			line_put(l, "\\t", 2);
			continue;
		case '\r':
			line_put(l, "\\r", 2);
			continue;
		case '\v':
			line_put(l, "\\v", 2);
			continue;
		case '\f':
			line_put(l, "\\f", 2);
			continue;
		case '\\':
			line_put(l, "\\\\", 2);
			continue;
		case '"':
			line_put(l, "\\\"", 2);
			continue;
		}
		if (ch >= 0x20 && ch < 0x7f) {
			line_put(l, (const char *)&ch, 1);
			continue;
		}
		/* the shortest octal, unless an octal digit follows and would join it */
		if (i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '7')
			snprintf(esc, sizeof(esc), "\\%03o", ch);
		else
			snprintf(esc, sizeof(esc), "\\%o", ch);
		line_str(l, esc);
	}
	line_put(l, "\"", 1);
	if (more)
		line_put(l, "...", 3);
}

static void line_ptr(struct lx_line *l, uint64_t v)
{
	if (v)
		line_fmt(l, "%#llx", (unsigned long long)v);
	else
		line_str(l, "NULL");
}

/* A NUL-terminated guest string, at most LX_STRACE_STR bytes of it; its address if unreadable. */
static void line_ustr(struct lx_line *l, struct lx_call *c, uint64_t gva)
{
	char s[LX_STRACE_STR + 1];
	int64_t n = gva ? lx_ustr(c, gva, s, sizeof(s)) : -EFAULT;
	const void *p;

	if (n >= 0) {
		line_quoted(l, (const uint8_t *)s, (size_t)n, 0);
		return;
	}
	/* longer than shown: its first bytes were readable, NUL-free */
	p = n == -ENAMETOOLONG ? lx_uptr(c, gva, LX_STRACE_STR, 0) : NULL;
	if (p)
		line_quoted(l, p, LX_STRACE_STR, 1);
	else
		line_ptr(l, gva);
}

/* len bytes of guest memory at gva (the first LX_STRACE_STR of them); its address if unreadable. */
static void line_ubuf(struct lx_line *l, struct lx_call *c, uint64_t gva, uint64_t len)
{
	uint64_t show = len < LX_STRACE_STR ? len : LX_STRACE_STR;
	const void *p = gva ? lx_uptr(c, gva, show, 0) : NULL;

	if (p)
		line_quoted(l, p, (size_t)show, len > show);
	else
		line_ptr(l, gva);
}

/* ---- symbolic flags ------------------------------------------------------------------- */

/* One name: printed when (value & mask) == bits; the first match of overlapping rows wins. */
struct lx_flag {
	uint64_t mask, bits;
	const char *name;
};

/* clang-format off */
#define FLAG(f)	       {(f), (f), #f}
#define FIELD(mask, f) {(mask), (f), #f}
#define FLAGS_END      {0, 0, NULL}
/* clang-format on */

static const struct lx_flag open_flags[] = {
	FIELD(O_ACCMODE, O_RDONLY),
	FIELD(O_ACCMODE, O_WRONLY),
	FIELD(O_ACCMODE, O_RDWR),
	FLAG(O_CREAT),
	FLAG(O_EXCL),
	FLAG(O_NOCTTY),
	FLAG(O_TRUNC),
	FLAG(O_APPEND),
	FLAG(O_NONBLOCK),
	FLAG(O_SYNC),
	FLAG(O_DSYNC),
	FLAG(O_ASYNC),
	FLAG(O_DIRECT),
	{0100000, 0100000, "O_LARGEFILE"}, /* glibc's O_LARGEFILE is 0 on x86-64 */
	FLAG(O_TMPFILE),
	FLAG(O_DIRECTORY),
	FLAG(O_NOFOLLOW),
	FLAG(O_NOATIME),
	FLAG(O_CLOEXEC),
	FLAG(O_PATH),
	FLAGS_END,
};

/* pipe2, dup3: no access mode, zero prints as 0 */
static const struct lx_flag fd_flags[] = {
	FLAG(O_NONBLOCK),
	FLAG(O_DIRECT),
	FLAG(O_CLOEXEC),
	FLAGS_END,
};

static const struct lx_flag prot_flags[] = {
	FIELD(PROT_READ | PROT_WRITE | PROT_EXEC, PROT_NONE),
	FLAG(PROT_READ),
	FLAG(PROT_WRITE),
	FLAG(PROT_EXEC),
	FLAG(PROT_GROWSDOWN),
	FLAG(PROT_GROWSUP),
	FLAGS_END,
};

static const struct lx_flag map_flags[] = {
	FIELD(MAP_TYPE, MAP_SHARED_VALIDATE),
	FIELD(MAP_TYPE, MAP_SHARED),
	FIELD(MAP_TYPE, MAP_PRIVATE),
	FLAG(MAP_FIXED),
	FLAG(MAP_ANONYMOUS),
	FLAG(MAP_32BIT),
	FLAG(MAP_GROWSDOWN),
	FLAG(MAP_DENYWRITE),
	FLAG(MAP_EXECUTABLE),
	FLAG(MAP_LOCKED),
	FLAG(MAP_NORESERVE),
	FLAG(MAP_POPULATE),
	FLAG(MAP_NONBLOCK),
	FLAG(MAP_STACK),
	FLAG(MAP_HUGETLB),
	FLAG(MAP_SYNC),
	FLAG(MAP_FIXED_NOREPLACE),
	FLAGS_END,
};

static const struct lx_flag mremap_flags[] = {
	FLAG(MREMAP_MAYMOVE),
	FLAG(MREMAP_FIXED),
	FLAG(MREMAP_DONTUNMAP),
	FLAGS_END,
};

static const struct lx_flag at_flags[] = {
	FLAG(AT_SYMLINK_NOFOLLOW), FLAG(AT_REMOVEDIR),	FLAG(AT_SYMLINK_FOLLOW),
	FLAG(AT_NO_AUTOMOUNT),	   FLAG(AT_EMPTY_PATH), FLAGS_END,
};

/* arch_prctl's codes: whole values, not bits */
static const struct lx_flag arch_codes[] = {
	{~0ull, 0x1001, "ARCH_SET_GS"},
	{~0ull, 0x1002, "ARCH_SET_FS"},
	{~0ull, 0x1003, "ARCH_GET_FS"},
	{~0ull, 0x1004, "ARCH_GET_GS"},
	FLAGS_END,
};

/* Which argument of which call has named flags (the others print in hex, as their kind says). */
static const struct lx_flag_arg {
	const char *call;
	unsigned arg;
	const struct lx_flag *flags;
} flag_args[] = {
	{"open", 1, open_flags},       {"openat", 2, open_flags},   {"mmap", 2, prot_flags},
	{"mmap", 3, map_flags},	       {"mprotect", 2, prot_flags}, {"mremap", 3, mremap_flags},
	{"pipe2", 1, fd_flags},	       {"dup3", 2, fd_flags},	    {"newfstatat", 3, at_flags},
	{"unlinkat", 2, at_flags},     {"statx", 2, at_flags},	    {"utimensat", 3, at_flags},
	{"arch_prctl", 0, arch_codes},
};

/* Arguments shown only when another has certain flags: open's mode with O_CREAT or O_TMPFILE. */
static const struct lx_cond_arg {
	const char *call;
	unsigned arg, flag_arg;
} cond_args[] = {
	{"open", 2, 1},
	{"openat", 3, 2},
};

/* Signed arguments that are 64 bits wide (offsets, lengths); every other 'd' is an int. */
static const struct lx_wide_arg {
	const char *call;
	unsigned arg;
} wide_args[] = {
	{"lseek", 1},
	{"ftruncate", 1},
	{"pread64", 3},
	{"pwrite64", 3},
};

/* Calls whose result is an address, printed in hex. */
static const char *const addr_results[] = {"mmap", "mremap", "brk"};

static const struct lx_flag *flags_of(const char *call, unsigned arg)
{
	for (size_t i = 0; i < sizeof(flag_args) / sizeof(flag_args[0]); i++)
		if (flag_args[i].arg == arg && !strcmp(flag_args[i].call, call))
			return flag_args[i].flags;
	return NULL;
}

/* Whether argument i of call is shown at all. */
static int arg_shown(const char *call, unsigned i, const uint64_t *a)
{
	for (size_t k = 0; k < sizeof(cond_args) / sizeof(cond_args[0]); k++) {
		uint64_t f;

		if (cond_args[k].arg != i || strcmp(cond_args[k].call, call))
			continue;
		f = a[cond_args[k].flag_arg];
		return (f & O_CREAT) || (f & O_TMPFILE) == O_TMPFILE;
	}
	return 1;
}

static int arg_wide(const char *call, unsigned i)
{
	for (size_t k = 0; k < sizeof(wide_args) / sizeof(wide_args[0]); k++)
		if (wide_args[k].arg == i && !strcmp(wide_args[k].call, call))
			return 1;
	return 0;
}

static void line_flags(struct lx_line *l, const struct lx_flag *f, uint64_t v)
{
	int any = 0;

	for (; f->name; f++) {
		if ((v & f->mask) != f->bits || (!f->bits && any))
			continue;
		if (any)
			line_put(l, "|", 1);
		line_str(l, f->name);
		any = 1;
		v &= ~f->mask;
	}
	if (v || !any) {
		if (any)
			line_put(l, "|", 1);
		line_fmt(l, "%#llx", (unsigned long long)v);
	}
}

/* ---- the line -------------------------------------------------------------------------- */

static void line_arg(struct lx_line *l, struct lx_call *c, const char *call, const char *kinds,
		     unsigned i, int64_t ret)
{
	uint64_t v = c->a[i];
	const struct lx_flag *f;

	switch (kinds[i]) {
	case 'd':
		/* a directory fd before a path: Linux reads an int */
		if (kinds[i + 1] == 's' && (int32_t)v == LX_AT_FDCWD)
			line_str(l, "AT_FDCWD");
		else if (arg_wide(call, i))
			line_fmt(l, "%lld", (long long)v);
		else
			line_fmt(l, "%d",
				 (int32_t)v); /* Linux reads an int: the upper half is ignored */
		return;
	case 'u':
		line_fmt(l, "%llu", (unsigned long long)v);
		return;
	case 'o':
		line_fmt(l, "%#llo", (unsigned long long)v);
		return;
	case 'p':
		line_ptr(l, v);
		return;
	case 's':
		line_ustr(l, c, v);
		return;
	case 'b':
		line_ubuf(l, c, v, i + 1 < 6 ? c->a[i + 1] : 0);
		return;
	case 'B':
		if (ret >= 0 && ret != LX_STOP && ret != LX_JUMPED)
			line_ubuf(l, c, v, (uint64_t)ret);
		else
			line_ptr(l, v);
		return;
	case 'x':
		f = flags_of(call, i);
		if (f)
			line_flags(l, f, v);
		else
			line_fmt(l, "%#llx", (unsigned long long)v);
		return;
	}
	line_fmt(l, "%#llx", (unsigned long long)v);
}

static int returns_addr(const char *call)
{
	for (size_t i = 0; i < sizeof(addr_results) / sizeof(addr_results[0]); i++)
		if (!strcmp(addr_results[i], call))
			return 1;
	return 0;
}

static void line_result(struct lx_line *l, struct lx_call *c, const char *call, int64_t ret)
{
	if (ret == LX_STOP) {
		line_str(l, " = ?");
		return;
	}
	if (ret == LX_JUMPED) {
		/* rt_sigreturn: the interrupted code's RAX, restored by the handler */
		line_fmt(l, " = %lld", (long long)c->regs->rax);
		return;
	}
	if (ret < 0 && ret >= -4095) {
		const char *name = strerrorname_np((int)-ret);
		const char *desc = strerrordesc_np((int)-ret);

		if (name)
			line_fmt(l, " = -1 %s (%s)", name, desc ? desc : "?");
		else
			line_fmt(l, " = -1 (errno %lld)", (long long)-ret);
		return;
	}
	if (returns_addr(call))
		line_fmt(l, " = %#llx", (unsigned long long)ret);
	else
		line_fmt(l, " = %lld", (long long)ret);
}

void lx_strace(struct lx_call *c, const struct lx_syscall *sc, int64_t ret)
{
	struct lx_line l = {.len = 0};
	const char *name, *kinds;
	char unknown[32];
	unsigned i, n;
	ssize_t w;

	/* a row with a name but no handler still says how its arguments read */
	if (!sc && c->nr < LX_NR_LIMIT && lx_table[c->nr].name)
		sc = &lx_table[c->nr];
	name = sc ? sc->name : lx_syscall_name(c->nr);
	if (!name) {
		snprintf(unknown, sizeof(unknown), "syscall_%llu", (unsigned long long)c->nr);
		name = unknown;
	}
	kinds = sc && sc->args ? sc->args : "xxxxxx"; /* unknown: all six, raw */
	n = (unsigned)strnlen(kinds, 6);

	if (c->p->strace_numbered)
		line_fmt(&l, "[%llu] ", (unsigned long long)c->vm->instance);
	line_str(&l, name);
	line_put(&l, "(", 1);
	for (i = 0; i < n && (!sc || arg_shown(name, i, c->a)); i++) {
		if (i)
			line_put(&l, ", ", 2);
		line_arg(&l, c, sc ? name : "", kinds, i, ret);
	}
	line_put(&l, ")", 1);
	line_result(&l, c, name, ret);
	if (l.cut && l.len >= 3)
		memcpy(l.buf + l.len - 3, "...", 3);
	l.buf[l.len++] = '\n';
	do
		w = write(c->p->strace_fd, l.buf, l.len);
	while (w < 0 && errno == EINTR);
}
