/* malloc.c: a boundary-tag allocator over the boot info's heap range. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <mvmm/hypercall.h>
#include "internal.h"

/*
 * Chunks sit back to back from heap_lo to top; [top, heap_end) is never
 * touched until a chunk is cut from it, so the guest faults in only the
 * pages it uses (each first touch costs a page fault under PVM). Every
 * chunk header holds its own size (bit 0: in use) and its physical
 * predecessor's size, so free() merges with both neighbours in O(1). Free
 * chunks live on doubly linked lists binned by floor(log2(size)); a free
 * chunk next to top is given back to top instead.
 */
#define HDR	  16u
#define MIN_CHUNK 32u
#define INUSE	  1u
#define NBINS	  64

struct chunk {
	size_t prev_size; /* size of the chunk just below, 0 for the first */
	size_t size;	  /* this chunk's bytes including the header, | INUSE */
	struct chunk *next, *prev; /* free-list links, only while free */
};

static uintptr_t heap_lo, top, heap_end;
static size_t top_prev; /* size of the chunk just below top */
static struct chunk *bins[NBINS];

void __mvmm_malloc_init(uintptr_t start, uintptr_t end)
{
	heap_lo = (start + 15) & ~(uintptr_t)15;
	heap_end = end & ~(uintptr_t)15;
	if (heap_end < heap_lo)
		heap_end = heap_lo; /* no heap: every malloc fails */
	top = heap_lo;
	top_prev = 0;
}

static size_t csize(const struct chunk *c)
{
	return c->size & ~(size_t)INUSE;
}

static struct chunk *after(struct chunk *c)
{
	return (struct chunk *)((char *)c + csize(c));
}

static int bin_of(size_t size)
{
	return 63 - __builtin_clzll(size);
}

static void bin_insert(struct chunk *c)
{
	struct chunk **head = &bins[bin_of(c->size)];

	c->prev = NULL;
	c->next = *head;
	if (*head)
		(*head)->prev = c;
	*head = c;
}

