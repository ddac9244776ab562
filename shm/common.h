/*
 * common.h: definitions every layer of shoal shares.
 *
 * SHOAL_ASSERT checks internal invariants in debug and test builds
 * (SHOAL_DEBUG, which `make asan` defines) and costs nothing otherwise.
 * Neither it nor UNREACHABLE ever validates user input: user input always
 * gets a clear error through the normal error path.
 */
#ifndef SHOAL_COMMON_H
#define SHOAL_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHOAL_VERSION "0.1.0"

/* Hard limits that size fixed arrays in the shared segment. */
#define SHOAL_MAX_VMS 1024   /* --vms above this is refused as absurd */
#define SHOAL_MAX_NODES 64   /* NUMA nodes the segment keeps lists for */

/* Exit statuses of `shoal` (documented in --help and the README). The
 * VM that runs main writes OK or MAIN_FAILED into the segment's run state;
 * the supervisor returns the rest. */
enum {
    SHOAL_EXIT_OK = 0,
    SHOAL_EXIT_MAIN_FAILED = 1, /* main did not return normally; the reason is on stderr */
    SHOAL_EXIT_USAGE = 2,       /* bad command line, config, topology or program */
    SHOAL_EXIT_VM_DIED = 3,     /* a VM died and the run was stopped */
    SHOAL_EXIT_FAIL = 4,        /* could not start or go on: a system call failed, or
                                 * memory, the shared segment or a write ran out */
    SHOAL_EXIT_SIGNAL = 128     /* + N: stopped by signal N */
};

#define SHOAL_CACHE_LINE 64
#define SHOAL_PAGE 4096u

void shoal_assert_fail(const char *file, int line, const char *cond, const char *msg);

#ifdef SHOAL_DEBUG
#define SHOAL_ASSERT(cond, msg)                                          \
    do {                                                                 \
        if (!(cond))                                                     \
            shoal_assert_fail(__FILE__, __LINE__, #cond, (msg));         \
    } while (0)
#else
#define SHOAL_ASSERT(cond, msg) ((void)0)
#endif

/* Format an error message into a caller's buffer (nothing if buf is NULL
 * or n is 0): how library code reports what went wrong without printing. */
void shoal_errf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Read the whole of `path`, which must be a regular file of at most `max`
 * bytes: never a directory, FIFO or device (/dev/zero would never end, a
 * FIFO could block forever). Returns a malloc'd buffer with a NUL after
 * its *len bytes, or NULL with errno set and the reason, for a message of
 * the form "cannot read PATH: REASON", in `why` (EFBIG: larger than max;
 * EINVAL: not a regular file). */
char *shoal_read_file(const char *path, uint64_t max, size_t *len, char *why, size_t whylen);

/* Length of the well-formed UTF-8 sequence at s (n bytes left): 1 for
 * ASCII, 2 to 4 for the rest (no overlong form, no surrogate, nothing
 * past U+10FFFF), 0 if the bytes there are not UTF-8. */
size_t shoal_utf8_len(const unsigned char *s, size_t n);

/* Copy the NUL-terminated `src` into dst (n bytes, always terminated),
 * with every byte that is not printable ASCII or part of well-formed
 * UTF-8 written as \xNN, so that a message quoting source or user input
 * never writes raw control or invalid bytes to a terminal. An escape is
 * never cut in half by the end of dst. Returns dst. */
char *shoal_escape(char *dst, size_t n, const char *src);

/* How much C stack a recursive pass over user input (the reader, the
 * compiler) may use: what RLIMIT_STACK allows, less 1 MiB for what runs
 * around it. A form nested deeper than the stack can hold is then an
 * error at that form, never a crash, whatever the build's frame sizes
 * (AddressSanitizer's are several times larger). */
typedef struct shoal_stack {
    uintptr_t top; /* where the pass began */
    size_t budget;
} shoal_stack_t;

void shoal_stack_start(shoal_stack_t *s);

static inline bool shoal_stack_low(const shoal_stack_t *s)
{
    char here;
    return s->top - (uintptr_t)&here > s->budget;
}

#define UNREACHABLE() shoal_assert_fail(__FILE__, __LINE__, "unreachable", "impossible case")

/* Crash-test hooks (pool.c, ets.c): a module's `..._crash_step` variable,
 * set only by tests in a forked child, names the point of an operation at
 * which the process kills itself with SIGKILL, as a VM that dies there. */
void shoal_crash_now(void) __attribute__((noinline, cold, noreturn));
#define SHOAL_CRASH_POINT(armed, step)                 \
    do {                                               \
        if (__builtin_expect((armed) == (step), 0))    \
            shoal_crash_now();                         \
    } while (0)

#define SHOAL_ALIGN_UP(x, a) (((x) + ((a) - 1)) & ~((uintptr_t)(a) - 1))

#endif
