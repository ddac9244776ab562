/*
 * trace.h: the stack trace of a process that an error ended
 * (LANGUAGE.md, "Processes": an unobserved error prints its call stack).
 *
 * Nothing is kept while a process runs: the interpreter notes where an
 * error began only when no catch takes it, and the call frames are still
 * on the process's stack then, since unwinding only reads them. The
 * compiler's line table of each function (func_t.lines, one pair where
 * the source line changes) turns an instruction into a line.
 *
 * NOTES
 *   Owner VM only, on a process that has ended and is not yet freed.
 */
#ifndef SHOAL_VMPROC_TRACE_H
#define SHOAL_VMPROC_TRACE_H

#include "vmproc/proc.h"
#include "vmproc/termio.h"

/* Frames printed at most: the innermost ones, then how many more. */
#define TRACE_FRAMES 20

/* Append the trace of p, innermost frame first, one line each:
 * "  at NAME/ARITY (FILE:LINE)". Nothing if p has none. */
void trace_print(const shm_header_t *h, sbuf_t *b, proc_t *p);

#endif
