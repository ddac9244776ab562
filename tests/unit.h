/*
 * unit.h: how a test file adds its CUnit suite to the one runner.
 *
 * Each tests/test_*.c ends with UNIT_SUITE(name, tests, init, cleanup);
 * a constructor queues the suite and tests/unit_main.c registers them all,
 * so adding a suite touches no shared file.
 */
#ifndef SHOAL_TESTS_UNIT_H
#define SHOAL_TESTS_UNIT_H

#include <CUnit/CUnit.h>

void unit_add(const char *name, CU_TestInfo *tests, CU_InitializeFunc init,
              CU_CleanupFunc cleanup);

#define UNIT_SUITE(name, tests, init, cleanup)                                \
    static void unit_register_##name(void) __attribute__((constructor));     \
    static void unit_register_##name(void)                                    \
    {                                                                         \
        unit_add(#name, (tests), (init), (cleanup));                          \
    }

/* Path of the shoal binary under test (env SHOAL, default build/shoal). */
const char *unit_shoal_path(void);

/* In a forked child about to exec shoal: a run name of its own (env
 * SHOAL_NAME = unit-PID), so that runs of tests that go on at the same
 * time, here or in another checkout, never claim the same name. */
void unit_child_name(void);

#endif
