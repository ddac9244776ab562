/*
 * heap.c: process heaps, stacks and the per-process copying collector.
 *
 * A new process gets one small block (p->cblock): a chunk of the slabs of
 * process memory (shm/slab.h), FIRST_BLOCK_BYTES, whose bottom is its
 * heap and whose top is its stack, as in BEAM. An idle process costs its
 * PCB and this chunk. The heap bumps p->hp up towards the stack; the
 * stack, when it needs room, first takes the heap's free room below it
 * (the boundary, cblock->end, moves down), and when the two meet it moves
 * to a block of its own, twice as big: a chunk while that fits SLAB_MAX,
 * then a run of pages. The heap, when its room runs out, goes on in runs
 * of pages, as below.
 *
 * A heap is a chain of blocks, each with an hblock_t header: the first
 * block (cblock, while the heap is in it) and then runs of pool pages;
 * allocation bumps p->hp in the newest block. When a block is full, the
 * heap grows by a new block until it passes gc_threshold; then a Cheney
 * collection copies everything reachable into a fresh chain of blocks
 * (the to-space), which becomes the heap, and the old blocks and any
 * joined message buffers go back to the pool. The threshold is then set
 * from what survived, so a heap grows with its live data and shrinks when
 * the data dies: three times the survivors, so that a collection that
 * copies L words comes after 2L words of new data (at twice, each word
 * made cost a word copied when the live data is large: binary trees and
 * list kernels spent a third of their time copying the same data).
 *
 * The first block has two users, the heap and the stack, and goes back
 * when the last one leaves it: a collection copies the heap out of it (it
 * stays while the stack is in it), stack_grow moves the stack out (it
 * stays while the heap is in it, which then has the whole block), and
 * heap_release gives it back after everything else. No chain walk frees
 * it; whoever drops it clears p->cblock before the free, so a VM that
 * dies at any step leaves it named once or leaked, never freed twice.
 *
 * The collector tells from-space from everything else by the pool and by
 * the first block: a pointer is into the process's old heap exactly when
 * it lies in the heap part of cblock (if the heap is still there) or in a
 * run owned by POOL_OWNER_PROC(slot); the to-space is owned by the VM
 * until the collection ends. Constants in the code area are outside the
 * pool and are never copied.
 *
 * Roots: the value stack, the mailbox pointers, the pending error value,
 * the link and monitor chains, and the caller's extra roots.
 *
 * Sizes are counted per NUMA node (p->node_lines, in 64-byte lines) and
 * in the owner VM's heap counters: what the process holds, chunks at
 * their slot size, runs at their pages.
 */
#include "vmproc/heap.h"

#include "shm/pool.h"
#include "shm/slab.h"
#include "shm/vmtab.h"
#include "shm/beat.h"
#include "vmproc/wstack.h"

#include <ck_pr.h>

#include <errno.h>
#include <string.h>

/* A heap that outgrows the first block goes on in blocks of at least one
 * page; the collector's thresholds are set in these. */
#define MIN_HEAP_WORDS ((SHOAL_PAGE - sizeof(hblock_t)) / sizeof(term))
/* Blocks grow by doubling up to 1 MiB, so a big heap is not thousands of
 * blocks, and a small one wastes at most half a block. */
#define MAX_BLOCK_PAGES 256u

/* The first block of a new process, and the stack's share of it to begin
 * with. 384 bytes (a slot of 390 with the slab's header) hold a process
 * waiting in a receive with room to spare: its closure and a few words
 * of heap, its frame and two control frames. Together with the 512-byte
 * PCB that is about a third of what BEAM spends on an idle process
 * (bench/memory.shoal). The stack takes more of the block as it needs
 * it (stack_grow), so the split only sets where the heap stops at first. */
#define FIRST_BLOCK_BYTES 384u
#define FIRST_STACK_WORDS 8u

static size_t pages_for(uint64_t words)
{
    return (size_t)((words * sizeof(term) + sizeof(hblock_t) + SHOAL_PAGE - 1) / SHOAL_PAGE);
}

/* --- memory of either kind: slab chunks and pool runs ------------------- */

static bool is_chunk(const shm_header_t *h, const void *mem)
{
    uint32_t owner;
    pool_run_of(h, mem, &owner);
    return owner == POOL_OWNER_HEAP_SLABS;
}

