/*
 * ets_harness.h: what the shared-table suites share (test_ets.c,
 * test_ets_model.c, test_ets_crash.c): worlds of VMs, a process per VM to
 * call the table builtins with (as the interpreter calls them: arguments
 * on the value stack), terms built in C arrays, and forked children that
 * act as VMs, with deadlines on every wait.
 *
 * NOTES
 *   Single-threaded test code; a forked child is one VM of the world (the
 *   segment is MAP_SHARED) and reports through its exit status only,
 *   never through CUnit. Every wait for a child has a deadline (poll on a
 *   pipe only the child writes, which closes when it ends), so a hang
 *   fails the test instead of stalling the suite.
 */
#ifndef SHOAL_TESTS_ETS_HARNESS_H
#define SHOAL_TESTS_ETS_HARNESS_H

#include "tests/vm_world.h"
#include "vmproc/ets.h"
#include "vmproc/proc.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MIB (1ull << 20)

/* Generous: a child that has not ended by then is hung, not slow. */
#define CHILD_LIMIT_MS 30000

/* A world of `vms` VMs on one node (tests/vm_world.h); program_load
 * creates the tables' directory. */
bool eh_world_open(vw_t *w, uint32_t vms, uint64_t pool_bytes);

/* A process of one VM, to call the builtins with. */
typedef struct eh_proc {
    rt_t *rt;
    pcb_t *pcb;
} eh_proc_t;

/* A process owned by VM `vm`, with a heap and a stack on its node. */
bool eh_proc_new(vw_t *w, uint32_t vm, eh_proc_t *v);

static inline proc_t *eh_pr(const eh_proc_t *v)
{
    return proc_of(v->pcb);
}

/* A new atom, e.g. a table name. Before the children start. */
term eh_atom(vw_t *w, const char *name);

typedef term (*eh_bif_t)(rt_t *, pcb_t *, term *, uint32_t);

/* Call a builtin with its n arguments on the value stack, where the
 * interpreter leaves them (roots if it collects), with no error set. */
term eh_call(eh_proc_t *v, eh_bif_t f, int n, term a, term b, term c);

static inline term t_new(eh_proc_t *v, term name)
{
    return eh_call(v, bif_table_new, 1, name, T_NONE, T_NONE);
}
static inline term t_new_kind(eh_proc_t *v, term name, term kind)
{
    return eh_call(v, bif_table_new, 2, name, kind, T_NONE);
}
static inline term t_size(eh_proc_t *v, term name)
{
    return eh_call(v, bif_table_size, 1, name, T_NONE, T_NONE);
}
static inline term t_put(eh_proc_t *v, term name, term key, term value)
{
    return eh_call(v, bif_table_put, 3, name, key, value);
}
static inline term t_get(eh_proc_t *v, term name, term key, term dflt)
{
    return eh_call(v, bif_table_get, 3, name, key, dflt);
}
static inline term t_delete(eh_proc_t *v, term name, term key)
{
    return eh_call(v, bif_table_delete, 2, name, key, T_NONE);
}
static inline term t_incr(eh_proc_t *v, term name, term key, term by)
{
    return eh_call(v, bif_table_update_counter, 3, name, key, by);
}
static inline term t_insert_new(eh_proc_t *v, term name, term key, term value)
{
    return eh_call(v, bif_table_insert_new, 3, name, key, value);
}
static inline term t_take(eh_proc_t *v, term name, term key, term dflt)
{
    return eh_call(v, bif_table_take, 3, name, key, dflt);
}
static inline term t_drop(eh_proc_t *v, term name)
{
    return eh_call(v, bif_table_drop, 1, name, T_NONE, T_NONE);
}
static inline term t_chunk(eh_proc_t *v, term name, term cursor)
{
    return eh_call(v, bif_table_chunk, 2, name, cursor, T_NONE);
}

/* Whether r is the error #(error atom) raised by the builtin. */
bool eh_raised(const eh_proc_t *v, term r, uint32_t atom);

/* True if the object t points to is in v's heap (the pool run of its
 * process), not in a table's memory. */
bool eh_in_heap_of(const vw_t *w, const eh_proc_t *v, term t);

/* Every entry of a table, by %table-chunk, into keys[] and vals[] (at
 * most max; terms in v's heap, valid until v's next call), in the
 * table's order. Returns the count, or -1 on an error (a missing table,
 * a wrong cursor, more than max, or, when `ordered`, keys out of term
 * order). */
long eh_entries(eh_proc_t *v, term name, bool ordered, term *keys, term *vals, long max);
/* Why the last eh_entries returned -1. */
extern char eh_why[256];

/* Terms in C arrays (outside any heap). */
term eh_tuple_in(term *b, int n, ...);
term eh_string_in(term *b, const char *s);
term eh_float_in(term *b, double d);
term eh_cons_in(term *cell, term head, term tail);

/* How many of the tables' locks VM `vm` holds (ETS_ANY_VM: anybody). */
size_t eh_held_by(const vw_t *w, uint32_t vm);

/* A forked VM. fd is the read end of a pipe whose write end only the
 * child holds: the child's progress bytes, and EOF when it ends. */
typedef struct eh_kid {
    pid_t pid;
    int fd;
} eh_kid_t;

/* The body of a child, as VM `vm`; `out` is its end of the pipe. The
 * result is the child's exit status. */
typedef int (*eh_job_t)(vw_t *w, uint32_t vm, int out, const void *arg);

eh_kid_t eh_start(vw_t *w, uint32_t vm, eh_job_t job, const void *arg);
int64_t eh_now_ms(void);
/* Read from fd until `bytes` bytes came (bytes > 0) or EOF (bytes < 0),
 * for at most ms. True if that happened in time. */
bool eh_await(int fd, long bytes, int ms);
/* Wait for k to end, at most ms: its wait status, or -1 if it did not
 * end in time (it is then killed). Either way it is reaped. */
int eh_finish(eh_kid_t *k, int ms);
bool eh_exited_ok(int st, const char *who);
bool eh_killed_by(int st, int sig);

/* What the supervisor's vm_died does for a dead VM: mark it dead, then
 * break what it held (tables first, then the pool, process slots). */
void eh_recover(vw_t *w, uint32_t vm);

#endif
