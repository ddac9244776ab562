/*
 * bif_map.c: map builtins (LANGUAGE.md, "Builtins", Maps), over map.c,
 * which holds the maps themselves. map-fold calls a function, so it is
 * written in the language (the prelude in program.c).
 *
 * An update builds in the room the heap has; when map.c says that may not
 * be enough, room is made (which may collect, moving every term: the
 * arguments are read again from the stack) and it goes again. Builders from many entries (map-of,
 * list->map, map-merge) gather the entries in private memory, and gather
 * them again if making room collected.
 *
 * A map argument that is not a map, and a list->map element that is not
 * a 2-tuple, are badarg.
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"
#include "vmproc/map.h"

#include <stdlib.h>

static bool map_args(term *args, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!is_map(args[i]))
            return false;
    return true;
}

BIF(bif_map_get)
{
    if (!is_map(args[0]))
        return bif_error(proc_of(pcb), A_BADARG);
    term v = map_get(rt->h, args[0], args[1]);
    return v == T_NONE ? args[2] : v;
}

BIF(bif_map_hasp)
{
    if (!is_map(args[0]))
        return bif_error(proc_of(pcb), A_BADARG);
    return bif_bool(map_get(rt->h, args[0], args[1]) != T_NONE);
}

BIF(bif_map_size)
{
    if (!is_map(args[0]))
        return bif_error(proc_of(pcb), A_BADARG);
    return mk_fix((int64_t)map_size(args[0]));
}

/* map-put and map-remove: built in the room the heap has; if map.c says
 * it may need more, room is made (which may collect) and it goes again. */
BIF(bif_map_put)
{
    proc_t *p = proc_of(pcb);
    if (!is_map(args[0]))
        return bif_error(p, A_BADARG);
    uint64_t need;
    term r;
    while ((r = map_put(rt->h, args[0], args[1], args[2], &p->hp, p->hlim, &need)) == T_NONE)
        if (!bif_room(rt, pcb, need))
            return T_NONE;
    return r;
}

BIF(bif_map_remove)
{
    proc_t *p = proc_of(pcb);
    if (!is_map(args[0]))
        return bif_error(p, A_BADARG);
    uint64_t need;
    term r;
    while ((r = map_remove(rt->h, args[0], args[1], &p->hp, p->hlim, &need)) == T_NONE)
        if (!bif_room(rt, pcb, need))
            return T_NONE;
    return r;
}

/* ------------------------------------------------------------------ */
/* from many entries                                                   */

/* Where the entries of a bulk build come from; fill() writes them (all
 * `n`) from the arguments, which may have moved since the last time. */
typedef struct source {
    void (*fill)(const struct source *src, term *args, map_entry_t *e);
    size_t n;
} source_t;

/* Build a map of the source's entries (the last of equal keys wins). */
static term build_from(rt_t *rt, pcb_t *pcb, term *args, const source_t *src)
{
    proc_t *p = proc_of(pcb);
    map_entry_t *e = malloc((src->n + 1) * sizeof *e);
    if (!e)
        return bif_error(p, A_SYSTEM_LIMIT);
    src->fill(src, args, e);
    ssize_t n = map_prepare(rt->h, e, src->n);
    uint64_t gcs = p->gcs;
    if (n < 0 || !bif_room(rt, pcb, map_build_words(e, (size_t)n))) {
        free(e);
        return n < 0 ? bif_error(p, A_SYSTEM_LIMIT) : T_NONE;
    }
    if (p->gcs != gcs) {
        /* the terms moved: the same entries, where they are now */
        src->fill(src, args, e);
        n = map_prepare(rt->h, e, src->n);
        if (n < 0) {
            free(e);
            return bif_error(p, A_SYSTEM_LIMIT);
        }
    }
    bif_charge(rt, (uint64_t)src->n * 4);
    term m = map_build(e, (size_t)n, &p->hp);
    free(e);
    return m;
}

/* (map-of k v ...): the arguments are the pairs */
static void fill_pairs(const source_t *src, term *args, map_entry_t *e)
{
    for (size_t i = 0; i < src->n; i++) {
        e[i].key = args[2 * i];
        e[i].value = args[2 * i + 1];
    }
}

BIF(bif_map_of)
{
    if (argc % 2)
        return bif_error(proc_of(pcb), A_BADARG);
    source_t src = {fill_pairs, argc / 2};
    return build_from(rt, pcb, args, &src);
}

static void fill_list(const source_t *src BIF_UNUSED, term *args, map_entry_t *e)
{
    for (term l = args[0]; is_cons(l); l = CDR(l), e++) {
        term *t = tuple_elems(CAR(l));
        e->key = t[0];
        e->value = t[1];
    }
}

BIF(bif_list_to_map)
{
    size_t n = 0;
    term l = args[0];
    for (; is_cons(l); l = CDR(l), n++)
        if (!is_tuple(CAR(l)) || tuple_size(CAR(l)) != 2)
            return bif_error(proc_of(pcb), A_BADARG);
    if (l != T_NIL)
        return bif_error(proc_of(pcb), A_BADARG);
    source_t src = {fill_list, n};
    return build_from(rt, pcb, args, &src);
}

static void fill_merge(const source_t *src BIF_UNUSED, term *args, map_entry_t *e)
{
    /* a's first, then b's: b's come later, so they win */
    map_entries(args[0], e);
    map_entries(args[1], e + map_size(args[0]));
}

BIF(bif_map_merge)
{
    if (!map_args(args, 2))
        return bif_error(proc_of(pcb), A_BADARG);
    if (map_size(args[1]) == 0)
        return args[0];
    if (map_size(args[0]) == 0)
        return args[1];
    source_t src = {fill_merge, map_size(args[0]) + map_size(args[1])};
    return build_from(rt, pcb, args, &src);
}

/* ------------------------------------------------------------------ */
/* walks in key order                                                  */

enum walk { W_KEYS, W_VALUES, W_PAIRS };

static term ordered(rt_t *rt, pcb_t *pcb, term *args, enum walk what)
{
    proc_t *p = proc_of(pcb);
    if (!is_map(args[0]))
        return bif_error(p, A_BADARG);
    uint64_t n = map_size(args[0]);
    if (!bif_room(rt, pcb, n * (what == W_PAIRS ? 5 : 2)))
        return T_NONE;
    term *kv = malloc((2 * n + 1) * sizeof *kv);
    if (!kv || map_sorted(rt->h, args[0], kv, kv + n) < 0) {
        free(kv);
        return bif_error(p, A_SYSTEM_LIMIT);
    }
    term l = T_NIL;
    for (uint64_t i = n; i-- > 0;) {
        term x;
        if (what == W_PAIRS) {
            term *t = heap_take(p, 3);
            t[0] = mk_hdr(3, BT_TUPLE);
            t[1] = kv[i];
            t[2] = kv[n + i];
            x = mk_box(t);
        } else {
            x = kv[what == W_KEYS ? i : n + i];
        }
        term *c = heap_take(p, 2);
        c[0] = x;
        c[1] = l;
        l = mk_cons_ptr(c);
    }
    free(kv);
    bif_charge(rt, n * 4);
    return l;
}

BIF(bif_map_keys)
{
    return ordered(rt, pcb, args, W_KEYS);
}

BIF(bif_map_values)
{
    return ordered(rt, pcb, args, W_VALUES);
}

BIF(bif_map_to_list)
{
    return ordered(rt, pcb, args, W_PAIRS);
}
