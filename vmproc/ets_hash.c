/*
 * ets_hash.c: set tables, a hash table shared by every VM (the design is
 * in ets_impl.h).
 *
 * A key's hash (62 bits) picks its stripe by its top 6 bits and its bucket
 * by its top `bits` bits; chains are sorted by hash. So the buckets of
 * one stripe are a contiguous run in any array, and the units of a resize
 * (a bucket to split, two to merge) never cross a stripe: the stripe's
 * lock covers every write to them.
 *
 * Resizing, incremental: a new array of twice (or half) the buckets
 * becomes the table's `cur` under the resize lock, with `old` the array it
 * replaces. Its buckets are not even zeroed: a bucket of the new array is
 * read only once the old bucket(s) it comes from say ETS_MOVED, and is
 * written just before. Every writer, under its stripe's lock, first moves
 * the unit its key is in (so that writers only ever change `cur`), then a
 * couple more units of its stripe; after the operation it helps one other
 * stripe (trylock). When every stripe is done, the old array is let go
 * under the resize lock and retired. No operation does more than a few
 * units: no pause grows with the table.
 *
 * A split cuts a chain in two: a reader walking the old bucket when it is
 * cut could miss the second half. So a split bumps its stripe's seqlock
 * around it, and a reader that found nothing checks the seqlock and looks
 * again if it moved. A merge joins two chains (readers see more, never
 * less) and a found entry is always right, so nothing else needs it.
 *
 * Fold order is hash order (the order of the buckets and chains), which
 * does not change when the table resizes: a fold's cursor is the next
 * hash, and each entry is seen at most once, in any array.
 */
#include "vmproc/ets_impl.h"

#include "vmproc/heap.h"
#include "vmproc/termio.h"

#include <string.h>

#define HASH_END (1ull << ETS_HASH_BITS)

/* Units moved per write in the writer's own stripe, and in the one it
 * helps: a resize from N to 2N buckets is triggered at N entries and
 * should be done before 2N; with ~6 units per write it ends after N/6
 * writes or so. */
#define MIG_OWN 2
#define MIG_HELP 4

static inline uint32_t idx(uint64_t hv, uint32_t bits)
{
    return (uint32_t)(hv >> (ETS_HASH_BITS - bits));
}

static inline uint32_t stripe_of(uint64_t hv)
{
    return idx(hv, ETS_STRIPE_BITS);
}

static inline uint64_t bucket_end(uint32_t k, uint32_t bits)
{
    return (uint64_t)(k + 1ull) << (ETS_HASH_BITS - bits);
}

size_t hash_arr_bytes(uint32_t bits)
{
    return sizeof(ets_arr_t) + ((size_t)1 << bits) * sizeof(ets_entry_t *);
}

void hash_init_table(ets_table_t *t, ets_arr_t *a)
{
    a->bits = ETS_STRIPE_BITS;
    a->gen = 1;
    a->old = NULL;
    a->embedded = 1;
    memset(a->b, 0, ((size_t)1 << a->bits) * sizeof a->b[0]);
    t->cur = a;
}

static inline bool key_equal(term a, term b)
{
    return a == b || (!is_fix(a) && !is_fix(b) && term_equal(a, b));
}

/* Bytes an entry takes (as its allocation counted them). */
static size_t entry_bytes(const ets_entry_t *e)
{
    size_t bytes = sizeof(ets_entry_t) + (term_size(e->key) + term_size(e->value)) * sizeof(term);
    size_t slot = slab_size_for(bytes);
    return slot ? slot : (bytes + SHOAL_PAGE - 1) / SHOAL_PAGE * SHOAL_PAGE;
}

static ets_vm_t *vm_rec(rt_t *rt)
{
    return &ets_dir(rt->h)->vms[rt->vm];
}

/* --- readers ------------------------------------------------------------- */

static inline ets_entry_t *load_next(ets_entry_t *e)
{
    /* Address dependency: what a writer stored in the entry before it
     * linked it (release) is visible through the pointer. */
    return ck_pr_load_ptr(&e->next);
}

