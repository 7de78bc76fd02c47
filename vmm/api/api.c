/* api.c: the public API of mvmm.h over the internal modules: runtime, templates, runs (api_image.c: errors, images). */
#define _GNU_SOURCE
#include "api_int.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "clone/shellpool.h"
#include "clone/template.h"
#include "guestabi/lx.h"
#include "core/confine.h"
#include "core/error.h"
#include "core/fdio.h"
#include "core/kvm.h"
#include "core/vcpu_state.h"
#include "core/vm.h"
#include "guestabi/guest.h"
#include "load/image.h"
#include "mem/memstat.h"

#define API_MS		   1000000ull /* ns per ms */
#define API_OUTPUT_DEFAULT (16u << 20)
#define API_POOL_SHELLS	   2u /* shells a template's pool keeps ready */

/* Whether this thread is under the vCPU filter already (mvmm_runtime_options.seccomp). */
static _Thread_local int api_thread_confined;

/* A growable capture buffer for one output stream. */
struct api_buf {
	char *s;
	size_t len, cap, limit;
	int truncated;
};

/* A result and the storage its pointers point into. */
struct api_result {
	struct mvmm_result pub; /* first: the handle the caller gets */
	struct api_buf out, err;
	char message[512];
	char *report, *symbol;
};

/* One run's hook context. */
struct api_run {
	struct api_result *r;
	const uint8_t *input;
	size_t input_len, input_off;
	struct vm_core_file core; /* MVMM_RUN_CORE */
	struct shm_grant *grants; /* MVMM_RUN_SHM (owned), or NULL */
};

static const char api_empty[1];

/* ---- runtime ---------------------------------------------------------- */

MVMM_API int mvmm_runtime_new_opts(const struct mvmm_runtime_options *opts,
				   struct mvmm_runtime **out)
{
	struct mvmm_runtime *rt;

	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_runtime_new: out");
	*out = NULL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return api_fail(MVMM_ERR_NOMEM, "mvmm_runtime_new");
	if (kvm_sys_open(&rt->kvm) < 0) {
		free(rt);
		return MVMM_ERR_KVM;
	}
	rt->seccomp = opts && opts->seccomp;
	pthread_mutex_init(&rt->lock, NULL);
	*out = rt;
	return 0;
}

MVMM_API int mvmm_runtime_new(struct mvmm_runtime **out)
{
	return mvmm_runtime_new_opts(NULL, out);
}

/* Confines the calling thread once, before its first run, if the runtime asks for it. */
static int api_confine(const struct mvmm_runtime *rt)
{
	if (!rt->seccomp || api_thread_confined)
		return 0;
	/* Once per thread, and a thread may run SDK guests and Linux programs alike. */
	if (confine_vcpu_thread(CONFINE_VCPU_MAKES_SHELLS) < 0)
		return MVMM_ERR_HOST; /* the message says why */
	api_thread_confined = 1;
	return 0;
}

MVMM_API void mvmm_runtime_free(struct mvmm_runtime *rt)
{
	if (!rt)
		return;
	while (rt->templates)
		mvmm_template_free(rt->templates);
	pthread_mutex_destroy(&rt->lock);
	kvm_sys_close(&rt->kvm);
	free(rt);
}

/* ---- output and input hooks ------------------------------------------- */

static int64_t api_output(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len)
{
	struct api_run *run = ctx;
	struct api_buf *b = stream == 2 ? &run->r->err : &run->r->out;
	size_t take = len;

	(void)vm;
	if (take > b->limit - b->len) {
		take = b->limit - b->len;
		b->truncated = 1;
	}
	if (b->len + take + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *s;

		while (cap < b->len + take + 1)
			cap *= 2;
		s = realloc(b->s, cap);
		if (!s)
			return -1;
		b->s = s;
		b->cap = cap;
	}
	memcpy(b->s + b->len, buf, take);
	b->len += take;
	b->s[b->len] = '\0';
	return (int64_t)len; /* what is past the limit is dropped, not refused */
}

