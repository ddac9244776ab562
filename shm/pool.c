/*
 * pool.c: the NUMA-partitioned page pool (see pool.h for the interface).
 *
 * Data, all in the shared segment:
 *   descriptors  one 64-bit word per page, {owner (low 32), run (high 32)}:
 *                  free page      run 0, owner POOL_OWNER_FREE
 *                  head of a run  run = pages in the run, owner = its owner
 *                  continuation   run = DESC_CONT | distance back to the head,
 *                                 owner 0 (the head's owner is the truth)
 *                so pool_owner_of is at most two loads, and pool_set_owner
 *                is one store to the head.
 *   free maps    one bit per page, 1 = free, one range of words per node,
 *                derived from the descriptors.
 *   node blocks  per node: lock word, journal, search hint, free count.
 *   VM caches    per VM: up to POOL_CACHE_PAGES single pages of one node.
 *
 * NOTES
 *   Who writes what:
 *   - A node's free map, its hint, its free count, its journal, and the
 *     descriptors of free pages of that node change only under that node's
 *     lock. The lock word is 0 when free, else holder + 1, where holder is a
 *     VM id or POOL_SUPERVISOR. It is taken by CAS 0 -> holder + 1 and
 *     released by a store of 0, so only recovery can take it from a holder
 *     that is dead (CAS holder + 1 -> POOL_SUPERVISOR + 1).
 *   - The head descriptor of an allocated run belongs to the run's user: it
 *     may change its owner (pool_set_owner) without the lock, and gives the
 *     run back with pool_free.
 *   - A VM's cache is touched only by that VM, without a lock. The
 *     supervisor empties it in pool_recover_vm, after the VM is dead.
 *   - Descriptors are read without the lock by pool_owner_of (the garbage
 *     collector, for any pointer), so they are written with single 64-bit
 *     atomic stores: a reader sees a whole old or a whole new descriptor.
 *   Errors: pool_alloc returns NULL with errno (EINVAL, ENOMEM); nothing
 *   here prints.
 *
 * CRASH SAFETY
 *   A VM can die (SIGKILL, a fault) at any instruction. After waitpid, the
 *   supervisor sees a program-order prefix of the dead VM's stores: the CPU
 *   drains retired stores, the kernel's context switch and waitpid order
 *   them before the supervisor's loads, and ck_pr_fence_store (a compiler
 *   barrier on x86, a real fence elsewhere) keeps the compiler from moving
 *   a store across a journal step.
 *
 *   Invariant I: for every node whose lock is free, the journal is empty,
 *   the descriptors are well formed, and the free map and the free count
 *   are exactly what the descriptors say (pool_check tests this).
 *
 *   A locked operation (an allocation of a run, a cache refill, a free):
 *     1 take the lock               [POOL_CRASH_LOCKED]
 *     2 search the free map (reads only)
 *     3 write the journal's range, then op (ALLOC or FREE)
 *                                   [POOL_CRASH_JOURNALED]
 *     4 write the descriptors of the range
 *                                   [POOL_CRASH_DESC_PART, POOL_CRASH_DESC]
 *     5 write the free map bits of the range   [POOL_CRASH_MAP]
 *     6 write the free count                   [POOL_CRASH_COUNT]
 *     7 clear the journal (op NONE)            [POOL_CRASH_CLEARED]
 *     8 release the lock
 *   Everything that step 4-6 changes lies inside the journaled range and
 *   inside this node's free count. By I, before step 3 the range was all
 *   free (ALLOC: the search found it free in a map that matched the
 *   descriptors) or exactly one run (FREE).
 *
 *   What a VM dying at each point leaves, and what pool_recover_vm does:
 *   - Before step 1: nothing of this call. Any run it took earlier is
 *     freed by the owner scan below if the VM owns it.
 *   - After 1, before 3 (lock held, journal empty): nothing changed; I
 *     still holds. Recovery breaks the lock.
 *   - After 3, before 7 (journal names ALLOC or FREE): the range is partly
 *     changed. In both cases the right outcome is "the range is free": an
 *     ALLOC that did not return gave its run to nobody, and a FREE was
 *     asked for by the run's user. Recovery writes every descriptor of the
 *     range as free, sets its free map bits, recounts the node's free count
 *     from its free map, clears the journal and breaks the lock. Outside
 *     the range nothing changed, so I holds again.
 *   - After 7, before 8 (journal empty, lock held): the operation is
 *     complete; I holds. Recovery breaks the lock. An ALLOC finished here
 *     did not return its run: if the run is owned by the VM it is freed by
 *     the owner scan. If it is owned by a process slot, it is one of:
 *       - a run of a process the dead VM owned and was running (its
 *         heap, stack or to-space): the process ends with vm_crash in
 *         the VM's next incarnation (vmproc/recover.c), which frees its
 *         chains; a run the collector had allocated and not yet linked
 *         into one is left over (KNOWN LEAK: at most one run per crash);
 *       - a run of a process the dead VM was spawning (proc_spawn gives
 *         the first block to the new slot before it publishes the
 *         process): the next incarnation frees the CLAIMED slot
 *         (proctab_finish_free) but not the block (KNOWN LEAK: one
 *         slab chunk, or a page, per crash; and a stack or heap block
 *         if the spawn had grown one);
 *       - a message buffer for a receiver on another VM (msg_send
 *         allocates from the sender's VM a run owned by the receiver's
 *         slot, so that a published message is never freed by the
 *         sender's recovery): if the dead VM had not published it, it is
 *         left over, owned by the receiver's slot, for the rest of the
 *         run (KNOWN LEAK: one buffer per crash; vmproc/msg.c).
 *     Freeing these needs a record of the run in flight that recovery
 *     can read (a per-VM journal entry), which the pool does not keep.
 *   Cache paths, no lock:
 *   - Refill is a locked ALLOC of up to POOL_CACHE_REFILL single-page runs
 *     owned by POOL_OWNER_VM(vm); then, after the unlock, the pages are
 *     pushed on the cache [POOL_CRASH_REFILLED between the two].
 *   - A cached allocation pops a page (its descriptor still says the VM
 *     owns it) [POOL_CRASH_CACHE_POP], then stores the new owner.
 *   - A cached free stores owner POOL_OWNER_VM(vm) [POOL_CRASH_CACHE_PUSH],
 *     then pushes the page.
 *   At every point each page is either in a run of its real user or owned
 *   by POOL_OWNER_VM(vm). Recovery empties the dead VM's cache and then
 *   frees, under each node's lock, every run owned by POOL_OWNER_VM(vm):
 *   cached pages, half-pushed and half-popped pages, and the VM's own
 *   buffers. Nothing is lost and nothing stays locked.
 *
 *   Several dead VMs: when the supervisor waits for a lock whose holder the
 *   VM table marks VM_DEAD, it repairs and takes that lock as above, so
 *   recovering one dead VM never waits for another to be recovered.
 *
 *   Crash-test hook: pool_crash_step (0 = off) is compared at each
 *   bracketed point above; when it matches, the process raises SIGKILL on
 *   itself. The check is one load and one predictable branch.
 */
