/*
 * ets.c: shared tables: the directory of tables, the memory of tables,
 * operations' critical sections, dropping, and recovery (see ets.h, and
 * ets_impl.h for the design). The tables themselves are ets_hash.c (set)
 * and ets_skip.c (ordered); the builtins are bif_table.c.
 *
 * NOTES
 *   Directory: slots are found by open addressing on the name's atom
 *   index, lock-free: a slot's table pointer is stored before its name
 *   (release), so a reader that sees the name sees the table; a dropped
 *   table is marked `dropped` before its name becomes ETS_TOMB. Creating
 *   and dropping take the directory's lock and journal (J_NEW, J_DROP).
 *   A dropped table is retired as a whole (tagged pointer); once its grace
 *   period is over, the VM that retired it frees its entries a bit at
 *   every later operation (its zombie list), so a drop never pauses a VM
 *   for a time proportional to the table.
 */
#include "vmproc/ets_impl.h"

#include "shm/beat.h"
#include "shm/vmtab.h"
#include "vmproc/code.h"
#include "vmproc/termio.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

int ets_crash_step;

/* Retired pointers to whole tables carry this tag (blocks are page
 * aligned; slots and runs are 16-byte aligned, so the bit is free). */
#define TAG_TABLE 1u

/* Entries freed from a dropped table at each operation of the VM that
 * frees it: ~10 us, so a drop of a million entries is spread over a few
 * thousand operations. */
#define ZOMBIE_BUDGET 256

ets_dir_t *ets_dir(const shm_header_t *h)
{
    return (ets_dir_t *)code_table(h)->tables;
}

static size_t dir_bytes(uint32_t n_vms)
{
    return SHOAL_ALIGN_UP(sizeof(ets_dir_t), SHOAL_CACHE_LINE) +
           SHOAL_ALIGN_UP(epoch_bytes(n_vms), SHOAL_CACHE_LINE) +
           SHOAL_ALIGN_UP(slab_bytes(n_vms), SHOAL_CACHE_LINE) + (size_t)n_vms * sizeof(ets_vm_t);
}

int ets_init(shm_header_t *h)
{
    uint32_t n = h->cfg.n_vms;
    size_t bytes = dir_bytes(n);
    size_t pages = (bytes + SHOAL_PAGE - 1) / SHOAL_PAGE;
    char *m = pool_alloc(h, POOL_SUPERVISOR, 0, pages, ETS_OWNER_RUNS);
    if (!m)
        return -1;
    memset(m, 0, bytes);
    ets_dir_t *d = (ets_dir_t *)m;
    m += SHOAL_ALIGN_UP(sizeof(ets_dir_t), SHOAL_CACHE_LINE);
    d->n_vms = n;
    d->epoch = epoch_init(m, n);
    m += SHOAL_ALIGN_UP(epoch_bytes(n), SHOAL_CACHE_LINE);
    d->slabs = slab_init(m, n, ETS_OWNER_SLABS);
    m += SHOAL_ALIGN_UP(slab_bytes(n), SHOAL_CACHE_LINE);
    d->vms = (ets_vm_t *)m;
    for (uint32_t i = 0; i < n; i++)
        d->vms[i].rng = 0x9E3779B97F4A7C15ull * (i + 1);
    /* Any value will do; per run, so that nobody can aim keys at one
     * bucket from outside it. */
    d->seed = (uint64_t)(uintptr_t)d ^ ((uint64_t)h->supervisor_pid << 32) ^ 0x5bd1e995u;
    code_table(h)->tables = d;
    return 0;
}

/* --- locks and journals ------------------------------------------------ */

void ets_lock(const shm_header_t *h, ets_lock_t *l, uint32_t vm)
{
    (void)h;
    unsigned spins = 1;
    while (!ck_pr_cas_32(&l->word, 0, vm + 1)) {
        while (ck_pr_load_32(&l->word) != 0) {
            if (spins < 1024) {
                for (unsigned i = 0; i < spins; i++)
                    ck_pr_stall();
                spins <<= 1;
            } else {
                /* The holder may be descheduled, or dead until the
                 * supervisor notices: stop burning its CPU. We beat
                 * while we wait: the one that does not is the holder,
                 * if it is stuck, and the supervisor kills and
                 * restarts it, whose next incarnation frees the lock. */
                sched_yield();
                vm_beat();
            }
        }
    }
    /* Acquire: the last holder's writes, made before its release, are
     * visible from here on. */
    ck_pr_fence_lock();
}