static int64_t api_input(void *ctx, struct vm *vm, void *buf, uint64_t len)
{
	struct api_run *run = ctx;
	size_t left = run->input_len - run->input_off;

	(void)vm;
	if (len > left)
		len = left;
	if (len)
		memcpy(buf, run->input + run->input_off, len);
	run->input_off += len;
	return (int64_t)len;
}

static int64_t api_discard(void *ctx, struct vm *vm, int stream, const void *buf, uint64_t len)
{
	(void)ctx;
	(void)vm;
	(void)stream;
	(void)buf;
	return (int64_t)len;
}

static const struct vm_hooks api_run_hooks = { .output = api_output, .input = api_input };
static const struct vm_hooks api_boot_hooks = { .output = api_discard };

/* ---- templates -------------------------------------------------------- */

static const char *const api_default_argv[] = { "guest", NULL };

/* The first line of a crash report ("page fault (#PF) ... in main+0x12"). */
static void api_first_line(const char *report, char *line, size_t size)
{
	size_t n = report ? strcspn(report, "\n") : 0;

	if (n >= size)
		n = size - 1;
	memcpy(line, report ? report : "", n);
	line[n] = '\0';
}

int api_boot_failure(const struct vm_result *res, uint64_t timeout_ms)
{
	char line[256];

	switch (res->end) {
	case VM_END_EXIT:
		err_set("the template guest exited with status %d before calling mvmm_ready()",
			res->status);
		return MVMM_ERR_NOT_READY;
	case VM_END_ABORT:
		err_set("the template guest aborted before calling mvmm_ready(): %s", res->message);
		return MVMM_ERR_NOT_READY;
	case VM_END_GUEST_ERROR:
		err_set("the template guest broke the ABI before calling mvmm_ready(): %s",
			res->message);
		return MVMM_ERR_NOT_READY;
	case VM_END_FAULT:
		api_first_line(res->report, line, sizeof(line));
		err_set("the template guest faulted before calling mvmm_ready(): %s",
			line[0] ? line : res->message);
		return MVMM_ERR_FAULT;
	case VM_END_TIMEOUT:
		err_set("the template guest did not call mvmm_ready() within %lu ms",
			(unsigned long)timeout_ms);
		return MVMM_ERR_TIMEOUT;
	default:
		return MVMM_ERR_HOST; /* the message is set */
	}
}

/* The ready point: mvmm_ready(), or for a program that never calls it its first read of stdin. */
static const struct lx_config api_linux_template = {.ready_on_stdin = 1, .strace_fd = -1};

int api_template_wrap(struct mvmm_runtime *rt, struct template *tpl, const char *elf_path,
		      struct mvmm_template **out)
{
	struct mvmm_template *t = calloc(1, sizeof(*t));

	if (!t || (elf_path && !(t->elf_path = strdup(elf_path)))) {
		free(t);
		template_put(tpl);
		return api_fail(MVMM_ERR_NOMEM, "making a template");
	}
	t->rt = rt;
	t->tpl = tpl;
	if (shell_pool_start(&t->pool, &rt->kvm, tpl->mem_size, API_POOL_SHELLS, tpl) < 0) {
		template_put(tpl);
		free(t->elf_path);
		free(t);
		return MVMM_ERR_HOST;
	}
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_lock(&rt->lock);
	t->next = rt->templates;
	if (t->next)
		t->next->pprev = &t->next;
	t->pprev = &rt->templates;
	rt->templates = t;
	pthread_mutex_unlock(&rt->lock);
	*out = t;
	return 0;
}

void api_boot_config(struct vm_config *cfg, const char *const *argv, uint64_t timeout_ms)
{
	*cfg = (struct vm_config){ .argv = argv ? argv : api_default_argv,
				   .in_fd = -1,
				   .out_fd = -1,
				   .err_fd = -1,
				   .timeout_ns = timeout_ms * API_MS,
				   .hooks = &api_boot_hooks,
				   .lx = &api_linux_template };
}

/*
 * After the boot only what clones use stays: the exposed files and
 * strace. The directories were opened and the cwd copied by the boot.
 */
