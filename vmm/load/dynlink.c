/*
 * dynlink.c: a dynamic program's closure, resolved on the host as glibc's
 * loader will resolve it in the guest (see dynlink.h). Every file read
 * here is checked like any other input: the cache's offsets, the ELF's
 * dynamic section, the sizes.
 */
#define _GNU_SOURCE
#include "dynlink.h"

#include <elf.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"

#define DL_CACHE	   "/etc/ld.so.cache"
#define DL_CACHE_MAX	   (64u << 20)
#define DL_CACHE_MAGIC	   "glibc-ld.so.cache1.1"
#define DL_CACHE_HDR	   48u /* magic, nlibs, len_strings, flags, extension offset, unused */
#define DL_CACHE_ENT	   24u /* flags, key, value, osversion, hwcap */
#define DL_CACHE_X86_64	   0x0303 /* FLAG_ELF_LIBC6 | FLAG_X8664_LIB64 */
#define DL_NEEDED_MAX	   256	  /* DT_NEEDED entries of one object looked at */

/* Debian's multiarch system directories, in the loader's order. */
static const char *const dl_default_dirs[] = {
	"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib", NULL,
};

/* One object's dynamic section, as far as the search needs it. */
struct dl_obj {
	char *needed[DL_NEEDED_MAX];
	size_t nneeded;
	char *rpath, *runpath;
};

struct dl_cache {
	uint8_t *buf;
	size_t len;
	uint32_t nlibs;
};

static int dl_add(struct dl_needed *d, const char *guest, const char *host)
{
	char *g, *h;

	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->files[i].guest, guest))
			return 0;
	if (d->n == DL_FILES_MAX)
		return err_set("more than %d files in the program's closure", DL_FILES_MAX);
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct dl_file *f = realloc(d->files, cap * sizeof(*f));

		if (!f)
			return err_set("out of memory");
		d->files = f;
		d->cap = cap;
	}
	g = strdup(guest);
	h = strdup(host);
	if (!g || !h) {
		free(g);
		free(h);
		return err_set("out of memory");
	}
	d->files[d->n++] = (struct dl_file){g, h};
	return 0;
}

/* A regular file at path, every link resolved, into host (PATH_MAX). 0, or -1 (no such file). */
static int dl_resolve(const char *path, char *host)
{
	struct stat st;

	if (!realpath(path, host) || stat(host, &st) < 0 || !S_ISREG(st.st_mode))
		return -1;
	return 0;
}

/* Adds path (an absolute guest path) when the host has it as a regular file: 1, 0 (none), -1. */
static int dl_add_path(struct dl_needed *d, const char *path)
{
	char host[PATH_MAX];

	if (path[0] != '/' || dl_resolve(path, host) < 0)
		return 0;
	return dl_add(d, path, host) < 0 ? -1 : 1;
}

static void dl_cache_load(struct dl_cache *c)
{
	struct stat st;
	int fd = fd_open_regular(DL_CACHE, 0);

	memset(c, 0, sizeof(*c));
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > DL_CACHE_HDR &&
	    (uint64_t)st.st_size <= DL_CACHE_MAX) {
		c->buf = malloc((size_t)st.st_size);
		if (c->buf && fd_pread_all(fd, c->buf, (size_t)st.st_size, 0) == 0 &&
		    !memcmp(c->buf, DL_CACHE_MAGIC, strlen(DL_CACHE_MAGIC))) {
			c->len = (size_t)st.st_size;
			memcpy(&c->nlibs, c->buf + 20, 4);
			if (c->nlibs > (c->len - DL_CACHE_HDR) / DL_CACHE_ENT)
				c->nlibs = 0; /* a damaged cache: the default directories remain */
		}
	}
	close(fd);
	if (!c->len) {
		free(c->buf);
		c->buf = NULL;
	}
}

/* A NUL-terminated string at off inside the cache, or NULL. */
static const char *dl_cache_str(const struct dl_cache *c, uint32_t off)
{
	if (off >= c->len || !memchr(c->buf + off, '\0', c->len - off))
		return NULL;
	return (const char *)c->buf + off;
}

