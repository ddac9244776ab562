/*
 * slab.c: size-classed slabs from the pool (see slab.h for who writes
 * what and the crash rules).
 *
 * Per VM and class: `cur`, the slab allocations come from; `partial`, a
 * doubly linked list of other slabs with free slots (the owner puts a slab
 * there when it frees into it); `all`, every slab of the VM and class.
 * Frees by other VMs are not seen by the owner's lists: they count in the
 * VM's remote counter, and once that passes the number of the VM's slabs
 * of the class, the owner sweeps `all` for slabs with free slots (and
 * gives empty ones back), so a sweep costs O(1) per remote free.
 */
#include "shm/slab.h"

#include "shm/pool.h"

#include <ck_pr.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLAB_MAGIC 0x42414c53u /* "SLAB" */

/* Slot sizes: steps of 16 up to 128, then about a quarter apart, so a
 * slot wastes at most ~20% of itself. */
static const uint16_t class_size[] = {32,  48,  64,  80,  96,  112, 128,  160,  192,  224, 256,
                                      320, 384, 448, 512, 640, 768, 1024, 1280, 1536, 2048};
#define SLAB_CLASSES (sizeof class_size / sizeof class_size[0])
_Static_assert(SLAB_MAX == 2048 && SLAB_MAX % 16 == 0, "the last class is SLAB_MAX, a multiple of 16");

/* Pages of a slab of class c: at least ~15 slots for the larger ones. */
static uint16_t class_pages(unsigned c)
{
    unsigned sz = class_size[c];
    return sz <= 256 ? 1 : sz <= 512 ? 2 : sz <= 1024 ? 4 : 8;
}

#define F_PARTIAL 1u /* on its owner's partial list */

typedef struct slab {
    uint32_t magic;
    uint8_t cls;
    uint8_t flags;          /* owner: F_PARTIAL */
    uint16_t pages;
    uint32_t vm;            /* the owner VM */
    uint32_t nslots;
    uint32_t bump;          /* owner: slots [bump, nslots) were never used */
    uint32_t used;          /* anyone, FAA: allocated and not given back */
    uint64_t free;          /* anyone pushes (CAS), the owner pops: freed slots */
    struct slab *next, *prev;         /* owner: partial list */
    struct slab *all_next, *all_prev; /* owner: every slab of the VM and class */
} slab_t;

_Static_assert(sizeof(slab_t) == 64, "a slab header is 64 bytes");

typedef struct slab_cls {
    slab_t *cur;
    slab_t *partial;
    slab_t *all;
    uint32_t nslabs;
    uint32_t pad;
} slab_cls_t;

typedef struct slab_vm {
    /* other VMs, FAA: slots they freed into this VM's slabs since its
     * last sweep of the class */
    uint32_t remote[SLAB_CLASSES];
    char pad0[2 * SHOAL_CACHE_LINE - 4 * SLAB_CLASSES];
    /* owner VM */
    slab_cls_t cls[SLAB_CLASSES];
    uint64_t pages;         /* pool pages in its slabs */
    char pad1[SHOAL_CACHE_LINE - 8];
} slab_vm_t;

_Static_assert(4 * SLAB_CLASSES <= 2 * SHOAL_CACHE_LINE, "remote counters fit two lines");

struct slab_dom {
    uint32_t n_vms;
    uint32_t owner;         /* pool owner of slab runs */
    char pad[SHOAL_CACHE_LINE - 8];
    slab_vm_t vms[];
};

size_t slab_bytes(uint32_t n_vms)
{
    return sizeof(slab_dom_t) + (size_t)n_vms * sizeof(slab_vm_t);
}

slab_dom_t *slab_init(void *mem, uint32_t n_vms, uint32_t owner)
{
    slab_dom_t *d = mem;
    memset(d, 0, slab_bytes(n_vms));
    d->n_vms = n_vms;
    d->owner = owner;
    return d;
}

/* The class of each size in steps of 16 (every class is a multiple of
 * 16), filled once when the program starts: an allocation looks its
 * class up rather than searching class_size. */
static uint8_t class_by16[SLAB_MAX / 16 + 1];

__attribute__((constructor)) static void class_table_init(void)
{
    unsigned c = 0;
    for (unsigned i = 0; i <= SLAB_MAX / 16; i++) {
        while (class_size[c] < i * 16)
            c++;
        class_by16[i] = (uint8_t)c;
    }
}

/* The class of an object of `bytes`, or -1. */
static int class_of(size_t bytes)
{
    if (bytes > SLAB_MAX)
        return -1;
    return class_by16[(bytes + 15) / 16];
}

