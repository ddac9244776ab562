/*
 * termio.c: printing, equality, ordering and hashing of terms
 * (LANGUAGE.md, "Values": how each type is printed, term order).
 */
#include "vmproc/termio.h"

#include "shm/beat.h"

#include "shm/atom.h"
#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "vmproc/map.h"
#include "vmproc/wstack.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void sbuf_put(sbuf_t *b, const char *s, size_t n)
{
    if (b->oom || b->cut)
        return;
    if (b->limit && b->len + n > b->limit) {
        /* keep what fits, never half of a UTF-8 sequence */
        size_t k = b->limit - b->len;
        while (k > 0 && k < n && ((unsigned char)s[k] & 0xc0) == 0x80)
            k--;
        n = k;
        b->cut = true;
    }
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = b->lent ? malloc(cap) : realloc(b->s, cap);
        if (!p) {
            b->oom = true;
            return;
        }
        if (b->lent)
            memcpy(p, b->s, b->len);
        b->lent = false;
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void sbuf_puts(sbuf_t *b, const char *s)
{
    sbuf_put(b, s, strlen(s));
}

void sbuf_free(sbuf_t *b)
{
    if (!b->lent)
        free(b->s);
    b->lent = false;
    b->s = NULL;
    b->len = b->cap = 0;
}

void float_text(double d, char *out, size_t n)
{
    if (!isfinite(d)) { /* arithmetic never makes these (badarith), but be total */
        snprintf(out, n, "%s", isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
        return;
    }
    /* The fewest significant digits that read back as d. A decimal of
     * at most 15 digits (DBL_DIG) reads as a double that prints back to
     * it with 15 digits: so if the shortest has p <= 15 digits, d printed
     * with 15 is it, padded with zeros (which are dropped below), and if
     * d printed with 15 reads back, the shortest has no more digits than
     * that without its zeros. Else it has 16 or 17 (17 always do), and
     * printf's rounding to the nearest gives the nearest of them. Two or
     * three conversions, where a bisection over 1..17 takes five. A
     * subnormal has fewer bits than DBL_DIG needs: the bisection (if p
     * digits read back, so do p + 1: every p-digit decimal is a (p + 1)-
     * digit one, and printf rounds to the nearest). */
    char e[40];
    if (fabs(d) >= DBL_MIN || d == 0) {
        for (int p = 15; p <= 17; p++) {
            snprintf(e, sizeof e, "%.*e", p - 1, d);
            if (p == 17 || strtod(e, NULL) == d)
                break;
        }
    } else {
        int lo = 1, hi = 17;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            snprintf(e, sizeof e, "%.*e", mid - 1, d);
            if (strtod(e, NULL) == d)
                hi = mid;
            else
                lo = mid + 1;
        }
        snprintf(e, sizeof e, "%.*e", lo - 1, d);
    }
    /* ...laid out as Erlang does (io_lib_format's insert_decimal): the
     * digits are 0.DIGITS x 10^place; between 0 and the digit count the
     * point goes inside them (1234.5, 0.25); outside, positional form
     * (100.0, 0.001) unless the exponent form is shorter, ties going to
     * positional (1.0e3, 1.23e5, 1.5e-5, 1.0e20). */
    char digits[24];
    size_t nd = 0;
    const char *q = e;
    bool neg = *q == '-';
    if (neg)
        q++;
    for (; *q && *q != 'e'; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    int exp = atoi(q + 1);
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    int place = exp + 1, len = (int)nd;
    char buf[64];
    size_t k = 0;
    if (neg)
        buf[k++] = '-';
    char exps[8];
    int explen = snprintf(exps, sizeof exps, "%d", exp);
    int expcost = explen + 1 + (len == 1 ? 2 : 1); /* "e", and ".0" or "." */
    if (place == 0 || (place < 0 && 2 - place <= expcost)) {
        buf[k++] = '0';
        buf[k++] = '.';
        for (int z = place; z < 0; z++)
            buf[k++] = '0';
        memcpy(buf + k, digits, nd);
        k += nd;
    } else if (place > 0 && place < len) {
        memcpy(buf + k, digits, (size_t)place);
        k += (size_t)place;
        buf[k++] = '.';
        memcpy(buf + k, digits + place, nd - (size_t)place);
        k += nd - (size_t)place;
    } else if (place >= len && place - len + 2 <= expcost) {
        memcpy(buf + k, digits, nd);
        k += nd;
        for (int z = len; z < place; z++)
            buf[k++] = '0';
        buf[k++] = '.';
        buf[k++] = '0';
    } else {
        buf[k++] = digits[0];
        buf[k++] = '.';
        if (nd > 1) {
            memcpy(buf + k, digits + 1, nd - 1);
            k += nd - 1;
        } else {
            buf[k++] = '0';
        }
        buf[k++] = 'e';
        memcpy(buf + k, exps, (size_t)explen);
        k += (size_t)explen;
    }
    buf[k] = 0;
    snprintf(out, n, "%s", buf);
}

static void print_string(sbuf_t *b, term t, bool raw)
{
    const char *s = str_bytes(t);
    uint64_t n = str_len(t);
    if (raw) {
        sbuf_put(b, s, n);
        return;
    }
    sbuf_put(b, "\"", 1);
    size_t run = 0;
    for (uint64_t i = 0; i < n && !b->cut; i++) {
        const char *esc = NULL;
        switch (s[i]) {
        case '\n': esc = "\\n"; break;
        case '\t': esc = "\\t"; break;
        case '\\': esc = "\\\\"; break;
        case '"': esc = "\\\""; break;
        default: break;
        }
        if (esc) {
            sbuf_put(b, s + run, i - run);
            sbuf_puts(b, esc);
            run = i + 1;
        }
    }
    sbuf_put(b, s + run, n - run);
    sbuf_put(b, "\"", 1);
}

/* Print one non-container term. */
/* The decimal digits of v, written backwards from end; returns the first. */
static char *digits(uint64_t v, char *end)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/* prefix, the decimal v (negative if neg), suffix: without printf, in
 * one piece */
static void put_num(sbuf_t *b, const char *prefix, uint64_t v, bool neg, const char *suffix)
{
    char num[48];
    size_t np = strlen(prefix), ns = strlen(suffix);
    char *end = num + sizeof num - ns, *p = digits(v, end);
    if (neg)
        *--p = '-';
    p -= np;
    memcpy(p, prefix, np);
    memcpy(end, suffix, ns);
    sbuf_put(b, p, (size_t)(end + ns - p));
}

static void print_leaf(const shm_header_t *h, sbuf_t *b, term t, bool raw)
{
    char num[64];
    if (is_fix(t)) {
        int64_t v = fix_val(t);
        /* the magnitude as unsigned: INT64_MIN's has no signed form */
        put_num(b, "", v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0, "");
        return;
    }
    if (is_imm(t)) {
        size_t len;
        const char *name;
        switch (imm_sub(t)) {
        case SUB_NIL:
            sbuf_puts(b, "()");
            return;
        case SUB_ATOM:
            name = atom_name(h, atom_index(t), &len);
            sbuf_put(b, name, len);
            return;
        case SUB_PID:
            put_num(b, "<", imm_val(t), false, ">");
            return;
        case SUB_REF:
            put_num(b, "#ref<", imm_val(t), false, ">");
            return;
        default:
            break;
        }
    }
    if (is_boxed(t)) {
        term *p = box_ptr(t);
        switch (hdr_type(p[0])) {
        case BT_FLOAT:
            float_text(float_val(t), num, sizeof num);
            sbuf_puts(b, num);
            return;
        case BT_STRING:
            print_string(b, t, raw);
            return;
        case BT_CLOSURE: {
            const func_t *f = (const func_t *)(uintptr_t)p[1];
            size_t len;
            const char *name = atom_name(h, f->name, &len);
            snprintf(num, sizeof num, "/%u>", f->arity);
            sbuf_puts(b, "#fun<");
            sbuf_put(b, name, len);
            sbuf_puts(b, num);
            return;
        }
        default:
            break;
        }
    }
    sbuf_puts(b, "#<?>");
}

/* Work items of the printer, kept on a wstack as pairs (item, kind):
 * a term to print, the rest of a list after its first element, or a
 * literal piece of punctuation. */
enum { PW_TERM, PW_REST, PW_CLOSE, PW_SPACE, PW_BRACE };

/* The keys and values of map m in key order, in private memory (one
 * array: keys, then values). Out of memory here is a VM failure, as it is
 * for the walk stacks (wstack.h). */
static term *sorted_entries(const shm_header_t *h, term m)
{
    uint64_t n = map_size(m);
    term *kv = malloc((2 * n + 1) * sizeof *kv);
    if (!kv || map_sorted(h, m, kv, kv + n) < 0)
        shoal_assert_fail(__FILE__, __LINE__, "kv != NULL", "out of memory ordering a map");
    return kv;
}

void term_print(const shm_header_t *h, sbuf_t *b, term t, bool raw)
{
    if (!is_cons(t) && !is_tuple(t) && !is_map(t)) {
        print_leaf(h, b, t, raw);
        return;
    }
    wstack_t st;
    wstack_init(&st);
    wstack_push(&st, t);
    wstack_push(&st, PW_TERM);
    term kind;
    while (!b->cut && wstack_pop(&st, &kind)) {
        vm_tick(1);
        wstack_pop(&st, &t);
        switch (kind) {
        case PW_CLOSE:
            sbuf_put(b, ")", 1);
            break;
        case PW_BRACE:
            sbuf_put(b, "}", 1);
            break;
        case PW_SPACE:
            sbuf_put(b, " ", 1);
            break;
        case PW_REST:
            if (is_nil(t)) {
                sbuf_put(b, ")", 1);
            } else if (is_cons(t)) {
                sbuf_put(b, " ", 1);
                wstack_push(&st, CDR(t));
                wstack_push(&st, PW_REST);
                wstack_push(&st, CAR(t));
                wstack_push(&st, PW_TERM);
            } else {
                sbuf_puts(b, " . ");
                wstack_push(&st, 0);
                wstack_push(&st, PW_CLOSE);
                wstack_push(&st, t);
                wstack_push(&st, PW_TERM);
            }
            break;
        case PW_TERM:
            if (is_cons(t)) {
                sbuf_put(b, "(", 1);
                wstack_push(&st, CDR(t));
                wstack_push(&st, PW_REST);
                wstack_push(&st, CAR(t));
                wstack_push(&st, PW_TERM);
            } else if (is_tuple(t)) {
                uint64_t n = tuple_size(t);
                sbuf_puts(b, "#(");
                wstack_push(&st, 0);
                wstack_push(&st, PW_CLOSE);
                for (uint64_t i = n; i-- > 0;) {
                    wstack_push(&st, tuple_elems(t)[i]);
                    wstack_push(&st, PW_TERM);
                    if (i) {
                        wstack_push(&st, 0);
                        wstack_push(&st, PW_SPACE);
                    }
                }
            } else if (is_map(t)) {
                /* #{k1 v1 k2 v2}, keys in term order */
                uint64_t n = map_size(t);
                term *kv = sorted_entries(h, t);
                sbuf_puts(b, "#{");
                wstack_push(&st, 0);
                wstack_push(&st, PW_BRACE);
                for (uint64_t i = 2 * n; i-- > 0;) {
                    wstack_push(&st, i % 2 ? kv[n + i / 2] : kv[i / 2]);
                    wstack_push(&st, PW_TERM);
                    if (i) {
                        wstack_push(&st, 0);
                        wstack_push(&st, PW_SPACE);
                    }
                }
                free(kv);
            } else {
                print_leaf(h, b, t, false);
            }
            break;
        }
    }
    wstack_free(&st);
}

bool term_equal_walk(term a, term b)
{
    if (a == b)
        return true;
    wstack_t st;
    wstack_init(&st);
    bool eq = true;
    wstack_push(&st, a);
    wstack_push(&st, b);
    while (eq && wstack_pop(&st, &b)) {
        vm_tick(1);
        wstack_pop(&st, &a);
        if (a == b)
            continue;
        if (is_cons(a)) {
            /* Down both spines here: two heads that are the same word
             * are equal, two other words of which one is immediate are
             * not (as term_equal says), and only two compound heads go
             * on the stack; then the tails, unless a's is a list and b's
             * is not (b's is a list and a's is not fails below). */
            while (is_cons(a) && is_cons(b)) {
                term ha = CAR(a), hb = CAR(b);
                if (ha != hb) {
                    if (!is_ptr(ha) || !is_ptr(hb)) {
                        eq = false;
                        break;
                    }
                    wstack_push(&st, ha);
                    wstack_push(&st, hb);
                }
                a = CDR(a);
                b = CDR(b);
                if (a == b)
                    break;
                vm_tick(1);
            }
            if (eq && a != b) {
                if (is_cons(a)) { /* and b is not: b's list is shorter */
                    eq = false;
                    break;
                }
                wstack_push(&st, a);
                wstack_push(&st, b);
            }
            continue;
        }
        if (!is_boxed(a) || !is_boxed(b)) {
            eq = false;
            break;
        }
        term *pa = box_ptr(a), *pb = box_ptr(b);
        if (pa[0] != pb[0]) {
            eq = false;
            break;
        }
        uint64_t n = hdr_words(pa[0]);
        unsigned ty = hdr_type(pa[0]), from = box_term_start(ty);
        if (ty == BT_FLOAT) {
            eq = float_val(a) == float_val(b);
        } else if (ty == BT_STRING) {
            eq = memcmp(pa + 1, pb + 1, (n - 1) * sizeof(term)) == 0;
        } else if (from && ty != BT_MSG) {
            /* tuples, closures (their function first) and maps (their
             * layout word first: a map's layout is a function of its
             * keys, map.h, so equal maps have equal layouts) */
            if (memcmp(pa + 1, pb + 1, (from - 1) * sizeof(term)) != 0) {
                eq = false;
                break;
            }
            for (uint64_t i = from; i < n; i++) {
                wstack_push(&st, pa[i]);
                wstack_push(&st, pb[i]);
            }
        } else {
            eq = false;
        }
    }
    wstack_free(&st);
    return eq;
}

bool term_order(term a, term b, int *cmp)
{
    if (is_fix(a) && is_fix(b)) {
        int64_t x = fix_val(a), y = fix_val(b);
        *cmp = (x > y) - (x < y);
        return true;
    }
    if ((is_fix(a) || is_float(a)) && (is_fix(b) || is_float(b))) {
        if (is_fix(a) && is_float(b)) {
            /* compare exactly, not through a rounded conversion */
            long double x = (long double)fix_val(a), y = float_val(b);
            *cmp = (x > y) - (x < y);
        } else if (is_float(a) && is_fix(b)) {
            long double x = float_val(a), y = (long double)fix_val(b);
            *cmp = (x > y) - (x < y);
        } else {
            double x = float_val(a), y = float_val(b);
            *cmp = (x > y) - (x < y);
        }
        return true;
    }
    if (is_string(a) && is_string(b)) {
        uint64_t la = str_len(a), lb = str_len(b);
        int c = memcmp(str_bytes(a), str_bytes(b), la < lb ? la : lb);
        if (c == 0)
            c = (la > lb) - (la < lb);
        *cmp = (c > 0) - (c < 0);
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* term order (LANGUAGE.md, "Values")                                  */

/* Rank of a term's type: number < atom < ref < function < pid < tuple <
 * map < list < string. */
static int type_rank(term t)
{
    if (is_fix(t))
        return 0;
    if (is_imm(t)) {
        switch (imm_sub(t)) {
        case SUB_ATOM:
            return 1;
        case SUB_REF:
            return 2;
        case SUB_PID:
            return 4;
        default:
            return 7; /* '() */
        }
    }
    if (is_cons(t))
        return 7;
    switch (box_type(t)) {
    case BT_FLOAT:
        return 0;
    case BT_CLOSURE:
        return 3;
    case BT_TUPLE:
        return 5;
    case BT_MAP:
        return 6;
    case BT_STRING:
        return 8;
    default:
        return 9;
    }
}

static int sign_of(int64_t c)
{
    return (c > 0) - (c < 0);
}

static int bytes_compare(const char *a, uint64_t la, const char *b, uint64_t lb)
{
    int c = memcmp(a, b, la < lb ? la : lb);
    return c ? sign_of(c) : sign_of((int64_t)(la > lb) - (int64_t)(la < lb));
}

int atom_compare(const shm_header_t *h, term a, term b)
{
    return a == b ? 0 : atom_order(h, atom_index(a), atom_index(b));
}

/* Two numbers: by value, then an integer before a float of that value. */
static int number_compare(term a, term b)
{
    int c;
    term_order(a, b, &c);
    if (c == 0 && is_fix(a) != is_fix(b))
        c = is_fix(a) ? -1 : 1;
    return c;
}

int term_compare(const shm_header_t *h, term a, term b)
{
    if (a == b)
        return 0;
    wstack_t st;
    wstack_init(&st);
    int c = 0;
    wstack_push(&st, a);
    wstack_push(&st, b);
    while (c == 0 && wstack_pop(&st, &b)) {
        vm_tick(1);
        wstack_pop(&st, &a);
        if (a == b)
            continue;
        int ra = type_rank(a), rb = type_rank(b);
        if (ra != rb) {
            c = ra < rb ? -1 : 1;
            break;
        }
        switch (ra) {
        case 0:
            c = number_compare(a, b);
            break;
        case 1:
            c = atom_compare(h, a, b);
            break;
        case 2:
        case 4:
            c = sign_of((int64_t)(imm_val(a) > imm_val(b)) - (int64_t)(imm_val(a) < imm_val(b)));
            break;
        case 3: {
            /* functions: by their function's index, then by their free
             * variables, as tuples compare */
            const func_t *fa = (const func_t *)(uintptr_t)box_ptr(a)[1];
            const func_t *fb = (const func_t *)(uintptr_t)box_ptr(b)[1];
            uint64_t na = hdr_words(box_ptr(a)[0]), nb = hdr_words(box_ptr(b)[0]);
            if (fa->index != fb->index) {
                c = fa->index < fb->index ? -1 : 1;
            } else if (na != nb) {
                c = na < nb ? -1 : 1;
            } else {
                for (uint64_t i = na; i-- > 2;) {
                    wstack_push(&st, box_ptr(a)[i]);
                    wstack_push(&st, box_ptr(b)[i]);
                }
            }
            break;
        }
        case 5: {
            uint64_t na = tuple_size(a), nb = tuple_size(b);
            if (na != nb) {
                c = na < nb ? -1 : 1;
                break;
            }
            /* pushed last to first, so the first elements decide first */
            for (uint64_t i = na; i-- > 0;) {
                wstack_push(&st, tuple_elems(a)[i]);
                wstack_push(&st, tuple_elems(b)[i]);
            }
            break;
        }
        case 6: {
            /* by size, then the keys in key order, then the values */
            uint64_t na = map_size(a), nb = map_size(b);
            if (na != nb) {
                c = na < nb ? -1 : 1;
                break;
            }
            term *ka = sorted_entries(h, a), *kb = sorted_entries(h, b);
            for (uint64_t i = 2 * na; i-- > 0;) {
                wstack_push(&st, ka[i]);
                wstack_push(&st, kb[i]);
            }
            free(ka);
            free(kb);
            break;
        }
        case 7:
            /* '() is the smallest list; else the heads, then the tails */
            if (is_nil(a) || is_nil(b)) {
                c = is_nil(a) ? -1 : 1;
                break;
            }
            wstack_push(&st, CDR(a));
            wstack_push(&st, CDR(b));
            wstack_push(&st, CAR(a));
            wstack_push(&st, CAR(b));
            break;
        case 8:
            c = bytes_compare(str_bytes(a), str_len(a), str_bytes(b), str_len(b));
            break;
        default:
            /* message nodes and other internal objects never reach here */
            c = sign_of((int64_t)(a > b) - (int64_t)(a < b));
            break;
        }
    }
    wstack_free(&st);
    return c;
}

/* --- hashing ------------------------------------------------------------- */

/* The canonical encoding: one tag byte per term, then its payload (8-byte
 * fields in host order, which is enough for a hash within one run). It
 * determines its own extent, so distinct terms encode differently, and
 * equal terms alike: a float is written after -0.0 becomes 0.0. A map
 * takes HT_MAP, its size and layout word, then its words: maps are
 * canonical (map.h), so equal maps encode alike whatever order their keys
 * were added in. */
enum { HT_INT = 1, HT_FLOAT, HT_ATOM, HT_PID, HT_REF, HT_NIL, HT_STRING, HT_TUPLE, HT_CONS,
       HT_FUN, HT_MAP };

typedef struct hbuf {
    uint8_t *p;
    size_t len, cap;
    uint8_t inline_p[256];
} hbuf_t;

static void hbuf_need(hbuf_t *b, size_t n)
{
    if (b->len + n <= b->cap)
        return;
    size_t cap = b->cap * 2;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *p = b->p == b->inline_p ? malloc(cap) : realloc(b->p, cap);
    if (!p)
        abort(); /* as wstack: a VM failure, contained by the supervisor */
    if (b->p == b->inline_p)
        memcpy(p, b->inline_p, b->len);
    b->p = p;
    b->cap = cap;
}

static void hbuf_tag_u64(hbuf_t *b, uint8_t tag, uint64_t v)
{
    hbuf_need(b, 9);
    b->p[b->len] = tag;
    memcpy(b->p + b->len + 1, &v, 8);
    b->len += 9;
}

static void hbuf_bytes(hbuf_t *b, const void *s, size_t n)
{
    hbuf_need(b, n);
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void encode_leaf(hbuf_t *b, term t, wstack_t *st)
{
    if (is_fix(t)) {
        hbuf_tag_u64(b, HT_INT, (uint64_t)fix_val(t));
        return;
    }
    if (is_cons(t)) {
        hbuf_need(b, 1);
        b->p[b->len++] = HT_CONS;
        wstack_push(st, CDR(t));
        wstack_push(st, CAR(t));
        return;
    }
    if (is_imm(t)) {
        static const uint8_t tags[] = {[SUB_NIL] = HT_NIL, [SUB_ATOM] = HT_ATOM,
                                       [SUB_PID] = HT_PID, [SUB_REF] = HT_REF};
        unsigned sub = imm_sub(t);
        hbuf_tag_u64(b, sub < 4 ? tags[sub] : HT_REF, imm_val(t));
        return;
    }
    term *p = box_ptr(t);
    uint64_t n = hdr_words(p[0]);
    switch (hdr_type(p[0])) {
    case BT_FLOAT: {
        double d = float_val(t);
        if (d == 0.0)
            d = 0.0; /* -0.0 = 0.0 */
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        hbuf_tag_u64(b, HT_FLOAT, bits);
        return;
    }
    case BT_STRING:
        hbuf_tag_u64(b, HT_STRING, str_len(t));
        hbuf_bytes(b, str_bytes(t), str_len(t));
        return;
    case BT_TUPLE:
        hbuf_tag_u64(b, HT_TUPLE, n - 1);
        for (uint64_t i = n; i-- > 1;)
            wstack_push(st, p[i]);
        return;
    case BT_CLOSURE:
        hbuf_tag_u64(b, HT_FUN, ((const func_t *)(uintptr_t)p[1])->index);
        for (uint64_t i = n; i-- > 2;)
            wstack_push(st, p[i]);
        return;
    case BT_MAP:
        /* canonical (map.h): its size, its layout word and the terms
         * after it are a function of its keys and values alone */
        hbuf_tag_u64(b, HT_MAP, n);
        hbuf_bytes(b, &p[1], sizeof p[1]);
        for (uint64_t i = n; i-- > 2;)
            wstack_push(st, p[i]);
        return;
    default:
        hbuf_tag_u64(b, HT_REF, (uint64_t)t); /* not a value of the language */
        return;
    }
}

uint64_t term_hash(term t, uint64_t seed)
{
    hbuf_t b;
    b.p = b.inline_p;
    b.len = 0;
    b.cap = sizeof b.inline_p;
    if (is_fix(t) || is_imm(t)) {
        encode_leaf(&b, t, NULL); /* pushes nothing */
        return XXH3_64bits_withSeed(b.p, b.len, seed);
    }
    wstack_t st;
    wstack_init(&st);
    wstack_push(&st, t);
    while (wstack_pop(&st, &t))
        encode_leaf(&b, t, &st);
    wstack_free(&st);
    uint64_t x = XXH3_64bits_withSeed(b.p, b.len, seed);
    if (b.p != b.inline_p)
        free(b.p);
    return x;
}
