/* fuzz_dynlink.c: libFuzzer target: a dynamic program's closure (dl_needed_resolve) from the input
 * as the program's ELF: its DT_NEEDED, DT_RPATH and DT_RUNPATH strings, looked up on this host. */
#define _GNU_SOURCE
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "load/dynlink.h"
#include "load/elfload.h"

#include "fuzz.h"

#define FUZZ_INTERP "/lib64/ld-linux-x86-64.so.2"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dl_needed d;
	char *interp = elfload_interp_of(data, size);

	if (interp) {
		FUZZ_CHECK(strlen(interp) < ELFLOAD_INTERP_MAX, "interp of %zu bytes", strlen(interp));
		free(interp);
	}
	if (dl_needed_resolve(NULL, data, size, FUZZ_INTERP, &d) < 0) {
		FUZZ_LOG("dynlink: refused: %s\n", mvmm_errmsg());
		return 0;
	}
	FUZZ_LOG("dynlink: %zu files\n", d.n);
	FUZZ_CHECK(d.n <= DL_FILES_MAX, "%zu files", d.n);
	for (size_t i = 0; i < d.n; i++) {
		/* Every file is shown at an absolute path and is a resolved host file. */
		FUZZ_CHECK(d.files[i].guest[0] == '/' && d.files[i].host[0] == '/', "file %zu: %s -> %s",
			   i, d.files[i].guest, d.files[i].host);
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(strcmp(d.files[k].guest, d.files[i].guest) != 0, "%s twice",
				   d.files[i].guest);
	}
	dl_needed_free(&d);
	return 0;
}
