/*
 * bif_table.c: the shared-table builtins (LANGUAGE.md, "Shared tables"):
 * arguments, copies in and out, errors. The tables are ets.c, ets_hash.c
 * and ets_skip.c.
 *
 * NOTES
 *   Owner VM only, on the running process, as every builtin (bif.h).
 *   Copies into a table are made inside the operation (the table's memory
 *   is not the process's, so no collection can happen); copies out need
 *   heap room, and making room may collect: that is done between
 *   operations, never inside one (an operation runs inside an epoch
 *   critical section), and the operation is then done again from the
 *   start, reading the arguments again (a collection moves them).
 *   table-fold and table->list are written in the language (the prelude,
 *   program.c) over %table-chunk, so they count reductions, can yield, and
 *   call f with no lock held and outside any operation.
 */
#include "vmproc/ets_impl.h"

#include "vmproc/bif.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/termio.h"

#include <errno.h>
#include <string.h>

/* Entries per %table-chunk: enough that the prelude loop's call costs
 * little per entry, few enough that one chunk is a short operation. */
#define CHUNK 64

static term badarg(pcb_t *pcb)
{
    return bif_error(proc_of(pcb), A_BADARG);
}

static term system_limit(pcb_t *pcb)
{
    return bif_error(proc_of(pcb), A_SYSTEM_LIMIT);
}

/* What an operation returns when the pool had no room for what it makes
 * (never a value of the language: an immediate of an unused subtag). */
#define NOMEM mk_imm(7, 0)

/* Retries of an operation the pool had no room for: memory retired by
 * recent operations comes back once the epoch moves, a step each. */
#define NOMEM_TRIES 3

typedef term (*table_op_t)(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);

/* Run op; when the pool is out, free what can be freed and try again,
 * then give up with system_limit (the table as it was). */
static term with_room(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc, table_op_t op)
{
    for (int tries = 0;; tries++) {
        term r = op(rt, pcb, args, argc);
        if (r != NOMEM)
            return r;
        if (tries == NOMEM_TRIES)
            return system_limit(pcb);
        ets_reclaim_hard(rt);
    }
}

static uint64_t free_words(pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    return (uint64_t)(p->hlim - p->hp);
}

static ets_vm_t *vm_rec(rt_t *rt)
{
    return &ets_dir(rt->h)->vms[rt->vm];
}

static uint64_t key_hash(rt_t *rt, term key)
{
    return term_hash(key, ets_dir(rt->h)->seed) >> (64 - ETS_HASH_BITS);
}

static bool immediate(term v)
{
    return is_fix(v) || is_imm(v);
}

/* A set entry holding copies of key and value, named pending[0]. NULL
 * when the pool is out (or the entry is larger than a node of it). */
static ets_entry_t *make_entry(rt_t *rt, term key, term value, uint64_t hv)
{
    uint64_t words = sizeof(ets_entry_t) / sizeof(term) + term_size(key) + term_size(value);
    size_t size;
    ets_entry_t *e = ets_obj_alloc(rt, words * sizeof(term), &size);
    if (!e)
        return NULL;
    vm_rec(rt)->pending[0] = e;
    term *hp = (term *)(e + 1);
    e->next = NULL;
    e->hash = hv;
    e->key = term_copy(key, &hp);
    e->value = term_copy(value, &hp);
    ets_crash_point(ETS_CRASH_PENDING);
    return e;
}

/* An ordered node for key and value (pending[0]) and its value box, if
 * the value is not immediate (pending[1]). */
static ets_node_t *make_node(rt_t *rt, term key, term value)
{
    ets_vm_t *me = vm_rec(rt);
    uint32_t levels = ets_random_levels(me);
    size_t size;
    ets_node_t *n = ets_obj_alloc(rt, skip_node_bytes(levels, term_size(key)), &size);
    if (!n)
        return NULL;
    term *box = NULL;
    if (!immediate(value)) {
        box = ets_obj_alloc(rt, skip_box_bytes(term_size(value)), &size);
        if (!box) {
            ets_obj_free(rt->h, rt->vm, n);
            return NULL;
        }
        term *hp = box + 1;
        box[0] = term_copy(value, &hp);
    }
    me->pending[0] = n;
    me->pending[1] = box;
    n->levels = levels;
    n->pad = 0;
    n->vword = box ? (uint64_t)(uintptr_t)box : value;
    term *hp = (term *)&n->next[levels];
    n->key = term_copy(key, &hp);
    memset(n->next, 0, levels * sizeof n->next[0]);
    ets_crash_point(ETS_CRASH_PENDING);
    return n;
}

