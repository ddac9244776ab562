/*
 * bif.c: the builtins that are not opcodes (LANGUAGE.md, "Builtins").
 *
 * Each takes its arguments where they sit on the value stack, so a
 * collection while it allocates keeps them alive; it makes room first and
 * reads its arguments after. Errors set the process's error and return
 * T_NONE, with the reasons LANGUAGE.md names.
 */
#include "vmproc/bif.h"

#include "shm/vmtab.h"
#include "vmproc/compiler.h"
#include "vmproc/ets.h"
#include "vmproc/heap.h"
#include "vmproc/interp.h"
#include "vmproc/msg.h"
#include "vmproc/sched.h"
#include "vmproc/termio.h"

#include <ck_pr.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

term bif_error(proc_t *p, uint32_t atom)
{
    p->err_class = EXC_ERROR;
    p->err_value = mk_atom(atom);
    return T_NONE;
}

static term boolean(bool b)
{
    return mk_atom(b ? A_TRUE : A_FALSE);
}

/* Room for `words`; T_NONE-returning callers report the heap limit by
 * leaving err_class unset (the interpreter then ends the process). */
static bool room(rt_t *rt, pcb_t *pcb, uint64_t words)
{
    proc_t *p = proc_of(pcb);
    if ((uint64_t)(p->hlim - p->hp) >= words)
        return true;
    return heap_make_room(rt, pcb, words) == 0;
}

static term mk_float(proc_t *p, double d)
{
    term *f = heap_take(p, 2);
    f[0] = mk_hdr(2, BT_FLOAT);
    memcpy(&f[1], &d, sizeof d);
    return mk_box(f);
}

static term mk_string(proc_t *p, const char *s, size_t n)
{
    uint64_t w = str_words(n);
    term *b = heap_take(p, w);
    b[w - 1] = 0;
    b[0] = mk_hdr(w, BT_STRING);
    b[1] = n;
    memcpy(&b[2], s, n);
    return mk_box(b);
}

static bool is_num(term t)
{
    return is_fix(t) || is_float(t);
}

static double num_val(term t)
{
    return is_fix(t) ? (double)fix_val(t) : float_val(t);
}

static term float_result(rt_t *rt, pcb_t *pcb, double d)
{
    proc_t *p = proc_of(pcb);
    if (!isfinite(d))
        return bif_error(p, A_BADARITH);
    if (!room(rt, pcb, 2))
        return T_NONE;
    return mk_float(p, d);
}

term bif_arith(rt_t *rt, pcb_t *pcb, int op, term *args)
{
    proc_t *p = proc_of(pcb);
    term a = args[0], b = args[1];
    if (!is_num(a) || !is_num(b))
        return bif_error(p, A_BADARITH);
    if (is_fix(a) && is_fix(b)) {
        int64_t x = fix_val(a), y = fix_val(b), r;
        bool ovf = op == OP_ADD   ? __builtin_add_overflow(x, y, &r)
                   : op == OP_SUB ? __builtin_sub_overflow(x, y, &r)
                                  : __builtin_mul_overflow(x, y, &r);
        if (ovf || !fix_fits(r))
            return bif_error(p, A_BADARITH);
        return mk_fix(r);
    }
    double x = num_val(a), y = num_val(b);
    double r = op == OP_ADD ? x + y : op == OP_SUB ? x - y : x * y;
    return float_result(rt, pcb, r);
}

static term list_length(term l, int64_t *n)
{
    int64_t k = 0;
    while (is_cons(l)) {
        k++;
        l = CDR(l);
    }
    *n = k;
    return l;
}

static term print_args(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc, bool spaces, sbuf_t *b)
{
    for (uint32_t i = 0; i < argc; i++) {
        if (spaces && i)
            sbuf_put(b, " ", 1);
        term_print(rt->h, b, args[i], true);
    }
    (void)pcb;
    return mk_atom(A_OK);
}

static int write_all(int fd, const char *s, size_t n)
{
    while (n) {
        ssize_t k = write(fd, s, n);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        s += k;
        n -= (size_t)k;
    }
    return 0;
}

