/*
 * bif_arith.c: arithmetic and logic builtins (LANGUAGE.md, "Builtins"):
 * the slow paths of + - * that the interpreter falls back to, / and rem,
 * and not.
 */
#include "vmproc/bif.h"

#include "vmproc/code.h"
#include "vmproc/compiler.h"

term bif_arith(rt_t *rt, pcb_t *pcb, int op, term *args)
{
    proc_t *p = proc_of(pcb);
    term a = args[0], b = args[1];
    if (!bif_is_num(a) || !bif_is_num(b))
        return bif_error(p, A_BADARITH);
    if (is_fix(a) && is_fix(b)) {
        int64_t x = fix_val(a), y = fix_val(b), r;
        bool ovf = op == OP_ADD   ? __builtin_add_overflow(x, y, &r)
                   : op == OP_SUB ? __builtin_sub_overflow(x, y, &r)
                                  : __builtin_mul_overflow(x, y, &r);
        if (ovf || !fix_fits(r))
            return bif_error(p, A_BADARITH);
        return mk_fix(r);
    }
    double x = bif_num_val(a), y = bif_num_val(b);
    double r = op == OP_ADD ? x + y : op == OP_SUB ? x - y : x * y;
    return bif_float_result(rt, pcb, r);
}

BIF(bif_div)
{
    proc_t *p = proc_of(pcb);
    term a = args[0], b = args[1];
    if (!bif_is_num(a) || !bif_is_num(b))
        return bif_error(p, A_BADARITH);
    if (is_fix(a) && is_fix(b)) {
        int64_t x = fix_val(a), y = fix_val(b);
        if (y == 0 || (x == FIX_MIN && y == -1))
            return bif_error(p, A_BADARITH);
        return mk_fix(x / y);
    }
    if (bif_num_val(b) == 0.0)
        return bif_error(p, A_BADARITH);
    return bif_float_result(rt, pcb, bif_num_val(a) / bif_num_val(b));
}

BIF(bif_rem)
{
    proc_t *p = proc_of(pcb);
    term a = args[0], b = args[1];
    if (!is_fix(a) || !is_fix(b) || fix_val(b) == 0)
        return bif_error(p, A_BADARITH);
    if (fix_val(b) == -1)
        return mk_fix(0);
    return mk_fix(fix_val(a) % fix_val(b));
}

BIF(bif_not)
{
    if (args[0] == mk_atom(A_TRUE))
        return mk_atom(A_FALSE);
    if (args[0] == mk_atom(A_FALSE))
        return mk_atom(A_TRUE);
    return bif_error(proc_of(pcb), A_BADARG);
}
