/* test_server.c: the preloading server: protocol checks, launches, concurrency, hostile clients, replacement. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include "harness.h"
#include "serve/server.h"
#include "srv_child.h"

/* The process's own threads: KVM adds a kernel task per VM ("kvm-nx-lpage-re..."), not counted. */
static int t_proc_threads(pid_t pid)
{
	char path[96];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		char comm[300], *text;

		if (e->d_name[0] == '.')
			continue;
		snprintf(comm, sizeof(comm), "/proc/%d/task/%s/comm", (int)pid, e->d_name);
		text = t_slurp(comm);
		n += strncmp(text, "kvm", 3) != 0;
		free(text);
	}
	closedir(d);
	return n;
}

static int t_proc_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}


/* ---- the wire format, no KVM ---- */

Test(server_proto, request_round_trip)
{
	const char *args[] = {"echo", "", "two words"};
	struct vm_request req;
	uint8_t *buf;
	size_t len;

	cr_assert_eq(srv_request_frame(args, 3, &buf, &len), 0);
	cr_assert_eq(len, SRV_HEADER_SIZE + 8 + 5 + 1 + 10);
	cr_assert_eq(buf[0] | buf[1] << 8 | buf[2] << 16 | buf[3] << 24, len - 4);
	cr_assert_eq(buf[4], SRV_REQUEST);
	cr_assert_eq(srv_parse_request(buf + 5, len - 5, &req), 0, "%s", mvmm_errmsg());
	cr_assert_eq(req.argc, 3);
	cr_assert_eq(req.len, 16);
	cr_assert(memcmp(req.data, "echo\0\0two words", 16) == 0);
	free(buf);
	cr_assert_eq(srv_request_frame(NULL, 0, &buf, &len), 0);
	cr_assert_eq(srv_parse_request(buf + 5, len - 5, &req), 0);
	cr_assert_eq(req.argc, 0);
	free(buf);
}