size_t heap_block_bytes(const shm_header_t *h, const void *addr)
{
    uint32_t owner;
    void *run = pool_run_of(h, addr, &owner);
    if (owner == POOL_OWNER_HEAP_SLABS)
        return slab_slot_size(h, addr);
    return pool_run_pages(h, run) * SHOAL_PAGE;
}

bool heap_holds(const shm_header_t *h, pcb_t *pcb, const void *addr)
{
    const proc_t *p = proc_of(pcb);
    const hblock_t *c = p->cblock;
    if (c && p->hfirst == c && (const term *)addr >= hblock_start((hblock_t *)c) &&
        (const term *)addr < c->end)
        return true;
    return pool_contains(h, addr) && pool_owner_of(h, addr) == POOL_OWNER_PROC(pcb->slot);
}

/* At least `bytes` for the process in slot `slot`, on `node`: a chunk of
 * a slab of this VM if it fits one and the node is this VM's (a slab
 * serves the node it lies on), else a run of pages owned by the slot.
 * Its size in *got. */
static void *mem_alloc(rt_t *rt, uint32_t node, size_t bytes, uint32_t slot, size_t *got)
{
    shm_header_t *h = rt->h;
    if (bytes <= SLAB_MAX && node == rt->node && rt->vm < h->cfg.n_vms) {
        void *c = slab_alloc(h, shm_heap_slabs(h), rt->vm, node, bytes);
        if (c)
            *got = slab_size_for(bytes);
        return c;
    }
    size_t pages = (bytes + SHOAL_PAGE - 1) / SHOAL_PAGE;
    void *r = pool_alloc(h, rt->vm, node, pages, POOL_OWNER_PROC(slot));
    if (r)
        *got = pages * SHOAL_PAGE;
    return r;
}

static void mem_free(rt_t *rt, void *mem)
{
    if (is_chunk(rt->h, mem))
        slab_free(rt->h, shm_heap_slabs(rt->h), rt->vm, mem);
    else
        pool_free(rt->h, rt->vm, mem);
}

/* NUMA accounting: every block a process holds is counted in its
 * node_lines, and, while the process is attached to a VM (acct_vm), in
 * that VM's heap_local or heap_remote bytes. Only the owner VM calls
 * these, and each VM writes only its own counters. */
static void vm_bytes(rt_t *rt, uint32_t node, int64_t bytes)
{
    shm_vm_t *v = shm_vm(rt->h, rt->vm);
    uint64_t *c = node == v->node ? &v->heap_local : &v->heap_remote;
    /* single writer; relaxed stores are enough for readers of statistics */
    ck_pr_store_64(c, *c + (uint64_t)bytes);
}

static uint32_t node_index(uint32_t node)
{
    return node < PROC_NODES ? node : PROC_NODES - 1;
}

static void acct_bytes(rt_t *rt, proc_t *p, uint32_t node, uint64_t bytes, int sign)
{
    SHOAL_ASSERT(bytes % PROC_LINE == 0, "a block of a process is whole lines");
    p->node_lines[node_index(node)] += (uint32_t)(sign * (int64_t)(bytes / PROC_LINE));
    if (p->acct_vm == rt->vm + 1)
        vm_bytes(rt, node, sign * (int64_t)bytes);
}

/* A stack: asks the pool for its node and size (the first block's
 * header has them: cblock_acct). */
static void acct(rt_t *rt, proc_t *p, const void *mem, int sign)
{
    acct_bytes(rt, p, pool_node_of(rt->h, mem), heap_block_bytes(rt->h, mem), sign);
}

/* A heap block of pages or message buffer: its header says, so a receiver
 * does not read the pool descriptors the sender just wrote (a cache miss
 * each). Never the first block, whose `end` is the heap's part of it. */
static void acct_block(rt_t *rt, proc_t *p, const hblock_t *b, int sign)
{
    acct_bytes(rt, p, b->node, (uint64_t)((char *)b->end - (char *)b), sign);
}

/* The entries of node_lines in use: one per node of the machine (the
 * last also counts any nodes past PROC_NODES). */
static uint32_t nodes_counted(const rt_t *rt)
{
    uint32_t n = rt->h->cfg.n_nodes;
    return n < PROC_NODES ? n : PROC_NODES;
}

