/*
 * epoch.c: epoch-based reclamation across VMs (see epoch.h).
 *
 * Layout: the domain header (the global epoch on its own cache line),
 * then one record per participant: VMs 0 .. n_vms - 1, then the
 * supervisor. A record is the announce word on its own line, then (VMs
 * only) EPOCH_BAGS bags: one open bag that collects what the VM retires,
 * sealed ones waiting for their grace period, and empty ones.
 *
 * Why it is safe. A participant enters by storing (e << 1 | 1), where e
 * is the epoch it read, then a full fence; so any VM that later scans the
 * announce words sees it, or it sees any unlink made before the scan. The
 * epoch moves from e to e + 1 only if every announce word that is set
 * holds e. An object unlinked and then retired in epoch e can be reached
 * only by critical sections that began before the unlink, which announce
 * e or e - 1 (one that read e - 1 may have stored its announce after the
 * epoch became e); both block the move from e + 1 to e + 2. So when the
 * epoch reads e + 2 they have all ended, and the object can be freed.
 * Objects go into the open bag with no epoch, and the bag is sealed when
 * full: a full fence, then the epoch e is read and stored in the bag. All
 * its objects were unlinked before the fence, so e is an epoch they were
 * retired in, by the argument above, and the bag is freed once the epoch
 * reads e + 2. One fence per bag instead of one per object: a fence costs
 * about what a whole delete does otherwise.
 */
#include "shm/epoch.h"

#include "shm/beat.h"
#include "shm/pool.h"

#include <ck_pr.h>
#include <sched.h>
#include <string.h>

typedef struct epoch_bag {
    uint64_t epoch;   /* 0 while it collects (the open bag); else the epoch it was sealed in */
    uint32_t n;       /* items [0, n) are retired; one store publishes; 0: empty */
    uint32_t pad;
    void *items[EPOCH_BAG_CAP];
} epoch_bag_t;

typedef struct epoch_rec {
    uint64_t announce; /* the participant: e << 1 | 1 inside, 0 outside */
    char pad0[SHOAL_CACHE_LINE - 8];
    uint32_t open;     /* the VM: the bag it collects into */
    uint32_t pad1;
    uint64_t bytes;    /* the VM: bytes in the open bag */
    epoch_bag_t bags[EPOCH_BAGS];
    char pad2[SHOAL_CACHE_LINE - 16];
} epoch_rec_t;

struct epoch_dom {
    uint64_t epoch;    /* any participant, by CAS; starts at 1 */
    uint32_t n_vms;    /* written before the fork */
    uint32_t pad;
    char pad0[SHOAL_CACHE_LINE - 16];
    epoch_rec_t recs[]; /* n_vms + 1: the supervisor last */
};

/* A VM seals its open bag when it is full, or when it holds this many
 * bytes: large objects (a big value, an old bucket array) come back
 * sooner, so that a pool near its end gets them back. */
#define SEAL_BYTES (256u << 10)

size_t epoch_bytes(uint32_t n_vms)
{
    return sizeof(epoch_dom_t) + ((size_t)n_vms + 1) * sizeof(epoch_rec_t);
}

epoch_dom_t *epoch_init(void *mem, uint32_t n_vms)
{
    epoch_dom_t *d = mem;
    memset(d, 0, epoch_bytes(n_vms));
    d->epoch = 1;
    d->n_vms = n_vms;
    return d;
}

static epoch_rec_t *rec(const epoch_dom_t *d, uint32_t who)
{
    uint32_t i = who == POOL_SUPERVISOR ? d->n_vms : who;
    SHOAL_ASSERT(i <= d->n_vms, "epoch participant out of range");
    return (epoch_rec_t *)&d->recs[i];
}

uint64_t epoch_now(const epoch_dom_t *d)
{
    /* Relaxed: a snapshot. */
    return ck_pr_load_64((uint64_t *)&d->epoch);
}

