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
 *   state: CAS FREE -> CLAIMED(vm) by the claimer; a release store by the
 *     claimer (-> LIVE); whoever frees the process marks it FREEING(vm)
 *     first, so that its next incarnation can finish a free it died in,
 *     then stores FREE. A dead VM's CLAIMED(vm) and FREEING(vm) slots are
 *     freed by its next incarnation (proctab_finish_free).
 *   The map of written pages: one bit per page of the table, set (an
 *     atomic OR) by the first claimer of a slot on that page before it
 *     publishes; scans of the table (recovery, stats) read only pages whose
 *     bit is set. A page never written is a hole in the memfd and holds
 *     only free slots; reading it would fault in a zeroed page for nothing
 *     (the default table is 128 MiB), and a swapped-out page of live slots
 *     still has its bit, which mincore would not tell.
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
#include <unistd.h>

/* Per-process claim cursors, one per VM id, stored as slot + 1 (0: not
 * yet seeded). Accessed with atomics only so that a multi-threaded user of
 * a hint is not a data race. */
static uint32_t cursor[SHOAL_MAX_VMS];

/* The slots this OS process freed last, for one VM id: a claim takes the
 * newest first. A process that spawns as others end (spawn, work, exit)
 * then reuses a slot whose line is still in the cache and whose page is
 * mapped, instead of walking the cursor over fresh slots: each fresh page
 * of the table is a page fault and a cleared page (at 200k spawns that was
 * a quarter of the time per process). A hint like the cursor: the claim
 * still CASes the slot's state, so a slot taken meanwhile is skipped, and
 * losing it in a crash loses nothing. */
#define RECENT_SLOTS 4096
static struct {
    uint32_t vm; /* the VM id the slots were freed by */
    uint32_t n;
    uint32_t slot[RECENT_SLOTS];
} recent;

/* Claims per VM id since it last looked back (look_back, below). */
static uint32_t since_look[SHOAL_MAX_VMS];

uint64_t proctab_map_bytes(uint32_t slots)
{
    uint64_t pages = ((uint64_t)slots * sizeof(pcb_t) + SHOAL_PAGE - 1) / SHOAL_PAGE;
    return (pages + 63) / 64 * 8;
}

static uint64_t *map_word(const shm_header_t *h, uint64_t page)
{
    return (uint64_t *)shm_at(h, h->layout.proc_map_off) + page / 64;
}

void proctab_init(shm_header_t *h)
{
    /* Nothing to write: a fresh memfd reads as zeros, which is a free slot
     * of stored generation 0 (pid generation 1, so no pid is 0). Writing
     * every slot would touch the whole table at start-up (96 MiB with the
     * default slot count); claims set what they need. The claim hints of
     * this OS process named slots of another segment: forget them (the VMs
     * are forked after this, with none). */
    (void)h;
    memset(cursor, 0, sizeof cursor);
    memset(since_look, 0, sizeof since_look);
    recent.n = 0;
}

static uint32_t region_start(const shm_header_t *h, uint32_t vm)
{
    uint32_t slots = h->cfg.proc_slots;
    uint32_t n_vms = h->cfg.n_vms ? h->cfg.n_vms : 1;
    return (uint32_t)(((uint64_t)vm % n_vms) * (slots / n_vms) % slots);
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
    return region_start(h, vm);
}

/* Slot s for VM vm if it is free: CLAIMED(vm), with its pid; else NULL. */
static pcb_t *try_claim(shm_header_t *h, uint32_t s, uint32_t vm)
{
    uint32_t slots = h->cfg.proc_slots;
    pcb_t *p = shm_pcb(h, s);
    /* Relaxed pre-check: skips taken slots without a locked op. */
    if (ck_pr_load_32(&p->state) != PCB_FREE)
        return NULL;
    if (!ck_pr_cas_32(&p->state, PCB_FREE, PCB_CLAIMED(vm)))
        return NULL;
    /* Acquire: the last releaser's gen, written before its release
     * store of FREE, is what we read below. */
    ck_pr_fence_acquire();
    uint32_t gen = ck_pr_load_32(&p->gen);
    /* Relaxed: nobody reads these until publish (release). */
    ck_pr_store_32(&p->slot, s);
    ck_pr_store_64(&p->pid, ((uint64_t)gen + 1) * slots + s);
    ck_pr_store_32(&p->owner, vm);
    ck_pr_store_32(&p->regname, 0);
    memset(p->body, 0, sizeof p->body);
    /* Mark the page before the process can be published: a scan that
     * skipped this page would miss a live process. Relaxed load, then
     * an atomic OR (ordered before publish by publish's release). */
    uint64_t page = ((uint64_t)s * sizeof(pcb_t)) / SHOAL_PAGE;
    uint64_t *w = map_word(h, page), bit = 1ull << (page % 64);
    if (!(ck_pr_load_64(w) & bit))
        ck_pr_or_64(w, bit);
    return p;
}

