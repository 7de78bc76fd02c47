/* kvmstat.c: one named value from KVM's binary statistics. */
#define _GNU_SOURCE
#include "kvmstat.h"

#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "error.h"

/* Descriptors are name_size bytes of name after each struct kvm_stats_desc. */
static int stat_find(int sfd, const struct kvm_stats_header *h, const char *name, uint64_t *off)
{
	size_t dsize = sizeof(struct kvm_stats_desc) + h->name_size;
	uint8_t *descs;
	int ret = -1;

	if (h->num_desc == 0 || h->num_desc > 4096 || h->name_size == 0 || h->name_size > 256)
		return err_set("KVM statistics: a header out of range");
	descs = malloc(dsize * h->num_desc);
	if (!descs)
		return err_set("out of memory");
	if (pread(sfd, descs, dsize * h->num_desc, h->desc_offset) != (ssize_t)(dsize * h->num_desc)) {
		err_sys("reading KVM statistics descriptors");
		goto out;
	}
	for (uint32_t i = 0; i < h->num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(descs + i * dsize);

		if (strncmp(d->name, name, h->name_size) == 0) {
			*off = h->data_offset + d->offset;
			ret = 0;
			goto out;
		}
	}
	err_set("KVM has no statistic \"%s\"", name);
out:
	free(descs);
	return ret;
}

int kvm_stat_read(int fd, const char *name, uint64_t *val)
{
	struct kvm_stats_header h;
	uint64_t off = 0;
	int sfd, ret = -1;

	sfd = ioctl(fd, KVM_GET_STATS_FD, NULL);
	if (sfd < 0)
		return err_sys("KVM_GET_STATS_FD");
	if (pread(sfd, &h, sizeof(h), 0) != (ssize_t)sizeof(h)) {
		err_sys("reading the KVM statistics header");
		goto out;
	}
	if (stat_find(sfd, &h, name, &off) < 0)
		goto out;
	if (pread(sfd, val, sizeof(*val), (off_t)off) != (ssize_t)sizeof(*val)) {
		err_sys("reading KVM statistic %s", name);
		goto out;
	}
	ret = 0;
out:
	close(sfd);
	return ret;
}
