/*
 * client.c: `shoal stats`, `ps`, `inspect` and `policy` (see client.h).
 */
#include "supervisor/client.h"

#include "shm/common.h"
#include "supervisor/config.h"
#include "supervisor/ctl.h"
#include "supervisor/ctlproto.h"
#include "supervisor/top.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* A reply must come within this: the supervisor answers from its loop, and
 * gives up on a VM after ASK_TIMEOUT_MS (10 s). */
#define CLIENT_TIMEOUT_MS 30000

static const char *const commands[] = {"stats", "ps", "inspect", "top", "policy"};

bool client_command(const char *cmd)
{
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(cmd, commands[i]) == 0)
            return true;
    return false;
}

static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int status, const char *fmt, ...)
{
    char msg[1024], esc[4 * sizeof msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "shoal: %s\n", shoal_escape(esc, sizeof esc, msg));
    if (status == SHOAL_EXIT_USAGE)
        fputs("try 'shoal --help'\n", stderr);
    return status;
}

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int client_connect(const char *name, char *err, size_t errlen)
{
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)], dir[512];
    if (!ctl_name_ok(name, err, errlen) ||
        ctl_path(name, dir, sizeof dir, path, sizeof path, err, errlen) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        shoal_errf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(fd);
        if (e == ENOENT)
            shoal_errf(err, errlen, "no run named '%s' is running (no socket %s)", name, path);
        else if (e == ECONNREFUSED)
            shoal_errf(err, errlen, "the run named '%s' is gone (stale socket %s)", name, path);
        else if (e == EACCES)
            shoal_errf(err, errlen,
                       "cannot reach the run named '%s': %s: permission denied "
                       "(runs are reached only by the user who started them)",
                       name, path);
        else
            shoal_errf(err, errlen, "cannot connect to %s: %s", path, strerror(e));
        return -1;
    }
    return fd;
}

/* Wait until fd is ready for `events`, up to the deadline. */
static bool wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = mono_ms();
        if (now >= deadline)
            return false;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(deadline - now));
        if (n > 0)
            return true;
        if (n < 0 && errno != EINTR)
            return false;
    }
}

json_t *client_request(int fd, const char *line, int timeout_ms, char *err, size_t errlen,
                       bool *unreachable)
{
    *unreachable = true;
    uint64_t deadline = mono_ms() + (uint64_t)timeout_ms;
    size_t len = strlen(line), off = 0;
    while (off < len) {
        if (!wait_fd(fd, POLLOUT, deadline)) {
            shoal_errf(err, errlen, "the run did not take the request in time");
            return NULL;
        }
        ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0 && errno == EPIPE)
            break; /* the run refused us and closed: its reason may be there to read */
        if (n <= 0) {
            shoal_errf(err, errlen, "cannot send the request: %s", strerror(errno));
            return NULL;
        }
        off += (size_t)n;
    }
    size_t cap = 64 * 1024, got = 0;
    char *buf = malloc(cap);
    if (!buf) {
        shoal_errf(err, errlen, "out of memory");
        return NULL;
    }
    for (;;) {
        if (got > 0 && buf[got - 1] == '\n')
            break;
        if (got + 1 >= cap) {
            if (cap > CTL_MAX_REPLY) {
                free(buf);
                shoal_errf(err, errlen, "the reply is longer than %u bytes", CTL_MAX_REPLY);
                return NULL;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                shoal_errf(err, errlen, "out of memory");
                return NULL;
            }
            buf = nb;
            cap *= 2;
        }
        if (!wait_fd(fd, POLLIN, deadline)) {
            free(buf);
            shoal_errf(err, errlen, "no answer from the run within %d s", timeout_ms / 1000);
            return NULL;
        }
        ssize_t n = recv(fd, buf + got, cap - got - 1, MSG_DONTWAIT);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0) {
            free(buf);
            shoal_errf(err, errlen, "the run closed the connection%s%s", n < 0 ? ": " : "",
                       n < 0 ? strerror(errno) : "");
            return NULL;
        }
        got += (size_t)n;
    }
    *unreachable = false;
    json_error_t je;
    json_t *o = json_loadb(buf, got, 0, &je);
    free(buf);
    if (!o || !json_is_object(o)) {
        json_decref(o);
        shoal_errf(err, errlen, "the run's reply is not a JSON object");
        return NULL;
    }
    if (!json_is_true(json_object_get(o, "ok"))) {
        const char *e = client_str(o, "error");
        shoal_errf(err, errlen, "%s", e ? e : "the run refused the request");
        json_decref(o);
        return NULL;
    }
    return o;
}

json_int_t client_int(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (json_int_t)json_real_value(v);
    return 0;
}