static uint64_t *live_word(const shm_header_t *h, uint32_t slot)
{
    return (uint64_t *)shm_at(h, h->layout.live_off) + slot / 64;
}

static bool page_written(const shm_header_t *h, uint32_t s)
{
    uint64_t page = ((uint64_t)s * sizeof(pcb_t)) / SHOAL_PAGE;
    /* Relaxed: a hint (try_claim sets the bit itself). */
    return (ck_pr_load_64(map_word(h, page)) >> (page % 64)) & 1;
}

/* The first slot in [s, limit) whose live bit is `want` (1: live; 0: free,
 * or claimed or being freed, which try_claim tells apart), or `limit` if
 * there is none. A word of the live map covers 64 slots, so a run of the
 * other kind is skipped 64 at a time, without a look at their PCBs. */
static uint32_t scan_live(const shm_header_t *h, uint32_t s, uint32_t limit, int want)
{
    uint64_t n = proctab_live_words(limit);
    uint64_t i = s / 64;
    if (i >= n)
        return limit;
    uint64_t flip = want ? 0 : ~0ull;
    /* Relaxed: a hint; the caller checks the slot itself. */
    uint64_t bits = (ck_pr_load_64(live_word(h, s)) ^ flip) & (~0ull << (s % 64));
    while (!bits) {
        if (++i == n)
            return limit;
        bits = ck_pr_load_64(live_word(h, (uint32_t)(i * 64))) ^ flip;
    }
    uint64_t f = i * 64 + (uint64_t)__builtin_ctzll(bits);
    return f < limit ? (uint32_t)f : limit;
}

static uint32_t next_not_live(const shm_header_t *h, uint32_t s, uint32_t limit)
{
    return scan_live(h, s, limit, 0);
}

/* Looking back: slots freed behind the cursor, by any VM (a process that
 * ended on another VM after work stealing gives its slot back there, not
 * to our recent stack). Before the cursor writes a fresh page of the
 * table, a VM that has claimed LOOK_BACK_CLAIMS slots since it last looked
 * searches, from the start of its part of the table up to the cursor,
 * pages already written for a free slot (a page never written is skipped
 * whole: the slots past the cursor are the fresh ones it would take
 * anyway): at most LOOK_BACK_WORDS words of the live map (64 slots each),
 * so the cost per claim stays bounded whatever the table holds,
 * and a run that spawns as fast as processes end elsewhere keeps reusing
 * the same pages instead of walking over the whole table. */
#define LOOK_BACK_CLAIMS 64
#define LOOK_BACK_WORDS 2048

static pcb_t *look_back(shm_header_t *h, uint32_t vm, uint32_t before, uint32_t *at)
{
    const uint32_t per_page = SHOAL_PAGE / sizeof(pcb_t);
    uint32_t s = region_start(h, vm);
    uint64_t end = (uint64_t)s + (uint64_t)LOOK_BACK_WORDS * 64;
    if (end > before)
        end = before; /* the cursor's own slot and what lies past it: fresh */
    while (s < end && (s = next_not_live(h, s, before)) < end) {
        if (!page_written(h, s)) {
            s = (s / per_page + 1) * per_page; /* a hole: on to the next page */
            continue;
        }
        pcb_t *p = try_claim(h, s, vm);
        if (p) {
            *at = s;
            return p;
        }
        s++;
    }
    return NULL;
}

