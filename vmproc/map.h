/*
 * map.h: maps (LANGUAGE.md, "Maps"), persistent and canonical.
 *
 * A map is a boxed BT_MAP object in a process heap, like a tuple. Small
 * maps are flat; large ones are a hash trie of BT_MAP nodes:
 *
 *   flat (at most MAP_FLAT_MAX keys), as compact as a tuple of the keys
 *   and values:
 *     [hdr][MAP_FLAT | n << 2][k0 ... k(n-1)][v0 ... v(n-1)]
 *     keys ascending in term order, each value under its key's index.
 *   trie node (CHAMP: a hash array mapped trie with separate bitmaps for
 *   entries and children, Steindorfer and Vinju, OOPSLA 2015):
 *     [hdr][MAP_NODE | datamap << 32 | nodemap << 48][count]
 *     [k v pairs, one per datamap bit, in bit order][children, one per
 *     nodemap bit, in bit order]
 *     16 ways: bit b of a node at depth d stands for the keys whose hash
 *     has b as its 4-bit digit d, counted from the top. count is the
 *     number of keys below the node (a small integer).
 *   collision node, below the 16 digits of a 64-bit hash:
 *     [hdr][MAP_COLL][count][k v pairs, keys in term order]
 *
 * Why this design (Erlang: a sorted flat map up to 32 keys, then a HAMT
 * whose leaves are cons cells): the same flat small maps; for large ones
 * CHAMP keeps keys and values inline in the nodes (no cell and pointer
 * per key: 2 words a key instead of 3, and one cache miss fewer on a
 * lookup), and 16 ways as in Erlang, which copies about half the words of
 * 32 ways on an update (a path of ~5 nodes of ~20 words for a million
 * keys). Every map is canonical: its layout is a function of its set of
 * keys alone (flat exactly when it has at most MAP_FLAT_MAX keys; a trie
 * node only for two or more keys; a node emptied down to one key is
 * folded into its parent), whatever order they were added in. So `=`,
 * copying, the collector and hashing (shared-table keys) walk a map like
 * any other boxed object: the layout word is raw data, every word after
 * it a term (term.h, box_term_start).
 *
 * Order: a flat map is in key order already; the walks in key order of a
 * trie (map-keys, map->list, printing, comparing) gather its entries and
 * sort them, O(n log n).
 *
 * NOTES
 *   Owner VM only, on one process's heap (or on terms it may read). No
 *   function here allocates on its own: it builds in room the caller
 *   made, and says how much it needs when that is not enough (the caller
 *   then makes room, which may collect, and asks again). Functions that
 *   take `h` use it to order atoms by name.
 */
#ifndef SHOAL_VMPROC_MAP_H
#define SHOAL_VMPROC_MAP_H

#include "shm/segment.h"
#include "vmproc/term.h"

#include <sys/types.h>

/* Keys in a flat map; one more makes a trie (Erlang's limit too). */
#define MAP_FLAT_MAX 32

enum map_layout { MAP_FLAT = 0, MAP_NODE = 1, MAP_COLL = 2 };

/* The number of keys. */
uint64_t map_size(term m);

/* The hash that places a key in a trie: equal keys (=) hash alike, on
 * every VM. */
uint64_t map_hash(term key);

/* Tests only: every key hash is ANDed with this (all ones unless a test
 * narrows it to make hash collisions, and so deep tries, common). */
extern uint64_t map_hash_mask;

/* The value of key in m, or T_NONE. */
term map_get(const shm_header_t *h, term m, term key);

/* A map like m with key set to value, or without key, built in the
 * words from *hp up to lim (*hp moves past what was used). When nothing
 * changes they return m itself and take nothing. When those words might
 * not be enough they take nothing and return T_NONE with *need set: the
 * caller makes that much room (which may collect: it reads its terms
 * again) and calls again. One walk down the trie, in the common case. */
term map_put(const shm_header_t *h, term m, term key, term value, term **hp, const term *lim,
             uint64_t *need);
term map_remove(const shm_header_t *h, term m, term key, term **hp, const term *lim,
                uint64_t *need);

/* Building a map from many entries at once (map-of, list->map, merging):
 * fill e[i].key and e[i].value, call map_prepare, then map_build_words,
 * make room, and map_build (with the same entries: if a collection moved
 * the terms, prepare them again). */
typedef struct map_entry {
    uint64_t hash;
    term key, value;
} map_entry_t;

/* Hash and order the n entries for map_build, keeping of equal keys only
 * the one that came last. Returns how many are left, or -1 (ENOMEM). */
ssize_t map_prepare(const shm_header_t *h, map_entry_t *e, size_t n);
uint64_t map_build_words(const map_entry_t *e, size_t n);
term map_build(const map_entry_t *e, size_t n, term **hp);

/* The entries of m, map_size(m) of them, in no particular order (hash
 * not set). */
void map_entries(term m, map_entry_t *e);

/* The keys and values of m in key order, into keys[] and vals[] (either
 * may be NULL), map_size(m) each. -1 (ENOMEM) if sorting ran out of
 * memory. */
int map_sorted(const shm_header_t *h, term m, term *keys, term *vals);

/* Check a map's invariants (layout, order, counts, canonical form): for
 * tests. Returns NULL, or what is wrong. */
const char *map_check(const shm_header_t *h, term m);

#endif
