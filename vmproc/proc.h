/*
 * proc.h: a green process: its heap, stack, registers and mailbox.
 *
 * All of a process lives in the shared segment: proc_t overlays the body
 * of its PCB, and its heap blocks, stack and message buffers are either
 * runs of the page pool owned by POOL_OWNER_PROC(slot), or chunks of the
 * slabs of process memory (shm/slab.h, shm_heap_slabs) named from this
 * PCB. So handing the process to another VM hands over all of it by
 * changing the PCB's owner word.
 *
 * A new process has one small block, `cblock` (a slab chunk; a page when
 * it starts on another node than its spawner's): its heap grows up from
 * the bottom, its stack sits at the top, as in BEAM. The stack takes the
 * heap's free room below it when it needs more, and moves to a block of
 * its own (a bigger chunk, or a run of pages) when the two meet; the heap
 * goes on in blocks of pages (heap.c). cblock is given back when neither
 * the heap nor the stack uses it any more.
 *
 * The stack: values (terms) grow up from stack_lo, control frames (ctl_t:
 * calls, catches, guards) grow down from stack_hi. Pointers into it (sp,
 * ctl, and the frames' fp and base) are moved by stack_grow when the
 * stack moves; the process's fp is an index from stack_lo.
 *
 * NOTES
 *   Every field of proc_t is touched by the owner VM only, except those of
 *   its first cache line, which other VMs touch with atomics (each field
 *   says how).
 */
#ifndef SHOAL_VMPROC_PROC_H
#define SHOAL_VMPROC_PROC_H

#include "shm/plan.h"
#include "shm/proctab.h"
#include "vmproc/code.h"

#include <ck_pr.h>
#include <stdbool.h>

/* Heap and stack are counted per NUMA node for the first PROC_NODES nodes;
 * a machine with more nodes has the rest counted on the last one. The
 * unit is PROC_LINE bytes: every block a process holds is a whole number
 * of them (pool pages, and slab chunks of classes that are). */
#define PROC_NODES 8
/* The most arguments a process can keep in its PCB until it first runs. */
#define PROC_START_ARGS 3
#define PROC_LINE 64u

/* The header of a heap block or message buffer (a run from the pool). */
typedef struct hblock {
    struct hblock *next;
    term *end;   /* first word past the block */
    term *top;   /* words in use end here (kept up to date when the block is left) */
    uint32_t node; /* NUMA node of its pages, set by whoever allocated it */
    uint32_t bytes; /* the first block (heap_init): its whole size, heap and
                     * stack (a slab chunk if at most SLAB_MAX), so that
                     * its end and kind need no look at the pool's
                     * descriptors; a block of the old generation:
                     * HBLOCK_OLD; of survivors: HBLOCK_AGED; any other
                     * block: 0 (whoever makes a block sets it: pages
                     * are reused) */
} hblock_t;

/* hblock_t.bytes of a block of the old generation, and of a young block
 * of survivors of a minor collection (heap.c) */
#define HBLOCK_OLD 0xffffffffu
#define HBLOCK_AGED 0xfffffffeu

static inline term *hblock_start(hblock_t *b)
{
    return (term *)(b + 1);
}

enum ctl_kind { CTL_CALL = 0, CTL_CATCH, CTL_GUARD, CTL_TRY };

/* A control frame: what a return, or a raise that lands here, resumes.
 * Four words, written by a call without arithmetic: the kind rides in the
 * low two bits of pc (code words are 4-byte aligned), 0 for a call, so a
 * call frame's pc is the plain return address. fp and base point into the
 * value stack; stack_grow moves them with it. */
typedef struct ctl {
    const uint32_t *pc;     /* return address, or the handler; | kind */
    const func_t *func;     /* the function to go on in */
    term *fp;               /* its frame */
    term *base;             /* CALL: where the result goes; CATCH/GUARD/TRY: sp to restore */
} ctl_t;

static inline enum ctl_kind ctl_kind(const ctl_t *c)
{
    return (enum ctl_kind)((uintptr_t)c->pc & 3u);
}

static inline const uint32_t *ctl_pc(const ctl_t *c)
{
    return (const uint32_t *)((uintptr_t)c->pc & ~(uintptr_t)3u);
}

/* The status word: the state in its low 4 bits. A RUNNABLE or MOVING process also
 * names the VM that holds it, with that VM's incarnation
 * (shm_vm_t.restarts): the VM whose run queue or inbound list it is on,
 * or, with PS_PUSHING, the VM that is pushing it onto another's inbound
 * list (it names itself before the push and the target after). If that
 * VM dies with the process in its hands, the incarnation no longer
 * matches, and the owner takes the process over (recover.h); a takeover
 * and a drain both CAS from the value they read, so exactly one of them
 * gets it. */
