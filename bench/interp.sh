#!/usr/bin/env bash
# bench/interp.sh: Debian's dynamically linked lua5.4 and python3 under mvmm against the same
# interpreters as host processes.
#
#   make bench-interp
#   RUNS=500 PY_COUNT=2000 STRICT=1 make bench-interp
#
# Every comparison is made within this one run, the commands interleaved
# round-robin (round r starts with command r mod k) so machine noise hits
# them alike; each figure is the median (p50) over its runs.
#  1. Lua print(1+1) in a clone of a lua5.4 template frozen at its first read
#     of stdin (the script is the clone's stdin):
#     in-process: build/bench/interp_clone, RUNS requests through the library
#       (mvmm_template_new freezes a program without mvmm_ready() at its first
#       read of stdin; mvmm_run with the code as input), the whole mvmm_run call
#       p50/p90/p99, target p50 <= 0.4 ms;
#     `mvmm launch --socket S 'print(1+1)'` against `mvmm serve --ready-on=stdin
#       lua5.4 -` (the whole client process, build/bench/spawn_time), target <= 1.5 ms;
#     baseline: `lua5.4 -e 'print(1+1)'` as a host process (whole process).
#  2. Python print(sum(range(1000))) through `mvmm launch` against `mvmm serve
#     --ready-on=stdin --dir PYLIB python3 -c 'import sys; exec(sys.stdin.read())'`
#     (whole client process), target <= 2 ms; baselines: `python3 -c` as a host
#     process, and a fork server: a host python3 zygote (bench/interp_progs/
#     forkserver.py serve) forking a child per connection that execs the code
#     with its stdout on the socket, timed as its whole C client process
#     (bench/interp_progs/fs_client.c). For information, launch against a
#     second template, `... exec(sys.stdin.read()); sys.stdout.flush(); os._exit(0)`,
#     which skips finalization as the fork server's child does. Parts 1 and 2
#     are one spawn_time run of their six commands (RUNS rounds, WARMUP first);
#     spawn_time discards output, so a second interleaved pass of RUNS rounds
#     checks that every command prints 2 / 499500.
#  3. Memory (MEM_RUNS rounds of four, rotated): PY_COUNT python3 held on an empty stdin:
#     `mvmm run --count N --hold --stats=json --dir PYLIB python3 -c 'import sys;
#     sys.stdin.read()'` (fresh instances) and `mvmm run --template
#     --ready-on=stdin --count N --hold ... python3` (clones of a template frozen
#     at its first read of stdin, python3 without ARGS reading its script there:
#     a clone reads ARGS as its stdin, here none), host_kib_per_instance ((PSS +
#     kernel growth) / N while held), target <= 2048 KiB. A form counts only if all
#     were held: the sum of the instances' private_kib (taken at the hold, or at
#     exit for one not held) must be within the process's PSS while held (+10%);
#     else it is reported as not held. Baselines:
#     N children forked by one python3 zygote blocked on a pipe
#     (bench/interp_progs/fork_hold.py) and N independent python3 -c ... blocked
#     reading a pipe (build/bench/host_hold), the same keys.
#  4. Compute (CRUNS rounds, whole process, spawn_time): Lua fib(32)
#     (bench/interp_progs/fib.lua) and a Python loop (bench/interp_progs/loop.py)
#     under `mvmm run` against the host interpreter, target ratio <= 1.1.
# Outputs: build/bench/interp.csv (part,figure,mvmm,baseline,baseline_value,unit,
#          ratio,target,verdict), build/bench/interp-runs.csv (part,name,run,value,unit),
#          build/bench/interp-info.txt.
# Environment: BUILD (build), RUNS (200), WARMUP (5), PY_COUNT (1000), MEM_RUNS (3),
# CRUNS (5), LUA (/usr/bin/lua5.4), PYTHON (/usr/bin/python3), PYLIB (its stdlib
# directory), STRICT=1 to exit 1 when a target is missed. Every command runs under
# timeout(1) in its own process group, which the exit trap kills (servers too).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
source bench/report.sh
BUILD=${BUILD:-build}
RUNS=${RUNS:-200}
WARMUP=${WARMUP:-5}
PY_COUNT=${PY_COUNT:-1000}
MEM_RUNS=${MEM_RUNS:-3}
CRUNS=${CRUNS:-5}
LUA=${LUA:-/usr/bin/lua5.4}
PYTHON=${PYTHON:-/usr/bin/python3}
OUT=$BUILD/bench
MVMM=$BUILD/mvmm
PROGS=bench/interp_progs
CSV=$OUT/interp.csv
RUNS_CSV=$OUT/interp-runs.csv
INFO=$OUT/interp-info.txt
START_S=$SECONDS

