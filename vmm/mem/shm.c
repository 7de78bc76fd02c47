/* shm.c: shared-memory regions: handles, attachments as memslots and page tables, doorbells. */
#define _GNU_SOURCE
#include "shm.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/gmem.h"
#include "core/layout.h"
#include "core/vm.h"
#include "core/x86.h"

#define SHM_SLOT_BASE 16u /* memslot of attachment i: SHM_SLOT_BASE + i (slot 0 is guest memory) */
#define SHM_WAIT_SLICE_NS 100000000ull /* a waiter re-checks vm_stop and its deadline this often */
/*
 * A waiter polls the counter this long before it sleeps on the condition
 * variable (a peer turns a doorbell round in about two exits, ~60 us here),
 * while waking a sleeping thread costs ~15-25 us more (a host futex wake
 * and a reschedule), which would double a doorbell round trip.
 */
#define SHM_WAIT_SPIN_NS 100000ull


struct shm_region {
	struct shm_region *next; /* in the registry while not destroyed */
	struct mvmm_shm_handle handle[2]; /* [0] read-write, [1] read-only */
	int memfd;
	uint64_t size;
	void *host; /* shm_region_host's mapping, or NULL */
	/* Under lock: */
	pthread_mutex_t lock;
	pthread_cond_t bell;
	uint64_t seq;	   /* the doorbell's counter */
	unsigned refs;	   /* the host's (until destroyed), one per attachment and per call in progress */
	unsigned attached; /* attachments, all guests */
	uint64_t ends;	   /* guests that ended with the region attached */
	unsigned expected; /* guests the host gave its handles to (shm_region_expect), or 0 */
	unsigned granted_ended; /* of those, the ones whose run is over */
	int revoked;
};

struct shm_attachment {
	struct shm_region *r; /* NULL: free */
	uint64_t gpa, size;
	void *host;
	int ro;
};

struct shm_vm {
	struct shm_attachment at[MVMM_SHM_ATTACH_MAX];
	int tables_linked; /* PDPT entry 1 and the window's PD entries are set */
	int granted;	   /* shm_vm_granted: the run's end counts for its grants' regions */
	int end_counted;
};

/* The registry: every region whose handles resolve. */
static pthread_mutex_t shm_registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct shm_region *shm_registry;
static unsigned shm_live;

struct shm_region *shm_region_create(uint64_t size)
{
	struct shm_region *r;

	if (!size || size % MVMM_PAGE_SIZE || size > MVMM_SHM_WINDOW) {
		err_set("shared region size %lu: not a multiple of 4 KiB from 4 KiB to %llu MiB",
			(unsigned long)size, MVMM_SHM_WINDOW >> 20);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		err_set("out of memory");
		return NULL;
	}
	if (getrandom(r->handle, sizeof(r->handle), 0) != (ssize_t)sizeof(r->handle)) {
		err_sys("getrandom");
		free(r);
		return NULL;
	}
	r->memfd = memfd_create("mvmm-shm", MFD_CLOEXEC);
	if (r->memfd < 0 || ftruncate(r->memfd, (off_t)size) < 0) {
		err_sys("creating a %lu-byte shared region", (unsigned long)size);
		if (r->memfd >= 0)
			close(r->memfd);
		free(r);
		return NULL;
	}
	r->size = size;
	r->refs = 1;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->bell, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_lock(&shm_registry_lock);
	r->next = shm_registry;
	shm_registry = r;
	shm_live++;
	pthread_mutex_unlock(&shm_registry_lock);
	return r;
}

static void shm_region_put(struct shm_region *r)
{
	unsigned left;

	pthread_mutex_lock(&r->lock);
	left = --r->refs;
	pthread_mutex_unlock(&r->lock);
	if (left)
		return;
	if (r->host)
		munmap(r->host, r->size);
	close(r->memfd);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->bell);
	free(r);
	pthread_mutex_lock(&shm_registry_lock);
	shm_live--;
	pthread_mutex_unlock(&shm_registry_lock);
}

void shm_region_destroy(struct shm_region *r)
{
	struct shm_region **p;

	if (!r)
		return;
	pthread_mutex_lock(&shm_registry_lock);
	for (p = &shm_registry; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	pthread_mutex_unlock(&shm_registry_lock);
	pthread_mutex_lock(&r->lock);
	r->revoked = 1;
	pthread_cond_broadcast(&r->bell);
	pthread_mutex_unlock(&r->lock);
	shm_region_put(r);
}

uint64_t shm_region_size(const struct shm_region *r)
{
	return r->size;
}

void shm_region_handle(const struct shm_region *r, int ro, struct mvmm_shm_handle *h)
{
	*h = r->handle[ro ? 1 : 0];
}

void *shm_region_host(struct shm_region *r)
{
	pthread_mutex_lock(&r->lock);
	if (!r->host) {
		void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->memfd, 0);

		if (p == MAP_FAILED)
			err_sys("mapping a shared region");
		else
			r->host = p;
	}
	pthread_mutex_unlock(&r->lock);
	return r->host;
}