static uint64_t next_random(rt_t *rt)
{
    /* xorshift64*: fast, good enough for (random n), private per VM */
    uint64_t x = rt->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rt->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

term bif_call(rt_t *rt, pcb_t *pcb, uint32_t id, term *args, uint32_t argc)
{
    proc_t *p = proc_of(pcb);
    switch (id) {
    case BI_DIV: {
        term a = args[0], b = args[1];
        if (!is_num(a) || !is_num(b))
            return bif_error(p, A_BADARITH);
        if (is_fix(a) && is_fix(b)) {
            int64_t x = fix_val(a), y = fix_val(b);
            if (y == 0 || (x == FIX_MIN && y == -1))
                return bif_error(p, A_BADARITH);
            return mk_fix(x / y);
        }
        if (num_val(b) == 0.0)
            return bif_error(p, A_BADARITH);
        return float_result(rt, pcb, num_val(a) / num_val(b));
    }
    case BI_REM: {
        term a = args[0], b = args[1];
        if (!is_fix(a) || !is_fix(b) || fix_val(b) == 0)
            return bif_error(p, A_BADARITH);
        if (fix_val(b) == -1)
            return mk_fix(0);
        return mk_fix(fix_val(a) % fix_val(b));
    }
    case BI_NOT:
        if (args[0] == mk_atom(A_TRUE))
            return mk_atom(A_FALSE);
        if (args[0] == mk_atom(A_FALSE))
            return mk_atom(A_TRUE);
        return bif_error(p, A_BADARG);
    case BI_CONS: {
        if (!room(rt, pcb, 2))
            return T_NONE;
        term *c = heap_take(p, 2);
        c[0] = args[0];
        c[1] = args[1];
        return mk_cons_ptr(c);
    }
    case BI_CAR:
        return is_cons(args[0]) ? CAR(args[0]) : bif_error(p, A_BADARG);
    case BI_CDR:
        return is_cons(args[0]) ? CDR(args[0]) : bif_error(p, A_BADARG);
    case BI_LENGTH: {
        int64_t n;
        if (list_length(args[0], &n) != T_NIL)
            return bif_error(p, A_BADARG);
        return mk_fix(n);
    }
    case BI_REVERSE: {
        int64_t n;
        if (list_length(args[0], &n) != T_NIL)
            return bif_error(p, A_BADARG);
        if (!room(rt, pcb, 2 * (uint64_t)n))
            return T_NONE;
        term r = T_NIL;
        for (term l = args[0]; is_cons(l); l = CDR(l)) {
            term *c = heap_take(p, 2);
            c[0] = CAR(l);
            c[1] = r;
            r = mk_cons_ptr(c);
        }
        return r;
    }
    case BI_APPEND: {
        int64_t n;
        if (list_length(args[0], &n) != T_NIL)
            return bif_error(p, A_BADARG);
        if (n == 0)
            return args[1];
        if (!room(rt, pcb, 2 * (uint64_t)n))
            return T_NONE;
        term head = T_NIL, *link = &head;
        for (term l = args[0]; is_cons(l); l = CDR(l)) {
            term *c = heap_take(p, 2);
            c[0] = CAR(l);
            *link = mk_cons_ptr(c);
            link = &c[1];
        }
        *link = args[1];
        return head;
    }
    case BI_NTH: {
        term i = args[0], l = args[1];
        if (!is_fix(i) || fix_val(i) < 0)
            return bif_error(p, A_BADARG);
        for (int64_t k = fix_val(i); is_cons(l); l = CDR(l), k--)
            if (k == 0)
                return CAR(l);
        return bif_error(p, A_BADARG);
    }
    case BI_NULLP:
        return boolean(args[0] == T_NIL);
    case BI_SEQ: {
        if (!is_fix(args[0]) || !is_fix(args[1]))
            return bif_error(p, A_BADARG);
        int64_t a = fix_val(args[0]), b = fix_val(args[1]);
        if (b < a - 1) /* Erlang's lists:seq: empty only for b = a - 1 */
            return bif_error(p, A_BADARG);
        uint64_t n = (uint64_t)(b - a + 1);
        if (n > (UINT64_MAX >> 4) || !room(rt, pcb, 2 * n))
            return T_NONE;
        term r = T_NIL;
        for (int64_t k = b; n-- > 0; k--) {
            term *c = heap_take(p, 2);
            c[0] = mk_fix(k);
            c[1] = r;
            r = mk_cons_ptr(c);
        }
        return r;
    }
    case BI_ELEM: {
        term i = args[0], t = args[1];
        if (!is_fix(i) || !is_tuple(t) || fix_val(i) < 0 || (uint64_t)fix_val(i) >= tuple_size(t))
            return bif_error(p, A_BADARG);
        return tuple_elems(t)[fix_val(i)];
    }
    case BI_TUPLE_SIZE:
        return is_tuple(args[0]) ? mk_fix((int64_t)tuple_size(args[0])) : bif_error(p, A_BADARG);
    case BI_STR: {
        sbuf_t b = {0};
        print_args(rt, pcb, args, argc, false, &b);
        if (b.oom || !room(rt, pcb, str_words(b.len))) {
            sbuf_free(&b);
            return T_NONE;
        }
        term s = mk_string(p, b.s ? b.s : "", b.len);
        sbuf_free(&b);
        return s;
    }
    case BI_STRING_LENGTH:
        return is_string(args[0]) ? mk_fix((int64_t)str_len(args[0])) : bif_error(p, A_BADARG);
    case BI_STRING_TO_INT: {
        if (!is_string(args[0]))
            return bif_error(p, A_BADARG);
        const char *s = str_bytes(args[0]);
        uint64_t n = str_len(args[0]), i = 0;
        if (n && (s[0] == '-' || s[0] == '+'))
            i++;
        if (i == n || n > 40)
            return bif_error(p, A_BADARG);
        for (uint64_t k = i; k < n; k++)
            if (s[k] < '0' || s[k] > '9')
                return bif_error(p, A_BADARG);
        errno = 0;
        long long v = strtoll(s, NULL, 10);
        if (errno == ERANGE || !fix_fits(v))
            return bif_error(p, A_BADARG);
        return mk_fix(v);
    }
    case BI_INTP:
        return boolean(is_fix(args[0]));
    case BI_FLOATP:
        return boolean(is_float(args[0]));
    case BI_ATOMP:
        return boolean(is_atom(args[0]));
    case BI_STRINGP:
        return boolean(is_string(args[0]));
    case BI_LISTP:
        return boolean(is_nil(args[0]) || is_cons(args[0]));
    case BI_TUPLEP:
        return boolean(is_tuple(args[0]));
    case BI_PIDP:
        return boolean(is_pid(args[0]));
    case BI_FUNP:
        return boolean(is_closure(args[0]));
    case BI_PRINT: {
        sbuf_t b = {0};
        print_args(rt, pcb, args, argc, true, &b);
        sbuf_put(&b, "\n", 1);
        if (!b.oom)
            write_all(1, b.s, b.len);
        sbuf_free(&b);
        return mk_atom(A_OK);
    }
    case BI_ARGS:
        return code_table(rt->h)->args;
    case BI_NOW_MS:
        return mk_fix(interp_now_ns() / 1000000);
    case BI_RANDOM: {
        if (!is_fix(args[0]) || fix_val(args[0]) <= 0)
            return bif_error(p, A_BADARG);
        return mk_fix((int64_t)(next_random(rt) % (uint64_t)fix_val(args[0])));
    }
    case BI_ERROR:
        p->err_class = EXC_ERROR;
        p->err_value = args[0];
        return T_NONE;
    case BI_EXIT:
        if (argc == 1) {
            p->err_class = EXC_EXIT;
            p->err_value = args[0];
            return T_NONE;
        }
        if (!is_pid(args[0]))
            return bif_error(p, A_BADARG);
        if (msg_send_exit(rt, pid_of(args[0]), SIG_EXIT, pcb->pid, args[1]) == SEND_NOMEM)
            return bif_error(p, A_SYSTEM_LIMIT);
        return mk_atom(A_TRUE);
    case BI_SELF:
        return mk_pid(pcb->pid);
    case BI_SPAWN:
    case BI_SPAWN_ON: {
        uint32_t vm;
        term *fa = args;
        if (id == BI_SPAWN_ON) {
            if (!is_fix(args[0]) || fix_val(args[0]) < 0 ||
                fix_val(args[0]) >= (int64_t)rt->h->cfg.n_vms)
                return bif_error(p, A_BADARG);
            vm = (uint32_t)fix_val(args[0]);
            fa++;
            argc--;
        } else {
            vm = sched_place_spawn(rt);
        }
        term fun = fa[0];
        if (is_atom(fun)) {
            /* a top-level function by name, as (f ...) through an atom */
            const func_t *g = code_find(rt->h, atom_index(fun), argc - 1);
            if (!g)
                return bif_error(p, A_UNDEF);
            fun = g->value;
        }
        if (!is_closure(fun))
            return bif_error(p, A_BADARG);
        uint64_t pid;
        if (proc_spawn(rt, vm, fun, fa + 1, argc - 1, &pid, id == BI_SPAWN_ON) < 0)
            return bif_error(p, A_SYSTEM_LIMIT);
        return mk_pid(pid);
    }
    case BI_SEND:
        if (!is_pid(args[0]))
            return bif_error(p, A_BADARG);
        if (msg_send(rt, pid_of(args[0]), SIG_MSG, pcb->pid, args[1], T_NIL) == SEND_NOMEM)
            return bif_error(p, A_SYSTEM_LIMIT);
        return args[1];
    case BI_LINK:
    case BI_MONITOR: {
        if (!is_pid(args[0]))
            return bif_error(p, A_BADARG);
        uint64_t to = pid_of(args[0]);
        if (id == BI_LINK && (to == pcb->pid || msg_chain_has(p->links, 4, args[0])))
            return mk_atom(A_TRUE);
        if (!room(rt, pcb, MSG_NODE_WORDS))
            return T_NONE;
        term ref = id == BI_MONITOR ? mk_ref(ck_pr_faa_64(&rt->h->run.next_ref, 1) + 1) : T_NIL;
        term *node = heap_take(p, MSG_NODE_WORDS);
        node[0] = mk_hdr(MSG_NODE_WORDS, BT_MSG);
        node[2] = T_NIL;
        node[3] = mk_fix(id == BI_LINK ? SIG_LINK : SIG_MONITOR);
        node[4] = args[0];
        node[5] = ref;
        node[1] = id == BI_LINK ? p->links : p->monitoring;
        if (id == BI_LINK)
            p->links = mk_box(node);
        else
            p->monitoring = mk_box(node);
        enum send_result r = msg_send(rt, to, id == BI_LINK ? SIG_LINK : SIG_MONITOR, pcb->pid,
                                      T_NIL, ref);
        if (r == SEND_NOMEM)
            return bif_error(p, A_SYSTEM_LIMIT);
        if (r == SEND_NOPROC) {
            /* A dead process: the link breaks at once with noproc (an
             * exit signal to ourselves, acted on like any other), and a
             * monitor fires at once. */
            if (id == BI_LINK)
                msg_send_exit(rt, pcb->pid, SIG_EXIT_LINK, to, mk_atom(A_NOPROC));
            else {
                msg_chain_remove(&p->monitoring, 5, ref);
                term down[5] = {mk_hdr(5, BT_TUPLE), mk_atom(A_DOWN), ref, args[0],
                                mk_atom(A_NOPROC)};
                msg_send(rt, pcb->pid, SIG_MSG, to, mk_box(down), T_NIL);
            }
        }
        return id == BI_LINK ? mk_atom(A_TRUE) : ref;
    }
    case BI_UNLINK:
        if (!is_pid(args[0]))
            return bif_error(p, A_BADARG);
        if (msg_chain_remove(&p->links, 4, args[0]))
            msg_send(rt, pid_of(args[0]), SIG_UNLINK, pcb->pid, T_NIL, T_NIL);
        return mk_atom(A_TRUE);
    case BI_DEMONITOR: {
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
    case BI_MIGRATE: {
        if (!is_fix(args[0]) || fix_val(args[0]) < 0 ||
            fix_val(args[0]) >= (int64_t)rt->h->cfg.n_vms)
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
    case BI_PROCESS_INFO: {
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
        if (!room(rt, pcb, 5))
            return T_NONE;
        term *t = heap_take(p, 5);
        t[0] = mk_hdr(5, BT_TUPLE);
        t[1] = mk_fix(owner == PCB_NO_OWNER ? -1 : (int64_t)owner);
        t[2] = mk_fix((int64_t)heap);
        t[3] = mk_fix((int64_t)mlen);
        t[4] = mk_fix((int64_t)moves);
        return mk_box(t);
    }
    case BI_TABLE_NEW:
        return bif_table_new(rt, pcb, args, argc);
    case BI_TABLE_PUT:
        return bif_table_put(rt, pcb, args, argc);
    case BI_TABLE_GET:
        return bif_table_get(rt, pcb, args, argc);
    case BI_TABLE_DELETE:
        return bif_table_delete(rt, pcb, args, argc);
    case BI_TABLE_SIZE:
        return bif_table_size(rt, pcb, args, argc);
    case BI_TABLE_UPDATE_COUNTER:
        return bif_table_update_counter(rt, pcb, args, argc);
    case BI_TABLE_INSERT_NEW:
        return bif_table_insert_new(rt, pcb, args, argc);
    case BI_TABLE_TAKE:
        return bif_table_take(rt, pcb, args, argc);
    case BI_TABLE_DROP:
        return bif_table_drop(rt, pcb, args, argc);
    case BI_TABLE_CHUNK:
        return bif_table_chunk(rt, pcb, args, argc);
    case BI_TABLE_BYTES:
        return bif_table_bytes(rt, pcb, args, argc);
    case BI_TRAP_EXITS: {
        if (args[0] != mk_atom(A_TRUE) && args[0] != mk_atom(A_FALSE))
            return bif_error(p, A_BADARG);
        bool old = p->flags & PF_TRAP_EXIT;
        if (args[0] == mk_atom(A_TRUE))
            p->flags |= PF_TRAP_EXIT;
        else
            p->flags &= ~PF_TRAP_EXIT;
        return boolean(old);
    }
    case BI_MAKE_REF:
        /* relaxed: refs only need to be unique, not ordered */
        return mk_ref(ck_pr_faa_64(&rt->h->run.next_ref, 1) + 1);
    case BI_VM_ID:
        return mk_fix(rt->vm);
    case BI_VM_COUNT:
        return mk_fix(rt->h->cfg.n_vms);
    case BI_NUMA_NODE:
        return mk_fix(rt->node);
    default:
        return bif_error(p, A_UNDEF);
    }
}
