/*
 * test_ets_crash.c: a VM killed at each step of each table operation,
 * and at random moments, leaves tables the others keep using.
 *
 * At each step: for every operation (put of a new key and of a present
 * one, delete, take, insert-new, update-counter of a new key, a run of
 * puts that grows a set table through a whole resize, a run of deletes
 * that shrinks it, table-new, table-drop; the same for ordered tables,
 * with runs of puts that link nodes at several levels) and every crash
 * point of ets.h, a forked VM runs the operation with ets_crash_step set
 * to that point and dies there (SIGKILL, from ets.c's hook). The
 * supervisor's recovery runs (ets_recover_vm, then the pool's); then the
 * tables pass their consistency check (ets_check), their contents are
 * those before the operation or after it (a run: a prefix of it), and the
 * survivor (VM 0) finishes the run, empties the table, and makes and uses
 * a new one. Each operation must die at each step on its path (the
 * points listed with it).
 *
 * At random moments: VMs putting, deleting, taking and counting on a set
 * and an ordered table (through many resizes) are killed after a random
 * amount of work, recovered, and the others go on; the tables stay
 * consistent, and counters lose at most the one increment in flight.
 *
 * A dead VM does not block reclamation forever: while it is dead inside a
 * critical section the epoch stays, and once it is recovered, memory
 * retired meanwhile is freed.
 */
#include "tests/ets_harness.h"
#include "tests/unit.h"

#include "shm/pool.h"
#include "shm/vmtab.h"
#include "vmproc/compiler.h"
#include "vmproc/ets_impl.h"
#include "vmproc/heap.h"
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

/* A fatal assertion with a message (CUnit copies it). */
#define CHECK(cond, ...)                                                                \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            char msg_[512];                                                             \
            snprintf(msg_, sizeof msg_, __VA_ARGS__);                                   \
            CU_assertImplementation(CU_FALSE, __LINE__, msg_, __FILE__, "", CU_TRUE);   \
        }                                                                               \
    } while (0)

enum { KID_OK = 0, KID_PROC = 10, KID_OPS, KID_BAD_VALUE };

static const char *const point_names[ETS_CRASH_POINTS] = {
    "off", "DIR_LOCKED", "DIR_DONE", "PENDING", "LOCKED", "JOURNALED", "LINKED", "COUNTED",
    "UNLOCKED", "RETIRED", "PARTIAL", "MIG_LOCKED", "MIG_SPLIT", "MIG_MOVED", "RESIZE_NEW",
    "RESIZE_PUB", "FINISH"};

/* ------------------------------------------------------------------ */
/* values that say which key they belong to                             */

/* A boxed value for key k: #(k "value-k" (k)), in v's heap... built in a
 * C array instead, so it can be passed as an argument. */
typedef struct kval {
    term t[4], s[4], l[2];
} kval_t;

static term kval(kval_t *b, int64_t k)
{
    char s[32];
    snprintf(s, sizeof s, "value-%lld", (long long)k);
    return eh_tuple_in(b->t, 3, mk_fix(k), eh_string_in(b->s, s),
                       eh_cons_in(b->l, mk_fix(k), T_NIL));
}

/* Whether v is what kval made for k. */
static bool is_kval(term v, int64_t k)
{
    kval_t b;
    return term_equal(v, kval(&b, k));
}

/* ------------------------------------------------------------------ */
/* the cases                                                            */

enum crash_op {
    C_PUT_NEW,    /* put of key BASE (absent) */
    C_PUT_REPL,   /* put of key 0 (present), a new boxed value */
    C_DELETE,     /* delete of key 0 */
    C_TAKE,       /* take of key 0 */
    C_INSERT_NEW, /* insert-new of key BASE */
    C_INCR_NEW,   /* update-counter of key BASE (absent) */
    C_PUTS,       /* puts of keys BASE .. BASE + RUN - 1: grows a set table through a resize */
    C_DELETES,    /* deletes of keys 0 .. BIG - 1 of a table of BIG keys: shrinks it */
    C_NEW,        /* table-new of another name */
    C_DROP,       /* table-drop of the table */
};