bool ets_trylock(ets_lock_t *l, uint32_t vm)
{
    if (ck_pr_load_32(&l->word) != 0 || !ck_pr_cas_32(&l->word, 0, vm + 1))
        return false;
    ck_pr_fence_lock();
    return true;
}

void ets_unlock(ets_lock_t *l)
{
    /* Release: every write made under the lock is visible before the lock
     * reads free. */
    ck_pr_fence_unlock();
    ck_pr_store_32(&l->word, 0);
}

void ets_journal(ets_lock_t *l, uint32_t op, void *a, void *b, void *c)
{
    l->a = a;
    l->b = b;
    l->c = c;
    l->before = l->count;
    /* Store-store: the operands are in place before op says they are
     * valid, and op before the first change it covers. */
    ets_step();
    ck_pr_store_32(&l->op, op);
    ets_step();
    ets_crash_point(ETS_CRASH_JOURNALED);
}

void ets_journal_end(ets_lock_t *l)
{
    ets_crash_point(ETS_CRASH_COUNTED);
    /* Store-store: every change of the step precedes the clear. */
    ets_step();
    ck_pr_store_32(&l->op, J_NONE);
    ets_step();
}

/* --- memory -------------------------------------------------------------- */

static size_t run_pages(size_t bytes)
{
    return (bytes + SHOAL_PAGE - 1) / SHOAL_PAGE;
}

void *ets_obj_alloc(rt_t *rt, size_t bytes, size_t *size)
{
    ets_dir_t *d = ets_dir(rt->h);
    if (bytes <= SLAB_MAX) {
        *size = slab_size_for(bytes);
        return slab_alloc(rt->h, d->slabs, rt->vm, rt->node, bytes);
    }
    size_t pages = run_pages(bytes);
    if (pages > rt->h->layout.pages_per_node || bytes > (size_t)UINT32_MAX * SHOAL_PAGE) {
        errno = ENOMEM;
        return NULL;
    }
    *size = pages * SHOAL_PAGE;
    return pool_alloc(rt->h, rt->vm, rt->node, pages, POOL_OWNER_VM(rt->vm));
}

void ets_obj_publish(const shm_header_t *h, void *obj)
{
    uint32_t owner;
    void *run = pool_run_of(h, obj, &owner);
    if (owner != ETS_OWNER_SLABS && owner != ETS_OWNER_RUNS && run == obj)
        pool_set_owner((shm_header_t *)h, obj, ETS_OWNER_RUNS);
}

void ets_obj_free(shm_header_t *h, uint32_t who, void *obj)
{
    uint32_t owner;
    void *run = pool_run_of(h, obj, &owner);
    if (owner == ETS_OWNER_SLABS)
        slab_free(h, ets_dir(h)->slabs, who, obj);
    else if (run == obj && owner != POOL_OWNER_FREE)
        pool_free(h, who, obj);
}

void ets_retiring(ets_vm_t *me, void *obj, size_t bytes)
{
    for (int i = 0; i < ETS_RETIRING; i++)
        if (!me->retiring[i]) {
            me->retiring_bytes[i] = bytes > UINT32_MAX ? UINT32_MAX : (uint32_t)bytes;
            /* One store: recovery retires what a dead VM names here. */
            ck_pr_store_ptr(&me->retiring[i], obj);
            return;
        }
    SHOAL_ASSERT(false, "more objects retiring than slots");
}

uint32_t ets_random_levels(ets_vm_t *me)
{
    uint64_t x = me->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    me->rng = x;
    x *= 0x2545F4914F6CDD1Dull;
    /* Two bits per level: 1 in 4 nodes climbs each one. */
    uint32_t lv = 1;
    while (lv < ETS_SKIP_LEVELS && (x & 3) == 0) {
        lv++;
        x >>= 2;
    }
    return lv;
}

