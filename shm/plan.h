/*
 * plan.h: what the balancer and the VMs tell each other through the
 * shared segment: the active policy, the plans of moves, and the VMs'
 * samples of message traffic between pairs of processes.
 *
 * - The active policy (shm_policy_t, in the header, segment.h): which policy runs and
 *   its parameter values. The supervisor writes it under a seqlock (one
 *   writer; it can change during a run), VMs read it at their scheduling
 *   points and keep a private copy, refreshed when the sequence moves.
 * - One plan area per VM (shm_plan_t, one per VM after the VM table):
 *   - a ring of moves (ck_ring, SPSC): the supervisor enqueues, the owner
 *     VM dequeues at its next scheduling point and acts on each move;
 *   - an epoch word that the supervisor bumps every interval: the VM then
 *     publishes what it sampled of message traffic since the last epoch;
 *   - those samples, written by the VM under a seqlock of its own.
 *
 * NOTES
 *   Crash safety: nothing here is a lock. A VM that dies while it writes
 *   its samples leaves its sequence odd; the supervisor reads with a
 *   bounded number of tries (plan_read_pairs) and skips that VM, so it
 *   never waits for a dead VM. A dead VM's ring is only read by that VM;
 *   recovery (a later issue) re-initialises it before a restart.
 *   The ring's producer and consumer indices are on separate cache lines
 *   (ck_ring pads them); the samples, which the VM writes, are on lines of
 *   their own, apart from the supervisor's epoch.
 */
#ifndef SHOAL_SHM_PLAN_H
#define SHOAL_SHM_PLAN_H

#include "shm/segment.h"

#include <ck_ring.h>
#include <ck_sequence.h>

/* Slots of one VM's ring; it holds PLAN_SLOTS - 1 moves (ck_ring keeps a
 * slot free). 64: a plan moves at most a handful of processes per VM per
 * interval; a full ring drops the rest of that plan (counted), and the
 * next interval plans again from fresh figures. */
#define PLAN_SLOTS 64u
/* Pairs a VM publishes per interval: the heaviest it sampled. */
#define PLAN_PAIRS 32u
/* Why a process moved: counted per process and per VM. EXPLICIT is
 * (migrate vm) and call-on; STEAL, REBALANCE and AFFINITY are policy
 * decisions; ADOPT is crash recovery. */
enum mig_cause {
    MIG_EXPLICIT = 0,
    MIG_STEAL,
    MIG_REBALANCE,
    MIG_AFFINITY,
    MIG_ADOPT,
    MIG_CAUSES
};

/* What a move asks of the owner VM. */
enum plan_what {
    PLAN_PID = 0,  /* move process `pid` (if it is still here and free to move) */
    PLAN_RUNNABLE, /* move `n` runnable processes */
    PLAN_WAITING   /* move `n` waiting processes */
};

typedef struct plan_move {
    uint64_t pid;   /* PLAN_PID: the process */
    uint32_t to;    /* the VM it goes to */
    uint16_t n;     /* PLAN_RUNNABLE, PLAN_WAITING: how many */
    uint8_t what;   /* enum plan_what */
    uint8_t cause;  /* enum mig_cause: MIG_REBALANCE or MIG_AFFINITY */
} plan_move_t;

CK_RING_PROTOTYPE(plan, plan_move)

/* Messages sampled between two processes (a < b), both directions. */
typedef struct plan_pair {
    uint64_t a, b;
    uint32_t vm_a, vm_b; /* their owners when last sampled */
    uint32_t count;      /* samples since the last epoch */
    uint32_t pad;
} plan_pair_t;

typedef struct shm_plan {
    /* the ring: the supervisor produces, the VM consumes (SPSC) */
    ck_ring_t ring;
    plan_move_t moves[PLAN_SLOTS];
    /* supervisor: bumped each interval to ask for samples */
    _Alignas(SHOAL_CACHE_LINE) uint32_t epoch;
    /* the VM: its samples, under `seq` (odd while it writes) */
    _Alignas(SHOAL_CACHE_LINE) uint32_t seq;
    uint32_t answered;    /* the epoch these samples answer */
    uint32_t n_pairs;
    uint32_t pad;
    plan_pair_t pairs[PLAN_PAIRS];
} shm_plan_t;

static inline shm_plan_t *shm_plan(const shm_header_t *h, uint32_t vm)
{
    return (shm_plan_t *)shm_at(h, h->layout.plan_off) + vm;
}

/* Supervisor, before the fork: empty rings and no samples for every VM. */
void plan_init(shm_header_t *h);

/* Supervisor: queue a move for VM `vm`. False if its ring is full. */
bool plan_push(shm_header_t *h, uint32_t vm, const plan_move_t *m);

/* Owner VM: take the oldest move queued for it. False if none. */
bool plan_pop(shm_header_t *h, uint32_t vm, plan_move_t *out);

/* Owner VM: whether a move is queued (one load of the producer index). */
bool plan_pending(const shm_header_t *h, uint32_t vm);

/* VM: publish `n` pairs (at most PLAN_PAIRS) answering `epoch`. */
void plan_write_pairs(shm_header_t *h, uint32_t vm, uint32_t epoch, const plan_pair_t *pairs,
                      uint32_t n);

/* Supervisor: copy VM `vm`'s published pairs into out (PLAN_PAIRS room).
 * Returns how many, or -1 if the VM was writing on every try (a VM that
 * died mid-write): the caller goes on without them. */
int plan_read_pairs(const shm_header_t *h, uint32_t vm, plan_pair_t *out, uint32_t *epoch);

/* The active policy: the supervisor writes it, a VM copies it out. The
 * copy loops while a write is in progress; the writer is the supervisor,
 * which never stops mid-write while a VM runs. */
void plan_policy_write(shm_header_t *h, uint32_t id, uint32_t interval_ms, const int64_t *params,
                       uint32_t n_params);
uint32_t plan_policy_version(const shm_header_t *h);
void plan_policy_read(const shm_header_t *h, shm_policy_t *out);

#endif
