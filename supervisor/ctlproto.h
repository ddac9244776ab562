/*
 * ctlproto.h: the control socket's requests, as text, and their parser.
 *
 * A request is one line of at most CTL_MAX_REQUEST bytes, newline
 * included:
 *
 *   shoal/1 VERB [ARG ...]
 *
 *   shoal/1 stats
 *   shoal/1 ps [vm=N] [state=STATE] [sort=KEY] [limit=N]
 *   shoal/1 inspect pid=N [messages=N]
 *   shoal/1 policy show
 *   shoal/1 policy use NAME
 *   shoal/1 policy set KEY=VALUE ...
 *
 * Words are separated by spaces or tabs; a carriage return before the
 * newline is allowed. The reply is one line of JSON (README.md,
 * "Control socket"): an object with "v":1 and "ok", and "error" when ok
 * is false. The first word names the protocol version: a client and a
 * supervisor of different versions refuse each other's requests clearly.
 *
 * NOTES
 *   Pure functions over the caller's buffers: no I/O, no allocation, no
 *   global state, so a fuzzer can drive ctl_parse directly.
 */
#ifndef SHOAL_SUPERVISOR_CTLPROTO_H
#define SHOAL_SUPERVISOR_CTLPROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_VERSION 1
#define CTL_MAGIC "shoal/1"
#define CTL_MAX_REQUEST 4096u
/* Arguments of `policy set` in one request. */
#define CTL_MAX_SETS 16u
#define CTL_MAX_WORD 200u
/* Rows of a ps reply at most, and messages of an inspect reply. */
#define CTL_MAX_ROWS 100000u
#define CTL_MAX_MESSAGES 100u

enum ctl_verb {
    CTL_STATS = 1,
    CTL_PS,
    CTL_INSPECT,
    CTL_POLICY_SHOW,
    CTL_POLICY_USE,
    CTL_POLICY_SET
};

/* What ps sorts by; PID is the default (ascending pid). */
enum ctl_sort {
    CTL_SORT_PID = 0,
    CTL_SORT_REDUCTIONS,
    CTL_SORT_MAILBOX,
    CTL_SORT_HEAP,
    CTL_SORT_MIGRATIONS
};

typedef struct ctl_req {
    enum ctl_verb verb;
    /* ps */
    int32_t vm;    /* -1: any */
    int32_t state; /* enum proc_status, or -1: any */
    enum ctl_sort sort;
    uint32_t limit; /* 0: no limit (CTL_MAX_ROWS still applies) */
    /* inspect */
    uint64_t pid;
    uint32_t messages;
    /* policy use / set */
    char name[CTL_MAX_WORD + 1];
    uint32_t n_sets;
    char keys[CTL_MAX_SETS][CTL_MAX_WORD + 1];
    char values[CTL_MAX_SETS][CTL_MAX_WORD + 1];
} ctl_req_t;

/* Parse one request line (len bytes, without its newline; it need not be
 * NUL-terminated and may hold any bytes). 0, or -1 with a one-line reason
 * in err. */
int ctl_parse(const char *line, size_t len, ctl_req_t *out, char *err, size_t errlen);

/* Names of process states and sort keys, as the protocol spells them. */
const char *ctl_state_name(uint32_t status); /* "?" if unknown */
int ctl_state_find(const char *name);        /* enum proc_status, or -1 */
const char *ctl_sort_name(enum ctl_sort s);
int ctl_sort_find(const char *name); /* enum ctl_sort, or -1 */

/* A pid as the user may write it: "17" or "<17>". False if it is not one. */
bool ctl_parse_pid(const char *s, uint64_t *out);

#endif
