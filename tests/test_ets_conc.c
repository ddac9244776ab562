/*
 * test_ets_conc.c: shared tables used by 4 forked VMs at once.
 *
 * - Counters: 4 VMs update 16 keys (set and ordered tables) at once; the
 *   sums are exact, and each VM's own key counts 1, 2, 3 ...
 * - insert-new races: 4 VMs insert the same 2,000 keys; each key has
 *   exactly one winner, whose value it holds.
 * - Readers against writers: 2 VMs fill and empty a set and an ordered
 *   table over and over (so the set table grows and shrinks through
 *   many resizes, and slots are freed and reused), while 2 VMs read:
 *   every value a reader gets, or sees in a fold, is the whole value of
 *   its key (never torn, never another entry's: freed memory reused),
 *   and no fold sees a key twice.
 * - Random kills: 3 VMs working on both kinds of table are killed at
 *   random moments; after each recovery the others go on, the tables
 *   pass ets_check, every value is whole, and each VM's counter holds
 *   every increment that returned and at most the one in flight.
 * - A VM dead inside a critical section holds the epoch, so memory
 *   retired meanwhile waits; once it is recovered, it is freed.
 *
 * Children report through their exit status (codes below); every wait
 * has a deadline (tests/ets_harness.h).
 */
#include "tests/ets_harness.h"
#include "tests/unit.h"

#include "shm/vmtab.h"
#include "vmproc/compiler.h"
#include "vmproc/ets_impl.h"
#include "vmproc/termio.h"

#include <ck_pr.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

enum {
    KID_OK = 0,
    KID_GO = 10,   /* the start signal did not come */
    KID_PROC,      /* no process */
    KID_COUNT,     /* a counter went wrong */
    KID_OPS,       /* an operation gave a wrong result */
    KID_TORN,      /* a value that is not its key's */
    KID_TWICE,     /* a fold saw a key twice */
    KID_FOLD,      /* a fold failed (an error, or keys out of order) */
};

static vw_t w;
static eh_proc_t v0;

/* A page shared by the parent and the children. */
static void *shared_page(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(p != MAP_FAILED);
    memset(p, 0, bytes);
    return p;
}

/* Wait for the start signal: EOF on a pipe the parent closes. */
static bool wait_go(int go_r, int go_w)
{
    close(go_w);
    char c;
    return read(go_r, &c, 1) == 0;
}

/* ------------------------------------------------------------------ */
/* values that say which key they belong to                             */

/* #(k "v<k>-<ver>" 3k (k)), in C arrays. */
typedef struct kval {
    term t[5], s[6], l[2];
} kval_t;

static term kval(kval_t *b, int64_t k, unsigned ver)
{
    char s[40];
    snprintf(s, sizeof s, "v%lld-%u", (long long)k, ver);
    return eh_tuple_in(b->t, 4, mk_fix(k), eh_string_in(b->s, s), mk_fix(3 * k),
                       eh_cons_in(b->l, mk_fix(k), T_NIL));
}

static bool is_kval(term v, int64_t k)
{
    if (!is_tuple(v) || tuple_size(v) != 4)
        return false;
    term *e = tuple_elems(v);
    char want[24];
    int n = snprintf(want, sizeof want, "v%lld-", (long long)k);
    return e[0] == mk_fix(k) && e[2] == mk_fix(3 * k) && is_string(e[1]) &&
           str_len(e[1]) > (uint64_t)n && memcmp(str_bytes(e[1]), want, (size_t)n) == 0 &&
           is_cons(e[3]) && CAR(e[3]) == mk_fix(k) && CDR(e[3]) == T_NIL;
}

/* ------------------------------------------------------------------ */
/* counters                                                             */

enum { COUNTERS = 4, HOT = 16, INCRS = 16000 };

typedef struct count_args {
    term set, ordered;
    int go_r, go_w;
} count_args_t;

