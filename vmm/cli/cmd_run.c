/* cmd_run.c: `mvmm run`: one or many instances of a guest ELF, ends turned into exit statuses. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_run.h"
#include "cli_cache.h"
#include "cli_core.h"
#include "cli_dedup.h"
#include "cli_help.h"
#include "cli_gdb.h"
#include "cli_linux.h"
#include "cli_log.h"
#include "cli_output.h"
#include "cli_progress.h"
#include "cli_shm.h"
#include "cli_stats.h"
#include "clone/shellpool.h"
#include "clone/snapshot.h"
#include "clone/template.h"
#include "core/confine.h"
#include "core/error.h"
#include "core/kvm.h"
#include "core/vm.h"
#include "fleet/fleet.h"
#include "guestabi/guest.h"
#include "load/image.h"


/* Turns the way a run ended into an exit status, explaining on stderr. */
static int run_status(const struct vm_result *res, const struct run_opts *o, const char *who)
{
	switch (res->end) {
	case VM_END_EXIT:
		if (strstr(res->message, "; core file ")) /* killed by a signal that dumps core */
			fprintf(stderr, "mvmm: %s%s\n", who, res->message);
		return res->status;
	case VM_END_FAULT:
		if (res->report)
			fprintf(stderr, "mvmm: %s%s", who, res->report);
		else
			fprintf(stderr, "mvmm: %sguest fault: %s\n", who, res->message);
		return CLI_STATUS_FAULT;
	case VM_END_GUEST_ERROR:
		fprintf(stderr, "mvmm: %sguest error: %s; guest stopped\n", who, res->message);
		return CLI_STATUS_FAULT;
	case VM_END_ABORT:
		fprintf(stderr, "mvmm: %sguest aborted: %s\n", who, res->message);
		return CLI_STATUS_ABORT;
	case VM_END_TIMEOUT:
		fprintf(stderr, "mvmm: %sguest stopped after its timeout of %.3g s\n", who,
			(double)o->timeout_ns / 1e9);
		return CLI_STATUS_TIMEOUT;
	default:
		fprintf(stderr, "mvmm: %s%s\n", who, res->message);
		return CLI_STATUS_ERROR;
	}
}

static void run_vm_config(const struct run_opts *o, struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->argv = (const char *const *)o->guest_argv;
	cfg->envp = o->envp;
	cfg->exposed = o->exposed;
	cfg->lx = &o->lx.cfg;
	cfg->shm = o->shm.n ? o->shm.grants : NULL;
	/* many instances: no shared stdin */
	cfg->in_fd = o->count == 1 && !o->grouped ? STDIN_FILENO : -1;
	cfg->out_fd = STDOUT_FILENO;
	cfg->err_fd = STDERR_FILENO;
	cfg->timeout_ns = o->timeout_ns;
	cfg->no_share = o->no_share;
	cfg->core = cli_core_target(&o->core, o->count > 1 || o->grouped);
	cfg->gdb = o->gdb.link;
}

/* One instance on this thread: the short path that `mvmm run hello.elf` takes. */
static int run_single(struct kvm_sys *kvm, struct image *img, const struct run_opts *o)
{
	struct vm_result res = {0};
	struct vm_config cfg;
	struct vm *vm;
	int status;

	run_vm_config(o, &cfg);
	vm = vm_create(kvm, img, &cfg);
	if (!vm) {
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
		return CLI_STATUS_ERROR;
	}
	if (!o->no_seccomp && confine_vcpu_thread(0) < 0) {
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
		vm_destroy(vm);
		return CLI_STATUS_ERROR;
	}
	vm_run(vm, &res);
	status = run_status(&res, o, "");
	vm_result_clear(&res);
	vm_destroy(vm);
	return status;
}

/* Instances per worker process beyond which a run is spread over processes (fleet_run_sharded). */
#define RUN_PER_PROCESS 50

static unsigned run_per_process(const struct run_opts *o)
{
	return o->per_process_set ? o->per_process : RUN_PER_PROCESS;
}

