#!/usr/bin/env bash
# bench/density.sh: host memory per live instance and start time, shared image against --no-share.
#
# For each N in NS (default "100 500 1000 2000") runs
#   mvmm run --count N --hold --stats=json build/guest/density.elf
# with the shared image and with --no-share (no-share only up to NOSHARE_MAX,
# default 1000: 2,000 private 16 MiB copies would not fit this 24 GiB host),
# and reads mvmm's own summary line: host memory per instance ((PSS + the
# kernel's growth) / N while all are held), PSS, and the time to start and hold all N.
# Then tries MAXN (default 10000) shared instances once, the density ceiling.
# Outputs build/bench/density.csv and build/bench/density.png.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
NS=${NS:-"100 500 1000 2000"}
NOSHARE_MAX=${NOSHARE_MAX:-1000}
MAXN=${MAXN:-10000}
OUT=$BUILD/bench
CSV=$OUT/density.csv
GUEST=$BUILD/guest/density.elf
mkdir -p "$OUT"
[[ -x $BUILD/mvmm && -f $GUEST ]] || { echo "bench/density.sh: build first (make)" >&2; exit 1; }

# Pulls "key":value out of mvmm's JSON summary line.
field() { sed -n "s/.*\"$1\":\([^,}]*\).*/\1/p" <<<"$2"; }

# run_once MODE N -> appends a CSV row, prints a line
run_once() {
	local mode=$1 n=$2 flags=() summary status=0
	[[ $mode == noshare ]] && flags=(--no-share)
	summary=$("$BUILD/mvmm" run --count "$n" --hold --stats=json "${flags[@]}" "$GUEST" \
		2>&1 >/dev/null | grep '"summary":true' | tail -n 1) || status=$?
	if [[ -z $summary ]]; then
		echo "$mode,$n,NA,NA,NA,NA" >>"$CSV"
		printf '%-8s N=%-6s failed (status %s)\n' "$mode" "$n" "$status"
		return 1
	fi
	local per pss ms rss
	per=$(field host_kib_per_instance "$summary")
	pss=$(field pss_kib "$summary")
	rss=$(field rss_kib "$summary")
	ms=$(field start_all_ms "$summary")
	echo "$mode,$n,$ms,$per,$pss,$rss" >>"$CSV"
	printf '%-8s N=%-6s start+hold %8.1f ms   host %7.0f KiB/instance   PSS %7.1f MiB\n' \
		"$mode" "$n" "$ms" "$per" "$(awk "BEGIN{print $pss/1024}")"
}

echo "mode,n,start_all_ms,host_kib_per_instance,pss_kib,rss_kib" >"$CSV"
for n in $NS; do
	run_once shared "$n" || true
	if ((n <= NOSHARE_MAX)); then run_once noshare "$n" || true; fi
done

echo "--- ceiling: $MAXN shared instances held at once"
run_once shared "$MAXN" || echo "(see: ulimit -Hn $(ulimit -Hn), vm.max_map_count $(cat /proc/sys/vm/max_map_count))"

# Ratio at N=1000, the issue's yardstick.
awk -F, '$2==1000 && $1=="shared"{s=$4} $2==1000 && $1=="noshare"{p=$4}
	END{ if (s>0 && p>0) printf "N=1000: --no-share uses %.1fx the memory per instance of the shared image (target >= 10x)\n", p/s }' "$CSV"
awk -F, '$2==1000 && $1=="shared"{ printf "N=1000 shared: %.0f KiB per instance (target <= 1536), started and held in %.0f ms (target <= 3000)\n", $4, $3 }' "$CSV"

if command -v gnuplot >/dev/null; then
	gnuplot <<GP
set terminal pngcairo size 900,560 noenhanced
set output "$OUT/density.png"
set datafile separator ","
set title "host memory per live held instance of density.elf (16 MiB image)"
set xlabel "live instances (N)"
set ylabel "MiB per instance ((PSS + kernel growth) / N)"
set logscale y
set key top right
set grid
plot "< grep '^shared' $CSV | grep -v NA | sort -t, -k2 -n" using 2:(\$4/1024) with linespoints lw 2 title "mvmm, shared image", \
     "< grep '^noshare' $CSV | grep -v NA | sort -t, -k2 -n" using 2:(\$4/1024) with linespoints lw 2 title "mvmm --no-share (private copy)"
GP
	echo "plot: $OUT/density.png"
fi
echo "csv: $CSV"