enum proc_status {
    PS_RUNNABLE = 1,
    PS_RUNNING,
    PS_WAITING,   /* in receive (or sleep) with nothing to do */
    PS_EXITING,
    PS_MOVING     /* waiting, and being handed to another VM: on that VM's inbound
                   * list; its new owner makes it WAITING (or RUNNABLE) again */
};
#define PS_STATE_MASK 0xfu

static inline uint32_t ps_state(uint32_t status)
{
    return status & PS_STATE_MASK;
}

#define PS_PUSHING 0x10u

/* WAITING, and its owner VM looks at its inbox itself (sched.c, "Polled
 * waits"): senders and timers wake only a status of exactly PS_WAITING,
 * so a message to a polled process is published and nothing more; the
 * owner sees it at its next round. ps_state() reads it as WAITING. Only
 * the owner sets or clears it. */
#define PS_POLLED (PS_WAITING | 0x10u)

/* RUNNABLE, held by incarnation `inc` of VM `vm`. */
static inline uint32_t ps_runnable(uint32_t vm, uint32_t inc)
{
    return PS_RUNNABLE | (vm & 0x7ffu) << 5 | (inc & 0xffffu) << 16;
}

/* RUNNABLE, being pushed by incarnation `inc` of VM `vm`. */
static inline uint32_t ps_pushing(uint32_t vm, uint32_t inc)
{
    return ps_runnable(vm, inc) | PS_PUSHING;
}

/* MOVING, held by incarnation `inc` of VM `vm` (PS_PUSHING as above). */
static inline uint32_t ps_moving(uint32_t vm, uint32_t inc)
{
    return PS_MOVING | (vm & 0x7ffu) << 5 | (inc & 0xffffu) << 16;
}

static inline uint32_t ps_queuer(uint32_t status)
{
    return (status >> 5) & 0x7ffu;
}

static inline uint32_t ps_queuer_inc(uint32_t status)
{
    return status >> 16;
}

/* How a process ends, or what it raised. ERROR's reason is #(error value). */
enum exit_class { EXC_NONE = 0, EXC_NORMAL, EXC_ERROR, EXC_EXIT, EXC_THROW };

