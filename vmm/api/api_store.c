/* api_store.c: mvmm.h's calls over files: template snapshots and the image cache. */
#define _GNU_SOURCE
#include "api_int.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cache.h"
#include "clone/snapshot.h"
#include "clone/template.h"
#include "core/error.h"
#include "core/fdio.h"
#include "core/vm.h"
#include "load/image.h"

/* ---- snapshots -------------------------------------------------------- */

MVMM_API int mvmm_template_snapshot(struct mvmm_template *t, const char *path)
{
	if (!t || !path || !*path)
		return api_fail(MVMM_ERR_INVAL, t ? "mvmm_template_snapshot: path"
						  : "mvmm_template_snapshot: template");
	if (snap_write_base(path, t->tpl, t->elf_path, NULL) < 0)
		return MVMM_ERR_IO; /* the message names the file or the state that cannot be saved */
	return 0;
}

MVMM_API int mvmm_template_from_snapshot(struct mvmm_runtime *rt, const char *chain,
					 int huge_pages, struct mvmm_template **out)
{
	struct vm_config cfg;
	struct template *tpl;

	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_template_from_snapshot: out");
	*out = NULL;
	if (!rt || !chain || !*chain)
		return api_fail(MVMM_ERR_INVAL, rt ? "mvmm_template_from_snapshot: chain"
						   : "mvmm_template_from_snapshot: runtime");
	if (huge_pages < MVMM_HUGE_AUTO || huge_pages > MVMM_HUGE_OFF) {
		err_set("mvmm_template_from_snapshot: huge_pages %d is not an enum mvmm_huge_pages",
			huge_pages);
		return MVMM_ERR_INVAL;
	}
	api_boot_config(&cfg, NULL, 0);
	tpl = snap_restore_list(chain, (enum huge_mode)huge_pages, &cfg);
	if (!tpl)
		return MVMM_ERR_IMAGE; /* the message names the file and what is wrong */
	return api_template_wrap(rt, tpl, NULL, out);
}

/* ---- the image cache -------------------------------------------------- */

_Static_assert((int)MVMM_CACHE_HIT == (int)CACHE_HIT + 1 &&
		       (int)MVMM_CACHE_BUILT == (int)CACHE_BUILT + 1 &&
		       (int)MVMM_CACHE_REPLACED == (int)CACHE_REPLACED + 1 &&
		       (int)MVMM_CACHE_REBUILT == (int)CACHE_REBUILT + 1,
	       "enum mvmm_cache_outcome follows enum cache_outcome, off by one");

static int api_cache_opts(const struct mvmm_cache_options *c, const char *who,
			  struct cache_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (!c || !c->dir || !*c->dir) {
		err_set("%s: cache options without a directory", who);
		return MVMM_ERR_INVAL;
	}
	if (c->flags) {
		err_set("%s: unknown flags 0x%x", who, c->flags);
		return MVMM_ERR_INVAL;
	}
	if (c->huge_pages < MVMM_HUGE_AUTO || c->huge_pages > MVMM_HUGE_OFF) {
		err_set("%s: huge_pages %d is not an enum mvmm_huge_pages", who, c->huge_pages);
		return MVMM_ERR_INVAL;
	}
	o->dir = c->dir;
	o->max_bytes = c->max_bytes;
	o->huge = (enum huge_mode)c->huge_pages;
	return 0;
}

/* CACHE_OFF is 0 inside; outside 0 means "no information", so every outcome moves up one. */
static void api_cache_info(const struct cache_status *st, struct mvmm_cache_info *info)
{
	if (!info)
		return;
	memset(info, 0, sizeof(*info));
	info->outcome = (int)st->outcome + 1;
	info->verified_now = st->verified_now;
	info->load_ns = st->load_ns;
	snprintf(info->path, sizeof(info->path), "%s", st->path);
	snprintf(info->warning, sizeof(info->warning), "%s", st->warning);
}

/* The guest file must exist and be a regular file: that failure is the caller's (MVMM_ERR_IO). */
static int api_check_file(const char *path)
{
	int fd = fd_open_regular_msg(path, "");

	if (fd < 0)
		return MVMM_ERR_IO;
	close(fd);
	return 0;
}

MVMM_API int mvmm_image_load_cached(const char *path, uint64_t mem_size,
				    const struct mvmm_cache_options *cache,
				    struct mvmm_image **out, struct mvmm_cache_info *info)
{
	struct cache_status st = {0};
	struct mvmm_image *h;
	struct cache_opts o;
	struct image *img;
	int code;

	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_image_load_cached: out");
	*out = NULL;
	if (!path)
		return api_fail(MVMM_ERR_INVAL, "mvmm_image_load_cached: path");
	code = api_cache_opts(cache, "mvmm_image_load_cached", &o);
	if (code == 0)
		code = api_check_file(path);
	if (code < 0)
		return code;
	img = cache_load_image(&o, path, mem_size ? mem_size : MVMM_MEM_DEFAULT, &st);
	api_cache_info(&st, info);
	if (!img)
		return MVMM_ERR_IMAGE;
	h = calloc(1, sizeof(*h));
	if (!h || !(h->path = realpath(path, NULL))) {
		free(h);
		image_put(img);
		return api_fail(MVMM_ERR_NOMEM, "mvmm_image_load_cached");
	}
	h->img = img;
	*out = h;
	return 0;
}

MVMM_API int mvmm_template_new_cached(struct mvmm_runtime *rt, const char *path,
				      uint64_t mem_size, const char *const *argv,
				      uint64_t timeout_ms,
				      const struct mvmm_guest_options *guest,
				      const struct mvmm_cache_options *cache,
				      struct mvmm_template **out, struct mvmm_cache_info *info)
{
	struct cache_status st = {0};
	struct vm_result res = {0};
	struct vm_config cfg;
	struct template *tpl;
	struct api_guest ag;
	struct cache_opts o;
	char *abs;
	int code;

	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_template_new_cached: out");
	*out = NULL;
	if (!rt || !path)
		return api_fail(MVMM_ERR_INVAL, rt ? "mvmm_template_new_cached: path"
						   : "mvmm_template_new_cached: runtime");
	code = api_cache_opts(cache, "mvmm_template_new_cached", &o);
	if (code == 0)
		code = api_check_file(path);
	if (code == 0)
		code = api_guest_config(guest, "mvmm_template_new_cached", &ag);
	if (code < 0)
		return code;
	o.off = ag.exposed != NULL; /* as the command: its start may read them */
	api_boot_config(&cfg, argv, timeout_ms);
	api_guest_apply(&ag, &cfg);
	tpl = cache_load_template(&o, &rt->kvm, path, mem_size ? mem_size : MVMM_MEM_DEFAULT, &cfg,
				  &res, &st);
	api_cache_info(&st, info);
	if (!tpl) {
		code = res.end ? api_boot_failure(&res, timeout_ms) : MVMM_ERR_IMAGE;
		vm_result_clear(&res);
		api_guest_free(&ag);
		return code;
	}
	vm_result_clear(&res);
	abs = realpath(path, NULL);
	code = api_template_wrap(rt, tpl, abs, out);
	free(abs);
	if (code < 0)
		api_guest_free(&ag);
	else
		api_guest_keep(*out, &ag);
	return code;
}
