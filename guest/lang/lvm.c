/* lvm.c: the bytecode interpreter, calls, metamethods and errors. */
#define _POSIX_C_SOURCE 200809L /* write */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lopcodes.h"
#include "lua.h"

#define MAXSTACK 1000000
#define MAXFRAMES 220000
#define MAXCCALLS 180
#define EXTRA_STACK 8

static const char *const tmnames[TM_N] = { "__index", "__newindex", "__eq", "__len", "__call",
	"__add", "__sub", "__mul", "__mod", "__pow", "__div", "__idiv", "__band", "__bor", "__bxor",
	"__shl", "__shr", "__unm", "__bnot", "__lt", "__le", "__concat", "__tostring", "__name",
	"__metatable" };
const char *l_cur_fname;

/* ---- output: print's own buffer, written with write(2) ---- */
#include <unistd.h>
static char outbuf[1 << 16];
static size_t outlen;

void l_flush(void)
{
	size_t off = 0;

	while (off < outlen) {
		ssize_t r = write(1, outbuf + off, outlen - off);

		if (r <= 0)
			break;
		off += (size_t)r;
	}
	outlen = 0;
}

void l_out(const char *s, size_t n)
{
	if (outlen + n > sizeof outbuf) {
		l_flush();
		if (n > sizeof outbuf) {
			while (n) {
				ssize_t r = write(1, s, n);

				if (r <= 0)
					return;
				s += r;
				n -= (size_t)r;
			}
			return;
		}
	}
	memcpy(outbuf + outlen, s, n);
	outlen += n;
}

/* ---- stack ---- */

void l_ensurestack(size_t n)
{
	size_t need = G.top + n + EXTRA_STACK, ns;
	Value *old = G.stack, *nsk;

	if (need <= G.stacksize)
		return;
	if (need > MAXSTACK + 200) {
		l_error("stack overflow");
	}
	ns = G.stacksize * 2;
	while (ns < need)
		ns *= 2;
	if (ns > MAXSTACK + 1000)
		ns = MAXSTACK + 1000;
	size_t *offs = NULL;
	size_t nuv = 0;

	for (UpVal *u = G.openuv; u; u = u->open_next)
		nuv++;
	(void)offs;
	nsk = l_alloc(NULL, 0, ns * sizeof(Value));
	memcpy(nsk, old, G.stacksize * sizeof(Value));
	for (size_t i = G.stacksize; i < ns; i++)
		nsk[i] = vnil();
	for (UpVal *u = G.openuv; u; u = u->open_next)
		u->v = nsk + (u->v - old);
	l_alloc(old, G.stacksize * sizeof(Value), 0);
	G.stack = nsk;
	G.stacksize = ns;
	(void)nuv;
}

void l_push(const Value *v)
{
	if (G.top + EXTRA_STACK >= G.stacksize)
		l_ensurestack(1);
	G.stack[G.top++] = *v;
}

static Frame *pushframe(void)
{
	if (G.nframes == G.framecap) {
		int nc = G.framecap * 2;

		if (G.nframes >= MAXFRAMES)
			l_error("stack overflow");
		G.frames = l_alloc(G.frames, (size_t)G.framecap * sizeof(Frame), (size_t)nc * sizeof(Frame));
		G.framecap = nc;
	}
	return &G.frames[G.nframes++];
}

/* ---- upvalues ---- */

static UpVal *findupval(Value *slot)
{
	UpVal **pp = &G.openuv, *u;

	while (*pp && (*pp)->v >= slot) {
		if ((*pp)->v == slot)
			return *pp;
		pp = &(*pp)->open_next;
	}
	u = l_newupval();
	u->v = slot;
	u->open_next = *pp;
	*pp = u;
	return u;
}

static void closeupvals(Value *level)
{
	while (G.openuv && G.openuv->v >= level) {
		UpVal *u = G.openuv;

		u->closed = *u->v;
		u->v = &u->closed;
		G.openuv = u->open_next;
	}
}

/* ---- errors ---- */

const char *l_typename(const Value *v)
{
	static const char *const names[] = { "nil", "boolean", "number", "number", "string", "table",
					     "function", "function", "proto", "upval" };
	return names[v->tt];
}

Table *l_getmeta(const Value *o)
{
	if (o->tt == T_TABLE)
		return o->u.t->meta;
	if (o->tt == T_STR)
		return G.strmeta;
	return NULL;
}

const char *l_objtypename(const Value *v)
{
	Table *mt = l_getmeta(v);

	if (mt && v->tt == T_TABLE) {
		const Value *n = l_tgetstr(mt, G.tmname[TM_NAME]);

		if (n->tt == T_STR)
			return n->u.s->data;
	}
	return l_typename(v);
}

static int curline(Frame *f)
{
	if (!f->cl)
		return -1;
	int pc = (int)(f->pc - f->cl->p->code) - 1;

	if (pc < 0)
		pc = 0;
	return f->cl->p->lines[pc];
}

/* position "chunk:line:" of the function at level (1 = innermost Lua-visible caller) */
void l_where(char *buf, size_t n, int level)
{
	int fi = G.nframes - 1 - level;

	buf[0] = 0;
	if (fi >= 0 && fi < G.nframes && G.frames[fi].cl)
		snprintf(buf, n, "%s:%d: ", G.frames[fi].cl->p->source->data, curline(&G.frames[fi]));
}

void l_throw(Value v)
{
	G.errval = v;
	if (!G.errjmp) {
		Value s = v;
		char tmp[64];
		const char *msg = "(error object is not a string)";

		if (s.tt == T_STR)
			msg = s.u.s->data;
		else if (s.tt == T_INT || s.tt == T_FLT) {
			l_num2str(&s, tmp);
			msg = tmp;
		}
		l_flush();
		fprintf(stderr, "lua: %s\n", msg);
		exit(1);
	}
	l_longjmp(*(l_jmpbuf *)G.errjmp, 1);
}

static __attribute__((noreturn)) void verror(int level, const char *fmt, va_list ap)
{
	char msg[512], where[256];
	int n;

	l_where(where, sizeof where, level);
	n = snprintf(msg, sizeof msg, "%s", where);
	vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
	l_throw(vstr(l_newstrz(msg)));
}

/* raised by a C function (position of its caller) or by the VM (running Lua frame) */
void l_error(const char *fmt, ...)
{
	va_list ap;
	int level = G.nframes > 0 && !G.frames[G.nframes - 1].cl ? 1 : 0;

	va_start(ap, fmt);
	verror(level, fmt, ap);
}

void l_memerror(void)
{
	G.gcstop = 0;
	l_throw(vstr(G.memmsg));
}

static void varinfo(char *buf, size_t n, Frame *f, int which);
static const char *cfname(void)
{
	return l_cur_fname ? l_cur_fname : "?";
}

