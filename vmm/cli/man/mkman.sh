#!/bin/sh
# mkman.sh MVMM PAGE: the man page PAGE (mvmm, or mvmm-COMMAND) on stdout, made from the
# help text of the built command MVMM (`mvmm help [COMMAND]`) by help2roff.awk, with the
# sections that are no help text (security.roff) and SEE ALSO.
set -eu
mvmm=$1
page=$2
here=$(dirname "$0")
version=$("$mvmm" --version | awk '{ print $2 }')
commands=$("$mvmm" help | awk '/^commands:$/ { on = 1; next } on && /^$/ { exit }
	on && $1 != "help" { print $1 }')
cmd=
summary="run guest programs in fresh, isolated KVM micro-VMs that share their pages"
if [ "$page" != mvmm ]; then
	cmd=${page#mvmm-}
	summary=$("$mvmm" help | awk -v c="$cmd" '$1 == c { $1 = ""; sub(/^ +/, ""); print; exit }')
	[ -n "$summary" ] || { echo "mkman.sh: no command $cmd in mvmm help" >&2; exit 1; }
fi
# $cmd unquoted: none for the overview
"$mvmm" help $cmd |
	awk -v page="$page" -v summary="$summary" -v version="$version" -f "$here/help2roff.awk"
case $page in
mvmm | mvmm-run | mvmm-serve) cat "$here/security.roff" ;;
esac
echo ".SH SEE ALSO"
{
	[ "$page" = mvmm ] || echo mvmm
	for c in $commands; do [ "mvmm-$c" = "$page" ] || echo "mvmm-$c"; done
	echo mvmm-cc
} | awk '{ gsub(/-/, "\\-"); printf "%s.BR %s (1)", (NR > 1 ? ",\n" : ""), $0 } END { print "" }'
echo "and the README of the mvmm sources."