say() { echo "bench/interp.sh: $*" >&2; }
die() { say "$*"; exit 1; }

for v in RUNS WARMUP PY_COUNT MEM_RUNS CRUNS; do
	[[ ${!v} =~ ^[0-9]+$ && (${!v} -ge 1 || $v == WARMUP) ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ -r /dev/kvm && -w /dev/kvm ]] || die "/dev/kvm is missing or not readable and writable by $(id -un)"
command -v timeout >/dev/null || die "timeout (coreutils) is missing"
[[ -x $LUA ]] || die "$LUA is missing: install lua5.4"
[[ -x $PYTHON ]] || die "$PYTHON is missing: install python3"
PYLIB=${PYLIB:-$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')}
[[ -d $PYLIB ]] || die "PYLIB=$PYLIB is not a directory"
for f in "$MVMM" "$OUT/spawn_time" "$OUT/host_hold" "$OUT/interp_clone" "$OUT/interp_fs_client"; do
	[[ -x $f ]] || die "$f is missing: run 'make bench-interp'"
done

# --- clean-up: the command in flight and the servers (each its own process group, by timeout(1)) ---
TMP=$(mktemp -d "$OUT/interp.tmp.XXXXXX")
CUR="" SERVERS=()
killgrp() { kill -TERM -- "-$1" 2>/dev/null || kill -TERM "$1" 2>/dev/null || true; }
cleanup() {
	local st=$? p
	trap - EXIT INT TERM
	for p in $CUR "${SERVERS[@]}"; do killgrp "$p"; done
	if [[ -n $CUR || ${#SERVERS[@]} -gt 0 ]]; then
		sleep 1
		for p in $CUR "${SERVERS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	fi
	rm -rf "$TMP" "$CSV.tmp"
	exit "$st"
}
trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM

# serve SOCKET LOG CMD...: a server in the background (bounded by an hour), until SOCKET exists.
serve() {
	local sock=$1 log=$2 i
	shift 2
	timeout -k 5 3600 "$@" </dev/null >/dev/null 2>"$log" &
	SERVERS+=($!)
	for ((i = 0; i < 600; i++)); do
		[[ -S $sock ]] && return 0
		kill -0 "${SERVERS[-1]}" 2>/dev/null || break
		sleep 0.05
	done
	die "'$*' did not listen on $sock: $(head -c 2000 "$log")"
}


echo "part,name,run,value,unit" >"$RUNS_CSV"
echo "part,figure,mvmm,baseline,baseline_value,unit,ratio,target,verdict" >"$CSV.tmp"

# expect WANT CMD...: CMD must exit 0 and print exactly WANT (one line).
expect() {
	local want=$1 st=0
	shift
	bounded 120 "$TMP/x.out" "$TMP/x.err" "$@" || st=$?
	[[ $st == 0 ]] || die "'$*' failed (status $st): $(head -c 2000 "$TMP/x.err")"
	[[ $(cat "$TMP/x.out") == "$want" ]] || die "'$*' printed '$(head -c 300 "$TMP/x.out")', not '$want'"
}

LUA_CODE='print(1+1)' PY_CODE='print(sum(range(1000)))' PY_WANT=499500
LUA_SOCK=$TMP/lua.sock PY_SOCK=$TMP/py.sock PYX_SOCK=$TMP/pyx.sock FS_SOCK=$TMP/fs.sock
{
	echo "date: $(date -u +%FT%TZ)  host: $(uname -srm)  cpus: $(nproc)  load: $(cut -d' ' -f1-3 /proc/loadavg)"
	echo "mvmm: $MVMM ($(git log -1 --format=%h 2>/dev/null || echo '?')$(git diff --quiet HEAD -- vmm 2>/dev/null || echo ', vmm/ modified'))"
	echo "lua: $LUA ($("$LUA" -v 2>&1 | head -1))  python: $PYTHON ($("$PYTHON" -V 2>&1)), PYLIB $PYLIB"
	echo "rounds: launch $RUNS (+$WARMUP warm-up), memory $MEM_RUNS x $PY_COUNT, compute $CRUNS"
} >"$INFO"

# --- 1 and 2. print in a clone: in-process, launch/serve, fork server, host processes ---
say "1-2/4 servers: mvmm serve (lua5.4, python3), the python3 fork server"
serve "$LUA_SOCK" "$TMP/lua_serve.err" "$MVMM" serve --socket "$LUA_SOCK" --ready-on=stdin "$LUA" -
serve "$PY_SOCK" "$TMP/py_serve.err" "$MVMM" serve --socket "$PY_SOCK" --ready-on=stdin --dir "$PYLIB" \
	"$PYTHON" -c 'import sys; exec(sys.stdin.read())'
serve "$PYX_SOCK" "$TMP/pyx_serve.err" "$MVMM" serve --socket "$PYX_SOCK" --ready-on=stdin --dir "$PYLIB" \
	"$PYTHON" -c 'import os, sys; exec(sys.stdin.read()); sys.stdout.flush(); os._exit(0)'
serve "$FS_SOCK" "$TMP/fs.err" "$PYTHON" "$PROGS/forkserver.py" serve "$FS_SOCK"
names=(lua_launch host_lua py_launch host_python fork_client py_launch_exit)
cmd() { # NAME: sets CMD and WANT
	case $1 in
	lua_launch) CMD=("$MVMM" launch --socket "$LUA_SOCK" "$LUA_CODE") WANT=2 ;;
	host_lua) CMD=("$LUA" -e "$LUA_CODE") WANT=2 ;;
	py_launch) CMD=("$MVMM" launch --socket "$PY_SOCK" "$PY_CODE") WANT=$PY_WANT ;;
	host_python) CMD=("$PYTHON" -c "$PY_CODE") WANT=$PY_WANT ;;
	fork_client) CMD=("$OUT/interp_fs_client" "$FS_SOCK" "$PY_CODE") WANT=$PY_WANT ;;
	py_launch_exit) CMD=("$MVMM" launch --socket "$PYX_SOCK" "$PY_CODE") WANT=$PY_WANT ;;
	esac
}
spawn_args=()
for n in "${names[@]}"; do
	cmd "$n"
	expect "$WANT" "${CMD[@]}"
	spawn_args+=(${spawn_args[0]+:::} "$n" 0 "${CMD[@]}")
