/*
 * sim.h: the policy simulator. It runs a policy's real decision functions
 * (policy/policy.h: place, victims, amount, rebalance, and the traffic
 * sampler of policy/pairs.c) against a synthetic workload on a synthetic
 * topology, on a simulated clock, deterministically from a seed, without
 * forking any VM.
 *
 * The model follows the VM's scheduler (vmproc/sched.c, balance.c):
 *   - each VM runs one process at a time, a slice of at most SIM_SLICE_NS,
 *     from a FIFO run queue, and publishes its queue length (the one about
 *     to run included) at each scheduling point;
 *   - an idle VM spins SIM_SPIN_NS, then asks the policy's victims for
 *     work; a victim answers at its next scheduling point with the
 *     policy's amount; a VM that found nobody retries after SIM_IDLE_NS,
 *     unless a VM with two or more queued that it would steal from hands
 *     it work first, at that VM's scheduling point (balance.c, wake_thief);
 *   - every interval_ms the balancer takes a snapshot (queue lengths,
 *     processes owned, messages sent, sampled pairs) and the policy's
 *     plan reaches each owner VM, which acts on it at its next scheduling
 *     point: waiting processes move at once, queued ones when they come
 *     out of the queue, running ones at the end of their slice;
 *   - a process spawned with `vm=` is placed there and is not stolen
 *     before it ran (PF_PLACED); others are placed by the policy;
 *   - messages take SIM_MSG_LOCAL_NS on one VM, SIM_MSG_NODE_NS between
 *     VMs of one node, SIM_MSG_REMOTE_NS across nodes, plus SIM_WAKE_NS if
 *     the receiving VM sleeps (it has been idle longer than the spin);
 *   - a hand-over takes SIM_MOVE_NS (plus the wake-up);
 *   - a process's heap stays on the node it started on until it has run
 *     SIM_GC_NS on another node (its next collection copies it, the
 *     heap_follow = on_gc default); until then its CPU time there counts
 *     as remote-memory time and takes SIM_REMOTE_PCT percent as long.
 *
 * The workload file (examples/workloads/ has examples), one directive a
 * line; `#` or `;` starts a comment; times are milliseconds and may have
 * decimals (0.002 is 2 microseconds):
 *   proc NAME count=N [vm=V | from=V] [at=MS] KIND
 * with KIND one of
 *   cpu=MS [jitter=PCT]   run MS of CPU (varied by up to PCT percent, from the seed), end
 *   idle                  wait for messages that never come
 *   serve=MS              for each message: MS of CPU, then an answer to its sender
 *   talk=GROUP rounds=R [think=MS]
 *                         R round trips with member (i mod count) of GROUP (a serve
 *                         group): think MS of CPU, send, wait for the answer; then end
 * `vm=V` places every process of the group on VM V (as spawn-on);
 * otherwise the policy places it, as a spawn from VM `from` (default 0).
 * The simulation ends when every cpu and talk process has ended (the
 * makespan), or at `until` milliseconds.
 *
 * NOTES
 *   Private memory only; single-threaded; nothing prints. Errors go to the
 *   caller's buffer ("FILE:LINE: message" for the workload).
 */
#ifndef SHOAL_SUPERVISOR_SIM_H
#define SHOAL_SUPERVISOR_SIM_H

#include "policy/policy.h"

/* The model's constants, from measurements on the 2-core development
 * machines (BENCH.md): a slice is 2000 reductions at ~20 ns; a message
 * between processes on one VM costs ~270 ns, across VMs ~900 ns a hop
 * (pingpong); a futex wake-up tens of microseconds; a move ~1 us. The
 * remote-memory penalty and the collection interval are typical of
 * two-socket machines and of a process that allocates steadily. */
#define SIM_SLICE_NS 40000u
#define SIM_SPIN_NS 20000u
#define SIM_IDLE_NS 50000000u
#define SIM_MSG_LOCAL_NS 300u
#define SIM_MSG_NODE_NS 900u
#define SIM_MSG_REMOTE_NS 1500u
#define SIM_WAKE_NS 30000u
#define SIM_MOVE_NS 1000u
#define SIM_GC_NS 2000000u
#define SIM_REMOTE_PCT 130u

enum sim_kind { SIM_CPU = 0, SIM_IDLE, SIM_SERVE, SIM_TALK };

