/*
 * test_snapshot_share.c: snapshot layers shared across processes. 20 mvmm processes restoring
 * one chain (a base and a checkpoint diff), each held in its guest's read of stdin, hold one
 * copy of the base: the proportional set size (PSS, /proc/PID/smaps) of the base file's
 * mappings summed over the 20 is about one copy, where a base copied into each process's
 * memfd (a group-writable file, which is never mapped) costs one copy each. A diff between two
 * different VMs restores the second exactly; a truncated base, one of an older format, one
 * changed in a hole are refused with their messages; mvmm serve --from-snapshot answers
 * launches. The program: tests/linux/snapfill.c (16 MiB of state before its first read).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdarg.h>
#include <xxhash.h>

#include "clone/snapshot.h"
#include "guestabi/lx_run.h"

TestSuite(snapshot_share, .init = lxt_need_kvm, .timeout = 300);

#define MS   60000
#define N    20
#define BIG  (16ull << 20) /* the program's state (tests/linux/snapfill.c) */
#define SEED (256ull << 10)

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

static const char *wpath(const char *dir, const char *name)
{
	static char buf[8][700];
	static int i;
	char *p = buf[i++ % 8];

	snprintf(p, 700, "%s/%s", dir, name);
	return p;
}

static void write_text(const char *path, const char *s)
{
	t_write_file(path, s, strlen(s));
}

/* A snapshot of snapfill (seed) at its first stdin read: path, and with lines, its diffs. */
static void take(const char *dir, const char *name, const char *prog, const char *seed,
		 const char *mem, const char *lines)
{
	struct t_proc p;

	write_text(wpath(dir, "in"), lines ? lines : "");
	mvmm(&p, wpath(dir, "in"), "run", "--template", "--ready-on=stdin", "--mem", mem,
	     "--snapshot", wpath(dir, name), "--count", lines ? "1" : "0", prog, seed, NULL);
	cr_assert_eq(p.status, 0, "snapshot %s: %s", name, p.err);
	t_proc_free(&p);
}

/* A restoring mvmm held in its guest's read of stdin. */
struct held {
	pid_t pid;
	int in, out;
};