/* The context of the epoch's free function: whose zombie list a table
 * that has finished its grace period joins. */
typedef struct reclaim_ctx {
    shm_header_t *h;
    uint32_t vm;
} reclaim_ctx_t;

static void reclaim_obj(void *ctx, uint32_t who, void *obj)
{
    reclaim_ctx_t *rc = ctx;
    if ((uintptr_t)obj & TAG_TABLE) {
        ets_table_t *t = (ets_table_t *)((uintptr_t)obj & ~(uintptr_t)TAG_TABLE);
        ets_vm_t *z = &ets_dir(rc->h)->vms[rc->vm];
        t->zpos = 0;
        t->znext = z->zombies;
        ets_step();
        /* One store: the table joins the list whole. */
        ck_pr_store_ptr(&z->zombies, t);
        return;
    }
    ets_obj_free(rc->h, who, obj);
}

static void zombie_step(rt_t *rt, ets_vm_t *me)
{
    ets_table_t *t = me->zombies;
    if (!t)
        return;
    if (t->kind == ETS_SET ? hash_free_some(rt->h, rt->vm, t, ZOMBIE_BUDGET)
                           : skip_free_some(rt->h, rt->vm, t, ZOMBIE_BUDGET)) {
        /* Off the list, then freed: a crash between leaks the block. */
        ck_pr_store_ptr(&me->zombies, t->znext);
        ets_step();
        pool_free(rt->h, rt->vm, t);
    }
}

/* --- operations ----------------------------------------------------------- */

static uint32_t slot_hash(uint32_t name)
{
    return (uint32_t)(((uint64_t)name * 0x9E3779B97F4A7C15ull) >> 52) & (ETS_MAX_TABLES - 1);
}

/* Inside a critical section: the live table named by atom index + 1. */
static ets_table_t *dir_find(ets_dir_t *d, uint32_t want)
{
    uint32_t i = slot_hash(want);
    for (uint32_t probe = 0; probe < ETS_MAX_TABLES; probe++, i = (i + 1) & (ETS_MAX_TABLES - 1)) {
        /* Acquire: the table pointer is stored before the name. */
        uint32_t n = ck_pr_load_32(&d->slots[i].name);
        if (n == 0)
            return NULL;
        if (n != want)
            continue;
        ck_pr_fence_load();
        ets_table_t *t = ck_pr_load_ptr(&d->slots[i].table);
        if (!t || ck_pr_load_32(&t->dropped))
            return NULL;
        return t;
    }
    return NULL;
}

ets_table_t *ets_begin(rt_t *rt, term name)
{
    if (!is_atom(name))
        return NULL;
    ets_dir_t *d = ets_dir(rt->h);
    ets_vm_t *me = &d->vms[rt->vm];
    if (me->zombies)
        zombie_step(rt, me);
    epoch_enter(d->epoch, rt->vm);
    ets_table_t *t = dir_find(d, atom_index(name) + 1);
    if (!t) {
        epoch_exit(d->epoch, rt->vm);
        return NULL;
    }
    /* Plain store: read by recovery only after this VM is dead. */
    me->table = t;
    return t;
}

void ets_end(rt_t *rt)
{
    ets_dir_t *d = ets_dir(rt->h);
    ets_vm_t *me = &d->vms[rt->vm];
    SHOAL_ASSERT(!me->pending[0] && !me->pending[1], "an operation ends with an object pending");
    ck_pr_store_ptr(&me->table, NULL);
    epoch_exit(d->epoch, rt->vm);
    reclaim_ctx_t rc = {rt->h, rt->vm};
    for (int i = 0; i < ETS_RETIRING; i++) {
        void *obj = me->retiring[i];
        if (!obj)
            continue;
        epoch_retire(d->epoch, rt->vm, obj, me->retiring_bytes[i], reclaim_obj, &rc);
        ets_crash_point(ETS_CRASH_RETIRED);
        /* After the retire: recovery finds it in the bags and skips it. */
        ck_pr_store_ptr(&me->retiring[i], NULL);
    }
}

