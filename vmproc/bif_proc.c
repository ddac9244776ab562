/*
 * bif_proc.c: process builtins (LANGUAGE.md, "Processes", and the error
 * builtins): self, spawn, spawn-on, spawn-link, spawn-monitor, send (to a
 * pid or a registered name), link, unlink, monitor, demonitor,
 * trap-exits, make-ref, alive?, register, unregister, whereis, error and
 * exit.
 */
#include "vmproc/bif.h"

#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "vmproc/interp.h"
#include "vmproc/msg.h"
#include "vmproc/register.h"
#include "vmproc/sched.h"
#include "shm/pool.h"

#include <ck_pr.h>
#include <errno.h>

BIF(bif_raise_error)
{
    proc_t *p = proc_of(pcb);
    p->err_class = EXC_ERROR;
    p->err_value = args[0];
    return T_NONE;
}

BIF(bif_throw)
{
    proc_t *p = proc_of(pcb);
    p->err_class = EXC_THROW;
    p->err_value = args[0];
    return T_NONE;
}

BIF(bif_exit)
{
    proc_t *p = proc_of(pcb);
    if (argc == 1) {
        p->err_class = EXC_EXIT;
        p->err_value = args[0];
        return T_NONE;
    }
    if (!is_pid(args[0]))
        return bif_error(p, A_BADARG);
    if (msg_send_exit(rt, pid_of(args[0]), SIG_EXIT, pcb->pid, args[1]) == SEND_NOMEM)
        return bif_error(p, A_SYSTEM_LIMIT);
    if (pid_of(args[0]) == pcb->pid) {
        /* An exit signal to oneself takes effect before the call
         * returns, as in Erlang: act on the inbox now (the signal is
         * behind whatever arrived before it). A 'normal signal, which
         * leaves other processes alone, ends the caller itself unless it
         * traps exits. */
        msg_take(rt, pcb);
        if (!(p->flags & (PF_KILLED | PF_TRAP_EXIT)) && args[1] == mk_atom(A_NORMAL)) {
            p->flags |= PF_KILLED;
            p->err_class = EXC_EXIT;
            p->err_value = args[1];
        }
        if (p->flags & PF_KILLED)
            return T_NONE; /* the interpreter ends the process, no catch applies */
    }
    return mk_atom(A_TRUE);
}

BIF(bif_self)
{
    return mk_pid(pcb->pid);
}

/* spawn and spawn-on: the function (a closure, or an atom naming a
 * top-level function) is fa[0], its arguments follow. */
/* Refs are taken from run.next_ref a block at a time, and handed out
 * by this VM from its block: unique, not ordered (a VM that dies loses
 * the rest of its block, which is harmless). */
#define REF_BLOCK 4096u

/* A fresh ref, which also sets the running process's receive mark
 * (proc.h, recv_ref): no message already in its mailbox can hold it. */
static term new_ref(rt_t *rt, pcb_t *pcb)
{
    if (rt->ref_next == rt->ref_end) {
        /* relaxed: refs only need to be unique */
        rt->ref_next = ck_pr_faa_64(&rt->h->run.next_ref, REF_BLOCK) + 1;
        rt->ref_end = rt->ref_next + REF_BLOCK;
    }
    term ref = mk_ref(rt->ref_next++);
    proc_t *p = proc_of(pcb);
    p->recv_ref = ref;
    p->recv_mark = p->mbox_last;
    return ref;
}

static term spawn(rt_t *rt, pcb_t *pcb, uint32_t vm, term *fa, uint32_t n, bool placed)
{
    proc_t *p = proc_of(pcb);
    term fun = fa[0];
    if (is_atom(fun)) {
        /* a top-level function by name, as (f ...) through an atom */
        const func_t *g = code_find(rt->h, atom_index(fun), n - 1);
        if (!g)
            return bif_error(p, A_UNDEF);
        fun = g->value;
    }
    if (!is_closure(fun))
        return bif_error(p, A_BADARG);
    uint64_t pid;
    if (proc_spawn(rt, vm, fun, fa + 1, n - 1, &pid, placed) < 0)
        return bif_error(p, A_SYSTEM_LIMIT);
    return mk_pid(pid);
}

BIF(bif_spawn)
{
    return spawn(rt, pcb, sched_place_spawn(rt), args, argc, false);
}

BIF(bif_spawn_on)
{
    if (!is_fix(args[0]) || fix_val(args[0]) < 0 || fix_val(args[0]) >= (int64_t)rt->h->cfg.n_vms)
        return bif_error(proc_of(pcb), A_BADARG);
    return spawn(rt, pcb, (uint32_t)fix_val(args[0]), args + 1, argc - 1, true);
}

