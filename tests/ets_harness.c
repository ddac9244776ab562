/*
 * ets_harness.c: what the shared-table suites share (see ets_harness.h).
 */
#include "tests/ets_harness.h"

#include "shm/atom.h"
#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/vmtab.h"
#include "supervisor/fork.h"
#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/termio.h"

#include <ck_pr.h>
#include <errno.h>
#include <execinfo.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------ */
/* worlds, processes and calls                                          */

/* Worlds of `vms` VMs on one node (tests/vm_world.h); program_load
 * creates the tables' directory. */
bool eh_world_open(vw_t *w, uint32_t vms, uint64_t pool_bytes)
{
    return vw_open(w, vms, 1, 1024, pool_bytes, HEAP_FOLLOW_ON_GC) && code_table(w->h)->tables;
}

/* A new atom, e.g. a table name. Supervisor only, before the fork (the
 * parent, before it starts children). */
term eh_atom(vw_t *w, const char *name)
{
    int64_t i = atom_intern(w->h, name, strlen(name));
    return i < 0 ? T_NONE : mk_atom((uint32_t)i);
}

/* A process owned by VM `vm`, with a heap and a stack on its node. */
bool eh_proc_new(vw_t *w, uint32_t vm, eh_proc_t *v)
{
    v->rt = vw_rt(w, vm);
    v->pcb = proctab_claim(w->h, vm);
    if (!v->pcb)
        return false;
    if (heap_init(v->rt, v->pcb, v->rt->node) < 0)
        return false;
    proctab_publish(w->h, v->pcb);
    return true;
}

/* Call a builtin with its n arguments on the value stack, where the
 * interpreter leaves them (roots if it collects), with no error set. */
term eh_call(eh_proc_t *v, eh_bif_t f, int n, term a, term b, term c)
{
    proc_t *p = eh_pr(v);
    p->err_class = EXC_NONE;
    p->err_value = T_NONE;
    term *args = p->sp;
    const term all[3] = {a, b, c};
    for (int i = 0; i < n; i++)
        *p->sp++ = all[i];
    term r = f(v->rt, v->pcb, args, (uint32_t)n);
    p->sp = args;
    return r;
}

/* Whether r is the error #(error atom) raised by the builtin. */
bool eh_raised(const eh_proc_t *v, term r, uint32_t a)
{
    const proc_t *p = proc_of(v->pcb);
    return r == T_NONE && p->err_class == EXC_ERROR && p->err_value == mk_atom(a);
}

/* True if the object t points to is in v's heap (the pool run of its
 * process), not in a table's run. */
bool eh_in_heap_of(const vw_t *w, const eh_proc_t *v, term t)
{
    const void *a = is_cons(t) ? (void *)cons_ptr(t) : (void *)box_ptr(t);
    return heap_holds(w->h, v->pcb, a);
}

/* Terms built in C arrays (outside any heap), as test_migrate.c does. */
term eh_tuple_in(term *b, int n, ...)
{
    va_list ap;
    va_start(ap, n);
    b[0] = mk_hdr((uint64_t)n + 1, BT_TUPLE);
    for (int i = 0; i < n; i++)
        b[1 + i] = va_arg(ap, term);
    va_end(ap);
    return mk_box(b);
}

term eh_string_in(term *b, const char *s)
{
    size_t n = strlen(s);
    uint64_t words = str_words(n);
    memset(b, 0, words * sizeof(term));
    b[0] = mk_hdr(words, BT_STRING);
    b[1] = n;
    memcpy(&b[2], s, n);
    return mk_box(b);
}

term eh_float_in(term *b, double d)
{
    b[0] = mk_hdr(2, BT_FLOAT);
    memcpy(&b[1], &d, sizeof d);
    return mk_box(b);
}

term eh_cons_in(term *cell, term head, term tail)
{
    cell[0] = head;
    cell[1] = tail;
    return mk_cons_ptr(cell);
}

/* ------------------------------------------------------------------ */
/* the locks                                                            */

/* How many of the tables' locks VM `vm` holds (ETS_ANY_VM: anybody). */
size_t eh_held_by(const vw_t *w, uint32_t vm)
{
    return ets_locks_held(w->h, vm);
}

/* ------------------------------------------------------------------ */
/* children                                                             */

/* Debugging a crash of a child (SHOAL_TEST_GDB): where it was. */
static void on_fault(int sig)
{
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, 2);
    signal(sig, SIG_DFL);
    raise(sig);
}

eh_kid_t eh_start(vw_t *w, uint32_t vm, eh_job_t job, const void *arg)
{
    eh_kid_t k = {-1, -1};
    int fds[2];
    if (pipe(fds) < 0)
        return k;
    /* the supervisor's fork: the worker dies with the test process (a
     * failed assertion's abort), not left looping until told to stop */
    k.pid = fork_child();
    if (k.pid == 0) {
        close(fds[0]);
        if (getenv("SHOAL_TEST_GDB")) {
            signal(SIGSEGV, on_fault);
            signal(SIGBUS, on_fault);
        }
        _exit(job(w, vm, fds[1], arg));
    }
    /* Closed before the next fork: only this child holds the write end. */
    close(fds[1]);
    if (k.pid < 0) {
        close(fds[0]);
        return k;
    }
    k.fd = fds[0];
    ck_pr_store_32(&shm_vm(w->h, vm)->state, VM_RUNNING);
    return k;
}

