/*
 * pool.h: the NUMA-partitioned page pool of the shared segment.
 *
 * Heaps, stacks and message buffers are runs of 4 KiB pages taken from the
 * pool. Each NUMA node owns one contiguous range of pages and one free map;
 * an allocation asks for a node and falls back to the other nodes, nearest
 * index first, only when that node is exhausted.
 *
 * Every page has a descriptor. The descriptor of a run records who owns the
 * run: nobody (free), a VM (POOL_OWNER_VM: the VM's page cache, a GC
 * to-space in the making, a message buffer being filled), or a process slot
 * (POOL_OWNER_PROC: its heap, stack and delivered message buffers). The
 * owner of a process run is the process, not a VM, so handing a process to
 * another VM changes nothing here: migration is O(1) in heap size.
 *
 * NOTES (crash safety; the full argument is in pool.c's header comment)
 *   Descriptors are the truth; each node's free map is derived from them.
 *   A node's free map is changed only under that node's lock, a word that
 *   holds the id of the holder (a VM id, or POOL_SUPERVISOR), and the
 *   holder writes a journal entry before it changes anything. If a VM dies
 *   while it holds the lock, pool_recover_vm (supervisor only, after
 *   waitpid) replays or undoes the journal, releases the lock, and frees
 *   every run owned by POOL_OWNER_VM(dead VM). So a VM that dies in the
 *   middle of a call loses nothing and blocks nobody for longer than the
 *   supervisor takes to notice.
 *   Each VM keeps a small cache of single pages (owner: that VM) so that
 *   the common one-page allocation takes no lock.
 */
#ifndef SHOAL_SHM_POOL_H
#define SHOAL_SHM_POOL_H

#include "shm/segment.h"

#define POOL_OWNER_FREE 0u
#define POOL_OWNER_VM(v) (0x40000000u | (uint32_t)(v))
#define POOL_OWNER_PROC(slot) (0x80000000u | (uint32_t)(slot))
#define POOL_OWNER_IS_VM(o) (((o) & 0xc0000000u) == 0x40000000u)
#define POOL_OWNER_IS_PROC(o) (((o) & 0x80000000u) != 0)
#define POOL_OWNER_INDEX(o) ((o) & 0x3fffffffu)

/* Owners of runs that belong to no VM and no process: shared structures
 * that outlive the VMs filling them (the shared tables' blocks, arrays and
 * slabs). `k` names the structure. No recovery frees them. */
#define POOL_OWNER_SHARED(k) POOL_OWNER_VM(SHOAL_MAX_VMS + 1u + (k))

/* Caller id of the supervisor, for the `who` arguments below. */
#define POOL_SUPERVISOR ((uint32_t)SHOAL_MAX_VMS)

/* Bytes of one page descriptor, and of the pool's control area (per-node
 * lists and journals, per-VM caches); the segment layout uses both. */
#define POOL_DESC_BYTES 8u
uint64_t pool_ctl_bytes(const shm_config_t *cfg);

/* Initialise the pool of a freshly created segment (shm_create calls it). */
void pool_init(shm_header_t *h);

/* Allocate a run of `pages` contiguous pages, preferably on `node`, owned by
 * `owner`, on behalf of caller `who` (a VM id or POOL_SUPERVISOR). Returns
 * NULL with errno ENOMEM when no node has such a run. The pages are not
 * zeroed. */
void *pool_alloc(shm_header_t *h, uint32_t who, uint32_t node, size_t pages, uint32_t owner);

/* Reservations for exit signals. A process's exit signals (EXIT to its
 * links, DOWN to its watchers) must be delivered whatever the pool's
 * state, so the pages they need are reserved when the link or monitor is
 * made (vmproc/msg.c, "Reservations"): pool_reserve sets `pages` aside
 * (-1, ENOMEM, if the pool cannot spare them), and from then on ordinary
 * allocations leave that many pages free. pool_alloc_reserved allocates a
 * run of `pages` that may use one reserved page (the others must be
 * unreserved); once that page is in use for good the caller gives its
 * reservation up with pool_unreserve, which also gives back what will not
 * be used. Any VM. */
int pool_reserve(shm_header_t *h, uint64_t pages);
void pool_unreserve(shm_header_t *h, uint64_t pages);
void *pool_alloc_reserved(shm_header_t *h, uint32_t who, uint32_t node, size_t pages,
                          uint32_t owner);
uint64_t pool_reserved(const shm_header_t *h);

/* Whether an ordinary allocation of `pages` pages would find room now,
 * over all nodes (an estimate while others allocate). */
bool pool_can_spare(const shm_header_t *h, uint64_t pages);

/* Give a run back. `run` is what pool_alloc returned. */
void pool_free(shm_header_t *h, uint32_t who, void *run);

/* Change the owner of a whole run, e.g. a to-space becoming the heap. */
void pool_set_owner(shm_header_t *h, void *run, uint32_t owner);