/* One line of the workload: a group of identical processes. */
typedef struct sim_group {
    char name[32];
    uint32_t count;
    int32_t vm;    /* -1: placed by the policy */
    uint32_t from; /* the spawning VM when placed by the policy */
    uint64_t at_ns;
    uint32_t kind;   /* enum sim_kind */
    uint64_t cpu_ns; /* SIM_CPU: the work; SIM_SERVE: per message; SIM_TALK: think */
    uint32_t jitter; /* SIM_CPU: percent */
    uint32_t peer;   /* SIM_TALK: the serve group */
    uint64_t rounds; /* SIM_TALK */
    uint32_t line;
} sim_group_t;

typedef struct sim_workload {
    char name[128];
    sim_group_t *groups;
    uint32_t n_groups;
    uint64_t n_procs;
} sim_workload_t;

/* Parse a workload from text (`name` is for messages). 0, or -1 with
 * "NAME:LINE: message" in err. */
int sim_workload_parse(const char *text, const char *name, sim_workload_t *w, char *err,
                       size_t errlen);
int sim_workload_load(const char *path, sim_workload_t *w, char *err, size_t errlen);
void sim_workload_free(sim_workload_t *w);

typedef struct sim_config {
    const char *topology; /* a synthetic description or an XML file */
    uint32_t n_vms;       /* 0: one per core of the topology */
    uint32_t policy;      /* registry id */
    int64_t pv[POLICY_MAX_PARAMS];
    uint32_t interval_ms;
    uint64_t seed;
    uint64_t until_ms; /* 0: SIM_UNTIL_DEFAULT_MS */
} sim_config_t;

#define SIM_UNTIL_DEFAULT_MS 600000u

/* What a move was, for the log the tests read. */
typedef struct sim_move {
    uint64_t at_ns;
    uint64_t pid;
    uint32_t from, to;
    uint32_t cause;  /* enum mig_cause */
    uint32_t queued; /* MIG_STEAL: the victim's queue as the thief saw it when it asked */
} sim_move_t;

typedef struct sim_vm_result {
    uint32_t node, l3;
    uint64_t busy_ns;  /* time running processes */
    uint64_t procs;    /* processes owned at the end */
    uint64_t runnable; /* runnable at the end (queued and running) */
    uint64_t mig_in[MIG_CAUSES], mig_out[MIG_CAUSES];
    uint64_t msgs_local, msgs_remote;
} sim_vm_result_t;

typedef struct sim_result {
    uint64_t end_ns;      /* when the simulation stopped */
    uint64_t makespan_ns; /* when the last cpu/talk process ended (end_ns if some did not) */
    uint64_t finite;      /* cpu/talk processes in the workload */
    uint64_t unfinished;  /* of them, still running at the end */
    uint64_t moves, moves_by_cause[MIG_CAUSES], moves_across_nodes;
    uint64_t remote_mem_ns; /* CPU time on a node other than the heap's */
    uint64_t msgs_local, msgs_remote;
    uint64_t final_imbalance;          /* max - min of processes owned, over the VMs, at the end */
    uint64_t final_runnable_imbalance; /* the same for runnable processes */
    double mean_runnable_imbalance;    /* time-weighted over the run */
    uint32_t n_vms;
    sim_vm_result_t *vms; /* n_vms; owned by the sim_t */
} sim_result_t;

typedef struct sim sim_t;

/* Set up a simulation (topology loaded and placed, processes created).
 * NULL with a message in err (an unknown topology, a workload that names
 * a VM the topology does not have, out of memory). */
sim_t *sim_new(const sim_config_t *cfg, const sim_workload_t *w, char *err, size_t errlen);
void sim_free(sim_t *s);

/* Run to the end. The result's vms point into s. */
void sim_run(sim_t *s, sim_result_t *out);

/* For tests: the moves in the order they happened, and where a process
 * is (its owner VM); pids are 1 + the process's index in workload order. */
const sim_move_t *sim_moves(const sim_t *s, size_t *n);
uint32_t sim_owner(const sim_t *s, uint64_t pid);
uint32_t sim_vm_count(const sim_t *s);
uint32_t sim_vm_node(const sim_t *s, uint32_t vm);
/* The first pid of group `g` of the workload (its members follow). */
uint64_t sim_group_pid(const sim_t *s, uint32_t g);

#endif
