/*
 * test_policy.c: each balancing policy on synthetic topologies, through
 * the simulator (supervisor/sim.h), which runs the policies' own decision
 * functions; and the decisions themselves on hand-made snapshots.
 *
 * Topologies used:
 *   "pack:1 numa:2 core:2 pu:1"       VMs 0,1 on node 0; 2,3 on node 1
 *   "pack:1 numa:1 l3:2 core:2 pu:1"  one node; VMs 0,1 share an L3, 2,3 another
 *   "pack:1 core:2 pu:1", "pack:1 core:4 pu:1"
 */
#include "tests/unit.h"

#include "policy/pairs.h"
#include "policy/policy.h"
#include "supervisor/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TWO_NODES "pack:1 numa:2 core:2 pu:1"
#define TWO_L3 "pack:1 numa:1 l3:2 core:2 pu:1"

typedef struct run {
    sim_workload_t w;
    sim_t *s;
    sim_result_t r;
} run_t;

/* Run `workload` under `policy` (parameters: defaults, then `set`, a list
 * of name=value for that policy's parameters, NULL-terminated). */
static bool run_sim(run_t *x, const char *topology, const char *policy, const char *const *set,
                    const char *workload, uint64_t until_ms)
{
    char err[512];
    memset(x, 0, sizeof *x);
    if (sim_workload_parse(workload, "test.wl", &x->w, err, sizeof err) < 0) {
        fprintf(stderr, "\nworkload: %s\n", err);
        return false;
    }
    int id = policy_find(policy);
    if (id < 0)
        return false;
    sim_config_t cfg = {
        .topology = topology, .policy = (uint32_t)id, .seed = 7, .until_ms = until_ms};
    const policy_t *pol = policy_at((uint32_t)id);
    policy_defaults(pol, cfg.pv);
    for (; set && *set; set++) {
        char name[64];
        const char *eq = strchr(*set, '=');
        snprintf(name, sizeof name, "%.*s", (int)(eq - *set), *set);
        int k = policy_param_find(pol, name);
        if (k < 0)
            return false;
        cfg.pv[k] = strtoll(eq + 1, NULL, 10);
    }
    x->s = sim_new(&cfg, &x->w, err, sizeof err);
    if (!x->s) {
        fprintf(stderr, "\nsim: %s\n", err);
        sim_workload_free(&x->w);
        return false;
    }
    sim_run(x->s, &x->r);
    return true;
}

static void done(run_t *x)
{
    sim_free(x->s);
    sim_workload_free(&x->w);
}

/* ------------------------------------------------------------------ */
/* steal                                                                */

/* Three processes on VM 0 is below remote_min (4): VM 1, on the same
 * node, steals; VMs 2 and 3 on the other node never do. With 40, a
 * cross-node steal happens, and only from a victim whose queue was at
 * least remote_min when the thief asked; a remote_min above any queue
 * stops them all. */
static void test_steal_threshold(void)
{
    run_t x;
    CU_ASSERT_TRUE_FATAL(run_sim(&x, TWO_NODES, "steal", NULL, "proc w count=3 vm=0 cpu=20\n", 0));
    CU_ASSERT_EQUAL(x.r.unfinished, 0);
    CU_ASSERT_TRUE(x.r.moves_by_cause[MIG_STEAL] > 0);
    CU_ASSERT_EQUAL(x.r.moves_across_nodes, 0);
    CU_ASSERT_EQUAL(x.r.vms[2].mig_in[MIG_STEAL] + x.r.vms[3].mig_in[MIG_STEAL], 0);
    CU_ASSERT_TRUE(x.r.vms[1].mig_in[MIG_STEAL] > 0);
    done(&x);

    CU_ASSERT_TRUE_FATAL(run_sim(&x, TWO_NODES, "steal", NULL, "proc w count=40 vm=0 cpu=20\n", 0));
    CU_ASSERT_TRUE(x.r.moves_across_nodes > 0);
    size_t n;
    const sim_move_t *m = sim_moves(x.s, &n);
    size_t across = 0;
    for (size_t i = 0; i < n; i++)
        if (m[i].cause == MIG_STEAL && sim_vm_node(x.s, m[i].from) != sim_vm_node(x.s, m[i].to)) {
            across++;
            CU_ASSERT_TRUE(m[i].queued >= 4);
        }
    CU_ASSERT_EQUAL(across, x.r.moves_across_nodes);
    uint64_t makespan_default = x.r.makespan_ns;
    done(&x);

    static const char *const never[] = {"remote_min=1000000", NULL};
    CU_ASSERT_TRUE_FATAL(
        run_sim(&x, TWO_NODES, "steal", never, "proc w count=40 vm=0 cpu=20\n", 0));
    CU_ASSERT_EQUAL(x.r.moves_across_nodes, 0);
    CU_ASSERT_TRUE(x.r.moves_by_cause[MIG_STEAL] > 0);
    CU_ASSERT_TRUE(x.r.makespan_ns > makespan_default); /* two VMs of four did the work */
    done(&x);
}