void epoch_enter(epoch_dom_t *d, uint32_t who)
{
    epoch_rec_t *r = rec(d, who);
    SHOAL_ASSERT(!(r->announce & 1), "epoch_enter nested");
    uint64_t e = ck_pr_load_64(&d->epoch);
    /* Full barrier (a locked exchange): the announce is visible to any
     * scan before this VM reads any shared pointer (store-load order). */
    ck_pr_fas_64(&r->announce, e << 1 | 1);
}

void epoch_exit(epoch_dom_t *d, uint32_t who)
{
    /* Release: every read of the critical section is done before the
     * announce says it is over. */
    ck_pr_fence_release();
    ck_pr_store_64(&rec(d, who)->announce, 0);
}

bool epoch_inside(const epoch_dom_t *d, uint32_t who)
{
    /* Relaxed: the participant asks about itself, or a dead one. */
    return ck_pr_load_64(&rec(d, who)->announce) & 1;
}

/* Move the epoch from e to e + 1 if every participant inside a critical
 * section announces e. True if the epoch is now past e. */
static bool try_advance(epoch_dom_t *d, uint64_t e)
{
    for (uint32_t i = 0; i <= d->n_vms; i++) {
        /* Acquire (with the fence below): pairs with the announcer's full
         * barrier; what it read before it left is done. */
        uint64_t a = ck_pr_load_64(&d->recs[i].announce);
        if ((a & 1) && (a >> 1) != e)
            return ck_pr_load_64(&d->epoch) != e;
    }
    ck_pr_fence_acquire();
    /* The CAS is a full barrier: frees after it come after the scan. */
    ck_pr_cas_64(&d->epoch, e, e + 1);
    return true;
}

/* Free the items of bag b (the caller knows they are safe). Each leaves
 * the bag before it is freed: a crash in between leaks it, never frees it
 * twice. */
static void empty_bag(epoch_bag_t *b, uint32_t who, epoch_free_fn f, void *ctx)
{
    while (b->n > 0) {
        uint32_t n = b->n - 1;
        void *obj = b->items[n];
        ck_pr_store_32(&b->n, n);
        ck_pr_fence_store();
        f(ctx, who, obj);
    }
}

/* Free every sealed bag of r whose epoch is at least two behind now. */
static void free_safe(epoch_rec_t *r, uint64_t now, uint32_t who, epoch_free_fn f, void *ctx)
{
    for (int i = 0; i < EPOCH_BAGS; i++) {
        epoch_bag_t *b = &r->bags[i];
        if (b->n > 0 && b->epoch != 0 && b->epoch + 2 <= now)
            empty_bag(b, who, f, ctx);
    }
}

/* Seal the open bag of r, if it holds anything: every object in it was
 * unlinked before the fence, so the epoch read after it is one they can
 * be freed two epochs after. One store seals. */
static void seal(epoch_dom_t *d, epoch_rec_t *r)
{
    epoch_bag_t *b = &r->bags[r->open];
    if (b->n == 0 || b->epoch != 0)
        return;
    /* Full barrier (store-load): the stores that unlinked the objects are
     * visible to every VM before we read the epoch. */
    ck_pr_fence_memory();
    ck_pr_store_64(&b->epoch, ck_pr_load_64(&d->epoch));
    r->bytes = 0;
}

/* Make an empty bag r's open bag, if there is one. Its epoch is cleared
 * before it becomes the open one: a bag that collects is never mistaken
 * for a sealed one, whatever a crash leaves. */
static bool open_empty(epoch_rec_t *r)
{
    for (int i = 0; i < EPOCH_BAGS; i++) {
        epoch_bag_t *b = &r->bags[i];
        if (b->n == 0) {
            ck_pr_store_64(&b->epoch, 0);
            ck_pr_fence_store();
            ck_pr_store_32(&r->open, (uint32_t)i);
            return true;
        }
    }
    return false;
}

/* The open bag of r, ready for one more item: seal a full one, free what
 * is safe, move the epoch, and wait (VMs only) until a bag is empty. */
