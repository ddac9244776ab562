/*
 * termio.h: printing, equality and ordering of terms.
 *
 * NOTES
 *   Any VM, on terms it may read (its own process's, or constants). The
 *   printer writes into a private growable buffer (tcmalloc), never into
 *   a heap, so it cannot trigger a collection.
 */
#ifndef SHOAL_VMPROC_TERMIO_H
#define SHOAL_VMPROC_TERMIO_H

#include "shm/segment.h"
#include "vmproc/term.h"

typedef struct sbuf {
    char *s;
    size_t len, cap;
    bool oom;
    bool cut;     /* output stopped at `limit` */
    bool lent;    /* s is the caller's memory (sbuf_lend): never freed here */
    size_t limit; /* most bytes to keep (0: no limit); term_print stops there */
} sbuf_t;

/* Start b in the caller's `cap` bytes at mem (a buffer on its stack): no
 * allocation unless the text outgrows them. sbuf_free is still needed. */
static inline void sbuf_lend(sbuf_t *b, char *mem, size_t cap)
{
    *b = (sbuf_t){.s = mem, .cap = cap, .lent = true};
    mem[0] = 0;
}

void sbuf_put(sbuf_t *b, const char *s, size_t n);
void sbuf_puts(sbuf_t *b, const char *s);
void sbuf_free(sbuf_t *b);

/* Append the printed form of t. `raw` prints a string without quotes (the
 * top level of print and str). */
void term_print(const shm_header_t *h, sbuf_t *b, term t, bool raw);

/* The shortest text of d that reads back as d, always with a '.' or 'e'. */
void float_text(double d, char *out, size_t n);

/* Deep structural equality; 1 is not 1.0. An immediate equals only
 * itself (the same word), so only two pointers need the walk. */
bool term_equal_walk(term a, term b);
static inline bool term_equal(term a, term b)
{
    if (a == b)
        return true;
    if (!is_ptr(a) || !is_ptr(b) || ((a ^ b) & TAG_MASK))
        return false;
    return term_equal_walk(a, b);
}

/* Order numbers (ints and floats mixed) or strings (byte-wise): sets *cmp
 * to -1, 0 or 1. Returns false for other operands (badarg). */
bool term_order(term a, term b, int *cmp);

/* Erlang's term order over any two terms (LANGUAGE.md, "Values"):
 * number < atom < ref < function < pid < tuple < map < list < string;
 * numbers by value, an integer before a float of the same value. Returns
 * -1, 0 or 1; 0 exactly when (= a b). `h` names the atoms. */
int term_compare(const shm_header_t *h, term a, term b);

/* Two atoms in that order: by name, byte-wise (-1, 0 or 1). */
int atom_compare(const shm_header_t *h, term a, term b);

/* A 64-bit hash of t that agrees with term_equal (equal terms hash
 * alike: 0.0 and -0.0 do, 1 and 1.0 need not): xxHash (XXH3) over a
 * canonical byte encoding of t (a tag byte per term, then its payload),
 * with `seed`. Atoms, pids, refs and functions hash by their number, so a
 * hash is stable for one run, not across runs. A map (when BT_MAP comes)
 * must encode its size, then its keys and values in key order. */
uint64_t term_hash(term t, uint64_t seed);

#endif
