/*
 * ask.h: the supervisor asks VMs about the processes they own (the
 * exchange of shm/info.h), for `shoal ps` and `shoal inspect`.
 *
 * One question at a time (a job): a listing of every live process, or
 * one process in detail. A listing takes the live slots from the bitmap
 * (shm/proctab.h), groups their pids by owner, and asks each VM for its
 * batch; a VM that no longer owns a process says where it went, and the
 * pid is asked again there (a few times at most: a process that keeps
 * moving is then listed from what the supervisor itself can read). An
 * inspect follows its process the same way.
 *
 * Nothing blocks: ask_poll collects what has been answered, sends what
 * is next, and says when the job is done. A VM that has not answered by
 * its deadline, has stopped or died is given up on, and the job's errors
 * say so; the job never waits on a VM forever.
 *
 * NOTES
 *   Supervisor only; single-threaded. It writes each VM's request group
 *   and reads its answer group; every answer is checked (counts, lengths,
 *   pids) before it is used.
 */
#ifndef SHOAL_SUPERVISOR_ASK_H
#define SHOAL_SUPERVISOR_ASK_H

#include "shm/info.h"

#include <jansson.h>

/* A VM must answer within this (ms), or the job goes on without it. A
 * VM answers at its next scheduling point, within a slice's time (well
 * under a millisecond) when it has the CPU; 10 s leaves room for a
 * machine so loaded that a VM waits seconds for a core, and still never
 * waits for a stuck VM for long. */
#define ASK_TIMEOUT_MS 10000u

typedef struct ask ask_t;

ask_t *ask_new(shm_header_t *h);
void ask_free(ask_t *a);

/* Start a listing of every live process, or (vm >= 0) of those VM `vm`
 * owns when the listing starts. -1 (ENOMEM). */
int ask_list(ask_t *a, int32_t vm, uint64_t now_ns);

/* Start an inspect of `pid`, with up to `messages` messages printed. */
int ask_inspect(ask_t *a, uint64_t pid, uint32_t messages, uint64_t now_ns);

/* Collect answers, send more questions, give up on late VMs. True when
 * the job is done (or there is none). */
bool ask_poll(ask_t *a, uint64_t now_ns);

/* A listing's records (answer INFO_HERE), in no order. */
info_rec_t *ask_records(ask_t *a, size_t *n);

/* An inspect's result: the answer's bytes (NULL if the process was not
 * found, or its owner did not answer: then ask_errors says why). */
const unsigned char *ask_inspect_answer(const ask_t *a, uint32_t *bytes);

/* Why a job is incomplete: a JSON array of strings (a new reference). */
json_t *ask_errors(const ask_t *a);

/* Whether the inspected process was not found at all. */
bool ask_not_found(const ask_t *a);

#endif
