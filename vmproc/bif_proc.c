/*
 * bif_proc.c: process builtins (LANGUAGE.md, "Processes", and the error
 * builtins): self, spawn, spawn-on, send, link, unlink, monitor,
 * demonitor, trap-exits, make-ref, error and exit.
 */
#include "vmproc/bif.h"

#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "vmproc/msg.h"
#include "vmproc/sched.h"
#include "shm/pool.h"

#include <ck_pr.h>

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
    if (!is_pid(args[0]))
        return bif_error(proc_of(pcb), A_BADARG);
    if (msg_send(rt, pid_of(args[0]), SIG_MSG, pcb->pid, args[1], T_NIL) == SEND_NOMEM)
        return bif_error(proc_of(pcb), A_SYSTEM_LIMIT);
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
    term ref = is_link ? T_NIL : mk_ref(ck_pr_faa_64(&rt->h->run.next_ref, 1) + 1);
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
    /* relaxed: refs only need to be unique, not ordered */
    return mk_ref(ck_pr_faa_64(&rt->h->run.next_ref, 1) + 1);
}
