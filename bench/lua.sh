#!/bin/bash
# bench/lua.sh: the Lua guest (build/guest/lua.elf) against the host's lua5.4.
#
#   BUILD=build RUNS=200 bash bench/lua.sh      (make bench-lua)
#
# print(1+1), whole request to exit:
#   clone_inproc  clone of a lua.elf template + run to exit, inside one process
#                 (build/bench/lua_clone, p50 over RUNS requests), on each
#                 huge-page backing (BACKINGS="4k thp hugetlb"), then as before
#   server        `mvmm launch` against `mvmm serve` (whole client process)
#   host_lua      `lua5.4 -e 'print(1+1)'` (whole process)
#   cold          `mvmm run build/guest/lua.elf -e 'print(1+1)'` (whole process)
# Compute scripts (tests/lua/bench/*.lua, whole process, median of CRUNS):
#   mvmm run [--mem MEM] lua.elf - < S  vs  lua5.4 - < S
# Writes $BUILD/bench/lua.csv (name,value_us,detail) and prints a summary.
set -u
BUILD=${BUILD:-build}
RUNS=${RUNS:-200}
CRUNS=${CRUNS:-5}
MVMM=$BUILD/mvmm
ELF=$BUILD/guest/lua.elf
LUA=${LUA:-/usr/bin/lua5.4}
CSV=$BUILD/bench/lua.csv
SOCK=${TMPDIR:-/tmp}/mvmm-bench-lua.$$.sock
mkdir -p "$BUILD/bench"

median() { sort -n | awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : "nan")}'; }
# p50 in us of a spawn_time command set: p50 NAME
p50() { awk -F, -v n="$1" '$1==n {print $3}' "$BUILD/bench/lua_spawn.csv" | median; }

echo "name,value_us,detail" > "$CSV"

# In-process clones on each huge-page backing (bench/hostset.sh sets the host up, as root).
source bench/hostset.sh
declare -A HP50 HP99 HR50 HFLOOR
for b in ${BACKINGS:-4k thp hugetlb}; do
	hostset_offer "$b" 64 || { echo "$b: skipped (not offered, not root)"; continue; }
	IFS=, read -r h50 _ h99 _ < <(MVMM_BENCH_HUGE=$(hostset_flag "$b") "$BUILD/bench/lua_clone" \
		"$BUILD" "$RUNS" 'print(1+1)' 2>/dev/null)
	IFS=, read -r g50 _ _ _ < <(MVMM_BENCH_HUGE=$(hostset_flag "$b") "$BUILD/bench/lua_clone" \
		"$BUILD" "$RUNS" 'print(1+1)' reuse 2>/dev/null)
	HP50[$b]=$h50 HP99[$b]=$h99 HR50[$b]=$g50
	HFLOOR[$b]=$(hostset_floor "$BUILD/bench/touch_floor" "$b")
	echo "clone_inproc_${b}_p50,$h50,p99 $h99 us (--huge-pages=$(hostset_flag "$b"))" >> "$CSV"
	echo "clone_reuse_${b}_p50,$g50,(--huge-pages=$(hostset_flag "$b"))" >> "$CSV"
	hostset_restore
done

# (a) in-process clone + run (4 KiB pages: MVMM_BENCH_HUGE unset)
IFS=, read -r a50 a90 a99 tboot < <("$BUILD/bench/lua_clone" "$BUILD" "$RUNS" 'print(1+1)' 2>/dev/null)
echo "clone_inproc_p50,$a50,p90 $a90 us p99 $a99 us template boot $tboot ms" >> "$CSV"
# (a') the same, each clone resuming in the VM the clone before it ran in (as mvmm_run does)
IFS=, read -r r50 r90 r99 _ < <("$BUILD/bench/lua_clone" "$BUILD" "$RUNS" 'print(1+1)' reuse 2>/dev/null)
echo "clone_reuse_p50,$r50,p90 $r90 us p99 $r99 us" >> "$CSV"

# (b) through the server, if this build has one
srv_pid=
if "$MVMM" --help 2>&1 | grep -q "mvmm serve"; then
	"$MVMM" serve --socket "$SOCK" "$ELF" >/dev/null 2>"$BUILD/bench/lua_serve.err" &
	srv_pid=$!
	for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.05; done
	[ "$("$MVMM" launch --socket "$SOCK" -- -e 'print(1+1)' 2>/dev/null)" = 2 ] || { kill "$srv_pid"; srv_pid=; }
