/* exit.h: decode one vCPU exit into an action; a pure function of (VM, kvm_run). */
#ifndef MVMM_EXIT_H
#define MVMM_EXIT_H

#include "vm.h"

/*
 * Handles the exit described by vm->run: hypercalls, fault reports from
 * the exception stubs, shutdowns and anything unexpected. Tests feed it
 * fabricated exits over a plain buffer standing in for guest memory.
 */
enum exit_action exit_dispatch(struct vm *vm);

/* Ends the run with a guest error (message printf-style). Returns EXIT_STOP. */
enum exit_action exit_guest_error(struct vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Ends the run with a host error. Returns EXIT_STOP. */
enum exit_action exit_host_error(struct vm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
