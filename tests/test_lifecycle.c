/*
 * test_lifecycle.c: VMs start, work, die and stop as the supervisor says.
 *
 * Most tests run the real binary (unit_shoal_path()) with pipes on its
 * stdout and stderr, and wait on those pipes and on a pidfd, always with a
 * bounded timeout, never a sleep. The test process is a child subreaper,
 * so a VM that outlived its supervisor would be re-parented to the test
 * and caught by no_orphans(). Two tests run vm_main and vm_sleep/vm_wake
 * in-process (forked) against a segment or a shared mapping.
 */
#include "tests/child.h"
#include "tests/unit.h"

#include "shm/segment.h"
#include "shm/vmtab.h"
#include "vmproc/vm.h"

#include <ck_pr.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];

/* Every VM is gone and none was orphaned: an orphan would have been
 * re-parented to this subreaper (waitpid would find it), and a live one
 * would answer kill(pid, 0). */
static void no_orphans(const pid_t *pids, int n)
{
    for (int i = 0; i < n; i++) {
        CU_ASSERT(pids[i] > 0);
        errno = 0;
        CU_ASSERT_EQUAL(waitpid(pids[i], NULL, WNOHANG), -1);
        CU_ASSERT_EQUAL(errno, ECHILD);
        errno = 0;
        CU_ASSERT_EQUAL(kill(pids[i], 0), -1);
        CU_ASSERT_EQUAL(errno, ESRCH);
    }
}

static int suite_init(void)
{
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return -1;
    snprintf(dir, sizeof dir, "/tmp/shoal-life-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int suite_cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_smoke_run(void)
{
    child_t c;
    child_spawn(&c, (const char *[]){"run", "--smoke", "--vms", "2", NULL}, false);
    CU_ASSERT_FATAL(child_wait_done(&c, 20000));
    CU_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
    /* One line per VM, with the value that VM must have computed. */
    int lines = 0;
    for (const char *s = c.buf[0]; *s; s++)
        lines += *s == '\n';
    CU_ASSERT_EQUAL(lines, 2);
    for (uint32_t i = 0; i < 2; i++) {
        char want[128];
        snprintf(want, sizeof want, "VM %u: cpuset ", i);
        const char *line = strstr(c.buf[0], want);
        CU_ASSERT_PTR_NOT_NULL_FATAL(line);
        snprintf(want, sizeof want, ", smoke %016llx\n", (unsigned long long)vm_smoke_compute(i));
        const char *smoke = strstr(line, want);
        CU_ASSERT_PTR_NOT_NULL(smoke);
        CU_ASSERT(smoke && smoke < strchr(line, '\n'));
    }
    child_release(&c);
}

static void test_smoke_synthetic(void)
{
    /* On a synthetic topology nothing is bound, and the run still works. */
    child_t c;
    child_spawn(&c,
          (const char *[]){"run", "--smoke", "--vms", "4", "-v", "--topology",
                           "pack:2,numa:2,core:2,pu:1", NULL},
          false);
    CU_ASSERT_FATAL(child_wait_done(&c, 20000));
    CU_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.buf[0], "VM 3: cpuset 6-7, node 3, smoke "));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.buf[1], "shoal: VM 2 pid "));
    CU_ASSERT_PTR_NULL(strstr(c.buf[1], " bound\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(c.buf[1], "shoal: ready (4 VMs)"));
    child_release(&c);
}

static void test_vm_killed(void)
{
    child_t c;
    child_spawn(&c, (const char *[]){"run", "--smoke", "--hold", "--vms", "4", "-v", NULL}, false);
    CU_ASSERT_FATAL(child_wait_for_text(&c, 1, "shoal: ready (4 VMs)\n", 20000));
    pid_t pids[4] = {0};
    CU_ASSERT_EQUAL_FATAL(child_vm_pids(&c, pids, 4), 4);

    char want[128];
    snprintf(want, sizeof want,
             "shoal: VM 1 (pid %d) killed by signal 9 (Killed); stopping the run", (int)pids[1]);
    int64_t t0 = child_now_ms();
    CU_ASSERT_FATAL(kill(pids[1], SIGKILL) == 0);
    bool seen = child_wait_for_text(&c, 1, want, 5000);
    int64_t took = child_now_ms() - t0;
    if (!seen || took >= 100)
        fprintf(stderr, "\ndeath report after %lld ms; stderr:\n%s\n", (long long)took, c.buf[1]);
    CU_ASSERT(seen);
    CU_ASSERT(took < 100);

    CU_ASSERT_FATAL(child_wait_done(&c, 20000));
    CU_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 3);
    /* Reported once: the other VMs' ends are part of the stop. */
    const char *report = strstr(c.buf[1], want);
    CU_ASSERT_PTR_NULL(report ? strstr(report + strlen(want), "stopping the run") : NULL);
    no_orphans(pids, 4);
    child_release(&c);
}

