/* bench_image.h: the guest image of an in-process benchmark, on the backing MVMM_BENCH_HUGE names. */
#ifndef MVMM_BENCH_IMAGE_H
#define MVMM_BENCH_IMAGE_H

#include <stdlib.h>

#include "core/error.h"
#include "core/hugepage.h"
#include "load/image.h"

/*
 * MVMM_BENCH_HUGE is a --huge-pages value (auto, thp, hugetlb, off); unset
 * means off, the 4 KiB baseline. The scripts set the host up first
 * (bench/hostset.sh), so an explicit backing the host lacks is an error.
 */
/* The --huge-pages value the benchmark runs with. */
static inline const char *bench_huge_mode(void)
{
	const char *mode = getenv("MVMM_BENCH_HUGE");

	return mode && *mode ? mode : "off";
}

static inline struct image *bench_image_load(const char *elf, uint64_t mem_size)
{
	struct image_params p = { .mem_size = mem_size, .huge = HUGE_MODE_OFF };
	const char *mode = bench_huge_mode();

	if (huge_mode_parse(mode, &p.huge) < 0) {
		err_set("MVMM_BENCH_HUGE=%s: not auto, thp, hugetlb or off", mode);
		return NULL;
	}
	return image_load_file_with(elf, &p);
}

#endif