/* The chain that holds hash x now, and the end of the hash range its
 * bucket covers. Inside a critical section. */
static ets_entry_t *chain_at(ets_table_t *t, uint64_t x, uint64_t *end)
{
    for (;;) {
        ets_arr_t *a = ck_pr_load_ptr(&t->cur);
        ets_arr_t *o = ck_pr_load_ptr(&a->old);
        if (o) {
            uint32_t k = idx(x, o->bits);
            ets_entry_t *e = ck_pr_load_ptr(&o->b[k]);
            if (e != ETS_MOVED) {
                *end = bucket_end(k, o->bits);
                return e;
            }
            /* Acquire: the new buckets were written before ETS_MOVED. */
            ck_pr_fence_load();
        }
        uint32_t k = idx(x, a->bits);
        ets_entry_t *e = ck_pr_load_ptr(&a->b[k]);
        if (e != ETS_MOVED) {
            *end = bucket_end(k, a->bits);
            return e;
        }
        /* `a` was the table's array when we read it, and has become the
         * old array of a newer one since, whose resize moved this bucket:
         * look again from the table. (Writers never see this: they hold
         * the stripe's lock, which a move needs.) */
        ck_pr_fence_load();
    }
}

static uint64_t seq_read(const ets_table_t *t, uint32_t s)
{
    uint64_t v;
    while ((v = ck_pr_load_64((uint64_t *)&t->seq[s])) & 1)
        ck_pr_stall(); /* a split of this stripe: a few stores */
    ck_pr_fence_load();
    return v;
}

static bool seq_same(const ets_table_t *t, uint32_t s, uint64_t v)
{
    ck_pr_fence_load();
    return ck_pr_load_64((uint64_t *)&t->seq[s]) == v;
}

ets_entry_t *hash_find(ets_table_t *t, term key, uint64_t hv)
{
    uint32_t s = stripe_of(hv);
    for (;;) {
        uint64_t v = seq_read(t, s);
        uint64_t end;
        for (ets_entry_t *e = chain_at(t, hv, &end); e; e = load_next(e)) {
            uint64_t eh = e->hash;
            if (eh > hv)
                break;
            if (eh == hv && key_equal(e->key, key))
                return e;
        }
        if (seq_same(t, s, v))
            return NULL;
    }
}

size_t hash_chunk(ets_table_t *t, uint64_t *cursor, ets_entry_t **out, size_t max)
{
    enum { SEEN = 8, BUCKETS = 1024 };
    uint32_t seen_s[SEEN];
    uint64_t seen_v[SEEN];
    for (;;) {
        uint64_t x = *cursor, last = HASH_END;
        size_t n = 0, nseen = 0, buckets = 0;
        while (x < HASH_END && n < max && buckets++ < BUCKETS) {
            uint32_t s = stripe_of(x);
            if (nseen == 0 || seen_s[nseen - 1] != s) {
                if (nseen == SEEN)
                    break;
                seen_s[nseen] = s;
                seen_v[nseen++] = seq_read(t, s);
            }
            uint64_t end;
            for (ets_entry_t *e = chain_at(t, x, &end); e; e = load_next(e)) {
                uint64_t eh = e->hash;
                if (eh < x)
                    continue;
                if (eh >= end)
                    break;
                if (n >= max && eh != last) {
                    end = eh; /* the next chunk starts at this hash */
                    break;
                }
                SHOAL_ASSERT(n < max + ETS_CHUNK_SLACK, "a group of equal hashes overflows");
                if (n == max + ETS_CHUNK_SLACK)
                    break;
                out[n++] = e;
                last = eh;
            }
            x = end;
        }
        bool same = true;
        for (size_t i = 0; i < nseen; i++)
            same &= seq_same(t, seen_s[i], seen_v[i]);
        if (same) {
            *cursor = x;
            return n;
        }
    }
}

uint64_t hash_count(const ets_table_t *t)
{
    uint64_t n = 0;
    for (uint32_t s = 0; s < ETS_STRIPES; s++)
        /* Relaxed: a snapshot, as table-size promises. */
        n += ck_pr_load_64((uint64_t *)&t->locks[s].count);
    return n;
}