void heap_attach(rt_t *rt, proc_t *p)
{
    if (p->acct_vm == rt->vm + 1)
        return;
    for (uint32_t k = 0, n = nodes_counted(rt); k < n; k++)
        if (p->node_lines[k])
            vm_bytes(rt, k, (int64_t)p->node_lines[k] * PROC_LINE);
    p->acct_vm = rt->vm + 1;
}

void heap_detach(rt_t *rt, proc_t *p)
{
    if (p->acct_vm != rt->vm + 1)
        return;
    for (uint32_t k = 0, n = nodes_counted(rt); k < n; k++)
        if (p->node_lines[k])
            vm_bytes(rt, k, -(int64_t)p->node_lines[k] * PROC_LINE);
    p->acct_vm = 0;
}

void heap_account(rt_t *rt, proc_t *p, const hblock_t *b, int sign)
{
    acct_block(rt, p, b, sign);
}

static hblock_t *new_block_on(rt_t *rt, uint32_t node, uint64_t words, uint32_t owner)
{
    size_t pages = pages_for(words);
    hblock_t *b = pool_alloc(rt->h, rt->vm, node, pages, owner);
    if (!b)
        return NULL;
    b->next = NULL;
    b->end = (term *)((char *)b + pages * SHOAL_PAGE);
    b->top = hblock_start(b);
    b->node = pool_node_of(rt->h, b);
    return b;
}

/* The node new memory of process p comes from: its owner VM's node, so
 * that memory follows the process (heap_follow = on_gc or eager), or the
 * node it started on (heap_follow = never). */
static uint32_t home_of(const rt_t *rt, const proc_t *p)
{
    return rt->h->cfg.heap_follow == HEAP_FOLLOW_NEVER ? p->home_node : rt->node;
}

static hblock_t *new_block(rt_t *rt, const proc_t *p, uint64_t words, uint32_t owner)
{
    return new_block_on(rt, home_of(rt, p), words, owner);
}

static uint64_t block_words(const hblock_t *b)
{
    return (uint64_t)(b->end - hblock_start((hblock_t *)b));
}

/* --- the first block ----------------------------------------------------- */

static term *cblock_top(const proc_t *p)
{
    return (term *)((char *)p->cblock + p->cblock->bytes);
}

/* The first block's accounting and freeing: its header has its size,
 * node and kind (a slab chunk, or pages of the pool). */
static void cblock_acct(rt_t *rt, proc_t *p, const hblock_t *c, int sign)
{
    acct_bytes(rt, p, c->node, c->bytes, sign);
}

static void cblock_free(rt_t *rt, hblock_t *c)
{
    if (c->bytes <= SLAB_MAX)
        slab_free(rt->h, shm_heap_slabs(rt->h), rt->vm, c);
    else
        pool_free(rt->h, rt->vm, c);
}

/* Whether the stack lies in the first block (whose top is the stack's). */
static bool stack_in_cblock(const proc_t *p)
{
    return p->cblock && p->stack_hi == cblock_top(p) && p->stack_lo >= (term *)p->cblock;
}

/* Give the first block back once neither the heap nor the stack uses it.
 * It is unnamed before it is freed: a VM that dies in between leaks it
 * (one chunk), never frees it twice. */
static void cblock_drop(rt_t *rt, proc_t *p)
{
    hblock_t *c = p->cblock;
    if (!c || p->hfirst == c || p->gc_old == c || stack_in_cblock(p))
        return;
    p->cblock = NULL;
    ck_pr_fence_store();
    cblock_acct(rt, p, c, -1);
    cblock_free(rt, c);
}

int heap_init(rt_t *rt, pcb_t *pcb, uint32_t node)
{
    return heap_init_stack(rt, pcb, node, FIRST_STACK_WORDS);
}

