/*
 * slab.h: small objects in the shared segment, in size-classed slabs
 * carved from the page pool.
 *
 * An object of up to SLAB_MAX bytes takes a slot of the smallest class
 * that holds it, in a slab: a run of one to eight pool pages whose first
 * 64 bytes are the slab's header and the rest its slots. Each slab belongs
 * to the VM that made it, and only that VM allocates from it; any VM (or
 * the supervisor) frees into it. So an allocation takes no lock, and a
 * VM's slabs stay on its NUMA node.
 *
 * NOTES (who writes what)
 *   Slab header: `free` (a stack of freed slots, linked through their
 *   first word) is pushed by anyone with CAS and popped by the owner VM
 *   only (one consumer: no ABA); `used` (slots allocated and not freed) is
 *   changed by anyone with fetch-and-add; the rest by the owner VM only.
 *   Per-VM lists (the slab being allocated from, the slabs with free
 *   slots, every slab of the VM): the owner VM only. They are a cache of
 *   what the slab headers say, and recovery rebuilds them.
 *   Per-VM remote counters: other VMs add the frees they make into the
 *   VM's slabs, so the owner knows when to look for them.
 *
 * CRASH SAFETY
 *   A slab is published by one store, the change of its run's pool owner
 *   from the allocating VM to the slab owner given at init; before it, the
 *   pool's recovery frees the run with the dead VM's other runs. A slot
 *   leaves and joins a free stack by one CAS; `used` goes up before a
 *   slot is taken and down after it is given back, so it is never below
 *   the slots really in use: a VM that dies in between leaves it high, and
 *   the slab is then never given back to the pool (one page leaked), never
 *   given back too early. A slab is given back only by its owner, when
 *   `used` is 0. After a VM dies, slab_recover_vm (its next incarnation) rebuilds
 *   its lists from the pool (every run with the slab owner whose header
 *   names the VM); the next VM with that id goes on with them.
 *   Errors: slab_alloc returns NULL with errno ENOMEM when the pool has no
 *   page for a new slab.
 */
#ifndef SHOAL_SHM_SLAB_H
#define SHOAL_SHM_SLAB_H

#include "shm/segment.h"

/* The largest object a slot holds; larger ones take pool runs. */
#define SLAB_MAX 2048u

typedef struct slab_dom slab_dom_t;

/* Bytes of the control area for n_vms VMs. */
size_t slab_bytes(uint32_t n_vms);

/* Supervisor only, before the fork: prepare the control area in `mem`;
 * slabs will be pool runs owned by `owner` (a POOL_OWNER_SHARED). */
slab_dom_t *slab_init(void *mem, uint32_t n_vms, uint32_t owner);

/* The slot size an object of `bytes` takes, or 0 if above SLAB_MAX. */
size_t slab_size_for(size_t bytes);

/* VM `vm` only: a slot of at least `bytes` (<= SLAB_MAX), from a slab on
 * `node` if it needs a new one. Not zeroed. NULL with errno ENOMEM. */
void *slab_alloc(shm_header_t *h, slab_dom_t *d, uint32_t vm, uint32_t node, size_t bytes);

/* Any VM or the supervisor (`who`): give a slot back. */
void slab_free(shm_header_t *h, slab_dom_t *d, uint32_t who, void *slot);

/* Whether `p` (inside the pool) lies in a slab of this domain, and the
 * size of its slot. */
bool slab_holds(const shm_header_t *h, const slab_dom_t *d, const void *p);
size_t slab_slot_size(const shm_header_t *h, const void *slot);

/* After VM `vm` died, before anything else uses its lists: rebuild them
 * from the pool, scanning it as `who` (the VM's next incarnation, or the
 * supervisor in tests). */
void slab_recover_vm(shm_header_t *h, slab_dom_t *d, uint32_t vm, uint32_t who);

/* Tests and debug builds, while nobody allocates or frees: every slab of
 * the domain is well formed (free stacks inside their slab, without a
 * cycle; counts that add up; the lists of live VMs holding exactly their
 * slabs). 0, or -1 with the first problem in `why`. Also counts, if the
 * pointers are not NULL, the slabs and the slots in use. */
int slab_check(shm_header_t *h, const slab_dom_t *d, char *why, size_t why_len, size_t *slabs,
               size_t *slots_used);

/* Pool pages VM `vm`'s slabs take now (owner VM, or tests). */
size_t slab_pages_of(const slab_dom_t *d, uint32_t vm);

#endif
