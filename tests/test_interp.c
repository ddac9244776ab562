/*
 * test_interp.c: the interpreter, the data types and the builtins
 * (LANGUAGE.md, "Values", "Builtins", "Run").
 *
 * Most tests run small programs through the real binary (lh_run: one VM,
 * stdout, stderr and the exit status captured) and check what they print
 * line by line; a builtin's error is checked as what (catch ...) returns,
 * and the uncaught errors as exit status 1 with the reason on stderr.
 * The printer, equality and ordering (termio.c) are tested directly on
 * terms built here, and interp_start/interp_run on processes run in this
 * process (lh_world_open, no scheduler).
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include "shm/atom.h"
#include "shm/pool.h"
#include "shm/slab.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/interp.h"
#include "vmproc/termio.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const one_vm[] = {"--vms", "1", NULL};

/* ------------------------------------------------------------------ */
/* builtins, through the binary                                        */

static void test_arith(void)
{
    static const lh_case_t c[] = {
        {"(+)", "0"},
        {"(+ 1 2 3)", "6"},
        {"(- 5)", "-5"},
        {"(- 10 3 2)", "5"},
        {"(*)", "1"},
        {"(* 2 3 4)", "24"},
        {"(/ 7 2)", "3"},
        {"(/ -7 2)", "-3"},
        {"(/ 7 -2)", "-3"},
        {"(/ 6 3)", "2"},
        {"(/ 7 2.0)", "3.5"},
        {"(/ 1.0 4)", "0.25"},
        {"(/ 6.0 3)", "2.0"},
        {"(rem 7 3)", "1"},
        {"(rem -7 3)", "-1"},
        {"(rem 7 -3)", "1"},
        {"(+ 1 2.5)", "3.5"},
        {"(* 2 1.5)", "3.0"},
        {"(- 0.5 1)", "-0.5"},
        {"(- 2.5)", "-2.5"},
        {"(+ 1.5)", "1.5"},
        {"(+ 0.1 0.2)", "0.30000000000000004"},
        {"(* 2147483648 2147483647)", "4611686016279904256"},
        {"(let ((x 4611686018427387902)) (+ x 1))", "4611686018427387903"},
        {"(let ((x -4611686018427387903) (y 1)) (- x y))", "-4611686018427387904"},
        {"(let ((x 100000000) (y 3)) (* x y x))", "30000000000000000"},
        {"(let ((x 9000000)) (+ x 9000000))", "18000000"},
    };
    LH_PRINTS(NULL, c);
}

/* Integers are 63-bit: every way past either end is badarith, on the
 * fast paths (a literal operand, two variables) and the slow ones. */
static void test_arith_errors(void)
{
    static const lh_case_t c[] = {
        {"(catch (+ 4611686018427387903 1))", "#(EXIT #(error badarith))"},
        {"(let ((a 4611686018427387903) (b 1)) (catch (+ a b)))", "#(EXIT #(error badarith))"},
        {"(catch (- -4611686018427387904 1))", "#(EXIT #(error badarith))"},
        {"(let ((a -4611686018427387904) (b 1)) (catch (- a b)))", "#(EXIT #(error badarith))"},
        {"(let ((a 4611686018427387903)) (catch (* a 2)))", "#(EXIT #(error badarith))"},
        {"(let ((a -4611686018427387904)) (catch (* a -1)))", "#(EXIT #(error badarith))"},
        {"(let ((a 3037000500)) (catch (* a a)))", "#(EXIT #(error badarith))"},
        {"(let ((a -4611686018427387904)) (catch (- a)))", "#(EXIT #(error badarith))"},
        {"(let ((a -4611686018427387904)) (catch (/ a -1)))", "#(EXIT #(error badarith))"},
        /* a float operand makes the sum a float: no overflow */
        {"(catch (+ 4611686018427387903 0.5 4611686018427387903))", "9.223372036854776e18"},
        {"(catch (* 1.0e308 10))", "#(EXIT #(error badarith))"},
        {"(catch (/ 1 0))", "#(EXIT #(error badarith))"},
        {"(catch (/ 1.0 0))", "#(EXIT #(error badarith))"},
        {"(catch (/ 1 0.0))", "#(EXIT #(error badarith))"},
        {"(catch (/ 0.0 0.0))", "#(EXIT #(error badarith))"},
        {"(catch (rem 1 0))", "#(EXIT #(error badarith))"},
        {"(catch (rem 1.5 1))", "#(EXIT #(error badarith))"},
        {"(catch (+ 1 'a))", "#(EXIT #(error badarith))"},
        {"(let ((x \"s\")) (catch (+ x 1)))", "#(EXIT #(error badarith))"},
        {"(catch (* '() 2))", "#(EXIT #(error badarith))"},
        {"(catch (- 'a))", "#(EXIT #(error badarith))"},
        {"(catch (/ 'a 1))", "#(EXIT #(error badarith))"},
        {"(catch (+ 'a))", "#(EXIT #(error badarith))"},
    };
    LH_PRINTS(NULL, c);
}

static void test_compare(void)
{
    static const lh_case_t c[] = {
        {"(= 1 1)", "true"},
        {"(= 1 1.0)", "false"},
        {"(/= 1 1.0)", "true"},
        {"(/= 2 2)", "false"},
        {"(= 1.0 1.0)", "true"},
        {"(= \"ab\" \"ab\")", "true"},
        {"(= \"ab\" \"abc\")", "false"},
        {"(= 'a 'a)", "true"},
        {"(= 'a 'b)", "false"},
        {"(= '() (list))", "true"},
        {"(= (list 1 (tuple 2 \"x\" '(3.5))) (list 1 (tuple 2 \"x\" '(3.5))))", "true"},
        {"(= (list 1 (tuple 2 \"x\" '(3.5))) (list 1 (tuple 2 \"x\" '(3))))", "false"},
        {"(= (tuple 1 2) (tuple 1 2 3))", "false"},
        {"(= (tuple 1 2) (list 1 2))", "false"},
        {"(= (seq 1 1000) (reverse (reverse (seq 1 1000))))", "true"},
        /* lists of different lengths either way round, improper tails,
         * heads that differ in kind, compound heads deep in a long list */
        {"(= '(1 2 3) '(1 2))", "false"},
        {"(= '(1 2) '(1 2 3))", "false"},
        {"(= (list '(1 2 3)) (list '(1 2)))", "false"},
        {"(= (cons 1 2) (cons 1 2))", "true"},
        {"(= (cons 1 2) (cons 1 3))", "false"},
        {"(= (cons 1 2) (list 1 2))", "false"},
        {"(= (list 1 2) (cons 1 (tuple 2)))", "false"},
        {"(= (cons 1 (tuple 2)) (cons 1 (tuple 2)))", "true"},
        {"(= (list 1 2) (list 1 2.0))", "false"},
        {"(= (list 2.0 'a) (list 2.0 'a))", "true"},
        {"(= (list 'a) (list \"a\"))", "false"},
        {"(= (list (list 1)) (list (list 1.0)))", "false"},
        {"(= (map (fn (i) (list i (tuple i))) (seq 1 100000)) "
         "(map (fn (i) (list i (tuple i))) (seq 1 100000)))", "true"},
        {"(= (map (fn (i) (list i (tuple i))) (seq 1 100000)) "
         "(map (fn (i) (list i (tuple (if (= i 99999) 0 i)))) (seq 1 100000)))", "false"},
        {"(< 1 2)", "true"},
        {"(< 2 1)", "false"},
        {"(< 1 2.5)", "true"},
        {"(> 2.5 2)", "true"},
        {"(<= 2 2.0)", "true"},
        {"(>= 2.0 2)", "true"},
        {"(< 2 2.0)", "false"},
        {"(> 9007199254740993 9007199254740992.0)", "true"},
        {"(< -1.5 -1)", "true"},
        {"(< \"ab\" \"b\")", "true"},
        {"(< \"a\" \"ab\")", "true"},
        {"(> \"b\" \"ab\")", "true"},
        {"(<= \"x\" \"x\")", "true"},
        {"(< \"Z\" \"a\")", "true"},
        {"(>= \"\" \"\")", "true"},
        {"(catch (< 1 'a))", "#(EXIT #(error badarg))"},
        {"(catch (< \"a\" 1))", "#(EXIT #(error badarg))"},
        {"(catch (> '() '()))", "#(EXIT #(error badarg))"},
        {"(catch (<= (tuple) (tuple)))", "#(EXIT #(error badarg))"},
        {"(catch (>= 'a 'b))", "#(EXIT #(error badarg))"},
        /* (if (< x K) ...) on a variable is one fused instruction */
        {"(let ((x 3.5)) (if (< x 5) 'lt 'ge))", "lt"},
        {"(let ((x 5.0)) (if (< x 5) 'lt 'ge))", "ge"},
        {"(let ((x -7)) (if (< x -6) 'lt 'ge))", "lt"},
        {"(let ((x 'a)) (catch (if (< x 5) 'lt 'ge)))", "#(EXIT #(error badarg))"},
        {"(not false)", "true"},
        {"(not true)", "false"},
        {"(catch (not 1))", "#(EXIT #(error badarg))"},
        {"(catch (not '()))", "#(EXIT #(error badarg))"},
        {"(and)", "true"},
        {"(or)", "false"},
        {"(and 1 2)", "2"},
        {"(and false (car 1))", "false"},
        {"(or false 3)", "3"},
        {"(or 1 (car 1))", "1"},
        {"(if '() 'yes 'no)", "yes"},
        {"(if 0 'yes 'no)", "yes"},
        {"(if false 'yes)", "false"},
    };
    LH_PRINTS(NULL, c);
}

