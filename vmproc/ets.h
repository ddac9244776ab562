/*
 * ets.h: shared tables (LANGUAGE.md, "Shared tables"), in the segment.
 *
 * A table maps keys to values, both copied in and out, and is visible from
 * every VM. A set table is a hash table (xxHash of the key's canonical
 * encoding, termio.h's term_hash) whose bucket array grows and shrinks a
 * few buckets at a time; an ordered table is a skip list in term order.
 * Entries live in size-classed slabs (shm/slab.h).
 *
 * NOTES (concurrency and crashes; the details are in ets_impl.h)
 *   Reads from every VM take no lock: they run inside an epoch critical
 *   section (shm/epoch.h), and what writers unlink is freed only once no
 *   reader can hold it. Writers take a lock per stripe of a set table's
 *   hash space (one for an ordered table); update-counter changes an
 *   integer value in place with one CAS. Every lock names its holder, and
 *   each step under it is one store named in a journal, so recovery
 *   (ets_recover_vm) can finish or undo what a dead VM was doing; a VM
 *   that dies at any instruction leaves tables the others go on using.
 *   Errors: the builtins return the result, or T_NONE with the process's
 *   error set (badarg: a table that does not exist, or a bad argument;
 *   system_limit: the pool or the directory is full, and nothing changed)
 *   or, when the copy of a value does not fit under the heap limit, with
 *   no error set (the interpreter then raises heap_limit).
 */
#ifndef SHOAL_VMPROC_ETS_H
#define SHOAL_VMPROC_ETS_H

#include "vmproc/proc.h"

/* Tables that can exist at once (the directory's slots; a power of 2):
 * table-new of one more is system_limit. */
#define ETS_MAX_TABLES 4096u

/* Supervisor only, before the fork: allocate the directory and the
 * shared state of every VM. */
int ets_init(shm_header_t *h);

/* The builtins (bif_table.c), in the shape of every builtin: arguments on
 * the caller's value stack (roots while it allocates). */
term bif_table_new(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);     /* name [kind] */
term bif_table_put(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);     /* name key value */
term bif_table_get(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);     /* name key default */
term bif_table_delete(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);  /* name key */
term bif_table_size(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);    /* name */
term bif_table_update_counter(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc); /* name key incr */
term bif_table_insert_new(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc); /* name key value */
term bif_table_take(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);    /* name key default */
term bif_table_drop(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);    /* name */
/* (%table-chunk name cursor): #(next-cursor entries), the entries a list
 * of #(key value) in the table's order, after `cursor` ('start, or what
 * the last chunk returned); next-cursor is 'end after the last. The
 * prelude's table-fold and table->list loop over it. */
term bif_table_chunk(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);
/* (%table-bytes name): bytes the table holds (its block, bucket arrays
 * and entries' slots), for the benchmarks. */
term bif_table_bytes(rt_t *rt, pcb_t *pcb, term *args, uint32_t argc);

/* VM only, between operations: free what retired memory is safe to free,
 * and a bit of the tables it dropped. For tests and idle time. */
void ets_reclaim(rt_t *rt);
/* The same, as far as it goes: every dropped table freed (the pool ran
 * out: worth a pause). */
void ets_reclaim_hard(rt_t *rt);

/* The scheduler, when the VM has nothing to run: a bit of the same
 * (memory the VM retired, tables it dropped), so that it does not wait
 * for the VM's next table operation. True if it freed something (the VM
 * then looks for work again before it sleeps). */
bool ets_idle(rt_t *rt);

/* After VM `vm` died: finish or undo what it was doing to the tables (the
 * locks it held, the objects it was making or letting go), rebuild its
 * slab lists, end its critical section. `who` does it: the dead VM's next
 * incarnation (who == vm, vmproc/recover.c, before it touches a table),
 * or the supervisor (POOL_SUPERVISOR, tests). Call it BEFORE the pool's
 * recovery of the VM (pool_reclaim_vm, or pool_recover_vm in tests): it
 * makes the runs the dead VM published the tables', so that the pool's
 * recovery frees only those it did not. Takes no lock that a live VM
 * holds for long: only the pool's node locks, to free and scan. */
void ets_recover_vm(shm_header_t *h, uint32_t vm, uint32_t who);

/* How many locks (the directory's and every table's) VM `vm` holds now,
 * or with ETS_ANY_VM, how many anybody holds. For recovery checks and
 * tests. */
#define ETS_ANY_VM UINT32_MAX
size_t ets_locks_held(const shm_header_t *h, uint32_t vm);

/* Tests and debug builds, while no VM uses the tables: every table is
 * consistent (sorted chains in the right buckets, counts and bytes that
 * match the entries, skip list levels in order, no lock held, journals
 * empty) and the slabs are too. 0, or -1 with the first problem in why. */
int ets_check(shm_header_t *h, char *why, size_t why_len);

/* Crash-test hook (as pool.h's). When ets_crash_step equals one of these
 * points, the process raises SIGKILL on itself when it reaches that point
 * (0: off, the default). Only tests set it, in a forked child. */
enum ets_crash_point {
    ETS_CRASH_OFF = 0,
    ETS_CRASH_DIR_LOCKED,  /* table-new, table-drop: the directory's lock taken */
    ETS_CRASH_DIR_DONE,    /* table-new: published; drop: unpublished; journal not cleared */
    ETS_CRASH_PENDING,     /* an entry made (named pending), its lock not taken */
    ETS_CRASH_LOCKED,      /* put, delete, update-counter...: the lock taken, journal empty */
    ETS_CRASH_JOURNALED,   /* the journal names the step, nothing changed yet */
    ETS_CRASH_LINKED,      /* linked, unlinked or replaced; the count not yet changed */
    ETS_CRASH_COUNTED,     /* the count changed, the journal not cleared */
    ETS_CRASH_UNLOCKED,    /* the lock released, what was unlinked not yet retired */
    ETS_CRASH_RETIRED,     /* retired, its record not yet cleared */
    ETS_CRASH_PARTIAL,     /* ordered: a node linked or unlinked at some levels only */
    ETS_CRASH_MIG_LOCKED,  /* resize: a migration's journal written */
    ETS_CRASH_MIG_SPLIT,   /* resize: new buckets written, the old not yet marked moved */
    ETS_CRASH_MIG_MOVED,   /* resize: marked moved, the old chain not yet cut */
    ETS_CRASH_RESIZE_NEW,  /* resize: a new array made (pending), not published */
    ETS_CRASH_RESIZE_PUB,  /* resize: published, its journal not cleared */
    ETS_CRASH_FINISH,      /* resize: the old array let go, not yet retired */
    ETS_CRASH_POINTS
};
extern int ets_crash_step;

#endif
