/*
 * recover.h: what a VM does when another VM (or its own previous
 * incarnation) dies (DESIGN.md, "Crash model"; the supervisor's part is in
 * supervisor/run.c).
 *
 * The supervisor learns of a death (SIGCHLD, or a stall it ends with
 * SIGKILL), breaks the locks the dead VM held in shared memory without
 * waiting on anyone, bumps the VM's incarnation, restarts it with the same
 * id, and bumps run.deaths. The rest is done by VMs, in their own loops,
 * with the ordinary locks:
 *
 *   - The new incarnation adopts what its predecessor owned
 *     (recover_self, before its scheduler loop starts): the processes
 *     that were running at that instant end with reason vm_crash, their
 *     links and monitors firing once; those half-way through their end
 *     are finished from the stage they reached; every other process
 *     (runnable, waiting, held by no queue) is queued again, its timer
 *     re-armed from its deadline, and handed to a VM where the policy
 *     places it; the inbound list is drained (pushes made while it was
 *     dead included); the slots it was claiming or freeing are freed; and
 *     the runs the dead VM owned (its page cache, half-done allocations,
 *     to-spaces) go back to the pool, after the signals that may read
 *     them.
 *   - Every live VM, when run.deaths moves (recover_orphans), takes over
 *     the processes it owns that the dead VM left in its hands: ones
 *     stuck RUNNING by a hand-over that died after its owner CAS at once;
 *     RUNNABLE ones whose holder was the dead incarnation (it had claimed
 *     them, or was pushing them) once every VM has drained its inbound
 *     list since the death (recover_recheck), because until then one may
 *     still be linked on a list, and a second link would corrupt it; and
 *     it re-arms the timers of its waiting processes (the dead VM may
 *     have held them).
 *
 * A process is queued only through its status word: a takeover CASes it
 * from the status it found, so that two VMs never both believe they hold
 * it, and a run queue holds a process at most once (PF_IN_RUNQ).
 *
 * NOTES
 *   Both run in the VM's scheduler loop, between slices, on processes
 *   that VM owns. Counters: shm_vm_t.adopted and .lost, written by the
 *   VM that does the work.
 */
#ifndef SHOAL_VMPROC_RECOVER_H
#define SHOAL_VMPROC_RECOVER_H

#include "vmproc/sched.h"

/* The new incarnation of a VM takes over from its predecessor. */
void recover_self(sched_t *s);

/* A live VM, after run.deaths moved: take over what the dead left that
 * is on no list now (stuck hand-overs), re-arm timers, and set s->recheck.
 * recover_recheck (each loop turn while s->recheck is set): once every
 * VM has drained its inbound list since the death, take over the
 * processes whose holder died (nothing links them any more). */
void recover_orphans(sched_t *s);
void recover_recheck(sched_t *s);

#endif
