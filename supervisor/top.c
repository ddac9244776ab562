/*
 * top.c: `shoal top` (see top.h).
 *
 * Each refresh makes two requests on one connection, stats and
 * `ps sort=KEY limit=ROWS`, and draws one frame: the VMs grouped by NUMA
 * node, each with a bar of its busy %, its run queue and its migration
 * rates by cause, then the processes with the most recent reductions (or
 * by the chosen key). What it costs the run: those two requests per
 * refresh, at most 10 a second; the ps request asks every VM once and
 * sends back only the rows that fit on the screen.
 *
 * Keys: q quits; s moves to the next sort key, or p r m h g pick one
 * (pid, reductions, mailbox, heap, migrations); + and - double or halve
 * the refresh period.
 */
#include "supervisor/top.h"

#include "shm/common.h"
#include "supervisor/client.h"
#include "supervisor/ctlproto.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define TOP_TIMEOUT_MS 30000

static volatile sig_atomic_t top_stop;
static volatile sig_atomic_t top_resized;

static void on_stop(int sig)
{
    (void)sig;
    top_stop = 1;
}

static void on_winch(int sig)
{
    (void)sig;
    top_resized = 1;
}

typedef struct screen {
    char *buf;
    size_t len, cap;
    int rows, cols;
    int line;
} screen_t;

static void put(screen_t *s, const char *text, size_t n)
{
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8192;
        while (cap < s->len + n)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (!b)
            return;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
}

/* One line of the frame, cut to the terminal's width; nothing past its
 * last row. */
static void line(screen_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(screen_t *s, const char *fmt, ...)
{
    if (s->line >= s->rows)
        return;
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    size_t len = (size_t)n < sizeof text ? (size_t)n : sizeof text - 1;
    if (s->cols > 0 && len > (size_t)s->cols)
        len = (size_t)s->cols;
    put(s, text, len);
    put(s, "\x1b[K", 3);
    if (++s->line < s->rows)
        put(s, "\r\n", 2);
}

static void size_of(screen_t *s)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0) {
        s->rows = ws.ws_row;
        s->cols = ws.ws_col;
    } else {
        s->rows = 24;
        s->cols = 80;
    }
}

static void bar(double pct, char *out, int width)
{
    int full = (int)(pct / 100.0 * width + 0.5);
    if (full < 0)
        full = 0;
    if (full > width)
        full = width;
    for (int i = 0; i < width; i++)
        out[i] = i < full ? '#' : '.';
    out[width] = 0;
}

/* Two letters a cause, as the header line spells them out. */
static const char *cause_abbrev(const char *cause)
{
    static const char *const map[][2] = {{"explicit", "ex"},
                                         {"steal", "st"},
                                         {"rebalance", "rb"},
                                         {"affinity", "af"},
                                         {"adopt", "ad"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i][0], cause) == 0)
            return map[i][1];
    return cause;
}

static void rates(const json_t *o, char *out, size_t len)
{
    const char *key;
    json_t *v;
    size_t at = 0;
    out[0] = 0;
    json_object_foreach((json_t *)o, key, v)
    {
        char n[16];
        client_count(json_number_value(v), n, sizeof n);
        int k = snprintf(out + at, len - at, "%s%s%s", at ? " " : "", cause_abbrev(key), n);
        if (k < 0 || (size_t)k >= len - at)
            break;
        at += (size_t)k;
    }
}

