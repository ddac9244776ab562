/*
 * test_register.c: registered names (vmproc/register.c over the name
 * table of shm/names.c), played by hand on several VMs of one world.
 *
 * In one process: register, whereis, unregister and their errors (one
 * name per process, a dead pid, 'undefined, a full table); a process
 * that ends drops its name; a name left to a process that is gone
 * (its VM died before anything dropped it) reads as free, is taken over
 * by the next register, and reg_recover clears it.
 * Across forked VMs: four VMs registering the same 500 names at once for
 * their own processes: exactly one wins each, and every VM's whereis
 * agrees; a register racing with the end of its process (the Dekker
 * pair of register.h) never leaves the name on the ended process.
 *
 * Forked children report through a shared array and their exit status;
 * every wait has a deadline (poll on a pipe that closes when they end).
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "shm/names.h"
#include "shm/proctab.h"
#include "vmproc/compiler.h"
#include "vmproc/msg.h"
#include "vmproc/register.h"

#include <ck_pr.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_LIMIT_MS 30000
#define NAMES 500
/* Atom numbers well above the program's: the table takes any number. */
#define NAME(i) (1000u + (uint32_t)(i))

static vw_t w;

static bool open_world(uint32_t vms)
{
    return vw_open(&w, vms, 1, 4096, 256u << 20, HEAP_FOLLOW_ON_GC);
}

/* The process of pcb ends, as proc_exit does it: inbox closed, then its
 * name dropped. */
static void end(pcb_t *pcb, uint32_t vm)
{
    msg_close(vw_rt(&w, vm), pcb, mk_atom(A_NORMAL));
    reg_drop(w.h, pcb);
}

static void test_basics(void)
{
    CU_ASSERT_FATAL(open_world(2));
    pcb_t *a = vw_proc_new(&w, 0), *b = vw_proc_new(&w, 1);
    CU_ASSERT_FATAL(a && b);
    CU_ASSERT_EQUAL(reg_whereis(w.h, NAME(1)), 0);
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(1), a->pid), 0);
    CU_ASSERT_EQUAL(reg_whereis(w.h, NAME(1)), a->pid);
    /* taken; one name per process; 'undefined */
    errno = 0;
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(1), b->pid), -1);
    CU_ASSERT_EQUAL(errno, EEXIST);
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(2), a->pid), -1);
    CU_ASSERT_EQUAL(errno, EEXIST);
    CU_ASSERT_EQUAL(reg_register(w.h, A_UNDEFINED, b->pid), -1);
    CU_ASSERT_EQUAL(errno, EINVAL);
    /* unregister frees the name and the process */
    CU_ASSERT_EQUAL(reg_unregister(w.h, NAME(1)), 0);
    CU_ASSERT_EQUAL(reg_whereis(w.h, NAME(1)), 0);
    CU_ASSERT_EQUAL(reg_unregister(w.h, NAME(1)), -1);
    CU_ASSERT_EQUAL(errno, ENOENT);
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(2), a->pid), 0);
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(1), b->pid), 0);
    /* an ending process drops its name; a dead pid cannot take one */
    uint64_t apid = a->pid;
    end(a, 0);
    CU_ASSERT_EQUAL(reg_whereis(w.h, NAME(2)), 0);
    CU_ASSERT_EQUAL(ck_pr_load_64(&names_slot(w.h, NAME(2), false)->pid), 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&a->regname), 0);
    vw_proc_free(&w, a, 0);
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(3), apid), -1);
    CU_ASSERT_EQUAL(errno, ESRCH);
    /* a new process in the freed slot starts with no name */
    pcb_t *c = vw_proc_new(&w, 0);
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(2), c->pid), 0);
    end(b, 1);
    end(c, 0);
    vw_proc_free(&w, b, 1);
    vw_proc_free(&w, c, 0);
    vw_close(&w);
}

/* A VM died with a named process on it: the inbox is closed (as recovery
 * declares it dead) but nothing dropped the name. */
