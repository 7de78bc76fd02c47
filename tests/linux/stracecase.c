/*
 * stracecase.c: system calls with known arguments for `mvmm run --strace` to print, made with
 * syscall() so both C libraries make the same ones: an open, a read and a failed open under
 * /data, writes with escapes, a long buffer, a bad pointer, an anonymous mmap, an unknown
 * number. Run under mvmm with --dir TREE:/data, TREE holding x ("abc\n").
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	static const char path[] = "/data/a-path-name-longer-than-thirty-two-bytes";
	char buf[4096], many[100];
	long fd;

	fd = syscall(SYS_openat, AT_FDCWD, "/data/x", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		syscall(SYS_read, fd, buf, sizeof(buf));
		syscall(SYS_close, fd);
	}
	syscall(SYS_openat, AT_FDCWD, "/nope", O_RDONLY);
	syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	syscall(SYS_write, 1, "\001\t\"\\z\0007", 7);
	for (unsigned i = 0; i < sizeof(many); i++)
		many[i] = (char)('A' + i % 26);
	syscall(SYS_write, 1, many, sizeof(many));
	syscall(SYS_write, 1, (void *)0x10, 5);
	syscall(SYS_mmap, 0, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	syscall(333, 1, 2, 3, 4, 5, 6);
	syscall(600, 0, 0, 0, 0, 0, 0);
	return 4;
}