static size_t arr_bytes(const ets_arr_t *a)
{
    if (!a || a->embedded)
        return 0;
    size_t b = hash_arr_bytes(a->bits), slot = slab_size_for(b);
    return slot ? slot : (b + SHOAL_PAGE - 1) / SHOAL_PAGE * SHOAL_PAGE;
}

int64_t hash_bytes(const ets_table_t *t)
{
    int64_t n = 0;
    for (uint32_t s = 0; s < ETS_STRIPES; s++)
        n += (int64_t)ck_pr_load_64((uint64_t *)&t->locks[s].bytes);
    ets_arr_t *a = ck_pr_load_ptr((ets_arr_t **)&t->cur);
    return n + (int64_t)arr_bytes(a) + (int64_t)arr_bytes(ck_pr_load_ptr(&a->old));
}

/* --- migration (holding the unit's stripe lock) -------------------------- */

static void seq_begin(ets_table_t *t, uint32_t s)
{
    ck_pr_store_64(&t->seq[s], t->seq[s] + 1);
    /* Store-store: odd before any change (a reader that sees a change
     * then sees odd, or a different count, when it checks). */
    ets_step();
}

static void seq_end(ets_table_t *t, uint32_t s)
{
    ets_step();
    ck_pr_store_64(&t->seq[s], t->seq[s] + 1);
}

/* Grow: after a split of old bucket u (marked moved), cut the first half
 * of the chain from the second, if that is not done. */
static void ensure_cut(ets_arr_t *a, uint32_t u)
{
    ets_entry_t *x = a->b[2 * u];
    while (x && x->next && idx(x->next->hash, a->bits) == 2 * u)
        x = x->next;
    if (x && x->next && idx(x->hash, a->bits) == 2 * u)
        ck_pr_store_ptr(&x->next, NULL);
}

/* Move unit u of a resize from o to a: whatever state a crash left it in,
 * this finishes it. */
static void migrate_unit(ets_table_t *t, ets_lock_t *l, ets_arr_t *a, ets_arr_t *o, uint32_t u)
{
    if (o->bits < a->bits) {
        /* Grow: old bucket u splits into new 2u and 2u + 1. */
        ets_entry_t *e = o->b[u];
        if (e == ETS_MOVED)
            return;
        uint32_t s = idx((uint64_t)u << (ETS_HASH_BITS - o->bits), ETS_STRIPE_BITS);
        ets_journal(l, J_MIG, (void *)(uintptr_t)u, a, o);
        ets_crash_point(ETS_CRASH_MIG_LOCKED);
        seq_begin(t, s);
        ets_entry_t *pred = NULL, *x = e;
        while (x && idx(x->hash, a->bits) == 2 * u) {
            pred = x;
            x = x->next;
        }
        a->b[2 * u] = pred ? e : NULL;
        a->b[2 * u + 1] = x;
        ets_crash_point(ETS_CRASH_MIG_SPLIT);
        /* Release: the new buckets before the mark that sends readers
         * there. */
        ets_step();
        ck_pr_store_ptr(&o->b[u], ETS_MOVED);
        ets_crash_point(ETS_CRASH_MIG_MOVED);
        if (pred)
            ck_pr_store_ptr(&pred->next, NULL);
        seq_end(t, s);
        ets_journal_end(l);
        return;
    }
    /* Shrink: old buckets 2u and 2u + 1 join into new bucket u. */
    ets_entry_t *x = o->b[2 * u], *y = o->b[2 * u + 1];
    if (y == ETS_MOVED)
        return;
    ets_journal(l, J_MIG, (void *)(uintptr_t)u, a, o);
    ets_crash_point(ETS_CRASH_MIG_LOCKED);
    if (x != ETS_MOVED) {
        if (x) {
            ets_entry_t *last = x;
            while (last->next && idx(last->next->hash, o->bits) == 2 * u)
                last = last->next;
            /* Readers of 2u see more of the chain: they stop by hash. */
            ck_pr_store_ptr(&last->next, y);
        }
        a->b[u] = x ? x : y;
        ets_crash_point(ETS_CRASH_MIG_SPLIT);
        ets_step();
        ck_pr_store_ptr(&o->b[2 * u], ETS_MOVED);
    }
    ets_crash_point(ETS_CRASH_MIG_MOVED);
    ck_pr_store_ptr(&o->b[2 * u + 1], ETS_MOVED);
    ets_journal_end(l);
}

