/*
 * tplfile.c: a Linux template whose process state must survive a snapshot or
 * the image cache (tests/clone/test_linux_snapshot.c). At start-up, with a
 * tree at /data: opens /data/input.txt and reads its first 6 bytes, mallocs
 * and mmaps memory and fills it, installs a SIGUSR1 handler, changes to
 * /data/sub; with PIPE=1 in its environment it also holds a pipe. Then it
 * reads stdin lines (the ready point of --ready-on=stdin) and for each prints
 * "got: LINE" and what proves the state: the file's offset and the next 8
 * bytes read from it (each clone has its own offset), the cwd and a file
 * opened by a relative path there, the handler's count after a raise, the
 * memory's sums.
 * The line "checkpoint" makes mvmm's checkpoint hypercall (port I/O) and
 * prints its number: under --snapshot that writes a diff.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define HEAP_BYTES (96u << 10)
#define MAP_BYTES  (1u << 20)

static volatile sig_atomic_t handled;
/*
 * The hypercall block: 8-byte aligned, in the program's data (below 4 GiB). The call is
 * made by hand (MVMM_HC_CHECKPOINT, 3 in guest ABI 2) so that the musl-gcc and gcc builds
 * need no mvmm header.
 */
static volatile int64_t checkpoint_block __attribute__((aligned(8)));

static void on_usr1(int sig)
{
	(void)sig;
	handled++;
}

static int64_t checkpoint(void)
{
	uint32_t gpa = (uint32_t)(uintptr_t)&checkpoint_block;

	checkpoint_block = -1;
	__asm__ volatile("outl %0, %1" : : "a"(gpa), "Nd"((uint16_t)(0x500 + 3)) : "memory");
	return checkpoint_block;
}

static uint32_t sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i < n; i++)
		s = s * 31 + p[i];
	return s;
}

int main(void)
{
	struct sigaction sa = {.sa_handler = on_usr1};
	char head[7] = "", line[512], cwd[256];
	int fd, pipefd[2];
	uint8_t *heap, *map;

	fd = open("/data/input.txt", O_RDONLY);
	if (fd < 0 || read(fd, head, 6) != 6) {
		perror("tplfile: /data/input.txt");
		return 2;
	}
	heap = malloc(HEAP_BYTES);
	map = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (!heap || map == MAP_FAILED)
		return 3;
	for (size_t i = 0; i < HEAP_BYTES; i++)
		heap[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < MAP_BYTES; i += 4096)
		map[i] = (uint8_t)(i >> 12);
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0 || chdir("/data/sub") < 0) {
		perror("tplfile: set-up");
		return 4;
	}
	if (getenv("PIPE") && pipe(pipefd) < 0)
		return 5;
	fprintf(stderr, "init: %s\n", head);
	while (fgets(line, sizeof(line), stdin)) {
		char next[9] = "", rel[32] = "";
		off_t at = lseek(fd, 0, SEEK_CUR);
		ssize_t n = read(fd, next, 8);
		int r = open("rel.txt", O_RDONLY);

		line[strcspn(line, "\n")] = '\0';
		if (r >= 0) {
			ssize_t k = read(r, rel, sizeof(rel) - 1);

			rel[k > 0 ? k : 0] = '\0';
			rel[strcspn(rel, "\n")] = '\0';
			close(r);
		}
		raise(SIGUSR1);
		printf("got: %s\n", line);
		printf("  file at %ld: %.*s\n", (long)at, n > 0 ? (int)n : 0, next);
		printf("  cwd: %s, rel.txt: %s\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?", rel);
		printf("  handler ran %d times\n", (int)handled);
		printf("  heap %08x map %08x\n", sum(heap, HEAP_BYTES), sum(map, MAP_BYTES));
		if (!strcmp(line, "checkpoint"))
			printf("  checkpoint %ld\n", (long)checkpoint());
		fflush(stdout);
	}
	return 0;
}
