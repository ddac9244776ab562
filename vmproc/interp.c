/*
 * interp.c: the bytecode interpreter (opcodes.h says what each op does).
 *
 * Hot state lives in locals: pc, sp, fp, the control stack top cs, the
 * function and its constants. SAVE() writes them to the process before
 * anything that can collect, grow the stack, raise or leave the loop, and
 * LOAD() reads them back (Lua's Protect, Wren's STORE_FRAME).
 *
 * Dispatch is behind DISPATCH(): computed goto where the compiler has it,
 * else a switch. Integer arithmetic and comparisons have inline fast
 * paths; everything else goes through bif.c.
 *
 * Errors raise: the control stack is unwound to the nearest catch (which
 * gets #(EXIT reason)) or guard (whose clause then fails); with neither,
 * the process exits with the reason.
 */
#include "vmproc/interp.h"

#include "shm/pool.h"
#include "vmproc/bif.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/map.h"
#include "vmproc/msg.h"
#include "vmproc/termio.h"

#include <ck_pr.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <time.h>

int64_t interp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* the closure, the arguments, the frame and some room above it */
static uint64_t start_need(const func_t *f, uint32_t argc)
{
    return argc + 1 + f->frame + 16;
}

uint64_t interp_start_words(term fun, uint32_t argc)
{
    const func_t *f = (const func_t *)(uintptr_t)box_ptr(fun)[1];
    return start_need(f, argc) + sizeof(ctl_t) / sizeof(term);
}

/* The bottom control frame of a process returns to END. */
static int start_frame(rt_t *rt, pcb_t *pcb, term fun, const term *args, uint32_t argc)
{
    proc_t *p = proc_of(pcb);
    const func_t *f = (const func_t *)(uintptr_t)box_ptr(fun)[1];
    /* The stack first: growing, it may take the heap's free room in the
     * first block (heap.h), and so the room made for the copies below. */
    uint64_t stack_need = start_need(f, argc);
    if ((uint64_t)((term *)p->ctl - p->sp) < stack_need + sizeof(ctl_t) / sizeof(term) &&
        stack_grow(rt, pcb, stack_need) < 0)
        return -1;
    /* A defn's value (a closure constant in the code area) is not
     * copied: the new process points at it, as code does at constants. */
    bool shared = code_holds(rt->h, box_ptr(fun));
    uint64_t need = shared ? 0 : term_size(fun);
    for (uint32_t i = 0; i < argc; i++)
        need += term_size(args[i]);
    if (heap_make_room(rt, pcb, need) < 0)
        return -1;
    /* The frame of a closure call: the closure, then the arguments. */
    term *hp = p->hp;
    p->sp[0] = shared ? fun : term_copy(fun, &hp);
    for (uint32_t i = 0; i < argc; i++)
        p->sp[1 + i] = term_copy(args[i], &hp);
    p->hp = hp;
    ctl_t *cs = --p->ctl;
    cs->pc = code_table(rt->h)->end_code;
    cs->func = f;
    cs->fp = p->stack_lo;
    cs->base = p->stack_lo;
    term *fp = p->sp + 1;
    /* the function's ALLOC, if it has locals, pushes them */
    p->sp = fp + argc;
    if (f->arity != argc)
        bif_error(p, A_BADARITY); /* as in Erlang, the new process fails, not the spawner */
    p->fp = (uint32_t)(fp - p->stack_lo);
    p->pc = f->code;
    p->func = f;
    p->deadline = -1;
    return 0;
}

int interp_start(rt_t *rt, pcb_t *pcb, term fun, const term *args, uint32_t argc)
{
    if (start_frame(rt, pcb, fun, args, argc) < 0)
        return -1;
    proc_t *p = proc_of(pcb);
    p->inbox = pcb_inbox_tag(rt->h, pcb);
    p->status = PS_RUNNABLE;
    return 0;
}

bool interp_start_later(rt_t *rt, pcb_t *pcb, term fun, const term *args, uint32_t argc)
{
    proc_t *p = proc_of(pcb);
    if (argc > PROC_START_ARGS || !code_holds(rt->h, box_ptr(fun)))
        return false;
    for (uint32_t i = 0; i < argc; i++)
        if (is_ptr(args[i]))
            return false;
    p->start[0] = fun;
    for (uint32_t i = 0; i < argc; i++)
        p->start[1 + i] = args[i];
    p->flags |= (argc + 1) << PF_START_SHIFT;
    /* what ps and inspect show of it meanwhile */
    const func_t *f = (const func_t *)(uintptr_t)box_ptr(fun)[1];
    p->pc = f->code;
    p->func = f;
    p->deadline = -1;
    p->inbox = pcb_inbox_tag(rt->h, pcb);
    p->status = PS_RUNNABLE;
    return true;
}

int interp_start_now(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    uint32_t argc = ((p->flags & PF_START_MASK) >> PF_START_SHIFT) - 1;
    term fun = p->start[0], args[PROC_START_ARGS];
    for (uint32_t i = 0; i < argc; i++)
        args[i] = p->start[1 + i];
    /* The words go before the count: a VM that dies from here on leaves
     * the heap's fields (which they share) empty or being set, as a
     * first block being made does, and heap_release frees what is there. */
    memset(p->start, 0, sizeof p->start);
    ck_pr_fence_store();
    p->flags &= ~PF_START_MASK;
    if (heap_init_stack(rt, pcb, rt->node, interp_start_words(fun, argc)) < 0)
        return -1;
    return start_frame(rt, pcb, fun, args, argc);
}

static term mk_tuple2(proc_t *p, term a, term b)
{
    term *t = heap_take(p, 3);
    t[0] = mk_hdr(3, BT_TUPLE);
    t[1] = a;
    t[2] = b;
    return mk_box(t);
}

/* The exit reason of a raised error as a term (#(error V) for errors). */
static uint64_t reason_words(proc_t *p)
{
    return p->err_class == EXC_ERROR ? 3 : 0;
}

static term reason_term(proc_t *p)
{
    if (p->err_class == EXC_ERROR)
        return mk_tuple2(p, mk_atom(A_ERROR), p->err_value);
    return p->err_value;
}

#if defined(__GNUC__)
#define COMPUTED_GOTO 1
#endif

/* GCC builds the loop with the copy loops kept as loops (see copy_down);
 * helpers of the loop are inlined whatever their size */
#if defined(__GNUC__) && !defined(__clang__)
#define NO_LIBCALL_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NO_LIBCALL_LOOPS
#endif
#if defined(__GNUC__)
#define ALWAYS_INLINE __attribute__((always_inline))
#else
#define ALWAYS_INLINE
#endif

#define A_U(w) ((w) >> 8)
/* the func_t * in the two code words at pc (CALL_G) */
static inline const func_t *GET_FUNC(const uint32_t *pc)
{
    return (const func_t *)(uintptr_t)((uint64_t)pc[0] | (uint64_t)pc[1] << 32);
}
#define A_S(w) ((int32_t)(w) >> 8)

/* Copy n words down (d <= s, overlap allowed) or into fresh memory:
 * the counts are small (arguments, tuple elements), where a call of
 * memmove or memcpy costs more than the copy; the loop is built with
 * -fno-tree-loop-distribute-patterns (NO_LIBCALL_LOOPS on interp_run),
 * so that GCC does not turn it back into the call. */
