/*
 * test_commands.c: the command line as people know it: per-command help, errors that name
 * the command and the option (with the nearest one), --mem in MiB, --env NAME, paths
 * checked at start, --output-dir reused, --cache-max against a big entry, the JSON of
 * cache ls and snapshot info, the man pages and the bash completion.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_help.h"
#include "harness.h"

#define LIMIT_MS 30000
#define BUSYBOX	 "/bin/busybox"

static const char *const commands[] = {"run", "serve", "launch", "snapshot", "cache", NULL};

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/mvmm-commands-XXXXXX");
	cr_assert(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	(void)!system(cmd);
}

TestSuite(commands, .init = setup, .fini = teardown, .timeout = 120);

static char *in_dir(const char *name)
{
	static char path[4][128];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
	return path[i];
}

static void expect_usage_error(struct t_proc *p, const char *needle)
{
	cr_expect_eq(p->status, 125, "status %d, stderr:\n%s", p->status, p->err);
	cr_expect(strstr(p->err, needle), "'%s' not in stderr:\n%s", needle, p->err);
}

/*
 * The command's long options from its getopt table, as `mvmm help --options CMD` lists
 * them ("--name" a line, "--name=" when it takes a value); the caller frees.
 */
static char *options_of(const char *cmd)
{
	struct t_proc p;
	char *out;

	T_MVMM(&p, LIMIT_MS, "help", "--options", (char *)cmd);
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert(strstr(p.out, "--help\n"), "%s", p.out);
	out = p.out;
	p.out = NULL;
	t_proc_free(&p);
	return out;
}

/* Calls fn(name without "--" nor "=", takes_value, ctx) for each option of cmd. */
static void each_option(const char *cmd, void (*fn)(const char *, int, void *), void *ctx)
{
	char *list = options_of(cmd), *save = NULL;

	for (char *l = strtok_r(list, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(l);
		int value = n && l[n - 1] == '=';

		cr_assert(!strncmp(l, "--", 2), "%s", l);
		if (value)
			l[n - 1] = '\0';
		fn(l + 2, value, ctx);
	}
	free(list);
}

static char *help_of(const char *cmd)
{
	struct t_proc p;
	char *out;

	T_MVMM(&p, LIMIT_MS, "help", (char *)cmd);
	cr_assert_eq(p.status, 0, "%s", p.err);
	out = p.out;
	p.out = NULL;
	t_proc_free(&p);
	return out;
}

/* ---- help ------------------------------------------------------------------------------ */

Test(commands, each_command_has_its_help_three_ways)
{
	for (int i = 0; commands[i]; i++) {
		char *cmd = (char *)commands[i];
		char usage[64];
		struct t_proc a, b, c;

		snprintf(usage, sizeof(usage), "usage: mvmm %s", cmd);
		T_MVMM(&a, LIMIT_MS, "help", cmd);
		T_MVMM(&b, LIMIT_MS, cmd, "--help");
		T_MVMM(&c, LIMIT_MS, cmd, "-h");
		cr_expect_eq(a.status, 0, "help %s: %s", cmd, a.err);
		cr_expect_eq(b.status, 0, "%s --help: %s", cmd, b.err);
		cr_expect_eq(c.status, 0, "%s -h: %s", cmd, c.err);
		cr_expect(strstr(a.out, usage), "help %s:\n%s", cmd, a.out);
		cr_expect_str_eq(a.out, b.out);
		cr_expect_str_eq(a.out, c.out);
		t_proc_free(&a);
		t_proc_free(&b);
		t_proc_free(&c);
	}
}

Test(commands, overview_lists_every_command_and_version_has_V)
{
	struct t_proc p, q;

	T_MVMM(&p, LIMIT_MS, "help");
	T_MVMM(&q, LIMIT_MS, "--help");
	cr_expect_eq(p.status, 0);
	cr_expect_str_eq(p.out, q.out);
	for (int i = 0; commands[i]; i++)
		cr_expect(strstr(p.out, commands[i]), "%s missing:\n%s", commands[i], p.out);
	t_proc_free(&p);
	t_proc_free(&q);
	T_MVMM(&p, LIMIT_MS, "-V");
	T_MVMM(&q, LIMIT_MS, "--version");
	cr_expect_eq(p.status, 0);
	cr_expect(strstr(p.out, "mvmm "), "%s", p.out);
	cr_expect_str_eq(p.out, q.out);
	t_proc_free(&p);
	t_proc_free(&q);
	T_MVMM(&p, LIMIT_MS, "help", "frob");
	expect_usage_error(&p, "no command 'frob'");
	t_proc_free(&p);
}

/* The run help keeps what the one big text had: exit statuses, the cache, the environment. */
Test(commands, run_help_keeps_statuses_cache_and_environment)
{
	static const char *const needles[] = {"123", "124", "125", "134", "159", "128+N",
					      "--cache-max", "MVMM_HINTS", "---", NULL};
	struct t_proc p;

	T_MVMM(&p, LIMIT_MS, "help", "run");
	for (int i = 0; needles[i]; i++)
		cr_expect(strstr(p.out, needles[i]), "'%s' missing", needles[i]);
	t_proc_free(&p);
}

/* Every long option of a command's getopt table is in its help. */
struct in_text {
	const char *cmd, *text;
	int roff; /* '-' written "\\-" */
};

static void expect_in_text(const char *name, int value, void *ctx)
{
	const struct in_text *t = ctx;
	char word[96], *w = word;

	(void)value;
	w += sprintf(w, t->roff ? "\\-\\-" : "--");
	for (const char *c = name; *c; c++)
		w += *c == '-' && t->roff ? sprintf(w, "\\-") : sprintf(w, "%c", *c);
	cr_expect(strstr(t->text, word), "mvmm %s: %s missing", t->cmd, word);
}

Test(commands, every_option_is_in_its_help)
{
	for (int i = 0; commands[i]; i++) {
		struct in_text t = {commands[i], help_of(commands[i]), 0};

		each_option(commands[i], expect_in_text, &t);
		free((char *)t.text);
	}
}

/* ---- option errors --------------------------------------------------------------------- */

Test(commands, errors_name_the_command_and_the_option)
{
	struct t_proc p;

	T_MVMM(&p, LIMIT_MS, "run", "--foo", T_GUEST("hello"));
	expect_usage_error(&p, "mvmm run: unknown option '--foo'");
	cr_expect(!strstr(p.err, "did you mean"), "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--mem");
	expect_usage_error(&p, "mvmm run: option '--mem' needs a value");
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "serve", "--socket");
	expect_usage_error(&p, "mvmm serve: option '--socket' needs a value");
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "launch", "--bogus");
	expect_usage_error(&p, "mvmm launch: unknown option '--bogus'");
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "cache", "ls", "--nope");
	expect_usage_error(&p, "mvmm cache: unknown option '--nope'");
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--hold=yes", T_GUEST("hello"));
	expect_usage_error(&p, "option '--hold' takes no value");
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "-k", T_GUEST("hello"));
	expect_usage_error(&p, "unknown option '-k'");
	t_proc_free(&p);
}

