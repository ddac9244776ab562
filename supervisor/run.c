/*
 * run.c: one run: create the segment, fork the VMs, watch them, stop.
 *
 * The supervisor has one event loop (epoll), in the style of PostgreSQL's
 * postmaster and Redis's ae: every input is a file descriptor with a
 * handler (run_source_t):
 *   - a signalfd for SIGCHLD (reap and report VMs), and SIGINT, SIGTERM and
 *     SIGHUP (stop the run cleanly);
 *   - a timerfd that ticks every RUN_TICK_MS: heartbeat checks, the
 *     deadlines of a stop, and a look at the VM table in case a
 *     notification was missed;
 *   - an eventfd that VMs write after they change something the supervisor
 *     waits for (registered, smoke result published, run.done);
 *   - a timerfd that ticks every [policy] interval_ms, when the policy
 *     rebalances or samples traffic: the balancer (balancer.c);
 *   - the control socket and its clients (ctl.c), behind an epoll fd of
 *     their own; the tick also closes the stats window (stats.c), and the
 *     eventfd also says that VMs answered a question of the socket's.
 * The signals are blocked for the whole run, so they arrive only through
 * the signalfd, between two handlers, never in the middle of one.
 *
 * Stopping: run_stop sets run.stopping, wakes every VM, and arms two
 * deadlines, SIGTERM then SIGKILL, checked on the timer tick (never a
 * sleep). The loop ends when the run is stopping and every VM is reaped.
 * A VM death outside a stop goes to vm_died, the one place that a later
 * recovery will replace.
 *
 * NOTES
 *   Supervisor only; single-threaded. In shared memory the supervisor
 *   writes only run.stopping, each VM's placement group and os_pid before
 *   or right after its fork, `state` = VM_STARTING before the fork and
 *   VM_DEAD after a death, `wake` through vm_wake, the active policy, the
 *   producer side of the plan rings and the epochs (balancer.c), and, after a VM died,
 *   what recovery repairs: the locks, journal and cache it held in the pool,
 *   the shared-table locks, the slots it was claiming. It takes no lock
 *   other than a dead VM's pool lock, which recovery breaks.
 */
#include "supervisor/run.h"

#include "shm/pool.h"
#include "shm/segment.h"
#include "shm/vmtab.h"
#include "supervisor/balancer.h"
#include "supervisor/ctl.h"
#include "supervisor/ctlpolicy.h"
#include "supervisor/ctlproto.h"
#include "supervisor/fork.h"
#include "supervisor/stats.h"
#include "shm/proctab.h"
#include "vmproc/ets.h"
#include "vmproc/out.h"
#include "vmproc/register.h"
#include "vmproc/program.h"
#include "vmproc/vm.h"

#include <ck_pr.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* The supervisor's tick. 50 ms: a stop's deadlines and a missed
 * notification are noticed within a tick, and 20 wake-ups a second cost
 * nothing measurable. Deaths do not wait for it: SIGCHLD is immediate. */
#define RUN_TICK_MS 50

/* After run.stopping and a wake, a VM gets this long to leave its loop
 * before SIGTERM: an idle VM leaves at once (it was woken), a busy one at
 * its next safe point. The time counts from the last move of its
 * heartbeat: a VM in a long collection or copy beats (shm/beat.h) and
 * is not stuck, and one that has left its loop (VM_STOPPED) is only
 * exiting. Then SIGTERM gets as long before SIGKILL. */
#define RUN_STOP_GRACE_MS 2000
#define RUN_TERM_GRACE_MS 2000

typedef struct run run_t;

/* One input of the event loop. */
typedef struct run_source {
    int fd;
    void (*ready)(run_t *r, uint32_t events);
} run_source_t;

/* What the supervisor knows of one VM (private memory). */
typedef struct run_vm {
    pid_t pid;            /* 0 once reaped (or never forked) */
    bool registered;      /* seen VM_RUNNING */
    bool smoke_seen;      /* seen its smoke result */
    int killed_with;      /* the last signal we sent it, or 0 */
    uint64_t term_at;     /* while stopping: SIGTERM at this time (ns) unless it
                           * beats or stops first */
    uint64_t last_beat;   /* heartbeat at the last tick */
    uint32_t quiet_ticks; /* ticks since the heartbeat last moved */
    uint64_t quiet_cpu;   /* its CPU time (clock ticks) when the heartbeat last moved */
} run_vm_t;

enum run_stop_how {
    STOP_GRACEFUL, /* stopping + wake; SIGTERM only if a VM does not leave */
    STOP_TERM_NOW  /* stopping + wake + SIGTERM at once (after a VM death) */
};