static void test_lists(void)
{
    static const lh_case_t c[] = {
        {"(list)", "()"},
        {"(list 1 \"a\" 'b)", "(1 \"a\" b)"},
        {"(cons 1 '(2 3))", "(1 2 3)"},
        {"(cons '() '())", "(())"},
        {"(car '(1 2))", "1"},
        {"(cdr '(1 2))", "(2)"},
        {"(cdr '(1))", "()"},
        {"(catch (car '()))", "#(EXIT #(error badarg))"},
        {"(catch (cdr 5))", "#(EXIT #(error badarg))"},
        {"(length '(1 2 3))", "3"},
        {"(length '())", "0"},
        {"(catch (length 5))", "#(EXIT #(error badarg))"},
        {"(catch (length (cons 1 2)))", "#(EXIT #(error badarg))"},
        {"(reverse '(1 2 3))", "(3 2 1)"},
        {"(reverse '())", "()"},
        {"(catch (reverse 'a))", "#(EXIT #(error badarg))"},
        {"(append '(1 2) '(3 4))", "(1 2 3 4)"},
        {"(append '() '(3))", "(3)"},
        {"(append '(1) '())", "(1)"},
        {"(catch (append 1 '()))", "#(EXIT #(error badarg))"},
        {"(nth 0 '(a b))", "a"},
        {"(nth 1 '(a b))", "b"},
        {"(catch (nth 2 '(a b)))", "#(EXIT #(error badarg))"},
        {"(catch (nth -1 '(a)))", "#(EXIT #(error badarg))"},
        {"(catch (nth 'x '(a)))", "#(EXIT #(error badarg))"},
        {"(catch (nth 0 'a))", "#(EXIT #(error badarg))"},
        {"(null? '())", "true"},
        {"(null? '(1))", "false"},
        {"(null? 0)", "false"},
        {"(seq 1 5)", "(1 2 3 4 5)"},
        {"(seq -2 0)", "(-2 -1 0)"},
        {"(seq 3 2)", "()"},
        {"(catch (seq 3 1))", "#(EXIT #(error badarg))"},
        {"(catch (seq 1 'a))", "#(EXIT #(error badarg))"},
        {"(length (seq 1 100000))", "100000"},
        {"(map (fn (x) (* x x)) '(1 2 3))", "(1 4 9)"},
        {"(map (fn (x) x) '())", "()"},
        {"(let ((k 10)) (map (fn (x) (+ x k)) '(1 2)))", "(11 12)"},
        {"(foldl (fn (e acc) (cons e acc)) '() '(1 2 3))", "(3 2 1)"},
        {"(foldl (fn (e acc) (+ e acc)) 0 (seq 1 100))", "5050"},
        {"(foldl (fn (e acc) e) 'none '())", "none"},
        {"(catch (map 1 '(1)))", "#(EXIT #(error badfun))"},
        {"(catch (map (fn (x y) x) '(1)))", "#(EXIT #(error badarity))"},
        {"(catch (map (fn (x) x) 5))", "#(EXIT #(error badarg))"},
        {"(list? (map (fn (x) x) (seq 1 10)))", "true"},
    };
    LH_PRINTS(NULL, c);
}

static void test_tuples(void)
{
    static const lh_case_t c[] = {
        {"(tuple)", "#()"},
        {"(tuple 1 'a \"s\" 2.5)", "#(1 a \"s\" 2.5)"},
        {"(tuple (tuple) (list (tuple 1)))", "#(#() (#(1)))"},
        {"(elem 0 (tuple 'a 'b))", "a"},
        {"(elem 1 (tuple 'a 'b))", "b"},
        {"(catch (elem 2 (tuple 'a 'b)))", "#(EXIT #(error badarg))"},
        {"(catch (elem -1 (tuple 'a)))", "#(EXIT #(error badarg))"},
        {"(catch (elem 0 '(1)))", "#(EXIT #(error badarg))"},
        {"(catch (elem 'a (tuple 1)))", "#(EXIT #(error badarg))"},
        {"(tuple-size (tuple 1 2 3))", "3"},
        {"(tuple-size (tuple))", "0"},
        {"(catch (tuple-size '(1)))", "#(EXIT #(error badarg))"},
    };
    LH_PRINTS(NULL, c);
}

static void test_strings(void)
{
    static const lh_case_t c[] = {
        {"(str)", ""},
        {"(string? (str))", "true"},
        {"(str \"a\" 1 'b 2.5 '(1 \"x\") (tuple))", "a1b2.5(1 \"x\")#()"},
        {"(list (str \"q\\\"\" 1))", "(\"q\\\"1\")"},
        {"(= (str \"a\" \"b\") \"ab\")", "true"},
        {"(str (str \"x\") -3)", "x-3"},
        {"(string-length \"hello\")", "5"},
        {"(string-length \"\")", "0"},
        /* bytes, not characters: e-acute is two bytes in UTF-8 */
        {"(string-length \"h\xc3\xa9\")", "3"},
        {"(string-length \"a\\n\\\\\")", "3"},
        {"(catch (string-length 'a))", "#(EXIT #(error badarg))"},
        {"(string->int \"42\")", "42"},
        {"(string->int \"-7\")", "-7"},
        {"(string->int \"007\")", "7"},
        {"(string->int \"4611686018427387903\")", "4611686018427387903"},
        {"(string->int \"-4611686018427387904\")", "-4611686018427387904"},
        {"(catch (string->int \"4611686018427387904\"))", "#(EXIT #(error badarg))"},
        {"(catch (string->int \"\"))", "#(EXIT #(error badarg))"},
        {"(catch (string->int \"12a\"))", "#(EXIT #(error badarg))"},
        {"(catch (string->int \" 1\"))", "#(EXIT #(error badarg))"},
        {"(catch (string->int \"-\"))", "#(EXIT #(error badarg))"},
        {"(catch (string->int \"1.5\"))", "#(EXIT #(error badarg))"},
        {"(catch (string->int 5))", "#(EXIT #(error badarg))"},
        {"(string->int (str 12 34))", "1234"},
    };
    LH_PRINTS(NULL, c);
}

static void test_type_tests(void)
{
    static const char defs[] =
        "(defn vals () (list 1 1.0 'a \"s\" '() '(1) (tuple) (self) (fn () 1) main true))\n";
    static const lh_case_t c[] = {
        {"(map (fn (v) (int? v)) (vals))",
         "(true false false false false false false false false false false)"},
        {"(map (fn (v) (float? v)) (vals))",
         "(false true false false false false false false false false false)"},
        {"(map (fn (v) (atom? v)) (vals))",
         "(false false true false false false false false false false true)"},
        {"(map (fn (v) (string? v)) (vals))",
         "(false false false true false false false false false false false)"},
        {"(map (fn (v) (list? v)) (vals))",
         "(false false false false true true false false false false false)"},
        {"(map (fn (v) (tuple? v)) (vals))",
         "(false false false false false false true false false false false)"},
        {"(map (fn (v) (pid? v)) (vals))",
         "(false false false false false false false true false false false)"},
        {"(map (fn (v) (fun? v)) (vals))",
         "(false false false false false false false false true true false)"},
    };
    LH_PRINTS(defs, c);
}

/* print: arguments separated by spaces, a newline, strings raw at the top
 * level and quoted with escapes inside data; it returns 'ok. */
