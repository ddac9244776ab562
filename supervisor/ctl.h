/*
 * ctl.h: the control socket: a Unix socket per run, in a private
 * directory, that serves `shoal stats`, `ps`, `inspect`, `top` and
 * `policy` (DESIGN.md, "Observability"; README.md has the protocol).
 *
 * Where: $XDG_RUNTIME_DIR/shoal/NAME.sock, or /tmp/shoal-UID/NAME.sock
 * when XDG_RUNTIME_DIR is unset; the directory is created with mode 0700
 * and must be ours, a real directory and mode 0700, or the run refuses to
 * use it. NAME.lock beside the socket is held (flock) for the whole run:
 * a second run with the same name is refused while the first lives, and a
 * socket left by a run that died is stale and replaced.
 *
 * The server runs inside the supervisor's event loop: ctl_fd is an epoll
 * fd of its own (the listener and each client), which run.c watches as
 * one input. It never blocks: sockets are non-blocking, each client has a
 * bounded input line and a bounded reply, there are at most CTL_MAX_CLIENTS
 * of them, and a client that sends nothing, or reads nothing, for a while
 * is closed. A peer of another uid is refused (SO_PEERCRED).
 *
 * `ps` and `inspect` ask the owning VMs (shm/info.h) and answer when the
 * VMs have, or when a VM is past its deadline (the reply then says which
 * VM did not answer); one such job runs at a time, others wait in turn.
 *
 * NOTES
 *   Supervisor only; single-threaded. Its fds are declared to fork.c so
 *   that VMs do not inherit them. Errors of set-up are returned as text;
 *   nothing here exits.
 */
#ifndef SHOAL_SUPERVISOR_CTL_H
#define SHOAL_SUPERVISOR_CTL_H

#include "shm/segment.h"
#include "supervisor/ctlpolicy.h"
#include "supervisor/stats.h"

#include <stddef.h>

#define CTL_MAX_CLIENTS 16u
/* The longest reply: a ps of CTL_MAX_ROWS processes fits. */
#define CTL_MAX_REPLY (32u << 20)
/* A request must arrive whole within this of its first byte. */
#define CTL_REQUEST_TIMEOUT_MS 10000u
/* A client that neither sends a request nor reads its reply for this long
 * is closed. */
#define CTL_IDLE_TIMEOUT_MS 120000u
/* Names: letters, digits, '.', '_' and '-', not starting with '.'. */
#define CTL_MAX_NAME 64u

typedef struct ctlsrv ctlsrv_t;

/* Whether `name` is a valid run name; if not, why, in err. */
bool ctl_name_ok(const char *name, char *err, size_t errlen);

/* The socket path of run `name` into buf; the directory into dir (may be
 * NULL). -1 with a reason (the path is too long). */
int ctl_path(const char *name, char *dir, size_t dirlen, char *buf, size_t len, char *err,
             size_t errlen);

/* Make sure the private directory exists and is safe (ours, a directory,
 * mode 0700). -1 with a reason. */
int ctl_dir_check(const char *dir, bool create, char *err, size_t errlen);

/* Claim run name `name` and listen on its socket. NULL with a reason in
 * err; *taken is set when another live run holds the name. */
ctlsrv_t *ctl_open(const char *name, char *err, size_t errlen, bool *taken);

/* Attach the run: its segment, statistics and policy; `program`: VMs run
 * a program (else the smoke loop, which answers no requests). */
void ctl_attach(ctlsrv_t *c, shm_header_t *h, stats_t *st, ctlpolicy_t *pol, bool program);

/* The fd that becomes readable when the server has work (epoll). */
int ctl_fd(const ctlsrv_t *c);

/* Handle what is ready on the server's fds. */
void ctl_ready(ctlsrv_t *c);

/* VMs may have answered (the supervisor's eventfd fired). */
void ctl_answers(ctlsrv_t *c);

/* Every tick: deadlines of VM answers and of clients. */
void ctl_tick(ctlsrv_t *c, uint64_t now_ns);

/* Remove the socket and close everything. NULL is fine. */
void ctl_close(ctlsrv_t *c);

#endif
