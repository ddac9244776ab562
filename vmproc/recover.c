/*
 * recover.c: what a VM does when a VM dies (see recover.h).
 */
#include "vmproc/recover.h"

#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/vmtab.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/msg.h"

#include <ck_pr.h>
#include <stdlib.h>

static uint32_t inc_of(const shm_header_t *h, uint32_t vm)
{
    /* Relaxed: written by the supervisor before the VM's fork. */
    return ck_pr_load_32(&shm_vm(h, vm)->restarts);
}

/* Whether the VM named in a RUNNABLE status, with its incarnation then,
 * is gone: a later incarnation runs in its place now. */
static bool holder_dead(const shm_header_t *h, uint32_t status)
{
    uint32_t q = ps_queuer(status);
    return q >= h->cfg.n_vms || (inc_of(h, q) & 0xffffu) != ps_queuer_inc(status);
}

static void count(shm_header_t *h, uint32_t vm, uint64_t *field, uint64_t n)
{
    (void)h;
    (void)vm;
    /* single writer: this VM */
    ck_pr_store_64(field, ck_pr_load_64(field) + n);
}

/* Take a process over that this VM owns: from the status we read (a CAS,
 * so that a drain or another takeover that got there first wins) to
 * RUNNABLE held by us, on our run queue. */
static bool take(sched_t *s, pcb_t *pcb, uint32_t seen)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    if (!ck_pr_cas_32(&p->status, seen, ps_runnable(rt->vm, rt->inc)))
        return false;
    runq_push(s, pcb);
    return true;
}

/* A waiting process this VM owns: its timer again (the dead VM may have
 * held it; a second one is harmless, sched.c drops stale timers), and a
 * wake-up if a message came while nobody could see it. */
static void rearm(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    int64_t d = (int64_t)ck_pr_load_64((uint64_t *)&p->deadline);
    if (d >= 0 && timer_push(s, d, pcb) < 0) {
        /* no memory for the timer: let it run and wait again */
        take(s, pcb, PS_WAITING);
        return;
    }
    /* Full fence: the mirror of a sender's (msg.c): the status was
     * WAITING when we read it, so a sender that publishes later wakes it;
     * one that published before is seen here. */
    ck_pr_fence_memory();
    if ((ck_pr_load_64(&p->inbox) & INBOX_OFF_MASK) != 0 && !(ck_pr_load_64(&p->inbox) & INBOX_CLOSED))
        take(s, pcb, PS_WAITING);
    (void)rt;
}

/* --- a live VM after a death --------------------------------------------- */

static size_t orphan(pcb_t *pcb, void *ctx)
{
    sched_t *s = ctx;
    rt_t *rt = &s->rt;
    if (ck_pr_load_32(&pcb->state) != PCB_LIVE || ck_pr_load_32(&pcb->owner) != rt->vm)
        return 0;
    proc_t *p = proc_of(pcb);
    uint32_t st = ck_pr_load_32(&p->status);
    switch (ps_state(st)) {
    case PS_RUNNING:
        /* We run nothing while we scan: a hand-over to us that died
         * between its owner CAS and its status store. */
        return take(s, pcb, st);
    case PS_RUNNABLE:
        if ((p->flags & PF_IN_RUNQ) || !holder_dead(rt->h, st))
            return 0; /* queued here, or a live VM holds it and will push it */
        return take(s, pcb, st);
    case PS_WAITING:
        rearm(s, pcb);
        return 0;
    default:
        return 0;
    }
}

void recover_orphans(sched_t *s)
{
    rt_t *rt = &s->rt;
    /* What was pushed to us first: those are ours already, not orphans. */
    sched_drain_inbound(s);
    size_t n = proctab_each(rt->h, orphan, s);
    if (n)
        count(rt->h, rt->vm, &shm_vm(rt->h, rt->vm)->adopted, n);
}

/* --- a new incarnation ---------------------------------------------------- */

typedef struct adopt {
    sched_t *s;
    pcb_t **crashed;      /* processes that were running: they end */
    size_t ncrashed, cap;
    uint64_t adopted;
} adopt_t;

