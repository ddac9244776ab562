/*
 * compiler.h: forms to bytecode in the code table.
 *
 * NOTES
 *   Supervisor only, before the fork. Two passes: compiler_declare reads
 *   the top-level defn forms of each file (so that a function can be called
 *   before its definition, and across files); compiler_finish compiles
 *   every body, writes the function table into the code area and checks
 *   that `main/0` exists. Errors come back as a diag_t (FILE:LINE:COL).
 */
#ifndef SHOAL_VMPROC_COMPILER_H
#define SHOAL_VMPROC_COMPILER_H

#include "shm/segment.h"
#include "vmproc/reader.h"

typedef struct compiler compiler_t;

/* Name and constant comparisons made by every compile in this process so
 * far: a statistic by which a test sees that compile time grows with the
 * program, not with its square. Supervisor only. */
extern uint64_t compiler_compares;

compiler_t *compiler_new(shm_header_t *h);
int compiler_declare(compiler_t *c, ast_t **forms, size_t n, diag_t *err);
int compiler_finish(compiler_t *c, diag_t *err);
void compiler_free(compiler_t *c);

/* Atoms the runtime names by index; program_load interns them first, in
 * this order, so that A_FALSE is atom 0 and so on. */
#define WELL_KNOWN_ATOMS(X)                                                       \
    X(FALSE, "false") X(TRUE, "true") X(OK, "ok") X(EXIT, "EXIT") X(DOWN, "DOWN")  \
    X(ERROR, "error") X(NORMAL, "normal") X(KILLED, "killed") X(KILL, "kill")      \
    X(VM_CRASH, "vm_crash") X(NOPROC, "noproc") X(BADARITH, "badarith")          \
    X(BADMATCH, "badmatch") X(CASE_CLAUSE, "case_clause") X(BADARG, "badarg")    \
    X(UNDEF, "undef") X(BADFUN, "badfun") X(BADARITY, "badarity")                \
    X(HEAP_LIMIT, "heap_limit") X(UNDEFINED, "undefined") X(FN, "fn")            \
    X(SYSTEM_LIMIT, "system_limit") X(TIMEOUT, "timeout") X(RAISE, "raise")       \
    X(EXIT_CLASS, "exit") X(THROW, "throw") X(NOCATCH, "nocatch")                 \
    X(MAILBOX_LIMIT, "mailbox_limit") X(INFINITY, "infinity") X(ORDERED, "ordered") \
    X(SET, "set") X(START, "start") X(END, "end")

enum well_known_atom {
#define X(id, name) A_##id,
    WELL_KNOWN_ATOMS(X)
#undef X
    A__COUNT
};

#endif