size_t slab_size_for(size_t bytes)
{
    int c = class_of(bytes);
    return c < 0 ? 0 : class_size[c];
}

static char *slot_at(slab_t *s, uint32_t i)
{
    return (char *)s + sizeof(slab_t) + (size_t)i * class_size[s->cls];
}

static slab_t *slab_of(const shm_header_t *h, const void *p, uint32_t *owner)
{
    return pool_run_of(h, p, owner);
}

bool slab_holds(const shm_header_t *h, const slab_dom_t *d, const void *p)
{
    uint32_t owner;
    pool_run_of(h, p, &owner);
    return owner == d->owner;
}

size_t slab_slot_size(const shm_header_t *h, const void *slot)
{
    uint32_t owner;
    return class_size[slab_of(h, slot, &owner)->cls];
}

size_t slab_pages_of(const slab_dom_t *d, uint32_t vm)
{
    return (size_t)d->vms[vm].pages;
}

/* --- the owner's lists ------------------------------------------------- */

static void partial_push(slab_cls_t *st, slab_t *s)
{
    s->prev = NULL;
    s->next = st->partial;
    if (st->partial)
        st->partial->prev = s;
    st->partial = s;
    s->flags |= F_PARTIAL;
}

static void partial_remove(slab_cls_t *st, slab_t *s)
{
    if (!(s->flags & F_PARTIAL))
        return;
    if (s->prev)
        s->prev->next = s->next;
    else
        st->partial = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->flags &= (uint8_t)~F_PARTIAL;
}

static void all_push(slab_cls_t *st, slab_t *s)
{
    s->all_prev = NULL;
    s->all_next = st->all;
    if (st->all)
        st->all->all_prev = s;
    st->all = s;
    st->nslabs++;
}

static void all_remove(slab_cls_t *st, slab_t *s)
{
    if (s->all_prev)
        s->all_prev->all_next = s->all_next;
    else
        st->all = s->all_next;
    if (s->all_next)
        s->all_next->all_prev = s->all_prev;
    st->nslabs--;
}

static bool has_free(slab_t *s)
{
    /* Relaxed: a hint; the pop decides. */
    return s->bump < s->nslots || ck_pr_load_64(&s->free) != 0;
}

/* Owner: give an empty slab back to the pool. Out of the lists first: a
 * crash after that leaves a slab the pool scan of recovery finds again. */
static void release(shm_header_t *h, slab_dom_t *d, slab_cls_t *st, slab_t *s)
{
    uint32_t vm = s->vm;
    partial_remove(st, s);
    all_remove(st, s);
    d->vms[vm].pages -= s->pages;
    pool_free(h, vm, s);
}

/* --- allocation --------------------------------------------------------- */

/* Owner: a slot of s, or NULL if it has none. */
/* Debug builds: the second word of a slot about to be handed out is
 * cleared while the slot is still the slab's (before the bump or the pop
 * that takes it), so that slab_free's check for a slot freed twice (the
 * second word still the fill) cannot fire on a slot taken and never
 * written: one a dead VM had pending, which recovery frees. Only the
 * owner takes, and no one else reads a free slot's second word. */
static inline void debug_clear(void *slot)
{
#ifdef SHOAL_DEBUG
    ((uint64_t *)slot)[1] = 0;
#else
    (void)slot;
#endif
}

static void *take(slab_t *s)
{
    /* `used` first: never below the slots in use, even if we die here. */
    ck_pr_faa_32(&s->used, 1);
    if (s->bump < s->nslots) {
        void *p = slot_at(s, s->bump);
        debug_clear(p);
        /* One store: a crash before it takes nothing, after it leaks p. */
        ck_pr_store_32(&s->bump, s->bump + 1);
        return p;
    }
    for (;;) {
        /* Acquire: the slot's link word, written before the push, is
         * visible once we see the slot at the top. */
        uint64_t top = ck_pr_load_64(&s->free);
        ck_pr_fence_acquire();
        if (top == 0) {
            ck_pr_faa_32(&s->used, (uint32_t)-1);
            return NULL;
        }
        /* Only the owner pops, so `top` stays on the stack, and its link
         * word unchanged, until this CAS: no ABA. */
        uint64_t next = ck_pr_load_64((uint64_t *)(uintptr_t)top);
        debug_clear((void *)(uintptr_t)top);
        if (ck_pr_cas_64(&s->free, top, next))
            return (void *)(uintptr_t)top;
    }
}

