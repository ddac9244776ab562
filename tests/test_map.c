/*
 * test_map.c: maps (map.c, through the builtins of bif_map.c) against a
 * reference model, a sorted association list kept in C.
 *
 * Random sequences of puts, removes and lookups on keys of several types
 * (integers, floats, strings, tuples, lists: so term order across types
 * and structural equality both matter), with after every step: the size,
 * the invariants (map_check: layout, order, counts, canonical form), the
 * contents by lookup, the key order (map_sorted against the model's
 * order, which the model computes on its own), and equality (=, compare,
 * and the key hash) with a map built from scratch from the model's
 * entries in a shuffled order, which a canonical layout must make equal.
 * Key universes of 60 keys keep maps crossing the flat/trie boundary (32
 * and 33 keys) all the time; a narrowed hash (map_hash_mask) makes deep
 * chains and collision nodes common. The same sequences run again under
 * GC torture (a collection at every allocation), and big maps are checked
 * at a million keys' scale.
 *
 * The operations go through the builtins with their arguments on the
 * process's stack, as the interpreter calls them, so a collection during
 * one moves everything exactly as it would in a program.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include "vmproc/bif.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/map.h"
#include "vmproc/termio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lh_world_t w;
static pcb_t *pcb;
static proc_t *p;

/* The process's stack: slot 0 the tuple of every key of the universe,
 * slot 1 the map under test, slot 2 scratch. */
#define KEYS (p->stack_lo[0])
#define MAP (p->stack_lo[1])
#define SCRATCH (p->stack_lo[2])

static bool setup(bool torture)
{
    map_hash_mask = ~0ull; /* a test that failed may have left it narrowed */
    if (lh_world_open(&w, "(defn main () 'ok)\n", 1ull << 30) < 0)
        return false;
    pcb = lh_proc_new(&w);
    if (!pcb) {
        lh_world_close(&w);
        return false;
    }
    p = proc_of(pcb);
    w.rt.gc_torture = torture;
    p->sp = p->stack_lo + 3;
    KEYS = MAP = SCRATCH = T_NIL;
    return true;
}

static void teardown(void)
{
    map_hash_mask = ~0ull;
    lh_proc_free(&w, pcb);
    lh_world_close(&w);
}

static void room(uint64_t words)
{
    CU_ASSERT_FATAL(heap_make_room(&w.rt, pcb, words) == 0);
}

/* ------------------------------------------------------------------ */
/* the key universe and the model                                      */

/* Key k of the universe: its type is k % 5. */
enum { K_INT, K_FLOAT, K_STRING, K_TUPLE, K_LIST };

static double num_of(int k)
{
    return k % 5 == K_INT ? (double)(3 * k - 1000) : 3 * k - 1000 + 0.5;
}

static void str_of(int k, char *buf)
{
    sprintf(buf, "s%d", k);
}

/* Words the key's term takes. */
static uint64_t key_words(int k)
{
    switch (k % 5) {
    case K_INT: return 0;
    case K_FLOAT: return 2;
    case K_STRING: return 4;
    case K_TUPLE: return 3 + 4;
    default: return 2;
    }
}

/* Build key k in room made for key_words(k). */
static term build_key(int k)
{
    char buf[32];
    switch (k % 5) {
    case K_INT:
        return mk_fix(3 * k - 1000);
    case K_FLOAT:
        return bif_mk_float(p, num_of(k));
    case K_STRING:
        str_of(k, buf);
        return bif_mk_string(p, buf, strlen(buf));
    case K_TUPLE: {
        str_of(k, buf);
        term s = bif_mk_string(p, "t", 1);
        term *t = heap_take(p, 3);
        t[0] = mk_hdr(3, BT_TUPLE);
        t[1] = mk_fix(k);
        t[2] = s;
        return mk_box(t);
    }
    default: {
        term *c = heap_take(p, 2);
        c[0] = mk_fix(k);
        c[1] = T_NIL;
        return mk_cons_ptr(c);
    }
    }
}

/* The model's own term order: numbers < tuples < lists < strings;
 * numbers by value, tuples #(k "t") and lists (k) by k, strings by
 * bytes. */
static int rank(int k)
{
    switch (k % 5) {
    case K_INT:
    case K_FLOAT: return 0;
    case K_TUPLE: return 5;
    case K_LIST: return 7;
    default: return 8;
    }
}