enum { BASE = 128, RUN = 1200, BIG = 1200 };

typedef struct crash_case {
    const char *name;
    enum crash_op op;
    bool ordered;
    int points[12]; /* the steps on its path; 0 ends */
} crash_case_t;

#define COMMON ETS_CRASH_LOCKED, ETS_CRASH_JOURNALED, ETS_CRASH_LINKED, ETS_CRASH_COUNTED, ETS_CRASH_UNLOCKED

static const crash_case_t cases[] = {
    {"set put of a new key", C_PUT_NEW, false, {ETS_CRASH_PENDING, COMMON}},
    {"set put of a present key", C_PUT_REPL, false, {ETS_CRASH_PENDING, COMMON, ETS_CRASH_RETIRED}},
    {"set delete", C_DELETE, false, {COMMON, ETS_CRASH_RETIRED}},
    {"set take", C_TAKE, false, {COMMON, ETS_CRASH_RETIRED}},
    {"set insert-new", C_INSERT_NEW, false, {ETS_CRASH_PENDING, COMMON}},
    {"set update-counter of a new key", C_INCR_NEW, false, {ETS_CRASH_PENDING, COMMON}},
    {"set puts through a resize", C_PUTS, false,
     {ETS_CRASH_RESIZE_NEW, ETS_CRASH_RESIZE_PUB, ETS_CRASH_MIG_LOCKED, ETS_CRASH_MIG_SPLIT,
      ETS_CRASH_MIG_MOVED, ETS_CRASH_FINISH, ETS_CRASH_RETIRED, ETS_CRASH_JOURNALED}},
    {"set deletes through a shrink", C_DELETES, false,
     {ETS_CRASH_RESIZE_NEW, ETS_CRASH_RESIZE_PUB, ETS_CRASH_MIG_LOCKED, ETS_CRASH_MIG_SPLIT,
      ETS_CRASH_MIG_MOVED, ETS_CRASH_FINISH, ETS_CRASH_LINKED}},
    {"table-new", C_NEW, false, {ETS_CRASH_DIR_LOCKED, ETS_CRASH_DIR_DONE}},
    {"table-drop", C_DROP, false,
     {ETS_CRASH_DIR_LOCKED, ETS_CRASH_JOURNALED, ETS_CRASH_DIR_DONE, ETS_CRASH_COUNTED,
      ETS_CRASH_UNLOCKED, ETS_CRASH_RETIRED}},
    {"ordered put of a new key", C_PUT_NEW, true, {ETS_CRASH_PENDING, COMMON}},
    {"ordered put of a present key", C_PUT_REPL, true,
     {ETS_CRASH_PENDING, COMMON, ETS_CRASH_RETIRED}},
    {"ordered delete", C_DELETE, true, {COMMON, ETS_CRASH_RETIRED}},
    {"ordered take", C_TAKE, true, {COMMON, ETS_CRASH_RETIRED}},
    {"ordered insert-new", C_INSERT_NEW, true, {ETS_CRASH_PENDING, COMMON}},
    {"ordered update-counter of a new key", C_INCR_NEW, true, {ETS_CRASH_PENDING, COMMON}},
    {"ordered puts (nodes of several levels)", C_PUTS, true, {ETS_CRASH_PARTIAL}},
    {"ordered deletes (nodes of several levels)", C_DELETES, true, {ETS_CRASH_PARTIAL}},
    {"ordered table-drop", C_DROP, true, {ETS_CRASH_DIR_DONE, ETS_CRASH_RETIRED}},
};

typedef struct crash_args {
    term table, other, kind;
    enum crash_op op;
    int point;
} crash_args_t;