static slab_t *new_slab(shm_header_t *h, slab_dom_t *d, uint32_t vm, uint32_t node, unsigned c)
{
    uint16_t pages = class_pages(c);
    slab_t *s = pool_alloc(h, vm, node, pages, POOL_OWNER_VM(vm));
    if (!s)
        return NULL;
    memset(s, 0, sizeof *s);
    s->magic = SLAB_MAGIC;
    s->cls = (uint8_t)c;
    s->pages = pages;
    s->vm = vm;
    s->nslots = (uint32_t)((pages * (size_t)SHOAL_PAGE - sizeof(slab_t)) / class_size[c]);
    /* Store-store: a whole header before the run is the slab owner's, so
     * recovery's pool scan never sees a half-made slab. */
    ck_pr_fence_store();
    pool_set_owner(h, s, d->owner);
    all_push(&d->vms[vm].cls[c], s);
    d->vms[vm].pages += pages;
    return s;
}

/* Owner: look at every slab of class c for free slots (after enough
 * remote frees), and give the empty ones back. */
static void sweep(shm_header_t *h, slab_dom_t *d, uint32_t vm, unsigned c)
{
    slab_cls_t *st = &d->vms[vm].cls[c];
    slab_t *next;
    for (slab_t *s = st->all; s; s = next) {
        next = s->all_next;
        if (s == st->cur || (s->flags & F_PARTIAL))
            continue;
        /* Relaxed: used == 0 means no slot is allocated, so nobody else
         * touches s any more (a freer's FAA is its last touch). */
        if (ck_pr_load_32(&s->used) == 0 && st->partial)
            release(h, d, st, s);
        else if (has_free(s))
            partial_push(st, s);
    }
}

static slab_t *refill(shm_header_t *h, slab_dom_t *d, uint32_t vm, uint32_t node, unsigned c)
{
    slab_vm_t *v = &d->vms[vm];
    slab_cls_t *st = &v->cls[c];
    /* Relaxed: a count; the sweep reads each slab itself. */
    uint32_t remote = ck_pr_load_32(&v->remote[c]);
    if (!st->partial && remote >= 64 && remote >= st->nslabs) {
        ck_pr_sub_32(&v->remote[c], remote);
        sweep(h, d, vm, c);
    }
    while (st->partial) {
        slab_t *s = st->partial;
        partial_remove(st, s);
        if (has_free(s))
            return s;
    }
    return new_slab(h, d, vm, node, c);
}

void *slab_alloc(shm_header_t *h, slab_dom_t *d, uint32_t vm, uint32_t node, size_t bytes)
{
    int c = class_of(bytes);
    SHOAL_ASSERT(c >= 0 && vm < d->n_vms, "slab_alloc of a large object or by a non-VM");
    if (c < 0 || vm >= d->n_vms) {
        errno = EINVAL;
        return NULL;
    }
    slab_cls_t *st = &d->vms[vm].cls[c];
    for (;;) {
        slab_t *s = st->cur;
        if (s) {
            void *p = take(s);
            if (p)
                return p;
        }
        s = refill(h, d, vm, node, (unsigned)c);
        if (!s) {
            errno = ENOMEM;
            return NULL;
        }
        st->cur = s;
    }
}

void slab_free(shm_header_t *h, slab_dom_t *d, uint32_t who, void *slot)
{
    uint32_t owner;
    slab_t *s = slab_of(h, slot, &owner);
    SHOAL_ASSERT(owner == d->owner && s->magic == SLAB_MAGIC, "slab_free of a non-slot");
    if (owner != d->owner || s->magic != SLAB_MAGIC)
        return;
#ifdef SHOAL_DEBUG
    /* Debug builds: a reader that looks at a freed slot (a reclamation
     * bug) sees garbage at once, not the old contents; a slot freed twice
     * (its second word still the fill) is caught here. */
    SHOAL_ASSERT(((uint64_t *)slot)[1] != 0xa5a5a5a5a5a5a5a5ull, "slab_free of a free slot");
    memset((char *)slot + 8, 0xa5, class_size[s->cls] - 8);
#endif
    uint64_t top;
    do {
        top = ck_pr_load_64(&s->free);
        ck_pr_store_64((uint64_t *)slot, top);
        /* The CAS is a full barrier: the link word is written before the
         * slot is on the stack. */
    } while (!ck_pr_cas_64(&s->free, top, (uint64_t)(uintptr_t)slot));
    uint32_t vm = s->vm;
    unsigned c = s->cls;
    /* After the push: `used` never counts fewer slots than are in use. */
    uint32_t was = ck_pr_faa_32(&s->used, (uint32_t)-1);
    if (who != vm) {
        if (vm < d->n_vms)
            ck_pr_inc_32(&d->vms[vm].remote[c]);
        return;
    }
    slab_cls_t *st = &d->vms[vm].cls[c];
    if (s == st->cur)
        return;
    if (was == 1 && st->partial && st->partial != s)
        release(h, d, st, s);
    else if (!(s->flags & F_PARTIAL))
        partial_push(st, s);
}