static void stop_by_signal(int sig, bool whole_group)
{
    child_t c;
    child_spawn(&c, (const char *[]){"run", "--smoke", "--hold", "--vms", "3", "-v", NULL}, whole_group);
    CU_ASSERT_FATAL(child_wait_for_text(&c, 1, "shoal: ready (3 VMs)\n", 20000));
    pid_t pids[3] = {0};
    CU_ASSERT_EQUAL_FATAL(child_vm_pids(&c, pids, 3), 3);
    int64_t t0 = child_now_ms();
    /* Ctrl-C at a terminal signals the whole foreground process group. */
    CU_ASSERT_FATAL(kill(whole_group ? -c.pid : c.pid, sig) == 0);
    CU_ASSERT_FATAL(child_wait_done(&c, 20000));
    int64_t took = child_now_ms() - t0;
    CU_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 128 + sig);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.buf[1], "shoal: stopped by signal"));
    /* A clean stop: no VM reported dead or killed. */
    CU_ASSERT_PTR_NULL(strstr(c.buf[1], "killed"));
    CU_ASSERT_PTR_NULL(strstr(c.buf[1], "stopping the run"));
    /* The VMs left on run.stopping and a wake, not on the SIGTERM that
     * comes after a 2 s grace. */
    if (took >= 1000)
        fprintf(stderr, "\nstop took %lld ms\n", (long long)took);
    CU_ASSERT(took < 1000);
    no_orphans(pids, 3);
    child_release(&c);
}

static void test_sigterm(void)
{
    stop_by_signal(SIGTERM, false);
}

static void test_sigint(void)
{
    stop_by_signal(SIGINT, false);
}

static void test_sigint_group(void)
{
    stop_by_signal(SIGINT, true);
}

/* A VM that ignores run.stopping (here: stopped with SIGSTOP) is sent
 * SIGTERM, then SIGKILL, on the supervisor's timer, and the stop still
 * ends with every VM reaped. */
static void test_stuck_vm_is_killed(void)
{
    child_t c;
    child_spawn(&c, (const char *[]){"run", "--smoke", "--hold", "--vms", "2", "-v", NULL}, false);
    CU_ASSERT_FATAL(child_wait_for_text(&c, 1, "shoal: ready (2 VMs)\n", 20000));
    pid_t pids[2] = {0};
    CU_ASSERT_EQUAL_FATAL(child_vm_pids(&c, pids, 2), 2);
    CU_ASSERT_FATAL(kill(pids[0], SIGSTOP) == 0);
    CU_ASSERT_FATAL(kill(c.pid, SIGTERM) == 0);
    CU_ASSERT_FATAL(child_wait_done(&c, 20000));
    CU_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 128 + SIGTERM);
    char want[128];
    snprintf(want, sizeof want, "shoal: VM 0 (pid %d) did not stop in time; killing it",
             (int)pids[0]);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.buf[1], want));
    CU_ASSERT_PTR_NULL(strstr(c.buf[1], "VM 1 (pid")); /* VM 1 left cleanly */
    no_orphans(pids, 2);
    child_release(&c);
}

