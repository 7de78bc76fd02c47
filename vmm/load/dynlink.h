/*
 * dynlink.h: what a dynamic program needs to start, found on the host the
 * way its loader (glibc's ld.so) will look for it in the guest: the
 * program, its interpreter, /etc/ld.so.cache and the closure of its
 * DT_NEEDED libraries (DT_RPATH, DT_RUNPATH, the cache, the default
 * directories). The guest sees exactly these files, read-only, at the
 * paths its loader will open (lx_fs.c).
 */
#ifndef MVMM_DYNLINK_H
#define MVMM_DYNLINK_H

#include <stddef.h>

#define DL_FILES_MAX 512 /* files a closure may hold */

struct dl_file {
	char *guest; /* the absolute path the guest opens */
	char *host;  /* the host file behind it, every link resolved */
};

struct dl_needed {
	struct dl_file *files;
	size_t n, cap;
	char *exe; /* the program's own path, resolved (/proc/self/exe), or NULL */
};

/*
 * Fills *out for the program at path (its ELF already in elf, len bytes;
 * path may be NULL for a program given as a buffer) whose loader is
 * interp. A name the host cannot resolve is left out: the guest's loader
 * then says which library it misses, as it would on Linux. A DT_NEEDED
 * with a '/' in it is never looked up (the guest sees no such path unless
 * a --dir shows it). -1 with a message only for a failure of the host
 * (out of memory, more than DL_FILES_MAX files).
 */
int dl_needed_resolve(const char *path, const void *elf, size_t len, const char *interp,
		      struct dl_needed *out);
void dl_needed_free(struct dl_needed *d);
/* A deep copy of src into *dst; -1 (message set, *dst empty) when out of memory. */
int dl_needed_copy(struct dl_needed *dst, const struct dl_needed *src);

#endif