/* Owner of the run that contains `addr`, or POOL_OWNER_FREE; the address
 * must be inside the pool (pool_contains). */
uint32_t pool_owner_of(const shm_header_t *h, const void *addr);
bool pool_contains(const shm_header_t *h, const void *addr);
uint32_t pool_node_of(const shm_header_t *h, const void *addr);
size_t pool_run_pages(const shm_header_t *h, const void *run);

/* The start of the allocated run that contains `addr` (inside the pool),
 * and its owner in *owner: two loads, no lock. Only meaningful while the
 * caller knows the run stays allocated. */
void *pool_run_of(const shm_header_t *h, const void *addr, uint32_t *owner);

/* Recovery (a dead VM's next incarnation, or the supervisor in tests),
 * or while nobody allocates: call fn for every run owned by `owner`, node
 * by node under the node's lock, taken as `who` (so fn must not allocate
 * or free from the pool). */
void pool_scan(shm_header_t *h, uint32_t who, uint32_t owner,
               void (*fn)(void *ctx, void *run, size_t pages), void *ctx);

/* The address range of a node's pages (the supervisor binds it there). */
void pool_node_range(const shm_header_t *h, uint32_t node, void **addr, size_t *bytes);

/* Free pages of one node (approximate while others allocate). */
uint64_t pool_free_pages(const shm_header_t *h, uint32_t node);

/* Supervisor only, after VM `vm` is known dead: break its lock, repair the
 * journal, free its cache and every run it owned. Call it before the VM is
 * restarted. A node lock held by another VM that the VM table already marks
 * VM_DEAD (set only after waitpid) is broken and repaired the same way when
 * the supervisor needs it, so several dead VMs can be recovered in any
 * order without blocking. */
void pool_recover_vm(shm_header_t *h, uint32_t vm);

/* After VM `vm` died. pool_break_locks, by the supervisor: break the node
 * locks it held and repair their journals, waiting on nobody.
 * pool_reclaim_vm, by the VM's next incarnation (with the ordinary
 * locks): empty its page cache and free every run POOL_OWNER_VM(vm) owns
 * (cached pages, half-done allocations, a to-space in the making, an
 * unpublished message buffer). pool_recover_vm (tests) does both. */
void pool_break_locks(shm_header_t *h, uint32_t vm);
void pool_reclaim_vm(shm_header_t *h, uint32_t vm);

/* Supervisor only, during recovery: free every run whose owner `dead`
 * says is dead (processes lost with a VM). Returns the runs freed. */
size_t pool_reclaim(shm_header_t *h, bool (*dead)(uint32_t owner, void *ctx), void *ctx);

/* A VM's cache holds at most POOL_CACHE_PAGES single pages, all of one
 * node, and takes POOL_CACHE_REFILL at a time under the node's lock. Cached
 * pages count as allocated, so pool_free_pages is low by at most
 * n_vms * POOL_CACHE_PAGES over all nodes. */
#define POOL_CACHE_PAGES 32u
#define POOL_CACHE_REFILL 16u

/* Owner VM only: give the pages of VM `vm`'s cache back to their node (a
 * VM that stops cleanly; a dead VM's cache is freed by pool_recover_vm). */
void pool_cache_drain(shm_header_t *h, uint32_t vm);

/* Who holds `node`'s lock now: a VM id, POOL_SUPERVISOR, or POOL_NOBODY. */
#define POOL_NOBODY UINT32_MAX
uint32_t pool_lock_holder(const shm_header_t *h, uint32_t node);

/* Debug builds and tests, while nobody allocates: check that every node
 * whose lock is free has an empty journal, well-formed descriptors, a free
 * map and free count derived from them, and that the VM caches hold pages
 * of their VM. 0 if so, else -1 (errno EUCLEAN) with the first problem
 * written to `why`. */
int pool_check(const shm_header_t *h, char *why, size_t why_len);

/* Crash-test hook. When pool_crash_step equals one of these points, the
 * process raises SIGKILL on itself when it reaches that point (0: off, the
 * default). Only tests set it, in a forked child. */
enum pool_crash_point {
    POOL_CRASH_OFF = 0,
    POOL_CRASH_LOCKED,     /* node lock taken, journal empty */
    POOL_CRASH_JOURNALED,  /* journal written, nothing changed yet */
    POOL_CRASH_DESC_PART,  /* some of the run's descriptors written */
    POOL_CRASH_DESC,       /* descriptors written, free map not */
    POOL_CRASH_MAP,        /* free map written, free count not */
    POOL_CRASH_COUNT,      /* free count written, journal not cleared */
    POOL_CRASH_CLEARED,    /* journal cleared, lock still held */
    POOL_CRASH_REFILLED,   /* cache refill: lock released, pages not cached */
    POOL_CRASH_CACHE_POP,  /* page taken from the cache, owner not set */
    POOL_CRASH_CACHE_PUSH, /* freed page owned by the VM, not yet cached */
    POOL_CRASH_POINTS
};
extern int pool_crash_step;

#endif
