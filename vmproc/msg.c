/*
 * msg.c: messages and signals (see msg.h for the format and the rules).
 *
 * Publication: the node is filled, then a release CAS puts it at the head
 * of the inbox. The CAS only succeeds from a word whose tag is the
 * receiver's generation and that is not CLOSED, so a message never lands
 * in a process that ended or in a later one on the same slot.
 *
 * Wake-up: after publishing, a sender that sees the receiver WAITING CASes
 * it to RUNNABLE and, if it won, queues it on its owner VM. The owner,
 * before it lets a process wait, stores WAITING (an atomic exchange) and
 * then looks at the inbox again (store-load order between, as the sender
 * has between its CAS and its load of the status), so either the owner
 * sees the message or the sender sees WAITING: no wake-up is lost (the
 * Dekker pattern).
 *
 * Where a message travels: a small plain message (at most 28 words of
 * payload) in a slot of the sender VM's arena (shm/arena.h: 64 or 256
 * bytes, no lock, given back in batches once the receiver has copied it
 * into its heap); anything else (signals, larger messages, or when the
 * arena cannot grow) in a buffer of its own, a run of pool pages.
 *
 * A sender that dies: before its CAS nothing is published; after it the
 * whole message is. An arena slot it was filling is leaked (arena.h says
 * what a crash can leave). The buffer it was filling belongs to the receiver's
 * slot from the moment it is allocated (so that a published one is never
 * freed by the recovery of the sender's VM); one that died unpublished is
 * left over, owned by the receiver's slot, for the rest of the run: one
 * buffer (a run of as many pages as the message needed) per crash, a
 * known leak (shm/pool.c says what would free it). tests/test_msg.c
 * checks that no more is left.
 *
 * Reservations: a process's exit signals (EXIT to each link, DOWN to each
 * watcher) must be delivered whatever the pool's state, so one pool page
 * is reserved for each when the link or monitor is made (pool.h,
 * pool_reserve), and the process counts the reservations it holds in
 * p->reserved:
 *   - (link q) reserves two pages: one for the EXIT this process may send
 *     q, one that the SIG_LINK request carries to q for the EXIT q may
 *     send back; (monitor q) reserves one, carried by SIG_MONITOR, for
 *     q's DOWN. If the pool cannot spare them, the call raises
 *     system_limit.
 *   - Taking a SIG_LINK or SIG_MONITOR adds the carried page to the
 *     taker's count (or gives it back if the link already existed).
 *   - An exit signal is allocated with pool_alloc_reserved, which uses
 *     the page; one that finds its target gone gives the page back.
 *   - A link or watcher that goes without a signal (unlink, demonitor, an
 *     EXIT from the linked process) gives its page back.
 * Every other message and signal is an ordinary allocation, and a send
 * that finds the pool exhausted is system_limit in the sender.
 */
#include "vmproc/msg.h"

#include "shm/arena.h"
#include "shm/pool.h"
#include "shm/vmtab.h"
#include "vmproc/balance.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/info.h"
#include "vmproc/sched.h"

#include <ck_pr.h>
#include <stdint.h>
#include <stdlib.h>

static term *node_at(const shm_header_t *h, uint64_t off)
{
    return (term *)((char *)h + off);
}

/* A small message in a slot of its sender VM's arena (shm/arena.h) is a
 * node of its own, shorter form: [0] the slot's arena (ARENA_META)
 * [1] next node (as any node) [2] payload [3] sender pid, and the
 * payload's words from [4]. It is always a plain message (SIG_MSG, extra
 * '()), and is always copied into the receiver's heap when taken, so no
 * heap ever points into an arena. */
#define ARENA_NODE_WORDS 4

static bool in_arena(const term *node)
{
    return arena_is_meta(node[0]);
}

static enum sig_kind node_kind(const term *node)
{
    return in_arena(node) ? SIG_MSG : (enum sig_kind)fix_val(node[3]);
}

