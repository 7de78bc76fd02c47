/* lobj.c: allocation, strings, tables and the mark-and-sweep collector. */
#define _DEFAULT_SOURCE /* sysinfo */
#include <stdlib.h>
#include <string.h>
#include <sys/sysinfo.h>
#include "lua.h"

VM G;

/*
 * The interpreter's allocator. Every caller of l_alloc knows the exact size of the block it
 * frees or resizes, so blocks carry no header: sizes up to SMALL_MAX are rounded to 16 bytes
 * and cut from 64 KiB slabs; sizes up to LARGE_MAX are rounded to 4 classes per power of
 * two and come from malloc; both keep per-class free lists, so allocation and freeing
 * are O(1) whatever the libc's allocator does. Larger blocks go to malloc as they are.
 * Free large blocks are given back to malloc when it runs out (small slabs are kept).
 * Arrays whose size the owner does not track exactly (the compiler's) use l_ralloc instead.
 */
#define SMALL_MAX 512u
#define LARGE_MAX (1u << 20)
#define SLAB	  (64u << 10)
#define NSMALL	  (SMALL_MAX / 16 + 1)
#define NLARGE	  64

typedef struct FreeBlk { struct FreeBlk *next; } FreeBlk;
static FreeBlk *smallfree[NSMALL], *largefree[NLARGE];
static char *slab_cur, *slab_end;

/* Size class of n (> 0): its index in smallfree or NSMALL + index in largefree, and the
 * rounded size; -1 for blocks above LARGE_MAX. */
static inline int sizeclass(size_t n, size_t *rounded)
{
	if (n <= SMALL_MAX) {
		size_t r = (n + 15) & ~(size_t)15;

		*rounded = r;
		return (int)(r >> 4);
	}
	if (n <= LARGE_MAX) {
		int p = 63 - __builtin_clzll(n - 1); /* 2^p < n <= 2^(p+1) */
		size_t step = (size_t)1 << (p - 2), r = (n + step - 1) & ~(step - 1);
		int q = 63 - __builtin_clzll(r);

		*rounded = r;
		return (int)NSMALL + (q - 9) * 4 + (int)((r >> (q - 2)) & 3);
	}
	*rounded = n;
	return -1;
}

/* Gives free large blocks back to the SDK allocator (it may merge them). */
static void flush_large(void)
{
	for (int i = 0; i < NLARGE; i++)
		while (largefree[i]) {
			FreeBlk *b = largefree[i];

			largefree[i] = b->next;
			free(b);
		}
}

static void *sys_alloc(size_t n)
{
	void *r = malloc(n);

	if (!r) {
		flush_large();
		r = malloc(n);
	}
	return r;
}

static void *class_alloc(int c, size_t r)
{
	FreeBlk *b;

	if (c < (int)NSMALL) {
		if ((b = smallfree[c])) {
			smallfree[c] = b->next;
			return b;
		}
		if ((size_t)(slab_end - slab_cur) < r) {
			/* the tail of the old slab feeds the free lists */
			while ((size_t)(slab_end - slab_cur) >= 16) {
				size_t t = (size_t)(slab_end - slab_cur);
				int tc = (int)((t > SMALL_MAX ? SMALL_MAX : t) >> 4);

				b = (FreeBlk *)slab_cur;
				b->next = smallfree[tc];
				smallfree[tc] = b;
				slab_cur += (size_t)tc << 4;
			}
			slab_cur = sys_alloc(SLAB);
			if (!slab_cur) {
				slab_end = NULL;
				return NULL;
			}
			slab_end = slab_cur + SLAB;
		}
		b = (FreeBlk *)slab_cur;
		slab_cur += r;
		return b;
	}
	if ((b = largefree[c - NSMALL])) {
		largefree[c - NSMALL] = b->next;
		return b;
	}
	return sys_alloc(r);
}

static void class_free(void *p, int c)
{
	FreeBlk *b = p;

	if (c < (int)NSMALL) {
		b->next = smallfree[c];
		smallfree[c] = b;
	} else {
		b->next = largefree[c - NSMALL];
		largefree[c - NSMALL] = b;
	}
}

