/*
 * test_segment.c: the shared segment's layout, creation and mapping check.
 *
 * Segments here are small (4 MiB to 64 MiB of pool) so that the suite runs
 * fast; the layout rules do not depend on the sizes.
 */
#include "tests/unit.h"

#include "shm/atom.h"
#include "shm/names.h"
#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/segment.h"
#include "shm/vmtab.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void small_config(shm_config_t *c, uint32_t vms, uint32_t nodes)
{
    shm_config_default(c, vms, nodes);
    c->proc_slots = 4096;
    c->atom_cap = 1024;
    c->atom_bytes = 64u << 10;
    c->code_bytes = 1u << 20;
    c->pool_bytes = 64u << 20;
}

static void check_layout(const shm_config_t *c)
{
    shm_layout_t l;
    CU_ASSERT_EQUAL_FATAL(shm_layout_compute(c, &l), 0);
    const uint64_t offs[] = {l.vm_off,       l.proc_off,      l.atom_off,
                             l.names_off,    l.code_off,      l.pool_ctl_off,
                             l.pool_desc_off, l.pool_bitmap_off, l.pool_pages_off};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        CU_ASSERT_EQUAL(offs[i] % SHOAL_PAGE, 0);
        if (i > 0)
            CU_ASSERT(offs[i] > offs[i - 1]);
    }
    /* Each area is at least as large as what lives in it. */
    CU_ASSERT(l.vm_off >= sizeof(shm_header_t));
    CU_ASSERT(l.proc_off - l.vm_off >= (uint64_t)SHOAL_MAX_VMS * sizeof(shm_vm_t));
    CU_ASSERT(l.atom_off - l.proc_off >= (uint64_t)c->proc_slots * sizeof(pcb_t));
    CU_ASSERT(l.names_off - l.atom_off >= c->atom_bytes);
    CU_ASSERT(l.code_off - l.names_off >= names_table_bytes(c->name_cap));
    CU_ASSERT(l.pool_ctl_off - l.code_off >= c->code_bytes);
    CU_ASSERT(l.pool_desc_off - l.pool_ctl_off >= pool_ctl_bytes(c));
    CU_ASSERT(l.pool_bitmap_off - l.pool_desc_off >= l.pool_pages * POOL_DESC_BYTES);
    CU_ASSERT(l.pool_pages_off - l.pool_bitmap_off >= l.pool_pages / 8);
    /* Pages start on a 2 MiB boundary (huge pages) and end the segment. */
    CU_ASSERT_EQUAL(l.pool_pages_off % (2u << 20), 0);
    CU_ASSERT_EQUAL(l.total_bytes, l.pool_pages_off + l.pool_pages * SHOAL_PAGE);
    /* Whole bitmap words per node, and at least the pool asked for. */
    CU_ASSERT_EQUAL(l.pages_per_node % 64, 0);
    CU_ASSERT_EQUAL(l.pool_pages, l.pages_per_node * c->n_nodes);
    CU_ASSERT(l.pool_pages * SHOAL_PAGE >= c->pool_bytes - (uint64_t)c->n_nodes * SHOAL_PAGE);
}

static void test_layout_order(void)
{
    shm_config_t c;
    small_config(&c, 1, 1);
    check_layout(&c);
    small_config(&c, 8, 2);
    check_layout(&c);
    small_config(&c, SHOAL_MAX_VMS, SHOAL_MAX_NODES);
    c.pool_bytes = 256u << 20;
    check_layout(&c);
    shm_config_default(&c, 4, 2); /* the real defaults */
    check_layout(&c);
}

static void test_layout_rounding(void)
{
    shm_config_t c;
    shm_layout_t l;
    small_config(&c, 1, 1);
    c.pool_bytes = 100 * SHOAL_PAGE;
    CU_ASSERT_EQUAL_FATAL(shm_layout_compute(&c, &l), 0);
    CU_ASSERT_EQUAL(l.pages_per_node, 128);
    small_config(&c, 2, 3);
    c.pool_bytes = 3 * 64 * SHOAL_PAGE;
    CU_ASSERT_EQUAL_FATAL(shm_layout_compute(&c, &l), 0);
    CU_ASSERT_EQUAL(l.pages_per_node, 64);
    CU_ASSERT_EQUAL(l.pool_pages, 192);
}

static void expect_einval(const shm_config_t *c)
{
    shm_layout_t l;
    errno = 0;
    CU_ASSERT_EQUAL(shm_layout_compute(c, &l), -1);
    CU_ASSERT_EQUAL(errno, EINVAL);
}

