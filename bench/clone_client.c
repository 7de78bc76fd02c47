/*
 * clone_client.c: a direct client of `mvmm serve` for bench/clone_workers.sh: T threads,
 * each making L requests back to back (connect, one REQUEST frame, read frames to the
 * final STATUS), with no process spawn between them. Prints "<requests> <seconds> <failed>"
 * for the whole (the wall time from the first request to the last status).
 *
 *   clone_client SOCKET T L
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "serve/srv_wire.h"

static const char *sock_path;
static unsigned per_thread;
static unsigned failed; /* atomic */

/* One clone: 0 once its STATUS came with status 0. */
static int one_request(const uint8_t *req, size_t len)
{
	struct srv_frame f = {0};
	int fd = srv_connect(sock_path), ok = -1;

	if (fd < 0)
		return -1;
	if (write(fd, req, len) != (ssize_t)len)
		goto out;
	while (srv_read_frame(fd, &f) == SRV_READ_OK) {
		struct srv_status st;

		if (f.type == SRV_STATUS) {
			ok = srv_parse_status(f.data, f.len, &st) == 0 && st.status == 0 ? 0 : -1;
			break;
		}
		if (f.type != SRV_STDOUT && f.type != SRV_STDERR)
			break;
		srv_frame_free(&f);
	}
out:
	srv_frame_free(&f);
	close(fd);
	return ok;
}

static void *client(void *arg)
{
	uint8_t *req;
	size_t len;

	(void)arg;
	if (srv_request_frame(NULL, 0, &req, &len) < 0) {
		__atomic_add_fetch(&failed, per_thread, __ATOMIC_RELAXED);
		return NULL;
	}
	for (unsigned i = 0; i < per_thread; i++)
		if (one_request(req, len) < 0)
			__atomic_add_fetch(&failed, 1, __ATOMIC_RELAXED);
	free(req);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	pthread_t th[256];
	unsigned n, i;
	double t0;

	if (argc != 4 || (n = (unsigned)atoi(argv[2])) < 1 || n > 256 || atoi(argv[3]) < 1) {
		fprintf(stderr, "usage: clone_client SOCKET THREADS REQUESTS_PER_THREAD\n");
		return 2;
	}
	sock_path = argv[1];
	per_thread = (unsigned)atoi(argv[3]);
	t0 = now_s();
	for (i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, client, NULL) != 0)
			return 1;
	for (i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("%u %.4f %u\n", n * per_thread, now_s() - t0, failed);
	return 0;
}