void l_argerror(int arg, const char *extra)
{
	if (G.nframes >= 2 && G.frames[G.nframes - 2].cl) {
		char vi[128];

		varinfo(vi, sizeof vi, &G.frames[G.nframes - 2], 1);
		if (strncmp(vi, " (method", 8) == 0) {
			arg--;
			if (arg == 0)
				l_error("calling '%s' on bad self (%s)", cfname(), extra);
		}
	}
	l_error("bad argument #%d to '%s' (%s)", arg, cfname(), extra);
}

void l_typeerror(int arg, const char *tname, const Value *got)
{
	char msg[128];

	snprintf(msg, sizeof msg, "%s expected, got %s", tname, got ? (got->tt == T_NIL && 0 ? "no value" : l_objtypename(got)) : "no value");
	l_argerror(arg, msg);
}

/* " (local 'x')" for operand slot `which` (1 or 2) of the instruction at the frame's pc */
static void varinfo(char *buf, size_t n, Frame *f, int which)
{
	Proto *p;
	int pc;

	buf[0] = 0;
	if (!f->cl || which == 0)
		return;
	p = f->cl->p;
	pc = (int)(f->pc - p->code) - 1;
	for (int i = 0; i < p->ndbg; i++)
		if (p->dbg[i].pc == pc) {
			int k = which == 1 ? p->dbg[i].k1 : p->dbg[i].k2;
			Str *nm = which == 1 ? p->dbg[i].n1 : p->dbg[i].n2;
			static const char *const kn[] = { "", "local", "global", "field", "upvalue", "method", "constant" };

			if (k && nm)
				snprintf(buf, n, " (%s '%s')", kn[k], nm->data);
			return;
		}
}

static __attribute__((noreturn)) void typeerror_op(const Value *o, const char *op, int which)
{
	char vi[128];

	varinfo(vi, sizeof vi, &G.frames[G.nframes - 1], which);
	l_error("attempt to %s a %s value%s", op, l_objtypename(o), vi);
}

static int tonumber_(const Value *v, Value *out)
{
	if (v->tt == T_INT || v->tt == T_FLT) {
		*out = *v;
		return 1;
	}
	if (v->tt == T_STR)
		return l_str2num(v->u.s->data, v->u.s->len, out);
	return 0;
}

/* ---- metamethods ---- */

static const Value nilv = { { 0 }, T_NIL };

static const Value *fasttm(Table *mt, int tm)
{
	const Value *r;

	if (!mt)
		return &nilv;
	if (tm < 8 && (mt->flags & (1u << tm)))
		return &nilv;
	r = l_tgetstr(mt, G.tmname[tm]);
	if (r->tt == T_NIL && tm < 8)
		mt->flags |= (uint8_t)(1u << tm);
	return r;
}

const Value *l_metamethod(const Value *o, int tm) { return fasttm(l_getmeta(o), tm); }

/* calls f(a, b) and returns the first result */
static Value calltm(const Value *f, const Value *a, const Value *b, int nargs)
{
	size_t fi = G.top;
	Value fv = *f, av = *a, bv = *b;

	l_push(&fv);
	l_push(&av);
	if (nargs > 1)
		l_push(&bv);
	l_call(fi, 1);
	G.top = fi;
	return G.stack[fi];
}


static int64_t ifloordiv(int64_t a, int64_t b)
{
	if (b == -1)
		return (int64_t)(0 - (uint64_t)a);
	int64_t q = a / b;

	if ((a % b != 0) && ((a ^ b) < 0))
		q--;
	return q;
}

static int64_t imod(int64_t a, int64_t b)
{
	if (b == -1)
		return 0;
	int64_t r = a % b;

	if (r != 0 && (r ^ b) < 0)
		r += b;
	return r;
}

static double fmod_lua(double a, double b)
{
	double m = l_fmod(a, b);

	if (m != 0 && ((m > 0) != (b > 0)) && b == b && m == m)
		m += b;
	return m;
}

static int64_t shiftl(int64_t x, int64_t y)
{
	if (y <= -64 || y >= 64)
		return 0;
	if (y >= 0)
		return (int64_t)((uint64_t)x << y);
	return (int64_t)((uint64_t)x >> -y);
}

/* op is 0..11 (B_ADD..B_SHR order); numbers only; returns 0 if not applicable */
static int arith_num(int op, const Value *a, const Value *b, Value *r)
{
	Value x, y;

	if (!tonumber_(a, &x) || !tonumber_(b, &y))
		return 0;
	if (op >= 7) { /* bitwise */
		int64_t i, j;

		if (!l_tointeger(&x, &i) || !l_tointeger(&y, &j)) {
			return -1;
		}
		switch (op) {
		case 7: *r = vint(i & j); break;
		case 8: *r = vint(i | j); break;
		case 9: *r = vint(i ^ j); break;
		case 10: *r = vint(shiftl(i, j)); break;
		case 11: *r = vint(shiftl(i, (int64_t)(0 - (uint64_t)j))); break;
		}
		return 1;
	}
	if (x.tt == T_INT && y.tt == T_INT && op != 4 && op != 5) {
		int64_t i = x.u.i, j = y.u.i;

		switch (op) {
		case 0: *r = vint((int64_t)((uint64_t)i + (uint64_t)j)); break;
		case 1: *r = vint((int64_t)((uint64_t)i - (uint64_t)j)); break;
		case 2: *r = vint((int64_t)((uint64_t)i * (uint64_t)j)); break;
		case 3:
			if (j == 0)
				l_error("attempt to perform 'n%%0'");
			*r = vint(imod(i, j));
			break;
		case 6:
			if (j == 0)
				l_error("attempt to divide by zero");
			*r = vint(ifloordiv(i, j));
			break;
		}
		return 1;
	}
	double u = x.tt == T_INT ? (double)x.u.i : x.u.n, v = y.tt == T_INT ? (double)y.u.i : y.u.n;

	switch (op) {
	case 0: *r = vflt(u + v); break;
	case 1: *r = vflt(u - v); break;
	case 2: *r = vflt(u * v); break;
	case 3: *r = vflt(fmod_lua(u, v)); break;
	case 4: *r = vflt(l_pow(u, v)); break;
	case 5: *r = vflt(u / v); break;
	case 6: *r = vflt(l_floor(u / v)); break;
	}
	return 1;
}

