/*
 * test_ets.c: shared tables (vmproc/ets.c), called as the interpreter
 * calls the builtins: arguments on a process's value stack, the result a
 * term or T_NONE with the process's error set.
 *
 * In one process (VM 0): table-new, put, get, delete, size and
 * update-counter; their errors (badarg, badarith, system_limit, and the
 * heap-limit convention of leaving the error unset); keys and values are
 * copied in and out, and keys match by (=); a full directory and a full
 * pool are system_limit, with every entry kept. (The other operations
 * are in test_ets_model.c, against a model; crashes at each step in
 * test_ets_crash.c; more concurrency in test_ets_conc.c.)
 *
 * Across forked VMs (each child is one VM with its own rt_t and process,
 * as sched_main sets one up; the segment is MAP_SHARED): counters updated
 * from several VMs at once lose nothing; a VM that dies holding the
 * tables' locks blocks the others only until ets_recover_vm, and one that
 * dies after linking a new entry leaves a count that recovery repairs; VMs
 * killed at random while updating leave each increment counted once or
 * not at all.
 *
 * A VM dies holding a lock, or between linking an entry and counting it,
 * through ets.c's crash-test hook (ets_crash_step), as pool.c's tests do.
 *
 * Forked children never call CUnit: they report through their exit
 * status (codes named where they are returned). Every wait for a child
 * has a deadline (poll on a pipe that closes when the child ends), so a
 * hang fails the test instead of stalling the suite.
 */
#include "tests/ets_harness.h"
#include "tests/lang_harness.h"
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "shm/atom.h"
#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/segment.h"
#include "shm/vmtab.h"
#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "vmproc/ets.h"
#include "vmproc/ets_impl.h"
#include "vmproc/heap.h"
#include "vmproc/termio.h"

#include <ck_pr.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* one VM                                                               */

static vw_t w;
static eh_proc_t v0;   /* a process of VM 0 */
static term tab;   /* a table name (an atom no table has yet) */

/* A fresh one-VM world and process for each test. */
static bool setup(void)
{
    if (!eh_world_open(&w, 1, 64 * MIB))
        return false;
    tab = eh_atom(&w, "ets_test_table");
    return tab != T_NONE && eh_proc_new(&w, 0, &v0);
}

static void teardown(void)
{
    vw_close(&w);
}

#define SETUP() CU_ASSERT_FATAL(setup())

static void test_new(void)
{
    SETUP();
    term other = eh_atom(&w, "ets_test_other");
    CU_ASSERT_EQUAL(t_new(&v0, tab), tab);
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(0));
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(1), mk_fix(10)), mk_atom(A_TRUE));
    /* Again: the same table, contents kept. */
    CU_ASSERT_EQUAL(t_new(&v0, tab), tab);
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(1));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(1), mk_fix(0)), mk_fix(10));
    /* Another name is another, empty table. */
    CU_ASSERT_EQUAL(t_new(&v0, other), other);
    CU_ASSERT_EQUAL(t_size(&v0, other), mk_fix(0));
    CU_ASSERT_EQUAL(t_get(&v0, other, mk_fix(1), mk_fix(0)), mk_fix(0));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(1));
    teardown();
}

static void test_new_not_atom(void)
{
    SETUP();
    term sb[4];
    CU_ASSERT(eh_raised(&v0, t_new(&v0, mk_fix(3)), A_BADARG));
    CU_ASSERT(eh_raised(&v0, t_new(&v0, eh_string_in(sb, "tab")), A_BADARG));
    CU_ASSERT(eh_raised(&v0, t_new(&v0, T_NIL), A_BADARG));
    teardown();
}

static void test_put_get(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(1), mk_atom(A_OK)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_atom(A_ERROR), mk_fix(-5)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(1), mk_fix(0)), mk_atom(A_OK));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_atom(A_ERROR), mk_fix(0)), mk_fix(-5));
    CU_ASSERT_EQUAL(eh_pr(&v0)->err_class, EXC_NONE);
    teardown();
}

static void test_get_missing(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(1), mk_atom(A_UNDEFINED)), mk_atom(A_UNDEFINED));
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(1), mk_fix(7)), mk_atom(A_TRUE));
    /* Another key, and a key equal in value but not in type (1.0). */
    term fb[2];
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(2), mk_fix(-1)), mk_fix(-1));
    CU_ASSERT_EQUAL(t_get(&v0, tab, eh_float_in(fb, 1.0), mk_fix(-1)), mk_fix(-1));
    CU_ASSERT_EQUAL(eh_pr(&v0)->err_class, EXC_NONE);
    teardown();
}

static void test_put_overwrites(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    term sb[4];
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(1), mk_fix(10)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(1), mk_fix(20)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(1), mk_fix(0)), mk_fix(20));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(1));
    /* A value of another size replaces it too. */
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(1), eh_string_in(sb, "twenty")), mk_atom(A_TRUE));
    term r = t_get(&v0, tab, mk_fix(1), mk_fix(0));
    CU_ASSERT(is_string(r) && term_equal(r, eh_string_in(sb, "twenty")));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(1));
    teardown();
}

