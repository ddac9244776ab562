/*
 * test_migrate.c: zero-copy migration, in one process, on a synthetic
 * machine of two NUMA nodes ("pack:1,numa:2,core:2,pu:1"): VM 0 on node 0,
 * VM 1 on node 1, each with its own runtime (rt_t) as sched_main sets one
 * up, and no scheduler loop.
 *
 * A process is created on VM 0 and handed to VM 1 by the scheduler's own
 * sched_hand_over (heap_detach on the old VM, a CAS of the owner word),
 * taken in by VM 1's sched_drain_inbound and attached to VM 1's heap
 * counters as sched_run_one does. The tests check that the heap stays
 * where it is and counts as remote on the new VM until its next
 * collection, which moves it to the new VM's node (heap_follow = on_gc), or leaves it on the
 * node it started on (heap_follow = never); that message buffers and the
 * monitor chain follow the process the same way; and that the hand-over
 * never touches the heap (the heap is made inaccessible while it runs),
 * so it is O(1) in heap size.
 *
 * The per-process and per-VM move counters (proc_t migrations and mig[],
 * shm_vm_t mig_in/mig_out) are checked in test_sched.c, and end to end
 * by tests/programs/mig_*.shoal through process-info.
 */
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/segment.h"
#include "shm/slab.h"
#include "shm/vmtab.h"
#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/interp.h"
#include "vmproc/msg.h"
#include "vmproc/program.h"
#include "vmproc/sched.h"
#include "vmproc/termio.h"

#include <ck_pr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1ull << 20)

/* The worlds here: two VMs on two nodes (tests/vm_world.h). */
static bool world_open(vw_t *w, uint64_t pool_bytes, enum heap_follow follow)
{
    return vw_open(w, 2, 2, 1024, pool_bytes, follow);
}

/* Hand a process that is not running from VM `from` to VM `to` and take
 * it in there: false if it did not arrive, owned by `to`. */
static bool hand_over(vw_t *w, pcb_t *pcb, uint32_t from, uint32_t to)
{
    /* the scheduler's own hand-over, then what VM `to` does with it: it
     * drains its inbound list, queues the process, and attaches it to its
     * heap counters when it runs it (sched_run_one) */
    sched_hand_over(&w->s[from], pcb, to, MIG_EXPLICIT, true);
    sched_drain_inbound(&w->s[to]);
    pcb_t *got = runq_pop(&w->s[to]);
    heap_attach(vw_rt(w, to), proc_of(pcb));
    return got == pcb && ck_pr_load_32(&pcb->owner) == to;
}

/* ------------------------------------------------------------------ */
/* what is where                                                        */

/* Bytes of the block that holds `addr`: a run of pages, or a chunk of the
 * slabs of process memory (a process's first block, a small stack). */
static uint64_t run_bytes(const shm_header_t *h, const void *addr)
{
    uint32_t owner;
    void *run = pool_run_of(h, addr, &owner);
    if (owner == POOL_OWNER_HEAP_SLABS)
        return slab_slot_size(h, addr);
    return (uint64_t)pool_run_pages(h, run) * SHOAL_PAGE;
}

static uint64_t chain_bytes(const shm_header_t *h, const hblock_t *b)
{
    uint64_t n = 0;
    for (; b; b = b->next)
        n += run_bytes(h, b);
    return n;
}

/* Whether every block of the chain is on `node`, by the pool (the truth)
 * and by the block's own header. */
static bool chain_on(const shm_header_t *h, const hblock_t *b, uint32_t node)
{
    for (; b; b = b->next)
        if (pool_node_of(h, b) != node || b->node != node)
            return false;
    return true;
}

/* The heap of p, both generations (heap.c): its bytes, and whether all
 * of it is on `node`. */
static uint64_t heap_chain_bytes(const shm_header_t *h, const proc_t *p)
{
    return chain_bytes(h, p->hfirst) + chain_bytes(h, p->ofirst);
}

static bool heap_chains_on(const shm_header_t *h, const proc_t *p, uint32_t node)
{
    return chain_on(h, p->hfirst, node) && chain_on(h, p->ofirst, node);
}

static size_t chain_len(const hblock_t *b)
{
    size_t n = 0;
    for (; b; b = b->next)
        n++;
    return n;
}

static uint64_t local_of(const vw_t *w, uint32_t vm)
{
    return ck_pr_load_64(&shm_vm(w->h, vm)->heap_local);
}

static uint64_t remote_of(const vw_t *w, uint32_t vm)
{
    return ck_pr_load_64(&shm_vm(w->h, vm)->heap_remote);
}