BIF(bif_send)
{
    uint64_t to;
    if (is_pid(args[0]))
        to = pid_of(args[0]);
    else if (!is_atom(args[0]) || (to = reg_whereis(rt->h, atom_index(args[0]))) == 0)
        return bif_error(proc_of(pcb), A_BADARG); /* not a pid, nor a registered name */
    if (msg_send(rt, to, SIG_MSG, pcb->pid, args[1], T_NIL) == SEND_NOMEM)
        return bif_error(proc_of(pcb), A_SYSTEM_LIMIT);
    /* A sender pays 2 reductions for each message the receiver has not
     * taken yet (BEAM charges 4 of its 4,000 a slice: sender punishment),
     * at most a slice, off its next slice: one that floods a slower
     * receiver yields to it sooner instead of growing its mailbox, which
     * the receiver's collections would copy again and again; one whose
     * last act is the send just ends. */
    uint32_t q = rt->send_queued;
    if (q) {
        proc_t *p = proc_of(pcb);
        uint32_t d = p->reds_debt + 2 * (q < SLICE_REDUCTIONS ? q : SLICE_REDUCTIONS);
        p->reds_debt = d < SLICE_REDUCTIONS ? d : SLICE_REDUCTIONS;
    }
    return args[1];
}

/* link and monitor: reserve the pages of the exit signals they make
 * owed (msg.c, "Reservations"), record the node on this side, then send
 * the request, which carries one of them to the other side. */
static term link_or_monitor(rt_t *rt, pcb_t *pcb, term *args, bool is_link)
{
    proc_t *p = proc_of(pcb);
    if (!is_pid(args[0]))
        return bif_error(p, A_BADARG);
    uint64_t to = pid_of(args[0]);
    if (is_link && (to == pcb->pid || msg_chain_has(p->links, 4, args[0])))
        return mk_atom(A_TRUE);
    if (!bif_room(rt, pcb, MSG_NODE_WORDS))
        return T_NONE;
    /* a link: our EXIT to it and its EXIT to us; a monitor: its DOWN */
    uint64_t pages = is_link ? 2 : 1;
    if (pool_reserve(rt->h, pages) < 0)
        return bif_error(p, A_SYSTEM_LIMIT);
    term ref = is_link ? T_NIL : new_ref(rt, pcb);
    term *node = heap_take(p, MSG_NODE_WORDS);
    node[0] = mk_hdr(MSG_NODE_WORDS, BT_MSG);
    node[2] = T_NIL;
    node[3] = mk_fix(is_link ? SIG_LINK : SIG_MONITOR);
    node[4] = args[0];
    node[5] = ref;
    term *chain = is_link ? &p->links : &p->monitoring;
    node[1] = *chain;
    *chain = mk_box(node);
    if (is_link)
        p->reserved++;
    enum send_result r = msg_send(rt, to, is_link ? SIG_LINK : SIG_MONITOR, pcb->pid, T_NIL, ref);
    if (r == SEND_NOMEM) {
        *chain = node[1];
        if (is_link)
            p->reserved--;
        pool_unreserve(rt->h, pages);
        return bif_error(p, A_SYSTEM_LIMIT);
    }
    if (r == SEND_NOPROC) {
        /* A dead process: the link breaks at once with noproc (an exit
         * signal to ourselves, acted on like any other), and a monitor
         * fires at once; each on the page the request would have
         * carried. */
        if (is_link)
            msg_exit_signal(rt, pcb->pid, to, mk_atom(A_NOPROC));
        else
            msg_down_signal(rt, pcb->pid, to, ref, mk_atom(A_NOPROC));
    }
    return is_link ? mk_atom(A_TRUE) : ref;
}

BIF(bif_link)
{
    return link_or_monitor(rt, pcb, args, true);
}

BIF(bif_monitor)
{
    return link_or_monitor(rt, pcb, args, false);
}

BIF(bif_unlink)
{
    proc_t *p = proc_of(pcb);
    if (!is_pid(args[0]))
        return bif_error(p, A_BADARG);
    if (msg_chain_remove(&p->links, 4, args[0])) {
        msg_drop_reservation(rt, p);
        msg_send(rt, pid_of(args[0]), SIG_UNLINK, pcb->pid, T_NIL, T_NIL);
    }
    return mk_atom(A_TRUE);
}

BIF(bif_demonitor)
{
    proc_t *p = proc_of(pcb);
    if (!is_ref(args[0]))
        return bif_error(p, A_BADARG);
    for (term m = p->monitoring; m; m = box_ptr(m)[1])
        if (box_ptr(m)[5] == args[0]) {
            msg_send(rt, pid_of(box_ptr(m)[4]), SIG_DEMONITOR, pcb->pid, T_NIL, args[0]);
            msg_chain_remove(&p->monitoring, 5, args[0]);
            break;
        }
    return mk_atom(A_TRUE);
}

