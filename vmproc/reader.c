/*
 * reader.c: the reader of the shoal language (LANGUAGE.md, "Reading").
 *
 * A small recursive-descent reader over bytes. Every form records the line
 * and column of its first character (both from 1), so the compiler can
 * point at the exact form that is wrong.
 */
#include "vmproc/reader.h"

#include <errno.h>
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

static void skip_space(rd_t *r)
{
    for (;;) {
        int c = peek(r);
        if (c == ';') {
            while (peek(r) != -1 && peek(r) != '\n')
                advance(r);
        } else if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
            advance(r);
        } else {
            return;
        }
    }
}

static bool delimiter(int c)
{
    return c == -1 || c == '(' || c == ')' || c == '"' || c == ';' || c == '\'' || c == ' ' ||
           c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
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
            default:
                free(buf);
                return fail(r, el, ec, "unknown escape \\%c in string", e);
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

static int read_atom_text(rd_t *r, ast_t **out)
{
    int line = r->line, col = r->col;
    size_t start = r->pos;
    while (!delimiter(peek(r)))
        advance(r);
    const char *t = r->s + start;
    size_t n = r->pos - start;
    bool fl;
    int num = classify_number(t, n, &fl);
    if (num < 0)
        return fail(r, line, col, "malformed number '%.*s'", (int)n, t);
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
            if (errno == ERANGE)
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
        return fail(r, line, col, "lists nested more than %d deep", MAX_DEPTH);
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
        l->u.list.items = items;
        l->u.list.n = 2;
        *out = l;
        return 0;
    }
    default:
        return read_atom_text(r, out);
    }
}

int reader_read(const char *file, const char *src, size_t len, reader_arena_t **arena,
                ast_t ***forms, size_t *nforms, diag_t *err)
{
    rd_t r = {.file = file, .s = src, .len = len, .line = 1, .col = 1, .err = err};
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