#include "shm/pool.h"

#include "shm/beat.h"
#include "shm/vmtab.h"

#include <ck_pr.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Continuation descriptors carry this bit in `run`; the rest is the
 * distance back to the head. It limits a run and a pool to 2^31 pages
 * (8 TiB), far beyond any configured pool. */
#define DESC_CONT 0x80000000u

enum { JOURNAL_NONE = 0, JOURNAL_ALLOC, JOURNAL_FREE };

typedef struct pool_journal {
    uint32_t op;    /* JOURNAL_*; written last on begin, first on end */
    uint32_t owner; /* owner of the run (for diagnostics) */
    uint32_t first; /* first page (index in the pool) */
    uint32_t pages; /* pages in the range */
} pool_journal_t;

/* Per-node control block. Everything below `lock` is written only by the
 * lock holder; `free` is read by anyone (pool_free_pages). */
typedef struct pool_node {
    uint32_t lock;          /* 0 free, else holder + 1 */
    uint32_t hint;          /* holder: no page is free in the free-map words below this */
    uint64_t free;          /* holder: free pages of the node */
    pool_journal_t journal; /* holder: the operation in progress */
    char pad[SHOAL_CACHE_LINE - 32];
} pool_node_t;

/* Per-VM cache of single pages, all of node `node`. Owner VM only; the
 * supervisor empties it after the VM is dead. */
typedef struct pool_cache {
    uint32_t node;
    uint32_t count;
    uint32_t pages[POOL_CACHE_PAGES]; /* page indices; [count-1] is popped first */
    char pad[3 * SHOAL_CACHE_LINE - 8 - 4 * POOL_CACHE_PAGES];
} pool_cache_t;

/* The reservation for exit signals (pool.h, pool_reserve): its own line,
 * after the VM caches. Any VM adds and takes with atomics. */
typedef struct pool_resv {
    uint64_t reserved; /* pages ordinary allocations must leave free */
    char pad[SHOAL_CACHE_LINE - 8];
} pool_resv_t;

_Static_assert(sizeof(pool_node_t) == SHOAL_CACHE_LINE, "node block is one cache line");
_Static_assert(sizeof(pool_cache_t) % SHOAL_CACHE_LINE == 0, "caches do not share lines");

int pool_crash_step;

/* --- addressing ---------------------------------------------------------- */

static pool_node_t *node_ctl(const shm_header_t *h, uint32_t k)
{
    return (pool_node_t *)shm_at(h, h->layout.pool_ctl_off) + k;
}

static pool_cache_t *vm_cache(const shm_header_t *h, uint32_t vm)
{
    return (pool_cache_t *)(node_ctl(h, h->cfg.n_nodes)) + vm;
}

static pool_resv_t *resv_ctl(const shm_header_t *h)
{
    return (pool_resv_t *)(vm_cache(h, h->cfg.n_vms));
}

/* Free pages of every node (an estimate while others allocate). */
static uint64_t total_free(const shm_header_t *h)
{
    uint64_t n = 0;
    for (uint32_t k = 0; k < h->cfg.n_nodes; k++)
        n += ck_pr_load_64(&node_ctl(h, k)->free);
    return n;
}

/* How many of `want` pages an allocation may take from the free counts
 * and leave the reservation whole, when it may itself use `slack`
 * reserved pages (0: an ordinary allocation; 1: an exit signal's). */
static uint64_t allowed(const shm_header_t *h, uint64_t want, uint64_t slack)
{
    /* Relaxed: the nodes' counts change under their own locks; on one
     * node the caller holds that lock and this is exact, across nodes it
     * is off by at most what other nodes' holders take at this moment. */
    uint64_t r = ck_pr_load_64(&resv_ctl(h)->reserved);
    r = r > slack ? r - slack : 0;
    uint64_t f = total_free(h);
    uint64_t room = f > r ? f - r : 0;
    return room < want ? room : want;
}

static uint64_t *desc_at(const shm_header_t *h, uint64_t page)
{
    return (uint64_t *)shm_at(h, h->layout.pool_desc_off) + page;
}

static uint64_t map_words(const shm_header_t *h)
{
    return h->layout.pages_per_node / 64;
}

