/* lua.h: internal declarations of the mvmm Lua subset interpreter (one VM per guest). */
#ifndef MVMM_LANG_LUA_H
#define MVMM_LANG_LUA_H
#include <stddef.h>
#include <stdint.h>

enum { T_NIL, T_BOOL, T_INT, T_FLT, T_STR, T_TABLE, T_LCL, T_CFN, T_PROTO, T_UPVAL };

typedef struct GCObj GCObj;
typedef struct Str Str;
typedef struct Table Table;
typedef struct Proto Proto;
typedef struct Closure Closure;
typedef struct UpVal UpVal;
typedef int (*CFn)(int base, int nargs); /* args at stack[base..]; pushes results, returns count */

typedef struct Value {
	union {
		int64_t i;
		double n;
		GCObj *gc;
		Str *s;
		Table *t;
		Closure *cl;
		CFn f;
		int b;
	} u;
	uint8_t tt;
} Value;

#define GCHDR GCObj *next; uint8_t tt; uint8_t marked
struct GCObj { GCHDR; };

struct Str {
	GCHDR;
	uint8_t isshort, hashed;
	uint32_t hash;
	Str *hnext;
	size_t len;
	char data[];
};

typedef struct Node { Value key, val; } Node;

struct Table {
	GCHDR;
	uint8_t flags; /* bit i set: metamethod i known absent */
	Table *meta;
	Value *arr;
	uint32_t asize, acap;
	Node *node;
	uint32_t hcap, hused; /* hcap 0 or a power of two */
	GCObj *gclist;
};

typedef struct UpDesc { uint8_t instack; uint16_t idx; Str *name; } UpDesc;
typedef struct DbgInfo { int pc; uint8_t k1, k2; Str *n1, *n2; } DbgInfo;

struct Proto {
	GCHDR;
	uint8_t numparams, is_vararg, maxstack;
	int ncode, nk, np, nup, ndbg, linedefined;
	uint32_t *code;
	int *lines;
	Value *k;
	Proto **p;
	UpDesc *up;
	DbgInfo *dbg;
	Str *source;
	GCObj *gclist;
};

struct UpVal {
	GCHDR;
	Value *v;
	Value closed;
	UpVal *open_next;
	GCObj *gclist;
};

struct Closure {
	GCHDR;
	int nup;
	Proto *p;
	GCObj *gclist;
	UpVal *up[];
};

/* name kinds for error messages */
enum { NK_NONE, NK_LOCAL, NK_GLOBAL, NK_FIELD, NK_UPVAL, NK_METHOD, NK_CONST };

/* metamethods (order matters for the flags cache) */
enum { TM_INDEX, TM_NEWINDEX, TM_EQ, TM_LEN, TM_CALL, TM_ADD, TM_SUB, TM_MUL, TM_MOD, TM_POW,
       TM_DIV, TM_IDIV, TM_BAND, TM_BOR, TM_BXOR, TM_SHL, TM_SHR, TM_UNM, TM_BNOT, TM_LT, TM_LE,
       TM_CONCAT, TM_TOSTRING, TM_NAME, TM_METATABLE, TM_N };

typedef struct Frame {
	Closure *cl; /* NULL for a C function */
	const uint32_t *pc;
	size_t func, base;
	int nres;    /* wanted results, -1 for all */
	int nextra;  /* vararg count */
	int boundary;/* return to the C caller of execute */
	CFn cf;
} Frame;

typedef struct VM {
	Value *stack;
	size_t stacksize;
	size_t top; /* first free slot (C functions and GC) */
	Frame *frames;
	int nframes, framecap;
	int nccalls;
	UpVal *openuv;
	GCObj *allgc;
	Str **strtab;
	size_t strsize, strcount;
	size_t totalbytes, gcthreshold;
	int gcstop;
	Table *globals, *strmeta;
	Str *tmname[TM_N];
	Value errval;
	void *errjmp;
	Str *chunkname, *memmsg;
} VM;

extern VM G;