double client_real(const json_t *o, const char *key)
{
    return json_number_value(json_object_get(o, key));
}

const char *client_str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

void client_bytes(uint64_t n, char *buf, size_t len)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double x = (double)n;
    int u = 0;
    while (x >= 1024 && u < 4) {
        x /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%" PRIu64 " B", n);
    else
        snprintf(buf, len, "%.1f %s", x, units[u]);
}

void client_count(double n, char *buf, size_t len)
{
    if (n >= 1e9)
        snprintf(buf, len, "%.1fG", n / 1e9);
    else if (n >= 1e6)
        snprintf(buf, len, "%.1fM", n / 1e6);
    else if (n >= 1e4)
        snprintf(buf, len, "%.1fk", n / 1e3);
    else
        snprintf(buf, len, "%.0f", n);
}

/* ---- stats ---- */

static void causes_text(const json_t *o, char *buf, size_t len)
{
    const char *key;
    json_t *v;
    size_t at = 0;
    buf[0] = 0;
    json_object_foreach((json_t *)o, key, v)
    {
        int n = snprintf(buf + at, len - at, "%s%" JSON_INTEGER_FORMAT, at ? "/" : "",
                         json_integer_value(v));
        if (n < 0 || (size_t)n >= len - at)
            break;
        at += (size_t)n;
    }
}

static void print_stats(const json_t *o)
{
    const json_t *run = json_object_get(o, "run");
    const json_t *pol = json_object_get(o, "policy");
    printf("run '%s' (supervisor pid %" JSON_INTEGER_FORMAT "): %" JSON_INTEGER_FORMAT
           " VMs, %" JSON_INTEGER_FORMAT " NUMA node%s, up %.1f s, %" JSON_INTEGER_FORMAT
           " processes\n",
           client_str(run, "name"), client_int(run, "pid"), client_int(run, "vms"),
           client_int(run, "nodes"), client_int(run, "nodes") == 1 ? "" : "s",
           (double)client_int(run, "uptime_ms") / 1000.0, client_int(run, "processes"));
    printf("policy: %s", pol ? client_str(pol, "name") : "?");
    const json_t *params = json_object_get(pol, "params");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)params, key, v)
    {
        printf(" %s=%" JSON_INTEGER_FORMAT, key, json_integer_value(v));
    }
    printf("\nrates over the last %" JSON_INTEGER_FORMAT " ms; migrations by cause: ",
           client_int(run, "window_ms"));
    const json_t *vms = json_object_get(o, "vms");
    const json_t *first = json_array_get(vms, 0);
    int k = 0;
    json_object_foreach(json_object_get(first, "migrations_in"), key, v)
    {
        printf("%s%s", k++ ? "/" : "", key);
    }
    printf("\n\n%3s %7s %-8s %4s %6s %5s %6s %9s %11s %11s %10s %10s %10s %10s\n", "VM", "pid",
           "cpuset", "node", "procs", "runq", "busy%", "reds/s", "mig-in", "mig-out", "msg-local",
           "msg-remote", "heap-local", "heap-rem");
    size_t i;
    json_t *vm;
    json_array_foreach(vms, i, vm)
    {
        char in[64], out[64], rate[32], hl[32], hr[32];
        causes_text(json_object_get(vm, "migrations_in"), in, sizeof in);
        causes_text(json_object_get(vm, "migrations_out"), out, sizeof out);
        client_count(client_real(vm, "reductions_per_s"), rate, sizeof rate);
        client_bytes((uint64_t)client_int(vm, "heap_local_bytes"), hl, sizeof hl);
        client_bytes((uint64_t)client_int(vm, "heap_remote_bytes"), hr, sizeof hr);
        printf("%3" JSON_INTEGER_FORMAT " %7" JSON_INTEGER_FORMAT " %-8.8s %4" JSON_INTEGER_FORMAT
               " %6" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
               " %6.1f %9s %11s %11s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT
               " %10s %10s\n",
               client_int(vm, "vm"), client_int(vm, "os_pid"), client_str(vm, "cpuset"),
               client_int(vm, "node"), client_int(vm, "processes"), client_int(vm, "runq"),
               client_real(vm, "busy_pct"), rate, in, out, client_int(vm, "messages_local"),
               client_int(vm, "messages_remote"), hl, hr);
    }
    printf("recovery: %" JSON_INTEGER_FORMAT " VM restarts, %" JSON_INTEGER_FORMAT
           " processes adopted, %" JSON_INTEGER_FORMAT " lost to VM crashes",
           client_int(run, "restarts"), client_int(run, "adopted"), client_int(run, "lost"));
    k = 0;
    json_array_foreach(vms, i, vm)
    {
        if (client_int(vm, "restarts") || client_int(vm, "adopted") || client_int(vm, "lost"))
            printf("%s VM %" JSON_INTEGER_FORMAT ": %" JSON_INTEGER_FORMAT "/%" JSON_INTEGER_FORMAT
                   "/%" JSON_INTEGER_FORMAT,
                   k++ ? "," : " (restarts/adopted/lost:", client_int(vm, "vm"),
                   client_int(vm, "restarts"), client_int(vm, "adopted"), client_int(vm, "lost"));
    }
    printf("%s\n", k ? ")" : "");
    printf("\n%4s %-12s %6s %5s %6s %9s %11s %11s %10s %10s\n", "node", "VMs", "procs", "runq",
           "busy%", "reds/s", "mig-in", "mig-out", "msg-local", "msg-remote");
    json_t *node;
    json_array_foreach(json_object_get(o, "nodes"), i, node)
    {
        char list[64] = "", in[64], out[64], rate[32];
        size_t j, at = 0;
        json_t *x;
        json_array_foreach(json_object_get(node, "vms"), j, x)
        {
            int n = snprintf(list + at, sizeof list - at, "%s%" JSON_INTEGER_FORMAT, j ? "," : "",
                             json_integer_value(x));
            if (n < 0 || (size_t)n >= sizeof list - at)
                break;
            at += (size_t)n;
        }
        causes_text(json_object_get(node, "migrations_in"), in, sizeof in);
        causes_text(json_object_get(node, "migrations_out"), out, sizeof out);
        client_count(client_real(node, "reductions_per_s"), rate, sizeof rate);
        printf("%4" JSON_INTEGER_FORMAT " %-12.12s %6" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
               " %6.1f %9s %11s %11s %10" JSON_INTEGER_FORMAT " %10" JSON_INTEGER_FORMAT "\n",
               client_int(node, "node"), list, client_int(node, "processes"),
               client_int(node, "runq"), client_real(node, "busy_pct"), rate, in, out,
               client_int(node, "messages_local"), client_int(node, "messages_remote"));
    }
    printf("\nmessages sent (row: from VM, column: to VM)\n%6s", "");
    size_t n_vms = json_array_size(vms);
    for (size_t c = 0; c < n_vms; c++)
        printf(" %10s%zu", "VM", c);
    printf("\n");
    json_t *row;
    json_array_foreach(json_object_get(o, "messages"), i, row)
    {
        printf("  VM%-2zu", i);
        size_t j;
        json_array_foreach(row, j, v)
        {
            printf(" %11" JSON_INTEGER_FORMAT, json_integer_value(v));
        }
        printf("\n");
    }
}

