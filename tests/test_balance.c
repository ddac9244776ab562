/*
 * test_balance.c: a VM acting on plans (vmproc/balance.c), and the
 * supervisor making them (supervisor/balancer.c), with VMs played by hand
 * in one process (tests/vm_world.h): each move reaches its process
 * whether it waits, is queued or arrives while moving; pinned and
 * not-yet-run processes are never moved by a plan; counts are written
 * only by the VM they describe; samples of traffic go out when the
 * supervisor asks; with more VMs than PUs, a guest VM passes processes
 * woken from other VMs to its PU's host, and the idle loop spins only
 * while the other VMs on its PU sleep with nothing queued; work queued
 * while a VM that would steal it sleeps is handed to it.
 */
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "policy/policy.h"
#include "shm/plan.h"
#include "shm/proctab.h"
#include "shm/vmtab.h"
#include "supervisor/balancer.h"
#include "vmproc/balance.h"
#include "vmproc/msg.h"

#include <ck_pr.h>
#include <stdio.h>
#include <string.h>

/* n VMs on one node, each with its balancing state, running `policy`;
 * with `pus`, they are bound to that many PUs, VM i to PU i % pus, as
 * run.c places more VMs than PUs. */
static bool world_of(vw_t *w, const char *policy, uint32_t n, uint32_t pus)
{
    if (!vw_open(w, n, 1, 256, 64ull << 20, HEAP_FOLLOW_ON_GC))
        return false;
    for (uint32_t i = 0; pus && i < n; i++) {
        shm_vm_t *v = shm_vm(w->h, i);
        v->shares_pu = 1;
        snprintf(v->cpuset, sizeof v->cpuset, "%u", i % pus);
    }
    const policy_t *p = policy_at((uint32_t)policy_find(policy));
    int64_t pv[POLICY_MAX_PARAMS];
    policy_defaults(p, pv);
    if (strcmp(policy, "affinity") == 0)
        pv[policy_param_find(p, "sample")] = 1;
    plan_policy_write(w->h, (uint32_t)policy_find(policy), 10, pv, p->n_params);
    for (uint32_t i = 0; i < n; i++) {
        if (balance_init(&w->s[i]) < 0)
            return false;
        ck_pr_store_32(&shm_vm(w->h, i)->state, VM_RUNNING);
    }
    return true;
}

/* Two VMs on one node, each on its own PUs. */
static bool world(vw_t *w, const char *policy)
{
    return world_of(w, policy, 2, 0);
}

static void close_world(vw_t *w)
{
    for (uint32_t i = 0; i < w->n_vms; i++)
        balance_free(&w->s[i]);
    vw_close(w);
}

/* A process of VM `vm`, counted there, waiting (on the waiting list) or
 * runnable (on the run queue). */
static pcb_t *proc(vw_t *w, uint32_t vm, bool waiting)
{
    pcb_t *pcb = vw_proc_new(w, vm);
    if (!pcb)
        return NULL;
    shm_vm_t *v = shm_vm(w->h, vm);
    ck_pr_store_64(&v->started, v->started + 1);
    if (waiting) {
        proc_of(pcb)->status = PS_WAITING;
        balance_wait_add(&w->s[vm], pcb);
    } else {
        proc_of(pcb)->status = PS_RUNNABLE;
        runq_push(&w->s[vm], pcb);
    }
    return pcb;
}

static void push(vw_t *w, uint32_t vm, plan_move_t m)
{
    CU_ASSERT_TRUE(plan_push(w->h, vm, &m));
}

static uint64_t procs_of(vw_t *w, uint32_t vm)
{
    return shm_vm_procs(shm_vm(w->h, vm));
}

/* A waiting process named by a plan moves at once: MOVING, owned by VM 1,
 * on its inbound list; VM 1 settles it as waiting, on its own list, and
 * counts the arrival; the VMs' process counts follow. */
