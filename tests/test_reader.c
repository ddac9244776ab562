/*
 * test_reader.c: the reader (LANGUAGE.md, "Reading"): every kind of token
 * with its line and column, and every read error with its exact position.
 *
 * Lines and columns count from 1; a column is a byte offset in its line.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include "vmproc/reader.h"

#include <stdlib.h>
#include <string.h>

/* One read: the forms, or the error. */
typedef struct rd {
    reader_arena_t *arena;
    ast_t **forms;
    size_t n;
    diag_t d;
    int rc;
} rd_t;

static void rdn(rd_t *r, const char *src, size_t len)
{
    memset(r, 0, sizeof *r);
    r->rc = reader_read("t.shoal", src, len, &r->arena, &r->forms, &r->n, &r->d);
}

static void rd(rd_t *r, const char *src)
{
    rdn(r, src, strlen(src));
}

static void rd_free(rd_t *r)
{
    if (r->rc == 0)
        reader_free(r->arena);
    r->arena = NULL;
}

/* a is `kind` at line:col, read from t.shoal */
#define AT(a, k, l, c)                                                             \
    LH_CHECK((a) && (a)->kind == (k) && (a)->line == (l) && (a)->col == (c) &&     \
                 (a)->file && strcmp((a)->file, "t.shoal") == 0,                   \
             "%s: kind %d at %d:%d, want kind %d at %d:%d", #a, (a) ? (int)(a)->kind : -1, \
             (a) ? (a)->line : -1, (a) ? (a)->col : -1, (int)(k), (l), (c))

#define ITEM(a, i) ((a)->kind == AST_LIST && (a)->u.list.n > (i) ? (a)->u.list.items[i] : NULL)

/* `src` (len bytes) fails to read with a message containing `msg` at
 * line:col. */
static void read_error_n(const char *src, size_t len, int line, int col, const char *msg,
                         unsigned at)
{
    rd_t r;
    rdn(&r, src, len);
    lh_check(r.rc == -1, at, __FILE__, "[%s] read succeeded, want an error", src);
    lh_check(r.d.line == line && r.d.col == col, at, __FILE__,
             "[%s] error at %d:%d, want %d:%d (%s)", src, r.d.line, r.d.col, line, col, r.d.msg);
    lh_check(strstr(r.d.msg, msg) != NULL, at, __FILE__, "[%s] message \"%s\" lacks \"%s\"",
             src, r.d.msg, msg);
    lh_check(r.d.file && strcmp(r.d.file, "t.shoal") == 0, at, __FILE__,
             "[%s] error names file %s", src, r.d.file ? r.d.file : "(null)");
    rd_free(&r);
}
#define READ_ERROR(src, l, c, msg) read_error_n((src), strlen(src), (l), (c), (msg), __LINE__)
/* the same for a literal with NUL bytes in it */
#define READ_ERROR_N(lit, l, c, msg) read_error_n((lit), sizeof(lit) - 1, (l), (c), (msg), __LINE__)

/* ------------------------------------------------------------------ */

static void test_integers(void)
{
    rd_t r;
    rd(&r, "42 -7 +3\n  0 -0 007\n\t1234567");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 7);
    static const int64_t want[] = {42, -7, 3, 0, 0, 7, 1234567};
    static const int pos[][2] = {{1, 1}, {1, 4}, {1, 7}, {2, 3}, {2, 5}, {2, 8}, {3, 2}};
    for (size_t i = 0; i < 7; i++) {
        AT(r.forms[i], AST_INT, pos[i][0], pos[i][1]);
        LH_CHECK(r.forms[i]->u.i == want[i], "integer %zu is %lld, want %lld", i,
                 (long long)r.forms[i]->u.i, (long long)want[i]);
    }
    rd_free(&r);
}

/* 63-bit signed: -2^62 .. 2^62 - 1 read; one past either end is an error
 * at the literal, as is a literal past 64 bits. */