void api_guest_keep(struct mvmm_template *t, struct api_guest *ag)
{
	t->guest = *ag;
	free(t->guest.dirs);
	t->guest.dirs = NULL;
	t->guest.lx.dirs = NULL;
	t->guest.lx.ndirs = 0;
	t->guest.lx.cwd = NULL;
	t->guest.envp = NULL;
	memset(ag, 0, sizeof(*ag));
}

MVMM_API int mvmm_template_new_opts(struct mvmm_runtime *rt, const struct mvmm_image *image,
				    const char *const *argv, uint64_t timeout_ms,
				    const struct mvmm_guest_options *guest,
				    struct mvmm_template **out)
{
	struct api_guest ag;
	struct vm_config cfg;
	struct template *tpl;
	struct vm_result res;
	int code;

	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_template_new: out");
	*out = NULL;
	if (!rt || !image)
		return api_fail(MVMM_ERR_INVAL, rt ? "mvmm_template_new: image"
						   : "mvmm_template_new: runtime");
	code = api_guest_config(guest, "mvmm_template_new", &ag);
	if (code < 0)
		return code;
	api_boot_config(&cfg, argv, timeout_ms);
	api_guest_apply(&ag, &cfg);
	tpl = template_create(&rt->kvm, image->img, &cfg, &res);
	if (!tpl) {
		code = api_boot_failure(&res, timeout_ms);
		vm_result_clear(&res);
		api_guest_free(&ag);
		return code;
	}
	vm_result_clear(&res);
	code = api_template_wrap(rt, tpl, image->path, out);
	if (code < 0)
		api_guest_free(&ag);
	else
		api_guest_keep(*out, &ag);
	return code;
}

MVMM_API int mvmm_template_new(struct mvmm_runtime *rt, const struct mvmm_image *image,
			       const char *const *argv, uint64_t timeout_ms,
			       struct mvmm_template **out)
{
	return mvmm_template_new_opts(rt, image, argv, timeout_ms, NULL, out);
}

MVMM_API void mvmm_template_free(struct mvmm_template *t)
{
	unsigned i;

	if (!t)
		return;
	pthread_mutex_lock(&t->rt->lock);
	*t->pprev = t->next;
	if (t->next)
		t->next->pprev = t->pprev;
	pthread_mutex_unlock(&t->rt->lock);
	for (i = 0; i < t->nspare; i++)
		vm_destroy(t->spare[i]);
	shell_pool_stop(&t->pool);
	pthread_mutex_destroy(&t->lock);
	template_put(t->tpl);
	free(t->elf_path);
	api_guest_free(&t->guest);
	free(t);
}

void api_reap(struct mvmm_template *t, struct vm *vm)
{
	shell_pool_reap(&t->pool, vm);
}

/* ---- clones: fresh, or a finished clone reset ---------------------------- */

/*
 * A spare VM that ran a clone of this template is reset to its ready point
 * (template_reuse_clone; it keeps its references on the template and image
 * from its first clone); without one, a fresh clone from the pool.
 */
static struct vm *api_clone(struct mvmm_template *t, const struct vm_config *cfg)
{
	struct vm *vm = template_clone_touched(t->tpl, &t->pool, cfg);

	/* A shell that read the working set beats a reused VM, whose remap drops every page. */
	if (vm)
		return vm;
	pthread_mutex_lock(&t->lock);
	if (t->nspare)
		vm = t->spare[--t->nspare];
	pthread_mutex_unlock(&t->lock);
	if (!vm)
		return template_clone(t->tpl, &t->rt->kvm, &t->pool, cfg);
	if (template_reuse_clone(vm, t->tpl, cfg) < 0) {
		shell_pool_reap(&t->pool, vm);
		return NULL;
	}
	return vm;
}

/*
 * After a run: a VM that stopped at a clean exit (a hypercall or the fault
 * stub's report) is kept for reuse, with its pending I/O completed; any
 * other (timeout, triple fault, host error) is torn down off this thread.
 */
