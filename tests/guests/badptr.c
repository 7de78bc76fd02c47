/* badptr.c: a hostile guest: one hypercall with a bad pointer, chosen by argv[1]. */
#include <stdint.h>
#include <stdio.h>
#include <sys/sysinfo.h>

#include <mvmm/hypercall.h>

/*
 * argv[1] is "NAME-block-KIND" (NAME's argument block itself is bad: oob,
 * end, misaligned, systemarea, pagetables, null), "NAME-buf-KIND" (a good
 * block naming a bad buffer, for request and shm_lookup: oob, end, wrap,
 * huge, null, systemarea, pagetables), or "unknown-nr" / "unknown-nr-63".
 * Every case must end the guest with a guest error; if the VMM lets the
 * call return, the guest says so and exits 99.
 */

static const char *const hc_names[MVMM_HC_COUNT] = {
	[MVMM_HC_READY] = "ready", [MVMM_HC_REQUEST] = "request", [MVMM_HC_WAIT] = "wait",
	[MVMM_HC_CHECKPOINT] = "checkpoint",
	[MVMM_HC_SHM_LOOKUP] = "shm_lookup", [MVMM_HC_SHM_ATTACH] = "shm_attach",
	[MVMM_HC_SHM_DETACH] = "shm_detach", [MVMM_HC_SHM_INFO] = "shm_info",
	[MVMM_HC_SHM_NOTIFY] = "shm_notify", [MVMM_HC_SHM_WAIT] = "shm_wait",
};

static uint64_t block[8] __attribute__((aligned(64)));
static char data[64] = "badptr data";

/* The raw primitive: any 32-bit value to any hypercall port. */
static void hc_raw(unsigned nr, uint32_t value)
{
	__asm__ volatile("outl %%eax, %%dx" : : "a"(value), "d"((uint16_t)(MVMM_HC_PORT_BASE + nr))
			 : "memory");
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* If s starts with prefix, the rest of s; else NULL. */
static const char *after(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return NULL;
	return s;
}

static int block_value(const char *kind, uint64_t mem, uint32_t *v)
{
	if (same(kind, "oob"))
		*v = 0xfffffff8u;
	else if (same(kind, "end"))
		*v = (uint32_t)mem;
	else if (same(kind, "misaligned"))
		*v = (uint32_t)(uintptr_t)block + 4;
	else if (same(kind, "systemarea"))
		*v = MVMM_TSS_GPA;
	else if (same(kind, "pagetables"))
		*v = MVMM_PGTABLE_GPA;
	else if (same(kind, "null"))
		*v = 0;
	else
		return -1;
	return 0;
}

static int buffer_range(const char *kind, uint64_t mem, uint64_t *buf, uint64_t *len)
{
	*len = 16;
	if (same(kind, "oob"))
		*buf = 0xf0000000u;
	else if (same(kind, "end"))
		*buf = mem - 8;
	else if (same(kind, "wrap"))
		*buf = UINT64_MAX - 0xfff, *len = 0x2000;
	else if (same(kind, "huge"))
		*buf = (uintptr_t)data, *len = UINT64_MAX;
	else if (same(kind, "null"))
		*buf = 0;
	else if (same(kind, "systemarea"))
		*buf = MVMM_GDT_GPA;
	else if (same(kind, "pagetables"))
		*buf = MVMM_PGTABLE_GPA, *len = 64;
	else
		return -1;
	return 0;
}

static int bad_buffer(unsigned nr, const char *kind, uint64_t mem)
{
	uint64_t buf, len;

	if (buffer_range(kind, mem, &buf, &len) < 0)
		return -1;
	switch (nr) {
	case MVMM_HC_REQUEST:
		*(struct mvmm_hc_request *)block = (struct mvmm_hc_request){ .buf = buf, .len = len };
		break;
	case MVMM_HC_SHM_LOOKUP:
		*(struct mvmm_hc_shm_lookup *)block =
			(struct mvmm_hc_shm_lookup){ .name = buf, .name_len = len };
		break;
	default:
		return -1;
	}
	hc_raw(nr, (uint32_t)(uintptr_t)block);
	return 0;
}

/* The guest's memory size: sysinfo's total is the VM's. */
static uint64_t mem_size(void)
{
	struct sysinfo si;

	return sysinfo(&si) == 0 ? (uint64_t)si.totalram * si.mem_unit : 0;
}

int main(int argc, char **argv)
{
	uint64_t mem = mem_size();
	const char *c = argc == 2 ? argv[1] : "", *kind;
	unsigned nr;
	uint32_t v;

	if (same(c, "unknown-nr")) {
		hc_raw(MVMM_HC_COUNT, (uint32_t)(uintptr_t)block);
		goto survived;
	}
	if (same(c, "unknown-nr-63")) {
		hc_raw(63, (uint32_t)(uintptr_t)block);
		goto survived;
	}
	for (nr = 0; nr < MVMM_HC_COUNT; nr++) {
		const char *rest = after(c, hc_names[nr]);

		if (!rest)
			continue;
		if ((kind = after(rest, "-block-")) != NULL && block_value(kind, mem, &v) == 0) {
			hc_raw(nr, v);
			goto survived;
		}
		if ((kind = after(rest, "-buf-")) != NULL && bad_buffer(nr, kind, mem) == 0)
			goto survived;
	}
	fprintf(stderr, "badptr: unknown case '%s'\n", c);
	return 2;
survived:
	printf("badptr: the host accepted %s\n", c);
	return 99;
}