/*
 * Whether a run of these options is spread over worker processes. Pages
 * merge only within a process: --dedup and --ksm keep the fleet in one.
 * Doorbells and regions live in this process; '---' groups run as threads
 * of it, and a fork beside running threads may copy a lock one of them
 * holds (seen: the sanitizer allocator's), so groups are never sharded.
 * Clones of a template are: every worker maps the one frozen memfd.
 */
static int run_sharded(const struct run_opts *o)
{
	unsigned per = run_per_process(o);

	return per && o->count > per && !o->dedup.on && !o->dedup.ksm && !o->shm.n &&
	       !o->grouped && !o->gdb.spec;
}

/* What a worker process sets up for itself: its output, and its own shells for clones. */
struct run_worker {
	struct cli_output out; /* first: the output hooks' context */
	struct shell_pool pool;
	int pool_on;
};

static int run_output_init(void *ctx, struct fleet_config *fc)
{
	struct run_worker *w = ctx;

	if (cli_output_init(&w->out, fc->first_instance, fc->count, w->out.dir) < 0) {
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
		return -1;
	}
	/* The parent starts no pool when it shards: its threads would not survive the fork. */
	if (fc->tpl && !fc->pool) {
		if (shell_pool_start(&w->pool, fc->kvm, fc->tpl->mem_size,
				     fc->count < 16 ? fc->count : 16, fc->tpl) < 0) {
			fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
			cli_output_finish(&w->out);
			return -1;
		}
		w->pool_on = 1;
		fc->pool = &w->pool;
	}
	return 0;
}

static void run_output_done(void *ctx)
{
	struct run_worker *w = ctx;

	if (w->pool_on)
		shell_pool_stop(&w->pool);
	w->pool_on = 0;
	cli_output_finish(&w->out);
}

/*
 * The parent's shell pool for clones, unless the run is sharded (each
 * worker starts its own: run_output_init). Returns the pool or NULL; -1 in
 * *err on failure.
 */
static struct shell_pool *run_pool_start(struct shell_pool *pool, struct kvm_sys *kvm,
					  struct template *tpl, const struct run_opts *o, int *err)
{
	*err = 0;
	if (run_sharded(o))
		return NULL;
	if (shell_pool_start(pool, kvm, tpl->mem_size, o->count < 16 ? o->count : 16, tpl) < 0) {
		*err = -1;
		return NULL;
	}
	return pool;
}

static void run_pool_stop(struct shell_pool *pool)
{
	if (pool)
		shell_pool_stop(pool);
}

static int run_many(struct kvm_sys *kvm, struct image *img, struct template *tpl,
		    struct shell_pool *pool, const struct vm_request *request,
		    const struct run_opts *o)
{
	struct fleet_config fc = {0};
	struct cli_stats stats = {.mode = o->stats, .no_share = o->no_share};
	struct run_worker w = {.out = {.dir = o->output_dir}};
	struct fleet_shard_hooks shard = {run_output_init, run_output_done, &w};
	unsigned per = run_per_process(o);
	int sharded = run_sharded(o);
	struct cli_progress *prog = cli_progress_start(o->count);
	struct cli_dedup dd;
	struct fleet f;
	int *statuses = NULL, status = 0, ret;
	unsigned i;

	cli_raise_fd_limit();
	run_vm_config(o, &fc.vm);
	fc.vm.lean = o->count > 1 && !o->shm.n; /* attaching a region needs the VM fd */
	fc.first_instance = o->first;
	fc.vm.request = request;
	fc.kvm = kvm;
	fc.img = img;
	fc.tpl = tpl;
	fc.pool = pool;
	fc.count = o->count;
	fc.hold = o->hold;
	fc.confine = !o->no_seccomp;
	fc.confine_extra = (o->snapshot ? CONFINE_VCPU_WRITES_FILES : 0) | cli_gdb_confine(&o->gdb);
	if (o->count > 1 || o->output_dir || o->grouped) {
		fc.hooks = &cli_output_hooks;
		fc.hooks_ctx = &w.out;
	}
	fc.on_hold = cli_stats_on_hold;
	fc.on_hold_ctx = &stats;
	fc.progress = cli_progress_counts(prog);
	if (cli_dedup_setup(&dd, &o->dedup, &fc, &stats) < 0) {
		cli_progress_stop(prog);
		return CLI_STATUS_ERROR;
	}
	cli_stats_begin(&stats);
	if (sharded) {
		ret = fleet_run_sharded(&f, &fc, per, &shard);
	} else {
		if (run_output_init(&w, &fc) < 0) {
			cli_dedup_finish(&dd);
			cli_progress_stop(prog);
			return CLI_STATUS_ERROR;
		}
		ret = fleet_run(&f, &fc);
		run_output_done(&w);
	}
	cli_dedup_finish(&dd);
	cli_progress_stop(prog); /* erased before the results below */
	if (ret < 0)
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());

	statuses = calloc(o->count, sizeof(*statuses));
	for (i = 0; i < o->count; i++) {
		char who[32] = "";
		int s;

		if (o->count > 1 || o->grouped)
			snprintf(who, sizeof(who), "[%u] ", o->first + i);
		s = f.inst[i].thread_ok ? run_status(&f.inst[i].res, o, who) : CLI_STATUS_ERROR;
		if (statuses)
			statuses[i] = s;
		if (s && !status)
			status = s; /* the first non-zero status in instance order */
	}
	if (statuses)
		cli_stats_print(&stats, &f, statuses);
	free(statuses);
	fleet_free(&f);
	return status;
}

