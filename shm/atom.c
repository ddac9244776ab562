/*
 * atom.c: the atom table (see atom.h for who writes it and how).
 *
 * Layout of the atom area: a header, an open-addressing hash index of
 * atom indices (0 = empty, else index + 1), the entries (offset and length
 * of each name), then the name bytes.
 *
 * Adding an atom: reserve an entry (a CAS on count) and room for the name
 * (a CAS on bytes_used), fill both, then CAS the first empty bucket of the
 * name's probe sequence from 0 to the index + 1 (release). A lost CAS
 * means another atom took that bucket: if it is this name, its number is
 * the answer (our entry stays a hole); else probing goes on. Buckets are
 * twice the entries, so a probe always ends.
 */
#include "shm/atom.h"

#include <ck_pr.h>
#include <errno.h>
#include <string.h>

typedef struct atom_entry {
    uint32_t off, len;
    uint64_t ord; /* the name's first 8 bytes, big-endian, zeros past its end:
                   * atom_order compares these first (BEAM caches a prefix too) */
} atom_entry_t;

typedef struct atom_area {
    uint32_t count, cap, nbuckets, pad;
    uint64_t bytes_used, bytes_cap;
} atom_area_t;

static atom_area_t *area(const shm_header_t *h)
{
    return shm_at(h, h->layout.atom_off);
}

static uint32_t *buckets(atom_area_t *a)
{
    return (uint32_t *)(a + 1);
}

static atom_entry_t *entries(atom_area_t *a)
{
    return (atom_entry_t *)(buckets(a) + a->nbuckets);
}

static char *names(atom_area_t *a)
{
    return (char *)(entries(a) + a->cap);
}

static uint32_t hash(const char *s, size_t len)
{
    uint32_t x = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        x = (x ^ (uint8_t)s[i]) * 16777619u;
    return x;
}

static uint32_t buckets_for(uint32_t cap)
{
    uint32_t nb = 1;
    while (nb < cap * 2)
        nb <<= 1;
    return nb;
}

uint64_t atom_index_bytes(uint32_t cap)
{
    return sizeof(atom_area_t) + (uint64_t)buckets_for(cap) * 4 + (uint64_t)cap * sizeof(atom_entry_t);
}

void atom_init(shm_header_t *h)
{
    atom_area_t *a = area(h);
    a->cap = h->cfg.atom_cap;
    a->nbuckets = buckets_for(a->cap);
    a->count = 0;
    uint64_t fixed = atom_index_bytes(a->cap);
    a->bytes_cap = h->cfg.atom_bytes > fixed ? h->cfg.atom_bytes - fixed : 0;
    a->bytes_used = 0;
    memset(buckets(a), 0, (size_t)a->nbuckets * 4);
}

/* Whether bucket value b (nonzero) names `name`. */
static bool names_it(atom_area_t *a, uint32_t b, const char *name, size_t len)
{
    /* Acquire: the entry and its bytes were written before the bucket. */
    ck_pr_fence_load();
    atom_entry_t *e = &entries(a)[b - 1];
    return e->len == len && memcmp(names(a) + e->off, name, len) == 0;
}

/* The bucket holding `name`, or the first empty one of its probe. */
static uint32_t *slot_of(atom_area_t *a, const char *name, size_t len)
{
    uint32_t mask = a->nbuckets - 1;
    for (uint32_t i = hash(name, len) & mask;; i = (i + 1) & mask) {
        uint32_t b = ck_pr_load_32(&buckets(a)[i]);
        if (b == 0 || names_it(a, b, name, len))
            return &buckets(a)[i];
    }
}

int64_t atom_find(const shm_header_t *h, const char *name, size_t len)
{
    atom_area_t *a = area(h);
    uint32_t b = ck_pr_load_32(slot_of(a, name, len));
    return b ? (int64_t)b - 1 : -1;
}

/* Reserve n of a counter that must stay within cap: its old value, or -1. */
static int64_t reserve_32(uint32_t *counter, uint32_t n, uint32_t cap)
{
    uint32_t c;
    do {
        c = ck_pr_load_32(counter);
        if (c > cap || cap - c < n)
            return -1;
    } while (!ck_pr_cas_32(counter, c, c + n));
    return c;
}