static void test_layout_bad(void)
{
    shm_config_t c;
    small_config(&c, 0, 1);
    expect_einval(&c);
    small_config(&c, SHOAL_MAX_VMS + 1, 1);
    expect_einval(&c);
    small_config(&c, 1, 1);
    c.n_nodes = 0;
    expect_einval(&c);
    small_config(&c, 1, SHOAL_MAX_NODES + 1);
    expect_einval(&c);
    small_config(&c, 1, 1);
    c.proc_slots = 0;
    expect_einval(&c);
    small_config(&c, 1, 1);
    c.pool_bytes = 0;
    expect_einval(&c);
    small_config(&c, 1, 2);
    c.pool_bytes = SHOAL_PAGE; /* less than a page per node */
    expect_einval(&c);
    small_config(&c, 1, 1);
    c.atom_cap = 0;
    expect_einval(&c);
    small_config(&c, 1, 1);
    c.atom_bytes = atom_index_bytes(c.atom_cap); /* no room for any name */
    expect_einval(&c);
}

static void test_create_bad(void)
{
    shm_config_t c;
    small_config(&c, 0, 1);
    errno = 0;
    CU_ASSERT_PTR_NULL(shm_create(&c));
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_PTR_NULL(shm_seg);
}

static void test_create_init(void)
{
    shm_config_t c;
    shm_layout_t l;
    small_config(&c, 3, 2);
    CU_ASSERT_EQUAL_FATAL(shm_layout_compute(&c, &l), 0);
    shm_header_t *h = shm_create(&c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_PTR_EQUAL(shm_seg, h);
    CU_ASSERT_EQUAL(h->magic, SHM_MAGIC);
    CU_ASSERT_EQUAL(h->version, SHM_LAYOUT_VERSION);
    CU_ASSERT_EQUAL(h->header_bytes, sizeof *h);
    CU_ASSERT_EQUAL(h->base, (uintptr_t)h);
    CU_ASSERT_EQUAL(memcmp(&h->cfg, &c, sizeof c), 0);
    CU_ASSERT_EQUAL(memcmp(&h->layout, &l, sizeof l), 0);
    CU_ASSERT_EQUAL(h->supervisor_pid, (int32_t)getpid());
    CU_ASSERT(h->memfd >= 0);
    CU_ASSERT_EQUAL(shm_vm(h, 0)->id, 0);
    CU_ASSERT_EQUAL(shm_vm(h, SHOAL_MAX_VMS - 1)->id, SHOAL_MAX_VMS - 1);
    /* The tables behind it are initialised. */
    CU_ASSERT_EQUAL(proctab_live(h), 0);
    CU_ASSERT_EQUAL(shm_pcb(h, 4095)->state, PCB_FREE);
    pcb_t *claimed = proctab_claim(h, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(claimed);
    CU_ASSERT_EQUAL(claimed->slot, (uint32_t)(claimed - shm_pcb(h, 0)));
    CU_ASSERT_EQUAL(claimed->pid % c.proc_slots, claimed->slot);
    proctab_release(h, claimed);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), l.pages_per_node);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), l.pages_per_node);
    /* The whole segment is mapped and writable, up to its last byte. */
    char *last = (char *)h + l.total_bytes - 1;
    *last = 7;
    CU_ASSERT_EQUAL(*last, 7);
    shm_destroy(h);
    CU_ASSERT_PTR_NULL(shm_seg);
}

static void test_check_mapping(void)
{
    shm_config_t c;
    small_config(&c, 2, 1);
    shm_header_t *h = shm_create(&c);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL(shm_check_mapping(h), 0);

    /* A forked child (how every VM starts) sees it at the same address,
     * and what it writes the creator sees: the mapping is shared. */
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        int ok = shm_seg == h && shm_check_mapping(shm_seg) == 0;
        h->run.next_ref = 4242;
        _exit(ok ? 0 : 1);
    }
    int st;
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT_EQUAL(h->run.next_ref, 4242);

    errno = 0;
    h->magic ^= 1;
    CU_ASSERT_EQUAL(shm_check_mapping(h), -1);
    CU_ASSERT_EQUAL(errno, EFAULT);
    h->magic ^= 1;
    h->version++;
    CU_ASSERT_EQUAL(shm_check_mapping(h), -1);
    h->version--;
    CU_ASSERT_EQUAL(shm_check_mapping(h), 0);
    errno = 0;
    CU_ASSERT_EQUAL(shm_check_mapping(NULL), -1);
    CU_ASSERT_EQUAL(errno, EFAULT);

    /* The same header at another address (a mapping that is not the
     * supervisor's) is refused. */
    shm_header_t *copy = malloc(sizeof *copy);
    CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
    memcpy(copy, h, sizeof *copy);
    errno = 0;
    CU_ASSERT_EQUAL(shm_check_mapping(copy), -1);
    CU_ASSERT_EQUAL(errno, EFAULT);
    free(copy);
    shm_destroy(h);
}

static CU_TestInfo segment_tests[] = {
    {"layout offsets increase, aligned, sized", test_layout_order},
    {"layout rounds nodes to whole bitmap words", test_layout_rounding},
    {"layout refuses bad configs with EINVAL", test_layout_bad},
    {"create refuses a bad config", test_create_bad},
    {"create initialises header and tables", test_create_init},
    {"check_mapping: creator, forked child, bad magic", test_check_mapping},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(segment, segment_tests, NULL, NULL)