static Value arith_slow(int op, const Value *a, const Value *b)
{
	Value r;
	int k = arith_num(op, a, b, &r);

	if (k == 1)
		return r;
	const Value *tm = l_metamethod(a, TM_ADD + op);

	if (tm->tt == T_NIL)
		tm = l_metamethod(b, TM_ADD + op);
	if (tm->tt != T_NIL)
		return calltm(tm, a, b, 2);
	if (a->tt == T_STR || b->tt == T_STR) {
		static const char *const on[] = { "add", "sub", "mul", "mod", "pow", "div", "idiv", "band",
						  "bor", "bxor", "shl", "shr" };
		Value x, y;

		if (!(op >= 7 && tonumber_(a, &x) && tonumber_(b, &y)))
			l_error("attempt to %s a '%s' with a '%s'", on[op], l_typename(a), l_typename(b));
	}
	if (op >= 7) {
		Value x, y;

		if (tonumber_(a, &x) && tonumber_(b, &y))
			l_error("number has no integer representation");
		/* blame the non-number */
		if (tonumber_(a, &x))
			typeerror_op(b, "perform bitwise operation on", 2);
		typeerror_op(a, "perform bitwise operation on", 1);
	}
	{
		Value x;

		if (tonumber_(a, &x))
			typeerror_op(b, "perform arithmetic on", 2);
		typeerror_op(a, "perform arithmetic on", 1);
	}
}

static Value unm_slow(const Value *a)
{
	Value x;

	if (tonumber_(a, &x)) {
		if (x.tt == T_INT)
			return vint((int64_t)(0 - (uint64_t)x.u.i));
		return vflt(-x.u.n);
	}
	const Value *tm = l_metamethod(a, TM_UNM);

	if (tm->tt != T_NIL)
		return calltm(tm, a, a, 2);
	typeerror_op(a, "perform arithmetic on", 1);
}

static Value bnot_slow(const Value *a)
{
	Value x;
	int64_t i;

	if (tonumber_(a, &x)) {
		if (!l_tointeger(&x, &i))
			l_error("number has no integer representation");
		return vint(~i);
	}
	const Value *tm = l_metamethod(a, TM_BNOT);

	if (tm->tt != T_NIL)
		return calltm(tm, a, a, 2);
	typeerror_op(a, "perform bitwise operation on", 1);
}

static Value len_slow(const Value *a)
{
	if (a->tt == T_STR)
		return vint((int64_t)a->u.s->len);
	const Value *tm = l_metamethod(a, TM_LEN);

	if (tm->tt != T_NIL)
		return calltm(tm, a, a, 2);
	if (a->tt == T_TABLE)
		return vint(l_tlen(a->u.t));
	typeerror_op(a, "get length of", 1);
}

int l_equal(const Value *a, const Value *b)
{
	if (a->tt != b->tt) {
		if (a->tt == T_INT && b->tt == T_FLT)
			return (double)a->u.i == b->u.n && b->u.n >= -9223372036854775808.0 &&
			       b->u.n < 9223372036854775808.0 && (int64_t)b->u.n == a->u.i;
		if (a->tt == T_FLT && b->tt == T_INT)
			return l_equal(b, a);
		return 0;
	}
	switch (a->tt) {
	case T_NIL: return 1;
	case T_BOOL: return a->u.b == b->u.b;
	case T_INT: return a->u.i == b->u.i;
	case T_FLT: return a->u.n == b->u.n;
	case T_STR: return l_streq(a->u.s, b->u.s);
	case T_CFN: return a->u.f == b->u.f;
	case T_TABLE: {
		if (a->u.t == b->u.t)
			return 1;
		const Value *tm = fasttm(a->u.t->meta, TM_EQ);

		if (tm->tt == T_NIL)
			tm = fasttm(b->u.t->meta, TM_EQ);
		if (tm->tt == T_NIL)
			return 0;
		Value r = calltm(tm, a, b, 2);

		return !IS_FALSY(&r);
	}
	default: return a->u.gc == b->u.gc;
	}
}

static int ltnum(const Value *a, const Value *b, int le)
{
	if (a->tt == T_INT && b->tt == T_INT)
		return le ? a->u.i <= b->u.i : a->u.i < b->u.i;
	if (a->tt == T_FLT && b->tt == T_FLT)
		return le ? a->u.n <= b->u.n : a->u.n < b->u.n;
	if (a->tt == T_INT) { /* int vs float */
		double f = b->u.n;

		if (f != f)
			return 0;
		if (f >= 9223372036854775808.0)
			return 1;
		if (f < -9223372036854775808.0)
			return 0;
		double c = le ? l_floor(f) : l_ceil(f);

		if (c >= 9223372036854775808.0)
			return 1;
		return le ? a->u.i <= (int64_t)c : a->u.i < (int64_t)c;
	} else {
		double f = a->u.n;

		if (f != f)
			return 0;
		if (f >= 9223372036854775808.0)
			return 0;
		if (f < -9223372036854775808.0)
			return 1;
		/* f < i  <=> ceil... : f < i <=> floor(f) < i ; f <= i <=> ceil(f) <= i */
		double c = le ? l_ceil(f) : l_floor(f);

		if (c >= 9223372036854775808.0)
			return 0;
		return le ? (int64_t)c <= b->u.i : (int64_t)c < b->u.i;
	}
}

static int strcmp_(Str *a, Str *b)
{
	size_t n = a->len < b->len ? a->len : b->len;
	int r = memcmp(a->data, b->data, n);

	if (r)
		return r;
	return a->len < b->len ? -1 : a->len > b->len;
}

static __attribute__((noreturn)) void cmperror(const Value *a, const Value *b)
{
	const char *t1 = l_objtypename(a), *t2 = l_objtypename(b);

	if (strcmp(t1, t2) == 0)
		l_error("attempt to compare two %s values", t1);
	l_error("attempt to compare %s with %s", t1, t2);
}

static int lessop(const Value *a, const Value *b, int le)
{
	if ((a->tt == T_INT || a->tt == T_FLT) && (b->tt == T_INT || b->tt == T_FLT))
		return ltnum(a, b, le);
	if (a->tt == T_STR && b->tt == T_STR) {
		int c = strcmp_(a->u.s, b->u.s);

		return le ? c <= 0 : c < 0;
	}
	const Value *tm = l_metamethod(a, le ? TM_LE : TM_LT);

	if (tm->tt == T_NIL)
		tm = l_metamethod(b, le ? TM_LE : TM_LT);
	if (tm->tt == T_NIL)
		cmperror(a, b);
	Value r = calltm(tm, a, b, 2);

	return !IS_FALSY(&r);
}

int l_lessthan(const Value *a, const Value *b) { return lessop(a, b, 0); }

/* ---- tostring ---- */

Str *l_tostr_basic(const Value *v)
{
	char buf[64];

	switch (v->tt) {
	case T_NIL: return l_newstr("nil", 3);
	case T_BOOL: return v->u.b ? l_newstr("true", 4) : l_newstr("false", 5);
	case T_INT: case T_FLT: return l_newstr(buf, (size_t)l_num2str(v, buf));
	case T_STR: return v->u.s;
	case T_TABLE: snprintf(buf, sizeof buf, "%s: %p", l_objtypename(v), (void *)v->u.t); break;
	case T_LCL: snprintf(buf, sizeof buf, "function: %p", (void *)v->u.cl); break;
	case T_CFN: snprintf(buf, sizeof buf, "function: builtin: %p", (void *)(uintptr_t)v->u.f); break;
	default: snprintf(buf, sizeof buf, "userdata: %p", (void *)v->u.gc); break;
	}
	return l_newstrz(buf);
}

