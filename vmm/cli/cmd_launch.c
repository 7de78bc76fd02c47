/* cmd_launch.c: `mvmm launch`: ask a `mvmm serve` for a clone, relay its output and status. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_help.h"
#include "core/error.h"
#include "core/fdio.h"
#include "serve/srv_wire.h"

static int launch_usage(const char *why)
{
	fprintf(stderr, "mvmm launch: %s\n(see 'mvmm help launch')\n", why);
	return CLI_STATUS_ERROR;
}

/* Relays frames until the final one; returns the exit status. */
static int launch_relay(int fd, const char *path)
{
	struct srv_frame f = {0};
	struct srv_status st;
	int status = -1;

	while (status < 0) {
		enum srv_read r = srv_read_frame(fd, &f);

		if (r != SRV_READ_OK) {
			fprintf(stderr, "mvmm launch: %s: %s\n", path,
				r == SRV_READ_EOF || r == SRV_READ_TRUNCATED
					? "the server closed the connection before the clone's status"
					: mvmm_errmsg());
			status = CLI_STATUS_ERROR;
			break;
		}
		switch (f.type) {
		case SRV_STDOUT:
			fd_write_all(STDOUT_FILENO, f.data, f.len);
			break;
		case SRV_STDERR:
			fd_write_all(STDERR_FILENO, f.data, f.len);
			break;
		case SRV_STATUS:
			if (srv_parse_status(f.data, f.len, &st) < 0) {
				fprintf(stderr, "mvmm launch: %s\n", mvmm_errmsg());
				status = CLI_STATUS_ERROR;
				break;
			}
			fd_write_all(STDERR_FILENO, st.text, st.text_len);
			status = st.status > 255 ? CLI_STATUS_ERROR : (int)st.status;
			break;
		case SRV_ERROR:
			fprintf(stderr, "mvmm launch: server at %s: %s\n", path,
				f.len > 8 ? (char *)f.data + 8 : "error");
			status = CLI_STATUS_ERROR;
			break;
		default:
			fprintf(stderr, "mvmm launch: unexpected frame type 0x%02x from %s\n", f.type,
				path);
			status = CLI_STATUS_ERROR;
			break;
		}
	}
	srv_frame_free(&f);
	return status;
}

/*
 * With no ARGS and a stdin that is not a terminal, the request is stdin
 * (`echo 'print(1+1)' | mvmm launch -S S`): one argument, less one final
 * newline, since a Linux clone reads its request one argument per line.
 * *text is malloc'd; NULL when stdin is a terminal or empty (no request,
 * as with no ARGS before). -1 with a message.
 */
