/* cli_shm.c: parse --shm and "---" groups for `mvmm run`; create and destroy the regions. */
#define _GNU_SOURCE
#include "cli_shm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"

static int shm_usage(const char *why)
{
	fprintf(stderr, "mvmm run: %s\n(see 'mvmm help run')\n", why);
	return -1;
}

int cli_shm_option(struct cli_shm *s, const char *arg)
{
	const char *colon = strchr(arg, ':');
	char size[64];
	const char *rest;
	size_t nlen, slen;
	unsigned i;

	if (s->n == CLI_SHM_MAX)
		return shm_usage("too many --shm regions (at most 16)");
	if (!colon || !shm_name_ok(arg, (size_t)(colon - arg)))
		return shm_usage("--shm needs NAME:SIZE[:ro], NAME of 1-63 letters, digits, _ - .");
	nlen = (size_t)(colon - arg);
	rest = strchr(colon + 1, ':');
	slen = rest ? (size_t)(rest - colon - 1) : strlen(colon + 1);
	if (slen >= sizeof(size))
		return shm_usage("--shm: bad SIZE");
	memcpy(size, colon + 1, slen);
	size[slen] = '\0';
	if (cli_parse_size(size, &s->spec[s->n].size) < 0 || !s->spec[s->n].size ||
	    s->spec[s->n].size % MVMM_PAGE_SIZE || s->spec[s->n].size > MVMM_SHM_WINDOW)
		return shm_usage("--shm SIZE must be a multiple of 4K, at most 512M");
	if (rest && strcmp(rest, ":ro") != 0)
		return shm_usage("--shm NAME:SIZE takes only ':ro' after it");
	for (i = 0; i < s->n; i++)
		if (strlen(s->spec[i].name) == nlen && memcmp(s->spec[i].name, arg, nlen) == 0)
			return shm_usage("--shm: the same NAME twice");
	/* The name stays in argv: cut it there would change the user's argument; copy it. */
	s->spec[s->n].name = strndup(arg, nlen);
	if (!s->spec[s->n].name)
		return shm_usage("out of memory");
	s->spec[s->n].ro = rest != NULL;
	s->n++;
	return 0;
}

int cli_shm_create(struct cli_shm *s, unsigned guests)
{
	unsigned i;

	for (i = 0; i < s->n; i++) {
		s->spec[i].region = shm_region_create(s->spec[i].size);
		if (!s->spec[i].region)
			return -1;
		/* every instance of the run gets every region: a waiter left alone gets EPIPE */
		shm_region_expect(s->spec[i].region, guests);
		s->grants[i].name = s->spec[i].name;
		shm_region_handle(s->spec[i].region, s->spec[i].ro, &s->grants[i].handle);
	}
	s->grants[s->n].name = NULL;
	return 0;
}

void cli_shm_destroy(struct cli_shm *s)
{
	unsigned i;

	for (i = 0; i < s->n; i++) {
		shm_region_destroy(s->spec[i].region);
		free((char *)s->spec[i].name);
		s->spec[i].region = NULL;
		s->spec[i].name = NULL;
	}
	s->n = 0;
}

int cli_groups_split(int *argc, char **argv, struct cli_group *groups, unsigned max)
{
	int i, n = *argc, cut = -1;
	unsigned ng = 0;

	for (i = 1; i < n; i++) {
		if (strcmp(argv[i], "---") != 0)
			continue;
		argv[i] = NULL;
		if (cut < 0)
			cut = i;
		if (++ng >= max)
			return shm_usage("too many '---' groups");
		groups[ng].argv = NULL;
		groups[ng].count = 1;
		if (i + 2 < n && strcmp(argv[i + 1], "--count") == 0) {
			char *end;
			unsigned long c = strtoul(argv[i + 2], &end, 10);

			if (*argv[i + 2] < '1' || *argv[i + 2] > '9' || *end || c > 100000)
				return shm_usage("--count needs a number from 1 to 100000");
			groups[ng].count = (unsigned)c;
			i += 2;
		} else if (i + 1 < n && strncmp(argv[i + 1], "--count=", 8) == 0) {
			char *end;
			unsigned long c = strtoul(argv[i + 1] + 8, &end, 10);

			if (argv[i + 1][8] < '1' || argv[i + 1][8] > '9' || *end || c > 100000)
				return shm_usage("--count needs a number from 1 to 100000");
			groups[ng].count = (unsigned)c;
			i += 1;
		}
		if (i + 1 < n && strcmp(argv[i + 1], "---") != 0)
			groups[ng].argv = argv + i + 1;
		else
			return shm_usage("'---' needs a guest program after it");
		if (argv[i + 1][0] == '-')
			return shm_usage("after '---' only --count N may precede the guest program");
	}
	if (cut >= 0)
		*argc = cut;
	return (int)ng;
}