static uint64_t bytes_on(const proc_t *p, uint32_t node)
{
    return (uint64_t)p->node_lines[node] * PROC_LINE;
}

/* ------------------------------------------------------------------ */
/* a list on a process's heap                                           */

/* Element i: #(i i*0.5 "nNNNNNN") in 11 words (float 2, string 3, tuple 4,
 * the cons cell 2). */
#define ELEM_WORDS 11u

static void elem_text(char buf[16], uint32_t i)
{
    snprintf(buf, 16, "n%06u", i % 1000000u);
}

/* Push onto p's stack a list of elements n-1 .. 0, built an element at a
 * time through heap_make_room, so that the heap grows by blocks and by
 * collections as the interpreter makes it grow. The list is rooted in the
 * stack slot all along. */
static int push_list(rt_t *rt, pcb_t *pcb, uint32_t n)
{
    proc_t *p = proc_of(pcb);
    *p->sp++ = T_NIL;
    for (uint32_t i = 0; i < n; i++) {
        if (heap_make_room(rt, pcb, ELEM_WORDS) < 0)
            return -1;
        term *w = heap_take(p, ELEM_WORDS);
        double d = i * 0.5;
        char text[16];
        elem_text(text, i);
        w[0] = mk_hdr(2, BT_FLOAT);
        memcpy(&w[1], &d, sizeof d);
        w[2] = mk_hdr(3, BT_STRING);
        w[3] = 7;
        memcpy(&w[4], text, 8); /* with the NUL that pads it */
        w[5] = mk_hdr(4, BT_TUPLE);
        w[6] = mk_fix(i);
        w[7] = mk_box(&w[0]);
        w[8] = mk_box(&w[2]);
        w[9] = mk_box(&w[5]);
        w[10] = p->sp[-1];
        p->sp[-1] = mk_cons_ptr(&w[9]);
    }
    return 0;
}

/* Elements of list l that are what push_list(n) made, in order, up to the
 * first that is not (n and a '() tail if the list is intact). */
static uint32_t list_intact(term l, uint32_t n)
{
    uint32_t k = 0;
    for (; is_cons(l) && k < n; l = CDR(l), k++) {
        uint32_t i = n - 1 - k;
        term t = CAR(l);
        char text[16];
        elem_text(text, i);
        if (!is_tuple(t) || tuple_size(t) != 3)
            break;
        term *e = tuple_elems(t);
        if (e[0] != mk_fix(i) || !is_float(e[1]) || float_val(e[1]) != i * 0.5 ||
            !is_string(e[2]) || str_len(e[2]) != 7 || memcmp(str_bytes(e[2]), text, 8) != 0)
            break;
    }
    return k == n && is_nil(l) ? n : k;
}

/* ------------------------------------------------------------------ */
/* tests                                                                */

#define N_ELEMS 50000u

/* heap_follow = on_gc: the heap stays on node 0 through the hand-over and
 * counts as remote on VM 1; VM 1's first collection moves it to node 1. The
 * stack run moves only when it grows. Then back to VM 0 the same way. */
