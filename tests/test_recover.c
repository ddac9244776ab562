/*
 * test_recover.c: a VM that dies or stalls in a running program
 * (vmproc/recover.h, supervisor/run.c): the process running on it ends
 * with vm_crash, its monitor and link fire once, the processes waiting on
 * it are adopted and answer, the VM comes back; past the restart limit
 * the run stops with status 3; a stopped VM is found stalled and goes the
 * same way. The long form of all this is the chaos test (tests/chaos/).
 */
#include "tests/child.h"
#include "tests/lang_harness.h"
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/slab.h"
#include "vmproc/heap.h"

#include <ck_pr.h>
#include <jansson.h>
#include <sys/time.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

/* A process busy in long builtins on VM 1 (so that it is running, not
 * between slices, when VM 1 dies), a watcher on VM 0 linked to it, and
 * 20 processes waiting on VM 1. Main prints "ready" once all are in
 * place, then waits for what the test does to VM 1. */
static const char prog[] =
    "(defn spin () (length (seq 1 10000)) (spin))\n"
    "(defn busy () (migrate 1) (spin)) ; pinned on VM 1: no stealing moves it\n"
    "(defn waiter (parent i)\n"
    "  (send parent 'waiting)\n"
    "  (receive ((tuple 'ping from) (send from (tuple 'pong i)))))\n"
    "(defn watcher (parent looper)\n"
    "  (trap-exits true) (link looper) (send parent 'linked)\n"
    "  (receive ((tuple 'EXIT p r) (when (= p looper)) (send parent (tuple 'exit r))))\n"
    "  ; a second EXIT for the same end would show here\n"
    "  (receive ((tuple 'EXIT p r) (when (= p looper)) (send parent 'twice)) (after 300 'ok)))\n"
    "(defn spawn-waiters (k acc)\n"
    "  (if (= k 0) acc (spawn-waiters (- k 1) (cons (spawn-on 1 waiter (self) k) acc))))\n"
    "(defn wait-n (n m) (if (= n 0) 'ok (receive (m (wait-n (- n 1) m)))))\n"
    "(defn pongs (n got) (if (= n 0) got (receive ((tuple 'pong _) (pongs (- n 1) (+ got 1)))\n"
    "                                            (after 20000 got))))\n"
    "(defn ping-all (ws) (if (null? ws) 'ok (do (send (car ws) (tuple 'ping (self))) (ping-all (cdr ws)))))\n"
    "(defn main ()\n"
    "  (let ((looper (spawn-on 1 busy))\n"
    "        (ref (monitor looper))\n"
    "        (w (spawn-on 0 watcher (self) looper)))\n"
    "    (receive ('linked 'ok))\n"
    "    (let ((ws (spawn-waiters 20 '())))\n"
    "      (wait-n 20 'waiting)\n"
    "      (print \"ready\")\n"
    "      (receive ((tuple 'DOWN r _ reason) (when (= r ref)) (print \"looper\" reason)))\n"
    "      (receive ((tuple 'exit r) (print \"watcher saw\" r)))\n"
    "      (ping-all ws)\n"
    "      (print \"pongs\" (pongs 20 0))\n"
    "      (receive ('twice (print \"twice\")) (after 500 (print \"once\"))))))\n";

static char *config_file(const char *text)
{
    static char path[] = "/tmp/shoal-recover-XXXXXX.ini";
    char *p = strdup(path);
    int fd = mkstemps(p, 4);
    if (fd < 0) {
        free(p);
        return NULL;
    }
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
        close(fd);
        free(p);
        return NULL;
    }
    close(fd);
    return p;
}

/* Run `shoal ARGS` (a client of the run's control socket) and parse its
 * JSON answer; NULL if it failed. */
static json_t *ctl_json(const char *const *args)
{
    child_t q;
    child_spawn(&q, args, false);
    bool done = child_wait_done(&q, 10000);
    json_t *j = NULL;
    if (done && WIFEXITED(q.status) && WEXITSTATUS(q.status) == 0)
        j = json_loads(q.buf[0], 0, NULL);
    child_release(&q);
    return j;
}

/* How many processes of the run run `fn` and are in `state` (`shoal ps`);
 * -1 if ps failed. */
