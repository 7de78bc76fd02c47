#!/usr/bin/env bash
# bench/linux.sh: unmodified static Linux programs under mvmm against the same programs natively.
#
#   make bench-linux
#   RUNS=100 COUNT=2000 make bench-linux
#
# Every comparison is made within this one run, the commands interleaved
# round-robin (round r starts with command r mod k) so machine noise hits
# them alike; each figure is the median over its rounds.
#  1. start-up, whole process (build/bench/spawn_time, RUNS rounds, 2 warm-up):
#     `mvmm run` of a static musl hello (bench/linux_progs/hello.c) and of
#     `busybox echo hi`, against the same binaries natively and against
#     `mvmm run build/guest/hello.elf` (the SDK hello: mvmm-cc, musl).
#  2. system-call round trip (SYS_RUNS rounds): bench/linux_progs/getppid.c
#     calls syscall(SYS_getppid) CALLS times and times the loop with
#     clock_gettime inside the guest (two more calls over CALLS, left in);
#     against the raw exit round trip (build/bench/exit_floor: a CPL3 `out`
#     loop, the host answering with KVM_RUN only), the raw floor of mvmm's
#     design (exit_floor -s: `syscall` to an `out` page, sysret emulated
#     through kvm_run's synced registers) and the same program natively.
#     When the guest cannot read its clock yet, mvmm's figure is the
#     whole-process difference (mvmm run getppid CALLS - mvmm run getppid 0)
#     / CALLS, taken per round; it is reported beside the in-guest figure
#     in any case.
#  3. density (DENSITY_RUNS rounds): COUNT held `busybox sh` under
#     `mvmm run --count COUNT --hold --stats=json` (held at the first read of
#     the empty stdin) against COUNT host `busybox sh` blocked reading a pipe
#     (build/bench/host_hold: start time, summed PSS from smaps_rollup plus
#     the kernel's growth, the keys mvmm's --stats counts).
#  4. output (OUTPUT_RUNS rounds): bench/linux_progs/lines.c prints LINES
#     "line %d\n" lines with printf to a file and into a pipe read by wc -l
#     (the count is checked), under mvmm and natively.
#  5. clones through `--template --ready-on=stdin`, only when mvmm's help
#     lists --ready-on (else reported as not available): build/bench/linux_clone
#     sends CLONES requests through the library to a `busybox sh` template
#     frozen at its first read of stdin and to an SDK template (ready.elf,
#     frozen at mvmm_ready()), interleaved: request to the clone's first exit,
#     p50/p90/p99, and the whole clone run; then the command, whole process:
#     `--template --ready-on=stdin --count COUNT busybox cat` against
#     `--count COUNT busybox cat` (fresh instances).
# Outputs: build/bench/linux.csv (part,figure,mvmm,baseline,baseline_value,
#          unit,ratio,target,verdict: one row per figure and baseline),
#          build/bench/linux-runs.csv (part,name,run,value,unit: every run),
#          build/bench/linux-info.txt.
# Environment: BUILD (build), RUNS (50), SYS_RUNS (11), CALLS (20000),
# COUNT (1000), DENSITY_RUNS (3), LINES (1000000), OUTPUT_RUNS (5), CLONES (1000),
# BUSYBOX (/bin/busybox, a static one), STRICT=1 to exit 1 when a target is
# missed.  Every command runs under timeout(1) in its own process group,
# which the exit trap kills if the script is stopped.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/report.sh
REPORT_FIG_W=34 REPORT_BASE_W=22
BUILD=${BUILD:-build}
RUNS=${RUNS:-50}
SYS_RUNS=${SYS_RUNS:-11}
CALLS=${CALLS:-20000}
COUNT=${COUNT:-1000}
DENSITY_RUNS=${DENSITY_RUNS:-3}
LINES=${LINES:-1000000}
OUTPUT_RUNS=${OUTPUT_RUNS:-5}
CLONES=${CLONES:-1000}
BUSYBOX=${BUSYBOX:-/bin/busybox}
OUT=$BUILD/bench
MVMM=$BUILD/mvmm
SDK_HELLO=$BUILD/guest/hello.elf
SDK_READY=$BUILD/guest/ready.elf
CSV=$OUT/linux.csv
RUNS_CSV=$OUT/linux-runs.csv
INFO=$OUT/linux-info.txt
START_S=$SECONDS