static void draw(screen_t *s, const json_t *st, const json_t *ps, const char *sort, double interval,
                 const char *note)
{
    s->len = 0;
    s->line = 0;
    put(s, "\x1b[H", 3);
    const json_t *run = json_object_get(st, "run");
    const json_t *pol = json_object_get(st, "policy");
    line(s,
         "shoal top - run '%s' (pid %lld) - up %.1f s - %lld VMs, %lld NUMA node%s - %lld "
         "processes - policy %s",
         client_str(run, "name"), (long long)client_int(run, "pid"),
         (double)client_int(run, "uptime_ms") / 1000.0, (long long)client_int(run, "vms"),
         (long long)client_int(run, "nodes"), client_int(run, "nodes") == 1 ? "" : "s",
         (long long)client_int(run, "processes"), pol ? client_str(pol, "name") : "?");
    line(s, "every %.1f s, rates over %lld ms - sort: %s - q quit, s sort, +/- interval%s%s",
         interval, (long long)client_int(run, "window_ms"), sort, note ? " - " : "",
         note ? note : "");
    line(s, "migrations a second by cause: ex explicit, st steal, rb rebalance, af affinity, "
            "ad adopt");
    line(s, "%s", "");
    const json_t *vms = json_object_get(st, "vms");
    size_t i;
    json_t *node;
    json_array_foreach(json_object_get(st, "nodes"), i, node)
    {
        char r[32];
        client_count(client_real(node, "reductions_per_s"), r, sizeof r);
        line(s, "NUMA node %lld: busy %.1f%%, %lld processes, %s reductions/s",
             (long long)client_int(node, "node"), client_real(node, "busy_pct"),
             (long long)client_int(node, "processes"), r);
        size_t j;
        json_t *vmi;
        json_array_foreach(json_object_get(node, "vms"), j, vmi)
        {
            const json_t *vm = json_array_get(vms, (size_t)json_integer_value(vmi));
            char b[21], red[32], in[96], out[96];
            bar(client_real(vm, "busy_pct"), b, 20);
            client_count(client_real(vm, "reductions_per_s"), red, sizeof red);
            rates(json_object_get(vm, "migrations_in_per_s"), in, sizeof in);
            rates(json_object_get(vm, "migrations_out_per_s"), out, sizeof out);
            line(s,
                 "  VM %-3lld [%s] %5.1f%%  runq %-4lld procs %-6lld red/s %-7s mig/s in %s  "
                 "out %s",
                 (long long)client_int(vm, "vm"), b, client_real(vm, "busy_pct"),
                 (long long)client_int(vm, "runq"), (long long)client_int(vm, "processes"), red, in,
                 out);
        }
    }
    line(s, "%s", "");
    line(s, "%-10s %3s %-9s %9s %7s %10s %5s  %s", "PID", "VM", "STATE", "REDS", "MBOX", "HEAP",
         "MIGR", "FUNCTION");
    json_t *p;
    json_array_foreach(json_object_get(ps, "processes"), i, p)
    {
        char pid[32], heap[32];
        snprintf(pid, sizeof pid, "<%lld>", (long long)client_int(p, "pid"));
        client_bytes((uint64_t)client_int(p, "heap_bytes"), heap, sizeof heap);
        const char *fn = client_str(p, "function");
        line(s, "%-10s %3lld %-9s %9lld %7lld %10s %5lld  %s", pid, (long long)client_int(p, "vm"),
             client_str(p, "state"), (long long)client_int(p, "reductions"),
             (long long)client_int(p, "mailbox"), heap, (long long)client_int(p, "migrations"),
             fn ? fn : "-");
    }
    put(s, "\x1b[J", 3);
    size_t off = 0;
    while (off < s->len) {
        ssize_t n = write(STDOUT_FILENO, s->buf + off, s->len - off);
        if (n > 0)
            off += (size_t)n;
        else if (n < 0 && errno != EINTR)
            break;
    }
}

static struct termios saved;
static bool raw_on;

static void restore(void)
{
    if (!raw_on)
        return;
    static const char leave[] = "\x1b[?25h\x1b[?1049l";
    if (write(STDOUT_FILENO, leave, sizeof leave - 1) < 0) {
        /* the terminal is gone; nothing to restore on it */
    }
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    raw_on = false;
}

