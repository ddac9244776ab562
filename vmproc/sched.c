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
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/interp.h"
#include "vmproc/termio.h"
#include "vmproc/vm.h"

#include <ck_pr.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int runq_push(sched_t *s, pcb_t *pcb)
{
    if (s->rq_len == s->rq_cap) {
        size_t cap = s->rq_cap ? s->rq_cap * 2 : 256;
        pcb_t **q = malloc(cap * sizeof *q);
        if (!q)
            return -1;
        for (size_t i = 0; i < s->rq_len; i++)
            q[i] = s->runq[(s->rq_head + i) % s->rq_cap];
        free(s->runq);
        s->runq = q;
        s->rq_cap = cap;
        s->rq_head = 0;
    }
    s->runq[(s->rq_head + s->rq_len) % s->rq_cap] = pcb;
    s->rq_len++;
    return 0;
}

pcb_t *runq_pop(sched_t *s)
{
    if (s->rq_len == 0)
        return NULL;
    pcb_t *p = s->runq[s->rq_head];
    s->rq_head = (s->rq_head + 1) % s->rq_cap;
    s->rq_len--;
    return p;
}

int timer_push(sched_t *s, int64_t deadline, pcb_t *pcb)
{
    if (s->ntimers == s->tcap) {
        size_t cap = s->tcap ? s->tcap * 2 : 64;
        timer_t_ *t = realloc(s->timers, cap * sizeof *t);
        if (!t)
            return -1;
        s->timers = t;
        s->tcap = cap;
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
    timer_t_ last = s->timers[--s->ntimers];
    size_t i = 0, n = s->ntimers;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && s->timers[c + 1].deadline < s->timers[c].deadline)
            c++;
        if (s->timers[c].deadline >= last.deadline)
            break;
        s->timers[i] = s->timers[c];
        i = c;
    }
    if (n)
        s->timers[i] = last;
    return true;
}

void sched_free(sched_t *s)
{
    free(s->runq);
    free(s->timers);
    s->runq = NULL;
    s->timers = NULL;
    s->rq_len = s->rq_cap = s->ntimers = s->tcap = 0;
}

pcb_t *sched_spawn(sched_t *s, const func_t *f, const term *args, uint32_t argc)
{
    rt_t *rt = &s->rt;
    pcb_t *pcb = proctab_claim(rt->h, rt->vm);
    if (!pcb)
        return NULL;
    if (heap_init(rt, pcb) < 0) {
        proctab_release(rt->h, pcb);
        errno = ENOMEM;
        return NULL;
    }
    if (interp_start(rt, pcb, f, args, argc) < 0) {
        heap_release(rt, pcb);
        proctab_release(rt->h, pcb);
        errno = ENOMEM;
        return NULL;
    }
    proctab_publish(pcb);
    if (runq_push(s, pcb) < 0) {
        heap_release(rt, pcb);
        proctab_release(rt->h, pcb);
        errno = ENOMEM;
        return NULL;
    }
    ck_pr_inc_64(&shm_vm(rt->h, rt->vm)->procs);
    return pcb;
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
    sbuf_puts(&b, "\n");
    if (!b.oom && write(2, b.s, b.len) < 0) {
        /* stderr is gone; nothing better to do */
    }
    sbuf_free(&b);
}

static void proc_exit(sched_t *s, pcb_t *pcb)
{
    rt_t *rt = &s->rt;
    shm_header_t *h = rt->h;
    proc_t *p = proc_of(pcb);
    bool is_main = pcb->pid == h->run.main_pid;
    report_exit(s, pcb, is_main);
    if (is_main) {
        bool normal = p->err_class == EXC_NORMAL;
        h->run.exit_status = normal ? 0 : 1;
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
    return s->rq_len > 0;
}

/* Put processes whose timers are due back on the run queue. */
static void fire_timers(sched_t *s, int64_t now)
{
    timer_t_ t;
    while (timer_pop_due(s, now, &t)) {
        /* a stale timer: the process ended, or received and moved on */
        if (t.pcb->pid != t.pid || ck_pr_load_32(&t.pcb->state) != PCB_LIVE)
            continue;
        proc_t *p = proc_of(t.pcb);
        if (p->status != PS_WAITING || p->deadline != t.deadline)
            continue;
        p->status = PS_RUNNABLE;
        runq_push(s, t.pcb);
    }
}

static void run_one(sched_t *s, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    p->status = PS_RUNNING;
    s->rt.cur = pcb;
    enum run_result r = interp_run(&s->rt, pcb);
    s->rt.cur = NULL;
    switch (r) {
    case RUN_YIELD:
        p->status = PS_RUNNABLE;
        runq_push(s, pcb);
        break;
    case RUN_WAIT:
        p->status = PS_WAITING;
        if (p->deadline >= 0)
            timer_push(s, p->deadline, pcb);
        break;
    case RUN_EXIT:
        p->status = PS_EXITING;
        proc_exit(s, pcb);
        break;
    }
}

static uint64_t default_heap_limit_words(void)
{
    /* SHOAL_HEAP_LIMIT_MB overrides; 1 GiB by default: far above any test or
     * benchmark heap (64 MiB), far below what would hurt the machine. */
    const char *e = getenv("SHOAL_HEAP_LIMIT_MB");
    uint64_t mb = 1024;
    if (e && *e) {
        char *end;
        unsigned long long v = strtoull(e, &end, 10);
        if (*end == 0 && v > 0)
            mb = v;
    }
    return mb * 1024 * 1024 / sizeof(term);
}

int sched_main(shm_header_t *h, uint32_t vm)
{
    sched_t s = {0};
    shm_vm_t *self = shm_vm(h, vm);
    s.rt.h = h;
    s.rt.vm = vm;
    s.rt.node = self->node;
    s.rt.rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)vm << 32) ^ (uint64_t)getpid();
    const char *t = getenv("SHOAL_GC_TORTURE");
    s.rt.gc_torture = t && *t && strcmp(t, "0") != 0;
    s.rt.default_heap_limit_words = default_heap_limit_words();

    code_table_t *ct = code_table(h);
    if (vm == 0) {
        pcb_t *m = sched_spawn(&s, ct->funcs[ct->main_index], NULL, 0);
        if (m)
            h->run.main_pid = m->pid;
        else {
            fprintf(stderr, "shoal: cannot start main: %s\n", strerror(errno));
            h->run.exit_status = 1;
            ck_pr_fence_store();
            ck_pr_store_32(&h->run.done, 1);
            vm_notify();
        }
    }
    while (!stopping(h)) {
        ck_pr_store_64(&self->heartbeat, self->heartbeat + 1);
        if (s.ntimers)
            fire_timers(&s, interp_now_ns());
        pcb_t *pcb = runq_pop(&s);
        if (pcb) {
            run_one(&s, pcb);
            continue;
        }
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