die() { echo "bench/linux.sh: $*" >&2; exit 1; }
say() { echo "bench/linux.sh: $*" >&2; }

for v in RUNS SYS_RUNS CALLS COUNT DENSITY_RUNS LINES OUTPUT_RUNS CLONES; do
	[[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 1 ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ -e /dev/kvm ]] || die "/dev/kvm does not exist: this benchmark needs KVM"
[[ -r /dev/kvm && -w /dev/kvm ]] || die "/dev/kvm is not readable and writable by $(id -un)"
command -v timeout >/dev/null || die "timeout (coreutils) is missing"
[[ -x $MVMM ]] || die "$MVMM is missing: run 'make bench-linux' (or 'make $MVMM')"
[[ -f $SDK_HELLO ]] || die "$SDK_HELLO is missing: run 'make $SDK_HELLO'"
for f in spawn_time exit_floor host_hold linux_hello linux_getppid linux_lines; do
	[[ -x $OUT/$f ]] || die "$OUT/$f is missing: run 'make bench-linux'"
done
[[ -x $BUSYBOX ]] || die "$BUSYBOX is missing: install busybox-static"
mkdir -p "$OUT"

# --- clean-up: the command in flight (its own process group, by timeout(1)) and scratch files ---
TMP=$(mktemp -d "$OUT/linux.tmp.XXXXXX")
CUR=""
cleanup() {
	local st=$?
	trap - EXIT INT TERM
	if [[ -n $CUR ]]; then
		kill -TERM -- "-$CUR" 2>/dev/null || kill -TERM "$CUR" 2>/dev/null || true
		sleep 1
		kill -KILL -- "-$CUR" 2>/dev/null || true
		wait "$CUR" 2>/dev/null || true
	fi
	rm -rf "$TMP" "$CSV.tmp"
	exit "$st"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# now_us: wall clock in microseconds (bash's EPOCHREALTIME).
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }

nruns() { awk -F, -v p="$1" -v n="$2" '$1 == p && $2 == n && $4 != "NA"' "$RUNS_CSV" | wc -l; }

echo "part,name,run,value,unit" >"$RUNS_CSV"
echo "part,figure,mvmm,baseline,baseline_value,unit,ratio,target,verdict" >"$CSV.tmp"

# Does the command print what it should? (before any timing)
expect() { # WANT CMD...
	local want=$1 st=0
	shift
	bounded 60 "$TMP/x.out" "$TMP/x.err" "$@" || st=$?
	[[ $st == 0 ]] || die "'$*' failed (status $st): $(head -c 2000 "$TMP/x.err")"
	grep -qF -- "$want" "$TMP/x.out" || die "'$*' did not print '$want'; it printed: $(head -c 500 "$TMP/x.out")"
}
# Both spellings: `mvmm run --help` may be a usage error that points at `mvmm --help`.
HELP=$({ "$MVMM" --help 2>&1 || true; "$MVMM" run --help 2>&1 || true; })
expect "hello" "$MVMM" run "$OUT/linux_hello"
expect "hi" "$MVMM" run "$BUSYBOX" echo hi
expect "Hello from mvmm guest" "$MVMM" run "$SDK_HELLO"
expect "hello" "$OUT/linux_hello"
expect "ns_per_exit=" "$OUT/exit_floor" 1000

{
	echo "date: $(date -u +%FT%TZ)  host: $(uname -srm)  cpus: $(nproc)  kvm: $([[ -d /sys/module/kvm_pvm ]] && echo PVM || echo hardware)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "mvmm: $MVMM ($(git log -1 --format=%h 2>/dev/null || echo '?')$(git diff --quiet HEAD -- vmm 2>/dev/null || echo ', vmm/ modified'))"
	echo "busybox: $BUSYBOX ($($BUSYBOX 2>&1 | head -1))"
	echo "musl-gcc: $(command -v musl-gcc || echo none)"
	echo "rounds: start-up $RUNS, system calls $SYS_RUNS x $CALLS calls, density $DENSITY_RUNS x $COUNT, output $OUTPUT_RUNS x $LINES lines"
} >"$INFO"