BIF(bif_trap_exits)
{
    proc_t *p = proc_of(pcb);
    if (args[0] != mk_atom(A_TRUE) && args[0] != mk_atom(A_FALSE))
        return bif_error(p, A_BADARG);
    bool old = p->flags & PF_TRAP_EXIT;
    if (args[0] == mk_atom(A_TRUE))
        p->flags |= PF_TRAP_EXIT;
    else
        p->flags &= ~PF_TRAP_EXIT;
    return bif_bool(old);
}

BIF(bif_make_ref)
{
    return new_ref(rt, pcb);
}

/* spawn-link and spawn-monitor: the new process has its half of the link
 * or monitor before it can run, so it cannot end unobserved in between
 * (as Erlang's spawn_link and spawn_monitor). Placed by the policy. */
static term spawn_watched(rt_t *rt, pcb_t *pcb, term *fa, uint32_t n, bool link)
{
    proc_t *p = proc_of(pcb);
    /* this side's node, and spawn-monitor's #(pid ref): room first, as
     * the spawn reads the arguments */
    if (!bif_room(rt, pcb, MSG_NODE_WORDS + 3))
        return T_NONE;
    term fun = fa[0];
    if (is_atom(fun)) {
        const func_t *g = code_find(rt->h, atom_index(fun), n - 1);
        if (!g)
            return bif_error(p, A_UNDEF);
        fun = g->value;
    }
    if (!is_closure(fun))
        return bif_error(p, A_BADARG);
    /* the pages of the exit signals this makes owed (msg.c,
     * "Reservations"): a link's two EXITs, a monitor's DOWN */
    uint64_t pages = link ? 2 : 1;
    if (pool_reserve(rt->h, pages) < 0)
        return bif_error(p, A_SYSTEM_LIMIT);
    term ref = link ? T_NIL : new_ref(rt, pcb);
    spawn_watch_t w = {pcb->pid, ref, link};
    uint64_t pid;
    if (proc_spawn_watched(rt, sched_place_spawn(rt), fun, fa + 1, n - 1, &pid, false, &w) < 0) {
        pool_unreserve(rt->h, pages);
        return bif_error(p, A_SYSTEM_LIMIT);
    }
    if (link)
        p->reserved++;
    term *node = heap_take(p, MSG_NODE_WORDS);
    node[0] = mk_hdr(MSG_NODE_WORDS, BT_MSG);
    node[2] = T_NIL;
    node[3] = mk_fix(link ? SIG_LINK : SIG_MONITOR);
    node[4] = mk_pid(pid);
    node[5] = ref;
    term *chain = link ? &p->links : &p->monitoring;
    node[1] = *chain;
    *chain = mk_box(node);
    if (link)
        return mk_pid(pid);
    term *t = heap_take(p, 3);
    t[0] = mk_hdr(3, BT_TUPLE);
    t[1] = mk_pid(pid);
    t[2] = ref;
    return mk_box(t);
}

BIF(bif_spawn_link)
{
    return spawn_watched(rt, pcb, args, argc, true);
}

BIF(bif_spawn_monitor)
{
    return spawn_watched(rt, pcb, args, argc, false);
}

BIF(bif_alivep)
{
    if (!is_pid(args[0]))
        return bif_error(proc_of(pcb), A_BADARG);
    pcb_t *q = proctab_lookup(rt->h, pid_of(args[0]));
    return bif_bool(q && proc_is_open(rt->h, q, pid_of(args[0])));
}

BIF(bif_register)
{
    proc_t *p = proc_of(pcb);
    if (!is_atom(args[0]) || !is_pid(args[1]))
        return bif_error(p, A_BADARG);
    if (reg_register(rt->h, atom_index(args[0]), pid_of(args[1])) < 0)
        return bif_error(p, errno == ENOSPC ? A_SYSTEM_LIMIT : A_BADARG);
    return mk_atom(A_TRUE);
}

BIF(bif_unregister)
{
    if (!is_atom(args[0]) || reg_unregister(rt->h, atom_index(args[0])) < 0)
        return bif_error(proc_of(pcb), A_BADARG);
    return mk_atom(A_TRUE);
}

BIF(bif_whereis)
{
    if (!is_atom(args[0]))
        return bif_error(proc_of(pcb), A_BADARG);
    uint64_t pid = reg_whereis(rt->h, atom_index(args[0]));
    return pid ? mk_pid(pid) : mk_atom(A_UNDEFINED);
}
