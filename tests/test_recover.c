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

/* Run prog on 2 VMs with the config text; once "ready", do `sig` to VM 1
 * and check what the program and the supervisor said. */
static void crash_vm1(int sig, const char *config, const char *supervisor_says)
{
    char *src = lh_temp_source(prog);
    char *ini = config_file(config);
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ini);
    child_t c;
    child_spawn(&c, (const char *[]){"run", "-v", "--vms", "2", "--config", ini, src, NULL}, false);
    CU_ASSERT_FATAL(child_wait_for_text(&c, 0, "ready\n", 30000));
    CU_ASSERT_FATAL(child_wait_for_text(&c, 1, "shoal: ready (2 VMs)", 30000));
    pid_t pids[2] = {0};
    int found = child_vm_pids(&c, pids, 2);
    LH_CHECK(found == 2, "%d VM pids in stderr:\n%s", found, c.buf[1]);
    CU_ASSERT_FATAL(found == 2);
    LH_CHECK(kill(pids[1], sig) == 0, "kill %d: stderr:\n%s", (int)pids[1], c.buf[1]);
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
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(recover, tests, suite_init, NULL)
