/*
 * test_gc.c: process heaps and the copying collector (heap.c): what
 * survives a collection and how, what is reclaimed, the heap limit, stack
 * growth, term_size/term_copy, and GC torture through the binary.
 *
 * The in-process tests load a tiny program (for the atom and code tables
 * and some constants in the code area), claim a PCB and give it a heap
 * with heap_init, then build data with heap_make_room + heap_take, rooted
 * on the process's value stack, exactly as the interpreter does.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include "shm/beat.h"
#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/slab.h"
#include "vmproc/compiler.h"
#include "vmproc/heap.h"
#include "vmproc/termio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char prog[] = "(defn main () (print \"hello\" 1.5 '(1 \"two\" 3.0)))\n"
                           "(defn adder (n) (fn (x) (+ x n)))\n"
                           "(defn wide (a) (tuple a 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19\n"
                           "  20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 36 37 38 39))\n";

static lh_world_t w;
static pcb_t *pcb;
static proc_t *p;

/* A fresh world and process for each test. */
static bool setup(void)
{
    if (lh_world_open(&w, prog, 256u << 20) < 0)
        return false;
    pcb = lh_proc_new(&w);
    if (!pcb) {
        lh_world_close(&w);
        return false;
    }
    p = proc_of(pcb);
    return true;
}

static void teardown(void)
{
    lh_proc_free(&w, pcb);
    lh_world_close(&w);
    pcb = NULL;
    p = NULL;
}

#define SETUP() CU_ASSERT_FATAL(setup())

static void push(term t)
{
    *p->sp++ = t;
}

/* True if the object t points to is in this process's heap. */
static bool in_heap(term t)
{
    const void *a = is_cons(t) ? (void *)cons_ptr(t) : (void *)box_ptr(t);
    return heap_holds(w.h, pcb, a);
}

/* Allocation as the interpreter does it: room first (may collect), then
 * take. Everything live must be rooted before the call. */
static term *alloc(uint64_t words)
{
    if (heap_make_room(&w.rt, pcb, words) < 0)
        return NULL;
    return heap_take(p, words);
}

static term new_cons(term h, term t)
{
    term *c = heap_take(p, 2);
    c[0] = h;
    c[1] = t;
    return mk_cons_ptr(c);
}

static term new_string(const char *s)
{
    size_t n = strlen(s);
    uint64_t words = str_words(n);
    term *b = heap_take(p, words);
    memset(b, 0, words * sizeof(term));
    b[0] = mk_hdr(words, BT_STRING);
    b[1] = n;
    memcpy(&b[2], s, n);
    return mk_box(b);
}

static term new_float(double d)
{
    term *b = heap_take(p, 2);
    b[0] = mk_hdr(2, BT_FLOAT);
    memcpy(&b[1], &d, sizeof d);
    return mk_box(b);
}

static term new_tuple(uint64_t n, const term *el)
{
    term *b = heap_take(p, n + 1);
    b[0] = mk_hdr(n + 1, BT_TUPLE);
    memcpy(&b[1], el, n * sizeof(term));
    return mk_box(b);
}

/* Push a list n-1, ..., 1, 0 built one cell at a time: every cell is a
 * chance for a collection, which moves the list under construction. */
static bool push_list(int64_t n)
{
    push(T_NIL);
    for (int64_t i = 0; i < n; i++) {
        if (heap_make_room(&w.rt, pcb, 2) < 0)
            return false;
        p->sp[-1] = new_cons(mk_fix(i), p->sp[-1]);
    }
    return true;
}

/* A control frame of main's pushed by hand: its pc (kind in the low
 * bits), its frame and base as words from stack_lo. */
static ctl_t *push_frame(uintptr_t pc, size_t fp, size_t base)
{
    ctl_t *c = --p->ctl;
    memset(c, 0, sizeof *c);
    c->pc = (const uint32_t *)pc;
    c->func = lh_func(w.h, "main", 0);
    c->fp = p->stack_lo + fp;
    c->base = p->stack_lo + base;
    return c;
}

/* Is l exactly n-1, ..., 0, every cell in the heap? */
static bool list_ok(term l, int64_t n)
{
    for (int64_t i = n - 1; i >= 0; i--) {
        if (!is_cons(l) || CAR(l) != mk_fix(i) || !in_heap(l))
            return false;
        l = CDR(l);
    }
    return l == T_NIL;
}

/* The constants of main: "hello", 1.5 and '(1 "two" 3.0). */
static void constants(term *s, term *f, term *l)
{
    const func_t *m = lh_func(w.h, "main", 0);
    *s = *f = *l = T_NONE;
    for (uint32_t i = 0; m && i < m->nconsts; i++) {
        term k = m->consts[i];
        if (is_string(k))
            *s = k;
        else if (is_float(k))
            *f = k;
        else if (is_cons(k))
            *l = k;
    }
}

/* ------------------------------------------------------------------ */

static void test_deep_list(void)
{
    enum { N = 1000000 };
    SETUP();
    CU_ASSERT_FATAL(push_list(N));
    /* the list outgrew the heap many times on the way */
    CU_ASSERT(p->gcs >= 5);
    CU_ASSERT(list_ok(p->sp[-1], N));
    term before = p->sp[-1];
    uint64_t gcs = p->gcs;
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(p->gcs, gcs + 1);
    CU_ASSERT_NOT_EQUAL(p->sp[-1], before); /* it moved... */
    CU_ASSERT(list_ok(p->sp[-1], N));       /* ...whole */
    CU_ASSERT_EQUAL(p->live_words, 2 * (uint64_t)N);
    CU_ASSERT(p->heap_words >= 2 * (uint64_t)N);
    /* the new heap belongs to the process */
    CU_ASSERT_EQUAL(pool_owner_of(w.h, p->hfirst), POOL_OWNER_PROC(pcb->slot));
    teardown();
}

/* A long collection moves the VM's heartbeat as it goes (shm/beat.h), so
 * that the supervisor does not take a VM that collects a large heap for a
 * stalled one (nor one that ends its run for one that does not stop): a
 * beat every VM_BEAT_STEPS objects copied, a 1,000,000-cell list giving
 * at least 1,000,000 / VM_BEAT_STEPS - 1 beats inside the one call. */
static void test_long_gc_beats(void)
{
    enum { N = 1000000 };
    SETUP();
    CU_ASSERT_FATAL(push_list(N));
    uint64_t beat = 0;
    uint64_t *saved = vm_heartbeat_word;
    vm_heartbeat_word = &beat;
    vm_beat_steps = 0;
    CU_ASSERT_EQUAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    vm_heartbeat_word = saved;
    CU_ASSERT(beat >= N / VM_BEAT_STEPS - 1);
    if (beat < N / VM_BEAT_STEPS - 1)
        fprintf(stderr, "\n%llu beats in a collection of %d cells\n", (unsigned long long)beat, N);
    CU_ASSERT(list_ok(p->sp[-1], N));
    teardown();
}

/* A shared object is copied once: every reference to it points to the one
 * copy, and the live size counts it once. */
