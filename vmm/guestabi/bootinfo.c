/* bootinfo.c: lay out struct mvmm_bootinfo, argv and envp in the boot info area. */
#include "bootinfo.h"

#include <string.h>

#include "core/error.h"
#include "core/layout.h"
#include "mvmm_abi.h"

static size_t count_strings(const char *const *v, size_t *bytes)
{
	size_t n = 0;

	for (; v && v[n]; n++)
		*bytes += strlen(v[n]) + 1;
	return n;
}

/* Copies strings after the pointer array at *gpa, filling the array with their addresses. */
static void put_strings(const struct gmem *mem, mvmm_gpa_t array, const char *const *v, size_t n,
			mvmm_gpa_t *strings)
{
	uint64_t *ptrs = gmem_ptr(mem, array, (n + 1) * sizeof(uint64_t));
	size_t i;

	for (i = 0; i < n; i++) {
		size_t len = strlen(v[i]) + 1;

		memcpy(gmem_ptr(mem, *strings, len), v[i], len);
		ptrs[i] = *strings;
		*strings += len;
	}
	ptrs[n] = 0;
}

int64_t bootinfo_write(const struct gmem *mem, const struct image *img, const char *const *argv,
		       const char *const *envp, uint64_t instance)
{
	struct mvmm_bootinfo *bi;
	size_t bytes = 0, argc, envc, need;
	mvmm_gpa_t argv_gpa, envp_gpa, strings;

	argc = count_strings(argv, &bytes);
	envc = count_strings(envp, &bytes);
	need = sizeof(*bi) + (argc + envc + 2) * sizeof(uint64_t) + bytes;
	if (need > MVMM_BOOTINFO_SIZE)
		return err_set("arguments and environment take %zu bytes, more than the %u "
			       "the boot info area holds",
			       need, MVMM_BOOTINFO_SIZE);
	argv_gpa = MVMM_BOOTINFO_GPA + sizeof(*bi);
	envp_gpa = argv_gpa + (argc + 1) * sizeof(uint64_t);
	strings = envp_gpa + (envc + 1) * sizeof(uint64_t);
	put_strings(mem, argv_gpa, argv, argc, &strings);
	put_strings(mem, envp_gpa, envp, envc, &strings);

	bi = gmem_ptr(mem, MVMM_BOOTINFO_GPA, sizeof(*bi));
	bi->magic = MVMM_BOOTINFO_MAGIC;
	bi->abi_version = MVMM_ABI_VERSION;
	bi->mem_size = img->mem_size;
	bi->heap_start = img->heap_start;
	bi->heap_end = img->heap_end;
	bi->stack_top = layout_stack_top(img->mem_size);
	bi->argc = (uint32_t)argc;
	bi->envc = (uint32_t)envc;
	bi->argv = argv_gpa;
	bi->envp = envp_gpa;
	bi->instance = instance;
	return (int64_t)need;
}
