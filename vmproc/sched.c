/*
 * sched.c: the scheduler loop of one VM (see sched.h).
 *
 * The loop: take the next runnable process, run it for a slice, and file
 * it by how the slice ended: runnable again (back of the queue), waiting
 * (a timer if it has a deadline), or ended. When nothing is runnable the
 * VM sleeps on its wake word until the nearest timer or a wake-up.
 */
#include "vmproc/sched.h"

#include "shm/pool.h"
#include "shm/vmtab.h"
#include "vmproc/bif.h"
#include "vmproc/compiler.h"
#include "vmproc/ets.h"
#include "vmproc/heap.h"
#include "vmproc/interp.h"
#include "vmproc/msg.h"
#include "vmproc/termio.h"
#include "vmproc/vm.h"
#include "policy/policy.h"

#include <ck_pr.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPIN_ROUNDS 2000
/* 16 pages of buffers: a GC of a small heap costs about what 16 page
 * faults do, so collecting sooner would cost more than it saves. */
#define FRAG_GC_WORDS (16 * SHOAL_PAGE / sizeof(term))

void runq_push(sched_t *s, pcb_t *pcb)
{
    proc_of(pcb)->rq_next = NULL;
    if (s->rq_tail)
        proc_of(s->rq_tail)->rq_next = pcb;
    else
        s->rq_head = pcb;
    s->rq_tail = pcb;
    s->rq_len++;
}

pcb_t *runq_pop(sched_t *s)
{
    pcb_t *pcb = s->rq_head;
    if (!pcb)
        return NULL;
    s->rq_head = proc_of(pcb)->rq_next;
    if (!s->rq_head)
        s->rq_tail = NULL;
    s->rq_len--;
    return pcb;
}

/* Whether timer t can still wake anybody: its process is the one it was
 * set for and still waits with that deadline. A process owned by another
 * VM now is read with plain whole-word loads: its deadline changes only
 * when it stops waiting or starts a new wait, and a new wait sets a new
 * deadline (and pushes a new timer). */
static bool timer_live(const timer_t_ *t)
{
    return ck_pr_load_64(&t->pcb->pid) == t->pid && ck_pr_load_32(&t->pcb->state) == PCB_LIVE &&
           ck_pr_load_64((uint64_t *)&proc_of(t->pcb)->deadline) == (uint64_t)t->deadline;
}

static void timer_sift_down(sched_t *s, size_t i)
{
    size_t n = s->ntimers;
    timer_t_ x = s->timers[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && s->timers[c + 1].deadline < s->timers[c].deadline)
            c++;
        if (s->timers[c].deadline >= x.deadline)
            break;
        s->timers[i] = s->timers[c];
        i = c;
    }
    s->timers[i] = x;
}

/* Drop the timers that can wake nobody (a message ended the wait, or the
 * process ended), then rebuild the heap: O(n). A wait with a long
 * timeout that a message ends leaves its timer behind; without this, a
 * server loop with (after 3600000 ...) would grow the heap by one entry
 * per message for an hour. */
static void timer_compact(sched_t *s)
{
    size_t k = 0;
    for (size_t i = 0; i < s->ntimers; i++)
        if (timer_live(&s->timers[i]))
            s->timers[k++] = s->timers[i];
    s->ntimers = k;
    for (size_t i = k / 2; i-- > 0;)
        timer_sift_down(s, i);
}

