/* lparse.c: lexer and single-pass compiler from Lua source to stack bytecode. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "lopcodes.h"
#include "lua.h"

enum { TK_AND = 257, TK_BREAK, TK_DO, TK_ELSE, TK_ELSEIF, TK_END, TK_FALSE, TK_FOR, TK_FUNCTION,
       TK_GOTO, TK_IF, TK_IN, TK_LOCAL, TK_NIL, TK_NOT, TK_OR, TK_REPEAT, TK_RETURN, TK_THEN,
       TK_TRUE, TK_UNTIL, TK_WHILE, TK_IDIV, TK_CONCAT, TK_DOTS, TK_EQ, TK_GE, TK_LE, TK_NE,
       TK_SHL, TK_SHR, TK_DBCOLON, TK_EOS, TK_FLT, TK_INT, TK_NAME, TK_STRING };
static const char *const tokstr[] = { "and", "break", "do", "else", "elseif", "end", "false", "for",
	"function", "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then",
	"true", "until", "while", "//", "..", "...", "==", ">=", "<=", "~=", "<<", ">>", "::",
	"<eof>", "<number>", "<integer>", "<name>", "<string>" };
#define NRESERVED 22

typedef struct Token { int tok; int line; const char *start; size_t len; Value sem; } Token;

typedef struct VarDesc { Str *name; int slot; } VarDesc;

typedef struct BlockCnt {
	struct BlockCnt *prev;
	int nactvar, isloop, upval, firstbreak;
} BlockCnt;

struct Lex;

typedef struct FuncState {
	Proto *f;
	struct FuncState *prev;
	struct Lex *ls;
	BlockCnt *bl;
	int pc, sp, nactvar, firstlocal, lasttarget;
	int codecap, kcap, pcap, ucap, dcap;
	Table *kcache;
	uint8_t slotkind[260];
	Str *slotname[260];
} FuncState;

typedef struct Lex {
	const char *p, *end;
	int line, lastline;
	Token t, ahead;
	Str *source;
	FuncState *fs;
	VarDesc *vars;
	int nvars, varcap;
	int *breaks;
	int nbreaks, breakcap;
	int depth;
	char *buf;
	size_t blen, bcap;
} Lex;

enum { E_VOID, E_NIL, E_TRUE, E_FALSE, E_K, E_INT, E_FLT, E_LOCAL, E_UPVAL, E_GLOBAL, E_INDEXED,
       E_FIELD, E_CALL, E_VARARG, E_PUSHED };

typedef struct ExpDesc { int k, info, aux; int64_t ival; double nval; Str *name; } ExpDesc;

static Lex *cur_ls;

/* ---- errors ---- */

static __attribute__((noreturn)) void lexerror(Lex *ls, const char *msg, int tok)
{
	char buf[300];

	if (tok == TK_EOS)
		snprintf(buf, sizeof buf, "%s:%d: %s near <eof>", ls->source->data, ls->line, msg);
	else if (tok) {
		int n = (int)(ls->t.len > 60 ? 60 : ls->t.len);

		snprintf(buf, sizeof buf, "%s:%d: %s near '%.*s'", ls->source->data, ls->line, msg, n,
			 ls->t.start);
	} else
		snprintf(buf, sizeof buf, "%s:%d: %s", ls->source->data, ls->line, msg);
	l_throw(vstr(l_newstrz(buf)));
}

static __attribute__((noreturn)) void synerr(Lex *ls, const char *msg) { lexerror(ls, msg, ls->t.tok ? ls->t.tok : 1); }

/* ---- lexer ---- */

static void bufadd(Lex *ls, char c)
{
	if (ls->blen == ls->bcap) {
		size_t nc = ls->bcap ? ls->bcap * 2 : 64;

		ls->buf = l_ralloc(ls->buf, ls->bcap, nc);
		ls->bcap = nc;
	}
	ls->buf[ls->blen++] = c;
}

