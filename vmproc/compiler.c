/*
 * compiler.c: the compiler of the shoal language to bytecode (opcodes.h).
 *
 * One pass over each function body, with a context per function (fctx_t):
 * its code and constants being built in private memory, the variables in
 * scope and their frame slots, the free variables a closure captures, and
 * the depth of the value stack, so that every frame knows how much stack
 * it can use. Constants are built straight into the code area.
 *
 * Name resolution in a call (f a ...): a special form; else a variable in
 * scope (a closure value, so variables shadow functions); else a top-level
 * function of that name and arity; else a builtin; else an error. A wrong
 * arity for a known top-level function or builtin is a compile error.
 *
 * Every lookup is hashed (sym_tab_t: top-level names, each function's
 * variables; a hash of each function's constants), so compile time grows
 * with the program, not its square; compiler_compares counts the probes
 * so that a test can hold it to that. Recursion over nested forms checks
 * the C stack it has left (shoal_stack_t).
 *
 * The words of a function's code, its jumps and constants, and the
 * peephole that fuses instructions are in compiler_emit.c; the types
 * both files use are in compiler_impl.h.
 *
 * NOTES
 *   Supervisor only, before the fork. Private memory comes from an arena
 *   that compiler_free releases whole; the code area is only ever appended
 *   to.
 */
#include "vmproc/compiler.h"

#include "shm/atom.h"
#include "vmproc/bif.h"
#include "vmproc/code.h"
#include "vmproc/map.h"
#include "vmproc/termio.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

uint64_t compiler_compares;


#include "vmproc/compiler_impl.h"

/* ------------------------------------------------------------------ */
/* errors and memory                                                   */

void die_at(compiler_t *c, const ast_t *a, const char *fmt, ...)
{
    if (!a)
        a = c->where;
    c->err->file = a ? a->file : "?";
    c->err->line = a ? a->line : 0;
    c->err->col = a ? a->col : 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err->msg, sizeof c->err->msg, fmt, ap);
    va_end(ap);
    longjmp(c->fail, 1);
}

/* A form nested so deep that compiling it would overflow the C stack is
 * an error at that form. The reader bounds nesting at 10,000, but a
 * level of fn or let costs the compiler more stack than the reader. */
static void stack_check(compiler_t *c, const ast_t *a)
{
    if (shoal_stack_low(&c->stack))
        die_at(c, a, "forms nested too deep to compile (ulimit -s gives the compiler more stack)");
}

