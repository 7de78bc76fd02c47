/* stdio.c: printf of many formats, puts, putchar, fwrite, fputs to stderr; compared with a native
 * run. */
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
	static const double dv[] = {0.0,  -0.0,		 1.0,	-1.5,	   3.14159265358979,
				    1e-7, 123456789.125, 1e300, -2.5e-300, 0.1};
	/* a string the compiler cannot see the length of */
	const char *volatile longstr = "truncated string";
	char buf[256];
	long long total = 0;
	int n;

	printf("ints: %d %i %u %ld %lld %hd %hhd %hhu\n", 42, -42, 4000000000u, -1234567890123L,
	       LLONG_MIN, (short)-3, (signed char)-128, (unsigned char)255);
	printf("hex: %x %X %#x %#o %o %08x %-8x| %lx\n", 0xdeadbeefu, 0xcafeu, 255u, 8u, 511u,
	       0xabu, 0x12u, ULONG_MAX);
	printf("width: [%5d] [%-5d] [%05d] [%+d] [% d] [%.3d] [%*d] [%-*d]\n", 42, 42, 42, 42, 42,
	       7, 6, 9, 6, 9);
	printf("str: [%s] [%10s] [%-10s] [%.3s] [%c%c%c] [%%]\n", "hello", "right", "left",
	       "truncate", 'a', 'b', 'c');
	printf("sizes: %zu %zd %jd %" PRIu64 " %" PRId32 " %" PRIx64 "\n", (size_t)SIZE_MAX,
	       (ssize_t)-5, (intmax_t)INTMAX_MAX, UINT64_MAX, INT32_MIN,
	       (uint64_t)0x1122334455667788ull);
	for (size_t i = 0; i < sizeof(dv) / sizeof(dv[0]); i++)
		printf("double %zu: %f %.2f %e %.10e %g %G %.3g %a %10.4f|%-12g|\n", i, dv[i],
		       dv[i], dv[i], dv[i], dv[i], dv[i], dv[i], dv[i], dv[i], dv[i]);
	printf("long double: %Lf %Lg %.20Lg\n", 1.0L / 3, 2.0L / 7, 1.0L / 3);
	printf("inf nan: %f %f %e %g\n", 1.0 / 0.0, -1.0 / 0.0, 0.0 / 0.0 > 0 ? 1.0 : 2.0,
	       __builtin_inf());
	printf("count%n done\n", &n);
	printf("n=%d\n", n);
	n = snprintf(buf, 8, "%s", longstr);
	printf("snprintf: %d [%s]\n", n, buf);
	puts("puts line");
	puts("");
	putchar('X');
	putchar('\n');
	fwrite("fwrite data\n", 1, 12, stdout);
	fputs("to stderr via fputs\n", stderr);
	fprintf(stderr, "stderr printf %d %s\n", 7, "seven");
	for (int i = 0; i < 300; i++) {
		printf("line %03d: %s %d\n", i, (i % 3) ? "abc" : "defghi", i * i);
		total += i * i;
	}
	fflush(stdout);
	fprintf(stderr, "total %lld\n", total);
	printf("end\n");
	return 0;
}
