/*
 * ctlproto.c: parsing the control socket's request lines (ctlproto.h).
 *
 * Every byte of a request comes from a client and is checked here: words
 * are bounded (CTL_MAX_WORD), numbers are decimal and in range, keys are
 * known, and a message quoting what the client sent escapes it.
 */
#include "supervisor/ctlproto.h"

#include "shm/common.h"
#include "vmproc/proc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const state_names[] = {
    [PS_RUNNABLE] = "runnable",
    [PS_RUNNING] = "running",
    [PS_WAITING] = "waiting",
    [PS_EXITING] = "exiting",
    [PS_MOVING] = "moving",
};
#define N_STATES (sizeof state_names / sizeof state_names[0])

static const char *const sort_names[] = {
    [CTL_SORT_PID] = "pid",   [CTL_SORT_REDUCTIONS] = "reductions", [CTL_SORT_MAILBOX] = "mailbox",
    [CTL_SORT_HEAP] = "heap", [CTL_SORT_MIGRATIONS] = "migrations",
};

const char *ctl_state_name(uint32_t status)
{
    return status < N_STATES && state_names[status] ? state_names[status] : "?";
}

int ctl_state_find(const char *name)
{
    for (uint32_t i = 0; i < N_STATES; i++)
        if (state_names[i] && strcmp(state_names[i], name) == 0)
            return (int)i;
    return -1;
}

const char *ctl_sort_name(enum ctl_sort s)
{
    return (unsigned)s < sizeof sort_names / sizeof sort_names[0] ? sort_names[s] : "?";
}

int ctl_sort_find(const char *name)
{
    for (unsigned i = 0; i < sizeof sort_names / sizeof sort_names[0]; i++)
        if (strcmp(sort_names[i], name) == 0)
            return (int)i;
    return -1;
}

/* A decimal number in [min, max]: digits only, no sign, no spaces. */
static bool number(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!*s || strlen(s) > 19)
        return false;
    uint64_t v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        v = v * 10 + (uint64_t)(*c - '0');
    }
    if (v < min || v > max)
        return false;
    *out = v;
    return true;
}

bool ctl_parse_pid(const char *s, uint64_t *out)
{
    char buf[32];
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        if (n - 2 >= sizeof buf)
            return false;
        memcpy(buf, s + 1, n - 2);
        buf[n - 2] = 0;
        s = buf;
    }
    return number(s, 1, UINT64_MAX / 2, out);
}

/* Split the line into words: at most max, each at most CTL_MAX_WORD
 * bytes, with no control byte in them. */
static int split(const char *line, size_t len, char words[][CTL_MAX_WORD + 1], size_t max,
                 size_t *n, char *err, size_t errlen)
{
    *n = 0;
    size_t i = 0;
    if (len > 0 && line[len - 1] == '\r')
        len--;
    while (i < len) {
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ' && line[i] != '\t') {
            unsigned char c = (unsigned char)line[i];
            if (c < 0x20 || c == 0x7f) {
                shoal_errf(err, errlen, "control byte 0x%02x in the request", c);
                return -1;
            }
            i++;
        }
        if (*n == max) {
            shoal_errf(err, errlen, "too many words in the request (at most %zu)", max);
            return -1;
        }
        if (i - start > CTL_MAX_WORD) {
            shoal_errf(err, errlen, "a word of the request is longer than %u bytes", CTL_MAX_WORD);
            return -1;
        }
        memcpy(words[*n], line + start, i - start);
        words[*n][i - start] = 0;
        (*n)++;
    }
    return 0;
}

/* "key=value" into its halves (key and value both non-empty). */
static bool key_value(char *word, char **key, char **value)
{
    char *eq = strchr(word, '=');
    if (!eq || eq == word || !eq[1])
        return false;
    *eq = 0;
    *key = word;
    *value = eq + 1;
    return true;
}

/* "WHAT 'WORD'", the word escaped. A word that does not fit errlen
 * whole is cut by shoal_escape, which never splits a character or an
 * escape, and marked with "...": cut by vsnprintf instead, the message
 * could end inside a UTF-8 sequence (an invalid string in the JSON reply;
 * a 200-byte word escapes to up to 800 bytes). */
static int bad(char *err, size_t errlen, const char *what, const char *word)
{
    char esc[4 * CTL_MAX_WORD + 8];
    shoal_escape(esc, sizeof esc, word);
    size_t fixed = strlen(what) + 4; /* " '", "'" and the NUL */
    if (fixed + strlen(esc) <= errlen) {
        shoal_errf(err, errlen, "%s '%s'", what, esc);
        return -1;
    }
    size_t room = errlen > fixed + 3 ? errlen - fixed - 3 : 0; /* and "..." */
    shoal_escape(esc, room + 1, word);
    shoal_errf(err, errlen, "%s '%s'...", what, esc);
    return -1;
}

