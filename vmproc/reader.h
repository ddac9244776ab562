/*
 * reader.h: source text to forms, each with its file, line and column.
 *
 * NOTES
 *   Supervisor only (the program is compiled before the fork), in private
 *   memory. Forms live in an arena that reader_free releases whole.
 *   Errors are returned as a message with a position; the caller prints
 *   them as FILE:LINE:COL: error: MESSAGE.
 */
#ifndef SHOAL_VMPROC_READER_H
#define SHOAL_VMPROC_READER_H

#include "shm/common.h"

typedef enum ast_kind { AST_INT, AST_FLOAT, AST_STRING, AST_SYMBOL, AST_LIST } ast_kind;

typedef struct ast {
    ast_kind kind;
    int line, col;
    const char *file;
    union {
        int64_t i;
        double f;
        struct {
            char *s; /* NUL-terminated; symbols and strings */
            size_t len;
        } str;
        struct {
            struct ast **items;
            size_t n;
        } list;
    } u;
} ast_t;

/* Where an error is, and what it is. */
typedef struct diag {
    const char *file;
    int line, col;
    char msg[256];
} diag_t;

typedef struct reader_arena reader_arena_t;

/* Read every form of `src`. 'x reads as (quote x). Returns 0, or -1 with
 * *err filled in. The forms stay valid until reader_free(*arena). */
int reader_read(const char *file, const char *src, size_t len, reader_arena_t **arena,
                ast_t ***forms, size_t *nforms, diag_t *err);

void reader_free(reader_arena_t *arena);

/* True if `a` is the symbol `name`. */
bool ast_is_sym(const ast_t *a, const char *name);

#endif