uint64_t shm_region_notify(struct shm_region *r)
{
	uint64_t seq;

	pthread_mutex_lock(&r->lock);
	seq = __atomic_add_fetch(&r->seq, 1, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&r->bell);
	pthread_mutex_unlock(&r->lock);
	return seq;
}

unsigned shm_region_attached(const struct shm_region *r)
{
	unsigned n;

	pthread_mutex_lock((pthread_mutex_t *)&r->lock);
	n = r->attached;
	pthread_mutex_unlock((pthread_mutex_t *)&r->lock);
	return n;
}

int shm_name_ok(const char *s, size_t len)
{
	size_t i;

	if (!len || len >= MVMM_SHM_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-' || s[i] == '.'))
			return 0;
	return 1;
}

unsigned shm_live_regions(void)
{
	unsigned n;

	pthread_mutex_lock(&shm_registry_lock);
	n = shm_live;
	pthread_mutex_unlock(&shm_registry_lock);
	return n;
}

/* The region a handle names, with a reference taken, and whether the handle is read-only; NULL if none. */
static struct shm_region *shm_resolve(const struct mvmm_shm_handle *h, int *ro)
{
	struct shm_region *r;

	pthread_mutex_lock(&shm_registry_lock);
	for (r = shm_registry; r; r = r->next) {
		int i;

		for (i = 0; i < 2; i++)
			if (memcmp(&r->handle[i], h, sizeof(*h)) == 0)
				break;
		if (i < 2) {
			if (ro)
				*ro = i;
			pthread_mutex_lock(&r->lock);
			r->refs++;
			pthread_mutex_unlock(&r->lock);
			break;
		}
	}
	pthread_mutex_unlock(&shm_registry_lock);
	return r;
}

/* ---- page tables of the window -------------------------------------------------------- */

static uint64_t *shm_entry(struct vm *vm, uint64_t table_gpa, unsigned index)
{
	return gmem_ptr(&vm->mem, table_gpa + index * 8ull, 8);
}

/*
 * Links PDPT entry 1 to the window's PD and every PD entry to its PT page,
 * once per instance. The writes go through the instance's private mapping:
 * copy-on-write keeps them out of the image and out of other instances.
 */
static int shm_link_tables(struct vm *vm)
{
	uint64_t *e;
	unsigned i;

	if (vm->shm->tables_linked)
		return 0;
	if (vm->mem.size < layout_shm_pt_gpa(MVMM_SHM_WINDOW >> 21))
		return -1;
	for (i = 0; i < MVMM_SHM_WINDOW >> 21; i++) {
		e = shm_entry(vm, LAYOUT_SHM_PD_GPA, i);
		*e = layout_shm_pt_gpa(i) | PTE_TABLE;
	}
	e = shm_entry(vm, LAYOUT_PDPT_GPA, (unsigned)(MVMM_SHM_BASE >> 30));
	*e = LAYOUT_SHM_PD_GPA | PTE_TABLE;
	vm->shm->tables_linked = 1;
	return 0;
}

static uint64_t *shm_pte(struct vm *vm, uint64_t gpa)
{
	uint64_t off = gpa - MVMM_SHM_BASE;

	return shm_entry(vm, layout_shm_pt_gpa(off >> 21), (unsigned)((off >> 12) & 511));
}

static void shm_map_pages(struct vm *vm, const struct shm_attachment *a, int map)
{
	uint64_t flags = PTE_P | PTE_US | PTE_A | PTE_D | PTE_NX | (a->ro ? 0 : PTE_RW);
	uint64_t p;

	for (p = a->gpa; p < a->gpa + a->size; p += MVMM_PAGE_SIZE)
		*shm_pte(vm, p) = map ? p | flags : 0;
}

static int shm_set_slot(struct vm *vm, unsigned i, const struct shm_attachment *a, int add)
{
	struct kvm_userspace_memory_region slot;

	memset(&slot, 0, sizeof(slot));
	slot.slot = SHM_SLOT_BASE + i;
	if (add) {
		slot.flags = a->ro ? KVM_MEM_READONLY : 0;
		slot.guest_phys_addr = a->gpa;
		slot.memory_size = a->size;
		slot.userspace_addr = (uintptr_t)a->host;
	}
	return ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &slot);
}