/* The supervisor's stop grace (supervisor/run.c, RUN_STOP_GRACE_MS): a
 * VM that neither leaves its loop nor moves its heartbeat for this long
 * after a stop is sent SIGTERM. The test below does not rely on the
 * value: it measures the grace it gets. */
#define STOP_GRACE_MS 2000

/* The VM table of a running supervisor's segment, mapped here through its
 * memfd (/proc/PID/fd/N, a link to "/memfd:shoal"): only the header and
 * the VM table, at whatever address (shm_vm uses offsets). NULL if it
 * cannot be found; *len is the mapped length. */
static shm_header_t *map_vm_table(pid_t sup, size_t *len)
{
    char path[64], link[128];
    for (int fd = 3; fd < 1024; fd++) {
        snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)sup, fd);
        ssize_t k = readlink(path, link, sizeof link - 1);
        if (k < 0)
            continue;
        link[k] = 0;
        if (strncmp(link, "/memfd:shoal", 12) != 0)
            continue;
        int mfd = open(path, O_RDWR | O_CLOEXEC);
        if (mfd < 0)
            return NULL;
        size_t page = (size_t)sysconf(_SC_PAGESIZE);
        shm_header_t *h = mmap(NULL, page, PROT_READ, MAP_SHARED, mfd, 0);
        size_t want = 0;
        if (h != MAP_FAILED) {
            if (h->magic == SHM_MAGIC && h->supervisor_pid == (int32_t)sup)
                want =
                    (h->layout.vm_off + h->cfg.n_vms * sizeof(shm_vm_t) + page - 1) / page * page;
            munmap(h, page);
        }
        h = want ? mmap(NULL, want, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0) : MAP_FAILED;
        close(mfd);
        if (h == MAP_FAILED)
            return NULL;
        *len = want;
        return h;
    }
    return NULL;
}

/* A VM that is still working when the run stops (its heartbeat moving, as
 * in a long collection, which beats: vmproc/beat.h) is not sent SIGTERM,
 * however long it works; once its heartbeat stops, the stop's grace runs
 * out and it is, as a stuck VM is.
 *
 * VM 0 is frozen with SIGSTOP, so that it cannot leave its loop by itself
 * (a stop that merely came late would not pass), and this test moves its
 * heartbeat word in the segment every 20 ms for three graces after the
 * stop. Then it stops moving it, and measures how long the supervisor
 * takes to send SIGTERM: that must be less than the time it was held off,
 * which shows that only the moving heartbeat held it off. */
static void test_working_vm_not_killed(void)
{
    child_t c;
    child_spawn(&c, (const char *[]){"run", "--smoke", "--hold", "--vms", "2", "-v", NULL}, false);
    CU_ASSERT_FATAL(child_wait_for_text(&c, 1, "shoal: ready (2 VMs)\n", 20000));
    pid_t pids[2] = {0};
    CU_ASSERT_EQUAL_FATAL(child_vm_pids(&c, pids, 2), 2);
    size_t len = 0;
    shm_header_t *h = map_vm_table(c.pid, &len);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    uint64_t *beat = &shm_vm(h, 0)->heartbeat;

    CU_ASSERT_FATAL(kill(pids[0], SIGSTOP) == 0);
    CU_ASSERT_FATAL(kill(c.pid, SIGTERM) == 0);
    const int64_t held = 3 * STOP_GRACE_MS;
    int64_t t0 = child_now_ms(), last = t0;
    while (child_now_ms() - t0 < held && !c.exited) {
        /* the only writer while VM 0 is stopped */
        ck_pr_store_64(beat, ck_pr_load_64(beat) + 1);
        last = child_now_ms();
        child_pump(&c, 20);
    }
    char term[128], kill9[128];
    snprintf(term, sizeof term, "shoal: VM 0 (pid %d) did not stop in time; sending SIGTERM",
             (int)pids[0]);
    snprintf(kill9, sizeof kill9, "shoal: VM 0 (pid %d) did not stop in time; killing it",
             (int)pids[0]);
    if (strstr(c.buf[1], "did not stop in time") || c.exited)
        fprintf(stderr, "\nwhile VM 0 was working:\n%s\n", c.buf[1]);
    CU_ASSERT_FALSE(c.exited);
    CU_ASSERT_PTR_NULL(strstr(c.buf[1], "did not stop in time"));

    /* its heartbeat stops: now it is stuck */
    bool seen = child_wait_for_text(&c, 1, term, 20000);
    int64_t took = child_now_ms() - last;
    if (!seen || took >= held)
        fprintf(stderr, "\nSIGTERM %lld ms after the last beat (held off for %lld ms):\n%s\n",
                (long long)took, (long long)held, c.buf[1]);
    CU_ASSERT(seen);
    CU_ASSERT(took < held);
    CU_ASSERT_FATAL(child_wait_done(&c, 20000));
    CU_ASSERT(WIFEXITED(c.status) && WEXITSTATUS(c.status) == 128 + SIGTERM);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.buf[1], kill9));
    CU_ASSERT_PTR_NULL(strstr(c.buf[1], "VM 1 (pid")); /* VM 1 left cleanly */
    munmap(h, len);
    no_orphans(pids, 2);
    child_release(&c);
}

