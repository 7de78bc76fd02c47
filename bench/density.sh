#!/usr/bin/env bash
# bench/density.sh: start time and host memory per live held instance, on each huge-page backing.
#
#   make bench-density
#   NS="100 1000" MAXN=10000 CEIL=20000 BACKINGS="4k thp hugetlb" make bench-density
#
# For each backing (4 KiB pages, shmem THP, hugetlbfs; each gets its host
# setting for its run, as root, put back on exit: bench/hostset.sh) and each
# N in NS and MAXN runs
#   mvmm run --count N --hold --stats=json --huge-pages=B build/guest/density.elf
# and reads mvmm's own summary line: the time to start and hold all N, and
# host memory per instance ((PSS + the kernel's growth) / N while all are
# held). --no-share (private copies) runs on 4 KiB pages up to NOSHARE_MAX.
# Then the ceiling: CEIL instances held at once on the fastest backing (THP),
# with kernel.pid_max raised for the run (each VM costs two kernel tasks).
# Beside them, the raw-KVM floor of a first read of a shared 4 KiB page.
# Outputs build/bench/density.csv and build/bench/density.png.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
NS=${NS:-"100 1000"}
MAXN=${MAXN:-10000}
CEIL=${CEIL:-20000}
NOSHARE_MAX=${NOSHARE_MAX:-1000}
BACKINGS=${BACKINGS:-"4k thp hugetlb"}
OUT=$BUILD/bench
CSV=$OUT/density.csv
GUEST=$BUILD/guest/density.elf
mkdir -p "$OUT"
[[ -x $BUILD/mvmm && -f $GUEST ]] || { echo "bench/density.sh: build first (make)" >&2; exit 1; }
source bench/hostset.sh
SAVED_PID_MAX=$(cat /proc/sys/kernel/pid_max)
restore_all() {
	hostset_restore
	[[ $(id -u) == 0 ]] && echo "$SAVED_PID_MAX" >/proc/sys/kernel/pid_max
	return 0
}
trap restore_all EXIT

field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

# run_once BACKING MODE N [mvmm flags...]
run_once() {
	local backing=$1 mode=$2 n=$3 flags=() summary status=0
	shift 3
	flags=(--huge-pages="$(hostset_flag "$backing")" "$@")
	[[ $mode == noshare ]] && flags+=(--no-share)
	summary=$("$BUILD/mvmm" run --no-cache --count "$n" --hold --stats=json "${flags[@]}" \
		"$GUEST" 2>&1 >/dev/null | grep '"summary":true' | tail -n 1) || status=$?
	if [[ -z $summary ]]; then
		echo "$backing,$mode,$n,NA,NA,NA,NA,NA" >>"$CSV"
		printf '%-8s %-8s N=%-6s failed (status %s)\n' "$backing" "$mode" "$n" "$status"
		return 1
	fi
	local per pss ms rss kern
	per=$(field host_kib_per_instance "$summary")
	pss=$(field pss_kib "$summary")
	rss=$(field rss_kib "$summary")
	ms=$(field start_all_ms "$summary")
	kern=$(field kernel_growth_kib "$summary")
	echo "$backing,$mode,$n,$ms,$per,$pss,$rss,$kern" >>"$CSV"
	printf '%-8s %-8s N=%-6s start+hold %9.1f ms   host %5.0f KiB/instance (PSS %4.0f + kernel %4.0f)\n' \
		"$backing" "$mode" "$n" "$ms" "$per" "$(awk "BEGIN{print $pss/$n}")" \
		"$(awk "BEGIN{print $kern/$n}")"
}

echo "backing,mode,n,start_all_ms,host_kib_per_instance,pss_kib,rss_kib,kernel_growth_kib" >"$CSV"
for b in $BACKINGS; do
	if ! hostset_offer "$b" 64; then
		echo "$b: skipped (the host does not offer it and this is not root)"
		continue
	fi
	for n in $NS $MAXN; do
		run_once "$b" shared "$n" || true
		if [[ $b == 4k ]] && ((n <= NOSHARE_MAX)); then run_once "$b" noshare "$n" || true; fi
	done
	echo "$b: raw-KVM floor, first read of a shared 4 KiB page: $(hostset_floor "$BUILD/bench/touch_floor" "$b") us"
	hostset_restore
done

if ((CEIL > 0)) && hostset_offer thp; then
	echo "--- ceiling: $CEIL instances held at once (THP)"
	# Each VM costs two kernel tasks (its vCPU thread, KVM's NX-huge-page recovery task).
	if [[ $(id -u) == 0 ]] && (($(cat /proc/sys/kernel/pid_max) < 4 * CEIL)); then
		echo $((4 * CEIL)) >/proc/sys/kernel/pid_max
	fi
	run_once thp ceiling "$CEIL" ||
		echo "(limits: pid_max $(cat /proc/sys/kernel/pid_max), ulimit -Hn $(ulimit -Hn), vm.max_map_count $(cat /proc/sys/vm/max_map_count))"
	restore_all
fi

awk -F, '$3==1000 && $2=="shared" { printf "N=1000 %-8s started and held in %6.0f ms, %4.0f KiB per instance\n", $1, $4, $5 }
	$3==1000 && $1=="4k" && $2=="noshare" { p=$5 } $3==1000 && $1=="4k" && $2=="shared" { s=$5 }
	END { if (s > 0 && p > 0) printf "N=1000: --no-share uses %.1fx the memory per instance of the shared image\n", p/s }' "$CSV"
awk -F, -v m="$MAXN" '$3==m && $2=="shared" { printf "N=%d %-8s started and held in %6.1f s\n", m, $1, $4/1000 }' "$CSV"
awk -F, '$2=="ceiling" && $4!="NA" { printf "ceiling: %d held at once, started in %.1f s, %.0f KiB per instance\n", $3, $4/1000, $5 }' "$CSV"

if command -v gnuplot >/dev/null; then
	gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output "$OUT/density.png"
set datafile separator ","
set title "density.elf (16 MiB image): time to start and hold N instances"
set xlabel "live instances (N)"
set ylabel "seconds"
set logscale xy
set key top left
set grid
plot "< grep '^4k,shared' $CSV | grep -v NA" using 3:(\$4/1000) with linespoints lw 2 title "4 KiB pages", \
     "< grep '^thp,shared' $CSV | grep -v NA" using 3:(\$4/1000) with linespoints lw 2 title "THP", \
     "< grep '^hugetlb,shared' $CSV | grep -v NA" using 3:(\$4/1000) with linespoints lw 2 title "hugetlbfs"
GP
	echo "plot: $OUT/density.png"
fi
echo "csv: $CSV"
