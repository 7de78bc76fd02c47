/* test_parse.c: the command line's option parsers (sizes, durations), without KVM. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "cli/cli.h"

/* ---- option parsers ------------------------------------------------------------------- */

Test(cli, parse_size_good)
{
	static const struct {
		const char *s;
		uint64_t v;
	} good[] = {
		{ "64M", 64ull << 20 },	   { "1G", 1ull << 30 },	{ "65536", 65536 },
		{ "512K", 512ull << 10 },  { "512k", 512ull << 10 },	{ "8m", 8ull << 20 },
		{ "2g", 2ull << 30 },	   { "64MiB", 64ull << 20 },	{ "64MB", 64ull << 20 },
		{ "1Gi", 1ull << 30 },	   { "0", 0 },			{ "007", 7 },
		{ "18446744073709551615", UINT64_MAX },		{ "17179869183G", 17179869183ull << 30 },
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t v = 12345;

		cr_expect_eq(cli_parse_size(good[i].s, &v), 0, "'%s' refused", good[i].s);
		cr_expect_eq(v, good[i].v, "'%s' gave %lu", good[i].s, (unsigned long)v);
	}
}

Test(cli, parse_size_bad)
{
	static const char *const bad[] = {
		"",	     "M",    "-1",   "+5",  " 64M", "64M ", "64X", "64MM", "64Mx", "abc",
		"0x10",	     "1.5G", "64 M", "1T",  "iB",   "64B",  "64i",  "64MiBB",
		"18446744073709551616", /* 2^64 */
		"17179869184G",		/* 2^64 after the shift */
		"99999999999999999999999999",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t v = 12345;

		cr_expect_eq(cli_parse_size(bad[i], &v), -1, "'%s' accepted as %lu", bad[i],
			     (unsigned long)v);
		cr_expect_eq(v, 12345, "'%s' clobbered the result", bad[i]);
	}
	cr_expect_eq(cli_parse_size(NULL, NULL), -1);
}

Test(cli, parse_seconds_good)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} good[] = {
		{ "1", 1000000000ull },	 { "0.5", 500000000ull },  { "2.25", 2250000000ull },
		{ "60", 60000000000ull }, { "0.001", 1000000ull }, { "1e-3", 1000000ull },
		{ "1000000000", 1000000000000000000ull },
	};
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t ns = 0;

		cr_expect_eq(cli_parse_seconds(good[i].s, &ns), 0, "'%s' refused", good[i].s);
		/* Binary fractions: allow one nanosecond of rounding. */
		cr_expect(ns + 1 >= good[i].ns && ns <= good[i].ns + 1, "'%s' gave %lu ns",
			  good[i].s, (unsigned long)ns);
	}
}

Test(cli, parse_seconds_bad)
{
	static const char *const bad[] = {
		"",   "0",   "0.0",	 "-1",	  "-0.5", "abc", " 1", "1s", "1 ", "nan", "inf",
		"-inf", "1e10", "1000000001", "1e-10", "1e400", ".",  "1..2",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t ns = 777;

		cr_expect_eq(cli_parse_seconds(bad[i], &ns), -1, "'%s' accepted as %lu ns", bad[i],
			     (unsigned long)ns);
	}
	cr_expect_eq(cli_parse_seconds(NULL, NULL), -1);
}