static void test_integer_range(void)
{
    rd_t r;
    rd(&r, "4611686018427387903 -4611686018427387904");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_EQUAL(r.forms[0]->u.i, INT64_C(4611686018427387903));
    CU_ASSERT_EQUAL(r.forms[1]->u.i, -INT64_C(4611686018427387904));
    AT(r.forms[1], AST_INT, 1, 21);
    rd_free(&r);

    READ_ERROR("(print\n   4611686018427387904)", 2, 4, "out of the 63-bit range");
    READ_ERROR("(x -4611686018427387905)", 1, 4, "out of the 63-bit range");
    READ_ERROR("  99999999999999999999", 1, 3, "out of the 63-bit range");
    READ_ERROR("-99999999999999999999", 1, 1, "out of the 63-bit range");
}

static void test_floats(void)
{
    rd_t r;
    rd(&r, "1.5 -0.25 2.0\n+0.5 1.0e21 1.5e-7 3.25E2 0.1");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 8);
    static const double want[] = {1.5, -0.25, 2.0, 0.5, 1.0e21, 1.5e-7, 325.0, 0.1};
    static const int pos[][2] = {{1, 1}, {1, 5}, {1, 11}, {2, 1},
                                 {2, 6}, {2, 13}, {2, 20}, {2, 27}};
    for (size_t i = 0; i < 8; i++) {
        AT(r.forms[i], AST_FLOAT, pos[i][0], pos[i][1]);
        LH_CHECK(r.forms[i]->u.f == want[i], "float %zu is %.17g, want %.17g", i,
                 r.forms[i]->u.f, want[i]);
    }
    rd_free(&r);
    /* A float is not an integer even when its value is whole. */
    rd(&r, "2.0 2");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.forms[0]->kind, AST_FLOAT);
    CU_ASSERT_EQUAL(r.forms[1]->kind, AST_INT);
    rd_free(&r);
    /* Too small rounds to the nearest double, a denormal or zero, as
     * Erlang reads them; too large is an error (test_malformed_numbers). */
    rd(&r, "5.0e-324 1.0e-400 -2.5e-320");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT(r.forms[0]->kind == AST_FLOAT && r.forms[0]->u.f == 5.0e-324);
    CU_ASSERT(r.forms[1]->kind == AST_FLOAT && r.forms[1]->u.f == 0.0);
    CU_ASSERT(r.forms[2]->kind == AST_FLOAT && r.forms[2]->u.f == -2.5e-320);
    rd_free(&r);
}

static void test_malformed_numbers(void)
{
    READ_ERROR("(a 1.)", 1, 4, "malformed number");
    READ_ERROR("\n 12abc", 2, 2, "malformed number");
    READ_ERROR("1.5e", 1, 1, "malformed number");
    READ_ERROR("(x 1.2.3)", 1, 4, "malformed number");
    READ_ERROR("1.0e999", 1, 1, "out of range");
    /* each says what a number looks like */
    READ_ERROR("(a 1e5)", 1, 4, "malformed number '1e5' (a float needs a '.', as in 1.0e5)");
    READ_ERROR("0x1f", 1, 1, "malformed number '0x1f' (integers are written in decimal)");
    READ_ERROR("5.", 1, 1, "'5.' (a float needs a digit after the '.', as in 1.0)");
    READ_ERROR(" .5", 1, 2, "'.5' (a float needs a digit before the '.', as in 0.5)");
    READ_ERROR("-.5", 1, 1, "'-.5' (a float needs a digit before the '.'");
    READ_ERROR("12abc", 1, 1, "'12abc' (expected an integer such as 42 or a float such as 1.5)");
}

static void test_strings(void)
{
    rd_t r;
    rd(&r, "\"text\" \"\"\n  \"a\\nb\\tc\\\\d\\\"e\" \"semi;colon\"");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 4);
    AT(r.forms[0], AST_STRING, 1, 1);
    AT(r.forms[1], AST_STRING, 1, 8);
    AT(r.forms[2], AST_STRING, 2, 3);
    AT(r.forms[3], AST_STRING, 2, 19);
    CU_ASSERT_EQUAL(r.forms[0]->u.str.len, 4);
    CU_ASSERT_STRING_EQUAL(r.forms[0]->u.str.s, "text");
    CU_ASSERT_EQUAL(r.forms[1]->u.str.len, 0);
    CU_ASSERT_STRING_EQUAL(r.forms[1]->u.str.s, "");
    /* each escape is one byte */
    CU_ASSERT_EQUAL(r.forms[2]->u.str.len, 9);
    CU_ASSERT_EQUAL(memcmp(r.forms[2]->u.str.s, "a\nb\tc\\d\"e", 9), 0);
    /* ';' inside a string is not a comment */
    CU_ASSERT_STRING_EQUAL(r.forms[3]->u.str.s, "semi;colon");
    rd_free(&r);
}