static uint64_t *node_map(const shm_header_t *h, uint32_t k)
{
    return (uint64_t *)shm_at(h, h->layout.pool_bitmap_off) + (uint64_t)k * map_words(h);
}

static char *page_addr(const shm_header_t *h, uint64_t page)
{
    return (char *)shm_at(h, h->layout.pool_pages_off) + page * SHOAL_PAGE;
}

static uint64_t page_index(const shm_header_t *h, const void *addr)
{
    return (uint64_t)((const char *)addr - page_addr(h, 0)) / SHOAL_PAGE;
}

static bool has_cache(const shm_header_t *h, uint32_t who)
{
    return who < h->cfg.n_vms;
}

/* --- descriptors --------------------------------------------------------- */

static uint64_t desc_pack(uint32_t owner, uint32_t run)
{
    return (uint64_t)run << 32 | owner;
}

static uint32_t desc_owner(uint64_t d)
{
    return (uint32_t)d;
}

static uint32_t desc_run(uint64_t d)
{
    return (uint32_t)(d >> 32);
}

static uint64_t desc_load(const shm_header_t *h, uint64_t page)
{
    /* Relaxed: a descriptor is one word; readers of pages they do not own
     * (the GC, recovery under the lock) only need a whole value. */
    return ck_pr_load_64(desc_at(h, page));
}

static void desc_store(const shm_header_t *h, uint64_t page, uint64_t d)
{
    /* Relaxed single store: crash order against the journal comes from
     * the fences in journal_begin/journal_end. */
    ck_pr_store_64(desc_at(h, page), d);
}

/* --- crash-test hook ----------------------------------------------------- */

static inline void crash_point(int step)
{
    SHOAL_CRASH_POINT(pool_crash_step, step);
}

/* --- free maps (lock holder only) ---------------------------------------- */

static void map_write(uint64_t *map, uint64_t first, uint64_t n, bool free)
{
    while (n) {
        uint64_t w = first / 64, b = first % 64;
        uint64_t k = 64 - b < n ? 64 - b : n;
        uint64_t mask = k == 64 ? ~0ull : ((1ull << k) - 1) << b;
        if (free)
            map[w] |= mask;
        else
            map[w] &= ~mask;
        first += k;
        n -= k;
    }
}

static bool map_free(const uint64_t *map, uint64_t page)
{
    return (map[page / 64] >> (page % 64)) & 1;
}

static uint64_t map_count(const uint64_t *map, uint64_t words)
{
    uint64_t n = 0;
    for (uint64_t w = 0; w < words; w++)
        n += (uint64_t)__builtin_popcountll(map[w]);
    return n;
}

#define NOT_FOUND UINT64_MAX

/* First run of `n` free bits that starts in words [from, to). Full words
 * (0) and empty words (all ones) cost one test each. */
static uint64_t map_scan(const uint64_t *map, uint64_t from, uint64_t to, uint64_t words,
                         uint64_t n)
{
    uint64_t start = 0, len = 0;
    for (uint64_t w = from; w < words; w++) {
        uint64_t x = map[w];
        if (x == 0) {
            len = 0;
            if (w >= to)
                return NOT_FOUND;
            continue;
        }
        if (x == ~0ull) {
            if (len == 0) {
                if (w >= to)
                    return NOT_FOUND;
                start = w * 64;
            }
            len += 64;
            if (len >= n)
                return start;
            continue;
        }
        unsigned b = 0;
        while (b < 64) {
            uint64_t y = x >> b;
            if (y & 1) {
                /* Bits above 63 - b of y are zero, so ~y is not zero. */
                unsigned ones = (unsigned)__builtin_ctzll(~y);
                if (len == 0) {
                    if (w >= to)
                        return NOT_FOUND;
                    start = w * 64 + b;
                }
                len += ones;
                if (len >= n)
                    return start;
                b += ones;
            } else {
                len = 0;
                if (y == 0)
                    break;
                b += (unsigned)__builtin_ctzll(y);
            }
        }
    }
    return NOT_FOUND;
}

/* A run of `n` free pages of a node's map, first fit: the lowest one.
 * `low` is the node's hint, below which no page is free. Returns the page
 * within the node or NOT_FOUND.
 *
 * Address-ordered first fit keeps long-lived single pages packed at the
 * bottom and the large runs above them. Next fit, which this replaced,
 * spread them: a process that collects often (a new 1 MiB to-space each
 * time) moved the search point 256 pages at a time, and the one-page
 * heaps of 50,000 waiting processes, allocated at that point, ended up
 * every few hundred pages over the whole pool, so that a 4 GiB pool with
 * 3.5 GiB free had no free 1 MiB run left. */
static uint64_t map_find(const uint64_t *map, uint64_t words, uint64_t low, uint64_t n)
{
    return low >= words ? NOT_FOUND : map_scan(map, low, words, words, n);
}

/* After an allocation: move the hint past the words that are now full. */
static void hint_skip_full(pool_node_t *nd, const uint64_t *map, uint64_t words)
{
    uint64_t w = nd->hint;
    while (w < words && map[w] == 0)
        w++;
    nd->hint = (uint32_t)w;
}

/* First used page at or after `page`, or `end`. */
static uint64_t map_next_used(const uint64_t *map, uint64_t page, uint64_t end)
{
    while (page < end) {
        uint64_t used = ~map[page / 64] >> (page % 64);
        if (used)
            return page + (uint64_t)__builtin_ctzll(used);
        page = (page / 64 + 1) * 64;
    }
    return end;
}

/* --- locks and journal --------------------------------------------------- */

static void recover_node(shm_header_t *h, uint32_t k);