static void hold_start(struct held *h, const char *chain)
{
	char *argv[] = {(char *)t_mvmm_bin(), "run", "--from-snapshot", (char *)chain, NULL};
	int in[2], out[2];

	cr_assert(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0);
	h->pid = fork();
	cr_assert(h->pid >= 0);
	if (h->pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	h->in = in[1];
	h->out = out[0];
}

/*
 * Sends "go\n" to h and returns the guest's answer to it (static buffer): the line that ends
 * "line go" (a chain ending at a checkpoint prints the rest of that line's work first).
 */
static const char *hold_ask(struct held *h)
{
	static char buf[512];
	size_t n;

	cr_assert(write(h->in, "go\n", 3) == 3);
again:
	n = 0;
	while (n < sizeof(buf) - 1) {
		struct pollfd pfd = {.fd = h->out, .events = POLLIN};
		ssize_t r;

		cr_assert(poll(&pfd, 1, MS) == 1, "no answer from process %d", (int)h->pid);
		r = read(h->out, buf + n, 1);
		cr_assert(r == 1, "process %d ended", (int)h->pid);
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = '\0';
	if (!strstr(buf, "line go\n"))
		goto again;
	return buf;
}

static int hold_end(struct held *h)
{
	int st = 0;

	close(h->in);
	close(h->out);
	cr_assert(waitpid(h->pid, &st, 0) == h->pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Rss and Pss (bytes) of pid's mappings whose path starts with name (smaps). */
static void smaps_of(pid_t pid, const char *name, uint64_t *rss, uint64_t *pss)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	int in = 0;
	FILE *f;

	*rss = *pss = 0;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	cr_assert(f, "%s", path);
	while (getline(&line, &cap, f) > 0) {
		unsigned long kb, lo, hi;
		char perms[5], *sp;

		/* a mapping's first line: "lo-hi perms offset dev inode   path" */
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3) {
			sp = strchr(line, '/');
			in = sp && !strncmp(sp, name, strlen(name));
			continue;
		}
		if (!in)
			continue;
		if (sscanf(line, "Rss: %lu kB", &kb) == 1)
			*rss += kb << 10;
		else if (sscanf(line, "Pss: %lu kB", &kb) == 1)
			*pss += kb << 10;
	}
	free(line);
	fclose(f);
}

/*
 * N processes restoring chain, each asked one line (which reads all 16 MiB of the state):
 * the summed Rss and Pss of the mappings named name, and the most Rss one process has.
 */
static void measure(const char *chain, int n, const char *name, uint64_t *rss_sum,
		    uint64_t *pss_sum, uint64_t *rss_min, char *answer, size_t cap)
{
	struct held h[N];
	int i;

	*rss_sum = *pss_sum = 0;
	*rss_min = UINT64_MAX;
	for (i = 0; i < n; i++)
		hold_start(&h[i], chain);
	for (i = 0; i < n; i++) {
		const char *a = hold_ask(&h[i]);

		if (i == 0)
			snprintf(answer, cap, "%s", a);
		cr_expect_str_eq(a, answer, "process %d answered otherwise", i);
	}
	/* every guest has read its whole state, and waits in its next read */
	for (i = 0; i < n; i++) {
		uint64_t rss, pss;

		smaps_of(h[i].pid, name, &rss, &pss);
		*rss_sum += rss;
		*pss_sum += pss;
		if (rss < *rss_min)
			*rss_min = rss;
	}
	for (i = 0; i < n; i++)
		cr_expect_eq(hold_end(&h[i]), 0);
}

Test(snapshot_share, twenty_processes_restoring_one_chain_hold_one_copy_of_its_base)
{
	char *dir = lxt_tmpdir(), prog[256], chain[1500], answer[512], copied[512];
	uint64_t rss, pss, rss_min, diff_rss, diff_pss, diff_min;

	lxt_prog(prog, sizeof(prog), "snapfill", "musl");
	/* the base at the first read; the diff: "set Q" wrote 256 KiB, then a checkpoint */
	take(dir, "s", prog, "seed1", "64", "set Q\ncheckpoint\n");
	snprintf(chain, sizeof(chain), "%s,%s", wpath(dir, "s"), wpath(dir, "s.1"));

	measure(chain, N, wpath(dir, "s"), &rss, &pss, &rss_min, answer, sizeof(answer));
	cr_expect(strstr(answer, "seed seed1 sum "), "%s", answer);
	fprintf(stderr,
		"%d processes restoring base+diff, base file mappings: Rss %.1f MiB in all (at "
		"least %.1f MiB each), PSS %.1f MiB in all\n",
		N, rss / 1048576.0, rss_min / 1048576.0, pss / 1048576.0);
	/* each process maps the state it read: 16 MiB less the 256 KiB the diff replaced */
	cr_expect_geq(rss_min, BIG - 2 * SEED, "a process maps %lu bytes of the base",
		      (unsigned long)rss_min);
	/* one copy, not N: the pages are the page cache's, counted 1/N in each process */
	cr_expect_lt(pss, rss_min + rss_min / 2,
		     "PSS of the base in %d processes is %lu bytes: more than one copy", N,
		     (unsigned long)pss);
	/* the diff is each process's own, and small */
	measure(chain, 3, "/memfd:mvmm-snapshot-diffs", &diff_rss, &diff_pss, &diff_min, copied,
		sizeof(copied));
	cr_expect_str_eq(copied, answer);
	cr_expect_leq(diff_rss, 3 * 2 * SEED, "diff pages %lu bytes", (unsigned long)diff_rss);

	/* A base others may write is read, verified and copied into each process: N copies. */
	cr_assert(chmod(wpath(dir, "s"), 0664) == 0);
	measure(chain, 3, "/memfd:mvmm-snapshot", &rss, &pss, &rss_min, copied, sizeof(copied));
	cr_expect_str_eq(copied, answer, "the copied chain answers as the mapped one");
	fprintf(stderr, "3 processes, the base copied: PSS %.1f MiB in all\n", pss / 1048576.0);
	cr_expect_geq(pss, 3 * (BIG - 2 * SEED), "copied bases are each process's own");
	lxt_rmtree(dir);
}

Test(snapshot_share, a_diff_between_two_different_vms_restores_the_second)
{
	char *dir = lxt_tmpdir(), prog[256], glibc[256], chain[1500];
	struct t_proc a, b, ad, d, info;

	lxt_prog(prog, sizeof(prog), "snapfill", "musl");
	lxt_prog(glibc, sizeof(glibc), "snapfill", "glibc");
	take(dir, "a", prog, "alpha", "64", NULL);
	take(dir, "b", prog, "beta", "64", NULL);
	mvmm(&d, NULL, "snapshot", "diff", wpath(dir, "a"), wpath(dir, "b"), "-o",
	     wpath(dir, "d"), NULL);
	cr_assert_eq(d.status, 0, "%s", d.err);
	cr_expect(strstr(d.out, "pages differ"), "%s", d.out);
	mvmm(&info, NULL, "snapshot", "info", wpath(dir, "d"), NULL);
	cr_expect(strstr(info.out, "kind:           diff (checkpoint 1)"), "%s", info.out);
	t_proc_free(&info);

	write_text(wpath(dir, "lines"), "go\nset Z\nagain\n");
	mvmm(&a, wpath(dir, "lines"), "run", "--from-snapshot", wpath(dir, "a"), NULL);
	mvmm(&b, wpath(dir, "lines"), "run", "--from-snapshot", wpath(dir, "b"), NULL);
	snprintf(chain, sizeof(chain), "%s,%s", wpath(dir, "a"), wpath(dir, "d"));
	mvmm(&ad, wpath(dir, "lines"), "run", "--from-snapshot", chain, NULL);
	cr_expect_eq(ad.status, 0, "%s", ad.err);
	cr_expect_str_eq(ad.out, b.out, "A,D resumes B");
	cr_expect(strstr(ad.out, "seed beta sum"), "%s", ad.out);
	cr_expect_str_neq(a.out, b.out);
	t_proc_free(&a);
	t_proc_free(&b);
	t_proc_free(&ad);
	t_proc_free(&d);

	/* Another memory size, another program: refused, no file written. */
	take(dir, "big", prog, "beta", "128", NULL);
	mvmm(&d, NULL, "snapshot", "diff", wpath(dir, "a"), wpath(dir, "big"), "-o",
	     wpath(dir, "x"), NULL);
	cr_expect_eq(d.status, 125);
	cr_expect(strstr(d.err, "a diff joins snapshots of one memory size"), "%s", d.err);
	t_proc_free(&d);
	take(dir, "g", glibc, "beta", "64", NULL);
	mvmm(&d, NULL, "snapshot", "diff", wpath(dir, "a"), wpath(dir, "g"), "-o",
	     wpath(dir, "x"), NULL);
	cr_expect_eq(d.status, 125);
	cr_expect(strstr(d.err, "different guest programs"), "%s", d.err);
	cr_expect_neq(access(wpath(dir, "x"), F_OK), 0);
	t_proc_free(&d);
	lxt_rmtree(dir);
}

/* After a change made on purpose: the header's hashes, as anyone can compute them. */
static void reseal(struct snap_header *h)
{
	struct snap_header c;

	memcpy(&c, h, sizeof(c));
	memset(c.content_hash, 0, 16);
	c.header_checksum = 0;
	XXH128_canonicalFromHash((XXH128_canonical_t *)h->content_hash,
				 XXH3_128bits(&c, sizeof(c)));
	memcpy(c.content_hash, h->content_hash, 16);
	h->header_checksum = XXH3_64bits(&c, sizeof(c));
}

static void expect_refused(const char *dir, const char *name, const char *want)
{
	struct t_proc p;

	mvmm(&p, NULL, "run", "--from-snapshot", wpath(dir, name), NULL);
	cr_expect_eq(p.status, 125, "%s: status %d", name, p.status);
	cr_expect(strstr(p.err, want), "%s: %s", name, p.err);
	t_proc_free(&p);
}

Test(snapshot_share, a_tampered_base_is_refused)
{
	char *dir = lxt_tmpdir(), prog[256];
	struct snap_header *h;
	struct snap_file f;
	uint64_t hole, i;
	uint8_t *b;
	size_t len;

	lxt_prog(prog, sizeof(prog), "snapfill", "musl");
	take(dir, "s", prog, "seed1", "64", NULL);
	b = t_read_file(wpath(dir, "s"), &len);
	h = (struct snap_header *)b;
	cr_assert_eq(h->format_version, SNAP_FORMAT_VERSION);
	/* truncated: one page of the guest's memory short */
	t_write_file(wpath(dir, "short"), b, len - 4096);
	expect_refused(dir, "short", "where the header says");
	/* a byte put in a hole (a page the base does not store): damage, not a zero page */
	cr_assert(snap_verify(b, len, "s", &f) == 0, "%s", mvmm_errmsg());
	for (hole = h->mem_size / 4096 / 2, i = 0; i < f.hdr.index_entries; i++)
		if (f.index[i] == hole)
			hole++;
	b[h->data_offset + hole * 4096 + 100] ^= 1;
	t_write_file(wpath(dir, "hole"), b, len);
	b[h->data_offset + hole * 4096 + 100] ^= 1;
	expect_refused(dir, "hole", "is not stored but does not read as zeros");
	/* an older format, resealed: named by its version */
	h->format_version = 3;
	reseal(h);
	t_write_file(wpath(dir, "old"), b, len);
	expect_refused(dir, "old", "format version 3, this mvmm reads version 4 only");
	free(b);
	lxt_rmtree(dir);
}

Test(snapshot_share, serve_from_snapshot_answers_launches)
{
	char *dir = lxt_tmpdir(), prog[256], chain[1500], sock[700], log[700];
	struct t_proc p;
	pid_t srv;
	int i;

	lxt_prog(prog, sizeof(prog), "snapfill", "musl");
	take(dir, "s", prog, "served", "64", "set Q\ncheckpoint\n");
	snprintf(chain, sizeof(chain), "%s,%s", wpath(dir, "s"), wpath(dir, "s.1"));
	snprintf(sock, sizeof(sock), "%s", wpath(dir, "sock"));
	snprintf(log, sizeof(log), "%s", wpath(dir, "log"));
	srv = fork();
	cr_assert(srv >= 0);
	if (srv == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		dup2(fd, 2);
		execl(t_mvmm_bin(), t_mvmm_bin(), "serve", "--socket", sock, "--from-snapshot",
		      chain, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 600; i++) {
		char *l = t_slurp(log);
		int ready = strstr(l, "ready on") != NULL;

		free(l);
		if (ready)
			break;
		usleep(10000);
	}
	{
		char *l = t_slurp(log);

		cr_assert(strstr(l, "restored from its snapshot"), "%s", l);
		free(l);
	}
	for (i = 0; i < 3; i++) {
		mvmm(&p, NULL, "launch", "--socket", sock, "hello", NULL);
		cr_expect_eq(p.status, 0, "%s", p.err);
		/* resumed after the checkpoint: the state "set Q" left, the launch's line */
		cr_expect(strstr(p.out, "seed served sum") && strstr(p.out, "line hello"), "%s",
			  p.out);
		t_proc_free(&p);
	}
	kill(srv, SIGTERM);
	cr_assert(waitpid(srv, NULL, 0) == srv);
	/* no guest program with --from-snapshot */
	mvmm(&p, NULL, "serve", "--socket", sock, "--from-snapshot", chain, prog, NULL);
	cr_expect_eq(p.status, 125);
	cr_expect(strstr(p.err, "takes no guest program"), "%s", p.err);
	t_proc_free(&p);
	lxt_rmtree(dir);
}
