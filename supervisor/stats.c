/*
 * stats.c: samples of the VMs' counters and the JSON of statistics (see
 * stats.h).
 *
 * Busy %: each VM counts the time its loop is idle (vmproc/info.c); over a
 * window, busy % is 100 * (1 - idle / wall). Idle time includes the spin
 * before a VM sleeps, so a VM that spins waiting for messages is idle, as
 * it should be, while the OS counts that spin as CPU time.
 */
#include "supervisor/stats.h"

#include "shm/atom.h"
#include "shm/proctab.h"
#include "supervisor/ctlproto.h"
#include "vmproc/code.h"
#include "vmproc/proc.h"

#include <ck_pr.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const stats_cause_names[] = {
    [MIG_EXPLICIT] = "explicit", [MIG_STEAL] = "steal",   [MIG_REBALANCE] = "rebalance",
    [MIG_AFFINITY] = "affinity", [MIG_ADOPT] = "adopt",
};
_Static_assert(sizeof stats_cause_names / sizeof stats_cause_names[0] == MIG_CAUSES,
               "a name for every migration cause");
_Static_assert(MIG_CAUSES <= 8, "stats samples hold 8 causes");

static const char *const vm_state_names[] = {"empty", "starting", "running", "stopped", "dead"};

static uint64_t vm_procs(const shm_vm_t *v)
{
    return shm_vm_procs(v);
}

/* Idle time of VM v up to t_ns: the published total, plus the idle
 * period in progress. The pair is read under the VM's seqlock; a VM that
 * died mid-update leaves the sequence odd, so after a few tries take what
 * is there rather than wait. */
static uint64_t idle_at(const shm_vm_t *v, uint64_t t_ns)
{
    uint64_t idle = 0, since = 0;
    for (int tries = 0; tries < 64; tries++) {
        uint32_t s0 = ck_pr_load_32((uint32_t *)&v->idle_seq);
        ck_pr_fence_load();
        idle = ck_pr_load_64((uint64_t *)&v->idle_ns);
        since = ck_pr_load_64((uint64_t *)&v->idle_since);
        ck_pr_fence_load();
        if (!(s0 & 1) && ck_pr_load_32((uint32_t *)&v->idle_seq) == s0)
            break;
        ck_pr_stall();
    }
    return idle + (since && t_ns > since ? t_ns - since : 0);
}