Value l_tostring(const Value *v)
{
	const Value *tm = l_metamethod(v, TM_TOSTRING);

	if (tm->tt != T_NIL) {
		Value r = calltm(tm, v, v, 1);

		if (r.tt != T_STR) {
			if (r.tt == T_INT || r.tt == T_FLT)
				return vstr(l_tostr_basic(&r));
			l_error("'__tostring' must return a string");
		}
		return r;
	}
	return vstr(l_tostr_basic(v));
}

/* ---- indexing ---- */

static Value index_slow(Value t, Value k, int which)
{
	for (int loop = 0; loop < 2000; loop++) {
		const Value *tm;

		if (t.tt == T_TABLE) {
			const Value *r = l_tget(t.u.t, &k);

			if (r->tt != T_NIL)
				return *r;
			tm = fasttm(t.u.t->meta, TM_INDEX);
			if (tm->tt == T_NIL)
				return nilv;
		} else {
			tm = l_metamethod(&t, TM_INDEX);
			if (tm->tt == T_NIL) {
				if (loop == 0)
					typeerror_op(&t, "index", which);
				l_error("attempt to index a %s value", l_objtypename(&t));
			}
		}
		if (tm->tt == T_LCL || tm->tt == T_CFN)
			return calltm(tm, &t, &k, 2);
		t = *tm;
	}
	l_error("'__index' chain too long; possible loop");
}

static void newindex_slow(Value t, Value k, Value v, int which)
{
	for (int loop = 0; loop < 2000; loop++) {
		const Value *tm;

		if (t.tt == T_TABLE) {
			const Value *r = l_tget(t.u.t, &k);

			if (r->tt != T_NIL || (tm = fasttm(t.u.t->meta, TM_NEWINDEX))->tt == T_NIL) {
				l_tset(t.u.t, &k, &v);
				return;
			}
		} else {
			tm = l_metamethod(&t, TM_NEWINDEX);
			if (tm->tt == T_NIL) {
				if (loop == 0)
					typeerror_op(&t, "index", which);
				l_error("attempt to index a %s value", l_objtypename(&t));
			}
		}
		if (tm->tt == T_LCL || tm->tt == T_CFN) {
			size_t fi = G.top;
			Value f = *tm;

			l_push(&f);
			l_push(&t);
			l_push(&k);
			l_push(&v);
			l_call(fi, 0);
			G.top = fi;
			return;
		}
		t = *tm;
	}
	l_error("'__newindex' chain too long; possible loop");
}

/* ---- concat ---- */

static int tostrable(const Value *v) { return v->tt == T_STR || v->tt == T_INT || v->tt == T_FLT; }

static void concat(size_t top, int n)
{
	/* values at stack[top-n .. top); result at stack[top-n] */
	while (n > 1) {
		Value *a = &G.stack[top - 2], *b = &G.stack[top - 1];

		if (tostrable(a) && tostrable(b)) {
			int k = 2;
			size_t len = 0, off = 0;
			char nb[64];

			while (k < n && tostrable(&G.stack[top - (size_t)k - 1]))
				k++;
			for (int i = k; i >= 1; i--) {
				Value *v = &G.stack[top - (size_t)i];

				len += v->tt == T_STR ? v->u.s->len : (size_t)l_num2str(v, nb);
			}
			Str *s;

			if (len <= 40) {
				char tmp[48];

				for (int i = k; i >= 1; i--) {
					Value *v = &G.stack[top - (size_t)i];

					if (v->tt == T_STR) {
						memcpy(tmp + off, v->u.s->data, v->u.s->len);
						off += v->u.s->len;
					} else
						off += (size_t)l_num2str(v, tmp + off);
				}
				s = l_newstr(tmp, len);
			} else {
				s = l_newstr(NULL, len);
				for (int i = k; i >= 1; i--) {
					Value *v = &G.stack[top - (size_t)i];

					if (v->tt == T_STR) {
						memcpy(s->data + off, v->u.s->data, v->u.s->len);
						off += v->u.s->len;
					} else {
						int m = l_num2str(v, nb);

						memcpy(s->data + off, nb, (size_t)m);
						off += (size_t)m;
					}
				}
			}
			top -= (size_t)k - 1;
			G.stack[top - 1] = vstr(s);
			n -= k - 1;
		} else {
			const Value *tm = l_metamethod(a, TM_CONCAT);

			if (tm->tt == T_NIL)
				tm = l_metamethod(b, TM_CONCAT);
			if (tm->tt == T_NIL) {
				if (tostrable(a))
					typeerror_op(b, "concatenate", 2);
				typeerror_op(a, "concatenate", 1);
			}
			size_t save = G.top;

			G.top = top;
			Value r = calltm(tm, a, b, 2);

			G.top = save;
			top--;
			G.stack[top - 1] = r;
			n--;
		}
	}
}

/* ---- calls ---- */

static void execute(void);

/* Sets up a call of stack[func] with nargs arguments. Lua: pushes a frame and returns 1.
 * C: runs it, moves results to func.., sets G.top, returns 0. */
