#!/usr/bin/env bash
# bench/startup.sh: start-up latency of `mvmm run` against its yardsticks.
#
# Times whole processes (spawn to waitpid, see bench/spawn_time.c), RUNS
# rounds (default 50), all commands interleaved round-robin in one run so
# machine noise hits them alike:
#   mvmm          build/mvmm run build/guest/hello.elf       (the product)
#   kvm_floor     build/bench/kvm_floor                      (raw-KVM floor)
#   qemu_microvm  qemu-system-x86_64 -M microvm, PVH guest   (QEMU yardstick)
#   lua           lua5.4 -e 'print(1+1)'                     (everyday yardstick)
#   true          /bin/true                                  (process spawn cost)
# Outputs: build/bench/startup.csv (name,run,us),
#          build/bench/startup-summary.csv (name,median_us,p90_us,runs),
#          build/bench/startup.png, build/bench/startup-info.txt.
#
# Environment: RUNS (default 50), BUILD (default build), QEMU (default
# qemu-system-x86_64), LUA (default lua5.4), STRICT=1 to exit 1 when a
# target is missed, MVMM_CMD to time a stand-in for mvmm (word-split; the
# "Hello from mvmm guest" output check is then skipped).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
RUNS=${RUNS:-50}
BUILD=${BUILD:-build}
QEMU=${QEMU:-qemu-system-x86_64}
LUA=${LUA:-lua5.4}
OUT=$BUILD/bench
CSV=$OUT/startup.csv
SUMMARY=$OUT/startup-summary.csv
INFO=$OUT/startup-info.txt
PNG=$OUT/startup.png

die() { echo "bench/startup.sh: $*" >&2; exit 1; }

[[ $RUNS =~ ^[0-9]+$ && $RUNS -ge 1 ]] || die "RUNS must be a positive integer (got '$RUNS')"
[[ $RUNS -ge 50 ]] || echo "bench/startup.sh: warning: RUNS=$RUNS < 50, figures will be rough" >&2
for f in "$OUT/spawn_time" "$OUT/kvm_floor" "$OUT/qemu-pvh.elf"; do
	[[ -x $f || ( $f == *.elf && -f $f ) ]] || die "$f is missing: run 'make bench-startup' (or build it with bench/bench.mk)"
done
mkdir -p "$OUT"

# --- mvmm ------------------------------------------------------------------
if [[ -n ${MVMM_CMD:-} ]]; then
	read -r -a mvmm_cmd <<<"$MVMM_CMD"
	mvmm_desc="stand-in: $MVMM_CMD"
else
	[[ -x $BUILD/mvmm ]] || die "$BUILD/mvmm does not exist (or is not executable): build it first ('make $BUILD/mvmm')"
	[[ -f $BUILD/guest/hello.elf ]] || die "$BUILD/guest/hello.elf does not exist: build it first ('make $BUILD/guest/hello.elf')"
	mvmm_cmd=("$BUILD/mvmm" run "$BUILD/guest/hello.elf")
	mvmm_desc="${mvmm_cmd[*]}"
	out=$("${mvmm_cmd[@]}" 2>&1) || die "'$mvmm_desc' failed (status $?): $out"
	[[ $out == *"Hello from mvmm guest"* ]] || die "'$mvmm_desc' did not print 'Hello from mvmm guest'; it printed: $out"
fi

# --- QEMU microvm ----------------------------------------------------------
# Under PVM, '-cpu host' alone aborts ("failed to set MSR 0x10a": PVM does not
# take IA32_ARCH_CAPABILITIES), and the default qemu64 model warns about a
# missing feature, so use host minus arch-capabilities.  The firmware is
# microvm's default qboot (bios-microvm.bin); it loads the PVH ELF through
# fw_cfg and jumps to its 32-bit entry, which writes 0x10 to isa-debug-exit:
# QEMU exits with status (0x10 << 1) | 1 = 33.
QEMU_STATUS=33
qemu_cmd=("$QEMU" -M microvm,x-option-roms=off,isa-serial=off,pit=off,pic=off,rtc=off,acpi=off
	-accel kvm -cpu host,-arch-capabilities -m 16 -smp 1
	-nodefaults -no-user-config -nographic -display none
	-device isa-debug-exit,iobase=0xf4,iosize=0x04
	-kernel "$OUT/qemu-pvh.elf")
qemu_ok=1 qemu_why=""
if ! qemu_path=$(command -v "$QEMU"); then
	qemu_ok=0 qemu_why="$QEMU not found"
else
	qemu_cmd[0]=$qemu_path
	set +e
	qemu_err=$(timeout 60 "${qemu_cmd[@]}" 2>&1 </dev/null)
	st=$?
	set -e
	if [[ $st -ne $QEMU_STATUS ]]; then
		qemu_ok=0
		qemu_why="probe exited with status $st (expected $QEMU_STATUS from isa-debug-exit; 124 = timed out after 60 s): $(tr '\n' ' ' <<<"$qemu_err")"
	elif [[ -n $qemu_err ]]; then
		echo "bench/startup.sh: note: QEMU printed: $qemu_err" >&2
	fi
fi

# --- lua -------------------------------------------------------------------
lua_ok=1 lua_why=""
if lua_path=$(command -v "$LUA"); then
	[[ $("$lua_path" -e 'print(1+1)' 2>&1) == 2 ]] || { lua_ok=0 lua_why="$LUA -e 'print(1+1)' did not print 2"; }
else
	lua_ok=0 lua_why="$LUA not found"