done
say "1-2/4 launch: $RUNS rounds of ${#names[@]} commands (whole processes)"
st=0
bounded 3600 "$TMP/spawn.csv" "$TMP/spawn.err" "$OUT/spawn_time" -w "$WARMUP" -s ::: "$RUNS" "${spawn_args[@]}" || st=$?
[[ $st == 0 ]] || die "spawn_time failed (status $st): $(head -c 3000 "$TMP/spawn.err")"
awk -F, 'NR > 1 { printf "launch,%s,%s,%.1f,us\n", $1, $2, $3 }' "$TMP/spawn.csv" >>"$RUNS_CSV"
say "1-2/4 checking the output of $RUNS more rounds"
for ((r = 0; r < RUNS; r++)); do
	for ((j = 0; j < ${#names[@]}; j++)); do
		cmd "${names[((r + j) % ${#names[@]})]}"
		expect "$WANT" "${CMD[@]}"
	done
done
for p in "${SERVERS[@]}"; do killgrp "$p"; wait "$p" 2>/dev/null || true; done
SERVERS=()

say "1/4 in-process: $RUNS clones of a $LUA template through the library"
INPROC_NOTE="" st=0
bounded 900 "$TMP/c.out" "$TMP/c.err" "$OUT/interp_clone" "$RUNS" "$LUA_CODE" 2 "$LUA" - || st=$?
if [[ $st == 0 ]] && read -r p50 p90 p99 f50 tms <"$TMP/c.out"; then
	for v in run_p50:$p50 run_p90:$p90 run_p99:$p99 first_p50:$f50; do record inproc "${v%%:*}" 0 "${v#*:}" us; done
	record inproc template_ms 0 "$tms" ms
else
	INPROC_NOTE="interp_clone failed (status $st): $(head -c 300 "$TMP/c.err" | tr '\n' ' ')"
	say "note: $INPROC_NOTE"
fi

# --- 3. memory: held python3 ---
say "3/4 memory: $MEM_RUNS rounds of $PY_COUNT held python3 (mvmm fresh, mvmm template, forked, independent)"
HOLD_NOTE=""
mem_names=(mvmm_fresh mvmm_template forked independent)
for ((r = 0; r < MEM_RUNS; r++)); do
	for ((j = 0; j < 4; j++)); do
		name=${mem_names[((r + j) % 4)]}
		case $name in
		mvmm_fresh) CMD=("$MVMM" run --count "$PY_COUNT" --hold --stats=json --dir "$PYLIB" "$PYTHON" -c 'import sys; sys.stdin.read()') ;;
		mvmm_template) CMD=("$MVMM" run --template --ready-on=stdin --count "$PY_COUNT" --hold --stats=json --dir "$PYLIB" "$PYTHON") ;;
		forked) CMD=("$PYTHON" "$PROGS/fork_hold.py" -t 1200 "$PY_COUNT" "$PYTHON") ;;
		independent) CMD=("$OUT/host_hold" -t 1200 "$PY_COUNT" "$PYTHON" -c 'import sys; sys.stdin.read()') ;;
		esac
		st=0
		bounded 1800 "$TMP/m.out" "$TMP/m.err" "${CMD[@]}" || st=$?
		if [[ $name == mvmm_* ]]; then
			j_=$(grep '"summary":true' "$TMP/m.err" | tail -n 1 || true)
			# All held? An instance's private pages are counted at the hold if it was held
			# there, else at its exit; the process's PSS while held holds every held one's.
			priv=$(grep -o '"private_kib":[0-9]*' "$TMP/m.err" | awk -F: '{ s += $2 } END { print s + 0 }')
			pss=$(field pss_kib "$j_")
			if [[ $st != 0 || -z $j_ || $(field held "$j_") != true ]] || ((priv > ${pss:-0} * 11 / 10)); then
				why="status $st, \"held\":$(field held "$j_"), instances' private $priv KiB, PSS while held ${pss:-?} KiB"
				extra=$({ grep -v '^{' "$TMP/m.err" || true; } | head -c 200 | tr '\n' ' ')
				[[ $HOLD_NOTE == *"$name did"* ]] || HOLD_NOTE+=" $name did not hold ($why)${extra:+: $extra}."
				say "note: $name did not hold: $why"
				continue
			fi
		else
			[[ $st == 0 ]] || die "'${CMD[*]}' failed (status $st): $(head -c 2000 "$TMP/m.err")"
			j_=$(cat "$TMP/m.out")
		fi
		pern() { awk -v p="$(field "$1" "$j_")" -v n="$PY_COUNT" 'BEGIN { printf "%.1f", p / n }'; }
		record mem "${name}_kib" "$r" "$(field host_kib_per_instance "$j_")" KiB
		record mem "${name}_pss_kib" "$r" "$(pern pss_kib)" KiB
		record mem "${name}_kernel_kib" "$r" "$(pern kernel_growth_kib)" KiB
		record mem "${name}_start_ms" "$r" "$(field start_all_ms "$j_")" ms
	done
