/*
 * test_sched_run.c: sched_run_one, the scheduler's slice, on compiled
 * code: a world of two VMs (tests/vm_world.h) with a small program
 * loaded, whose functions are spawned with proc_spawn and run by hand, a
 * slice at a time, on the VM that owns them, as sched_main would
 * (vw_next: drain the inbound list, pop the run queue). Each test files
 * the process by how its slice ended and checks where it went: ended
 * (slot freed, its monitor told), requeued, waiting with or without a
 * timer, moved by migration torture, by (migrate vm), by the balancer's
 * hint, or kept where it is because it is pinned.
 *
 * The queue and hand-over functions themselves are tested in
 * test_sched.c, without the interpreter.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/vmtab.h"
#include "vmproc/compiler.h"
#include "vmproc/interp.h"
#include "vmproc/msg.h"
#include "vmproc/recover.h"
#include "vmproc/sched.h"

#include <ck_pr.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

static const char run_program[] =
    "(defn main () 'ok)\n"
    "(defn quick () 'done)\n"
    "(defn spin (n) (if (= n 0) 'ok (spin (- n 1))))\n"
    "(defn wait-after (ms) (receive (x x) (after ms 'timeout)))\n"
    "(defn wait-any () (receive (x x)))\n"
    "(defn watch (pid) (monitor pid) (receive (m m)))\n"
    "(defn go (vm) (migrate vm) (spin 20000) (receive (x x)) (spin 20000))\n"
    "(defn wait-spin () (receive (x x)) (spin 20000))\n"
    "(defn on (vm) (call-on vm wait-spin) 'back)\n";

/* Two VMs on one node with run_program loaded. */
static bool run_world(vw_t *w)
{
    return vw_open_program(w, 2, 1, 64, 32u << 20, HEAP_FOLLOW_ON_GC, run_program);
}

/* Spawn run_program's `name` with `argc` integer arguments from VM 0
 * onto VM `on` (queued there as proc_spawn queues it); the PCB, or NULL. */
static pcb_t *spawn_fn(vw_t *w, uint32_t on, const char *name, uint32_t argc, int64_t arg)
{
    const func_t *f = lh_func(w->h, name, argc);
    if (!f)
        return NULL;
    term a = mk_fix(arg);
    uint64_t pid = 0;
    if (proc_spawn(vw_rt(w, 0), on, f->value, &a, argc, &pid, false) < 0)
        return NULL;
    return proctab_lookup(w->h, pid);
}

/* Run the next slice on VM `vm`, which must be pcb's (its inbound list
 * taken in first, as the loop does): false, with nothing run, if VM `vm`
 * would run anything else. */
static bool run_next(vw_t *w, uint32_t vm, pcb_t *pcb)
{
    if (vw_next(w, vm) != pcb)
        return false;
    sched_run_one(&w->s[vm], pcb);
    return true;
}

/* Whether the process `pid` is gone: its slot free (no other process
 * is started in these tests while it is checked) and its pid dead. */
static bool ended(const vw_t *w, pcb_t *pcb, uint64_t pid)
{
    return proctab_lookup(w->h, pid) == NULL && ck_pr_load_32(&pcb->state) == PCB_FREE;
}

static enum send_result send_ok(vw_t *w, uint32_t from_vm, pcb_t *to)
{
    return msg_send(vw_rt(w, from_vm), to->pid, SIG_MSG, 7 * w->h->cfg.proc_slots + 5,
                    mk_atom(A_OK), T_NIL);
}

/* A process that returns ends in its slice: its slot is freed, its VM
 * counts it no more, and the process that monitors it (on the other VM,
 * waiting in receive) gets #(DOWN ref pid normal), which wakes it onto
 * its own VM's inbound list. */