static void test_delete(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    for (int64_t k = 0; k < 3; k++)
        CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(k), mk_fix(k * 10)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_delete(&v0, tab, mk_fix(1)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(1), mk_atom(A_UNDEFINED)), mk_atom(A_UNDEFINED));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(2));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(0), mk_fix(-1)), mk_fix(0));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(2), mk_fix(-1)), mk_fix(20));
    /* A missing key: true, nothing changes. */
    CU_ASSERT_EQUAL(t_delete(&v0, tab, mk_fix(1)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(2));
    /* A deleted key can come back. */
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(1), mk_fix(11)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(1), mk_fix(-1)), mk_fix(11));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(3));
    teardown();
}

static void test_size(void)
{
    SETUP();
    enum { KEYS = 5000 };
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(0));
    bool ok = true;
    for (int64_t k = 0; k < KEYS; k++)
        ok &= t_put(&v0, tab, mk_fix(k), mk_fix(k)) == mk_atom(A_TRUE);
    CU_ASSERT(ok);
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(KEYS));
    /* Puts of present keys do not count; deletes do. */
    for (int64_t k = 0; k < KEYS; k += 2)
        t_put(&v0, tab, mk_fix(k), mk_fix(-k));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(KEYS));
    for (int64_t k = 0; k < KEYS; k += 2)
        t_delete(&v0, tab, mk_fix(k));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(KEYS / 2));
    ok = true;
    for (int64_t k = 0; k < KEYS; k++)
        ok &= t_get(&v0, tab, mk_fix(k), mk_atom(A_UNDEFINED)) ==
              (k % 2 ? mk_fix(k) : mk_atom(A_UNDEFINED));
    CU_ASSERT(ok);
    teardown();
}

static void test_counter(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    CU_ASSERT_EQUAL(t_incr(&v0, tab, mk_atom(A_OK), mk_fix(5)), mk_fix(5));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(1));
    CU_ASSERT_EQUAL(t_incr(&v0, tab, mk_atom(A_OK), mk_fix(-2)), mk_fix(3));
    CU_ASSERT_EQUAL(t_incr(&v0, tab, mk_atom(A_OK), mk_fix(0)), mk_fix(3));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_atom(A_OK), mk_fix(0)), mk_fix(3));
    /* A key put as an integer counts on from there. */
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(9), mk_fix(100)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_incr(&v0, tab, mk_fix(9), mk_fix(1)), mk_fix(101));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(2));
    CU_ASSERT_EQUAL(eh_pr(&v0)->err_class, EXC_NONE);
    teardown();
}

static void test_counter_errors(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    term fb[2];
    /* The value is not an integer: badarg, the value is kept. */
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(1), mk_atom(A_OK)), mk_atom(A_TRUE));
    CU_ASSERT(eh_raised(&v0, t_incr(&v0, tab, mk_fix(1), mk_fix(1)), A_BADARG));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(1), mk_fix(0)), mk_atom(A_OK));
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(2), eh_float_in(fb, 1.5)), mk_atom(A_TRUE));
    CU_ASSERT(eh_raised(&v0, t_incr(&v0, tab, mk_fix(2), mk_fix(1)), A_BADARG));
    term r = t_get(&v0, tab, mk_fix(2), mk_fix(0));
    CU_ASSERT(is_float(r) && float_val(r) == 1.5);
    /* The increment is not an integer: badarg, no key is made. */
    CU_ASSERT(eh_raised(&v0, t_incr(&v0, tab, mk_fix(3), mk_atom(A_OK)), A_BADARG));
    CU_ASSERT(eh_raised(&v0, t_incr(&v0, tab, mk_fix(3), eh_float_in(fb, 1.0)), A_BADARG));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(3), mk_atom(A_UNDEFINED)), mk_atom(A_UNDEFINED));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(2));
    /* Past the integer range: badarith, the value is kept. */
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(4), mk_fix(FIX_MAX)), mk_atom(A_TRUE));
    CU_ASSERT(eh_raised(&v0, t_incr(&v0, tab, mk_fix(4), mk_fix(1)), A_BADARITH));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(4), mk_fix(0)), mk_fix(FIX_MAX));
    CU_ASSERT_EQUAL(t_incr(&v0, tab, mk_fix(4), mk_fix(-1)), mk_fix(FIX_MAX - 1));
    teardown();
}

static void test_no_table(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    /* An atom that names no table, and a name that is not an atom. */
    const term names[] = {mk_atom(A_UNDEFINED), mk_fix(1)};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        term n = names[i];
        CU_ASSERT(eh_raised(&v0, t_put(&v0, n, mk_fix(1), mk_fix(2)), A_BADARG));
        CU_ASSERT(eh_raised(&v0, t_get(&v0, n, mk_fix(1), mk_fix(2)), A_BADARG));
        CU_ASSERT(eh_raised(&v0, t_delete(&v0, n, mk_fix(1)), A_BADARG));
        CU_ASSERT(eh_raised(&v0, t_size(&v0, n), A_BADARG));
        CU_ASSERT(eh_raised(&v0, t_incr(&v0, n, mk_fix(1), mk_fix(1)), A_BADARG));
    }
    /* And none of that made the table. */
    CU_ASSERT(eh_raised(&v0, t_size(&v0, mk_atom(A_UNDEFINED)), A_BADARG));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(0));
    teardown();
}

/* The key #(ok 7 "key") and the value #(1 2.5 "text" (1 2) #(3 true)),
 * in C arrays: kb[4] ks[4], vb[6] vf[2] vs[4] vl[4] vt[3]. */
