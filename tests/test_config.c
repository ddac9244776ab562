/*
 * test_config.c: option values and the INI config file
 * (supervisor/config.c): what is accepted, what flags override, and that
 * every error names FILE:LINE.
 */
#include "tests/unit.h"

#include "policy/policy.h"
#include "supervisor/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];
static char path[128];
static char err[512];

static int suite_init(void)
{
    snprintf(dir, sizeof dir, "/tmp/shoal-config-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof path, "%s/shoal.ini", dir);
    return 0;
}

static int suite_cleanup(void)
{
    unlink(path);
    return rmdir(dir);
}

static void write_file(const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs(text, f);
    fclose(f);
}

/* Load `text` and expect an error containing ":LINE: " and `want`. */
static void expect_error(const char *text, int line, const char *want)
{
    shoal_opts_t o = {0};
    write_file(text);
    err[0] = 0;
    CU_ASSERT_EQUAL(config_load(path, &o, err, sizeof err), -1);
    char where[160];
    snprintf(where, sizeof where, "%s:%d: ", path, line);
    if (!strstr(err, where) || !strstr(err, want))
        fprintf(stderr, "\nfor %s wanted %s...%s, got: %s\n", text, where, want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, where));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    config_free(&o);
}

static void test_parse_uint(void)
{
    uint32_t v = 7;
    CU_ASSERT_EQUAL(config_parse_uint("1", 1, 1024, "--vms", &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, 1);
    CU_ASSERT_EQUAL(config_parse_uint("1024", 1, 1024, "--vms", &v, err, sizeof err), 0);
    CU_ASSERT_EQUAL(v, 1024);
    static const char *const bad[] = {"0",  "1025", "abc", "",   "-1",
                                      "+3", " 3",   "3 ",  "3x", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 7;
        CU_ASSERT_EQUAL(config_parse_uint(bad[i], 1, 1024, "--vms", &v, err, sizeof err), -1);
        CU_ASSERT_EQUAL(v, 7);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "--vms"));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, "1..1024"));
    }
    /* a number too long to read is quoted by its first digits and length */
    char big[5000];
    memset(big, '9', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CU_ASSERT_EQUAL(config_parse_uint(big, 1, 1024, "--vms", &v, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "--vms: 99999999999999999999... (4999 digits) is out of range "
                                "(expected 1..1024)");
    big[0] = '-';
    CU_ASSERT_EQUAL(config_parse_uint(big, 1, 1024, "--vms", &v, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "--vms: -9999999999999999999... (4998 digits) is out of range "
                                "(expected 1..1024)");
    CU_ASSERT_EQUAL(v, 7);
}

static void test_good_file(void)
{
    write_file("; a comment\n"
               "[run]\n"
               "vms = 6\n"
               "topology = pack:2 numa:2 core:2 pu:1\n"
               "pool_mb = 128 ; inline comment\n"
               "proc_slots = 4096\n"
               "atoms = 200000\n"
               "code_mb = 256\n"
               "source_mb = 128\n");
    shoal_opts_t o = {0};
    CU_ASSERT_EQUAL_FATAL(config_load(path, &o, err, sizeof err), 0);
    CU_ASSERT_EQUAL(o.atoms, 200000);
    CU_ASSERT_EQUAL(o.code_mb, 256);
    CU_ASSERT_EQUAL(o.source_mb, 128);
    CU_ASSERT_EQUAL(o.topology_line, 4);
    /* and they size the segment */
    shm_config_t cfg;
    config_segment(&o, 2, 1, &cfg);
    CU_ASSERT_EQUAL(cfg.atom_cap, 200000);
    CU_ASSERT(cfg.atom_bytes > 200000ull * 40);
    CU_ASSERT_EQUAL(cfg.code_bytes, 256ull << 20);
    CU_ASSERT_EQUAL(cfg.source_bytes, 128ull << 20);
    CU_ASSERT_EQUAL(cfg.pool_bytes, 128ull << 20);
    CU_ASSERT_EQUAL(cfg.proc_slots, 4096);
    CU_ASSERT_EQUAL(o.vms, 6);
    CU_ASSERT_STRING_EQUAL(o.topology, "pack:2 numa:2 core:2 pu:1");
    CU_ASSERT_EQUAL(o.pool_mb, 128);
    CU_ASSERT_EQUAL(o.proc_slots, 4096);
    config_free(&o);
    CU_ASSERT_PTR_NULL(o.topology);
}

static void test_flags_override(void)
{
    write_file("[run]\nvms = 6\ntopology = pack:1 core:2\npool_mb = 128\nproc_slots = 99\n");
    shoal_opts_t o = {0};
    o.vms = 2;
    o.topology = strdup("flag-topology.xml");
    o.set = OPT_SET_VMS | OPT_SET_TOPOLOGY;
    CU_ASSERT_EQUAL_FATAL(config_load(path, &o, err, sizeof err), 0);
    CU_ASSERT_EQUAL(o.vms, 2);
    CU_ASSERT_STRING_EQUAL(o.topology, "flag-topology.xml");
    CU_ASSERT_EQUAL(o.pool_mb, 128); /* not given as a flag: from the file */
    CU_ASSERT_EQUAL(o.proc_slots, 99);
    config_free(&o);
}

static void test_errors(void)
{
    expect_error("[run]\nvms = 3\nfoo = 1\n", 3, "unknown key \"foo\"");
    expect_error("[run]\n\n[other]\nvms = 3\n", 3, "unknown section [other]");
    expect_error("[other]\n", 1, "unknown section [other]");
    expect_error("vms = 3\n[run]\n", 1, "outside a section");
    expect_error("[run]\nvms = 0\n", 2, "vms: 0 is out of range");
    expect_error("[run]\nvms = -3\n", 2, "vms: -3 is out of range (expected 1..1024)");
    expect_error("[run]\natoms = 100\n", 2, "atoms: 100 is out of range (expected 1024..16777216)");
    expect_error("[run]\ncode_mb = 0\n", 2, "code_mb: 0 is out of range");
    expect_error("[run]\nsource_mb = x\n", 2, "source_mb: \"x\" is not a number");
    expect_error("[run]\nvms = \x1b\n", 2, "vms: \"\\x1b\" is not a number");
    expect_error("[run]\nvms = many\n", 2, "not a number");
    expect_error("[run]\npool_mb = 0\n", 2, "pool_mb");
    expect_error("[run]\nproc_slots = 99999999999\n", 2, "proc_slots");
    expect_error("[run]\ntopology =\n", 2, "topology: empty value");
    expect_error("[run]\nvms 3\n", 2, "syntax error");
    expect_error("[run]\nvms = 2\npool_mb = 9\nvms = 3\n", 4, "vms is given twice (first on line 2)");
    /* inih takes an indented line after a key as more of its value */
    expect_error("[run]\nvms = 2\n  pool_mb = 9\n", 3,
                 "an indented line continues vms (line 2), and a value takes one line");
    expect_error("[run]\ntopology = pack:2\n\n\tcore:2 pu:1\n", 4,
                 "an indented line continues topology (line 2)");
    expect_error("[run]\ntopology = \"pack:2 pu:1\"\n", 2, "topology: values are written without quotes");
    expect_error("[run]\nspeed = 1\n", 2,
                 "unknown key \"speed\" in [run] (known: vms, topology, pool_mb, proc_slots, "
                 "heap_limit_mb, heap_follow, atoms, code_mb, source_mb, max_restarts, restart_window_s, stall_ms, mailbox_limit)");
    /* The first error is the one reported, whichever kind it is. */
    expect_error("[run]\nvms 3\nfoo = 1\n", 2, "syntax error");
    expect_error("[run]\nfoo = 1\nvms 3\n", 2, "unknown key");
}

static void test_missing_file(void)
{
    shoal_opts_t o = {0};
    CU_ASSERT_EQUAL(config_load("/nonexistent/shoal.ini", &o, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read config file \"/nonexistent/shoal.ini\""));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
    /* a path too long to open is cut in the message, and the reason stays */
    char longp[5000];
    memset(longp, 'a', sizeof longp - 1);
    longp[0] = '/';
    longp[sizeof longp - 1] = 0;
    CU_ASSERT_EQUAL(config_load(longp, &o, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "aaa...aaa"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "aaa\": File name too long"));
    CU_ASSERT(strlen(err) < 200);
}

/* The policy sections: [policy] names the policy and its period, each
 * [policy.NAME] sets that policy's parameters, [memory] the heap keys;
 * what is not given keeps its default. */
static void test_policy_sections(void)
{
    write_file("[policy]\n"
               "name = affinity\n"
               "interval_ms = 25\n"
               "[policy.affinity]\n"
               "sample = 4\n"
               "max_imbalance = 0\n"
               "[policy.steal]\n"
               "remote_min = 9\n"
               "[memory]\n"
               "heap_limit_mb = 64\n"
               "heap_follow = eager\n"
               "hibernate_ms = 0\n");
    shoal_opts_t o = {0};
    CU_ASSERT_EQUAL_FATAL(config_load(path, &o, err, sizeof err), 0);
    uint32_t id = config_policy(&o);
    CU_ASSERT_STRING_EQUAL(policy_at(id)->name, "affinity");
    CU_ASSERT_EQUAL(config_interval_ms(&o), 25);
    int64_t pv[POLICY_MAX_PARAMS];
    config_policy_params(&o, id, pv);
    CU_ASSERT_EQUAL(pv[policy_param_find(&policy_affinity, "sample")], 4);
    CU_ASSERT_EQUAL(pv[policy_param_find(&policy_affinity, "max_imbalance")], 0);
    CU_ASSERT_EQUAL(pv[policy_param_find(&policy_affinity, "min_rate")], 2000); /* default */
    uint32_t steal = (uint32_t)policy_find("steal");
    config_policy_params(&o, steal, pv);
    CU_ASSERT_EQUAL(pv[policy_param_find(&policy_steal, "remote_min")], 9);
    CU_ASSERT_EQUAL(pv[policy_param_find(&policy_steal, "share")], 50);
    CU_ASSERT_EQUAL(o.heap_limit_mb, 64);
    CU_ASSERT_EQUAL(o.heap_follow, 2);
    /* hibernate_ms = 0 (never) is given, unlike no value (the default) */
    shm_config_t cfg;
    config_segment(&o, 2, 1, &cfg);
    CU_ASSERT_EQUAL(cfg.hibernate_ms, 0);
    shoal_opts_t none = {0};
    config_segment(&none, 2, 1, &cfg);
    CU_ASSERT_EQUAL(cfg.hibernate_ms, SHM_HIBERNATE_MS_DEFAULT);
    config_free(&o);
}

/* Nothing given: steal, its defaults, a 10 ms period. */
static void test_policy_defaults(void)
{
    shoal_opts_t o = {0};
    CU_ASSERT_STRING_EQUAL(policy_at(config_policy(&o))->name, "steal");
    CU_ASSERT_EQUAL(config_interval_ms(&o), POLICY_INTERVAL_DEFAULT);
    int64_t pv[POLICY_MAX_PARAMS];
    config_policy_params(&o, config_policy(&o), pv);
    for (uint32_t k = 0; k < policy_steal.n_params; k++)
        CU_ASSERT_EQUAL(pv[k], policy_steal.params[k].def);
}

/* --set sets any key, checked as in the file, and the file does not
 * override it; --set after the file's value wins whatever the order of
 * loading. */
static void test_set(void)
{
    shoal_opts_t o = {0};
    CU_ASSERT_EQUAL(config_set(&o, "policy.steal.share=25", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_set(&o, "policy.name=least-loaded", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_set(&o, "run.vms=3", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_set(&o, "memory.heap_follow=never", err, sizeof err), 0);
    CU_ASSERT_EQUAL(config_set(&o, "memory.hibernate_ms=50", err, sizeof err), 0);
    write_file("[run]\nvms = 6\n[memory]\nhibernate_ms = 7000\n[policy]\nname = affinity\ninterval_ms = 7\n"
               "[policy.steal]\nshare = 75\nnear_min = 3\n");
    CU_ASSERT_EQUAL_FATAL(config_load(path, &o, err, sizeof err), 0);
    CU_ASSERT_EQUAL(o.vms, 3);
    CU_ASSERT_EQUAL(o.heap_follow, 1);
    CU_ASSERT_EQUAL(o.hibernate_ms1, 51); /* --set wins over the file */
    CU_ASSERT_STRING_EQUAL(policy_at(config_policy(&o))->name, "least-loaded");
    CU_ASSERT_EQUAL(config_interval_ms(&o), 7); /* not set on the command line */
    int64_t pv[POLICY_MAX_PARAMS];
    config_policy_params(&o, (uint32_t)policy_find("steal"), pv);
    CU_ASSERT_EQUAL(pv[policy_param_find(&policy_steal, "share")], 25);
    CU_ASSERT_EQUAL(pv[policy_param_find(&policy_steal, "near_min")], 3);
    config_free(&o);
}

static void expect_set_error(const char *arg, const char *want)
{
    shoal_opts_t o = {0};
    err[0] = 0;
    CU_ASSERT_EQUAL(config_set(&o, arg, err, sizeof err), -1);
    if (!strstr(err, want))
        fprintf(stderr, "\nfor --set %s wanted %s, got: %s\n", arg, want, err);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, want));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, arg));
    config_free(&o);
}

static void test_set_errors(void)
{
    expect_set_error("share=25", "expected SECTION.KEY=VALUE");
    expect_set_error("policy.steal.share", "expected SECTION.KEY=VALUE");
    expect_set_error(".share=1", "expected SECTION.KEY=VALUE");
    expect_set_error("policy.=1", "expected SECTION.KEY=VALUE");
    expect_set_error("policy.steal.share=0",
                     "[policy.steal] share: 0 is out of range (expected 1..100)");
    expect_set_error("policy.steal.share=101", "expected 1..100");
    expect_set_error("policy.steal.share=half", "\"half\" is not a number (expected 1..100)");
    expect_set_error(
        "policy.steal.speed=1",
        "unknown key \"speed\" in [policy.steal] (known: near_min, remote_min, share)");
    expect_set_error("policy.none.x=1", "policy none has no parameters");
    expect_set_error("policy.fast.x=1", "unknown section [policy.fast]: no policy \"fast\"");
    expect_set_error(
        "policy.name=fast",
        "unknown policy \"fast\" (known: none, round-robin, least-loaded, steal and affinity)");
    expect_set_error("policy.interval_ms=0",
                     "[policy] interval_ms: 0 is out of range (expected 1..60000)");
    expect_set_error("policy.speed=1", "unknown key \"speed\" in [policy]");
    expect_set_error("memory.heap_follow=sometimes", "not on_gc, never or eager");
    expect_set_error("memory.pool_mb=1", "unknown key \"pool_mb\" in [memory]");
    expect_set_error("other.x=1", "unknown section [other]");
    expect_set_error("run.speed=1", "unknown key \"speed\" in [run]");
}

/* Every error of the policy sections names FILE:LINE, the key and the
 * accepted values. */
static void test_policy_errors(void)
{
    expect_error("[policy]\nname = fast\n", 2,
                 "[policy] name: unknown policy \"fast\" (known: none, round-robin, least-loaded, "
                 "steal and affinity)");
    expect_error("[policy]\ninterval_ms = 0\n", 2,
                 "[policy] interval_ms: 0 is out of range (expected 1..60000)");
    expect_error("[policy]\ninterval_ms = 99999\n", 2, "expected 1..60000");
    expect_error("[policy]\nspeed = 2\n", 2,
                 "unknown key \"speed\" in [policy] (known: name, interval_ms)");
    expect_error("[policy.fast]\nx = 1\n", 1, "unknown section [policy.fast]: no policy \"fast\"");
    expect_error("[policy.steal]\nremote_min = 1\n", 2,
                 "[policy.steal] remote_min: 1 is out of range (expected 2..1000000)");
    expect_error("[policy.steal]\nshare = 50\nnear_min = 5000000\n", 3,
                 "[policy.steal] near_min: 5000000 is out of range (expected 2..1000000)");
    expect_error("[policy.steal]\nshare = -5\n", 2, "[policy.steal] share: -5 is out of range");
    expect_error("[policy.steal]\nshare = 2.5\n", 2, "\"2.5\" is not a whole number (expected 1..100)");
    expect_error("[policy.affinity]\nsample = lots\n", 2,
                 "[policy.affinity] sample: \"lots\" is not a number (expected 1..65536)");
    expect_error("[policy.least-loaded]\nmin_diff = 99999999999999999999\n", 2,
                 "out of range (expected 2..1000000)");
    expect_error(
        "[policy.affinity]\nsampling = 4\n", 2,
        "unknown key \"sampling\" in [policy.affinity] (known: sample, min_rate, remote_pct, "
        "max_imbalance, cooldown_ms)");
    expect_error("[policy.round-robin]\nx = 1\n", 2, "policy round-robin has no parameters");
    expect_error("[memory]\nheap_follow = sometimes\n", 2,
                 "[memory] heap_follow: \"sometimes\" is not on_gc, never or eager");
    expect_error("[memory]\nheap_limit_mb = 0\n", 2, "[memory] heap_limit_mb: 0 is out of range");
    expect_error("[memory]\nvms = 2\n", 2,
                 "unknown key \"vms\" in [memory] (known: heap_limit_mb, heap_follow, hibernate_ms)");
    expect_error("[memory]\nhibernate_ms = -1\n", 2,
                 "[memory] hibernate_ms: -1 is out of range (expected 0..86400000)");
    expect_error("[memory]\nhibernate_ms = soon\n", 2, "[memory] hibernate_ms: \"soon\" is not a number");
    expect_error("[memory]\nhibernate_ms = 86400001\n", 2,
                 "[memory] hibernate_ms: 86400001 is out of range (expected 0..86400000)");
    expect_error("[memory]\nhibernate_ms = 5\nhibernate_ms = 6\n", 3,
                 "[memory] hibernate_ms is given twice (first on line 2)");
    /* heap keys are also accepted in [run], where they were first: one key */
    expect_error("[run]\nheap_follow = eager\n[memory]\nheap_follow = never\n", 4,
                 "[memory] heap_follow is given twice (first on line 2)");
    expect_error("[policy.steal]\nshare = 5\n[run]\nvms = 2\n[policy.steal]\nshare = 6\n", 6,
                 "[policy.steal] share is given twice (first on line 2)");
    expect_error("[policy]\nname = \"steal\"\n", 2, "[policy] name: values are written without quotes");
    expect_error("[Policy]\n", 1,
                 "unknown section [Policy] (expected [run], [policy], [policy.NAME]");
}

/* The file documenting every key is a good config file, and it lists
 * every parameter of every policy. */
static void test_example_ini(void)
{
    shoal_opts_t o = {0};
    CU_ASSERT_EQUAL(config_load("examples/shoal.ini", &o, err, sizeof err), 0);
    if (err[0])
        fprintf(stderr, "\n%s\n", err);
    config_free(&o);
    FILE *f = fopen("examples/shoal.ini", "r");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    static char text[65536];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    for (uint32_t i = 0; i < policy_count(); i++) {
        const policy_t *p = policy_at(i);
        char key[128];
        for (uint32_t k = 0; k < p->n_params; k++) {
            snprintf(key, sizeof key, "%s = ", p->params[k].name);
            if (!strstr(text, key))
                fprintf(stderr, "\nexamples/shoal.ini lacks %s of %s\n", key, p->name);
            CU_ASSERT_PTR_NOT_NULL(strstr(text, key));
        }
        snprintf(key, sizeof key, "[policy.%s]", p->name);
        if (p->n_params)
            CU_ASSERT_PTR_NOT_NULL(strstr(text, key));
    }
    /* every key of [run], given or commented out with its default */
    size_t nk;
    const char *const *keys = config_run_keys(&nk);
    for (size_t i = 0; i < nk; i++) {
        char key[128];
        snprintf(key, sizeof key, "\n%s = ", keys[i]);
        char commented[128];
        snprintf(commented, sizeof commented, "\n;%s = ", keys[i]);
        bool there = strstr(text, key) || strstr(text, commented);
        if (!there)
            fprintf(stderr, "\nexamples/shoal.ini lacks %s\n", keys[i]);
        CU_ASSERT_TRUE(there);
    }
}

/* Only a regular file of at most CONFIG_FILE_MAX bytes is read: not a
 * directory, a device (/dev/zero never ends) or a FIFO (would block). */
static void test_not_a_config_file(void)
{
    static const struct {
        const char *path, *why;
    } cases[] = {
        {"/tmp", "Is a directory"},
        {"/dev/zero", "it is a character device, not a regular file"},
        {"/dev/null", "it is a character device, not a regular file"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shoal_opts_t o = {0};
        err[0] = 0;
        CU_ASSERT_EQUAL(config_load(cases[i].path, &o, err, sizeof err), -1);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].path));
        CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].why));
    }
    char fifo[160];
    snprintf(fifo, sizeof fifo, "%s/fifo.ini", dir);
    CU_ASSERT_EQUAL_FATAL(mkfifo(fifo, 0600), 0);
    shoal_opts_t o = {0};
    CU_ASSERT_EQUAL(config_load(fifo, &o, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "it is a FIFO, not a regular file"));
    unlink(fifo);

    /* one byte over the limit, of comment lines that would parse */
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    for (unsigned i = 0; i < CONFIG_FILE_MAX / 8; i++)
        fputs(";;;;;;;\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(config_load(path, &o, err, sizeof err), 0);
    f = fopen(path, "a");
    CU_ASSERT_FATAL(f != NULL);
    fputc('\n', f);
    fclose(f);
    CU_ASSERT_EQUAL(config_load(path, &o, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "larger than 1048576 bytes"));

    /* a NUL byte: a binary file, not a config */
    write_file("[run]\nvms = 1\n");
    f = fopen(path, "a");
    CU_ASSERT_FATAL(f != NULL);
    fputs("pool", f);
    fputc(0, f);
    fputs("_mb = 3\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(config_load(path, &o, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, ":3: a NUL byte"));
}

static CU_TestInfo tests[] = {
    {"numbers: whole, in range, nothing else", test_parse_uint},
    {"a good file sets every key", test_good_file},
    {"command-line flags override the file", test_flags_override},
    {"errors name FILE:LINE", test_errors},
    {"a missing file", test_missing_file},
    {"a directory, device, FIFO, too large or binary file is refused", test_not_a_config_file},
    {"[policy], [policy.NAME] and [memory]", test_policy_sections},
    {"the default policy and parameters", test_policy_defaults},
    {"--set sets any key; the file does not override it", test_set},
    {"--set errors name the argument, the key and the range", test_set_errors},
    {"policy section errors name FILE:LINE, the key and the range", test_policy_errors},
    {"examples/shoal.ini is valid and documents every key and parameter", test_example_ini},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(config, tests, suite_init, suite_cleanup)
