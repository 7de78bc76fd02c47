/* time.h: monotonic time through the clock hypercall (one exit per call). */
#ifndef _MVMM_TIME_H
#define _MVMM_TIME_H

#include <stddef.h>
#include <stdint.h>

typedef long time_t;
typedef long clock_t;
typedef int clockid_t;

struct timespec {
	time_t tv_sec;
	long tv_nsec;
};

#define CLOCK_MONOTONIC 1
#define CLOCKS_PER_SEC	1000000L

int clock_gettime(clockid_t id, struct timespec *ts);
clock_t clock(void);
uint64_t clock_ns(void);

#endif /* _MVMM_TIME_H */