static void expect_usage_error(const char *const *args, const char *want)
{
    child_t c;
    child_spawn(&c, args, false);
    CU_ASSERT_FATAL(child_wait_done(&c, 10000));
    bool ok = WIFEXITED(c.status) && WEXITSTATUS(c.status) == 2 && strstr(c.buf[1], want) &&
              c.len[0] == 0;
    if (!ok)
        fprintf(stderr, "\n%s ...: status 0x%x, stderr: %s (wanted \"%s\")\n", args[0],
                (unsigned)c.status, c.buf[1], want);
    CU_ASSERT(ok);
    child_release(&c);
}

static void test_bad_input(void)
{
    char missing[128], config[128], xml[128];
    snprintf(missing, sizeof missing, "%s/missing.xml", dir);
    snprintf(config, sizeof config, "%s/bad.ini", dir);
    snprintf(xml, sizeof xml, "%s/garbage.xml", dir);
    FILE *f = fopen(config, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("[run]\nvms = 2\nspeed = 11\n", f);
    fclose(f);
    f = fopen(xml, "w");
    CU_ASSERT_FATAL(f != NULL);
    fputs("not xml at all\n", f);
    fclose(f);
    char config_err[160];
    snprintf(config_err, sizeof config_err, "%s:3: unknown key \"speed\"", config);

    expect_usage_error((const char *[]){"run", "--smoke", "--frobnicate", NULL},
                       "unknown option --frobnicate");
    expect_usage_error((const char *[]){"run", "--smoke", "--vms", "0", NULL},
                       "--vms: 0 is out of range (expected 1..1024)");
    expect_usage_error((const char *[]){"run", "--smoke", "--vms", "5000", NULL},
                       "--vms: 5000 is out of range");
    expect_usage_error((const char *[]){"run", "--smoke", "--vms", "abc", NULL},
                       "--vms: \"abc\" is not a number");
    expect_usage_error((const char *[]){"run", "--smoke", "--vms", NULL}, "needs a value");
    expect_usage_error((const char *[]){"run", "--smoke", "--topology", "pack:2 gizmo:3", NULL},
                       "synthetic topology \"pack:2 gizmo:3\": unknown level type \"gizmo\"");
    expect_usage_error((const char *[]){"run", "--smoke", "--topology", missing, NULL},
                       "cannot read topology file");
    expect_usage_error((const char *[]){"run", "--smoke", "--topology", dir, NULL},
                       "Is a directory");
    expect_usage_error((const char *[]){"run", "--smoke", "--topology", xml, NULL},
                       "not a valid hwloc XML topology");
    expect_usage_error((const char *[]){"run", "--smoke", "--config", config, NULL}, config_err);
    expect_usage_error((const char *[]){"run", "--smoke", "--config", missing, NULL},
                       "cannot read config file");
    expect_usage_error((const char *[]){"run", NULL}, "nothing to run");
    expect_usage_error((const char *[]){"run", "--hold", NULL}, "--hold needs --smoke");
    expect_usage_error((const char *[]){"topology", "--smoke", NULL}, "applies to 'shoal run'");
    expect_usage_error((const char *[]){"frobnicate", NULL}, "unknown command 'frobnicate'");
    expect_usage_error((const char *[]){"run", "/nonexistent/prog.shoal", NULL},
                       "cannot read /nonexistent/prog.shoal");
}

/* vm_main in a forked child against a real segment: it registers, unbound
 * (no topology to bind with), publishes its smoke result, notifies, keeps
 * its heartbeat moving while idle, and leaves on run.stopping + vm_wake. */
static void test_vm_main(void)
{
    shm_config_t cfg;
    shm_config_default(&cfg, 1, 1);
    cfg.pool_bytes = 8u << 20;
    cfg.proc_slots = 64;
    shm_header_t *h = shm_create(&cfg);
    CU_ASSERT_FATAL(h != NULL);
    int efd = eventfd(0, EFD_CLOEXEC);
    CU_ASSERT_FATAL(efd >= 0);
    shm_vm_t *vm = shm_vm(h, 0);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        vm_start_t st = {.topo = NULL, .notify_fd = efd, .program = false};
        _exit(vm_main(h, 0, &st));
    }
    int pfd = child_pidfd_of(pid);
    /* Notifications: one at registration, one with the smoke result. */
    int64_t end = child_now_ms() + 10000;
    while (ck_pr_load_64(&vm->smoke) == 0 && child_now_ms() < end) {
        struct pollfd p[2] = {{.fd = efd, .events = POLLIN}, {.fd = pfd, .events = POLLIN}};
        CU_ASSERT_FATAL(poll(p, 2, (int)(end - child_now_ms())) > 0);
        CU_ASSERT_FATAL(!(p[1].revents & POLLIN)); /* the VM must not have exited */
        uint64_t n;
        CU_ASSERT(read(efd, &n, sizeof n) == sizeof n);
    }
    CU_ASSERT_EQUAL(ck_pr_load_64(&vm->smoke), vm_smoke_compute(0));
    CU_ASSERT_EQUAL(ck_pr_load_32(&vm->state), VM_RUNNING);
    CU_ASSERT_EQUAL(ck_pr_load_32(&vm->bound), 0);

    /* Idle, the heartbeat moves about every VM_IDLE_MS: see it move three
     * times, waiting a bounded time on the child's pidfd (which must not
     * fire) between looks. */
    uint64_t beat0 = ck_pr_load_64(&vm->heartbeat);
    end = child_now_ms() + 5000;
    while (ck_pr_load_64(&vm->heartbeat) < beat0 + 3 && child_now_ms() < end) {
        struct pollfd p = {.fd = pfd, .events = POLLIN};
        CU_ASSERT_FATAL(poll(&p, 1, VM_IDLE_MS) == 0);
    }
    CU_ASSERT(ck_pr_load_64(&vm->heartbeat) >= beat0 + 3);

    ck_pr_store_32(&h->run.stopping, 1);
    vm_wake(vm);
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    CU_ASSERT_FATAL(poll(&p, 1, 5000) == 1);
    int status;
    CU_ASSERT(waitpid(pid, &status, 0) == pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&vm->state), VM_STOPPED);
    close(pfd);
    close(efd);
    shm_destroy(h);
}

