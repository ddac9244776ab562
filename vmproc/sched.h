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
    pcb_t *rq_head, *rq_tail; /* runnable processes, FIFO, linked through
                               * proc_t.rq_next: a push never allocates, so
                               * a runnable process is never left on no queue */
    size_t rq_len;
    timer_t_ *timers;     /* binary min-heap on deadline; entries whose wait
                           * ended are dropped when it fills (timer_push) */
    size_t ntimers, tcap;
} sched_t;

/* Run VM `vm` until the run stops. Returns the VM's exit code. */
int sched_main(shm_header_t *h, uint32_t vm);

/* Create a process owned by VM `vm` that calls the closure `fun` with
 * args (copied), and queue it there. Sets *pid. Returns 0, or -1 (errno
 * EAGAIN: process table full; ENOMEM: pool exhausted). Any VM. */
int proc_spawn(rt_t *rt, uint32_t vm, term fun, const term *args, uint32_t argc, uint64_t *pid,
               bool placed);

/* Where (spawn ...) puts a process: round-robin for now. */
uint32_t sched_place_spawn(rt_t *rt);

/* Queue a process that just became RUNNABLE on its owner VM. Any VM; the
 * caller won the CAS that made it RUNNABLE. */
void sched_wake_proc(rt_t *rt, pcb_t *pcb);

/* Queue operations, exposed for the tests. timer_push fails (-1) only
 * when the heap must grow and memory is out; the caller then keeps the
 * process runnable, so that it retries its wait rather than sleep with no
 * timer. */
void runq_push(sched_t *s, pcb_t *pcb);
pcb_t *runq_pop(sched_t *s);
int timer_push(sched_t *s, int64_t deadline, pcb_t *pcb);
bool timer_pop_due(sched_t *s, int64_t now, timer_t_ *out);
void sched_free(sched_t *s);

/* The core of the loop, exposed for the tests (tests/test_sched.c); each
 * runs on the VM of `s`, as sched_main calls it.
 *   sched_hand_over: give a process this VM owns and does not run (popped
 *     from its queue, or at the end of its slice) to VM `to`: owner CAS,
 *     then, if `runnable`, a push to `to`'s inbound list; a waiting one
 *     stays waiting, and whoever wakes it queues it on its new owner.
 *   sched_drain_inbound: take what other VMs queued here, oldest first,
 *     and sched_arrive each: count an arrival and queue it, or pass it on
 *     to its owner if it moved on again.
 *   sched_give_work: answer a steal request (from the policy's amount).
 *   sched_fire_timers: wake the processes whose deadlines passed.
 *   sched_run_one: run one slice of a process this VM owns and file it by
 *     how the slice ended. */
void sched_hand_over(sched_t *s, pcb_t *pcb, uint32_t to, enum mig_cause cause, bool runnable);
void sched_drain_inbound(sched_t *s);
void sched_arrive(sched_t *s, pcb_t *pcb);
void sched_give_work(sched_t *s);
void sched_fire_timers(sched_t *s, int64_t now);
void sched_run_one(sched_t *s, pcb_t *pcb);

#endif
