/*
 * bif_list.c: list builtins (LANGUAGE.md, "Builtins", Lists). map and
 * foldl call functions, so they are written in the language (the prelude
 * in program.c), not here.
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"

BIF(bif_cons)
{
    if (!bif_room(rt, pcb, 2))
        return T_NONE;
    term *c = heap_take(proc_of(pcb), 2);
    c[0] = args[0];
    c[1] = args[1];
    return mk_cons_ptr(c);
}

BIF(bif_car)
{
    return is_cons(args[0]) ? CAR(args[0]) : bif_error(proc_of(pcb), A_BADARG);
}

BIF(bif_cdr)
{
    return is_cons(args[0]) ? CDR(args[0]) : bif_error(proc_of(pcb), A_BADARG);
}

BIF(bif_length)
{
    int64_t n;
    if (bif_list_length(args[0], &n) != T_NIL)
        return bif_error(proc_of(pcb), A_BADARG);
    return mk_fix(n);
}

BIF(bif_reverse)
{
    proc_t *p = proc_of(pcb);
    int64_t n;
    if (bif_list_length(args[0], &n) != T_NIL)
        return bif_error(p, A_BADARG);
    if (!bif_room(rt, pcb, 2 * (uint64_t)n))
        return T_NONE;
    term r = T_NIL;
    for (term l = args[0]; is_cons(l); l = CDR(l)) {
        term *c = heap_take(p, 2);
        c[0] = CAR(l);
        c[1] = r;
        r = mk_cons_ptr(c);
    }
    return r;
}

BIF(bif_append)
{
    proc_t *p = proc_of(pcb);
    int64_t n;
    if (bif_list_length(args[0], &n) != T_NIL)
        return bif_error(p, A_BADARG);
    if (n == 0)
        return args[1];
    if (!bif_room(rt, pcb, 2 * (uint64_t)n))
        return T_NONE;
    term head = T_NIL, *link = &head;
    for (term l = args[0]; is_cons(l); l = CDR(l)) {
        term *c = heap_take(p, 2);
        c[0] = CAR(l);
        *link = mk_cons_ptr(c);
        link = &c[1];
    }
    *link = args[1];
    return head;
}

BIF(bif_nth)
{
    term i = args[0], l = args[1];
    if (!is_fix(i) || fix_val(i) < 0)
        return bif_error(proc_of(pcb), A_BADARG);
    for (int64_t k = fix_val(i); is_cons(l); l = CDR(l), k--)
        if (k == 0)
            return CAR(l);
    return bif_error(proc_of(pcb), A_BADARG);
}

BIF(bif_nullp)
{
    return bif_bool(args[0] == T_NIL);
}

BIF(bif_seq)
{
    proc_t *p = proc_of(pcb);
    if (!is_fix(args[0]) || !is_fix(args[1]))
        return bif_error(p, A_BADARG);
    int64_t a = fix_val(args[0]), b = fix_val(args[1]);
    if (b < a - 1) /* Erlang's lists:seq: empty only for b = a - 1 */
        return bif_error(p, A_BADARG);
    uint64_t n = (uint64_t)(b - a + 1);
    if (n > (UINT64_MAX >> 4) || !bif_room(rt, pcb, 2 * n))
        return T_NONE;
    term r = T_NIL;
    for (int64_t k = b; n-- > 0; k--) {
        term *c = heap_take(p, 2);
        c[0] = mk_fix(k);
        c[1] = r;
        r = mk_cons_ptr(c);
    }
    return r;
}