/* Give back what a node was sent in, once it is out of every list. */
static void free_node(rt_t *rt, term *node)
{
    if (in_arena(node))
        arena_give_back(rt->h, rt->arena, rt->vm, (uint64_t *)node);
    else
        pool_free(rt->h, rt->vm, (hblock_t *)node - 1);
}

/* The size and copy passes, with fast paths for what most messages are:
 * an immediate (no words), or a tuple of immediates (one object, copied
 * whole in one pass that also checks it is flat). The general walks
 * (heap.c) keep an explicit stack and look at each object twice. */
/* Whether the words w of a tuple (header first) hold no pointer. */
static inline bool flat_words(const term *b, uint64_t w)
{
    uint64_t bits = 5u;
    for (uint64_t i = 1; i < w; i++)
        bits &= b[i] | (b[i] >> 2); /* bit 0 stays set while each is odd or has bit 2 */
    return (bits & 1u) != 0;
}

static inline uint64_t size_of(term t)
{
    if (!is_ptr(t))
        return 0;
    if (is_tuple(t)) {
        const term *b = box_ptr(t);
        uint64_t w = hdr_words(b[0]);
        if (flat_words(b, w))
            return w;
    }
    return term_size(t);
}

static inline term copy_of(term t, term **hp)
{
    if (!is_ptr(t))
        return t;
    if (is_tuple(t)) {
        const term *b = box_ptr(t);
        term *n = *hp;
        uint64_t w = hdr_words(b[0]);
        uint64_t bits = 5u;
        for (uint64_t i = 0; i < w; i++) {
            n[i] = b[i];
            bits &= b[i] | (b[i] >> 2);
        }
        if (bits & 1u) {
            *hp = n + w;
            return mk_box(n);
        }
        /* not flat: what was written is overwritten by the walk */
    }
    return term_copy(t, hp);
}

/* Counted in msgs_pending while in the inbox: what process-info reports. */
static bool is_message(enum sig_kind kind)
{
    return kind == SIG_MSG || kind == SIG_DOWN;
}