fi
true_path=$(command -v true 2>/dev/null || echo /bin/true)
[[ $true_path == /* ]] || true_path=/bin/true

# --- run -------------------------------------------------------------------
mvmm_exe=$(command -v "${mvmm_cmd[0]}") || die "cannot find ${mvmm_cmd[0]}"
args=(mvmm 0 "$mvmm_exe" "${mvmm_cmd[@]:1}" -- kvm_floor 0 "$OUT/kvm_floor")
((qemu_ok)) && args+=(-- qemu_microvm "$QEMU_STATUS" "${qemu_cmd[@]}")
((lua_ok)) && args+=(-- lua 0 "$lua_path" -e 'print(1+1)')
args+=(-- true 0 "$true_path")

echo "bench/startup.sh: $RUNS rounds, round-robin: mvmm kvm_floor$( ((qemu_ok)) && echo -n ' qemu_microvm')$( ((lua_ok)) && echo -n ' lua') true" >&2
"$OUT/spawn_time" -w 2 "$RUNS" "${args[@]}" >"$CSV.tmp" || die "timing run failed (see above)"
mv "$CSV.tmp" "$CSV"

# --- summary ---------------------------------------------------------------
# median: mean of the middle two for an even count; p90: nearest rank.
{
	echo "name,median_us,p90_us,runs"
	for name in mvmm kvm_floor qemu_microvm lua true; do
		sort -t, -k3,3g <(awk -F, -v n="$name" 'NR > 1 && $1 == n' "$CSV") |
			awk -F, -v n="$name" '{ v[NR] = $3 } END {
				if (NR == 0) { printf "%s,NA,NA,0\n", n; exit }
				med = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
				k = int(0.9 * NR); if (k < 0.9 * NR) k++
				printf "%s,%.1f,%.1f,%d\n", n, med, v[k], NR }'
	done
} >"$SUMMARY"

{
	echo "date: $(date -u +%FT%TZ)  host: $(uname -srm)  cpus: $(nproc)  kvm: $([[ -d /sys/module/kvm_pvm ]] && echo PVM || echo hardware)"
	echo "runs: $RUNS per command, round-robin, 2 warm-up rounds; times are spawn-to-waitpid wall time"
	echo "mvmm: $mvmm_desc"
	echo "kvm_floor: $OUT/kvm_floor"
	if ((qemu_ok)); then
		echo "qemu_microvm: ${qemu_cmd[*]}  (exit status $QEMU_STATUS expected)"
		echo "qemu version: $("$QEMU" --version | head -1)"
	else
		echo "qemu_microvm: unavailable: $qemu_why"
	fi
	((lua_ok)) && echo "lua: $lua_path -e 'print(1+1)'" || echo "lua: unavailable: $lua_why"
	echo "true: $true_path"
} >"$INFO"

if command -v gnuplot >/dev/null; then
	gnuplot -e "summary='$SUMMARY'; out='$PNG'; runs='$RUNS'" bench/startup.gp ||
		echo "bench/startup.sh: warning: gnuplot failed, no $PNG" >&2
else
	echo "bench/startup.sh: warning: gnuplot not installed, no $PNG" >&2
fi

# --- report ----------------------------------------------------------------
get() { awk -F, -v n="$1" -v c="$2" '$1 == n { print $c }' "$SUMMARY"; }
ms() { [[ $1 == NA ]] && echo "n/a" || awk -v v="$1" 'BEGIN { printf "%.2f ms", v / 1000 }'; }
ratio() { [[ $1 == NA || $2 == NA ]] && echo "n/a" || awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

m=$(get mvmm 2) f=$(get kvm_floor 2) q=$(get qemu_microvm 2)
echo
echo "Start-up, whole process, $RUNS runs each (median / p90):"
for name in mvmm kvm_floor qemu_microvm lua true; do
	med=$(get "$name" 2) p90=$(get "$name" 3)
	if [[ $name == qemu_microvm && $qemu_ok -eq 0 ]]; then
		printf "  %-13s unavailable: %s\n" "$name" "$qemu_why"
	elif [[ $name == lua && $lua_ok -eq 0 ]]; then
		printf "  %-13s unavailable: %s\n" "$name" "$lua_why"
	else
		printf "  %-13s %10s / %s\n" "$name" "$(ms "$med")" "$(ms "$p90")"
	fi
done
[[ -n ${MVMM_CMD:-} ]] && echo "  (mvmm is a stand-in: $MVMM_CMD)"
r_floor=$(ratio "$m" "$f") r_qemu=$(ratio "$q" "$m")
echo "Ratios (medians): mvmm/floor = $r_floor   qemu/mvmm = $r_qemu"

fails=0
check() { # description, awk condition
	local verdict
	if [[ $2 == *n/a* || $2 == *NA* ]]; then verdict="n/a"
	elif awk "BEGIN { exit !($2) }"; then verdict="met"
	else verdict="MISSED"; fails=$((fails + 1)); fi
	printf "  %-40s %s\n" "$1" "$verdict"
}
echo "Targets:"
check "mvmm median <= 3 ms ($(ms "$m"))" "$m <= 3000"
check "mvmm within 1.5x the floor ($r_floor x)" "$r_floor <= 1.5"
check ">= 15x faster than QEMU microvm ($r_qemu x)" "$r_qemu >= 15"
echo "Files: $CSV $SUMMARY $PNG $INFO"
if [[ ${STRICT:-0} == 1 && $fails -gt 0 ]]; then
	exit 1
fi
exit 0
