/*
 * ets.c: shared tables (see ets.h for the locking and crash rules).
 *
 * A table is a fixed array of buckets, each a chain of entries; an entry
 * is one run of the pool holding its key and value, copied in:
 *   [next entry][hash][key term][value term][the key's and value's data]
 */
#include "vmproc/ets.h"

#include "shm/pool.h"
#include "vmproc/bif.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/termio.h"
#include "vmproc/wstack.h"

#include <ck_pr.h>
#include <errno.h>
#include <string.h>

#define ETS_TABLES 256
/* 4,096 buckets: a table of up to tens of thousands of keys keeps short
 * chains; the array is 8 pages, taken when the table is created. */
#define ETS_BUCKETS 4096
/* Tables outlive the VMs that fill them: their runs are owned by this
 * pseudo-VM id, which never dies, so recovery never frees them. */
#define ETS_OWNER POOL_OWNER_VM(POOL_SUPERVISOR)

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    term key, value;
} entry_t;

typedef struct table {
    uint32_t name;        /* atom index + 1; 0: a free slot. Under the directory lock. */
    uint32_t lock;        /* holder VM id + 1, or 0 */
    entry_t **buckets;
    uint64_t count;
    uint64_t pad;
} table_t;

typedef struct ets_dir {
    uint32_t lock;        /* creating tables: holder VM id + 1 */
    uint32_t pad;
    table_t tables[ETS_TABLES];
} ets_dir_t;

static ets_dir_t *dir(const shm_header_t *h)
{
    return (ets_dir_t *)code_table(h)->tables;
}

int ets_init(shm_header_t *h)
{
    size_t pages = (sizeof(ets_dir_t) + SHOAL_PAGE - 1) / SHOAL_PAGE;
    ets_dir_t *d = pool_alloc(h, POOL_SUPERVISOR, 0, pages, ETS_OWNER);
    if (!d)
        return -1;
    memset(d, 0, sizeof *d);
    code_table(h)->tables = d;
    return 0;
}

int ets_crash_step;

static inline void crash_point(int step)
{
    SHOAL_CRASH_POINT(ets_crash_step, step);
}

static void lock(uint32_t *word, uint32_t vm)
{
    /* Acquire (the CAS): what the last holder wrote is visible. */
    while (!ck_pr_cas_32(word, 0, vm + 1))
        while (ck_pr_load_32(word) != 0)
            ck_pr_stall();
    ck_pr_fence_acquire();
}

static void unlock(uint32_t *word)
{
    /* Release: our writes are visible before the lock is free. */
    ck_pr_fence_release();
    ck_pr_store_32(word, 0);
}

/* The holder id recovery takes a dead VM's table lock over with. */
#define ETS_RECOVERY (SHOAL_MAX_VMS + 1u)

void ets_recover_vm(shm_header_t *h, uint32_t vm)
{
    ets_dir_t *d = dir(h);
    if (!d)
        return;
    ck_pr_cas_32(&d->lock, vm + 1, 0);
    for (int i = 0; i < ETS_TABLES; i++) {
        table_t *t = &d->tables[i];
        /* The dead VM may have linked or unlinked an entry and died before
         * it changed the count (two stores): count the chains again while
         * we hold the lock in its place. The chains themselves are whole,
         * since each change to them is one store. */
        if (!ck_pr_cas_32(&t->lock, vm + 1, ETS_RECOVERY + 1))
            continue;
        ck_pr_fence_acquire();
        if (ck_pr_load_32(&t->name) != 0 && t->buckets) {
            uint64_t n = 0;
            for (size_t b = 0; b < ETS_BUCKETS; b++)
                for (entry_t *e = t->buckets[b]; e; e = e->next)
                    n++;
            ck_pr_store_64(&t->count, n);
        }
        unlock(&t->lock);
    }
}

size_t ets_locks_held(const shm_header_t *h, uint32_t vm)
{
    const ets_dir_t *d = dir(h);
    if (!d)
        return 0;
    size_t n = 0;
    /* Relaxed: a snapshot; the caller knows whether anybody still runs. */
    uint32_t w = ck_pr_load_32((uint32_t *)&d->lock);
    n += vm == ETS_ANY_VM ? w != 0 : w == vm + 1;
    for (int i = 0; i < ETS_TABLES; i++) {
        w = ck_pr_load_32((uint32_t *)&d->tables[i].lock);
        n += vm == ETS_ANY_VM ? w != 0 : w == vm + 1;
    }
    return n;
}

