/*
 * sched.c: the scheduler loop of one VM (see sched.h).
 *
 * The loop: take the next runnable process, run it for a slice, and file
 * it by how the slice ended: runnable again (back of the queue), waiting
 * (a timer if it has a deadline), or ended. When nothing is runnable the
 * VM sleeps on its wake word until the nearest timer or a wake-up.
 */
#include "vmproc/sched.h"

#include "shm/arena.h"
#include "shm/pool.h"
#include "shm/vmtab.h"
#include "vmproc/balance.h"
#include "vmproc/bif.h"
#include "vmproc/compiler.h"
#include "vmproc/ets.h"
#include "vmproc/heap.h"
#include "vmproc/info.h"
#include "vmproc/interp.h"
#include "vmproc/msg.h"
#include "vmproc/recover.h"
#include "vmproc/register.h"
#include "vmproc/termio.h"
#include "vmproc/trace.h"
#include "vmproc/vm.h"

#include <ck_pr.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPIN_ROUNDS 2000
/* Spin rounds (about 2.5 us) between two looks for a VM to steal from,
 * while the idle VM spins; the first is that far in, so that a VM idle
 * for a moment between two messages does not look. */
#define ASK_ROUNDS 250
/* With VMs sharing PUs: yields before sleeping, while another VM on the
 * PU is awake or has work queued (sched_pu_peer_busy; with all of them
 * asleep the VM spins as one with PUs of its own does). Each yield lets
 * the VM that shares the PU run, so a yielding VM costs a busy neighbour
 * little, and a message that arrives meanwhile is seen after one switch
 * (about 1.5 us here) instead of a futex wake-up of a sleeper (10-30 us).
 * With 4 yields a VM of a 4-VM ring on 2 PUs was asleep at most hops
 * (8.5 us per hop); 16 to 200 all gave 2.3-2.8 us, the cost of the
 * process switch itself. Only yields, with a guest's work on its host
 * (balance_to_host), left the hosts asleep between hops (1.2-3 us); the
 * spin brought them to the 2-VM figure (0.45 us). */
#define SHARED_YIELDS 32
/* 2 pages of buffers. Small messages are packed into the newest buffer
 * kept (msg.c, copy_in), so 2 pages hold a hundred or more of them, and a
 * collection of a small heap costs less than the page faults of the
 * fresh pages that a bigger allowance keeps in use across many processes
 * (a one-VM ring of 1,000 processes faulted 15k pages with 16 pages each,
 * 6k with 2, of which 5k are its start). */
#define FRAG_GC_WORDS (2 * SHOAL_PAGE / sizeof(term))

void runq_push(sched_t *s, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    /* At most once: after a VM's death, a process can reach its owner
     * twice (taken over as an orphan, and pushed by a pusher that was only
     * slow); the second time it is already here. */
    if (p->flags & PF_IN_RUNQ)
        return;
    p->flags |= PF_IN_RUNQ;
    p->rq_next = NULL;
    if (s->rq_tail)
        proc_of(s->rq_tail)->rq_next = pcb;
    else
        s->rq_head = pcb;
    s->rq_tail = pcb;
    s->rq_len++;
    s->rq_placed += (p->flags & PF_PLACED) != 0;
}

pcb_t *runq_pop(sched_t *s)
{
    pcb_t *pcb = s->rq_head;
    if (!pcb)
        return NULL;
    proc_t *p = proc_of(pcb);
    s->rq_head = p->rq_next;
    if (!s->rq_head)
        s->rq_tail = NULL;
    s->rq_len--;
    s->rq_placed -= (p->flags & PF_PLACED) != 0;
    p->flags &= ~PF_IN_RUNQ;
    return pcb;
}

/* Whether timer t can still wake anybody: its process is the one it was
 * set for and still waits with that deadline. A process owned by another
 * VM now is read with plain whole-word loads: its deadline changes only
 * when it stops waiting or starts a new wait, and a new wait sets a new
 * deadline (and pushes a new timer). */
static bool timer_live(const timer_t_ *t)
{
    return ck_pr_load_64(&t->pcb->pid) == t->pid && ck_pr_load_32(&t->pcb->state) == PCB_LIVE &&
           ck_pr_load_64((uint64_t *)&proc_of(t->pcb)->deadline) == (uint64_t)t->deadline;
}

static void timer_sift_down(sched_t *s, size_t i)
{
    size_t n = s->ntimers;
    timer_t_ x = s->timers[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && s->timers[c + 1].deadline < s->timers[c].deadline)
            c++;
        if (s->timers[c].deadline >= x.deadline)
            break;
        s->timers[i] = s->timers[c];
        i = c;
    }
    s->timers[i] = x;
}

/* Drop the timers that can wake nobody (a message ended the wait, or the
 * process ended), then rebuild the heap: O(n). A wait with a long
 * timeout that a message ends leaves its timer behind; without this, a
 * server loop with (after 3600000 ...) would grow the heap by one entry
 * per message for an hour. */
static void timer_compact(sched_t *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->ntimers; i++)
        if (timer_live(&s->timers[i]))
            s->timers[k++] = s->timers[i];
    s->ntimers = k;
    for (size_t i = k / 2; i-- > 0;)
        timer_sift_down(s, i);
}

