/*
 * test_trace.c: stack traces (vmproc/trace.c) of processes that errors
 * end, through the binary: the frames in order, innermost first, with
 * names, arities and lines; tail calls leave no frame; a deep stack is
 * cut after TRACE_FRAMES; an exit, or an error a catch took before, gives
 * none.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include "vmproc/trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const one_vm[] = {"--vms", "1", NULL};

/* Line i of stderr is "  at WHAT (FILE:LINE)" with the given WHAT and
 * LINE (the file is a temp path). */
static void check_frame(const char *err, int i, const char *what, int line)
{
    char got[512], head[128], tail[32];
    bool have = lh_line(err, i, got, sizeof got);
    snprintf(head, sizeof head, "  at %s (", what);
    snprintf(tail, sizeof tail, ":%d)", line);
    size_t n = strlen(got), t = strlen(tail);
    bool ok = have && strncmp(got, head, strlen(head)) == 0 && n >= t &&
              strcmp(got + n - t, tail) == 0;
    LH_CHECK(ok, "stderr line %d is '%s', expected '%s...%s'", i, have ? got : "(none)", head,
             tail);
}

static void test_three_deep(void)
{
    lh_result_t r;
    lh_run("(defn c (x)\n"             /* 1 */
           "  (+ x 'a))\n"             /* 2 */
           "(defn b (x)\n"             /* 3 */
           "  (list (c x)))\n"         /* 4 */
           "(defn a (x)\n"             /* 5 */
           "  (let ((y\n"              /* 6 */
           "         (b x)))\n"        /* 7 */
           "    y))\n"                 /* 8 */
           "(defn tail (x) (a x))\n"   /* 9 */
           "(defn main ()\n"           /* 10 */
           "  (print (tail 1)))\n",    /* 11 */
           one_vm, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 1);
    char l0[256];
    CU_ASSERT(lh_line(r.err, 0, l0, sizeof l0) && strstr(l0, "exited: #(error badarith)"));
    check_frame(r.err, 1, "c/1", 2);
    check_frame(r.err, 2, "b/1", 4);
    check_frame(r.err, 3, "a/1", 7);
    check_frame(r.err, 4, "main/0", 11);
    CU_ASSERT_EQUAL(lh_count_lines(r.err), 5);
    lh_result_free(&r);
}

/* A closure's frame, and the prelude's (map calls the closure). */
static void test_closures(void)
{
    lh_result_t r;
    lh_run("(defn main ()\n"
           "  (map (fn (x)\n"
           "         (error 'inside))\n"
           "       '(1)))\n",
           one_vm, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 1);
    check_frame(r.err, 1, "fn/1", 3);
    char l[256];
    CU_ASSERT(lh_line(r.err, 2, l, sizeof l) && strstr(l, "  at %map-acc/3 (<prelude>:"));
    lh_result_free(&r);
}

static void test_deep_cut(void)
{
    lh_result_t r;
    lh_run("(defn down (n)\n"
           "  (if (= n 0) (error 'bottom) (+ 1 (down (- n 1)))))\n"
           "(defn main () (down 1000))\n",
           one_vm, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 1);
    for (int i = 1; i <= TRACE_FRAMES; i++)
        check_frame(r.err, i, "down/1", 2);
    char l[256], want[64];
    /* down/1 for n = 1000 ... 0; main tail-called it */
    snprintf(want, sizeof want, "  ... %d more", 1001 - TRACE_FRAMES);
    CU_ASSERT(lh_line(r.err, TRACE_FRAMES + 1, l, sizeof l) && strcmp(l, want) == 0);
    lh_result_free(&r);
}

/* An exit gives no trace; nor does an error that a catch took before the
 * process ended some other way. */
static void test_no_trace(void)
{
    lh_result_t r;
    lh_run("(defn main () (exit 'my-reason))\n", one_vm, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT_EQUAL(lh_count_lines(r.err), 1);
    lh_result_free(&r);
    lh_run("(defn main () (catch (error 'x)) (exit 'after))\n", one_vm, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 1);
    CU_ASSERT_EQUAL(lh_count_lines(r.err), 1);
    lh_result_free(&r);
}

static CU_TestInfo tests[] = {
    {"three calls deep: frames in order, with lines", test_three_deep},
    {"closures and the prelude have frames", test_closures},
    {"a deep stack is cut", test_deep_cut},
    {"exits and caught errors have no trace", test_no_trace},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(trace, tests, NULL, NULL)
