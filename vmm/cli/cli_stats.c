/* cli_stats.c: print per-instance page accounting and process-wide memory for --stats. */
#define _GNU_SOURCE
#include "cli_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load/image.h"

#define KIB_PER_PAGE (MVMM_PAGE_SIZE / 1024)

static const char *const end_names[] = {
	[VM_END_NONE] = "none",
	[VM_END_EXIT] = "exit",
	[VM_END_FAULT] = "fault",
	[VM_END_ABORT] = "abort",
	[VM_END_GUEST_ERROR] = "guest-error",
	[VM_END_TIMEOUT] = "timeout",
	[VM_END_HOST_ERROR] = "host-error",
};

void cli_stats_begin(struct cli_stats *s)
{
	struct memstat_proc p;

	if (memstat_proc_read(&p) == 0) {
		s->mem_available_before_kb = p.mem_available_kb;
		s->kernel_before_kb = p.kernel_kb;
		s->page_tables_before_kb = p.page_tables_kb;
	}
}

void cli_stats_on_hold(void *ctx, struct fleet *f)
{
	struct cli_stats *s = ctx;
	unsigned i;

	s->held_ok = memstat_proc_read(&s->held) == 0;
	/* Spread over worker processes: their memory is the instances'. */
	for (i = 0; i < f->nworkers; i++)
		memstat_proc_add(&s->held, f->workers[i]);
}

/*
 * Host memory per instance: the processes' PSS (user memory, a shared page
 * split among its mappers) plus the growth of the kernel's own memory (KVM's
 * per-VM slab, shadow page tables, vmalloc), over N. MemAvailable's drop is
 * printed too but moves with everything else on a shared machine.
 */
static long kernel_growth_kb(const struct cli_stats *s)
{
	return (long)(s->held.kernel_kb - s->kernel_before_kb);
}

static double host_kib_per_instance(const struct cli_stats *s, unsigned n)
{
	return n ? ((double)s->held.pss_kb + (double)kernel_growth_kb(s)) / n : 0.0;
}

/* The image's 2 MiB guest pages: how they are backed and how much each instance maps with them. */
static void huge_json(const struct cli_stats *s, const struct fleet *f, char *buf, size_t size)
{
	const struct huge_map *h = &f->cfg.img->huge;

	snprintf(buf, size,
		 ",\"huge_pages\":\"%s\",\"huge_mapped_kib_per_instance\":%lu,"
		 "\"huge_host_kib\":%lu,\"pmd_mapped_kib\":%lu,\"page_tables_growth_kib\":%ld",
		 huge_backing_name(h->backing), (unsigned long)(h->nchunks * 2048),
		 (unsigned long)(h->host_huge * 2048),
		 s->held_ok ? (unsigned long)s->held.pmd_mapped_kb : 0ul,
		 s->held_ok ? (long)(s->held.page_tables_kb - s->page_tables_before_kb) : 0L);
}

static void huge_table(const struct cli_stats *s, const struct fleet *f)
{
	const struct huge_map *h = &f->cfg.img->huge;

	fprintf(stderr, "  huge pages: %s", huge_backing_name(h->backing));
	if (h->nchunks)
		fprintf(stderr,
			", %lu MiB of each guest mapped with 2 MiB pages, %lu MiB of them host huge"
			" pages",
			(unsigned long)(h->nchunks * 2), (unsigned long)(h->host_huge * 2));
	if (s->held_ok)
		fprintf(stderr, "; PMD-mapped while held %.1f MiB, page tables grew %.1f MiB",
			s->held.pmd_mapped_kb / 1024.0,
			(long)(s->held.page_tables_kb - s->page_tables_before_kb) / 1024.0);
	fputc('\n', stderr);
}

struct totals {
	uint64_t untouched, shared, private, zero_shared, zero_private, lib_shared, lib_private;
	unsigned measured;
};

static void add_totals(struct totals *t, const struct memstat_vm *m)
{
	t->untouched += m->image_untouched;
	t->shared += m->image_shared;
	t->private += m->image_private;
	t->zero_shared += m->zero_shared;
	t->zero_private += m->zero_private;
	t->lib_shared += m->lib_shared;
	t->lib_private += m->lib_private;
	t->measured++;
}

