/*
 * test_sched.c: the scheduler of one VM, without its loop: the run queue
 * (linked through the PCBs), the timer heap behind receive timeouts and
 * sleep (a binary min-heap on the deadline), sched_free; where
 * proc_spawn and sched_wake_proc queue a process; and the core of the
 * loop, each function called as sched_main calls it, on a world of two to
 * four VMs with a runtime (rt_t) each (tests/vm_world.h): sched_hand_over
 * (owner CAS, inbound push, counters, zero copy, the waiting case and its
 * race with a sender), sched_drain_inbound and sched_arrive (order,
 * arrivals, forwarding), sched_give_work (how many, which, in what order)
 * and sched_fire_timers (due, not due, stale). sched_run_one, which needs
 * compiled code, is in test_sched_run.c.
 *
 * The queue tests take real PCBs from a small segment, but the run queue
 * only links them, so most of them are never claimed. The timer tests
 * claim theirs, since timer_push records the pid the PCB has then. The
 * core tests make their processes with vw_proc_new (a heap, a stack and
 * main's frame, never run) and read the queues in place (vw_inbound_slots,
 * vw_runq_slots). Pseudo-random orders come from a fixed-seed xorshift,
 * so every run sees the same ones.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "policy/policy.h"
#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/segment.h"
#include "shm/vmtab.h"
#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "shm/plan.h"
#include "vmproc/balance.h"
#include "vmproc/heap.h"
#include "vmproc/msg.h"
#include "vmproc/program.h"
#include "vmproc/sched.h"

#include <ck_pr.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SLOTS 4096u

/* A segment of one VM with `slots` PCBs (tests/lang_harness.h). */
static shm_header_t *make(uint32_t slots)
{
    return lh_segment(1u << 20, slots);
}