struct run {
    const shoal_opts_t *opts;
    const topo_t *topo;
    const topo_placement_t *place;
    shm_header_t *h;
    uint32_t n_vms;
    run_vm_t *vms;
    uint32_t n_alive, n_registered, n_smoke;
    bool program; /* a program was loaded */
    bool ready_said, smoke_said;
    bool stopping, term_sent, kill_sent;
    uint64_t kill_at;          /* CLOCK_MONOTONIC ns: SIGKILL to what is left (0: none yet) */
    int status;                /* the exit status, set by whoever stops the run */
    int epfd;
    run_source_t sig, tick, notify, balance, ctl;
    balancer_t bal;
    bool *alive; /* per VM, for the balancer: registered and not reaped */
    ctlsrv_t *srv;             /* the control socket, or NULL */
    stats_t stats;
    ctlpolicy_t pol;           /* what the socket's policy requests change */
    /* restarts: the intensity limit and the times of the last ones */
    uint32_t max_restarts, restart_window_s;
    uint64_t *restart_times; /* ring of max_restarts CLOCK_MONOTONIC ns */
    uint64_t restart_next, n_restarts;
    uint32_t stall_ms;       /* a heartbeat still this long is a stall */
    sigset_t old_mask;
    bool mask_set;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Add an input to the event loop. Supervisor-only fds are also declared to
 * fork.c, so that VMs do not inherit them. */
static int run_watch(run_t *r, run_source_t *src, bool private_fd)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, src->fd, &ev) < 0)
        return -1;
    return private_fd ? fork_private_fd(src->fd) : 0;
}

static void describe_status(int status, char *buf, size_t len)
{
    if (WIFEXITED(status))
        snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(status),
                 strsignal(WTERMSIG(status)), WCOREDUMP(status) ? ", core dumped" : "");
    else
        snprintf(buf, len, "ended with wait status 0x%x", (unsigned)status);
}

static void signal_all(run_t *r, int sig, const char *why)
{
    for (uint32_t i = 0; i < r->n_vms; i++)
        if (r->vms[i].pid > 0) {
            if (why)
                fprintf(stderr, "shoal: VM %u (pid %d) %s\n", i, (int)r->vms[i].pid, why);
            /* A VM that exited but is not reaped yet is a zombie: its pid
             * cannot be reused, so this never hits another process. */
            kill(r->vms[i].pid, sig);
            r->vms[i].killed_with = sig;
        }
}

/* Stop the run with exit status `status` (the first stop's status wins). */
static void run_stop(run_t *r, int status, enum run_stop_how how)
{
    if (r->stopping)
        return;
    r->stopping = true;
    r->status = status;
    /* vm_wake's release fence orders this store before each wake, so a
     * VM that wakes sees stopping == 1. */
    ck_pr_store_32(&r->h->run.stopping, 1);
    for (uint32_t i = 0; i < r->n_vms; i++)
        if (r->vms[i].pid > 0)
            vm_wake(shm_vm(r->h, i));
    uint64_t now = now_ns();
    if (how == STOP_TERM_NOW) {
        signal_all(r, SIGTERM, NULL);
        r->term_sent = true;
        r->kill_at = now + RUN_TERM_GRACE_MS * 1000000ull;
    } else {
        for (uint32_t i = 0; i < r->n_vms; i++)
            r->vms[i].term_at = now + RUN_STOP_GRACE_MS * 1000000ull;
    }
}

/* While a graceful stop waits: SIGTERM to each VM that has neither left
 * its loop nor moved its heartbeat for RUN_STOP_GRACE_MS, then SIGKILL to
 * what is left RUN_TERM_GRACE_MS after the first SIGTERM. */
static void stop_deadlines(run_t *r, uint64_t now)
{
    for (uint32_t i = 0; i < r->n_vms && !r->term_sent; i++) {
        run_vm_t *v = &r->vms[i];
        if (v->pid <= 0 || v->killed_with)
            continue;
        shm_vm_t *vm = shm_vm(r->h, i);
        if (ck_pr_load_32(&vm->state) == VM_STOPPED)
            continue; /* out of its loop: exiting, not stuck */
        uint64_t beat = ck_pr_load_64(&vm->heartbeat);
        if (beat != v->last_beat) {
            v->last_beat = beat;
            v->term_at = now + RUN_STOP_GRACE_MS * 1000000ull;
            continue;
        }
        if (now < v->term_at)
            continue;
        fprintf(stderr, "shoal: VM %u (pid %d) did not stop in time; sending SIGTERM\n", i,
                (int)v->pid);
        kill(v->pid, SIGTERM);
        v->killed_with = SIGTERM;
        if (!r->kill_at)
            r->kill_at = now + RUN_TERM_GRACE_MS * 1000000ull;
    }
    if (r->kill_at && !r->kill_sent && now >= r->kill_at) {
        r->kill_sent = true;
        signal_all(r, SIGKILL, "did not stop in time; killing it");
    }
}

/* A VM died while the run was not stopping. Report it at once and stop
 * the run. This is the one function that crash recovery will replace
 * (DESIGN.md, "Crash model"): recover the dead VM's processes and restart
 * it instead of stopping. */
static int fork_vm(run_t *r, uint32_t i);

