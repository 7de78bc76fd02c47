/* cli_core.c: --core FILE and --core-dir DIR: where a faulting guest's core file goes. */
#define _GNU_SOURCE
#include "cli_core.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * Opens dir without following a link and refuses one another user could
 * plant a file or a link in (as --output-dir does): the core file is
 * created by name in it, as root too. A sticky directory (/tmp) is
 * accepted: no one else can rename or remove a file there, and the file is
 * created O_EXCL|O_NOFOLLOW. Returns the fd or -1 (said).
 */
static int core_dir_open(const char *dir, int create, const char *opt, const char *cmd)
{
	struct stat st;
	int fd;

	if (create && mkdir(dir, 0700) < 0 && errno != EEXIST)
		goto sys;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		goto sys;
	if (fstat(fd, &st) < 0 ||
	    (!(st.st_mode & S_ISVTX) && (st.st_uid != geteuid() || (st.st_mode & 022)))) {
		close(fd);
		fprintf(stderr,
			"mvmm %s: warning: %s %s: owned by another user or writable by others "
			"(use a directory of your own, mode 0700 or 0755); no core file will be "
			"written\n",
			cmd, opt, dir);
		return -1;
	}
	return fd;
sys:
	fprintf(stderr, "mvmm %s: warning: %s %s: %s; no core file will be written\n", cmd, opt,
		dir, strerror(errno));
	return -1;
}

int cli_core_option(struct cli_core *o, int c, const char *arg, const char *cmd)
{
	const char *slash, *leaf;
	size_t dlen;
	int fd;

	if (c != CLI_CORE_FILE && c != CLI_CORE_DIR)
		return 0;
	if (o->set) {
		close(o->one.dirfd);
		o->set = 0;
	}
	if (!*arg) {
		fprintf(stderr, "mvmm %s: %s needs a path\n", cmd,
			c == CLI_CORE_FILE ? "--core" : "--core-dir");
		return -1;
	}
	if (c == CLI_CORE_DIR) {
		snprintf(o->dir, sizeof(o->dir), "%s", arg);
		snprintf(o->name, sizeof(o->name), "core.");
		snprintf(o->prefix, sizeof(o->prefix), "core.");
		fd = core_dir_open(arg, 1, "--core-dir", cmd);
	} else {
		slash = strrchr(arg, '/');
		leaf = slash ? slash + 1 : arg;
		dlen = slash ? (size_t)(slash - arg) : 0;
		if (!*leaf || !strcmp(leaf, ".") || !strcmp(leaf, "..") ||
		    strlen(leaf) > NAME_MAX - 12 || dlen >= sizeof(o->dir)) {
			fprintf(stderr, "mvmm %s: --core %s: not a file name\n", cmd, arg);
			return -1;
		}
		snprintf(o->dir, sizeof(o->dir), "%.*s", (int)dlen, slash == arg ? "/" : arg);
		if (slash == arg)
			snprintf(o->dir, sizeof(o->dir), "/");
		snprintf(o->name, sizeof(o->name), "%s", leaf);
		snprintf(o->prefix, sizeof(o->prefix), "%s.", leaf);
		fd = core_dir_open(slash ? o->dir : ".", 0, "--core", cmd);
		if (!slash)
			o->dir[0] = '\0';
	}
	if (fd < 0)
		return 1; /* said; the run goes on without core files */
	o->one = (struct vm_core_file){fd, c == CLI_CORE_DIR ? o->prefix : o->name,
				       c == CLI_CORE_DIR, o->dir};
	o->many = (struct vm_core_file){fd, o->prefix, 1, o->dir};
	o->set = 1;
	return 1;
}

const struct vm_core_file *cli_core_target(const struct cli_core *o, int many)
{
	if (!o->set)
		return NULL;
	return many ? &o->many : &o->one;
}