static int64_t reserve_64(uint64_t *counter, uint64_t n, uint64_t cap)
{
    uint64_t c;
    do {
        c = ck_pr_load_64(counter);
        if (c > cap || cap - c < n)
            return -1;
    } while (!ck_pr_cas_64(counter, c, c + n));
    return (int64_t)c;
}

int64_t atom_intern(shm_header_t *h, const char *name, size_t len)
{
    atom_area_t *a = area(h);
    uint32_t *s = slot_of(a, name, len);
    uint32_t b = ck_pr_load_32(s);
    if (b)
        return (int64_t)b - 1;
    if (len > UINT32_MAX) {
        errno = ENOSPC;
        return -1;
    }
    /* Relaxed CASes: the reservations only need to be unique; what they
     * reserve is published by the release below. */
    int64_t idx = reserve_32(&a->count, 1, a->cap);
    int64_t off = idx < 0 ? -1 : reserve_64(&a->bytes_used, len + 1, a->bytes_cap);
    if (off < 0) {
        errno = ENOSPC;
        return -1;
    }
    atom_entry_t *e = &entries(a)[idx];
    memcpy(names(a) + off, name, len);
    names(a)[off + len] = 0;
    e->off = (uint32_t)off;
    e->len = (uint32_t)len;
    uint64_t ord = 0;
    for (size_t k = 0; k < 8; k++)
        ord = ord << 8 | (k < len ? (uint8_t)name[k] : 0);
    e->ord = ord;
    uint32_t mask = a->nbuckets - 1;
    for (uint32_t i = (uint32_t)(s - buckets(a));; i = (i + 1) & mask) {
        /* Release: the entry and the name are visible before the bucket
         * that publishes them. */
        ck_pr_fence_store();
        if (ck_pr_cas_32(&buckets(a)[i], 0, (uint32_t)idx + 1))
            return idx;
        b = ck_pr_load_32(&buckets(a)[i]);
        if (names_it(a, b, name, len))
            return (int64_t)b - 1; /* another VM added it first */
    }
}

const char *atom_name(const shm_header_t *h, uint32_t i, size_t *len)
{
    atom_area_t *a = area(h);
    atom_entry_t *e = &entries(a)[i];
    if (len)
        *len = e->len;
    return names(a) + e->off;
}

int atom_order(const shm_header_t *h, uint32_t i, uint32_t j)
{
    atom_area_t *a = area(h);
    const atom_entry_t *x = &entries(a)[i], *y = &entries(a)[j];
    /* Names that differ in their first 8 bytes are ordered by those (a
     * shorter name's missing bytes read as zeros, below any byte a longer
     * one has there, or equal to a zero byte, when the lengths decide). */
    if (x->ord != y->ord)
        return x->ord < y->ord ? -1 : 1;
    uint32_t n = x->len < y->len ? x->len : y->len;
    if (n > 8) {
        const unsigned char *p = (const unsigned char *)names(a) + x->off;
        const unsigned char *q = (const unsigned char *)names(a) + y->off;
        for (uint32_t k = 8; k < n; k++)
            if (p[k] != q[k])
                return p[k] < q[k] ? -1 : 1;
    }
    return (x->len > y->len) - (x->len < y->len);
}

uint32_t atom_count(const shm_header_t *h)
{
    return ck_pr_load_32(&area(h)->count);
}

const char *atom_check(const shm_header_t *h)
{
    atom_area_t *a = area(h);
    uint32_t published = 0;
    for (uint32_t i = 0; i < a->nbuckets; i++) {
        uint32_t b = ck_pr_load_32(&buckets(a)[i]);
        if (b == 0)
            continue;
        if (b - 1 >= ck_pr_load_32(&a->count))
            return "a bucket names an entry past the count";
        atom_entry_t *e = &entries(a)[b - 1];
        if ((uint64_t)e->off + e->len >= ck_pr_load_64(&a->bytes_used))
            return "an entry's name lies past the bytes in use";
        if (atom_find(h, names(a) + e->off, e->len) != (int64_t)b - 1)
            return "a published atom is not found under its own name";
        published++;
    }
    if (published > ck_pr_load_32(&a->count))
        return "more atoms published than entries";
    return NULL;
}
