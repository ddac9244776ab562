/*
 * balance.c: a VM's side of the balancing policies (see balance.h).
 *
 * The view: policies decide from a snapshot (policy_snapshot_t). The VM
 * keeps one, private: the placement of every VM (constant) and, read
 * only when a decision needs them, the run-queue hints of the other VMs
 * and their process counts. Placement reads them at most once per
 * scheduling round, then counts its own placements into the view, so a
 * burst of spawns spreads instead of piling onto the VM that looked idle.
 *
 * NOTES
 *   Owner VM only (balance.h). Shared words it reads: the policy block
 *   (seqlock), its plan ring (consumer side), its epoch word, and the
 *   other VMs' `runq` hints and counters (relaxed loads, hints). Shared
 *   words it writes: its own row of the VM table (single writer, relaxed
 *   stores of counters that the supervisor reads as statistics) and its
 *   samples (under their seqlock, shm/plan.c).
 */
#include "vmproc/balance.h"

#include "policy/pairs.h"
#include "shm/vmtab.h"

#include <errno.h>
#include <stdlib.h>

typedef struct balance {
    uint32_t version; /* of the policy copy below */
    const policy_t *pol;
    int64_t pv[POLICY_MAX_PARAMS];
    uint32_t sample_every;          /* 0: the policy takes no samples */
    uint32_t epoch;                 /* the supervisor's epoch answered last */
    bool view_fresh;                /* view.vms[].runq and procs read this round */
    uint32_t wait_head;             /* first waiting process: slot + 1, 0: none */
    uint32_t rounds;                /* scheduling rounds, for publishing now and then */
    uint64_t pub_reds, pub_msgs[2]; /* what the VM table shows */
    uint32_t *hosts;                /* every VM's host: the first VM on its PUs
                                     * (balance_to_host), if VMs share PUs (else NULL) */
    uint32_t *thieves;              /* n_vms: a victims() answer (wake_thief) */
    uint32_t wake_next, wake_gap;   /* rounds: wake_thief's next look, and the gap */
    uint32_t pushes, push_wake_next; /* the same in spawns queued here (balance_queued) */
    policy_snapshot_t view;
    pairs_t *pairs;    /* only while the policy samples */
    policy_vm_t vms[]; /* n_vms */
} balance_t;

/* The counters go to the VM table every this many scheduling rounds,
 * and when the VM runs out of work (balance_publish): the balancer reads
 * them every interval_ms (10 ms), and a round takes a few microseconds at
 * most, so they are never staler than a fraction of an interval; writing
 * them every round cost ~20 instructions a round on the message path. */
#define PUBLISH_ROUNDS 64u

/* Scheduling rounds between two looks for a sleeping VM to give work to
 * while this VM has work queued (wake_thief): doubled after a look that
 * found none, so that a VM that stays busy among busy VMs reads their
 * lines rarely, and back to the least after one that found one. */
#define WAKE_GAP_MIN 16u
#define WAKE_GAP_MAX 4096u

/* Sends between two checks of the sample countdown when the policy takes
 * no samples: as good as never. */
#define NO_SAMPLES UINT32_MAX

static void refresh_policy(rt_t *rt)
{
    balance_t *b = rt->bal;
    shm_policy_t cp;
    plan_policy_read(rt->h, &cp);
    const policy_t *pol = policy_at(cp.id);
    b->version = cp.seq.sequence;
    b->pol = pol ? pol : policy_at(policy_default_id());
    /* A block never written (tests that set up a segment by hand) is all
     * zero: policy 0 with zero parameters; take the defaults then. */
    if (cp.n_params == 0 && b->pol->n_params > 0)
        policy_defaults(b->pol, b->pv);
    else
        for (uint32_t i = 0; i < POLICY_MAX_PARAMS; i++)
            b->pv[i] = cp.params[i];
    b->sample_every = b->pol->sample_every ? b->pol->sample_every(b->pv) : 0;
    /* Processes already waiting join the list when they next wait. */
    rt->wait_list = b->pol->moves_waiting;
    if (b->sample_every && !b->pairs)
        b->pairs = calloc(1, sizeof *b->pairs);
    if (!b->pairs)
        b->sample_every = 0; /* no memory for samples: affinity goes blind, nothing worse */
    rt->sample_left = b->sample_every ? b->sample_every : NO_SAMPLES;
}

