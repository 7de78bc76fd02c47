#!/usr/bin/env bash
# bench/clone_workers.sh: clones/s of `mvmm serve --workers K` for K = 1, 2, 4 (part of
# make bench-clone), driven by C concurrent clients of L requests each.
#
#   WORKERS="1 2 4" ROUNDS=5 C=8 L=100 DRIVER=direct bash bench/clone_workers.sh
#
# Each round: a fresh server over the served test guest (tests/guests/served.c, an empty
# request: it prints its clone number), C clients started at once, the wall time from their
# start to the last one's end. Clones/s = C * L / that time; the figure is the median of
# ROUNDS rounds. DRIVER=direct (the default): bench/clone_client, C threads of one process
# speaking the wire protocol; DRIVER=launch: C loops of `mvmm launch` processes (a process
# spawn per clone, which then dominates). The clients run on the same cores as the server,
# so the figures are of the whole host, load included (printed).
# Every run: build/bench/clone_workers_runs.csv; the medians: build/bench/clone_workers.csv.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
WORKERS=${WORKERS:-"1 2 4"}
ROUNDS=${ROUNDS:-5}
C=${C:-8}
L=${L:-100}
DRIVER=${DRIVER:-direct}
GUEST=$BUILD/tests/guests/served.elf
MVMM=$BUILD/mvmm
OUT=$BUILD/bench
RUNS_CSV=$OUT/clone_workers_runs.csv
CSV=$OUT/clone_workers.csv
DIR=$(mktemp -d /tmp/mvmm-bench-workers-XXXXXX)
SRV=""

cleanup() {
	[[ -n $SRV ]] && kill -TERM "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (!NR) print "NA"; else if (NR % 2) printf "%.1f\n", v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# client SOCKET: L launches back to back; a failed one is counted on stderr.
client() {
	local i
	for ((i = 0; i < L; i++)); do
		"$MVMM" launch --socket "$1" >/dev/null 2>&1 || echo "launch failed" >&2
	done
}

# round K R: one server of K workers, C clients; appends its figure to the runs CSV.
round() {
	local k=$1 r=$2 sock=$DIR/s.sock t0 t1 i pids=() fails secs
	"$MVMM" serve -q --workers "$k" --socket "$sock" "$GUEST" 2>"$DIR/serve.err" &
	SRV=$!
	for ((i = 0; i < 500; i++)); do [[ -S $sock ]] && break; sleep 0.01; done
	"$MVMM" launch --socket "$sock" >/dev/null 2>&1 # the workers are up
	if [[ $DRIVER == direct ]]; then
		read -r _ secs fails < <("$BUILD/bench/clone_client" "$sock" "$C" "$L")
		t0=0
		t1=${secs:-0}
	else
		t0=$(date +%s.%N)
		for ((i = 0; i < C; i++)); do
			client "$sock" 2>>"$DIR/fails" &
			pids+=($!)
		done
		wait "${pids[@]}"
		t1=$(date +%s.%N)
		fails=$(grep -c failed "$DIR/fails" 2>/dev/null)
		: >"$DIR/fails"
	fi
	kill -TERM "$SRV"
	wait "$SRV"
	SRV=""
	awk -v k="$k" -v r="$r" -v n=$((C * L)) -v a="$t0" -v b="$t1" -v f="${fails:-0}" \
		'BEGIN { printf "%d,%d,%d,%.3f,%.1f,%d\n", k, r, n, b - a, n / (b - a), f }' >>"$RUNS_CSV"
}

mkdir -p "$OUT"
echo "workers,round,clones,seconds,clones_per_s,failed" >"$RUNS_CSV"
echo "# driver: $DRIVER; $(nproc) cores; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
for k in $WORKERS; do
	for ((r = 1; r <= ROUNDS; r++)); do
		round "$k" "$r"
	done
done
echo "workers,clones_per_s_median,rounds,clients,launches_per_client,vs_1_worker" >"$CSV"
base=$(awk -F, '$1 == 1 { print $5 }' "$RUNS_CSV" | median)
for k in $WORKERS; do
	m=$(awk -F, -v k="$k" 'NR > 1 && $1 == k { print $5 }' "$RUNS_CSV" | median)
	rel=$(awk -v a="$m" -v b="$base" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "NA" }')
	echo "$k,$m,$ROUNDS,$C,$L,$rel" >>"$CSV"
	printf "serve --workers %d: %8s clones/s (median of %d rounds, %d clients x %d launches), x%s of 1 worker\n" \
		"$k" "$m" "$ROUNDS" "$C" "$L" "$rel"
done
failed=$(awk -F, 'NR > 1 { s += $6 } END { print s + 0 }' "$RUNS_CSV")
echo "# load average at end: $(cut -d' ' -f1-3 /proc/loadavg); failed launches: $failed"
echo "# $CSV (medians), $RUNS_CSV (every round)"
[[ $failed == 0 ]]
