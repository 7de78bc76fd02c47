#!/usr/bin/env bash
# install.sh: `make install` into a scratch DESTDIR, then `make uninstall`: every file install
# put there is gone, the directories that are mvmm's alone too, and files of others in the same
# directories stay. Run by make test (test-install), after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
# A make of its own: not the dry run, jobs or -q of a make that runs this.
unset MAKEFLAGS MFLAGS MAKELEVEL
make=make
root=$(mktemp -d /tmp/mvmm-install.XXXXXX)
trap 'rm -rf "$root"' EXIT
prefix=/usr/local
dest=$root$prefix

# Someone else's files beside ours.
mkdir -p "$dest/bin" "$dest/lib/pkgconfig" "$dest/include" "$dest/share/man/man1"
for f in bin/other lib/libother.a lib/pkgconfig/other.pc include/other.h share/man/man1/other.1; do
	echo "not mvmm's" >"$dest/$f"
done
others=$(find "$root" -type f | sort)

$make --no-print-directory -s install DESTDIR="$root" PREFIX=$prefix >/dev/null
installed=$(find "$root" \( -type f -o -type l \) | sort | comm -23 - <(echo "$others"))
n=$(echo "$installed" | grep -c . || true)
if [ "$n" -lt 10 ]; then
	echo "install.sh: make install put only $n files under $root" >&2
	exit 1
fi

$make --no-print-directory -s uninstall DESTDIR="$root" PREFIX=$prefix >/dev/null
left=$(find "$root" \( -type f -o -type l \) | sort | comm -23 - <(echo "$others"))
if [ -n "$left" ]; then
	echo "install.sh: make uninstall left:" $left >&2
	exit 1
fi
if [ "$(find "$root" -type f | sort)" != "$others" ]; then
	echo "install.sh: make uninstall removed a file that is not mvmm's" >&2
	exit 1
fi
dirs=$(find "$root" -mindepth 1 -type d | sed "s|^$root||" | grep mvmm || true)
if [ -n "$dirs" ]; then
	echo "install.sh: make uninstall left directories:" $dirs >&2
	exit 1
fi
echo "install.sh: make install put $n files, make uninstall removed them all and nothing else"
