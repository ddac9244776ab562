/*
 * sort.h: a stable merge sort of arrays in private memory, for the
 * builtins that order terms (sort, the ordered walks of large maps).
 *
 * NOTES
 *   Private to the calling VM: the arrays are malloc'd, never in a heap,
 *   so a sort cannot trigger a collection. Bottom-up, no recursion.
 *   Errors: -1 with errno ENOMEM when the scratch array cannot be had.
 */
#ifndef SHOAL_VMPROC_SORT_H
#define SHOAL_VMPROC_SORT_H

#include <stddef.h>

/* Negative, 0 or positive as a sorts before, with or after b. */
typedef int (*sort_cmp_fn)(const void *a, const void *b, void *ctx);

/* Sort n elements of `size` bytes at base, stably (equal elements keep
 * their order). Up to 2 KiB of elements sort without allocating. */
int sort_stable(void *base, size_t n, size_t size, sort_cmp_fn cmp, void *ctx);

#endif