ALWAYS_INLINE static inline void copy_down(term *d, const term *s, size_t n)
{
    /* up to 4 words without the loop's count and branch per word: most
     * calls have that few arguments, most tuples that few elements */
    switch (n) {
    case 4:
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
        d[3] = s[3];
        return;
    case 3:
        d[0] = s[0];
        d[1] = s[1];
        d[2] = s[2];
        return;
    case 2:
        d[0] = s[0];
        d[1] = s[1];
        return;
    case 1:
        d[0] = s[0];
        return;
    case 0:
        return;
    default:
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    }
}
#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* a and b both float boxes (the header word of a float is always this) */
ALWAYS_INLINE static inline bool both_floats(term a, term b)
{
    return ((a | b) & TAG_MASK) == TAG_BOXED && a && b && box_ptr(a)[0] == mk_hdr(2, BT_FLOAT) &&
           box_ptr(b)[0] == mk_hdr(2, BT_FLOAT);
}

/* a and b in order for < > <= >= when they are not two integers (whose
 * case the callers take first, each its own way): *c is -1, 0 or 1. Two
 * floats inline; else term_order (numbers mixed, strings). False if they
 * do not order: badarg. */
ALWAYS_INLINE static inline bool order_of(term a, term b, int *c)
{
    if (both_floats(a, b)) {
        *c = (float_val(a) > float_val(b)) - (float_val(a) < float_val(b));
        return true;
    }
    return term_order(a, b, c);
}

/* t as a double if it is a number (an integer or a float box), else
 * false: the float paths of + - * */
ALWAYS_INLINE static inline bool as_double(term t, double *d)
{
    if (is_fix(t)) {
        *d = (double)fix_val(t);
        return true;
    }
    if ((t & TAG_MASK) == TAG_BOXED && t != 0 && box_ptr(t)[0] == mk_hdr(2, BT_FLOAT)) {
        *d = float_val(t);
        return true;
    }
    return false;
}

NO_LIBCALL_LOOPS
enum run_result interp_run(rt_t *rt, pcb_t *pcb)
{
    proc_t *p = proc_of(pcb);
    const uint32_t *pc;
    term *sp, *fp;
    ctl_t *cs;
    const func_t *fn;
    uint32_t w;
    /* Migration torture: every call is the end of a slice, so that the
     * scheduler may move the process at every safe point. */
    int32_t reds = rt->migrate_torture ? 1 : SLICE_REDUCTIONS;
    const int32_t reds0 = reds;
    /* what its sends cost last slice (bif_send), at least one left */
    if (UNLIKELY(p->reds_debt)) {
        reds = p->reds_debt < (uint32_t)reds ? reds - (int32_t)p->reds_debt : 1;
        p->reds_debt = 0;
    }
    uint64_t need;
    const func_t *nf; /* the callee of a call being entered */
    uint32_t bif_id, bif_argc; /* the builtin being called (BIF, and DIV's slow path) */
    ctl_t *err_cs;    /* where a raise began, for the trace if nothing takes it */
    const uint32_t *err_pc;
    const func_t *err_fn;

/* Leave the slice, saying how many reductions it used (the VM counts them). */
#define LEAVE(r) return (rt->slice_reds = (uint32_t)(reds0 - reds), (r))
#define SAVE()                                                                  \
    (p->pc = pc, p->sp = sp, p->fp = (uint32_t)(fp - p->stack_lo), p->ctl = cs, \
     p->func = fn)
#define LOAD() (pc = p->pc, sp = p->sp, fp = p->stack_lo + p->fp, cs = p->ctl, fn = p->func)
#define K (fn->consts)
/* Push slot A & 0xfff, then slot A >> 12 (LOAD2 and the fused *_SS forms). */
#define PUSH_SLOT_PAIR(w)                                                       \
    do {                                                                        \
        sp[0] = fp[((w) >> 8) & 0xfff];                                         \
        sp[1] = fp[(w) >> 20];                                                  \
        sp += 2;                                                                \
    } while (0)
/* Room for `words` on the heap; the operands must still be on the stack. */
#define HEAP_NEED(words)                                                        \
    do {                                                                        \
        need = (words);                                                         \
        if (UNLIKELY((uint64_t)(p->hlim - p->hp) < need)) {                     \
            SAVE();                                                             \
            if (heap_make_room(rt, pcb, need) < 0)                              \
                goto heap_limit;                                                \
            LOAD();                                                             \
        }                                                                       \
    } while (0)
/* a b -> a OPER b when they are numbers and not two integers (whose
 * overflow is badarith): the float, boxed inline if the heap has room
 * and it is finite; else on to the next statement (the slow path). */
#define FLOAT_ARITH(OPER)                                                       \
    do {                                                                        \
        term fa_ = sp[-2], fb_ = sp[-1];                                        \
        double x_, y_;                                                          \
        bool ok_;                                                               \
        if (LIKELY(both_floats(fa_, fb_))) {                                    \
            x_ = float_val(fa_); /* two floats, the common case */              \
            y_ = float_val(fb_);                                                \
            ok_ = true;                                                         \
        } else {                                                                \
            ok_ = !(is_fix(fa_) & is_fix(fb_)) && as_double(fa_, &x_) &&        \
                  as_double(fb_, &y_);                                          \
        }                                                                       \
        if (ok_) {                                                              \
            double r_ = x_ OPER y_;                                             \
            if (LIKELY(isfinite(r_)) && LIKELY(p->hlim - p->hp >= 2)) {         \
                term *h_ = p->hp;                                               \
                p->hp = h_ + 2;                                                 \
                h_[0] = mk_hdr(2, BT_FLOAT);                                    \
                memcpy(&h_[1], &r_, sizeof r_);                                 \
                sp[-2] = mk_box(h_);                                            \
                sp--;                                                           \
                DISPATCH();                                                     \
            }                                                                   \
        }                                                                       \
    } while (0)
/* Room for the frame of a call of f above sp (f->call_bytes). */
#define CALL_NEED(f)                                                            \
    do {                                                                        \
        if (UNLIKELY((size_t)((char *)cs - (char *)sp) < (f)->call_bytes)) {    \
            need = (f)->frame + 2 * sizeof(ctl_t) / sizeof(term);               \
            SAVE();                                                             \
            if (stack_grow(rt, pcb, need) < 0)                                  \
                goto heap_limit;                                                \
            LOAD();                                                             \
        }                                                                       \
    } while (0)
/* Room for a frame of `words` values and a control frame above sp. */
#define STACK_NEED(words)                                                       \
    do {                                                                        \
        need = (words) + 2 * sizeof(ctl_t) / sizeof(term);                      \
        if (UNLIKELY((uint64_t)((term *)cs - sp) < need)) {                     \
            SAVE();                                                             \
            if (stack_grow(rt, pcb, need) < 0)                                  \
                goto heap_limit;                                                \
            LOAD();                                                             \
        }                                                                       \
    } while (0)
/* A self tail call goes on past the function's ALLOC (func_t.loop),
 * doing what it does: the locals are cleared (what they held in the last
 * round is garbage a collection must not keep, above all while the
 * process waits), 4 words at once for up to 4 of them as ALLOC does, and
 * sp moves past them. One dispatch less per round of a loop that has
 * locals. */
#define SELF_LOOP()                                                             \
    do {                                                                        \
        uint32_t n_ = fn->nlocals;                                              \
        if (LIKELY(n_ <= 4)) {                                                  \
            sp[0] = sp[1] = sp[2] = sp[3] = T_NONE;                             \
            sp += n_;                                                           \
        } else {                                                                \
            for (; n_ > 0; n_--)                                                \
                *sp++ = T_NONE;                                                 \
        }                                                                       \
        pc = fn->loop;                                                          \
    } while (0)
/* The arguments of a self tail call that change, from the top of the
 * stack down into their parameters: the highest bit of m is the last one
 * pushed (TCALL_SELF_SOME, TCALL_SELF_CDR). */
#define POP_ARGS(m)                                                             \
    do {                                                                        \
        for (uint32_t m_ = (m); m_ != 0;) {                                     \
            unsigned i_ = 31u - (unsigned)__builtin_clz(m_);                    \
            fp[i_] = *--sp;                                                     \
            m_ ^= 1u << i_;                                                     \
        }                                                                       \
    } while (0)
/* The end of a self tail call: the frame is the parameters, the loop
 * starts again past ALLOC, and the slice may end there. */
#define SELF_AGAIN()                                                            \
    do {                                                                        \
        SELF_LOOP();                                                            \
        if (UNLIKELY(--reds <= 0)) {                                            \
            SAVE();                                                             \
            LEAVE(RUN_YIELD);                                                   \
        }                                                                       \
        DISPATCH();                                                             \
    } while (0)
#define RAISE_ERR(atom)                                                         \
    do {                                                                        \
        bif_error(p, (atom));                                                   \
        goto raise;                                                             \
    } while (0)

#ifdef COMPUTED_GOTO
    static void *const labels[] = {
#define OP(name, extra, effect, doc) &&L_##name,
#include "vmproc/opcodes.h"
#undef OP
    };
    /* the table in a register: GCC would otherwise rematerialize its
     * address (a lea) at every dispatch */
    void *const *jt = labels;
    __asm__("" : "+r"(jt));
#define CASE(name) L_##name:
#define DISPATCH() goto *jt[(w = *pc++) & 0xff]
/* go on at the instruction at q: one add to pc, not one per word */
#define DISPATCH_AT(q)                                                          \
    do {                                                                        \
        const uint32_t *q_ = (q);                                               \
        w = *q_;                                                                \
        pc = q_ + 1;                                                            \
        goto *jt[w & 0xff];                                                     \
    } while (0)
#define LOOP() DISPATCH();
#else
#define CASE(name) case OP_##name:
#define DISPATCH() goto dispatch
#define DISPATCH_AT(q)                                                          \
    do {                                                                        \
        pc = (q);                                                               \
        goto dispatch;                                                          \
    } while (0)
#define LOOP() dispatch: switch ((w = *pc++) & 0xff)
#endif

