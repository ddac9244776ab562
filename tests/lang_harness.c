/*
 * lang_harness.c: helpers the language suites share (see lang_harness.h).
 *
 * Nothing here is a suite: the Makefile links every tests/ file into the
 * runner, and only files that end in UNIT_SUITE register one.
 */
#include "tests/lang_harness.h"

#include "shm/atom.h"
#include "shm/proctab.h"
#include "tests/unit.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/program.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A run that takes longer than this is a hang: it is killed and fails. */
#define RUN_LIMIT_MS 120000

void lh_check(bool ok, unsigned line, const char *file, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    CU_assertImplementation(ok ? CU_TRUE : CU_FALSE, line, msg, file, "", CU_FALSE);
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

char *lh_temp_source(const char *src)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    char *path = malloc(strlen(dir) + 40);
    if (!path)
        return NULL;
    sprintf(path, "%s/shoal-lt-XXXXXX.shoal", dir);
    int fd = mkstemps(path, 6);
    if (fd < 0) {
        free(path);
        return NULL;
    }
    int rc = write_all(fd, src, strlen(src));
    close(fd);
    if (rc < 0) {
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

shm_header_t *lh_segment(uint64_t pool_bytes, uint32_t slots)
{
    shm_config_t c;
    shm_config_default(&c, 1, 1);
    c.proc_slots = slots;
    c.atom_cap = 4096;
    c.atom_bytes = 256u << 10;
    c.code_bytes = 4u << 20;
    c.pool_bytes = pool_bytes;
    return shm_create(&c);
}

int lh_prepare_atoms(shm_header_t *h)
{
    static const char *const names[] = {
#define X(id, name) name,
        WELL_KNOWN_ATOMS(X)
#undef X
    };
    code_init(h);
    for (size_t i = 0; i < A__COUNT; i++)
        if (atom_intern(h, names[i], strlen(names[i])) != (int64_t)i)
            return -1;
    return 0;
}

int lh_compile(shm_header_t *h, const char *file, const char *src, diag_t *d)
{
    memset(d, 0, sizeof *d);
    if (lh_prepare_atoms(h) < 0) {
        snprintf(d->msg, sizeof d->msg, "harness: well-known atoms out of order");
        return -1;
    }
    reader_arena_t *arena = NULL;
    ast_t **forms;
    size_t n;
    if (reader_read(file, src, strlen(src), &arena, &forms, &n, d) < 0)
        return -1;
    compiler_t *c = compiler_new(h);
    int rc = -1;
    if (c && compiler_declare(c, forms, n, d) == 0 && compiler_finish(c, d) == 0)
        rc = 0;
    compiler_free(c);
    reader_free(arena);
    return rc;
}

/* Run fn(ctx) with fd 2 going to a temp file; its text goes to buf. */
static int with_stderr(int (*fn)(void *), void *ctx, char *buf, size_t n)
{
    char path[] = "/tmp/shoal-lt-err-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return fn(ctx);
    unlink(path);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = fn(ctx);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    ssize_t k = pread(fd, buf, n ? n - 1 : 0, 0);
    if (n)
        buf[k > 0 ? k : 0] = 0;
    close(fd);
    return rc;
}

typedef struct load_ctx {
    shm_header_t *h;
    int n;
    char **files;
} load_ctx_t;

static int do_load(void *p)
{
    load_ctx_t *l = p;
    return program_load(l->h, l->n, l->files, 0, NULL);
}

int lh_load(shm_header_t *h, const char *const *srcs, int n, char *err, size_t errn,
            char (*paths)[128])
{
    char *files[16];
    if (n > 16)
        return -1;
    int made = 0, rc = -1;
    for (; made < n; made++) {
        files[made] = lh_temp_source(srcs[made]);
        if (!files[made])
            goto out;
        if (paths)
            snprintf(paths[made], sizeof paths[made], "%s", files[made]);
    }
    load_ctx_t l = {h, n, files};
    rc = with_stderr(do_load, &l, err, errn);
out:
    for (int i = 0; i < made; i++) {
        unlink(files[i]);
        free(files[i]);
    }
    return rc;
}

int lh_world_open(lh_world_t *w, const char *src, uint64_t pool_bytes)
{
    memset(w, 0, sizeof *w);
    w->h = lh_segment(pool_bytes, 1024);
    if (!w->h)
        return -1;
    if (lh_load(w->h, &src, 1, w->err, sizeof w->err, NULL) < 0) {
        shm_destroy(w->h);
        w->h = NULL;
        return -1;
    }
    w->rt.h = w->h;
    w->rt.vm = 0;
    w->rt.node = 0;
    w->rt.rng = 0x9E3779B97F4A7C15ull;
    w->rt.default_heap_limit_words = w->h->cfg.heap_limit_bytes / sizeof(term);
    w->rt.gc_torture = false;
    w->rt.sched = NULL;
    return 0;
}

void lh_world_close(lh_world_t *w)
{
    if (w->h)
        shm_destroy(w->h);
    w->h = NULL;
}

pcb_t *lh_proc_new(lh_world_t *w)
{
    pcb_t *pcb = proctab_claim(w->h, 0);
    if (!pcb)
        return NULL;
    if (heap_init(&w->rt, pcb, 0) < 0) {
        proctab_release(w->h, pcb);
        return NULL;
    }
    return pcb;
}

void lh_proc_free(lh_world_t *w, pcb_t *pcb)
{
    heap_release(&w->rt, pcb);
    proctab_release(w->h, pcb);
}

const func_t *lh_func(const shm_header_t *h, const char *name, uint32_t arity)
{
    int64_t a = atom_find(h, name, strlen(name));
    if (a < 0)
        return NULL;
    return code_find(h, (uint32_t)a, arity);
}

/* ------------------------------------------------------------------ */
/* the binary                                                          */

typedef struct grow {
    char *s;
    size_t len, cap;
} grow_t;

static void grow_put(grow_t *g, const char *s, size_t n)
{
    if (g->len + n + 1 > g->cap) {
        size_t cap = g->cap ? g->cap : 4096;
        while (cap < g->len + n + 1)
            cap *= 2;
        char *p = realloc(g->s, cap);
        if (!p)
            abort();
        g->s = p;
        g->cap = cap;
    }
    memcpy(g->s + g->len, s, n);
    g->len += n;
    g->s[g->len] = 0;
}

int lh_run(const char *src, const char *const *flags, const char *const *env,
           const char *const *args, lh_result_t *r)
{
    r->status = -1;
    r->out = r->err = NULL;
    char *path = lh_temp_source(src);
    if (!path)
        return -1;
    const char *argv[64];
    int k = 0;
    argv[k++] = unit_shoal_path();
    argv[k++] = "run";
    for (int i = 0; flags && flags[i] && k < 50; i++)
        argv[k++] = flags[i];
    argv[k++] = path;
    if (args) {
        argv[k++] = "--";
        for (int i = 0; args[i] && k < 62; i++)
            argv[k++] = args[i];
    }
    argv[k] = NULL;

    int po[2], pe[2];
    if (pipe2(po, O_CLOEXEC) < 0) {
        unlink(path);
        free(path);
        return -1;
    }
    if (pipe2(pe, O_CLOEXEC) < 0) {
        close(po[0]);
        close(po[1]);
        unlink(path);
        free(path);
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, 0);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        unsetenv("SHOAL_GC_TORTURE");
        unsetenv("SHOAL_MIGRATE_TORTURE");
        for (int i = 0; env && env[i]; i++)
            putenv((char *)env[i]);
        unit_child_name();
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    grow_t out = {0}, err = {0};
    grow_put(&out, "", 0);
    grow_put(&err, "", 0);
    bool hung = false;
    if (pid > 0) {
        struct pollfd fds[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
        int open_fds = 2;
        while (open_fds > 0) {
            int n = poll(fds, 2, RUN_LIMIT_MS);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                hung = true;
                kill(pid, SIGKILL);
                break;
            }
            for (int i = 0; i < 2; i++) {
                if (fds[i].fd < 0 || !fds[i].revents)
                    continue;
                char buf[8192];
                ssize_t got = read(fds[i].fd, buf, sizeof buf);
                if (got > 0) {
                    grow_put(i == 0 ? &out : &err, buf, (size_t)got);
                } else if (got == 0 || errno != EINTR) {
                    fds[i].fd = -1;
                    open_fds--;
                }
            }
        }
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        if (!hung)
            r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    }
    close(po[0]);
    close(pe[0]);
    unlink(path);
    free(path);
    r->out = out.s;
    r->err = err.s;
    return r->status;
}

void lh_result_free(lh_result_t *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

bool lh_line(const char *text, int i, char *buf, size_t n)
{
    const char *s = text;
    for (int k = 0; k < i; k++) {
        s = strchr(s, '\n');
        if (!s)
            return false;
        s++;
    }
    if (!*s)
        return false;
    const char *e = strchr(s, '\n');
    size_t len = e ? (size_t)(e - s) : strlen(s);
    if (len >= n)
        len = n - 1;
    memcpy(buf, s, len);
    buf[len] = 0;
    return true;
}

int lh_count_lines(const char *text)
{
    int n = 0;
    for (const char *s = text; *s; s++)
        n += *s == '\n';
    if (*text && text[strlen(text) - 1] != '\n')
        n++;
    return n;
}

void lh_check_prints(const char *defs, const lh_case_t *cases, size_t n,
                     const char *const *flags, const char *file, unsigned line)
{
    grow_t src = {0};
    if (defs)
        grow_put(&src, defs, strlen(defs));
    grow_put(&src, "\n(defn main ()\n", 15);
    for (size_t i = 0; i < n; i++) {
        grow_put(&src, "  (print ", 9);
        grow_put(&src, cases[i].expr, strlen(cases[i].expr));
        grow_put(&src, ")\n", 2);
    }
    grow_put(&src, "  'ok)\n", 7);
    static const char *const one_vm[] = {"--vms", "1", NULL};
    lh_result_t r;
    lh_run(src.s, flags ? flags : one_vm, NULL, NULL, &r);
    lh_check(r.status == 0, line, file, "exit status %d, want 0; stderr: %.400s", r.status,
             r.err ? r.err : "");
    lh_check(r.err && !*r.err, line, file, "stderr not empty: %.400s", r.err ? r.err : "");
    char got[512];
    for (size_t i = 0; i < n; i++) {
        bool have = r.out && lh_line(r.out, (int)i, got, sizeof got);
        lh_check(have && strcmp(got, cases[i].want) == 0, line, file,
                 "(print %s) wrote \"%s\", want \"%s\"", cases[i].expr, have ? got : "<no line>",
                 cases[i].want);
    }
    lh_check(r.out && lh_count_lines(r.out) == (int)n, line, file,
             "%d lines printed, want %zu", r.out ? lh_count_lines(r.out) : -1, n);
    lh_result_free(&r);
    free(src.s);
}
