/*
 * sim.c: the policy simulator's engine (the model is in sim.h).
 *
 * A discrete-event simulation on one clock, in nanoseconds. Events are
 * kept in a binary heap ordered by (time, sequence number), so that two
 * events at the same time always run in the order they were made, and a
 * run depends on nothing but the workload, the configuration and the seed.
 *
 * A VM is either running a process (a segment of CPU that ends at a
 * burst's end or at the end of its slice, whichever comes first: an
 * EV_VM event), or at a scheduling point (sched_point: answer a steal
 * request, publish the queue length, act on the plans, take the next
 * process), or idle (it asks for work after the spin, EV_STEAL, and again
 * every SIM_IDLE_NS). The decisions are the policy's own functions,
 * called with snapshots built from the simulated state.
 *
 * NOTES
 *   Private memory; single-threaded; nothing prints.
 */
#include "supervisor/sim.h"

#include "policy/pairs.h"
#include "supervisor/topology.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The CPU a process needs to reach its first receive (idle, serve). */
#define SIM_START_NS 1000u
/* A reduction is about this many nanoseconds (the snapshot's figure). */
#define SIM_NS_PER_REDUCTION 20u

enum ev_type { EV_VM = 0, EV_STEAL, EV_SPAWN, EV_ARRIVE, EV_MSG, EV_TICK };

typedef struct ev {
    uint64_t t, seq;
    uint32_t type, a, b, gen;
} ev_t;

enum pstate { P_NEW = 0, P_RUNNABLE, P_RUNNING, P_WAITING, P_MOVING, P_DONE };
enum phase { PH_WORK = 0, PH_AWAIT }; /* talk: thinking, or waiting for the answer */
enum step { STEP_CONTINUE = 0, STEP_WAIT, STEP_EXIT };

#define ARRIVE_SPAWN_SIM (MIG_CAUSES + 1u)
#define NONE UINT32_MAX

typedef struct sproc {
    uint64_t pid;
    uint32_t group;
    uint32_t kind;
    uint32_t state;
    uint32_t vm; /* owner; while in flight, the VM it goes to */
    bool in_flight;
    bool placed; /* spawn-on, not yet run */
    bool finite; /* cpu or talk: counts for the makespan */
    uint32_t phase;
    uint32_t heap_node;
    uint64_t off_node_ns; /* CPU time on the current node while the heap is elsewhere */
    uint64_t burst;       /* CPU work left in the current burst (ns at full speed) */
    uint64_t rounds;      /* talk: round trips left */
    uint32_t peer;        /* talk: the process it talks to */
    uint32_t serving;     /* serve: the sender being answered, or NONE */
    uint32_t hint;        /* a plan's move: VM + 1, 0: none */
    uint32_t hint_cause;
    uint32_t arriving;             /* cause + 1, or ARRIVE_SPAWN_SIM */
    uint32_t wait_prev, wait_next; /* the owner's waiting list (index + 1) */
    bool on_wait_list;
    uint32_t *inbox; /* senders, FIFO */
    uint32_t in_head, in_len, in_cap;
} sproc_t;

typedef struct svm {
    uint32_t node, l3;
    uint32_t *rq;
    size_t rq_head, rq_len, rq_cap;
    uint32_t running;            /* a process, or NONE */
    uint64_t seg_start, seg_len; /* the running segment */
    uint32_t seg_pct;            /* its speed: 100, or SIM_REMOTE_PCT on remote memory */
    bool seg_ends_burst;         /* the segment ends at the burst's end, not the slice's */
    uint64_t slice_left;
    bool scheduled; /* an EV_VM is pending while not running */
    bool idle;
    uint64_t idle_since;
    uint32_t idle_gen;
    uint32_t hint_runq;  /* the published queue length */
    uint32_t steal_req;  /* a thief, or NONE */
    uint32_t steal_seen; /* the queue length the thief saw when it asked */
    plan_move_t plan[PLAN_SLOTS];
    uint32_t plan_head, plan_len;
    pairs_t *pairs;
    uint32_t sample_left;
    uint32_t cursor;
    bool view_fresh;
    uint32_t wait_head; /* index + 1 */
    uint64_t owned;
    uint64_t busy_ns, msgs_local, msgs_remote;
    uint64_t last_busy, last_local, last_remote;
    uint64_t mig_in[MIG_CAUSES], mig_out[MIG_CAUSES];
} svm_t;

struct sim {
    sim_config_t cfg;
    const policy_t *pol;
    uint32_t sample_every;
    uint32_t n_vms;
    svm_t *vms;
    sim_vm_result_t *res_vms;
    policy_vm_t *view;     /* placement and steal view (refreshed per decision) */
    policy_vm_t *snap_vms; /* the balancer's snapshot */
    plan_pair_t *raw;
    policy_pair_t *pairs;
    policy_memory_t mem;
    uint64_t n_procs;
    sproc_t *procs;
    uint64_t *group_first;
    const sim_workload_t *w;
    ev_t *heap;
    size_t n_ev, cap_ev;
    uint64_t seq, now, rng;
    uint64_t finite_left, makespan;
    bool stop;
    sim_move_t *log;
    size_t n_log, cap_log;
    uint64_t moves, by_cause[MIG_CAUSES], across, remote_ns;
    double imb_area;
    uint64_t imb_last_t;
    bool oom;
};

/* ------------------------------------------------------------------ */
/* events                                                               */

