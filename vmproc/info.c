/*
 * info.c: a VM's statistics counters and its answers about the processes
 * it owns (see info.h, and shm/info.h for the exchange).
 *
 * NOTES
 *   Owner VM only. The counters are words of this VM's row of the VM
 *   table and of the message matrix, and fields of processes it owns;
 *   each is written here with a relaxed atomic store (one writer) so that
 *   the supervisor's loads never see a torn word. The idle pair is written
 *   under idle_seq (odd while it changes), a seqlock with one writer.
 *   An answer reads only processes this VM owns, between slices, so it
 *   never races with the collector; it writes only this VM's answer group.
 */
#include "vmproc/info.h"

#include "shm/vmtab.h"
#include "vmproc/interp.h"
#include "vmproc/termio.h"
#include "vmproc/vm.h"

#include <ck_pr.h>
#include <string.h>

uint64_t info_spin_round_ns1024;

/* What one round of the scheduler's spin (a pause and a load of a line in
 * the cache) takes here, so that a spin that ended in work can be timed
 * without a clock read on the message's path. 4096 rounds: ~40 us, once
 * per VM. */
static void measure_spin(const shm_vm_t *self)
{
    enum { ROUNDS = 4096 };
    uint64_t t0 = (uint64_t)interp_now_ns();
    uint64_t seen = 0;
    for (int i = 0; i < ROUNDS; i++) {
        ck_pr_stall();
        seen |= ck_pr_load_64((uint64_t *)&self->inbound);
    }
    uint64_t t1 = (uint64_t)interp_now_ns();
    (void)seen;
    info_spin_round_ns1024 = (t1 - t0) * 1024 / ROUNDS;
}

void info_init(rt_t *rt)
{
    shm_header_t *h = rt->h;
    rt->info = shm_info(h, rt->vm);
    /* Acquire: pairs with the supervisor's release of req_seq. A request
     * made before this VM started is answered at its first turn. */
    rt->info_seen = ck_pr_load_64(&rt->info->resp_seq);
    rt->msg_row = shm_msg_row(h, rt->vm);
    rt->msg_n = h->cfg.n_vms;
    shm_vm_t *self = shm_vm(h, rt->vm);
    measure_spin(self);
    /* Single writer; read by the supervisor for busy %. */
    ck_pr_store_64(&self->loop_start_ns, (uint64_t)interp_now_ns());
}

void info_window(proc_t *p, uint32_t e)
{
    p->reds_prev = p->reds_epoch + 1 == e ? (uint32_t)(p->reds - p->reds_mark) : 0;
    p->reds_mark = (uint32_t)p->reds;
    p->reds_epoch = e;
}

void info_idle_begin(rt_t *rt)
{
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    uint64_t now = (uint64_t)interp_now_ns();
    /* Seqlock, one writer: odd, the pair, even again. The store fences
     * order the sequence against the pair for a reader on another core. */
    ck_pr_store_32(&self->idle_seq, self->idle_seq + 1);
    ck_pr_fence_store();
    ck_pr_store_64(&self->idle_since, now ? now : 1);
    ck_pr_fence_store();
    ck_pr_store_32(&self->idle_seq, self->idle_seq + 1);
}

static void idle_end_at(shm_vm_t *self, uint64_t since, uint64_t now)
{
    ck_pr_store_32(&self->idle_seq, self->idle_seq + 1);
    ck_pr_fence_store();
    ck_pr_store_64(&self->idle_ns, self->idle_ns + (now > since ? now - since : 0));
    ck_pr_store_64(&self->idle_since, 0);
    ck_pr_fence_store();
    ck_pr_store_32(&self->idle_seq, self->idle_seq + 1);
}

void info_idle_end(rt_t *rt)
{
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    uint64_t since = self->idle_since;
    if (since)
        idle_end_at(self, since, (uint64_t)interp_now_ns());
}

void info_idle_end_spin(rt_t *rt, uint32_t rounds)
{
    shm_vm_t *self = shm_vm(rt->h, rt->vm);
    uint64_t since = self->idle_since;
    if (since)
        idle_end_at(self, since, since + ((uint64_t)rounds * info_spin_round_ns1024 >> 10));
}

uint32_t info_heap_node(const proc_t *p)
{
    uint32_t best = 0;
    for (uint32_t k = 1; k < PROC_NODES; k++)
        if (p->node_lines[k] > p->node_lines[best])
            best = k;
    return best;
}

static uint64_t heap_bytes(const proc_t *p)
{
    uint64_t n = 0;
    for (uint32_t k = 0; k < PROC_NODES; k++)
        n += (uint64_t)p->node_lines[k] * PROC_LINE;
    return n;
}

static uint32_t func_pc(const func_t *f, const uint32_t *pc)
{
    if (!f || !pc || pc < f->code || pc >= f->code + f->ncode)
        return UINT32_MAX;
    return (uint32_t)(pc - f->code);
}