Test(commands, a_misspelt_option_gets_the_nearest)
{
	static const struct {
		const char *cmd, *bad, *near;
	} cases[] = {
		{"run", "--mme", "'--mem'"},	     {"run", "--timout", "'--timeout'"},
		{"run", "--tempalte", "'--template'"}, {"serve", "--sockt", "'--socket'"},
		{"cache", "--jsno", "'--json'"},     {"run", "--cache-mx", "'--cache-max'"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct t_proc p;
		char want[64];

		snprintf(want, sizeof(want), "did you mean %s?", cases[i].near);
		T_MVMM(&p, LIMIT_MS, (char *)cases[i].cmd, (char *)cases[i].bad, "x");
		expect_usage_error(&p, want);
		t_proc_free(&p);
	}
}

Test(commands, nearest_is_only_offered_when_close)
{
	static const char *const names[] = {"run", "serve", "launch", "snapshot", "cache", NULL};
	static const struct option opts[] = {
		{"mem", required_argument, NULL, 'm'},
		{"dedup", optional_argument, NULL, 'D'},
		{"dedup-budget", required_argument, NULL, 'D'},
		{NULL, 0, NULL, 0},
	};

	cr_expect_str_eq(cli_nearest("rnu", 3, NULL, names), "run");
	cr_expect_str_eq(cli_nearest("snapshto", 8, NULL, names), "snapshot");
	cr_expect_str_eq(cli_nearest("mme", 3, opts, NULL), "mem");
	cr_expect_str_eq(cli_nearest("dedup-budegt", 12, opts, NULL), "dedup-budget");
	cr_expect_null(cli_nearest("foo", 3, opts, NULL));
	cr_expect_null(cli_nearest("frobnicate", 10, NULL, names));
	cr_expect_null(cli_nearest("xyz", 3, NULL, names));
	cr_expect_null(cli_nearest("", 0, NULL, names));
}

Test(commands, unknown_command_suggests)
{
	struct t_proc p;

	T_MVMM(&p, LIMIT_MS, "rnu", T_GUEST("hello"));
	expect_usage_error(&p, "unknown command 'rnu' (did you mean 'run'?)");
	t_proc_free(&p);
}

/* ---- values ---------------------------------------------------------------------------- */

Test(cli, parse_mem_plain_number_is_mib)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{"64", 64ull << 20}, {"8", 8ull << 20},	    {"1024", 1024ull << 20},
		{"64M", 64ull << 20}, {"65536K", 64ull << 20}, {"1G", 1ull << 30},
		{"64MiB", 64ull << 20}, {"0", 0},
	};
	uint64_t v;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		v = 1;
		cr_expect_eq(cli_parse_mem(good[i].s, &v), 0, "'%s' refused", good[i].s);
		cr_expect_eq(v, good[i].v, "'%s' gave %lu", good[i].s, (unsigned long)v);
	}
	v = 7;
	cr_expect_eq(cli_parse_mem("17592186044416", &v), -1, "2^44 MiB overflows");
	cr_expect_eq(cli_parse_mem("64X", &v), -1);
	cr_expect_eq(v, 7);
}

