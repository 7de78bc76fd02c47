/* stdio.c: stdin/stdout/stderr over the read and write hypercalls. */
#include <stdio.h>
#include <string.h>
#include <mvmm/hypercall.h>
#include "internal.h"

/*
 * Every hypercall is an exit (~35 us), so stdout collects output and
 * writes it with one call when a printf-family call or fwrite ends with a
 * newline in what it added, when the buffer fills, and at exit. stderr
 * has no buffer of its own: each call formats into a stack buffer and
 * writes once, so messages still arrive whole and immediately.
 */
enum { MODE_LINE, MODE_NONE, MODE_READ };

struct mvmm_file {
	int fd;
	int mode;
	int eof, err;
	int unget; /* EOF when empty */
	size_t len, pos, cap;
	char *buf;
};

static char out_buf[BUFSIZ];
static char in_buf[BUFSIZ];

static struct mvmm_file files[3] = {
	{ .fd = 0, .mode = MODE_READ, .unget = EOF, .cap = sizeof(in_buf), .buf = in_buf },
	{ .fd = 1, .mode = MODE_LINE, .unget = EOF, .cap = sizeof(out_buf), .buf = out_buf },
	{ .fd = 2, .mode = MODE_NONE, .unget = EOF },
};

FILE *const stdin = &files[0];
FILE *const stdout = &files[1];
FILE *const stderr = &files[2];