static void test_sharing(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 64), 0);
    term el[] = {mk_fix(1), new_string("str"), new_float(2.5)};
    term t = new_tuple(3, el); /* 4 + 3 + 2 words */
    push(t);
    push(t);
    term pair[] = {t, t};
    push(new_tuple(2, pair));                        /* 3 words */
    push(new_cons(t, new_cons(t, T_NIL)));           /* 4 words */
    term l = new_cons(mk_fix(1), new_cons(mk_fix(2), T_NIL)); /* 4 words */
    term lpair[] = {l, CDR(l)};
    push(new_tuple(2, lpair));                       /* 3 words */
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);

    term *s = p->stack_lo;
    term nt = s[0];
    CU_ASSERT_NOT_EQUAL(nt, t);
    CU_ASSERT_EQUAL(s[1], nt);
    CU_ASSERT_EQUAL(tuple_elems(s[2])[0], nt);
    CU_ASSERT_EQUAL(tuple_elems(s[2])[1], nt);
    CU_ASSERT_EQUAL(CAR(s[3]), nt);
    CU_ASSERT_EQUAL(CAR(CDR(s[3])), nt);
    /* a cons cell shared as a list's tail and as a value */
    term nl = tuple_elems(s[4])[0];
    CU_ASSERT_EQUAL(CDR(nl), tuple_elems(s[4])[1]);
    CU_ASSERT_EQUAL(CAR(CDR(nl)), mk_fix(2));
    /* contents */
    CU_ASSERT(is_tuple(nt) && tuple_size(nt) == 3 && in_heap(nt));
    CU_ASSERT_EQUAL(tuple_elems(nt)[0], mk_fix(1));
    term ns = tuple_elems(nt)[1], nf = tuple_elems(nt)[2];
    CU_ASSERT(is_string(ns) && str_len(ns) == 3 && memcmp(str_bytes(ns), "str", 3) == 0);
    CU_ASSERT(is_float(nf) && float_val(nf) == 2.5);
    CU_ASSERT_EQUAL(p->live_words, 9 + 3 + 4 + 4 + 3);
    teardown();
}

/* A closure keeps what it captured alive; its function pointer (not a
 * term) is left as it is. */
static void test_closures(void)
{
    SETUP();
    const func_t *f = NULL;
    code_table_t *ct = code_table(w.h);
    for (uint32_t i = 0; i < ct->nfuncs; i++)
        if (ct->funcs[i]->name == A_FN && ct->funcs[i]->nfree == 1)
            f = ct->funcs[i];
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 64), 0);
    term fv1 = new_string("captured");
    term fv2 = new_cons(new_float(-1.25), new_cons(mk_atom(A_OK), T_NIL));
    term *c = heap_take(p, 4);
    c[0] = mk_hdr(4, BT_CLOSURE);
    c[1] = (term)(uintptr_t)f;
    c[2] = fv1;
    c[3] = fv2;
    push(mk_box(c));
    /* garbage around it */
    for (int i = 0; i < 20000; i++)
        CU_ASSERT_FATAL(alloc(16) != NULL);
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    term nc = p->sp[-1];
    CU_ASSERT_FATAL(is_closure(nc));
    CU_ASSERT(in_heap(nc));
    CU_ASSERT_NOT_EQUAL(nc, mk_box(c));
    CU_ASSERT_EQUAL(hdr_words(box_ptr(nc)[0]), 4);
    CU_ASSERT_EQUAL(box_ptr(nc)[1], (term)(uintptr_t)f);
    term n1 = box_ptr(nc)[2], n2 = box_ptr(nc)[3];
    CU_ASSERT(is_string(n1) && in_heap(n1) && str_len(n1) == 8 &&
              memcmp(str_bytes(n1), "captured", 8) == 0);
    CU_ASSERT(is_cons(n2) && in_heap(n2) && in_heap(CAR(n2)));
    CU_ASSERT(is_float(CAR(n2)) && float_val(CAR(n2)) == -1.25);
    CU_ASSERT_EQUAL(CAR(CDR(n2)), mk_atom(A_OK));
    /* closure 4 + string 4 + two cells 4 + float 2 */
    CU_ASSERT_EQUAL(p->live_words, 4 + 4 + 4 + 2);
    /* the function it calls is the same, and still whole */
    const func_t *nf = (const func_t *)(uintptr_t)box_ptr(nc)[1];
    CU_ASSERT_EQUAL(nf->arity, 1);
    CU_ASSERT_EQUAL(nf->nfree, 1);
    teardown();
}

/* Constants live in the code area, outside the pool: never copied, never
 * forwarded, whoever refers to them. */
static void test_constants_stay(void)
{
    SETUP();
    term ks, kf, kl;
    constants(&ks, &kf, &kl);
    CU_ASSERT_FATAL(ks && kf && kl);
    CU_ASSERT_FALSE(pool_contains(w.h, box_ptr(ks)));
    term kfun = lh_func(w.h, "adder", 1)->value;
    term hs = box_ptr(ks)[0], hf = box_ptr(kf)[0], car = CAR(kl), cdr = CDR(kl);
    push(ks);
    push(kf);
    push(kl);
    push(kfun);
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 8), 0);
    term el[] = {ks, kf, kl, kfun};
    push(new_tuple(4, el));
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    term *s = p->stack_lo;
    CU_ASSERT_EQUAL(s[0], ks);
    CU_ASSERT_EQUAL(s[1], kf);
    CU_ASSERT_EQUAL(s[2], kl);
    CU_ASSERT_EQUAL(s[3], kfun);
    CU_ASSERT(in_heap(s[4]));
    CU_ASSERT_EQUAL(memcmp(tuple_elems(s[4]), el, sizeof el), 0);
    /* untouched: headers are still headers, cells still hold their values */
    CU_ASSERT_EQUAL(box_ptr(ks)[0], hs);
    CU_ASSERT_EQUAL(box_ptr(kf)[0], hf);
    CU_ASSERT_EQUAL(CAR(kl), car);
    CU_ASSERT_EQUAL(CDR(kl), cdr);
    CU_ASSERT_EQUAL(p->live_words, 5); /* just the tuple */
    /* and the program still prints them as before */
    sbuf_t b = {0};
    term_print(w.h, &b, s[4], false);
    CU_ASSERT_STRING_EQUAL(b.s, "#(\"hello\" 1.5 (1 \"two\" 3.0) #fun<adder/1>)");
    sbuf_free(&b);
    teardown();
}

/* Every root: the value stack, the extra roots, the mailbox, the pending
 * error value and the link and monitor chains. */
static void test_all_roots(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 256), 0);
    /* mailbox: two message nodes [hdr][next][payload][kind][from][extra] */
    term *m2 = heap_take(p, 6), *m1 = heap_take(p, 6);
    m2[0] = m1[0] = mk_hdr(6, BT_MSG);
    m1[1] = mk_box(m2);
    m2[1] = 0;
    m1[2] = new_string("first message");
    m2[2] = new_cons(mk_fix(2), T_NIL);
    m1[3] = m2[3] = mk_fix(0);
    m1[4] = m2[4] = mk_pid(99);
    m1[5] = m2[5] = T_NIL;
    p->mbox_first = mk_box(m1);
    p->mbox_last = mk_box(m2);
    p->mbox_prev = mk_box(m1);
    p->mbox_len = 2;
    p->err_value = new_string("an error");
    term *lk = heap_take(p, 6);
    lk[0] = mk_hdr(6, BT_MSG);
    lk[1] = 0;
    lk[2] = T_NIL;
    lk[3] = mk_fix(3);
    lk[4] = mk_pid(7);
    lk[5] = new_float(7.5);
    p->links = mk_box(lk);
    term *mo = heap_take(p, 6);
    memcpy(mo, lk, 6 * sizeof(term));
    mo[5] = new_string("mon");
    p->monitoring = mk_box(mo);
    term *mb = heap_take(p, 6);
    memcpy(mb, lk, 6 * sizeof(term));
    mb[5] = new_string("by");
    p->monitored_by = mk_box(mb);
    term extra[2] = {new_string("extra root"), new_cons(mk_fix(5), T_NIL)};
    term old_extra0 = extra[0];

    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, extra, 2), 0);
    CU_ASSERT_NOT_EQUAL(extra[0], old_extra0);
    CU_ASSERT(in_heap(extra[0]) && str_len(extra[0]) == 10 &&
              memcmp(str_bytes(extra[0]), "extra root", 10) == 0);
    CU_ASSERT(in_heap(extra[1]) && CAR(extra[1]) == mk_fix(5));
    term *n1 = box_ptr(p->mbox_first);
    CU_ASSERT(in_heap(p->mbox_first));
    CU_ASSERT_EQUAL(p->mbox_prev, p->mbox_first);
    CU_ASSERT_EQUAL(n1[1], p->mbox_last);
    CU_ASSERT(is_string(n1[2]) && memcmp(str_bytes(n1[2]), "first message", 13) == 0);
    CU_ASSERT_EQUAL(n1[4], mk_pid(99));
    term *n2 = box_ptr(p->mbox_last);
    CU_ASSERT(in_heap(p->mbox_last) && n2[1] == 0 && CAR(n2[2]) == mk_fix(2));
    CU_ASSERT(in_heap(p->err_value) && memcmp(str_bytes(p->err_value), "an error", 8) == 0);
    CU_ASSERT(in_heap(p->links) && float_val(box_ptr(p->links)[5]) == 7.5);
    CU_ASSERT(in_heap(p->monitoring) && memcmp(str_bytes(box_ptr(p->monitoring)[5]), "mon", 3) == 0);
    CU_ASSERT(in_heap(p->monitored_by) &&
              memcmp(str_bytes(box_ptr(p->monitored_by)[5]), "by", 2) == 0);
    /* 2 nodes + 2 payloads (4 + 2) + error 4 + 3 chain nodes + 7.5 + "mon"
     * + "by" + extra string 4 + extra cell 2 */
    CU_ASSERT_EQUAL(p->live_words, 12 + 6 + 4 + 18 + 2 + 3 + 3 + 4 + 2);
    teardown();
}

