/* mvmm/shm.h: shared-memory regions from the guest side: lookup, attach, detach, doorbells. */
#ifndef MVMM_SHM_GUEST_H
#define MVMM_SHM_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include <mvmm/hypercall.h>

/* The region the host granted under name (mvmm run --shm NAME:SIZE); 0 or -MVMM_E*. */
static inline int64_t mvmm_shm_lookup(const char *name, struct mvmm_shm_handle *h, uint64_t *size,
				      uint32_t *flags)
{
	struct mvmm_hc_shm_lookup a = { .name = (mvmm_gpa_t)(uintptr_t)name };
	int64_t r;

	while (name[a.name_len])
		a.name_len++;
	r = mvmm_hypercall(MVMM_HC_SHM_LOOKUP, &a);
	if (r == 0) {
		*h = a.handle;
		if (size)
			*size = a.size;
		if (flags)
			*flags = a.flags;
	}
	return r;
}

/* Maps the region at addr (page-aligned, in [MVMM_SHM_BASE, + MVMM_SHM_WINDOW)); 0 or -MVMM_E*. */
static inline int64_t mvmm_shm_attach(const struct mvmm_shm_handle *h, void *addr, uint64_t size,
				      uint32_t flags)
{
	struct mvmm_hc_shm_attach a = {
		.handle = *h, .addr = (mvmm_gpa_t)(uintptr_t)addr, .size = size, .flags = flags
	};

	return mvmm_hypercall(MVMM_HC_SHM_ATTACH, &a);
}

static inline int64_t mvmm_shm_detach(void *addr)
{
	struct mvmm_hc_shm_detach a = { .addr = (mvmm_gpa_t)(uintptr_t)addr };

	return mvmm_hypercall(MVMM_HC_SHM_DETACH, &a);
}

static inline int64_t mvmm_shm_info(const struct mvmm_shm_handle *h, uint64_t *size,
				    uint32_t *flags, uint32_t *attached)
{
	struct mvmm_hc_shm_info a = { .handle = *h };
	int64_t r = mvmm_hypercall(MVMM_HC_SHM_INFO, &a);

	if (r == 0) {
		if (size)
			*size = a.size;
		if (flags)
			*flags = a.flags;
		if (attached)
			*attached = a.attached;
	}
	return r;
}

/* Rings the region's doorbell; *seq (if given) gets the counter after the bump. */
static inline int64_t mvmm_shm_notify(const struct mvmm_shm_handle *h, uint64_t *seq)
{
	struct mvmm_hc_shm_notify a = { .handle = *h };
	int64_t r = mvmm_hypercall(MVMM_HC_SHM_NOTIFY, &a);

	if (r == 0 && seq)
		*seq = a.seq;
	return r;
}

/*
 * Sleeps until the counter differs from *seen (at once if it already does),
 * then stores the counter in *seen. flags: MVMM_SHM_WAIT_NOTIFY rings first.
 * timeout_ns: 0 does not sleep, MVMM_SHM_FOREVER has no limit of its own.
 */
static inline int64_t mvmm_shm_wait(const struct mvmm_shm_handle *h, uint64_t *seen,
				    uint64_t timeout_ns, uint32_t flags)
{
	struct mvmm_hc_shm_wait a = {
		.handle = *h, .seen = *seen, .timeout_ns = timeout_ns, .flags = flags
	};
	int64_t r = mvmm_hypercall(MVMM_HC_SHM_WAIT, &a);

	*seen = a.seq;
	return r;
}

/*
 * Looks up name and attaches it at addr (NULL: MVMM_SHM_BASE), read-only if
 * ro or if the grant is read-only. Returns the mapping, or NULL with *err set.
 */
static inline void *mvmm_shm_open(const char *name, void *addr, int ro, struct mvmm_shm_handle *h,
				  uint64_t *size, int64_t *err)
{
	uint32_t flags = 0;
	uint64_t sz = 0;
	int64_t r = mvmm_shm_lookup(name, h, &sz, &flags);

	if (!addr)
		addr = (void *)(uintptr_t)MVMM_SHM_BASE;
	if (r == 0)
		r = mvmm_shm_attach(h, addr, sz, ro || (flags & MVMM_SHM_RO) ? MVMM_SHM_RO : 0);
	if (err)
		*err = r;
	if (r < 0)
		return NULL;
	if (size)
		*size = sz;
	return addr;
}

#endif /* MVMM_SHM_GUEST_H */
