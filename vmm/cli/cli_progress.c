/* cli_progress.c: the in-place progress line of a long run, kept off guest output and logs. */
#define _GNU_SOURCE
#include "cli_progress.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli_log.h"
#include "core/log.h"
#include "core/vm.h"

#define PROGRESS_DELAY_NS  1000000000ull /* a run shorter than this shows nothing */
#define PROGRESS_PERIOD_MS 150
#define PROGRESS_QUIET_NS  1000000000ull /* after other output, before drawing again */
#define PROGRESS_ERASE	   "\r\033[K"

/*
 * Shared with worker processes (MAP_SHARED): they bump the counts and erase
 * the line. Made once and kept for the life of the process: a writer may
 * still hold it when a run's progress stops.
 */
struct progress_shared {
	struct fleet_progress counts;
	pthread_mutex_t lock; /* process-shared: the line on the terminal */
	int on;		      /* a run's progress is being shown (atomic) */
	int drawn;	      /* the line is on the terminal now */
	uint64_t quiet_until; /* no drawing before (CLOCK_MONOTONIC ns) */
};

struct cli_progress {
	struct progress_shared *sh;
	pthread_t thread;
	int stop_fd; /* an eventfd: the drawer ends */
	int stop;    /* atomic */
	uint64_t t0;
	const char *phase; /* a phase's name, or NULL for a fleet's counts */
};

static struct progress_shared *shared;

static void term_write(const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(STDERR_FILENO, s, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

void cli_progress_before_output(int fd)
{
	struct progress_shared *sh = __atomic_load_n(&shared, __ATOMIC_ACQUIRE);

	if (!sh || !__atomic_load_n(&sh->on, __ATOMIC_ACQUIRE) || !cli_log_tty(fd))
		return;
	pthread_mutex_lock(&sh->lock);
	if (sh->drawn)
		term_write(PROGRESS_ERASE, strlen(PROGRESS_ERASE));
	sh->drawn = 0;
	sh->quiet_until = vm_now_ns() + PROGRESS_QUIET_NS;
	pthread_mutex_unlock(&sh->lock);
}

static void progress_draw(struct cli_progress *p)
{
	struct fleet_progress c;
	uint64_t now = vm_now_ns();
	double s = (double)(now - p->t0) / 1e9;
	char line[200], rate[32] = "";
	int n;

	if (p->phase) {
		n = snprintf(line, sizeof(line), PROGRESS_ERASE "mvmm: %s: %.1f s", p->phase, s);
		goto draw;
	}
	c.total = __atomic_load_n(&p->sh->counts.total, __ATOMIC_RELAXED);
	c.started = __atomic_load_n(&p->sh->counts.started, __ATOMIC_RELAXED);
	c.held = __atomic_load_n(&p->sh->counts.held, __ATOMIC_RELAXED);
	c.exited = __atomic_load_n(&p->sh->counts.exited, __ATOMIC_RELAXED);
	/* the start-up rate, while instances are still starting */
	if (c.started < c.total && s > 0)
		snprintf(rate, sizeof(rate), ", %.0f started/s", (double)c.started / s);
	n = snprintf(line, sizeof(line),
		     PROGRESS_ERASE "mvmm: %lu/%lu started, %lu held, %lu exited, %.1f s%s",
		     (unsigned long)c.started, (unsigned long)c.total, (unsigned long)c.held,
		     (unsigned long)c.exited, s, rate);
draw:
	if (n < 0)
		return;
	pthread_mutex_lock(&p->sh->lock);
	if (now >= p->sh->quiet_until) {
		term_write(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
		p->sh->drawn = 1;
	}
	pthread_mutex_unlock(&p->sh->lock);
}

static void *progress_main(void *arg)
{
	struct cli_progress *p = arg;
	struct pollfd pfd = {.fd = p->stop_fd, .events = POLLIN};

	while (!__atomic_load_n(&p->stop, __ATOMIC_ACQUIRE)) {
		if (poll(&pfd, 1, PROGRESS_PERIOD_MS) > 0)
			break;
		if (vm_now_ns() - p->t0 >= PROGRESS_DELAY_NS)
			progress_draw(p);
	}
	return NULL;
}

/* The shared block, made on first use (before any worker process is forked). */
static struct progress_shared *progress_shared_get(void)
{
	pthread_mutexattr_t ma;
	struct progress_shared *sh = __atomic_load_n(&shared, __ATOMIC_ACQUIRE), *none = NULL;

	if (sh)
		return sh;
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return NULL;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	pthread_mutex_init(&sh->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	if (!__atomic_compare_exchange_n(&shared, &none, sh, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE)) {
		munmap(sh, sizeof(*sh)); /* another group's thread made it first */
		return none;
	}
	return sh;
}

static struct cli_progress *progress_start(unsigned total, const char *phase)
{
	struct progress_shared *sh;
	struct cli_progress *p;
	int off = 0;

	if (!cli_log_tty(2) || !vlog_on(VLOG_WARN))
		return NULL;
	sh = progress_shared_get();
	/* '---' groups run fleets at once: the first shows its progress, the others none. */
	if (!sh || !__atomic_compare_exchange_n(&sh->on, &off, 1, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->sh = sh;
	p->phase = phase;
	memset(&sh->counts, 0, sizeof(sh->counts));
	sh->counts.total = total;
	sh->drawn = 0;
	sh->quiet_until = 0;
	p->t0 = vm_now_ns();
	p->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (p->stop_fd < 0)
		goto fail;
	if (pthread_create(&p->thread, NULL, progress_main, p) != 0) {
		close(p->stop_fd);
		goto fail;
	}
	return p;
fail:
	free(p);
	__atomic_store_n(&sh->on, 0, __ATOMIC_RELEASE);
	return NULL;
}

struct cli_progress *cli_progress_start(unsigned total)
{
	return progress_start(total, NULL);
}

struct cli_progress *cli_progress_start_phase(const char *phase)
{
	return progress_start(0, phase);
}

struct fleet_progress *cli_progress_counts(struct cli_progress *p)
{
	return p ? &p->sh->counts : NULL;
}

void cli_progress_stop(struct cli_progress *p)
{
	uint64_t one = 1;

	if (!p)
		return;
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELEASE);
	if (write(p->stop_fd, &one, sizeof(one)) < 0) {
		/* the drawer sees the flag within a period */
	}
	pthread_join(p->thread, NULL);
	pthread_mutex_lock(&p->sh->lock);
	if (p->sh->drawn)
		term_write(PROGRESS_ERASE, strlen(PROGRESS_ERASE));
	p->sh->drawn = 0;
	__atomic_store_n(&p->sh->on, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&p->sh->lock);
	close(p->stop_fd);
	free(p);
}
