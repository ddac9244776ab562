/*
 * bif_string.c: string builtins (LANGUAGE.md, "Builtins", Strings).
 */
#include "vmproc/bif.h"

#include "shm/atom.h"
#include "vmproc/compiler.h"
#include "vmproc/termio.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The printed forms of args, strings unquoted, into b; `spaces` puts a
 * space between them (print), else none (str). */
void bif_print_args(rt_t *rt, term *args, uint32_t argc, bool spaces, sbuf_t *b)
{
    for (uint32_t i = 0; i < argc; i++) {
        if (spaces && i)
            sbuf_put(b, " ", 1);
        term_print(rt->h, b, args[i], true);
    }
}

BIF(bif_str)
{
    char mem[256];
    sbuf_t b;
    sbuf_lend(&b, mem, sizeof mem);
    bif_print_args(rt, args, argc, false, &b);
    if (b.oom || !bif_room(rt, pcb, str_words(b.len))) {
        sbuf_free(&b);
        return T_NONE;
    }
    term s = bif_mk_string(proc_of(pcb), b.s, b.len);
    sbuf_free(&b);
    return s;
}

BIF(bif_string_length)
{
    return is_string(args[0]) ? mk_fix((int64_t)str_len(args[0]))
                              : bif_error(proc_of(pcb), A_BADARG);
}

BIF(bif_string_to_int)
{
    proc_t *p = proc_of(pcb);
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

/* A float literal as Erlang's list_to_float takes it: [sign] digits '.'
 * digits [e [sign] digits]. */
static bool float_syntax(const char *s, uint64_t n)
{
    uint64_t i = 0;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        i++;
    uint64_t d0 = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == d0 || i == n || s[i] != '.')
        return false;
    uint64_t f0 = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i == f0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '-' || s[i] == '+'))
            i++;
        uint64_t e0 = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == e0)
            return false;
    }
    return i == n;
}

BIF(bif_string_to_float)
{
    proc_t *p = proc_of(pcb);
    if (!is_string(args[0]) || !float_syntax(str_bytes(args[0]), str_len(args[0])))
        return bif_error(p, A_BADARG);
    /* the bytes are NUL-padded (term.h): strtod stops at the end */
    double d = strtod(str_bytes(args[0]), NULL);
    if (!isfinite(d))
        return bif_error(p, A_BADARG);
    if (!bif_room(rt, pcb, 2))
        return T_NONE;
    return bif_mk_float(p, d);
}

/* A byte position within string s: 0 ... length. */
static bool position(term t, term s, int64_t *out)
{
    if (!is_fix(t) || fix_val(t) < 0 || (uint64_t)fix_val(t) > str_len(s))
        return false;
    *out = fix_val(t);
    return true;
}

BIF(bif_substring)
{
    proc_t *p = proc_of(pcb);
    int64_t a, b;
    if (!is_string(args[0]) || !position(args[1], args[0], &a) || !position(args[2], args[0], &b) ||
        a > b)
        return bif_error(p, A_BADARG);
    if (!bif_room(rt, pcb, str_words((uint64_t)(b - a))))
        return T_NONE;
    bif_charge(rt, (uint64_t)(b - a) / 8);
    return bif_mk_string(p, str_bytes(args[0]) + a, (size_t)(b - a));
}

/* The first position of needle in hay, or -1. */
static int64_t find(const char *hay, uint64_t hn, const char *needle, uint64_t nn)
{
    const char *at = memmem(hay, hn, needle, nn);
    return at ? at - hay : -1;
}

BIF(bif_string_index)
{
    if (!is_string(args[0]) || !is_string(args[1]))
        return bif_error(proc_of(pcb), A_BADARG);
    int64_t i = find(str_bytes(args[0]), str_len(args[0]), str_bytes(args[1]), str_len(args[1]));
    bif_charge(rt, str_len(args[0]) / 8);
    return i < 0 ? mk_atom(A_FALSE) : mk_fix(i);
}

BIF(bif_string_split)
{
    proc_t *p = proc_of(pcb);
    if (!is_string(args[0]) || !is_string(args[1]) || str_len(args[1]) == 0)
        return bif_error(p, A_BADARG);
    /* count the pieces and their words first; then build from the end */
    uint64_t n = str_len(args[0]), sn = str_len(args[1]), pieces = 0, words = 0;
    for (uint64_t at = 0;;) {
        int64_t k = find(str_bytes(args[0]) + at, n - at, str_bytes(args[1]), sn);
        uint64_t end = k < 0 ? n : at + (uint64_t)k;
        pieces++;
        words += str_words(end - at) + 2;
        if (k < 0)
            break;
        at = end + sn;
    }
    if (!bif_room(rt, pcb, words))
        return T_NONE;
    term head = T_NIL, *link = &head;
    for (uint64_t at = 0, i = 0; i < pieces; i++) {
        const char *s = str_bytes(args[0]);
        int64_t k = find(s + at, n - at, str_bytes(args[1]), sn);
        uint64_t end = k < 0 ? n : at + (uint64_t)k;
        term piece = bif_mk_string(p, s + at, end - at);
        term *c = heap_take(p, 2);
        c[0] = piece;
        *link = mk_cons_ptr(c);
        link = &c[1];
        at = end + sn;
    }
    *link = T_NIL;
    bif_charge(rt, n / 8 + pieces);
    return head;
}

