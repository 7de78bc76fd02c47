/* snapshot.h: guest snapshots on disk: a base taken at ready, page diffs taken at checkpoints. */
#ifndef MVMM_SNAPSHOT_H
#define MVMM_SNAPSHOT_H

/*
 * File format, version 4 (x86-64, little-endian; every field fixed-size)
 * ======================================================================
 *
 *   offset 0            struct snap_header (header_size bytes)
 *   index_offset        index: index_entries x uint64_t, sorted by page
 *                       number, strictly increasing; each entry is a guest
 *                       page number, with bit 63 (SNAP_ZERO_PAGE) set when
 *                       the page is all zero (no data stored for it)
 *                       then zero padding up to data_offset
 *   data_offset         data (data_offset is 4 KiB-aligned):
 *                       a base: guest memory as the guest sees it, mem_size
 *                       bytes, guest page p at data_offset + p x 4 KiB; pages
 *                       not in the index are holes (never written), so the
 *                       file is sparse and its data region maps MAP_PRIVATE
 *                       straight into guest memory (restores share it)
 *                       a diff: data_pages x 4 KiB, the non-zero index
 *                       entries' contents, in index order
 *   lx_offset           (= data_offset + mem_size for a base, data_offset +
 *                       data_pages x 4 KiB for a diff) the guest's
 *                       process state: lx_size bytes (never 0) of the record
 *                       guestabi/lx_save.c describes
 *   file_size           (= lx_offset + lx_size) end of file; nothing may follow
 *
 * Header fields:
 *   magic "MVMMSNAP", format_version, header_size: at fixed offsets in every
 *     version, checked first (a reader refuses a version it does not know
 *     before trusting anything else).
 *   abi_version: MVMM_ABI_VERSION of the mvmm that took it (must equal ours).
 *   kind: SNAP_BASE (all non-zero pages of guest memory; zero pages are not
 *     stored) or SNAP_DIFF (the pages that changed since its parent, a page
 *     that became zero being an index entry with SNAP_ZERO_PAGE set).
 *   mem_size: guest memory bytes; equal along a chain.
 *   seq: 0 for a base, k for the diff PATH.k taken at the guest's k-th checkpoint.
 *   parent_hash: a diff's parent's content_hash (all zero in a base).
 *   index_entries, data_pages, zero_pages: counts (entries = data + zero).
 *   resume_kind, resume_gpa, resume_ret: the fix-up applied on resume.
 *     SNAP_RESUME_CLONE (a base taken at MVMM_HC_READY): the int64 at
 *     resume_gpa (the ready block's `ret`) gets each restored VM's clone
 *     number, as for a clone of a template; resume_gpa 0: a base taken at
 *     the first read of stdin (--ready-on=stdin), resumed on that read,
 *     which each restored VM re-issues. SNAP_RESUME_CHECKPOINT: the
 *     guest resumes after its checkpoint call with ret = resume_ret (the
 *     checkpoint number), which the stored memory already holds.
 *   elf_path, elf_size, elf_hash: the guest ELF (absolute path, size, XXH3-128
 *     of its bytes), base only; used for symbols in fault reports when the
 *     file is still there and unchanged.
 *   state, state_size: the vCPU (struct vcpu_state: KVM regs, sregs, the
 *     xsave area and XCR0, events, MSRs), taken with the hypercall's I/O
 *     completed (RIP after the `out`); checked field by field on reading.
 *   index_hash: XXH3-128 of the index region (entries and padding).
 *   data_hash: XXH3-128 of the data pages' bytes in index order (a base's
 *     at their guest offsets). Every page of a base's data region that the
 *     index does not list must read as zeros (a restore maps the whole
 *     region): the reader checks the file's data ranges (SEEK_DATA) there.
 *   lx_offset, lx_size, lx_hash: where the process state lies, its size,
 *     its XXH3-128. Every file holds one (guest ABI 2: every guest is a
 *     Linux program); a diff's is the whole state at its checkpoint, and
 *     the last file's is the one restored.
 *   content_hash: XXH3-128 of the header with content_hash and
 *     header_checksum zeroed; since the header holds index_hash and
 *     data_hash, it covers the whole file. It names the file: a diff's
 *     parent_hash must equal the content_hash of the file before it.
 *   header_checksum: XXH3-64 of the header with header_checksum zeroed.
 *
 * Hashes are stored as XXH128_canonical_t (big-endian bytes), printed as 32
 * hex digits. A file is written to a temporary file in the same directory,
 * synced, then renamed over PATH: a reader never sees a partial file.
 */