static void test_waiting_moves_at_once(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "least-loaded"));
    pcb_t *a = proc(&w, 0, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    proc_of(a)->deadline = 123456789;
    CU_ASSERT_EQUAL(procs_of(&w, 0), 1);
    CU_ASSERT_FALSE(balance_pending(&w.s[0]));
    push(&w, 0, (plan_move_t){.pid = a->pid, .to = 1, .what = PLAN_PID, .cause = MIG_REBALANCE});
    CU_ASSERT_TRUE(balance_pending(&w.s[0]));
    balance_round(&w.s[0]);
    CU_ASSERT_FALSE(balance_pending(&w.s[0]));
    CU_ASSERT_EQUAL(a->owner, 1);
    CU_ASSERT_EQUAL(ps_state(proc_of(a)->status), PS_MOVING);
    CU_ASSERT_EQUAL(proc_of(a)->wait_vm, 0);
    CU_ASSERT_EQUAL(ck_pr_load_64(&shm_vm(w.h, 1)->inbound), (uint64_t)a->slot + 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->mig_out[MIG_REBALANCE], 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->plan_done, 1);
    CU_ASSERT_EQUAL(procs_of(&w, 0), 0);
    CU_ASSERT_EQUAL(procs_of(&w, 1), 0); /* not yet taken in */
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(proc_of(a)->status, PS_WAITING);
    CU_ASSERT_EQUAL(proc_of(a)->wait_vm, 2);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(shm_vm(w.h, 1)->mig_in[MIG_REBALANCE], 1);
    CU_ASSERT_EQUAL(procs_of(&w, 1), 1);
    CU_ASSERT_EQUAL(proc_of(a)->mig[MIG_REBALANCE], 1);
    /* its timeout follows it */
    CU_ASSERT_EQUAL_FATAL(w.s[1].ntimers, 1);
    CU_ASSERT_EQUAL(w.s[1].timers[0].deadline, 123456789);
    /* and VM 1 can send it back the same way */
    push(&w, 1, (plan_move_t){.pid = a->pid, .to = 0, .what = PLAN_PID, .cause = MIG_AFFINITY});
    balance_round(&w.s[1]);
    sched_drain_inbound(&w.s[0]);
    CU_ASSERT_EQUAL(a->owner, 0);
    CU_ASSERT_EQUAL(proc_of(a)->status, PS_WAITING);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->mig_in[MIG_AFFINITY], 1);
    balance_wait_del(&w.s[0], a);
    vw_proc_free(&w, a, 0);
    close_world(&w);
}

/* A message that arrives while the process moves wakes nobody (it is not
 * WAITING); the new owner sees it when it settles the process, which is
 * then runnable there. */
static void test_message_while_moving(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "least-loaded"));
    pcb_t *a = proc(&w, 0, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    push(&w, 0, (plan_move_t){.pid = a->pid, .to = 1, .what = PLAN_PID, .cause = MIG_REBALANCE});
    balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(ps_state(proc_of(a)->status), PS_MOVING);
    CU_ASSERT_EQUAL(msg_send(vw_rt(&w, 0), a->pid, SIG_MSG, 0, mk_fix(42), T_NIL), SEND_OK);
    CU_ASSERT_EQUAL(ps_state(proc_of(a)->status), PS_MOVING);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 0);
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(ps_state(proc_of(a)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 1);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[1]), a);
    balance_wait_del(&w.s[1], a);
    msg_take(vw_rt(&w, 1), a);
    CU_ASSERT_EQUAL(proc_of(a)->mbox_len, 1);
    vw_proc_free(&w, a, 1);
    close_world(&w);
}

/* A queued process named by a plan is marked, and leaves when it comes
 * out of the queue, instead of running here. */
static void test_queued_moves_at_pop(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "least-loaded"));
    pcb_t *a = proc(&w, 0, false), *b = proc(&w, 0, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    push(&w, 0, (plan_move_t){.pid = b->pid, .to = 1, .what = PLAN_PID, .cause = MIG_AFFINITY});
    balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(b->owner, 0);
    CU_ASSERT_NOT_EQUAL(proc_of(b)->hint_vm, 0);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->plan_done, 0); /* not yet */
    pcb_t *x = runq_pop(&w.s[0]);
    CU_ASSERT_PTR_EQUAL(x, a);
    CU_ASSERT_FALSE(balance_divert(&w.s[0], x)); /* not named: it runs */
    x = runq_pop(&w.s[0]);
    CU_ASSERT_PTR_EQUAL(x, b);
    CU_ASSERT_TRUE(balance_divert(&w.s[0], x));
    CU_ASSERT_EQUAL(b->owner, 1);
    CU_ASSERT_EQUAL(proc_of(b)->hint_vm, 0);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->plan_done, 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->mig_out[MIG_AFFINITY], 1);
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 1)->mig_in[MIG_AFFINITY], 1);
    vw_proc_free(&w, a, 0);
    vw_proc_free(&w, b, 1);
    close_world(&w);
}

/* Counts: n runnable from the queue, n waiting from the waiting list;
 * processes placed by spawn-on that have not run, and pinned ones, stay,
 * and what could not move is counted as dropped. */
