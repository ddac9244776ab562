/*
 * ctlpolicy.c: the policy requests of the control socket (ctlpolicy.h).
 */
#include "supervisor/ctlpolicy.h"

#include "shm/common.h"
#include "supervisor/stats.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void ctlpolicy_init(ctlpolicy_t *cp, balancer_t *bal, const shoal_opts_t *opts,
                    void (*changed)(void *ctx), void *ctx)
{
    cp->bal = bal;
    cp->cur = *opts;
    cp->changed = changed;
    cp->ctx = ctx;
}

json_t *ctlpolicy_show(const ctlpolicy_t *cp)
{
    const balancer_t *b = cp->bal;
    json_t *o = json_object();
    json_object_set_new(o, "name", stats_string(b->pol->name));
    json_object_set_new(o, "description", stats_string(b->pol->desc));
    json_t *params = json_object();
    for (uint32_t i = 0; i < b->pol->n_params; i++)
        json_object_set_new(params, b->pol->params[i].name, json_integer(b->pv[i]));
    json_object_set_new(o, "params", params);
    json_object_set_new(o, "interval_ms", json_integer(b->interval_ms));
    json_t *all = json_array();
    for (uint32_t i = 0; i < policy_count(); i++)
        json_array_append_new(all, stats_string(policy_at(i)->name));
    json_object_set_new(o, "available", all);
    return o;
}

/* Apply `section.key=value` settings to a copy of the options, check them
 * as the config file is checked, and make the result the run's policy. */
static int apply(ctlpolicy_t *cp, uint32_t n, const char *const *settings, char *err,
                 size_t errlen)
{
    shoal_opts_t next = cp->cur;
    for (uint32_t i = 0; i < n; i++) {
        char why[600];
        if (config_set(&next, settings[i], why, sizeof why) < 0) {
            /* "--set policy.x=1: unknown key ..." reads as the flag; say
             * it as the request was written */
            const char *colon = strstr(why, ": ");
            shoal_errf(err, errlen, "%s", colon ? colon + 2 : why);
            return -1;
        }
    }
    uint32_t id = config_policy(&next);
    int64_t pv[POLICY_MAX_PARAMS];
    config_policy_params(&next, id, pv);
    if (balancer_set(cp->bal, id, pv, config_interval_ms(&next)) < 0) {
        shoal_errf(err, errlen, "the balancer refused the change: %s", strerror(errno));
        return -1;
    }
    cp->cur = next;
    if (cp->changed)
        cp->changed(cp->ctx);
    return 0;
}

int ctlpolicy_use(ctlpolicy_t *cp, const char *name, char *err, size_t errlen)
{
    char setting[CTL_MAX_WORD + 32];
    snprintf(setting, sizeof setting, "policy.name=%s", name);
    const char *settings[1] = {setting};
    return apply(cp, 1, settings, err, errlen);
}

int ctlpolicy_set(ctlpolicy_t *cp, uint32_t n, char keys[][CTL_MAX_WORD + 1],
                  char values[][CTL_MAX_WORD + 1], char *err, size_t errlen)
{
    char buf[CTL_MAX_SETS][2 * CTL_MAX_WORD + 16];
    const char *settings[CTL_MAX_SETS];
    if (n > CTL_MAX_SETS)
        n = CTL_MAX_SETS;
    for (uint32_t i = 0; i < n; i++) {
        /* KEY is [policy]'s (interval_ms), or POLICY.PARAM for
         * [policy.POLICY]: either way under "policy." */
        snprintf(buf[i], sizeof buf[i], "policy.%s=%s", keys[i], values[i]);
        settings[i] = buf[i];
    }
    return apply(cp, n, settings, err, errlen);
}