/* Supervisor only: true if `holder` (lock word) is a VM that is dead. */
static bool holder_dead(const shm_header_t *h, uint32_t word)
{
    uint32_t holder = word - 1;
    if (word == 0 || holder >= SHOAL_MAX_VMS)
        return false;
    /* Relaxed: the supervisor itself wrote VM_DEAD, after waitpid. */
    return ck_pr_load_32(&shm_vm(h, holder)->state) == VM_DEAD;
}

static void lock_node(shm_header_t *h, uint32_t k, uint32_t who)
{
    pool_node_t *nd = node_ctl(h, k);
    unsigned spins = 1;
    SHOAL_ASSERT(who <= POOL_SUPERVISOR, "pool lock taken by an unknown caller");
    while (!ck_pr_cas_32(&nd->lock, 0, who + 1)) {
        uint32_t word;
        while ((word = ck_pr_load_32(&nd->lock)) != 0) {
            if (who == POOL_SUPERVISOR && holder_dead(h, word) &&
                ck_pr_cas_32(&nd->lock, word, who + 1)) {
                /* A dead VM's lock: repair its journal; the lock is ours. */
                ck_pr_fence_lock();
                recover_node(h, k);
                return;
            }
            if (spins < 1024) {
                for (unsigned i = 0; i < spins; i++)
                    ck_pr_stall();
                spins <<= 1;
            } else {
                /* The holder may be descheduled, or dead until the
                 * supervisor notices: stop burning its CPU. And beat:
                 * waiting on a holder that is stuck is not our stall (the
                 * supervisor kills the holder, whose own heartbeat
                 * stopped, and breaks its lock). */
                vm_beat();
                sched_yield();
            }
        }
    }
    /* Acquire: the previous holder's writes, made before its release
     * store of 0, are visible from here on. */
    ck_pr_fence_lock();
}

static void unlock_node(pool_node_t *nd)
{
    /* Release: every write made under the lock is visible before the lock
     * reads free. */
    ck_pr_fence_unlock();
    ck_pr_store_32(&nd->lock, 0);
}

static void journal_begin(pool_node_t *nd, uint32_t op, uint64_t first, uint64_t n,
                          uint32_t owner)
{
    nd->journal.first = (uint32_t)first;
    nd->journal.pages = (uint32_t)n;
    nd->journal.owner = owner;
    /* Store-store: the range is complete before op says it is valid. */
    ck_pr_fence_store();
    ck_pr_store_32(&nd->journal.op, op);
    /* Store-store: op is set before the first change that it covers. */
    ck_pr_fence_store();
    crash_point(POOL_CRASH_JOURNALED);
}

static void journal_end(pool_node_t *nd)
{
    crash_point(POOL_CRASH_COUNT);
    /* Store-store: every change of the range precedes the clear. */
    ck_pr_fence_store();
    ck_pr_store_32(&nd->journal.op, JOURNAL_NONE);
    ck_pr_fence_store();
    crash_point(POOL_CRASH_CLEARED);
}

static void count_add(pool_node_t *nd, int64_t delta)
{
    /* Relaxed: only the holder writes it; readers want an estimate. */
    ck_pr_store_64(&nd->free, nd->free + (uint64_t)delta);
}

/* --- locked operations (caller holds node k's lock) ---------------------- */

/* Mark pages [first, first + n) allocated to `owner`: one run, or (singles)
 * n runs of one page each, for a cache refill. */
static void commit_alloc(shm_header_t *h, uint32_t k, uint64_t first, uint64_t n,
                         uint32_t owner, bool singles)
{
    pool_node_t *nd = node_ctl(h, k);
    journal_begin(nd, JOURNAL_ALLOC, first, n, owner);
    if (singles) {
        for (uint64_t i = 0; i < n; i++) {
            if (i == n / 2)
                crash_point(POOL_CRASH_DESC_PART);
            desc_store(h, first + i, desc_pack(owner, 1));
        }
    } else {
        for (uint64_t i = 1; i < n; i++)
            desc_store(h, first + i, desc_pack(0, DESC_CONT | (uint32_t)i));
        crash_point(POOL_CRASH_DESC_PART);
        desc_store(h, first, desc_pack(owner, (uint32_t)n));
    }
    crash_point(POOL_CRASH_DESC);
    map_write(node_map(h, k), first - (uint64_t)k * h->layout.pages_per_node, n, false);
    crash_point(POOL_CRASH_MAP);
    count_add(nd, -(int64_t)n);
    journal_end(nd);
}

/* Free the run of n pages at `first`. The head goes first, so that from
 * then on no scan sees the run. */
static void commit_free(shm_header_t *h, uint32_t k, uint64_t first, uint64_t n, uint32_t owner)
{
    pool_node_t *nd = node_ctl(h, k);
    journal_begin(nd, JOURNAL_FREE, first, n, owner);
    desc_store(h, first, desc_pack(POOL_OWNER_FREE, 0));
    crash_point(POOL_CRASH_DESC_PART);
    for (uint64_t i = 1; i < n; i++)
        desc_store(h, first + i, desc_pack(POOL_OWNER_FREE, 0));
    crash_point(POOL_CRASH_DESC);
    map_write(node_map(h, k), first - (uint64_t)k * h->layout.pages_per_node, n, true);
    crash_point(POOL_CRASH_MAP);
    count_add(nd, (int64_t)n);
    journal_end(nd);
    /* Keep the hint at or below the lowest free word. First fit also
     * reuses freed pages before untouched ones: a pool that cycles through
     * fresh pages pays a page fault per page (a message-heavy run did,
     * 1.5 s of system time for 100,000 messages), one that reuses them
     * stays in the cache. */
    uint32_t word = (uint32_t)((first - (uint64_t)k * h->layout.pages_per_node) / 64);
    if (word < nd->hint)
        nd->hint = word;
}

