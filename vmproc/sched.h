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

/* VMs that share a PU with one VM that the idle loop looks at (more than
 * this: it takes them all to be busy). */
#define SCHED_PU_PEERS 8

/* Processes whose inbox a VM polls itself (sched.c, "Polled waits"): the
 * one that waited last as the VM ran out of work. With 4, a ring of 1,000
 * processes spread over 2 VMs ran 6% slower (each wait unpolled the
 * process of four waits before, its line colder by then), and a ping-pong
 * across VMs gained nothing more. */
#define SCHED_POLLED 1

/* A process noted to hibernate if it waits long enough: its pid, and
 * its reductions when it was noted (any slice it runs since adds some). */
typedef struct hib_note {
    uint64_t pid, reds;
} hib_note_t;

typedef struct hib_list {
    hib_note_t *v;
    size_t n, cap;
} hib_list_t;

/* Hibernation's lists (sched.c, "Hibernation"): the processes noted in
 * this period, those noted in the one before (waiting out this one), and
 * those noted in the one before that, looked at from `next` on. */
typedef struct sched_hib {
    int64_t period_ns;       /* hibernate_ms; 0: never */
    int64_t period_end;      /* when the lists move on (monotonic ns) */
    hib_list_t note, wait, look;
    size_t next;
    uint32_t rounds;         /* loop rounds since the clock was last read for it */
} sched_hib_t;

typedef struct sched {
    rt_t rt;
    pcb_t *rq_head, *rq_tail; /* runnable processes, FIFO, linked through
                               * proc_t.rq_next: a push never allocates, so
                               * a runnable process is never left on no queue */
    size_t rq_len;
    size_t rq_placed;     /* of them, placed by spawn-on and not yet run (PF_PLACED) */
    timer_t_ *timers;     /* binary min-heap on deadline; entries whose wait
                           * ended are dropped when it fills (timer_push) */
    size_t ntimers, tcap;
    pcb_t **drained;      /* sched_drain_inbound's claimed processes */
    size_t dcap;
    uint32_t deaths;      /* run.deaths as this VM last saw it */
    uint32_t recheck;     /* deaths + 1 whose takeovers wait for every VM's drain
                           * (recover.h), or 0 */
    uint32_t fail_timers; /* tests: this many next timer_push calls fail as if
                           * out of memory (0 in a run) */
    uint32_t pu_peers[SCHED_PU_PEERS]; /* the other VMs bound to this VM's PUs */
    uint32_t n_pu_peers;
    bool pu_crowded;                   /* more of them than pu_peers holds */
    bool poll_waits;                   /* a process that waits while the run queue is
                                        * empty is polled (sched_main: not on a
                                        * shared PU) */
    sched_hib_t hib;                   /* hibernation (sched.c) */
    uint64_t stolen_seen;              /* this VM's steals in when it last went idle */
    bool give_blocked;                 /* a spawn's give found nothing to hand over:
                                        * no other until the next round (balance_queued) */
    uint32_t n_polled;
    pcb_t *polled[SCHED_POLLED];       /* PS_POLLED processes, oldest first */
} sched_t;

/* The other VMs bound to this VM's PUs (more VMs than PUs), into
 * pu_peers: the placement (run.c) binds each VM to one PU and writes the
 * cpusets before any VM starts. */
void sched_find_pu_peers(sched_t *s);

/* Whether a VM on this VM's PUs may want them: it is awake, or work was
 * queued for it (its waker's FUTEX_WAKE may not have run it yet). The
 * idle loop yields the PU then, and spins otherwise. */
bool sched_pu_peer_busy(const sched_t *s);

/* Note a waiting process this VM owns for hibernation (sched.c): one
 * that waits with no deadline, that has something to give back, and that
 * is not noted yet. */
void sched_hib_note(sched_t *s, pcb_t *pcb);

