/*
 * msg.h: messages and signals between processes, on any VMs.
 *
 * A sender copies the message into a slot of its VM's message arena
 * (small plain messages, shm/arena.h) or a buffer (a run of pool pages
 * owned by the receiver's slot) and publishes it to the receiver's inbox with one
 * CAS, so a sender that dies mid-send leaves the whole message or nothing.
 * The receiver's owner takes the inbox whole (one exchange) and reverses
 * it, which keeps each sender's order. Signals (exit, link, unlink,
 * monitor, demonitor) travel the same way, so they stay ordered with the
 * messages of the same sender, as in Erlang.
 *
 * A node is a boxed BT_MSG object, 6 words:
 *   [0] header  [1] next node (0: none)  [2] payload (the message, or for
 *   EXIT signals the #(EXIT from reason) message a trapping receiver gets)
 *   [3] kind (integer)  [4] sender pid  [5] extra (the exit reason, or a ref)
 * (A node in an arena slot has a shorter form: msg.c, ARENA_NODE_WORDS; it
 * is always copied into the heap, as a node of the form above, when taken.)
 * Nodes that stay (links, monitors) are kept on chains in the process and
 * join its heap at the next collection, like message buffers. A small
 * message that fits in the room of the receiver's current heap block is
 * copied there when it is taken, and its buffer is freed at once (msg.c,
 * MSG_INLINE_WORDS): the same result as joining at the next collection,
 * with the buffer page reused while it is still in the CPU cache.
 *
 * NOTES
 *   msg_send: any VM, for the process it runs (or one that is ending).
 *   msg_take: the receiver's owner VM only.
 */
#ifndef SHOAL_VMPROC_MSG_H
#define SHOAL_VMPROC_MSG_H

#include "vmproc/proc.h"

#define MSG_NODE_WORDS 6

enum sig_kind {
    SIG_MSG = 0,
    SIG_EXIT,       /* (exit pid reason): 'kill cannot be trapped */
    SIG_EXIT_LINK,  /* a linked process ended */
    SIG_LINK,
    SIG_UNLINK,
    SIG_MONITOR,    /* extra: the ref */
    SIG_DEMONITOR,  /* extra: the ref */
    SIG_DOWN        /* payload #(DOWN ref pid reason), extra: the ref; a message
                     * unless the receiver has demonitored the ref since */
};

enum send_result { SEND_OK = 0, SEND_NOPROC = 1, SEND_NOMEM = -1 };

/* Send `kind` with payload and extra (any readable terms; they are copied)
 * from `from` to pid `to`. SEND_NOPROC if `to` does not exist or has
 * ended; the message is then dropped. */
enum send_result msg_send(rt_t *rt, uint64_t to, enum sig_kind kind, uint64_t from, term payload,
                          term extra);

/* Send an exit signal for `reason` as the payload #(EXIT from reason). */
enum send_result msg_send_exit(rt_t *rt, uint64_t to, enum sig_kind kind, uint64_t from,
                               term reason);

/* The exit signals a process owes, each on a page reserved when the link
 * or monitor was made (msg.c, "Reservations"): an EXIT with `reason` to
 * a linked process, and a DOWN with `ref` and `reason` to a watcher. They
 * use up the reservation if the target takes them, and give it back if
 * the target is gone. */
enum send_result msg_exit_signal(rt_t *rt, uint64_t to, uint64_t from, term reason);
enum send_result msg_down_signal(rt_t *rt, uint64_t to, uint64_t from, term ref, term reason);

/* Owner only: the process holds one reservation fewer (a link or
 * watcher went without a signal). */
void msg_drop_reservation(rt_t *rt, proc_t *p);

/* Owner only: take what arrived in the inbox; messages join the mailbox,
 * signals are acted on. Returns the messages added. If an exit signal ends
 * the process, sets PF_KILLED with the reason in err_class/err_value.
 * Most calls find the inbox empty (a receive looks before it waits, and
 * the scheduler before a slice): that look is inline. */
uint64_t msg_take_some(rt_t *rt, pcb_t *pcb);
static inline uint64_t msg_take(rt_t *rt, pcb_t *pcb)
{
    uint64_t in = ck_pr_load_64(&proc_of(pcb)->inbox);
    /* (a closed inbox is the ending's business: msg_close) */
    if ((in & INBOX_OFF_MASK) == 0 || (in & INBOX_CLOSED))
        return 0;
    return msg_take_some(rt, pcb);
}

/* Owner only, once the process has ended: close the inbox and send what
 * its end owes: exit signals to links, DOWN to monitors, and answers to
 * link and monitor requests that were still in flight. Returns true if
 * anything watched it (links or monitors). It can be done again from the
 * start by a next incarnation of a VM that died in it: nothing a
 * receiver would see twice. The nodes left in the inbox stay there until
 * msg_free_closed gives them back (one at a time, resumable too). */
bool msg_close(rt_t *rt, pcb_t *pcb, term reason);
void msg_free_closed(rt_t *rt, pcb_t *pcb);

/* Chains of nodes linked through node[1]: remove the first node whose
 * word `field` is v (true if one was), or test for one. Owner only. */
bool msg_chain_remove(term *chain, int field, term v);
bool msg_chain_has(term chain, int field, term v);

/* The pid a term names, if it is a pid. */
static inline uint64_t pid_of(term t)
{
    return imm_val(t);
}

#endif
