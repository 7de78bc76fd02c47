/* cmd_snapshot.c: `mvmm snapshot info FILE...`: what a snapshot file holds, after verifying it. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "clone/snapshot.h"
#include "core/error.h"
#include "guestabi/lx.h"

static int snapshot_usage(void)
{
	fprintf(stderr, "usage: mvmm snapshot info FILE...\n");
	return CLI_STATUS_ERROR;
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
	int i, status = 0;

	if (argc < 1)
		return snapshot_usage();
	for (i = 0; i < argc; i++) {
		struct snap_file f;

		if (snap_file_load(argv[i], &f) < 0) {
			fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
			status = CLI_STATUS_ERROR;
			continue;
		}
		if (i > 0)
			printf("\n");
		if (snapshot_print(argv[i], &f) < 0)
			status = CLI_STATUS_ERROR;
		snap_file_free(&f);
	}
	return status;
}

int cmd_snapshot(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "info") == 0)
		return snapshot_info(argc - 2, argv + 2);
	return snapshot_usage();
}