#include <stddef.h>
#include <stdint.h>

#include "core/kvm.h"
#include "core/vcpu_state.h"
#include "core/vm.h"
#include "template.h"

#define SNAP_MAGIC	    "MVMMSNAP"
/*
 * 2: the vCPU state holds the whole xsave area and XCR0; 3: guest ABI 2, the process state;
 * 4: a base's pages at their guest offsets (mapped by restores, not copied)
 */
#define SNAP_FORMAT_VERSION 4u
#define SNAP_PATH_MAX	    1024u
#define SNAP_ZERO_PAGE	    (1ull << 63)

enum snap_kind { SNAP_BASE = 1, SNAP_DIFF = 2 };
enum snap_resume { SNAP_RESUME_CLONE = 1, SNAP_RESUME_CHECKPOINT = 2 };

struct snap_header {
	char magic[8];		 /* SNAP_MAGIC, no NUL */
	uint32_t format_version; /* SNAP_FORMAT_VERSION */
	uint32_t header_size;	 /* sizeof(struct snap_header) */
	uint32_t abi_version;	 /* MVMM_ABI_VERSION */
	uint32_t kind;		 /* enum snap_kind */
	uint64_t mem_size;
	uint64_t seq;
	uint64_t file_size;
	uint64_t index_entries;
	uint64_t data_pages;
	uint64_t zero_pages;
	uint64_t index_offset; /* == header_size */
	uint64_t data_offset;
	uint32_t resume_kind; /* enum snap_resume */
	uint32_t state_size;  /* sizeof(struct vcpu_state) */
	uint64_t resume_gpa;
	int64_t resume_ret;
	uint64_t elf_size;
	uint8_t elf_hash[16];
	uint8_t parent_hash[16];
	uint8_t index_hash[16];
	uint8_t data_hash[16];
	uint8_t content_hash[16];
	uint64_t header_checksum;
	char elf_path[SNAP_PATH_MAX]; /* NUL-terminated; empty when unknown */
	struct vcpu_state state;
	uint64_t lx_offset; /* data_offset + data_pages x 4 KiB */
	uint64_t lx_size;   /* > 0 */
	uint8_t lx_hash[16];
};

/*
 * A snapshot file read and verified. snap_file_load copies what it
 * validates (the header, the index, the process state) out of the file
 * before checking it; the pages are read from a read-only mapping of the
 * file (hashed there), or from a copy in memory for a file someone else may
 * write (see snap_file_load).
 */
struct snap_file {
	struct snap_header hdr;
	uint8_t *buf;	   /* the whole file: a copy (owned), or NULL when mapped */
	uint8_t *map;	   /* the whole file mapped read-only, or NULL */
	size_t len;
	int fd;		   /* snap_file_load: the file, read-only (owned), else -1 */
	int mappable;	   /* the file may be mapped as guest memory (see snap_file_load) */
	uint64_t *own;	   /* the copies index and lx point into when mapped (owned) */
	const uint64_t *index;
	const uint8_t *data; /* the data region */
	const uint8_t *lx;   /* the process state */
	size_t lx_len;
};

/* Where the content of the i-th index entry, page page, lies (d: data entries before it). */
static inline const uint8_t *snap_page(const struct snap_file *f, uint64_t page, uint64_t d)
{
	return f->data + (f->hdr.kind == SNAP_BASE ? page : d) * 4096u;
}

/*
 * Verifies a whole snapshot held in memory (name is for messages): magic,
 * version, header checksum, every field's consistency, the index and data
 * hashes, the content hash. 0, or -1 with a message naming what is wrong.
 */
int snap_verify(const void *buf, size_t len, const char *name, struct snap_file *f);

/*
 * Reads path and verifies it; snap_file_free releases it. A file owned by
 * us (or root) and writable by nobody else is mapped (mappable): anyone who
 * could change its pages under a running guest could change our memory
 * anyway. Any other file is read into memory and the copy verified.
 */
int snap_file_load(const char *path, struct snap_file *f);
void snap_file_free(struct snap_file *f);

/* 32 lower-case hex digits and a NUL. */
void snap_hash_hex(const uint8_t hash[16], char out[33]);

/* XXH3-128 of buf, canonical (big-endian) bytes. */
void snap_hash128(const void *buf, size_t len, uint8_t out[16]);