static void test_heap_moves_at_first_gc(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 256 * MIB, HEAP_FOLLOW_ON_GC));
    shm_header_t *h = w.h;
    pcb_t *pcb = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    proc_t *p = proc_of(pcb);
    CU_ASSERT_EQUAL(pcb->owner, 0);
    CU_ASSERT_EQUAL(p->acct_vm, 0 + 1);
    CU_ASSERT_EQUAL_FATAL(push_list(vw_rt(&w, 0), pcb, N_ELEMS), 0);
    CU_ASSERT(p->gcs > 0);                 /* it grew through collections */
    CU_ASSERT_EQUAL(list_intact(p->sp[-1], N_ELEMS), N_ELEMS);

    /* On VM 0: everything on node 0, all of it local. */
    uint64_t heap0 = heap_chain_bytes(h, p), stack0 = run_bytes(h, p->stack_lo);
    CU_ASSERT(heap0 >= (uint64_t)N_ELEMS * ELEM_WORDS * sizeof(term));
    CU_ASSERT_TRUE(heap_chains_on(h, p, 0));
    CU_ASSERT_EQUAL(pool_node_of(h, p->stack_lo), 0);
    CU_ASSERT_PTR_NULL(p->frags);
    CU_ASSERT_EQUAL(local_of(&w, 0), heap0 + stack0);
    CU_ASSERT_EQUAL(remote_of(&w, 0), 0);
    CU_ASSERT_EQUAL(bytes_on(p, 0), heap0 + stack0);
    CU_ASSERT_EQUAL(bytes_on(p, 1), 0);

    /* The hand-over: nothing moves, VM 1 counts all of it as remote. */
    hblock_t *first = p->hfirst, *ofirst = p->ofirst;
    uint64_t words = p->heap_words;
    size_t blocks = chain_len(p->hfirst);
    CU_ASSERT_TRUE(hand_over(&w, pcb, 0, 1));
    CU_ASSERT_EQUAL(pcb->owner, 1);
    CU_ASSERT_EQUAL(p->acct_vm, 1 + 1);
    CU_ASSERT_PTR_EQUAL(p->hfirst, first);
    CU_ASSERT_PTR_EQUAL(p->ofirst, ofirst);
    CU_ASSERT_EQUAL(p->heap_words, words);
    CU_ASSERT_EQUAL(chain_len(p->hfirst), blocks);
    CU_ASSERT_TRUE(heap_chains_on(h, p, 0));
    CU_ASSERT_EQUAL(pool_node_of(h, p->stack_lo), 0);
    CU_ASSERT_EQUAL(local_of(&w, 0), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 0), 0);
    CU_ASSERT_EQUAL(local_of(&w, 1), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), heap0 + stack0);
    CU_ASSERT_EQUAL(list_intact(p->sp[-1], N_ELEMS), N_ELEMS);

    /* VM 1's first collection copies the heap to node 1. */
    uint64_t gcs = p->gcs;
    CU_ASSERT_EQUAL_FATAL(heap_gc(vw_rt(&w, 1), pcb, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(p->gcs, gcs + 1);
    CU_ASSERT_EQUAL(list_intact(p->sp[-1], N_ELEMS), N_ELEMS);
    uint64_t heap1 = heap_chain_bytes(h, p);
    CU_ASSERT_TRUE(heap_chains_on(h, p, 1));
    CU_ASSERT_EQUAL(local_of(&w, 1), heap1);
    /* what stays remote is exactly the stack run, still on node 0 */
    CU_ASSERT_EQUAL(pool_node_of(h, p->stack_lo), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), stack0);
    CU_ASSERT_EQUAL(local_of(&w, 0), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 0), 0);
    CU_ASSERT_EQUAL(bytes_on(p, 0), stack0);
    CU_ASSERT_EQUAL(bytes_on(p, 1), heap1);

    /* The stack follows when it grows: nothing is remote any more. */
    CU_ASSERT_EQUAL_FATAL(stack_grow(vw_rt(&w, 1), pcb, 4 * SHOAL_PAGE / sizeof(term)), 0);
    uint64_t stack1 = run_bytes(h, p->stack_lo);
    CU_ASSERT_EQUAL(pool_node_of(h, p->stack_lo), 1);
    CU_ASSERT(stack1 > stack0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), 0);
    CU_ASSERT_EQUAL(local_of(&w, 1), heap1 + stack1);
    CU_ASSERT_EQUAL(list_intact(p->sp[-1], N_ELEMS), N_ELEMS);

    /* And back to VM 0: remote there until its collection. */
    CU_ASSERT_TRUE(hand_over(&w, pcb, 1, 0));
    CU_ASSERT_EQUAL(local_of(&w, 1), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), 0);
    CU_ASSERT_EQUAL(local_of(&w, 0), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 0), heap1 + stack1);
    CU_ASSERT_EQUAL_FATAL(heap_gc(vw_rt(&w, 0), pcb, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(list_intact(p->sp[-1], N_ELEMS), N_ELEMS);
    CU_ASSERT_TRUE(heap_chains_on(h, p, 0));
    CU_ASSERT_EQUAL(local_of(&w, 0), heap_chain_bytes(h, p));
    CU_ASSERT_EQUAL(remote_of(&w, 0), stack1);

    /* Ending the process gives every counter back. */
    vw_proc_free(&w, pcb, 0);
    for (uint32_t vm = 0; vm < 2; vm++) {
        CU_ASSERT_EQUAL(local_of(&w, vm), 0);
        CU_ASSERT_EQUAL(remote_of(&w, vm), 0);
    }
    for (uint32_t k = 0; k < PROC_NODES; k++)
        CU_ASSERT_EQUAL(p->node_lines[k], 0);
    char why[256];
    CU_ASSERT_EQUAL(pool_check(h, why, sizeof why), 0);
    vw_close(&w);
}

/* heap_follow = never: the heap stays on the node the process started on,
 * through collections, new blocks and stack growth on VM 1, and counts as
 * remote there. */
static void test_heap_follow_never_stays(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 256 * MIB, HEAP_FOLLOW_NEVER));
    shm_header_t *h = w.h;
    pcb_t *pcb = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    proc_t *p = proc_of(pcb);
    CU_ASSERT_EQUAL(p->home_node, 0);
    CU_ASSERT_EQUAL_FATAL(push_list(vw_rt(&w, 0), pcb, N_ELEMS), 0);
    uint64_t stack0 = run_bytes(h, p->stack_lo);
    CU_ASSERT_TRUE(hand_over(&w, pcb, 0, 1));
    CU_ASSERT_EQUAL(remote_of(&w, 1), heap_chain_bytes(h, p) + stack0);

    CU_ASSERT_EQUAL_FATAL(heap_gc(vw_rt(&w, 1), pcb, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(list_intact(p->sp[-1], N_ELEMS), N_ELEMS);
    CU_ASSERT_TRUE(heap_chains_on(h, p, 0));
    CU_ASSERT_EQUAL(local_of(&w, 1), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), heap_chain_bytes(h, p) + stack0);
    CU_ASSERT_EQUAL(bytes_on(p, 1), 0);

    /* More heap on VM 1 (a new block, or a collection): still node 0. */
    uint64_t more = (uint64_t)(p->hlim - p->hp) + 1;
    CU_ASSERT_EQUAL_FATAL(heap_make_room(vw_rt(&w, 1), pcb, more), 0);
    CU_ASSERT((uint64_t)(p->hlim - p->hp) >= more);
    CU_ASSERT_TRUE(heap_chains_on(h, p, 0));
    /* A bigger stack: still node 0. */
    CU_ASSERT_EQUAL_FATAL(stack_grow(vw_rt(&w, 1), pcb, 4 * SHOAL_PAGE / sizeof(term)), 0);
    CU_ASSERT_EQUAL(pool_node_of(h, p->stack_lo), 0);
    CU_ASSERT_EQUAL(local_of(&w, 1), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1),
                    heap_chain_bytes(h, p) + run_bytes(h, p->stack_lo));
    CU_ASSERT_EQUAL(list_intact(p->sp[-1], N_ELEMS), N_ELEMS);

    vw_proc_free(&w, pcb, 1);
    CU_ASSERT_EQUAL(local_of(&w, 1), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), 0);
    char why[256];
    CU_ASSERT_EQUAL(pool_check(h, why, sizeof why), 0);
    vw_close(&w);
}