/*
 * --snapshot PATH: the template becomes the base PATH; its continuation
 * (clone 1, ARGS as its request) then runs here under a hook that writes
 * PATH.1, PATH.2, ... at its checkpoints. --count 0 stops after the base.
 */
static int run_snapshot(struct kvm_sys *kvm, struct template *tpl, const struct run_opts *o)
{
	struct vm_request request = {0};
	struct vm_result res = {0};
	struct snap_taker *taker = NULL;
	struct vm_config cfg;
	struct vm *vm = NULL;
	uint8_t hash[16];
	int status = CLI_STATUS_ERROR;

	if (snap_write_base(o->snapshot, tpl, o->guest_argv[0], hash) < 0)
		goto fail;
	if (!o->count)
		return 0;
	taker = snap_taker_new(o->snapshot, tpl, hash);
	if (!taker || vm_request_init(&request, (const char *const *)o->guest_argv + 1) < 0)
		goto fail;
	run_vm_config(o, &cfg);
	cfg.request = &request;
	cfg.hooks = &snap_taker_hooks;
	cfg.hooks_ctx = taker;
	vm = template_clone(tpl, kvm, NULL, &cfg);
	if (!vm)
		goto fail;
	/* checkpoints write diff files from this thread */
	if (!o->no_seccomp && confine_vcpu_thread(CONFINE_VCPU_WRITES_FILES) < 0)
		goto fail;
	vm_run(vm, &res);
	status = run_status(&res, o, "");
	vm_result_clear(&res);
	goto done;
fail:
	fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
done:
	vm_destroy(vm);
	vm_request_free(&request);
	snap_taker_free(taker);
	return status;
}

/*
 * --from-snapshot BASE[,DIFF...]: clones of the chain's last state, ARGS as
 * their request; the guest's open files are opened again beneath this run's
 * --dir trees.
 */
static int run_from_snapshot(struct kvm_sys *kvm, const struct run_opts *o)
{
	struct vm_request request = {0};
	struct shell_pool pool, *pp = NULL;
	struct template *tpl;
	struct vm_config cfg;
	int status, err = 0;

	run_vm_config(o, &cfg);
	tpl = snap_restore_list(o->from_snapshot, o->cache.huge, &cfg);
	if (!tpl || vm_request_init(&request, (const char *const *)o->guest_argv) < 0 ||
	    (pp = run_pool_start(&pool, kvm, tpl, o, &err), err < 0)) {
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
		vm_request_free(&request);
		template_put(tpl);
		return CLI_STATUS_ERROR;
	}
	status = run_many(kvm, tpl->img, tpl, pp, &request, o);
	run_pool_stop(pp);
	vm_request_free(&request);
	template_put(tpl);
	return status;
}

/*
 * The template through the image cache. Not for --snapshot (the snapshot is
 * the saved form) nor --expose (initialization may read host files the
 * cache key cannot see).
 */
