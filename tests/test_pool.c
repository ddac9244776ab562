/*
 * test_pool.c: the page pool: allocation and freeing, nodes and fallback,
 * runs up to a whole node, owners, accounting, the per-VM cache, forked
 * VMs using it at once, and crash safety (a VM killed at every step of a
 * locked operation, and at random moments).
 *
 * Pools here are small (4 to 64 MiB) so that exhaustion is quick. Forked
 * children never call CUnit: they report through their exit status (0 ok,
 * otherwise a code named where it is returned) and pipes.
 */
#include "tests/unit.h"

#include "shm/pool.h"
#include "shm/segment.h"
#include "shm/vmtab.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MiB (1ull << 20)

static shm_header_t *make(uint32_t vms, uint32_t nodes, uint64_t pool_bytes)
{
    shm_config_t c;
    shm_config_default(&c, vms, nodes);
    c.proc_slots = 4096;
    c.atom_cap = 1024;
    c.atom_bytes = 64u << 10;
    c.code_bytes = 64u << 10;
    c.pool_bytes = pool_bytes;
    return shm_create(&c);
}

static uint64_t ppn(const shm_header_t *h)
{
    return h->layout.pages_per_node;
}

static char *page(const shm_header_t *h, uint64_t i)
{
    void *base;
    size_t bytes;
    pool_node_range(h, 0, &base, &bytes);
    return (char *)base + i * SHOAL_PAGE;
}

static char *node_base(const shm_header_t *h, uint32_t k)
{
    void *base;
    size_t bytes;
    pool_node_range(h, k, &base, &bytes);
    return base;
}

static uint64_t total_free(const shm_header_t *h)
{
    uint64_t n = 0;
    for (uint32_t k = 0; k < h->cfg.n_nodes; k++)
        n += pool_free_pages(h, k);
    return n;
}

/* Pages (not runs) whose owner is `owner`. */
static uint64_t owned(const shm_header_t *h, uint32_t owner)
{
    uint64_t n = 0;
    for (uint64_t i = 0; i < h->layout.pool_pages; i++)
        n += pool_owner_of(h, page(h, i)) == owner;
    return n;
}

static bool nobody_locks(const shm_header_t *h)
{
    for (uint32_t k = 0; k < h->cfg.n_nodes; k++)
        if (pool_lock_holder(h, k) != POOL_NOBODY)
            return false;
    return true;
}

static int consistent(const shm_header_t *h)
{
    char why[256] = "";
    int rc = pool_check(h, why, sizeof why);
    if (rc != 0)
        fprintf(stderr, "\n  pool_check: %s\n", why);
    return rc;
}

#define CU_ASSERT_CONSISTENT(h) CU_ASSERT_EQUAL(consistent(h), 0)

/* --- single-process behaviour ------------------------------------------- */

static void test_init(void)
{
    shm_header_t *h = make(2, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    CU_ASSERT_EQUAL(ppn(h), 1024);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), 1024);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), 1024);
    CU_ASSERT(nobody_locks(h));
    CU_ASSERT_CONSISTENT(h);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_FREE), h->layout.pool_pages);

    void *b0, *b1;
    size_t n0, n1;
    pool_node_range(h, 0, &b0, &n0);
    pool_node_range(h, 1, &b1, &n1);
    CU_ASSERT_PTR_EQUAL(b0, (char *)h + h->layout.pool_pages_off);
    CU_ASSERT_PTR_EQUAL(b1, (char *)b0 + 1024 * SHOAL_PAGE);
    CU_ASSERT_EQUAL(n0, 1024 * SHOAL_PAGE);
    CU_ASSERT_EQUAL(n1, 1024 * SHOAL_PAGE);
    CU_ASSERT_TRUE(pool_contains(h, b0));
    CU_ASSERT_TRUE(pool_contains(h, (char *)b1 + n1 - 1));
    CU_ASSERT_FALSE(pool_contains(h, (char *)b1 + n1));
    CU_ASSERT_FALSE(pool_contains(h, (char *)b0 - 1));
    CU_ASSERT_FALSE(pool_contains(h, h));
    CU_ASSERT_EQUAL(pool_node_of(h, (char *)b1 - 1), 0);
    CU_ASSERT_EQUAL(pool_node_of(h, b1), 1);
    shm_destroy(h);
}

static void test_bad_args(void)
{
    shm_header_t *h = make(2, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    errno = 0;
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 0, 0, POOL_OWNER_PROC(1)));
    CU_ASSERT_EQUAL(errno, EINVAL);
    errno = 0;
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 2, 1, POOL_OWNER_PROC(1)));
    CU_ASSERT_EQUAL(errno, EINVAL);
    errno = 0;
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_FREE));
    CU_ASSERT_EQUAL(errno, EINVAL);
    errno = 0;
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR + 1, 0, 1, POOL_OWNER_PROC(1)));
    CU_ASSERT_EQUAL(errno, EINVAL);
    errno = 0;
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 0, ppn(h) + 1, POOL_OWNER_PROC(1)));
    CU_ASSERT_EQUAL(errno, ENOMEM);
    pool_free(h, POOL_SUPERVISOR, NULL); /* a no-op */
    CU_ASSERT_EQUAL(total_free(h), h->layout.pool_pages);
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

static void test_alloc_free(void)
{
    shm_header_t *h = make(1, 1, 4 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    char *p = pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_TRUE(pool_contains(h, p));
    CU_ASSERT_EQUAL((uintptr_t)p % SHOAL_PAGE, 0);
    CU_ASSERT_EQUAL(pool_node_of(h, p), 0);
    CU_ASSERT_EQUAL(pool_owner_of(h, p), POOL_OWNER_PROC(1));
    CU_ASSERT_EQUAL(pool_owner_of(h, p + SHOAL_PAGE - 1), POOL_OWNER_PROC(1));
    CU_ASSERT_EQUAL(pool_run_pages(h, p), 1);
    memset(p, 0x5a, SHOAL_PAGE);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), ppn(h) - 1);
    CU_ASSERT_CONSISTENT(h);
    pool_free(h, POOL_SUPERVISOR, p);
    CU_ASSERT_EQUAL(pool_owner_of(h, p), POOL_OWNER_FREE);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), ppn(h));
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

