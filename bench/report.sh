# bench/report.sh: what the benchmark scripts that compare mvmm with a baseline share
# (sourced, bash; linux.sh and interp.sh): bounded runs, the per-run CSV and its medians,
# and the report's rows (one CSV line and one printed line each, with a verdict).
#
# The sourcing script sets RUNS_CSV (every run), CSV (the figures; rows go to "$CSV.tmp"),
# CUR="" (the command in flight, for its clean-up trap), fails=0 (rows whose target was
# missed), and may set REPORT_FIG_W and REPORT_BASE_W (the printed columns' widths).

# bounded LIMIT_S STDOUT STDERR CMD...: CMD with stdin /dev/null, killed (with its process
# group) after LIMIT_S seconds; returns its status (124: timed out).
bounded() {
	local limit=$1 out=$2 err=$3 st=0
	shift 3
	timeout -k 5 "$limit" "$@" </dev/null >"$out" 2>"$err" &
	CUR=$!
	wait "$CUR" || st=$?
	CUR=""
	return "$st"
}

# Median (mean of the middle two for an even count) of the numbers on stdin, printed with
# three decimals (never in exponent form, which isnum would refuse); NA if none.
median() {
	grep -E '^-?[0-9.]+(e[-+]?[0-9]+)?$' | sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "NA"; exit }
		printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
record() { echo "$1,$2,$3,$4,$5" >>"$RUNS_CSV"; } # part name run value unit
med() { awk -F, -v p="$1" -v n="$2" '$1 == p && $2 == n { print $4 }' "$RUNS_CSV" | median; }
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p" <<<"$2"; }
isnum() { [[ $1 =~ ^-?[0-9]+(\.[0-9]+)?$ ]]; }
ratio() { isnum "$1" && isnum "$2" && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "NA" }' || echo NA; }
fmt() { isnum "$1" && awk -v v="$1" -v d="$2" 'BEGIN { printf "%.*f", d, v }' || echo "n/a"; }
ms() { isnum "$1" && awk -v v="$1" 'BEGIN { printf "%.3f", v / 1000 }' || echo NA; }

# row PART FIGURE MVMM BASELINE_NAME BASELINE UNIT TARGET_TEXT TARGET_COND(awk: m r b) DIGITS
row() {
	local part=$1 fig=$2 m=$3 bname=$4 b=$5 unit=$6 ttext=$7 cond=$8 d=${9:-2} r verdict=""
	r=$(ratio "$m" "$b")
	if [[ -n $cond ]]; then
		if ! isnum "$m" || { [[ $cond == *r* ]] && ! isnum "$r"; }; then
			verdict="n/a"
		elif awk -v m="$m" -v r="$r" -v b="$b" "BEGIN { exit !($cond) }"; then
			verdict="met"
		else
			verdict="MISSED"
			fails=$((fails + 1))
		fi
	fi
	# CSV fields: no commas, no leading blanks.
	local cfig=${fig//,/;}
	cfig=${cfig#"${cfig%%[! ]*}"}
	echo "$part,$cfig,$m,${bname//,/;},$b,$unit,$r,${ttext//,/;},$verdict" >>"$CSV.tmp"
	printf "  %-${REPORT_FIG_W:-36}s %12s  %-${REPORT_BASE_W:-26}s %12s  %7s  %s\n" "$fig" \
		"$(fmt "$m" "$d") $unit" "$bname" "$([[ -n $bname ]] && echo "$(fmt "$b" "$d") $unit")" \
		"$([[ $r == NA ]] && echo - || echo "${r}x")" "${ttext:+$ttext: }$verdict"
}
hdr() {
	printf "\n%s\n  %-${REPORT_FIG_W:-36}s %12s  %-${REPORT_BASE_W:-26}s %12s  %7s  %s\n" "$1" \
		"figure" "mvmm" "baseline" "value" "ratio" "target"
}