typedef struct kv {
    term kb[4], ks[4];
    term vb[6], vf[2], vs[4], vl[4], vt[3];
    term key, value;
} kv_t;

static void kv_build(kv_t *x)
{
    x->key = eh_tuple_in(x->kb, 3, mk_atom(A_OK), mk_fix(7), eh_string_in(x->ks, "key"));
    term list = eh_cons_in(&x->vl[0], mk_fix(1), eh_cons_in(&x->vl[2], mk_fix(2), T_NIL));
    x->value = eh_tuple_in(x->vb, 5, mk_fix(1), eh_float_in(x->vf, 2.5), eh_string_in(x->vs, "text"),
                        list, eh_tuple_in(x->vt, 2, mk_fix(3), mk_atom(A_TRUE)));
}

static void test_copied(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    kv_t a, b;
    kv_build(&a);
    CU_ASSERT_EQUAL(t_put(&v0, tab, a.key, a.value), mk_atom(A_TRUE));
    /* Wreck what was put: a table that kept pointers to it would now
     * hold junk and no longer find the key. */
    for (term *t = (term *)&a; t < (term *)(&a + 1); t++)
        *t = mk_fix(-1);
    /* An equal key and value, built anew elsewhere. */
    kv_build(&b);
    term r = t_get(&v0, tab, b.key, mk_atom(A_UNDEFINED));
    CU_ASSERT_FATAL(is_tuple(r));
    CU_ASSERT(term_equal(r, b.value));
    /* Copied out into the reader's heap, down to the nested parts. */
    CU_ASSERT(eh_in_heap_of(&w, &v0, r));
    CU_ASSERT(eh_in_heap_of(&w, &v0, tuple_elems(r)[1]));
    CU_ASSERT(eh_in_heap_of(&w, &v0, tuple_elems(r)[2]));
    CU_ASSERT(eh_in_heap_of(&w, &v0, tuple_elems(r)[3]));
    CU_ASSERT(eh_in_heap_of(&w, &v0, tuple_elems(r)[4]));
    /* Each get is a copy of its own: changing one changes nothing else. */
    term r2 = t_get(&v0, tab, b.key, mk_atom(A_UNDEFINED));
    CU_ASSERT(is_tuple(r2) && r2 != r && term_equal(r2, b.value));
    tuple_elems(r)[0] = mk_fix(99);
    term r3 = t_get(&v0, tab, b.key, mk_atom(A_UNDEFINED));
    CU_ASSERT(term_equal(r3, b.value));
    teardown();
}

/* Keys are matched by (=), deep structural equality (termio's
 * term_equal), which is what ets.c compares keys with: equal keys are
 * one key, however they are represented. 0.0 and -0.0 are (=). */
static void test_equal_keys(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    term pz[2], nz[2], t1[3], t2[3];
    term zero = eh_float_in(pz, 0.0), minus_zero = eh_float_in(nz, -0.0);
    CU_ASSERT_FATAL(term_equal(zero, minus_zero));
    CU_ASSERT_EQUAL(t_put(&v0, tab, zero, mk_fix(1)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_get(&v0, tab, minus_zero, mk_atom(A_UNDEFINED)), mk_fix(1));
    CU_ASSERT_EQUAL(t_put(&v0, tab, minus_zero, mk_fix(2)), mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(1));
    /* Inside a tuple too. */
    CU_ASSERT_EQUAL(t_put(&v0, tab, eh_tuple_in(t1, 2, mk_atom(A_OK), zero), mk_fix(3)),
                    mk_atom(A_TRUE));
    CU_ASSERT_EQUAL(t_get(&v0, tab, eh_tuple_in(t2, 2, mk_atom(A_OK), minus_zero), mk_fix(0)),
                    mk_fix(3));
    teardown();
}

/* Tuples of n small integers, in a malloc'd array. */
static term big_tuple(term **mem, uint64_t n)
{
    term *b = malloc((n + 1) * sizeof(term));
    *mem = b;
    if (!b)
        return T_NONE;
    b[0] = mk_hdr(n + 1, BT_TUPLE);
    for (uint64_t i = 0; i < n; i++)
        b[1 + i] = mk_fix((int64_t)i);
    return mk_box(b);
}

/* The tests of big values: a table with key 1 bound to a tuple of
 * BIG_N integers (in *mem, which the caller frees). */
enum { BIG_N = 3000 };
static term put_big_tuple(term **mem)
{
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    term big = big_tuple(mem, BIG_N);
    CU_ASSERT_FATAL(big != T_NONE);
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(1), big), mk_atom(A_TRUE));
    return big;
}

static void test_get_grows_heap(void)
{
    SETUP();
    term *mem;
    term big = put_big_tuple(&mem);
    proc_t *p = eh_pr(&v0);
    /* The copy cannot fit where the heap is now. */
    CU_ASSERT_FATAL((uint64_t)(p->hlim - p->hp) < BIG_N + 1);
    uint64_t before = p->heap_words;
    term r = t_get(&v0, tab, mk_fix(1), mk_fix(0));
    CU_ASSERT_FATAL(is_tuple(r));
    CU_ASSERT_EQUAL(tuple_size(r), BIG_N);
    CU_ASSERT(term_equal(r, big));
    CU_ASSERT(eh_in_heap_of(&w, &v0, r));
    CU_ASSERT(p->heap_words >= before + BIG_N + 1);
    free(mem);
    teardown();
}

