/*
 * vm_world.h: several VMs in one test process, without scheduler loops.
 *
 * A world is a segment with a tiny loaded program (for the atoms, and the
 * code of main that a process starts in) and one runtime per VM, set up
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

#endif
