/*
 * test_linux_snapshot.c: a Linux template's process state in files: snapshots (base and
 * checkpoint diffs) and the image cache give the clones the live template's gives (open file
 * and its offset, cwd, memory, signal handler); a damaged or forged record is refused with a
 * message and never crashes; a file gone at restore is named; a template holding a pipe is
 * refused. The program: tests/linux/tplfile.c, built with musl and glibc.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stddef.h>
#include <xxhash.h>

#include "cache/cache.h"
#include "clone/snapshot.h"
#include "guestabi/lx.h"
#include "guestabi/lx_int.h"
#include "guestabi/lx_run.h"

TestSuite(linux_snapshot, .init = lxt_need_kvm, .timeout = 300);

#define MS    60000
#define INPUT "HEADER0123456789abcdefghij"
#define DATA  "/data"

/* A tree for /data: input.txt, sub/rel.txt; the --dir option in spec. */
struct tree {
	char *dir;
	char spec[600];
	char work[600]; /* a directory of the test's own for snapshots, stdin files, the cache */
};

static void tree_make(struct tree *t)
{
	char *w = lxt_tmpdir();

	t->dir = lxt_tmpdir();
	lxt_mkfile(t->dir, "input.txt", INPUT, strlen(INPUT));
	lxt_mkdir(t->dir, "sub");
	lxt_mkfile(t->dir, "sub/rel.txt", "relative ok\n", 12);
	snprintf(t->spec, sizeof(t->spec), "%s:" DATA, t->dir);
	snprintf(t->work, sizeof(t->work), "%s", w);
	free(w);
}

static void tree_free(struct tree *t)
{
	lxt_rmtree(t->dir);
	lxt_rmtree(strdup(t->work));
}

static const char *wpath(const struct tree *t, const char *name)
{
	static char buf[8][700];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, 700, "%s/%s", t->work, name);
	return p;
}

/* `mvmm ARGS...` (NULL-terminated) with stdin from in (NULL: /dev/null). */
static void mvmm(struct t_proc *p, const char *in, ...)
{
	char *argv[64];
	size_t n = 0;
	va_list ap;

	argv[n++] = (char *)t_mvmm_bin();
	va_start(ap, in);
	while ((argv[n] = va_arg(ap, char *)) != NULL)
		cr_assert(++n < 63);
	va_end(ap);
	lxt_exec(argv, NULL, in, MS, p);
	lxt_expect_no_sanitizer(argv[1], p);
}

/* The lines of instance k ("[k] " stripped), malloc'd. */
static char *inst_lines(const char *out, int k)
{
	char tag[16], *r = malloc(strlen(out) + 1);
	size_t o = 0, tl;

	cr_assert(r);
	tl = (size_t)snprintf(tag, sizeof(tag), "[%d] ", k);
	while (*out) {
		const char *nl = strchr(out, '\n');
		size_t l = nl ? (size_t)(nl - out) + 1 : strlen(out);

		if (l > tl && !strncmp(out, tag, tl)) {
			memcpy(r + o, out + tl, l - tl);
			o += l - tl;
		}
		out += l;
	}
	r[o] = '\0';
	return r;
}

static void expect_same_instances(const char *what, const char *a, const char *b)
{
	for (int k = 0; k < 2; k++) {
		char *x = inst_lines(a, k), *y = inst_lines(b, k);

		cr_expect(*x, "%s: no output from instance %d", what, k);
		cr_expect_str_eq(x, y, "%s: instance %d\n--- live:\n%s\n--- restored:\n%s", what, k,
				 x, y);
		free(x);
		free(y);
	}
}

static void write_text(const char *path, const char *s)
{
	t_write_file(path, s, strlen(s));
}

/* ---- snapshots through the command ---- */

