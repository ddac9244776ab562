/*
 * test_sim.c: the policy simulator itself (supervisor/sim.c, workload.c):
 * the workload format and each of its errors, the set-up errors, and the
 * model's promises (a lone VM runs everything, a chatty pair on one VM
 * sends only local messages, a heap moves to the new node after a
 * collection's worth of CPU there).
 */
#include "tests/unit.h"

#include "supervisor/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char err[512];

static void expect_error(const char *text, const char *want)
{
    sim_workload_t w;
    err[0] = 0;
    CU_ASSERT_EQUAL(sim_workload_parse(text, "w.wl", &w, err, sizeof err), -1);
    if (!strstr(err, want))
        fprintf(stderr, "\nfor \"%s\" wanted \"%s\", got: %s\n", text, want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_PTR_NULL(w.groups);
}

static void test_parse(void)
{
    sim_workload_t w;
    CU_ASSERT_EQUAL_FATAL(sim_workload_parse("# a comment\n"
                                             "\n"
                                             "proc a count=3 vm=1 at=2.5 cpu=10 jitter=5 ; note\n"
                                             "proc c count=2 talk=s rounds=7 think=0.001 from=1\n"
                                             "  proc s count=1 serve=0.25\n"
                                             "proc i count=4 idle\n",
                                             "w.wl", &w, err, sizeof err),
                          0);
    CU_ASSERT_EQUAL_FATAL(w.n_groups, 4);
    CU_ASSERT_EQUAL(w.n_procs, 10);
    const sim_group_t *a = &w.groups[0], *c = &w.groups[1], *s = &w.groups[2];
    CU_ASSERT_STRING_EQUAL(a->name, "a");
    CU_ASSERT_EQUAL(a->count, 3);
    CU_ASSERT_EQUAL(a->vm, 1);
    CU_ASSERT_EQUAL(a->at_ns, 2500000);
    CU_ASSERT_EQUAL(a->kind, SIM_CPU);
    CU_ASSERT_EQUAL(a->cpu_ns, 10000000);
    CU_ASSERT_EQUAL(a->jitter, 5);
    CU_ASSERT_EQUAL(a->line, 3);
    CU_ASSERT_EQUAL(c->kind, SIM_TALK);
    CU_ASSERT_EQUAL(c->peer, 2); /* named before it was defined */
    CU_ASSERT_EQUAL(c->rounds, 7);
    CU_ASSERT_EQUAL(c->cpu_ns, 1000);
    CU_ASSERT_EQUAL(c->vm, -1);
    CU_ASSERT_EQUAL(c->from, 1);
    CU_ASSERT_EQUAL(s->kind, SIM_SERVE);
    CU_ASSERT_EQUAL(s->cpu_ns, 250000);
    CU_ASSERT_EQUAL(w.groups[3].kind, SIM_IDLE);
    sim_workload_free(&w);
}

static void test_parse_errors(void)
{
    expect_error("", "w.wl: no processes");
    expect_error("# nothing\n", "no processes");
    expect_error("run a count=1 cpu=1\n", "w.wl:1: expected \"proc NAME count=N KIND\"");
    expect_error("proc\n", "w.wl:1: expected \"proc NAME");
    expect_error("proc a\n", "w.wl:1: proc a: count=N is missing");
    expect_error("proc count=1 cpu=1\n", "expected a name");
    expect_error("proc a count=1\n", "proc a: a kind is missing");
    expect_error("\nproc a count=0 cpu=1\n", "w.wl:2: count: \"0\" is not a whole number in 1..");
    expect_error("proc a count=x cpu=1\n", "count: \"x\"");
    expect_error("proc a count=1 cpu=-1\n", "cpu: \"-1\" is not a time in milliseconds");
    expect_error("proc a count=1 cpu=1ms\n", "cpu: \"1ms\"");
    expect_error("proc a count=1 cpu=\n", "cpu: \"\"");
    expect_error("proc a count=1 cpu=1 speed=3\n", "proc a: unknown key \"speed\"");
    expect_error("proc a count=1 cpu=1 idle\n", "more than one kind");
    expect_error("proc a count=1 idle=3\n", "idle takes no value");
    expect_error("proc a count=1 cpu=1 jitter=101\n", "jitter");
    expect_error("proc a count=1 idle jitter=5\n", "jitter= goes with cpu=");
    expect_error("proc a count=1 cpu=1 rounds=5\n", "rounds= and think= go with talk=");
    expect_error("proc a count=1 talk=b\n", "talk needs rounds=R");
    expect_error("proc a count=1 talk=b rounds=3\n", "w.wl:1: talk: no group \"b\"");
    expect_error("proc b count=1 idle\nproc a count=1 talk=b rounds=3\n",
                 "w.wl:2: talk: group \"b\" does not serve");
    expect_error("proc a count=1 idle\nproc a count=1 idle\n",
                 "w.wl:2: proc: a group \"a\" exists");
    expect_error("proc a count=1 vm=5000 idle\n", "vm: \"5000\"");
    expect_error("proc a count=600000 idle\nproc b count=600000 idle\n", "too many processes");
    expect_error("proc abcdefghijklmnopqrstuvwxyz0123456789 count=1 idle\n", "too long");
}

static void test_load_errors(void)
{
    sim_workload_t w;
    CU_ASSERT_EQUAL(sim_workload_load("/nonexistent/x.wl", &w, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read workload \"/nonexistent/x.wl\""));
    char path[] = "/tmp/shoal-wl-XXXXXX";
    int fd = mkstemp(path);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_EQUAL(write(fd, "proc a count=1 idle\n\0x", 22), 22);
    close(fd);
    CU_ASSERT_EQUAL(sim_workload_load(path, &w, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a text file"));
    unlink(path);
}

static sim_t *make(const char *topology, const char *policy, const char *text, sim_workload_t *w)
{
    if (sim_workload_parse(text, "w.wl", w, err, sizeof err) < 0)
        return NULL;
    sim_config_t cfg = {.topology = topology, .policy = (uint32_t)policy_find(policy), .seed = 1};
    policy_defaults(policy_at(cfg.policy), cfg.pv);
    sim_t *s = sim_new(&cfg, w, err, sizeof err);
    if (!s)
        sim_workload_free(w);
    return s;
}

static void test_setup_errors(void)
{
    sim_workload_t w;
    CU_ASSERT_PTR_NULL(make("pack:1 core:2 pu:1", "steal", "\nproc a count=1 vm=2 idle\n", &w));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "w.wl:2: proc a: vm=2, but the topology has 2 VMs (0..1)"));
    CU_ASSERT_PTR_NULL(make("pack:1 core:2 pu:1", "steal", "proc a count=1 from=7 cpu=1\n", &w));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "from=7"));
    CU_ASSERT_PTR_NULL(make("pack:2,gizmo:3", "steal", "proc a count=1 idle\n", &w));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "unknown level type \"gizmo\""));
    CU_ASSERT_PTR_NULL(make("", "steal", "proc a count=1 idle\n", &w));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "a topology is needed"));
}