/* --- recovery and checks ------------------------------------------------ */

typedef struct rebuild {
    slab_dom_t *d;
    uint32_t vm;
} rebuild_t;

static void rebuild_one(void *ctx, void *run, size_t pages)
{
    rebuild_t *rb = ctx;
    slab_t *s = run;
    if (s->magic != SLAB_MAGIC || s->vm != rb->vm || s->cls >= SLAB_CLASSES ||
        s->pages != pages)
        return;
    slab_vm_t *v = &rb->d->vms[rb->vm];
    slab_cls_t *st = &v->cls[s->cls];
    s->flags = 0;
    all_push(st, s);
    v->pages += pages;
    if (has_free(s))
        partial_push(st, s);
}

void slab_recover_vm(shm_header_t *h, slab_dom_t *d, uint32_t vm, uint32_t who)
{
    if (vm >= d->n_vms)
        return;
    slab_vm_t *v = &d->vms[vm];
    memset(v->cls, 0, sizeof v->cls);
    v->pages = 0;
    for (unsigned c = 0; c < SLAB_CLASSES; c++)
        ck_pr_store_32(&v->remote[c], 0);
    rebuild_t rb = {d, vm};
    pool_scan(h, who, d->owner, rebuild_one, &rb);
}

typedef struct check {
    const slab_dom_t *d;
    char *why;
    size_t why_len;
    int rc;
    size_t slabs, used;
} check_t;

static void check_one(void *ctx, void *run, size_t pages)
{
    check_t *ck = ctx;
    slab_t *s = run;
    if (ck->rc < 0)
        return;
    ck->slabs++;
    if (s->magic != SLAB_MAGIC || s->cls >= SLAB_CLASSES || s->pages != pages ||
        s->vm >= ck->d->n_vms || s->bump > s->nslots) {
        shoal_errf(ck->why, ck->why_len, "slab %p: bad header", run);
        ck->rc = -1;
        return;
    }
    size_t nfree = 0, size = class_size[s->cls];
    char *lo = slot_at(s, 0), *hi = slot_at(s, s->bump);
    for (uint64_t p = s->free; p; p = *(uint64_t *)(uintptr_t)p) {
        char *q = (char *)(uintptr_t)p;
        if (q < lo || q >= hi || (size_t)(q - lo) % size != 0 || ++nfree > s->nslots) {
            shoal_errf(ck->why, ck->why_len, "slab %p: free stack strays or loops", run);
            ck->rc = -1;
            return;
        }
    }
    /* A VM that died between a push and its count leaves `used` high. */
    if (nfree + (s->nslots - s->bump) + s->used < s->nslots) {
        shoal_errf(ck->why, ck->why_len, "slab %p: %zu free + %u fresh + %u used < %u slots",
                   run, nfree, s->nslots - s->bump, s->used, s->nslots);
        ck->rc = -1;
        return;
    }
    ck->used += s->bump - nfree;
}

int slab_check(shm_header_t *h, const slab_dom_t *d, char *why, size_t why_len, size_t *slabs,
               size_t *slots_used)
{
    check_t ck = {d, why, why_len, 0, 0, 0};
    pool_scan(h, POOL_SUPERVISOR, d->owner, check_one, &ck);
    if (ck.rc == 0) {
        size_t listed = 0;
        for (uint32_t vm = 0; vm < d->n_vms; vm++)
            for (unsigned c = 0; c < SLAB_CLASSES; c++) {
                const slab_cls_t *st = &d->vms[vm].cls[c];
                uint32_t n = 0;
                for (const slab_t *s = st->all; s && n <= st->nslabs; s = s->all_next, n++)
                    if (s->vm != vm || s->cls != c) {
                        shoal_errf(why, why_len, "vm %u class %u: a stranger in its list", vm,
                                   c);
                        errno = EUCLEAN;
                        return -1;
                    }
                if (n != st->nslabs) {
                    shoal_errf(why, why_len, "vm %u class %u: %u slabs listed, count %u", vm, c,
                               n, st->nslabs);
                    errno = EUCLEAN;
                    return -1;
                }
                listed += n;
            }
        if (listed != ck.slabs) {
            shoal_errf(why, why_len, "%zu slabs in the pool, %zu in the VMs' lists", ck.slabs,
                       listed);
            errno = EUCLEAN;
            return -1;
        }
    }
    if (slabs)
        *slabs = ck.slabs;
    if (slots_used)
        *slots_used = ck.used;
    if (ck.rc < 0)
        errno = EUCLEAN;
    return ck.rc;
}
