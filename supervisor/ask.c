/*
 * ask.c: questions to the VMs about their processes (see ask.h).
 */
#include "supervisor/ask.h"

#include "shm/proctab.h"
#include "shm/vmtab.h"
#include "vmproc/proc.h"
#include "vmproc/vm.h"

#include <ck_pr.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How often a pid is asked again after its VM said it moved on. A
 * process that moves at every slice may outrun the questions; after this
 * many it is listed from what the supervisor can read itself. */
#define ASK_MAX_TRIES 8u

typedef struct pend {
    uint64_t pid;
    uint32_t tries;
    uint32_t status0; /* its status when the job began (the supervisor's read) */
} pend_t;

typedef struct vmq {
    pend_t *q; /* pids to ask this VM about */
    size_t n, cap;
    pend_t *sent; /* the batch in flight (INFO_MAX_PIDS room) */
    uint32_t n_sent;
    bool busy;    /* a request is in flight */
    bool gave_up; /* in this job: stopped, dead or late */
    bool stale;   /* the request in flight is an earlier job's */
    uint64_t deadline;
    uint64_t seq; /* the last req_seq written */
} vmq_t;

enum job { JOB_NONE = 0, JOB_LIST, JOB_INSPECT };

struct ask {
    shm_header_t *h;
    uint32_t n_vms;
    enum job job;
    vmq_t *vms;
    info_rec_t *recs;
    size_t n_recs, cap_recs;
    json_t *errors;
    /* inspect */
    uint32_t messages;
    bool not_found;
    unsigned char *ans;
    uint32_t ans_bytes;
    bool have_ans;
};

ask_t *ask_new(shm_header_t *h)
{
    ask_t *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->h = h;
    a->n_vms = h->cfg.n_vms;
    a->vms = calloc(a->n_vms, sizeof *a->vms);
    a->ans = malloc(INFO_OUT_BYTES);
    a->errors = json_array();
    if (!a->vms || !a->ans || !a->errors) {
        ask_free(a);
        return NULL;
    }
    for (uint32_t i = 0; i < a->n_vms; i++)
        a->vms[i].seq = ck_pr_load_64(&shm_info(h, i)->req_seq);
    return a;
}

void ask_free(ask_t *a)
{
    if (!a)
        return;
    for (uint32_t i = 0; a->vms && i < a->n_vms; i++) {
        free(a->vms[i].q);
        free(a->vms[i].sent);
    }
    free(a->vms);
    free(a->recs);
    free(a->ans);
    json_decref(a->errors);
    free(a);
}

static int push(vmq_t *v, uint64_t pid, uint32_t tries, uint32_t status0)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        pend_t *q = realloc(v->q, cap * sizeof *q);
        if (!q)
            return -1;
        v->q = q;
        v->cap = cap;
    }
    v->q[v->n++] = (pend_t){pid, tries, status0};
    return 0;
}

static int add_rec(ask_t *a, const info_rec_t *r)
{
    if (a->n_recs == a->cap_recs) {
        size_t cap = a->cap_recs ? a->cap_recs * 2 : 256;
        info_rec_t *p = realloc(a->recs, cap * sizeof *p);
        if (!p)
            return -1;
        a->recs = p;
        a->cap_recs = cap;
    }
    a->recs[a->n_recs++] = *r;
    return 0;
}

