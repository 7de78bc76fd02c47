/*
 * oldsdk.c: a program marked as the retired SDK marked its programs: the ELF note its crt0
 * linked in ("mvmm", MVMM_NOTE_TYPE, the ABI version). The VMM must refuse it.
 */
#include <stdint.h>
#include <stdio.h>

#include "mvmm_abi.h"

__attribute__((section(".note.mvmm"), used, aligned(4))) static const struct {
	uint32_t namesz, descsz, type;
	char name[8];
	uint32_t desc;
} old_note = {sizeof(MVMM_NOTE_NAME), 4, MVMM_NOTE_TYPE, MVMM_NOTE_NAME, 1};

int main(void)
{
	puts("an old SDK program ran");
	return 0;
}