    LOAD();
    if (p->err_class != EXC_NONE)
        goto raise; /* an exit signal or a failed start set it */

    LOOP()
    {
        CASE(PUSH_K)
        {
            *sp++ = K[A_U(w)];
            DISPATCH();
        }
        CASE(PUSH_INT)
        {
            *sp++ = mk_fix(A_S(w));
            DISPATCH();
        }
        CASE(PUSH_NIL)
        {
            *sp++ = T_NIL;
            DISPATCH();
        }
        CASE(PUSH_FALSE)
        {
            *sp++ = mk_atom(A_FALSE);
            DISPATCH();
        }
        CASE(PUSH_TRUE)
        {
            *sp++ = mk_atom(A_TRUE);
            DISPATCH();
        }
        CASE(LOAD)
        {
            *sp++ = fp[A_U(w)];
            DISPATCH();
        }
        CASE(LOAD2)
        {
            PUSH_SLOT_PAIR(w);
            DISPATCH();
        }
        CASE(STORE)
        {
            fp[A_U(w)] = *--sp;
            DISPATCH();
        }
        CASE(LOAD_FREE)
        {
            *sp++ = box_ptr(fp[-1])[2 + A_U(w)];
            DISPATCH();
        }
        CASE(POP)
        {
            sp--;
            DISPATCH();
        }
        CASE(JUMP)
        {
            pc += A_S(w);
            DISPATCH();
        }
        CASE(JUMP_F)
        {
            if (*--sp == mk_atom(A_FALSE))
                pc += A_S(w);
            DISPATCH();
        }
        CASE(JUMP_NT)
        {
            if (*--sp != mk_atom(A_TRUE))
                pc += A_S(w);
            DISPATCH();
        }
        CASE(OR_JUMP)
        {
            if (sp[-1] != mk_atom(A_FALSE))
                pc += A_S(w);
            else
                sp--;
            DISPATCH();
        }
        CASE(CALL_G)
        call_g:
        {
            nf = GET_FUNC(pc);
            pc += 2;
            CALL_NEED(nf);
            --cs;
            cs->pc = pc;
            cs->func = fn;
            cs->fp = fp;
            fp = (term *)((char *)sp - A_U(w));
            cs->base = fp;
        enter:
            /* the frame holds the arguments, sp is past them; the
             * callee's ALLOC pushes its locals */
            fn = nf;
            pc = fn->code;
            if (UNLIKELY(--reds <= 0)) {
                SAVE();
                LEAVE(RUN_YIELD);
            }
            DISPATCH();
        }
        CASE(TCALL_G)
        {
            nf = GET_FUNC(pc);
            uint32_t bytes = A_U(w);
            term *dst = cs->base;
            copy_down(dst, (term *)((char *)sp - bytes), bytes / sizeof(term));
            sp = (term *)((char *)dst + bytes);
            CALL_NEED(nf); /* may move the stack: sp is reloaded, dst is not */
            fp = (term *)((char *)sp - bytes);
            goto enter;
        }
        CASE(TCALL_SELF)
        {
            /* The frame stays where it is (fp; a call through a closure
             * value has the closure below it, which stays too) and is
             * as big as it was: no room to check. */
            uint32_t bytes = A_U(w);
            copy_down(fp, (term *)((char *)sp - bytes), bytes / sizeof(term));
            sp = (term *)((char *)fp + bytes);
            SELF_AGAIN();
        }
        CASE(TCALL_SELF_SOME)
        {
            /* the arguments that change (bit i of A: argument i); the
             * others are in place */
            POP_ARGS(A_U(w));
            sp = fp + fn->arity;
            SELF_AGAIN();
        }
        /* a loop over a list: the last argument that changes is the
         * tail of slot A >> 12 (not a list: CDR's error, before any
         * argument is written) */
        CASE(TCALL_SELF_CDR)
        {
            term l = fp[w >> 20];
            if (UNLIKELY(!is_cons(l))) {
                *sp++ = l;
                goto op_cdr;
            }
            term v = CDR(l);
            uint32_t m = (w >> 8) & 0xfffu;
            unsigned last = 31u - (unsigned)__builtin_clz(m);
            POP_ARGS(m ^ 1u << last);
            fp[last] = v;
            sp = fp + fn->arity;
            SELF_AGAIN();
        }
        CASE(ALLOC)
        {
            uint32_t n = A_U(w);
            if (LIKELY(n <= 4)) {
                /* 4 words whatever n is: the room a call checks for
                 * (call_bytes) goes 2 control frames past the frame, so
                 * the words past the locals are free stack */
                sp[0] = sp[1] = sp[2] = sp[3] = T_NONE;
                sp += n;
                DISPATCH();
            }
            for (; n > 0; n--)
                *sp++ = T_NONE;
            DISPATCH();
        }
        CASE(APPLY)
        CASE(TAPPLY)
        {
            /* f args: the elements of args become the arguments, then a
             * call (or tail call) as CALL's */
            term l = sp[-1], callee = sp[-2];
            int64_t n;
            if (UNLIKELY(bif_list_length(l, &n) != T_NIL))
                RAISE_ERR(A_BADARG);
            /* a wrong function fails before a long list is spread */
            if (is_closure(callee)) {
                if (((const func_t *)(uintptr_t)box_ptr(callee)[1])->arity != (uint64_t)n)
                    RAISE_ERR(A_BADARITY);
            } else if (!is_atom(callee)) {
                RAISE_ERR(A_BADFUN);
            } else if (n > 0xffffff || !code_find(rt->h, atom_index(callee), (uint32_t)n)) {
                RAISE_ERR(A_UNDEF);
            }
            STACK_NEED((uint64_t)n);
            l = *--sp;
            for (; is_cons(l); l = CDR(l))
                *sp++ = CAR(l);
            /* the same instruction word as a CALL of n arguments */
            w = ((uint32_t)n << 8) | ((w & 0xff) == OP_TAPPLY ? OP_TCALL : OP_CALL);
            goto call_value;
        }
        CASE(CALL)
        CASE(TCALL)
        call_value:
        {
            uint32_t argc = A_U(w);
            term callee = sp[-(int64_t)argc - 1];
            if (UNLIKELY(!is_closure(callee))) {
                /* An atom names a top-level function, looked up at run
                 * time as Erlang's apply does: undef if there is none. */
                if (!is_atom(callee))
                    RAISE_ERR(A_BADFUN);
                const func_t *g = code_find(rt->h, atom_index(callee), argc);
                if (!g)
                    RAISE_ERR(A_UNDEF);
                callee = sp[-(int64_t)argc - 1] = g->value;
            }
            nf = (const func_t *)(uintptr_t)box_ptr(callee)[1];
            if (UNLIKELY(nf->arity != argc))
                RAISE_ERR(A_BADARITY);
            if ((w & 0xff) == OP_TCALL) {
                term *dst = cs->base;
                copy_down(dst, sp - argc - 1, argc + 1);
                sp = dst + 1 + argc;
                CALL_NEED(nf);
                fp = sp - argc;
                goto enter;
            }
            CALL_NEED(nf);
            --cs;
            cs->pc = pc;
            cs->func = fn;
            cs->fp = fp;
            cs->base = sp - argc - 1;
            fp = sp - argc;
            goto enter;
        }
        CASE(RET)
        {
            term v = sp[-1];
            sp = cs->base;
            *sp++ = v;
            fp = cs->fp;
            fn = cs->func;
            pc = cs->pc;
            cs++;
            DISPATCH();
        }
        CASE(CLOSURE)
        {
            uint32_t nfree = *pc++;
            nf = code_table(rt->h)->funcs[A_U(w)];
            HEAP_NEED(2 + nfree);
            term *c = heap_take(p, 2 + nfree);
            c[0] = mk_hdr(2 + nfree, BT_CLOSURE);
            c[1] = (term)(uintptr_t)nf;
            sp -= nfree;
            copy_down(c + 2, sp, nfree);
            *sp++ = mk_box(c);
            DISPATCH();
        }
        CASE(BIF)
        {
            bif_argc = *pc++;
            bif_id = A_U(w);
        bif_generic:
            SAVE();
            term r = bif_call(rt, pcb, bif_id, p->sp - bif_argc, bif_argc);
            LOAD();
            if (UNLIKELY(r == T_NONE)) {
                rt->bif_cost = 0;
                if (p->flags & PF_KILLED)
                    goto killed; /* an exit signal to itself */
                if (p->err_class == EXC_NONE)
                    goto heap_limit;
                goto raise;
            }
            sp -= bif_argc;
            *sp++ = r;
            if (UNLIKELY(rt->trap | (rt->bif_cost != 0))) {
                /* a builtin that did much work pays for it in reductions */
                reds -= (int32_t)rt->bif_cost;
                rt->bif_cost = 0;
                if (rt->trap || reds <= 0) {
                    /* (migrate vm), or the slice is used up: a safe point,
                     * with the result in place */
                    rt->trap = false;
                    SAVE();
                    LEAVE(RUN_YIELD);
                }
            }
            DISPATCH();
        }
        CASE(MK_TUPLE)
        {
            uint32_t n = A_U(w);
            HEAP_NEED(1 + n);
            term *t = heap_take(p, 1 + n);
            t[0] = mk_hdr(1 + n, BT_TUPLE);
            sp -= n;
            copy_down(t + 1, sp, n);
            *sp++ = mk_box(t);
            DISPATCH();
        }
        CASE(MK_MAP_K)
        {
            /* the template's header, layout and keys as they are, then
             * each value from where the template says among the B */
            const term *t = box_ptr(K[A_U(w)]);
            uint64_t words = hdr_words(t[0]), k = (words - 2) / 2;
            HEAP_NEED(words);
            term *r = heap_take(p, words);
            term *base = sp - pc[0];
            memcpy(r, t, (2 + k) * sizeof(term));
            for (uint64_t i = 0; i < k; i++)
                r[2 + k + i] = base[fix_val(t[2 + k + i])];
            sp = base;
            *sp++ = mk_box(r);
            DISPATCH_AT(pc + 1);
        }
        CASE(MK_LIST)
        {
            uint32_t n = A_U(w);
            HEAP_NEED(2 * (uint64_t)n);
            term l = T_NIL;
            term *cells = heap_take(p, 2 * (uint64_t)n);
            for (uint32_t i = n; i-- > 0;) {
                term *c = cells + 2 * i;
                c[0] = sp[(int64_t)i - n];
                c[1] = l;
                l = mk_cons_ptr(c);
            }
            sp -= n;
            *sp++ = l;
            DISPATCH();
        }
        /* The fused forms put their operands where the plain instruction
         * finds them and go on in it, as OP_<NAME> (its slow path passes
         * the op on): from a slot, a constant, or two slots (LOAD2's A). */
#define FUSED_OPERANDS(NAME, label)                                             \
    CASE(NAME##_S)                                                              \
    {                                                                           \
        *sp++ = fp[A_U(w)];                                                     \
        w = OP_##NAME;                                                          \
        goto label;                                                             \
    }                                                                           \
    CASE(NAME##_K)                                                              \
    {                                                                           \
        *sp++ = K[A_U(w)];                                                      \
        w = OP_##NAME;                                                          \
        goto label;                                                             \
    }                                                                           \
    CASE(NAME##_SS)                                                             \
    {                                                                           \
        PUSH_SLOT_PAIR(w);                                                      \
        w = OP_##NAME;                                                          \
        goto label;                                                             \
    }
        FUSED_OPERANDS(ADD, op_add)
        FUSED_OPERANDS(SUB, op_sub)
        FUSED_OPERANDS(MUL, op_mul)
#undef FUSED_OPERANDS
        CASE(ADD)
        op_add:
        {
            term a = sp[-2], b = sp[-1];
            int64_t r;
            if (LIKELY(is_fix(a) & is_fix(b)) &&
                !__builtin_add_overflow((int64_t)a, (int64_t)b - 1, &r)) {
                sp[-2] = (term)r;
                sp--;
                DISPATCH();
            }
            FLOAT_ARITH(+);
            goto arith_call;
        }
        CASE(SUB)
        op_sub:
        {
            term a = sp[-2], b = sp[-1];
            int64_t r;
            if (LIKELY(is_fix(a) & is_fix(b)) &&
                !__builtin_sub_overflow((int64_t)a, (int64_t)b - 1, &r)) {
                sp[-2] = (term)r;
                sp--;
                DISPATCH();
            }
            FLOAT_ARITH(-);
            goto arith_call;
        }
        CASE(MUL)
        op_mul:
        {
            term a = sp[-2], b = sp[-1];
            int64_t r;
            if (LIKELY(is_fix(a) & is_fix(b)) &&
                !__builtin_mul_overflow(fix_val(a), (int64_t)b - 1, &r)) {
                sp[-2] = (term)r | 1;
                sp--;
                DISPATCH();
            }
            FLOAT_ARITH(*);
            goto arith_call;
        }
        arith:
        {
            /* two numbers, one of them a float at least: the float
             * result inline, boxed on the heap if it has room; anything
             * else (an error, a collection first) in bif_arith */
            if ((w & 0xff) == OP_ADD)
                FLOAT_ARITH(+);
            else if ((w & 0xff) == OP_SUB)
                FLOAT_ARITH(-);
            else
                FLOAT_ARITH(*);
        arith_call:
            SAVE();
            term r = bif_arith(rt, pcb, (int)(w & 0xff), p->sp - 2);
            LOAD();
            if (r == T_NONE) {
                if (p->err_class == EXC_NONE)
                    goto heap_limit;
                goto raise;
            }
            sp[-2] = r;
            sp--;
            DISPATCH();
        }
        CASE(ADD_I)
        {
            term a = sp[-1];
            int64_t r;
            if (LIKELY(is_fix(a)) &&
                !__builtin_add_overflow((int64_t)a, (int64_t)A_S(w) * 2, &r)) {
                sp[-1] = (term)r;
                DISPATCH();
            }
            /* the slow path takes two stack operands */
            STACK_NEED(2);
            *sp++ = mk_fix(A_S(w));
            w = OP_ADD;
            goto arith;
        }
#define COMPARE(NAME, TEST)                                                     \
        CASE(NAME)                                                              \
        {                                                                       \
            term a = sp[-2], b = sp[-1];                                        \
            int c;                                                              \
            if (LIKELY(is_fix(a) & is_fix(b)))                                  \
                c = ((int64_t)a > (int64_t)b) - ((int64_t)a < (int64_t)b);      \
            else if (!order_of(a, b, &c))                                       \
                RAISE_ERR(A_BADARG);                                            \
            sp[-2] = mk_atom((TEST) ? A_TRUE : A_FALSE);                        \
            sp--;                                                               \
            DISPATCH();                                                         \
        }
        COMPARE(LT, c < 0)
        COMPARE(GT, c > 0)
        COMPARE(LE, c <= 0)
        COMPARE(GE, c >= 0)
#undef COMPARE
        CASE(EQ)
        {
            bool e = term_equal(sp[-2], sp[-1]);
            sp[-2] = mk_atom(e ? A_TRUE : A_FALSE);
            sp--;
            DISPATCH();
        }
        CASE(NE)
        {
            bool e = term_equal(sp[-2], sp[-1]);
            sp[-2] = mk_atom(e ? A_FALSE : A_TRUE);
            sp--;
            DISPATCH();
        }
        /* compare and jump: pop a b, jump unless the comparison holds */
#define JCMP(NAME, TEST)                                                        \
        CASE(NAME)                                                              \
        {                                                                       \
            term a = sp[-2], b = sp[-1];                                        \
            int c;                                                              \
            sp -= 2;                                                            \
            if (LIKELY(is_fix(a) & is_fix(b)))                                  \
                c = ((int64_t)a > (int64_t)b) - ((int64_t)a < (int64_t)b);      \
            else if (!order_of(a, b, &c))                                       \
                RAISE_ERR(A_BADARG);                                            \
            if (!(TEST))                                                        \
                pc += A_S(w);                                                   \
            DISPATCH();                                                         \
        }
        JCMP(JLT, c < 0)
        JCMP(JGT, c > 0)
        JCMP(JLE, c <= 0)
        JCMP(JGE, c >= 0)
#undef JCMP
        CASE(JEQ)
        {
            sp -= 2;
            if (sp[0] != sp[1] && !term_equal(sp[0], sp[1]))
                pc += A_S(w);
            DISPATCH();
        }
        CASE(JNE)
        {
            sp -= 2;
            if (sp[0] == sp[1] || term_equal(sp[0], sp[1]))
                pc += A_S(w);
            DISPATCH();
        }
        /* slot B against the integer C: an integer slot is compared as
         * the words are (both tagged the same way); anything else as LT
         * and friends would */
#define JCMP_SI(NAME, OP)                                                       \
        CASE(NAME)                                                              \
        {                                                                       \
            term a = fp[pc[0]], b = (term)(int64_t)(int32_t)pc[1];              \
            if (LIKELY(is_fix(a))) {                                            \
                if ((int64_t)a OP(int64_t) b)                                   \
                    DISPATCH_AT(pc + 2);                                        \
                DISPATCH_AT(pc + A_S(w));                                       \
            }                                                                   \
            pc += 2;                                                            \
            int c;                                                              \
            if (!term_order(a, b, &c))                                          \
                RAISE_ERR(A_BADARG);                                            \
            if (!(c OP 0))                                                      \
                pc += A_S(w) - 2;                                               \
            DISPATCH();                                                         \
        }
        JCMP_SI(JLT_SI, <)
        JCMP_SI(JGT_SI, >)
        JCMP_SI(JLE_SI, <=)
        JCMP_SI(JGE_SI, >=)
#undef JCMP_SI
        /* Two operands a and b named by the word after the instruction,
         * then a jump by A unless they compare so: two integers as the
         * words are, anything else as LT and friends (EQ, NE) would.
         *   _SS: slot B & 0xfff against slot B >> 12;
         *   _SC: slot B & 0xfff against the head of the list in slot
         *        B >> 12 (not a list: CAR's error, as the sequence it
         *        stands for). */
#define SS_OPERANDS() term a = fp[pc[0] & 0xfff], b = fp[pc[0] >> 12]
#define SC_OPERANDS()                                                           \
    term a = fp[pc[0] & 0xfff], l = fp[pc[0] >> 12];                            \
    if (UNLIKELY(!is_cons(l))) {                                                \
        *sp++ = l;                                                              \
        goto op_car;                                                            \
    }                                                                           \
    term b = CAR(l)
#define JCMP_PAIR(NAME, OP, OPERANDS)                                           \
        CASE(NAME)                                                              \
        {                                                                       \
            OPERANDS();                                                         \
            int c;                                                              \
            if (LIKELY(is_fix(a) & is_fix(b))) {                                \
                if ((int64_t)a OP(int64_t) b)                                   \
                    DISPATCH_AT(pc + 1);                                        \
                DISPATCH_AT(pc + A_S(w));                                       \
            }                                                                   \
            pc += 1;                                                            \
            if (!order_of(a, b, &c))                                            \
                RAISE_ERR(A_BADARG);                                            \
            if (!(c OP 0))                                                      \
                pc += A_S(w) - 1;                                               \
            DISPATCH();                                                         \
        }
/* EQUAL: whether the jump is taken when a and b are not equal (JEQ) or
 * when they are (JNE) */
#define JEQ_PAIR(NAME, EQUAL, OPERANDS)                                         \
        CASE(NAME)                                                              \
        {                                                                       \
            OPERANDS();                                                         \
            if ((a == b || term_equal(a, b)) != (EQUAL))                        \
                DISPATCH_AT(pc + A_S(w));                                       \
            DISPATCH_AT(pc + 1);                                                \
        }
        JCMP_PAIR(JLT_SS, <, SS_OPERANDS)
        JCMP_PAIR(JGT_SS, >, SS_OPERANDS)
        JCMP_PAIR(JLE_SS, <=, SS_OPERANDS)
        JCMP_PAIR(JGE_SS, >=, SS_OPERANDS)
        JEQ_PAIR(JEQ_SS, true, SS_OPERANDS)
        JEQ_PAIR(JNE_SS, false, SS_OPERANDS)
        JCMP_PAIR(JLT_SC, <, SC_OPERANDS)
        JCMP_PAIR(JGT_SC, >, SC_OPERANDS)
        JCMP_PAIR(JLE_SC, <=, SC_OPERANDS)
        JCMP_PAIR(JGE_SC, >=, SC_OPERANDS)
        JEQ_PAIR(JEQ_SC, true, SC_OPERANDS)
        JEQ_PAIR(JNE_SC, false, SC_OPERANDS)
#undef JCMP_PAIR
#undef JEQ_PAIR
#undef SS_OPERANDS
#undef SC_OPERANDS
        CASE(JEQ_SI)
        {
            /* = on an integer is identity of the words: 1 is not 1.0 */
            if (fp[pc[0]] != (term)(int64_t)(int32_t)pc[1])
                DISPATCH_AT(pc + A_S(w));
            DISPATCH_AT(pc + 2);
        }
        CASE(JNE_SI)
        {
            if (fp[pc[0]] == (term)(int64_t)(int32_t)pc[1])
                DISPATCH_AT(pc + A_S(w));
            DISPATCH_AT(pc + 2);
        }
        CASE(LOAD_ADDI)
        {
            term a = fp[A_U(w)];
            int64_t r;
            if (LIKELY(is_fix(a)) && !__builtin_add_overflow((int64_t)a, (int32_t)pc[0], &r)) {
                *sp++ = (term)r;
                DISPATCH_AT(pc + 1);
            }
            goto load_addi_slow;
        }
        /* LOAD, or LOAD_ADDI, then the CALL_G that follows */
        CASE(LOAD_CALL)
        {
            *sp++ = fp[A_U(w)];
            w = *pc++;
            goto call_g;
        }
        CASE(LOAD_ADDI_CALL)
        {
            term a = fp[A_U(w)];
            int64_t r;
            if (LIKELY(is_fix(a)) && !__builtin_add_overflow((int64_t)a, (int32_t)pc[0], &r)) {
                *sp++ = (term)r;
                w = pc[1];
                pc += 2;
                goto call_g;
            }
            /* the sum as LOAD_ADDI's slow path makes it; the CALL_G runs next */
            goto load_addi_slow;
        }
        load_addi_slow:
        {
            /* what LOAD; ADD_I did */
            term a = fp[A_U(w)];
            pc++;
            STACK_NEED(2);
            *sp++ = a;
            *sp++ = mk_fix((int32_t)pc[-1] / 2);
            w = OP_ADD;
            goto arith;
        }
        /* builtins inline (bif_list.c and bif_tuple.c have them too, for
         * apply and calls by name); the same errors */
        CASE(CAR_S)
        {
            *sp++ = fp[A_U(w)];
            goto op_car;
        }
        CASE(CDR_S)
        {
            *sp++ = fp[A_U(w)];
            goto op_cdr;
        }
        /* a let of the head or tail: slot A & 0xfff = car (cdr) of slot
         * A >> 12; not a list: CAR's (CDR's) error */
        CASE(CAR_ST)
        {
            term l = fp[(w >> 20)];
            if (UNLIKELY(!is_cons(l))) {
                *sp++ = l;
                goto op_car;
            }
            fp[(w >> 8) & 0xfff] = CAR(l);
            DISPATCH();
        }
        CASE(CDR_ST)
        {
            term l = fp[(w >> 20)];
            if (UNLIKELY(!is_cons(l))) {
                *sp++ = l;
                goto op_cdr;
            }
            fp[(w >> 8) & 0xfff] = CDR(l);
            DISPATCH();
        }
        CASE(CAR)
        op_car:
        {
            if (UNLIKELY(!is_cons(sp[-1])))
                RAISE_ERR(A_BADARG);
            sp[-1] = CAR(sp[-1]);
            DISPATCH();
        }
        CASE(CDR)
        op_cdr:
        {
            if (UNLIKELY(!is_cons(sp[-1])))
                RAISE_ERR(A_BADARG);
            sp[-1] = CDR(sp[-1]);
            DISPATCH();
        }
        CASE(CONS)
        {
            HEAP_NEED(2);
            term *c = heap_take(p, 2);
            c[0] = sp[-2];
            c[1] = sp[-1];
            sp[-2] = mk_cons_ptr(c);
            sp--;
            DISPATCH();
        }
        CASE(JNULL)
        {
            if (*--sp != T_NIL)
                DISPATCH_AT(pc + A_S(w));
            DISPATCH();
        }
        CASE(JNULL_S)
        {
            if (fp[pc[0]] != T_NIL)
                DISPATCH_AT(pc + A_S(w));
            DISPATCH_AT(pc + 1);
        }
        CASE(NULLP)
        {
            sp[-1] = mk_atom(sp[-1] == T_NIL ? A_TRUE : A_FALSE);
            DISPATCH();
        }
        CASE(REM)
        {
            term a = sp[-2], b = sp[-1];
            if (UNLIKELY(!(is_fix(a) & is_fix(b)) || b == mk_fix(0)))
                RAISE_ERR(A_BADARITH);
            /* b = -1: 0, without the overflow of FIX_MIN % -1 */
            sp[-2] = b == mk_fix(-1) ? mk_fix(0) : mk_fix(fix_val(a) % fix_val(b));
            sp--;
            DISPATCH();
        }
        CASE(DIV)
        {
            term a = sp[-2], b = sp[-1];
            if (LIKELY(is_fix(a) & is_fix(b)) && b != mk_fix(0) && b != mk_fix(-1)) {
                sp[-2] = mk_fix(fix_val(a) / fix_val(b));
                sp--;
                DISPATCH();
            }
            /* floats, -1, 0 and errors: the builtin */
            bif_argc = 2;
            bif_id = BI_DIV;
            goto bif_generic;
        }
        CASE(ELEM_S)
        {
            *sp++ = fp[A_U(w)];
            goto op_elem;
        }
        CASE(SET_ELEM)
        {
            /* up to 15 elements, as the builtin does it (which charges
             * no reduction for so few); errors and larger tuples are the
             * builtin's */
            term i = sp[-3], t = sp[-2];
            uint64_t n;
            if (LIKELY(is_fix(i) && is_tuple(t) && (n = tuple_size(t)) < BIF_UNITS_PER_RED &&
                       (uint64_t)fix_val(i) < n)) {
                HEAP_NEED(n + 1);
                t = sp[-2]; /* a collection moves it */
                term *r = heap_take(p, n + 1);
                copy_down(r, box_ptr(t), n + 1);
                r[1 + fix_val(i)] = sp[-1];
                sp -= 2;
                sp[-1] = mk_box(r);
                DISPATCH();
            }
            bif_argc = 3;
            bif_id = BI_SET_ELEM;
            goto bif_generic;
        }
        CASE(MAP_GET)
        {
            term m = sp[-3];
            if (LIKELY(is_map(m))) {
                term v = map_get(rt->h, m, sp[-2]);
                sp -= 2;
                if (v != T_NONE)
                    sp[-1] = v;
                else
                    sp[-1] = sp[1];
                DISPATCH();
            }
            bif_argc = 3;
            bif_id = BI_MAP_GET;
            goto bif_generic;
        }
        CASE(ELEM_KS)
        {
            term t = fp[(w >> 8) & 0xfff];
            uint32_t i = w >> 20;
            if (LIKELY(is_tuple(t) && i < tuple_size(t))) {
                *sp++ = tuple_elems(t)[i];
                DISPATCH();
            }
            sp[0] = mk_fix(i); /* ELEM raises the error */
            sp[1] = t;
            sp += 2;
            goto op_elem;
        }
        CASE(ELEM_KST)
        {
            term t = fp[(w >> 8) & 0xfff];
            uint32_t i = w >> 20;
            if (LIKELY(is_tuple(t) && i < tuple_size(t))) {
                fp[pc[0]] = tuple_elems(t)[i];
                DISPATCH_AT(pc + 1);
            }
            sp[0] = mk_fix(i); /* ELEM raises the error */
            sp[1] = t;
            sp += 2;
            goto op_elem;
        }
        CASE(ELEM_SS)
        {
            PUSH_SLOT_PAIR(w);
            goto op_elem;
        }
        CASE(ELEM)
        op_elem:
        {
            term i = sp[-2], t = sp[-1];
            if (UNLIKELY(!is_fix(i) || !is_tuple(t) || fix_val(i) < 0 ||
                         (uint64_t)fix_val(i) >= tuple_size(t)))
                RAISE_ERR(A_BADARG);
            sp[-2] = tuple_elems(t)[fix_val(i)];
            sp--;
            DISPATCH();
        }
        /* ADD or SUB, then RET; the RET after it is for the slow path */
#define ARITH_RET(NAME, OVF, OP)                                                \
        CASE(NAME)                                                              \
        {                                                                       \
            term a = sp[-2], b = sp[-1];                                        \
            int64_t r;                                                          \
            if (LIKELY(is_fix(a) & is_fix(b)) &&                                \
                !OVF((int64_t)a, (int64_t)b - 1, &r)) {                         \
                sp = cs->base;                                                  \
                *sp++ = (term)r;                                                \
                fp = cs->fp;                                                    \
                fn = cs->func;                                                  \
                pc = cs->pc;                                                    \
                cs++;                                                           \
                DISPATCH();                                                     \
            }                                                                   \
            w = OP;                                                             \
            goto arith;                                                         \
        }
        ARITH_RET(ADD_RET, __builtin_add_overflow, OP_ADD)
        ARITH_RET(SUB_RET, __builtin_sub_overflow, OP_SUB)
#undef ARITH_RET
        CASE(RET_SLOT)
        {
            term v = fp[A_U(w)];
            sp = cs->base;
            *sp++ = v;
            fp = cs->fp;
            fn = cs->func;
            pc = cs->pc;
            cs++;
            DISPATCH();
        }
        CASE(T_TUPLE)
        {
            term t = fp[A_U(w)];
            if (!is_tuple(t) || tuple_size(t) != pc[0])
                pc += (int32_t)pc[1];
            pc += 2;
            DISPATCH();
        }
        CASE(T_CONS_GET)
        {
            term l = fp[A_U(w)];
            if (!is_cons(l))
                DISPATCH_AT(pc + 3 + (int32_t)pc[2]);
            fp[pc[0]] = CAR(l);
            fp[pc[1]] = CDR(l);
            DISPATCH_AT(pc + 3);
        }
        CASE(T_NIL)
        {
            if (fp[A_U(w)] != T_NIL)
                pc += (int32_t)pc[0];
            pc += 1;
            DISPATCH();
        }
        CASE(T_EQ_K)
        {
            if (!term_equal(fp[A_U(w)], K[pc[0]]))
                pc += (int32_t)pc[1];
            pc += 2;
            DISPATCH();
        }
        CASE(T_EQ_S)
        {
            if (!term_equal(fp[A_U(w)], fp[pc[0]]))
                pc += (int32_t)pc[1];
            pc += 2;
            DISPATCH();
        }
        CASE(T_MAP)
        {
            if (!is_map(fp[A_U(w)]))
                pc += (int32_t)pc[0];
            pc += 1;
            DISPATCH();
        }
        CASE(MAP_FIND)
        {
            term v = map_get(rt->h, fp[A_U(w)], *--sp);
            if (v == T_NONE)
                pc += (int32_t)pc[1];
            else
                fp[pc[0]] = v;
            pc += 2;
            DISPATCH();
        }
        CASE(GET_ELEM)
        {
            fp[pc[1]] = tuple_elems(fp[A_U(w)])[pc[0]];
            pc += 2;
            DISPATCH();
        }
        CASE(T_TUPLE_GET)
        {
            term t = fp[A_U(w)];
            if (!is_tuple(t) || tuple_size(t) != pc[0])
                DISPATCH_AT(pc + 3 + (int32_t)pc[2]);
            copy_down(fp + pc[1], tuple_elems(t), pc[0]);
            DISPATCH_AT(pc + 3);
        }
        CASE(RAISE)
        {
            RAISE_ERR(A_U(w));
        }
        CASE(CATCH)
        CASE(GUARD)
        CASE(TRY)
        {
            STACK_NEED(4);
            --cs;
            cs->pc = (const uint32_t *)((uintptr_t)(pc + A_S(w)) |
                                        ((w & 0xff) == OP_CATCH ? CTL_CATCH
                                         : (w & 0xff) == OP_TRY ? CTL_TRY
                                                                : CTL_GUARD));
            cs->func = fn;
            cs->fp = fp;
            cs->base = sp;
            DISPATCH();
        }
        CASE(CATCH_END)
        CASE(GUARD_END)
        {
            cs++;
            DISPATCH();
        }
        CASE(RECV_START)
        {
            if (UNLIKELY(rt->migrate_torture)) {
                /* A receive is a safe point, blocking or not: under
                 * migration torture, yield here once (and run the
                 * receive when the process is next run, wherever). */
                if (!(p->flags & PF_TORTURE_HOLD)) {
                    p->flags |= PF_TORTURE_HOLD;
                    pc--;
                    SAVE();
                    LEAVE(RUN_YIELD);
                }
                p->flags &= ~PF_TORTURE_HOLD;
            }
            p->mbox_prev = 0;
            p->deadline = -1;
            /* (after 'infinity ...) never gives up, as no after */
            if (A_U(w) != 0xffffff && fp[A_U(w)] != mk_atom(A_INFINITY)) {
                term t = fp[A_U(w)];
                if (!is_fix(t) || fix_val(t) < 0)
                    RAISE_ERR(A_BADARG);
                int64_t ms = fix_val(t);
                p->deadline = ms > INT64_MAX / 2000000 ? INT64_MAX
                                                       : interp_now_ns() + ms * 1000000;
            }
            DISPATCH();
        }
        CASE(RECV_MARK)
        {
            /* messages at or before the mark came before the ref did */
            if (p->recv_ref && fp[A_U(w)] == p->recv_ref)
                p->mbox_prev = p->recv_mark;
            DISPATCH();
        }
        CASE(RECV_NEXT)
        {
            term cur = p->mbox_prev ? box_ptr(p->mbox_prev)[1] : p->mbox_first;
            if (!cur) {
                msg_take(rt, pcb);
                if (UNLIKELY(p->flags & PF_KILLED))
                    goto killed;
                cur = p->mbox_prev ? box_ptr(p->mbox_prev)[1] : p->mbox_first;
            }
            if (!cur) {
                pc += (int32_t)pc[0] + 1;
                DISPATCH();
            }
            fp[A_U(w)] = box_ptr(cur)[2];
            pc += 1;
            DISPATCH();
        }
        CASE(RECV_ACCEPT)
        {
            term prev = p->mbox_prev;
            term cur = prev ? box_ptr(prev)[1] : p->mbox_first;
            term next = box_ptr(cur)[1];
            if (prev)
                box_ptr(prev)[1] = next;
            else
                p->mbox_first = next;
            if (p->mbox_last == cur)
                p->mbox_last = prev;
            if (p->recv_mark == cur)
                p->recv_mark = prev; /* still on the list, and no later */
            p->mbox_prev = 0;
            p->mbox_len--;
            p->deadline = -1;
            DISPATCH();
        }
        CASE(RECV_SKIP)
        {
            p->mbox_prev = p->mbox_prev ? box_ptr(p->mbox_prev)[1] : p->mbox_first;
            DISPATCH();
        }
        CASE(RECV_WAIT)
        {
            /* Messages may have arrived since the scan stopped: taken here,
             * or by the scheduler before this slice. */
            msg_take(rt, pcb);
            if (UNLIKELY(p->flags & PF_KILLED))
                goto killed;
            if (p->mbox_prev ? box_ptr(p->mbox_prev)[1] : p->mbox_first) {
                pc += A_S(w);
                DISPATCH();
            }
            if (p->deadline >= 0 && interp_now_ns() >= p->deadline) {
                p->deadline = -1;
                pc += 1 + (int32_t)pc[0];
                DISPATCH();
            }
            pc--; /* resume by retrying this instruction */
            SAVE();
            LEAVE(RUN_WAIT);
        }
        CASE(UNWRAP)
        {
            term *t = box_ptr(sp[-1]);
            if (t[1] == mk_atom(A_OK)) {
                sp[-1] = t[2];
                DISPATCH();
            }
            p->err_class = t[2] == mk_atom(A_ERROR)   ? EXC_ERROR
                           : t[2] == mk_atom(A_THROW) ? EXC_THROW
                                                      : EXC_EXIT;
            p->err_value = t[3];
            goto raise;
        }
        CASE(END)
        {
            p->err_class = EXC_NORMAL;
            p->err_value = mk_atom(A_NORMAL);
            SAVE();
            LEAVE(RUN_EXIT);
        }
    }

killed:
    /* An exit signal: the process ends at once, whatever catches it has. */
    SAVE();
    LEAVE(RUN_EXIT);

heap_limit:
    /* The heap or stack could not grow: the process ends, the VM does not.
     * Past its own limit (EFBIG) that is heap_limit; the shared pool
     * exhausted (ENOMEM, EAGAIN) is system_limit, with a hint in the
     * report (sched.c) to raise --pool-mb. */
    p->err_class = EXC_ERROR;
    if (errno == EFBIG) {
        p->err_value = mk_atom(A_HEAP_LIMIT);
    } else {
        p->err_value = mk_atom(A_SYSTEM_LIMIT);
        p->flags |= PF_OUT_OF_POOL;
    }
    p->sp = p->stack_lo;
    p->ctl = (ctl_t *)p->stack_hi;
    LEAVE(RUN_EXIT);

raise:
    /* Unwind to the nearest catch or guard; cs, sp, fp are current. */
    err_cs = cs;
    err_pc = pc;
    err_fn = fn;
    while ((term *)cs < p->stack_hi) {
        ctl_t f = *cs++;
        enum ctl_kind kind = ctl_kind(&f);
        if (kind == CTL_CALL)
            continue;
        fn = f.func;
        fp = f.fp;
        sp = f.base;
        pc = ctl_pc(&f);
        if (kind == CTL_GUARD) {
            p->err_class = EXC_NONE;
            p->err_value = T_NONE;
            DISPATCH();
        }
        STACK_NEED(2);
        if (kind == CTL_TRY) {
            /* #(raise class value): the class survives, to be raised again */
            HEAP_NEED(4);
            term *t = heap_take(p, 4);
            t[0] = mk_hdr(4, BT_TUPLE);
            t[1] = mk_atom(A_RAISE);
            t[2] = mk_atom(p->err_class == EXC_ERROR   ? A_ERROR
                           : p->err_class == EXC_THROW ? A_THROW
                                                       : A_EXIT_CLASS);
            t[3] = p->err_value;
            *sp++ = mk_box(t);
            p->err_class = EXC_NONE;
            p->err_value = T_NONE;
            DISPATCH();
        }
        if (p->err_class == EXC_THROW) {
            /* a catch of (throw v): v itself */
            *sp++ = p->err_value;
            p->err_class = EXC_NONE;
            p->err_value = T_NONE;
            DISPATCH();
        }
        /* a catch: #(EXIT reason) */
        HEAP_NEED(3 + reason_words(p));
        term reason = reason_term(p);
        *sp++ = mk_tuple2(p, mk_atom(A_EXIT), reason);
        p->err_class = EXC_NONE;
        p->err_value = T_NONE;
        DISPATCH();
    }
    /* Nothing took it: the process ends. The frames it had stay where
     * they were until it is freed, for its stack trace (trace.h). */
    p->trace_fn = err_fn;
    p->trace_pc = err_pc;
    p->trace_ctl = (uint64_t)((char *)p->stack_hi - (char *)err_cs);
    p->sp = p->stack_lo;
    p->ctl = cs;
    if (p->err_class == EXC_THROW) {
        /* a throw nobody caught: the process exits with
         * #(error #(nocatch v)), as in Erlang */
        if (heap_make_room(rt, pcb, 3) < 0)
            goto heap_limit;
        p->err_value = mk_tuple2(p, mk_atom(A_NOCATCH), p->err_value);
        p->err_class = EXC_ERROR;
    }
    LEAVE(RUN_EXIT);
}
