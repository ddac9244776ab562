/*
 * workload.c: reading the simulator's workload files (the format is in
 * sim.h).
 *
 * NOTES
 *   Private memory only; nothing prints. Errors name the file and line.
 */
#include "supervisor/sim.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Processes one workload may have: the simulator keeps a few hundred
 * bytes each. */
#define SIM_MAX_PROCS 1000000u
/* 100 simulated hours: far past any useful run. */
#define SIM_MAX_MS 360000000.0

typedef struct wparse {
    sim_workload_t *w;
    const char *name;
    uint32_t line;
    char *err;
    size_t errlen;
    uint32_t cap;
} wparse_t;

static int fail(wparse_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(wparse_t *p, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    shoal_errf(p->err, p->errlen, "%s:%u: %s", p->name, p->line, msg);
    errno = EINVAL;
    return -1;
}

/* Milliseconds with an optional fraction, into nanoseconds. */
static int parse_ms(wparse_t *p, const char *key, const char *v, uint64_t *ns)
{
    char *end;
    errno = 0;
    double ms = strtod(v, &end);
    if (end == v || *end || errno || !(ms >= 0) || ms > SIM_MAX_MS || (v[0] < '0' || v[0] > '9'))
        return fail(p, "%s: \"%s\" is not a time in milliseconds (expected 0..%.0f)", key, v,
                    SIM_MAX_MS);
    *ns = (uint64_t)(ms * 1e6 + 0.5);
    return 0;
}

static int parse_count(wparse_t *p, const char *key, const char *v, uint64_t min, uint64_t max,
                       uint64_t *out)
{
    uint64_t x = 0;
    const char *s = v;
    for (; *s >= '0' && *s <= '9'; s++) {
        x = x * 10 + (uint64_t)(*s - '0');
        if (x > max)
            break;
    }
    if (s == v || *s || x < min || x > max)
        return fail(p, "%s: \"%s\" is not a whole number in %llu..%llu", key, v,
                    (unsigned long long)min, (unsigned long long)max);
    *out = x;
    return 0;
}

static int find_group(const sim_workload_t *w, const char *name)
{
    for (uint32_t i = 0; i < w->n_groups; i++)
        if (strcmp(w->groups[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* Peers named before their group exists are resolved at the end. */
typedef struct pending {
    uint32_t group;
    char peer[32];
} pending_t;

static int parse_proc(wparse_t *p, char *rest, pending_t *pend)
{
    sim_workload_t *w = p->w;
    char *save = NULL;
    char *name = strtok_r(rest, " \t", &save);
    if (!name)
        return fail(p, "proc: expected a name (proc NAME count=N KIND)");
    if (strlen(name) >= sizeof w->groups[0].name)
        return fail(p, "proc: name \"%s\" is too long (at most 31 characters)", name);
    if (strchr(name, '='))
        return fail(p, "proc: expected a name before \"%s\"", name);
    if (find_group(w, name) >= 0)
        return fail(p, "proc: a group \"%s\" exists already", name);
    if (w->n_groups == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 8;
        sim_group_t *g = realloc(w->groups, cap * sizeof *g);
        if (!g)
            return fail(p, "out of memory");
        w->groups = g;
        p->cap = cap;
    }
    sim_group_t g = {.vm = -1, .kind = UINT32_MAX, .line = p->line};
    snprintf(g.name, sizeof g.name, "%s", name);
    bool have_count = false, have_rounds = false, have_think = false;
    pend->peer[0] = 0;
    for (char *tok; (tok = strtok_r(NULL, " \t", &save));) {
        char *eq = strchr(tok, '=');
        const char *v = eq ? eq + 1 : "";
        if (eq)
            *eq = 0;
        uint64_t x;
        if (strcmp(tok, "count") == 0) {
            if (parse_count(p, "count", v, 1, SIM_MAX_PROCS, &x) < 0)
                return -1;
            g.count = (uint32_t)x;
            have_count = true;
        } else if (strcmp(tok, "vm") == 0) {
            if (parse_count(p, "vm", v, 0, SHOAL_MAX_VMS - 1, &x) < 0)
                return -1;
            g.vm = (int32_t)x;
        } else if (strcmp(tok, "from") == 0) {
            if (parse_count(p, "from", v, 0, SHOAL_MAX_VMS - 1, &x) < 0)
                return -1;
            g.from = (uint32_t)x;
        } else if (strcmp(tok, "at") == 0) {
            if (parse_ms(p, "at", v, &g.at_ns) < 0)
                return -1;
        } else if (strcmp(tok, "jitter") == 0) {
            if (parse_count(p, "jitter", v, 0, 100, &x) < 0)
                return -1;
            g.jitter = (uint32_t)x;
        } else if (strcmp(tok, "rounds") == 0) {
            if (parse_count(p, "rounds", v, 1, UINT32_MAX, &x) < 0)
                return -1;
            g.rounds = x;
            have_rounds = true;
        } else if (strcmp(tok, "think") == 0) {
            if (parse_ms(p, "think", v, &g.cpu_ns) < 0)
                return -1;
            have_think = true;
        } else if (strcmp(tok, "cpu") == 0 || strcmp(tok, "serve") == 0 ||
                   strcmp(tok, "idle") == 0 || strcmp(tok, "talk") == 0) {
            if (g.kind != UINT32_MAX)
                return fail(p, "proc %s: more than one kind (cpu=, idle, serve=, talk=)", name);
            if (strcmp(tok, "idle") == 0) {
                if (eq)
                    return fail(p, "idle takes no value");
                g.kind = SIM_IDLE;
            } else if (strcmp(tok, "talk") == 0) {
                if (!*v || strlen(v) >= sizeof pend->peer)
                    return fail(p, "talk: expected the name of a serve group");
                snprintf(pend->peer, sizeof pend->peer, "%s", v);
                g.kind = SIM_TALK;
            } else {
                g.kind = strcmp(tok, "cpu") == 0 ? SIM_CPU : SIM_SERVE;
                if (parse_ms(p, tok, v, &g.cpu_ns) < 0)
                    return -1;
            }
        } else {
            return fail(p,
                        "proc %s: unknown key \"%s\" (known: count, vm, from, at, cpu, jitter, "
                        "idle, serve, talk, rounds, think)",
                        name, tok);
        }
    }
    if (!have_count)
        return fail(p, "proc %s: count=N is missing", name);
    if (g.kind == UINT32_MAX)
        return fail(p, "proc %s: a kind is missing (cpu=MS, idle, serve=MS or talk=GROUP)", name);
    if (g.kind == SIM_TALK && !have_rounds)
        return fail(p, "proc %s: talk needs rounds=R", name);
    if (g.kind != SIM_TALK && (have_rounds || have_think))
        return fail(p, "proc %s: rounds= and think= go with talk=", name);
    if (g.kind != SIM_CPU && g.jitter)
        return fail(p, "proc %s: jitter= goes with cpu=", name);
    if (w->n_procs + g.count > SIM_MAX_PROCS)
        return fail(p, "too many processes (at most %u)", SIM_MAX_PROCS);
    pend->group = w->n_groups;
    w->groups[w->n_groups++] = g;
    w->n_procs += g.count;
    return 0;
}

int sim_workload_parse(const char *text, const char *name, sim_workload_t *w, char *err,
                       size_t errlen)
{
    memset(w, 0, sizeof *w);
    snprintf(w->name, sizeof w->name, "%s", name);
    wparse_t p = {.w = w, .name = name, .err = err, .errlen = errlen};
    pending_t *pend = NULL;
    size_t n_pend = 0, cap_pend = 0;
    int rc = -1;
    for (const char *at = text; *at;) {
        const char *nl = strchr(at, '\n');
        size_t len = nl ? (size_t)(nl - at) : strlen(at);
        p.line++;
        char line[512];
        if (len >= sizeof line) {
            fail(&p, "line too long (at most %zu characters)", sizeof line - 1);
            goto out;
        }
        memcpy(line, at, len);
        line[len] = 0;
        at += len + (nl ? 1 : 0);
        char *c = strpbrk(line, "#;");
        if (c)
            *c = 0;
        char *s = line;
        while (*s == ' ' || *s == '\t' || *s == '\r')
            s++;
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
            s[--n] = 0;
        if (!*s)
            continue;
        if (strncmp(s, "proc", 4) != 0 || (s[4] != ' ' && s[4] != '\t')) {
            fail(&p, "expected \"proc NAME count=N KIND\", not \"%.40s\"", s);
            goto out;
        }
        if (n_pend == cap_pend) {
            cap_pend = cap_pend ? cap_pend * 2 : 8;
            pending_t *np = realloc(pend, cap_pend * sizeof *np);
            if (!np) {
                fail(&p, "out of memory");
                goto out;
            }
            pend = np;
        }
        if (parse_proc(&p, s + 4, &pend[n_pend]) < 0)
            goto out;
        n_pend++;
    }
    for (size_t i = 0; i < n_pend; i++) {
        sim_group_t *g = &w->groups[pend[i].group];
        if (g->kind != SIM_TALK)
            continue;
        int k = find_group(w, pend[i].peer);
        p.line = g->line;
        if (k < 0) {
            fail(&p, "talk: no group \"%s\"", pend[i].peer);
            goto out;
        }
        if (w->groups[k].kind != SIM_SERVE) {
            fail(&p, "talk: group \"%s\" does not serve (give it serve=MS)", pend[i].peer);
            goto out;
        }
        g->peer = (uint32_t)k;
    }
    if (w->n_groups == 0) {
        p.line = 0;
        shoal_errf(err, errlen, "%s: no processes (expected lines \"proc NAME count=N KIND\")",
                   name);
        errno = EINVAL;
        goto out;
    }
    rc = 0;
out:
    free(pend);
    if (rc < 0)
        sim_workload_free(w);
    return rc;
}

int sim_workload_load(const char *path, sim_workload_t *w, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    FILE *f = fopen(path, "r");
    if (!f) {
        shoal_errf(err, errlen, "cannot read workload \"%s\": %s", path, strerror(errno));
        return -1;
    }
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    char buf[4096];
    size_t k;
    bool ok = m != NULL;
    while (ok && (k = fread(buf, 1, sizeof buf, f)) > 0)
        ok = fwrite(buf, 1, k, m) == k;
    ok = ok && !ferror(f);
    int e = errno;
    fclose(f);
    if (m)
        fclose(m);
    if (!ok || !text) {
        shoal_errf(err, errlen, "cannot read workload \"%s\": %s", path, strerror(e ? e : EIO));
        free(text);
        return -1;
    }
    if (memchr(text, 0, len)) {
        shoal_errf(err, errlen, "%s: not a text file", path);
        free(text);
        errno = EINVAL;
        return -1;
    }
    int rc = sim_workload_parse(text, path, w, err, errlen);
    free(text);
    return rc;
}

void sim_workload_free(sim_workload_t *w)
{
    free(w->groups);
    w->groups = NULL;
    w->n_groups = 0;
    w->n_procs = 0;
}
