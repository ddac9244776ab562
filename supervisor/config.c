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
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A number as a message quotes it: whole, or its first digits and its
 * length when it is too long to read (--vms 999...9, 100,000 digits). */
static const char *excerpt(char *buf, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len <= 24)
        snprintf(buf, n, "%s", s);
    else
        snprintf(buf, n, "%.20s... (%zu digits)", s, len - (s[0] == '-'));
    return buf;
}

int config_parse_uint(const char *s, uint32_t min, uint32_t max, const char *what, uint32_t *out,
                      char *err, size_t errlen)
{
    char num[64];
    const char *p = s;
    unsigned long long v = 0;
    bool digits = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        digits = true;
        if (v <= max) /* past max we only need to know it is too big */
            v = v * 10 + (unsigned long long)(*p - '0');
    }
    if (!digits && s[0] == '-' && s[1] >= '0' && s[1] <= '9' && s[1 + strspn(s + 1, "0123456789")] == 0) {
        /* a negative number is a number, just not one in range */
        shoal_errf(err, errlen, "%s: %s is out of range (expected %u..%u)", what,
                   excerpt(num, sizeof num, s), min, max);
        errno = ERANGE;
        return -1;
    }
    if (!digits || *p) {
        char q[64];
        shoal_escape(q, sizeof q, s);
        shoal_errf(err, errlen, "%s: \"%s\" is not a%s number (expected %u..%u)", what, q,
                   digits && *p == '.' ? " whole" : "", min, max);
        errno = EINVAL;
        return -1;
    }
    if (v < min || v > max) {
        shoal_errf(err, errlen, "%s: %s is out of range (expected %u..%u)", what,
                   excerpt(num, sizeof num, s), min, max);
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
    bool indented; /* that line starts with a blank: inih may take it as more of a value */
    int err_line;  /* first line with an error we found, or 0 */
    int key_line[16]; /* line of each key of known_keys seen so far, or 0 */
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
    ps->indented = *s == ' ' || *s == '\t';
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

/* The numeric keys of [run]: bounds, and the flag that overrides each. */
static const struct num_key {
    const char *name;
    unsigned set;
    uint32_t min, max;
    size_t off;
} num_keys[] = {
    {"vms", OPT_SET_VMS, 1, SHOAL_MAX_VMS, offsetof(shoal_opts_t, vms)},
    {"pool_mb", OPT_SET_POOL_MB, 1, CONFIG_POOL_MB_MAX, offsetof(shoal_opts_t, pool_mb)},
    {"proc_slots", OPT_SET_PROC_SLOTS, 1, CONFIG_PROC_SLOTS_MAX, offsetof(shoal_opts_t, proc_slots)},
    {"heap_limit_mb", OPT_SET_HEAP_LIMIT, 1, CONFIG_HEAP_LIMIT_MB_MAX,
     offsetof(shoal_opts_t, heap_limit_mb)},
    {"atoms", OPT_SET_ATOMS, CONFIG_ATOMS_MIN, CONFIG_ATOMS_MAX, offsetof(shoal_opts_t, atoms)},
    {"code_mb", OPT_SET_CODE_MB, 1, CONFIG_CODE_MB_MAX, offsetof(shoal_opts_t, code_mb)},
    {"source_mb", OPT_SET_SOURCE_MB, 1, CONFIG_SOURCE_MB_MAX, offsetof(shoal_opts_t, source_mb)},
};

/* Every key of [run], for the duplicate check and the "known:" list. */
static const char *const known_keys[] = {"vms",           "topology",    "pool_mb",
                                         "proc_slots",    "heap_limit_mb", "heap_follow",
                                         "atoms",         "code_mb",     "source_mb"};

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
    size_t key = 0, nkeys = sizeof known_keys / sizeof known_keys[0];
    while (key < nkeys && strcmp(name, known_keys[key]) != 0)
        key++;
    if (key == nkeys) {
        char known[256] = "";
        for (size_t i = 0; i < nkeys; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                     known_keys[i]);
        error_at(ps, "unknown key \"%s\" in [run] (known: %s)", name, known);
        return 0;
    }
    if (ps->key_line[key] && ps->indented) {
        /* inih reads an indented line after a key as more of its value */
        error_at(ps, "an indented line continues %s (line %d), and a value takes one line; "
                     "start each key at the beginning of its line", name, ps->key_line[key]);
        return 0;
    }
    if (ps->key_line[key]) {
        error_at(ps, "%s is given twice (first on line %d)", name, ps->key_line[key]);
        return 0;
    }
    ps->key_line[key] = ps->line;
    size_t vl = strlen(value);
    if (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0]) {
        error_at(ps, "%s: values are written without quotes", name);
        return 0;
    }
    for (size_t i = 0; i < sizeof num_keys / sizeof num_keys[0]; i++) {
        const struct num_key *k = &num_keys[i];
        if (strcmp(name, k->name) != 0)
            continue;
        if (config_parse_uint(value, k->min, k->max, k->name, &v, why, sizeof why) < 0)
            goto bad;
        if (!(o->set & k->set))
            *(uint32_t *)((char *)o + k->off) = v;
        return 1;
    }
    if (strcmp(name, "heap_follow") == 0) {
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
            o->topology_line = ps->line;
        }
    } else {
        UNREACHABLE(); /* every key of known_keys is handled above */
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
    char q[64];
    snprintf(err, errlen, "%s: \"%s\" is not on_gc, never or eager", what,
             shoal_escape(q, sizeof q, s));
    return -1;
}

int config_load(const char *path, shoal_opts_t *opts, char *err, size_t errlen)
{
    size_t len;
    char why[128], name[128];
    char *text = shoal_read_file(path, CONFIG_FILE_MAX, &len, why, sizeof why);
    if (!text) {
        int e = errno;
        /* a path too long to open is shown cut, so the reason still fits */
        size_t pl = strlen(path);
        if (pl < sizeof name)
            snprintf(name, sizeof name, "%s", path);
        else
            snprintf(name, sizeof name, "%.60s...%s", path, path + pl - 40);
        shoal_errf(err, errlen, "cannot read config file \"%s\": %s%s", name, why,
                   e == EFBIG ? " (a config file holds a few lines)" : "");
        errno = e;
        return -1;
    }
    opts->config_path = path;
    int rc = config_parse(path, text, len, opts, err, errlen);
    int e = errno;
    free(text);
    errno = e;
    return rc;
}

int config_parse(const char *path, const char *text, size_t len, shoal_opts_t *opts, char *err,
                 size_t errlen)
{
    parse_t ps = {.text = text, .len = len, .opts = opts};
    int rc = ini_parse_stream(read_line, &ps, on_key, &ps);
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

void config_segment(const shoal_opts_t *o, uint32_t n_vms, uint32_t n_nodes, shm_config_t *cfg)
{
    shm_config_default(cfg, n_vms, n_nodes);
    if (o->pool_mb)
        cfg->pool_bytes = (uint64_t)o->pool_mb << 20;
    if (o->proc_slots)
        cfg->proc_slots = o->proc_slots;
    if (o->heap_limit_mb)
        cfg->heap_limit_bytes = (uint64_t)o->heap_limit_mb << 20;
    cfg->heap_follow = o->heap_follow;
    if (o->atoms)
        shm_config_atoms(cfg, o->atoms);
    if (o->code_mb)
        cfg->code_bytes = (uint64_t)o->code_mb << 20;
    if (o->source_mb)
        cfg->source_bytes = (uint64_t)o->source_mb << 20;
}
