/* spin.c: loops forever without a hypercall, for timeout and kill tests. */

int main(void)
{
	for (;;)
		__asm__ volatile("pause"); /* an endless loop with a visible side effect is defined */
}
