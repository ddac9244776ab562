/*
 * atom.c: the atom table (see atom.h for who writes it).
 *
 * Layout of the atom area: a header, an open-addressing hash index of
 * atom indices (0 = empty, else index + 1), the entries (offset and length
 * of each name), then the name bytes.
 */
#include "shm/atom.h"

#include <errno.h>
#include <string.h>

typedef struct atom_entry {
    uint32_t off, len;
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

static uint32_t *slot_of(atom_area_t *a, const char *name, size_t len)
{
    uint32_t mask = a->nbuckets - 1;
    for (uint32_t i = hash(name, len) & mask;; i = (i + 1) & mask) {
        uint32_t b = buckets(a)[i];
        if (b == 0)
            return &buckets(a)[i];
        atom_entry_t *e = &entries(a)[b - 1];
        if (e->len == len && memcmp(names(a) + e->off, name, len) == 0)
            return &buckets(a)[i];
    }
}

int64_t atom_find(const shm_header_t *h, const char *name, size_t len)
{
    atom_area_t *a = area(h);
    uint32_t b = *slot_of(a, name, len);
    return b ? (int64_t)b - 1 : -1;
}

int64_t atom_intern(shm_header_t *h, const char *name, size_t len)
{
    atom_area_t *a = area(h);
    uint32_t *s = slot_of(a, name, len);
    if (*s)
        return (int64_t)*s - 1;
    if (a->count == a->cap || a->bytes_used + len + 1 > a->bytes_cap || len > UINT32_MAX) {
        errno = ENOSPC;
        return -1;
    }
    atom_entry_t *e = &entries(a)[a->count];
    e->off = (uint32_t)a->bytes_used;
    e->len = (uint32_t)len;
    memcpy(names(a) + e->off, name, len);
    names(a)[e->off + len] = 0;
    a->bytes_used += len + 1;
    *s = ++a->count;
    return (int64_t)a->count - 1;
}

const char *atom_name(const shm_header_t *h, uint32_t i, size_t *len)
{
    atom_area_t *a = area(h);
    atom_entry_t *e = &entries(a)[i];
    if (len)
        *len = e->len;
    return names(a) + e->off;
}

uint32_t atom_count(const shm_header_t *h)
{
    return area(h)->count;
}