/* With a small live set, allocating 64 MiB keeps the heap small: it is
 * collected, not grown. */
static void test_garbage_reclaimed(void)
{
    SETUP();
    CU_ASSERT_FATAL(push_list(1000));
    uint64_t most = 0, fails = 0;
    for (int i = 0; i < 8 << 20 >> 4; i++) {
        term *g = alloc(16);
        if (!g) {
            fails++;
            break;
        }
        g[0] = mk_hdr(16, BT_TUPLE);
        for (int k = 1; k < 16; k++)
            g[k] = mk_fix(k);
        if (p->heap_words > most)
            most = p->heap_words;
    }
    CU_ASSERT_EQUAL(fails, 0);
    LH_CHECK(most < 64 * 1024, "heap peaked at %llu words with 2,000 live",
             (unsigned long long)most);
    CU_ASSERT(p->gcs >= 100);
    CU_ASSERT(list_ok(p->sp[-1], 1000));
    teardown();
}

/* A heap that grew with its live data gives the pages back when the data
 * dies: the heap shrinks and the pool's free pages come back. */
static void test_heap_shrinks(void)
{
    SETUP();
    uint64_t free0 = pool_free_pages(w.h, 0);
    CU_ASSERT_FATAL(push_list(1000000)); /* 16 MB live */
    uint64_t grown = p->heap_words, free_peak = pool_free_pages(w.h, 0);
    CU_ASSERT(grown >= 2000000);
    CU_ASSERT(free0 - free_peak >= 2000000 * sizeof(term) / SHOAL_PAGE);
    p->sp--; /* the list dies */
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(p->live_words, 0);
    /* sized from what lived at the previous collection, capped at one
     * block of 1 MiB (and its header page), and the young generation's
     * first page */
    LH_CHECK(p->heap_words <= (1u << 17) + 2 * 512, "heap of %llu words after the data died",
             (unsigned long long)p->heap_words);
    /* the next collection sizes the heap from nothing live */
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    LH_CHECK(p->heap_words <= 1024, "heap of %llu words after two collections",
             (unsigned long long)p->heap_words);
    uint64_t free_end = pool_free_pages(w.h, 0);
    LH_CHECK(free_end + 40 >= free0, "free pages %llu before, %llu after",
             (unsigned long long)free0, (unsigned long long)free_end);
    teardown();
}

/* ------------------------------------------------------------------ */
/* generations                                                          */

/* Words in use in the young generation. */
static uint64_t young_used(void)
{
    uint64_t n = 0;
    for (hblock_t *b = p->hfirst; b; b = b->next)
        n += (uint64_t)((b == p->hcur ? p->hp : b->top) - hblock_start(b));
    return n;
}

/* Whether the object t points to lies in a block of the given kind
 * (HBLOCK_OLD in the old generation, HBLOCK_AGED among the young). */
static bool in_kind(term t, uint32_t kind)
{
    const term *a = is_cons(t) ? cons_ptr(t) : box_ptr(t);
    for (hblock_t *b = kind == HBLOCK_OLD ? p->ofirst : p->hfirst; b; b = b->next)
        if (a >= hblock_start(b) && a < b->end)
            return b->bytes == kind;
    return false;
}

static bool in_old(term t)
{
    return in_kind(t, HBLOCK_OLD);
}

static bool in_aged(term t)
{
    return in_kind(t, HBLOCK_AGED);
}

/* A small process keeps one generation: its major collections leave
 * everything young, and there is no minor one. */
static void test_small_one_generation(void)
{
    SETUP();
    CU_ASSERT_FATAL(push_list(1000)); /* 2,000 words, below GEN_MIN_WORDS */
    for (int i = 0; i < 2000; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(alloc(16));
    CU_ASSERT(p->gcs >= 2);
    CU_ASSERT_PTR_NULL(p->ofirst);
    CU_ASSERT_EQUAL(p->old_words, 0);
    CU_ASSERT_EQUAL(p->live_words, 2000);
    CU_ASSERT(list_ok(p->sp[-1], 1000));
    teardown();
}

/* A major collection of much data makes it the old generation; a minor
 * one moves what is new to the survivors and promotes the survivors of
 * the one before, and neither copies nor walks what is old: the old list
 * stays where it is; the cell in front of it moves twice. */
static void test_minor_promotes(void)
{
    enum { N = 20000 };
    SETUP();
    CU_ASSERT_FATAL(push_list(N));
    uint32_t gcs = p->gcs;
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0); /* major */
    CU_ASSERT_EQUAL(p->gcs, gcs + 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p->ofirst);
    CU_ASSERT_EQUAL(p->old_used, 2 * (uint64_t)N);
    CU_ASSERT_EQUAL(p->live_words, 2 * (uint64_t)N);
    CU_ASSERT_EQUAL(young_used(), 0);
    CU_ASSERT(list_ok(p->sp[-1], N));
    CU_ASSERT(in_old(p->sp[-1]));
    term old_head = p->sp[-1];

    /* a young cell in front of the old list, and young garbage */
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 2), 0);
    push(new_cons(mk_fix(-1), old_head));
    CU_ASSERT_FALSE(in_old(p->sp[-1]) || in_aged(p->sp[-1]));
    for (int i = 0; i < 100; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(alloc(16));
    CU_ASSERT_EQUAL_FATAL(heap_collect(&w.rt, pcb, 0), 0); /* minor: it survives */
    CU_ASSERT_EQUAL(p->gcs, gcs + 2);
    CU_ASSERT_EQUAL(p->sp[-2], old_head); /* not copied */
    CU_ASSERT(in_aged(p->sp[-1]));
    CU_ASSERT_EQUAL(CDR(p->sp[-1]), old_head);
    CU_ASSERT_EQUAL(p->old_used, 2 * (uint64_t)N);
    CU_ASSERT_EQUAL(p->live_words, 2 * (uint64_t)N + 2);
    CU_ASSERT_EQUAL(young_used(), 2);

    CU_ASSERT_EQUAL_FATAL(heap_collect(&w.rt, pcb, 0), 0); /* minor: promoted */
    CU_ASSERT_EQUAL(p->sp[-2], old_head);
    CU_ASSERT(in_old(p->sp[-1]));
    CU_ASSERT_EQUAL(CDR(p->sp[-1]), old_head);
    CU_ASSERT_EQUAL(p->old_used, 2 * (uint64_t)N + 2);
    CU_ASSERT_EQUAL(young_used(), 0);
    CU_ASSERT(list_ok(old_head, N));

    /* a major collection copies both generations again, the garbage not */
    p->sp[-1] = T_NIL;
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT_NOT_EQUAL(p->sp[-2], old_head);
    CU_ASSERT(in_old(p->sp[-2]) && list_ok(p->sp[-2], N));
    CU_ASSERT_EQUAL(p->old_used, 2 * (uint64_t)N);
    CU_ASSERT_EQUAL(p->live_words, 2 * (uint64_t)N);
    teardown();
}