static void test_exhaustion(void)
{
    shm_header_t *h = make(2, 1, 4 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t n = ppn(h);
    char **pages = calloc(n + 1, sizeof *pages);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pages);

    /* The supervisor, one page at a time, gets every page exactly once. */
    uint64_t got = 0;
    bool *seen = calloc(n, 1);
    int dup = 0;
    while (got <= n && (pages[got] = pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(2)))) {
        uint64_t i = (uint64_t)(pages[got] - page(h, 0)) / SHOAL_PAGE;
        dup += seen[i];
        seen[i] = true;
        got++;
    }
    CU_ASSERT_EQUAL(errno, ENOMEM);
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(dup, 0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), 0);
    pool_free(h, POOL_SUPERVISOR, pages[n / 2]);
    char *again = pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(2));
    CU_ASSERT_PTR_EQUAL(again, pages[n / 2]);
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(2)));
    for (uint64_t i = 0; i < got; i++)
        pool_free(h, POOL_SUPERVISOR, pages[i]);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n);
    CU_ASSERT_CONSISTENT(h);

    /* A VM through its cache also gets every page, cached ones included. */
    got = 0;
    while (got <= n && (pages[got] = pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(2))))
        got++;
    CU_ASSERT_EQUAL(got, n);
    CU_ASSERT_EQUAL(errno, ENOMEM);
    CU_ASSERT_CONSISTENT(h);
    for (uint64_t i = 0; i < got; i++)
        pool_free(h, 0, pages[i]);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - POOL_CACHE_PAGES); /* a full cache */
    pool_cache_drain(h, 0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n);

    /* Runs, on a fresh pool (search hint at 0): 7-page runs fill all but
     * the last n % 7 pages, which a run of n % 7 still fits. */
    shm_destroy(h);
    h = make(2, 1, 4 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    got = 0;
    while ((pages[got] = pool_alloc(h, 1, 0, 7, POOL_OWNER_PROC(3))) != NULL)
        got++;
    CU_ASSERT_EQUAL(got, n / 7);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n % 7);
    CU_ASSERT_PTR_NULL(pool_alloc(h, 1, 0, n % 7 + 1, POOL_OWNER_PROC(3)));
    char *tail = pool_alloc(h, 1, 0, n % 7, POOL_OWNER_PROC(3));
    CU_ASSERT_PTR_NOT_NULL(tail);
    pool_free(h, 1, tail);
    for (uint64_t i = 0; i < got; i++)
        pool_free(h, 1, pages[i]);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n);
    CU_ASSERT_CONSISTENT(h);
    free(seen);
    free(pages);
    shm_destroy(h);
}

/* A process that collects over and over (a fresh to-space each time,
 * growing to 256 pages, the old one freed) while it spawns processes,
 * whose heap and stack pages are kept and which collect once (a page
 * taken, another given back). First fit packs the kept pages at the
 * bottom, so a 256-page run is still found with three quarters of the pool
 * kept. Next fit, which the pool used before, spread the kept pages every
 * few hundred pages and failed here with a third of the pool still free. */
static void test_no_fragmentation(void)
{
    shm_header_t *h = make(2, 1, 256 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t n = ppn(h), kept = 0;
    char *big = NULL;
    for (uint64_t round = 0; kept < n * 3 / 4; round++) {
        uint64_t pages = 1 + round / 100 < 256 ? 1 + round / 100 : 256;
        char *next = pool_alloc(h, 0, 0, pages, POOL_OWNER_PROC(1));
        if (!next) {
            fprintf(stderr, "\nno run of %llu pages with %llu of %llu pages free\n",
                    (unsigned long long)pages, (unsigned long long)pool_free_pages(h, 0),
                    (unsigned long long)n);
            CU_FAIL_FATAL("the pool fragmented");
        }
        pool_free(h, 0, big);
        big = next;
        char *heap = pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(2));
        char *stack = pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(2));
        char *to = pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(2));
        CU_ASSERT_FATAL(heap && stack && to);
        pool_free(h, 0, heap);
        kept += 2;
    }
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

