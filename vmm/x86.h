/* x86.h: the guest's x86 system structures (page tables, GDT, TSS, IDT, stubs, sregs). */
#ifndef MVMM_X86_H
#define MVMM_X86_H

#include <linux/kvm.h>
#include <stdint.h>

#include "elfload.h"

/* Page-table entry bits, and the flags of a table (non-leaf) entry. */
#define PTE_P	  (1ull << 0)
#define PTE_RW	  (1ull << 1)
#define PTE_US	  (1ull << 2)
#define PTE_A	  (1ull << 5)
#define PTE_D	  (1ull << 6)
#define PTE_NX	  (1ull << 63)
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US | PTE_A)

/* Number of hypercall ports the TSS I/O bitmap opens to CPL3. */
#define X86_HC_PORT_SLOTS 64

/*
 * Writes the system area (GDT, TSS with I/O bitmap, IDT, exception stubs,
 * ring-0 stack) and 4 KiB page tables for a guest of mem_size bytes into
 * mem (the image, mapped). Program pages get their ELF permissions (W^X
 * where the ELF is), heap and stack are user read-write no-execute, the
 * system area is supervisor only, page 0 and the stack guard page are not
 * present. Accessed and Dirty bits are preset everywhere so that the
 * shadow MMU never writes the shared page tables (see PLATFORM.md).
 */
void x86_build_tables(uint8_t *mem, uint64_t mem_size, const struct elfload_program *prog,
		      uint64_t heap_start);

/* Long mode at CPL3, over the tables built above. */
void x86_user_sregs(struct kvm_sregs *s);

/* Name of an exception vector ("page fault"), or NULL if none. */
const char *x86_vector_name(unsigned vector);
/* Mnemonic of an exception vector ("#PF"), or "#??". */
const char *x86_vector_mnemonic(unsigned vector);

/* Whether the CPU pushes an error code for this vector. */
int x86_vector_has_error_code(unsigned vector);

#endif
