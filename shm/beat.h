/*
 * beat.h: the VM's heartbeat, which long operations and lock waits move too.
 *
 * NOTES
 *   The word is this VM's shm_vm_t.heartbeat (set by vm_main); single
 *   writer, this VM; the supervisor reads it on its tick.
 */
#ifndef SHOAL_SHM_BEAT_H
#define SHOAL_SHM_BEAT_H

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

/* Steps of work since the last beat, over every call: a long loop of
 * short operations (thousands of small collections in one slice under
 * GC torture) beats as one long operation does. */
extern uint32_t vm_beat_steps;

/* Count `n` steps of work; beat every VM_BEAT_STEPS (about a millisecond
 * of work, so a supervisor tick always sees a working VM's beat move). */
#define VM_BEAT_STEPS (1u << 16)
static inline void vm_tick(uint32_t n)
{
    vm_beat_steps += n;
    if (__builtin_expect(vm_beat_steps >= VM_BEAT_STEPS, 0)) {
        vm_beat_steps = 0;
        vm_beat();
    }
}

#endif