/* --dedup's fields of the JSON summary (",..." or ""). */
static void dedup_json(const struct cli_stats *s, char *buf, size_t size)
{
	const struct dedup_stats *e = &s->dedup_end, *h = &s->dedup_held;

	buf[0] = '\0';
	if (s->ksm)
		snprintf(buf, size, ",\"ksm\":true");
	if (!s->dedup_on)
		return;
	snprintf(buf + strlen(buf), size - strlen(buf),
		 ",\"dedup_passes\":%lu,\"dedup_pages_scanned\":%lu,\"dedup_pages_unchanged\":%lu,"
		 "\"dedup_pages_skipped\":%lu,\"dedup_merged_pages\":%lu,\"dedup_zero_pages\":%lu,"
		 "\"dedup_unmerged_pages\":%lu,\"dedup_store_pages\":%lu,"
		 "\"dedup_held_saved_pages\":%lu,\"dedup_held_saved_kib\":%lu,"
		 "\"dedup_held_pass_ms\":%.3f,\"dedup_saved_kib\":%lu,\"dedup_vmas\":%lu,"
		 "\"dedup_vma_limit\":%lu,\"dedup_vma_limited\":%lu,\"dedup_last_pass_ms\":%.3f,"
		 "\"dedup_max_pass_ms\":%.3f,\"dedup_total_pass_ms\":%.3f,\"dedup_cpu_ms\":%.3f",
		 e->passes, e->pages_scanned, e->pages_unchanged, e->pages_skipped, e->merged,
		 e->zero_reclaimed, e->unmerged, e->store_pages,
		 s->dedup_held_ok ? h->saved_pages : 0, s->dedup_held_ok ? h->saved_pages * 4 : 0,
		 s->dedup_held_ok ? h->last_pass_ms : 0.0, e->saved_pages * 4, e->vmas, e->max_vmas,
		 e->vma_limited, e->last_pass_ms, e->max_pass_ms, e->total_pass_ms, e->cpu_ms);
}

static void dedup_table(const struct cli_stats *s)
{
	const struct dedup_stats *e = &s->dedup_end, *h = &s->dedup_held;

	if (s->ksm)
		fprintf(stderr, "  --ksm: guest memory marked MADV_MERGEABLE (see /sys/kernel/mm/ksm)\n");
	if (!s->dedup_on)
		return;
	/*
	 * Each figure says when it holds: at the hold, over the whole run, or
	 * at the end (pages merged early may have been written again since).
	 */
	if (s->dedup_held_ok)
		fprintf(stderr,
			"  dedup at the hold: %lu pages (%.1f MiB) shared instead of private, "
			"full pass in %.1f ms\n",
			h->saved_pages, h->saved_pages * 4.0 / 1024, h->last_pass_ms);
	fprintf(stderr,
		"  dedup passes: %lu (%.1f ms, max %.1f ms, CPU %.1f ms); scanned %lu pages "
		"(%lu unchanged), skipped %lu already shared\n",
		e->passes, e->total_pass_ms, e->max_pass_ms, e->cpu_ms, e->pages_scanned,
		e->pages_unchanged, e->pages_skipped);
	fprintf(stderr,
		"  dedup over the run: merged %lu pages (%.1f MiB), zero pages reclaimed %lu, "
		"written again by the guests %lu\n",
		e->merged, e->merged * 4.0 / 1024, e->zero_reclaimed, e->unmerged);
	fprintf(stderr,
		"  dedup at the end: still shared %lu pages (%.1f MiB), store %lu pages; "
		"VMAs %lu (limit %lu, %lu merges skipped)\n",
		e->saved_pages, e->saved_pages * 4.0 / 1024, e->store_pages, e->vmas, e->max_vmas,
		e->vma_limited);
}

static void print_json(const struct cli_stats *s, const struct fleet *f, const int *statuses,
		       const struct totals *t)
{
	unsigned i, n = f->cfg.count;
	char dedup[1536], huge[256];

	dedup_json(s, dedup, sizeof(dedup));
	huge_json(s, f, huge, sizeof(huge));

	for (i = 0; i < n; i++) {
		const struct fleet_instance *in = &f->inst[i];
		const struct memstat_vm *m = &in->mem;

		fprintf(stderr,
			"{\"instance\":%u,\"end\":\"%s\",\"status\":%d,\"measured\":%s,"
			"\"image_untouched_pages\":%lu,\"image_shared_pages\":%lu,"
			"\"image_private_pages\":%lu,\"zero_shared_pages\":%lu,"
			"\"zero_private_pages\":%lu,\"lib_shared_pages\":%lu,"
			"\"lib_private_pages\":%lu,\"private_kib\":%lu}\n",
			i, end_names[in->res.end], statuses[i], in->mem_taken ? "true" : "false",
			m->image_untouched, m->image_shared, m->image_private, m->zero_shared,
			m->zero_private, m->lib_shared, m->lib_private,
			(m->image_private + m->zero_private + m->lib_private) * KIB_PER_PAGE);
	}
	fprintf(stderr,
		"{\"summary\":true,\"instances\":%u,\"share\":%s,\"held\":%s,"
		"\"guest_mem_kib\":%lu,\"image_data_pages\":%lu,"
		"\"start_all_ms\":%.3f,\"total_ms\":%.3f,"
		"\"image_shared_pages\":%lu,\"image_private_pages\":%lu,\"zero_private_pages\":%lu,"
		"\"lib_shared_pages\":%lu,\"lib_private_pages\":%lu,"
		"\"rss_kib\":%lu,\"pss_kib\":%lu,\"private_dirty_kib\":%lu,"
		"\"kernel_growth_kib\":%ld,"
		"\"mem_available_drop_kib\":%ld,\"host_kib_per_instance\":%.1f%s%s}\n",
		n, s->no_share ? "false" : "true", s->held_ok ? "true" : "false",
		(unsigned long)(f->cfg.img->mem_size >> 10), f->cfg.img->data_pages,
		s->held_ok ? (double)(f->t_held_ns - f->t_start_ns) / 1e6 : 0.0,
		(double)(f->t_end_ns - f->t_start_ns) / 1e6, t->shared, t->private, t->zero_private,
		t->lib_shared, t->lib_private, s->held.rss_kb, s->held.pss_kb, s->held.private_dirty_kb,
		s->held_ok ? kernel_growth_kb(s) : 0L,
		s->held_ok ? (long)(s->mem_available_before_kb - s->held.mem_available_kb) : 0L,
		s->held_ok ? host_kib_per_instance(s, n) : 0.0, huge, dedup);
}

