/* test_status.c: the server's status request (mvmm launch --status) and its generation lines. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "serve/server.h"
#include "serve/srv_stats.h"
#include "srv_child.h"

/* ---- the wire format and the percentiles, no KVM ---- */

Test(status_proto, info_round_trip_and_checks)
{
	struct srv_info in = {.generation = 3, .served = 1ull << 40, .in_flight = 7,
			      .pool_ready = 5, .pool_target = 8, .samples = 100,
			      .p50_ns = 1, .p90_ns = 2, .p99_ns = 3, .rss_kb = 4, .pss_kb = 5,
			      .template_bytes = 6, .mem_size = 64 << 20, .uptime_ns = 9};
	uint8_t buf[SRV_INFO_SIZE + 8] = {0};
	struct srv_info out;

	srv_info_encode(&in, buf);
	cr_assert_eq(srv_parse_info(buf, SRV_INFO_SIZE, &out), 0, "%s", mvmm_errmsg());
	cr_expect(out.generation == 3 && out.served == 1ull << 40 && out.in_flight == 7 &&
		  out.pool_ready == 5 && out.pool_target == 8 && out.samples == 100 &&
		  out.p50_ns == 1 && out.p90_ns == 2 && out.p99_ns == 3 && out.rss_kb == 4 &&
		  out.pss_kb == 5 && out.template_bytes == 6 && out.mem_size == 64 << 20 &&
		  out.uptime_ns == 9);
	/* later fields a newer server may add are ignored */
	cr_expect_eq(srv_parse_info(buf, sizeof(buf), &out), 0);
	cr_expect_eq(srv_parse_info(buf, SRV_INFO_SIZE - 1, &out), -1);
	cr_expect(strstr(mvmm_errmsg(), "bytes"), "%s", mvmm_errmsg());
	buf[0] = 2;
	cr_expect_eq(srv_parse_info(buf, SRV_INFO_SIZE, &out), -1);
	cr_expect(strstr(mvmm_errmsg(), "version"), "%s", mvmm_errmsg());
	in.samples = SRV_LATENCY_RING + 1;
	srv_info_encode(&in, buf);
	cr_expect_eq(srv_parse_info(buf, SRV_INFO_SIZE, &out), -1);
}

Test(status_proto, percentiles_over_a_bounded_ring)
{
	static struct srv_stats st;
	struct srv_info info = {0};
	uint64_t v[100];
	unsigned i;

	for (i = 0; i < 100; i++)
		v[i] = i + 1;
	cr_expect_eq(srv_percentile(v, 100, 50), 50);
	cr_expect_eq(srv_percentile(v, 100, 90), 90);
	cr_expect_eq(srv_percentile(v, 100, 99), 99);
	cr_expect_eq(srv_percentile(v, 1, 99), 1);
	cr_expect_eq(srv_percentile(v, 0, 50), 0);

	srv_stats_init(&st);
	srv_stats_fill(&st, &info);
	cr_expect_eq(info.samples, 0);
	cr_expect_eq(info.p99_ns, 0);
	/* 3000 clones, the latest 1024 kept: 1977..3000, newest last */
	for (i = 1; i <= 3000; i++) {
		srv_stats_clone_start(&st);
		srv_stats_clone_done(&st, i);
	}
	srv_stats_clone_start(&st); /* one still running */
	srv_stats_fill(&st, &info);
	cr_expect_eq(info.served, 3000);
	cr_expect_eq(info.in_flight, 1);
	cr_expect_eq(info.samples, SRV_LATENCY_RING);
	cr_expect_eq(info.p50_ns, 3000 - SRV_LATENCY_RING + 512);
	cr_expect_eq(info.p99_ns, 3000 - SRV_LATENCY_RING + (SRV_LATENCY_RING * 99 + 99) / 100);
	srv_stats_destroy(&st);
	t_lsan_check();
}

/* ---- end to end ---- */

TestSuite(status, .fini = t_kill_children, .timeout = 120);

/* The value of "key": N in a JSON line, or -1. */
static double t_json_num(const char *json, const char *key)
{
	char pat[64];
	const char *at;
	double v;

	snprintf(pat, sizeof(pat), "\"%s\": ", key);
	at = strstr(json, pat);
	return at && sscanf(at + strlen(pat), "%lf", &v) == 1 ? v : -1;
}