int timer_push(sched_t *s, int64_t deadline, pcb_t *pcb)
{
    if (__builtin_expect(s->fail_timers != 0, 0)) {
        s->fail_timers--; /* tests: the callers' out-of-memory paths */
        errno = ENOMEM;
        return -1;
    }
    if (s->ntimers == s->tcap) {
        /* Full: first drop the dead timers; grow only if more than half
         * are live, so the heap stays within 4x the live timers (plus
         * the first 64) and each compaction is paid for by the pushes
         * that filled the heap since the last one. */
        timer_compact(s);
        if (s->ntimers > s->tcap / 2 || s->tcap == 0) {
            size_t cap = s->tcap ? s->tcap * 2 : 64;
            timer_t_ *t = realloc(s->timers, cap * sizeof *t);
            if (!t)
                return -1;
            s->timers = t;
            s->tcap = cap;
        }
    }
    size_t i = s->ntimers++;
    timer_t_ x = {deadline, pcb, pcb->pid};
    while (i > 0 && s->timers[(i - 1) / 2].deadline > deadline) {
        s->timers[i] = s->timers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->timers[i] = x;
    return 0;
}

bool timer_pop_due(sched_t *s, int64_t now, timer_t_ *out)
{
    if (s->ntimers == 0 || s->timers[0].deadline > now)
        return false;
    *out = s->timers[0];
    s->timers[0] = s->timers[--s->ntimers];
    if (s->ntimers)
        timer_sift_down(s, 0);
    return true;
}

void sched_free(sched_t *s)
{
    hib_list_t *l[] = {&s->hib.note, &s->hib.wait, &s->hib.look};
    for (size_t i = 0; i < 3; i++) {
        free(l[i]->v);
        *l[i] = (hib_list_t){0};
    }
    free(s->timers);
    s->timers = NULL;
    free(s->drained);
    s->drained = NULL;
    s->dcap = 0;
    s->rq_head = s->rq_tail = NULL;
    s->rq_len = s->rq_placed = s->ntimers = s->tcap = 0;
}

/* Push the chain newest..oldest (linked by inbound_next, newest first,
 * as the list is) onto VM `vm`'s inbound list in one CAS, and wake it. */
static void inbound_push_chain(shm_header_t *h, uint32_t vm, pcb_t *newest, pcb_t *oldest)
{
    shm_vm_t *v = shm_vm(h, vm);
    proc_t *p = proc_of(oldest);
    uint64_t w;
    do {
        w = ck_pr_load_64(&v->inbound);
        p->inbound_next = (uint32_t)w;
        /* Release (inside the CAS): inbound_next is visible with the push. */
        ck_pr_fence_store();
    } while (!ck_pr_cas_64(&v->inbound, w, (w & ~0xffffffffull) | ((uint64_t)newest->slot + 1)));
    vm_wake(v);
}

/* Link a process onto VM vm's inbound list and wake the VM. */
static void inbound_push(shm_header_t *h, uint32_t vm, pcb_t *pcb)
{
    inbound_push_chain(h, vm, pcb, pcb);
}

void sched_push_inbound(rt_t *rt, uint32_t vm, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    /* We hold it while we push, and the status says so until `vm` takes
     * it from its list: if we die before the push, the owner takes it
     * over once every VM has drained its list since (recover.h). The
     * caller holds the process, so a plain store; a MOVING one stays
     * MOVING (its new owner settles it). */
    bool moving = ps_state(ck_pr_load_32(&p->status)) == PS_MOVING;
    ck_pr_store_32(&p->status,
                   (moving ? ps_moving(rt->vm, rt->inc) : ps_runnable(rt->vm, rt->inc)) | PS_PUSHING);
    inbound_push(rt->h, vm, pcb);
}

/* Queue a process this VM holds (it won the process's wake-up, or took it
 * from its inbound list) on its owner: here, or the owner's inbound list. */
static void queue_on_owner(rt_t *rt, pcb_t *pcb)
{
    uint32_t owner = ck_pr_load_32(&pcb->owner);
    if (owner == rt->vm) {
        ck_pr_store_32(&proc_of(pcb)->status, ps_runnable(rt->vm, rt->inc));
        runq_push(rt->sched, pcb);
    } else {
        sched_push_inbound(rt, owner, pcb);
    }
}

void sched_wake_proc(rt_t *rt, pcb_t *pcb)
{
    queue_on_owner(rt, pcb);
}

bool sched_wake(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    /* The CAS names this VM as the queuer: if it dies before the process
     * is queued, the owner takes it over (recover.c). */
    if (ck_pr_load_32(&p->status) != PS_WAITING ||
        !ck_pr_cas_32(&p->status, PS_WAITING, ps_pushing(rt->vm, rt->inc)))
        return false;
    queue_on_owner(rt, pcb);
    return true;
}

static void hand_over_unqueued(sched_t *s, pcb_t *pcb, uint32_t to, enum mig_cause cause,
                               bool runnable);

/* Hand a process that is not running (between slices, or waiting) over
 * to VM `to`: the one rule of DESIGN.md. The owner word changes by CAS
 * from this VM, which owns it and is not running it, so no other VM can
 * be running it or take it at the same time; nothing of its heap, stack
 * or mailbox is touched, so the move is O(1) in heap size. The process
 * is then queued on `to`'s inbound list: a runnable one to run there; a
 * waiting one as MOVING, which no sender or timer wakes (they wake only
 * WAITING processes), and which `to` settles (settle): it counts the
 * arrival, makes it WAITING there and looks at its inbox again. */
void sched_hand_over(sched_t *s, pcb_t *pcb, uint32_t to, enum mig_cause cause, bool runnable)
{
    hand_over_unqueued(s, pcb, to, cause, runnable);
    inbound_push(s->rt.h, to, pcb);
}

/* sched_hand_over up to the push: the caller pushes it (alone, or with
 * others to the same VM in one chain). Until then it is on no list, its
 * status naming this VM as its holder, as between the owner's CAS and the
 * push: if this VM dies, its new owner takes it over (recover.h). */
static void hand_over_unqueued(sched_t *s, pcb_t *pcb, uint32_t to, enum mig_cause cause,
                               bool runnable)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    balance_wait_del(s, pcb);
    heap_detach(rt, p);
    p->migrate_to = 0;
    p->flags &= ~PF_HIB_NOTED; /* this VM's note: the new owner notes it */
    /* Single writer (this VM) of its counters; the supervisor reads them. */
    if (cause == MIG_TORTURE) {
        /* a test mode's move is counted under no cause: the program and
         * the statistics see only the moves a real run would make; the
         * VMs' process counts follow it all the same */
        p->arriving = ARRIVE_TORTURE;
        ck_pr_store_64(&self->torture_out, self->torture_out + 1);
    } else {
        p->mig[cause]++;
        p->migrations++;
        p->arriving = cause + 1;
        ck_pr_store_64(&self->mig_out[cause], self->mig_out[cause] + 1);
    }
    /* Before the owner changes: from here on no sender wakes it (they
     * wake only WAITING), and the status names us as its holder until
     * `to` claims it from its list: if we die in between, the owner takes
     * it over (recover.h). The caller holds it, so a plain store. */
    ck_pr_store_32(&p->status,
                   (runnable ? ps_runnable(rt->vm, rt->inc) : ps_moving(rt->vm, rt->inc)) |
                       PS_PUSHING);
    bool ok = ck_pr_cas_32(&pcb->owner, rt->vm, to);
    SHOAL_ASSERT(ok, "only the owner hands a process over");
    (void)ok;
}

bool sched_hand_over_waiting(sched_t *s, pcb_t *pcb, uint32_t to, enum mig_cause cause)
{
    /* Out of WAITING first: a sender or a timer that wakes it now fails
     * its CAS, and its message is seen when the new owner settles it. */
    rt_t *rt = &s->rt;
    if (!ck_pr_cas_32(&proc_of(pcb)->status, PS_WAITING, ps_moving(rt->vm, rt->inc)))
        return false;
    sched_hand_over(s, pcb, to, cause, false);
    return true;
}

/* Make a process this VM holds WAITING by an atomic exchange, then look
 * at its inbox again, with store-load order between (atomic-load fence):
 * a sender that pushed before we stored WAITING did not see it, and one
 * that pushes after sees WAITING and wakes it (msg.c explains). On x86
 * the exchange is a locked instruction and so already a full fence; an
 * mfence after a plain store costs ~40 ns on this machine's AMD EPYC
 * against ~6 for the exchange, and perf put 23% of a one-VM ring's time
 * on it. */
static void wait_here(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    ck_pr_fas_32(&p->status, PS_WAITING);
    ck_pr_fence_atomic_load();
    if ((ck_pr_load_64(&p->inbox) & INBOX_OFF_MASK) != 0 &&
        ck_pr_cas_32(&p->status, PS_WAITING, ps_runnable(rt->vm, rt->inc)))
        runq_push(s, pcb);
}

/* Polled waits. A process that waits in receive (with no deadline) when
 * its VM has nothing else queued is PS_POLLED instead of WAITING: the VM
 * is about to spin idle anyway, and it spins on the process's inbox word
 * as well as on its own inbound list. A sender to it then publishes the
 * message with its CAS and is done: no status CAS, no push onto the VM's
 * inbound list, no wake-up. Across two VMs a message so moves two cache
 * lines (the receiver's first PCB line and the message's slot) instead of
 * three (and the inbound list's line), and the receiver, which already
 * holds the PCB line when it sees the message, misses once instead of
 * three times in a row before it runs (inbound list, PCB, message).
 *
 * Only the owner sets and clears PS_POLLED, and nobody else acts on it:
 * senders and timers wake only WAITING, stealers take only queued
 * processes, and the balancer's moves (balance.c) unpoll first. A VM
 * polls at most SCHED_POLLED processes (a new one unpolls the oldest),
 * looks at them every round of its loop, and unpolls them all before it
 * sleeps, so a sleeping VM has none. Processes with a deadline are not
 * polled (their timer wakes only WAITING). A VM that dies leaves its
 * polled processes as waiting ones: its next incarnation makes them
 * WAITING and looks at their inboxes (recover.c), as for any waiting
 * process. VMs that share a PU do not poll: a guest's process woken from
 * another VM must reach its host's queue (balance_to_host). */