static uint32_t unit_bits(const ets_arr_t *a, const ets_arr_t *o)
{
    return a->bits < o->bits ? a->bits : o->bits;
}

/* Holding stripe s's lock during a resize from o to a: move up to
 * `budget` more units of the stripe, in order. True when the stripe is
 * done. */
static bool migrate_some(ets_table_t *t, ets_lock_t *l, uint32_t s, ets_arr_t *a, ets_arr_t *o,
                         int budget)
{
    uint32_t ups = 1u << (unit_bits(a, o) - ETS_STRIPE_BITS);
    if (l->mig_gen != a->gen) {
        /* pos first: a crash between leaves 0 with the old gen, which
         * reads as "start again" (units already moved are skipped). */
        l->mig_pos = 0;
        ets_step();
        l->mig_gen = a->gen;
    }
    while (budget-- > 0 && l->mig_pos < ups) {
        migrate_unit(t, l, a, o, s * ups + l->mig_pos);
        l->mig_pos++;
    }
    return l->mig_pos == ups;
}

/* Holding stripe s's lock: the array writers change, with the unit of hv
 * moved to it first. */
static ets_arr_t *writer_arr(ets_table_t *t, ets_lock_t *l, uint32_t s, uint64_t hv)
{
    ets_arr_t *a = ck_pr_load_ptr(&t->cur);
    ets_arr_t *o = ck_pr_load_ptr(&a->old);
    /* A stripe whose units have all moved needs no look at the old array
     * (a cache miss per write while the rest of the table moves). */
    if (o && !(l->mig_gen == a->gen && l->mig_pos == 1u << (unit_bits(a, o) - ETS_STRIPE_BITS))) {
        migrate_unit(t, l, a, o, idx(hv, unit_bits(a, o)));
        migrate_some(t, l, s, a, o, MIG_OWN);
    }
    return a;
}

static bool all_done(ets_table_t *t, ets_arr_t *a, ets_arr_t *o)
{
    uint32_t ups = 1u << (unit_bits(a, o) - ETS_STRIPE_BITS);
    for (uint32_t s = 0; s < ETS_STRIPES; s++)
        /* Relaxed: each stripe's pair only moves forward within a resize,
         * and pos reaches ups only after its last unit is moved. */
        if (ck_pr_load_32(&t->locks[s].mig_gen) != a->gen ||
            ck_pr_load_32(&t->locks[s].mig_pos) != ups)
            return false;
    ck_pr_fence_load();
    return true;
}

static void finish(rt_t *rt, ets_table_t *t, ets_arr_t *a, ets_arr_t *o)
{
    if (!ets_trylock(&t->resize, rt->vm))
        return;
    if (t->cur == a && a->old == o && all_done(t, a, o)) {
        ets_journal(&t->resize, J_FINISH, o, a, NULL);
        ck_pr_store_ptr(&a->old, NULL);
        ets_crash_point(ETS_CRASH_FINISH);
        /* The first array is part of the table's block, which lives
         * until the table is dropped and freed: nothing to retire. Were
         * it retired, its grace period could end on this VM after another
         * VM had dropped the table and freed the block, and the free
         * would then land in whatever the block had become (a slab: a
         * slot freed twice, a free list overwritten). */
        if (!o->embedded)
            ets_retiring(vm_rec(rt), o, arr_bytes(o));
        ets_journal_end(&t->resize);
    }
    ets_unlock(&t->resize);
}

