/*
 * term.h: how a value of the language is represented.
 *
 * A term is one 64-bit word. Its low bits say what it is:
 *
 *   ...xxx1  integer: the value shifted left by one (63-bit signed, which
 *            is exactly the language's integer range; no bignums)
 *   ...x010  cons: pointer to a 2-word cell [car, cdr], plus 2
 *   ...x000  boxed: pointer to an object that starts with a header word
 *            (float, string, tuple, closure, map, message node); 0 is "no value"
 *   ...x100  immediate: bits 3..5 are a subtag, the payload is above bit 6:
 *            nil '(), atom (index in the atom table), pid (its number), ref
 *   ...x110  never a value: the header word of a boxed object, so that the
 *            collector can walk a heap object by object (a word that is
 *            not a header starts a cons cell)
 *
 * Pointers are absolute addresses. They are valid in every VM because the
 * shared segment is mapped at the same address everywhere, so a heap can
 * be handed to another VM without being touched (DESIGN.md).
 *
 * A header is (size in words, header included) << 8 | type << 3 | 6.
 * The collector forwards a boxed object by overwriting its header with the
 * new boxed pointer, and a cons cell by writing T_NONE into its car and the
 * new cons term into its cdr (no cell has T_NONE as its car).
 */
#ifndef SHOAL_VMPROC_TERM_H
#define SHOAL_VMPROC_TERM_H

#include "shm/common.h"

#include <string.h>

typedef uint64_t term;

#define T_NONE ((term)0)

#define TAG_MASK 7u
#define TAG_BOXED 0u
#define TAG_CONS 2u
#define TAG_IMM 4u
#define TAG_HDR 6u

#define SUB_NIL 0u
#define SUB_ATOM 1u
#define SUB_PID 2u
#define SUB_REF 3u

#define T_NIL ((term)TAG_IMM)
#define FIX_MAX ((int64_t)0x3fffffffffffffffll)
#define FIX_MIN (-FIX_MAX - 1)

static inline bool is_fix(term t) { return t & 1; }
static inline term mk_fix(int64_t n) { return ((uint64_t)n << 1) | 1; }
static inline int64_t fix_val(term t) { return (int64_t)t >> 1; }
static inline bool fix_fits(int64_t n) { return n >= FIX_MIN && n <= FIX_MAX; }

static inline bool is_imm(term t) { return (t & TAG_MASK) == TAG_IMM; }
static inline unsigned imm_sub(term t) { return (unsigned)(t >> 3) & 7u; }
static inline uint64_t imm_val(term t) { return t >> 6; }
static inline term mk_imm(unsigned sub, uint64_t v) { return (v << 6) | ((term)sub << 3) | TAG_IMM; }

static inline bool is_nil(term t) { return t == T_NIL; }
static inline bool is_atom(term t) { return (t & 63u) == ((SUB_ATOM << 3) | TAG_IMM); }
static inline bool is_pid(term t) { return (t & 63u) == ((SUB_PID << 3) | TAG_IMM); }
static inline bool is_ref(term t) { return (t & 63u) == ((SUB_REF << 3) | TAG_IMM); }
static inline term mk_atom(uint32_t i) { return mk_imm(SUB_ATOM, i); }
static inline uint32_t atom_index(term t) { return (uint32_t)imm_val(t); }
static inline term mk_pid(uint64_t n) { return mk_imm(SUB_PID, n); }
static inline term mk_ref(uint64_t n) { return mk_imm(SUB_REF, n); }

static inline bool is_cons(term t) { return (t & TAG_MASK) == TAG_CONS; }
static inline term *cons_ptr(term t) { return (term *)(uintptr_t)(t - TAG_CONS); }
static inline term mk_cons_ptr(term *cell) { return (term)(uintptr_t)cell | TAG_CONS; }
#define CAR(t) (cons_ptr(t)[0])
#define CDR(t) (cons_ptr(t)[1])

static inline bool is_boxed(term t) { return (t & TAG_MASK) == TAG_BOXED && t != 0; }
/* A pointer, boxed or cons: tag 0 (not 0 itself) or 2, bits 0 and 2 clear. */
static inline bool is_ptr(term t) { return t != 0 && (t & 5u) == 0; }
static inline term *box_ptr(term t) { return (term *)(uintptr_t)t; }
static inline term mk_box(term *p) { return (term)(uintptr_t)p; }

enum box_type {
    BT_FLOAT = 1,   /* [hdr][double] */
    BT_STRING,      /* [hdr][byte length][bytes, NUL-padded] */
    BT_TUPLE,       /* [hdr][elements...] */
    BT_CLOSURE,     /* [hdr][func_t *, not a term][free variables...] */
    BT_MSG,         /* [hdr][next message node or 0][the message] */
    BT_MAP          /* [hdr][layout word, not a term][terms...]: a map or one
                       node of a large map (map.h has the layouts) */
};

static inline term mk_hdr(uint64_t words, unsigned type) { return (words << 8) | ((term)type << 3) | TAG_HDR; }
static inline bool is_hdr(term w) { return (w & TAG_MASK) == TAG_HDR; }
static inline unsigned hdr_type(term h) { return (unsigned)(h >> 3) & 31u; }
static inline uint64_t hdr_words(term h) { return h >> 8; }
static inline unsigned box_type(term t) { return hdr_type(box_ptr(t)[0]); }

/* Where the terms of a boxed object of type `type` start: the words from
 * there to its end are terms, the words before (after the header) are
 * raw data. 0: it holds no terms (floats, strings). Every walk over terms
 * (collector, copy, size, equality, hashing) goes by this. */
static inline unsigned box_term_start(unsigned type)
{
    switch (type) {
    case BT_TUPLE:
    case BT_MSG:
        return 1;
    case BT_CLOSURE:
    case BT_MAP:
        return 2;
    default:
        return 0;
    }
}

static inline bool is_float(term t) { return is_boxed(t) && box_type(t) == BT_FLOAT; }
static inline bool is_string(term t) { return is_boxed(t) && box_type(t) == BT_STRING; }
static inline bool is_tuple(term t) { return is_boxed(t) && box_type(t) == BT_TUPLE; }
static inline bool is_closure(term t) { return is_boxed(t) && box_type(t) == BT_CLOSURE; }
static inline bool is_map(term t) { return is_boxed(t) && box_type(t) == BT_MAP; }

static inline double float_val(term t)
{
    double d;
    memcpy(&d, &box_ptr(t)[1], sizeof d);
    return d;
}
static inline uint64_t str_len(term t) { return box_ptr(t)[1]; }
static inline const char *str_bytes(term t) { return (const char *)&box_ptr(t)[2]; }
static inline uint64_t str_words(uint64_t len) { return 2 + (len + 8) / 8; }
static inline uint64_t tuple_size(term t) { return hdr_words(box_ptr(t)[0]) - 1; }
static inline term *tuple_elems(term t) { return &box_ptr(t)[1]; }

#endif