/* Recovery of node k, whose lock the caller took over from a dead holder:
 * whatever the journal names becomes free (see CRASH SAFETY above). */
static void recover_node(shm_header_t *h, uint32_t k)
{
    pool_node_t *nd = node_ctl(h, k);
    uint64_t ppn = h->layout.pages_per_node;
    uint64_t *map = node_map(h, k);
    if (ck_pr_load_32(&nd->journal.op) != JOURNAL_NONE) {
        uint64_t first = nd->journal.first, n = nd->journal.pages;
        uint64_t base = (uint64_t)k * ppn;
        SHOAL_ASSERT(first >= base && n <= ppn && first - base <= ppn - n,
                     "pool journal range outside its node");
        if (first >= base && n <= ppn && first - base <= ppn - n) {
            for (uint64_t i = 0; i < n; i++)
                desc_store(h, first + i, desc_pack(POOL_OWNER_FREE, 0));
            map_write(map, first - base, n, true);
        }
    }
    /* The dead holder may have freed pages and died before it lowered
     * the hint: search from the bottom again. */
    nd->hint = 0;
    /* Relaxed: we hold the lock; the unlock publishes it. */
    ck_pr_store_64(&nd->free, map_count(map, map_words(h)));
    ck_pr_fence_store();
    ck_pr_store_32(&nd->journal.op, JOURNAL_NONE);
}

/* --- allocation ---------------------------------------------------------- */

static void *alloc_on(shm_header_t *h, uint32_t who, uint32_t k, uint64_t n, uint32_t owner,
                      uint64_t slack)
{
    pool_node_t *nd = node_ctl(h, k);
    /* Relaxed: a stale count only makes us look (or not) at a node that
     * is racing with others anyway. */
    if (ck_pr_load_64(&nd->free) < n)
        return NULL;
    lock_node(h, k, who);
    crash_point(POOL_CRASH_LOCKED);
    if (allowed(h, n, slack) < n) {
        unlock_node(nd);
        return NULL;
    }
    uint64_t words = map_words(h);
    uint64_t local = map_find(node_map(h, k), words, nd->hint, n);
    if (local == NOT_FOUND) {
        unlock_node(nd);
        return NULL;
    }
    uint64_t first = (uint64_t)k * h->layout.pages_per_node + local;
    commit_alloc(h, k, first, n, owner, false);
    hint_skip_full(nd, node_map(h, k), words);
    unlock_node(nd);
    return page_addr(h, first);
}

/* Fill VM `vm`'s empty cache with up to POOL_CACHE_REFILL pages of node
 * k: the first free page from the hint and the free pages right after it,
 * so one journal entry covers them. False if the node has no free page. */
static bool cache_refill(shm_header_t *h, uint32_t vm, uint32_t k, uint64_t slack)
{
    pool_node_t *nd = node_ctl(h, k);
    pool_cache_t *c = vm_cache(h, vm);
    if (ck_pr_load_64(&nd->free) == 0)
        return false;
    lock_node(h, k, vm);
    crash_point(POOL_CRASH_LOCKED);
    /* Cached pages count as taken: a refill leaves the reservation free */
    uint64_t most = allowed(h, POOL_CACHE_REFILL, slack);
    if (most == 0) {
        unlock_node(nd);
        return false;
    }
    uint64_t *map = node_map(h, k);
    uint64_t ppn = h->layout.pages_per_node;
    uint64_t local = map_find(map, map_words(h), nd->hint, 1);
    if (local == NOT_FOUND) {
        unlock_node(nd);
        return false;
    }
    uint64_t n = 1;
    while (n < most && local + n < ppn && map_free(map, local + n))
        n++;
    uint64_t first = (uint64_t)k * ppn + local;
    commit_alloc(h, k, first, n, POOL_OWNER_VM(vm), true);
    hint_skip_full(nd, map, map_words(h));
    unlock_node(nd);
    crash_point(POOL_CRASH_REFILLED);
    /* Lowest page on top, so that a VM allocates upwards. */
    for (uint64_t i = 0; i < n; i++)
        c->pages[i] = (uint32_t)(first + n - 1 - i);
    c->node = k;
    c->count = (uint32_t)n;
    return true;
}

static void *cache_alloc(shm_header_t *h, uint32_t vm, uint32_t k, uint32_t owner, uint64_t slack)
{
    pool_cache_t *c = vm_cache(h, vm);
    if (c->count > 0 && c->node != k)
        return NULL;
    if (c->count == 0 && !cache_refill(h, vm, k, slack))
        return NULL;
    uint32_t page = c->pages[--c->count];
    crash_point(POOL_CRASH_CACHE_POP);
    desc_store(h, page, desc_pack(owner, 1));
    return page_addr(h, page);
}

static bool cache_free(shm_header_t *h, uint32_t vm, uint64_t page)
{
    pool_cache_t *c = vm_cache(h, vm);
    uint32_t k = (uint32_t)(page / h->layout.pages_per_node);
    if (c->count == POOL_CACHE_PAGES || (c->count > 0 && c->node != k))
        return false;
#ifdef SHOAL_DEBUG
    /* A page freed twice in a row is cached twice, and then handed out
     * twice: its descriptor (this VM's, one page) cannot tell. */
    for (uint32_t i = 0; i < c->count; i++)
        SHOAL_ASSERT(c->pages[i] != (uint32_t)page, "pool_free of a page already in the cache");
#endif
    desc_store(h, page, desc_pack(POOL_OWNER_VM(vm), 1));
    crash_point(POOL_CRASH_CACHE_PUSH);
    c->pages[c->count] = (uint32_t)page;
    c->node = k;
    c->count++;
    return true;
}