void *l_alloc(void *p, size_t osize, size_t nsize)
{
	size_t ro = 0, rn = 0;
	int co = p ? sizeclass(osize, &ro) : -2, cn = nsize ? sizeclass(nsize, &rn) : -2;
	void *r;

	if (nsize == 0) {
		if (p) {
			if (co >= 0)
				class_free(p, co);
			else
				free(p);
		}
		G.totalbytes -= osize;
		return NULL;
	}
	if (p && co == cn && (co >= 0 || ro == rn)) {
		r = p; /* same class */
	} else if (co == -1 && cn == -1) {
		r = realloc(p, nsize);
		if (!r) {
			flush_large();
			r = realloc(p, nsize);
		}
	} else {
		r = cn >= 0 ? class_alloc(cn, rn) : sys_alloc(nsize);
		if (r && p) {
			memcpy(r, p, osize < nsize ? osize : nsize);
			if (co >= 0)
				class_free(p, co);
			else
				free(p);
		}
	}
	if (!r)
		l_memerror(); /* not safe to collect here: values may live in C locals */
	G.totalbytes += nsize - osize;
	return r;
}

/* For blocks whose owner does not track their exact size (compiler arrays): SDK realloc. */
void *l_ralloc(void *p, size_t osize, size_t nsize)
{
	void *r;

	if (nsize == 0) {
		free(p);
		G.totalbytes -= osize;
		return NULL;
	}
	r = realloc(p, nsize);
	if (!r) {
		flush_large();
		r = realloc(p, nsize);
		if (!r)
			l_memerror();
	}
	G.totalbytes += nsize - osize;
	return r;
}

static GCObj *newobj(int tt, size_t sz)
{
	GCObj *o = l_alloc(NULL, 0, sz);

	o->tt = (uint8_t)tt;
	o->marked = 0;
	o->next = G.allgc;
	G.allgc = o;
	return o;
}

static uint32_t hashbytes(const char *s, size_t len)
{
	uint32_t h = 2166136261u ^ (uint32_t)len;
	size_t step = (len >> 6) + 1, i;

	for (i = 0; i < len; i += step)
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	return h;
}

uint32_t l_strhash(Str *s)
{
	if (!s->hashed) {
		s->hash = hashbytes(s->data, s->len);
		s->hashed = 1;
	}
	return s->hash;
}

#define MAXSHORT 40

static void strtab_resize(size_t nsize)
{
	Str **nt = l_alloc(NULL, 0, nsize * sizeof(Str *));
	size_t i;

	memset(nt, 0, nsize * sizeof(Str *));
	for (i = 0; i < G.strsize; i++) {
		Str *s = G.strtab[i];

		while (s) {
			Str *n = s->hnext;
			size_t j = s->hash & (nsize - 1);

			s->hnext = nt[j];
			nt[j] = s;
			s = n;
		}
	}
	l_alloc(G.strtab, G.strsize * sizeof(Str *), 0);
	G.strtab = nt;
	G.strsize = nsize;
}

Str *l_newstr(const char *s, size_t len)
{
	Str *r;

	if (len <= MAXSHORT) {
		uint32_t h = hashbytes(s, len);
		size_t j;

		if (G.strsize == 0)
			strtab_resize(256);
		j = h & (G.strsize - 1);
		for (r = G.strtab[j]; r; r = r->hnext)
			if (r->len == len && memcmp(r->data, s, len) == 0) {
				if (r->marked) /* no write otherwise: a clone keeps sharing the page */
					r->marked = 0; /* resurrect if dead but not swept (only between GCs) */
				return r;
			}
		if (G.strcount >= G.strsize) {
			strtab_resize(G.strsize * 2);
			j = h & (G.strsize - 1);
		}
		r = l_alloc(NULL, 0, sizeof(Str) + len + 1);
		r->tt = T_STR;
		r->marked = 0;
		r->next = NULL;
		r->isshort = 1;
		r->hashed = 1;
		r->hash = h;
		r->len = len;
		memcpy(r->data, s, len);
		r->data[len] = 0;
		r->hnext = G.strtab[j];
		G.strtab[j] = r;
		G.strcount++;
		return r;
	}
	r = (Str *)newobj(T_STR, sizeof(Str) + len + 1);
	r->isshort = 0;
	r->hashed = 0;
	r->hash = 0;
	r->hnext = NULL;
	r->len = len;
	if (s)
		memcpy(r->data, s, len);
	r->data[len] = 0;
	return r;
}

Str *l_newstrz(const char *s) { return l_newstr(s, strlen(s)); }

int l_streq(const Str *a, const Str *b)
{
	if (a == b)
		return 1;
	if (a->isshort && b->isshort)
		return 0;
	return a->len == b->len && memcmp(a->data, b->data, a->len) == 0;
}