/* Whether one more restart keeps within the intensity limit: at most
 * max_restarts in any restart_window_s seconds, over all VMs (as an OTP
 * supervisor counts). Records it if so. */
static bool restart_allowed(run_t *r, uint64_t now)
{
    uint32_t max = r->max_restarts;
    if (max == 0)
        return false;
    uint64_t window = (uint64_t)r->restart_window_s * 1000000000ull;
    /* the oldest of the last `max` restarts must be out of the window */
    uint64_t oldest = r->restart_times[r->restart_next % max];
    if (r->n_restarts >= max && now - oldest < window)
        return false;
    r->restart_times[r->restart_next % max] = now;
    r->restart_next++;
    r->n_restarts++;
    return true;
}

/* A VM died while the run was not stopping (DESIGN.md, "Crash model").
 * The supervisor's part waits on nobody: break the locks the dead VM
 * held, restart it under the intensity limit, and tell the live VMs
 * (run.deaths); the new incarnation adopts its predecessor's processes,
 * and the live VMs take over what it left in their hands
 * (vmproc/recover.h). Past the limit, or with no program (the smoke
 * workload), the run stops. */
static void vm_died(run_t *r, uint32_t i, pid_t pid, int status)
{
    char why[128];
    describe_status(status, why, sizeof why);
    shm_vm_t *vm = shm_vm(r->h, i);
    ck_pr_store_32(&vm->state, VM_DEAD);
    /* Break the pool locks the dead VM held, without waiting (DESIGN.md:
     * the supervisor takes no lock in shared memory). Its other repairs,
     * the shared tables' and its pool runs', are its next incarnation's
     * (vmproc/recover.c), which takes locks as any VM does. */
    pool_break_locks(r->h, i);
    if (r->program)
        out_recover_vm(r->h, i);
    /* Names of processes that are gone count as free already (register.h);
     * this clears them. */
    if (r->program)
        reg_recover(r->h);
    if (!r->program) {
        fprintf(stderr, "shoal: VM %u (pid %d) %s; stopping the run\n", i, (int)pid, why);
        run_stop(r, SHOAL_EXIT_VM_DIED, STOP_TERM_NOW);
        return;
    }
    if (!restart_allowed(r, now_ns())) {
        fprintf(stderr,
                "shoal: VM %u (pid %d) %s; more than %u restarts in %u s "
                "([run] max_restarts, restart_window_s): stopping the run\n",
                i, (int)pid, why, r->max_restarts, r->restart_window_s);
        run_stop(r, SHOAL_EXIT_VM_DIED, STOP_TERM_NOW);
        return;
    }
    fprintf(stderr, "shoal: VM %u (pid %d) %s; restarting it\n", i, (int)pid, why);
    /* The new incarnation: a new number (processes the dead one held now
     * name a dead holder), and fresh fields, but for the inbound list,
     * which it drains. Then the fork; then the live VMs hear of it. */
    ck_pr_store_32(&vm->restarts, vm->restarts + 1);
    ck_pr_store_32(&vm->sleeping, 0);
    ck_pr_store_32(&vm->steal_req, 0);
    ck_pr_store_32(&vm->runq, 0);
    ck_pr_store_32(&vm->in_output, 0);
    ck_pr_store_64(&vm->heartbeat, 0);
    ck_pr_store_64(&vm->reductions, 0);
    ck_pr_store_64(&vm->heap_local, 0);
    ck_pr_store_64(&vm->heap_remote, 0);
    ck_pr_store_64(&vm->msgs_local, 0);
    ck_pr_store_64(&vm->msgs_remote, 0);
    ck_pr_store_64(&vm->started, 0);
    ck_pr_store_64(&vm->exited, 0);
    ck_pr_store_64(&vm->torture_in, 0);
    ck_pr_store_64(&vm->torture_out, 0);
    ck_pr_store_64(&vm->plan_done, 0);
    ck_pr_store_32(&vm->idle_seq, 0);
    ck_pr_store_64(&vm->idle_ns, 0);
    ck_pr_store_64(&vm->idle_since, 0);
    ck_pr_store_64(&vm->loop_start_ns, 0);
    ck_pr_store_64(&vm->plan_dropped, 0);
    for (int c = 0; c < MIG_CAUSES; c++) {
        ck_pr_store_64(&vm->mig_in[c], 0);
        ck_pr_store_64(&vm->mig_out[c], 0);
    }
    r->vms[i].registered = false;
    r->n_registered--;
    /* Release: the repairs above and the new incarnation number are
     * visible before a VM sees the death counted. */
    ck_pr_fence_release();
    if (fork_vm(r, i) < 0) {
        run_stop(r, SHOAL_EXIT_VM_DIED, STOP_TERM_NOW);
        return;
    }
    ck_pr_inc_32(&r->h->run.deaths);
    for (uint32_t k = 0; k < r->n_vms; k++)
        if (k != i && r->vms[k].pid > 0)
            vm_wake(shm_vm(r->h, k));
}