done

# --- 4. compute ---
say "4/4 compute: $CRUNS rounds of fib.lua and loop.py (mvmm run, host)"
FIB_WANT=$("$LUA" "$PROGS/fib.lua") LOOP_WANT=$("$PYTHON" "$PROGS/loop.py")
PDIR=("--dir" "$PWD/$PROGS:/progs")
expect "$FIB_WANT" "$MVMM" run "${PDIR[@]}" "$LUA" /progs/fib.lua
expect "$LOOP_WANT" "$MVMM" run --dir "$PYLIB" "${PDIR[@]}" "$PYTHON" /progs/loop.py
st=0
bounded 3600 "$TMP/comp.csv" "$TMP/comp.err" "$OUT/spawn_time" -w 1 "$CRUNS" \
	mvmm_fib 0 "$MVMM" run "${PDIR[@]}" "$LUA" /progs/fib.lua -- \
	host_fib 0 "$LUA" "$PROGS/fib.lua" -- \
	mvmm_loop 0 "$MVMM" run --dir "$PYLIB" "${PDIR[@]}" "$PYTHON" /progs/loop.py -- \
	host_loop 0 "$PYTHON" "$PROGS/loop.py" || st=$?
[[ $st == 0 ]] || die "compute timing failed (status $st): $(head -c 3000 "$TMP/comp.err")"
awk -F, 'NR > 1 { printf "compute,%s,%s,%.1f,us\n", $1, $2, $3 }' "$TMP/comp.csv" >>"$RUNS_CSV"

# --- report ---
fails=0
echo
echo "Interpreters under mvmm ($(head -1 "$INFO"))"

