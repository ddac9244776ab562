/*
 * plan.c: the plan rings, the traffic samples and the active policy in
 * the shared segment (see plan.h).
 *
 * NOTES
 *   plan_init, plan_push, plan_policy_write: supervisor only.
 *   plan_pop, plan_pending, plan_write_pairs: the VM the area belongs to.
 *   plan_read_pairs, plan_policy_read, plan_policy_version: readers.
 */
#include "shm/plan.h"

#include <ck_pr.h>
#include <string.h>

/* Tries before a reader gives up on samples a VM is writing: a VM writes
 * 32 pairs in well under a microsecond, so a reader that sees it busy
 * this often is looking at a VM that died mid-write. */
#define PAIRS_READ_TRIES 64

_Static_assert((PLAN_SLOTS & (PLAN_SLOTS - 1)) == 0, "ck_ring needs a power of two");

void plan_init(shm_header_t *h)
{
    for (uint32_t i = 0; i < h->cfg.n_vms; i++) {
        shm_plan_t *p = shm_plan(h, i);
        memset(p, 0, sizeof *p);
        ck_ring_init(&p->ring, PLAN_SLOTS);
    }
    ck_sequence_init(&h->policy.seq);
}

bool plan_push(shm_header_t *h, uint32_t vm, const plan_move_t *m)
{
    shm_plan_t *p = shm_plan(h, vm);
    plan_move_t copy = *m;
    /* ck_ring's SPSC enqueue stores the entry, then publishes the new
     * producer index with a store fence: the VM sees the whole entry. */
    return ck_ring_enqueue_spsc_plan(&p->ring, p->moves, &copy);
}

bool plan_pop(shm_header_t *h, uint32_t vm, plan_move_t *out)
{
    shm_plan_t *p = shm_plan(h, vm);
    /* The dequeue reads the producer index, then (load fence) the entry. */
    return ck_ring_dequeue_spsc_plan(&p->ring, p->moves, out);
}

bool plan_pending(const shm_header_t *h, uint32_t vm)
{
    shm_plan_t *p = shm_plan(h, vm);
    /* A hint: relaxed loads of the two indices; plan_pop decides. */
    return ck_pr_load_uint(&p->ring.p_tail) != ck_pr_load_uint(&p->ring.c_head);
}

void plan_write_pairs(shm_header_t *h, uint32_t vm, uint32_t epoch, const plan_pair_t *pairs,
                      uint32_t n)
{
    shm_plan_t *p = shm_plan(h, vm);
    if (n > PLAN_PAIRS)
        n = PLAN_PAIRS;
    /* Odd while writing; the store fence orders it before the data (a
     * reader that sees the old even value and then new data retries on
     * the final check). Single writer: this VM. */
    ck_pr_store_32(&p->seq, p->seq + 1);
    ck_pr_fence_store();
    memcpy(p->pairs, pairs, n * sizeof *pairs);
    ck_pr_store_32(&p->n_pairs, n);
    ck_pr_store_32(&p->answered, epoch);
    /* Release: the data before the even sequence. */
    ck_pr_fence_store();
    ck_pr_store_32(&p->seq, p->seq + 1);
}

int plan_read_pairs(const shm_header_t *h, uint32_t vm, plan_pair_t *out, uint32_t *epoch)
{
    shm_plan_t *p = shm_plan(h, vm);
    for (int t = 0; t < PAIRS_READ_TRIES; t++) {
        uint32_t s = ck_pr_load_32(&p->seq);
        if (s & 1) {
            ck_pr_stall();
            continue;
        }
        /* Acquire: the data is read after the sequence. */
        ck_pr_fence_load();
        uint32_t n = ck_pr_load_32(&p->n_pairs);
        if (n > PLAN_PAIRS)
            n = PLAN_PAIRS;
        memcpy(out, p->pairs, n * sizeof *out);
        uint32_t e = ck_pr_load_32(&p->answered);
        /* The data before the second look at the sequence. */
        ck_pr_fence_load();
        if (ck_pr_load_32(&p->seq) == s) {
            if (epoch)
                *epoch = e;
            return (int)n;
        }
    }
    return -1;
}

void plan_policy_write(shm_header_t *h, uint32_t id, uint32_t interval_ms, const int64_t *params,
                       uint32_t n_params)
{
    shm_policy_t *pol = &h->policy;
    if (n_params > POLICY_MAX_PARAMS)
        n_params = POLICY_MAX_PARAMS;
    /* One writer (the supervisor), so no lock around the seqlock. */
    ck_sequence_write_begin(&pol->seq);
    ck_pr_store_32(&pol->id, id);
    ck_pr_store_32(&pol->interval_ms, interval_ms);
    ck_pr_store_32(&pol->n_params, n_params);
    for (uint32_t i = 0; i < POLICY_MAX_PARAMS; i++)
        ck_pr_store_64((uint64_t *)&pol->params[i], i < n_params ? (uint64_t)params[i] : 0);
    ck_sequence_write_end(&pol->seq);
}

uint32_t plan_policy_version(const shm_header_t *h)
{
    /* Relaxed: a VM compares it with the version of its copy; a change
     * makes it copy again under the seqlock. */
    return ck_pr_load_uint(&h->policy.seq.sequence);
}

void plan_policy_read(const shm_header_t *h, shm_policy_t *out)
{
    const shm_policy_t *pol = &h->policy;
    unsigned int v;
    do {
        v = ck_sequence_read_begin(&pol->seq);
        out->id = ck_pr_load_32(&pol->id);
        out->interval_ms = ck_pr_load_32(&pol->interval_ms);
        out->n_params = ck_pr_load_32(&pol->n_params);
        for (uint32_t i = 0; i < POLICY_MAX_PARAMS; i++)
            out->params[i] = (int64_t)ck_pr_load_64((uint64_t *)&pol->params[i]);
    } while (ck_sequence_read_retry(&pol->seq, v));
    out->seq.sequence = v;
}
