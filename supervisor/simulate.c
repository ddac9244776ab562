/*
 * simulate.c: `shoal simulate`, the command line of the policy simulator
 * (the engine is sim.c, the workload format sim.h).
 *
 *   shoal simulate --topology SPEC --policy NAME --workload FILE
 *                  [--vms N] [--config FILE] [--set S.KEY=V ...] [--seed N]
 *                  [--until MS] [--json]
 *
 * Prints the makespan, the moves (in total, by cause, and across NUMA
 * nodes), the CPU time spent on remote memory and the imbalance at the
 * end, and per VM its busy time, processes and moves.
 *
 * NOTES
 *   Supervisor process; forks nothing and maps no segment. Bad input is a
 *   "shoal: ..." line and exit status 2.
 */
#include "supervisor/simulate.h"

#include "supervisor/config.h"
#include "supervisor/policy_cli.h"
#include "supervisor/run.h"
#include "supervisor/sim.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { S_TOPOLOGY = 256, S_POLICY, S_WORKLOAD, S_VMS, S_SET, S_SEED, S_UNTIL, S_JSON, S_CONFIG };

static const struct option sim_opts[] = {
    {"topology", required_argument, NULL, S_TOPOLOGY},
    {"policy", required_argument, NULL, S_POLICY},
    {"workload", required_argument, NULL, S_WORKLOAD},
    {"vms", required_argument, NULL, S_VMS},
    {"set", required_argument, NULL, S_SET},
    {"seed", required_argument, NULL, S_SEED},
    {"until", required_argument, NULL, S_UNTIL},
    {"json", no_argument, NULL, S_JSON},
    {"config", required_argument, NULL, S_CONFIG},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char usage_text[] =
    "usage: shoal simulate --topology SPEC --policy NAME --workload FILE\n"
    "                      [--vms N] [--config FILE] [--set S.KEY=V ...] [--seed N]\n"
    "                      [--until MS] [--json]\n"
    "  runs the policy's own decisions on a simulated clock against the workload\n"
    "  (format: supervisor/sim.h; examples: examples/workloads/), deterministically\n"
    "  from the seed, without starting any VM\n";

static int sbad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sbad(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("shoal: simulate: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n", stderr);
    va_end(ap);
    return SHOAL_EXIT_USAGE;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void print_text(const sim_config_t *c, const char *wl, const sim_result_t *r)
{
    static const char *const cause[MIG_CAUSES] = {"explicit", "steal", "rebalance", "affinity",
                                                  "adopt"};
    printf("simulation: policy %s, topology \"%s\", %u VMs, workload %s, seed %" PRIu64 "\n",
           policy_at(c->policy)->name, c->topology, r->n_vms, wl, c->seed);
    if (r->finite == 0)
        printf("makespan          none: no cpu or talk processes (ran to %.3f ms)\n",
               ms(r->end_ns));
    else if (r->unfinished)
        printf("makespan          not reached: %" PRIu64
               " cpu/talk processes still running at %.3f ms\n",
               r->unfinished, ms(r->end_ns));
    else
        printf("makespan          %.3f ms\n", ms(r->makespan_ns));
    printf("moves             %" PRIu64 " (steal %" PRIu64 ", rebalance %" PRIu64
           ", affinity %" PRIu64 "), %" PRIu64 " across NUMA nodes\n",
           r->moves, r->moves_by_cause[MIG_STEAL], r->moves_by_cause[MIG_REBALANCE],
           r->moves_by_cause[MIG_AFFINITY], r->moves_across_nodes);
    printf("remote memory     %.3f ms of CPU on a node other than the heap's\n",
           ms(r->remote_mem_ns));
    printf("final imbalance   %" PRIu64 " processes owned, %" PRIu64
           " runnable (max - min over the VMs); mean runnable imbalance %.2f\n",
           r->final_imbalance, r->final_runnable_imbalance, r->mean_runnable_imbalance);
    printf("messages          %" PRIu64 " on one VM, %" PRIu64 " across VMs\n", r->msgs_local,
           r->msgs_remote);
    printf("  %4s %5s %5s %12s %7s  %s\n", "VM", "node", "L3", "busy ms", "procs",
           "moves in/out by cause");
    for (uint32_t i = 0; i < r->n_vms; i++) {
        const sim_vm_result_t *v = &r->vms[i];
        char l3[16] = "-";
        if (v->l3 != UINT32_MAX)
            snprintf(l3, sizeof l3, "%u", v->l3);
        printf("  %4u %5u %5s %12.3f %7" PRIu64 " ", i, v->node, l3, ms(v->busy_ns), v->procs);
        for (int k = MIG_STEAL; k <= MIG_AFFINITY; k++)
            printf(" %s %" PRIu64 "/%" PRIu64, cause[k], v->mig_in[k], v->mig_out[k]);
        printf("\n");
    }
}

static void print_json(const sim_config_t *c, const char *wl, const sim_result_t *r)
{
    printf("{\"policy\":");
    cli_json_string(policy_at(c->policy)->name);
    printf(",\"topology\":");
    cli_json_string(c->topology);
    printf(",\"workload\":");
    cli_json_string(wl);
    printf(",\"seed\":%" PRIu64 ",\"vms\":%u,\"end_ms\":%.6f,\"makespan_ms\":", c->seed, r->n_vms,
           ms(r->end_ns));
    if (r->unfinished || r->finite == 0)
        printf("null");
    else
        printf("%.6f", ms(r->makespan_ns));
    printf(",\"unfinished\":%" PRIu64 ",\"moves\":{\"total\":%" PRIu64 ",\"steal\":%" PRIu64
           ",\"rebalance\":%" PRIu64 ",\"affinity\":%" PRIu64 ",\"across_nodes\":%" PRIu64 "}",
           r->unfinished, r->moves, r->moves_by_cause[MIG_STEAL], r->moves_by_cause[MIG_REBALANCE],
           r->moves_by_cause[MIG_AFFINITY], r->moves_across_nodes);
    printf(",\"remote_mem_ms\":%.6f,\"final_imbalance\":%" PRIu64
           ",\"final_runnable_imbalance\":%" PRIu64 ",\"mean_runnable_imbalance\":%.4f"
           ",\"msgs_local\":%" PRIu64 ",\"msgs_remote\":%" PRIu64 ",\"per_vm\":[",
           ms(r->remote_mem_ns), r->final_imbalance, r->final_runnable_imbalance,
           r->mean_runnable_imbalance, r->msgs_local, r->msgs_remote);
    for (uint32_t i = 0; i < r->n_vms; i++) {
        const sim_vm_result_t *v = &r->vms[i];
        printf("%s{\"vm\":%u,\"node\":%u,\"l3\":", i ? "," : "", i, v->node);
        if (v->l3 == UINT32_MAX)
            printf("null");
        else
            printf("%u", v->l3);
        printf(",\"busy_ms\":%.6f,\"procs\":%" PRIu64 ",\"steal_in\":%" PRIu64
               ",\"steal_out\":%" PRIu64 ",\"rebalance_in\":%" PRIu64 ",\"rebalance_out\":%" PRIu64
               ",\"affinity_in\":%" PRIu64 ",\"affinity_out\":%" PRIu64 "}",
               ms(v->busy_ns), v->procs, v->mig_in[MIG_STEAL], v->mig_out[MIG_STEAL],
               v->mig_in[MIG_REBALANCE], v->mig_out[MIG_REBALANCE], v->mig_in[MIG_AFFINITY],
               v->mig_out[MIG_AFFINITY]);
    }
    printf("]}\n");
}

static int simulate(int argc, char **argv, shoal_opts_t *opts)
{
    const char *topology = NULL, *workload = NULL, *config = NULL;
    uint32_t vms = 0;
    uint64_t seed = 1, until = 0;
    bool json = false, have_policy = false;
    char err[512];
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, ":h", sim_opts, NULL)) != -1) {
        switch (c) {
        case S_TOPOLOGY:
            topology = optarg;
            break;
        case S_WORKLOAD:
            workload = optarg;
            break;
        case S_CONFIG:
            config = optarg;
            break;
        case S_POLICY: {
            int id = policy_find(optarg);
            if (id < 0) {
                char names[160];
                policy_names(names, sizeof names);
                return sbad("--policy: unknown policy \"%s\" (known: %s)", optarg, names);
            }
            opts->policy = (uint32_t)id + 1;
            opts->set |= OPT_SET_POLICY;
            have_policy = true;
            break;
        }
        case S_VMS:
            if (config_parse_uint(optarg, 1, SHOAL_MAX_VMS, "--vms", &vms, err, sizeof err) < 0)
                return sbad("%s", err);
            break;
        case S_SET:
            if (config_set(opts, optarg, err, sizeof err) < 0)
                return sbad("%s", err);
            have_policy = have_policy || (opts->set & OPT_SET_POLICY);
            break;
        case S_SEED:
        case S_UNTIL: {
            int64_t v;
            if (config_parse_int64(optarg, c == S_SEED ? 0 : 1, c == S_SEED ? INT64_MAX : 360000000,
                                   c == S_SEED ? "--seed" : "--until", &v, err, sizeof err) < 0)
                return sbad("%s", err);
            if (c == S_SEED)
                seed = (uint64_t)v;
            else
                until = (uint64_t)v;
            break;
        }
        case S_JSON:
            json = true;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return SHOAL_EXIT_OK;
        case ':':
            return sbad("option %s needs a value\n%s", argv[optind - 1], usage_text);
        default:
            return sbad("unknown option %s\n%s", argv[optind - 1], usage_text);
        }
    }
    if (optind < argc)
        return sbad("unexpected argument '%s'\n%s", argv[optind], usage_text);
    int status = SHOAL_EXIT_USAGE;
    /* The file's (or --set's) [run] topology and vms stand in for the flags. */
    if (config && config_load(config, opts, err, sizeof err) < 0) {
        sbad("%s", err);
        goto out;
    }
    if (!topology)
        topology = opts->topology;
    if (!vms)
        vms = opts->vms;
    have_policy = have_policy || opts->policy;
    if (!topology) {
        sbad("--topology SPEC is needed (e.g. \"pack:2 numa:2 core:2 pu:1\")");
        goto out;
    }
    if (!workload) {
        sbad("--workload FILE is needed (see examples/workloads/)");
        goto out;
    }
    if (!have_policy) {
        sbad("--policy NAME is needed ('shoal policy list')");
        goto out;
    }

    sim_config_t cfg = {.topology = topology,
                        .n_vms = vms,
                        .policy = config_policy(opts),
                        .interval_ms = config_interval_ms(opts),
                        .seed = seed,
                        .until_ms = until};
    config_policy_params(opts, cfg.policy, cfg.pv);
    sim_workload_t w;
    if (sim_workload_load(workload, &w, err, sizeof err) < 0) {
        sbad("%s", err);
        goto out;
    }
    sim_t *s = sim_new(&cfg, &w, err, sizeof err);
    if (!s) {
        sim_workload_free(&w);
        sbad("%s", err);
        goto out;
    }
    sim_result_t r;
    sim_run(s, &r);
    if (json)
        print_json(&cfg, workload, &r);
    else
        print_text(&cfg, workload, &r);
    sim_free(s);
    sim_workload_free(&w);
    status = fflush(stdout) == 0 ? SHOAL_EXIT_OK : SHOAL_EXIT_FAIL;
out:
    return status;
}

int simulate_cli_main(int argc, char **argv)
{
    shoal_opts_t o = {0};
    int status = simulate(argc, argv, &o);
    config_free(&o);
    return status;
}