static int precall(size_t func, int nargs, int nres)
{
	Value *f = &G.stack[func];

	for (;;) {
		if (f->tt == T_LCL) {
			Closure *cl = f->u.cl;
			Proto *p = cl->p;
			size_t base;
			int np = p->numparams, nextra = 0;
			Frame *ci;

			G.top = func + 1 + (size_t)nargs;
			l_ensurestack((size_t)p->maxstack + (size_t)np + 2);
			for (int i = nargs; i < np; i++)
				G.stack[func + 1 + (size_t)i] = vnil();
			if (p->is_vararg) {
				size_t nf;

				nextra = nargs > np ? nargs - np : 0;
				nf = func + 1 + (size_t)(nargs > np ? nargs : np);
				G.stack[nf] = G.stack[func];
				for (int i = 0; i < np; i++) {
					G.stack[nf + 1 + (size_t)i] = G.stack[func + 1 + (size_t)i];
				}
				base = nf + 1;
				if (nextra == 0)
					nextra = 0;
				/* varargs live at base-1-nextra .. base-2 only if nargs > np */
				if (nargs <= np)
					nextra = 0;
			} else {
				base = func + 1;
			}
			ci = pushframe();
			ci->cl = cl;
			ci->cf = NULL;
			ci->pc = p->code;
			ci->func = func;
			ci->base = base;
			ci->nres = nres;
			ci->nextra = nextra;
			ci->boundary = 0;
			G.top = base + (size_t)np;
			return 1;
		}
		if (f->tt == T_CFN) {
			Frame *ci = pushframe();
			int n;

			ci->cl = NULL;
			ci->cf = f->u.f;
			ci->pc = NULL;
			ci->func = func;
			ci->base = func + 1;
			ci->nres = nres;
			ci->boundary = 0;
			G.top = func + 1 + (size_t)nargs;
			n = f->u.f((int)func + 1, nargs);
			/* results at top-n .. top */
			{
				size_t src = G.top - (size_t)n;

				if (nres < 0) {
					for (int i = 0; i < n; i++)
						G.stack[func + (size_t)i] = G.stack[src + (size_t)i];
					G.top = func + (size_t)n;
				} else {
					for (int i = 0; i < nres; i++)
						G.stack[func + (size_t)i] = i < n ? G.stack[src + (size_t)i] : vnil();
					G.top = func + (size_t)nres;
				}
			}
			G.nframes--;
			return 0;
		}
		/* __call */
		const Value *tm = l_metamethod(f, TM_CALL);

		if (tm->tt == T_NIL) {
			Frame *cf = &G.frames[G.nframes - 1];
			char vi[128] = "";

			if (cf->cl)
				varinfo(vi, sizeof vi, cf, 1);
			l_error("attempt to call a %s value%s", l_objtypename(f), vi);
		}
		G.top = func + 1 + (size_t)nargs;
		l_ensurestack(1);
		f = &G.stack[func];
		memmove(f + 1, f, (size_t)(nargs + 1) * sizeof(Value));
		*f = *tm;
		nargs++;
	}
}

void l_call(size_t func, int nres)
{
	int nargs = (int)(G.top - func - 1);

	if (++G.nccalls >= MAXCCALLS) {
		G.nccalls--;
		l_error("stack overflow");
	}
	if (precall(func, nargs, nres)) {
		G.frames[G.nframes - 1].boundary = 1;
		execute();
	}
	G.nccalls--;
}

int l_pcall(size_t func, int nres)
{
	l_jmpbuf jb;
	void *volatile prev = G.errjmp;
	volatile int nframes = G.nframes, nccalls = G.nccalls;
	volatile size_t vfunc = func;

	G.errjmp = &jb;
	if (l_setjmp(jb) == 0) {
		l_call(func, nres);
		G.errjmp = prev;
		return 0;
	}
	G.errjmp = prev;
	G.nframes = nframes;
	G.nccalls = nccalls;
	G.gcstop = 0;
	closeupvals(G.stack + vfunc);
	G.stack[vfunc] = G.errval;
	G.top = vfunc + 1;
	G.errval = vnil();
	return 1;
}

/* ---- the interpreter ---- */

#define SAVE() (ci->pc = pc, G.top = (size_t)(sp - G.stack))
#define RELOAD() do { ci = &G.frames[cfi]; base = G.stack + ci->base; } while (0)
#define PROTECT(x) do { size_t spi_ = (size_t)(sp - G.stack); ci->pc = pc; G.top = spi_; x; RELOAD(); sp = G.stack + spi_; } while (0)
#define CHECKGC() do { if (G.totalbytes > G.gcthreshold) { PROTECT(l_gc()); } } while (0)