/* vm_sleep / vm_wake lose no wake-up: two processes hand a ball back and
 * forth, each sleeping with a 10 s timeout until the ball is its own. A
 * lost wake-up would cost 10 s and show as a timeout. */
typedef struct pingpong {
    shm_header_t h; /* only run.stopping is used */
    shm_vm_t vm[2];
    uint32_t ball;
    uint64_t child_woken; /* the child's vm_futex_woken at its end */
} pingpong_t;

typedef struct turn {
    pingpong_t *pp;
    uint32_t want;
} turn_t;

static bool my_turn(void *ctx)
{
    turn_t *t = ctx;
    return ck_pr_load_32(&t->pp->ball) == t->want;
}

#define ROUNDS 20000u

/* Side `me` (0 or 1) plays ROUNDS rounds; returns the timeouts it saw. */
static uint32_t play(pingpong_t *pp, uint32_t me)
{
    uint32_t timeouts = 0;
    for (uint32_t r = 0; r < ROUNDS; r++) {
        turn_t t = {pp, 2 * r + me};
        while (!my_turn(&t))
            if (vm_sleep(&pp->h, &pp->vm[me], my_turn, &t, 10000) == VM_SLEEP_TIMEOUT)
                timeouts++;
        ck_pr_store_32(&pp->ball, 2 * r + me + 1);
        vm_wake(&pp->vm[1 - me]);
    }
    return timeouts;
}