static void test_nodes(void)
{
    shm_header_t *h = make(1, 3, 12 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t n = ppn(h);
    char *base1 = node_base(h, 1);
    char *p = pool_alloc(h, POOL_SUPERVISOR, 1, 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT(p >= base1 && p < base1 + n * SHOAL_PAGE);
    CU_ASSERT_EQUAL(pool_node_of(h, p), 1);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), n - 1);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n);

    /* Fill node 1; the next request for node 1 goes to node 2 (index + 1
     * first), then, with node 2 full too, to node 0. */
    char *rest = pool_alloc(h, POOL_SUPERVISOR, 1, n - 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rest);
    CU_ASSERT_EQUAL(pool_node_of(h, rest), 1);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), 0);
    char *q = pool_alloc(h, POOL_SUPERVISOR, 1, 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    CU_ASSERT_EQUAL(pool_node_of(h, q), 2);
    char *rest2 = pool_alloc(h, POOL_SUPERVISOR, 2, n - 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rest2);
    CU_ASSERT_EQUAL(pool_node_of(h, rest2), 2);
    char *r = pool_alloc(h, POOL_SUPERVISOR, 1, 4, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(r);
    CU_ASSERT_EQUAL(pool_node_of(h, r), 0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - 4);
    /* A whole node fits nowhere now. */
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 1, n, POOL_OWNER_PROC(1)));
    CU_ASSERT_EQUAL(errno, ENOMEM);
    CU_ASSERT_CONSISTENT(h);

    /* A freed page of node 1 is preferred again for node 1. */
    pool_free(h, POOL_SUPERVISOR, p);
    char *p2 = pool_alloc(h, POOL_SUPERVISOR, 1, 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_EQUAL(p2, p);
    shm_destroy(h);

    /* Two nodes, as in the brief: node 1 exhausted falls back to node 0. */
    h = make(2, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    char *all1 = pool_alloc(h, 1, 1, ppn(h), POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_EQUAL(all1, node_base(h, 1));
    char *v = pool_alloc(h, 1, 1, 1, POOL_OWNER_PROC(1)); /* through VM 1's cache path */
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_EQUAL(pool_node_of(h, v), 0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), ppn(h) - 1); /* no refill from another node */
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

static void test_reuse(void)
{
    shm_header_t *h = make(1, 1, 4 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    enum { RUN = 8 };
    uint64_t nruns = ppn(h) / RUN;
    char **runs = calloc(nruns, sizeof *runs);
    CU_ASSERT_PTR_NOT_NULL_FATAL(runs);
    for (uint64_t i = 0; i < nruns; i++) {
        runs[i] = pool_alloc(h, POOL_SUPERVISOR, 0, RUN, POOL_OWNER_PROC(1));
        CU_ASSERT_PTR_NOT_NULL_FATAL(runs[i]);
    }
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(1)));

    /* The only hole is the freed run: it is what the next request gets. */
    pool_free(h, POOL_SUPERVISOR, runs[37]);
    char *again = pool_alloc(h, POOL_SUPERVISOR, 0, RUN, POOL_OWNER_PROC(2));
    CU_ASSERT_PTR_EQUAL_FATAL(again, runs[37]);
    CU_ASSERT_EQUAL(pool_owner_of(h, again + SHOAL_PAGE * (RUN - 1)), POOL_OWNER_PROC(2));

    /* Two neighbours freed make one hole of twice the size. */
    pool_free(h, POOL_SUPERVISOR, runs[5]);
    pool_free(h, POOL_SUPERVISOR, runs[6]);
    char *big = pool_alloc(h, POOL_SUPERVISOR, 0, 2 * RUN, POOL_OWNER_PROC(3));
    CU_ASSERT_PTR_EQUAL(big, runs[5]);
    CU_ASSERT_EQUAL(pool_run_pages(h, big), 2 * RUN);
    CU_ASSERT_CONSISTENT(h);

    pool_free(h, POOL_SUPERVISOR, big);
    for (uint64_t i = 0; i < nruns; i++)
        if (i != 5 && i != 6)
            pool_free(h, POOL_SUPERVISOR, runs[i]);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), ppn(h));
    char *whole = pool_alloc(h, POOL_SUPERVISOR, 0, ppn(h), POOL_OWNER_PROC(4));
    CU_ASSERT_PTR_EQUAL(whole, page(h, 0));
    pool_free(h, POOL_SUPERVISOR, whole);
    CU_ASSERT_CONSISTENT(h);
    free(runs);
    shm_destroy(h);
}

/* Runs of many sizes, word-aligned or not: no overlap, right length, the
 * run's owner on every page; freed in random order. */
static void test_runs(void)
{
    shm_header_t *h = make(1, 1, 16 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    static const size_t sizes[] = {1, 2, 3, 5, 31, 63, 64, 65, 127, 128, 129, 200, 1,
                                   64, 7, 300, 2, 511, 9, 1000};
    enum { N = sizeof sizes / sizeof sizes[0] };
    char *runs[N];
    uint8_t *seen = calloc(h->layout.pool_pages, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
    uint64_t used = 0;
    int bad_owner = 0, overlap = 0;
    for (int i = 0; i < N; i++) {
        runs[i] = pool_alloc(h, POOL_SUPERVISOR, 0, sizes[i], POOL_OWNER_PROC(100 + i));
        CU_ASSERT_PTR_NOT_NULL_FATAL(runs[i]);
        CU_ASSERT_EQUAL(pool_run_pages(h, runs[i]), sizes[i]);
        used += sizes[i];
        uint64_t first = (uint64_t)(runs[i] - page(h, 0)) / SHOAL_PAGE;
        for (size_t j = 0; j < sizes[i]; j++) {
            overlap += seen[first + j];
            seen[first + j] = 1;
            bad_owner += pool_owner_of(h, runs[i] + j * SHOAL_PAGE + 100) !=
                         POOL_OWNER_PROC(100 + i);
        }
        CU_ASSERT_EQUAL(pool_free_pages(h, 0), ppn(h) - used);
    }
    CU_ASSERT_EQUAL(overlap, 0);
    CU_ASSERT_EQUAL(bad_owner, 0);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_FREE), ppn(h) - used);
    CU_ASSERT_CONSISTENT(h);

    unsigned seed = 7;
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    for (int i = N - 1; i > 0; i--) {
        int j = (int)(rand_r(&seed) % (unsigned)(i + 1)), t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
    for (int i = 0; i < N; i++) {
        int r = order[i];
        pool_free(h, POOL_SUPERVISOR, runs[r]);
        used -= sizes[r];
        CU_ASSERT_EQUAL(pool_owner_of(h, runs[r] + (sizes[r] - 1) * SHOAL_PAGE), POOL_OWNER_FREE);
        CU_ASSERT_EQUAL(pool_free_pages(h, 0), ppn(h) - used);
        CU_ASSERT_CONSISTENT(h);
    }
    free(seen);
    shm_destroy(h);
}

/* A 64 MiB heap is a run of 16384 pages: the whole node. */
static void test_large(void)
{
    shm_header_t *h = make(1, 1, 64 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t n = ppn(h);
    CU_ASSERT_EQUAL(n, 16384);
    char *all = pool_alloc(h, POOL_SUPERVISOR, 0, n, POOL_OWNER_PROC(9));
    CU_ASSERT_PTR_EQUAL_FATAL(all, page(h, 0));
    CU_ASSERT_EQUAL(pool_run_pages(h, all), n);
    CU_ASSERT_EQUAL(pool_owner_of(h, all), POOL_OWNER_PROC(9));
    CU_ASSERT_EQUAL(pool_owner_of(h, all + (n / 2) * SHOAL_PAGE), POOL_OWNER_PROC(9));
    CU_ASSERT_EQUAL(pool_owner_of(h, all + n * SHOAL_PAGE - 1), POOL_OWNER_PROC(9));
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), 0);
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(9)));
    CU_ASSERT_EQUAL(errno, ENOMEM);
    pool_set_owner(h, all, POOL_OWNER_PROC(10)); /* one store, for every page */
    CU_ASSERT_EQUAL(pool_owner_of(h, all + n * SHOAL_PAGE - 1), POOL_OWNER_PROC(10));
    pool_free(h, POOL_SUPERVISOR, all);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n);

    /* One page in the middle: a whole-node run no longer fits, and only
     * the lower half has room for half a node. */
    char *lo = pool_alloc(h, POOL_SUPERVISOR, 0, n / 2, POOL_OWNER_PROC(1));
    char *mid = pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(2));
    CU_ASSERT_PTR_EQUAL(mid, page(h, n / 2));
    pool_free(h, POOL_SUPERVISOR, lo);
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 0, n, POOL_OWNER_PROC(3)));
    char *half = pool_alloc(h, POOL_SUPERVISOR, 0, n / 2, POOL_OWNER_PROC(3));
    CU_ASSERT_PTR_EQUAL(half, page(h, 0));
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 0, n / 2, POOL_OWNER_PROC(3)));
    char *upper = pool_alloc(h, POOL_SUPERVISOR, 0, n / 2 - 1, POOL_OWNER_PROC(3));
    CU_ASSERT_PTR_EQUAL(upper, page(h, n / 2 + 1));
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), 0);
    CU_ASSERT_CONSISTENT(h);
    pool_free(h, POOL_SUPERVISOR, half);
    pool_free(h, POOL_SUPERVISOR, mid);
    pool_free(h, POOL_SUPERVISOR, upper);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n);
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

