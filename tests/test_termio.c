/*
 * test_termio.c: term order (term_compare) and hashing (term_hash), in
 * vmproc/termio.c.
 *
 * Term order is LANGUAGE.md's ("Values"), Erlang's: the order of the
 * classes, numbers by value with an integer before an equal float, atoms
 * by name, tuples by size then elements, lists and strings element by
 * element; and compare is 0 exactly when (=) holds. The hash agrees with
 * (=) (0.0 and -0.0 hash alike), and spreads every kind of key evenly
 * over the buckets a table takes from its top bits (and over its low
 * bits): a chi-square test per kind.
 *
 * Terms are built in a C arena, outside any heap; atoms and functions
 * come from a loaded program (lh_world_open), since atoms compare by name
 * and functions by name and arity.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include "shm/atom.h"
#include "vmproc/termio.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* an arena of terms                                                    */

static term arena[1 << 22];
static size_t used;

static term *take(size_t words)
{
    CU_ASSERT_FATAL(used + words <= sizeof arena / sizeof arena[0]);
    term *p = &arena[used];
    used += words;
    return p;
}

static term fl(double d)
{
    term *b = take(2);
    b[0] = mk_hdr(2, BT_FLOAT);
    memcpy(&b[1], &d, sizeof d);
    return mk_box(b);
}

static term str_n(const char *s, size_t n)
{
    uint64_t w = str_words(n);
    term *b = take(w);
    memset(b, 0, w * sizeof(term));
    b[0] = mk_hdr(w, BT_STRING);
    b[1] = n;
    memcpy(&b[2], s, n);
    return mk_box(b);
}

static term str(const char *s)
{
    return str_n(s, strlen(s));
}

static term tup(int n, ...)
{
    term *b = take((size_t)n + 1);
    b[0] = mk_hdr((uint64_t)n + 1, BT_TUPLE);
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        b[1 + i] = va_arg(ap, term);
    va_end(ap);
    return mk_box(b);
}

static term cons(term h, term t)
{
    term *c = take(2);
    c[0] = h;
    c[1] = t;
    return mk_cons_ptr(c);
}

static term list(int n, ...)
{
    term items[16];
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        items[i] = va_arg(ap, term);
    va_end(ap);
    term l = T_NIL;
    for (int i = n; i-- > 0;)
        l = cons(items[i], l);
    return l;
}

static term I(int64_t n)
{
    return mk_fix(n);
}

/* ------------------------------------------------------------------ */
/* a world with atoms and functions                                     */

static lh_world_t w;

static const char src[] = "(defn main () 'ok)\n"
                          "(defn alpha (x) x)\n"
                          "(defn beta (x) x)\n"
                          "(defn beta2 (x y) x)\n";

static term atom(const char *name)
{
    int64_t i = atom_intern(w.h, name, strlen(name));
    CU_ASSERT_FATAL(i >= 0);
    return mk_atom((uint32_t)i);
}

static term fun(const char *name, uint32_t arity)
{
    const func_t *f = lh_func(w.h, name, arity);
    CU_ASSERT_FATAL(f != NULL);
    return f->value;
}

/* A closure of f with free variables (a copy of f's value, extended). */
static term closure(term f, int n, term *free)
{
    term *b = take(2 + (size_t)n);
    b[0] = mk_hdr(2 + (uint64_t)n, BT_CLOSURE);
    b[1] = box_ptr(f)[1];
    for (int i = 0; i < n; i++)
        b[2 + i] = free[i];
    return mk_box(b);
}

static int setup(void)
{
    used = 0;
    return lh_world_open(&w, src, 16u << 20) == 0 ? 0 : -1;
}

static int teardown(void)
{
    lh_world_close(&w);
    return 0;
}

/* ------------------------------------------------------------------ */
/* term order                                                           */

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

/* Every pair of an ascending list compares as its positions do, both
 * ways; and equal positions compare 0 exactly when (=). */
static void check_ascending(const term *v, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int want = sign((int)i - (int)j), got = term_compare(w.h, v[i], v[j]);
            LH_CHECK(got == want, "%s: compare(#%zu, #%zu) = %d, want %d", what, i, j, got, want);
            LH_CHECK((got == 0) == term_equal(v[i], v[j]), "%s: compare and = disagree on #%zu, #%zu",
                     what, i, j);
        }
}