/* Work that arrives on VM 0 at 110 ms, while VM 1 sleeps (it asked at the
 * start, found nothing, and would ask again at 150 ms): VM 0 hands it
 * half at once, as balance.c's wake_thief does, so the 8 workers of 5 ms
 * end about 20 ms later instead of 40. */
static void test_steal_wakes_sleeper(void)
{
    run_t x;
    CU_ASSERT_TRUE_FATAL(run_sim(&x, "pack:1 numa:1 core:2 pu:1", "steal", NULL,
                                 "proc w count=8 from=0 at=110 cpu=5\n", 0));
    CU_ASSERT_EQUAL(x.r.unfinished, 0);
    size_t n;
    const sim_move_t *m = sim_moves(x.s, &n);
    CU_ASSERT_TRUE_FATAL(n > 0);
    CU_ASSERT_EQUAL(m[0].cause, MIG_STEAL);
    CU_ASSERT_EQUAL(m[0].to, 1);
    CU_ASSERT_TRUE(m[0].at_ns < 111000000u);
    CU_ASSERT_TRUE(x.r.makespan_ns < 135000000u);
    done(&x);
}

/* The first steal of each idle VM is from its nearest busy VM: on two
 * nodes, from the VM of its own node; with two L3 caches on one node,
 * from the VM that shares its L3. */
static void test_steal_nearest(void)
{
    static const char *const topologies[] = {TWO_NODES, TWO_L3};
    for (int t = 0; t < 2; t++) {
        run_t x;
        CU_ASSERT_TRUE_FATAL(run_sim(&x, topologies[t], "steal", NULL,
                                     "proc a count=20 vm=0 cpu=10\n"
                                     "proc b count=20 vm=2 cpu=10\n",
                                     0));
        size_t n;
        const sim_move_t *m = sim_moves(x.s, &n);
        int first[4] = {-1, -1, -1, -1};
        for (size_t i = 0; i < n; i++)
            if (m[i].cause == MIG_STEAL && first[m[i].to] < 0)
                first[m[i].to] = (int)m[i].from;
        CU_ASSERT_EQUAL(first[1], 0);
        CU_ASSERT_EQUAL(first[3], 2);
        if (t == 0)
            CU_ASSERT_EQUAL(x.r.moves_across_nodes, 0);
        done(&x);
    }
}

/* The decision itself, on a snapshot: victims nearest first, each class
 * starting after the thief; a remote victim needs remote_min; the amount
 * is the share, and the victim keeps one. */
static void test_steal_decisions(void)
{
    policy_vm_t vms[6] = {
        {.node = 0, .l3 = 0, .runq = 0, .alive = 1},  /* the thief */
        {.node = 0, .l3 = 1, .runq = 9, .alive = 1},  /* same node */
        {.node = 0, .l3 = 0, .runq = 2, .alive = 1},  /* same L3 */
        {.node = 1, .l3 = 2, .runq = 3, .alive = 1},  /* remote, below remote_min */
        {.node = 1, .l3 = 2, .runq = 50, .alive = 1}, /* remote */
        {.node = 0, .l3 = 0, .runq = 1, .alive = 1},  /* same L3, too short */
    };
    policy_snapshot_t s = {.n_vms = 6, .vms = vms};
    int64_t pv[POLICY_MAX_PARAMS];
    policy_defaults(&policy_steal, pv);
    uint32_t out[6];
    size_t n = policy_steal.victims(pv, &s, 0, out, 6);
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(out[0], 2);
    CU_ASSERT_EQUAL(out[1], 1);
    CU_ASSERT_EQUAL(out[2], 4);
    CU_ASSERT_EQUAL(policy_steal.amount(pv, 9, VM_DIST_NODE), 4);
    CU_ASSERT_EQUAL(policy_steal.amount(pv, 1, VM_DIST_L3), 0);
    pv[2] = 100; /* share: all but one */
    CU_ASSERT_EQUAL(policy_steal.amount(pv, 9, VM_DIST_NODE), 8);
    vms[4].alive = 0;
    CU_ASSERT_EQUAL(policy_steal.victims(pv, &s, 0, out, 6), 2);
}