static int count_in_state(const char *name, const char *fn, const char *state)
{
    json_t *j = ctl_json((const char *[]){"ps", "--name", name, "--json", NULL});
    if (!j)
        return -1;
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(j, "processes"), i, e) {
        const char *f = json_string_value(json_object_get(e, "function"));
        const char *st = json_string_value(json_object_get(e, "state"));
        n += f && st && strcmp(f, fn) == 0 && strcmp(st, state) == 0;
    }
    json_decref(j);
    return n;
}

/* The run's recovery counters (`shoal stats`): VMs restarted, processes
 * adopted, processes lost; false if stats failed. */
static bool recovery_counts(const char *name, int64_t *restarts, int64_t *adopted, int64_t *lost)
{
    json_t *j = ctl_json((const char *[]){"stats", "--name", name, "--json", NULL});
    if (!j)
        return false;
    json_t *run = json_object_get(j, "run");
    *restarts = json_integer_value(json_object_get(run, "restarts"));
    *adopted = json_integer_value(json_object_get(run, "adopted"));
    *lost = json_integer_value(json_object_get(run, "lost"));
    json_decref(j);
    return run != NULL;
}

/* Run prog on 2 VMs with the config text; once "ready" and every waiter
 * is blocked in its receive (so that the only process VM 1 can be running
 * is the looper), do `sig` to VM 1, and check what the program and the
 * supervisor said. The looper may have been between two slices, queued
 * and not running, at that instant: then it is adopted like the waiters
 * (the next incarnation's recovery counts nothing lost), and VM 1 gets
 * `sig` again, until the looper is what was lost. */
static void crash_vm1(int sig, const char *config, const char *supervisor_says)
{
    char *src = lh_temp_source(prog);
    char *ini = config_file(config);
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ini);
    char name[64];
    snprintf(name, sizeof name, "recover%d", (int)getpid());
    child_t c;
    child_spawn(&c, (const char *[]){"run", "-v", "--vms", "2", "--name", name, "--config", ini, src, NULL},
                false);
    CU_ASSERT_FATAL(child_wait_for_text(&c, 0, "ready\n", 30000));
    CU_ASSERT_FATAL(child_wait_for_text(&c, 1, "shoal: ready (2 VMs)", 30000));
    pid_t pids[2] = {0};
    int found = child_vm_pids(&c, pids, 2);
    LH_CHECK(found == 2, "%d VM pids in stderr:\n%s", found, c.buf[1]);
    CU_ASSERT_FATAL(found == 2);
    int64_t restarts = 0, adopted = 0, lost = 0;
    for (int round = 0;; round++) {
        CU_ASSERT_FATAL(round < 5);
        int64_t end = child_now_ms() + 30000;
        while (count_in_state(name, "waiter/2", "waiting") != 20 && child_now_ms() < end)
            child_pump(&c, 20);
        LH_CHECK(count_in_state(name, "waiter/2", "waiting") == 20, "waiters not all waiting:\n%s",
                 c.buf[1]);
        CU_ASSERT_FATAL(recovery_counts(name, &restarts, &adopted, &lost));
        child_vm_pids(&c, pids, 2);
        LH_CHECK(kill(pids[1], sig) == 0, "kill %d: stderr:\n%s", (int)pids[1], c.buf[1]);
        /* the next incarnation's recovery is done once it counted the
         * adopted (after the lost) */
        int64_t r2 = restarts, a2 = adopted, l2 = lost;
        end = child_now_ms() + 30000;
        while ((!recovery_counts(name, &r2, &a2, &l2) || r2 == restarts || a2 == adopted) &&
               child_now_ms() < end)
            child_pump(&c, 20);
        LH_CHECK(r2 == restarts + 1 && a2 > adopted, "no recovery seen; stderr:\n%s", c.buf[1]);
        CU_ASSERT_FATAL(r2 == restarts + 1 && a2 > adopted);
        if (l2 == lost + 1)
            break;
        CU_ASSERT_EQUAL_FATAL(l2, lost); /* the looper was queued: again */
    }
    CU_ASSERT_FATAL(child_wait_done(&c, 60000));
    CU_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
    LH_CHECK(strcmp(c.buf[0], "ready\nlooper vm_crash\nwatcher saw vm_crash\npongs 20\nonce\n") == 0,
             "stdout was:\n%s\nstderr:\n%s", c.buf[0], c.buf[1]);
    char want[160];
    snprintf(want, sizeof want, "shoal: VM 1 (pid %d) %s", (int)pids[1], supervisor_says);
    LH_CHECK(strstr(c.buf[1], want) != NULL, "stderr lacks \"%s\":\n%s", want, c.buf[1]);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.buf[1], "restarting it"));
    /* VM 1 came back: registered again, with a new pid */
    pid_t again[2] = {0};
    child_vm_pids(&c, again, 2);
    CU_ASSERT(again[1] > 0 && again[1] != pids[1]);
    child_release(&c);
    unlink(src);
    unlink(ini);
    free(src);
    free(ini);
}