/* One Prometheus sample line; labels as "k=\"v\",..." already escaped. */
static void prom(const char *metric, const char *labels, double value)
{
    printf("%s{%s} %.10g\n", metric, labels, value);
}

static void prom_head(const char *metric, const char *type, const char *help)
{
    printf("# HELP %s %s\n# TYPE %s %s\n", metric, help, metric, type);
}

/* A Prometheus label value: backslash, quote and newline escaped. */
static void prom_escape(const char *s, char *out, size_t len)
{
    size_t at = 0;
    for (; s && *s && at + 3 < len; s++) {
        if (*s == '\\' || *s == '"') {
            out[at++] = '\\';
            out[at++] = *s;
        } else if (*s == '\n') {
            out[at++] = '\\';
            out[at++] = 'n';
        } else {
            out[at++] = *s;
        }
    }
    out[at] = 0;
}

static void print_prometheus(const json_t *o)
{
    const json_t *run = json_object_get(o, "run");
    const json_t *vms = json_object_get(o, "vms");
    char name[160], l[400];
    prom_escape(client_str(run, "name"), name, sizeof name);
    static const struct {
        const char *metric, *type, *key, *help;
        double scale;
    } per_vm[] = {
        {"shoal_vm_processes", "gauge", "processes", "Processes the VM owns.", 1},
        {"shoal_vm_run_queue", "gauge", "runq", "Runnable processes queued on the VM.", 1},
        {"shoal_vm_busy_ratio", "gauge", "busy_pct",
         "Share of wall time the VM's scheduler was running, over the last window.", 0.01},
        {"shoal_vm_reductions_total", "counter", "reductions", "Reductions the VM executed.", 1},
        {"shoal_vm_reductions_per_second", "gauge", "reductions_per_s",
         "Reductions per second over the last window.", 1},
        {"shoal_vm_restarts_total", "counter", "restarts", "Times the VM was restarted.", 1},
        {"shoal_vm_adopted_total", "counter", "adopted",
         "Processes the VM took over after a VM died.", 1},
        {"shoal_vm_lost_total", "counter", "lost",
         "Processes that ended with vm_crash when the VM died.", 1},
        {"shoal_vm_hibernated_total", "counter", "hibernated",
         "Hibernations of waiting processes on the VM.", 1},
    };
    for (size_t m = 0; m < sizeof per_vm / sizeof per_vm[0]; m++) {
        prom_head(per_vm[m].metric, per_vm[m].type, per_vm[m].help);
        size_t i;
        json_t *vm;
        json_array_foreach(vms, i, vm)
        {
            snprintf(l, sizeof l,
                     "run=\"%s\",vm=\"%" JSON_INTEGER_FORMAT "\",node=\"%" JSON_INTEGER_FORMAT "\"",
                     name, client_int(vm, "vm"), client_int(vm, "node"));
            prom(per_vm[m].metric, l, client_real(vm, per_vm[m].key) * per_vm[m].scale);
        }
    }
    static const char *const dirs[][3] = {
        {"shoal_vm_migrations_in_total", "migrations_in", "Processes that moved to the VM."},
        {"shoal_vm_migrations_out_total", "migrations_out", "Processes that moved away."},
    };
    for (int d = 0; d < 2; d++) {
        prom_head(dirs[d][0], "counter", dirs[d][2]);
        size_t i;
        json_t *vm;
        json_array_foreach(vms, i, vm)
        {
            const char *cause;
            json_t *v;
            json_object_foreach(json_object_get(vm, dirs[d][1]), cause, v)
            {
                snprintf(l, sizeof l,
                         "run=\"%s\",vm=\"%" JSON_INTEGER_FORMAT "\",node=\"%" JSON_INTEGER_FORMAT
                         "\",cause=\"%s\"",
                         name, client_int(vm, "vm"), client_int(vm, "node"), cause);
                prom(dirs[d][0], l, (double)json_integer_value(v));
            }
        }
    }
    prom_head("shoal_vm_messages_total", "counter",
              "Messages the VM's processes sent, to processes on the same VM or another.");
    prom_head("shoal_vm_heap_bytes", "gauge",
              "Heap pages of the VM's processes, on the VM's NUMA node or another.");
    size_t i;
    json_t *vm;
    json_array_foreach(vms, i, vm)
    {
        const char *kinds[][2] = {{"local", "messages_local"}, {"remote", "messages_remote"}};
        const char *where[][2] = {{"local", "heap_local_bytes"}, {"remote", "heap_remote_bytes"}};
        for (int k = 0; k < 2; k++) {
            snprintf(l, sizeof l,
                     "run=\"%s\",vm=\"%" JSON_INTEGER_FORMAT "\",node=\"%" JSON_INTEGER_FORMAT
                     "\",kind=\"%s\"",
                     name, client_int(vm, "vm"), client_int(vm, "node"), kinds[k][0]);
            prom("shoal_vm_messages_total", l, (double)client_int(vm, kinds[k][1]));
            snprintf(l, sizeof l,
                     "run=\"%s\",vm=\"%" JSON_INTEGER_FORMAT "\",node=\"%" JSON_INTEGER_FORMAT
                     "\",where=\"%s\"",
                     name, client_int(vm, "vm"), client_int(vm, "node"), where[k][0]);
            prom("shoal_vm_heap_bytes", l, (double)client_int(vm, where[k][1]));
        }
    }
    prom_head("shoal_node_busy_ratio", "gauge", "Mean busy share of the node's VMs.");
    json_t *node;
    json_array_foreach(json_object_get(o, "nodes"), i, node)
    {
        snprintf(l, sizeof l, "run=\"%s\",node=\"%" JSON_INTEGER_FORMAT "\"", name,
                 client_int(node, "node"));
        prom("shoal_node_busy_ratio", l, client_real(node, "busy_pct") / 100.0);
    }
    prom_head("shoal_messages_total", "counter",
              "Messages sent from processes on one VM to another.");
    json_t *row;
    json_array_foreach(json_object_get(o, "messages"), i, row)
    {
        size_t j;
        json_t *v;
        json_array_foreach(row, j, v)
        {
            snprintf(l, sizeof l, "run=\"%s\",from=\"%zu\",to=\"%zu\"", name, i, j);
            prom("shoal_messages_total", l, (double)json_integer_value(v));
        }
    }
    prom_head("shoal_processes", "gauge", "Live processes of the run.");
    snprintf(l, sizeof l, "run=\"%s\"", name);
    prom("shoal_processes", l, (double)client_int(run, "processes"));
}