static void print_smoke(run_t *r)
{
    for (uint32_t i = 0; i < r->n_vms; i++) {
        shm_vm_t *vm = shm_vm(r->h, i);
        printf("VM %u: cpuset %s, node %u, smoke %016" PRIx64 "\n", i, vm->cpuset, vm->node,
               ck_pr_load_64(&vm->smoke));
    }
    fflush(stdout);
}

/* Look at the VM table: registrations, smoke results, run.done. Called
 * when a VM notifies, on every tick, and before a death is reported (a VM
 * that set run.done and exited did not die). */
static void check_vms(run_t *r)
{
    for (uint32_t i = 0; i < r->n_vms; i++) {
        shm_vm_t *vm = shm_vm(r->h, i);
        run_vm_t *v = &r->vms[i];
        /* Acquire: pairs with the VM's release before VM_RUNNING, so
         * `bound` is read after the VM wrote it. */
        uint32_t state = ck_pr_load_32(&vm->state);
        ck_pr_fence_acquire();
        if (!v->registered && (state == VM_RUNNING || state == VM_STOPPED)) {
            v->registered = true;
            r->n_registered++;
            if (r->opts->verbose)
                fprintf(stderr, "shoal: VM %u pid %d cpuset %s node %u%s\n", i, (int)vm->os_pid,
                        vm->cpuset, vm->node, ck_pr_load_32(&vm->bound) ? " bound" : "");
        }
        if (r->opts->smoke && !v->smoke_seen && ck_pr_load_64(&vm->smoke) != 0) {
            v->smoke_seen = true;
            r->n_smoke++;
        }
    }
    if (!r->ready_said && r->n_registered == r->n_vms) {
        r->ready_said = true;
        if (r->opts->verbose)
            fprintf(stderr, "shoal: ready (%u VMs)\n", r->n_vms);
    }
    if (r->stopping)
        return;
    if (r->opts->smoke && !r->smoke_said && r->n_smoke == r->n_vms) {
        r->smoke_said = true;
        print_smoke(r);
        if (!r->opts->hold)
            run_stop(r, SHOAL_EXIT_OK, STOP_GRACEFUL);
    }
    /* A failed write to stdout ends the run (vmproc/out.h): quietly when
     * the reader went away, as a Unix tool dies of SIGPIPE; with the
     * reason otherwise. It wins over main's own end, which may have
     * happened because of it. */
    int oe = r->program ? out_error(r->h) : 0;
    if (oe == EPIPE) {
        run_stop(r, SHOAL_EXIT_SIGNAL + SIGPIPE, STOP_GRACEFUL);
        return;
    }
    if (oe) {
        fprintf(stderr, "shoal: cannot write to standard output: %s\n", strerror(oe));
        run_stop(r, SHOAL_EXIT_FAIL, STOP_GRACEFUL);
        return;
    }
    /* Acquire: the VM wrote exit_status before it set done (release). */
    if (r->program && ck_pr_load_32(&r->h->run.done)) {
        ck_pr_fence_acquire();
        int32_t st = (int32_t)ck_pr_load_32((uint32_t *)&r->h->run.exit_status);
        run_stop(r, st & 0xff, STOP_GRACEFUL);
    }
}

static uint32_t vm_of(const run_t *r, pid_t pid)
{
    for (uint32_t i = 0; i < r->n_vms; i++)
        if (r->vms[i].pid == pid)
            return i;
    return UINT32_MAX;
}

static void reap(run_t *r)
{
    for (;;) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid <= 0)
            return; /* 0: the others still run; -1 (ECHILD): none left */
        uint32_t i = vm_of(r, pid);
        if (i == UINT32_MAX)
            continue;
        run_vm_t *v = &r->vms[i];
        v->pid = 0;
        r->n_alive--;
        if (!r->stopping)
            check_vms(r);
        if (!r->stopping) {
            vm_died(r, i, pid, status);
            continue;
        }
        bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        bool ours = WIFSIGNALED(status) && WTERMSIG(status) == v->killed_with;
        if (!clean) {
            ck_pr_store_32(&shm_vm(r->h, i)->state, VM_DEAD);
            if (!ours) {
                char why[128];
                describe_status(status, why, sizeof why);
                fprintf(stderr, "shoal: VM %u (pid %d) %s while the run was stopping\n", i,
                        (int)pid, why);
            }
        }
    }
}

static void on_signal(run_t *r, uint32_t events)
{
    (void)events;
    struct signalfd_siginfo si;
    while (read(r->sig.fd, &si, sizeof si) == (ssize_t)sizeof si) {
        int sig = (int)si.ssi_signo;
        if (sig == SIGCHLD) {
            reap(r);
        } else if (!r->stopping) {
            fprintf(stderr, "shoal: stopped by signal %d (%s)\n", sig, strsignal(sig));
            run_stop(r, SHOAL_EXIT_SIGNAL + sig, STOP_GRACEFUL);
        } else if (!r->kill_sent) {
            /* A second signal while stopping: the user is in a hurry. */
            r->kill_sent = true;
            signal_all(r, SIGKILL, "killed: a second signal while stopping");
        }
    }
    /* SIGCHLD coalesces, and a signal can arrive between the read and
     * here; reaping once more costs one waitpid. */
    reap(r);
}

