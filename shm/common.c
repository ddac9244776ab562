/*
 * common.c: the failure path behind SHOAL_ASSERT and UNREACHABLE, and the
 * death of a crash-test hook.
 *
 * An internal invariant that does not hold is a bug in shoal, not bad
 * input: print where, and abort so that a core dump or the sanitizer
 * shows the stack. In a VM this is a VM crash, contained by the
 * supervisor like any other.
 */
#include "shm/common.h"

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

void shoal_errf(char *buf, size_t n, const char *fmt, ...)
{
    if (!buf || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

void shoal_assert_fail(const char *file, int line, const char *cond, const char *msg)
{
    fprintf(stderr, "shoal: internal error at %s:%d: %s (%s)\n", file, line, msg, cond);
    abort();
}

void shoal_crash_now(void)
{
    raise(SIGKILL);
    abort(); /* not reached: SIGKILL cannot be caught */
}
