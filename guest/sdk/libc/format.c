/* format.c: the printf engine behind every printf-family function. */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "internal.h"

enum { F_MINUS = 1, F_PLUS = 2, F_SPACE = 4, F_ZERO = 8, F_ALT = 16 };

struct spec {
	int flags;
	int width;
	int prec; /* -1: none given */
	char conv;
};

static void put(struct fmt_sink *s, const char *p, size_t n)
{
	s->total += n;
	while (n) {
		size_t room = s->cap - s->len, k = n < room ? n : room;

		memcpy(s->buf + s->len, p, k);
		s->len += k;
		p += k;
		n -= k;
		if (n == 0)
			break;
		if (!s->drain)
			return; /* truncating sink: count but drop the rest */
		s->drain(s);
	}
}

static void pad(struct fmt_sink *s, char c, int n)
{
	char blk[32];

	if (n <= 0)
		return;
	memset(blk, c, sizeof(blk));
	while (n > 0) {
		int k = n < (int)sizeof(blk) ? n : (int)sizeof(blk);

		put(s, blk, (size_t)k);
		n -= k;
	}
}

/*
 * Emits prefix (sign, 0x), zero fill, body and trailing zeros within the
 * field width; every conversion funnels through here so the flags behave
 * the same for integers, strings and floats.
 */
static void field(struct fmt_sink *s, const struct spec *sp, const char *prefix,
		  int zeros, const char *body, int blen, int tail_zeros)
{
	int plen = (int)strlen(prefix);
	int len = plen + zeros + blen + tail_zeros;
	int fill = sp->width > len ? sp->width - len : 0;

	if (!(sp->flags & F_MINUS) && !(sp->flags & F_ZERO))
		pad(s, ' ', fill);
	put(s, prefix, (size_t)plen);
	if (!(sp->flags & F_MINUS) && (sp->flags & F_ZERO))
		pad(s, '0', fill);
	pad(s, '0', zeros);
	put(s, body, (size_t)blen);
	pad(s, '0', tail_zeros);
	if (sp->flags & F_MINUS)
		pad(s, ' ', fill);
}

static void fmt_int(struct fmt_sink *s, struct spec sp, uintmax_t v, bool neg)
{
	char buf[72], *end = buf + sizeof(buf), *p = end;
	const char *digits = sp.conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
	unsigned base = 10;
	char prefix[3] = "";
	int zeros = 0;

	if (sp.conv == 'x' || sp.conv == 'X' || sp.conv == 'p')
		base = 16;
	else if (sp.conv == 'o')
		base = 8;
	if (sp.prec >= 0)
		sp.flags &= ~F_ZERO; /* C: a precision overrides the 0 flag */
	while (v) {
		*--p = digits[v % base];
		v /= base;
	}
	if (p == end && sp.prec != 0)
		*--p = '0';
	if (sp.prec > end - p)
		zeros = sp.prec - (int)(end - p);
	if (neg)
		prefix[0] = '-';
	else if (sp.conv == 'd' || sp.conv == 'i') {
		if (sp.flags & F_PLUS)
			prefix[0] = '+';
		else if (sp.flags & F_SPACE)
			prefix[0] = ' ';
	}
	if (sp.flags & F_ALT) {
		if (base == 8 && zeros == 0 && (p == end || *p != '0'))
			zeros = 1;
		else if (base == 16 && (p != end && !(end - p == 1 && *p == '0'))) {
			prefix[0] = '0';
			prefix[1] = sp.conv == 'X' ? 'X' : 'x';
		}
	}
	field(s, &sp, prefix, zeros, p, (int)(end - p), 0);
}

/* 10^n as long double by squaring, n >= 0; exact up to 10^27, close after. */
static long double pow10l_(int n)
{
	long double r = 1, b = 10;

	while (n) {
		if (n & 1)
			r *= b;
		b *= b;
		n >>= 1;
	}
	return r;
}

#define MAXDIG 40	/* significant digits kept; the rest print as zeros */
#define GOODDIG 18	/* digits the long double walk gets right */
#define FBUF 400	/* %f integer part of DBL_MAX (309) plus some fraction */

