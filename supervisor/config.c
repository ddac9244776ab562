/*
 * config.c: checking option values and reading the INI config file (inih).
 *
 * inih reports only the line of the first error, and the handler is not
 * told which line it is on, so we feed inih through our own reader that
 * counts lines; the handler then knows its line, and the first error
 * (ours or inih's syntax error) is reported as FILE:LINE: message.
 *
 * Keys are set by one function (apply_key) whether they come from the
 * file or from --set, so both check them alike; a key from --set is
 * marked as given, and the file does not override it.
 *
 * NOTES
 *   Supervisor only. Nothing prints; errors go to the caller's buffer.
 */
#include "supervisor/config.h"

#include "policy/policy.h"

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
    if (!digits && s[0] == '-' && s[1] >= '0' && s[1] <= '9' &&
        s[1 + strspn(s + 1, "0123456789")] == 0) {
        /* a negative number is a number, just not one in range */
        shoal_errf(err, errlen, "%s: %s is out of range (expected %lld..%lld)", what, s,
                   (long long)min, (long long)max);
        errno = ERANGE;
        return -1;
    }
    if (!digits || *p) {
        char q[64];
        shoal_escape(q, sizeof q, s);
        shoal_errf(err, errlen, "%s: \"%s\" is not a%s number (expected %lld..%lld)", what, q,
                   digits && *p == '.' ? " whole" : "", (long long)min, (long long)max);
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
    {"max_restarts", 0, 1, CONFIG_MAX_RESTARTS_MAX, offsetof(shoal_opts_t, max_restarts)},
    {"restart_window_s", 0, 1, CONFIG_RESTART_WINDOW_MAX, offsetof(shoal_opts_t, restart_window_s)},
    {"stall_ms", 0, CONFIG_STALL_MS_MIN, CONFIG_STALL_MS_MAX, offsetof(shoal_opts_t, stall_ms)},
    {"mailbox_limit", 0, 1, CONFIG_MAILBOX_LIMIT_MAX, offsetof(shoal_opts_t, mailbox_limit)},
};

/* Every key of [run], for the duplicate check and the "known:" list. */
static const char *const known_keys[] = {
    "vms",   "topology", "pool_mb",   "proc_slots",   "heap_limit_mb",    "heap_follow",
    "atoms", "code_mb",  "source_mb", "max_restarts", "restart_window_s", "stall_ms",
    "mailbox_limit"};
#define N_RUN_KEYS (sizeof known_keys / sizeof known_keys[0])

const char *const *config_run_keys(size_t *n)
{
    *n = N_RUN_KEYS;
    return known_keys;
}

/* The sections a file may have, for messages. */
#define SECTIONS "[run], [policy], [policy.NAME] for a policy's parameters, or [memory]"

static bool section_known(const char *name)
{
    return strcmp(name, "run") == 0 || strcmp(name, "policy") == 0 ||
           strcmp(name, "memory") == 0 ||
           (strncmp(name, "policy.", 7) == 0 && policy_find(name + 7) >= 0);
}

/* The message for a section that is not known. */
static void unknown_section(const char *name, char *why, size_t n)
{
    if (strncmp(name, "policy.", 7) == 0) {
        char names[160];
        policy_names(names, sizeof names);
        shoal_errf(why, n, "unknown section [%s]: no policy \"%s\" (known: %s)", name, name + 7,
                   names);
    } else {
        shoal_errf(why, n, "unknown section [%s] (expected " SECTIONS ")", name);
    }
}

/* How a key is named in messages: a key of [run] by its name alone, as
 * the flags' messages do; others with their section. */
static void key_name(const char *section, const char *name, char *buf, size_t n)
{
    if (strcmp(section, "run") == 0)
        snprintf(buf, n, "%s", name);
    else
        snprintf(buf, n, "[%s] %s", section, name);
}

/* Set one key of [run]. */
static int run_key(shoal_opts_t *o, const char *name, const char *value, bool cli, int line,
                   char *why, size_t n)
{
    uint32_t v;
    size_t key = 0;
    while (key < N_RUN_KEYS && strcmp(name, known_keys[key]) != 0)
        key++;
    if (key == N_RUN_KEYS) {
        char known[512] = "";
        for (size_t i = 0; i < N_RUN_KEYS; i++)
            snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s", i ? ", " : "",
                     known_keys[i]);
        shoal_errf(why, n, "unknown key \"%s\" in [run] (known: %s)", name, known);
        return -1;
    }
    for (size_t i = 0; i < sizeof num_keys / sizeof num_keys[0]; i++) {
        const struct num_key *k = &num_keys[i];
        if (strcmp(name, k->name) != 0)
            continue;
        if (config_parse_uint(value, k->min, k->max, k->name, &v, why, n) < 0)
            return -1;
        if (cli || !(o->set & k->set))
            *(uint32_t *)((char *)o + k->off) = v;
        if (cli)
            o->set |= k->set;
        return 0;
    }
    if (strcmp(name, "heap_follow") == 0) {
        if (config_parse_follow(value, "heap_follow", &v, why, n) < 0)
            return -1;
        if (cli || !(o->set & OPT_SET_HEAP_FOLLOW))
            o->heap_follow = v;
        if (cli)
            o->set |= OPT_SET_HEAP_FOLLOW;
    } else if (strcmp(name, "topology") == 0) {
        if (!*value) {
            shoal_errf(why, n, "topology: empty value (leave the key out for this machine)");
            return -1;
        }
        if (cli || !(o->set & OPT_SET_TOPOLOGY)) {
            char *copy = strdup(value);
            if (!copy) {
                shoal_errf(why, n, "out of memory");
                return -1;
            }
            free(o->topology);
            o->topology = copy;
            o->topology_line = cli ? 0 : line;
        }
        if (cli)
            o->set |= OPT_SET_TOPOLOGY;
    } else {
        UNREACHABLE(); /* every key of known_keys is handled above */
    }
    return 0;
}

