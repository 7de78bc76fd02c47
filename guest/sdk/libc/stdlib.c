/* stdlib.c: number parsing, sorting, searching, exit paths and the libc set-up. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <mvmm/hypercall.h>
#include "internal.h"

int errno;
uint64_t __mvmm_start_ns;
static char **environ_;

void __mvmm_libc_init(const struct mvmm_bootinfo *bi)
{
	environ_ = (char **)(uintptr_t)bi->envp;
	__mvmm_malloc_init((uintptr_t)bi->heap_start, (uintptr_t)bi->heap_end);
}

/*
 * The one parser behind strto*: magnitude in unsigned long long with
 * overflow detection; the callers clamp to their type's range.
 */
static unsigned long long parse(const char *s, char **end, int base, bool *neg, bool *ovf)
{
	const char *p = s, *digits_start;
	unsigned long long v = 0;

	*neg = false;
	*ovf = false;
	while (isspace((unsigned char)*p))
		p++;
	if (*p == '-' || *p == '+')
		*neg = *p++ == '-';
	if ((base == 0 || base == 16) && p[0] == '0' && (p[1] | 0x20) == 'x' &&
	    isxdigit((unsigned char)p[2])) {
		p += 2;
		base = 16;
	} else if (base == 0) {
		base = p[0] == '0' ? 8 : 10;
	}
	digits_start = p;
	if (base >= 2 && base <= 36) {
		for (;; p++) {
			int c = (unsigned char)*p, d;

			if (isdigit(c))
				d = c - '0';
			else if (isalpha(c))
				d = (c | 0x20) - 'a' + 10;
			else
				break;
			if (d >= base)
				break;
			if (v > (ULLONG_MAX - (unsigned)d) / (unsigned)base)
				*ovf = true;
			else
				v = v * (unsigned)base + (unsigned)d;
		}
	}
	if (end)
		*end = (char *)(p == digits_start ? s : p);
	if (*ovf)
		errno = ERANGE;
	if (base < 2 || base > 36) {
		errno = EINVAL;
		if (end)
			*end = (char *)s;
	}
	return v;
}

/* Signed result within [min, max] (min = -max - 1), ERANGE on overflow. */
static long long to_signed(unsigned long long v, bool neg, bool ovf, long long max)
{
	unsigned long long lim = neg ? (unsigned long long)max + 1 : (unsigned long long)max;

	if (ovf || v > lim) {
		errno = ERANGE;
		return neg ? -max - 1 : max;
	}
	return neg ? (long long)(0 - v) : (long long)v;
}

long long strtoll(const char *s, char **end, int base)
{
	bool neg, ovf;
	unsigned long long v = parse(s, end, base, &neg, &ovf);

	return to_signed(v, neg, ovf, LLONG_MAX);
}

long strtol(const char *s, char **end, int base)
{
	bool neg, ovf;
	unsigned long long v = parse(s, end, base, &neg, &ovf);

	return (long)to_signed(v, neg, ovf, LONG_MAX);
}

unsigned long long strtoull(const char *s, char **end, int base)
{
	bool neg, ovf;
	unsigned long long v = parse(s, end, base, &neg, &ovf);

	if (ovf)
		return ULLONG_MAX;
	return neg ? 0 - v : v; /* C: the negation happens in the unsigned type */
}

unsigned long strtoul(const char *s, char **end, int base)
{
	return (unsigned long)strtoull(s, end, base);
}

