/*
 * recover.c: what a VM does when a VM dies (see recover.h).
 */
#include "vmproc/recover.h"

#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/slab.h"
#include "shm/vmtab.h"
#include "vmproc/compiler.h"
#include "vmproc/ets.h"
#include "vmproc/heap.h"
#include "vmproc/msg.h"

#include <ck_pr.h>
#include <stdlib.h>

/* Whether the VM named in a RUNNABLE status, with its incarnation then,
 * is gone: a later incarnation runs in its place now. */
static bool holder_dead(const shm_header_t *h, uint32_t status)
{
    uint32_t q = ps_queuer(status);
    /* Relaxed: restarts is written by the supervisor before a VM's fork,
     * and run.deaths (acquired by our loop) moved after it. */
    return q >= h->cfg.n_vms ||
           (ck_pr_load_32(&shm_vm(h, q)->restarts) & 0xffffu) != ps_queuer_inc(status);
}

static void add(uint64_t *field, uint64_t n)
{
    /* single writer: this VM; readers want statistics */
    ck_pr_store_64(field, ck_pr_load_64(field) + n);
}

/* Take a process over that this VM owns: from the status we read (a CAS,
 * so that another claim that got there first wins) to RUNNABLE held by
 * us, on our run queue. A MOVING one (a waiting process handed over)
 * becomes runnable too: it looks at its mailbox and waits again. */
static bool take(sched_t *s, pcb_t *pcb, uint32_t seen)
{
    rt_t *rt = &s->rt;
    if (!ck_pr_cas_32(&proc_of(pcb)->status, seen, ps_runnable(rt->vm, rt->inc)))
        return false;
    /* a spawn or move to us that its VM died before it pushed */
    sched_count_arrival(rt, proc_of(pcb));
    runq_push(s, pcb);
    return true;
}

/* A waiting process this VM owns: its timer again (the dead VM may have
 * held it; a second one is harmless, sched.c drops stale timers), and a
 * wake-up if a message came while nobody could see it. */
static void rearm(sched_t *s, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    /* a note of the dead VM's went with it: ours now */
    p->flags &= ~PF_HIB_NOTED;
    sched_hib_note(s, pcb);
    int64_t d = (int64_t)ck_pr_load_64((uint64_t *)&p->deadline);
    if (d >= 0 && timer_push(s, d, pcb) < 0) {
        take(s, pcb, PS_WAITING); /* no memory for a timer: let it retry */
        return;
    }
    /* Full fence: the mirror of a sender's (msg.c): the status was
     * WAITING when we read it, so a sender that publishes later wakes it;
     * one that published before is seen here. */
    ck_pr_fence_memory();
    uint64_t in = ck_pr_load_64(&p->inbox);
    if ((in & INBOX_OFF_MASK) != 0 && !(in & INBOX_CLOSED))
        take(s, pcb, PS_WAITING);
}

static bool mine(const sched_t *s, pcb_t *pcb)
{
    return ck_pr_load_32(&pcb->state) == PCB_LIVE && ck_pr_load_32(&pcb->owner) == s->rt.vm;
}

/* --- a live VM after a death ---------------------------------------------- */

static size_t first_look(pcb_t *pcb, void *ctx)
{
    sched_t *s = ctx;
    if (!mine(s, pcb))
        return 0;
    uint32_t st = ck_pr_load_32(&proc_of(pcb)->status);
    if (ps_state(st) == PS_RUNNING)
        /* We run nothing while we scan: a hand-over to us that died
         * between its owner CAS and its status store. It is on no list. */
        return take(s, pcb, st);
    /* (one we poll, PS_POLLED, we see at our next round) */
    if (st == PS_WAITING)
        rearm(s, pcb);
    return 0;
}

void recover_orphans(sched_t *s)
{
    rt_t *rt = &s->rt;
    sched_drain_inbound(s);
    size_t n = proctab_each(rt->h, first_look, s);
    if (n)
        add(&shm_vm(rt->h, rt->vm)->adopted, n);
    /* Processes the dead VM held (claimed, or was pushing) may still be
     * linked on some VM's inbound list, where that VM will claim them:
     * taking one over before then would link it twice. So that waits
     * until every VM has drained its list since the death. */
    s->recheck = s->deaths + 1;
}

static size_t takeover(pcb_t *pcb, void *ctx)
{
    sched_t *s = ctx;
    if (!mine(s, pcb))
        return 0;
    proc_t *p = proc_of(pcb);
    uint32_t st = ck_pr_load_32(&p->status);
    if ((ps_state(st) != PS_RUNNABLE && ps_state(st) != PS_MOVING) || (p->flags & PF_IN_RUNQ) ||
        !holder_dead(s->rt.h, st))
        return 0;
    return take(s, pcb, st);
}

/* Whether every other VM has drained its inbound list since run.deaths
 * was `deaths`: a VM that is being restarted has not (its new incarnation
 * drains what the dead one left). */
