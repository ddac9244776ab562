/*
 * arena.c: per-VM arenas of small message slots (see arena.h for who
 * writes what and the crash rules).
 */
#include "shm/arena.h"

#include "shm/vmtab.h"

#include <ck_pr.h>
#include <errno.h>
#include <stdlib.h>

_Static_assert(ARENA_CLASSES == sizeof(((shm_vm_t *)0)->arena_free) / sizeof(uint64_t),
               "one free list per class");

static const uint32_t slot_words[ARENA_CLASSES] = {ARENA_SMALL_WORDS, ARENA_LARGE_WORDS};

/* One batch: slots linked through word 1, newest first. */
typedef struct batch {
    uint64_t head, tail; /* offsets from the segment base; 0: empty */
    uint32_t n;
} batch_t;

struct arena_local {
    uint32_t n_vms;
    batch_t b[]; /* [vm * ARENA_CLASSES + cls] */
};

static uint64_t *slot_at(const shm_header_t *h, uint64_t off)
{
    return (uint64_t *)((char *)h + off);
}

static uint64_t off_of(const shm_header_t *h, const uint64_t *slot)
{
    return (uint64_t)((const char *)slot - (const char *)h);
}

/* Take the list other VMs gave back, naming it as ours before the CAS
 * that empties it (arena.h, CRASH SAFETY). False if it is empty. */
static bool take_returned(shm_vm_t *v, int cls)
{
    uint64_t r = ck_pr_load_64(&v->arena_returned[cls]);
    while (r) {
        ck_pr_store_64(&v->arena_free[cls], r);
        /* Store-store (a compiler barrier on TSO): the name is in place
         * before the list leaves arena_returned; the CAS orders the rest
         * and, acquire, makes the givers' links visible. */
        ck_pr_fence_store();
        if (ck_pr_cas_64(&v->arena_returned[cls], r, 0)) {
            ck_pr_fence_acquire();
            return true;
        }
        r = ck_pr_load_64(&v->arena_returned[cls]);
    }
    ck_pr_store_64(&v->arena_free[cls], 0);
    return false;
}

/* A new page of slots: linked while the page is still the VM's (the
 * pool's recovery frees it if we die here), then given to ARENA_OWNER,
 * then named as the free list. */
static bool grow(shm_header_t *h, uint32_t vm, uint32_t node, shm_vm_t *v, int cls)
{
    uint64_t *page = pool_alloc(h, vm, node, 1, POOL_OWNER_VM(vm));
    if (!page)
        return false;
    uint32_t w = slot_words[cls], n = SHOAL_PAGE / sizeof(uint64_t) / w;
    for (uint32_t i = 0; i < n; i++)
        page[i * w + 1] = i + 1 < n ? off_of(h, page + (i + 1) * w) : 0;
    pool_set_owner(h, page, ARENA_OWNER);
    /* Store-store: the page is the arena's before the list names it. */
    ck_pr_fence_store();
    ck_pr_store_64(&v->arena_free[cls], off_of(h, page));
    /* Single writer (this VM): a statistic. */
    ck_pr_store_64(&v->arena_pages, v->arena_pages + 1);
    return true;
}

uint64_t *arena_alloc(shm_header_t *h, uint32_t vm, uint32_t node, int cls)
{
    shm_vm_t *v = shm_vm(h, vm);
    /* Owner only: plain loads of our own list. */
    uint64_t f = v->arena_free[cls];
    if (!f) {
        if (!take_returned(v, cls) && !grow(h, vm, node, v, cls)) {
            errno = ENOMEM;
            return NULL;
        }
        f = v->arena_free[cls];
    }
    uint64_t *slot = slot_at(h, f);
    /* Off the list first: a death after this leaks the slot, never hands
     * it out twice. */
    ck_pr_store_64(&v->arena_free[cls], slot[1]);
    slot[0] = ARENA_META(vm, cls);
    return slot;
}

arena_local_t *arena_local_new(uint32_t n_vms)
{
    arena_local_t *l = calloc(1, sizeof(arena_local_t) + (size_t)n_vms * ARENA_CLASSES * sizeof(batch_t));
    if (l)
        l->n_vms = n_vms;
    return l;
}

void arena_local_free(arena_local_t *l)
{
    free(l);
}

static void push_batch(shm_header_t *h, uint32_t vm, int cls, uint64_t head, uint64_t *tail)
{
    shm_vm_t *v = shm_vm(h, vm);
    uint64_t old;
    do {
        old = ck_pr_load_64(&v->arena_returned[cls]);
        tail[1] = old;
        /* Release (the CAS on TSO): the links are visible with the push. */
        ck_pr_fence_store();
    } while (!ck_pr_cas_64(&v->arena_returned[cls], old, head));
}

void arena_give_back(shm_header_t *h, arena_local_t *l, uint32_t me, uint64_t *slot)
{
    uint64_t meta = slot[0];
    uint32_t vm = (uint32_t)(meta >> 16) & 0xffffu;
    int cls = (int)((meta >> 8) & 0xffu);
    if (vm == me) {
        /* our own arena: onto the free list (owner only) */
        shm_vm_t *v = shm_vm(h, me);
        slot[1] = v->arena_free[cls];
        ck_pr_store_64(&v->arena_free[cls], off_of(h, slot));
        return;
    }
    if (!l || vm >= l->n_vms) {
        push_batch(h, vm, cls, off_of(h, slot), slot);
        return;
    }
    batch_t *b = &l->b[vm * ARENA_CLASSES + (uint32_t)cls];
    slot[1] = b->head;
    b->head = off_of(h, slot);
    if (!b->tail)
        b->tail = b->head;
    if (++b->n >= ARENA_BATCH) {
        push_batch(h, vm, cls, b->head, slot_at(h, b->tail));
        b->head = b->tail = 0;
        b->n = 0;
    }
}

void arena_flush(shm_header_t *h, arena_local_t *l)
{
    if (!l)
        return;
    for (uint32_t vm = 0; vm < l->n_vms; vm++)
        for (int cls = 0; cls < ARENA_CLASSES; cls++) {
            batch_t *b = &l->b[vm * ARENA_CLASSES + (uint32_t)cls];
            if (!b->n)
                continue;
            push_batch(h, vm, cls, b->head, slot_at(h, b->tail));
            b->head = b->tail = 0;
            b->n = 0;
        }
}

void arena_adopt(shm_header_t *h, uint32_t vm)
{
    shm_vm_t *v = shm_vm(h, vm);
    for (int cls = 0; cls < ARENA_CLASSES; cls++) {
        uint64_t f = ck_pr_load_64(&v->arena_free[cls]);
        if (!f)
            continue;
        /* Our free list is never on the returned list, except when our
         * predecessor died taking it (take_returned): then the returned
         * list holds all of it. */
        for (uint64_t r = ck_pr_load_64(&v->arena_returned[cls]); r; r = slot_at(h, r)[1])
            if (r == f) {
                ck_pr_store_64(&v->arena_free[cls], 0);
                break;
            }
    }
}