static void execute(void)
{
	static const void *const disp[] = {
#define OPLABEL(n) &&L_##n,
		OPLIST(OPLABEL)
#undef OPLABEL
	};
	int cfi = G.nframes - 1;
	Frame *ci = &G.frames[cfi];
	Closure *cl = ci->cl;
	const Value *k = cl->p->k;
	const uint32_t *pc = ci->pc;
	Value *base = G.stack + ci->base;
	Value *sp = G.stack + G.top;
	uint32_t i;

#define NEXT() do { i = *pc++; goto *disp[GET_OP(i)]; } while (0)
	NEXT();

L_NIL: {
	int n = (int)GET_Ax(i);

	while (n--)
		(sp++)->tt = T_NIL;
	NEXT();
}
L_TRUE: *sp++ = vbool(1); NEXT();
L_FALSE: *sp++ = vbool(0); NEXT();
L_K: *sp++ = k[GET_Ax(i)]; NEXT();
L_I: *sp++ = vint(GET_sAx(i)); NEXT();
L_GETL: *sp++ = base[GET_Ax(i)]; NEXT();
L_SETL: base[GET_Ax(i)] = *--sp; NEXT();
L_GETU: *sp++ = *cl->up[GET_Ax(i)]->v; NEXT();
L_SETU: *cl->up[GET_Ax(i)]->v = *--sp; NEXT();
L_GETG: {
	const Value *r = l_tgetstr(G.globals, k[GET_Ax(i)].u.s);

	if (r->tt != T_NIL || !G.globals->meta) {
		*sp++ = *r;
		NEXT();
	}
	Value res;

	PROTECT(res = index_slow(vtab(G.globals), k[GET_Ax(i)], 1));
	*sp++ = res;
	NEXT();
}
L_SETG: {
	Value v = *--sp;

	if (!G.globals->meta) {
		PROTECT(l_tsetstr(G.globals, k[GET_Ax(i)].u.s, &v));
		NEXT();
	}
	PROTECT(newindex_slow(vtab(G.globals), k[GET_Ax(i)], v, 1));
	NEXT();
}
L_GETT: {
	Value *t = sp - 2, *key = sp - 1;

	if (t->tt == T_TABLE && key->tt == T_INT && (uint64_t)key->u.i - 1 < t->u.t->asize &&
	    t->u.t->arr[key->u.i - 1].tt != T_NIL) {
		*t = t->u.t->arr[key->u.i - 1];
		sp--;
		NEXT();
	}
	if (t->tt == T_TABLE) {
		const Value *r = key->tt == T_INT ? l_tgetint(t->u.t, key->u.i) : l_tget(t->u.t, key);

		if (r->tt != T_NIL || !t->u.t->meta) {
			*t = *r;
			sp--;
			NEXT();
		}
	}
	Value res;

	PROTECT(res = index_slow(*t, *key, 1));
	sp -= 2;
	*sp++ = res;
	NEXT();
}
L_GETTLL: {
	Value *t = base + GET_A(i), *key = base + GET_B(i);

	if (t->tt == T_TABLE && key->tt == T_INT && (uint64_t)key->u.i - 1 < t->u.t->asize &&
	    t->u.t->arr[key->u.i - 1].tt != T_NIL) {
		*sp++ = t->u.t->arr[key->u.i - 1];
		NEXT();
	}
	Value res;

	if (t->tt == T_TABLE) {
		const Value *r = l_tget(t->u.t, key);

		if (r->tt != T_NIL || !t->u.t->meta) {
			*sp++ = *r;
			NEXT();
		}
	}
	sp += 2; /* the operands as GETT would see them, for errors and metamethods */
	sp[-2] = *t;
	sp[-1] = *key;
	PROTECT(res = index_slow(sp[-2], sp[-1], 1));
	sp -= 2;
	*sp++ = res;
	NEXT();
}
L_GETF: {
	Value *t = sp - 1;

	if (t->tt == T_TABLE) {
		const Value *r = l_tgetstr(t->u.t, k[GET_Ax(i)].u.s);

		if (r->tt != T_NIL || !t->u.t->meta) {
			*t = *r;
			NEXT();
		}
	}
	Value res;

	PROTECT(res = index_slow(*t, k[GET_Ax(i)], 1));
	sp[-1] = res;
	NEXT();
}
L_SETT: {
	Value *t = sp - 3;

	if (t->tt == T_TABLE && sp[-2].tt == T_INT && (uint64_t)sp[-2].u.i - 1 < t->u.t->asize &&
	    sp[-1].tt != T_NIL && (!t->u.t->meta || t->u.t->arr[sp[-2].u.i - 1].tt != T_NIL)) {
		t->u.t->arr[sp[-2].u.i - 1] = sp[-1];
		sp -= 3;
		NEXT();
	}
	if (t->tt == T_TABLE && !t->u.t->meta) {
		PROTECT(l_tset(t->u.t, sp - 2, sp - 1));
	} else {
		PROTECT(newindex_slow(*t, sp[-2], sp[-1], 1));
	}
	sp -= 3;
	NEXT();
}
L_SETF: {
	Value *t = sp - 2;

	if (t->tt == T_TABLE && !t->u.t->meta) {
		PROTECT(l_tsetstr(t->u.t, k[GET_Ax(i)].u.s, sp - 1));
	} else {
		PROTECT(newindex_slow(*t, k[GET_Ax(i)], sp[-1], 1));
	}
	sp -= 2;
	NEXT();
}
L_SETTAT: {
	Value *t = base + GET_A(i);

	PROTECT(newindex_slow(*t, t[1], sp[-1], 1));
	sp--;
	NEXT();
}
L_SETFAT: {
	Value *t = base + GET_A(i);

	if (t->tt == T_TABLE && !t->u.t->meta) {
		PROTECT(l_tsetstr(t->u.t, k[GET_Bx(i)].u.s, sp - 1));
	} else {
		PROTECT(newindex_slow(*t, k[GET_Bx(i)], sp[-1], 1));
	}
	sp--;
	NEXT();
}
L_SETTKV: {
	Value *t = base + GET_Ax(i);

	PROTECT(l_tset(t->u.t, sp - 2, sp - 1));
	sp -= 2;
	NEXT();
}
L_SELF: {
	Value o = sp[-1], res;

	if (o.tt == T_TABLE) {
		const Value *r = l_tgetstr(o.u.t, k[GET_Ax(i)].u.s);

		if (r->tt != T_NIL || !o.u.t->meta) {
			sp[-1] = *r;
			*sp++ = o;
			NEXT();
		}
	}
	PROTECT(res = index_slow(o, k[GET_Ax(i)], 1));
	sp[-1] = res;
	*sp++ = o;
	NEXT();
}

/* The result, and a SETL that follows at once (`x = x + e`) done here: one dispatch less. */
#define ARITH_STORE() do { \
	sp--; \
	i = *pc; \
	if (GET_OP(i) == OP_SETL) { base[GET_Ax(i)] = *--sp; pc++; } \
	NEXT(); \
} while (0)
#define ARITH(opi, iop, fop) { \
	Value *a = sp - 2, *b = sp - 1; \
	if (a->tt == T_INT && b->tt == T_INT) { \
		a->u.i = (int64_t)((uint64_t)a->u.i iop (uint64_t)b->u.i); \
		ARITH_STORE(); \
	} \
	if (a->tt == T_FLT && b->tt == T_FLT) { a->u.n = a->u.n fop b->u.n; ARITH_STORE(); } \
	if ((a->tt == T_FLT || a->tt == T_INT) && (b->tt == T_FLT || b->tt == T_INT)) { \
		double x = a->tt == T_INT ? (double)a->u.i : a->u.n, y = b->tt == T_INT ? (double)b->u.i : b->u.n; \
		*a = vflt(x fop y); sp--; NEXT(); \
	} \
	goto arith_slowpath; }
