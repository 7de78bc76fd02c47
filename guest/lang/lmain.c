/* lmain.c: lua_run_chunk and the lua.elf command line (-e CODE, or - for stdin). */
#define _POSIX_C_SOURCE 200809L /* read, pread */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <mvmm/hypercall.h>
#include "lua.h"

void l_initvm(void);

static int report(void)
{
	Value e = G.errval;
	const char *msg = NULL;
	char buf[128];

	if (e.tt == T_STR)
		msg = e.u.s->data;
	else if (e.tt == T_INT || e.tt == T_FLT) {
		l_num2str(&e, buf);
		msg = buf;
	} else if (l_metamethod(&e, TM_TOSTRING)->tt != T_NIL) {
		size_t fi = G.top;

		l_push(&e);
		G.stack[G.top - 1] = e;
		{
			Value s;
			l_jmpbuf jb;
			void *prev = G.errjmp;

			G.errjmp = &jb;
			if (l_setjmp(jb) == 0) {
				s = l_tostring(&e);
				msg = s.u.s->data;
			} else
				msg = "(error object is not a string)";
			G.errjmp = prev;
		}
		G.top = fi;
	} else {
		snprintf(buf, sizeof buf, "(error object is a %s value)", l_typename(&e));
		msg = buf;
	}
	l_flush();
	fprintf(stderr, "lua: %s\n", msg);
	return 1;
}

static int inited;

/* Builds the VM once: library tables, interned metamethod names, stack and frames. */
void lua_init(void)
{
	if (!inited) {
		l_initvm();
		inited = 1;
	}
}

int lua_run_chunk(const char *src, size_t len, const char *chunkname, int argc, char **argv)
{
	Proto *p;
	l_jmpbuf jb;

	lua_init();
	G.errjmp = &jb;
	if (l_setjmp(jb) != 0) {
		G.errjmp = NULL;
		G.gcstop = 0;
		return report();
	}
	/* arg table: arg[0] = chunk name, arg[1..] = args */
	{
		Table *a = l_newtable((uint32_t)argc, 1);

		for (int i = 0; i < argc; i++) {
			Value s = vstr(l_newstrz(argv[i]));

			l_tsetint(a, i, &s);
		}
		Value av = vtab(a);

		l_tsetstr(G.globals, l_newstrz("arg"), &av);
	}
	G.chunkname = l_newstrz(chunkname);
	G.gcstop = 1;
	p = l_compile(src, len, G.chunkname);
	G.gcstop = 0;
	{
		Closure *cl = l_newclosure(p, 0);
		size_t fi = G.top;
		Value f;

		f.tt = T_LCL;
		f.u.cl = cl;
		l_push(&f);
		for (int i = 1; i < argc; i++) {
			Value s = vstr(l_newstrz(argv[i]));

			l_push(&s);
		}
		l_call(fi, 0);
		G.top = fi;
	}
	G.errjmp = NULL;
	l_flush();
	return 0;
}

static char *read_stdin(size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);

	for (;;) {
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			if (!buf)
				return NULL;
		}
		ssize_t r = read(0, buf + n, cap - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return buf;
}

/* A script file the host exposed to this guest (mvmm run --expose PATH); NULL if not. */
static char *read_exposed(const char *path, size_t *len)
{
	int h = open(path, O_RDONLY | O_CLOEXEC);
	size_t cap = 1 << 16, n = 0;
	ssize_t r;
	char *buf;

	if (h < 0)
		return NULL;
	buf = malloc(cap);
	while (buf) {
		if (n == cap) {
			char *b = realloc(buf, cap * 2);

			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
		r = pread(h, buf + n, cap - n, (off_t)n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(h);
	*len = n;
	return buf;
}

/*
 * A command line or a clone's request: -e CODE [args], - [args] (script on stdin) or
 * --source NAME TEXT [args] (the script's text inline, chunk name "@NAME" shown as NAME;
 * arg[0] = NAME). argv[0] is ignored.
 */
static int run_args(int argc, char **argv)
{
	int rc;

	if (argc >= 4 && strcmp(argv[1], "--source") == 0) {
		char *text = argv[3], *name = argv[2];

		argv[3] = name;
		rc = lua_run_chunk(text, strlen(text), name, argc - 3, argv + 3);
	} else if (argc >= 3 && strcmp(argv[1], "-e") == 0) {
		char *code = argv[2];

		argv[2] = "lua"; /* arg[0]; arg[1..] are the words after CODE */
		rc = lua_run_chunk(code, strlen(code), "(command line)", argc - 2, argv + 2);
	} else if (argc >= 2 && strcmp(argv[1], "-") == 0) {
		size_t len = 0;
		char *src = read_stdin(&len);

		if (!src) {
			fprintf(stderr, "lua: not enough memory\n");
			return 1;
		}
		rc = lua_run_chunk(src, len, "stdin", argc - 1, argv + 1);
	} else if (argc >= 2 && argv[1][0] != '-') {
		/* script.lua [args]: readable only if the host exposed it (--expose script.lua) */
		size_t len = 0;
		char *src = read_exposed(argv[1], &len);

		if (!src) {
			l_flush();
			fprintf(stderr, "lua: cannot open %s (run with --expose %s)\n", argv[1],
				argv[1]);
			return 1;
		}
		rc = lua_run_chunk(src, len, argv[1], argc - 1, argv + 1);
	} else {
		l_flush();
		fprintf(stderr, "usage: lua.elf SCRIPT [args] | lua.elf -e CODE [args] | "
				"lua.elf - [args] < script | lua.elf --source NAME TEXT [args]\n");
		return 1;
	}
	l_flush();
	return rc;
}

/* A clone's request as an argv (argv[0] = "lua"); NULL if it cannot be read. */
static char **read_request(int *argcp)
{
	static char small[4096];
	char *buf = small, **av;
	uint64_t n = 0;
	int64_t r = mvmm_request(small, sizeof small - 1, &n);

	if (r < 0)
		return NULL;
	if ((uint64_t)r > sizeof small - 1) {
		buf = malloc((size_t)r + 1);
		if (!buf)
			return NULL;
		r = mvmm_request(buf, (size_t)r, &n);
		if (r < 0)
			return NULL;
	}
	buf[r] = 0;
	av = malloc((n + 2) * sizeof(char *));
	if (!av)
		return NULL;
	av[0] = "lua";
	for (uint64_t i = 0; i < n; i++) {
		av[i + 1] = buf;
		buf += strlen(buf) + 1;
	}
	av[n + 1] = NULL;
	*argcp = (int)n + 1;
	return av;
}

/*
 * The VM is built before mvmm_ready(): under `mvmm run --template` (or a server) every
 * clone starts with the library in place and runs only its request. In a plain run
 * ready() returns 0 and the command line is used as before.
 */
int main(int argc, char **argv)
{
	lua_init();
	if (mvmm_ready() >= 1) {
		argv = read_request(&argc);
		if (!argv) {
			fprintf(stderr, "lua: cannot read the request\n");
			return 1;
		}
	}
	return run_args(argc, argv);
}