/* A message and a monitor request sent while the process was on VM 0 are
 * buffers on node 0, taken by VM 1 after the hand-over: remote there until
 * VM 1's collection joins them to a heap on node 1, intact. */
static void test_messages_follow(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 256 * MIB, HEAP_FOLLOW_ON_GC));
    shm_header_t *h = w.h;
    pcb_t *pcb = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    proc_t *p = proc_of(pcb);
    CU_ASSERT_EQUAL_FATAL(push_list(vw_rt(&w, 0), pcb, 1000), 0);

    /* #(hello 42 "migrating message"), from a watcher pid, plus a monitor */
    static const char text[] = "migrating message";
    term s[2 + 3] = {mk_hdr(str_words(sizeof text - 1), BT_STRING), sizeof text - 1};
    memcpy(&s[2], text, sizeof text - 1);
    term tup[4] = {mk_hdr(4, BT_TUPLE), mk_atom(A_OK), mk_fix(42), mk_box(s)};
    uint64_t watcher = 7 * h->cfg.proc_slots + 5;
    term ref = mk_ref(99);
    CU_ASSERT_EQUAL(msg_send(vw_rt(&w, 0), pcb->pid, SIG_MSG, watcher, mk_box(tup), T_NIL),
                    SEND_OK);
    /* a monitor request carries the page reserved for its DOWN (msg.c) */
    CU_ASSERT_EQUAL_FATAL(pool_reserve(h, 1), 0);
    CU_ASSERT_EQUAL(msg_send(vw_rt(&w, 0), pcb->pid, SIG_MONITOR, watcher, T_NIL, ref), SEND_OK);

    uint64_t stack0 = run_bytes(h, p->stack_lo);
    uint64_t heap0 = heap_chain_bytes(h, p);
    CU_ASSERT_TRUE(hand_over(&w, pcb, 0, 1));
    CU_ASSERT_EQUAL(msg_take(vw_rt(&w, 1), pcb), 1);
    CU_ASSERT_EQUAL(p->mbox_len, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p->frags);
    CU_ASSERT_TRUE(chain_on(h, p->frags, 0)); /* sent from VM 0: node 0 */
    uint64_t bufs = chain_bytes(h, p->frags);
    CU_ASSERT_EQUAL(local_of(&w, 1), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), heap0 + stack0 + bufs);

    CU_ASSERT_EQUAL_FATAL(heap_gc(vw_rt(&w, 1), pcb, 0, NULL, 0), 0);
    CU_ASSERT_PTR_NULL(p->frags);
    CU_ASSERT_TRUE(heap_chains_on(h, p, 1));
    CU_ASSERT_EQUAL(local_of(&w, 1), heap_chain_bytes(h, p));
    CU_ASSERT_EQUAL(remote_of(&w, 1), stack0);
    CU_ASSERT_EQUAL(list_intact(p->sp[-1], 1000), 1000);
    /* the message, now on node 1, as it was sent */
    CU_ASSERT_NOT_EQUAL_FATAL(p->mbox_first, 0);
    CU_ASSERT_EQUAL(pool_node_of(h, box_ptr(p->mbox_first)), 1);
    term m = box_ptr(p->mbox_first)[2];
    CU_ASSERT_TRUE_FATAL(is_tuple(m) && tuple_size(m) == 3);
    CU_ASSERT_EQUAL(tuple_elems(m)[0], mk_atom(A_OK));
    CU_ASSERT_EQUAL(tuple_elems(m)[1], mk_fix(42));
    term ms = tuple_elems(m)[2];
    CU_ASSERT_TRUE_FATAL(is_string(ms) && str_len(ms) == sizeof text - 1);
    CU_ASSERT_EQUAL(memcmp(str_bytes(ms), text, sizeof text - 1), 0);
    CU_ASSERT_EQUAL(pool_node_of(h, box_ptr(ms)), 1);
    CU_ASSERT_EQUAL(box_ptr(p->mbox_first)[4], mk_pid(watcher));
    /* the monitor, on node 1 too */
    CU_ASSERT_NOT_EQUAL_FATAL(p->monitored_by, 0);
    CU_ASSERT_EQUAL(pool_node_of(h, box_ptr(p->monitored_by)), 1);
    CU_ASSERT_EQUAL(box_ptr(p->monitored_by)[4], mk_pid(watcher));
    CU_ASSERT_EQUAL(box_ptr(p->monitored_by)[5], ref);

    vw_proc_free(&w, pcb, 1);
    CU_ASSERT_EQUAL(local_of(&w, 1), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), 0);
    vw_close(&w);
}