hostlua=$(ms "$(med launch host_lua)")
hdr "1. Lua print(1+1) in a clone of lua5.4 frozen at its first read of stdin, p50 of $RUNS"
row lua "in-process clone (mvmm_run) p50" "$(ms "$(med inproc run_p50)")" "lua5.4 -e (host process)" "$hostlua" ms "<= 0.4 ms" "m <= 0.4" 3
row lua "  in-process p90" "$(ms "$(med inproc run_p90)")" "" "" ms "" "" 3
row lua "  in-process p99" "$(ms "$(med inproc run_p99)")" "" "" ms "" "" 3
row lua "mvmm launch (whole client)" "$(ms "$(med launch lua_launch)")" "lua5.4 -e (host process)" "$hostlua" ms "<= 1.5 ms" "m <= 1.5" 3
echo "  (in-process: build/bench/interp_clone, the library's mvmm_run of a template made by mvmm_template_new"
echo "   from $LUA -, the code as the clone's stdin; first exit (its read of stdin) p50 $(ms "$(med inproc first_p50)") ms, template boot $(med inproc template_ms) ms)"
[[ -n $INPROC_NOTE ]] && echo "  note: $INPROC_NOTE"

hdr "2. Python print(sum(range(1000))) (prints $PY_WANT, checked over $RUNS more rounds), p50 of $RUNS"
pyl=$(ms "$(med launch py_launch)")
row python "mvmm launch (whole client)" "$pyl" "python3 -c (host process)" "$(ms "$(med launch host_python)")" ms "<= 2 ms" "m <= 2" 3
row python "mvmm launch (whole client)" "$pyl" "fork server (whole client)" "$(ms "$(med launch fork_client)")" ms "" "" 3
row python "  template ending in os._exit(0)" "$(ms "$(med launch py_launch_exit)")" "fork server (whole client)" "$(ms "$(med launch fork_client)")" ms "" "" 3
echo "  (the fork server's child ends with os._exit, as the second template does: no interpreter"
echo "   finalization, which touches most of the heap; the target figure is the first template's)"

hdr "3. Memory: $PY_COUNT held python3, host memory per instance ((PSS + kernel growth) / N), median of $MEM_RUNS"
for n in mvmm_fresh mvmm_template; do
	l=fresh label="fresh instances (-c ...)"
	[[ $n == mvmm_template ]] && l=template label="template clones (--template)"
	row memory "$label" "$(med mem "${n}_kib")" "forked from a zygote" "$(med mem forked_kib)" KiB "<= 2048 KiB" "m <= 2048" 1
	isnum "$(med mem "${n}_kib")" || continue # not held: no more rows
	row memory "$label" "$(med mem "${n}_kib")" "independent python3" "$(med mem independent_kib)" KiB "" "" 1
	row memory "  $l: of which PSS" "$(med mem "${n}_pss_kib")" "forked: PSS" "$(med mem forked_pss_kib)" KiB "" "" 1
	row memory "  $l: of which kernel" "$(med mem "${n}_kernel_kib")" "forked: kernel" "$(med mem forked_kernel_kib)" KiB "" "" 1
	row memory "  $l: start and hold all" "$(med mem "${n}_start_ms")" "forked: all blocked" "$(med mem forked_start_ms)" ms "" "" 1
done
row memory "independent python3: PSS" "$(med mem independent_pss_kib)" "" "" KiB "" "" 1
row memory "independent: kernel growth" "$(med mem independent_kernel_kib)" "" "" KiB "" "" 1
row memory "independent: start and hold all" "$(med mem independent_start_ms)" "" "" ms "" "" 1
echo "  (template clones: $PYTHON without ARGS, frozen at its read of the script from stdin)"
[[ -n $HOLD_NOTE ]] && echo "  note:$HOLD_NOTE"

hdr "4. Compute, whole process, median of $CRUNS"
row compute "lua5.4 fib(32) (fib.lua)" "$(ms "$(med compute mvmm_fib)")" "host lua5.4" "$(ms "$(med compute host_fib)")" ms "ratio <= 1.1" "r <= 1.1" 1
row compute "python3 loop (loop.py)" "$(ms "$(med compute mvmm_loop)")" "host python3" "$(ms "$(med compute host_loop)")" ms "ratio <= 1.1" "r <= 1.1" 1
mv "$CSV.tmp" "$CSV"

echo "whole run: $((SECONDS - START_S)) s" | tee -a "$INFO"
echo "Files: $CSV $RUNS_CSV $INFO"
[[ ${STRICT:-0} == 1 && $fails -gt 0 ]] && exit 1
exit 0
