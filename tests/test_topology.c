/*
 * test_topology.c: loading topologies and placing VMs on them
 * (supervisor/topology.c), on synthetic and XML topologies so that the
 * answers do not depend on the machine the tests run on.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include "supervisor/topology.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TWO_BY_TWO "pack:2 numa:2 core:2 pu:1" /* 2 packages x 2 NUMA nodes x 2 cores */

static char err[512];

static void load(topo_t *t, const char *desc)
{
    err[0] = 0;
    int rc = topo_load(t, desc, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "\ntopo_load(%s): %s\n", desc ? desc : "NULL", err);
    CU_ASSERT_FATAL(rc == 0);
}

static void place(const topo_t *t, uint32_t n, topo_placement_t *p)
{
    int rc = topo_place(t, n, p, err, sizeof err);
    if (rc < 0)
        fprintf(stderr, "\ntopo_place(%u): %s\n", n, err);
    CU_ASSERT_FATAL(rc == 0);
    CU_ASSERT_EQUAL_FATAL(p->n_vms, n);
}

static hwloc_bitmap_t parse_set(const char *text)
{
    hwloc_bitmap_t s = hwloc_bitmap_alloc();
    CU_ASSERT_FATAL(s != NULL);
    CU_ASSERT_FATAL(hwloc_bitmap_list_sscanf(s, text) == 0);
    return s;
}

/* Cpusets are disjoint, non-empty, their weights match n_pus, and
 * together they cover every PU when there are at least as many PUs. */
static void check_disjoint(const topo_t *t, const topo_placement_t *p)
{
    hwloc_bitmap_t all = hwloc_bitmap_alloc();
    CU_ASSERT_FALSE(p->shared);
    CU_ASSERT_STRING_EQUAL(p->warning, "");
    for (uint32_t i = 0; i < p->n_vms; i++) {
        hwloc_bitmap_t s = parse_set(p->vms[i].cpuset);
        CU_ASSERT_FALSE(hwloc_bitmap_iszero(s));
        CU_ASSERT_EQUAL(hwloc_bitmap_weight(s), (int)p->vms[i].n_pus);
        CU_ASSERT_FALSE(hwloc_bitmap_intersects(s, all));
        hwloc_bitmap_or(all, all, s);
        hwloc_bitmap_free(s);
    }
    CU_ASSERT_EQUAL(hwloc_bitmap_weight(all), (int)t->n_pus);
    hwloc_bitmap_free(all);
}

/* VMs per NUMA node differ by at most one over all nodes (when there are
 * at least as many VMs as nodes), and no node gets two VMs while another
 * has none. */
static void check_even_nodes(const topo_t *t, const topo_placement_t *p)
{
    uint32_t per[SHOAL_MAX_NODES] = {0};
    for (uint32_t i = 0; i < p->n_vms; i++) {
        CU_ASSERT_FATAL(p->vms[i].node < t->n_nodes);
        per[p->vms[i].node]++;
    }
    uint32_t lo = UINT32_MAX, hi = 0;
    for (uint32_t n = 0; n < t->n_nodes; n++) {
        lo = per[n] < lo ? per[n] : lo;
        hi = per[n] > hi ? per[n] : hi;
    }
    CU_ASSERT(hi - lo <= 1);
}

static void test_counts_2x2(void)
{
    topo_t t;
    load(&t, TWO_BY_TWO);
    CU_ASSERT_EQUAL(t.source, TOPO_SYNTHETIC);
    CU_ASSERT_EQUAL(t.n_packages, 2);
    /* numa:2 is per package: 4 NUMA nodes in all. */
    CU_ASSERT_EQUAL(t.n_nodes, 4);
    CU_ASSERT_EQUAL(t.n_l3, 0);
    CU_ASSERT_EQUAL(t.n_cores, 8);
    CU_ASSERT_EQUAL(t.n_pus, 8);
    char line[512];
    topo_describe(&t, line, sizeof line);
    CU_ASSERT_STRING_EQUAL(line, "synthetic \"" TWO_BY_TWO "\": 2 packages, 4 NUMA nodes, "
                                 "0 L3, 8 cores, 8 PUs");
    topo_free(&t);
}

