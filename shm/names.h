/*
 * names.h: the name table, the registered names of processes (LANGUAGE.md,
 * "Processes": register, whereis), in the shared segment.
 *
 * A slot pairs a name (an atom) with a pid. A slot gets its name once,
 * by CAS from empty, and keeps it for the whole run; the pid in it
 * changes by CAS only: 0 -> pid registers the name, pid -> 0 drops it. So
 * exactly one of two VMs registering one name at once wins, and a VM that
 * dies between any two steps leaves every slot whole (a name with no pid,
 * or with the pid of a process that is gone, which the rules of
 * vmproc/register.c treat as no pid). There is no lock.
 *
 * NOTES
 *   Any VM, with atomics on the slot words. The supervisor lays the table
 *   out (names_table_init) and may scan it in recovery. It is bounded
 *   (cfg.name_cap names); a full table is NULL from names_slot.
 */
#ifndef SHOAL_SHM_NAMES_H
#define SHOAL_SHM_NAMES_H

#include "shm/segment.h"

typedef struct name_slot {
    uint32_t name;   /* atom index + 1; 0: empty. CAS 0 -> name, once */
    uint32_t pad;
    uint64_t pid;    /* the registered process, or 0. CAS only */
} name_slot_t;

/* Bytes of the table for `cap` names. */
uint64_t names_table_bytes(uint32_t cap);

/* Supervisor only: lay out the table of a new segment. */
void names_table_init(shm_header_t *h);

/* The slot of name `atom`; with `add`, one is taken for it if it has
 * none. NULL: no such slot (or, with add, the table is full). */
name_slot_t *names_slot(const shm_header_t *h, uint32_t atom, bool add);

/* Every slot, for scans: there are names_count(h) of them. */
uint32_t names_count(const shm_header_t *h);
name_slot_t *names_at(const shm_header_t *h, uint32_t i);

#endif
