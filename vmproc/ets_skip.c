/*
 * ets_skip.c: ordered tables, a skip list in term order (termio.h's
 * term_compare) shared by every VM (the design is in ets_impl.h).
 *
 * Readers walk it without a lock, from the top level down. Writers hold
 * the table's one lock (locks[0]). A node is linked at level 0 first (that
 * store puts it in the table), then at the levels above; it is unlinked
 * from the top down, level 0 last (that store takes it out). So at any
 * instant, whatever a crash left, the list is a valid skip list: a node
 * linked at fewer levels than it has is only a slower path, and a later
 * delete unlinks it wherever it is. Each upper level is a shortcut readers
 * may take or not.
 *
 * A node's value is its value word: an immediate term (integer, atom,
 * pid, ref, '()) held in place, or a pointer to a value box holding a copy
 * of the value. So table-put of a present key changes one word (a new box
 * in, the old one retired), and update-counter CASes an integer in place,
 * as for set tables.
 */
#include "vmproc/ets_impl.h"

#include "vmproc/heap.h"
#include "vmproc/termio.h"

#include <string.h>

static inline int cmp(term a, term b)
{
    /* Two integers compare as their tagged words do. */
    if (is_fix(a) && is_fix(b))
        return ((int64_t)a > (int64_t)b) - ((int64_t)a < (int64_t)b);
    /* Atoms compare by name: the atom table of this process's segment
     * (every VM and the supervisor map it at the same address). */
    return term_compare(shm_seg, a, b);
}

static ets_vm_t *vm_rec(rt_t *rt)
{
    return &ets_dir(rt->h)->vms[rt->vm];
}

static size_t size_for(size_t bytes)
{
    size_t slot = slab_size_for(bytes);
    return slot ? slot : (bytes + SHOAL_PAGE - 1) / SHOAL_PAGE * SHOAL_PAGE;
}

size_t skip_node_bytes(uint32_t levels, uint64_t key_words)
{
    return sizeof(ets_node_t) + levels * sizeof(ets_node_t *) + key_words * sizeof(term);
}

size_t skip_box_bytes(uint64_t value_words)
{
    return sizeof(term) + value_words * sizeof(term);
}

static bool is_box(uint64_t vword)
{
    return (vword & TAG_MASK) == TAG_BOXED && vword != 0;
}

term skip_value(uint64_t vword)
{
    return is_box(vword) ? *(term *)(uintptr_t)vword : (term)vword;
}

/* Bytes a node and its box take (as their allocations counted them). */
static size_t node_bytes(const ets_node_t *n)
{
    size_t b = size_for(skip_node_bytes(n->levels, term_size(n->key)));
    uint64_t w = n->vword;
    if (is_box(w))
        b += size_for(skip_box_bytes(term_size(*(term *)(uintptr_t)w)));
    return b;
}

void skip_init_table(ets_table_t *t)
{
    memset(t->head, 0, sizeof t->head);
    t->levels = 1;
}

static inline ets_node_t **link_of(ets_table_t *t, ets_node_t *pred, uint32_t lv)
{
    return pred ? &pred->next[lv] : &t->head[lv];
}

static inline ets_node_t *load_link(ets_node_t **link)
{
    /* Address dependency: a node's contents were stored before the link
     * to it (release), and are read through it. */
    return ck_pr_load_ptr(link);
}

/* The first node whose key is >= key (> key if strict), or NULL; preds
 * (if not NULL) gets, at each level, the last node before it (NULL: the
 * head). Readers, inside a critical section, or the lock holder. */
static ets_node_t *search(ets_table_t *t, term key, bool strict, ets_node_t **preds)
{
    ets_node_t *p = NULL, *n = NULL;
    uint32_t top = preds ? ETS_SKIP_LEVELS : ck_pr_load_32(&t->levels);
    for (uint32_t lv = top; lv-- > 0;) {
        for (;;) {
            n = load_link(link_of(t, p, lv));
            if (!n)
                break;
            int c = cmp(n->key, key);
            if (c < 0 || (strict && c == 0))
                p = n;
            else
                break;
        }
        if (preds)
            preds[lv] = p;
    }
    /* The node the last step read, not p's link read again: a writer may
     * have linked a smaller key after p since (a reader would then see
     * keys go backwards). */
    return n;
}

