/*
 * policy.h: the balancing policies, behind one small table of functions,
 * and the registry that names them (DESIGN.md, "Policies").
 *
 * A policy makes up to three decisions, each a function that may be NULL
 * (the policy does not make that decision):
 *   - place: which VM a new process goes to. The spawning VM calls it.
 *     NULL: the spawning VM itself.
 *   - victims and amount: which VMs an idle VM may ask for work, in what
 *     order, and how many queued processes a victim then hands over. The
 *     thief and the victim call them. NULL: no stealing.
 *   - rebalance: every interval_ms the supervisor gives it a snapshot of
 *     per-VM load and of sampled traffic between processes, and it returns
 *     a plan of moves; the supervisor queues each move to the owner VM,
 *     which acts on it at its next scheduling point (vmproc/balance.c).
 *     NULL: no periodic rebalancing.
 * and says how often VMs should sample message traffic (sample_every).
 *
 * Each policy is its own file here (none.c, round_robin.c,
 * least_loaded.c, steal.c, affinity.c); registry.c names them.
 *
 * NOTES
 *   Policies decide from snapshots only (policy_snapshot_t, filled by the
 *   caller): they never read interpreter state or shared memory, and never
 *   call into the supervisor or a VM. So the very same functions run in a
 *   VM, in the supervisor and in the simulator (supervisor/sim.c).
 *   Explicit placement wins: a policy names processes or counts of them;
 *   the owner VM skips processes that are pinned (PF_PINNED: after
 *   (migrate vm) until they next wait, and inside call-on) or that
 *   spawn-on placed and that have not run yet (PF_PLACED).
 *   Parameters are 64-bit integers, each with a default, a range and a
 *   one-line description; the values of a run live in the shared segment
 *   (shm_policy_t), so a run can change them (and the policy) while it runs.
 *   Nothing here allocates or prints; functions are reentrant.
 */
#ifndef SHOAL_POLICY_POLICY_H
#define SHOAL_POLICY_POLICY_H

#include "shm/plan.h"
#include "shm/vmtab.h"

/* The rebalancer's period: [policy] interval_ms. 10 ms: a CPU-bound
 * skew is corrected within a few slices' worth of time on every VM, and
 * 100 snapshots a second cost the supervisor well under 1% of a core
 * with 64 VMs. */
#define POLICY_INTERVAL_DEFAULT 10u
#define POLICY_INTERVAL_MIN 1u
#define POLICY_INTERVAL_MAX 60000u

typedef struct policy_param {
    const char *name; /* the key in [policy.NAME] */
    int64_t def, min, max;
    const char *desc; /* one line */
} policy_param_t;

/* What a policy knows of one VM. */
typedef struct policy_vm {
    uint32_t node, l3;                /* NUMA node and L3 (UINT32_MAX: none) */
    uint32_t runq;                    /* runnable processes (queued, and the one about to run) */
    uint32_t alive;                   /* 1 while the VM runs */
    uint64_t procs;                   /* processes it owns (runnable and waiting) */
    uint64_t reductions;              /* executed in the last interval */
    uint64_t msgs_local, msgs_remote; /* sent in the last interval to its own / other VMs */
} policy_vm_t;

/* Traffic between two processes a < b, as sampled by the VMs. */
typedef struct policy_pair {
    uint64_t a, b;
    uint32_t vm_a, vm_b; /* their owners when last sampled */
    uint64_t msgs;       /* messages in the last interval, estimated from the samples */
} policy_pair_t;

typedef struct policy_snapshot {
    uint32_t n_vms;
    policy_vm_t *vms;           /* n_vms entries */
    const policy_pair_t *pairs; /* heaviest first; one entry per pair */
    size_t n_pairs;
    uint64_t now_ms; /* the caller's clock (real, or the simulator's) */
    uint32_t interval_ms;
} policy_snapshot_t;

/* One decision of rebalance: a move for VM `from` to act on. */
typedef struct policy_move {
    uint32_t what; /* enum plan_what */
    uint32_t from, to;
    uint32_t n;     /* PLAN_RUNNABLE, PLAN_WAITING: how many */
    uint32_t cause; /* enum mig_cause: MIG_REBALANCE or MIG_AFFINITY */
    uint64_t pid;   /* PLAN_PID */
} policy_move_t;

/* What rebalance remembers between calls (the caller's private memory,
 * zeroed at the start): processes it moved lately, so that it does not
 * move one back and forth. */
#define POLICY_RECENT 256u
typedef struct policy_memory {
    uint64_t pid[POLICY_RECENT];
    uint64_t at_ms[POLICY_RECENT];
} policy_memory_t;

/* Most moves one rebalance may return. */
#define POLICY_MAX_MOVES 256u

typedef struct policy {
    const char *name;
    const char *desc; /* one line */
    const policy_param_t *params;
    uint32_t n_params;
    /* place reads vms[].runq and procs: the caller fills them (else only
     * n_vms, node and l3 are filled, and no other VM's line is read) */
    bool place_reads_load;
    /* rebalance may ask for PLAN_WAITING moves: VMs keep a list of their
     * waiting processes (else they spare themselves the bookkeeping) */
    bool moves_waiting;
    uint32_t (*place)(const int64_t *pv, const policy_snapshot_t *s, uint32_t self,
                      uint32_t *cursor);
    size_t (*victims)(const int64_t *pv, const policy_snapshot_t *s, uint32_t thief, uint32_t *out,
                      size_t max);
    size_t (*amount)(const int64_t *pv, size_t queued, enum vm_distance d);
    size_t (*rebalance)(const int64_t *pv, const policy_snapshot_t *s, policy_memory_t *mem,
                        policy_move_t *out, size_t max);
    uint32_t (*sample_every)(const int64_t *pv); /* NULL: no traffic samples */
} policy_t;

/* The registry: policies by index (the id in shm_policy_t) and by name. */
uint32_t policy_count(void);
const policy_t *policy_at(uint32_t id);                     /* NULL past the end */
int policy_find(const char *name);                          /* its id, or -1 */
uint32_t policy_default_id(void);                           /* steal */
int policy_param_find(const policy_t *p, const char *name); /* its index, or -1 */
void policy_defaults(const policy_t *p, int64_t *out);      /* POLICY_MAX_PARAMS room */
/* "a, b and c": the names of every policy, for error messages. */
void policy_names(char *buf, size_t len);

/* The distance class between VMs a and b of a snapshot. */
enum vm_distance policy_distance(const policy_snapshot_t *s, uint32_t a, uint32_t b);

/* Helpers the policies share. */
uint32_t policy_place_round_robin(uint32_t n_vms, uint32_t self, uint32_t *cursor);
uint32_t policy_place_least_loaded(const policy_snapshot_t *s, uint32_t self);
bool policy_recent(const policy_memory_t *m, uint64_t pid, uint64_t now_ms, uint64_t within_ms);
void policy_remember(policy_memory_t *m, uint64_t pid, uint64_t now_ms);

extern const policy_t policy_none, policy_round_robin, policy_least_loaded, policy_steal,
    policy_affinity;

#endif
