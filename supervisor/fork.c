/*
 * fork.c: the one fork function, and the table of supervisor-only fds.
 *
 * The child's signal set-up, in order:
 *   1. dispositions: SIGINT is ignored, because Ctrl-C reaches the whole
 *      foreground process group and the supervisor alone decides how the
 *      run stops (it sets run.stopping and the VMs leave their loops).
 *      SIGTERM, SIGHUP, SIGCHLD and SIGPIPE go back to their defaults: the
 *      supervisor's SIGTERM is the backstop that ends a VM that does not
 *      stop. SIGPIPE is ignored: a VM writing to a closed pipe gets EPIPE,
 *      which vmproc/out.c reports, and the supervisor stops the run the
 *      way a Unix tool stops (a VM killed by SIGPIPE would look like a
 *      crash).
 *   2. the mask is cleared: the supervisor blocks the signals it reads from
 *      its signalfd, and the fork inherited that mask. A signal that
 *      arrived in between was held pending and now meets step 1's
 *      disposition, never the supervisor's.
 *   3. PR_SET_PDEATHSIG(SIGKILL), then a check that the parent is still the
 *      supervisor: if it died before the prctl, nobody would send it.
 *   4. close the supervisor-only fds.
 *
 * NOTES
 *   Supervisor only; the child runs this file's code once, before it
 *   returns 0 from fork_child.
 */
#include "supervisor/fork.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <unistd.h>

/* Supervisor-only fds: a handful now (signalfd, timerfd, epoll); the control
 * socket adds its listener and clients, so leave room. */
#define FORK_MAX_PRIVATE 256

static int private_fds[FORK_MAX_PRIVATE];
static int n_private;

int fork_private_fd(int fd)
{
    if (n_private == FORK_MAX_PRIVATE) {
        errno = ENOSPC;
        return -1;
    }
    private_fds[n_private++] = fd;
    return 0;
}

void fork_forget_fd(int fd)
{
    for (int i = 0; i < n_private; i++)
        if (private_fds[i] == fd) {
            private_fds[i] = private_fds[--n_private];
            return;
        }
}

static void set_disposition(int sig, void (*handler)(int))
{
    struct sigaction sa = {0};
    sa.sa_handler = handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void child_setup(pid_t parent)
{
    set_disposition(SIGINT, SIG_IGN);
    set_disposition(SIGTERM, SIG_DFL);
    set_disposition(SIGHUP, SIG_DFL);
    set_disposition(SIGCHLD, SIG_DFL);
    set_disposition(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);

    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(1);

    for (int i = 0; i < n_private; i++)
        close(private_fds[i]);
    n_private = 0;
}

pid_t fork_child(void)
{
    pid_t parent = getpid();
    /* Anything buffered now belongs to the supervisor; unflushed, it would
     * be printed once more by every child. */
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0)
        child_setup(parent);
    return pid;
}