Test(linux_snapshot, a_restored_base_runs_as_the_live_templates_clones)
{
	for (size_t l = 0; l < 2; l++) {
		char prog[256];
		struct tree t;
		struct t_proc live, snap, rest, info;

		lxt_prog(prog, sizeof(prog), "tplfile", lxt_libcs[l]);
		tree_make(&t);
		write_text(wpath(&t, "in"), "one\ntwo\n");
		mvmm(&live, NULL, "run", "--dir", t.spec, "--template", "--ready-on=stdin",
		     "--count", "2", prog, "a", "b", NULL);
		cr_assert_eq(live.status, 0, "%s: %s", prog, live.err);
		{
			char *i0 = inst_lines(live.out, 0);

			cr_expect(strstr(i0, "got: b\n  file at 14: 89abcdef\n  cwd: /data/sub, "
					     "rel.txt: relative ok\n  handler ran 2 times"),
				  "%s", live.out);
			free(i0);
		}
		mvmm(&snap, NULL, "run", "--dir", t.spec, "--template", "--ready-on=stdin",
		     "--snapshot", wpath(&t, "s"), "--count", "0", prog, NULL);
		cr_assert_eq(snap.status, 0, "%s: %s", prog, snap.err);
		cr_expect_str_eq(snap.out, "");
		mvmm(&info, NULL, "snapshot", "info", wpath(&t, "s"), NULL);
		cr_expect_eq(info.status, 0, "%s", info.err);
		cr_expect(strstr(info.out, "process:        cwd /data/sub"), "%s", info.out);
		cr_expect(strstr(info.out, "3 /data/input.txt"), "%s", info.out);
		cr_expect(strstr(info.out, "re-issuing its first read of stdin"), "%s", info.out);
		/* --count clones read their ARGS, one per line, as stdin. */
		mvmm(&rest, NULL, "run", "--dir", t.spec, "--from-snapshot", wpath(&t, "s"),
		     "--count", "2", "a", "b", NULL);
		cr_expect_eq(rest.status, 0, "%s: %s", prog, rest.err);
		expect_same_instances(prog, live.out, rest.out);
		cr_expect(!strstr(rest.err, "init:"), "the restored template booted again: %s",
			  rest.err);
		t_proc_free(&live);
		t_proc_free(&rest);
		/* One clone reads mvmm's stdin, as with --template. */
		mvmm(&live, wpath(&t, "in"), "run", "--dir", t.spec, "--template",
		     "--ready-on=stdin", prog, NULL);
		mvmm(&rest, wpath(&t, "in"), "run", "--dir", t.spec, "--from-snapshot",
		     wpath(&t, "s"), NULL);
		cr_expect_eq(live.status, 0, "%s", live.err);
		cr_expect_eq(rest.status, 0, "%s", rest.err);
		cr_expect_str_eq(rest.out, live.out);
		cr_expect(strstr(rest.out, "got: two\n"), "%s", rest.out);
		t_proc_free(&live);
		t_proc_free(&snap);
		t_proc_free(&rest);
		t_proc_free(&info);
		tree_free(&t);
	}
}

Test(linux_snapshot, checkpoint_diffs_carry_the_process_state)
{
	char prog[256], chain[1500];
	struct t_proc live, rest, info;
	struct tree t;
	const char *from;

	lxt_prog(prog, sizeof(prog), "tplfile", "musl");
	tree_make(&t);
	write_text(wpath(&t, "in"), "one\ncheckpoint\ntwo\n");
	write_text(wpath(&t, "in2"), "three\n");
	mvmm(&live, wpath(&t, "in"), "run", "--dir", t.spec, "--template", "--ready-on=stdin",
	     "--snapshot", wpath(&t, "c"), prog, NULL);
	cr_assert_eq(live.status, 0, "%s", live.err);
	cr_expect(strstr(live.out, "  checkpoint 1\n"), "%s", live.out);
	cr_assert_eq(access(wpath(&t, "c.1"), F_OK), 0, "no diff written");
	mvmm(&info, NULL, "snapshot", "info", wpath(&t, "c.1"), NULL);
	cr_expect(strstr(info.out, "kind:           diff (checkpoint 1)"), "%s", info.out);
	cr_expect(strstr(info.out, "process:        cwd "), "%s", info.out);
	snprintf(chain, sizeof(chain), "%s,%s", wpath(&t, "c"), wpath(&t, "c.1"));
	mvmm(&rest, wpath(&t, "in2"), "run", "--dir", t.spec, "--from-snapshot", chain, NULL);
	cr_expect_eq(rest.status, 0, "%s", rest.err);
	/* It resumes after its checkpoint call: stdio still holds that line's output and "two". */
	from = strstr(live.out, "got: checkpoint");
	cr_assert(from);
	cr_expect(!strncmp(rest.out, from, strlen(from)),
		  "--- restored:\n%s\n--- live from the "
		  "checkpoint:\n%s",
		  rest.out, from);
	cr_expect(strstr(rest.out, "got: three\n  file at 26: \n  cwd: /data/sub, rel.txt: "
				   "relative ok\n  handler ran 4 times"),
		  "%s", rest.out);
	t_proc_free(&live);
	t_proc_free(&rest);
	t_proc_free(&info);
	tree_free(&t);
}

