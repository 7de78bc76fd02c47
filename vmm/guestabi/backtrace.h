/*
 * backtrace.h: a faulting guest's call stack with function, file and line,
 * for crash reports (the backtrace upcall of core/vm.h).
 */
#ifndef MVMM_BACKTRACE_H
#define MVMM_BACKTRACE_H

#include <stdint.h>

#include "core/vm.h"

#define BACKTRACE_FRAMES 64 /* frames shown at most */

/*
 * The frames of vm's guest from (rip, rsp) and f's other registers, one
 * line each ("  #1  0x401136 in level2+0x12 (bt.c:17)"), as malloc'd text;
 * NULL when out of memory. The program, its dynamic loader and the
 * libraries the loader mapped (those of the image's closure only: a name
 * the guest wrote is never opened) are read with elfutils' libdwfl; frames
 * unwind by DWARF CFI, by frame pointers where a function has none. Every
 * guest read goes through the guest's page tables (core/gwalk.h) and is
 * bounded.
 */
char *backtrace_format(const struct vm *vm, const struct vm_fault *f, uint64_t rip, uint64_t rsp);

#endif
