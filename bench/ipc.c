/* ipc.c: guest-to-guest messages over a shared region against a pipe and a Unix socket. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/kvm.h"
#include "core/vm.h"
#include "guestabi/guest.h"
#include "load/image.h"
#include "mem/shm.h"

/*
 * ipc BUILD [RUNS]: for 64 B and 64 KiB messages, throughput between two
 * guests (producer.elf -> consumer.elf in copy mode, one 4 MiB ring), and
 * between two host processes over a pipe and over a Unix stream socket
 * (the same message sizes, one write and one read per message); then the
 * round trip of one 64-byte message: guests ping-ponging over two rings
 * with doorbells (no spinning, so every round trip sleeps on both sides),
 * the same with spinning, and host processes over a pipe pair and a
 * socketpair. Also one exit's cost in the same run. Medians of RUNS.
 */

static struct kvm_sys kvm = { .fd = -1 };

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct guest_run {
	struct image *img;
	const char *const *argv;
	const struct shm_grant *grants;
	char out[1024];
	size_t len;
	struct vm_result res;
	pthread_t t;
};

static int64_t cap_out(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len)
{
	struct guest_run *g = ctx;
	size_t n = len < sizeof(g->out) - 1 - g->len ? (size_t)len : sizeof(g->out) - 1 - g->len;

	(void)vm;
	if (stream == 2)
		fwrite(buf, 1, len, stderr);
	memcpy(g->out + g->len, buf, n);
	g->len += n;
	g->out[g->len] = '\0';
	return (int64_t)len;
}

static const struct vm_hooks cap_hooks = { .output = cap_out };

static void *guest_main(void *p)
{
	struct guest_run *g = p;
	struct vm_config cfg = { .argv = g->argv, .in_fd = -1, .out_fd = -1, .err_fd = 2,
				 .timeout_ns = 120000000000ull, .shm = g->grants,
				 .hooks = &cap_hooks, .hooks_ctx = g };
	struct vm *vm = vm_create(&kvm, g->img, &cfg);

	if (!vm) {
		fprintf(stderr, "ipc: %s\n", mvmm_errmsg());
		exit(1);
	}
	vm_run(vm, &g->res);
	vm_destroy(vm);
	return NULL;
}

/* Runs two guests side by side over one fresh region named name. */
static void run_pair(struct guest_run *a, struct guest_run *b, const char *name, uint64_t size)
{
	struct shm_region *r = shm_region_create(size);
	struct shm_grant grants[2] = { { name, { { 0, 0 } } }, { NULL, { { 0, 0 } } } };

	if (!r) {
		fprintf(stderr, "ipc: %s\n", mvmm_errmsg());
		exit(1);
	}
	shm_region_handle(r, 0, &grants[0].handle);
	a->grants = b->grants = grants;
	a->len = b->len = 0;
	pthread_create(&a->t, NULL, guest_main, a);
	pthread_create(&b->t, NULL, guest_main, b);
	pthread_join(a->t, NULL);
	pthread_join(b->t, NULL);
	shm_region_destroy(r);
	if (a->res.end != VM_END_EXIT || a->res.status || b->res.end != VM_END_EXIT ||
	    b->res.status) {
		fprintf(stderr, "ipc: a guest failed (%d/%d, %d/%d): %s %s\n%s\n%s\n", a->res.end,
			a->res.status, b->res.end, b->res.status, a->res.message, b->res.message,
			a->out, b->out);
		exit(1);
	}
}