int balance_init(sched_t *s)
{
    rt_t *rt = &s->rt;
    uint32_t n = rt->h->cfg.n_vms;
    balance_t *b = calloc(1, sizeof *b + n * sizeof(policy_vm_t));
    if (!b) {
        errno = ENOMEM;
        return -1;
    }
    b->view.n_vms = n;
    b->view.vms = b->vms;
    for (uint32_t i = 0; i < n; i++) {
        const shm_vm_t *v = shm_vm(rt->h, i);
        b->vms[i] = (policy_vm_t){.node = v->node, .l3 = v->l3, .alive = 1};
    }
    b->thieves = malloc(n * sizeof *b->thieves);
    b->hosts = shm_vm(rt->h, rt->vm)->shares_pu ? malloc(n * sizeof *b->hosts) : NULL;
    if (!b->thieves || (shm_vm(rt->h, rt->vm)->shares_pu && !b->hosts)) {
        free(b->thieves);
        free(b->hosts);
        free(b);
        errno = ENOMEM;
        return -1;
    }
    /* Only with more VMs than PUs (n^2 compares once, at the start). */
    for (uint32_t i = 0; b->hosts && i < n; i++) {
        uint32_t j = 0;
        while (j < i && !shm_vm_same_pus(shm_vm(rt->h, j), shm_vm(rt->h, i)))
            j++;
        b->hosts[i] = j;
    }
    b->wake_gap = WAKE_GAP_MIN;
    /* Relaxed: the epoch only has to differ from a later one. */
    b->epoch = ck_pr_load_32(&shm_plan(rt->h, rt->vm)->epoch);
    rt->bal = b;
    refresh_policy(rt);
    return 0;
}

void balance_free(sched_t *s)
{
    balance_t *b = s->rt.bal;
    if (!b)
        return;
    free(b->pairs);
    free(b->thieves);
    free(b->hosts);
    free(b);
    s->rt.bal = NULL;
}

/* The other VMs' load as the view shows it (runq hints, process counts). */
static void read_loads(rt_t *rt, bool procs)
{
    balance_t *b = rt->bal;
    for (uint32_t i = 0; i < b->view.n_vms; i++) {
        const shm_vm_t *v = shm_vm(rt->h, i);
        /* Relaxed: hints, published by each VM when they change. */
        b->vms[i].runq = ck_pr_load_32((uint32_t *)&v->runq);
        if (procs)
            b->vms[i].procs = shm_vm_procs(v);
    }
}

static void count(uint64_t *c)
{
    /* Single writer (this VM); the supervisor reads statistics. */
    ck_pr_store_64(c, *c + 1);
}

/* ------------------------------------------------------------------ */
/* the waiting list                                                     */

static pcb_t *slot_pcb(const rt_t *rt, uint32_t slot1)
{
    return slot1 ? shm_pcb(rt->h, slot1 - 1) : NULL;
}

void balance_list(sched_t *s, pcb_t *pcb)
{
    balance_t *b = s->rt.bal;
    proc_t *p = proc_of(pcb);
    if (!b || p->wait_vm == s->rt.vm + 1)
        return;
    SHOAL_ASSERT(p->wait_vm == 0, "on another VM's waiting list");
    p->wait_prev = 0;
    p->wait_next = b->wait_head;
    if (b->wait_head)
        proc_of(slot_pcb(&s->rt, b->wait_head))->wait_prev = pcb->slot + 1;
    b->wait_head = pcb->slot + 1;
    p->wait_vm = s->rt.vm + 1;
}

