/*
 * unit_main.c: the CUnit runner for every suite in tests/.
 *
 * Usage: unit_tests [SUITE ...]   runs the named suites, or all of them.
 * Exits non-zero if any test failed, after CUnit's own summary.
 */
#include "tests/unit.h"

#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_SUITES 64

static struct {
    const char *name;
    CU_TestInfo *tests;
    CU_InitializeFunc init;
    CU_CleanupFunc cleanup;
} suites[MAX_SUITES];
static int n_suites;

void unit_add(const char *name, CU_TestInfo *tests, CU_InitializeFunc init,
              CU_CleanupFunc cleanup)
{
    if (n_suites == MAX_SUITES) {
        fprintf(stderr, "unit: too many suites (raise MAX_SUITES)\n");
        abort();
    }
    suites[n_suites].name = name;
    suites[n_suites].tests = tests;
    suites[n_suites].init = init;
    suites[n_suites].cleanup = cleanup;
    n_suites++;
}

const char *unit_shoal_path(void)
{
    const char *p = getenv("SHOAL");
    return p && *p ? p : "build/shoal";
}

void unit_child_name(void)
{
    char name[32];
    snprintf(name, sizeof name, "unit-%d", (int)getpid());
    setenv("SHOAL_NAME", name, 1);
}

static int wanted(const char *name, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    unit_child_name(); /* for what system() runs; forked runs take their own */
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    for (int i = 0; i < n_suites; i++) {
        if (!wanted(suites[i].name, argc, argv))
            continue;
        CU_pSuite s = CU_add_suite(suites[i].name, suites[i].init, suites[i].cleanup);
        if (!s)
            return 2;
        for (CU_TestInfo *t = suites[i].tests; t->pName; t++)
            if (!CU_add_test(s, t->pName, t->pTestFunc))
                return 2;
    }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_suites_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
