/*
 * ctlpolicy.h: `shoal policy show|use|set` on a running run: what the
 * control socket's policy requests do.
 *
 * A change is validated exactly as the config file's keys are (it goes
 * through config_set, as `--set` does): `use NAME` is [policy] name,
 * `set KEY=VALUE` is [policy] KEY (interval_ms) or, for KEY written
 * POLICY.PARAM, [policy.POLICY] PARAM. All the settings of one request
 * hold, or none does. The run then goes on with the new policy: the
 * balancer writes it to the segment, where each VM sees it at its next
 * scheduling point (balancer_set), and `changed` re-arms the balancer's
 * timer.
 *
 * NOTES
 *   Supervisor only. It keeps its own copy of the run's options, so that
 *   changes add up; it never frees what the copy shares with the
 *   original (strings and file lists).
 */
#ifndef SHOAL_SUPERVISOR_CTLPOLICY_H
#define SHOAL_SUPERVISOR_CTLPOLICY_H

#include "supervisor/balancer.h"
#include "supervisor/config.h"
#include "supervisor/ctlproto.h"

#include <jansson.h>

typedef struct ctlpolicy {
    balancer_t *bal;
    shoal_opts_t cur;            /* the options as the changes so far left them */
    void (*changed)(void *ctx);  /* after a change took effect, or NULL */
    void *ctx;
} ctlpolicy_t;

void ctlpolicy_init(ctlpolicy_t *cp, balancer_t *bal, const shoal_opts_t *opts,
                    void (*changed)(void *ctx), void *ctx);

/* The run's policy: {"name", "description", "params" {NAME: value},
 * "interval_ms", "available" [names]}. A new reference. */
json_t *ctlpolicy_show(const ctlpolicy_t *cp);

/* Switch to policy `name` / set parameters. 0, or -1 with why in err. */
int ctlpolicy_use(ctlpolicy_t *cp, const char *name, char *err, size_t errlen);
int ctlpolicy_set(ctlpolicy_t *cp, uint32_t n, char keys[][CTL_MAX_WORD + 1],
                  char values[][CTL_MAX_WORD + 1], char *err, size_t errlen);

#endif