static void api_release(struct mvmm_template *t, struct vm *vm, const struct vm_result *res)
{
	int reuse = res->end == VM_END_EXIT || res->end == VM_END_ABORT ||
		    res->end == VM_END_GUEST_ERROR || (res->end == VM_END_FAULT && !res->fault.triple);

	vm->request = NULL;
	vm->hooks_ctx = NULL;
	template_learn(t->tpl, vm); /* once per template: its clones' working set */
	if (reuse && (vm->run->exit_reason != KVM_EXIT_IO ||
		      vcpu_complete_io(vm->vcpu_fd, vm->run) < 0))
		reuse = 0;
	if (reuse) {
		pthread_mutex_lock(&t->lock);
		if (t->nspare < API_SPARE_MAX) {
			t->spare[t->nspare++] = vm;
			vm = NULL;
		}
		pthread_mutex_unlock(&t->lock);
	}
	if (vm)
		shell_pool_reap(&t->pool, vm);
}

/* ---- runs -------------------------------------------------------------- */

static const struct mvmm_run_opts api_no_opts;

static struct api_result *api_result_new(const struct mvmm_run_opts *o)
{
	struct api_result *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->out.limit = r->err.limit = o->output_limit ? o->output_limit : API_OUTPUT_DEFAULT;
	return r;
}

/* Fills the public result from the run's vm_result (while vm still exists). */
static int api_result_fill(struct api_result *r, struct vm *vm, struct vm_result *res,
			   const struct mvmm_run_opts *o, uint64_t t0)
{
	struct mvmm_result *p = &r->pub;

	p->end = (enum mvmm_end)res->end;
	p->status = res->end == VM_END_EXIT ? res->status : -1;
	if (res->end == VM_END_TIMEOUT && !res->message[0])
		snprintf(r->message, sizeof(r->message), "timed out after %lu ms",
			 (unsigned long)o->timeout_ms);
	else if (res->end != VM_END_EXIT)
		snprintf(r->message, sizeof(r->message), "%s", res->message);
	p->message = r->message;
	p->out = r->out.s ? r->out.s : api_empty;
	p->out_len = r->out.len;
	p->out_truncated = r->out.truncated;
	p->err = r->err.s ? r->err.s : api_empty;
	p->err_len = r->err.len;
	p->err_truncated = r->err.truncated;
	if (res->end == VM_END_FAULT) {
		const struct elfload_symbol *sym;
		uint64_t off = 0;

		p->fault.vector = res->fault.vector;
		p->fault.triple = res->fault.triple;
		p->fault.error_code = res->fault.error_code;
		p->fault.address = res->fault.vector == 14 ? res->fault.cr2 : 0;
		p->fault.rip = res->fault.triple ? res->fault.regs.rip : res->fault.rip;
		p->fault.rsp = res->fault.triple ? res->fault.regs.rsp : res->fault.rsp;
		sym = elfload_symbol_at(&vm->img->prog, p->fault.rip, &off);
		if (sym) {
			r->symbol = strdup(sym->name);
			if (!r->symbol)
				return api_fail(MVMM_ERR_NOMEM, "mvmm_run");
			p->fault.symbol = r->symbol;
			p->fault.symbol_offset = off;
		}
		r->report = res->report;
		res->report = NULL;
		p->fault.report = r->report ? r->report : api_empty;
	}
	p->stats.exits = res->exits;
	p->stats.hypercalls = res->hypercalls;
	p->stats.first_hypercall_ns = res->first_hypercall_ns ? res->first_hypercall_ns - t0 : 0;
	p->stats.clone_no = vm->clone_no;
	p->stats.private_pages = -1;
	if (o->flags & MVMM_RUN_MEMSTAT) {
		struct memstat_vm st;

		if (memstat_vm_read(vm, &st) < 0)
			return MVMM_ERR_HOST;
		p->stats.private_pages = (int64_t)(st.image_private + st.zero_private);
	}
	p->stats.run_ns = vm_now_ns() - t0;
	return 0;
}