Test(server_proto, bad_requests_refused)
{
	struct vm_request req;
	/* version 1, argc 2, one string only; version 2; no final NUL; short head; argc too big */
	static const uint8_t one_string[] = {1, 0, 0, 0, 2, 0, 0, 0, 'a', 0};
	static const uint8_t version2[] = {2, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t no_nul[] = {1, 0, 0, 0, 1, 0, 0, 0, 'a', 0, 'b'};
	static const uint8_t short_head[] = {1, 0, 0, 0, 0};
	static const uint8_t many[] = {1, 0, 0, 0, 0xff, 0xff, 0, 0};

	cr_expect_eq(srv_parse_request(one_string, sizeof(one_string), &req), -1);
	cr_expect_eq(srv_parse_request(version2, sizeof(version2), &req), -1);
	cr_expect(strstr(mvmm_errmsg(), "version"), "%s", mvmm_errmsg());
	cr_expect_eq(srv_parse_request(no_nul, sizeof(no_nul), &req), -1);
	cr_expect_eq(srv_parse_request(short_head, sizeof(short_head), &req), -1);
	cr_expect_eq(srv_parse_request(many, sizeof(many), &req), -1);
}

Test(server_proto, frames_over_a_socketpair)
{
	struct srv_frame f = {0};
	uint8_t hdr[5] = {0xff, 0xff, 0xff, 0x7f, SRV_REQUEST}, zero[5] = {0};
	int sv[2];

	cr_assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	cr_assert_eq(srv_send_frame(sv[0], SRV_STDOUT, "ab", 2, "cd", 2), 0);
	cr_assert_eq(srv_read_frame(sv[1], &f), SRV_READ_OK);
	cr_assert_eq(f.type, SRV_STDOUT);
	cr_assert_eq(f.len, 4);
	cr_assert(memcmp(f.data, "abcd", 4) == 0);
	cr_assert_eq(write(sv[0], hdr, 5), 5);
	cr_assert_eq(srv_read_frame(sv[1], &f), SRV_READ_TOO_BIG);
	cr_assert_eq(write(sv[0], zero, 5), 5);
	cr_assert_eq(srv_read_frame(sv[1], &f), SRV_READ_TOO_BIG);
	hdr[0] = 10, hdr[1] = hdr[2] = hdr[3] = 0;
	cr_assert_eq(write(sv[0], hdr, 5), 5);
	cr_assert_eq(write(sv[0], "abc", 3), 3);
	close(sv[0]);
	cr_assert_eq(srv_read_frame(sv[1], &f), SRV_READ_TRUNCATED);
	cr_assert_eq(srv_read_frame(sv[1], &f), SRV_READ_EOF);
	close(sv[1]);
	srv_frame_free(&f);
	t_lsan_check();
}

/* ---- end to end ---- */

TestSuite(server, .fini = t_kill_children);

Test(server, launch_output_and_statuses)
{
	struct t_srv s;
	struct t_proc p;
	int clone;

	t_srv_start(&s, (char *[]){T_SERVED, NULL});
	T_LAUNCH(&p, &s, "echo", "a", "b c");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(sscanf(p.out, "clone %d: a b c\n", &clone) == 1 && clone >= 1, "stdout: %s", p.out);
	cr_expect(strstr(p.err, "err "), "stderr: %s", p.err);
	t_proc_free(&p);

	T_LAUNCH(&p, &s, "exit", "7");
	cr_expect_eq(p.status, 7, "status %d, stderr:\n%s", p.status, p.err);
	t_proc_free(&p);

	T_LAUNCH(&p, &s, "fault");
	cr_expect_eq(p.status, 123, "status %d", p.status);
	cr_expect(strstr(p.err, "mvmm: ") && strstr(p.err, "=>"), "crash report expected:\n%s", p.err);
	t_proc_free(&p);

	T_LAUNCH(&p, &s, "abort");
	cr_expect_eq(p.status, 134, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.err, "guest aborted"), "%s", p.err);
	t_proc_free(&p);

	/* More than one data frame: 300,000 bytes arrive whole and in order. */
	T_LAUNCH(&p, &s, "big", "300000");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect_eq(strspn(p.out, "x"), 300000, "got %zu bytes", p.out_len);
	cr_expect(sscanf(p.out + 300000, "\nend %d\n", &clone) == 1, "%s", p.out + 300000);
	t_proc_free(&p);

	T_MVMM(&p, T_LIMIT_MS, "launch", "--socket", "/tmp/mvmm-srv-no-such/s.sock", "x");
	cr_expect_eq(p.status, 125);
	cr_expect(strstr(p.err, "cannot connect to /tmp/mvmm-srv-no-such/s.sock"), "%s", p.err);
	t_proc_free(&p);
	t_srv_stop(&s);
}

Test(server, ready_elf_table_entry)
{
	struct t_srv s;
	struct t_proc p;

	t_srv_start(&s, (char *[]){T_GUEST("ready"), NULL});
	T_LAUNCH(&p, &s, "5");
	cr_expect_eq(p.status, 0, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, "table[5] = 2621875623"), "stdout: %s", p.out);
	t_proc_free(&p);
	t_srv_stop(&s);
}

Test(server, timeout_and_refusal_of_a_second_server)
{
	struct t_srv s;
	struct t_proc p;

	t_srv_start(&s, (char *[]){"--timeout", "0.3", T_SERVED, NULL});
	T_LAUNCH(&p, &s, "spin");
	cr_expect_eq(p.status, 124, "status %d, stderr:\n%s", p.status, p.err);
	cr_expect(strstr(p.out, "spinning"), "%s", p.out);
	cr_expect(strstr(p.err, "timeout"), "%s", p.err);
	t_proc_free(&p);
	/* Without --replace a live server's path is not taken. */
	T_MVMM(&p, T_LIMIT_MS, "serve", "--socket", s.path, T_SERVED);
	cr_expect_eq(p.status, 125);
	cr_expect(strstr(p.err, "already listening"), "%s", p.err);
	t_proc_free(&p);
	T_LAUNCH(&p, &s, "exit", "3");
	cr_expect_eq(p.status, 3);
	t_proc_free(&p);
	t_srv_stop(&s);
}

