/*
 * affinity.c: co-locate processes that message each other heavily.
 *
 * VMs sample one send in `sample` and count the samples per pair of
 * processes (pairs.c); every interval the supervisor merges what the VMs
 * published into the snapshot's pairs, heaviest first. When enough of all
 * messages cross VMs (remote_pct), the rebalancer walks the pairs,
 * heaviest first, and moves one process of a pair that sits on two VMs to
 * its partner's VM, provided that
 *   - the pair is busy enough to be worth it (min_rate messages a second),
 *   - this pair is the heaviest of the process that moves (a process is
 *     only ever pulled towards its heaviest partner, and only once a plan),
 *   - neither process of the pair moved within cooldown_ms (no back and
 *     forth, and no undoing a move that samples taken before it still
 *     contradict),
 *   - the two VMs' process counts stay within max_imbalance of each other
 *     afterwards, or get closer than they were.
 * Of the two ways to join a pair it takes the one that leaves the two VMs
 * more even. Orleans does the same for grains, but a move here is a
 * pointer hand-off, so the policy can act every few milliseconds.
 * New processes are placed round-robin: co-location then corrects what
 * placement could not know.
 */
#include "policy/policy.h"

enum { P_SAMPLE, P_MIN_RATE, P_REMOTE_PCT, P_MAX_IMBALANCE, P_COOLDOWN };

static const policy_param_t params[] = {
    {"sample", 16, 1, 65536, "one send in this many is sampled (1: every send)"},
    {"min_rate", 2000, 1, 1000000000,
     "messages a second between two processes before they are worth co-locating"},
    {"remote_pct", 10, 0, 100,
     "percent of all messages that must cross VMs before the rebalancer acts"},
    {"max_imbalance", 2, 0, 1000000,
     "processes by which a move may leave the two VMs apart (a move that evens them is "
     "always allowed)"},
    {"cooldown_ms", 200, 0, 600000, "a process moved for affinity stays this long at least"},
};

/* Pairs one plan considers: the heaviest; lighter ones can wait a plan. */
#define AFF_PAIRS 256u
#define SEEN_SLOTS 1024u

static uint32_t place(const int64_t *pv, const policy_snapshot_t *s, uint32_t self,
                      uint32_t *cursor)
{
    (void)pv;
    return policy_place_round_robin(s->n_vms, self, cursor);
}

/* A set of pids (open addressing; 0 is empty). True if pid was in it. */
static bool seen_add(uint64_t *set, uint64_t pid)
{
    for (uint32_t i = (uint32_t)((pid * 0x9E3779B97F4A7C15ull) >> 54) % SEEN_SLOTS;;
         i = (i + 1) % SEEN_SLOTS) {
        if (set[i] == pid)
            return true;
        if (set[i] == 0) {
            set[i] = pid;
            return false;
        }
    }
}

static uint64_t absdiff(int64_t x, int64_t y)
{
    return (uint64_t)(x > y ? x - y : y - x);
}

static size_t rebalance(const int64_t *pv, const policy_snapshot_t *s, policy_memory_t *mem,
                        policy_move_t *out, size_t max)
{
    uint64_t local = 0, remote = 0;
    for (uint32_t i = 0; i < s->n_vms; i++) {
        local += s->vms[i].msgs_local;
        remote += s->vms[i].msgs_remote;
    }
    if (remote == 0 || remote * 100 < (uint64_t)pv[P_REMOTE_PCT] * (local + remote))
        return 0;
    int64_t procs[SHOAL_MAX_VMS];
    for (uint32_t i = 0; i < s->n_vms; i++)
        procs[i] = (int64_t)s->vms[i].procs;
    uint64_t seen[SEEN_SLOTS] = {0};
    uint32_t interval = s->interval_ms ? s->interval_ms : 1;
    size_t m = 0;
    for (size_t k = 0; k < s->n_pairs && k < AFF_PAIRS && m < max; k++) {
        const policy_pair_t *pr = &s->pairs[k];
        if (pr->msgs * 1000 / interval < (uint64_t)pv[P_MIN_RATE])
            break; /* heaviest first: the rest are lighter */
        bool a_free = !seen_add(seen, pr->a), b_free = !seen_add(seen, pr->b);
        /* A pair of which one process moved lately is left alone: the
         * samples may still show it where it was, and moving its partner
         * now would undo the move. */
        uint64_t cool = (uint64_t)pv[P_COOLDOWN];
        if (policy_recent(mem, pr->a, s->now_ms, cool) ||
            policy_recent(mem, pr->b, s->now_ms, cool))
            continue;
        uint32_t va = pr->vm_a, vb = pr->vm_b;
        if (va == vb || va >= s->n_vms || vb >= s->n_vms || !s->vms[va].alive || !s->vms[vb].alive)
            continue;
        uint64_t before = absdiff(procs[va], procs[vb]);
        uint64_t move_a = absdiff(procs[va] - 1, procs[vb] + 1); /* a joins b */
        uint64_t move_b = absdiff(procs[va] + 1, procs[vb] - 1); /* b joins a */
        uint64_t bound = (uint64_t)pv[P_MAX_IMBALANCE];
        bool ok_a = a_free && (move_a <= bound || move_a < before);
        bool ok_b = b_free && (move_b <= bound || move_b < before);
        if (!ok_a && !ok_b)
            continue;
        /* The way that leaves the VMs more even; a tie moves b to a. */
        bool take_a = ok_a && (!ok_b || move_a < move_b);
        uint64_t pid = take_a ? pr->a : pr->b;
        uint32_t from = take_a ? va : vb, to = take_a ? vb : va;
        out[m++] = (policy_move_t){
            .what = PLAN_PID, .from = from, .to = to, .n = 1, .cause = MIG_AFFINITY, .pid = pid};
        procs[from]--;
        procs[to]++;
        policy_remember(mem, pid, s->now_ms);
    }
    return m;
}

static uint32_t sample_every(const int64_t *pv)
{
    return (uint32_t)pv[P_SAMPLE];
}

const policy_t policy_affinity = {
    .name = "affinity",
    .desc = "co-locate processes that message each other heavily, within a load-imbalance bound",
    .params = params,
    .n_params = sizeof params / sizeof params[0],
    .place = place,
    .rebalance = rebalance,
    .sample_every = sample_every,
};
