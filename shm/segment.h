/*
 * segment.h: the shared segment that the supervisor and every VM map.
 *
 * The supervisor creates the segment with memfd_create (it has no name in
 * the file system), sizes it from a shm_config_t and maps it once, before
 * it forks any VM. Every VM is a fork of the supervisor, so every VM sees
 * the segment at the same address, and a pointer into it is valid in every
 * VM. A VM checks that address at start-up (shm_check_mapping).
 *
 * Layout, in order, each part aligned to a page (offsets in shm_layout_t):
 *   header | VM table | plan areas | process table | map of its written
 *   pages | live-slot bitmap | info areas | message matrix | atom area |
 *   name table | code area | process slabs' control (shm/slab.h) |
 *   pool control (per-node lists, journals, per-VM caches) |
 *   pool descriptors | pool bitmaps | pool pages (one range per NUMA node)
 *
 * NOTES
 *   The header is written by the supervisor before the fork and is read-only
 *   afterwards, but for the fields of shm_run_t, which say how the run is
 *   going and are written with atomics by whoever the field names, and the
 *   active policy (shm_policy_t), which the supervisor may change.
 *   Pages of the memfd are allocated by the kernel on first touch, so a
 *   large pool costs address space, not memory, until it is used.
 *   Errors: functions return NULL or -1 with errno set; none prints.
 */
#ifndef SHOAL_SHM_SEGMENT_H
#define SHOAL_SHM_SEGMENT_H

#include "shm/common.h"

#include <ck_sequence.h>

#define SHM_MAGIC 0x47455346414f4853ull /* "SHOAFSEG" */
#define SHM_LAYOUT_VERSION 8u

/* What the segment is sized from. */
typedef struct shm_config {
    uint32_t n_vms;      /* VMs in the run, 1..SHOAL_MAX_VMS */
    uint32_t n_nodes;    /* NUMA nodes of the placement topology, >= 1 */
    uint32_t proc_slots; /* process table slots */
    uint32_t atom_cap;   /* atoms the atom table can hold */
    uint64_t atom_bytes; /* bytes for atom names */
    uint64_t code_bytes; /* bytes for compiled code and constants */
    uint64_t pool_bytes; /* bytes of pool pages, split evenly over nodes */
    uint64_t heap_limit_bytes; /* largest heap and stack of one process */
    uint32_t heap_follow;      /* enum heap_follow */
    uint32_t mailbox_limit;    /* messages a mailbox may hold; past it the
                                * process ends, #(error mailbox_limit); 0: none */
    uint32_t hibernate_ms;     /* a process that waits this long with nothing to do
                                * hibernates (sched.c); 0: never */
    uint64_t source_bytes;     /* largest source file program_load reads (not
                                * part of the layout: the run's input limit) */
    uint32_t name_cap;         /* registered names the name table can hold */
} shm_config_t;

/* Where a process's heap lives after it moves to a VM on another node:
 * ON_GC, on the new node from its next collection (the default: it costs
 * nothing extra); NEVER, on the node it started on; EAGER, moved at once
 * (by a collection on arrival, which copies it to the new node). */
enum heap_follow { HEAP_FOLLOW_ON_GC = 0, HEAP_FOLLOW_NEVER, HEAP_FOLLOW_EAGER };

#define SHM_HIBERNATE_MS_DEFAULT 1000u
#define SHM_HIBERNATE_MS_MAX 86400000u

/* Defaults for a run; the supervisor overrides them from flags. */
void shm_config_default(shm_config_t *cfg, uint32_t n_vms, uint32_t n_nodes);

/* Size the atom area for `cap` atoms (--atoms): the index, and names of
 * SHM_ATOM_NAME_BYTES each on average. */
void shm_config_atoms(shm_config_t *cfg, uint32_t cap);
#define SHM_ATOM_NAME_BYTES 48u

/* Byte offsets from the segment base, computed by shm_layout_compute. */
typedef struct shm_layout {
    uint64_t vm_off, plan_off, proc_off, proc_map_off, atom_off, names_off, code_off;
    uint64_t live_off;        /* one bit per process slot (shm/proctab.h) */
    uint64_t info_off;        /* one shm_info_t per VM (shm/info.h) */
    uint64_t msgs_off;        /* the VM x VM message matrix (shm/info.h) */
    uint64_t heap_slab_off;   /* the slab domain of process memory (shm/slab.h) */
    uint64_t pool_ctl_off, pool_desc_off, pool_bitmap_off, pool_pages_off;
    uint64_t pool_pages;      /* pages in the pool, all nodes */
    uint64_t pages_per_node;  /* each node owns one contiguous range */
    uint64_t total_bytes;
} shm_layout_t;

