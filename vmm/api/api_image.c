/* api_image.c: mvmm.h's errors and images over the internal modules (the rest: api.c). */
#define _GNU_SOURCE
#include "api_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/fdio.h"
#include "core/log.h"
#include "core/vm.h"
#include "load/image.h"

/* ---- errors ---------------------------------------------------------- */

MVMM_API const char *mvmm_last_error(void)
{
	return mvmm_errmsg();
}

MVMM_API const char *mvmm_strerror(int code)
{
	static const char *const names[] = {
		[0] = "success",
		[-MVMM_ERR_INVAL] = "invalid argument",
		[-MVMM_ERR_NOMEM] = "out of memory",
		[-MVMM_ERR_KVM] = "KVM unavailable",
		[-MVMM_ERR_IO] = "cannot read the guest file",
		[-MVMM_ERR_IMAGE] = "invalid guest image",
		[-MVMM_ERR_NOT_READY] = "guest ended before ready",
		[-MVMM_ERR_FAULT] = "guest faulted before ready",
		[-MVMM_ERR_TIMEOUT] = "guest timed out before ready",
		[-MVMM_ERR_HOST] = "host failure",
	};

	if (code > 0 || -code >= (int)(sizeof(names) / sizeof(names[0])))
		return "unknown error";
	return names[-code];
}

_Static_assert((int)MVMM_LOG_ERROR == (int)VLOG_ERROR && (int)MVMM_LOG_WARN == (int)VLOG_WARN &&
		       (int)MVMM_LOG_INFO == (int)VLOG_INFO &&
		       (int)MVMM_LOG_DEBUG == (int)VLOG_DEBUG,
	       "mvmm.h's log levels are core/log.h's");

MVMM_API void mvmm_set_log_level(int level)
{
	vlog_set_level(level);
}

MVMM_API void mvmm_set_log_handler(mvmm_log_fn fn, void *ctx)
{
	vlog_set_sink(fn, ctx);
}

MVMM_API const char *mvmm_version(void)
{
	return "0.1.0";
}

MVMM_API const char *mvmm_end_name(int end)
{
	switch (end) {
	case MVMM_END_EXIT:
		return "exit";
	case MVMM_END_FAULT:
		return "fault";
	case MVMM_END_ABORT:
		return "abort";
	case MVMM_END_GUEST_ERROR:
		return "guest-error";
	case MVMM_END_TIMEOUT:
		return "timeout";
	default:
		return "?";
	}
}

/* Records the message and returns code. */
int api_fail(int code, const char *what)
{
	err_set("%s: %s", what, code == MVMM_ERR_NOMEM ? "out of memory" : "NULL argument");
	return code;
}

/* ---- images ----------------------------------------------------------- */

/* path: the ELF file (its absolute path is kept for snapshots), or NULL for a buffer. */
static int api_image_out(struct image *img, const char *path, struct mvmm_image **out)
{
	struct mvmm_image *h;

	if (!img)
		return MVMM_ERR_IMAGE;
	h = calloc(1, sizeof(*h));
	if (!h || (path && !(h->path = realpath(path, NULL)))) {
		free(h);
		image_put(img);
		return api_fail(MVMM_ERR_NOMEM, "loading an image");
	}
	h->img = img;
	*out = h;
	return 0;
}

/* The library's modes are the command's, in the order of enum huge_mode. */
_Static_assert((int)MVMM_HUGE_AUTO == (int)HUGE_MODE_AUTO && (int)MVMM_HUGE_THP == (int)HUGE_MODE_THP &&
		       (int)MVMM_HUGE_HUGETLB == (int)HUGE_MODE_HUGETLB &&
		       (int)MVMM_HUGE_OFF == (int)HUGE_MODE_OFF,
	       "enum mvmm_huge_pages matches enum huge_mode");

static int api_image_params(const struct mvmm_image_options *opts, const char *who,
			    struct image_params *p)
{
	memset(p, 0, sizeof(*p));
	p->mem_size = opts && opts->mem_size ? opts->mem_size : MVMM_MEM_DEFAULT;
	if (opts && (opts->huge_pages < MVMM_HUGE_AUTO || opts->huge_pages > MVMM_HUGE_OFF))
		return err_set("%s: huge_pages %d is not an enum mvmm_huge_pages", who,
			       opts->huge_pages);
	p->huge = opts ? (enum huge_mode)opts->huge_pages : HUGE_MODE_AUTO;
	return 0;
}

MVMM_API int mvmm_image_load_file_opts(const char *path, const struct mvmm_image_options *opts,
				       struct mvmm_image **out)
{
	struct image_params p;
	int fd;

	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_image_load_file: out");
	*out = NULL;
	if (!path)
		return api_fail(MVMM_ERR_INVAL, "mvmm_image_load_file: path");
	if (api_image_params(opts, "mvmm_image_load_file", &p) < 0)
		return MVMM_ERR_INVAL;
	/* The file's own failures are MVMM_ERR_IO; everything image_load_file says after is about its contents. */
	fd = fd_open_regular_msg(path, "");
	if (fd < 0) {
		return MVMM_ERR_IO;
	}
	close(fd);
	return api_image_out(image_load_file_with(path, &p), path, out);
}

MVMM_API int mvmm_image_load_file(const char *path, uint64_t mem_size, struct mvmm_image **out)
{
	struct mvmm_image_options o = {.mem_size = mem_size};

	return mvmm_image_load_file_opts(path, &o, out);
}

MVMM_API int mvmm_image_load_buffer_opts(const void *elf, size_t len,
					 const struct mvmm_image_options *opts,
					 struct mvmm_image **out)
{
	struct image_params p;

	if (!out)
		return api_fail(MVMM_ERR_INVAL, "mvmm_image_load_buffer: out");
	*out = NULL;
	if (!elf)
		return api_fail(MVMM_ERR_INVAL, "mvmm_image_load_buffer: elf");
	if (api_image_params(opts, "mvmm_image_load_buffer", &p) < 0)
		return MVMM_ERR_INVAL;
	return api_image_out(image_load_buffer_with(elf, len, "buffer", &p), NULL, out);
}

MVMM_API int mvmm_image_load_buffer(const void *elf, size_t len, uint64_t mem_size,
				    struct mvmm_image **out)
{
	struct mvmm_image_options o = {.mem_size = mem_size};

	return mvmm_image_load_buffer_opts(elf, len, &o, out);
}

MVMM_API const char *mvmm_image_huge_pages(const struct mvmm_image *img, uint64_t *huge_bytes)
{
	if (huge_bytes)
		*huge_bytes = img ? img->img->huge.nchunks * HUGE_PAGE_SIZE : 0;
	return img ? huge_backing_name(img->img->huge.backing) : "?";
}

MVMM_API void mvmm_image_free(struct mvmm_image *img)
{
	if (!img)
		return;
	image_put(img->img);
	free(img->path);
	free(img);
}