/* xorshift64: a fixed sequence per seed. */
static uint64_t next_rand(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* The PCB the n-th push of a run-queue test uses. */
static pcb_t *nth(shm_header_t *h, uint64_t n)
{
    return shm_pcb(h, (uint32_t)(n % SLOTS));
}

/* ------------------------------------------------------------------ */
/* the run queue                                                        */

static void test_runq_fifo(void)
{
    shm_header_t *h = make(SLOTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    sched_t s = {0};
    for (uint64_t i = 0; i < 10; i++) {
        runq_push(&s, nth(h, i));
        CU_ASSERT_EQUAL(s.rq_len, i + 1);
    }
    for (uint64_t i = 0; i < 10; i++) {
        CU_ASSERT_PTR_EQUAL(runq_pop(&s), nth(h, i));
        CU_ASSERT_EQUAL(s.rq_len, 9 - i);
    }
    CU_ASSERT_PTR_NULL(runq_pop(&s));
    sched_free(&s);
    shm_destroy(h);
}

static void test_runq_empty(void)
{
    shm_header_t *h = make(SLOTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    /* never pushed: no ring at all yet */
    sched_t s = {0};
    CU_ASSERT_PTR_NULL(runq_pop(&s));
    CU_ASSERT_EQUAL(s.rq_len, 0);
    /* emptied: popping again and again leaves it empty, not wrapped under */
    runq_push(&s, nth(h, 0));
    CU_ASSERT_PTR_EQUAL(runq_pop(&s), nth(h, 0));
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_PTR_NULL(runq_pop(&s));
        CU_ASSERT_EQUAL(s.rq_len, 0);
    }
    /* and it still works as a queue afterwards */
    runq_push(&s, nth(h, 1));
    runq_push(&s, nth(h, 2));
    CU_ASSERT_EQUAL(s.rq_len, 2);
    CU_ASSERT_PTR_EQUAL(runq_pop(&s), nth(h, 1));
    CU_ASSERT_PTR_EQUAL(runq_pop(&s), nth(h, 2));
    CU_ASSERT_PTR_NULL(runq_pop(&s));
    sched_free(&s);
    shm_destroy(h);
}

/* Thousands pushed come out in order: the queue is linked through the
 * PCBs, so it has no capacity to outgrow. */
static void test_runq_many(void)
{
    shm_header_t *h = make(SLOTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    sched_t s = {0};
    int bad = 0;
    for (uint64_t i = 0; i < SLOTS; i++) {
        runq_push(&s, nth(h, i));
        bad += s.rq_len != i + 1 || s.rq_tail != nth(h, i);
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(s.rq_len, SLOTS);
    for (uint64_t i = 0; i < SLOTS; i++) {
        bad += runq_pop(&s) != nth(h, i);
        bad += s.rq_len != SLOTS - 1 - i;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_PTR_NULL(runq_pop(&s));
    CU_ASSERT_PTR_NULL(s.rq_head);
    CU_ASSERT_PTR_NULL(s.rq_tail);
    sched_free(&s);
    shm_destroy(h);
}

/* A PCB that was popped can be pushed again at once (its link is
 * rewritten, never followed stale): a process that yields and is the only
 * one runnable goes round and round. */
static void test_runq_requeue(void)
{
    shm_header_t *h = make(SLOTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    sched_t s = {0};
    int bad = 0;
    for (int i = 0; i < 1000; i++) {
        runq_push(&s, nth(h, 7));
        bad += runq_pop(&s) != nth(h, 7) || s.rq_len != 0 || s.rq_head || s.rq_tail;
    }
    /* two going round: each pop-then-push keeps the other in front */
    runq_push(&s, nth(h, 1));
    runq_push(&s, nth(h, 2));
    for (int i = 0; i < 1000; i++) {
        pcb_t *p = runq_pop(&s);
        bad += p != nth(h, 1 + (uint64_t)(i % 2));
        runq_push(&s, p);
        bad += s.rq_len != 2;
    }
    CU_ASSERT_EQUAL(bad, 0);
    sched_free(&s);
    shm_destroy(h);
}

/* Pushes and pops in a pseudo-random mix: the order and the length stay
 * right throughout, as the length swings between empty and a few
 * hundred. */
static void test_runq_mixed(void)
{
    shm_header_t *h = make(SLOTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    sched_t s = {0};
    uint64_t pushed = 0, popped = 0, seed = 0x2545F4914F6CDD1Dull;
    int bad = 0;
    while (popped < 200000) {
        uint64_t r = next_rand(&seed);
        /* a bias that changes every 1,000 steps */
        bool push_more = ((pushed + popped) / 1000) % 2 == 0;
        bool push = s.rq_len == 0 || (s.rq_len < SLOTS && (r % 4 != 0) == push_more);
        if (push)
            runq_push(&s, nth(h, pushed++));
        else
            bad += runq_pop(&s) != nth(h, popped++);
        bad += s.rq_len != pushed - popped;
    }
    CU_ASSERT_EQUAL(bad, 0);
    while (s.rq_len)
        bad += runq_pop(&s) != nth(h, popped++);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(popped, pushed);
    CU_ASSERT_PTR_NULL(runq_pop(&s));
    sched_free(&s);
    shm_destroy(h);
}

/* ------------------------------------------------------------------ */
/* the timer heap                                                       */

/* `n` claimed PCBs (distinct pids), into p. */
static bool claim_n(shm_header_t *h, pcb_t **p, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (!(p[i] = proctab_claim(h, 0)))
            return false;
    return true;
}

/* A process waiting with deadline d, and its timer: what the scheduler
 * pushes when a process waits (timer_push keeps only such timers when it
 * compacts). */
static int arm(sched_t *s, pcb_t *pcb, int64_t d)
{
    ck_pr_store_32(&pcb->state, PCB_LIVE);
    proc_of(pcb)->deadline = d;
    return timer_push(s, d, pcb);
}

static bool same_timer(const timer_t_ *a, const timer_t_ *b)
{
    return a->deadline == b->deadline && a->pcb == b->pcb && a->pid == b->pid;
}

/* Due means deadline <= now; what is not due stays, and a failed pop
 * leaves the out parameter alone. */
static void test_timer_due_only(void)
{
    shm_header_t *h = make(64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pcb_t *p[3];
    CU_ASSERT_TRUE_FATAL(claim_n(h, p, 3));
    sched_t s = {0};
    CU_ASSERT_EQUAL(arm(&s, p[0], 30), 0);
    CU_ASSERT_EQUAL(arm(&s, p[1], 10), 0);
    CU_ASSERT_EQUAL(arm(&s, p[2], 20), 0);
    CU_ASSERT_EQUAL(s.ntimers, 3);

    const timer_t_ untouched = {-5, NULL, 12345};
    timer_t_ t = untouched;
    CU_ASSERT_FALSE(timer_pop_due(&s, 9, &t));
    CU_ASSERT_TRUE(same_timer(&t, &untouched));
    CU_ASSERT_EQUAL(s.ntimers, 3);

    CU_ASSERT_TRUE_FATAL(timer_pop_due(&s, 15, &t));
    CU_ASSERT_EQUAL(t.deadline, 10);
    CU_ASSERT_PTR_EQUAL(t.pcb, p[1]);
    t = untouched;
    CU_ASSERT_FALSE(timer_pop_due(&s, 15, &t)); /* 20 is not due at 15 */
    CU_ASSERT_TRUE(same_timer(&t, &untouched));
    CU_ASSERT_EQUAL(s.ntimers, 2);

    CU_ASSERT_TRUE_FATAL(timer_pop_due(&s, 20, &t)); /* due at its deadline */
    CU_ASSERT_EQUAL(t.deadline, 20);
    CU_ASSERT_PTR_EQUAL(t.pcb, p[2]);
    CU_ASSERT_FALSE(timer_pop_due(&s, 29, &t));
    CU_ASSERT_EQUAL(s.ntimers, 1);

    CU_ASSERT_TRUE_FATAL(timer_pop_due(&s, 1000, &t));
    CU_ASSERT_EQUAL(t.deadline, 30);
    CU_ASSERT_PTR_EQUAL(t.pcb, p[0]);
    CU_ASSERT_EQUAL(s.ntimers, 0);
    t = untouched;
    CU_ASSERT_FALSE(timer_pop_due(&s, INT64_MAX, &t));
    CU_ASSERT_TRUE(same_timer(&t, &untouched));
    sched_free(&s);
    shm_destroy(h);
}

/* The timer remembers the pid the PCB had when it was pushed: after the
 * process ends and its slot is claimed again, the popped timer still
 * carries the old pid (which is how fire_timers sees a stale timer). */
static void test_timer_records_pcb_and_pid(void)
{
    shm_header_t *h = make(8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pcb_t *p[8];
    CU_ASSERT_TRUE_FATAL(claim_n(h, p, 8));
    uint64_t pids[8];
    sched_t s = {0};
    for (uint32_t i = 0; i < 8; i++) {
        pids[i] = p[i]->pid;
        CU_ASSERT_EQUAL(arm(&s, p[i], 100 + (int64_t)i), 0);
    }
    /* slot of p[3] freed and claimed again: a new pid in the same PCB */
    proctab_release(h, p[3]);
    pcb_t *again = proctab_claim(h, 0);
    CU_ASSERT_PTR_EQUAL_FATAL(again, p[3]);
    CU_ASSERT_NOT_EQUAL(again->pid, pids[3]);

    timer_t_ t;
    for (uint32_t i = 0; i < 8; i++) {
        CU_ASSERT_TRUE_FATAL(timer_pop_due(&s, INT64_MAX, &t));
        CU_ASSERT_EQUAL(t.deadline, 100 + (int64_t)i);
        CU_ASSERT_PTR_EQUAL(t.pcb, p[i]);
        CU_ASSERT_EQUAL(t.pid, pids[i]);
    }
    CU_ASSERT_FALSE(timer_pop_due(&s, INT64_MAX, &t));
    sched_free(&s);
    shm_destroy(h);
}

static int by_deadline_then_slot(const void *a, const void *b)
{
    const timer_t_ *x = a, *y = b;
    if (x->deadline != y->deadline)
        return x->deadline < y->deadline ? -1 : 1;
    if (x->pcb->slot != y->pcb->slot)
        return x->pcb->slot < y->pcb->slot ? -1 : 1;
    return 0;
}

/* 5,000 timers pushed in a pseudo-random order, with many equal
 * deadlines, come out sorted by deadline, and as the same (deadline, pcb,
 * pid) triples that went in. */
static void test_timer_random_sorted(void)
{
    enum { N = 5000 };
    shm_header_t *h = make(N);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    static pcb_t *p[N];
    CU_ASSERT_TRUE_FATAL(claim_n(h, p, N));
    static timer_t_ in[N], out[N];
    sched_t s = {0};
    uint64_t seed = 0x9E3779B97F4A7C15ull;
    int bad = 0;
    for (uint32_t i = 0; i < N; i++) {
        int64_t d = (int64_t)(next_rand(&seed) % 2000) * 1000; /* ~2.5 per deadline */
        in[i] = (timer_t_){d, p[i], p[i]->pid};
        bad += arm(&s, p[i], d) != 0;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(s.ntimers, N);
    size_t n = 0;
    while (n < N && timer_pop_due(&s, INT64_MAX, &out[n])) {
        if (n > 0)
            bad += out[n].deadline < out[n - 1].deadline;
        n++;
    }
    CU_ASSERT_EQUAL(n, N);
    CU_ASSERT_EQUAL(bad, 0); /* in deadline order */
    CU_ASSERT_EQUAL(s.ntimers, 0);
    timer_t_ t;
    CU_ASSERT_FALSE(timer_pop_due(&s, INT64_MAX, &t));
    /* The same triples: sort both the same way (out is already in
     * deadline order, so this only orders each run of equal ones). */
    qsort(in, N, sizeof in[0], by_deadline_then_slot);
    qsort(out, n, sizeof out[0], by_deadline_then_slot);
    for (size_t i = 0; i < n; i++)
        bad += !same_timer(&in[i], &out[i]);
    CU_ASSERT_EQUAL(bad, 0);
    sched_free(&s);
    shm_destroy(h);
}

/* Pushes and pops as the scheduler loop does them: time goes forward,
 * new timers fall due within a window after now, and each round pops
 * every due timer. Checked against a plain list of what is pending: each
 * popped timer was pending and due, none that is due stays, and the pops
 * come out in deadline order over the whole run. */
static void test_timer_interleaved(void)
{
    enum { NP = 8192, ROUNDS = 4000, MAXPEND = 8000 };
    static bool busy[NP];
    memset(busy, 0, sizeof busy);
    shm_header_t *h = make(NP);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    static pcb_t *p[NP];
    CU_ASSERT_TRUE_FATAL(claim_n(h, p, NP));
    static timer_t_ pend[MAXPEND];
    size_t npend = 0;
    uint64_t seed = 0xD1B54A32D192ED03ull, pops = 0;
    int64_t now = 0, last = INT64_MIN;
    int bad = 0;
    size_t most = 0;
    sched_t s = {0};
    for (int r = 0; r < ROUNDS; r++) {
        int k = (int)(next_rand(&seed) % 5);
        for (int i = 0; i < k && npend < MAXPEND; i++) {
            /* a process that is not waiting yet: one timer each */
            uint32_t j = (uint32_t)(next_rand(&seed) % NP);
            while (busy[j])
                j = (j + 1) % NP;
            busy[j] = true;
            pcb_t *q = p[j];
            int64_t d = now + (int64_t)(next_rand(&seed) % 500);
            bad += arm(&s, q, d) != 0;
            pend[npend++] = (timer_t_){d, q, q->pid};
        }
        if (npend > most)
            most = npend;
        now += (int64_t)(next_rand(&seed) % 12);
        timer_t_ t;
        while (timer_pop_due(&s, now, &t)) {
            pops++;
            bad += t.deadline > now || t.deadline < last;
            last = t.deadline;
            size_t j = 0;
            while (j < npend && !same_timer(&pend[j], &t))
                j++;
            if (j == npend) {
                bad++; /* popped something never pushed, or twice */
                continue;
            }
            busy[t.pcb->slot] = false;
            pend[j] = pend[--npend];
        }
        for (size_t j = 0; j < npend; j++)
            bad += pend[j].deadline <= now; /* due, but still in the heap */
        bad += s.ntimers != npend;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT(pops > ROUNDS); /* the run did pop a lot */
    CU_ASSERT(most > 64);     /* and the heap grew past its first array */
    sched_free(&s);
    shm_destroy(h);
}

/* Timers with equal deadlines all come out at that deadline, each one
 * once, and none before it. */
static void test_timer_equal_deadlines(void)
{
    enum { N = 300 };
    shm_header_t *h = make(N + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    static pcb_t *p[N + 1];
    CU_ASSERT_TRUE_FATAL(claim_n(h, p, N + 1));
    sched_t s = {0};
    CU_ASSERT_EQUAL(arm(&s, p[N], 2000), 0); /* one later timer */
    for (uint32_t i = 0; i < N; i++)
        CU_ASSERT_EQUAL(arm(&s, p[i], 1000), 0);
    timer_t_ t;
    CU_ASSERT_FALSE(timer_pop_due(&s, 999, &t));
    CU_ASSERT_EQUAL(s.ntimers, N + 1);
    static int seen[N + 1];
    memset(seen, 0, sizeof seen);
    int bad = 0, n = 0;
    while (timer_pop_due(&s, 1000, &t)) {
        n++;
        bad += t.deadline != 1000 || t.pcb->slot >= N + 1 || t.pid != t.pcb->pid;
        if (t.pcb->slot < N + 1)
            seen[t.pcb->slot]++;
    }
    CU_ASSERT_EQUAL(n, N);
    CU_ASSERT_EQUAL(bad, 0);
    for (uint32_t i = 0; i < N; i++)
        bad += seen[p[i]->slot] != 1;
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(seen[p[N]->slot], 0);
    CU_ASSERT_EQUAL(s.ntimers, 1);
    CU_ASSERT_TRUE_FATAL(timer_pop_due(&s, 2000, &t));
    CU_ASSERT_PTR_EQUAL(t.pcb, p[N]);
    sched_free(&s);
    shm_destroy(h);
}

/* A server loop with a long timeout, (receive ... (after 3600000 ...)):
 * every wait pushes a timer, and a message ends the wait long before it
 * is due. The timers of waits that ended are dropped as the heap fills,
 * so 100,000 waits by 10 processes leave a heap bounded by a small
 * multiple of the 10 live timers, not 100,000 entries; and each live
 * timer is still there and pops when due. */
static void test_timer_heap_bounded(void)
{
    enum { NP = 10, WAITS = 100000 };
    shm_header_t *h = make(64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pcb_t *p[NP];
    CU_ASSERT_TRUE_FATAL(claim_n(h, p, NP));
    sched_t s = {0};
    int bad = 0;
    size_t most = 0;
    int64_t hour = 3600000000000ll;
    for (int i = 0; i < WAITS; i++) {
        pcb_t *q = p[i % NP];
        /* the previous wait of q ended (a message came): a new one now */
        bad += arm(&s, q, hour + i) != 0;
        if (s.ntimers > most)
            most = s.ntimers;
    }
    CU_ASSERT_EQUAL(bad, 0);
    LH_CHECK(most <= 128, "the timer heap grew to %zu entries for %d live timers", most, NP);
    /* the live ones (each process's last wait) are all there */
    timer_t_ t;
    int live = 0;
    while (timer_pop_due(&s, INT64_MAX, &t))
        live += t.deadline == proc_of(t.pcb)->deadline;
    CU_ASSERT_EQUAL(live, NP);
    sched_free(&s);
    shm_destroy(h);
}

/* sched_free gives back both queues (the sanitizer build checks the
 * leak), leaves them empty and unallocated, and the sched works again. */
static void test_sched_free(void)
{
    shm_header_t *h = make(SLOTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pcb_t *p[4];
    CU_ASSERT_TRUE_FATAL(claim_n(h, p, 4));
    sched_t s = {0};
    sched_free(&s); /* nothing allocated yet: harmless */
    CU_ASSERT_PTR_NULL(s.rq_head);
    CU_ASSERT_PTR_NULL(s.timers);

    for (uint64_t i = 0; i < 1000; i++)
        runq_push(&s, nth(h, i));
    for (int i = 0; i < 700; i++)
        runq_pop(&s); /* 300 left queued */
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(arm(&s, p[i % 4], 1000 - i), 0);
    sched_free(&s);
    CU_ASSERT_PTR_NULL(s.rq_head);
    CU_ASSERT_PTR_NULL(s.timers);
    CU_ASSERT_PTR_NULL(s.rq_tail);
    CU_ASSERT_EQUAL(s.rq_len, 0);
    CU_ASSERT_EQUAL(s.ntimers, 0);
    CU_ASSERT_EQUAL(s.tcap, 0);
    CU_ASSERT_PTR_NULL(runq_pop(&s));
    timer_t_ t;
    CU_ASSERT_FALSE(timer_pop_due(&s, INT64_MAX, &t));

    /* reusable: both queues work as new */
    for (uint64_t i = 0; i < 300; i++)
        runq_push(&s, nth(h, i));
    CU_ASSERT_EQUAL(s.rq_len, 300);
    int bad = 0;
    for (uint64_t i = 0; i < 300; i++)
        bad += runq_pop(&s) != nth(h, i);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_PTR_NULL(runq_pop(&s));
    CU_ASSERT_EQUAL(arm(&s, p[0], 5), 0);
    CU_ASSERT_EQUAL(arm(&s, p[1], 3), 0);
    CU_ASSERT_TRUE(timer_pop_due(&s, 10, &t) && t.pcb == p[1] && t.deadline == 3);
    CU_ASSERT_TRUE(timer_pop_due(&s, 10, &t) && t.pcb == p[0] && t.deadline == 5);
    CU_ASSERT_FALSE(timer_pop_due(&s, 10, &t));
    sched_free(&s);
    CU_ASSERT_PTR_NULL(s.rq_head);
    CU_ASSERT_PTR_NULL(s.timers);
    shm_destroy(h);
}

/* ------------------------------------------------------------------ */
/* where spawn and wake-up queue a process                              */

/* Two VMs on one node (tests/vm_world.h), with `slots` process slots. */
static bool world_open(vw_t *w, uint32_t slots)
{
    return vw_open(w, 2, 1, slots, 32u << 20, HEAP_FOLLOW_ON_GC);
}

static term main_fun(const vw_t *w)
{
    code_table_t *ct = code_table(w->h);
    return ct->funcs[ct->main_index]->value;
}

/* Spawn main from VM `from` onto VM `to`; the live PCB, or NULL. */
static pcb_t *spawn(vw_t *w, uint32_t from, uint32_t to)
{
    uint64_t pid = 0;
    if (proc_spawn(vw_rt(w, from), to, main_fun(w), NULL, 0, &pid, false) < 0)
        return NULL;
    return proctab_lookup(w->h, pid);
}

static void proc_free(vw_t *w, pcb_t *pcb)
{
    vw_proc_free(w, pcb, pcb->owner);
}

/* From VM 0 onto VM 1: owned by VM 1 and on VM 1's inbound list, newest
 * first (head = slot + 1, linked by inbound_next), and VM 1 woken; VM 0's
 * run queue and inbound list and VM 1's run queue stay empty. VM 0 writes
 * nothing in VM 1's row of the VM table: VM 1 counts the processes when
 * it takes them in, and then queues them in spawn order. */
static void test_spawn_other_vm(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 64));
    shm_vm_t *v1 = shm_vm(w.h, 1);
    uint32_t wake0 = ck_pr_load_32(&v1->wake);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);
    shm_vm_t row1 = *v1;

    pcb_t *a = spawn(&w, 0, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(a->state, PCB_LIVE);
    CU_ASSERT_EQUAL(a->owner, 1);
    CU_ASSERT_EQUAL(ps_state(proc_of(a)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)a->slot + 1);
    CU_ASSERT_EQUAL(proc_of(a)->inbound_next, 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&v1->wake), wake0 + 1);
    CU_ASSERT_EQUAL(shm_vm_procs(v1), 0);

    pcb_t *b = spawn(&w, 0, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_NOT_EQUAL(b->slot, a->slot);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)b->slot + 1);
    CU_ASSERT_EQUAL(proc_of(b)->inbound_next, a->slot + 1);
    CU_ASSERT_EQUAL(proc_of(a)->inbound_next, 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&v1->wake), wake0 + 2);

    CU_ASSERT_EQUAL(w.s[0].rq_len, 0);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), 0);
    CU_ASSERT_EQUAL(shm_vm_procs(shm_vm(w.h, 0)), 0);
    /* VM 0 wrote nothing in VM 1's counters (the wake group is anyone's) */
    CU_ASSERT_EQUAL(
        memcmp(&row1.runq, &v1->runq, offsetof(shm_vm_t, wake) - offsetof(shm_vm_t, runq)), 0);

    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(shm_vm_procs(v1), 2);
    CU_ASSERT_EQUAL(ck_pr_load_64(&v1->started), 2);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 2);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[1]), a);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[1]), b);
    proc_free(&w, a);
    proc_free(&w, b);
    vw_close(&w);
}

/* From VM 0 onto VM 0: straight onto VM 0's run queue, in spawn order;
 * no inbound list and no wake-up is involved. */
static void test_spawn_own_vm(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 64));
    shm_vm_t *v0 = shm_vm(w.h, 0);
    uint32_t wake0 = ck_pr_load_32(&v0->wake);
    pcb_t *a = spawn(&w, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    pcb_t *b = spawn(&w, 0, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(a->owner, 0);
    CU_ASSERT_EQUAL(ps_state(proc_of(a)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(shm_vm_procs(v0), 2);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 2);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&v0->wake), wake0);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[0]), a);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[0]), b);
    CU_ASSERT_PTR_NULL(runq_pop(&w.s[0]));
    proc_free(&w, a);
    proc_free(&w, b);
    vw_close(&w);
}