/* ---- ps ---- */

static void print_ps(const json_t *o)
{
    printf("%-10s %3s %4s %5s %-9s %10s %7s %9s %5s  %s\n", "PID", "VM", "NODE", "HNODE", "STATE",
           "HEAP", "MBOX", "REDS", "MIGR", "FUNCTION");
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(o, "processes"), i, p)
    {
        char pid[32], heap[32];
        snprintf(pid, sizeof pid, "<%" JSON_INTEGER_FORMAT ">", client_int(p, "pid"));
        client_bytes((uint64_t)client_int(p, "heap_bytes"), heap, sizeof heap);
        const char *fn = client_str(p, "function");
        printf("%-10s %3" JSON_INTEGER_FORMAT " %4" JSON_INTEGER_FORMAT " %5" JSON_INTEGER_FORMAT
               " %-9s %10s %7" JSON_INTEGER_FORMAT " %9" JSON_INTEGER_FORMAT
               " %5" JSON_INTEGER_FORMAT "  %s%s\n",
               pid, client_int(p, "vm"), client_int(p, "node"), client_int(p, "heap_node"),
               client_str(p, "state"), heap, client_int(p, "mailbox"), client_int(p, "reductions"),
               client_int(p, "migrations"), fn ? fn : "-",
               json_is_true(json_object_get(p, "partial")) ? " (moving)" : "");
    }
    json_int_t total = client_int(o, "total"), shown = client_int(o, "shown");
    if (shown < total)
        printf("(%" JSON_INTEGER_FORMAT " of %" JSON_INTEGER_FORMAT " processes)\n", shown, total);
    json_t *e;
    json_array_foreach(json_object_get(o, "errors"), i, e)
    {
        fprintf(stderr, "shoal: warning: %s\n", json_string_value(e));
    }
}