/* A message node: [hdr][next][payload][kind][from][extra]. */
static term *new_node(term payload, term from)
{
    term *m = heap_take(p, 6);
    m[0] = mk_hdr(6, BT_MSG);
    m[1] = 0;
    m[2] = payload;
    m[3] = mk_fix(0);
    m[4] = from;
    m[5] = T_NIL;
    return m;
}

/* Message nodes are the values that change: a node in the old generation
 * gets a young successor when a message arrives, and a link chain an old
 * node behind a young one. A minor collection walks the chains, so the
 * young nodes live on and the old ones point at their new places. */
static void test_minor_chains(void)
{
    SETUP();
    uint64_t free0 = pool_free_pages(w.h, 0);
    CU_ASSERT_FATAL(push_list(5000)); /* enough to keep two generations */
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 64), 0);
    term *m1 = new_node(T_NIL, mk_pid(99));
    m1[2] = new_string("old message");
    p->mbox_first = p->mbox_last = mk_box(m1);
    p->mbox_len = 1;
    p->links = mk_box(new_node(T_NIL, mk_pid(7)));
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT_FATAL(in_old(p->mbox_first) && in_old(p->links));
    term old_node = p->mbox_first;

    /* a new message, appended as msg.c does: the old node's next word
     * now points at a young node */
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 64), 0);
    term *m2 = new_node(T_NIL, mk_pid(99));
    m2[2] = new_cons(mk_fix(2), new_cons(mk_fix(3), T_NIL));
    box_ptr(p->mbox_last)[1] = mk_box(m2);
    p->mbox_last = mk_box(m2);
    p->mbox_len = 2;
    /* a young link in front of the old one */
    term *l2 = new_node(T_NIL, mk_pid(8));
    l2[1] = p->links;
    l2[5] = new_float(2.5);
    p->links = mk_box(l2);
    for (int i = 0; i < 50; i++)
        CU_ASSERT_PTR_NOT_NULL_FATAL(alloc(32)); /* young garbage */

    /* twice: to the survivors, then promoted */
    for (int round = 0; round < 2; round++) {
        CU_ASSERT_EQUAL_FATAL(heap_collect(&w.rt, pcb, 0), 0);
        CU_ASSERT_EQUAL(p->mbox_first, old_node);
        term *n1 = box_ptr(p->mbox_first);
        CU_ASSERT_EQUAL(n1[1], p->mbox_last);
        CU_ASSERT(round == 0 ? in_aged(p->mbox_last) : in_old(p->mbox_last));
        term *n2 = box_ptr(p->mbox_last);
        CU_ASSERT(n2[1] == 0 && CAR(n2[2]) == mk_fix(2) && CAR(CDR(n2[2])) == mk_fix(3));
        CU_ASSERT(memcmp(str_bytes(n1[2]), "old message", 11) == 0);
        CU_ASSERT(round == 0 ? in_aged(p->links) : in_old(p->links));
        CU_ASSERT(box_ptr(p->links)[4] == mk_pid(8) && float_val(box_ptr(p->links)[5]) == 2.5);
        CU_ASSERT_EQUAL(box_ptr(box_ptr(p->links)[1])[4], mk_pid(7));
    }

    /* the first message is taken, as RECV_ACCEPT unlinks it; a minor and
     * a major collection keep the rest whole */
    p->mbox_first = box_ptr(old_node)[1];
    p->mbox_len = 1;
    CU_ASSERT_EQUAL_FATAL(heap_collect(&w.rt, pcb, 0), 0);
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    term *n2 = box_ptr(p->mbox_first);
    CU_ASSERT(p->mbox_first == p->mbox_last && CAR(n2[2]) == mk_fix(2));
    /* the list, the node and its list, two links and 2.5 */
    CU_ASSERT_EQUAL(p->live_words, 10000 + 6 + 4 + 6 + 6 + 2);
    CU_ASSERT(list_ok(p->sp[-1], 5000));
    CU_ASSERT_EQUAL_FATAL(heap_collect(&w.rt, pcb, 0), 0);
    CU_ASSERT_PTR_NOT_NULL(p->ofirst);
    /* both generations go back to the pool with the process (but what
     * the VM's page cache keeps, as in test_heap_shrinks) */
    lh_proc_free(&w, pcb);
    uint64_t free_end = pool_free_pages(w.h, 0);
    LH_CHECK(free_end + 40 >= free0, "free pages %llu before, %llu after",
             (unsigned long long)free0, (unsigned long long)free_end);
    lh_world_close(&w);
    pcb = NULL;
    p = NULL;
}

/* What was promoted and then died is reclaimed by a major collection,
 * which comes once the old generation holds three times what lived at
 * the last one: lists that live across two collections and then die
 * never make the old generation grow without bound; lists that live
 * across one only are never promoted. */
static void test_old_garbage_reclaimed(void)
{
    SETUP();
    CU_ASSERT_FATAL(push_list(5000)); /* lives throughout */
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p->ofirst);
    uint64_t old0 = p->old_used;
    for (int round = 0; round < 20; round++) {
        CU_ASSERT_FATAL(push_list(500));
        CU_ASSERT_EQUAL_FATAL(heap_collect(&w.rt, pcb, 0), 0);
        CU_ASSERT_FATAL(list_ok(p->sp[-1], 500));
        p->sp--; /* it dies young */
    }
    CU_ASSERT_EQUAL(p->old_used, old0);
    uint64_t most = 0;
    int majors = 0;
    for (int round = 0; round < 400; round++) {
        CU_ASSERT_FATAL(push_list(500));
        uint64_t before = p->old_used;
        CU_ASSERT_EQUAL_FATAL(heap_collect(&w.rt, pcb, 0), 0);
        majors += p->old_used < before;
        before = p->old_used;
        CU_ASSERT_EQUAL_FATAL(heap_collect(&w.rt, pcb, 0), 0);
        majors += p->old_used < before;
        CU_ASSERT_FATAL(list_ok(p->sp[-1], 500));
        p->sp--; /* it dies old */
        if (p->old_used > most)
            most = p->old_used;
    }
    CU_ASSERT(list_ok(p->sp[-1], 5000));
    CU_ASSERT(majors >= 10);
    /* three times what lived at a major collection (the 5,000-cell list
     * and at most the round's 500-cell one: 11,000 words), the 16 pages'
     * slack, and one round's promotion past that */
    LH_CHECK(most <= 3 * 11000 + 16 * SHOAL_PAGE / sizeof(term) + 1000,
             "old generation grew to %llu words", (unsigned long long)most);
    teardown();
}

/* The heap limit: a request past it fails with EFBIG; live data may grow
 * up to it, and not unboundedly past it. */
static void test_heap_limit(void)
{
    enum { LIMIT = 32768 };
    SETUP();
    p->heap_limit_words = LIMIT;
    errno = 0;
    CU_ASSERT_EQUAL(heap_make_room(&w.rt, pcb, LIMIT + 1000), -1);
    CU_ASSERT_EQUAL(errno, EFBIG);
    CU_ASSERT_EQUAL(heap_make_room(&w.rt, pcb, LIMIT / 2), 0);
    CU_ASSERT((uint64_t)(p->hlim - p->hp) >= LIMIT / 2);

    push(T_NIL);
    int64_t n = 0;
    errno = 0;
    while (n < 10 * LIMIT && heap_make_room(&w.rt, pcb, 2) == 0) {
        p->sp[-1] = new_cons(mk_fix(n), p->sp[-1]);
        n++;
    }
    CU_ASSERT_EQUAL(errno, EFBIG);
    LH_CHECK(2 * n + 2 > LIMIT && 2 * n <= 3 * LIMIT, "failed at %lld cells (limit %d words)",
             (long long)n, LIMIT);
    /* what was built is still whole */
    CU_ASSERT(list_ok(p->sp[-1], n));
    teardown();
}