int heap_init_stack(rt_t *rt, pcb_t *pcb, uint32_t node, uint64_t stack_words)
{
    proc_t *p = proc_of(pcb);
    size_t bytes;
    hblock_t *b = mem_alloc(rt, node, FIRST_BLOCK_BYTES, pcb->slot, &bytes);
    if (!b)
        return -1;
    term *top = (term *)((char *)b + bytes);
    /* a stack the block cannot hold starts small; stack_grow moves it */
    if (stack_words > (uint64_t)(top - hblock_start(b)) || stack_words < FIRST_STACK_WORDS)
        stack_words = FIRST_STACK_WORDS;
    b->next = NULL;
    b->end = top - stack_words;
    b->top = hblock_start(b);
    b->node = pool_node_of(rt->h, b);
    b->bytes = (uint32_t)bytes;
    p->cblock = b;
    cblock_acct(rt, p, b, 1);
    p->home_node = node;
    p->hfirst = p->hcur = b;
    p->hp = hblock_start(b);
    p->hlim = b->end;
    p->frags = NULL;
    p->gc_old = p->gc_old_frags = NULL;
    p->frag_words = 0;
    p->heap_words = block_words(b);
    p->gc_threshold = 4 * MIN_HEAP_WORDS;
    p->live_words = 0;
    p->heap_limit_words = rt->default_heap_limit_words;
    p->stack_lo = b->end;
    p->stack_hi = top;
    p->sp = p->stack_lo;
    p->ctl = (ctl_t *)p->stack_hi;
    if (rt->gc_torture)
        p->hlim = p->hp;
    return 0;
}

/* Add a block of at least `words` words to the heap. */
static int add_block(rt_t *rt, pcb_t *pcb, uint64_t words)
{
    proc_t *p = proc_of(pcb);
    uint64_t want = p->heap_words;
    if (want > MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term))
        want = MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term);
    if (want < words)
        want = words;
    hblock_t *b = new_block(rt, p, want, POOL_OWNER_PROC(pcb->slot));
    if (!b)
        return -1;
    acct_block(rt, p, b, 1);
    p->hcur->top = p->hp;
    p->hcur->next = b;
    p->hcur = b;
    p->hp = hblock_start(b);
    p->hlim = b->end;
    p->heap_words += block_words(b);
    return 0;
}

/* ------------------------------------------------------------------ */
/* the collector                                                       */

/* Runs of from-space the collector remembers: a breadth-first copy walks
 * the live data of several structures side by side (two lists: their cells
 * alternate), each in runs of its own. */
#define GC_RUNS 4

typedef struct gc {
    rt_t *rt;
    uint32_t from_owner;
    const term *clo, *chi;   /* the heap's part of the first block, if it has one */
    const term *run_lo[GC_RUNS], *run_hi[GC_RUNS]; /* from-space runs found last (in_from) */
    unsigned run_next;       /* the entry to replace next */
    hblock_t *first, *cur;
    term *hp, *lim;
    uint64_t copied, words, block;
    uint32_t node;   /* where the to-space comes from */
    bool failed;
} gc_t;

/* Whether ptr is in from-space: the first block, or a run of the pool
 * that the process owns. The runs found last are remembered: objects made
 * one after another sit in the same run, so most pointers are answered by
 * a few compares instead of a look at the pool's page descriptors (which
 * was a third of a collection's time). in_from_pool is the look at the
 * pool, out of line so that the common answer is a few inlined compares. */
__attribute__((noinline)) static bool in_from_pool(gc_t *g, const term *ptr)
{
    const shm_header_t *h = g->rt->h;
    if (!pool_contains(h, ptr))
        return false;
    uint32_t owner;
    const char *run = pool_run_of(h, ptr, &owner);
    if (owner != g->from_owner)
        return false;
    unsigned i = g->run_next++ % GC_RUNS;
    g->run_lo[i] = (const term *)run;
    g->run_hi[i] = (const term *)(run + pool_run_pages(h, run) * SHOAL_PAGE);
    return true;
}

static inline bool in_from(gc_t *g, const term *ptr)
{
    if (ptr >= g->clo && ptr < g->chi)
        return true;
    for (int i = 0; i < GC_RUNS; i++)
        if (ptr >= g->run_lo[i] && ptr < g->run_hi[i])
            return true;
    return in_from_pool(g, ptr);
}

/* to_alloc's way out: a new to-space block, if the pool has one. */
__attribute__((noinline)) static term *to_alloc_block(gc_t *g, uint64_t words)
{
    uint64_t want = g->block > words ? g->block : words;
    hblock_t *b = new_block_on(g->rt, g->node, want, POOL_OWNER_VM(g->rt->vm));
    if (!b) {
        g->failed = true;
        return NULL;
    }
    if (g->cur) {
        g->cur->top = g->hp;
        g->cur->next = b;
    } else {
        g->first = b;
    }
    g->cur = b;
    g->hp = hblock_start(b);
    g->lim = b->end;
    g->words += block_words(b);
    term *r = g->hp;
    g->hp += words;
    g->copied += words;
    return r;
}