void balance_unlist(sched_t *s, pcb_t *pcb)
{
    balance_t *b = s->rt.bal;
    proc_t *p = proc_of(pcb);
    if (!b || p->wait_vm != s->rt.vm + 1)
        return;
    if (p->wait_prev)
        proc_of(slot_pcb(&s->rt, p->wait_prev))->wait_next = p->wait_next;
    else
        b->wait_head = p->wait_next;
    if (p->wait_next)
        proc_of(slot_pcb(&s->rt, p->wait_next))->wait_prev = p->wait_prev;
    p->wait_prev = p->wait_next = p->wait_vm = 0;
}

/* ------------------------------------------------------------------ */
/* acting on plans                                                      */

static bool may_move(const proc_t *p)
{
    return !(p->flags & PF_PLACED) && !proc_pinned(p);
}

static uint32_t pack_hint(uint32_t to, uint32_t cause)
{
    return (cause << 16) | (to + 1);
}

enum { MOVE_DROPPED = 0, MOVE_DONE, MOVE_LATER };

/* Move process `pid` to `to`: at once if it waits (MOVE_DONE), else at
 * its next scheduling point (MOVE_LATER: balance_hint counts it then).
 * MOVE_DROPPED if it cannot move (gone, not ours, pinned). */
static int move_pid(sched_t *s, uint64_t pid, uint32_t to, enum mig_cause cause)
{
    rt_t *rt = &s->rt;
    pcb_t *pcb = proctab_lookup(rt->h, pid);
    /* Relaxed: only this VM can change an owner word that names it (by
     * its own CAS), so if it reads its own id the process stays ours. */
    if (!pcb || ck_pr_load_32(&pcb->owner) != rt->vm || to == rt->vm)
        return MOVE_DROPPED;
    proc_t *p = proc_of(pcb);
    if (!may_move(p))
        return MOVE_DROPPED;
    /* A polled one (ours: only we set it) waits as any other first. */
    if (ck_pr_load_32(&p->status) == PS_POLLED)
        sched_unpoll(s, pcb);
    /* Relaxed: a sender may make WAITING into RUNNABLE meanwhile; the CAS
     * in sched_hand_over_waiting decides, and a loser gets the hint. */
    switch (ps_state(ck_pr_load_32(&p->status))) {
    case PS_WAITING:
        if (sched_hand_over_waiting(s, pcb, to, cause))
            return MOVE_DONE;
        /* woken meanwhile: it is runnable now, on its way to our queue */
        /* fall through */
    case PS_RUNNABLE:
    case PS_MOVING:
        /* Owner only (proc.h): the VM acts on it when the process next
         * comes out of the queue, settles here, or reaches a safe point. */
        ck_pr_store_32(&p->hint_vm, pack_hint(to, cause));
        return MOVE_LATER;
    default:
        return MOVE_DROPPED; /* ending */
    }
}

/* Hand up to n runnable processes over to `to`: one pass over the run
 * queue, the others keep their order. */
static uint32_t move_runnable(sched_t *s, uint32_t to, uint32_t n, enum mig_cause cause)
{
    uint32_t given = 0;
    for (size_t i = s->rq_len; i > 0; i--) {
        pcb_t *pcb = runq_pop(s);
        if (given < n && may_move(proc_of(pcb))) {
            sched_hand_over(s, pcb, to, cause, true);
            given++;
        } else {
            runq_push(s, pcb);
        }
    }
    return given;
}

/* Hand up to n waiting processes over to `to`, from the waiting list. */
static uint32_t move_waiting(sched_t *s, uint32_t to, uint32_t n, enum mig_cause cause)
{
    balance_t *b = s->rt.bal;
    uint32_t given = 0;
    for (uint32_t at = b->wait_head; at && given < n;) {
        pcb_t *pcb = slot_pcb(&s->rt, at);
        proc_t *p = proc_of(pcb);
        at = p->wait_next; /* hand-over takes it off the list */
        /* relaxed: a look before the CAS that decides */
        if (may_move(p) && ck_pr_load_32(&p->status) == PS_WAITING &&
            sched_hand_over_waiting(s, pcb, to, cause))
            given++;
    }
    return given;
}

