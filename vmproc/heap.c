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
 * A heap is one or two generations, each a chain of blocks with an
 * hblock_t header. The young one is the first block (cblock, while the
 * heap is in it) and then runs of pool pages; allocation bumps p->hp in
 * its newest block. When a block is full, the young generation grows by
 * a new block until it passes gc_threshold; then a collection.
 *
 * A major collection (Cheney) copies everything reachable into a fresh
 * chain of blocks (the to-space), and the old blocks and any joined
 * message buffers go back to the pool. If what lives is small (below
 * GEN_MIN_WORDS, most processes), the to-space is the young generation
 * and there is no old one: the threshold is then set from what survived,
 * so a heap grows with its live data and shrinks when the data dies:
 * three times the survivors, so that a collection that copies L words
 * comes after 2L words of new data (at twice, each word made cost a word
 * copied when the live data is large: binary trees and list kernels spent
 * a third of their time copying the same data). If it is more, the
 * to-space becomes the old generation (p->ofirst) and the young one
 * starts afresh, and the collections that follow are minor ones, until
 * the old generation holds three times what lived at the major one (and
 * MAJOR_SLACK_PAGES), lies on another node than the process's memory now
 * comes from, or the heap limit is near.
 *
 * A minor collection copies what lives in the young generation and the
 * message buffers: what is new since the last collection to young blocks
 * of survivors (HBLOCK_AGED), what survived one minor collection already
 * to the end of the old generation (promoted), as BEAM does with its high
 * water mark; the young blocks and buffers go back to the pool, and what
 * is old is neither copied nor walked. That is sound because a value
 * never changes once built, so nothing old points at anything younger,
 * except the words the runtime does change: the next words of message
 * nodes (the mailbox, links and monitors), whose chains a minor
 * collection walks whole. A process that holds much data (a server's
 * state, a worker's data set) so copies it twice, not at every
 * collection. The young generation is then sized from what survived and
 * from the old generation (nursery_words). heap_gc is a major
 * collection; heap_collect, what allocation calls, chooses.
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
 * run owned by POOL_OWNER_PROC(slot), but for a minor collection not one
 * of the old generation (its header's bytes say HBLOCK_OLD; HBLOCK_AGED
 * says survivors, to be promoted); a major collection's to-space and a
 * minor one's survivor blocks are owned by the VM until the collection
 * ends, a minor one's old generation by the process from the start, each
 * block on its chain before anything is copied into it. Constants in the
 * code area are outside the pool and are never copied.
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

/* The old generation may hold this much more than three times what lived
 * at the last major collection (or than nothing, before the first one)
 * before the next collection is major. */
#define MAJOR_SLACK_PAGES 16u
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
    b->bytes = 0;
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
    /* named as the first block before it is the heap: release_chain
     * leaves the first block to cblock_drop (a chunk, not pool pages) */
    ck_pr_fence_store();
    p->hfirst = p->hcur = b;
    p->hp = hblock_start(b);
    p->hlim = b->end;
    p->frags = NULL;
    p->gc_old = p->gc_old_frags = NULL;
    p->ofirst = p->ocur = p->gc_old_gen = NULL;
    p->old_words = p->old_used = 0;
    p->major_pages = MAJOR_SLACK_PAGES;
    p->frag_words = 0;
    p->heap_words = block_words(b);
    p->gc_threshold = 4 * MIN_HEAP_WORDS;
    p->live_words = 0;
    p->heap_limit_words = rt->default_heap_limit_words;
    /* The stack's bottom last: a VM that dies before it leaves no stack
     * for heap_release to free (it would take the stack, inside the
     * first block, for one of its own), and the first block, named, is
     * freed once. The process is published when it starts later
     * (interp_start_now), so this order is what recovery finds. */
    p->stack_hi = top;
    p->sp = b->end;
    p->ctl = (ctl_t *)top;
    ck_pr_fence_store();
    p->stack_lo = b->end;
    if (rt->gc_torture)
        p->hlim = p->hp;
    return 0;
}