/* Zeroed private memory for this compile. */
void *c_alloc(compiler_t *c, size_t bytes)
{
    bytes = SHOAL_ALIGN_UP(bytes, sizeof(max_align_t));
    arena_block_t *b = c->arena;
    if (!b || b->used + bytes > b->cap) {
        size_t cap = bytes > 65536 ? bytes : 65536;
        b = malloc(sizeof *b + cap);
        if (!b)
            die_at(c, NULL, "out of memory");
        b->next = c->arena;
        b->used = 0;
        b->cap = cap;
        c->arena = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += bytes;
    memset(p, 0, bytes);
    return p;
}

void *grow(compiler_t *c, void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = c_alloc(c, n * elem);
    if (p)
        memcpy(q, p, *cap * elem);
    *cap = n;
    return q;
}

static void *carea(compiler_t *c, const ast_t *a, size_t bytes)
{
    void *p = code_alloc(c->h, bytes);
    if (!p)
        die_at(c, a, "the program is too large for the code area (%llu MiB; raise it with --code-mb N)",
               (unsigned long long)(c->h->cfg.code_bytes >> 20));
    return p;
}

static uint32_t intern(compiler_t *c, const ast_t *a, const char *s, size_t n)
{
    int64_t i = atom_intern(c->h, s, n);
    if (i < 0) {
        if (atom_count(c->h) < c->h->cfg.atom_cap)
            die_at(c, a, "the atom table has no room for this name: its %llu KiB of names are "
                         "used (raise it with --atoms N)",
                   (unsigned long long)((c->h->cfg.atom_bytes - atom_index_bytes(c->h->cfg.atom_cap)) >> 10));
        die_at(c, a, "too many atoms and function names (%u; raise the limit with --atoms N)",
               c->h->cfg.atom_cap);
    }
    return (uint32_t)i;
}

/* ------------------------------------------------------------------ */
/* constants                                                           */

static term const_float(compiler_t *c, const ast_t *a, double d)
{
    term *p = carea(c, a, 2 * sizeof(term));
    p[0] = mk_hdr(2, BT_FLOAT);
    memcpy(&p[1], &d, sizeof d);
    return mk_box(p);
}

static term const_string(compiler_t *c, const ast_t *a, const char *s, size_t n)
{
    uint64_t w = str_words(n);
    term *p = carea(c, a, w * sizeof(term));
    memset(p, 0, w * sizeof(term));
    p[0] = mk_hdr(w, BT_STRING);
    p[1] = n;
    memcpy(&p[2], s, n);
    return mk_box(p);
}

/* A quoted form as a constant term. */
static term const_datum(compiler_t *c, const ast_t *a)
{
    stack_check(c, a);
    switch (a->kind) {
    case AST_INT:
        return mk_fix(a->u.i);
    case AST_FLOAT:
        return const_float(c, a, a->u.f);
    case AST_STRING:
        return const_string(c, a, a->u.str.s, a->u.str.len);
    case AST_SYMBOL:
        return mk_atom(intern(c, a, a->u.str.s, a->u.str.len));
    case AST_LIST: {
        term l = T_NIL;
        for (size_t i = a->u.list.n; i-- > 0;) {
            term *cell = carea(c, a, 2 * sizeof(term));
            cell[0] = const_datum(c, a->u.list.items[i]);
            cell[1] = l;
            l = mk_cons_ptr(cell);
        }
        return l;
    }
    }
    UNREACHABLE();
    return T_NIL;
}

/* ------------------------------------------------------------------ */
/* symbol tables                                                       */

static uint32_t name_hash(const char *name)
{
    return (uint32_t)XXH3_64bits(name, strlen(name));
}

/* The entry of `name` in t; with `add`, a new one if it is absent (which
 * moves the others: a sym_t pointer is good until the next add), else
 * NULL. `name` must outlive the table (it is the AST's). */
static sym_t *sym_find(compiler_t *c, sym_tab_t *t, const char *name, bool add)
{
    if (add && (t->used + 1) * 2 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 64;
        sym_t *v = c_alloc(c, cap * sizeof *v);
        for (size_t i = 0; i < t->cap; i++) {
            if (!t->v[i].name)
                continue;
            size_t j = t->v[i].hash & (cap - 1);
            while (v[j].name)
                j = (j + 1) & (cap - 1);
            v[j] = t->v[i];
        }
        t->v = v;
        t->cap = cap;
    }
    if (t->cap == 0)
        return NULL;
    uint32_t h = name_hash(name);
    size_t j = h & (t->cap - 1);
    for (; t->v[j].name; j = (j + 1) & (t->cap - 1)) {
        compiler_compares++;
        if (t->v[j].hash == h && strcmp(t->v[j].name, name) == 0)
            return &t->v[j];
    }
    if (!add)
        return NULL;
    sym_t *e = &t->v[j];
    memset(e, 0, sizeof *e);
    e->name = name;
    e->hash = h;
    e->builtin = -1;
    e->first_global = NO_INDEX;
    e->free_idx = -1;
    t->used++;
    return e;
}

static const char *const special_forms[] = {"defn", "fn",    "let",   "if",      "cond",
                                            "and",  "or",    "case",  "receive", "catch",
                                            "quote", "when", "after", "do",      NULL};

/* The builtins and special forms, once, before the first defn. */
static void names_init(compiler_t *c)
{
    if (c->names.used)
        return;
    for (int i = 0; i < BI__COUNT; i++)
        sym_find(c, &c->names, bif_table[i].name, true)->builtin = i;
    for (int i = 0; special_forms[i]; i++)
        sym_find(c, &c->names, special_forms[i], true)->special = true;
}

/* ------------------------------------------------------------------ */
/* scopes                                                              */

static uint32_t new_slot(compiler_t *c, fctx_t *f, const ast_t *a)
{
    if (f->next_slot >= (1u << 23))
        die_at(c, a, "too many variables in one function");
    uint32_t s = f->next_slot++;
    if (f->next_slot > f->max_slot)
        f->max_slot = f->next_slot;
    return s;
}

static void bind(compiler_t *c, fctx_t *f, const char *name, uint32_t slot)
{
    binding_t *b = c_alloc(c, sizeof *b);
    sym_t *s = sym_find(c, &f->vars, name, true);
    b->name = name;
    b->slot = slot;
    b->next = f->env;
    b->shadowed = s->local;
    s->local = b;
    f->env = b;
}

/* Leave the scopes opened since f->env was `saved`. */
static void unbind_to(compiler_t *c, fctx_t *f, binding_t *saved)
{
    for (binding_t *b = f->env; b != saved; b = b->next)
        sym_find(c, &f->vars, b->name, false)->local = b->shadowed;
    f->env = saved;
}

enum var_kind { VAR_NONE, VAR_SLOT, VAR_FREE };

/* Where `name` lives as seen from f: a slot of f, or a free variable of f
 * (added to f's captures, and to its parents' as needed). */
static enum var_kind resolve(compiler_t *c, fctx_t *f, const char *name, uint32_t *where)
{
    sym_t *s = sym_find(c, &f->vars, name, false);
    if (s && s->local) {
        *where = s->local->slot;
        return VAR_SLOT;
    }
    if (s && s->free_idx >= 0) {
        *where = (uint32_t)s->free_idx;
        return VAR_FREE;
    }
    if (!f->parent)
        return VAR_NONE;
    uint32_t up;
    if (resolve(c, f->parent, name, &up) == VAR_NONE)
        return VAR_NONE;
    size_t cap = f->capfree;
    f->free_names = grow(c, f->free_names, &cap, f->nfree + 1, sizeof *f->free_names);
    f->capfree = (uint32_t)cap;
    f->free_names[f->nfree] = name;
    sym_find(c, &f->vars, name, true)->free_idx = (int32_t)f->nfree;
    *where = f->nfree++;
    return VAR_FREE;
}

static void load_var(compiler_t *c, fctx_t *f, enum var_kind k, uint32_t where)
{
    emit(c, f, k == VAR_SLOT ? OP_LOAD : OP_LOAD_FREE, (int32_t)where);
}

/* ------------------------------------------------------------------ */
/* globals and builtins                                                */

/* The defn of `name` with that arity, or with any arity (the first
 * defined) when arity < 0; or NULL. */
static global_t *find_global(compiler_t *c, const char *name, int arity)
{
    sym_t *s = sym_find(c, &c->names, name, false);
    for (uint32_t i = s ? s->first_global : NO_INDEX; i != NO_INDEX; i = c->globals[i].next)
        if (arity < 0 || c->globals[i].arity == (uint32_t)arity)
            return &c->globals[i];
    return NULL;
}

/* How many arities of `name` are defined. */
static uint32_t global_arities(compiler_t *c, const char *name)
{
    sym_t *s = sym_find(c, &c->names, name, false);
    return s ? s->nglobals : 0;
}

static int find_builtin(compiler_t *c, const char *name)
{
    sym_t *s = sym_find(c, &c->names, name, false);
    return s ? s->builtin : -1;
}

static bool is_special(compiler_t *c, const char *name)
{
    sym_t *s = sym_find(c, &c->names, name, false);
    return s && s->special;
}

/* ------------------------------------------------------------------ */
/* expressions                                                         */

static void comp(compiler_t *c, fctx_t *f, const ast_t *a, bool tail);
static void comp_form(compiler_t *c, fctx_t *f, const ast_t *a, bool tail);
static uint32_t comp_fn(compiler_t *c, fctx_t *parent, const ast_t *params,
                        ast_t *const *body, size_t nbody, const ast_t *where, uint32_t name);

static void comp_body(compiler_t *c, fctx_t *f, ast_t *const *body, size_t n, bool tail,
                      const ast_t *where)
{
    if (n == 0)
        die_at(c, where, "expected at least one expression in the body");
    for (size_t i = 0; i < n; i++) {
        comp(c, f, body[i], tail && i + 1 == n);
        if (i + 1 < n)
            emit(c, f, OP_POP, 0);
    }
}

static void ret_if_tail(compiler_t *c, fctx_t *f, bool tail)
{
    if (tail)
        emit(c, f, OP_RET, 0);
}

static bool small_int(const ast_t *a, int64_t lo, int64_t hi)
{
    return a->kind == AST_INT && a->u.i >= lo && a->u.i <= hi;
}

static void comp_args(compiler_t *c, fctx_t *f, ast_t *const *args, size_t n)
{
    for (size_t i = 0; i < n; i++)
        comp(c, f, args[i], false);
}

static void comp_arith(compiler_t *c, fctx_t *f, enum opcode op, ast_t *const *args, size_t n)
{
    if (n == 0) {
        emit(c, f, OP_PUSH_INT, op == OP_MUL ? 1 : 0);
        return;
    }
    comp(c, f, args[0], false);
    if (n == 1) {
        /* (+ x) and (* x) still check that x is a number */
        emit(c, f, OP_PUSH_INT, op == OP_MUL ? 1 : 0);
        emit(c, f, op, 0);
        return;
    }
    for (size_t i = 1; i < n; i++) {
        if (op != OP_MUL && small_int(args[i], -(1 << 22), (1 << 22))) {
            int32_t k = (int32_t)args[i]->u.i;
            emit(c, f, OP_ADD_I, op == OP_SUB ? -k : k);
            continue;
        }
        comp(c, f, args[i], false);
        emit(c, f, op, 0);
    }
}

/* A call of top-level function g, its arguments pushed: CALL_G (or
 * TCALL_G) with the arguments' bytes in A (arity * 8: one shift less
 * at a call) and the func_t pointer in two words (the code area is at
 * the same address in every VM), so that a call reads no table. */
static void emit_call_g(compiler_t *c, fctx_t *f, bool tail, const global_t *g)
{
    uint64_t fp = (uint64_t)(uintptr_t)c->funcs[g->index];
    if (g->arity >= (1u << 23) / sizeof(term))
        die_at(c, NULL, "a call with too many arguments (at most %zu)",
               (size_t)(1u << 23) / sizeof(term) - 1);
    /* LOAD s or LOAD_ADDI s k pushed the last argument: it becomes
     * LOAD_CALL or LOAD_ADDI_CALL, which goes on to the CALL_G without a
     * dispatch (the CALL_G stays, as the slow path's next instruction) */
    if (!tail && last_op(f, 0) == OP_LOAD2)
        split_load2(c, f);
    size_t at = f->last[0];
    if (!tail && at != NO_POS && f->label <= at) {
        uint32_t *ins = &f->code[at];
        if ((*ins & 0xffu) == OP_LOAD && at + 1 == f->ncode)
            *ins = (*ins & ~0xffu) | OP_LOAD_CALL;
        else if ((*ins & 0xffu) == OP_LOAD_ADDI && at + 2 == f->ncode)
            *ins = (*ins & ~0xffu) | OP_LOAD_ADDI_CALL;
    }
    if (tail && c->funcs[g->index] == f->self) {
        /* a loop: the new arguments over the old, and the function's
         * code again (no function to look up, no room to check) */
        emit(c, f, OP_TCALL_SELF, (int32_t)(g->arity * sizeof(term)));
        adjust(f, 1 - (int)g->arity);
        return;
    }
    emit(c, f, tail ? OP_TCALL_G : OP_CALL_G, (int32_t)(g->arity * sizeof(term)));
    emit_word(c, f, (uint32_t)fp);
    emit_word(c, f, (uint32_t)(fp >> 32));
    adjust(f, 1 - (int)g->arity);
}

/* A tail call of the function being compiled (a loop) whose argument i
 * is, for some i, parameter i itself (a loop's bound, a tuple it walks,
 * a pid it sends to): only the other arguments are evaluated and pushed,
 * and TCALL_SELF_SOME writes them over their parameters, bit i of its A
 * standing for argument i. Returns false, having emitted nothing, if
 * every argument changes (TCALL_SELF copies them in one run) or there
 * are too many for A's bits. */
static bool comp_self_loop(compiler_t *c, fctx_t *f, ast_t *const *args, size_t n,
                           const global_t *g)
{
    if (c->funcs[g->index] != f->self || n > 23)
        return false;
    uint32_t pushed = 0;
    for (size_t i = 0; i < n; i++) {
        const sym_t *s = args[i]->kind == AST_SYMBOL
                             ? sym_find(c, &f->vars, args[i]->u.str.s, false)
                             : NULL;
        if (!s || !s->local || s->local->slot != i)
            pushed |= 1u << i;
    }
    if (pushed == (1u << n) - 1)
        return false;
    int k = 0;
    for (size_t i = 0; i < n; i++)
        if (pushed & 1u << i) {
            comp(c, f, args[i], false);
            k++;
        }
    emit(c, f, OP_TCALL_SELF_SOME, (int32_t)pushed);
    adjust(f, 1 - k);
    return true;
}

/* A map-of key that is a literal immediate: an integer, 'atom, '() or
 * 'integer (true and false as bare names are left to the builtin). */
static bool literal_key(compiler_t *c, const ast_t *k, term *t)
{
    if (k->kind == AST_INT) {
        *t = mk_fix(k->u.i);
        return true;
    }
    if (k->kind != AST_LIST || k->u.list.n != 2 || !ast_is_sym(k->u.list.items[0], "quote"))
        return false;
    const ast_t *d = k->u.list.items[1];
    if (d->kind == AST_INT || d->kind == AST_SYMBOL ||
        (d->kind == AST_LIST && d->u.list.n == 0)) {
        *t = const_datum(c, d);
        return true;
    }
    return false;
}

/* (map-of k v ...) of m pairs whose keys are all literal immediates, at
 * most MAP_FLAT_MAX once a later duplicate has replaced an earlier one:
 * the keys are put in order here, into a template, a flat map whose
 * values are the places of the map's values among the m pushed; the
 * values are pushed in the order written and MK_MAP_K builds the map
 * from the template. Returns false, having emitted nothing, otherwise. */
static bool comp_map_of_literal(compiler_t *c, fctx_t *f, ast_t *const *args, size_t m)
{
    term keys[MAP_FLAT_MAX];
    uint32_t from[MAP_FLAT_MAX];
    size_t k = 0;
    if (m == 0 || m > 4 * MAP_FLAT_MAX)
        return false;
    for (size_t j = 0; j < m; j++) {
        term key;
        if (!literal_key(c, args[2 * j], &key))
            return false;
        size_t i = 0;
        while (i < k && keys[i] != key)
            i++;
        if (i == k) {
            if (k == MAP_FLAT_MAX)
                return false;
            keys[k++] = key;
        }
        from[i] = (uint32_t)j; /* a later duplicate wins */
    }
    /* insertion sort in the order flat maps keep (map.c) */
    for (size_t i = 1; i < k; i++) {
        term key = keys[i];
        uint32_t src = from[i];
        size_t j = i;
        for (; j > 0 && term_compare(c->h, keys[j - 1], key) > 0; j--) {
            keys[j] = keys[j - 1];
            from[j] = from[j - 1];
        }
        keys[j] = key;
        from[j] = src;
    }
    term *t = carea(c, args[0], (2 + 2 * k) * sizeof(term));
    t[0] = mk_hdr(2 + 2 * k, BT_MAP);
    t[1] = MAP_FLAT | (term)k << 2;
    for (size_t i = 0; i < k; i++) {
        t[2 + i] = keys[i];
        t[2 + k + i] = mk_fix(from[i]);
    }
    for (size_t j = 0; j < m; j++)
        comp(c, f, args[2 * j + 1], false);
    emit(c, f, OP_MK_MAP_K, (int32_t)add_const(c, f, mk_box(t)));
    emit_word(c, f, (uint32_t)m);
    adjust(f, 1 - (int)m);
    return true;
}

static void emit_bif(compiler_t *c, fctx_t *f, int id, uint32_t argc)
{
    emit(c, f, OP_BIF, id);
    emit_word(c, f, argc);
    adjust(f, -(int)argc);
}

/* (call-on vm f a ...): the arguments are evaluated here, the process
 * moves to vm, calls f, and moves back whether f returns or raises:
 *     V F A... H := vm f a... (vm-id)
 *     (%call-on-enter V)         ; pinned (no balancing moves it), moved to V
 *     R := try (F A...)          ; #(ok v) or #(raise class value)
 *     (%call-on-leave H)         ; unpinned, moved back to H
 *     unwrap R                   ; v, or raise it again */
static void comp_call_on(compiler_t *c, fctx_t *f, ast_t *const *args, size_t n)
{
    uint32_t saved = f->next_slot;
    uint32_t base = 0;
    for (size_t i = 0; i < n; i++) {
        comp(c, f, args[i], false);
        uint32_t s = new_slot(c, f, args[i]);
        if (i == 0)
            base = s;
        emit(c, f, OP_STORE, (int32_t)s);
    }
    uint32_t home = new_slot(c, f, args[0]);
    emit_bif(c, f, BI_VM_ID, 0);
    emit(c, f, OP_STORE, (int32_t)home);
    emit(c, f, OP_LOAD, (int32_t)base);
    emit_bif(c, f, BI_CALL_ON_ENTER, 1);
    emit(c, f, OP_POP, 0);
    size_t t = emit(c, f, OP_TRY, 0);
    push_const(c, f, mk_atom(A_OK));
    for (size_t i = 1; i < n; i++)
        emit(c, f, OP_LOAD, (int32_t)(base + i));
    emit(c, f, OP_CALL, (int32_t)(n - 2));
    adjust(f, -(int)(n - 2));
    emit(c, f, OP_MK_TUPLE, 2);
    adjust(f, -2);
    emit(c, f, OP_CATCH_END, 0);
    patch_a(f, t, here(f)); /* the handler pushes #(raise class value) and goes on here */
    uint32_t r = new_slot(c, f, args[0]);
    emit(c, f, OP_STORE, (int32_t)r);
    emit(c, f, OP_LOAD, (int32_t)home);
    emit_bif(c, f, BI_CALL_ON_LEAVE, 1);
    emit(c, f, OP_POP, 0);
    emit(c, f, OP_LOAD, (int32_t)r);
    emit(c, f, OP_UNWRAP, 0);
    f->next_slot = saved;
}

/* The builtins written in the language, in the prelude (program.c):
 * those that call functions, so that a long list costs reductions and no
 * C stack, and sort, whose merges yield between them. */
static const char *prelude_of(int id)
{
    switch (id) {
    case BI_MAP: return "%map";
    case BI_FOLDL: return "%foldl";
    case BI_FOLDR: return "%foldr";
    case BI_FILTER: return "%filter";
    case BI_EACH: return "%each";
    case BI_SORT: return "%sort";
    case BI_SORT_BY: return "%sort-by";
    case BI_MAP_FOLD: return "%map-fold";
    case BI_SLEEP: return "%sleep";
    case BI_TABLE_FOLD: return "%table-fold";
    case BI_TABLE_TO_LIST: return "%table->list";
    default: return NULL;
    }
}

/* A call of builtin `id` with the argument forms args[0..n). */
static void comp_builtin(compiler_t *c, fctx_t *f, int id, const ast_t *call,
                         ast_t *const *args, size_t n, bool tail)
{
    int lo = bif_table[id].lo, hi = bif_table[id].hi;
    if ((int)n < lo || (hi >= 0 && (int)n > hi)) {
        if (lo == hi)
            die_at(c, call, "%s takes %d argument%s, not %zu", bif_table[id].name, lo,
                   lo == 1 ? "" : "s", n);
        die_at(c, call, "%s takes %d%s argument%s, not %zu", bif_table[id].name, lo,
               hi < 0 ? " or more" : " or 2", hi == 1 ? "" : "s", n);
    }
    static const enum opcode cmp_ops[] = {[BI_LT] = OP_LT, [BI_GT] = OP_GT, [BI_LE] = OP_LE,
                                          [BI_GE] = OP_GE, [BI_EQ] = OP_EQ, [BI_NE] = OP_NE};
    switch (id) {
    case BI_ADD:
        comp_arith(c, f, OP_ADD, args, n);
        break;
    case BI_MUL:
        comp_arith(c, f, OP_MUL, args, n);
        break;
    case BI_SUB:
        if (n == 1) {
            emit(c, f, OP_PUSH_INT, 0);
            comp(c, f, args[0], false);
            emit(c, f, OP_SUB, 0);
        } else {
            comp_arith(c, f, OP_SUB, args, n);
        }
        break;
    case BI_LT: case BI_GT: case BI_LE: case BI_GE: case BI_EQ: case BI_NE:
        comp_args(c, f, args, n);
        emit(c, f, cmp_ops[id], 0);
        break;
    case BI_TUPLE:
        comp_args(c, f, args, n);
        emit(c, f, OP_MK_TUPLE, (int32_t)n);
        adjust(f, -(int)n);
        break;
    case BI_LIST:
        comp_args(c, f, args, n);
        emit(c, f, OP_MK_LIST, (int32_t)n);
        adjust(f, -(int)n);
        break;
    case BI_APPLY:
        /* (apply f args): the list's elements become the arguments */
        comp_args(c, f, args, n);
        emit(c, f, tail ? OP_TAPPLY : OP_APPLY, 0);
        return;
    case BI_CAR: case BI_CDR: case BI_CONS: case BI_NULLP: case BI_ELEM: case BI_REM:
    case BI_DIV: case BI_SET_ELEM: case BI_MAP_GET: {
        /* the builtins of the inner loops over lists, tuples, maps and
         * integers: an instruction each, not a call through the builtin
         * table (DIV calls the builtin for anything but two integers,
         * SET_ELEM and MAP_GET for errors and their slow cases) */
        static const enum opcode inline_ops[] = {[BI_CAR] = OP_CAR, [BI_CDR] = OP_CDR,
                                                 [BI_CONS] = OP_CONS, [BI_NULLP] = OP_NULLP,
                                                 [BI_ELEM] = OP_ELEM, [BI_REM] = OP_REM,
                                                 [BI_DIV] = OP_DIV, [BI_SET_ELEM] = OP_SET_ELEM,
                                                 [BI_MAP_GET] = OP_MAP_GET};
        comp_args(c, f, args, n);
        emit(c, f, inline_ops[id], 0);
        break;
    }
    case BI_MAP_OF:
        if (n % 2)
            die_at(c, call, "map-of takes keys and values in pairs, not %zu arguments", n);
        if (comp_map_of_literal(c, f, args, n / 2))
            break;
        comp_args(c, f, args, n);
        emit_bif(c, f, id, (uint32_t)n);
        break;
    case BI_CALL_ON:
        comp_call_on(c, f, args, n);
        break;
    default:
        if (prelude_of(id)) {
            /* written in the language: a call of the prelude's function */
            global_t *g = find_global(c, prelude_of(id), (int)n);
            SHOAL_ASSERT(g, "prelude is loaded");
            comp_args(c, f, args, n);
            emit_call_g(c, f, tail, g);
            return;
        }
        comp_args(c, f, args, n);
        emit_bif(c, f, id, (uint32_t)n);
        break;
    }
    ret_if_tail(c, f, tail);
}

/* A guard may call only builtins that read their arguments and return a
 * value (LANGUAGE.md, "Patterns"): anything else in a guard is an error
 * here, at compile time. `what` names the callee for the message. */
static void guard_call_error(compiler_t *c, const ast_t *a, const char *what, const char *name)
{
    die_at(c, a,
           "a guard cannot call %s%s: a guard may only use comparisons, arithmetic, type "
           "tests, and, or, not, and builtins that only read their arguments",
           what, name);
}

/* What another Lisp's name is in shoal, for an error about it; "" if
 * the name is not one of them. */
static const char *foreign_hint(const char *name)
{
    static const struct {
        const char *name, *hint;
    } hints[] = {
        {"lambda", "; shoal writes (fn (params) body...)"},
        {"define", "; shoal writes (defn name (params) body...) at top level"},
        {"defun", "; shoal writes (defn name (params) body...) at top level"},
        {"def", "; shoal writes (defn name (params) body...) at top level"},
        {"begin", "; shoal writes (do e1 e2 ...)"},
        {"progn", "; shoal writes (do e1 e2 ...)"},
        {"let*", "; shoal's let binds in order, as let* does"},
        {"letrec", "; a function calls itself by its defn name"},
        {"set!", "; a variable cannot change: bind a new one with let, or recurse with the new value"},
        {"setq", "; a variable cannot change: bind a new one with let, or recurse with the new value"},
        {"setf", "; a variable cannot change: bind a new one with let, or recurse with the new value"},
        {"display", "; shoal writes (print x ...)"},
        {"println", "; shoal writes (print x ...)"},
        {"printf", "; shoal writes (print x ...), or (print (str ...))"},
        {"princ", "; shoal writes (print x ...)"},
        {"puts", "; shoal writes (print x ...)"},
        {"null", "; shoal writes (null? x)"},
        {"else", "; the last test of a cond is written true"},
        {"nil", "; the empty list is written '()"},
        {"_", "; _ matches anything and binds nothing, in a pattern or a let: give the value a name"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (strcmp(name, hints[i].name) == 0)
            return hints[i].hint;
    if (name[0] == ':' && name[1])
        return "; an atom is written with a quote, as in 'ok";
    return "";
}

static void comp_call(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    ast_t *const *items = a->u.list.items;
    size_t n = a->u.list.n, argc = n - 1;
    const ast_t *head = items[0];
    /* (1 2) or ("f" x) would only fail when it runs, with badfun */
    if (head->kind == AST_INT || head->kind == AST_FLOAT || head->kind == AST_STRING)
        die_at(c, head, "a %s cannot be called; for a list write (list ...) or '(...)",
               head->kind == AST_STRING ? "string" : "number");
    if (head->kind == AST_SYMBOL) {
        const char *name = head->u.str.s;
        uint32_t where;
        enum var_kind k = resolve(c, f, name, &where);
        if (k != VAR_NONE && f->guard)
            guard_call_error(c, a, "the function value ", name);
        if (k == VAR_NONE) {
            global_t *g = find_global(c, name, (int)argc);
            if (g && f->guard)
                guard_call_error(c, a, "the function ", name);
            if (g) {
                if (tail && comp_self_loop(c, f, items + 1, argc, g))
                    return;
                comp_args(c, f, items + 1, argc);
                emit_call_g(c, f, tail, g);
                return;
            }
            if ((g = find_global(c, name, -1)))
                die_at(c, a, "%s is defined with %u argument%s, called with %zu", name, g->arity,
                       g->arity == 1 ? "" : "s", argc);
            int id = find_builtin(c, name);
            if (id >= 0 && f->guard && !(bif_table[id].flags & BF_GUARD))
                guard_call_error(c, a, "", name);
            if (id >= 0) {
                comp_builtin(c, f, id, a, items + 1, argc, tail);
                return;
            }
            die_at(c, head, "undefined function %s/%zu%s", name, argc, foreign_hint(name));
        }
        load_var(c, f, k, where);
    } else {
        if (f->guard)
            die_at(c, a, "a guard cannot call a computed function: a guard may only use "
                         "comparisons, arithmetic, type tests, and, or, not, and builtins "
                         "that only read their arguments");
        comp(c, f, head, false);
    }
    comp_args(c, f, items + 1, argc);
    emit(c, f, tail ? OP_TCALL : OP_CALL, (int32_t)argc);
    adjust(f, -(int)argc);
}

static void comp_symbol(compiler_t *c, fctx_t *f, const ast_t *a)
{
    const char *name = a->u.str.s;
    uint32_t where;
    enum var_kind k = resolve(c, f, name, &where);
    if (k != VAR_NONE) {
        load_var(c, f, k, where);
        return;
    }
    if (strcmp(name, "true") == 0 || strcmp(name, "false") == 0) {
        emit(c, f, name[0] == 't' ? OP_PUSH_TRUE : OP_PUSH_FALSE, 0);
        return;
    }
    global_t *g = find_global(c, name, -1);
    if (g) {
        if (global_arities(c, name) > 1)
            die_at(c, a, "%s is defined with several arities; wrap the one you mean in (fn ...)",
                   name);
        emit(c, f, OP_PUSH_K, (int32_t)add_const(c, f, c->funcs[g->index]->value));
        return;
    }
    if (find_builtin(c, name) >= 0)
        die_at(c, a, "builtin %s can only be called; wrap it in (fn ...) to pass it", name);
    if (is_special(c, name))
        die_at(c, a, "%s is a special form, not a value", name);
    die_at(c, a, "unbound variable %s%s", name, foreign_hint(name));
}


static bool is_form(const ast_t *a, const char *name)
{
    return a->kind == AST_LIST && a->u.list.n >= 1 && ast_is_sym(a->u.list.items[0], name);
}

static const ast_t *let_last(const ast_t *t)
{
    return t->u.list.items[t->u.list.n - 1];
}

static bool test_let(const ast_t *t)
{
    return is_form(t, "let") && t->u.list.n >= 3 && t->u.list.items[1]->kind == AST_LIST;
}

/* The jumps comp_test appends for t. */
static size_t test_jumps(const ast_t *t)
{
    if (ast_is_sym(t, "true"))
        return 0;
    if (test_let(t))
        return test_jumps(let_last(t));
    if (is_form(t, "or"))
        return t->u.list.n == 1 ? 1 : test_jumps(let_last(t));
    if (!is_form(t, "and"))
        return 1;
    size_t n = 0;
    for (size_t i = 1; i < t->u.list.n; i++)
        n += test_jumps(t->u.list.items[i]);
    return n;
}

static void let_bind(compiler_t *c, fctx_t *f, const ast_t *a);

/* t as the test of a branch (if, cond): it leaves nothing on the stack,
 * and where t is false it jumps to where the caller patches the jumps
 * it appends to js (test_jumps(t) of them). An and is its items in turn,
 * each jumping there; an or is its items in turn, each but the last
 * jumping past the test when it holds; a let binds and then tests its
 * last form. So a comparison among them fuses with its jump (J<cmp>),
 * as a test of its own does, and no boolean is built; the test true
 * (cond's last clause) is no code at all. Values other than false pass,
 * as with JUMP_F. */
static void comp_test(compiler_t *c, fctx_t *f, const ast_t *t, size_t *js, size_t *nj)
{
    stack_check(c, t);
    if (ast_is_sym(t, "true"))
        return;
    if (is_form(t, "and")) {
        for (size_t i = 1; i < t->u.list.n; i++)
            comp_test(c, f, t->u.list.items[i], js, nj);
        return;
    }
    if (is_form(t, "or")) {
        size_t n = t->u.list.n;
        if (n == 1) {
            js[(*nj)++] = emit_jump(c, f, OP_JUMP);
            return;
        }
        size_t *pass = c_alloc(c, n * sizeof *pass);
        for (size_t i = 1; i + 1 < n; i++) {
            size_t *fails = c_alloc(c, (test_jumps(t->u.list.items[i]) + 1) * sizeof *fails);
            size_t nf = 0;
            comp_test(c, f, t->u.list.items[i], fails, &nf);
            pass[i] = emit_jump(c, f, OP_JUMP);
            for (size_t j = 0; j < nf; j++)
                patch_a(f, fails[j], here(f));
        }
        comp_test(c, f, t->u.list.items[n - 1], js, nj);
        for (size_t i = 1; i + 1 < n; i++)
            patch_a(f, pass[i], here(f));
        return;
    }
    if (test_let(t)) {
        binding_t *saved = f->env;
        uint32_t saved_slot = f->next_slot;
        let_bind(c, f, t);
        for (size_t i = 2; i + 1 < t->u.list.n; i++) {
            comp(c, f, t->u.list.items[i], false);
            emit(c, f, OP_POP, 0);
        }
        comp_test(c, f, let_last(t), js, nj);
        unbind_to(c, f, saved);
        f->next_slot = saved_slot;
        return;
    }
    comp(c, f, t, false);
    js[(*nj)++] = emit_jump(c, f, OP_JUMP_F);
}

static void comp_if(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    size_t n = a->u.list.n;
    ast_t *const *it = a->u.list.items;
    if (n < 3 || n > 4)
        die_at(c, a, "malformed if: expected (if test then [else])");
    /* (if (< x 2) ...) on a local and a small integer becomes one
     * instruction (fuse) */
    size_t *js = c_alloc(c, (test_jumps(it[1]) + 1) * sizeof *js);
    size_t nj = 0;
    comp_test(c, f, it[1], js, &nj);
    comp(c, f, it[2], tail);
    size_t je = emit_jump(c, f, OP_JUMP);
    adjust(f, -1);
    for (size_t i = 0; i < nj; i++)
        patch_a(f, js[i], here(f));
    if (n == 4)
        comp(c, f, it[3], tail);
    else {
        emit(c, f, OP_PUSH_FALSE, 0);
        ret_if_tail(c, f, tail);
    }
    patch_a(f, je, here(f));
}

static void comp_let(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    if (a->u.list.n < 3 || a->u.list.items[1]->kind != AST_LIST)
        die_at(c, a, "malformed let: expected (let ((name expr) ...) body...)");
    binding_t *saved = f->env;
    uint32_t saved_slot = f->next_slot;
    let_bind(c, f, a);
    comp_body(c, f, a->u.list.items + 2, a->u.list.n - 2, tail, a);
    unbind_to(c, f, saved);
    if (!tail)
        f->next_slot = saved_slot;
}

/* The bindings of let a, in scope from here (the caller unbinds them). */
static void let_bind(compiler_t *c, fctx_t *f, const ast_t *a)
{
    const ast_t *bs = a->u.list.items[1];
    for (size_t i = 0; i < bs->u.list.n; i++) {
        const ast_t *b = bs->u.list.items[i];
        if (b->kind != AST_LIST || b->u.list.n != 2 || b->u.list.items[0]->kind != AST_SYMBOL)
            die_at(c, b, "malformed let binding: expected (name expr)");
        const ast_t *name = b->u.list.items[0];
        if (is_special(c, name->u.str.s) || ast_is_sym(name, "true") || ast_is_sym(name, "false"))
            die_at(c, name, "cannot bind %s", name->u.str.s);
        comp(c, f, b->u.list.items[1], false);
        if (ast_is_sym(name, "_")) {
            /* evaluated for its effect and dropped, as Erlang's _ = e:
             * _ names nothing */
            emit(c, f, OP_POP, 0);
            continue;
        }
        uint32_t s = new_slot(c, f, name);
        emit(c, f, OP_STORE, (int32_t)s);
        bind(c, f, name->u.str.s, s);
    }
}

static void comp_cond(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    size_t n = a->u.list.n;
    size_t *ends = c_alloc(c, n * sizeof *ends);
    size_t nends = 0;
    bool always = false; /* a clause whose test always passes: no fall-through */
    for (size_t i = 1; i < n; i++) {
        const ast_t *cl = a->u.list.items[i];
        if (cl->kind != AST_LIST || cl->u.list.n < 2)
            die_at(c, cl, "malformed cond clause: expected (test body...)");
        size_t *js = c_alloc(c, (test_jumps(cl->u.list.items[0]) + 1) * sizeof *js);
        size_t nj = 0;
        comp_test(c, f, cl->u.list.items[0], js, &nj);
        comp_body(c, f, cl->u.list.items + 1, cl->u.list.n - 1, tail, cl);
        ends[nends++] = emit_jump(c, f, OP_JUMP);
        adjust(f, -1);
        for (size_t j = 0; j < nj; j++)
            patch_a(f, js[j], here(f));
        always = always || nj == 0;
    }
    if (always) {
        adjust(f, 1); /* the clauses' value, where they meet */
    } else {
        emit(c, f, OP_PUSH_FALSE, 0);
        ret_if_tail(c, f, tail);
    }
    for (size_t i = 0; i < nends; i++)
        patch_a(f, ends[i], here(f));
}

static void comp_andor(compiler_t *c, fctx_t *f, const ast_t *a, bool tail, bool is_and)
{
    size_t n = a->u.list.n;
    if (n == 1) {
        emit(c, f, is_and ? OP_PUSH_TRUE : OP_PUSH_FALSE, 0);
        ret_if_tail(c, f, tail);
        return;
    }
    size_t *js = c_alloc(c, n * sizeof *js);
    for (size_t i = 1; i + 1 < n; i++) {
        comp(c, f, a->u.list.items[i], false);
        js[i] = emit_jump(c, f, is_and ? OP_JUMP_F : OP_OR_JUMP);
        if (!is_and)
            adjust(f, -1); /* OR_JUMP pops on the fall-through path */
    }
    comp(c, f, a->u.list.items[n - 1], tail);
    if (is_and) {
        size_t je = emit_jump(c, f, OP_JUMP);
        for (size_t i = 1; i + 1 < n; i++)
            patch_a(f, js[i], here(f));
        adjust(f, -1);
        emit(c, f, OP_PUSH_FALSE, 0);
        ret_if_tail(c, f, tail);
        patch_a(f, je, here(f));
    } else {
        if (tail) {
            /* the value a jump carries is returned */
            size_t je = emit_jump(c, f, OP_JUMP);
            for (size_t i = 1; i + 1 < n; i++)
                patch_a(f, js[i], here(f));
            emit(c, f, OP_RET, 0);
            patch_a(f, je, here(f));
        } else {
            for (size_t i = 1; i + 1 < n; i++)
                patch_a(f, js[i], here(f));
        }
    }
}

/* ------------------------------------------------------------------ */
/* patterns                                                            */

typedef struct fails {
    size_t *pos;   /* positions of jump operands to patch */
    bool *in_a;
    size_t *next;
    size_t n, cap;
} fails_t;

static void add_fail(compiler_t *c, fails_t *fl, size_t pos, bool in_a, size_t next)
{
    if (fl->n == fl->cap) {
        size_t cap = fl->cap;
        fl->pos = grow(c, fl->pos, &cap, fl->n + 1, sizeof *fl->pos);
        cap = fl->cap;
        fl->in_a = grow(c, fl->in_a, &cap, fl->n + 1, sizeof *fl->in_a);
        cap = fl->cap;
        fl->next = grow(c, fl->next, &cap, fl->n + 1, sizeof *fl->next);
        fl->cap = cap;
    }
    fl->pos[fl->n] = pos;
    fl->in_a[fl->n] = in_a;
    fl->next[fl->n] = next;
    fl->n++;
}

static void patch_fails(fctx_t *f, fails_t *fl, size_t target)
{
    for (size_t i = 0; i < fl->n; i++)
        patch(f, fl->pos[i], fl->in_a[i], fl->next[i], target);
    fl->n = 0;
}

/* The last extra word of a test: a jump to the fail list. */
static void emit_fail_jump(compiler_t *c, fctx_t *f, fails_t *fl)
{
    size_t pos = emit_word(c, f, 0);
    add_fail(c, fl, pos, false, pos + 1);
}

/* Emit a test "op slot [b]" whose last extra word jumps to the fail list. */
static void emit_test(compiler_t *c, fctx_t *f, enum opcode op, uint32_t slot, int has_b,
                      uint32_t b, fails_t *fl)
{
    emit(c, f, op, (int32_t)slot);
    if (has_b)
        emit_word(c, f, b);
    emit_fail_jump(c, f, fl);
}

/* Push the key of a map-of pattern: a literal or a bound variable. */
static void comp_map_key(compiler_t *c, fctx_t *f, const ast_t *k)
{
    if (k->kind == AST_SYMBOL) {
        uint32_t where;
        enum var_kind vk = resolve(c, f, k->u.str.s, &where);
        if (vk != VAR_NONE) {
            load_var(c, f, vk, where);
            return;
        }
        if (ast_is_sym(k, "true") || ast_is_sym(k, "false")) {
            push_const(c, f, const_datum(c, k));
            return;
        }
        die_at(c, k, "a map-of pattern key must be a literal or a bound variable, not %s",
               k->u.str.s);
    }
    if (k->kind == AST_LIST) {
        if (k->u.list.n == 2 && ast_is_sym(k->u.list.items[0], "quote")) {
            push_const(c, f, const_datum(c, k->u.list.items[1]));
            return;
        }
        die_at(c, k, "a map-of pattern key must be a literal or a bound variable");
    }
    push_const(c, f, const_datum(c, k));
}

static void comp_pattern(compiler_t *c, fctx_t *f, const ast_t *p, uint32_t slot, fails_t *fl)
{
    stack_check(c, p);
    switch (p->kind) {
    case AST_INT:
    case AST_FLOAT:
    case AST_STRING:
        emit_test(c, f, OP_T_EQ_K, slot, 1, add_const(c, f, const_datum(c, p)), fl);
        return;
    case AST_SYMBOL: {
        const char *name = p->u.str.s;
        if (strcmp(name, "_") == 0)
            return;
        if (strcmp(name, "true") == 0 || strcmp(name, "false") == 0) {
            emit_test(c, f, OP_T_EQ_K, slot, 1, add_const(c, f, const_datum(c, p)), fl);
            return;
        }
        if (is_special(c, name))
            die_at(c, p, "cannot bind %s", name);
        uint32_t where;
        enum var_kind k = resolve(c, f, name, &where);
        if (k == VAR_SLOT) {
            emit_test(c, f, OP_T_EQ_S, slot, 1, where, fl);
        } else if (k == VAR_FREE) {
            uint32_t tmp = new_slot(c, f, p);
            emit(c, f, OP_LOAD_FREE, (int32_t)where);
            emit(c, f, OP_STORE, (int32_t)tmp);
            emit_test(c, f, OP_T_EQ_S, slot, 1, tmp, fl);
        } else {
            bind(c, f, name, slot);
        }
        return;
    }
    case AST_LIST:
        break;
    }
    size_t n = p->u.list.n;
    if (n == 0)
        die_at(c, p, "malformed pattern ()");
    const ast_t *head = p->u.list.items[0];
    if (ast_is_sym(head, "quote")) {
        if (n != 2)
            die_at(c, p, "malformed quote");
        term k = const_datum(c, p->u.list.items[1]);
        if (k == T_NIL)
            emit_test(c, f, OP_T_NIL, slot, 0, 0, fl);
        else
            emit_test(c, f, OP_T_EQ_K, slot, 1, add_const(c, f, k), fl);
        return;
    }
    if (ast_is_sym(head, "tuple")) {
        if (n > 2) {
            /* the test and all the elements at once, into slots in a row
             * (a `_` too: a slot is cheaper than a dispatch); then each
             * element's own pattern on its slot */
            uint32_t first = new_slot(c, f, p);
            for (size_t i = 2; i < n; i++)
                new_slot(c, f, p);
            emit(c, f, OP_T_TUPLE_GET, (int32_t)slot);
            emit_word(c, f, (uint32_t)(n - 1));
            emit_word(c, f, first);
            emit_fail_jump(c, f, fl);
            for (size_t i = 1; i < n; i++)
                comp_pattern(c, f, p->u.list.items[i], first + (uint32_t)(i - 1), fl);
            return;
        }
        emit_test(c, f, OP_T_TUPLE, slot, 1, (uint32_t)(n - 1), fl);
        for (size_t i = 1; i < n; i++) {
            const ast_t *e = p->u.list.items[i];
            if (ast_is_sym(e, "_"))
                continue;
            uint32_t s = new_slot(c, f, e);
            emit(c, f, OP_GET_ELEM, (int32_t)slot);
            emit_word(c, f, (uint32_t)(i - 1));
            emit_word(c, f, s);
            comp_pattern(c, f, e, s, fl);
        }
        return;
    }
    if (ast_is_sym(head, "map-of")) {
        if ((n - 1) % 2)
            die_at(c, p, "malformed map-of pattern: expected (map-of key pattern ...)");
        emit_test(c, f, OP_T_MAP, slot, 0, 0, fl);
        for (size_t i = 1; i < n; i += 2) {
            comp_map_key(c, f, p->u.list.items[i]);
            uint32_t s = new_slot(c, f, p->u.list.items[i + 1]);
            emit_test(c, f, OP_MAP_FIND, slot, 1, s, fl);
            comp_pattern(c, f, p->u.list.items[i + 1], s, fl);
        }
        return;
    }
    if (ast_is_sym(head, "list") || ast_is_sym(head, "cons")) {
        bool is_cons = ast_is_sym(head, "cons");
        if (is_cons && n != 3)
            die_at(c, p, "malformed cons pattern: expected (cons head tail)");
        uint32_t cur = slot;
        size_t elems = is_cons ? 1 : n - 1;
        for (size_t i = 0; i < elems; i++) {
            /* the test, the head and the tail at once, as a tuple's */
            uint32_t hs = new_slot(c, f, p), ts = new_slot(c, f, p);
            emit(c, f, OP_T_CONS_GET, (int32_t)cur);
            emit_word(c, f, hs);
            emit_word(c, f, ts);
            emit_fail_jump(c, f, fl);
            comp_pattern(c, f, p->u.list.items[1 + i], hs, fl);
            cur = ts;
        }
        if (is_cons)
            comp_pattern(c, f, p->u.list.items[2], cur, fl);
        else
            emit_test(c, f, OP_T_NIL, cur, 0, 0, fl);
        return;
    }
    die_at(c, p, "malformed pattern: expected _, a name, a literal, 'datum, (tuple ...), "
                 "(map-of ...), (list ...) or (cons h t)");
}

/* One clause (pattern [(when guard)] body...) matched against `slot`.
 * Emits the test, guard and body; failures go to fl. `accept` is emitted
 * between a successful match and the body (receive takes the message). */
static void comp_clause(compiler_t *c, fctx_t *f, const ast_t *cl, uint32_t slot, bool tail,
                        fails_t *fl, bool accept)
{
    if (cl->kind != AST_LIST || cl->u.list.n < 2)
        die_at(c, cl, "malformed clause: expected (pattern [(when guard)] body...)");
    comp_pattern(c, f, cl->u.list.items[0], slot, fl);
    size_t first = 1;
    const ast_t *g = cl->u.list.items[1];
    if (g->kind == AST_LIST && g->u.list.n > 0 && ast_is_sym(g->u.list.items[0], "when")) {
        if (g->u.list.n != 2)
            die_at(c, g, "malformed guard: expected (when expr)");
        size_t gpos = emit(c, f, OP_GUARD, 0);
        add_fail(c, fl, gpos, true, gpos + 1);
        f->guard++;
        comp(c, f, g->u.list.items[1], false);
        f->guard--;
        emit(c, f, OP_GUARD_END, 0);
        /* a guard holds only when its value is 'true */
        size_t jf = emit_jump(c, f, OP_JUMP_NT);
        add_fail(c, fl, jf, true, jf + 1);
        first = 2;
        if (cl->u.list.n < 3)
            die_at(c, cl, "clause has a guard but no body");
    }
    if (accept)
        emit(c, f, OP_RECV_ACCEPT, 0);
    comp_body(c, f, cl->u.list.items + first, cl->u.list.n - first, tail, cl);
}

/* The clauses of a case or receive, matched in order against `slot`; a
 * clause that fails goes on to the next. Each body ends with a jump whose
 * position goes into ends[] for the caller to patch; returns how many. */
static size_t comp_clauses(compiler_t *c, fctx_t *f, ast_t *const *clauses, size_t n,
                           uint32_t slot, bool tail, bool accept, size_t *ends)
{
    fails_t fl = {0};
    int depth = f->depth;
    for (size_t i = 0; i < n; i++) {
        binding_t *saved = f->env;
        uint32_t saved_slot = f->next_slot;
        comp_clause(c, f, clauses[i], slot, tail, &fl, accept);
        ends[i] = emit_jump(c, f, OP_JUMP);
        f->depth = depth;
        unbind_to(c, f, saved);
        if (!tail)
            f->next_slot = saved_slot;
        patch_fails(f, &fl, here(f));
    }
    return n;
}

static void comp_case(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    size_t n = a->u.list.n;
    if (n < 3)
        die_at(c, a, "malformed case: expected (case expr clause...)");
    /* a local variable is matched in its own slot (the patterns only
     * read it, and a pattern variable is bound to the slot); anything
     * else is stored in a new one */
    const ast_t *e = a->u.list.items[1];
    uint32_t subj;
    if (e->kind != AST_SYMBOL || resolve(c, f, e->u.str.s, &subj) != VAR_SLOT) {
        comp(c, f, e, false);
        subj = new_slot(c, f, a);
        emit(c, f, OP_STORE, (int32_t)subj);
    }
    size_t *ends = c_alloc(c, n * sizeof *ends);
    size_t nends = comp_clauses(c, f, a->u.list.items + 2, n - 2, subj, tail, false, ends);
    emit(c, f, OP_RAISE, A_CASE_CLAUSE);
    for (size_t i = 0; i < nends; i++)
        patch_a(f, ends[i], here(f));
    adjust(f, 1);
}

/* The receive mark (proc.h, recv_ref): a receive can skip the messages
 * that came before a ref was made only if every clause must match that
 * ref, that is, if every pattern holds the same bound local variable
 * where a value must equal it. These look for one, without side effects
 * (resolve would capture a free variable: those are left out). */
static bool pattern_local(compiler_t *c, fctx_t *f, const ast_t *p, uint32_t *slot)
{
    if (p->kind != AST_SYMBOL || strcmp(p->u.str.s, "_") == 0)
        return false;
    sym_t *s = sym_find(c, &f->vars, p->u.str.s, false);
    if (!s || !s->local)
        return false;
    *slot = s->local->slot;
    return true;
}

/* Up to `max` slots of bound locals that pattern p must match, in order;
 * returns how many it found. Malformed patterns are left to comp_pattern. */
static size_t pattern_pins(compiler_t *c, fctx_t *f, const ast_t *p, uint32_t *out, size_t n,
                           size_t max)
{
    stack_check(c, p);
    uint32_t slot;
    if (n < max && pattern_local(c, f, p, &slot))
        out[n++] = slot;
    if (p->kind != AST_LIST || p->u.list.n == 0)
        return n;
    const ast_t *head = p->u.list.items[0];
    if (!ast_is_sym(head, "tuple") && !ast_is_sym(head, "list") && !ast_is_sym(head, "cons") &&
        !ast_is_sym(head, "map-of"))
        return n;
    /* the elements; a map-of's keys too: a bound variable there must be
     * a key of the message */
    for (size_t i = 1; i < p->u.list.n; i++)
        n = pattern_pins(c, f, p->u.list.items[i], out, n, max);
    return n;
}

/* The slot that every clause of a receive must match, or NO_INDEX. */
static uint32_t receive_pin(compiler_t *c, fctx_t *f, ast_t *const *clauses, size_t n)
{
    uint32_t cand[8], other[8];
    if (n == 0 || clauses[0]->kind != AST_LIST || clauses[0]->u.list.n == 0)
        return NO_INDEX;
    size_t nc = pattern_pins(c, f, clauses[0]->u.list.items[0], cand, 0, 8);
    for (size_t k = 0; k < nc; k++) {
        bool all = true;
        for (size_t i = 1; i < n && all; i++) {
            const ast_t *cl = clauses[i];
            if (cl->kind != AST_LIST || cl->u.list.n == 0)
                return NO_INDEX;
            size_t no = pattern_pins(c, f, cl->u.list.items[0], other, 0, 8);
            all = false;
            for (size_t j = 0; j < no; j++)
                all |= other[j] == cand[k];
        }
        if (all)
            return cand[k];
    }
    return NO_INDEX;
}

static void comp_receive(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    size_t n = a->u.list.n;
    const ast_t *after = NULL;
    if (n > 1) {
        const ast_t *last = a->u.list.items[n - 1];
        if (last->kind == AST_LIST && last->u.list.n > 0 && ast_is_sym(last->u.list.items[0], "after")) {
            if (last->u.list.n < 3)
                die_at(c, last, "malformed after: expected (after ms body...)");
            after = last;
            n--;
        }
    }
    if (n < 2 && !after)
        die_at(c, a, "malformed receive: expected at least one clause");
    /* (after ...) anywhere else would be read as a pattern binding `after` */
    for (size_t i = 1; i < n; i++) {
        const ast_t *cl = a->u.list.items[i];
        if (cl->kind == AST_LIST && cl->u.list.n > 0 && ast_is_sym(cl->u.list.items[0], "after"))
            die_at(c, cl, "(after ...) must be the last clause of receive%s",
                   after ? ", and there can be only one" : "");
    }
    uint32_t tslot = 0xffffff;
    if (after) {
        /* a literal timeout that can never be right is an error now, not a
         * badarg when the receive runs */
        const ast_t *ms = after->u.list.items[1];
        if ((ms->kind == AST_INT && ms->u.i < 0) || ms->kind == AST_FLOAT ||
            ms->kind == AST_STRING ||
            (ms->kind == AST_LIST && ms->u.list.n == 2 && ast_is_sym(ms->u.list.items[0], "quote") &&
             !ast_is_sym(ms->u.list.items[1], "infinity")))
            die_at(c, ms, "the timeout of after must be a whole number of milliseconds, 0 or more, "
                          "or 'infinity");
        comp(c, f, after->u.list.items[1], false);
        tslot = new_slot(c, f, after);
        emit(c, f, OP_STORE, (int32_t)tslot);
    }
    uint32_t msg = new_slot(c, f, a);
    uint32_t pin = receive_pin(c, f, a->u.list.items + 1, n - 1);
    emit(c, f, OP_RECV_START, (int32_t)tslot);
    if (pin != NO_INDEX)
        emit(c, f, OP_RECV_MARK, (int32_t)pin);
    size_t loop = here(f);
    mark_label(f, loop);
    emit(c, f, OP_RECV_NEXT, (int32_t)msg);
    size_t nomore = emit_word(c, f, 0);
    size_t *ends = c_alloc(c, n * sizeof *ends);
    size_t nends = comp_clauses(c, f, a->u.list.items + 1, n - 1, msg, tail, true, ends);
    emit(c, f, OP_RECV_SKIP, 0);
    size_t back = emit_jump(c, f, OP_JUMP);
    patch_a(f, back, loop);
    patch(f, nomore, false, nomore + 1, here(f));
    size_t wait = emit(c, f, OP_RECV_WAIT, 0);
    size_t tpos = emit_word(c, f, 0);
    patch_a(f, wait, loop);
    if (after) {
        patch(f, tpos, false, tpos + 1, here(f));
        comp_body(c, f, after->u.list.items + 2, after->u.list.n - 2, tail, after);
    } else {
        /* no timeout: RECV_WAIT never takes its timeout branch */
        patch(f, tpos, false, tpos + 1, wait);
        adjust(f, 1);
    }
    for (size_t i = 0; i < nends; i++)
        patch_a(f, ends[i], here(f));
}

static void comp_catch(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    if (a->u.list.n != 2)
        die_at(c, a, "malformed catch: expected (catch expr)");
    size_t cpos = emit(c, f, OP_CATCH, 0);
    comp(c, f, a->u.list.items[1], false);
    emit(c, f, OP_CATCH_END, 0);
    patch_a(f, cpos, here(f)); /* the handler pushes #(EXIT reason) and goes on here */
    ret_if_tail(c, f, tail);
}

static void comp_fn_expr(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    if (a->u.list.n < 3)
        die_at(c, a, "malformed fn: expected (fn (params) body...)");
    comp_fn(c, f, a->u.list.items[1], a->u.list.items + 2, a->u.list.n - 2, a, A_FN);
    ret_if_tail(c, f, tail);
}

static void comp_list_form(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    size_t n = a->u.list.n;
    if (n == 0)
        die_at(c, a, "() is not an expression; write '() for the empty list");
    const ast_t *head = a->u.list.items[0];
    if (head->kind == AST_SYMBOL && is_special(c, head->u.str.s)) {
        const char *s = head->u.str.s;
        if (strcmp(s, "quote") == 0) {
            if (n != 2)
                die_at(c, a, "malformed quote: expected (quote x), one form");
            push_const(c, f, const_datum(c, a->u.list.items[1]));
            ret_if_tail(c, f, tail);
        } else if (strcmp(s, "if") == 0) {
            comp_if(c, f, a, tail);
        } else if (strcmp(s, "let") == 0) {
            comp_let(c, f, a, tail);
        } else if (strcmp(s, "do") == 0) {
            comp_body(c, f, a->u.list.items + 1, n - 1, tail, a);
        } else if (strcmp(s, "cond") == 0) {
            comp_cond(c, f, a, tail);
        } else if (strcmp(s, "and") == 0 || strcmp(s, "or") == 0) {
            comp_andor(c, f, a, tail, s[0] == 'a');
        } else if (strcmp(s, "case") == 0) {
            comp_case(c, f, a, tail);
        } else if (strcmp(s, "receive") == 0) {
            if (f->guard)
                die_at(c, a, "a guard cannot receive: a guard may only read values");
            comp_receive(c, f, a, tail);
        } else if (strcmp(s, "catch") == 0) {
            comp_catch(c, f, a, tail);
        } else if (strcmp(s, "fn") == 0) {
            comp_fn_expr(c, f, a, tail);
        } else if (strcmp(s, "defn") == 0) {
            die_at(c, a, "defn is only allowed at top level");
        } else {
            die_at(c, a, "%s is only allowed inside %s", s,
                   strcmp(s, "when") == 0 ? "a case or receive clause" : "receive");
        }
        return;
    }
    comp_call(c, f, a, tail);
}

static void comp(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    stack_check(c, a);
    /* the code of a form has its line, but for the forms inside it,
     * which have theirs */
    int outer = f->line;
    if (a->kind == AST_LIST && a->line > 0)
        f->line = a->line;
    comp_form(c, f, a, tail);
    f->line = outer;
}

static void comp_form(compiler_t *c, fctx_t *f, const ast_t *a, bool tail)
{
    switch (a->kind) {
    case AST_INT:
    case AST_FLOAT:
    case AST_STRING:
        push_const(c, f, const_datum(c, a));
        break;
    case AST_SYMBOL:
        comp_symbol(c, f, a);
        break;
    case AST_LIST:
        comp_list_form(c, f, a, tail);
        return;
    }
    ret_if_tail(c, f, tail);
}

/* ------------------------------------------------------------------ */
/* functions                                                           */

static func_t *new_func(compiler_t *c, const ast_t *where, uint32_t name, uint32_t arity)
{
    func_t *fn = carea(c, where, sizeof *fn);
    memset(fn, 0, sizeof *fn);
    fn->name = name;
    fn->arity = arity;
    term *clo = carea(c, where, 2 * sizeof(term));
    clo[0] = mk_hdr(2, BT_CLOSURE);
    clo[1] = (term)(uintptr_t)fn;
    fn->value = mk_box(clo);
    /* a function's index is an instruction's 24-bit operand (CLOSURE) */
    if (c->nfuncs >= (1u << 23))
        die_at(c, where, "too many functions and closures (at most %u)", 1u << 23);
    c->funcs = grow(c, c->funcs, &c->capfuncs, c->nfuncs + 1, sizeof *c->funcs);
    fn->index = (uint32_t)c->nfuncs;
    c->funcs[c->nfuncs++] = fn;
    return fn;
}

/* The name of a source file in the code area, copied once per file. */
static const char *code_file(compiler_t *c, const char *file)
{
    if (!file)
        return NULL;
    if (c->file_src != file) {
        size_t n = strlen(file);
        char *copy = carea(c, NULL, n + 1);
        memcpy(copy, file, n + 1);
        c->file_src = file;
        c->file_copy = copy;
    }
    return c->file_copy;
}

/* Copy a finished context's code and constants into the code area. */
static void finalize(compiler_t *c, fctx_t *fc, func_t *fn, const ast_t *where)
{
    /* a jump's 24-bit offset spans any function smaller than this */
    if (fc->ncode >= (1u << 23))
        die_at(c, where, "a function too large to compile (%zu words of code; at most %u): split it",
               fc->ncode, (1u << 23) - 1);
    /* Word 0 was kept for the prologue: ALLOC of the locals, or nothing
     * (the code starts after it, and the line table moves down by one:
     * word 0 has no line of its own). */
    uint32_t nlocals = fc->max_slot - fc->arity;
    size_t skip = nlocals ? 0 : 1;
    fc->code[0] = (nlocals << 8) | OP_ALLOC;
    for (size_t i = 0; i < fc->nlines; i++)
        fc->lines[2 * i] -= (uint32_t)skip;
    fc->ncode -= skip;
    uint32_t *code = carea(c, where, fc->ncode * sizeof *code);
    memcpy(code, fc->code + skip, fc->ncode * sizeof *code);
    term *consts = NULL;
    if (fc->nconsts) {
        consts = carea(c, where, fc->nconsts * sizeof *consts);
        memcpy(consts, fc->consts, fc->nconsts * sizeof *consts);
    }
    fn->code = code;
    fn->loop = code + (nlocals ? 1 : 0);
    fn->nlocals = nlocals;
    fn->ncode = (uint32_t)fc->ncode;
    fn->consts = consts;
    fn->nconsts = (uint32_t)fc->nconsts;
    fn->nslots = fc->max_slot;
    /* slack above the deepest temporary: a builtin's result, a catch's
     * #(EXIT reason), the callee slot of a call */
    fn->frame = fc->max_slot + (uint32_t)fc->max_depth + 8;
    fn->call_bytes = (fn->frame + 2 * sizeof(ctl_t) / sizeof(term)) * sizeof(term);
    fn->nfree = fc->nfree;
    if (fc->nlines) {
        uint32_t *lines = carea(c, where, 2 * fc->nlines * sizeof *lines);
        memcpy(lines, fc->lines, 2 * fc->nlines * sizeof *lines);
        fn->lines = lines;
        fn->nlines = (uint32_t)fc->nlines;
    }
    fn->file = code_file(c, where ? where->file : NULL);
}

static void check_params(compiler_t *c, const ast_t *params)
{
    if (params->kind != AST_LIST)
        die_at(c, params, "malformed parameter list: expected (name ...)");
    for (size_t i = 0; i < params->u.list.n; i++) {
        const ast_t *p = params->u.list.items[i];
        if (p->kind != AST_SYMBOL)
            die_at(c, p, "a parameter must be a name");
        if (is_special(c, p->u.str.s) || ast_is_sym(p, "true") || ast_is_sym(p, "false") ||
            ast_is_sym(p, "_"))
            die_at(c, p, "cannot use %s as a parameter%s", p->u.str.s,
                   ast_is_sym(p, "_") ? " (a parameter is a name: to ignore an argument, "
                                        "name it _x, or _ with any letters after it)"
                                      : "");
    }
    /* A parameter named twice: pairwise for the usual few, hashed for a
     * long list (which would otherwise cost its square). */
    size_t n = params->u.list.n;
    sym_tab_t seen = {0};
    for (size_t i = 0; i < n; i++) {
        const ast_t *p = params->u.list.items[i];
        bool twice = false;
        if (n <= 16) {
            for (size_t j = 0; j < i && !twice; j++)
                twice = strcmp(params->u.list.items[j]->u.str.s, p->u.str.s) == 0;
        } else {
            sym_t *e = sym_find(c, &seen, p->u.str.s, true);
            twice = e->nglobals++ > 0;
        }
        if (twice)
            die_at(c, p, "parameter %s appears twice", p->u.str.s);
    }
}

/* Compile a function body. With a parent (a `fn` expression), the closure
 * value is pushed in the parent; top-level functions pass `fn`. */
static uint32_t comp_fn_into(compiler_t *c, fctx_t *parent, func_t *fn, const ast_t *params,
                             ast_t *const *body, size_t nbody, const ast_t *where)
{
    check_params(c, params);
    fctx_t fc = {0};
    fc.parent = parent;
    fc.self = fn;
    fc.last[0] = fc.last[1] = fc.last[2] = NO_POS;
    fc.line = where ? where->line : 0;
    for (size_t i = 0; i < params->u.list.n; i++) {
        uint32_t s = new_slot(c, &fc, params->u.list.items[i]);
        bind(c, &fc, params->u.list.items[i]->u.str.s, s);
    }
    fc.arity = (uint32_t)params->u.list.n;
    fc.line = 0;
    emit_word(c, &fc, 0); /* the prologue, set by finalize */
    fc.line = where ? where->line : 0;
    comp_body(c, &fc, body, nbody, true, where);
    finalize(c, &fc, fn, where);
    if (parent) {
        if (fc.nfree == 0) {
            emit(c, parent, OP_PUSH_K, (int32_t)add_const(c, parent, fn->value));
        } else {
            for (uint32_t i = 0; i < fc.nfree; i++) {
                uint32_t w;
                enum var_kind k = resolve(c, parent, fc.free_names[i], &w);
                SHOAL_ASSERT(k != VAR_NONE, "a free variable resolves in the parent");
                load_var(c, parent, k, w);
            }
            emit(c, parent, OP_CLOSURE, (int32_t)fn->index);
            emit_word(c, parent, fc.nfree);
            adjust(parent, -(int)fc.nfree);
        }
    }
    return fn->index;
}

static uint32_t comp_fn(compiler_t *c, fctx_t *parent, const ast_t *params, ast_t *const *body,
                        size_t nbody, const ast_t *where, uint32_t name)
{
    if (params->kind != AST_LIST)
        die_at(c, params, "malformed parameter list: expected (name ...)");
    func_t *fn = new_func(c, where, name, (uint32_t)params->u.list.n);
    return comp_fn_into(c, parent, fn, params, body, nbody, where);
}

/* ------------------------------------------------------------------ */
/* the two passes                                                      */

compiler_t *compiler_new(shm_header_t *h)
{
    compiler_t *c = calloc(1, sizeof *c);
    if (c)
        c->h = h;
    return c;
}

void compiler_free(compiler_t *c)
{
    if (!c)
        return;
    while (c->arena) {
        arena_block_t *b = c->arena;
        c->arena = b->next;
        free(b);
    }
    free(c);
}

int compiler_declare(compiler_t *c, ast_t **forms, size_t n, diag_t *err)
{
    c->err = err;
    c->where = NULL;
    if (setjmp(c->fail))
        return -1;
    shoal_stack_start(&c->stack);
    names_init(c);
    for (size_t i = 0; i < n; i++) {
        const ast_t *d = forms[i];
        if (d->kind != AST_LIST || d->u.list.n == 0 || !ast_is_sym(d->u.list.items[0], "defn")) {
            const ast_t *h = d->kind == AST_LIST && d->u.list.n ? d->u.list.items[0] : NULL;
            bool other_lisp = ast_is_sym(h, "define") || ast_is_sym(h, "defun") ||
                              ast_is_sym(h, "def");
            die_at(c, d, "only (defn name (params) body...) forms are allowed at top level%s",
                   other_lisp ? " (shoal has no define, defun or def)" : "");
        }
        if (d->u.list.n < 4 || d->u.list.items[1]->kind != AST_SYMBOL)
            die_at(c, d, "malformed defn: expected (defn name (params) body...)");
        const ast_t *name = d->u.list.items[1], *params = d->u.list.items[2];
        const char *nm = name->u.str.s;
        if (is_special(c, nm))
            die_at(c, name, "cannot define %s: it is a special form", nm);
        /* LANGUAGE.md, "Special forms": a defn would silently replace
         * the builtin in every call that does not see it. */
        if (find_builtin(c, nm) >= 0)
            die_at(c, name, "cannot define %s: it is a builtin; give your function another name", nm);
        if (ast_is_sym(name, "true") || ast_is_sym(name, "false"))
            die_at(c, name, "cannot define %s", nm);
        check_params(c, params);
        uint32_t arity = (uint32_t)params->u.list.n;
        if (find_global(c, nm, (int)arity))
            die_at(c, name, "%s/%u is defined twice", nm, arity);
        if (c->nglobals >= (1u << 23))
            die_at(c, name, "too many functions (at most %u)", 1u << 23);
        c->globals = grow(c, c->globals, &c->capglobals, c->nglobals + 1, sizeof *c->globals);
        uint32_t gi = (uint32_t)c->nglobals++;
        global_t *g = &c->globals[gi];
        g->name = nm;
        g->arity = arity;
        g->defn = forms[i];
        g->next = NO_INDEX;
        g->index = new_func(c, d, intern(c, name, nm, name->u.str.len), arity)->index;
        /* last in its name's chain, so that the first defined comes first */
        sym_t *e = sym_find(c, &c->names, nm, true);
        uint32_t *link = &e->first_global;
        while (*link != NO_INDEX)
            link = &c->globals[*link].next;
        *link = gi;
        e->nglobals++;
    }
    return 0;
}

int compiler_finish(compiler_t *c, diag_t *err)
{
    c->err = err;
    c->where = NULL;
    if (setjmp(c->fail))
        return -1;
    shoal_stack_start(&c->stack);
    names_init(c);
    for (size_t i = 0; i < c->nglobals; i++) {
        global_t *g = &c->globals[i];
        const ast_t *d = g->defn;
        c->where = d;
        comp_fn_into(c, NULL, c->funcs[g->index], d->u.list.items[2], d->u.list.items + 3,
                     d->u.list.n - 3, d);
    }
    global_t *m = find_global(c, "main", 0);
    if (!m) {
        global_t *any = find_global(c, "main", -1);
        if (any)
            die_at(c, any->defn, "main must take no arguments (use (args) for the command line)");
        err->file = NULL;
        snprintf(err->msg, sizeof err->msg, "no (defn main () ...) in the program");
        return -1;
    }
    c->where = m->defn;
    code_table_t *ct = code_table(c->h);
    func_t **table = carea(c, NULL, c->nfuncs * sizeof *table);
    memcpy(table, c->funcs, c->nfuncs * sizeof *table);
    /* code_find's index of the top-level functions, at most half full */
    size_t cap = 16;
    while (cap < 2 * c->nglobals)
        cap *= 2;
    uint32_t *index = carea(c, NULL, cap * sizeof *index);
    memset(index, 0, cap * sizeof *index);
    for (size_t i = 0; i < c->nglobals; i++) {
        const func_t *fn = c->funcs[c->globals[i].index];
        size_t j = code_find_slot(fn->name, fn->arity, cap - 1);
        while (index[j])
            j = (j + 1) & (cap - 1);
        index[j] = fn->index + 1;
    }
    ct->funcs = table;
    ct->nfuncs = (uint32_t)c->nfuncs;
    ct->find_index = index;
    ct->find_mask = (uint32_t)(cap - 1);
    ct->main_index = m->index;
    return 0;
}