static bool ev_before(const ev_t *x, const ev_t *y)
{
    return x->t != y->t ? x->t < y->t : x->seq < y->seq;
}

static void push_ev(sim_t *s, uint64_t t, uint32_t type, uint32_t a, uint32_t b, uint32_t gen)
{
    if (s->n_ev == s->cap_ev) {
        size_t cap = s->cap_ev ? s->cap_ev * 2 : 1024;
        ev_t *h = realloc(s->heap, cap * sizeof *h);
        if (!h) {
            s->oom = s->stop = true;
            return;
        }
        s->heap = h;
        s->cap_ev = cap;
    }
    ev_t e = {.t = t, .seq = s->seq++, .type = type, .a = a, .b = b, .gen = gen};
    size_t i = s->n_ev++;
    while (i > 0 && ev_before(&e, &s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = e;
}

static bool pop_ev(sim_t *s, ev_t *out)
{
    if (s->n_ev == 0)
        return false;
    *out = s->heap[0];
    ev_t last = s->heap[--s->n_ev];
    size_t i = 0, n = s->n_ev;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && ev_before(&s->heap[c + 1], &s->heap[c]))
            c++;
        if (!ev_before(&s->heap[c], &last))
            break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (n)
        s->heap[i] = last;
    return true;
}

/* ------------------------------------------------------------------ */
/* small helpers                                                        */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static enum vm_distance dist(const sim_t *s, uint32_t a, uint32_t b)
{
    return vm_distance_of(a, b, s->vms[a].node, s->vms[b].node, s->vms[a].l3, s->vms[b].l3);
}

static bool rq_push(sim_t *s, svm_t *v, uint32_t p)
{
    if (v->rq_len == v->rq_cap) {
        size_t cap = v->rq_cap ? v->rq_cap * 2 : 64;
        uint32_t *q = malloc(cap * sizeof *q);
        if (!q) {
            s->oom = s->stop = true;
            return false;
        }
        for (size_t i = 0; i < v->rq_len; i++)
            q[i] = v->rq[(v->rq_head + i) % v->rq_cap];
        free(v->rq);
        v->rq = q;
        v->rq_cap = cap;
        v->rq_head = 0;
    }
    v->rq[(v->rq_head + v->rq_len) % v->rq_cap] = p;
    v->rq_len++;
    return true;
}

static uint32_t rq_pop(svm_t *v)
{
    if (v->rq_len == 0)
        return NONE;
    uint32_t p = v->rq[v->rq_head];
    v->rq_head = (v->rq_head + 1) % v->rq_cap;
    v->rq_len--;
    return p;
}

static bool inbox_push(sim_t *s, sproc_t *p, uint32_t from)
{
    if (p->in_len == p->in_cap) {
        uint32_t cap = p->in_cap ? p->in_cap * 2 : 4;
        uint32_t *q = malloc(cap * sizeof *q);
        if (!q) {
            s->oom = s->stop = true;
            return false;
        }
        for (uint32_t i = 0; i < p->in_len; i++)
            q[i] = p->inbox[(p->in_head + i) % p->in_cap];
        free(p->inbox);
        p->inbox = q;
        p->in_cap = cap;
        p->in_head = 0;
    }
    p->inbox[(p->in_head + p->in_len) % p->in_cap] = from;
    p->in_len++;
    return true;
}

static uint32_t inbox_pop(sproc_t *p)
{
    uint32_t from = p->inbox[p->in_head];
    p->in_head = (p->in_head + 1) % p->in_cap;
    p->in_len--;
    return from;
}

static void wait_add(sim_t *s, uint32_t pi)
{
    sproc_t *p = &s->procs[pi];
    svm_t *v = &s->vms[p->vm];
    if (p->on_wait_list)
        return;
    p->wait_prev = 0;
    p->wait_next = v->wait_head;
    if (v->wait_head)
        s->procs[v->wait_head - 1].wait_prev = pi + 1;
    v->wait_head = pi + 1;
    p->on_wait_list = true;
}

static void wait_del(sim_t *s, uint32_t pi)
{
    sproc_t *p = &s->procs[pi];
    if (!p->on_wait_list)
        return;
    svm_t *v = &s->vms[p->vm];
    if (p->wait_prev)
        s->procs[p->wait_prev - 1].wait_next = p->wait_next;
    else
        v->wait_head = p->wait_next;
    if (p->wait_next)
        s->procs[p->wait_next - 1].wait_prev = p->wait_prev;
    p->on_wait_list = false;
    p->wait_prev = p->wait_next = 0;
}

/* The time-weighted runnable imbalance, up to now. */
static void note_imbalance(sim_t *s)
{
    if (s->now == s->imb_last_t)
        return;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (uint32_t i = 0; i < s->n_vms; i++) {
        uint64_t r = s->vms[i].rq_len + (s->vms[i].running != NONE);
        lo = r < lo ? r : lo;
        hi = r > hi ? r : hi;
    }
    s->imb_area += (double)(hi - lo) * (double)(s->now - s->imb_last_t);
    s->imb_last_t = s->now;
}

/* ------------------------------------------------------------------ */
/* VMs waking, moves                                                    */

/* VM v has work: if it is not running, it reaches a scheduling point
 * now, or after a wake-up if it has slept. */
static void wake(sim_t *s, uint32_t vi)
{
    svm_t *v = &s->vms[vi];
    if (v->running != NONE || v->scheduled)
        return;
    uint64_t t = s->now;
    if (v->idle && s->now - v->idle_since > SIM_SPIN_NS)
        t += SIM_WAKE_NS;
    v->idle = false;
    v->idle_gen++;
    v->scheduled = true;
    push_ev(s, t, EV_VM, vi, 0, 0);
}

static void log_move(sim_t *s, uint64_t pid, uint32_t from, uint32_t to, uint32_t cause,
                     uint32_t queued)
{
    s->moves++;
    s->by_cause[cause]++;
    if (s->vms[from].node != s->vms[to].node)
        s->across++;
    s->vms[from].mig_out[cause]++;
    if (s->n_log == s->cap_log) {
        size_t cap = s->cap_log ? s->cap_log * 2 : 256;
        sim_move_t *l = realloc(s->log, cap * sizeof *l);
        if (!l) {
            s->oom = s->stop = true;
            return;
        }
        s->log = l;
        s->cap_log = cap;
    }
    s->log[s->n_log++] = (sim_move_t){
        .at_ns = s->now, .pid = pid, .from = from, .to = to, .cause = cause, .queued = queued};
}

/* Hand process pi over from its owner to VM `to`: it arrives after
 * SIM_MOVE_NS, runnable, or (MOVING) to wait there. */
static void hand_over(sim_t *s, uint32_t pi, uint32_t to, uint32_t cause, bool runnable,
                      uint32_t queued)
{
    sproc_t *p = &s->procs[pi];
    uint32_t from = p->vm;
    wait_del(s, pi);
    log_move(s, p->pid, from, to, cause, queued);
    s->vms[from].owned--;
    p->state = runnable ? P_RUNNABLE : P_MOVING;
    p->vm = to;
    p->in_flight = true;
    p->arriving = cause + 1;
    push_ev(s, s->now + SIM_MOVE_NS, EV_ARRIVE, pi, to, 0);
}

static bool may_move(const sproc_t *p)
{
    return !p->placed;
}

/* A plan's hint, taken at a scheduling point: the VM, or NONE. */
static uint32_t take_hint(sim_t *s, sproc_t *p, uint32_t *cause)
{
    if (!p->hint)
        return NONE;
    uint32_t to = p->hint - 1;
    p->hint = 0;
    if (to == p->vm || to >= s->n_vms || !may_move(p))
        return NONE;
    *cause = p->hint_cause;
    return to;
}

/* ------------------------------------------------------------------ */
/* processes                                                            */

static void send_msg(sim_t *s, uint32_t from_i, uint32_t to_i)
{
    sproc_t *from = &s->procs[from_i], *to = &s->procs[to_i];
    uint32_t vi = from->vm;
    svm_t *v = &s->vms[vi];
    bool local = to->vm == vi && !to->in_flight;
    if (local)
        v->msgs_local++;
    else
        v->msgs_remote++;
    if (s->sample_every && --v->sample_left == 0) {
        v->sample_left = s->sample_every;
        if (v->pairs)
            pairs_note(v->pairs, from->pid, vi, to->pid, to->vm);
    }
    enum vm_distance d = dist(s, vi, to->vm);
    uint64_t lat = d == VM_DIST_SELF     ? SIM_MSG_LOCAL_NS
                   : d == VM_DIST_REMOTE ? SIM_MSG_REMOTE_NS
                                         : SIM_MSG_NODE_NS;
    push_ev(s, s->now + lat, EV_MSG, to_i, from_i, 0);
}

/* What a process does when it has no burst left and is not waiting on
 * a burst: take a message, or wait, or end. */
static enum step resume(sim_t *s, uint32_t pi)
{
    sproc_t *p = &s->procs[pi];
    const sim_group_t *g = &s->w->groups[p->group];
    switch (p->kind) {
    case SIM_CPU:
        return STEP_EXIT;
    case SIM_IDLE:
        return STEP_WAIT;
    case SIM_SERVE:
        if (p->in_len == 0)
            return STEP_WAIT;
        p->serving = inbox_pop(p);
        p->burst = g->cpu_ns;
        return STEP_CONTINUE;
    default: /* SIM_TALK */
        if (p->phase == PH_AWAIT) {
            if (p->in_len == 0)
                return STEP_WAIT;
            inbox_pop(p);
            if (--p->rounds == 0)
                return STEP_EXIT;
            p->phase = PH_WORK;
        }
        p->burst = g->cpu_ns;
        return STEP_CONTINUE;
    }
}

/* A burst ended. */
static enum step complete(sim_t *s, uint32_t pi)
{
    sproc_t *p = &s->procs[pi];
    switch (p->kind) {
    case SIM_CPU:
        return STEP_EXIT;
    case SIM_IDLE:
        return STEP_WAIT;
    case SIM_SERVE:
        if (p->serving != NONE) {
            send_msg(s, pi, p->serving);
            p->serving = NONE;
        }
        return resume(s, pi);
    default: /* SIM_TALK: thought; now ask */
        send_msg(s, pi, p->peer);
        p->phase = PH_AWAIT;
        return resume(s, pi);
    }
}

static void proc_exit(sim_t *s, uint32_t pi)
{
    sproc_t *p = &s->procs[pi];
    p->state = P_DONE;
    s->vms[p->vm].owned--;
    if (p->finite && --s->finite_left == 0) {
        s->makespan = s->now;
        s->stop = true;
    }
}

/* Start the running process's next segment: to its burst's end or its
 * slice's, whichever is first. */
static void start_segment(sim_t *s, uint32_t vi)
{
    svm_t *v = &s->vms[vi];
    sproc_t *p = &s->procs[v->running];
    v->seg_pct = p->heap_node != v->node ? SIM_REMOTE_PCT : 100u;
    uint64_t wall = (p->burst * v->seg_pct + 99) / 100;
    v->seg_ends_burst = wall <= v->slice_left;
    v->seg_len = v->seg_ends_burst ? wall : v->slice_left;
    v->seg_start = s->now;
    push_ev(s, s->now + v->seg_len, EV_VM, vi, 0, 0);
}

/* The process running on v reached a safe point that ends its slice:
 * runnable again (yield) or waiting. */
static void end_slice(sim_t *s, uint32_t vi, enum step st)
{
    svm_t *v = &s->vms[vi];
    uint32_t pi = v->running;
    sproc_t *p = &s->procs[pi];
    v->running = NONE;
    uint32_t cause = 0, to;
    if (st == STEP_EXIT) {
        proc_exit(s, pi);
        return;
    }
    to = take_hint(s, p, &cause);
    if (st == STEP_CONTINUE) {
        if (to != NONE) {
            hand_over(s, pi, to, cause, true, 0);
        } else {
            p->state = P_RUNNABLE;
            rq_push(s, v, pi);
        }
        return;
    }
    if (to != NONE) {
        hand_over(s, pi, to, cause, false, 0);
        return;
    }
    p->state = P_WAITING;
    wait_add(s, pi);
}

/* A segment ended (EV_VM while running). */
static void segment_end(sim_t *s, uint32_t vi)
{
    svm_t *v = &s->vms[vi];
    sproc_t *p = &s->procs[v->running];
    uint64_t ran = s->now - v->seg_start;
    if (v->seg_ends_burst) {
        p->burst = 0;
    } else {
        /* the slice ran out first: less than the burst was done */
        uint64_t work = ran * 100 / v->seg_pct;
        p->burst -= work < p->burst ? work : p->burst - 1;
    }
    v->slice_left -= ran < v->slice_left ? ran : v->slice_left;
    v->busy_ns += ran;
    if (p->heap_node != v->node) {
        s->remote_ns += ran;
        p->off_node_ns += ran;
        if (p->off_node_ns >= SIM_GC_NS) { /* its next collection copies the heap over */
            p->heap_node = v->node;
            p->off_node_ns = 0;
        }
    }
    enum step st = STEP_CONTINUE;
    while (p->burst == 0) {
        st = complete(s, v->running);
        if (st != STEP_CONTINUE || s->stop)
            break;
        if (p->burst > 0)
            break;
    }
    if (st == STEP_CONTINUE && p->burst > 0 && v->slice_left > 0 && !s->stop) {
        start_segment(s, vi);
        return;
    }
    end_slice(s, vi, st);
}

/* ------------------------------------------------------------------ */
/* the VM's scheduling point                                            */

static void refresh_view(sim_t *s, bool procs)
{
    for (uint32_t i = 0; i < s->n_vms; i++) {
        s->view[i].runq = s->vms[i].hint_runq;
        if (procs)
            s->view[i].procs = s->vms[i].owned;
    }
}

static policy_snapshot_t view_of(sim_t *s)
{
    return (policy_snapshot_t){.n_vms = s->n_vms,
                               .vms = s->view,
                               .now_ms = s->now / 1000000u,
                               .interval_ms = s->cfg.interval_ms};
}

static void give_work(sim_t *s, uint32_t vi)
{
    svm_t *v = &s->vms[vi];
    uint32_t thief = v->steal_req;
    v->steal_req = NONE;
    if (!s->pol->amount || thief >= s->n_vms)
        return;
    size_t queued = v->rq_len;
    uint32_t seen = v->steal_seen;
    size_t n = s->pol->amount(s->cfg.pv, queued, dist(s, vi, thief)), given = 0, placed = 0;
    for (size_t i = v->rq_len; i > 0; i--) {
        uint32_t pi = rq_pop(v);
        placed += s->procs[pi].placed;
        if (given < n && may_move(&s->procs[pi])) {
            hand_over(s, pi, thief, MIG_STEAL, true, seen);
            given++;
        } else {
            rq_push(s, v, pi);
        }
    }
    /* as sched.c: a request that found only processes that have not run
     * yet stays for the next round */
    if (given == 0 && placed >= 2) {
        v->steal_req = thief;
        v->steal_seen = seen;
    }
}

/* As balance.c's wake_thief: work queued here while a VM that would
 * steal it sleeps (idle past the spin): the first sleeper of each
 * distance class, nearest class first, that the policy would let steal
 * from here is handed the policy's share as if it had asked. */
static void wake_thief(sim_t *s, uint32_t vi)
{
    svm_t *v = &s->vms[vi];
    uint32_t first[VM_DIST_REMOTE + 1] = {NONE, NONE, NONE, NONE};
    for (uint32_t k = 1; k < s->n_vms; k++) {
        uint32_t t = (vi + k) % s->n_vms;
        const svm_t *tv = &s->vms[t];
        enum vm_distance d = dist(s, vi, t);
        if (tv->idle && tv->running == NONE && s->now - tv->idle_since > SIM_SPIN_NS &&
            first[d] == NONE)
            first[d] = t;
    }
    refresh_view(s, false);
    s->view[vi].runq = (uint32_t)v->rq_len;
    policy_snapshot_t snap = view_of(s);
    uint32_t out[SHOAL_MAX_VMS];
    for (int d = VM_DIST_L3; d <= VM_DIST_REMOTE; d++) {
        if (first[d] == NONE)
            continue;
        size_t n = s->pol->victims(s->cfg.pv, &snap, first[d], out, s->n_vms);
        for (size_t i = 0; i < n; i++) {
            if (out[i] == vi) {
                v->steal_req = first[d];
                v->steal_seen = (uint32_t)v->rq_len;
                return;
            }
        }
    }
}

static void act(sim_t *s, uint32_t vi, const plan_move_t *m)
{
    svm_t *v = &s->vms[vi];
    uint32_t cause = m->cause == MIG_AFFINITY ? MIG_AFFINITY : MIG_REBALANCE;
    if (m->to >= s->n_vms || m->to == vi)
        return;
    if (m->what == PLAN_PID) {
        if (m->pid == 0 || m->pid > s->n_procs)
            return;
        uint32_t pi = (uint32_t)(m->pid - 1);
        sproc_t *p = &s->procs[pi];
        if (p->vm != vi || p->state == P_DONE || p->state == P_NEW || !may_move(p) ||
            (p->in_flight && p->state == P_RUNNABLE && p->vm != vi))
            return;
        if (p->state == P_WAITING && !p->in_flight) {
            hand_over(s, pi, m->to, cause, false, 0);
            return;
        }
        p->hint = m->to + 1;
        p->hint_cause = cause;
        return;
    }
    uint32_t given = 0;
    if (m->what == PLAN_RUNNABLE) {
        for (size_t i = v->rq_len; i > 0; i--) {
            uint32_t pi = rq_pop(v);
            if (given < m->n && may_move(&s->procs[pi])) {
                hand_over(s, pi, m->to, cause, true, 0);
                given++;
            } else {
                rq_push(s, v, pi);
            }
        }
    } else if (m->what == PLAN_WAITING) {
        for (uint32_t at = v->wait_head; at && given < m->n;) {
            uint32_t pi = at - 1;
            at = s->procs[pi].wait_next;
            if (may_move(&s->procs[pi]) && s->procs[pi].state == P_WAITING) {
                hand_over(s, pi, m->to, cause, false, 0);
                given++;
            }
        }
    }
}

static void run_proc(sim_t *s, uint32_t vi, uint32_t pi)
{
    svm_t *v = &s->vms[vi];
    sproc_t *p = &s->procs[pi];
    wait_del(s, pi);
    p->placed = false;
    p->state = P_RUNNING;
    v->running = pi;
    v->slice_left = SIM_SLICE_NS;
    enum step st = STEP_CONTINUE;
    if (p->burst == 0)
        st = resume(s, pi);
    /* a burst of no CPU (think=0) is done at once */
    while (st == STEP_CONTINUE && p->burst == 0 && !s->stop)
        st = complete(s, pi);
    if (st != STEP_CONTINUE || s->stop) {
        end_slice(s, vi, st);
        return;
    }
    start_segment(s, vi);
}

static void sched_point(sim_t *s, uint32_t vi)
{
    svm_t *v = &s->vms[vi];
    v->view_fresh = false;
    while (!s->stop && v->running == NONE) {
        if (v->steal_req == NONE && v->rq_len >= 2 && s->pol->victims && s->n_vms > 1)
            wake_thief(s, vi);
        if (v->steal_req != NONE)
            give_work(s, vi);
        v->hint_runq = (uint32_t)v->rq_len;
        while (v->plan_len) {
            plan_move_t m = v->plan[v->plan_head];
            v->plan_head = (v->plan_head + 1) % PLAN_SLOTS;
            v->plan_len--;
            act(s, vi, &m);
        }
        uint32_t pi = rq_pop(v);
        if (pi == NONE) {
            v->idle = true;
            v->idle_since = s->now;
            v->idle_gen++;
            if (s->pol->victims && s->n_vms > 1)
                push_ev(s, s->now + SIM_SPIN_NS, EV_STEAL, vi, 0, v->idle_gen);
            return;
        }
        uint32_t cause = 0, to = take_hint(s, &s->procs[pi], &cause);
        if (to != NONE) {
            hand_over(s, pi, to, cause, true, 0);
            continue;
        }
        run_proc(s, vi, pi);
    }
}

static void ask_for_work(sim_t *s, uint32_t vi, uint32_t gen)
{
    svm_t *v = &s->vms[vi];
    if (!v->idle || gen != v->idle_gen || v->running != NONE)
        return;
    refresh_view(s, false);
    policy_snapshot_t snap = view_of(s);
    uint32_t victims[SHOAL_MAX_VMS];
    size_t n = s->pol->victims(s->cfg.pv, &snap, vi, victims, s->n_vms);
    for (size_t k = 0; k < n; k++) {
        svm_t *victim = &s->vms[victims[k]];
        if (victim->steal_req == NONE) {
            victim->steal_req = vi;
            victim->steal_seen = s->view[victims[k]].runq;
            break;
        }
    }
    /* A VM that found nothing sleeps, and asks again when it wakes. */
    push_ev(s, s->now + SIM_IDLE_NS, EV_STEAL, vi, 0, gen);
}

/* ------------------------------------------------------------------ */
/* arrivals                                                             */

static uint32_t place(sim_t *s, uint32_t from)
{
    if (!s->pol->place)
        return from;
    svm_t *v = &s->vms[from];
    if (s->pol->place_reads_load && !v->view_fresh) {
        refresh_view(s, true);
        v->view_fresh = true;
    }
    policy_snapshot_t snap = view_of(s);
    uint32_t to = s->pol->place(s->cfg.pv, &snap, from, &v->cursor);
    if (to >= s->n_vms)
        to = from;
    s->view[to].runq++;
    s->view[to].procs++;
    return to;
}

static void spawn(sim_t *s, uint32_t pi)
{
    sproc_t *p = &s->procs[pi];
    const sim_group_t *g = &s->w->groups[p->group];
    uint32_t from = g->vm >= 0 ? (uint32_t)g->vm : g->from;
    uint32_t to = g->vm >= 0 ? (uint32_t)g->vm : place(s, from);
    p->placed = g->vm >= 0;
    p->vm = to;
    p->heap_node = s->vms[to].node;
    p->state = P_RUNNABLE;
    if (to == from) {
        s->vms[to].owned++;
        rq_push(s, &s->vms[to], pi);
        wake(s, to);
        return;
    }
    p->in_flight = true;
    p->arriving = ARRIVE_SPAWN_SIM;
    push_ev(s, s->now + SIM_MOVE_NS, EV_ARRIVE, pi, to, 0);
}

static void arrive(sim_t *s, uint32_t pi, uint32_t vi)
{
    sproc_t *p = &s->procs[pi];
    svm_t *v = &s->vms[vi];
    p->in_flight = false;
    v->owned++;
    if (p->arriving && p->arriving != ARRIVE_SPAWN_SIM)
        v->mig_in[p->arriving - 1]++;
    p->arriving = 0;
    if (p->state == P_MOVING) {
        uint32_t cause = 0, to = take_hint(s, p, &cause);
        if (to != NONE) {
            hand_over(s, pi, to, cause, false, 0);
            return;
        }
        if (p->in_len == 0 && !(p->kind == SIM_TALK && p->phase == PH_WORK)) {
            p->state = P_WAITING;
            wait_add(s, pi);
            return;
        }
        p->state = P_RUNNABLE;
    }
    rq_push(s, v, pi);
    wake(s, vi);
}

static void deliver(sim_t *s, uint32_t to_i, uint32_t from_i)
{
    sproc_t *p = &s->procs[to_i];
    if (p->state == P_DONE)
        return;
    if (!inbox_push(s, p, from_i))
        return;
    if (p->state == P_WAITING && !p->in_flight) {
        wait_del(s, to_i);
        p->state = P_RUNNABLE;
        rq_push(s, &s->vms[p->vm], to_i);
        wake(s, p->vm);
    }
}

/* ------------------------------------------------------------------ */
/* the balancer                                                         */

static void tick(sim_t *s)
{
    for (uint32_t i = 0; i < s->n_vms; i++) {
        svm_t *v = &s->vms[i];
        policy_vm_t *pv = &s->snap_vms[i];
        pv->node = v->node;
        pv->l3 = v->l3;
        pv->alive = 1;
        pv->runq = v->hint_runq;
        pv->procs = v->owned;
        pv->reductions = (v->busy_ns - v->last_busy) / SIM_NS_PER_REDUCTION;
        pv->msgs_local = v->msgs_local - v->last_local;
        pv->msgs_remote = v->msgs_remote - v->last_remote;
        v->last_busy = v->busy_ns;
        v->last_local = v->msgs_local;
        v->last_remote = v->msgs_remote;
    }
    size_t n_raw = 0, n_pairs = 0;
    if (s->sample_every) {
        for (uint32_t i = 0; i < s->n_vms; i++)
            if (s->vms[i].pairs)
                n_raw += pairs_take(s->vms[i].pairs, s->raw + n_raw, PLAN_PAIRS);
        n_pairs =
            pairs_merge(s->raw, n_raw, s->sample_every, s->pairs, (size_t)s->n_vms * PLAN_PAIRS);
    }
    policy_snapshot_t snap = {.n_vms = s->n_vms,
                              .vms = s->snap_vms,
                              .pairs = s->pairs,
                              .n_pairs = n_pairs,
                              .now_ms = s->now / 1000000u,
                              .interval_ms = s->cfg.interval_ms};
    policy_move_t moves[POLICY_MAX_MOVES];
    size_t n = s->pol->rebalance
                   ? s->pol->rebalance(s->cfg.pv, &snap, &s->mem, moves, POLICY_MAX_MOVES)
                   : 0;
    for (size_t k = 0; k < n; k++) {
        const policy_move_t *m = &moves[k];
        if (m->from >= s->n_vms || m->to >= s->n_vms || m->from == m->to)
            continue;
        svm_t *v = &s->vms[m->from];
        if (v->plan_len == PLAN_SLOTS - 1)
            continue; /* a full ring refuses the move, as plan_push does */
        v->plan[(v->plan_head + v->plan_len) % PLAN_SLOTS] =
            (plan_move_t){.pid = m->pid,
                          .to = m->to,
                          .n = (uint16_t)(m->n > 65535 ? 65535 : m->n),
                          .what = (uint8_t)m->what,
                          .cause = (uint8_t)m->cause};
        v->plan_len++;
        wake(s, m->from);
    }
    push_ev(s, s->now + (uint64_t)s->cfg.interval_ms * 1000000u, EV_TICK, 0, 0, 0);
}

/* ------------------------------------------------------------------ */
/* set-up and the run                                                   */

static int load_topology(sim_t *s, char *err, size_t errlen)
{
    topo_t t = {0};
    topo_placement_t pl = {0};
    char why[400];
    if (!s->cfg.topology || !*s->cfg.topology) {
        shoal_errf(err, errlen,
                   "a topology is needed (--topology \"pack:2 numa:2 core:2 pu:1\" "
                   "or an XML file)");
        return -1;
    }
    if (topo_load(&t, s->cfg.topology, why, sizeof why) < 0) {
        shoal_errf(err, errlen, "%s", why);
        return -1;
    }
    uint32_t n = s->cfg.n_vms ? s->cfg.n_vms : t.n_cores;
    int rc = topo_place(&t, n, &pl, why, sizeof why);
    if (rc < 0) {
        shoal_errf(err, errlen, "%s", why);
        topo_free(&t);
        return -1;
    }
    s->n_vms = n;
    s->vms = calloc(n, sizeof *s->vms);
    s->res_vms = calloc(n, sizeof *s->res_vms);
    s->view = calloc(n, sizeof *s->view);
    s->snap_vms = calloc(n, sizeof *s->snap_vms);
    s->raw = calloc((size_t)n * PLAN_PAIRS, sizeof *s->raw);
    s->pairs = calloc((size_t)n * PLAN_PAIRS, sizeof *s->pairs);
    if (!s->vms || !s->res_vms || !s->view || !s->snap_vms || !s->raw || !s->pairs) {
        topo_placement_free(&pl);
        topo_free(&t);
        shoal_errf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        svm_t *v = &s->vms[i];
        v->node = pl.vms[i].node;
        v->l3 = pl.vms[i].l3;
        v->running = NONE;
        v->steal_req = NONE;
        v->idle = true;
        v->sample_left = s->sample_every;
        s->view[i] = (policy_vm_t){.node = v->node, .l3 = v->l3, .alive = 1};
        if (s->sample_every && !(v->pairs = calloc(1, sizeof *v->pairs))) {
            topo_placement_free(&pl);
            topo_free(&t);
            shoal_errf(err, errlen, "out of memory");
            return -1;
        }
    }
    topo_placement_free(&pl);
    topo_free(&t);
    return 0;
}

sim_t *sim_new(const sim_config_t *cfg, const sim_workload_t *w, char *err, size_t errlen)
{
    sim_t *s = calloc(1, sizeof *s);
    if (!s) {
        shoal_errf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = *cfg;
    if (!s->cfg.interval_ms)
        s->cfg.interval_ms = POLICY_INTERVAL_DEFAULT;
    if (!s->cfg.until_ms)
        s->cfg.until_ms = SIM_UNTIL_DEFAULT_MS;
    s->pol = policy_at(cfg->policy);
    s->w = w;
    if (!s->pol) {
        shoal_errf(err, errlen, "no policy with id %u", cfg->policy);
        free(s);
        return NULL;
    }
    s->sample_every = s->pol->sample_every ? s->pol->sample_every(cfg->pv) : 0;
    s->rng = cfg->seed;
    if (load_topology(s, err, errlen) < 0) {
        sim_free(s);
        return NULL;
    }
    for (uint32_t g = 0; g < w->n_groups; g++) {
        const sim_group_t *gr = &w->groups[g];
        uint32_t vm = gr->vm >= 0 ? (uint32_t)gr->vm : gr->from;
        if (vm >= s->n_vms) {
            shoal_errf(err, errlen, "%s:%u: proc %s: %s=%u, but the topology has %u VMs (0..%u)",
                       w->name, gr->line, gr->name, gr->vm >= 0 ? "vm" : "from", vm, s->n_vms,
                       s->n_vms - 1);
            sim_free(s);
            return NULL;
        }
    }
    s->n_procs = w->n_procs;
    s->procs = calloc(s->n_procs ? s->n_procs : 1, sizeof *s->procs);
    s->group_first = calloc(w->n_groups ? w->n_groups : 1, sizeof *s->group_first);
    if (!s->procs || !s->group_first) {
        shoal_errf(err, errlen, "out of memory");
        sim_free(s);
        return NULL;
    }
    uint64_t k = 0;
    for (uint32_t g = 0; g < w->n_groups; g++) {
        const sim_group_t *gr = &w->groups[g];
        s->group_first[g] = k;
        for (uint32_t m = 0; m < gr->count; m++, k++) {
            sproc_t *p = &s->procs[k];
            p->pid = k + 1;
            p->group = g;
            p->kind = gr->kind;
            p->serving = NONE;
            p->finite = gr->kind == SIM_CPU || gr->kind == SIM_TALK;
            if (gr->kind == SIM_CPU) {
                p->burst = gr->cpu_ns;
                if (gr->jitter) {
                    /* up to jitter percent either way, from the seed */
                    uint64_t r = splitmix(&s->rng) % (2u * gr->jitter + 1);
                    p->burst = p->burst * (100u - gr->jitter + r) / 100u;
                }
                if (p->burst == 0)
                    p->burst = 1;
            } else if (gr->kind == SIM_TALK) {
                p->rounds = gr->rounds;
                p->burst = gr->cpu_ns ? gr->cpu_ns : 0;
                const sim_group_t *peer = &w->groups[gr->peer];
                p->peer = (uint32_t)(s->group_first[gr->peer] + m % peer->count);
            } else {
                p->burst = SIM_START_NS;
            }
            if (p->finite)
                s->finite_left++;
        }
    }
    /* talk peers of groups defined later: fix them now that every group
     * has its first pid */
    k = 0;
    for (uint32_t g = 0; g < w->n_groups; g++)
        for (uint32_t m = 0; m < w->groups[g].count; m++, k++)
            if (w->groups[g].kind == SIM_TALK) {
                const sim_group_t *peer = &w->groups[w->groups[g].peer];
                s->procs[k].peer = (uint32_t)(s->group_first[w->groups[g].peer] + m % peer->count);
            }
    return s;
}

void sim_free(sim_t *s)
{
    if (!s)
        return;
    for (uint32_t i = 0; s->vms && i < s->n_vms; i++) {
        free(s->vms[i].rq);
        free(s->vms[i].pairs);
    }
    for (uint64_t i = 0; s->procs && i < s->n_procs; i++)
        free(s->procs[i].inbox);
    free(s->vms);
    free(s->res_vms);
    free(s->view);
    free(s->snap_vms);
    free(s->raw);
    free(s->pairs);
    free(s->procs);
    free(s->group_first);
    free(s->heap);
    free(s->log);
    free(s);
}

void sim_run(sim_t *s, sim_result_t *out)
{
    uint64_t until = s->cfg.until_ms * 1000000u;
    /* Every VM starts at a scheduling point, as sched_main's loop does. */
    for (uint32_t i = 0; i < s->n_vms; i++) {
        s->vms[i].idle = false;
        s->vms[i].scheduled = true;
        push_ev(s, 0, EV_VM, i, 0, 0);
    }
    for (uint64_t i = 0; i < s->n_procs; i++)
        push_ev(s, s->w->groups[s->procs[i].group].at_ns, EV_SPAWN, (uint32_t)i, 0, 0);
    if (s->pol->rebalance || s->sample_every)
        push_ev(s, (uint64_t)s->cfg.interval_ms * 1000000u, EV_TICK, 0, 0, 0);
    if (s->finite_left == 0 && s->n_procs == 0)
        s->stop = true;
    ev_t e;
    while (!s->stop && pop_ev(s, &e)) {
        if (e.t > until) {
            s->now = until;
            break;
        }
        s->now = e.t;
        note_imbalance(s);
        switch (e.type) {
        case EV_VM: {
            svm_t *v = &s->vms[e.a];
            if (v->running != NONE) {
                segment_end(s, e.a);
            } else {
                if (!v->scheduled)
                    break; /* stale */
                v->scheduled = false;
            }
            if (v->running == NONE)
                sched_point(s, e.a);
            break;
        }
        case EV_STEAL:
            ask_for_work(s, e.a, e.gen);
            break;
        case EV_SPAWN:
            spawn(s, e.a);
            break;
        case EV_ARRIVE:
            arrive(s, e.a, e.b);
            break;
        case EV_MSG:
            deliver(s, e.a, e.b);
            break;
        case EV_TICK:
            tick(s);
            break;
        }
    }
    note_imbalance(s);
    memset(out, 0, sizeof *out);
    out->end_ns = s->now;
    out->unfinished = s->finite_left;
    for (uint64_t i = 0; i < s->n_procs; i++)
        out->finite += s->procs[i].finite;
    out->makespan_ns = s->finite_left ? s->now : s->makespan;
    out->moves = s->moves;
    memcpy(out->moves_by_cause, s->by_cause, sizeof out->moves_by_cause);
    out->moves_across_nodes = s->across;
    out->remote_mem_ns = s->remote_ns;
    out->n_vms = s->n_vms;
    out->vms = s->res_vms;
    uint64_t lo = UINT64_MAX, hi = 0, rlo = UINT64_MAX, rhi = 0;
    for (uint32_t i = 0; i < s->n_vms; i++) {
        svm_t *v = &s->vms[i];
        sim_vm_result_t *r = &s->res_vms[i];
        r->node = v->node;
        r->l3 = v->l3;
        r->busy_ns = v->busy_ns;
        r->procs = v->owned;
        r->runnable = v->rq_len + (v->running != NONE);
        memcpy(r->mig_out, v->mig_out, sizeof r->mig_out);
        memcpy(r->mig_in, v->mig_in, sizeof r->mig_in);
        r->msgs_local = v->msgs_local;
        r->msgs_remote = v->msgs_remote;
        out->msgs_local += v->msgs_local;
        out->msgs_remote += v->msgs_remote;
        lo = r->procs < lo ? r->procs : lo;
        hi = r->procs > hi ? r->procs : hi;
        rlo = r->runnable < rlo ? r->runnable : rlo;
        rhi = r->runnable > rhi ? r->runnable : rhi;
    }
    out->final_imbalance = hi - lo;
    out->final_runnable_imbalance = rhi - rlo;
    out->mean_runnable_imbalance = s->now ? s->imb_area / (double)s->now : 0;
}

const sim_move_t *sim_moves(const sim_t *s, size_t *n)
{
    *n = s->n_log;
    return s->log;
}

uint32_t sim_owner(const sim_t *s, uint64_t pid)
{
    return pid >= 1 && pid <= s->n_procs ? s->procs[pid - 1].vm : NONE;
}

uint32_t sim_vm_count(const sim_t *s)
{
    return s->n_vms;
}

uint32_t sim_vm_node(const sim_t *s, uint32_t vm)
{
    return vm < s->n_vms ? s->vms[vm].node : NONE;
}

uint64_t sim_group_pid(const sim_t *s, uint32_t g)
{
    return g < s->w->n_groups ? s->group_first[g] + 1 : 0;
}