/* A newline inside a string counts: the next form is on the next line. */
static void test_string_spans_lines(void)
{
    rd_t r;
    rd(&r, "\"ab\ncd\" x");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    CU_ASSERT_EQUAL(r.forms[0]->u.str.len, 5);
    AT(r.forms[1], AST_SYMBOL, 2, 5);
    rd_free(&r);
}

static void test_string_errors(void)
{
    /* the position is the opening quote */
    READ_ERROR("(print \"abc)", 1, 8, "unterminated string");
    READ_ERROR("(a\n  \"x\ny", 2, 3, "unterminated string");
    READ_ERROR("\"ends in a backslash\\", 1, 1, "unterminated string");
    /* an unknown escape is reported at its backslash */
    READ_ERROR("(f \"ok \\q\")", 1, 8, "unknown escape \\q");
    READ_ERROR("\"\\n\n \\x\"", 2, 2, "unknown escape \\x");
    READ_ERROR("\"\\r\"", 1, 2, "unknown escape \\r in a string (the escapes are \\n \\t \\\\ \\\")");
}

/* Bytes that have no place in source: a NUL (a binary file, not "a
 * malformed number"), other control bytes, names that are not UTF-8. */
static void test_bad_bytes(void)
{
    READ_ERROR_N("(print 1\0)", 1, 9, "a NUL byte (\\x00) in the source");
    READ_ERROR_N("\0", 1, 1, "a NUL byte (\\x00) in the source");
    READ_ERROR_N("(f\n \"a\0b\")", 2, 4, "a NUL byte (\\x00) in a string");
    READ_ERROR("(a \x01)", 1, 4, "unexpected control byte \\x01");
    READ_ERROR("(a\x7f)", 1, 3, "unexpected control byte \\x7f");
    READ_ERROR("(print \xff\xfe)", 1, 8, "a name holds the byte \\xff, which is not UTF-8");
    READ_ERROR("(print ab\xc3)", 1, 8, "the byte \\xc3, which is not UTF-8");
    READ_ERROR("(print \xc0\x80)", 1, 8, "the byte \\xc0"); /* overlong NUL */
    /* a NUL in a comment is harmless */
    rd_t r;
    rdn(&r, "; a\0b\nx", 7);
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.n, 1);
    rd_free(&r);
    /* UTF-8 names and strings read */
    rd(&r, "caf\xc3\xa9 \"\xe2\x82\xac\" \xf0\x9f\x90\x9f");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 3);
    CU_ASSERT_STRING_EQUAL(r.forms[0]->u.str.s, "caf\xc3\xa9");
    CU_ASSERT_EQUAL(r.forms[1]->u.str.len, 3);
    AT(r.forms[2], AST_SYMBOL, 1, 13);
    rd_free(&r);
}

/* A UTF-8 byte order mark at the start of a file is skipped (columns
 * count from the first form); anywhere else it is a character. */
static void test_byte_order_mark(void)
{
    rd_t r;
    rd(&r, "\xef\xbb\xbf(defn main () 1)\n(x)");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 2);
    AT(r.forms[0], AST_LIST, 1, 1);
    AT(r.forms[1], AST_LIST, 2, 1);
    rd_free(&r);
    rd(&r, "\xef\xbb\xbf");
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.n, 0);
    rd_free(&r);
    READ_ERROR("\xef\xbb\xbf)", 1, 1, "unexpected ')'");
}

/* What a newcomer writes from another Lisp, or copies from shoal's own
 * output: each says what to write instead, at the offending token. */