/* stack_grow moves the value stack and the control frames to a bigger run,
 * whole, with the frames' pointers into the value stack moved along, and
 * counts it against the heap limit. */
static void test_stack_grow(void)
{
    SETUP();
    CU_ASSERT_FATAL(push_list(300));
    for (int i = 0; i < 300; i++)
        push(mk_fix(i * 7));
    ctl_t frames[3];
    for (int i = 0; i < 3; i++) {
        frames[i] = *push_frame(0x1000 + 16 * i + i % 3, 10 + i, 20 + i);
    }
    p->fp = 33;
    term *old_lo = p->stack_lo;
    size_t old_words = (size_t)(p->stack_hi - p->stack_lo);
    CU_ASSERT_EQUAL_FATAL(stack_grow(&w.rt, pcb, 10000), 0);
    CU_ASSERT_PTR_NOT_EQUAL(p->stack_lo, old_lo);
    CU_ASSERT((size_t)(p->stack_hi - p->stack_lo) > old_words);
    CU_ASSERT((term *)p->ctl - p->sp >= 10000);
    CU_ASSERT_EQUAL(p->sp - p->stack_lo, 301);
    CU_ASSERT_EQUAL(pool_owner_of(w.h, p->stack_lo), POOL_OWNER_PROC(pcb->slot));
    int bad = 0;
    for (int i = 0; i < 300; i++)
        bad += p->stack_lo[1 + i] != mk_fix(i * 7);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL((ctl_t *)p->stack_hi - p->ctl, 3);
    for (int i = 0; i < 3; i++) {
        const ctl_t *c = &p->ctl[2 - i];
        CU_ASSERT_PTR_EQUAL(c->pc, frames[i].pc);
        CU_ASSERT_EQUAL(ctl_kind(c), (enum ctl_kind)(i % 3));
        CU_ASSERT_PTR_EQUAL(c->func, frames[i].func);
        CU_ASSERT_PTR_EQUAL(c->fp, p->stack_lo + 10 + i);
        CU_ASSERT_PTR_EQUAL(c->base, p->stack_lo + 20 + i);
    }
    CU_ASSERT_EQUAL(p->fp, 33);
    /* the moved stack is what the collector scans */
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT(list_ok(p->stack_lo[0], 300));

    /* past the heap limit it fails and leaves the stack as it was */
    p->heap_limit_words = 1u << 14;
    term *lo = p->stack_lo;
    errno = 0;
    CU_ASSERT_EQUAL(stack_grow(&w.rt, pcb, 1u << 20), -1);
    CU_ASSERT_EQUAL(errno, EFBIG);
    CU_ASSERT_PTR_EQUAL(p->stack_lo, lo);
    CU_ASSERT_EQUAL(p->sp - p->stack_lo, 301);
    CU_ASSERT_EQUAL((ctl_t *)p->stack_hi - p->ctl, 3);
    teardown();
}

/* GC torture in process: every allocation collects, and nothing is lost. */
static void test_torture_in_process(void)
{
    CU_ASSERT_EQUAL_FATAL(lh_world_open(&w, prog, 256u << 20), 0);
    w.rt.gc_torture = true;
    pcb = lh_proc_new(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    p = proc_of(pcb);
    term ks, kf, kl;
    constants(&ks, &kf, &kl);
    push(ks);
    CU_ASSERT_FATAL(push_list(2000));
    CU_ASSERT(p->gcs >= 2000);
    CU_ASSERT(list_ok(p->sp[-1], 2000));
    CU_ASSERT_EQUAL(p->stack_lo[0], ks);
    CU_ASSERT_EQUAL(p->live_words, 4000 - 2); /* collected before the last cell */
    teardown();
}

/* term_size counts what term_copy writes; the copy is equal, standalone,
 * and a shared subterm is copied once per reference. */
static void test_term_copy(void)
{
    SETUP();
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 512), 0);
    term ks, kf, kl;
    constants(&ks, &kf, &kl);
    term t3[] = {new_string("abcdefghi"), new_float(0.5), kl};
    term t = new_tuple(3, t3); /* 4 + 4 + 2 + constant list (3 cells, "two", 3.0) */
    term *c = heap_take(p, 3);
    c[0] = mk_hdr(3, BT_CLOSURE);
    c[1] = (term)(uintptr_t)lh_func(w.h, "main", 0);
    c[2] = t;
    term root = new_cons(t, new_cons(mk_box(c), new_cons(ks, T_NIL)));
    uint64_t klw = 6 + 3 + 2; /* '(1 "two" 3.0) */
    uint64_t tw = 4 + 4 + 2 + klw;
    uint64_t want = 6 + tw + (3 + tw) + 3 /* "hello" */;
    CU_ASSERT_EQUAL(term_size(root), want);
    CU_ASSERT_EQUAL(term_size(mk_fix(3)), 0);
    CU_ASSERT_EQUAL(term_size(T_NIL), 0);
    term *buf = calloc(want + 8, sizeof(term)), *hp = buf;
    CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
    term copy = term_copy(root, &hp);
    CU_ASSERT_EQUAL(hp - buf, (ptrdiff_t)want);
    CU_ASSERT(term_equal(copy, root));
    /* standalone: every object of the copy is in buf */
    term ct = CAR(copy), cc = CAR(CDR(copy));
    CU_ASSERT(box_ptr(ct) >= buf && box_ptr(ct) < buf + want);
    CU_ASSERT(box_ptr(cc) >= buf && box_ptr(cc) < buf + want);
    CU_ASSERT_EQUAL(box_ptr(cc)[1], c[1]);
    CU_ASSERT_NOT_EQUAL(box_ptr(cc)[2], ct); /* the shared tuple, copied twice */
    CU_ASSERT(term_equal(box_ptr(cc)[2], ct));
    term cl = tuple_elems(ct)[2];
    CU_ASSERT(cons_ptr(cl) >= buf && cons_ptr(cl) < buf + want);
    free(buf);
    teardown();
}

/* A collection that runs out of pool pages half way fails with ENOMEM
 * (heap.h): the interpreter then ends the process with heap_limit, and
 * proc_exit's msg_close walks its link and monitor chains to tell the
 * watchers, so those chains must still read right, and releasing the
 * process must give back both spaces. */
static void test_gc_out_of_pool(void)
{
    enum { N = 1000000, KEEP = 300 };
    CU_ASSERT_EQUAL_FATAL(lh_world_open(&w, prog, 64u << 20), 0);
    pcb = lh_proc_new(&w);
    CU_ASSERT_PTR_NOT_NULL_FATAL(pcb);
    p = proc_of(pcb);
    CU_ASSERT_FATAL(push_list(N)); /* 16 MB live */
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 6), 0);
    term *lk = heap_take(p, 6);
    lk[0] = mk_hdr(6, BT_MSG);
    lk[1] = 0;
    lk[2] = T_NIL;
    lk[3] = mk_fix(3);
    lk[4] = mk_pid(12345);
    lk[5] = T_NIL;
    p->links = mk_box(lk);
    term root = p->sp[-1], links = p->links;

    /* Leave exactly KEEP contiguous free pages: enough for the to-space's
     * first block (1 MiB), not for the rest of 16 MB. */
    void *keep = pool_alloc(w.h, 0, 0, KEEP, POOL_OWNER_VM(0));
    CU_ASSERT_PTR_NOT_NULL_FATAL(keep);
    static void *hog[8192];
    size_t nhog = 0, chunk = 8192;
    while (chunk > 0 && nhog < sizeof hog / sizeof hog[0]) {
        void *r = pool_alloc(w.h, 0, 0, chunk, POOL_OWNER_VM(0));
        if (r)
            hog[nhog++] = r;
        else
            chunk /= 2;
    }
    pool_free(w.h, 0, keep);

    errno = 0;
    CU_ASSERT_EQUAL(heap_gc(&w.rt, pcb, 0, NULL, 0), -1);
    CU_ASSERT_EQUAL(errno, ENOMEM);
    /* The contract (heap.h): the process can only be ended, and ending it
     * is safe: the link chain still names the linked pid, wherever the
     * node now is, and heap_release gives every page back. */
    CU_ASSERT_PTR_NOT_NULL_FATAL((void *)(uintptr_t)p->links);
    CU_ASSERT_EQUAL(box_ptr(p->links)[4], mk_pid(12345));
    CU_ASSERT_EQUAL(box_ptr(p->links)[1], 0);
    (void)root;
    (void)links;
    for (size_t i = 0; i < nhog; i++)
        pool_free(w.h, 0, hog[i]);
    nhog = 0;
    uint64_t before = pool_free_pages(w.h, 0);
    heap_release(&w.rt, pcb);
    CU_ASSERT(pool_free_pages(w.h, 0) > before);
    CU_ASSERT_EQUAL(p->hfirst, NULL);
    CU_ASSERT_EQUAL(p->frags, NULL);
    for (size_t i = 0; i < nhog; i++)
        pool_free(w.h, 0, hog[i]);
    teardown();
}