static bool all_drained(const sched_t *s, uint32_t deaths)
{
    const shm_header_t *h = s->rt.h;
    for (uint32_t v = 0; v < h->cfg.n_vms; v++) {
        if (v == s->rt.vm)
            continue;
        const shm_vm_t *vm = shm_vm(h, v);
        uint32_t state = ck_pr_load_32((uint32_t *)&vm->state);
        if (state == VM_STOPPED)
            continue;
        if (state != VM_RUNNING ||
            (int32_t)(ck_pr_load_32((uint32_t *)&vm->drained_deaths) - deaths) < 0)
            return false;
    }
    return true;
}

void recover_recheck(sched_t *s)
{
    rt_t *rt = &s->rt;
    uint32_t deaths = s->recheck - 1;
    if (!all_drained(s, deaths))
        return;
    s->recheck = 0;
    size_t n = proctab_each(rt->h, takeover, s);
    if (n)
        add(&shm_vm(rt->h, rt->vm)->adopted, n);
}

/* --- a new incarnation ---------------------------------------------------- */

typedef struct adopt {
    sched_t *s;
    pcb_t **ending;       /* processes that were running or ending: they end */
    size_t nending, cap;
    uint64_t adopted;
    uint64_t owned;       /* every process we own, for the VM's counters */
} adopt_t;

static size_t clear_queued(pcb_t *pcb, void *ctx)
{
    /* the old run queue is gone, and so are the old hibernation notes
     * (a waiting process is noted again as it is rearmed) */
    if (mine(ctx, pcb))
        proc_of(pcb)->flags &= ~(PF_IN_RUNQ | PF_HIB_NOTED);
    return 0;
}

static size_t adopt_one(pcb_t *pcb, void *ctx)
{
    adopt_t *a = ctx;
    sched_t *s = a->s;
    rt_t *rt = &s->rt;
    if (!mine(s, pcb))
        return 0;
    proc_t *p = proc_of(pcb);
    /* its heap was counted on our old incarnation's counters, which are
     * gone: attached again when it next runs here; so was the process
     * (started, moved in): it comes in again, as adopted */
    p->acct_vm = 0;
    p->arriving = 0;
    a->owned++;
    uint32_t st = ck_pr_load_32(&p->status);
    switch (ps_state(st)) {
    case PS_RUNNING:
        /* executing at the instant of the death: it ends, vm_crash */
        p->err_class = EXC_EXIT;
        p->err_value = mk_atom(A_VM_CRASH);
        p->flags |= PF_KILLED;
        ck_pr_store_32(&p->status, PS_EXITING);
        /* fall through */
    case PS_EXITING:
        if (a->nending == a->cap) {
            size_t cap = a->cap ? a->cap * 2 : 64;
            pcb_t **v = realloc(a->ending, cap * sizeof *v);
            if (!v) {
                sched_finish_exit(s, pcb); /* no list to keep it on: now */
                return 0;
            }
            a->ending = v;
            a->cap = cap;
        }
        a->ending[a->nending++] = pcb;
        return 0;
    case PS_RUNNABLE:
    case PS_MOVING:
        /* Ours, held by our predecessor (in its run queue, or claimed
         * from its list): on no list now that we drained ours, so take
         * it. Held by another VM: that one pushes it to us, or, if it is
         * dead, the recheck takes it. */
        if (!(p->flags & PF_IN_RUNQ) && !(st & PS_PUSHING) && ps_queuer(st) == rt->vm)
            a->adopted += take(s, pcb, st);
        return 0;
    case PS_WAITING:
        /* polled by our predecessor (sched.c): nobody polls it now */
        if (st == PS_POLLED)
            ck_pr_fas_32(&p->status, PS_WAITING);
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
    /* The shared tables: what our predecessor was doing to them (its
     * locks, journals, slabs, critical section), before anything here
     * touches a table, and before the pool's recovery below, which then
     * frees only the runs it did not publish into a table. */
    ets_recover_vm(h, rt->vm, rt->vm);
    /* Our predecessor's slabs of process memory: its lists of them,
     * which it may have left half-changed, are rebuilt from the slabs'
     * headers (the truth) before the processes that end below give their
     * chunks back. Chunks other VMs freed into them meanwhile are on the
     * slabs' free stacks. */
    slab_recover_vm(h, shm_heap_slabs(h), rt->vm, rt->vm);
    proctab_each(h, clear_queued, s);
    /* Its draining list and our inbound list: ours now. */
    sched_drain_inbound(s);
    ck_pr_store_32(&self->drained_deaths, s->deaths);
    adopt_t a = {.s = s};
    proctab_each(h, adopt_one, &a);
    /* The processes that were running end now (and those that were
     * ending go on from where they were), their signals read from chains
     * that may lie in to-spaces our predecessor owned: before those go
     * back to the pool. */
    uint64_t lost = 0;
    for (size_t i = 0; i < a.nending; i++) {
        pcb_t *pcb = a.ending[i];
        proc_t *p = proc_of(pcb);
        lost += p->err_value == mk_atom(A_VM_CRASH) && p->exit_stage == EXIT_STAGE_NONE;
        sched_finish_exit(s, pcb);
    }
    free(a.ending);
    pool_reclaim_vm(h, rt->vm);
    add(&self->lost, lost);
    add(&self->adopted, a.adopted);
    add(&self->mig_in[MIG_ADOPT], a.owned);
    s->recheck = s->deaths + 1;
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
