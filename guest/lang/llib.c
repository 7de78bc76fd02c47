/* llib.c: the base library and the string, table, math, io and os subsets. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "lua.h"

static const Value nilv = { { 0 }, T_NIL };

/* names of the C functions for "bad argument ... to 'name'" */
static struct { CFn f; const char *name; } fnames[128];
static int nfnames;

static const char *fname_of(CFn f)
{
	for (int i = 0; i < nfnames; i++)
		if (fnames[i].f == f)
			return fnames[i].name;
	return "?";
}

static void setcur(void)
{
	Frame *f = &G.frames[G.nframes - 1];

	l_cur_fname = f->cl ? "?" : fname_of(f->cf);
}

static const Value *arg(int base, int nargs, int i)
{
	return i < nargs ? ARG(i) : &nilv;
}

static __attribute__((noreturn)) void argerr(int i, const char *msg)
{
	setcur();
	l_argerror(i + 1, msg);
}

static __attribute__((noreturn)) void typeerr(int base, int nargs, int i, const char *t)
{
	setcur();
	l_typeerror(i + 1, t, i < nargs ? ARG(i) : NULL);
}

static void checkany(int nargs, int i)
{
	if (i >= nargs)
		argerr(i, "value expected");
}

static Table *checktable(int base, int nargs, int i)
{
	if (i >= nargs || ARG(i)->tt != T_TABLE)
		typeerr(base, nargs, i, "table");
	return ARG(i)->u.t;
}

static int64_t checkint(int base, int nargs, int i)
{
	int64_t r;
	const Value *v = arg(base, nargs, i);

	if (l_tointeger(v, &r))
		return r;
	if (v->tt == T_FLT || (v->tt == T_STR && (Value){0}.tt == 0 && 0))
		argerr(i, "number has no integer representation");
	if (v->tt == T_STR) {
		Value n;

		if (l_str2num(v->u.s->data, v->u.s->len, &n))
			argerr(i, "number has no integer representation");
	}
	typeerr(base, nargs, i, "number");
}

static int64_t optint(int base, int nargs, int i, int64_t d)
{
	if (i >= nargs || ARG(i)->tt == T_NIL)
		return d;
	return checkint(base, nargs, i);
}

static double checknum(int base, int nargs, int i)
{
	const Value *v = arg(base, nargs, i);
	Value n;

	if (v->tt == T_INT)
		return (double)v->u.i;
	if (v->tt == T_FLT)
		return v->u.n;
	if (v->tt == T_STR && l_str2num(v->u.s->data, v->u.s->len, &n))
		return n.tt == T_INT ? (double)n.u.i : n.u.n;
	typeerr(base, nargs, i, "number");
}

static Str *checkstr(int base, int nargs, int i)
{
	const Value *v = arg(base, nargs, i);

	if (v->tt == T_STR)
		return v->u.s;
	if (v->tt == T_INT || v->tt == T_FLT) {
		Str *s = l_tostr_basic(v);

		*ARG(i) = vstr(s);
		return s;
	}
	typeerr(base, nargs, i, "string");
}

static int ret1(Value v)
{
	l_push(&v);
	return 1;
}

