/* cmd_cache.c: `mvmm cache ls|verify|clear`, and the cache options run and serve share. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli.h"
#include "cli_cache.h"
#include "cli_help.h"
#include "core/error.h"
#include "core/log.h"

#define CLI_CACHE_JSON 0x1a0

const struct option cli_cache_longopts[] = {
	CLI_CACHE_LONGOPTS,
	{"json", no_argument, NULL, CLI_CACHE_JSON},
	CLI_HELP_LONGOPT,
	{NULL, 0, NULL, 0},
};

int cli_cache_option(struct cache_opts *o, int c, const char *arg, const char *cmd)
{
	switch (c) {
	case CLI_CACHE_DIR:
		o->dir = arg;
		return 1;
	case CLI_CACHE_OFF:
		o->off = 1;
		return 1;
	case CLI_CACHE_MAX:
		if (cli_parse_size(arg, &o->max_bytes) < 0 || !o->max_bytes) {
			fprintf(stderr, "mvmm %s: --cache-max needs a size such as 512M or 4G\n"
					"(see 'mvmm help %s')\n", cmd, cmd);
			return -1;
		}
		return 1;
	case CLI_HUGE:
		if (huge_mode_parse(arg, &o->huge) < 0) {
			fprintf(stderr, "mvmm %s: --huge-pages takes auto, thp, hugetlb or off\n"
					"(see 'mvmm help %s')\n", cmd, cmd);
			return -1;
		}
		return 1;
	default:
		return 0;
	}
}

void cli_cache_warn(const struct cache_status *st)
{
	if (st->warning[0] && vlog_on(VLOG_WARN)) /* not with -q */
		fprintf(stderr, "mvmm: warning: %s\n", st->warning);
}

static void human(uint64_t bytes, char *out, size_t len)
{
	if (bytes >= (1ull << 30))
		snprintf(out, len, "%.1fG", (double)bytes / (1ull << 30));
	else if (bytes >= (1ull << 20))
		snprintf(out, len, "%.1fM", (double)bytes / (1ull << 20));
	else
		snprintf(out, len, "%.0fK", (double)bytes / 1024);
}

static void age(uint64_t then, char *out, size_t len)
{
	uint64_t now = (uint64_t)time(NULL), s = now > then ? now - then : 0;

	if (!then)
		snprintf(out, len, "-");
	else if (s < 120)
		snprintf(out, len, "%lus", (unsigned long)s);
	else if (s < 7200)
		snprintf(out, len, "%lum", (unsigned long)(s / 60));
	else if (s < 172800)
		snprintf(out, len, "%luh", (unsigned long)(s / 3600));
	else
		snprintf(out, len, "%lud", (unsigned long)(s / 86400));
}

static const char *entry_kind(const struct cache_entry_info *e)
{
	if (e->problem)
		return e->problem;
	return e->hdr.key.kind == CACHE_TEMPLATE ? "template" : "image";
}