/* Adds every x86-64 cache entry for name: 1 (one at least), 0 (none), -1. */
static int dl_cache_find(const struct dl_cache *c, const char *name, struct dl_needed *d)
{
	int any = 0;

	for (uint32_t i = 0; i < c->nlibs; i++) {
		const uint8_t *e = c->buf + DL_CACHE_HDR + (size_t)i * DL_CACHE_ENT;
		uint32_t key, value;
		int32_t flags;
		const char *k, *v;

		memcpy(&flags, e, 4);
		memcpy(&key, e + 4, 4);
		memcpy(&value, e + 8, 4);
		if ((flags & 0xffff) != DL_CACHE_X86_64)
			continue;
		k = dl_cache_str(c, key);
		v = dl_cache_str(c, value);
		if (!k || !v || strcmp(k, name) != 0 || v[0] != '/')
			continue;
		switch (dl_add_path(d, v)) {
		case -1:
			return -1;
		case 1:
			any = 1;
		}
	}
	return any;
}

static void dl_obj_free(struct dl_obj *o)
{
	for (size_t i = 0; i < o->nneeded; i++)
		free(o->needed[i]);
	free(o->rpath);
	free(o->runpath);
	memset(o, 0, sizeof(*o));
}

/* Reads the dynamic section of an x86-64 ELF: -1 when it is not one the loader would take. */
static int dl_obj_read(Elf *elf, struct dl_obj *o)
{
	Elf_Scn *scn = NULL;
	GElf_Ehdr eh;
	GElf_Shdr sh;

	memset(o, 0, sizeof(*o));
	if (!elf || elf_kind(elf) != ELF_K_ELF || gelf_getclass(elf) != ELFCLASS64 ||
	    !gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 ||
	    (eh.e_type != ET_DYN && eh.e_type != ET_EXEC))
		return -1;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		Elf_Data *data;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && i < sh.sh_size / sh.sh_entsize; i++) {
			const char *s;

			if (!gelf_getdyn(data, (int)i, &dyn) || dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag != DT_NEEDED && dyn.d_tag != DT_RPATH && dyn.d_tag != DT_RUNPATH)
				continue;
			s = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);
			if (!s)
				continue;
			if (dyn.d_tag == DT_NEEDED && o->nneeded < DL_NEEDED_MAX)
				o->needed[o->nneeded++] = strdup(s);
			else if (dyn.d_tag == DT_RPATH && !o->rpath)
				o->rpath = strdup(s);
			else if (dyn.d_tag == DT_RUNPATH && !o->runpath)
				o->runpath = strdup(s);
		}
		break;
	}
	for (size_t i = 0; i < o->nneeded; i++)
		if (!o->needed[i])
			return -1;
	return 0;
}

static int dl_obj_read_file(const char *host, struct dl_obj *o)
{
	int fd = fd_open_regular(host, 0), r;
	Elf *elf;

	if (fd < 0)
		return -1;
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	r = dl_obj_read(elf, o);
	if (elf)
		elf_end(elf);
	close(fd);
	return r;
}

/* Whether host is an x86-64 shared object (what the loader's open_verify takes). */
static int dl_is_library(const char *host)
{
	struct dl_obj o;
	int r = dl_obj_read_file(host, &o);

	dl_obj_free(&o);
	return r == 0;
}

/*
 * Looks name up in one colon-separated list of directories ($ORIGIN is
 * origin, the directory of the object that asks) and adds the first hit:
 * 1, 0 (none), -1.
 */
static int dl_search_list(struct dl_needed *d, const char *list, const char *origin,
			  const char *name)
{
	char *copy, *save = NULL, *dir;
	char path[PATH_MAX], host[PATH_MAX];
	int hit = 0;

	if (!list)
		return 0;
	copy = strdup(list);
	if (!copy)
		return err_set("out of memory");
	for (dir = strtok_r(copy, ":", &save); dir && !hit; dir = strtok_r(NULL, ":", &save)) {
		const char *rest = NULL;
		int n;

		if (!strncmp(dir, "$ORIGIN", 7))
			rest = dir + 7;
		else if (!strncmp(dir, "${ORIGIN}", 9))
			rest = dir + 9;
		if (rest && !origin)
			continue;
		if (strchr(rest ? rest : dir, '$'))
			continue; /* $LIB, $PLATFORM: not looked up */
		n = rest ? snprintf(path, sizeof(path), "%s%s/%s", origin, rest, name)
			 : snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (n < 0 || (size_t)n >= sizeof(path) || path[0] != '/')
			continue;
		if (dl_resolve(path, host) == 0 && dl_is_library(host))
			hit = dl_add(d, path, host) < 0 ? -1 : 1;
	}
	free(copy);
	return hit;
}

