/*
 * ctlpolicy.c: the policy requests of the control socket (ctlpolicy.h).
 *
 * This build has one built-in balancing behaviour, work stealing
 * (policy/steal.c), and no registry of policies to choose from or
 * parameters to set: `show` describes it, and `use` and `set` say that
 * nothing can be changed. The registry (issue 10) replaces this file's
 * bodies.
 */
#include "supervisor/ctlpolicy.h"

#include "shm/common.h"

json_t *ctlpolicy_show(const shm_header_t *h)
{
    (void)h;
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string("steal"));
    json_object_set_new(o, "params", json_object());
    json_object_set_new(o, "settable", json_false());
    return o;
}

int ctlpolicy_use(shm_header_t *h, const char *name, char *err, size_t errlen)
{
    (void)h;
    (void)name;
    shoal_errf(err, errlen, "this build has only the built-in steal policy: nothing to switch to");
    return -1;
}

int ctlpolicy_set(shm_header_t *h, uint32_t n, char keys[][CTL_MAX_WORD + 1],
                  char values[][CTL_MAX_WORD + 1], char *err, size_t errlen)
{
    (void)h;
    (void)n;
    (void)values;
    char esc[4 * CTL_MAX_WORD + 8];
    shoal_errf(err, errlen, "unknown policy parameter '%s': the built-in steal policy has none",
               shoal_escape(esc, sizeof esc, keys[0]));
    return -1;
}