static void test_counts_and_pins(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "least-loaded"));
    pcb_t *r[3], *q[3];
    for (int i = 0; i < 3; i++) {
        r[i] = proc(&w, 0, false);
        q[i] = proc(&w, 0, true);
        CU_ASSERT_PTR_NOT_NULL_FATAL(q[i]);
    }
    proc_of(r[0])->flags |= PF_PLACED;
    proc_of(q[2])->flags |= PF_PINNED;
    push(&w, 0, (plan_move_t){.to = 1, .n = 5, .what = PLAN_RUNNABLE, .cause = MIG_REBALANCE});
    push(&w, 0, (plan_move_t){.to = 1, .n = 5, .what = PLAN_WAITING, .cause = MIG_REBALANCE});
    balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(r[0]->owner, 0);
    CU_ASSERT_EQUAL(r[1]->owner, 1);
    CU_ASSERT_EQUAL(r[2]->owner, 1);
    CU_ASSERT_EQUAL(q[0]->owner, 1);
    CU_ASSERT_EQUAL(q[1]->owner, 1);
    CU_ASSERT_EQUAL(q[2]->owner, 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->plan_done, 4);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->plan_dropped, 6);
    /* a pinned process named alone: dropped; a stale one (another VM owns
     * it now): dropped */
    push(&w, 0, (plan_move_t){.pid = q[2]->pid, .to = 1, .what = PLAN_PID, .cause = MIG_AFFINITY});
    push(&w, 0, (plan_move_t){.pid = q[0]->pid, .to = 1, .what = PLAN_PID, .cause = MIG_AFFINITY});
    push(&w, 0, (plan_move_t){.pid = 999999, .to = 1, .what = PLAN_PID, .cause = MIG_AFFINITY});
    balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(q[2]->owner, 0);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->plan_dropped, 9);
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(procs_of(&w, 0), 2);
    CU_ASSERT_EQUAL(procs_of(&w, 1), 4);
    /* a process marked to move and pinned since leaves no more */
    pcb_t *y = runq_pop(&w.s[1]);
    runq_push(&w.s[1], y);
    push(&w, 1, (plan_move_t){.pid = y->pid, .to = 0, .what = PLAN_PID, .cause = MIG_AFFINITY});
    balance_round(&w.s[1]);
    proc_of(y)->flags |= PF_PINNED;
    uint32_t to;
    enum mig_cause cause;
    CU_ASSERT_FALSE(balance_hint(&w.s[1], y, &to, &cause));
    CU_ASSERT_EQUAL(y->owner, 1);
    CU_ASSERT_EQUAL(proc_of(y)->hint_vm, 0);
    proc_of(y)->flags &= ~PF_PINNED;
    for (int i = 0; i < 3; i++) {
        balance_wait_del(&w.s[r[i]->owner], r[i]);
        balance_wait_del(&w.s[q[i]->owner], q[i]);
        vw_proc_free(&w, r[i], r[i]->owner);
        vw_proc_free(&w, q[i], q[i]->owner);
    }
    close_world(&w);
}

/* The supervisor's plan for an uneven load goes to the busy VM's ring,
 * and wakes it. */
static void test_balancer_plans(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "least-loaded"));
    balancer_t b;
    int64_t pv[POLICY_MAX_PARAMS];
    policy_defaults(&policy_least_loaded, pv);
    CU_ASSERT_EQUAL_FATAL(balancer_init(&b, w.h, (uint32_t)policy_find("least-loaded"), pv, 10), 0);
    CU_ASSERT_TRUE(balancer_wants_tick(&b));
    ck_pr_store_32(&shm_vm(w.h, 0)->runq, 10);
    uint32_t wake0 = shm_vm(w.h, 0)->wake;
    bool alive[2] = {true, true};
    balancer_tick(&b, 1000, alive);
    plan_move_t m;
    CU_ASSERT_TRUE_FATAL(plan_pop(w.h, 0, &m));
    CU_ASSERT_EQUAL(m.what, PLAN_RUNNABLE);
    CU_ASSERT_EQUAL(m.to, 1);
    CU_ASSERT_EQUAL(m.n, 5);
    CU_ASSERT_EQUAL(m.cause, MIG_REBALANCE);
    CU_ASSERT_FALSE(plan_pop(w.h, 0, &m));
    CU_ASSERT_FALSE(plan_pop(w.h, 1, &m));
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->wake, wake0 + 1);
    /* a dead VM gets nothing */
    alive[1] = false;
    balancer_tick(&b, 1010, alive);
    CU_ASSERT_FALSE(plan_pop(w.h, 0, &m));
    /* a full ring (PLAN_SLOTS - 1 moves: ck_ring keeps a slot free)
     * refuses moves, counted */
    alive[1] = true;
    for (int i = 0; i < (int)PLAN_SLOTS + 3; i++)
        balancer_tick(&b, 1020 + (uint64_t)i, alive);
    CU_ASSERT_EQUAL(b.full, 4);
    CU_ASSERT_EQUAL(b.moves, 1 + PLAN_SLOTS - 1);
    balancer_free(&b);
    close_world(&w);
}