ets_node_t *skip_find(ets_table_t *t, term key)
{
    ets_node_t *n = search(t, key, false, NULL);
    return n && cmp(n->key, key) == 0 ? n : NULL;
}

size_t skip_chunk(ets_table_t *t, bool from_start, term after, ets_node_t **out, size_t max)
{
    ets_node_t *n = from_start ? load_link(&t->head[0]) : search(t, after, true, NULL);
    size_t k = 0;
    for (; n && k < max; n = load_link(&n->next[0]))
        out[k++] = n;
    return k;
}

uint64_t skip_count(const ets_table_t *t)
{
    /* Relaxed: a snapshot, as table-size promises. */
    return ck_pr_load_64((uint64_t *)&t->locks[0].count);
}

int64_t skip_bytes(const ets_table_t *t)
{
    return (int64_t)ck_pr_load_64((uint64_t *)&t->locks[0].bytes);
}

/* --- writers (holding locks[0]) ------------------------------------------ */

static bool write_lock(rt_t *rt, ets_table_t *t)
{
    ets_lock(rt->h, &t->locks[0], rt->vm);
    ets_crash_point(ETS_CRASH_LOCKED);
    if (ck_pr_load_32(&t->dropped)) {
        ets_unlock(&t->locks[0]);
        return false;
    }
    return true;
}

static void write_unlock(ets_table_t *t)
{
    ets_unlock(&t->locks[0]);
    ets_crash_point(ETS_CRASH_UNLOCKED);
}

/* Link new node n after preds. */
static void link_new(rt_t *rt, ets_table_t *t, ets_node_t *n, ets_node_t **preds)
{
    ets_lock_t *l = &t->locks[0];
    ets_vm_t *me = vm_rec(rt);
    ets_journal(l, J_INS, n, NULL, NULL);
    for (uint32_t lv = 0; lv < n->levels; lv++)
        n->next[lv] = *link_of(t, preds[lv], lv);
    ets_obj_publish(rt->h, n);
    if (me->pending[1])
        ets_obj_publish(rt->h, me->pending[1]);
    /* Release (ets_step): the node and its box before the link. */
    ets_step();
    ck_pr_store_ptr(link_of(t, preds[0], 0), n);
    ets_crash_point(ETS_CRASH_LINKED);
    me->pending[0] = me->pending[1] = NULL;
    for (uint32_t lv = 1; lv < n->levels; lv++) {
        ck_pr_store_ptr(link_of(t, preds[lv], lv), n);
        ets_crash_point(ETS_CRASH_PARTIAL);
    }
    if (n->levels > t->levels)
        ck_pr_store_32(&t->levels, n->levels);
    l->count = l->before + 1;
    l->bytes += (int64_t)node_bytes(n);
    ets_journal_end(l);
}

/* Give node x the value word of n (whose box is pending[1]). */
static void set_value(rt_t *rt, ets_table_t *t, ets_node_t *x, ets_node_t *n)
{
    ets_lock_t *l = &t->locks[0];
    ets_vm_t *me = vm_rec(rt);
    uint64_t old = x->vword;
    void *oldbox = is_box(old) ? (void *)(uintptr_t)old : NULL;
    void *newbox = me->pending[1];
    int64_t before = (int64_t)node_bytes(x);
    ets_journal(l, J_VAL, x, oldbox, newbox);
    if (newbox)
        ets_obj_publish(rt->h, newbox);
    ets_step();
    /* A plain store: a concurrent update-counter's CAS from the old
     * integer then fails and reads this value. */
    ck_pr_store_64(&x->vword, n->vword);
    ets_crash_point(ETS_CRASH_LINKED);
    me->pending[1] = NULL;
    if (oldbox)
        ets_retiring(me, oldbox, size_for(skip_box_bytes(term_size(*(term *)oldbox))));
    l->bytes += (int64_t)node_bytes(x) - before;
    ets_journal_end(l);
}