static void test_classes(void)
{
    used = 0;
    term f = fun("alpha", 1);
    const term v[] = {I(-5), fl(2.5), I(1000000), atom("abc"), atom("zzz"), mk_ref(3), mk_ref(9),
                      f, mk_pid(1), mk_pid(77), tup(0), tup(1, I(1)), T_NIL,
                      list(1, I(1)), str(""), str("a")};
    check_ascending(v, sizeof v / sizeof v[0], "classes");
}

static void test_numbers(void)
{
    used = 0;
    const term v[] = {fl(-1e300), I(FIX_MIN), I(-3), fl(-2.5), I(-1), fl(-0.5), I(0), fl(0.0),
                      fl(0.25), I(1), fl(1.0), fl(1.5), I(2), fl(2.0),
                      I((int64_t)1 << 53), fl(9007199254740992.0), I(((int64_t)1 << 53) + 1),
                      I(FIX_MAX), fl(1e300)};
    check_ascending(v, sizeof v / sizeof v[0], "numbers");
    /* 0.0 and -0.0 are (=), so they compare 0. */
    CU_ASSERT_EQUAL(term_compare(w.h, fl(0.0), fl(-0.0)), 0);
    CU_ASSERT_EQUAL(term_compare(w.h, fl(-0.0), I(0)), 1);
    /* 2^62 - 1 is not exactly a double: the integer sorts by its value. */
    CU_ASSERT_EQUAL(term_compare(w.h, I(FIX_MAX), fl(4611686018427387904.0)), -1);
}

static void test_atoms_by_name(void)
{
    used = 0;
    /* Interned in the opposite order to their names'. */
    term z = atom("zebra"), b = atom("bee"), ba = atom("be"), a = atom("a");
    const term v[] = {a, ba, b, z};
    check_ascending(v, 4, "atoms");
}

static void test_functions(void)
{
    used = 0;
    term a = fun("alpha", 1), b = fun("beta", 1), b2 = fun("beta2", 2);
    term f1[1] = {I(1)}, f2[1] = {I(2)};
    term c1 = closure(a, 1, f1), c2 = closure(a, 1, f2);
    /* By definition (alpha, beta, beta2 in the source's order); the same
     * function by its free variables. */
    const term v[] = {a, c1, c2, b, b2};
    check_ascending(v, sizeof v / sizeof v[0], "functions");
    CU_ASSERT_EQUAL(term_compare(w.h, a, b), -1);
    CU_ASSERT_EQUAL(term_compare(w.h, b, b2), -1);
    CU_ASSERT_EQUAL(term_compare(w.h, c1, c2), -1);
    CU_ASSERT_EQUAL(term_compare(w.h, c2, c1), 1);
    term f1b[1] = {I(1)};
    CU_ASSERT_EQUAL(term_compare(w.h, c1, closure(a, 1, f1b)), 0);
    CU_ASSERT(term_equal(c1, closure(a, 1, f1b)));
}

static void test_tuples_lists_strings(void)
{
    used = 0;
    const term tuples[] = {tup(0), tup(1, I(9)), tup(2, I(1), I(1)), tup(2, I(1), fl(1.0)),
                           tup(2, I(1), I(2)), tup(2, atom("a"), I(0)), tup(3, I(0), I(0), I(0))};
    check_ascending(tuples, sizeof tuples / sizeof tuples[0], "tuples");
    /* An improper tail compares as a term: [1|3] < [1] (3 < '()). */
    const term lists[] = {T_NIL, cons(I(1), I(3)), list(1, I(1)), list(2, I(1), I(1)),
                          list(2, I(1), I(2)),
                          list(2, I(1), I(3)), list(1, I(2)), list(1, str("a"))};
    check_ascending(lists, sizeof lists / sizeof lists[0], "lists");
    const term strings[] = {str(""), str("a"), str("ab"), str("abc"), str("b"),
                            str_n("b\0", 2), str("ba")};
    check_ascending(strings, sizeof strings / sizeof strings[0], "strings");
}

/* Deep nesting walks no C stack. */
static void test_deep(void)
{
    used = 0;
    enum { DEPTH = 200000 };
    term a = T_NIL, b = T_NIL;
    for (int i = 0; i < DEPTH; i++) {
        a = cons(tup(1, I(i)), a);
        b = cons(tup(1, I(i)), b);
    }
    CU_ASSERT_EQUAL(term_compare(w.h, a, b), 0);
    CU_ASSERT_EQUAL(term_hash(a, 7), term_hash(b, 7));
    b = cons(tup(1, I(-1)), b);
    CU_ASSERT_EQUAL(term_compare(w.h, a, b), 1);
    CU_ASSERT_NOT_EQUAL(term_hash(a, 7), term_hash(b, 7));
}