/* A value that does not fit under the heap limit: T_NONE with no error
 * set, which the interpreter turns into #(error heap_limit) (bif.c, room).
 * The entry is left as it was. */
static void test_get_heap_limit(void)
{
    SETUP();
    term *mem;
    term big = put_big_tuple(&mem);
    proc_t *p = eh_pr(&v0);
    uint64_t limit = p->heap_limit_words;
    p->heap_limit_words = BIG_N / 2;
    term r = t_get(&v0, tab, mk_fix(1), mk_fix(0));
    CU_ASSERT_EQUAL(r, T_NONE);
    CU_ASSERT_EQUAL(p->err_class, EXC_NONE);
    p->heap_limit_words = limit;
    r = t_get(&v0, tab, mk_fix(1), mk_fix(0));
    CU_ASSERT(is_tuple(r) && term_equal(r, big));
    free(mem);
    teardown();
}

/* The directory is fixed in size: once it is full, a new name is
 * system_limit, and the tables already made, and new of their names,
 * still work. */
static void test_directory_full(void)
{
    SETUP();
    enum { TRIES = ETS_MAX_TABLES + 16 };
    static term names[TRIES];
    int made = 0;
    term r = T_NONE;
    for (; made < TRIES; made++) {
        char name[32];
        snprintf(name, sizeof name, "ets_test_t%d", made);
        names[made] = eh_atom(&w, name);
        CU_ASSERT_FATAL(names[made] != T_NONE);
        r = t_new(&v0, names[made]);
        if (r != names[made])
            break;
        CU_ASSERT_EQUAL(t_put(&v0, names[made], mk_fix(0), mk_fix(made)), mk_atom(A_TRUE));
    }
    CU_ASSERT_FATAL(made > 1 && made < TRIES);
    CU_ASSERT(eh_raised(&v0, r, A_SYSTEM_LIMIT));
    CU_ASSERT(eh_raised(&v0, t_size(&v0, names[made]), A_BADARG));
    CU_ASSERT_EQUAL(t_new(&v0, names[0]), names[0]);
    CU_ASSERT_EQUAL(t_new(&v0, names[made - 1]), names[made - 1]);
    bool ok = true;
    for (int i = 0; i < made; i++)
        ok &= t_get(&v0, names[i], mk_fix(0), mk_fix(-1)) == mk_fix(i);
    CU_ASSERT(ok);
    teardown();
}

/* The pool running out: system_limit in the caller, the table as it
 * was, and once entries are deleted (and their memory comes back after
 * its grace period) puts work again. */
static void test_pool_exhausted(void)
{
    CU_ASSERT_FATAL(eh_world_open(&w, 1, 16 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    tab = eh_atom(&w, "ets_test_full_pool");
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, tab), tab);
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_atom(A_OK), mk_fix(42)), mk_atom(A_TRUE));
    term *mem;
    term big = big_tuple(&mem, BIG_N);
    CU_ASSERT_FATAL(big != T_NONE);
    int64_t n = 0;
    term r;
    while ((r = t_put(&v0, tab, mk_fix(n), big)) == mk_atom(A_TRUE) && n < 100000)
        n++;
    CU_ASSERT_FATAL(n > 10 && n < 100000);
    CU_ASSERT(eh_raised(&v0, r, A_SYSTEM_LIMIT));
    /* Everything there before is still there. */
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(n + 1));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_atom(A_OK), T_NIL), mk_fix(42));
    CU_ASSERT_EQUAL(t_get(&v0, tab, mk_fix(n), mk_atom(A_UNDEFINED)), mk_atom(A_UNDEFINED));
    /* An update-counter of a new key and an insert-new need room too. */
    CU_ASSERT(eh_raised(&v0, t_insert_new(&v0, tab, mk_fix(n), big), A_SYSTEM_LIMIT));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(n + 1));
    /* Room again: delete some, let their grace period pass. */
    for (int64_t k = 0; k < 10; k++)
        CU_ASSERT_EQUAL(t_delete(&v0, tab, mk_fix(k)), mk_atom(A_TRUE));
    for (int i = 0; i < 3; i++)
        ets_reclaim(v0.rt);
    CU_ASSERT_EQUAL(t_put(&v0, tab, mk_fix(n), big), mk_atom(A_TRUE));
    term got = t_get(&v0, tab, mk_fix(n), T_NIL);
    CU_ASSERT(is_tuple(got) && term_equal(got, big));
    CU_ASSERT_EQUAL(t_size(&v0, tab), mk_fix(n + 1 - 10 + 1));
    char why[200];
    CU_ASSERT(ets_check(w.h, why, sizeof why) == 0);
    free(mem);
    vw_close(&w);
}

/* A set table grows out of its first array, which is part of the table's
 * own block, on VM 0; VM 1 drops it and frees it. The first array is
 * retired by nobody: had VM 0 retired it when the resize finished, VM 0
 * would free it after its grace period, inside a block VM 1 had given
 * back (and that could be a slab by then: a slot freed twice, a free list
 * overwritten, as migration torture found in tbl_drop.shoal). The
 * resized arrays are retired and freed; the pool and the slabs check. */
