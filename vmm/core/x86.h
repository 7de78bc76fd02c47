/*
 * x86.h: the guest's x86 system structures: page-table entry bits, GDT,
 * TSS, IDT, exception stubs and the long-mode segment registers.
 */
#ifndef MVMM_X86_H
#define MVMM_X86_H

#include <linux/kvm.h>
#include <stdint.h>


/* Page-table entry bits, and the flags of a table (non-leaf) entry. */
#define PTE_P	  (1ull << 0)
#define PTE_RW	  (1ull << 1)
#define PTE_US	  (1ull << 2)
#define PTE_A	  (1ull << 5)
#define PTE_D	  (1ull << 6)
#define PTE_PS	  (1ull << 7) /* in a PDE: maps 2 MiB */
#define PTE_NX	  (1ull << 63)
#define PTE_TABLE (PTE_P | PTE_RW | PTE_US | PTE_A)

/* Number of hypercall ports the TSS I/O bitmap opens to CPL3. */
#define X86_HC_PORT_SLOTS 64

/*
 * Writes the system area into mem (an image being built): GDT, TSS with
 * an I/O bitmap that opens only the hypercall ports to CPL3, IDT, the
 * ring-0 exception stubs and their stack. The page tables that map it
 * are the loader's (load/pagetable.h).
 */
void x86_build_system(uint8_t *mem);

/*
 * Whether guest memory in fd (an image, a template) holds exactly the
 * system area x86_build_system writes (GDT, TSS, IDT, stubs; not the
 * ring-0 stack): the VMM runs its own stubs, never ones from a file.
 */
int x86_system_is_ours(int fd);
/* The same for a file holding guest page 0 at offset off. */
int x86_system_is_ours_at(int fd, uint64_t off);

#define X86_CR4_OSXSAVE (1ull << 18)

/*
 * Long mode at CPL3, over the tables built above; with osxsave, CR4 says
 * XSAVE is on (the vCPU must have a CPUID table with XSAVE first: cpu.h).
 */
void x86_user_sregs(struct kvm_sregs *s, int osxsave);

/* Name of an exception vector ("page fault"), or NULL if none. */
const char *x86_vector_name(unsigned vector);
/* Mnemonic of an exception vector ("#PF"), or "#??". */
const char *x86_vector_mnemonic(unsigned vector);

/* Whether the CPU pushes an error code for this vector. */
int x86_vector_has_error_code(unsigned vector);

#endif