/* The child: VM 1, dies at `point` in the operation (or finishes it). */
static int crash_job(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const crash_args_t *a = arg;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    kval_t b;
    ets_crash_step = a->point;
    switch (a->op) {
    case C_PUT_NEW:
        t_put(&v, a->table, mk_fix(BASE), kval(&b, BASE));
        break;
    case C_PUT_REPL:
        t_put(&v, a->table, mk_fix(0), kval(&b, 1000));
        break;
    case C_DELETE:
        t_delete(&v, a->table, mk_fix(0));
        break;
    case C_TAKE:
        t_take(&v, a->table, mk_fix(0), T_NIL);
        break;
    case C_INSERT_NEW:
        t_insert_new(&v, a->table, mk_fix(BASE), kval(&b, BASE));
        break;
    case C_INCR_NEW:
        t_incr(&v, a->table, mk_fix(BASE), mk_fix(5));
        break;
    case C_PUTS:
        for (int64_t k = BASE; k < BASE + RUN; k++)
            t_put(&v, a->table, mk_fix(k), kval(&b, k));
        break;
    case C_DELETES:
        for (int64_t k = 0; k < BIG; k++)
            t_delete(&v, a->table, mk_fix(k));
        break;
    case C_NEW:
        t_new_kind(&v, a->other, a->kind);
        break;
    case C_DROP:
        t_drop(&v, a->table);
        break;
    }
    return KID_OK;
}

static vw_t w;
static eh_proc_t v0;

/* The keys present now, by %table-chunk, into a bitmap over [0, n);
 * -1 if a key is outside it, has a value not its own, or comes twice. */
static long present(term table, bool ordered, unsigned char *in, long n, enum crash_op op)
{
    static term ks[4096], vs[4096];
    long m = eh_entries(&v0, table, ordered, ks, vs, 4096);
    memset(in, 0, (size_t)n);
    for (long i = 0; i < m; i++) {
        if (!is_fix(ks[i]) || fix_val(ks[i]) < 0 || fix_val(ks[i]) >= n || in[fix_val(ks[i])])
            return -1;
        int64_t k = fix_val(ks[i]);
        bool ok = op == C_INCR_NEW && k == BASE ? vs[i] == mk_fix(5)
                  : op == C_PUT_REPL && k == 0   ? is_kval(vs[i], 0) || is_kval(vs[i], 1000)
                                                 : is_kval(vs[i], k);
        if (!ok)
            return -1;
        in[k] = 1;
    }
    return m;
}

