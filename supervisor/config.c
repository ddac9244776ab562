/*
 * config.c: checking option values and reading the INI config file (inih).
 *
 * inih reports only the line of the first error, and the handler is not
 * told which line it is on, so we feed inih through our own reader that
 * counts lines; the handler then knows its line, and the first error
 * (ours or inih's syntax error) is reported as FILE:LINE: message.
 *
 * NOTES
 *   Supervisor only. Nothing prints; errors go to the caller's buffer.
 */
#include "supervisor/config.h"

#include "policy/policy.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int config_parse_uint(const char *s, uint32_t min, uint32_t max, const char *what, uint32_t *out,
                      char *err, size_t errlen)
{
    const char *p = s;
    unsigned long long v = 0;
    bool digits = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        digits = true;
        if (v <= max) /* past max we only need to know it is too big */
            v = v * 10 + (unsigned long long)(*p - '0');
    }
    if (!digits || *p) {
        shoal_errf(err, errlen, "%s: \"%s\" is not a number (expected %u..%u)", what, s, min, max);
        errno = EINVAL;
        return -1;
    }
    if (v < min || v > max) {
        shoal_errf(err, errlen, "%s: %s is out of range (expected %u..%u)", what, s, min, max);
        errno = ERANGE;
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int config_parse_int64(const char *s, int64_t min, int64_t max, const char *what, int64_t *out,
                       char *err, size_t errlen)
{
    const char *p = s;
    uint64_t v = 0;
    bool digits = false, big = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        digits = true;
        if (v > (uint64_t)INT64_MAX / 10)
            big = true;
        else
            v = v * 10 + (uint64_t)(*p - '0');
    }
    if (!digits || *p) {
        shoal_errf(err, errlen, "%s: \"%s\" is not a number (expected %lld..%lld)", what, s,
                   (long long)min, (long long)max);
        errno = EINVAL;
        return -1;
    }
    if (big || v > (uint64_t)INT64_MAX || (int64_t)v < min || (int64_t)v > max) {
        shoal_errf(err, errlen, "%s: %s is out of range (expected %lld..%lld)", what, s,
                   (long long)min, (long long)max);
        errno = ERANGE;
        return -1;
    }
    *out = (int64_t)v;
    return 0;
}

/* The sections a file may have, for messages. */
#define SECTIONS "[run], [policy], [policy.NAME] for a policy's parameters, or [memory]"

/* Set one key of one section. `cli`: from --set (marks it as given, so
 * the file does not override it); else from the file (skipped if the
 * command line gave it). 0, or -1 with the message in why. */