/* ---- inspect ---- */

static void print_pids(const char *label, const json_t *arr, json_int_t total)
{
    printf("  %s:", label);
    size_t i;
    json_t *v;
    if (json_array_size(arr) == 0)
        printf(" none");
    json_array_foreach(arr, i, v)
    {
        if (json_is_object(v))
            printf(" <%" JSON_INTEGER_FORMAT "> (#ref<%" JSON_INTEGER_FORMAT ">)",
                   client_int(v, "pid"), client_int(v, "ref"));
        else
            printf(" <%" JSON_INTEGER_FORMAT ">", json_integer_value(v));
    }
    if ((size_t)total > json_array_size(arr))
        printf(" ... (%" JSON_INTEGER_FORMAT " in all)", total);
    printf("\n");
}

static void print_inspect(const json_t *o)
{
    const json_t *p = json_object_get(o, "process");
    char heap[32];
    client_bytes((uint64_t)client_int(p, "heap_bytes"), heap, sizeof heap);
    printf("process <%" JSON_INTEGER_FORMAT ">: %s on VM %" JSON_INTEGER_FORMAT
           " (NUMA node %" JSON_INTEGER_FORMAT ")\n",
           client_int(p, "pid"), client_str(p, "state"), client_int(p, "vm"),
           client_int(p, "node"));
    const char *fn = client_str(p, "function");
    printf("  function: %s\n", fn ? fn : "-");
    printf("  heap: %s held, mostly on node %" JSON_INTEGER_FORMAT " (pages per node:", heap,
           client_int(p, "heap_node"));
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(p, "pages_per_node"), i, v)
    {
        printf(" %" JSON_INTEGER_FORMAT, json_integer_value(v));
    }
    printf("); %" JSON_INTEGER_FORMAT " words in heap blocks", client_int(p, "heap_words"));
    if (client_int(p, "old_words") > 0)
        printf(" (%" JSON_INTEGER_FORMAT " in the old generation)", client_int(p, "old_words"));
    printf("; %" JSON_INTEGER_FORMAT " collections\n", client_int(p, "gcs"));
    printf("  reductions: %" JSON_INTEGER_FORMAT " in all, %" JSON_INTEGER_FORMAT
           " in the last window\n",
           client_int(p, "reductions_total"), client_int(p, "reductions"));
    printf("  migrations: %" JSON_INTEGER_FORMAT " (", client_int(p, "migrations"));
    const char *key;
    int k = 0;
    json_object_foreach(json_object_get(p, "migrations_by_cause"), key, v)
    {
        printf("%s%s %" JSON_INTEGER_FORMAT, k++ ? ", " : "", key, json_integer_value(v));
    }
    printf(")\n");
    printf("  trap_exit: %s; pinned: %s",
           json_is_true(json_object_get(p, "trap_exit")) ? "yes" : "no",
           json_is_true(json_object_get(p, "pinned")) ? "yes" : "no");
    json_t *w = json_object_get(p, "wait_ms");
    if (json_is_integer(w))
        printf("; its wait times out in %" JSON_INTEGER_FORMAT " ms", json_integer_value(w));
    printf("\n");
    const json_t *mb = json_object_get(p, "mailbox_detail");
    printf("  mailbox: %" JSON_INTEGER_FORMAT " message%s (%" JSON_INTEGER_FORMAT
           " taken in, %" JSON_INTEGER_FORMAT " still in the inbox)\n",
           client_int(mb, "length"), client_int(mb, "length") == 1 ? "" : "s",
           client_int(mb, "in_mailbox"), client_int(mb, "in_inbox"));
    json_array_foreach(json_object_get(mb, "messages"), i, v)
    {
        printf("    %zu: %s\n", i + 1, json_string_value(v));
    }
    print_pids("links", json_object_get(p, "links"), client_int(p, "links_total"));
    print_pids("monitors", json_object_get(p, "monitors"), client_int(p, "monitors_total"));
    print_pids("monitored by", json_object_get(p, "monitored_by"),
               client_int(p, "monitored_by_total"));
    printf("  stack (innermost first):\n");
    json_array_foreach(json_object_get(p, "stack"), i, v)
    {
        json_t *line = json_object_get(v, "line");
        const char *file = client_str(v, "file");
        if (json_is_integer(line))
            printf("    at %s (%s:%" JSON_INTEGER_FORMAT ")\n", client_str(v, "function"),
                   file ? file : "?", json_integer_value(line));
        else
            printf("    at %s\n", client_str(v, "function"));
    }
    if ((size_t)client_int(p, "stack_total") > json_array_size(json_object_get(p, "stack")))
        printf("    ... (%" JSON_INTEGER_FORMAT " frames in all)\n", client_int(p, "stack_total"));
}