Table *l_newtable(uint32_t narr, uint32_t nhash)
{
	Table *t = (Table *)newobj(T_TABLE, sizeof(Table));

	t->flags = 0;
	t->meta = NULL;
	t->arr = NULL;
	t->asize = t->acap = 0;
	t->node = NULL;
	t->hcap = t->hused = 0;
	if (narr) {
		t->arr = l_alloc(NULL, 0, narr * sizeof(Value));
		t->acap = narr;
	}
	if (nhash) {
		uint32_t c = 4;

		while (c * 3 < nhash * 4 + 4)
			c *= 2;
		t->node = l_alloc(NULL, 0, c * sizeof(Node));
		memset(t->node, 0, c * sizeof(Node));
		t->hcap = c;
	}
	return t;
}

Proto *l_newproto(void)
{
	Proto *p = (Proto *)newobj(T_PROTO, sizeof(Proto));

	memset((char *)p + sizeof(GCObj), 0, sizeof(Proto) - sizeof(GCObj));
	return p;
}

Closure *l_newclosure(Proto *p, int nup)
{
	Closure *c = (Closure *)newobj(T_LCL, sizeof(Closure) + (size_t)nup * sizeof(UpVal *));

	c->p = p;
	c->nup = nup;
	for (int i = 0; i < nup; i++)
		c->up[i] = NULL;
	return c;
}

UpVal *l_newupval(void)
{
	UpVal *u = (UpVal *)newobj(T_UPVAL, sizeof(UpVal));

	u->closed = vnil();
	u->v = &u->closed;
	u->open_next = NULL;
	return u;
}

/* ---- tables ---- */

static const Value nilobj = { { 0 }, T_NIL };

static inline uint32_t hashint(uint64_t i)
{
	i ^= i >> 33;
	i *= 0xff51afd7ed558ccdull;
	i ^= i >> 33;
	return (uint32_t)i;
}

static uint32_t hashval(const Value *k)
{
	switch (k->tt) {
	case T_STR: return l_strhash(k->u.s);
	case T_INT: return hashint((uint64_t)k->u.i);
	case T_FLT: { uint64_t b; memcpy(&b, &k->u.n, 8); return hashint(b); }
	case T_BOOL: return (uint32_t)k->u.b + 7;
	case T_CFN: return hashint((uint64_t)(uintptr_t)k->u.f);
	default: return hashint((uint64_t)(uintptr_t)k->u.gc);
	}
}

static inline int keyeq(const Value *a, const Value *b)
{
	if (a->tt != b->tt)
		return 0;
	switch (a->tt) {
	case T_STR: return l_streq(a->u.s, b->u.s);
	case T_INT: return a->u.i == b->u.i;
	case T_FLT: return a->u.n == b->u.n;
	case T_BOOL: return a->u.b == b->u.b;
	case T_CFN: return a->u.f == b->u.f;
	default: return a->u.gc == b->u.gc;
	}
}

static Node *findnode(Table *t, const Value *k)
{
	uint32_t m, i;

	if (!t->hcap)
		return NULL;
	m = t->hcap - 1;
	i = hashval(k) & m;
	for (;;) {
		Node *n = &t->node[i];

		if (n->key.tt == T_NIL)
			return NULL;
		if (keyeq(&n->key, k))
			return n;
		i = (i + 1) & m;
	}
}

const Value *l_tgetstr(Table *t, Str *s)
{
	uint32_t m, i;

	if (!t->hcap)
		return &nilobj;
	m = t->hcap - 1;
	i = l_strhash(s) & m;
	for (;;) {
		Node *n = &t->node[i];

		if (n->key.tt == T_STR && (n->key.u.s == s || (!s->isshort && l_streq(n->key.u.s, s))))
			return &n->val;
		if (n->key.tt == T_NIL)
			return &nilobj;
		i = (i + 1) & m;
	}
}

const Value *l_tgetint(Table *t, int64_t k)
{
	uint32_t m, i;

	if ((uint64_t)k - 1 < t->asize)
		return &t->arr[k - 1];
	if (!t->hcap)
		return &nilobj;
	m = t->hcap - 1;
	i = hashint((uint64_t)k) & m;
	for (;;) {
		Node *n = &t->node[i];

		if (n->key.tt == T_INT && n->key.u.i == k)
			return &n->val;
		if (n->key.tt == T_NIL)
			return &nilobj;
		i = (i + 1) & m;
	}
}