static enum send_result send(rt_t *rt, uint64_t to, enum sig_kind kind, uint64_t from,
                             term payload, term extra, bool reserved)
{
    shm_header_t *h = rt->h;
    uint32_t slots = h->cfg.proc_slots;
    uint64_t gen = to / slots;
    rt->send_queued = 0; /* unless it is published below */
    if (to == 0 || gen > UINT32_MAX)
        return SEND_NOPROC;
    uint32_t slot = (uint32_t)(to % slots);
    pcb_t *pcb = shm_pcb(h, slot);
    proc_t *p = proc_of(pcb);
    uint64_t tag = inbox_tag(gen);
    if (!proc_is_open(h, pcb, to))
        return SEND_NOPROC;

    uint64_t psize = size_of(payload);
    /* A small plain message: a slot of this VM's arena (no page, no pool
     * lock, no descriptor); if the arena cannot grow, a page as below. */
    int cls = kind == SIG_MSG && extra == T_NIL && !reserved
                  ? arena_class_for(ARENA_NODE_WORDS + psize)
                  : -1;
    term *node = cls >= 0 ? (term *)arena_alloc(h, rt->vm, rt->node, cls) : NULL;
    if (node) {
        term *hp = node + ARENA_NODE_WORDS;
        node[2] = copy_of(payload, &hp);
        node[3] = mk_pid(from);
    } else {
        uint64_t words = MSG_NODE_WORDS + psize + size_of(extra);
        size_t pages =
            (size_t)((words * sizeof(term) + sizeof(hblock_t) + SHOAL_PAGE - 1) / SHOAL_PAGE);
        hblock_t *buf = reserved
                            ? pool_alloc_reserved(h, rt->vm, rt->node, pages, POOL_OWNER_PROC(slot))
                            : pool_alloc(h, rt->vm, rt->node, pages, POOL_OWNER_PROC(slot));
        if (!buf)
            return SEND_NOMEM;
        buf->next = NULL;
        buf->end = (term *)((char *)buf + pages * SHOAL_PAGE);
        buf->node = pool_node_of(h, buf);
        buf->bytes = 0;
        node = hblock_start(buf);
        term *hp = node + MSG_NODE_WORDS;
        node[0] = mk_hdr(MSG_NODE_WORDS, BT_MSG);
        node[2] = copy_of(payload, &hp);
        node[3] = mk_fix(kind);
        node[4] = mk_pid(from);
        node[5] = copy_of(extra, &hp);
        buf->top = hp;
    }
    uint64_t off = (uint64_t)((char *)node - (char *)h);
    /* Counted before it is published, so that the owner, which subtracts
     * only what it took, never takes the count below zero. Relaxed: a
     * statistic; the CAS below orders it for the owner. */
    bool counted = is_message(kind);
    rt->send_queued = counted ? ck_pr_faa_32(&p->msgs_pending, 1) : 0;

    for (;;) {
        uint64_t cur = ck_pr_load_64(&p->inbox);
        if (!inbox_open(cur, tag)) {
            if (counted)
                ck_pr_dec_32(&p->msgs_pending);
            free_node(rt, node);
            return SEND_NOPROC;
        }
        uint64_t next = cur & INBOX_OFF_MASK;
        node[1] = next ? mk_box(node_at(h, next)) : 0;
        /* Release: the node's contents are visible before the node is. */
        ck_pr_fence_store();
        if (ck_pr_cas_64(&p->inbox, cur, tag | off))
            break;
    }
    if (counted)
        info_count_send(rt, ck_pr_load_32(&pcb->owner));
    balance_count_send(rt, pcb, from, to);
    /* Published: a reserved page is in use for good (see the header). */
    if (reserved)
        pool_unreserve(h, 1);
    /* Atomic-load fence: our push (the CAS) is ordered before the read of
     * the status (see the header: the owner does the mirror image with
     * its exchange of WAITING). On TSO machines a
     * locked CAS already is one, so this costs no mfence. */
    ck_pr_fence_atomic_load();
    sched_wake(rt, pcb);
    return SEND_OK;
}

enum send_result msg_send(rt_t *rt, uint64_t to, enum sig_kind kind, uint64_t from, term payload,
                          term extra)
{
    return send(rt, to, kind, from, payload, extra, false);
}

enum send_result msg_send_exit(rt_t *rt, uint64_t to, enum sig_kind kind, uint64_t from,
                               term reason)
{
    term tup[4] = {mk_hdr(4, BT_TUPLE), mk_atom(A_EXIT), mk_pid(from), reason};
    return send(rt, to, kind, from, mk_box(tup), reason, false);
}

/* An exit signal (EXIT or DOWN) on one reserved page (see the header).
 * A reason too large for what the pool can give is sent as system_limit:
 * the signal itself is never lost. The reservation is used if the target
 * took it, and given back otherwise. */
static enum send_result send_reserved(rt_t *rt, uint64_t to, enum sig_kind kind, uint64_t from,
                                      term payload, term extra, term small_payload,
                                      term small_extra)
{
    enum send_result r = send(rt, to, kind, from, payload, extra, true);
    if (r == SEND_NOMEM)
        r = send(rt, to, kind, from, small_payload, small_extra, true);
    if (r != SEND_OK) {
        /* gone, or (only if other nodes raced us for the last pages) no
         * page at all: either way the reservation is not needed now */
        pool_unreserve(rt->h, 1);
    }
    return r;
}

enum send_result msg_exit_signal(rt_t *rt, uint64_t to, uint64_t from, term reason)
{
    term tup[4] = {mk_hdr(4, BT_TUPLE), mk_atom(A_EXIT), mk_pid(from), reason};
    term small[4] = {mk_hdr(4, BT_TUPLE), mk_atom(A_EXIT), mk_pid(from), mk_atom(A_SYSTEM_LIMIT)};
    return send_reserved(rt, to, SIG_EXIT_LINK, from, mk_box(tup), reason, mk_box(small),
                         mk_atom(A_SYSTEM_LIMIT));
}

