/*
 * ctl.c: the control socket's server (see ctl.h; the protocol is in
 * ctlproto.h and README.md).
 *
 * Each client has an input line of at most CTL_MAX_REQUEST bytes and one
 * reply of at most CTL_MAX_REPLY bytes in flight; it sends its next
 * request after it has read the reply (the server stops reading from it
 * meanwhile). A request that does not fit, or that does not arrive whole
 * within CTL_REQUEST_TIMEOUT_MS, gets an error reply and the connection is
 * closed; any other bad request gets an error reply and the connection
 * stays. Stats and policy requests are answered at once, from the VM
 * table; ps and inspect queue a job (ask.c) and are answered when it is
 * done, one job at a time.
 */
#include "supervisor/ctl.h"

#include "supervisor/ask.h"
#include "supervisor/ctlpolicy.h"
#include "supervisor/ctlproto.h"
#include "supervisor/fork.h"
#include "vmproc/proc.h"

#include <ck_pr.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

typedef struct client {
    int fd;
    struct client *next_job; /* the queue of clients waiting for a job */
    char in[CTL_MAX_REQUEST];
    size_t in_len;
    char *out; /* the reply being written */
    size_t out_len, out_off;
    uint64_t first_byte_ns; /* when the request in `in` began (0: none) */
    uint64_t active_ns;     /* the last request or reply progress */
    bool waiting;           /* its request waits for a job */
    bool closing;           /* close once the reply is out */
    ctl_req_t req;
} client_t;

struct ctlsrv {
    char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
    char lock_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 8];
    int lock_fd, listen_fd, ep;
    shm_header_t *h;
    stats_t *st;
    ctlpolicy_t *pol;
    bool program;
    ask_t *ask;
    client_t *clients[CTL_MAX_CLIENTS];
    client_t *job_head, *job_tail; /* clients waiting; the head's job runs */
    bool job_running;
    uint64_t now_ns;
};

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool ctl_name_ok(const char *name, char *err, size_t errlen)
{
    size_t n = strlen(name);
    if (n == 0 || n > CTL_MAX_NAME) {
        shoal_errf(err, errlen, "--name: a run name has 1 to %u characters", CTL_MAX_NAME);
        return false;
    }
    if (name[0] == '.') {
        shoal_errf(err, errlen, "--name: a run name does not start with '.'");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-')) {
            char esc[4 * CTL_MAX_NAME + 8];
            shoal_errf(err, errlen,
                       "--name: '%s': a run name has only letters, digits, '.', '_' and '-'",
                       shoal_escape(esc, sizeof esc, name));
            return false;
        }
    }
    return true;
}

int ctl_path(const char *name, char *dir, size_t dirlen, char *buf, size_t len, char *err,
             size_t errlen)
{
    char d[512];
    const char *xdg = getenv("XDG_RUNTIME_DIR");
    int n;
    if (xdg && xdg[0] == '/')
        n = snprintf(d, sizeof d, "%s/shoal", xdg);
    else
        n = snprintf(d, sizeof d, "/tmp/shoal-%u", (unsigned)getuid());
    if (n < 0 || (size_t)n >= sizeof d) {
        shoal_errf(err, errlen, "the runtime directory's path is too long");
        return -1;
    }
    size_t max = sizeof(((struct sockaddr_un *)0)->sun_path);
    n = snprintf(buf, len, "%s/%s.sock", d, name);
    if (n < 0 || (size_t)n >= len || (size_t)n >= max) {
        shoal_errf(err, errlen,
                   "the socket path %s/%s.sock is longer than %zu bytes; set "
                   "XDG_RUNTIME_DIR to a shorter directory",
                   d, name, max - 1);
        return -1;
    }
    if (dir)
        snprintf(dir, dirlen, "%s", d);
    return 0;
}

