/*
 * info.h: what the supervisor asks a VM about the processes it owns, and
 * the VM's answer, one request at a time per VM, in the shared segment.
 *
 * Some fields of a process belong to its owner VM alone (its heap size,
 * mailbox, current function, links, monitors, call stack): the collector
 * frees old heap blocks, so nobody else may follow a pointer into them.
 * `shoal ps` and `shoal inspect` therefore ask the owner, which answers at
 * its next scheduling point, between two slices, where none of its
 * processes runs (vmproc/info.c). It answers for a process that waits in
 * receive without running it. For a process it no longer owns it says
 * where the process went (INFO_MOVED), and the supervisor asks there.
 *
 * The exchange, one area per VM (shm_info_t):
 *   1. the supervisor writes the request (kind, pids, options), then bumps
 *      req_seq (release) and wakes the VM;
 *   2. the VM, at a scheduling point, sees req_seq move (acquire), copies
 *      the request, writes the answer into `out`, then sets resp_seq to
 *      the req_seq it answered (release) and notifies the supervisor;
 *   3. the supervisor, seeing resp_seq == req_seq (acquire), copies the
 *      answer out, checking every count and length against the bounds
 *      below, and only then may write the next request.
 *
 * NOTES
 *   Crash safety: nothing here is a lock. A VM that dies or stalls
 *   mid-answer never sets resp_seq; the supervisor gives up on it after a
 *   deadline or at its death, and its next request has a new req_seq, so
 *   a late answer to an old one is never taken for the new one: the VM
 *   re-reads req_seq after copying the request and answers the newest.
 *   The request group is written only by the supervisor, the answer group
 *   only by the owning VM; they are on separate cache lines.
 */
#ifndef SHOAL_SHM_INFO_H
#define SHOAL_SHM_INFO_H

#include "shm/segment.h"

/* Pids in one LIST request: 1024 records of 64 bytes fill the answer. */
#define INFO_MAX_PIDS 1024u
/* Bytes of one answer. 64 KiB: a batch of LIST records, or one INSPECT
 * with dozens of messages, links and frames; the rest is counted, not
 * shown. */
#define INFO_OUT_BYTES (64u * 1024)
/* Bytes of one printed message in an INSPECT answer. */
#define INFO_MSG_BYTES 512u
/* Frames of a call stack in an INSPECT answer. */
#define INFO_MAX_FRAMES 64u

enum info_kind {
    INFO_NONE = 0,
    INFO_LIST,   /* a record (info_rec_t) for each of pids[0..n) */
    INFO_INSPECT /* everything about pids[0]: info_inspect_t and its lists */
};

/* What the VM could say about one pid. */
enum info_answer {
    INFO_HERE = 0, /* owned here: the record is filled */
    INFO_MOVED,    /* owned by VM `owner` now: ask there */
    INFO_GONE      /* no such process (any more) */
};

/* One process, as its owner sees it between two slices. 64 bytes. */
typedef struct info_rec {
    uint64_t pid;
    uint8_t answer;      /* enum info_answer */
    uint8_t status;      /* enum proc_status (vmproc/proc.h) */
    uint8_t heap_node;   /* the NUMA node most of its heap pages are on */
    uint8_t flags;       /* INFO_F_* */
    uint32_t owner;      /* the VM that answered, or for MOVED the new owner */
    uint64_t heap_bytes; /* heap, stack and messages not yet collected */
    uint64_t mbox;       /* messages in the mailbox and still in the inbox */
    uint64_t reds;       /* reductions since it started */
    uint32_t reds_last;  /* reductions in the last whole stats window */
    uint32_t migrations; /* moves, all causes */
    uint32_t func;       /* index of its current function in the code table, or UINT32_MAX */
    uint32_t pc;         /* code offset in that function */
} info_rec_t;

#define INFO_F_TRAP_EXIT 1u
#define INFO_F_PINNED 2u
#define INFO_F_REGISTERED 4u

/* A frame of a call stack: a function and a code offset in it. */
typedef struct info_frame {
    uint32_t func, pc;
} info_frame_t;

/* A monitor: the other process and the ref. */
typedef struct info_mon {
    uint64_t pid, ref;
} info_mon_t;

/* The head of an INSPECT answer. What follows it in `out`, in order:
 *   links        n_links x uint64_t (pids)
 *   monitors     n_monitors x info_mon_t (processes this one monitors)
 *   watchers     n_watchers x info_mon_t (processes that monitor it)
 *   frames       n_frames x info_frame_t, innermost first
 *   messages     n_msgs x (uint32_t length, then that many bytes of the
 *                printed message, padded to 4 bytes)
 * The totals say how many there are; the lists hold what fitted. */
typedef struct info_inspect {
    info_rec_t rec;
    uint64_t gcs, heap_words,
        heap_limit_words;   /* collections; words in its heap blocks; its limit */
    uint64_t old_words;     /* of heap_words, those of the old generation (heap.c) */
    int64_t wait_ms;        /* receive or sleep timeout left in ms, -1: none */
    uint32_t mig[8];        /* moves by cause (enum mig_cause) */
    uint32_t node_pages[8]; /* pages of heap and stack per NUMA node (rounded up) */
    uint32_t n_links, n_monitors, n_watchers, n_frames, n_msgs;
    uint32_t total_links, total_monitors, total_watchers, total_frames;
    uint32_t inbox_pending; /* messages published, not yet in the mailbox */
    uint32_t msgs_cut;      /* messages whose printed form was cut at INFO_MSG_BYTES */
    uint64_t mbox_taken;    /* messages in the mailbox proper */
} info_inspect_t;

typedef struct shm_info {
    /* request: the supervisor */
    uint64_t req_seq;  /* bumped (release) after the fields below */
    uint32_t kind;     /* enum info_kind */
    uint32_t n;        /* LIST: pids; INSPECT: 1 */
    uint32_t max_msgs; /* INSPECT: messages to print */
    uint32_t pad;
    uint64_t pids[INFO_MAX_PIDS];

    /* answer: the owner VM */
    _Alignas(SHOAL_CACHE_LINE) uint64_t resp_seq; /* the req_seq answered (release) */
    uint32_t n_out;                               /* LIST: records written */
    uint32_t bytes;                               /* bytes of `out` used */
    _Alignas(SHOAL_CACHE_LINE) unsigned char out[INFO_OUT_BYTES];
} shm_info_t;

static inline shm_info_t *shm_info(const shm_header_t *h, uint32_t vm)
{
    return (shm_info_t *)shm_at(h, h->layout.info_off) + vm;
}

/* The VM x VM message matrix: row i, written only by VM i, counts the
 * messages its processes sent to processes owned by VM j. A row takes
 * whole cache lines, so that no two VMs write one line. */
static inline uint64_t shm_msg_row_words(uint32_t n_vms)
{
    return ((uint64_t)n_vms + 7) & ~(uint64_t)7;
}

static inline uint64_t *shm_msg_row(const shm_header_t *h, uint32_t vm)
{
    return (uint64_t *)shm_at(h, h->layout.msgs_off) +
           (uint64_t)vm * shm_msg_row_words(h->cfg.n_vms);
}

#endif
