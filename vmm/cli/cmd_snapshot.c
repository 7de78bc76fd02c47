/* cmd_snapshot.c: `mvmm snapshot info FILE...`: what a snapshot file holds, after verifying it;
 * `mvmm snapshot diff A B -o D`: the diff that takes chain A to chain B. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"
#include "cli_help.h"
#include "clone/snapshot.h"
#include "core/error.h"
#include "guestabi/lx.h"

#define SNAP_OPT_JSON 0x1b0

const struct option cli_snapshot_longopts[] = {
	{"json", no_argument, NULL, SNAP_OPT_JSON},
	{"output", required_argument, NULL, 'o'},
	CLI_HELP_LONGOPT,
	{NULL, 0, NULL, 0},
};

static int snapshot_usage(void)
{
	fprintf(stderr, "usage: mvmm snapshot info [--json] FILE...\n"
			"       mvmm snapshot diff A[,DIFF...] B[,DIFF...] -o OUT\n"
			"(see 'mvmm help snapshot')\n");
	return CLI_STATUS_ERROR;
}

static void json_add_hash(json_object *o, const char *key, const uint8_t hash[16])
{
	char hex[33];

	snap_hash_hex(hash, hex);
	json_object_object_add(o, key, json_object_new_string(hex));
}

/* `snapshot info --json`: one line per file, the fields documented in the help (cli_help.c). */
static int snapshot_json(const char *path, const struct snap_file *f)
{
	const struct snap_header *h = &f->hdr;
	json_object *o = json_object_new_object();
	char *lx = lx_proc_describe(f->lx, f->lx_len, h->mem_size);
	const char *resume = h->resume_kind != SNAP_RESUME_CLONE ? "checkpoint"
			     : h->resume_gpa			? "clone-ready"
								: "clone-stdin";

	if (!lx || !o) {
		fprintf(stderr, "mvmm: snapshot %s: %s\n", path, lx ? "out of memory" : mvmm_errmsg());
		free(lx);
		json_object_put(o);
		return -1;
	}
	json_object_object_add(o, "file", json_object_new_string(path));
	json_object_object_add(o, "format_version", json_object_new_uint64(h->format_version));
	json_object_object_add(o, "abi_version", json_object_new_uint64(h->abi_version));
	json_object_object_add(o, "kind",
			       json_object_new_string(h->kind == SNAP_BASE ? "base" : "diff"));
	if (h->kind == SNAP_DIFF)
		json_object_object_add(o, "checkpoint", json_object_new_uint64(h->seq));
	json_object_object_add(o, "mem_bytes", json_object_new_uint64(h->mem_size));
	json_add_hash(o, "hash", h->content_hash);
	if (h->kind == SNAP_DIFF)
		json_add_hash(o, "parent", h->parent_hash);
	json_object_object_add(o, "data_pages", json_object_new_uint64(h->data_pages));
	json_object_object_add(o, "zero_pages", json_object_new_uint64(h->zero_pages));
	json_object_object_add(o, "process", json_object_new_string(lx));
	json_object_object_add(o, "resume", json_object_new_string(resume));
	json_object_object_add(o, "resume_gpa", json_object_new_uint64(h->resume_gpa));
	json_object_object_add(o, "rip", json_object_new_uint64(h->state.regs.rip));
	if (h->elf_path[0]) {
		json_object_object_add(o, "elf_path", json_object_new_string_len(
				h->elf_path, (int)strnlen(h->elf_path, sizeof(h->elf_path))));
		json_object_object_add(o, "elf_size", json_object_new_uint64(h->elf_size));
		json_add_hash(o, "elf_hash", h->elf_hash);
	}
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	free(lx);
	return 0;
}