int ctl_dir_check(const char *dir, bool create, char *err, size_t errlen)
{
    if (create && mkdir(dir, 0700) < 0 && errno != EEXIST) {
        shoal_errf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (lstat(dir, &sb) < 0) {
        shoal_errf(err, errlen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        shoal_errf(err, errlen, "%s is not a directory", dir);
        return -1;
    }
    if (sb.st_uid != getuid()) {
        shoal_errf(err, errlen, "%s belongs to uid %u, not to us (uid %u); remove it", dir,
                   (unsigned)sb.st_uid, (unsigned)getuid());
        return -1;
    }
    if ((sb.st_mode & 0777) != 0700) {
        shoal_errf(err, errlen, "%s has mode %03o, not 0700; remove it or chmod 700 it", dir,
                   (unsigned)(sb.st_mode & 0777));
        return -1;
    }
    return 0;
}

/* Take NAME.lock: the run that holds it owns the name. A lock file that
 * was replaced between our open and our flock (a run ending and another
 * starting) is opened again. */
static int take_lock(ctlsrv_t *c, char *err, size_t errlen, bool *taken)
{
    for (int tries = 0; tries < 8; tries++) {
        int fd = open(c->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            shoal_errf(err, errlen, "cannot open %s: %s", c->lock_path, strerror(errno));
            return -1;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK) {
                *taken = true;
                return -1;
            }
            shoal_errf(err, errlen, "cannot lock %s: %s", c->lock_path, strerror(e));
            return -1;
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(c->lock_path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev) {
            c->lock_fd = fd;
            return 0;
        }
        close(fd);
    }
    shoal_errf(err, errlen, "cannot lock %s: it keeps being replaced", c->lock_path);
    return -1;
}

static int add_fd(ctlsrv_t *c, int fd, uint32_t events, void *ptr)
{
    struct epoll_event ev = {.events = events, .data.ptr = ptr};
    if (epoll_ctl(c->ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -1;
    return fork_private_fd(fd);
}

static void close_fd(int *fd)
{
    if (*fd >= 0) {
        fork_forget_fd(*fd);
        close(*fd);
        *fd = -1;
    }
}

ctlsrv_t *ctl_open(const char *name, char *err, size_t errlen, bool *taken)
{
    *taken = false;
    if (!ctl_name_ok(name, err, errlen))
        return NULL;
    ctlsrv_t *c = calloc(1, sizeof *c);
    if (!c) {
        shoal_errf(err, errlen, "out of memory");
        return NULL;
    }
    c->lock_fd = c->listen_fd = c->ep = -1;
    char dir[512];
    if (ctl_path(name, dir, sizeof dir, c->path, sizeof c->path, err, errlen) < 0 ||
        ctl_dir_check(dir, true, err, errlen) < 0)
        goto fail;
    if ((size_t)snprintf(c->lock_path, sizeof c->lock_path, "%.300s/%s.lock", dir, name) >=
        sizeof c->lock_path) {
        shoal_errf(err, errlen, "the lock path is too long");
        goto fail;
    }
    if (take_lock(c, err, errlen, taken) < 0) {
        if (*taken)
            shoal_errf(err, errlen,
                       "a run named '%s' is already running (its socket is %s); "
                       "give this one another --name",
                       name, c->path);
        goto fail;
    }
    /* We hold the name: a socket there is a dead run's, stale. */
    unlink(c->path);
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
    /* Only we may connect: the directory is 0700, and the socket too. */
    mode_t old = umask(0077);
    int rc = c->listen_fd < 0 ? -1 : bind(c->listen_fd, (struct sockaddr *)&sa, sizeof sa);
    umask(old);
    if (rc < 0 || chmod(c->path, 0600) < 0 || listen(c->listen_fd, 64) < 0) {
        shoal_errf(err, errlen, "cannot listen on %s: %s", c->path, strerror(errno));
        goto fail;
    }
    c->ep = epoll_create1(EPOLL_CLOEXEC);
    if (c->ep < 0 || fork_private_fd(c->ep) < 0 || fork_private_fd(c->lock_fd) < 0 ||
        add_fd(c, c->listen_fd, EPOLLIN, NULL) < 0) {
        shoal_errf(err, errlen, "cannot set up the control socket: %s", strerror(errno));
        goto fail;
    }
    return c;
fail:
    ctl_close(c);
    return NULL;
}

void ctl_attach(ctlsrv_t *c, shm_header_t *h, stats_t *st, ctlpolicy_t *pol, bool program)
{
    c->h = h;
    c->st = st;
    c->pol = pol;
    c->program = program;
    c->ask = ask_new(h);
}

int ctl_fd(const ctlsrv_t *c)
{
    return c->ep;
}

/* Which events a client wants: input unless it waits for a reply or is
 * closing; output while a reply is unsent. */
static void rearm(ctlsrv_t *c, client_t *cl)
{
    uint32_t ev = 0;
    if (!cl->waiting && !cl->closing && cl->out_len == 0)
        ev |= EPOLLIN;
    if (cl->out_len > cl->out_off)
        ev |= EPOLLOUT;
    struct epoll_event e = {.events = ev, .data.ptr = cl};
    epoll_ctl(c->ep, EPOLL_CTL_MOD, cl->fd, &e);
}

static void drop_client(ctlsrv_t *c, client_t *cl)
{
    for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++)
        if (c->clients[i] == cl)
            c->clients[i] = NULL;
    /* Out of the job queue; a running job's answers are then dropped. */
    client_t **pp = &c->job_head;
    client_t *prev = NULL;
    while (*pp) {
        if (*pp == cl) {
            *pp = cl->next_job;
            if (c->job_tail == cl)
                c->job_tail = prev;
            if (prev == NULL)
                c->job_running = false; /* it was the head: its job is dropped,
                                         * and service() starts the next */
            break;
        }
        prev = *pp;
        pp = &(*pp)->next_job;
    }
    epoll_ctl(c->ep, EPOLL_CTL_DEL, cl->fd, NULL);
    close_fd(&cl->fd);
    free(cl->out);
    free(cl);
}

static void flush_out(ctlsrv_t *c, client_t *cl)
{
    while (cl->out_off < cl->out_len) {
        ssize_t n = write(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off);
        if (n > 0) {
            cl->out_off += (size_t)n;
            cl->active_ns = c->now_ns;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            rearm(c, cl);
            return;
        }
        drop_client(c, cl); /* the peer went away */
        return;
    }
    free(cl->out);
    cl->out = NULL;
    cl->out_len = cl->out_off = 0;
    if (cl->closing) {
        drop_client(c, cl);
        return;
    }
    rearm(c, cl);
}

/* Send a reply object (stolen): "v" and "ok" first. */
static void reply(ctlsrv_t *c, client_t *cl, json_t *body)
{
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(CTL_VERSION));
    json_object_set_new(o, "ok", json_true());
    if (body)
        json_object_update(o, body);
    json_decref(body);
    char *text = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_REAL_PRECISION(12));
    json_decref(o);
    size_t len = text ? strlen(text) : 0;
    if (!text || len + 1 > CTL_MAX_REPLY) {
        free(text);
        text = strdup(len + 1 > CTL_MAX_REPLY
                          ? "{\"v\":1,\"ok\":false,\"error\":\"the reply is too large; ask for "
                            "fewer rows (limit=N)\"}"
                          : "{\"v\":1,\"ok\":false,\"error\":\"out of memory\"}");
        if (!text) {
            drop_client(c, cl);
            return;
        }
        len = strlen(text);
    }
    text[len] = '\n'; /* json_dumps leaves room for its NUL */
    cl->out = text;
    cl->out_len = len + 1;
    cl->out_off = 0;
    flush_out(c, cl);
}

static void reply_error(ctlsrv_t *c, client_t *cl, const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "ok", json_false());
    json_object_set_new(o, "error", stats_string(msg));
    reply(c, cl, o);
}