int atoi(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

long atol(const char *s)
{
	return strtol(s, NULL, 10);
}

long long atoll(const char *s)
{
	return strtoll(s, NULL, 10);
}

int abs(int x)
{
	return x < 0 ? -x : x;
}

long labs(long x)
{
	return x < 0 ? -x : x;
}

long long llabs(long long x)
{
	return x < 0 ? -x : x;
}

typedef int (*cmp_fn)(const void *, const void *);

static void swap(char *a, char *b, size_t size)
{
	while (size--) {
		char t = *a;

		*a++ = *b;
		*b++ = t;
	}
}

static void sift_down(char *base, size_t root, size_t n, size_t size, cmp_fn cmp)
{
	for (;;) {
		size_t child = 2 * root + 1;

		if (child >= n)
			return;
		if (child + 1 < n && cmp(base + child * size, base + (child + 1) * size) < 0)
			child++;
		if (cmp(base + root * size, base + child * size) >= 0)
			return;
		swap(base + root * size, base + child * size, size);
		root = child;
	}
}

static void heap_sort(char *base, size_t n, size_t size, cmp_fn cmp)
{
	size_t i;

	for (i = n / 2; i-- > 0;)
		sift_down(base, i, n, size, cmp);
	for (i = n; i-- > 1;) {
		swap(base, base + i * size, size);
		sift_down(base, 0, i, size, cmp);
	}
}

static void insertion_sort(char *base, size_t n, size_t size, cmp_fn cmp)
{
	size_t i, j;

	for (i = 1; i < n; i++)
		for (j = i; j > 0 && cmp(base + (j - 1) * size, base + j * size) > 0; j--)
			swap(base + (j - 1) * size, base + j * size, size);
}

/*
 * Introsort: median-of-three quicksort, insertion sort for small ranges,
 * heapsort once the depth budget runs out, so no input is quadratic.
 */
static void intro_sort(char *base, size_t n, size_t size, cmp_fn cmp, int depth)
{
	while (n > 16) {
		char *lo = base, *mid = base + (n / 2) * size, *hi = base + (n - 1) * size;
		size_t i, j;

		if (depth-- == 0) {
			heap_sort(base, n, size, cmp);
			return;
		}
		if (cmp(mid, lo) < 0)
			swap(mid, lo, size);
		if (cmp(hi, mid) < 0) {
			swap(hi, mid, size);
			if (cmp(mid, lo) < 0)
				swap(mid, lo, size);
		}
		/* pivot to slot 0; Hoare partition around it */
		swap(base, mid, size);
		i = 0;
		j = n;
		for (;;) {
			do
				i++;
			while (i < n && cmp(base + i * size, base) < 0);
			do
				j--;
			while (cmp(base + j * size, base) > 0);
			if (i >= j)
				break;
			swap(base + i * size, base + j * size, size);
		}
		swap(base, base + j * size, size);
		/* recurse into the smaller side, loop on the larger: O(log n) stack */
		if (j < n - j - 1) {
			intro_sort(base, j, size, cmp, depth);
			base += (j + 1) * size;
			n -= j + 1;
		} else {
			intro_sort(base + (j + 1) * size, n - j - 1, size, cmp, depth);
			n = j;
		}
	}
	insertion_sort(base, n, size, cmp);
}

void qsort(void *base, size_t n, size_t size, cmp_fn cmp)
{
	int depth = 0;
	size_t k;

	if (n < 2 || size == 0)
		return;
	for (k = n; k; k >>= 1)
		depth += 2;
	intro_sort(base, n, size, cmp, depth);
}

void *bsearch(const void *key, const void *base, size_t n, size_t size, cmp_fn cmp)
{
	const char *b = base;

	while (n) {
		const char *mid = b + (n / 2) * size;
		int c = cmp(key, mid);

		if (c == 0)
			return (void *)mid;
		if (c > 0) {
			b = mid + size;
			n -= n / 2 + 1;
		} else {
			n /= 2;
		}
	}
	return NULL;
}

static uint64_t rand_state = 1;

/* A 64-bit LCG, top bits out: fine for tests, not for secrets. */
int rand(void)
{
	rand_state = rand_state * 6364136223846793005ull + 1442695040888963407ull;
	return (int)(rand_state >> 33);
}

/*
 * Clones of one template resume with the template's RNG state: without a
 * reseed every clone would draw the same numbers. mvmm_ready() reseeds
 * from host randomness in each clone.
 */
static void mvmm_reseed(void)
{
	uint64_t seed = 0;

	if (mvmm_random(&seed, sizeof(seed)) == (int64_t)sizeof(seed))
		rand_state = seed | 1;
}

int mvmm_ready(void)
{
	struct mvmm_hc_ready a = { 0 };
	int64_t n = mvmm_hypercall(MVMM_HC_READY, &a);

	if (n > 0)
		mvmm_reseed();
	return (int)n;
}

void srand(unsigned int seed)
{
	rand_state = seed;
}

char *getenv(const char *name)
{
	size_t n = strlen(name);
	char **e;

	for (e = environ_; e && *e; e++)
		if (!strncmp(*e, name, n) && (*e)[n] == '=')
			return *e + n + 1;
	return NULL;
}

#define ATEXIT_MAX 32
static void (*atexit_fns[ATEXIT_MAX])(void);
static int atexit_count;

int atexit(void (*fn)(void))
{
	if (atexit_count == ATEXIT_MAX)
		return -1;
	atexit_fns[atexit_count++] = fn;
	return 0;
}

void exit(int status)
{
	while (atexit_count)
		atexit_fns[--atexit_count]();
	__mvmm_stdio_flush_all();
	mvmm_exit(status);
}

void _Exit(int status)
{
	mvmm_exit(status);
}

/* Output printed before abort still shows: flush, then report. */
void abort(void)
{
	__mvmm_stdio_flush_all();
	mvmm_abort("abort() called");
}

void __assert_fail(const char *expr, const char *file, int line, const char *func)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "%s:%d: %s: Assertion `%s' failed.", file, line, func,
			 expr);

	__mvmm_stdio_flush_all();
	mvmm_abort_len(msg, n < (int)sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
}

uint64_t clock_ns(void)
{
	return mvmm_clock_ns();
}

int clock_gettime(clockid_t id, struct timespec *ts)
{
	uint64_t ns;

	if (id != CLOCK_MONOTONIC) {
		errno = EINVAL;
		return -1;
	}
	ns = mvmm_clock_ns();
	ts->tv_sec = (time_t)(ns / 1000000000u);
	ts->tv_nsec = (long)(ns % 1000000000u);
	return 0;
}

/* Wall time since start-up (the guest has one vCPU and nothing else to run). */
clock_t clock(void)
{
	if (!__mvmm_start_ns)
		__mvmm_start_ns = mvmm_clock_ns();
	return (clock_t)((mvmm_clock_ns() - __mvmm_start_ns) / 1000u);
}