/* One loop round's share of hibernation: a batch of the processes to
 * look at, or, once they are done, the clock, to see whether a period is
 * over. Whether it did anything. The loop calls it when it is idle, and,
 * busy, when a batch is waiting or once in SCHED_HIB_ROUNDS rounds (a
 * test of two words otherwise). */
#define SCHED_HIB_ROUNDS 256u
bool sched_hib_step(sched_t *s);

/* Queue the polled processes that have a message; returns how many. */
size_t sched_poll(sched_t *s);

/* Whether a polled process has a message (a look, for the idle spin). */
bool sched_poll_ready(const sched_t *s);

/* Stop polling pcb (a PS_POLLED process of this VM): it waits as any
 * other, or is queued if a message came. */
void sched_unpoll(sched_t *s, pcb_t *pcb);

/* sched_unpoll every polled process (before the VM sleeps); returns how
 * many of them were queued. */
size_t sched_unpoll_all(sched_t *s);

/* Run VM `vm` until the run stops. Returns the VM's exit code. */
int sched_main(shm_header_t *h, uint32_t vm);

/* Create a process owned by VM `vm` that calls the closure `fun` with
 * args (copied), and queue it there. Sets *pid. Returns 0, or -1 (errno
 * EAGAIN: process table full; ENOMEM: pool exhausted). Any VM. */
int proc_spawn(rt_t *rt, uint32_t vm, term fun, const term *args, uint32_t argc, uint64_t *pid,
               bool placed);

/* A link or monitor that a spawn sets up before the new process can run
 * (spawn-link, spawn-monitor): the new process gets the watcher's half,
 * as if a link or monitor request had arrived first. */
typedef struct spawn_watch {
    uint64_t watcher;  /* the pid on the other end */
    term ref;          /* a monitor's ref; '() for a link */
    bool link;
} spawn_watch_t;

/* proc_spawn, with the watch (NULL: none) in place before it runs. */
int proc_spawn_watched(rt_t *rt, uint32_t vm, term fun, const term *args, uint32_t argc,
                       uint64_t *pid, bool placed, const spawn_watch_t *watch);

/* Where (spawn ...) puts a process: the policy decides (balance.c). */
uint32_t sched_place_spawn(rt_t *rt);

/* Owner VM: hand a WAITING process over to `to` (balance.c, for a
 * plan). False if it was woken meanwhile (it is then runnable and on its
 * way to this VM's queue). */
bool sched_hand_over_waiting(sched_t *s, pcb_t *pcb, uint32_t to, enum mig_cause cause);

/* Count the arrival of a process that came to this VM (a spawn from
 * another VM, a move), once: its `arriving` says how it came. */
void sched_count_arrival(rt_t *rt, proc_t *p);

/* Queue a process that just became RUNNABLE on its owner VM. Any VM; the
 * caller won the CAS that made it RUNNABLE. */
void sched_wake_proc(rt_t *rt, pcb_t *pcb);

/* Any VM: if the process waits, make it RUNNABLE (naming this VM as its
 * queuer) and queue it on its owner. True if this call woke it. */
bool sched_wake(rt_t *rt, pcb_t *pcb);

/* Any VM: put a RUNNABLE process this VM holds on VM `vm`'s inbound list
 * and wake that VM (the status names this VM while it pushes, then `vm`). */
void sched_push_inbound(rt_t *rt, uint32_t vm, pcb_t *pcb);

/* Owner only: end a process whose err_class/err_value say how, from
 * whatever stage (proc_t.exit_stage) it reached: its signals, its memory,
 * its slot. */
void sched_finish_exit(sched_t *s, pcb_t *pcb);

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
 *     then a push to `to`'s inbound list, runnable or, if not `runnable`
 *     (its status must then be RUNNING at its safe point, or MOVING),
 *     MOVING: no sender wakes it until `to` settles it as WAITING there.
 *   sched_drain_inbound: take what other VMs queued here, oldest first,
 *     and sched_arrive each: count an arrival and queue it (or settle a
 *     MOVING one), or pass it on to its owner if it moved on again.
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