/* ------------------------------------------------------------------ */
/* least-loaded                                                         */

/* 37 long CPU-bound processes on VM 0 of four: the rebalancer brings the
 * runnable processes within one of each other, and keeps them there. */
static void test_least_loaded_converges(void)
{
    run_t x;
    CU_ASSERT_TRUE_FATAL(run_sim(&x, "pack:1 core:4 pu:1", "least-loaded", NULL,
                                 "proc w count=37 vm=0 cpu=100000\n", 300));
    CU_ASSERT_EQUAL(x.r.unfinished, 37);
    CU_ASSERT_TRUE(x.r.final_runnable_imbalance <= 1);
    uint64_t sum = 0;
    for (uint32_t i = 0; i < 4; i++) {
        sum += x.r.vms[i].runnable;
        CU_ASSERT_TRUE(x.r.vms[i].runnable >= 9 && x.r.vms[i].runnable <= 10);
    }
    CU_ASSERT_EQUAL(sum, 37);
    CU_ASSERT_TRUE(x.r.moves_by_cause[MIG_REBALANCE] >= 27);
    CU_ASSERT_EQUAL(x.r.moves_by_cause[MIG_STEAL], 0);
    CU_ASSERT_TRUE(x.r.mean_runnable_imbalance < 5);
    done(&x);
}

/* Waiting processes count too, once runnable load is even: 60 idle ones
 * on VM 0 end within procs_slack of each other. */
static void test_least_loaded_waiting(void)
{
    run_t x;
    CU_ASSERT_TRUE_FATAL(run_sim(&x, "pack:1 core:4 pu:1", "least-loaded", NULL,
                                 "proc i count=60 vm=0 idle\n", 200));
    CU_ASSERT_TRUE(x.r.final_imbalance <= 8);
    CU_ASSERT_TRUE(x.r.vms[0].procs < 60);
    done(&x);
}

/* The plan itself: shares of an uneven total, nearest receivers first. */
static void test_least_loaded_plan(void)
{
    policy_vm_t vms[4] = {
        {.node = 0, .l3 = UINT32_MAX, .runq = 11, .alive = 1},
        {.node = 1, .l3 = UINT32_MAX, .runq = 0, .alive = 1},
        {.node = 0, .l3 = UINT32_MAX, .runq = 0, .alive = 1},
        {.node = 1, .l3 = UINT32_MAX, .runq = 1, .alive = 1},
    };
    policy_snapshot_t s = {.n_vms = 4, .vms = vms};
    int64_t pv[POLICY_MAX_PARAMS];
    policy_defaults(&policy_least_loaded, pv);
    policy_memory_t mem = {0};
    policy_move_t m[8];
    size_t n = policy_least_loaded.rebalance(pv, &s, &mem, m, 8);
    /* 12 over 4: 3 each; VM 0 gives 8: first 3 to VM 2 (its node) */
    CU_ASSERT_EQUAL_FATAL(n, 3);
    CU_ASSERT_EQUAL(m[0].from, 0);
    CU_ASSERT_EQUAL(m[0].to, 2);
    CU_ASSERT_EQUAL(m[0].n, 3);
    CU_ASSERT_EQUAL(m[0].what, PLAN_RUNNABLE);
    uint32_t got[4] = {0};
    for (size_t k = 0; k < n; k++)
        got[m[k].to] += m[k].n;
    CU_ASSERT_EQUAL(got[1], 3);
    CU_ASSERT_EQUAL(got[2], 3);
    CU_ASSERT_EQUAL(got[3], 2);
    /* even within min_diff: nothing */
    vms[0].runq = 2;
    vms[1].runq = 1;
    vms[2].runq = 1;
    vms[3].runq = 1;
    CU_ASSERT_EQUAL(policy_least_loaded.rebalance(pv, &s, &mem, m, 8), 0);
}

/* ------------------------------------------------------------------ */
/* affinity                                                             */