/* Set one key of one section. `cli`: from --set (marks it as given, so
 * the file does not override it); else from line `line` of the file
 * (skipped if the command line gave it). 0, or -1 with the message in
 * why. */
static int apply_key(shoal_opts_t *o, const char *section, const char *name, const char *value,
                     bool cli, int line, char *why, size_t n)
{
    uint32_t v;
    char what[160];
    key_name(section, name, what, sizeof what);
    if (strcmp(section, "run") == 0)
        return run_key(o, name, value, cli, line, why, n);
#define GIVEN(bit) (!cli && (o->set & (bit)))
#define MARK(bit) (o->set |= cli ? (bit) : 0)
    if (strcmp(section, "memory") == 0) {
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
        } else if (strcmp(name, "hibernate_ms") == 0) {
            if (config_parse_uint(value, 0, SHM_HIBERNATE_MS_MAX, what, &v, why, n) < 0)
                return -1;
            if (!GIVEN(OPT_SET_HIBERNATE))
                o->hibernate_ms1 = v + 1;
            MARK(OPT_SET_HIBERNATE);
        } else {
            shoal_errf(why, n,
                       "unknown key \"%s\" in [memory] (known: heap_limit_mb, heap_follow, "
                       "hibernate_ms)",
                       name);
            return -1;
        }
    } else if (strcmp(section, "policy") == 0) {
        if (strcmp(name, "name") == 0) {
            int id = policy_find(value);
            if (id < 0) {
                char names[160], q[64];
                policy_names(names, sizeof names);
                shoal_escape(q, sizeof q, value);
                shoal_errf(why, n, "%s: unknown policy \"%s\" (known: %s)", what, q, names);
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
    } else {
        unknown_section(section, why, n);
        return -1;
    }
    return 0;
#undef GIVEN
#undef MARK
}

/* Keys of the file seen so far, for "given twice": a few dozen at most
 * (every key of every section), so a list. */
#define SEEN_MAX 96

typedef struct parse {
    const char *text; /* the whole file, read within CONFIG_FILE_MAX */
    size_t len, pos;
    shoal_opts_t *opts;
    int line;      /* line the reader returned last, from 1 */
    bool indented; /* that line starts with a blank: inih may take it as more of a value */
    int err_line;  /* first line with an error we found, or 0 */
    char msg[400]; /* its message */
    struct {
        char key[80]; /* "section.name" */
        int line;
    } seen[SEEN_MAX];
    int n_seen;
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
    char name[64], why[300];
    snprintf(name, sizeof name, "%.*s", n, line + 1);
    if (section_known(name))
        return;
    unknown_section(name, why, sizeof why);
    error_at(ps, "%s", why);
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

/* The line a key was first given on, or 0; remembers it. heap_limit_mb
 * and heap_follow are the same key in [run] and [memory]. */
static int seen_before(parse_t *ps, const char *section, const char *name)
{
    char key[80];
    bool heap = strcmp(name, "heap_limit_mb") == 0 || strcmp(name, "heap_follow") == 0;
    snprintf(key, sizeof key, "%s.%s", heap && strcmp(section, "run") == 0 ? "memory" : section,
             name);
    for (int i = 0; i < ps->n_seen; i++)
        if (strcmp(ps->seen[i].key, key) == 0)
            return ps->seen[i].line;
    if (ps->n_seen < SEEN_MAX) {
        snprintf(ps->seen[ps->n_seen].key, sizeof ps->seen[0].key, "%s", key);
        ps->seen[ps->n_seen++].line = ps->line;
    }
    return 0;
}

static int on_key(void *user, const char *section, const char *name, const char *value)
{
    parse_t *ps = user;
    char why[400], what[160];
    if (*section == '\0') {
        error_at(ps, "key \"%s\" outside a section (put it under [run] or another section)",
                 name);
        return 0;
    }
    if (!section_known(section))
        return 0; /* check_section has reported the section already */
    key_name(section, name, what, sizeof what);
    int first = seen_before(ps, section, name);
    if (first && ps->indented) {
        /* inih reads an indented line after a key as more of its value */
        error_at(ps, "an indented line continues %s (line %d), and a value takes one line; "
                     "start each key at the beginning of its line", what, first);
        return 0;
    }
    if (first) {
        error_at(ps, "%s is given twice (first on line %d)", what, first);
        return 0;
    }
    size_t vl = strlen(value);
    if (vl >= 2 && (value[0] == '"' || value[0] == '\'') && value[vl - 1] == value[0]) {
        error_at(ps, "%s: values are written without quotes", what);
        return 0;
    }
    if (apply_key(ps->opts, section, name, value, false, ps->line, why, sizeof why) < 0) {
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
    cfg->mailbox_limit = o->mailbox_limit;
    if (o->hibernate_ms1)
        cfg->hibernate_ms = o->hibernate_ms1 - 1;
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
    if (apply_key(opts, section, key, eq + 1, true, 0, why, sizeof why) < 0) {
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
