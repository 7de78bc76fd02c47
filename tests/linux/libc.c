/*
 * libc.c: an ordinary C program over the libc calls a guest is likely to make: formatted
 * output (%f %g %e %a), sscanf, strtod, qsort and bsearch, broken-down time with TZ unset,
 * getenv, stdio on a file (fopen, fgets, fread, fseek, ftell), setjmp and longjmp, heavy
 * malloc/realloc/free, <math.h>. Prints only what must be the same natively and as a guest.
 *
 *   libc [FILE]     everything; FILE (a text file) is read through stdio when given
 *   libc assert     an assert() that fails (status 134, the message on stderr)
 */
#define _GNU_SOURCE
#include <assert.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void formats(void)
{
	static const double v[] = {0.0, -0.0, 1.0, 0.1, 2.5, 1e-7, 123456.789, 6.02214076e23,
				   -1.5e-300, 1.0 / 3.0};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		printf("%f|%.3f|%10.2f|%-12g|%g|%.10g|%e|%.2E|%a\n", v[i], v[i], v[i], v[i], v[i],
		       v[i], v[i], v[i], v[i]);
	printf("%f %g %e\n", INFINITY, -INFINITY, NAN);
	printf("[%5d|%-5d|%05d|%+d|%x|%#o|%lld|%zu|%c|%.3s|%10s|%%]\n", 42, 42, 42, 42, 255, 8,
	       -9000000000ll, sizeof(long), 'q', "abcdef", "right");
}