static void start(rt_t *rt, ets_table_t *t, ets_arr_t *a, uint32_t bits)
{
    ets_vm_t *me = vm_rec(rt);
    size_t size;
    ets_arr_t *n = ets_obj_alloc(rt, hash_arr_bytes(bits), &size);
    if (!n)
        return; /* no room: the chains grow longer instead */
    me->pending[0] = n;
    ets_crash_point(ETS_CRASH_RESIZE_NEW);
    memset(n, 0, sizeof *n);
    n->bits = bits;
    n->gen = a->gen + 1;
    n->old = a;
    bool ok = ets_trylock(&t->resize, rt->vm);
    if (ok && t->cur == a && !a->old && !t->dropped) {
        ets_journal(&t->resize, J_START, n, a, NULL);
        ets_obj_publish(rt->h, n);
        /* Release (ets_step): the array's header before it is reachable. */
        ets_step();
        ck_pr_store_ptr(&t->cur, n);
        ets_crash_point(ETS_CRASH_RESIZE_PUB);
        me->pending[0] = NULL;
        ets_journal_end(&t->resize);
        ets_unlock(&t->resize);
        return;
    }
    if (ok)
        ets_unlock(&t->resize);
    me->pending[0] = NULL;
    ets_obj_free(rt->h, rt->vm, n);
}

void hash_after_write(rt_t *rt, ets_table_t *t, uint32_t s)
{
    ets_arr_t *a = ck_pr_load_ptr(&t->cur);
    ets_arr_t *o = ck_pr_load_ptr(&a->old);
    if (o) {
        ets_vm_t *me = vm_rec(rt);
        uint32_t h = me->help++ & (ETS_STRIPES - 1);
        ets_lock_t *l = &t->locks[h];
        if (ets_trylock(l, rt->vm)) {
            if (!t->dropped && ck_pr_load_ptr(&t->cur) == a && ck_pr_load_ptr(&a->old) == o)
                migrate_some(t, l, h, a, o, MIG_HELP);
            ets_unlock(l);
        }
        if (h == 0 && all_done(t, a, o))
            finish(rt, t, a, o);
        return;
    }
    /* Grow past one entry per bucket, shrink below one per eight: a
     * look-up then reads 1.5 entries at most on average (each a cache
     * miss in a large table), for 8 to 16 bytes of buckets per entry. The
     * stripe's own count is the hint; the total decides. */
    /* Every 8th write of a VM looks (a look may add up every stripe's
     * count, 64 loads, while the stripes sit near the threshold). */
    if ((vm_rec(rt)->tick++ & 7) != 0)
        return;
    uint64_t per = 1ull << (a->bits - ETS_STRIPE_BITS);
    /* Relaxed: a hint. */
    uint64_t c = ck_pr_load_64(&t->locks[s].count);
    if (c > per && a->bits < 40) {
        if (hash_count(t) > 1ull << a->bits)
            start(rt, t, a, a->bits + 1);
    } else if (c < per / 8 && a->bits > ETS_STRIPE_BITS) {
        if (hash_count(t) < (1ull << a->bits) / 8)
            start(rt, t, a, a->bits - 1);
    }
}

/* --- writers --------------------------------------------------------------- */

/* Holding stripe s's lock: the link that points at the first entry of
 * hash >= hv in a's chain, and the entry of `key` if there is one (then
 * *link points at it). */
static ets_entry_t **find_link(ets_arr_t *a, uint64_t hv, term key, ets_entry_t **found)
{
    ets_entry_t **link = &a->b[idx(hv, a->bits)], *x;
    while ((x = *link) && x->hash < hv)
        link = &x->next;
    for (ets_entry_t **l2 = link; (x = *l2) && x->hash == hv; l2 = &x->next)
        if (key_equal(x->key, key)) {
            *found = x;
            return l2;
        }
    *found = NULL;
    return link;
}

/* Link new entry e at *link (the lock held; e->next set). */
static void link_new(rt_t *rt, ets_lock_t *l, ets_entry_t **link, ets_entry_t *e)
{
    ets_journal(l, J_INS, e, NULL, NULL);
    ets_obj_publish(rt->h, e);
    /* Release (ets_step): the entry's contents before the link. */
    ets_step();
    ck_pr_store_ptr(link, e);
    ets_crash_point(ETS_CRASH_LINKED);
    vm_rec(rt)->pending[0] = NULL;
    l->count = l->before + 1;
    l->bytes += (int64_t)entry_bytes(e);
    ets_journal_end(l);
}