static void poll_remove(sched_t *s, uint32_t i)
{
    s->n_polled--;
    for (; i < s->n_polled; i++)
        s->polled[i] = s->polled[i + 1];
}

static void poll_add(sched_t *s, pcb_t *pcb)
{
    if (s->n_polled == SCHED_POLLED) {
        pcb_t *oldest = s->polled[0];
        poll_remove(s, 0);
        wait_here(s, oldest);
    }
    /* Owner only, and a status no other VM acts on: a plain store. A
     * message published before it is seen at the first look. */
    ck_pr_store_32(&proc_of(pcb)->status, PS_POLLED);
    s->polled[s->n_polled++] = pcb;
}

static bool has_message(pcb_t *pcb)
{
    /* Relaxed: a look; msg_take's exchange acquires the nodes. */
    return (ck_pr_load_64(&proc_of(pcb)->inbox) & INBOX_OFF_MASK) != 0;
}

bool sched_poll_ready(const sched_t *s)
{
    for (uint32_t i = 0; i < s->n_polled; i++)
        if (has_message(s->polled[i]))
            return true;
    return false;
}

size_t sched_poll(sched_t *s)
{
    rt_t *rt = &s->rt;
    size_t queued = 0;
    for (uint32_t i = 0; i < s->n_polled;) {
        pcb_t *pcb = s->polled[i];
        if (!has_message(pcb)) {
            i++;
            continue;
        }
        poll_remove(s, i);
        /* the message's node, read soon by msg_take (as sched_arrive) */
        __builtin_prefetch((const char *)rt->h +
                           (ck_pr_load_64(&proc_of(pcb)->inbox) & INBOX_OFF_MASK));
        ck_pr_store_32(&proc_of(pcb)->status, ps_runnable(rt->vm, rt->inc));
        runq_push(s, pcb);
        queued++;
    }
    return queued;
}

void sched_unpoll(sched_t *s, pcb_t *pcb)
{
    for (uint32_t i = 0; i < s->n_polled; i++)
        if (s->polled[i] == pcb) {
            poll_remove(s, i);
            wait_here(s, pcb);
            return;
        }
}

size_t sched_unpoll_all(sched_t *s)
{
    size_t before = s->rq_len;
    while (s->n_polled > 0) {
        pcb_t *pcb = s->polled[s->n_polled - 1];
        s->n_polled--;
        wait_here(s, pcb);
    }
    return s->rq_len - before;
}

/* A waiting process handed over to this VM (MOVING): make it WAITING
 * here, with its timer on this VM, or runnable if messages came while it
 * moved; or pass it on if a plan asked for that meanwhile. */
static void settle(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    uint32_t to;
    enum mig_cause cause;
    if (balance_hint(s, pcb, &to, &cause)) {
        sched_hand_over(s, pcb, to, cause, false);
        return;
    }
    /* A timer that fired while it moved found it MOVING and woke nothing;
     * the deadline in the PCB is the truth, so set it again here (a timer
     * left on the old VM is harmless: it wakes only a waiting process
     * with the same deadline, on its owner). Without memory for it, the
     * process stays runnable and retries its wait, as run_one does. */
    if (p->deadline >= 0 && timer_push(s, p->deadline, pcb) < 0) {
        ck_pr_store_32(&p->status, ps_runnable(rt->vm, rt->inc));
        runq_push(s, pcb);
        return;
    }
    balance_wait_add(s, pcb);
    sched_hib_note(s, pcb);
    wait_here(s, pcb);
}

void sched_count_arrival(rt_t *rt, proc_t *p)
{
    if (!p->arriving)
        return;
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    uint32_t c = p->arriving - 1;
    /* Single writer (this VM): the supervisor reads statistics. */
    if (p->arriving == ARRIVE_SPAWN)
        ck_pr_store_64(&self->started, self->started + 1);
    else if (p->arriving == ARRIVE_TORTURE)
        ck_pr_store_64(&self->torture_in, self->torture_in + 1);
    else
        ck_pr_store_64(&self->mig_in[c], self->mig_in[c] + 1);
    p->arriving = 0;
}

/* A process this VM holds (it took it from its inbound list, or popped
 * it): count an arrival and queue it, or pass it on if it moved on again
 * (a waker read an owner that has changed since). */
void sched_arrive(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    uint32_t owner = ck_pr_load_32(&pcb->owner);
    if (owner != rt->vm) {
        sched_push_inbound(rt, owner, pcb);
        return;
    }
    /* The newest message's node and what follows it: read soon by
     * msg_take, written by a sender on another core. Fetching them now
     * overlaps those misses with the scheduler's own work. */
    uint64_t in = ck_pr_load_64(&p->inbox) & INBOX_OFF_MASK;
    if (in != 0) {
        const char *node = (const char *)rt->h + in;
        __builtin_prefetch(node);
        __builtin_prefetch(node + SHOAL_CACHE_LINE);
    }
    bool woken = !p->arriving; /* by a message or signal from another VM */
    sched_count_arrival(rt, p);
    if (ps_state(ck_pr_load_32(&p->status)) == PS_MOVING) {
        settle(s, pcb);
        return;
    }
    if (woken && balance_to_host(s, pcb))
        return;
    runq_push(s, pcb);
}

/* Claim a process found on our list: RUNNABLE or MOVING, pushed to us
 * (its pusher named) or already ours (our previous incarnation claimed it and died
 * before it queued it). The CAS from what we read makes us its holder.
 * Anything else is not ours to take. */
static bool claim(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    uint32_t st = ck_pr_load_32(&p->status);
    uint32_t state = ps_state(st);
    return ck_pr_load_32(&pcb->state) == PCB_LIVE &&
           (state == PS_RUNNABLE || state == PS_MOVING) &&
           ((st & PS_PUSHING) || ps_queuer(st) == rt->vm) &&
           ck_pr_cas_32(&p->status, st,
                        state == PS_MOVING ? ps_moving(rt->vm, rt->inc)
                                           : ps_runnable(rt->vm, rt->inc));
}

/* Take what other VMs queued for this one, oldest first, in three steps
 * that a death at any point leaves recoverable (recover.h): the list
 * moves, in one CAS, from the inbound half of the word to the draining
 * half, where it stays in shared memory; every process on it is claimed
 * (its status names us) without touching the links; the draining half is
 * cleared; and only then are the claimed processes queued or passed on,
 * which reuses their links. */