static int apply_key(shoal_opts_t *o, const char *section, const char *name, const char *value,
                     bool cli, char *why, size_t n)
{
    uint32_t v;
    char what[160];
    snprintf(what, sizeof what, "[%s] %s", section, name);
#define GIVEN(bit) (!cli && (o->set & (bit)))
#define MARK(bit) (o->set |= cli ? (bit) : 0)
    if (strcmp(section, "run") == 0) {
        if (strcmp(name, "vms") == 0) {
            if (config_parse_uint(value, 1, SHOAL_MAX_VMS, what, &v, why, n) < 0)
                return -1;
            if (!GIVEN(OPT_SET_VMS))
                o->vms = v;
            MARK(OPT_SET_VMS);
        } else if (strcmp(name, "pool_mb") == 0) {
            if (config_parse_uint(value, 1, CONFIG_POOL_MB_MAX, what, &v, why, n) < 0)
                return -1;
            if (!GIVEN(OPT_SET_POOL_MB))
                o->pool_mb = v;
            MARK(OPT_SET_POOL_MB);
        } else if (strcmp(name, "proc_slots") == 0) {
            if (config_parse_uint(value, 1, CONFIG_PROC_SLOTS_MAX, what, &v, why, n) < 0)
                return -1;
            if (!GIVEN(OPT_SET_PROC_SLOTS))
                o->proc_slots = v;
            MARK(OPT_SET_PROC_SLOTS);
        } else if (strcmp(name, "topology") == 0) {
            if (!*value) {
                shoal_errf(why, n, "%s: empty value (leave the key out for this machine)", what);
                return -1;
            }
            if (!GIVEN(OPT_SET_TOPOLOGY)) {
                char *copy = strdup(value);
                if (!copy) {
                    shoal_errf(why, n, "out of memory");
                    return -1;
                }
                free(o->topology);
                o->topology = copy;
            }
            MARK(OPT_SET_TOPOLOGY);
        } else {
            shoal_errf(why, n,
                       "unknown key \"%s\" in [run] (known: vms, topology, pool_mb, proc_slots)",
                       name);
            return -1;
        }
    } else if (strcmp(section, "memory") == 0) {
        if (strcmp(name, "heap_limit_mb") == 0) {
            if (config_parse_uint(value, 1, CONFIG_HEAP_LIMIT_MB_MAX, what, &v, why, n) < 0)
                return -1;
            if (!GIVEN(OPT_SET_HEAP_LIMIT))
                o->heap_limit_mb = v;
            MARK(OPT_SET_HEAP_LIMIT);
        } else if (strcmp(name, "heap_follow") == 0) {
            if (config_parse_follow(value, what, &v, why, n) < 0)
                return -1;
            if (!GIVEN(OPT_SET_HEAP_FOLLOW))
                o->heap_follow = v;
            MARK(OPT_SET_HEAP_FOLLOW);
        } else {
            shoal_errf(why, n, "unknown key \"%s\" in [memory] (known: heap_limit_mb, heap_follow)",
                       name);
            return -1;
        }
    } else if (strcmp(section, "policy") == 0) {
        if (strcmp(name, "name") == 0) {
            int id = policy_find(value);
            if (id < 0) {
                char names[160];
                policy_names(names, sizeof names);
                shoal_errf(why, n, "%s: unknown policy \"%s\" (known: %s)", what, value, names);
                return -1;
            }
            if (!GIVEN(OPT_SET_POLICY))
                o->policy = (uint32_t)id + 1;
            MARK(OPT_SET_POLICY);
        } else if (strcmp(name, "interval_ms") == 0) {
            if (config_parse_uint(value, POLICY_INTERVAL_MIN, POLICY_INTERVAL_MAX, what, &v, why,
                                  n) < 0)
                return -1;
            if (!GIVEN(OPT_SET_INTERVAL))
                o->interval_ms = v;
            MARK(OPT_SET_INTERVAL);
        } else {
            shoal_errf(why, n, "unknown key \"%s\" in [policy] (known: name, interval_ms)", name);
            return -1;
        }
    } else if (strncmp(section, "policy.", 7) == 0 && policy_find(section + 7) >= 0) {
        uint32_t id = (uint32_t)policy_find(section + 7);
        const policy_t *pol = policy_at(id);
        int k = policy_param_find(pol, name);
        if (k < 0) {
            char known[256] = "";
            size_t at = 0;
            for (uint32_t i = 0; i < pol->n_params && at < sizeof known; i++)
                at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "",
                                       pol->params[i].name);
            if (pol->n_params)
                shoal_errf(why, n, "unknown key \"%s\" in [%s] (known: %s)", name, section, known);
            else
                shoal_errf(why, n, "unknown key \"%s\": policy %s has no parameters", name,
                           pol->name);
            return -1;
        }
        const policy_param_t *pp = &pol->params[k];
        int64_t x;
        if (config_parse_int64(value, pp->min, pp->max, what, &x, why, n) < 0)
            return -1;
        uint32_t bit = 1u << k;
        if (cli || !(o->param_set[id] & bit))
            o->params[id][k] = x;
        o->param_set[id] |= bit;
    } else if (strncmp(section, "policy.", 7) == 0) {
        char names[160];
        policy_names(names, sizeof names);
        shoal_errf(why, n, "unknown section [%s]: no policy \"%s\" (known: %s)", section,
                   section + 7, names);
        return -1;
    } else {
        shoal_errf(why, n, "unknown section [%s] (expected " SECTIONS ")", section);
        return -1;
    }
    return 0;
#undef GIVEN
#undef MARK
}

typedef struct parse {
    FILE *f;
    shoal_opts_t *opts;
    int line;      /* line the reader returned last, from 1 */
    int err_line;  /* first line with an error we found, or 0 */
    char msg[400]; /* its message */
    char *buf;     /* getline's buffer */
    size_t cap;
    char section[64]; /* the section the last header named, checked */
    bool section_ok;
} parse_t;

static void error_at(parse_t *ps, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void error_at(parse_t *ps, const char *fmt, ...)
{
    if (ps->err_line)
        return; /* keep the first */
    ps->err_line = ps->line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ps->msg, sizeof ps->msg, fmt, ap);
    va_end(ap);
}

static bool section_known(const char *name)
{
    return strcmp(name, "run") == 0 || strcmp(name, "policy") == 0 || strcmp(name, "memory") == 0 ||
           (strncmp(name, "policy.", 7) == 0 && policy_find(name + 7) >= 0);
}

/* A section header names a section we know, or it is an error: inih would
 * only tell us about sections that hold keys. */
static void check_section(parse_t *ps, const char *line)
{
    while (*line == ' ' || *line == '\t')
        line++;
    if (*line != '[')
        return;
    const char *end = strchr(line, ']');
    if (!end)
        return; /* inih reports the syntax error */
    int n = (int)(end - line - 1);
    char name[64];
    snprintf(name, sizeof name, "%.*s", n, line + 1);
    if (section_known(name))
        return;
    if (strncmp(name, "policy.", 7) == 0) {
        char names[160];
        policy_names(names, sizeof names);
        error_at(ps, "unknown section [%s]: no policy \"%s\" (known: %s)", name, name + 7, names);
    } else {
        error_at(ps, "unknown section [%s] (expected " SECTIONS ")", name);
    }
}