/* Take stripe s's lock for a write; false (not locked) if the table was
 * dropped meanwhile. */
static bool write_lock(rt_t *rt, ets_table_t *t, ets_lock_t *l)
{
    ets_lock(rt->h, l, rt->vm);
    ets_crash_point(ETS_CRASH_LOCKED);
    if (ck_pr_load_32(&t->dropped)) {
        ets_unlock(l);
        return false;
    }
    return true;
}

void hash_put(rt_t *rt, ets_table_t *t, ets_entry_t *e, bool *replaced, bool *gone)
{
    uint32_t s = stripe_of(e->hash);
    ets_lock_t *l = &t->locks[s];
    *replaced = false;
    *gone = !write_lock(rt, t, l);
    if (*gone)
        return;
    ets_arr_t *a = writer_arr(t, l, s, e->hash);
    ets_entry_t *old;
    ets_entry_t **link = find_link(a, e->hash, e->key, &old);
    if (old) {
        e->next = old->next;
        ets_journal(l, J_REPL, e, old, NULL);
        ets_obj_publish(rt->h, e);
        ets_step();
        ck_pr_store_ptr(link, e);
        ets_crash_point(ETS_CRASH_LINKED);
        ets_vm_t *me = vm_rec(rt);
        me->pending[0] = NULL;
        ets_retiring(me, old, entry_bytes(old));
        l->bytes += (int64_t)entry_bytes(e) - (int64_t)entry_bytes(old);
        ets_journal_end(l);
        *replaced = true;
    } else {
        e->next = *link;
        link_new(rt, l, link, e);
    }
    ets_unlock(l);
    ets_crash_point(ETS_CRASH_UNLOCKED);
    hash_after_write(rt, t, s);
}

bool hash_insert_new(rt_t *rt, ets_table_t *t, ets_entry_t *e, bool *gone)
{
    uint32_t s = stripe_of(e->hash);
    ets_lock_t *l = &t->locks[s];
    *gone = !write_lock(rt, t, l);
    if (*gone)
        return false;
    ets_arr_t *a = writer_arr(t, l, s, e->hash);
    ets_entry_t *old;
    ets_entry_t **link = find_link(a, e->hash, e->key, &old);
    if (!old) {
        e->next = *link;
        link_new(rt, l, link, e);
    }
    ets_unlock(l);
    ets_crash_point(ETS_CRASH_UNLOCKED);
    hash_after_write(rt, t, s);
    return !old;
}

ets_entry_t *hash_counter(rt_t *rt, ets_table_t *t, ets_entry_t *e, bool *linked, bool *gone)
{
    uint32_t s = stripe_of(e->hash);
    ets_lock_t *l = &t->locks[s];
    *linked = false;
    *gone = !write_lock(rt, t, l);
    if (*gone)
        return NULL;
    ets_arr_t *a = writer_arr(t, l, s, e->hash);
    ets_entry_t *old;
    ets_entry_t **link = find_link(a, e->hash, e->key, &old);
    if (!old) {
        e->next = *link;
        link_new(rt, l, link, e);
        *linked = true;
    }
    ets_unlock(l);
    ets_crash_point(ETS_CRASH_UNLOCKED);
    if (*linked)
        hash_after_write(rt, t, s);
    return old ? old : e;
}

ets_entry_t *hash_remove(rt_t *rt, ets_table_t *t, term key, uint64_t hv, uint64_t room,
                         uint64_t *need, bool *gone)
{
    uint32_t s = stripe_of(hv);
    ets_lock_t *l = &t->locks[s];
    *need = 0;
    *gone = !write_lock(rt, t, l);
    if (*gone)
        return NULL;
    ets_arr_t *a = writer_arr(t, l, s, hv);
    ets_entry_t *x;
    ets_entry_t **link = find_link(a, hv, key, &x);
    if (x && room != UINT64_MAX && term_size(x->value) > room) {
        *need = term_size(x->value);
        x = NULL; /* the caller makes room and comes back */
    } else if (x) {
        ets_journal(l, J_DEL, x, NULL, NULL);
        ck_pr_store_ptr(link, x->next);
        ets_crash_point(ETS_CRASH_LINKED);
        size_t bytes = entry_bytes(x);
        ets_retiring(vm_rec(rt), x, bytes);
        l->count = l->before - 1;
        l->bytes -= (int64_t)bytes;
        ets_journal_end(l);
    }
    ets_unlock(l);
    ets_crash_point(ETS_CRASH_UNLOCKED);
    if (x)
        hash_after_write(rt, t, s);
    return x;
}