/* Add a block of at least `words` words to the heap. */
static int add_block(rt_t *rt, pcb_t *pcb, uint64_t words)
{
    proc_t *p = proc_of(pcb);
    uint64_t want = p->heap_words - p->old_words;
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

/* A space the collector copies into: a chain of blocks, where the next
 * copy goes (hp, lim in cur), and where its Cheney scan stands. */
typedef struct space {
    hblock_t *first, *cur;
    hblock_t *scan_b;        /* the scan goes on in this block, at scan_s */
    term *scan_s;
    term *hp, *lim;
    uint64_t copied, words;  /* words copied into it; words in its blocks */
    uint64_t block;          /* the size of its next block, at least */
    bool doubling;           /* and `block` doubles at each block (heap_hibernate) */
    uint32_t kind;           /* hblock_t.bytes of its blocks */
} space_t;

typedef struct gc {
    rt_t *rt;
    proc_t *p;
    uint32_t from_owner;
    const term *clo, *chi;   /* the heap's part of the first block, if it has one */
    const term *run_lo[GC_RUNS], *run_hi[GC_RUNS]; /* from-space runs found last (in_from) */
    uint8_t run_cls[GC_RUNS]; /* and what they hold (FROM_NEW, FROM_AGED) */
    unsigned run_next;       /* the entry to replace next */
    const term *old_lo, *old_hi; /* a minor collection: the old run found last */
    space_t to;      /* a major collection's to-space, or a minor one's old generation */
    space_t aged;    /* a minor collection's survivors (young, aged) */
    uint32_t node;   /* where the to-space comes from */
    bool minor;      /* the to-space is the old generation, which is not from-space */
    bool failed;
} gc_t;

/* What a pointer points at, for a collection: not from-space, or a
 * from-space object that is new (made since the last collection; a minor
 * collection moves it to the survivors) or aged (a survivor of the last
 * minor collection: a minor one promotes it). A major collection treats
 * all of from-space as new. */
enum { NOT_FROM = 0, FROM_NEW = 1, FROM_AGED = 2 };

/* Whether ptr is in from-space: the first block, or a run of the pool
 * that the process owns. The runs found last are remembered: objects made
 * one after another sit in the same run, so most pointers are answered by
 * a few compares instead of a look at the pool's page descriptors (which
 * was a third of a collection's time). in_from_pool is the look at the
 * pool, out of line so that the common answer is a few inlined compares. */
__attribute__((noinline)) static int in_from_pool(gc_t *g, const term *ptr)
{
    const shm_header_t *h = g->rt->h;
    if (!pool_contains(h, ptr))
        return NOT_FROM;
    uint32_t owner;
    const char *run = pool_run_of(h, ptr, &owner);
    if (owner != g->from_owner)
        return NOT_FROM;
    const term *hi = (const term *)(run + pool_run_pages(h, run) * SHOAL_PAGE);
    uint32_t kind = ((const hblock_t *)run)->bytes;
    if (g->minor && kind == HBLOCK_OLD) {
        g->old_lo = (const term *)run;
        g->old_hi = hi;
        return NOT_FROM;
    }
    int cls = g->minor && kind == HBLOCK_AGED ? FROM_AGED : FROM_NEW;
    unsigned i = g->run_next++ % GC_RUNS;
    g->run_lo[i] = (const term *)run;
    g->run_hi[i] = hi;
    g->run_cls[i] = (uint8_t)cls;
    return cls;
}

static inline int in_from(gc_t *g, const term *ptr)
{
    if (ptr >= g->clo && ptr < g->chi)
        return FROM_NEW;
    for (int i = 0; i < GC_RUNS; i++)
        if (ptr >= g->run_lo[i] && ptr < g->run_hi[i])
            return g->run_cls[i];
    if (ptr >= g->old_lo && ptr < g->old_hi)
        return NOT_FROM;
    return in_from_pool(g, ptr);
}

/* space_alloc's way out: a new block for space sp, if the pool has one.
 * A minor collection's old generation takes blocks that are the
 * process's from the start, on its chain before anything is copied into
 * them, so that a VM that dies in the middle leaves them to heap_release,
 * once; the other spaces' blocks are the VM's until the collection ends. */
__attribute__((noinline)) static term *space_grow(gc_t *g, space_t *sp, uint64_t words)
{
    uint64_t want = sp->block > words ? sp->block : words;
    bool old = g->minor && sp == &g->to;
    hblock_t *b = new_block_on(g->rt, g->node, want, old ? g->from_owner : POOL_OWNER_VM(g->rt->vm));
    if (!b) {
        g->failed = true;
        return NULL;
    }
    b->bytes = sp->kind;
    if (old) {
        proc_t *p = g->p;
        acct_block(g->rt, p, b, 1);
        p->old_words += block_words(b);
        p->heap_words += block_words(b);
        ck_pr_fence_store();
    }
    if (sp->cur) {
        sp->cur->top = sp->hp;
        sp->cur->next = b;
    } else {
        sp->first = b;
        if (old)
            g->p->ofirst = b;
    }
    if (old)
        g->p->ocur = b;
    if (!sp->scan_b) {
        sp->scan_b = b;
        sp->scan_s = hblock_start(b);
    }
    sp->cur = b;
    sp->hp = hblock_start(b);
    sp->lim = b->end;
    sp->words += block_words(b);
    if (sp->doubling && sp->block < MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term) / 2)
        sp->block *= 2;
    term *r = sp->hp;
    sp->hp += words;
    sp->copied += words;
    return r;
}

