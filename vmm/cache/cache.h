/* cache.h: a persistent image cache: prepared images and booted templates in files mapped by later runs. */
#ifndef MVMM_CACHE_H
#define MVMM_CACHE_H

/*
 * Cache files, format version 3 (x86-64, little-endian, fixed-size fields)
 * ========================================================================
 *
 * One file per key, DIR/KEY.mvmmc, KEY being 32 hex digits of the
 * XXH3-128 of the key fields (guest ELF content hash, kind, memory size,
 * and for templates the hash of the guest's argv and environment, which
 * its initialization may depend on, and of its --dir trees (host
 * directory as realpath gives it, its device and inode, guest path, rw),
 * --cwd and --ready-on):
 *
 *   offset 0           the data area: guest memory as the guest sees it,
 *                      mem_size bytes; guest page p at p * 4096; pages the
 *                      image does not hold are holes (never written), so
 *                      the file is sparse and the area maps MAP_PRIVATE
 *                      straight into a memslot, with no copy and no offset
 *   index_offset       (= mem_size) the page index: index_entries runs of
 *                      data pages, each { uint64 first page, uint64 count },
 *                      sorted, disjoint, within guest memory
 *   lx_offset          (= index_offset + index_entries x 16) a template's
 *                      process state: lx_size bytes of the record
 *                      guestabi/lx_save.c describes (every template has
 *                      one; an image none)
 *   header_offset      (= lx_offset + lx_size) struct cache_header, the last
 *                      bytes of the file
 *   file_size          = header_offset + sizeof(struct cache_header)
 *
 * The header sits at the end so that guest memory starts at offset 0: the
 * cache file's fd stands in for an image memfd everywhere (vm_map_memfd,
 * shell warm-up, --no-share copies) with no offset to carry around. A
 * reader finds it at st_size - sizeof(struct cache_header).
 *
 * Checks, in order: magic, format_version and header_size (another version
 * is incompatible); header_checksum (XXH3-64 of the header with the field
 * zeroed; a mismatch is damage); abi_version, kind, mem_size, the key fields,
 * and for templates the host CPU features (CPUID 1 and 7 bits user code may
 * rely on, which the saved vCPU state assumes; any difference is
 * incompatible); the layout against the file's size (damage); index_hash
 * (XXH3-128 of the index; damage); lx_hash (XXH3-128 of the process state,
 * zero without one; damage); data_hash (XXH3-128 of the data pages'
 * bytes in index order; damage), checked only the first time an entry is
 * seen (see the sidecar below) and by `mvmm cache verify`. On a hit, a
 * template's process state is loaded as hostile input (lx_proc_load): a
 * record that does not check out, or a template without one, is damage
 * (the ready point is the header's: ready_block, or 0 for a template frozen
 * at its first stdin read, --ready-on=stdin); a file it held open that is
 * gone or changed since (identity, size, times) makes the entry stale, and
 * it is rebuilt quietly. Files the program read and closed while it
 * started are not in the key: after changing one, --no-cache or
 * `mvmm cache clear`.
 *
 * Beside each entry, DIR/KEY.meta (struct cache_meta) holds the hit count,
 * the last use, and the "verified" marker: the identity (device, inode,
 * size, ctime) of the entry file whose data hash was checked. An entry is
 * never modified after it is renamed into place, and any write to it
 * changes its ctime, so a marker that still matches means the data was
 * verified as it is now. A missing or stale marker means verify first.
 *
 * Writers build DIR/KEY.mvmmc.tmp.XXXXXX and rename it into place (the
 * writer of snapshot.c): racing writers both succeed, the last rename wins,
 * and no reader ever sees a partial file. DIR/ids/ memoizes ELF content
 * hashes by the file's identity (device, inode, size, mtime, ctime).
 */

#include <stddef.h>
#include <stdint.h>

#include "clone/template.h"
#include "core/hugepage.h"
#include "core/kvm.h"
#include "core/vcpu_state.h"
#include "core/vm.h"
#include "load/image.h"

#define CACHE_MAGIC	     "MVMMCACH"
/* 2: the vCPU state holds the xsave area and XCR0; 3: guest ABI 2, the process state, the key */
#define CACHE_FORMAT_VERSION 3u
#define CACHE_SUFFIX	     ".mvmmc"
#define CACHE_MAX_DEFAULT    (4ull << 30)
#define CACHE_NAME_MAX	     128u

enum cache_kind { CACHE_IMAGE = 1, CACHE_TEMPLATE = 2 };

struct cache_key {
	uint8_t elf_hash[16];  /* XXH3-128 of the guest ELF's bytes */
	uint8_t args_hash[16]; /* templates: XXH3-128 of argv and envp; images: zero */
	uint64_t mem_size;     /* rounded as images round it */
	uint32_t kind;	       /* enum cache_kind */
	uint32_t huge_tables;  /* 1: built with 2 MiB guest pages (any huge backing), 0: 4 KiB */
};

