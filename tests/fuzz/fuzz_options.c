/* fuzz_options.c: libFuzzer target: the mvmm command's option parsers (cli_parse_size,
 * cli_parse_seconds, cli_shm_option, cli_groups_split) on the input cut into an argv. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_shm.h"
#include "mvmm_abi.h"

#include "fuzz.h"

/* Input: the arguments after "mvmm run", NUL-separated (at most FUZZ_ARGS of them). */
#define FUZZ_ARGS 256

static void check_shm(const struct cli_shm *s)
{
	unsigned i, j;

	FUZZ_CHECK(s->n <= CLI_SHM_MAX, "%u regions", s->n);
	for (i = 0; i < s->n; i++) {
		size_t len = strlen(s->spec[i].name);

		FUZZ_CHECK(len >= 1 && len < MVMM_SHM_NAME_MAX, "name of %zu bytes", len);
		FUZZ_CHECK(strspn(s->spec[i].name,
				  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "0123456789_-.") == len,
			   "name '%s'", s->spec[i].name);
		FUZZ_CHECK(s->spec[i].size && s->spec[i].size % MVMM_PAGE_SIZE == 0 &&
				   s->spec[i].size <= MVMM_SHM_WINDOW,
			   "size %lu", (unsigned long)s->spec[i].size);
		for (j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(s->spec[i].name, s->spec[j].name) != 0, "'%s' twice",
				   s->spec[i].name);
	}
}

static void check_groups(int argc, int before, char **argv, int ng, const struct cli_group *g)
{
	int i;

	FUZZ_CHECK(ng >= -1 && ng < CLI_GROUPS_MAX, "%d groups", ng);
	if (ng < 0)
		return;
	FUZZ_CHECK(argc >= 1 && argc <= before && argv[argc] == NULL, "argc %d of %d", argc,
		   before);
	FUZZ_CHECK(ng == 0 || argc < before, "groups without a cut");
	for (i = 1; i <= ng; i++) {
		FUZZ_CHECK(g[i].argv > argv + argc && g[i].argv < argv + before && g[i].argv[0],
			   "group %d outside argv", i);
		FUZZ_CHECK(g[i].argv[0][0] != '-', "group %d starts with '%s'", i, g[i].argv[0]);
		FUZZ_CHECK(g[i].count >= 1 && g[i].count <= 100000, "group %d count %u", i,
			   g[i].count);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cli_group groups[CLI_GROUPS_MAX];
	char *argv[FUZZ_ARGS + 2], *buf, *p;
	struct cli_shm shm;
	int argc = 1, before, ng, i;
	uint64_t v;

	buf = malloc(size + 1);
	fuzz_need(buf != NULL, "malloc");
	memcpy(buf, data, size);
	buf[size] = '\0';
	argv[0] = "mvmm";
	for (p = buf; argc <= FUZZ_ARGS && p <= buf + size; p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;

	memset(&shm, 0, sizeof(shm));
	for (i = 1; i < argc; i++) {
		if (cli_parse_size(argv[i], &v) == 0)
			FUZZ_LOG("options: size '%s' = %lu\n", argv[i], (unsigned long)v);
		if (cli_parse_seconds(argv[i], &v) == 0)
			FUZZ_CHECK(v > 0 && v <= 1000000000ull * 1000000000ull, "'%s': %lu ns",
				   argv[i], (unsigned long)v);
		cli_shm_option(&shm, argv[i]);
	}
	check_shm(&shm);
	cli_shm_destroy(&shm);

	before = argc;
	memset(groups, 0, sizeof(groups));
	ng = cli_groups_split(&argc, argv, groups, CLI_GROUPS_MAX);
	FUZZ_LOG("options: %d arguments, %d groups\n", before, ng);
	check_groups(argc, before, argv, ng, groups);
	free(buf);
	return 0;
}
