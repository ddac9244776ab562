/*
 * stats.h: the supervisor's view of the VMs' counters: samples taken
 * once per stats window, rates from the last whole window, and the JSON
 * objects that `shoal stats`, `shoal ps`, `shoal inspect` and
 * `shoal run --stats-json` print (README.md, "Control socket", has the
 * fields).
 *
 * NOTES
 *   Supervisor only; single-threaded. It reads the VM table, the message
 *   matrix and the code table without locks (words that one VM writes,
 *   or that nobody writes after the fork), and writes only run.stats_epoch.
 *   JSON objects are jansson trees; strings are escaped with shoal_escape
 *   first, so a byte that is not UTF-8 shows as \xNN, never breaks them.
 */
#ifndef SHOAL_SUPERVISOR_STATS_H
#define SHOAL_SUPERVISOR_STATS_H

#include "shm/info.h"
#include "shm/vmtab.h"

#include <jansson.h>
#include <stdio.h>

/* The stats window: rates, busy % and each process's recent reductions
 * are over the last whole window. 1 s: a figure a person can read, and
 * the supervisor reads every VM's row once a second, which costs nothing
 * measurable. */
#define STATS_WINDOW_MS 1000u

/* Names of migration causes (enum mig_cause), as the JSON spells them. */
extern const char *const stats_cause_names[];

/* One VM's counters at one moment. */
typedef struct stats_sample {
    uint64_t t_ns;
    uint64_t reductions, idle_ns, msgs_local, msgs_remote;
    uint64_t mig_in[8], mig_out[8];
} stats_sample_t;

typedef struct stats {
    shm_header_t *h;
    uint32_t n_vms;
    const char *name; /* the run's --name */
    uint64_t start_ns;
    uint64_t next_window_ns;
    stats_sample_t *prev, *cur; /* per VM: the last two window boundaries */
} stats_t;

/* Supervisor, after the segment exists and before the VMs start. -1
 * (ENOMEM). */
int stats_init(stats_t *st, shm_header_t *h, const char *name);
void stats_free(stats_t *st);

/* On each tick: at a window boundary, sample every VM and bump
 * run.stats_epoch. */
void stats_tick(stats_t *st, uint64_t now_ns);

/* The reply to `stats` (without "v" and "ok"), at time now_ns. `policy`
 * is the "policy" member, which the caller builds (stolen). */
json_t *stats_json(const stats_t *st, uint64_t now_ns, json_t *policy);

/* The --summary table: one line per VM. */
void stats_summary(const stats_t *st, uint64_t now_ns, FILE *f);

/* JSON of a process record answered by its owner (ps rows). */
json_t *stats_proc_json(const shm_header_t *h, const info_rec_t *r);

/* JSON of an INSPECT answer (bytes of `out`), after checking every count
 * and length in it: NULL if the answer does not hold together. */
json_t *stats_inspect_json(const shm_header_t *h, const unsigned char *out, uint32_t bytes);

/* "name/arity" of function `index` of the code table (or "?"). */
const char *stats_func_name(const shm_header_t *h, uint32_t index, char *buf, size_t len);

/* A string for JSON: escaped (shoal_escape) and wrapped. Never NULL
 * unless memory is out. */
json_t *stats_string(const char *s);

#endif
