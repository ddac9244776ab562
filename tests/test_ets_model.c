/*
 * test_ets_model.c: shared tables against a simple reference model, on
 * random sequences of 100,000 operations, for set and ordered tables.
 *
 * The model is an array indexed by key number: the value a key has, or
 * nothing. Keys are integers, floats (0.0 among them, looked up as -0.0
 * too), strings, atoms, tuples and lists; each is looked up half the time
 * through an equal term built apart (so matching is by (=), never by
 * pointer). Operations: put, get, delete, insert-new, take,
 * update-counter, size, and rarely drop (then new again). After every
 * step: the operation's result, the size, and (every step for a small key
 * space, every 1,000 steps for a large one, whose table grows and shrinks
 * through many resizes) the whole contents, by %table-chunk, in term
 * order for ordered tables; and every 1,000 steps the tables' own
 * consistency check (ets_check: chains, counts, bytes, skip list levels,
 * slabs).
 *
 * Everything runs in one VM of a forked-free world (the builtins called
 * as the interpreter calls them); the seeds are fixed, and a failure
 * prints the step and the operation.
 */
#include "tests/ets_harness.h"
#include "tests/unit.h"

#include "shm/atom.h"
#include "vmproc/compiler.h"
#include "vmproc/ets.h"
#include "vmproc/heap.h"
#include "vmproc/termio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* keys and values, in a C arena                                        */

static term arena[1 << 21];
static size_t used;

static term *take_words(size_t n)
{
    if (used + n > sizeof arena / sizeof arena[0])
        return NULL;
    term *p = &arena[used];
    used += n;
    return p;
}

static term mk_str(const char *s)
{
    term *b = take_words(str_words(strlen(s)));
    return b ? eh_string_in(b, s) : T_NONE;
}

static term mk_flt(double d)
{
    term *b = take_words(2);
    return b ? eh_float_in(b, d) : T_NONE;
}

static term mk_tup3(term a, term b, term c)
{
    term *p = take_words(4);
    return p ? eh_tuple_in(p, 3, a, b, c) : T_NONE;
}

static term mk_cons(term h, term t)
{
    term *c = take_words(2);
    return c ? eh_cons_in(c, h, t) : T_NONE;
}

#define MAX_KEYS 24000

static vw_t w;
static eh_proc_t v0;
static term keys[MAX_KEYS], alias[MAX_KEYS]; /* alias[i] = keys[i], built apart */
static term model[MAX_KEYS];                 /* the value, or T_NONE */
static long count;
static term none;                            /* get's default: an atom no value is */

enum { NVALS = 64 };
static term vals[NVALS];

/* Key i of a family picked by i % 6; build it twice for its alias. */
static term make_key(long i, bool second)
{
    char b[48];
    switch (i % 6) {
    case 0:
        return mk_fix(i * 7919 - 50000);
    case 1:
        if (i == 1)
            return mk_flt(second ? -0.0 : 0.0);
        return mk_flt((i % 2 ? -1 : 1) * ((double)i + 0.25));
    case 2:
        snprintf(b, sizeof b, "k%ld", i);
        return mk_str(b);
    case 3:
        snprintf(b, sizeof b, "akey%ld", i);
        return eh_atom(&w, b);
    case 4:
        return mk_tup3(mk_fix(i), mk_str("t"), mk_flt(1.5));
    default:
        return mk_cons(mk_fix(i), mk_cons(mk_tup3(mk_fix(i), T_NIL, none), T_NIL));
    }
}

static void make_values(void)
{
    for (int i = 0; i < NVALS; i++) {
        char b[32];
        switch (i % 4) {
        case 0:
            vals[i] = mk_fix(i * 3 - 20);
            break;
        case 1:
            vals[i] = mk_flt(i / 3.0);
            break;
        case 2:
            snprintf(b, sizeof b, "value number %d", i);
            vals[i] = mk_str(b);
            break;
        default:
            vals[i] = mk_tup3(mk_str("v"), mk_cons(mk_fix(i), T_NIL), mk_flt(-1.0 * i));
            break;
        }
    }
}

/* Key numbers by hash, to find a key the table returns. */
static long index_slots[2 * MAX_KEYS + 1];
enum { INDEX_SLOTS = 2 * MAX_KEYS + 1 };

