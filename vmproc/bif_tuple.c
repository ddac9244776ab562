/*
 * bif_tuple.c: tuple builtins (LANGUAGE.md, "Builtins", Tuples). (tuple
 * ...) itself is an opcode (MK_TUPLE).
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"

BIF(bif_elem)
{
    term i = args[0], t = args[1];
    if (!is_fix(i) || !is_tuple(t) || fix_val(i) < 0 || (uint64_t)fix_val(i) >= tuple_size(t))
        return bif_error(proc_of(pcb), A_BADARG);
    return tuple_elems(t)[fix_val(i)];
}

BIF(bif_tuple_size)
{
    return is_tuple(args[0]) ? mk_fix((int64_t)tuple_size(args[0]))
                             : bif_error(proc_of(pcb), A_BADARG);
}

BIF(bif_set_elem)
{
    proc_t *p = proc_of(pcb);
    term i = args[0];
    if (!is_fix(i) || !is_tuple(args[1]) || fix_val(i) < 0 ||
        (uint64_t)fix_val(i) >= tuple_size(args[1]))
        return bif_error(p, A_BADARG);
    uint64_t n = tuple_size(args[1]);
    if (!bif_room(rt, pcb, n + 1))
        return T_NONE;
    term *t = heap_take(p, n + 1);
    memcpy(t, box_ptr(args[1]), (n + 1) * sizeof(term));
    t[1 + fix_val(i)] = args[2];
    bif_charge(rt, n);
    return mk_box(t);
}

/* The largest tuple: its header holds the size in 56 bits, but a tuple
 * past the heap limit could never be built anyway; this keeps the
 * arithmetic far from overflow. */
#define TUPLE_MAX ((int64_t)1 << 40)

BIF(bif_make_tuple)
{
    proc_t *p = proc_of(pcb);
    if (!is_fix(args[0]) || fix_val(args[0]) < 0 || fix_val(args[0]) > TUPLE_MAX)
        return bif_error(p, A_BADARG);
    uint64_t n = (uint64_t)fix_val(args[0]);
    if (!bif_room(rt, pcb, n + 1))
        return T_NONE;
    term *t = heap_take(p, n + 1);
    t[0] = mk_hdr(n + 1, BT_TUPLE);
    for (uint64_t k = 0; k < n; k++)
        t[1 + k] = args[1];
    bif_charge(rt, n);
    return mk_box(t);
}

BIF(bif_tuple_to_list)
{
    proc_t *p = proc_of(pcb);
    if (!is_tuple(args[0]))
        return bif_error(p, A_BADARG);
    uint64_t n = tuple_size(args[0]);
    if (!bif_room(rt, pcb, 2 * n))
        return T_NONE;
    term l = T_NIL;
    for (uint64_t k = n; k-- > 0;) {
        term *c = heap_take(p, 2);
        c[0] = tuple_elems(args[0])[k];
        c[1] = l;
        l = mk_cons_ptr(c);
    }
    bif_charge(rt, n);
    return l;
}

BIF(bif_list_to_tuple)
{
    proc_t *p = proc_of(pcb);
    int64_t n;
    if (bif_list_length(args[0], &n) != T_NIL)
        return bif_error(p, A_BADARG);
    if (!bif_room(rt, pcb, (uint64_t)n + 1))
        return T_NONE;
    term *t = heap_take(p, (uint64_t)n + 1);
    t[0] = mk_hdr((uint64_t)n + 1, BT_TUPLE);
    term l = args[0];
    for (int64_t k = 0; k < n; k++, l = CDR(l))
        t[1 + k] = CAR(l);
    bif_charge(rt, (uint64_t)n);
    return mk_box(t);
}