L_ADD: ARITH(0, +, +)
L_SUB: ARITH(1, -, -)
L_MUL: ARITH(2, *, *)
L_DIV: {
	Value *a = sp - 2, *b = sp - 1;

	if ((a->tt == T_FLT || a->tt == T_INT) && (b->tt == T_FLT || b->tt == T_INT)) {
		double x = a->tt == T_INT ? (double)a->u.i : a->u.n, y = b->tt == T_INT ? (double)b->u.i : b->u.n;

		*a = vflt(x / y);
		sp--;
		NEXT();
	}
	goto arith_slowpath;
}
L_MOD: {
	Value *a = sp - 2, *b = sp - 1;

	if (a->tt == T_INT && b->tt == T_INT && b->u.i > 0) {
		a->u.i = imod(a->u.i, b->u.i);
		sp--;
		NEXT();
	}
	goto arith_slowpath;
}
L_IDIV: L_POW: L_BAND: L_BOR: L_BXOR: L_SHL: L_SHR:
arith_slowpath: {
	Value res;
	int op = (int)GET_OP(i) - OP_ADD;

	PROTECT(res = arith_slow(op, sp - 2, sp - 1));
	sp--;
	sp[-1] = res;
	NEXT();
}
L_ADDI: {
	Value *a = sp - 1;

	if (a->tt == T_INT) {
		a->u.i = (int64_t)((uint64_t)a->u.i + (uint64_t)(int64_t)GET_sAx(i));
		NEXT();
	}
	Value b = vint(GET_sAx(i)), res;

	PROTECT(res = arith_slow(0, a, &b));
	sp[-1] = res;
	NEXT();
}
L_UNM: {
	Value *a = sp - 1, res;

	if (a->tt == T_INT) {
		a->u.i = (int64_t)(0 - (uint64_t)a->u.i);
		NEXT();
	}
	if (a->tt == T_FLT) {
		a->u.n = -a->u.n;
		NEXT();
	}
	PROTECT(res = unm_slow(a));
	sp[-1] = res;
	NEXT();
}
L_BNOT: {
	Value res;

	PROTECT(res = bnot_slow(sp - 1));
	sp[-1] = res;
	NEXT();
}
L_NOT: sp[-1] = vbool(IS_FALSY(sp - 1)); NEXT();
L_LEN: {
	Value *a = sp - 1, res;

	if (a->tt == T_STR) {
		*a = vint((int64_t)a->u.s->len);
		NEXT();
	}
	if (a->tt == T_TABLE && !a->u.t->meta) {
		*a = vint(l_tlen(a->u.t));
		NEXT();
	}
	PROTECT(res = len_slow(a));
	sp[-1] = res;
	NEXT();
}
L_CONCAT: {
	int n = (int)GET_Ax(i);

	PROTECT(concat(spi_, n));
	sp -= n - 1;
	CHECKGC();
	NEXT();
}
L_EQ: {
	Value *a = sp - 2, *b = sp - 1;
	int r;

	if (a->tt == b->tt && a->tt != T_TABLE && a->tt != T_STR && a->tt != T_FLT)
		r = a->u.i == b->u.i || (a->tt == T_NIL);
	else
		PROTECT(r = l_equal(sp - 2, sp - 1));
	sp--;
	sp[-1] = vbool(r ^ (int)GET_Ax(i));
	NEXT();
}
L_LT: L_LE: {
	Value *a = sp - 2, *b = sp - 1;
	int r, le = GET_OP(i) == OP_LE;

	if (GET_Ax(i)) {
		Value *t = a;

		a = b;
		b = t;
	}
	if (a->tt == T_INT && b->tt == T_INT)
		r = le ? a->u.i <= b->u.i : a->u.i < b->u.i;
	else
		PROTECT(r = lessop(a, b, le));
	sp--;
	sp[-1] = vbool(r);
	NEXT();
}
L_LTJF: L_LEJF: {
	Value *a = sp - 2, *b = sp - 1;
	int r, le = GET_OP(i) == OP_LEJF;

	if (GET_A(i)) {
		Value *t = a;

		a = b;
		b = t;
	}
	if (a->tt == T_INT && b->tt == T_INT)
		r = le ? a->u.i <= b->u.i : a->u.i < b->u.i;
	else
		PROTECT(r = lessop(a, b, le));
	sp -= 2;
	if (!r)
		pc += GET_sBx(i);
	NEXT();
}
L_EQJF: L_NEJF: {
	Value *a = sp - 2, *b = sp - 1;
	int r;

	if (a->tt == b->tt && a->tt != T_TABLE && a->tt != T_STR && a->tt != T_FLT)
		r = a->u.i == b->u.i || (a->tt == T_NIL);
	else
		PROTECT(r = l_equal(sp - 2, sp - 1));
	sp -= 2;
	if (r == (GET_OP(i) == OP_NEJF))
		pc += GET_sBx(i);
	NEXT();
}
L_JMP: pc += GET_sAx(i); NEXT();
L_JMPF: sp--; if (IS_FALSY(sp)) pc += GET_sAx(i); NEXT();
L_JMPT: sp--; if (!IS_FALSY(sp)) pc += GET_sAx(i); NEXT();
L_ANDJ: if (IS_FALSY(sp - 1)) pc += GET_sAx(i); else sp--; NEXT();
L_ORJ: if (!IS_FALSY(sp - 1)) pc += GET_sAx(i); else sp--; NEXT();
L_CALL: {
	size_t func = ci->base + GET_A(i);
	int b = (int)GET_B(i), nres = (int)GET_C(i) - 1;
	int nargs = b ? b - 1 : (int)(sp - G.stack - (ptrdiff_t)func) - 1;

	ci->pc = pc;
	if (G.stack[func].tt == T_LCL) {
		precall(func, nargs, nres);
		goto newframe;
	}
	G.top = func + 1 + (size_t)nargs;
	if (precall(func, nargs, nres))
		goto newframe;
	RELOAD();
	sp = G.stack + G.top;
	CHECKGC();
	NEXT();
}
newframe:
	cfi = G.nframes - 1;
	ci = &G.frames[cfi];
	cl = ci->cl;
	k = cl->p->k;
	pc = ci->pc;
	base = G.stack + ci->base;
	sp = G.stack + G.top;
	NEXT();