void skip_put(rt_t *rt, ets_table_t *t, ets_node_t *n, bool *linked, bool *gone)
{
    ets_node_t *preds[ETS_SKIP_LEVELS];
    *linked = false;
    *gone = !write_lock(rt, t);
    if (*gone)
        return;
    ets_node_t *x = search(t, n->key, false, preds);
    if (x && cmp(x->key, n->key) == 0) {
        set_value(rt, t, x, n);
    } else {
        link_new(rt, t, n, preds);
        *linked = true;
    }
    write_unlock(t);
}

bool skip_insert_new(rt_t *rt, ets_table_t *t, ets_node_t *n, bool *gone)
{
    ets_node_t *preds[ETS_SKIP_LEVELS];
    *gone = !write_lock(rt, t);
    if (*gone)
        return false;
    ets_node_t *x = search(t, n->key, false, preds);
    bool absent = !x || cmp(x->key, n->key) != 0;
    if (absent)
        link_new(rt, t, n, preds);
    write_unlock(t);
    return absent;
}

ets_node_t *skip_counter(rt_t *rt, ets_table_t *t, ets_node_t *n, bool *linked, bool *gone)
{
    ets_node_t *preds[ETS_SKIP_LEVELS];
    *linked = false;
    *gone = !write_lock(rt, t);
    if (*gone)
        return NULL;
    ets_node_t *x = search(t, n->key, false, preds);
    if (!x || cmp(x->key, n->key) != 0) {
        link_new(rt, t, n, preds);
        *linked = true;
        x = n;
    }
    write_unlock(t);
    return x;
}

/* Unlink x (present; preds from a search for its key): the top levels
 * first, level 0 last. Wherever a level does not lead to x (a crash left
 * it unlinked there), there is nothing to do. */
static void unlink_node(ets_table_t *t, ets_node_t *x, ets_node_t **preds)
{
    for (uint32_t lv = x->levels; lv-- > 1;) {
        ets_node_t **link = link_of(t, preds[lv], lv);
        if (*link == x) {
            ck_pr_store_ptr(link, x->next[lv]);
            ets_crash_point(ETS_CRASH_PARTIAL);
        }
    }
    ck_pr_store_ptr(link_of(t, preds[0], 0), x->next[0]);
}

ets_node_t *skip_remove(rt_t *rt, ets_table_t *t, term key, uint64_t room, uint64_t *need,
                        bool *gone)
{
    ets_node_t *preds[ETS_SKIP_LEVELS];
    *need = 0;
    *gone = !write_lock(rt, t);
    if (*gone)
        return NULL;
    ets_node_t *x = search(t, key, false, preds);
    if (x && cmp(x->key, key) != 0)
        x = NULL;
    uint64_t size = x && room != UINT64_MAX ? term_size(skip_value(x->vword)) : 0;
    if (x && size > room) {
        *need = size;
        x = NULL;
    } else if (x) {
        ets_lock_t *l = &t->locks[0];
        ets_vm_t *me = vm_rec(rt);
        ets_journal(l, J_DEL, x, NULL, NULL);
        unlink_node(t, x, preds);
        ets_crash_point(ETS_CRASH_LINKED);
        size_t bytes = node_bytes(x);
        ets_retiring(me, x, bytes);
        /* Relaxed: the value word is fixed now but for counters' CASes,
         * which never make it a box. */
        uint64_t w = ck_pr_load_64(&x->vword);
        if (is_box(w))
            ets_retiring(me, (void *)(uintptr_t)w, 0);
        l->count = l->before - 1;
        l->bytes -= (int64_t)bytes;
        ets_journal_end(l);
    }
    write_unlock(t);
    return x;
}

/* --- recovery, dropping, checks ------------------------------------------- */

static bool linked0(ets_table_t *t, ets_node_t *x)
{
    ets_node_t *n = search(t, x->key, false, NULL);
    for (; n && cmp(n->key, x->key) == 0; n = n->next[0])
        if (n == x)
            return true;
    return false;
}

static void note(void *const pending[2], bool named[2], const void *obj)
{
    for (int i = 0; i < 2; i++)
        if (obj && pending[i] == obj)
            named[i] = true;
}

