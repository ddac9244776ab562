/*
 * test_atom.c: the atom table (shm/atom.c) when VMs add atoms at run
 * time: forked children adding the same names at once agree on every
 * number; children killed at random in the middle of adding leave a
 * table that checks whole (atom_check) and that takes new atoms; a full
 * table is ENOSPC, for both of its bounds, and keeps what it has.
 *
 * Children report through a shared results array and their exit status;
 * every wait for one has a deadline (poll on a pipe that closes when it
 * ends), so a hang fails instead of stalling the suite.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include "shm/atom.h"
#include "shm/segment.h"
#include "supervisor/fork.h"

#include <ck_pr.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KIDS 4
#define COMMON 2000
#define CHILD_LIMIT_MS 30000

typedef struct kid {
    pid_t pid;
    int fd; /* EOF when the child ends */
} kid_t;

static kid_t start(int (*job)(shm_header_t *, int, void *), shm_header_t *h, int n, void *arg)
{
    kid_t k = {-1, -1};
    int fds[2];
    if (pipe(fds) < 0)
        return k;
    /* the supervisor's fork: the worker dies with the test process (a
     * failed assertion's abort), not left looping until told to stop */
    k.pid = fork_child();
    if (k.pid == 0) {
        close(fds[0]);
        _exit(job(h, n, arg));
    }
    close(fds[1]);
    k.fd = fds[0];
    return k;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait at most ms for k to end: its wait status, or -1 (killed). */
static int finish(kid_t *k, int ms)
{
    int64_t end = now_ms() + ms;
    bool ended = false;
    char buf[64];
    while (!ended) {
        int64_t left = end - now_ms();
        struct pollfd pf = {k->fd, POLLIN, 0};
        if (left <= 0 || (poll(&pf, 1, (int)left) <= 0 && errno != EINTR))
            break;
        ended = read(k->fd, buf, sizeof buf) == 0;
    }
    if (!ended)
        kill(k->pid, SIGKILL);
    int st = 0;
    while (waitpid(k->pid, &st, 0) < 0 && errno == EINTR)
        ;
    close(k->fd);
    return ended ? st : -1;
}

static shm_header_t *segment(uint32_t cap, uint64_t bytes)
{
    shm_config_t c;
    shm_config_default(&c, 1, 1);
    c.proc_slots = 64;
    c.atom_cap = cap;
    c.atom_bytes = bytes;
    c.code_bytes = 1u << 20;
    c.pool_bytes = 64u << 20;
    return shm_create(&c);
}

/* ------------------------------------------------------------------ */

/* Child n: intern the COMMON names in its own order, and 200 of its own;
 * write the numbers it got for the common ones to out[n][i]. */
static int add_common(shm_header_t *h, int n, void *arg)
{
    int64_t(*out)[COMMON] = arg;
    uint64_t r = 0x9E3779B97F4A7C15ull * (uint64_t)(n + 1);
    int order[COMMON];
    for (int i = 0; i < COMMON; i++)
        order[i] = i;
    for (int i = COMMON; i > 1; i--) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        int j = (int)(r % (uint64_t)i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    char name[32];
    for (int i = 0; i < COMMON; i++) {
        snprintf(name, sizeof name, "common-%d", order[i]);
        out[n][order[i]] = atom_intern(h, name, strlen(name));
        if (i % 10 == 0) {
            snprintf(name, sizeof name, "own-%d-%d", n, i);
            if (atom_intern(h, name, strlen(name)) < 0)
                return 2;
        }
    }
    return 0;
}

static void test_concurrent_adds(void)
{
    shm_header_t *h = segment(16384, 1u << 20);
    CU_ASSERT_FATAL(h != NULL);
    int64_t(*out)[COMMON] = mmap(NULL, sizeof(int64_t) * KIDS * COMMON, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(out != MAP_FAILED);
    kid_t k[KIDS];
    for (int i = 0; i < KIDS; i++)
        k[i] = start(add_common, h, i, out);
    for (int i = 0; i < KIDS; i++) {
        int st = finish(&k[i], CHILD_LIMIT_MS);
        LH_CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "child %d: status %d", i, st);
    }
    bool same = true;
    char name[32];
    for (int j = 0; j < COMMON && same; j++) {
        snprintf(name, sizeof name, "common-%d", j);
        int64_t want = atom_find(h, name, strlen(name));
        for (int i = 0; i < KIDS; i++)
            same = same && want >= 0 && out[i][j] == want;
        size_t len;
        same = same && strcmp(atom_name(h, (uint32_t)want, &len), name) == 0;
    }
    CU_ASSERT(same);
    const char *why = atom_check(h);
    LH_CHECK(why == NULL, "%s", why ? why : "");
    munmap(out, sizeof(int64_t) * KIDS * COMMON);
    shm_destroy(h);
}

/* Child n: add fresh names until it is killed. */
static int add_forever(shm_header_t *h, int n, void *arg)
{
    (void)arg;
    char name[48];
    for (long i = 0;; i++) {
        snprintf(name, sizeof name, "kid-%d-%ld-%ld", n, (long)getpid(), i);
        if (atom_intern(h, name, strlen(name)) < 0)
            return 3;
    }
}

static void test_killed_while_adding(void)
{
    shm_header_t *h = segment(1u << 20, 64u << 20);
    CU_ASSERT_FATAL(h != NULL);
    for (int round = 0; round < 5; round++) {
        uint32_t before = atom_count(h);
        kid_t k[KIDS];
        for (int i = 0; i < KIDS; i++)
            k[i] = start(add_forever, h, i, NULL);
        /* let them add a while, then kill them wherever they are */
        int64_t end = now_ms() + CHILD_LIMIT_MS;
        while (atom_count(h) < before + 2000u * (uint32_t)(round + 1) && now_ms() < end)
            ;
        for (int i = 0; i < KIDS; i++)
            kill(k[i].pid, SIGKILL);
        for (int i = 0; i < KIDS; i++)
            finish(&k[i], CHILD_LIMIT_MS);
        const char *why = atom_check(h);
        LH_CHECK(why == NULL, "round %d: %s", round, why ? why : "");
        char name[32];
        snprintf(name, sizeof name, "after-%d", round);
        int64_t a = atom_intern(h, name, strlen(name));
        CU_ASSERT(a >= 0 && atom_find(h, name, strlen(name)) == a);
    }
    shm_destroy(h);
}

static void test_full(void)
{
    /* 64 atoms: the count runs out first */
    shm_header_t *h = segment(64, 1u << 20);
    CU_ASSERT_FATAL(h != NULL);
    char name[32];
    int64_t last = -1;
    for (int i = 0; i < 64; i++) {
        snprintf(name, sizeof name, "a%d", i);
        last = atom_intern(h, name, strlen(name));
    }
    CU_ASSERT_EQUAL(last, 63);
    errno = 0;
    CU_ASSERT_EQUAL(atom_intern(h, "one-more", 8), -1);
    CU_ASSERT_EQUAL(errno, ENOSPC);
    CU_ASSERT_EQUAL(atom_intern(h, "a5", 2), 5); /* existing ones still come back */
    CU_ASSERT_PTR_NULL(atom_check(h));
    shm_destroy(h);
    /* names: the bytes run out first */
    h = segment(4096, atom_index_bytes(4096) + 1000);
    CU_ASSERT_FATAL(h != NULL);
    char big[200];
    memset(big, 'x', sizeof big);
    int added = 0;
    for (int i = 0; i < 10; i++) {
        big[0] = (char)('a' + i);
        if (atom_intern(h, big, sizeof big) >= 0)
            added++;
        else
            CU_ASSERT_EQUAL(errno, ENOSPC);
    }
    CU_ASSERT(added >= 4 && added < 10);
    CU_ASSERT(atom_intern(h, "short", 5) >= 0);
    CU_ASSERT_PTR_NULL(atom_check(h));
    shm_destroy(h);
}

/* atom_order is the order of the names' bytes, then of their lengths,
 * for names that differ inside their first 8 bytes, past them, only in
 * length, and with zero bytes and high bytes where a shorter name ends. */
static void test_order(void)
{
    static const struct {
        const char *s;
        size_t n;
    } names[] = {{"", 0},           {"a", 1},          {"a\0", 2},       {"a\0\0", 3},
                 {"a\x01", 2},      {"ab", 2},         {"abcdefg", 7},   {"abcdefgh", 8},
                 {"abcdefgh\0", 9}, {"abcdefgha", 9},  {"abcdefghb", 9}, {"abcdefghab", 10},
                 {"abcdefgi", 8},   {"abcdefg\xff", 8}, {"\xff", 1},     {"z", 1},
                 {"count", 5},      {"counter", 7},    {"counter_total", 13},
                 {"counter_totals", 14}};
    enum { N = sizeof names / sizeof names[0] };
    shm_header_t *h = segment(4096, 1u << 20);
    CU_ASSERT_FATAL(h != NULL);
    int64_t idx[N];
    for (int i = 0; i < N; i++) {
        idx[i] = atom_intern(h, names[i].s, names[i].n);
        CU_ASSERT_FATAL(idx[i] >= 0);
    }
    int bad = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            size_t m = names[i].n < names[j].n ? names[i].n : names[j].n;
            int c = memcmp(names[i].s, names[j].s, m);
            int want = c ? (c > 0) - (c < 0) : (names[i].n > names[j].n) - (names[i].n < names[j].n);
            int got = atom_order(h, (uint32_t)idx[i], (uint32_t)idx[j]);
            if (got != want) {
                if (bad < 5)
                    printf("\n  atom_order of names %d and %d: %d, want %d", i, j, got, want);
                bad++;
            }
        }
    CU_ASSERT_EQUAL(bad, 0);
    shm_destroy(h);
}

static CU_TestInfo tests[] = {
    {"atom_order: bytes, then length, inside and past the cached 8", test_order},
    {"VMs adding the same names at once agree", test_concurrent_adds},
    {"VMs killed while adding leave a whole table", test_killed_while_adding},
    {"a full table is ENOSPC", test_full},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(atom, tests, NULL, NULL)