static void test_run_one_returns(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    pcb_t *t = spawn_fn(&w, 0, "quick", 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    uint64_t tpid = t->pid;
    const func_t *watch = lh_func(w.h, "watch", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(watch);
    term a = mk_pid(tpid);
    uint64_t wpid = 0;
    CU_ASSERT_EQUAL_FATAL(proc_spawn(vw_rt(&w, 0), 1, watch->value, &a, 1, &wpid, false), 0);
    pcb_t *wt = vw_next(&w, 1);
    CU_ASSERT_PTR_EQUAL_FATAL(wt, proctab_lookup(w.h, wpid));
    sched_run_one(&w.s[1], wt); /* monitors t, then waits */
    CU_ASSERT_EQUAL_FATAL(proc_of(wt)->status, PS_WAITING);

    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, t));
    CU_ASSERT_TRUE(ended(&w, t, tpid));
    CU_ASSERT_EQUAL(shm_vm_procs(shm_vm(w.h, 0)), 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len + w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), 0);
    /* the DOWN woke the watcher on its VM */
    CU_ASSERT_EQUAL(ps_state(proc_of(wt)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)wt->slot + 1);
    CU_ASSERT_PTR_EQUAL_FATAL(vw_next(&w, 1), wt);
    CU_ASSERT_EQUAL(msg_take(vw_rt(&w, 1), wt), 1);
    term node = proc_of(wt)->mbox_first;
    CU_ASSERT_NOT_EQUAL_FATAL(node, 0);
    term m = box_ptr(node)[2];
    CU_ASSERT_TRUE_FATAL(is_tuple(m) && tuple_size(m) == 4);
    CU_ASSERT_EQUAL(tuple_elems(m)[0], mk_atom(A_DOWN));
    CU_ASSERT_EQUAL(tuple_elems(m)[2], mk_pid(tpid));
    CU_ASSERT_EQUAL(tuple_elems(m)[3], mk_atom(A_NORMAL));
    /* and the watcher, given its message, returns and ends too */
    sched_run_one(&w.s[1], wt);
    CU_ASSERT_TRUE(ended(&w, wt, wpid));
    CU_ASSERT_EQUAL(shm_vm_procs(shm_vm(w.h, 1)), 0);
    char why[256];
    CU_ASSERT_EQUAL(pool_check(w.h, why, sizeof why), 0);
    vw_close(&w);
}

/* A process that uses up its slice (a long loop) is RUNNABLE again at
 * the back of its VM's run queue, behind what was queued meanwhile; it
 * is not moved and no move is counted. */
static void test_run_one_yields(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    pcb_t *a = spawn_fn(&w, 0, "spin", 1, 1000000), *b = spawn_fn(&w, 0, "quick", 0, 0);
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, a));
    CU_ASSERT_EQUAL(ps_state(proc_of(a)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(a->owner, 0);
    uint32_t q[4];
    CU_ASSERT_EQUAL_FATAL(vw_runq_slots(&w, 0, q, 4), 2);
    CU_ASSERT_EQUAL(q[0], b->slot);
    CU_ASSERT_EQUAL(q[1], a->slot);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0) + vw_inbound(&w, 1), 0);
    CU_ASSERT_EQUAL(proc_of(a)->migrations, 0);
    CU_ASSERT_EQUAL(w.s[0].ntimers, 0);
    vw_free_all(&w);
    vw_close(&w);
}

/* A wait whose timer cannot be set (timer_push out of memory) does not
 * leave the process waiting with no timer, asleep past its deadline: it
 * stays RUNNABLE, queued, and retries its wait on its next slice, where
 * the timer is set. The same for a waiting process handed over, whose new
 * owner cannot set its timer when it takes it in. */
/* After a timer that could not be set on VM vm: the failure was taken
 * (fail_timers back to 0), the process is runnable again with no timer,
 * queued once; run again, it waits with its timer and leaves the queue. */
