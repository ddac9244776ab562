/*
 * vm.h: the VM process: start-up, registration, and sleeping and waking.
 *
 * The supervisor forks each VM (supervisor/fork.c) and the child calls
 * vm_main. vm_main checks the inherited segment, binds the process to its
 * cpuset when the topology is this machine, registers in the VM table,
 * and then runs either the loaded program (program_vm_main, the scheduler)
 * or the built-in smoke workload. It returns the VM's exit code.
 *
 * Sleeping and waking (vm_sleep / vm_wake) is a futex on the VM's `wake`
 * word in the shared segment. A waker publishes its work (an inbound push,
 * run.stopping), bumps `wake`, and makes the FUTEX_WAKE system call only if
 * the VM says it is `sleeping`. The sleeper reads `wake`, sets `sleeping`,
 * re-checks for work, and waits on the value it read, so a wake that lands
 * anywhere in between either shows up in the re-check or makes FUTEX_WAIT
 * return at once. No wake-up is lost, and a busy VM costs wakers no system
 * call.
 *
 * NOTES
 *   vm_main, vm_sleep, vm_notify: in the VM process, for its own entry.
 *   vm_wake: any process that maps the segment (a VM or the supervisor).
 *   The VM writes the "self" group of its shm_vm_t; the supervisor wrote
 *   the placement group (and os_pid) before or right after the fork.
 */
#ifndef SHOAL_VMPROC_VM_H
#define SHOAL_VMPROC_VM_H

#include "shm/vmtab.h"

#include "vmproc/beat.h"

#include <hwloc.h>

/* How long an idle VM sleeps before it bumps its heartbeat again. 50 ms:
 * the supervisor's timer ticks at the same period, so a live idle VM moves
 * its heartbeat between any two ticks but one, and an idle VM wakes 20
 * times a second, which costs nothing measurable. */
#define VM_IDLE_MS 50u

/* What the supervisor hands the VM at the fork. */
typedef struct vm_start {
    hwloc_topology_t topo; /* bind with this topology, or NULL: only record (synthetic/XML) */
    int notify_fd;         /* the supervisor's eventfd (vm_notify writes to it) */
    bool program;          /* a program was loaded: run program_vm_main, not the smoke loop */
} vm_start_t;

/* The VM process's life. Returns its exit code: 0 after the run stopped,
 * non-zero if it could not start (the error is printed). */
int vm_main(shm_header_t *h, uint32_t id, const vm_start_t *start);

/* Tell the supervisor to look at the VM table now (registration, smoke
 * result, run.done) rather than at its next tick. Async-signal-safe. */
int vm_notify(void);

enum vm_sleep_result {
    VM_SLEEP_SKIPPED = 0, /* did not sleep: ready() said yes, or the run is stopping */
    VM_SLEEP_WOKEN,       /* woken by vm_wake (or a signal, or a spurious wake) */
    VM_SLEEP_TIMEOUT      /* timeout_ms passed */
};

/* Owner VM only: sleep on self->wake for at most timeout_ms. `ready` (may be
 * NULL) is the caller's "is there work?" test; it is called after the VM
 * has published that it sleeps, so work published before a vm_wake is
 * always seen either by it or by the wake. The run stopping counts as
 * work. */
enum vm_sleep_result vm_sleep(shm_header_t *h, shm_vm_t *self, bool (*ready)(void *ctx), void *ctx,
                              uint32_t timeout_ms);

/* Any process: wake VM `vm` if it sleeps. Call it after publishing the
 * work that the VM should see. */
void vm_wake(shm_vm_t *vm);

/* Sleepers that this process's vm_wake calls took out of FUTEX_WAIT
 * (private to the process; tests read it). */
extern uint64_t vm_futex_woken;

/* The smoke workload's deterministic result for VM `id` (never 0). */
uint64_t vm_smoke_compute(uint32_t id);

#endif