/* ------------------------------------------------------------------ */
/* hashing                                                              */

static void test_hash_agrees_with_equal(void)
{
    used = 0;
    const uint64_t seed = 12345;
    CU_ASSERT_EQUAL(term_hash(fl(0.0), seed), term_hash(fl(-0.0), seed));
    CU_ASSERT_EQUAL(term_hash(tup(2, fl(-0.0), str("x")), seed),
                    term_hash(tup(2, fl(0.0), str("x")), seed));
    CU_ASSERT_NOT_EQUAL(term_hash(I(1), seed), term_hash(fl(1.0), seed));
    CU_ASSERT_NOT_EQUAL(term_hash(I(1), seed), term_hash(I(1), seed + 1));
    /* Equal, built apart. */
    term a = tup(3, atom("ok"), list(3, I(1), fl(2.5), str("s")), mk_pid(4));
    term b = tup(3, atom("ok"), list(3, I(1), fl(2.5), str("s")), mk_pid(4));
    CU_ASSERT(term_equal(a, b));
    CU_ASSERT_EQUAL(term_hash(a, seed), term_hash(b, seed));
    /* Shapes that flatten alike are different terms. */
    CU_ASSERT_NOT_EQUAL(term_hash(tup(2, I(1), I(2)), seed), term_hash(list(2, I(1), I(2)), seed));
    CU_ASSERT_NOT_EQUAL(term_hash(tup(2, tup(1, I(1)), I(2)), seed),
                        term_hash(tup(2, I(1), tup(1, I(2))), seed));
    CU_ASSERT_NOT_EQUAL(term_hash(str("ab"), seed), term_hash(list(2, I('a'), I('b')), seed));
    CU_ASSERT_NOT_EQUAL(term_hash(T_NIL, seed), term_hash(tup(0), seed));
    CU_ASSERT_NOT_EQUAL(term_hash(atom("a"), seed), term_hash(str("a"), seed));
    CU_ASSERT_NOT_EQUAL(term_hash(mk_pid(3), seed), term_hash(mk_ref(3), seed));
    /* A function's hash is its definition's and its free variables'. */
    term f1[1] = {I(1)}, f1b[1] = {I(1)}, f2[1] = {I(2)};
    term fa = fun("alpha", 1);
    CU_ASSERT_EQUAL(term_hash(closure(fa, 1, f1), seed), term_hash(closure(fa, 1, f1b), seed));
    CU_ASSERT_NOT_EQUAL(term_hash(closure(fa, 1, f1), seed), term_hash(closure(fa, 1, f2), seed));
    /* Long keys (past the encoder's in-place buffer). */
    char big[5000];
    memset(big, 'q', sizeof big);
    term s1 = str_n(big, sizeof big), s2 = str_n(big, sizeof big);
    CU_ASSERT_EQUAL(term_hash(s1, seed), term_hash(s2, seed));
    big[4999] = 'r';
    CU_ASSERT_NOT_EQUAL(term_hash(s1, seed), term_hash(str_n(big, sizeof big), seed));
}

enum { KEYS = 1 << 16, BUCKETS = 1 << 10 };

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Chi-square of n keys' hashes over BUCKETS buckets, picked by the top
 * bits of the table's 62-bit hash (as a table picks them) or by the low
 * bits. Uniform keys give about BUCKETS - 1 (standard deviation ~45); we
 * allow six deviations. Also: no two of the keys share a 64-bit hash. */
static void check_spread(const char *what, term (*key)(int64_t i))
{
    static uint32_t top[BUCKETS], low[BUCKETS];
    static uint64_t all[KEYS];
    memset(top, 0, sizeof top);
    memset(low, 0, sizeof low);
    size_t mark = used;
    for (int64_t i = 0; i < KEYS; i++) {
        uint64_t x = term_hash(key(i), 0x5bd1e995u);
        all[i] = x;
        top[(x >> 2) >> (62 - 10)]++;
        low[x & (BUCKETS - 1)]++;
        used = mark;
    }
    double expect = (double)KEYS / BUCKETS, chi_top = 0, chi_low = 0;
    for (int b = 0; b < BUCKETS; b++) {
        chi_top += (top[b] - expect) * (top[b] - expect) / expect;
        chi_low += (low[b] - expect) * (low[b] - expect) / expect;
    }
    double bound = (BUCKETS - 1) + 6 * sqrt(2.0 * (BUCKETS - 1));
    LH_CHECK(chi_top < bound, "%s: chi-square %.0f over the top bits (bound %.0f)", what, chi_top,
             bound);
    LH_CHECK(chi_low < bound, "%s: chi-square %.0f over the low bits (bound %.0f)", what, chi_low,
             bound);
    qsort(all, KEYS, sizeof all[0], cmp_u64);
    size_t same = 0;
    for (int i = 1; i < KEYS; i++)
        same += all[i] == all[i - 1];
    LH_CHECK(same == 0, "%s: %zu 64-bit hash collisions", what, same);
}

