/*
 * api_int.h: what the files of the public API (api.c: runtime, templates,
 * runs; api_image.c: errors and images) share. Not installed.
 */
#ifndef MVMM_API_INT_H
#define MVMM_API_INT_H

#include "mvmm.h"

struct image;

struct mvmm_image {
	struct image *img;
};

/* Sets the thread's error message from the internal one (what: the call), returns code. */
int api_fail(int code, const char *what);

#endif
