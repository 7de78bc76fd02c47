/* files.c: a directory tree read as a program reads it: opendir/readdir (sorted), open, read,
 * fstat, lseek, pread, stat, a missing file; argv[1] is the tree's path. Output names no path,
 * so a run under mvmm (--dir) and a native run print the same. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static const char *type_of(unsigned char t)
{
	return t == DT_REG	 ? "file"
	       : t == DT_DIR	 ? "dir"
	       : t == DT_LNK	 ? "link"
	       : t == DT_UNKNOWN ? "unknown"
				 : "other";
}

static void list(const char *dir, const char *rel, int depth)
{
	char *names[256];
	size_t n = 0;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d) {
		printf("opendir %s: %s\n", rel, strerror(errno));
		return;
	}
	while ((e = readdir(d)) != NULL && n < 256) {
		char *s = malloc(strlen(e->d_name) + 16);

		sprintf(s, "%s %s", e->d_name, type_of(e->d_type));
		names[n++] = s;
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp);
	for (size_t i = 0; i < n; i++) {
		char *sp = strchr(names[i], ' '), path[4096];
		struct stat st;

		printf("%*s%s\n", depth * 2, "", names[i]);
		*sp = '\0';
		if (!strcmp(names[i], ".") || !strcmp(names[i], "..")) {
			free(names[i]);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && depth < 4) {
			char r[1024];

			snprintf(r, sizeof(r), "%s/%s", rel, names[i]);
			list(path, r, depth + 1);
		}
		free(names[i]);
	}
}

static void file(const char *dir, const char *name)
{
	char path[4096], buf[8192], small[8];
	unsigned long sum = 0;
	long total = 0;
	struct stat st;
	ssize_t n;
	off_t off;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		printf("open %s: %s\n", name, strerror(errno));
		return;
	}
	if (fstat(fd, &st) != 0) {
		printf("fstat %s: %s\n", name, strerror(errno));
		close(fd);
		return;
	}
	printf("%s: reg=%d mode=%o size=%lld mtime=%lld nlink=%lu blksize>0=%d\n", name,
	       S_ISREG(st.st_mode), st.st_mode & 07777, (long long)st.st_size,
	       (long long)st.st_mtime, (unsigned long)st.st_nlink, st.st_blksize > 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			sum = sum * 131 + (unsigned char)buf[i];
		total += n;
	}
	printf("  read %ld bytes (last %zd) sum=%lu\n", total, n, sum);
	printf("  lseek end=%lld", (long long)lseek(fd, 0, SEEK_END));
	printf(" set3=%lld", (long long)lseek(fd, 3, SEEK_SET));
	n = read(fd, small, 4);
	printf(" read4=%zd", n);
	for (ssize_t i = 0; i < n; i++)
		printf(" %02x", (unsigned char)small[i]);
	printf(" cur=%lld", (long long)lseek(fd, 0, SEEK_CUR));
	printf(" back=%lld", (long long)lseek(fd, -2, SEEK_CUR));
	errno = 0;
	off = lseek(fd, -100000, SEEK_SET);
	printf(" neg=%lld %s", (long long)off, errno == EINVAL ? "EINVAL" : "?");
	n = pread(fd, small, 3, 1);
	printf(" pread=%zd", n);
	for (ssize_t i = 0; i < n; i++)
		printf(" %02x", (unsigned char)small[i]);
	printf(" cur=%lld\n", (long long)lseek(fd, 0, SEEK_CUR));
	close(fd);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	char path[4096];
	struct stat st;
	int fd;

	list(dir, ".", 0);
	file(dir, "hello.txt");
	file(dir, "big.bin");
	file(dir, "empty");
	file(dir, "sub/nested.txt");
	file(dir, "link-to-hello");
	snprintf(path, sizeof(path), "%s/sub", dir);
	memset(&st, 0, sizeof(st));
	fd = stat(path, &st);
	printf("stat sub: %d dir=%d\n", fd, S_ISDIR(st.st_mode));
	snprintf(path, sizeof(path), "%s/link-to-hello", dir);
	memset(&st, 0, sizeof(st));
	fd = lstat(path, &st);
	printf("lstat link: %d link=%d size=%lld\n", fd, S_ISLNK(st.st_mode),
	       (long long)st.st_size);
	snprintf(path, sizeof(path), "%s/missing", dir);
	fd = open(path, O_RDONLY);
	printf("open missing: %d %s\n", fd, errno == ENOENT ? "ENOENT" : strerror(errno));
	snprintf(path, sizeof(path), "%s/hello.txt/x", dir);
	fd = open(path, O_RDONLY);
	printf("open through a file: %d %s\n", fd, errno == ENOTDIR ? "ENOTDIR" : strerror(errno));
	snprintf(path, sizeof(path), "%s/sub", dir);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	printf("open dir: %s", fd >= 0 ? "ok" : strerror(errno));
	if (fd >= 0) {
		int f = openat(fd, "nested.txt", O_RDONLY);
		char b[16] = "";
		ssize_t n = f >= 0 ? read(f, b, sizeof(b) - 1) : -1;

		printf(", openat nested: %zd [%.*s]", n, n > 0 ? (int)n - 1 : 0, b);
		if (f >= 0)
			close(f);
		close(fd);
	}
	printf("\n");
	snprintf(path, sizeof(path), "%s/hello.txt", dir);
	fd = access(path, R_OK);
	printf("access R_OK=%d", fd);
	fd = access(path, X_OK);
	printf(" X_OK=%d\n", fd);
	return 0;
}