static void test_set_owner(void)
{
    shm_header_t *h = make(2, 1, 4 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    char *run = pool_alloc(h, 0, 0, 5, POOL_OWNER_VM(0)); /* a to-space in the making */
    CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), 5);
    pool_set_owner(h, run, POOL_OWNER_PROC(7)); /* becomes the heap */
    for (int i = 0; i < 5; i++)
        CU_ASSERT_EQUAL(pool_owner_of(h, run + i * SHOAL_PAGE), POOL_OWNER_PROC(7));
    CU_ASSERT_EQUAL(pool_run_pages(h, run), 5);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), 0);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_PROC(7)), 5);
    CU_ASSERT_CONSISTENT(h);
    /* Migration: VM 1 frees what VM 0 allocated; the owner is the process. */
    pool_free(h, 1, run);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_PROC(7)), 0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), ppn(h));
    shm_destroy(h);
}

static void test_accounting(void)
{
    shm_header_t *h = make(1, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t n = ppn(h);
    char *a = pool_alloc(h, POOL_SUPERVISOR, 0, 10, POOL_OWNER_PROC(1));
    char *b = pool_alloc(h, POOL_SUPERVISOR, 1, 20, POOL_OWNER_PROC(1));
    char *c = pool_alloc(h, POOL_SUPERVISOR, 1, 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - 10);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), n - 21);
    pool_free(h, POOL_SUPERVISOR, b);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), n - 1);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - 10);
    pool_free(h, POOL_SUPERVISOR, a);
    pool_free(h, POOL_SUPERVISOR, c);
    CU_ASSERT_EQUAL(total_free(h), 2 * n);
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

static void test_cache(void)
{
    shm_header_t *h = make(2, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t n = ppn(h);
    char *p[17];
    /* The first one-page allocation refills the cache with a batch. */
    p[0] = pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(p[0]);
    CU_ASSERT_EQUAL(pool_owner_of(h, p[0]), POOL_OWNER_PROC(1));
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - POOL_CACHE_REFILL);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), POOL_CACHE_REFILL - 1);
    /* The rest of the batch comes without touching the node, upwards. */
    for (int i = 1; i < 16; i++) {
        p[i] = pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(1));
        CU_ASSERT_PTR_EQUAL(p[i], p[0] + i * SHOAL_PAGE);
    }
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - POOL_CACHE_REFILL);
    p[16] = pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(p[16]);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - 2 * POOL_CACHE_REFILL);

    /* A freed page goes to the cache, owned by the VM, and comes back first. */
    pool_free(h, 0, p[3]);
    CU_ASSERT_EQUAL(pool_owner_of(h, p[3]), POOL_OWNER_VM(0));
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - 2 * POOL_CACHE_REFILL);
    CU_ASSERT_PTR_EQUAL(pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(2)), p[3]);
    CU_ASSERT_EQUAL(pool_owner_of(h, p[3]), POOL_OWNER_PROC(2));

    /* A page of another node than the cache's takes the locked path. */
    char *other = pool_alloc(h, 0, 1, 1, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(other);
    CU_ASSERT_EQUAL(pool_node_of(h, other), 1);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), n - 1);

    /* Another VM has its own cache. */
    char *v1 = pool_alloc(h, 1, 0, 1, POOL_OWNER_PROC(3));
    CU_ASSERT_PTR_NOT_NULL_FATAL(v1);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - 3 * POOL_CACHE_REFILL);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(1)), POOL_CACHE_REFILL - 1);
    CU_ASSERT_CONSISTENT(h);

    /* VM 0 frees its 17 pages: 15 cached + 17 = a full cache of 32. The
     * node-1 page does not fit a node-0 cache and goes back to its node. */
    for (int i = 0; i < 17; i++)
        pool_free(h, 0, p[i]);
    pool_free(h, 0, other);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), n);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), POOL_CACHE_PAGES);
    /* The cache is the whole error of the free count. */
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - POOL_CACHE_PAGES - POOL_CACHE_REFILL);
    CU_ASSERT_CONSISTENT(h);
    pool_cache_drain(h, 0);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), 0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - POOL_CACHE_REFILL);
    pool_free(h, 1, v1);
    pool_cache_drain(h, 1);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n);

    /* The supervisor has no cache: exactly one page per page. */
    char *s = pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(1));
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - 1);
    pool_free(h, POOL_SUPERVISOR, s);

    /* A full cache sends further frees to the node. */
    char *many[40];
    for (int i = 0; i < 40; i++)
        many[i] = pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(1));
    for (int i = 0; i < 40; i++)
        pool_free(h, 0, many[i]);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n - POOL_CACHE_PAGES);
    pool_cache_drain(h, 0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), n);
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