const Value *l_tget(Table *t, const Value *k)
{
	switch (k->tt) {
	case T_STR: return l_tgetstr(t, k->u.s);
	case T_INT: return l_tgetint(t, k->u.i);
	case T_NIL: return &nilobj;
	case T_FLT: {
		int64_t i;

		if (l_flt2int(k->u.n, &i))
			return l_tgetint(t, i);
	} /* fallthrough */
	default: {
		Node *n = findnode(t, k);

		return n ? &n->val : &nilobj;
	}
	}
}

static void rawinsert(Node *node, uint32_t cap, const Value *k, const Value *v)
{
	uint32_t m = cap - 1, i = hashval(k) & m;

	while (node[i].key.tt != T_NIL)
		i = (i + 1) & m;
	node[i].key = *k;
	node[i].val = *v;
}

static void rehash(Table *t)
{
	uint32_t live = 0, i, ncap = 4, ocap = t->hcap;
	Node *on = t->node, *nn;

	for (i = 0; i < ocap; i++)
		if (on[i].val.tt != T_NIL)
			live++;
	while (ncap * 3 <= (live + 1) * 4 + 2)
		ncap *= 2;
	if (ncap < ocap && live * 2 > ocap)
		ncap = ocap;
	nn = l_alloc(NULL, 0, (size_t)ncap * sizeof(Node));
	memset(nn, 0, (size_t)ncap * sizeof(Node));
	t->hused = 0;
	for (i = 0; i < ocap; i++)
		if (on[i].val.tt != T_NIL) {
			rawinsert(nn, ncap, &on[i].key, &on[i].val);
			t->hused++;
		}
	t->node = nn;
	t->hcap = ncap;
	if (on)
		l_alloc(on, (size_t)ocap * sizeof(Node), 0);
}

static void arrappend(Table *t, const Value *v)
{
	if (t->asize == t->acap) {
		uint32_t nc = t->acap ? t->acap * 2 : 4;

		t->arr = l_alloc(t->arr, t->acap * sizeof(Value), nc * sizeof(Value));
		t->acap = nc;
	}
	t->arr[t->asize++] = *v;
	/* migrate following keys from the hash part */
	while (t->hcap) {
		Value k = vint((int64_t)t->asize + 1);
		Node *n = findnode(t, &k);

		if (!n || n->val.tt == T_NIL)
			break;
		if (t->asize == t->acap) {
			uint32_t nc = t->acap * 2;

			t->arr = l_alloc(t->arr, t->acap * sizeof(Value), nc * sizeof(Value));
			t->acap = nc;
		}
		t->arr[t->asize++] = n->val;
		n->val = nilobj;
	}
}

static void hset(Table *t, const Value *k, const Value *v)
{
	Node *n = findnode(t, k);

	if (n) {
		n->val = *v;
		t->flags = 0;
		return;
	}
	if (v->tt == T_NIL)
		return;
	if ((t->hused + 1) * 4 > t->hcap * 3)
		rehash(t);
	rawinsert(t->node, t->hcap, k, v);
	t->hused++;
	t->flags = 0;
}

void l_tsetint(Table *t, int64_t k, const Value *v)
{
	if ((uint64_t)k - 1 < t->asize) {
		t->arr[k - 1] = *v;
		if (v->tt == T_NIL && (uint64_t)k == t->asize) {
			while (t->asize > 0 && t->arr[t->asize - 1].tt == T_NIL)
				t->asize--;
		}
		return;
	}
	if ((uint64_t)k == (uint64_t)t->asize + 1) {
		if (v->tt == T_NIL) {
			Value kk = vint(k);
			Node *n = findnode(t, &kk);

			if (n)
				n->val = *v;
			return;
		}
		if (t->hcap) {
			Value kk = vint(k);
			Node *n = findnode(t, &kk);

			if (n)
				n->val = nilobj;
		}
		arrappend(t, v);
		return;
	}
	Value kk = vint(k);
	hset(t, &kk, v);
}

void l_tsetstr(Table *t, Str *s, const Value *v)
{
	Value k = vstr(s);

	hset(t, &k, v);
}