/* --- recovery ---------------------------------------------------------------- */

/* Whether entry e is linked in t (its stripe's lock held by recovery). */
static bool linked(ets_table_t *t, ets_entry_t *e)
{
    uint64_t end;
    for (ets_entry_t *x = chain_at(t, e->hash, &end); x && x->hash <= e->hash; x = x->next)
        if (x == e)
            return true;
    return false;
}

/* Count the entries and bytes of stripe s again (its lock held). */
static void recount(ets_table_t *t, uint32_t s)
{
    uint64_t x = (uint64_t)s << (ETS_HASH_BITS - ETS_STRIPE_BITS);
    uint64_t stop = (uint64_t)(s + 1) << (ETS_HASH_BITS - ETS_STRIPE_BITS);
    uint64_t n = 0;
    int64_t bytes = 0;
    while (x < stop) {
        uint64_t end;
        for (ets_entry_t *e = chain_at(t, x, &end); e && e->hash < end; e = e->next)
            if (e->hash >= x) {
                n++;
                bytes += (int64_t)entry_bytes(e);
            }
        x = end;
    }
    t->locks[s].count = n;
    t->locks[s].bytes = bytes;
}

static void note(void *const pending[2], bool named[2], const void *obj)
{
    for (int i = 0; i < 2; i++)
        if (obj && pending[i] == obj)
            named[i] = true;
}

static void recover_stripe(shm_header_t *h, ets_table_t *t, uint32_t vm, uint32_t s,
                           void *const pending[2], bool named[2])
{
    ets_lock_t *l = &t->locks[s];
    ets_entry_t *e = l->a, *old = l->b;
    switch (ck_pr_load_32(&l->op)) {
    case J_INS:
        note(pending, named, e);
        if (!linked(t, e))
            ets_free_unpublished(h, e);
        break;
    case J_REPL:
        note(pending, named, e);
        if (linked(t, e))
            ets_retire_for(h, vm, old);
        else
            ets_free_unpublished(h, e);
        break;
    case J_DEL:
        if (!linked(t, e))
            ets_retire_for(h, vm, e);
        break;
    case J_MIG: {
        uint32_t u = (uint32_t)(uintptr_t)l->a;
        ets_arr_t *a = l->b, *o = l->c;
        /* Even first: readers may go on over what the dead VM left (the
         * old chain is whole until the mark; after it, the new buckets
         * are), and migrate_unit bumps it around its own changes. */
        if (t->seq[s] & 1)
            t->seq[s]++;
        migrate_unit(t, l, a, o, u); /* finishes it, whatever the state */
        if (o->bits < a->bits) {
            seq_begin(t, s);
            ensure_cut(a, u);
            seq_end(t, s);
        }
        break;
    }
    default:
        break;
    }
    if (t->seq[s] & 1)
        t->seq[s]++;
    l->op = J_NONE;
    recount(t, s);
}

void hash_recover(shm_header_t *h, ets_table_t *t, uint32_t vm, void *const pending[2],
                  bool named[2])
{
    if (ck_pr_cas_32(&t->resize.word, vm + 1, ETS_RECOVERY + 1)) {
        ck_pr_fence_lock();
        ets_lock_t *l = &t->resize;
        if (l->op == J_START) {
            note(pending, named, l->a);
            if (t->cur != l->a)
                ets_free_unpublished(h, l->a);
        } else if (l->op == J_FINISH) {
            if (((ets_arr_t *)l->b)->old == NULL && !((ets_arr_t *)l->a)->embedded)
                ets_retire_for(h, vm, l->a); /* (finish: the first array is the table's) */
        }
        l->op = J_NONE;
        ets_unlock(l);
    }
    for (uint32_t s = 0; s < ETS_STRIPES; s++) {
        ets_lock_t *l = &t->locks[s];
        if (!ck_pr_cas_32(&l->word, vm + 1, ETS_RECOVERY + 1))
            continue;
        ck_pr_fence_lock();
        recover_stripe(h, t, vm, s, pending, named);
        ets_unlock(l);
    }
}