/* Two chatty pairs, each spawned apart (clients on VM 0, servers on VM
 * 1): affinity puts each pair on one VM, one pair on each VM, and the
 * work ends sooner than under none. */
static void test_affinity_pairs(void)
{
    static const char wl[] = "proc server count=2 vm=1 serve=0.001\n"
                             "proc client count=2 vm=0 talk=server rounds=50000 think=0.001\n";
    run_t x, y;
    CU_ASSERT_TRUE_FATAL(run_sim(&x, "pack:1 core:2 pu:1", "affinity", NULL, wl, 0));
    CU_ASSERT_TRUE_FATAL(run_sim(&y, "pack:1 core:2 pu:1", "none", NULL, wl, 0));
    uint64_t server = sim_group_pid(x.s, 0), client = sim_group_pid(x.s, 1);
    for (int i = 0; i < 2; i++)
        CU_ASSERT_EQUAL(sim_owner(x.s, client + i), sim_owner(x.s, server + i));
    CU_ASSERT_NOT_EQUAL(sim_owner(x.s, server), sim_owner(x.s, server + 1));
    CU_ASSERT_TRUE(x.r.moves_by_cause[MIG_AFFINITY] >= 2);
    CU_ASSERT_EQUAL(x.r.moves_by_cause[MIG_STEAL] + x.r.moves_by_cause[MIG_REBALANCE], 0);
    CU_ASSERT_TRUE(x.r.msgs_local > x.r.msgs_remote);
    CU_ASSERT_EQUAL(y.r.msgs_local, 0);
    CU_ASSERT_TRUE(x.r.makespan_ns < y.r.makespan_ns);
    done(&x);
    done(&y);
}

/* A balanced load that does not talk across VMs stays where it is: CPU
 * work and idle processes on both VMs, and a pair that talks on one VM. */
static void test_affinity_silent(void)
{
    run_t x;
    CU_ASSERT_TRUE_FATAL(run_sim(&x, "pack:1 core:2 pu:1", "affinity", NULL,
                                 "proc a count=4 vm=0 cpu=50\n"
                                 "proc b count=4 vm=1 cpu=50\n"
                                 "proc i count=10 vm=0 idle\n"
                                 "proc j count=10 vm=1 idle\n"
                                 "proc s count=1 vm=1 serve=0.001\n"
                                 "proc c count=1 vm=1 talk=s rounds=20000\n",
                                 0));
    CU_ASSERT_EQUAL(x.r.unfinished, 0);
    CU_ASSERT_EQUAL(x.r.moves, 0);
    CU_ASSERT_EQUAL(x.r.msgs_remote, 0);
    done(&x);
}

/* The decision: the heaviest pair first, a process only towards its
 * heaviest partner, within the imbalance bound, never twice within the
 * cooldown, nothing when traffic is local. */