/* inih's reader: one physical line per call, so inih's line numbers and
 * ours agree; a line too long for inih is an error, not two lines. */
static char *read_line(char *str, int num, void *stream)
{
    parse_t *ps = stream;
    ssize_t n = getline(&ps->buf, &ps->cap, ps->f);
    if (n < 0)
        return NULL;
    ps->line++;
    if (n >= num) {
        error_at(ps, "line too long (at most %d characters)", num - 2);
        snprintf(str, (size_t)num, ";\n");
        return str;
    }
    memcpy(str, ps->buf, (size_t)n + 1);
    check_section(ps, str);
    return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    parse_t *ps = user;
    char why[400];
    if (*section == '\0') {
        error_at(ps, "key \"%s\" outside a section (put it under [run] or another section)", name);
        return 0;
    }
    if (!section_known(section))
        return 0; /* check_section has reported the section already */
    if (apply_key(ps->opts, section, name, value, false, why, sizeof why) < 0) {
        error_at(ps, "%s", why);
        return 0;
    }
    return 1;
}

int config_parse_follow(const char *s, const char *what, uint32_t *out, char *err, size_t errlen)
{
    static const char *const names[] = {"on_gc", "never", "eager"};
    for (uint32_t i = 0; i < 3; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = i;
            return 0;
        }
    snprintf(err, errlen, "%s: \"%s\" is not on_gc, never or eager", what, s);
    return -1;
}

int config_load(const char *path, shoal_opts_t *opts, char *err, size_t errlen)
{
    parse_t ps = {.opts = opts};
    ps.f = fopen(path, "r");
    if (!ps.f) {
        shoal_errf(err, errlen, "cannot read config file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    int rc = ini_parse_stream(read_line, &ps, on_key, &ps);
    fclose(ps.f);
    free(ps.buf);
    if (rc == 0 && ps.err_line == 0)
        return 0;
    if (rc < 0) {
        shoal_errf(err, errlen, "%s: cannot parse (%s)", path, rc == -2 ? "out of memory" : "I/O error");
        errno = rc == -2 ? ENOMEM : EIO;
        return -1;
    }
    if (ps.err_line && (rc == 0 || ps.err_line <= rc))
        shoal_errf(err, errlen, "%s:%d: %s", path, ps.err_line, ps.msg);
    else
        shoal_errf(err, errlen, "%s:%d: syntax error (expected \"key = value\" or \"[section]\")",
                   path, rc);
    errno = EINVAL;
    return -1;
}

void config_free(shoal_opts_t *opts)
{
    free(opts->topology);
    opts->topology = NULL;
}

int config_set(shoal_opts_t *opts, const char *arg, char *err, size_t errlen)
{
    const char *eq = strchr(arg, '=');
    const char *dot = eq ? memrchr(arg, '.', (size_t)(eq - arg)) : NULL;
    if (!eq || !dot || dot == arg || dot + 1 == eq) {
        shoal_errf(err, errlen, "--set %s: expected SECTION.KEY=VALUE (e.g. policy.name=steal)",
                   arg);
        errno = EINVAL;
        return -1;
    }
    char section[64], key[64], why[400];
    if ((size_t)(dot - arg) >= sizeof section || (size_t)(eq - dot - 1) >= sizeof key) {
        shoal_errf(err, errlen, "--set %s: section or key too long", arg);
        errno = EINVAL;
        return -1;
    }
    snprintf(section, sizeof section, "%.*s", (int)(dot - arg), arg);
    snprintf(key, sizeof key, "%.*s", (int)(eq - dot - 1), dot + 1);
    if (apply_key(opts, section, key, eq + 1, true, why, sizeof why) < 0) {
        shoal_errf(err, errlen, "--set %s: %s", arg, why);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

uint32_t config_policy(const shoal_opts_t *opts)
{
    return opts->policy ? opts->policy - 1 : policy_default_id();
}

uint32_t config_interval_ms(const shoal_opts_t *opts)
{
    return opts->interval_ms ? opts->interval_ms : POLICY_INTERVAL_DEFAULT;
}

void config_policy_params(const shoal_opts_t *opts, uint32_t id, int64_t *out)
{
    const policy_t *pol = policy_at(id);
    for (uint32_t i = 0; i < POLICY_MAX_PARAMS; i++)
        out[i] = 0;
    if (!pol)
        return;
    policy_defaults(pol, out);
    if (id >= CONFIG_MAX_POLICIES)
        return;
    for (uint32_t i = 0; i < pol->n_params; i++)
        if (opts->param_set[id] & (1u << i))
            out[i] = opts->params[id][i];
}
