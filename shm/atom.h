/*
 * atom.h: the atom table, interned names in the shared segment.
 *
 * NOTES
 *   Written by the supervisor only, before the fork (the compiler interns
 *   every atom the program can name, and the runtime's own atoms); it is
 *   read-only afterwards, so readers take no lock and see no torn entry.
 *   The language has no way to make an atom from a string at run time, so
 *   nothing needs to be added after the fork.
 */
#ifndef SHOAL_SHM_ATOM_H
#define SHOAL_SHM_ATOM_H

#include "shm/segment.h"

/* Bytes of the atom area's index for `cap` atoms: the area must be larger
 * (the rest holds the names); shm_layout_compute checks it. */
uint64_t atom_index_bytes(uint32_t cap);

/* Prepare the atom area of a new segment (supervisor only). */
void atom_init(shm_header_t *h);

/* Index of the atom `name` (len bytes), adding it if new. Supervisor only,
 * before the fork. Returns -1 with errno ENOSPC when the table is full. */
int64_t atom_intern(shm_header_t *h, const char *name, size_t len);

/* Index of an existing atom, or -1. Any process. */
int64_t atom_find(const shm_header_t *h, const char *name, size_t len);

/* Name and length of atom `i`. Any process. */
const char *atom_name(const shm_header_t *h, uint32_t i, size_t *len);

uint32_t atom_count(const shm_header_t *h);

#endif