# --- 1. start-up -------------------------------------------------------------
say "1/5 start-up: $RUNS rounds of 5 commands"
st=0
bounded 1800 "$TMP/startup.csv" "$TMP/startup.err" "$OUT/spawn_time" -w 2 "$RUNS" \
	mvmm_musl_hello 0 "$MVMM" run "$OUT/linux_hello" -- \
	native_musl_hello 0 "$OUT/linux_hello" -- \
	mvmm_busybox_echo 0 "$MVMM" run "$BUSYBOX" echo hi -- \
	native_busybox_echo 0 "$BUSYBOX" echo hi -- \
	mvmm_sdk_hello 0 "$MVMM" run "$SDK_HELLO" || st=$?
[[ $st == 0 ]] || die "start-up timing failed (status $st): $(head -c 3000 "$TMP/startup.err")"
awk -F, 'NR > 1 { printf "startup,%s,%s,%.1f,us\n", $1, $2, $3 }' "$TMP/startup.csv" >>"$RUNS_CSV"

# --- 2. system-call round trip ---------------------------------------------------
say "2/5 system calls: $SYS_RUNS rounds of $CALLS getppid (mvmm, raw exit floors, native)"
sys_names=(mvmm_getppid mvmm_getppid0 exit_floor exit_floor_sys native_getppid)
sys_cmd() { # NAME: sets CMD
	case $1 in
	mvmm_getppid) CMD=("$MVMM" run "$OUT/linux_getppid" "$CALLS") ;;
	mvmm_getppid0) CMD=("$MVMM" run "$OUT/linux_getppid" 0) ;;
	exit_floor) CMD=("$OUT/exit_floor" "$CALLS") ;;
	exit_floor_sys) CMD=("$OUT/exit_floor" -s "$CALLS") ;;
	native_getppid) CMD=("$OUT/linux_getppid" "$CALLS") ;;
	esac
}
sys_floor_why=""
for ((r = -1; r < SYS_RUNS; r++)); do # round -1: warm-up, not recorded
	k=${#sys_names[@]}
	for ((j = 0; j < k; j++)); do
		name=${sys_names[((r + 1 + j) % k)]}
		[[ $name == exit_floor_sys && -n $sys_floor_why ]] && continue
		sys_cmd "$name"
		st=0
		t0=$(now_us)
		bounded 300 "$TMP/s.out" "$TMP/s.err" "${CMD[@]}" || st=$?
		t1=$(now_us)
		if [[ $st != 0 ]]; then
			if [[ $name == exit_floor_sys ]]; then
				sys_floor_why=$(head -c 300 "$TMP/s.err" | tr '\n' ' ')
				say "note: exit_floor -s unavailable: $sys_floor_why"
				continue
			fi
			die "'${CMD[*]}' failed (status $st): $(head -c 2000 "$TMP/s.err")"
		fi
		((r >= 0)) || continue
		record syscall "${name}_wall" "$r" "$((t1 - t0))" us
		case $name in
		mvmm_getppid | native_getppid)
			v=$(sed -n 's/.*ns_per_call=\([^ ]*\).*/\1/p' "$TMP/s.out")
			record syscall "${name}_clock" "$r" "${v:-NA}" ns ;;
		exit_floor | exit_floor_sys)
			v=$(sed -n 's/.*ns_per_exit=\([^ ]*\).*/\1/p' "$TMP/s.out")
			record syscall "$name" "$r" "${v:-NA}" ns ;;
		esac
	done
	# The whole-process difference, within the round.
	if ((r >= 0)); then
		a=$(awk -F, -v r="$r" '$1 == "syscall" && $2 == "mvmm_getppid_wall" && $3 == r { print $4 }' "$RUNS_CSV")
		b=$(awk -F, -v r="$r" '$1 == "syscall" && $2 == "mvmm_getppid0_wall" && $3 == r { print $4 }' "$RUNS_CSV")
		record syscall mvmm_getppid_diff "$r" "$(awk -v a="$a" -v b="$b" -v n="$CALLS" 'BEGIN { printf "%.1f", (a - b) * 1000 / n }')" ns
	fi
done

