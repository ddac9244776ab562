/*
 * compiler_impl.h: what the two files of the compiler share: compiler.c
 * (names, forms, patterns, functions) and compiler_emit.c (the code and
 * constants of a function being built, and the peephole that fuses
 * instructions). Not for the rest of the runtime: compiler.h is its face.
 */
#ifndef SHOAL_VMPROC_COMPILER_IMPL_H
#define SHOAL_VMPROC_COMPILER_IMPL_H

#include "vmproc/compiler.h"
#include "vmproc/code.h"

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct binding {
    const char *name;
    uint32_t slot;
    struct binding *next;     /* the binding made before this one, in any name */
    struct binding *shadowed; /* the binding of the same name this one hides */
} binding_t;

#define NO_INDEX UINT32_MAX
#define NO_POS SIZE_MAX

/* A name in a symbol table: the compiler's table of top-level names
 * (builtins, special forms, defns) or a function's table of variables.
 * Lookups are hashed, so that compile time grows with the size of the
 * program, not with its square: a 40,000-defn program took 8 s when
 * every lookup scanned. */
typedef struct sym {
    const char *name; /* NULL: an empty slot */
    uint32_t hash;
    int32_t builtin;       /* names: the bi_id, or -1 */
    bool special;          /* names: a special form */
    uint32_t first_global; /* names: its first defn in c->globals, or NO_INDEX */
    uint32_t nglobals;     /* names: how many arities are defined */
    int32_t free_idx;      /* variables: index among the free variables, or -1 */
    binding_t *local;      /* variables: the innermost binding in scope, or NULL */
} sym_t;

/* Open addressing, linear probing, at most half full. */
typedef struct sym_tab {
    sym_t *v;
    size_t cap, used;
} sym_tab_t;

typedef struct fctx {
    struct fctx *parent;
    uint32_t *code;
    size_t ncode, capcode;
    term *consts;
    size_t nconsts, capconsts;
    uint32_t arity, next_slot, max_slot;
    int depth, max_depth;
    binding_t *env;      /* the bindings in scope, innermost first */
    sym_tab_t vars;      /* by name: the innermost binding, and the free index */
    const char **free_names;
    uint32_t nfree, capfree;
    int guard; /* > 0 while compiling a guard: only guard builtins may be called */
    uint32_t *kindex;    /* constants by value: index + 1, or 0; kcap slots */
    size_t kcap;
    /* the line table: (code offset, line) where the line changes; `line`
     * is the line of the form being compiled */
    uint32_t *lines;
    size_t nlines, caplines;
    int line;
    /* the peephole (fuse): where the last three instructions start, the
     * latest first (NO_POS: none to fuse with), and the furthest position
     * a jump lands on, which no fusion may swallow */
    size_t last[3];
    size_t label;
    const func_t *self; /* the function being compiled (a tail call of it is TCALL_SELF) */
} fctx_t;

typedef struct global {
    const char *name;
    uint32_t arity;
    uint32_t index;
    uint32_t next; /* the next defn of the same name (another arity), or NO_INDEX */
    ast_t *defn;
} global_t;

/* Every private allocation of a compile comes from one arena, freed whole
 * by compiler_free: a compile error longjmps out of any depth and leaks
 * nothing. Growth copies into a new block and leaves the old one to the
 * arena, which at most doubles what a compile uses. */
typedef struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    max_align_t data[];
} arena_block_t;

struct compiler {
    shm_header_t *h;
    arena_block_t *arena;
    global_t *globals;
    size_t nglobals, capglobals;
    func_t **funcs; /* every function, top-level and closures, by index */
    size_t nfuncs, capfuncs;
    sym_tab_t names; /* builtins, special forms and defns, by name */
    const ast_t *where; /* the defn being compiled: where an error without a form is */
    shoal_stack_t stack;  /* the C stack this pass may use */
    jmp_buf fail;
    diag_t *err;
    const char *file_src, *file_copy; /* the last file name copied (code_file) */
};

/* compiler.c: errors and private memory */
void die_at(compiler_t *c, const ast_t *a, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 3, 4)));
/* Zeroed memory from the compile's arena. */
void *c_alloc(compiler_t *c, size_t bytes);
/* p with room for `need` elements of `elem` bytes (*cap of them now). */
void *grow(compiler_t *c, void *p, size_t *cap, size_t need, size_t elem);

/* compiler_emit.c: instructions and constants (each is described where
 * it is defined) */
/* Append one word of code (and a line-table entry if the line changed). */
size_t emit_word(compiler_t *c, fctx_t *f, uint32_t w);
/* The value stack's depth moves by d. */
void adjust(fctx_t *f, int d);
/* The position the next word goes to. */
size_t here(const fctx_t *f);
/* A jump lands at pos: no fusion may swallow it. */
void mark_label(fctx_t *f, size_t pos);
/* The opcode of the latest instruction but i, or -1 (see its definition). */
int last_op(const fctx_t *f, int i);
/* A LOAD2 just emitted goes back to its two LOADs. */
void split_load2(compiler_t *c, fctx_t *f);
/* Emit `op a`, fused with what came before where it can be; returns
 * the position of the instruction, whose A a jump is patched in. */
size_t emit(compiler_t *c, fctx_t *f, enum opcode op, int32_t a);
/* Point the jump operand at pos (in A or an extra word) at target. */
void patch(fctx_t *f, size_t pos, bool in_a, size_t next, size_t target);
/* A jump whose offset patch_a sets later. */
size_t emit_jump(compiler_t *c, fctx_t *f, enum opcode op);
void patch_a(fctx_t *f, size_t pos, size_t target);
/* The index of constant t in f's constants, added if new. */
uint32_t add_const(compiler_t *c, fctx_t *f, term t);
/* Push constant t by the shortest instruction that makes it. */
void push_const(compiler_t *c, fctx_t *f, term t);

#endif
