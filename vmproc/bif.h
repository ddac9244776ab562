/*
 * bif.h: the builtins that are not opcodes, and the registry that names
 * them (builtins.h is the list; bif.c holds the table).
 *
 * Builtins are grouped by family, one file each (STYLE.md): bif_arith.c,
 * bif_list.c, bif_tuple.c, bif_string.c, bif_type.c, bif_io.c,
 * bif_proc.c, bif_place.c and bif_table.c.
 *
 * NOTES
 *   Owner VM only, on the running process. A builtin reads its arguments
 *   from the process's value stack, so they stay roots if it allocates;
 *   it reads them again after any allocation. It returns the result, or
 *   T_NONE after setting p->err_class and p->err_value (the interpreter
 *   then raises). T_NONE with err_class still EXC_NONE means the heap
 *   could not grow: the interpreter ends the process with heap_limit.
 */
#ifndef SHOAL_VMPROC_BIF_H
#define SHOAL_VMPROC_BIF_H

#include "vmproc/heap.h"
#include "vmproc/proc.h"

#include <math.h>
#include <string.h>

/* Flags of a builtin (builtins.h says what they mean). */
#define BF_GUARD 1u

typedef term (*bif_fn)(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);

enum bi_id {
#define BI(id, name, lo, hi, fn, flags, doc) BI_##id,
#include "vmproc/builtins.h"
#undef BI
    BI__COUNT
};

typedef struct bif_info {
    const char *name;
    int lo, hi;          /* arity bounds; hi < 0: any number */
    bif_fn fn;
    unsigned flags;      /* BF_* */
} bif_info_t;

/* Every builtin, by id. */
extern const bif_info_t bif_table[BI__COUNT];

/* The functions of the table, declared once from the list. */
#define BI(id, name, lo, hi, fn, flags, doc) term fn(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);
#include "vmproc/builtins.h"
#undef BI

/* The definition of a builtin: every one takes the same arguments, and
 * most use only some of them. */
#define BIF_UNUSED __attribute__((unused))
#define BIF(fn)                                                                 \
    term fn(rt_t *rt BIF_UNUSED, pcb_t *pcb BIF_UNUSED, term *args BIF_UNUSED,  \
            uint32_t argc BIF_UNUSED)

static inline term bif_call(rt_t *rt, pcb_t *pcb, uint32_t id, term *args, uint32_t argc)
{
    return bif_table[id].fn(rt, pcb, args, argc);
}

/* Raise #(error atom) in the running process; returns T_NONE. */
term bif_error(proc_t *p, uint32_t atom);

/* Arithmetic slow paths shared with the interpreter: a op b for + - * on
 * any numbers. The operands are args[0] and args[1] on the value stack.
 * Returns T_NONE on error. */
term bif_arith(rt_t *rt, pcb_t *pcb, int op, term *args);

/* ------------------------------------------------------------------ */
/* helpers the families share                                          */

term bif_bool(bool b);

/* Room for `words` on the heap (may collect: re-read every argument after
 * it). False when the heap cannot grow. */
static inline bool bif_room(rt_t *rt, pcb_t *pcb, uint64_t words)
{
    proc_t *p = proc_of(pcb);
    if ((uint64_t)(p->hlim - p->hp) >= words)
        return true;
    return heap_make_room(rt, pcb, words) == 0;
}

/* Build a float or a string in room the caller made (2 words;
 * str_words(n) words). */
static inline term bif_mk_float(proc_t *p, double d)
{
    term *f = heap_take(p, 2);
    f[0] = mk_hdr(2, BT_FLOAT);
    memcpy(&f[1], &d, sizeof d);
    return mk_box(f);
}

static inline term bif_mk_string(proc_t *p, const char *s, size_t n)
{
    uint64_t w = str_words(n);
    term *b = heap_take(p, w);
    b[w - 1] = 0;
    b[0] = mk_hdr(w, BT_STRING);
    b[1] = n;
    memcpy(&b[2], s, n);
    return mk_box(b);
}

static inline bool bif_is_num(term t)
{
    return is_fix(t) || is_float(t);
}

static inline double bif_num_val(term t)
{
    return is_fix(t) ? (double)fix_val(t) : float_val(t);
}

/* A float result: badarith if it is not finite, else boxed. */
term bif_float_result(rt_t *rt, pcb_t *pcb, double d);

/* The printed forms of args, strings unquoted, appended to b, with a
 * space between them if `spaces` (print), else none (str). */
struct sbuf;
void bif_print_args(rt_t *rt, term *args, uint32_t argc, bool spaces, struct sbuf *b);

/* The length of a proper list into *n; returns the tail where the walk
 * stopped ('() for a proper list). */
term bif_list_length(term l, int64_t *n);

#endif