static void test_gone_holder(void)
{
    CU_ASSERT_FATAL(open_world(2));
    pcb_t *a = vw_proc_new(&w, 0), *b = vw_proc_new(&w, 1), *c = vw_proc_new(&w, 1);
    CU_ASSERT_FATAL(a && b && c);
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(1), a->pid), 0);
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(2), c->pid), 0);
    msg_close(vw_rt(&w, 0), a, mk_atom(A_VM_CRASH)); /* no reg_drop */
    CU_ASSERT_EQUAL(ck_pr_load_64(&names_slot(w.h, NAME(1), false)->pid), a->pid);
    CU_ASSERT_EQUAL(reg_whereis(w.h, NAME(1)), 0);
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(1), b->pid), 0); /* taken over */
    CU_ASSERT_EQUAL(reg_whereis(w.h, NAME(1)), b->pid);
    /* reg_recover clears exactly the names of processes that are gone */
    msg_close(vw_rt(&w, 1), c, mk_atom(A_VM_CRASH));
    CU_ASSERT_EQUAL(ck_pr_load_64(&names_slot(w.h, NAME(2), false)->pid), c->pid);
    CU_ASSERT_EQUAL(reg_recover(w.h), 1);
    CU_ASSERT_EQUAL(ck_pr_load_64(&names_slot(w.h, NAME(2), false)->pid), 0);
    CU_ASSERT_EQUAL(reg_whereis(w.h, NAME(1)), b->pid);
    end(b, 1);
    vw_proc_free(&w, a, 0);
    vw_proc_free(&w, b, 1);
    vw_proc_free(&w, c, 1);
    vw_close(&w);
}

static void test_full_table(void)
{
    CU_ASSERT_FATAL(open_world(1));
    uint32_t cap = w.h->cfg.name_cap, got = 0;
    for (uint32_t i = 0; i < cap + 10; i++)
        got += names_slot(w.h, NAME(i), true) != NULL;
    CU_ASSERT_EQUAL(got, cap);
    CU_ASSERT_PTR_NOT_NULL(names_slot(w.h, NAME(5), true)); /* existing names still found */
    pcb_t *a = vw_proc_new(&w, 0);
    CU_ASSERT_FATAL(a != NULL);
    errno = 0;
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(cap + 5), a->pid), -1);
    CU_ASSERT_EQUAL(errno, ENOSPC);
    CU_ASSERT_EQUAL(ck_pr_load_32(&a->regname), 0); /* undone */
    CU_ASSERT_EQUAL(reg_register(w.h, NAME(5), a->pid), 0);
    end(a, 0);
    vw_proc_free(&w, a, 0);
    vw_close(&w);
}

/* ------------------------------------------------------------------ */
/* across forked VMs                                                   */

typedef struct kid {
    pid_t pid;
    int fd;
} kid_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static kid_t start(int (*job)(int, void *), int n, void *arg)
{
    kid_t k = {-1, -1};
    int fds[2];
    if (pipe(fds) < 0)
        return k;
    fflush(stdout);
    fflush(stderr);
    k.pid = fork();
    if (k.pid == 0) {
        close(fds[0]);
        _exit(job(n, arg));
    }
    close(fds[1]);
    k.fd = fds[0];
    return k;
}

static int finish(kid_t *k)
{
    int64_t end = now_ms() + CHILD_LIMIT_MS;
    bool ended = false;
    char buf[64];
    while (!ended) {
        int64_t left = end - now_ms();
        struct pollfd pf = {k->fd, POLLIN, 0};
        if (left <= 0 || (poll(&pf, 1, (int)left) <= 0 && errno != EINTR))
            break;
        ended = read(k->fd, buf, sizeof buf) == 0;
    }
    if (!ended)
        kill(k->pid, SIGKILL);
    int st = 0;
    while (waitpid(k->pid, &st, 0) < 0 && errno == EINTR)
        ;
    close(k->fd);
    return ended ? st : -1;
}

typedef struct race {
    uint64_t pid[4][NAMES]; /* child n's processes, one per name */
    int won[4][NAMES];
    uint32_t go;
} race_t;