typedef struct proc {
    /* any VM: what senders, wakers, stealers and the balancer touch, 32
     * bytes that end the PCB's first line (with its pid, state and owner,
     * which a sender reads too), so a send moves one line, not several */
    uint64_t inbox;           /* CAS-pushed nodes, newest first; see INBOX_* */
    uint32_t status;          /* ps_state() is an enum proc_status, with the queuer
                               * if RUNNABLE; others CAS WAITING -> RUNNABLE */
    uint32_t inbound_next;    /* next PCB (slot + 1) on a VM's inbound list */
    uint32_t hint_vm;         /* owner VM, acting on a plan: move to VM (hint_vm & 0xffff) - 1,
                               * cause hint_vm >> 16, at its next safe point; 0: no */
    uint32_t arriving;        /* set by the VM that hands the process over: cause + 1 */
    uint32_t msgs_pending;    /* messages published to the inbox and not yet taken:
                               * senders add 1 after their CAS, the owner
                               * subtracts what it takes (process-info) */
    uint32_t exit_stage;      /* EXIT_STAGE_*: how far the owner got in ending it
                               * (sched.c proc_exit; recovery resumes from
                               * there if the VM dies); written once or twice
                               * in a life, so it may share this line */

    /* owner VM only, from here on */
    /* heap */
    hblock_t *hfirst;         /* blocks, oldest first */
    union {
        struct {
            hblock_t *hcur;   /* the block that takes allocations */
            term *hp, *hlim;  /* bump pointer and limit in hcur */
            hblock_t *frags;  /* message buffers not yet joined by a GC */
        };
        /* A process that has not run yet (proc_unstarted): the function
         * and the arguments it starts with, all immediates or in the code
         * area. It gets its heap and stack where it first runs
         * (interp_start_now, from sched_run_one), so a process another
         * VM takes before it ran never touches the spawner's memory. */
        term start[1 + PROC_START_ARGS];
    };
    hblock_t *gc_old, *gc_old_frags; /* a collection's old chains while it frees them */
    hblock_t *cblock;         /* the first block, while the heap (as hfirst) or the
                               * stack (inside it) still uses it; else NULL */
    uint64_t frag_words;      /* words in frags */
    uint64_t heap_words;      /* words in all heap blocks, both generations */
    uint64_t gc_threshold;    /* grow by adding young blocks until they pass this */
    uint64_t live_words;      /* live after the last GC */
    uint64_t heap_limit_words;
    /* the old generation (heap.c), of a process with much live data:
     * what the last major collection copied and what minor ones promoted
     * since; NULL while the process has one generation */
    hblock_t *ofirst, *ocur;  /* its blocks, oldest first; ocur takes promotions */
    hblock_t *gc_old_gen;     /* a major collection's old generation while it frees it */
    uint64_t old_words;       /* words in its blocks (counted in heap_words too) */
    uint64_t old_used;        /* words in use in them */
    /* stack and registers */
    term *stack_lo, *stack_hi;
    term *sp;
    ctl_t *ctl;
    const uint32_t *pc;
    const func_t *func;
    uint32_t fp;              /* the frame, as an index from stack_lo (interp.c's
                               * SAVE and LOAD convert): half a pointer, and it
                               * needs no fixing when the stack moves */
    uint32_t flags;
    /* mailbox: message nodes (BT_MSG) in arrival order */
    term mbox_first, mbox_last;
    term mbox_prev;           /* receive cursor: node before the current one, 0 = head */
    uint64_t mbox_len;
    /* The receive mark: recv_ref is the ref this process made last
     * (make-ref, monitor, spawn-monitor; 0: none) and recv_mark the node
     * that was last in the mailbox then (0 = the head), or one before it.
     * No message at or before recv_mark can hold recv_ref, so a receive
     * whose every pattern must match that ref starts after it (RECV_MARK,
     * as BEAM's receive markers do). RECV_ACCEPT keeps it on the list. */
    term recv_ref;
    term recv_mark;
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
    uint32_t mig[MIG_CAUSES]; /* moves by cause (enum mig_cause) */
    /* the owner VM's list of its waiting processes (vmproc/balance.c),
     * slot + 1 of the neighbours; wait_vm: the VM whose list holds it, + 1 */
    uint32_t wait_prev, wait_next, wait_vm;
    uint32_t node_lines[PROC_NODES]; /* heap and stack per NUMA node, in 64-byte
                               * lines (PROC_LINE): 256 GiB a node */
    /* scheduling */
    struct pcb *rq_next;      /* next on the owner VM's run queue (sched.c) */
    uint32_t pin_depth;       /* call-on calls in progress: balancing leaves it alone */
    uint32_t reds_debt;       /* reductions its sends cost (sender punishment, bif_send),
                               * taken off its next slice */
    uint32_t reserved;        /* pool pages reserved for the exit signals this
                               * process owes (one per link and per watcher;
                               * msg.c, "Reservations") */
    uint32_t major_pages;     /* the heap's (in a 4-byte hole here): the next
                               * collection is major once old_used passes
                               * this many pages' words (heap.c) */
    /* where an error that no catch took was raised (trace.h): the
     * function, the instruction, and the control frames above it, as
     * bytes below stack_hi; trace_fn is NULL when there is none */
    const func_t *trace_fn;
    const uint32_t *trace_pc;
    uint64_t trace_ctl;
    /* statistics (vmproc/info.h): reductions since it started; `reds`
     * when stats window reds_epoch (run.stats_epoch) began for it, and the
     * reductions of the window before that one */
    uint64_t reds;
    uint32_t reds_mark;       /* the low 32 bits of reds then */
    uint32_t reds_epoch, reds_prev;
    uint32_t gcs;             /* collections */
} proc_t;

/* How far an ending process got: a VM that dies in the middle leaves a
 * process the next incarnation finishes without sending anything twice
 * that a receiver would see twice (receivers drop a second EXIT or DOWN
 * anyway, msg.c). */
enum exit_stage {
    EXIT_STAGE_NONE = 0, /* running or not ending */
    EXIT_STAGE_SIGNALS,  /* inbox closed; exit signals being sent */
    EXIT_STAGE_MEMORY    /* signals sent; runs being given back */
};

/* A move made by SHOAL_MIGRATE_TORTURE: counted under no cause (the causes,
 * enum mig_cause, are in shm/plan.h). */
#define MIG_TORTURE ((enum mig_cause)0xff)

