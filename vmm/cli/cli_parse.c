/*
 * cli_parse.c: option value parsers of the mvmm command (sizes, durations),
 * how a wrong option is told, and the process set-up.
 */
#include "cli.h"
#include "cli_help.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int cli_parse_size(const char *s, uint64_t *bytes)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	default:
		break;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'B' || *end == 'b') && shift)
		end++;
	if (*end || v > (UINT64_MAX >> shift))
		return -1;
	*bytes = (uint64_t)v << shift;
	return 0;
}

int cli_parse_mem(const char *s, uint64_t *bytes)
{
	uint64_t v;

	if (cli_parse_size(s, &v) < 0)
		return -1;
	if (s[strspn(s, "0123456789")] == '\0') {
		if (v > (UINT64_MAX >> 20))
			return -1;
		v <<= 20; /* a plain number is MiB, as QEMU's -m */
	}
	*bytes = v;
	return 0;
}

int cli_parse_seconds(const char *s, uint64_t *ns)
{
	double v;
	char *end;

	if (!s || !*s || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v > 0) || v > 1e9)
		return -1;
	*ns = (uint64_t)(v * 1e9);
	return *ns ? 0 : -1;
}

void cli_raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Edit distance of a and b, a swap of two neighbours counting once (optimal string alignment). */
#define NEAR_MAX 48

static unsigned edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned d[NEAR_MAX + 1][NEAR_MAX + 1];
	size_t i, j;

	for (i = 0; i <= la; i++)
		d[i][0] = (unsigned)i;
	for (j = 0; j <= lb; j++)
		d[0][j] = (unsigned)j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1], v = d[i - 1][j - 1] + cost;

			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

const char *cli_nearest(const char *word, size_t len, const struct option *opts,
			const char *const *names)
{
	const char *best = NULL, *name;
	unsigned best_d = ~0u, limit;
	size_t k;

	if (!word || !len || len > NEAR_MAX)
		return NULL;
	/* one slip in a short name, two in a longer one: beyond that it is another word */
	limit = len <= 4 ? 1 : 2;
	for (k = 0;; k++) {
		unsigned d;

		name = names ? names[k] : opts[k].name;
		if (!name)
			break;
		if (strlen(name) > NEAR_MAX)
			continue;
		d = edit_distance(word, len, name, strlen(name));
		if (d < best_d) {
			best_d = d;
			best = name;
		}
	}
	return best_d <= limit ? best : NULL;
}

int cli_option_error(const char *cmd, int c, char *const argv[], const struct option *opts)
{
	const char *arg = optind > 0 ? argv[optind - 1] : NULL, *near = NULL;
	size_t len = 0;

	if (arg && arg[0] == '-' && arg[1] == '-') {
		len = strcspn(arg + 2, "=");
		near = cli_nearest(arg + 2, len, opts, NULL);
	}
	if (c == ':') {
		if (arg && arg[0] == '-' && arg[1] == '-')
			fprintf(stderr, "mvmm %s: option '--%.*s' needs a value\n", cmd, (int)len,
				arg + 2);
		else
			fprintf(stderr, "mvmm %s: option '-%c' needs a value\n", cmd, optopt);
	} else if (optopt && optopt < 0x80 && !(arg && arg[0] == '-' && arg[1] == '-')) {
		fprintf(stderr, "mvmm %s: unknown option '-%c'\n", cmd, optopt);
	} else if (optopt && arg && arg[2 + len] == '=') {
		/* a known option given a value it does not take */
		fprintf(stderr, "mvmm %s: option '--%.*s' takes no value\n", cmd, (int)len, arg + 2);
	} else if (arg && arg[0] == '-' && arg[1] == '-') {
		size_t k, hits = 0;

		for (k = 0; opts[k].name; k++)
			hits += strncmp(opts[k].name, arg + 2, len) == 0;
		if (hits > 1)
			fprintf(stderr, "mvmm %s: option '--%.*s' is ambiguous\n", cmd, (int)len,
				arg + 2);
		else if (near)
			fprintf(stderr, "mvmm %s: unknown option '--%.*s' (did you mean '--%s'?)\n",
				cmd, (int)len, arg + 2, near);
		else
			fprintf(stderr, "mvmm %s: unknown option '--%.*s'\n", cmd, (int)len, arg + 2);
	} else {
		fprintf(stderr, "mvmm %s: unknown option '%s'\n", cmd, arg ? arg : "?");
	}
	fprintf(stderr, "(see 'mvmm help %s')\n", cmd);
	return -1;
}