static void act(sched_t *s, const plan_move_t *m)
{
    rt_t *rt = &s->rt;
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    uint32_t want = m->what == PLAN_PID ? 1 : m->n, done = 0;
    enum mig_cause cause = m->cause == MIG_AFFINITY ? MIG_AFFINITY : MIG_REBALANCE;
    if (m->to < rt->h->cfg.n_vms && m->to != rt->vm) {
        if (m->what == PLAN_PID) {
            int r = move_pid(s, m->pid, m->to, cause);
            if (r == MOVE_LATER)
                return;
            done = r == MOVE_DONE;
        } else if (m->what == PLAN_RUNNABLE) {
            done = move_runnable(s, m->to, m->n, cause);
        } else if (m->what == PLAN_WAITING) {
            done = move_waiting(s, m->to, m->n, cause);
        }
    }
    /* Single writer (this VM); the supervisor reads statistics. */
    ck_pr_store_64(&self->plan_done, self->plan_done + done);
    if (done < want)
        ck_pr_store_64(&self->plan_dropped, self->plan_dropped + (want - done));
}

/* ------------------------------------------------------------------ */
/* the round                                                            */

static void answer_epoch(rt_t *rt, uint32_t epoch)
{
    balance_t *b = rt->bal;
    plan_pair_t out[PLAN_PAIRS];
    uint32_t n = b->pairs ? pairs_take(b->pairs, out, PLAN_PAIRS) : 0;
    plan_write_pairs(rt->h, rt->vm, epoch, out, n);
    b->epoch = epoch;
}

static void wake_thief(sched_t *s);

void balance_round(sched_t *s)
{
    rt_t *rt = &s->rt;
    balance_t *b = rt->bal;
    if (!b)
        return;
    if (plan_policy_version(rt->h) != b->version)
        refresh_policy(rt);
    b->view_fresh = false;
    if ((++b->rounds & (PUBLISH_ROUNDS - 1)) == 0)
        balance_publish(rt);
    plan_move_t m;
    while (plan_pending(rt->h, rt->vm) && plan_pop(rt->h, rt->vm, &m))
        act(s, &m);
    if (s->rq_len >= 2 && (int32_t)(b->rounds - b->wake_next) >= 0 && b->pol->victims)
        wake_thief(s);
    if (b->sample_every) {
        /* Relaxed: a request; the samples go out under their seqlock. */
        uint32_t e = ck_pr_load_32(&shm_plan(rt->h, rt->vm)->epoch);
        if (e != b->epoch)
            answer_epoch(rt, e);
    }
}

void balance_publish(rt_t *rt)
{
    balance_t *b = rt->bal;
    if (!b)
        return;
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    /* Single writer; relaxed stores: the supervisor reads statistics.
     * Written only when they move, so an idle VM leaves its line alone. */
    if (rt->reductions != b->pub_reds)
        ck_pr_store_64(&self->reductions, b->pub_reds = rt->reductions);
    if (rt->msgs[0] != b->pub_msgs[0])
        ck_pr_store_64(&self->msgs_local, b->pub_msgs[0] = rt->msgs[0]);
    if (rt->msgs[1] != b->pub_msgs[1])
        ck_pr_store_64(&self->msgs_remote, b->pub_msgs[1] = rt->msgs[1]);
}

bool balance_pending(const sched_t *s)
{
    return s->rt.bal && plan_pending(s->rt.h, s->rt.vm);
}

/* ------------------------------------------------------------------ */
/* decisions                                                            */

