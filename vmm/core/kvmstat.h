/* kvmstat.h: KVM's binary statistics of a VM or vCPU (KVM_GET_STATS_FD), read by name. */
#ifndef MVMM_KVMSTAT_H
#define MVMM_KVMSTAT_H

#include <stdint.h>

/*
 * Reads statistic `name` (its first value) of the VM or vCPU behind fd:
 * for a VM "pages_4k", "pages_2m" (shadow entries mapping 4 KiB and 2 MiB),
 * for a vCPU "pf_taken", "pf_fixed", "exits". Returns 0, or -1 with the
 * message set when the kernel has no such statistic.
 */
int kvm_stat_read(int fd, const char *name, uint64_t *val);

#endif
