/*
 * reader.c: the reader of the shoal language (LANGUAGE.md, "Reading").
 *
 * A small recursive-descent reader over bytes. Every form records the line
 * and column of its first character (both from 1), so the compiler can
 * point at the exact form that is wrong.
 *
 * Input is bytes from anywhere: a leading UTF-8 byte order mark is
 * skipped; a NUL or control byte, a name that is not UTF-8, and the
 * syntax of other Lisps or of printed values (#(1 2), [x], <17>) are
 * errors that say what to write instead. Nesting is bounded by MAX_DEPTH
 * and by the C stack left (shoal_stack_t), whichever comes first.
 */
#include "vmproc/reader.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nesting deeper than this is refused rather than overflowing the C stack. */
#define MAX_DEPTH 10000

struct reader_arena {
    struct reader_arena *next;
    size_t used, cap;
    char data[];
};

typedef struct rd {
    const char *file, *s;
    size_t len, pos;
    int line, col;
    reader_arena_t *arena;
    diag_t *err;
    int depth;
    shoal_stack_t stack;
} rd_t;

static void *arena_alloc(rd_t *r, size_t n)
{
    n = SHOAL_ALIGN_UP(n, 16);
    reader_arena_t *a = r->arena;
    if (!a || a->used + n > a->cap) {
        size_t cap = n > 65536 ? n : 65536;
        reader_arena_t *b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = a;
        b->used = 0;
        b->cap = cap;
        r->arena = a = b;
    }
    void *p = a->data + a->used;
    a->used += n;
    return p;
}

void reader_free(reader_arena_t *arena)
{
    while (arena) {
        reader_arena_t *n = arena->next;
        free(arena);
        arena = n;
    }
}