static void test_foreign_syntax(void)
{
    READ_ERROR("(print #(1 2))", 1, 8,
               "#(...) is how a tuple prints, not syntax; write (tuple 1 2) to make one");
    READ_ERROR("#(a (b c) \"s\")", 1, 1, "write (tuple a b ...) to make one");
    READ_ERROR("#()", 1, 1, "write (tuple) to make one");
    READ_ERROR("(x #{a 1})", 1, 4, "#{...} is how a map prints, not syntax");
    READ_ERROR("#ref<5>", 1, 1, "#ref<...> is how a ref prints");
    READ_ERROR("#fun<f/1>", 1, 1, "#fun<...> is how a function prints");
    READ_ERROR("(if #t 1 2)", 1, 5, "#t is not shoal syntax; write true");
    READ_ERROR("#f", 1, 1, "#f is not shoal syntax; write false");
    READ_ERROR("#\\a", 1, 1, "character literals are not shoal syntax");
    READ_ERROR("#x", 1, 1, "'#' starts nothing in shoal");
    READ_ERROR("(let [x 1] x)", 1, 6, "'[' is not shoal syntax; lists and forms are written with ( )");
    READ_ERROR("(a {b})", 1, 4, "'{' is not shoal syntax");
    READ_ERROR("`(a b)", 1, 1, "quasiquote (`) is not shoal syntax");
    READ_ERROR("(a ,b)", 1, 4, "',' is not shoal syntax");
    READ_ERROR("(1 . 2)", 1, 4, "'.' is not shoal syntax: there are no dotted pairs");
    READ_ERROR("(send <17> 'hi)", 1, 7, "<17> is how a pid prints, not syntax");
    /* names that only look alike still read */
    rd_t r;
    rd(&r, "<= <x> a[0] a,b #");
    CU_ASSERT_EQUAL(r.rc, -1); /* the lone # */
    rd_free(&r);
    rd(&r, "<= <x> a[0] a,b");
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.n, 4);
    rd_free(&r);
}

static void test_symbols(void)
{
    static const char *const names[] = {"foo", "worker-loop", "<=", "null?", "+",
                                        "-", "/=", "string->int", "*", "a1", "-x", "_"};
    const size_t n = sizeof names / sizeof names[0];
    char src[256] = "";
    int cols[16], col = 1;
    for (size_t i = 0; i < n; i++) {
        cols[i] = col;
        strcat(src, names[i]);
        strcat(src, " ");
        col += (int)strlen(names[i]) + 1;
    }
    rd_t r;
    rd(&r, src);
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, n);
    for (size_t i = 0; i < n; i++) {
        AT(r.forms[i], AST_SYMBOL, 1, cols[i]);
        LH_CHECK(strcmp(r.forms[i]->u.str.s, names[i]) == 0 &&
                     r.forms[i]->u.str.len == strlen(names[i]),
                 "symbol %zu is \"%s\", want \"%s\"", i, r.forms[i]->u.str.s, names[i]);
    }
    rd_free(&r);
    /* A symbol ends at a delimiter: parentheses, quotes, ';', blanks. */
    rd(&r, "(a(b)c\"s\"d;x\ne'f)");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    const ast_t *l = r.forms[0];
    CU_ASSERT_EQUAL_FATAL(l->u.list.n, 7);
    AT(ITEM(l, 0), AST_SYMBOL, 1, 2);
    AT(ITEM(l, 1), AST_LIST, 1, 3);
    AT(ITEM(l, 2), AST_SYMBOL, 1, 6);
    AT(ITEM(l, 3), AST_STRING, 1, 7);
    AT(ITEM(l, 4), AST_SYMBOL, 1, 10);
    AT(ITEM(l, 5), AST_SYMBOL, 2, 1);
    AT(ITEM(l, 6), AST_LIST, 2, 2);
    CU_ASSERT_STRING_EQUAL(ITEM(l, 4)->u.str.s, "d");
    CU_ASSERT_STRING_EQUAL(ITEM(l, 5)->u.str.s, "e");
    rd_free(&r);
}