void info_record(rt_t *rt, pcb_t *pcb, uint64_t pid, info_rec_t *out)
{
    memset(out, 0, sizeof *out);
    out->pid = pid;
    out->func = UINT32_MAX;
    /* Acquire: a LIVE state makes the publisher's pid visible (as in
     * proctab_lookup). */
    uint32_t state = ck_pr_load_32(&pcb->state);
    ck_pr_fence_acquire();
    if (state != PCB_LIVE || ck_pr_load_64(&pcb->pid) != pid) {
        out->answer = INFO_GONE;
        return;
    }
    uint32_t owner = ck_pr_load_32(&pcb->owner);
    out->owner = owner;
    if (owner != rt->vm) {
        out->answer = owner == PCB_NO_OWNER ? INFO_GONE : INFO_MOVED;
        return;
    }
    /* Acquire: the previous owner's writes to the process, made before
     * its CAS of the owner word, are visible from here on. */
    ck_pr_fence_acquire();
    proc_t *p = proc_of(pcb);
    out->answer = INFO_HERE;
    out->status = (uint8_t)ps_state(ck_pr_load_32(&p->status));
    /* one that has not run yet gets its heap here, when it first runs */
    out->heap_node = (uint8_t)(proc_unstarted(p) ? rt->node : info_heap_node(p));
    out->flags = (uint8_t)(((p->flags & PF_TRAP_EXIT) ? INFO_F_TRAP_EXIT : 0) |
                           (proc_pinned(p) ? INFO_F_PINNED : 0));
    out->heap_bytes = heap_bytes(p);
    out->mbox = p->mbox_len + ck_pr_load_32(&p->msgs_pending);
    out->reds = p->reds;
    uint32_t e = ck_pr_load_32(&rt->h->run.stats_epoch);
    /* the last whole window: the one before the current one */
    out->reds_last = p->reds_epoch == e       ? p->reds_prev
                     : p->reds_epoch + 1 == e ? (uint32_t)(p->reds - p->reds_mark)
                                              : 0;
    out->migrations = (uint32_t)p->migrations;
    if (p->func) {
        out->func = p->func->index;
        out->pc = func_pc(p->func, p->pc);
    }
}

/* An INSPECT answer, written into out[0..cap): see shm/info.h. */
typedef struct writer {
    unsigned char *out;
    size_t cap, used;
} writer_t;

static void *room(writer_t *w, size_t bytes)
{
    size_t at = SHOAL_ALIGN_UP(w->used, 8);
    if (at + bytes > w->cap)
        return NULL;
    w->used = at + bytes;
    return w->out + at;
}

static uint64_t imm_of(term t)
{
    return is_imm(t) ? imm_val(t) : 0;
}

/* Chains of link and monitor nodes (vmproc/msg.h): node[1] next,
 * node[4] the other process, node[5] the ref. */
static void chain_pids(writer_t *w, term chain, uint32_t *n, uint32_t *total)
{
    for (term c = chain; c; c = box_ptr(c)[1]) {
        (*total)++;
        uint64_t *slot = room(w, sizeof(uint64_t));
        if (!slot)
            continue;
        *slot = imm_of(box_ptr(c)[4]);
        (*n)++;
    }
}

static void chain_mons(writer_t *w, term chain, uint32_t *n, uint32_t *total)
{
    for (term c = chain; c; c = box_ptr(c)[1]) {
        (*total)++;
        info_mon_t *m = room(w, sizeof *m);
        if (!m)
            continue;
        m->pid = imm_of(box_ptr(c)[4]);
        m->ref = imm_of(box_ptr(c)[5]);
        (*n)++;
    }
}

/* The call stack, innermost first: the current function, then the
 * function each control frame of kind CALL returns to (its return
 * address: the call in progress there). The bottom frame returns to the
 * END stub, which is in no function, and is left out. */
static void frames(writer_t *w, const proc_t *p, uint32_t *n, uint32_t *total)
{
    if (p->func) {
        (*total)++;
        info_frame_t *f = room(w, sizeof *f);
        if (f) {
            f->func = p->func->index;
            f->pc = func_pc(p->func, p->pc);
            (*n)++;
        }
    }
    for (const ctl_t *c = p->ctl; c && (const term *)c < p->stack_hi; c++) {
        if (ctl_kind(c) != CTL_CALL || func_pc(c->func, c->pc) == UINT32_MAX)
            continue;
        (*total)++;
        if (*n >= INFO_MAX_FRAMES)
            continue;
        info_frame_t *f = room(w, sizeof *f);
        if (!f)
            continue;
        f->func = c->func->index;
        /* the call in progress is the instruction before the return address */
        f->pc = func_pc(c->func, c->pc) - (c->pc > c->func->code ? 1 : 0);
        (*n)++;
    }
}