Test(commands, mem_64_runs_with_64_mib)
{
	struct t_proc p;

	T_MVMM(&p, LIMIT_MS, "run", "--mem", "64", T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.out, T_HELLO_TEXT));
	t_proc_free(&p);
	/* 65536 was 64 KiB in bytes; as MiB it is 64 GiB: beyond the limit either way */
	T_MVMM(&p, LIMIT_MS, "run", "--mem", "4", T_GUEST("hello"));
	expect_usage_error(&p, "outside 8 MiB");
	t_proc_free(&p);
}

Test(commands, env_name_alone_takes_the_hosts_value)
{
	struct t_proc p;

	setenv("MVMM_T_SET", "from the host", 1);
	unsetenv("MVMM_T_UNSET");
	T_MVMM(&p, LIMIT_MS, "run", "--env", "MVMM_T_SET", "--env", "MVMM_T_UNSET", "--env",
	       "MVMM_T_GIVEN=x=y", BUSYBOX, "env");
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.out, "MVMM_T_SET=from the host\n"), "%s", p.out);
	cr_expect(strstr(p.out, "MVMM_T_GIVEN=x=y\n"), "%s", p.out);
	cr_expect(!strstr(p.out, "MVMM_T_UNSET"), "an unset variable was set:\n%s", p.out);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--env", "=x", T_GUEST("hello"));
	expect_usage_error(&p, "--env needs NAME=VALUE or NAME");
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--env", "", T_GUEST("hello"));
	expect_usage_error(&p, "--env needs NAME=VALUE or NAME");
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "serve", "--socket", in_dir("s"), "--env", "=x", T_GUEST("hello"));
	expect_usage_error(&p, "mvmm serve: --env needs");
	t_proc_free(&p);
}

/* ---- paths checked at start ------------------------------------------------------------ */

Test(commands, missing_expose_and_dir_paths_are_refused_at_start)
{
	char *file = in_dir("file");
	struct t_proc p;

	t_write_file(file, "x\n", 2);
	T_MVMM(&p, LIMIT_MS, "run", "--expose", in_dir("nothing"), T_GUEST("hello"));
	expect_usage_error(&p, "--expose");
	cr_expect(strstr(p.err, "nothing") && strstr(p.err, "No such file"), "%s", p.err);
	cr_expect(!strstr(p.out, T_HELLO_TEXT), "the guest ran");
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--dir", in_dir("nodir"), T_GUEST("hello"));
	expect_usage_error(&p, "--dir: no such directory on the host");
	cr_expect(strstr(p.err, "nodir"), "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--dir", file, T_GUEST("hello"));
	expect_usage_error(&p, "--dir: not a directory");
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "serve", "--socket", in_dir("s"), "--dir",
	       (char *)"/no/such/tree:/data", T_GUEST("hello"));
	expect_usage_error(&p, "mvmm serve: --dir: no such directory on the host: /no/such/tree");
	t_proc_free(&p);
	/* and an existing file and tree still work */
	T_MVMM(&p, LIMIT_MS, "run", "--expose", file, "--dir", dir, BUSYBOX, "cat", file);
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect_str_eq(p.out, "x\n");
	t_proc_free(&p);
}