/* With every slot taken, proc_spawn fails with EAGAIN and queues nothing
 * anywhere. */
static void test_spawn_table_full(void)
{
    enum { N = 4 };
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, N));
    pcb_t *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = spawn(&w, 0, (uint32_t)(i % 2));
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    }
    uint64_t in1 = vw_inbound(&w, 1);
    size_t rq0 = w.s[0].rq_len;
    uint64_t pid = 0;
    errno = 0;
    CU_ASSERT_EQUAL(proc_spawn(vw_rt(&w, 0), 1, main_fun(&w), NULL, 0, &pid, false), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);
    errno = 0;
    CU_ASSERT_EQUAL(proc_spawn(vw_rt(&w, 0), 0, main_fun(&w), NULL, 0, &pid, false), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), in1);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len, rq0);
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(shm_vm_procs(shm_vm(w.h, 0)) + shm_vm_procs(shm_vm(w.h, 1)), N);
    for (int i = 0; i < N; i++)
        proc_free(&w, p[i]);
    vw_close(&w);
}

/* sched_wake_proc queues by the owner word: the caller's own process on
 * its run queue, another VM's on that VM's inbound list. */
static void test_wake_proc(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 64));
    pcb_t *mine = spawn(&w, 0, 0), *theirs = spawn(&w, 0, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(mine);
    CU_ASSERT_PTR_NOT_NULL_FATAL(theirs);
    /* take both out of where spawn put them, as a scheduler would */
    CU_ASSERT_PTR_EQUAL_FATAL(runq_pop(&w.s[0]), mine);
    CU_ASSERT_EQUAL_FATAL(ck_pr_fas_64(&shm_vm(w.h, 1)->inbound, 0), (uint64_t)theirs->slot + 1);

    sched_wake_proc(vw_rt(&w, 0), mine);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 1);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);

    uint32_t wake1 = ck_pr_load_32(&shm_vm(w.h, 1)->wake);
    sched_wake_proc(vw_rt(&w, 0), theirs);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)theirs->slot + 1);
    CU_ASSERT_EQUAL(proc_of(theirs)->inbound_next, 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&shm_vm(w.h, 1)->wake), wake1 + 1);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 1);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[0]), mine);

    /* from VM 1, the roles swap */
    sched_wake_proc(vw_rt(&w, 1), mine);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), (uint64_t)mine->slot + 1);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 0);
    proc_free(&w, mine);
    proc_free(&w, theirs);
    vw_close(&w);
}