static int model_cmp(int a, int b)
{
    if (rank(a) != rank(b))
        return rank(a) < rank(b) ? -1 : 1;
    if (rank(a) == 0)
        return num_of(a) < num_of(b) ? -1 : num_of(a) > num_of(b);
    if (rank(a) == 8) {
        char x[32], y[32];
        str_of(a, x);
        str_of(b, y);
        int c = strcmp(x, y);
        return (c > 0) - (c < 0);
    }
    return (a > b) - (a < b);
}

typedef struct model {
    int *key;
    int64_t *val;
    size_t n, cap;
} model_t;

static bool model_find(const model_t *m, int k, size_t *at)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = model_cmp(m->key[mid], k);
        if (c == 0) {
            *at = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return false;
}

static void model_put(model_t *m, int k, int64_t v)
{
    size_t at;
    if (model_find(m, k, &at)) {
        m->val[at] = v;
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 64;
        m->key = realloc(m->key, m->cap * sizeof *m->key);
        m->val = realloc(m->val, m->cap * sizeof *m->val);
    }
    memmove(m->key + at + 1, m->key + at, (m->n - at) * sizeof *m->key);
    memmove(m->val + at + 1, m->val + at, (m->n - at) * sizeof *m->val);
    m->key[at] = k;
    m->val[at] = v;
    m->n++;
}

static void model_remove(model_t *m, int k)
{
    size_t at;
    if (!model_find(m, k, &at))
        return;
    memmove(m->key + at, m->key + at + 1, (m->n - at - 1) * sizeof *m->key);
    memmove(m->val + at, m->val + at + 1, (m->n - at - 1) * sizeof *m->val);
    m->n--;
}