/* A 64 MiB heap is handed over without being touched: the hand-over runs
 * in a child process in which every heap block and the stack are mapped
 * PROT_NONE, so any read or write of them kills the child. (The segment is
 * shared, so what the child writes, the owner word and the counters, is
 * what the parent then sees.) It is not timed: that it does not touch the
 * heap is what makes it O(1). */
#define MAX_RUNS 4096

/* Whether `addr` lies in one of the blocks of chain b. */
static bool in_chain(const hblock_t *b, const void *addr)
{
    for (; b; b = b->next)
        if ((const char *)addr >= (const char *)b && (const char *)addr < (const char *)b->end)
            return true;
    return false;
}

static bool in_heap_chains(const proc_t *p, const void *addr)
{
    return in_chain(p->hfirst, addr) || in_chain(p->ofirst, addr);
}

/* A small message is copied into the receiver's heap when it is taken, if
 * the current block has room, and its buffer goes back to the pool at
 * once; a large one, or one that does not fit, stays a buffer until the
 * next GC. The mailbox holds the same messages, in order, either way. */
static void test_small_messages_copied_in(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 64 * MIB, HEAP_FOLLOW_ON_GC));
    shm_header_t *h = w.h;
    rt_t *rt = vw_rt(&w, 0);
    pcb_t *pcb = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    proc_t *p = proc_of(pcb);
    uint64_t from = 7 * h->cfg.proc_slots + 5;

    /* #(ok 1), then a 4,000-byte string (503 words), then #(ok 3) */
    term small1[3] = {mk_hdr(3, BT_TUPLE), mk_atom(A_OK), mk_fix(1)};
    static char text[4000];
    memset(text, 'x', sizeof text);
    static term big[2 + sizeof text / 8 + 1]; /* str_words: a NUL fits after the bytes */
    CU_ASSERT_EQUAL_FATAL(str_words(sizeof text), sizeof big / sizeof big[0]);
    memset(big, 0, sizeof big);
    big[0] = mk_hdr(str_words(sizeof text), BT_STRING);
    big[1] = sizeof text;
    memcpy(&big[2], text, sizeof text);
    term small3[3] = {mk_hdr(3, BT_TUPLE), mk_atom(A_OK), mk_fix(3)};
    /* room for both small ones in the current block (a new process's
     * first block holds only a few words of heap) */
    CU_ASSERT_EQUAL_FATAL(heap_make_room(rt, pcb, 2 * (MSG_NODE_WORDS + 3)), 0);
    CU_ASSERT_EQUAL(msg_send(rt, pcb->pid, SIG_MSG, from, mk_box(small1), T_NIL), SEND_OK);
    CU_ASSERT_EQUAL(msg_send(rt, pcb->pid, SIG_MSG, from, mk_box(big), T_NIL), SEND_OK);
    CU_ASSERT_EQUAL(msg_send(rt, pcb->pid, SIG_MSG, from, mk_box(small3), T_NIL), SEND_OK);
    uint64_t heap_before = p->heap_words;
    CU_ASSERT_EQUAL(msg_take(rt, pcb), 3);
    CU_ASSERT_EQUAL(p->mbox_len, 3);
    CU_ASSERT_EQUAL(p->heap_words, heap_before); /* copied into room it had */

    /* one buffer kept: the big message's */
    CU_ASSERT_PTR_NOT_NULL_FATAL(p->frags);
    CU_ASSERT_PTR_NULL(p->frags->next);
    term n1 = p->mbox_first, n2 = box_ptr(n1)[1], n3 = box_ptr(n2)[1];
    CU_ASSERT_EQUAL_FATAL(box_ptr(n3)[1], 0);
    CU_ASSERT_TRUE(in_heap_chains(p, box_ptr(n1)));
    CU_ASSERT_TRUE(in_chain(p->frags, box_ptr(n2)));
    CU_ASSERT_TRUE(in_heap_chains(p, box_ptr(n3)));
    CU_ASSERT_TRUE(term_equal(box_ptr(n1)[2], mk_box(small1)));
    CU_ASSERT_TRUE(term_equal(box_ptr(n2)[2], mk_box(big)));
    CU_ASSERT_TRUE(term_equal(box_ptr(n3)[2], mk_box(small3)));
    CU_ASSERT_EQUAL(box_ptr(n1)[4], mk_pid(from));
    CU_ASSERT_TRUE(in_heap_chains(p, box_ptr(box_ptr(n1)[2])));

    /* With the current block full, a small message stays a buffer too. */
    p->hp = p->hlim;
    CU_ASSERT_EQUAL(msg_send(rt, pcb->pid, SIG_MSG, from, mk_box(small1), T_NIL), SEND_OK);
    CU_ASSERT_EQUAL(msg_take(rt, pcb), 1);
    term n4 = box_ptr(n3)[1];
    CU_ASSERT_NOT_EQUAL_FATAL(n4, 0);
    CU_ASSERT_TRUE(in_chain(p->frags, box_ptr(n4)));
    CU_ASSERT_FALSE(in_heap_chains(p, box_ptr(n4)));
    CU_ASSERT_TRUE(term_equal(box_ptr(n4)[2], mk_box(small1)));

    /* The collection joins the buffers; the mailbox reads the same. */
    CU_ASSERT_EQUAL_FATAL(heap_gc(rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT_PTR_NULL(p->frags);
    CU_ASSERT_EQUAL(p->mbox_len, 4);
    term m = p->mbox_first;
    term want[4] = {mk_box(small1), mk_box(big), mk_box(small3), mk_box(small1)};
    for (int i = 0; i < 4; i++, m = box_ptr(m)[1]) {
        CU_ASSERT_NOT_EQUAL_FATAL(m, 0);
        CU_ASSERT_TRUE(in_heap_chains(p, box_ptr(m)));
        CU_ASSERT_TRUE(term_equal(box_ptr(m)[2], want[i]));
    }
    CU_ASSERT_EQUAL(m, 0);
    vw_proc_free(&w, pcb, 0);
    char why[256];
    CU_ASSERT_EQUAL(pool_check(h, why, sizeof why), 0);
    vw_close(&w);
}

static void test_big_heap_untouched(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 256 * MIB, HEAP_FOLLOW_ON_GC));
    shm_header_t *h = w.h;
    pcb_t *pcb = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    proc_t *p = proc_of(pcb);

    /* 4 Mi cons cells, 64 MiB, made room for at once */
    const uint64_t cells = 64 * MIB / (2 * sizeof(term));
    CU_ASSERT_EQUAL_FATAL(heap_make_room(vw_rt(&w, 0), pcb, 2 * cells), 0);
    term l = T_NIL;
    for (uint64_t i = 0; i < cells; i++) {
        term *c = heap_take(p, 2);
        c[0] = mk_fix((int64_t)i);
        c[1] = l;
        l = mk_cons_ptr(c);
    }
    *p->sp++ = l;
    CU_ASSERT(p->heap_words * sizeof(term) >= 64 * MIB);
    CU_ASSERT_TRUE(heap_chains_on(h, p, 0));

    struct {
        void *addr;
        size_t bytes;
    } runs[MAX_RUNS];
    size_t n = 0;
    for (hblock_t *b = p->hfirst; b && n < MAX_RUNS - 1; b = b->next, n++) {
        runs[n].addr = b;
        runs[n].bytes = run_bytes(h, b);
    }
    for (hblock_t *b = p->ofirst; b && n < MAX_RUNS - 1; b = b->next, n++) {
        runs[n].addr = b;
        runs[n].bytes = run_bytes(h, b);
    }
    CU_ASSERT_PTR_NULL_FATAL(p->frags);
    runs[n].addr = p->stack_lo;
    runs[n++].bytes = run_bytes(h, p->stack_lo);

    proc_t before = *p;
    uint64_t free0 = pool_free_pages(h, 0), free1 = pool_free_pages(h, 1);
    uint64_t heap_bytes = heap_chain_bytes(h, p) + run_bytes(h, p->stack_lo);
    fflush(NULL);
    pid_t child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0) {
        /* whole pages: a chunk (the stack here) shares its slab's pages */
        for (size_t i = 0; i < n; i++) {
            uintptr_t lo = (uintptr_t)runs[i].addr & ~(uintptr_t)(SHOAL_PAGE - 1);
            uintptr_t hi = SHOAL_ALIGN_UP((uintptr_t)runs[i].addr + runs[i].bytes, SHOAL_PAGE);
            if (mprotect((void *)lo, hi - lo, PROT_NONE) < 0)
                _exit(2);
        }
        _exit(hand_over(&w, pcb, 0, 1) ? 0 : 3);
    }
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(child, &status, 0), child);
    /* a signal here (SIGSEGV) means the hand-over touched the heap */
    CU_ASSERT_FALSE(WIFSIGNALED(status));
    CU_ASSERT_TRUE_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);

    /* Handed over: owner and counters changed, the heap did not. */
    CU_ASSERT_EQUAL(pcb->owner, 1);
    CU_ASSERT_EQUAL(p->heap_words, before.heap_words);
    CU_ASSERT_PTR_EQUAL(p->hfirst, before.hfirst);
    CU_ASSERT_PTR_EQUAL(p->ofirst, before.ofirst);
    CU_ASSERT_PTR_EQUAL(p->hcur, before.hcur);
    CU_ASSERT_PTR_EQUAL(p->hp, before.hp);
    CU_ASSERT_PTR_EQUAL(p->hlim, before.hlim);
    CU_ASSERT_PTR_EQUAL(p->stack_lo, before.stack_lo);
    CU_ASSERT_PTR_EQUAL(p->sp, before.sp);
    CU_ASSERT_EQUAL(p->gcs, before.gcs);
    CU_ASSERT_EQUAL(memcmp(p->node_lines, before.node_lines, sizeof p->node_lines), 0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), free0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), free1);
    CU_ASSERT_EQUAL(local_of(&w, 0), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 0), 0);
    CU_ASSERT_EQUAL(local_of(&w, 1), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), heap_bytes);

    /* VM 1's first collection moves all 64 MiB to node 1, intact. */
    CU_ASSERT_EQUAL_FATAL(heap_gc(vw_rt(&w, 1), pcb, 0, NULL, 0), 0);
    CU_ASSERT_TRUE(heap_chains_on(h, p, 1));
    uint64_t k = 0;
    bool ok = true;
    for (l = p->sp[-1]; is_cons(l) && ok; l = CDR(l), k++)
        ok = CAR(l) == mk_fix((int64_t)(cells - 1 - k));
    CU_ASSERT_TRUE(ok && k == cells && is_nil(l));
    CU_ASSERT_EQUAL(local_of(&w, 1), heap_chain_bytes(h, p));
    CU_ASSERT_EQUAL(remote_of(&w, 1), run_bytes(h, p->stack_lo));

    vw_proc_free(&w, pcb, 1);
    vw_close(&w);
}