static void test_place_2x2(void)
{
    topo_t t;
    load(&t, TWO_BY_TWO);
    topo_placement_t p;

    place(&t, 1, &p);
    CU_ASSERT_STRING_EQUAL(p.vms[0].cpuset, "0-7");
    CU_ASSERT_EQUAL(p.vms[0].n_pus, 8);
    CU_ASSERT_EQUAL(p.vms[0].node, 0); /* spans all nodes: its first PU's */
    check_disjoint(&t, &p);
    topo_placement_free(&p);

    /* Two VMs: one package each (nodes 0-1 and 2-3). */
    place(&t, 2, &p);
    check_disjoint(&t, &p);
    CU_ASSERT_STRING_EQUAL(p.vms[0].cpuset, "0-3");
    CU_ASSERT_STRING_EQUAL(p.vms[1].cpuset, "4-7");
    CU_ASSERT(p.vms[0].node <= 1);
    CU_ASSERT(p.vms[1].node >= 2);
    topo_placement_free(&p);

    /* Four VMs: one NUMA node each. */
    place(&t, 4, &p);
    check_disjoint(&t, &p);
    check_even_nodes(&t, &p);
    for (uint32_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(p.vms[i].node, i);
        CU_ASSERT_EQUAL(p.vms[i].n_pus, 2);
        CU_ASSERT_EQUAL(p.vms[i].l3, UINT32_MAX);
    }
    topo_placement_free(&p);

    /* Eight VMs: one PU each, two per node. */
    place(&t, 8, &p);
    check_disjoint(&t, &p);
    check_even_nodes(&t, &p);
    for (uint32_t i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(p.vms[i].n_pus, 1);
        CU_ASSERT_EQUAL(p.vms[i].node, i / 2);
    }
    topo_placement_free(&p);

    /* Uneven: still disjoint and covering. */
    place(&t, 3, &p);
    check_disjoint(&t, &p);
    topo_placement_free(&p);
    topo_free(&t);
}

static void test_place_two_nodes(void)
{
    /* One package, two NUMA nodes of two 2-PU cores. */
    topo_t t;
    load(&t, "pack:1 numa:2 core:2 pu:2");
    CU_ASSERT_EQUAL(t.n_nodes, 2);
    topo_placement_t p;
    for (uint32_t n = 2; n <= 8; n *= 2) {
        place(&t, n, &p);
        check_disjoint(&t, &p);
        check_even_nodes(&t, &p);
        topo_placement_free(&p);
    }
    /* Four VMs get a whole core each: both PUs of it. */
    place(&t, 4, &p);
    CU_ASSERT_STRING_EQUAL(p.vms[0].cpuset, "0-1");
    CU_ASSERT_STRING_EQUAL(p.vms[3].cpuset, "6-7");
    CU_ASSERT_EQUAL(p.vms[0].node, 0);
    CU_ASSERT_EQUAL(p.vms[1].node, 0);
    CU_ASSERT_EQUAL(p.vms[2].node, 1);
    CU_ASSERT_EQUAL(p.vms[3].node, 1);
    topo_placement_free(&p);
    topo_free(&t);
}

static void test_place_smt(void)
{
    topo_t t;
    load(&t, "pack:1 core:4 pu:2");
    CU_ASSERT_EQUAL(t.n_nodes, 1);
    CU_ASSERT_EQUAL(t.n_cores, 4);
    CU_ASSERT_EQUAL(t.n_pus, 8);
    topo_placement_t p;
    place(&t, 4, &p);
    check_disjoint(&t, &p);
    static const char *const want[] = {"0-1", "2-3", "4-5", "6-7"};
    for (uint32_t i = 0; i < 4; i++) {
        CU_ASSERT_STRING_EQUAL(p.vms[i].cpuset, want[i]);
        CU_ASSERT_EQUAL(p.vms[i].node, 0);
        CU_ASSERT_EQUAL(p.vms[i].l3, UINT32_MAX);
        CU_ASSERT_EQUAL(topo_distance(&p, 0, i), i == 0 ? VM_DIST_SELF : VM_DIST_NODE);
    }
    topo_placement_free(&p);
    place(&t, 8, &p);
    check_disjoint(&t, &p);
    topo_placement_free(&p);
    place(&t, 5, &p);
    check_disjoint(&t, &p);
    topo_placement_free(&p);
    topo_free(&t);
}

