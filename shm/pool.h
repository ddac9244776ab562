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

/* The address range of a node's pages (the supervisor binds it there). */
void pool_node_range(const shm_header_t *h, uint32_t node, void **addr, size_t *bytes);

/* Free pages of one node (approximate while others allocate). */
uint64_t pool_free_pages(const shm_header_t *h, uint32_t node);

/* Supervisor only, after VM `vm` is known dead: break its lock, repair the
 * journal, free its cache and every run it owned. */
void pool_recover_vm(shm_header_t *h, uint32_t vm);

/* Supervisor only, during recovery: free every run whose owner `dead`
 * says is dead (processes lost with a VM). Returns the runs freed. */
size_t pool_reclaim(shm_header_t *h, bool (*dead)(uint32_t owner, void *ctx), void *ctx);

#endif
