/*
 * wstack.h: an explicit stack for walking terms without recursion.
 *
 * Data can be nested a million deep ((((x))) or #(#(x))), far deeper than
 * a VM's C stack; every walk over a term (size, copy, equality, printing,
 * hashing) keeps its pending work here instead. It starts in place and
 * grows in private memory.
 *
 * NOTES
 *   Private to one walk on one VM. Running out of memory while growing is
 *   a VM failure (abort), which the supervisor contains like a crash.
 */
#ifndef SHOAL_VMPROC_WSTACK_H
#define SHOAL_VMPROC_WSTACK_H

#include "vmproc/term.h"

#include <stdlib.h>

#define WSTACK_INLINE 64

typedef struct wstack {
    term *v;
    size_t n, cap;
    term inline_v[WSTACK_INLINE];
} wstack_t;

static inline void wstack_init(wstack_t *s)
{
    s->v = s->inline_v;
    s->n = 0;
    s->cap = WSTACK_INLINE;
}

void wstack_grow(wstack_t *s);

static inline void wstack_push(wstack_t *s, term t)
{
    if (s->n == s->cap)
        wstack_grow(s);
    s->v[s->n++] = t;
}

static inline bool wstack_pop(wstack_t *s, term *t)
{
    if (s->n == 0)
        return false;
    *t = s->v[--s->n];
    return true;
}

static inline void wstack_free(wstack_t *s)
{
    if (s->v != s->inline_v)
        free(s->v);
}

#endif