/* floor(log2(v)) for finite v > 0, from the bits (no libm here). */
static int ilog2_(double v)
{
	union {
		double d;
		uint64_t u;
	} b = { .d = v };
	int e = (int)((b.u >> 52) & 0x7ff);

	return e ? e - 1023 : -1074; /* subnormals: a low guess, refined by the caller */
}

/*
 * Decimal digits of v > 0: fills dig[0..n) with n significant digits,
 * rounded to nearest, and returns the decimal exponent of dig[0] (n = 0 just
 * gives the exponent). Works in long double (64-bit mantissa), so about 18
 * digits are right: enough for printf's usual precisions, not bit-exact.
 */
static int digits(double v, char *dig, int n)
{
	long double m = v;
	int e, i, r = n < GOODDIG ? n : GOODDIG;

	e = (int)(ilog2_(v) * 0.30103);
	if (e > 0)
		m /= pow10l_(e);
	else if (e < 0)
		m *= pow10l_(-e);
	while (m >= 10) {
		m /= 10;
		e++;
	}
	while (m < 1) {
		m *= 10;
		e--;
	}
	for (i = 0; i < r; i++) {
		int d = (int)m;

		if (d > 9)
			d = 9;
		dig[i] = (char)('0' + d);
		m = (m - d) * 10;
	}
	/* half-way cases (exact in binary, like 2.5) round to even, as glibc does */
	if (r > 0 && (m > 5 || (m == 5 && ((dig[r - 1] - '0') & 1)))) {
		for (i = r - 1; i >= 0 && dig[i] == '9'; i--)
			dig[i] = '0';
		if (i >= 0) {
			dig[i]++;
		} else {
			dig[0] = '1'; /* 9.99 -> 10.0: one more digit of magnitude */
			e++;
		}
	}
	for (i = r; i < n; i++)
		dig[i] = '0';
	return e;
}

static void fmt_special(struct fmt_sink *s, struct spec sp, double v, const char *sign)
{
	bool up = sp.conv == 'F' || sp.conv == 'E' || sp.conv == 'G';
	const char *body = v != v ? (up ? "NAN" : "nan") : (up ? "INF" : "inf");

	sp.flags &= ~F_ZERO;
	field(s, &sp, sign, 0, body, 3, 0);
}

/* Drops trailing fraction zeros (and a bare point unless '#') for %g. */
static int strip_zeros(const struct spec *sp, const char *out, int len, int point)
{
	if (point < 0)
		return len;
	while (len > point + 1 && out[len - 1] == '0')
		len--;
	if (len == point + 1 && !(sp->flags & F_ALT))
		len--;
	return len;
}

/* %f: integer and fraction digits from one digit string. */
static void fmt_fixed(struct fmt_sink *s, const struct spec *sp, double v, const char *sign,
		      int prec, bool strip)
{
	char dig[MAXDIG], out[FBUF];
	int e = 0, n = 0, len = 0, i, point = -1, fz = 0;

	if (v != 0) {
		e = digits(v, dig, 0);
		n = e + 1 + prec;
		if (n > MAXDIG)
			n = MAXDIG;
		if (n >= 1) {
			e = digits(v, dig, n);
		} else if (n == 0 && (long double)v * pow10l_(prec) > 0.5L) {
			dig[0] = '1'; /* below the last place shown, but rounds up to it */
			n = 1;
			e = -prec;
		} else {
			n = 0;
		}
	}
	if (n == 0 || e < 0)
		out[len++] = '0';
	else
		for (i = 0; i <= e; i++)
			out[len++] = i < n ? dig[i] : '0';
	if (prec || (sp->flags & F_ALT)) {
		point = len;
		out[len++] = '.';
	}
	for (i = 0; i < prec; i++) {
		int k = e + 1 + i;

		if (len >= FBUF) {
			fz = prec - i; /* all beyond our digits: zeros */
			break;
		}
		out[len++] = (n > 0 && k >= 0 && k < n) ? dig[k] : '0';
	}
	if (strip) {
		fz = 0;
		len = strip_zeros(sp, out, len, point);
	}
	field(s, sp, sign, 0, out, len, fz);
}