/* 'x reads as (quote x); the list and the quote symbol are at the '. */
static void test_quote(void)
{
    rd_t r;
    rd(&r, "'ok\n ' (1 2) ''x '()");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 4);
    const ast_t *q = r.forms[0];
    AT(q, AST_LIST, 1, 1);
    CU_ASSERT_EQUAL_FATAL(q->u.list.n, 2);
    CU_ASSERT(ast_is_sym(ITEM(q, 0), "quote"));
    AT(ITEM(q, 0), AST_SYMBOL, 1, 1);
    CU_ASSERT(ast_is_sym(ITEM(q, 1), "ok"));
    AT(ITEM(q, 1), AST_SYMBOL, 1, 2);

    q = r.forms[1]; /* blanks between the quote and the form are allowed */
    AT(q, AST_LIST, 2, 2);
    CU_ASSERT_EQUAL_FATAL(q->u.list.n, 2);
    AT(ITEM(q, 1), AST_LIST, 2, 4);
    CU_ASSERT_EQUAL(ITEM(q, 1)->u.list.n, 2);
    CU_ASSERT_EQUAL(ITEM(ITEM(q, 1), 1)->u.i, 2);

    q = r.forms[2]; /* ''x is (quote (quote x)) */
    AT(q, AST_LIST, 2, 10);
    CU_ASSERT(ast_is_sym(ITEM(q, 0), "quote"));
    AT(ITEM(q, 1), AST_LIST, 2, 11);
    CU_ASSERT(ast_is_sym(ITEM(ITEM(q, 1), 0), "quote"));
    CU_ASSERT(ast_is_sym(ITEM(ITEM(q, 1), 1), "x"));

    q = r.forms[3]; /* '() is (quote ()) */
    AT(q, AST_LIST, 2, 14);
    AT(ITEM(q, 1), AST_LIST, 2, 15);
    CU_ASSERT_EQUAL(ITEM(q, 1)->u.list.n, 0);
    rd_free(&r);
}

static void test_nested_lists(void)
{
    rd_t r;
    rd(&r, "(defn f (x)\n  (g (h x) ()))");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    const ast_t *d = r.forms[0];
    AT(d, AST_LIST, 1, 1);
    CU_ASSERT_EQUAL_FATAL(d->u.list.n, 4);
    AT(ITEM(d, 0), AST_SYMBOL, 1, 2);
    AT(ITEM(d, 1), AST_SYMBOL, 1, 7);
    AT(ITEM(d, 2), AST_LIST, 1, 9);
    AT(ITEM(ITEM(d, 2), 0), AST_SYMBOL, 1, 10);
    const ast_t *body = ITEM(d, 3);
    AT(body, AST_LIST, 2, 3);
    CU_ASSERT_EQUAL_FATAL(body->u.list.n, 3);
    AT(ITEM(body, 0), AST_SYMBOL, 2, 4);
    AT(ITEM(body, 1), AST_LIST, 2, 6);
    AT(ITEM(ITEM(body, 1), 1), AST_SYMBOL, 2, 9);
    AT(ITEM(body, 2), AST_LIST, 2, 12);
    CU_ASSERT_EQUAL(ITEM(body, 2)->u.list.n, 0);
    rd_free(&r);

    /* Deep but sane nesting reads; absurd nesting is an error, not a crash. */
    enum { DEEP = 1000, ABSURD = 20000 };
    char *s = malloc(2 * ABSURD + 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    memset(s, '(', DEEP);
    memset(s + DEEP, ')', DEEP);
    s[2 * DEEP] = 0;
    rd(&r, s);
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.n, 1);
    rd_free(&r);
    memset(s, '(', ABSURD);
    memset(s + ABSURD, ')', ABSURD);
    s[2 * ABSURD] = 0;
    rd(&r, s);
    CU_ASSERT_EQUAL(r.rc, -1);
    CU_ASSERT_EQUAL(r.d.line, 1);
    CU_ASSERT(r.d.col > DEEP && r.d.col <= ABSURD);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.d.msg, "nested"));
    rd_free(&r);
    /* quotes of quotes nest too: a run of quotes is an error, not a stack overflow */
    memset(s, '\'', ABSURD);
    s[ABSURD] = 'x';
    s[ABSURD + 1] = 0;
    rd(&r, s);
    CU_ASSERT_EQUAL(r.rc, -1);
    CU_ASSERT(r.d.col > DEEP && r.d.col <= ABSURD);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.d.msg, "nested more than"));
    rd_free(&r);
    memset(s, '\'', DEEP);
    s[DEEP] = 'x';
    s[DEEP + 1] = 0;
    rd(&r, s);
    CU_ASSERT_EQUAL(r.rc, 0);
    rd_free(&r);
    free(s);
}