/* A VM short of a run gives its own cached pages back and retries. */
static void test_cache_drain_on_enomem(void)
{
    shm_header_t *h = make(1, 1, 4 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t n = ppn(h);
    char *one = pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(1)); /* 15 more cached */
    CU_ASSERT_PTR_NOT_NULL_FATAL(one);
    char *rest = pool_alloc(h, POOL_SUPERVISOR, 0, n - POOL_CACHE_REFILL, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_NOT_NULL_FATAL(rest);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), 0);
    CU_ASSERT_PTR_NULL(pool_alloc(h, POOL_SUPERVISOR, 0, 2, POOL_OWNER_PROC(1)));
    char *two = pool_alloc(h, 0, 0, 2, POOL_OWNER_PROC(1));
    CU_ASSERT_PTR_EQUAL(two, one + SHOAL_PAGE);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), 0);
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), POOL_CACHE_REFILL - 3);
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

static bool owner_is(uint32_t owner, void *ctx)
{
    return owner == *(uint32_t *)ctx;
}

static void test_reclaim(void)
{
    shm_header_t *h = make(2, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    char *a = pool_alloc(h, POOL_SUPERVISOR, 0, 3, POOL_OWNER_PROC(1));
    char *b = pool_alloc(h, POOL_SUPERVISOR, 0, 1, POOL_OWNER_PROC(2));
    char *c = pool_alloc(h, POOL_SUPERVISOR, 1, 10, POOL_OWNER_PROC(1));
    char *d = pool_alloc(h, 0, 0, 2, POOL_OWNER_VM(0));
    CU_ASSERT_FATAL(a && b && c && d);
    uint32_t dead = POOL_OWNER_PROC(1);
    CU_ASSERT_EQUAL(pool_reclaim(h, owner_is, &dead), 2);
    CU_ASSERT_EQUAL(pool_owner_of(h, a), POOL_OWNER_FREE);
    CU_ASSERT_EQUAL(pool_owner_of(h, c + 9 * SHOAL_PAGE), POOL_OWNER_FREE);
    CU_ASSERT_EQUAL(pool_owner_of(h, b), POOL_OWNER_PROC(2));
    CU_ASSERT_EQUAL(pool_owner_of(h, d + SHOAL_PAGE), POOL_OWNER_VM(0));
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), ppn(h) - 3);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), ppn(h));
    CU_ASSERT_EQUAL(pool_reclaim(h, owner_is, &dead), 0);
    CU_ASSERT(nobody_locks(h));
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

/* Recovery of a VM (here not even dead: recovery does not look) frees its
 * runs and its cache and leaves processes' runs alone. */
static void test_recover_owned(void)
{
    shm_header_t *h = make(2, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    char *buf = pool_alloc(h, 0, 1, 6, POOL_OWNER_VM(0));
    char *one = pool_alloc(h, 0, 0, 1, POOL_OWNER_VM(0));
    char *heap = pool_alloc(h, 0, 0, 4, POOL_OWNER_PROC(5));
    char *other = pool_alloc(h, 1, 0, 1, POOL_OWNER_VM(1));
    CU_ASSERT_FATAL(buf && one && heap && other);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), 6 + POOL_CACHE_REFILL);
    pool_recover_vm(h, 0);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), 0);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_PROC(5)), 4);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(1)), POOL_CACHE_REFILL);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), ppn(h));
    CU_ASSERT_EQUAL(pool_free_pages(h, 0), ppn(h) - 4 - POOL_CACHE_REFILL);
    CU_ASSERT_CONSISTENT(h);
    /* Its cache is empty: the next page is a fresh refill, not a freed one. */
    char *again = pool_alloc(h, 0, 0, 1, POOL_OWNER_PROC(5));
    CU_ASSERT_PTR_NOT_NULL(again);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), POOL_CACHE_REFILL - 1);
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

/* --- forked VMs at once ------------------------------------------------- */

typedef struct held {
    char *p;
    size_t pages;
    uint64_t tag;
    uint32_t owner;
} held_t;

enum { HELD = 64 };

/* Exit codes of churning children. */
enum { CHURN_OK = 0, CHURN_CLOBBERED = 10, CHURN_OWNER, CHURN_ERRNO, CHURN_RUN };

static uint64_t page_tag(uint64_t tag, size_t i)
{
    return tag * 0x9e3779b97f4a7c15ull ^ i;
}

/* First and last word of each page: another allocation of the same page
 * by anyone would overwrite them. */
static void fill(const held_t *r)
{
    for (size_t i = 0; i < r->pages; i++) {
        uint64_t *w = (uint64_t *)(r->p + i * SHOAL_PAGE);
        w[0] = page_tag(r->tag, i);
        w[SHOAL_PAGE / 8 - 1] = ~page_tag(r->tag, i);
    }
}

static bool intact(const held_t *r)
{
    for (size_t i = 0; i < r->pages; i++) {
        const uint64_t *w = (const uint64_t *)(r->p + i * SHOAL_PAGE);
        if (w[0] != page_tag(r->tag, i) || w[SHOAL_PAGE / 8 - 1] != ~page_tag(r->tag, i))
            return false;
    }
    return true;
}