# --- 3. density ------------------------------------------------------------------
say "3/5 density: $DENSITY_RUNS rounds of $COUNT held busybox sh (mvmm, host processes)"
HOLD_NOTE=""
[[ $HELP == *--hold* ]] || HOLD_NOTE="mvmm --help does not list --hold"
for ((r = 0; r < DENSITY_RUNS; r++)); do
	for ((j = 0; j < 2; j++)); do
		if (((r + j) % 2 == 0)); then
			st=0
			t0=$(now_us)
			bounded 900 "$TMP/d.out" "$TMP/d.err" "$MVMM" run --count "$COUNT" --hold --stats=json "$BUSYBOX" sh || st=$?
			t1=$(now_us)
			summary=$(grep '"summary":true' "$TMP/d.err" | tail -n 1 || true)
			if [[ -z $summary ]]; then
				HOLD_NOTE="mvmm run --count $COUNT --hold failed (status $st): $(grep -v 'is not supported' "$TMP/d.err" | head -c 300 | tr '\n' ' ')"
				say "note: $HOLD_NOTE"
				continue
			fi
			[[ $st == 0 ]] || say "note: mvmm --count $COUNT --hold exited with status $st"
			if [[ $(field held "$summary") != true ]]; then
				HOLD_NOTE="--hold did not hold every busybox sh (\"held\":$(field held "$summary")); memory figures are at exit, not while held"
				say "note: $HOLD_NOTE"
			fi
			record density mvmm_start_all_ms "$r" "$(field start_all_ms "$summary")" ms
			record density mvmm_wall_ms "$r" "$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1000 }')" ms
			record density mvmm_kib_per_instance "$r" "$(field host_kib_per_instance "$summary")" KiB
			record density mvmm_pss_kib_per_instance "$r" "$(awk -v p="$(field pss_kib "$summary")" -v n="$COUNT" 'BEGIN { printf "%.1f", p / n }')" KiB
			record density mvmm_kernel_kib_per_instance "$r" "$(awk -v p="$(field kernel_growth_kib "$summary")" -v n="$COUNT" 'BEGIN { printf "%.1f", p / n }')" KiB
			HUGE=$(field huge_pages "$summary")
		else
			st=0
			t0=$(now_us)
			bounded 900 "$TMP/h.out" "$TMP/h.err" "$OUT/host_hold" -t 600 "$COUNT" "$BUSYBOX" sh || st=$?
			t1=$(now_us)
			[[ $st == 0 ]] || die "host_hold $COUNT $BUSYBOX sh failed (status $st): $(head -c 2000 "$TMP/h.err")"
			h=$(cat "$TMP/h.out")
			record density host_start_all_ms "$r" "$(field start_all_ms "$h")" ms
			record density host_wall_ms "$r" "$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1000 }')" ms
			record density host_kib_per_instance "$r" "$(field host_kib_per_instance "$h")" KiB
			record density host_pss_kib_per_instance "$r" "$(awk -v p="$(field pss_kib "$h")" -v n="$COUNT" 'BEGIN { printf "%.1f", p / n }')" KiB
			record density host_kernel_kib_per_instance "$r" "$(awk -v p="$(field kernel_growth_kib "$h")" -v n="$COUNT" 'BEGIN { printf "%.1f", p / n }')" KiB
		fi
	done
done

# --- 4. output -------------------------------------------------------------------
say "4/5 output: $OUTPUT_RUNS rounds of $LINES lines to a file and a pipe (mvmm, native)"
out_names=(mvmm_file native_file mvmm_pipe native_pipe)
for ((r = -1; r < OUTPUT_RUNS; r++)); do # round -1: warm-up
	k=${#out_names[@]}
	for ((j = 0; j < k; j++)); do
		name=${out_names[((r + 1 + j) % k)]}
		prog=("$OUT/linux_lines" "$LINES")
		[[ $name == mvmm_* ]] && prog=("$MVMM" run "${prog[@]}")
		rm -f "$TMP/lines.txt"
		st=0
		t0=$(now_us)
		if [[ $name == *_file ]]; then
			bounded 600 "$TMP/lines.txt" "$TMP/o.err" "${prog[@]}" || st=$?
		else
			bounded 600 "$TMP/lines.count" "$TMP/o.err" bash -c 'set -o pipefail; "$@" | wc -l' _ "${prog[@]}" || st=$?
		fi
		t1=$(now_us)
		[[ $st == 0 ]] || die "output run $name failed (status $st): $(head -c 2000 "$TMP/o.err")"
		if [[ $name == *_file ]]; then
			got=$(wc -l <"$TMP/lines.txt")
		else
			got=$(tr -d ' \n' <"$TMP/lines.count")
		fi
		[[ $got == "$LINES" ]] || die "output run $name produced $got lines, not $LINES"
		if ((r >= 0)); then
			record output "$name" "$r" "$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.4f", d / 1e6 }')" s
		fi
	done
done
rm -f "$TMP/lines.txt"

