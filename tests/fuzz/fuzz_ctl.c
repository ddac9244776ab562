/*
 * fuzz_ctl.c: the control socket's request parser on arbitrary bytes.
 *
 * ctl_parse takes any bytes (its contract: not NUL-terminated, any
 * length). The input is parsed whole, and then line by line as the
 * server (ctl.c, process_input) hands each line before a newline to it.
 * Every call ends in a request or in an error the reply can carry as it
 * is: non-empty, one line of printable, well-formed UTF-8 that fits the
 * server's 512-byte buffer, and that stats_string turns into a JSON
 * string. A request it accepts holds only values in the ranges
 * ctlproto.h states, and written back in canonical form it parses to the
 * same request. The input as a C string also goes through ctl_parse_pid
 * (a pid it accepts prints and parses back to itself) and the state and
 * sort name look-ups.
 */
#include "tests/fuzz/fuzz.h"

#include "shm/common.h"
#include "supervisor/ctlproto.h"
#include "supervisor/stats.h"

#include <jansson.h>
#include <string.h>

/* The size of the server's error buffer (ctl.c, handle_request). */
#define ERR_LEN 512

static void check_error(const char *err)
{
    FUZZ_CHECK(memchr(err, 0, ERR_LEN) != NULL, "an error not terminated");
    size_t n = strlen(err);
    FUZZ_CHECK(n > 0, "an error without a message");
    const unsigned char *s = (const unsigned char *)err;
    for (size_t i = 0; i < n;) {
        FUZZ_CHECK(s[i] >= 0x20 && s[i] != 0x7f, err);
        size_t k = shoal_utf8_len(s + i, n - i);
        FUZZ_CHECK(k > 0, "an error that is not well-formed UTF-8");
        i += k;
    }
    json_t *j = stats_string(err);
    FUZZ_CHECK(j != NULL, "an error the JSON reply cannot carry");
    FUZZ_CHECK(strcmp(json_string_value(j), err) == 0, "an error the reply would change");
    json_decref(j);
}

static void check_word(const char *w, bool key)
{
    size_t n = strlen(w);
    FUZZ_CHECK(n > 0 && n <= CTL_MAX_WORD, "an empty or overlong word");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)w[i];
        FUZZ_CHECK(c > 0x20 && c != 0x7f, "a space or control byte in a word");
        FUZZ_CHECK(!key || c != '=', "a key with '=' in it");
    }
}

/* The request written back as a client would write it. */
static size_t canonical(const ctl_req_t *r, char *buf, size_t len)
{
    int n = 0;
    switch (r->verb) {
    case CTL_STATS:
        n = snprintf(buf, len, "shoal/1 stats");
        break;
    case CTL_PS:
        n = snprintf(buf, len, "shoal/1 ps sort=%s", ctl_sort_name(r->sort));
        if (r->vm >= 0)
            n += snprintf(buf + n, len - (size_t)n, " vm=%d", (int)r->vm);
        if (r->state >= 0)
            n += snprintf(buf + n, len - (size_t)n, " state=%s",
                          ctl_state_name((uint32_t)r->state));
        if (r->limit > 0)
            n += snprintf(buf + n, len - (size_t)n, " limit=%u", (unsigned)r->limit);
        break;
    case CTL_INSPECT:
        n = snprintf(buf, len, "shoal/1 inspect messages=%u pid=<%llu>", (unsigned)r->messages,
                     (unsigned long long)r->pid);
        break;
    case CTL_POLICY_SHOW:
        n = snprintf(buf, len, "shoal/1 policy show");
        break;
    case CTL_POLICY_USE:
        n = snprintf(buf, len, "shoal/1 policy use %s", r->name);
        break;
    case CTL_POLICY_SET:
        n = snprintf(buf, len, "shoal/1 policy set");
        for (uint32_t i = 0; i < r->n_sets; i++)
            n += snprintf(buf + n, len - (size_t)n, " %s=%s", r->keys[i], r->values[i]);
        break;
    }
    FUZZ_CHECK(n > 0 && (size_t)n < len, "a canonical request that does not fit");
    return (size_t)n;
}