static double field(const char *out, const char *key)
{
	const char *p = strstr(out, key);

	return p ? strtod(p + strlen(key), NULL) : -1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Guest throughput: messages/s; *exits_per_msg from both VMs' KVM_RUN returns. */
static double guest_tput(struct image *prod, struct image *cons, uint32_t size, uint64_t n,
			 double *exits_per_msg)
{
	char ns[32], ss[32];
	const char *pa[] = { "producer", ns, ss, ss, "ring", "copy", NULL };
	const char *ca[] = { "consumer", "ring", "copy", NULL };
	struct guest_run a = { .img = prod, .argv = pa }, b = { .img = cons, .argv = ca };
	double t;

	snprintf(ns, sizeof(ns), "%lu", (unsigned long)n);
	snprintf(ss, sizeof(ss), "%u", size);
	run_pair(&a, &b, "ring", 4u << 20);
	t = field(b.out, " bad, ");
	*exits_per_msg = (double)(a.res.exits + b.res.exits) / (double)n;
	vm_result_clear(&a.res);
	vm_result_clear(&b.res);
	return t > 0 ? (double)n * 1e9 / t : -1;
}

static double guest_rtt(struct image *pp, uint64_t n, const char *spin)
{
	char ns[32];
	const char *pa[] = { "ping", "ping", ns, spin, NULL };
	const char *ba[] = { "pong", "pong", spin, NULL };
	struct guest_run a = { .img = pp, .argv = pa }, b = { .img = pp, .argv = ba };
	double t;

	snprintf(ns, sizeof(ns), "%lu", (unsigned long)n);
	run_pair(&a, &b, "pp", 1u << 20);
	t = field(a.out, "rtt_ns ");
	vm_result_clear(&a.res);
	vm_result_clear(&b.res);
	return t;
}

static double exit_cost(struct image *pp)
{
	const char *argv[] = { "exits", "exits", "2000", NULL };
	struct guest_run a = { .img = pp, .argv = argv };

	guest_main(&a);
	vm_result_clear(&a.res);
	return field(a.out, "exit_ns ");
}

static void full_io(ssize_t (*fn)(), int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t k = fn(fd, (uint8_t *)buf + done, len - done);

		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			_exit(3);
		}
		done += (size_t)k;
	}
}

/* Host processes: a writer child and this reader; returns messages/s. */
static double host_tput(int use_socket, uint32_t size, uint64_t n)
{
	int fds[2];
	uint8_t *buf = calloc(1, size);
	uint64_t i, t0;
	pid_t pid;

	if (use_socket ? socketpair(AF_UNIX, SOCK_STREAM, 0, fds) : pipe(fds))
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		for (i = 0; i < n; i++)
			full_io((ssize_t(*)())write, fds[1], buf, size);
		_exit(0);
	}
	close(fds[1]);
	full_io((ssize_t(*)())read, fds[0], buf, size); /* the first message starts the clock */
	t0 = now_ns();
	for (i = 1; i < n; i++)
		full_io((ssize_t(*)())read, fds[0], buf, size);
	t0 = now_ns() - t0;
	close(fds[0]);
	waitpid(pid, NULL, 0);
	free(buf);
	return (double)(n - 1) * 1e9 / (double)t0;
}

static double host_rtt(int use_socket, uint64_t n)
{
	int a[2], b[2];
	uint8_t msg[64] = { 1 };
	uint64_t i, t0;
	pid_t pid;

	if (use_socket) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, a))
			exit(1);
		b[0] = a[0], b[1] = a[1];
	} else if (pipe(a) || pipe(b)) {
		exit(1);
	}
	pid = fork();
	if (pid == 0) {
		/* child: reads on a[0] (pipe) or a[1] (socket), answers on b[1] */
		int in = use_socket ? a[1] : a[0], out = use_socket ? a[1] : b[1];

		/* only its own ends open, so the parent's close is an end of file here */
		if (use_socket) {
			close(a[0]);
		} else {
			close(a[1]);
			close(b[0]);
		}
		for (;;) {
			ssize_t k = read(in, msg, sizeof(msg));

			if (k <= 0)
				_exit(0);
			full_io((ssize_t(*)())write, out, msg, (size_t)k);
		}
	}
	{
		int out = use_socket ? a[0] : a[1], in = use_socket ? a[0] : b[0];

		if (use_socket) {
			close(a[1]);
		} else {
			close(a[0]);
			close(b[1]);
		}
		t0 = now_ns();
		for (i = 0; i < n; i++) {
			full_io((ssize_t(*)())write, out, msg, sizeof(msg));
			full_io((ssize_t(*)())read, in, msg, sizeof(msg));
		}
		t0 = now_ns() - t0;
		close(out);
		if (!use_socket)
			close(in);
	}
	waitpid(pid, NULL, 0);
	return (double)t0 / (double)n;
}

