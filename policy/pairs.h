/*
 * pairs.h: a VM's sample of message traffic between pairs of processes,
 * for the affinity policy.
 *
 * A VM notes one send in `sample_every` (balance.c decides which) with
 * its sender, its receiver and the VMs they were on; this table counts
 * the sends per unordered pair. When the supervisor asks (a new epoch),
 * the VM publishes the heaviest pairs (pairs_take) and starts counting
 * afresh. The simulator keeps one table per simulated VM and calls the
 * same functions.
 *
 * NOTES
 *   Private memory of one VM; not thread-safe (a VM is one thread).
 *   A full table drops new pairs until the next epoch (counted in
 *   `dropped`): the pairs that matter are the heavy ones, which are
 *   already in it.
 */
#ifndef SHOAL_POLICY_PAIRS_H
#define SHOAL_POLICY_PAIRS_H

#include "policy/policy.h"

/* 1024 slots, 32 KiB: a VM with more than 768 distinct pairs in one
 * interval among its sampled sends has no pair that dominates anyway. */
#define PAIRS_SLOTS 1024u

typedef struct pairs_entry {
    uint64_t a, b; /* a < b; a == 0: empty slot */
    uint32_t vm_a, vm_b;
    uint32_t count;
    uint32_t pad;
} pairs_entry_t;

typedef struct pairs {
    pairs_entry_t e[PAIRS_SLOTS];
    uint32_t used;
    uint32_t dropped;
} pairs_t;

/* Count one sampled send from `from` (on vm_from) to `to` (on vm_to). */
void pairs_note(pairs_t *t, uint64_t from, uint32_t vm_from, uint64_t to, uint32_t vm_to);

/* The `max` heaviest pairs into out, heaviest first (ties: lower pids
 * first); then empty the table. Returns how many. */
uint32_t pairs_take(pairs_t *t, plan_pair_t *out, uint32_t max);

/* The supervisor's side (and the simulator's): merge the pairs that all
 * VMs published (concatenated in `in`, which is sorted in place) into
 * out: one entry per pair with its counts summed and scaled by
 * `sample_every` into an estimate of messages, heaviest first (ties:
 * lower pids first). A pair's VMs are those of its heaviest report.
 * Returns how many (at most max). */
size_t pairs_merge(plan_pair_t *in, size_t n_in, uint32_t sample_every, policy_pair_t *out,
                   size_t max);

#endif