/* --- dropped tables ------------------------------------------------------------ */

bool hash_free_some(shm_header_t *h, uint32_t who, ets_table_t *t, size_t budget)
{
    /* Nobody else reaches t any more: plain loads and stores. Each entry
     * leaves its chain before it is freed (a crash leaks it, no more). */
    while (t->zpos < HASH_END) {
        ets_arr_t *a = t->cur, *o = a->old;
        uint64_t x = t->zpos, end;
        ets_entry_t **loc;
        uint32_t k;
        if (o && o->b[k = idx(x, o->bits)] != ETS_MOVED) {
            loc = &o->b[k];
            end = bucket_end(k, o->bits);
        } else {
            k = idx(x, a->bits);
            loc = &a->b[k];
            end = bucket_end(k, a->bits);
        }
        ets_entry_t *e;
        while ((e = *loc) && e->hash < end) {
            if (budget-- == 0)
                return false;
            *loc = e->next;
            ets_obj_free(h, who, e);
        }
        t->zpos = end;
    }
    ets_arr_t *a = t->cur;
    if (a->old) {
        ets_arr_t *o = a->old;
        a->old = NULL;
        if (!o->embedded) /* the first array goes with the table's block */
            ets_obj_free(h, who, o);
    }
    if (!a->embedded) {
        t->cur = NULL;
        ets_obj_free(h, who, a);
    }
    return true;
}

/* --- checks ------------------------------------------------------------------ */

int hash_check(const shm_header_t *h, ets_table_t *t, char *why, size_t n)
{
    (void)h;
    if (t->resize.word || t->resize.op) {
        shoal_errf(why, n, "table %u: resize lock or journal held", t->name);
        return -1;
    }
    ets_arr_t *a = t->cur, *o = a->old;
    if (a->bits < ETS_STRIPE_BITS || (o && o->bits != a->bits + 1 && o->bits + 1 != a->bits)) {
        shoal_errf(why, n, "table %u: array sizes %u and %u", t->name, a->bits,
                   o ? o->bits : 0);
        return -1;
    }
    for (uint32_t s = 0; s < ETS_STRIPES; s++) {
        const ets_lock_t *l = &t->locks[s];
        if (l->word || l->op || (t->seq[s] & 1)) {
            shoal_errf(why, n, "table %u: stripe %u: lock, journal or seqlock held", t->name, s);
            return -1;
        }
        uint64_t x = (uint64_t)s << (ETS_HASH_BITS - ETS_STRIPE_BITS);
        uint64_t stop = (uint64_t)(s + 1) << (ETS_HASH_BITS - ETS_STRIPE_BITS);
        uint64_t cnt = 0;
        int64_t bytes = 0;
        while (x < stop) {
            uint64_t end, prev = x;
            ets_entry_t *e = chain_at(t, x, &end);
            for (; e; e = e->next) {
                if (e->hash < prev || e->hash >= end) {
                    shoal_errf(why, n, "table %u: entry %p out of order or bucket", t->name,
                               (void *)e);
                    return -1;
                }
                prev = e->hash;
                cnt++;
                bytes += (int64_t)entry_bytes(e);
                if (cnt > l->count + 1)
                    break;
            }
            x = end;
        }
        if (cnt != l->count || bytes != l->bytes) {
            shoal_errf(why, n, "table %u: stripe %u holds %llu entries (%lld bytes), counts %llu (%lld)",
                       t->name, s, (unsigned long long)cnt, (long long)bytes,
                       (unsigned long long)l->count, (long long)l->bytes);
            return -1;
        }
    }
    return 0;
}