/* Affinity's samples: sends are counted local or remote (published when
 * the VM publishes its counters), one in `sample`
 * (here every one) is noted, and the heaviest pairs go out when the
 * supervisor bumps the epoch; the supervisor merges them into a plan
 * that joins the pair. */
static void test_samples(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "affinity"));
    pcb_t *a = proc(&w, 0, true), *b = proc(&w, 1, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    rt_t *rt0 = vw_rt(&w, 0);
    for (int i = 0; i < 50; i++)
        CU_ASSERT_EQUAL(msg_send(rt0, b->pid, SIG_MSG, a->pid, mk_fix(i), T_NIL), SEND_OK);
    CU_ASSERT_EQUAL(msg_send(rt0, a->pid, SIG_MSG, a->pid, mk_fix(0), T_NIL), SEND_OK);
    CU_ASSERT_EQUAL(rt0->msgs[1], 50);
    CU_ASSERT_EQUAL(rt0->msgs[0], 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->msgs_remote, 0); /* not yet published */
    balance_publish(rt0);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->msgs_remote, 50);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->msgs_local, 1);
    plan_pair_t got[PLAN_PAIRS];
    CU_ASSERT_EQUAL(plan_read_pairs(w.h, 0, got, NULL), 0); /* not asked yet */

    balancer_t bal;
    int64_t pv[POLICY_MAX_PARAMS];
    policy_defaults(&policy_affinity, pv);
    pv[policy_param_find(&policy_affinity, "sample")] = 1;
    pv[policy_param_find(&policy_affinity, "min_rate")] = 1;
    CU_ASSERT_EQUAL_FATAL(balancer_init(&bal, w.h, (uint32_t)policy_find("affinity"), pv, 10), 0);
    bool alive[2] = {true, true};
    balancer_tick(&bal, 1000, alive); /* asks for samples (epoch 1) */
    CU_ASSERT_EQUAL(shm_plan(w.h, 0)->epoch, 1);
    balance_round(&w.s[0]); /* answers */
    uint32_t epoch = 0;
    CU_ASSERT_EQUAL_FATAL(plan_read_pairs(w.h, 0, got, &epoch), 1);
    CU_ASSERT_EQUAL(epoch, 1);
    CU_ASSERT_EQUAL(got[0].a, a->pid);
    CU_ASSERT_EQUAL(got[0].b, b->pid);
    CU_ASSERT_EQUAL(got[0].vm_a, 0);
    CU_ASSERT_EQUAL(got[0].vm_b, 1);
    CU_ASSERT_EQUAL(got[0].count, 50);
    /* more traffic in the next interval, then the plan: b joins a (a tie
     * of one process each moves b), queued on VM 1, b's owner */
    for (int i = 0; i < 50; i++)
        msg_send(rt0, b->pid, SIG_MSG, a->pid, mk_fix(i), T_NIL);
    balance_round(&w.s[0]);
    balance_publish(rt0);
    balancer_tick(&bal, 1010, alive);
    plan_move_t m;
    CU_ASSERT_FALSE(plan_pop(w.h, 0, &m));
    CU_ASSERT_TRUE_FATAL(plan_pop(w.h, 1, &m));
    CU_ASSERT_EQUAL(m.what, PLAN_PID);
    CU_ASSERT_EQUAL(m.pid, b->pid);
    CU_ASSERT_EQUAL(m.to, 0);
    CU_ASSERT_EQUAL(m.cause, MIG_AFFINITY);
    balancer_free(&bal);
    msg_take(vw_rt(&w, 0), a);
    msg_take(vw_rt(&w, 1), b);
    balance_wait_del(&w.s[0], a);
    balance_wait_del(&w.s[1], b);
    vw_proc_free(&w, a, 0);
    vw_proc_free(&w, b, 1);
    close_world(&w);
}