/* Process flags (owner only). */
#define PF_TRAP_EXIT 1u   /* exit signals arrive as #(EXIT pid reason) messages */
#define PF_KILLED 2u      /* an exit signal ended it: no catch applies */
#define PF_PLACED 4u      /* spawn-on put it on a VM: not stolen before it ran there */
#define PF_PINNED 8u      /* it called (migrate vm): balancing leaves it on that VM
                           * until it next waits in receive (LANGUAGE.md, Placement);
                           * also pin_depth > 0 (call-on): see proc_pinned */
#define PF_OUT_OF_POOL 32u /* it ended because the shared pool was exhausted */
#define PF_IN_RUNQ 64u    /* on its owner's run queue (at most once) */
#define PF_HIB_NOTED 128u /* on its owner's list of processes to hibernate if they
                           * wait long enough (sched.c, "Hibernation") */
/* Bits 24..27: the arguments in proc_t.start, + 1, of a process that has
 * not run yet; 0 once it has (or if it started with a heap). */
#define PF_START_SHIFT 24
#define PF_START_MASK (0xfu << PF_START_SHIFT)
#define PF_TORTURE_HOLD 16u /* migration torture: it just yielded at this receive;
                           * run it once before the next torture yield */

/* The inbox word: a 16-bit tag from the slot's generation (bits 48-63),
 * INBOX_CLOSED (bit 47) once the process has ended, and the offset of the
 * newest node from the segment base (bits 0-46; 0: empty). Closing keeps
 * the nodes that were there, so that an ending process whose VM dies
 * leaves them where the next incarnation finds them. A sender CASes only
 * from a word whose tag matches the pid it looked up and that is not
 * closed, so a message can never land in a process that ended, or in a
 * later one that reuses the slot. */
#define INBOX_OFF_MASK ((1ull << 47) - 1)
#define INBOX_CLOSED (1ull << 47)
#define INBOX_TAG_MASK (~((1ull << 48) - 1))
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
_Static_assert(offsetof(pcb_t, body) + offsetof(proc_t, hfirst) == SHOAL_CACHE_LINE,
               "what any VM touches is the PCB's first line; the owner's fields start the second");

_Static_assert(PROC_START_ARGS + 1 < (PF_START_MASK >> PF_START_SHIFT), "argc + 1 fits its bits");

/* Whether the process has not run yet, its start in proc_t.start. */
static inline bool proc_unstarted(const proc_t *p)
{
    return (p->flags & PF_START_MASK) != 0;
}

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
    return (in & (INBOX_TAG_MASK | INBOX_CLOSED)) == tag;
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
    uint32_t inc;             /* this VM's incarnation (shm_vm_t.restarts) */
    pcb_t *cur;               /* the running process */
    uint64_t rng;             /* xorshift state of (random n) */
    bool gc_torture;
    uint64_t default_heap_limit_words;
    struct sched *sched;      /* this VM's scheduler */
    bool trap;                /* a builtin asks the interpreter to yield now ((migrate vm)) */
    uint32_t bif_cost;        /* reductions the running builtin's work cost (bif_charge) */
    uint32_t send_queued;     /* messages the receiver of the last send had waiting
                               * in its inbox, not yet taken (msg.c send) */
    bool migrate_torture;     /* SHOAL_MIGRATE_TORTURE: move at every safe point */
    uint32_t spawn_next;      /* round-robin cursor of spawn placement */
    int64_t late_delta;       /* processes started later, less those that ran,
                               * not yet added to run.late_pending (sched.c) */
    uint64_t ref_next, ref_end; /* refs this VM may hand out (a block taken
                               * from run.next_ref, so that making a ref
                               * writes no shared line); empty at first */
    /* counters, published to the VM table by the scheduler loop */
    uint64_t reductions;      /* reductions executed here (info_slice adds each slice's) */
    uint32_t slice_reds;      /* reductions of the last slice (interp_run sets it) */
    uint32_t sample_left;     /* sends until the next traffic sample (balance.c) */
    uint64_t msgs[2];         /* messages sent: [0] to this VM, [1] to another */
    struct balance *bal;      /* this VM's balancing state (vmproc/balance.h) */
    struct arena_local *arena; /* message slots held to give back (shm/arena.h), or NULL */
    bool wait_list;           /* keep the list of waiting processes (the policy asks) */
    /* statistics (vmproc/info.h) */
    uint64_t *msg_row;        /* this VM's row of the message matrix (shm/info.h) */
    uint32_t msg_n;           /* its length: n_vms, or 0 (tests that set up no VM) */
    struct shm_info *info;    /* this VM's request area (shm/info.h), or NULL */
    uint64_t info_seen;       /* the last request answered */
} rt_t;

#endif
