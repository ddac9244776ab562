/*
 * vm_world.h: several VMs in one test process, without scheduler loops.
 *
 * A world is a segment with a loaded program (a tiny one for the atoms,
 * and the code of main that a process starts in, or the test's own) and one runtime per VM, set up
 * as sched_main sets its own up. Tests use it to play VMs by hand: a
 * process is created on one VM, handed to another, sent messages by a
 * third; forked children can each act as one VM of the same world, since
 * the segment is MAP_SHARED.
 *
 * NOTES
 *   Single-threaded test code. VM i is on NUMA node i % n_nodes (recorded
 *   only: nothing is bound).
 */
#ifndef SHOAL_TESTS_VM_WORLD_H
#define SHOAL_TESTS_VM_WORLD_H

#include "shm/segment.h"
#include "vmproc/heap.h"
#include "vmproc/sched.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VW_MAX_VMS 8

typedef struct vw {
    shm_header_t *h;
    uint32_t n_vms;
    sched_t s[VW_MAX_VMS]; /* s[i].rt is VM i's runtime */
} vw_t;

/* A world of n_vms VMs (at most VW_MAX_VMS) over n_nodes nodes, with
 * `slots` process slots, `pool_bytes` of pool and heap_follow `follow`.
 * False on failure. */
bool vw_open(vw_t *w, uint32_t n_vms, uint32_t n_nodes, uint32_t slots, uint64_t pool_bytes,
             enum heap_follow follow);
/* The same with the program `src` (it must define main) loaded instead
 * of the tiny one, for tests that run its functions; program_load prints
 * its errors on stderr. */
bool vw_open_program(vw_t *w, uint32_t n_vms, uint32_t n_nodes, uint32_t slots, uint64_t pool_bytes,
                     enum heap_follow follow, const char *src);
void vw_close(vw_t *w);

static inline rt_t *vw_rt(vw_t *w, uint32_t vm)
{
    return &w->s[vm].rt;
}

/* A process on VM `vm`, set up as proc_spawn does (a heap and a stack on
 * that VM's node, main's frame on the stack, live, attached to the VM's
 * heap counters) but queued nowhere. NULL on failure. */
pcb_t *vw_proc_new(vw_t *w, uint32_t vm);

/* Free a process that VM `owner` owns now. */
void vw_proc_free(vw_t *w, pcb_t *pcb, uint32_t owner);

/* Free every live process, each by its owner. */
void vw_free_all(vw_t *w);

/* What VM `vm` has queued, read without taking anything: the head of its
 * inbound list (slot + 1, 0: empty); the slots on that list, newest first
 * (as pushed, linked by inbound_next); the slots on its run queue, front
 * first. The lists go to out[], at most max; their lengths are returned. */
uint64_t vw_inbound(const vw_t *w, uint32_t vm);
size_t vw_inbound_slots(const vw_t *w, uint32_t vm, uint32_t *out, size_t max);
size_t vw_runq_slots(const vw_t *w, uint32_t vm, uint32_t *out, size_t max);

/* What VM `vm`'s loop would run next: its inbound list taken in
 * (sched_drain_inbound), then the front of its run queue. */
pcb_t *vw_next(vw_t *w, uint32_t vm);

#endif