static void run_case(const crash_case_t *c, int point, bool *died)
{
    CU_ASSERT_FATAL(eh_world_open(&w, 2, 64 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    term table = eh_atom(&w, "crash_table"), other = eh_atom(&w, "crash_other");
    term kind = mk_atom(c->ordered ? A_ORDERED : A_SET);
    CU_ASSERT_FATAL(t_new_kind(&v0, table, kind) == table);
    long base = c->op == C_DELETES ? BIG : BASE;
    kval_t b;
    for (int64_t k = 0; k < base; k++)
        CU_ASSERT_FATAL(t_put(&v0, table, mk_fix(k), kval(&b, k)) == mk_atom(A_TRUE));
    crash_args_t a = {table, other, kind, c->op, point};
    eh_kid_t kid = eh_start(&w, 1, crash_job, &a);
    CU_ASSERT_FATAL(kid.pid > 0);
    int st = eh_finish(&kid, CHILD_LIMIT_MS);
    *died = eh_killed_by(st, SIGKILL);
    CHECK(*died || eh_exited_ok(st, "crashing VM 1"), "%s at %s: the child failed", c->name,
          point_names[point]);
    if (*died)
        eh_recover(&w, 1);
    char why[200];
    CHECK(eh_held_by(&w, ETS_ANY_VM) == 0, "%s at %s: a lock still held", c->name,
          point_names[point]);
    CHECK(ets_check(w.h, why, sizeof why) == 0, "%s at %s: %s", c->name, point_names[point], why);

    /* Before or after: the operation whole or not at all. */
    enum { N = BASE + RUN + BIG };
    static unsigned char in[N];
    if (c->op == C_DROP) {
        term sz = t_size(&v0, table);
        bool dropped = eh_raised(&v0, sz, A_BADARG);
        CHECK(dropped || sz == mk_fix(BASE), "%s at %s: neither dropped nor whole", c->name,
              point_names[point]);
        if (dropped) {
            CU_ASSERT_FATAL(t_new_kind(&v0, table, kind) == table);
        } else {
            CHECK(present(table, c->ordered, in, N, c->op) == BASE, "%s at %s: entries lost",
                  c->name, point_names[point]);
        }
    } else if (c->op == C_NEW) {
        CU_ASSERT_FATAL(t_new_kind(&v0, other, kind) == other);
        CU_ASSERT(t_put(&v0, other, mk_fix(1), mk_fix(1)) == mk_atom(A_TRUE));
        CU_ASSERT(t_get(&v0, other, mk_fix(1), T_NIL) == mk_fix(1));
    } else {
        long m = present(table, c->ordered, in, N, c->op);
        CHECK(m >= 0, "%s at %s: a wrong entry", c->name, point_names[point]);
        CHECK(t_size(&v0, table) == mk_fix(m), "%s at %s: size %lld, %ld entries", c->name,
              point_names[point], (long long)fix_val(t_size(&v0, table)), m);
        /* Keys [lo, hi) must be there, `maybe` may be, no other. */
        long lo = 0, hi = BASE, maybe = -1;
        switch (c->op) {
        case C_PUT_NEW:
        case C_INSERT_NEW:
        case C_INCR_NEW:
            maybe = BASE;
            break;
        case C_DELETE:
        case C_TAKE:
            lo = 1;
            maybe = 0;
            break;
        case C_PUTS: /* a prefix of the run: up to the first key missing */
            while (hi < BASE + RUN && in[hi])
                hi++;
            break;
        case C_DELETES: /* a suffix: from the first key there */
            hi = BIG;
            while (lo < BIG && !in[lo])
                lo++;
            break;
        default:
            break;
        }
        for (long k = 0; k < N; k++) {
            bool want = k >= lo && k < hi;
            CHECK(k == maybe || in[k] == want, "%s at %s: key %ld is %s", c->name,
                  point_names[point], k, in[k] ? "there" : "missing");
        }
    }

    /* The survivor goes on: the whole run, then everything deleted, then
     * a new table. */
    for (int64_t k = 0; k < BASE + RUN; k++)
        CHECK(t_put(&v0, table, mk_fix(k), kval(&b, k)) == mk_atom(A_TRUE), "put after %s",
              point_names[point]);
    CHECK(t_size(&v0, table) == mk_fix(BASE + RUN), "%s at %s: size after the run", c->name,
          point_names[point]);
    for (int64_t k = 0; k < BASE + RUN; k++)
        CHECK(t_take(&v0, table, mk_fix(k), T_NIL) != T_NIL, "take after %s",
              point_names[point]);
    CHECK(t_size(&v0, table) == mk_fix(0), "%s at %s: not empty", c->name, point_names[point]);
    term later = eh_atom(&w, "crash_later");
    CU_ASSERT(t_new_kind(&v0, later, kind) == later);
    CU_ASSERT(t_incr(&v0, later, mk_fix(7), mk_fix(2)) == mk_fix(2));
    ets_reclaim(v0.rt);
    CHECK(ets_check(w.h, why, sizeof why) == 0, "%s at %s, after: %s", c->name,
          point_names[point], why);
    vw_close(&w);
}

static void test_each_step(void)
{
    int kills = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const crash_case_t *c = &cases[i];
        char dead_at[256] = "";
        for (int point = 1; point < ETS_CRASH_POINTS; point++) {
            bool died;
            run_case(c, point, &died);
            kills += died;
            if (died)
                snprintf(dead_at + strlen(dead_at), sizeof dead_at - strlen(dead_at), " %s",
                         point_names[point]);
            bool on_path = false;
            for (int k = 0; c->points[k]; k++)
                on_path |= c->points[k] == point;
            CHECK(!on_path || died, "%s: did not die at %s", c->name, point_names[point]);
        }
        if (getenv("SHOAL_TEST_VERBOSE"))
            fprintf(stderr, "\n  %s: died at%s", c->name, dead_at);
    }
    if (getenv("SHOAL_TEST_VERBOSE"))
        fprintf(stderr, "\n  %d kills over %zu operations\n", kills,
                sizeof cases / sizeof cases[0]);
}

static CU_TestInfo tests[] = {
    {"a VM killed at each step of each operation: tables whole, survivors go on", test_each_step},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(ets_crash, tests, NULL, NULL)
