/*
 * vmtab.h: the VM table in the shared segment, one entry per VM.
 *
 * NOTES
 *   Fields are grouped by writer, each group on cache lines of its own
 *   (_Alignas), so that one writer's stores never pull a line from a
 *   reader of another group:
 *   - placement: the supervisor, before the fork of this VM (or before a
 *     restart). Read-only for everybody else.
 *   - hint: the VM itself, only when the value changes; idle VMs read it
 *     when they look for work, so it has a line of its own, apart from the
 *     counters that the VM writes all the time.
 *   - self: the VM itself. The supervisor reads them for stats, for the
 *     heartbeat check and for the balancer's snapshots. Only the VM writes
 *     its own row: no other VM ever writes here.
 *   - wake: any VM (a sender or a stealer), with atomics.
 *   The number of processes a VM owns is not stored: every event that
 *   changes it is counted by the VM it happens on (a process starts or
 *   arrives, leaves, ends), and shm_vm_procs derives it from those.
 */
#ifndef SHOAL_SHM_VMTAB_H
#define SHOAL_SHM_VMTAB_H

#include "shm/plan.h"
#include "shm/segment.h"

#include <ck_pr.h>
#include <stdbool.h>
#include <string.h>

enum vm_state {
    VM_EMPTY = 0, /* no process for this entry yet */
    VM_STARTING,  /* forked, not yet registered */
    VM_RUNNING,   /* registered, heartbeat moving */
    VM_STOPPED,   /* left its loop because the run stopped */
    VM_DEAD       /* died; recovery pending or done */
};

/* Topological distance classes between two VMs, nearest first. */
enum vm_distance { VM_DIST_SELF = 0, VM_DIST_L3, VM_DIST_NODE, VM_DIST_REMOTE };

typedef struct shm_vm {
    /* placement: supervisor */
    uint32_t id;
    uint32_t node;        /* NUMA node (logical index) */
    uint32_t l3;          /* L3 cache (logical index), or UINT32_MAX */
    uint32_t n_pus;       /* PUs in the cpuset */
    int32_t os_pid;       /* pid of the VM process; the supervisor writes it after fork */
    uint32_t restarts;    /* times this VM was restarted: its incarnation */
    uint32_t shares_pu;   /* 1 if other VMs run on its PUs (more VMs than PUs):
                           * an idle VM then must not spin */
    uint32_t pad_place;
    char cpuset[64];      /* the cpuset as hwloc list text, e.g. "0-1" */

    /* hint: the VM, when it changes */
    _Alignas(SHOAL_CACHE_LINE)
    uint32_t runq;        /* runnable processes here now, the one about to run included */

    /* self: the VM */
    _Alignas(SHOAL_CACHE_LINE)
    uint32_t state;       /* enum vm_state; the supervisor sets VM_DEAD */
    uint32_t bound;       /* 1 if bound to the cpuset, 0 if only recorded */
    uint64_t heartbeat;   /* incremented by the VM's loop; read by the supervisor */
    uint64_t smoke;       /* the built-in smoke workload's result */
    uint64_t reductions;  /* reductions executed (published once per scheduling round) */
    uint64_t msgs_local, msgs_remote; /* messages sent from here to this / another VM (likewise) */
    uint64_t started;     /* processes that started here (spawned here or arrived from a spawn) */
    uint64_t exited;      /* processes that ended here */
    uint64_t mig_in[MIG_CAUSES], mig_out[MIG_CAUSES]; /* moves by cause (enum mig_cause) */
    uint64_t torture_in, torture_out; /* SHOAL_MIGRATE_TORTURE's moves, under no cause */
    uint64_t heap_local, heap_remote; /* heap bytes on own / other nodes */
    uint64_t plan_done;   /* moves of plans acted on */
    uint64_t plan_dropped; /* moves of plans not acted on: pinned, gone, or too few to move */
    /* busy time (vmproc/info.c): the loop counts the time it is idle,
     * spinning or asleep for want of work; the rest of its wall time since
     * loop_start_ns it was busy. idle_seq is odd while the VM updates the
     * two words after it, so a reader gets a consistent pair. */
    uint32_t idle_seq;
    uint32_t pad_idle;
    uint64_t idle_ns;     /* idle time so far (CLOCK_MONOTONIC ns) */
    uint64_t idle_since;  /* when the current idle period began; 0: busy */
    uint64_t loop_start_ns; /* when the scheduler loop began; 0: not yet */
    uint64_t adopted;     /* processes this VM took over after a death (recover.c) */
    uint64_t lost;        /* processes that ended with vm_crash when this VM's
                           * previous incarnation died (counted by the next) */
    uint64_t hibernated;  /* processes this VM hibernated (sched.c) */
    uint32_t in_output;   /* 1 while the VM waits to write stdout (a slow reader
                           * is not a stall: the supervisor does not kill it) */
    uint32_t drained_deaths; /* run.deaths as it was when this VM began its last
                              * drain of its inbound list (recover.h) */

    /* wake: any VM */
    _Alignas(SHOAL_CACHE_LINE)
    uint32_t wake;        /* futex word: bumped to wake the VM */
    uint32_t sleeping;    /* 1 while the VM sleeps on `wake` */
    uint64_t inbound;     /* low 32 bits: head of the CAS-pushed inbound list
                           * (pcb slot + 1, 0: empty), any VM pushes; high 32
                           * bits: the list the VM is draining (recover.h),
                           * only it writes them */
    uint32_t steal_req;   /* a VM out of work asks for some: its id + 1 (CAS from 0) */
    uint32_t pad_wake;

    /* message arena (shm/arena.h): the VM (and its next incarnation) */
    _Alignas(SHOAL_CACHE_LINE)
    uint64_t arena_free[2];     /* per class: its free slots (offsets, 0: none) */
    uint64_t arena_pages;       /* pages its arena took from the pool */

    /* message arena: any VM gives back, in batches, by CAS */
    _Alignas(SHOAL_CACHE_LINE)
    uint64_t arena_returned[2]; /* per class: slots given back (offsets, 0: none) */
} shm_vm_t;

