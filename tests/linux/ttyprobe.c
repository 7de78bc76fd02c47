/*
 * ttyprobe.c: TCGETS on stderr into a 64-byte buffer of 0xaa: Linux fills
 * the kernel's 36-byte struct termios and nothing past it. Prints
 * "ttyprobe: termios ok", or "... overflow" or "... error N".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
	unsigned char buf[64];
	long r;

	memset(buf, 0xaa, sizeof(buf));
	r = syscall(SYS_ioctl, 2, TCGETS, buf);
	if (r < 0) {
		fprintf(stderr, "ttyprobe: termios error %d\n", errno);
		return 1;
	}
	for (size_t i = 36; i < sizeof(buf); i++)
		if (buf[i] != 0xaa) {
			fprintf(stderr, "ttyprobe: termios overflow at %zu\n", i);
			return 1;
		}
	fprintf(stderr, "ttyprobe: termios ok\n");
	return 0;
}
