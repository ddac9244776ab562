/*
 * bif_list.c: list builtins (LANGUAGE.md, "Builtins", Lists). map, foldl,
 * foldr, filter and each call functions, so they are written in the
 * language (the prelude in program.c), not here.
 *
 * A list that is not a proper list where it is walked is badarg, as in
 * Erlang's lists module.
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"
#include "vmproc/termio.h"

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

/* *list reversed onto *tail: both are read where they sit (the stack, or
 * an immediate), after the room is made. */
static term rev_onto(rt_t *rt, pcb_t *pcb, const term *list, const term *tail)
{
    proc_t *p = proc_of(pcb);
    int64_t n;
    if (bif_list_length(*list, &n) != T_NIL)
        return bif_error(p, A_BADARG);
    if (!bif_room(rt, pcb, 2 * (uint64_t)n))
        return T_NONE;
    term r = *tail;
    for (term l = *list; is_cons(l); l = CDR(l)) {
        term *c = heap_take(p, 2);
        c[0] = CAR(l);
        c[1] = r;
        r = mk_cons_ptr(c);
    }
    bif_charge(rt, (uint64_t)n);
    return r;
}

BIF(bif_reverse)
{
    static const term nil = T_NIL;
    return rev_onto(rt, pcb, &args[0], &nil);
}

/* (reverse a) joined to b, built once (the end of a merge in sort-by). */
BIF(bif_rev_append)
{
    return rev_onto(rt, pcb, &args[0], &args[1]);
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

BIF(bif_memberp)
{
    term l = args[1];
    int64_t n = 0;
    for (; is_cons(l); l = CDR(l), n++)
        if (term_equal(CAR(l), args[0])) {
            bif_charge(rt, (uint64_t)n);
            return mk_atom(A_TRUE);
        }
    bif_charge(rt, (uint64_t)n);
    return l == T_NIL ? mk_atom(A_FALSE) : bif_error(proc_of(pcb), A_BADARG);
}

BIF(bif_last)
{
    term l = args[0];
    if (!is_cons(l))
        return bif_error(proc_of(pcb), A_BADARG);
    int64_t n = 0;
    for (; is_cons(CDR(l)); l = CDR(l))
        n++;
    bif_charge(rt, (uint64_t)n);
    return CDR(l) == T_NIL ? CAR(l) : bif_error(proc_of(pcb), A_BADARG);
}

/* The arguments of take and drop: a non-negative integer and a list. */
static bool count_arg(term *args)
{
    return is_fix(args[0]) && fix_val(args[0]) >= 0 && (is_cons(args[1]) || args[1] == T_NIL);
}

BIF(bif_take)
{
    proc_t *p = proc_of(pcb);
    if (!count_arg(args))
        return bif_error(p, A_BADARG);
    int64_t want = fix_val(args[0]), n = 0;
    term l = args[1];
    for (; n < want && is_cons(l); l = CDR(l))
        n++;
    if (n < want && l != T_NIL)
        return bif_error(p, A_BADARG);
    bif_charge(rt, (uint64_t)n);
    if (l == T_NIL)
        return args[1]; /* all of it: shared, which no value can tell */
    if (!bif_room(rt, pcb, 2 * (uint64_t)n))
        return T_NONE;
    term head = T_NIL, *link = &head;
    l = args[1];
    for (int64_t k = 0; k < n; k++, l = CDR(l)) {
        term *c = heap_take(p, 2);
        c[0] = CAR(l);
        *link = mk_cons_ptr(c);
        link = &c[1];
    }
    *link = T_NIL;
    return head;
}

BIF(bif_drop)
{
    if (!count_arg(args))
        return bif_error(proc_of(pcb), A_BADARG);
    int64_t want = fix_val(args[0]), n = 0;
    term l = args[1];
    for (; n < want && is_cons(l); l = CDR(l))
        n++;
    bif_charge(rt, (uint64_t)n);
    return is_cons(l) || l == T_NIL ? l : bif_error(proc_of(pcb), A_BADARG);
}

BIF(bif_zip)
{
    proc_t *p = proc_of(pcb);
    int64_t n = 0;
    term a = args[0], b = args[1];
    for (; is_cons(a) && is_cons(b); a = CDR(a), b = CDR(b))
        n++;
    if ((!is_cons(a) && a != T_NIL) || (!is_cons(b) && b != T_NIL))
        return bif_error(p, A_BADARG);
    if (!bif_room(rt, pcb, 5 * (uint64_t)n))
        return T_NONE;
    term head = T_NIL, *link = &head;
    a = args[0];
    b = args[1];
    for (int64_t k = 0; k < n; k++, a = CDR(a), b = CDR(b)) {
        term *t = heap_take(p, 3);
        t[0] = mk_hdr(3, BT_TUPLE);
        t[1] = CAR(a);
        t[2] = CAR(b);
        term *c = heap_take(p, 2);
        c[0] = mk_box(t);
        *link = mk_cons_ptr(c);
        link = &c[1];
    }
    *link = T_NIL;
    bif_charge(rt, 2 * (uint64_t)n);
    return head;
}

BIF(bif_sum)
{
    proc_t *p = proc_of(pcb);
    int64_t isum = 0, n = 0;
    double fsum = 0;
    bool is_float_sum = false;
    term l = args[0];
    for (; is_cons(l); l = CDR(l), n++) {
        term x = CAR(l);
        if (is_fix(x) && !is_float_sum) {
            if (__builtin_add_overflow(isum, fix_val(x), &isum) || !fix_fits(isum))
                return bif_error(p, A_BADARITH);
        } else if (bif_is_num(x)) {
            if (!is_float_sum) {
                fsum = (double)isum;
                is_float_sum = true;
            }
            fsum += bif_num_val(x);
        } else {
            return bif_error(p, A_BADARITH);
        }
    }
    bif_charge(rt, (uint64_t)n);
    if (l != T_NIL)
        return bif_error(p, A_BADARG);
    return is_float_sum ? bif_float_result(rt, pcb, fsum) : mk_fix(isum);
}

BIF(bif_keyfind)
{
    if (!is_fix(args[1]) || fix_val(args[1]) < 0)
        return bif_error(proc_of(pcb), A_BADARG);
    uint64_t i = (uint64_t)fix_val(args[1]);
    term l = args[2];
    int64_t n = 0;
    for (; is_cons(l); l = CDR(l), n++) {
        term t = CAR(l);
        /* as Erlang's lists:keyfind: other elements are passed over */
        if (is_tuple(t) && i < tuple_size(t) && term_equal(tuple_elems(t)[i], args[0])) {
            bif_charge(rt, (uint64_t)n);
            return t;
        }
    }
    bif_charge(rt, (uint64_t)n);
    return l == T_NIL ? mk_atom(A_FALSE) : bif_error(proc_of(pcb), A_BADARG);
}