static void free_locked(shm_header_t *h, uint32_t who, uint64_t page)
{
    uint32_t k = (uint32_t)(page / h->layout.pages_per_node);
    pool_node_t *nd = node_ctl(h, k);
    lock_node(h, k, who);
    crash_point(POOL_CRASH_LOCKED);
    uint64_t d = desc_load(h, page);
    commit_free(h, k, page, desc_run(d), desc_owner(d));
    unlock_node(nd);
}

/* --- interface ----------------------------------------------------------- */

uint64_t pool_ctl_bytes(const shm_config_t *cfg)
{
    return (uint64_t)cfg->n_nodes * sizeof(pool_node_t) +
           (uint64_t)cfg->n_vms * sizeof(pool_cache_t) + sizeof(pool_resv_t);
}

void pool_init(shm_header_t *h)
{
    /* The descriptors need no writing: a fresh memfd reads as zeros, which
     * is "free", and leaving them untouched costs no memory. */
    SHOAL_ASSERT(h->layout.pool_pages < DESC_CONT, "pool too large for its descriptors");
    memset(shm_at(h, h->layout.pool_ctl_off), 0, pool_ctl_bytes(&h->cfg));
    for (uint32_t k = 0; k < h->cfg.n_nodes; k++) {
        memset(node_map(h, k), 0xff, map_words(h) * sizeof(uint64_t));
        node_ctl(h, k)->free = h->layout.pages_per_node;
    }
}

static void *alloc(shm_header_t *h, uint32_t who, uint32_t node, size_t pages, uint32_t owner,
                   uint64_t slack)
{
    uint32_t nodes = h->cfg.n_nodes;
    if (pages == 0 || node >= nodes || owner == POOL_OWNER_FREE || who > POOL_SUPERVISOR) {
        errno = EINVAL;
        return NULL;
    }
    if (pages > h->layout.pages_per_node) {
        errno = ENOMEM;
        return NULL;
    }
    if (pages == 1 && has_cache(h, who)) {
        void *p = cache_alloc(h, who, node, owner, slack);
        if (p)
            return p;
    }
    for (int round = 0; round < 2; round++) {
        /* Nearest index first: node, node+1, node-1, node+2, ... */
        for (uint32_t i = 0; i < 2 * nodes; i++) {
            uint32_t dist = (i + 1) / 2;
            int64_t k = (i & 1) ? (int64_t)node + dist : (int64_t)node - dist;
            if (k < 0 || k >= nodes)
                continue;
            void *p = alloc_on(h, who, (uint32_t)k, pages, owner, slack);
            if (p)
                return p;
        }
        /* Our own cached pages may be what is missing. */
        if (!has_cache(h, who) || vm_cache(h, who)->count == 0)
            break;
        pool_cache_drain(h, who);
    }
    errno = ENOMEM;
    return NULL;
}

void *pool_alloc(shm_header_t *h, uint32_t who, uint32_t node, size_t pages, uint32_t owner)
{
    return alloc(h, who, node, pages, owner, 0);
}

int pool_reserve(shm_header_t *h, uint64_t pages)
{
    uint64_t *r = &resv_ctl(h)->reserved;
    for (;;) {
        uint64_t cur = ck_pr_load_64(r);
        /* Relaxed reads of the free counts: an estimate, as for any
         * allocation racing with others on other nodes. */
        if (total_free(h) < cur + pages) {
            errno = ENOMEM;
            return -1;
        }
        if (ck_pr_cas_64(r, cur, cur + pages))
            return 0;
    }
}

void pool_unreserve(shm_header_t *h, uint64_t pages)
{
    uint64_t *r = &resv_ctl(h)->reserved;
    uint64_t cur;
    /* Saturating: a process whose VM died may give back a reservation its
     * predecessor already used (recovery redoes the exit signals); the
     * count then errs low, which only lets ordinary allocations use a
     * page or two more. */
    do {
        cur = ck_pr_load_64(r);
    } while (!ck_pr_cas_64(r, cur, cur >= pages ? cur - pages : 0));
}

bool pool_can_spare(const shm_header_t *h, uint64_t pages)
{
    return allowed(h, pages, 0) == pages;
}

uint64_t pool_reserved(const shm_header_t *h)
{
    return ck_pr_load_64(&resv_ctl(h)->reserved);
}

void *pool_alloc_reserved(shm_header_t *h, uint32_t who, uint32_t node, size_t pages,
                          uint32_t owner)
{
    return alloc(h, who, node, pages, owner, 1);
}

void pool_free(shm_header_t *h, uint32_t who, void *run)
{
    SHOAL_ASSERT(who <= POOL_SUPERVISOR, "pool_free by an unknown caller");
    if (!run || who > POOL_SUPERVISOR)
        return; /* leaking beats a lock word that wraps to "free" */
    SHOAL_ASSERT(pool_contains(h, run), "pool_free of memory outside the pool");
    uint64_t page = page_index(h, run);
    uint32_t n = desc_run(desc_load(h, page));
    SHOAL_ASSERT(n != 0 && !(n & DESC_CONT) && (const char *)run == page_addr(h, page),
                 "pool_free of an address that does not start a run");
    if (n == 0 || (n & DESC_CONT))
        return;
    if (n == 1 && has_cache(h, who) && cache_free(h, who, page))
        return;
    free_locked(h, who, page);
}