/* ------------------------------------------------------------------ */
/* the first block: heap and stack in one small chunk                   */

/* Slots in use in the slabs of process memory. */
static size_t chunks_used(void)
{
    char why[256];
    size_t used = 0;
    CU_ASSERT_EQUAL(slab_check(w.h, shm_heap_slabs(w.h), why, sizeof why, NULL, &used), 0);
    return used;
}

static uint64_t lines_held(void)
{
    uint64_t n = 0;
    for (uint32_t k = 0; k < PROC_NODES; k++)
        n += p->node_lines[k];
    return n * PROC_LINE;
}

/* A process as heap_init leaves it (lh_proc_new gives it a page of
 * stack on top): one chunk, heap at the bottom, stack at the top. */
static bool setup_small(void)
{
    if (lh_world_open(&w, prog, 64u << 20) < 0)
        return false;
    pcb = proctab_claim(w.h, 0);
    if (!pcb || heap_init(&w.rt, pcb, 0) < 0)
        return false;
    p = proc_of(pcb);
    return true;
}

/* Growth from the smallest block: the stack takes the heap's free room
 * below it, the heap goes on in a block of pages when it meets the stack,
 * a collection copies the heap out (the block stays for the stack), and
 * the block goes back when the stack moves out too. */
static void test_first_block_grows(void)
{
    CU_ASSERT_FATAL(setup_small());
    size_t used0 = chunks_used();
    hblock_t *c = p->cblock;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_EQUAL(p->hfirst, c);
    CU_ASSERT_PTR_EQUAL(p->hcur, c);
    size_t bytes = heap_block_bytes(w.h, c);
    CU_ASSERT(bytes <= 512);
    CU_ASSERT_PTR_EQUAL(p->stack_hi, (term *)((char *)c + bytes));
    CU_ASSERT_PTR_EQUAL(p->hlim, p->stack_lo);
    CU_ASSERT_EQUAL(lines_held(), bytes); /* all a process holds */
    CU_ASSERT_EQUAL(heap_block_bytes(w.h, p->stack_lo), bytes);

    /* a little heap, rooted on the stack */
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 4), 0);
    push(new_cons(mk_fix(1), new_cons(mk_fix(2), T_NIL)));
    CU_ASSERT(in_heap(p->sp[-1]));
    CU_ASSERT(cons_ptr(p->sp[-1]) >= hblock_start(c) && cons_ptr(p->sp[-1]) < c->end);

    /* The stack needs more: it takes room below it, the values move
     * down with it, the control frames stay and point at the moved
     * values, the heap's limit comes down. */
    ctl_t *cs = --p->ctl;
    memset(cs, 0, sizeof *cs);
    cs->fp = p->stack_lo + 1;
    cs->base = p->stack_lo;
    term *lo0 = p->stack_lo, *hp0 = p->hp;
    CU_ASSERT_EQUAL_FATAL(stack_grow(&w.rt, pcb, 6), 0);
    CU_ASSERT_PTR_EQUAL(p->cblock, c);
    CU_ASSERT(p->stack_lo < lo0);
    CU_ASSERT(p->stack_lo >= hp0);
    CU_ASSERT_PTR_EQUAL(p->hlim, p->stack_lo);
    CU_ASSERT_PTR_EQUAL(c->end, p->stack_lo);
    CU_ASSERT((term *)p->ctl - p->sp >= 6);
    CU_ASSERT_PTR_EQUAL(p->ctl->fp, p->stack_lo + 1);
    CU_ASSERT_PTR_EQUAL(p->ctl->base, p->stack_lo);
    CU_ASSERT_EQUAL(p->sp - p->stack_lo, 1);
    CU_ASSERT_EQUAL(CAR(p->stack_lo[0]), mk_fix(1));
    CU_ASSERT_EQUAL(chunks_used(), used0);

    /* The heap meets the stack: it goes on in a block of pages. */
    uint64_t room = (uint64_t)(p->hlim - p->hp);
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, room + 1), 0);
    CU_ASSERT_PTR_NOT_EQUAL(p->hcur, c);
    CU_ASSERT_PTR_EQUAL(p->hfirst, c);
    CU_ASSERT_EQUAL(heap_block_bytes(w.h, p->hcur), SHOAL_PAGE);
    p->sp[-1] = new_cons(mk_fix(0), p->sp[-1]);
    CU_ASSERT(in_heap(p->sp[-1]));
    CU_ASSERT_EQUAL(lines_held(), bytes + SHOAL_PAGE);

    /* A collection copies the heap out; the block stays for the stack. */
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT_PTR_EQUAL(p->cblock, c);
    CU_ASSERT_PTR_NOT_EQUAL(p->hfirst, c);
    CU_ASSERT_FALSE(cons_ptr(p->stack_lo[0]) >= (term *)c &&
                    cons_ptr(p->stack_lo[0]) < (term *)((char *)c + bytes));
    CU_ASSERT(in_heap(p->stack_lo[0]));
    CU_ASSERT_EQUAL(CAR(p->stack_lo[0]), mk_fix(0));
    CU_ASSERT_EQUAL(CAR(CDR(CDR(p->stack_lo[0]))), mk_fix(2));
    CU_ASSERT_EQUAL(chunks_used(), used0);

    /* Now the whole block may be the stack's... */
    term *lo1 = p->stack_lo;
    CU_ASSERT_EQUAL_FATAL(stack_grow(&w.rt, pcb, 20), 0);
    CU_ASSERT_PTR_EQUAL(p->cblock, c);
    CU_ASSERT(p->stack_lo < lo1);
    CU_ASSERT(p->stack_lo >= hblock_start(c));
    CU_ASSERT((term *)p->ctl - p->sp >= 20);
    /* ...and past it the stack moves out, and the block goes back. */
    CU_ASSERT_EQUAL_FATAL(stack_grow(&w.rt, pcb, bytes / sizeof(term)), 0);
    CU_ASSERT_PTR_NULL(p->cblock);
    CU_ASSERT_EQUAL(chunks_used(), used0 - 1 + (heap_block_bytes(w.h, p->stack_lo) <= 2048));
    CU_ASSERT_PTR_EQUAL(p->ctl->fp, p->stack_lo + 1);
    CU_ASSERT_PTR_EQUAL(p->ctl->base, p->stack_lo);
    CU_ASSERT_EQUAL(CAR(p->stack_lo[0]), mk_fix(0));
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT_EQUAL(CAR(CDR(CDR(p->stack_lo[0]))), mk_fix(2));

    heap_release(&w.rt, pcb);
    CU_ASSERT_EQUAL(lines_held(), 0);
    CU_ASSERT_EQUAL(chunks_used(), used0 - 1);
    proctab_release(w.h, pcb);
    lh_world_close(&w);
}

/* The stack leaves the first block while the heap is still there: the
 * heap has the whole block then; a collection gives it back. */