static inline term *space_alloc(gc_t *g, space_t *sp, uint64_t words)
{
    if (sp->hp + words > sp->lim)
        return space_grow(g, sp, words);
    term *r = sp->hp;
    sp->hp += words;
    sp->copied += words;
    return r;
}

/* Room for an object of class cls: a new one survives among the young
 * in a minor collection; everything else goes to the to-space. */
static inline term *to_alloc_cls(gc_t *g, int cls, uint64_t words)
{
    return space_alloc(g, cls == FROM_NEW && g->minor ? &g->aged : &g->to, words);
}

/* Copy a pointer's object to to-space, once (copy). */
__attribute__((noinline)) static term copy_ptr(gc_t *g, term t)
{
    if (is_cons(t)) {
        term *c = cons_ptr(t);
        int cls = in_from(g, c);
        if (!cls)
            return t;
        if (c[0] == T_NONE)
            return c[1];
        term *n = to_alloc_cls(g, cls, 2);
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
    int cls = in_from(g, b);
    if (!cls)
        return t;
    if (!is_hdr(b[0]))
        return b[0]; /* forwarded: the header is the new pointer */
    uint64_t w = hdr_words(b[0]);
    term *n = to_alloc_cls(g, cls, w);
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

/* Copy the children of the object at s; its size in words. */
static inline uint64_t scan_one(gc_t *g, term *s)
{
    term w = *s;
    if (!is_hdr(w)) { /* a cons cell */
        s[0] = copy(g, s[0]);
        s[1] = copy(g, s[1]);
        return 2;
    }
    uint64_t n = hdr_words(w);
    /* raw words (a closure's func_t pointer, a map's layout word) come
     * first; floats and strings hold no terms at all */
    unsigned from = box_term_start(hdr_type(w));
    if (from)
        for (uint64_t i = from; i < n; i++)
            s[i] = copy(g, s[i]);
    return n;
}

/* Copy the children of the objects in space sp, from where its scan
 * stands to its end; whether there were any. */
static bool scan_space(gc_t *g, space_t *sp)
{
    if (!sp->scan_b)
        return false;
    hblock_t *b = sp->scan_b;
    term *s = sp->scan_s;
    bool any = false;
    for (;;) {
        term *end = b == sp->cur ? sp->hp : b->top;
        if (s < end) {
            vm_tick(1);
            s += scan_one(g, s);
            any = true;
            continue;
        }
        if (b == sp->cur)
            break;
        b = b->next;
        s = hblock_start(b);
    }
    sp->scan_b = b;
    sp->scan_s = s;
    return any;
}

/* Copy the children of the objects in the to-spaces until none is left
 * (a Cheney scan of each, by turns: each may copy into the other). */
static void scan(gc_t *g)
{
    while (scan_space(g, &g->to) | scan_space(g, &g->aged))
        ;
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

/* The roots: the value stack, the mailbox pointers, the pending error
 * value, the link and monitor chains, and the caller's extra roots. */
static void copy_roots(gc_t *g, proc_t *p, term *extra, size_t n)
{
    vm_tick((uint32_t)(p->sp - p->stack_lo) + 1);
    for (term *s = p->stack_lo; s < p->sp; s++)
        *s = copy(g, *s);
    p->mbox_first = copy(g, p->mbox_first);
    p->mbox_last = copy(g, p->mbox_last);
    p->mbox_prev = copy(g, p->mbox_prev);
    p->recv_mark = copy(g, p->recv_mark);
    p->err_value = copy(g, p->err_value);
    p->links = copy(g, p->links);
    p->monitored_by = copy(g, p->monitored_by);
    p->monitoring = copy(g, p->monitoring);
    for (size_t i = 0; i < n; i++)
        extra[i] = copy(g, extra[i]);
}

/* The blocks of a chain the VM held through a collection become the
 * process's, counted in its memory. */
static void own_chain(rt_t *rt, pcb_t *pcb, hblock_t *first)
{
    for (hblock_t *b = first; b; b = b->next) {
        /* a hibernation's to-space: the first block, the process's and
         * counted since it was named (heap_hibernate) */
        if (b == proc_of(pcb)->cblock)
            continue;
        pool_set_owner(rt->h, b, POOL_OWNER_PROC(pcb->slot));
        acct_block(rt, proc_of(pcb), b, 1);
    }
}

/* A collection the pool ran dry in: the process cannot go on (the caller
 * ends it), and roots may point into space sp, so its blocks join the
 * buffers that heap_release frees with the rest. */
static void keep_as_frags(rt_t *rt, pcb_t *pcb, space_t *sp)
{
    if (!sp->first)
        return;
    own_chain(rt, pcb, sp->first);
    proc_t *p = proc_of(pcb);
    sp->cur->top = sp->hp;
    sp->cur->next = p->frags;
    p->frags = sp->first;
}

/* Switch the heap to the young chain `first` (whose newest block is
 * `cur`, hp and lim in it), so that a VM that dies at any step leaves
 * chains its next incarnation can free, each block once (heap_release):
 * the old chains are named in gc_old first, then the heap becomes the
 * new chain, then the old blocks go one at a time. */
static void switch_young(rt_t *rt, pcb_t *pcb, hblock_t *first, hblock_t *cur, term *hp,
                         term *lim)
{
    proc_t *p = proc_of(pcb);
    own_chain(rt, pcb, first);
    p->gc_old = p->hfirst;
    p->gc_old_frags = p->frags;
    ck_pr_fence_store();
    p->hfirst = first;
    p->frags = NULL;
    ck_pr_fence_store();
    release_chain(rt, p, &p->gc_old);
    release_chain(rt, p, &p->gc_old_frags);
    cblock_drop(rt, p);
    p->hcur = cur;
    p->hp = hp;
    p->hlim = lim;
    p->frag_words = 0;
}

/* The collector's first look: from-space, the first block's heap part
 * if the heap is still in it. */
static void gc_begin(gc_t *g, rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    *g = (gc_t){.rt = rt, .p = p, .from_owner = POOL_OWNER_PROC(pcb->slot)};
    if (p->cblock && p->hfirst == p->cblock) {
        g->clo = hblock_start(p->cblock);
        g->chi = p->cblock->end;
    }
    g->node = home_of(rt, p);
}

/* The young generation's size after a collection (gc_threshold): twice
 * what lives, old and surviving, as a process of one generation grows
 * its heap to three times what lived: a minor collection then comes no
 * more often than a major one would, and copies only what is new and
 * still alive (a smaller nursery made data a process works on for a
 * while, a list it partitions, a backlog of messages, survive two
 * collections and be promoted, only to die in the old generation); at
 * most NURSERY_MAX words. */
#define NURSERY_MAX (32u * MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term))

static uint64_t nursery_words(const proc_t *p, uint64_t survived, uint64_t need)
{
    uint64_t n = 2 * (p->old_used + survived);
    if (n > NURSERY_MAX)
        n = NURSERY_MAX;
    if (n < 4 * MIN_HEAP_WORDS)
        n = 4 * MIN_HEAP_WORDS;
    return n + need;
}

/* The first block of the young generation a collection leaves, owned by
 * the VM until the switch (as a to-space is). A small process gets one
 * page (a run of one page comes from the VM's cache; more would search
 * the pool under its lock at every collection) and grows by add_block;
 * a big one gets its nursery at once, up to one block. */
static hblock_t *new_nursery(rt_t *rt, const proc_t *p, uint32_t node, uint64_t need)
{
    uint64_t n = nursery_words(p, 0, need), maxb = MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term);
    if (n <= 4 * MIN_HEAP_WORDS + need)
        n = MIN_HEAP_WORDS;
    if (n > maxb)
        n = maxb;
    if (n < need)
        n = need;
    return new_block_on(rt, node, n, POOL_OWNER_VM(rt->vm));
}

/* A process whose live data is smaller than this keeps one generation
 * (its major collections leave everything young, and it has no minor
 * ones): for it, what a collection copies is small anyway, and two more
 * blocks (the nursery, the old generation) would triple what it holds.
 * GC torture keeps two generations at any size, so that it tries both
 * kinds of collection everywhere. */
#define GEN_MIN_WORDS (8u * MIN_HEAP_WORDS)

/* A major collection: everything reachable, from both generations, is
 * copied into a fresh chain. If that is much (GEN_MIN_WORDS), it becomes
 * the old generation (what lives long is then copied once more only at
 * the next major collection) and the young one starts with a block of
 * one page; else it is the young generation, and there is no old one. */
/* major_gc is heap_gc with its to-space's first block (and the blocks
 * after it, if it fills) `block` words, at most one block of the pool;
 * or, if `into` is given, that block: heap_hibernate's chunk, which the
 * process names as its first block already, its heap's part sized to
 * what lives (a block of the pool follows it only if that was wrong).
 * `hib` (heap_hibernate): the blocks after the first double, so that
 * the to-space is within twice what lives, and GC torture does not make
 * the to-space old (it makes it old at any size otherwise). */
static int major_gc(rt_t *rt, pcb_t *pcb, uint64_t need, term *extra, size_t n, uint64_t block,
                    bool hib, hblock_t *into)
{
    proc_t *p = proc_of(pcb);
    gc_t g;
    gc_begin(&g, rt, pcb);
    g.to.block = block;
    g.to.doubling = hib;
    if (g.to.block > MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term))
        g.to.block = MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term);
    hblock_t *first = into ? into : new_block_on(rt, g.node, g.to.block, POOL_OWNER_VM(rt->vm));
    if (!first) {
        /* nothing copied yet: the heap is as it was, and usable */
        errno = EAGAIN;
        return -1;
    }
    g.to.first = g.to.cur = g.to.scan_b = first;
    g.to.hp = g.to.scan_s = hblock_start(first);
    g.to.lim = first->end;
    g.to.words = block_words(first);

    copy_roots(&g, p, extra, n);
    scan(&g);
    if (g.failed) {
        /* The pool ran dry in the middle: the to-space is incomplete and
         * the process cannot go on (the caller ends it). Some roots point
         * into the to-space and some old objects carry forwarding words,
         * so neither space may be freed before the process is: the
         * to-space joins the buffers that heap_release frees. What ending
         * needs still reads right: a forwarded object keeps every word but
         * its first, so the link and monitor chains walk in either space. */
        keep_as_frags(rt, pcb, &g.to);
        errno = ENOMEM;
        return -1;
    }
    g.to.cur->top = g.to.hp;
    /* the young generation's first block, if the to-space is to be old */
    hblock_t *nb = NULL;
    if (g.to.copied >= GEN_MIN_WORDS || (rt->gc_torture && !hib))
        nb = new_block_on(rt, g.node, need > MIN_HEAP_WORDS ? need : MIN_HEAP_WORDS,
                          POOL_OWNER_VM(rt->vm));

    /* The old generation, if there was one, is named in gc_old_gen before
     * the process names what replaces it, and the young chains in gc_old
     * (switch_young), so that a VM that dies at any step leaves each block
     * named once (heap_release); then the blocks go. */
    p->gc_old_gen = p->ofirst;
    ck_pr_fence_store();
    if (nb) {
        for (hblock_t *b = g.to.first; b; b = b->next)
            b->bytes = HBLOCK_OLD;
        own_chain(rt, pcb, g.to.first);
        p->ofirst = g.to.first;
        p->ocur = g.to.cur;
        ck_pr_fence_store();
        switch_young(rt, pcb, nb, nb, hblock_start(nb), nb->end);
        p->old_words = g.to.words;
        p->old_used = g.to.copied;
        p->heap_words = g.to.words + block_words(nb);
        p->gc_threshold = nursery_words(p, 0, need);
    } else {
        p->ofirst = p->ocur = NULL;
        ck_pr_fence_store();
        switch_young(rt, pcb, g.to.first, g.to.cur, g.to.hp, g.to.lim);
        p->old_words = p->old_used = 0;
        p->heap_words = g.to.words;
        uint64_t t = 3 * g.to.copied + need;
        p->gc_threshold = t > 4 * MIN_HEAP_WORDS ? t : 4 * MIN_HEAP_WORDS;
    }
    release_chain(rt, p, &p->gc_old_gen);
    p->live_words = g.to.copied;
    p->gcs++;
    /* the next major collection once the old generation holds three
     * times what lives now */
    uint64_t at = (3 * g.to.copied * sizeof(term) + SHOAL_PAGE - 1) / SHOAL_PAGE + MAJOR_SLACK_PAGES;
    p->major_pages = at < UINT32_MAX ? (uint32_t)at : UINT32_MAX;
    if (g.to.copied + need > p->heap_limit_words) {
        errno = EFBIG;
        return -1;
    }
    if ((uint64_t)(p->hlim - p->hp) < need && add_block(rt, pcb, need) < 0)
        return -1;
    return 0;
}