/* SIGKILL: the running process ends with vm_crash, its monitor and its
 * link fire once each, the 20 waiting ones are adopted and answer. */
static void test_killed_vm_recovered(void)
{
    crash_vm1(SIGKILL, "[run]\nmax_restarts = 5\n", "killed by signal 9 (Killed); restarting it");
}

/* SIGSTOP: the heartbeat stands still; past stall_ms the supervisor kills
 * the VM, and recovery goes as for a crash. */
static void test_stalled_vm_recovered(void)
{
    crash_vm1(SIGSTOP, "[run]\nstall_ms = 1500\n", "stalled: no heartbeat for 1500 ms; killing it");
}

/* Past max_restarts in restart_window_s, the run stops with status 3 and
 * says why. */
static void test_restart_limit(void)
{
    char *src = lh_temp_source("(defn main () (receive ('never 'ok) (after 60000 'ok)))\n");
    char *ini = config_file("[run]\nmax_restarts = 2\nrestart_window_s = 600\n");
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ini);
    child_t c;
    child_spawn(&c, (const char *[]){"run", "-v", "--vms", "2", "--config", ini, src, NULL}, false);
    CU_ASSERT_FATAL(child_wait_for_text(&c, 1, "shoal: ready (2 VMs)", 30000));
    for (int k = 0; k < 3; k++) {
        pid_t pids[2] = {0};
        CU_ASSERT_EQUAL_FATAL(child_vm_pids(&c, pids, 2), 2);
        CU_ASSERT_FATAL(pids[1] > 0);
        CU_ASSERT_FATAL(kill(pids[1], SIGKILL) == 0);
        char want[96];
        snprintf(want, sizeof want, "shoal: VM 1 (pid %d) killed by signal 9", (int)pids[1]);
        CU_ASSERT_FATAL(child_wait_for_text(&c, 1, want, 30000));
        if (k < 2) {
            /* wait until the new VM 1 registered */
            int64_t end = child_now_ms() + 30000;
            pid_t now[2] = {0};
            while (child_now_ms() < end) {
                memset(now, 0, sizeof now);
                child_vm_pids(&c, now, 2);
                if (now[1] != pids[1])
                    break;
                child_pump(&c, 100);
            }
            CU_ASSERT_FATAL(now[1] != pids[1]);
        }
    }
    CU_ASSERT_FATAL(child_wait_done(&c, 30000));
    CU_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 3);
    LH_CHECK(strstr(c.buf[1], "more than 2 restarts in 600 s") != NULL, "stderr:\n%s", c.buf[1]);
    child_release(&c);
    unlink(src);
    unlink(ini);
    free(src);
    free(ini);
}

/* ------------------------------------------------------------------ */
/* a VM killed while its processes live in small blocks                 */

/* A VM 1 (a forked child of the test, on the shared segment) spawns
 * processes, grows their heaps and stacks out of their first blocks,
 * collects, hands some to VM 0 and ends others, until a timer kills it at
 * an arbitrary instruction. Then what the supervisor and VM 1's next
 * incarnation do (recover_self's order): the pool's locks, the slots it
 * was claiming, its slab lists of process memory, the process it was
 * running ends (its memory back), the pool's runs it owned. Every other
 * process must be whole, the slabs consistent, and every chunk but at
 * most the few in flight (a spawn's first block, a block being dropped)
 * held by a live process; and the next incarnation goes on allocating
 * from the rebuilt lists. Rounds with different timers. */

/* Each process keeps, from stack_lo: a list of its tag, `cells` long,
 * then `vals` values tag + i. */