/* The active policy reaches the VMs: a change of policy or parameters
 * (as the supervisor's balancer_set makes it) is seen at the next round;
 * a policy that does not steal names no victims. */
static void test_policy_switch(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "steal"));
    for (int i = 0; i < 3; i++) { /* steal: a spawn starts where it is made */
        CU_ASSERT_EQUAL(balance_place(vw_rt(&w, 0)), 0);
        CU_ASSERT_EQUAL(balance_place(vw_rt(&w, 1)), 1);
    }
    ck_pr_store_32(&shm_vm(w.h, 1)->runq, 8);
    uint32_t out[2];
    CU_ASSERT_EQUAL(balance_victims(vw_rt(&w, 0), out, 2), 1);
    CU_ASSERT_EQUAL(balance_amount(vw_rt(&w, 1), 8, 0), 4);
    int64_t pv[POLICY_MAX_PARAMS];
    policy_defaults(&policy_steal, pv);
    balancer_t b;
    CU_ASSERT_EQUAL_FATAL(balancer_init(&b, w.h, (uint32_t)policy_find("steal"), pv, 10), 0);
    CU_ASSERT_FALSE(balancer_wants_tick(&b));
    pv[policy_param_find(&policy_steal, "share")] = 25;
    CU_ASSERT_EQUAL(balancer_set(&b, (uint32_t)policy_find("steal"), pv, 10), 0);
    CU_ASSERT_EQUAL(balance_amount(vw_rt(&w, 1), 8, 0), 4); /* not before its next round */
    balance_round(&w.s[1]);
    CU_ASSERT_EQUAL(balance_amount(vw_rt(&w, 1), 8, 0), 2);
    CU_ASSERT_EQUAL(balancer_set(&b, 99, pv, 10), -1);
    CU_ASSERT_EQUAL(balancer_set(&b, (uint32_t)policy_find("none"), pv, 0), -1);
    CU_ASSERT_EQUAL(balancer_set(&b, (uint32_t)policy_find("none"), pv, 10), 0);
    balancer_free(&b);
    balance_round(&w.s[0]);
    balance_round(&w.s[1]);
    CU_ASSERT_EQUAL(balance_victims(vw_rt(&w, 0), out, 2), 0);
    CU_ASSERT_EQUAL(balance_amount(vw_rt(&w, 1), 8, 0), 0);
    CU_ASSERT_EQUAL(balance_place(vw_rt(&w, 1)), 1); /* none: where it is spawned */
    close_world(&w);
}

/* A message from VM `from` to the waiting process `p`, and the VM that
 * owns `p` takes in what was queued for it. */
static void wake_from(vw_t *w, uint32_t from, pcb_t *p)
{
    uint32_t owner = p->owner;
    CU_ASSERT_EQUAL(msg_send(vw_rt(w, from), p->pid, SIG_MSG, 0, mk_fix(7), T_NIL), SEND_OK);
    sched_drain_inbound(&w->s[owner]);
}

/* 4 VMs on 2 PUs under steal: VM 2 is VM 0's guest, VM 3 VM 1's. A
 * process that another VM's message wakes on a guest goes on to the host,
 * counted as a steal; one woken on a host, a pinned one, one spawn-on
 * placed that has not run, and one that was moved to the guest stay; a
 * guest asks no VM for work; with its host dead it keeps what it wakes. */
