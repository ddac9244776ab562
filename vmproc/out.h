/*
 * out.h: standard output shared by every VM: print's lock and write
 * errors (LANGUAGE.md, "Output": lines from different processes and VMs
 * never interleave mid-line, whatever their length, into a file, a pipe
 * or a terminal).
 *
 * A write of more than PIPE_BUF bytes to a pipe may be split and
 * interleaved with other writers', so one atomic write(2) is not enough:
 * every VM writes a line while it holds a lock in the segment. The lock
 * word holds the holder's VM id + 1, so that the supervisor can break it
 * when that VM dies (out_recover_vm); waiters sleep on it as a futex.
 *
 * A write that fails is recorded once (shm_out_t.error) and reported to
 * the supervisor, which stops the run: quietly, with status 128 + SIGPIPE,
 * when the reader went away (EPIPE, as a Unix tool dies of SIGPIPE), and
 * with a message otherwise (a full disk, a closed stdout). Output after
 * the first error is dropped.
 *
 * NOTES
 *   out_write: a VM, for a process it runs. out_recover_vm: the
 *   supervisor, after VM `vm` is known dead.
 */
#ifndef SHOAL_VMPROC_OUT_H
#define SHOAL_VMPROC_OUT_H

#include "shm/segment.h"

/* Write all of s[0..n) to stdout under the lock. 0, or -1 with errno (the
 * error is also recorded for the supervisor). */
int out_write(shm_header_t *h, uint32_t vm, const char *s, size_t n);

/* Break the lock if dead VM `vm` holds it, and wake the waiters. */
void out_recover_vm(shm_header_t *h, uint32_t vm);

/* The first write error of the run (an errno), or 0. */
int out_error(const shm_header_t *h);

#endif