Test(linux_snapshot, a_file_gone_at_restore_is_named_and_pipes_are_refused)
{
	char prog[256], moved[700];
	struct t_proc p;
	struct tree t;

	lxt_prog(prog, sizeof(prog), "tplfile", "glibc");
	tree_make(&t);
	mvmm(&p, NULL, "run", "--dir", t.spec, "--template", "--ready-on=stdin", "--snapshot",
	     wpath(&t, "s"), "--count", "0", prog, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	lxt_path(moved, sizeof(moved), t.dir, "moved.txt");
	{
		char in[700];

		lxt_path(in, sizeof(in), t.dir, "input.txt");
		cr_assert(rename(in, moved) == 0);
	}
	mvmm(&p, NULL, "run", "--dir", t.spec, "--from-snapshot", wpath(&t, "s"), "x", NULL);
	cr_expect_eq(p.status, 125);
	cr_expect(strstr(p.err, "/data/input.txt") && strstr(p.err, "cannot be opened again"), "%s",
		  p.err);
	t_proc_free(&p);
	/* Without the tree at all: the same. */
	mvmm(&p, NULL, "run", "--from-snapshot", wpath(&t, "s"), "x", NULL);
	cr_expect_eq(p.status, 125);
	cr_expect(strstr(p.err, "/data/input.txt"), "%s", p.err);
	t_proc_free(&p);
	/* Back in place: it restores again. */
	{
		char in[700];

		lxt_path(in, sizeof(in), t.dir, "input.txt");
		cr_assert(rename(moved, in) == 0);
	}
	mvmm(&p, NULL, "run", "--dir", t.spec, "--from-snapshot", wpath(&t, "s"), "x", NULL);
	cr_expect_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	/* A pipe cannot be saved: refused, and no file is left. */
	mvmm(&p, NULL, "run", "--env", "PIPE=1", "--dir", t.spec, "--template", "--ready-on=stdin",
	     "--snapshot", wpath(&t, "p"), "--count", "0", prog, NULL);
	cr_expect_eq(p.status, 125);
	cr_expect(strstr(p.err, "a Linux template with open pipes cannot be saved"), "%s", p.err);
	cr_expect_neq(access(wpath(&t, "p"), F_OK), 0);
	t_proc_free(&p);
	tree_free(&t);
}

/* ---- damaged and forged records ---- */

/* A snapshot file in memory: its header and its Linux record. */
struct snap_buf {
	uint8_t *b;
	size_t len;
	struct snap_header *h;
	uint8_t *lx;
};

static void snap_buf_load(struct snap_buf *s, const char *path)
{
	s->b = t_read_file(path, &s->len);
	s->h = (struct snap_header *)s->b;
	cr_assert(s->len >= sizeof(*s->h) && s->h->lx_size &&
		  s->h->lx_offset + s->h->lx_size == s->len);
	s->lx = s->b + s->h->lx_offset;
}

/* After a change made on purpose: the record's hash, the content hash and the checksum. */
static void snap_reseal(struct snap_buf *s)
{
	struct snap_header *h = s->h, c;

	XXH128_canonicalFromHash((XXH128_canonical_t *)h->lx_hash, XXH3_128bits(s->lx, h->lx_size));
	memcpy(&c, h, sizeof(c));
	memset(c.content_hash, 0, 16);
	c.header_checksum = 0;
	XXH128_canonicalFromHash((XXH128_canonical_t *)h->content_hash,
				 XXH3_128bits(&c, sizeof(c)));
	memcpy(c.content_hash, h->content_hash, 16);
	h->header_checksum = XXH3_64bits(&c, sizeof(c));
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* Where descriptor entry k (by position) starts in record r. */
static size_t rec_entry(const uint8_t *r, unsigned k)
{
	size_t off = LX_REC_FIXED + get32(r + 40) + 1 + (size_t)get32(r + 32) * 24 +
		     (size_t)get32(r + 36) * 16;

	while (k--)
		off += 68 + (get32(r + off + 64) ? get32(r + off + 64) + 1 : 0);
	return off;
}

/* The entry of descriptor fd in record r. */
static size_t rec_fd(const uint8_t *r, uint32_t fd)
{
	for (unsigned k = 0; k < get32(r + 28); k++)
		if (get32(r + rec_entry(r, k)) == fd)
			return rec_entry(r, k);
	cr_assert_fail("descriptor %u not in the record", fd);
	return 0;
}

/*
 * Damage number k done to record r (*len bytes, room for one more); what the refusal must
 * say, or NULL past the last. The offsets are the format's (vmm/guestabi/lx_save.c).
 */
static const char *damage(uint8_t *r, size_t *len, int k)
{
	size_t cwd = LX_REC_FIXED, vma = cwd + get32(r + 40) + 1, f3 = rec_fd(r, 3);

	cr_assert(get32(r + 32) >= 1, "the program mmaps: a mapping is in the record");
	/* clang-format off */
	switch (k) {
	case 0: put32(r + 8, 2); return "record version 2";
	case 1: put32(r + 12, 2800); return "sizes disagree";
	case 2: put64(r + 16, *len + 1); return "sizes disagree";
	case 3: put32(r + 24, 5000); return "counts out of range";
	case 4: put32(r + 28, 0xffffffffu); return "counts out of range";
	case 5: put32(r + 32, 0x7fffffffu); return "counts out of range";
	case 6: put32(r + 36, 17); return "counts out of range";
	case 7: put32(r + 40, 0); return "working directory";
	case 8: put32(r + 40, 0x10000000u); return "working directory";
	case 9: put32(r + 44, 07777); return "umask";
	case 10: put64(r + 48, 0x1000); return "program break starts";
	case 11: put64(r + 56, 1ull << 40); return "program break";
	case 12: put64(r + 64, get32(r + 64) + 4096ull); return "mmap area";
	case 13: put64(r + 72, 0xffffffff000ull); return "mmap area";
	case 14: put64(r + 80, 12345); return "kept ranges";
	case 15: put64(r + 88, 1ull << 8); return "SIGKILL or SIGSTOP";
	case 16: put32(r + 112, 5); return "dumpable";
	case 17: put32(r + 116, 3); return "alternate signal stack";
	case 18: put64(r + 152, 5); return "thread's addresses";
	case 19: put64(r + 160, 0x1000); return "AT_RANDOM";
	case 20: put32(r + 168, 2); return "dumpable";
	case 21: r[191] = 7; return "dumpable";
	case 22: put64(r + 256 + 9 * 32, 1ull << 50); return "the action of signal 10";
	case 23: put64(r + 256 + 9 * 32 + 8, 1ull << 40); return "the action of signal 10";
	case 24: put64(r + 256 + 8 * 32, 0x401000); return "the action of signal 9";
	case 25: put32(r + 2304 + 9 * 4, 5); return "si_code";
	case 26: put64(r + 2560 + 7 * 16 + 8, 4096); return "resource limit 7";
	case 27: r[cwd] = 'x'; return "not an absolute, normalised path";
	case 28: r[cwd + get32(r + 40)] = 'a'; return "NUL-terminated";
	case 29: memcpy(r + vma, r + vma + 8, 8); return "mapping 0";
	case 30: r[vma] |= 1; return "mapping 0";
	case 31: r[vma + 16] |= 4; return "mapping 0";
	case 32: r[vma + 20] = 1; return "padding";
	case 33: r[rec_fd(r, 0) + 4] = 4; return "descriptor 0: kind 4";
	case 34: r[rec_fd(r, 1) + 6] = 7; return "descriptor 1: not a stream";
	case 35: put32(r + f3, 2000); return "descriptor 2000 out of order";
	case 36: put32(r + f3 + 8, O_RDWR | O_CREAT); return "descriptor 3: flags";
	case 37: memcpy(r + f3 + 68, "/data/../passwd", 15); return "normalised path";
	case 38: r[f3 + 68 + 15] = 'x'; return "NUL-terminated";
	case 39: r[f3 + 7] = 4; return "descriptor 3: not a file";
	case 40: put32(r + f3 + 64, 0xffffffu); return "runs past the end";
	case 41: (*len)--; put64(r + 16, *len); return "runs past the end";
	case 42: r[(*len)++] = 0; put64(r + 16, *len); return "follow its last descriptor";
	case 43: r[0] = 'X'; return "bad magic";
	case 44: *len = 7; return "bad magic";
	case 45: *len = LX_REC_FIXED - 1; return "sizes disagree";
	default: return NULL;
	}
	/* clang-format on */
}

static void cfg_of(struct vm_config *cfg, struct lx_config *lx, struct lx_dir *d,
		   const struct tree *t)
{
	memset(cfg, 0, sizeof(*cfg));
	memset(lx, 0, sizeof(*lx));
	*d = (struct lx_dir){.host = t->dir, .guest = DATA};
	lx->dirs = d;
	lx->ndirs = 1;
	lx->strace_fd = 2;
	cfg->lx = lx;
}

Test(linux_snapshot, damaged_or_forged_records_are_refused_never_crash)
{
	char prog[256];
	struct vm_config cfg;
	struct lx_config lxc;
	struct lx_dir dir;
	struct snap_buf sb;
	struct t_proc p;
	struct tree t;
	enum lx_load_fail why;
	struct lx_proc *lp;
	uint8_t *r;
	size_t len, i;
	int fds = t_count_fds();

	lxt_prog(prog, sizeof(prog), "tplfile", "musl");
	tree_make(&t);
	cfg_of(&cfg, &lxc, &dir, &t);
	mvmm(&p, NULL, "run", "--dir", t.spec, "--template", "--ready-on=stdin", "--snapshot",
	     wpath(&t, "s"), "--count", "0", prog, NULL);
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	snap_buf_load(&sb, wpath(&t, "s"));
	r = malloc(sb.h->lx_size + 16);
	cr_assert(r);
	/* As saved: loads (the files opened again), and round-trips byte for byte. */
	lp = lx_proc_load(sb.lx, sb.h->lx_size, &cfg, sb.h->mem_size, NULL, LX_LOAD_SAME_FILES,
			  &why);
	cr_assert(lp, "%s", mvmm_errmsg());
	{
		uint8_t *again;
		size_t alen;

		cr_assert(lx_proc_save(lp, &again, &alen) == 0, "%s", mvmm_errmsg());
		cr_expect(alen == sb.h->lx_size && !memcmp(again, sb.lx, alen),
			  "a loaded record saves as another");
		free(again);
	}
	lx_proc_free(lp);
	/* Each damage: refused with its message, nothing leaked (descriptors, heap). */
	for (int k = 0;; k++) {
		const char *want;

		len = sb.h->lx_size;
		memcpy(r, sb.lx, len);
		want = damage(r, &len, k);
		if (!want)
			break;
		lp = lx_proc_load(r, len, &cfg, sb.h->mem_size, NULL, 0, &why);
		cr_expect_null(lp, "damage %d accepted", k);
		lx_proc_free(lp);
		cr_expect(strstr(mvmm_errmsg(), want), "damage %d: '%s' lacks '%s'", k,
			  mvmm_errmsg(), want);
		cr_expect(why == LX_LOAD_BAD, "damage %d: not called damage", k);
	}
	/* Sound records naming what this run cannot open: the files' fault, and named. */
	len = sb.h->lx_size;
	memcpy(r, sb.lx, len);
	memcpy(r + rec_fd(r, 3) + 68, "/data/nothere.x", 15);
	cr_expect_null(lx_proc_load(r, len, &cfg, sb.h->mem_size, NULL, 0, &why));
	cr_expect(why == LX_LOAD_FILES && strstr(mvmm_errmsg(), "/data/nothere.x"), "%s",
		  mvmm_errmsg());
	memcpy(r, sb.lx, len);
	put32(r + rec_fd(r, 3) + 8, O_WRONLY | O_LARGEFILE);
	cr_expect_null(lx_proc_load(r, len, &cfg, sb.h->mem_size, NULL, 0, &why));
	cr_expect(why == LX_LOAD_FILES && strstr(mvmm_errmsg(), "Read-only file system"), "%s",
		  mvmm_errmsg());
	/* Every byte flipped: loaded or refused, never a crash. */
	for (i = 0; i < sb.h->lx_size; i++) {
		memcpy(r, sb.lx, sb.h->lx_size);
		r[i] ^= 0x41;
		lp = lx_proc_load(r, sb.h->lx_size, &cfg, sb.h->mem_size, NULL, 0, &why);
		cr_expect(lp || strstr(mvmm_errmsg(), "Linux p"), "byte %zu: %s", i, mvmm_errmsg());
		lx_proc_free(lp);
	}
	cr_expect_eq(t_count_fds(), fds, "descriptors leaked");
	t_lsan_check();

	/* Through the command (and mvmm-asan under make test-asan): 125 and the message. */
	static const int via_command[] = {3, 5, 10, 13, 22, 27, 33, 37, 40};

	for (size_t n = 0; n < sizeof(via_command) / sizeof(via_command[0]); n++) {
		int k = via_command[n];
		char name[32];
		struct snap_buf f;
		const char *want;

		snap_buf_load(&f, wpath(&t, "s"));
		len = f.h->lx_size;
		want = damage(f.lx, &len, k);
		snap_reseal(&f);
		snprintf(name, sizeof(name), "bad%d", k);
		t_write_file(wpath(&t, name), f.b, f.len);
		mvmm(&p, NULL, "run", "--dir", t.spec, "--from-snapshot", wpath(&t, name), "x",
		     NULL);
		cr_expect_eq(p.status, 125, "damage %d: status %d, %s", k, p.status, p.err);
		cr_expect(strstr(p.err, "Linux process state is damaged") && strstr(p.err, want),
			  "damage %d: %s", k, p.err);
		t_proc_free(&p);
		mvmm(&p, NULL, "snapshot", "info", wpath(&t, name), NULL);
		cr_expect_eq(p.status, 125, "info of damage %d", k);
		t_proc_free(&p);
		free(f.b);
	}
	/* Not resealed: the section's hash; truncated; an older format. */
	sb.lx[100] ^= 1;
	t_write_file(wpath(&t, "flip"), sb.b, sb.len);
	sb.lx[100] ^= 1;
	mvmm(&p, NULL, "run", "--from-snapshot", wpath(&t, "flip"), NULL);
	cr_expect_eq(p.status, 125);
	cr_expect(strstr(p.err, "process state corrupted"), "%s", p.err);
	t_proc_free(&p);
	t_write_file(wpath(&t, "short"), sb.b, sb.len - 10);
	mvmm(&p, NULL, "run", "--from-snapshot", wpath(&t, "short"), NULL);
	cr_expect_eq(p.status, 125);
	cr_expect(strstr(p.err, "where the header says"), "%s", p.err);
	t_proc_free(&p);
	sb.h->format_version = 2;
	snap_reseal(&sb);
	t_write_file(wpath(&t, "old"), sb.b, sb.len);
	mvmm(&p, NULL, "run", "--from-snapshot", wpath(&t, "old"), NULL);
	cr_expect_eq(p.status, 125);
	cr_expect(strstr(p.err, "format version 2, this mvmm reads version 4 only"), "%s", p.err);
	t_proc_free(&p);
	free(r);
	free(sb.b);
	tree_free(&t);
}

/* ---- the image cache ---- */

static uint64_t cache_hits(const char *dir, size_t *entries)
{
	struct cache_opts o = {.dir = dir};
	struct cache_entry_info *v;
	uint64_t hits = 0;
	size_t n;

	cr_assert(cache_list(&o, &v, &n) == 0, "%s", mvmm_errmsg());
	for (size_t i = 0; i < n; i++)
		hits += v[i].hits;
	free(v);
	*entries = n;
	return hits;
}

/* The one entry file of dir, in buf. */
static void cache_entry_file(const char *dir, char *buf, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	cr_assert(d);
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name);

		if (l > 6 && !strcmp(e->d_name + l - 6, CACHE_SUFFIX)) {
			snprintf(buf, cap, "%s/%s", dir, e->d_name);
			n++;
		}
	}
	closedir(d);
	cr_assert_eq(n, 1, "%d entries", n);
}

