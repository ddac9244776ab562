/*
 * child.h: running the real `shoal` binary from a test, with its stdout
 * and stderr captured and its exit waited for through a pidfd (the
 * supervisor-level suites: tests/test_lifecycle.c, tests/test_recover.c).
 *
 * NOTES
 *   Single-threaded test code. Waits are bounded and wait on events
 *   (output, exit), never on a fixed sleep.
 */
#ifndef SHOAL_TESTS_CHILD_H
#define SHOAL_TESTS_CHILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BUF 32768

typedef struct child {
    pid_t pid;
    int pidfd;
    int fd[2]; /* read ends: [0] stdout, [1] stderr; -1 at EOF */
    char buf[2][BUF];
    size_t len[2];
    bool exited;
    int status;
} child_t;

int64_t child_now_ms(void);
int child_pidfd_of(pid_t pid);

/* Start `shoal ARGS...` (args NULL-terminated, without argv[0]). With
 * own_group, the child leads a new process group (as a shell job would). */
void child_spawn(child_t *c, const char *const *args, bool own_group);

/* Wait up to timeout_ms for output or exit and take what is there.
 * Returns false if nothing happened before the timeout. */
bool child_pump(child_t *c, int timeout_ms);

/* Pump until `needle` shows in stream `which` (0 stdout, 1 stderr). */
bool child_wait_for_text(child_t *c, int which, const char *needle, int timeout_ms);

/* Pump until the supervisor exited and both pipes reached EOF (every
 * process holding them, the VMs too, is gone). Kills it past the time. */
bool child_wait_done(child_t *c, int timeout_ms);

void child_release(child_t *c);

/* The VM pids from the verbose lines "shoal: VM i pid P cpuset ...", the
 * last one for each VM (a restarted VM registers again), into pids[],
 * which the caller zeroes. Returns how many VMs were found. */
int child_vm_pids(const child_t *c, pid_t *pids, int max);

#endif
