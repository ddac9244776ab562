/*
 * lang_harness.h: helpers the language suites share (test_reader.c,
 * test_compiler.c, test_interp.c, test_gc.c).
 *
 * Three ways to get at the language:
 *   - lh_compile: reader + compiler straight into a small segment, with
 *     the well-known atoms interned first as program_load does, so a
 *     compile error comes back as an exact diag_t. There is no prelude
 *     here: a program compiled this way must not call map, foldl or sleep
 *     (program_load's prelude defines them).
 *   - lh_load / lh_world_open: program_load on temp files, with stderr
 *     captured, for the code table a real load leaves, and for running
 *     processes in this process (lh_proc_new, no scheduler: nothing may
 *     spawn, send or receive).
 *   - lh_run: the real binary (unit_shoal_path()) on a temp file, with
 *     stdout, stderr and the exit status captured through pipes.
 *
 * NOTES
 *   Single-threaded test code. Temp files live in $TMPDIR (default /tmp)
 *   and are removed before each helper returns.
 */
#ifndef SHOAL_TESTS_LANG_HARNESS_H
#define SHOAL_TESTS_LANG_HARNESS_H

#include "shm/segment.h"
#include "vmproc/code.h"
#include "vmproc/proc.h"
#include "vmproc/reader.h"

#include <stdbool.h>
#include <stddef.h>

/* A CUnit assertion with a printf-style message (CUnit copies it). */
void lh_check(bool ok, unsigned line, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define LH_CHECK(cond, ...) lh_check(!!(cond), __LINE__, __FILE__, __VA_ARGS__)

/* Write `src` to a new temp file NAME.shoal; returns its malloc'd path. */
char *lh_temp_source(const char *src);

/* A small segment: 1 VM, 1 node, `pool_bytes` of pool, `slots` PCBs. */
shm_header_t *lh_segment(uint64_t pool_bytes, uint32_t slots);

/* Prepare h's code area and intern the well-known atoms in their order
 * (what program_load does first). 0, or -1 if an index came out wrong. */
int lh_prepare_atoms(shm_header_t *h);

/* Read and compile `src` (file name `file`) into h without a prelude.
 * Returns 0, or -1 with *d filled in (reader or compiler error). */
int lh_compile(shm_header_t *h, const char *file, const char *src, diag_t *d);

/* program_load of `n` sources written to temp files. What it printed on
 * stderr goes to err (NUL-terminated), the temp paths to paths[i] when
 * paths is not NULL. Returns program_load's result. */
int lh_load(shm_header_t *h, const char *const *srcs, int n, char *err, size_t errn,
            char (*paths)[128]);

/* A segment with a loaded program and a runtime for VM 0, node 0, as
 * sched_main sets one up (but with no scheduler). */
typedef struct lh_world {
    shm_header_t *h;
    rt_t rt;
    char err[2048]; /* what program_load printed */
} lh_world_t;

int lh_world_open(lh_world_t *w, const char *src, uint64_t pool_bytes);
void lh_world_close(lh_world_t *w);

/* A process with a heap and a stack but no code yet; NULL on failure. */
pcb_t *lh_proc_new(lh_world_t *w);
void lh_proc_free(lh_world_t *w, pcb_t *pcb);

/* The top-level function `name`/`arity` of the loaded program, or NULL. */
const func_t *lh_func(const shm_header_t *h, const char *name, uint32_t arity);

/* The result of running the binary. status: the exit code, 128 + signal
 * if a signal ended it, -1 if it could not be run or did not finish. */
typedef struct lh_result {
    int status;
    char *out, *err;
} lh_result_t;

/* Run `shoal run FLAGS... FILE [-- ARGS...]` on `src`. env: NAME=VALUE
 * strings for the child (SHOAL_*_TORTURE are unset unless given here).
 * Each list is NULL-terminated; NULL means empty. Returns r->status. */
int lh_run(const char *src, const char *const *flags, const char *const *env,
           const char *const *args, lh_result_t *r);
void lh_result_free(lh_result_t *r);

/* Line i (from 0) of text, without its newline, into buf; false if the
 * text has no such line. */
bool lh_line(const char *text, int i, char *buf, size_t n);
int lh_count_lines(const char *text);

/* One printed expression and what print must write for it. */
typedef struct lh_case {
    const char *expr;
    const char *want;
} lh_case_t;

/* Run one program (`defs` then a main that prints each expression on its
 * own line, with `flags`) and check every line, then exit status 0 and an
 * empty stderr. `file` and `line` are the caller's, for the messages. */
void lh_check_prints(const char *defs, const lh_case_t *cases, size_t n,
                     const char *const *flags, const char *file, unsigned line);
#define LH_PRINTS(defs, cases)                                                   \
    lh_check_prints((defs), (cases), sizeof(cases) / sizeof((cases)[0]), NULL, __FILE__, \
                    __LINE__)

#endif