/* Reads the entry at path: the whole file and its header (at the file's end, unaligned). */
static uint8_t *entry_read(const char *path, size_t *len, struct cache_header *h)
{
	uint8_t *b = t_read_file(path, len);

	cr_assert(*len > sizeof(*h));
	memcpy(h, b + *len - sizeof(*h), sizeof(*h));
	cr_assert(h->lx_size > 0, "a Linux template's entry without its process state");
	return b;
}

/* Writes the entry back with header h at its place (h->header_offset) and that length. */
static void entry_write(const char *path, uint8_t *b, const struct cache_header *h)
{
	memcpy(b + h->header_offset, h, sizeof(*h));
	t_write_file(path, b, (size_t)h->file_size);
}

static void cached_run(struct t_proc *p, const struct tree *t, const char *cache, const char *cwd,
		       const char *prog)
{
	if (cwd)
		mvmm(p, NULL, "run", "--cache-dir", cache, "--dir", t->spec, "--cwd", cwd,
		     "--template", "--ready-on=stdin", "--count", "2", prog, "a", "b", NULL);
	else
		mvmm(p, NULL, "run", "--cache-dir", cache, "--dir", t->spec, "--template",
		     "--ready-on=stdin", "--count", "2", prog, "a", "b", NULL);
	cr_assert_eq(p->status, 0, "%s", p->err);
}