static json_t *policy_json(ctlsrv_t *c)
{
    return ctlpolicy_show(c->pol);
}

static void answer_stats(ctlsrv_t *c, client_t *cl)
{
    json_t *o = stats_json(c->st, now_ns(), policy_json(c));
    if (!o) {
        reply_error(c, cl, "out of memory");
        return;
    }
    reply(c, cl, o);
}

static void answer_policy(ctlsrv_t *c, client_t *cl)
{
    char err[512] = "";
    ctl_req_t *r = &cl->req;
    int rc = 0;
    if (r->verb == CTL_POLICY_USE)
        rc = ctlpolicy_use(c->pol, r->name, err, sizeof err);
    else if (r->verb == CTL_POLICY_SET)
        rc = ctlpolicy_set(c->pol, r->n_sets, r->keys, r->values, err, sizeof err);
    if (rc < 0) {
        reply_error(c, cl, err);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "policy", policy_json(c));
    reply(c, cl, o);
}

/* ps: sort and cut the records. */
static int cmp_rec(const info_rec_t *a, const info_rec_t *b, enum ctl_sort s)
{
    uint64_t x = 0, y = 0;
    switch (s) {
    case CTL_SORT_REDUCTIONS:
        x = a->reds_last, y = b->reds_last;
        break;
    case CTL_SORT_MAILBOX:
        x = a->mbox, y = b->mbox;
        break;
    case CTL_SORT_HEAP:
        x = a->heap_bytes, y = b->heap_bytes;
        break;
    case CTL_SORT_MIGRATIONS:
        x = a->migrations, y = b->migrations;
        break;
    case CTL_SORT_PID:
        return a->pid < b->pid ? -1 : a->pid > b->pid;
    }
    /* largest first; then by pid */
    if (x != y)
        return x > y ? -1 : 1;
    return a->pid < b->pid ? -1 : a->pid > b->pid;
}

