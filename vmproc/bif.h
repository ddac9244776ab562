/*
 * bif.h: the builtins that are not opcodes (see builtins.h for the list).
 *
 * NOTES
 *   Owner VM only, on the running process. A builtin reads its arguments
 *   from the process's value stack, so they stay roots if it allocates;
 *   it reads them again after any allocation. It returns the result, or
 *   T_NONE after setting p->err_class and p->err_value (the interpreter
 *   then raises).
 */
#ifndef SHOAL_VMPROC_BIF_H
#define SHOAL_VMPROC_BIF_H

#include "vmproc/proc.h"

enum bi_id {
#define BI(id, name, lo, hi, doc) BI_##id,
#include "vmproc/builtins.h"
#undef BI
    BI__COUNT
};

term bif_call(rt_t *rt, pcb_t *pcb, uint32_t id, term *args, uint32_t argc);

/* Raise #(error atom) in the running process; returns T_NONE. */
term bif_error(proc_t *p, uint32_t atom);

/* Arithmetic slow paths shared with the interpreter: a op b for + - * on
 * any numbers. The operands are args[0] and args[1] on the value stack.
 * Returns T_NONE on error. */
term bif_arith(rt_t *rt, pcb_t *pcb, int op, term *args);

#endif