/* A new process, all in its first block (a chunk of VM 0's slab), is
 * handed to VM 1 without a touch of that block, counts there as remote,
 * grows its stack on VM 1 (to a block on node 1), and when it ends on VM
 * 1 its chunks go back: the first block into VM 0's slab (a remote
 * free), which VM 0's lists see at their next sweep. */
static void test_small_block_moves(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(world_open(&w, 64 * MIB, HEAP_FOLLOW_ON_GC));
    shm_header_t *h = w.h;
    slab_dom_t *d = shm_heap_slabs(h);
    char why[256];
    size_t used0 = 0, used1 = 0;
    CU_ASSERT_EQUAL_FATAL(slab_check(h, d, why, sizeof why, NULL, &used0), 0);
    pcb_t *pcb = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    proc_t *p = proc_of(pcb);
    hblock_t *c = p->cblock;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_EQUAL(p->hfirst, c);
    CU_ASSERT_PTR_NULL(c->next);
    uint64_t bytes = run_bytes(h, c);
    CU_ASSERT_EQUAL(run_bytes(h, p->stack_lo), bytes);
    CU_ASSERT(bytes <= 512);
    CU_ASSERT_EQUAL(pool_node_of(h, c), 0);
    CU_ASSERT_EQUAL(local_of(&w, 0), bytes);
    CU_ASSERT_EQUAL(slab_check(h, d, why, sizeof why, NULL, &used1), 0);
    CU_ASSERT_EQUAL(used1, used0 + 1);

    /* the hand-over never touches the block (its pages are made
     * inaccessible in a child that does it) */
    proc_t before = *p;
    pid_t child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0) {
        uintptr_t lo = (uintptr_t)c & ~(uintptr_t)(SHOAL_PAGE - 1);
        uintptr_t hi = SHOAL_ALIGN_UP((uintptr_t)c + bytes, SHOAL_PAGE);
        if (mprotect((void *)lo, hi - lo, PROT_NONE) < 0)
            _exit(2);
        _exit(hand_over(&w, pcb, 0, 1) ? 0 : 3);
    }
    int status = 0;
    CU_ASSERT_EQUAL_FATAL(waitpid(child, &status, 0), child);
    CU_ASSERT_FALSE(WIFSIGNALED(status));
    CU_ASSERT_TRUE_FATAL(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_EQUAL(pcb->owner, 1);
    CU_ASSERT_PTR_EQUAL(p->cblock, before.cblock);
    CU_ASSERT_PTR_EQUAL(p->stack_lo, before.stack_lo);
    CU_ASSERT_PTR_EQUAL(p->hp, before.hp);
    CU_ASSERT_EQUAL(local_of(&w, 0), 0);
    CU_ASSERT_EQUAL(remote_of(&w, 1), bytes);

    /* on VM 1: heap and stack outgrow the block; new memory on node 1 */
    rt_t *rt1 = vw_rt(&w, 1);
    CU_ASSERT_EQUAL_FATAL(heap_make_room(rt1, pcb, 100), 0);
    CU_ASSERT_TRUE(chain_on(h, p->hcur, 1));
    CU_ASSERT_EQUAL_FATAL(stack_grow(rt1, pcb, 1000), 0);
    CU_ASSERT_EQUAL(pool_node_of(h, p->stack_lo), 1);
    CU_ASSERT_PTR_EQUAL(p->cblock, c); /* the heap is still in it */
    CU_ASSERT_EQUAL(remote_of(&w, 1), bytes);
    CU_ASSERT_EQUAL(local_of(&w, 1),
                    run_bytes(h, p->hcur) + run_bytes(h, p->stack_lo));
    /* a collection on VM 1 moves the heap to node 1: the block goes back
     * into VM 0's slab from VM 1 */
    CU_ASSERT_EQUAL_FATAL(heap_gc(rt1, pcb, 0, NULL, 0), 0);
    CU_ASSERT_PTR_NULL(p->cblock);
    CU_ASSERT_EQUAL(remote_of(&w, 1), 0);
    CU_ASSERT_EQUAL(slab_check(h, d, why, sizeof why, NULL, &used1), 0);
    CU_ASSERT_EQUAL(used1, used0);
    vw_proc_free(&w, pcb, 1);
    CU_ASSERT_EQUAL(local_of(&w, 1), 0);
    CU_ASSERT_EQUAL(slab_check(h, d, why, sizeof why, NULL, &used1), 0);
    CU_ASSERT_EQUAL(used1, used0);
    CU_ASSERT_EQUAL(pool_check(h, why, sizeof why), 0);
    vw_close(&w);
}

static CU_TestInfo tests[] = {
    {"heap moves at the first GC after a hand-over", test_heap_moves_at_first_gc},
    {"heap_follow never: the heap stays on its node", test_heap_follow_never_stays},
    {"message buffers and monitors follow the process", test_messages_follow},
    {"a 64 MiB heap is handed over untouched", test_big_heap_untouched},
    {"small messages are copied into the heap on take, large ones stay buffers", test_small_messages_copied_in},
    {"a process in its first block moves untouched and frees it from the other VM",
     test_small_block_moves},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(migrate, tests, NULL, NULL)
