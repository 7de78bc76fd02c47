/*
 * api_int.h: what the files of the public API (api.c: runtime, templates,
 * runs; api_image.c: errors and images; api_share.c: shared regions, held
 * runs, dedup; api_store.c: snapshots and the image cache) share. Not
 * installed.
 */
#ifndef MVMM_API_INT_H
#define MVMM_API_INT_H

#include <pthread.h>

#include "mvmm.h"

#include "clone/shellpool.h"
#include "core/kvm.h"
#include "guestabi/lx.h"

#define API_SPARE_MAX 8u /* finished clones kept for reuse per template */

struct image;
struct template;
struct vm;
struct vm_result;

struct mvmm_image {
	struct image *img;
	char *path; /* the ELF's absolute path when loaded from a file (snapshots record it), or NULL */
};

struct mvmm_runtime {
	struct kvm_sys kvm;
	pthread_mutex_t lock; /* guards the template list */
	struct mvmm_template *templates;
	int seccomp; /* mvmm_runtime_options.seccomp */
};

/*
 * mvmm_guest_options as the VM wants them (api_guest.c): the Linux
 * configuration, the directories (pointing into the caller's strings),
 * an owned copy of the exposed files (a VM reads them while it runs).
 */
struct api_guest {
	struct lx_config lx;
	struct lx_dir *dirs;
	char **exposed;
	const char *const *envp; /* the caller's */
};

/*
 * A template and the VMs it runs clones in: shells from its pool, and
 * spare VMs, finished clones reset and kept for the next run (a reset is
 * ~10x cheaper than tearing a VM down and creating another).
 */
struct mvmm_template {
	struct mvmm_runtime *rt;
	struct template *tpl;
	struct shell_pool pool;
	pthread_mutex_t lock; /* guards spare */
	struct vm *spare[API_SPARE_MAX];
	unsigned nspare;
	struct mvmm_template *next, **pprev; /* in rt->templates */
	char *elf_path; /* the guest ELF, for snapshots' symbols (owned), or NULL */
	struct api_guest guest; /* its clones' exposed files and strace (mvmm_template_new_opts) */
};

/* A finished run kept with its memory (mvmm_run_hold). */
struct mvmm_held {
	struct mvmm_template *tpl;
	struct vm *vm;
	struct mvmm_dedup *dedup; /* the store it is attached to, or NULL */
	struct mvmm_held *next, **pprev; /* in dedup's list */
};

/* Sets the thread's error message from the internal one (what: the call), returns code. */
int api_fail(int code, const char *what);

/*
 * Makes tpl (its reference passes to the handle, also on failure) a
 * template of rt with its own shell pool; elf_path is copied (may be NULL).
 */
int api_template_wrap(struct mvmm_runtime *rt, struct template *tpl, const char *elf_path,
		      struct mvmm_template **out);

/* The error code and message for a template guest that did not reach ready. */
int api_boot_failure(const struct vm_result *res, uint64_t timeout_ms);

/* A template's boot configuration: argv (NULL: { "guest" }), output discarded, its ready point. */
struct vm_config;
void api_boot_config(struct vm_config *cfg, const char *const *argv, uint64_t timeout_ms);

/*
 * The grants array (ended by a NULL name) of a run's MVMM_RUN_SHM regions
 * (api_share.c), malloc'd; NULL with the message set and *code on failure,
 * or when there are none (*code 0).
 */
struct shm_grant *api_shm_grants(struct mvmm_shm *const *shm, size_t n, int *code);

/* Checks and converts g (NULL: the defaults); who names the call in messages. */
int api_guest_config(const struct mvmm_guest_options *g, const char *who, struct api_guest *out);
/* Points cfg's environment, Linux configuration and exposed files at ag. */
void api_guest_apply(const struct api_guest *ag, struct vm_config *cfg);
void api_guest_free(struct api_guest *ag);
/* Moves what t's clones need of ag (after the boot) into t; ag is left empty. */
void api_guest_keep(struct mvmm_template *t, struct api_guest *ag);

/* Detaches a held run from its dedup store (api_share.c; no-op if none). */
void api_held_detach(struct mvmm_held *h);

/* Tears down a VM of t off the calling thread (its pool's reaper). */
void api_reap(struct mvmm_template *t, struct vm *vm);

#endif