static void model_free(model_t *m)
{
    free(m->key);
    free(m->val);
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* ------------------------------------------------------------------ */
/* the map through the builtins                                        */

/* The prebuilt key k (moves with every collection: read it again). */
static term key_at(int k)
{
    return tuple_elems(KEYS)[k];
}

/* Make every key of a universe of n, in a tuple at KEYS: in room made
 * once, as a builtin makes a value, since the collector takes values to
 * be unchanged once built (an old tuple must not be given young keys). */
static void make_keys(int n)
{
    uint64_t words = (uint64_t)n + 1;
    for (int k = 0; k < n; k++)
        words += key_words(k);
    room(words);
    term *t = heap_take(p, (uint64_t)n + 1);
    t[0] = mk_hdr((uint64_t)n + 1, BT_TUPLE);
    for (int k = 0; k < n; k++)
        t[1 + k] = build_key(k);
    KEYS = mk_box(t);
}

/* Key k as the program would pass it: half the time a fresh copy, so
 * that the map must find it by structure, not by address. */
static term some_key(int k)
{
    if (next() % 2 || key_words(k) == 0)
        return key_at(k);
    room(term_size(key_at(k)));
    return term_copy(key_at(k), &p->hp);
}

/* Call builtin fn on n arguments pushed on the stack. */
static term call(bif_fn fn, uint32_t n, term a, term b, term c)
{
    term in[3] = {a, b, c};
    for (uint32_t i = 0; i < n; i++)
        *p->sp++ = in[i];
    term r = fn(&w.rt, pcb, p->sp - n, n);
    p->sp -= n;
    return r;
}

static void do_put(model_t *m, int k, int64_t v)
{
    term key = some_key(k);
    term r = call(bif_map_put, 3, MAP, key, mk_fix(v));
    CU_ASSERT_FATAL(r != T_NONE);
    MAP = r;
    model_put(m, k, v);
}

static void do_remove(model_t *m, int k)
{
    term key = some_key(k);
    term r = call(bif_map_remove, 2, MAP, key, T_NIL);
    CU_ASSERT_FATAL(r != T_NONE);
    MAP = r;
    model_remove(m, k);
}

/* SCRATCH = the model's entries as a list of #(k v), shuffled. */
static void model_list(const model_t *m)
{
    size_t n = m->n;
    int *order = malloc((n + 1) * sizeof *order);
    for (size_t i = 0; i < n; i++)
        order[i] = (int)i;
    for (size_t i = n; i > 1; i--) {
        size_t j = next() % i;
        int t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    room(5 * n);
    term l = T_NIL;
    for (size_t i = 0; i < n; i++) {
        term *t = heap_take(p, 3);
        t[0] = mk_hdr(3, BT_TUPLE);
        t[1] = key_at(m->key[order[i]]);
        t[2] = mk_fix(m->val[order[i]]);
        term *c = heap_take(p, 2);
        c[0] = mk_box(t);
        c[1] = l;
        l = mk_cons_ptr(c);
    }
    SCRATCH = l;
    free(order);
}

/* Everything the map must agree with the model on. */
static void check(const model_t *m, long step)
{
    term map = MAP;
    LH_CHECK(map_size(map) == m->n, "step %ld: size %llu, model %zu", step,
             (unsigned long long)map_size(map), m->n);
    const char *why = map_check(w.h, map);
    LH_CHECK(why == NULL, "step %ld: %s", step, why ? why : "");
    if (why || map_size(map) != m->n)
        CU_FAIL_FATAL("the map is broken");
    /* contents, by lookup */
    for (size_t i = 0; i < m->n; i++) {
        term v = map_get(w.h, map, key_at(m->key[i]));
        LH_CHECK(v == mk_fix(m->val[i]), "step %ld: key %d has the wrong value", step, m->key[i]);
    }
    /* order */
    term *kv = malloc((2 * m->n + 1) * sizeof *kv);
    CU_ASSERT_FATAL(map_sorted(w.h, map, kv, kv + m->n) == 0);
    for (size_t i = 0; i < m->n; i++) {
        bool ok = term_equal(kv[i], key_at(m->key[i])) && kv[m->n + i] == mk_fix(m->val[i]);
        LH_CHECK(ok, "step %ld: entry %zu is not the model's (key %d)", step, i, m->key[i]);
        if (!ok)
            break;
    }
    free(kv);
    /* equality with the same entries built from scratch */
    model_list(m);
    term built = call(bif_list_to_map, 1, SCRATCH, T_NIL, T_NIL);
    CU_ASSERT_FATAL(built != T_NONE);
    SCRATCH = built;
    map = MAP;
    LH_CHECK(term_equal(built, map), "step %ld: not = to the same entries built at once", step);
    LH_CHECK(term_compare(w.h, built, map) == 0, "step %ld: compare is not 0", step);
    LH_CHECK(map_hash(built) == map_hash(map), "step %ld: equal maps hash apart", step);
    SCRATCH = T_NIL;
}

/* A random sequence of `steps` operations on keys 0 .. universe-1. */
static void run_sequence(int universe, long steps, uint64_t seed, bool check_each)
{
    rng = seed;
    unsigned failures = CU_get_number_of_failures();
    model_t m = {0};
    make_keys(universe);
    room(2);
    MAP = call(bif_map_of, 0, T_NIL, T_NIL, T_NIL);
    for (long s = 0; s < steps; s++) {
        int k = (int)(next() % (uint64_t)universe);
        uint64_t op = next() % 10;
        if (op < 6) {
            do_put(&m, k, (int64_t)(next() % 1000));
        } else if (op < 9) {
            do_remove(&m, k);
        } else {
            term key = some_key(k);
            term hasp = call(bif_map_hasp, 2, MAP, key, T_NIL);
            size_t at;
            LH_CHECK(hasp == bif_bool(model_find(&m, k, &at)), "step %ld: map-has? is wrong", s);
        }
        if (check_each || s + 1 == steps)
            check(&m, s);
        if (CU_get_number_of_failures() > failures)
            break; /* the first difference says it; the rest would repeat it */
    }
    model_free(&m);
}

/* ------------------------------------------------------------------ */

static void test_around_flat_limit(void)
{
    CU_ASSERT_FATAL(setup(false));
    run_sequence(60, 100000, 1, true);
    teardown();
}

static void test_mixed_keys(void)
{
    CU_ASSERT_FATAL(setup(false));
    run_sequence(200, 50000, 2, true);
    teardown();
}

static void test_collisions(void)
{
    CU_ASSERT_FATAL(setup(false));
    /* 6 bits of hash: keys share long prefixes, down to collision nodes */
    map_hash_mask = 0xfc00000000000000ull;
    run_sequence(200, 50000, 3, true);
    teardown();
}

static void test_torture_around_flat_limit(void)
{
    CU_ASSERT_FATAL(setup(true));
    run_sequence(60, 20000, 4, true);
    teardown();
}

static void test_torture_collisions(void)
{
    CU_ASSERT_FATAL(setup(true));
    map_hash_mask = 0xfc00000000000000ull;
    run_sequence(150, 10000, 5, true);
    teardown();
}

/* A million integer keys put one by one, read back, built at once from a
 * list (equal), then removed in a random order down to empty. */
static void test_million(void)
{
    enum { N = 1000000 };
    CU_ASSERT_FATAL(setup(false));
    room(2);
    MAP = call(bif_map_of, 0, T_NIL, T_NIL, T_NIL);
    for (int64_t i = 0; i < N; i++) {
        term r = call(bif_map_put, 3, MAP, mk_fix(i), mk_fix(2 * i));
        CU_ASSERT_FATAL(r != T_NONE);
        MAP = r;
    }
    CU_ASSERT_EQUAL(map_size(MAP), N);
    CU_ASSERT_PTR_NULL(map_check(w.h, MAP));
    bool ok = true;
    for (int64_t i = 0; i < N && ok; i++)
        ok = map_get(w.h, MAP, mk_fix(i)) == mk_fix(2 * i);
    CU_ASSERT(ok);
    CU_ASSERT(map_get(w.h, MAP, mk_fix(N)) == T_NONE);
    /* keys in order */
    term *kv = malloc(2 * (size_t)N * sizeof *kv);
    CU_ASSERT_FATAL(map_sorted(w.h, MAP, kv, kv + N) == 0);
    for (int64_t i = 0; i < N && ok; i++)
        ok = kv[i] == mk_fix(i) && kv[N + i] == mk_fix(2 * i);
    CU_ASSERT(ok);
    free(kv);
    /* the same from a list, built backwards */
    room(5 * (uint64_t)N);
    term l = T_NIL;
    for (int64_t i = 0; i < N; i++) {
        term *t = heap_take(p, 3);
        t[0] = mk_hdr(3, BT_TUPLE);
        t[1] = mk_fix(i);
        t[2] = mk_fix(2 * i);
        term *c = heap_take(p, 2);
        c[0] = mk_box(t);
        c[1] = l;
        l = mk_cons_ptr(c);
    }
    SCRATCH = l;
    term built = call(bif_list_to_map, 1, SCRATCH, T_NIL, T_NIL);
    CU_ASSERT_FATAL(built != T_NONE);
    CU_ASSERT(term_equal(built, MAP));
    SCRATCH = T_NIL;
    /* a collection keeps it whole */
    CU_ASSERT_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0) == 0);
    CU_ASSERT_PTR_NULL(map_check(w.h, MAP));
    CU_ASSERT_EQUAL(map_size(MAP), N);
    /* remove everything, in a shuffled order */
    int64_t *order = malloc(N * sizeof *order);
    for (int64_t i = 0; i < N; i++)
        order[i] = i;
    for (int64_t i = N; i > 1; i--) {
        int64_t j = (int64_t)(next() % (uint64_t)i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    for (int64_t i = 0; i < N; i++) {
        term r = call(bif_map_remove, 2, MAP, mk_fix(order[i]), T_NIL);
        CU_ASSERT_FATAL(r != T_NONE);
        MAP = r;
        if (i == N / 2) {
            CU_ASSERT_PTR_NULL(map_check(w.h, MAP));
            CU_ASSERT_EQUAL(map_size(MAP), N - N / 2 - 1);
        }
    }
    free(order);
    CU_ASSERT_EQUAL(map_size(MAP), 0);
    CU_ASSERT_PTR_NULL(map_check(w.h, MAP));
    teardown();
}

/* Keys that are = are one key: 0.0 and -0.0; 1 and 1.0 are two. */
static void test_equal_keys(void)
{
    CU_ASSERT_FATAL(setup(false));
    /* KEYS: #(0.0 -0.0 1.0), rooted while the map is built */
    room(10);
    term *t = heap_take(p, 4);
    t[0] = mk_hdr(4, BT_TUPLE);
    t[1] = bif_mk_float(p, 0.0);
    t[2] = bif_mk_float(p, -0.0);
    t[3] = bif_mk_float(p, 1.0);
    KEYS = mk_box(t);
    MAP = call(bif_map_of, 0, T_NIL, T_NIL, T_NIL);
    MAP = call(bif_map_put, 3, MAP, key_at(0), mk_fix(1));
    MAP = call(bif_map_put, 3, MAP, key_at(1), mk_fix(2));
    CU_ASSERT_EQUAL(map_size(MAP), 1);
    CU_ASSERT(map_get(w.h, MAP, key_at(0)) == mk_fix(2));
    MAP = call(bif_map_put, 3, MAP, mk_fix(1), mk_fix(3));
    MAP = call(bif_map_put, 3, MAP, key_at(2), mk_fix(4));
    CU_ASSERT_EQUAL(map_size(MAP), 3);
    CU_ASSERT(map_get(w.h, MAP, mk_fix(1)) == mk_fix(3));
    CU_ASSERT(map_get(w.h, MAP, key_at(2)) == mk_fix(4));
    CU_ASSERT(map_hash(key_at(0)) == map_hash(key_at(1)));
    teardown();
}

/* A map whose keys are all integers lists them in order (map_sorted
 * sorts them by their bytes, map.c): negatives, both ends of the range,
 * keys that differ only in a high byte, put in a scrambled order; one
 * key of another type sends the same map through the general sort. */
static void test_int_key_order(void)
{
    enum { N = 5000 };
    static const int64_t edge[] = {-((int64_t)1 << 62), ((int64_t)1 << 62) - 1, -1, 0, 1,
                                   (int64_t)1 << 40, -((int64_t)1 << 40), 255, 256, -256};
    int64_t want[N + 10];
    size_t n = 0;
    CU_ASSERT_FATAL(setup(false));
    room(2);
    MAP = call(bif_map_of, 0, T_NIL, T_NIL, T_NIL);
    rng = 9;
    for (int i = 0; i < N + 10; i++) {
        int64_t k = i < 10 ? edge[i]
                           : (int64_t)(next() % 2000000) - 1000000 + ((int64_t)(i % 3) << 48);
        term r = call(bif_map_put, 3, MAP, mk_fix(k), mk_fix(k / 2));
        CU_ASSERT_FATAL(r != T_NONE);
        MAP = r;
        size_t j = 0;
        while (j < n && want[j] != k)
            j++;
        if (j == n)
            want[n++] = k;
    }
    /* the model's order: insertion into a sorted array */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && want[j - 1] > want[j]; j--) {
            int64_t t = want[j];
            want[j] = want[j - 1];
            want[j - 1] = t;
        }
    CU_ASSERT_EQUAL_FATAL(map_size(MAP), n);
    term *kv = malloc((2 * n + 2) * sizeof *kv);
    CU_ASSERT_FATAL(kv != NULL);
    CU_ASSERT_FATAL(map_sorted(w.h, MAP, kv, kv + n) == 0);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++)
        ok = kv[i] == mk_fix(want[i]) && kv[n + i] == mk_fix(want[i] / 2);
    CU_ASSERT(ok);
    /* an atom key: the general sort, the integers first, in the same order */
    room(64);
    term r = call(bif_map_put, 3, MAP, mk_atom(A_OK), mk_fix(0));
    CU_ASSERT_FATAL(r != T_NONE);
    MAP = r;
    CU_ASSERT_FATAL(map_sorted(w.h, MAP, kv, kv + n + 1) == 0);
    ok = kv[n] == mk_atom(A_OK);
    for (size_t i = 0; i < n && ok; i++)
        ok = kv[i] == mk_fix(want[i]) && kv[n + 1 + i] == mk_fix(want[i] / 2);
    CU_ASSERT(ok);
    free(kv);
    teardown();
}

static CU_TestInfo tests[] = {
    {"around the flat limit, 100k steps", test_around_flat_limit},
    {"mixed keys, 50k steps", test_mixed_keys},
    {"hash collisions, 50k steps", test_collisions},
    {"GC torture: around the flat limit", test_torture_around_flat_limit},
    {"GC torture: hash collisions", test_torture_collisions},
    {"a million keys", test_million},
    {"keys that are =", test_equal_keys},
    {"integer keys list in order, negatives and both ends", test_int_key_order},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(map, tests, NULL, NULL)