/* ------------------------------------------------------------------ */
/* the core of the loop: hand-over, arrival, stealing, timers           */

/* VMs 0 and 1 of a world run the steal policy with its defaults, as the
 * VMs of a run do (balance_free before vw_close). */
static bool steal_policy(vw_t *w)
{
    int id = policy_find("steal");
    if (id < 0)
        return false;
    const policy_t *p = policy_at((uint32_t)id);
    int64_t pv[POLICY_MAX_PARAMS];
    policy_defaults(p, pv);
    plan_policy_write(w->h, (uint32_t)id, 10, pv, p->n_params);
    for (uint32_t i = 0; i < 2; i++)
        if (balance_init(&w->s[i]) < 0)
            return false;
    return true;
}

/* A world of `n` VMs on one node, 64 slots. */
static bool world_n(vw_t *w, uint32_t n)
{
    return vw_open(w, n, 1, 64, 32u << 20, HEAP_FOLLOW_ON_GC);
}

/* A process that VM `vm` owns and counts (started there: shm_vm_procs),
 * RUNNABLE and queued nowhere: what the scheduler holds after it popped
 * it. */
static pcb_t *held(vw_t *w, uint32_t vm)
{
    pcb_t *pcb = vw_proc_new(w, vm);
    if (!pcb)
        return NULL;
    proc_of(pcb)->status = PS_RUNNABLE;
    shm_vm_t *v = shm_vm(w->h, vm);
    ck_pr_store_64(&v->started, v->started + 1);
    return pcb;
}

/* The move counters of one VM. */
typedef struct migs {
    uint64_t in[MIG_CAUSES], out[MIG_CAUSES];
} migs_t;

static migs_t migs_of(const vw_t *w, uint32_t vm)
{
    migs_t m;
    shm_vm_t *v = shm_vm(w->h, vm);
    for (int c = 0; c < MIG_CAUSES; c++) {
        m.in[c] = ck_pr_load_64(&v->mig_in[c]);
        m.out[c] = ck_pr_load_64(&v->mig_out[c]);
    }
    return m;
}

/* Whether b is a plus (din, dout) moves of cause c, and equal otherwise. */
static bool migs_moved(const migs_t *a, const migs_t *b, int c, uint64_t din, uint64_t dout)
{
    for (int k = 0; k < MIG_CAUSES; k++) {
        uint64_t wi = a->in[k] + (k == c ? din : 0), wo = a->out[k] + (k == c ? dout : 0);
        if (b->in[k] != wi || b->out[k] != wo)
            return false;
    }
    return true;
}

static const char *const cause_names[MIG_CAUSES] = {"explicit", "steal", "rebalance", "affinity",
                                                    "adopt"};

/* Where a process's memory is: what a zero-copy move must leave alone. */
typedef struct mem {
    hblock_t *hfirst, *hcur, *frags;
    term *hp, *hlim, *stack_lo, *stack_hi, *sp;
    uint64_t heap_words;
    uint32_t node_pages[PROC_NODES];
} mem_t;

static mem_t mem_of(const proc_t *p)
{
    mem_t m = {p->hfirst,   p->hcur,     p->frags, p->hp,         p->hlim,
               p->stack_lo, p->stack_hi, p->sp,    p->heap_words, {0}};
    memcpy(m.node_pages, p->node_pages, sizeof m.node_pages);
    return m;
}

