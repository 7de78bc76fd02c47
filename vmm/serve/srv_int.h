/* srv_int.h: the server's state, shared by its accept loop (server.c) and its start-up (srv_start.c). */
#ifndef MVMM_SRV_INT_H
#define MVMM_SRV_INT_H

#include <pthread.h>
#include <sys/types.h>

#include "clone/shellpool.h"
#include "server.h"
#include "srv_stats.h"

/* epoll tags; connection ids start above them. */
enum { SRV_TAG_LISTEN = 1, SRV_TAG_WAKE, SRV_TAG_STOP, SRV_TAG_CTL, SRV_FIRST_ID = 16 };

/* Bytes between a server of workers and its workers (srv_workers.c). */
#define SRV_CTL_STOP   'S' /* parent -> worker: stop now, as at SIGTERM */
#define SRV_CTL_RETIRE 'R' /* either way: a retire request arrived; all retire */

struct srv_conn {
	struct srv *srv;
	int fd;
	uint64_t id;
	pthread_t thread;
	uid_t uid;     /* the peer's, from SO_PEERCRED */
	struct vm *vm; /* while its clone runs; under srv->lock */
	int gone;      /* the client left (atomic) */
	pthread_mutex_t send_lock;
	struct srv_conn *next, *prev;
};

struct srv {
	struct srv_config cfg;
	struct kvm_sys *kvm;
	struct template *tpl;
	struct shell_pool pool;
	int pool_ok;
	char *path;
	int listen_fd, epfd, wake_fd;
	dev_t dev;
	ino_t ino;
	pthread_mutex_t lock;
	struct srv_conn *conns; /* connections being served */
	struct srv_conn *done;	/* threads that ended, to join */
	unsigned nconns;
	uint64_t buffer_left; /* request bytes connections may still buffer (atomic) */
	uint64_t next_id;
	int retiring, stopping; /* atomic */
	char warning[512];
	uint32_t generation; /* 1, or the replaced server's plus 1 */
	uint64_t t_start;
	struct srv_stats stats;
	int ctl_fd; /* in a worker: the parent's SRV_CTL_* bytes (EOF: it is gone), else -1 */
	int up_fd;  /* in a worker: to tell the parent of a retire request, else -1 */
};

/* srv_workers.c: forks cfg.workers workers and waits for them all. */
int srv_run_workers(struct srv *s);
/* server.c: the accept loop of one process. */
int srv_serve(struct srv *s);
/* srv_start.c: starts the shell pool (in each worker, after the fork). */
int srv_start_pool(struct srv *s);
/* srv_start.c: adds fd to the server's epoll set under tag. */
int srv_watch(struct srv *s, int fd, uint64_t tag);

/* Closes the listening socket (removing the path if it is still ours, with unlink_path). */
void srv_close_listener(struct srv *s, int unlink_path);

#endif