/* ---- attach and detach ---------------------------------------------------------------- */

/* A run's end detaches everything; the VM's teardown frees the attachment table. */
static const struct vm_ext shm_vm_ext = {
	.run_end = shm_vm_end,
	.release = shm_vm_free,
};

static int shm_vm_state(struct vm *vm)
{
	if (!vm->shm && vm_ext_add(vm, &shm_vm_ext) == 0)
		vm->shm = calloc(1, sizeof(*vm->shm));
	return vm->shm ? 0 : -1;
}

static int shm_overlaps(const struct shm_vm *s, uint64_t gpa, uint64_t size)
{
	unsigned i;

	for (i = 0; i < MVMM_SHM_ATTACH_MAX; i++)
		if (s->at[i].r && gpa < s->at[i].gpa + s->at[i].size && s->at[i].gpa < gpa + size)
			return 1;
	return 0;
}

/* Validates and performs one attachment; returns 0 or -MVMM_E*. r's reference passes to it. */
static int64_t shm_attach(struct vm *vm, struct shm_region *r, int handle_ro,
			  const struct mvmm_hc_shm_attach *a)
{
	struct shm_attachment *at = NULL;
	unsigned i;

	if (a->flags & ~MVMM_SHM_RO)
		return -MVMM_EINVAL;
	if (handle_ro && !(a->flags & MVMM_SHM_RO))
		return -MVMM_EPERM;
	if (a->size != r->size || a->addr % MVMM_PAGE_SIZE || a->addr < MVMM_SHM_BASE ||
	    a->addr - MVMM_SHM_BASE > MVMM_SHM_WINDOW ||
	    a->size > MVMM_SHM_WINDOW - (a->addr - MVMM_SHM_BASE))
		return -MVMM_EINVAL;
	if (vm->fd < 0 || shm_vm_state(vm) < 0)
		return -MVMM_EIO; /* lean instances have no VM fd for new memslots */
	if (shm_overlaps(vm->shm, a->addr, a->size))
		return -MVMM_EBUSY;
	for (i = 0; i < MVMM_SHM_ATTACH_MAX && !at; i++)
		if (!vm->shm->at[i].r)
			at = &vm->shm->at[i];
	if (!at)
		return -MVMM_ENOSPC;
	i = (unsigned)(at - vm->shm->at);
	at->gpa = a->addr;
	at->size = a->size;
	at->ro = !!(a->flags & MVMM_SHM_RO);
	at->host = mmap(NULL, r->size, PROT_READ | (at->ro ? 0 : PROT_WRITE), MAP_SHARED, r->memfd,
			0);
	if (at->host == MAP_FAILED)
		return -MVMM_EIO;
	if (shm_link_tables(vm) < 0 || shm_set_slot(vm, i, at, 1) < 0) {
		munmap(at->host, at->size);
		return -MVMM_EIO;
	}
	shm_map_pages(vm, at, 1);
	at->r = r;
	pthread_mutex_lock(&r->lock);
	r->attached++;
	pthread_mutex_unlock(&r->lock);
	return 0;
}

/*
 * Removing a mapping: there is no INVLPG from the host, and with shadow
 * paging (PVM) KVM does not see the VMM's writes to guest page tables. What
 * makes the old mapping unusable is deleting the memslot: KVM then zaps the
 * shadow/EPT entries of the slot's pages and flushes the vCPU's TLB, so the
 * next access walks the guest's tables again and finds the cleared PTE (a
 * #PF reported to the VMM); even a walk that raced ahead could only reach a
 * guest-physical address with no memslot (an MMIO exit, a guest error).
 * New mappings need nothing: an absent entry is never cached as present.
 */
static void shm_detach_at(struct vm *vm, unsigned i, int ended)
{
	struct shm_attachment *at = &vm->shm->at[i];
	struct shm_region *r = at->r;

	shm_map_pages(vm, at, 0);
	if (vm->fd >= 0)
		shm_set_slot(vm, i, at, 0);
	munmap(at->host, at->size);
	pthread_mutex_lock(&r->lock);
	r->attached--;
	if (ended)
		r->ends++;
	pthread_cond_broadcast(&r->bell);
	pthread_mutex_unlock(&r->lock);
	memset(at, 0, sizeof(*at));
	shm_region_put(r);
}