/* memory, objects */
void *l_alloc(void *p, size_t osize, size_t nsize);
void *l_ralloc(void *p, size_t osize, size_t nsize);
__attribute__((noreturn)) void l_memerror(void);
Str *l_newstr(const char *s, size_t len);
Str *l_newstrz(const char *s);
int l_streq(const Str *a, const Str *b);
uint32_t l_strhash(Str *s);
Table *l_newtable(uint32_t narr, uint32_t nhash);
Proto *l_newproto(void);
Closure *l_newclosure(Proto *p, int nup);
UpVal *l_newupval(void);
const Value *l_tget(Table *t, const Value *k);
const Value *l_tgetint(Table *t, int64_t i);
const Value *l_tgetstr(Table *t, Str *s);
void l_tset(Table *t, const Value *k, const Value *v);
void l_tsetint(Table *t, int64_t i, const Value *v);
void l_tsetstr(Table *t, Str *s, const Value *v);
int64_t l_tlen(Table *t);
int l_tnext(Table *t, Value *key, Value *val); /* 0 at end; errors on bad key */
void l_gc(void);
void l_checkgc(void);

/* numbers */
int l_str2num(const char *s, size_t len, Value *out);
int l_num2str(const Value *v, char *buf); /* returns length; buf >= 64 */
int l_tointeger(const Value *v, int64_t *out); /* exact conversion, strings too */
int l_flt2int(double d, int64_t *out);
double l_floor(double x);
double l_ceil(double x);
double l_fmod(double a, double b);
double l_pow(double a, double b);
double l_sqrt(double x);
double l_exp(double x);
double l_log(double x);
double l_sin(double x);
double l_cos(double x);
#define L_JBSIZE 8
typedef long l_jmpbuf[L_JBSIZE];
int l_setjmp(l_jmpbuf jb) __attribute__((returns_twice));
__attribute__((noreturn)) void l_longjmp(l_jmpbuf jb, int v);

/* compiler */
Proto *l_compile(const char *src, size_t len, Str *chunkname);

/* vm */
__attribute__((noreturn)) void l_error(const char *fmt, ...);
__attribute__((noreturn)) void l_throw(Value v);
__attribute__((noreturn)) void l_argerror(int arg, const char *extra);
__attribute__((noreturn)) void l_typeerror(int arg, const char *tname, const Value *got);
const char *l_typename(const Value *v);
const char *l_objtypename(const Value *v);
void l_ensurestack(size_t n);
void l_call(size_t func, int nres); /* func and args at stack[func..top) */
int l_pcall(size_t func, int nres);  /* 0 ok, else error value at stack[func], top = func+1 */
Value l_tostring(const Value *v);    /* with __tostring */
Str *l_tostr_basic(const Value *v);
const Value *l_metamethod(const Value *o, int tm);
Table *l_getmeta(const Value *o);
int l_equal(const Value *a, const Value *b);
int l_lessthan(const Value *a, const Value *b);
void l_push(const Value *v);
void l_where(char *buf, size_t n, int level);
void l_openlibs(void);
void l_out(const char *s, size_t n);
void l_flush(void);
int lnext_cf(int base, int nargs);
int ipairs_iter(int base, int nargs);
extern const char *l_cur_fname;

#define IS_FALSY(v) ((v)->tt == T_NIL || ((v)->tt == T_BOOL && !(v)->u.b))
static inline Value vnil(void) { Value v; v.tt = T_NIL; v.u.i = 0; return v; }
static inline Value vint(int64_t i) { Value v; v.tt = T_INT; v.u.i = i; return v; }
static inline Value vflt(double n) { Value v; v.tt = T_FLT; v.u.n = n; return v; }
static inline Value vbool(int b) { Value v; v.tt = T_BOOL; v.u.i = 0; v.u.b = !!b; return v; }
static inline Value vstr(Str *s) { Value v; v.tt = T_STR; v.u.s = s; return v; }
static inline Value vtab(Table *t) { Value v; v.tt = T_TABLE; v.u.t = t; return v; }
static inline Value vcfn(CFn f) { Value v; v.tt = T_CFN; v.u.f = f; return v; }
#define ARG(i) (&G.stack[base + (i)])

void lua_init(void);
int lua_run_chunk(const char *src, size_t len, const char *chunkname, int argc, char **argv);
#endif