static void scanning(void)
{
	static const char *const inputs[] = {"12 34.5 word", "  -7 1e3 x", "0x1f 2.25e-1 tail",
					     "nothing"};
	char word[32];
	double d;
	int n, k;

	for (size_t i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		word[0] = '\0';
		d = 0;
		n = 0;
		k = sscanf(inputs[i], "%i %lf %31s", &n, &d, word);
		printf("sscanf(\"%s\") = %d: %d %.6g [%s]\n", inputs[i], k, n, d, word);
	}
	k = sscanf("2024-02-29T13:45:07", "%d-%d-%dT%d:%d:%d", &n, &n, &n, &n, &n, &n);
	printf("sscanf date fields: %d, last %d\n", k, n);
	printf("strtod: %.17g %.17g %.17g\n", strtod("2.718281828459045", NULL),
	       strtod("-1e-310", NULL), strtod("0x1.8p3", NULL));
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static void sorting(void)
{
	static uint32_t a[5000];
	uint32_t x = 2463534242u, found = 0, key;

	for (size_t i = 0; i < sizeof(a) / sizeof(a[0]); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		a[i] = x % 100000;
	}
	qsort(a, sizeof(a) / sizeof(a[0]), sizeof(a[0]), cmp_u32);
	for (key = 0; key < 100000; key += 7)
		found += bsearch(&key, a, sizeof(a) / sizeof(a[0]), sizeof(a[0]), cmp_u32) != NULL;
	printf("qsort: first %u last %u median %u; bsearch found %u of %u keys\n", a[0], a[4999],
	       a[2500], found, 100000 / 7 + 1);
}

/* TZ unset: local time is the zone of /etc/localtime, or UTC without one. */
static void times(void)
{
	static const time_t when[] = {0, 951782400, 1700000000, 2147483647, 4102444800};
	char buf[128];

	printf("TZ is %s\n", getenv("TZ") ? "set" : "unset");
	for (size_t i = 0; i < sizeof(when) / sizeof(when[0]); i++) {
		struct tm g, l, *p = gmtime_r(&when[i], &g);

		localtime_r(&when[i], &l);
		strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %a %j", p);
		printf("%lld: utc %s; local %02d:%02d wday %d yday %d dst %d; mktime %lld\n",
		       (long long)when[i], buf, l.tm_hour, l.tm_min, l.tm_wday, l.tm_yday,
		       l.tm_isdst, (long long)mktime(&l));
	}
}

static void env(void)
{
	const char *home = getenv("HOME"), *none = getenv("MVMM_T_SURELY_UNSET");

	printf("getenv: HOME %s, unset %s\n", home ? home : "(none)", none ? none : "(none)");
}

static jmp_buf jb;
static int depth_reached;

static void dive(int depth)
{
	volatile char pad[256];

	pad[0] = (char)depth;
	depth_reached = depth + pad[0] - pad[0];
	if (depth == 50)
		longjmp(jb, depth);
	if (depth < 50)
		dive(depth + 1);
}

/* Three dives of 50 frames, each ended by a longjmp back to one setjmp. */
static void jumps(void)
{
	volatile int rounds = 0;
	int r = setjmp(jb);

	if (r != 0)
		rounds++;
	if (rounds < 3)
		dive(rounds * 10);
	printf("longjmp: %d rounds, last value %d, deepest %d\n", rounds, r, depth_reached);
}

/* Thousands of blocks grown, shrunk and freed in a fixed pseudo-random order; a checksum. */
static void heap(void)
{
	enum { SLOTS = 2000, ROUNDS = 60000 };
	static unsigned char *blk[SLOTS];
	static size_t len[SLOTS];
	uint32_t x = 88172645u;
	uint64_t sum = 0;
	size_t peak = 0, live = 0;

	for (int r = 0; r < ROUNDS; r++) {
		size_t i, n;
		unsigned char *p;

		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		i = x % SLOTS;
		n = (x >> 12) % 16 == 0 ? (x >> 8) % 200000 : (x >> 8) % 2000;
		if ((x >> 20) % 5 == 0) {
			live -= len[i];
			free(blk[i]);
			blk[i] = NULL;
			len[i] = 0;
			continue;
		}
		p = realloc(blk[i], n + 1);
		if (!p) {
			printf("realloc of %zu failed\n", n + 1);
			exit(1);
		}
		for (size_t k = 0; k < len[i] && k < n + 1; k += 97)
			sum += p[k];
		memset(p, (int)(i & 0xff), n + 1);
		live += n + 1 - len[i];
		peak = live > peak ? live : peak;
		blk[i] = p;
		len[i] = n + 1;
	}
	for (size_t i = 0; i < SLOTS; i++)
		free(blk[i]);
	printf("heap: checksum %llu, peak %zu KiB live\n", (unsigned long long)sum, peak >> 10);
}

static void maths(void)
{
	double acc = 0;

	for (int i = 1; i <= 50; i++) {
		double x = i / 7.0;

		acc += sin(x) * cos(x / 2) + log1p(x) - sqrt(x) + cbrt(x) + atan(x) + tanh(x / 3) +
		       exp2(-x) + hypot(x, 1.5) + lgamma(x) + erf(x / 4);
	}
	printf("math: %.12g %.12g %.12g %.12g %d %d\n", acc, fma(1.5, 2.25, -0.125),
	       nextafter(1.0, 2.0) - 1.0, ldexp(0.75, 10), ilogb(1000.0), (int)lround(-2.5));
}

/* A text file through stdio: lines with fgets, then the whole with fseek, ftell and fread. */
static int file(const char *path)
{
	char line[256], *all;
	FILE *f = fopen(path, "r");
	unsigned lines = 0, sum = 0;
	long size;

	if (!f) {
		printf("fopen %s failed\n", path);
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		lines++;
		for (char *p = line; *p; p++)
			sum = sum * 31 + (unsigned char)*p;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		return 1;
	}
	all = malloc((size_t)size + 1);
	if (!all || fread(all, 1, (size_t)size, f) != (size_t)size) {
		fclose(f);
		free(all);
		return 1;
	}
	all[size] = '\0';
	printf("file: %u lines, %ld bytes, hash %08x, first line: %.*s\n", lines, size, sum,
	       (int)strcspn(all, "\n"), all);
	free(all);
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "assert")) {
		printf("before the assertion\n");
		fflush(stdout);
		assert(argc == 1 && "argv has more than the program");
		return 0;
	}
	formats();
	scanning();
	sorting();
	times();
	env();
	jumps();
	heap();
	maths();
	return argc > 1 ? file(argv[1]) : 0;
}