int timer_push(sched_t *s, int64_t deadline, pcb_t *pcb)
{
    if (s->ntimers == s->tcap) {
        /* Full: first drop the dead timers; grow only if more than half
         * are live, so the heap stays within 4x the live timers (plus
         * the first 64) and each compaction is paid for by the pushes
         * that filled the heap since the last one. */
        timer_compact(s);
        if (s->ntimers > s->tcap / 2 || s->tcap == 0) {
            size_t cap = s->tcap ? s->tcap * 2 : 64;
            timer_t_ *t = realloc(s->timers, cap * sizeof *t);
            if (!t)
                return -1;
            s->timers = t;
            s->tcap = cap;
        }
    }
    size_t i = s->ntimers++;
    timer_t_ x = {deadline, pcb, pcb->pid};
    while (i > 0 && s->timers[(i - 1) / 2].deadline > deadline) {
        s->timers[i] = s->timers[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->timers[i] = x;
    return 0;
}

bool timer_pop_due(sched_t *s, int64_t now, timer_t_ *out)
{
    if (s->ntimers == 0 || s->timers[0].deadline > now)
        return false;
    *out = s->timers[0];
    s->timers[0] = s->timers[--s->ntimers];
    if (s->ntimers)
        timer_sift_down(s, 0);
    return true;
}

void sched_free(sched_t *s)
{
    free(s->timers);
    s->timers = NULL;
    s->rq_head = s->rq_tail = NULL;
    s->rq_len = s->ntimers = s->tcap = 0;
}

/* Queue `pcb` on VM `vm`'s inbound list and wake that VM. Any VM. */
static void push_inbound(shm_header_t *h, uint32_t vm, pcb_t *pcb)
{
    shm_vm_t *v = shm_vm(h, vm);
    proc_t *p = proc_of(pcb);
    uint64_t head;
    do {
        head = ck_pr_load_64(&v->inbound);
        p->inbound_next = (uint32_t)head;
        /* Release (inside the CAS): inbound_next is visible with the push. */
        ck_pr_fence_store();
    } while (!ck_pr_cas_64(&v->inbound, head, (uint64_t)pcb->slot + 1));
    vm_wake(v);
}

void sched_wake_proc(rt_t *rt, pcb_t *pcb)
{
    uint32_t owner = ck_pr_load_32(&pcb->owner);
    if (owner == rt->vm)
        runq_push(rt->sched, pcb);
    else
        push_inbound(rt->h, owner, pcb);
}

/* Hand a process that is not running (between slices, or waiting) over
 * to VM `to`: the one rule of DESIGN.md. The owner word changes by CAS
 * from this VM, which owns it and is not running it, so no other VM can
 * be running it or take it at the same time; nothing of its heap, stack
 * or mailbox is touched, so the move is O(1) in heap size. A runnable
 * process is then queued on `to`; a waiting one stays waiting, and
 * whoever wakes it queues it on its new owner. */
void sched_hand_over(sched_t *s, pcb_t *pcb, uint32_t to, enum mig_cause cause, bool runnable)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    shm_vm_t *self = shm_vm(rt->h, rt->vm), *dst = shm_vm(rt->h, to);
    heap_detach(rt, p);
    p->migrate_to = 0;
    if (cause == MIG_TORTURE) {
        /* a test mode's move is counted nowhere: the program and the
         * statistics see only the moves a real run would make */
        p->arriving = 0;
    } else {
        p->mig[cause]++;
        p->migrations++;
        p->arriving = cause + 1;
        ck_pr_store_64(&self->mig_out[cause], self->mig_out[cause] + 1);
    }
    ck_pr_dec_64(&self->procs);
    ck_pr_inc_64(&dst->procs);
    bool ok = ck_pr_cas_32(&pcb->owner, rt->vm, to);
    SHOAL_ASSERT(ok, "only the owner hands a process over");
    (void)ok;
    if (runnable) {
        ck_pr_store_32(&p->status, PS_RUNNABLE);
        push_inbound(rt->h, to, pcb);
        return;
    }
    /* Full fence between the owner store and WAITING, and between WAITING
     * and the inbox check, as in run_one: a sender that wins the wake-up
     * reads the new owner. */
    ck_pr_fence_memory();
    ck_pr_store_32(&p->status, PS_WAITING);
    ck_pr_fence_memory();
    if ((ck_pr_load_64(&p->inbox) & INBOX_OFF_MASK) != 0 &&
        ck_pr_cas_32(&p->status, PS_WAITING, PS_RUNNABLE))
        push_inbound(rt->h, to, pcb);
}

/* A process queued here: count an arrival, or pass it on if it moved on
 * again (a waker read an owner that has changed since). */
void sched_arrive(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    uint32_t owner = ck_pr_load_32(&pcb->owner);
    if (owner != rt->vm) {
        push_inbound(rt->h, owner, pcb);
        return;
    }
    proc_t *p = proc_of(pcb);
    /* The newest message's node and what follows it: read soon by
     * msg_take, written by a sender on another core. Fetching them now
     * overlaps those misses with the scheduler's own work. */
    uint64_t in = ck_pr_load_64(&p->inbox) & INBOX_OFF_MASK;
    if (in != 0 && in != INBOX_CLOSED) {
        const char *node = (const char *)rt->h + in;
        __builtin_prefetch(node);
        __builtin_prefetch(node + SHOAL_CACHE_LINE);
    }
    if (p->arriving) {
        shm_vm_t *self = shm_vm(rt->h, rt->vm);
        uint32_t c = p->arriving - 1;
        ck_pr_store_64(&self->mig_in[c], self->mig_in[c] + 1);
        p->arriving = 0;
    }
    runq_push(s, pcb);
}

/* Take what other VMs queued for this one, oldest first. */
void sched_drain_inbound(sched_t *s)
{
    shm_vm_t *self = shm_vm(s->rt.h, s->rt.vm);
    if (ck_pr_load_64(&self->inbound) == 0)
        return;
    uint64_t head = ck_pr_fas_64(&self->inbound, 0);
    /* Acquire: pairs with the pushers' release. */
    ck_pr_fence_acquire();
    uint32_t rev = 0;
    while (head) {
        pcb_t *pcb = shm_pcb(s->rt.h, (uint32_t)head - 1);
        uint32_t next = proc_of(pcb)->inbound_next;
        proc_of(pcb)->inbound_next = rev;
        rev = pcb->slot + 1;
        head = next;
    }
    while (rev) {
        pcb_t *pcb = shm_pcb(s->rt.h, rev - 1);
        rev = proc_of(pcb)->inbound_next;
        sched_arrive(s, pcb);
    }
}

int proc_spawn(rt_t *rt, uint32_t vm, term fun, const term *args, uint32_t argc, uint64_t *pid,
               bool placed)
{
    shm_header_t *h = rt->h;
    pcb_t *pcb = proctab_claim(h, rt->vm);
    if (!pcb)
        return -1;
    if (heap_init(rt, pcb, shm_vm(h, vm)->node) < 0 ||
        interp_start(rt, pcb, fun, args, argc) < 0) {
        heap_release(rt, pcb);
        proctab_release(h, pcb);
        errno = ENOMEM;
        return -1;
    }
    proc_of(pcb)->status = PS_RUNNABLE;
    if (placed)
        proc_of(pcb)->flags |= PF_PLACED;
    ck_pr_store_32(&pcb->owner, vm);
    *pid = pcb->pid;
    proctab_publish(pcb);
    ck_pr_inc_64(&shm_vm(h, vm)->procs);
    if (vm == rt->vm)
        runq_push(rt->sched, pcb);
    else
        push_inbound(h, vm, pcb);
    return 0;
}

uint32_t sched_place_spawn(rt_t *rt)
{
    /* Round-robin over the VMs, each VM starting after itself, until the
     * balancing policies take this decision over. */
    uint32_t n = rt->h->cfg.n_vms;
    rt->spawn_next = (rt->spawn_next + 1) % n;
    return (rt->vm + rt->spawn_next) % n;
}

/* The exit reason as text: #(error V) for errors, else the value. */
static void print_reason(const shm_header_t *h, sbuf_t *b, const proc_t *p)
{
    if (p->err_class == EXC_ERROR) {
        sbuf_puts(b, "#(error ");
        term_print(h, b, p->err_value, false);
        sbuf_puts(b, ")");
    } else {
        term_print(h, b, p->err_value, false);
    }
}

static void report_exit(sched_t *s, pcb_t *pcb, bool is_main)
{
    proc_t *p = proc_of(pcb);
    bool normal = p->err_class == EXC_NORMAL ||
                  (p->err_class == EXC_EXIT && p->err_value == mk_atom(A_NORMAL));
    if (normal)
        return;
    sbuf_t b = {0};
    char head[96];
    snprintf(head, sizeof head, "shoal: %sprocess <%llu> exited: ", is_main ? "main " : "",
             (unsigned long long)pcb->pid);
    sbuf_puts(&b, head);
    print_reason(s->rt.h, &b, p);
    if (p->flags & PF_OUT_OF_POOL)
        sbuf_puts(&b, " (the shared page pool is exhausted; raise --pool-mb)");
    /* The reason may hold the program's strings and atoms: their control
     * bytes and bytes that are not UTF-8 go to the terminal as \xNN. */
    sbuf_t e = {0};
    for (size_t i = 0; i < b.len;) {
        size_t k = shoal_utf8_len((const unsigned char *)b.s + i, b.len - i);
        unsigned char c = (unsigned char)b.s[i];
        if (k == 0 || (k == 1 && (c < 0x20 || c == 0x7f))) {
            char x[5];
            snprintf(x, sizeof x, "\\x%02x", c);
            sbuf_puts(&e, x);
            i++;
        } else {
            sbuf_put(&e, b.s + i, k);
            i += k;
        }
    }
    sbuf_puts(&e, "\n");
    if (!b.oom && !e.oom && write(2, e.s, e.len) < 0) {
        /* stderr is gone; nothing better to do */
    }
    sbuf_free(&e);
    sbuf_free(&b);
}

static void proc_exit(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    shm_header_t *h = rt->h;
    proc_t *p = proc_of(pcb);
    bool is_main = pcb->pid == h->run.main_pid;
    term reason = p->err_value;
    term tup[3] = {mk_hdr(3, BT_TUPLE), mk_atom(A_ERROR), p->err_value};
    if (p->err_class == EXC_ERROR)
        reason = mk_box(tup);
    bool watched = msg_close(rt, pcb, reason);
    if (!watched || is_main)
        report_exit(s, pcb, is_main);
    if (is_main) {
        /* (exit 'normal) is a normal end, as in Erlang */
        bool normal = p->err_class == EXC_NORMAL ||
                      (p->err_class == EXC_EXIT && p->err_value == mk_atom(A_NORMAL));
        h->run.exit_status = normal ? SHOAL_EXIT_OK : SHOAL_EXIT_MAIN_FAILED;
        /* release: the exit status is visible before done */
        ck_pr_fence_store();
        ck_pr_store_32(&h->run.done, 1);
        vm_notify();
    }
    heap_release(rt, pcb);
    ck_pr_dec_64(&shm_vm(h, rt->vm)->procs);
    proctab_release(h, pcb);
}

static bool stopping(const shm_header_t *h)
{
    return ck_pr_load_32(&h->run.stopping) != 0;
}

static bool has_work(void *ctx)
{
    sched_t *s = ctx;
    return s->rq_len > 0 || ck_pr_load_64(&shm_vm(s->rt.h, s->rt.vm)->inbound) != 0;
}

/* Wake the processes whose timers are due. A timer stays on the VM where
 * the process began to wait, also when the process was handed over while
 * waiting: it then wakes the process on its owner, as a sender would. The
 * deadline in the PCB is the truth and this heap a hint, so recovery can
 * rebuild a dead VM's timers from the table. */
void sched_fire_timers(sched_t *s, int64_t now)
{
    timer_t_ t;
    while (timer_pop_due(s, now, &t)) {
        /* a stale timer: the process ended, or received and moved on */
        if (ck_pr_load_64(&t.pcb->pid) != t.pid || ck_pr_load_32(&t.pcb->state) != PCB_LIVE)
            continue;
        proc_t *p = proc_of(t.pcb);
        /* Another VM may own it now: a plain read of a whole word. If it
         * waits with this deadline, the CAS below wins only while it still
         * waits, so a late read wakes nothing that is not waiting. */
        if (ck_pr_load_64((uint64_t *)&p->deadline) != (uint64_t)t.deadline)
            continue;
        if (ck_pr_cas_32(&p->status, PS_WAITING, PS_RUNNABLE))
            sched_wake_proc(&s->rt, t.pcb);
    }
}

/* The VM a torture-mode move goes to: the next one. */
static uint32_t torture_target(const rt_t *rt)
{
    return (rt->vm + 1) % rt->h->cfg.n_vms;
}

void sched_run_one(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    proc_t *p = proc_of(pcb);
    ck_pr_store_32(&p->status, PS_RUNNING);
    heap_attach(rt, p);
    /* heap_follow = eager: a heap that is on another node than its owner
     * is copied over before the process runs there. */
    if (rt->h->cfg.heap_follow == HEAP_FOLLOW_EAGER &&
        pool_node_of(rt->h, p->hfirst) != rt->node && heap_gc(rt, pcb, 0, NULL, 0) < 0)
        bif_error(p, A_HEAP_LIMIT);
    rt->cur = pcb;
    /* Signals act before the slice: a killed process does not run. */
    msg_take(rt, pcb);
    p->flags &= ~PF_PLACED;
    enum run_result r = (p->flags & PF_KILLED) ? RUN_EXIT : interp_run(rt, pcb);
    rt->cur = NULL;
    /* Message buffers join the heap at a collection; one that receives
     * much and allocates little would never collect, so collect here,
     * between slices, once the buffers outweigh what lived last time. */
    /* It is an optimisation, so it is skipped when the pool could not
     * hold a whole copy of the heap: a process that receives a flood
     * while the pool is exhausted keeps its buffers rather than die in a
     * collection it did not need (EAGAIN: it could not even start). */
    if (r != RUN_EXIT && p->frag_words > FRAG_GC_WORDS && p->frag_words > p->live_words &&
        pool_can_spare(rt->h, (p->heap_words + p->frag_words) * sizeof(term) / SHOAL_PAGE + 1) &&
        heap_gc(rt, pcb, 0, NULL, 0) < 0 && errno != EAGAIN) {
        bif_error(p, A_HEAP_LIMIT);
        r = RUN_EXIT;
    }
    bool torture = rt->migrate_torture && rt->h->cfg.n_vms > 1;
    switch (r) {
    case RUN_YIELD: {
        /* A safe point: a reduction boundary. An explicit (migrate vm),
         * the balancer's hint, or torture mode may move the process;
         * only the first while it is pinned. */
        uint32_t hint = ck_pr_load_32(&p->hint_vm);
        if (p->migrate_to && p->migrate_to - 1 != rt->vm) {
            sched_hand_over(s, pcb, p->migrate_to - 1, MIG_EXPLICIT, true);
        } else if (hint && !proc_pinned(p) && ck_pr_cas_32(&p->hint_vm, hint, 0) &&
                   hint - 1 != rt->vm && hint - 1 < rt->h->cfg.n_vms) {
            sched_hand_over(s, pcb, hint - 1, MIG_BALANCER, true);
        } else if (torture && !proc_pinned(p)) {
            sched_hand_over(s, pcb, torture_target(rt), MIG_TORTURE, true);
        } else {
            p->migrate_to = 0;
            ck_pr_store_32(&p->status, PS_RUNNABLE);
            runq_push(s, pcb);
        }
        break;
    }
    case RUN_WAIT:
        /* (migrate vm) holds until the process next waits */
        p->flags &= ~PF_PINNED;
        if (p->deadline >= 0 && timer_push(s, p->deadline, pcb) < 0) {
            /* no memory for its timer: keep it runnable, so that it
             * retries the wait instead of sleeping past its deadline */
            ck_pr_store_32(&p->status, PS_RUNNABLE);
            runq_push(s, pcb);
            break;
        }
        if (torture && !proc_pinned(p)) {
            /* the other safe point: a blocking receive */
            sched_hand_over(s, pcb, torture_target(rt), MIG_TORTURE, false);
            break;
        }
        ck_pr_store_32(&p->status, PS_WAITING);
        /* Full fence, then look at the inbox again: a sender that pushed
         * before we stored WAITING did not see it (msg.c explains). */
        ck_pr_fence_memory();
        if ((ck_pr_load_64(&p->inbox) & INBOX_OFF_MASK) != 0 &&
            ck_pr_cas_32(&p->status, PS_WAITING, PS_RUNNABLE))
            runq_push(s, pcb);
        break;
    case RUN_EXIT:
        p->status = PS_EXITING;
        proc_exit(s, pcb);
        break;
    }
}

/* Work stealing, the default balancing: an idle VM asks the nearest VM
 * that has work queued to hand it some (steal.c in policy/ decides whom
 * and how much). The victim hands processes over at its next scheduling
 * point, from its own queue, so stealing never races with running. */
void sched_give_work(sched_t *s)
{
    shm_vm_t *self = shm_vm(s->rt.h, s->rt.vm);
    uint32_t req = ck_pr_load_32(&self->steal_req);
    if (!req)
        return;
    ck_pr_store_32(&self->steal_req, 0);
    uint32_t thief = req - 1;
    size_t n = policy_steal_amount(s->rq_len), given = 0;
    /* One pass over the queue: processes that spawn-on placed here and
     * that have not run yet stay (their placement is where they start),
     * and so do pinned ones (migrate, call-on); the others go, up to n,
     * and the rest keep their order. */
    for (size_t i = s->rq_len; i > 0; i--) {
        pcb_t *pcb = runq_pop(s);
        proc_t *p = proc_of(pcb);
        if (given < n && !(p->flags & PF_PLACED) && !proc_pinned(p)) {
            sched_hand_over(s, pcb, thief, MIG_STEAL, true);
            given++;
        } else {
            runq_push(s, pcb);
        }
    }
}

static void ask_for_work(sched_t *s)
{
    rt_t *rt = &s->rt;
    uint32_t victims[SHOAL_MAX_VMS];
    size_t n = policy_steal_victims(rt->h, rt->vm, victims, SHOAL_MAX_VMS);
    for (size_t i = 0; i < n; i++) {
        shm_vm_t *v = shm_vm(rt->h, victims[i]);
        if (ck_pr_cas_32(&v->steal_req, 0, rt->vm + 1))
            return;
    }
}

int sched_main(shm_header_t *h, uint32_t vm)
{
    sched_t s = {0};
    shm_vm_t *self = shm_vm(h, vm);
    s.rt.sched = &s;
    s.rt.h = h;
    s.rt.vm = vm;
    s.rt.node = self->node;
    s.rt.rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)vm << 32) ^ (uint64_t)getpid();
    const char *t = getenv("SHOAL_GC_TORTURE");
    s.rt.gc_torture = t && *t && strcmp(t, "0") != 0;
    t = getenv("SHOAL_MIGRATE_TORTURE");
    s.rt.migrate_torture = t && *t && strcmp(t, "0") != 0;
    s.rt.default_heap_limit_words = h->cfg.heap_limit_bytes / sizeof(term);

    code_table_t *ct = code_table(h);
    if (vm == 0) {
        uint64_t pid;
        if (proc_spawn(&s.rt, 0, ct->funcs[ct->main_index]->value, NULL, 0, &pid, true) == 0)
            h->run.main_pid = pid;
        else {
            fprintf(stderr, "shoal: cannot start main: %s\n", strerror(errno));
            h->run.exit_status = SHOAL_EXIT_FAIL;
            ck_pr_fence_store();
            ck_pr_store_32(&h->run.done, 1);
            vm_notify();
        }
    }
    while (!stopping(h)) {
        vm_beat();
        sched_drain_inbound(&s);
        sched_give_work(&s);
        /* Written only when it changes: stealers read this line while
         * they look for work, and every write would pull it from them. */
        if (ck_pr_load_32(&self->runq) != (uint32_t)s.rq_len)
            ck_pr_store_32(&self->runq, (uint32_t)s.rq_len);
        if (s.ntimers)
            sched_fire_timers(&s, interp_now_ns());
        pcb_t *pcb = runq_pop(&s);
        if (pcb) {
            sched_run_one(&s, pcb);
            continue;
        }
        /* Out of work: spin a little before sleeping: a futex wake-up
         * costs tens of microseconds here, a cache line from another core
         * ~50 ns (BENCH.md). SPIN_ROUNDS * ck_pr_stall is about 20 us.
         * Only a VM that stays idle through the spin asks a busy VM for
         * work: a VM that is idle for a moment between two messages (a
         * ping-pong) would otherwise read the other VMs' queue lengths
         * each time, and each VM's next update of its own would then miss
         * in its cache, on the message's path. The victim's hand-over
         * wakes us if we are asleep by then. */
        bool got = false;
        for (int i = 0; i < SPIN_ROUNDS && !got; i++) {
            ck_pr_stall();
            got = ck_pr_load_64(&self->inbound) != 0;
        }
        if (got)
            continue;
        /* Free what this VM's table operations left to free (retired
         * entries, dropped tables), a bit at a time, before sleeping. */
        if (ets_idle(&s.rt))
            continue;
        ask_for_work(&s);
        uint32_t ms = VM_IDLE_MS;
        if (s.ntimers) {
            int64_t d = s.timers[0].deadline - interp_now_ns();
            if (d <= 0)
                continue;
            int64_t dm = (d + 999999) / 1000000;
            if (dm < ms)
                ms = (uint32_t)dm;
        }
        vm_sleep(h, self, has_work, &s, ms);
    }
    sched_free(&s);
    return 0;
}
