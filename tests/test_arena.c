/*
 * test_arena.c: the per-VM arenas of small message slots (shm/arena.c)
 * and the messages that travel in them (vmproc/msg.c).
 *
 * Checked: slots given back by another VM in batches are taken again by
 * their arena, so a steady exchange needs no new pages; a VM that died
 * while it took its returned list leaves its next incarnation every slot
 * exactly once; a small message arrives whole, with its sender, and its
 * slot goes back, as does the slot of one left in an ended process's
 * inbox.
 */
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "shm/arena.h"
#include "shm/pool.h"
#include "shm/vmtab.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/msg.h"

#include <stdlib.h>
#include <string.h>

#define MIB (1ull << 20)

static uint64_t off_of(const shm_header_t *h, const void *p)
{
    return (uint64_t)((const char *)p - (const char *)h);
}

/* VM 0 sends (takes slots), VM 1 gives them back in batches, for many
 * rounds: the arena stays at the pages the slots in flight need. */
static void test_batches_come_back(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(vw_open(&w, 2, 1, 64, 64 * MIB, HEAP_FOLLOW_ON_GC));
    arena_local_t *l1 = arena_local_new(2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l1);
    enum { IN_FLIGHT = 100, ROUNDS = 200 };
    uint64_t *held[IN_FLIGHT];
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < IN_FLIGHT; i++) {
            held[i] = arena_alloc(w.h, 0, 0, 0);
            CU_ASSERT_PTR_NOT_NULL_FATAL(held[i]);
            CU_ASSERT_TRUE(arena_is_meta(held[i][0]));
            held[i][2] = (uint64_t)r * IN_FLIGHT + (uint64_t)i;
        }
        /* no slot is handed out twice while in use */
        for (int i = 0; i < IN_FLIGHT; i++) {
            CU_ASSERT_EQUAL(held[i][2], (uint64_t)r * IN_FLIGHT + (uint64_t)i);
            arena_give_back(w.h, l1, 1, held[i]);
        }
        if (r % 7 == 6)
            arena_flush(w.h, l1);
    }
    arena_flush(w.h, l1);
    /* 100 in flight plus under a batch held: 64 slots a page, so 3 pages
     * would do; a leak of slots would need hundreds */
    CU_ASSERT(shm_vm(w.h, 0)->arena_pages <= 4);
    arena_local_free(l1);
    char why[256] = "";
    CU_ASSERT_EQUAL(pool_check(w.h, why, sizeof why), 0);
    vw_close(&w);
}

/* The predecessor of VM 0 died between naming the returned list as its
 * free list and emptying it: arena_adopt keeps each slot on one list, and
 * the slots then come out once each. */
