/*
 * test_gdb.c: `mvmm run --gdb` driven by Debian's gdb in batch mode against a guest built
 * with -g (tests/linux/gdbme.c): breakpoints, backtrace, registers, memory, single steps,
 * a breakpoint in code that already ran, --gdb-on-fault, Ctrl-C, --gdb-instance, TCP, and
 * the socket's safety rules. Every wait is bounded: gdb and the shell under timeout, mvmm
 * under --timeout, the whole session under the harness's deadline.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define GUEST	  "build/tests/linux/gdbme-debug"
#define GUEST_PIE "build/tests/linux/gdbme-sdk"
#define LIMIT_MS  90000

/* What a session printed: gdb's output, then mvmm's status, stdout and stderr. */
struct session {
	struct t_proc p;
	const char *gdb;      /* gdb's own output */
	int status;	      /* mvmm's exit status */
	const char *out, *err; /* mvmm's */
};

/*
 * Starts `mvmm run --gdb ADDR MVMM_ARGS GUEST GUEST_ARGS`, waits for its "waiting" line,
 * then runs gdb -batch with GDB_EX (its -ex arguments, shell-quoted) against it. tcp: a
 * TCP port chosen by mvmm (--gdb 0) instead of a unix socket. interrupt_after: when > 0,
 * gdb gets SIGINT (as from Ctrl-C) that many seconds after it started.
 */
static void session(struct session *s, int tcp, const char *mvmm_args, const char *guest,
		    const char *guest_args, const char *gdb_ex, double interrupt_after)
{
	char script[4096];
	char *sh_argv[] = {"/bin/sh", "-c", script, NULL};
	char *mark;

	snprintf(script, sizeof(script),
		 "d=$(mktemp -d /tmp/mvmm-gdb.XXXXXX)\n"
		 "if [ %d = 1 ]; then addr=0; else addr=unix:$d/s; fi\n"
		 "%s run --gdb $addr --timeout 60 %s %s %s >$d/out 2>$d/err & m=$!\n"
		 "i=0; while ! grep -q 'gdb: waiting on' $d/err && [ $i -lt 600 ]; do\n"
		 "  sleep 0.05; i=$((i+1)); done\n"
		 "if [ %d = 1 ]; then\n"
		 "  t=:$(sed -n 's/.*127\\.0\\.0\\.1:\\([0-9]*\\) .*/\\1/p' $d/err)\n"
		 "else t=$d/s; echo \"socket mode $(stat -c %%a $d/s)\"; fi\n"
		 /* --foreground: timeout passes a SIGINT to gdb only, not again to its group */
		 "timeout --foreground 60 gdb -batch -nx -ex \"target remote $t\" %s %s </dev/null 2>&1 &\n"
		 "g=$!\n"
		 "if [ %d -gt 0 ]; then sleep %.1f; kill -INT $g; fi\n"
		 "wait $g\n"
		 "wait $m; echo \"@@status $?\"\n"
		 "echo @@out; cat $d/out; echo @@err; cat $d/err\n"
		 "[ -e $d/s ] && echo 'socket left behind' >&2\n"
		 "rm -rf $d\n",
		 tcp, t_mvmm_bin(), mvmm_args, guest, guest_args, tcp, gdb_ex, guest,
		 interrupt_after > 0, interrupt_after);
	t_run(sh_argv, LIMIT_MS, &s->p);
	cr_assert(!s->p.timed_out, "the session hung:\n%s\n%s", s->p.out, s->p.err);
	mark = strstr(s->p.out, "@@status ");
	cr_assert(mark, "no status: %s\n%s", s->p.out, s->p.err);
	*mark = '\0';
	s->gdb = s->p.out;
	s->status = atoi(mark + 9);
	s->out = strstr(mark + 1, "@@out\n");
	cr_assert(s->out);
	s->out += 6;
	mark = strstr(s->out, "@@err\n");
	cr_assert(mark);
	*mark = '\0';
	s->err = mark + 6;
	cr_expect(!strstr(s->p.err, "socket left behind"), "the unix socket was not removed");
	cr_expect(!strstr(s->err, "AddressSanitizer") && !strstr(s->err, "runtime error"),
		  "sanitizer report:\n%s", s->err);
}

/* The address of symbol name in path, from nm. */
static unsigned long long nm_addr(const char *path, const char *name)
{
	char cmd[512], line[256];
	unsigned long long addr = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nm %s", path);
	f = popen(cmd, "r");
	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		char type, sym[200];
		unsigned long long a;

		if (sscanf(line, "%llx %c %199s", &a, &type, sym) == 3 && !strcmp(sym, name))
			addr = a;
	}
	pclose(f);
	cr_assert(addr, "%s not in nm %s", name, path);
	return addr;
}