BIF(bif_string_join)
{
    proc_t *p = proc_of(pcb);
    if (!is_string(args[1]))
        return bif_error(p, A_BADARG);
    uint64_t bytes = 0, count = 0;
    term l = args[0];
    for (; is_cons(l); l = CDR(l), count++) {
        if (!is_string(CAR(l)))
            return bif_error(p, A_BADARG);
        bytes += str_len(CAR(l));
    }
    if (l != T_NIL)
        return bif_error(p, A_BADARG);
    if (count > 1)
        bytes += (count - 1) * str_len(args[1]);
    if (!bif_room(rt, pcb, str_words(bytes)))
        return T_NONE;
    term *b = heap_take(p, str_words(bytes));
    b[str_words(bytes) - 1] = 0;
    b[0] = mk_hdr(str_words(bytes), BT_STRING);
    b[1] = bytes;
    char *out = (char *)&b[2];
    bool first = true;
    for (l = args[0]; is_cons(l); l = CDR(l)) {
        if (!first) {
            memcpy(out, str_bytes(args[1]), str_len(args[1]));
            out += str_len(args[1]);
        }
        first = false;
        memcpy(out, str_bytes(CAR(l)), str_len(CAR(l)));
        out += str_len(CAR(l));
    }
    bif_charge(rt, bytes / 8 + count);
    return mk_box(b);
}

BIF(bif_string_to_list)
{
    proc_t *p = proc_of(pcb);
    if (!is_string(args[0]))
        return bif_error(p, A_BADARG);
    uint64_t n = str_len(args[0]);
    if (!bif_room(rt, pcb, 2 * n))
        return T_NONE;
    term l = T_NIL;
    const unsigned char *s = (const unsigned char *)str_bytes(args[0]);
    for (uint64_t i = n; i-- > 0;) {
        term *c = heap_take(p, 2);
        c[0] = mk_fix(s[i]);
        c[1] = l;
        l = mk_cons_ptr(c);
    }
    bif_charge(rt, n);
    return l;
}

BIF(bif_list_to_string)
{
    proc_t *p = proc_of(pcb);
    uint64_t n = 0;
    term l = args[0];
    for (; is_cons(l); l = CDR(l), n++)
        if (!is_fix(CAR(l)) || fix_val(CAR(l)) < 0 || fix_val(CAR(l)) > 255)
            return bif_error(p, A_BADARG);
    if (l != T_NIL)
        return bif_error(p, A_BADARG);
    if (!bif_room(rt, pcb, str_words(n)))
        return T_NONE;
    term *b = heap_take(p, str_words(n));
    b[str_words(n) - 1] = 0;
    b[0] = mk_hdr(str_words(n), BT_STRING);
    b[1] = n;
    char *out = (char *)&b[2];
    for (l = args[0]; is_cons(l); l = CDR(l))
        *out++ = (char)fix_val(CAR(l));
    bif_charge(rt, n);
    return mk_box(b);
}

BIF(bif_atom_to_string)
{
    proc_t *p = proc_of(pcb);
    if (!is_atom(args[0]))
        return bif_error(p, A_BADARG);
    size_t len;
    atom_name(rt->h, atom_index(args[0]), &len);
    if (!bif_room(rt, pcb, str_words(len)))
        return T_NONE;
    const char *name = atom_name(rt->h, atom_index(args[0]), &len);
    return bif_mk_string(p, name, len);
}

/* The longest atom name, as in Erlang: a longer one is system_limit. */
#define ATOM_NAME_MAX 255

BIF(bif_string_to_atom)
{
    proc_t *p = proc_of(pcb);
    if (!is_string(args[0]))
        return bif_error(p, A_BADARG);
    if (str_len(args[0]) > ATOM_NAME_MAX)
        return bif_error(p, A_SYSTEM_LIMIT);
    int64_t a = atom_intern(rt->h, str_bytes(args[0]), str_len(args[0]));
    /* a full atom table fails the caller, not the VM */
    return a < 0 ? bif_error(p, A_SYSTEM_LIMIT) : mk_atom((uint32_t)a);
}