static bool same_mem(const mem_t *a, const mem_t *b)
{
    return a->hfirst == b->hfirst && a->hcur == b->hcur && a->frags == b->frags && a->hp == b->hp &&
           a->hlim == b->hlim && a->stack_lo == b->stack_lo && a->stack_hi == b->stack_hi &&
           a->sp == b->sp && a->heap_words == b->heap_words &&
           memcmp(a->node_pages, b->node_pages, sizeof a->node_pages) == 0;
}

/* A runnable process handed over for each cause in turn, back and forth
 * between VM 0 and VM 1: the owner word moves to the target, the process
 * is RUNNABLE at the head of the target's inbound list (slot + 1) and the
 * target is woken; that cause's counters move by exactly one (the
 * process's mig[] and migrations, the source's mig_out; the target's
 * mig_in only when it takes the process in), no other counter moves; the
 * source's heap counters drop the process and nothing is allocated or
 * moved: the heap blocks and the stack are where they were. */
static void test_hand_over_runnable(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_n(&w, 2));
    pcb_t *pcb = held(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    proc_t *p = proc_of(pcb);
    uint64_t bytes = ck_pr_load_64(&shm_vm(w.h, 0)->heap_local);
    CU_ASSERT_FATAL(bytes > 0);
    for (int c = 0; c < MIG_CAUSES; c++) {
        uint32_t from = (uint32_t)c % 2, to = 1 - from;
        shm_vm_t *src = shm_vm(w.h, from), *dst = shm_vm(w.h, to);
        migs_t ms = migs_of(&w, from), md = migs_of(&w, to);
        uint32_t mig[MIG_CAUSES];
        memcpy(mig, p->mig, sizeof mig);
        uint64_t moves = p->migrations, free0 = pool_free_pages(w.h, 0);
        uint32_t wake = ck_pr_load_32(&dst->wake);
        mem_t before = mem_of(p);
        p->status = PS_RUNNING; /* at the end of its slice */
        p->migrate_to = to + 1;

        sched_hand_over(&w.s[from], pcb, to, (enum mig_cause)c, true);
        LH_CHECK(pcb->owner == to, "%s: owner %u, not %u", cause_names[c], pcb->owner, to);
        CU_ASSERT_EQUAL(ps_state(p->status), PS_RUNNABLE);
        CU_ASSERT_EQUAL(vw_inbound(&w, to), (uint64_t)pcb->slot + 1);
        CU_ASSERT_EQUAL(p->inbound_next, 0);
        CU_ASSERT_EQUAL(vw_inbound(&w, from), 0);
        CU_ASSERT_EQUAL(w.s[from].rq_len + w.s[to].rq_len, 0);
        CU_ASSERT_EQUAL(ck_pr_load_32(&dst->wake), wake + 1);
        CU_ASSERT_EQUAL(p->migrate_to, 0);
        /* counted once, under its cause */
        for (int k = 0; k < MIG_CAUSES; k++)
            LH_CHECK(p->mig[k] == mig[k] + (k == c), "%s: p->mig[%s] %u, was %u", cause_names[c],
                     cause_names[k], p->mig[k], mig[k]);
        CU_ASSERT_EQUAL(p->migrations, moves + 1);
        CU_ASSERT_EQUAL(p->arriving, (uint32_t)c + 1);
        migs_t ms1 = migs_of(&w, from), md1 = migs_of(&w, to);
        LH_CHECK(migs_moved(&ms, &ms1, c, 0, 1), "%s: the source's counters", cause_names[c]);
        LH_CHECK(migs_moved(&md, &md1, c, 0, 0), "%s: the target's counters", cause_names[c]);
        /* the source no longer counts it; the target, once it takes it in */
        CU_ASSERT_EQUAL(shm_vm_procs(src), 0);
        CU_ASSERT_EQUAL(shm_vm_procs(dst), 0);
        /* heap counters: off the source, on nobody until the target runs it */
        CU_ASSERT_EQUAL(p->acct_vm, 0);
        CU_ASSERT_EQUAL(ck_pr_load_64(&src->heap_local) + ck_pr_load_64(&src->heap_remote), 0);
        CU_ASSERT_EQUAL(ck_pr_load_64(&dst->heap_local) + ck_pr_load_64(&dst->heap_remote), 0);
        /* zero copy */
        mem_t after = mem_of(p);
        LH_CHECK(same_mem(&before, &after), "%s: the heap or stack moved", cause_names[c]);
        CU_ASSERT_EQUAL(pool_free_pages(w.h, 0), free0);

        /* the target takes it in: one arrival of that cause */
        sched_drain_inbound(&w.s[to]);
        CU_ASSERT_EQUAL(vw_inbound(&w, to), 0);
        CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[to]), pcb);
        CU_ASSERT_EQUAL(p->arriving, 0);
        md1 = migs_of(&w, to);
        LH_CHECK(migs_moved(&md, &md1, c, 1, 0), "%s: the target's arrivals", cause_names[c]);
        CU_ASSERT_EQUAL(shm_vm_procs(dst), 1);
        heap_attach(vw_rt(&w, to), p); /* as sched_run_one does */
        CU_ASSERT_EQUAL(ck_pr_load_64(&dst->heap_local), bytes);
    }
    vw_free_all(&w);
    vw_close(&w);
}

/* A move by migration torture is counted under no cause: not in the
 * process, not in either VM's moves, not on arrival; it moves the process
 * all the same, and the VMs' process counts follow it. */
static void test_hand_over_torture_uncounted(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_n(&w, 2));
    pcb_t *pcb = held(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    proc_t *p = proc_of(pcb);
    /* one counted move first, so that counters are not all zero */
    sched_hand_over(&w.s[0], pcb, 1, MIG_STEAL, true);
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_PTR_EQUAL_FATAL(runq_pop(&w.s[1]), pcb);
    heap_attach(vw_rt(&w, 1), p);
    migs_t m0 = migs_of(&w, 0), m1 = migs_of(&w, 1);
    uint32_t mig[MIG_CAUSES];
    memcpy(mig, p->mig, sizeof mig);
    mem_t before = mem_of(p);

    sched_hand_over(&w.s[1], pcb, 0, MIG_TORTURE, true);
    CU_ASSERT_EQUAL(pcb->owner, 0);
    CU_ASSERT_EQUAL(ps_state(p->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), (uint64_t)pcb->slot + 1);
    CU_ASSERT_EQUAL(p->arriving, ARRIVE_TORTURE);
    CU_ASSERT_EQUAL(p->migrations, 1);
    CU_ASSERT_EQUAL(memcmp(p->mig, mig, sizeof mig), 0);
    CU_ASSERT_EQUAL(shm_vm_procs(shm_vm(w.h, 1)), 0);
    CU_ASSERT_EQUAL(p->acct_vm, 0);
    mem_t after = mem_of(p);
    CU_ASSERT_TRUE(same_mem(&before, &after));
    sched_drain_inbound(&w.s[0]);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[0]), pcb);
    CU_ASSERT_EQUAL(shm_vm_procs(shm_vm(w.h, 0)), 1);
    migs_t n0 = migs_of(&w, 0), n1 = migs_of(&w, 1);
    CU_ASSERT_TRUE(migs_moved(&m0, &n0, 0, 0, 0));
    CU_ASSERT_TRUE(migs_moved(&m1, &n1, 0, 0, 0));
    vw_free_all(&w);
    vw_close(&w);
}

/* A waiting process handed over goes MOVING onto its new owner's inbound
 * list (no sender or timer wakes it on the way), and the new owner,
 * taking it in, makes it WAITING there, on no queue; the message that
 * wakes it, sent afterwards, queues it on its new owner's inbound list:
 * from a third VM, and from the old owner too (whose own run queue a
 * stale owner would have put it on). */