uint32_t balance_place(rt_t *rt)
{
    balance_t *b = rt->bal;
    uint32_t n = rt->h->cfg.n_vms;
    if (!b) /* a runtime without a scheduler loop (tests): round-robin */
        return policy_place_round_robin(n, rt->vm, &rt->spawn_next);
    if (!b->pol->place)
        return rt->vm;
    if (b->pol->place_reads_load && !b->view_fresh) {
        read_loads(rt, true);
        b->view_fresh = true;
    }
    uint32_t vm = b->pol->place(b->pv, &b->view, rt->vm, &rt->spawn_next);
    if (vm >= n)
        vm = rt->vm;
    /* Count our own placement into the view, for the next spawn. */
    b->vms[vm].runq++;
    b->vms[vm].procs++;
    return vm;
}

/* VM vm's host if vm is a guest whose host runs, else vm itself. */
static uint32_t live_host(const rt_t *rt, uint32_t vm)
{
    const balance_t *b = rt->bal;
    if (!b->hosts || b->hosts[vm] == vm ||
        ck_pr_load_32((uint32_t *)&shm_vm(rt->h, b->hosts[vm])->state) != VM_RUNNING)
        return vm;
    return b->hosts[vm];
}

/* The VM this one passes its woken processes to, or this one: guests
 * exist only under a stealing policy. */
static uint32_t host_of(const rt_t *rt)
{
    return rt->bal->pol->victims ? live_host(rt, rt->vm) : rt->vm;
}

/* Whether VM `thief` would ask this VM for work if it looked now, with
 * `queued` processes here (the other VMs' loads as the view last read
 * them: they only decide whether others come before us). */
static bool would_steal_here(rt_t *rt, uint32_t thief, size_t queued)
{
    balance_t *b = rt->bal;
    b->vms[rt->vm].runq = (uint32_t)queued;
    size_t n = b->pol->victims(b->pv, &b->view, thief, b->thieves, b->view.n_vms);
    for (size_t i = 0; i < n; i++)
        if (b->thieves[i] == rt->vm)
            return true;
    return false;
}

/* Work is queued here and a VM that would steal it sleeps: a VM asks for
 * work only when it runs out, and then sleeps up to VM_IDLE_MS, so work
 * that piles up here after it looked (a spawn burst: a new process starts
 * where it was spawned) would wait for its timeout. As BEAM wakes a
 * sleeping scheduler when a run queue grows, take its request for it,
 * the nearest such VM first: sched_give_work hands over the policy's
 * amount, and the push wakes it. Guests (balance_to_host) are left
 * asleep; they do not steal while their host lives. */
static void wake_thief(sched_t *s)
{
    rt_t *rt = &s->rt;
    balance_t *b = rt->bal;
    /* One pass over the VMs (one line each, rate-limited by the gap):
     * the first sleeper of each distance class; then the policy is asked
     * about those few, nearest first. */
    uint32_t n = b->view.n_vms, found = UINT32_MAX;
    uint32_t first[VM_DIST_REMOTE + 1] = {UINT32_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX};
    for (uint32_t k = 1; k < n; k++) {
        uint32_t t = (rt->vm + k) % n;
        const shm_vm_t *v = shm_vm(rt->h, t);
        /* Relaxed: hints; a VM woken for nothing looks and sleeps. */
        if (!ck_pr_load_32((uint32_t *)&v->sleeping) ||
            ck_pr_load_32((uint32_t *)&v->state) != VM_RUNNING)
            continue;
        if (live_host(rt, t) != t)
            continue;
        enum vm_distance d = policy_distance(&b->view, rt->vm, t);
        if (first[d] == UINT32_MAX)
            first[d] = t;
    }
    for (int d = VM_DIST_L3; d <= VM_DIST_REMOTE && found == UINT32_MAX; d++)
        if (first[d] != UINT32_MAX && would_steal_here(rt, first[d], s->rq_len))
            found = first[d];
    if (found == UINT32_MAX) {
        b->wake_gap = b->wake_gap * 2 > WAKE_GAP_MAX ? WAKE_GAP_MAX : b->wake_gap * 2;
    } else {
        b->wake_gap = WAKE_GAP_MIN;
        shm_vm_t *self = shm_vm(rt->h, rt->vm);
        /* a request a thief made itself meanwhile wins */
        if (ck_pr_cas_32(&self->steal_req, 0, found + 1))
            sched_give_work(s);
    }
    b->wake_next = b->rounds + b->wake_gap;
}