void ets_reclaim(rt_t *rt)
{
    ets_dir_t *d = ets_dir(rt->h);
    if (!d)
        return;
    reclaim_ctx_t rc = {rt->h, rt->vm};
    epoch_reclaim(d->epoch, rt->vm, reclaim_obj, &rc);
    zombie_step(rt, &d->vms[rt->vm]);
}

bool ets_idle(rt_t *rt)
{
    ets_dir_t *d = ets_dir(rt->h);
    if (!d || rt->vm >= d->n_vms)
        return false;
    bool zombies = d->vms[rt->vm].zombies != NULL;
    size_t before = epoch_pending(d->epoch, rt->vm);
    if (!zombies && before == 0)
        return false;
    ets_reclaim(rt);
    return zombies || epoch_pending(d->epoch, rt->vm) < before;
}

void ets_reclaim_hard(rt_t *rt)
{
    ets_dir_t *d = ets_dir(rt->h);
    reclaim_ctx_t rc = {rt->h, rt->vm};
    epoch_reclaim(d->epoch, rt->vm, reclaim_obj, &rc);
    while (d->vms[rt->vm].zombies)
        zombie_step(rt, &d->vms[rt->vm]);
}

/* --- creating and dropping ------------------------------------------------ */

static size_t table_block_bytes(void)
{
    return SHOAL_ALIGN_UP(sizeof(ets_table_t), SHOAL_CACHE_LINE) +
           hash_arr_bytes(ETS_STRIPE_BITS);
}

ets_table_t *ets_create(rt_t *rt, term name, uint32_t kind, bool *full)
{
    *full = false;
    ets_dir_t *d = ets_dir(rt->h);
    ets_vm_t *me = &d->vms[rt->vm];
    uint32_t want = atom_index(name) + 1;
    epoch_enter(d->epoch, rt->vm);
    ets_table_t *t = dir_find(d, want);
    epoch_exit(d->epoch, rt->vm);
    if (t)
        return t;
    size_t pages = run_pages(table_block_bytes());
    t = pool_alloc(rt->h, rt->vm, rt->node, pages, POOL_OWNER_VM(rt->vm));
    if (!t) {
        *full = true;
        return NULL;
    }
    memset(t, 0, table_block_bytes());
    t->name = want;
    t->kind = kind;
    if (kind == ETS_SET)
        hash_init_table(t, (ets_arr_t *)((char *)t +
                                         SHOAL_ALIGN_UP(sizeof(ets_table_t), SHOAL_CACHE_LINE)));
    else
        skip_init_table(t);
    epoch_enter(d->epoch, rt->vm);
    me->pending[0] = t;
    ets_lock(rt->h, &d->lock, rt->vm);
    ets_crash_point(ETS_CRASH_DIR_LOCKED);
    ets_table_t *had = dir_find(d, want);
    uint32_t free_slot = UINT32_MAX, i = slot_hash(want);
    for (uint32_t probe = 0; !had && probe < ETS_MAX_TABLES;
         probe++, i = (i + 1) & (ETS_MAX_TABLES - 1)) {
        uint32_t n = d->slots[i].name;
        if (n == 0 || n == ETS_TOMB || (n == want && (!d->slots[i].table ||
                                                       d->slots[i].table->dropped))) {
            free_slot = i;
            break;
        }
    }
    if (had || free_slot == UINT32_MAX) {
        ets_unlock(&d->lock);
        me->pending[0] = NULL;
        epoch_exit(d->epoch, rt->vm);
        pool_free(rt->h, rt->vm, t);
        *full = !had;
        return had;
    }
    ets_slot_t *s = &d->slots[free_slot];
    ets_journal(&d->lock, J_NEW, t, NULL, s);
    ck_pr_store_ptr(&s->table, t);
    /* Release (ets_step): the table and the pointer before the name. */
    ets_step();
    ck_pr_store_32(&s->name, want);
    ets_crash_point(ETS_CRASH_DIR_DONE);
    pool_set_owner(rt->h, t, ETS_OWNER_RUNS);
    me->pending[0] = NULL;
    ets_journal_end(&d->lock);
    ets_unlock(&d->lock);
    epoch_exit(d->epoch, rt->vm);
    return t;
}