static void test_first_array_not_retired(void)
{
    vw_t ww;
    CU_ASSERT_FATAL(eh_world_open(&ww, 2, 64 * MIB));
    eh_proc_t p0, p1;
    CU_ASSERT_FATAL(eh_proc_new(&ww, 0, &p0) && eh_proc_new(&ww, 1, &p1));
    term name = eh_atom(&ww, "grown");
    CU_ASSERT_EQUAL_FATAL(t_new(&p0, name), name);
    ets_table_t *t = ets_begin(p0.rt, name);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    const ets_arr_t *first = t->cur;
    ets_end(p0.rt);
    CU_ASSERT_EQUAL_FATAL(first->embedded, 1);
    for (int64_t k = 0; k < 1000; k++)
        CU_ASSERT_EQUAL(t_put(&p0, name, mk_fix(k), mk_fix(-k)), mk_atom(A_TRUE));
    CU_ASSERT_FATAL(ets_begin(p0.rt, name) == t);
    const ets_arr_t *now = t->cur;
    ets_end(p0.rt);
    CU_ASSERT_FATAL(now != first); /* it grew */
    epoch_dom_t *ep = ets_dir(ww.h)->epoch;
    CU_ASSERT_FALSE(epoch_retired(ep, 0, first));
    CU_ASSERT_FALSE(epoch_retired(ep, 1, first));
    CU_ASSERT_EQUAL(t_drop(&p1, name), mk_atom(A_TRUE));
    for (int i = 0; i < 4; i++) { /* grace periods: the table is freed */
        ets_reclaim_hard(p1.rt);
        ets_reclaim_hard(p0.rt);
    }
    CU_ASSERT_EQUAL(epoch_pending(ep, 0) + epoch_pending(ep, 1), 0);
    char why[200];
    CU_ASSERT(ets_check(ww.h, why, sizeof why) == 0);
    CU_ASSERT(pool_check(ww.h, why, sizeof why) == 0);
    vw_close(&ww);
}

/* ------------------------------------------------------------------ */
/* VMs updating at once                                                 */

enum { UPDATERS = 4, INCRS = 20000 };

/* Exit codes of the children. */
enum {
    KID_OK = 0,
    KID_GO = 10,  /* the start signal did not come */
    KID_PROC,     /* no process */
    KID_SHARED,   /* the shared counter went wrong */
    KID_OWN,      /* its own counter went wrong */
    KID_LOCKED,   /* a lock word it meant to take was held */
    KID_ALIVE,    /* it outlived its SIGKILL */
    KID_OPS,      /* an operation after recovery gave a wrong result */
};

typedef struct count_args {
    term table, shared;
    int go_r, go_w; /* the start pipe: EOF is the signal */
} count_args_t;

/* INCRS increments of the shared key and of the key #(ok vm), checking
 * each result: its own key counts 1, 2, ...; the shared one only grows. */
static int count_job(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const count_args_t *a = arg;
    close(a->go_w);
    char c;
    if (read(a->go_r, &c, 1) != 0)
        return KID_GO;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    term kb[3];
    term own = eh_tuple_in(kb, 2, mk_atom(A_OK), mk_fix(vm));
    int64_t last = 0;
    for (int64_t i = 1; i <= INCRS; i++) {
        term r = t_incr(&v, a->table, a->shared, mk_fix(1));
        if (!is_fix(r) || fix_val(r) <= last || fix_val(r) > (int64_t)UPDATERS * INCRS)
            return KID_SHARED;
        last = fix_val(r);
        if (t_incr(&v, a->table, own, mk_fix(1)) != mk_fix(i))
            return KID_OWN;
    }
    return KID_OK;
}

static void test_concurrent(void)
{
    CU_ASSERT_FATAL(eh_world_open(&w, UPDATERS + 1, 64 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    term table = eh_atom(&w, "ets_test_counters");
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, table), table);
    int go[2];
    CU_ASSERT_EQUAL_FATAL(pipe(go), 0);
    count_args_t a = {table, mk_atom(A_OK), go[0], go[1]};
    eh_kid_t kids[UPDATERS];
    for (uint32_t k = 0; k < UPDATERS; k++) {
        kids[k] = eh_start(&w, 1 + k, count_job, &a);
        CU_ASSERT_FATAL(kids[k].pid > 0);
    }
    close(go[0]);
    close(go[1]); /* all start together */
    for (uint32_t k = 0; k < UPDATERS; k++) {
        char who[32];
        snprintf(who, sizeof who, "updater VM %u", 1 + k);
        CU_ASSERT(eh_exited_ok(eh_finish(&kids[k], CHILD_LIMIT_MS), who));
    }
    CU_ASSERT_EQUAL(t_get(&v0, table, mk_atom(A_OK), mk_fix(-1)),
                    mk_fix((int64_t)UPDATERS * INCRS));
    for (uint32_t k = 0; k < UPDATERS; k++) {
        term kb[3];
        term own = eh_tuple_in(kb, 2, mk_atom(A_OK), mk_fix(1 + k));
        CU_ASSERT_EQUAL(t_get(&v0, table, own, mk_fix(-1)), mk_fix(INCRS));
    }
    CU_ASSERT_EQUAL(t_size(&v0, table), mk_fix(UPDATERS + 1));
    vw_close(&w);
}

/* ------------------------------------------------------------------ */
/* a VM that dies holding the locks                                     */

enum { HELD_INCRS = 1000, PROBE_INCRS = 100 };

/* How long a probe that waits on a dead VM's lock must stay blocked
 * before the recovery. This bounds a check that nothing happens (the
 * probe cannot end while the lock is held); it is not a wait for a
 * condition, and a slow machine can only make it pass, not fail. */
