#!/bin/bash
# dedup.sh: mvmm's dedup pass against the kernel's KSM on 200 instances of dupfill.elf 75.
#
# Each run holds N instances (75% of their 8 MiB identical across instances) and
# measures: mvmm: one full pass (time, CPU, pages saved); KSM at its default
# settings (bounded by KSM_TIMEOUT, default 120 s) and tuned (pages_to_scan=5000,
# sleep_millisecs=0): time until pages_sharing stops growing, pages saved.
# Writes build/bench/dedup-*.csv and build/bench/dedup.png. Needs root for KSM's
# settings, which are restored on exit.
set -euo pipefail
BUILD=${BUILD:-build}
N=${N:-200}
KSM_TIMEOUT=${KSM_TIMEOUT:-120}
OUT=$BUILD/bench
K=/sys/kernel/mm/ksm
mkdir -p "$OUT"

saved_run=$(cat $K/run) saved_scan=$(cat $K/pages_to_scan) saved_sleep=$(cat $K/sleep_millisecs)
restore() {
	echo 2 >$K/run 2>/dev/null || true # unmerge what is left, then the old state
	echo "$saved_scan" >$K/pages_to_scan
	echo "$saved_sleep" >$K/sleep_millisecs
	echo "$saved_run" >$K/run
}
trap restore EXIT

ksmd_cpu_ms() { # utime + stime of ksmd, in ms
	local pid
	pid=$(pgrep -x ksmd | head -1)
	awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' /proc/$pid/stat
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"; }

echo "== mvmm dedup pass, $N instances"
m=$("$OUT/dedup" mvmm "$N" "$OUT/dedup-mvmm.csv")
echo "$m"

run_ksm() { # name pages_to_scan sleep_ms
	echo 2 >$K/run
	echo "$2" >$K/pages_to_scan
	echo "$3" >$K/sleep_millisecs
	echo 1 >$K/run
	local c0 c1 r
	c0=$(ksmd_cpu_ms)
	r=$("$OUT/dedup" ksm "$N" "$OUT/dedup-$1.csv" "$KSM_TIMEOUT")
	c1=$(ksmd_cpu_ms)
	echo 2 >$K/run
	echo "$r ksmd_cpu_ms=$(awk -v a="$c0" -v b="$c1" 'BEGIN{print b - a}')"
}
echo "== KSM at its defaults (pages_to_scan=$saved_scan, sleep_millisecs=$saved_sleep)"
kd=$(run_ksm ksm-default "$saved_scan" "$saved_sleep")
echo "$kd"
echo "== KSM tuned (pages_to_scan=5000, sleep_millisecs=0)"
kt=$(run_ksm ksm-tuned 5000 0)
echo "$kt"

mt=$(field converge_ms "$m") ms=$(field saved_pages "$m") ideal=$(field identical_saveable "$m")
mc=$(field cpu_ms "$m") mscan=$(field scanned_pages "$m")
echo
echo "== summary ($N instances x 8 MiB, 75% identical: $ideal pages can be saved)"
printf "%-14s %12s %12s %10s %s\n" "" "converge ms" "pages saved" "CPU ms" "note"
printf "%-14s %12s %12s %10s %s\n" mvmm "$mt" "$ms" "$mc" \
	"$(awk -v s="$ms" -v i="$ideal" 'BEGIN{printf "%.2f%% of identical", 100*s/i}')"
for r in "$kd" "$kt"; do
	name=$([ "$r" = "$kd" ] && echo ksm-default || echo ksm-tuned)
	conv=$(field converged "$r")
	note=$([ "$conv" = 1 ] && echo converged || echo "not converged after $KSM_TIMEOUT s")
	printf "%-14s %12s %12s %10s %s\n" "$name" "$(field converge_ms "$r")" \
		"$(field saved_pages "$r")" "$(sed -n 's/.*ksmd_cpu_ms=\([^ ]*\).*/\1/p' <<<"$r")" "$note"
done
awk -v p="$mscan" -v c="$mc" 'BEGIN{printf "mvmm scan rate: %.2f GiB/s of guest memory per core\n", p*4096/1073741824/(c/1000)}'
for r in "$kd" "$kt"; do
	awk -v a="$(field converge_ms "$r")" -v b="$mt" -v n="$([ "$r" = "$kd" ] && echo default || echo tuned)" \
		'BEGIN{ if (a > 0) printf "mvmm converges %.1fx faster than KSM %s (lower bound if KSM did not converge)\n", a/b, n}'
done

if command -v gnuplot >/dev/null; then
	gnuplot <<GP
set terminal pngcairo size 1000,600
set output "$OUT/dedup.png"
set datafile separator ","
set key autotitle columnhead
set xlabel "seconds after all $N instances are held"
set ylabel "process PSS (MiB)"
set logscale x
set title "Merging $N x 8 MiB (75% identical): mvmm dedup pass vs KSM"
plot "$OUT/dedup-mvmm.csv" using (\$1/1000+0.01):(\$2/1024) with lines lw 2 title "mvmm pass", \
     "$OUT/dedup-ksm-default.csv" using (\$1/1000+0.01):(\$2/1024) with lines title "KSM default", \
     "$OUT/dedup-ksm-tuned.csv" using (\$1/1000+0.01):(\$2/1024) with lines title "KSM tuned"
GP
	echo "plot: $OUT/dedup.png"
fi