/* A process's state letter and CPU time (user + system, clock ticks)
 * from /proc/PID/stat. False if it cannot be read (then the heartbeat
 * alone decides). */
static bool proc_stat(pid_t pid, char *state, uint64_t *cpu)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return false;
    buf[n] = 0;
    /* "pid (comm) S ppid pgrp session tty tpgid flags minflt cminflt
     * majflt cmajflt utime stime ...": comm may hold spaces and ')' */
    const char *p = strrchr(buf, ')');
    unsigned long long ut, st;
    if (!p || sscanf(p + 1, " %c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", state, &ut,
                     &st) != 3)
        return false;
    *cpu = ut + st;
    return true;
}

/* Whether a VM whose heartbeat has stood still for stall_ms is stalled.
 * Stopped (SIGSTOP, a debugger), or blocked in the kernel while it has
 * work, or running without beating for half that time in CPU: yes. Ready
 * to run but given little CPU (a loaded machine keeps it off its core):
 * not a stall, however long; it beats once it runs. */
static bool stalled(const run_t *r, const run_vm_t *v)
{
    char state;
    uint64_t cpu;
    if (!proc_stat(v->pid, &state, &cpu))
        return true;
    if (state == 'T' || state == 't')
        return true;
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t used_ms = (cpu - v->quiet_cpu) * 1000u / (uint64_t)(hz > 0 ? hz : 100);
    if (used_ms * 2 >= r->stall_ms)
        return true;
    return state != 'R';
}

/* The heartbeat check. A VM whose heartbeat stands still for stall_ms is
 * stalled (DESIGN.md, "Crash model"): stuck in a loop, stopped, or
 * waiting on something that will not come (see `stalled` for how a VM
 * that a loaded machine keeps off its core is told apart). It is killed,
 * and its death is recovered as any other. An idle VM beats every
 * VM_IDLE_MS, a busy one at every turn of its loop and during long
 * collections and copies (shm/beat.h); one that waits to write stdout
 * says so (in_output): a slow reader is not a stall. */
static void check_heartbeats(run_t *r)
{
    for (uint32_t i = 0; i < r->n_vms; i++) {
        run_vm_t *v = &r->vms[i];
        if (v->pid <= 0 || !v->registered || v->killed_with)
            continue;
        shm_vm_t *vm = shm_vm(r->h, i);
        uint64_t beat = ck_pr_load_64(&vm->heartbeat);
        if (beat != v->last_beat || ck_pr_load_32(&vm->in_output)) {
            v->last_beat = beat;
            v->quiet_ticks = 0;
            continue;
        }
        if (v->quiet_ticks++ == 0) {
            char state;
            if (!proc_stat(v->pid, &state, &v->quiet_cpu))
                v->quiet_cpu = 0;
        }
        if (r->program && r->stall_ms && (uint64_t)v->quiet_ticks * RUN_TICK_MS >= r->stall_ms &&
            stalled(r, v)) {
            fprintf(stderr, "shoal: VM %u (pid %d) stalled: no heartbeat for %u ms; killing it\n",
                    i, (int)v->pid, r->stall_ms);
            kill(v->pid, SIGKILL);
            v->killed_with = SIGKILL;
        }
    }
}