static void test_guest_passes_woken_to_host(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_of(&w, "steal", 4, 2));
    pcb_t *a = proc(&w, 2, true), *pinned = proc(&w, 3, true), *placed = proc(&w, 2, true);
    pcb_t *on_host = proc(&w, 0, true), *moved = proc(&w, 1, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(moved);
    proc_of(pinned)->flags |= PF_PINNED;
    proc_of(placed)->flags |= PF_PLACED;

    wake_from(&w, 1, a);
    CU_ASSERT_EQUAL(a->owner, 0);
    CU_ASSERT_EQUAL(w.s[2].rq_len, 0);
    CU_ASSERT_EQUAL(shm_vm(w.h, 2)->mig_out[MIG_STEAL], 1);
    CU_ASSERT_PTR_EQUAL(vw_next(&w, 0), a);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->mig_in[MIG_STEAL], 1);
    CU_ASSERT_EQUAL(proc_of(a)->migrations, 1);

    wake_from(&w, 0, pinned);
    wake_from(&w, 0, placed);
    wake_from(&w, 1, on_host);
    CU_ASSERT_EQUAL(pinned->owner, 3);
    CU_ASSERT_EQUAL(w.s[3].rq_len, 1);
    CU_ASSERT_EQUAL(placed->owner, 2);
    CU_ASSERT_EQUAL(w.s[2].rq_len, 1);
    CU_ASSERT_EQUAL(on_host->owner, 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 1);

    /* moved here by VM 1 (as a steal would): it stays */
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[1]), moved);
    sched_hand_over(&w.s[1], moved, 3, MIG_STEAL, true);
    sched_drain_inbound(&w.s[3]);
    CU_ASSERT_EQUAL(moved->owner, 3);
    CU_ASSERT_EQUAL(w.s[3].rq_len, 2);

    uint32_t out[4];
    ck_pr_store_32(&shm_vm(w.h, 1)->runq, 8);
    CU_ASSERT_EQUAL(balance_victims(vw_rt(&w, 2), out, 4), 0);
    CU_ASSERT_EQUAL(balance_victims(vw_rt(&w, 0), out, 4), 1);
    CU_ASSERT_EQUAL(out[0], 1);

    /* the host died: the guest keeps what it wakes, and steals again */
    pcb_t *b = proc(&w, 2, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    ck_pr_store_32(&shm_vm(w.h, 0)->state, VM_DEAD);
    wake_from(&w, 1, b);
    CU_ASSERT_EQUAL(b->owner, 2);
    CU_ASSERT_EQUAL(w.s[2].rq_len, 2);
    CU_ASSERT_EQUAL(balance_victims(vw_rt(&w, 2), out, 4), 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 2)->mig_out[MIG_STEAL], 1);
    vw_free_all(&w);
    close_world(&w);
}

/* Under a policy that does not steal, guests keep what they wake; on
 * VMs with PUs of their own, no VM is anyone's guest. */
static void test_no_guests(void)
{
    static const struct {
        const char *policy;
        uint32_t pus; /* 0: each VM on PUs of its own */
    } cases[] = {{"least-loaded", 2}, {"steal", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        vw_t w;
        CU_ASSERT_TRUE_FATAL(world_of(&w, cases[i].policy, 4, cases[i].pus));
        pcb_t *a = proc(&w, 2, true);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a);
        wake_from(&w, 1, a);
        CU_ASSERT_EQUAL(a->owner, 2);
        CU_ASSERT_EQUAL(w.s[2].rq_len, 1);
        vw_free_all(&w);
        close_world(&w);
    }
}

/* The idle loop's question: does a VM on my PU want it? Yes while one is
 * awake, or asleep with work queued for it; no while all sleep with
 * nothing queued, or are dead; never on PUs of one's own. */
static void test_pu_peer_busy(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_of(&w, "steal", 4, 2));
    for (uint32_t i = 0; i < 4; i++)
        sched_find_pu_peers(&w.s[i]);
    CU_ASSERT_EQUAL(w.s[0].n_pu_peers, 1);
    CU_ASSERT_EQUAL(w.s[0].pu_peers[0], 2);
    CU_ASSERT_EQUAL(w.s[3].n_pu_peers, 1);
    CU_ASSERT_EQUAL(w.s[3].pu_peers[0], 1);
    CU_ASSERT_FALSE(w.s[0].pu_crowded);
    shm_vm_t *v2 = shm_vm(w.h, 2);
    CU_ASSERT_TRUE(sched_pu_peer_busy(&w.s[0])); /* awake */
    ck_pr_store_32(&v2->sleeping, 1);
    CU_ASSERT_FALSE(sched_pu_peer_busy(&w.s[0]));
    ck_pr_store_32(&shm_vm(w.h, 1)->sleeping, 1); /* VM 1 is on the other PU */
    CU_ASSERT_FALSE(sched_pu_peer_busy(&w.s[0]));
    CU_ASSERT_TRUE(sched_pu_peer_busy(&w.s[2])); /* VM 0 is awake */
    pcb_t *a = proc(&w, 2, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(msg_send(vw_rt(&w, 1), a->pid, SIG_MSG, 0, mk_fix(7), T_NIL), SEND_OK);
    CU_ASSERT_NOT_EQUAL(vw_inbound(&w, 2), 0);
    CU_ASSERT_TRUE(sched_pu_peer_busy(&w.s[0])); /* asleep, with work */
    ck_pr_store_32(&v2->sleeping, 0);
    ck_pr_store_32(&v2->state, VM_DEAD);
    CU_ASSERT_FALSE(sched_pu_peer_busy(&w.s[0]));
    vw_free_all(&w);
    close_world(&w);
    CU_ASSERT_TRUE_FATAL(world_of(&w, "steal", 4, 0));
    sched_find_pu_peers(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].n_pu_peers, 0);
    CU_ASSERT_FALSE(sched_pu_peer_busy(&w.s[0]));
    close_world(&w);
}