static void check_timer_retried(vw_t *w, uint32_t vm, pcb_t *c)
{
    CU_ASSERT_EQUAL(w->s[vm].fail_timers, 0);
    CU_ASSERT_EQUAL(ps_state(proc_of(c)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(w->s[vm].ntimers, 0);
    CU_ASSERT_EQUAL(w->s[vm].rq_len, 1);
    CU_ASSERT_TRUE_FATAL(run_next(w, vm, c));
    CU_ASSERT_EQUAL(proc_of(c)->status, PS_WAITING);
    CU_ASSERT_EQUAL(w->s[vm].ntimers, 1);
    CU_ASSERT_EQUAL(w->s[vm].rq_len, 0);
}

static void test_run_one_timer_fails(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    pcb_t *c = spawn_fn(&w, 0, "wait-after", 1, 60000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_EQUAL_FATAL(vw_next(&w, 0), c);
    w.s[0].fail_timers = 1;
    sched_run_one(&w.s[0], c);
    check_timer_retried(&w, 0, c);

    /* handed over waiting; VM 1 cannot set the timer as it takes it in */
    CU_ASSERT_TRUE_FATAL(sched_hand_over_waiting(&w.s[0], c, 1, MIG_REBALANCE));
    w.s[1].fail_timers = 1;
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(c->owner, 1);
    check_timer_retried(&w, 1, c);
    vw_free_all(&w);
    vw_close(&w);
}

/* A process that waits in receive is WAITING and on no queue, with a
 * timer at its deadline if its receive has an after, and none if not; a
 * message wakes it (from another VM: through the inbound list; from its
 * own: straight onto the run queue), it takes the message and ends, and
 * the timer it left is then stale: firing it wakes nobody. */
static void test_run_one_waits(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    pcb_t *c = spawn_fn(&w, 0, "wait-after", 1, 60000), *d = spawn_fn(&w, 0, "wait-any", 0, 0);
    CU_ASSERT_FATAL(c && d);
    uint64_t cpid = c->pid, dpid = d->pid;
    CU_ASSERT_PTR_EQUAL_FATAL(vw_next(&w, 0), c);
    int64_t t0 = interp_now_ns();
    sched_run_one(&w.s[0], c);
    int64_t t1 = interp_now_ns();
    CU_ASSERT_EQUAL(proc_of(c)->status, PS_WAITING);
    CU_ASSERT_EQUAL_FATAL(w.s[0].ntimers, 1);
    CU_ASSERT_PTR_EQUAL(w.s[0].timers[0].pcb, c);
    CU_ASSERT_EQUAL(w.s[0].timers[0].pid, cpid);
    CU_ASSERT_EQUAL(w.s[0].timers[0].deadline, proc_of(c)->deadline);
    int64_t minute = 60000ll * 1000000;
    CU_ASSERT(proc_of(c)->deadline >= t0 + minute && proc_of(c)->deadline <= t1 + minute);
    uint32_t q[4];
    CU_ASSERT_EQUAL_FATAL(vw_runq_slots(&w, 0, q, 4), 1); /* only d */
    CU_ASSERT_EQUAL(q[0], d->slot);

    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, d));
    CU_ASSERT_EQUAL(proc_of(d)->status, PS_WAITING);
    CU_ASSERT_EQUAL(proc_of(d)->deadline, -1);
    CU_ASSERT_EQUAL(w.s[0].ntimers, 1); /* no timer for d */
    CU_ASSERT_EQUAL(w.s[0].rq_len, 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0) + vw_inbound(&w, 1), 0);

    CU_ASSERT_EQUAL(send_ok(&w, 1, d), SEND_OK);
    CU_ASSERT_EQUAL(ps_state(proc_of(d)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), (uint64_t)d->slot + 1);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, d));
    CU_ASSERT_TRUE(ended(&w, d, dpid));

    CU_ASSERT_EQUAL(send_ok(&w, 0, c), SEND_OK);
    CU_ASSERT_EQUAL(ps_state(proc_of(c)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 1);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, c));
    CU_ASSERT_TRUE(ended(&w, c, cpid));
    sched_fire_timers(&w.s[0], INT64_MAX);
    CU_ASSERT_EQUAL(w.s[0].ntimers, 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len + w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0) + vw_inbound(&w, 1), 0);
    vw_close(&w);
}

/* (receive ... (after 50 ...)) with no message: its timer is not due a
 * nanosecond before the deadline, fires once the clock passes it, and
 * the process then takes the after branch and ends (rather than wait
 * again). */
