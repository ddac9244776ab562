/*
 * test_msg.c: the inbox (vmproc/msg.c): messages from senders on other
 * VMs, published with one CAS each and taken whole by the receiver's VM.
 *
 * The receiver is a process on VM 0 of a world (tests/vm_world.h); the
 * senders are forked children, each acting as another VM of the same
 * world, sending numbered messages #(sender seq) while the parent takes
 * them. Checked: every sender's messages arrive complete and in order
 * under concurrent senders; a sender killed at a random moment, in the
 * middle of a send or between two, leaves a whole prefix of its messages
 * and nothing broken (the pool is consistent after the supervisor's
 * recovery of that VM, and at most the one buffer it was filling is left
 * over); and a message never lands in a process that has ended.
 *
 * Children never call CUnit: they report through their exit status.
 */
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "shm/pool.h"
#include "shm/proctab.h"
#include "vmproc/bif.h"
#include "vmproc/compiler.h"
#include "vmproc/interp.h"
#include "vmproc/msg.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1ull << 20)

/* A sender's pid as the messages carry it: not a process of the world. */
static uint64_t sender_pid(uint32_t vm)
{
    return 1000000u + vm;
}

/* Child: as VM `vm`, send messages #(vm 0), #(vm 1), ... to `to`: `n` of
 * them, or until killed if n is 0. Exit 0 if every send was SEND_OK. */
static void sender_main(vw_t *w, uint32_t vm, uint64_t to, uint32_t n)
{
    rt_t *rt = vw_rt(w, vm);
    for (uint32_t seq = 0; n == 0 || seq < n; seq++) {
        term t[3] = {mk_hdr(3, BT_TUPLE), mk_fix(vm), mk_fix(seq)};
        if (msg_send(rt, to, SIG_MSG, sender_pid(vm), mk_box(t), T_NIL) != SEND_OK)
            _exit(1);
    }
    _exit(0);
}

static pid_t start_sender(vw_t *w, uint32_t vm, uint64_t to, uint32_t n)
{
    pid_t pid = fork();
    if (pid == 0)
        sender_main(w, vm, to, n);
    return pid;
}

/* What the receiver has seen: the next sequence number expected from each
 * sender, and messages that were not that (lost, reordered, doubled or
 * corrupted). */
typedef struct tally {
    uint32_t next[VW_MAX_VMS];
    uint64_t bad;
} tally_t;

/* Take what arrived, check it against the tally, and empty the mailbox
 * (then collect, so the heap does not grow with the run). Returns the
 * messages taken. */
static uint64_t drain(vw_t *w, pcb_t *pcb, tally_t *t)
{
    rt_t *rt = vw_rt(w, 0);
    proc_t *p = proc_of(pcb);
    uint64_t got = msg_take(rt, pcb);
    if (got == 0)
        return 0;
    for (term m = p->mbox_first; m; m = box_ptr(m)[1]) {
        term v = box_ptr(m)[2];
        if (!is_tuple(v) || tuple_size(v) != 2 || !is_fix(tuple_elems(v)[0]) ||
            !is_fix(tuple_elems(v)[1])) {
            t->bad++;
            continue;
        }
        int64_t s = fix_val(tuple_elems(v)[0]), seq = fix_val(tuple_elems(v)[1]);
        if (s < 1 || s >= (int64_t)w->n_vms || seq != (int64_t)t->next[s] ||
            box_ptr(m)[4] != mk_pid(sender_pid((uint32_t)s)))
            t->bad++;
        else
            t->next[s]++;
    }
    p->mbox_first = p->mbox_last = p->mbox_prev = 0;
    p->mbox_len = 0;
    if (heap_gc(rt, pcb, 0, NULL, 0) < 0)
        t->bad++;
    return got;
}

/* Pages of the pool that `owner` owns. */
static uint64_t pages_owned(const shm_header_t *h, uint32_t owner)
{
    uint64_t n = 0;
    for (uint32_t k = 0; k < h->cfg.n_nodes; k++) {
        void *base;
        size_t bytes;
        pool_node_range(h, k, &base, &bytes);
        for (size_t off = 0; off < bytes; off += SHOAL_PAGE)
            n += pool_owner_of(h, (char *)base + off) == owner;
    }
    return n;
}

/* Three senders at once, 5,000 messages each, while VM 0 takes them as
 * they come: each sender's messages all arrive, in the order sent. */