/* Run state: how the run is going. Each field says who writes it. */
typedef struct shm_run {
    uint32_t stopping;    /* supervisor: 1 once the run is being shut down */
    uint32_t done;        /* VMs: 1 once main has exited (CAS 0 -> 1) */
    int32_t exit_status;  /* VMs: the run's exit status, written before done */
    uint32_t pad;
    uint64_t main_pid;    /* VM 0: pid of the main process, set before it runs */
    uint32_t deaths;      /* supervisor: bumped after each VM death, once the
                           * dead VM's locks are broken; VMs then look for
                           * processes the dead VM left in their hands */
    uint32_t pad_run;
    uint32_t stats_epoch; /* supervisor: bumped every stats window (STATS_WINDOW_MS);
                           * VMs count each process's reductions per window */
    uint32_t pad_stats;
    /* VMs, by fetch-and-add: the counter behind make-ref and monitor
     * refs, on a line of its own: the words above are read by every VM
     * at every turn of its loop (stopping, deaths), and each make-ref
     * would take that line from all of them. */
    _Alignas(SHOAL_CACHE_LINE)
    uint64_t next_ref;
    char pad_ref[SHOAL_CACHE_LINE - 8];
    /* VMs, by fetch-and-add, a batch at a time (sched.c, LATE_BATCH):
     * processes that start later (vmproc/interp.h) and have not run yet,
     * for which spawns keep room in the pool; on a line of its own. A VM
     * that dies loses its batch, so the count is a close estimate, never
     * read below 0. */
    _Alignas(SHOAL_CACHE_LINE)
    int64_t late_pending;
    char pad_late[SHOAL_CACHE_LINE - 8];
} shm_run_t;

/* Parameter values a policy can have. */
#define POLICY_MAX_PARAMS 8u

/* The active balancing policy (shm/plan.h has the functions). Written by
 * the supervisor under the seqlock, at start-up and when a run changes
 * its policy; read by the VMs, which keep a copy. */
typedef struct shm_policy {
    ck_sequence_t seq;
    uint32_t id;          /* index in the policy registry (policy/policy.h) */
    uint32_t interval_ms; /* the rebalancer's period */
    uint32_t n_params;
    int64_t params[POLICY_MAX_PARAMS];
} shm_policy_t;

/* Standard output, shared by every VM (vmproc/out.c). */
typedef struct shm_out {
    uint32_t lock;    /* print's lock: the holder's VM id + 1, or 0; recovery
                       * breaks a dead holder's (out_recover_vm) */
    uint32_t waiters; /* VMs asleep on `lock` (a futex word) */
    int32_t error;    /* VMs: errno of the first failed write to stdout, 0 if
                       * none (CAS 0 -> errno); the supervisor stops the run */
    uint32_t pad;
} shm_out_t;

typedef struct shm_header {
    uint64_t magic;
    uint32_t version;
    uint32_t header_bytes;
    uintptr_t base;          /* address the supervisor mapped the segment at */
    shm_config_t cfg;
    shm_layout_t layout;
    int32_t supervisor_pid;
    int32_t memfd;           /* the memfd, valid in the supervisor and VMs */
    char topology[256];      /* the topology the VMs were placed on, as text */
    char pad0[SHOAL_CACHE_LINE];
    shm_run_t run;
    char pad1[SHOAL_CACHE_LINE];
    shm_out_t out;
    char pad2[SHOAL_CACHE_LINE];
    _Alignas(SHOAL_CACHE_LINE) shm_policy_t policy;
} shm_header_t;

/* The segment of this process, set by shm_create (and inherited by fork). */
extern shm_header_t *shm_seg;

int shm_layout_compute(const shm_config_t *cfg, shm_layout_t *out);

/* Supervisor only, before any fork: create, size, map and initialise the
 * segment, including the pool. Sets shm_seg. */
shm_header_t *shm_create(const shm_config_t *cfg);

/* Unmap and close. The supervisor calls it once every VM is reaped. */
void shm_destroy(shm_header_t *h);

/* A VM calls this at start-up: 0 if the segment is at the address the
 * supervisor recorded and the magic and version match, else -1 (EFAULT). */
int shm_check_mapping(const shm_header_t *h);

static inline void *shm_at(const shm_header_t *h, uint64_t off)
{
    return (char *)h + off;
}

#endif