static void test_run_one_timeout(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    pcb_t *e = spawn_fn(&w, 0, "wait-after", 1, 50);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    uint64_t pid = e->pid;
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, e));
    CU_ASSERT_EQUAL_FATAL(proc_of(e)->status, PS_WAITING);
    int64_t d = proc_of(e)->deadline;
    CU_ASSERT_EQUAL_FATAL(w.s[0].ntimers, 1);
    sched_fire_timers(&w.s[0], d - 1);
    CU_ASSERT_EQUAL(proc_of(e)->status, PS_WAITING);
    CU_ASSERT_EQUAL(w.s[0].ntimers, 1);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 0);
    /* wait for the clock to pass the deadline (50 ms; bounded at 10 s) */
    int64_t give_up = interp_now_ns() + 10000ll * 1000000;
    while (interp_now_ns() < d && interp_now_ns() < give_up)
        sched_yield();
    int64_t now = interp_now_ns();
    CU_ASSERT_FATAL(now >= d);
    sched_fire_timers(&w.s[0], now);
    CU_ASSERT_EQUAL(ps_state(proc_of(e)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(w.s[0].ntimers, 0);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, e));
    CU_ASSERT_TRUE(ended(&w, e, pid));
    CU_ASSERT_EQUAL(w.s[0].ntimers, 0);
    vw_close(&w);
}

/* Migration torture (rt->migrate_torture, as SHOAL_MIGRATE_TORTURE sets
 * it): every call ends the slice, and at each yield the process is
 * handed to the next VM, counted nowhere; a pinned one (migrate's
 * PF_PINNED, or inside a call-on) stays. */
static void test_run_one_torture_yield(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    vw_rt(&w, 0)->migrate_torture = vw_rt(&w, 1)->migrate_torture = true;
    pcb_t *f = spawn_fn(&w, 0, "spin", 1, 1000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    proc_t *p = proc_of(f);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, f));
    CU_ASSERT_EQUAL(f->owner, 1);
    CU_ASSERT_EQUAL(ps_state(p->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)f->slot + 1);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 0);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, f)); /* and on, back to VM 0 */
    CU_ASSERT_EQUAL(f->owner, 0);

    /* pinned, either way: it stays, slice after slice */
    for (int how = 0; how < 2; how++) {
        if (how == 0)
            p->flags |= PF_PINNED;
        else
            p->pin_depth = 1;
        for (int i = 0; i < 3; i++) {
            CU_ASSERT_TRUE_FATAL(run_next(&w, 0, f));
            LH_CHECK(f->owner == 0 && ps_state(p->status) == PS_RUNNABLE, "pinned (%s), slice %d: owner %u",
                     how ? "call-on" : "migrate", i, f->owner);
            CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);
        }
        p->flags &= ~PF_PINNED;
        p->pin_depth = 0;
    }
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, f)); /* unpinned: moves again */
    CU_ASSERT_EQUAL(f->owner, 1);
    /* counted nowhere */
    CU_ASSERT_EQUAL(p->migrations, 0);
    for (int c = 0; c < MIG_CAUSES; c++) {
        CU_ASSERT_EQUAL(p->mig[c], 0);
        for (uint32_t vm = 0; vm < 2; vm++) {
            CU_ASSERT_EQUAL(shm_vm(w.h, vm)->mig_in[c], 0);
            CU_ASSERT_EQUAL(shm_vm(w.h, vm)->mig_out[c], 0);
        }
    }
    vw_free_all(&w);
    vw_close(&w);
}

/* Run `pcb` on its owner under migration torture until it waits (at most
 * `max` slices); the slices it yielded in, or -1 if a yield left it on
 * the VM that ran it when `moves`, or moved it when not. */
static int run_until_wait(vw_t *w, pcb_t *pcb, int max, bool moves, uint32_t *last_vm)
{
    int yields = 0;
    for (int i = 0; i < max; i++) {
        uint32_t vm = pcb->owner;
        if (!run_next(w, vm, pcb))
            return -1;
        *last_vm = vm;
        if (ps_state(proc_of(pcb)->status) == PS_MOVING)
            sched_drain_inbound(&w->s[pcb->owner]); /* handed over at the wait: settled there */
        if (proc_of(pcb)->status == PS_WAITING)
            return yields;
        if ((pcb->owner != vm) != moves)
            return -1;
        yields++;
    }
    return -1;
}

/* Migration torture at the other safe point, a blocking receive: the
 * process is handed over waiting (MOVING, on the next VM's inbound list,
 * which settles it waiting there, on no queue), and a message wakes it
 * there. PF_PINNED from migrate lasts only until
 * that wait, so it does not keep the process; a call-on's pin does. */