static size_t rand_pages(unsigned *seed)
{
    unsigned r = rand_r(seed) % 100;
    if (r < 60)
        return 1;
    if (r < 90)
        return 2 + rand_r(seed) % 15;
    if (r < 99)
        return 17 + rand_r(seed) % 48;
    return 65 + rand_r(seed) % 448;
}

/* Owners a VM's children use: the VM itself or processes vm*1000 + j. */
static uint32_t churn_owner(uint32_t vm, unsigned r)
{
    return (r & 1) ? POOL_OWNER_VM(vm) : POOL_OWNER_PROC(vm * 1000 + r % 1000);
}

static bool owner_of_vm(uint32_t owner, uint32_t vm)
{
    if (owner == POOL_OWNER_VM(vm))
        return true;
    return POOL_OWNER_IS_PROC(owner) && POOL_OWNER_INDEX(owner) / 1000 == vm;
}

/* Random allocations and frees as VM `vm`, `ops` of them (forever if
 * negative), checking its pages before it frees them. With progress_fd,
 * writes a byte every 16 operations (and drops it if the pipe is full). */
static int churn(shm_header_t *h, uint32_t vm, unsigned seed, long ops, int progress_fd)
{
    held_t held[HELD];
    int n = 0;
    uint64_t tag = (uint64_t)vm << 40 | (uint64_t)seed << 20;
    uint32_t node = vm % h->cfg.n_nodes;
    for (long op = 0; ops < 0 || op < ops; op++) {
        if (progress_fd >= 0 && op % 16 == 0) {
            char c = 1;
            if (write(progress_fd, &c, 1) < 0 && errno != EAGAIN)
                return CHURN_ERRNO;
        }
        unsigned r = (unsigned)rand_r(&seed);
        if (n == HELD || (n > 0 && (r & 1))) {
            int i = (int)((unsigned)rand_r(&seed) % (unsigned)n);
            if (!intact(&held[i]))
                return CHURN_CLOBBERED;
            if (pool_owner_of(h, held[i].p + (held[i].pages - 1) * SHOAL_PAGE) != held[i].owner)
                return CHURN_OWNER;
            if ((r & 6) == 0) {
                uint32_t o = churn_owner(vm, r >> 3);
                pool_set_owner(h, held[i].p, o);
                if (pool_owner_of(h, held[i].p + (held[i].pages - 1) * SHOAL_PAGE) != o)
                    return CHURN_OWNER;
            }
            pool_free(h, vm, held[i].p);
            held[i] = held[--n];
            continue;
        }
        size_t pages = rand_pages(&seed);
        uint32_t owner = churn_owner(vm, r >> 1);
        char *p = pool_alloc(h, vm, node, pages, owner);
        if (!p) {
            if (errno != ENOMEM)
                return CHURN_ERRNO;
            continue;
        }
        if (pool_run_pages(h, p) != pages ||
            pool_owner_of(h, p + (pages - 1) * SHOAL_PAGE) != owner)
            return CHURN_RUN;
        held[n] = (held_t){p, pages, ++tag, owner};
        fill(&held[n]);
        n++;
    }
    for (int i = 0; i < n; i++) {
        if (!intact(&held[i]))
            return CHURN_CLOBBERED;
        pool_free(h, vm, held[i].p);
    }
    pool_cache_drain(h, vm);
    return CHURN_OK;
}

static void test_concurrent(void)
{
    enum { KIDS = 4 };
    shm_header_t *h = make(KIDS, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    int go[2];
    CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
    pid_t kids[KIDS];
    for (uint32_t k = 0; k < KIDS; k++) {
        kids[k] = fork();
        CU_ASSERT_FATAL(kids[k] >= 0);
        if (kids[k] == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 0) /* EOF: all start together */
                _exit(2);
            _exit(churn(h, k, 1000 + k, 20000, -1));
        }
    }
    close(go[0]);
    close(go[1]);
    for (int k = 0; k < KIDS; k++) {
        int st;
        CU_ASSERT_EQUAL(waitpid(kids[k], &st, 0), kids[k]);
        CU_ASSERT(WIFEXITED(st));
        if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
            fprintf(stderr, "\n  child %d exited %d\n", k, WEXITSTATUS(st));
        CU_ASSERT_EQUAL(WEXITSTATUS(st), CHURN_OK);
    }
    CU_ASSERT(nobody_locks(h));
    CU_ASSERT_CONSISTENT(h);
    CU_ASSERT_EQUAL(total_free(h), h->layout.pool_pages);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_FREE), h->layout.pool_pages);
    shm_destroy(h);
}

/* --- crash safety ------------------------------------------------------- */

enum scenario { SC_ALLOC_RUN, SC_REFILL, SC_FREE_RUN, SC_CACHE_POP, SC_CACHE_PUSH, SC_DRAIN };

static const char *scenario_name[] = {"alloc run", "cache refill", "free run",
                                      "cache pop", "cache push", "cache drain"};

/* The child: VM 0 on node 1, killed by the hook at `step`. */
static void crash_child(shm_header_t *h, enum scenario sc, int step, char *run)
{
    char *p;
    switch (sc) {
    case SC_ALLOC_RUN:
        pool_crash_step = step;
        pool_alloc(h, 0, 1, 5, POOL_OWNER_PROC(3));
        break;
    case SC_REFILL:
        pool_crash_step = step;
        pool_alloc(h, 0, 1, 1, POOL_OWNER_PROC(3));
        break;
    case SC_FREE_RUN:
        pool_crash_step = step;
        pool_free(h, 0, run);
        break;
    case SC_CACHE_POP:
        pool_alloc(h, 0, 1, 1, POOL_OWNER_PROC(3)); /* refills; leaks to the process */
        pool_crash_step = step;
        pool_alloc(h, 0, 1, 1, POOL_OWNER_PROC(3));
        break;
    case SC_CACHE_PUSH:
        p = pool_alloc(h, 0, 1, 1, POOL_OWNER_PROC(3));
        pool_crash_step = step;
        pool_free(h, 0, p);
        break;
    case SC_DRAIN:
        p = pool_alloc(h, 0, 1, 1, POOL_OWNER_PROC(3));
        pool_free(h, 0, p);
        pool_crash_step = step;
        pool_cache_drain(h, 0);
        break;
    }
    _exit(0); /* the step was never reached: the parent fails the test */
}