/* Drop the table `name`: false if there is none. */
bool ets_drop(rt_t *rt, term name)
{
    if (!is_atom(name))
        return false;
    ets_dir_t *d = ets_dir(rt->h);
    ets_vm_t *me = &d->vms[rt->vm];
    uint32_t want = atom_index(name) + 1;
    epoch_enter(d->epoch, rt->vm);
    ets_lock(rt->h, &d->lock, rt->vm);
    ets_crash_point(ETS_CRASH_DIR_LOCKED);
    ets_table_t *t = NULL;
    ets_slot_t *s = NULL;
    uint32_t i = slot_hash(want);
    for (uint32_t probe = 0; probe < ETS_MAX_TABLES; probe++, i = (i + 1) & (ETS_MAX_TABLES - 1)) {
        uint32_t n = d->slots[i].name;
        if (n == 0)
            break;
        if (n == want && d->slots[i].table && !d->slots[i].table->dropped) {
            s = &d->slots[i];
            t = s->table;
            break;
        }
    }
    if (t) {
        ets_journal(&d->lock, J_DROP, t, NULL, s);
        ck_pr_store_32(&t->dropped, 1);
        ets_step();
        ck_pr_store_32(&s->name, ETS_TOMB);
        ets_crash_point(ETS_CRASH_DIR_DONE);
        ets_retiring(me, (void *)((uintptr_t)t | TAG_TABLE), SHOAL_PAGE);
        ets_journal_end(&d->lock);
    }
    ets_unlock(&d->lock);
    ets_crash_point(ETS_CRASH_UNLOCKED);
    ets_end(rt);
    return t != NULL;
}

/* --- recovery -------------------------------------------------------------- */

/* Who recovery frees, scans and retires as, for the length of
 * ets_recover_vm: the dead VM's next incarnation (its id), or the
 * supervisor in tests. Each VM is an OS process of its own, so this is
 * that VM's alone. */
static uint32_t recovering_as = POOL_SUPERVISOR;

void ets_retire_for(shm_header_t *h, uint32_t vm, void *obj)
{
    ets_dir_t *d = ets_dir(h);
    if (!obj || epoch_retired(d->epoch, vm, obj))
        return;
    reclaim_ctx_t rc = {h, vm};
    epoch_retire_for(d->epoch, vm, recovering_as, obj, reclaim_obj, &rc);
}

void ets_free_unpublished(shm_header_t *h, void *obj)
{
    uint32_t owner;
    void *run = pool_run_of(h, obj, &owner);
    if (owner == ETS_OWNER_SLABS)
        slab_free(h, ets_dir(h)->slabs, recovering_as, obj);
    else if (owner == ETS_OWNER_RUNS && run == obj)
        pool_free(h, recovering_as, obj);
}

/* The directory's journal, with its lock taken over. True if it named
 * `pending`. */
static bool recover_dir(shm_header_t *h, ets_dir_t *d, uint32_t vm, void *pending)
{
    ets_lock_t *l = &d->lock;
    void *a = l->a;
    ets_slot_t *s = l->c;
    bool named = false;
    switch (ck_pr_load_32(&l->op)) {
    case J_NEW: {
        ets_table_t *t = a;
        named = a == pending;
        if (s->table == t && s->name == t->name)
            pool_set_owner(h, t, ETS_OWNER_RUNS); /* published: the tables' */
        /* else still the dead VM's: the pool's recovery frees it */
        break;
    }
    case J_DROP: {
        ets_table_t *t = a;
        ck_pr_store_32(&t->dropped, 1);
        ets_step();
        ck_pr_store_32(&s->name, ETS_TOMB);
        ets_retire_for(h, vm, (void *)((uintptr_t)t | TAG_TABLE));
        break;
    }
    default:
        break;
    }
    ets_journal_end(l);
    return named;
}

