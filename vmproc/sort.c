/*
 * sort.c: a stable bottom-up merge sort (see sort.h).
 *
 * Runs of SORT_RUN elements are first sorted by insertion, then merged
 * pairwise, doubling, between the array and a scratch copy. Elements are
 * moved with memcpy of a size known per call; the common sizes (8 and 24
 * bytes: a term, a map entry) get their own copy so the compiler inlines
 * it.
 */
#include "vmproc/sort.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Insertion sort pays off below about this many elements (measured on
 * term arrays: 8 to 32 all within 5%). */
#define SORT_RUN 16

static inline void move(void *dst, const void *src, size_t size)
{
    if (size == 8)
        memcpy(dst, src, 8);
    else if (size == 24)
        memcpy(dst, src, 24);
    else
        memcpy(dst, src, size);
}

static void insertion(char *a, size_t n, size_t size, sort_cmp_fn cmp, void *ctx, char *tmp)
{
    for (size_t i = 1; i < n; i++) {
        size_t j = i;
        if (cmp(a + (j - 1) * size, a + i * size, ctx) <= 0)
            continue;
        move(tmp, a + i * size, size);
        while (j > 0 && cmp(a + (j - 1) * size, tmp, ctx) > 0) {
            move(a + j * size, a + (j - 1) * size, size);
            j--;
        }
        move(a + j * size, tmp, size);
    }
}

/* Merge the sorted runs src[lo, mid) and src[mid, hi) into dst[lo, hi). */
static void merge(const char *src, char *dst, size_t lo, size_t mid, size_t hi, size_t size,
                  sort_cmp_fn cmp, void *ctx)
{
    size_t i = lo, j = mid, k = lo;
    while (i < mid && j < hi) {
        /* <= 0 takes from the left on ties: stable */
        if (cmp(src + i * size, src + j * size, ctx) <= 0)
            move(dst + k++ * size, src + i++ * size, size);
        else
            move(dst + k++ * size, src + j++ * size, size);
    }
    memcpy(dst + k * size, src + i * size, (mid - i) * size);
    k += mid - i;
    memcpy(dst + k * size, src + j * size, (hi - j) * size);
}

int sort_stable(void *base, size_t n, size_t size, sort_cmp_fn cmp, void *ctx)
{
    char *a = base;
    char one[64];
    char *tmp1 = size <= sizeof one ? one : malloc(size);
    if (!tmp1) {
        errno = ENOMEM;
        return -1;
    }
    for (size_t lo = 0; lo < n; lo += SORT_RUN)
        insertion(a + lo * size, n - lo < SORT_RUN ? n - lo : SORT_RUN, size, cmp, ctx, tmp1);
    if (tmp1 != one)
        free(tmp1);
    if (n <= SORT_RUN)
        return 0;
    /* small sorts (a map of 33 keys becoming a trie) need no memory */
    char local[2048];
    char *scratch = n * size <= sizeof local ? local : malloc(n * size);
    if (!scratch) {
        errno = ENOMEM;
        return -1;
    }
    char *src = a, *dst = scratch;
    for (size_t w = SORT_RUN; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n;
            size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
            merge(src, dst, lo, mid, hi, size, cmp, ctx);
        }
        char *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * size);
    if (scratch != local)
        free(scratch);
    return 0;
}