#define BLOCKED_MS 100

typedef struct hold_args {
    term table, key, table2, table3;
} hold_args_t;

/* Count HELD_INCRS on the key, then die holding the lock of the key's
 * stripe (ets.c's crash hook): in an insert-new of the key, which takes
 * that lock (an update-counter of a present key takes none: one CAS). */
static int die_holding_table(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const hold_args_t *a = arg;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    for (int64_t i = 1; i <= HELD_INCRS; i++)
        if (t_incr(&v, a->table, a->key, mk_fix(1)) != mk_fix(i))
            return KID_OWN;
    ets_crash_step = ETS_CRASH_LOCKED;
    t_insert_new(&v, a->table, a->key, mk_fix(0));
    return KID_ALIVE;
}

/* Die creating a table, with the directory's lock held. */
static int die_holding_directory(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const hold_args_t *a = arg;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    ets_crash_step = ETS_CRASH_DIR_LOCKED;
    t_new(&v, a->table3);
    return KID_ALIVE;
}

/* Signal that it is about to use the tables, then use them: every
 * operation, on the table the dead VM locked (first one that needs the
 * key's stripe lock it held) and on a new one (which needs the
 * directory's lock). */
static int probe_job(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    const hold_args_t *a = arg;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    char c = 'r';
    if (write(out, &c, 1) != 1)
        return KID_GO;
    if (t_insert_new(&v, a->table, a->key, mk_fix(0)) != mk_atom(A_FALSE))
        return KID_OPS;
    for (int64_t i = 1; i <= PROBE_INCRS; i++)
        if (t_incr(&v, a->table, a->key, mk_fix(1)) != mk_fix(HELD_INCRS + i))
            return KID_SHARED;
    if (t_put(&v, a->table, mk_fix(2), mk_fix(20)) != mk_atom(A_TRUE) ||
        t_get(&v, a->table, mk_fix(2), mk_fix(0)) != mk_fix(20) ||
        t_size(&v, a->table) != mk_fix(2) ||
        t_delete(&v, a->table, mk_fix(2)) != mk_atom(A_TRUE) ||
        t_size(&v, a->table) != mk_fix(1))
        return KID_OPS;
    if (t_new(&v, a->table2) != a->table2 ||
        t_put(&v, a->table2, mk_fix(1), mk_fix(1)) != mk_atom(A_TRUE) ||
        t_get(&v, a->table2, mk_fix(1), mk_fix(0)) != mk_fix(1))
        return KID_OPS;
    return KID_OK;
}

static void expect_killed(eh_kid_t *k, const char *who)
{
    CU_ASSERT_FATAL(k->pid > 0);
    int st = eh_finish(k, CHILD_LIMIT_MS);
    if (!eh_killed_by(st, SIGKILL))
        eh_exited_ok(st, who);
    CU_ASSERT_FATAL(eh_killed_by(st, SIGKILL));
}

/* VM 1 dies holding a table's lock and VM 3 holding the directory's: VM
 * 2, which needs both, waits until the supervisor recovers them, then
 * does everything, and nothing VM 1 counted is lost. */
static void test_dead_holder(void)
{
    CU_ASSERT_FATAL(eh_world_open(&w, 4, 64 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    hold_args_t a = {eh_atom(&w, "ets_test_counters"), mk_atom(A_OK), eh_atom(&w, "ets_test_later"),
                     eh_atom(&w, "ets_test_never")};
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, a.table), a.table);

    eh_kid_t dying = eh_start(&w, 1, die_holding_table, &a);
    expect_killed(&dying, "dying VM 1");
    CU_ASSERT_EQUAL_FATAL(eh_held_by(&w, 1), 1);
    eh_kid_t dying_dir = eh_start(&w, 3, die_holding_directory, &a);
    expect_killed(&dying_dir, "dying VM 3");
    CU_ASSERT_EQUAL_FATAL(eh_held_by(&w, 3), 1);
    CU_ASSERT_EQUAL(eh_held_by(&w, ETS_ANY_VM), 2);

    /* VM 2 starts on the tables while the locks are held: it waits. */
    eh_kid_t probe = eh_start(&w, 2, probe_job, &a);
    CU_ASSERT_FATAL(probe.pid > 0);
    CU_ASSERT(eh_await(probe.fd, 1, CHILD_LIMIT_MS));
    bool ended_early = eh_await(probe.fd, -1, BLOCKED_MS);
    CU_ASSERT(!ended_early);
    /* The supervisor recovers the dead VMs: VM 2 goes on and finishes. */
    eh_recover(&w, 1);
    eh_recover(&w, 3);
    CU_ASSERT_EQUAL(eh_held_by(&w, 1), 0);
    CU_ASSERT_EQUAL(eh_held_by(&w, 3), 0);
    CU_ASSERT(eh_exited_ok(eh_finish(&probe, CHILD_LIMIT_MS), "probe VM 2"));
    CU_ASSERT_FATAL(eh_held_by(&w, ETS_ANY_VM) == 0); /* so VM 0 cannot block */
    CU_ASSERT_EQUAL(t_get(&v0, a.table, a.key, mk_fix(-1)), mk_fix(HELD_INCRS + PROBE_INCRS));
    CU_ASSERT_EQUAL(t_size(&v0, a.table), mk_fix(1));
    CU_ASSERT_EQUAL(t_get(&v0, a.table2, mk_fix(1), mk_fix(0)), mk_fix(1));
    /* The table VM 3 was creating does not exist. */
    CU_ASSERT_TRUE(eh_raised(&v0, t_size(&v0, a.table3), A_BADARG));
    vw_close(&w);
}

