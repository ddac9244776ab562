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

typedef struct parse {
    const char *text; /* the whole file, read within CONFIG_FILE_MAX */
    size_t len, pos;
    shoal_opts_t *opts;
    int line;      /* line the reader returned last, from 1 */
    int err_line;  /* first line with an error we found, or 0 */
    char msg[256]; /* its message */
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
    if (n != 3 || strncmp(line + 1, "run", 3) != 0)
        error_at(ps, "unknown section [%.*s] (expected [run])", n, line + 1);
}

/* inih's reader: one physical line per call, so inih's line numbers and
 * ours agree; a line too long for inih is an error, not two lines. */
static char *read_line(char *str, int num, void *stream)
{
    parse_t *ps = stream;
    if (ps->pos >= ps->len)
        return NULL;
    const char *s = ps->text + ps->pos;
    const char *nl = memchr(s, '\n', ps->len - ps->pos);
    size_t n = nl ? (size_t)(nl - s) + 1 : ps->len - ps->pos;
    ps->pos += n;
    ps->line++;
    if (memchr(s, 0, n)) {
        error_at(ps, "a NUL byte in the line (is this a config file?)");
        snprintf(str, (size_t)num, ";\n");
        return str;
    }
    if (n >= (size_t)num) {
        error_at(ps, "line too long (at most %d characters)", num - 2);
        snprintf(str, (size_t)num, ";\n");
        return str;
    }
    memcpy(str, s, n);
    str[n] = 0;
    check_section(ps, str);
    return str;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    parse_t *ps = user;
    shoal_opts_t *o = ps->opts;
    char why[200];
    uint32_t v;
    if (strcmp(section, "run") != 0) {
        if (*section == '\0')
            error_at(ps, "key \"%s\" outside a section (put it under [run])", name);
        /* else: check_section has reported the section already */
        return 0;
    }
    if (strcmp(name, "vms") == 0) {
        if (config_parse_uint(value, 1, SHOAL_MAX_VMS, "vms", &v, why, sizeof why) < 0)
            goto bad;
        if (!(o->set & OPT_SET_VMS))
            o->vms = v;
    } else if (strcmp(name, "pool_mb") == 0) {
        if (config_parse_uint(value, 1, CONFIG_POOL_MB_MAX, "pool_mb", &v, why, sizeof why) < 0)
            goto bad;
        if (!(o->set & OPT_SET_POOL_MB))
            o->pool_mb = v;
    } else if (strcmp(name, "proc_slots") == 0) {
        if (config_parse_uint(value, 1, CONFIG_PROC_SLOTS_MAX, "proc_slots", &v, why, sizeof why) <
            0)
            goto bad;
        if (!(o->set & OPT_SET_PROC_SLOTS))
            o->proc_slots = v;
    } else if (strcmp(name, "heap_limit_mb") == 0) {
        if (config_parse_uint(value, 1, CONFIG_HEAP_LIMIT_MB_MAX, "heap_limit_mb", &v, why,
                              sizeof why) < 0)
            goto bad;
        if (!(o->set & OPT_SET_HEAP_LIMIT))
            o->heap_limit_mb = v;
    } else if (strcmp(name, "heap_follow") == 0) {
        if (config_parse_follow(value, "heap_follow", &v, why, sizeof why) < 0)
            goto bad;
        if (!(o->set & OPT_SET_HEAP_FOLLOW))
            o->heap_follow = v;
    } else if (strcmp(name, "topology") == 0) {
        if (!*value) {
            error_at(ps, "topology: empty value (leave the key out for this machine)");
            return 0;
        }
        if (!(o->set & OPT_SET_TOPOLOGY)) {
            char *copy = strdup(value);
            if (!copy) {
                error_at(ps, "out of memory");
                return 0;
            }
            free(o->topology);
            o->topology = copy;
        }
    } else {
        error_at(ps,
                 "unknown key \"%s\" in [run] (known: vms, topology, pool_mb, proc_slots, "
                 "heap_limit_mb, heap_follow)",
                 name);
        return 0;
    }
    return 1;
bad:
    error_at(ps, "%s", why);
    return 0;
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
    char why[128];
    char *text = shoal_read_file(path, CONFIG_FILE_MAX, &ps.len, why, sizeof why);
    if (!text) {
        int e = errno;
        shoal_errf(err, errlen, "cannot read config file \"%s\": %s%s", path, why,
                   e == EFBIG ? " (a config file holds a few lines)" : "");
        errno = e;
        return -1;
    }
    ps.text = text;
    int rc = ini_parse_stream(read_line, &ps, on_key, &ps);
    free(text);
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
        shoal_errf(err, errlen, "%s:%d: syntax error (expected \"key = value\" or \"[run]\")", path, rc);
    errno = EINVAL;
    return -1;
}

void config_free(shoal_opts_t *opts)
{
    free(opts->topology);
    opts->topology = NULL;
}
