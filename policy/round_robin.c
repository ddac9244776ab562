/*
 * round_robin.c: spawn placement only. Each VM hands its new processes to
 * the VMs in turn, starting after itself; nothing moves afterwards.
 */
#include "policy/policy.h"

static uint32_t place(const int64_t *pv, const policy_snapshot_t *s, uint32_t self,
                      uint32_t *cursor)
{
    (void)pv;
    return policy_place_round_robin(s->n_vms, self, cursor);
}

const policy_t policy_round_robin = {
    .name = "round-robin",
    .desc = "spawn placement only: new processes go to the VMs in turn",
    .place = place,
};
