/* cli_dedup.c: `mvmm run --dedup / --ksm`: attach instances, run passes, report. */
#define _GNU_SOURCE
#include "guestabi/lx.h"
#include "cli_dedup.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static int number(const char *arg, uint64_t min, uint64_t max, uint64_t *v)
{
	char *end;
	unsigned long long n;

	if (!arg || *arg < '0' || *arg > '9')
		return -1;
	n = strtoull(arg, &end, 10);
	if (*end || n < min || n > max)
		return -1;
	*v = n;
	return 0;
}

int cli_dedup_option(struct cli_dedup_opts *o, const char *name, const char *arg)
{
	uint64_t v;

	if (strcmp(name, "dedup") == 0) {
		o->on = 1;
		if (arg && number(arg, 1, 3600000, &o->period_ms) < 0)
			goto bad;
	} else if (strcmp(name, "dedup-budget") == 0) {
		if (number(arg, 1, 3600000, &o->budget_ms) < 0)
			goto bad;
	} else if (strcmp(name, "dedup-domain") == 0) {
		if (number(arg, 1, 100000, &v) < 0)
			goto bad;
		o->domains = (unsigned)v;
	} else if (strcmp(name, "ksm") == 0) {
		o->ksm = 1;
	}
	return 0;
bad:
	fprintf(stderr, "mvmm run: --%s needs a number of %s\n(see 'mvmm help run')\n", name,
		strcmp(name, "dedup-domain") == 0 ? "domains, 1 to 100000"
						  : "milliseconds, 1 to 3600000");
	return -1;
}

static void cli_dedup_on_vm(void *ctx, struct fleet *f, unsigned i, struct vm *vm, int live)
{
	struct cli_dedup *cd = ctx;
	unsigned domains = cd->o->domains ? cd->o->domains : 1;

	(void)f;
	if (cd->o->ksm && live && dedup_ksm_mark(vm) < 0)
		fprintf(stderr, "mvmm: [%u] %s\n", i, mvmm_errmsg());
	if (!cd->d)
		return;
	if (live) {
		if (dedup_attach(cd->d, vm, (unsigned)(vm->instance % domains)) < 0)
			fprintf(stderr, "mvmm: [%u] dedup: %s\n", i, mvmm_errmsg());
	} else {
		dedup_detach(cd->d, vm);
	}
}

/* All held: one full pass (no guest runs, so no page changes under it), then measure. */
static void cli_dedup_on_hold(void *ctx, struct fleet *f)
{
	struct cli_dedup *cd = ctx;
	unsigned i;

	if (cd->d) {
		if (dedup_run_full(cd->d, DEDUP_EAGER) < 0)
			fprintf(stderr, "mvmm: dedup: %s\n", mvmm_errmsg());
		for (i = 0; i < f->cfg.count; i++) {
			struct fleet_instance *in = &f->inst[i];

			if (in->waiting && in->vm)
				in->mem_taken = lx_memstat_read(in->vm, &in->mem) == 0;
		}
		dedup_get_stats(cd->d, &cd->stats->dedup_held);
		cd->stats->dedup_held_ok = 1;
	}
	cli_stats_on_hold(cd->stats, f);
}

int cli_dedup_setup(struct cli_dedup *cd, const struct cli_dedup_opts *o, struct fleet_config *fc,
		    struct cli_stats *stats)
{
	memset(cd, 0, sizeof(*cd));
	cd->o = o;
	cd->stats = stats;
	if (!o->on && !o->ksm)
		return 0;
	if (o->on) {
		cd->d = dedup_new(NULL);
		if (!cd->d || dedup_start(cd->d, o->period_ms ? o->period_ms : 1000,
					  o->budget_ms ? o->budget_ms : 100) < 0) {
			fprintf(stderr, "mvmm: dedup: %s\n", mvmm_errmsg());
			dedup_free(cd->d);
			cd->d = NULL;
			return -1;
		}
	}
	stats->ksm = o->ksm;
	fc->on_vm = cli_dedup_on_vm;
	fc->on_vm_ctx = cd;
	fc->on_hold = cli_dedup_on_hold;
	fc->on_hold_ctx = cd;
	return 0;
}

void cli_dedup_finish(struct cli_dedup *cd)
{
	if (!cd->d)
		return;
	dedup_stop(cd->d);
	dedup_get_stats(cd->d, &cd->stats->dedup_end);
	cd->stats->dedup_on = 1;
	dedup_free(cd->d);
	cd->d = NULL;
}
