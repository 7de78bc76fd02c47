/* bootinfo.h: write an instance's boot info (argv, environment, layout) into its memory. */
#ifndef MVMM_BOOTINFO_H
#define MVMM_BOOTINFO_H

#include <stdint.h>

#include "core/gmem.h"
#include "load/image.h"

/*
 * Writes struct mvmm_bootinfo, the argv and envp pointer arrays and their
 * strings at MVMM_BOOTINFO_GPA. Returns the bytes used, or -1 (with the
 * message set) when they do not fit in MVMM_BOOTINFO_SIZE.
 */
int64_t bootinfo_write(const struct gmem *mem, const struct image *img, const char *const *argv,
		       const char *const *envp, uint64_t instance);

#endif