static uint64_t mix(uint64_t x, uint64_t v)
{
    return (x ^ v) * 0x100000001b3ull;
}

static uint64_t hash(term t)
{
    uint64_t x = 0xcbf29ce484222325ull;
    wstack_t st;
    wstack_init(&st);
    wstack_push(&st, t);
    while (wstack_pop(&st, &t)) {
        if (is_cons(t)) {
            x = mix(x, 2);
            wstack_push(&st, CDR(t));
            wstack_push(&st, CAR(t));
            continue;
        }
        if (!is_boxed(t)) {
            x = mix(x, t);
            continue;
        }
        term *b = box_ptr(t);
        uint64_t n = hdr_words(b[0]);
        switch (hdr_type(b[0])) {
        case BT_TUPLE:
            x = mix(x, n);
            for (uint64_t i = n; i-- > 1;)
                wstack_push(&st, b[i]);
            break;
        case BT_CLOSURE:
        case BT_MAP:
            /* a map's layout word is a function of its keys (map.h), so
             * equal maps hash alike whatever order they were built in */
            x = mix(mix(x, b[0]), b[1]);
            for (uint64_t i = n; i-- > 2;)
                wstack_push(&st, b[i]);
            break;
        case BT_FLOAT: {
            /* Equal floats hash alike: 0.0 = -0.0, with other bits. */
            double v;
            memcpy(&v, &b[1], sizeof v);
            if (v == 0.0)
                v = 0.0;
            uint64_t bits;
            memcpy(&bits, &v, sizeof bits);
            x = mix(mix(x, b[0]), bits);
            break;
        }
        default: /* strings: their words */
            for (uint64_t i = 0; i < n; i++)
                x = mix(x, b[i]);
            break;
        }
    }
    wstack_free(&st);
    return x;
}

/* The table named by atom `name`, or NULL. */
static table_t *find_table(const shm_header_t *h, term name)
{
    if (!is_atom(name))
        return NULL;
    ets_dir_t *d = dir(h);
    uint32_t want = atom_index(name) + 1;
    for (int i = 0; i < ETS_TABLES; i++)
        /* Acquire: a table's buckets are set before its name is. */
        if (ck_pr_load_32(&d->tables[i].name) == want) {
            ck_pr_fence_acquire();
            return &d->tables[i];
        }
    return NULL;
}

static entry_t **slot_for(table_t *t, term key, uint64_t hv, entry_t **found)
{
    entry_t **link = &t->buckets[hv % ETS_BUCKETS];
    for (; *link; link = &(*link)->next)
        if ((*link)->hash == hv && term_equal((*link)->key, key)) {
            *found = *link;
            return link;
        }
    *found = NULL;
    return link;
}

/* A new entry holding copies of key and value. */
static entry_t *make_entry(rt_t *rt, term key, term value, uint64_t hv)
{
    uint64_t words = sizeof(entry_t) / sizeof(term) + term_size(key) + term_size(value);
    size_t pages = (size_t)((words * sizeof(term) + SHOAL_PAGE - 1) / SHOAL_PAGE);
    entry_t *e = pool_alloc(rt->h, rt->vm, rt->node, pages, ETS_OWNER);
    if (!e)
        return NULL;
    term *hp = (term *)(e + 1);
    e->next = NULL;
    e->hash = hv;
    e->key = term_copy(key, &hp);
    e->value = term_copy(value, &hp);
    return e;
}

static term no_table(pcb_t *pcb)
{
    return bif_error(proc_of(pcb), A_BADARG);
}

term ets_new(rt_t *rt, pcb_t *pcb, term name)
{
    if (!is_atom(name))
        return no_table(pcb);
    if (find_table(rt->h, name))
        return name;
    ets_dir_t *d = dir(rt->h);
    lock(&d->lock, rt->vm);
    crash_point(ETS_CRASH_DIR_LOCKED);
    if (find_table(rt->h, name)) {
        unlock(&d->lock);
        return name;
    }
    table_t *t = NULL;
    for (int i = 0; i < ETS_TABLES && !t; i++)
        if (d->tables[i].name == 0)
            t = &d->tables[i];
    size_t pages = ETS_BUCKETS * sizeof(entry_t *) / SHOAL_PAGE;
    entry_t **b = t ? pool_alloc(rt->h, rt->vm, rt->node, pages, ETS_OWNER) : NULL;
    if (!b) {
        unlock(&d->lock);
        return bif_error(proc_of(pcb), A_SYSTEM_LIMIT);
    }
    memset(b, 0, pages * SHOAL_PAGE);
    t->buckets = b;
    t->count = 0;
    t->lock = 0;
    /* Release: the buckets are visible before the name makes the table
     * findable. */
    ck_pr_fence_release();
    ck_pr_store_32(&t->name, atom_index(name) + 1);
    unlock(&d->lock);
    return name;
}