/* vm's run is over: each region it was granted has one guest fewer that could still ring. */
static void shm_grants_end(struct vm *vm)
{
	const struct shm_grant *g;

	if (!vm->shm->granted || vm->shm->end_counted)
		return;
	vm->shm->end_counted = 1;
	for (g = vm->shm_grants; g && g->name; g++) {
		struct shm_region *r = shm_resolve(&g->handle, NULL);

		if (!r)
			continue;
		pthread_mutex_lock(&r->lock);
		r->granted_ended++;
		pthread_cond_broadcast(&r->bell);
		pthread_mutex_unlock(&r->lock);
		shm_region_put(r);
	}
}

void shm_vm_end(struct vm *vm)
{
	unsigned i;

	if (!vm->shm)
		return;
	for (i = 0; i < MVMM_SHM_ATTACH_MAX; i++)
		if (vm->shm->at[i].r)
			shm_detach_at(vm, i, 1);
	/*
	 * A VM reused for another clone (the library keeps finished clones)
	 * gets its memory back from the template, without the links: the next
	 * attach must write them again (rewriting links still there is harmless).
	 */
	vm->shm->tables_linked = 0;
	shm_grants_end(vm);
}

int shm_vm_granted(struct vm *vm)
{
	if (!vm->shm_grants)
		return 0;
	if (shm_vm_state(vm) < 0)
		return err_set("out of memory");
	vm->shm->granted = 1;
	vm->shm->end_counted = 0;
	return 0;
}

void shm_region_expect(struct shm_region *r, unsigned guests)
{
	pthread_mutex_lock(&r->lock);
	r->expected = guests;
	pthread_mutex_unlock(&r->lock);
}

/*
 * Nobody is left to ring r's doorbell for a waiter with `mine` attachments:
 * the host revoked it, or no other guest has it attached and either one that
 * had it attached has ended, or every other guest the host gave it to (if
 * there were others) has.
 */
static int shm_no_peer_left(const struct shm_region *r, unsigned mine)
{
	if (r->revoked)
		return 1;
	if (r->attached != mine)
		return 0;
	return r->ends > 0 || (r->expected > 1 && r->granted_ended + 1 >= r->expected);
}

void shm_vm_free(struct vm *vm)
{
	shm_vm_end(vm);
	free(vm->shm);
	vm->shm = NULL;
}

/* ---- hypercalls ----------------------------------------------------------------------- */

enum exit_action shm_hc_lookup(struct vm *vm, void *blk)
{
	struct mvmm_hc_shm_lookup *a = blk;
	const struct shm_grant *g;
	const char *name;
	struct shm_region *r = NULL;
	int ro = 0;

	name = gmem_user_ptr(&vm->mem, a->name, a->name_len);
	if (!name)
		return exit_guest_error(
			vm, "hypercall shm_lookup: name 0x%lx+%lu outside the guest's user memory",
			(unsigned long)a->name, (unsigned long)a->name_len);
	a->ret = -MVMM_ENOENT;
	if (a->name_len > MVMM_SHM_NAME_MAX) {
		a->ret = -MVMM_EINVAL;
		return EXIT_CONTINUE;
	}
	for (g = vm->shm_grants; g && g->name; g++)
		if (strlen(g->name) == a->name_len && memcmp(g->name, name, a->name_len) == 0)
			break;
	if (g && g->name)
		r = shm_resolve(&g->handle, &ro);
	if (!r)
		return EXIT_CONTINUE;
	a->handle = g->handle;
	a->size = r->size;
	a->flags = ro ? MVMM_SHM_RO : 0;
	a->ret = 0;
	shm_region_put(r);
	return EXIT_CONTINUE;
}

enum exit_action shm_hc_attach(struct vm *vm, void *blk)
{
	struct mvmm_hc_shm_attach *a = blk;
	struct shm_region *r;
	int ro;

	r = shm_resolve(&a->handle, &ro);
	if (!r) {
		a->ret = -MVMM_ENOENT;
		return EXIT_CONTINUE;
	}
	a->ret = shm_attach(vm, r, ro, a);
	if (a->ret < 0)
		shm_region_put(r);
	return EXIT_CONTINUE;
}

enum exit_action shm_hc_detach(struct vm *vm, void *blk)
{
	struct mvmm_hc_shm_detach *a = blk;
	unsigned i;

	a->ret = -MVMM_EINVAL;
	for (i = 0; vm->shm && i < MVMM_SHM_ATTACH_MAX; i++)
		if (vm->shm->at[i].r && vm->shm->at[i].gpa == a->addr) {
			shm_detach_at(vm, i, 0);
			a->ret = 0;
			break;
		}
	return EXIT_CONTINUE;
}

enum exit_action shm_hc_info(struct vm *vm, void *blk)
{
	struct mvmm_hc_shm_info *a = blk;
	struct shm_region *r;
	int ro;

