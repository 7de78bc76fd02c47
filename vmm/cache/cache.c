/* cache.c: the persistent image cache: look an image or template up by key and map it, or build
 * it from the ELF and have it stored (cache_store.c). */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/layout.h"
#include "core/log.h"
#include "guestabi/lx.h"
#include "load/dynlink.h"
#include "mvmm_abi.h"
#include "clone/snapshot.h"

#define PAGE MVMM_PAGE_SIZE

static void hex(const uint8_t *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

static void warn_add(struct cache_status *st, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* st->warning is one line: a second problem is appended to the first. */
static void warn_add(struct cache_status *st, const char *fmt, ...)
{
	size_t len = strlen(st->warning);
	va_list ap;

	if (len && len + 2 < sizeof(st->warning)) {
		strcpy(st->warning + len, "; ");
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(st->warning + len, sizeof(st->warning) - len, fmt, ap);
	va_end(ap);
}

/* The image over a checked entry: its data map from the index, symbols from the ELF. */
static struct image *entry_image(struct entry *e, const char *elf_path, const struct elf_src *src,
				 const struct dl_needed *needed,
				 enum huge_backing backing, enum huge_mode mode)
{
	uint64_t npages = e->h.key.mem_size / PAGE, i, p;
	struct image *img = calloc(1, sizeof(*img));

	if (!img) {
		err_set("out of memory");
		return NULL;
	}
	img->refs = 1;
	img->huge.fd = -1;
	img->mem_size = e->h.key.mem_size;
	img->memfd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
	img->data_map = calloc((npages + 7) / 8, 1);
	img->name = strdup(elf_path);
	if (img->memfd < 0 || !img->data_map || !img->name) {
		err_sys("opening a cached image");
		goto fail;
	}
	for (i = 0; i < e->h.index_entries; i++)
		for (p = e->index[2 * i]; p < e->index[2 * i] + e->index[2 * i + 1]; p++)
			img->data_map[p >> 3] |= (uint8_t)(1u << (p & 7));
	img->data_pages = e->h.data_pages;
	if (elfload_parse(src->map, src->len, img->mem_size, MVMM_IMAGE_BASE, &img->prog) < 0) {
		err_prefix("%s", elf_path);
		goto fail;
	}
	img->heap_end = layout_guard_page(img->mem_size);
	/* The key holds the loader's hash: the one on disk is the one the entry was built with. */
	if (image_place_interp(img, src->map, src->len, 0, needed->n ? needed : NULL, NULL, NULL) < 0) {
		err_prefix("%s", elf_path);
		goto fail;
	}
	/* The entry's tables were built for this plan (the key says so); its pages feed the overlay. */
	image_plan_huge_as(img, backing);
	if (image_fill_huge(img, img->memfd, mode) < 0) {
		err_prefix("%s", elf_path);
		goto fail;
	}
	return img;
fail:
	image_put(img);
	return NULL;
}

/* ---- lookup ---- */

struct lookup {
	enum huge_backing backing; /* of the images this lookup builds or maps */
	char *dir;
	char key_hex[33];
	char path[1100], meta[1100];
	struct cache_key key;
	uint8_t key_hash[16];
	struct elf_src src;
	struct dl_needed needed; /* a dynamic program's closure (lookup_closure), for its image */
	uint64_t t0;
	const char *elf;     /* for the log line */
	const char *why_off; /* why the cache is not used, for the log line; or NULL */
};

static uint64_t round_mem(uint64_t mem_size)
{
	return (mem_size + (2u << 20) - 1) & ~(uint64_t)((2u << 20) - 1);
}

/*
 * A dynamic program's image holds its loader too, and its templates the
 * libraries the loader mapped: the key takes in the content hash of every
 * file of its closure (load/dynlink.c: the loader, ld.so.cache, each
 * library, by guest path), memoized by identity like the program's.
 */
static int lookup_closure(struct lookup *l, const char *elf_path)
{
	char *interp = elfload_interp_of(l->src.map, l->src.len);
	const struct dl_needed *needed = &l->needed;

	if (!interp)
		return 0;
	if (dl_needed_resolve(elf_path, l->src.map, l->src.len, interp, &l->needed) < 0) {
		free(interp);
		return -1;
	}
	free(interp);
	for (size_t i = 0; i < needed->n; i++) {
		struct elf_src fsrc;
		uint8_t mix[32];

		if (cache_elf_open(needed->files[i].host, &fsrc) < 0)
			return -1; /* not a file that can be hashed: go without the cache */
		memcpy(mix, l->key.elf_hash, 16);
		cache_elf_hash(l->dir, &fsrc, mix + 16);
		cache_elf_close(&fsrc);
		snap_hash128(mix, sizeof(mix), l->key.elf_hash);
		snap_hash128(needed->files[i].guest, strlen(needed->files[i].guest), mix);
		memcpy(mix + 16, l->key.elf_hash, 16);
		snap_hash128(mix, sizeof(mix), l->key.elf_hash);
	}
	return 0;
}

/*
 * Prepares the lookup; 0 to go on with the cache, -1 to go without (a
 * warning was set when that is a problem worth telling).
 */
static int lookup_begin(struct lookup *l, const struct cache_opts *o, const char *elf_path,
			uint64_t mem_size, enum cache_kind kind, const struct vm_config *cfg,
			char *args_shown, size_t args_len, struct cache_status *st)
{
	enum huge_backing backing = l->backing;

	memset(l, 0, sizeof(*l));
	l->backing = backing;
	l->src.map = MAP_FAILED;
	l->t0 = now_ns();
	memset(st, 0, sizeof(*st));
	st->outcome = CACHE_OFF;
	l->key.kind = kind;
	l->elf = elf_path;
	args_shown[0] = '\0';
	l->why_off = o->off ? "--no-cache" : "a memory size outside the cache's range";
	if (o->off || mem_size < MVMM_MEM_MIN || mem_size > MVMM_MEM_MAX)
		return -1;
	l->why_off = NULL; /* the warning says why */
	l->dir = cache_dir_path(o);
	if (!l->dir || cache_dir_prepare(l->dir) < 0) {
		warn_add(st, "cache: %s; running without the cache", mvmm_errmsg());
		return -1;
	}
	mkdir(strcat(strcpy(l->path, l->dir), "/ids"), 0700); /* memo of ELF hashes */
	l->why_off = "the guest file could not be read";
	if (cache_elf_open(elf_path, &l->src) < 0)
		return -1; /* the loader will name the problem */
	cache_elf_hash(l->dir, &l->src, l->key.elf_hash);
	l->why_off = "the program's libraries could not be found";
	if (lookup_closure(l, elf_path) < 0)
		return -1;
	l->why_off = NULL;
	l->key.mem_size = round_mem(mem_size);
	l->key.kind = kind;
	l->key.huge_tables = l->backing != HUGE_BACKING_NONE;
	if (kind == CACHE_TEMPLATE)
		cache_args_hash(cfg, l->key.args_hash, args_shown, args_len);
	snap_hash128(&l->key, sizeof(l->key), l->key_hash);
	hex(l->key_hash, 16, l->key_hex);
	cache_entry_paths(l->dir, l->key_hex, l->path, l->meta, sizeof(l->path));
	snprintf(st->path, sizeof(st->path), "%s", l->path);
	return 0;
}

/* What the lookup decided, on the info level: hit or miss, and why. */
static void lookup_log(const struct lookup *l, const struct cache_status *st)
{
	static const char *const what[] = {
		[CACHE_OFF] = "not used",
		[CACHE_HIT] = "hit: mapped",
		[CACHE_BUILT] = "miss (no entry): built and stored",
		[CACHE_REPLACED] = "miss (an entry of another mvmm, CPU, key or files): replaced",
		[CACHE_REBUILT] = "damaged entry removed: built and stored",
	};
	const char *kind = l->key.kind == CACHE_TEMPLATE ? "template" : "image";

	if (!vlog_on(VLOG_INFO))
		return;
	if (st->outcome == CACHE_OFF) {
		vlog_info("cache: %s of %s: not used (%s)", kind, l->elf ? l->elf : "?",
			  l->why_off	   ? l->why_off
			  : st->warning[0] ? "see the warning"
					   : "the cache does not take this run");
		return;
	}
	vlog_info("cache: %s of %s: %s%s in %.1f ms (%s)", kind, l->elf, what[st->outcome],
		  st->verified_now ? ", data checked" : "", (double)st->load_ns / 1e6, st->path);
}

static void lookup_end(struct lookup *l, struct cache_status *st)
{
	cache_elf_close(&l->src);
	dl_needed_free(&l->needed);
	free(l->dir);
	st->load_ns = now_ns() - l->t0;
	lookup_log(l, st);
}

/* Looks the entry up: E_OK with e open and checked (data included), else why not. */
static enum entry_state lookup_entry(struct lookup *l, struct entry *e, struct cache_status *st)
{
	enum entry_state s = cache_entry_open(l->path, &l->key, l->key_hash, e);
	struct cache_meta m;

	cache_meta_read(l->meta, &m);
	if (s == E_OK && !cache_meta_matches(&m, &e->st)) {
		s = cache_entry_check_data(e, &st->verify_ns);
		if (s == E_OK) {
			st->verified_now = 1;
			cache_meta_mark(&m, &e->st, st->verify_ns);
		}
	}
	if (s == E_OK) {
		m.hits++;
		m.last_use_ns = wall_ns();
		cache_meta_write(l->meta, &m);
		st->outcome = CACHE_HIT;
		return s;
	}
	if (s == E_DAMAGED) {
		warn_add(st, "cache: %s: %s; removed, rebuilding", l->path, e->why);
		unlink(l->path);
		unlink(l->meta);
		st->outcome = CACHE_REBUILT;
	} else {
		st->outcome = s == E_INCOMPATIBLE ? CACHE_REPLACED : CACHE_BUILT;
	}
	cache_entry_free(e);
	return s;
}

static void lookup_store(struct lookup *l, const struct cache_opts *o, struct store_req *r,
			 struct cache_status *st)
{
	r->dir = l->dir;
	r->path = l->path;
	r->meta_path = l->meta;
	r->key = &l->key;
	r->key_hash = l->key_hash;
	r->elf_size = l->src.len;
	uint64_t max = o->max_bytes ? o->max_bytes : CACHE_MAX_DEFAULT;
	struct stat sb;

	if (cache_entry_store(r) < 0) {
		warn_add(st, "cache: not stored: %s; running without the cache", mvmm_errmsg());
		st->outcome = CACHE_OFF;
		return;
	}
	/*
	 * Its size on disk is known once written (holes cost nothing): one
	 * larger than the whole cap goes again, rather than the cap giving way.
	 */
	if (stat(l->path, &sb) == 0 && (uint64_t)sb.st_blocks * 512 > max) {
		unlink(l->path);
		unlink(l->meta);
		warn_add(st, "cache: not stored: the entry takes %lu KiB on disk, more than "
			     "--cache-max (%lu KiB)",
			 (unsigned long)sb.st_blocks / 2, (unsigned long)(max >> 10));
		st->outcome = CACHE_OFF;
		return;
	}
	cache_trim(l->dir, max, l->path);
}

/*
 * The huge-page backing of the images this lookup builds or maps, decided
 * before the key (entries with 2 MiB guest pages have other tables). AUTO
 * never fails here; THP or HUGETLB the host lacks do, with the setting.
 */
static int lookup_huge(struct lookup *l, const struct cache_opts *o, uint64_t mem_size,
		       struct image_params *p)
{
	memset(p, 0, sizeof(*p));
	p->mem_size = mem_size;
	p->huge = o->huge;
	l->backing = HUGE_BACKING_NONE;
	return huge_choose(o->huge, 1, &l->backing);
}

/* Whether an image built now has the tables the key promised (AUTO may fall back). */
static int built_as_keyed(const struct lookup *l, const struct image *img)
{
	return (img->huge.backing != HUGE_BACKING_NONE) == (l->key.huge_tables != 0);
}

/* The image, with the closure the lookup resolved (not resolved again). */
static struct image *build_image(const struct lookup *l, const char *elf_path,
				 const struct image_params *p)
{
	struct image_params q = *p;

	q.needed = l->needed.n ? &l->needed : NULL;
	return l->src.map != MAP_FAILED
		       ? image_load_buffer_with(l->src.map, l->src.len, elf_path, &q)
		       : image_load_file_with(elf_path, &q);
}

struct image *cache_load_image(const struct cache_opts *o, const char *elf_path,
			       uint64_t mem_size, struct cache_status *st)
{
	struct store_req r = {0};
	struct image_params p;
	struct image *img = NULL;
	struct lookup l;
	struct entry e;
	char shown[4];
	uint64_t t0;

	if (lookup_huge(&l, o, mem_size, &p) < 0)
		return NULL;
	if (lookup_begin(&l, o, elf_path, mem_size, CACHE_IMAGE, NULL, shown, sizeof(shown),
			 st) < 0) {
		lookup_end(&l, st);
		return image_load_file_with(elf_path, &p);
	}
	if (lookup_entry(&l, &e, st) == E_OK) {
		img = entry_image(&e, elf_path, &l.src, &l.needed, l.backing, o->huge);
		cache_entry_free(&e);
		lookup_end(&l, st);
		return img;
	}
	t0 = now_ns();
	img = build_image(&l, elf_path, &p);
	if (img && built_as_keyed(&l, img)) {
		r.elf_path = elf_path;
		r.memfd = img->memfd;
		r.build_ns = now_ns() - t0;
		lookup_store(&l, o, &r, st);
	}
	lookup_end(&l, st);
	return img;
}

/*
 * A hit's process state into tpl. -1 when the entry cannot be used: damaged
 * (a bad record, or none: warned, removed) or stale (a file the program
 * held open is gone or changed: replaced quietly); the caller builds anew.
 */
static int hit_lx(const struct lookup *l, struct entry *e, struct template *tpl,
		  const struct vm_config *cfg, struct cache_status *st)
{
	enum lx_load_fail why = LX_LOAD_BAD;

	if (!e->lx)
		snprintf(e->why, sizeof(e->why), "a template without its process state");
	else if ((tpl->lx = lx_proc_load(e->lx, e->h.lx_size, cfg, tpl->mem_size, tpl->img,
					 LX_LOAD_SAME_FILES, &why)))
		return 0;
	else
		snprintf(e->why, sizeof(e->why), "%s", mvmm_errmsg());
	if (why == LX_LOAD_FILES) {
		st->outcome = CACHE_REPLACED;
		return -1;
	}
	warn_add(st, "cache: %s: %s; removed, rebuilding", l->path, e->why);
	unlink(l->path);
	unlink(l->meta);
	st->outcome = CACHE_REBUILT;
	return -1;
}

struct template *cache_load_template(const struct cache_opts *o, struct kvm_sys *kvm,
				     const char *elf_path, uint64_t mem_size,
				     const struct vm_config *cfg, struct vm_result *res,
				     struct cache_status *st)
{
	struct template *tpl = NULL;
	struct store_req r = {0};
	struct image_params p;
	struct image *img;
	struct lookup l;
	struct entry e;
	char shown[CACHE_NAME_MAX];
	uint64_t t0;
	int keyed = 0, stale;

	memset(res, 0, sizeof(*res));
	if (lookup_huge(&l, o, mem_size, &p) < 0)
		return NULL;
	if (lookup_begin(&l, o, elf_path, mem_size, CACHE_TEMPLATE, cfg, shown, sizeof(shown),
			 st) == 0 &&
	    lookup_entry(&l, &e, st) == E_OK) {
		img = entry_image(&e, elf_path, &l.src, &l.needed, l.backing, o->huge);
		if (img) {
			tpl = template_from_parts(img, e.fd, &e.h.state, e.h.ready_block);
			e.fd = -1; /* taken, even on failure */
			if (tpl)
				tpl->data_pages = e.h.data_pages;
			image_put(img);
		}
		stale = tpl && hit_lx(&l, &e, tpl, cfg, st) < 0;
		cache_entry_free(&e);
		if (!stale) {
			lookup_end(&l, st);
			if (tpl)
				tpl->boot_ns = st->load_ns;
			return tpl;
		}
		template_put(tpl);
		tpl = NULL;
	}
	t0 = now_ns();
	img = build_image(&l, elf_path, &p);
	if (img) {
		keyed = built_as_keyed(&l, img);
		tpl = template_create(kvm, img, cfg, res);
		image_put(img);
	}
	if (tpl && keyed && st->outcome != CACHE_OFF) {
		r.elf_path = elf_path;
		r.memfd = tpl->memfd;
		r.tpl = tpl;
		r.args_shown = shown;
		r.build_ns = now_ns() - t0;
		lookup_store(&l, o, &r, st);
	}
	lookup_end(&l, st);
	return tpl;
}