static void test_affinity_plan(void)
{
    policy_vm_t vms[2] = {
        {.l3 = UINT32_MAX, .procs = 2, .alive = 1, .msgs_remote = 1000, .msgs_local = 10},
        {.l3 = UINT32_MAX, .procs = 2, .alive = 1, .msgs_remote = 1000, .msgs_local = 10},
    };
    policy_pair_t pairs[] = {
        {.a = 10, .b = 20, .vm_a = 0, .vm_b = 1, .msgs = 900},
        {.a = 11, .b = 21, .vm_a = 0, .vm_b = 1, .msgs = 800},
        {.a = 10, .b = 21, .vm_a = 0, .vm_b = 1, .msgs = 700}, /* neither's heaviest */
    };
    policy_snapshot_t s = {
        .n_vms = 2, .vms = vms, .pairs = pairs, .n_pairs = 3, .now_ms = 1000, .interval_ms = 10};
    int64_t pv[POLICY_MAX_PARAMS];
    policy_defaults(&policy_affinity, pv);
    policy_memory_t mem = {0};
    policy_move_t m[8];
    size_t n = policy_affinity.rebalance(pv, &s, &mem, m, 8);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    /* a tie moves b to a; then the other pair evens the VMs out */
    CU_ASSERT_EQUAL(m[0].pid, 20);
    CU_ASSERT_EQUAL(m[0].from, 1);
    CU_ASSERT_EQUAL(m[0].to, 0);
    CU_ASSERT_EQUAL(m[0].cause, MIG_AFFINITY);
    CU_ASSERT_EQUAL(m[1].pid, 11);
    CU_ASSERT_EQUAL(m[1].from, 0);
    CU_ASSERT_EQUAL(m[1].to, 1);
    /* within the cooldown, the same plan moves nobody */
    s.now_ms += 50;
    CU_ASSERT_EQUAL(policy_affinity.rebalance(pv, &s, &mem, m, 8), 0);
    /* after it, a fresh memory; but local traffic alone: nothing */
    policy_memory_t fresh = {0};
    vms[0].msgs_remote = vms[1].msgs_remote = 0;
    CU_ASSERT_EQUAL(policy_affinity.rebalance(pv, &s, &fresh, m, 8), 0);
    /* remote traffic, but the bound would be broken: 5 against 1 */
    vms[0].msgs_remote = 1000;
    vms[0].procs = 5;
    vms[1].procs = 1;
    pairs[0] = (policy_pair_t){.a = 10, .b = 20, .vm_a = 1, .vm_b = 0, .msgs = 900};
    s.n_pairs = 1;
    n = policy_affinity.rebalance(pv, &s, &fresh, m, 8);
    /* 20 (on VM 0, the busier one) joins 10 on VM 1: that evens them */
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(m[0].pid, 20);
    CU_ASSERT_EQUAL(m[0].to, 1);
    /* too light to be worth a move */
    policy_memory_t fresh2 = {0};
    pairs[0].msgs = 1; /* 100 a second */
    CU_ASSERT_EQUAL(policy_affinity.rebalance(pv, &s, &fresh2, m, 8), 0);
}

/* ------------------------------------------------------------------ */
/* none, round-robin                                                    */

static const char *const mixed = "proc sleeper count=20 vm=0 idle\n"
                                 "proc echo count=1 vm=3 serve=0.002\n"
                                 "proc chatter count=1 vm=0 talk=echo rounds=5000 think=0.002\n"
                                 "proc skew count=24 vm=0 cpu=3\n"
                                 "proc wave count=16 from=1 at=2 cpu=2 jitter=20\n";

/* none: no moves at all, whatever the load; (spawn) stays on the
 * spawning VM. */
