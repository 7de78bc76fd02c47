/* hypercall.h: the table of hypercall handlers. */
#ifndef MVMM_HYPERCALL_H
#define MVMM_HYPERCALL_H

#include "core/exit.h"

/*
 * Handles hypercall nr whose argument block is at guest address arg: the
 * block is checked and copied in, the handler runs on the copy, and the
 * block is copied back (ret and OUT fields).
 */
enum exit_action hypercall_dispatch(struct vm *vm, unsigned nr, mvmm_gpa_t arg);

/* The name of hypercall nr ("ready"), or NULL. */
const char *hypercall_name(unsigned nr);

#endif
