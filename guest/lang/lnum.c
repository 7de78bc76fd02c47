/* lnum.c: number conversions and the floating-point functions (no libm), setjmp/longjmp. */
#include <stdio.h>
#include <string.h>
#include "lua.h"

__asm__(".text\n"
	".globl l_setjmp\n.type l_setjmp,@function\nl_setjmp:\n"
	"\tmov %rbx,(%rdi)\n\tmov %rbp,8(%rdi)\n\tmov %r12,16(%rdi)\n\tmov %r13,24(%rdi)\n"
	"\tmov %r14,32(%rdi)\n\tmov %r15,40(%rdi)\n\tlea 8(%rsp),%rdx\n\tmov %rdx,48(%rdi)\n"
	"\tmov (%rsp),%rdx\n\tmov %rdx,56(%rdi)\n\txor %eax,%eax\n\tret\n"
	".globl l_longjmp\n.type l_longjmp,@function\nl_longjmp:\n"
	"\tmov %esi,%eax\n\ttest %eax,%eax\n\tjnz 1f\n\tinc %eax\n1:\n"
	"\tmov (%rdi),%rbx\n\tmov 8(%rdi),%rbp\n\tmov 16(%rdi),%r12\n\tmov 24(%rdi),%r13\n"
	"\tmov 32(%rdi),%r14\n\tmov 40(%rdi),%r15\n\tmov 48(%rdi),%rsp\n\tjmp *56(%rdi)\n");

int l_flt2int(double d, int64_t *out)
{
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0))
		return 0;
	int64_t i = (int64_t)d;

	if ((double)i != d)
		return 0;
	*out = i;
	return 1;
}

double l_floor(double x)
{
	if (!(x > -4503599627370496.0 && x < 4503599627370496.0))
		return x; /* integral already, or inf/nan */
	double t = (double)(int64_t)x;

	if (t > x)
		t -= 1;
	if (t == 0 && x < 0)
		return t; /* keep sign? floor(-0.5) = -1, handled above */
	return t == 0 && (x == 0) ? x : t;
}

double l_ceil(double x)
{
	if (!(x > -4503599627370496.0 && x < 4503599627370496.0))
		return x;
	double t = (double)(int64_t)x;

	if (t < x)
		t += 1;
	if (t == 0 && x < 0)
		return -0.0;
	return t;
}

double l_sqrt(double x)
{
	double r;

	__asm__("sqrtsd %1, %0" : "=x"(r) : "x"(x));
	return r;
}

double l_fmod(double a, double b)
{
	long double x = a, y = b, r;

	if (b != b || a != a || b == 0 || a == __builtin_inf() || a == -__builtin_inf())
		return (a - a) / (a - a) * 0.0 + (b != b ? b : __builtin_nan(""));
	if (b == __builtin_inf() || b == -__builtin_inf())
		return a;
	__asm__("1: fprem\n\tfnstsw %%ax\n\ttestw $0x400, %%ax\n\tjnz 1b" : "=t"(r) : "0"(x), "u"(y) : "ax", "cc");
	return (double)r;
}

/* 2^x for long double x */
static long double exp2l_(long double x)
{
	long double ip, fp, r;

	if (x != x)
		return x;
	if (x > 20000)
		return __builtin_infl();
	if (x < -20000)
		return 0;
	__asm__("frndint" : "=t"(ip) : "0"(x));
	fp = x - ip;
	__asm__("f2xm1" : "=t"(r) : "0"(fp));
	r += 1;
	__asm__("fscale" : "=t"(r) : "0"(r), "u"(ip));
	return r;
}

static long double log2l_(long double x)
{
	long double r;

	__asm__("fyl2x" : "=t"(r) : "0"(x), "u"(1.0L) : "st(1)");
	return r;
}

double l_pow(double a, double b)
{
	int64_t bi;

	if (b == 0)
		return 1;
	if (a == 1)
		return 1;
	if (l_flt2int(b, &bi) && bi > -1024 && bi < 1024) {
		long double r = 1, base = a;
		int64_t e = bi < 0 ? -bi : bi;

		while (e) {
			if (e & 1)
				r *= base;
			base *= base;
			e >>= 1;
		}
		return (double)(bi < 0 ? 1 / r : r);
	}
	if (a != a || b != b)
		return a + b;
	if (a == 0)
		return b < 0 ? __builtin_inf() : 0;
	if (a < 0) {
		if (a == -__builtin_inf())
			return b < 0 ? 0 : __builtin_inf(); /* non-integer b */
		return __builtin_nan("") * -1.0; /* -nan like glibc */
	}
	if (a == __builtin_inf())
		return b < 0 ? 0 : a;
	if (b == __builtin_inf())
		return a > 1 ? b : 0;
	if (b == -__builtin_inf())
		return a > 1 ? 0 : __builtin_inf();
	return (double)exp2l_((long double)b * log2l_(a));
}

double l_exp(double x) { return (double)exp2l_((long double)x * 1.4426950408889634073599246810018921L); }
double l_log(double x)
{
	if (x < 0 || x != x)
		return -__builtin_nan("");
	if (x == 0)
		return -__builtin_inf();
	if (x == __builtin_inf())
		return x;
	return (double)(log2l_(x) * 0.6931471805599453094172321214581766L);
}
double l_sin(double x)
{
	long double r = x;

	__asm__("fsin" : "+t"(r));
	return (double)r;
}
double l_cos(double x)
{
	long double r = x;

	__asm__("fcos" : "+t"(r));
	return (double)r;
}

static long double pow10l(int n)
{
	long double r = 1, b = 10;
	int neg = n < 0;

	if (neg)
		n = -n;
	while (n) {
		if (n & 1)
			r *= b;
		b *= b;
		n >>= 1;
	}
	return neg ? 1 / r : r;
}