static void print_table(const struct cli_stats *s, const struct fleet *f, const int *statuses,
			const struct totals *t)
{
	unsigned i, n = f->cfg.count;

	fprintf(stderr,
		"\nmvmm stats: %u instance%s of %s, %lu MiB guests, image %lu pages (%.1f MiB)"
		" of data, %s\n",
		n, n == 1 ? "" : "s", f->cfg.img->name, (unsigned long)(f->cfg.img->mem_size >> 20),
		f->cfg.img->data_pages, f->cfg.img->data_pages * 4.0 / 1024,
		s->no_share ? "private copies (--no-share)" : "shared image");
	fprintf(stderr, "  pages per instance:  %9s %9s %9s %9s %9s\n", "untouched", "shared",
		"diverged", "zero-rd", "zero-wr");
	for (i = 0; i < n && i < 8; i++) {
		const struct memstat_vm *m = &f->inst[i].mem;

		fprintf(stderr, "  [%u] %-6s %3d      %9lu %9lu %9lu %9lu %9lu\n", i,
			end_names[f->inst[i].res.end], statuses[i], m->image_untouched,
			m->image_shared, m->image_private, m->zero_shared, m->zero_private);
	}
	if (n > 8)
		fprintf(stderr, "  ... (%u more; --stats=json lists all)\n", n - 8);
	if (t->measured)
		fprintf(stderr, "  mean of %u:          %9.1f %9.1f %9.1f %9.1f %9.1f\n",
			t->measured, (double)t->untouched / t->measured,
			(double)t->shared / t->measured, (double)t->private / t->measured,
			(double)t->zero_shared / t->measured,
			(double)t->zero_private / t->measured);
	if (t->measured && (t->lib_shared || t->lib_private))
		fprintf(stderr,
			"  libraries (pages mapped from host files), mean: %.1f shared, "
			"%.1f written (private)\n",
			(double)t->lib_shared / t->measured, (double)t->lib_private / t->measured);
	dedup_table(s);
	huge_table(s, f);
	if (!s->held_ok) {
		fprintf(stderr,
			"  (process memory is measured while instances are held: use --hold)\n");
		return;
	}
	long drop = (long)(s->mem_available_before_kb - s->held.mem_available_kb);

	fprintf(stderr, "  all %u started and held in %.1f ms\n", n,
		(double)(f->t_held_ns - f->t_start_ns) / 1e6);
	fprintf(stderr,
		"  process while held: RSS %.1f MiB, PSS %.1f MiB, Private_Dirty %.1f MiB\n",
		s->held.rss_kb / 1024.0, s->held.pss_kb / 1024.0,
		s->held.private_dirty_kb / 1024.0);
	fprintf(stderr,
		"  host memory: PSS %.1f MiB + kernel growth %.1f MiB = %.0f KiB per instance"
		" (MemAvailable fell %.1f MiB)\n",
		s->held.pss_kb / 1024.0, kernel_growth_kb(s) / 1024.0,
		host_kib_per_instance(s, n), drop / 1024.0);
}

void cli_stats_print(const struct cli_stats *s, const struct fleet *f, const int *statuses)
{
	struct totals t = {0};
	unsigned i;

	for (i = 0; i < f->cfg.count; i++)
		if (f->inst[i].mem_taken)
			add_totals(&t, &f->inst[i].mem);
	if (s->mode == CLI_STATS_JSON)
		print_json(s, f, statuses, &t);
	else if (s->mode == CLI_STATS_TABLE)
		print_table(s, f, statuses, &t);
}
