/* strmath.c: string and math functions (strtod, snprintf %g, sqrt, sin, exp, pow, strtok,
 * memmem, qsort, bsearch ...); compared with a native run. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int main(void)
{
	static const char *const nums[] = {
		"3.14159", "-2.5e-3", "1e308",	"0x1p-4", "  42abc",
		"inf",	   "-nan",    "1e-400", "abc",	  "123456789012345678901"};
	static const char *const words[] = {"pear",   "apple", "fig",	     "banana",
					    "cherry", "date",  "elderberry", "grape"};
	const char *sorted[8];
	char text[] = "alpha, beta;gamma  delta,,epsilon";
	char buf[128];
	int arr[1000], key, *hit;
	unsigned seed = 12345;
	double acc = 0;

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		char *end;
		double d;

		errno = 0;
		d = strtod(nums[i], &end);
		snprintf(buf, sizeof(buf), "%g", d);
		printf("strtod(%s) = %s %.17g rest=[%s] erange=%d\n", nums[i], buf, d, end,
		       errno == ERANGE);
	}
	printf("strtol: %ld %ld %ld %lu %lld\n", strtol("0x7f", NULL, 16), strtol("-0777", NULL, 8),
	       strtol("zz", NULL, 36), strtoul("4294967295", NULL, 10),
	       strtoll("-9223372036854775808", NULL, 10));
	printf("atoi: %d %d\n", atoi("  -17xyz"), atoi("2147483647"));
	for (int i = 0; i <= 20; i++) {
		double x = i * 0.37 - 2.0;

		printf("x=%.2f sqrt=%.12g sin=%.12g cos=%.12g exp=%.12g pow=%.12g log=%.12g "
		       "atan2=%.12g "
		       "fmod=%.6g floor=%g ceil=%g round=%g\n",
		       x, sqrt(fabs(x)), sin(x), cos(x), exp(x), pow(fabs(x), 1.5),
		       log(fabs(x) + 1), atan2(x, 1.5), fmod(x * 10, 3), floor(x), ceil(x),
		       round(x));
		acc += sin(x) * exp(x / 3);
	}
	printf("acc=%.15g hypot=%.15g cbrt=%.15g tanh=%.15g\n", acc, hypot(3, 4), cbrt(27),
	       tanh(0.5));
	printf("specials: %g %g %d %d\n", sqrt(-1.0) != sqrt(-1.0) ? 1.0 : 0.0, pow(2, 1024),
	       isinf(pow(2, 1024)), isnan(log(-1)));
	for (char *tok = strtok(text, ", ;"); tok; tok = strtok(NULL, ", ;"))
		printf("token [%s]\n", tok);
	{
		const char hay[] = "the quick brown fox jumps over the lazy dog";
		const char *m = memmem(hay, sizeof(hay) - 1, "lazy", 4);

		printf("memmem at %ld, none %d, strstr %ld, strchr %ld, strrchr %ld\n",
		       m ? (long)(m - hay) : -1L, memmem(hay, sizeof(hay), "cat", 3) == NULL,
		       (long)(strstr(hay, "fox") - hay), (long)(strchr(hay, 'q') - hay),
		       (long)(strrchr(hay, 'o') - hay));
		printf("strspn %zu strcspn %zu strncmp %d memcmp %d strlen %zu\n",
		       strspn(hay, "the "), strcspn(hay, "xyz"), strncmp(hay, "the slow", 4) == 0,
		       memcmp("abc", "abd", 3) < 0, strlen(hay));
	}
	{
		char mv[32] = "0123456789abcdef";

		memmove(mv + 4, mv, 10);
		printf("memmove [%s]\n", mv);
		for (char *p = mv; *p; p++)
			*p = (char)toupper((unsigned char)*p);
		printf("toupper [%s]\n", mv);
	}
	for (int i = 0; i < 1000; i++) {
		seed = seed * 1103515245u + 12345u;
		arr[i] = (int)(seed >> 8) % 100000;
	}
	qsort(arr, 1000, sizeof(arr[0]), cmp_int);
	printf("sorted: %d %d %d ... %d\n", arr[0], arr[1], arr[2], arr[999]);
	for (int i = 1; i < 1000; i++)
		if (arr[i - 1] > arr[i])
			printf("NOT SORTED at %d\n", i);
	key = arr[500];
	hit = bsearch(&key, arr, 1000, sizeof(arr[0]), cmp_int);
	printf("bsearch %d found=%d\n", key, hit && *hit == key);
	key = -5;
	printf("bsearch missing found=%d\n",
	       bsearch(&key, arr, 1000, sizeof(arr[0]), cmp_int) != NULL);
	memcpy(sorted, words, sizeof(sorted));
	qsort(sorted, 8, sizeof(sorted[0]), cmp_str);
	for (int i = 0; i < 8; i++)
		printf("%s%c", sorted[i], i == 7 ? '\n' : ' ');
	return 0;
}