L_RET1: {
	Value v = sp[-1];
	Value *dst;

	if (G.openuv && G.openuv->v >= G.stack + ci->func)
		closeupvals(G.stack + ci->func);
	dst = G.stack + ci->func;
	*dst = v;
	if (ci->nres < 0) {
		sp = dst + 1;
	} else {
		for (int j = 1; j < ci->nres; j++)
			dst[j].tt = T_NIL;
		sp = dst + (ci->nres > 0 ? ci->nres : 0);
	}
	goto doreturn;
}
L_RET: {
	Value *src = base + GET_A(i), *dst;
	int b = (int)GET_B(i), n = b ? b - 1 : (int)(sp - src);

	if (G.openuv && G.openuv->v >= G.stack + ci->func)
		closeupvals(G.stack + ci->func);
	dst = G.stack + ci->func;
	if (ci->nres < 0) {
		for (int j = 0; j < n; j++)
			dst[j] = src[j];
		sp = dst + n;
	} else {
		for (int j = 0; j < ci->nres; j++)
			dst[j] = j < n ? src[j] : vnil();
		sp = dst + ci->nres;
	}
	goto doreturn;
}
doreturn: {
	int boundary = ci->boundary;

	G.nframes--;
	G.top = (size_t)(sp - G.stack);
	if (boundary)
		return;
	cfi = G.nframes - 1;
	ci = &G.frames[cfi];
	cl = ci->cl;
	k = cl->p->k;
	pc = ci->pc;
	base = G.stack + ci->base;
	NEXT();
}
L_VARARG: {
	int want = (int)GET_Ax(i) - 1, n = ci->nextra;
	Value *src;

	if (want < 0) {
		PROTECT(l_ensurestack((size_t)n));
		want = n;
	}
	src = base - 1 - n;
	for (int j = 0; j < want; j++)
		sp[j] = j < n ? src[j] : vnil();
	sp += want;
	NEXT();
}
L_CLOSURE: {
	Proto *p = cl->p->p[GET_Ax(i)];
	Closure *ncl;

	PROTECT(ncl = l_newclosure(p, p->nup));
	for (int j = 0; j < p->nup; j++) {
		if (p->up[j].instack) {
			Value *slot = base + p->up[j].idx;

			PROTECT(ncl->up[j] = findupval(slot));
		} else {
			ncl->up[j] = cl->up[p->up[j].idx];
		}
	}
	sp->tt = T_LCL;
	sp->u.cl = ncl;
	sp++;
	CHECKGC();
	NEXT();
}
L_CLOSE: {
	Value *lvl = base + GET_Ax(i);

	if (G.openuv && G.openuv->v >= lvl)
		closeupvals(lvl);
	sp = lvl;
	NEXT();
}
L_POP: sp -= GET_Ax(i); NEXT();
L_DUP: *sp = sp[-1]; sp++; NEXT();
L_GETLI: NEXT();
L_FORPREP: {
	Value *ra = base + GET_A(i);
	Value *init = ra, *lim = ra + 1, *step = ra + 2;

	if (init->tt == T_INT && step->tt == T_INT) {
		int64_t iv = init->u.i, st = step->u.i, lv;
		uint64_t count;

		if (st == 0)
			PROTECT(l_error("'for' step is zero"));
		if (lim->tt == T_INT)
			lv = lim->u.i;
		else if (lim->tt == T_FLT) {
			double f = lim->u.n;

			if (f != f) {
				pc += GET_sBx(i);
				sp = ra;
				NEXT();
			}
			f = st > 0 ? l_floor(f) : l_ceil(f);
			if (f >= 9223372036854775808.0)
				lv = INT64_MAX;
			else if (f < -9223372036854775808.0)
				lv = INT64_MIN;
			else
				lv = (int64_t)f;
		} else {
			Value n;

			if (lim->tt == T_STR && l_str2num(lim->u.s->data, lim->u.s->len, &n)) {
				*lim = n;
				goto L_FORPREP_retry;
			}
			PROTECT(l_error("bad 'for' limit (number expected, got %s)", l_objtypename(lim)));
			lv = 0;
		}
		if (st > 0 ? iv > lv : iv < lv) {
			pc += GET_sBx(i);
			sp = ra;
			NEXT();
		}
		if (st > 0)
			count = ((uint64_t)lv - (uint64_t)iv) / (uint64_t)st;
		else
			count = ((uint64_t)iv - (uint64_t)lv) / ((uint64_t)(-(st + 1)) + 1u);
		lim->u.i = (int64_t)count;
		lim->tt = T_INT;
		ra[3] = *init;
		sp = ra + 4;
		NEXT();
	} else {
		Value a, b, c;

		if (!tonumber_(init, &a))
			PROTECT(l_error("bad 'for' initial value (number expected, got %s)", l_objtypename(init)));
		if (!tonumber_(lim, &b))
			PROTECT(l_error("bad 'for' limit (number expected, got %s)", l_objtypename(lim)));
		if (!tonumber_(step, &c))
			PROTECT(l_error("bad 'for' step (number expected, got %s)", l_objtypename(step)));
		double x = a.tt == T_INT ? (double)a.u.i : a.u.n, y = b.tt == T_INT ? (double)b.u.i : b.u.n,
		       z = c.tt == T_INT ? (double)c.u.i : c.u.n;

		if (z == 0)
			PROTECT(l_error("'for' step is zero"));
		if (z > 0 ? !(x <= y) : !(x >= y)) {
			pc += GET_sBx(i);
			sp = ra;
			NEXT();
		}
		*init = vflt(x);
		*lim = vflt(y);
		*step = vflt(z);
		ra[3] = *init;
		sp = ra + 4;
		NEXT();
	}
L_FORPREP_retry:
	pc--;
	NEXT();
}
L_FORLOOP: {
	Value *ra = base + GET_A(i);

	if (ra[2].tt == T_INT) {
		uint64_t count = (uint64_t)ra[1].u.i;

		if (count > 0) {
			ra[1].u.i = (int64_t)(count - 1);
			ra->u.i = (int64_t)((uint64_t)ra->u.i + (uint64_t)ra[2].u.i);
			ra[3] = *ra;
			sp = ra + 4;
			pc += GET_sBx(i);
		}
		NEXT();
	}
	{
		double st = ra[2].u.n, x = ra->u.n + st, lim = ra[1].u.n;

		if (st > 0 ? x <= lim : x >= lim) {
			ra->u.n = x;
			ra[3] = *ra;
			sp = ra + 4;
			pc += GET_sBx(i);
		}
	}
	NEXT();
}
L_TFORCALL: {
	Value *ra = base + GET_A(i);
	int nv = (int)GET_B(i);

	if (ra->tt == T_CFN && ra->u.f == lnext_cf && ra[1].tt == T_TABLE) {
		Value key = ra[2], val;
		int r;

		PROTECT(r = l_tnext(ra[1].u.t, &key, &val));
		ra[3] = r ? key : vnil();
		for (int j = 1; j < nv; j++)
			ra[3 + j] = j == 1 && r ? val : vnil();
		sp = ra + 3 + nv;
		NEXT();
	}
	if (ra->tt == T_CFN && ra->u.f == ipairs_iter && ra[1].tt == T_TABLE && !ra[1].u.t->meta &&
	    ra[2].tt == T_INT) {
		int64_t n = ra[2].u.i + 1;
		const Value *v = l_tgetint(ra[1].u.t, n);

		ra[3] = v->tt == T_NIL ? vnil() : vint(n);
		for (int j = 1; j < nv; j++)
			ra[3 + j] = j == 1 ? *v : vnil();
		sp = ra + 3 + nv;
		NEXT();
	}
	ra[3] = ra[0];
	ra[4] = ra[1];
	ra[5] = ra[2];
	sp = ra + 6;
	PROTECT(l_call((size_t)(ra + 3 - G.stack), nv));
	sp = base + GET_A(i) + 3 + nv;
	NEXT();
}
L_TFORLOOP: {
	Value *ra = base + GET_A(i);

	if (ra[3].tt != T_NIL) {
		ra[2] = ra[3];
		pc += GET_sBx(i);
	}
	NEXT();
}
L_NEWTABLE: {
	Table *t;

	PROTECT(t = l_newtable(GET_A(i), GET_B(i)));
	*sp++ = vtab(t);
	CHECKGC();
	NEXT();
}
L_SETLIST: {
	Value *t = base + GET_A(i);
	int n = GET_B(i) ? (int)GET_B(i) : (int)(sp - t - 1);
	int64_t start = (int64_t)*pc++;

	for (int j = 0; j < n; j++)
		PROTECT(l_tsetint(t->u.t, start + j, t + 1 + j));
	sp = t + 1;
	NEXT();
}
}

Value l_index(Value t, Value k);
Value l_index(Value t, Value k) { return index_slow(t, k, 0); }

/* ---- running a chunk ---- */

void l_initvm(void);
void l_initvm(void)
{
	memset(&G, 0, sizeof G);
	G.stacksize = 1024;
	G.stack = l_alloc(NULL, 0, G.stacksize * sizeof(Value));
	for (size_t i = 0; i < G.stacksize; i++)
		G.stack[i] = vnil();
	G.framecap = 64;
	G.frames = l_alloc(NULL, 0, (size_t)G.framecap * sizeof(Frame));
	G.gcthreshold = 1 << 20;
	for (int i = 0; i < TM_N; i++)
		G.tmname[i] = l_newstrz(tmnames[i]);
	G.memmsg = l_newstrz("not enough memory");
	G.globals = l_newtable(0, 64);
	l_openlibs();
}
