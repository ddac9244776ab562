/*
 * least_loaded.c: new processes go to the least-loaded VM, and every
 * interval the rebalancer pushes processes from busy VMs to idle ones.
 *
 * Load is first the runnable processes of a VM (its run queue and the one
 * it is about to run). The rebalancer computes the share each VM should
 * have (the total divided evenly, the remainder to the busiest), and
 * matches each VM above its share with VMs below theirs, nearest first,
 * so that one plan brings the imbalance within one process. Only when
 * the runnable load is even does it look at the processes each VM owns,
 * waiting ones included, and moves waiting processes once the busiest VM
 * owns more than `procs_slack` processes above the idlest: a message-driven server waits most
 * of the time, and is load all the same when its messages come.
 */
#include "policy/policy.h"

#include <string.h>

enum { P_MIN_DIFF, P_PROCS_SLACK };

static const policy_param_t params[] = {
    {"min_diff", 2, 2, 1000000,
     "runnable processes between the busiest and the idlest VM before the rebalancer acts"},
    {"procs_slack", 8, 1, 100000000,
     "owned processes between the busiest and the idlest VM, once runnable ones are even, "
     "before waiting ones are moved"},
};

static uint32_t place(const int64_t *pv, const policy_snapshot_t *s, uint32_t self,
                      uint32_t *cursor)
{
    (void)pv;
    (void)cursor;
    return policy_place_least_loaded(s, self);
}

/* Sort ids by load, heaviest first (ties: lower id first): insertion sort,
 * n is the number of VMs. */
static void sort_by_load(uint32_t *ids, uint32_t n, const uint64_t *load)
{
    for (uint32_t i = 1; i < n; i++) {
        uint32_t x = ids[i], k = i;
        while (k > 0 &&
               (load[ids[k - 1]] < load[x] || (load[ids[k - 1]] == load[x] && ids[k - 1] > x))) {
            ids[k] = ids[k - 1];
            k--;
        }
        ids[k] = x;
    }
}

/* Even out `load` over the live VMs: moves of kind `what` from VMs above
 * their share to VMs below it, nearest receivers first. Returns how many
 * moves went into out. */
static size_t even_out(const policy_snapshot_t *s, uint64_t *load, uint64_t slack, uint32_t what,
                       policy_move_t *out, size_t max)
{
    uint32_t ids[SHOAL_MAX_VMS], n = 0;
    uint64_t total = 0;
    for (uint32_t i = 0; i < s->n_vms; i++)
        if (s->vms[i].alive) {
            ids[n++] = i;
            total += load[i];
        }
    if (n < 2)
        return 0;
    sort_by_load(ids, n, load);
    if (load[ids[0]] - load[ids[n - 1]] < slack)
        return 0;
    /* The share of each: the busiest keep the remainder, so that nothing
     * moves for a remainder's sake. */
    int64_t want[SHOAL_MAX_VMS];
    uint64_t q = total / n, r = total % n;
    for (uint32_t k = 0; k < n; k++)
        want[ids[k]] = (int64_t)load[ids[k]] - (int64_t)(q + (k < r ? 1 : 0));
    size_t m = 0;
    for (uint32_t k = 0; k < n && m < max; k++) {
        uint32_t from = ids[k];
        for (int d = VM_DIST_L3; d <= VM_DIST_REMOTE && want[from] > 0; d++)
            for (uint32_t j = n; j-- > 0 && want[from] > 0 && m < max;) {
                uint32_t to = ids[j];
                if (want[to] >= 0 || (int)policy_distance(s, from, to) != d)
                    continue;
                int64_t give = want[from] < -want[to] ? want[from] : -want[to];
                if (give > 65535)
                    give = 65535; /* one move's count is 16 bits; the rest next time */
                out[m++] = (policy_move_t){.what = what,
                                           .from = from,
                                           .to = to,
                                           .n = (uint32_t)give,
                                           .cause = MIG_REBALANCE};
                want[from] -= give;
                want[to] += give;
            }
    }
    return m;
}

static size_t rebalance(const int64_t *pv, const policy_snapshot_t *s, policy_memory_t *mem,
                        policy_move_t *out, size_t max)
{
    (void)mem;
    uint64_t load[SHOAL_MAX_VMS];
    for (uint32_t i = 0; i < s->n_vms; i++)
        load[i] = s->vms[i].runq;
    size_t m = even_out(s, load, (uint64_t)pv[P_MIN_DIFF], PLAN_RUNNABLE, out, max);
    if (m > 0)
        return m;
    for (uint32_t i = 0; i < s->n_vms; i++)
        load[i] = s->vms[i].procs;
    return even_out(s, load, (uint64_t)pv[P_PROCS_SLACK] + 1, PLAN_WAITING, out, max);
}

const policy_t policy_least_loaded = {
    .name = "least-loaded",
    .desc = "place on the least-loaded VM; periodically push processes from busy VMs to idle ones",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .place_reads_load = true,
    .moves_waiting = true,
    .place = place,
    .rebalance = rebalance,
};