static void index_keys(long nkeys)
{
    for (long s = 0; s < INDEX_SLOTS; s++)
        index_slots[s] = -1;
    for (long i = 0; i < nkeys; i++) {
        long s = (long)(term_hash(keys[i], 1) % INDEX_SLOTS);
        while (index_slots[s] >= 0)
            s = (s + 1) % INDEX_SLOTS;
        index_slots[s] = i;
    }
}

static long key_number(term k)
{
    long s = (long)(term_hash(k, 1) % INDEX_SLOTS);
    for (; index_slots[s] >= 0; s = (s + 1) % INDEX_SLOTS)
        if (term_equal(keys[index_slots[s]], k))
            return index_slots[s];
    return -1;
}

static bool setup_world(long nkeys)
{
    used = 0;
    if (!eh_world_open(&w, 1, 256 * MIB) || !eh_proc_new(&w, 0, &v0))
        return false;
    none = eh_atom(&w, "model_none");
    make_values();
    for (long i = 0; i < nkeys; i++) {
        keys[i] = make_key(i, false);
        alias[i] = make_key(i, true);
        model[i] = T_NONE;
        if (keys[i] == T_NONE || alias[i] == T_NONE || !term_equal(keys[i], alias[i]))
            return false;
    }
    index_keys(nkeys);
    count = 0;
    return true;
}

/* ------------------------------------------------------------------ */
/* the run                                                              */

static unsigned long long rng_state;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

enum op { OP_PUT, OP_GET, OP_DELETE, OP_INSERT_NEW, OP_TAKE, OP_INCR, OP_SIZE, OP_DROP, OP_N };
static const char *const op_names[] = {"put", "get", "delete", "insert-new", "take",
                                       "update-counter", "size", "drop"};

/* Weights per op (per 1000), for a growing phase and a shrinking one. */
static const int grow_w[OP_N] = {300, 200, 60, 150, 40, 200, 49, 1};
static const int shrink_w[OP_N] = {80, 200, 300, 40, 200, 100, 79, 1};

static enum op pick(const int *weights)
{
    int r = (int)(rnd() % 1000);
    for (int i = 0; i < OP_N; i++) {
        if (r < weights[i])
            return (enum op)i;
        r -= weights[i];
    }
    return OP_GET;
}

/* A fatal assertion with a message (CUnit copies it). */
#define FAIL_AT(cond, ...)                                                              \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            char msg_[512];                                                             \
            snprintf(msg_, sizeof msg_, __VA_ARGS__);                                   \
            CU_assertImplementation(CU_FALSE, __LINE__, msg_, __FILE__, "", CU_TRUE);   \
        }                                                                               \
    } while (0)

/* The whole table against the model. */
static void check_contents(term table, bool ordered, long step)
{
    static term ks[MAX_KEYS + 1], vs[MAX_KEYS + 1];
    static unsigned char seen[MAX_KEYS];
    long n = eh_entries(&v0, table, ordered, ks, vs, MAX_KEYS + 1);
    FAIL_AT(n == count, "step %ld: %ld entries in the table, %ld in the model (or out of order)",
            step, n, count);
    memset(seen, 0, sizeof seen);
    for (long i = 0; i < n; i++) {
        long k = key_number(ks[i]);
        FAIL_AT(k >= 0 && !seen[k], "step %ld: a key the model does not have, or twice", step);
        seen[k] = 1;
        FAIL_AT(model[k] != T_NONE && term_equal(vs[i], model[k]),
                "step %ld: key %ld has another value than the model's", step, k);
    }
}

