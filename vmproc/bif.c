/*
 * bif.c: the registry of builtins and the helpers their families share
 * (LANGUAGE.md, "Builtins"; builtins.h is the list).
 *
 * Each builtin takes its arguments where they sit on the value stack, so
 * a collection while it allocates keeps them alive; it makes room first
 * and reads its arguments after. Errors set the process's error and
 * return T_NONE, with the reasons LANGUAGE.md names.
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"

const bif_info_t bif_table[BI__COUNT] = {
#define BI(id, name, lo, hi, fn, flags, doc) [BI_##id] = {name, lo, hi, fn, flags},
#include "vmproc/builtins.h"
#undef BI
};

term bif_error(proc_t *p, uint32_t atom)
{
    p->err_class = EXC_ERROR;
    p->err_value = mk_atom(atom);
    return T_NONE;
}

term bif_bool(bool b)
{
    return mk_atom(b ? A_TRUE : A_FALSE);
}

/* Builtins the compiler turns into opcodes or prelude calls: never
 * dispatched here (an OP_BIF with their id would be a compiler bug). */
BIF(bif_compiled)
{
    SHOAL_ASSERT(false, "a compiled builtin reached OP_BIF");
    return bif_error(proc_of(pcb), A_UNDEF);
}

term bif_float_result(rt_t *rt, pcb_t *pcb, double d)
{
    proc_t *p = proc_of(pcb);
    if (!isfinite(d))
        return bif_error(p, A_BADARITH);
    if (!bif_room(rt, pcb, 2))
        return T_NONE;
    return bif_mk_float(p, d);
}

term bif_list_length(term l, int64_t *n)
{
    int64_t k = 0;
    while (is_cons(l)) {
        k++;
        l = CDR(l);
    }
    *n = k;
    return l;
}
