/*
 * atom.h: the atom table, interned names in the shared segment.
 *
 * NOTES
 *   The supervisor interns, before the fork, every atom the program can
 *   name and the runtime's own; VMs add atoms at run time (string->atom).
 *   An atom's name and entry are written first, then published by one CAS
 *   of an empty bucket of the index to the atom's number: readers take no
 *   lock and see no torn entry, and a VM that dies in the middle of an
 *   add leaves at most an unpublished entry (a hole that nobody can name),
 *   never a lock or a half-written atom. Two VMs adding one name at once:
 *   one CAS wins, and the other returns the winner's number.
 *   The table is bounded (cfg.atom_cap atoms, cfg.atom_bytes of names):
 *   a full table is ENOSPC for the caller, never a crash.
 */
#ifndef SHOAL_SHM_ATOM_H
#define SHOAL_SHM_ATOM_H

#include "shm/segment.h"

/* Bytes of the atom area's index for `cap` atoms: the area must be larger
 * (the rest holds the names); shm_layout_compute checks it. */
uint64_t atom_index_bytes(uint32_t cap);

/* Prepare the atom area of a new segment (supervisor only). */
void atom_init(shm_header_t *h);

/* Index of the atom `name` (len bytes), adding it if new. Any process.
 * Returns -1 with errno ENOSPC when the table is full. */
int64_t atom_intern(shm_header_t *h, const char *name, size_t len);

/* Index of an existing atom, or -1. Any process. */
int64_t atom_find(const shm_header_t *h, const char *name, size_t len);

/* Name and length of atom `i`. Any process. */
const char *atom_name(const shm_header_t *h, uint32_t i, size_t *len);

/* The order of atoms i and j (-1, 0, 1): their names' bytes, then their
 * lengths, as LANGUAGE.md orders atoms; the first 8 bytes are one
 * compare of a word the table keeps. Any process. */
int atom_order(const shm_header_t *h, uint32_t i, uint32_t j);

/* Entries taken, including the holes of adds that died unpublished. */
uint32_t atom_count(const shm_header_t *h);

/* Check the table: every published atom whole and found under its own
 * name, once. For tests: NULL, or what is wrong. */
const char *atom_check(const shm_header_t *h);

#endif