/* Pages left owned by process 3 after recovery: what the dead VM had
 * handed to the process (the process died with it; pool_reclaim's job). */
static uint64_t expected_proc_pages(enum scenario sc, int step)
{
    switch (sc) {
    case SC_ALLOC_RUN:
        return step == POOL_CRASH_CLEARED ? 5 : 0; /* done but not returned */
    case SC_FREE_RUN:
        return step == POOL_CRASH_LOCKED ? 5 : 0; /* not yet journaled */
    case SC_CACHE_POP:
        return 1; /* the first, completed allocation */
    default:
        return 0;
    }
}

static void crash_case(shm_header_t *h, enum scenario sc, int step)
{
    uint64_t n = ppn(h);
    char *run = NULL;
    if (sc == SC_FREE_RUN) {
        run = pool_alloc(h, POOL_SUPERVISOR, 1, 5, POOL_OWNER_PROC(3));
        CU_ASSERT_PTR_NOT_NULL_FATAL(run);
    }
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0)
        crash_child(h, sc, step, run);
    int st;
    CU_ASSERT_EQUAL_FATAL(waitpid(pid, &st, 0), pid);
    bool killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
    if (!killed)
        fprintf(stderr, "\n  %s: step %d not reached\n", scenario_name[sc], step);
    CU_ASSERT(killed);

    /* Inside the lock, the dead VM holds node 1's lock and only it. */
    bool locked = step <= POOL_CRASH_CLEARED;
    CU_ASSERT_EQUAL(pool_lock_holder(h, 1), locked ? 0 : POOL_NOBODY);
    CU_ASSERT_EQUAL(pool_lock_holder(h, 0), POOL_NOBODY);
    char *elsewhere = pool_alloc(h, POOL_SUPERVISOR, 0, 3, POOL_OWNER_PROC(4));
    CU_ASSERT_PTR_NOT_NULL(elsewhere);
    CU_ASSERT_EQUAL(pool_node_of(h, elsewhere), 0);
    pool_free(h, POOL_SUPERVISOR, elsewhere);

    pool_recover_vm(h, 0);
    CU_ASSERT(nobody_locks(h));
    CU_ASSERT_CONSISTENT(h);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), 0);
    uint64_t left = expected_proc_pages(sc, step);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_PROC(3)), left);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), n - left);
    uint32_t dead = POOL_OWNER_PROC(3);
    CU_ASSERT_EQUAL(pool_reclaim(h, owner_is, &dead), left ? 1 : 0);
    CU_ASSERT_EQUAL(total_free(h), h->layout.pool_pages);

    /* And the node works: VM 1 takes all of it and gives it back. */
    char *all = pool_alloc(h, 1, 1, n, POOL_OWNER_PROC(4));
    CU_ASSERT_PTR_EQUAL(all, node_base(h, 1));
    pool_free(h, 1, all);
    CU_ASSERT_EQUAL(pool_free_pages(h, 1), n);
    CU_ASSERT_CONSISTENT(h);
}

static void test_crash_steps(void)
{
    shm_header_t *h = make(2, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    for (int step = POOL_CRASH_LOCKED; step <= POOL_CRASH_CLEARED; step++) {
        crash_case(h, SC_ALLOC_RUN, step);
        crash_case(h, SC_REFILL, step);
        crash_case(h, SC_FREE_RUN, step);
        crash_case(h, SC_DRAIN, step);
    }
    crash_case(h, SC_REFILL, POOL_CRASH_REFILLED);
    crash_case(h, SC_CACHE_POP, POOL_CRASH_CACHE_POP);
    crash_case(h, SC_CACHE_PUSH, POOL_CRASH_CACHE_PUSH);
    shm_destroy(h);
}

/* Two VMs die, each holding a node's lock. Recovering the second one
 * first needs the first one's lock too: with the first marked VM_DEAD,
 * the supervisor breaks it instead of waiting forever. The recovery runs
 * in a child with an alarm, so that a hang fails the test. */
static void test_two_dead(void)
{
    shm_header_t *h = make(2, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    for (uint32_t vm = 0; vm < 2; vm++) {
        pid_t pid = fork();
        CU_ASSERT_FATAL(pid >= 0);
        if (pid == 0) {
            pool_alloc(h, vm, vm, 1, POOL_OWNER_VM(vm)); /* fill the cache */
            pool_crash_step = POOL_CRASH_MAP;
            pool_alloc(h, vm, vm, 9, POOL_OWNER_VM(vm));
            _exit(0);
        }
        int st;
        CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
        CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
        CU_ASSERT_EQUAL(pool_lock_holder(h, vm), vm);
    }
    shm_vm(h, 0)->state = VM_DEAD;
    shm_vm(h, 1)->state = VM_DEAD;
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        alarm(30);
        pool_recover_vm(h, 1);
        _exit(0);
    }
    int st;
    CU_ASSERT_EQUAL(waitpid(pid, &st, 0), pid);
    CU_ASSERT(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    CU_ASSERT(nobody_locks(h));
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(1)), 0);
    pool_recover_vm(h, 0);
    CU_ASSERT_EQUAL(owned(h, POOL_OWNER_VM(0)), 0);
    CU_ASSERT_EQUAL(total_free(h), h->layout.pool_pages);
    CU_ASSERT_CONSISTENT(h);
    shm_destroy(h);
}

typedef struct kid {
    pid_t pid;
    int fd; /* read end of its progress pipe, non-blocking */
} kid_t;

