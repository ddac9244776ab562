/*
 * epoch.h: epoch-based reclamation of shared memory across VMs.
 *
 * Readers of a shared structure (the shared tables) take no lock: they
 * follow pointers to objects that a writer on another VM may unlink at
 * any moment. An unlinked object is therefore not freed at once but
 * retired: it is freed only once every VM that could still hold a pointer
 * to it has left the critical section it was in (Fraser's epochs).
 *
 * A global epoch counter; each participant (every VM, and the supervisor
 * during recovery) announces the epoch it entered a critical section in.
 * The epoch moves from e to e + 1 only when every participant inside a
 * critical section announces e. An object retired in epoch e is freed
 * once the epoch reaches e + 2: every critical section that began before
 * it was unlinked has ended by then.
 *
 * NOTES
 *   The global epoch: any participant, by CAS. A participant's announce
 *   word: that participant; read by everybody; cleared by recovery once
 *   the participant is dead (epoch_recover_vm, run by the dead VM's next
 *   incarnation, or the supervisor in tests). A VM's bags of retired
 *   objects (one open, collecting; the others sealed with the epoch they
 *   wait on, or empty): that VM only, and its recovery.
 *   Crash safety: a VM that dies inside a critical section blocks the
 *   epoch, and so reclamation, until its next incarnation recovers it,
 *   never longer. Each change to a bag is one store (an item goes in by storing
 *   the count after the item; it goes out by storing the count before it
 *   is freed; sealing stores the epoch; an empty bag's epoch is cleared
 *   before it opens), so a VM that dies at any instruction leaves whole
 *   bags, at worst with one object lost (a leak, never a double free).
 *   Recovery seals a dead VM's open bag; its bags wait for the VM that
 *   next runs with its id.
 *   Errors: none; epoch_retire waits (with sched_yield) when every bag is
 *   sealed and the epoch cannot move yet, so call it holding no lock and
 *   outside any critical section.
 */
#ifndef SHOAL_SHM_EPOCH_H
#define SHOAL_SHM_EPOCH_H

#include "shm/segment.h"

/* Objects one bag holds, and bags per VM. A bag is sealed (one fence)
 * when full; 128 makes the fence's cost per object small, and 8 bags let
 * a VM retire 1,000 objects before it must wait for a slow VM to leave
 * its critical section. */
#define EPOCH_BAG_CAP 128u
#define EPOCH_BAGS 8

typedef struct epoch_dom epoch_dom_t;

/* Frees one retired object, on behalf of caller `who` (a VM id, or
 * POOL_SUPERVISOR). */
typedef void (*epoch_free_fn)(void *ctx, uint32_t who, void *obj);

/* Bytes of a domain for n_vms VMs and the supervisor. */
size_t epoch_bytes(uint32_t n_vms);

/* Supervisor only, before the fork: prepare a domain in `mem`. */
epoch_dom_t *epoch_init(void *mem, uint32_t n_vms);

/* Enter and leave a critical section, for `who` (a VM id, or
 * POOL_SUPERVISOR). Not nested. */
void epoch_enter(epoch_dom_t *d, uint32_t who);
void epoch_exit(epoch_dom_t *d, uint32_t who);
bool epoch_inside(const epoch_dom_t *d, uint32_t who);

/* VM only, outside any critical section and holding no lock: retire obj
 * (of `bytes`, which makes the VM try to move the epoch sooner when it
 * retires much memory); it is freed with f once no critical section can
 * hold it. May free other objects of the VM that became safe, and may
 * wait for a slow VM when the bag of this epoch is full. */
void epoch_retire(epoch_dom_t *d, uint32_t vm, void *obj, size_t bytes, epoch_free_fn f,
                  void *ctx);

/* VM only, outside any critical section: free whatever of its retired
 * objects is safe now (moving the epoch if it can). Returns how many
 * objects are still waiting. */
size_t epoch_reclaim(epoch_dom_t *d, uint32_t vm, epoch_free_fn f, void *ctx);

/* How many objects VM `vm` has retired and not yet freed. */
size_t epoch_pending(const epoch_dom_t *d, uint32_t vm);

/* Recovery of VM `vm` (by `who`: its next incarnation, or the
 * supervisor): retire obj into the dead VM's bags (the next VM with that
 * id frees it), freeing with f, as `who`, what of them is safe. Never
 * waits: false if no bag has room, and the object then leaks. */
bool epoch_retire_for(epoch_dom_t *d, uint32_t vm, uint32_t who, void *obj, epoch_free_fn f,
                      void *ctx);

/* Whether obj waits in VM vm's bags (recovery: was it retired already?).
 * Recovery only, before the VM's next incarnation uses them; O(bag items). */
bool epoch_retired(const epoch_dom_t *d, uint32_t vm, const void *obj);

/* Recovery only, after VM `vm` died (and after whatever it was in the
 * middle of is repaired, since its announce keeps that memory alive):
 * end its critical section. */
void epoch_recover_vm(epoch_dom_t *d, uint32_t vm);

/* The global epoch (for tests). */
uint64_t epoch_now(const epoch_dom_t *d);

#endif
