/*
 * proc.h: a green process: its heap, stack, registers and mailbox.
 *
 * All of a process lives in the shared segment: proc_t overlays the body
 * of its PCB, and its heap blocks, stack and message buffers are runs of
 * the page pool owned by POOL_OWNER_PROC(slot). So handing the process to
 * another VM hands over all of it by changing the PCB's owner word.
 *
 * The stack is one run of pages: values (terms) grow up from stack_lo,
 * control frames (ctl_t: calls, catches, guards) grow down from stack_hi.
 * Positions in it are kept as indices where they must survive the stack
 * moving to a bigger run.
 *
 * NOTES
 *   Every field of proc_t is touched by the owner VM only, except those of
 *   its first cache line, which other VMs touch with atomics (each field
 *   says how).
 */
#ifndef SHOAL_VMPROC_PROC_H
#define SHOAL_VMPROC_PROC_H

#include "shm/proctab.h"
#include "vmproc/code.h"

#include <ck_pr.h>
#include <stdbool.h>

/* Heap pages are counted per NUMA node for the first PROC_NODES nodes;
 * a machine with more nodes has the rest counted on the last one. */
#define PROC_NODES 8

/* The header of a heap block or message buffer (a run from the pool). */
typedef struct hblock {
    struct hblock *next;
    term *end;   /* first word past the block */
    term *top;   /* words in use end here (kept up to date when the block is left) */
    uint32_t node; /* NUMA node of its pages, set by whoever allocated it */
    uint32_t pad;
} hblock_t;

static inline term *hblock_start(hblock_t *b)
{
    return (term *)(b + 1);
}

enum ctl_kind { CTL_CALL = 0, CTL_CATCH, CTL_GUARD, CTL_TRY };

typedef struct ctl {
    const uint32_t *pc;     /* return address, or the handler */
    const func_t *func;     /* the function to go on in */
    uint32_t fp;            /* its frame, as an index from stack_lo */
    uint32_t base;          /* CALL: where the result goes; CATCH/GUARD: sp to restore */
    uint32_t kind;
    uint32_t pad;
} ctl_t;

enum proc_status {
    PS_RUNNABLE = 1,
    PS_RUNNING,
    PS_WAITING,   /* in receive (or sleep) with nothing to do */
    PS_EXITING
};

/* How a process ends, or what it raised. ERROR's reason is #(error value). */
enum exit_class { EXC_NONE = 0, EXC_NORMAL, EXC_ERROR, EXC_EXIT, EXC_THROW };

typedef struct proc {
    /* any VM: what senders, wakers, stealers and the balancer touch, on
     * one cache line of its own, so a send moves one line, not several */
    uint64_t inbox;           /* CAS-pushed nodes, newest first; see INBOX_* */
    uint32_t status;          /* enum proc_status; others CAS WAITING -> RUNNABLE */
    uint32_t inbound_next;    /* next PCB (slot + 1) on a VM's inbound list */
    uint32_t hint_vm;         /* the balancer: please move to vm + 1 at the next yield */
    uint32_t arriving;        /* set by the VM that hands the process over: cause + 1 */
    uint32_t msgs_pending;    /* messages published to the inbox and not yet taken:
                               * senders add 1 after their CAS, the owner
                               * subtracts what it takes (process-info) */
    uint32_t pad_word;
    char pad_shared[SHOAL_CACHE_LINE - 32];

    /* owner VM only, from here on */
    /* heap */
    hblock_t *hfirst, *hcur;  /* blocks, oldest first; hcur takes allocations */
    term *hp, *hlim;          /* bump pointer and limit in hcur */
    hblock_t *frags;          /* message buffers not yet joined by a GC */
    uint64_t frag_words;      /* words in frags */
    uint64_t heap_words;      /* words in all heap blocks */
    uint64_t gc_threshold;    /* grow by adding blocks until heap_words passes this */
    uint64_t live_words;      /* live after the last GC */
    uint64_t heap_limit_words;
    uint64_t gcs;
    /* stack and registers */
    term *stack_lo, *stack_hi;
    term *sp;
    ctl_t *ctl;
    const uint32_t *pc;
    const func_t *func;
    uint32_t fp;
    uint32_t flags;
    /* mailbox: message nodes (BT_MSG) in arrival order */
    term mbox_first, mbox_last;
    term mbox_prev;           /* receive cursor: node before the current one, 0 = head */
    uint64_t mbox_len;
    int64_t deadline;         /* receive/sleep timeout, monotonic ns, -1 = none */
    /* errors and exit */
    uint32_t err_class;       /* enum exit_class of the raised error or the exit */
    uint32_t home_node;       /* the node the process started on (heap_follow never) */
    term err_value;
    uint64_t migrations;
    /* links and monitors: chains of BT_MSG nodes (see msg.h) */
    term links;               /* one node per linked process (node[4] = its pid) */
    term monitored_by;        /* watchers: node[4] = watcher, node[5] = ref */
    term monitoring;          /* monitors this process set: node[4] = target, node[5] = ref */
    /* migration */
    uint32_t migrate_to;      /* (migrate vm) asked for vm + 1; 0: no */
    uint32_t acct_vm;         /* VM whose heap counters include this process, + 1 */
    uint32_t mig[4];          /* moves by cause (enum mig_cause) */
    uint32_t node_pages[PROC_NODES]; /* pages of heap and stack per NUMA node */
    /* scheduling */
    struct pcb *rq_next;      /* next on the owner VM's run queue (sched.c) */
    uint32_t pin_depth;       /* call-on calls in progress: balancing leaves it alone */
    uint32_t reserved;        /* pool pages reserved for the exit signals this
                               * process owes (one per link and per watcher;
                               * msg.c, "Reservations") */
} proc_t;