void sched_drain_inbound(sched_t *s)
{
    rt_t *rt = &s->rt;
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    uint64_t w = ck_pr_load_64(&self->inbound);
    uint32_t draining = (uint32_t)(w >> 32);
    if (!draining) {
        for (;;) {
            if ((uint32_t)w == 0)
                return;
            if (ck_pr_cas_64(&self->inbound, w, (w & 0xffffffffull) << 32))
                break;
            w = ck_pr_load_64(&self->inbound);
        }
        draining = (uint32_t)w;
    }
    /* Acquire: pairs with the pushers' release. */
    ck_pr_fence_acquire();
    size_t n = 0;
    for (uint32_t e = draining; e;) {
        pcb_t *pcb = shm_pcb(rt->h, e - 1);
        e = proc_of(pcb)->inbound_next;
        if (!claim(s, pcb))
            continue;
        if (n == s->dcap) {
            size_t cap = s->dcap ? s->dcap * 2 : 64;
            pcb_t **v = realloc(s->drained, cap * sizeof *v);
            if (!v) {
                /* no room to hold it: queue it now (its links are not
                 * needed any more by this walk, which read them above) */
                sched_arrive(s, pcb);
                continue;
            }
            s->drained = v;
            s->dcap = cap;
        }
        s->drained[n++] = pcb;
    }
    /* The list is ours in full now: off the word (pushers only ever
     * change the low half, so a CAS loop on the whole word). */
    for (;;) {
        w = ck_pr_load_64(&self->inbound);
        if (ck_pr_cas_64(&self->inbound, w, w & 0xffffffffull))
            break;
    }
    /* newest first on the list: queue them oldest first */
    while (n)
        sched_arrive(s, s->drained[--n]);
}

/* The new process's half of a spawn-link or spawn-monitor: a node on its
 * links or monitored_by chain, as msg_take would have put there. */
static int watch_node(rt_t *rt, pcb_t *pcb, const spawn_watch_t *w)
{
    proc_t *p = proc_of(pcb);
    if (heap_make_room(rt, pcb, MSG_NODE_WORDS) < 0)
        return -1;
    term *node = heap_take(p, MSG_NODE_WORDS);
    node[0] = mk_hdr(MSG_NODE_WORDS, BT_MSG);
    node[2] = T_NIL;
    node[3] = mk_fix(w->link ? SIG_LINK : SIG_MONITOR);
    node[4] = mk_pid(w->watcher);
    node[5] = w->ref;
    term *chain = w->link ? &p->links : &p->monitored_by;
    node[1] = *chain;
    *chain = mk_box(node);
    /* the page the spawner reserved for the EXIT or DOWN this one owes */
    p->reserved++;
    return 0;
}

int proc_spawn(rt_t *rt, uint32_t vm, term fun, const term *args, uint32_t argc, uint64_t *pid,
               bool placed)
{
    return proc_spawn_watched(rt, vm, fun, args, argc, pid, placed, NULL);
}

/* Processes that start later take their first block when they first run
 * (interp_start_later), so the pool keeps room for those not yet run:
 * run.late_pending counts them, each VM adding what it spawned and
 * taking off what it started, LATE_BATCH at a time (one shared write per
 * batch, not two per process). A first block is a slab chunk of 384
 * bytes: 8 a page is more than enough. */
#define LATE_BATCH 32

static void late_flush(rt_t *rt)
{
    if (rt->late_delta) {
        ck_pr_faa_64((uint64_t *)&rt->h->run.late_pending, (uint64_t)rt->late_delta);
        rt->late_delta = 0;
    }
}

static void late_count(rt_t *rt, int64_t d)
{
    rt->late_delta += d;
    if (rt->late_delta >= LATE_BATCH || rt->late_delta <= -LATE_BATCH)
        late_flush(rt);
}

/* Pages the pool keeps for processes not yet run: the count, and what
 * each VM may not have added yet. */
static uint64_t late_reserved(const shm_header_t *h)
{
    /* Relaxed: an estimate; a dead VM's batch is lost, so never below 0. */
    int64_t n = (int64_t)ck_pr_load_64((uint64_t *)&h->run.late_pending);
    uint64_t pending = (n > 0 ? (uint64_t)n : 0) + (uint64_t)h->cfg.n_vms * LATE_BATCH;
    return pending / 8 + 1;
}

/* The pages a node's pool keeps free besides, before a process may
 * start later: a 16th of them, and what the VMs' page caches hold. With
 * fewer free than that and late_reserved, spawns take their memory at
 * once, as before, down to what is kept: a spawner that fills the pool
 * has its spawn fail (system_limit), not the children it queued. */
static uint64_t late_margin(const shm_header_t *h)
{
    return h->layout.pages_per_node / 16 + (uint64_t)h->cfg.n_vms * POOL_CACHE_PAGES;
}

int proc_spawn_watched(rt_t *rt, uint32_t vm, term fun, const term *args, uint32_t argc,
                       uint64_t *pid, bool placed, const spawn_watch_t *watch)
{
    shm_header_t *h = rt->h;
    pcb_t *pcb = proctab_claim(h, rt->vm);
    if (!pcb)
        return -1;
    /* A process that needs nothing copied starts without a heap: it gets
     * one where it first runs (interp_start_later). Spawn-link and
     * spawn-monitor put a node on its heap now. Only spawns keep the
     * room for it (late_reserved): collections and messages may take it,
     * and then it ends at its start, as a process does whose heap
     * cannot grow. GC torture, whose collections at every allocation
     * take pages by the thousand near the end of a pool, starts every
     * process at once, as before, so that its runs keep who fails when
     * the pool runs out. */
    uint32_t node = shm_vm(h, vm)->node;
    uint64_t free = pool_free_pages(h, node), kept = late_reserved(h);
    bool roomy = free >= late_margin(h) + kept;
    bool later = !watch && !rt->gc_torture && roomy && interp_start_later(rt, pcb, fun, args, argc);
    if (later)
        late_count(rt, 1);
    if (!later &&
        (free < kept ||
         heap_init_stack(rt, pcb, node, interp_start_words(fun, argc)) < 0 ||
         interp_start(rt, pcb, fun, args, argc) < 0 ||
         (watch && watch_node(rt, pcb, watch) < 0))) {
        heap_release(rt, pcb);
        proctab_release(h, pcb);
        errno = ENOMEM;
        return -1;
    }
    /* RUNNABLE, held by us until it is on `vm`'s queues (if we die before
     * the push, `vm` finds it and takes it over) */
    proc_of(pcb)->status = ps_runnable(rt->vm, rt->inc);
    if (placed)
        proc_of(pcb)->flags |= PF_PLACED;
    ck_pr_store_32(&pcb->owner, vm);
    *pid = pcb->pid;
    /* Each VM counts the processes that start on it: this one now, or
     * the target when it takes the process in (sched_arrive). */
    if (vm == rt->vm) {
        shm_vm_t *self = shm_vm(h, rt->vm);
        ck_pr_store_64(&self->started, self->started + 1);
    } else {
        proc_of(pcb)->arriving = ARRIVE_SPAWN;
    }
    proctab_publish(h, pcb);
    if (vm == rt->vm) {
        runq_push(rt->sched, pcb);
        balance_queued(rt->sched);
    } else {
        sched_push_inbound(rt, vm, pcb);
    }
    return 0;
}

uint32_t sched_place_spawn(rt_t *rt)
{
    return balance_place(rt);
}

/* The exit reason as text: #(error V) for errors, else the value. */
static void print_reason(const shm_header_t *h, sbuf_t *b, const proc_t *p)
{
    if (p->err_class == EXC_ERROR) {
        sbuf_puts(b, "#(error ");
        term_print(h, b, p->err_value, false);
        sbuf_puts(b, ")");
    } else {
        term_print(h, b, p->err_value, false);
    }
}