int heap_gc(rt_t *rt, pcb_t *pcb, uint64_t need, term *extra, size_t n)
{
    /* The first to-space block holds what survived last time plus room
     * to grow. */
    return major_gc(rt, pcb, need, extra, n, proc_of(pcb)->live_words * 2 + need + MIN_HEAP_WORDS,
                    false, NULL);
}

/* A minor collection: what lives in the young generation (the heap's
 * blocks and the message buffers) and is new since the last collection
 * is copied to fresh young blocks of survivors (aged); what survived one
 * minor collection already is promoted: copied to the end of the old
 * generation. So data that lives across one collection and then dies (a
 * list being worked on) is not promoted; data that lives on is copied
 * twice and then left alone. Nothing old is copied or walked: a value
 * never changes once built, so nothing old points at anything younger,
 * except the words the runtime does change: the next words of message
 * nodes (the mailbox, links and monitors), whose chains are walked whole,
 * each node's words copied as the scan would. */
static int minor_gc(rt_t *rt, pcb_t *pcb, uint64_t need)
{
    proc_t *p = proc_of(pcb);
    gc_t g;
    gc_begin(&g, rt, pcb);
    g.minor = true;
    g.to.kind = HBLOCK_OLD;
    g.aged.kind = HBLOCK_AGED;
    /* The young chain to come, before anything moves: if the pool has no
     * room for it, the heap is as it was, and usable. */
    uint64_t maxb = MAX_BLOCK_PAGES * SHOAL_PAGE / sizeof(term);
    hblock_t *nb = new_nursery(rt, p, g.node, need);
    if (!nb) {
        errno = EAGAIN;
        return -1;
    }
    /* The old generation grows by blocks of its own size (doubling), at
     * least what lived last time; the survivors' blocks hold about what
     * survived last time, so most minor collections take one. */
    g.to.block = p->old_words > p->live_words ? p->old_words : p->live_words;
    if (g.to.block < MIN_HEAP_WORDS)
        g.to.block = MIN_HEAP_WORDS;
    if (g.to.block > maxb)
        g.to.block = maxb;
    g.aged.block = p->live_words - p->old_used + MIN_HEAP_WORDS;
    if (g.aged.block > maxb)
        g.aged.block = maxb;
    if (p->ocur) {
        g.to.cur = g.to.scan_b = p->ocur;
        g.to.hp = g.to.scan_s = p->ocur->top;
        g.to.lim = p->ocur->end;
    }

    copy_roots(&g, p, NULL, 0);
    term *chains[] = {&p->mbox_first, &p->links, &p->monitored_by, &p->monitoring};
    for (size_t i = 0; i < sizeof chains / sizeof chains[0]; i++)
        for (term m = *chains[i]; m && !g.failed; m = box_ptr(m)[1])
            scan_one(&g, box_ptr(m));
    scan(&g);
    if (g.to.cur)
        g.to.cur->top = g.to.hp;
    if (g.aged.cur)
        g.aged.cur->top = g.aged.hp;
    if (g.failed) {
        /* The pool ran dry in the middle: the process cannot go on (the
         * caller ends it). Both generations stay named, each block once,
         * for heap_release, and the survivors' blocks join its buffers;
         * forwarded objects keep every word but their first, so ending
         * reads the chains in any of these places. */
        pool_free(rt->h, rt->vm, nb);
        keep_as_frags(rt, pcb, &g.aged);
        errno = ENOMEM;
        return -1;
    }
    /* the young generation: the survivors, then the nursery */
    hblock_t *young = nb;
    if (g.aged.first) {
        g.aged.cur->next = nb;
        young = g.aged.first;
    }
    switch_young(rt, pcb, young, nb, hblock_start(nb), nb->end);
    p->heap_words = p->old_words + g.aged.words + block_words(nb);
    p->old_used += g.to.copied;
    p->live_words = p->old_used + g.aged.copied;
    p->gcs++;
    p->gc_threshold = g.aged.words + nursery_words(p, g.aged.copied, need);
    return 0;
}