# --- 5. clones ---------------------------------------------------------------------
CLONE_LINE=""
if [[ $HELP != *--ready-on* ]]; then
	CLONE_LINE="clone benchmark: --ready-on=stdin not available yet"
	say "5/5 clones: $CLONE_LINE"
else
	say "5/5 clones: $CLONES requests to a busybox sh template and to an SDK one; $COUNT clones through the command"
	[[ -x $OUT/linux_clone && -f $SDK_READY ]] || die "$OUT/linux_clone or $SDK_READY is missing: run 'make bench-linux'"
	# Request to first system call, through the library (what --ready-on=stdin does), and the SDK baseline.
	st=0
	bounded 900 "$TMP/c.out" "$TMP/c.err" "$OUT/linux_clone" "$CLONES" "$BUSYBOX" "$SDK_READY" || st=$?
	[[ $st == 0 ]] || die "linux_clone failed (status $st): $(head -c 2000 "$TMP/c.err")"
	while read -r name p50 p90 p99 run50; do
		record clone "${name}_first_p50" 0 "$p50" us
		record clone "${name}_first_p90" 0 "$p90" us
		record clone "${name}_first_p99" 0 "$p99" us
		record clone "${name}_run_p50" 0 "$run50" us
	done <"$TMP/c.out"
	# The command: COUNT clones of `busybox cat` (each reads its request, "cat", and prints it)
	# against COUNT fresh instances of it reading end of file, whole process.
	for ((r = 0; r < 2; r++)); do
		for j in 0 1; do
			if (((r + j) % 2 == 0)); then
				name=cli_template CMD=("$MVMM" run --template --ready-on=stdin --count "$COUNT" "$BUSYBOX" cat)
			else
				name=cli_fresh CMD=("$MVMM" run --count "$COUNT" "$BUSYBOX" cat)
			fi
			st=0
			t0=$(now_us)
			bounded 900 "$TMP/c.out" "$TMP/c.err" "${CMD[@]}" || st=$?
			t1=$(now_us)
			[[ $st == 0 ]] || die "'${CMD[*]}' failed (status $st): $(grep -v 'is not supported' "$TMP/c.err" | head -c 2000)"
			if [[ $name == cli_template ]]; then
				got=$(grep -c '^\[[0-9]*\] cat$' "$TMP/c.out" || true)
				[[ $got == "$COUNT" ]] || die "$COUNT clones of busybox cat printed $got request lines"
			fi
			record clone "${name}_ms" "$r" "$(awk -v d=$((t1 - t0)) 'BEGIN { printf "%.1f", d / 1000 }')" ms
		done
	done
fi

# --- report --------------------------------------------------------------------------
fails=0

echo
echo "Linux programs under mvmm ($(head -1 "$INFO"))"

hdr "1. Start-up, whole process (spawn to waitpid), median of $RUNS"
mh=$(ms "$(med startup mvmm_musl_hello)") nh=$(ms "$(med startup native_musl_hello)")
mb=$(ms "$(med startup mvmm_busybox_echo)") nb=$(ms "$(med startup native_busybox_echo)")
sh=$(ms "$(med startup mvmm_sdk_hello)")
row startup "musl hello" "$mh" "native" "$nh" ms "<= 2.5 ms" "m <= 2.5" 3
row startup "musl hello" "$mh" "SDK hello.elf (mvmm)" "$sh" ms "" "" 3
row startup "busybox echo hi" "$mb" "native" "$nb" ms "" "" 3
row startup "busybox echo hi" "$mb" "SDK hello.elf (mvmm)" "$sh" ms "" "" 3

hdr "2. System-call round trip, getppid x $CALLS, median of $SYS_RUNS"
mclk=$(med syscall mvmm_getppid_clock) mdiff=$(med syscall mvmm_getppid_diff)
fl=$(med syscall exit_floor) fls=$(med syscall exit_floor_sys) nat=$(med syscall native_getppid_clock)
if [[ $(nruns syscall mvmm_getppid_clock) == "$SYS_RUNS" ]]; then
	msys=$mclk mhow="timed in the guest with clock_gettime"
else
	msys=$mdiff mhow="the whole-process difference: clock_gettime failed in the guest"
fi
row syscall "mvmm getppid" "$msys" "raw exit: out + KVM_RUN" "$fl" ns "<= 1.2x raw exit" "r <= 1.2" 0
if [[ -z $sys_floor_why ]]; then
	row syscall "mvmm getppid" "$msys" "raw syscall->out exit" "$fls" ns "" "" 0