static void test_fifo_per_sender(void)
{
    enum { SENDERS = 3, PER_SENDER = 5000 };
    vw_t w;
    CU_ASSERT_TRUE_FATAL(vw_open(&w, 1 + SENDERS, 1, 1024, 256 * MIB, HEAP_FOLLOW_ON_GC));
    pcb_t *rcv = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(rcv);
    pid_t kids[SENDERS];
    for (uint32_t i = 0; i < SENDERS; i++) {
        kids[i] = start_sender(&w, 1 + i, rcv->pid, PER_SENDER);
        CU_ASSERT_FATAL(kids[i] > 0);
    }
    tally_t t = {{0}, 0};
    uint64_t taken = 0;
    int running = SENDERS, failed = 0;
    while (running > 0) {
        taken += drain(&w, rcv, &t);
        for (uint32_t i = 0; i < SENDERS; i++) {
            int st;
            if (kids[i] > 0 && waitpid(kids[i], &st, WNOHANG) == kids[i]) {
                failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
                kids[i] = 0;
                running--;
            }
        }
    }
    /* Every sender has exited: everything it published is in the inbox. */
    for (uint64_t got; (got = drain(&w, rcv, &t)) > 0;)
        taken += got;
    CU_ASSERT_EQUAL(failed, 0);
    CU_ASSERT_EQUAL(taken, (uint64_t)SENDERS * PER_SENDER);
    CU_ASSERT_EQUAL(t.bad, 0);
    for (uint32_t i = 0; i < SENDERS; i++)
        CU_ASSERT_EQUAL(t.next[1 + i], PER_SENDER);
    vw_proc_free(&w, rcv, 0);
    char why[256] = "";
    CU_ASSERT_EQUAL(pool_check(w.h, why, sizeof why), 0);
    if (why[0])
        fprintf(stderr, "\npool: %s\n", why);
    vw_close(&w);
}

/* A sender killed at a random moment, eight times: what it published is a
 * whole prefix of what it sent, in order, and nothing else arrives; after
 * the supervisor's recovery of its VM the pool is consistent, nothing is
 * owned by the dead VM, and at most the one buffer it was filling is left
 * owned by the receiver's slot once the receiver is gone. */