/* ---- policy ---- */

static void print_policy(const json_t *o)
{
    const json_t *pol = json_object_get(o, "policy");
    printf("policy: %s\n", client_str(pol, "name"));
    const char *key;
    json_t *v;
    json_object_foreach(json_object_get(pol, "params"), key, v)
    {
        printf("  %s = %" JSON_INTEGER_FORMAT "\n", key, json_integer_value(v));
    }
    json_t *iv = json_object_get(pol, "interval_ms");
    if (json_is_integer(iv))
        printf("  interval_ms = %" JSON_INTEGER_FORMAT "\n", json_integer_value(iv));
}

/* ---- the commands ---- */

enum {
    C_NAME = 256,
    C_JSON,
    C_PROM,
    C_VM,
    C_STATE,
    C_SORT,
    C_LIMIT,
    C_MESSAGES,
    C_INTERVAL,
    C_HELP
};

static const struct option client_opts[] = {
    {"name", required_argument, NULL, C_NAME},
    {"json", no_argument, NULL, C_JSON},
    {"prometheus", no_argument, NULL, C_PROM},
    {"vm", required_argument, NULL, C_VM},
    {"state", required_argument, NULL, C_STATE},
    {"sort", required_argument, NULL, C_SORT},
    {"limit", required_argument, NULL, C_LIMIT},
    {"messages", required_argument, NULL, C_MESSAGES},
    {"interval", required_argument, NULL, C_INTERVAL},
    {"help", no_argument, NULL, C_HELP},
    {NULL, 0, NULL, 0},
};

static const char client_usage[] =
    "usage: shoal stats [--name NAME] [--json | --prometheus]\n"
    "       shoal ps [--name NAME] [--vm N] [--state STATE] [--sort KEY] [--limit N] [--json]\n"
    "       shoal inspect PID [--name NAME] [--messages N] [--json]\n"
    "       shoal top [--name NAME] [--interval SECONDS] [--sort KEY]\n"
    "       shoal policy show | use NAME | set KEY=VALUE ... [--name NAME] [--json]\n"
    "\n"
    "  --name NAME        the run to ask (shoal run --name; default: $SHOAL_NAME,\n"
    "                     else default)\n"
    "  --json             print the run's reply, one JSON object (README.md has its fields)\n"
    "  --prometheus       (stats) the same figures in the Prometheus text format\n"
    "  --vm N             (ps) only processes on VM N\n"
    "  --state STATE      (ps) only runnable, running, waiting, exiting or moving ones\n"
    "  --sort KEY         (ps, top) pid, reductions, mailbox, heap or migrations;\n"
    "                     reductions are those of the last stats window (1 s)\n"
    "  --limit N          (ps) the first N processes after sorting\n"
    "  --messages N       (inspect) print the first N messages of the mailbox (0..100)\n"
    "  --interval SECONDS (top) refresh period, 0.1 to 3600 (default 1)\n"
    "\n"
    "exit status: 0 done; 1 the run refused the request; 2 bad command line;\n"
    "4 the run could not be reached\n";

typedef struct copts {
    const char *name;
    bool json, prom;
    int vm;
    const char *state, *sort;
    uint32_t limit, messages;
    double interval;
} copts_t;

