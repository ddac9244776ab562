/*
 * proctab.c: the process table (see proctab.h).
 *
 * A slot moves FREE -> CLAIMED(vm) -> LIVE -> FREE. Claiming is one CAS
 * of `state`, so two VMs never get the same slot; everything else a slot
 * holds is written by its one claimer before the release store that
 * publishes it, and read by others only after an acquire load of `state`.
 *
 * pids: pid = (gen + 1) * proc_slots + slot, with gen the stored generation
 * of the slot, which starts at 0: a zeroed table is a table of free slots,
 * no pid is ever 0, and every slot is usable (pid 0 means "no process"
 * wherever a pid is stored). A slot's generation grows when the slot is
 * freed, so a dead pid never names a later process in that slot. After
 * 2^32 - 1 reuses of one slot the generation wraps to 0 (uniqueness past
 * that point is not promised).
 *
 * NOTES
 *   state: CAS FREE -> CLAIMED(vm) by the claimer; release stores by the
 *     claimer (-> LIVE), by whoever frees the process (-> FREE), and by the
 *     supervisor for slots of a dead VM (CLAIMED(vm) -> FREE).
 *   gen, pid: written by the slot's claimer or releaser while the slot is
 *     not FREE; read by anyone after an acquire load of state.
 *   The scan cursor (where the next claim starts looking) is a hint private
 *   to each OS process (each VM is one), so losing it in a crash loses
 *   nothing. It starts at vm * (slots / n_vms), which spreads the VMs'
 *   claims over the table.
 *   Errors: proctab_claim returns NULL with errno EAGAIN when full.
 */
#include "shm/proctab.h"

#include <ck_pr.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Per-process claim cursors, one per VM id, stored as slot + 1 (0: not
 * yet seeded). Accessed with atomics only so that a multi-threaded user of
 * a hint is not a data race. */
static uint32_t cursor[SHOAL_MAX_VMS];

void proctab_init(shm_header_t *h)
{
    /* Nothing to write: a fresh memfd reads as zeros, which is a free slot
     * of stored generation 0 (pid generation 1, so no pid is 0). Writing
     * every slot would touch the whole table at start-up (96 MiB with the
     * default slot count); claims set what they need. */
    (void)h;
}

static uint32_t start_slot(const shm_header_t *h, uint32_t vm)
{
    uint32_t slots = h->cfg.proc_slots;
    if (vm >= SHOAL_MAX_VMS)
        return 0;
    /* Relaxed: a hint. */
    uint32_t c = ck_pr_load_32(&cursor[vm]);
    if (c != 0 && c - 1 < slots)
        return c - 1;
    uint32_t n_vms = h->cfg.n_vms ? h->cfg.n_vms : 1;
    return (uint32_t)(((uint64_t)vm % n_vms) * (slots / n_vms) % slots);
}

pcb_t *proctab_claim(shm_header_t *h, uint32_t vm)
{
    uint32_t slots = h->cfg.proc_slots;
    uint32_t s = start_slot(h, vm);
    for (uint32_t i = 0; i < slots; i++, s = s + 1 == slots ? 0 : s + 1) {
        pcb_t *p = shm_pcb(h, s);
        /* Relaxed pre-check: skips taken slots without a locked op. */
        if (ck_pr_load_32(&p->state) != PCB_FREE)
            continue;
        if (!ck_pr_cas_32(&p->state, PCB_FREE, PCB_CLAIMED(vm)))
            continue;
        /* Acquire: the last releaser's gen, written before its release
         * store of FREE, is what we read below. */
        ck_pr_fence_acquire();
        uint32_t gen = ck_pr_load_32(&p->gen);
        /* Relaxed: nobody reads these until publish (release). */
        ck_pr_store_32(&p->slot, s);
        ck_pr_store_64(&p->pid, ((uint64_t)gen + 1) * slots + s);
        ck_pr_store_32(&p->owner, vm);
        memset(p->body, 0, sizeof p->body);
        if (vm < SHOAL_MAX_VMS)
            ck_pr_store_32(&cursor[vm], (s + 1 == slots ? 0 : s + 1) + 1);
        return p;
    }
    errno = EAGAIN;
    return NULL;
}

static uint64_t *live_word(const shm_header_t *h, uint32_t slot)
{
    return (uint64_t *)shm_at(h, h->layout.live_off) + slot / 64;
}

void proctab_publish(shm_header_t *h, pcb_t *p)
{
    SHOAL_ASSERT(PCB_IS_CLAIMED(ck_pr_load_32(&p->state)), "publish of an unclaimed slot");
    /* The bit first, so that every LIVE slot has its bit (a locked OR:
     * VMs that claim neighbouring slots share the word). */
    ck_pr_or_64(live_word(h, p->slot), 1ull << (p->slot % 64));
    /* Release: pid, owner and body are visible before LIVE is. */
    ck_pr_fence_release();
    ck_pr_store_32(&p->state, PCB_LIVE);
}