static void sample(const stats_t *st, uint32_t i, uint64_t t_ns, stats_sample_t *out)
{
    const shm_vm_t *v = shm_vm(st->h, i);
    const uint64_t *row = shm_msg_row(st->h, i);
    memset(out, 0, sizeof *out);
    out->t_ns = t_ns;
    /* Relaxed loads throughout: each word has one writer, the VM. */
    out->reductions = ck_pr_load_64((uint64_t *)&v->reductions);
    out->idle_ns = idle_at(v, t_ns);
    for (uint32_t j = 0; j < st->n_vms; j++) {
        uint64_t m = ck_pr_load_64((uint64_t *)&row[j]);
        if (j == i)
            out->msgs_local += m;
        else
            out->msgs_remote += m;
    }
    for (uint32_t c = 0; c < MIG_CAUSES; c++) {
        out->mig_in[c] = ck_pr_load_64((uint64_t *)&v->mig_in[c]);
        out->mig_out[c] = ck_pr_load_64((uint64_t *)&v->mig_out[c]);
    }
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int stats_init(stats_t *st, shm_header_t *h, const char *name)
{
    memset(st, 0, sizeof *st);
    st->h = h;
    st->n_vms = h->cfg.n_vms;
    st->name = name;
    st->prev = calloc(st->n_vms, sizeof *st->prev);
    st->cur = calloc(st->n_vms, sizeof *st->cur);
    if (!st->prev || !st->cur) {
        stats_free(st);
        errno = ENOMEM;
        return -1;
    }
    st->start_ns = now_ns();
    st->next_window_ns = st->start_ns + STATS_WINDOW_MS * 1000000ull;
    for (uint32_t i = 0; i < st->n_vms; i++) {
        sample(st, i, st->start_ns, &st->cur[i]);
        st->prev[i] = st->cur[i];
    }
    return 0;
}

void stats_free(stats_t *st)
{
    free(st->prev);
    free(st->cur);
    st->prev = st->cur = NULL;
}

void stats_tick(stats_t *st, uint64_t now)
{
    if (!st->cur || now < st->next_window_ns)
        return;
    for (uint32_t i = 0; i < st->n_vms; i++) {
        st->prev[i] = st->cur[i];
        sample(st, i, now, &st->cur[i]);
    }
    /* A late tick starts the next window from now, not from a boundary
     * long past. */
    st->next_window_ns += STATS_WINDOW_MS * 1000000ull;
    if (st->next_window_ns <= now)
        st->next_window_ns = now + STATS_WINDOW_MS * 1000000ull;
    /* Relaxed: VMs only compare it with a process's window number. */
    ck_pr_store_32(&st->h->run.stats_epoch, st->h->run.stats_epoch + 1);
}

json_t *stats_string(const char *s)
{
    char esc[4 * 1024];
    size_t n = strlen(s);
    if (n < 1024)
        return json_string(shoal_escape(esc, sizeof esc, s));
    char *big = malloc(4 * n + 1);
    if (!big)
        return NULL;
    json_t *j = json_string(shoal_escape(big, 4 * n + 1, s));
    free(big);
    return j;
}

static double rate(uint64_t a, uint64_t b, uint64_t dt_ns)
{
    if (dt_ns == 0 || b < a)
        return 0.0;
    return (double)(b - a) * 1e9 / (double)dt_ns;
}

static json_t *causes(const uint64_t *v)
{
    json_t *o = json_object();
    for (uint32_t c = 0; c < MIG_CAUSES; c++)
        json_object_set_new(o, stats_cause_names[c], json_integer((json_int_t)v[c]));
    return o;
}

static json_t *cause_rates(const uint64_t *a, const uint64_t *b, uint64_t dt)
{
    json_t *o = json_object();
    for (uint32_t c = 0; c < MIG_CAUSES; c++)
        json_object_set_new(o, stats_cause_names[c], json_real(rate(a[c], b[c], dt)));
    return o;
}

/* Everything about one VM that the JSON and the summary show. */
typedef struct vm_fig {
    stats_sample_t last, w0, w1; /* now; the window's two ends */
    double busy_pct;
    uint64_t procs, runq, heap_local, heap_remote;
    uint32_t state;
} vm_fig_t;

static double round2(double x)
{
    return (double)(int64_t)(x * 100.0 + 0.5) / 100.0;
}

static void figures(const stats_t *st, uint32_t i, uint64_t now, vm_fig_t *f)
{
    const shm_vm_t *v = shm_vm(st->h, i);
    sample(st, i, now, &f->last);
    /* The last whole window, or, before the first one ends, from the
     * start of the run until now. */
    f->w0 = st->prev[i];
    f->w1 = st->cur[i];
    if (f->w1.t_ns == f->w0.t_ns) {
        f->w1 = f->last;
    }
    uint64_t dt = f->w1.t_ns - f->w0.t_ns;
    uint64_t loop = ck_pr_load_64((uint64_t *)&v->loop_start_ns);
    /* wall time of the window that the loop was running for */
    uint64_t from = f->w0.t_ns > loop ? f->w0.t_ns : loop;
    uint64_t wall = loop && f->w1.t_ns > from ? f->w1.t_ns - from : 0;
    uint64_t idle = f->w1.idle_ns - f->w0.idle_ns;
    f->busy_pct = wall ? 100.0 * (1.0 - (double)(idle < wall ? idle : wall) / (double)wall) : 0.0;
    (void)dt;
    f->procs = vm_procs(v);
    f->runq = ck_pr_load_32((uint32_t *)&v->runq);
    f->heap_local = ck_pr_load_64((uint64_t *)&v->heap_local);
    f->heap_remote = ck_pr_load_64((uint64_t *)&v->heap_remote);
    f->state = ck_pr_load_32((uint32_t *)&v->state);
}

static json_t *vm_json(const stats_t *st, uint32_t i, const vm_fig_t *f)
{
    const shm_vm_t *v = shm_vm(st->h, i);
    uint64_t dt = f->w1.t_ns - f->w0.t_ns;
    json_t *o = json_object();
    json_object_set_new(o, "vm", json_integer(i));
    json_object_set_new(o, "os_pid", json_integer(ck_pr_load_32((uint32_t *)&v->os_pid)));
    json_object_set_new(o, "cpuset", stats_string(v->cpuset));
    json_object_set_new(o, "node", json_integer(v->node));
    json_object_set_new(o, "l3", v->l3 == UINT32_MAX ? json_null() : json_integer(v->l3));
    json_object_set_new(o, "state",
                        json_string(f->state < 5 ? vm_state_names[f->state] : "unknown"));
    json_object_set_new(o, "processes", json_integer((json_int_t)f->procs));
    json_object_set_new(o, "runq", json_integer((json_int_t)f->runq));
    json_object_set_new(o, "busy_pct", json_real(round2(f->busy_pct)));
    json_object_set_new(o, "reductions", json_integer((json_int_t)f->last.reductions));
    json_object_set_new(o, "reductions_per_s",
                        json_real(round2(rate(f->w0.reductions, f->w1.reductions, dt))));
    json_object_set_new(o, "migrations_in", causes(f->last.mig_in));
    json_object_set_new(o, "migrations_out", causes(f->last.mig_out));
    json_object_set_new(o, "migrations_in_per_s", cause_rates(f->w0.mig_in, f->w1.mig_in, dt));
    json_object_set_new(o, "migrations_out_per_s", cause_rates(f->w0.mig_out, f->w1.mig_out, dt));
    json_object_set_new(o, "messages_local", json_integer((json_int_t)f->last.msgs_local));
    json_object_set_new(o, "messages_remote", json_integer((json_int_t)f->last.msgs_remote));
    json_object_set_new(o, "messages_per_s",
                        json_real(round2(rate(f->w0.msgs_local + f->w0.msgs_remote,
                                              f->w1.msgs_local + f->w1.msgs_remote, dt))));
    json_object_set_new(o, "heap_local_bytes", json_integer((json_int_t)f->heap_local));
    json_object_set_new(o, "heap_remote_bytes", json_integer((json_int_t)f->heap_remote));
    /* recovery (vmproc/recover.h): kept across the VM's restarts */
    json_object_set_new(o, "restarts", json_integer(ck_pr_load_32((uint32_t *)&v->restarts)));
    json_object_set_new(o, "adopted", json_integer((json_int_t)ck_pr_load_64((uint64_t *)&v->adopted)));
    json_object_set_new(o, "lost", json_integer((json_int_t)ck_pr_load_64((uint64_t *)&v->lost)));
    json_object_set_new(o, "hibernated",
                        json_integer((json_int_t)ck_pr_load_64((uint64_t *)&v->hibernated)));
    return o;
}

/* Add a VM's figures into its node's sums. */
static void node_add(json_t *n, const char *key, uint64_t v)
{
    json_t *cur = json_object_get(n, key);
    json_int_t x = cur ? json_integer_value(cur) : 0;
    json_object_set_new(n, key, json_integer(x + (json_int_t)v));
}

static void node_add_causes(json_t *n, const char *key, const uint64_t *v)
{
    json_t *o = json_object_get(n, key);
    if (!o) {
        o = json_object();
        json_object_set_new(n, key, o);
    }
    for (uint32_t c = 0; c < MIG_CAUSES; c++)
        node_add(o, stats_cause_names[c], v[c]);
}

static json_t *nodes_json(const stats_t *st, const vm_fig_t *figs)
{
    uint32_t n_nodes = st->h->cfg.n_nodes;
    json_t *arr = json_array();
    for (uint32_t node = 0; node < n_nodes; node++) {
        json_t *n = json_object();
        json_t *vms = json_array();
        double busy = 0, reds = 0;
        uint32_t count = 0;
        json_object_set_new(n, "node", json_integer(node));
        for (uint32_t i = 0; i < st->n_vms; i++) {
            if (shm_vm(st->h, i)->node != node)
                continue;
            const vm_fig_t *f = &figs[i];
            uint64_t dt = f->w1.t_ns - f->w0.t_ns;
            json_array_append_new(vms, json_integer(i));
            busy += f->busy_pct;
            reds += rate(f->w0.reductions, f->w1.reductions, dt);
            count++;
            node_add(n, "processes", f->procs);
            node_add(n, "runq", f->runq);
            node_add(n, "reductions", f->last.reductions);
            node_add_causes(n, "migrations_in", f->last.mig_in);
            node_add_causes(n, "migrations_out", f->last.mig_out);
            node_add(n, "messages_local", f->last.msgs_local);
            node_add(n, "messages_remote", f->last.msgs_remote);
            node_add(n, "heap_local_bytes", f->heap_local);
            node_add(n, "heap_remote_bytes", f->heap_remote);
        }
        json_object_set_new(n, "vms", vms);
        json_object_set_new(n, "busy_pct", json_real(round2(count ? busy / count : 0.0)));
        json_object_set_new(n, "reductions_per_s", json_real(round2(reds)));
        json_array_append_new(arr, n);
    }
    return arr;
}

json_t *stats_json(const stats_t *st, uint64_t now, json_t *policy)
{
    shm_header_t *h = st->h;
    vm_fig_t *figs = calloc(st->n_vms, sizeof *figs);
    if (!figs) {
        json_decref(policy);
        return NULL;
    }
    json_t *o = json_object();
    json_t *run = json_object();
    json_object_set_new(run, "name", stats_string(st->name));
    json_object_set_new(run, "pid", json_integer(h->supervisor_pid));
    json_object_set_new(run, "vms", json_integer(st->n_vms));
    json_object_set_new(run, "nodes", json_integer(h->cfg.n_nodes));
    json_object_set_new(run, "topology", stats_string(h->topology));
    json_object_set_new(run, "uptime_ms",
                        json_integer((json_int_t)((now - st->start_ns) / 1000000)));
    json_object_set_new(run, "window_ms", json_integer(STATS_WINDOW_MS));
    json_object_set_new(run, "processes", json_integer((json_int_t)proctab_live(h)));
    json_object_set_new(run, "stopping", json_boolean(ck_pr_load_32(&h->run.stopping) != 0));
    uint64_t restarts = 0, adopted = 0, lost = 0, hibernated = 0;
    for (uint32_t i = 0; i < st->n_vms; i++) {
        const shm_vm_t *v = shm_vm(h, i);
        restarts += ck_pr_load_32((uint32_t *)&v->restarts);
        adopted += ck_pr_load_64((uint64_t *)&v->adopted);
        lost += ck_pr_load_64((uint64_t *)&v->lost);
        hibernated += ck_pr_load_64((uint64_t *)&v->hibernated);
    }
    json_object_set_new(run, "hibernated", json_integer((json_int_t)hibernated));
    json_object_set_new(run, "restarts", json_integer((json_int_t)restarts));
    json_object_set_new(run, "adopted", json_integer((json_int_t)adopted));
    json_object_set_new(run, "lost", json_integer((json_int_t)lost));
    json_object_set_new(o, "run", run);
    json_object_set_new(o, "policy", policy ? policy : json_null());
    json_t *vms = json_array();
    for (uint32_t i = 0; i < st->n_vms; i++) {
        figures(st, i, now, &figs[i]);
        json_array_append_new(vms, vm_json(st, i, &figs[i]));
    }
    json_object_set_new(o, "vms", vms);
    json_object_set_new(o, "nodes", nodes_json(st, figs));
    json_t *matrix = json_array();
    for (uint32_t i = 0; i < st->n_vms; i++) {
        json_t *row = json_array();
        const uint64_t *r = shm_msg_row(h, i);
        for (uint32_t j = 0; j < st->n_vms; j++)
            json_array_append_new(row, json_integer((json_int_t)ck_pr_load_64((uint64_t *)&r[j])));
        json_array_append_new(matrix, row);
    }
    json_object_set_new(o, "messages", matrix);
    free(figs);
    return o;
}

void stats_summary(const stats_t *st, uint64_t now, FILE *f)
{
    fprintf(f, "shoal: run '%s' summary (%.1f s)\n", st->name, (double)(now - st->start_ns) / 1e9);
    fprintf(f, "  %3s %4s %-10s %7s %12s %10s %10s %10s %10s %10s\n", "VM", "node", "cpuset",
            "busy%", "reductions", "mig-in", "mig-out", "msg-local", "msg-remote", "heap-KiB");
    for (uint32_t i = 0; i < st->n_vms; i++) {
        vm_fig_t fig;
        figures(st, i, now, &fig);
        const shm_vm_t *v = shm_vm(st->h, i);
        uint64_t in = 0, out = 0;
        for (uint32_t c = 0; c < MIG_CAUSES; c++) {
            in += fig.last.mig_in[c];
            out += fig.last.mig_out[c];
        }
        /* busy over the whole run, not the last window */
        uint64_t loop = ck_pr_load_64((uint64_t *)&v->loop_start_ns);
        double busy = 0.0;
        if (loop && now > loop) {
            uint64_t wall = now - loop, idle = fig.last.idle_ns;
            busy = 100.0 * (1.0 - (double)(idle < wall ? idle : wall) / (double)wall);
        }
        char cpus[16];
        snprintf(cpus, sizeof cpus, "%.10s", v->cpuset);
        fprintf(f, "  %3u %4u %-10s %7.1f %12llu %10llu %10llu %10llu %10llu %10llu\n", i, v->node,
                cpus, busy, (unsigned long long)fig.last.reductions, (unsigned long long)in,
                (unsigned long long)out, (unsigned long long)fig.last.msgs_local,
                (unsigned long long)fig.last.msgs_remote,
                (unsigned long long)((fig.heap_local + fig.heap_remote) / 1024));
    }
    uint64_t restarts = 0, adopted = 0, lost = 0;
    for (uint32_t i = 0; i < st->n_vms; i++) {
        const shm_vm_t *v = shm_vm(st->h, i);
        restarts += ck_pr_load_32((uint32_t *)&v->restarts);
        adopted += ck_pr_load_64((uint64_t *)&v->adopted);
        lost += ck_pr_load_64((uint64_t *)&v->lost);
    }
    fprintf(f, "  recovery: %llu VM restarts, %llu processes adopted, %llu lost to VM crashes\n",
            (unsigned long long)restarts, (unsigned long long)adopted, (unsigned long long)lost);
}

const char *stats_func_name(const shm_header_t *h, uint32_t index, char *buf, size_t len)
{
    const code_table_t *ct = code_table(h);
    if (index >= ct->nfuncs || !ct->funcs[index]) {
        snprintf(buf, len, "?");
        return buf;
    }
    const func_t *f = ct->funcs[index];
    size_t n = 0;
    const char *name = atom_name(h, f->name, &n);
    if (!name)
        name = "?", n = 1;
    snprintf(buf, len, "%.*s/%u", (int)(n > 200 ? 200 : n), name, f->arity);
    return buf;
}

json_t *stats_proc_json(const shm_header_t *h, const info_rec_t *r)
{
    json_t *o = json_object();
    char fn[256];
    json_object_set_new(o, "pid", json_integer((json_int_t)r->pid));
    json_object_set_new(o, "vm", json_integer(r->owner));
    json_object_set_new(o, "node",
                        json_integer(r->owner < h->cfg.n_vms ? shm_vm(h, r->owner)->node : 0));
    json_object_set_new(o, "heap_node", json_integer(r->heap_node));
    json_object_set_new(o, "state", json_string(ctl_state_name(r->status)));
    json_object_set_new(o, "heap_bytes", json_integer((json_int_t)r->heap_bytes));
    json_object_set_new(o, "mailbox", json_integer((json_int_t)r->mbox));
    json_object_set_new(o, "reductions", json_integer(r->reds_last));
    json_object_set_new(o, "reductions_total", json_integer((json_int_t)r->reds));
    json_object_set_new(o, "migrations", json_integer(r->migrations));
    json_object_set_new(o, "function",
                        r->func == UINT32_MAX
                            ? json_null()
                            : stats_string(stats_func_name(h, r->func, fn, sizeof fn)));
    return o;
}

/* The reader of an INSPECT answer: every list is checked against what
 * is left of the answer before it is read. */
typedef struct reader {
    const unsigned char *p;
    size_t len, at;
} reader_t;

static const void *take(reader_t *r, size_t bytes, size_t align)
{
    size_t at = SHOAL_ALIGN_UP(r->at, align);
    if (at > r->len || bytes > r->len - at)
        return NULL;
    r->at = at + bytes;
    return r->p + at;
}

static json_t *frames_json(const shm_header_t *h, const info_frame_t *fr, uint32_t n)
{
    json_t *a = json_array();
    char fn[256];
    const code_table_t *ct = code_table(h);
    for (uint32_t i = 0; i < n; i++) {
        json_t *f = json_object();
        json_object_set_new(f, "function",
                            stats_string(stats_func_name(h, fr[i].func, fn, sizeof fn)));
        json_object_set_new(f, "pc", fr[i].pc == UINT32_MAX ? json_null() : json_integer(fr[i].pc));
        /* The code is immutable after the fork: the source line of the
         * instruction before pc (pc is past an instruction's first word,
         * or a call's return address), as a stack trace gives it. */
        const func_t *fu = fr[i].func < ct->nfuncs ? ct->funcs[fr[i].func] : NULL;
        if (fu && fr[i].pc != UINT32_MAX && fr[i].pc <= fu->ncode) {
            uint32_t line = code_line(fu, fr[i].pc ? fr[i].pc - 1 : 0);
            json_object_set_new(f, "file", fu->file ? stats_string(fu->file) : json_null());
            json_object_set_new(f, "line", line ? json_integer(line) : json_null());
        }
        json_array_append_new(a, f);
    }
    return a;
}

static json_t *mons_json(const info_mon_t *m, uint32_t n)
{
    json_t *a = json_array();
    for (uint32_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "pid", json_integer((json_int_t)m[i].pid));
        json_object_set_new(o, "ref", json_integer((json_int_t)m[i].ref));
        json_array_append_new(a, o);
    }
    return a;
}