static void check_request(const ctl_req_t *r)
{
    switch (r->verb) {
    case CTL_STATS:
    case CTL_POLICY_SHOW:
        break;
    case CTL_PS:
        FUZZ_CHECK(r->vm >= -1 && r->vm < SHOAL_MAX_VMS, "ps: vm out of range");
        FUZZ_CHECK(r->state == -1 || strcmp(ctl_state_name((uint32_t)r->state), "?") != 0,
                   "ps: no such state");
        FUZZ_CHECK(strcmp(ctl_sort_name(r->sort), "?") != 0, "ps: no such sort key");
        FUZZ_CHECK(r->limit <= CTL_MAX_ROWS, "ps: limit out of range");
        break;
    case CTL_INSPECT:
        FUZZ_CHECK(r->pid >= 1 && r->pid <= UINT64_MAX / 2, "inspect: pid out of range");
        FUZZ_CHECK(r->messages <= CTL_MAX_MESSAGES, "inspect: messages out of range");
        break;
    case CTL_POLICY_USE:
        check_word(r->name, false);
        break;
    case CTL_POLICY_SET:
        FUZZ_CHECK(r->n_sets >= 1 && r->n_sets <= CTL_MAX_SETS, "policy set: too many or none");
        for (uint32_t i = 0; i < r->n_sets; i++) {
            check_word(r->keys[i], true);
            check_word(r->values[i], false);
        }
        break;
    default:
        FUZZ_CHECK(0, "a request of no known verb");
    }
}

static void same(const ctl_req_t *a, const ctl_req_t *b)
{
    FUZZ_CHECK(a->verb == b->verb, "the canonical form changes the verb");
    FUZZ_CHECK(a->vm == b->vm && a->state == b->state && a->sort == b->sort &&
                   a->limit == b->limit,
               "the canonical form changes ps");
    FUZZ_CHECK(a->pid == b->pid && a->messages == b->messages,
               "the canonical form changes inspect");
    FUZZ_CHECK(strcmp(a->name, b->name) == 0, "the canonical form changes the policy name");
    FUZZ_CHECK(a->n_sets == b->n_sets, "the canonical form changes policy set");
    for (uint32_t i = 0; i < a->n_sets; i++)
        FUZZ_CHECK(strcmp(a->keys[i], b->keys[i]) == 0 && strcmp(a->values[i], b->values[i]) == 0,
                   "the canonical form changes policy set");
}

/* The request struct is large; static, since libFuzzer runs one thread. */
static ctl_req_t req, again;

static void parse_one(const char *line, size_t len)
{
    char err[ERR_LEN];
    memset(err, 0x55, sizeof err); /* an error must terminate its message */
    if (ctl_parse(line, len, &req, err, sizeof err) < 0) {
        check_error(err);
        return;
    }
    FUZZ_CHECK(len < CTL_MAX_REQUEST, "an oversized request accepted");
    check_request(&req);
    char buf[CTL_MAX_REQUEST + 64];
    size_t n = canonical(&req, buf, sizeof buf);
    if (ctl_parse(buf, n, &again, err, sizeof err) < 0)
        FUZZ_CHECK(0, err);
    same(&req, &again);
}

static void names(const uint8_t *data, size_t size)
{
    char s[CTL_MAX_WORD + 1];
    size_t n = size < CTL_MAX_WORD ? size : CTL_MAX_WORD;
    memcpy(s, data, n);
    s[n] = 0;
    uint64_t pid;
    if (ctl_parse_pid(s, &pid)) {
        FUZZ_CHECK(pid >= 1 && pid <= UINT64_MAX / 2, "a pid out of range");
        char back[32];
        uint64_t again_pid = 0;
        snprintf(back, sizeof back, "<%llu>", (unsigned long long)pid);
        FUZZ_CHECK(ctl_parse_pid(back, &again_pid) && again_pid == pid, "a pid that prints wrong");
    }
    int st = ctl_state_find(s);
    FUZZ_CHECK(st < 0 || strcmp(ctl_state_name((uint32_t)st), s) == 0, "a state name");
    int so = ctl_sort_find(s);
    FUZZ_CHECK(so < 0 || strcmp(ctl_sort_name((enum ctl_sort)so), s) == 0, "a sort key");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    parse_one(in, size);
    /* as the server does: each line before a newline */
    size_t start = 0;
    for (const char *nl; start < size && (nl = memchr(in + start, '\n', size - start));) {
        size_t len = (size_t)(nl - (in + start));
        parse_one(in + start, len);
        start += len + 1;
    }
    names(data, size);
    return 0;
}