static void test_run_one_torture_wait(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    vw_rt(&w, 0)->migrate_torture = vw_rt(&w, 1)->migrate_torture = true;
    for (int how = 0; how < 3; how++) {
        /* 0: not pinned; 1: PF_PINNED (migrate); 2: pin_depth (call-on) */
        pcb_t *g = spawn_fn(&w, 0, "wait-any", 0, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(g);
        uint64_t pid = g->pid;
        proc_t *p = proc_of(g);
        if (how == 1)
            p->flags |= PF_PINNED;
        if (how == 2)
            p->pin_depth = 1;
        uint32_t last = 0;
        int yields = run_until_wait(&w, g, 20, how == 0, &last);
        LH_CHECK(yields > 0, "pin %d: %d yields before the wait", how, yields);
        CU_ASSERT_EQUAL_FATAL(p->status, PS_WAITING);
        uint32_t want = how == 2 ? last : 1 - last;
        LH_CHECK(g->owner == want, "pin %d: waits on VM %u, not %u", how, g->owner, want);
        CU_ASSERT_EQUAL(p->flags & PF_PINNED, 0);
        CU_ASSERT_EQUAL(w.s[0].rq_len + w.s[1].rq_len, 0);
        CU_ASSERT_EQUAL(vw_inbound(&w, 0) + vw_inbound(&w, 1), 0);
        /* a message from the other VM wakes it onto its owner */
        CU_ASSERT_EQUAL(send_ok(&w, 1 - g->owner, g), SEND_OK);
        CU_ASSERT_EQUAL(ps_state(p->status), PS_RUNNABLE);
        CU_ASSERT_EQUAL(vw_inbound(&w, g->owner), (uint64_t)g->slot + 1);
        /* it takes the message and ends, wherever torture takes it */
        p->pin_depth = 0;
        for (int i = 0; i < 20 && !ended(&w, g, pid); i++) {
            uint32_t vm = g->owner;
            CU_ASSERT_TRUE_FATAL(run_next(&w, vm, g));
        }
        CU_ASSERT_TRUE(ended(&w, g, pid));
    }
    for (int c = 0; c < MIG_CAUSES; c++)
        for (uint32_t vm = 0; vm < 2; vm++)
            CU_ASSERT_EQUAL(shm_vm(w.h, vm)->mig_out[c] + shm_vm(w.h, vm)->mig_in[c], 0);
    vw_close(&w);
}

/* (migrate 1) on VM 0: the slice ends at the call, and the process is
 * handed to VM 1 as an explicit move (counted once, on both sides) and
 * pinned there: a plan's move back is dropped (counted as dropped), and
 * the process stays, slice after slice, until it waits in receive; at
 * its first yield after the wait, a plan's move moves it (a rebalance
 * move) and is used up. */
static void test_run_one_migrate_pins(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    pcb_t *g = spawn_fn(&w, 0, "go", 1, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    proc_t *p = proc_of(g);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, g));
    CU_ASSERT_EQUAL(g->owner, 1);
    CU_ASSERT_EQUAL(ps_state(p->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)g->slot + 1);
    CU_ASSERT_TRUE(p->flags & PF_PINNED);
    CU_ASSERT_EQUAL(p->migrate_to, 0);
    CU_ASSERT_EQUAL(p->migrations, 1);
    CU_ASSERT_EQUAL(p->mig[MIG_EXPLICIT], 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->mig_out[MIG_EXPLICIT], 1);
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(shm_vm(w.h, 1)->mig_in[MIG_EXPLICIT], 1);

    /* a plan asks it back to VM 0 */
    const uint32_t back = (0 + 1) | (uint32_t)MIG_REBALANCE << 16;
    ck_pr_store_32(&p->hint_vm, back);
    int yields = 0;
    for (int i = 0; i < 100; i++) {
        CU_ASSERT_TRUE_FATAL(run_next(&w, 1, g));
        if (p->status == PS_WAITING)
            break;
        LH_CHECK(g->owner == 1, "pinned, slice %d: moved to VM %u", i, g->owner);
        CU_ASSERT_EQUAL(ck_pr_load_32(&p->hint_vm), 0);
        yields++;
    }
    LH_CHECK(yields >= 5, "only %d slices ran pinned before the wait", yields);
    CU_ASSERT_EQUAL_FATAL(p->status, PS_WAITING);
    CU_ASSERT_EQUAL(g->owner, 1);
    CU_ASSERT_EQUAL(p->flags & PF_PINNED, 0);
    CU_ASSERT_EQUAL(shm_vm(w.h, 1)->plan_dropped, 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 1)->plan_done, 0);

    /* not pinned any more: the next plan's move is acted on */
    ck_pr_store_32(&p->hint_vm, back);
    CU_ASSERT_EQUAL(send_ok(&w, 0, g), SEND_OK);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, g));
    CU_ASSERT_EQUAL(g->owner, 0);
    CU_ASSERT_EQUAL(ps_state(p->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(ck_pr_load_32(&p->hint_vm), 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), (uint64_t)g->slot + 1);
    CU_ASSERT_EQUAL(p->migrations, 2);
    CU_ASSERT_EQUAL(p->mig[MIG_REBALANCE], 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 1)->mig_out[MIG_REBALANCE], 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 1)->plan_done, 1);
    sched_drain_inbound(&w.s[0]);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->mig_in[MIG_REBALANCE], 1);
    vw_free_all(&w);
    vw_close(&w);
}