static inline term *to_alloc(gc_t *g, uint64_t words)
{
    if (g->hp + words > g->lim)
        return to_alloc_block(g, words);
    term *r = g->hp;
    g->hp += words;
    g->copied += words;
    return r;
}

/* Copy a pointer's object to to-space, once (copy). */
__attribute__((noinline)) static term copy_ptr(gc_t *g, term t)
{
    if (is_cons(t)) {
        term *c = cons_ptr(t);
        if (!in_from(g, c))
            return t;
        if (c[0] == T_NONE)
            return c[1];
        term *n = to_alloc(g, 2);
        if (!n)
            return t;
        n[0] = c[0];
        n[1] = c[1];
        term nt = mk_cons_ptr(n);
        c[0] = T_NONE;
        c[1] = nt;
        return nt;
    }
    term *b = box_ptr(t);
    if (!in_from(g, b))
        return t;
    if (!is_hdr(b[0]))
        return b[0]; /* forwarded: the header is the new pointer */
    uint64_t w = hdr_words(b[0]);
    term *n = to_alloc(g, w);
    if (!n)
        return t;
    /* most objects are a few words: no library call for them */
    if (w <= 8)
        for (uint64_t i = 0; i < w; i++)
            n[i] = b[i];
    else
        memcpy(n, b, w * sizeof(term));
    b[0] = mk_box(n);
    return mk_box(n);
}

/* The copy of t: itself if it is not a pointer (most fields are
 * immediates, answered here without a call), else its object's copy. */
static inline term copy(gc_t *g, term t)
{
    return is_ptr(t) ? copy_ptr(g, t) : t;
}

/* Copy the children of the objects in to-space until none is left. */
static void scan(gc_t *g)
{
    if (!g->first)
        return;
    hblock_t *b = g->first;
    term *s = hblock_start(b);
    for (;;) {
        term *end = b == g->cur ? g->hp : b->top;
        if (s < end) {
            vm_tick(1);
            term w = *s;
            if (!is_hdr(w)) { /* a cons cell */
                s[0] = copy(g, s[0]);
                s[1] = copy(g, s[1]);
                s += 2;
                continue;
            }
            uint64_t n = hdr_words(w);
            /* raw words (a closure's func_t pointer, a map's layout word)
             * come first; floats and strings hold no terms at all */
            unsigned from = box_term_start(hdr_type(w));
            if (from)
                for (uint64_t i = from; i < n; i++)
                    s[i] = copy(g, s[i]);
            s += n;
            continue;
        }
        if (b == g->cur)
            break;
        b = b->next;
        s = hblock_start(b);
    }
}

/* Free the blocks of a chain one at a time, moving *head past each
 * before it is freed: a VM that dies in the middle leaves a chain its
 * next incarnation can go on freeing (at worst one block leaked, never
 * one freed twice). The first block is only unlinked: cblock_drop frees
 * it once the stack is not in it either. */
static void release_chain(rt_t *rt, proc_t *p, hblock_t **head)
{
    while (*head) {
        hblock_t *b = *head;
        *head = b->next;
        ck_pr_fence_store();
        if (b == p->cblock)
            continue;
        acct_block(rt, p, b, -1);
        pool_free(rt->h, rt->vm, b);
    }
}