static void report_exit(sched_t *s, pcb_t *pcb, bool is_main)
{
    proc_t *p = proc_of(pcb);
    bool normal = p->err_class == EXC_NORMAL ||
                  (p->err_class == EXC_EXIT && p->err_value == mk_atom(A_NORMAL));
    if (normal)
        return;
    sbuf_t b = {0};
    char head[96];
    snprintf(head, sizeof head, "shoal: %sprocess <%llu> exited: ", is_main ? "main " : "",
             (unsigned long long)pcb->pid);
    sbuf_puts(&b, head);
    print_reason(s->rt.h, &b, p);
    if (p->flags & PF_OUT_OF_POOL) {
        sbuf_puts(&b, " (the shared page pool is exhausted; raise --pool-mb)");
    } else if (p->err_class == EXC_ERROR && p->err_value == mk_atom(A_HEAP_LIMIT)) {
        char why[160];
        snprintf(why, sizeof why,
                 " (its heap and stack passed the limit of %llu MiB per process; raise it with "
                 "--heap-limit-mb N or heap_limit_mb in [memory])",
                 (unsigned long long)(p->heap_limit_words * sizeof(term) >> 20));
        sbuf_puts(&b, why);
    }
    /* The reason may hold the program's strings and atoms: their control
     * bytes and bytes that are not UTF-8 go to the terminal as \xNN. */
    sbuf_t e = {0};
    for (size_t i = 0; i < b.len;) {
        size_t k = shoal_utf8_len((const unsigned char *)b.s + i, b.len - i);
        unsigned char c = (unsigned char)b.s[i];
        if (k == 0 || (k == 1 && (c < 0x20 || c == 0x7f))) {
            char x[5];
            snprintf(x, sizeof x, "\\x%02x", c);
            sbuf_puts(&e, x);
            i++;
        } else {
            sbuf_put(&e, b.s + i, k);
            i += k;
        }
    }
    sbuf_puts(&e, "\n");
    if (p->err_class == EXC_ERROR)
        trace_print(s->rt.h, &e, p);
    if (!b.oom && !e.oom && write(2, e.s, e.len) < 0) {
        /* stderr is gone; nothing better to do */
    }
    sbuf_free(&e);
    sbuf_free(&b);
}

/* A process ends, in stages that a next incarnation can resume from if
 * this VM dies in the middle (recover.c): EXITING and the signals stage
 * (its inbox closed; EXIT and DOWN sent, all again if need be: receivers
 * drop a second one), the memory stage (its runs given back one at a
 * time), and its slot freed last. */
void sched_finish_exit(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    shm_header_t *h = rt->h;
    proc_t *p = proc_of(pcb);
    bool is_main = pcb->pid == h->run.main_pid;
    if (p->exit_stage < EXIT_STAGE_MEMORY) {
        ck_pr_store_32(&p->exit_stage, EXIT_STAGE_SIGNALS);
        term reason = p->err_value;
        term tup[3] = {mk_hdr(3, BT_TUPLE), mk_atom(A_ERROR), p->err_value};
        if (p->err_class == EXC_ERROR)
            reason = mk_box(tup);
        bool watched = msg_close(rt, pcb, reason);
        reg_drop(h, pcb); /* after the inbox closed: register.h */
        if (!watched || is_main)
            report_exit(s, pcb, is_main);
        if (is_main) {
            /* (exit 'normal) is a normal end, as in Erlang */
            bool normal = p->err_class == EXC_NORMAL ||
                          (p->err_class == EXC_EXIT && p->err_value == mk_atom(A_NORMAL));
            h->run.exit_status = normal ? SHOAL_EXIT_OK : SHOAL_EXIT_MAIN_FAILED;
            /* release: the exit status is visible before done */
            ck_pr_fence_store();
            ck_pr_store_32(&h->run.done, 1);
            vm_notify();
        }
        /* Store-store: what the signals stage did is done before the
         * memory it read goes. */
        ck_pr_fence_store();
        ck_pr_store_32(&p->exit_stage, EXIT_STAGE_MEMORY);
    }
    msg_free_closed(rt, pcb);
    if (proc_unstarted(p))
        late_count(rt, -1); /* it ends before it ran */
    heap_release(rt, pcb);
    shm_vm_t *self = shm_vm(h, rt->vm);
    /* Single writer (this VM): the supervisor reads statistics. */
    ck_pr_store_64(&self->exited, self->exited + 1);
    proctab_release(h, pcb);
}

static void proc_exit(sched_t *s, pcb_t *pcb)
{
    ck_pr_store_32(&proc_of(pcb)->status, PS_EXITING);
    sched_finish_exit(s, pcb);
}

/* --- hibernation ----------------------------------------------------------
 *
 * A process that waits in receive, with no deadline, for hibernate_ms or
 * more without running gives back what it does not need (heap.h,
 * heap_hibernate). A process that starts to wait is noted on this VM's
 * list of the period, without a look at the clock, unless it is noted
 * already (PF_HIB_NOTED): a process has one entry at most, however often
 * it waits. When a period ends, the lists move on: the list of the
 * period before last is looked at, a batch per round of the loop, while
 * the last period's waits out the next. A process there that has run no
 * slice since it was noted (its reductions are the same) has waited at
 * least a whole period, and hibernates; one that ran is noted again if
 * it waits now, else when it next waits. It hibernates as it would run a
 * slice: the VM claims it (WAITING -> RUNNING, as a sender's wake-up
 * does, so that nobody else can), collects, and lets it wait again,
 * looking at its inbox after, as run_one does. So a VM that dies in the
 * middle loses it as it loses a process it runs (vm_crash). The cost: an
 * entry per process that waits, per period; a collection of what lives
 * per process that waits long; nothing per message. */
#define HIB_BATCH 64u

void sched_hib_note(sched_t *s, pcb_t *pcb)
{
    hib_list_t *l = &s->hib.note;
    proc_t *p = proc_of(pcb);
    if (!s->hib.period_ns || (p->flags & PF_HIB_NOTED) || p->deadline >= 0 || !heap_can_shrink(p))
        return;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 256;
        hib_note_t *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return; /* not noted: it may be when it next waits */
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = (hib_note_t){.pid = pcb->pid, .reds = p->reds};
    p->flags |= PF_HIB_NOTED;
}

static void hib_one(sched_t *s, hib_note_t e)
{
    rt_t *rt = &s->rt;
    pcb_t *pcb = shm_pcb(rt->h, (uint32_t)(e.pid % rt->h->cfg.proc_slots));
    /* ended, or another VM's now (a hand-over drops the note) */
    if (ck_pr_load_64(&pcb->pid) != e.pid || ck_pr_load_32(&pcb->state) != PCB_LIVE ||
        ck_pr_load_32(&pcb->owner) != rt->vm)
        return;
    proc_t *p = proc_of(pcb);
    if (!(p->flags & PF_HIB_NOTED))
        return; /* a hand-over or a recovery dropped the note (it is noted anew) */
    p->flags &= ~PF_HIB_NOTED;
    uint32_t st = ck_pr_load_32(&p->status);
    if (p->reds != e.reds || p->deadline >= 0 || st != PS_WAITING ||
        !ck_pr_cas_32(&p->status, PS_WAITING, PS_RUNNING)) {
        /* it ran since, or waits with a deadline, or is polled, or was
         * just woken: if it waits, it is looked at again a period on
         * (sched_hib_note leaves out what must be); else it is noted
         * when it next waits */
        if (ps_state(ck_pr_load_32(&p->status)) == PS_WAITING)
            sched_hib_note(s, pcb);
        return;
    }
    heap_attach(rt, p);
    if (heap_hibernate(rt, pcb) < 0 && errno != EAGAIN) {
        /* the pool ran dry in the middle, or the heap is past its limit:
         * it cannot go on, as after any collection that failed so (off
         * the balancer's list of waiting processes first, as run_one
         * takes it off before it runs) */
        balance_wait_del(s, pcb);
        bif_error(p, A_HEAP_LIMIT);
        proc_exit(s, pcb);
        return;
    }
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    /* Single writer (this VM): the supervisor reads statistics. */
    ck_pr_store_64(&self->hibernated, self->hibernated + 1);
    wait_here(s, pcb);
}