/* ---- --output-dir ---------------------------------------------------------------------- */

Test(commands, output_dir_refuses_a_file_and_an_unwritable_dir)
{
	char *file = in_dir("plain"), *ro = in_dir("ro");
	struct t_proc p;

	t_write_file(file, "x", 1);
	T_MVMM(&p, LIMIT_MS, "run", "--output-dir", file, T_GUEST("hello"));
	expect_usage_error(&p, "not a directory");
	t_proc_free(&p);
	cr_assert(mkdir(ro, 0500) == 0);
	T_MVMM(&p, LIMIT_MS, "run", "--output-dir", ro, T_GUEST("hello"));
	expect_usage_error(&p, "not writable");
	cr_expect(!strstr(p.out, T_HELLO_TEXT), "the guest ran");
	t_proc_free(&p);
}

Test(commands, output_dir_replaces_an_earlier_runs_files)
{
	char *out = in_dir("out"), path[192];
	struct t_proc p;
	char *text;

	cr_assert(mkdir(out, 0700) == 0);
	snprintf(path, sizeof(path), "%s/0.out", out);
	t_write_file(path, "stale line of an earlier run\n", 29);
	snprintf(path, sizeof(path), "%s/1.err", out);
	t_write_file(path, "stale\n", 6);
	for (int run = 0; run < 2; run++) {
		T_MVMM(&p, LIMIT_MS, "run", "--count", "2", "--output-dir", out, T_GUEST("hello"));
		cr_expect_eq(p.status, 0, "%s", p.err);
		t_proc_free(&p);
	}
	snprintf(path, sizeof(path), "%s/0.out", out);
	text = t_slurp(path);
	cr_assert(text);
	cr_expect(!strstr(text, "stale"), "%s", text);
	cr_expect(strstr(text, T_HELLO_TEXT), "%s", text);
	/* one run's output, not two appended */
	cr_expect_null(strstr(strstr(text, T_HELLO_TEXT) + 1, T_HELLO_TEXT), "%s", text);
	free(text);
	snprintf(path, sizeof(path), "%s/1.err", out);
	text = t_slurp(path);
	cr_expect(!text || !strstr(text, "stale"), "%s", text);
	free(text);
}

/* ---- the cache ------------------------------------------------------------------------- */

static int count_entries(const char *cache)
{
	char cmd[256];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls %s/*.mvmmc 2>/dev/null | wc -l", cache);
	f = popen(cmd, "r");
	cr_assert(f);
	cr_assert(fscanf(f, "%d", &n) == 1);
	pclose(f);
	return n;
}

Test(commands, an_entry_larger_than_cache_max_is_not_stored)
{
	char *cache = in_dir("cache");
	struct t_proc p;

	T_MVMM(&p, LIMIT_MS, "run", "--cache-dir", cache, "--cache-max", "4K", T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.out, T_HELLO_TEXT));
	cr_expect(strstr(p.err, "not stored") && strstr(p.err, "--cache-max"), "%s", p.err);
	t_proc_free(&p);
	cr_expect_eq(count_entries(cache), 0, "an entry over the cap was kept");
	/* the same run with room stores it */
	T_MVMM(&p, LIMIT_MS, "run", "--cache-dir", cache, T_GUEST("hello"));
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(!strstr(p.err, "not stored"), "%s", p.err);
	t_proc_free(&p);
	cr_expect_eq(count_entries(cache), 1);
}

Test(commands, cache_ls_json)
{
	char *cache = in_dir("cache");
	struct t_proc p;

	T_MVMM(&p, LIMIT_MS, "cache", "ls", "--json", "--cache-dir", cache);
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.out, "\"entries\":[]") && strstr(p.out, "\"total_bytes\":0"), "%s",
		  p.out);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--cache-dir", cache, T_GUEST("hello"), "an-arg");
	cr_expect_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "cache", "ls", "--json", "--cache-dir", cache);
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(p.out[0] == '{' && strstr(p.out, "}\n"), "%s", p.out);
	cr_expect(strstr(p.out, "\"kind\":\"image\""), "%s", p.out);
	cr_expect(strstr(p.out, "\"guest\":\"hello.elf\""), "%s", p.out);
	cr_expect(strstr(p.out, "\"mem_bytes\":67108864"), "%s", p.out);
	cr_expect(strstr(p.out, "\"hits\":0"), "%s", p.out);
	cr_expect(strstr(p.out, "\"dir\":\""), "%s", p.out);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "cache", "verify", "--json", "--cache-dir", cache);
	expect_usage_error(&p, "--json goes with ls only");
	t_proc_free(&p);
}

