#!/usr/bin/env bash
# layers.sh LAYER...: checks the layering rule of vmm/ against its #include lines.
# The layers are given lowest first (the Makefile's LAYERS, then cli). A file in vmm/L/ may
# include "H" (a header of its own folder), "M/H" where M is L or a layer before it, and the
# host-guest ABI in shared/; anything else, and any source outside a layer folder, fails.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A rank
i=0
for l in "$@"; do
	rank[$l]=$i
	i=$((i + 1))
done
[ "$i" -gt 0 ] || { echo "usage: $0 LAYER... (lowest first)" >&2; exit 2; }

bad=0
complain() {
	echo "layering: $*" >&2
	bad=$((bad + 1))
}

while IFS= read -r f; do
	rel=${f#vmm/}
	own=${rel%%/*}
	if [ "$own" = "$rel" ] || [ -z "${rank[$own]+x}" ]; then
		complain "$f is not in a layer folder (${!rank[*]})"
		continue
	fi
	while IFS=: read -r line hdr; do
		case $hdr in
		*/*)
			dep=${hdr%%/*}
			if [ -z "${rank[$dep]+x}" ]; then
				complain "$f:$line includes \"$hdr\", which is in no layer"
			elif [ "${rank[$dep]}" -gt "${rank[$own]}" ]; then
				complain "$f:$line: $own/ includes \"$hdr\" from the higher layer $dep/"
			fi
			;;
		*)
			[ -e "vmm/$own/$hdr" ] || [ -e "shared/$hdr" ] ||
				complain "$f:$line includes \"$hdr\", found neither in vmm/$own/ nor in shared/"
			;;
		esac
	done < <(awk '/^[ \t]*#[ \t]*include[ \t]*"/ {
			h = $0; sub(/^[^"]*"/, "", h); sub(/".*$/, "", h); print FNR ":" h }' "$f")
done < <(find vmm -type f \( -name '*.c' -o -name '*.h' \) | sort)

if [ "$bad" -gt 0 ]; then
	echo "layering: $bad violation(s); the layers, lowest first: $*" >&2
	exit 1
fi
echo "layering: vmm/ follows $* (lowest first)"