static void on_tick(run_t *r, uint32_t events)
{
    (void)events;
    uint64_t expirations;
    if (read(r->tick.fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return;
    check_vms(r);
    uint64_t now = now_ns();
    stats_tick(&r->stats, now);
    ctl_tick(r->srv, now);
    if (!r->stopping) {
        check_heartbeats(r);
        return;
    }
    stop_deadlines(r, now);
}

static void on_balance(run_t *r, uint32_t events)
{
    (void)events;
    uint64_t expirations;
    if (read(r->balance.fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
        return;
    if (r->stopping)
        return;
    for (uint32_t i = 0; i < r->n_vms; i++)
        r->alive[i] = r->vms[i].pid > 0 && r->vms[i].registered;
    balancer_tick(&r->bal, now_ns() / 1000000u, r->alive);
}

static void on_notify(run_t *r, uint32_t events)
{
    (void)events;
    uint64_t count;
    /* Reading resets the counter; EAGAIN means another read took it. */
    if (read(r->notify.fd, &count, sizeof count) < 0 && errno != EAGAIN)
        return;
    check_vms(r);
    ctl_answers(r->srv);
}

static void on_ctl(run_t *r, uint32_t events)
{
    (void)events;
    ctl_ready(r->srv);
}

/* The balancer's timer: armed at its interval while the policy wants it
 * (it rebalances or samples), disarmed otherwise. Again after the control
 * socket changed the policy. */
static int arm_balance(run_t *r)
{
    bool want = r->program && balancer_wants_tick(&r->bal);
    if (!want && r->balance.fd < 0)
        return 0;
    if (r->balance.fd < 0) {
        r->balance.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        r->balance.ready = on_balance;
        if (r->balance.fd < 0 || run_watch(r, &r->balance, true) < 0)
            return -1;
    }
    uint32_t ms = want ? r->bal.interval_ms : 0;
    struct itimerspec bt = {
        .it_interval = {ms / 1000, (long)(ms % 1000) * 1000000L},
        .it_value = {ms / 1000, (long)(ms % 1000) * 1000000L},
    };
    return timerfd_settime(r->balance.fd, 0, &bt, NULL);
}

/* The control socket changed the policy: the timer follows it. */
static void policy_changed(void *ctx)
{
    run_t *r = ctx;
    if (arm_balance(r) < 0)
        fprintf(stderr, "shoal: warning: cannot re-arm the balancer's timer: %s\n",
                strerror(errno));
}

static int open_sources(run_t *r)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    /* Blocked before any fork: a VM that dies at once still queues its
     * SIGCHLD for the signalfd. */
    if (sigprocmask(SIG_BLOCK, &set, &r->old_mask) < 0)
        return -1;
    r->mask_set = true;
    /* A reader that goes away (a closed stdout) must not kill the
     * supervisor and orphan the VMs' stop. */
    signal(SIGPIPE, SIG_IGN);

    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0 || fork_private_fd(r->epfd) < 0)
        return -1;
    r->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    r->sig.ready = on_signal;
    if (r->sig.fd < 0 || run_watch(r, &r->sig, true) < 0)
        return -1;

    r->tick.fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    r->tick.ready = on_tick;
    struct itimerspec it = {.it_interval = {0, RUN_TICK_MS * 1000000L},
                            .it_value = {0, RUN_TICK_MS * 1000000L}};
    if (r->tick.fd < 0 || timerfd_settime(r->tick.fd, 0, &it, NULL) < 0 ||
        run_watch(r, &r->tick, true) < 0)
        return -1;

    /* Not private: every VM writes to it (vm_notify). */
    r->notify.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->notify.ready = on_notify;
    if (r->notify.fd < 0 || run_watch(r, &r->notify, false) < 0)
        return -1;

    if (arm_balance(r) < 0)
        return -1;

    if (r->srv) {
        /* ctl.c declared its own fds private; this is the same epoll fd */
        r->ctl.fd = ctl_fd(r->srv);
        r->ctl.ready = on_ctl;
        if (run_watch(r, &r->ctl, false) < 0)
            return -1;
    }
    return 0;
}

static void close_source(int *fd)
{
    if (*fd >= 0) {
        fork_forget_fd(*fd);
        close(*fd);
        *fd = -1;
    }
}

static void close_sources(run_t *r)
{
    /* Drain what the signalfd did not read (a SIGCHLD after the last reap)
     * so that unblocking below does not deliver it to a default action. */
    struct signalfd_siginfo si;
    while (r->sig.fd >= 0 && read(r->sig.fd, &si, sizeof si) == (ssize_t)sizeof si)
        ;
    close_source(&r->sig.fd);
    close_source(&r->tick.fd);
    close_source(&r->notify.fd);
    close_source(&r->balance.fd);
    close_source(&r->epfd);
    if (r->mask_set) {
        sigprocmask(SIG_SETMASK, &r->old_mask, NULL);
        r->mask_set = false;
    }
}

/* Write the placement into the VM table (placement group: supervisor). */
static void write_placement(run_t *r)
{
    shm_header_t *h = r->h;
    topo_describe(r->topo, h->topology, sizeof h->topology);
    for (uint32_t i = 0; i < r->n_vms; i++) {
        shm_vm_t *vm = shm_vm(h, i);
        const topo_vm_t *p = &r->place->vms[i];
        vm->node = p->node;
        vm->l3 = p->l3;
        vm->n_pus = p->n_pus;
        vm->shares_pu = r->place->shared;
        _Static_assert(sizeof vm->cpuset == TOPO_CPUSET_TEXT, "cpuset text sizes differ");
        memcpy(vm->cpuset, p->cpuset, sizeof vm->cpuset);
    }
}

/* Each NUMA node's pool range goes to that node's memory. Only on this
 * machine with several nodes: a synthetic or XML topology describes
 * another machine, so its nodes are only recorded (in the header text and
 * the VM table). Must run before any pool page is touched. */
static void bind_pool(run_t *r)
{
    const topo_t *t = r->topo;
    bool real = t->source == TOPO_MACHINE && t->n_nodes > 1;
    for (uint32_t node = 0; node < r->h->cfg.n_nodes; node++) {
        void *addr;
        size_t bytes;
        pool_node_range(r->h, node, &addr, &bytes);
        hwloc_const_nodeset_t ns = real ? topo_nodeset(t, node) : NULL;
        int rc = -1;
        if (ns)
            rc = hwloc_set_area_membind(t->hw, addr, bytes, ns, HWLOC_MEMBIND_BIND,
                                        HWLOC_MEMBIND_BYNODESET);
        if (real && rc < 0)
            fprintf(stderr, "shoal: warning: cannot bind the pool of NUMA node %u: %s\n", node,
                    strerror(errno));
        if (r->opts->verbose)
            fprintf(stderr, "shoal: pool node %u: %zu MiB, %s\n", node, bytes >> 20,
                    rc == 0                     ? "bound to its NUMA node"
                    : t->source != TOPO_MACHINE ? "recorded only (not this machine)"
                    : t->n_nodes == 1           ? "one NUMA node, nothing to bind"
                                                : "not bound");
    }
}

/* -v: where the policy moved processes, per VM and cause. */
static void print_moves(run_t *r)
{
    static const char *const cause[MIG_CAUSES] = {"explicit", "steal", "rebalance", "affinity",
                                                  "adopt"};
    for (uint32_t i = 0; i < r->n_vms; i++) {
        shm_vm_t *v = shm_vm(r->h, i);
        fprintf(stderr, "shoal: VM %u moves in/out:", i);
        for (int c = 0; c < MIG_CAUSES; c++)
            fprintf(stderr, " %s %" PRIu64 "/%" PRIu64, cause[c], ck_pr_load_64(&v->mig_in[c]),
                    ck_pr_load_64(&v->mig_out[c]));
        fprintf(stderr, "; plans done %" PRIu64 ", dropped %" PRIu64 "\n",
                ck_pr_load_64(&v->plan_done), ck_pr_load_64(&v->plan_dropped));
    }
    if (r->bal.plans)
        fprintf(stderr,
                "shoal: balancer: %" PRIu64 " plans, %" PRIu64 " moves queued, %" PRIu64
                " refused by a full ring\n",
                r->bal.plans, r->bal.moves, r->bal.full);
}

/* Fork VM i (at start, or again after its death). */
static int fork_vm(run_t *r, uint32_t i)
{
    vm_start_t start = {
        .topo = r->topo->source == TOPO_MACHINE ? r->topo->hw : NULL,
        .notify_fd = r->notify.fd,
        .program = r->program,
    };
    shm_vm_t *vm = shm_vm(r->h, i);
    /* Before the fork: the child starts from VM_STARTING. */
    ck_pr_store_32(&vm->state, VM_STARTING);
    pid_t pid = fork_child();
    if (pid == 0) {
        int code = vm_main(r->h, i, &start);
        fflush(NULL);
        _exit(code);
    }
    if (pid < 0) {
        fprintf(stderr, "shoal: cannot fork VM %u: %s\n", i, strerror(errno));
        return -1;
    }
    /* The supervisor writes os_pid (vmtab.h); nobody reads it before
     * the VM registers, which the VM's release store orders. */
    ck_pr_store_32((uint32_t *)&vm->os_pid, (uint32_t)pid);
    run_vm_t *v = &r->vms[i];
    v->pid = pid;
    v->killed_with = 0;
    v->quiet_ticks = 0;
    v->last_beat = 0;
    r->n_alive++;
    return 0;
}

static int fork_vms(run_t *r)
{
    for (uint32_t i = 0; i < r->n_vms; i++)
        if (fork_vm(r, i) < 0)
            return -1;
    return 0;
}

static void loop(run_t *r)
{
    struct epoll_event evs[16];
    while (!(r->stopping && r->n_alive == 0)) {
        int n = epoll_wait(r->epfd, evs, 16, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            /* Without the loop nothing can watch the VMs: take them down
             * with us rather than leave them behind. */
            fprintf(stderr, "shoal: epoll_wait: %s; stopping the run\n", strerror(errno));
            run_stop(r, SHOAL_EXIT_FAIL, STOP_TERM_NOW);
            signal_all(r, SIGKILL, NULL);
            for (uint32_t i = 0; i < r->n_vms; i++)
                if (r->vms[i].pid > 0 && waitpid(r->vms[i].pid, NULL, 0) > 0) {
                    r->vms[i].pid = 0;
                    r->n_alive--;
                }
            return;
        }
        for (int k = 0; k < n; k++) {
            run_source_t *src = evs[k].data.ptr;
            src->ready(r, evs[k].events);
        }
    }
}

/* The statistics at the end of the run: --stats-json FILE, --summary. */
static int final_stats(run_t *r, int status)
{
    uint64_t now = now_ns();
    if (r->opts->summary)
        stats_summary(&r->stats, now, stderr);
    if (!r->opts->stats_json)
        return status;
    json_t *o = stats_json(&r->stats, now, ctlpolicy_show(&r->pol));
    if (o) {
        json_object_set_new(o, "v", json_integer(CTL_VERSION));
        json_object_set_new(o, "final", json_true());
        json_object_set_new(o, "exit_status", json_integer(status));
    }
    if (!o || json_dump_file(o, r->opts->stats_json, JSON_INDENT(2) | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12) |
                                                        JSON_PRESERVE_ORDER) < 0) {
        fprintf(stderr, "shoal: cannot write the statistics to %s: %s\n", r->opts->stats_json,
                errno ? strerror(errno) : "out of memory");
        status = status ? status : SHOAL_EXIT_FAIL;
    }
    json_decref(o);
    return status;
}

/* Claim the run's name on the control socket. A name that another run
 * holds stops this one (exit 2); a socket that cannot be set up at all
 * (no writable runtime directory) only costs the clients: a warning. */
static int open_ctl(run_t *r)
{
    char err[600];
    bool taken;
    r->srv = ctl_open(r->opts->name ? r->opts->name : "default", err, sizeof err, &taken);
    if (r->srv)
        return 0;
    if (taken) {
        fprintf(stderr, "shoal: %s\n", err);
        return -1;
    }
    fprintf(stderr, "shoal: warning: no control socket (shoal stats, ps, top cannot reach this "
                    "run): %s\n", err);
    return 0;
}

int run_main(const shoal_opts_t *opts, const topo_t *t, const topo_placement_t *p)
{
    run_t r = {.opts = opts,
               .topo = t,
               .place = p,
               .n_vms = p->n_vms,
               .epfd = -1,
               .sig = {.fd = -1},
               .tick = {.fd = -1},
               .notify = {.fd = -1},
               .balance = {.fd = -1},
               .ctl = {.fd = -1}};
    shm_config_t cfg;
    config_segment(opts, p->n_vms, t->n_nodes, &cfg);
    r.max_restarts = opts->max_restarts ? opts->max_restarts : CONFIG_MAX_RESTARTS_DEFAULT;
    r.restart_window_s =
        opts->restart_window_s ? opts->restart_window_s : CONFIG_RESTART_WINDOW_DEFAULT;
    r.stall_ms = opts->stall_ms ? opts->stall_ms : CONFIG_STALL_MS_DEFAULT;
    if (open_ctl(&r) < 0)
        return SHOAL_EXIT_USAGE;
    r.restart_times = calloc(r.max_restarts, sizeof *r.restart_times);
    r.vms = calloc(r.n_vms, sizeof *r.vms);
    r.alive = calloc(r.n_vms, sizeof *r.alive);
    if (!r.vms || !r.restart_times || !r.alive) {
        free(r.vms);
        free(r.restart_times);
        free(r.alive);
        fprintf(stderr, "shoal: out of memory\n");
        ctl_close(r.srv);
        return SHOAL_EXIT_FAIL;
    }
    r.h = shm_create(&cfg);
    if (!r.h) {
        fprintf(stderr, "shoal: cannot create the shared segment (%" PRIu64 " MiB pool): %s\n",
                cfg.pool_bytes >> 20, strerror(errno));
        free(r.vms);
        free(r.restart_times);
        free(r.alive);
        ctl_close(r.srv);
        return SHOAL_EXIT_FAIL;
    }
    write_placement(&r);
    bind_pool(&r);
    int64_t pv[POLICY_MAX_PARAMS];
    uint32_t pol = config_policy(opts);
    config_policy_params(opts, pol, pv);
    if (balancer_init(&r.bal, r.h, pol, pv, config_interval_ms(opts)) < 0 ||
        stats_init(&r.stats, r.h, opts->name ? opts->name : "default") < 0) {
        fprintf(stderr, "shoal: cannot set up the balancer and statistics: %s\n",
                strerror(errno));
        balancer_free(&r.bal);
        shm_destroy(r.h);
        free(r.vms);
        free(r.restart_times);
        free(r.alive);
        ctl_close(r.srv);
        return SHOAL_EXIT_FAIL;
    }
    ctlpolicy_init(&r.pol, &r.bal, opts, policy_changed, &r);

    int status;
    if (opts->nfiles > 0) {
        if (program_load(r.h, opts->nfiles, opts->files, opts->nargs, opts->args) < 0) {
            status = SHOAL_EXIT_USAGE;
            goto out;
        }
        r.program = true;
    }
    if (r.srv)
        ctl_attach(r.srv, r.h, &r.stats, &r.pol, r.program);
    if (open_sources(&r) < 0) {
        fprintf(stderr, "shoal: cannot set up the supervisor's event loop: %s\n", strerror(errno));
        status = SHOAL_EXIT_FAIL;
        goto out;
    }
    if (fork_vms(&r) < 0)
        run_stop(&r, SHOAL_EXIT_FAIL, STOP_TERM_NOW);
    loop(&r);
    status = final_stats(&r, r.status);
    if (opts->verbose && r.program)
        print_moves(&r);
out:
    ctl_close(r.srv);
    r.srv = NULL;
    close_sources(&r);
    stats_free(&r.stats);
    balancer_free(&r.bal);
    shm_destroy(r.h);
    free(r.vms);
    free(r.restart_times);
    free(r.alive);
    return status;
}