static int parse_ps(char words[][CTL_MAX_WORD + 1], size_t n, ctl_req_t *r, char *err,
                    size_t errlen)
{
    for (size_t i = 2; i < n; i++) {
        char *k, *v;
        uint64_t x;
        if (!key_value(words[i], &k, &v))
            return bad(err, errlen, "ps: expected KEY=VALUE, got", words[i]);
        if (strcmp(k, "vm") == 0) {
            if (!number(v, 0, SHOAL_MAX_VMS - 1, &x))
                return bad(err, errlen, "ps: vm must be a VM number, not", v);
            r->vm = (int32_t)x;
        } else if (strcmp(k, "state") == 0) {
            if ((r->state = ctl_state_find(v)) < 0)
                return bad(err, errlen,
                           "ps: state must be runnable, running, waiting, exiting or moving, not", v);
        } else if (strcmp(k, "sort") == 0) {
            int s = ctl_sort_find(v);
            if (s < 0)
                return bad(err, errlen,
                           "ps: sort must be pid, reductions, mailbox, heap or migrations, not", v);
            r->sort = (enum ctl_sort)s;
        } else if (strcmp(k, "limit") == 0) {
            if (!number(v, 1, CTL_MAX_ROWS, &x)) {
                shoal_errf(err, errlen, "ps: limit must be 1..%u", CTL_MAX_ROWS);
                return -1;
            }
            r->limit = (uint32_t)x;
        } else {
            return bad(err, errlen, "ps: unknown argument", k);
        }
    }
    return 0;
}

static int parse_inspect(char words[][CTL_MAX_WORD + 1], size_t n, ctl_req_t *r, char *err,
                         size_t errlen)
{
    bool have_pid = false;
    for (size_t i = 2; i < n; i++) {
        char *k, *v;
        uint64_t x;
        if (!key_value(words[i], &k, &v))
            return bad(err, errlen, "inspect: expected KEY=VALUE, got", words[i]);
        if (strcmp(k, "pid") == 0) {
            if (!ctl_parse_pid(v, &r->pid))
                return bad(err, errlen, "inspect: not a pid:", v);
            have_pid = true;
        } else if (strcmp(k, "messages") == 0) {
            if (!number(v, 0, CTL_MAX_MESSAGES, &x)) {
                shoal_errf(err, errlen, "inspect: messages must be 0..%u", CTL_MAX_MESSAGES);
                return -1;
            }
            r->messages = (uint32_t)x;
        } else {
            return bad(err, errlen, "inspect: unknown argument", k);
        }
    }
    if (!have_pid) {
        shoal_errf(err, errlen, "inspect: pid=N is missing");
        return -1;
    }
    return 0;
}

static int parse_policy(char words[][CTL_MAX_WORD + 1], size_t n, ctl_req_t *r, char *err,
                        size_t errlen)
{
    if (n < 3) {
        shoal_errf(err, errlen, "policy: show, use NAME or set KEY=VALUE ...");
        return -1;
    }
    const char *sub = words[2];
    if (strcmp(sub, "show") == 0) {
        if (n != 3)
            return bad(err, errlen, "policy show: unexpected argument", words[3]);
        r->verb = CTL_POLICY_SHOW;
        return 0;
    }
    if (strcmp(sub, "use") == 0) {
        if (n != 4) {
            shoal_errf(err, errlen, "policy use: one policy name");
            return -1;
        }
        r->verb = CTL_POLICY_USE;
        memcpy(r->name, words[3], strlen(words[3]) + 1);
        return 0;
    }
    if (strcmp(sub, "set") == 0) {
        if (n < 4) {
            shoal_errf(err, errlen, "policy set: KEY=VALUE ...");
            return -1;
        }
        r->verb = CTL_POLICY_SET;
        for (size_t i = 3; i < n; i++) {
            char *k, *v;
            if (!key_value(words[i], &k, &v))
                return bad(err, errlen, "policy set: expected KEY=VALUE, got", words[i]);
            memcpy(r->keys[r->n_sets], k, strlen(k) + 1);
            memcpy(r->values[r->n_sets], v, strlen(v) + 1);
            r->n_sets++;
        }
        return 0;
    }
    return bad(err, errlen, "policy: unknown subcommand", sub);
}

int ctl_parse(const char *line, size_t len, ctl_req_t *out, char *err, size_t errlen)
{
    /* magic, verb, subcommand and CTL_MAX_SETS arguments */
    char words[3 + CTL_MAX_SETS][CTL_MAX_WORD + 1];
    size_t n;
    memset(out, 0, sizeof *out);
    out->vm = -1;
    out->state = -1;
    if (len >= CTL_MAX_REQUEST) {
        shoal_errf(err, errlen, "request longer than %u bytes", CTL_MAX_REQUEST - 1);
        return -1;
    }
    if (memchr(line, 0, len)) {
        shoal_errf(err, errlen, "NUL byte in the request");
        return -1;
    }
    if (split(line, len, words, sizeof words / sizeof words[0], &n, err, errlen) < 0)
        return -1;
    if (n == 0) {
        shoal_errf(err, errlen, "empty request");
        return -1;
    }
    if (strcmp(words[0], CTL_MAGIC) != 0) {
        if (strncmp(words[0], "shoal/", 6) == 0)
            return bad(err, errlen, "this run speaks protocol " CTL_MAGIC ", not", words[0]);
        return bad(err, errlen,
                   "not a shoal request (it must start with " CTL_MAGIC "):", words[0]);
    }
    if (n < 2) {
        shoal_errf(err, errlen, "no command after " CTL_MAGIC);
        return -1;
    }
    const char *verb = words[1];
    if (strcmp(verb, "stats") == 0) {
        if (n != 2)
            return bad(err, errlen, "stats: unexpected argument", words[2]);
        out->verb = CTL_STATS;
        return 0;
    }
    if (strcmp(verb, "ps") == 0) {
        out->verb = CTL_PS;
        return parse_ps(words, n, out, err, errlen);
    }
    if (strcmp(verb, "inspect") == 0) {
        out->verb = CTL_INSPECT;
        return parse_inspect(words, n, out, err, errlen);
    }
    if (strcmp(verb, "policy") == 0)
        return parse_policy(words, n, out, err, errlen);
    return bad(err, errlen, "unknown command", verb);
}