static term key_int(int64_t i)
{
    return I(i);
}

static term key_float(int64_t i)
{
    return fl(1.5 * (double)i);
}

static term key_string(int64_t i)
{
    char b[32];
    snprintf(b, sizeof b, "abc%lld", (long long)i);
    return str(b);
}

static term key_tuple(int64_t i)
{
    return tup(2, I(i), atom("x"));
}

static term key_nested(int64_t i)
{
    return list(2, tup(2, I(i % 256), list(1, fl((double)(i / 256)))), str("n"));
}

static void test_spread(void)
{
    used = 0;
    check_spread("integers", key_int);
    check_spread("floats", key_float);
    check_spread("strings", key_string);
    check_spread("tuples", key_tuple);
    check_spread("nested", key_nested);
}

/* A buffer lent by the caller: used in place while the text fits, then
 * copied out to memory of its own, and the caller's bytes never freed. */
static void test_sbuf_lend(void)
{
    char mem[8];
    sbuf_t b;
    sbuf_lend(&b, mem, sizeof mem);
    sbuf_puts(&b, "abc");
    CU_ASSERT_PTR_EQUAL(b.s, mem);
    CU_ASSERT_STRING_EQUAL(b.s, "abc");
    sbuf_puts(&b, "defghijklmnopqrstuvwxyz");
    CU_ASSERT_PTR_NOT_EQUAL(b.s, mem);
    CU_ASSERT_FALSE(b.lent);
    CU_ASSERT_EQUAL(b.len, 26);
    CU_ASSERT_STRING_EQUAL(b.s, "abcdefghijklmnopqrstuvwxyz");
    CU_ASSERT_STRING_EQUAL(mem, "abc"); /* the lent bytes are left as they were */
    sbuf_free(&b);
    CU_ASSERT_PTR_NULL(b.s);
    /* one that never outgrows its lent bytes frees nothing */
    sbuf_lend(&b, mem, sizeof mem);
    sbuf_puts(&b, "1234567");
    CU_ASSERT_PTR_EQUAL(b.s, mem);
    CU_ASSERT_STRING_EQUAL(mem, "1234567");
    sbuf_free(&b);
}

/* Integers, pids and refs print in decimal, the extremes included. */
static void test_print_numbers(void)
{
    char mem[16];
    sbuf_t b;
    sbuf_lend(&b, mem, sizeof mem);
    term_print(NULL, &b, mk_fix(FIX_MIN), false);
    sbuf_puts(&b, " ");
    term_print(NULL, &b, mk_fix(FIX_MAX), false);
    sbuf_puts(&b, " ");
    term_print(NULL, &b, mk_fix(0), false);
    sbuf_puts(&b, " ");
    term_print(NULL, &b, mk_fix(-7), false);
    sbuf_puts(&b, " ");
    term_print(NULL, &b, mk_pid(262144), false);
    sbuf_puts(&b, " ");
    term_print(NULL, &b, mk_ref(10), false);
    CU_ASSERT_STRING_EQUAL(b.s, "-4611686018427387904 4611686018427387903 0 -7 <262144> #ref<10>");
    sbuf_free(&b);
}

static CU_TestInfo tests[] = {
    {"term order: number < atom < ref < fun < pid < tuple < list < string", test_classes},
    {"term order: numbers by value, an integer before an equal float", test_numbers},
    {"term order: atoms by name, not by interning order", test_atoms_by_name},
    {"term order: functions by definition, then free variables", test_functions},
    {"term order: tuples by size then elements; lists and strings elementwise", test_tuples_lists_strings},
    {"term order and hash: 200,000-deep terms walk no C stack", test_deep},
    {"hash: equal terms hash alike (0.0, -0.0), 1 and 1.0 differ, shapes differ", test_hash_agrees_with_equal},
    {"hash: integers, floats, strings, tuples, nested keys spread evenly", test_spread},
    {"sbuf_lend: the caller's bytes in place, then memory of its own", test_sbuf_lend},
    {"integers, pids and refs print in decimal, extremes included", test_print_numbers},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(termio, tests, setup, teardown)