static int launch_stdin_request(char **text)
{
	size_t cap = SRV_FRAME_MAX, len = 0;
	char *buf;

	*text = NULL;
	if (isatty(STDIN_FILENO))
		return 0;
	buf = malloc(cap);
	if (!buf)
		return err_set("out of memory");
	for (;;) {
		ssize_t n = read(STDIN_FILENO, buf + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			free(buf);
			return err_sys("reading the request from stdin");
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap - 1) {
			free(buf);
			return err_set("the request on stdin takes more than %u bytes", SRV_FRAME_MAX - 16);
		}
	}
	if (memchr(buf, '\0', len)) {
		free(buf);
		return err_set("the request on stdin holds a NUL byte; give it as ARGS");
	}
	if (!len) {
		free(buf); /* an empty stdin is no request at all: end of file at once */
		return 0;
	}
	if (buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	*text = buf;
	return 0;
}

static void launch_print_info(const struct srv_info *in, const char *path, int json)
{
	if (json) {
		printf("{\"socket\": \"");
		for (const char *p = path; *p; p++)
			printf(*p == '"' || *p == '\\' ? "\\%c" : (unsigned char)*p < 0x20 ? "?" : "%c",
			       *p);
		printf("\", \"generation\": %u, \"clones_served\": %lu, \"in_flight\": %u, "
		       "\"pool_ready\": %u, \"pool_target\": %u, \"latency_samples\": %u, "
		       "\"latency_p50_ms\": %.3f, \"latency_p90_ms\": %.3f, "
		       "\"latency_p99_ms\": %.3f, \"rss_kb\": %lu, \"pss_kb\": %lu, "
		       "\"template_bytes\": %lu, \"mem_size\": %lu, \"uptime_s\": %.3f}\n",
		       in->generation, (unsigned long)in->served, in->in_flight, in->pool_ready,
		       in->pool_target, in->samples, (double)in->p50_ns / 1e6,
		       (double)in->p90_ns / 1e6, (double)in->p99_ns / 1e6,
		       (unsigned long)in->rss_kb, (unsigned long)in->pss_kb,
		       (unsigned long)in->template_bytes, (unsigned long)in->mem_size,
		       (double)in->uptime_ns / 1e9);
		return;
	}
	printf("server at %s: generation %u, up %.1f s\n", path, in->generation,
	       (double)in->uptime_ns / 1e9);
	printf("  clones served  %lu, %u in flight\n", (unsigned long)in->served, in->in_flight);
	printf("  shell pool     %u of %u ready\n", in->pool_ready, in->pool_target);
	if (in->samples)
		printf("  latency        p50 %.3f ms, p90 %.3f ms, p99 %.3f ms (last %u clones, "
		       "request to status)\n",
		       (double)in->p50_ns / 1e6, (double)in->p90_ns / 1e6,
		       (double)in->p99_ns / 1e6, in->samples);
	else
		printf("  latency        no clone yet\n");
	printf("  memory         RSS %.1f MiB, PSS %.1f MiB; template %.1f MiB frozen of "
	       "%lu MiB guest memory\n",
	       (double)in->rss_kb / 1024, (double)in->pss_kb / 1024,
	       (double)in->template_bytes / (1 << 20), (unsigned long)(in->mem_size >> 20));
}

/* --status[=json]: asks the server how it is doing, prints it; 0, or 125. */
static int launch_status(const char *path, int json)
{
	struct srv_frame f = {0};
	struct srv_info info;
	uint8_t ver[4];
	int fd = srv_connect(path), status = CLI_STATUS_ERROR;
	enum srv_read r;

	if (fd < 0) {
		fprintf(stderr, "mvmm launch: %s\n", mvmm_errmsg());
		return CLI_STATUS_ERROR;
	}
	srv_put32(ver, SRV_PROTO_VERSION);
	if (srv_send_frame(fd, SRV_STATUS_REQ, ver, sizeof(ver), NULL, 0) < 0) {
		fprintf(stderr, "mvmm launch: %s: %s\n", path, mvmm_errmsg());
		goto out;
	}
	r = srv_read_frame(fd, &f);
	if (r != SRV_READ_OK)
		fprintf(stderr, "mvmm launch: %s: %s\n", path,
			r == SRV_READ_EOF || r == SRV_READ_TRUNCATED
				? "the server closed the connection before its status"
				: mvmm_errmsg());
	else if (f.type == SRV_ERROR && f.len >= 8 && srv_get32(f.data) == SRV_E_TYPE)
		fprintf(stderr, "mvmm launch: the server at %s is too old to answer --status\n",
			path);
	else if (f.type == SRV_ERROR)
		fprintf(stderr, "mvmm launch: server at %s: %s\n", path,
			f.len > 8 ? (char *)f.data + 8 : "error");
	else if (f.type != SRV_INFO)
		fprintf(stderr, "mvmm launch: unexpected frame type 0x%02x from %s\n", f.type,
			path);
	else if (srv_parse_info(f.data, f.len, &info) < 0)
		fprintf(stderr, "mvmm launch: %s: %s\n", path, mvmm_errmsg());
	else
		status = 0;
	if (!status)
		launch_print_info(&info, path, json);
out:
	srv_frame_free(&f);
	close(fd);
	return status;
}

const struct option cli_launch_longopts[] = {
	{"socket", required_argument, NULL, 'S'},
	{"status", optional_argument, NULL, 's'},
	CLI_HELP_LONGOPT,
	{NULL, 0, NULL, 0},
};

int cmd_launch(int argc, char **argv)
{
	const char *path = NULL, *one[1];
	char *text = NULL;
	uint8_t *req;
	size_t len;
	int c, fd, status, want_status = 0;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:h", cli_launch_longopts, NULL)) != -1) {
		if (c == 'h')
			return cli_help_print("launch", stdout);
		if (c == 's' && optarg && strcmp(optarg, "json") != 0)
			return launch_usage("--status takes no value, or =json");
		if (c == 's') {
			want_status = optarg ? 2 : 1;
			continue;
		}
		if (c != 'S') {
			cli_option_error("launch", c, argv, cli_launch_longopts);
			return CLI_STATUS_ERROR;
		}
		path = optarg;
	}
	if (!path)
		return launch_usage("--socket PATH is required");
	if (want_status && optind < argc)
		return launch_usage("--status takes no ARGS");
	if (want_status)
		return launch_status(path, want_status == 2);
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	signal(SIGPIPE, SIG_IGN);
	if (optind == argc && launch_stdin_request(&text) < 0)
		return launch_usage(mvmm_errmsg());
	one[0] = text;
	c = text ? srv_request_frame(one, 1, &req, &len)
		 : srv_request_frame((const char *const *)argv + optind, argc - optind, &req, &len);
	free(text);
	if (c < 0)
		return launch_usage(mvmm_errmsg());
	fd = srv_connect(path);
	if (fd < 0) {
		fprintf(stderr, "mvmm launch: %s\n", mvmm_errmsg());
		free(req);
		return CLI_STATUS_ERROR;
	}
	if (write(fd, req, len) != (ssize_t)len) {
		/* a short write on a fresh Unix socket: the server is gone */
		fprintf(stderr, "mvmm launch: sending the request to %s: %s\n", path,
			strerror(errno));
		status = CLI_STATUS_ERROR;
	} else {
		status = launch_relay(fd, path);
	}
	free(req);
	close(fd);
	return status;
}