Test(linux_snapshot, the_cache_keeps_a_linux_template_with_its_state)
{
	char prog[256], cache[700], entry[1400], in[700];
	struct cache_header h;
	struct t_proc first, p;
	struct tree t;
	size_t n, len;
	uint8_t *b;

	lxt_prog(prog, sizeof(prog), "tplfile", "glibc");
	tree_make(&t);
	snprintf(cache, sizeof(cache), "%s", wpath(&t, "cache"));
	cached_run(&first, &t, cache, NULL, prog);
	cr_expect(strstr(first.err, "init: HEADER"), "%s", first.err);
	cr_expect_eq(cache_hits(cache, &n), 0);
	cr_expect_eq(n, 1, "not stored");
	/* A hit: not booted again, the same clones. */
	cached_run(&p, &t, cache, NULL, prog);
	cr_expect(!strstr(p.err, "init:"), "booted again: %s", p.err);
	cr_expect_eq(cache_hits(cache, &n), 1);
	expect_same_instances("cache hit", first.out, p.out);
	t_proc_free(&p);

	/* The file it holds open changed: stale, rebuilt without a word, the new bytes read. */
	lxt_path(in, sizeof(in), t.dir, "input.txt");
	write_text(in, "HEADERabcdefghijklmnopqrst");
	cached_run(&p, &t, cache, NULL, prog);
	cr_expect(strstr(p.err, "init: HEADER") && !strstr(p.err, "warning"), "%s", p.err);
	cr_expect(strstr(p.out, "[1]   file at 6: abcdefgh"), "%s", p.out);
	cr_expect_eq(cache_hits(cache, &n), 0);
	cr_expect_eq(n, 1);
	t_proc_free(&p);
	write_text(in, INPUT);
	cached_run(&p, &t, cache, NULL, prog);
	t_proc_free(&p);

	/* Damage to its record: warned, removed, rebuilt; the run goes on. */
	cache_entry_file(cache, entry, sizeof(entry));
	b = entry_read(entry, &len, &h);
	b[h.lx_offset + 40] ^= 1;
	t_write_file(entry, b, len);
	cached_run(&p, &t, cache, NULL, prog);
	cr_expect(strstr(p.err, "process state corrupted") &&
			  strstr(p.err, "removed, rebuilding"),
		  "%s", p.err);
	expect_same_instances("after damage", first.out, p.out);
	t_proc_free(&p);
	free(b);
	/* Forged with good checksums: a break outside the program's end. */
	b = entry_read(entry, &len, &h);
	memcpy(b + h.lx_offset + 48, &(uint64_t){0x1000}, 8);
	snap_hash128(b + h.lx_offset, h.lx_size, h.lx_hash);
	cache_header_seal(&h);
	entry_write(entry, b, &h);
	cached_run(&p, &t, cache, NULL, prog);
	cr_expect(strstr(p.err, "the Linux process state is damaged: the program break") &&
			  strstr(p.err, "removed, rebuilding"),
		  "%s", p.err);
	expect_same_instances("after a forged record", first.out, p.out);
	t_proc_free(&p);
	free(b);
	/* Forged without its record: a Linux program's template is refused without one. */
	b = entry_read(entry, &len, &h);
	h.lx_size = 0;
	memset(h.lx_hash, 0, 16);
	h.header_offset = h.lx_offset;
	h.file_size = h.header_offset + sizeof(h);
	cache_header_seal(&h);
	entry_write(entry, b, &h);
	cached_run(&p, &t, cache, NULL, prog);
	cr_expect(strstr(p.err, "a template without its process state") &&
			  strstr(p.err, "removed, rebuilding"),
		  "%s", p.err);
	t_proc_free(&p);
	free(b);

	/* --cwd (and --dir, --ready-on) are in the key: another entry. */
	cached_run(&p, &t, cache, "/data", prog);
	cache_hits(cache, &n);
	cr_expect_eq(n, 2, "--cwd /data found the entry made without it");
	t_proc_free(&p);
	t_proc_free(&first);
	tree_free(&t);
}