static enum ctl_sort sort_key;
static int cmp_qsort(const void *a, const void *b)
{
    return cmp_rec(a, b, sort_key);
}

static void answer_ps(ctlsrv_t *c, client_t *cl)
{
    size_t n;
    info_rec_t *recs = ask_records(c->ask, &n);
    const ctl_req_t *r = &cl->req;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (r->vm >= 0 && recs[i].owner != (uint32_t)r->vm)
            continue;
        if (r->state >= 0 && recs[i].status != (uint32_t)r->state)
            continue;
        recs[k++] = recs[i];
    }
    sort_key = r->sort;
    qsort(recs, k, sizeof *recs, cmp_qsort);
    size_t limit = r->limit ? r->limit : CTL_MAX_ROWS;
    size_t shown = k < limit ? k : limit;
    json_t *rows = json_array();
    for (size_t i = 0; i < shown; i++) {
        json_t *row = stats_proc_json(c->h, &recs[i]);
        if (recs[i].answer != INFO_HERE)
            json_object_set_new(row, "partial", json_true());
        json_array_append_new(rows, row);
    }
    json_t *o = json_object();
    json_object_set_new(o, "window_ms", json_integer(STATS_WINDOW_MS));
    json_object_set_new(o, "sort", json_string(ctl_sort_name(r->sort)));
    json_object_set_new(o, "total", json_integer((json_int_t)k));
    json_object_set_new(o, "shown", json_integer((json_int_t)shown));
    json_object_set_new(o, "errors", ask_errors(c->ask));
    json_object_set_new(o, "processes", rows);
    reply(c, cl, o);
}

static void answer_inspect(ctlsrv_t *c, client_t *cl)
{
    uint32_t bytes;
    const unsigned char *ans = ask_inspect_answer(c->ask, &bytes);
    char msg[160];
    if (!ans) {
        json_t *errs = ask_errors(c->ask);
        if (ask_not_found(c->ask) || json_array_size(errs) == 0)
            snprintf(msg, sizeof msg, "no process <%llu>", (unsigned long long)cl->req.pid);
        else
            snprintf(msg, sizeof msg, "%s", json_string_value(json_array_get(errs, 0)));
        json_decref(errs);
        reply_error(c, cl, msg);
        return;
    }
    json_t *p = stats_inspect_json(c->h, ans, bytes);
    if (!p) {
        reply_error(c, cl, "the owner VM's answer does not hold together");
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "process", p);
    reply(c, cl, o);
}

/* Start the job at the head of the queue, if none runs. */
static void next_job(ctlsrv_t *c)
{
    while (c->job_head && !c->job_running) {
        client_t *cl = c->job_head;
        const ctl_req_t *r = &cl->req;
        int rc = r->verb == CTL_PS ? ask_list(c->ask, r->vm, c->now_ns)
                                   : ask_inspect(c->ask, r->pid, r->messages, c->now_ns);
        if (rc < 0) {
            c->job_head = cl->next_job;
            if (!c->job_head)
                c->job_tail = NULL;
            cl->waiting = false;
            reply_error(c, cl, "out of memory");
            continue;
        }
        c->job_running = true;
    }
}