bool sched_hib_step(sched_t *s)
{
    sched_hib_t *hb = &s->hib;
    if (!hb->period_ns)
        return false;
    if (hb->next < hb->look.n) {
        size_t end = hb->look.n - hb->next > HIB_BATCH ? hb->next + HIB_BATCH : hb->look.n;
        while (hb->next < end)
            hib_one(s, hb->look.v[hb->next++]);
        return true;
    }
    hb->rounds = 0;
    int64_t now = interp_now_ns();
    if (now < hb->period_end)
        return false;
    /* A period is over: what was noted in the one before it has waited
     * out a whole period; the list looked at (done) takes the next
     * period's notes. */
    hib_list_t done = hb->look;
    hb->look = hb->wait;
    hb->wait = hb->note;
    hb->note = done;
    hb->note.n = 0;
    hb->next = 0;
    hb->period_end = now + hb->period_ns;
    return hb->look.n > 0;
}

static bool stopping(const shm_header_t *h)
{
    return ck_pr_load_32(&h->run.stopping) != 0;
}

static bool has_work(void *ctx)
{
    sched_t *s = ctx;
    return s->rq_len > 0 || (uint32_t)ck_pr_load_64(&shm_vm(s->rt.h, s->rt.vm)->inbound) != 0 ||
           balance_pending(s) || (s->rt.info && info_pending(&s->rt));
}

/* Wake the processes whose timers are due. A timer stays on the VM where
 * the process began to wait, also when the process was handed over while
 * waiting: it then wakes the process on its owner, as a sender would. The
 * deadline in the PCB is the truth and this heap a hint, so recovery can
 * rebuild a dead VM's timers from the table. */
void sched_fire_timers(sched_t *s, int64_t now)
{
    timer_t_ t;
    while (timer_pop_due(s, now, &t)) {
        /* a stale timer: the process ended, or received and moved on */
        if (ck_pr_load_64(&t.pcb->pid) != t.pid || ck_pr_load_32(&t.pcb->state) != PCB_LIVE)
            continue;
        proc_t *p = proc_of(t.pcb);
        /* Another VM may own it now: a plain read of a whole word. If it
         * waits with this deadline, the CAS below wins only while it still
         * waits, so a late read wakes nothing that is not waiting. */
        if (ck_pr_load_64((uint64_t *)&p->deadline) != (uint64_t)t.deadline)
            continue;
        sched_wake(&s->rt, t.pcb);
    }
}

/* The VM a torture-mode move goes to: the next one. */
static uint32_t torture_target(const rt_t *rt)
{
    return (rt->vm + 1) % rt->h->cfg.n_vms;
}

void sched_run_one(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    /* Run only a process this VM owns and that is RUNNABLE: a queue entry
     * is a hint, and after a VM's death a process can have two (one left
     * behind). One owned elsewhere goes on to its owner. */
    if (ck_pr_load_32(&pcb->state) != PCB_LIVE || ps_state(ck_pr_load_32(&p->status)) != PS_RUNNABLE)
        return;
    if (ck_pr_load_32(&pcb->owner) != rt->vm) {
        sched_arrive(s, pcb);
        return;
    }
    ck_pr_store_32(&p->status, PS_RUNNING);
    balance_wait_del(s, pcb);
    if (proc_unstarted(p)) {
        late_count(rt, -1);
        if (interp_start_now(rt, pcb) < 0) {
            /* no room in the pool for its first block: it ends as a
             * process does whose heap cannot grow (interp.c, heap_limit) */
            p->err_class = EXC_ERROR;
            p->err_value = mk_atom(A_SYSTEM_LIMIT);
            p->flags |= PF_OUT_OF_POOL;
            proc_exit(s, pcb);
            return;
        }
    }
    heap_attach(rt, p);
    /* heap_follow = eager: a heap that is on another node than its owner
     * is copied over before the process runs there. */
    if (rt->h->cfg.heap_follow == HEAP_FOLLOW_EAGER &&
        (pool_node_of(rt->h, p->hfirst) != rt->node ||
         (p->ofirst && pool_node_of(rt->h, p->ofirst) != rt->node)) &&
        heap_gc(rt, pcb, 0, NULL, 0) < 0)
        bif_error(p, A_HEAP_LIMIT);
    rt->cur = pcb;
    /* Signals act before the slice: a killed process does not run. */
    msg_take(rt, pcb);
    p->flags &= ~PF_PLACED;
    rt->slice_reds = 0;
    enum run_result r = (p->flags & PF_KILLED) ? RUN_EXIT : interp_run(rt, pcb);
    rt->cur = NULL;
    info_slice(rt, pcb);
    /* Message buffers join the heap at a collection; one that receives
     * much and allocates little would never collect, so collect here,
     * between slices, once the buffers outweigh twice what lived last
     * time (a receiver with a backlog copies it at most once per two
     * words that arrive; the heap grows to three times its survivors the
     * same way, heap.c). */
    /* It is an optimisation, so it is skipped when the pool could not
     * hold a whole copy of the heap: a process that receives a flood
     * while the pool is exhausted keeps its buffers rather than die in a
     * collection it did not need (EAGAIN: it could not even start). */
    if (r != RUN_EXIT && p->frag_words > FRAG_GC_WORDS && p->frag_words > 2 * p->live_words &&
        pool_can_spare(rt->h, (p->heap_words + p->frag_words) * sizeof(term) / SHOAL_PAGE + 1) &&
        heap_collect(rt, pcb, 0) < 0 && errno != EAGAIN) {
        bif_error(p, A_HEAP_LIMIT);
        r = RUN_EXIT;
    }
    bool torture = rt->migrate_torture && rt->h->cfg.n_vms > 1;
    switch (r) {
    case RUN_YIELD: {
        /* A safe point: a reduction boundary. An explicit (migrate vm),
         * a plan of the balancer (balance.c: a move asked for while the
         * process was on its way here or running), or torture mode may
         * move the process; only the first while it is pinned. */
        uint32_t to;
        enum mig_cause cause;
        if (p->migrate_to && p->migrate_to - 1 != rt->vm) {
            sched_hand_over(s, pcb, p->migrate_to - 1, MIG_EXPLICIT, true);
        } else if (p->hint_vm && balance_hint(s, pcb, &to, &cause)) {
            sched_hand_over(s, pcb, to, cause, true);
        } else if (torture && !proc_pinned(p)) {
            sched_hand_over(s, pcb, torture_target(rt), MIG_TORTURE, true);
        } else {
            p->migrate_to = 0;
            ck_pr_store_32(&p->status, ps_runnable(rt->vm, rt->inc));
            runq_push(s, pcb);
        }
        break;
    }
    case RUN_WAIT: {
        uint32_t to;
        enum mig_cause cause;
        /* (migrate vm) holds until the process next waits */
        p->flags &= ~PF_PINNED;
        if (p->deadline >= 0 && timer_push(s, p->deadline, pcb) < 0) {
            /* no memory for its timer: keep it runnable, so that it
             * retries the wait instead of sleeping past its deadline */
            ck_pr_store_32(&p->status, ps_runnable(rt->vm, rt->inc));
            runq_push(s, pcb);
            break;
        }
        if (torture && !proc_pinned(p)) {
            /* the other safe point: a blocking receive */
            sched_hand_over(s, pcb, torture_target(rt), MIG_TORTURE, false);
            break;
        }
        if (p->hint_vm && balance_hint(s, pcb, &to, &cause)) {
            /* a plan's move, at a blocking receive */
            sched_hand_over(s, pcb, to, cause, false);
            break;
        }
        balance_wait_add(s, pcb);
        sched_hib_note(s, pcb);
        if (s->poll_waits && s->rq_len == 0 && p->deadline < 0)
            poll_add(s, pcb);
        else
            wait_here(s, pcb);
        break;
    }
    case RUN_EXIT:
        proc_exit(s, pcb);
        break;
    }
}