/* Give back what the operation made and did not link. */
static void drop_pending(rt_t *rt)
{
    ets_vm_t *me = vm_rec(rt);
    for (int i = 0; i < 2; i++) {
        void *obj = me->pending[i];
        if (!obj)
            continue;
        /* Off the record first: a crash between leaks it, never frees it
         * twice. */
        me->pending[i] = NULL;
        ets_step();
        ets_obj_free(rt->h, rt->vm, obj);
    }
}

/* The end of an operation that failed: nothing made stays. */
static term fail(rt_t *rt, term r)
{
    drop_pending(rt);
    ets_end(rt);
    return r;
}

term bif_table_new(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    if (!is_atom(args[0]))
        return badarg(pcb);
    uint32_t kind = ETS_SET;
    if (argc > 1) {
        if (args[1] == mk_atom(A_ORDERED))
            kind = ETS_ORDERED;
        else if (args[1] != mk_atom(A_SET))
            return badarg(pcb);
    }
    bool full;
    for (int tries = 0; !ets_create(rt, args[0], kind, &full); tries++) {
        if (tries == NOMEM_TRIES)
            return system_limit(pcb);
        ets_reclaim_hard(rt);
    }
    return args[0];
}

static term put(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    ets_table_t *t = ets_begin(rt, args[0]);
    if (!t)
        return badarg(pcb);
    bool gone;
    if (t->kind == ETS_SET) {
        ets_entry_t *e = make_entry(rt, args[1], args[2], key_hash(rt, args[1]));
        if (!e)
            return fail(rt, NOMEM);
        bool replaced;
        hash_put(rt, t, e, &replaced, &gone);
    } else {
        ets_node_t *n = make_node(rt, args[1], args[2]);
        if (!n)
            return fail(rt, NOMEM);
        bool linked;
        skip_put(rt, t, n, &linked, &gone);
    }
    if (gone)
        return fail(rt, badarg(pcb));
    drop_pending(rt); /* a node whose key was there: its value moved, it did not */
    ets_end(rt);
    return mk_atom(A_TRUE);
}

term bif_table_put(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    return with_room(rt, pcb, args, argc, put);
}

static term insert_new(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    ets_table_t *t = ets_begin(rt, args[0]);
    if (!t)
        return badarg(pcb);
    bool gone, added;
    if (t->kind == ETS_SET) {
        ets_entry_t *e = make_entry(rt, args[1], args[2], key_hash(rt, args[1]));
        if (!e)
            return fail(rt, NOMEM);
        added = hash_insert_new(rt, t, e, &gone);
    } else {
        ets_node_t *n = make_node(rt, args[1], args[2]);
        if (!n)
            return fail(rt, NOMEM);
        added = skip_insert_new(rt, t, n, &gone);
    }
    if (gone)
        return fail(rt, badarg(pcb));
    drop_pending(rt);
    ets_end(rt);
    return mk_atom(added ? A_TRUE : A_FALSE);
}

term bif_table_insert_new(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    return with_room(rt, pcb, args, argc, insert_new);
}

/* The value word of key's entry, or NULL if the key is absent. */
static uint64_t *find_value(ets_table_t *t, term key, uint64_t hv)
{
    if (t->kind == ETS_SET) {
        ets_entry_t *e = hash_find(t, key, hv);
        return e ? &e->value : NULL;
    }
    ets_node_t *n = skip_find(t, key);
    return n ? &n->vword : NULL;
}

static term value_of(const ets_table_t *t, uint64_t *word)
{
    /* Relaxed: one load of a word that only CASes of integers change. */
    uint64_t w = ck_pr_load_64(word);
    return t->kind == ETS_SET ? (term)w : skip_value(w);
}