static void test_none(void)
{
    run_t x;
    CU_ASSERT_TRUE_FATAL(run_sim(&x, TWO_NODES, "none", NULL, mixed, 0));
    CU_ASSERT_EQUAL(x.r.unfinished, 0);
    CU_ASSERT_EQUAL(x.r.moves, 0);
    uint64_t wave = sim_group_pid(x.s, 4);
    for (int i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(sim_owner(x.s, wave + i), 1);
    CU_ASSERT_EQUAL(x.r.vms[2].busy_ns, 0);
    done(&x);
}

/* round-robin: spawns go to the VMs in turn, starting after the spawning
 * VM; nothing moves afterwards. */
static void test_round_robin(void)
{
    run_t x;
    CU_ASSERT_TRUE_FATAL(run_sim(&x, TWO_NODES, "round-robin", NULL, mixed, 0));
    CU_ASSERT_EQUAL(x.r.moves, 0);
    uint64_t wave = sim_group_pid(x.s, 4);
    for (int i = 0; i < 16; i++)
        CU_ASSERT_EQUAL(sim_owner(x.s, wave + i), (uint32_t)(1 + 1 + i) % 4);
    done(&x);
}

/* least-loaded placement: a burst of spawns spreads, counting its own
 * placements into its view. */
static void test_least_loaded_place(void)
{
    policy_vm_t vms[3] = {
        {.l3 = UINT32_MAX, .runq = 1, .procs = 5, .alive = 1},
        {.l3 = UINT32_MAX, .runq = 0, .procs = 9, .alive = 1},
        {.l3 = UINT32_MAX, .runq = 0, .procs = 3, .alive = 1},
    };
    policy_snapshot_t s = {.n_vms = 3, .vms = vms};
    CU_ASSERT_EQUAL(policy_place_least_loaded(&s, 0), 2); /* runq 0, fewer procs */
    vms[2].alive = 0;
    CU_ASSERT_EQUAL(policy_place_least_loaded(&s, 0), 1);
    vms[1].runq = 1;
    vms[1].procs = 5;
    CU_ASSERT_EQUAL(policy_place_least_loaded(&s, 0), 0); /* a tie: the spawning VM */
}

/* ------------------------------------------------------------------ */
/* the simulator's own promises                                         */

/* The same seed gives the same run, move for move; another seed changes
 * the jitter, so the run. */
static void test_deterministic(void)
{
    run_t a, b;
    CU_ASSERT_TRUE_FATAL(run_sim(&a, TWO_NODES, "steal", NULL, mixed, 0));
    CU_ASSERT_TRUE_FATAL(run_sim(&b, TWO_NODES, "steal", NULL, mixed, 0));
    CU_ASSERT_EQUAL(a.r.makespan_ns, b.r.makespan_ns);
    CU_ASSERT_EQUAL(a.r.moves, b.r.moves);
    CU_ASSERT_EQUAL(a.r.remote_mem_ns, b.r.remote_mem_ns);
    size_t na, nb;
    const sim_move_t *ma = sim_moves(a.s, &na), *mb = sim_moves(b.s, &nb);
    CU_ASSERT_EQUAL_FATAL(na, nb);
    CU_ASSERT_EQUAL(memcmp(ma, mb, na * sizeof *ma), 0);
    done(&a);
    done(&b);
}

/* Pairs sampled on several VMs merge into one entry each, heaviest first. */
static void test_pairs(void)
{
    pairs_t *t = calloc(1, sizeof *t);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    for (int i = 0; i < 5; i++)
        pairs_note(t, 7, 0, 3, 1); /* 3 < 7: stored as (3, 7) */
    pairs_note(t, 9, 0, 4, 0);
    pairs_note(t, 5, 0, 5, 0); /* to itself: not a pair */
    plan_pair_t raw[PLAN_PAIRS * 2];
    uint32_t n = pairs_take(t, raw, PLAN_PAIRS);
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_EQUAL(raw[0].a, 3);
    CU_ASSERT_EQUAL(raw[0].b, 7);
    CU_ASSERT_EQUAL(raw[0].vm_a, 1);
    CU_ASSERT_EQUAL(raw[0].vm_b, 0);
    CU_ASSERT_EQUAL(raw[0].count, 5);
    CU_ASSERT_EQUAL(pairs_take(t, raw, PLAN_PAIRS), 0); /* emptied */
    /* another VM saw (3, 7) too, and (4, 9) a lot */
    for (int i = 0; i < 4; i++)
        pairs_note(t, 3, 1, 7, 0);
    for (int i = 0; i < 20; i++)
        pairs_note(t, 4, 1, 9, 0);
    plan_pair_t first[2] = {raw[0], raw[1]};
    uint32_t m = pairs_take(t, raw, PLAN_PAIRS);
    CU_ASSERT_EQUAL_FATAL(m, 2);
    raw[2] = first[0];
    raw[3] = first[1];
    policy_pair_t out[8];
    size_t k = pairs_merge(raw, 4, 16, out, 8);
    CU_ASSERT_EQUAL_FATAL(k, 2);
    CU_ASSERT_EQUAL(out[0].a, 4);
    CU_ASSERT_EQUAL(out[0].msgs, 21 * 16);
    CU_ASSERT_EQUAL(out[1].a, 3);
    CU_ASSERT_EQUAL(out[1].msgs, 9 * 16);
    free(t);
}

static CU_TestInfo tests[] = {
    {"steal: no cross-node steal below remote_min", test_steal_threshold},
    {"steal: the nearest victim first (node, L3)", test_steal_nearest},
    {"steal: victims and amount on a snapshot", test_steal_decisions},
    {"steal: work queued while a thief sleeps is handed to it at once", test_steal_wakes_sleeper},
    {"least-loaded: converges within one runnable process", test_least_loaded_converges},
    {"least-loaded: waiting processes spread too", test_least_loaded_waiting},
    {"least-loaded: the plan of an uneven load", test_least_loaded_plan},
    {"least-loaded: placement on the least-loaded VM", test_least_loaded_place},
    {"affinity: two chatty pairs placed apart end up together", test_affinity_pairs},
    {"affinity: a balanced, silent load is left alone", test_affinity_silent},
    {"affinity: the plan's rules", test_affinity_plan},
    {"none: no moves", test_none},
    {"round-robin: spawns in turn, no moves", test_round_robin},
    {"the simulator is deterministic from its seed", test_deterministic},
    {"pair samples count and merge", test_pairs},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(policy, tests, NULL, NULL)