static void test_print(void)
{
    lh_result_t r;
    lh_run("(defn main ()\n"
           "  (print)\n"
           "  (print 1 \"two\" 'three 4.0)\n"
           "  (print (print \"inner\"))\n"
           "  (print \"tab\\there\" (list \"q\\\"uote\" \"back\\\\slash\" \"nl\\nx\"))\n"
           "  (print (tuple \"s\" (list 'a \"b\")) '(() (())))\n"
           "  (print -0 -12 4611686018427387903 'sym-bol?)\n"
           "  (print main (fn (x y) x) (fn () 1)))\n",
           one_vm, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT_STRING_EQUAL(r.out, "\n"
                                  "1 two three 4.0\n"
                                  "inner\n"
                                  "ok\n"
                                  "tab\there (\"q\\\"uote\" \"back\\\\slash\" \"nl\\nx\")\n"
                                  "#(\"s\" (a \"b\")) (() (()))\n"
                                  "0 -12 4611686018427387903 sym-bol?\n"
                                  "#fun<main/0> #fun<fn/2> #fun<fn/0>\n");
    lh_result_free(&r);
}

static void test_print_floats(void)
{
    static const lh_case_t c[] = {
        {"0.1", "0.1"},
        {"(/ 1.0 3)", "0.3333333333333333"},
        {"2.0", "2.0"},
        {"10.0", "10.0"},
        {"1.0e21", "1.0e21"},
        {"1.0e-7", "1.0e-7"},
        {"123456789.125", "123456789.125"},
        {"-0.25", "-0.25"},
        {"1.0e20", "1.0e20"},
        {"0.00001", "1.0e-5"},
        {"1000.0", "1.0e3"},
        {"100.0", "100.0"},
        {"123000.0", "1.23e5"},
        {"0.0001", "0.0001"},
        {"0.00002", "2.0e-5"},
        {"(* 1.0 100)", "100.0"},
        {"(/ 2 4.0)", "0.5"},
        {"(list 1.5 (tuple 2.0))", "(1.5 #(2.0))"},
    };
    LH_PRINTS(NULL, c);
}

/* pids print as <N>, refs as #ref<N>; self is stable, refs are fresh. */
static void test_pids_refs(void)
{
    lh_result_t r;
    lh_run("(defn main ()\n"
           "  (print (self) (make-ref) (make-ref))\n"
           "  (print (= (self) (self)) (= (make-ref) (make-ref)))\n"
           "  (let ((r (make-ref))) (print (= r r) (pid? r) (atom? r)))\n"
           "  (print (str (self))))\n",
           one_vm, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 0);
    char l0[256], l1[256], l2[256], l3[256];
    CU_ASSERT_FATAL(lh_line(r.out, 0, l0, sizeof l0) && lh_line(r.out, 1, l1, sizeof l1) &&
                    lh_line(r.out, 2, l2, sizeof l2) && lh_line(r.out, 3, l3, sizeof l3));
    unsigned long long pid, r1, r2;
    char tail;
    LH_CHECK(sscanf(l0, "<%llu> #ref<%llu> #ref<%llu>%c", &pid, &r1, &r2, &tail) == 3,
             "line \"%s\" is not <N> #ref<N> #ref<N>", l0);
    CU_ASSERT_NOT_EQUAL(r1, r2);
    CU_ASSERT_STRING_EQUAL(l1, "true false");
    CU_ASSERT_STRING_EQUAL(l2, "true false false");
    char want[64];
    snprintf(want, sizeof want, "<%llu>", pid);
    CU_ASSERT_STRING_EQUAL(l3, want);
    lh_result_free(&r);
}

static void test_args(void)
{
    static const char *const args[] = {"x", "y z", "", NULL};
    lh_result_t r;
    lh_run("(defn main () (print (args)) (print (length (args))))", one_vm, NULL, args, &r);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "(\"x\" \"y z\" \"\")\n3\n");
    lh_result_free(&r);
    lh_run("(defn main () (print (args)))", one_vm, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "()\n");
    lh_result_free(&r);
}

static void test_time_random(void)
{
    static const lh_case_t c[] = {
        {"(let ((a (now-ms)) (b (now-ms))) (and (int? a) (<= a b)))", "true"},
        {"(foldl (fn (e ok) (let ((r (random 10))) (and ok (>= r 0) (< r 10)))) true "
         "(seq 1 1000))",
         "true"},
        {"(random 1)", "0"},
        /* 1000 draws from [0, 1000) are not all equal */
        {"(let ((l (map (fn (i) (random 1000)) (seq 1 1000))))"
         " (foldl (fn (e same) (and same (= e (car l)))) true l))",
         "false"},
        {"(catch (random 0))", "#(EXIT #(error badarg))"},
        {"(catch (random -5))", "#(EXIT #(error badarg))"},
        {"(catch (random 1.5))", "#(EXIT #(error badarg))"},
    };
    LH_PRINTS(NULL, c);
}

static void test_catch(void)
{
    static const char defs[] =
        "(defn deep (n) (if (= n 0) (error 'bottom) (+ 1 (deep (- n 1)))))\n"
        "(defn count (n) (if (= n 0) 0 (+ 1 (count (- n 1)))))\n";
    static const lh_case_t c[] = {
        {"(catch 5)", "5"},
        {"(catch (error 'boom))", "#(EXIT #(error boom))"},
        {"(catch (error (tuple 1 \"s\")))", "#(EXIT #(error #(1 \"s\")))"},
        {"(catch (exit 'bye))", "#(EXIT bye)"},
        {"(catch (car '()))", "#(EXIT #(error badarg))"},
        {"(catch (catch (error 'x)))", "#(EXIT #(error x))"},
        {"(catch (+ 1 (catch (error 'x))))", "#(EXIT #(error badarith))"},
        {"(let ((r (catch (error 'x)))) (list r 'after))", "(#(EXIT #(error x)) after)"},
        {"(catch (deep 10000))", "#(EXIT #(error bottom))"},
        /* the stack is whole after unwinding a deep catch */
        {"(do (catch (deep 10000)) (count 10000))", "10000"},
        {"(catch (case 3 (1 'a) (2 'b)))", "#(EXIT #(error case_clause))"},
        {"(case 2 (1 'a) (2 'b))", "b"},
    };
    LH_PRINTS(defs, c);
}

/* Calls: top-level functions by name, closures, atoms naming functions. */
static void test_calls(void)
{
    static const char defs[] = "(defn helper (x) (list 'helper x))\n"
                               "(defn adder (n) (fn (x) (+ x n)))\n"
                               "(defn apply2 (f a b) (f a b))\n";
    static const lh_case_t c[] = {
        {"(helper 1)", "(helper 1)"},
        {"((adder 5) 10)", "15"},
        {"(let ((f helper)) (f 2))", "(helper 2)"},
        {"('helper 3)", "(helper 3)"},
        {"(let ((f 'helper)) (f 4))", "(helper 4)"},
        {"(apply2 (fn (a b) (- a b)) 10 3)", "7"},
        {"(catch ('nosuch 1))", "#(EXIT #(error undef))"},
        {"(catch ('helper 1 2))", "#(EXIT #(error undef))"},
        {"(catch (let ((f 42)) (f 1)))", "#(EXIT #(error badfun))"},
        {"(catch (let ((f \"s\")) (f)))", "#(EXIT #(error badfun))"},
        {"(catch (let ((f (fn (x) x))) (f 1 2)))", "#(EXIT #(error badarity))"},
        {"(catch (apply2 helper 1 2))", "#(EXIT #(error badarity))"},
    };
    LH_PRINTS(defs, c);
}

/* Patterns (LANGUAGE.md, "Patterns"): literals of every kind, tuples,
 * lists of an exact length, cons, _ and guards; a bound name matches only
 * an equal value; a guard that raises just fails its clause. */
static void test_patterns(void)
{
    static const char defs[] =
        "(defn classify (v)\n"
        "  (case v\n"
        "    (0 'zero)\n"
        "    (1.5 'one-and-a-half)\n"
        "    (\"s\" 'string)\n"
        "    ('a 'atom-a)\n"
        "    (true 'yes)\n"
        "    ('() 'empty)\n"
        "    ('(1 2) 'quoted-list)\n"
        "    ((tuple 'pt x x) (list 'diagonal x))\n"
        "    ((tuple 'pt x y) (when (< x y)) (list 'below x y))\n"
        "    ((tuple 'pt _ _) 'other-point)\n"
        "    ((tuple) 'empty-tuple)\n"
        "    ((list a b) (list 'two a b))\n"
        "    ((cons h t) (list 'cons h t))\n"
        "    (x (when (car x)) 'never)\n"
        "    (_ 'anything)))\n"
        "(defn same (a b) (case b (a 'same) (_ 'different)))\n";
    static const lh_case_t c[] = {
        {"(map (fn (v) (classify v)) (list 0 1.5 \"s\" 'a true '() '(1 2)))",
         "(zero one-and-a-half string atom-a yes empty quoted-list)"},
        {"(map (fn (v) (classify v)) (list (tuple 'pt 3 3) (tuple 'pt 1 2) (tuple 'pt 2 1)"
         " (tuple)))",
         "((diagonal 3) (below 1 2) other-point empty-tuple)"},
        {"(map (fn (v) (classify v)) (list '(1 3) '(1 2 3) '(9)))",
         "((two 1 3) (cons 1 (2 3)) (cons 9 ()))"},
        /* 1.0 is not 0 or 1.5, "t" is not "s", 'b is not 'a */
        {"(map (fn (v) (classify v)) (list 7 1.0 0.0 \"t\" 'b false (tuple 'pt 1)))",
         "(anything anything anything anything anything anything anything)"},
        {"(list (same 1 1) (same 1 2) (same \"x\" \"x\") (same 1 1.0))",
         "(same different same different)"},
        {"(let ((k 7)) (case 7 (k 'matched-bound) (_ 'no)))", "matched-bound"},
        {"(let ((k 7)) (case 8 (k 'matched-bound) (_ 'no)))", "no"},
        {"(let ((k 7)) ((fn (v) (case v (k 'free-bound) (_ 'no))) 7))", "free-bound"},
        {"(case (list 1 (tuple 2 (list 3 4))) ((list a (tuple b (cons c d))) (list a b c d)))",
         "(1 2 3 (4))"},
        {"(= true 'true)", "true"},
        {"'(a (b \"c\") 1.5 -2)", "(a (b \"c\") 1.5 -2)"},
        {"(atom? (car '(x)))", "true"},
    };
    LH_PRINTS(defs, c);
}