static struct template *run_template_load(struct kvm_sys *kvm, const struct run_opts *o,
					  const struct vm_config *cfg, struct vm_result *res)
{
	struct cache_opts c = o->cache;
	struct cache_status st;
	struct cli_progress *prog;
	struct template *tpl;

	c.off |= o->snapshot || o->nexposed;
	/* A cache hit maps the entry at once; a miss boots the guest to its ready point, then stores it. */
	prog = cli_progress_start_phase("booting the template");
	tpl = cache_load_template(&c, kvm, o->guest_argv[0], o->mem_size, cfg, res, &st);
	cli_progress_stop(prog); /* erased before the notes and results below */
	cli_cache_warn(&st);
	return tpl;
}

/*
 * --template: boot one instance to its ready call, freeze it, then run
 * --count clones of it, each resuming from ready with the run's ARGS as its
 * request.
 */
static int run_template(struct kvm_sys *kvm, struct image *img, const struct run_opts *o)
{
	struct vm_request request = { 0 };
	struct shell_pool pool, *pp = NULL;
	struct vm_result res;
	struct vm_config cfg;
	struct template *tpl;
	int status, err = 0;

	run_vm_config(o, &cfg);
	tpl = run_template_load(kvm, o, &cfg, &res);
	if (!tpl) {
		status = res.end != VM_END_NONE && res.end != VM_END_HOST_ERROR
				 ? run_status(&res, o, "template: ")
				 : CLI_STATUS_ERROR;
		fprintf(stderr, "mvmm: template: %s\n", mvmm_errmsg());
		vm_result_clear(&res);
		return status ? status : CLI_STATUS_ERROR;
	}
	vm_result_clear(&res);
	img = tpl->img;
	if (o->snapshot) {
		status = run_snapshot(kvm, tpl, o);
		template_put(tpl);
		return status;
	}
	if (vm_request_init(&request, (const char *const *)o->guest_argv + 1) < 0 ||
	    (pp = run_pool_start(&pool, kvm, tpl, o, &err), err < 0)) {
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
		vm_request_free(&request);
		template_put(tpl);
		return CLI_STATUS_ERROR;
	}
	status = run_many(kvm, img, tpl, pp, &request, o);
	run_pool_stop(pp);
	vm_request_free(&request);
	template_put(tpl);
	return status;
}

/* The image through the image cache (mapped from it, or built and stored). */
static struct image *run_load_image(const struct run_opts *o)
{
	struct cli_progress *prog = cli_progress_start_phase("loading the image");
	struct cache_status st;
	struct image *img = cache_load_image(&o->cache, o->guest_argv[0], o->mem_size, &st);

	cli_progress_stop(prog);
	cli_cache_warn(&st);
	return img;
}

/* One group of instances of one guest (the whole run without '---'). */
static int run_command(struct run_opts *o)
{
	struct kvm_sys kvm = {.fd = -1};
	struct image *img = NULL;
	int status;

	/* A guest writing to a closed pipe gets an error back, mvmm does not die. */
	signal(SIGPIPE, SIG_IGN);
	if (o->from_snapshot) {
		if (kvm_sys_open(&kvm) < 0) {
			fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
			return CLI_STATUS_ERROR;
		}
		status = run_from_snapshot(&kvm, o);
		kvm_sys_close(&kvm);
		return status;
	}
	if (kvm_sys_open(&kvm) < 0 || (!o->template && !(img = run_load_image(o)))) {
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
		kvm_sys_close(&kvm);
		return CLI_STATUS_ERROR;
	}
	cli_gdb_image(&o->gdb, img, o->first, o->count);
	if (o->template)
		status = run_template(&kvm, img, o);
	else if (o->count == 1 && !o->hold && !o->stats && !o->output_dir && !o->dedup.on &&
		 !o->dedup.ksm && !o->grouped && !o->gdb.spec) /* gdb: this thread removes its socket */
		status = run_single(&kvm, img, o);
	else
		status = run_many(&kvm, img, NULL, NULL, NULL, o);
	image_put(img);
	kvm_sys_close(&kvm);
	return status;
}

struct run_group {
	struct run_opts o;
	pthread_t thread;
	int status;
};

