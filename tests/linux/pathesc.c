/*
 * pathesc.c: tries to reach host files outside the --dir tree mounted at /data: "..", absolute
 * and relative symlinks planted in the tree, /proc/self/root, the host path itself, openat
 * from a directory fd, writes and creations through escaping links (the tree is :rw). Prints
 * one line per attempt: "PATH: ERRNO" or "PATH: OPENED [contents]". Run under mvmm only:
 *	pathesc HOST_SECRET_PATH
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *err_name(int e)
{
	static char other[32];

	switch (e) {
	case ENOENT:
		return "ENOENT";
	case EACCES:
		return "EACCES";
	case EPERM:
		return "EPERM";
	case EXDEV:
		return "EXDEV";
	case ELOOP:
		return "ELOOP";
	case ENOTDIR:
		return "ENOTDIR";
	case EROFS:
		return "EROFS";
	case EINVAL:
		return "EINVAL";
	case EBADF:
		return "EBADF";
	case ENOSYS:
		return "ENOSYS";
	case EEXIST:
		return "EEXIST";
	case EISDIR:
		return "EISDIR";
	}
	snprintf(other, sizeof(other), "errno %d", e);
	return other;
}

static void show(const char *what, int fd)
{
	char buf[64];
	ssize_t n;

	if (fd < 0) {
		printf("%s: %s\n", what, err_name(errno));
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	printf("%s: OPENED [%s]\n", what, buf);
	close(fd);
}

static void try_open(const char *path)
{
	show(path, open(path, O_RDONLY));
}

static void try_stat(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0)
		printf("stat %s: FOUND size=%lld\n", path, (long long)st.st_size);
	else
		printf("stat %s: %s\n", path, err_name(errno));
}

static void list(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;

	if (!d) {
		printf("opendir %s: %s\n", path, err_name(errno));
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			printf("entry of %s: %s\n", path, e->d_name);
	closedir(d);
}

int main(int argc, char **argv)
{
	static const char *const paths[] = {
		"/data/../secret.txt",
		"/data/../../../../etc/passwd",
		"/data/sub/../../secret.txt",
		"/data/up/secret.txt",
		"/data/upsecret",
		"/data/deep",
		"/data/abs",
		"/data/absdir/passwd",
		"/data/absroot/etc/passwd",
		"/data/tmpsecret",
		"/data/procroot/etc/passwd",
		"/data/sub/loop",
		"/proc/self/root/etc/passwd",
		"/proc/self/root/data/../secret.txt",
		"/proc/self/cwd/../secret.txt",
		"/proc/1/root/etc/passwd",
		"/etc/passwd",
		"/etc/shadow",
		"/secret.txt",
		"/data/./../secret.txt",
		"//data//..//secret.txt",
		"/data/sub/okup/../secret.txt",
	};
	char buf[256];
	int dir, sub, fd;
	ssize_t n;

	/* what must work: the tree itself, a link that stays inside it */
	try_open("/data/inside.txt");
	try_open("/data/ok");
	try_open("/data/sub/okup");
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		try_open(paths[i]);
		try_stat(paths[i]);
	}
	if (argc > 1) {
		try_open(argv[1]); /* the secret's host path */
		try_stat(argv[1]);
	}
	dir = open("/data", O_RDONLY | O_DIRECTORY);
	sub = open("/data/sub", O_RDONLY | O_DIRECTORY);
	show("openat(/data, ../secret.txt)", openat(dir, "../secret.txt", O_RDONLY));
	show("openat(/data, upsecret)", openat(dir, "upsecret", O_RDONLY));
	show("openat(/data, /etc/passwd)", openat(dir, "/etc/passwd", O_RDONLY));
	show("openat(/data/sub, ../../secret.txt)", openat(sub, "../../secret.txt", O_RDONLY));
	show("openat(/data/sub, ../up/secret.txt)", openat(sub, "../up/secret.txt", O_RDONLY));
	if (chdir("/data/sub") == 0) {
		try_open("../../secret.txt");
		try_open("../up/secret.txt");
		try_open("../upsecret");
		if (getcwd(buf, sizeof(buf)))
			printf("cwd: %s\n", buf);
		if (chdir("../..") == 0 && getcwd(buf, sizeof(buf)))
			printf("cwd after ../..: %s\n", buf);
		try_open("secret.txt");
		try_open("data/inside.txt");
	} else {
		printf("chdir /data/sub: %s\n", err_name(errno));
	}
	if (fchdir(dir) == 0) {
		try_open("../secret.txt");
		try_open("up/secret.txt");
	}
	list("/");
	list("/data/..");
	list("/data/up");
	list("/data/absroot");
	list("/proc/self/root");
	/* writes and creations through escaping names */
	show("create /data/up/created",
	     open("/data/up/created", O_WRONLY | O_CREAT | O_EXCL, 0644));
	show("create /data/../created", open("/data/../created", O_WRONLY | O_CREAT, 0644));
	fd = open("/data/upsecret", O_WRONLY | O_TRUNC);
	printf("truncate through upsecret: %s\n", fd < 0 ? err_name(errno) : "OPENED");
	if (fd >= 0) {
		n = write(fd, "overwritten", 11);
		printf("  wrote %zd\n", n);
		close(fd);
	}
	fd = open("/data/tmpsecret", O_WRONLY | O_APPEND);
	printf("append through tmpsecret: %s\n", fd < 0 ? err_name(errno) : "OPENED");
	if (fd >= 0)
		close(fd);
	printf("mkdir /data/up/newdir: %s\n",
	       mkdir("/data/up/newdir", 0755) ? err_name(errno) : "MADE");
	printf("rename inside.txt to /data/up/moved: %s\n",
	       rename("/data/inside.txt", "/data/up/moved") ? err_name(errno) : "MOVED");
	printf("rename /data/../secret.txt in: %s\n",
	       rename("/data/../secret.txt", "/data/stolen") ? err_name(errno) : "MOVED");
	printf("unlink /data/up/secret.txt: %s\n",
	       unlink("/data/up/secret.txt") ? err_name(errno) : "REMOVED");
	n = readlink("/proc/self/root", buf, sizeof(buf) - 1);
	printf("readlink /proc/self/root: %s\n", n < 0 ? err_name(errno) : "read");
	printf("done\n");
	return 0;
}