static void test_l3_and_distance(void)
{
    /* Two packages, one NUMA node each, two L3s per node, two cores per L3. */
    topo_t t;
    load(&t, "pack:2 numa:1 l3:2 core:2 pu:1");
    CU_ASSERT_EQUAL(t.n_nodes, 2);
    CU_ASSERT_EQUAL(t.n_l3, 4);
    topo_placement_t p;
    place(&t, 8, &p);
    check_disjoint(&t, &p);
    for (uint32_t i = 0; i < 8; i++) {
        CU_ASSERT_EQUAL(p.vms[i].l3, i / 2);
        CU_ASSERT_EQUAL(p.vms[i].node, i / 4);
    }
    CU_ASSERT_EQUAL(topo_distance(&p, 0, 0), VM_DIST_SELF);
    CU_ASSERT_EQUAL(topo_distance(&p, 0, 1), VM_DIST_L3);
    CU_ASSERT_EQUAL(topo_distance(&p, 0, 2), VM_DIST_NODE);
    CU_ASSERT_EQUAL(topo_distance(&p, 0, 4), VM_DIST_REMOTE);
    CU_ASSERT_EQUAL(topo_distance(&p, 7, 6), VM_DIST_L3);
    CU_ASSERT_EQUAL(topo_distance(&p, 7, 0), VM_DIST_REMOTE);

    /* The same classes from the VM table, which is what VMs will use. */
    shm_vm_t a = {.id = 0, .node = p.vms[0].node, .l3 = p.vms[0].l3};
    shm_vm_t b = {.id = 1, .node = p.vms[1].node, .l3 = p.vms[1].l3};
    shm_vm_t c = {.id = 2, .node = p.vms[2].node, .l3 = p.vms[2].l3};
    shm_vm_t d = {.id = 5, .node = p.vms[5].node, .l3 = p.vms[5].l3};
    CU_ASSERT_EQUAL(topo_vm_distance(&a, &a), VM_DIST_SELF);
    CU_ASSERT_EQUAL(topo_vm_distance(&a, &b), VM_DIST_L3);
    CU_ASSERT_EQUAL(topo_vm_distance(&a, &c), VM_DIST_NODE);
    CU_ASSERT_EQUAL(topo_vm_distance(&a, &d), VM_DIST_REMOTE);
    topo_placement_free(&p);

    /* Two VMs: a package each, so each spans two L3s and has none. */
    place(&t, 2, &p);
    CU_ASSERT_EQUAL(p.vms[0].l3, UINT32_MAX);
    CU_ASSERT_EQUAL(p.vms[0].node, 0);
    CU_ASSERT_EQUAL(p.vms[1].node, 1);
    CU_ASSERT_EQUAL(topo_distance(&p, 0, 1), VM_DIST_REMOTE);
    topo_placement_free(&p);
    topo_free(&t);

    /* An L3 per NUMA node. */
    load(&t, "pack:2 numa:2 l3:1 core:2 pu:1");
    CU_ASSERT_EQUAL(t.n_l3, 4);
    place(&t, 4, &p);
    for (uint32_t i = 0; i < 4; i++) {
        CU_ASSERT_EQUAL(p.vms[i].l3, i);
        CU_ASSERT_EQUAL(p.vms[i].node, i);
    }
    CU_ASSERT_EQUAL(topo_distance(&p, 0, 1), VM_DIST_REMOTE);
    topo_placement_free(&p);
    place(&t, 8, &p);
    CU_ASSERT_EQUAL(topo_distance(&p, 0, 1), VM_DIST_L3);
    CU_ASSERT_EQUAL(topo_distance(&p, 0, 2), VM_DIST_REMOTE);
    topo_placement_free(&p);
    topo_free(&t);
}

