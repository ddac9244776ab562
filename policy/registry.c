/*
 * registry.c: the policies by name, their parameters, and the helpers
 * that several policies share (see policy.h).
 *
 * NOTES
 *   Constant tables; every function is pure or writes only its caller's
 *   memory. The order of the registry is the policy id stored in the
 *   shared segment: the supervisor and the VMs are one binary, so they
 *   agree on it.
 */
#include "policy/policy.h"

#include <stdio.h>
#include <string.h>

static const policy_t *const registry[] = {
    &policy_none, &policy_round_robin, &policy_least_loaded, &policy_steal, &policy_affinity,
};

#define N_POLICIES (sizeof registry / sizeof registry[0])

uint32_t policy_count(void)
{
    return (uint32_t)N_POLICIES;
}

const policy_t *policy_at(uint32_t id)
{
    return id < N_POLICIES ? registry[id] : NULL;
}

int policy_find(const char *name)
{
    for (uint32_t i = 0; i < N_POLICIES; i++)
        if (strcmp(registry[i]->name, name) == 0)
            return (int)i;
    return -1;
}

uint32_t policy_default_id(void)
{
    return (uint32_t)policy_find("steal");
}

int policy_param_find(const policy_t *p, const char *name)
{
    for (uint32_t i = 0; i < p->n_params; i++)
        if (strcmp(p->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

void policy_defaults(const policy_t *p, int64_t *out)
{
    for (uint32_t i = 0; i < POLICY_MAX_PARAMS; i++)
        out[i] = i < p->n_params ? p->params[i].def : 0;
}

void policy_names(char *buf, size_t len)
{
    size_t at = 0;
    if (len)
        buf[0] = 0;
    for (uint32_t i = 0; i < N_POLICIES && at < len; i++) {
        const char *sep = i == 0 ? "" : i + 1 == N_POLICIES ? " and " : ", ";
        int k = snprintf(buf + at, len - at, "%s%s", sep, registry[i]->name);
        if (k < 0)
            return;
        at += (size_t)k;
    }
}

enum vm_distance policy_distance(const policy_snapshot_t *s, uint32_t a, uint32_t b)
{
    const policy_vm_t *x = &s->vms[a], *y = &s->vms[b];
    return vm_distance_of(a, b, x->node, y->node, x->l3, y->l3);
}

uint32_t policy_place_round_robin(uint32_t n_vms, uint32_t self, uint32_t *cursor)
{
    /* Each VM starts after itself, so that VMs that spawn at once do not
     * all pick the same VM first. */
    *cursor = (*cursor + 1) % n_vms;
    return (self + *cursor) % n_vms;
}

uint32_t policy_place_least_loaded(const policy_snapshot_t *s, uint32_t self)
{
    /* Fewest runnable, then fewest processes; a tie goes to the spawning
     * VM, then to the nearest, then to the lowest id. */
    uint32_t best = self;
    for (uint32_t i = 0; i < s->n_vms; i++) {
        const policy_vm_t *v = &s->vms[i], *b = &s->vms[best];
        if (!v->alive || i == best)
            continue;
        if (!b->alive) {
            best = i;
            continue;
        }
        if (v->runq != b->runq) {
            if (v->runq < b->runq)
                best = i;
            continue;
        }
        if (v->procs != b->procs) {
            if (v->procs < b->procs)
                best = i;
            continue;
        }
        if (best != self && policy_distance(s, self, i) < policy_distance(s, self, best))
            best = i;
    }
    return best;
}

static uint32_t recent_slot(uint64_t pid)
{
    /* Fibonacci hashing: pids of one run differ in their low bits. */
    return (uint32_t)((pid * 0x9E3779B97F4A7C15ull) >> 56) % POLICY_RECENT;
}

bool policy_recent(const policy_memory_t *m, uint64_t pid, uint64_t now_ms, uint64_t within_ms)
{
    uint32_t i = recent_slot(pid);
    return m->pid[i] == pid && now_ms - m->at_ms[i] < within_ms;
}

void policy_remember(policy_memory_t *m, uint64_t pid, uint64_t now_ms)
{
    /* One slot per hash: a newer move may evict an older one, which then
     * only loses its cooling-off time. */
    uint32_t i = recent_slot(pid);
    m->pid[i] = pid;
    m->at_ms[i] = now_ms;
}
