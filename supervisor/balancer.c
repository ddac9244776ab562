/*
 * balancer.c: the supervisor's side of the balancing policies (see
 * balancer.h).
 *
 * A plan's moves go to the VM that owns the processes: a count move to the
 * VM it names as `from`, a move of one process to the VM that owned it
 * when the VMs last sampled it. If that VM no longer owns it, it drops the
 * move (counted in its plan_dropped); the next interval plans from fresh
 * figures.
 *
 * NOTES
 *   Supervisor only (balancer.h). Reads of the VM table are relaxed loads
 *   of words that one VM writes; a snapshot is a set of hints, not a
 *   transaction.
 */
#include "supervisor/balancer.h"

#include "policy/pairs.h"
#include "vmproc/vm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int balancer_init(balancer_t *b, shm_header_t *h, uint32_t id, const int64_t *pv,
                  uint32_t interval_ms)
{
    memset(b, 0, sizeof *b);
    b->h = h;
    b->n_vms = h->cfg.n_vms;
    b->id = id;
    b->pol = policy_at(id);
    if (!b->pol) {
        errno = EINVAL;
        return -1;
    }
    b->vms = calloc(b->n_vms, sizeof *b->vms);
    b->last = calloc((size_t)b->n_vms * 3, sizeof *b->last);
    b->raw = calloc((size_t)b->n_vms * PLAN_PAIRS, sizeof *b->raw);
    b->pairs = calloc((size_t)b->n_vms * PLAN_PAIRS, sizeof *b->pairs);
    if (!b->vms || !b->last || !b->raw || !b->pairs) {
        balancer_free(b);
        errno = ENOMEM;
        return -1;
    }
    return balancer_set(b, id, pv, interval_ms);
}

int balancer_set(balancer_t *b, uint32_t id, const int64_t *pv, uint32_t interval_ms)
{
    const policy_t *pol = policy_at(id);
    if (!pol || interval_ms < POLICY_INTERVAL_MIN || interval_ms > POLICY_INTERVAL_MAX) {
        errno = EINVAL;
        return -1;
    }
    b->id = id;
    b->pol = pol;
    memcpy(b->pv, pv, sizeof b->pv);
    b->interval_ms = interval_ms;
    memset(&b->mem, 0, sizeof b->mem);
    plan_policy_write(b->h, id, interval_ms, pv, pol->n_params);
    return 0;
}

void balancer_free(balancer_t *b)
{
    free(b->vms);
    free(b->last);
    free(b->raw);
    free(b->pairs);
    b->vms = NULL;
    b->last = NULL;
    b->raw = NULL;
    b->pairs = NULL;
}

bool balancer_wants_tick(const balancer_t *b)
{
    return b->pol && (b->pol->rebalance || b->pol->sample_every);
}

void balancer_read_vms(const shm_header_t *h, policy_vm_t *vms)
{
    for (uint32_t i = 0; i < h->cfg.n_vms; i++) {
        const shm_vm_t *v = shm_vm(h, i);
        policy_vm_t *p = &vms[i];
        p->node = v->node;
        p->l3 = v->l3;
        /* Relaxed: hints and statistics, each written by its VM. */
        p->runq = ck_pr_load_32((uint32_t *)&v->runq);
        p->procs = shm_vm_procs(v);
        p->reductions = ck_pr_load_64((uint64_t *)&v->reductions);
        p->msgs_local = ck_pr_load_64((uint64_t *)&v->msgs_local);
        p->msgs_remote = ck_pr_load_64((uint64_t *)&v->msgs_remote);
        p->alive = ck_pr_load_32((uint32_t *)&v->state) == VM_RUNNING;
    }
}

/* Counters as deltas since the last tick. */
static void deltas(balancer_t *b)
{
    for (uint32_t i = 0; i < b->n_vms; i++) {
        policy_vm_t *p = &b->vms[i];
        uint64_t *last = &b->last[(size_t)i * 3];
        uint64_t now[3] = {p->reductions, p->msgs_local, p->msgs_remote};
        p->reductions = now[0] - last[0];
        p->msgs_local = now[1] - last[1];
        p->msgs_remote = now[2] - last[2];
        memcpy(last, now, sizeof now);
    }
}

/* The pairs the VMs published for the last epoch, merged. */
static size_t gather_pairs(balancer_t *b)
{
    uint32_t every = b->pol->sample_every ? b->pol->sample_every(b->pv) : 0;
    if (!every)
        return 0;
    size_t n = 0;
    for (uint32_t i = 0; i < b->n_vms; i++) {
        uint32_t answered;
        if (!b->vms[i].alive)
            continue;
        int k = plan_read_pairs(b->h, i, b->raw + n, &answered);
        /* Only answers to the last request: older ones describe older
         * traffic, and were counted when they were new. */
        if (k > 0 && answered == b->epoch)
            n += (size_t)k;
    }
    return pairs_merge(b->raw, n, every, b->pairs, (size_t)b->n_vms * PLAN_PAIRS);
}

void balancer_tick(balancer_t *b, uint64_t now_ms, const bool *alive)
{
    if (!balancer_wants_tick(b))
        return;
    balancer_read_vms(b->h, b->vms);
    deltas(b);
    for (uint32_t i = 0; i < b->n_vms; i++)
        b->vms[i].alive = b->vms[i].alive && alive[i];
    policy_snapshot_t snap = {
        .n_vms = b->n_vms,
        .vms = b->vms,
        .pairs = b->pairs,
        .n_pairs = gather_pairs(b),
        .now_ms = now_ms,
        .interval_ms = b->interval_ms,
    };
    if (b->pol->rebalance) {
        policy_move_t moves[POLICY_MAX_MOVES];
        size_t n = b->pol->rebalance(b->pv, &snap, &b->mem, moves, POLICY_MAX_MOVES);
        b->plans++;
        bool woken[SHOAL_MAX_VMS] = {false};
        for (size_t k = 0; k < n; k++) {
            const policy_move_t *m = &moves[k];
            if (m->from >= b->n_vms || m->to >= b->n_vms || m->from == m->to)
                continue;
            plan_move_t pm = {.pid = m->pid,
                              .to = m->to,
                              .n = (uint16_t)(m->n > 65535 ? 65535 : m->n),
                              .what = (uint8_t)m->what,
                              .cause = (uint8_t)m->cause};
            if (!plan_push(b->h, m->from, &pm)) {
                b->full++;
                continue;
            }
            b->moves++;
            woken[m->from] = true;
        }
        for (uint32_t i = 0; i < b->n_vms; i++)
            if (woken[i])
                vm_wake(shm_vm(b->h, i));
    }
    if (b->pol->sample_every) {
        /* Ask for the next samples. Relaxed: a VM compares it with the
         * last epoch it answered; nothing else hangs on the order. */
        b->epoch++;
        for (uint32_t i = 0; i < b->n_vms; i++)
            ck_pr_store_32(&shm_plan(b->h, i)->epoch, b->epoch);
    }
}