/* Writes all of p, looping over short writes; -1 on a hypercall error. */
static int write_all(FILE *f, const char *p, size_t n)
{
	while (n) {
		int64_t r = mvmm_write(f->fd, p, n);

		if (r <= 0) {
			f->err = 1;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

int fflush(FILE *f)
{
	int r = 0;

	if (!f) {
		__mvmm_stdio_flush_all();
		return 0;
	}
	if (f->mode == MODE_LINE && f->len) {
		r = write_all(f, f->buf, f->len);
		f->len = 0;
	}
	return r ? EOF : 0;
}

void __mvmm_stdio_flush_all(void)
{
	fflush(stdout);
}

/* Sink drain for a full stream buffer or stack buffer. */
static void drain_file(struct fmt_sink *s)
{
	FILE *f = s->ctx;

	if (f->mode == MODE_LINE) {
		f->len = s->len;
		fflush(f);
	} else {
		write_all(f, s->buf, s->len);
	}
	s->len = 0;
}

/* Ends one output call: a line-buffered stream flushes if a newline came in. */
static void end_call(FILE *f, struct fmt_sink *s, size_t start)
{
	if (f->mode != MODE_LINE) {
		if (s->len)
			write_all(f, s->buf, s->len);
		return;
	}
	f->len = s->len;
	/* the call's bytes no longer follow start: it drained midway, look at all */
	if (start + s->total != s->len)
		start = 0;
	if (memchr(f->buf + start, '\n', f->len - start))
		fflush(f);
}

/* Runs fn's output into f with one write per call for the common cases. */
static int out_call(FILE *f, const char *fmt, va_list ap, const void *raw, size_t rawlen)
{
	char tmp[512];
	struct fmt_sink s = { .drain = drain_file, .ctx = f };
	size_t start;

	if (f->mode == MODE_READ) {
		f->err = 1;
		return EOF;
	}
	if (f->mode == MODE_LINE) {
		s.buf = f->buf;
		s.len = f->len;
		s.cap = f->cap;
	} else {
		s.buf = tmp;
		s.cap = sizeof(tmp);
	}
	start = s.len;
	if (fmt) {
		__mvmm_vformat(&s, fmt, ap);
	} else if (f->mode == MODE_NONE || rawlen >= f->cap) {
		/* unbuffered or bigger than the buffer: pass straight through */
		if (f->mode == MODE_LINE)
			fflush(f);
		return write_all(f, raw, rawlen) ? EOF : (int)(rawlen > 0x7fffffff ? 0x7fffffff : rawlen);
	} else {
		struct fmt_sink *sp = &s;
		size_t room = s.cap - s.len;

		if (rawlen > room) {
			drain_file(sp);
			start = 0;
		}
		memcpy(s.buf + s.len, raw, rawlen);
		s.len += rawlen;
		s.total = rawlen;
	}
	end_call(f, &s, start);
	if (f->err)
		return EOF;
	return s.total > 0x7fffffff ? 0x7fffffff : (int)s.total;
}

int vfprintf(FILE *f, const char *fmt, va_list ap)
{
	return out_call(f, fmt, ap, NULL, 0);
}

int fprintf(FILE *f, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfprintf(f, fmt, ap);
	va_end(ap);
	return r;
}

int vprintf(const char *fmt, va_list ap)
{
	return vfprintf(stdout, fmt, ap);
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vfprintf(stdout, fmt, ap);
	va_end(ap);
	return r;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	char dummy;
	struct fmt_sink s = { .buf = size ? buf : &dummy, .cap = size ? size - 1 : 0 };
	int r = __mvmm_vformat(&s, fmt, ap);

	if (size)
		buf[s.len] = '\0';
	return r;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return r;
}

int vsprintf(char *buf, const char *fmt, va_list ap)
{
	return vsnprintf(buf, (size_t)0x7fffffff, fmt, ap);
}

int sprintf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vsprintf(buf, fmt, ap);
	va_end(ap);
	return r;
}

/* fwrite and friends: raw bytes through the same buffering as printf. */
static int out_raw(FILE *f, const void *p, size_t n)
{
	va_list none;

	/* out_call does not touch ap when fmt is NULL; zero it to keep -Wextra quiet */
	memset(&none, 0, sizeof(none));
	return out_call(f, NULL, none, p, n);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f)
{
	size_t bytes = size * n;

	if (bytes == 0)
		return 0;
	return out_raw(f, p, bytes) == EOF ? 0 : n;
}

int fputs(const char *s, FILE *f)
{
	return out_raw(f, s, strlen(s)) == EOF ? EOF : 0;
}

int fputc(int c, FILE *f)
{
	unsigned char ch = (unsigned char)c;

	return out_raw(f, &ch, 1) == EOF ? EOF : ch;
}

int putc(int c, FILE *f)
{
	return fputc(c, f);
}

int putchar(int c)
{
	return fputc(c, stdout);
}

int puts(const char *s)
{
	FILE *f = stdout;
	size_t n = strlen(s);

	/* one write for "s\n" whenever it fits the buffer */
	if (f->len + n + 1 <= f->cap) {
		memcpy(f->buf + f->len, s, n);
		f->buf[f->len + n] = '\n';
		f->len += n + 1;
		return fflush(f) ? EOF : 0;
	}
	if (fputs(s, f) == EOF || fputc('\n', f) == EOF)
		return EOF;
	return 0;
}

void perror(const char *s)
{
	if (s && *s)
		fprintf(stderr, "%s: error\n", s);
	else
		fputs("error\n", stderr);
}

/* Refills stdin's buffer; flushes stdout first so prompts show. */
static int refill(FILE *f)
{
	int64_t r;

	if (f->mode != MODE_READ || f->eof)
		return EOF;
	fflush(stdout);
	r = mvmm_read(f->fd, f->buf, f->cap);
	if (r <= 0) {
		if (r < 0)
			f->err = 1;
		else
			f->eof = 1;
		return EOF;
	}
	f->pos = 0;
	f->len = (size_t)r;
	return 0;
}

int fgetc(FILE *f)
{
	if (f->unget != EOF) {
		int c = f->unget;

		f->unget = EOF;
		return c;
	}
	if (f->pos == f->len && refill(f) == EOF)
		return EOF;
	return (unsigned char)f->buf[f->pos++];
}

int getc(FILE *f)
{
	return fgetc(f);
}

int getchar(void)
{
	return fgetc(stdin);
}

int ungetc(int c, FILE *f)
{
	if (c == EOF || f->unget != EOF)
		return EOF;
	f->unget = (unsigned char)c;
	f->eof = 0;
	return f->unget;
}

char *fgets(char *s, int n, FILE *f)
{
	int i = 0, c;

	if (n <= 0)
		return NULL;
	while (i < n - 1 && (c = fgetc(f)) != EOF) {
		s[i++] = (char)c;
		if (c == '\n')
			break;
	}
	if (i == 0)
		return NULL;
	s[i] = '\0';
	return s;
}

size_t fread(void *p, size_t size, size_t n, FILE *f)
{
	unsigned char *d = p;
	size_t want = size * n, got = 0;

	if (size == 0 || n == 0)
		return 0;
	if (f->unget != EOF && want) {
		d[got++] = (unsigned char)f->unget;
		f->unget = EOF;
	}
	while (got < want) {
		size_t k;

		if (f->pos == f->len && refill(f) == EOF)
			break;
		k = f->len - f->pos;
		if (k > want - got)
			k = want - got;
		memcpy(d + got, f->buf + f->pos, k);
		f->pos += k;
		got += k;
	}
	return got / size;
}

int feof(FILE *f)
{
	return f->eof;
}

int ferror(FILE *f)
{
	return f->err;
}

void clearerr(FILE *f)
{
	f->eof = 0;
	f->err = 0;
}