static void test_hand_over_waiting(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_n(&w, 3));
    uint64_t from = 7 * w.h->cfg.proc_slots + 5;
    for (uint32_t sender = 0; sender <= 2; sender += 2) {
        pcb_t *pcb = held(&w, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
        proc_t *p = proc_of(pcb);
        p->status = PS_RUNNING; /* its slice ended in a receive */
        uint32_t wake1 = ck_pr_load_32(&shm_vm(w.h, 1)->wake);
        sched_hand_over(&w.s[0], pcb, 1, MIG_REBALANCE, false);
        CU_ASSERT_EQUAL(pcb->owner, 1);
        CU_ASSERT_EQUAL(ps_state(p->status), PS_MOVING);
        CU_ASSERT_EQUAL(p->mig[MIG_REBALANCE], 1);
        CU_ASSERT_EQUAL(ck_pr_load_64(&shm_vm(w.h, 0)->mig_out[MIG_REBALANCE]), 1 + sender / 2);
        CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)pcb->slot + 1);
        CU_ASSERT_EQUAL(ck_pr_load_32(&shm_vm(w.h, 1)->wake), wake1 + 1);
        /* VM 1 takes it in: waiting there, on no queue */
        sched_drain_inbound(&w.s[1]);
        CU_ASSERT_EQUAL(p->status, PS_WAITING);
        CU_ASSERT_EQUAL(ck_pr_load_64(&shm_vm(w.h, 1)->mig_in[MIG_REBALANCE]), 1 + sender / 2);
        for (uint32_t vm = 0; vm < 3; vm++) {
            CU_ASSERT_EQUAL(vw_inbound(&w, vm), 0);
            CU_ASSERT_EQUAL(w.s[vm].rq_len, 0);
        }

        CU_ASSERT_EQUAL(msg_send(vw_rt(&w, sender), pcb->pid, SIG_MSG, from, mk_atom(A_OK), T_NIL),
                        SEND_OK);
        LH_CHECK(ps_state(p->status) == PS_RUNNABLE, "sent from VM %u: status %u", sender, p->status);
        LH_CHECK(vw_inbound(&w, 1) == (uint64_t)pcb->slot + 1,
                 "sent from VM %u: not on VM 1's inbound list", sender);
        CU_ASSERT_EQUAL(p->inbound_next, 0);
        CU_ASSERT_EQUAL(ck_pr_load_32(&shm_vm(w.h, 1)->wake), wake1 + 2);
        LH_CHECK(vw_inbound(&w, 0) == 0 && w.s[0].rq_len == 0,
                 "sent from VM %u: queued on the old owner", sender);
        CU_ASSERT_EQUAL(vw_inbound(&w, 2) + w.s[2].rq_len + w.s[1].rq_len, 0);
        /* VM 1 takes it in, and the message is there */
        sched_drain_inbound(&w.s[1]);
        CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[1]), pcb);
        CU_ASSERT_EQUAL(msg_take(vw_rt(&w, 1), pcb), 1);
        vw_proc_free(&w, pcb, 1);
    }
    vw_close(&w);
}

/* The race that settling closes: a message that arrived while the
 * process still ran (its sender saw it RUNNING, so woke nobody), or while
 * it moved (MOVING: likewise), is in the inbox when the new owner takes
 * it in. The new owner sees it and makes the process RUNNABLE, queued
 * once, there; it is not left waiting on a message it has. */
static void test_hand_over_waiting_inbox_race(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_n(&w, 3));
    uint64_t from = 7 * w.h->cfg.proc_slots + 5;
    for (int moving = 0; moving <= 1; moving++) {
        pcb_t *pcb = held(&w, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
        proc_t *p = proc_of(pcb);
        p->status = PS_RUNNING;
        if (!moving) {
            CU_ASSERT_EQUAL(
                msg_send(vw_rt(&w, 2), pcb->pid, SIG_MSG, from, mk_atom(A_OK), T_NIL), SEND_OK);
            CU_ASSERT_EQUAL(p->status, PS_RUNNING); /* the sender woke nobody */
        }
        CU_ASSERT_EQUAL(vw_inbound(&w, 0) + vw_inbound(&w, 1), 0);

        sched_hand_over(&w.s[0], pcb, 1, MIG_EXPLICIT, false);
        CU_ASSERT_EQUAL(pcb->owner, 1);
        if (moving) {
            CU_ASSERT_EQUAL(
                msg_send(vw_rt(&w, 2), pcb->pid, SIG_MSG, from, mk_atom(A_OK), T_NIL), SEND_OK);
        }
        CU_ASSERT_EQUAL(ps_state(p->status), PS_MOVING); /* the sender woke nobody */
        CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)pcb->slot + 1);
        CU_ASSERT_EQUAL(p->inbound_next, 0);
        CU_ASSERT_EQUAL(vw_inbound(&w, 0) + vw_inbound(&w, 2), 0);
        CU_ASSERT_EQUAL(w.s[0].rq_len + w.s[1].rq_len + w.s[2].rq_len, 0);
        sched_drain_inbound(&w.s[1]);
        CU_ASSERT_EQUAL(ps_state(p->status), PS_RUNNABLE);
        CU_ASSERT_EQUAL(w.s[1].rq_len, 1);
        CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[1]), pcb);
        CU_ASSERT_EQUAL(msg_take(vw_rt(&w, 1), pcb), 1);
        CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);
        vw_proc_free(&w, pcb, 1);
    }
    vw_close(&w);
}

/* Processes handed to VM 0 by VMs 1, 2 and 3, interleaved, come out of
 * sched_drain_inbound in the order they were pushed (so in push order per
 * pusher), each once, and are counted as arrivals under their causes; a
 * second drain finds nothing. */
static void test_drain_push_order(void)
{
    enum { N = 9 };
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_n(&w, 4));
    pcb_t *p[N];
    /* pusher of the i-th push, and its cause */
    static const uint32_t by[N] = {1, 2, 1, 3, 3, 2, 1, 2, 3};
    static const enum mig_cause cause[N] = {MIG_STEAL,    MIG_REBALANCE, MIG_STEAL,
                                            MIG_EXPLICIT, MIG_TORTURE,  MIG_REBALANCE,
                                            MIG_ADOPT,    MIG_STEAL,    MIG_EXPLICIT};
    for (int i = 0; i < N; i++) {
        p[i] = held(&w, by[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    }
    migs_t m0 = migs_of(&w, 0);
    for (int i = 0; i < N; i++)
        sched_hand_over(&w.s[by[i]], p[i], 0, cause[i], true);
    CU_ASSERT_EQUAL(shm_vm_procs(shm_vm(w.h, 0)), 0); /* counted when taken in */
    CU_ASSERT_EQUAL(w.s[0].rq_len, 0); /* nothing taken in yet */
    uint32_t list[N + 1];
    CU_ASSERT_EQUAL(vw_inbound_slots(&w, 0, list, N + 1), N);

    sched_drain_inbound(&w.s[0]);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), 0);
    uint32_t q[N + 1];
    size_t n = vw_runq_slots(&w, 0, q, N + 1);
    CU_ASSERT_EQUAL_FATAL(n, N);
    for (int i = 0; i < N; i++)
        LH_CHECK(q[i] == p[i]->slot, "run queue position %d: slot %u, pushed %u", i, q[i],
                 p[i]->slot);
    migs_t m1 = migs_of(&w, 0);
    uint64_t want[MIG_CAUSES] = {0};
    for (int i = 0; i < N; i++)
        if (cause[i] != MIG_TORTURE)
            want[cause[i]]++;
    for (int c = 0; c < MIG_CAUSES; c++)
        LH_CHECK(m1.in[c] == m0.in[c] + want[c], "arrivals by %s: %llu, want %llu", cause_names[c],
                 (unsigned long long)(m1.in[c] - m0.in[c]), (unsigned long long)want[c]);
    for (int i = 0; i < N; i++)
        CU_ASSERT_EQUAL(proc_of(p[i])->arriving, 0);
    sched_drain_inbound(&w.s[0]);
    CU_ASSERT_EQUAL(w.s[0].rq_len, N);
    vw_free_all(&w);
    vw_close(&w);
}

/* A process queued on VM 0's inbound list whose owner word has moved on
 * since (the owner word is the truth, the queues hints: DESIGN.md) is
 * passed on to its owner's inbound list by sched_arrive, not queued here
 * and not counted as an arrival here; the processes pushed before and
 * after it still arrive here, in order (forwarding rewrites its
 * inbound_next while the list is walked). Its owner then counts the
 * arrival. */
