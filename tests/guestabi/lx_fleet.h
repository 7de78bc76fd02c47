/*
 * lx_fleet.h: helpers for the suites that run Linux programs as templates, clones and fleets
 * (test_linux_template.c, test_linux_fleet.c, mem/test_linux_dedup.c, serve/test_linux_serve.c):
 * one instance's lines out of `--count N` output ("[i] " prefixes), fields of the --stats=json
 * lines, the "random: HEX" lines tests/linux/tplread.c prints.
 */
#ifndef MVMM_TEST_LX_FLEET_H
#define MVMM_TEST_LX_FLEET_H

#include "guestabi/lx_run.h"

#define LXF_ARGS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define LXF_TABLE     "table: 0cd00000\n" /* tplread's check of its 1 MiB table */

/* The test's temporary directory: removed by lxf_cleanup, the suites' .fini, failed or not. */
static char *lxf_dir;

static inline char *lxf_tmpdir(void)
{
	cr_assert_null(lxf_dir, "one temporary directory at a time");
	lxf_dir = lxt_tmpdir();
	return lxf_dir;
}

static inline void lxf_cleanup(void)
{
	lxt_rmtree(lxf_dir);
	lxf_dir = NULL;
}

/*
 * The lines instance i printed under --count N > 1 ("[i] LINE"), in order, without the prefix
 * (malloc'd, NUL-terminated).
 */
static inline char *lxf_instance(const char *out, unsigned i)
{
	char prefix[24];
	size_t plen, len = 0, cap = 0;
	char *r = NULL;

	snprintf(prefix, sizeof(prefix), "[%u] ", i);
	plen = strlen(prefix);
	lxt_append(&r, &len, &cap, "", 0);
	while (*out) {
		const char *nl = strchr(out, '\n');
		size_t l = nl ? (size_t)(nl - out) + 1 : strlen(out);

		if (l >= plen && !strncmp(out, prefix, plen))
			lxt_append(&r, &len, &cap, out + plen, l - plen);
		out += l;
	}
	return r;
}

/* The number after "KEY": in line (a --stats=json object), or a test failure. */
static inline long lxf_json_num(const char *line, const char *key)
{
	char pat[128];
	const char *at, *end = strchr(line, '\n');
	char *stop;
	long v;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	at = strstr(line, pat);
	cr_assert(at && (!end || at < end), "no %s in %.400s", key, line);
	v = strtol(at + strlen(pat), &stop, 10);
	cr_assert(stop != at + strlen(pat), "%s is not a number in %.400s", key, line);
	return v;
}

/* Whether line (up to its newline) has "KEY":VALUE, VALUE as JSON text (true, "exit", 0). */
static inline int lxf_json_is(const char *line, const char *key, const char *value)
{
	char pat[128];
	const char *at, *end = strchr(line, '\n');

	snprintf(pat, sizeof(pat), "\"%s\":%s", key, value);
	at = strstr(line, pat);
	return at && (!end || at < end) && strchr(",}", at[strlen(pat)]);
}

/* The --stats=json summary line in err, or a test failure. */
static inline const char *lxf_summary(const char *err)
{
	const char *s = strstr(err, "{\"summary\":true");

	cr_assert(s, "no --stats=json summary in:\n%.3000s", err);
	return s;
}

/* The --stats=json line of instance i in err, or a test failure. */
static inline const char *lxf_instance_stats(const char *err, unsigned i)
{
	char pat[40];
	const char *s;

	snprintf(pat, sizeof(pat), "{\"instance\":%u,", i);
	s = strstr(err, pat);
	cr_assert(s, "no --stats=json line for instance %u in:\n%.3000s", i, err);
	return s;
}

/* The 32 hex digits after the first "random: " at or after s, in hex[33]; 0 if there is none. */
static inline int lxf_random(const char *s, char hex[33])
{
	const char *at = strstr(s, "random: ");

	hex[0] = '\0';
	if (!at || strspn(at + 8, "0123456789abcdef") != 32)
		return 0;
	memcpy(hex, at + 8, 32);
	hex[32] = '\0';
	return 1;
}

/* Whether the 32 hex digits are all zero (AT_RANDOM never filled in). */
static inline int lxf_zero_random(const char *hex)
{
	return strspn(hex, "0") == 32;
}

#endif
