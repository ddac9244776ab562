/*
 * none.c: no balancing. A process stays where it is spawned: (spawn f)
 * puts it on the spawning VM, spawn-on where it says, and nothing ever
 * moves it but the process itself ((migrate vm), call-on).
 */
#include "policy/policy.h"

const policy_t policy_none = {
    .name = "none",
    .desc = "no balancing: processes stay on the VM they were spawned on",
};