/* Put keys 1..9, then die in the put of key 10 (with table-put) or in
 * the update-counter of key 10, after linking it and before counting it. */
static int die_after_link(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    (void)out;
    const hold_args_t *a = arg;
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    for (int64_t i = 1; i <= 9; i++)
        if (t_put(&v, a->table, mk_fix(i), mk_fix(i * 10)) != mk_atom(A_TRUE))
            return KID_OPS;
    ets_crash_step = ETS_CRASH_LINKED;
    if (a->key == mk_atom(A_TRUE))
        t_put(&v, a->table, mk_fix(10), mk_fix(100));
    else
        t_incr(&v, a->table, mk_fix(10), mk_fix(100));
    return KID_ALIVE;
}

/* A VM that dies between linking a new key and counting it leaves the
 * key there and the count one short; recovery counts again. */
static void test_dead_after_link(void)
{
    CU_ASSERT_FATAL(eh_world_open(&w, 2, 64 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    const char *names[2] = {"ets_test_put_link", "ets_test_incr_link"};
    for (int k = 0; k < 2; k++) {
        /* key: 'true for table-put, 'false for update-counter */
        hold_args_t a = {eh_atom(&w, names[k]), mk_atom(k == 0 ? A_TRUE : A_FALSE), T_NONE,
                         T_NONE};
        CU_ASSERT_EQUAL_FATAL(t_new(&v0, a.table), a.table);
        eh_kid_t dying = eh_start(&w, 1, die_after_link, &a);
        expect_killed(&dying, "dying VM 1");
        CU_ASSERT_EQUAL_FATAL(eh_held_by(&w, 1), 1);
        CU_ASSERT_EQUAL(t_size(&v0, a.table), mk_fix(9)); /* stale */
        eh_recover(&w, 1);
        CU_ASSERT_EQUAL(eh_held_by(&w, ETS_ANY_VM), 0);
        CU_ASSERT_EQUAL(t_size(&v0, a.table), mk_fix(10));
        CU_ASSERT_EQUAL(t_get(&v0, a.table, mk_fix(10), mk_fix(0)), mk_fix(100));
        CU_ASSERT_EQUAL(t_get(&v0, a.table, mk_fix(9), mk_fix(0)), mk_fix(90));
    }
    vw_close(&w);
}

/* ------------------------------------------------------------------ */
/* VMs killed at random while updating                                  */

enum { KILL_ROUNDS = 40, AFTER_INCRS = 1000 };

/* What an updater has done, per key: `started` is stored before each
 * increment and `done` after it returned the right value. Written by the
 * updater only; the parent reads it once the updater has ended. */
typedef struct tally {
    uint64_t shared_started, shared_done;
    uint64_t own_started, own_done;
    uint32_t stop; /* the parent: finish with AFTER_INCRS more and exit */
    uint32_t pad;
} tally_t;

typedef struct upd_args {
    term table, shared, own;
    tally_t *tally; /* in a MAP_SHARED page */
    bool progress;  /* write a byte to `out` every 16 increments */
} upd_args_t;

static int one_incr(eh_proc_t *v, term table, term key, uint64_t *started, uint64_t *done,
                    bool exact)
{
    uint64_t n = *done + 1;
    ck_pr_store_64(started, n);
    /* The store is in the segment's page before the table changes, even
     * if this VM is killed right after (a kill loses no store). */
    ck_pr_fence_store();
    term r = t_incr(v, table, key, mk_fix(1));
    if (!is_fix(r) || (exact && r != mk_fix((int64_t)n)))
        return -1;
    ck_pr_fence_store();
    ck_pr_store_64(done, n);
    return 0;
}

/* Increment the shared key and its own key, alternately, until the
 * parent sets stop, then AFTER_INCRS more of each. */
static int update_job(vw_t *wd, uint32_t vm, int out, const void *arg)
{
    const upd_args_t *a = arg;
    tally_t *t = a->tally;
    if (a->progress)
        fcntl(out, F_SETFL, O_NONBLOCK);
    eh_proc_t v;
    if (!eh_proc_new(wd, vm, &v))
        return KID_PROC;
    int64_t after = -1;
    for (uint64_t i = 0; after != 0; i++) {
        if (a->progress && i % 16 == 0) {
            char c = 1;
            if (write(out, &c, 1) < 0 && errno != EAGAIN)
                return KID_GO;
        }
        if (one_incr(&v, a->table, a->shared, &t->shared_started, &t->shared_done, false) < 0)
            return KID_SHARED;
        if (one_incr(&v, a->table, a->own, &t->own_started, &t->own_done, true) < 0)
            return KID_OWN;
        if (after > 0)
            after--;
        else if (after < 0 && ck_pr_load_32(&t->stop))
            after = AFTER_INCRS;
    }
    return KID_OK;
}

/* Whether v is an integer in [lo, hi]. */
static bool fix_between(term v, uint64_t lo, uint64_t hi)
{
    return is_fix(v) && fix_val(v) >= (int64_t)lo && fix_val(v) <= (int64_t)hi;
}

static void test_random_kill(void)
{
    CU_ASSERT_FATAL(eh_world_open(&w, 3, 64 * MIB));
    CU_ASSERT_FATAL(eh_proc_new(&w, 0, &v0));
    term table = eh_atom(&w, "ets_test_counters");
    CU_ASSERT_EQUAL_FATAL(t_new(&v0, table), table);
    tally_t *tl = mmap(NULL, SHOAL_PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(tl != MAP_FAILED);
    unsigned seed = 4242;
    int in_lock = 0;
    int64_t keys = 0;
    for (int round = 0; round < KILL_ROUNDS; round++) {
        /* Fresh keys each round: shared 10r, the victim's 10r+1, the
         * survivor's 10r+2. */
        memset(tl, 0, 2 * sizeof *tl);
        upd_args_t va = {table, mk_fix(round * 10), mk_fix(round * 10 + 1), &tl[0], true};
        upd_args_t sa = {table, mk_fix(round * 10), mk_fix(round * 10 + 2), &tl[1], false};
        eh_kid_t victim = eh_start(&w, 1, update_job, &va);
        eh_kid_t survivor = eh_start(&w, 2, update_job, &sa);
        CU_ASSERT_FATAL(victim.pid > 0 && survivor.pid > 0);
        long want = 1 + (long)(rand_r(&seed) % 32);
        CU_ASSERT_FATAL(eh_await(victim.fd, want, CHILD_LIMIT_MS));
        kill(victim.pid, SIGKILL);
        int st = eh_finish(&victim, CHILD_LIMIT_MS);
        if (!eh_killed_by(st, SIGKILL))
            eh_exited_ok(st, "victim VM 1");
        CU_ASSERT_FATAL(eh_killed_by(st, SIGKILL));
        in_lock += eh_held_by(&w, 1) > 0;
        eh_recover(&w, 1);
        CU_ASSERT_EQUAL(eh_held_by(&w, 1), 0);
        /* The survivor goes on past the recovery, and ends. */
        ck_pr_store_32(&tl[1].stop, 1);
        CU_ASSERT_FATAL(eh_exited_ok(eh_finish(&survivor, CHILD_LIMIT_MS), "survivor VM 2"));
        CU_ASSERT_FATAL(eh_held_by(&w, ETS_ANY_VM) == 0); /* so VM 0 cannot block */

        /* Each increment the victim started is counted once or not at
         * all: what returned is counted, and at most one more. */
        const tally_t *vt = &tl[0], *su = &tl[1];
        CU_ASSERT(vt->shared_started - vt->shared_done <= 1);
        CU_ASSERT(su->shared_started == su->shared_done && su->own_started == su->own_done);
        term shared = t_get(&v0, table, va.shared, mk_fix(0));
        CU_ASSERT(fix_between(shared, vt->shared_done + su->shared_done,
                              vt->shared_started + su->shared_done));
        term own = t_get(&v0, table, va.own, mk_fix(0));
        CU_ASSERT(fix_between(own, vt->own_done, vt->own_started));
        CU_ASSERT_EQUAL(t_get(&v0, table, sa.own, mk_fix(0)), mk_fix((int64_t)su->own_done));
        CU_ASSERT(su->own_done > AFTER_INCRS);
        keys += 2 + (t_get(&v0, table, va.own, T_NIL) != T_NIL);
    }
    /* The size agrees with the keys there are. */
    CU_ASSERT_EQUAL(t_size(&v0, table), mk_fix(keys));
    if (getenv("SHOAL_TEST_VERBOSE"))
        fprintf(stderr, "\n  random kill: %d of %d kills inside a table lock\n", in_lock,
                KILL_ROUNDS);
    munmap(tl, SHOAL_PAGE);
    vw_close(&w);
}

static CU_TestInfo tests[] = {
    {"new creates a table once and returns its name", test_new},
    {"new of a name that is not an atom is badarg", test_new_not_atom},
    {"put then get returns the value", test_put_get},
    {"get of a missing key returns the default", test_get_missing},
    {"put on a present key overwrites it", test_put_overwrites},
    {"delete removes one key; a missing key is a no-op", test_delete},
    {"size counts keys, not puts", test_size},
    {"update-counter counts a missing key from 0, returns the new value", test_counter},
    {"update-counter of a non-integer is badarg, past the range badarith", test_counter_errors},
    {"every operation on a table that does not exist is badarg", test_no_table},
    {"keys and values are copied in and out, into the reader's heap", test_copied},
    {"keys that are (=) are one key: 0.0 and -0.0", test_equal_keys},
    {"get of a value larger than the free heap grows the heap", test_get_grows_heap},
    {"get of a value past the heap limit: heap_limit, entry kept", test_get_heap_limit},
    {"a full directory: new is system_limit, old tables work", test_directory_full},
    {"the pool running out: system_limit, entries stay, room comes back", test_pool_exhausted},
    {"a table's first array is not retired: a drop from another VM frees it with the table",
     test_first_array_not_retired},
    {"VMs update counters at once: no update lost", test_concurrent},
    {"a VM dies holding the locks: others wait until recovery, then go on", test_dead_holder},
    {"a VM dies after linking a new key: recovery counts again", test_dead_after_link},
    {"VMs killed at random while updating: each increment counted once or not", test_random_kill},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(ets, tests, NULL, NULL)