void pool_set_owner(shm_header_t *h, void *run, uint32_t owner)
{
    uint64_t page = page_index(h, run);
    uint32_t n = desc_run(desc_load(h, page));
    SHOAL_ASSERT(n != 0 && !(n & DESC_CONT), "pool_set_owner of a non-run");
    SHOAL_ASSERT(owner != POOL_OWNER_FREE, "pool_set_owner to free; use pool_free");
    if (n == 0 || (n & DESC_CONT) || owner == POOL_OWNER_FREE)
        return;
    desc_store(h, page, desc_pack(owner, n));
}

uint32_t pool_owner_of(const shm_header_t *h, const void *addr)
{
    uint64_t page = page_index(h, addr);
    uint64_t d = desc_load(h, page);
    uint32_t run = desc_run(d);
    if (run & DESC_CONT)
        d = desc_load(h, page - (run & ~DESC_CONT));
    return desc_owner(d);
}

void *pool_run_of(const shm_header_t *h, const void *addr, uint32_t *owner)
{
    uint64_t page = page_index(h, addr);
    uint64_t d = desc_load(h, page);
    uint32_t run = desc_run(d);
    if (run & DESC_CONT) {
        page -= run & ~DESC_CONT;
        d = desc_load(h, page);
    }
    *owner = desc_owner(d);
    return page_addr(h, page);
}

bool pool_contains(const shm_header_t *h, const void *addr)
{
    const char *p = addr, *lo = page_addr(h, 0);
    return p >= lo && p < lo + h->layout.pool_pages * SHOAL_PAGE;
}

uint32_t pool_node_of(const shm_header_t *h, const void *addr)
{
    return (uint32_t)(page_index(h, addr) / h->layout.pages_per_node);
}

size_t pool_run_pages(const shm_header_t *h, const void *run)
{
    uint32_t n = desc_run(desc_load(h, page_index(h, run)));
    return (n & DESC_CONT) ? 0 : n;
}

void pool_node_range(const shm_header_t *h, uint32_t node, void **addr, size_t *bytes)
{
    uint64_t ppn = h->layout.pages_per_node;
    *addr = page_addr(h, (uint64_t)node * ppn);
    *bytes = ppn * SHOAL_PAGE;
}

uint64_t pool_free_pages(const shm_header_t *h, uint32_t node)
{
    /* Relaxed: an estimate by contract. */
    return ck_pr_load_64(&node_ctl(h, node)->free);
}

uint32_t pool_lock_holder(const shm_header_t *h, uint32_t node)
{
    /* Relaxed: a snapshot for tests and diagnostics. */
    uint32_t word = ck_pr_load_32(&node_ctl(h, node)->lock);
    return word ? word - 1 : POOL_NOBODY;
}

void pool_cache_drain(shm_header_t *h, uint32_t vm)
{
    if (vm > POOL_SUPERVISOR || !has_cache(h, vm))
        return;
    pool_cache_t *c = vm_cache(h, vm);
    while (c->count > 0) {
        /* Still owned by the VM while it is in neither place: a crash
         * here leaves it to pool_recover_vm. */
        uint32_t page = c->pages[--c->count];
        free_locked(h, vm, page);
    }
}

/* Node by node under the lock, call visit for every run whose owner
 * `match` names, taking the locks as `who`; visit may free the run
 * (commit_free) but nothing else. */
typedef struct walk {
    bool (*match)(uint32_t owner, void *ctx);
    void *ctx;
    bool free;  /* free the matching runs */
    void (*fn)(void *ctx, void *run, size_t pages); /* else: call this */
} walk_t;

static size_t walk_runs(shm_header_t *h, uint32_t who, const walk_t *wk)
{
    uint64_t ppn = h->layout.pages_per_node;
    size_t found = 0;
    for (uint32_t k = 0; k < h->cfg.n_nodes; k++) {
        pool_node_t *nd = node_ctl(h, k);
        const uint64_t *map = node_map(h, k);
        uint64_t base = (uint64_t)k * ppn;
        lock_node(h, k, who);
        for (uint64_t l = map_next_used(map, 0, ppn); l < ppn;) {
            uint64_t d = desc_load(h, base + l);
            uint32_t run = desc_run(d), owner = desc_owner(d);
            if (run == 0 || (run & DESC_CONT) || run > ppn - l) {
                SHOAL_ASSERT(false, "pool free map says used, descriptor says not a run");
                l = map_next_used(map, l + 1, ppn);
                continue;
            }
            if (owner != POOL_OWNER_FREE && wk->match(owner, wk->ctx)) {
                if (wk->free)
                    commit_free(h, k, base + l, run, owner);
                else
                    wk->fn(wk->ctx, page_addr(h, base + l), run);
                found++;
            }
            l = map_next_used(map, l + run, ppn);
        }
        unlock_node(nd);
    }
    return found;
}

/* Free, node by node under the lock, every run whose owner `dead` names. */
static size_t free_matching(shm_header_t *h, uint32_t who, bool (*dead)(uint32_t, void *),
                            void *ctx)
{
    walk_t wk = {dead, ctx, true, NULL};
    return walk_runs(h, who, &wk);
}

/* pool_scan's context: the owner to match, and the caller's visitor. */
typedef struct scan_ctx {
    uint32_t owner;
    void (*fn)(void *ctx, void *run, size_t pages);
    void *ctx;
} scan_ctx_t;

static bool scan_match(uint32_t owner, void *ctx)
{
    return owner == ((scan_ctx_t *)ctx)->owner;
}

static void scan_visit(void *ctx, void *run, size_t pages)
{
    scan_ctx_t *sc = ctx;
    sc->fn(sc->ctx, run, pages);
}

void pool_scan(shm_header_t *h, uint32_t who, uint32_t owner,
               void (*fn)(void *ctx, void *run, size_t pages), void *ctx)
{
    scan_ctx_t sc = {owner, fn, ctx};
    walk_t wk = {scan_match, &sc, false, scan_visit};
    walk_runs(h, who, &wk);
}