static size_t clear_queued(pcb_t *pcb, void *ctx)
{
    sched_t *s = ctx;
    if (ck_pr_load_32(&pcb->state) == PCB_LIVE && ck_pr_load_32(&pcb->owner) == s->rt.vm)
        proc_of(pcb)->flags &= ~PF_IN_RUNQ; /* the old run queue is gone */
    return 0;
}

static size_t adopt_one(pcb_t *pcb, void *ctx)
{
    adopt_t *a = ctx;
    sched_t *s = a->s;
    rt_t *rt = &s->rt;
    if (ck_pr_load_32(&pcb->state) != PCB_LIVE || ck_pr_load_32(&pcb->owner) != rt->vm)
        return 0;
    proc_t *p = proc_of(pcb);
    /* its heap counted on our old incarnation's counters, which are gone:
     * attached again when it next runs or moves */
    p->acct_vm = 0;
    uint32_t st = ck_pr_load_32(&p->status);
    switch (ps_state(st)) {
    case PS_RUNNING:
        /* executing at the instant of the death: it ends, vm_crash */
        p->err_class = EXC_EXIT;
        p->err_value = mk_atom(A_VM_CRASH);
        ck_pr_store_32(&p->status, PS_EXITING);
        /* fall through */
    case PS_EXITING:
        if (a->ncrashed == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 64;
            pcb_t **v = realloc(a->crashed, cap * sizeof *v);
            if (!v) {
                sched_finish_exit(s, pcb); /* no list: end it now */
                return 0;
            }
            a->crashed = v;
            a->cap = cap;
        }
        a->crashed[a->ncrashed++] = pcb;
        return 0;
    case PS_RUNNABLE:
        if (p->flags & PF_IN_RUNQ)
            return 0; /* drained to us just now */
        /* Ours, held by the dead (in its run queue, or it was pushing it):
         * take it. Held by a live VM that pushes it to us: leave it. */
        if (ps_queuer(st) != rt->vm && !holder_dead(rt->h, st))
            return 0;
        a->adopted += take(s, pcb, st);
        return 0;
    case PS_WAITING:
        rearm(s, pcb);
        a->adopted++;
        return 0;
    default:
        return 0;
    }
}

void recover_self(sched_t *s)
{
    rt_t *rt = &s->rt;
    shm_header_t *h = rt->h;
    shm_vm_t *self = shm_vm(h, rt->vm);
    /* Slots our predecessor was claiming (never published) or freeing. */
    proctab_recover_vm(h, rt->vm);
    proctab_each(h, clear_queued, s);
    /* What was pushed to us while we were dead (and before): ours now. */
    sched_drain_inbound(s);
    adopt_t a = {.s = s};
    proctab_each(h, adopt_one, &a);
    /* The processes that were running end now, their signals read from
     * chains that may lie in to-spaces our predecessor owned: before
     * those go back to the pool. */
    for (size_t i = 0; i < a.ncrashed; i++) {
        pcb_t *pcb = a.crashed[i];
        bool crashed = proc_of(pcb)->err_value == mk_atom(A_VM_CRASH) &&
                       proc_of(pcb)->exit_stage == EXIT_STAGE_NONE;
        sched_finish_exit(s, pcb);
        if (crashed)
            count(h, rt->vm, &self->lost, 1);
    }
    free(a.crashed);
    pool_reclaim_vm(h, rt->vm);
    count(h, rt->vm, &self->adopted, a.adopted);
    /* The adopted go where the policy places them (the run queue is
     * nothing but them now). */
    size_t n = s->rq_len;
    for (size_t i = 0; i < n; i++) {
        pcb_t *pcb = runq_pop(s);
        uint32_t to = sched_place_spawn(rt);
        if (to != rt->vm && ck_pr_load_32(&shm_vm(h, to)->state) == VM_RUNNING)
            sched_hand_over(s, pcb, to, MIG_ADOPT, true);
        else
            runq_push(s, pcb);
    }
}