Test(status, counts_latencies_and_memory)
{
	struct t_srv s;
	struct t_proc p;

	t_srv_start(&s, (char *[]){T_GUEST("ready"), NULL});
	T_LAUNCH(&p, &s, "--status");
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.out, "generation 1"), "%s", p.out);
	cr_expect(strstr(p.out, "clones served  0, 0 in flight"), "%s", p.out);
	cr_expect(strstr(p.out, "latency        no clone yet"), "%s", p.out);
	cr_expect(strstr(p.out, "shell pool     "), "%s", p.out);
	t_proc_free(&p);
	for (int i = 0; i < 3; i++) {
		T_LAUNCH(&p, &s, "5");
		cr_expect_eq(p.status, 0, "%s", p.err);
		t_proc_free(&p);
	}
	T_LAUNCH(&p, &s, "--status");
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect(strstr(p.out, "clones served  3, 0 in flight"), "%s", p.out);
	cr_expect(strstr(p.out, "(last 3 clones, request to status)"), "%s", p.out);
	t_proc_free(&p);

	T_LAUNCH(&p, &s, "--status=json");
	cr_expect_eq(p.status, 0, "%s", p.err);
	cr_expect_eq(t_json_num(p.out, "generation"), 1, "%s", p.out);
	cr_expect_eq(t_json_num(p.out, "clones_served"), 3, "%s", p.out);
	cr_expect_eq(t_json_num(p.out, "in_flight"), 0, "%s", p.out);
	cr_expect_eq(t_json_num(p.out, "latency_samples"), 3, "%s", p.out);
	cr_expect_gt(t_json_num(p.out, "latency_p50_ms"), 0, "%s", p.out);
	cr_expect_geq(t_json_num(p.out, "latency_p99_ms"), t_json_num(p.out, "latency_p50_ms"));
	cr_expect_gt(t_json_num(p.out, "rss_kb"), 0, "%s", p.out);
	cr_expect_gt(t_json_num(p.out, "pss_kb"), 0, "%s", p.out);
	cr_expect_gt(t_json_num(p.out, "template_bytes"), 0, "%s", p.out);
	cr_expect_eq(t_json_num(p.out, "mem_size"), 64 << 20, "%s", p.out);
	cr_expect_geq(t_json_num(p.out, "pool_target"), t_json_num(p.out, "pool_ready"));
	cr_expect_eq(p.out[strlen(p.out) - 2], '}', "one JSON object: %s", p.out);
	t_proc_free(&p);

	T_LAUNCH(&p, &s, "--status=xml");
	cr_expect_eq(p.status, 125, "%s", p.err);
	cr_expect(strstr(p.err, "--status"), "%s", p.err);
	t_proc_free(&p);
	T_LAUNCH(&p, &s, "--status", "5");
	cr_expect_eq(p.status, 125, "%s", p.err);
	t_proc_free(&p);
	t_srv_stop(&s);
}

/* Sends bytes as a client would; the answer's type, and its error code for SRV_ERROR. */
static int t_raw_frame(const struct t_srv *s, uint8_t type, const void *payload, uint32_t len,
		       uint32_t *code)
{
	struct srv_frame f = {0};
	int fd = srv_connect(s->path), t = -1;
	struct timeval tv = {.tv_sec = 10};

	cr_assert(fd >= 0, "%s", mvmm_errmsg());
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(srv_send_frame(fd, type, payload, len, NULL, 0), 0);
	if (srv_read_frame(fd, &f) == SRV_READ_OK) {
		t = f.type;
		*code = f.type == SRV_ERROR && f.len >= 4 ? srv_get32(f.data) : 0;
	}
	srv_frame_free(&f);
	close(fd);
	return t;
}

Test(status, malformed_status_requests_get_errors)
{
	uint8_t v1[4] = {1, 0, 0, 0}, v9[4] = {9, 0, 0, 0};
	struct t_srv s;
	uint32_t code = 0;

	t_srv_start(&s, (char *[]){T_GUEST("ready"), NULL});
	cr_expect_eq(t_raw_frame(&s, SRV_STATUS_REQ, v9, 4, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_VERSION);
	cr_expect_eq(t_raw_frame(&s, SRV_STATUS_REQ, v1, 2, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_MALFORMED);
	cr_expect_eq(t_raw_frame(&s, 0x7e, v1, 4, &code), SRV_ERROR);
	cr_expect_eq(code, SRV_E_TYPE);
	cr_expect_eq(t_raw_frame(&s, SRV_STATUS_REQ, v1, 4, &code), SRV_INFO);
	t_srv_stop(&s);
}

Test(status, one_log_line_per_generation_change)
{
	struct t_srv old, new;
	struct t_proc p;
	char *text;
	int st;

	t_srv_start(&old, (char *[]){T_GUEST("ready"), NULL});
	T_LAUNCH(&p, &old, "1");
	t_proc_free(&p);
	new = old;
	t_srv_spawn(&new, old.dir, "serve2.err", (char *[]){"--replace", T_GUEST("ready"), NULL});
	st = t_wait_pid(old.pid, 20000);
	cr_expect_eq(st, 0, "the old generation ended with %d", st);
	T_LAUNCH(&p, &new, "--status");
	cr_expect(strstr(p.out, "generation 2"), "%s", p.out);
	t_proc_free(&p);

	text = t_slurp(old.err);
	cr_expect(strstr(text, "mvmm: info: serve: generation 1: serving "), "%s", text);
	cr_expect(strstr(text, "mvmm: info: serve: generation 1: retiring, a new generation took "),
		  "%s", text);
	cr_expect(strstr(text, "mvmm: info: serve: generation 1: retired after 1 clone\n"), "%s",
		  text);
	free(text);
	unlink(old.err);
	t_srv_stop(&new);
}

Test(status, sigterm_is_logged_and_quiet_logs_nothing)
{
	struct t_srv s;
	char *text;

	t_srv_start(&s, (char *[]){T_GUEST("ready"), NULL});
	cr_assert(kill(s.pid, SIGTERM) == 0);
	cr_expect_eq(t_wait_pid(s.pid, 15000), 0);
	text = t_slurp(s.err);
	cr_expect(strstr(text, "mvmm: info: serve: generation 1: stopped after 0 clones"), "%s",
		  text);
	free(text);
	unlink(s.err);
	rmdir(s.dir);

	t_srv_start(&s, (char *[]){"-q", T_GUEST("ready"), NULL});
	text = t_slurp(s.err);
	cr_expect(!strstr(text, "mvmm: info:"), "%s", text);
	free(text);
	t_srv_stop(&s);
}
