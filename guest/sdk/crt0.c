/* crt0.c: guest start-up: self-relocation, ABI check, libc set-up, main(), exit(). */
#include <stdint.h>
#include <stdlib.h>
#include <mvmm/hypercall.h>
#include "libc/internal.h"

int main(int argc, char **argv, char **envp);

/*
 * The note that marks this ELF as an mvmm SDK program: the VMM runs an
 * executable without it as a Linux program (system calls, not hypercalls).
 */
__attribute__((section(".note.mvmm"), used, aligned(4))) static const struct {
	uint32_t namesz, descsz, type;
	char name[8];
	uint32_t desc;
} mvmm_sdk_note = {sizeof(MVMM_NOTE_NAME), 4, MVMM_NOTE_TYPE, MVMM_NOTE_NAME, MVMM_ABI_VERSION};

/* The few ELF64 definitions we need (no libc <elf.h> in a freestanding build). */
typedef struct {
	unsigned char e_ident[16];
	uint16_t e_type, e_machine;
	uint32_t e_version;
	uint64_t e_entry, e_phoff, e_shoff;
	uint32_t e_flags;
	uint16_t e_ehsize, e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx;
} Elf64_Ehdr;

typedef struct {
	uint32_t p_type, p_flags;
	uint64_t p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align;
} Elf64_Phdr;

typedef struct {
	int64_t d_tag;
	uint64_t d_val;
} Elf64_Dyn;

typedef struct {
	uint64_t r_offset, r_info;
	int64_t r_addend;
} Elf64_Rela;

#define ET_DYN		   3
#define PT_LOAD		   1
#define PT_DYNAMIC	   2
#define DT_NULL		   0
#define DT_RELA		   7
#define DT_RELASZ	   8
#define DT_RELAENT	   9
#define R_X86_64_NONE	   0
#define R_X86_64_RELATIVE  8
#define ELF64_R_TYPE(info) ((uint32_t)(info))

/*
 * Hidden so that -fPIE code reaches it PC-relatively, with no GOT entry
 * that would itself need relocating. The linker defines __ehdr_start when
 * the ELF header lies in a loaded segment (mvmm.ld puts it there). No weak
 * _DYNAMIC: gcc reaches a weak symbol through the GOT, which is exactly
 * what is not relocated yet; PT_DYNAMIC gives the same answer.
 */
extern const Elf64_Ehdr __ehdr_start __attribute__((visibility("hidden")));

typedef void (*init_fn)(void);
extern init_fn __init_array_start[] __attribute__((visibility("hidden")));
extern init_fn __init_array_end[] __attribute__((visibility("hidden")));

__attribute__((noreturn, used)) void __mvmm_start(struct mvmm_bootinfo *bi);

/*
 * The VMM enters here with rsp 16-byte aligned and rdi = boot info. Clearing
 * rbp ends frame-pointer walks; the call leaves rsp = 8 mod 16 in
 * __mvmm_start as the SysV ABI expects at a function's entry.
 */
__asm__(".text\n"
	".globl _start\n"
	".type _start, @function\n"
	"_start:\n"
	"	xorl %ebp, %ebp\n"
	"	call __mvmm_start\n"
	"	ud2\n"
	".size _start, . - _start\n");

/*
 * A static PIE carries R_X86_64_RELATIVE entries and nothing else (the
 * linker resolves all symbols); the VMM does not apply them, so we do,
 * before anything reads an initialised pointer. The bias is where the ELF
 * header is now minus where it was linked (the p_vaddr of the PT_LOAD that
 * maps file offset 0). Any other relocation type means a build we cannot
 * run correctly, so stop rather than run it half-relocated. Only the
 * image itself is read here, through PC-relative addresses.
 */
static void self_relocate(void)
{
	const Elf64_Ehdr *eh = &__ehdr_start;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
	uintptr_t bias = 0, rela = 0, relasz = 0, relaent = sizeof(Elf64_Rela);
	const Elf64_Dyn *d = NULL;
	size_t i;

	if (eh->e_type != ET_DYN)
		return; /* ET_EXEC: linked where it runs */
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
			bias = (uintptr_t)eh - ph[i].p_vaddr;
	for (i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC)
			d = (const Elf64_Dyn *)(ph[i].p_vaddr + bias);
	for (; d && d->d_tag != DT_NULL; d++) {
		if (d->d_tag == DT_RELA)
			rela = d->d_val + bias;
		else if (d->d_tag == DT_RELASZ)
			relasz = d->d_val;
		else if (d->d_tag == DT_RELAENT)
			relaent = d->d_val;
	}
	for (i = 0; rela && i + relaent <= relasz; i += relaent) {
		const Elf64_Rela *r = (const Elf64_Rela *)(rela + i);

		if (ELF64_R_TYPE(r->r_info) == R_X86_64_NONE)
			continue;
		if (ELF64_R_TYPE(r->r_info) != R_X86_64_RELATIVE)
			mvmm_abort("mvmm guest: unsupported relocation type in static PIE");
		*(uint64_t *)(r->r_offset + bias) = bias + r->r_addend;
	}
}

static void run_init_array(void)
{
	init_fn *f;

	for (f = __init_array_start; f < __init_array_end; f++)
		(*f)();
}

void __mvmm_start(struct mvmm_bootinfo *bi)
{
	self_relocate();
	if (bi->magic != MVMM_BOOTINFO_MAGIC)
		mvmm_abort("mvmm guest: bad boot info magic (not started by mvmm?)");
	if (bi->abi_version != MVMM_ABI_VERSION)
		mvmm_abort("mvmm guest: ABI version mismatch between the VMM and the guest SDK");
	__mvmm_libc_init(bi);
	run_init_array();
	exit(main((int)bi->argc, (char **)(uintptr_t)bi->argv, (char **)(uintptr_t)bi->envp));
}