	(void)vm;
	r = shm_resolve(&a->handle, &ro);
	if (!r) {
		a->ret = -MVMM_ENOENT;
		return EXIT_CONTINUE;
	}
	a->size = r->size;
	a->flags = ro ? MVMM_SHM_RO : 0;
	a->attached = shm_region_attached(r);
	a->ret = 0;
	shm_region_put(r);
	return EXIT_CONTINUE;
}

enum exit_action shm_hc_notify(struct vm *vm, void *blk)
{
	struct mvmm_hc_shm_notify *a = blk;
	struct shm_region *r;

	(void)vm;
	r = shm_resolve(&a->handle, NULL);
	if (!r) {
		a->ret = -MVMM_ENOENT;
		return EXIT_CONTINUE;
	}
	a->seq = shm_region_notify(r);
	a->ret = 0;
	shm_region_put(r);
	return EXIT_CONTINUE;
}

static unsigned shm_my_attachments(const struct vm *vm, const struct shm_region *r)
{
	unsigned i, n = 0;

	for (i = 0; vm->shm && i < MVMM_SHM_ATTACH_MAX; i++)
		n += vm->shm->at[i].r == r;
	return n;
}

static uint64_t shm_min(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* The wait proper, under r->lock; returns 0 or -MVMM_E*, or 1 when the VM's own deadline passed. */
static int shm_wait_locked(struct vm *vm, struct shm_region *r, const struct mvmm_hc_shm_wait *a,
			   unsigned mine)
{
	uint64_t target = a->seen, now = vm_now_ns(), until = UINT64_MAX;
	int spun = 0;

	if (a->flags & MVMM_SHM_WAIT_NOTIFY) {
		uint64_t before = __atomic_fetch_add(&r->seq, 1, __ATOMIC_SEQ_CST);

		pthread_cond_broadcast(&r->bell);
		if (before != a->seen)
			return 0; /* something moved since the guest looked: no sleep */
		target = r->seq;
	}
	if (a->timeout_ns != MVMM_SHM_FOREVER)
		until = a->timeout_ns > UINT64_MAX - now ? UINT64_MAX : now + a->timeout_ns;
	for (;;) {
		uint64_t wake;
		struct timespec ts;

		if (r->seq != target)
			return 0;
		if (shm_no_peer_left(r, mine))
			return -MVMM_EPIPE;
		if (__atomic_load_n(&vm->stop, __ATOMIC_SEQ_CST))
			return -MVMM_EIO; /* the run loop sees the stop at its next KVM_RUN */
		now = vm_now_ns();
		if (vm->deadline_ns && now >= vm->deadline_ns)
			return 1;
		if (now >= until)
			return -MVMM_ETIMEDOUT;
		if (!spun) {
			uint64_t stop = shm_min(until, now + SHM_WAIT_SPIN_NS);

			spun = 1;
			pthread_mutex_unlock(&r->lock);
			while (__atomic_load_n(&r->seq, __ATOMIC_ACQUIRE) == target &&
			       vm_now_ns() < stop)
				__builtin_ia32_pause();
			pthread_mutex_lock(&r->lock);
			continue;
		}
		wake = shm_min(until, now + SHM_WAIT_SLICE_NS);
		if (vm->deadline_ns)
			wake = shm_min(wake, vm->deadline_ns);
		ts.tv_sec = (time_t)(wake / 1000000000ull);
		ts.tv_nsec = (long)(wake % 1000000000ull);
		pthread_cond_timedwait(&r->bell, &r->lock, &ts);
	}
}

enum exit_action shm_hc_wait(struct vm *vm, void *blk)
{
	struct mvmm_hc_shm_wait *a = blk;
	struct shm_region *r;
	unsigned mine;
	int rc;

	if (a->flags & ~MVMM_SHM_WAIT_NOTIFY) {
		a->ret = -MVMM_EINVAL;
		return EXIT_CONTINUE;
	}
	r = shm_resolve(&a->handle, NULL);
	if (!r) {
		a->ret = -MVMM_ENOENT;
		return EXIT_CONTINUE;
	}
	mine = shm_my_attachments(vm, r);
	/* A sleeping guest counts as paused (vm_pause); nothing here touches guest memory. */
	vm_block_begin(vm);
	pthread_mutex_lock(&r->lock);
	rc = shm_wait_locked(vm, r, a, mine);
	a->seq = r->seq;
	pthread_mutex_unlock(&r->lock);
	vm_block_end(vm);
	shm_region_put(r);
	if (rc == 1) {
		vm->res->end = VM_END_TIMEOUT;
		return EXIT_STOP;
	}
	a->ret = rc;
	return EXIT_CONTINUE;
}