static void release_slot(const shm_header_t *h, pcb_t *p)
{
    /* The bit goes before the slot is free: a claimer of the free slot
     * sets it again, and our clear must not undo that. */
    ck_pr_and_64(live_word(h, p->slot), ~(1ull << (p->slot % 64)));
    /* The stored generation is the pid's generation minus one, so that
     * zeroed memory is a valid free slot; it wraps before the pid's would. */
    uint32_t gen = p->gen + 1 == UINT32_MAX ? 0 : p->gen + 1;
    /* Relaxed: ordered before FREE by the release fence below. */
    ck_pr_store_32(&p->gen, gen);
    ck_pr_store_64(&p->pid, 0);
    ck_pr_store_32(&p->owner, PCB_NO_OWNER);
    /* Release: the next claimer, which acquires on state, sees the new gen. */
    ck_pr_fence_release();
    ck_pr_store_32(&p->state, PCB_FREE);
}

void proctab_release(shm_header_t *h, pcb_t *p)
{
    SHOAL_ASSERT(ck_pr_load_32(&p->state) != PCB_FREE, "release of a free slot");
    release_slot(h, p);
}

pcb_t *proctab_lookup(const shm_header_t *h, uint64_t pid)
{
    uint32_t slots = h->cfg.proc_slots;
    if (pid == 0)
        return NULL;
    pcb_t *p = shm_pcb(h, (uint32_t)(pid % slots));
    /* Acquire: a LIVE state makes the publisher's pid visible. */
    if (ck_pr_load_32(&p->state) != PCB_LIVE)
        return NULL;
    ck_pr_fence_acquire();
    return ck_pr_load_64(&p->pid) == pid ? p : NULL;
}

/* Call visit(p, arg) for every slot on a page of the table that holds
 * data. A page no VM ever wrote is a hole in the memfd and holds only free
 * slots; reading it would fault in a zeroed page (the default table is
 * 128 MiB), which costs tens of milliseconds on a death that must be
 * reported at once, and memory. mincore tells which pages exist without
 * faulting them in. Returns the sum of what visit returned. */
static size_t each_written_slot(const shm_header_t *h, size_t (*visit)(const shm_header_t *h, pcb_t *p, uint32_t arg),
                                uint32_t arg)
{
    uint32_t slots = h->cfg.proc_slots;
    char *lo = (char *)shm_pcb(h, 0);
    char *hi = (char *)shm_pcb(h, slots);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    char *start = (char *)((uintptr_t)lo & ~(uintptr_t)(page - 1));
    size_t pages = (size_t)(hi - start + (ptrdiff_t)page - 1) / page;
    unsigned char *vec = malloc(pages);
    if (vec && mincore(start, pages * page, vec) != 0) {
        free(vec);
        vec = NULL; /* then read every slot: slower, just as right */
    }
    size_t n = 0;
    for (uint32_t s = 0; s < slots; s++) {
        pcb_t *p = shm_pcb(h, s);
        if (vec && !(vec[(size_t)((char *)p - start) / page] & 1)) {
            /* this page is a hole: on to the first slot of the next one */
            char *next = start + ((size_t)((char *)p - start) / page + 1) * page;
            uint32_t skip = (uint32_t)((next - (char *)p + (ptrdiff_t)sizeof(pcb_t) - 1) /
                                       (ptrdiff_t)sizeof(pcb_t));
            s += skip - 1;
            continue;
        }
        n += visit(h, p, arg);
    }
    free(vec);
    return n;
}

static size_t recover_slot(const shm_header_t *h, pcb_t *p, uint32_t vm)
{
    /* Relaxed: the VM is dead (after waitpid), so CLAIMED(vm) cannot
     * change under us; only we move it. */
    if (ck_pr_load_32(&p->state) != PCB_CLAIMED(vm))
        return 0;
    release_slot(h, p);
    return 1;
}

size_t proctab_recover_vm(shm_header_t *h, uint32_t vm)
{
    return each_written_slot(h, recover_slot, vm);
}

size_t proctab_live(const shm_header_t *h)
{
    const uint64_t *w = shm_at(h, h->layout.live_off);
    uint64_t n = proctab_live_words(h->cfg.proc_slots);
    size_t live = 0;
    /* Relaxed: a count for stats; it is stale as soon as it is read. */
    for (uint64_t i = 0; i < n; i++)
        live += (size_t)__builtin_popcountll(ck_pr_load_64((uint64_t *)&w[i]));
    return live;
}

uint32_t proctab_next_live(const shm_header_t *h, uint32_t from)
{
    uint32_t slots = h->cfg.proc_slots;
    if (from >= slots)
        return UINT32_MAX;
    const uint64_t *w = shm_at(h, h->layout.live_off);
    uint64_t n = proctab_live_words(slots);
    uint64_t i = from / 64;
    /* Relaxed: a hint; the caller checks the slot itself. */
    uint64_t bits = ck_pr_load_64((uint64_t *)&w[i]) & (~0ull << (from % 64));
    while (!bits) {
        if (++i == n)
            return UINT32_MAX;
        bits = ck_pr_load_64((uint64_t *)&w[i]);
    }
    uint64_t s = i * 64 + (uint64_t)__builtin_ctzll(bits);
    return s < slots ? (uint32_t)s : UINT32_MAX;
}
