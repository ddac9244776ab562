/*
 * heap.h: process heaps and stacks, and the copying collector.
 *
 * NOTES
 *   Owner VM only: every function here touches one process that the
 *   calling VM owns. Memory comes from the calling VM's NUMA node (runs
 *   of the pool, and chunks of the VM's slabs of process memory for a
 *   first block and small stacks), so a process that moved to another
 *   node has its live data moved there by its next collection, at no
 *   extra cost. A chunk is given back from whichever VM owns the process
 *   then, into the slab of the VM that made it (shm/slab.h).
 *   Errors: heap_make_room returns -1 when the process would pass its heap
 *   limit (the caller ends it with #(error heap_limit)) or the pool is
 *   exhausted (errno ENOMEM, same reason).
 */
#ifndef SHOAL_VMPROC_HEAP_H
#define SHOAL_VMPROC_HEAP_H

#include "vmproc/proc.h"

/* Give a new process its first block, which holds its heap and its stack
 * (heap.c), on `node` (the node of the VM that will own it): a chunk of
 * this VM's slabs of process memory, or a page owned by the slot when
 * `node` is not this VM's. It belongs to the process's slot from the
 * start, named from its PCB, before proc_spawn publishes it: a VM that
 * dies in between leaves the slot CLAIMED and the block with it (pool.c,
 * CRASH SAFETY, says who frees such runs). heap_init_stack gives the
 * stack `stack_words` of the block to begin with, if it has them (the
 * first frame: interp_start_words), so that the start need not grow it. */
int heap_init(rt_t *rt, pcb_t *pcb, uint32_t node);
int heap_init_stack(rt_t *rt, pcb_t *pcb, uint32_t node, uint64_t stack_words);

/* Make room for `words` more words at p->hp (may collect: every term not
 * reachable from the process's roots is then invalid). */
int heap_make_room(rt_t *rt, pcb_t *pcb, uint64_t words);

/* A major collection now (both generations), keeping room for `need`
 * words. `extra` roots (n of them) are updated in place. -1 with EFBIG:
 * past the heap limit; -1 with ENOMEM: the pool ran dry during the copy,
 * and the process can only be ended (heap_release frees both spaces; its
 * link and monitor chains still read right for msg_close); -1 with
 * EAGAIN: the pool had no room for a to-space at all, nothing was
 * touched, and a collection that was only an optimisation may be
 * skipped. */
int heap_gc(rt_t *rt, pcb_t *pcb, uint64_t need, term *extra, size_t n);

/* A collection now, minor (the young generation into the old) unless a
 * major one is due; the same results as heap_gc. */
int heap_collect(rt_t *rt, pcb_t *pcb, uint64_t need);

/* Give the stack at least `need` free words between the value stack and
 * the control frames: by taking the heap's free room below it in the
 * first block, or by moving it to a bigger block. It may so take room
 * that heap_make_room made: make room after growing the stack, not
 * before. Never collects. */
int stack_grow(rt_t *rt, pcb_t *pcb, uint64_t need);

/* Hibernation (sched.c calls it for a process that has waited long, not
 * running): the heap shrinks to what lives, and, if that and the stack
 * fit a chunk of this VM's slabs, both go into one, as the first block
 * of a new process holds them; so a process that worked once and waits
 * now holds about what a new one does. 0, or heap_gc's -1 (the pool ran
 * dry in the middle: the process can only be ended; EAGAIN: nothing was
 * done). heap_can_shrink: whether it would give anything back (false
 * for a process that holds one first block with its heap and stack in
 * it, as a new or hibernated one does). */
int heap_hibernate(rt_t *rt, pcb_t *pcb);
bool heap_can_shrink(const proc_t *p);

/* Give back every run of a process that has ended. */
void heap_release(rt_t *rt, pcb_t *pcb);

/* Whether `addr` lies in the heap of the process in `pcb`: in the heap's
 * part of its first block, or in a run its slot owns (a heap block or a
 * message buffer; so also its stack, if that is a run). Tests and debug
 * checks. */
bool heap_holds(const shm_header_t *h, pcb_t *pcb, const void *addr);

/* Bytes of the chunk or run of process memory that holds `addr` (a
 * block, a stack): what the process's counters count for it. */
size_t heap_block_bytes(const shm_header_t *h, const void *addr);

/* Words a copy of `t` takes on a heap (what heap_copy will allocate):
 * none for an immediate, else the walk of term_size_walk. */
uint64_t term_size_walk(term t);
static inline uint64_t term_size(term t)
{
    return is_ptr(t) ? term_size_walk(t) : 0;
}

/* NUMA accounting (owner VM only): count a run the process gained (+1) or
 * gave back (-1); attach the process's pages to this VM's heap_local and
 * heap_remote counters (when it arrives or first runs here), or detach
 * them (when it leaves). O(nodes), not O(heap): a move stays O(1). */
void heap_account(rt_t *rt, proc_t *p, const hblock_t *b, int sign);
void heap_attach(rt_t *rt, proc_t *p);
void heap_detach(rt_t *rt, proc_t *p);

/* Deep-copy `t` into the words at *hp (term_size(t) of them), moving *hp.
 * An immediate is its own copy. */
term term_copy_walk(term t, term **hp);
static inline term term_copy(term t, term **hp)
{
    return is_ptr(t) ? term_copy_walk(t, hp) : t;
}

/* Allocate without a check: the caller made room. */
static inline term *heap_take(proc_t *p, uint64_t words)
{
    term *r = p->hp;
    p->hp += words;
    return r;
}

#endif