/* Starts `launch` with its stdout on a pipe. */
static pid_t t_launch_bg(const struct t_srv *s, int *out_fd, char *arg)
{
	char *argv[] = {(char *)t_mvmm_bin(), "launch", "--socket", (char *)s->path, arg, NULL};
	int fds[2];
	pid_t pid;

	cr_assert(pipe2(fds, O_CLOEXEC) == 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		t_child_setup();
		dup2(null, 0);
		dup2(fds[1], 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	*out_fd = fds[0];
	return pid;
}

Test(server, concurrent_launches_get_unique_clones)
{
	enum { N = 8 };
	struct t_srv s;
	pid_t pid[N];
	int fd[N], seen[N], i, j;

	t_srv_start(&s, (char *[]){T_SERVED, NULL});
	for (i = 0; i < N; i++)
		pid[i] = t_launch_bg(&s, &fd[i], "echo");
	for (i = 0; i < N; i++) {
		char buf[256] = "";
		size_t len = 0;
		ssize_t n;

		while ((n = read(fd[i], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		buf[len] = 0;
		close(fd[i]);
		cr_expect_eq(t_wait_pid(pid[i], T_LIMIT_MS), 0, "launch %d failed", i);
		cr_expect(sscanf(buf, "clone %d:", &seen[i]) == 1, "launch %d printed %s", i, buf);
		for (j = 0; j < i; j++)
			cr_expect_neq(seen[i], seen[j], "clone number %d twice", seen[i]);
	}
	t_srv_stop(&s);
}

/* Sends raw bytes on a new connection, then reads the answer: its first frame's type, or -1. */
static int t_raw(const struct t_srv *s, const void *bytes, size_t len, int shut, uint32_t *code)
{
	struct srv_frame f = {0};
	int fd = srv_connect(s->path), type = -1;

	cr_assert(fd >= 0, "%s", mvmm_errmsg());
	cr_assert_eq(write(fd, bytes, len), (ssize_t)len);
	if (shut)
		shutdown(fd, SHUT_WR);
	if (srv_read_frame(fd, &f) == SRV_READ_OK) {
		type = f.type;
		if (code && f.len >= 4)
			*code = (uint32_t)f.data[0] | (uint32_t)f.data[1] << 8;
	}
	srv_frame_free(&f);
	close(fd);
	return type;
}

static void t_expect_launch_works(const struct t_srv *s)
{
	struct t_proc p;

	T_LAUNCH(&p, s, "exit", "0");
	cr_expect_eq(p.status, 0, "after a bad client, launch ended %d:\n%s", p.status, p.err);
	t_proc_free(&p);
}

Test(server, malformed_frames_get_errors_and_the_server_carries_on)
{
	static const char garbage[] = "GET / HTTP/1.0\r\n\r\n";
	static const uint8_t huge[] = {0xff, 0xff, 0xff, 0xff, SRV_REQUEST};
	static const uint8_t zero[] = {0, 0, 0, 0, SRV_REQUEST};
	static const uint8_t truncated[] = {100, 0, 0, 0, SRV_REQUEST, 1, 0, 0, 0};
	static const uint8_t version9[] = {9, 0, 0, 0, SRV_REQUEST, 9, 0, 0, 0, 0, 0, 0, 0};
	static const uint8_t argc_lies[] = {11, 0, 0, 0, SRV_REQUEST, 1, 0, 0, 0, 3, 0, 0, 0, 'a', 0};
	static const uint8_t type7f[] = {1, 0, 0, 0, 0x7f};
	uint32_t code = 0;
	struct t_srv s;
	int fd;

	t_srv_start(&s, (char *[]){T_SERVED, NULL});
	cr_expect_eq(t_raw(&s, garbage, sizeof(garbage) - 1, 0, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_TOO_BIG);
	t_expect_launch_works(&s);
	cr_expect_eq(t_raw(&s, huge, sizeof(huge), 0, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_TOO_BIG);
	cr_expect_eq(t_raw(&s, zero, sizeof(zero), 0, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_TOO_BIG);
	cr_expect_eq(t_raw(&s, truncated, sizeof(truncated), 1, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_MALFORMED);
	cr_expect_eq(t_raw(&s, version9, sizeof(version9), 0, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_VERSION);
	cr_expect_eq(t_raw(&s, argc_lies, sizeof(argc_lies), 0, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_MALFORMED);
	cr_expect_eq(t_raw(&s, type7f, sizeof(type7f), 0, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_TYPE);
	/* Connect and leave without a word. */
	fd = srv_connect(s.path);
	cr_assert(fd >= 0);
	close(fd);
	t_expect_launch_works(&s);
	t_srv_stop(&s);
}

/* Polls until the server's thread and fd counts are back to base (or 10 s pass). */
static void t_expect_back_to(pid_t pid, int threads, int fds)
{
	uint64_t deadline = t_now_ns() + 10000000000ull;

	while (t_now_ns() < deadline &&
	       (t_proc_threads(pid) != threads || t_proc_fds(pid) != fds))
		usleep(5000);
	cr_expect_eq(t_proc_threads(pid), threads, "threads did not return to %d (%d)", threads, t_proc_threads(pid));
	cr_expect_eq(t_proc_fds(pid), fds, "fds did not return to %d (%d)", fds, t_proc_fds(pid));
}

/* A client that leaves while its clone runs (or writes) has the clone stopped and freed. */
Test(server, client_that_leaves_has_its_clone_stopped)
{
	const char *spin[] = {"spin"}, *big[] = {"big", "1000000000"};
	const char *const *reqs[] = {spin, big};
	int nargs[] = {1, 2};
	int threads, fds;
	struct t_srv s;

	t_srv_start(&s, (char *[]){T_SERVED, NULL});
	t_expect_launch_works(&s);
	/* The base: thread and fd counts once steady for 300 ms (the pool fills, threads are joined). */
	threads = fds = -1;
	for (int same = 0, i = 0; same < 15 && i < 1000; i++, usleep(20000)) {
		int t = t_proc_threads(s.pid), f = t_proc_fds(s.pid);

		same = t == threads && f == fds ? same + 1 : 0;
		threads = t;
		fds = f;
	}
	for (int r = 0; r < 2; r++) {
		struct srv_frame f = {0};
		uint8_t *req;
		size_t len;
		int fd = srv_connect(s.path);

		cr_assert(fd >= 0);
		cr_assert_eq(srv_request_frame(reqs[r], nargs[r], &req, &len), 0);
		cr_assert_eq(write(fd, req, len), (ssize_t)len);
		free(req);
		cr_assert_eq(srv_read_frame(fd, &f), SRV_READ_OK);
		cr_expect_eq(f.type, SRV_STDOUT);
		cr_expect_gt(t_proc_threads(s.pid), threads, "the clone's thread (%d, base %d)", t_proc_threads(s.pid), threads);
		srv_frame_free(&f);
		close(fd);
		t_expect_back_to(s.pid, threads, fds);
	}
	t_expect_launch_works(&s);
	t_srv_stop(&s);
}

/* SIGTERM stops clones in flight: their clients get 125 and the server exits cleanly. */
Test(server, sigterm_stops_clones_in_flight)
{
	struct srv_frame f = {0};
	struct srv_status st;
	const char *spin[] = {"spin"};
	struct t_srv s;
	uint8_t *req;
	size_t len;
	int fd;

	t_srv_start(&s, (char *[]){T_SERVED, NULL});
	fd = srv_connect(s.path);
	cr_assert(fd >= 0);
	cr_assert_eq(srv_request_frame(spin, 1, &req, &len), 0);
	cr_assert_eq(write(fd, req, len), (ssize_t)len);
	free(req);
	cr_assert_eq(srv_read_frame(fd, &f), SRV_READ_OK);
	cr_assert_eq(f.type, SRV_STDOUT);
	kill(s.pid, SIGTERM);
	cr_assert_eq(srv_read_frame(fd, &f), SRV_READ_OK);
	cr_assert_eq(f.type, SRV_STATUS);
	cr_assert_eq(srv_parse_status(f.data, f.len, &st), 0);
	cr_expect_eq(st.status, 125);
	cr_expect_eq(st.end, SRV_END_HOST_ERROR);
	cr_expect(st.text_len && strstr((char *)st.text, "stopped"), "%.*s", (int)st.text_len, st.text);
	srv_frame_free(&f);
	close(fd);
	t_srv_stop(&s);
}

/*
 * A client loop runs launches back to back (at least 200, and until told to
 * stop) while a second generation replaces the first: no launch may fail,
 * and the loop must see both generations (clone numbers start again at 1).
 */
static int t_client_loop(const char *path, int stop_fd)
{
	char *argv[] = {(char *)t_mvmm_bin(), "launch", "--socket", (char *)path, "7", NULL};
	int failures = 0, switches = 0, last = 0, i;

	for (i = 0; i < 5000; i++) {
		char buf[256] = "";
		size_t len = 0;
		ssize_t n;
		int fds[2], st, clone = 0;
		struct pollfd pfd = {stop_fd, POLLIN, 0};
		pid_t pid;

		if (i >= 200 && poll(&pfd, 1, 0) == 1)
			break;
		if (pipe2(fds, O_CLOEXEC) < 0)
			return 100;
		pid = fork();
		if (pid == 0) {
			dup2(fds[1], 1);
			execv(argv[0], argv);
			_exit(127);
		}
		close(fds[1]);
		while ((n = read(fds[0], buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		close(fds[0]);
		waitpid(pid, &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || sscanf(buf, "clone %d:", &clone) != 1 ||
		    !strstr(buf, "table[7] = ")) {
			fprintf(stderr, "launch %d failed (status 0x%x): %s\n", i, st, buf);
			failures++;
		}
		if (clone && clone < last)
			switches++;
		last = clone;
	}
	fprintf(stderr, "client loop: %d launches, %d failures, %d generation switches\n", i,
		failures, switches);
	return failures ? (failures > 50 ? 50 : failures) : switches == 0 ? 99 : 0;
}

Test(server, replacement_under_a_client_loop_fails_nothing)
{
	struct t_srv old, new;
	int stop[2], st;
	pid_t loop;

	t_srv_start(&old, (char *[]){T_GUEST("ready"), NULL});
	cr_assert(pipe2(stop, O_CLOEXEC) == 0);
	loop = fork();
	cr_assert(loop >= 0);
	if (loop == 0) {
		t_child_setup();
		close(stop[1]);
		_exit(t_client_loop(old.path, stop[0]));
	}
	close(stop[0]);
	t_track(loop);
	usleep(100000); /* the loop is under way */
	new = old;
	t_srv_spawn(&new, old.dir, "serve2.err", (char *[]){"--replace", T_GUEST("ready"), NULL});
	st = t_wait_pid(old.pid, 20000);
	cr_expect_eq(st, 0, "the old generation ended with %d (-1: still running)", st);
	usleep(100000); /* some launches against the new generation only */
	cr_assert_eq(write(stop[1], "x", 1), 1);
	st = t_wait_pid(loop, 60000);
	cr_expect_eq(st, 0, "client loop: %d (1-50 failures, 99 no switch seen, -1 hung)", st);
	close(stop[1]);
	unlink(old.err);
	t_srv_stop(&new);
}

/* The round trip of a whole `mvmm launch` process for a trivial request. */
Test(server, launch_round_trip)
{
	enum { N = 100 };
	char *argv[] = {(char *)t_mvmm_bin(), "launch", "--socket", NULL, "exit", "0", NULL};
	uint64_t t[N];
	struct t_srv s;
	int i;

	t_srv_start(&s, (char *[]){T_SERVED, NULL});
	argv[3] = s.path;
	for (i = 0; i < N; i++) {
		uint64_t t0 = t_now_ns();
		pid_t pid = fork();
		int st;

		cr_assert(pid >= 0);
		if (pid == 0) {
			t_child_setup();
			execv(argv[0], argv);
			_exit(127);
		}
		waitpid(pid, &st, 0);
		t[i] = t_now_ns() - t0;
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "launch %d: 0x%x", i, st);
	}
	for (i = 1; i < N; i++) /* insertion sort */
		for (int j = i; j > 0 && t[j] < t[j - 1]; j--) {
			uint64_t x = t[j];

			t[j] = t[j - 1];
			t[j - 1] = x;
		}
	cr_log_info("mvmm launch round trip: p50 %.2f ms, p90 %.2f ms (%d runs)\n", t[N / 2] / 1e6,
		    t[N * 9 / 10] / 1e6, N);
	fprintf(stderr, "mvmm launch round trip: p50 %.2f ms, p90 %.2f ms\n", t[N / 2] / 1e6,
		t[N * 9 / 10] / 1e6);
#ifndef __SANITIZE_ADDRESS__
	cr_expect(t[N / 2] < 20000000ull, "p50 %.2f ms", t[N / 2] / 1e6); /* a generous bound; target 2 ms */
#endif
	t_srv_stop(&s);
}

/* The base a generation's stderr names, or 0. */
static unsigned long t_pie_base(const struct t_srv *s)
{
	char *text = t_slurp(s->err), *at = strstr(text, "PIE guest loaded at ");
	unsigned long base = at ? strtoul(at + strlen("PIE guest loaded at "), NULL, 16) : 0;

	free(text);
	return base;
}

/*
 * A PIE guest is placed at a new random base in each server generation, and its
 * clones run there (main's address lies in the loaded image). Without 2 MiB pages
 * any page will do: 65,536 bases in a 1 GiB guest, so two successive generations
 * must differ (a 1-in-65,536 chance that they do not).
 */
Test(server, pie_guest_gets_a_new_base_per_generation, .timeout = 120)
{
	struct t_srv gen[3];
	unsigned long base[3];
	int i;

	t_srv_start(&gen[0], (char *[]){"--huge-pages=off", "--mem", "1G", T_TEST_GUEST("where-pie"),
					NULL});
	for (i = 0; i < 3; i++) {
		struct t_proc p;
		unsigned long main_at = 0;
		char *m;

		if (i > 0) {
			gen[i] = gen[0];
			t_srv_spawn(&gen[i], gen[0].dir, i == 1 ? "serve2.err" : "serve3.err",
				    (char *[]){"--replace", "--huge-pages=off", "--mem", "1G",
					       T_TEST_GUEST("where-pie"), NULL});
			cr_expect_eq(t_wait_pid(gen[i - 1].pid, 15000), 0, "old generation did not exit");
		}
		base[i] = t_pie_base(&gen[i]);
		cr_assert(base[i] >= MVMM_IMAGE_BASE && base[i] % 4096 == 0 &&
				  base[i] < MVMM_IMAGE_BASE + (256u << 20),
			  "generation %d: base 0x%lx", i, base[i]);
		if (i > 0)
			cr_expect_neq(base[i], base[i - 1], "generations %d and %d at one base 0x%lx",
				      i - 1, i, base[i]);
		T_LAUNCH(&p, &gen[i], "where");
		cr_assert_eq(p.status, 0, "launch: %d\n%s", p.status, p.err);
		m = strstr(p.out, "main 0x");
		cr_assert(m, "%s", p.out);
		main_at = strtoul(m + 5, NULL, 16);
		cr_expect(main_at >= base[i] && main_at < base[i] + (2u << 20),
			  "main at 0x%lx, image at 0x%lx", main_at, base[i]);
		t_proc_free(&p);
	}
	t_srv_stop(&gen[2]);
}