/* VM n: register each name for its own process for that name. */
static int race_job(int n, void *arg)
{
    race_t *r = arg;
    while (!ck_pr_load_32(&r->go))
        ck_pr_stall();
    for (int i = 0; i < NAMES; i++)
        r->won[n][i] = reg_register(w.h, NAME(i), r->pid[n][i]) == 0;
    return 0;
}

static void test_racing_registers(void)
{
    CU_ASSERT_FATAL(open_world(4));
    race_t *r = mmap(NULL, sizeof *r, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(r != MAP_FAILED);
    pcb_t *procs[4][NAMES];
    for (int n = 0; n < 4; n++)
        for (int i = 0; i < NAMES; i++) {
            procs[n][i] = vw_proc_new(&w, (uint32_t)n);
            CU_ASSERT_FATAL(procs[n][i] != NULL);
            r->pid[n][i] = procs[n][i]->pid;
        }
    kid_t k[4];
    for (int n = 0; n < 4; n++)
        k[n] = start(race_job, n, r);
    ck_pr_store_32(&r->go, 1);
    for (int n = 0; n < 4; n++) {
        int st = finish(&k[n]);
        LH_CHECK(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "VM %d: status %d", n, st);
    }
    bool one_each = true, agree = true;
    for (int i = 0; i < NAMES; i++) {
        int wins = 0;
        uint64_t winner = 0;
        for (int n = 0; n < 4; n++)
            if (r->won[n][i]) {
                wins++;
                winner = r->pid[n][i];
            }
        one_each = one_each && wins == 1;
        agree = agree && reg_whereis(w.h, NAME(i)) == winner;
    }
    CU_ASSERT(one_each);
    CU_ASSERT(agree);
    for (int n = 0; n < 4; n++)
        for (int i = 0; i < NAMES; i++) {
            end(procs[n][i], (uint32_t)n);
            vw_proc_free(&w, procs[n][i], (uint32_t)n);
        }
    munmap(r, sizeof *r);
    vw_close(&w);
}

typedef struct ending {
    uint64_t pid[NAMES];
    uint32_t go[NAMES];
} ending_t;

/* VM 1: register name i for process i the moment VM 0 starts ending it. */
static int ending_job(int n, void *arg)
{
    (void)n;
    ending_t *e = arg;
    for (int i = 0; i < NAMES; i++) {
        while (!ck_pr_load_32(&e->go[i]))
            ck_pr_stall();
        reg_register(w.h, NAME(i), e->pid[i]);
    }
    return 0;
}

static void test_register_while_ending(void)
{
    CU_ASSERT_FATAL(open_world(2));
    ending_t *e = mmap(NULL, sizeof *e, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(e != MAP_FAILED);
    pcb_t *procs[NAMES];
    for (int i = 0; i < NAMES; i++) {
        procs[i] = vw_proc_new(&w, 0);
        CU_ASSERT_FATAL(procs[i] != NULL);
        e->pid[i] = procs[i]->pid;
    }
    kid_t k = start(ending_job, 1, e);
    for (int i = 0; i < NAMES; i++) {
        ck_pr_store_32(&e->go[i], 1);
        end(procs[i], 0);
    }
    int st = finish(&k);
    CU_ASSERT(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
    bool none_left = true;
    for (int i = 0; i < NAMES; i++) {
        name_slot_t *s = names_slot(w.h, NAME(i), false);
        none_left = none_left && (!s || ck_pr_load_64(&s->pid) != e->pid[i]);
    }
    CU_ASSERT(none_left);
    for (int i = 0; i < NAMES; i++)
        vw_proc_free(&w, procs[i], 0);
    munmap(e, sizeof *e);
    vw_close(&w);
}

static CU_TestInfo tests[] = {
    {"register, whereis, unregister and their errors", test_basics},
    {"a name left to a process that is gone reads as free", test_gone_holder},
    {"a full table is ENOSPC", test_full_table},
    {"4 VMs racing for 500 names: one winner each", test_racing_registers},
    {"a register racing with the end of its process", test_register_while_ending},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(register, tests, NULL, NULL)