int heap_gc(rt_t *rt, pcb_t *pcb, uint64_t need, term *extra, size_t n)
{
    proc_t *p = proc_of(pcb);
    gc_t g = {.rt = rt, .from_owner = POOL_OWNER_PROC(pcb->slot)};
    if (p->cblock && p->hfirst == p->cblock) {
        g.clo = hblock_start(p->cblock);
        g.chi = p->cblock->end;
    }
    /* The first to-space block holds what survived last time plus room to
     * grow; later blocks, if any, double the same way add_block does. */
    g.block = p->live_words * 2 + need + MIN_HEAP_WORDS;
    if (g.block > MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term))
        g.block = MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term);
    g.node = home_of(rt, p);
    hblock_t *first = new_block_on(rt, g.node, g.block, POOL_OWNER_VM(rt->vm));
    if (!first) {
        /* nothing copied yet: the heap is as it was, and usable */
        errno = EAGAIN;
        return -1;
    }
    g.first = g.cur = first;
    g.hp = hblock_start(first);
    g.lim = first->end;
    g.words = block_words(first);

    vm_tick((uint32_t)(p->sp - p->stack_lo) + 1);
    for (term *s = p->stack_lo; s < p->sp; s++)
        *s = copy(&g, *s);
    p->mbox_first = copy(&g, p->mbox_first);
    p->mbox_last = copy(&g, p->mbox_last);
    p->mbox_prev = copy(&g, p->mbox_prev);
    p->recv_mark = copy(&g, p->recv_mark);
    p->err_value = copy(&g, p->err_value);
    p->links = copy(&g, p->links);
    p->monitored_by = copy(&g, p->monitored_by);
    p->monitoring = copy(&g, p->monitoring);
    for (size_t i = 0; i < n; i++)
        extra[i] = copy(&g, extra[i]);
    scan(&g);
    if (g.failed) {
        /* The pool ran dry in the middle: the to-space is incomplete and
         * the process cannot go on (the caller ends it). Some roots point
         * into the to-space and some old objects carry forwarding words,
         * so neither space may be freed before the process is: the
         * to-space joins the buffers that heap_release frees. What ending
         * needs still reads right: a forwarded object keeps every word but
         * its first, so the link and monitor chains walk in either space. */
        for (hblock_t *b = g.first; b; b = b->next) {
            pool_set_owner(rt->h, b, POOL_OWNER_PROC(pcb->slot));
            acct_block(rt, p, b, 1);
        }
        g.cur->top = g.hp;
        g.cur->next = p->frags;
        p->frags = g.first;
        errno = ENOMEM;
        return -1;
    }

    /* Switch spaces so that a VM that dies at any step leaves chains its
     * next incarnation can free, each block once (heap_release): the old
     * chains are named in gc_old first, then the heap becomes the
     * to-space, then the old blocks go one at a time. */
    for (hblock_t *b = g.first; b; b = b->next) {
        pool_set_owner(rt->h, b, POOL_OWNER_PROC(pcb->slot));
        acct_block(rt, p, b, 1);
    }
    p->gc_old = p->hfirst;
    p->gc_old_frags = p->frags;
    ck_pr_fence_store();
    p->hfirst = g.first;
    p->frags = NULL;
    ck_pr_fence_store();
    release_chain(rt, p, &p->gc_old);
    release_chain(rt, p, &p->gc_old_frags);
    cblock_drop(rt, p);
    p->hcur = g.cur;
    p->hp = g.hp;
    p->hlim = g.lim;
    p->frag_words = 0;
    p->heap_words = g.words;
    p->live_words = g.copied;
    p->gcs++;
    uint64_t t = 3 * g.copied + need;
    p->gc_threshold = t > 4 * MIN_HEAP_WORDS ? t : 4 * MIN_HEAP_WORDS;
    if (g.copied + need > p->heap_limit_words) {
        errno = EFBIG;
        return -1;
    }
    if ((uint64_t)(p->hlim - p->hp) < need && add_block(rt, pcb, need) < 0)
        return -1;
    return 0;
}

int heap_make_room(rt_t *rt, pcb_t *pcb, uint64_t words)
{
    proc_t *p = proc_of(pcb);
    if (rt->gc_torture) {
        if (heap_gc(rt, pcb, words, NULL, 0) < 0)
            return -1;
        p->hlim = p->hp + words; /* the next allocation collects again */
        return 0;
    }
    if ((uint64_t)(p->hlim - p->hp) >= words)
        return 0;
    if (p->heap_words + words <= p->gc_threshold && p->heap_words + words <= p->heap_limit_words)
        return add_block(rt, pcb, words);
    return heap_gc(rt, pcb, words, NULL, 0);
}

/* The lowest word the stack may take in the first block: above the
 * heap's words there, if the heap is still in it. */
static term *cblock_floor(const proc_t *p)
{
    hblock_t *c = p->cblock;
    if (p->hfirst != c)
        return hblock_start(c);
    return p->hcur == c ? p->hp : c->top;
}

/* Move the values of the stack in the first block down to `lo`, into
 * the heap's free room there (the control frames stay at the top). */