/* ------------------------------------------------------------------ */
/* uncaught errors end main: exit status 1, the reason on stderr        */

/* `body` is main's body after (print (self)) (print "before"); the run
 * must exit 1 with exactly "shoal: main process <self> exited: REASON",
 * followed, for an error, by its stack trace (test_trace.c checks those
 * lines) and nothing else. */
static void uncaught(const char *defs, const char *body, const char *reason,
                     const char *const *flags, unsigned at)
{
    char src[2048];
    snprintf(src, sizeof src, "%s\n(defn main ()\n  (print (self))\n  (print \"before\")\n  %s\n"
                              "  (print \"after\"))\n",
             defs ? defs : "", body);
    lh_result_t r;
    lh_run(src, flags ? flags : one_vm, NULL, NULL, &r);
    lh_check(r.status == 1, at, __FILE__, "[%s] exit status %d, want 1", body, r.status);
    char pid[64] = "", want[512];
    lh_line(r.out, 0, pid, sizeof pid);
    snprintf(want, sizeof want, "shoal: main process %s exited: %s\n", pid, reason);
    size_t wn = strlen(want);
    bool trace_ok = true;
    for (const char *l = r.err + (strlen(r.err) >= wn ? wn : 0); *l; l = strchr(l, '\n') + 1) {
        trace_ok = trace_ok && strncmp(reason, "#(error ", 8) == 0 &&
                   (strncmp(l, "  at ", 5) == 0 || strncmp(l, "  ... ", 6) == 0);
        if (!strchr(l, '\n'))
            break;
    }
    lh_check(strncmp(r.err, want, wn) == 0 && trace_ok, at, __FILE__,
             "[%s] stderr \"%s\", want \"%s\" and its trace", body, r.err, want);
    char l1[64] = "";
    lh_line(r.out, 1, l1, sizeof l1);
    lh_check(strcmp(l1, "before") == 0 && lh_count_lines(r.out) == 2, at, __FILE__,
             "[%s] stdout \"%s\", want the pid and \"before\" only", body, r.out);
    lh_result_free(&r);
}
#define UNCAUGHT(defs, body, reason) uncaught((defs), (body), (reason), NULL, __LINE__)

static void test_uncaught_errors(void)
{
    UNCAUGHT(NULL, "(print (/ 1 0))", "#(error badarith)");
    UNCAUGHT(NULL, "(print (+ 4611686018427387903 1))", "#(error badarith)");
    UNCAUGHT(NULL, "(car 1)", "#(error badarg)");
    UNCAUGHT(NULL, "(case 3 (1 'a) (2 'b))", "#(error case_clause)");
    UNCAUGHT(NULL, "(let ((f 42)) (f 1))", "#(error badfun)");
    UNCAUGHT(NULL, "('nosuch 1)", "#(error undef)");
    UNCAUGHT("(defn helper (x) x)", "(let ((f 'helper)) (f 1 2))", "#(error undef)");
    UNCAUGHT(NULL, "(let ((f (fn (x) x))) (f 1 2))", "#(error badarity)");
    UNCAUGHT(NULL, "(error 'boom)", "#(error boom)");
    UNCAUGHT(NULL, "(error (tuple 'a \"b\" 1.5))", "#(error #(a \"b\" 1.5))");
    UNCAUGHT(NULL, "(exit 'bye)", "bye");
    /* an error deep in the stack ends main the same way */
    UNCAUGHT("(defn down (n) (if (= n 0) (elem 5 (tuple)) (+ 1 (down (- n 1)))))",
             "(down 5000)", "#(error badarg)");
}

/* A process past its heap limit ends with #(error heap_limit); the VM
 * goes on to report it, with the limit and how to raise it. */
#define HEAP_LIMIT_4                                                            \
    "#(error heap_limit) (its heap and stack passed the limit of 4 MiB per "   \
    "process; raise it with --heap-limit-mb N or heap_limit_mb in [memory])"
static void test_heap_limit(void)
{
    static const char *const small[] = {"--vms", "1", "--heap-limit-mb", "4", NULL};
    uncaught("(defn grow (l) (grow (cons 1 l)))", "(grow '())", HEAP_LIMIT_4, small,
             __LINE__);
    /* deep non-tail recursion: the stack counts against the limit */
    uncaught("(defn sum-to (n) (if (= n 0) 0 (+ n (sum-to (- n 1)))))", "(print (sum-to 10000000))",
             HEAP_LIMIT_4, small, __LINE__);
    /* a big string built by str */
    uncaught("(defn big (s) (big (str s s)))", "(big \"0123456789abcdef\")",
             HEAP_LIMIT_4, small, __LINE__);
}

/* Under the same 4 MiB limit, a tail loop of millions of calls and a
 * non-tail recursion 50,000 deep both finish; a tail call does not grow
 * the stack. */
static void test_tail_calls_and_deep_stacks(void)
{
    static const char *const small[] = {"--vms", "1", "--heap-limit-mb", "4", NULL};
    static const lh_case_t c[] = {
        {"(loop 3000000 0)", "3000000"},
        {"(even 1000001)", "false"},
        {"(sum-to 50000)", "1250025000"},
        {"(length (build 50000))", "50000"},
    };
    static const char defs[] =
        "(defn loop (n acc) (if (= n 0) acc (loop (- n 1) (+ acc 1))))\n"
        "(defn even (n) (if (= n 0) true (odd (- n 1))))\n"
        "(defn odd (n) (if (= n 0) false (even (- n 1))))\n"
        "(defn sum-to (n) (if (= n 0) 0 (+ n (sum-to (- n 1)))))\n"
        "(defn build (n) (if (= n 0) '() (cons n (build (- n 1)))))\n";
    lh_check_prints(defs, c, sizeof c / sizeof c[0], small, __FILE__, __LINE__);
}

/* Every tail position of every form: a million calls through each fit in
 * the same 4 MiB. */
static void test_tail_positions(void)
{
    static const char *const small[] = {"--vms", "1", "--heap-limit-mb", "4", NULL};
    static const char defs[] =
        "(defn via-let (n) (if (= n 0) 'ok (let ((m (- n 1))) (via-let m))))\n"
        "(defn via-cond (n) (cond ((= n 0) 'ok) (true (via-cond (- n 1)))))\n"
        "(defn via-case (n) (case n (0 'ok) (_ (via-case (- n 1)))))\n"
        "(defn via-and (n) (if (= n 0) 'ok (and true (via-and (- n 1)))))\n"
        "(defn via-or (n) (if (= n 0) 'ok (or false (via-or (- n 1)))))\n"
        "(defn via-do (n) (if (= n 0) 'ok (do 1 (via-do (- n 1)))))\n"
        "(defn via-after (n) (if (= n 0) 'ok (receive (after 0 (via-after (- n 1))))))\n"
        "(defn via-fn (f n) (if (= n 0) 'ok (f f (- n 1))))\n"
        "(defn via-else (n) (if (> n 0) (via-else (- n 1)) 'ok))\n";
    static const lh_case_t c[] = {
        {"(via-let 1000000)", "ok"},    {"(via-cond 1000000)", "ok"},
        {"(via-case 1000000)", "ok"},   {"(via-and 1000000)", "ok"},
        {"(via-or 1000000)", "ok"},     {"(via-do 1000000)", "ok"},
        {"(via-after 300000)", "ok"},   {"(via-fn via-fn 1000000)", "ok"},
        {"(via-else 1000000)", "ok"},
    };
    lh_check_prints(defs, c, sizeof c / sizeof c[0], small, __FILE__, __LINE__);
}

