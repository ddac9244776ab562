/*
 * vmtab.h: the VM table in the shared segment, one entry per VM.
 *
 * NOTES
 *   Fields are grouped by writer, with a cache line between groups that
 *   different processes write:
 *   - placement: the supervisor, before the fork of this VM (or before a
 *     restart). Read-only for everybody else.
 *   - self: the VM itself. The supervisor reads them for stats and for the
 *     heartbeat check.
 *   - wake: any VM (a sender or a stealer), with atomics.
 */
#ifndef SHOAL_SHM_VMTAB_H
#define SHOAL_SHM_VMTAB_H

#include "shm/segment.h"

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
    uint32_t restarts;
    char cpuset[64];      /* the cpuset as hwloc list text, e.g. "0-1" */
    char pad0[SHOAL_CACHE_LINE];

    /* self: the VM */
    uint32_t state;       /* enum vm_state; the supervisor sets VM_DEAD */
    uint32_t bound;       /* 1 if bound to the cpuset, 0 if only recorded */
    uint64_t heartbeat;   /* incremented by the VM's loop; read by the supervisor */
    uint64_t smoke;       /* the built-in smoke workload's result */
    uint64_t reductions;  /* reductions executed (at the end of each slice) */
    uint64_t procs;       /* processes owned now */
    uint64_t heap_local, heap_remote; /* heap bytes on own / other nodes */
    uint64_t mig_in[4], mig_out[4]; /* moves by cause: explicit, steal, balancer, adopt */
    uint32_t runq;        /* runnable processes queued here now (a hint for stealers) */
    uint32_t pad_self;
    uint64_t msgs_local, msgs_remote;
    /* busy time (vmproc/info.c): the loop counts the time it is idle,
     * spinning or asleep for want of work; the rest of its wall time since
     * loop_start_ns it was busy. idle_seq is odd while the VM updates the
     * two words after it, so a reader gets a consistent pair. */
    uint32_t idle_seq;
    uint32_t pad_idle;
    uint64_t idle_ns;     /* idle time so far (CLOCK_MONOTONIC ns) */
    uint64_t idle_since;  /* when the current idle period began; 0: busy */
    uint64_t loop_start_ns; /* when the scheduler loop began; 0: not yet */
    char pad1[SHOAL_CACHE_LINE];

    /* wake: any VM */
    uint32_t wake;        /* futex word: bumped to wake the VM */
    uint32_t sleeping;    /* 1 while the VM sleeps on `wake` */
    uint64_t inbound;     /* head of the CAS-pushed inbound list (pcb slot + 1, 0: empty) */
    uint32_t steal_req;   /* a VM out of work asks for some: its id + 1 (CAS from 0) */
    uint32_t pad_wake;
    char pad2[SHOAL_CACHE_LINE];
} shm_vm_t;

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
