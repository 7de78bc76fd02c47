/*
 * Minimal PVH guest for the QEMU microvm start-up benchmark.
 *
 * QEMU (microvm + -kernel) finds XEN_ELFNOTE_PHYS32_ENTRY in this ELF and
 * the firmware jumps to pvh_start in 32-bit protected mode, paging off.
 * The guest writes one byte to the isa-debug-exit device at port 0xf4:
 * QEMU then exits with status (value << 1) | 1 = 33.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define DEBUG_EXIT_PORT 0xf4
#define DEBUG_EXIT_VALUE 0x10

	.section .note.Xen, "a", @note
	.balign 4
	.long 2f - 1f		/* namesz */
	.long 4f - 3f		/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz "Xen"
2:	.balign 4
3:	.long pvh_start		/* QEMU reads a host-sized word: keep 8 bytes */
	.long 0
4:	.balign 4

	.text
	.code32
	.globl pvh_start
pvh_start:
	movb $DEBUG_EXIT_VALUE, %al
	outb %al, $DEBUG_EXIT_PORT
1:	cli			/* not reached: QEMU has exited */
	hlt
	jmp 1b