/* The shared front of mvmm_run and mvmm_run_image: checks, request, result, config. */
static int api_run_prepare(const struct mvmm_run_opts **o, struct mvmm_result **out,
			   struct vm_request *req, struct api_run *run, struct vm_config *cfg)
{
	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_run: out");
	*out = NULL;
	if (!*o)
		*o = &api_no_opts;
	if (!(*o)->input && (*o)->input_len)
		return api_fail(MVMM_ERR_INVAL, "mvmm_run: input");
	if (((*o)->flags & MVMM_RUN_CORE) && (!(*o)->core_path || !*(*o)->core_path))
		return api_fail(MVMM_ERR_INVAL, "mvmm_run: core_path");
	memset(req, 0, sizeof(*req));
	memset(run, 0, sizeof(*run));
	if ((*o)->flags & MVMM_RUN_SHM) {
		int code;

		run->grants = api_shm_grants((*o)->shm, (*o)->nshm, &code);
		if (!run->grants && code < 0)
			return code;
	}
	if ((*o)->args && vm_request_init(req, (*o)->args) < 0) {
		free(run->grants);
		return MVMM_ERR_NOMEM;
	}
	run->r = api_result_new(*o);
	if (!run->r) {
		vm_request_free(req);
		free(run->grants);
		return api_fail(MVMM_ERR_NOMEM, "mvmm_run");
	}
	run->input = (*o)->input;
	run->input_len = (*o)->input_len;
	memset(cfg, 0, sizeof(*cfg));
	cfg->in_fd = cfg->out_fd = cfg->err_fd = -1;
	cfg->timeout_ns = (*o)->timeout_ms * API_MS;
	cfg->hooks = &api_run_hooks;
	cfg->hooks_ctx = run;
	cfg->request = (*o)->args ? req : NULL;
	cfg->shm = run->grants;
	if ((*o)->flags & MVMM_RUN_CORE) {
		run->core = (struct vm_core_file){AT_FDCWD, (*o)->core_path, 0, ""};
		cfg->core = &run->core;
	}
	return 0;
}

/* Runs vm and fills the result; returns 0 or an error code (the VM is still the caller's). */
static int api_run_vm(struct vm *vm, struct api_run *run, const struct mvmm_run_opts *o,
		      uint64_t t0, struct vm_result *res)
{
	if (vm_run(vm, res) < 0)
		return MVMM_ERR_HOST;
	return api_result_fill(run->r, vm, res, o, t0);
}

/* Where a run's VM comes from: a clone of a template, or an image booted afresh. */
struct api_source {
	int from_image; /* mvmm_run_image: rt, image, argv; mvmm_run: tpl */
	struct mvmm_template *tpl;
	struct mvmm_runtime *rt;
	const struct mvmm_image *image;
	const char *const *argv;
	const struct api_guest *guest; /* mvmm_run_image_opts, or NULL */
};

static int api_source_check(const struct api_source *src)
{
	if (!src->from_image)
		return src->tpl ? 0 : api_fail(MVMM_ERR_INVAL, "mvmm_run: template");
	if (!src->rt || !src->image)
		return api_fail(MVMM_ERR_INVAL,
				src->rt ? "mvmm_run_image: image" : "mvmm_run_image: runtime");
	return 0;
}

/* keep: a template's run whose VM is kept (mvmm_run_hold), else NULL. */
static int api_run_from(const struct api_source *src, const struct mvmm_run_opts *opts,
			struct mvmm_result **out, struct vm **keep)
{
	uint64_t t0 = vm_now_ns();
	struct vm_request req;
	struct vm_result res;
	struct api_run run;
	struct vm_config cfg;
	struct vm *vm;
	int code;

