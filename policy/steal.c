/*
 * steal.c: hierarchical work stealing, the default balancing (DESIGN.md,
 * "Policies").
 *
 * An idle VM asks a victim for a share of its run queue, nearest victims
 * first by hwloc distance: a VM on the same L3 cache, then on the same
 * NUMA node, then on another node. A victim on another node must have a
 * longer queue (remote_min): a process that moves across nodes runs on
 * remote memory until its next collection copies its heap over, so a
 * short queue is not worth it. A new process starts on the VM that
 * spawned it (no place function: balance.c keeps it there), as in BEAM,
 * Cilk and Go: what it talks to is most often there, and a VM with
 * nothing to do takes a share as soon as the queue holds two. Placed
 * round-robin instead, a ring of processes that each spawn the next
 * crossed VMs at every hop (2 VMs: 500-540 ns per hop against 170-200),
 * and 200,000 spawns each sending a message back took 520-755 ns per
 * process on 2 VMs against 240-245 on 1 (now 240-245 on both).
 */
#include "policy/policy.h"

enum { P_NEAR_MIN, P_REMOTE_MIN, P_SHARE };

/* near_min 2: the victim keeps the process it is about to run and gives
 * one. remote_min 4: a cross-node move must leave the victim work for
 * longer than the new owner's first collection takes to bring the heap
 * over. share 50: half, as in Cilk and Go, so two VMs even out in one
 * steal. */
static const policy_param_t params[] = {
    {"near_min", 2, 2, 1000000, "runnable processes a victim on the same node must have"},
    {"remote_min", 4, 2, 1000000,
     "runnable processes a victim on another NUMA node must have (below it, no cross-node "
     "steal)"},
    {"share", 50, 1, 100, "percent of the victim's runnable processes it hands over"},
};

static size_t victims(const int64_t *pv, const policy_snapshot_t *s, uint32_t thief, uint32_t *out,
                      size_t max)
{
    size_t n = 0;
    for (int d = VM_DIST_L3; d <= VM_DIST_REMOTE; d++) {
        int64_t min = d == VM_DIST_REMOTE ? pv[P_REMOTE_MIN] : pv[P_NEAR_MIN];
        /* Within a distance class, start after the thief so that idle VMs
         * spread their requests over the busy ones. */
        for (uint32_t k = 1; k < s->n_vms && n < max; k++) {
            uint32_t i = (thief + k) % s->n_vms;
            if ((int)policy_distance(s, thief, i) != d || !s->vms[i].alive)
                continue;
            if ((int64_t)s->vms[i].runq >= min)
                out[n++] = i;
        }
    }
    return n;
}

static size_t amount(const int64_t *pv, size_t queued, enum vm_distance d)
{
    (void)d;
    size_t n = (size_t)((uint64_t)queued * (uint64_t)pv[P_SHARE] / 100);
    /* The victim keeps at least one. */
    if (n >= queued)
        n = queued ? queued - 1 : 0;
    return n;
}

const policy_t policy_steal = {
    .name = "steal",
    .desc = "work stealing: idle VMs take half of a busy VM's queue, nearest first",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .victims = victims,
    .amount = amount,
};