/* Work stealing: an idle VM asks the nearest VM that has work queued to
 * hand it some (the policy decides whom and how much: policy/steal.c).
 * The victim hands processes over at its next scheduling point, from its
 * own queue, so stealing never races with running. */
/* Processes a give passes over (placed by spawn-on and not yet run, or
 * pinned) before it stops: a request is served at every round while
 * such processes are queued, and a walk of the whole queue each time
 * made a spawner of thousands of them quadratic. What lies past them is
 * given at a later round, when the VM has run those in front. */
#define GIVE_SKIP_MAX 32u

void sched_give_work(sched_t *s)
{
    shm_vm_t *self = shm_vm(s->rt.h, s->rt.vm);
    uint32_t req = ck_pr_load_32(&self->steal_req);
    if (!req)
        return;
    ck_pr_store_32(&self->steal_req, 0);
    uint32_t thief = req - 1;
    size_t n = balance_amount(&s->rt, s->rq_len, thief), given = 0, placed = 0;
    /* Nothing here may go but processes spawn-on placed that have not
     * run: no walk of the queue (a spawner that queues thousands of
     * them would walk it at every round); the request stays, as below. */
    if (n > 0 && s->rq_placed == s->rq_len) {
        if (s->rq_placed >= 2)
            ck_pr_cas_32(&self->steal_req, 0, req);
        return;
    }
    /* From the head of the queue until n have gone: processes that
     * spawn-on placed here and that have not run yet stay (their placement
     * is where they start), and so do pinned ones (migrate, call-on); the
     * others go. What stays goes back to the head, in its order, before
     * the part of the queue not looked at: a give costs what it gives and
     * skips, not the whole queue (a spawner's queue of thousands, asked
     * again and again by a thief that runs its share quickly). What goes
     * is pushed to the thief in one chain: one CAS on its list and one
     * wake-up, not one each (a sleeping thief got a FUTEX_WAKE per
     * process until it ran). */
    pcb_t *newest = NULL, *oldest = NULL, *kept_head = NULL, *kept_tail = NULL;
    size_t kept = 0;
    while (given < n && kept < GIVE_SKIP_MAX) {
        pcb_t *pcb = runq_pop(s);
        if (!pcb)
            break;
        proc_t *p = proc_of(pcb);
        placed += (p->flags & PF_PLACED) != 0;
        if (!(p->flags & PF_PLACED) && !proc_pinned(p)) {
            hand_over_unqueued(s, pcb, thief, MIG_STEAL, true);
            p->inbound_next = newest ? newest->slot + 1 : 0;
            newest = pcb;
            if (!oldest)
                oldest = pcb;
            given++;
        } else {
            p->flags |= PF_IN_RUNQ;
            p->rq_next = NULL;
            if (kept_tail)
                proc_of(kept_tail)->rq_next = pcb;
            else
                kept_head = pcb;
            kept_tail = pcb;
            kept++;
        }
    }
    if (n == 0) /* (the policy gives nothing now: count for the request below) */
        placed = s->rq_placed;
    if (kept_head) {
        proc_of(kept_tail)->rq_next = s->rq_head;
        s->rq_head = kept_head;
        if (!s->rq_tail)
            s->rq_tail = kept_tail;
        s->rq_len += kept;
        for (pcb_t *q = kept_head; q; q = q == kept_tail ? NULL : proc_of(q)->rq_next)
            s->rq_placed += (proc_of(q)->flags & PF_PLACED) != 0;
    }
    if (newest)
        inbound_push_chain(s->rt.h, thief, newest, oldest);
    /* Nothing to give but processes that have not run yet: they can go
     * once they ran, so the request stays for the next round rather than
     * leave the thief asleep until its timeout (a burst of spawn-on). A
     * request another thief made meanwhile wins. */
    if (given == 0 && placed >= 2)
        ck_pr_cas_32(&self->steal_req, 0, req);
}

void sched_find_pu_peers(sched_t *s)
{
    const shm_header_t *h = s->rt.h;
    const shm_vm_t *self = shm_vm(h, s->rt.vm);
    if (!self->shares_pu)
        return;
    for (uint32_t i = 0; i < h->cfg.n_vms; i++) {
        if (i == s->rt.vm || !shm_vm_same_pus(shm_vm(h, i), self))
            continue;
        if (s->n_pu_peers == SCHED_PU_PEERS)
            s->pu_crowded = true;
        else
            s->pu_peers[s->n_pu_peers++] = i;
    }
}

bool sched_pu_peer_busy(const sched_t *s)
{
    if (s->pu_crowded)
        return true;
    for (uint32_t i = 0; i < s->n_pu_peers; i++) {
        const shm_vm_t *v = shm_vm(s->rt.h, s->pu_peers[i]);
        /* Relaxed: a hint; a wrong answer costs one round of the loop. */
        if (ck_pr_load_32((uint32_t *)&v->state) != VM_RUNNING)
            continue;
        if (!ck_pr_load_32((uint32_t *)&v->sleeping) ||
            (uint32_t)ck_pr_load_64((uint64_t *)&v->inbound) != 0)
            return true;
    }
    return false;
}

static void ask_for_work(sched_t *s)
{
    rt_t *rt = &s->rt;
    uint32_t victims[SHOAL_MAX_VMS];
    size_t n = balance_victims(rt, victims, SHOAL_MAX_VMS);
    for (size_t i = 0; i < n; i++) {
        shm_vm_t *v = shm_vm(rt->h, victims[i]);
        if (ck_pr_cas_32(&v->steal_req, 0, rt->vm + 1))
            return;
    }
}