static void recount(ets_table_t *t)
{
    uint64_t n = 0;
    int64_t bytes = 0;
    for (ets_node_t *x = t->head[0]; x; x = x->next[0]) {
        n++;
        bytes += (int64_t)node_bytes(x);
    }
    t->locks[0].count = n;
    t->locks[0].bytes = bytes;
}

void skip_recover(shm_header_t *h, ets_table_t *t, uint32_t vm, void *const pending[2],
                  bool named[2])
{
    ets_lock_t *l = &t->locks[0];
    if (!ck_pr_cas_32(&l->word, vm + 1, ETS_RECOVERY + 1))
        return;
    ck_pr_fence_lock();
    ets_node_t *x = l->a;
    switch (l->op) {
    case J_INS: {
        void *box = is_box(x->vword) ? (void *)(uintptr_t)x->vword : NULL;
        note(pending, named, x);
        note(pending, named, box);
        if (!linked0(t, x)) {
            ets_free_unpublished(h, x);
            if (box)
                ets_free_unpublished(h, box);
        }
        break;
    }
    case J_VAL: {
        void *oldbox = l->b, *newbox = l->c;
        note(pending, named, newbox);
        bool happened = newbox ? x->vword == (uint64_t)(uintptr_t)newbox
                               : oldbox && x->vword != (uint64_t)(uintptr_t)oldbox;
        if (happened && oldbox)
            ets_retire_for(h, vm, oldbox);
        else if (!happened && newbox)
            ets_free_unpublished(h, newbox);
        break;
    }
    case J_DEL:
        if (!linked0(t, x)) {
            ets_retire_for(h, vm, x);
            if (is_box(x->vword))
                ets_retire_for(h, vm, (void *)(uintptr_t)x->vword);
        }
        break;
    default:
        break;
    }
    l->op = J_NONE;
    recount(t);
    ets_unlock(l);
}

bool skip_free_some(shm_header_t *h, uint32_t who, ets_table_t *t, size_t budget)
{
    /* Nobody else reaches t: level 0 alone, each node off it before it is
     * freed. */
    ets_node_t *x;
    while ((x = t->head[0])) {
        if (budget-- == 0)
            return false;
        t->head[0] = x->next[0];
        if (is_box(x->vword))
            ets_obj_free(h, who, (void *)(uintptr_t)x->vword);
        ets_obj_free(h, who, x);
    }
    return true;
}

int skip_check(const shm_header_t *h, ets_table_t *t, char *why, size_t n)
{
    (void)h;
    const ets_lock_t *l = &t->locks[0];
    if (l->word || l->op) {
        shoal_errf(why, n, "ordered table %u: lock or journal held", t->name);
        return -1;
    }
    uint64_t cnt = 0;
    int64_t bytes = 0;
    for (ets_node_t *x = t->head[0]; x; x = x->next[0]) {
        if (x->levels == 0 || x->levels > ETS_SKIP_LEVELS ||
            (x->next[0] && cmp(x->key, x->next[0]->key) >= 0)) {
            shoal_errf(why, n, "ordered table %u: node %p out of order", t->name, (void *)x);
            return -1;
        }
        cnt++;
        bytes += (int64_t)node_bytes(x);
    }
    for (uint32_t lv = 1; lv < ETS_SKIP_LEVELS; lv++)
        for (ets_node_t *x = t->head[lv]; x; x = x->next[lv])
            if (x->levels <= lv || (x->next[lv] && cmp(x->key, x->next[lv]->key) >= 0) ||
                !linked0(t, x)) {
                shoal_errf(why, n, "ordered table %u: level %u: node %p misplaced", t->name, lv,
                           (void *)x);
                return -1;
            }
    if (cnt != l->count || bytes != l->bytes) {
        shoal_errf(why, n, "ordered table %u: %llu nodes (%lld bytes), counts %llu (%lld)",
                   t->name, (unsigned long long)cnt, (long long)bytes,
                   (unsigned long long)l->count, (long long)l->bytes);
        return -1;
    }
    return 0;
}
