/*
 * arena.h: per-VM arenas of small message slots in the shared segment.
 *
 * A small message travels in one slot of its sender VM's arena: 64 bytes
 * (one cache line) or 256, instead of a page of its own from the pool.
 * Only the sender's VM takes slots from its arena, with no lock and no
 * atomic; the receiver's VM, once it has copied the message into the
 * receiver's heap, gives the slot back. A slot given back on the VM that
 * owns the arena goes straight onto its free list; one given back on
 * another VM is held in a private batch, and a batch of ARENA_BATCH goes
 * back with one CAS. So a message costs no page descriptor, no pool lock
 * and no page of its own, and the arena's lines move between cores once
 * per message (sender writes, receiver reads) and once per batch.
 *
 * A slot is ARENA_SLOT_WORDS[cls] words. Word 0 names its arena (ARENA_META:
 * the VM and the class) and is written by arena_alloc; word 1 links the
 * slot on a free list while it is free (and the caller's own lists while
 * it is in use); the rest is the caller's.
 *
 * NOTES (who writes what; the roots are in shm_vm_t, shm/vmtab.h)
 *   arena_free[cls]: the VM that owns the arena (and its next
 *   incarnation): a list of free slots linked through word 1.
 *   arena_returned[cls]: any VM pushes a batch (a list of slots linked
 *   through word 1) with one CAS; the owner takes the whole list.
 *   Pages: taken from the pool by the owner, and owned by ARENA_OWNER
 *   once their slots are linked, so that no recovery frees them: a slot
 *   of a dead VM's arena can sit in a live receiver's inbox. They are not
 *   given back before the run ends (a VM's arena is as large as the most
 *   small messages it had in flight at once, plus the batches held).
 *
 * CRASH SAFETY
 *   A VM that dies while it takes a slot leaves it taken (one slot leaked,
 *   as the message it would have held is never published). One that dies
 *   holding batches to give back leaks them: at most ARENA_BATCH slots
 *   per class and per other VM. Taking the returned list names it in
 *   arena_free before the CAS that empties arena_returned, so a death in
 *   between leaves the slots on both lists: arena_adopt (the next
 *   incarnation, before it sends anything) sees that and keeps them on
 *   the returned list only. A page whose slots were linked but not yet
 *   named in arena_free is leaked (one page per crash); before it was
 *   linked, it is still the VM's, and the pool's recovery frees it.
 */
#ifndef SHOAL_SHM_ARENA_H
#define SHOAL_SHM_ARENA_H

#include "shm/pool.h"
#include "shm/segment.h"

#include <stdbool.h>

#define ARENA_CLASSES 2
/* Slot sizes in words: one cache line, and four. */
#define ARENA_SMALL_WORDS 8u
#define ARENA_LARGE_WORDS 32u
/* Slots a VM holds for another VM before it gives them back with one CAS.
 * 32: a ping-pong gives back one batch per 32 round trips, and a VM holds
 * at most 32 * 2 * (n_vms - 1) slots (under 40 KiB at 4 VMs). */
#define ARENA_BATCH 32u

/* Pool owner of arena pages: no VM's recovery frees them. */
#define ARENA_OWNER POOL_OWNER_SHARED(2)

/* Word 0 of a slot in use: its arena's VM and class; never a term header
 * (tag bits 0b111 are not TAG_HDR), so a reader can tell a slot from other
 * memory that starts with one. */
#define ARENA_META(vm, cls) (((uint64_t)(vm) << 16) | ((uint64_t)(cls) << 8) | 0xa7u)
static inline bool arena_is_meta(uint64_t w)
{
    return (w & 0xffu) == 0xa7u;
}

/* The words of the slot whose word 0 is `meta`. */
static inline uint32_t arena_slot_words(uint64_t meta)
{
    return ((meta >> 8) & 0xffu) == 0 ? ARENA_SMALL_WORDS : ARENA_LARGE_WORDS;
}

/* The class of a slot that holds `words` words, or -1 if none does. */
static inline int arena_class_for(uint64_t words)
{
    return words <= ARENA_SMALL_WORDS ? 0 : words <= ARENA_LARGE_WORDS ? 1 : -1;
}

/* VM `vm` only: a slot of class `cls` from its arena, new pages from
 * `node`; word 0 is set, the rest is not zeroed. NULL with errno ENOMEM
 * when the pool has no page. */
uint64_t *arena_alloc(shm_header_t *h, uint32_t vm, uint32_t node, int cls);

/* A VM's batches of slots to give back to other VMs' arenas. Private to
 * the VM (not in shared memory); arena_local_new makes them for n_vms. */
typedef struct arena_local arena_local_t;
arena_local_t *arena_local_new(uint32_t n_vms);
void arena_local_free(arena_local_t *l);

/* VM `me`: give a slot back (any arena's), once nothing reads it any
 * more. With `l` NULL, a slot of another VM's arena goes back at once. */
void arena_give_back(shm_header_t *h, arena_local_t *l, uint32_t me, uint64_t *slot);

/* VM `me`: give back every batch held now (before the VM sleeps or stops). */
void arena_flush(shm_header_t *h, arena_local_t *l);

/* The next incarnation of VM `vm`, before it sends: repair a take of the
 * returned list that its predecessor died in (see CRASH SAFETY). */
void arena_adopt(shm_header_t *h, uint32_t vm);

#endif