static void messages(rt_t *rt, writer_t *w, const proc_t *p, uint32_t max, info_inspect_t *hd)
{
    sbuf_t b = {0};
    b.limit = INFO_MSG_BYTES;
    uint32_t k = 0;
    for (term m = p->mbox_first; m && k < max; m = box_ptr(m)[1], k++) {
        b.len = 0;
        b.cut = false;
        term_print(rt->h, &b, box_ptr(m)[2], false);
        if (b.oom)
            break;
        uint32_t len = (uint32_t)b.len;
        size_t at = SHOAL_ALIGN_UP(w->used, 4);
        if (at + 4 + len > w->cap)
            break;
        memcpy(w->out + at, &len, 4);
        memcpy(w->out + at + 4, b.s ? b.s : "", len);
        w->used = at + 4 + len;
        hd->n_msgs++;
        hd->msgs_cut += b.cut;
    }
    sbuf_free(&b);
}

static uint32_t inspect(rt_t *rt, uint64_t pid, uint32_t max_msgs, unsigned char *out, size_t cap)
{
    writer_t w = {out, cap, 0};
    info_inspect_t *hd = room(&w, sizeof *hd);
    memset(hd, 0, sizeof *hd);
    pcb_t *pcb = shm_pcb(rt->h, (uint32_t)(pid % rt->h->cfg.proc_slots));
    info_record(rt, pcb, pid, &hd->rec);
    if (hd->rec.answer != INFO_HERE)
        return (uint32_t)w.used;
    proc_t *p = proc_of(pcb);
    hd->gcs = p->gcs;
    hd->heap_words = p->heap_words;
    hd->old_words = p->old_words;
    hd->heap_limit_words = p->heap_limit_words;
    hd->wait_ms = -1;
    if (hd->rec.status == PS_WAITING && p->deadline >= 0) {
        int64_t left = p->deadline - interp_now_ns();
        hd->wait_ms = left > 0 ? left / 1000000 : 0;
    }
    for (uint32_t c = 0; c < MIG_CAUSES && c < 8; c++)
        hd->mig[c] = p->mig[c];
    for (uint32_t k = 0; k < PROC_NODES && k < 8; k++)
        hd->node_pages[k] =
            (uint32_t)(((uint64_t)p->node_lines[k] * PROC_LINE + SHOAL_PAGE - 1) / SHOAL_PAGE);
    hd->mbox_taken = p->mbox_len;
    hd->inbox_pending = ck_pr_load_32(&p->msgs_pending);
    chain_pids(&w, p->links, &hd->n_links, &hd->total_links);
    chain_mons(&w, p->monitoring, &hd->n_monitors, &hd->total_monitors);
    chain_mons(&w, p->monitored_by, &hd->n_watchers, &hd->total_watchers);
    frames(&w, p, &hd->n_frames, &hd->total_frames);
    messages(rt, &w, p, max_msgs, hd);
    return (uint32_t)w.used;
}

void info_serve(sched_t *s)
{
    rt_t *rt = &s->rt;
    shm_info_t *a = rt->info;
    if (!a)
        return;
    /* Acquire: pairs with the supervisor's release after it wrote the
     * request; then copy what we need, and look at req_seq again: if it
     * moved, the supervisor gave up on that request and wrote another, so
     * answer the newest. */
    uint64_t seq;
    uint32_t kind, n, max_msgs;
    for (;;) {
        seq = ck_pr_load_64(&a->req_seq);
        ck_pr_fence_acquire();
        kind = ck_pr_load_32(&a->kind);
        n = ck_pr_load_32(&a->n);
        max_msgs = ck_pr_load_32(&a->max_msgs);
        ck_pr_fence_load();
        if (ck_pr_load_64(&a->req_seq) == seq)
            break;
    }
    if (seq == rt->info_seen)
        return;
    uint32_t n_out = 0, bytes = 0;
    if (kind == INFO_LIST) {
        info_rec_t *recs = (info_rec_t *)a->out;
        if (n > INFO_MAX_PIDS)
            n = INFO_MAX_PIDS;
        for (uint32_t i = 0; i < n; i++) {
            uint64_t pid = ck_pr_load_64(&a->pids[i]);
            uint32_t slot = (uint32_t)(pid % rt->h->cfg.proc_slots);
            info_record(rt, shm_pcb(rt->h, slot), pid, &recs[n_out++]);
        }
        bytes = n_out * (uint32_t)sizeof(info_rec_t);
    } else if (kind == INFO_INSPECT && n >= 1) {
        bytes = inspect(rt, ck_pr_load_64(&a->pids[0]), max_msgs, a->out, sizeof a->out);
    }
    ck_pr_store_32(&a->n_out, n_out);
    ck_pr_store_32(&a->bytes, bytes);
    /* Release: the answer is visible before resp_seq says it is there. */
    ck_pr_fence_release();
    ck_pr_store_64(&a->resp_seq, seq);
    rt->info_seen = seq;
    vm_notify();
}