/* Whether VMs a and b are bound to the same PUs: with more VMs than PUs
 * the placement binds each to one PU and writes its cpuset before any VM
 * starts, and never changes it. */
static inline bool shm_vm_same_pus(const shm_vm_t *a, const shm_vm_t *b)
{
    return strncmp(a->cpuset, b->cpuset, sizeof a->cpuset) == 0;
}

/* Processes VM v owns now, from its own counters: a snapshot of words
 * that one VM writes, read without a lock, so a reader between two of its
 * updates may be one off (never below zero). */
static inline uint64_t shm_vm_procs(const shm_vm_t *v)
{
    /* Relaxed loads: statistics and balancing hints. */
    uint64_t in = ck_pr_load_64((uint64_t *)&v->started);
    uint64_t out = ck_pr_load_64((uint64_t *)&v->exited);
    for (int c = 0; c < MIG_CAUSES; c++) {
        in += ck_pr_load_64((uint64_t *)&v->mig_in[c]);
        out += ck_pr_load_64((uint64_t *)&v->mig_out[c]);
    }
    in += ck_pr_load_64((uint64_t *)&v->torture_in);
    out += ck_pr_load_64((uint64_t *)&v->torture_out);
    return in > out ? in - out : 0;
}

/* How far apart VMs a and b are, from their ids, nodes and L3 caches. */
static inline enum vm_distance vm_distance_of(uint32_t a, uint32_t b, uint32_t node_a,
                                              uint32_t node_b, uint32_t l3_a, uint32_t l3_b)
{
    if (a == b)
        return VM_DIST_SELF;
    if (l3_a != UINT32_MAX && l3_a == l3_b)
        return VM_DIST_L3;
    if (node_a == node_b)
        return VM_DIST_NODE;
    return VM_DIST_REMOTE;
}

static inline shm_vm_t *shm_vm(const shm_header_t *h, uint32_t i)
{
    return (shm_vm_t *)shm_at(h, h->layout.vm_off) + i;
}

#endif
