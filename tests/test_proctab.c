/*
 * test_proctab.c: the process table: claims, pids and their generations,
 * a full table, recovery of a dead VM's claims, and claims that race from
 * several forked processes.
 */
#include "tests/unit.h"

#include "shm/proctab.h"
#include "shm/segment.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static shm_header_t *make(uint32_t vms, uint32_t slots)
{
    shm_config_t c;
    shm_config_default(&c, vms, 1);
    c.proc_slots = slots;
    c.atom_cap = 1024;
    c.atom_bytes = 64u << 10;
    c.code_bytes = 64u << 10;
    c.pool_bytes = 1u << 20;
    return shm_create(&c);
}

static void test_claim_publish(void)
{
    shm_header_t *h = make(2, 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pcb_t *p = proctab_claim(h, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    uint64_t pid = p->pid;
    CU_ASSERT_NOT_EQUAL(pid, 0);
    CU_ASSERT_EQUAL(pid % 64, p->slot);
    CU_ASSERT_PTR_EQUAL(shm_pcb(h, p->slot), p);
    CU_ASSERT_EQUAL(p->state, PCB_CLAIMED(1));
    CU_ASSERT_EQUAL(p->owner, 1);
    /* Claimed is not yet a process. */
    CU_ASSERT_PTR_NULL(proctab_lookup(h, pid));
    CU_ASSERT_EQUAL(proctab_live(h), 0);
    proctab_publish(h, p);
    CU_ASSERT_EQUAL(p->state, PCB_LIVE);
    CU_ASSERT_PTR_EQUAL(proctab_lookup(h, pid), p);
    CU_ASSERT_EQUAL(proctab_live(h), 1);
    CU_ASSERT_PTR_NULL(proctab_lookup(h, 0));
    CU_ASSERT_PTR_NULL(proctab_lookup(h, pid + 64)); /* same slot, next generation */

    /* A released slot's body is zero again when it is next claimed. */
    memset(p->body, 0xab, sizeof p->body);
    uint32_t slot = p->slot;
    proctab_release(h, p);
    CU_ASSERT_EQUAL(p->state, PCB_FREE);
    CU_ASSERT_EQUAL(p->owner, PCB_NO_OWNER);
    CU_ASSERT_EQUAL(p->pid, 0);
    CU_ASSERT_PTR_NULL(proctab_lookup(h, pid));
    pcb_t *q = NULL;
    for (int i = 0; i < 64 && (!q || q->slot != slot); i++)
        q = proctab_claim(h, 1);
    CU_ASSERT_PTR_EQUAL_FATAL(q, p);
    for (size_t i = 0; i < sizeof q->body / sizeof q->body[0]; i++)
        CU_ASSERT_EQUAL(q->body[i], 0);
    shm_destroy(h);
}

static void test_same_slot_new_pid(void)
{
    shm_header_t *h = make(1, 1); /* one slot: every claim reuses it */
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t last = 0;
    for (int i = 0; i < 100; i++) {
        pcb_t *p = proctab_claim(h, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        CU_ASSERT_EQUAL(p->slot, 0);
        CU_ASSERT(p->pid > last);
        proctab_publish(h, p);
        CU_ASSERT_PTR_EQUAL(proctab_lookup(h, p->pid), p);
        if (last)
            CU_ASSERT_PTR_NULL(proctab_lookup(h, last));
        last = p->pid;
        proctab_release(h, p);
        CU_ASSERT_PTR_NULL(proctab_lookup(h, last));
    }
    shm_destroy(h);
}

/* Many claim/release cycles with a few processes alive at a time: per slot
 * the pids strictly grow, so (with pid % slots == slot) no pid repeats. */
static void test_generations(void)
{
    enum { SLOTS = 8, LIVE = 5, CYCLES = 5000 };
    shm_header_t *h = make(1, SLOTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t last[SLOTS] = {0};
    pcb_t *live[LIVE];
    uint64_t pids[LIVE];
    int n = 0, bad = 0;
    unsigned seed = 12345;
    for (int c = 0; c < CYCLES; c++) {
        if (n == LIVE || (n > 0 && rand_r(&seed) % 2)) {
            int i = (int)(rand_r(&seed) % (unsigned)n);
            proctab_release(h, live[i]);
            bad += proctab_lookup(h, pids[i]) != NULL;
            live[i] = live[n - 1];
            pids[i] = pids[n - 1];
            n--;
            continue;
        }
        pcb_t *p = proctab_claim(h, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        uint64_t pid = p->pid;
        bad += pid == 0 || pid % SLOTS != p->slot || pid <= last[p->slot];
        last[p->slot] = pid;
        proctab_publish(h, p);
        bad += proctab_lookup(h, pid) != p;
        live[n] = p;
        pids[n++] = pid;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(proctab_live(h), (size_t)n);
    shm_destroy(h);
}

static void test_full(void)
{
    enum { SLOTS = 64 };
    shm_header_t *h = make(2, SLOTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pcb_t *got[SLOTS];
    bool seen[SLOTS] = {false};
    for (int i = 0; i < SLOTS; i++) {
        got[i] = proctab_claim(h, (uint32_t)i % 2);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got[i]);
        CU_ASSERT_FALSE(seen[got[i]->slot]);
        seen[got[i]->slot] = true;
    }
    errno = 0;
    CU_ASSERT_PTR_NULL(proctab_claim(h, 0));
    CU_ASSERT_EQUAL(errno, EAGAIN);
    errno = 0;
    CU_ASSERT_PTR_NULL(proctab_claim(h, 1));
    CU_ASSERT_EQUAL(errno, EAGAIN);

    /* One slot back: the next claim finds exactly it, with a new pid. */
    uint64_t old = got[37]->pid;
    uint32_t slot = got[37]->slot;
    proctab_release(h, got[37]);
    pcb_t *p = proctab_claim(h, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_EQUAL(p->slot, slot);
    CU_ASSERT(p->pid > old);
    CU_ASSERT_EQUAL(p->pid % SLOTS, slot);
    shm_destroy(h);
}

static void test_recover_vm(void)
{
    shm_header_t *h = make(2, 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pcb_t *a[5], *b[4];
    for (int i = 0; i < 5; i++) {
        a[i] = proctab_claim(h, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(a[i]);
    }
    for (int i = 0; i < 4; i++) {
        b[i] = proctab_claim(h, 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b[i]);
    }
    proctab_publish(h, a[0]);
    proctab_publish(h, a[3]);
    uint32_t gen = a[1]->gen;
    uint64_t pid1 = a[1]->pid;

    /* VM 0 dies: its claims (not its live processes) go back. */
    CU_ASSERT_EQUAL(proctab_recover_vm(h, 0), 3);
    CU_ASSERT_EQUAL(a[1]->state, PCB_FREE);
    CU_ASSERT_EQUAL(a[2]->state, PCB_FREE);
    CU_ASSERT_EQUAL(a[4]->state, PCB_FREE);
    CU_ASSERT_EQUAL(a[1]->gen, gen + 1);
    CU_ASSERT_EQUAL(a[1]->pid, 0);
    CU_ASSERT_EQUAL(a[1]->owner, PCB_NO_OWNER);
    CU_ASSERT_PTR_NULL(proctab_lookup(h, pid1));
    CU_ASSERT_PTR_EQUAL(proctab_lookup(h, a[0]->pid), a[0]);
    CU_ASSERT_PTR_EQUAL(proctab_lookup(h, a[3]->pid), a[3]);
    for (int i = 0; i < 4; i++)
        CU_ASSERT_EQUAL(b[i]->state, PCB_CLAIMED(1));
    CU_ASSERT_EQUAL(proctab_live(h), 2);
    CU_ASSERT_EQUAL(proctab_recover_vm(h, 0), 0);
    CU_ASSERT_EQUAL(proctab_recover_vm(h, 1), 4);
    CU_ASSERT_EQUAL(proctab_live(h), 2);
    shm_destroy(h);
}

/* Scans of a large table (recovery, the live count) find slots written by
 * any process, on any page, and read no page that nobody wrote: those stay
 * holes of the memfd instead of being faulted in. */
static bool resident(const void *addr)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char v = 0;
    void *start = (void *)((uintptr_t)addr & ~(uintptr_t)(page - 1));
    CU_ASSERT_EQUAL_FATAL(mincore(start, page, &v), 0);
    return v & 1;
}

static void test_scan_skips_holes(void)
{
    const uint32_t slots = 64u * 1024; /* 32 MiB of PCBs */
    shm_header_t *h = make(4, slots);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    /* VM 3's claims start three quarters into the table; a forked VM 2
     * claims in the middle, so its page was written by another process. */
    pcb_t *c3 = proctab_claim(h, 3);
    pcb_t *l3 = proctab_claim(h, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(l3);
    proctab_publish(h, l3);
    pid_t child = fork();
    CU_ASSERT_FATAL(child >= 0);
    if (child == 0) {
        pcb_t *c2 = proctab_claim(h, 2);
        _exit(c2 && c2->slot == slots / 2 ? 0 : 1);
    }
    int st = 0;
    CU_ASSERT_FATAL(waitpid(child, &st, 0) == child);
    CU_ASSERT_FATAL(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    pcb_t *unwritten = shm_pcb(h, slots / 4);
    CU_ASSERT_FALSE(resident(unwritten));

    CU_ASSERT_EQUAL(proctab_live(h), 1);
    CU_ASSERT_EQUAL(proctab_recover_vm(h, 2), 1);
    CU_ASSERT_EQUAL(shm_pcb(h, slots / 2)->state, PCB_FREE);
    CU_ASSERT_EQUAL(proctab_recover_vm(h, 3), 1);
    CU_ASSERT_EQUAL(c3->state, PCB_FREE);
    CU_ASSERT_EQUAL(l3->state, PCB_LIVE);
    CU_ASSERT_EQUAL(proctab_live(h), 1);
    CU_ASSERT_FALSE(resident(unwritten));
    shm_destroy(h);
}

/* A slot this OS process freed is claimed again before any slot never
 * used: the newest first. */
static void test_reuse_recent(void)
{
    shm_header_t *h = make(2, 1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pcb_t *got[10];
    for (int i = 0; i < 10; i++) {
        got[i] = proctab_claim(h, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got[i]);
        proctab_publish(h, got[i]);
    }
    uint32_t s3 = got[3]->slot, s7 = got[7]->slot;
    proctab_release(h, got[3]);
    proctab_release(h, got[7]);
    pcb_t *a = proctab_claim(h, 0), *b = proctab_claim(h, 0), *c = proctab_claim(h, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_EQUAL(a->slot, s7);
    CU_ASSERT_EQUAL(b->slot, s3);
    CU_ASSERT_EQUAL(c->slot, got[9]->slot + 1); /* then on from the cursor */
    /* A hint for another VM id is not taken: VM 1 claims in its own half. */
    proctab_release(h, a);
    pcb_t *d = proctab_claim(h, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    CU_ASSERT(d->slot >= 512);
    shm_destroy(h);
}

/* Processes that end on another VM (after stealing) free their slots
 * there: the spawning VM finds them by looking back before it writes a
 * fresh page, so a steady spawn-and-end keeps using the same pages. */
static void test_look_back_before_fresh_page(void)
{
    enum { N = 400 };
    shm_header_t *h = make(2, 64u * 1024);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    pcb_t *got[N];
    for (int i = 0; i < N; i++) {
        got[i] = proctab_claim(h, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(got[i]);
        CU_ASSERT_EQUAL(got[i]->slot, (uint32_t)i);
        proctab_publish(h, got[i]);
    }
    /* the even ones move to VM 1 and end there */
    for (int i = 0; i < N; i += 2) {
        got[i]->owner = 1;
        proctab_release(h, got[i]);
    }
    /* VM 0 looks back before a fresh page once it has made 64 claims
     * since it last looked (the cost of a look is spread over them): of
     * the next N/2 + 64 claims, all N/2 freed slots, and at most 64 new */
    int reused = 0;
    uint32_t top = 0;
    for (int i = 0; i < N / 2 + 64; i++) {
        pcb_t *p = proctab_claim(h, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p);
        if (p->slot < N) {
            CU_ASSERT_EQUAL(p->slot % 2, 0);
            reused++;
        }
        top = p->slot > top ? p->slot : top;
        proctab_publish(h, p);
    }
    CU_ASSERT_EQUAL(reused, N / 2);
    CU_ASSERT(top < N + 64);
    CU_ASSERT(top >= N); /* the fresh ones: it did not look back at every claim */
    shm_destroy(h);
}

/* Forked VMs claim until the table is full, all at once. A slot given
 * twice would show as a sum of claims above the table size, or as a slot
 * whose marker does not match its owner. */
static void test_concurrent_claims(void)
{
    enum { SLOTS = 8192, KIDS = 4 };
    shm_header_t *h = make(KIDS, SLOTS);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint32_t *counts = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(counts != MAP_FAILED);
    int go[2];
    CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
    pid_t kids[KIDS];
    for (uint32_t k = 0; k < KIDS; k++) {
        kids[k] = fork();
        CU_ASSERT_FATAL(kids[k] >= 0);
        if (kids[k] == 0) {
            char c;
            close(go[1]);
            if (read(go[0], &c, 1) != 0) /* EOF: everyone starts now */
                _exit(2);
            /* Churn first, so that claims and releases race, then fill
             * (a fast kid fills while the others still churn). */
            unsigned seed = k + 1;
            pcb_t *mine[16];
            int n = 0;
            for (int i = 0; i < 20000; i++) {
                if (n == 16 || (n > 0 && rand_r(&seed) % 2)) {
                    pcb_t *p = mine[--n];
                    if (p->body[0] != k + 1 || p->owner != k)
                        _exit(3);
                    proctab_release(h, p);
                    continue;
                }
                pcb_t *p = proctab_claim(h, k);
                if (!p && errno == EAGAIN)
                    continue; /* the others already fill the table */
                if (!p)
                    _exit(4);
                p->body[0] = k + 1;
                proctab_publish(h, p);
                mine[n++] = p;
            }
            counts[KIDS + k] = (uint32_t)n; /* still live from the churn */
            pcb_t *p;
            while ((p = proctab_claim(h, k)) != NULL) {
                p->body[0] = k + 1;
                proctab_publish(h, p);
                counts[k]++;
            }
            _exit(errno == EAGAIN ? 0 : 5);
        }
    }
    close(go[0]);
    close(go[1]);
    int failed = 0;
    for (int k = 0; k < KIDS; k++) {
        int st;
        CU_ASSERT_EQUAL(waitpid(kids[k], &st, 0), kids[k]);
        failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        if (WIFEXITED(st) && WEXITSTATUS(st) != 0)
            fprintf(stderr, "\n  child %d exited %d\n", k, WEXITSTATUS(st));
    }
    CU_ASSERT_EQUAL(failed, 0);
    uint32_t per[KIDS] = {0}, total = 0;
    int bad = 0;
    for (uint32_t s = 0; s < SLOTS; s++) {
        pcb_t *p = shm_pcb(h, s);
        if (p->state != PCB_LIVE || p->owner >= KIDS || p->body[0] != p->owner + 1) {
            bad++;
            continue;
        }
        per[p->owner]++;
    }
    CU_ASSERT_EQUAL(bad, 0);
    for (int k = 0; k < KIDS; k++) {
        total += counts[k] + counts[KIDS + k];
        CU_ASSERT_EQUAL(per[k], counts[k] + counts[KIDS + k]);
    }
    CU_ASSERT_EQUAL(total, SLOTS);
    CU_ASSERT_EQUAL(proctab_live(h), SLOTS);
    munmap(counts, 4096);
    shm_destroy(h);
}

static CU_TestInfo proctab_tests[] = {
    {"claim, publish, lookup, release", test_claim_publish},
    {"a reused slot gives a larger pid, old pid dead", test_same_slot_new_pid},
    {"pids never 0, grow per slot over many cycles", test_generations},
    {"full table: NULL/EAGAIN, freed slot reused", test_full},
    {"recover_vm frees only that VM's claimed slots", test_recover_vm},
    {"scans find slots on every written page and fault in no hole", test_scan_skips_holes},
    {"concurrent claims from forked VMs never share a slot", test_concurrent_claims},
    {"a slot freed here is claimed again first, newest first", test_reuse_recent},
    {"slots freed on another VM are found before a fresh page is written", test_look_back_before_fresh_page},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(proctab, proctab_tests, NULL, NULL)