static void test_sleep_wake(void)
{
    pingpong_t *pp =
        mmap(NULL, sizeof *pp, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CU_ASSERT_FATAL(pp != MAP_FAILED);
    memset(pp, 0, sizeof *pp);
    int64_t t0 = child_now_ms();
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        vm_futex_woken = 0;
        uint32_t t = play(pp, 1);
        ck_pr_store_64(&pp->child_woken, vm_futex_woken);
        _exit(t ? 1 : 0);
    }
    uint64_t woken0 = vm_futex_woken;
    uint32_t timeouts = play(pp, 0);
    uint64_t woken = vm_futex_woken - woken0;
    int pfd = child_pidfd_of(pid);
    struct pollfd p = {.fd = pfd, .events = POLLIN};
    CU_ASSERT_FATAL(poll(&p, 1, 30000) == 1);
    int status;
    CU_ASSERT(waitpid(pid, &status, 0) == pid);
    int64_t took = child_now_ms() - t0;
    CU_ASSERT_EQUAL(timeouts, 0);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CU_ASSERT_EQUAL(ck_pr_load_32(&pp->ball), 2 * ROUNDS);
    CU_ASSERT(took < 9000);
    /* The futex path ran both ways: each side's vm_wake took the other
     * out of FUTEX_WAIT at least once (the syscall said it woke one). */
    CU_ASSERT(woken > 0);
    CU_ASSERT(ck_pr_load_64(&pp->child_woken) > 0);

    /* run.stopping wakes nobody by itself but stops a sleep before it starts. */
    ck_pr_store_32(&pp->h.run.stopping, 1);
    CU_ASSERT_EQUAL(vm_sleep(&pp->h, &pp->vm[0], NULL, NULL, 10000), VM_SLEEP_SKIPPED);
    ck_pr_store_32(&pp->h.run.stopping, 0);
    CU_ASSERT_EQUAL(vm_sleep(&pp->h, &pp->vm[0], NULL, NULL, 1), VM_SLEEP_TIMEOUT);
    CU_ASSERT_EQUAL(ck_pr_load_32(&pp->vm[0].sleeping), 0);
    close(pfd);
    munmap(pp, sizeof *pp);
}

static CU_TestInfo tests[] = {
    {"shoal run --smoke --vms 2: one line per VM, exit 0", test_smoke_run},
    {"smoke on a synthetic topology: placed, not bound", test_smoke_synthetic},
    {"a killed VM is reported at once and the run stops with 3", test_vm_killed},
    {"SIGTERM to the supervisor stops cleanly (143)", test_sigterm},
    {"SIGINT to the supervisor stops cleanly (130)", test_sigint},
    {"SIGINT to the whole process group (Ctrl-C) stops cleanly", test_sigint_group},
    {"a VM that does not stop gets SIGTERM, then SIGKILL", test_stuck_vm_is_killed},
    {"a VM still working (heartbeat moving) at a stop is not sent SIGTERM",
     test_working_vm_not_killed},
    {"bad input: exit 2 with a clear message", test_bad_input},
    {"vm_main registers, publishes, beats, and stops on wake", test_vm_main},
    {"vm_sleep / vm_wake lose no wake-up", test_sleep_wake},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(lifecycle, tests, suite_init, suite_cleanup)
