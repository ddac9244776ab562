/*
 * register.c: registered names (see register.h for the rules).
 */
#include "vmproc/register.h"

#include "shm/names.h"
#include "vmproc/compiler.h"

#include <ck_pr.h>
#include <errno.h>

/* Is `pid` a process that is still there to take messages? */
static bool alive(const shm_header_t *h, uint64_t pid)
{
    pcb_t *pcb = proctab_lookup(h, pid);
    return pcb && proc_is_open(h, pcb, pid);
}

/* Clear the slot's pid if it is still `pid` (a process that is gone). */
static void clear(name_slot_t *s, uint64_t pid)
{
    ck_pr_cas_64(&s->pid, pid, 0);
}

int reg_register(shm_header_t *h, uint32_t atom, uint64_t pid)
{
    if (atom == A_UNDEFINED) {
        errno = EINVAL;
        return -1;
    }
    pcb_t *pcb = proctab_lookup(h, pid);
    if (!pcb || !proc_is_open(h, pcb, pid)) {
        errno = ESRCH;
        return -1;
    }
    /* One name per process: the PCB's word decides between two VMs
     * naming one process at once. */
    if (!ck_pr_cas_32(&pcb->regname, 0, atom + 1)) {
        errno = EEXIST;
        return -1;
    }
    name_slot_t *s = names_slot(h, atom, true);
    int err = 0;
    if (!s) {
        err = ENOSPC;
    } else {
        for (;;) {
            uint64_t cur = ck_pr_load_64(&s->pid);
            if (cur != 0 && alive(h, cur)) {
                err = EEXIST;
                break;
            }
            /* free, or held by a process that is gone: exactly one CAS
             * of several racing registers wins */
            if (ck_pr_cas_64(&s->pid, cur, pid))
                break;
        }
    }
    if (!err) {
        /* Full fence: the publication above, then the look below; the
         * ending process does the mirror image (reg_drop). */
        ck_pr_fence_memory();
        if (!proc_is_open(h, pcb, pid)) {
            clear(s, pid);
            err = ESRCH;
        }
    }
    if (err) {
        ck_pr_cas_32(&pcb->regname, atom + 1, 0);
        errno = err;
        return -1;
    }
    return 0;
}

int reg_unregister(shm_header_t *h, uint32_t atom)
{
    name_slot_t *s = names_slot(h, atom, false);
    for (;;) {
        uint64_t cur = s ? ck_pr_load_64(&s->pid) : 0;
        if (cur == 0 || !alive(h, cur)) {
            if (cur)
                clear(s, cur);
            errno = ENOENT;
            return -1;
        }
        if (!ck_pr_cas_64(&s->pid, cur, 0))
            continue; /* it changed hands meanwhile: look again */
        pcb_t *pcb = proctab_lookup(h, cur);
        if (pcb)
            ck_pr_cas_32(&pcb->regname, atom + 1, 0);
        return 0;
    }
}

uint64_t reg_whereis(shm_header_t *h, uint32_t atom)
{
    name_slot_t *s = names_slot(h, atom, false);
    uint64_t cur = s ? ck_pr_load_64(&s->pid) : 0;
    if (cur == 0)
        return 0;
    if (!alive(h, cur)) {
        clear(s, cur);
        return 0;
    }
    return cur;
}

void reg_drop(shm_header_t *h, pcb_t *pcb)
{
    /* The inbox was closed (msg_close's CAS, an atomic) before this look;
     * a register that publishes after it sees the inbox closed. Atomic to
     * load is the order needed: free on x86, where the CAS is a full
     * barrier already (an mfence here was 7% of a spawn-and-exit). In an
     * exit resumed by a next incarnation, the CAS was its predecessor's,
     * whose stores the kernel drained when it died. */
    ck_pr_fence_atomic_load();
    uint32_t r = ck_pr_load_32(&pcb->regname);
    if (r == 0)
        return;
    name_slot_t *s = names_slot(h, r - 1, false);
    if (s)
        clear(s, pcb->pid);
    ck_pr_cas_32(&pcb->regname, r, 0);
}

size_t reg_recover(shm_header_t *h)
{
    size_t n = 0;
    for (uint32_t i = 0; i < names_count(h); i++) {
        name_slot_t *s = names_at(h, i);
        uint64_t cur = ck_pr_load_64(&s->pid);
        if (cur != 0 && !alive(h, cur) && ck_pr_cas_64(&s->pid, cur, 0))
            n++;
    }
    return n;
}
