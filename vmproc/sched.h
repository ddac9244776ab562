/*
 * sched.h: the scheduler of one VM.
 *
 * Each VM runs the processes it owns from a private run queue, a slice at
 * a time, and keeps a private timer heap for receive timeouts and sleep.
 * Both are hints in the sense of DESIGN.md: the process table is the
 * truth, and they can be rebuilt from it.
 *
 * NOTES
 *   Everything here runs in the VM process that owns the sched_t.
 */
#ifndef SHOAL_VMPROC_SCHED_H
#define SHOAL_VMPROC_SCHED_H

#include "vmproc/proc.h"

typedef struct timer {
    int64_t deadline;
    pcb_t *pcb;
    uint64_t pid;
} timer_t_;

typedef struct sched {
    rt_t rt;
    pcb_t **runq;         /* ring of runnable processes */
    size_t rq_head, rq_len, rq_cap;
    timer_t_ *timers;     /* binary min-heap on deadline */
    size_t ntimers, tcap;
} sched_t;

/* Run VM `vm` until the run stops. Returns the VM's exit code. */
int sched_main(shm_header_t *h, uint32_t vm);

/* Create a process owned by VM `vm` that calls the closure `fun` with
 * args (copied), and queue it there. Sets *pid. Returns 0, or -1 (errno
 * EAGAIN: process table full; ENOMEM: pool exhausted). Any VM. */
int proc_spawn(rt_t *rt, uint32_t vm, term fun, const term *args, uint32_t argc, uint64_t *pid,
               bool placed);

/* Where (spawn ...) puts a process: the policy decides (balance.c). */
uint32_t sched_place_spawn(rt_t *rt);

/* Owner VM: hand a process that is not running over to VM `to` (the one
 * rule of DESIGN.md); `runnable` says whether it runs there at once or is
 * waiting (then its status must not be WAITING: RUNNING at its safe
 * point, or MOVING). Counted under `cause`. */
void sched_hand_over(sched_t *s, pcb_t *pcb, uint32_t to, enum mig_cause cause, bool runnable);

/* Owner VM: hand a WAITING process over to `to`. False if it was woken
 * meanwhile (it is then runnable and on its way to this VM's queue). */
bool sched_hand_over_waiting(sched_t *s, pcb_t *pcb, uint32_t to, enum mig_cause cause);

/* Owner VM: take in what other VMs queued for this one (spawns, moves,
 * wake-ups), as the scheduler loop does each round. For tests. */
void sched_take_inbound(sched_t *s);

/* Queue a process that just became RUNNABLE on its owner VM. Any VM; the
 * caller won the CAS that made it RUNNABLE. */
void sched_wake_proc(rt_t *rt, pcb_t *pcb);

/* Queue operations, exposed for the tests. */
int runq_push(sched_t *s, pcb_t *pcb);
pcb_t *runq_pop(sched_t *s);
int timer_push(sched_t *s, int64_t deadline, pcb_t *pcb);
bool timer_pop_due(sched_t *s, int64_t now, timer_t_ *out);
void sched_free(sched_t *s);

#endif