static void test_more_vms_than_pus(void)
{
    topo_t t;
    load(&t, "pack:1 core:2 pu:1");
    topo_placement_t p;
    place(&t, 2, &p);
    CU_ASSERT_FALSE(p.shared);
    CU_ASSERT_STRING_EQUAL(p.warning, "");
    topo_placement_free(&p);

    place(&t, 5, &p);
    CU_ASSERT_TRUE(p.shared);
    CU_ASSERT_STRING_EQUAL(p.warning, "5 VMs on 2 PUs; VMs share PUs");
    for (uint32_t i = 0; i < 5; i++) {
        CU_ASSERT_STRING_EQUAL(p.vms[i].cpuset, i % 2 ? "1" : "0");
        CU_ASSERT_EQUAL(p.vms[i].n_pus, 1);
    }
    CU_ASSERT_EQUAL(topo_distance(&p, 0, 2), VM_DIST_NODE); /* same PU, still two VMs */
    topo_placement_free(&p);

    CU_ASSERT_EQUAL(topo_place(&t, 0, &p, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot place 0 VMs"));
    CU_ASSERT_EQUAL(topo_place(&t, SHOAL_MAX_VMS + 1, &p, err, sizeof err), -1);
    place(&t, SHOAL_MAX_VMS, &p);
    CU_ASSERT_STRING_EQUAL(p.vms[SHOAL_MAX_VMS - 1].cpuset, "1");
    topo_placement_free(&p);
    topo_free(&t);
}

static void test_commas(void)
{
    topo_t t;
    load(&t, "pack:2,numa:2,core:2,pu:1");
    CU_ASSERT_EQUAL(t.source, TOPO_SYNTHETIC);
    CU_ASSERT_EQUAL(t.n_nodes, 4);
    CU_ASSERT_EQUAL(t.n_pus, 8);
    CU_ASSERT_STRING_EQUAL(t.desc, "pack:2,numa:2,core:2,pu:1"); /* as the user wrote it */
    topo_free(&t);
}

/* Each bad description is refused with a message that names it and says
 * what is wrong where shoal can tell; hwloc's other refusals are
 * "malformed". */
static void test_malformed(void)
{
    static const struct {
        const char *desc, *why;
    } bad[] = {
        {"pack:2 bogus:3", "unknown level type \"bogus\""},
        {"pack:x", "malformed synthetic topology"},
        {"hello", "malformed synthetic topology"},
        {"pack:2 core:2 pu:0", "a level has 0 objects"},
        {"pack:2 core:2", "the last level must be pu"},
        {"pack:1000 core:1000", "is too large: 1000000 PUs, and shoal handles at most 4096"},
        {"pack:1000 core:1000 pu:1", "is too large: 1000000 PUs"},
        {"pack:64 core:64 pu:2", "is too large: 8192 PUs"},
        {"pack:99999999999 core:99999999999 pu:99999999999", "is too large: more PUs than"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        topo_t t;
        err[0] = 0;
        CU_ASSERT_EQUAL(topo_load(&t, bad[i].desc, err, sizeof err), -1);
        LH_CHECK(strstr(err, bad[i].why) && strstr(err, bad[i].desc), "%s: \"%s\", want \"%s\"",
                 bad[i].desc, err, bad[i].why);
        CU_ASSERT_PTR_NULL(t.hw);
    }
    /* the largest allowed loads, with hwloc's own level names too */
    static const char *const good[] = {"pack:64 core:64 pu:1", "Package:2 L3Cache:1 Core:2 PU:1",
                                       "2 2", "pack:2(indexes=1,0) core:2 pu:1"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        topo_t t;
        LH_CHECK(topo_load(&t, good[i], err, sizeof err) == 0, "%s: %s", good[i], err);
        topo_free(&t);
    }
}

static char dir[64];

static int suite_init(void)
{
    snprintf(dir, sizeof dir, "/tmp/shoal-topo-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int suite_cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_missing_and_bad_files(void)
{
    topo_t t;
    char path[128];

    snprintf(path, sizeof path, "%s/missing.xml", dir);
    CU_ASSERT_EQUAL(topo_load(&t, path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read topology file"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));

    /* Not .xml, but a path: a missing file, not a malformed description. */
    snprintf(path, sizeof path, "%s/missing-topology", dir);
    CU_ASSERT_EQUAL(topo_load(&t, path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "cannot read topology file"));

    CU_ASSERT_EQUAL(topo_load(&t, dir, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "Is a directory"));

    /* a device or a FIFO is never handed to hwloc, which would read
     * /dev/zero forever and wait on a FIFO */
    CU_ASSERT_EQUAL(topo_load(&t, "/dev/zero", err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "it is a character device, not a regular file"));
    snprintf(path, sizeof path, "%s/fifo.xml", dir);
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    CU_ASSERT_EQUAL(topo_load(&t, path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "it is a FIFO, not a regular file"));
    unlink(path);

    snprintf(path, sizeof path, "%s/garbage.xml", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("<topology><object type=\"Machine\"", f);
    fclose(f);
    CU_ASSERT_EQUAL(topo_load(&t, path, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a valid hwloc XML topology"));
}

static void test_xml_round_trip(void)
{
    topo_t syn, xml;
    load(&syn, "pack:2 numa:1 l3:2 core:2 pu:1");
    char path[128];
    snprintf(path, sizeof path, "%s/exported.xml", dir);
    CU_ASSERT_FATAL(hwloc_topology_export_xml(syn.hw, path, 0) == 0);
    load(&xml, path);
    CU_ASSERT_EQUAL(xml.source, TOPO_XML);
    CU_ASSERT_EQUAL(xml.n_packages, syn.n_packages);
    CU_ASSERT_EQUAL(xml.n_nodes, syn.n_nodes);
    CU_ASSERT_EQUAL(xml.n_l3, syn.n_l3);
    CU_ASSERT_EQUAL(xml.n_cores, syn.n_cores);
    CU_ASSERT_EQUAL(xml.n_pus, syn.n_pus);
    char src[256], want[256];
    topo_source_text(&xml, src, sizeof src);
    snprintf(want, sizeof want, "XML file \"%s\"", path);
    CU_ASSERT_STRING_EQUAL(src, want);
    topo_placement_t a, b;
    for (uint32_t n = 1; n <= 8; n++) {
        place(&syn, n, &a);
        place(&xml, n, &b);
        for (uint32_t i = 0; i < n; i++) {
            CU_ASSERT_STRING_EQUAL(a.vms[i].cpuset, b.vms[i].cpuset);
            CU_ASSERT_EQUAL(a.vms[i].node, b.vms[i].node);
            CU_ASSERT_EQUAL(a.vms[i].l3, b.vms[i].l3);
        }
        topo_placement_free(&a);
        topo_placement_free(&b);
    }
    topo_free(&xml);

    /* A file whose name does not end in .xml is still a file. */
    char other[160];
    snprintf(other, sizeof other, "%s/exported.topo", dir);
    CU_ASSERT_FATAL(rename(path, other) == 0);
    load(&xml, other);
    CU_ASSERT_EQUAL(xml.source, TOPO_XML);
    CU_ASSERT_EQUAL(xml.n_l3, 4);
    topo_free(&xml);
    topo_free(&syn);
}

static void test_this_machine(void)
{
    topo_t t;
    load(&t, NULL);
    CU_ASSERT_EQUAL(t.source, TOPO_MACHINE);
    CU_ASSERT(t.n_pus >= 1);
    CU_ASSERT(t.n_cores >= 1 && t.n_cores <= t.n_pus);
    CU_ASSERT(t.n_nodes >= 1);
    char src[64];
    topo_source_text(&t, src, sizeof src);
    CU_ASSERT_STRING_EQUAL(src, "this machine");
    topo_placement_t p;
    place(&t, t.n_cores, &p);
    check_disjoint(&t, &p);
    topo_placement_free(&p);
    topo_free(&t);
    load(&t, "");
    CU_ASSERT_EQUAL(t.source, TOPO_MACHINE);
    topo_free(&t);
}

static CU_TestInfo tests[] = {
    {"counts of pack:2 numa:2 core:2 pu:1", test_counts_2x2},
    {"placement on pack:2 numa:2 core:2 pu:1 (1, 2, 3, 4, 8 VMs)", test_place_2x2},
    {"placement on two NUMA nodes spreads evenly", test_place_two_nodes},
    {"placement on pack:1 core:4 pu:2", test_place_smt},
    {"L3 indices and distance classes", test_l3_and_distance},
    {"more VMs than PUs share PUs and warn", test_more_vms_than_pus},
    {"commas stand for spaces in a synthetic description", test_commas},
    {"malformed synthetic descriptions fail with a message", test_malformed},
    {"missing, unreadable and malformed topology files", test_missing_and_bad_files},
    {"XML round trip gives the same placement", test_xml_round_trip},
    {"this machine", test_this_machine},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(topology, tests, suite_init, suite_cleanup)