static kid_t start_churner(shm_header_t *h, uint32_t vm, unsigned seed)
{
    kid_t k = {-1, -1};
    int fds[2];
    if (pipe(fds) < 0)
        return k;
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    k.pid = fork();
    if (k.pid == 0) {
        close(fds[0]);
        _exit(churn(h, vm, seed, -1, fds[1]));
    }
    close(fds[1]);
    k.fd = fds[0];
    shm_vm(h, vm)->state = VM_RUNNING;
    return k;
}

/* Wait for `want` fresh bytes of progress (older ones are drained first). */
static bool await_progress(int fd, int want)
{
    char buf[4096];
    while (read(fd, buf, sizeof buf) > 0)
        ;
    while (want > 0) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, -1) < 0)
            return false;
        ssize_t r = read(fd, buf, (size_t)want);
        if (r == 0)
            return false; /* the child is gone */
        if (r > 0)
            want -= (int)r;
    }
    return true;
}

/* Every page is free or belongs to a VM in `live` (a bit per VM). */
static uint64_t foreign_pages(const shm_header_t *h, unsigned live)
{
    uint64_t bad = 0;
    for (uint64_t i = 0; i < h->layout.pool_pages; i++) {
        uint32_t o = pool_owner_of(h, page(h, i));
        if (o == POOL_OWNER_FREE)
            continue;
        bool ok = false;
        for (uint32_t vm = 0; vm < 32 && !ok; vm++)
            ok = (live >> vm & 1) && owner_of_vm(o, vm);
        bad += !ok;
    }
    return bad;
}

static bool owner_of_dead(uint32_t owner, void *ctx)
{
    return owner_of_vm(owner, *(uint32_t *)ctx);
}

/* Kill a VM, recover as the supervisor would, check. True if it died by
 * our SIGKILL (not by a failed check of its own). */
static bool kill_and_recover(shm_header_t *h, kid_t *k, uint32_t vm)
{
    kill(k->pid, SIGKILL);
    int st;
    bool ok = waitpid(k->pid, &st, 0) == k->pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
    if (!ok && WIFEXITED(st))
        fprintf(stderr, "\n  churner %u exited %d\n", vm, WEXITSTATUS(st));
    close(k->fd);
    shm_vm(h, vm)->state = VM_DEAD;
    pool_recover_vm(h, vm);
    pool_reclaim(h, owner_of_dead, &vm); /* its processes died with it */
    return ok;
}

static void test_random_kill(void)
{
    enum { KIDS = 3, ROUNDS = 100 };
    shm_header_t *h = make(KIDS, 2, 8 * MiB);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    kid_t kids[KIDS];
    unsigned seed = 99, live = (1u << KIDS) - 1;
    for (uint32_t vm = 0; vm < KIDS; vm++) {
        kids[vm] = start_churner(h, vm, seed + vm);
        CU_ASSERT_FATAL(kids[vm].pid > 0);
    }
    int held_lock = 0;
    for (int round = 0; round < ROUNDS; round++) {
        uint32_t vm = (uint32_t)round % KIDS;
        int want = 1 + (int)(rand_r(&seed) % 8);
        CU_ASSERT_FATAL(await_progress(kids[vm].fd, want));
        for (uint32_t k = 0; k < h->cfg.n_nodes; k++)
            held_lock += pool_lock_holder(h, k) == vm;
        CU_ASSERT(kill_and_recover(h, &kids[vm], vm));
        /* The others run on: their pages are theirs, the dead VM has none
         * left, and it holds no lock. */
        live &= ~(1u << vm);
        CU_ASSERT_EQUAL(foreign_pages(h, live), 0);
        for (uint32_t k = 0; k < h->cfg.n_nodes; k++)
            CU_ASSERT_NOT_EQUAL(pool_lock_holder(h, k), vm);
        kids[vm] = start_churner(h, vm, seed + (unsigned)round * KIDS + vm);
        CU_ASSERT_FATAL(kids[vm].pid > 0);
        live |= 1u << vm;
    }
    for (uint32_t vm = 0; vm < KIDS; vm++)
        CU_ASSERT(kill_and_recover(h, &kids[vm], vm));
    CU_ASSERT(nobody_locks(h));
    CU_ASSERT_CONSISTENT(h);
    CU_ASSERT_EQUAL(total_free(h), h->layout.pool_pages);
    CU_ASSERT_EQUAL(foreign_pages(h, 0), 0);
    if (getenv("SHOAL_TEST_VERBOSE"))
        fprintf(stderr, "\n  random kill: %d of %d kills inside a lock\n", held_lock, ROUNDS);
    shm_destroy(h);
}

static CU_TestInfo pool_tests[] = {
    {"init: all free, ranges, contains, node_of", test_init},
    {"bad arguments: EINVAL, too large: ENOMEM", test_bad_args},
    {"alloc and free one page", test_alloc_free},
    {"exhaustion: ENOMEM, then free and alloc again", test_exhaustion},
    {"per-node ranges and nearest-node fallback", test_nodes},
    {"freed runs are reused", test_reuse},
    {"first fit: kept pages do not fragment a growing, cycling run", test_no_fragmentation},
    {"runs of many sizes: owner on every page", test_runs},
    {"a run of a whole node", test_large},
    {"set_owner changes the whole run", test_set_owner},
    {"free page accounting per node", test_accounting},
    {"per-VM cache: refill, LIFO, node, bound", test_cache},
    {"a VM drains its own cache when short", test_cache_drain_on_enomem},
    {"reclaim frees dead owners' runs only", test_reclaim},
    {"recover_vm frees the VM's runs and cache", test_recover_owned},
    {"forked VMs allocate at once without overlap", test_concurrent},
    {"crash at every step, then recover", test_crash_steps},
    {"two dead lock holders recover in any order", test_two_dead},
    {"random kills of working VMs, then recover", test_random_kill},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(pool, pool_tests, NULL, NULL)