/* Why a process moved (counted per process and per VM). */
enum mig_cause { MIG_EXPLICIT = 0, MIG_STEAL, MIG_BALANCER, MIG_ADOPT, MIG_CAUSES };
/* A move made by SHOAL_MIGRATE_TORTURE: counted under no cause. */
#define MIG_TORTURE ((enum mig_cause)0xff)

/* Process flags (owner only). */
#define PF_TRAP_EXIT 1u   /* exit signals arrive as #(EXIT pid reason) messages */
#define PF_KILLED 2u      /* an exit signal ended it: no catch applies */
#define PF_PLACED 4u      /* spawn-on put it on a VM: not stolen before it ran there */
#define PF_PINNED 8u      /* it called (migrate vm): balancing leaves it on that VM
                           * until it next waits in receive (LANGUAGE.md, Placement) */
#define PF_OUT_OF_POOL 32u /* it ended because the shared pool was exhausted */
#define PF_TORTURE_HOLD 16u /* migration torture: it just yielded at this receive;
                           * run it once before the next torture yield */

/* The inbox word: a 16-bit tag from the slot's generation, and the offset
 * of the newest node from the segment base (0: empty; INBOX_CLOSED: the
 * process has ended). A sender CASes only from a word whose tag matches
 * the pid it looked up, so a message can never land in a later process
 * that reuses the slot. */
#define INBOX_OFF_MASK 0xffffffffffffull
#define INBOX_CLOSED INBOX_OFF_MASK
static inline uint64_t inbox_tag(uint64_t gen)
{
    return (gen & 0xffffu) << 48;
}

/* The inbox tag of the process a PCB holds now (from its pid). */
static inline uint64_t pcb_inbox_tag(const shm_header_t *h, const pcb_t *pcb)
{
    return inbox_tag(pcb->pid / h->cfg.proc_slots);
}

_Static_assert(sizeof(proc_t) <= sizeof(((pcb_t *)0)->body), "proc_t fits a PCB body");

/* Whether balancing (stealing, a policy's plan, migration torture) must
 * leave the process where it is: after (migrate vm) until it next waits,
 * and for the whole of a call-on. Owner only. */
static inline bool proc_pinned(const proc_t *p)
{
    return (p->flags & PF_PINNED) || p->pin_depth > 0;
}

static inline proc_t *proc_of(pcb_t *pcb)
{
    return (proc_t *)pcb->body;
}

/* Any VM: whether the process `pid` is still there to take messages: its
 * slot holds that pid and its inbox is open (the inbox word `in` carries
 * the tag of its generation, and is not CLOSED). An ending process closes its inbox before it sends its exit
 * signals and DOWN messages, so whoever got those sees it gone. */
static inline bool inbox_open(uint64_t in, uint64_t tag)
{
    return (in & ~INBOX_OFF_MASK) == tag && (in & INBOX_OFF_MASK) != INBOX_CLOSED;
}

static inline bool proc_is_open(const shm_header_t *h, pcb_t *pcb, uint64_t pid)
{
    return inbox_open(ck_pr_load_64(&proc_of(pcb)->inbox), inbox_tag(pid / h->cfg.proc_slots)) &&
           ck_pr_load_64(&pcb->pid) == pid;
}

/* The per-VM runtime state of the VM that runs processes now. Private. */
typedef struct rt {
    shm_header_t *h;
    uint32_t vm, node;
    pcb_t *cur;               /* the running process */
    uint64_t rng;             /* xorshift state of (random n) */
    bool gc_torture;
    uint64_t default_heap_limit_words;
    struct sched *sched;      /* this VM's scheduler */
    bool trap;                /* a builtin asks the interpreter to yield now ((migrate vm)) */
    bool migrate_torture;     /* SHOAL_MIGRATE_TORTURE: move at every safe point */
    uint32_t spawn_next;      /* round-robin cursor of spawn placement */
} rt_t;

#endif
