/*
 * balancer.h: the supervisor's side of the balancing policies.
 *
 * Every interval_ms the supervisor takes a snapshot of the VM table (each
 * VM's runnable processes, owned processes, and the reductions and
 * messages of the last interval) and of the traffic samples the VMs
 * published, hands it to the policy's rebalance, and queues each move of
 * the plan on the ring of the VM that owns the processes (shm/plan.h),
 * waking that VM. Then it bumps every VM's epoch, which asks the VMs for
 * the next samples.
 *
 * NOTES
 *   Supervisor only; single-threaded. It reads the VMs' counters and
 *   samples (never a lock, never interpreter state), and writes only the
 *   producer side of the plan rings, the epochs and the active policy
 *   block (shm/plan.h), and `wake` through vm_wake.
 */
#ifndef SHOAL_SUPERVISOR_BALANCER_H
#define SHOAL_SUPERVISOR_BALANCER_H

#include "policy/policy.h"

typedef struct balancer {
    shm_header_t *h;
    uint32_t n_vms;
    uint32_t id; /* the policy, as last written to the segment */
    const policy_t *pol;
    int64_t pv[POLICY_MAX_PARAMS];
    uint32_t interval_ms;
    policy_memory_t mem;
    policy_vm_t *vms;     /* the snapshot's VMs */
    uint64_t *last;       /* per VM: reductions, msgs_local, msgs_remote last time */
    plan_pair_t *raw;     /* every VM's published pairs */
    policy_pair_t *pairs; /* merged */
    uint32_t epoch;
    uint64_t plans, moves, full; /* plans made, moves queued, moves a full ring refused */
} balancer_t;

/* Set up, and write the policy `id` with parameter values pv and period
 * interval_ms into the segment (before the VMs start). -1 (ENOMEM). */
int balancer_init(balancer_t *b, shm_header_t *h, uint32_t id, const int64_t *pv,
                  uint32_t interval_ms);
void balancer_free(balancer_t *b);

/* Change the run's policy, its parameters or its period while it runs
 * (for the control socket): written to the segment, where each VM sees
 * it at its next scheduling point; the rebalancer's memory starts afresh.
 * The caller re-arms its timer if balancer_wants_tick or interval_ms
 * changed. -1 (EINVAL) for an unknown policy id. */
int balancer_set(balancer_t *b, uint32_t id, const int64_t *pv, uint32_t interval_ms);

/* Whether the policy wants the periodic tick (it rebalances, or samples). */
bool balancer_wants_tick(const balancer_t *b);

/* One interval: snapshot, plan, queue. alive[i]: VM i runs. */
void balancer_tick(balancer_t *b, uint64_t now_ms, const bool *alive);

/* The snapshot of the VM table, without samples and without deltas (for
 * tests and statistics): fills vms[n_vms]. */
void balancer_read_vms(const shm_header_t *h, policy_vm_t *vms);

#endif
