/* test_confine.c: the seccomp filter is on by default for mvmm run and names a forbidden call. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define STATUS_SECCOMP 159 /* 128 + SIGSYS, as a shell reports it */

/* MVMM_SECCOMP_SELFTEST makes mvmm call personality(2) once it is confined: no list allows it. */
Test(confine, a_forbidden_call_stops_mvmm_and_is_named, .timeout = 30)
{
	struct t_proc p;

	setenv("MVMM_SECCOMP_SELFTEST", "1", 1);
	T_MVMM(&p, 20000, "run", T_GUEST("hello"));
	unsetenv("MVMM_SECCOMP_SELFTEST");
	cr_assert_eq(p.status, STATUS_SECCOMP, "status %d, stderr: %s", p.status, p.err);
	cr_assert(strstr(p.err, "seccomp: forbidden system call personality"), "%s", p.err);
	cr_assert_null(strstr(p.out, T_HELLO_TEXT), "the guest ran after the forbidden call");
	t_proc_free(&p);
}

Test(confine, no_seccomp_runs_without_the_filter, .timeout = 30)
{
	struct t_proc p;

	setenv("MVMM_SECCOMP_SELFTEST", "1", 1);
	T_MVMM(&p, 20000, "run", "--no-seccomp", T_GUEST("hello"));
	unsetenv("MVMM_SECCOMP_SELFTEST");
	cr_assert_eq(p.status, 0, "status %d, stderr: %s", p.status, p.err);
	cr_assert(strstr(p.out, T_HELLO_TEXT), "%s", p.out);
	t_proc_free(&p);
}

/* Every way of running guests works under the filters: one, many, clones, sharded workers. */
Test(confine, runs_of_every_kind_pass_under_the_filter, .timeout = 120)
{
	struct t_proc p;

	T_MVMM(&p, 30000, "run", T_GUEST("hello"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 30000, "run", "--count", "4", T_GUEST("hello"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 30000, "run", "--template", "--count", "4", T_GUEST("ready"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 60000, "run", "--per-process", "2", "--count", "5", "--stats", T_GUEST("hello"));
	cr_assert_eq(p.status, 0, "%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, 30000, "run", T_GUEST("fault"));
	cr_assert_eq(p.status, 123, "%s", p.err);
	cr_assert(strstr(p.err, "page fault"), "%s", p.err);
	t_proc_free(&p);
}