static void mark(rt_t *rt, pcb_t *pcb, int64_t tag, int cells, int vals)
{
    proc_t *p = proc_of(pcb);
    p->sp = p->stack_lo;
    if ((uint64_t)((term *)p->ctl - p->sp) < (uint64_t)vals + 2)
        CU_ASSERT_FATAL(stack_grow(rt, pcb, (uint64_t)vals + 2) == 0);
    *p->sp++ = T_NIL;
    for (int i = 0; i < cells; i++) {
        CU_ASSERT_FATAL(heap_make_room(rt, pcb, 2) == 0);
        term *c = heap_take(p, 2);
        c[0] = mk_fix(tag);
        c[1] = p->stack_lo[0];
        p->stack_lo[0] = mk_cons_ptr(c);
    }
    for (int i = 0; i < vals; i++)
        *p->sp++ = mk_fix(tag + i);
}

static bool whole(shm_header_t *h, pcb_t *pcb, int64_t tag)
{
    proc_t *p = proc_of(pcb);
    if (p->sp <= p->stack_lo)
        return false;
    term l = p->stack_lo[0];
    for (; is_cons(l); l = CDR(l))
        if (CAR(l) != mk_fix(tag) || !heap_holds(h, pcb, cons_ptr(l)))
            return false;
    if (l != T_NIL)
        return false;
    for (term *v = p->stack_lo + 1; v < p->sp; v++)
        if (*v != mk_fix(tag + (v - p->stack_lo - 1)))
            return false;
    return true;
}

/* The chunks of the slabs of process memory that a process holds. */
static size_t chunks_of(shm_header_t *h, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    size_t n = p->cblock != NULL;
    uint32_t owner;
    if (p->stack_lo && (!p->cblock || p->stack_hi != (term *)((char *)p->cblock +
                                                             heap_block_bytes(h, p->cblock)))) {
        pool_run_of(h, p->stack_lo, &owner);
        n += owner == POOL_OWNER_HEAP_SLABS;
    }
    return n;
}

#define SB_SLOTS 512

/* The child: VM 1 at work until the timer ends it. Each process's tag is
 * its slot, so a process is checked against its own slot. */
static void vm1_work(vw_t *w, uint64_t seed)
{
    rt_t *rt = vw_rt(w, 1);
    shm_header_t *h = w->h;
    uint64_t x = seed | 1;
    for (;;) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        uint32_t slot = (uint32_t)(x % SB_SLOTS);
        pcb_t *pcb = shm_pcb(h, slot);
        proc_t *p = proc_of(pcb);
        int op = (int)((x >> 20) % 8);
        if (ck_pr_load_32(&pcb->state) != PCB_LIVE) {
            pcb_t *n = vw_proc_new(w, 1);
            if (!n)
                continue;
            proc_of(n)->status = PS_RUNNING;
            mark(rt, n, n->slot * 1000, 1 + (int)(x >> 40) % 4, (int)(x >> 44) % 6);
            ck_pr_store_32(&proc_of(n)->status, PS_WAITING);
            continue;
        }
        if (pcb->owner == 0) {
            /* VM 0 hands it back */
            ck_pr_store_32(&pcb->owner, 1);
            heap_attach(rt, p);
            continue;
        }
        ck_pr_store_32(&p->status, PS_RUNNING);
        if (op <= 1) {
            vw_proc_free(w, pcb, 1);
            continue;
        }
        if (op == 2) {
            /* to VM 0, as a hand-over does it: nothing of it moves */
            heap_detach(rt, p);
            ck_pr_store_32(&p->status, PS_WAITING);
            ck_pr_store_32(&pcb->owner, 0);
            continue;
        }
        /* more heap, a bigger stack, a collection: out of the block */
        mark(rt, pcb, pcb->slot * 1000, (int)(x >> 30) % 300, (int)(x >> 50) % 700);
        if (op >= 5)
            CU_ASSERT_FATAL(heap_gc(rt, pcb, 0, NULL, 0) == 0);
        ck_pr_store_32(&p->status, PS_WAITING);
    }
}