/* (call-on 1 wait-spin) from VM 0: moved to VM 1 for the call, pinned for
 * all of it, also after it waits in receive inside the call (the wait
 * clears migrate's pin, not call-on's): a plan's move is dropped, not
 * acted on; the end of the call moves it home (a second explicit move), and it
 * returns there. */
static void test_run_one_call_on_pins(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    pcb_t *g = spawn_fn(&w, 0, "on", 1, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(g);
    uint64_t pid = g->pid;
    proc_t *p = proc_of(g);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, g));
    CU_ASSERT_EQUAL(g->owner, 1);
    CU_ASSERT_EQUAL(p->pin_depth, 1);
    CU_ASSERT_EQUAL(p->mig[MIG_EXPLICIT], 1);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, g)); /* waits inside the call */
    CU_ASSERT_EQUAL_FATAL(p->status, PS_WAITING);
    CU_ASSERT_EQUAL(p->flags & PF_PINNED, 0);
    CU_ASSERT_EQUAL(p->pin_depth, 1);

    ck_pr_store_32(&p->hint_vm, (0 + 1) | (uint32_t)MIG_REBALANCE << 16);
    CU_ASSERT_EQUAL(send_ok(&w, 0, g), SEND_OK);
    int yields = 0;
    for (int i = 0; i < 100 && g->owner == 1; i++) {
        CU_ASSERT_TRUE_FATAL(run_next(&w, 1, g));
        if (g->owner == 1) {
            CU_ASSERT_EQUAL(ps_state(p->status), PS_RUNNABLE);
            CU_ASSERT_EQUAL(ck_pr_load_32(&p->hint_vm), 0);
            yields++;
        }
    }
    CU_ASSERT_EQUAL(shm_vm(w.h, 1)->plan_dropped, 1);
    LH_CHECK(yields >= 5, "only %d slices ran inside the call", yields);
    CU_ASSERT_EQUAL_FATAL(g->owner, 0);
    CU_ASSERT_EQUAL(p->pin_depth, 0);
    CU_ASSERT_EQUAL(p->mig[MIG_EXPLICIT], 2);
    CU_ASSERT_EQUAL(p->mig[MIG_REBALANCE], 0);
    CU_ASSERT_EQUAL(p->migrations, 2);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 0, g)); /* returns 'back */
    CU_ASSERT_TRUE(ended(&w, g, pid));
    vw_close(&w);
}

/* Polled waits (sched.c): on a VM that polls, a process that waits in a
 * receive with no after while nothing else is queued is PS_POLLED, which
 * ps_state reads as WAITING. A message from another VM is published and
 * nothing more: the VM's inbound list stays empty and the status is left
 * alone; the VM's poll sees it and queues the process, which then takes
 * its message and ends. One that waits with work queued, or with an
 * after, waits as before; without polling (the default) nothing changes. */
