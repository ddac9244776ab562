/*
 * fuzz_reader.c: the reader on arbitrary bytes.
 *
 * reader_read must return either forms or an error with a position and a
 * message, for any input: garbage, NUL bytes, invalid UTF-8, deep
 * nesting, huge literals. The forms it returns are walked, so that
 * AddressSanitizer sees every node, and checked for what the compiler
 * relies on: positions from 1, strings and symbols NUL-terminated at
 * their length, lists with their items.
 */
#include "tests/fuzz/fuzz.h"

#include "vmproc/reader.h"

#include <string.h>

static const char FILE_NAME[] = "fuzz.shoal";

static void walk(const ast_t *a, size_t depth)
{
    FUZZ_CHECK(a != NULL, "a form is NULL");
    FUZZ_CHECK(a->line >= 1 && a->col >= 1, "a form without a position");
    FUZZ_CHECK(a->file == FILE_NAME, "a form without its file");
    FUZZ_CHECK(depth <= 2 * 10000 + 2, "forms nested past the reader's bound");
    switch (a->kind) {
    case AST_INT:
    case AST_FLOAT:
        break;
    case AST_STRING:
    case AST_SYMBOL:
        FUZZ_CHECK(a->u.str.s != NULL, "a name or string without text");
        FUZZ_CHECK(strlen(a->u.str.s) == a->u.str.len, "a text not NUL-terminated at its length");
        FUZZ_CHECK(a->kind == AST_STRING || a->u.str.len > 0, "an empty symbol");
        break;
    case AST_LIST:
        FUZZ_CHECK(a->u.list.n == 0 || a->u.list.items != NULL, "a list without its items");
        for (size_t i = 0; i < a->u.list.n; i++)
            walk(a->u.list.items[i], depth + 1);
        break;
    default:
        FUZZ_CHECK(0, "a form of no known kind");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader_arena_t *arena = NULL;
    ast_t **forms = NULL;
    size_t n = 0;
    diag_t d;
    memset(&d, 0, sizeof d);
    if (reader_read(FILE_NAME, (const char *)data, size, &arena, &forms, &n, &d) < 0) {
        FUZZ_CHECK(d.msg[0] != 0, "an error without a message");
        FUZZ_CHECK(d.file == FILE_NAME, "an error without its file");
        FUZZ_CHECK(d.line >= 1 && d.col >= 1, "an error without a position");
        FUZZ_CHECK(memchr(d.msg, 0, sizeof d.msg) != NULL, "a message not terminated");
        return 0;
    }
    FUZZ_CHECK(n == 0 || forms != NULL, "forms without their table");
    for (size_t i = 0; i < n; i++)
        walk(forms[i], 0);
    reader_free(arena);
    return 0;
}