static epoch_bag_t *open_bag(epoch_dom_t *d, epoch_rec_t *r, uint32_t who, epoch_free_fn f,
                             void *ctx, bool may_wait)
{
    epoch_bag_t *b = &r->bags[r->open];
    if (b->epoch == 0 && b->n < EPOCH_BAG_CAP && r->bytes < SEAL_BYTES)
        return b;
    seal(d, r);
    unsigned spins = 0;
    for (;;) {
        uint64_t e = ck_pr_load_64(&d->epoch);
        try_advance(d, e);
        free_safe(r, ck_pr_load_64(&d->epoch), who, f, ctx);
        if (open_empty(r))
            return &r->bags[r->open];
        if (!may_wait)
            return NULL;
        /* Every bag is sealed and not yet safe: some VM is inside a
         * critical section that began an epoch ago; it will leave soon
         * (or die and be recovered). */
        if (++spins < 64) {
            ck_pr_stall();
        } else {
            sched_yield();
            vm_beat(); /* a wait, not a stall: the one inside is stuck, if any */
        }
    }
}

static void push(epoch_bag_t *b, void *obj)
{
    b->items[b->n] = obj;
    /* Store-store: the item is in place before the count says so (for
     * the supervisor reading the bags of a dead VM). */
    ck_pr_fence_store();
    ck_pr_store_32(&b->n, b->n + 1);
}

void epoch_retire(epoch_dom_t *d, uint32_t vm, void *obj, size_t bytes, epoch_free_fn f,
                  void *ctx)
{
    epoch_rec_t *r = rec(d, vm);
    SHOAL_ASSERT(!(r->announce & 1), "epoch_retire inside a critical section");
    /* The bag is made ready (sealed, freed, waited for) before obj goes
     * in, never after: so nothing frees obj before this returns, and the
     * caller's record of obj (cleared after this returns) never names an
     * object already freed, whatever instant the VM dies at. */
    epoch_bag_t *b = open_bag(d, r, vm, f, ctx, true);
    push(b, obj);
    r->bytes += bytes;
}

size_t epoch_reclaim(epoch_dom_t *d, uint32_t vm, epoch_free_fn f, void *ctx)
{
    epoch_rec_t *r = rec(d, vm);
    SHOAL_ASSERT(!(r->announce & 1), "epoch_reclaim inside a critical section");
    seal(d, r);
    try_advance(d, ck_pr_load_64(&d->epoch));
    free_safe(r, ck_pr_load_64(&d->epoch), vm, f, ctx);
    if (r->bags[r->open].epoch != 0)
        open_empty(r);
    size_t left = 0;
    for (int i = 0; i < EPOCH_BAGS; i++)
        left += r->bags[i].n;
    return left;
}

size_t epoch_pending(const epoch_dom_t *d, uint32_t vm)
{
    const epoch_rec_t *r = rec(d, vm);
    size_t n = 0;
    for (int i = 0; i < EPOCH_BAGS; i++)
        /* Relaxed: the VM asks about its own bags. */
        n += ck_pr_load_32((uint32_t *)&r->bags[i].n);
    return n;
}

bool epoch_retire_for(epoch_dom_t *d, uint32_t vm, uint32_t who, void *obj, epoch_free_fn f,
                      void *ctx)
{
    epoch_rec_t *r = rec(d, vm);
    epoch_bag_t *b = open_bag(d, r, who, f, ctx, false);
    if (!b)
        return false;
    push(b, obj);
    return true;
}

bool epoch_retired(const epoch_dom_t *d, uint32_t vm, const void *obj)
{
    const epoch_rec_t *r = rec(d, vm);
    for (int i = 0; i < EPOCH_BAGS; i++)
        for (uint32_t k = 0; k < r->bags[i].n; k++)
            if (r->bags[i].items[k] == obj)
                return true;
    return false;
}

void epoch_recover_vm(epoch_dom_t *d, uint32_t vm)
{
    /* What it retired and had not sealed: sealed now (its unlinks are
     * all visible: it is dead), for the next VM with its id to free. */
    seal(d, rec(d, vm));
    /* Release: the supervisor's repairs, made while the dead VM's announce
     * still held the epoch, come before the epoch may move past it. */
    ck_pr_fence_release();
    ck_pr_store_64(&rec(d, vm)->announce, 0);
}