/* Run `body` in main with data nested d deep (`(((x)))`, built by nest,
 * or `#(#(#(x)))` by tnest) and check what it prints. */
static void deep_case(long depth, const char *body, const char *want, unsigned at)
{
    char src[2048];
    snprintf(src, sizeof src,
             "(defn nest (n acc) (if (= n 0) acc (nest (- n 1) (list acc))))\n"
             "(defn tnest (n acc) (if (= n 0) acc (tnest (- n 1) (tuple acc))))\n"
             "(defn depth (l n) (if (list? l) (depth (car l) (+ n 1)) n))\n"
             "(defn main () (let ((d %ld)) %s))\n",
             depth, body);
    lh_result_t r;
    lh_run(src, one_vm, NULL, NULL, &r);
    lh_check(r.status == 0 && strcmp(r.out, want) == 0 && strcmp(r.err, "") == 0, at, __FILE__,
             "[depth %ld: %s] status %d, printed \"%s\", want \"%s\"; stderr %.300s", depth,
             body, r.status, r.out, want, r.err);
    lh_result_free(&r);
}

/* What each prints for depth d: the text `want`, or the number
 * mult * d + add. */
static const struct {
    const char *body;
    const char *want;
    long mult, add;
} deep_ops[] = {
    {"(print (= (nest d 'x) (nest d 'x)) (= (nest d 'x) (nest d 'y)))", "true false\n", 0, 0},
    {"(print (string-length (str (nest d 'x))))", NULL, 2, 1},
    {"(print (string-length (str (tnest d 'x))))", NULL, 3, 1},
    {"(do (send (self) (nest d 'x)) (receive (m (print (depth m 0)))))", NULL, 1, 0},
    {"(let ((p (spawn (fn (v) (print (depth v 0))) (nest d 'x))))\n"
     "  (monitor p) (receive ((tuple 'DOWN _ _ r) r)))",
     NULL, 1, 0},
};

static void deep_all(long depth, unsigned at)
{
    for (size_t i = 0; i < sizeof deep_ops / sizeof deep_ops[0]; i++) {
        char want[64];
        if (deep_ops[i].want)
            snprintf(want, sizeof want, "%s", deep_ops[i].want);
        else
            snprintf(want, sizeof want, "%ld\n", deep_ops[i].mult * depth + deep_ops[i].add);
        deep_case(depth, deep_ops[i].body, want, at);
    }
}

/* Data nested deep in the head or element direction (which nothing
 * iterates along, as lists are along their tails) is data like any
 * other: comparing, printing, sending and spawning with it work, as in
 * Erlang, and never crash the VM (STYLE.md: an error in a green process
 * is never a crash of the VM). */
static void test_deep_nesting(void)
{
    deep_all(10000, __LINE__);
    deep_all(1000000, __LINE__);
}

/* (exit 'normal) is how Erlang ends a process normally from anywhere:
 * LANGUAGE.md's reason `normal` is not reported, and "1 with the reason
 * on stderr" cannot hold with nothing on stderr. */
static void test_exit_normal(void)
{
    lh_result_t r;
    lh_run("(defn main () (print \"x\") (exit 'normal) (print \"not reached\"))", one_vm, NULL,
           NULL, &r);
    CU_ASSERT_STRING_EQUAL(r.out, "x\n");
    CU_ASSERT_STRING_EQUAL(r.err, "");
    CU_ASSERT_EQUAL(r.status, 0);
    lh_result_free(&r);
}