enum send_result msg_down_signal(rt_t *rt, uint64_t to, uint64_t from, term ref, term reason)
{
    term tup[5] = {mk_hdr(5, BT_TUPLE), mk_atom(A_DOWN), ref, mk_pid(from), reason};
    term small[5] = {mk_hdr(5, BT_TUPLE), mk_atom(A_DOWN), ref, mk_pid(from),
                     mk_atom(A_SYSTEM_LIMIT)};
    return send_reserved(rt, to, SIG_DOWN, from, mk_box(tup), ref, mk_box(small), ref);
}

void msg_drop_reservation(rt_t *rt, proc_t *p)
{
    SHOAL_ASSERT(p->reserved > 0, "a process gives back a reservation it does not hold");
    if (p->reserved > 0) {
        p->reserved--;
        pool_unreserve(rt->h, 1);
    }
}

/* Remove from a chain the first node whose word `field` equals v; returns
 * whether one was found. */
bool msg_chain_remove(term *chain, int field, term v)
{
    for (term *link = chain; *link; link = &box_ptr(*link)[1])
        if (box_ptr(*link)[field] == v) {
            *link = box_ptr(*link)[1];
            return true;
        }
    return false;
}

bool msg_chain_has(term chain, int field, term v)
{
    for (; chain; chain = box_ptr(chain)[1])
        if (box_ptr(chain)[field] == v)
            return true;
    return false;
}

static void push_chain(term *chain, term *node)
{
    node[1] = *chain;
    *chain = mk_box(node);
}

static void die(proc_t *p, term reason)
{
    if (p->flags & PF_KILLED)
        return; /* the first exit signal decides */
    p->flags |= PF_KILLED;
    p->err_class = EXC_EXIT;
    p->err_value = reason;
}

static void append_mailbox(proc_t *p, term *node)
{
    node[1] = 0;
    term t = mk_box(node);
    if (p->mbox_last)
        box_ptr(p->mbox_last)[1] = t;
    else
        p->mbox_first = t;
    p->mbox_last = t;
    p->mbox_len++;
}

/* Take the inbox word, leaving `with` (empty or closed); returns the
 * nodes oldest first, linked through node[1]. */
static term take_all(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    uint64_t tag = pcb_inbox_tag(rt->h, pcb);
    uint64_t old = ck_pr_fas_64(&p->inbox, tag);
    /* Acquire: pairs with the senders' release before their CAS. */
    ck_pr_fence_acquire();
    uint64_t off = old & INBOX_OFF_MASK;
    term rev = 0;
    while (off) {
        term *node = node_at(rt->h, off);
        term next = node[1];
        node[1] = rev;
        rev = mk_box(node);
        off = next ? (uint64_t)((char *)box_ptr(next) - (char *)rt->h) : 0;
    }
    return rev;
}

/* A message of at most this many words (node included) that fits in the
 * room left in the receiver's current heap block is copied there when it
 * is taken, and its buffer goes back to the pool at once. The buffer is
 * then the page this VM's page cache hands out next, still in the CPU
 * cache, instead of one of thousands of pages waiting for their
 * receivers' next collection (a ring of 1,000 processes kept ~64 MiB of
 * them in flight, and a send paid a cache miss per line it wrote). 128
 * words cover tuples of a few dozen small terms; copying them costs less
 * than one such miss. Larger messages join the heap at the next GC. */
#define MSG_INLINE_WORDS 128

/* Copy the message `node` into the heap if it is small and fits, or else
 * into the room left in the newest buffer kept (a buffer is a page or
 * more, and a small message uses a few words of it: packing the next
 * small messages there keeps one page for dozens of them until the next
 * collection, instead of a page each; a ring of 1,000 processes faulted
 * in 80 MiB of fresh pages without it). Returns the copy, or NULL (the
 * buffer then stays, to join the heap later). */