Test(commands, snapshot_info_json)
{
	char *snap = in_dir("snap");
	struct t_proc p;

	T_MVMM(&p, LIMIT_MS, "run", "--template", "--snapshot", snap, "--count", "0",
	       T_TEST_GUEST("served"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "snapshot", "info", "--json", snap);
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(p.out[0] == '{', "%s", p.out);
	cr_expect(strstr(p.out, "\"kind\":\"base\""), "%s", p.out);
	cr_expect(strstr(p.out, "\"mem_bytes\":67108864"), "%s", p.out);
	cr_expect(strstr(p.out, "\"resume\":\"clone-ready\""), "%s", p.out);
	cr_expect(strstr(p.out, "\"elf_path\":\""), "%s", p.out);
	cr_expect(!strstr(p.out, "\"parent\""), "a base has no parent: %s", p.out);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "snapshot", "info", snap, "--json", in_dir("none"));
	cr_expect_eq(p.status, 125, "%s", p.err);
	cr_expect(strstr(p.out, "\"kind\":\"base\""), "the good file is still described");
	t_proc_free(&p);
}

/* ---- man pages and completion (built by make into build/man and build/completion) ------ */

static char *slurp_or_skip(const char *path)
{
	char *text = t_slurp(path);

	cr_assert(text, "%s missing: build it with make", path);
	return text;
}

/* Every long option of every command is in its man page (roff writes '-' as "\\-"). */
Test(commands, every_option_is_in_its_man_page)
{
	for (int i = 0; commands[i]; i++) {
		char path[128];
		struct in_text t = {commands[i], NULL, 1};

		snprintf(path, sizeof(path), "build/man/mvmm-%s.1", commands[i]);
		t.text = slurp_or_skip(path);
		each_option(commands[i], expect_in_text, &t);
		free((char *)t.text);
	}
}

Test(commands, man_pages_format_without_warnings)
{
	const char *pages[] = {"mvmm", "mvmm-run", "mvmm-serve", "mvmm-launch", "mvmm-snapshot",
			       "mvmm-cache", NULL};

	for (int i = 0; pages[i]; i++) {
		char cmd[256];
		FILE *f;
		char buf[512];
		size_t n;

		snprintf(cmd, sizeof(cmd),
			 "groff -man -Tutf8 -ww -z build/man/%s.1 2>&1 >/dev/null; echo rc=$?",
			 pages[i]);
		f = popen(cmd, "r");
		cr_assert(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		pclose(f);
		cr_expect_str_eq(buf, "rc=0\n", "%s: %s", pages[i], buf);
	}
}

/* The completion script offers exactly each command's long options. */
struct completion {
	const char *cmd;
	char padded[4096];
	size_t n;
};

static void expect_completed(const char *name, int value, void *ctx)
{
	struct completion *c = ctx;
	char word[96];

	snprintf(word, sizeof(word), " --%s%s ", name, value ? "=" : "");
	cr_expect(strstr(c->padded, word), "%s: '%s' missing", c->cmd, word);
	c->n++;
}

Test(commands, completion_matches_the_option_tables)
{
	char *script = slurp_or_skip("build/completion/mvmm");

	for (int i = 0; commands[i]; i++) {
		struct completion c = {commands[i], "", 0};
		char key[64], *line, *end;
		size_t words = 0;

		snprintf(key, sizeof(key), "\n\t%s) opts='", commands[i]);
		line = strstr(script, key);
		cr_assert(line, "no options for %s in the completion", commands[i]);
		line += strlen(key);
		end = strchr(line, '\'');
		cr_assert(end);
		snprintf(c.padded, sizeof(c.padded), " %.*s ", (int)(end - line), line);
		each_option(commands[i], expect_completed, &c);
		/* and nothing else: as many words as options */
		for (char *w = strtok(c.padded, " "); w; w = strtok(NULL, " "))
			words++;
		cr_expect_eq(words, c.n, "%s: %zu words for %zu options", commands[i], words, c.n);
	}
	free(script);
}