/* main's return value is not printed; a normal end is status 0. */
static void test_main_returns(void)
{
    lh_result_t r;
    lh_run("(defn main () (tuple 'result 42))", one_vm, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_STRING_EQUAL(r.err, "");
    lh_result_free(&r);
}

/* ------------------------------------------------------------------ */
/* termio, directly                                                    */

static void float_is(double d, const char *want, unsigned at)
{
    char buf[64];
    float_text(d, buf, sizeof buf);
    lh_check(strcmp(buf, want) == 0, at, __FILE__, "float_text(%.17g) = \"%s\", want \"%s\"", d,
             buf, want);
}
#define FLOAT_IS(d, want) float_is((d), (want), __LINE__)

static void test_float_text(void)
{
    FLOAT_IS(0.1, "0.1");
    FLOAT_IS(1.0 / 3.0, "0.3333333333333333");
    FLOAT_IS(2.0 / 3.0, "0.6666666666666666");
    FLOAT_IS(2.0, "2.0");
    FLOAT_IS(10.0, "10.0");
    FLOAT_IS(1.0e21, "1.0e21");
    FLOAT_IS(1.0e-7, "1.0e-7");
    FLOAT_IS(123456789.125, "123456789.125");
    FLOAT_IS(-0.25, "-0.25");
    FLOAT_IS(0.0, "0.0");
    FLOAT_IS(-0.0, "-0.0");
    FLOAT_IS(1.5e-7, "1.5e-7");
    /* positional unless the exponent form is shorter, a tie going to
     * positional: Erlang's rule (io_lib_format) */
    FLOAT_IS(1.0e20, "1.0e20");
    FLOAT_IS(1.0e-5, "1.0e-5");
    FLOAT_IS(1000.0, "1.0e3");
    FLOAT_IS(100.0, "100.0");
    FLOAT_IS(-1000.0, "-1.0e3");
    FLOAT_IS(123000.0, "1.23e5");
    FLOAT_IS(123456.0, "123456.0");
    FLOAT_IS(1.0e15, "1.0e15");
    FLOAT_IS(0.0001, "0.0001");
    FLOAT_IS(0.001, "0.001");
    FLOAT_IS(2.0e-5, "2.0e-5");
    FLOAT_IS(-1.5e-5, "-1.5e-5");
    FLOAT_IS(12345678.9, "12345678.9");
    FLOAT_IS(1234.5, "1234.5");
    FLOAT_IS(1.0e-6, "1.0e-6");
    FLOAT_IS(123.456, "123.456");
    FLOAT_IS(0.1 + 0.2, "0.30000000000000004");
    FLOAT_IS(5e-324, "5.0e-324");
    FLOAT_IS(1.7976931348623157e308, "1.7976931348623157e308");
    FLOAT_IS(9007199254740993.0, "9007199254740992.0");
    FLOAT_IS(-1.25e22, "-1.25e22");
}

/* Every text reads back as the same double and has a '.' or an 'e', so
 * the reader takes it for a float; and no shorter text would do. */
static void test_float_round_trip(void)
{
    unsigned long long x = 0x9E3779B97F4A7C15ull;
    int bad = 0, not_float = 0, not_shortest = 0;
    for (int i = 0; i < 20000; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        uint64_t bits = x * 0x2545F4914F6CDD1Dull;
        double d;
        if (i % 2) {
            memcpy(&d, &bits, sizeof d);
            if (!isfinite(d))
                continue;
        } else {
            d = (double)(int64_t)(bits >> 20) / 1024.0; /* ordinary magnitudes */
        }
        char buf[64];
        float_text(d, buf, sizeof buf);
        bad += strtod(buf, NULL) != d;
        not_float += strchr(buf, '.') == NULL;
        /* count significant digits; one fewer must not round-trip */
        int digits = 0;
        const char *p = buf;
        while (*p && *p != 'e') {
            digits += isdigit((unsigned char)*p) != 0;
            p++;
        }
        char e[64];
        if (digits > 2) {
            snprintf(e, sizeof e, "%.*e", digits - 2, d);
            not_shortest += strtod(e, NULL) == d && strchr(buf, 'e') != NULL;
        }
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(not_float, 0);
    CU_ASSERT_EQUAL(not_shortest, 0);
}

/* A tiny bump heap of terms for building values outside any process. */
static term arena[1 << 14];
static size_t used;

static term *take(size_t words)
{
    term *p = &arena[used];
    used += words;
    CU_ASSERT_FATAL(used <= sizeof arena / sizeof arena[0]);
    return p;
}

static term t_str(const char *s, size_t n)
{
    uint64_t w = str_words(n);
    term *b = take(w);
    memset(b, 0, w * sizeof(term));
    b[0] = mk_hdr(w, BT_STRING);
    b[1] = n;
    memcpy(&b[2], s, n);
    return mk_box(b);
}
#define T_STR(lit) t_str((lit), sizeof(lit) - 1)

static term t_float(double d)
{
    term *b = take(2);
    b[0] = mk_hdr(2, BT_FLOAT);
    memcpy(&b[1], &d, sizeof d);
    return mk_box(b);
}

static term t_tuple(int n, const term *el)
{
    term *b = take((size_t)n + 1);
    b[0] = mk_hdr((uint64_t)n + 1, BT_TUPLE);
    for (int i = 0; i < n; i++)
        b[1 + i] = el[i];
    return mk_box(b);
}

static term t_cons(term h, term t)
{
    term *c = take(2);
    c[0] = h;
    c[1] = t;
    return mk_cons_ptr(c);
}

static term t_list(int n, const term *el)
{
    term l = T_NIL;
    for (int i = n; i-- > 0;)
        l = t_cons(el[i], l);
    return l;
}

static shm_header_t *atoms_seg;

static uint32_t atom(const char *name)
{
    int64_t i = atom_intern(atoms_seg, name, strlen(name));
    CU_ASSERT_FATAL(i >= 0);
    return (uint32_t)i;
}

static void printed(term t, bool raw, const char *want, unsigned at)
{
    sbuf_t b = {0};
    term_print(atoms_seg, &b, t, raw);
    lh_check(b.s && strcmp(b.s, want) == 0, at, __FILE__, "printed \"%s\", want \"%s\"",
             b.s ? b.s : "(nothing)", want);
    sbuf_free(&b);
}
#define PRINTED(t, raw, want) printed((t), (raw), (want), __LINE__)

static void test_term_print(void)
{
    used = 0;
    atoms_seg = lh_segment(4u << 20, 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(atoms_seg);
    CU_ASSERT_EQUAL_FATAL(lh_prepare_atoms(atoms_seg), 0);

    PRINTED(mk_fix(0), false, "0");
    PRINTED(mk_fix(-42), false, "-42");
    PRINTED(mk_fix(FIX_MAX), false, "4611686018427387903");
    PRINTED(mk_fix(FIX_MIN), false, "-4611686018427387904");
    PRINTED(T_NIL, false, "()");
    PRINTED(mk_atom(A_OK), false, "ok");
    PRINTED(mk_atom(atom("worker-loop")), false, "worker-loop");
    PRINTED(mk_pid(17), false, "<17>");
    PRINTED(mk_ref(5), false, "#ref<5>");
    PRINTED(t_float(1.5), false, "1.5");

    /* strings: raw at the top level of print, quoted with escapes in data */
    term s = T_STR("a\"b\\c\nd\te");
    PRINTED(s, true, "a\"b\\c\nd\te");
    PRINTED(s, false, "\"a\\\"b\\\\c\\nd\\te\"");
    PRINTED(T_STR(""), false, "\"\"");
    PRINTED(T_STR(""), true, "");
    term in_list = t_list(1, &s);
    PRINTED(in_list, true, "(\"a\\\"b\\\\c\\nd\\te\")");

    /* nested lists and tuples */
    term inner[] = {mk_fix(2), mk_fix(3)};
    term l23 = t_list(2, inner);
    term mixed[] = {mk_fix(1), l23, T_NIL, t_tuple(0, NULL)};
    PRINTED(t_list(4, mixed), false, "(1 (2 3) () #())");
    term tel[] = {mk_atom(atom("ping")), T_STR("x y"), t_float(-0.5), t_list(4, mixed)};
    PRINTED(t_tuple(4, tel), true, "#(ping \"x y\" -0.5 (1 (2 3) () #()))");
    term nest = T_NIL;
    for (int i = 0; i < 5; i++)
        nest = t_tuple(1, &nest);
    PRINTED(nest, false, "#(#(#(#(#(())))))");

    /* functions: #fun<name/arity> */
    func_t f;
    memset(&f, 0, sizeof f);
    f.name = atom("adder");
    f.arity = 2;
    term *clo = take(3);
    clo[0] = mk_hdr(3, BT_CLOSURE);
    clo[1] = (term)(uintptr_t)&f;
    clo[2] = mk_fix(7);
    PRINTED(mk_box(clo), false, "#fun<adder/2>");

    /* a long list prints whole (the printer iterates along the tail) */
    term big = T_NIL;
    for (int i = 0; i < 3000; i++)
        big = t_cons(mk_fix(1), big);
    sbuf_t b = {0};
    term_print(atoms_seg, &b, big, false);
    CU_ASSERT_EQUAL(b.len, 2 * 3000 - 1 + 2);
    sbuf_free(&b);
    shm_destroy(atoms_seg);
    atoms_seg = NULL;
}

static void test_term_equal(void)
{
    used = 0;
    /* 1 is not 1.0 */
    CU_ASSERT_FALSE(term_equal(mk_fix(1), t_float(1.0)));
    CU_ASSERT_FALSE(term_equal(t_float(1.0), mk_fix(1)));
    /* equal values in different boxes */
    CU_ASSERT_TRUE(term_equal(t_float(2.5), t_float(2.5)));
    CU_ASSERT_FALSE(term_equal(t_float(2.5), t_float(2.25)));
    CU_ASSERT_TRUE(term_equal(T_STR("abc"), T_STR("abc")));
    CU_ASSERT_FALSE(term_equal(T_STR("abc"), T_STR("abd")));
    CU_ASSERT_FALSE(term_equal(T_STR("abc"), T_STR("abcd")));
    CU_ASSERT_FALSE(term_equal(T_STR("abcdefgh"), T_STR("abcdefg")));
    CU_ASSERT_TRUE(term_equal(T_STR(""), T_STR("")));
    CU_ASSERT_TRUE(term_equal(T_NIL, T_NIL));
    CU_ASSERT_FALSE(term_equal(T_NIL, t_tuple(0, NULL)));
    CU_ASSERT_FALSE(term_equal(mk_atom(3), mk_atom(4)));
    CU_ASSERT_FALSE(term_equal(mk_pid(3), mk_ref(3)));

    /* deep structures: equal, then different only at the deepest leaf */
    term a = T_NIL, b = T_NIL, c = T_NIL;
    for (int i = 0; i < 200; i++) {
        term ea[] = {mk_fix(i), T_STR("leaf"), a};
        term eb[] = {mk_fix(i), T_STR("leaf"), b};
        term ec[] = {mk_fix(i), i == 0 ? T_STR("leaF") : T_STR("leaf"), c};
        a = t_list(1, (term[]){t_tuple(3, ea)});
        b = t_list(1, (term[]){t_tuple(3, eb)});
        c = t_list(1, (term[]){t_tuple(3, ec)});
    }
    CU_ASSERT_TRUE(term_equal(a, b));
    CU_ASSERT_FALSE(term_equal(a, c));
    /* lists of different lengths; a list against a tuple of the same items */
    term one[] = {mk_fix(1), mk_fix(2)};
    CU_ASSERT_FALSE(term_equal(t_list(2, one), t_list(1, one)));
    CU_ASSERT_FALSE(term_equal(t_list(1, one), t_list(2, one)));
    CU_ASSERT_FALSE(term_equal(t_list(2, one), t_tuple(2, one)));
    CU_ASSERT_FALSE(term_equal(t_tuple(2, one), t_tuple(1, one)));
    /* closures: same function and equal free variables */
    func_t f, g;
    memset(&f, 0, sizeof f);
    memset(&g, 0, sizeof g);
    term *c1 = take(3), *c2 = take(3), *c3 = take(3), *c4 = take(3);
    c1[0] = c2[0] = c3[0] = c4[0] = mk_hdr(3, BT_CLOSURE);
    c1[1] = c2[1] = c4[1] = (term)(uintptr_t)&f;
    c3[1] = (term)(uintptr_t)&g;
    c1[2] = T_STR("fv");
    c2[2] = T_STR("fv");
    c3[2] = T_STR("fv");
    c4[2] = T_STR("fw");
    CU_ASSERT_TRUE(term_equal(mk_box(c1), mk_box(c2)));
    CU_ASSERT_FALSE(term_equal(mk_box(c1), mk_box(c3)));
    CU_ASSERT_FALSE(term_equal(mk_box(c1), mk_box(c4)));
}

/* A long list compares without recursing along its tail. */
static void test_term_equal_long(void)
{
    enum { N = 200000 };
    term *cells = malloc(2 * 2 * N * sizeof(term));
    CU_ASSERT_PTR_NOT_NULL_FATAL(cells);
    term la = T_NIL, lb = T_NIL;
    for (int i = 0; i < N; i++) {
        term *ca = &cells[4 * i], *cb = &cells[4 * i + 2];
        ca[0] = cb[0] = mk_fix(i);
        ca[1] = la;
        cb[1] = lb;
        la = mk_cons_ptr(ca);
        lb = mk_cons_ptr(cb);
    }
    CU_ASSERT_TRUE(term_equal(la, lb));
    cells[1] = mk_fix(0); /* the last cell of la now ends in 0, not () */
    CU_ASSERT_FALSE(term_equal(la, lb));
    free(cells);
}

static void order_is(term a, term b, int want, unsigned at)
{
    int c = 99;
    bool ok = term_order(a, b, &c);
    lh_check(ok && c == want, at, __FILE__, "term_order gave %s %d, want %d", ok ? "true" : "false",
             c, want);
}
#define ORDER_IS(a, b, want) order_is((a), (b), (want), __LINE__)

static void test_term_order(void)
{
    used = 0;
    ORDER_IS(mk_fix(1), mk_fix(2), -1);
    ORDER_IS(mk_fix(2), mk_fix(1), 1);
    ORDER_IS(mk_fix(-5), mk_fix(-5), 0);
    ORDER_IS(mk_fix(FIX_MIN), mk_fix(FIX_MAX), -1);
    /* ints and floats mix, by value */
    ORDER_IS(mk_fix(1), t_float(1.0), 0);
    ORDER_IS(mk_fix(2), t_float(1.5), 1);
    ORDER_IS(t_float(-0.5), mk_fix(0), -1);
    ORDER_IS(t_float(2.5), t_float(2.5), 0);
    ORDER_IS(t_float(-1e300), t_float(1e300), -1);
    /* exactly, not through a rounded conversion: 2^53 + 1 > 2^53 */
    ORDER_IS(mk_fix(9007199254740993), t_float(9007199254740992.0), 1);
    ORDER_IS(t_float(9007199254740992.0), mk_fix(9007199254740993), -1);
    ORDER_IS(mk_fix(FIX_MAX), t_float(4611686018427387904.0), -1);
    /* strings byte-wise, shorter first on a common prefix */
    ORDER_IS(T_STR("abc"), T_STR("abd"), -1);
    ORDER_IS(T_STR("ab"), T_STR("abc"), -1);
    ORDER_IS(T_STR("abc"), T_STR("ab"), 1);
    ORDER_IS(T_STR(""), T_STR(""), 0);
    ORDER_IS(T_STR("same"), T_STR("same"), 0);
    ORDER_IS(T_STR("Z"), T_STR("a"), -1);
    ORDER_IS(T_STR("\xff"), T_STR("a"), 1); /* bytes are unsigned */
    ORDER_IS(T_STR("a\0b"), T_STR("a\0c"), -1); /* NUL is a byte like any */
    /* anything else is badarg (false) */
    int c;
    CU_ASSERT_FALSE(term_order(mk_atom(1), mk_atom(2), &c));
    CU_ASSERT_FALSE(term_order(mk_fix(1), T_STR("1"), &c));
    CU_ASSERT_FALSE(term_order(T_STR("1"), t_float(1.0), &c));
    CU_ASSERT_FALSE(term_order(T_NIL, T_NIL, &c));
    CU_ASSERT_FALSE(term_order(t_tuple(0, NULL), t_tuple(0, NULL), &c));
    CU_ASSERT_FALSE(term_order(t_cons(mk_fix(1), T_NIL), mk_fix(1), &c));
    CU_ASSERT_FALSE(term_order(mk_pid(1), mk_pid(2), &c));
}

/* ------------------------------------------------------------------ */
/* interp_start / interp_run in this process                           */

static const char prog[] =
    "(defn main () 'ok)\n"
    "(defn loop (n) (if (= n 0) 'done (loop (- n 1))))\n"
    "(defn pair (a b) (error (tuple b a)))\n"
    "(defn bad () (car 1))\n"
    "(defn bye () (exit 'bye))\n"
    "(defn count-to (n) (if (= n 0) 0 (+ 1 (count-to (- n 1)))))\n"
    "(defn show (n) (error (count-to n)))\n";

/* Run a process to its end; returns how many slices it took. */
static int run_to_end(lh_world_t *w, pcb_t *pcb)
{
    int slices = 1;
    enum run_result r;
    while ((r = interp_run(&w->rt, pcb)) == RUN_YIELD)
        slices++;
    CU_ASSERT_EQUAL(r, RUN_EXIT);
    return slices;
}

static void test_interp_slices(void)
{
    lh_world_t w;
    CU_ASSERT_EQUAL_FATAL(lh_world_open(&w, prog, 64u << 20), 0);
    /* a loop of 100,000 calls yields about every SLICE_REDUCTIONS calls */
    pcb_t *pcb = lh_proc_new(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    term arg = mk_fix(100000);
    CU_ASSERT_EQUAL_FATAL(interp_start(&w.rt, pcb, lh_func(w.h, "loop", 1)->value, &arg, 1), 0);
    int slices = run_to_end(&w, pcb);
    LH_CHECK(slices >= 100000 / SLICE_REDUCTIONS && slices <= 100000 / SLICE_REDUCTIONS + 2,
             "%d slices for 100,000 calls", slices);
    CU_ASSERT_EQUAL(proc_of(pcb)->err_class, EXC_NORMAL);
    CU_ASSERT_EQUAL(proc_of(pcb)->err_value, mk_atom(A_NORMAL));
    lh_proc_free(&w, pcb);

    /* a short one ends in its first slice */
    pcb = lh_proc_new(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    CU_ASSERT_EQUAL_FATAL(interp_start(&w.rt, pcb, lh_func(w.h, "main", 0)->value, NULL, 0), 0);
    CU_ASSERT_EQUAL(run_to_end(&w, pcb), 1);
    CU_ASSERT_EQUAL(proc_of(pcb)->err_class, EXC_NORMAL);
    lh_proc_free(&w, pcb);
    lh_world_close(&w);
}

/* The arguments are copied into the new process: changing the originals
 * afterwards changes nothing it sees. A wrong arity fails the new
 * process at its start with badarity. */
static void test_interp_start(void)
{
    lh_world_t w;
    CU_ASSERT_EQUAL_FATAL(lh_world_open(&w, prog, 64u << 20), 0);
    used = 0;
    pcb_t *pcb = lh_proc_new(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    term el[] = {T_STR("first"), mk_fix(2)};
    term args[] = {t_tuple(2, el), t_list(2, el)};
    CU_ASSERT_EQUAL_FATAL(interp_start(&w.rt, pcb, lh_func(w.h, "pair", 2)->value, args, 2), 0);
    memset(arena, 0, sizeof(term) * 6); /* wipe the string and the tuple */
    term want = t_tuple(2, (term[]){t_list(2, (term[]){T_STR("first"), mk_fix(2)}),
                               t_tuple(2, (term[]){T_STR("first"), mk_fix(2)})});
    run_to_end(&w, pcb);
    proc_t *p = proc_of(pcb);
    CU_ASSERT_EQUAL(p->err_class, EXC_ERROR);
    CU_ASSERT_TRUE(term_equal(p->err_value, want));
    lh_proc_free(&w, pcb);

    pcb = lh_proc_new(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    term one = mk_fix(1);
    CU_ASSERT_EQUAL_FATAL(interp_start(&w.rt, pcb, lh_func(w.h, "pair", 2)->value, &one, 1), 0);
    CU_ASSERT_EQUAL(run_to_end(&w, pcb), 1);
    CU_ASSERT_EQUAL(proc_of(pcb)->err_class, EXC_ERROR);
    CU_ASSERT_EQUAL(proc_of(pcb)->err_value, mk_atom(A_BADARITY));
    lh_proc_free(&w, pcb);
    lh_world_close(&w);
}

/* A process whose start needs no copy keeps it in its PCB, with no heap
 * and no stack, until interp_start_now makes them; it then runs as one
 * that interp_start set up. Anything else is refused, with nothing done;
 * heap_release of one that never ran frees nothing and clears the start. */
static void test_interp_start_later(void)
{
    lh_world_t w;
    CU_ASSERT_EQUAL_FATAL(lh_world_open(&w, prog, 64u << 20), 0);
    const func_t *pair = lh_func(w.h, "pair", 2);
    uint64_t pages = pool_free_pages(w.h, 0);

    pcb_t *pcb = proctab_claim(w.h, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    proc_t *p = proc_of(pcb);
    term args[] = {mk_fix(1), mk_atom(A_OK)};
    CU_ASSERT_TRUE_FATAL(interp_start_later(&w.rt, pcb, pair->value, args, 2));
    CU_ASSERT_TRUE(proc_unstarted(p));
    CU_ASSERT_PTR_NULL(p->hfirst);
    CU_ASSERT_PTR_NULL(p->stack_lo);
    CU_ASSERT_EQUAL(p->heap_words, 0);
    CU_ASSERT_PTR_EQUAL(p->func, pair);
    CU_ASSERT_EQUAL(p->status, PS_RUNNABLE);
    CU_ASSERT_EQUAL(pool_free_pages(w.h, 0), pages);
    CU_ASSERT_EQUAL_FATAL(interp_start_now(&w.rt, pcb), 0);
    CU_ASSERT_FALSE(proc_unstarted(p));
    CU_ASSERT_PTR_NOT_NULL(p->hfirst);
    CU_ASSERT_PTR_NOT_NULL(p->stack_lo);
    CU_ASSERT_EQUAL(run_to_end(&w, pcb), 1);
    CU_ASSERT_EQUAL(p->err_class, EXC_ERROR);
    CU_ASSERT_TRUE(term_equal(p->err_value, t_tuple(2, (term[]){mk_atom(A_OK), mk_fix(1)})));
    lh_proc_free(&w, pcb);

    /* a wrong arity still fails the new process, when it starts */
    pcb = proctab_claim(w.h, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    CU_ASSERT_TRUE_FATAL(interp_start_later(&w.rt, pcb, pair->value, args, 1));
    CU_ASSERT_EQUAL_FATAL(interp_start_now(&w.rt, pcb), 0);
    CU_ASSERT_EQUAL(run_to_end(&w, pcb), 1);
    CU_ASSERT_EQUAL(proc_of(pcb)->err_class, EXC_ERROR);
    CU_ASSERT_EQUAL(proc_of(pcb)->err_value, mk_atom(A_BADARITY));
    lh_proc_free(&w, pcb);

    /* refused: an argument that would need a copy, more arguments than
     * the PCB keeps, a function value outside the code area */
    pages = pool_free_pages(w.h, 0);
    pcb = proctab_claim(w.h, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    p = proc_of(pcb);
    term el[] = {mk_fix(1), mk_fix(2)};
    term boxed[] = {mk_fix(1), t_tuple(2, el)};
    CU_ASSERT_FALSE(interp_start_later(&w.rt, pcb, pair->value, boxed, 2));
    term many[PROC_START_ARGS + 1] = {0};
    for (int i = 0; i <= PROC_START_ARGS; i++)
        many[i] = mk_fix(i);
    CU_ASSERT_FALSE(interp_start_later(&w.rt, pcb, pair->value, many, PROC_START_ARGS + 1));
    CU_ASSERT_FALSE(interp_start_later(&w.rt, pcb, t_tuple(2, el), args, 2));
    CU_ASSERT_FALSE(proc_unstarted(p));
    CU_ASSERT_EQUAL(p->flags, 0);
    CU_ASSERT_PTR_NULL(p->hcur);
    CU_ASSERT_PTR_NULL(p->func);

    /* one that ends before it ran: nothing to free, the start cleared */
    CU_ASSERT_TRUE_FATAL(interp_start_later(&w.rt, pcb, pair->value, many, PROC_START_ARGS));
    heap_release(&w.rt, pcb);
    CU_ASSERT_FALSE(proc_unstarted(p));
    CU_ASSERT_PTR_NULL(p->hcur);
    CU_ASSERT_PTR_NULL(p->hp);
    CU_ASSERT_PTR_NULL(p->hlim);
    CU_ASSERT_PTR_NULL(p->frags);
    proctab_release(w.h, pcb);
    CU_ASSERT_EQUAL(pool_free_pages(w.h, 0), pages);
    lh_world_close(&w);
}

/* A VM that dies inside interp_start_now leaves the process RUNNING, and
 * recovery ends it with heap_release: whatever prefix of the first
 * block's stores it finds, the chunk goes back once, and nothing inside
 * it is taken for a block of its own. Below: the block named but not yet
 * the heap; the heap and the stack's top, but not its bottom (written
 * last); and all of it. */
static void test_interp_start_now_crash(void)
{
    lh_world_t w;
    CU_ASSERT_EQUAL_FATAL(lh_world_open(&w, prog, 64u << 20), 0);
    const func_t *pair = lh_func(w.h, "pair", 2);
    char why[160];
    for (int cut = 0; cut < 3; cut++) {
        size_t used0 = 0, used1 = 0;
        CU_ASSERT_EQUAL_FATAL(slab_check(w.h, shm_heap_slabs(w.h), why, sizeof why, NULL, &used0), 0);
        pcb_t *pcb = proctab_claim(w.h, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
        proc_t *p = proc_of(pcb);
        CU_ASSERT_EQUAL_FATAL(heap_init_stack(&w.rt, pcb, 0, interp_start_words(pair->value, 2)), 0);
        if (cut == 0) {
            p->hfirst = p->hcur = NULL;
            p->hp = p->hlim = NULL;
            p->stack_hi = p->sp = p->stack_lo = NULL;
            p->ctl = NULL;
        } else if (cut == 1) {
            p->stack_lo = NULL;
        }
        heap_release(&w.rt, pcb);
        proctab_release(w.h, pcb);
        LH_CHECK(slab_check(w.h, shm_heap_slabs(w.h), why, sizeof why, NULL, &used1) == 0,
                 "cut %d: %s", cut, why);
        LH_CHECK(used1 == used0, "cut %d: %zu chunks in use, %zu before", cut, used1, used0);
    }
    lh_world_close(&w);
}

/* How a process ends: an error's class and value, an exit's reason. */
static void test_interp_exit_reasons(void)
{
    lh_world_t w;
    CU_ASSERT_EQUAL_FATAL(lh_world_open(&w, prog, 64u << 20), 0);
    static const struct {
        const char *fn;
        uint32_t cls;
        uint32_t atom;
    } cases[] = {{"bad", EXC_ERROR, A_BADARG}, {"bye", EXC_EXIT, UINT32_MAX}};
    for (size_t i = 0; i < 2; i++) {
        pcb_t *pcb = lh_proc_new(&w);
        CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
        CU_ASSERT_EQUAL_FATAL(
            interp_start(&w.rt, pcb, lh_func(w.h, cases[i].fn, 0)->value, NULL, 0), 0);
        run_to_end(&w, pcb);
        proc_t *p = proc_of(pcb);
        CU_ASSERT_EQUAL(p->err_class, cases[i].cls);
        term want = cases[i].atom == UINT32_MAX ? mk_atom((uint32_t)atom_find(w.h, "bye", 3))
                                                : mk_atom(cases[i].atom);
        CU_ASSERT_EQUAL(p->err_value, want);
        lh_proc_free(&w, pcb);
    }
    /* a recursion 50,000 deep grows the stack and unwinds it */
    pcb_t *pcb = lh_proc_new(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    term n = mk_fix(50000);
    CU_ASSERT_EQUAL_FATAL(interp_start(&w.rt, pcb, lh_func(w.h, "show", 1)->value, &n, 1), 0);
    run_to_end(&w, pcb);
    CU_ASSERT_EQUAL(proc_of(pcb)->err_class, EXC_ERROR);
    CU_ASSERT_EQUAL(proc_of(pcb)->err_value, mk_fix(50000));
    lh_proc_free(&w, pcb);
    lh_world_close(&w);
}

static CU_TestInfo interp_tests[] = {
    {"arithmetic: + - * / rem on ints and floats", test_arith},
    {"arithmetic errors: overflow, division by zero, non-numbers", test_arith_errors},
    {"comparison, not, and/or, if truthiness", test_compare},
    {"list builtins and their badarg cases", test_lists},
    {"tuple builtins", test_tuples},
    {"strings: str, string-length, string->int", test_strings},
    {"type tests on every kind of value", test_type_tests},
    {"print: spaces, newline, raw and quoted strings", test_print},
    {"floats print as the shortest text that reads back", test_print_floats},
    {"pids and refs", test_pids_refs},
    {"(args)", test_args},
    {"now-ms and random", test_time_random},
    {"catch: values, errors, exits, unwinding", test_catch},
    {"calls: functions, closures, atoms, undef, badfun, badarity", test_calls},
    {"patterns: literals, tuple, list, cons, bound names, guards", test_patterns},
    {"uncaught errors: exit 1 and the reason on stderr", test_uncaught_errors},
    {"heap_limit ends the process", test_heap_limit},
    {"tail calls and deep stacks under a 4 MiB limit", test_tail_calls_and_deep_stacks},
    {"a tail call in every tail position", test_tail_positions},
    {"data nested deep: =, str, send, spawn", test_deep_nesting},
    {"(exit 'normal) in main is a normal end", test_exit_normal},
    {"main's value is not printed, status 0", test_main_returns},
    {"float_text: shortest round-trip forms", test_float_text},
    {"float_text: 20,000 doubles read back, shortest", test_float_round_trip},
    {"term_print: nested data, escapes, functions", test_term_print},
    {"term_equal: 1 vs 1.0, deep structures", test_term_equal},
    {"term_equal: a 200,000-element list", test_term_equal_long},
    {"term_order: numbers mixed, strings byte-wise, badarg", test_term_order},
    {"interp_run: slices, yields, normal end", test_interp_slices},
    {"interp_start: copies its arguments; badarity", test_interp_start},
    {"interp_start_later: no heap until it runs; what it refuses", test_interp_start_later},
    {"interp_start_now: a VM that dies in it leaves what heap_release frees once",
     test_interp_start_now_crash},
    {"interp: exit classes and reasons; deep stack", test_interp_exit_reasons},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(interp, interp_tests, NULL, NULL)
