/*
 * harness.c: 10,000 test cases through the public API (a fresh clone of one template per
 * case) against the same cases as fork()ed children of the host (no VM), in one run.
 *
 *   harness CASES.elf [N] [THREADS]
 *
 * The fork()ed children come from a small helper process forked at start (see fork_helper).
 * A case: check that the state built before it (a 16 KiB table) is intact, write one
 * byte of it, print "case N", exit with N % 100; the parent checks status and output.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <mvmm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TABLE 4096

static struct mvmm_template *tpl;
static unsigned table[TABLE];
static unsigned long table_sum;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The host version of cases.c's numbered case, run in a forked child. */
static void host_case(int n, int out)
{
	unsigned long sum = 0;
	char line[32];
	int len;
	unsigned i;

	for (i = 0; i < TABLE; i++)
		sum += table[i];
	if (sum != table_sum)
		_exit(101);
	table[n % TABLE] ^= 1u;
	len = snprintf(line, sizeof(line), "case %d\n", n);
	if (write(out, line, (size_t)len) != len)
		_exit(102);
	_exit(n % 100);
}

static int fork_case(int n)
{
	char buf[64], want[32];
	int p[2], st;
	ssize_t got;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid == 0)
		host_case(n, p[1]);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	got = read(p[0], buf, sizeof(buf) - 1);
	close(p[0]);
	if (waitpid(pid, &st, 0) < 0 || got < 0)
		return -1;
	buf[got] = '\0';
	snprintf(want, sizeof(want), "case %d\n", n);
	return WIFEXITED(st) && WEXITSTATUS(st) == n % 100 && !strcmp(buf, want) ? 0 : -1;
}

static int vm_case(int n)
{
	char num[16], want[32];
	const char *args[] = { "case", num, NULL };
	struct mvmm_run_opts o = { .args = args, .timeout_ms = 10000 };
	struct mvmm_result *r;
	int ok;

	snprintf(num, sizeof(num), "%d", n);
	snprintf(want, sizeof(want), "case %d\n", n);
	if (mvmm_run(tpl, &o, &r) < 0)
		return -1;
	ok = r->end == MVMM_END_EXIT && r->status == n % 100 && !strcmp(r->out, want);
	mvmm_result_free(r);
	return ok ? 0 : -1;
}

struct worker {
	int (*fn)(int);
	int first, n, failed;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	int i;

	for (i = 0; i < w->n; i++)
		if (w->fn(w->first + i) < 0)
			w->failed++;
	return NULL;
}

/* Runs n cases of fn on `threads` threads; returns the wall time in ns. */
static uint64_t run_all(int (*fn)(int), int n, int threads, int *failed)
{
	struct worker w[16];
	pthread_t th[16];
	uint64_t t0 = now_ns();
	int i;

	*failed = 0;
	for (i = 0; i < threads; i++) {
		w[i] = (struct worker){ fn, i * (n / threads), n / threads, 0 };
		pthread_create(&th[i], NULL, worker, &w[i]);
	}
	for (i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		*failed += w[i].failed;
	}
	return now_ns() - t0;
}

/*
 * The fork baseline runs in a helper process forked before the runtime exists: a test
 * runner's own small address space, not this one's with its VMs' mappings (which would
 * make every fork() copy more page tables). Asked by a byte on `cmd`, it answers with
 * the round's wall time and failures on `ans`.
 */
struct fork_answer {
	uint64_t ns;
	int failed;
};

static void fork_helper(int cmd, int ans, int n, int threads)
{
	struct fork_answer a;
	char c;

	while (read(cmd, &c, 1) == 1) {
		a.ns = run_all(fork_case, n, threads, &a.failed);
		if (write(ans, &a, sizeof(a)) != (ssize_t)sizeof(a))
			break;
	}
	_exit(0);
}