pcb_t *proctab_claim(shm_header_t *h, uint32_t vm)
{
    uint32_t slots = h->cfg.proc_slots;
    while (recent.vm == vm && recent.n > 0) {
        uint32_t s = recent.slot[--recent.n];
        pcb_t *p = s < slots ? try_claim(h, s, vm) : NULL;
        if (p)
            return p;
    }
    /* From the cursor to the end of the table, then from its start up
     * to the cursor. */
    uint32_t first = start_slot(h, vm), s = first;
    pcb_t *p = NULL;
    for (int pass = 0; pass < 2 && !p; pass++) {
        uint32_t end = pass == 0 ? slots : first;
        for (s = pass == 0 ? first : 0; (s = next_not_live(h, s, slots)) < end; s++) {
            if (vm < SHOAL_MAX_VMS && since_look[vm] >= LOOK_BACK_CLAIMS && !page_written(h, s)) {
                since_look[vm] = 0;
                uint32_t at;
                if ((p = look_back(h, vm, s, &at)) != NULL) {
                    s = at;
                    break;
                }
            }
            if ((p = try_claim(h, s, vm)) != NULL)
                break;
        }
    }
    if (!p) {
        errno = EAGAIN;
        return NULL;
    }
    if (vm < SHOAL_MAX_VMS) {
        since_look[vm]++;
        ck_pr_store_32(&cursor[vm], (s + 1 == slots ? 0 : s + 1) + 1);
    }
    return p;
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

/* The steps after FREEING: the live bit off, the next generation, no pid,
 * no owner, FREE. `gen` is the generation to store: the slot's stored one + 1. */
static void finish_release(const shm_header_t *h, pcb_t *p, uint32_t gen)
{
    /* The bit goes before the slot is free: a claimer of the free slot
     * sets it again, and our clear must not undo that. */
    ck_pr_and_64(live_word(h, p->slot), ~(1ull << (p->slot % 64)));
    /* Relaxed: ordered before FREE by the release fence below. */
    ck_pr_store_32(&p->gen, gen);
    ck_pr_store_64(&p->pid, 0);
    ck_pr_store_32(&p->owner, PCB_NO_OWNER);
    /* Release: the next claimer, which acquires on state, sees the new gen. */
    ck_pr_fence_release();
    ck_pr_store_32(&p->state, PCB_FREE);
}

/* The stored generation is the pid's generation minus one, so that zeroed
 * memory is a valid free slot; it wraps before the pid's would. */
static uint32_t next_gen(uint32_t gen)
{
    return gen + 1 == UINT32_MAX ? 0 : gen + 1;
}

void proctab_release(shm_header_t *h, pcb_t *p)
{
    uint32_t st = ck_pr_load_32(&p->state);
    SHOAL_ASSERT(st != PCB_FREE, "release of a free slot");
    /* FREEING first (a plain store: only the process's owner frees it),
     * naming the VM that frees it; then the steps, which a next
     * incarnation can finish from what it finds. Store-store: FREEING is
     * visible before gen changes. */
    uint32_t vm = PCB_IS_CLAIMED(st) ? PCB_STATE_VM(st) : ck_pr_load_32(&p->owner);
    ck_pr_store_32(&p->state, PCB_FREEING(vm & 0x3fffffffu));
    ck_pr_fence_store();
    finish_release(h, p, next_gen(p->gen));
    if (recent.vm != vm) {
        recent.vm = vm;
        recent.n = 0;
    }
    if (recent.n < RECENT_SLOTS)
        recent.slot[recent.n++] = p->slot;
}

void proctab_finish_free(shm_header_t *h, pcb_t *p)
{
    uint32_t st = ck_pr_load_32(&p->state);
    uint32_t slots = h->cfg.proc_slots;
    if (PCB_IS_CLAIMED(st)) {
        /* never published: its generation never got out */
        finish_release(h, p, next_gen(p->gen));
        return;
    }
    if (!PCB_IS_FREEING(st))
        return;
    /* gen is stored before pid is cleared: a pid still there means gen
     * may or may not have moved; the pid says what it must become. */
    uint64_t pid = ck_pr_load_64(&p->pid);
    uint32_t gen = pid ? (uint32_t)(pid / slots) : p->gen;
    finish_release(h, p, gen);
}

size_t proctab_each(const shm_header_t *h, size_t (*visit)(pcb_t *p, void *ctx), void *ctx)
{
    uint32_t slots = h->cfg.proc_slots;
    uint64_t pages = proctab_map_bytes(slots) * 8;
    size_t n = 0;
    for (uint64_t wi = 0; wi < pages / 64; wi++) {
        /* Relaxed: a page marked after this load holds only slots claimed
         * after the scan began, which it need not see. */
        uint64_t bits = ck_pr_load_64(map_word(h, wi * 64));
        while (bits) {
            uint64_t page = wi * 64 + (uint64_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            uint64_t first = page * SHOAL_PAGE / sizeof(pcb_t);
            uint64_t end = ((page + 1) * SHOAL_PAGE + sizeof(pcb_t) - 1) / sizeof(pcb_t);
            /* a slot that straddles two pages is visited from its first */
            if (first * sizeof(pcb_t) < page * SHOAL_PAGE)
                first++;
            for (uint64_t i = first; i < end && i < slots; i++)
                n += visit(shm_pcb(h, (uint32_t)i), ctx);
        }
    }
    return n;
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

static size_t recover_slot(pcb_t *p, void *ctx)
{
    const void **c = ctx;
    shm_header_t *h = (shm_header_t *)c[0];
    uint32_t vm = *(const uint32_t *)c[1];
    uint32_t st = ck_pr_load_32(&p->state);
    if (st != PCB_CLAIMED(vm) && st != PCB_FREEING(vm))
        return 0;
    proctab_finish_free(h, p);
    return 1;
}

size_t proctab_recover_vm(shm_header_t *h, uint32_t vm)
{
    const void *ctx[2] = {h, &vm};
    return proctab_each(h, recover_slot, ctx);
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
    uint32_t s = scan_live(h, from, slots, 1);
    return s < slots ? s : UINT32_MAX;
}