term bif_table_get(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    uint64_t hv = key_hash(rt, args[1]);
    for (;;) {
        ets_table_t *t = ets_begin(rt, args[0]);
        if (!t)
            return badarg(pcb);
        uint64_t *w = find_value(t, args[1], hv);
        if (!w) {
            ets_end(rt);
            return args[2];
        }
        term v = value_of(t, w);
        uint64_t need = term_size(v);
        if (need <= free_words(pcb)) {
            v = term_copy(v, &proc_of(pcb)->hp);
            ets_end(rt);
            return v;
        }
        /* Make room outside the operation (it may collect), then look
         * again: the entry may have changed meanwhile. */
        ets_end(rt);
        if (heap_make_room(rt, pcb, need) < 0)
            return T_NONE;
    }
}

/* Remove key's entry; with `copy`, return a copy of its value (making
 * room first), else 'true. */
static term remove_key(rt_t *rt, pcb_t *pcb, term *args, bool copy)
{
    uint64_t hv = key_hash(rt, args[1]);
    for (;;) {
        ets_table_t *t = ets_begin(rt, args[0]);
        if (!t)
            return badarg(pcb);
        uint64_t room = copy ? free_words(pcb) : UINT64_MAX, need;
        bool gone;
        uint64_t *w = NULL;
        if (t->kind == ETS_SET) {
            ets_entry_t *e = hash_remove(rt, t, args[1], hv, room, &need, &gone);
            w = e ? &e->value : NULL;
        } else {
            ets_node_t *n = skip_remove(rt, t, args[1], room, &need, &gone);
            w = n ? &n->vword : NULL;
        }
        if (gone)
            return fail(rt, badarg(pcb));
        if (need) {
            ets_end(rt);
            if (heap_make_room(rt, pcb, need) < 0)
                return T_NONE;
            continue;
        }
        term r = !copy ? mk_atom(A_TRUE) : !w ? args[2] : value_of(t, w);
        /* The entry is retired, not freed, until the operation ends. */
        if (copy && w)
            r = term_copy(r, &proc_of(pcb)->hp);
        ets_end(rt);
        return r;
    }
}

term bif_table_delete(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    return remove_key(rt, pcb, args, false);
}

term bif_table_take(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    return remove_key(rt, pcb, args, true);
}

term bif_table_size(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    ets_table_t *t = ets_begin(rt, args[0]);
    if (!t)
        return badarg(pcb);
    uint64_t n = t->kind == ETS_SET ? hash_count(t) : skip_count(t);
    ets_end(rt);
    return mk_fix((int64_t)n);
}

term bif_table_bytes(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    ets_table_t *t = ets_begin(rt, args[0]);
    if (!t)
        return badarg(pcb);
    int64_t n = (int64_t)(pool_run_pages(rt->h, t) * SHOAL_PAGE);
    n += t->kind == ETS_SET ? hash_bytes(t) : skip_bytes(t);
    ets_end(rt);
    return mk_fix(n);
}

/* Add incr to the integer at *word, with one CAS. */
static term add_to(proc_t *p, uint64_t *word, int64_t incr)
{
    for (;;) {
        /* Relaxed: the CAS below decides. */
        uint64_t v = ck_pr_load_64(word);
        if (!is_fix(v))
            return bif_error(p, A_BADARG);
        int64_t r;
        if (__builtin_add_overflow(fix_val(v), incr, &r) || !fix_fits(r))
            return bif_error(p, A_BADARITH);
        /* A full barrier: the increment is one atomic step of the value,
         * whichever VM did the last one. */
        if (ck_pr_cas_64(word, v, mk_fix(r)))
            return mk_fix(r);
    }
}

static term update_counter(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    proc_t *p = proc_of(pcb);
    if (!is_fix(args[2]))
        return badarg(pcb);
    uint64_t hv = key_hash(rt, args[1]);
    ets_table_t *t = ets_begin(rt, args[0]);
    if (!t)
        return badarg(pcb);
    uint64_t *w = find_value(t, args[1], hv);
    if (!w) {
        /* A new key counts from 0: link an entry holding incr, unless
         * another VM linked the key meanwhile. */
        bool linked, gone;
        if (t->kind == ETS_SET) {
            ets_entry_t *e = make_entry(rt, args[1], args[2], hv);
            if (!e)
                return fail(rt, NOMEM);
            ets_entry_t *x = hash_counter(rt, t, e, &linked, &gone);
            w = x ? &x->value : NULL;
        } else {
            ets_node_t *n = make_node(rt, args[1], args[2]);
            if (!n)
                return fail(rt, NOMEM);
            ets_node_t *x = skip_counter(rt, t, n, &linked, &gone);
            w = x ? &x->vword : NULL;
        }
        if (gone)
            return fail(rt, badarg(pcb));
        drop_pending(rt);
        if (linked) {
            ets_end(rt);
            return args[2];
        }
    }
    term r = add_to(p, w, fix_val(args[2]));
    ets_end(rt);
    return r;
}

