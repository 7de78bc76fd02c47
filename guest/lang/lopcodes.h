/* lopcodes.h: the stack-machine bytecode shared by the compiler and the interpreter. */
#ifndef MVMM_LANG_LOPCODES_H
#define MVMM_LANG_LOPCODES_H
#include <stdint.h>

#define OPLIST(X) \
	X(NIL) X(TRUE) X(FALSE) X(K) X(I) X(GETL) X(SETL) X(GETU) X(SETU) X(GETG) X(SETG) \
	X(GETT) X(GETF) X(SETT) X(SETF) X(SETTAT) X(SETFAT) X(SETTKV) X(SELF) \
	X(ADD) X(SUB) X(MUL) X(MOD) X(POW) X(DIV) X(IDIV) X(BAND) X(BOR) X(BXOR) X(SHL) X(SHR) \
	X(UNM) X(BNOT) X(NOT) X(LEN) X(CONCAT) X(EQ) X(LT) X(LE) \
	X(JMP) X(JMPF) X(JMPT) X(ANDJ) X(ORJ) X(CALL) X(RET) X(VARARG) X(CLOSURE) X(CLOSE) X(POP) \
	X(FORPREP) X(FORLOOP) X(TFORCALL) X(TFORLOOP) X(NEWTABLE) X(SETLIST) X(ADDI) \
	X(LTJF) X(LEJF) X(EQJF) X(NEJF) X(GETLI) X(RET1) X(DUP) X(GETTLL)

#define OPENUM(n) OP_##n,
enum { OPLIST(OPENUM) OP__N };
#undef OPENUM

#define GET_OP(i) ((i) & 0xff)
#define GET_A(i)  (((i) >> 8) & 0xff)
#define GET_B(i)  (((i) >> 16) & 0xff)
#define GET_C(i)  ((i) >> 24)
#define GET_Bx(i) ((i) >> 16)
#define GET_sBx(i) ((int32_t)(i) >> 16)
#define GET_Ax(i) ((i) >> 8)
#define GET_sAx(i) ((int32_t)(i) >> 8)
#define MK_ABC(o, a, b, c) ((uint32_t)(o) | ((uint32_t)(a) << 8) | ((uint32_t)(b) << 16) | ((uint32_t)(c) << 24))
#define MK_ABx(o, a, bx) ((uint32_t)(o) | ((uint32_t)(a) << 8) | ((uint32_t)(uint16_t)(bx) << 16))
#define MK_Ax(o, ax) ((uint32_t)(o) | ((uint32_t)(ax) << 8))
#define LFIELDS 50
#endif
