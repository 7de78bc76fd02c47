# bench/hostset.sh: huge-page host settings for the benchmarks (sourced, bash).
#
# The benchmarks run mvmm on each backing side by side: 4 KiB pages, shmem
# transparent huge pages and hugetlbfs pages. A backing that needs a host
# setting gets it for its run (as root) and the setting is put back on exit,
# whatever happens; without root, a backing the host does not already offer
# is reported as skipped.

HOSTSET_SHMEM=/sys/kernel/mm/transparent_hugepage/shmem_enabled
HOSTSET_NR=/proc/sys/vm/nr_hugepages
HOSTSET_SAVED_SHMEM=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$HOSTSET_SHMEM" 2>/dev/null)
HOSTSET_SAVED_NR=$(cat "$HOSTSET_NR" 2>/dev/null)

hostset_restore() {
	[[ $(id -u) == 0 ]] || return 0
	[[ -n $HOSTSET_SAVED_SHMEM ]] && echo "$HOSTSET_SAVED_SHMEM" >"$HOSTSET_SHMEM"
	[[ -n $HOSTSET_SAVED_NR ]] && echo "$HOSTSET_SAVED_NR" >"$HOSTSET_NR"
	return 0
}
trap hostset_restore EXIT

# hostset_offer 4k|thp|hugetlb [PAGES]: makes the host offer that backing; 1 if it cannot.
hostset_offer() {
	local want=$1 pages=${2:-64}
	case $want in
	4k) return 0 ;;
	thp)
		grep -qE '\[(advise|within_size|always|force)\]' "$HOSTSET_SHMEM" && return 0
		[[ $(id -u) == 0 ]] || return 1
		echo advise >"$HOSTSET_SHMEM"
		;;
	hugetlb)
		local free
		free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages 2>/dev/null || echo 0)
		((free >= pages)) && return 0
		[[ $(id -u) == 0 ]] || return 1
		echo $(($(cat "$HOSTSET_NR") + pages - free)) >"$HOSTSET_NR"
		free=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages)
		((free >= pages)) || return 1
		;;
	esac
}

# The --huge-pages value that runs mvmm on a backing.
hostset_flag() {
	case $1 in
	4k) echo off ;;
	*) echo "$1" ;;
	esac
}

# The raw-KVM floor for a first read of a shared 4 KiB page, in us (bench/touch_floor).
hostset_floor() {
	local bin=$1 backing=$2
	case $backing in
	thp) THP=1 "$bin" ;;
	*) "$bin" ;;
	esac
}