/* A collection, minor unless a major one is due: there is no old
 * generation (a small process), or it passed major_pages, lies on another
 * node than the process's memory now comes from (a major one moves it, as
 * heap_follow asks), or the heap limit is near. GC torture makes every
 * fourth one major. */
int heap_collect(rt_t *rt, pcb_t *pcb, uint64_t need)
{
    proc_t *p = proc_of(pcb);
    bool major = !p->ofirst || (rt->gc_torture ? p->gcs % 4 == 0
                                              : p->old_used > (uint64_t)p->major_pages *
                                                                     (SHOAL_PAGE / sizeof(term)) ||
                                                    p->ofirst->node != home_of(rt, p) ||
                                                    p->heap_words + need > p->heap_limit_words);
    if (major)
        return heap_gc(rt, pcb, need, NULL, 0);
    if (minor_gc(rt, pcb, need) < 0)
        return -1;
    /* what the old generation holds may be dead: only a major collection
     * says whether the process really passed its limit */
    if (p->old_used + need > p->heap_limit_words)
        return heap_gc(rt, pcb, need, NULL, 0);
    return 0;
}

int heap_make_room(rt_t *rt, pcb_t *pcb, uint64_t words)
{
    proc_t *p = proc_of(pcb);
    if (rt->gc_torture) {
        if (heap_collect(rt, pcb, words) < 0)
            return -1;
        p->hlim = p->hp + words; /* the next allocation collects again */
        return 0;
    }
    if ((uint64_t)(p->hlim - p->hp) >= words)
        return 0;
    if (p->heap_words - p->old_words + words <= p->gc_threshold &&
        p->heap_words + words <= p->heap_limit_words)
        return add_block(rt, pcb, words);
    return heap_collect(rt, pcb, words);
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

/* The control frames from c up to `end` point into a value stack that
 * moved from old_lo to lo: they point into it there now. */
static void rebase_frames(ctl_t *c, const term *end, const term *old_lo, term *lo)
{
    for (; (const term *)c < end; c++) {
        c->fp = lo + (c->fp - old_lo);
        c->base = lo + (c->base - old_lo);
    }
}

/* A copy of the process's stack whose values start at lo and whose
 * control frames end at top (its frames pointing into the copy's
 * values); returns where the frames start. The process still names the
 * old one. */
static ctl_t *copy_stack(const proc_t *p, term *lo, term *top)
{
    size_t used_v = (size_t)(p->sp - p->stack_lo);
    size_t used_c = (size_t)((char *)p->stack_hi - (char *)p->ctl);
    ctl_t *ctl = (ctl_t *)((char *)top - used_c);
    memcpy(lo, p->stack_lo, used_v * sizeof(term));
    memcpy(ctl, p->ctl, used_c);
    rebase_frames(ctl, top, p->stack_lo, lo);
    return ctl;
}

/* Move the values of the stack in the first block down to `lo`, into
 * the heap's free room there (the control frames stay at the top). */
static void stack_lower(proc_t *p, term *lo)
{
    size_t used_v = (size_t)(p->sp - p->stack_lo);
    term *old_lo = p->stack_lo;
    memmove(lo, old_lo, used_v * sizeof(term));
    /* the frames point into the value stack, which moved down */
    rebase_frames(p->ctl, p->stack_hi, old_lo, lo);
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
    ctl_t *nctl = copy_stack(p, ns, nhi);
    acct(rt, p, ns, 1);
    term *old = p->stack_lo;
    /* The process names its new stack before the old one goes: a VM that
     * dies in between leaks the old one, never frees it twice. */
    p->stack_lo = ns;
    p->stack_hi = nhi;
    p->sp = ns + used_v; /* p->fp is an index: it holds */
    p->ctl = nctl;
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
    /* one that never ran has its start where the heap's fields are */
    if (proc_unstarted(p)) {
        memset(p->start, 0, sizeof p->start);
        ck_pr_fence_store(); /* the words before the count, as interp_start_now */
        p->flags &= ~PF_START_MASK;
    }
    /* a collection that died between naming the old chains and switching
     * has them named twice: free them once */
    if (p->gc_old == p->hfirst)
        p->gc_old = NULL;
    if (p->gc_old_frags == p->frags)
        p->gc_old_frags = NULL;
    if (p->gc_old_gen == p->ofirst)
        p->gc_old_gen = NULL;
    release_chain(rt, p, &p->gc_old);
    release_chain(rt, p, &p->gc_old_frags);
    release_chain(rt, p, &p->gc_old_gen);
    release_chain(rt, p, &p->hfirst);
    release_chain(rt, p, &p->frags);
    release_chain(rt, p, &p->ofirst);
    p->ocur = NULL;
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
/* hibernation                                                         */

bool heap_can_shrink(const proc_t *p)
{
    const hblock_t *c = p->cblock;
    return !(c && p->hfirst == c && !c->next && !p->frags && !p->ofirst && stack_in_cblock(p));
}

/* The words of value stack a process may use before it grows its stack
 * again: compiled code pushes without a check within a frame, once the
 * call into it made room for the whole frame (CALL_NEED: the frame and
 * two control frames), so every frame on the stack, the running one's
 * and its callers' (each control frame has a frame and its function),
 * keeps its whole extent. NULL if a frame has no function. */
static term *stack_extent(const proc_t *p)
{
    if (!p->func)
        return NULL;
    term *top = p->stack_lo + p->fp + p->func->frame;
    for (const ctl_t *f = p->ctl; (const term *)f < p->stack_hi; f++) {
        if (!f->func)
            return NULL;
        if (f->fp + f->func->frame > top)
            top = f->fp + f->func->frame;
    }
    return top > p->sp ? top : p->sp;
}

int heap_hibernate(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    if (!heap_can_shrink(p))
        return 0;
    /* What lives, in blocks of one page, then two, four...: the heap
     * shrinks to within twice what lives (to one page, if it is small). */
    if (major_gc(rt, pcb, 0, NULL, 0, MIN_HEAP_WORDS, true, NULL) < 0)
        return -1;
    /* If that and the stack fit a chunk of this VM's slabs, the heap and
     * the stack go into one, as a new process's first block: the heap's
     * part exactly what lives, the stack's the rest. */
    size_t used_v = (size_t)(p->sp - p->stack_lo);
    size_t used_c = (size_t)((char *)p->stack_hi - (char *)p->ctl);
    const term *extent = stack_extent(p);
    if (!extent)
        return 0;
    /* every frame's extent and two control frames (stack_extent), in a
     * chunk of whole lines (the process's memory is counted in lines) */
    size_t bytes = sizeof(hblock_t) + (p->live_words + (size_t)(extent - p->stack_lo)) * sizeof(term) +
                   2 * sizeof(ctl_t) + used_c;
    bytes = (bytes + PROC_LINE - 1) / PROC_LINE * PROC_LINE;
    if (p->ofirst || bytes > SLAB_MAX || home_of(rt, p) != rt->node)
        return 0;
    size_t got;
    hblock_t *c = mem_alloc(rt, rt->node, bytes, pcb->slot, &got);
    if (!c)
        return 0; /* an optimisation: the process stays as the collection left it */
    term *top = (term *)((char *)c + got);
    c->next = NULL;
    c->top = hblock_start(c);
    c->end = hblock_start(c) + p->live_words;
    c->node = pool_node_of(rt->h, c);
    c->bytes = (uint32_t)got;
    /* the stack into c's top part, as stack_grow moves it */
    term *lo = c->end;
    ctl_t *ctl = copy_stack(p, lo, top);
    /* The process names c, and its stack there, so that a VM that dies
     * at any step leaves each block named once (heap_release): no stack
     * first (the old one, in the old first block or a block of its own,
     * is then named by nothing, and leaks at worst), then c as the first
     * block, then the stack in it; then the old blocks go. */
    hblock_t *old_c = p->cblock;
    term *old_stack = p->stack_lo;
    bool in_c = stack_in_cblock(p);
    p->stack_lo = NULL;
    ck_pr_fence_store();
    p->cblock = c;
    cblock_acct(rt, p, c, 1);
    p->stack_hi = top;
    p->sp = lo + used_v; /* p->fp is an index: it holds */
    p->ctl = ctl;
    ck_pr_fence_store();
    p->stack_lo = lo;
    ck_pr_fence_store();
    /* The collection left the heap in blocks of the pool: the old first
     * block held the stack alone, if anything. */
    if (old_c) {
        cblock_acct(rt, p, old_c, -1);
        cblock_free(rt, old_c);
    }
    if (!in_c) {
        acct(rt, p, old_stack, -1);
        mem_free(rt, old_stack);
    }
    /* the heap into c's heap part: the first block then holds it, as a
     * new process's does (c is too small for an old generation) */
    return major_gc(rt, pcb, 0, NULL, 0, MIN_HEAP_WORDS, true, c);
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