static term *copy_in(rt_t *rt, proc_t *p, term *node)
{
    hblock_t *buf = (hblock_t *)node - 1;
    uint64_t used = (uint64_t)(buf->top - node);
    if (used > MSG_INLINE_WORDS)
        return NULL;
    term *copy, **top;
    if ((uint64_t)(p->hlim - p->hp) >= used) {
        copy = p->hp;
        top = &p->hp;
    } else if (p->frags && (uint64_t)(p->frags->end - p->frags->top) >= used) {
        /* a buffer of this process's own (owned by its slot), that the
         * next collection takes in whole, as any buffer */
        copy = p->frags->top;
        top = &p->frags->top;
    } else {
        return NULL;
    }
    /* A copy of the buffer's terms is no larger than they are there. */
    term *hp = copy + MSG_NODE_WORDS;
    copy[0] = node[0];
    copy[1] = 0;
    copy[2] = copy_of(node[2], &hp);
    copy[3] = node[3];
    copy[4] = node[4];
    copy[5] = copy_of(node[5], &hp);
    *top = hp;
    pool_free(rt->h, rt->vm, buf);
    return copy;
}

/* The buffer of `node` stays: it joins the heap at the next collection. */
static void keep(rt_t *rt, proc_t *p, term *node)
{
    hblock_t *buf = (hblock_t *)node - 1;
    buf->next = p->frags;
    p->frags = buf;
    p->frag_words += (uint64_t)(buf->end - (term *)buf);
    heap_account(rt, p, buf, 1);
}

/* A new buffer of one page for small messages, kept as buffers are;
 * NULL if the pool has no page. */
static hblock_t *new_buffer(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    hblock_t *b = pool_alloc(rt->h, rt->vm, rt->node, 1, POOL_OWNER_PROC(pcb->slot));
    if (!b)
        return NULL;
    b->end = (term *)((char *)b + SHOAL_PAGE);
    b->top = hblock_start(b);
    b->node = pool_node_of(rt->h, b);
    b->bytes = 0;
    b->next = p->frags;
    p->frags = b;
    p->frag_words += SHOAL_PAGE / sizeof(term);
    heap_account(rt, p, b, 1);
    return b;
}

/* A message in an arena slot joins the mailbox as a copy (in the heap's
 * room, the newest buffer's, or a new buffer), and the slot goes back.
 * Without a page for the copy the process ends with system_limit, as
 * when it cannot grow its heap. Returns whether it was added. */
static bool deliver_arena(rt_t *rt, pcb_t *pcb, term *node)
{
    proc_t *p = proc_of(pcb);
    /* At most the slot's payload words, in a node of MSG_NODE_WORDS. */
    uint64_t need = MSG_NODE_WORDS + arena_slot_words(node[0]) - ARENA_NODE_WORDS;
    term *copy, **top;
    if ((uint64_t)(p->hlim - p->hp) >= need) {
        copy = p->hp;
        top = &p->hp;
    } else if ((p->frags && (uint64_t)(p->frags->end - p->frags->top) >= need) ||
               new_buffer(rt, pcb)) {
        copy = p->frags->top;
        top = &p->frags->top;
    } else {
        if (!(p->flags & PF_KILLED)) {
            p->flags |= PF_KILLED | PF_OUT_OF_POOL;
            p->err_class = EXC_ERROR;
            p->err_value = mk_atom(A_SYSTEM_LIMIT);
        }
        free_node(rt, node);
        return false;
    }
    term *hp = copy + MSG_NODE_WORDS;
    copy[0] = mk_hdr(MSG_NODE_WORDS, BT_MSG);
    copy[1] = 0;
    copy[2] = copy_of(node[2], &hp);
    copy[3] = mk_fix(SIG_MSG);
    copy[4] = node[3];
    copy[5] = T_NIL;
    *top = hp;
    free_node(rt, node);
    append_mailbox(p, copy);
    return true;
}

/* A message joins the mailbox, copied into the heap or in its buffer. */
static void deliver(rt_t *rt, proc_t *p, term *node)
{
    term *copy = copy_in(rt, p, node);
    if (copy) {
        append_mailbox(p, copy);
        return;
    }
    keep(rt, p, node);
    append_mailbox(p, node);
}

