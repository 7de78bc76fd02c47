#!/usr/bin/env bash
# bench/clone.sh: in-process clone latency on each huge-page backing, side by side.
#
#   make bench-clone          (N=1000 clones per backing; BACKINGS="4k thp hugetlb")
#
# Each backing gets its host setting for its run (bench/hostset.sh, as root;
# put back on exit). Beside the figures: the raw-KVM floor of a first read of
# a shared page (bench/touch_floor) with 4 KiB host pages and with THP.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
N=${N:-1000}
BACKINGS=${BACKINGS:-"4k thp hugetlb"}
source bench/hostset.sh

for b in $BACKINGS; do
	echo "=== backing: $b"
	if ! hostset_offer "$b" 64; then
		echo "(skipped: the host does not offer $b and this is not root)"
		continue
	fi
	MVMM_BENCH_HUGE=$(hostset_flag "$b") "$BUILD/bench/clone" "$BUILD" "$N"
	echo "raw-KVM floor, first read of a shared 4 KiB page: $(hostset_floor "$BUILD/bench/touch_floor" "$b") us"
	hostset_restore
done