/* a growable buffer of C memory */
typedef struct Buf { char *p; size_t n, cap; } Buf;
static void bput(Buf *b, const char *s, size_t n)
{
	if (b->n + n > b->cap) {
		size_t nc = b->cap ? b->cap * 2 : 128;

		while (nc < b->n + n)
			nc *= 2;
		char *np = realloc(b->p, nc);

		if (!np) {
			free(b->p);
			l_memerror();
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
}
static Value bresult(Buf *b)
{
	Str *s = l_newstr(b->p ? b->p : "", b->n);

	free(b->p);
	b->p = NULL;
	return vstr(s);
}

/* ---- base ---- */

static int print_cf(int base, int nargs)
{
	for (int i = 0; i < nargs; i++) {
		Value s = l_tostring(ARG(i));

		if (i)
			l_out("\t", 1);
		l_out(s.u.s->data, s.u.s->len);
	}
	l_out("\n", 1);
	return 0;
}

static int type_cf(int base, int nargs)
{
	checkany(nargs, 0);
	return ret1(vstr(l_newstrz(l_typename(ARG(0)))));
}

static int tostring_cf(int base, int nargs)
{
	checkany(nargs, 0);
	return ret1(l_tostring(ARG(0)));
}

static int tonumber_cf(int base, int nargs)
{
	if (nargs < 2 || ARG(1)->tt == T_NIL) {
		const Value *v = arg(base, nargs, 0);
		Value n;

		checkany(nargs, 0);
		if (v->tt == T_INT || v->tt == T_FLT)
			return ret1(*v);
		if (v->tt == T_STR && l_str2num(v->u.s->data, v->u.s->len, &n))
			return ret1(n);
		return ret1(vnil());
	}
	int64_t b = checkint(base, nargs, 1);
	const Value *v = arg(base, nargs, 0);

	if (v->tt != T_STR)
		typeerr(base, nargs, 0, "string");
	if (b < 2 || b > 36)
		argerr(1, "base out of range");
	const char *s = v->u.s->data, *e = s + v->u.s->len;
	int neg = 0, any = 0;
	uint64_t r = 0;

	while (s < e && (*s == ' ' || (*s >= '\t' && *s <= '\r')))
		s++;
	if (s < e && *s == '-') {
		neg = 1;
		s++;
	} else if (s < e && *s == '+')
		s++;
	for (; s < e; s++) {
		int c = (unsigned char)*s, d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'Z')
			d = c - 'A' + 10;
		else
			break;
		if (d >= b)
			return ret1(vnil());
		r = r * (uint64_t)b + (uint64_t)d;
		any = 1;
	}
	while (s < e && (*s == ' ' || (*s >= '\t' && *s <= '\r')))
		s++;
	if (!any || s != e)
		return ret1(vnil());
	return ret1(vint((int64_t)(neg ? 0 - r : r)));
}

int lnext_cf(int base, int nargs)
{
	Table *t = checktable(base, nargs, 0);
	Value k = *arg(base, nargs, 1), v;

	if (!l_tnext(t, &k, &v))
		return ret1(vnil());
	l_push(&k);
	l_push(&v);
	return 2;
}

static int pairs_cf(int base, int nargs)
{
	checkany(nargs, 0);
	const Value *tm = l_metamethod(ARG(0), TM_N); /* no __pairs */

	(void)tm;
	checktable(base, nargs, 0);
	Value t = *ARG(0);

	ret1(vcfn(lnext_cf));
	l_push(&t);
	l_push(&nilv);
	return 3;
}

int ipairs_iter(int base, int nargs)
{
	int64_t i = checkint(base, nargs, 1) + 1;
	Value t = *ARG(0), r;
	const Value *v;

	if (t.tt == T_TABLE && !t.u.t->meta)
		v = l_tgetint(t.u.t, i);
	else {
		/* with __index: t[i] */
		size_t fi = G.top;
		Value f = vcfn(NULL);

		(void)f;
		(void)fi;
		extern Value l_index(Value, Value);
		r = l_index(t, vint(i));
		v = &r;
	}
	if (v->tt == T_NIL)
		return ret1(vnil());
	Value vv = *v;

	ret1(vint(i));
	l_push(&vv);
	return 2;
}

static int ipairs_cf(int base, int nargs)
{
	checkany(nargs, 0);
	Value t = *ARG(0);

	ret1(vcfn(ipairs_iter));
	l_push(&t);
	ret1(vint(0));
	return 3;
}

static int select_cf(int base, int nargs)
{
	const Value *v = arg(base, nargs, 0);

	if (v->tt == T_STR && v->u.s->len == 1 && v->u.s->data[0] == '#')
		return ret1(vint(nargs - 1));
	int64_t n = checkint(base, nargs, 0);

	if (n < 0)
		n = nargs - 1 + n;
	else if (n == 0)
		argerr(0, "index out of range");
	else
		n--;
	if (n < 0)
		argerr(0, "index out of range");
	if (n >= nargs - 1)
		return 0;
	return (int)(nargs - 1 - n);
}

static int rawget_cf(int base, int nargs)
{
	Table *t = checktable(base, nargs, 0);

	checkany(nargs, 1);
	return ret1(*l_tget(t, ARG(1)));
}

static int rawset_cf(int base, int nargs)
{
	Table *t = checktable(base, nargs, 0);

	checkany(nargs, 2);
	l_tset(t, ARG(1), ARG(2));
	return ret1(*ARG(0));
}

static int rawequal_cf(int base, int nargs)
{
	checkany(nargs, 0);
	checkany(nargs, 1);
	Value *a = ARG(0), *b = ARG(1);

	if (a->tt == T_TABLE && b->tt == T_TABLE)
		return ret1(vbool(a->u.t == b->u.t));
	return ret1(vbool(l_equal(a, b)));
}

static int rawlen_cf(int base, int nargs)
{
	const Value *v = arg(base, nargs, 0);

	if (v->tt == T_TABLE)
		return ret1(vint(l_tlen(v->u.t)));
	if (v->tt == T_STR)
		return ret1(vint((int64_t)v->u.s->len));
	argerr(0, "table or string expected");
}

static int setmetatable_cf(int base, int nargs)
{
	Table *t = checktable(base, nargs, 0);
	const Value *m = arg(base, nargs, 1);

	if (m->tt != T_NIL && m->tt != T_TABLE)
		typeerr(base, nargs, 1, "nil or table");
	if (t->meta && l_tgetstr(t->meta, G.tmname[TM_METATABLE])->tt != T_NIL)
		l_error("cannot change a protected metatable");
	t->meta = m->tt == T_TABLE ? m->u.t : NULL;
	return ret1(*ARG(0));
}

static int getmetatable_cf(int base, int nargs)
{
	checkany(nargs, 0);
	Table *mt = l_getmeta(ARG(0));

	if (!mt)
		return ret1(vnil());
	const Value *p = l_tgetstr(mt, G.tmname[TM_METATABLE]);

	if (p->tt != T_NIL)
		return ret1(*p);
	return ret1(vtab(mt));
}

static int assert_cf(int base, int nargs)
{
	checkany(nargs, 0);
	if (!IS_FALSY(ARG(0)))
		return nargs; /* all arguments are already at the top */
	if (nargs >= 2 && ARG(1)->tt != T_STR)
		l_throw(*ARG(1));
	{
		Value m = nargs >= 2 ? *ARG(1) : vstr(l_newstrz("assertion failed!"));
		char where[256];
		Buf b = { 0 };

		l_where(where, sizeof where, 1);
		bput(&b, where, strlen(where));
		bput(&b, m.u.s->data, m.u.s->len);
		l_throw(bresult(&b));
	}
}

static int error_cf(int base, int nargs)
{
	Value v = *arg(base, nargs, 0);
	int64_t level = optint(base, nargs, 1, 1);

	if (v.tt == T_STR && level > 0) {
		char where[256];
		Str *s;

		l_where(where, sizeof where, (int)level);
		size_t wl = strlen(where);

		Buf b = { 0 };

		bput(&b, where, wl);
		bput(&b, v.u.s->data, v.u.s->len);
		v = bresult(&b);
		(void)s;
	}
	l_throw(v);
}

static int pcall_cf(int base, int nargs)
{
	checkany(nargs, 0);
	if (l_pcall((size_t)base, -1)) {
		Value e = G.stack[base];

		G.stack[base] = vbool(0);
		G.stack[base + 1] = e;
		G.top = (size_t)base + 2;
		return 2;
	}
	int n = (int)(G.top - (size_t)base);

	l_ensurestack(1);
	memmove(&G.stack[base + 1], &G.stack[base], (size_t)n * sizeof(Value));
	G.stack[base] = vbool(1);
	G.top++;
	return n + 1;
}

static int unpack_cf(int base, int nargs)
{
	Table *t = checktable(base, nargs, 0);
	int64_t i = optint(base, nargs, 1, 1), j;

	j = nargs > 2 && ARG(2)->tt != T_NIL ? checkint(base, nargs, 2) : l_tlen(t);
	if (i > j)
		return 0;
	if ((uint64_t)j - (uint64_t)i >= 1000000)
		l_error("too many results to unpack");
	l_ensurestack((size_t)(j - i + 1));
	for (int64_t x = i; x <= j; x++)
		G.stack[G.top++] = *l_tgetint(t, x);
	return (int)(j - i + 1);
}

/* ---- string ---- */

static int64_t posrelat(int64_t pos, size_t len)
{
	if (pos >= 0)
		return pos;
	if ((size_t)-pos > len)
		return 0;
	return (int64_t)len + pos + 1;
}

static int str_len(int base, int nargs) { return ret1(vint((int64_t)checkstr(base, nargs, 0)->len)); }

static int str_sub(int base, int nargs)
{
	Str *s = checkstr(base, nargs, 0);
	int64_t i = posrelat(optint(base, nargs, 1, 1), s->len), j = posrelat(optint(base, nargs, 2, -1), s->len);

	if (i < 1)
		i = 1;
	if (j > (int64_t)s->len)
		j = (int64_t)s->len;
	if (i > j)
		return ret1(vstr(l_newstr("", 0)));
	return ret1(vstr(l_newstr(s->data + i - 1, (size_t)(j - i + 1))));
}

static int str_case(int base, int nargs, int up)
{
	Str *s = checkstr(base, nargs, 0);
	Str *r = l_newstr(s->data, s->len);

	if (r->isshort) {
		char tmp[48];

		for (size_t i = 0; i < s->len; i++) {
			char c = s->data[i];

			tmp[i] = up ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		return ret1(vstr(l_newstr(tmp, s->len)));
	}
	for (size_t i = 0; i < s->len; i++) {
		char c = r->data[i];

		r->data[i] = up ? (c >= 'a' && c <= 'z' ? c - 32 : c) : (c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	return ret1(vstr(r));
}
static int str_upper(int base, int nargs) { return str_case(base, nargs, 1); }
static int str_lower(int base, int nargs) { return str_case(base, nargs, 0); }

static int str_rep(int base, int nargs)
{
	Str *s = checkstr(base, nargs, 0);
	int64_t n = checkint(base, nargs, 1);
	Str *sep = nargs > 2 && ARG(2)->tt != T_NIL ? checkstr(base, nargs, 2) : NULL;
	size_t seplen = sep ? sep->len : 0, total;

	if (n <= 0)
		return ret1(vstr(l_newstr("", 0)));
	if ((s->len + seplen) && (uint64_t)n > ((size_t)1 << 40) / (s->len + seplen))
		l_error("resulting string too large");
	total = s->len * (size_t)n + seplen * (size_t)(n - 1);
	Str *r;

	if (total <= 40) {
		char tmp[48];
		size_t off = 0;

		for (int64_t i = 0; i < n; i++) {
			if (i && sep) {
				memcpy(tmp + off, sep->data, seplen);
				off += seplen;
			}
			memcpy(tmp + off, s->data, s->len);
			off += s->len;
		}
		r = l_newstr(tmp, total);
	} else {
		size_t off = 0;

		r = l_newstr(NULL, total);
		for (int64_t i = 0; i < n; i++) {
			if (i && sep) {
				memcpy(r->data + off, sep->data, seplen);
				off += seplen;
			}
			memcpy(r->data + off, s->data, s->len);
			off += s->len;
		}
	}
	return ret1(vstr(r));
}

static int str_reverse(int base, int nargs)
{
	Str *s = checkstr(base, nargs, 0);
	Buf b = { 0 };

	for (size_t i = s->len; i > 0; i--)
		bput(&b, &s->data[i - 1], 1);
	return ret1(bresult(&b));
}

static int str_byte(int base, int nargs)
{
	Str *s = checkstr(base, nargs, 0);
	int64_t i = posrelat(optint(base, nargs, 1, 1), s->len);
	int64_t j = posrelat(optint(base, nargs, 2, i), s->len);

	if (i < 1)
		i = 1;
	if (j > (int64_t)s->len)
		j = (int64_t)s->len;
	if (i > j)
		return 0;
	l_ensurestack((size_t)(j - i + 1));
	for (int64_t x = i; x <= j; x++)
		G.stack[G.top++] = vint((unsigned char)s->data[x - 1]);
	return (int)(j - i + 1);
}

static int str_char(int base, int nargs)
{
	Buf b = { 0 };

	for (int i = 0; i < nargs; i++) {
		int64_t c = checkint(base, nargs, i);

		if ((uint64_t)c > 255) {
			free(b.p);
			argerr(i, "value out of range");
		}
		char ch = (char)c;

		bput(&b, &ch, 1);
	}
	return ret1(bresult(&b));
}

static int nospecials(Str *p)
{
	for (size_t i = 0; i < p->len; i++)
		if (strchr("^$*+?.([%-", p->data[i]) && p->data[i])
			return 0;
	return 1;
}

static const char *lmemfind(const char *s, size_t l1, const char *p, size_t l2)
{
	if (l2 == 0)
		return s;
	if (l2 > l1)
		return NULL;
	for (size_t i = 0; i + l2 <= l1; i++)
		if (s[i] == p[0] && memcmp(s + i, p, l2) == 0)
			return s + i;
	return NULL;
}

static int str_find(int base, int nargs)
{
	Str *s = checkstr(base, nargs, 0), *p = checkstr(base, nargs, 1);
	int64_t init = posrelat(optint(base, nargs, 2, 1), s->len);

	if (init < 1)
		init = 1;
	if (init > (int64_t)s->len + 1)
		return ret1(vnil());
	if (!(nargs > 3 && !IS_FALSY(ARG(3))) && !nospecials(p))
		l_error("string patterns are not supported (use plain find)");
	const char *r = lmemfind(s->data + init - 1, s->len - (size_t)(init - 1), p->data, p->len);

	if (!r)
		return ret1(vnil());
	ret1(vint(r - s->data + 1));
	return 1 + ret1(vint(r - s->data + (int64_t)p->len));
}

static int str_gsub(int base, int nargs)
{
	Str *s = checkstr(base, nargs, 0), *p = checkstr(base, nargs, 1);
	const Value *repl = arg(base, nargs, 2);
	int64_t maxn = optint(base, nargs, 3, INT64_MAX), count = 0;
	Buf b = { 0 };
	size_t pos = 0;

	if (!nospecials(p))
		l_error("string patterns are not supported (plain gsub only)");
	if (repl->tt != T_STR && repl->tt != T_INT && repl->tt != T_FLT && repl->tt != T_TABLE &&
	    repl->tt != T_LCL && repl->tt != T_CFN)
		typeerr(base, nargs, 2, "string/function/table");
	if (repl->tt == T_INT || repl->tt == T_FLT)
		checkstr(base, nargs, 2);
	while (count < maxn && pos <= s->len) {
		const char *r = lmemfind(s->data + pos, s->len - pos, p->data, p->len);

		if (!r)
			break;
		size_t at = (size_t)(r - s->data);

		bput(&b, s->data + pos, at - pos);
		Value match = vstr(l_newstr(r, p->len)), rv;

		count++;
		if (repl->tt == T_STR) {
			Str *rs = repl->u.s;

			for (size_t i = 0; i < rs->len; i++) {
				if (rs->data[i] == '%' && i + 1 < rs->len) {
					i++;
					if (rs->data[i] == '0' || rs->data[i] == '1')
						bput(&b, r, p->len);
					else if (rs->data[i] == '%')
						bput(&b, "%", 1);
					else {
						free(b.p);
						l_error("invalid use of '%%' in replacement string");
					}
				} else
					bput(&b, &rs->data[i], 1);
			}
			rv = vnil();
		} else if (repl->tt == T_TABLE) {
			extern Value l_index(Value, Value);
			rv = l_index(*repl, match);
		} else {
			size_t fi = G.top;

			l_push(repl);
			l_push(&match);
			l_call(fi, 1);
			rv = G.stack[fi];
			G.top = fi;
		}
		if (repl->tt != T_STR) {
			if (IS_FALSY(&rv))
				bput(&b, r, p->len);
			else if (rv.tt == T_STR)
				bput(&b, rv.u.s->data, rv.u.s->len);
			else if (rv.tt == T_INT || rv.tt == T_FLT) {
				char nb[64];

				bput(&b, nb, (size_t)l_num2str(&rv, nb));
			} else {
				free(b.p);
				l_error("invalid replacement value (a %s)", l_typename(&rv));
			}
		}
		pos = at + p->len;
		if (p->len == 0) {
			if (pos < s->len)
				bput(&b, s->data + pos, 1);
			pos++;
		}
	}
	if (pos < s->len)
		bput(&b, s->data + pos, s->len - pos);
	ret1(bresult(&b));
	return 1 + ret1(vint(count));
}

static void addquoted(Buf *b, Str *s)
{
	bput(b, "\"", 1);
	for (size_t i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->data[i];

		if (c == '"' || c == '\\' || c == '\n') {
			bput(b, "\\", 1);
			bput(b, (char *)&c, 1);
		} else if (c == '\r') {
			bput(b, "\\r", 2);
		} else if (c == 0 || (c < 32) || c == 127) {
			char t[8];
			int n;

			if (i + 1 < s->len && s->data[i + 1] >= '0' && s->data[i + 1] <= '9')
				n = snprintf(t, sizeof t, "\\%03d", c);
			else
				n = snprintf(t, sizeof t, "\\%d", c);
			bput(b, t, (size_t)n);
		} else
			bput(b, (char *)&c, 1);
	}
	bput(b, "\"", 1);
}

static int str_format(int base, int nargs)
{
	Str *fs = checkstr(base, nargs, 0);
	const char *f = fs->data, *e = f + fs->len;
	Buf b = { 0 };
	int argi = 1;

	while (f < e) {
		if (*f != '%') {
			const char *q = f;

			while (q < e && *q != '%')
				q++;
			bput(&b, f, (size_t)(q - f));
			f = q;
			continue;
		}
		f++;
		if (f < e && *f == '%') {
			bput(&b, "%", 1);
			f++;
			continue;
		}
		char spec[32], out[512];
		int sl = 0, n = 0;

		spec[sl++] = '%';
		while (f < e && strchr("-+ #0", *f) && sl < 8)
			spec[sl++] = *f++;
		while (f < e && *f >= '0' && *f <= '9' && sl < 12)
			spec[sl++] = *f++;
		if (f < e && *f == '.') {
			spec[sl++] = *f++;
			while (f < e && *f >= '0' && *f <= '9' && sl < 16)
				spec[sl++] = *f++;
		}
		if (f >= e) {
			free(b.p);
			l_error("invalid conversion '%s' to 'format'", spec);
		}
		char conv = *f++;

		if (argi >= nargs && conv != '%') {
			free(b.p);
			setcur();
			l_cur_fname = "format";
			l_argerror(argi + 1, "no value");
		}
		switch (conv) {
		case 'd': case 'i': {
			int64_t v;
			const Value *a = ARG(argi);

			if (!l_tointeger(a, &v)) {
				free(b.p);
				if (a->tt == T_FLT || a->tt == T_STR) {
					Value nn;

					if (a->tt == T_FLT || l_str2num(a->u.s->data, a->u.s->len, &nn))
						argerr(argi, "number has no integer representation");
				}
				typeerr(base, nargs, argi, "number");
			}
			spec[sl++] = 'l';
			spec[sl++] = 'l';
			spec[sl++] = 'd';
			spec[sl] = 0;
			n = snprintf(out, sizeof out, spec, (long long)v);
			break;
		}
		case 'x': case 'X': case 'o': case 'c': {
			int64_t v;

			if (!l_tointeger(ARG(argi), &v)) {
				free(b.p);
				if (ARG(argi)->tt == T_FLT)
					argerr(argi, "number has no integer representation");
				typeerr(base, nargs, argi, "number");
			}
			if (conv == 'c') {
				spec[sl++] = 'c';
				spec[sl] = 0;
				n = snprintf(out, sizeof out, spec, (int)(unsigned char)v);
				if (v == 0) {
					bput(&b, "", 1);
					n = 0;
				}
				break;
			}
			spec[sl++] = 'l';
			spec[sl++] = 'l';
			spec[sl++] = conv;
			spec[sl] = 0;
			n = snprintf(out, sizeof out, spec, (unsigned long long)v);
			break;
		}
		case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': {
			double v = checknum(base, nargs, argi);

			if (v != v || v == __builtin_inf() || v == -__builtin_inf()) {
				Value fv = vflt(v);
				char nb[16];
				int m = l_num2str(&fv, nb);

				if (v == __builtin_inf() && strchr(spec, '+')) {
					bput(&b, "+", 1);
				}
				bput(&b, nb, (size_t)m);
				n = 0;
				break;
			}
			spec[sl++] = conv;
			spec[sl] = 0;
			n = snprintf(out, sizeof out, spec, v);
			break;
		}
		case 'a': case 'A': {
			double v = checknum(base, nargs, argi);

			n = snprintf(out, sizeof out, "%.17g", v);
			break;
		}
		case 's': {
			Value s = l_tostring(ARG(argi));

			if (sl == 1) {
				bput(&b, s.u.s->data, s.u.s->len);
				n = 0;
			} else {
				spec[sl++] = 's';
				spec[sl] = 0;
				char *big = malloc(s.u.s->len + 600);

				if (!big)
					l_memerror();
				n = snprintf(big, s.u.s->len + 600, spec, s.u.s->data);
				bput(&b, big, (size_t)n);
				free(big);
				n = 0;
			}
			break;
		}
		case 'q': {
			const Value *a = ARG(argi);

			if (a->tt == T_STR)
				addquoted(&b, a->u.s);
			else if (a->tt == T_INT) {
				if (a->u.i == INT64_MIN)
					n = snprintf(out, sizeof out, "0x8000000000000000");
				else
					n = snprintf(out, sizeof out, "%lld", (long long)a->u.i);
			} else if (a->tt == T_FLT) {
				double v = a->u.n;

				if (v == __builtin_inf())
					n = snprintf(out, sizeof out, "1e9999");
				else if (v == -__builtin_inf())
					n = snprintf(out, sizeof out, "-1e9999");
				else if (v != v)
					n = snprintf(out, sizeof out, "(0/0)");
				else {
					n = l_num2str(a, out);
				}
			} else if (a->tt == T_NIL || a->tt == T_BOOL) {
				Str *s = l_tostr_basic(a);

				bput(&b, s->data, s->len);
			} else {
				free(b.p);
				argerr(argi, "value has no literal form");
			}
			break;
		}
		default:
			free(b.p);
			l_error("invalid conversion '%s%c' to 'format'", spec, conv);
		}
		if (n > 0)
			bput(&b, out, (size_t)(n < (int)sizeof out ? n : (int)sizeof out - 1));
		argi++;
	}
	return ret1(bresult(&b));
}

/* ---- table ---- */

Value l_index(Value t, Value k);

static int tinsert(int base, int nargs)
{
	Table *t = checktable(base, nargs, 0);
	int64_t e = l_tlen(t) + 1;

	if (nargs == 2) {
		l_tsetint(t, e, ARG(1));
		return 0;
	}
	if (nargs != 3)
		l_error("wrong number of arguments to 'insert'");
	int64_t pos = checkint(base, nargs, 1);

	if ((uint64_t)pos - 1u >= (uint64_t)e)
		argerr(1, "position out of bounds");
	for (int64_t i = e; i > pos; i--) {
		Value v = *l_tgetint(t, i - 1);

		l_tsetint(t, i, &v);
	}
	l_tsetint(t, pos, ARG(2));
	return 0;
}

static int tremove(int base, int nargs)
{
	Table *t = checktable(base, nargs, 0);
	int64_t size = l_tlen(t), pos = optint(base, nargs, 1, size);

	if (nargs > 1 && size + 1 != pos && (uint64_t)pos - 1u >= (uint64_t)size + 1u)
		argerr(1, "position out of bounds");
	Value v = *l_tgetint(t, pos);

	for (; pos < size; pos++) {
		Value n = *l_tgetint(t, pos + 1);

		l_tsetint(t, pos, &n);
	}
	if (pos <= size || nargs > 1)
		l_tsetint(t, pos, &nilv);
	return ret1(v);
}

static int tconcat(int base, int nargs)
{
	Table *t = checktable(base, nargs, 0);
	Str *sep = nargs > 1 && ARG(1)->tt != T_NIL ? checkstr(base, nargs, 1) : NULL;
	int64_t i = optint(base, nargs, 2, 1), j = nargs > 3 && ARG(3)->tt != T_NIL ? checkint(base, nargs, 3) : l_tlen(t);
	Buf b = { 0 };

	for (int64_t x = i; x <= j; x++) {
		const Value *v = l_tgetint(t, x);

		if (v->tt == T_STR)
			bput(&b, v->u.s->data, v->u.s->len);
		else if (v->tt == T_INT || v->tt == T_FLT) {
			char nb[64];

			bput(&b, nb, (size_t)l_num2str(v, nb));
		} else {
			free(b.p);
			l_error("invalid value (at index %lld) in table for 'concat'", (long long)x);
		}
		if (sep && x < j)
			bput(&b, sep->data, sep->len);
		if (x == INT64_MAX)
			break;
	}
	return ret1(bresult(&b));
}

static int tpack(int base, int nargs)
{
	Table *t = l_newtable((uint32_t)nargs, 1);

	for (int i = 0; i < nargs; i++)
		l_tsetint(t, i + 1, ARG(i));
	Value n = vint(nargs);

	l_tsetstr(t, l_newstrz("n"), &n);
	return ret1(vtab(t));
}

/* sort: values copied to a C array is not GC-safe; sort in place through the table */
static int sort_lt(Value *cmp, const Value *a, const Value *b)
{
	if (cmp->tt == T_NIL)
		return l_lessthan(a, b);
	size_t fi = G.top;
	Value f = *cmp, x = *a, y = *b;

	l_push(&f);
	l_push(&x);
	l_push(&y);
	l_call(fi, 1);
	G.top = fi;
	return !IS_FALSY(&G.stack[fi]);
}

static void tsort_rec(Table *t, Value *cmp, int64_t lo, int64_t hi, int depth)
{
	while (lo < hi) {
		if (hi - lo < 8 || depth > 64) { /* insertion sort */
			for (int64_t i = lo + 1; i <= hi; i++) {
				Value v = *l_tgetint(t, i);
				int64_t j = i - 1;

				while (j >= lo) {
					Value w = *l_tgetint(t, j);

					if (!sort_lt(cmp, &v, &w))
						break;
					l_tsetint(t, j + 1, &w);
					j--;
				}
				l_tsetint(t, j + 1, &v);
			}
			return;
		}
		int64_t mid = lo + (hi - lo) / 2;
		Value a = *l_tgetint(t, lo), m = *l_tgetint(t, mid), c = *l_tgetint(t, hi), p;

		/* median of three as pivot */
		if (sort_lt(cmp, &m, &a)) { Value x = a; a = m; m = x; }
		if (sort_lt(cmp, &c, &m)) { Value x = m; m = c; c = x; if (sort_lt(cmp, &m, &a)) { x = a; a = m; m = x; } }
		l_tsetint(t, lo, &a);
		l_tsetint(t, mid, &m);
		l_tsetint(t, hi, &c);
		p = m;
		int64_t i = lo, j = hi;

		for (;;) {
			Value vi, vj;

			do {
				i++;
				vi = *l_tgetint(t, i);
				if (i > hi)
					l_error("invalid order function for sorting");
			} while (sort_lt(cmp, &vi, &p));
			do {
				j--;
				vj = *l_tgetint(t, j);
				if (j < lo)
					l_error("invalid order function for sorting");
			} while (sort_lt(cmp, &p, &vj));
			if (i >= j)
				break;
			l_tsetint(t, i, &vj);
			l_tsetint(t, j, &vi);
		}
		if (j - lo < hi - j) {
			tsort_rec(t, cmp, lo, j, depth + 1);
			lo = j + 1;
		} else {
			tsort_rec(t, cmp, j + 1, hi, depth + 1);
			hi = j;
		}
	}
}

static int tsort(int base, int nargs)
{
	Table *t = checktable(base, nargs, 0);
	int64_t n = l_tlen(t);

	if (nargs > 1 && ARG(1)->tt != T_NIL && ARG(1)->tt != T_LCL && ARG(1)->tt != T_CFN)
		typeerr(base, nargs, 1, "function");
	if (n > 1)
		tsort_rec(t, nargs > 1 ? ARG(1) : (Value *)&nilv, 1, n, 0);
	return 0;
}

/* ---- math ---- */

static int pushnum_int(double d)
{
	int64_t i;

	if (l_flt2int(d, &i))
		return ret1(vint(i));
	return ret1(vflt(d));
}

static int m_floor(int base, int nargs)
{
	const Value *v = arg(base, nargs, 0);

	if (v->tt == T_INT)
		return ret1(*v);
	return pushnum_int(l_floor(checknum(base, nargs, 0)));
}

static int m_ceil(int base, int nargs)
{
	const Value *v = arg(base, nargs, 0);

	if (v->tt == T_INT)
		return ret1(*v);
	return pushnum_int(l_ceil(checknum(base, nargs, 0)));
}

static int m_abs(int base, int nargs)
{
	const Value *v = arg(base, nargs, 0);

	if (v->tt == T_INT)
		return ret1(vint(v->u.i < 0 ? (int64_t)(0 - (uint64_t)v->u.i) : v->u.i));
	double d = checknum(base, nargs, 0);

	return ret1(vflt(d < 0 ? -d : d == 0 ? 0.0 : d));
}

static int m_minmax(int base, int nargs, int max)
{
	int best = 0;

	checknum(base, nargs, 0);
	for (int i = 1; i < nargs; i++) {
		checknum(base, nargs, i);
		if (max ? l_lessthan(ARG(best), ARG(i)) : l_lessthan(ARG(i), ARG(best)))
			best = i;
	}
	return ret1(*ARG(best));
}
static int m_max(int base, int nargs) { return m_minmax(base, nargs, 1); }
static int m_min(int base, int nargs) { return m_minmax(base, nargs, 0); }
static int m_sqrt(int base, int nargs) { return ret1(vflt(l_sqrt(checknum(base, nargs, 0)))); }
static int m_exp(int base, int nargs) { return ret1(vflt(l_exp(checknum(base, nargs, 0)))); }
static int m_sin(int base, int nargs) { return ret1(vflt(l_sin(checknum(base, nargs, 0)))); }
static int m_cos(int base, int nargs) { return ret1(vflt(l_cos(checknum(base, nargs, 0)))); }
static int m_log(int base, int nargs)
{
	double x = checknum(base, nargs, 0);

	if (nargs > 1 && ARG(1)->tt != T_NIL) {
		double b = checknum(base, nargs, 1);

		if (b == 2)
			return ret1(vflt(l_log(x) / l_log(2)));
		if (b == 10)
			return ret1(vflt(l_log(x) / l_log(10)));
		return ret1(vflt(l_log(x) / l_log(b)));
	}
	return ret1(vflt(l_log(x)));
}

static int m_fmod(int base, int nargs)
{
	const Value *a = arg(base, nargs, 0), *b = arg(base, nargs, 1);

	if (a->tt == T_INT && b->tt == T_INT) {
		if (b->u.i == 0)
			argerr(1, "zero");
		if (b->u.i == -1)
			return ret1(vint(0));
		return ret1(vint(a->u.i % b->u.i));
	}
	return ret1(vflt(l_fmod(checknum(base, nargs, 0), checknum(base, nargs, 1))));
}

static int m_tointeger(int base, int nargs)
{
	const Value *v = arg(base, nargs, 0);
	int64_t i;

	if ((v->tt == T_INT || v->tt == T_FLT) && l_tointeger(v, &i))
		return ret1(vint(i));
	if (v->tt == T_STR && l_tointeger(v, &i))
		return ret1(vint(i));
	checkany(nargs, 0);
	return ret1(vnil());
}

static int m_type(int base, int nargs)
{
	const Value *v = arg(base, nargs, 0);

	checkany(nargs, 0);
	if (v->tt == T_INT)
		return ret1(vstr(l_newstrz("integer")));
	if (v->tt == T_FLT)
		return ret1(vstr(l_newstrz("float")));
	return ret1(vnil());
}

static int m_ult(int base, int nargs)
{
	return ret1(vbool((uint64_t)checkint(base, nargs, 0) < (uint64_t)checkint(base, nargs, 1)));
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;
static uint64_t rnext(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static int m_random(int base, int nargs)
{
	uint64_t r = rnext();
	int64_t lo, hi;

	if (nargs == 0)
		return ret1(vflt((double)(r >> 11) * (1.0 / 9007199254740992.0)));
	if (nargs == 1) {
		lo = 1;
		hi = checkint(base, nargs, 0);
	} else {
		lo = checkint(base, nargs, 0);
		hi = checkint(base, nargs, 1);
	}
	if (lo > hi)
		argerr(nargs == 1 ? 0 : 1, "interval is empty");
	uint64_t span = (uint64_t)hi - (uint64_t)lo;

	return ret1(vint((int64_t)((uint64_t)lo + (span == UINT64_MAX ? r : r % (span + 1)))));
}

static int m_randomseed(int base, int nargs)
{
	rng = nargs > 0 ? (uint64_t)checkint(base, nargs, 0) * 0x9E3779B97F4A7C15ull + 1 : 0x2545F4914F6CDD1Dull;
	if (!rng)
		rng = 1;
	return 0;
}

/* ---- io, os ---- */

static int io_write(int base, int nargs)
{
	for (int i = 0; i < nargs; i++) {
		if (ARG(i)->tt == T_FLT) {
			char nb[64];
			double d = ARG(i)->u.n;
			int n = d != d || d == __builtin_inf() || d == -__builtin_inf() ? l_num2str(ARG(i), nb)
										   : snprintf(nb, sizeof nb, "%.14g", d);

			l_out(nb, (size_t)n);
			continue;
		}
		Str *s = checkstr(base, nargs, i);

		l_out(s->data, s->len);
	}
	return 0;
}

/* CLOCK_MONOTONIC in nanoseconds: os.clock and os.time measure intervals here. */
static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int os_clock(int base, int nargs)
{
	(void)base;
	(void)nargs;
	return ret1(vflt((double)mono_ns() / 1e9));
}

static int os_time(int base, int nargs)
{
	(void)base;
	(void)nargs;
	return ret1(vint((int64_t)(mono_ns() / 1000000000ull)));
}

/* ---- registration ---- */

static void reg(Table *t, const char *name, CFn f)
{
	Value v = vcfn(f);

	l_tsetstr(t, l_newstrz(name), &v);
	if (nfnames < (int)(sizeof fnames / sizeof fnames[0])) {
		fnames[nfnames].f = f;
		fnames[nfnames].name = name;
		nfnames++;
	}
}

static Table *newlib(const char *name)
{
	Table *t = l_newtable(0, 16);
	Value v = vtab(t);

	l_tsetstr(G.globals, l_newstrz(name), &v);
	return t;
}

static void setnum(Table *t, const char *name, Value v) { l_tsetstr(t, l_newstrz(name), &v); }

void l_openlibs(void)
{
	Table *g = G.globals, *t;

	nfnames = 0;
	reg(g, "print", print_cf);
	reg(g, "type", type_cf);
	reg(g, "tostring", tostring_cf);
	reg(g, "tonumber", tonumber_cf);
	reg(g, "next", lnext_cf);
	reg(g, "pairs", pairs_cf);
	reg(g, "ipairs", ipairs_cf);
	reg(g, "select", select_cf);
	reg(g, "rawget", rawget_cf);
	reg(g, "rawset", rawset_cf);
	reg(g, "rawequal", rawequal_cf);
	reg(g, "rawlen", rawlen_cf);
	reg(g, "setmetatable", setmetatable_cf);
	reg(g, "getmetatable", getmetatable_cf);
	reg(g, "assert", assert_cf);
	reg(g, "error", error_cf);
	reg(g, "pcall", pcall_cf);
	setnum(g, "_G", vtab(g));
	setnum(g, "_VERSION", vstr(l_newstrz("Lua 5.4")));

	t = newlib("string");
	reg(t, "len", str_len);
	reg(t, "sub", str_sub);
	reg(t, "upper", str_upper);
	reg(t, "lower", str_lower);
	reg(t, "rep", str_rep);
	reg(t, "reverse", str_reverse);
	reg(t, "byte", str_byte);
	reg(t, "char", str_char);
	reg(t, "find", str_find);
	reg(t, "gsub", str_gsub);
	reg(t, "format", str_format);
	G.strmeta = l_newtable(0, 2);
	setnum(G.strmeta, "__index", vtab(t));

	t = newlib("table");
	reg(t, "insert", tinsert);
	reg(t, "remove", tremove);
	reg(t, "concat", tconcat);
	reg(t, "sort", tsort);
	reg(t, "unpack", unpack_cf);
	reg(t, "pack", tpack);

	t = newlib("math");
	reg(t, "floor", m_floor);
	reg(t, "ceil", m_ceil);
	reg(t, "abs", m_abs);
	reg(t, "max", m_max);
	reg(t, "min", m_min);
	reg(t, "sqrt", m_sqrt);
	reg(t, "exp", m_exp);
	reg(t, "log", m_log);
	reg(t, "sin", m_sin);
	reg(t, "cos", m_cos);
	reg(t, "fmod", m_fmod);
	reg(t, "tointeger", m_tointeger);
	reg(t, "type", m_type);
	reg(t, "ult", m_ult);
	reg(t, "random", m_random);
	reg(t, "randomseed", m_randomseed);
	setnum(t, "huge", vflt(__builtin_inf()));
	setnum(t, "pi", vflt(3.141592653589793));
	setnum(t, "maxinteger", vint(INT64_MAX));
	setnum(t, "mininteger", vint(INT64_MIN));

	t = newlib("io");
	reg(t, "write", io_write);
	t = newlib("os");
	reg(t, "clock", os_clock);
	reg(t, "time", os_time);
}
