/*
 * fork.h: the one way the supervisor forks a VM.
 *
 * Every fork goes through fork_child (Redis's redisFork is the model). In
 * the child it first sets the VM's signal dispositions and mask, then asks
 * the kernel to kill it if the supervisor dies (and checks that the
 * supervisor is still there), then closes the descriptors that only the
 * supervisor should hold. The supervisor declares those with
 * fork_private_fd when it opens them (signalfd, timerfd, epoll, and later
 * the control socket's listening socket and its clients).
 *
 * NOTES
 *   Supervisor only; single-threaded. Errors: -1 with errno.
 */
#ifndef SHOAL_SUPERVISOR_FORK_H
#define SHOAL_SUPERVISOR_FORK_H

#include <sys/types.h>

/* Declare fd supervisor-only: every child closes it right after the fork.
 * Returns -1 (ENOSPC) if the table is full. */
int fork_private_fd(int fd);

/* The supervisor is closing fd: children need not close it any more. */
void fork_forget_fd(int fd);

/* Fork. Returns 0 in the child, once it is set up as described above, the
 * child's pid in the parent, or -1 with errno. The child leaves with
 * _exit, never exit: the supervisor's atexit handlers and stdio buffers
 * are not the child's (fork_child flushes stdio before forking). */
pid_t fork_child(void);

#endif