/* Prints what f holds; -1 when its process state does not check out (said). */
static int snapshot_print(const char *path, const struct snap_file *f)
{
	const struct snap_header *h = &f->hdr;
	char hash[33], parent[33], elf[33], *lx = NULL;

	snap_hash_hex(h->content_hash, hash);
	snap_hash_hex(h->parent_hash, parent);
	snap_hash_hex(h->elf_hash, elf);
	printf("file:           %s\n", path);
	printf("format:         mvmm snapshot version %u, guest ABI %u\n", h->format_version,
	       h->abi_version);
	if (h->kind == SNAP_BASE)
		printf("kind:           base\n");
	else
		printf("kind:           diff (checkpoint %lu)\n", (unsigned long)h->seq);
	printf("memory:         %lu MiB\n", (unsigned long)(h->mem_size >> 20));
	printf("hash:           %s\n", hash);
	printf("parent:         %s\n", h->kind == SNAP_DIFF ? parent : "-");
	printf("pages stored:   %lu (%lu KiB)\n", (unsigned long)h->data_pages,
	       (unsigned long)h->data_pages * 4);
	printf("pages zero:     %lu\n", (unsigned long)h->zero_pages);
	if (!(lx = lx_proc_describe(f->lx, f->lx_len, h->mem_size))) {
		fprintf(stderr, "mvmm: snapshot %s: %s\n", path, mvmm_errmsg());
		return -1;
	}
	printf("process:        %s\n", lx);
	free(lx);
	if (h->resume_kind == SNAP_RESUME_CLONE && !h->resume_gpa)
		printf("resumes:        as a clone, re-issuing its first read of stdin\n");
	else if (h->resume_kind == SNAP_RESUME_CLONE)
		printf("resumes:        as a clone, from its ready call (block 0x%lx)\n",
		       (unsigned long)h->resume_gpa);
	else
		printf("resumes:        after checkpoint %ld (block 0x%lx)\n", (long)h->resume_ret,
		       (unsigned long)h->resume_gpa);
	printf("rip:            0x%llx\n", (unsigned long long)h->state.regs.rip);
	if (h->elf_path[0])
		printf("guest ELF:      %s (%lu bytes, hash %s)\n", h->elf_path,
		       (unsigned long)h->elf_size, elf);
	else if (h->kind == SNAP_BASE)
		printf("guest ELF:      unknown (no symbols on restore)\n");
	return 0;
}

static int snapshot_info(int argc, char **argv)
{
	int c, i, json = 0, status = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", cli_snapshot_longopts, NULL)) != -1) {
		if (c == 'h')
			return cli_help_print("snapshot", stdout);
		if (c != SNAP_OPT_JSON) {
			cli_option_error("snapshot", c, argv, cli_snapshot_longopts);
			return CLI_STATUS_ERROR;
		}
		json = 1;
	}
	if (optind >= argc)
		return snapshot_usage();
	for (i = optind; i < argc; i++) {
		struct snap_file f;

		if (snap_file_load(argv[i], &f) < 0) {
			fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
			status = CLI_STATUS_ERROR;
			continue;
		}
		if (i > optind && !json)
			printf("\n");
		if ((json ? snapshot_json(argv[i], &f) : snapshot_print(argv[i], &f)) < 0)
			status = CLI_STATUS_ERROR;
		snap_file_free(&f);
	}
	return status;
}

/* `snapshot diff A B -o OUT`: A and B are chains; OUT restores B as A,OUT. */
static int snapshot_diff(int argc, char **argv)
{
	const char *out = NULL;
	struct snap_diff_info info;
	char hash[33];
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", cli_snapshot_longopts, NULL)) != -1) {
		if (c == 'h')
			return cli_help_print("snapshot", stdout);
		if (c != 'o') {
			cli_option_error("snapshot", c, argv, cli_snapshot_longopts);
			return CLI_STATUS_ERROR;
		}
		out = optarg;
	}
	if (argc - optind != 2 || !out)
		return snapshot_usage();
	if (snap_diff(argv[optind], argv[optind + 1], out, &info) < 0) {
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
		return CLI_STATUS_ERROR;
	}
	snap_hash_hex(info.hash, hash);
	printf("%s: %lu pages differ (%lu stored, %lu now zero), hash %s\n", out,
	       (unsigned long)(info.data_pages + info.zero_pages), (unsigned long)info.data_pages,
	       (unsigned long)info.zero_pages, hash);
	return 0;
}

int cmd_snapshot(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
		return cli_help_print("snapshot", stdout);
	/* info's argv: getopt takes argv[0] as the program name */
	if (argc >= 2 && strcmp(argv[1], "info") == 0)
		return snapshot_info(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "diff") == 0)
		return snapshot_diff(argc - 1, argv + 1);
	if (argc >= 2)
		fprintf(stderr, "mvmm snapshot: unknown command '%s': info, diff\n", argv[1]);
	return snapshot_usage();
}
