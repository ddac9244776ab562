/*
 * register.h: registered names (LANGUAGE.md, "Processes": register,
 * unregister, whereis, send to a name), over the name table of
 * shm/names.h.
 *
 * A name belongs to a live process, at most one name per process (the
 * PCB's regname says which, so that an ending process drops its name in
 * O(1)). A name is visible on every VM at once and needs nothing when
 * its process migrates: it names the pid, which does not change.
 *
 * The rules that make it safe without a lock:
 *   - register publishes (the PCB's regname, then the slot's pid, by CAS)
 *     and then looks whether the process is still there; an ending
 *     process closes its inbox and then looks for its name (reg_drop).
 *     With a full fence on each side, one of the two sees the other, so a
 *     name never outlives its process (the Dekker pattern of msg.c).
 *   - a slot whose pid names a process that is gone (its VM died before
 *     anyone cleaned up) counts as free: whereis answers undefined,
 *     register takes it over, and reg_recover clears such slots.
 *
 * NOTES
 *   Any VM, on any name. reg_drop: the owner VM of an ending process.
 *   reg_recover: the supervisor, after a VM died (or any VM).
 *   Errors: -1 with errno as each function says.
 */
#ifndef SHOAL_VMPROC_REGISTER_H
#define SHOAL_VMPROC_REGISTER_H

#include "vmproc/proc.h"

/* Give process `pid` the name `atom`. -1 with EINVAL (the name is
 * 'undefined), EEXIST (the name is taken by a live process, or the
 * process has a name), ESRCH (no such process) or ENOSPC (the table is
 * full). */
int reg_register(shm_header_t *h, uint32_t atom, uint64_t pid);

/* Take the name away. -1 with ENOENT if no live process has it. */
int reg_unregister(shm_header_t *h, uint32_t atom);

/* The pid of the live process named `atom`, or 0. */
uint64_t reg_whereis(shm_header_t *h, uint32_t atom);

/* The process of pcb is ending and its inbox is closed: drop its name. */
void reg_drop(shm_header_t *h, pcb_t *pcb);

/* Clear every name whose process is gone; returns how many. The recovery
 * of a dead VM calls it once that VM's processes are declared dead. */
size_t reg_recover(shm_header_t *h);

#endif
