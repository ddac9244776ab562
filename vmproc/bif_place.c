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

BIF(bif_migrate)
{
    proc_t *p = proc_of(pcb);
    if (!is_fix(args[0]) || fix_val(args[0]) < 0 || fix_val(args[0]) >= (int64_t)rt->h->cfg.n_vms)
        return bif_error(p, A_BADARG);
    uint32_t vm = (uint32_t)fix_val(args[0]);
    if (vm != rt->vm) {
        /* the scheduler hands the process over when the interpreter
         * yields, right after this returns: 'ok is then what the
         * process sees when it runs on vm */
        p->migrate_to = vm + 1;
        rt->trap = true;
    }
    return mk_atom(A_OK);
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
    uint64_t mlen = ck_pr_load_64(&qp->mbox_len);
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