/* %e: d.ddde+XX */
static void fmt_exp(struct fmt_sink *s, const struct spec *sp, double v, const char *sign,
		    int prec, bool strip)
{
	char dig[MAXDIG], out[FBUF];
	int n, e = 0, len = 0, i, ae, point = -1;

	if (prec > FBUF - 16)
		prec = FBUF - 16; /* absurd precisions are cut, not overrun */
	n = prec + 1 > MAXDIG ? MAXDIG : prec + 1;
	if (v != 0)
		e = digits(v, dig, n);
	else
		memset(dig, '0', (size_t)n);
	out[len++] = dig[0];
	if (prec || (sp->flags & F_ALT)) {
		point = len;
		out[len++] = '.';
	}
	for (i = 1; i <= prec; i++)
		out[len++] = i < n ? dig[i] : '0';
	if (strip)
		len = strip_zeros(sp, out, len, point);
	out[len++] = (sp->conv == 'E' || sp->conv == 'G') ? 'E' : 'e';
	out[len++] = e < 0 ? '-' : '+';
	ae = e < 0 ? -e : e;
	if (ae >= 100)
		out[len++] = (char)('0' + ae / 100);
	out[len++] = (char)('0' + ae / 10 % 10);
	out[len++] = (char)('0' + ae % 10);
	field(s, sp, sign, 0, out, len, 0);
}

static void fmt_float(struct fmt_sink *s, struct spec sp, double v)
{
	const char *sign = "";
	int prec = sp.prec < 0 ? 6 : sp.prec;
	char c = sp.conv | 0x20;

	if (__builtin_signbit(v)) {
		sign = "-";
		v = -v;
	} else if (sp.flags & F_PLUS) {
		sign = "+";
	} else if (sp.flags & F_SPACE) {
		sign = " ";
	}
	if (v != v || v == __builtin_inf()) {
		fmt_special(s, sp, v, sign);
		return;
	}
	if (c == 'f') {
		fmt_fixed(s, &sp, v, sign, prec, false);
	} else if (c == 'e') {
		fmt_exp(s, &sp, v, sign, prec, false);
	} else {
		/* %g: the exponent after rounding to P digits picks the style */
		char dig[MAXDIG];
		int p = prec == 0 ? 1 : prec, x = 0;
		bool strip = !(sp.flags & F_ALT);

		if (v != 0)
			x = digits(v, dig, p > MAXDIG ? MAXDIG : p);
		if (p > x && x >= -4)
			fmt_fixed(s, &sp, v, sign, p - 1 - x, strip);
		else
			fmt_exp(s, &sp, v, sign, p - 1, strip);
	}
}

static void fmt_str(struct fmt_sink *s, struct spec sp, const char *str)
{
	size_t n;

	if (!str)
		str = "(null)";
	n = sp.prec >= 0 ? strnlen(str, (size_t)sp.prec) : strlen(str);
	sp.flags &= ~F_ZERO;
	field(s, &sp, "", 0, str, (int)n, 0);
}

/* Reads a signed argument of the given length modifier, widened. */
static intmax_t arg_signed(va_list *ap, int len)
{
	switch (len) {
	case 'H': return (signed char)va_arg(*ap, int);
	case 'h': return (short)va_arg(*ap, int);
	case 'l': return va_arg(*ap, long);
	case 'q': return va_arg(*ap, long long);
	case 'j': return va_arg(*ap, intmax_t);
	case 'z': return va_arg(*ap, long); /* ssize_t */
	case 't': return va_arg(*ap, ptrdiff_t);
	default: return va_arg(*ap, int);
	}
}

static uintmax_t arg_unsigned(va_list *ap, int len)
{
	switch (len) {
	case 'H': return (unsigned char)va_arg(*ap, unsigned int);
	case 'h': return (unsigned short)va_arg(*ap, unsigned int);
	case 'l': return va_arg(*ap, unsigned long);
	case 'q': return va_arg(*ap, unsigned long long);
	case 'j': return va_arg(*ap, uintmax_t);
	case 'z': return va_arg(*ap, size_t);
	case 't': return (uintmax_t)va_arg(*ap, ptrdiff_t);
	default: return va_arg(*ap, unsigned int);
	}
}