static void stack_lower(proc_t *p, term *lo)
{
    size_t used_v = (size_t)(p->sp - p->stack_lo);
    term *old_lo = p->stack_lo;
    memmove(lo, old_lo, used_v * sizeof(term));
    /* the frames point into the value stack, which moved down */
    for (ctl_t *c = p->ctl; (term *)c < p->stack_hi; c++) {
        c->fp = lo + (c->fp - old_lo);
        c->base = lo + (c->base - old_lo);
    }
    p->stack_lo = lo;
    p->sp = lo + used_v;
    hblock_t *c = p->cblock;
    if (p->hfirst == c) {
        p->heap_words -= (uint64_t)(c->end - lo);
        c->end = lo;
        if (p->hcur == c && p->hlim > lo)
            p->hlim = lo;
    }
}

int stack_grow(rt_t *rt, pcb_t *pcb, uint64_t need)
{
    proc_t *p = proc_of(pcb);
    size_t used_v = (size_t)(p->sp - p->stack_lo);
    size_t used_c = (size_t)((char *)p->stack_hi - (char *)p->ctl);
    size_t old_bytes = (size_t)((char *)p->stack_hi - (char *)p->stack_lo);
    size_t least = used_v * sizeof(term) + used_c + need * sizeof(term);
    if (stack_in_cblock(p)) {
        /* Room below it in the first block: twice the stack (and a few
         * words) if there is that much, else all there is, if that is
         * enough. */
        size_t room = (size_t)(p->stack_hi - cblock_floor(p)) * sizeof(term);
        size_t give = old_bytes * 2 > least + 64 ? old_bytes * 2 : least + 64;
        if (give > room)
            give = room;
        if (give >= least && give / sizeof(term) <= p->heap_limit_words) {
            stack_lower(p, p->stack_hi - give / sizeof(term));
            return 0;
        }
    }
    size_t bytes = old_bytes * 2;
    while (bytes < least + 64 * sizeof(term))
        bytes *= 2;
    /* The stack counts against the heap limit: unbounded recursion ends
     * the process, not the machine. */
    if (bytes / sizeof(term) > p->heap_limit_words) {
        errno = EFBIG;
        return -1;
    }
    bool in_c = stack_in_cblock(p);
    size_t got;
    term *ns = mem_alloc(rt, home_of(rt, p), bytes, pcb->slot, &got);
    if (!ns)
        return -1;
    term *nhi = (term *)((char *)ns + got);
    memcpy(ns, p->stack_lo, used_v * sizeof(term));
    memcpy((char *)nhi - used_c, p->ctl, used_c);
    /* the frames point into the value stack: into the new one now */
    for (ctl_t *c = (ctl_t *)((char *)nhi - used_c); (term *)c < nhi; c++) {
        c->fp = ns + (c->fp - p->stack_lo);
        c->base = ns + (c->base - p->stack_lo);
    }
    acct(rt, p, ns, 1);
    term *old = p->stack_lo;
    /* The process names its new stack before the old one goes: a VM that
     * dies in between leaks the old one, never frees it twice. */
    p->stack_lo = ns;
    p->stack_hi = nhi;
    p->sp = ns + used_v; /* p->fp is an index: it holds */
    p->ctl = (ctl_t *)((char *)nhi - used_c);
    ck_pr_fence_store();
    if (!in_c) {
        acct(rt, p, old, -1);
        mem_free(rt, old);
        return 0;
    }
    /* It left the first block: the heap, if it is still allocating there,
     * has the whole block now; if the heap left it too, it goes. */
    hblock_t *c = p->cblock;
    if (p->hfirst == c && p->hcur == c) {
        term *end = cblock_top(p);
        p->heap_words += (uint64_t)(end - c->end);
        c->end = end;
        if (!rt->gc_torture)
            p->hlim = end;
    }
    cblock_drop(rt, p);
    return 0;
}

void heap_release(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    /* a collection that died between naming the old chains and switching
     * has them named twice: free them once */
    if (p->gc_old == p->hfirst)
        p->gc_old = NULL;
    if (p->gc_old_frags == p->frags)
        p->gc_old_frags = NULL;
    release_chain(rt, p, &p->gc_old);
    release_chain(rt, p, &p->gc_old_frags);
    release_chain(rt, p, &p->hfirst);
    release_chain(rt, p, &p->frags);
    if (p->stack_lo) {
        term *stack = p->stack_lo;
        bool in_c = stack_in_cblock(p);
        p->stack_lo = NULL;
        ck_pr_fence_store();
        if (!in_c) {
            acct(rt, p, stack, -1);
            mem_free(rt, stack);
        }
    }
    cblock_drop(rt, p);
    heap_detach(rt, p);
    p->hcur = NULL;
    p->stack_hi = p->sp = NULL;
}