uint64_t msg_take_some(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    term list = take_all(rt, pcb);
    uint64_t added = 0;
    uint32_t messages = 0;
    while (list) {
        term *node = box_ptr(list);
        list = node[1];
        if (in_arena(node)) {
            messages++;
            added += deliver_arena(rt, pcb, node);
            continue;
        }
        term from = node[4], extra = node[5];
        enum sig_kind kind = (enum sig_kind)fix_val(node[3]);
        messages += is_message(kind);
        /* Signals keep their buffers: the nodes that stay on a chain
         * (links, monitors) live there, the others go at the next GC. */
        if (kind != SIG_MSG)
            keep(rt, p, node);
        switch (kind) {
        case SIG_MSG:
            deliver(rt, p, node);
            added++;
            break;
        case SIG_DOWN:
            /* A monitor cancelled since (demonitor) gets no DOWN, as in
             * Erlang; else the monitor is over and the DOWN is a message. */
            if (!msg_chain_remove(&p->monitoring, 5, extra))
                break;
            node[3] = mk_fix(SIG_MSG);
            append_mailbox(p, node);
            added++;
            break;
        case SIG_EXIT_LINK:
            if (!msg_chain_remove(&p->links, 4, from))
                break; /* unlinked since: the signal is void */
            msg_drop_reservation(rt, p); /* no EXIT owed to the dead process now */
            /* fall through */
        case SIG_EXIT:
            if (fix_val(node[3]) == SIG_EXIT && extra == mk_atom(A_KILL)) {
                die(p, mk_atom(A_KILLED));
            } else if (p->flags & PF_TRAP_EXIT) {
                node[3] = mk_fix(SIG_MSG);
                append_mailbox(p, node);
                added++;
            } else if (extra != mk_atom(A_NORMAL)) {
                die(p, extra);
            }
            break;
        case SIG_LINK:
            /* it carries one reserved page: the EXIT this process owes */
            if (!msg_chain_has(p->links, 4, from)) {
                push_chain(&p->links, node);
                p->reserved++;
            } else {
                pool_unreserve(rt->h, 1);
            }
            break;
        case SIG_UNLINK:
            if (msg_chain_remove(&p->links, 4, from))
                msg_drop_reservation(rt, p);
            break;
        case SIG_MONITOR:
            push_chain(&p->monitored_by, node);
            p->reserved++; /* the page it carries, for the DOWN */
            break;
        case SIG_DEMONITOR:
            if (msg_chain_remove(&p->monitored_by, 5, extra))
                msg_drop_reservation(rt, p);
            break;
        }
    }
    /* Relaxed: a statistic (process-info); the senders counted these
     * before they published them. */
    if (messages)
        ck_pr_sub_32(&p->msgs_pending, messages);
    /* A mailbox past its limit ends its process (LANGUAGE.md, the exit
     * reasons): uncatchable, as heap_limit. */
    uint32_t limit = rt->h->cfg.mailbox_limit;
    if (limit && p->mbox_len > limit && !(p->flags & PF_KILLED)) {
        p->flags |= PF_KILLED;
        p->err_class = EXC_ERROR;
        p->err_value = mk_atom(A_MAILBOX_LIMIT);
    }
    return added;
}

/* The nodes left in a closed inbox, oldest first, into a private array
 * (the list itself is not touched, so that a next incarnation can walk it
 * again). Returns how many, or SIZE_MAX if memory ran out. */
static size_t closed_nodes(rt_t *rt, uint64_t in, term ***out)
{
    size_t n = 0, cap = 0;
    term **v = NULL;
    for (uint64_t off = in & INBOX_OFF_MASK; off;) {
        term *node = node_at(rt->h, off);
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            term **nv = realloc(v, cap * sizeof *nv);
            if (!nv) {
                free(v);
                return SIZE_MAX;
            }
            v = nv;
        }
        v[n++] = node;
        off = node[1] ? (uint64_t)((char *)box_ptr(node[1]) - (char *)rt->h) : 0;
    }
    for (size_t i = 0; i < n / 2; i++) {
        term *t = v[i];
        v[i] = v[n - 1 - i];
        v[n - 1 - i] = t;
    }
    *out = v;
    return n;
}

