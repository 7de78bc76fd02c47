/* test_template.c: clones resume from ready with the template's memory and registers. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define TPLCHECK T_TEST_GUEST("tplcheck")
#define CLONES	 8

struct seen {
	int clone, found, rand;
	unsigned long x, y, sum;
	double f;
};

static int parse(const char *line, struct seen *s)
{
	const char *p = strstr(line, "clone ");

	return p && sscanf(p, "clone %d x %lu y %lu f %lf sum %lu found %d rand %d", &s->clone,
			   &s->x, &s->y, &s->f, &s->sum, &s->found, &s->rand) == 7;
}

Test(template, clones_resume_with_the_templates_state, .timeout = 60)
{
	struct t_proc cold, p;
	struct seen ref, s[CLONES];
	int used[CLONES + 1] = {0}, n = 0, i, j, same_rand = 0;
	char *line, *save = NULL;

	/* the plain run: ready returns 0, nothing frozen */
	T_MVMM(&cold, 30000, "run", TPLCHECK);
	cr_assert_eq(cold.status, 0, "%s", cold.err);
	cr_assert(parse(cold.out, &ref), "%s", cold.out);
	cr_expect_eq(ref.clone, 0);
	t_proc_free(&cold);

	T_MVMM(&p, 30000, "run", "--template", "--count", "8", TPLCHECK);
	cr_assert_eq(p.status, 0, "%s", p.err);
	for (line = strtok_r(p.out, "\n", &save); line && n < CLONES;
	     line = strtok_r(NULL, "\n", &save))
		cr_assert(parse(line, &s[n++]), "%s", line);
	cr_assert_eq(n, CLONES);
	for (i = 0; i < n; i++) {
		/* registers (x, y, f) and memory (the table) as they were at ready */
		cr_expect_eq(s[i].x, ref.x);
		cr_expect_eq(s[i].y, ref.y);
		cr_expect(s[i].f == ref.f);
		cr_expect_eq(s[i].sum, ref.x);
		/* no clone sees another clone's write */
		cr_expect_eq(s[i].found, -1, "clone %d found %d", s[i].clone, s[i].found);
		/* clone numbers 1..N, each once */
		cr_assert(s[i].clone >= 1 && s[i].clone <= CLONES, "clone number %d", s[i].clone);
		cr_expect(!used[s[i].clone], "clone number %d twice", s[i].clone);
		used[s[i].clone] = 1;
		for (j = 0; j < i; j++)
			same_rand += s[j].rand == s[i].rand;
	}
	/* reseeded from host randomness in each clone: 8 equal draws would mean shared RNG state */
	cr_expect(same_rand < n - 1, "clones drew the same random numbers");
	t_proc_free(&p);
}

/* Every register class (x87, SSE, AVX, AVX-512 where the CPU has them) resumes as it was at ready. */
Test(template, clones_resume_with_every_register_class, .timeout = 60)
{
	struct t_proc p;

	T_MVMM(&p, 30000, "run", "--template", "--count", "4", T_TEST_GUEST("regs"), "read");
	cr_assert_eq(p.status, 0, "%s", p.err);
	cr_assert(strstr(p.out, "xmm same") && strstr(p.out, "x87 same"), "%s", p.out);
	cr_assert_null(strstr(p.out, "DIFFERENT"), "a clone resumed with other registers:\n%s",
		       p.out);
	t_proc_free(&p);
}