/* Finish the running job if the VMs have answered. */
static void poll_job(ctlsrv_t *c)
{
    while (c->job_running && ask_poll(c->ask, c->now_ns)) {
        client_t *cl = c->job_head;
        c->job_running = false;
        c->job_head = cl->next_job;
        if (!c->job_head)
            c->job_tail = NULL;
        cl->waiting = false;
        if (cl->req.verb == CTL_PS)
            answer_ps(c, cl);
        else
            answer_inspect(c, cl);
        next_job(c);
    }
}

static void handle_request(ctlsrv_t *c, client_t *cl, const char *line, size_t len)
{
    char err[512];
    if (ctl_parse(line, len, &cl->req, err, sizeof err) < 0) {
        reply_error(c, cl, err);
        return;
    }
    switch (cl->req.verb) {
    case CTL_STATS:
        answer_stats(c, cl);
        return;
    case CTL_POLICY_SHOW:
    case CTL_POLICY_USE:
    case CTL_POLICY_SET:
        answer_policy(c, cl);
        return;
    case CTL_PS:
    case CTL_INSPECT:
        if (!c->program) {
            reply_error(c, cl, "this run runs no program (--smoke): it has no processes");
            return;
        }
        if (!c->ask) {
            reply_error(c, cl, "out of memory");
            return;
        }
        cl->waiting = true;
        cl->next_job = NULL;
        if (c->job_tail)
            c->job_tail->next_job = cl;
        else
            c->job_head = cl;
        c->job_tail = cl;
        rearm(c, cl);
        next_job(c);
        return;
    }
}

/* Requests in the input buffer: one at a time (the next waits until the
 * reply to this one is out). */
static void process_input(ctlsrv_t *c, client_t *cl)
{
    while (cl->fd >= 0 && !cl->waiting && !cl->closing && cl->out_len == 0 && cl->in_len > 0) {
        char *nl = memchr(cl->in, '\n', cl->in_len);
        if (!nl) {
            if (cl->in_len >= CTL_MAX_REQUEST) {
                cl->closing = true;
                reply_error(c, cl, "request longer than 4095 bytes");
            }
            return;
        }
        size_t len = (size_t)(nl - cl->in);
        client_t *keep = cl;
        handle_request(c, cl, cl->in, len);
        /* handle_request may have closed it: only touch it if it is
         * still one of ours */
        bool alive = false;
        for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++)
            alive |= c->clients[i] == keep;
        if (!alive)
            return;
        memmove(cl->in, nl + 1, cl->in_len - len - 1);
        cl->in_len -= len + 1;
        cl->first_byte_ns = cl->in_len ? c->now_ns : 0;
    }
}

static void read_client(ctlsrv_t *c, client_t *cl)
{
    while (cl->in_len < sizeof cl->in) {
        ssize_t n = read(cl->fd, cl->in + cl->in_len, sizeof cl->in - cl->in_len);
        if (n > 0) {
            if (cl->in_len == 0)
                cl->first_byte_ns = c->now_ns;
            cl->in_len += (size_t)n;
            cl->active_ns = c->now_ns;
            /* a whole line: stop reading, answer it first */
            if (memchr(cl->in + cl->in_len - n, '\n', (size_t)n))
                break;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        drop_client(c, cl); /* end of file or an error */
        return;
    }
    process_input(c, cl);
}

static void accept_clients(ctlsrv_t *c)
{
    for (;;) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN, or a client that went away meanwhile */
        struct ucred cred;
        socklen_t len = sizeof cred;
        const char *refuse = NULL;
        char why[160];
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
            refuse = "cannot tell who you are (SO_PEERCRED)";
        } else if (cred.uid != getuid()) {
            snprintf(why, sizeof why, "refused: uid %u is not the run's uid %u", (unsigned)cred.uid,
                     (unsigned)getuid());
            refuse = why;
        }
        uint32_t slot = CTL_MAX_CLIENTS;
        for (uint32_t i = 0; i < CTL_MAX_CLIENTS && !refuse; i++)
            if (!c->clients[i]) {
                slot = i;
                break;
            }
        if (!refuse && slot == CTL_MAX_CLIENTS)
            refuse = "too many clients; try again later";
        client_t *cl = refuse ? NULL : calloc(1, sizeof *cl);
        if (!refuse && !cl)
            refuse = "out of memory";
        if (refuse) {
            /* Best effort, never blocking: the socket buffer takes it. */
            char line[256];
            int n =
                snprintf(line, sizeof line, "{\"v\":1,\"ok\":false,\"error\":\"%s\"}\n", refuse);
            if (write(fd, line, (size_t)n) < 0) {
                /* it went away; nothing to tell */
            }
            close(fd);
            continue;
        }
        cl->fd = fd;
        cl->active_ns = c->now_ns;
        if (add_fd(c, fd, EPOLLIN, cl) < 0) {
            close(fd);
            free(cl);
            continue;
        }
        c->clients[slot] = cl;
    }
}