bool msg_close(rt_t *rt, pcb_t *pcb, term reason)
{
    proc_t *p = proc_of(pcb);
    uint64_t me = pcb->pid;
    /* Close the inbox, keeping what is in it: from now on every send
     * fails, and the nodes stay reachable from the inbox word, so that if
     * this VM dies in the middle of what follows, its next incarnation can
     * do it all again (sched.c, "Recovery"). Everything below can be done
     * twice: a receiver drops a second EXIT or DOWN (the link or monitor
     * is gone by then), and removing what is not there changes nothing. */
    uint64_t in;
    do {
        in = ck_pr_load_64(&p->inbox);
    } while (!(in & INBOX_CLOSED) && !ck_pr_cas_64(&p->inbox, in, in | INBOX_CLOSED));
    /* Acquire: pairs with the senders' release before their CAS. */
    ck_pr_fence_acquire();
    term **nodes = NULL;
    size_t n = closed_nodes(rt, in, &nodes);
    if (n == SIZE_MAX)
        n = 0; /* out of private memory: requests in flight go unanswered */
    /* Cancellations first (an unlink or demonitor still in flight: no
     * signal for it), then requests in flight, answered as if they came
     * just before the end (a link or monitor: its EXIT or DOWN, on the
     * page it carries); messages are dropped with their buffers. */
    for (size_t i = 0; i < n; i++) {
        term *node = nodes[i];
        enum sig_kind k = node_kind(node);
        if (k == SIG_UNLINK && msg_chain_remove(&p->links, 4, node[4]))
            msg_drop_reservation(rt, p);
        else if (k == SIG_DEMONITOR && msg_chain_remove(&p->monitored_by, 5, node[5]))
            msg_drop_reservation(rt, p);
    }
    for (size_t i = 0; i < n; i++) {
        term *node = nodes[i];
        enum sig_kind k = node_kind(node);
        if (k == SIG_LINK) {
            if (!msg_chain_has(p->links, 4, node[4]))
                msg_exit_signal(rt, pid_of(node[4]), me, reason);
            else
                pool_unreserve(rt->h, 1);
        } else if (k == SIG_MONITOR) {
            msg_down_signal(rt, pid_of(node[4]), me, node[5], reason);
        }
    }
    if (nodes)
        free(nodes);
    bool watched = p->links || p->monitored_by;
    /* One reserved page each (see the header), so these go out whatever
     * the pool's state. */
    for (term l = p->links; l; l = box_ptr(l)[1])
        msg_exit_signal(rt, pid_of(box_ptr(l)[4]), me, reason);
    for (term m = p->monitored_by; m; m = box_ptr(m)[1])
        msg_down_signal(rt, pid_of(box_ptr(m)[4]), me, box_ptr(m)[5], reason);
    for (term m = p->monitoring; m; m = box_ptr(m)[1])
        msg_send(rt, pid_of(box_ptr(m)[4]), SIG_DEMONITOR, me, T_NIL, box_ptr(m)[5]);
    return watched;
}

void msg_free_closed(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    for (;;) {
        uint64_t in = ck_pr_load_64(&p->inbox);
        uint64_t off = in & INBOX_OFF_MASK;
        if (!off)
            return;
        term *node = node_at(rt->h, off);
        uint64_t next = node[1] ? (uint64_t)((char *)box_ptr(node[1]) - (char *)rt->h) : 0;
        /* The word first, then the free: dying in between leaks this
         * buffer, never frees it twice. Nobody sends to a closed inbox. */
        ck_pr_store_64(&p->inbox, (in & ~INBOX_OFF_MASK) | next);
        ck_pr_fence_store();
        free_node(rt, node);
    }
}