static void test_comments(void)
{
    rd_t r;
    rd(&r, "; a comment line\n(a ; to the end of the line )\n b) ; after\n;; last, no newline");
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, 1);
    const ast_t *l = r.forms[0];
    AT(l, AST_LIST, 2, 1);
    CU_ASSERT_EQUAL_FATAL(l->u.list.n, 2);
    AT(ITEM(l, 0), AST_SYMBOL, 2, 2);
    AT(ITEM(l, 1), AST_SYMBOL, 3, 2);
    rd_free(&r);
    /* A source of only comments and blanks has no forms. */
    rd(&r, "  ; nothing\n\n;here\n");
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.n, 0);
    rd_free(&r);
    rd(&r, "");
    CU_ASSERT_EQUAL(r.rc, 0);
    CU_ASSERT_EQUAL(r.n, 0);
    rd_free(&r);
}

/* An unterminated list is reported at the '(' that is never closed. */
static void test_unterminated_list(void)
{
    READ_ERROR("(defn main ()\n  (print 1)", 1, 1, "unterminated list");
    READ_ERROR("(a)\n\n   (b c ; comment", 3, 4, "unterminated list");
    /* the innermost open list is the one reported */
    READ_ERROR("(a (b c", 1, 4, "unterminated list");
}

static void test_unexpected_paren(void)
{
    READ_ERROR(")", 1, 1, "unexpected ')'");
    READ_ERROR("(a))", 1, 4, "unexpected ')'");
    READ_ERROR("(defn main () 1)\n\n  )", 3, 3, "unexpected ')'");
}

static void test_quote_nothing(void)
{
    READ_ERROR("'", 1, 1, "quote with nothing to quote");
    READ_ERROR("(a ')", 1, 4, "quote with nothing to quote");
    READ_ERROR("(a\n  '   ; comment\n)", 2, 3, "quote with nothing to quote");
    READ_ERROR("x '\n", 1, 3, "quote with nothing to quote");
}

/* Many forms: the form vector and the arena grow without losing any. */
static void test_many_forms(void)
{
    enum { N = 20000 };
    char *s = malloc(N * 16);
    CU_ASSERT_PTR_NOT_NULL_FATAL(s);
    size_t k = 0;
    for (int i = 0; i < N; i++)
        k += (size_t)sprintf(s + k, "(x %d)\n", i);
    rd_t r;
    rd(&r, s);
    CU_ASSERT_EQUAL_FATAL(r.rc, 0);
    CU_ASSERT_EQUAL_FATAL(r.n, N);
    int bad = 0;
    for (int i = 0; i < N; i++) {
        const ast_t *f = r.forms[i];
        bad += f->kind != AST_LIST || f->line != i + 1 || f->col != 1 || f->u.list.n != 2 ||
               ITEM(f, 1)->u.i != i;
    }
    CU_ASSERT_EQUAL(bad, 0);
    rd_free(&r);
    free(s);
}

static CU_TestInfo reader_tests[] = {
    {"integers with sign, values and positions", test_integers},
    {"integers: 63-bit range, out-of-range literal errors", test_integer_range},
    {"floats: values and positions", test_floats},
    {"malformed numbers are errors at the literal", test_malformed_numbers},
    {"strings and the escapes \\n \\t \\\\ \\\"", test_strings},
    {"a newline inside a string advances the line", test_string_spans_lines},
    {"string errors: unterminated, unknown escape", test_string_errors},
    {"NUL and control bytes, names that are not UTF-8", test_bad_bytes},
    {"a UTF-8 byte order mark at the start is skipped", test_byte_order_mark},
    {"other Lisps' syntax and printed forms say what to write", test_foreign_syntax},
    {"symbols with punctuation, delimiters end them", test_symbols},
    {"'x reads as (quote x)", test_quote},
    {"nested lists with positions; nesting limit", test_nested_lists},
    {"comments run to the end of the line", test_comments},
    {"unterminated list at its '('", test_unterminated_list},
    {"unexpected ')' at its position", test_unexpected_paren},
    {"quote with nothing to quote", test_quote_nothing},
    {"20,000 forms keep their order and lines", test_many_forms},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(reader, reader_tests, NULL, NULL)