static int parse_copts(const char *cmd, int argc, char **argv, copts_t *o, int *first_arg)
{
    opterr = 0;
    optind = 1;
    int c;
    int idx = -1;
    while ((c = getopt_long(argc, argv, ":h", client_opts, &idx)) != -1) {
        /* the option as written: its long name when getopt found one
         * (argv[optind - 1] may be its value) */
        char flagbuf[40];
        const char *flag = argv[optind - 1];
        if (idx >= 0 && c != '?' && c != ':') {
            snprintf(flagbuf, sizeof flagbuf, "--%s", client_opts[idx].name);
            flag = flagbuf;
        }
        idx = -1;
        bool ok_here = true;
        char err[300];
        uint32_t x;
        switch (c) {
        case C_NAME:
            if (!ctl_name_ok(optarg, err, sizeof err))
                return fail(SHOAL_EXIT_USAGE, "%s", err);
            o->name = optarg;
            break;
        case C_JSON:
            ok_here = strcmp(cmd, "top") != 0;
            o->json = true;
            break;
        case C_PROM:
            ok_here = strcmp(cmd, "stats") == 0;
            o->prom = true;
            break;
        case C_VM:
        case C_STATE:
        case C_LIMIT:
            ok_here = strcmp(cmd, "ps") == 0;
            if (ok_here && c == C_VM) {
                if (config_parse_uint(optarg, 0, SHOAL_MAX_VMS - 1, "--vm", &x, err, sizeof err) <
                    0)
                    return fail(SHOAL_EXIT_USAGE, "%s", err);
                o->vm = (int)x;
            } else if (ok_here && c == C_STATE) {
                if (ctl_state_find(optarg) < 0)
                    return fail(SHOAL_EXIT_USAGE,
                                "--state: '%s' is not runnable, running, waiting, exiting or moving",
                                optarg);
                o->state = optarg;
            } else if (ok_here) {
                if (config_parse_uint(optarg, 1, CTL_MAX_ROWS, "--limit", &o->limit, err,
                                      sizeof err) < 0)
                    return fail(SHOAL_EXIT_USAGE, "%s", err);
            }
            break;
        case C_SORT:
            ok_here = strcmp(cmd, "ps") == 0 || strcmp(cmd, "top") == 0;
            if (ctl_sort_find(optarg) < 0)
                return fail(SHOAL_EXIT_USAGE,
                            "--sort: '%s' is not pid, reductions, mailbox, heap or migrations",
                            optarg);
            o->sort = optarg;
            break;
        case C_MESSAGES:
            ok_here = strcmp(cmd, "inspect") == 0;
            if (ok_here && config_parse_uint(optarg, 0, CTL_MAX_MESSAGES, "--messages",
                                             &o->messages, err, sizeof err) < 0)
                return fail(SHOAL_EXIT_USAGE, "%s", err);
            break;
        case C_INTERVAL: {
            ok_here = strcmp(cmd, "top") == 0;
            char *end;
            errno = 0;
            double d = strtod(optarg, &end);
            if (ok_here && (errno || end == optarg || *end || !(d >= 0.1 && d <= 3600)))
                return fail(SHOAL_EXIT_USAGE, "--interval: '%s' is not 0.1 to 3600 seconds",
                            optarg);
            o->interval = d;
            break;
        }
        case 'h':
        case C_HELP:
            fputs(client_usage, stdout);
            return -1;
        case ':':
            return fail(SHOAL_EXIT_USAGE, "%s: option %s needs a value", cmd, flag);
        default:
            return fail(SHOAL_EXIT_USAGE, "%s: unknown option %s", cmd, flag);
        }
        if (!ok_here)
            return fail(SHOAL_EXIT_USAGE, "%s: %s does not apply to '%s'", cmd, flag, cmd);
    }
    if (o->json && o->prom)
        return fail(SHOAL_EXIT_USAGE, "stats: --json or --prometheus, not both");
    *first_arg = optind;
    return 0;
}

