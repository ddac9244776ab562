/*
 * bif_place.c: placement builtins (LANGUAGE.md, "Placement"): vm-id,
 * vm-count, numa-node, migrate and process-info. call-on is compiled
 * into two migrates around a call (compiler.c, comp_call_on).
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"
#include "vmproc/msg.h"

#include <ck_pr.h>

BIF(bif_vm_id)
{
    return mk_fix(rt->vm);
}

BIF(bif_vm_count)
{
    return mk_fix(rt->h->cfg.n_vms);
}

BIF(bif_numa_node)
{
    return mk_fix(rt->node);
}

/* Move the caller to the VM in args[0]. The scheduler hands the process
 * over when the interpreter yields, right after this returns: 'ok is then
 * what the process sees when it runs there. It stays pinned there (no
 * balancing moves it) until it next waits in receive. */
static term move_to(rt_t *rt, pcb_t *pcb, term vmt)
{
    proc_t *p = proc_of(pcb);
    if (!is_fix(vmt) || fix_val(vmt) < 0 || fix_val(vmt) >= (int64_t)rt->h->cfg.n_vms)
        return bif_error(p, A_BADARG);
    uint32_t vm = (uint32_t)fix_val(vmt);
    p->flags |= PF_PINNED;
    if (vm != rt->vm) {
        p->migrate_to = vm + 1;
        rt->trap = true;
    }
    return mk_atom(A_OK);
}

BIF(bif_migrate)
{
    return move_to(rt, pcb, args[0]);
}

/* call-on (compiler.c, comp_call_on): around the call, the process is
 * pinned, so that no balancing moves it while f runs, even if f waits. */
BIF(bif_call_on_enter)
{
    term r = move_to(rt, pcb, args[0]);
    if (r != T_NONE)
        proc_of(pcb)->pin_depth++;
    return r;
}

BIF(bif_call_on_leave)
{
    proc_t *p = proc_of(pcb);
    if (p->pin_depth > 0)
        p->pin_depth--;
    return move_to(rt, pcb, args[0]);
}

BIF(bif_process_info)
{
    proc_t *p = proc_of(pcb);
    if (!is_pid(args[0]))
        return bif_error(p, A_BADARG);
    uint64_t qpid = pid_of(args[0]);
    pcb_t *q = proctab_lookup(rt->h, qpid);
    if (!q || !proc_is_open(rt->h, q, qpid))
        return mk_atom(A_UNDEFINED);
    proc_t *qp = proc_of(q);
    /* Another VM's process: plain reads of words its owner writes,
     * each one whole; together a snapshot, not a transaction. */
    uint32_t owner = ck_pr_load_32(&q->owner);
    uint64_t heap = ck_pr_load_64(&qp->heap_words) * sizeof(term);
    /* every message that has arrived and not been taken: those in the
     * mailbox, and those still in the inbox (counted by their senders) */
    uint64_t mlen = ck_pr_load_64(&qp->mbox_len) + ck_pr_load_32(&qp->msgs_pending);
    uint64_t moves = ck_pr_load_64(&qp->migrations);
    /* Acquire: the reads above come before this second look; if the
     * process ended (or its slot was reused) meanwhile, they may be of
     * another process, so it is gone. */
    ck_pr_fence_load();
    if (!proc_is_open(rt->h, q, qpid))
        return mk_atom(A_UNDEFINED);
    if (!bif_room(rt, pcb, 5))
        return T_NONE;
    term *t = heap_take(p, 5);
    t[0] = mk_hdr(5, BT_TUPLE);
    t[1] = mk_fix(owner == PCB_NO_OWNER ? -1 : (int64_t)owner);
    t[2] = mk_fix((int64_t)heap);
    t[3] = mk_fix((int64_t)mlen);
    t[4] = mk_fix((int64_t)moves);
    return mk_box(t);
}