static void test_adopt_after_death_in_take(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(vw_open(&w, 2, 1, 64, 64 * MIB, HEAP_FOLLOW_ON_GC));
    shm_vm_t *v = shm_vm(w.h, 0);
    enum { N = 40 };
    uint64_t *s[N];
    for (int i = 0; i < N; i++)
        s[i] = arena_alloc(w.h, 0, 0, 0);
    /* the free list is now the rest of the page: drop it (as if it were
     * all in use) so that only the returned list is left */
    uint64_t rest = v->arena_free[0];
    v->arena_free[0] = 0;
    for (int i = 0; i < N; i++)
        arena_give_back(w.h, NULL, 1, s[i]);
    /* died in take_returned: named, not emptied */
    v->arena_free[0] = v->arena_returned[0];
    arena_adopt(w.h, 0);
    CU_ASSERT_EQUAL(v->arena_free[0], 0);
    /* a free list that is not the returned one stays */
    v->arena_free[0] = rest;
    arena_adopt(w.h, 0);
    CU_ASSERT_EQUAL(v->arena_free[0], rest);
    v->arena_free[0] = 0;
    uint64_t pages = v->arena_pages;
    /* every slot once: N from the returned list, no new page */
    uint64_t seen[N];
    for (int i = 0; i < N; i++) {
        uint64_t *x = arena_alloc(w.h, 0, 0, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(x);
        seen[i] = off_of(w.h, x);
        for (int j = 0; j < i; j++)
            CU_ASSERT_NOT_EQUAL(seen[j], seen[i]);
    }
    CU_ASSERT_EQUAL(v->arena_pages, pages);
    vw_close(&w);
}

/* A small message from VM 1 to a process on VM 0: it arrives whole, with
 * its sender's pid, as a copy in the heap; its slot is back in VM 1's
 * arena once VM 0 gives its batch back. One to an ended process gives its
 * slot back at once. */
static void test_small_message(void)
{
    vw_t w;
    CU_ASSERT_TRUE_FATAL(vw_open(&w, 2, 1, 64, 64 * MIB, HEAP_FOLLOW_ON_GC));
    pcb_t *a = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    rt_t *r1 = vw_rt(&w, 1), *r0 = vw_rt(&w, 0);
    r0->arena = arena_local_new(2);
    term t[4] = {mk_hdr(4, BT_TUPLE), mk_atom(A_OK), mk_fix(7), mk_fix(-3)};
    CU_ASSERT_EQUAL(msg_send(r1, a->pid, SIG_MSG, 12345, mk_box(t), T_NIL), SEND_OK);
    shm_vm_t *v1 = shm_vm(w.h, 1);
    CU_ASSERT_EQUAL(v1->arena_pages, 1);
    /* published: the inbox names the slot, in VM 1's arena */
    uint64_t *in = (uint64_t *)((char *)w.h + (proc_of(a)->inbox & INBOX_OFF_MASK));
    CU_ASSERT_EQUAL(in[0], ARENA_META(1, 0));
    CU_ASSERT_EQUAL(msg_take(r0, a), 1);
    proc_t *p = proc_of(a);
    CU_ASSERT_EQUAL_FATAL(p->mbox_len, 1);
    term *node = box_ptr(p->mbox_first);
    CU_ASSERT_EQUAL(node[0], mk_hdr(MSG_NODE_WORDS, BT_MSG));
    CU_ASSERT_EQUAL(node[4], mk_pid(12345));
    term m = node[2];
    CU_ASSERT_TRUE_FATAL(is_tuple(m) && tuple_size(m) == 3);
    CU_ASSERT_EQUAL(tuple_elems(m)[0], mk_atom(A_OK));
    CU_ASSERT_EQUAL(tuple_elems(m)[2], mk_fix(-3));
    /* the copy is in the receiver's own memory (its first block or a
     * run of pages its slot owns), not in the arena */
    CU_ASSERT_TRUE(heap_holds(w.h, a, node));
    CU_ASSERT_TRUE(heap_holds(w.h, a, box_ptr(m)));
    /* a tuple that holds a tuple (no fast path): copied whole too, in
     * the larger class */
    term t2[3] = {mk_hdr(3, BT_TUPLE), mk_box(t), mk_fix(1)};
    CU_ASSERT_EQUAL(msg_send(r1, a->pid, SIG_MSG, 12345, mk_box(t2), T_NIL), SEND_OK);
    uint64_t *in1 = (uint64_t *)((char *)w.h + (proc_of(a)->inbox & INBOX_OFF_MASK));
    CU_ASSERT_EQUAL(in1[0], ARENA_META(1, 1));
    CU_ASSERT_EQUAL(msg_take(r0, a), 1);
    CU_ASSERT_EQUAL_FATAL(p->mbox_len, 2);
    term m2 = box_ptr(p->mbox_last)[2];
    CU_ASSERT_TRUE_FATAL(is_tuple(m2) && tuple_size(m2) == 2);
    term inner = tuple_elems(m2)[0];
    CU_ASSERT_TRUE_FATAL(is_tuple(inner) && tuple_size(inner) == 3);
    CU_ASSERT_EQUAL(tuple_elems(inner)[1], mk_fix(7));
    CU_ASSERT_TRUE(heap_holds(w.h, a, box_ptr(inner)));
    CU_ASSERT_TRUE(heap_holds(w.h, a, box_ptr(m2)));
    CU_ASSERT_EQUAL(v1->arena_returned[0], 0); /* held in VM 0's batch */
    arena_flush(w.h, r0->arena);
    CU_ASSERT_EQUAL(v1->arena_returned[0], off_of(w.h, in));
    CU_ASSERT_EQUAL(v1->arena_returned[1], off_of(w.h, in1));
    /* one left in the inbox of a process that ends goes back too */
    CU_ASSERT_EQUAL(msg_send(r1, a->pid, SIG_MSG, 12345, mk_box(t), T_NIL), SEND_OK);
    uint64_t *in2 = (uint64_t *)((char *)w.h + (proc_of(a)->inbox & INBOX_OFF_MASK));
    CU_ASSERT_FALSE(msg_close(r0, a, mk_atom(A_NORMAL)));
    msg_free_closed(r0, a);
    arena_flush(w.h, r0->arena);
    CU_ASSERT_EQUAL(v1->arena_returned[0], off_of(w.h, in2));
    arena_local_free(r0->arena);
    r0->arena = NULL;
    vw_proc_free(&w, a, 0);
    char why[256] = "";
    CU_ASSERT_EQUAL(pool_check(w.h, why, sizeof why), 0);
    vw_close(&w);
}

static CU_TestInfo tests[] = {
    {"slots given back in batches are taken again: no new pages", test_batches_come_back},
    {"a death while taking the returned list: each slot once", test_adopt_after_death_in_take},
    {"a small message arrives whole as a heap copy; its slot goes back", test_small_message},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(arena, tests, NULL, NULL)
