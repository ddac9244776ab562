/*
 * bif_order.c: term order builtins (LANGUAGE.md, "Values" and
 * "Builtins"): compare, min, max, and the two steps of sort.
 *
 * All of them follow term_compare (termio.c), Erlang's order over any
 * values. sort itself is in the prelude (program.c): %sort-runs cuts the
 * list into sorted runs here, and %merge merges two of them; each call
 * is bounded by the length of what it is given, and the process can
 * yield and move between them.
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"
#include "vmproc/sort.h"
#include "vmproc/termio.h"

#include <stdlib.h>

/* Elements in each run %sort-runs sorts: 1M elements make 245 runs and
 * 8 rounds of merges, each a new list; a run sorts in ~0.3 ms. (256 made
 * 12 rounds: a sort of 1M integers took 1,070 ms instead of 790.) */
#define SORT_RUN_LEN 4096

static inline int order(const shm_header_t *h, term a, term b)
{
    if (is_fix(a) && is_fix(b))
        return (fix_val(a) > fix_val(b)) - (fix_val(a) < fix_val(b));
    return term_compare(h, a, b);
}

BIF(bif_compare)
{
    return mk_fix(order(rt->h, args[0], args[1]));
}

BIF(bif_min)
{
    return order(rt->h, args[0], args[1]) <= 0 ? args[0] : args[1];
}

BIF(bif_max)
{
    return order(rt->h, args[0], args[1]) >= 0 ? args[0] : args[1];
}

static int cmp_terms(const void *a, const void *b, void *ctx)
{
    return order(ctx, *(const term *)a, *(const term *)b);
}

BIF(bif_sort_runs)
{
    proc_t *p = proc_of(pcb);
    int64_t n;
    if (bif_list_length(args[0], &n) != T_NIL)
        return bif_error(p, A_BADARG);
    uint64_t runs = ((uint64_t)n + SORT_RUN_LEN - 1) / SORT_RUN_LEN;
    if (!bif_room(rt, pcb, 2 * (uint64_t)n + 2 * runs))
        return T_NONE;
    term *v = malloc(((size_t)n + 1) * sizeof *v);
    if (!v)
        return bif_error(p, A_SYSTEM_LIMIT);
    size_t k = 0;
    for (term l = args[0]; is_cons(l); l = CDR(l))
        v[k++] = CAR(l);
    term out = T_NIL;
    for (uint64_t r = runs; r-- > 0;) {
        size_t lo = r * SORT_RUN_LEN, len = (size_t)n - lo < SORT_RUN_LEN ? (size_t)n - lo : SORT_RUN_LEN;
        if (sort_stable(v + lo, len, sizeof *v, cmp_terms, (void *)rt->h) < 0) {
            free(v);
            return bif_error(p, A_SYSTEM_LIMIT);
        }
        term run = T_NIL;
        for (size_t i = len; i-- > 0;) {
            term *c = heap_take(p, 2);
            c[0] = v[lo + i];
            c[1] = run;
            run = mk_cons_ptr(c);
        }
        term *c = heap_take(p, 2);
        c[0] = run;
        c[1] = out;
        out = mk_cons_ptr(c);
    }
    free(v);
    bif_charge(rt, (uint64_t)n * 8);
    return out;
}

BIF(bif_merge)
{
    proc_t *p = proc_of(pcb);
    int64_t na, nb;
    if (bif_list_length(args[0], &na) != T_NIL || bif_list_length(args[1], &nb) != T_NIL)
        return bif_error(p, A_BADARG);
    if (!bif_room(rt, pcb, 2 * (uint64_t)(na + nb)))
        return T_NONE;
    term a = args[0], b = args[1], head = T_NIL, *link = &head;
    while (is_cons(a) || is_cons(b)) {
        term x;
        /* from a on ties: the runs are in list order, so equals keep it */
        if (!is_cons(b) || (is_cons(a) && order(rt->h, CAR(a), CAR(b)) <= 0)) {
            x = CAR(a);
            a = CDR(a);
        } else {
            x = CAR(b);
            b = CDR(b);
        }
        term *c = heap_take(p, 2);
        c[0] = x;
        *link = mk_cons_ptr(c);
        link = &c[1];
    }
    *link = T_NIL;
    bif_charge(rt, (uint64_t)(na + nb));
    return head;
}