fi

# (b), (c), (d): whole processes, round-robin (":::" separates the commands: launch needs "--")
if [ -n "$srv_pid" ]; then
	"$BUILD/bench/spawn_time" -w 5 -s ::: "$RUNS" host_lua 0 "$LUA" -e 'print(1+1)' ::: \
		cold 0 "$MVMM" run "$ELF" -e 'print(1+1)' ::: \
		server 0 "$MVMM" launch --socket "$SOCK" -- -e 'print(1+1)' \
		> "$BUILD/bench/lua_spawn.csv" || exit 1
	kill "$srv_pid"; wait "$srv_pid" 2>/dev/null
	srv=$(p50 server)
	echo "server_p50,$srv,mvmm launch (whole client process)" >> "$CSV"
else
	"$BUILD/bench/spawn_time" -w 5 "$RUNS" host_lua 0 "$LUA" -e 'print(1+1)' -- \
		cold 0 "$MVMM" run "$ELF" -e 'print(1+1)' > "$BUILD/bench/lua_spawn.csv" || exit 1
	srv=
	echo "server_p50,,server not available yet" >> "$CSV"
fi
host=$(p50 host_lua); cold=$(p50 cold)
echo "host_lua_p50,$host,lua5.4 -e (whole process)" >> "$CSV"
echo "cold_p50,$cold,mvmm run lua.elf -e (whole process)" >> "$CSV"

# compute scripts: wall time of the whole process, median of CRUNS
tms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1 || echo FAIL >&2; e=$(date +%s%N); echo $(( (e - s) / 1000 )); }
declare -A MEMOPT=([fib]="" [table]="--mem 128M" [string]="")
for s in fib table string; do
	f=tests/lua/bench/$s.lua
	m=$(for _ in $(seq "$CRUNS"); do tms sh -c "exec $MVMM run ${MEMOPT[$s]} $ELF - < $f"; done | median)
	l=$(for _ in $(seq "$CRUNS"); do tms sh -c "exec $LUA - < $f"; done | median)
	echo "${s}_mvmm,$m,mvmm run ${MEMOPT[$s]:---mem 64M} (median of $CRUNS)" >> "$CSV"
	echo "${s}_lua54,$l,lua5.4 (median of $CRUNS)" >> "$CSV"
	eval "C_$s=\"$m $l\""
done

ok() { awk -v a="$1" -v b="$2" 'BEGIN {print (a != "" && a <= b) ? "met" : "MISSED"}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
echo "print(1+1), p50 (us):"
echo "  (a) in-process clone + run: $a50 (p90 $a90, p99 $a99; template boot $tboot ms)  target <= 500: $(ok "$a50" 500)"
echo "  (a') the same in a reused VM (mvmm_run's path): $r50 (p90 $r90, p99 $r99)  target <= 500: $(ok "$r50" 500)"
if [ -n "$srv" ]; then
	echo "  (b) through the server (mvmm launch): $srv  target <= 2000: $(ok "$srv" 2000)"
else
	echo "  (b) through the server: server not available yet"
fi
echo "  in-process clone by huge-page backing (target <= 250 us p50):"
for b in ${BACKINGS:-4k thp hugetlb}; do
	[ -n "${HP50[$b]:-}" ] || continue
	echo "    $b: clone + run p50 ${HP50[$b]} us (p99 ${HP99[$b]}), reused VM p50 ${HR50[$b]} us, $(ok "${HP50[$b]}" 250); raw-KVM first read of a shared page ${HFLOOR[$b]} us"
done
echo "  (c) host lua5.4 -e: $host"
echo "  (d) cold mvmm run lua.elf -e: $cold  (clone is $(ratio "$cold" "$a50")x faster; host lua5.4 / clone = $(ratio "$host" "$a50"))"
echo "compute (ms, whole process, median of $CRUNS; target: mvmm <= 2x lua5.4):"
for s in fib table string; do
	eval "set -- \$C_$s"
	echo "  $s: mvmm $(( $1 / 1000 )) vs lua5.4 $(( $2 / 1000 )) -> $(ratio "$1" "$2")x ${MEMOPT[$s]:+(at ${MEMOPT[$s]#--mem })} $(ok "$(ratio "$1" "$2")" 2)"
done
echo "CSV: $CSV"