static void test_drain_forwards_moved(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_n(&w, 3));
    pcb_t *a = held(&w, 1), *b = held(&w, 1), *c = held(&w, 1);
    CU_ASSERT_FATAL(a && b && c);
    sched_hand_over(&w.s[1], a, 0, MIG_STEAL, true);
    sched_hand_over(&w.s[1], b, 0, MIG_STEAL, true);
    sched_hand_over(&w.s[1], c, 0, MIG_STEAL, true);
    /* b's owner word moves on to VM 2 while it sits on VM 0's list */
    CU_ASSERT_TRUE_FATAL(ck_pr_cas_32(&b->owner, 0, 2));
    migs_t m0 = migs_of(&w, 0), m2 = migs_of(&w, 2);
    uint32_t wake2 = ck_pr_load_32(&shm_vm(w.h, 2)->wake);

    sched_drain_inbound(&w.s[0]);
    uint32_t q[4];
    CU_ASSERT_EQUAL_FATAL(vw_runq_slots(&w, 0, q, 4), 2);
    CU_ASSERT_EQUAL(q[0], a->slot);
    CU_ASSERT_EQUAL(q[1], c->slot);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 2), (uint64_t)b->slot + 1);
    CU_ASSERT_EQUAL(proc_of(b)->inbound_next, 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&shm_vm(w.h, 2)->wake), wake2 + 1);
    CU_ASSERT_EQUAL(proc_of(b)->arriving, MIG_STEAL + 1);
    migs_t m0b = migs_of(&w, 0);
    CU_ASSERT_TRUE(migs_moved(&m0, &m0b, MIG_STEAL, 2, 0)); /* a and c only */

    sched_drain_inbound(&w.s[2]);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[2]), b);
    CU_ASSERT_PTR_NULL(runq_pop(&w.s[2]));
    migs_t m2b = migs_of(&w, 2);
    CU_ASSERT_TRUE(migs_moved(&m2, &m2b, MIG_STEAL, 1, 0));
    CU_ASSERT_EQUAL(proc_of(b)->arriving, 0);
    vw_free_all(&w);
    vw_close(&w);
}

/* A steal request from VM 1 in VM 0's steal_req, with N processes queued
 * on VM 0 of which some may not go (spawn-on placed and not yet run,
 * pinned by migrate, inside a call-on): sched_give_work hands over
 * what the steal policy says for N (balance_amount) of those that may go (all of them if fewer),
 * none of the others, counted as steals; what stays keeps its order; the
 * thief gets them in queue order; the request is cleared. */
static void test_give_work(void)
{
    enum { MAXN = 12 };
    /* which of the N may not go: bit i set = process i is held back */
    static const struct {
        uint32_t n, held_back;
    } cases[] = {{0, 0},      {1, 0},      {2, 0},     {3, 0},    {7, 0},  {10, 0},
                 {10, 0x2c9}, {12, 0x111}, {9, 0x100}, {5, 0x1e}, {4, 0xf}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        uint32_t n = cases[k].n, back = cases[k].held_back;
        vw_t w;
        CU_ASSERT_TRUE_FATAL(world_n(&w, 2));
        pcb_t *p[MAXN];
        uint32_t eligible = 0;
        for (uint32_t i = 0; i < n; i++) {
            p[i] = held(&w, 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
            if (back >> i & 1) {
                /* the three ways to stay, in turn */
                if (i % 3 == 0)
                    proc_of(p[i])->flags |= PF_PLACED;
                else if (i % 3 == 1)
                    proc_of(p[i])->flags |= PF_PINNED;
                else
                    proc_of(p[i])->pin_depth = 1;
            } else {
                eligible++;
            }
            runq_push(&w.s[0], p[i]);
        }
        CU_ASSERT_TRUE_FATAL(steal_policy(&w));
        size_t want = balance_amount(vw_rt(&w, 0), n, 1);
        uint32_t placed = 0;
        for (uint32_t i = 0; i < n; i++)
            placed += (proc_of(p[i])->flags & PF_PLACED) != 0;
        if (want > eligible)
            want = eligible;
        migs_t m0 = migs_of(&w, 0);
        ck_pr_store_32(&shm_vm(w.h, 0)->steal_req, 1 + 1);

        sched_give_work(&w.s[0]);
        /* nothing given but processes that have not run yet: the request
         * stays for the next round */
        CU_ASSERT_EQUAL(ck_pr_load_32(&shm_vm(w.h, 0)->steal_req),
                        want == 0 && placed >= 2 ? 1 + 1 : 0);
        uint32_t q[MAXN], given[MAXN];
        size_t kept = vw_runq_slots(&w, 0, q, MAXN);
        size_t ng = vw_inbound_slots(&w, 1, given, MAXN);
        LH_CHECK(ng == want, "N = %u, held back %#x: %zu handed over, want %zu", n, back, ng, want);
        CU_ASSERT_EQUAL(kept + ng, n);
        CU_ASSERT_EQUAL(w.s[0].rq_len, kept);
        /* what stayed: in order, owned by VM 0 */
        size_t j = 0, gi = ng; /* the inbound list is newest first */
        int bad = 0;
        for (uint32_t i = 0; i < n; i++) {
            if (p[i]->owner == 0) {
                bad += j >= kept || q[j++] != p[i]->slot;
            } else {
                /* given: to VM 1, in queue order, and free to go */
                bad += p[i]->owner != 1 || gi == 0 || given[--gi] != p[i]->slot;
                bad += (back >> i & 1) != 0;
                bad += ps_state(proc_of(p[i])->status) != PS_RUNNABLE;
            }
        }
        LH_CHECK(bad == 0, "N = %u, held back %#x: %d misplaced", n, back, bad);
        migs_t m1 = migs_of(&w, 0);
        CU_ASSERT_TRUE(migs_moved(&m0, &m1, MIG_STEAL, 0, ng));
        CU_ASSERT_EQUAL(shm_vm_procs(shm_vm(w.h, 0)), kept);
        /* the thief takes them in, in the victim's queue order */
        sched_drain_inbound(&w.s[1]);
        uint32_t t[MAXN];
        CU_ASSERT_EQUAL(vw_runq_slots(&w, 1, t, MAXN), ng);
        for (size_t i = 0; i < ng; i++)
            bad += t[i] != given[ng - 1 - i];
        CU_ASSERT_EQUAL(bad, 0);
        CU_ASSERT_EQUAL(ck_pr_load_64(&shm_vm(w.h, 1)->mig_in[MIG_STEAL]), ng);
        CU_ASSERT_EQUAL(shm_vm_procs(shm_vm(w.h, 1)), ng);
        for (uint32_t i = 0; i < 2; i++)
            balance_free(&w.s[i]);
        vw_free_all(&w);
        vw_close(&w);
    }
}

/* No request: sched_give_work leaves the queue alone. */
static void test_give_work_no_request(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_n(&w, 2));
    pcb_t *p[4];
    for (int i = 0; i < 4; i++) {
        p[i] = held(&w, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
        runq_push(&w.s[0], p[i]);
    }
    sched_give_work(&w.s[0]);
    uint32_t q[5];
    CU_ASSERT_EQUAL_FATAL(vw_runq_slots(&w, 0, q, 5), 4);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(q[i], p[i]->slot);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);
    CU_ASSERT_EQUAL(ck_pr_load_64(&shm_vm(w.h, 0)->mig_out[MIG_STEAL]), 0);
    vw_free_all(&w);
    vw_close(&w);
}

/* Make `pcb` wait with deadline d, with its timer on VM `vm`'s heap: what
 * sched_run_one does when a slice ends in a receive with an after. */
static void wait_with_timer(vw_t *w, uint32_t vm, pcb_t *pcb, int64_t d)
{
    proc_of(pcb)->deadline = d;
    proc_of(pcb)->status = PS_WAITING;
    CU_ASSERT_EQUAL(timer_push(&w->s[vm], d, pcb), 0);
}