/* `cache ls --json`: one object, the fields documented in the help (cli_help.c). */
static int cache_ls_json(const char *dir, const struct cache_entry_info *v, size_t n)
{
	json_object *root = json_object_new_object(), *arr = json_object_new_array();
	uint64_t total = 0;
	size_t i;
	int r = -1;

	if (!root || !arr)
		goto out;
	json_object_object_add(root, "dir", json_object_new_string(dir));
	json_object_object_add(root, "entries", arr);
	for (i = 0; i < n; i++) {
		const struct cache_header *h = &v[i].hdr;
		json_object *e = json_object_new_object();

		if (!e || json_object_array_add(arr, e) < 0) {
			json_object_put(e);
			goto out;
		}
		json_object_object_add(e, "key", json_object_new_string(v[i].key));
		json_object_object_add(e, "kind", json_object_new_string(entry_kind(&v[i])));
		json_object_object_add(e, "mem_bytes", json_object_new_uint64(h->key.mem_size));
		json_object_object_add(e, "disk_bytes", json_object_new_uint64(v[i].disk_bytes));
		json_object_object_add(e, "created", json_object_new_uint64(h->created_s));
		json_object_object_add(e, "last_use",
				       json_object_new_uint64(v[i].last_use_ns / 1000000000ull));
		json_object_object_add(e, "hits", json_object_new_uint64(v[i].hits));
		json_object_object_add(e, "verified", json_object_new_boolean(v[i].verified));
		/* from the file: bounded, but not necessarily NUL-terminated or UTF-8 */
		json_object_object_add(e, "guest", json_object_new_string_len(
				h->elf_name, (int)strnlen(h->elf_name, sizeof(h->elf_name))));
		json_object_object_add(e, "args", json_object_new_string_len(
				h->args, (int)strnlen(h->args, sizeof(h->args))));
		total += v[i].disk_bytes;
	}
	json_object_object_add(root, "total_bytes", json_object_new_uint64(total));
	puts(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	r = 0;
	arr = NULL;
out:
	json_object_put(arr);
	json_object_put(root);
	if (r < 0)
		fprintf(stderr, "mvmm cache: out of memory\n");
	return r;
}

static int cache_ls(const struct cache_opts *o, int json)
{
	struct cache_entry_info *v;
	uint64_t total = 0;
	size_t n, i;
	char *dir = cache_dir_path(o);

	if (!dir || cache_list(o, &v, &n) < 0) {
		fprintf(stderr, "mvmm cache: %s\n", mvmm_errmsg());
		free(dir);
		return CLI_STATUS_ERROR;
	}
	if (json) {
		int r = cache_ls_json(dir, v, n);

		free(v);
		free(dir);
		return r < 0 ? CLI_STATUS_ERROR : 0;
	}
	printf("%-32s  %-8s %5s %7s %5s %5s %5s %6s  %s\n", "KEY", "KIND", "MEM", "SIZE", "AGE",
	       "USED", "HITS", "CHECK", "GUEST");
	for (i = 0; i < n; i++) {
		const struct cache_header *h = &v[i].hdr;
		char size[32], created[32], used[32], mem[32];

		human(v[i].disk_bytes, size, sizeof(size));
		age(h->created_s, created, sizeof(created));
		age(v[i].last_use_ns / 1000000000ull, used, sizeof(used));
		snprintf(mem, sizeof(mem), "%luM", (unsigned long)(h->key.mem_size >> 20));
		printf("%-32s  %-8s %5s %7s %5s %5s %5lu %6s  %s%s%s\n", v[i].key, entry_kind(&v[i]),
		       mem, size, created, used, (unsigned long)v[i].hits,
		       v[i].verified ? "ok" : "-", h->elf_name, h->args[0] ? " " : "", h->args);
		total += v[i].disk_bytes;
	}
	{
		char t[32];

		human(total, t, sizeof(t));
		printf("%zu entries, %s on disk, in %s\n", n, t, dir);
	}
	free(v);
	free(dir);
	return 0;
}

int cmd_cache(int argc, char **argv)
{
	struct cache_opts o = {0};
	const char *verb;
	int c, r, json = 0;

	optind = 0;
	opterr = 0;
	/* Options before or after the verb: getopt moves the verb to the end. */
	while ((c = getopt_long(argc, argv, ":h", cli_cache_longopts, NULL)) != -1) {
		if (c == 'h')
			return cli_help_print("cache", stdout);
		if (c == CLI_CACHE_JSON) {
			json = 1;
			continue;
		}
		r = c == '?' || c == ':' ? 0 : cli_cache_option(&o, c, optarg, "cache");
		if (r < 0)
			return CLI_STATUS_ERROR;
		if (r == 0) {
			cli_option_error("cache", c, argv, cli_cache_longopts);
			return CLI_STATUS_ERROR;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "mvmm cache: ls, verify or clear\n(see 'mvmm help cache')\n");
		return CLI_STATUS_ERROR;
	}
	verb = argv[optind];
	if (json && strcmp(verb, "ls") != 0) {
		fprintf(stderr, "mvmm cache: --json goes with ls only\n(see 'mvmm help cache')\n");
		return CLI_STATUS_ERROR;
	}
	if (strcmp(verb, "ls") == 0)
		return cache_ls(&o, json);
	if (strcmp(verb, "verify") == 0) {
		r = cache_verify_all(&o, stdout);
		if (r < 0)
			fprintf(stderr, "mvmm cache: %s\n", mvmm_errmsg());
		return r < 0 ? CLI_STATUS_ERROR : r;
	}
	if (strcmp(verb, "clear") == 0) {
		uint64_t n, bytes;
		char b[32];

		if (cache_clear(&o, &n, &bytes) < 0) {
			fprintf(stderr, "mvmm cache: %s\n", mvmm_errmsg());
			return CLI_STATUS_ERROR;
		}
		human(bytes, b, sizeof(b));
		printf("removed %lu entries (%s)\n", (unsigned long)n, b);
		return 0;
	}
	fprintf(stderr, "mvmm cache: unknown command '%s': ls, verify or clear\n"
			"(see 'mvmm help cache')\n", verb);
	return CLI_STATUS_ERROR;
}
