/* fault.c: writes through a bad pointer so the VMM reports a page fault. */
#include <stdint.h>

int main(void)
{
	uintptr_t addr = 0x10; /* page 0 is never mapped (it catches NULL) */

	/* hide the constant from the optimiser: the store must really happen */
	__asm__ volatile("" : "+r"(addr));
	*(volatile uint32_t *)addr = 0xdeadbeef;
	return 0; /* not reached */
}