/* ------------------------------------------------------------------ */
/* deep copies (messages, spawn arguments)                             */

void wstack_grow(wstack_t *s)
{
    size_t cap = s->cap * 2;
    term *v = s->v == s->inline_v ? malloc(cap * sizeof *v) : realloc(s->v, cap * sizeof *v);
    if (!v)
        shoal_assert_fail(__FILE__, __LINE__, "v != NULL", "out of memory walking a term");
    if (s->v == s->inline_v)
        memcpy(v, s->inline_v, s->n * sizeof *v);
    s->v = v;
    s->cap = cap;
}

/* The first term word of a value's boxed object (0: none). Message nodes
 * are never values: a copy never walks into one. */
static unsigned value_term_start(unsigned type)
{
    return type == BT_MSG ? 0 : box_term_start(type);
}

/* The walks below count the objects they visit and beat every
 * WALK_TICK of them (vm_tick), not at each. */
#define WALK_TICK 256u

uint64_t term_size_walk(term t)
{
    wstack_t st;
    wstack_init(&st);
    uint64_t n = 0;
    uint32_t objs = 0;
    for (;;) {
        /* t is a pointer: count its object and go on to a child that is
         * one; other such children wait on the stack. Immediates take
         * no words and are never pushed. */
        if (++objs == WALK_TICK) {
            vm_tick(WALK_TICK);
            objs = 0;
        }
        term next = 0;
        if (is_cons(t)) {
            n += 2;
            term h = CAR(t), tl = CDR(t);
            /* the head first and the tail waits, so that a long list of
             * lists keeps the stack short */
            if (is_ptr(h)) {
                next = h;
                if (is_ptr(tl))
                    wstack_push(&st, tl);
            } else if (is_ptr(tl)) {
                next = tl;
            }
        } else {
            term *b = box_ptr(t);
            uint64_t w = hdr_words(b[0]);
            n += w;
            unsigned from = value_term_start(hdr_type(b[0]));
            for (uint64_t i = from ? from : w; i < w; i++) {
                if (!is_ptr(b[i]))
                    continue;
                if (next)
                    wstack_push(&st, next);
                next = b[i];
            }
        }
        if (next)
            t = next;
        else if (!wstack_pop(&st, &t))
            break;
    }
    vm_tick(objs);
    wstack_free(&st);
    return n;
}

/* Copy one object (not its children) to *hp; t is a pointer. */
static inline term shallow(term t, term **hp)
{
    if (is_cons(t)) {
        term *cell = *hp;
        *hp += 2;
        cell[0] = CAR(t);
        cell[1] = CDR(t);
        return mk_cons_ptr(cell);
    }
    term *b = box_ptr(t);
    uint64_t w = hdr_words(b[0]);
    term *n = *hp;
    *hp += w;
    if (w <= 8)
        for (uint64_t i = 0; i < w; i++)
            n[i] = b[i];
    else
        memcpy(n, b, w * sizeof(term));
    return mk_box(n);
}

/* A Cheney scan over the destination: copy the root, then walk what was
 * copied, object by object, copying each child it still points out to.
 * No recursion, and every object of the source is copied once per path
 * (no sharing), which is what term_size counts. */
term term_copy_walk(term t, term **hpp)
{
    /* the bump pointer in a local: stores into the copy cannot alias it */
    term *hp = *hpp;
    term *s = hp;
    term root = shallow(t, &hp);
    uint32_t objs = 0;
    while (s < hp) {
        if (++objs == WALK_TICK) {
            vm_tick(WALK_TICK);
            objs = 0;
        }
        term w = *s;
        if (!is_hdr(w)) {
            if (is_ptr(w))
                s[0] = shallow(w, &hp);
            if (is_ptr(s[1]))
                s[1] = shallow(s[1], &hp);
            s += 2;
            continue;
        }
        uint64_t n = hdr_words(w);
        unsigned from = value_term_start(hdr_type(w));
        if (from)
            for (uint64_t i = from; i < n; i++)
                if (is_ptr(s[i]))
                    s[i] = shallow(s[i], &hp);
        s += n;
    }
    vm_tick(objs);
    *hpp = hp;
    return root;
}
