/*
 * balance.h: a VM's side of the balancing policies (policy/policy.h).
 *
 * The VM keeps a copy of the active policy and its parameters, refreshed
 * when the supervisor changes them (a seqlock in the shared segment). It
 * asks the policy where a spawned process goes, which VMs to ask for work
 * and how much to give, and it acts on the plans the supervisor queues
 * for it (shm/plan.h) at its scheduling points:
 *   - a move of process P: if P waits, the VM hands it over at once (it
 *     becomes MOVING, then WAITING on its new owner, which settles it);
 *     if P is runnable, queued or on its way here, the VM marks it (the
 *     hint) and hands it over when it next comes out of the run queue, or
 *     at its next safe point (a yield, a blocking receive);
 *   - a move of n runnable processes: taken from the run queue;
 *   - a move of n waiting processes: taken from the VM's list of its
 *     waiting processes, which it keeps for that (no scan of the table).
 * Processes that are pinned (proc_pinned: PF_PINNED after (migrate vm),
 * pin_depth inside call-on) or that spawn-on placed and that
 * have not run yet (PF_PLACED) are never moved by a plan: such moves are
 * dropped and counted.
 *
 * It also publishes the VM's counters that the balancer reads (reductions,
 * messages sent locally and to other VMs) once per scheduling round, and,
 * for policies that want them (affinity), samples sends between pairs of
 * processes and publishes the heaviest pairs when the supervisor asks.
 *
 * NOTES
 *   Owner VM only: everything here runs in the VM that owns the sched_t,
 *   on processes it owns. It writes only its own row of the VM table, its
 *   own plan area's consumer side and samples, and the owner-only fields
 *   of its processes (hint_vm, the waiting-list links).
 */
#ifndef SHOAL_VMPROC_BALANCE_H
#define SHOAL_VMPROC_BALANCE_H

#include "vmproc/sched.h"

/* A process arriving from a spawn on another VM, or from a move of
 * migration torture (proc_t.arriving; other moves use their cause + 1). */
#define ARRIVE_SPAWN (MIG_CAUSES + 1u)
#define ARRIVE_TORTURE (MIG_CAUSES + 2u)

/* Set up this VM's balancing state (rt->bal). -1 (ENOMEM) on failure. */
int balance_init(sched_t *s);
void balance_free(sched_t *s);

/* Once per scheduling round, at the top of the loop: refresh the policy,
 * publish the counters, act on queued plans, answer a request for
 * samples. */
void balance_round(sched_t *s);

/* After a spawn queued a process here, from inside the spawner's slice:
 * what the round does for VMs out of work, now rather than when the slice
 * ends (a spawner's slice can queue a thousand processes while a thief
 * sleeps). A thief's request is served if the policy gives it something;
 * else the queue's length goes out once it is worth stealing from, and a
 * sleeping thief is woken, at most every few spawns (BEAM wakes a
 * sleeping scheduler when a run queue grows). */
void balance_queued(sched_t *s);

/* Publish the counters the balancer reads (reductions, messages): every
 * few rounds from balance_round, and by the scheduler when the VM runs
 * out of work, so that an idle VM's figures are current. */
void balance_publish(rt_t *rt);

/* Whether a plan waits to be acted on (the idle VM's "is there work?"). */
bool balance_pending(const sched_t *s);

/* Where (spawn ...) puts a new process. */
uint32_t balance_place(rt_t *rt);

/* The VMs an idle VM may ask for work, best first; how many queued
 * processes a victim gives to `thief`. Zero when the policy does not
 * steal, and for a guest VM (balance_to_host). */
size_t balance_victims(rt_t *rt, uint32_t *out, size_t max);
size_t balance_amount(rt_t *rt, size_t queued, uint32_t thief);

/* A process that comes out of the run queue: if a plan asked to move it,
 * hand it over now (true) instead of running it. */
bool balance_divert(sched_t *s, pcb_t *pcb);

/* PUs shared by several VMs (more VMs than PUs): the VMs on one PU can
 * never run at the same time, so spreading work over them gains nothing
 * and costs an OS context switch whenever a message goes from one to the
 * other. Under a stealing policy the lowest-numbered live VM on the PU is
 * its host and the others are its guests: a guest asks no VM for work,
 * and a process that another VM's message wakes on a guest goes on to the
 * host (counted as a steal: the nearest VM takes it), as BEAM's scheduler
 * compaction runs a light load on fewer schedulers. A process that moved
 * or was spawned here, a pinned one and one spawn-on placed here that has
 * not run yet stay; so do processes woken by this VM's own. True if the
 * woken process `pcb` was handed to the host. */
bool balance_to_host(sched_t *s, pcb_t *pcb);

/* At a safe point: take the plan's request to move `pcb` (false if none,
 * or if the process may not move now); sets *to and *cause. */
bool balance_hint(sched_t *s, pcb_t *pcb, uint32_t *to, enum mig_cause *cause);

/* The VM's list of its waiting processes, kept only while the policy
 * moves waiting processes by count (policy_t.moves_waiting): a process
 * goes on it when it starts to wait or settles here waiting, and off it
 * when it runs or leaves. Idempotent. The inline checks keep the cost to
 * a test where the list is not kept. */
void balance_list(sched_t *s, pcb_t *pcb);
void balance_unlist(sched_t *s, pcb_t *pcb);

static inline void balance_wait_add(sched_t *s, pcb_t *pcb)
{
    if (s->rt.wait_list)
        balance_list(s, pcb);
}

static inline void balance_wait_del(sched_t *s, pcb_t *pcb)
{
    if (proc_of(pcb)->wait_vm)
        balance_unlist(s, pcb);
}

/* A sampled send (msg.c calls it when rt->sample_left runs out). */
void balance_sample(rt_t *rt, uint64_t from, uint64_t to, uint32_t to_vm);

/* Count a send from `from` to process `to` (its PCB): local or remote,
 * and now and then a sample of the pair. The sender's VM, any process. */
static inline void balance_count_send(rt_t *rt, pcb_t *to_pcb, uint64_t from, uint64_t to)
{
    /* Relaxed: the owner is a hint for statistics; a move in flight only
     * files one message under the wrong heading. */
    uint32_t owner = ck_pr_load_32(&to_pcb->owner);
    rt->msgs[owner != rt->vm]++;
    if (__builtin_expect(--rt->sample_left == 0, 0))
        balance_sample(rt, from, to, owner);
}

#endif