static void *run_group_main(void *p)
{
	struct run_group *g = p;

	g->status = run_command(&g->o);
	return NULL;
}

/*
 * `A.elf ... --- [--count N] B.elf ...`: every group's fleet at once in this
 * process (so they can share --shm regions), instance numbers continuing
 * from group to group; the status is the first non-zero one in instance order.
 */
static int run_groups(struct run_opts *o, const struct cli_group *groups, unsigned ng)
{
	struct run_group *g = calloc(ng + 1, sizeof(*g));
	unsigned i, first = 0;
	int status = 0;

	if (!g)
		return CLI_STATUS_ERROR;
	if (o->template || o->snapshot || o->from_snapshot || o->stats || o->dedup.on ||
	    o->dedup.ksm) {
		free(g);
		run_usage("'---' groups go with neither --template, --snapshot, --from-snapshot, "
			  "--stats, --dedup nor --ksm");
		return CLI_STATUS_ERROR;
	}
	for (i = 0; i <= ng; i++) {
		g[i].o = *o;
		g[i].o.grouped = 1;
		g[i].o.first = first;
		if (i > 0) {
			g[i].o.guest_argv = groups[i].argv;
			g[i].o.count = groups[i].count;
		}
		first += g[i].o.count;
		g[i].status = CLI_STATUS_ERROR;
		if (pthread_create(&g[i].thread, NULL, run_group_main, &g[i]) != 0)
			g[i].thread = 0;
	}
	for (i = 0; i <= ng; i++) {
		if (g[i].thread)
			pthread_join(g[i].thread, NULL);
		if (g[i].status && !status)
			status = g[i].status;
	}
	free(g);
	return status;
}

int cmd_run(int argc, char **argv)
{
	struct cli_group groups[CLI_GROUPS_MAX];
	struct run_opts o = {0};
	unsigned guests;
	int ng, status, i;

	ng = cli_groups_split(&argc, argv, groups, CLI_GROUPS_MAX);
	if (ng < 0)
		return CLI_STATUS_ERROR;
	status = run_parse(argc, argv, &o);
	if (status) {
		cli_shm_destroy(&o.shm);
		cli_linux_free(&o.lx);
		return status < 0 ? CLI_STATUS_ERROR : 0;
	}
	/* --strace lines carry the instance number when there is more than one. */
	o.lx.cfg.strace_numbered = o.count > 1 || ng > 0;
	for (guests = o.count, i = 1; i <= ng; i++)
		guests += groups[i].count;
	if (cli_shm_create(&o.shm, guests) < 0) {
		fprintf(stderr, "mvmm: %s\n", mvmm_errmsg());
		cli_shm_destroy(&o.shm);
		cli_linux_free(&o.lx);
		return CLI_STATUS_ERROR;
	}
	/*
	 * The debugger's socket now: once confined, the process makes no new ones.
	 * --dedup pauses every VM for a pass, and one stopped in gdb would hold it up.
	 */
	if (cli_gdb_open(&o.gdb, guests,
			 o.template	   ? "--template"
			 : o.from_snapshot ? "--from-snapshot"
			 : o.dedup.on	   ? "--dedup"
					   : NULL) < 0) {
		cli_shm_destroy(&o.shm);
		cli_linux_free(&o.lx);
		return CLI_STATUS_ERROR;
	}
	/* From here on every thread, and every worker process forked, runs under the filter. */
	if (!o.no_seccomp && confine_process() < 0) {
		fprintf(stderr, "mvmm: %s (--no-seccomp runs without the filter)\n",
			mvmm_errmsg());
		cli_gdb_close(&o.gdb);
		cli_shm_destroy(&o.shm);
		cli_linux_free(&o.lx);
		return CLI_STATUS_ERROR;
	}
	if (getenv("MVMM_SECCOMP_SELFTEST"))
		confine_selftest(); /* the test that the filter is on; see confine.h */
	status = ng ? run_groups(&o, groups, (unsigned)ng) : run_command(&o);
	cli_gdb_close(&o.gdb);
	cli_shm_destroy(&o.shm);
	cli_linux_free(&o.lx);
	return status;
}