/* Send one request, print the reply. */
static int ask_once(const copts_t *o, const char *line, void (*print)(const json_t *))
{
    char err[1024];
    int fd = client_connect(o->name, err, sizeof err);
    if (fd < 0)
        return fail(SHOAL_EXIT_FAIL, "%s", err);
    bool unreachable;
    json_t *r = client_request(fd, line, CLIENT_TIMEOUT_MS, err, sizeof err, &unreachable);
    close(fd);
    if (!r)
        return fail(unreachable ? SHOAL_EXIT_FAIL : SHOAL_EXIT_MAIN_FAILED, "%s", err);
    if (o->json) {
        json_dumpf(r, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
        putchar('\n');
    } else {
        print(r);
    }
    json_decref(r);
    if (fflush(stdout) != 0 || ferror(stdout))
        return fail(SHOAL_EXIT_FAIL, "cannot write to standard output: %s", strerror(errno));
    return 0;
}

int client_main(int argc, char **argv)
{
    const char *cmd = argv[0];
    const char *env = getenv("SHOAL_NAME");
    copts_t o = {.name = env && *env ? env : "default", .vm = -1, .interval = 1.0};
    int first = 1;
    int rc = parse_copts(cmd, argc, argv, &o, &first);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    int nargs = argc - first;
    char **args = argv + first;
    char line[CTL_MAX_REQUEST];
    signal(SIGPIPE, SIG_IGN);

    if (strcmp(cmd, "stats") == 0) {
        if (nargs)
            return fail(SHOAL_EXIT_USAGE, "stats: unexpected argument '%s'", args[0]);
        return ask_once(&o, CTL_MAGIC " stats\n", o.prom ? print_prometheus : print_stats);
    }
    if (strcmp(cmd, "ps") == 0) {
        if (nargs)
            return fail(SHOAL_EXIT_USAGE, "ps: unexpected argument '%s'", args[0]);
        int n = snprintf(line, sizeof line, CTL_MAGIC " ps");
        if (o.vm >= 0)
            n += snprintf(line + n, sizeof line - (size_t)n, " vm=%d", o.vm);
        if (o.state)
            n += snprintf(line + n, sizeof line - (size_t)n, " state=%s", o.state);
        if (o.sort)
            n += snprintf(line + n, sizeof line - (size_t)n, " sort=%s", o.sort);
        if (o.limit)
            n += snprintf(line + n, sizeof line - (size_t)n, " limit=%u", o.limit);
        snprintf(line + n, sizeof line - (size_t)n, "\n");
        return ask_once(&o, line, print_ps);
    }
    if (strcmp(cmd, "inspect") == 0) {
        uint64_t pid;
        if (nargs != 1)
            return fail(SHOAL_EXIT_USAGE, "inspect: give one PID (such as 17 or <17>)");
        if (!ctl_parse_pid(args[0], &pid))
            return fail(SHOAL_EXIT_USAGE, "inspect: '%s' is not a pid (such as 17 or <17>)",
                        args[0]);
        snprintf(line, sizeof line, CTL_MAGIC " inspect pid=%" PRIu64 " messages=%u\n", pid,
                 o.messages);
        return ask_once(&o, line, print_inspect);
    }
    if (strcmp(cmd, "top") == 0) {
        if (nargs)
            return fail(SHOAL_EXIT_USAGE, "top: unexpected argument '%s'", args[0]);
        return top_main(o.name, o.interval, o.sort ? o.sort : "reductions");
    }
    /* policy */
    if (nargs == 0)
        return fail(SHOAL_EXIT_USAGE, "policy: list, show, use NAME or set KEY=VALUE ...");
    const char *sub = args[0];
    if (strcmp(sub, "show") == 0) {
        if (nargs != 1)
            return fail(SHOAL_EXIT_USAGE, "policy show: unexpected argument '%s'", args[1]);
        return ask_once(&o, CTL_MAGIC " policy show\n", print_policy);
    }
    if (strcmp(sub, "use") == 0 || strcmp(sub, "set") == 0) {
        bool use = strcmp(sub, "use") == 0;
        if (use && nargs != 2)
            return fail(SHOAL_EXIT_USAGE, "policy use: give one policy name");
        if (!use && nargs < 2)
            return fail(SHOAL_EXIT_USAGE, "policy set: give KEY=VALUE ...");
        if (!use && nargs - 1 > (int)CTL_MAX_SETS)
            return fail(SHOAL_EXIT_USAGE, "policy set: at most %u settings at once", CTL_MAX_SETS);
        size_t n = (size_t)snprintf(line, sizeof line, CTL_MAGIC " policy %s", sub);
        for (int i = 1; i < nargs; i++) {
            const char *a = args[i];
            if (!use && (!strchr(a, '=') || a[0] == '='))
                return fail(SHOAL_EXIT_USAGE, "policy set: '%s' is not KEY=VALUE", a);
            if (strlen(a) > CTL_MAX_WORD || strpbrk(a, " \t\n\r"))
                return fail(SHOAL_EXIT_USAGE, "policy %s: '%s' is too long or has spaces", sub, a);
            n += (size_t)snprintf(line + n, sizeof line - n, " %s", a);
        }
        snprintf(line + n, sizeof line - n, "\n");
        return ask_once(&o, line, print_policy);
    }
    return fail(SHOAL_EXIT_USAGE, "policy: unknown subcommand '%s' (list, show, use, set)", sub);
}