term ets_put(rt_t *rt, pcb_t *pcb, term *args)
{
    table_t *t = find_table(rt->h, args[0]);
    if (!t)
        return no_table(pcb);
    uint64_t hv = hash(args[1]);
    entry_t *e = make_entry(rt, args[1], args[2], hv);
    if (!e)
        return bif_error(proc_of(pcb), A_SYSTEM_LIMIT);
    entry_t *old;
    lock(&t->lock, rt->vm);
    crash_point(ETS_CRASH_LOCKED);
    entry_t **link = slot_for(t, args[1], hv, &old);
    if (old) {
        e->next = old->next;
        *link = e;
    } else {
        *link = e;
        crash_point(ETS_CRASH_LINKED);
        t->count++;
    }
    unlock(&t->lock);
    if (old)
        pool_free(rt->h, rt->vm, old);
    return mk_atom(A_TRUE);
}

term ets_get(rt_t *rt, pcb_t *pcb, term *args)
{
    proc_t *p = proc_of(pcb);
    for (;;) {
        table_t *t = find_table(rt->h, args[0]);
        if (!t)
            return no_table(pcb);
        uint64_t hv = hash(args[1]);
        entry_t *e;
        lock(&t->lock, rt->vm);
        slot_for(t, args[1], hv, &e);
        if (!e) {
            unlock(&t->lock);
            return args[2];
        }
        uint64_t need = term_size(e->value);
        if ((uint64_t)(p->hlim - p->hp) >= need) {
            term v = term_copy(e->value, &p->hp);
            unlock(&t->lock);
            return v;
        }
        /* Make room without holding the lock, then look again: the entry
         * may have changed meanwhile. */
        unlock(&t->lock);
        if (heap_make_room(rt, pcb, need) < 0)
            return T_NONE;
    }
}

term ets_delete(rt_t *rt, pcb_t *pcb, term *args)
{
    table_t *t = find_table(rt->h, args[0]);
    if (!t)
        return no_table(pcb);
    uint64_t hv = hash(args[1]);
    entry_t *e;
    lock(&t->lock, rt->vm);
    crash_point(ETS_CRASH_LOCKED);
    entry_t **link = slot_for(t, args[1], hv, &e);
    if (e) {
        *link = e->next;
        t->count--;
    }
    unlock(&t->lock);
    if (e)
        pool_free(rt->h, rt->vm, e);
    return mk_atom(A_TRUE);
}

term ets_size(rt_t *rt, pcb_t *pcb, term name)
{
    table_t *t = find_table(rt->h, name);
    if (!t)
        return no_table(pcb);
    return mk_fix((int64_t)ck_pr_load_64(&t->count));
}

term ets_update_counter(rt_t *rt, pcb_t *pcb, term *args)
{
    proc_t *p = proc_of(pcb);
    table_t *t = find_table(rt->h, args[0]);
    if (!t)
        return no_table(pcb);
    if (!is_fix(args[2]))
        return bif_error(p, A_BADARG);
    uint64_t hv = hash(args[1]);
    /* Built before the lock in case the key is new; freed if not needed. */
    entry_t *fresh = make_entry(rt, args[1], args[2], hv);
    if (!fresh)
        return bif_error(p, A_SYSTEM_LIMIT);
    entry_t *e;
    term result = T_NONE;
    uint32_t error = 0; /* decided under the lock: e may be freed after it */
    lock(&t->lock, rt->vm);
    crash_point(ETS_CRASH_LOCKED);
    entry_t **link = slot_for(t, args[1], hv, &e);
    if (!e) {
        *link = fresh;
        crash_point(ETS_CRASH_LINKED);
        t->count++;
        fresh = NULL;
        result = args[2];
    } else if (!is_fix(e->value)) {
        error = A_BADARG;
    } else {
        int64_t r;
        if (!__builtin_add_overflow(fix_val(e->value), fix_val(args[2]), &r) && fix_fits(r)) {
            e->value = mk_fix(r);
            result = e->value;
        } else {
            error = A_BADARITH;
        }
    }
    unlock(&t->lock);
    if (fresh)
        pool_free(rt->h, rt->vm, fresh);
    if (error)
        return bif_error(p, error);
    return result;
}