void ets_recover_vm(shm_header_t *h, uint32_t vm, uint32_t who)
{
    ets_dir_t *d = ets_dir(h);
    if (!d || vm >= d->n_vms)
        return;
    ets_vm_t *me = &d->vms[vm];
    recovering_as = who;
    /* Our own critical section keeps what we read from being freed by
     * the live VMs; the dead VM's (if it died inside one) keeps its
     * table and objects alive until we are done. The dead VM's next
     * incarnation has its record: if it died inside, its announce holds
     * the epoch for us already. */
    bool inside = epoch_inside(d->epoch, vm);
    if (who != vm || !inside)
        epoch_enter(d->epoch, who);
    void *pending[2] = {inside ? me->pending[0] : NULL, inside ? me->pending[1] : NULL};
    bool named[2] = {false, false};
    if (ck_pr_cas_32(&d->lock.word, vm + 1, ETS_RECOVERY + 1)) {
        ck_pr_fence_lock();
        named[0] |= recover_dir(h, d, vm, pending[0]);
        ets_unlock(&d->lock);
    }
    ets_table_t *t = inside ? me->table : NULL;
    if (t && t->kind == ETS_SET)
        hash_recover(h, t, vm, pending, named);
    else if (t)
        skip_recover(h, t, vm, pending, named);
    for (int i = 0; i < 2; i++)
        if (pending[i] && !named[i])
            ets_free_unpublished(h, pending[i]);
    for (int i = 0; i < ETS_RETIRING; i++) {
        ets_retire_for(h, vm, me->retiring[i]);
        me->retiring[i] = NULL;
    }
    me->pending[0] = me->pending[1] = NULL;
    me->table = NULL;
    slab_recover_vm(h, d->slabs, vm, who);
    /* (for the next incarnation, this ends our critical section too) */
    epoch_recover_vm(d->epoch, vm);
    if (who != vm)
        epoch_exit(d->epoch, who);
    recovering_as = POOL_SUPERVISOR;
}

/* --- checks ----------------------------------------------------------------- */

static size_t held(uint32_t word, uint32_t vm)
{
    return vm == ETS_ANY_VM ? word != 0 : word == vm + 1;
}

size_t ets_locks_held(const shm_header_t *h, uint32_t vm)
{
    const ets_dir_t *d = ets_dir(h);
    if (!d)
        return 0;
    /* Relaxed: a snapshot; the caller knows whether anybody still runs. */
    size_t n = held(ck_pr_load_32((uint32_t *)&d->lock.word), vm);
    for (uint32_t i = 0; i < ETS_MAX_TABLES; i++) {
        uint32_t name = ck_pr_load_32((uint32_t *)&d->slots[i].name);
        ets_table_t *t = d->slots[i].table;
        if (name == 0 || name == ETS_TOMB || !t)
            continue;
        n += held(ck_pr_load_32(&t->resize.word), vm);
        for (uint32_t k = 0; k < (t->kind == ETS_SET ? ETS_STRIPES : 1); k++)
            n += held(ck_pr_load_32(&t->locks[k].word), vm);
    }
    return n;
}

int ets_check(shm_header_t *h, char *why, size_t why_len)
{
    ets_dir_t *d = ets_dir(h);
    if (!d)
        return 0;
    if (d->lock.word || d->lock.op) {
        shoal_errf(why, why_len, "the directory's lock or journal is held");
        errno = EUCLEAN;
        return -1;
    }
    for (uint32_t i = 0; i < ETS_MAX_TABLES; i++) {
        uint32_t name = d->slots[i].name;
        ets_table_t *t = d->slots[i].table;
        if (name == 0 || name == ETS_TOMB)
            continue;
        if (!t || t->name != name || t->dropped) {
            shoal_errf(why, why_len, "directory slot %u: table does not match", i);
            errno = EUCLEAN;
            return -1;
        }
        int rc = t->kind == ETS_SET ? hash_check(h, t, why, why_len)
                                    : skip_check(h, t, why, why_len);
        if (rc < 0)
            return rc;
    }
    return slab_check(h, d->slabs, why, why_len, NULL, NULL);
}