Test(gdb, breakpoint_backtrace_registers_memory_step_kill)
{
	struct session s;
	char want[64];

	session(&s, 0, "", GUEST, "",
		"-ex 'break *ping' -ex continue -ex bt -ex 'info registers rip' "
		"-ex 'x/4xb &gdb_bytes' -ex stepi -ex 'info registers rip' -ex kill",
		0);
	cr_expect(strstr(s.gdb, "socket mode 600"), "the socket is the user's only:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, "Breakpoint 1, ") && strstr(s.gdb, "ping (i="), "gdb:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, " in main (") && strstr(s.gdb, "gdbme.c:"),
		  "the backtrace shows main with its line:\n%s", s.gdb);
	snprintf(want, sizeof(want), "rip            0x%llx", nm_addr(GUEST, "ping"));
	cr_expect(strstr(s.gdb, want), "rip is ping's address (%s):\n%s", want, s.gdb);
	cr_expect(strstr(s.gdb, "0xde\t0xad\t0xbe\t0xef"), "memory reads:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, "<ping+"), "stepi moved rip into ping:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, "[Inferior 1 (Remote target) killed]"), "gdb:\n%s", s.gdb);
	cr_expect_eq(s.status, 125, "a kill ends the run as mvmm's error; stderr:\n%s", s.err);
	cr_expect(strstr(s.err, "killed by gdb"), "stderr:\n%s", s.err);
	cr_expect(strstr(s.err, "mvmm: gdb: waiting on "), "stderr:\n%s", s.err);
	t_proc_free(&s.p);
}

/*
 * ping ran once before marker; a breakpoint put on it afterwards must still hit (the
 * breakpoint's write copies the page: the guest must see the copy, not its old mapping).
 * Detaching lets the guest finish with its own status, and the image it came from keeps
 * no 0xCC: a plain run afterwards ends normally.
 */
Test(gdb, breakpoint_in_code_that_already_ran_then_detach)
{
	struct session s;
	struct t_proc p;

	session(&s, 0, "", GUEST, "",
		"-ex 'break marker' -ex continue -ex 'break ping' -ex continue -ex 'print i' "
		"-ex detach",
		0);
	cr_expect(strstr(s.gdb, "Breakpoint 1, marker ()"), "gdb:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, "Breakpoint 2, ping (i=2)"), "gdb:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, "$1 = 2"), "gdb:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, "detached"), "gdb:\n%s", s.gdb);
	cr_expect_eq(s.status, 42, "the guest's own status after a detach; stderr:\n%s", s.err);
	cr_expect(strstr(s.out, "counter 4"), "stdout:\n%s", s.out);
	t_proc_free(&s.p);

	T_MVMM(&p, LIMIT_MS, "run", GUEST);
	cr_expect_eq(p.status, 42, "the shared image kept no breakpoint; stderr:\n%s", p.err);
	t_proc_free(&p);
}

/* The CPU masks the trap flag on `syscall`: the step must still end right after it. */
Test(gdb, stepi_over_a_system_call)
{
	struct session s;
	char want[64];

	session(&s, 0, "", GUEST, "",
		"-ex 'break *gdb_syscall' -ex continue -ex stepi -ex 'info registers rip' -ex kill",
		0);
	snprintf(want, sizeof(want), "rip            0x%llx", nm_addr(GUEST, "gdb_after_syscall"));
	cr_expect(strstr(s.gdb, want), "stopped right after the syscall (%s):\n%s", want, s.gdb);
	t_proc_free(&s.p);
}

Test(gdb, continue_to_the_end_reports_the_exit_code)
{
	struct session s;

	session(&s, 0, "", GUEST, "", "-ex continue", 0);
	cr_expect(strstr(s.gdb, "exited with code 052"), "gdb:\n%s", s.gdb);
	cr_expect_eq(s.status, 42, "stderr:\n%s", s.err);
	t_proc_free(&s.p);
}