term bif_table_update_counter(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    return with_room(rt, pcb, args, argc, update_counter);
}

term bif_table_drop(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    return ets_drop(rt, args[0]) ? mk_atom(A_TRUE) : badarg(pcb);
}

/* --- %table-chunk ----------------------------------------------------------- */

term bif_table_chunk(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc)
{
    (void)argc;
    void *out[CHUNK + ETS_CHUNK_SLACK];
    term keys[CHUNK + ETS_CHUNK_SLACK], vals[CHUNK + ETS_CHUNK_SLACK];
    for (;;) {
        ets_table_t *t = ets_begin(rt, args[0]);
        if (!t)
            return badarg(pcb);
        term cur = args[1];
        size_t n;
        bool more;
        uint64_t next = 0;
        if (t->kind == ETS_SET) {
            uint64_t x;
            if (cur == mk_atom(A_START))
                x = 0;
            else if (is_fix(cur) && fix_val(cur) >= 0)
                x = (uint64_t)fix_val(cur);
            else
                return fail(rt, badarg(pcb));
            n = hash_chunk(t, &x, (ets_entry_t **)out, CHUNK);
            more = x < (1ull << ETS_HASH_BITS);
            next = x;
            for (size_t i = 0; i < n; i++) {
                ets_entry_t *e = out[i];
                keys[i] = e->key;
                vals[i] = value_of(t, &e->value);
            }
        } else {
            bool from_start = cur == mk_atom(A_START);
            if (!from_start && !(is_tuple(cur) && tuple_size(cur) == 1))
                return fail(rt, badarg(pcb));
            n = skip_chunk(t, from_start, from_start ? T_NIL : tuple_elems(cur)[0],
                           (ets_node_t **)out, CHUNK);
            more = n == CHUNK;
            for (size_t i = 0; i < n; i++) {
                ets_node_t *x = out[i];
                keys[i] = x->key;
                vals[i] = value_of(t, &x->vword);
            }
        }
        /* #(cursor list): 3 words; per entry a cell (2) and #(k v) (3);
         * an ordered cursor #(k) (2), sharing the last key's copy. */
        uint64_t words = 3 + (t->kind == ETS_ORDERED && more ? 2 : 0);
        for (size_t i = 0; i < n; i++)
            words += 5 + term_size(keys[i]) + term_size(vals[i]);
        if (words > free_words(pcb)) {
            ets_end(rt);
            if (heap_make_room(rt, pcb, words) < 0)
                return T_NONE;
            continue;
        }
        proc_t *p = proc_of(pcb);
        term list = T_NIL, *link = &list, last_key = T_NIL;
        for (size_t i = 0; i < n; i++) {
            term *kv = heap_take(p, 3);
            kv[0] = mk_hdr(3, BT_TUPLE);
            kv[1] = last_key = term_copy(keys[i], &p->hp);
            kv[2] = term_copy(vals[i], &p->hp);
            term *cell = heap_take(p, 2);
            cell[0] = mk_box(kv);
            cell[1] = T_NIL;
            *link = mk_cons_ptr(cell);
            link = &cell[1];
        }
        term cursor = mk_atom(A_END);
        if (more && t->kind == ETS_SET) {
            cursor = mk_fix((int64_t)next);
        } else if (more) {
            term *c = heap_take(p, 2);
            c[0] = mk_hdr(2, BT_TUPLE);
            c[1] = last_key;
            cursor = mk_box(c);
        }
        term *r = heap_take(p, 3);
        r[0] = mk_hdr(3, BT_TUPLE);
        r[1] = cursor;
        r[2] = list;
        ets_end(rt);
        return mk_box(r);
    }
}
