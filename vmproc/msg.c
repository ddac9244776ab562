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
 * before it lets a process wait, stores WAITING and then looks at the inbox
 * again (with a full fence between, as the sender has between its CAS and
 * its load of the status), so either the owner sees the message or the
 * sender sees WAITING: no wake-up is lost (the Dekker pattern).
 *
 * A sender that dies: before its CAS nothing is published; after it the
 * whole message is. The buffer it was filling belongs to the receiver's
 * slot from the moment it is allocated (so that a published one is never
 * freed by the recovery of the sender's VM); one that died unpublished is
 * left over, a page per crash, until the pool is recreated. Bounded by
 * the restart limit; tests/test_msg.c checks the bound.
 */
#include "vmproc/msg.h"

#include "shm/pool.h"
#include "shm/vmtab.h"
#include "vmproc/balance.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/sched.h"

#include <ck_pr.h>

static term *node_at(const shm_header_t *h, uint64_t off)
{
    return (term *)((char *)h + off);
}

enum send_result msg_send(rt_t *rt, uint64_t to, enum sig_kind kind, uint64_t from, term payload,
                          term extra)
{
    shm_header_t *h = rt->h;
    uint32_t slots = h->cfg.proc_slots;
    uint64_t gen = to / slots;
    if (to == 0 || gen > UINT32_MAX)
        return SEND_NOPROC;
    uint32_t slot = (uint32_t)(to % slots);
    pcb_t *pcb = shm_pcb(h, slot);
    proc_t *p = proc_of(pcb);
    uint64_t tag = inbox_tag(gen);
    if (!proc_is_open(h, pcb, to))
        return SEND_NOPROC;

    uint64_t words = MSG_NODE_WORDS + term_size(payload) + term_size(extra);
    size_t pages = (size_t)((words * sizeof(term) + sizeof(hblock_t) + SHOAL_PAGE - 1) / SHOAL_PAGE);
    hblock_t *buf = pool_alloc(h, rt->vm, rt->node, pages, POOL_OWNER_PROC(slot));
    if (!buf)
        return SEND_NOMEM;
    buf->next = NULL;
    buf->end = (term *)((char *)buf + pages * SHOAL_PAGE);
    buf->node = pool_node_of(h, buf);
    term *node = hblock_start(buf);
    term *hp = node + MSG_NODE_WORDS;
    node[0] = mk_hdr(MSG_NODE_WORDS, BT_MSG);
    node[2] = term_copy(payload, &hp);
    node[3] = mk_fix(kind);
    node[4] = mk_pid(from);
    node[5] = term_copy(extra, &hp);
    buf->top = hp;
    uint64_t off = (uint64_t)((char *)node - (char *)h);

    for (;;) {
        uint64_t cur = ck_pr_load_64(&p->inbox);
        if (!inbox_open(cur, tag)) {
            pool_free(h, rt->vm, buf);
            return SEND_NOPROC;
        }
        uint64_t next = cur & INBOX_OFF_MASK;
        node[1] = next ? mk_box(node_at(h, next)) : 0;
        /* Release: the node's contents are visible before the node is. */
        ck_pr_fence_store();
        if (ck_pr_cas_64(&p->inbox, cur, tag | off))
            break;
    }
    balance_count_send(rt, pcb, from, to);
    /* Atomic-load fence: our push (the CAS) is ordered before the read of
     * the status (see the header: the owner does the mirror image with a
     * full fence after its plain store of WAITING). On TSO machines a
     * locked CAS already is one, so this costs no mfence. */
    ck_pr_fence_atomic_load();
    if (ck_pr_load_32(&p->status) == PS_WAITING &&
        ck_pr_cas_32(&p->status, PS_WAITING, PS_RUNNABLE))
        sched_wake_proc(rt, pcb);
    return SEND_OK;
}

enum send_result msg_send_exit(rt_t *rt, uint64_t to, enum sig_kind kind, uint64_t from,
                               term reason)
{
    term tup[4] = {mk_hdr(4, BT_TUPLE), mk_atom(A_EXIT), mk_pid(from), reason};
    return msg_send(rt, to, kind, from, mk_box(tup), reason);
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
static term take_all(rt_t *rt, pcb_t *pcb, uint64_t with)
{
    proc_t *p = proc_of(pcb);
    uint64_t tag = pcb_inbox_tag(rt->h, pcb);
    uint64_t old = ck_pr_fas_64(&p->inbox, tag | with);
    /* Acquire: pairs with the senders' release before their CAS. */
    ck_pr_fence_acquire();
    uint64_t off = old & INBOX_OFF_MASK;
    if (off == INBOX_CLOSED)
        return 0;
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

/* Copy the message `node` into the heap if it is small and fits; returns
 * the copy, or NULL (the buffer then stays, to join the heap later). */
static term *copy_in(rt_t *rt, proc_t *p, term *node)
{
    hblock_t *buf = (hblock_t *)node - 1;
    uint64_t used = (uint64_t)(buf->top - node);
    if (used > MSG_INLINE_WORDS || (uint64_t)(p->hlim - p->hp) < used)
        return NULL;
    /* A copy of the buffer's terms is no larger than they are there. */
    term *copy = p->hp;
    term *hp = copy + MSG_NODE_WORDS;
    copy[0] = node[0];
    copy[1] = 0;
    copy[2] = term_copy(node[2], &hp);
    copy[3] = node[3];
    copy[4] = node[4];
    copy[5] = term_copy(node[5], &hp);
    p->hp = hp;
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

uint64_t msg_take(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    if ((ck_pr_load_64(&p->inbox) & INBOX_OFF_MASK) == 0)
        return 0;
    term list = take_all(rt, pcb, 0);
    uint64_t added = 0;
    while (list) {
        term *node = box_ptr(list);
        list = node[1];
        term from = node[4], extra = node[5];
        enum sig_kind kind = (enum sig_kind)fix_val(node[3]);
        /* Signals keep their buffers: the nodes that stay on a chain
         * (links, monitors) live there, the others go at the next GC. */
        if (kind != SIG_MSG)
            keep(rt, p, node);
        switch (kind) {
        case SIG_MSG:
            deliver(rt, p, node);
            added++;
            break;
        case SIG_EXIT_LINK:
            if (!msg_chain_remove(&p->links, 4, from))
                break; /* unlinked since: the signal is void */
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
            if (!msg_chain_has(p->links, 4, from))
                push_chain(&p->links, node);
            break;
        case SIG_UNLINK:
            msg_chain_remove(&p->links, 4, from);
            break;
        case SIG_MONITOR:
            push_chain(&p->monitored_by, node);
            break;
        case SIG_DEMONITOR:
            msg_chain_remove(&p->monitored_by, 5, extra);
            break;
        }
    }
    return added;
}

static void send_down(rt_t *rt, uint64_t to, term ref, uint64_t me, term reason)
{
    term tup[5] = {mk_hdr(5, BT_TUPLE), mk_atom(A_DOWN), ref, mk_pid(me), reason};
    msg_send(rt, to, SIG_MSG, me, mk_box(tup), T_NIL);
}

bool msg_close(rt_t *rt, pcb_t *pcb, term reason)
{
    proc_t *p = proc_of(pcb);
    uint64_t me = pcb->pid;
    /* Requests still in flight are answered as if they came just before
     * the end; everything else in them is dropped with the buffers. */
    term list = take_all(rt, pcb, INBOX_CLOSED);
    while (list) {
        term *node = box_ptr(list);
        list = node[1];
        switch ((enum sig_kind)fix_val(node[3])) {
        case SIG_LINK:
            if (!msg_chain_has(p->links, 4, node[4]))
                msg_send_exit(rt, pid_of(node[4]), SIG_EXIT_LINK, me, reason);
            break;
        case SIG_MONITOR:
            send_down(rt, pid_of(node[4]), node[5], me, reason);
            break;
        default:
            break;
        }
        pool_free(rt->h, rt->vm, (hblock_t *)node - 1);
    }
    bool watched = p->links || p->monitored_by;
    for (term l = p->links; l; l = box_ptr(l)[1])
        msg_send_exit(rt, pid_of(box_ptr(l)[4]), SIG_EXIT_LINK, me, reason);
    for (term m = p->monitored_by; m; m = box_ptr(m)[1])
        send_down(rt, pid_of(box_ptr(m)[4]), box_ptr(m)[5], me, reason);
    for (term m = p->monitoring; m; m = box_ptr(m)[1])
        msg_send(rt, pid_of(box_ptr(m)[4]), SIG_DEMONITOR, me, T_NIL, box_ptr(m)[5]);
    p->links = p->monitored_by = p->monitoring = 0;
    return watched;
}