static int fail(rd_t *r, int line, int col, const char *fmt, ...)
{
    r->err->file = r->file;
    r->err->line = line;
    r->err->col = col;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err->msg, sizeof r->err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

static int peek(rd_t *r)
{
    return r->pos < r->len ? (unsigned char)r->s[r->pos] : -1;
}

static void advance(rd_t *r)
{
    if (r->s[r->pos] == '\n') {
        r->line++;
        r->col = 1;
    } else {
        r->col++;
    }
    r->pos++;
}

static bool space(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void skip_space(rd_t *r)
{
    for (;;) {
        int c = peek(r);
        if (c == ';') {
            while (peek(r) != -1 && peek(r) != '\n')
                advance(r);
        } else if (space(c)) {
            advance(r);
        } else {
            return;
        }
    }
}

/* A control byte that is not white space: never part of a token. */
static bool control(int c)
{
    return (c >= 0 && c < 0x20 && !space(c)) || c == 0x7f;
}

static bool delimiter(int c)
{
    return c == -1 || c == '(' || c == ')' || c == '"' || c == ';' || c == '\'' || space(c) ||
           control(c);
}

static ast_t *node(rd_t *r, ast_kind k, int line, int col)
{
    ast_t *a = arena_alloc(r, sizeof *a);
    if (!a)
        return NULL;
    memset(a, 0, sizeof *a);
    a->kind = k;
    a->line = line;
    a->col = col;
    a->file = r->file;
    return a;
}

static char *copy_str(rd_t *r, const char *s, size_t n)
{
    char *p = arena_alloc(r, n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static int read_form(rd_t *r, ast_t **out);

static int read_string(rd_t *r, ast_t **out)
{
    int line = r->line, col = r->col;
    advance(r); /* the opening quote */
    size_t cap = 64, n = 0;
    char *buf = malloc(cap);
    if (!buf)
        return fail(r, line, col, "out of memory");
    for (;;) {
        int c = peek(r);
        if (c == -1) {
            free(buf);
            return fail(r, line, col, "unterminated string");
        }
        if (c == '"') {
            advance(r);
            break;
        }
        if (c == 0) {
            free(buf);
            return fail(r, r->line, r->col, "a NUL byte (\\x00) in a string; is this a text file?");
        }
        if (c == '\\') {
            int el = r->line, ec = r->col;
            advance(r);
            int e = peek(r);
            switch (e) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case '\\': c = '\\'; break;
            case '"': c = '"'; break;
            case -1:
                free(buf);
                return fail(r, line, col, "unterminated string");
            case 0:
                free(buf);
                return fail(r, el, ec + 1, "a NUL byte (\\x00) in a string; is this a text file?");
            default:
                free(buf);
                return fail(r, el, ec,
                            "unknown escape \\%c in a string (the escapes are \\n \\t \\\\ \\\")", e);
            }
        }
        advance(r);
        if (n + 1 >= cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                return fail(r, line, col, "out of memory");
            }
            buf = b;
        }
        buf[n++] = (char)c;
    }
    ast_t *a = node(r, AST_STRING, line, col);
    if (a)
        a->u.str.s = copy_str(r, buf, n);
    free(buf);
    if (!a || !a->u.str.s)
        return fail(r, line, col, "out of memory");
    a->u.str.len = n;
    *out = a;
    return 0;
}

/* An integer or float literal, or NULL-kind: the text is a symbol. */
static int classify_number(const char *t, size_t n, bool *is_float)
{
    size_t i = 0;
    if (t[0] == '+' || t[0] == '-')
        i = 1;
    if (i >= n)
        return 0;
    size_t digits = 0, frac = 0;
    while (i < n && t[i] >= '0' && t[i] <= '9')
        i++, digits++;
    *is_float = false;
    if (i < n && t[i] == '.') {
        i++;
        while (i < n && t[i] >= '0' && t[i] <= '9')
            i++, frac++;
        if (digits == 0 || frac == 0)
            return digits > 0 ? -1 : 0;
        *is_float = true;
        if (i < n && (t[i] == 'e' || t[i] == 'E')) {
            i++;
            if (i < n && (t[i] == '+' || t[i] == '-'))
                i++;
            size_t ed = 0;
            while (i < n && t[i] >= '0' && t[i] <= '9')
                i++, ed++;
            if (ed == 0)
                return -1;
        }
    }
    if (digits == 0)
        return 0;
    return i == n ? 1 : -1;
}

/* .5 and -.5: numbers to the eye, names to classify_number. */
static bool bare_fraction(const char *t, size_t n)
{
    size_t i = t[0] == '+' || t[0] == '-' ? 1 : 0;
    return n > i + 1 && t[i] == '.' && t[i + 1] >= '0' && t[i + 1] <= '9';
}

/* Why the token t (n bytes), which starts like a number, is not one. */
static const char *number_hint(const char *t, size_t n)
{
    size_t i = t[0] == '+' || t[0] == '-' ? 1 : 0;
    if (n > i + 1 && t[i] == '0' && (t[i + 1] == 'x' || t[i + 1] == 'X' || t[i + 1] == 'b'))
        return "integers are written in decimal";
    if (t[i] == '.')
        return "a float needs a digit before the '.', as in 0.5";
    const char *dot = memchr(t, '.', n);
    if (!dot && (memchr(t, 'e', n) || memchr(t, 'E', n)))
        return "a float needs a '.', as in 1.0e5";
    if (dot && (dot + 1 == t + n || dot[1] < '0' || dot[1] > '9'))
        return "a float needs a digit after the '.', as in 1.0";
    return "expected an integer such as 42 or a float such as 1.5";
}

/* A token that starts with '#': the printed form of a value that has no
 * literal syntax, or another Lisp's syntax. Reported at the '#'. */
static int hash_token(rd_t *r, int line, int col)
{
    const char *t = r->s + r->pos;
    size_t left = r->len - r->pos;
    if (left > 1 && t[1] == '(') {
        /* #(1 2): show the call that makes it, when it is short */
        size_t depth = 0, i;
        for (i = 1; i < left && i < 72; i++) {
            if (t[i] == '\n' || t[i] == '"' || t[i] == ';')
                break;
            if (t[i] == '(')
                depth++;
            else if (t[i] == ')' && --depth == 0)
                break;
        }
        if (i < left && i < 72 && t[i] == ')' && depth == 0)
            return fail(r, line, col,
                        "#(...) is how a tuple prints, not syntax; write (tuple%s%.*s) to make one",
                        i > 2 ? " " : "", (int)(i - 2), t + 2);
        return fail(r, line, col,
                    "#(...) is how a tuple prints, not syntax; write (tuple a b ...) to make one");
    }
    if (left > 1 && t[1] == '{')
        return fail(r, line, col, "#{...} is how a map prints, not syntax");
    if (left > 4 && strncmp(t, "#ref<", 5) == 0)
        return fail(r, line, col, "#ref<...> is how a ref prints, not syntax; make a ref with (make-ref)");
    if (left > 4 && strncmp(t, "#fun<", 5) == 0)
        return fail(r, line, col,
                    "#fun<...> is how a function prints, not syntax; name a top-level function, "
                    "or write (fn (params) body)");
    if (left > 1 && t[1] == '\\')
        return fail(r, line, col,
                    "#\\ character literals are not shoal syntax; write a string, or the byte "
                    "as an integer");
    if (left > 1 && (t[1] == 't' || t[1] == 'f') &&
        (left == 2 || delimiter((unsigned char)t[2])))
        return fail(r, line, col, "#%c is not shoal syntax; write %s", t[1],
                    t[1] == 't' ? "true" : "false");
    return fail(r, line, col, "'#' starts nothing in shoal (#(...) is how a tuple prints)");
}

/* A token that cannot be a name: another Lisp's brackets or quasiquote,
 * the printed form of a pid, or bytes that are not UTF-8. */
static int check_name(rd_t *r, const char *t, size_t n, int line, int col)
{
    switch (t[0]) {
    case '[':
    case ']':
    case '{':
    case '}':
        return fail(r, line, col, "'%c' is not shoal syntax; lists and forms are written with ( )",
                    t[0]);
    case '`':
        return fail(r, line, col,
                    "quasiquote (`) is not shoal syntax; build the list with (list ...)");
    case ',':
        return fail(r, line, col, "',' is not shoal syntax; elements are separated by spaces");
    case '.':
        if (n == 1)
            return fail(r, line, col,
                        "'.' is not shoal syntax: there are no dotted pairs; (cons h t) makes a "
                        "cell");
        break;
    case '<':
        if (n > 2 && t[n - 1] == '>') {
            size_t i = 1;
            while (i < n - 1 && t[i] >= '0' && t[i] <= '9')
                i++;
            if (i == n - 1)
                return fail(r, line, col,
                            "%.*s is how a pid prints, not syntax; a pid comes from (self) or spawn",
                            (int)(n < 32 ? n : 32), t);
        }
        break;
    }
    for (size_t i = 0; i < n;) {
        size_t k = shoal_utf8_len((const unsigned char *)t + i, n - i);
        if (k == 0)
            return fail(r, line, col, "a name holds the byte \\x%02x, which is not UTF-8 text",
                        (unsigned char)t[i]);
        i += k;
    }
    return 0;
}

static int read_atom_text(rd_t *r, ast_t **out)
{
    int line = r->line, col = r->col;
    if (peek(r) == '#')
        return hash_token(r, line, col);
    size_t start = r->pos;
    while (!delimiter(peek(r)))
        advance(r);
    const char *t = r->s + start;
    size_t n = r->pos - start;
    bool fl;
    int num = classify_number(t, n, &fl);
    if (num == 0 && bare_fraction(t, n))
        num = -1;
    if (num < 0)
        return fail(r, line, col, "malformed number '%.*s' (%s)", (int)(n < 64 ? n : 64), t,
                    number_hint(t, n));
    if (num == 0 && check_name(r, t, n, line, col) < 0)
        return -1;
    if (num > 0) {
        char tmp[128];
        if (n >= sizeof tmp)
            return fail(r, line, col, "number literal too long");
        memcpy(tmp, t, n);
        tmp[n] = 0;
        ast_t *a = node(r, fl ? AST_FLOAT : AST_INT, line, col);
        if (!a)
            return fail(r, line, col, "out of memory");
        errno = 0;
        if (fl) {
            a->u.f = strtod(tmp, NULL);
            /* too large is an error; too small rounds to the nearest
             * double, as Erlang reads 5.0e-324 and 1.0e-400 (0.0) */
            if (errno == ERANGE && isinf(a->u.f))
                return fail(r, line, col, "float literal out of range");
        } else {
            long long v = strtoll(tmp, NULL, 10);
            /* 63-bit signed integers (LANGUAGE.md, "Values") */
            if (errno == ERANGE || v > 0x3fffffffffffffffll || v < -0x4000000000000000ll)
                return fail(r, line, col, "integer literal out of the 63-bit range");
            a->u.i = v;
        }
        *out = a;
        return 0;
    }
    ast_t *a = node(r, AST_SYMBOL, line, col);
    if (!a || !(a->u.str.s = copy_str(r, t, n)))
        return fail(r, line, col, "out of memory");
    a->u.str.len = n;
    *out = a;
    return 0;
}

static int read_list(rd_t *r, ast_t **out)
{
    int line = r->line, col = r->col;
    advance(r); /* ( */
    if (++r->depth > MAX_DEPTH)
        return fail(r, line, col, "forms nested more than %d deep", MAX_DEPTH);
    if (shoal_stack_low(&r->stack))
        return fail(r, line, col, "forms nested too deep to read (ulimit -s gives more stack)");
    size_t n = 0, cap = 8;
    ast_t **items = malloc(cap * sizeof *items);
    if (!items)
        return fail(r, line, col, "out of memory");
    for (;;) {
        skip_space(r);
        int c = peek(r);
        if (c == -1) {
            free(items);
            return fail(r, line, col, "unterminated list: '(' is never closed");
        }
        if (c == ')') {
            advance(r);
            break;
        }
        if (n == cap) {
            ast_t **b = realloc(items, (cap *= 2) * sizeof *items);
            if (!b) {
                free(items);
                return fail(r, line, col, "out of memory");
            }
            items = b;
        }
        if (read_form(r, &items[n]) < 0) {
            free(items);
            return -1;
        }
        n++;
    }
    r->depth--;
    ast_t *a = node(r, AST_LIST, line, col);
    ast_t **copy = n ? arena_alloc(r, n * sizeof *copy) : NULL;
    if (!a || (n && !copy)) {
        free(items);
        return fail(r, line, col, "out of memory");
    }
    if (n)
        memcpy(copy, items, n * sizeof *copy);
    free(items);
    a->u.list.items = copy;
    a->u.list.n = n;
    *out = a;
    return 0;
}

static int read_form(rd_t *r, ast_t **out)
{
    skip_space(r);
    int c = peek(r);
    int line = r->line, col = r->col;
    switch (c) {
    case -1:
        return fail(r, line, col, "unexpected end of input");
    case ')':
        return fail(r, line, col, "unexpected ')'");
    case '(':
        return read_list(r, out);
    case '"':
        return read_string(r, out);
    case '\'': {
        advance(r);
        skip_space(r);
        if (peek(r) == -1 || peek(r) == ')')
            return fail(r, line, col, "quote with nothing to quote");
        /* a quote of a quote nests as a list does, on the C stack */
        if (++r->depth > MAX_DEPTH)
            return fail(r, line, col, "forms nested more than %d deep", MAX_DEPTH);
        if (shoal_stack_low(&r->stack))
            return fail(r, line, col, "forms nested too deep to read (ulimit -s gives more stack)");
        ast_t *q = node(r, AST_SYMBOL, line, col);
        ast_t *l = node(r, AST_LIST, line, col);
        ast_t **items = arena_alloc(r, 2 * sizeof *items);
        if (!q || !l || !items)
            return fail(r, line, col, "out of memory");
        q->u.str.s = "quote";
        q->u.str.len = 5;
        items[0] = q;
        if (read_form(r, &items[1]) < 0)
            return -1;
        r->depth--;
        l->u.list.items = items;
        l->u.list.n = 2;
        *out = l;
        return 0;
    }
    case 0:
        return fail(r, line, col, "a NUL byte (\\x00) in the source; is this a text file?");
    default:
        if (control(c))
            return fail(r, line, col, "unexpected control byte \\x%02x in the source", c);
        return read_atom_text(r, out);
    }
}

int reader_read(const char *file, const char *src, size_t len, reader_arena_t **arena,
                ast_t ***forms, size_t *nforms, diag_t *err)
{
    rd_t r = {.file = file, .s = src, .len = len, .line = 1, .col = 1, .err = err};
    shoal_stack_start(&r.stack);
    /* A UTF-8 byte order mark, which some editors write first, is not
     * part of the program. */
    if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0)
        r.pos = 3;
    size_t n = 0, cap = 16;
    ast_t **v = malloc(cap * sizeof *v);
    if (!v)
        return fail(&r, 1, 1, "out of memory");
    for (;;) {
        skip_space(&r);
        if (peek(&r) == -1)
            break;
        if (n == cap) {
            ast_t **b = realloc(v, (cap *= 2) * sizeof *v);
            if (!b) {
                free(v);
                reader_free(r.arena);
                return fail(&r, r.line, r.col, "out of memory");
            }
            v = b;
        }
        if (read_form(&r, &v[n]) < 0) {
            free(v);
            reader_free(r.arena);
            return -1;
        }
        n++;
    }
    ast_t **copy = arena_alloc(&r, (n ? n : 1) * sizeof *copy);
    if (!copy) {
        free(v);
        reader_free(r.arena);
        return fail(&r, 1, 1, "out of memory");
    }
    memcpy(copy, v, n * sizeof *copy);
    free(v);
    *forms = copy;
    *nforms = n;
    *arena = r.arena;
    return 0;
}

bool ast_is_sym(const ast_t *a, const char *name)
{
    return a && a->kind == AST_SYMBOL && strcmp(a->u.str.s, name) == 0;
}