static int isalpha_(int c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
static int isdigit_(int c) { return c >= '0' && c <= '9'; }
static int isxdigit_(int c) { return isdigit_(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
#define CUR (ls->p < ls->end ? (unsigned char)*ls->p : -1)
#define PEEK(n) (ls->p + (n) < ls->end ? (unsigned char)ls->p[n] : -1)

static void newline(Lex *ls)
{
	int c = *ls->p++;

	if (ls->p < ls->end && (*ls->p == '\n' || *ls->p == '\r') && *ls->p != c)
		ls->p++;
	ls->line++;
}

/* [=*[ : returns level, or -1 */
static int longbracket(Lex *ls)
{
	const char *q = ls->p + 1;
	int lvl = 0;

	while (q < ls->end && *q == '=') {
		q++;
		lvl++;
	}
	if (q < ls->end && *q == '[')
		return lvl;
	return -1;
}

static void readlong(Lex *ls, int lvl, int isstr, Token *t)
{
	int startline = ls->line;

	ls->p += lvl + 2;
	if (CUR == '\r' || CUR == '\n')
		newline(ls);
	ls->blen = 0;
	for (;;) {
		int c = CUR;

		if (c < 0) {
			char msg[80];

			snprintf(msg, sizeof msg, "unfinished long %s (starting at line %d)",
				 isstr ? "string" : "comment", startline);
			t->tok = TK_EOS;
			ls->t = *t;
			lexerror(ls, msg, TK_EOS);
		}
		if (c == ']') {
			const char *q = ls->p + 1;
			int l = 0;

			while (q < ls->end && *q == '=') {
				q++;
				l++;
			}
			if (l == lvl && q < ls->end && *q == ']') {
				ls->p = q + 1;
				break;
			}
			bufadd(ls, ']');
			ls->p++;
		} else if (c == '\n' || c == '\r') {
			newline(ls);
			bufadd(ls, '\n');
		} else {
			bufadd(ls, (char)c);
			ls->p++;
		}
	}
	if (isstr) {
		t->tok = TK_STRING;
		t->sem = vstr(l_newstr(ls->buf, ls->blen));
	}
}

static void utf8esc(Lex *ls, uint32_t x)
{
	if (x < 0x80) {
		bufadd(ls, (char)x);
		return;
	}
	char b[8];
	int n = 0;
	uint32_t mfb = 0x3f;

	do {
		b[7 - n++] = (char)(0x80 | (x & 0x3f));
		x >>= 6;
		mfb >>= 1;
	} while (x > mfb);
	b[7 - n] = (char)((~mfb << 1) | x);
	for (int i = 7 - n; i < 8; i++)
		bufadd(ls, b[i]);
}

static void readstring(Lex *ls, int delim, Token *t)
{
	ls->p++;
	ls->blen = 0;
	for (;;) {
		int c = CUR;

		if (c < 0 || c == '\n' || c == '\r') {
			t->tok = c < 0 ? TK_EOS : TK_STRING;
			t->len = (size_t)(ls->p - t->start);
			ls->t = *t;
			lexerror(ls, "unfinished string", t->tok);
		}
		if (c == delim) {
			ls->p++;
			break;
		}
		if (c != '\\') {
			bufadd(ls, (char)c);
			ls->p++;
			continue;
		}
		ls->p++;
		c = CUR;
		switch (c) {
		case 'n': bufadd(ls, '\n'); ls->p++; break;
		case 't': bufadd(ls, '\t'); ls->p++; break;
		case 'r': bufadd(ls, '\r'); ls->p++; break;
		case 'a': bufadd(ls, '\a'); ls->p++; break;
		case 'b': bufadd(ls, '\b'); ls->p++; break;
		case 'f': bufadd(ls, '\f'); ls->p++; break;
		case 'v': bufadd(ls, '\v'); ls->p++; break;
		case '\\': case '"': case '\'': bufadd(ls, (char)c); ls->p++; break;
		case '\n': case '\r': newline(ls); bufadd(ls, '\n'); break;
		case 'x': {
			int v = 0;

			ls->p++;
			for (int i = 0; i < 2; i++) {
				int d = CUR;

				if (!isxdigit_(d)) {
					t->len = (size_t)(ls->p - t->start + 1);
					ls->t = *t;
					lexerror(ls, "hexadecimal digit expected", TK_STRING);
				}
				v = v * 16 + (isdigit_(d) ? d - '0' : (d | 32) - 'a' + 10);
				ls->p++;
			}
			bufadd(ls, (char)v);
			break;
		}
		case 'z':
			ls->p++;
			while (CUR == ' ' || CUR == '\t' || CUR == '\n' || CUR == '\r' || CUR == '\f' || CUR == '\v') {
				if (CUR == '\n' || CUR == '\r')
					newline(ls);
				else
					ls->p++;
			}
			break;
		case 'u': {
			uint32_t v = 0;

			ls->p++;
			if (CUR != '{')
				lexerror(ls, "missing '{' in \\u{xxxx}", TK_STRING);
			ls->p++;
			while (isxdigit_(CUR)) {
				int d = CUR;

				v = v * 16 + (uint32_t)(isdigit_(d) ? d - '0' : (d | 32) - 'a' + 10);
				ls->p++;
			}
			if (CUR != '}')
				lexerror(ls, "missing '}' in \\u{xxxx}", TK_STRING);
			ls->p++;
			utf8esc(ls, v);
			break;
		}
		default:
			if (isdigit_(c)) {
				int v = 0;

				for (int i = 0; i < 3 && isdigit_(CUR); i++) {
					v = v * 10 + CUR - '0';
					ls->p++;
				}
				if (v > 255) {
					t->len = (size_t)(ls->p - t->start);
					ls->t = *t;
					lexerror(ls, "decimal escape too large", TK_STRING);
				}
				bufadd(ls, (char)v);
			} else {
				t->len = (size_t)(ls->p - t->start + 1);
				ls->t = *t;
				lexerror(ls, "invalid escape sequence", TK_STRING);
			}
		}
	}
	t->tok = TK_STRING;
	t->sem = vstr(l_newstr(ls->buf, ls->blen));
}

static void readnumber(Lex *ls, Token *t)
{
	const char *s = ls->p;
	int hex = 0;

	if (CUR == '0' && (PEEK(1) == 'x' || PEEK(1) == 'X')) {
		hex = 1;
		ls->p += 2;
	}
	for (;;) {
		int c = CUR;

		if ((hex ? (c == 'p' || c == 'P') : (c == 'e' || c == 'E')) &&
		    (PEEK(1) == '+' || PEEK(1) == '-'))
			ls->p += 2;
		else if (isxdigit_(c) || c == '.' || isalpha_(c))
			ls->p++;
		else
			break;
	}
	t->len = (size_t)(ls->p - s);
	if (!l_str2num(s, (size_t)(ls->p - s), &t->sem)) {
		t->tok = TK_FLT;
		ls->t = *t;
		lexerror(ls, "malformed number", TK_FLT);
	}
	t->tok = t->sem.tt == T_INT ? TK_INT : TK_FLT;
}

static void scan(Lex *ls, Token *t)
{
	for (;;) {
		int c = CUR;

		t->start = ls->p;
		t->line = ls->line;
		t->len = 1;
		switch (c) {
		case -1: t->tok = TK_EOS; t->len = 0; return;
		case '\n': case '\r': newline(ls); continue;
		case ' ': case '\t': case '\f': case '\v': ls->p++; continue;
		case '-':
			if (PEEK(1) != '-') { ls->p++; t->tok = '-'; return; }
			ls->p += 2;
			if (CUR == '[') {
				int lvl = longbracket(ls);

				if (lvl >= 0) {
					readlong(ls, lvl, 0, t);
					continue;
				}
			}
			while (CUR >= 0 && CUR != '\n' && CUR != '\r')
				ls->p++;
			continue;
		case '[': {
			int lvl = longbracket(ls);

			if (lvl >= 0) {
				readlong(ls, lvl, 1, t);
				t->len = (size_t)(ls->p - t->start);
				return;
			}
			if (PEEK(1) == '=') {
				t->tok = TK_STRING;
				ls->t = *t;
				lexerror(ls, "invalid long string delimiter", TK_STRING);
			}
			ls->p++;
			t->tok = '[';
			return;
		}
		case '=': ls->p++; if (CUR == '=') { ls->p++; t->tok = TK_EQ; t->len = 2; } else t->tok = '='; return;
		case '<':
			ls->p++;
			if (CUR == '=') { ls->p++; t->tok = TK_LE; t->len = 2; }
			else if (CUR == '<') { ls->p++; t->tok = TK_SHL; t->len = 2; }
			else t->tok = '<';
			return;
		case '>':
			ls->p++;
			if (CUR == '=') { ls->p++; t->tok = TK_GE; t->len = 2; }
			else if (CUR == '>') { ls->p++; t->tok = TK_SHR; t->len = 2; }
			else t->tok = '>';
			return;
		case '/': ls->p++; if (CUR == '/') { ls->p++; t->tok = TK_IDIV; t->len = 2; } else t->tok = '/'; return;
		case '~': ls->p++; if (CUR == '=') { ls->p++; t->tok = TK_NE; t->len = 2; } else t->tok = '~'; return;
		case ':': ls->p++; if (CUR == ':') { ls->p++; t->tok = TK_DBCOLON; t->len = 2; } else t->tok = ':'; return;
		case '"': case '\'':
			readstring(ls, c, t);
			t->len = (size_t)(ls->p - t->start);
			return;
		case '.':
			if (PEEK(1) == '.') {
				if (PEEK(2) == '.') { ls->p += 3; t->tok = TK_DOTS; t->len = 3; return; }
				ls->p += 2; t->tok = TK_CONCAT; t->len = 2; return;
			}
			if (isdigit_(PEEK(1))) { readnumber(ls, t); return; }
			ls->p++; t->tok = '.'; return;
		default:
			if (isdigit_(c)) { readnumber(ls, t); return; }
			if (isalpha_(c)) {
				const char *s = ls->p;

				while (isalpha_(CUR) || isdigit_(CUR))
					ls->p++;
				t->len = (size_t)(ls->p - s);
				for (int i = 0; i < NRESERVED; i++)
					if (strlen(tokstr[i]) == t->len && memcmp(tokstr[i], s, t->len) == 0) {
						t->tok = TK_AND + i;
						return;
					}
				t->tok = TK_NAME;
				t->sem = vstr(l_newstr(s, t->len));
				return;
			}
			ls->p++;
			t->tok = c;
			return;
		}
	}
}

static void next(Lex *ls)
{
	ls->lastline = ls->t.line;
	if (ls->ahead.tok) {
		ls->t = ls->ahead;
		ls->ahead.tok = 0;
	} else {
		scan(ls, &ls->t);
	}
	ls->line = ls->t.line > ls->line ? ls->t.line : ls->line;
}

static int lookahead(Lex *ls)
{
	if (!ls->ahead.tok) {
		int l = ls->line;

		scan(ls, &ls->ahead);
		ls->line = l;
	}
	return ls->ahead.tok;
}

static const char *tok2str(int tok, char *buf)
{
	if (tok < 257) {
		snprintf(buf, 16, "'%c'", tok);
		return buf;
	}
	if (tok == TK_EOS)
		snprintf(buf, 16, "%s", tokstr[tok - 257]);
	else
		snprintf(buf, 16, "'%s'", tokstr[tok - 257]);
	return buf;
}

static __attribute__((noreturn)) void errexpected(Lex *ls, int tok)
{
	char b[16], msg[64];

	snprintf(msg, sizeof msg, "%s expected", tok2str(tok, b));
	synerr(ls, msg);
}

static void check(Lex *ls, int tok) { if (ls->t.tok != tok) errexpected(ls, tok); }
static void checknext(Lex *ls, int tok) { check(ls, tok); next(ls); }
static int testnext(Lex *ls, int tok) { if (ls->t.tok == tok) { next(ls); return 1; } return 0; }

static void checkmatch(Lex *ls, int what, int who, int line)
{
	if (ls->t.tok == what) {
		next(ls);
		return;
	}
	if (line == ls->line)
		errexpected(ls, what);
	char b1[16], b2[16], msg[100];

	snprintf(msg, sizeof msg, "%s expected (to close %s at line %d)", tok2str(what, b1),
		 tok2str(who, b2), line);
	synerr(ls, msg);
}

static Str *checkname(Lex *ls)
{
	Str *s;

	check(ls, TK_NAME);
	s = ls->t.sem.u.s;
	next(ls);
	return s;
}

/* ---- code emission ---- */

static void enterlevel(Lex *ls)
{
	if (++ls->depth > 190)
		lexerror(ls, "chunk has too many syntax levels", 0);
}
#define leavelevel(ls) ((ls)->depth--)

static int emit(FuncState *fs, uint32_t i)
{
	Proto *f = fs->f;

	if (fs->pc == fs->codecap) {
		int nc = fs->codecap ? fs->codecap * 2 : 64;

		f->code = l_ralloc(f->code, (size_t)fs->codecap * 4, (size_t)nc * 4);
		f->lines = l_ralloc(f->lines, (size_t)fs->codecap * sizeof(int), (size_t)nc * sizeof(int));
		fs->codecap = nc;
	}
	f->code[fs->pc] = i;
	f->lines[fs->pc] = fs->ls->lastline;
	return fs->pc++;
}

static void checkstack(FuncState *fs, int n)
{
	if (fs->sp + n > 250)
		lexerror(fs->ls, "function or expression needs too many registers", 0);
	if (fs->sp + n > fs->f->maxstack)
		fs->f->maxstack = (uint8_t)(fs->sp + n);
}

static void pushed(FuncState *fs, int nk, Str *nm)
{
	checkstack(fs, 1);
	fs->slotkind[fs->sp] = (uint8_t)nk;
	fs->slotname[fs->sp] = nm;
	fs->sp++;
}

static void adddbg(FuncState *fs, int s1, int s2)
{
	Proto *f = fs->f;
	DbgInfo d;

	d.pc = fs->pc;
	d.k1 = s1 >= 0 ? fs->slotkind[s1] : 0;
	d.n1 = s1 >= 0 ? fs->slotname[s1] : NULL;
	d.k2 = s2 >= 0 ? fs->slotkind[s2] : 0;
	d.n2 = s2 >= 0 ? fs->slotname[s2] : NULL;
	if (!d.k1 && !d.k2)
		return;
	if (f->ndbg == fs->dcap) {
		int nc = fs->dcap ? fs->dcap * 2 : 16;

		f->dbg = l_ralloc(f->dbg, (size_t)fs->dcap * sizeof(DbgInfo), (size_t)nc * sizeof(DbgInfo));
		fs->dcap = nc;
	}
	f->dbg[f->ndbg++] = d;
}

static int addk(FuncState *fs, Value v)
{
	Proto *f = fs->f;

	if (v.tt == T_FLT) {
		for (int i = 0; i < f->nk; i++)
			if (f->k[i].tt == T_FLT && memcmp(&f->k[i].u.n, &v.u.n, 8) == 0)
				return i;
	} else {
		const Value *o = l_tget(fs->kcache, &v);

		if (o->tt == T_INT)
			return (int)o->u.i;
	}
	if (f->nk == fs->kcap) {
		int nc = fs->kcap ? fs->kcap * 2 : 16;

		f->k = l_ralloc(f->k, (size_t)fs->kcap * sizeof(Value), (size_t)nc * sizeof(Value));
		fs->kcap = nc;
	}
	if (f->nk >= (1 << 16) - 1)
		lexerror(fs->ls, "too many constants", 0);
	f->k[f->nk] = v;
	if (v.tt != T_FLT) {
		Value idx = vint(f->nk);

		l_tset(fs->kcache, &v, &idx);
	}
	return f->nk++;
}

static int strk(FuncState *fs, Str *s) { return addk(fs, vstr(s)); }

static void patchjump(FuncState *fs, int pc, int target)
{
	uint32_t i = fs->f->code[pc];
	int op = (int)GET_OP(i), off = target - (pc + 1);

	if (op == OP_JMP || op == OP_JMPF || op == OP_JMPT || op == OP_ANDJ || op == OP_ORJ) {
		if (off < -(1 << 23) || off >= (1 << 23))
			lexerror(fs->ls, "control structure too long", 0);
		fs->f->code[pc] = MK_Ax(op, (uint32_t)off & 0xffffff);
	} else {
		if (off < -32768 || off > 32767)
			lexerror(fs->ls, "control structure too long", 0);
		fs->f->code[pc] = (i & 0xffff) | ((uint32_t)(uint16_t)off << 16);
	}
}

static int here(FuncState *fs) { fs->lasttarget = fs->pc; return fs->pc; }

static void emitjumpto(FuncState *fs, int op, int target)
{
	int pc = emit(fs, MK_Ax(op, 0));

	patchjump(fs, pc, target);
}

static void emitpop(FuncState *fs, int n)
{
	if (n > 0)
		emit(fs, MK_Ax(OP_POP, n));
	fs->sp -= n;
}

/* ---- expressions ---- */

static void expr(Lex *ls, ExpDesc *e);
static void subexpr(Lex *ls, ExpDesc *e, int limit);
static void block(Lex *ls);
static void body(Lex *ls, ExpDesc *e, int ismethod, int line);

static void initexp(ExpDesc *e, int k, int info)
{
	e->k = k;
	e->info = info;
	e->aux = 0;
	e->name = NULL;
}

static void setcallres(FuncState *fs, ExpDesc *e, int nres)
{
	uint32_t *ip = &fs->f->code[e->info];

	if (e->k == E_CALL)
		*ip = (*ip & 0x00ffffff) | ((uint32_t)(nres + 1) << 24);
	else
		*ip = MK_Ax(OP_VARARG, (uint32_t)(nres + 1));
}

/* puts e's value on the stack top */
static void discharge(FuncState *fs, ExpDesc *e)
{
	switch (e->k) {
	case E_VOID: return;
	case E_NIL: emit(fs, MK_Ax(OP_NIL, 1)); pushed(fs, 0, NULL); break;
	case E_TRUE: emit(fs, OP_TRUE); pushed(fs, 0, NULL); break;
	case E_FALSE: emit(fs, OP_FALSE); pushed(fs, 0, NULL); break;
	case E_K: emit(fs, MK_Ax(OP_K, e->info)); pushed(fs, fs->f->k[e->info].tt == T_STR ? NK_CONST : 0,
							 fs->f->k[e->info].tt == T_STR ? fs->f->k[e->info].u.s : NULL); break;
	case E_INT:
		if (e->ival >= -(1 << 23) && e->ival < (1 << 23))
			emit(fs, MK_Ax(OP_I, (uint32_t)e->ival & 0xffffff));
		else
			emit(fs, MK_Ax(OP_K, addk(fs, vint(e->ival))));
		pushed(fs, 0, NULL);
		break;
	case E_FLT: emit(fs, MK_Ax(OP_K, addk(fs, vflt(e->nval)))); pushed(fs, 0, NULL); break;
	case E_LOCAL: emit(fs, MK_Ax(OP_GETL, e->info)); pushed(fs, NK_LOCAL, e->name); break;
	case E_UPVAL: emit(fs, MK_Ax(OP_GETU, e->info)); pushed(fs, NK_UPVAL, e->name); break;
	case E_GLOBAL: emit(fs, MK_Ax(OP_GETG, e->info)); pushed(fs, NK_GLOBAL, e->name); break;
	case E_INDEXED:
		if (fs->pc >= 2 && fs->lasttarget < fs->pc - 1 && e->info == fs->sp - 2 &&
		    GET_OP(fs->f->code[fs->pc - 1]) == OP_GETL && GET_OP(fs->f->code[fs->pc - 2]) == OP_GETL &&
		    GET_Ax(fs->f->code[fs->pc - 1]) < 256 && GET_Ax(fs->f->code[fs->pc - 2]) < 256) {
			uint32_t tslot = GET_Ax(fs->f->code[fs->pc - 2]), kslot = GET_Ax(fs->f->code[fs->pc - 1]);

			fs->pc -= 2;
			adddbg(fs, e->info, -1);
			emit(fs, MK_ABC(OP_GETTLL, tslot, kslot, 0));
			fs->sp = e->info;
			pushed(fs, 0, NULL);
			break;
		}
		adddbg(fs, e->info, -1);
		emit(fs, OP_GETT);
		fs->sp = e->info;
		pushed(fs, 0, NULL);
		break;
	case E_FIELD:
		adddbg(fs, e->info, -1);
		emit(fs, MK_Ax(OP_GETF, e->aux));
		fs->sp = e->info;
		pushed(fs, NK_FIELD, e->name);
		break;
	case E_CALL: setcallres(fs, e, 1); fs->sp = e->aux; pushed(fs, 0, NULL); break;
	case E_VARARG: setcallres(fs, e, 1); pushed(fs, 0, NULL); break;
	case E_PUSHED: return;
	}
	e->k = E_PUSHED;
	e->info = fs->sp - 1;
}

static int ismulti(ExpDesc *e) { return e->k == E_CALL || e->k == E_VARARG; }

/* multiple results to the stack top (runtime sp) */
static void setmulti(FuncState *fs, ExpDesc *e)
{
	setcallres(fs, e, -1);
	if (e->k == E_CALL)
		fs->sp = e->aux;
}

static int searchvar(FuncState *fs, Str *n)
{
	Lex *ls = fs->ls;

	for (int i = fs->nactvar - 1; i >= 0; i--)
		if (ls->vars[fs->firstlocal + i].name == n)
			return ls->vars[fs->firstlocal + i].slot;
	return -1;
}

static int searchup(FuncState *fs, Str *n)
{
	for (int i = 0; i < fs->f->nup; i++)
		if (fs->f->up[i].name == n)
			return i;
	return -1;
}

static int newup(FuncState *fs, Str *n, int instack, int idx)
{
	Proto *f = fs->f;

	if (f->nup == fs->ucap) {
		int nc = fs->ucap ? fs->ucap * 2 : 8;

		f->up = l_ralloc(f->up, (size_t)fs->ucap * sizeof(UpDesc), (size_t)nc * sizeof(UpDesc));
		fs->ucap = nc;
	}
	if (f->nup >= 255)
		lexerror(fs->ls, "too many upvalues", 0);
	f->up[f->nup].name = n;
	f->up[f->nup].instack = (uint8_t)instack;
	f->up[f->nup].idx = (uint16_t)idx;
	return f->nup++;
}

static void markupval(FuncState *fs, int slot)
{
	BlockCnt *bl = fs->bl;

	while (bl && bl->nactvar > slot)
		bl = bl->prev;
	if (bl)
		bl->upval = 1;
}

/* E_LOCAL, E_UPVAL or E_GLOBAL */
static void singlevaraux(FuncState *fs, Str *n, ExpDesc *e, int base)
{
	int v;

	if (!fs) {
		initexp(e, E_GLOBAL, 0);
		return;
	}
	v = searchvar(fs, n);
	if (v >= 0) {
		initexp(e, E_LOCAL, v);
		if (!base)
			markupval(fs, v);
		return;
	}
	v = searchup(fs, n);
	if (v < 0) {
		singlevaraux(fs->prev, n, e, 0);
		if (e->k == E_GLOBAL)
			return;
		v = newup(fs, n, e->k == E_LOCAL, e->info);
	}
	initexp(e, E_UPVAL, v);
}

static void singlevar(Lex *ls, ExpDesc *e)
{
	Str *n = checkname(ls);

	singlevaraux(ls->fs, n, e, 1);
	if (e->k == E_GLOBAL)
		e->info = strk(ls->fs, n);
	e->name = n;
}

static int explist(Lex *ls, ExpDesc *e)
{
	int n = 1;

	expr(ls, e);
	while (testnext(ls, ',')) {
		discharge(ls->fs, e);
		expr(ls, e);
		n++;
	}
	return n;
}

static void funcargs(Lex *ls, ExpDesc *f, int line)
{
	FuncState *fs = ls->fs;
	ExpDesc args;
	int base = f->info, nparams;

	switch (ls->t.tok) {
	case '(':
		next(ls);
		if (ls->t.tok == ')') {
			args.k = E_VOID;
		} else {
			explist(ls, &args);
			if (ismulti(&args))
				setmulti(fs, &args);
		}
		checkmatch(ls, ')', '(', line);
		break;
	case '{': {
		void constructor(Lex *ls, ExpDesc *t);

		constructor(ls, &args);
		break;
	}
	case TK_STRING:
		initexp(&args, E_K, strk(fs, ls->t.sem.u.s));
		next(ls);
		break;
	default: synerr(ls, "function arguments expected");
	}
	if (ismulti(&args)) {
		nparams = -1;
	} else {
		discharge(fs, &args);
		nparams = fs->sp - (base + 1);
	}
	ls->lastline = line;
	adddbg(fs, base, -1);
	initexp(f, E_CALL, emit(fs, MK_ABC(OP_CALL, base, nparams + 1, 2)));
	f->aux = base;
	fs->sp = base;
}

static void fieldsel(Lex *ls, ExpDesc *v)
{
	FuncState *fs = ls->fs;
	Str *n;

	discharge(fs, v);
	next(ls); /* '.' or ':' */
	n = checkname(ls);
	initexp(v, E_FIELD, fs->sp - 1);
	v->aux = strk(fs, n);
	v->name = n;
}

static void yindex(Lex *ls, ExpDesc *v)
{
	FuncState *fs = ls->fs;
	ExpDesc k;
	int t;

	discharge(fs, v);
	t = fs->sp - 1;
	next(ls);
	expr(ls, &k);
	checknext(ls, ']');
	if (k.k == E_K && fs->f->k[k.info].tt == T_STR) {
		initexp(v, E_FIELD, t);
		v->aux = k.info;
		v->name = fs->f->k[k.info].u.s;
		return;
	}
	discharge(fs, &k);
	initexp(v, E_INDEXED, t);
}

static void primaryexp(Lex *ls, ExpDesc *v)
{
	switch (ls->t.tok) {
	case '(': {
		int line = ls->line;

		next(ls);
		expr(ls, v);
		checkmatch(ls, ')', '(', line);
		discharge(ls->fs, v);
		ls->fs->slotkind[ls->fs->sp - 1] = 0;
		return;
	}
	case TK_NAME: singlevar(ls, v); return;
	default: synerr(ls, "unexpected symbol");
	}
}

static void suffixedexp(Lex *ls, ExpDesc *v)
{
	FuncState *fs = ls->fs;
	int line = ls->line;

	primaryexp(ls, v);
	for (;;) {
		switch (ls->t.tok) {
		case '.': fieldsel(ls, v); break;
		case '[': yindex(ls, v); break;
		case ':': {
			Str *n;
			int k;

			discharge(fs, v);
			next(ls);
			n = checkname(ls);
			k = strk(fs, n);
			adddbg(fs, fs->sp - 1, -1);
			emit(fs, MK_Ax(OP_SELF, k));
			fs->sp--;
			pushed(fs, NK_METHOD, n);
			pushed(fs, 0, NULL);
			v->k = E_PUSHED;
			v->info = fs->sp - 2;
			funcargs(ls, v, line);
			break;
		}
		case '(': case TK_STRING: case '{':
			discharge(fs, v);
			v->info = fs->sp - 1;
			funcargs(ls, v, line);
			break;
		default: return;
		}
	}
}

void constructor(Lex *ls, ExpDesc *t)
{
	FuncState *fs = ls->fs;
	int line = ls->line, pc, slot, na = 0, total = 0, nh = 0;
	ExpDesc v;

	pc = emit(fs, MK_ABC(OP_NEWTABLE, 0, 0, 0));
	pushed(fs, 0, NULL);
	slot = fs->sp - 1;
	checknext(ls, '{');
	v.k = E_VOID;
	while (ls->t.tok != '}') {
		if (ls->t.tok == TK_NAME && lookahead(ls) == '=') {
			Str *n = checkname(ls);
			int k = strk(fs, n);

			next(ls);
			expr(ls, &v);
			discharge(fs, &v);
			if (k < 65536) {
				emit(fs, MK_ABx(OP_SETFAT, slot, k));
				fs->sp--;
			}
			nh++;
		} else if (ls->t.tok == '[') {
			next(ls);
			expr(ls, &v);
			discharge(fs, &v);
			checknext(ls, ']');
			checknext(ls, '=');
			expr(ls, &v);
			discharge(fs, &v);
			emit(fs, MK_Ax(OP_SETTKV, slot));
			fs->sp -= 2;
			nh++;
		} else {
			expr(ls, &v);
			if (ismulti(&v) && (ls->t.tok == '}' || ((ls->t.tok == ',' || ls->t.tok == ';') && lookahead(ls) == '}'))) {
				setmulti(fs, &v);
				emit(fs, MK_ABC(OP_SETLIST, slot, 0, 0));
				emit(fs, (uint32_t)(total + 1));
				fs->sp = slot + 1;
				total += na;
				na = 0;
				if (!testnext(ls, ','))
					testnext(ls, ';');
				break;
			}
			discharge(fs, &v);
			na++;
			if (na == LFIELDS) {
				emit(fs, MK_ABC(OP_SETLIST, slot, na, 0));
				emit(fs, (uint32_t)(total + 1));
				total += na;
				na = 0;
				fs->sp = slot + 1;
			}
		}
		if (!testnext(ls, ',') && !testnext(ls, ';'))
			break;
	}
	checkmatch(ls, '}', '{', line);
	if (na) {
		emit(fs, MK_ABC(OP_SETLIST, slot, na, 0));
		emit(fs, (uint32_t)(total + 1));
		total += na;
		fs->sp = slot + 1;
	}
	fs->f->code[pc] = MK_ABC(OP_NEWTABLE, total > 255 ? 255 : total, nh > 255 ? 255 : nh, 0);
	initexp(t, E_PUSHED, slot);
}

static void simpleexp(Lex *ls, ExpDesc *v)
{
	FuncState *fs = ls->fs;

	switch (ls->t.tok) {
	case TK_FLT: initexp(v, E_FLT, 0); v->nval = ls->t.sem.u.n; break;
	case TK_INT: initexp(v, E_INT, 0); v->ival = ls->t.sem.u.i; break;
	case TK_STRING: initexp(v, E_K, strk(fs, ls->t.sem.u.s)); break;
	case TK_NIL: initexp(v, E_NIL, 0); break;
	case TK_TRUE: initexp(v, E_TRUE, 0); break;
	case TK_FALSE: initexp(v, E_FALSE, 0); break;
	case TK_DOTS:
		if (!fs->f->is_vararg)
			synerr(ls, "cannot use '...' outside a vararg function");
		initexp(v, E_VARARG, emit(fs, MK_Ax(OP_VARARG, 2)));
		checkstack(fs, 1);
		break;
	case '{': constructor(ls, v); return;
	case TK_FUNCTION: next(ls); body(ls, v, 0, ls->line); return;
	default: suffixedexp(ls, v); return;
	}
	next(ls);
}

static int getunop(int t)
{
	switch (t) {
	case TK_NOT: return OP_NOT;
	case '-': return OP_UNM;
	case '~': return OP_BNOT;
	case '#': return OP_LEN;
	default: return -1;
	}
}

enum { B_ADD, B_SUB, B_MUL, B_MOD, B_POW, B_DIV, B_IDIV, B_BAND, B_BOR, B_BXOR, B_SHL, B_SHR,
       B_CONCAT, B_EQ, B_LT, B_LE, B_NE, B_GT, B_GE, B_AND, B_OR, B_NONE };
static const struct { uint8_t left, right; } prio[] = {
	{ 10, 10 }, { 10, 10 }, { 11, 11 }, { 11, 11 }, { 14, 13 }, { 11, 11 }, { 11, 11 },
	{ 6, 6 }, { 4, 4 }, { 5, 5 }, { 7, 7 }, { 7, 7 }, { 9, 8 },
	{ 3, 3 }, { 3, 3 }, { 3, 3 }, { 3, 3 }, { 3, 3 }, { 3, 3 }, { 2, 2 }, { 1, 1 } };
#define UNARY_PRIORITY 12

static int getbinop(int t)
{
	switch (t) {
	case '+': return B_ADD; case '-': return B_SUB; case '*': return B_MUL; case '%': return B_MOD;
	case '^': return B_POW; case '/': return B_DIV; case TK_IDIV: return B_IDIV;
	case '&': return B_BAND; case '|': return B_BOR; case '~': return B_BXOR;
	case TK_SHL: return B_SHL; case TK_SHR: return B_SHR; case TK_CONCAT: return B_CONCAT;
	case TK_NE: return B_NE; case TK_EQ: return B_EQ; case '<': return B_LT; case TK_LE: return B_LE;
	case '>': return B_GT; case TK_GE: return B_GE; case TK_AND: return B_AND; case TK_OR: return B_OR;
	default: return B_NONE;
	}
}

static void subexpr(Lex *ls, ExpDesc *v, int limit)
{
	FuncState *fs = ls->fs;
	int uop, op;

	enterlevel(ls);
	uop = getunop(ls->t.tok);
	if (uop >= 0) {
		int line = ls->line;

		next(ls);
		subexpr(ls, v, UNARY_PRIORITY);
		if (uop == OP_UNM && (v->k == E_INT || v->k == E_FLT)) {
			if (v->k == E_INT)
				v->ival = (int64_t)(0 - (uint64_t)v->ival);
			else
				v->nval = -v->nval;
		} else {
			discharge(fs, v);
			ls->lastline = line;
			adddbg(fs, fs->sp - 1, -1);
			emit(fs, (uint32_t)uop);
			fs->slotkind[fs->sp - 1] = 0;
		}
	} else {
		simpleexp(ls, v);
	}
	op = getbinop(ls->t.tok);
	while (op != B_NONE && prio[op].left > limit) {
		ExpDesc v2;
		int line = ls->line, s;

		next(ls);
		discharge(fs, v);
		s = fs->sp - 1;
		if (op == B_AND || op == B_OR) {
			int j = emit(fs, MK_Ax(op == B_AND ? OP_ANDJ : OP_ORJ, 0));

			fs->sp--;
			subexpr(ls, &v2, prio[op].right);
			discharge(fs, &v2);
			patchjump(fs, j, here(fs));
			fs->slotkind[s] = 0;
		} else {
			subexpr(ls, &v2, prio[op].right);
			discharge(fs, &v2);
			ls->lastline = line;
			if (op == B_CONCAT) {
				int last = fs->pc - 1;

				if (fs->lasttarget != fs->pc && last >= 0 && GET_OP(fs->f->code[last]) == OP_CONCAT &&
				    fs->sp == s + 1) {
					uint32_t n = GET_Ax(fs->f->code[last]);

					fs->f->code[last] = MK_Ax(OP_CONCAT, n + 1);
					/* dbg for the merged concat: keep the left operand */
				} else {
					adddbg(fs, s, s + 1);
					emit(fs, MK_Ax(OP_CONCAT, 2));
				}
			} else if (op <= B_SHR) {
				adddbg(fs, s, s + 1);
				emit(fs, (uint32_t)(OP_ADD + op));
			} else {
				switch (op) {
				case B_EQ: emit(fs, MK_Ax(OP_EQ, 0)); break;
				case B_NE: emit(fs, MK_Ax(OP_EQ, 1)); break;
				case B_LT: emit(fs, MK_Ax(OP_LT, 0)); break;
				case B_LE: emit(fs, MK_Ax(OP_LE, 0)); break;
				case B_GT: emit(fs, MK_Ax(OP_LT, 1)); break;
				case B_GE: emit(fs, MK_Ax(OP_LE, 1)); break;
				}
			}
			fs->sp = s + 1;
			fs->slotkind[s] = 0;
		}
		initexp(v, E_PUSHED, s);
		op = getbinop(ls->t.tok);
	}
	leavelevel(ls);
}

static void expr(Lex *ls, ExpDesc *v) { subexpr(ls, v, 0); }

/* evaluates a condition and emits a jump taken when it is false; returns the jump's pc */
static int condjump(Lex *ls)
{
	FuncState *fs = ls->fs;
	ExpDesc v;
	int last;

	expr(ls, &v);
	if (v.k == E_NIL || v.k == E_FALSE) {
		return emit(fs, MK_Ax(OP_JMP, 0));
	}
	discharge(fs, &v);
	fs->sp--;
	last = fs->pc - 1;
	if (fs->lasttarget != fs->pc && last >= 0) {
		uint32_t i = fs->f->code[last];
		int op = (int)GET_OP(i);

		if (op == OP_LT || op == OP_LE || op == OP_EQ) {
			int nop = op == OP_LT ? OP_LTJF : op == OP_LE ? OP_LEJF : (GET_A(i) ? OP_NEJF : OP_EQJF);

			fs->f->code[last] = MK_ABx(nop, GET_A(i), 0);
			return last;
		}
	}
	return emit(fs, MK_Ax(OP_JMPF, 0));
}

/* ---- statements ---- */

static void enterblock(FuncState *fs, BlockCnt *bl, int isloop)
{
	bl->isloop = isloop;
	bl->nactvar = fs->nactvar;
	bl->upval = 0;
	bl->firstbreak = fs->ls->nbreaks;
	bl->prev = fs->bl;
	fs->bl = bl;
}

static void removevars(FuncState *fs, int to)
{
	fs->ls->nvars -= fs->nactvar - to;
	fs->nactvar = to;
}

/* closes the block's scope: CLOSE (or POP) when needed, unless skip and no upvalues */
static void leaveblock(FuncState *fs, int skip_if_plain)
{
	BlockCnt *bl = fs->bl;

	if (fs->nactvar > bl->nactvar || bl->upval) {
		if (bl->upval)
			emit(fs, MK_Ax(OP_CLOSE, bl->nactvar));
		else if (!skip_if_plain)
			emit(fs, MK_Ax(OP_POP, fs->sp - bl->nactvar));
	}
	removevars(fs, bl->nactvar);
	fs->sp = bl->nactvar;
	fs->bl = bl->prev;
}

static void patchbreaks(FuncState *fs, BlockCnt *bl, int target)
{
	Lex *ls = fs->ls;

	for (int i = bl->firstbreak; i < ls->nbreaks; i++)
		patchjump(fs, ls->breaks[i], target);
	ls->nbreaks = bl->firstbreak;
}

static void newlocal(Lex *ls, Str *n, int slot)
{
	FuncState *fs = ls->fs;

	if (ls->nvars == ls->varcap) {
		int nc = ls->varcap ? ls->varcap * 2 : 32;

		ls->vars = l_ralloc(ls->vars, (size_t)ls->varcap * sizeof(VarDesc), (size_t)nc * sizeof(VarDesc));
		ls->varcap = nc;
	}
	if (fs->nactvar >= 200)
		lexerror(ls, "too many local variables", 0);
	ls->vars[ls->nvars].name = n;
	ls->vars[ls->nvars].slot = slot;
	ls->nvars++;
	fs->nactvar++;
}

static int block_follow(Lex *ls, int withuntil)
{
	switch (ls->t.tok) {
	case TK_ELSE: case TK_ELSEIF: case TK_END: case TK_EOS: return 1;
	case TK_UNTIL: return withuntil;
	default: return 0;
	}
}

static void statement(Lex *ls);

static void statlist(Lex *ls)
{
	while (!block_follow(ls, 1)) {
		if (ls->t.tok == TK_RETURN) {
			statement(ls);
			return;
		}
		statement(ls);
	}
}

static void block(Lex *ls)
{
	BlockCnt bl;

	enterblock(ls->fs, &bl, 0);
	statlist(ls);
	leaveblock(ls->fs, 0);
}

/* adjusts nexps expressions (last one e, not yet pushed) to nvars values on the stack */
static void adjust(FuncState *fs, int nvars, int nexps, ExpDesc *e)
{
	int extra = nvars - nexps;

	if (ismulti(e)) {
		int base = e->k == E_CALL ? e->aux : fs->sp;

		if (extra + 1 < 0)
			extra = -1;
		setcallres(fs, e, extra + 1);
		fs->sp = base;
		for (int i = 0; i <= extra; i++)
			pushed(fs, 0, NULL);
		if (extra < 0)
			emitpop(fs, 0);
		extra = 0;
		if (nexps - 1 > nvars)
			emitpop(fs, nexps - 1 - nvars);
		return;
	}
	discharge(fs, e);
	if (extra > 0) {
		emit(fs, MK_Ax(OP_NIL, extra));
		for (int i = 0; i < extra; i++)
			pushed(fs, 0, NULL);
	} else if (extra < 0) {
		emitpop(fs, -extra);
	}
}

static void storevar(FuncState *fs, ExpDesc *v, int single)
{
	switch (v->k) {
	case E_LOCAL: emit(fs, MK_Ax(OP_SETL, v->info)); break;
	case E_UPVAL: emit(fs, MK_Ax(OP_SETU, v->info)); break;
	case E_GLOBAL: emit(fs, MK_Ax(OP_SETG, v->info)); break;
	case E_FIELD:
		adddbg(fs, v->info, -1);
		if (single)
			emit(fs, MK_Ax(OP_SETF, v->aux));
		else
			emit(fs, MK_ABx(OP_SETFAT, v->info, v->aux));
		break;
	case E_INDEXED:
		adddbg(fs, v->info, -1);
		emit(fs, single ? (uint32_t)OP_SETT : MK_Ax(OP_SETTAT, v->info));
		break;
	default: lexerror(fs->ls, "syntax error", 0);
	}
	fs->sp--;
}

static void restassign(Lex *ls, ExpDesc *first)
{
	FuncState *fs = ls->fs;
	ExpDesc targets[64], e;
	int n = 1, nexps, base;

	targets[0] = *first;
	base = first->k == E_FIELD || first->k == E_INDEXED ? first->info : fs->sp;
	while (testnext(ls, ',')) {
		if (n >= 64)
			lexerror(ls, "too many assignment targets", 0);
		suffixedexp(ls, &targets[n]);
		if (targets[n].k < E_LOCAL || targets[n].k > E_FIELD)
			synerr(ls, "syntax error");
		n++;
	}
	checknext(ls, '=');
	nexps = explist(ls, &e);
	adjust(fs, n, nexps, &e);
	if (n == 1 && (first->k == E_FIELD || first->k == E_INDEXED)) {
		storevar(fs, first, 1);
		fs->sp = base;
		return;
	}
	for (int i = n - 1; i >= 0; i--)
		storevar(fs, &targets[i], 0);
	if (fs->sp > base)
		emitpop(fs, fs->sp - base);
	(void)base;
}

static void exprstat(Lex *ls)
{
	FuncState *fs = ls->fs;
	ExpDesc v;

	suffixedexp(ls, &v);
	if (ls->t.tok == '=' || ls->t.tok == ',') {
		if (v.k < E_LOCAL || v.k > E_FIELD)
			synerr(ls, "syntax error");
		restassign(ls, &v);
	} else {
		if (v.k != E_CALL)
			synerr(ls, "syntax error");
		setcallres(fs, &v, 0);
		fs->sp = v.aux;
	}
}

static void ifstat(Lex *ls, int line)
{
	FuncState *fs = ls->fs;
	int exits[256], nexit = 0, jf;

	do {
		next(ls); /* if / elseif */
		jf = condjump(ls);
		checknext(ls, TK_THEN);
		block(ls);
		if (ls->t.tok == TK_ELSE || ls->t.tok == TK_ELSEIF) {
			if (nexit >= 256)
				lexerror(ls, "too many elseif", 0);
			exits[nexit++] = emit(fs, MK_Ax(OP_JMP, 0));
		}
		patchjump(fs, jf, here(fs));
	} while (ls->t.tok == TK_ELSEIF);
	if (testnext(ls, TK_ELSE))
		block(ls);
	checkmatch(ls, TK_END, TK_IF, line);
	for (int i = 0; i < nexit; i++)
		patchjump(fs, exits[i], here(fs));
}

static void whilestat(Lex *ls, int line)
{
	FuncState *fs = ls->fs;
	int start, jf;
	BlockCnt bl;

	next(ls);
	start = here(fs);
	jf = condjump(ls);
	checknext(ls, TK_DO);
	enterblock(fs, &bl, 1);
	block(ls);
	emitjumpto(fs, OP_JMP, start);
	checkmatch(ls, TK_END, TK_WHILE, line);
	patchjump(fs, jf, here(fs));
	if (ls->nbreaks > bl.firstbreak) {
		patchbreaks(fs, &bl, here(fs));
		emit(fs, MK_Ax(OP_CLOSE, fs->sp));
	}
	leaveblock(fs, 0);
}

static void repeatstat(Lex *ls, int line)
{
	FuncState *fs = ls->fs;
	int start = here(fs), jf, d = fs->sp;
	BlockCnt loop, scope;

	enterblock(fs, &loop, 1);
	enterblock(fs, &scope, 0);
	next(ls);
	statlist(ls);
	checkmatch(ls, TK_UNTIL, TK_REPEAT, line);
	jf = condjump(ls);
	if (fs->nactvar > d || scope.upval) {
		/* false: close the scope and loop; true: close and leave */
		int jexit = emit(fs, MK_Ax(OP_JMP, 0));

		patchjump(fs, jf, here(fs));
		emit(fs, MK_Ax(OP_CLOSE, d));
		emitjumpto(fs, OP_JMP, start);
		patchjump(fs, jexit, here(fs));
		emit(fs, MK_Ax(OP_CLOSE, d));
	} else {
		patchjump(fs, jf, start);
	}
	removevars(fs, scope.nactvar);
	fs->sp = d;
	fs->bl = scope.prev;
	if (ls->nbreaks > loop.firstbreak) {
		patchbreaks(fs, &loop, here(fs));
		emit(fs, MK_Ax(OP_CLOSE, d));
	}
	fs->bl = loop.prev;
}

static void exp1(Lex *ls)
{
	ExpDesc e;

	expr(ls, &e);
	discharge(ls->fs, &e);
}

static void forbody(Lex *ls, int base, Str *name)
{
	FuncState *fs = ls->fs;
	BlockCnt bl;
	int prep, bodystart;

	checknext(ls, TK_DO);
	prep = emit(fs, MK_ABx(OP_FORPREP, base, 0));
	bodystart = here(fs);
	enterblock(fs, &bl, 1);
	newlocal(ls, name, base + 3);
	pushed(fs, 0, NULL);
	block(ls);
	leaveblock(fs, 1);
	fs->sp = base + 3;
	{
		int l = emit(fs, MK_ABx(OP_FORLOOP, base, 0));

		patchjump(fs, l, bodystart);
		patchjump(fs, prep, here(fs));
	}
	patchbreaks(fs, &bl, here(fs));
}

static void forstat(Lex *ls, int line)
{
	FuncState *fs = ls->fs;
	Str *names[32];
	int nn = 0, base = fs->sp;
	BlockCnt bl;
	Str *hidden;

	enterblock(fs, &bl, 0);
	next(ls);
	names[nn++] = checkname(ls);
	hidden = l_newstrz("(for state)");
	if (ls->t.tok == '=') {
		next(ls);
		exp1(ls);
		checknext(ls, ',');
		exp1(ls);
		if (testnext(ls, ','))
			exp1(ls);
		else {
			emit(fs, MK_Ax(OP_I, 1));
			pushed(fs, 0, NULL);
		}
		for (int i = 0; i < 3; i++)
			newlocal(ls, hidden, base + i);
		forbody(ls, base, names[0]);
	} else {
		ExpDesc e;
		int nexps;

		while (testnext(ls, ',')) {
			if (nn >= 32)
				lexerror(ls, "too many loop variables", 0);
			names[nn++] = checkname(ls);
		}
		checknext(ls, TK_IN);
		nexps = explist(ls, &e);
		adjust(fs, 3, nexps, &e);
		for (int i = 0; i < 3; i++)
			newlocal(ls, hidden, base + i);
		/* forbody reads names from vars[nvars..]: declare them one by one instead */
		{
			BlockCnt body;
			int jmp, bodystart, l;

			checknext(ls, TK_DO);
			jmp = emit(fs, MK_Ax(OP_JMP, 0));
			bodystart = here(fs);
			enterblock(fs, &body, 1);
			for (int i = 0; i < nn; i++) {
				newlocal(ls, names[i], base + 3 + i);
				pushed(fs, 0, NULL);
			}
			block(ls);
			leaveblock(fs, 1);
			fs->sp = base + 3;
			patchjump(fs, jmp, here(fs));
			checkstack(fs, 3 + nn);
			emit(fs, MK_ABC(OP_TFORCALL, base, nn, 0));
			l = emit(fs, MK_ABx(OP_TFORLOOP, base, 0));
			patchjump(fs, l, bodystart);
			patchbreaks(fs, &body, here(fs));
		}
	}
	checkmatch(ls, TK_END, TK_FOR, line);
	emit(fs, MK_Ax(OP_CLOSE, base));
	removevars(fs, bl.nactvar);
	fs->sp = base;
	fs->bl = bl.prev;
}

static void open_func(Lex *ls, FuncState *fs, BlockCnt *bl)
{
	memset(fs, 0, sizeof(*fs));
	fs->f = l_newproto();
	fs->f->source = ls->source;
	fs->prev = ls->fs;
	fs->ls = ls;
	fs->firstlocal = ls->nvars;
	fs->lasttarget = -1;
	fs->kcache = l_newtable(0, 0);
	ls->fs = fs;
	enterblock(fs, bl, 0);
}

static Proto *close_func(Lex *ls)
{
	FuncState *fs = ls->fs;
	Proto *f = fs->f;

	emit(fs, MK_ABC(OP_RET, 0, 1, 0));
	leaveblock(fs, 1);
	f->ncode = fs->pc;
	f->code = l_ralloc(f->code, (size_t)fs->codecap * 4, (size_t)fs->pc * 4);
	f->lines = l_ralloc(f->lines, (size_t)fs->codecap * sizeof(int), (size_t)fs->pc * sizeof(int));
	if (f->maxstack < 8)
		f->maxstack = 8;
	ls->fs = fs->prev;
	return f;
}

static void addproto(FuncState *fs, Proto *p)
{
	Proto *f = fs->f;

	if (f->np == fs->pcap) {
		int nc = fs->pcap ? fs->pcap * 2 : 4;

		f->p = l_ralloc(f->p, (size_t)fs->pcap * sizeof(Proto *), (size_t)nc * sizeof(Proto *));
		fs->pcap = nc;
	}
	f->p[f->np++] = p;
}

static void body(Lex *ls, ExpDesc *e, int ismethod, int line)
{
	FuncState nfs, *fs = ls->fs;
	BlockCnt bl;
	Proto *p;

	open_func(ls, &nfs, &bl);
	nfs.f->linedefined = line;
	if (ismethod) {
		newlocal(ls, l_newstrz("self"), 0);
		pushed(&nfs, 0, NULL);
	}
	checknext(ls, '(');
	if (ls->t.tok != ')') {
		do {
			if (ls->t.tok == TK_NAME) {
				newlocal(ls, checkname(ls), nfs.sp);
				pushed(&nfs, 0, NULL);
			} else if (ls->t.tok == TK_DOTS) {
				next(ls);
				nfs.f->is_vararg = 1;
				break;
			} else
				synerr(ls, "<name> expected");
		} while (testnext(ls, ','));
	}
	nfs.f->numparams = (uint8_t)nfs.nactvar;
	checknext(ls, ')');
	statlist(ls);
	ls->lastline = ls->line;
	checkmatch(ls, TK_END, TK_FUNCTION, line);
	p = close_func(ls);
	addproto(fs, p);
	emit(fs, MK_Ax(OP_CLOSURE, fs->f->np - 1));
	pushed(fs, 0, NULL);
	initexp(e, E_PUSHED, fs->sp - 1);
}

static void funcstat(Lex *ls, int line)
{
	FuncState *fs = ls->fs;
	ExpDesc v, b;
	int ismethod = 0;

	next(ls);
	singlevar(ls, &v);
	while (ls->t.tok == '.')
		fieldsel(ls, &v);
	if (ls->t.tok == ':') {
		fieldsel(ls, &v);
		ismethod = 1;
	}
	body(ls, &b, ismethod, line);
	ls->lastline = line;
	storevar(fs, &v, 1);
	if (v.k == E_FIELD || v.k == E_INDEXED)
		fs->sp = v.info;
}

static void localfunc(Lex *ls)
{
	FuncState *fs = ls->fs;
	ExpDesc b;
	Str *n = checkname(ls);

	newlocal(ls, n, fs->sp);
	body(ls, &b, 0, ls->line);
}

static void localstat(Lex *ls)
{
	FuncState *fs = ls->fs;
	Str *names[200];
	int nvars = 0, nexps, base = fs->sp;
	ExpDesc e;

	do {
		if (nvars >= 200)
			lexerror(ls, "too many local variables", 0);
		names[nvars++] = checkname(ls);
		if (testnext(ls, '<')) {
			Str *attr = checkname(ls);

			if (strcmp(attr->data, "const") != 0 && strcmp(attr->data, "close") != 0) {
				char msg[80];

				snprintf(msg, sizeof msg, "unknown attribute '%s'", attr->data);
				lexerror(ls, msg, 0);
			}
			checknext(ls, '>');
		}
	} while (testnext(ls, ','));
	if (testnext(ls, '=')) {
		nexps = explist(ls, &e);
	} else {
		e.k = E_VOID;
		nexps = 0;
	}
	adjust(fs, nvars, nexps, &e);
	for (int i = 0; i < nvars; i++) {
		newlocal(ls, names[i], base + i);
		fs->slotkind[base + i] = 0;
	}
}

static void retstat(Lex *ls)
{
	FuncState *fs = ls->fs;
	ExpDesc e;
	int first = fs->sp, n;

	if (block_follow(ls, 1) || ls->t.tok == ';') {
		emit(fs, MK_ABC(OP_RET, first, 1, 0));
	} else {
		n = explist(ls, &e);
		if (ismulti(&e)) {
			setmulti(fs, &e);
			emit(fs, MK_ABC(OP_RET, first, 0, 0));
		} else {
			discharge(fs, &e);
			if (n == 1)
				emit(fs, OP_RET1);
			else
				emit(fs, MK_ABC(OP_RET, first, n + 1, 0));
		}
	}
	fs->sp = first;
	testnext(ls, ';');
}

static void statement(Lex *ls)
{
	FuncState *fs = ls->fs;
	int line = ls->line;

	enterlevel(ls);
	switch (ls->t.tok) {
	case ';': next(ls); break;
	case TK_IF: ifstat(ls, line); break;
	case TK_WHILE: whilestat(ls, line); break;
	case TK_DO: {
		next(ls);
		block(ls);
		checkmatch(ls, TK_END, TK_DO, line);
		break;
	}
	case TK_FOR: forstat(ls, line); break;
	case TK_REPEAT: repeatstat(ls, line); break;
	case TK_FUNCTION: funcstat(ls, line); break;
	case TK_LOCAL:
		next(ls);
		if (testnext(ls, TK_FUNCTION))
			localfunc(ls);
		else
			localstat(ls);
		break;
	case TK_RETURN: next(ls); retstat(ls); break;
	case TK_BREAK: {
		BlockCnt *bl = fs->bl;

		while (bl && !bl->isloop)
			bl = bl->prev;
		if (!bl)
			lexerror(ls, "break outside a loop at line", 0);
		next(ls);
		if (ls->nbreaks == ls->breakcap) {
			int nc = ls->breakcap ? ls->breakcap * 2 : 16;

			ls->breaks = l_ralloc(ls->breaks, (size_t)ls->breakcap * sizeof(int), (size_t)nc * sizeof(int));
			ls->breakcap = nc;
		}
		ls->breaks[ls->nbreaks++] = emit(fs, MK_Ax(OP_JMP, 0));
		break;
	}
	case TK_GOTO: case TK_DBCOLON: synerr(ls, "goto and labels are not supported");
	default: exprstat(ls); break;
	}
	fs->sp = fs->nactvar > 0 ? fs->sp : fs->sp;
	leavelevel(ls);
}

Proto *l_compile(const char *src, size_t len, Str *chunkname)
{
	Lex ls;
	FuncState fs;
	BlockCnt bl;
	Proto *p;

	memset(&ls, 0, sizeof ls);
	ls.p = src;
	ls.end = src + len;
	ls.line = 1;
	ls.source = chunkname;
	cur_ls = &ls;
	if (len > 0 && src[0] == '#') /* skip a shebang line */
		while (ls.p < ls.end && *ls.p != '\n')
			ls.p++;
	open_func(&ls, &fs, &bl);
	fs.f->is_vararg = 1;
	next(&ls);
	statlist(&ls);
	check(&ls, TK_EOS);
	p = close_func(&ls);
	l_ralloc(ls.vars, (size_t)ls.varcap * sizeof(VarDesc), 0);
	l_ralloc(ls.breaks, (size_t)ls.breakcap * sizeof(int), 0);
	l_ralloc(ls.buf, ls.bcap, 0);
	return p;
}