static void test_small_blocks_vm_killed(void)
{
    vw_t w;
    CU_ASSERT_FATAL(vw_open(&w, 2, 1, SB_SLOTS, 64u << 20, HEAP_FOLLOW_ON_GC));
    shm_header_t *h = w.h;
    slab_dom_t *d = shm_heap_slabs(h);
    rt_t *rt1 = vw_rt(&w, 1);
    char why[256];
    for (int round = 0; round < 12; round++) {
        fflush(NULL);
        pid_t kid = fork();
        CU_ASSERT_FATAL(kid >= 0);
        if (kid == 0) {
            /* SIGALRM's default action ends the process where it is */
            struct itimerval t = {{0, 0}, {0, 2000 + 1700 * round}};
            setitimer(ITIMER_REAL, &t, NULL);
            vm1_work(&w, 0x9e3779b97f4a7c15ull * (uint64_t)(round + 1));
            _exit(1);
        }
        int status = 0;
        CU_ASSERT_FATAL(waitpid(kid, &status, 0) == kid);
        CU_ASSERT_FATAL(WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM);
        /* the supervisor, then the next incarnation of VM 1 */
        pool_break_locks(h, 1);
        proctab_recover_vm(h, 1);
        slab_recover_vm(h, d, 1, 1);
        size_t ended = 0, lost = 0, held = 0, live = 0;
        for (uint32_t i = 0; i < SB_SLOTS; i++) {
            pcb_t *pcb = shm_pcb(h, i);
            if (ck_pr_load_32(&pcb->state) != PCB_LIVE)
                continue;
            proc_t *p = proc_of(pcb);
            if (pcb->owner == 1 && ps_state(p->status) != PS_WAITING) {
                /* in VM 1's hands at the instant of the death (running, or
                 * made by vw_proc_new and not yet RUNNING: vm1_work leaves
                 * every other process WAITING): it ends */
                vw_proc_free(&w, pcb, 1);
                ended++;
                continue;
            }
            live++;
            lost += !whole(h, pcb, (int64_t)i * 1000);
            held += chunks_of(h, pcb);
        }
        pool_reclaim_vm(h, 1);
        CU_ASSERT(ended <= 1);
        LH_CHECK(lost == 0, "round %d: %zu of %zu processes not whole", round, lost, live);
        size_t used = 0;
        int rc = slab_check(h, d, why, sizeof why, NULL, &used);
        LH_CHECK(rc == 0, "round %d: slabs: %s", round, why);
        /* leaks: at most a spawn's first block and one block in flight */
        LH_CHECK(used >= held && used <= held + 2 * (size_t)(round + 1),
                 "round %d: %zu chunks in use, %zu held by %zu processes", round, used, held,
                 live);
        CU_ASSERT_EQUAL(pool_check(h, why, sizeof why), 0);
    }
    /* the next incarnation allocates from the rebuilt lists, and every
     * process, on either VM, gives its chunks back */
    for (int i = 0; i < 100; i++) {
        pcb_t *n = vw_proc_new(&w, 1);
        if (!n)
            break;
        mark(rt1, n, n->slot * 1000, 2, 3);
    }
    size_t lost = 0;
    for (uint32_t i = 0; i < SB_SLOTS; i++) {
        pcb_t *pcb = shm_pcb(h, i);
        if (ck_pr_load_32(&pcb->state) != PCB_LIVE)
            continue;
        lost += !whole(h, pcb, (int64_t)i * 1000);
        vw_proc_free(&w, pcb, pcb->owner);
    }
    CU_ASSERT_EQUAL(lost, 0);
    size_t used = 0;
    CU_ASSERT_EQUAL(slab_check(h, d, why, sizeof why, NULL, &used), 0);
    LH_CHECK(used <= 24, "%zu chunks still in use with no process", used);
    CU_ASSERT_EQUAL(pool_check(h, why, sizeof why), 0);
    vw_close(&w);
}

static int suite_init(void)
{
    /* orphans of a failed test come back to us, not to init */
    return prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ? -1 : 0;
}

static CU_TestInfo tests[] = {
    {"a killed VM: vm_crash for its running process, once; the waiting ones adopted",
     test_killed_vm_recovered},
    {"a stopped VM is found stalled, killed and recovered", test_stalled_vm_recovered},
    {"past max_restarts in restart_window_s the run stops with 3", test_restart_limit},
    {"a VM killed at random with processes in small blocks: they stay whole, chunks stay counted",
     test_small_blocks_vm_killed},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(recover, tests, suite_init, NULL)
