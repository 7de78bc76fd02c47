/* fuzz.h: what the libFuzzer targets (tests/fuzz/fuzz_*.c) share: invariant checks, debug output
 * (MVMM_FUZZ_DEBUG=1 in the environment), files in memfds. */
#ifndef MVMM_FUZZ_H
#define MVMM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A broken promise of the code under test is a crash: libFuzzer keeps the input. */
#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: invariant broken: %s: ", #cond);                    \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static inline int fuzz_debug(void)
{
	static int on = -1;

	if (on < 0)
		on = getenv("MVMM_FUZZ_DEBUG") != NULL;
	return on;
}

/* What happened to one input, for people reading MVMM_FUZZ_DEBUG=1 output; silent while fuzzing. */
#define FUZZ_LOG(...)                                                                              \
	do {                                                                                       \
		if (fuzz_debug())                                                                  \
			fprintf(stderr, __VA_ARGS__);                                              \
	} while (0)

/* A set-up step that cannot fail unless the host is broken. */
static inline void fuzz_need(int ok, const char *what)
{
	if (!ok) {
		perror(what);
		abort();
	}
}

static inline int fuzz_memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	fuzz_need(fd >= 0, "memfd_create");
	return fd;
}

/* Makes fd's content exactly [p, p + len). */
static inline void fuzz_fill(int fd, const void *p, size_t len)
{
	size_t done = 0;

	fuzz_need(ftruncate(fd, 0) == 0, "ftruncate");
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)p + done, len - done, (off_t)done);

		fuzz_need(n > 0, "pwrite");
		done += (size_t)n;
	}
}

/* A path that opens fd's file again (a memfd has no other). */
static inline void fuzz_fd_path(int fd, char *buf, size_t cap)
{
	snprintf(buf, cap, "/proc/self/fd/%d", fd);
}

#endif