static void test_first_block_stack_leaves(void)
{
    CU_ASSERT_FATAL(setup_small());
    size_t used0 = chunks_used();
    hblock_t *c = p->cblock;
    size_t bytes = heap_block_bytes(w.h, c);
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 2), 0);
    push(new_cons(mk_fix(5), T_NIL));
    uint64_t words0 = p->heap_words;
    /* far more than the block: the stack goes to a block of its own */
    CU_ASSERT_EQUAL_FATAL(stack_grow(&w.rt, pcb, 100), 0);
    CU_ASSERT_PTR_EQUAL(p->cblock, c);
    CU_ASSERT_FALSE(p->stack_lo >= (term *)c && p->stack_lo < (term *)((char *)c + bytes));
    CU_ASSERT_PTR_EQUAL(p->hlim, (term *)((char *)c + bytes));
    CU_ASSERT_PTR_EQUAL(c->end, p->hlim);
    CU_ASSERT(p->heap_words > words0);
    size_t sbytes = heap_block_bytes(w.h, p->stack_lo);
    CU_ASSERT(sbytes <= 2048); /* a chunk too */
    CU_ASSERT_EQUAL(chunks_used(), used0 + 1);
    CU_ASSERT_EQUAL(lines_held(), bytes + sbytes);
    CU_ASSERT_EQUAL(CAR(p->stack_lo[0]), mk_fix(5));
    /* the heap fills the whole block, up to the top */
    uint64_t room = (uint64_t)(p->hlim - p->hp);
    CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, room), 0);
    CU_ASSERT_PTR_EQUAL(p->hcur, c);
    term *t = heap_take(p, room);
    t[0] = mk_hdr(room, BT_TUPLE);
    for (uint64_t i = 1; i < room; i++)
        t[i] = mk_fix((int64_t)i);
    push(mk_box(t));
    CU_ASSERT(in_heap(mk_box(t)));
    CU_ASSERT_EQUAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT_PTR_NULL(p->cblock); /* nobody uses it: given back */
    CU_ASSERT_EQUAL(chunks_used(), used0);
    CU_ASSERT_EQUAL(tuple_elems(p->stack_lo[1])[room - 2], mk_fix((int64_t)room - 1));
    CU_ASSERT_EQUAL(CAR(p->stack_lo[0]), mk_fix(5));
    heap_release(&w.rt, pcb);
    CU_ASSERT_EQUAL(lines_held(), 0);
    CU_ASSERT_EQUAL(chunks_used(), used0 - 1);
    proctab_release(w.h, pcb);
    lh_world_close(&w);
}

/* GC torture from the first block: every allocation collects, the stack
 * grows meanwhile, nothing is lost, and the block goes back. */
static void test_first_block_torture(void)
{
    CU_ASSERT_FATAL(setup_small());
    w.rt.gc_torture = true;
    size_t used0 = chunks_used();
    push(T_NIL);
    for (int64_t i = 0; i < 300; i++) {
        if ((term *)p->ctl - p->sp < 4)
            CU_ASSERT_EQUAL_FATAL(stack_grow(&w.rt, pcb, 4), 0);
        push(mk_fix(i));
        CU_ASSERT_EQUAL_FATAL(heap_make_room(&w.rt, pcb, 2), 0);
        p->sp[-1 - (i + 1)] = new_cons(mk_fix(i), p->sp[-1 - (i + 1)]);
    }
    CU_ASSERT(p->gcs >= 300);
    CU_ASSERT(list_ok(p->stack_lo[0], 300));
    int bad = 0;
    for (int64_t i = 0; i < 300; i++)
        bad += p->stack_lo[1 + i] != mk_fix(i);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_PTR_NULL(p->cblock);
    heap_release(&w.rt, pcb);
    CU_ASSERT_EQUAL(lines_held(), 0);
    CU_ASSERT_EQUAL(chunks_used(), used0 - 1);
    proctab_release(w.h, pcb);
    lh_world_close(&w);
}

/* ------------------------------------------------------------------ */
/* GC torture through the binary                                       */

static const struct {
    const char *src;
    const char *out;
} torture_progs[] = {
    {"(defn main ()\n"
     "  (let ((l (seq 1 300)) (k 3))\n"
     "    (print (foldl (fn (e a) (+ e a)) 0 (map (fn (x) (* x k)) l)))\n"
     "    (print (reverse (append (list \"a\" 1.5) (list (tuple 'b \"c\")))))\n"
     "    (print (str \"n=\" (length l) \" \" (tuple 1 (list 2.5))))\n"
     "    (print (elem 1 (tuple 'x (cons 1 (cons 2 '())))))))\n",
     "135450\n(#(b \"c\") 1.5 \"a\")\nn=300 #(1 (2.5))\n(1 2)\n"},
    {"(defn deep (n) (if (= n 0) (error (tuple 'bottom (list n \"s\"))) (cons n (deep (- n 1)))))\n"
     "(defn build (n acc) (if (= n 0) acc (build (- n 1) (cons (tuple n (str n)) acc))))\n"
     "(defn main ()\n"
     "  (print (catch (deep 2000)))\n"
     "  (let ((b (build 500 '())))\n"
     "    (print (length b) (elem 1 (nth 499 b)) (car (map (fn (t) (elem 0 t)) b)))))\n",
     "#(EXIT #(error #(bottom (0 \"s\"))))\n500 500 1\n"},
    {"(defn loop (n) (if (= n 0) 'done (do (send (self) (list n (str n))) (loop (- n 1)))))\n"
     "(defn drain (acc) (receive ((list n s) (drain (+ acc (string->int s)))) (after 0 acc)))\n"
     "(defn main ()\n"
     "  (loop 200)\n"
     "  (print (drain 0))\n"
     "  (let ((f (let ((a (list 1 2)) (b \"free\")) (fn (x) (list x a b)))))\n"
     "    (print (map f '(x y)))))\n",
     "20100\n((x (1 2) \"free\") (y (1 2) \"free\"))\n"},
};

static void test_torture_binary(void)
{
    static const char *const flags[] = {"--vms", "1", NULL};
    static const char *const torture[] = {"SHOAL_GC_TORTURE=1", NULL};
    for (size_t i = 0; i < sizeof torture_progs / sizeof torture_progs[0]; i++) {
        lh_result_t a, b;
        lh_run(torture_progs[i].src, flags, NULL, NULL, &a);
        lh_run(torture_progs[i].src, flags, torture, NULL, &b);
        LH_CHECK(a.status == 0 && strcmp(a.out, torture_progs[i].out) == 0,
                 "program %zu: status %d, printed \"%s\" (stderr \"%s\")", i, a.status, a.out,
                 a.err);
        LH_CHECK(b.status == 0 && strcmp(b.out, a.out) == 0,
                 "program %zu under torture: status %d, printed \"%s\" (stderr \"%s\")", i,
                 b.status, b.out, b.err);
        lh_result_free(&a);
        lh_result_free(&b);
    }
}

/* Torture also holds with two VMs and a process that moves between them
 * (its heap goes along, and is collected on the other side). */
static void test_torture_two_vms(void)
{
    static const char *const flags[] = {"--vms", "2", NULL};
    static const char *const torture[] = {"SHOAL_GC_TORTURE=1", NULL};
    static const char src[] =
        "(defn main ()\n"
        "  (let ((l (map (fn (i) (tuple i (str \"v\" i))) (seq 1 200))))\n"
        "    (migrate 1)\n"
        "    (print (vm-id) (length l) (elem 1 (nth 199 l)))\n"
        "    (migrate 0)\n"
        "    (print (vm-id) (foldl (fn (t a) (+ a (elem 0 t))) 0 l))))\n";
    lh_result_t r;
    lh_run(src, flags, torture, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 0);
    CU_ASSERT_STRING_EQUAL(r.out, "1 200 v200\n0 20100\n");
    lh_result_free(&r);
}

