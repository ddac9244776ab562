/*
 * out.c: standard output shared by every VM (see out.h).
 */
#include "vmproc/out.h"

#include "vmproc/vm.h"

#include <ck_pr.h>
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Spins before a waiter sleeps: a line takes a few microseconds to write
 * to a file or a pipe with room, less than a futex round trip. */
#define OUT_SPINS 200
/* A sleeper looks again this often even unwoken: a holder that died is
 * broken by the supervisor, which wakes everybody anyway. */
#define OUT_WAIT_MS 50

static long futex(uint32_t *word, int op, uint32_t val, const struct timespec *timeout)
{
    return syscall(SYS_futex, word, op, val, timeout, NULL, 0);
}

static void lock_out(shm_out_t *o, uint32_t vm)
{
    for (unsigned i = 0;; i++) {
        if (ck_pr_load_32(&o->lock) == 0 && ck_pr_cas_32(&o->lock, 0, vm + 1)) {
            /* Acquire: the previous holder's write is done before ours. */
            ck_pr_fence_lock();
            return;
        }
        if (i < OUT_SPINS) {
            ck_pr_stall();
            continue;
        }
        uint32_t cur = ck_pr_load_32(&o->lock);
        if (cur == 0)
            continue;
        /* The increment (a locked instruction, a full barrier here) comes
         * before FUTEX_WAIT's check of the word; the holder stores 0 and
         * then reads `waiters`. So either it sees us and wakes us, or we
         * see 0 and do not sleep (the Dekker pattern, as in vm.c). */
        ck_pr_inc_32(&o->waiters);
        struct timespec ts = {0, OUT_WAIT_MS * 1000000L};
        futex(&o->lock, FUTEX_WAIT, cur, &ts);
        ck_pr_dec_32(&o->waiters);
    }
}

static void unlock_out(shm_out_t *o)
{
    /* Release: our write is done before the lock reads free. */
    ck_pr_fence_unlock();
    ck_pr_store_32(&o->lock, 0);
    /* Store-load: the free lock is visible before we read `waiters`. */
    ck_pr_fence_memory();
    if (ck_pr_load_32(&o->waiters))
        futex(&o->lock, FUTEX_WAKE, 1, NULL);
}

static void record(shm_header_t *h, int err)
{
    /* The first error wins; the supervisor reads it after the notify. */
    if (ck_pr_cas_32((uint32_t *)&h->out.error, 0, (uint32_t)err))
        vm_notify();
}

int out_write(shm_header_t *h, uint32_t vm, const char *s, size_t n)
{
    shm_out_t *o = &h->out;
    if (ck_pr_load_32((uint32_t *)&o->error) != 0) {
        errno = (int)ck_pr_load_32((uint32_t *)&o->error);
        return -1; /* the run is stopping; the rest is dropped */
    }
    lock_out(o, vm);
    int rc = 0;
    while (n) {
        ssize_t k = write(1, s, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        s += k;
        n -= (size_t)k;
    }
    int err = errno;
    unlock_out(o);
    if (rc < 0) {
        record(h, err);
        errno = err;
    }
    return rc;
}

void out_recover_vm(shm_header_t *h, uint32_t vm)
{
    shm_out_t *o = &h->out;
    if (ck_pr_cas_32(&o->lock, vm + 1, 0))
        futex(&o->lock, FUTEX_WAKE, INT32_MAX, NULL);
}

int out_error(const shm_header_t *h)
{
    return (int)ck_pr_load_32((uint32_t *)&h->out.error);
}
