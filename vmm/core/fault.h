/* fault.h: capture a guest exception and write its crash report. */
#ifndef MVMM_FAULT_H
#define MVMM_FAULT_H

#include "exit.h"

/*
 * Reads the exception frame the ring-0 stub left (or, for a triple fault,
 * only the registers), fills vm->res->fault and the report, and ends the
 * run with VM_END_FAULT.
 */
enum exit_action fault_capture(struct vm *vm, int triple);

/*
 * The crash report for fault f in vm's guest: the exception's name, error
 * code, faulting address, registers, the symbol containing RIP (through
 * vm->up), and a disassembly around RIP with the faulting instruction
 * marked. Returns a malloc'd string (NULL if out of memory).
 */
char *fault_format(const struct vm *vm, const struct vm_fault *f);

#endif
