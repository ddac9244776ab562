/*
 * ets.h: shared tables (LANGUAGE.md, "Shared tables"), in the segment.
 *
 * A table maps keys to values, both copied in and out, and is visible from
 * every VM. The directory of tables is a run of the pool that the
 * supervisor allocates before the fork; tables are created on demand.
 *
 * NOTES (concurrency and crashes)
 *   Each table has a lock word holding its holder's VM id + 1, and the
 *   directory has one for creating tables; every operation on a table
 *   holds its lock for a few stores, never across an allocation of the
 *   caller's heap. A lock names its holder so that recovery can break it
 *   when that VM dies (ets_recover_vm). Entries are built before the lock
 *   is taken and linked in with one store, so a VM that dies holding the
 *   lock leaves the table whole: at worst one entry built or unlinked but
 *   not freed (a leak of one run, never a dangling entry).
 */
#ifndef SHOAL_VMPROC_ETS_H
#define SHOAL_VMPROC_ETS_H

#include "vmproc/proc.h"

/* Supervisor only, before the fork: allocate the directory. */
int ets_init(shm_header_t *h);

/* The builtins. Arguments are on the caller's stack (roots); each returns
 * the result or T_NONE with the process's error set (badarg for a table
 * that does not exist; heap_limit when the value does not fit). */
term ets_new(rt_t *rt, pcb_t *pcb, term name);
term ets_put(rt_t *rt, pcb_t *pcb, term *args);        /* name key value */
term ets_get(rt_t *rt, pcb_t *pcb, term *args);        /* name key default */
term ets_delete(rt_t *rt, pcb_t *pcb, term *args);     /* name key */
term ets_size(rt_t *rt, pcb_t *pcb, term name);
term ets_update_counter(rt_t *rt, pcb_t *pcb, term *args); /* name key incr */

/* Supervisor only, after VM `vm` died: release the locks it held, and
 * count the entries again of each table whose lock it held. */
void ets_recover_vm(shm_header_t *h, uint32_t vm);

/* How many locks (the directory's and the tables') VM `vm` holds now, or
 * with ETS_ANY_VM, how many anybody holds. For recovery checks and tests. */
#define ETS_ANY_VM UINT32_MAX
size_t ets_locks_held(const shm_header_t *h, uint32_t vm);

/* Crash-test hook (as pool.h's). When ets_crash_step equals one of these
 * points, the process raises SIGKILL on itself when it reaches that point
 * (0: off, the default). Only tests set it, in a forked child. */
enum ets_crash_point {
    ETS_CRASH_OFF = 0,
    ETS_CRASH_DIR_LOCKED, /* table-new: the directory's lock taken */
    ETS_CRASH_LOCKED,     /* put, delete, update-counter: the table's lock taken */
    ETS_CRASH_LINKED,     /* a new entry linked, the count not yet changed */
    ETS_CRASH_POINTS
};
extern int ets_crash_step;

#endif