/* sched_fire_timers at `now`: a due timer of a waiting process makes it
 * RUNNABLE and queues it on this VM's run queue. A process handed over
 * (waiting) since its timer was set is MOVING, which no timer wakes: its
 * new owner sets the deadline again when it takes it in, and wakes it
 * there. A timer not yet due stays, and its process waits on. */
static void test_fire_timers_due(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_n(&w, 2));
    pcb_t *here = held(&w, 0), *moved = held(&w, 0), *later = held(&w, 0);
    CU_ASSERT_FATAL(here && moved && later);
    wait_with_timer(&w, 0, here, 1000);
    wait_with_timer(&w, 0, later, 5000);
    proc_of(moved)->deadline = 2000;
    CU_ASSERT_EQUAL(timer_push(&w.s[0], 2000, moved), 0);
    proc_of(moved)->status = PS_RUNNING;
    sched_hand_over(&w.s[0], moved, 1, MIG_REBALANCE, false);
    CU_ASSERT_EQUAL_FATAL(ps_state(proc_of(moved)->status), PS_MOVING);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)moved->slot + 1);

    sched_fire_timers(&w.s[0], 999); /* nothing due */
    CU_ASSERT_EQUAL(w.s[0].ntimers, 3);
    CU_ASSERT_EQUAL(proc_of(here)->status, PS_WAITING);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 0);

    sched_fire_timers(&w.s[0], 2000);
    CU_ASSERT_EQUAL(ps_state(proc_of(here)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(ps_state(proc_of(moved)->status), PS_MOVING);
    uint32_t q[4];
    CU_ASSERT_EQUAL_FATAL(vw_runq_slots(&w, 0, q, 4), 1);
    CU_ASSERT_EQUAL(q[0], here->slot);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), (uint64_t)moved->slot + 1);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0), 0);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    /* VM 1 takes it in: waiting, its deadline set again there; due */
    sched_drain_inbound(&w.s[1]);
    CU_ASSERT_EQUAL(proc_of(moved)->status, PS_WAITING);
    CU_ASSERT_EQUAL(w.s[1].ntimers, 1);
    sched_fire_timers(&w.s[1], 2000);
    CU_ASSERT_EQUAL(ps_state(proc_of(moved)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 1);
    CU_ASSERT_EQUAL(vw_inbound(&w, 1), 0);
    /* the later one: still waiting, its timer still there */
    CU_ASSERT_EQUAL(proc_of(later)->status, PS_WAITING);
    CU_ASSERT_EQUAL(w.s[0].ntimers, 1);
    CU_ASSERT_PTR_EQUAL(w.s[0].timers[0].pcb, later);
    CU_ASSERT_EQUAL(w.s[0].timers[0].deadline, 5000);
    sched_fire_timers(&w.s[0], 5000);
    CU_ASSERT_EQUAL(ps_state(proc_of(later)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 2);
    CU_ASSERT_EQUAL(w.s[0].ntimers, 0);
    vw_free_all(&w);
    vw_close(&w);
}

/* Stale timers wake nobody, and are dropped: the process received and
 * went on running (deadline -1), or received and waits again with a new
 * deadline, or ended, or ended and its slot was reused by a process that
 * waits with the very same deadline. */
static void test_fire_timers_stale(void)
{
    /* four slots, all taken: the one freed last is the one claimed next */
    vw_t w;
    CU_ASSERT_TRUE_FATAL(vw_open(&w, 2, 1, 4, 32u << 20, HEAP_FOLLOW_ON_GC));
    pcb_t *ran = held(&w, 0), *again = held(&w, 0), *ended = held(&w, 0), *reused = held(&w, 0);
    CU_ASSERT_FATAL(ran && again && ended && reused);
    const int64_t d = 1000;
    wait_with_timer(&w, 0, ran, d);
    wait_with_timer(&w, 0, again, d);
    wait_with_timer(&w, 0, ended, d);
    wait_with_timer(&w, 0, reused, d);

    /* a message ended the wait, and the process runs on */
    proc_of(ran)->status = PS_RUNNABLE;
    proc_of(ran)->deadline = -1;
    /* woken, ran, and waits again with a later deadline (its new timer is
     * on whichever VM ran it) */
    proc_of(again)->deadline = 90000;
    /* ended, and a new process took its slot and waits with deadline d */
    uint64_t old_pid = reused->pid;
    vw_proc_free(&w, reused, 0);
    pcb_t *fresh = held(&w, 0);
    CU_ASSERT_PTR_EQUAL_FATAL(fresh, reused);
    CU_ASSERT_NOT_EQUAL(fresh->pid, old_pid);
    proc_of(fresh)->deadline = d;
    proc_of(fresh)->status = PS_WAITING;
    /* ended: its slot is free */
    vw_proc_free(&w, ended, 0);

    sched_fire_timers(&w.s[0], d + 1);
    CU_ASSERT_EQUAL(w.s[0].ntimers, 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len + w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(vw_inbound(&w, 0) + vw_inbound(&w, 1), 0);
    CU_ASSERT_EQUAL(ps_state(proc_of(ran)->status), PS_RUNNABLE);
    CU_ASSERT_EQUAL(proc_of(again)->status, PS_WAITING);
    CU_ASSERT_EQUAL(proc_of(fresh)->status, PS_WAITING);
    CU_ASSERT_EQUAL(ended->state, PCB_FREE);
    vw_free_all(&w);
    vw_close(&w);
}

static CU_TestInfo tests[] = {
    {"run queue: FIFO, rq_len after each push and pop", test_runq_fifo},
    {"run queue: popping an empty queue gives NULL", test_runq_empty},
    {"run queue: thousands pushed come out in order", test_runq_many},
    {"run queue: a popped process can be queued again at once", test_runq_requeue},
    {"run queue: mixed pushes and pops, FIFO and length kept", test_runq_mixed},
    {"timers: only those due (deadline <= now) pop, in order", test_timer_due_only},
    {"timers: a popped timer carries its pcb and the pid it was pushed with",
     test_timer_records_pcb_and_pid},
    {"timers: pushed in random order, popped sorted", test_timer_random_sorted},
    {"timers: interleaved with time going forward, match a reference", test_timer_interleaved},
    {"timers: equal deadlines all pop, each once", test_timer_equal_deadlines},
    {"timers: waits that a message ended leave the heap bounded", test_timer_heap_bounded},
    {"sched_free releases both queues, the sched is reusable", test_sched_free},
    {"spawn onto another VM: on its inbound list, slot + 1", test_spawn_other_vm},
    {"spawn onto the caller's VM: on the caller's run queue", test_spawn_own_vm},
    {"spawn into a full table: EAGAIN, nothing queued", test_spawn_table_full},
    {"wake: own process to the run queue, another VM's to its inbound list", test_wake_proc},
    {"hand_over, runnable, each cause: owner CAS, on the target's inbound list, counted once, zero "
     "copy",
     test_hand_over_runnable},
    {"hand_over by migration torture: moved, counted nowhere", test_hand_over_torture_uncounted},
    {"hand_over, waiting: stays WAITING on no queue; a later message wakes it on the new owner",
     test_hand_over_waiting},
    {"hand_over, waiting, with a message already in the inbox: RUNNABLE on the new owner",
     test_hand_over_waiting_inbox_race},
    {"drain_inbound: several pushers, push order, each once, arrivals counted by cause",
     test_drain_push_order},
    {"drain_inbound: a process whose owner moved on is forwarded, not queued here",
     test_drain_forwards_moved},
    {"give_work: policy_steal_amount(N) handed over, never placed or pinned, the rest in order",
     test_give_work},
    {"give_work: no request, nothing moves", test_give_work_no_request},
    {"fire_timers: due wakes on the owner (also a new one), not due stays", test_fire_timers_due},
    {"fire_timers: stale timers (ran on, waits anew, ended, slot reused) wake nobody",
     test_fire_timers_stale},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(sched, tests, NULL, NULL)
