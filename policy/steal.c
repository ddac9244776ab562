/*
 * steal.c: work stealing, the default balancing (DESIGN.md, "Policies").
 *
 * An idle VM asks a victim for half of its queue, nearest first: a VM on
 * the same L3 cache, then on the same NUMA node, then on another node.
 * A remote victim must have a longer queue, because a process that moves
 * across nodes runs on remote memory until its next collection copies its
 * heap over.
 */
#include "policy/policy.h"

#include <ck_pr.h>

/* Queued processes a victim must have: two (it keeps one); a remote one
 * four, so that a cross-node move is worth its remote-memory phase. */
#define STEAL_MIN_NEAR 2u
#define STEAL_MIN_REMOTE 4u

size_t policy_steal_victims(const shm_header_t *h, uint32_t thief, uint32_t *out, size_t max)
{
    const shm_vm_t *me = shm_vm(h, thief);
    size_t n = 0;
    for (int d = VM_DIST_L3; d <= VM_DIST_REMOTE; d++) {
        /* Within a distance class, start after the thief so that idle VMs
         * spread their requests over the busy ones. */
        for (uint32_t k = 1; k < h->cfg.n_vms && n < max; k++) {
            uint32_t i = (thief + k) % h->cfg.n_vms;
            const shm_vm_t *v = shm_vm(h, i);
            if ((int)vm_distance_of(thief, i, me->node, v->node, me->l3, v->l3) != d)
                continue;
            /* Relaxed: a hint, published by the victim each loop. */
            uint32_t q = ck_pr_load_32((uint32_t *)&v->runq);
            if (q >= (d == VM_DIST_REMOTE ? STEAL_MIN_REMOTE : STEAL_MIN_NEAR))
                out[n++] = i;
        }
    }
    return n;
}

size_t policy_steal_amount(size_t queued)
{
    return queued / 2;
}
