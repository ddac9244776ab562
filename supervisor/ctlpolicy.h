/*
 * ctlpolicy.h: `shoal policy show|use|set` on a running run: what the
 * control socket's policy requests do.
 *
 * NOTES
 *   Supervisor only. Changes are validated as the config file's [policy]
 *   keys are, and applied without stopping the run.
 */
#ifndef SHOAL_SUPERVISOR_CTLPOLICY_H
#define SHOAL_SUPERVISOR_CTLPOLICY_H

#include "shm/segment.h"
#include "supervisor/ctlproto.h"

#include <jansson.h>

/* The run's policy: {"name":..., "params":{...}, ...}. A new reference. */
json_t *ctlpolicy_show(const shm_header_t *h);

/* Switch to policy `name` / set parameters. 0, or -1 with why in err. */
int ctlpolicy_use(shm_header_t *h, const char *name, char *err, size_t errlen);
int ctlpolicy_set(shm_header_t *h, uint32_t n, char keys[][CTL_MAX_WORD + 1],
                  char values[][CTL_MAX_WORD + 1], char *err, size_t errlen);

#endif