/*
 * The atomic file writer snapshots use, for other files too (the image
 * cache): snap_out_open creates PATH.tmp.XXXXXX beside path (`what` is a
 * noun for messages, NULL for "snapshot"; `no_sync` skips the fsync before
 * the rename); snap_out_put appends through a 1 MiB buffer (the fd may also be
 * written with pwrite; lseek before put when mixing); `data` is an
 * XXH3-128 state reset for the caller's use; snap_out_close(o, 1) flushes
 * nothing (call snap_out_flush first), fsyncs unless no_sync, and renames
 * over path; snap_out_close(o, 0) removes the temporary file.
 */
struct snap_out {
	const char *what; /* "snapshot" when NULL */
	int no_sync;
	const char *path;
	char *tmp;
	int fd;
	uint8_t *buf;
	size_t len;
	struct XXH3_state_s *data;
};

int snap_out_open(struct snap_out *o, const char *path, const char *what, int no_sync);
int snap_out_put(struct snap_out *o, const void *p, size_t n);
int snap_out_flush(struct snap_out *o);
int snap_out_close(struct snap_out *o, int ok);

/*
 * Writes the base snapshot of tpl (taken at ready) to path, with its
 * process state (a template holding a pipe cannot be written);
 * elf_path, if not NULL, is the guest program recorded for symbols. Fills
 * hash (may be NULL) with the file's content hash.
 */
int snap_write_base(const char *path, const struct template *tpl, const char *elf_path,
		    uint8_t hash[16]);

/*
 * Taking diffs: a checkpoint hook for a VM cloned from tpl (whose base
 * snapshot is base_path with hash base_hash). Each MVMM_HC_CHECKPOINT the
 * guest makes writes base_path.1, base_path.2, ... each holding the pages
 * that differ from the state before (found by exact comparison of every
 * page the VM has written against a copy of its previous content), and
 * the guest's whole process state then.
 */
struct snap_taker;

struct snap_taker *snap_taker_new(const char *base_path, const struct template *tpl,
				  const uint8_t base_hash[16]);
void snap_taker_free(struct snap_taker *t);
/* The vm_hooks.checkpoint function; ctx is the taker. */
int64_t snap_taker_checkpoint(void *ctx, struct vm *vm);
/* Hooks holding only snap_taker_checkpoint. */
extern const struct vm_hooks snap_taker_hooks;

/*
 * Restores paths[0] (a base) with the diffs paths[1..n) applied in order:
 * every file is verified, and the chain (memory sizes, parent hashes)
 * checked, before anything is built. The result is a template whose clones
 * (template_clone) are the last state of the chain: a base resumes like a
 * clone from ready, a checkpoint resumes after its checkpoint call. The
 * template's image carries the guest ELF's symbols when the ELF recorded in
 * the base is still there with the same hash, else none.
 */
struct template *snap_restore(const char *const *paths, size_t n);
/*
 * The same with the image's read-only 2 MiB pages on a huge-page backing
 * under huge (as --huge-pages; snap_restore uses 4 KiB pages); it needs the
 * guest's ELF, still at its recorded path and unchanged.
 */
struct template *snap_restore_with(const char *const *paths, size_t n, enum huge_mode huge);

/*
 * The same for the run cfg describes: the guest's process state is
 * loaded with the trees of its --dir options and its --expose files (every
 * file the program held open is opened again through them, by its guest
 * path; lx_proc_load). snap_restore_with uses no trees.
 */
struct template *snap_restore_cfg(const char *const *paths, size_t n, enum huge_mode huge,
				  const struct vm_config *cfg);

/* As snap_restore_cfg, from "BASE[,DIFF...]" (a comma-separated list). */
struct template *snap_restore_list(const char *list, enum huge_mode huge,
				   const struct vm_config *cfg);

/*
 * Writes to out the diff that takes the last state of chain a_list
 * ("BASE[,DIFF...]") to the last state of chain b_list: the pages of B that
 * differ from A (by exact comparison; a page that became zero is a zero
 * entry), B's vCPU and process state and resume point; its parent is A's
 * last file, so that restoring a_list,out resumes B. A and B may be
 * snapshots of different VMs, of one guest program (the ELF recorded in
 * the bases) and one memory size: others are refused. info may be NULL.
 */
struct snap_diff_info {
	uint64_t data_pages, zero_pages;
	uint8_t hash[16];
};

int snap_diff(const char *a_list, const char *b_list, const char *out, struct snap_diff_info *info);

#endif