/* Work queued on a VM while a VM that would steal it sleeps: the busy
 * VM hands it the policy's share at its next round, in one push, oldest
 * first, as a steal; not to a VM that is awake, dead or a guest of a live
 * host, not for a queue of one; and after a look that found nobody, not
 * again before the gap has passed. */
static void test_wake_sleeping_thief(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "steal"));
    pcb_t *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = proc(&w, 0, false);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    }
    shm_vm_t *v1 = shm_vm(w.h, 1);
    balance_round(&w.s[0]); /* VM 1 is awake: it asks when it runs out */
    CU_ASSERT_EQUAL(w.s[0].rq_len, 4);
    ck_pr_store_32(&v1->sleeping, 1);
    balance_round(&w.s[0]); /* the look above found nobody: not yet */
    CU_ASSERT_EQUAL(w.s[0].rq_len, 4);
    for (int i = 0; i < 40 && w.s[0].rq_len == 4; i++)
        balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 2);
    CU_ASSERT_EQUAL(p[0]->owner, 1);
    CU_ASSERT_EQUAL(p[1]->owner, 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->mig_out[MIG_STEAL], 2);
    CU_ASSERT_EQUAL(v1->steal_req, 0);
    CU_ASSERT_EQUAL(v1->wake, 1); /* one push, one wake-up, for both */
    CU_ASSERT_PTR_EQUAL(vw_next(&w, 1), p[0]);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[1]), p[1]);
    CU_ASSERT_EQUAL(shm_vm(w.h, 1)->mig_in[MIG_STEAL], 2);
    /* a queue of one is left alone; a dead VM is not woken */
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[0]), p[2]);
    for (int i = 0; i < 40; i++)
        balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 1);
    runq_push(&w.s[0], p[2]);
    ck_pr_store_32(&v1->state, VM_DEAD);
    for (int i = 0; i < 40; i++)
        balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 2);
    vw_free_all(&w);
    close_world(&w);

    /* 4 VMs on 2 PUs: VM 0's work goes to VM 1 once it sleeps, never to
     * the sleeping guests VM 2 and VM 3 */
    CU_ASSERT_TRUE_FATAL(world_of(&w, "steal", 4, 2));
    for (int i = 0; i < 4; i++) {
        p[i] = proc(&w, 0, false);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    }
    ck_pr_store_32(&shm_vm(w.h, 2)->sleeping, 1);
    ck_pr_store_32(&shm_vm(w.h, 3)->sleeping, 1);
    for (int i = 0; i < 200; i++)
        balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 4);
    ck_pr_store_32(&shm_vm(w.h, 1)->sleeping, 1);
    for (int i = 0; i < 5000 && w.s[0].rq_len == 4; i++)
        balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 2);
    CU_ASSERT_EQUAL(p[0]->owner, 1);
    CU_ASSERT_EQUAL(vw_inbound(&w, 2), 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 3), 0);
    vw_free_all(&w);
    close_world(&w);
}

/* A polled process (sched.c: its VM watches its inbox itself) named by a
 * plan moves at once as a waiting one does: its VM stops polling it
 * first, so no VM polls a process it does not own. */
static void test_polled_moves_at_once(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "least-loaded"));
    pcb_t *a = proc(&w, 0, true);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    /* as sched_run_one polls a wait (the array is the VM's own) */
    proc_of(a)->status = PS_POLLED;
    w.s[0].polled[0] = a;
    w.s[0].n_polled = 1;
    push(&w, 0, (plan_move_t){.pid = a->pid, .to = 1, .what = PLAN_PID, .cause = MIG_AFFINITY});
    balance_round(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].n_polled, 0);
    CU_ASSERT_EQUAL(a->owner, 1);
    CU_ASSERT_EQUAL(ps_state(proc_of(a)->status), PS_MOVING);
    CU_ASSERT_EQUAL(ck_pr_load_64(&shm_vm(w.h, 1)->inbound), (uint64_t)a->slot + 1);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->plan_done, 1);
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(proc_of(a)->status, PS_WAITING);
    balance_wait_del(&w.s[1], a);
    vw_proc_free(&w, a, 1);
    close_world(&w);
}