static void test_polled_wait(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    pcb_t *a = spawn_fn(&w, 1, "wait-any", 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    uint64_t apid = a->pid;
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, a));
    CU_ASSERT_EQUAL(proc_of(a)->status, PS_WAITING); /* poll_waits is off */
    CU_ASSERT_EQUAL(w.s[1].n_polled, 0);
    CU_ASSERT_EQUAL(send_ok(&w, 0, a), SEND_OK);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, a));
    CU_ASSERT_TRUE(ended(&w, a, apid));

    w.s[1].poll_waits = true;
    pcb_t *b = spawn_fn(&w, 1, "wait-any", 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    uint64_t bpid = b->pid;
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, b));
    CU_ASSERT_EQUAL_FATAL(proc_of(b)->status, PS_POLLED);
    CU_ASSERT_EQUAL(ps_state(proc_of(b)->status), PS_WAITING);
    CU_ASSERT_EQUAL(w.s[1].n_polled, 1);
    CU_ASSERT_FALSE(sched_poll_ready(&w.s[1]));
    CU_ASSERT_EQUAL(sched_poll(&w.s[1]), 0);
    CU_ASSERT_EQUAL(send_ok(&w, 0, b), SEND_OK);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);
    CU_ASSERT_EQUAL(proc_of(b)->status, PS_POLLED);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_TRUE(sched_poll_ready(&w.s[1]));
    CU_ASSERT_EQUAL(sched_poll(&w.s[1]), 1);
    CU_ASSERT_EQUAL(w.s[1].n_polled, 0);
    CU_ASSERT_EQUAL(proc_of(b)->status, ps_runnable(1, w.s[1].rt.inc));
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, b));
    CU_ASSERT_TRUE(ended(&w, b, bpid));

    /* with another process queued, or with an after: WAITING */
    pcb_t *c = spawn_fn(&w, 1, "wait-any", 0, 0), *d = spawn_fn(&w, 1, "wait-after", 1, 100000);
    CU_ASSERT_FATAL(c && d);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, c));
    CU_ASSERT_EQUAL(proc_of(c)->status, PS_WAITING);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, d));
    CU_ASSERT_EQUAL(proc_of(d)->status, PS_WAITING);
    CU_ASSERT_EQUAL(w.s[1].n_polled, 0);
    CU_ASSERT_EQUAL(send_ok(&w, 0, c), SEND_OK);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)c->slot + 1);
    vw_free_all(&w);
    vw_close(&w);
}

/* A VM polls at most SCHED_POLLED processes: one more makes the oldest
 * wait as any other (a message to it then wakes it onto the inbound
 * list). sched_unpoll makes one wait (what the balancer does before it
 * moves one); before the VM sleeps, sched_unpoll_all makes every polled
 * one wait, and queues those that have a message. */
static void test_polled_limit_and_unpoll(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    w.s[1].poll_waits = true;
    pcb_t *p[SCHED_POLLED + 1];
    for (int i = 0; i <= SCHED_POLLED; i++) {
        p[i] = spawn_fn(&w, 1, "wait-any", 0, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
        CU_ASSERT_TRUE_FATAL(run_next(&w, 1, p[i]));
        CU_ASSERT_EQUAL(proc_of(p[i])->status, PS_POLLED);
    }
    CU_ASSERT_EQUAL(w.s[1].n_polled, SCHED_POLLED);
    CU_ASSERT_EQUAL(proc_of(p[0])->status, PS_WAITING);
    for (int i = 1; i <= SCHED_POLLED; i++)
        CU_ASSERT_PTR_EQUAL(w.s[1].polled[i - 1], p[i]);
    CU_ASSERT_EQUAL(send_ok(&w, 0, p[0]), SEND_OK);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)p[0]->slot + 1);

    /* the newest, with no message: it waits */
    sched_unpoll(&w.s[1], p[SCHED_POLLED]);
    CU_ASSERT_EQUAL(proc_of(p[SCHED_POLLED])->status, PS_WAITING);
    CU_ASSERT_EQUAL(w.s[1].n_polled, SCHED_POLLED - 1);
    for (int i = 1; i < SCHED_POLLED; i++)
        CU_ASSERT_PTR_EQUAL(w.s[1].polled[i - 1], p[i]);

    /* p[0] takes its message and ends; one more is polled, and gets a
     * message: sched_unpoll_all queues it, and the others wait */
    uint64_t p0 = p[0]->pid;
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, p[0]));
    CU_ASSERT_TRUE(ended(&w, p[0], p0));
    pcb_t *m = spawn_fn(&w, 1, "wait-any", 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, m));
    CU_ASSERT_EQUAL_FATAL(proc_of(m)->status, PS_POLLED);
    CU_ASSERT_EQUAL(w.s[1].n_polled, SCHED_POLLED);
    CU_ASSERT_EQUAL(send_ok(&w, 0, m), SEND_OK);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);
    CU_ASSERT_EQUAL(sched_unpoll_all(&w.s[1]), 1);
    CU_ASSERT_EQUAL(w.s[1].n_polled, 0);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 1);
    CU_ASSERT_EQUAL(ps_state(proc_of(m)->status), PS_RUNNABLE);
    for (int i = 1; i <= SCHED_POLLED; i++)
        CU_ASSERT_EQUAL(proc_of(p[i])->status, PS_WAITING);
    vw_free_all(&w);
    vw_close(&w);
}