/* After events: finish what the VMs have answered, and take up requests
 * that clients sent while they waited for a reply (they are already in
 * their buffers, so no event will say so). A few rounds: each may answer
 * a job and free a client to go on. */
static void service(ctlsrv_t *c)
{
    for (int round = 0; round < 8; round++) {
        next_job(c); /* one whose client went away leaves the next to start */
        if (c->ask)
            poll_job(c);
        bool progress = false;
        for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++) {
            client_t *cl = c->clients[i];
            if (cl && !cl->waiting && !cl->closing && cl->out_len == 0 &&
                memchr(cl->in, '\n', cl->in_len)) {
                process_input(c, cl);
                progress = true;
            }
        }
        if (!progress)
            break;
    }
}

void ctl_ready(ctlsrv_t *c)
{
    struct epoll_event evs[16];
    c->now_ns = now_ns();
    int n = epoll_wait(c->ep, evs, 16, 0);
    for (int k = 0; k < n; k++) {
        client_t *cl = evs[k].data.ptr;
        if (!cl) {
            accept_clients(c);
            continue;
        }
        /* an earlier event of this round may have closed it */
        bool alive = false;
        for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++)
            alive |= c->clients[i] == cl;
        if (!alive)
            continue;
        if (evs[k].events & (EPOLLERR | EPOLLHUP) && !(evs[k].events & EPOLLIN)) {
            drop_client(c, cl);
            continue;
        }
        if (evs[k].events & EPOLLOUT) {
            flush_out(c, cl);
            continue;
        }
        if (evs[k].events & EPOLLIN)
            read_client(c, cl);
    }
    service(c);
}

void ctl_answers(ctlsrv_t *c)
{
    if (!c || !c->ask)
        return;
    c->now_ns = now_ns();
    service(c);
}

void ctl_tick(ctlsrv_t *c, uint64_t now)
{
    if (!c)
        return;
    c->now_ns = now;
    service(c);
    for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++) {
        client_t *cl = c->clients[i];
        if (!cl || cl->waiting)
            continue;
        if (cl->first_byte_ns && cl->out_len == 0 &&
            now - cl->first_byte_ns > CTL_REQUEST_TIMEOUT_MS * 1000000ull) {
            cl->closing = true;
            cl->in_len = 0;
            reply_error(c, cl, "the request did not arrive whole in time");
            continue;
        }
        if (now - cl->active_ns > CTL_IDLE_TIMEOUT_MS * 1000000ull)
            drop_client(c, cl);
    }
}

void ctl_close(ctlsrv_t *c)
{
    if (!c)
        return;
    for (uint32_t i = 0; i < CTL_MAX_CLIENTS; i++)
        if (c->clients[i])
            drop_client(c, c->clients[i]);
    if (c->listen_fd >= 0) {
        close_fd(&c->listen_fd);
        unlink(c->path);
    }
    close_fd(&c->ep);
    if (c->lock_fd >= 0) {
        /* Unlinked while we hold it: a run that opened the old file
         * finds on its fstat/stat check that it was replaced. */
        unlink(c->lock_path);
        close_fd(&c->lock_fd);
    }
    ask_free(c->ask);
    free(c);
}