static int enter(void)
{
    if (tcgetattr(STDIN_FILENO, &saved) < 0)
        return -1;
    struct termios t = saved;
    t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
    t.c_cc[VMIN] = 0;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) < 0)
        return -1;
    raw_on = true;
    static const char enter_seq[] = "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J";
    if (write(STDOUT_FILENO, enter_seq, sizeof enter_seq - 1) < 0) {
        restore();
        return -1;
    }
    return 0;
}

static const char *const sorts[] = {"reductions", "mailbox", "heap", "migrations", "pid"};

int top_main(const char *name, double interval, const char *sort)
{
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        fprintf(stderr, "shoal: top needs a terminal (use 'shoal stats' or 'shoal ps' in "
                        "scripts)\n");
        return SHOAL_EXIT_USAGE;
    }
    char err[1024];
    int fd = client_connect(name, err, sizeof err);
    if (fd < 0) {
        fprintf(stderr, "shoal: %s\n", err);
        return SHOAL_EXIT_FAIL;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sa.sa_handler = on_winch;
    sigaction(SIGWINCH, &sa, NULL);
    if (enter() < 0) {
        close(fd);
        fprintf(stderr, "shoal: cannot set up the terminal: %s\n", strerror(errno));
        return SHOAL_EXIT_FAIL;
    }
    screen_t s = {0};
    int status = 0;
    char why[1100] = "";
    const char *note = NULL;
    while (!top_stop) {
        size_of(&s);
        char req[128];
        int rows = s.rows > 8 ? s.rows : 8;
        bool unreachable = false;
        json_t *st =
            client_request(fd, CTL_MAGIC " stats\n", TOP_TIMEOUT_MS, err, sizeof err, &unreachable);
        json_t *ps = NULL;
        if (st) {
            snprintf(req, sizeof req, CTL_MAGIC " ps sort=%s limit=%d\n", sort, rows);
            ps = client_request(fd, req, TOP_TIMEOUT_MS, err, sizeof err, &unreachable);
        }
        if (!st || !ps) {
            json_decref(st);
            json_decref(ps);
            snprintf(why, sizeof why, "%s%s", unreachable ? "the run is gone: " : "", err);
            status = unreachable ? 0 : SHOAL_EXIT_MAIN_FAILED;
            break;
        }
        draw(&s, st, ps, sort, interval, note);
        note = NULL;
        json_decref(st);
        json_decref(ps);
        /* Wait for the next refresh, or a key. */
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int n = poll(&pfd, 1, (int)(interval * 1000.0));
        if (n <= 0)
            continue; /* time for the next frame, or a signal (resize, stop) */
        char keys[32];
        ssize_t k = read(STDIN_FILENO, keys, sizeof keys);
        if (k == 0) {
            break; /* the terminal went away */
        }
        for (ssize_t i = 0; i < k; i++) {
            char c = keys[i];
            if (c == 'q' || c == 'Q') {
                top_stop = 1;
            } else if (c == 's') {
                size_t cur = 0;
                for (size_t j = 0; j < sizeof sorts / sizeof sorts[0]; j++)
                    if (strcmp(sorts[j], sort) == 0)
                        cur = j;
                sort = sorts[(cur + 1) % (sizeof sorts / sizeof sorts[0])];
            } else if (c == 'r' || c == 'm' || c == 'h' || c == 'g' || c == 'p') {
                sort = c == 'r'   ? "reductions"
                       : c == 'm' ? "mailbox"
                       : c == 'h' ? "heap"
                       : c == 'g' ? "migrations"
                                  : "pid";
            } else if (c == '+') {
                interval = interval * 2 > 3600 ? 3600 : interval * 2;
            } else if (c == '-') {
                interval = interval / 2 < 0.1 ? 0.1 : interval / 2;
            } else {
                note = "unknown key";
            }
        }
    }
    restore();
    free(s.buf);
    close(fd);
    if (why[0])
        fprintf(stderr, "shoal: top: %s\n", why);
    return status;
}