static void error(ask_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void error(ask_t *a, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_array_append_new(a->errors, json_string(msg));
}

/* Start a job: forget the last one's queues and results. Requests still
 * in flight stay so: their answers are recognised by req_seq. */
static void reset(ask_t *a, enum job job)
{
    for (uint32_t i = 0; i < a->n_vms; i++) {
        a->vms[i].n = 0;
        a->vms[i].gave_up = false;
        a->vms[i].stale = a->vms[i].busy;
    }
    a->n_recs = 0;
    json_array_clear(a->errors);
    a->job = job;
    a->not_found = false;
    a->have_ans = false;
    a->ans_bytes = 0;
}

/* Queue pid on the VM that owns it now, as the process table says. */
static int route(ask_t *a, uint64_t pid, uint32_t tries)
{
    pcb_t *pcb = proctab_lookup(a->h, pid);
    if (!pcb)
        return 0; /* gone */
    uint32_t owner = ck_pr_load_32(&pcb->owner);
    if (owner >= a->n_vms)
        return 0;
    /* Relaxed: status is a word any VM may read; a hint for the state
     * column (the owner answers between slices, where nothing runs). */
    uint32_t status = ps_state(ck_pr_load_32(&proc_of(pcb)->status));
    return push(&a->vms[owner], pid, tries, status);
}

int ask_list(ask_t *a, int32_t vm, uint64_t now_ns)
{
    (void)now_ns;
    reset(a, JOB_LIST);
    for (uint32_t s = proctab_next_live(a->h, 0); s != UINT32_MAX;
         s = proctab_next_live(a->h, s + 1)) {
        pcb_t *pcb = shm_pcb(a->h, s);
        /* Acquire: a LIVE state makes the publisher's pid visible. */
        if (ck_pr_load_32(&pcb->state) != PCB_LIVE)
            continue;
        ck_pr_fence_acquire();
        uint64_t pid = ck_pr_load_64(&pcb->pid);
        /* Relaxed: a hint; the owner's answer says where it is. */
        if (vm >= 0 && ck_pr_load_32(&pcb->owner) != (uint32_t)vm)
            continue;
        if (pid && route(a, pid, 0) < 0) {
            errno = ENOMEM;
            return -1;
        }
    }
    return 0;
}

int ask_inspect(ask_t *a, uint64_t pid, uint32_t messages, uint64_t now_ns)
{
    (void)now_ns;
    reset(a, JOB_INSPECT);
    a->messages = messages;
    if (!proctab_lookup(a->h, pid)) {
        a->not_found = true;
        return 0;
    }
    return route(a, pid, 0);
}

static bool vm_running(const ask_t *a, uint32_t i)
{
    return ck_pr_load_32(&shm_vm(a->h, i)->state) == VM_RUNNING;
}

static void give_up(ask_t *a, uint32_t i, const char *why)
{
    vmq_t *v = &a->vms[i];
    if (!v->gave_up)
        error(a, "VM %u %s", i, why);
    v->gave_up = true;
    v->busy = false;
    v->n = 0;
}

static void send(ask_t *a, uint32_t i, uint64_t now_ns)
{
    vmq_t *v = &a->vms[i];
    shm_info_t *area = shm_info(a->h, i);
    if (!v->sent && !(v->sent = malloc(INFO_MAX_PIDS * sizeof *v->sent))) {
        give_up(a, i, "could not be asked (out of memory)");
        return;
    }
    uint32_t n = v->n < INFO_MAX_PIDS ? (uint32_t)v->n : INFO_MAX_PIDS;
    if (a->job == JOB_INSPECT)
        n = 1;
    /* The batch is the last n of the queue. */
    v->n -= n;
    memcpy(v->sent, v->q + v->n, n * sizeof *v->sent);
    v->n_sent = n;
    for (uint32_t k = 0; k < n; k++)
        ck_pr_store_64(&area->pids[k], v->sent[k].pid);
    ck_pr_store_32(&area->kind, a->job == JOB_INSPECT ? INFO_INSPECT : INFO_LIST);
    ck_pr_store_32(&area->n, n);
    ck_pr_store_32(&area->max_msgs, a->messages);
    /* Release: the request is visible before its sequence number. */
    ck_pr_fence_release();
    ck_pr_store_64(&area->req_seq, ++v->seq);
    vm_wake(shm_vm(a->h, i));
    v->busy = true;
    v->deadline = now_ns + ASK_TIMEOUT_MS * 1000000ull;
}

/* A record of a process that kept moving: what the supervisor can read
 * itself (its owner and state, words any VM may read). */
static void partial(ask_t *a, uint64_t pid, uint32_t owner)
{
    pcb_t *pcb = proctab_lookup(a->h, pid);
    if (!pcb)
        return;
    info_rec_t r = {0};
    r.pid = pid;
    r.answer = INFO_MOVED;
    r.owner = owner;
    r.status = (uint8_t)ps_state(ck_pr_load_32(&proc_of(pcb)->status));
    r.func = UINT32_MAX;
    add_rec(a, &r);
}

static void moved(ask_t *a, uint32_t from, const pend_t *p, uint32_t to)
{
    if (to >= a->n_vms || to == from || p->tries + 1 >= ASK_MAX_TRIES || a->vms[to].gave_up) {
        if (a->job == JOB_LIST)
            partial(a, p->pid, to);
        else
            error(a, "process <%llu> kept moving; try again", (unsigned long long)p->pid);
        return;
    }
    if (push(&a->vms[to], p->pid, p->tries + 1, p->status0) < 0)
        error(a, "out of memory");
}

static void collect_list(ask_t *a, uint32_t i, const shm_info_t *area)
{
    vmq_t *v = &a->vms[i];
    uint32_t n_out = ck_pr_load_32((uint32_t *)&area->n_out);
    if (n_out != v->n_sent) {
        give_up(a, i, "gave an answer that does not hold together");
        return;
    }
    const info_rec_t *recs = (const info_rec_t *)area->out;
    for (uint32_t k = 0; k < n_out; k++) {
        info_rec_t r;
        memcpy(&r, &recs[k], sizeof r);
        if (r.pid != v->sent[k].pid)
            continue;
        if (r.answer == INFO_HERE && r.owner == i) {
            /* The owner answers between slices, where its processes are
             * runnable or waiting; one that was running a slice when the
             * listing was taken is shown so. */
            if (v->sent[k].status0 == PS_RUNNING && r.status == PS_RUNNABLE)
                r.status = PS_RUNNING;
            add_rec(a, &r);
        } else if (r.answer == INFO_MOVED)
            moved(a, i, &v->sent[k], r.owner);
    }
}

static void collect_inspect(ask_t *a, uint32_t i, const shm_info_t *area)
{
    vmq_t *v = &a->vms[i];
    uint32_t bytes = ck_pr_load_32((uint32_t *)&area->bytes);
    info_inspect_t hd;
    if (bytes > INFO_OUT_BYTES || bytes < sizeof hd) {
        give_up(a, i, "gave an answer that does not hold together");
        return;
    }
    memcpy(&hd, area->out, sizeof hd);
    if (hd.rec.pid != v->sent[0].pid) {
        give_up(a, i, "answered about another process");
        return;
    }
    if (hd.rec.answer == INFO_GONE) {
        a->not_found = true;
    } else if (hd.rec.answer == INFO_MOVED) {
        moved(a, i, &v->sent[0], hd.rec.owner);
    } else {
        memcpy(a->ans, area->out, bytes);
        a->ans_bytes = bytes;
        a->have_ans = true;
    }
}

bool ask_poll(ask_t *a, uint64_t now_ns)
{
    if (a->job == JOB_NONE)
        return true;
    bool again = true;
    /* Answers may requeue pids on VMs already looked at: go round until
     * nothing changes. */
    while (again) {
        again = false;
        for (uint32_t i = 0; i < a->n_vms; i++) {
            vmq_t *v = &a->vms[i];
            if (v->busy) {
                const shm_info_t *area = shm_info(a->h, i);
                /* Acquire: pairs with the VM's release before resp_seq. */
                if (ck_pr_load_64((uint64_t *)&area->resp_seq) == v->seq) {
                    ck_pr_fence_acquire();
                    v->busy = false;
                    if (v->stale)
                        v->stale = false; /* an earlier job's: dropped */
                    else if (a->job == JOB_LIST)
                        collect_list(a, i, area);
                    else
                        collect_inspect(a, i, area);
                    again = true;
                } else if (!vm_running(a, i)) {
                    give_up(a, i, "is not running");
                } else if (now_ns > v->deadline) {
                    give_up(a, i, "did not answer in time");
                }
            }
            if (!v->busy && v->n > 0) {
                if (v->gave_up || !vm_running(a, i))
                    give_up(a, i, "is not running");
                else if (!(a->job == JOB_INSPECT && a->have_ans))
                    send(a, i, now_ns);
            }
        }
    }
    for (uint32_t i = 0; i < a->n_vms; i++)
        if (a->vms[i].busy || a->vms[i].n > 0)
            return false;
    a->job = JOB_NONE;
    return true;
}

info_rec_t *ask_records(ask_t *a, size_t *n)
{
    *n = a->n_recs;
    return a->recs;
}

const unsigned char *ask_inspect_answer(const ask_t *a, uint32_t *bytes)
{
    *bytes = a->ans_bytes;
    return a->have_ans ? a->ans : NULL;
}

json_t *ask_errors(const ask_t *a)
{
    return json_deep_copy(a->errors);
}

bool ask_not_found(const ask_t *a)
{
    return a->not_found;
}
