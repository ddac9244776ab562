/*
 * child.c: running the real binary from a test (see child.h).
 */
#include "tests/child.h"

#include "tests/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


int64_t child_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int child_pidfd_of(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Start `shoal ARGS...` (args NULL-terminated, without argv[0]). With
 * own_group, the child leads a new process group (as a shell job would). */
void child_spawn(child_t *c, const char *const *args, bool own_group)
{
    memset(c, 0, sizeof *c);
    int out[2], err[2];
    CU_ASSERT_FATAL(pipe2(out, O_CLOEXEC) == 0 && pipe2(err, O_CLOEXEC) == 0);
    const char *argv[32] = {unit_shoal_path()};
    int n = 1;
    for (; args[n - 1] && n < 31; n++)
        argv[n] = args[n - 1];
    argv[n] = NULL;
    c->pid = fork();
    CU_ASSERT_FATAL(c->pid >= 0);
    if (c->pid == 0) {
        if (own_group)
            setpgid(0, 0);
        int null = open("/dev/null", O_RDONLY);
        dup2(null, 0);
        dup2(out[1], 1);
        dup2(err[1], 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(out[1]);
    close(err[1]);
    c->fd[0] = out[0];
    c->fd[1] = err[0];
    c->pidfd = child_pidfd_of(c->pid);
    CU_ASSERT_FATAL(c->pidfd >= 0);
}

/* Wait up to timeout_ms for output or exit and take what is there.
 * Returns false if nothing happened before the timeout. */
bool child_pump(child_t *c, int timeout_ms)
{
    struct pollfd p[3];
    int n = 0;
    for (int i = 0; i < 2; i++)
        if (c->fd[i] >= 0)
            p[n++] = (struct pollfd){.fd = c->fd[i], .events = POLLIN};
    if (!c->exited)
        p[n++] = (struct pollfd){.fd = c->pidfd, .events = POLLIN};
    if (n == 0)
        return false;
    int rc = poll(p, (nfds_t)n, timeout_ms);
    if (rc <= 0)
        return false;
    for (int k = 0; k < n; k++) {
        if (!p[k].revents)
            continue;
        if (p[k].fd == c->pidfd) {
            CU_ASSERT(waitpid(c->pid, &c->status, 0) == c->pid);
            c->exited = true;
            continue;
        }
        int i = p[k].fd == c->fd[0] ? 0 : 1;
        ssize_t got = read(c->fd[i], c->buf[i] + c->len[i], BUF - 1 - c->len[i]);
        if (got <= 0) {
            close(c->fd[i]);
            c->fd[i] = -1;
        } else {
            c->len[i] += (size_t)got;
            c->buf[i][c->len[i]] = 0;
        }
    }
    return true;
}

/* Pump until `needle` shows in stream `which` (0 stdout, 1 stderr). */
bool child_wait_for_text(child_t *c, int which, const char *needle, int timeout_ms)
{
    int64_t end = child_now_ms() + timeout_ms;
    while (!strstr(c->buf[which], needle)) {
        int64_t left = end - child_now_ms();
        if (left <= 0 || !child_pump(c, (int)left))
            return false;
        if (c->fd[which] < 0 && !strstr(c->buf[which], needle))
            return false;
    }
    return true;
}

/* Pump until the supervisor exited and both pipes reached EOF: EOF means
 * every process holding them (the VMs too) is gone. */
bool child_wait_done(child_t *c, int timeout_ms)
{
    int64_t end = child_now_ms() + timeout_ms;
    while (!c->exited || c->fd[0] >= 0 || c->fd[1] >= 0) {
        int64_t left = end - child_now_ms();
        if (left <= 0 || !child_pump(c, (int)left))
            break;
    }
    bool done = c->exited && c->fd[0] < 0 && c->fd[1] < 0;
    if (!done) {
        fprintf(stderr,
                "\nshoal did not finish (%s; stdout %s, stderr %s); stdout so far:\n%s\n"
                "stderr so far:\n%s\n",
                c->exited ? "the supervisor exited" : "the supervisor runs",
                c->fd[0] < 0 ? "closed" : "open", c->fd[1] < 0 ? "closed" : "open", c->buf[0],
                c->buf[1]);
        if (!c->exited) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &c->status, 0);
            c->exited = true;
        }
    }
    return done;
}

void child_release(child_t *c)
{
    for (int i = 0; i < 2; i++)
        if (c->fd[i] >= 0)
            close(c->fd[i]);
    if (c->pidfd >= 0)
        close(c->pidfd);
}

/* The VM pids from the verbose lines "shoal: VM i pid P cpuset ...". */
int child_vm_pids(const child_t *c, pid_t *pids, int max)
{
    int n = 0;
    for (const char *s = c->buf[1]; (s = strstr(s, "shoal: VM ")); s++) {
        unsigned vm;
        int pid;
        if (sscanf(s, "shoal: VM %u pid %d cpuset", &vm, &pid) == 2 && (int)vm < max) {
            n += pids[vm] == 0;
            pids[vm] = pid;
        }
    }
    return n;
}

