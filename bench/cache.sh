#!/usr/bin/env bash
# bench/cache.sh: the persistent image cache: start time cold / first (build + store) / cached,
# and the memory of N separate `mvmm run --hold` processes with and without the cache.
#
# Guest: build/guest/bigimage.elf (32 MiB preinitialized image, 50 ms of initialization before
# ready), run as a template (--template): the cache holds the booted template.
#   cold    mvmm run --no-cache --template bigimage.elf           (boot + freeze every time)
#   first   the same with an empty cache: boot, freeze, store the entry
#   cached  the same with the entry there: map it
# Medians over RUNS (default 10) of the wall time of the whole command.
# Memory: N (default 100) processes `mvmm run --hold --template bigimage.elf hold`, each reads
# every page of the 32 MiB table, then blocks reading stdin (one FIFO) until the script closes it.
# While all are alive: the summed PSS of the guest-image mappings of all N (the cache file, or
# each process's own template memfd without the cache), against one copy (the image mapping's
# RSS in one process), and the summed total PSS. Outputs build/bench/cache.csv.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=${BUILD:-build}
RUNS=${RUNS:-10}
N=${N:-100}
OUT=$BUILD/bench
CSV=$OUT/cache.csv
GUEST=$BUILD/guest/bigimage.elf
MVMM=$BUILD/mvmm
mkdir -p "$OUT"
[[ -x $MVMM && -f $GUEST ]] || { echo "bench/cache.sh: build first (make)" >&2; exit 1; }
WORK=$(mktemp -d /tmp/mvmm-bench-cache-XXXXXX)
CDIR=$WORK/cache
PIDS=()
cleanup() {
	exec 3>&- 2>/dev/null || true
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

now_us() { echo $(($(date +%s%N) / 1000)); }
median() { sort -n | awk '{a[NR]=$1} END{ if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2 }'; }

# time_run -> microseconds of one `mvmm run ... --template bigimage.elf`
time_run() {
	local t0 t1
	t0=$(now_us)
	"$MVMM" run "$@" --template "$GUEST" >/dev/null
	t1=$(now_us)
	echo $((t1 - t0))
}

echo "metric,value" >"$CSV"
# The ELF's content hash is memoized only for files older than 2 s.
sleep 2
cold=$(for i in $(seq "$RUNS"); do time_run --no-cache; done | median)
first=$(for i in $(seq "$RUNS"); do
	"$MVMM" cache clear --cache-dir "$CDIR" >/dev/null
	time_run --cache-dir "$CDIR"
done | median)
cached=$(for i in $(seq "$RUNS"); do time_run --cache-dir "$CDIR"; done | median)
"$MVMM" cache verify --cache-dir "$CDIR" | head -n 1
printf 'start (median of %d): cold %.1f ms   first (build + store) %.1f ms   cached %.1f ms\n' \
	"$RUNS" "$(awk "BEGIN{print $cold/1000}")" "$(awk "BEGIN{print $first/1000}")" \
	"$(awk "BEGIN{print $cached/1000}")"
awk "BEGIN{r=$cold/$cached; printf \"cached start is %.1fx faster than cold (target >= 10x): %s\n\", r, (r>=10)?\"met\":\"NOT met\"}"
{ echo "start_cold_us,$cold"; echo "start_first_us,$first"; echo "start_cached_us,$cached"; } >>"$CSV"

# image_kib PID PATTERN FIELD -> summed FIELD (Pss or Rss) of the mappings whose name matches
image_kib() {
	awk -v pat="$2" -v fld="$3:" '
		/^[0-9a-f]+-[0-9a-f]+ / { m = ($6 != "" && index($0, pat) > 0) }
		m && $1 == fld { s += $2 }
		END { print s + 0 }' "/proc/$1/smaps" 2>/dev/null || echo 0
}

# held MODE -> starts N processes, waits until each maps the whole table, measures, ends them
held() {
	local mode=$1 flags=() pat fifo=$WORK/stdin t0 all ready p img=0 tot=0 one=0
	if [[ $mode == nocache ]]; then
		flags=(--no-cache); pat="memfd:mvmm-template"
	else
		flags=(--cache-dir "$CDIR"); pat="$CDIR/"
	fi
	rm -f "$fifo"; mkfifo "$fifo"
	exec 3<>"$fifo"
	PIDS=()
	t0=$(now_us)
	for i in $(seq "$N"); do
		"$MVMM" run --hold "${flags[@]}" --template "$GUEST" hold <"$fifo" >/dev/null 3>&- &
		PIDS+=($!)
	done
	# Held: every process maps the 32 MiB table (RSS of its image mappings >= 32 MiB).
	for _ in $(seq 300); do
		ready=0
		for p in "${PIDS[@]}"; do
			(($(image_kib "$p" "$pat" Rss) >= 32768)) && ready=$((ready + 1))
		done
		((ready == N)) && break
		sleep 0.2
	done
	all=$(( ($(now_us) - t0) / 1000 ))
	for p in "${PIDS[@]}"; do
		img=$((img + $(image_kib "$p" "$pat" Pss)))
		tot=$((tot + $(awk '$1=="Pss:"{print $2}' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
	done
	one=$(image_kib "${PIDS[0]}" "$pat" Rss)
	exec 3>&-
	wait "${PIDS[@]}" || true
	PIDS=()
	printf '%-8s N=%d held=%d in %d ms: image PSS summed %.1f MiB (%.2fx one copy of %.1f MiB), total PSS summed %.1f MiB\n' \
		"$mode" "$N" "$ready" "$all" "$(awk "BEGIN{print $img/1024}")" \
		"$(awk "BEGIN{print $img/$one}")" "$(awk "BEGIN{print $one/1024}")" \
		"$(awk "BEGIN{print $tot/1024}")"
	{ echo "${mode}_held,$ready"; echo "${mode}_image_pss_kib,$img"; echo "${mode}_one_copy_kib,$one"
	  echo "${mode}_total_pss_kib,$tot"; echo "${mode}_start_all_ms,$all"; } >>"$CSV"
	if [[ $mode == cached ]]; then
		awk "BEGIN{r=$img/$one; printf \"cached: $N processes' image PSS is %.2fx one copy (target <= 1.5x): %s\n\", r, (r<=1.5)?\"met\":\"NOT met\"}"
	fi
}

# The entry for the held guest's arguments ("hold" is part of the template's key).
"$MVMM" run --cache-dir "$CDIR" --template "$GUEST" hold </dev/null >/dev/null
held cached
held nocache
echo "wrote $CSV"
