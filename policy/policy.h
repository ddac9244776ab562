/*
 * policy.h: the balancing decisions, behind one small interface.
 *
 * For now the built-in behaviour is work stealing (steal.c) and
 * round-robin spawn placement (sched.c); the policy registry and the other
 * policies of DESIGN.md plug in here.
 *
 * NOTES
 *   Called by a VM's scheduler, in that VM. They read the VM table (other
 *   VMs' published queue lengths, which are hints) and write nothing.
 */
#ifndef SHOAL_POLICY_POLICY_H
#define SHOAL_POLICY_POLICY_H

#include "shm/vmtab.h"

/* The VMs that idle VM `thief` may ask for work, best first, into out[];
 * returns how many. */
size_t policy_steal_victims(const shm_header_t *h, uint32_t thief, uint32_t *out, size_t max);

/* How many of a victim's `queued` runnable processes to hand to a thief. */
size_t policy_steal_amount(size_t queued);

#endif