int64_t eh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read from fd until `bytes` bytes came (bytes > 0) or EOF (bytes < 0),
 * for at most ms. True if that happened in time; false on timeout, or on
 * EOF before the bytes. */
bool eh_await(int fd, long bytes, int ms)
{
    int64_t end = eh_now_ms() + ms;
    char buf[4096];
    while (bytes != 0) {
        int64_t left = end - eh_now_ms();
        if (left <= 0)
            return false;
        struct pollfd pf = {fd, POLLIN, 0};
        int n = poll(&pf, 1, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        size_t want = bytes > 0 && (size_t)bytes < sizeof buf ? (size_t)bytes : sizeof buf;
        ssize_t r = read(fd, buf, want);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            return bytes < 0; /* EOF (or a broken pipe): the child ended */
        if (bytes > 0)
            bytes -= r;
    }
    return true;
}

/* Wait for k to end, at most ms: its wait status, or -1 if it did not end
 * in time (it is then killed). Either way it is reaped. */
int eh_finish(eh_kid_t *k, int ms)
{
    bool ended = eh_await(k->fd, -1, ms);
    if (!ended && getenv("SHOAL_TEST_GDB")) {
        /* Debugging a hang: where the child is stuck. */
        char cmd[128];
        snprintf(cmd, sizeof cmd, "gdb -p %d -batch -ex bt 1>&2 </dev/null", (int)k->pid);
        if (system(cmd) < 0)
            perror("gdb");
    }
    if (!ended)
        kill(k->pid, SIGKILL);
    int st = 0;
    while (waitpid(k->pid, &st, 0) < 0 && errno == EINTR)
        ;
    close(k->fd);
    k->fd = -1;
    return ended ? st : -1;
}

bool eh_exited_ok(int st, const char *who)
{
    if (st == -1)
        fprintf(stderr, "\n  %s: still running after %d ms (hung)\n", who, CHILD_LIMIT_MS);
    else if (WIFSIGNALED(st))
        fprintf(stderr, "\n  %s: killed by signal %d\n", who, WTERMSIG(st));
    else if (WEXITSTATUS(st) != 0)
        fprintf(stderr, "\n  %s: exited %d\n", who, WEXITSTATUS(st));
    return st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

bool eh_killed_by(int st, int sig)
{
    return st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == sig;
}

/* What the supervisor's vm_died does for a dead VM: mark it dead, then
 * break what it held (pool, tables, process slots). */
void eh_recover(vw_t *w, uint32_t vm)
{
    ck_pr_store_32(&shm_vm(w->h, vm)->state, VM_DEAD);
    ets_recover_vm(w->h, vm, POOL_SUPERVISOR);
    pool_recover_vm(w->h, vm);
    proctab_recover_vm(w->h, vm);
}

char eh_why[256];

long eh_entries(eh_proc_t *v, term name, bool ordered, term *keys, term *vals, long max)
{
    eh_why[0] = 0;
    /* Each chunk's result stays on the value stack, a root, until the
     * last one came: the next call may collect, and move them. */
    proc_t *p = eh_pr(v);
    size_t base = (size_t)(p->sp - p->stack_lo);
    term cursor = mk_atom(A_START);
    long n = -1;
    for (;;) {
        if ((term *)p->ctl - p->sp < 64 && stack_grow(v->rt, v->pcb, 1024) < 0)
            goto out;
        term r = t_chunk(v, name, cursor);
        if (!is_tuple(r) || tuple_size(r) != 2) {
            proc_t *pp = eh_pr(v);
            snprintf(eh_why, sizeof eh_why, "chunk returned %#llx, error class %u value %#llx",
                     (unsigned long long)r, pp->err_class, (unsigned long long)pp->err_value);
            goto out;
        }
        *p->sp++ = r;
        cursor = tuple_elems(r)[0];
        if (cursor == mk_atom(A_END))
            break;
    }
    n = 0;
    for (term *c = p->stack_lo + base; c < p->sp; c++)
        for (term l = tuple_elems(*c)[1]; is_cons(l); l = CDR(l)) {
            term kv = CAR(l);
            if (!is_tuple(kv) || tuple_size(kv) != 2 || n == max) {
                snprintf(eh_why, sizeof eh_why, "entry %ld: %s", n,
                         n == max ? "more than max" : "not a pair");
                n = -1;
                goto out;
            }
            keys[n] = tuple_elems(kv)[0];
            vals[n] = tuple_elems(kv)[1];
            if (ordered && n > 0 && term_compare(v->rt->h, keys[n - 1], keys[n]) >= 0) {
                snprintf(eh_why, sizeof eh_why, "entry %ld: key %#llx after %#llx (chunk %ld)", n,
                         (unsigned long long)keys[n], (unsigned long long)keys[n - 1],
                         (long)(c - (p->stack_lo + base)));
                n = -1;
                goto out;
            }
            n++;
        }
out:
    p->sp = p->stack_lo + base;
    return n;
}