static void bin_remove(struct chunk *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		bins[bin_of(c->size)] = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

/* Records c's new size in c and in whatever follows it. */
static void set_size(struct chunk *c, size_t size, size_t inuse)
{
	c->size = size | inuse;
	if ((uintptr_t)c + size == top)
		top_prev = size;
	else
		after(c)->prev_size = size;
}

/* Frees a chunk: merges with free neighbours, then bins it or returns it to top. */
static void release(struct chunk *c)
{
	size_t size = csize(c);

	if ((uintptr_t)c != heap_lo) {
		struct chunk *p = (struct chunk *)((char *)c - c->prev_size);

		if (!(p->size & INUSE)) {
			bin_remove(p);
			size += csize(p);
			c = p;
		}
	}
	if ((uintptr_t)c + size == top) {
		top = (uintptr_t)c;
		top_prev = c->prev_size;
		return;
	}
	{
		struct chunk *n = (struct chunk *)((char *)c + size);

		if (!(n->size & INUSE)) {
			bin_remove(n);
			size += csize(n);
		}
	}
	set_size(c, size, 0);
	bin_insert(c);
}

/* Keeps the first `need` bytes of in-use chunk c and frees the rest if worth it. */
static void trim(struct chunk *c, size_t need)
{
	size_t size = csize(c);
	struct chunk *rest;

	if (size - need < MIN_CHUNK)
		return;
	set_size(c, need, INUSE);
	rest = after(c);
	rest->prev_size = need;
	set_size(rest, size - need, INUSE);
	release(rest);
}

static struct chunk *from_bins(size_t need)
{
	int b;
	struct chunk *c;

	/* first fit in need's own bin, where chunks may be too small */
	for (c = bins[bin_of(need)]; c; c = c->next)
		if (csize(c) >= need)
			goto found;
	/* any chunk of a larger bin fits */
	for (b = bin_of(need) + 1; b < NBINS; b++)
		if ((c = bins[b]))
			goto found;
	return NULL;
found:
	bin_remove(c);
	set_size(c, csize(c), INUSE);
	trim(c, need);
	return c;
}

static struct chunk *from_top(size_t need)
{
	struct chunk *c = (struct chunk *)top;

	if (heap_end - top < need)
		return NULL;
	c->prev_size = top_prev;
	top += need;
	set_size(c, need, INUSE);
	return c;
}

/* Bytes of chunk for n bytes of payload; 0 if n is absurd. */
static size_t chunk_need(size_t n)
{
	size_t need;

	if (n > ((size_t)1 << 48))
		return 0;
	need = (n + HDR + 15) & ~(size_t)15;
	return need < MIN_CHUNK ? MIN_CHUNK : need;
}

void *malloc(size_t n)
{
	size_t need = chunk_need(n);
	struct chunk *c;

	if (!need) {
		errno = ENOMEM;
		return NULL;
	}
	c = from_bins(need);
	if (!c)
		c = from_top(need);
	if (!c) {
		errno = ENOMEM;
		return NULL;
	}
	return (char *)c + HDR;
}

static struct chunk *chunk_of(void *p)
{
	struct chunk *c = (struct chunk *)((char *)p - HDR);

	/* cheap sanity: catches double free and most wild pointers */
	if ((uintptr_t)c < heap_lo || (uintptr_t)c >= top || ((uintptr_t)p & 15) ||
	    !(c->size & INUSE))
		mvmm_abort("free(): invalid pointer or double free");
	return c;
}

void free(void *p)
{
	if (p)
		release(chunk_of(p));
}

void *calloc(size_t n, size_t size)
{
	void *p;

	if (size && n > (size_t)-1 / size) {
		errno = ENOMEM;
		return NULL;
	}
	p = malloc(n * size);
	if (p)
		memset(p, 0, n * size);
	return p;
}

/* Grows c in place into a free neighbour or top; 0 on success. */
static int grow(struct chunk *c, size_t need)
{
	size_t size = csize(c);
	uintptr_t end = (uintptr_t)c + size;

	if (end == top) {
		if (heap_end - (uintptr_t)c < need)
			return -1;
		top = (uintptr_t)c + need;
		set_size(c, need, INUSE);
		return 0;
	}
	{
		struct chunk *n = (struct chunk *)end;

		if ((n->size & INUSE) || size + csize(n) < need)
			return -1;
		bin_remove(n);
		set_size(c, size + csize(n), INUSE);
		trim(c, need);
		return 0;
	}
}

void *realloc(void *p, size_t n)
{
	struct chunk *c;
	size_t need;
	void *q;

	if (!p)
		return malloc(n);
	if (n == 0) {
		free(p);
		return NULL;
	}
	c = chunk_of(p);
	need = chunk_need(n);
	if (!need) {
		errno = ENOMEM;
		return NULL;
	}
	if (need <= csize(c)) {
		trim(c, need);
		return p;
	}
	if (grow(c, need) == 0)
		return p;
	q = malloc(n);
	if (!q)
		return NULL;
	memcpy(q, p, csize(c) - HDR);
	release(c);
	return q;
}

void *aligned_alloc(size_t align, size_t n)
{
	struct chunk *c, *a;
	uintptr_t p, ap;
	size_t lead;

	if (align & (align - 1)) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= 16)
		return malloc(n);
	if (n > ((size_t)1 << 48) || align > ((size_t)1 << 40)) {
		errno = ENOMEM;
		return NULL;
	}
	/* over-allocate so an aligned payload with room for a leading free chunk fits */
	p = (uintptr_t)malloc(n + align + MIN_CHUNK);
	if (!p)
		return NULL;
	c = (struct chunk *)(p - HDR);
	ap = (p + align - 1) & ~(uintptr_t)(align - 1);
	while (ap != p && ap - p < MIN_CHUNK)
		ap += align;
	if (ap != p) {
		size_t size = csize(c);

		lead = ap - p;
		a = (struct chunk *)(ap - HDR);
		set_size(c, lead, INUSE);
		a->prev_size = lead;
		set_size(a, size - lead, INUSE);
		release(c);
		c = a;
	}
	trim(c, chunk_need(n));
	return (void *)ap;
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	if (align < sizeof(void *) || (align & (align - 1)))
		return EINVAL;
	p = aligned_alloc(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}