Test(gdb, on_fault_gdb_gets_the_faulting_rip)
{
	struct session s;
	const char *report, *waiting;
	unsigned long long rip = 0;
	char want[64];

	session(&s, 0, "--gdb-on-fault", GUEST, "crash",
		"-ex 'info registers rip' -ex 'x/i $pc' -ex bt -ex detach", 0);
	report = strstr(s.err, " at rip 0x");
	cr_assert(report && sscanf(report, " at rip 0x%llx", &rip) == 1, "stderr:\n%s", s.err);
	snprintf(want, sizeof(want), "rip            0x%llx", rip);
	cr_expect(strstr(s.gdb, want), "gdb sees the report's rip (%s):\n%s", want, s.gdb);
	cr_expect(strstr(s.gdb, "*nowhere = 7"), "the faulting source line:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, "<main+"), "rip in main:\n%s", s.gdb);
	report = strstr(s.err, "guest fault: page fault");
	waiting = strstr(s.err, "gdb: waiting on");
	cr_expect(report && waiting && report < waiting,
		  "the crash report comes before the waiting line:\n%s", s.err);
	cr_expect_eq(s.status, 123, "detached at a fault: the run ends with it; stderr:\n%s", s.err);
	t_proc_free(&s.p);
}

Test(gdb, on_fault_without_a_fault_runs_freely)
{
	struct t_proc p;

	T_MVMM(&p, LIMIT_MS, "run", "--gdb", "0", "--gdb-on-fault", GUEST);
	cr_expect_eq(p.status, 42, "stderr:\n%s", p.err);
	cr_expect(!strstr(p.err, "waiting"), "nobody waits for gdb:\n%s", p.err);
	t_proc_free(&p);
}

Test(gdb, ctrl_c_stops_a_running_guest)
{
	struct session s;

	session(&s, 0, "", GUEST, "spin",
		"-ex continue -ex 'set var gdb_stop = 1' -ex continue", 1.5);
	cr_expect(strstr(s.gdb, "SIGINT"), "gdb:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, "exited with code 052"), "gdb:\n%s", s.gdb);
	cr_expect_eq(s.status, 42, "stderr:\n%s", s.err);
	t_proc_free(&s.p);
}

Test(gdb, tcp_and_a_pie_with_its_load_offset)
{
	struct session s;

	session(&s, 1, "", GUEST_PIE, "", "-ex 'break ping' -ex continue -ex 'info registers rip' -ex kill",
		0);
	cr_expect(strstr(s.err, "waiting on 127.0.0.1:"), "TCP on loopback only:\n%s", s.err);
	cr_expect(strstr(s.err, "(target remote :"), "stderr:\n%s", s.err);
	cr_expect(strstr(s.gdb, "Breakpoint 1, ") && strstr(s.gdb, " in ping ()"),
		  "qOffsets relocated the PIE's symbols:\n%s", s.gdb);
	cr_expect(strstr(s.gdb, "<ping>"), "gdb:\n%s", s.gdb);
	t_proc_free(&s.p);
}

/*
 * Instance 1 is debugged; instance 0 calls ping 40 times over 2 s while instance 1's
 * breakpoint on ping stays inserted (always-inserted, a second in the stop): the byte
 * lands in instance 1's own copy of the shared image only, or instance 0 would hit it and
 * fault (#BP, status 123).
 */
Test(gdb, one_instance_of_many_and_its_breakpoints_are_its_own)
{
	struct session s;

	session(&s, 0, "--count 2 --gdb-instance 1", GUEST, "loop",
		"-ex 'set breakpoint always-inserted on' -ex 'break ping' -ex continue "
		"-ex 'print i' -ex 'shell sleep 1' -ex delete -ex detach",
		0);
	cr_expect(strstr(s.gdb, "$1 = 1"), "gdb:\n%s", s.gdb);
	cr_expect_eq(s.status, 42, "both instances end normally; stderr:\n%s", s.err);
	cr_expect(!strstr(s.err, "breakpoint"), "no #BP in the other instance:\n%s", s.err);
	t_proc_free(&s.p);
}

Test(gdb, refusals)
{
	char dir[] = "/tmp/mvmm-gdb-refuse.XXXXXX", file[64], link[64], arg[80];
	struct t_proc p;
	struct stat st;

	cr_assert(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	t_write_file(file, "keep", 4);
	cr_assert(symlink(file, link) == 0);

	snprintf(arg, sizeof(arg), "unix:%s", file);
	T_MVMM(&p, LIMIT_MS, "run", "--gdb", arg, GUEST);
	cr_expect_eq(p.status, 125, "a file in the way; stderr:\n%s", p.err);
	cr_expect(strstr(p.err, "not replaced"), "stderr:\n%s", p.err);
	t_proc_free(&p);
	cr_expect(stat(file, &st) == 0 && st.st_size == 4, "the file is untouched");

	snprintf(arg, sizeof(arg), "unix:%s", link);
	T_MVMM(&p, LIMIT_MS, "run", "--gdb", arg, GUEST);
	cr_expect_eq(p.status, 125, "a symlink in the way; stderr:\n%s", p.err);
	t_proc_free(&p);
	cr_expect(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the symlink is untouched");

	T_MVMM(&p, LIMIT_MS, "run", "--gdb", "0", "--count", "2", "--gdb-instance", "2", GUEST);
	cr_expect_eq(p.status, 125, "no such instance; stderr:\n%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--gdb-on-fault", GUEST);
	cr_expect_eq(p.status, 125, "--gdb-on-fault alone; stderr:\n%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--gdb", "70000", GUEST);
	cr_expect_eq(p.status, 125, "no such port; stderr:\n%s", p.err);
	t_proc_free(&p);
	T_MVMM(&p, LIMIT_MS, "run", "--gdb", "0", "--template", GUEST);
	cr_expect_eq(p.status, 125, "not with --template; stderr:\n%s", p.err);
	t_proc_free(&p);

	unlink(link);
	unlink(file);
	rmdir(dir);
}

Test(gdb, waiting_for_gdb_is_bounded_by_the_timeout)
{
	struct t_proc p;

	T_MVMM(&p, LIMIT_MS, "run", "--gdb", "0", "--timeout", "1", GUEST);
	cr_expect_eq(p.status, 124, "stderr:\n%s", p.err);
	cr_expect(p.secs < 30, "took %.1f s", p.secs);
	t_proc_free(&p);
}