/* VM 1 dies and its next incarnation takes over (recover_self), starting
 * with nothing polled. */
static void restart_vm1(vw_t *w)
{
    shm_vm_t *v = shm_vm(w->h, 1);
    ck_pr_store_32(&v->restarts, v->restarts + 1);
    w->s[1].rt.inc = v->restarts;
    w->s[1].n_polled = 0;
    recover_self(&w->s[1]);
}

/* A VM that dies with a process polled: its next incarnation adopts it as
 * a waiting one (recover_self), which a later message wakes as any other;
 * or queues it if a message came that the dead VM never saw. */
static void test_polled_adopted(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(run_world(&w));
    w.s[1].poll_waits = true;
    pcb_t *a = spawn_fn(&w, 1, "wait-any", 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, a));
    CU_ASSERT_EQUAL_FATAL(proc_of(a)->status, PS_POLLED);
    restart_vm1(&w);
    CU_ASSERT_EQUAL(proc_of(a)->status, PS_WAITING);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(send_ok(&w, 0, a), SEND_OK);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)a->slot + 1);
    uint64_t apid = a->pid;
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, a));
    CU_ASSERT_TRUE(ended(&w, a, apid));

    pcb_t *b = spawn_fn(&w, 1, "wait-any", 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_TRUE_FATAL(run_next(&w, 1, b));
    CU_ASSERT_EQUAL_FATAL(proc_of(b)->status, PS_POLLED);
    CU_ASSERT_EQUAL(send_ok(&w, 0, b), SEND_OK);
    restart_vm1(&w);
    CU_ASSERT_EQUAL(proc_of(b)->status, ps_runnable(1, shm_vm(w.h, 1)->restarts));
    CU_ASSERT_EQUAL(w.s[1].rq_len, 1);
    uint64_t bpid = b->pid;
    CU_ASSERT_PTR_EQUAL_FATAL(vw_next(&w, 1), b);
    sched_run_one(&w.s[1], b);
    CU_ASSERT_TRUE(ended(&w, b, bpid));
    vw_free_all(&w);
    vw_close(&w);
}

static CU_TestInfo tests[] = {
    {"a process that returns ends: slot freed, DOWN to its monitor", test_run_one_returns},
    {"a process that uses up its slice is requeued at the back", test_run_one_yields},
    {"a process in receive waits, with a timer only if it has an after", test_run_one_waits},
    {"a wait whose timer cannot be set stays runnable and retries", test_run_one_timer_fails},
    {"a receive's after: its timer fires at the deadline, the process ends", test_run_one_timeout},
    {"migration torture: handed over at every yield, uncounted, unless pinned",
     test_run_one_torture_yield},
    {"migration torture: handed over waiting at a receive, unless in a call-on",
     test_run_one_torture_wait},
    {"(migrate vm): explicit move, pinned against the balancer's hint until it waits",
     test_run_one_migrate_pins},
    {"call-on: pinned for the whole call, also across a wait, then home",
     test_run_one_call_on_pins},
    {"a wait with nothing queued is polled: a message from another VM only publishes",
     test_polled_wait},
    {"at most SCHED_POLLED polled; unpolled they wait, or run if a message came",
     test_polled_limit_and_unpoll},
    {"a VM that dies with polled processes: they are adopted as waiting", test_polled_adopted},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(sched_run, tests, NULL, NULL)