/* The loader's order: DT_RPATH (when no DT_RUNPATH), DT_RUNPATH, the cache, the defaults. */
static int dl_search(struct dl_needed *d, const struct dl_obj *o, const struct dl_obj *prog,
		     const char *origin, const char *prog_origin, const struct dl_cache *c,
		     const char *name)
{
	int r = 0;

	if (!o->runpath) {
		r = dl_search_list(d, o->rpath, origin, name);
		if (!r && o != prog && !prog->runpath)
			r = dl_search_list(d, prog->rpath, prog_origin, name);
	}
	if (!r)
		r = dl_search_list(d, o->runpath, origin, name);
	if (!r)
		r = dl_cache_find(c, name, d);
	for (const char *const *dir = dl_default_dirs; !r && *dir; dir++)
		r = dl_search_list(d, *dir, NULL, name);
	return r;
}

/* Adds what object o (of directory origin) needs, each name as the loader finds it. */
static int dl_add_needed(struct dl_needed *d, const struct dl_obj *o, const struct dl_obj *prog,
			 const char *origin, const char *prog_origin, const struct dl_cache *c)
{
	for (size_t k = 0; k < o->nneeded; k++)
		if (!strchr(o->needed[k], '/') &&
		    dl_search(d, o, prog, origin, prog_origin, c, o->needed[k]) < 0)
			return -1;
	return 0;
}

/* The directory part of an absolute path into buf (PATH_MAX). */
static void dl_dirname(const char *path, char *buf)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash && slash != path ? (size_t)(slash - path) : 1;

	memcpy(buf, path, n);
	buf[n] = '\0';
}

/* Walks the closure breadth first: d->files[first..] are the objects still to read. */
static int dl_walk(struct dl_needed *d, size_t first, const struct dl_obj *prog,
		   const char *prog_origin, const struct dl_cache *c)
{
	char origin[PATH_MAX];

	for (size_t i = first; i < d->n; i++) {
		struct dl_obj o;
		int r;

		if (dl_obj_read_file(d->files[i].host, &o) < 0) {
			dl_obj_free(&o);
			continue; /* not a library the loader would take: it will say so */
		}
		dl_dirname(d->files[i].guest, origin);
		r = dl_add_needed(d, &o, prog, origin, prog_origin, c);
		dl_obj_free(&o);
		if (r < 0)
			return -1;
	}
	return 0;
}

int dl_needed_resolve(const char *path, const void *elf, size_t len, const char *interp,
		      struct dl_needed *out)
{
	char host[PATH_MAX], origin[PATH_MAX] = "";
	struct dl_cache c;
	struct dl_obj prog;
	size_t first;
	Elf *e;
	int r = -1;

	memset(out, 0, sizeof(*out));
	elf_version(EV_CURRENT);
	e = elf_memory((char *)elf, len);
	if (dl_obj_read(e, &prog) < 0) {
		if (e)
			elf_end(e);
		dl_obj_free(&prog);
		return err_set("not an x86-64 dynamic executable");
	}
	elf_end(e);
	dl_cache_load(&c);
	/* The program at the path it was named by and at its real one ($ORIGIN's). */
	if (path && dl_resolve(path, host) == 0) {
		dl_dirname(host, origin);
		out->exe = strdup(host);
		if (!out->exe) {
			err_set("out of memory");
			goto out;
		}
		if (dl_add(out, host, host) < 0 || dl_add_path(out, path) < 0)
			goto out;
	}
	if (dl_add_path(out, interp) < 0 || dl_add_path(out, DL_CACHE) < 0)
		goto out;
	first = out->n;
	r = dl_add_needed(out, &prog, &prog, origin[0] ? origin : NULL, origin[0] ? origin : NULL,
			  &c);
	if (r == 0)
		r = dl_walk(out, first, &prog, origin[0] ? origin : NULL, &c);
out:
	dl_obj_free(&prog);
	free(c.buf);
	if (r < 0)
		dl_needed_free(out);
	return r < 0 ? -1 : 0;
}

int dl_needed_copy(struct dl_needed *dst, const struct dl_needed *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; i < src->n; i++)
		if (dl_add(dst, src->files[i].guest, src->files[i].host) < 0)
			goto fail;
	if (src->exe && !(dst->exe = strdup(src->exe))) {
		err_set("out of memory");
		goto fail;
	}
	return 0;
fail:
	dl_needed_free(dst);
	return -1;
}

void dl_needed_free(struct dl_needed *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->files[i].guest);
		free(d->files[i].host);
	}
	free(d->files);
	free(d->exe);
	memset(d, 0, sizeof(*d));
}