/* Hibernation: the heap shrinks to what lives, and heap and stack go
 * into one chunk when they fit, the process then holding that chunk
 * alone; values, control frames and the frame index are kept, and every
 * frame's whole extent stays free above it (code pushes within a frame
 * without a check: here the running one builds a 40-tuple); a second
 * hibernation has nothing to give; the process goes on. */
static void test_hibernate(void)
{
    SETUP();
    CU_ASSERT_FATAL(push_list(40)); /* lives: 80 words */
    CU_ASSERT_FATAL(push_list(20000)); /* dies */
    p->sp--;
    for (int i = 0; i < 5; i++)
        push(mk_fix(i * 3));
    CU_ASSERT_EQUAL_FATAL(stack_grow(&w.rt, pcb, 16), 0);
    for (int i = 0; i < 2; i++)
        push_frame(0x1000 + 16 * i, 1 + i, 2 + i);
    p->fp = 4;
    const func_t *wide = lh_func(w.h, "wide", 1);
    CU_ASSERT_FATAL(wide && wide->frame > 40);
    p->func = wide;
    CU_ASSERT(heap_can_shrink(p));
    CU_ASSERT(p->heap_words > 10000);
    CU_ASSERT_EQUAL_FATAL(heap_hibernate(&w.rt, pcb), 0);
    hblock_t *c = p->cblock;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_EQUAL(p->hfirst, c);
    CU_ASSERT_PTR_NULL(c->next);
    CU_ASSERT(c->bytes <= SLAB_MAX);
    CU_ASSERT_EQUAL(p->live_words, 80);
    CU_ASSERT_EQUAL(p->heap_words, 80);
    CU_ASSERT_PTR_NULL(p->frags);
    CU_ASSERT_PTR_NULL(p->ofirst);
    /* the stack is the rest of the chunk */
    CU_ASSERT_PTR_EQUAL(p->stack_lo, c->end);
    CU_ASSERT_PTR_EQUAL(p->stack_hi, (term *)((char *)c + c->bytes));
    CU_ASSERT_EQUAL(p->sp - p->stack_lo, 6);
    CU_ASSERT(list_ok(p->stack_lo[0], 40));
    int bad = 0;
    for (int i = 0; i < 5; i++)
        bad += p->stack_lo[1 + i] != mk_fix(i * 3);
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL((ctl_t *)p->stack_hi - p->ctl, 2);
    for (int i = 0; i < 2; i++) {
        const ctl_t *f = &p->ctl[1 - i];
        CU_ASSERT_PTR_EQUAL(f->pc, (const uint32_t *)(uintptr_t)(0x1000 + 16 * i));
        CU_ASSERT_PTR_EQUAL(f->fp, p->stack_lo + 1 + i);
        CU_ASSERT_PTR_EQUAL(f->base, p->stack_lo + 2 + i);
    }
    CU_ASSERT_EQUAL(p->fp, 4);
    /* the running frame's extent, and two control frames, below the
     * control frames; each caller's extent too */
    CU_ASSERT((term *)p->ctl - (p->stack_lo + p->fp + wide->frame) >=
              (ptrdiff_t)(2 * sizeof(ctl_t) / sizeof(term)));
    for (const ctl_t *f = p->ctl; (term *)f < p->stack_hi; f++)
        CU_ASSERT(f->fp + f->func->frame <= (term *)p->ctl);
    /* what the process holds is the chunk and nothing else */
    uint64_t lines = 0;
    for (uint32_t k = 0; k < PROC_NODES; k++)
        lines += p->node_lines[k];
    CU_ASSERT_EQUAL(lines * PROC_LINE, c->bytes);
    CU_ASSERT(!heap_can_shrink(p));
    CU_ASSERT_EQUAL(heap_hibernate(&w.rt, pcb), 0);
    CU_ASSERT_PTR_EQUAL(p->cblock, c);
    /* it goes on: allocates, collects */
    CU_ASSERT_FATAL(push_list(1000));
    p->sp--;
    CU_ASSERT_EQUAL_FATAL(heap_gc(&w.rt, pcb, 0, NULL, 0), 0);
    CU_ASSERT(list_ok(p->stack_lo[0], 40));
    CU_ASSERT_EQUAL(p->live_words, 80);
}

/* Next to nothing lives: the chunk is whole lines (the process's memory
 * is counted in lines), all of it counted, and no bigger than a new
 * process's first block. */
static void test_hibernate_small(void)
{
    SETUP();
    CU_ASSERT_FATAL(push_list(3000)); /* dies */
    p->sp--;
    p->func = lh_func(w.h, "main", 0);
    CU_ASSERT_EQUAL_FATAL(heap_hibernate(&w.rt, pcb), 0);
    hblock_t *c = p->cblock;
    CU_ASSERT_PTR_NOT_NULL_FATAL(c);
    CU_ASSERT_PTR_EQUAL(p->hfirst, c);
    CU_ASSERT_EQUAL(c->bytes % PROC_LINE, 0);
    CU_ASSERT(c->bytes <= 384);
    uint64_t lines = 0;
    for (uint32_t k = 0; k < PROC_NODES; k++)
        lines += p->node_lines[k];
    CU_ASSERT_EQUAL(lines * PROC_LINE, c->bytes);
}

/* Too much lives for a chunk: the heap shrinks to within twice what
 * lives, and the stack stays where it is. */
static void test_hibernate_big(void)
{
    SETUP();
    CU_ASSERT_FATAL(push_list(3000)); /* lives: 6,000 words */
    CU_ASSERT_FATAL(push_list(50000)); /* dies */
    p->sp--;
    CU_ASSERT(p->heap_words > 100000);
    term *lo = p->stack_lo;
    CU_ASSERT_EQUAL_FATAL(heap_hibernate(&w.rt, pcb), 0);
    CU_ASSERT_EQUAL(p->live_words, 6000);
    CU_ASSERT(p->heap_words <= 2 * 6000 + 2 * SHOAL_PAGE / sizeof(term));
    CU_ASSERT_PTR_EQUAL(p->stack_lo, lo);
    CU_ASSERT(list_ok(p->stack_lo[0], 3000));
}

static CU_TestInfo gc_tests[] = {
    {"a 1,000,000-cell list survives, moved and whole", test_deep_list},
    {"a long collection moves the heartbeat as it goes", test_long_gc_beats},
    {"sharing is kept: a shared object is copied once", test_sharing},
    {"closures keep their captures; the func pointer is kept", test_closures},
    {"constants in the code area are not copied", test_constants_stay},
    {"every root: stack, extra, mailbox, error, links, monitors", test_all_roots},
    {"garbage is reclaimed: 64 MiB allocated, heap stays small", test_garbage_reclaimed},
    {"the heap grows with live data and shrinks when it dies", test_heap_shrinks},
    {"heap limit: make_room past it is -1 EFBIG", test_heap_limit},
    {"a small process keeps one generation", test_small_one_generation},
    {"a minor collection ages the new, promotes the aged, leaves the old in place",
     test_minor_promotes},
    {"message chains: old nodes with young successors survive minor collections",
     test_minor_chains},
    {"promoted data that dies is reclaimed by a major collection", test_old_garbage_reclaimed},
    {"stack_grow keeps values and control frames", test_stack_grow},
    {"hibernation: heap and stack into one chunk, everything kept", test_hibernate},
    {"hibernation: too much for a chunk, the heap within twice what lives", test_hibernate_big},
    {"hibernation: next to nothing lives, a chunk of whole lines", test_hibernate_small},
    {"GC torture in process: a collection per allocation", test_torture_in_process},
    {"term_size and term_copy", test_term_copy},
    {"a collection out of pool pages leaves the process whole", test_gc_out_of_pool},
    {"first block: the stack takes the heap's room, then moves out; the block goes back",
     test_first_block_grows},
    {"first block: the stack moves out, the heap has the whole block", test_first_block_stack_leaves},
    {"first block: GC torture while the stack grows", test_first_block_torture},
    {"GC torture through the binary: same output", test_torture_binary},
    {"GC torture with a process moving between two VMs", test_torture_two_vms},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(gc, gc_tests, NULL, NULL)
