/*
 * host_hold: the host baseline of a held Linux guest, for bench/linux.sh.
 *
 *   host_hold [-t SECONDS] N PROG [ARG...]
 *
 * Starts N host processes PROG ARG... (posix_spawn), each with its stdin
 * the read end of one shared empty pipe and stdout/stderr on /dev/null,
 * waits until every one of them is blocked in read(0, ...) (per
 * /proc/PID/syscall), and measures, while all are held:
 *   start_all_ms       first spawn until the last one blocked reading stdin
 *   pss_kib, rss_kib   summed over /proc/PID/smaps_rollup of the N processes
 *   kernel_growth_kib  growth of Slab + KernelStack + PageTables +
 *                      SecPageTables + Percpu + VmallocUsed in /proc/meminfo
 *                      (the same keys `mvmm run --stats` counts)
 *   host_kib_per_instance  (pss_kib + kernel_growth_kib) / N, as mvmm's
 * and prints them as one JSON object on stdout.  It then closes the pipe
 * (each process reads end of file and exits), kills what is left after a
 * second and reaps all.  The pipe's write end is close-on-exec and held by
 * host_hold alone, so the processes also end if host_hold itself dies.
 * Waiting for them to block is bounded by -t (default 120 s): exit 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static pid_t *pids;
static long npids;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* Sum of the kernel's own memory in /proc/meminfo (kB), or -1. */
static long kernel_kb(void)
{
	static const char *const keys[] = {"Slab:",	     "KernelStack:", "PageTables:",
					   "SecPageTables:", "Percpu:",	     "VmallocUsed:"};
	char line[256];
	long sum = 0;
	FILE *f = fopen("/proc/meminfo", "re");
	size_t k;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			size_t len = strlen(keys[k]);

			if (!strncmp(line, keys[k], len))
				sum += strtol(line + len, NULL, 10);
		}
	}
	fclose(f);
	return sum;
}

/* 1 if pid is blocked in read(0, ...), 0 if not yet, -1 if it is gone. */
static int blocked_reading_stdin(pid_t pid)
{
	char path[64], buf[256];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return !strncmp(buf, "0 0x0 ", 6);
}

/* Adds pid's Rss and Pss (kB) from smaps_rollup; -1 on failure. */
static int add_rollup(pid_t pid, long *rss, long *pss)
{
	char path[64], line[256];
	int got = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/smaps_rollup", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Rss:", 4)) {
			*rss += strtol(line + 4, NULL, 10);
			got |= 1;
		} else if (!strncmp(line, "Pss:", 4)) {
			*pss += strtol(line + 4, NULL, 10);
			got |= 2;
		}
	}
	fclose(f);
	return got == 3 ? 0 : -1;
}

/* Kills and reaps every child still there (at most a bounded wait each). */
static void reap_all(double grace_ms)
{
	double end = now_ms() + grace_ms;
	long i, left;

	do {
		left = 0;
		for (i = 0; i < npids; i++) {
			pid_t r;

			if (pids[i] <= 0)
				continue;
			r = waitpid(pids[i], NULL, WNOHANG);
			if (r == pids[i] || (r < 0 && errno == ECHILD))
				pids[i] = 0;
			else
				left++;
		}
		if (left)
			usleep(2000);
	} while (left && now_ms() < end);
	for (i = 0; i < npids; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
			pids[i] = 0;
		}
	}
}

static void usage(void)
{
	fputs("usage: host_hold [-t SECONDS] N PROG [ARG...]\n", stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	posix_spawn_file_actions_t fa;
	double timeout_ms = 120e3, t0, t_all = 0, deadline;
	long n, i, waiting, k0, k1, rss = 0, pss = 0;
	int p[2], ai = 1, err;
	char *end;

	if (ai + 1 < argc && !strcmp(argv[ai], "-t")) {
		timeout_ms = strtod(argv[ai + 1], &end) * 1e3;
		if (*end || timeout_ms <= 0)
			usage();
		ai += 2;
	}
	if (argc - ai < 2)
		usage();
	errno = 0;
	n = strtol(argv[ai], &end, 10);
	if (errno || *end || n < 1 || n > 1000000)
		usage();
	pids = calloc((size_t)n, sizeof(*pids));
	if (!pids) {
		perror("host_hold: calloc");
		return 1;
	}
	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("host_hold: pipe2");
		return 1;
	}
	if (posix_spawn_file_actions_init(&fa) ||
	    posix_spawn_file_actions_adddup2(&fa, p[0], STDIN_FILENO) ||
	    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) ||
	    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, "/dev/null", O_WRONLY, 0)) {
		fputs("host_hold: posix_spawn_file_actions failed\n", stderr);
		return 1;
	}

	k0 = kernel_kb();
	t0 = now_ms();
	for (i = 0; i < n; i++) {
		err = posix_spawn(&pids[npids], argv[ai + 1], &fa, NULL, &argv[ai + 1], environ);
		if (err) {
			fprintf(stderr, "host_hold: cannot start %s (process %ld): %s\n",
				argv[ai + 1], i, strerror(err));
			close(p[1]);
			reap_all(1000);
			return 1;
		}
		npids++;
	}
	close(p[0]);

	/* Until every process is blocked reading its stdin (bounded). */
	deadline = t0 + timeout_ms;
	i = 0;
	for (;;) {
		while (i < n) {
			int b = blocked_reading_stdin(pids[i]);

			if (b < 0) {
				fprintf(stderr,
					"host_hold: process %ld (pid %d) ended before it blocked\n",
					i, (int)pids[i]);
				close(p[1]);
				reap_all(1000);
				return 1;
			}
			if (!b)
				break;
			i++;
		}
		if (i == n) {
			t_all = now_ms();
			break;
		}
		if (now_ms() > deadline) {
			fprintf(stderr, "host_hold: %ld of %ld processes blocked after %.0f s\n", i,
				n, timeout_ms / 1e3);
			close(p[1]);
			reap_all(1000);
			return 1;
		}
		usleep(200);
	}

	waiting = 0;
	for (i = 0; i < n; i++)
		if (add_rollup(pids[i], &rss, &pss) < 0)
			waiting++;
	k1 = kernel_kb();
	close(p[1]); /* end of file for all of them */
	reap_all(2000);

	if (waiting) {
		fprintf(stderr, "host_hold: no smaps_rollup for %ld processes\n", waiting);
		return 1;
	}
	printf("{\"instances\":%ld,\"start_all_ms\":%.3f,\"rss_kib\":%ld,\"pss_kib\":%ld,"
	       "\"kernel_growth_kib\":%ld,\"host_kib_per_instance\":%.1f}\n",
	       n, t_all - t0, rss, pss, k1 - k0, ((double)pss + (double)(k1 - k0)) / (double)n);
	return 0;
}
