/* cache_dir.c: the cache directory: where it is, and creating it safe from other users. */
#define _GNU_SOURCE
#include "cache.h"
#include "cache_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

char *cache_dir_path(const struct cache_opts *o)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char *p = NULL;

	if (o->dir && *o->dir)
		p = strdup(o->dir);
	else if (xdg && *xdg == '/')
		(void)!asprintf(&p, "%s/mvmm", xdg);
	else if (home && *home)
		(void)!asprintf(&p, "%s/.cache/mvmm", home);
	else {
		err_set("no cache directory: set --cache-dir, XDG_CACHE_HOME or HOME");
		return NULL;
	}
	if (!p)
		err_set("out of memory");
	return p;
}

/* mkdir -p, the last component 0700; refuses a directory others could write into. */
int cache_dir_prepare(const char *dir)
{
	char *p = strdup(dir), *s;
	struct stat st;

	if (!p)
		return err_set("out of memory");
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			err_sys("cache directory %s", p);
			free(p);
			return -1;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_sys("cache directory %s", dir);
	if (stat(dir, &st) < 0)
		return err_sys("cache directory %s", dir);
	if (!S_ISDIR(st.st_mode))
		return err_set("cache directory %s: not a directory", dir);
	/* Cache files become guest memory: nobody else may plant one. */
	if (st.st_uid != geteuid() || (st.st_mode & 022))
		return err_set("cache directory %s: owned by another user or writable by others",
			       dir);
	return 0;
}