static const double exact10[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
				  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };

static int isspace_(int c) { return c == ' ' || (c >= '\t' && c <= '\r'); }
static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/*
 * The exponent after 'e' or 'p' (*s points at that letter): adds it to *exp
 * and moves *s past it; 0 when no digit follows. Huge exponents saturate.
 */
static int parse_exponent(const char **sp, const char *e, int *exp)
{
	const char *s = *sp + 1;
	int en = 0, eneg = 0, ed = 0;

	if (s < e && (*s == '-' || *s == '+'))
		eneg = *s++ == '-';
	for (; s < e && *s >= '0' && *s <= '9'; s++, ed = 1)
		if (en < 100000)
			en = en * 10 + (*s - '0');
	if (!ed)
		return 0;
	*exp += eneg ? -en : en;
	*sp = s;
	return 1;
}

/* Lua's numeral syntax (with surrounding spaces and a sign); 1 if the whole string is a number. */
int l_str2num(const char *s, size_t len, Value *out)
{
	const char *e = s + len;
	int neg = 0;

	while (s < e && isspace_((unsigned char)*s))
		s++;
	while (e > s && isspace_((unsigned char)e[-1]))
		e--;
	if (s < e && (*s == '-' || *s == '+'))
		neg = *s++ == '-';
	if (s >= e)
		return 0;
	if (e - s >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		uint64_t m = 0;
		long double fm = 0;
		int any = 0, isflt = 0, exp = 0;

		s += 2;
		for (; s < e && hexval(*s) >= 0; s++, any = 1) {
			m = m * 16 + (uint64_t)hexval(*s);
			fm = fm * 16 + hexval(*s);
		}
		if (s < e && *s == '.') {
			isflt = 1;
			for (s++; s < e && hexval(*s) >= 0; s++, any = 1) {
				fm = fm * 16 + hexval(*s);
				exp -= 4;
			}
		}
		if (!any)
			return 0;
		if (s < e && (*s == 'p' || *s == 'P')) {
			isflt = 1;
			if (!parse_exponent(&s, e, &exp))
				return 0;
		}
		if (s != e)
			return 0;
		if (isflt) {
			long double r = fm;

			while (exp > 0) { r *= 2; exp--; }
			while (exp < 0) { r /= 2; exp++; }
			*out = vflt((double)(neg ? -r : r));
		} else {
			*out = vint((int64_t)(neg ? 0 - m : m));
		}
		return 1;
	}
	{
		uint64_t m = 0;
		int nd = 0, any = 0, isflt = 0, exp = 0, overflow = 0;

		for (; s < e && *s >= '0' && *s <= '9'; s++, any = 1) {
			if (nd < 19) {
				m = m * 10 + (uint64_t)(*s - '0');
				if (m)
					nd++;
			} else {
				exp++;
				overflow = 1;
			}
		}
		if (s < e && *s == '.') {
			isflt = 1;
			for (s++; s < e && *s >= '0' && *s <= '9'; s++, any = 1)
				if (nd < 19) {
					m = m * 10 + (uint64_t)(*s - '0');
					if (m)
						nd++;
					exp--;
				}
		}
		if (!any)
			return 0;
		if (s < e && (*s == 'e' || *s == 'E')) {
			isflt = 1;
			if (!parse_exponent(&s, e, &exp))
				return 0;
		}
		if (s != e)
			return 0;
		if (!isflt && !overflow && (m <= (uint64_t)INT64_MAX || (neg && m == (uint64_t)INT64_MAX + 1))) {
			*out = vint(neg ? (int64_t)(0 - m) : (int64_t)m);
			return 1;
		}
		double r;

		if (m == 0)
			r = 0;
		else if (m < (1ull << 53) && exp >= -22 && exp <= 22)
			r = exp < 0 ? (double)m / exact10[-exp] : (double)m * exact10[exp];
		else if (exp > 310)
			r = __builtin_inf();
		else if (exp < -400)
			r = 0;
		else {
			long double lm = (long double)m;

			if (exp < -4900 + 19)
				r = 0;
			else if (exp < 0)
				r = (double)(lm / pow10l(-exp));
			else
				r = (double)(lm * pow10l(exp));
		}
		*out = vflt(neg ? -r : r);
		return 1;
	}
}

static int fmtint(int64_t i, char *buf)
{
	char tmp[24];
	int n = 0, len = 0;
	uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (i < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = tmp[--n];
	buf[len] = 0;
	return len;
}

int l_num2str(const Value *v, char *buf)
{
	double d;
	int n;

	if (v->tt == T_INT)
		return fmtint(v->u.i, buf);
	d = v->u.n;
	if (d != d) {
		uint64_t b;

		memcpy(&b, &d, 8);
		strcpy(buf, (b >> 63) ? "-nan" : "nan");
		return (int)strlen(buf);
	}
	if (d == __builtin_inf()) {
		strcpy(buf, "inf");
		return 3;
	}
	if (d == -__builtin_inf()) {
		strcpy(buf, "-inf");
		return 4;
	}
	n = snprintf(buf, 64, "%.14g", d);
	if (!memchr(buf, '.', (size_t)n) && !memchr(buf, 'e', (size_t)n)) {
		buf[n++] = '.';
		buf[n++] = '0';
		buf[n] = 0;
	}
	return n;
}

int l_tointeger(const Value *v, int64_t *out)
{
	switch (v->tt) {
	case T_INT: *out = v->u.i; return 1;
	case T_FLT: return l_flt2int(v->u.n, out);
	case T_STR: {
		Value n;

		if (!l_str2num(v->u.s->data, v->u.s->len, &n))
			return 0;
		return l_tointeger(&n, out);
	}
	default: return 0;
	}
}