void balance_queued(sched_t *s)
{
    rt_t *rt = &s->rt;
    balance_t *b = rt->bal;
    if (!b || !b->pol->victims)
        return;
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    /* Relaxed: the thief's request is an int; sched_give_work takes it. */
    uint32_t req = ck_pr_load_32(&self->steal_req);
    if (req) {
        /* A give that found nothing it may hand over (processes placed
         * by spawn-on that have not run) left the request for the
         * round: not again until then, or a spawner that queues such
         * processes would look through its queue at every spawn. */
        if (!s->give_blocked && balance_amount(rt, s->rq_len, req - 1) > 0) {
            size_t before = s->rq_len;
            sched_give_work(s);
            s->give_blocked = s->rq_len >= before;
        }
        return;
    }
    if (s->rq_len < 2)
        return;
    /* What a thief reads when it looks for a victim: written when the
     * queue passes what stealing needs, not at every spawn (the round
     * writes the exact length when it changes). */
    if (ck_pr_load_32(&self->runq) < 2)
        ck_pr_store_32(&self->runq, (uint32_t)s->rq_len);
    if ((int32_t)(++b->pushes - b->push_wake_next) >= 0) {
        wake_thief(s);
        b->push_wake_next = b->pushes + b->wake_gap;
    }
}

bool balance_to_host(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    if (!rt->bal || !rt->bal->hosts)
        return false;
    uint32_t to = host_of(rt);
    if (to == rt->vm || !may_move(proc_of(pcb)))
        return false;
    sched_hand_over(s, pcb, to, MIG_STEAL, true);
    return true;
}

size_t balance_victims(rt_t *rt, uint32_t *out, size_t max)
{
    balance_t *b = rt->bal;
    if (!b || !b->pol->victims || host_of(rt) != rt->vm)
        return 0;
    read_loads(rt, false);
    b->view_fresh = false; /* procs were not read */
    return b->pol->victims(b->pv, &b->view, rt->vm, out, max);
}

size_t balance_amount(rt_t *rt, size_t queued, uint32_t thief)
{
    balance_t *b = rt->bal;
    if (!b || !b->pol->amount || thief >= b->view.n_vms)
        return 0;
    return b->pol->amount(b->pv, queued, policy_distance(&b->view, rt->vm, thief));
}

bool balance_hint(sched_t *s, pcb_t *pcb, uint32_t *to, enum mig_cause *cause)
{
    proc_t *p = proc_of(pcb);
    /* Owner-only word (proc.h), in the shared line: plain atomics. */
    uint32_t h = ck_pr_load_32(&p->hint_vm);
    if (!h)
        return false;
    ck_pr_store_32(&p->hint_vm, 0);
    uint32_t vm = (h & 0xffffu) - 1;
    if (vm >= s->rt.h->cfg.n_vms || vm == s->rt.vm || !may_move(p)) {
        count(&shm_vm(s->rt.h, s->rt.vm)->plan_dropped);
        return false;
    }
    count(&shm_vm(s->rt.h, s->rt.vm)->plan_done);
    *to = vm;
    *cause = (enum mig_cause)(h >> 16);
    return true;
}

bool balance_divert(sched_t *s, pcb_t *pcb)
{
    uint32_t to;
    enum mig_cause cause;
    if (!proc_of(pcb)->hint_vm || !balance_hint(s, pcb, &to, &cause))
        return false;
    sched_hand_over(s, pcb, to, cause, true);
    return true;
}

void balance_sample(rt_t *rt, uint64_t from, uint64_t to, uint32_t to_vm)
{
    balance_t *b = rt->bal;
    if (!b || !b->sample_every || !b->pairs) {
        rt->sample_left = NO_SAMPLES;
        return;
    }
    rt->sample_left = b->sample_every;
    pairs_note(b->pairs, from, rt->vm, to, to_vm);
}