static int count_job(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const count_args_t *a = arg;
    if (!wait_go(a->go_r, a->go_w))
        return KID_GO;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    term kb[3];
    term own = eh_tuple_in(kb, 2, mk_atom(A_OK), mk_fix(vm));
    for (int64_t i = 1; i <= INCRS; i++)
        for (int t = 0; t < 2; t++) {
            term table = t ? a->ordered : a->set;
            if (!is_fix(t_incr(&v, table, mk_fix(i % HOT), mk_fix(1))))
                return KID_COUNT;
            if (t_incr(&v, table, own, mk_fix(1)) != mk_fix(i))
                return KID_COUNT;
        }
    return KID_OK;
}

static void test_counters(void)
{
    CU_ASSERT_FATAL(eh_world_open(&w, COUNTERS + 1, 64 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    count_args_t a = {eh_atom(&w, "conc_set"), eh_atom(&w, "conc_ordered"), -1, -1};
    CU_ASSERT_FATAL(t_new(&v0, a.set) == a.set);
    CU_ASSERT_FATAL(t_new_kind(&v0, a.ordered, mk_atom(A_ORDERED)) == a.ordered);
    int go[2];
    CU_ASSERT_FATAL(pipe(go) == 0);
    a.go_r = go[0];
    a.go_w = go[1];
    eh_kid_t kids[COUNTERS];
    for (uint32_t k = 0; k < COUNTERS; k++)
        kids[k] = eh_start(&w, 1 + k, count_job, &a);
    close(go[0]);
    close(go[1]);
    for (uint32_t k = 0; k < COUNTERS; k++)
        CU_ASSERT(eh_exited_ok(eh_finish(&kids[k], CHILD_LIMIT_MS), "counting VM"));
    /* Key j got INCRS / HOT increments from each VM in each table. */
    for (int t = 0; t < 2; t++) {
        term table = t ? a.ordered : a.set;
        int64_t total = 0;
        for (int64_t j = 0; j < HOT; j++) {
            term c = t_get(&v0, table, mk_fix(j), mk_fix(0));
            CU_ASSERT_EQUAL(c, mk_fix((int64_t)COUNTERS * INCRS / HOT));
            total += is_fix(c) ? fix_val(c) : 0;
        }
        CU_ASSERT_EQUAL(total, (int64_t)COUNTERS * INCRS);
        for (uint32_t k = 0; k < COUNTERS; k++) {
            term kb[3];
            term own = eh_tuple_in(kb, 2, mk_atom(A_OK), mk_fix(1 + k));
            CU_ASSERT_EQUAL(t_get(&v0, table, own, T_NIL), mk_fix(INCRS));
        }
    }
    CU_ASSERT_EQUAL(t_size(&v0, a.set), mk_fix(HOT + COUNTERS));
    CU_ASSERT_EQUAL(t_size(&v0, a.ordered), mk_fix(HOT + COUNTERS));
    char why[200];
    CU_ASSERT(ets_check(w.h, why, sizeof why) == 0);
    vw_close(&w);
}

/* ------------------------------------------------------------------ */
/* insert-new races                                                     */

enum { RACE_KEYS = 2000 };

typedef struct race_args {
    term set, ordered;
    int go_r, go_w;
    uint8_t *won; /* [vm][table][key]: 1 if this VM's insert-new returned true */
} race_args_t;

static int race_job(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const race_args_t *a = arg;
    if (!wait_go(a->go_r, a->go_w))
        return KID_GO;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    for (int64_t k = 0; k < RACE_KEYS; k++)
        for (int t = 0; t < 2; t++) {
            term r = t_insert_new(&v, t ? a->ordered : a->set, mk_fix(k), mk_fix(vm));
            if (r != mk_atom(A_TRUE) && r != mk_atom(A_FALSE))
                return KID_OPS;
            a->won[((size_t)vm * 2 + (size_t)t) * RACE_KEYS + (size_t)k] = r == mk_atom(A_TRUE);
        }
    return KID_OK;
}

static void test_insert_new_race(void)
{
    CU_ASSERT_FATAL(eh_world_open(&w, COUNTERS + 1, 64 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    size_t bytes = (size_t)(COUNTERS + 1) * 2 * RACE_KEYS;
    race_args_t a = {eh_atom(&w, "race_set"), eh_atom(&w, "race_ordered"), -1, -1,
                     shared_page(bytes)};
    CU_ASSERT_FATAL(t_new(&v0, a.set) == a.set);
    CU_ASSERT_FATAL(t_new_kind(&v0, a.ordered, mk_atom(A_ORDERED)) == a.ordered);
    int go[2];
    CU_ASSERT_FATAL(pipe(go) == 0);
    a.go_r = go[0];
    a.go_w = go[1];
    eh_kid_t kids[COUNTERS];
    for (uint32_t k = 0; k < COUNTERS; k++)
        kids[k] = eh_start(&w, 1 + k, race_job, &a);
    close(go[0]);
    close(go[1]);
    for (uint32_t k = 0; k < COUNTERS; k++)
        CU_ASSERT(eh_exited_ok(eh_finish(&kids[k], CHILD_LIMIT_MS), "racing VM"));
    bool one = true, holds = true;
    for (int t = 0; t < 2; t++)
        for (int64_t key = 0; key < RACE_KEYS; key++) {
            int winners = 0, who = -1;
            for (int vm = 1; vm <= COUNTERS; vm++)
                if (a.won[((size_t)vm * 2 + (size_t)t) * RACE_KEYS + (size_t)key]) {
                    winners++;
                    who = vm;
                }
            one &= winners == 1;
            holds &= t_get(&v0, t ? a.ordered : a.set, mk_fix(key), T_NIL) == mk_fix(who);
        }
    CU_ASSERT(one);
    CU_ASSERT(holds);
    CU_ASSERT_EQUAL(t_size(&v0, a.set), mk_fix(RACE_KEYS));
    CU_ASSERT_EQUAL(t_size(&v0, a.ordered), mk_fix(RACE_KEYS));
    munmap(a.won, bytes);
    vw_close(&w);
}

/* ------------------------------------------------------------------ */
/* readers against writers                                              */

enum { RW_KEYS = 12000, RW_CYCLES = 3 };

typedef struct rw_state {
    uint32_t writers_done;
    uint32_t pad;
    uint64_t reads, found, folds;
} rw_state_t;

typedef struct rw_args {
    term set, ordered;
    int go_r, go_w;
    rw_state_t *st;
} rw_args_t;

/* Fill both tables with every key, then empty them, RW_CYCLES times;
 * writer 0 puts and deletes, writer 1 inserts-new and takes, each on the
 * keys of its parity, with new versions of the values (new sizes, so
 * freed slots come back in other classes too). */
static int writer_job(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const rw_args_t *a = arg;
    if (!wait_go(a->go_r, a->go_w))
        return KID_GO;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    int me = (int)vm % 2;
    kval_t b;
    int rc = KID_OK;
    /* SHOAL_TEST_RW_CYCLES: more cycles, for a long stress run by hand. */
    const char *env = getenv("SHOAL_TEST_RW_CYCLES");
    unsigned cycles = env && atoi(env) > 0 ? (unsigned)atoi(env) : RW_CYCLES;
    for (unsigned cyc = 0; cyc < cycles && rc == KID_OK; cyc++) {
        for (int64_t k = me; k < RW_KEYS; k += 2)
            for (int t = 0; t < 2; t++) {
                term table = t ? a->ordered : a->set;
                term val = kval(&b, k, cyc * 1000003u + (unsigned)k);
                if (me == 0 ? t_put(&v, table, mk_fix(k), val) != mk_atom(A_TRUE)
                            : t_insert_new(&v, table, mk_fix(k), val) != mk_atom(A_TRUE))
                    rc = KID_OPS;
            }
        for (int64_t k = me; k < RW_KEYS; k += 2)
            for (int t = 0; t < 2; t++) {
                term table = t ? a->ordered : a->set;
                if (me == 0) {
                    if (t_delete(&v, table, mk_fix(k)) != mk_atom(A_TRUE))
                        rc = KID_OPS;
                } else if (!is_kval(t_take(&v, table, mk_fix(k), T_NIL), k)) {
                    rc = KID_TORN;
                }
            }
    }
    ck_pr_inc_32(&a->st->writers_done);
    return rc;
}

/* Read random keys and fold both tables until the writers are done. */
static int reader_job(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const rw_args_t *a = arg;
    if (!wait_go(a->go_r, a->go_w))
        return KID_GO;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    static term ks[RW_KEYS + 1], vs[RW_KEYS + 1];
    static uint8_t seen[RW_KEYS];
    uint64_t x = 0x9E3779B97F4A7C15ull * vm;
    for (uint64_t i = 0; ck_pr_load_32(&a->st->writers_done) < 2; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int64_t k = (int64_t)(x % RW_KEYS);
        term table = i % 2 ? a->ordered : a->set;
        term r = t_get(&v, table, mk_fix(k), T_NIL);
        ck_pr_inc_64(&a->st->reads);
        if (r != T_NIL) {
            ck_pr_inc_64(&a->st->found);
            if (!is_kval(r, k))
                return KID_TORN;
        }
        if (i % 4096 == 4095) {
            bool ordered = (i / 4096) % 2;
            long n = eh_entries(&v, ordered ? a->ordered : a->set, ordered, ks, vs, RW_KEYS + 1);
            if (n < 0) {
                fprintf(stderr, "\n  reader VM %u: fold of the %s table failed: %s\n", vm,
                        ordered ? "ordered" : "set", eh_why);
                return KID_FOLD;
            }
            memset(seen, 0, sizeof seen);
            for (long j = 0; j < n; j++) {
                if (!is_fix(ks[j]) || fix_val(ks[j]) < 0 || fix_val(ks[j]) >= RW_KEYS)
                    return KID_TORN;
                int64_t key = fix_val(ks[j]);
                if (seen[key]) {
                    long first = -1;
                    for (long q = 0; q < j; q++)
                        if (ks[q] == ks[j])
                            first = q;
                    fprintf(stderr, "\n  reader VM %u: %s fold: key %lld at %ld and %ld of %ld\n",
                            vm, ordered ? "ordered" : "set", (long long)key, first, j, n);
                    return KID_TWICE;
                }
                seen[key] = 1;
                if (!is_kval(vs[j], key))
                    return KID_TORN;
            }
            ck_pr_inc_64(&a->st->folds);
        }
    }
    return KID_OK;
}

static void test_readers_writers(void)
{
    CU_ASSERT_FATAL(eh_world_open(&w, 5, 128 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    rw_args_t a = {eh_atom(&w, "rw_set"), eh_atom(&w, "rw_ordered"), -1, -1,
                   shared_page(sizeof(rw_state_t))};
    CU_ASSERT_FATAL(t_new(&v0, a.set) == a.set);
    CU_ASSERT_FATAL(t_new_kind(&v0, a.ordered, mk_atom(A_ORDERED)) == a.ordered);
    int go[2];
    CU_ASSERT_FATAL(pipe(go) == 0);
    a.go_r = go[0];
    a.go_w = go[1];
    eh_kid_t kids[4];
    kids[0] = eh_start(&w, 1, writer_job, &a);
    kids[1] = eh_start(&w, 2, writer_job, &a);
    kids[2] = eh_start(&w, 3, reader_job, &a);
    kids[3] = eh_start(&w, 4, reader_job, &a);
    close(go[0]);
    close(go[1]);
    const char *who[4] = {"writer VM 1", "writer VM 2", "reader VM 3", "reader VM 4"};
    for (int k = 0; k < 4; k++)
        CU_ASSERT(eh_exited_ok(eh_finish(&kids[k], 4 * CHILD_LIMIT_MS), who[k]));
    CU_ASSERT(a.st->found > 0 && a.st->folds > 0);
    CU_ASSERT_EQUAL(t_size(&v0, a.set), mk_fix(0));
    CU_ASSERT_EQUAL(t_size(&v0, a.ordered), mk_fix(0));
    char why[200];
    ets_reclaim(v0.rt);
    CU_ASSERT(ets_check(w.h, why, sizeof why) == 0);
    if (getenv("SHOAL_TEST_VERBOSE"))
        fprintf(stderr, "\n  %llu reads (%llu found), %llu folds\n",
                (unsigned long long)a.st->reads, (unsigned long long)a.st->found,
                (unsigned long long)a.st->folds);
    munmap(a.st, sizeof *a.st);
    vw_close(&w);
}

/* ------------------------------------------------------------------ */
/* random kills                                                         */

enum { KILL_ROUNDS = 24, WORKERS = 3, WORK_KEYS = 3000 };

typedef struct tally {
    uint64_t started, done; /* the worker's own counter */
    uint32_t stop;          /* the parent: finish and exit */
    uint32_t pad;
} tally_t;

typedef struct work_args {
    term set, ordered;
    tally_t *tally; /* this worker's, in a shared page */
    bool progress;  /* write a byte to `out` every 8 steps */
} work_args_t;

/* Random puts, deletes, takes and insert-news of kval values on both
 * tables (driving resizes), and one increment of its own counter per
 * step, until stop. */
static int work_job(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    const work_args_t *a = arg;
    tally_t *t = a->tally;
    if (a->progress)
        fcntl(out, F_SETFL, O_NONBLOCK);
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    term kb[3];
    term own = eh_tuple_in(kb, 2, mk_atom(A_OK), mk_fix(vm));
    uint64_t x = 0x2545F4914F6CDD1Dull * (vm + 7) ^ (uint64_t)getpid();
    kval_t b;
    for (uint64_t i = 0; !ck_pr_load_32(&t->stop); i++) {
        if (a->progress && i % 8 == 0) {
            char c = 1;
            if (write(out, &c, 1) < 0 && errno != EAGAIN)
                return KID_GO;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        term table = x & 1 ? a->ordered : a->set;
        int64_t k = (int64_t)((x >> 8) % WORK_KEYS);
        term r;
        switch ((x >> 4) % 6) {
        case 0:
        case 1:
            if (t_put(&v, table, mk_fix(k), kval(&b, k, (unsigned)i)) != mk_atom(A_TRUE))
                return KID_OPS;
            break;
        case 2:
            r = t_insert_new(&v, table, mk_fix(k), kval(&b, k, (unsigned)i));
            if (r != mk_atom(A_TRUE) && r != mk_atom(A_FALSE))
                return KID_OPS;
            break;
        case 3:
            if (t_delete(&v, table, mk_fix(k)) != mk_atom(A_TRUE))
                return KID_OPS;
            break;
        case 4:
            r = t_take(&v, table, mk_fix(k), T_NIL);
            if (r != T_NIL && !is_kval(r, k))
                return KID_TORN;
            break;
        default:
            r = t_get(&v, table, mk_fix(k), T_NIL);
            if (r != T_NIL && !is_kval(r, k))
                return KID_TORN;
            break;
        }
        uint64_t n = t->done + 1;
        ck_pr_store_64(&t->started, n);
        /* In the shared page before the table changes: a kill loses no
         * store made before it. */
        ck_pr_fence_store();
        if (t_incr(&v, a->set, own, mk_fix(1)) != mk_fix((int64_t)n))
            return KID_COUNT;
        ck_pr_fence_store();
        ck_pr_store_64(&t->done, n);
    }
    return KID_OK;
}

static void test_random_kills(void)
{
    CU_ASSERT_FATAL(eh_world_open(&w, WORKERS + 1, 128 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    term set = eh_atom(&w, "kill_set"), ordered = eh_atom(&w, "kill_ordered");
    CU_ASSERT_FATAL(t_new(&v0, set) == set);
    CU_ASSERT_FATAL(t_new_kind(&v0, ordered, mk_atom(A_ORDERED)) == ordered);
    tally_t *tl = shared_page(SHOAL_PAGE);
    work_args_t args[WORKERS + 1];
    eh_kid_t kids[WORKERS + 1];
    for (uint32_t vm = 1; vm <= WORKERS; vm++) {
        args[vm] = (work_args_t){set, ordered, &tl[vm], true};
        kids[vm] = eh_start(&w, vm, work_job, &args[vm]);
        CU_ASSERT_FATAL(kids[vm].pid > 0);
    }
    unsigned seed = 777;
    char why[200];
    for (int round = 0; round < KILL_ROUNDS; round++) {
        uint32_t victim = 1 + (uint32_t)(rand_r(&seed) % WORKERS);
        long want = 1 + (long)(rand_r(&seed) % 64);
        CU_ASSERT_FATAL(eh_await(kids[victim].fd, want, CHILD_LIMIT_MS));
        kill(kids[victim].pid, SIGKILL);
        int st = eh_finish(&kids[victim], CHILD_LIMIT_MS);
        if (!eh_killed_by(st, SIGKILL))
            eh_exited_ok(st, "victim");
        CU_ASSERT_FATAL(eh_killed_by(st, SIGKILL));
        eh_recover(&w, victim);
        /* Its counter: every increment that returned, and at most the one
         * in flight. */
        term kb[3];
        term own = eh_tuple_in(kb, 2, mk_atom(A_OK), mk_fix(victim));
        term c = t_get(&v0, set, own, mk_fix(0));
        tally_t *t = &tl[victim];
        CU_ASSERT(is_fix(c) && (uint64_t)fix_val(c) >= t->done &&
                  (uint64_t)fix_val(c) <= t->started);
        /* The next VM with that id goes on from the count there is. */
        t->done = t->started = (uint64_t)fix_val(c);
        kids[victim] = eh_start(&w, victim, work_job, &args[victim]);
        CU_ASSERT_FATAL(kids[victim].pid > 0);
    }
    for (uint32_t vm = 1; vm <= WORKERS; vm++)
        ck_pr_store_32(&tl[vm].stop, 1);
    for (uint32_t vm = 1; vm <= WORKERS; vm++)
        CU_ASSERT(eh_exited_ok(eh_finish(&kids[vm], CHILD_LIMIT_MS), "worker"));
    CU_ASSERT(eh_held_by(&w, ETS_ANY_VM) == 0);
    CU_ASSERT(ets_check(w.h, why, sizeof why) == 0);
    if (ets_check(w.h, why, sizeof why) != 0)
        fprintf(stderr, "\n  %s\n", why);
    /* Every value whole, and the counters exact. */
    static term ks[2 * WORK_KEYS], vs[2 * WORK_KEYS];
    for (int t = 0; t < 2; t++) {
        long n = eh_entries(&v0, t ? ordered : set, t, ks, vs, 2 * WORK_KEYS);
        CU_ASSERT_FATAL(n >= 0);
        bool whole = true;
        for (long i = 0; i < n; i++)
            whole &= is_tuple(ks[i]) || (is_fix(ks[i]) && is_kval(vs[i], fix_val(ks[i])));
        CU_ASSERT(whole);
    }
    for (uint32_t vm = 1; vm <= WORKERS; vm++) {
        term kb[3];
        term own = eh_tuple_in(kb, 2, mk_atom(A_OK), mk_fix(vm));
        CU_ASSERT_EQUAL(t_get(&v0, set, own, mk_fix(0)), mk_fix((int64_t)tl[vm].done));
    }
    munmap(tl, SHOAL_PAGE);
    vw_close(&w);
}

/* ------------------------------------------------------------------ */
/* a dead VM holds reclamation only until it is recovered               */

static int die_inside(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const term *table = arg;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    ets_crash_step = ETS_CRASH_LOCKED;
    t_insert_new(&v, *table, mk_fix(-1), mk_fix(0));
    return KID_OPS;
}

static void test_dead_vm_reclamation(void)
{
    enum { N = 600 };
    CU_ASSERT_FATAL(eh_world_open(&w, 2, 64 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    term table = eh_atom(&w, "reclaim_table");
    CU_ASSERT_FATAL(t_new(&v0, table) == table);
    ets_dir_t *d = ets_dir(w.h);
    eh_kid_t k = eh_start(&w, 1, die_inside, &table);
    CU_ASSERT_FATAL(eh_killed_by(eh_finish(&k, CHILD_LIMIT_MS), SIGKILL));
    CU_ASSERT_FATAL(epoch_inside(d->epoch, 1));
    /* Put and delete N keys (none in the dead VM's stripe: it holds that
     * lock): N entries retired, none freed while the dead VM holds the
     * epoch. */
    kval_t b;
    int64_t done = 0;
    size_t used0, used1, used2;
    char why[200];
    CU_ASSERT_FATAL(slab_check(w.h, d->slabs, why, sizeof why, NULL, &used0) == 0);
    uint64_t e0 = epoch_now(d->epoch);
    uint64_t hv_dead = term_hash(mk_fix(-1), d->seed) >> (64 - ETS_HASH_BITS);
    for (int64_t key = 0; done < N; key++) {
        uint64_t hv = term_hash(mk_fix(key), d->seed) >> (64 - ETS_HASH_BITS);
        if (hv >> (ETS_HASH_BITS - ETS_STRIPE_BITS) == hv_dead >> (ETS_HASH_BITS - ETS_STRIPE_BITS))
            continue;
        CU_ASSERT(t_put(&v0, table, mk_fix(key), kval(&b, key, 1)) == mk_atom(A_TRUE));
        CU_ASSERT(t_delete(&v0, table, mk_fix(key)) == mk_atom(A_TRUE));
        done++;
    }
    ets_reclaim(v0.rt);
    CU_ASSERT_FATAL(slab_check(w.h, d->slabs, why, sizeof why, NULL, &used1) == 0);
    CU_ASSERT(epoch_now(d->epoch) <= e0 + 1);
    if (getenv("SHOAL_TEST_VERBOSE"))
        fprintf(stderr, "\n  used %zu -> %zu, epoch %llu -> %llu\n", used0, used1,
                (unsigned long long)e0, (unsigned long long)epoch_now(d->epoch));
    CU_ASSERT(used1 >= used0 + N - 8); /* held: a few may predate the dead VM's epoch */
    eh_recover(&w, 1);
    for (int i = 0; i < 3; i++)
        ets_reclaim(v0.rt);
    CU_ASSERT_FATAL(slab_check(w.h, d->slabs, why, sizeof why, NULL, &used2) == 0);
    CU_ASSERT(epoch_now(d->epoch) >= e0 + 2);
    CU_ASSERT(used2 <= used0 + 8);
    vw_close(&w);
}

static CU_TestInfo tests[] = {
    {"4 VMs count on 16 keys of both kinds of table: sums exact", test_counters},
    {"4 VMs race insert-new on 2,000 keys: exactly one winner each", test_insert_new_race},
    {"readers never see a torn or freed entry while writers put, delete, resize",
     test_readers_writers},
    {"VMs killed at random: tables consistent, survivors go on, counts exact",
     test_random_kills},
    {"a VM dead in a critical section holds reclamation only until recovered",
     test_dead_vm_reclamation},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(ets_conc, tests, NULL, NULL)
