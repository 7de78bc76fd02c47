/*
 * spawn_time: wall time of whole processes, for bench/startup.sh.
 *
 *   spawn_time [-w WARMUP] RUNS NAME STATUS PROG [ARG...] [-- NAME STATUS PROG [ARG...]]...
 *
 * Runs each command RUNS times, round-robin (run r starts with command
 * r mod N, so no command always goes first), and prints one CSV row per
 * run to stdout: name,run,us.  Each run is timed with CLOCK_MONOTONIC from
 * just before the process is spawned (posix_spawn: clone + execve) to
 * waitpid's return, so it includes exec, the program's work, its exit and
 * the kernel's teardown of its resources.  The child's stdout goes to
 * /dev/null and its stderr to a scratch file that is shown if the command
 * ends with an exit status other than STATUS, which makes spawn_time fail.
 * WARMUP rounds (default 1) run first and are not recorded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct cmd {
	const char *name;
	int status;
	char **argv;
	int err_fd;
};

static void usage(void)
{
	fputs("usage: spawn_time [-w WARMUP] [-s SEP] RUNS NAME STATUS PROG [ARG...] [SEP NAME STATUS PROG [ARG...]]...\n"
	      "  (SEP, default --, separates the commands)\n",
	      stderr);
	exit(2);
}

static long parse_num(const char *s, long min, long max)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max) {
		fprintf(stderr, "spawn_time: bad number '%s'\n", s);
		usage();
	}
	return v;
}

static double now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static void show_stderr(const struct cmd *c)
{
	char buf[4096];
	ssize_t n;
	if (lseek(c->err_fd, 0, SEEK_SET) < 0)
		return;
	while ((n = read(c->err_fd, buf, sizeof buf)) > 0)
		fwrite(buf, 1, (size_t)n, stderr);
}

/* Runs c once; returns its wall time in microseconds, or exits on failure. */
static double run_once(const struct cmd *c)
{
	if (ftruncate(c->err_fd, 0) < 0 || lseek(c->err_fd, 0, SEEK_SET) < 0) {
		perror("spawn_time: scratch file");
		exit(1);
	}
	posix_spawn_file_actions_t fa;
	if (posix_spawn_file_actions_init(&fa) ||
	    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0) ||
	    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0) ||
	    posix_spawn_file_actions_adddup2(&fa, c->err_fd, STDERR_FILENO)) {
		fputs("spawn_time: posix_spawn_file_actions failed\n", stderr);
		exit(1);
	}

	pid_t pid;
	int status;
	double t0 = now_us();
	int err = posix_spawn(&pid, c->argv[0], &fa, NULL, c->argv, environ);
	if (err) {
		fprintf(stderr, "spawn_time: %s: cannot start %s: %s\n", c->name, c->argv[0], strerror(err));
		exit(1);
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("spawn_time: waitpid");
			exit(1);
		}
	}
	double t = now_us() - t0;
	posix_spawn_file_actions_destroy(&fa);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != c->status) {
		if (WIFEXITED(status))
			fprintf(stderr, "spawn_time: %s: exit status %d, expected %d\n", c->name,
				WEXITSTATUS(status), c->status);
		else
			fprintf(stderr, "spawn_time: %s: killed by signal %d\n", c->name,
				WIFSIGNALED(status) ? WTERMSIG(status) : -1);
		fprintf(stderr, "spawn_time: %s: its stderr was:\n", c->name);
		show_stderr(c);
		exit(1);
	}
	return t;
}

int main(int argc, char **argv)
{
	int i = 1;
	long warmup = 1;
	const char *sep = "--"; /* -s SEP: for commands that take "--" themselves */
	while (i < argc && (strcmp(argv[i], "-w") == 0 || strcmp(argv[i], "-s") == 0)) {
		if (i + 1 >= argc)
			usage();
		if (argv[i][1] == 'w')
			warmup = parse_num(argv[i + 1], 0, 1000000);
		else
			sep = argv[i + 1];
		i += 2;
	}
	if (i >= argc)
		usage();
	long runs = parse_num(argv[i++], 1, 100000000);

	struct cmd *cmds = calloc((size_t)argc, sizeof *cmds);
	if (!cmds) {
		perror("spawn_time: calloc");
		return 1;
	}
	int n = 0;
	while (i < argc) {
		if (argc - i < 3)
			usage();
		struct cmd *c = &cmds[n++];
		c->name = argv[i];
		c->status = (int)parse_num(argv[i + 1], 0, 255);
		c->argv = &argv[i + 2];
		int j = i + 2;
		while (j < argc && strcmp(argv[j], sep) != 0)
			j++;
		if (j < argc)
			argv[j++] = NULL;	/* terminates this command's argv */
		i = j;

		char path[] = "/tmp/spawn_time.XXXXXX";
		c->err_fd = mkstemp(path);
		if (c->err_fd < 0) {
			perror("spawn_time: mkstemp");
			return 1;
		}
		unlink(path);
	}
	if (n == 0)
		usage();

	for (long r = 0; r < warmup; r++)
		for (int k = 0; k < n; k++)
			run_once(&cmds[k]);

	printf("name,run,us\n");
	for (long r = 0; r < runs; r++) {
		for (int k = 0; k < n; k++) {
			const struct cmd *c = &cmds[(r + k) % n];
			double t = run_once(c);
			printf("%s,%ld,%.1f\n", c->name, r, t);
		}
	}
	if (fflush(stdout) == EOF || ferror(stdout)) {
		perror("spawn_time: writing results");
		return 1;
	}
	return 0;
}
