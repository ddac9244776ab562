/*
 * interp.h: the bytecode interpreter.
 *
 * NOTES
 *   Owner VM only: interp_run runs one process that the calling VM owns,
 *   for at most one slice of reductions, and returns at a safe point with
 *   every register saved in the PCB (so the process can be handed to
 *   another VM from there).
 */
#ifndef SHOAL_VMPROC_INTERP_H
#define SHOAL_VMPROC_INTERP_H

#include "vmproc/proc.h"

/* Reductions in one slice. A reduction is a call (loops are calls) or a
 * unit of a builtin's work. 2,000 calls take 10-50 us here, so a busy
 * process holds its VM for well under a millisecond, while the ~100 ns a
 * switch costs stays under 1%. (Erlang uses 4,000 for the same reason.) */
#define SLICE_REDUCTIONS 2000

enum run_result {
    RUN_YIELD, /* slice used up: runnable */
    RUN_WAIT,  /* in receive or sleep: waits for a message or p->deadline */
    RUN_EXIT   /* ended: p->err_class and p->err_value say how */
};

/* Set up a new process to call the closure `fun` with `argc` arguments,
 * copied (with the closure) from wherever they are. Returns -1 if its heap
 * cannot hold them. A wrong arity makes the new process fail at its start
 * with badarity, as in Erlang. */
int interp_start(rt_t *rt, pcb_t *pcb, term fun, const term *args, uint32_t argc);

/* Or keep `fun` and its arguments in the PCB until the process first
 * runs (proc_unstarted), if they fit there and need no copy: `fun` in the
 * code area (a defn's value), at most PROC_START_ARGS arguments, each an
 * immediate. Returns false, with nothing done, if not. The process then
 * has no heap and no stack until interp_start_now, on the VM that first
 * runs it: what it starts with is made there, from that VM's memory. */
bool interp_start_later(rt_t *rt, pcb_t *pcb, term fun, const term *args, uint32_t argc);

/* The owner VM, before the first slice of a process that started later:
 * its first block, stack and frame, as interp_start makes them. -1 with
 * errno (ENOMEM: the pool is exhausted) if there is no room; the process
 * then has what heap_release frees, and no start. */
int interp_start_now(rt_t *rt, pcb_t *pcb);

/* Words of stack interp_start needs for `fun` (a closure) called with
 * `argc` arguments: its frame and a control frame (heap_init_stack). */
uint64_t interp_start_words(term fun, uint32_t argc);

enum run_result interp_run(rt_t *rt, pcb_t *pcb);

/* Monotonic nanoseconds. */
int64_t interp_now_ns(void);

#endif
