/*
 * pairs.c: counting sampled sends per pair of processes (see pairs.h).
 *
 * Open addressing with linear probing, hashed with xxHash (XXH3) over the
 * two pids; filled to three quarters at most, emptied at each epoch.
 */
#include "policy/pairs.h"

#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#define PAIRS_FILL (PAIRS_SLOTS / 4 * 3)

static uint32_t slot_of(uint64_t a, uint64_t b)
{
    uint64_t key[2] = {a, b};
    return (uint32_t)(XXH3_64bits(key, sizeof key) & (PAIRS_SLOTS - 1));
}

_Static_assert((PAIRS_SLOTS & (PAIRS_SLOTS - 1)) == 0, "a power of two");

void pairs_note(pairs_t *t, uint64_t from, uint32_t vm_from, uint64_t to, uint32_t vm_to)
{
    if (from == to || from == 0 || to == 0)
        return;
    uint64_t a = from < to ? from : to, b = from < to ? to : from;
    uint32_t va = from < to ? vm_from : vm_to, vb = from < to ? vm_to : vm_from;
    for (uint32_t i = slot_of(a, b);; i = (i + 1) & (PAIRS_SLOTS - 1)) {
        pairs_entry_t *e = &t->e[i];
        if (e->a == a && e->b == b) {
            e->count++;
            e->vm_a = va;
            e->vm_b = vb;
            return;
        }
        if (e->a == 0) {
            if (t->used >= PAIRS_FILL) {
                t->dropped++;
                return;
            }
            *e = (pairs_entry_t){.a = a, .b = b, .vm_a = va, .vm_b = vb, .count = 1};
            t->used++;
            return;
        }
    }
}

static bool heavier(const pairs_entry_t *x, const plan_pair_t *y)
{
    if (x->count != y->count)
        return x->count > y->count;
    return x->a != y->a ? x->a < y->a : x->b < y->b;
}

uint32_t pairs_take(pairs_t *t, plan_pair_t *out, uint32_t max)
{
    uint32_t n = 0;
    if (t->used == 0)
        return 0;
    /* Insertion into the sorted top `max`: max is PLAN_PAIRS (32). */
    for (uint32_t i = 0; i < PAIRS_SLOTS; i++) {
        const pairs_entry_t *e = &t->e[i];
        if (e->a == 0 || max == 0)
            continue;
        if (n == max && !heavier(e, &out[n - 1]))
            continue;
        uint32_t k = n < max ? n++ : max - 1;
        while (k > 0 && heavier(e, &out[k - 1])) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = (plan_pair_t){
            .a = e->a, .b = e->b, .vm_a = e->vm_a, .vm_b = e->vm_b, .count = e->count};
    }
    memset(t->e, 0, sizeof t->e);
    t->used = 0;
    t->dropped = 0;
    return n;
}

static int by_pids(const void *x, const void *y)
{
    const plan_pair_t *p = x, *q = y;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    if (p->b != q->b)
        return p->b < q->b ? -1 : 1;
    return p->count > q->count ? -1 : p->count < q->count; /* heaviest report first */
}

static int by_weight(const void *x, const void *y)
{
    const policy_pair_t *p = x, *q = y;
    if (p->msgs != q->msgs)
        return p->msgs > q->msgs ? -1 : 1;
    if (p->a != q->a)
        return p->a < q->a ? -1 : 1;
    return p->b < q->b ? -1 : p->b > q->b;
}

size_t pairs_merge(plan_pair_t *in, size_t n_in, uint32_t sample_every, policy_pair_t *out,
                   size_t max)
{
    if (n_in == 0 || max == 0)
        return 0;
    qsort(in, n_in, sizeof *in, by_pids);
    /* Merge into out while there is room; past it, keep only pairs that
     * are heavier than the lightest kept (sorted at the end). */
    size_t n = 0;
    for (size_t i = 0; i < n_in;) {
        size_t j = i;
        uint64_t count = 0;
        for (; j < n_in && in[j].a == in[i].a && in[j].b == in[i].b; j++)
            count += in[j].count;
        policy_pair_t pr = {.a = in[i].a,
                            .b = in[i].b,
                            .vm_a = in[i].vm_a,
                            .vm_b = in[i].vm_b,
                            .msgs = count * (sample_every ? sample_every : 1)};
        i = j;
        if (n < max) {
            out[n++] = pr;
            continue;
        }
        /* full: replace the lightest if this one is heavier */
        size_t light = 0;
        for (size_t k = 1; k < n; k++)
            if (by_weight(&out[k], &out[light]) > 0)
                light = k;
        if (by_weight(&pr, &out[light]) < 0)
            out[light] = pr;
    }
    qsort(out, n, sizeof *out, by_weight);
    return n;
}