json_t *stats_inspect_json(const shm_header_t *h, const unsigned char *out, uint32_t bytes)
{
    reader_t r = {out, bytes, 0};
    info_inspect_t hd;
    const void *p = take(&r, sizeof hd, 8);
    if (!p)
        return NULL;
    memcpy(&hd, p, sizeof hd);
    if (hd.rec.answer != INFO_HERE || hd.n_links > hd.total_links ||
        hd.n_monitors > hd.total_monitors || hd.n_watchers > hd.total_watchers ||
        hd.n_frames > hd.total_frames || hd.n_frames > INFO_MAX_FRAMES ||
        hd.n_msgs > CTL_MAX_MESSAGES)
        return NULL;
    const uint64_t *links = take(&r, (size_t)hd.n_links * sizeof(uint64_t), 8);
    const info_mon_t *mons = take(&r, (size_t)hd.n_monitors * sizeof(info_mon_t), 8);
    const info_mon_t *watchers = take(&r, (size_t)hd.n_watchers * sizeof(info_mon_t), 8);
    const info_frame_t *fr = take(&r, (size_t)hd.n_frames * sizeof(info_frame_t), 8);
    if ((hd.n_links && !links) || (hd.n_monitors && !mons) || (hd.n_watchers && !watchers) ||
        (hd.n_frames && !fr))
        return NULL;
    json_t *msgs = json_array();
    for (uint32_t i = 0; i < hd.n_msgs; i++) {
        const uint32_t *lenp = take(&r, 4, 4);
        uint32_t len;
        if (lenp)
            memcpy(&len, lenp, 4);
        const char *text = lenp && len <= INFO_MSG_BYTES ? take(&r, len, 1) : NULL;
        if (!text) {
            json_decref(msgs);
            return NULL;
        }
        char buf[INFO_MSG_BYTES + 1];
        memcpy(buf, text, len);
        buf[len] = 0;
        json_array_append_new(msgs, stats_string(buf));
    }

    json_t *o = stats_proc_json(h, &hd.rec);
    json_object_set_new(o, "trap_exit", json_boolean(hd.rec.flags & INFO_F_TRAP_EXIT));
    json_object_set_new(o, "pinned", json_boolean(hd.rec.flags & INFO_F_PINNED));
    json_object_set_new(o, "heap_words", json_integer((json_int_t)hd.heap_words));
    json_object_set_new(o, "old_words", json_integer((json_int_t)hd.old_words));
    json_object_set_new(o, "heap_limit_bytes",
                        json_integer((json_int_t)(hd.heap_limit_words * sizeof(uint64_t))));
    json_object_set_new(o, "gcs", json_integer((json_int_t)hd.gcs));
    json_object_set_new(o, "wait_ms", hd.wait_ms < 0 ? json_null() : json_integer(hd.wait_ms));
    json_t *pages = json_array();
    for (uint32_t k = 0; k < h->cfg.n_nodes && k < 8; k++)
        json_array_append_new(pages, json_integer(hd.node_pages[k]));
    json_object_set_new(o, "pages_per_node", pages);
    uint64_t by_cause[8] = {0};
    for (uint32_t c = 0; c < MIG_CAUSES; c++)
        by_cause[c] = hd.mig[c];
    json_object_set_new(o, "migrations_by_cause", causes(by_cause));
    json_t *mb = json_object();
    json_object_set_new(mb, "length", json_integer((json_int_t)hd.rec.mbox));
    json_object_set_new(mb, "in_mailbox", json_integer((json_int_t)hd.mbox_taken));
    json_object_set_new(mb, "in_inbox", json_integer(hd.inbox_pending));
    json_object_set_new(mb, "messages", msgs);
    json_object_set_new(mb, "cut", json_integer(hd.msgs_cut));
    json_object_set_new(o, "mailbox_detail", mb);
    json_t *la = json_array();
    for (uint32_t i = 0; i < hd.n_links; i++)
        json_array_append_new(la, json_integer((json_int_t)links[i]));
    json_object_set_new(o, "links", la);
    json_object_set_new(o, "links_total", json_integer(hd.total_links));
    json_object_set_new(o, "monitors", mons_json(mons, hd.n_monitors));
    json_object_set_new(o, "monitors_total", json_integer(hd.total_monitors));
    json_object_set_new(o, "monitored_by", mons_json(watchers, hd.n_watchers));
    json_object_set_new(o, "monitored_by_total", json_integer(hd.total_watchers));
    json_object_set_new(o, "stack", frames_json(h, fr, hd.n_frames));
    json_object_set_new(o, "stack_total", json_integer(hd.total_frames));
    return o;
}
