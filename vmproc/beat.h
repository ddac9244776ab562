/*
 * beat.h: the VM's heartbeat, which long operations move too.
 *
 * NOTES
 *   The word is this VM's shm_vm_t.heartbeat (set by vm_main); single
 *   writer, this VM; the supervisor reads it on its tick.
 */
#ifndef SHOAL_VMPROC_BEAT_H
#define SHOAL_VMPROC_BEAT_H

#include <ck_pr.h>
#include <stdint.h>

/* This VM's heartbeat word (its shm_vm_t.heartbeat), or NULL outside a
 * VM. vm_beat moves it: the scheduler loop does at every turn, and long
 * operations inside one slice (a collection of a large heap, a copy of a
 * large message) do every so often, so that the supervisor can tell a VM
 * that is working from one that is stuck. Single writer: this VM. */
extern uint64_t *vm_heartbeat_word;

static inline void vm_beat(void)
{
    uint64_t *w = vm_heartbeat_word;
    /* Relaxed: the supervisor only compares successive values. */
    if (w)
        ck_pr_store_64(w, *w + 1);
}

#endif