static uint64_t fork_round(int cmd, int ans, int *failed)
{
	struct fork_answer a = { 0, -1 };

	if (write(cmd, "r", 1) != 1 || read(ans, &a, sizeof(a)) != (ssize_t)sizeof(a))
		a.failed = -1;
	*failed = a.failed;
	return a.ns;
}

int main(int argc, char **argv)
{
	int cmd[2], ans[2];
	pid_t helper;
	const char *elf = argc > 1 ? argv[1] : "build/tests/harness/cases.elf";
	int n = argc > 2 ? atoi(argv[2]) : 10000, threads = argc > 3 ? atoi(argv[3]) : 2;
	struct mvmm_runtime *rt;
	struct mvmm_image *img;
	int fail_vm, fail_fork, i, round;
	uint64_t vm_ns[3], fork_ns[3], t0;
	double vm_med, fork_med;

	if (threads < 1 || threads > 16 || n < threads) {
		fprintf(stderr, "usage: harness CASES.elf [N] [THREADS (1-16)]\n");
		return 2;
	}
	for (i = 0; i < TABLE; i++) {
		table[i] = (unsigned)i * 2654435761u;
		table_sum += table[i];
	}
	if (pipe(cmd) < 0 || pipe(ans) < 0 || (helper = fork()) < 0) {
		perror("bench/harness: fork helper");
		return 1;
	}
	if (helper == 0) {
		close(cmd[1]);
		close(ans[0]);
		fork_helper(cmd[0], ans[1], n, threads);
	}
	close(cmd[0]);
	close(ans[1]);
	t0 = now_ns();
	if (mvmm_runtime_new(&rt) < 0 || mvmm_image_load_file(elf, 0, &img) < 0 ||
	    mvmm_template_new(rt, img, NULL, 10000, &tpl) < 0) {
		fprintf(stderr, "bench/harness: %s\n", mvmm_last_error());
		return 1;
	}
	printf("runtime + image + template: %.1f ms\n", (double)(now_ns() - t0) / 1e6);
	run_all(vm_case, 200, threads, &fail_vm); /* warm: pool filled, spare VMs made */
	/* Three rounds, interleaved, so both see the same machine; medians reported. */
	for (round = 0; round < 3; round++) {
		vm_ns[round] = run_all(vm_case, n, threads, &fail_vm);
		fork_ns[round] = fork_round(cmd[1], ans[0], &fail_fork);
		printf("round %d: %d cases, %d threads: mvmm %.2f s (%d failed), fork+wait %.2f s "
		       "(%d failed)\n",
		       round, n, threads, (double)vm_ns[round] / 1e9, fail_vm,
		       (double)fork_ns[round] / 1e9, fail_fork);
		if (fail_vm || fail_fork)
			return 1;
	}
	for (i = 0; i < 3; i++) { /* median of three: sort */
		int j;

		for (j = i + 1; j < 3; j++) {
			if (vm_ns[j] < vm_ns[i]) {
				uint64_t x = vm_ns[i];
				vm_ns[i] = vm_ns[j];
				vm_ns[j] = x;
			}
			if (fork_ns[j] < fork_ns[i]) {
				uint64_t x = fork_ns[i];
				fork_ns[i] = fork_ns[j];
				fork_ns[j] = x;
			}
		}
	}
	vm_med = (double)vm_ns[1] / n / 1e3;
	fork_med = (double)fork_ns[1] / n / 1e3;
	printf("per case (wall / cases, median of 3): mvmm %.0f us, fork+wait %.0f us: %.2fx\n",
	       vm_med, fork_med, vm_med / fork_med);
	printf("targets: per case <= 3x fork+wait (%s), %d cases <= 5 s (%.2f s, %s)\n",
	       vm_med <= 3 * fork_med ? "met" : "MISSED", n, (double)vm_ns[1] / 1e9,
	       vm_ns[1] <= 5000000000ull ? "met" : "MISSED");
	close(cmd[1]);
	waitpid(helper, NULL, 0);
	mvmm_template_free(tpl);
	mvmm_image_free(img);
	mvmm_runtime_free(rt);
	return 0;
}