fi
row syscall "mvmm getppid" "$msys" "native getppid" "$nat" ns "" "" 0
row syscall "  whole-process difference" "$mdiff" "raw exit: out + KVM_RUN" "$fl" ns "" "" 0
echo "  (mvmm getppid: $mhow; the whole-process difference is"
echo "   (mvmm run getppid $CALLS - mvmm run getppid 0) / $CALLS, per round; native: timed in the program)"
[[ -n $sys_floor_why ]] && echo "  (raw syscall->out floor unavailable: $sys_floor_why)"

hdr "3. Density: $COUNT held busybox sh, median of $DENSITY_RUNS"
if [[ $(nruns density mvmm_start_all_ms) -gt 0 ]]; then
	row density "start and hold all (mvmm's clock)" "$(med density mvmm_start_all_ms)" "host: all blocked" "$(med density host_start_all_ms)" ms "" "" 1
	row density "whole process (start to exit)" "$(med density mvmm_wall_ms)" "host_hold process" "$(med density host_wall_ms)" ms "" "" 1
	row density "host memory per instance" "$(med density mvmm_kib_per_instance)" "per host process" "$(med density host_kib_per_instance)" KiB "" "" 1
	row density "  of which PSS" "$(med density mvmm_pss_kib_per_instance)" "PSS" "$(med density host_pss_kib_per_instance)" KiB "" "" 1
	row density "  of which kernel growth" "$(med density mvmm_kernel_kib_per_instance)" "kernel growth" "$(med density host_kernel_kib_per_instance)" KiB "" "" 1
	echo "  (mvmm: (PSS + kernel growth) / N from --stats=json while held, guest pages backed by ${HUGE:-?}; host: the same keys for N processes)"
else
	row density "start and hold all" NA "host: all blocked" "$(med density host_start_all_ms)" ms "" "" 1
	row density "host memory per instance" NA "per host process" "$(med density host_kib_per_instance)" KiB "" "" 1
fi
[[ -n $HOLD_NOTE ]] && echo "  note: $HOLD_NOTE"

hdr "4. Output: $LINES lines with printf, median of $OUTPUT_RUNS"
row output "to a file" "$(med output mvmm_file)" "native" "$(med output native_file)" s "within 2x" "r <= 2" 3
row output "into a pipe (| wc -l)" "$(med output mvmm_pipe)" "native" "$(med output native_pipe)" s "within 2x" "r <= 2" 3

if [[ -n $CLONE_LINE ]]; then
	echo
	echo "5. $CLONE_LINE"
	echo "clone,ready_on_stdin,NA,,,,,,unavailable" >>"$CSV.tmp"
else
	hdr "5. Clones: busybox sh template at its first read of stdin (--ready-on=stdin), $CLONES requests"
	row clone "request to 1st syscall p50" "$(med clone linux_first_p50)" "SDK clone 1st hypercall" "$(med clone sdk_first_p50)" us "" "" 1
	row clone "request to 1st syscall p90" "$(med clone linux_first_p90)" "SDK clone 1st hypercall" "$(med clone sdk_first_p90)" us "" "" 1
	row clone "request to 1st syscall p99" "$(med clone linux_first_p99)" "SDK clone 1st hypercall" "$(med clone sdk_first_p99)" us "" "" 1
	row clone "whole clone run p50 (echo hi)" "$(med clone linux_run_p50)" "SDK ready.elf clone" "$(med clone sdk_run_p50)" us "" "" 1
	row clone "$COUNT clones: mvmm run total" "$(med clone cli_template_ms)" "$COUNT fresh instances" "$(med clone cli_fresh_ms)" ms "" "" 1
	echo "  (library: mvmm_run's first_hypercall_ns, ~1 ms between requests; command: --template --ready-on=stdin"
	echo "   --count $COUNT busybox cat, each clone reading its request, against --count $COUNT busybox cat, median of 2)"
fi
mv "$CSV.tmp" "$CSV"

elapsed=$((SECONDS - START_S))
echo "whole run: ${elapsed} s" | tee -a "$INFO"
echo "Files: $CSV $RUNS_CSV $INFO"
if [[ ${STRICT:-0} == 1 && $fails -gt 0 ]]; then
	exit 1
fi
exit 0