struct cache_header {
	char magic[8];		 /* CACHE_MAGIC, no NUL */
	uint32_t format_version; /* CACHE_FORMAT_VERSION */
	uint32_t header_size;	 /* sizeof(struct cache_header) */
	uint32_t abi_version;	 /* MVMM_ABI_VERSION */
	uint32_t state_size;	 /* sizeof(struct vcpu_state) */
	struct cache_key key;
	uint8_t key_hash[16]; /* names the file */
	uint32_t cpu_features[4]; /* CPUID 1.ECX, 1.EDX, 7.EBX, 7.ECX, masked (templates) */
	uint64_t elf_size;
	uint64_t data_offset; /* 0 */
	uint64_t data_pages;
	uint64_t index_offset; /* mem_size */
	uint64_t index_entries;
	uint64_t header_offset;
	uint64_t file_size;
	uint64_t ready_block; /* templates: GPA of the ready call's block (0: at a stdin read) */
	uint64_t created_s;   /* CLOCK_REALTIME seconds */
	uint64_t build_ns;    /* what building the entry cost (image load, template boot) */
	uint8_t index_hash[16];
	uint8_t data_hash[16];
	char elf_name[CACHE_NAME_MAX]; /* for `cache ls`: the ELF's base name */
	char args[CACHE_NAME_MAX];     /* for `cache ls`: argv[1..] joined, cut short */
	struct vcpu_state state;       /* templates: at ready, the `out` completed */
	uint64_t lx_offset;	       /* index_offset + index_entries x 16 */
	uint64_t lx_size;	       /* templates: > 0; images: 0 */
	uint8_t lx_hash[16];	       /* XXH3-128 of it; zero without one */
	uint64_t header_checksum;
};

/* The sidecar DIR/KEY.meta. */
struct cache_meta {
	char magic[8]; /* "MVMMMETA" */
	uint64_t dev, ino, size;
	int64_t ctime_s, ctime_ns; /* verified: the entry's identity when its data was checked */
	uint64_t verified;
	uint64_t hits;
	uint64_t last_use_ns; /* CLOCK_REALTIME */
	uint64_t verify_ns;  /* what the last data check took */
};

struct cache_opts {
	const char *dir;    /* NULL: $XDG_CACHE_HOME/mvmm, else $HOME/.cache/mvmm */
	int off;	    /* --no-cache */
	uint64_t max_bytes; /* --cache-max; 0: CACHE_MAX_DEFAULT */
	enum huge_mode huge; /* --huge-pages for the images it builds and maps */
};

enum cache_outcome {
	CACHE_OFF,	/* not used (--no-cache, or it could not be used: see warning) */
	CACHE_HIT,	/* mapped a compatible entry */
	CACHE_BUILT,	/* missing: built and stored */
	CACHE_REPLACED, /* incompatible (version, ABI, CPU, key): built and stored over it */
	CACHE_REBUILT,	/* damaged: removed, built and stored (warning set) */
};

struct cache_status {
	enum cache_outcome outcome;
	int verified_now;     /* a hit whose data hash was checked on this use */
	uint64_t verify_ns;   /* how long that check took */
	uint64_t load_ns;     /* the whole lookup (and build, on a miss) */
	char path[1100];      /* the entry's file */
	char warning[768];    /* one line when something went wrong with the cache, else "" */
};

/*
 * An image of elf_path for a guest of mem_size bytes through the cache in
 * o: maps a compatible entry, else loads the ELF (image_load_file) and
 * stores it. Trouble with the cache (unwritable or full directory, a damaged
 * entry) never fails the call: st->warning says what happened and the image
 * comes from the ELF. NULL only when the guest itself cannot be loaded
 * (message set).
 */
struct image *cache_load_image(const struct cache_opts *o, const char *elf_path,
			       uint64_t mem_size, struct cache_status *st);

/*
 * A template of elf_path booted with cfg (argv, envp, the guest's trees,
 * cwd and ready point shape the key) through the cache, as above; on a
 * miss boots it (template_create) and stores it, with its process state;
 * on a hit that state is loaded with cfg's trees.
 * NULL when the guest could not be booted to ready (*res says how, as for
 * template_create) or on a host failure (message set).
 */
struct template *cache_load_template(const struct cache_opts *o, struct kvm_sys *kvm,
				     const char *elf_path, uint64_t mem_size,
				     const struct vm_config *cfg, struct vm_result *res,
				     struct cache_status *st);

/* The cache directory o names (malloc'd), or NULL with the message set. */
char *cache_dir_path(const struct cache_opts *o);

/* Computes header_checksum over h (for writers and for tests that forge headers). */
void cache_header_seal(struct cache_header *h);

/* The host's CPU features as the header records them. */
void cache_cpu_features(uint32_t out[4]);

/*
 * Management (mvmm cache ls / verify / clear). Each prints to out;
 * returns 0, or 1 when verify found damaged entries (removed), or -1 on a
 * failure (message set).
 */
struct cache_entry_info {
	char key[33];
	struct cache_header hdr; /* zeroed when unreadable */
	const char *problem;	 /* NULL when the header and index check out */
	uint64_t disk_bytes;	 /* allocated on disk */
	uint64_t hits, last_use_ns;
	int verified;
};
int cache_list(const struct cache_opts *o, struct cache_entry_info **out, size_t *n);
int cache_verify_all(const struct cache_opts *o, void *out_file);
int cache_clear(const struct cache_opts *o, uint64_t *removed, uint64_t *bytes);

/* Removes least recently used entries until the cache holds at most max bytes (keep may be NULL). */
int cache_trim(const char *dir, uint64_t max_bytes, const char *keep);

#endif