static void run_model(term table, term kind, long nkeys, long steps, long full_every,
                      unsigned long long seed)
{
    rng_state = seed;
    CU_ASSERT_EQUAL_FATAL(t_new_kind(&v0, table, kind), table);
    char why[200];
    for (long step = 0; step < steps; step++) {
        const int *weights = (step / 10000) % 2 == 0 ? grow_w : shrink_w;
        enum op op = pick(weights);
        long k = (long)(rnd() % (uint64_t)nkeys);
        term key = rnd() % 2 ? keys[k] : alias[k];
        term val = vals[rnd() % NVALS];
        term r;
        switch (op) {
        case OP_PUT:
            r = t_put(&v0, table, key, val);
            FAIL_AT(r == mk_atom(A_TRUE), "step %ld: put", step);
            count += model[k] == T_NONE;
            model[k] = val;
            break;
        case OP_GET:
            r = t_get(&v0, table, key, none);
            FAIL_AT(model[k] == T_NONE ? r == none : term_equal(r, model[k]),
                    "step %ld: get of key %ld", step, k);
            break;
        case OP_DELETE:
            r = t_delete(&v0, table, key);
            FAIL_AT(r == mk_atom(A_TRUE), "step %ld: delete", step);
            count -= model[k] != T_NONE;
            model[k] = T_NONE;
            break;
        case OP_INSERT_NEW:
            r = t_insert_new(&v0, table, key, val);
            FAIL_AT(r == mk_atom(model[k] == T_NONE ? A_TRUE : A_FALSE),
                    "step %ld: insert-new of key %ld", step, k);
            if (model[k] == T_NONE) {
                model[k] = val;
                count++;
            }
            break;
        case OP_TAKE:
            r = t_take(&v0, table, key, none);
            FAIL_AT(model[k] == T_NONE ? r == none : term_equal(r, model[k]),
                    "step %ld: take of key %ld", step, k);
            count -= model[k] != T_NONE;
            model[k] = T_NONE;
            break;
        case OP_INCR: {
            int64_t by = (int64_t)(rnd() % 7) - 3;
            r = t_incr(&v0, table, key, mk_fix(by));
            if (model[k] == T_NONE) {
                FAIL_AT(r == mk_fix(by), "step %ld: update-counter of a new key", step);
                model[k] = r;
                count++;
            } else if (is_fix(model[k])) {
                FAIL_AT(r == mk_fix(fix_val(model[k]) + by), "step %ld: update-counter", step);
                model[k] = r;
            } else {
                FAIL_AT(eh_raised(&v0, r, A_BADARG), "step %ld: update-counter of a non-integer",
                        step);
            }
            break;
        }
        case OP_SIZE:
            break;
        case OP_DROP:
            FAIL_AT(t_drop(&v0, table) == mk_atom(A_TRUE), "step %ld: drop", step);
            FAIL_AT(eh_raised(&v0, t_size(&v0, table), A_BADARG), "step %ld: size after drop",
                    step);
            FAIL_AT(t_new_kind(&v0, table, kind) == table, "step %ld: new after drop", step);
            for (long i = 0; i < nkeys; i++)
                model[i] = T_NONE;
            count = 0;
            break;
        default:
            break;
        }
        FAIL_AT(t_size(&v0, table) == mk_fix(count), "step %ld: size after %s", step,
                op_names[op]);
        if (step % full_every == 0 || step == steps - 1)
            check_contents(table, kind == mk_atom(A_ORDERED), step);
        if (step % 1000 == 999) {
            ets_reclaim(v0.rt);
            FAIL_AT(ets_check(w.h, why, sizeof why) == 0, "step %ld: %s", step, why);
        }
    }
}

static void model_test(const char *name, term kind_atom_or_none, long nkeys, long full_every,
                       unsigned long long seed)
{
    CU_ASSERT_FATAL(setup_world(nkeys));
    term table = eh_atom(&w, name);
    term kind = kind_atom_or_none;
    run_model(table, kind, nkeys, 100000, full_every, seed);
    vw_close(&w);
}

static void test_set_small(void)
{
    model_test("model_set_small", mk_atom(A_SET), 240, 1, 0x1234567ull);
}

static void test_set_large(void)
{
    model_test("model_set_large", mk_atom(A_SET), 20000, 1000, 0x7654321ull);
}

static void test_ordered_small(void)
{
    model_test("model_ordered_small", mk_atom(A_ORDERED), 240, 1, 0xabcdefull);
}

static void test_ordered_large(void)
{
    model_test("model_ordered_large", mk_atom(A_ORDERED), 20000, 1000, 0xfedcbaull);
}

static CU_TestInfo tests[] = {
    {"set table vs model: 100,000 steps, 240 keys, contents after every step", test_set_small},
    {"set table vs model: 100,000 steps, 20,000 keys, growing and shrinking", test_set_large},
    {"ordered table vs model: 100,000 steps, 240 keys, contents after every step",
     test_ordered_small},
    {"ordered table vs model: 100,000 steps, 20,000 keys", test_ordered_large},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(ets_model, tests, NULL, NULL)