static void test_sender_killed(void)
{
    uint64_t rng = 0x2545F4914F6CDD1Dull;
    for (int round = 0; round < 8; round++) {
        vw_t w;
        CU_ASSERT_TRUE_FATAL(vw_open(&w, 2, 1, 1024, 64 * MIB, HEAP_FOLLOW_ON_GC));
        pcb_t *rcv = vw_proc_new(&w, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(rcv);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        uint32_t kill_after = 50 + (uint32_t)(rng % 3000);
        pid_t kid = start_sender(&w, 1, rcv->pid, 0);
        CU_ASSERT_FATAL(kid > 0);
        tally_t t = {{0}, 0};
        while (t.next[1] < kill_after && t.bad == 0)
            drain(&w, rcv, &t);
        CU_ASSERT_EQUAL_FATAL(kill(kid, SIGKILL), 0);
        int st;
        CU_ASSERT_EQUAL_FATAL(waitpid(kid, &st, 0), kid);
        CU_ASSERT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        /* what the supervisor does once it has reaped a VM */
        pool_recover_vm(w.h, 1);
        uint32_t before = t.next[1];
        while (drain(&w, rcv, &t) > 0)
            ;
        CU_ASSERT_EQUAL(t.bad, 0);
        CU_ASSERT(t.next[1] >= before);
        CU_ASSERT_EQUAL(proc_of(rcv)->mbox_len, 0);
        CU_ASSERT_EQUAL(pages_owned(w.h, POOL_OWNER_VM(1)), 0);
        uint32_t slot = rcv->slot;
        vw_proc_free(&w, rcv, 0);
        CU_ASSERT(pages_owned(w.h, POOL_OWNER_PROC(slot)) <= 1);
        char why[256] = "";
        CU_ASSERT_EQUAL(pool_check(w.h, why, sizeof why), 0);
        if (why[0])
            fprintf(stderr, "\nround %d: pool: %s\n", round, why);
        vw_close(&w);
    }
}

/* Sends to a process that has ended are dropped: after its inbox closed
 * (msg_close) and after its slot was freed, and to a pid of a later
 * generation of its slot; a message sent before the end is not delivered
 * to anybody after it. */
static void test_no_delivery_after_end(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(vw_open(&w, 2, 1, 1024, 64 * MIB, HEAP_FOLLOW_ON_GC));
    rt_t *rt = vw_rt(&w, 1);
    pcb_t *a = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    uint64_t pid = a->pid;
    term t[3] = {mk_hdr(3, BT_TUPLE), mk_fix(1), mk_fix(0)};
    CU_ASSERT_EQUAL(msg_send(rt, pid, SIG_MSG, sender_pid(1), mk_box(t), T_NIL), SEND_OK);
    CU_ASSERT_EQUAL(msg_send(rt, pid + w.h->cfg.proc_slots, SIG_MSG, sender_pid(1), mk_box(t),
                             T_NIL),
                    SEND_NOPROC);
    CU_ASSERT_EQUAL(msg_send(rt, 0, SIG_MSG, sender_pid(1), mk_box(t), T_NIL), SEND_NOPROC);

    /* The end: the inbox closes; what was in it is dropped with it. */
    CU_ASSERT_FALSE(msg_close(vw_rt(&w, 0), a, mk_atom(A_NORMAL)));
    CU_ASSERT_EQUAL(msg_send(rt, pid, SIG_MSG, sender_pid(1), mk_box(t), T_NIL), SEND_NOPROC);
    CU_ASSERT_EQUAL(msg_take(vw_rt(&w, 0), a), 0);
    CU_ASSERT_EQUAL(proc_of(a)->mbox_len, 0);
    vw_proc_free(&w, a, 0);
    CU_ASSERT_EQUAL(msg_send(rt, pid, SIG_MSG, sender_pid(1), mk_box(t), T_NIL), SEND_NOPROC);

    /* A later process gets nothing meant for the earlier one. */
    pcb_t *b = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_NOT_EQUAL(b->pid, pid);
    CU_ASSERT_EQUAL(msg_take(vw_rt(&w, 0), b), 0);
    CU_ASSERT_EQUAL(proc_of(b)->mbox_len, 0);
    vw_proc_free(&w, b, 0);
    char why[256] = "";
    CU_ASSERT_EQUAL(pool_check(w.h, why, sizeof why), 0);
    vw_close(&w);
}

/* Sender punishment: a send learns how many messages its receiver has
 * not taken yet, and (send) charges the sender 2 reductions for each, off
 * its next slice, at most a slice; a receiver that took them costs
 * nothing. */
static void test_sender_pays_for_backlog(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(vw_open(&w, 2, 1, 1024, 64 * MIB, HEAP_FOLLOW_ON_GC));
    rt_t *rt = vw_rt(&w, 1);
    pcb_t *a = vw_proc_new(&w, 0), *s = vw_proc_new(&w, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    term args[2] = {mk_pid(a->pid), mk_fix(7)};
    for (uint32_t k = 0; k < 3; k++) {
        CU_ASSERT_EQUAL(bif_send(rt, s, args, 2), mk_fix(7));
        CU_ASSERT_EQUAL(rt->send_queued, k);
    }
    CU_ASSERT_EQUAL(proc_of(s)->reds_debt, 0 + 2 + 4);
    CU_ASSERT_EQUAL(rt->bif_cost, 0);
    proc_of(s)->reds_debt = 0;
    /* taken: the next send finds none waiting and costs nothing */
    CU_ASSERT_EQUAL(msg_take(vw_rt(&w, 0), a), 3);
    CU_ASSERT_EQUAL(bif_send(rt, s, args, 2), mk_fix(7));
    CU_ASSERT_EQUAL(rt->send_queued, 0);
    CU_ASSERT_EQUAL(proc_of(s)->reds_debt, 0);
    /* a long backlog costs at most a slice */
    for (uint32_t k = 0; k < SLICE_REDUCTIONS; k++)
        CU_ASSERT_EQUAL_FATAL(msg_send(rt, a->pid, SIG_MSG, s->pid, mk_fix(1), T_NIL), SEND_OK);
    CU_ASSERT_EQUAL(bif_send(rt, s, args, 2), mk_fix(7));
    CU_ASSERT_EQUAL(rt->send_queued, SLICE_REDUCTIONS + 1);
    CU_ASSERT_EQUAL(proc_of(s)->reds_debt, SLICE_REDUCTIONS);
    proc_of(s)->reds_debt = 0;
    /* a send to nobody costs nothing, whatever the last one cost */
    term none[2] = {mk_pid(a->pid + w.h->cfg.proc_slots), mk_fix(7)};
    CU_ASSERT_EQUAL(bif_send(rt, s, none, 2), mk_fix(7));
    CU_ASSERT_EQUAL(rt->send_queued, 0);
    CU_ASSERT_EQUAL(proc_of(s)->reds_debt, 0);
    vw_proc_free(&w, a, 0);
    vw_proc_free(&w, s, 1);
    vw_close(&w);
}

static CU_TestInfo tests[] = {
    {"3 concurrent senders on other VMs: each one's messages whole, in order",
     test_fifo_per_sender},
    {"a sender killed at random: a whole prefix arrives, the pool recovers", test_sender_killed},
    {"no delivery to an ended process or a later one in its slot", test_no_delivery_after_end},
    {"a sender pays 2 reductions per message its receiver has not taken", test_sender_pays_for_backlog},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(msg, tests, NULL, NULL)