/* A spawn queued a process on a VM, inside the spawner's slice
 * (balance_queued): a thief's request is served at once if the policy
 * gives it something for the queue, else it stays; a queue worth stealing
 * from goes out in the VM table; a sleeping VM that would steal is woken
 * with the policy's share within a few spawns, as the round does; a
 * policy that does not steal does none of it. */
static void test_queued_serves_thief(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world(&w, "steal"));
    shm_vm_t *v0 = shm_vm(w.h, 0), *v1 = shm_vm(w.h, 1);
    pcb_t *p[6];
    p[0] = proc(&w, 0, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p[0]);
    /* a request, but a queue of one: nothing goes, the request stays */
    ck_pr_store_32(&v0->steal_req, 1 + 1);
    balance_queued(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 1);
    CU_ASSERT_EQUAL(v0->steal_req, 1 + 1);
    for (int i = 1; i < 4; i++) {
        p[i] = proc(&w, 0, false);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    }
    /* four queued: half of them go to VM 1 now, oldest first */
    balance_queued(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 2);
    CU_ASSERT_EQUAL(v0->steal_req, 0);
    CU_ASSERT_EQUAL(p[0]->owner, 1);
    CU_ASSERT_EQUAL(p[1]->owner, 1);
    CU_ASSERT_EQUAL(p[2]->owner, 0);
    CU_ASSERT_EQUAL(v0->mig_out[MIG_STEAL], 2);
    CU_ASSERT_PTR_EQUAL(vw_next(&w, 1), p[0]);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[1]), p[1]);
    /* no request: the length goes out once it is worth stealing */
    ck_pr_store_32(&v0->runq, 0);
    balance_queued(&w.s[0]);
    CU_ASSERT_EQUAL(v0->runq, 2);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 2);
    /* VM 1 asleep: woken with half of the queue within the gap */
    p[4] = proc(&w, 0, false);
    p[5] = proc(&w, 0, false);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p[5]);
    uint32_t wake = v1->wake;
    ck_pr_store_32(&v1->sleeping, 1);
    for (int i = 0; i < 40 && w.s[0].rq_len == 4; i++)
        balance_queued(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 2);
    CU_ASSERT_EQUAL(p[2]->owner, 1);
    CU_ASSERT_EQUAL(p[3]->owner, 1);
    CU_ASSERT_EQUAL(v1->wake, wake + 1);
    CU_ASSERT_EQUAL(v0->mig_out[MIG_STEAL], 4);
    vw_free_all(&w);
    close_world(&w);

    /* no stealing under `none`: a request and a sleeper are left alone */
    CU_ASSERT_TRUE_FATAL(world(&w, "none"));
    for (int i = 0; i < 4; i++) {
        p[i] = proc(&w, 0, false);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    }
    ck_pr_store_32(&shm_vm(w.h, 1)->sleeping, 1);
    ck_pr_store_32(&shm_vm(w.h, 0)->steal_req, 1 + 1);
    for (int i = 0; i < 40; i++)
        balance_queued(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 4);
    CU_ASSERT_EQUAL(shm_vm(w.h, 0)->mig_out[MIG_STEAL], 0);
    vw_free_all(&w);
    close_world(&w);
}

static CU_TestInfo tests[] = {
    {"a waiting process moves at once, and is settled waiting", test_waiting_moves_at_once},
    {"a polled process named by a plan moves at once, unpolled", test_polled_moves_at_once},
    {"a message to a moving process is seen when it settles", test_message_while_moving},
    {"a queued process leaves when it comes out of the queue", test_queued_moves_at_pop},
    {"counts of runnable and waiting; pinned and placed stay", test_counts_and_pins},
    {"the supervisor's plan reaches the busy VM's ring", test_balancer_plans},
    {"traffic samples out on request, and the plan they make", test_samples},
    {"a change of policy reaches the VMs", test_policy_switch},
    {"more VMs than PUs: a guest passes what other VMs wake to its host",
     test_guest_passes_woken_to_host},
    {"no guests under a policy that does not steal, or on PUs of one's own", test_no_guests},
    {"the idle loop yields only to a VM on its PU that is awake or has work",
     test_pu_peer_busy},
    {"queued work goes to a sleeping VM that would steal it, in one push",
     test_wake_sleeping_thief},
    {"a spawn serves a thief's request, publishes the queue, wakes a sleeper",
     test_queued_serves_thief},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(balance, tests, NULL, NULL)
