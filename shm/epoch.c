/*
 * epoch.c: epoch-based reclamation across VMs (see epoch.h).
 *
 * Layout: the domain header (the global epoch on its own cache line),
 * then one record per participant: VMs 0 .. n_vms - 1, then the
 * supervisor. A record is the announce word on its own line, then (VMs
 * only) the three bags.
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
 * A bag holds the objects of one epoch; bag e % 3 is reused for epoch e
 * + 3 only after its objects (of epoch e, and e + 3 >= e + 2) are freed.
 */
#include "shm/epoch.h"

#include "shm/pool.h"

#include <ck_pr.h>
#include <sched.h>
#include <string.h>

typedef struct epoch_bag {
    uint64_t epoch;   /* the epoch its items were retired in */
    uint32_t n;       /* items [0, n) are retired; one store publishes */
    uint32_t pad;
    void *items[EPOCH_BAG_CAP];
} epoch_bag_t;

typedef struct epoch_rec {
    uint64_t announce; /* the participant: e << 1 | 1 inside, 0 outside */
    char pad0[SHOAL_CACHE_LINE - 8];
    uint32_t since_try; /* the VM: retires since it last tried to move the epoch */
    uint32_t pad1;
    uint64_t since_bytes; /* the VM: bytes retired since then */
    epoch_bag_t bags[3];
    char pad2[SHOAL_CACHE_LINE - 8];
} epoch_rec_t;

struct epoch_dom {
    uint64_t epoch;    /* any participant, by CAS; starts at 1 */
    uint32_t n_vms;    /* written before the fork */
    uint32_t pad;
    char pad0[SHOAL_CACHE_LINE - 16];
    epoch_rec_t recs[]; /* n_vms + 1: the supervisor last */
};

/* Retires between two attempts to move the epoch: an attempt reads every
 * announce word (a cache miss each while those VMs work), so not at every
 * retire; but often enough that bags stay far from full. And bytes: large
 * objects (a big value, an old bucket array) come back sooner, so that a
 * pool near its end gets them back. */
#define TRY_EVERY 64u
#define TRY_BYTES (256u << 10)

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

/* Free every bag of r whose epoch is at least two behind e. */
static size_t reclaim_upto(epoch_rec_t *r, uint64_t e, uint32_t who, epoch_free_fn f,
                           void *ctx)
{
    size_t left = 0;
    for (int i = 0; i < 3; i++) {
        epoch_bag_t *b = &r->bags[i];
        if (b->n > 0 && b->epoch + 2 <= e)
            empty_bag(b, who, f, ctx);
        left += b->n;
    }
    return left;
}

size_t epoch_reclaim(epoch_dom_t *d, uint32_t vm, epoch_free_fn f, void *ctx)
{
    epoch_rec_t *r = rec(d, vm);
    SHOAL_ASSERT(!(r->announce & 1), "epoch_reclaim inside a critical section");
    uint64_t e = ck_pr_load_64(&d->epoch);
    if (try_advance(d, e))
        e = ck_pr_load_64(&d->epoch);
    r->since_try = 0;
    r->since_bytes = 0;
    return reclaim_upto(r, e, vm, f, ctx);
}

void epoch_retire(epoch_dom_t *d, uint32_t vm, void *obj, size_t bytes, epoch_free_fn f,
                  void *ctx)
{
    epoch_rec_t *r = rec(d, vm);
    SHOAL_ASSERT(!(r->announce & 1), "epoch_retire inside a critical section");
    /* Full barrier (store-load): the store that unlinked obj is visible to
     * every VM before we read the epoch it is retired in. Without it the
     * read could pass the store, name an epoch too old, and free obj while
     * a reader that still sees the old link holds it. */
    ck_pr_fence_memory();
    unsigned spins = 0;
    for (;;) {
        uint64_t e = ck_pr_load_64(&d->epoch);
        epoch_bag_t *b = &r->bags[e % 3];
        if (b->epoch != e) {
            /* Its items are of epoch e - 3 or older: safe. */
            empty_bag(b, vm, f, ctx);
            b->epoch = e;
        }
        if (b->n < EPOCH_BAG_CAP - EPOCH_BAG_RESERVE) {
            b->items[b->n] = obj;
            /* Store-store: the item is in place before the count says so
             * (for the supervisor reading the bag of a dead VM). */
            ck_pr_fence_store();
            ck_pr_store_32(&b->n, b->n + 1);
            r->since_bytes += bytes;
            if (++r->since_try >= TRY_EVERY || r->since_bytes >= TRY_BYTES) {
                r->since_try = 0;
                r->since_bytes = 0;
                if (try_advance(d, e))
                    reclaim_upto(r, ck_pr_load_64(&d->epoch), vm, f, ctx);
            }
            return;
        }
        /* Full: the epoch must move first. Some VM is inside a critical
         * section that began an epoch ago; it will leave soon (or die and
         * be recovered). */
        if (!try_advance(d, e)) {
            if (++spins < 64)
                ck_pr_stall();
            else
                sched_yield();
        }
    }
}

bool epoch_retire_for(epoch_dom_t *d, uint32_t vm, void *obj, epoch_free_fn f, void *ctx)
{
    epoch_rec_t *r = rec(d, vm);
    ck_pr_fence_memory(); /* as in epoch_retire */
    uint64_t e = ck_pr_load_64(&d->epoch);
    /* obj is retired now, in epoch e: it goes into the bag of epoch e (an
     * older bag would free it too early). That bag's old items, if any,
     * are of e - 3 or older: safe to free from here. */
    epoch_bag_t *b = &r->bags[e % 3];
    if (b->epoch != e) {
        empty_bag(b, POOL_SUPERVISOR, f, ctx);
        b->epoch = e;
    }
    if (b->n >= EPOCH_BAG_CAP)
        return false;
    b->items[b->n] = obj;
    ck_pr_fence_store();
    ck_pr_store_32(&b->n, b->n + 1);
    return true;
}

bool epoch_retired(const epoch_dom_t *d, uint32_t vm, const void *obj)
{
    const epoch_rec_t *r = rec(d, vm);
    for (int i = 0; i < 3; i++)
        for (uint32_t k = 0; k < r->bags[i].n; k++)
            if (r->bags[i].items[k] == obj)
                return true;
    return false;
}

void epoch_recover_vm(epoch_dom_t *d, uint32_t vm)
{
    /* Release: the supervisor's repairs, made while the dead VM's announce
     * still held the epoch, come before the epoch may move past it. */
    ck_pr_fence_release();
    ck_pr_store_64(&rec(d, vm)->announce, 0);
}