	code = api_run_prepare(&opts, out, &req, &run, &cfg);
	if (code < 0)
		return code;
	code = api_source_check(src);
	if (code < 0)
		goto done;
	memset(&res, 0, sizeof(res));
	if (!src->from_image) {
		/* what the template's clones keep of its guest options: exposed files, strace */
		if (src->tpl->guest.exposed || src->tpl->guest.lx.strace) {
			cfg.lx = &src->tpl->guest.lx;
			cfg.exposed = (const char *const *)src->tpl->guest.exposed;
		}
		vm = api_clone(src->tpl, &cfg);
	} else {
		cfg.argv = src->argv ? src->argv : api_default_argv;
		if (src->guest)
			api_guest_apply(src->guest, &cfg);
		vm = vm_create(&src->rt->kvm, src->image->img, &cfg);
	}
	if (!vm) {
		code = MVMM_ERR_HOST;
		goto done;
	}
	code = api_confine(src->from_image ? src->rt : src->tpl->rt);
	if (code == 0)
		code = api_run_vm(vm, &run, opts, t0, &res);
	/* The run is over: the grants array may go, and a kept VM must not point at it. */
	vm->shm_grants = NULL;
	if (keep && code == 0) {
		vm->request = NULL;
		vm->hooks_ctx = NULL;
		vm->core = NULL;
		*keep = vm;
	} else if (keep) {
		api_reap(src->tpl, vm);
	} else if (!src->from_image) {
		api_release(src->tpl, vm, &res);
	} else {
		vm_destroy(vm);
	}
	vm_result_clear(&res);
done:
	vm_request_free(&req);
	free(run.grants);
	if (code < 0) {
		mvmm_result_free(&run.r->pub);
		return code;
	}
	*out = &run.r->pub;
	return 0;
}

MVMM_API int mvmm_run(struct mvmm_template *t, const struct mvmm_run_opts *opts,
		      struct mvmm_result **out)
{
	struct api_source src = {.tpl = t};

	return api_run_from(&src, opts, out, NULL);
}

MVMM_API int mvmm_run_hold(struct mvmm_template *t, const struct mvmm_run_opts *opts,
			   struct mvmm_result **out, struct mvmm_held **held)
{
	struct api_source src = {.tpl = t};
	struct mvmm_held *h;
	struct vm *vm = NULL;
	int code;

	if (!held)
		return api_fail(MVMM_ERR_INVAL, "mvmm_run_hold: held");
	*held = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return api_fail(MVMM_ERR_NOMEM, "mvmm_run_hold");
	code = api_run_from(&src, opts, out, &vm);
	if (code < 0) {
		free(h);
		return code;
	}
	h->tpl = t;
	h->vm = vm;
	*held = h;
	return 0;
}

MVMM_API void mvmm_held_free(struct mvmm_held *h)
{
	if (!h)
		return;
	api_held_detach(h);
	api_reap(h->tpl, h->vm);
	free(h);
}

MVMM_API int mvmm_run_image(struct mvmm_runtime *rt, const struct mvmm_image *image,
			    const char *const *argv, const struct mvmm_run_opts *opts,
			    struct mvmm_result **out)
{
	struct api_source src = {.from_image = 1, .rt = rt, .image = image, .argv = argv};

	return api_run_from(&src, opts, out, NULL);
}

MVMM_API int mvmm_run_image_opts(struct mvmm_runtime *rt, const struct mvmm_image *image,
				 const char *const *argv, const struct mvmm_guest_options *guest,
				 const struct mvmm_run_opts *opts, struct mvmm_result **out)
{
	struct api_source src = {.from_image = 1, .rt = rt, .image = image, .argv = argv};
	struct api_guest ag;
	int code;

	if (out)
		*out = NULL;
	code = api_guest_config(guest, "mvmm_run_image", &ag);
	if (code < 0)
		return code;
	/* A Linux program that reads stdin is not frozen there: this is no template. */
	ag.lx.ready_on_stdin = 0;
	src.guest = &ag;
	code = api_run_from(&src, opts, out, NULL);
	api_guest_free(&ag);
	return code;
}

MVMM_API void mvmm_result_free(struct mvmm_result *res)
{
	struct api_result *r = (struct api_result *)res;

	if (!r)
		return;
	free(r->out.s);
	free(r->err.s);
	free(r->report);
	free(r->symbol);
	free(r);
}
