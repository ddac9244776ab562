/*
 * info.h: a VM's statistics and its answers about the processes it owns.
 *
 * Counters (DESIGN.md, "Observability"): each VM writes its own row of the
 * VM table and of the message matrix, with plain atomic stores (one
 * writer), and the supervisor reads them without a lock:
 *   - reductions, per VM and per process, at the end of each slice; per
 *     process also per stats window (run.stats_epoch), so that `shoal ps`
 *     ranks by what a process did lately, not in its whole life;
 *   - idle time: the loop notes when it starts to spin or sleep for want
 *     of work, and when it has work again; busy % is the rest of its wall
 *     time, so a VM that spins is idle, not busy, whatever the OS says;
 *   - messages sent, by the VM that owns the receiver (the matrix).
 * What they cost, by callgrind on bench/ring.shoal on one VM (1000
 * processes, the difference between 10 and 30 rounds, so start-up is left
 * out): 1,460 instructions a hop against 1,447 with the policies' own
 * counters alone, +13 (0.9%): each process's window, the matrix's count
 * and the loop's look at its request word (on the tree before the
 * policies' counters, all of it was +32, 2.4%). On bench/spawn.shoal +43
 * instructions a process (1.1%), the live-slot bitmap's two atomic
 * operations among them. Wall-clock medians on the shared 2-core machine
 * moved less than their noise.
 *
 * Answers (shm/info.h): at each scheduling point the loop looks at its
 * request word, and answers a new request there, between two slices,
 * where none of its processes runs.
 *
 * NOTES
 *   Owner VM only, each function in the VM whose rt_t it is given.
 */
#ifndef SHOAL_VMPROC_INFO_H
#define SHOAL_VMPROC_INFO_H

#include "shm/info.h"
#include "vmproc/sched.h"

/* Set up the VM's statistics and request area (sched_main, before its
 * loop). */
void info_init(rt_t *rt);

/* A new stats window began for p (info_slice's slow path). */
void info_window(proc_t *p, uint32_t epoch);

/* Count the slice that pcb just ran (rt->slice_reds reductions); before
 * the process can be handed over or freed. On every slice: a handful of
 * instructions (the header says what they cost). */
static inline void info_slice(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    uint32_t reds = rt->slice_reds;
    /* Relaxed: the epoch is a window number; a slice counted in the
     * window next to the one it ran in is within the figures' grain. The
     * line is run.stopping's, which the loop reads anyway. */
    uint32_t e = ck_pr_load_32(&rt->h->run.stats_epoch);
    if (__builtin_expect(p->reds_epoch != e, 0))
        info_window(p, e);
    p->reds += reds;
    /* published to the VM table with the other counters (balance.c) */
    rt->reductions += reds;
}

/* The loop is out of work from now (it spins, then sleeps) / has work
 * again. info_idle_end_spin ends an idle period that was only a spin of
 * `rounds` rounds, without reading the clock: the time is rounds times
 * what one round took when info_init measured it. */
void info_idle_begin(rt_t *rt);
void info_idle_end(rt_t *rt);
void info_idle_end_spin(rt_t *rt, uint32_t rounds);

/* Time one round of the scheduler's spin takes (info_init measures it),
 * in ns * 1024. */
extern uint64_t info_spin_round_ns1024;

/* Whether the supervisor asked something not yet answered. The loop's
 * look (after info_init, rt->info is set). */
static inline bool info_pending(const rt_t *rt)
{
    /* Relaxed: a look; info_serve acquires. */
    return ck_pr_load_64(&rt->info->req_seq) != rt->info_seen;
}

/* Answer the pending request, if any. */
void info_serve(sched_t *s);

/* A message sent to a process owned by VM `to` (msg.c). */
static inline void info_count_send(rt_t *rt, uint32_t to)
{
    uint64_t *row = rt->msg_row;
    /* Single writer (this VM); the supervisor reads statistics. A
     * receiver that is ending has no owner (PCB_NO_OWNER): not counted. */
    if (to < rt->msg_n)
        ck_pr_store_64(&row[to], row[to] + 1);
}

/* The node most of p's heap and stack pages are on. Owner VM. */
uint32_t info_heap_node(const proc_t *p);

/* Fill a record of the process in pcb, owned by this VM (answer HERE),
 * or say where it went or that it is gone. Owner VM. */
void info_record(rt_t *rt, pcb_t *pcb, uint64_t pid, info_rec_t *out);

#endif