void l_tset(Table *t, const Value *k, const Value *v)
{
	switch (k->tt) {
	case T_INT: l_tsetint(t, k->u.i, v); return;
	case T_NIL: l_error("table index is nil");
	case T_FLT: {
		int64_t i;

		if (l_flt2int(k->u.n, &i)) {
			l_tsetint(t, i, v);
			return;
		}
		if (k->u.n != k->u.n)
			l_error("table index is NaN");
		break;
	}
	default: break;
	}
	hset(t, k, v);
}

int64_t l_tlen(Table *t)
{
	int64_t n = t->asize;

	if (n > 0 && t->arr[n - 1].tt == T_NIL) {
		/* binary search a border in the array */
		int64_t lo = 0, hi = n;

		while (hi - lo > 1) {
			int64_t m = (lo + hi) / 2;

			if (t->arr[m - 1].tt == T_NIL)
				hi = m;
			else
				lo = m;
		}
		return lo;
	}
	if (!t->hcap)
		return n;
	while (l_tgetint(t, n + 1)->tt != T_NIL)
		n++;
	return n;
}

int l_tnext(Table *t, Value *key, Value *val)
{
	uint32_t i = 0;

	if (key->tt == T_NIL) {
		i = 0;
	} else {
		int64_t ik;
		int isint = key->tt == T_INT ? (ik = key->u.i, 1)
				: key->tt == T_FLT ? l_flt2int(key->u.n, &ik) : 0;

		if (isint && (uint64_t)ik - 1 < t->asize) {
			i = (uint32_t)ik;
		} else {
			Value k = *key;
			Node *n;

			if (isint)
				k = vint(ik);
			n = findnode(t, &k);
			if (!n)
				l_error("invalid key to 'next'");
			i = t->asize + (uint32_t)(n - t->node) + 1;
		}
	}
	for (; i < t->asize; i++)
		if (t->arr[i].tt != T_NIL) {
			*key = vint((int64_t)i + 1);
			*val = t->arr[i];
			return 1;
		}
	for (i -= t->asize; i < t->hcap; i++)
		if (t->node[i].val.tt != T_NIL) {
			*key = t->node[i].key;
			*val = t->node[i].val;
			return 1;
		}
	return 0;
}

/* ---- garbage collector ---- */

static GCObj *gray;

static void markobj(GCObj *o)
{
	if (!o || o->marked)
		return;
	o->marked = 1;
	switch (o->tt) {
	case T_STR: break;
	case T_TABLE: ((Table *)o)->gclist = gray; gray = o; break;
	case T_LCL: ((Closure *)o)->gclist = gray; gray = o; break;
	case T_PROTO: ((Proto *)o)->gclist = gray; gray = o; break;
	case T_UPVAL: ((UpVal *)o)->gclist = gray; gray = o; break;
	default: break;
	}
}

static inline void markval(const Value *v)
{
	if (v->tt >= T_STR && v->tt != T_CFN)
		markobj(v->u.gc);
}

static void propagate(void)
{
	while (gray) {
		GCObj *o = gray;

		switch (o->tt) {
		case T_TABLE: {
			Table *t = (Table *)o;

			gray = t->gclist;
			markobj((GCObj *)t->meta);
			for (uint32_t i = 0; i < t->asize; i++)
				markval(&t->arr[i]);
			for (uint32_t i = 0; i < t->hcap; i++)
				if (t->node[i].val.tt != T_NIL) {
					markval(&t->node[i].key);
					markval(&t->node[i].val);
				}
			break;
		}
		case T_LCL: {
			Closure *c = (Closure *)o;

			gray = c->gclist;
			markobj((GCObj *)c->p);
			for (int i = 0; i < c->nup; i++)
				markobj((GCObj *)c->up[i]);
			break;
		}
		case T_PROTO: {
			Proto *p = (Proto *)o;

			gray = p->gclist;
			markobj((GCObj *)p->source);
			for (int i = 0; i < p->nk; i++)
				markval(&p->k[i]);
			for (int i = 0; i < p->np; i++)
				markobj((GCObj *)p->p[i]);
			for (int i = 0; i < p->nup; i++)
				markobj((GCObj *)p->up[i].name);
			for (int i = 0; i < p->ndbg; i++) {
				markobj((GCObj *)p->dbg[i].n1);
				markobj((GCObj *)p->dbg[i].n2);
			}
			break;
		}
		case T_UPVAL: {
			UpVal *u = (UpVal *)o;

			gray = u->gclist;
			markval(u->v);
			break;
		}
		default: gray = NULL; break;
		}
	}
}