int sched_main(shm_header_t *h, uint32_t vm)
{
    sched_t s = {0};
    shm_vm_t *self = shm_vm(h, vm);
    s.rt.sched = &s;
    s.rt.h = h;
    s.rt.vm = vm;
    s.rt.node = self->node;
    sched_find_pu_peers(&s);
    s.poll_waits = !self->shares_pu;
    s.rt.rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)vm << 32) ^ (uint64_t)getpid();
    const char *t = getenv("SHOAL_GC_TORTURE");
    s.rt.gc_torture = t && *t && strcmp(t, "0") != 0;
    t = getenv("SHOAL_MIGRATE_TORTURE");
    s.rt.migrate_torture = t && *t && strcmp(t, "0") != 0;
    s.rt.default_heap_limit_words = h->cfg.heap_limit_bytes / sizeof(term);
    s.hib.period_ns = (int64_t)h->cfg.hibernate_ms * 1000000;
    /* GC torture hibernates a process that waits a millisecond, so that
     * the suite run under it tries hibernation everywhere */
    if (s.rt.gc_torture && s.hib.period_ns > 1000000)
        s.hib.period_ns = 1000000;
    s.hib.period_end = interp_now_ns() + s.hib.period_ns;
    s.rt.inc = ck_pr_load_32(&self->restarts);
    /* Acquire: the deaths the supervisor counted before our fork, with
     * whatever it repaired for them, are behind us. */
    s.deaths = ck_pr_load_32(&h->run.deaths);
    ck_pr_fence_acquire();
    if (balance_init(&s) < 0) {
        fprintf(stderr, "shoal: VM %u: out of memory\n", vm);
        return SHOAL_EXIT_FAIL;
    }

    info_init(&s.rt);

    /* Message slots to give back, in batches (NULL: one at a time). */
    s.rt.arena = arena_local_new(h->cfg.n_vms);

    code_table_t *ct = code_table(h);
    if (s.rt.inc > 0) {
        /* a restart: take over from our previous incarnation first (its
         * arena before anything is sent) */
        arena_adopt(h, vm);
        recover_self(&s);
    } else if (vm == 0) {
        uint64_t pid;
        if (proc_spawn(&s.rt, 0, ct->funcs[ct->main_index]->value, NULL, 0, &pid, true) == 0)
            h->run.main_pid = pid;
        else {
            fprintf(stderr, "shoal: cannot start main: %s\n", strerror(errno));
            h->run.exit_status = SHOAL_EXIT_FAIL;
            ck_pr_fence_store();
            ck_pr_store_32(&h->run.done, 1);
            vm_notify();
        }
    }
    while (!stopping(h)) {
        vm_beat();
        uint32_t now_deaths = ck_pr_load_32(&h->run.deaths);
        if (now_deaths != s.deaths) {
            /* a VM died: take over what it left in our hands (recover.h) */
            ck_pr_fence_acquire();
            s.deaths = now_deaths;
            recover_orphans(&s);
        }
        if (info_pending(&s.rt))
            info_serve(&s);
        /* The calls only when there is something (most rounds there is
         * not): relaxed loads of words on this VM's own lines; each
         * function looks again with the order it needs. */
        if (ck_pr_load_64(&self->inbound) != 0)
            sched_drain_inbound(&s);
        /* Written only when it changes (a death is rare): this drain began
         * after we saw s.deaths. */
        if (ck_pr_load_32(&self->drained_deaths) != s.deaths)
            ck_pr_store_32(&self->drained_deaths, s.deaths);
        if (s.recheck)
            recover_recheck(&s);
        s.give_blocked = false;
        if (ck_pr_load_32(&self->steal_req) != 0)
            sched_give_work(&s);
        balance_round(&s);
        /* Written only when it changes: stealers read this line while
         * they look for work, and every write would pull it from them. */
        if (ck_pr_load_32(&self->runq) != (uint32_t)s.rq_len)
            ck_pr_store_32(&self->runq, (uint32_t)s.rq_len);
        if (s.ntimers)
            sched_fire_timers(&s, interp_now_ns());
        if (s.n_polled)
            sched_poll(&s);
        if (s.hib.period_ns &&
            (s.hib.next < s.hib.look.n || ++s.hib.rounds >= SCHED_HIB_ROUNDS))
            sched_hib_step(&s);
        pcb_t *pcb = runq_pop(&s);
        if (pcb) {
            if (!balance_divert(&s, pcb))
                sched_run_one(&s, pcb);
            continue;
        }
        /* Out of work: spin a little before sleeping: a futex wake-up
         * costs tens of microseconds here, a cache line from another core
         * ~50 ns (BENCH.md). SPIN_ROUNDS * ck_pr_stall is about 20 us.
         * Only a VM that stays idle for ASK_ROUNDS asks a busy VM for
         * work, and again every ASK_ROUNDS while it spins (the victim
         * answers at its next scheduling point or spawn, most often
         * before the spin ends, so the work needs no wake-up): a VM that
         * is idle for a moment between two messages (a ping-pong) would
         * otherwise read the other VMs' queue lengths each time, and each
         * VM's next update of its own would then miss in its cache, on
         * the message's path. A VM that stole since it was last idle asks
         * at once: its victim is most likely still busy (a spawner whose
         * children it runs). The victim's hand-over wakes us if we are
         * asleep by then. */
        /* A VM that shares its PUs with others spins only while they all
         * sleep with nothing queued: the cycles it would burn are
         * otherwise another VM's, maybe the one about to send it work. It
         * gives the PU away then (a yield counts as SPIN_ROUNDS /
         * SHARED_YIELDS rounds), and sleeps after as long a spin. */
        bool got = false, yielded = false;
        int spun = 0;
        info_idle_begin(&s.rt);
        /* A VM that got work by stealing since it was last idle asks at
         * once: the VM it stole from is likely busy still (a spawner). */
        uint64_t stolen = ck_pr_load_64(&self->mig_in[MIG_STEAL]);
        int ask_at = stolen != s.stolen_seen ? 0 : ASK_ROUNDS;
        s.stolen_seen = stolen;
        for (; spun < SPIN_ROUNDS && !got; spun++) {
            if (spun >= ask_at) {
                ask_for_work(&s);
                ask_at = spun + ASK_ROUNDS;
            }
            if (sched_pu_peer_busy(&s)) {
                sched_yield();
                yielded = true;
                spun += SPIN_ROUNDS / SHARED_YIELDS - 1;
            } else {
                ck_pr_stall();
            }
            got = (uint32_t)ck_pr_load_64(&self->inbound) != 0 || sched_poll_ready(&s);
        }
        if (got) {
            /* no clock read here, on the message's path: the spin's
             * length is counted in rounds (info.h) */
            if (yielded)
                info_idle_end(&s.rt); /* yields take what the others run */
            else
                info_idle_end_spin(&s.rt, (uint32_t)spun);
            continue;
        }
        /* Free what this VM's table operations left to free (retired
         * entries, dropped tables), a bit at a time, before sleeping. */
        if (ets_idle(&s.rt) || sched_hib_step(&s)) {
            info_idle_end(&s.rt);
            continue;
        }
        balance_publish(&s.rt);
        ask_for_work(&s);
        /* Asleep, we would hold other VMs' message slots for nothing,
         * and keep the pool's count of processes not yet run off. */
        arena_flush(h, s.rt.arena);
        late_flush(&s.rt);
        uint32_t ms = VM_IDLE_MS;
        if (s.ntimers) {
            int64_t d = s.timers[0].deadline - interp_now_ns();
            if (d <= 0) {
                info_idle_end(&s.rt);
                continue;
            }
            int64_t dm = (d + 999999) / 1000000;
            if (dm < ms)
                ms = (uint32_t)dm;
        }
        /* Asleep, we would see no polled process's message: they wait
         * as any other from here on, and one that has a message runs. */
        if (sched_unpoll_all(&s) > 0) {
            info_idle_end(&s.rt);
            continue;
        }
        vm_sleep(h, self, has_work, &s, ms);
        info_idle_end(&s.rt);
    }
    arena_flush(h, s.rt.arena);
    late_flush(&s.rt);
    arena_local_free(s.rt.arena);
    s.rt.arena = NULL;
    balance_free(&s);
    sched_free(&s);
    return 0;
}
