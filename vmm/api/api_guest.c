/* api_guest.c: mvmm_guest_options (a Linux program's environment, trees, cwd, files, strace) to vm_config. */
#define _GNU_SOURCE
#include "api_int.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/vm.h"
#include "guestabi/lx.h"

#define API_DIRS_MAX	64u   /* --dir's limit */
#define API_EXPOSE_MAX	4096u /* --expose's limit */

static size_t api_count(const char *const *v, size_t max)
{
	size_t n = 0;

	while (v && v[n] && n <= max)
		n++;
	return n;
}

/* Copies the NULL-terminated list v (n entries) into one allocation; NULL on failure. */
static char **api_copy_list(const char *const *v, size_t n)
{
	size_t i, bytes = (n + 1) * sizeof(char *);
	char **out, *s;

	for (i = 0; i < n; i++)
		bytes += strlen(v[i]) + 1;
	out = malloc(bytes);
	if (!out)
		return NULL;
	s = (char *)(out + n + 1);
	for (i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;

		memcpy(s, v[i], len);
		out[i] = s;
		s += len;
	}
	out[n] = NULL;
	return out;
}

int api_guest_config(const struct mvmm_guest_options *g, const char *who, struct api_guest *out)
{
	size_t i, nexpose;

	memset(out, 0, sizeof(*out));
	out->lx.strace_fd = -1;
	out->lx.ready_on_stdin = 1; /* see mvmm_template_new */
	if (!g)
		return 0;
	if ((g->ndirs && !g->dirs) || g->ndirs > API_DIRS_MAX) {
		err_set("%s: dirs: %zu entries (at most %u)", who, g->ndirs, API_DIRS_MAX);
		return MVMM_ERR_INVAL;
	}
	if (g->flags) {
		err_set("%s: unknown flags 0x%x", who, g->flags);
		return MVMM_ERR_INVAL;
	}
	if (g->strace && g->strace_fd < 0) {
		err_set("%s: strace_fd %d", who, g->strace_fd);
		return MVMM_ERR_INVAL;
	}
	nexpose = api_count(g->expose, API_EXPOSE_MAX);
	if (nexpose > API_EXPOSE_MAX) {
		err_set("%s: expose: more than %u files", who, API_EXPOSE_MAX);
		return MVMM_ERR_INVAL;
	}
	if (g->ndirs) {
		out->dirs = calloc(g->ndirs, sizeof(*out->dirs));
		if (!out->dirs)
			return api_fail(MVMM_ERR_NOMEM, who);
	}
	for (i = 0; i < g->ndirs; i++) {
		if (!g->dirs[i].host || !*g->dirs[i].host ||
		    (g->dirs[i].guest && g->dirs[i].guest[0] != '/')) {
			err_set("%s: dirs[%zu]: a host directory and an absolute guest path (or NULL)",
				who, i);
			api_guest_free(out);
			return MVMM_ERR_INVAL;
		}
		out->dirs[i] = (struct lx_dir){ g->dirs[i].host, g->dirs[i].guest, !!g->dirs[i].rw };
	}
	if (nexpose && !(out->exposed = api_copy_list(g->expose, nexpose))) {
		api_guest_free(out);
		return api_fail(MVMM_ERR_NOMEM, who);
	}
	out->lx.dirs = out->dirs;
	out->lx.ndirs = g->ndirs;
	out->lx.cwd = g->cwd;
	out->lx.strace = !!g->strace;
	out->lx.strace_fd = g->strace ? g->strace_fd : -1;
	out->envp = g->envp;
	return 0;
}

void api_guest_apply(const struct api_guest *ag, struct vm_config *cfg)
{
	cfg->lx = &ag->lx;
	cfg->envp = ag->envp;
	cfg->exposed = (const char *const *)ag->exposed;
}

void api_guest_free(struct api_guest *ag)
{
	free(ag->dirs);
	free(ag->exposed);
	memset(ag, 0, sizeof(*ag));
}