static void freeobj(GCObj *o)
{
	switch (o->tt) {
	case T_STR: l_alloc(o, sizeof(Str) + ((Str *)o)->len + 1, 0); break;
	case T_TABLE: {
		Table *t = (Table *)o;

		if (t->arr)
			l_alloc(t->arr, t->acap * sizeof(Value), 0);
		if (t->node)
			l_alloc(t->node, t->hcap * sizeof(Node), 0);
		l_alloc(t, sizeof(Table), 0);
		break;
	}
	case T_LCL: l_alloc(o, sizeof(Closure) + (size_t)((Closure *)o)->nup * sizeof(UpVal *), 0); break;
	case T_UPVAL: l_alloc(o, sizeof(UpVal), 0); break;
	case T_PROTO: {
		Proto *p = (Proto *)o;

		l_ralloc(p->code, (size_t)p->ncode * 4, 0);
		l_ralloc(p->lines, (size_t)p->ncode * sizeof(int), 0);
		if (p->k) l_ralloc(p->k, (size_t)p->nk * sizeof(Value), 0);
		if (p->p) l_ralloc(p->p, (size_t)p->np * sizeof(Proto *), 0);
		if (p->up) l_ralloc(p->up, (size_t)p->nup * sizeof(UpDesc), 0);
		if (p->dbg) l_ralloc(p->dbg, (size_t)p->ndbg * sizeof(DbgInfo), 0);
		l_alloc(p, sizeof(Proto), 0);
		break;
	}
	default: break;
	}
}

/* The guest's memory (sysinfo's total: the VM's size), asked once: each ask is an exit. */
static size_t l_memory_size(void)
{
	static size_t total;
	struct sysinfo si;

	if (!total)
		total = sysinfo(&si) == 0 ? (size_t)si.totalram * si.mem_unit : (64u << 20);
	return total;
}

void l_gc(void)
{
	size_t i;
	GCObj **pp;

	if (G.gcstop)
		return;
	gray = NULL;
	for (i = 0; i < G.top; i++)
		markval(&G.stack[i]);
	for (int f = 0; f < G.nframes; f++)
		markobj((GCObj *)G.frames[f].cl);
	for (UpVal *u = G.openuv; u; u = u->open_next)
		markobj((GCObj *)u);
	markobj((GCObj *)G.globals);
	markobj((GCObj *)G.strmeta);
	markobj((GCObj *)G.chunkname);
	markobj((GCObj *)G.memmsg);
	for (i = 0; i < TM_N; i++)
		markobj((GCObj *)G.tmname[i]);
	markval(&G.errval);
	propagate();
	/* dead keys whose objects die become tombstones (never equal to a real key) */
	for (GCObj *o = G.allgc; o; o = o->next) {
		Table *t = (Table *)o;

		if (o->tt != T_TABLE || !o->marked)
			continue;
		for (uint32_t j = 0; j < t->hcap; j++) {
			Value *k = &t->node[j].key;

			if (t->node[j].val.tt == T_NIL && k->tt >= T_STR && k->tt != T_CFN &&
			    !k->u.gc->marked) {
				k->tt = T_BOOL;
				k->u.i = 0;
				k->u.b = 2;
			}
		}
	}
	/* sweep */
	pp = &G.allgc;
	while (*pp) {
		GCObj *o = *pp;

		if (o->marked) {
			o->marked = 0;
			pp = &o->next;
		} else {
			*pp = o->next;
			freeobj(o);
		}
	}
	for (i = 0; i < G.strsize; i++) {
		Str **sp = &G.strtab[i];

		while (*sp) {
			Str *s = *sp;

			if (s->marked) {
				s->marked = 0;
				sp = &s->hnext;
			} else {
				*sp = s->hnext;
				G.strcount--;
				freeobj((GCObj *)s);
			}
		}
	}
	{
		/* next collection at twice the live size, but leave room below the memory's end */
		size_t heap = l_memory_size();
		size_t cap = G.totalbytes < heap ? G.totalbytes + (heap - G.totalbytes) / 3 : G.totalbytes;

		G.gcthreshold = G.totalbytes * 2;
		if (G.gcthreshold > cap)
			G.gcthreshold = cap;
		if (G.gcthreshold < G.totalbytes + (256u << 10))
			G.gcthreshold = G.totalbytes + (256u << 10);
	}
}

void l_checkgc(void)
{
	if (G.totalbytes > G.gcthreshold)
		l_gc();
}
