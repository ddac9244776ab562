/*
 * test_sched.c: the queues of one VM's scheduler, without its loop: the
 * run queue (a growable ring of PCB pointers), the timer heap behind
 * receive timeouts and sleep (a binary min-heap on the deadline), and
 * sched_free; then where proc_spawn and sched_wake_proc queue a process,
 * on a world of two VMs with a loaded program and a runtime (rt_t) per VM
 * as sched_main sets one up.
 *
 * The queue tests take real PCBs from a small segment, but the run queue
 * only stores the pointers, so most of them are never claimed. The timer
 * tests claim theirs, since timer_push records the pid the PCB has then.
 * Pseudo-random orders come from a fixed-seed xorshift, so every run sees
 * the same ones.
 *
 * drain_inbound and the scheduler loop are static in sched.c; the spawn
 * tests check the inbound list itself (shm_vm_t.inbound and the
 * proc_t.inbound_next links), which is what drain_inbound reads.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "shm/proctab.h"
#include "shm/segment.h"
#include "shm/vmtab.h"
#include "vmproc/code.h"
#include "vmproc/heap.h"
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

static uint64_t inbound_of(const vw_t *w, uint32_t vm)
{
    return ck_pr_load_64(&shm_vm(w->h, vm)->inbound);
}

/* From VM 0 onto VM 1: owned by VM 1 and on VM 1's inbound list, newest
 * first (head = slot + 1, linked by inbound_next), and VM 1 woken; VM 0's
 * run queue and inbound list and VM 1's run queue stay empty. */
static void test_spawn_other_vm(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 64));
    shm_vm_t *v1 = shm_vm(w.h, 1);
    uint32_t wake0 = ck_pr_load_32(&v1->wake);
    CU_ASSERT_EQUAL(inbound_of(&w, 1), 0);

    pcb_t *a = spawn(&w, 0, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_EQUAL(a->state, PCB_LIVE);
    CU_ASSERT_EQUAL(a->owner, 1);
    CU_ASSERT_EQUAL(proc_of(a)->status, PS_RUNNABLE);
    CU_ASSERT_EQUAL(inbound_of(&w, 1), (uint64_t)a->slot + 1);
    CU_ASSERT_EQUAL(proc_of(a)->inbound_next, 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&v1->wake), wake0 + 1);
    CU_ASSERT_EQUAL(ck_pr_load_64(&v1->procs), 1);

    pcb_t *b = spawn(&w, 0, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_NOT_EQUAL(b->slot, a->slot);
    CU_ASSERT_EQUAL(inbound_of(&w, 1), (uint64_t)b->slot + 1);
    CU_ASSERT_EQUAL(proc_of(b)->inbound_next, a->slot + 1);
    CU_ASSERT_EQUAL(proc_of(a)->inbound_next, 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&v1->wake), wake0 + 2);
    CU_ASSERT_EQUAL(ck_pr_load_64(&v1->procs), 2);

    CU_ASSERT_EQUAL(w.s[0].rq_len, 0);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(inbound_of(&w, 0), 0);
    CU_ASSERT_EQUAL(ck_pr_load_64(&shm_vm(w.h, 0)->procs), 0);
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
    CU_ASSERT_EQUAL(proc_of(a)->status, PS_RUNNABLE);
    CU_ASSERT_EQUAL(ck_pr_load_64(&v0->procs), 2);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 2);
    CU_ASSERT_EQUAL(inbound_of(&w, 0), 0);
    CU_ASSERT_EQUAL(inbound_of(&w, 1), 0);
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
    uint64_t in1 = inbound_of(&w, 1);
    size_t rq0 = w.s[0].rq_len;
    uint64_t pid = 0;
    errno = 0;
    CU_ASSERT_EQUAL(proc_spawn(vw_rt(&w, 0), 1, main_fun(&w), NULL, 0, &pid, false), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);
    errno = 0;
    CU_ASSERT_EQUAL(proc_spawn(vw_rt(&w, 0), 0, main_fun(&w), NULL, 0, &pid, false), -1);
    CU_ASSERT_EQUAL(errno, EAGAIN);
    CU_ASSERT_EQUAL(inbound_of(&w, 1), in1);
    CU_ASSERT_EQUAL(inbound_of(&w, 0), 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len, rq0);
    CU_ASSERT_EQUAL(ck_pr_load_64(&shm_vm(w.h, 0)->procs) + ck_pr_load_64(&shm_vm(w.h, 1)->procs),
                    N);
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
    CU_ASSERT_EQUAL(inbound_of(&w, 0), 0);
    CU_ASSERT_EQUAL(inbound_of(&w, 1), 0);

    uint32_t wake1 = ck_pr_load_32(&shm_vm(w.h, 1)->wake);
    sched_wake_proc(vw_rt(&w, 0), theirs);
    CU_ASSERT_EQUAL(inbound_of(&w, 1), (uint64_t)theirs->slot + 1);
    CU_ASSERT_EQUAL(proc_of(theirs)->inbound_next, 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&shm_vm(w.h, 1)->wake), wake1 + 1);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 1);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_PTR_EQUAL(runq_pop(&w.s[0]), mine);

    /* from VM 1, the roles swap */
    sched_wake_proc(vw_rt(&w, 1), mine);
    CU_ASSERT_EQUAL(inbound_of(&w, 0), (uint64_t)mine->slot + 1);
    CU_ASSERT_EQUAL(w.s[1].rq_len, 0);
    CU_ASSERT_EQUAL(w.s[0].rq_len, 0);
    proc_free(&w, mine);
    proc_free(&w, theirs);
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
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(sched, tests, NULL, NULL)
