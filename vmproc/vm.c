/*
 * vm.c: the VM process: start-up, registration, the smoke loop, and the
 * futex sleep/wake that the scheduler reuses.
 *
 * NOTES
 *   Runs in the forked VM process, except vm_wake, which any process that
 *   maps the segment may call (the supervisor does, to stop the run).
 *   Writes: this VM's "self" group of shm_vm_t (state, bound, heartbeat,
 *   smoke) and the `sleeping` flag of its wake group; other VMs and the
 *   supervisor write `wake`. Every access to a shared word goes through
 *   ck_pr with the fence it needs, stated next to it.
 *   The futex is a shared one (no FUTEX_PRIVATE_FLAG): the word lives in a
 *   MAP_SHARED memfd mapping that several processes wait and wake on.
 */
#include "vmproc/vm.h"

#include "shm/pool.h"
#include "vmproc/program.h"

#include <ck_pr.h>
#include <errno.h>
#include <linux/futex.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int notify_fd = -1;

uint64_t vm_futex_woken;

int vm_notify(void)
{
    if (notify_fd < 0) {
        errno = EBADF;
        return -1;
    }
    uint64_t one = 1;
    /* The eventfd is non-blocking and only overflows after 2^64-2 writes. */
    ssize_t n = write(notify_fd, &one, sizeof one);
    return n == (ssize_t)sizeof one ? 0 : -1;
}

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
    return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

enum vm_sleep_result vm_sleep(shm_header_t *h, shm_vm_t *self, bool (*ready)(void *ctx), void *ctx,
                              uint32_t timeout_ms)
{
    /* Read the wake count first: a vm_wake after this read changes it, and
     * FUTEX_WAIT below then returns at once instead of sleeping. */
    uint32_t seen = ck_pr_load_32(&self->wake);
    /* Store-load: `sleeping` must be visible before we look for work, and
     * the read of `wake` above must not drift below the checks. This pairs
     * with the full fence in vm_wake (the Dekker pattern): either the waker
     * sees sleeping == 1 and calls FUTEX_WAKE, or we see its work here.
     * An exchange and an atomic-load fence give it: on x86 a locked
     * instruction, several times cheaper than a store and an mfence. */
    ck_pr_fas_32(&self->sleeping, 1);
    ck_pr_fence_atomic_load();
    if (ck_pr_load_32(&h->run.stopping) || (ready && ready(ctx))) {
        ck_pr_store_32(&self->sleeping, 0);
        return VM_SLEEP_SKIPPED;
    }
    struct timespec ts = {.tv_sec = timeout_ms / 1000,
                          .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    long rc = futex(&self->wake, FUTEX_WAIT, seen, &ts);
    int e = errno;
    /* Plain store: a waker that still sees 1 only makes a needless
     * FUTEX_WAKE, which is harmless. */
    ck_pr_store_32(&self->sleeping, 0);
    if (rc < 0 && e == ETIMEDOUT)
        return VM_SLEEP_TIMEOUT;
    return VM_SLEEP_WOKEN; /* woken, EAGAIN (wake changed), or EINTR */
}

void vm_wake(shm_vm_t *vm)
{
    /* Release: the caller's work (a queue push, run.stopping) is visible
     * before the bump, so a sleeper that sees the new count sees the work. */
    ck_pr_fence_release();
    ck_pr_inc_32(&vm->wake);
    /* The bump (an atomic increment, after the work) must be visible
     * before we read `sleeping`; pairs with the full fence in vm_sleep.
     * Atomic-to-load order: on TSO machines the locked increment already
     * gives it, so no mfence. */
    ck_pr_fence_atomic_load();
    if (ck_pr_load_32(&vm->sleeping)) {
        long n = futex(&vm->wake, FUTEX_WAKE, 1, NULL);
        if (n > 0)
            vm_futex_woken += (uint64_t)n;
    }
}

uint64_t vm_smoke_compute(uint32_t id)
{
    /* xorshift64* over 2^20 steps: a few milliseconds of CPU, deterministic
     * per VM id, so the test can recompute what each VM published. */
    uint64_t x = 0x9e3779b97f4a7c15ull ^ ((uint64_t)id + 1) * 0xbf58476d1ce4e5b9ull;
    uint64_t acc = 0;
    for (uint32_t i = 0; i < (1u << 20); i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        acc += x * 0x2545f4914f6cdd1dull;
    }
    return acc ? acc : 1; /* 0 means "not published yet" in the VM table */
}

static int bind_self(shm_vm_t *self, hwloc_topology_t topo, uint32_t id)
{
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (!set)
        return 0;
    int bound = 0;
    if (hwloc_bitmap_list_sscanf(set, self->cpuset) < 0 || hwloc_bitmap_iszero(set))
        fprintf(stderr, "shoal: VM %u: bad cpuset \"%s\"; not binding\n", id, self->cpuset);
    else if (hwloc_set_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) < 0)
        fprintf(stderr, "shoal: warning: VM %u: cannot bind to cpuset %s: %s\n", id, self->cpuset,
                strerror(errno));
    else
        bound = 1;
    hwloc_bitmap_free(set);
    return bound;
}

/* The built-in workload: compute, publish, then idle with a moving
 * heartbeat until the run stops. */
static int smoke_loop(shm_header_t *h, shm_vm_t *self)
{
    uint64_t r = vm_smoke_compute(self->id);
    /* Single writer; the supervisor only needs the value itself. */
    ck_pr_store_64(&self->smoke, r);
    vm_notify();
    uint64_t beat = ck_pr_load_64(&self->heartbeat);
    for (;;) {
        /* Single writer (this VM); the supervisor reads it with a plain
         * atomic load and only compares successive values. */
        ck_pr_store_64(&self->heartbeat, ++beat);
        if (ck_pr_load_32(&h->run.stopping))
            break;
        vm_sleep(h, self, NULL, NULL, VM_IDLE_MS);
    }
    return 0;
}

int vm_main(shm_header_t *h, uint32_t id, const vm_start_t *start)
{
    notify_fd = start->notify_fd;
    if (shm_check_mapping(h) < 0) {
        fprintf(stderr,
                "shoal: VM %u: the shared segment is not mapped where the supervisor "
                "mapped it (%p)\n",
                id, (void *)h);
        return 1;
    }
    shm_vm_t *self = shm_vm(h, id);
    vm_heartbeat_word = &self->heartbeat;
    uint32_t bound = start->topo ? (uint32_t)bind_self(self, start->topo, id) : 0;
    ck_pr_store_32(&self->bound, bound);
    /* Release: `bound` (and anything else set up above) is visible to
     * whoever sees VM_RUNNING. */
    ck_pr_fence_release();
    ck_pr_store_32(&self->state, VM_RUNNING);
    vm_notify();

    int code = start->program ? program_vm_main(h, id) : smoke_loop(h, self);

    /* A clean stop gives this VM's page cache back to the pool; a dead
     * VM's cache is the supervisor's job (pool_recover_vm). */
    pool_cache_drain(h, id);

    /* Release: the VM's last counters are visible before it says it stopped. */
    ck_pr_fence_release();
    ck_pr_store_32(&self->state, VM_STOPPED);
    return code;
}