/* One VM runs all the work: the makespan is the sum of the CPU, and the
 * VM was busy all that time. */
static void test_one_vm(void)
{
    sim_workload_t w;
    sim_t *s = make("pack:1 core:1 pu:1", "steal", "proc a count=10 vm=0 cpu=3\n", &w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    sim_result_t r;
    sim_run(s, &r);
    CU_ASSERT_EQUAL(r.n_vms, 1);
    CU_ASSERT_EQUAL(r.unfinished, 0);
    CU_ASSERT_EQUAL(r.finite, 10);
    CU_ASSERT_EQUAL(r.makespan_ns, 30000000);
    CU_ASSERT_EQUAL(r.vms[0].busy_ns, 30000000);
    CU_ASSERT_EQUAL(r.moves, 0);
    CU_ASSERT_EQUAL(r.vms[0].procs, 0);
    sim_free(s);
    sim_workload_free(&w);
}

/* A pair on one VM: every message local, each round trip costs the two
 * answers' CPU and two local hops. */
static void test_local_pair(void)
{
    sim_workload_t w;
    sim_t *s = make("pack:1 core:2 pu:1", "none",
                    "proc s count=1 vm=1 serve=0.01\n"
                    "proc c count=1 vm=1 talk=s rounds=100 think=0.01\n",
                    &w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    sim_result_t r;
    sim_run(s, &r);
    CU_ASSERT_EQUAL(r.unfinished, 0);
    CU_ASSERT_EQUAL(r.msgs_remote, 0);
    CU_ASSERT_EQUAL(r.msgs_local, 200);
    CU_ASSERT_EQUAL(r.vms[0].busy_ns, 0);
    /* each round: think 10 us, a hop, serve 10 us, a hop; plus the
     * server's start (1 us) overlaps the first think */
    CU_ASSERT_TRUE(r.makespan_ns >= 100 * (20000 + 2 * SIM_MSG_LOCAL_NS));
    CU_ASSERT_TRUE(r.makespan_ns < 100 * (20000 + 2 * SIM_MSG_LOCAL_NS) + 5000);
    CU_ASSERT_EQUAL(r.vms[1].procs, 1); /* the server waits on */
    sim_free(s);
    sim_workload_free(&w);
}

/* A process stolen across nodes runs on remote memory until it has run a
 * collection's worth there; then its heap has moved. */
static void test_remote_memory(void)
{
    sim_workload_t w;
    sim_t *s = make("pack:1 numa:2 core:1 pu:1", "steal", "proc a count=8 vm=0 cpu=10\n", &w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    sim_result_t r;
    sim_run(s, &r);
    CU_ASSERT_EQUAL(r.unfinished, 0);
    CU_ASSERT_TRUE(r.moves_across_nodes > 0);
    /* each stolen process: SIM_GC_NS of remote time at most */
    CU_ASSERT_TRUE(r.remote_mem_ns > 0);
    CU_ASSERT_TRUE(r.remote_mem_ns <= r.moves_across_nodes * (uint64_t)SIM_GC_NS);
    sim_free(s);
    sim_workload_free(&w);
}

static CU_TestInfo tests[] = {
    {"a workload file with every kind and key", test_parse},
    {"workload errors name the file, line and key", test_parse_errors},
    {"unreadable workload files", test_load_errors},
    {"set-up errors: VMs the topology lacks, bad topologies", test_setup_errors},
    {"one VM runs everything", test_one_vm},
    {"a pair on one VM sends only local messages", test_local_pair},
    {"remote memory until the heap follows", test_remote_memory},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(sim, tests, NULL, NULL)