/* Parses flags, width, precision and length; returns the length code. */
static const char *parse_spec(const char *f, struct spec *sp, int *len, va_list *ap)
{
	sp->flags = 0;
	sp->width = 0;
	sp->prec = -1;
	for (;; f++) {
		if (*f == '-')
			sp->flags |= F_MINUS;
		else if (*f == '+')
			sp->flags |= F_PLUS;
		else if (*f == ' ')
			sp->flags |= F_SPACE;
		else if (*f == '0')
			sp->flags |= F_ZERO;
		else if (*f == '#')
			sp->flags |= F_ALT;
		else
			break;
	}
	if (*f == '*') {
		sp->width = va_arg(*ap, int);
		if (sp->width < 0) {
			sp->flags |= F_MINUS;
			sp->width = sp->width == INT_MIN ? INT_MAX : -sp->width;
		}
		f++;
	} else {
		while (*f >= '0' && *f <= '9')
			sp->width = sp->width * 10 + (*f++ - '0');
	}
	if (*f == '.') {
		f++;
		sp->prec = 0;
		if (*f == '*') {
			sp->prec = va_arg(*ap, int);
			if (sp->prec < 0)
				sp->prec = -1; /* C: a negative precision is taken as absent */
			f++;
		} else {
			while (*f >= '0' && *f <= '9')
				sp->prec = sp->prec * 10 + (*f++ - '0');
		}
	}
	*len = 0;
	if (*f == 'h') {
		*len = f[1] == 'h' ? 'H' : 'h';
		f += f[1] == 'h' ? 2 : 1;
	} else if (*f == 'l') {
		*len = f[1] == 'l' ? 'q' : 'l';
		f += f[1] == 'l' ? 2 : 1;
	} else if (*f == 'j' || *f == 'z' || *f == 't' || *f == 'L') {
		*len = *f++;
	}
	sp->conv = *f;
	return f;
}

static void convert(struct fmt_sink *s, struct spec *sp, int len, va_list *ap)
{
	char c;

	switch (sp->conv) {
	case 'd':
	case 'i': {
		intmax_t v = arg_signed(ap, len);

		fmt_int(s, *sp, v < 0 ? -(uintmax_t)v : (uintmax_t)v, v < 0);
		break;
	}
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		fmt_int(s, *sp, arg_unsigned(ap, len), false);
		break;
	case 'p':
		sp->flags |= F_ALT;
		fmt_int(s, *sp, (uintptr_t)va_arg(*ap, void *), false);
		break;
	case 'c':
		c = (char)va_arg(*ap, int);
		sp->flags &= ~F_ZERO;
		field(s, sp, "", 0, &c, 1, 0);
		break;
	case 's':
		fmt_str(s, *sp, va_arg(*ap, const char *));
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
		fmt_float(s, *sp, len == 'L' ? (double)va_arg(*ap, long double)
					     : va_arg(*ap, double));
		break;
	case 'n':
		*va_arg(*ap, int *) = (int)s->total;
		break;
	default: /* %% and unknown conversions print themselves */
		put(s, &sp->conv, 1);
		break;
	}
}

/* Formats into the sink; returns the full length (as if nothing was cut). */
int __mvmm_vformat(struct fmt_sink *s, const char *fmt, va_list ap)
{
	va_list aq;
	const char *f = fmt;

	va_copy(aq, ap);
	while (*f) {
		const char *lit = f;
		struct spec sp;
		int len;

		while (*f && *f != '%')
			f++;
		if (f > lit)
			put(s, lit, (size_t)(f - lit));
		if (!*f)
			break;
		f = parse_spec(f + 1, &sp, &len, &aq);
		if (!sp.conv)
			break; /* a lone % at the end */
		convert(s, &sp, len, &aq);
		f++;
	}
	va_end(aq);
	return s->total > INT_MAX ? -1 : (int)s->total;
}