static bool owned_by_vm(uint32_t owner, void *ctx)
{
    return owner == POOL_OWNER_VM(*(uint32_t *)ctx);
}

void pool_break_locks(shm_header_t *h, uint32_t vm)
{
    if (vm >= SHOAL_MAX_VMS)
        return;
    for (uint32_t k = 0; k < h->cfg.n_nodes; k++) {
        pool_node_t *nd = node_ctl(h, k);
        /* The VM is dead: nobody else CASes a held lock, so this CAS only
         * fails if the VM did not hold it. */
        if (ck_pr_cas_32(&nd->lock, vm + 1, POOL_SUPERVISOR + 1)) {
            ck_pr_fence_lock();
            recover_node(h, k);
            unlock_node(nd);
        }
    }
}

void pool_reclaim_vm(shm_header_t *h, uint32_t vm)
{
    if (vm >= SHOAL_MAX_VMS || !has_cache(h, vm))
        return;
    vm_cache(h, vm)->count = 0; /* its pages are the VM's: freed next */
    uint32_t id = vm;
    free_matching(h, vm, owned_by_vm, &id);
}

void pool_recover_vm(shm_header_t *h, uint32_t vm)
{
    if (vm >= SHOAL_MAX_VMS)
        return;
    pool_break_locks(h, vm);
    if (has_cache(h, vm))
        vm_cache(h, vm)->count = 0;
    uint32_t id = vm;
    free_matching(h, POOL_SUPERVISOR, owned_by_vm, &id);
}

size_t pool_reclaim(shm_header_t *h, bool (*dead)(uint32_t owner, void *ctx), void *ctx)
{
    return free_matching(h, POOL_SUPERVISOR, dead, ctx);
}

/* --- checking ------------------------------------------------------------ */

static int fail(char *why, size_t len, const char *fmt, unsigned k, unsigned long long page)
{
    if (why && len)
        snprintf(why, len, fmt, k, page);
    errno = EUCLEAN;
    return -1;
}

static int check_node(const shm_header_t *h, uint32_t k, char *why, size_t len)
{
    const pool_node_t *nd = node_ctl(h, k);
    const uint64_t *map = node_map(h, k);
    uint64_t ppn = h->layout.pages_per_node, base = (uint64_t)k * ppn, free = 0;
    if (ck_pr_load_32(&nd->journal.op) != JOURNAL_NONE)
        return fail(why, len, "node %u: journal not empty (page %llu)", k, nd->journal.first);
    for (uint64_t l = 0; l < ppn;) {
        uint64_t d = desc_load(h, base + l);
        uint32_t run = desc_run(d);
        if (run == 0) {
            if (desc_owner(d) != POOL_OWNER_FREE)
                return fail(why, len, "node %u: free page %llu has an owner", k, base + l);
            if (!map_free(map, l))
                return fail(why, len, "node %u: free page %llu marked used", k, base + l);
            if (l / 64 < nd->hint)
                return fail(why, len, "node %u: free page %llu below the search hint", k,
                            base + l);
            free++;
            l++;
            continue;
        }
        if ((run & DESC_CONT) || run > ppn - l)
            return fail(why, len, "node %u: page %llu: stray continuation or overlong run", k,
                        base + l);
        if (desc_owner(d) == POOL_OWNER_FREE)
            return fail(why, len, "node %u: run at page %llu has no owner", k, base + l);
        for (uint64_t i = 0; i < run; i++) {
            if (i > 0 && desc_load(h, base + l + i) != desc_pack(0, DESC_CONT | (uint32_t)i))
                return fail(why, len, "node %u: bad continuation at page %llu", k,
                            base + l + i);
            if (map_free(map, l + i))
                return fail(why, len, "node %u: used page %llu marked free", k, base + l + i);
        }
        l += run;
    }
    if (free != ck_pr_load_64(&nd->free))
        return fail(why, len, "node %u: free count wrong (%llu free pages)", k, free);
    return 0;
}

int pool_check(const shm_header_t *h, char *why, size_t why_len)
{
    uint64_t ppn = h->layout.pages_per_node;
    for (uint32_t k = 0; k < h->cfg.n_nodes; k++) {
        if (pool_lock_holder(h, k) != POOL_NOBODY)
            continue;
        if (check_node(h, k, why, why_len) < 0)
            return -1;
    }
    uint8_t *seen = calloc(h->layout.pool_pages / 8 + 1, 1);
    if (!seen) {
        errno = ENOMEM;
        return -1;
    }
    int rc = 0;
    for (uint32_t vm = 0; vm < h->cfg.n_vms && rc == 0; vm++) {
        const pool_cache_t *c = vm_cache(h, vm);
        if (c->count > POOL_CACHE_PAGES) {
            rc = fail(why, why_len, "vm %u: cache count %llu too large", vm, c->count);
            break;
        }
        for (uint32_t i = 0; i < c->count && rc == 0; i++) {
            uint64_t p = c->pages[i];
            if (p >= h->layout.pool_pages || p / ppn != c->node)
                rc = fail(why, why_len, "vm %u: cached page %llu off its node", vm, p);
            else if (desc_load(h, p) != desc_pack(POOL_OWNER_VM(vm), 1))
                rc = fail(why, why_len, "vm %u: cached page %llu not owned by it", vm, p);
            else if (seen[p / 8] & (1u << (p % 8)))
                rc = fail(why, why_len, "vm %u: page %llu cached twice", vm, p);
            else
                seen[p / 8] |= (uint8_t)(1u << (p % 8));
        }
    }
    free(seen);
    return rc;
}