#define RUNS_MAX 15

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : "build";
	int runs = argc > 2 ? atoi(argv[2]) : 5, r, s;
	char path[512];
	struct image *prod, *cons, *pp;
	static const uint32_t sizes[2] = { 64, 65536 };
	static const uint64_t counts[2] = { 10000000, 100000 };
	double gt[RUNS_MAX], pt[RUNS_MAX], st[RUNS_MAX], ex[RUNS_MAX], e = 0;
	FILE *csv;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (runs < 1 || runs > RUNS_MAX)
		runs = 5;
	if (kvm_sys_open(&kvm) < 0) {
		fprintf(stderr, "ipc: %s\n", mvmm_errmsg());
		return 1;
	}
	snprintf(path, sizeof(path), "%s/guest/producer.elf", build);
	prod = image_load_file(path, 64u << 20);
	snprintf(path, sizeof(path), "%s/guest/consumer.elf", build);
	cons = image_load_file(path, 64u << 20);
	snprintf(path, sizeof(path), "%s/bench/ipc_pingpong.elf", build);
	pp = image_load_file(path, 16u << 20);
	if (!prod || !cons || !pp) {
		fprintf(stderr, "ipc: %s\n", mvmm_errmsg());
		return 1;
	}
	snprintf(path, sizeof(path), "%s/bench/ipc.csv", build);
	csv = fopen(path, "w");
	if (csv)
		fprintf(csv, "what,size,guests,pipe,unix_socket,unit\n");
	printf("median of %d runs; throughput in messages/s and GiB/s, one writer and one reader\n",
	       runs);
	printf("%-10s %22s %22s %22s %10s\n", "message", "guests (shared ring)", "pipe", "unix socket",
	       "exits/msg");
	for (s = 0; s < 2; s++) {
		for (r = 0; r < runs; r++) {
			gt[r] = guest_tput(prod, cons, sizes[s], counts[s], &ex[r]);
			pt[r] = host_tput(0, sizes[s], counts[s] / 4);
			st[r] = host_tput(1, sizes[s], counts[s] / 4);
		}
		double g = median(gt, runs), p = median(pt, runs), u = median(st, runs);
		double gib = (double)sizes[s] / (double)(1u << 30);

		printf("%-10s %10.3gM %7.2f GiB/s %10.3gM %7.2f GiB/s %10.3gM %7.2f GiB/s %10.2g\n",
		       sizes[s] == 64 ? "64 B" : "64 KiB", g / 1e6, g * gib, p / 1e6, p * gib,
		       u / 1e6, u * gib, median(ex, runs));
		if (csv)
			fprintf(csv, "throughput,%u,%.0f,%.0f,%.0f,msg/s\n", sizes[s], g, p, u);
	}
	for (r = 0; r < runs; r++) {
		ex[r] = exit_cost(pp);
		gt[r] = guest_rtt(pp, 2000, "0");
		pt[r] = host_rtt(0, 20000);
		st[r] = host_rtt(1, 20000);
	}
	e = median(ex, runs);
	{
		double g = median(gt, runs), p = median(pt, runs), u = median(st, runs), sp;

		for (r = 0; r < runs; r++)
			gt[r] = guest_rtt(pp, 20000, "2000");
		sp = median(gt, runs);
		printf("\nround trip of one 64-byte message (us):\n");
		printf("  guests, doorbells (sleeping each time)   %8.1f  (= %.2f exits of %.1f us)\n",
		       g / 1e3, g / e, e / 1e3);
		printf("  guests, spinning before sleeping         %8.2f\n", sp / 1e3);
		printf("  pipe pair, host processes                %8.1f\n", p / 1e3);
		printf("  unix socketpair, host processes          %8.1f\n", u / 1e3);
		if (csv) {
			fprintf(csv, "rtt_doorbell,64,%.0f,%.0f,%.0f,ns\n", g, p, u);
			fprintf(csv, "rtt_spin,64,%.0f,,,ns\n", sp);
			fprintf(csv, "exit_cost,0,%.0f,,,ns\n", e);
		}
	}
	if (csv)
		fclose(csv);
	image_put(prod);
	image_put(cons);
	image_put(pp);
	kvm_sys_close(&kvm);
	return 0;
}
