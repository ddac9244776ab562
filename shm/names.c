/*
 * names.c: the name table (see names.h for the rules).
 *
 * Open addressing over twice as many slots as names, probed linearly
 * from the hash of the atom index. Names are never taken out of slots,
 * so a probe never meets a hole where a name used to be: the first empty
 * slot of a probe ends it.
 */
#include "shm/names.h"

#include <ck_pr.h>
#include <string.h>

typedef struct names_area {
    uint32_t nslots;   /* a power of two, twice cfg.name_cap or more */
    uint32_t cap;      /* cfg.name_cap */
    uint32_t used;     /* slots given a name: CAS, never past cap */
    uint32_t pad;
} names_area_t;

static names_area_t *area(const shm_header_t *h)
{
    return shm_at(h, h->layout.names_off);
}

static name_slot_t *slots(const shm_header_t *h)
{
    return (name_slot_t *)(area(h) + 1);
}

static uint32_t slots_for(uint32_t cap)
{
    uint32_t n = 16;
    while (n < 2 * cap)
        n <<= 1;
    return n;
}

uint64_t names_table_bytes(uint32_t cap)
{
    return sizeof(names_area_t) + (uint64_t)slots_for(cap) * sizeof(name_slot_t);
}

void names_table_init(shm_header_t *h)
{
    names_area_t *a = area(h);
    a->cap = h->cfg.name_cap;
    a->nslots = slots_for(a->cap);
    a->used = 0;
    memset(slots(h), 0, (size_t)a->nslots * sizeof(name_slot_t));
}

name_slot_t *names_slot(const shm_header_t *h, uint32_t atom, bool add)
{
    names_area_t *a = area(h);
    uint32_t mask = a->nslots - 1, want = atom + 1;
    uint32_t i = (uint32_t)((atom * 0x9E3779B97F4A7C15ull) >> 40) & mask;
    for (;; i = (i + 1) & mask) {
        name_slot_t *s = &slots(h)[i];
        uint32_t n = ck_pr_load_32(&s->name);
        if (n == want)
            return s;
        if (n != 0)
            continue;
        if (!add)
            return NULL;
        /* Reserve room first, so that at most cap slots ever get a name
         * and a probe always finds an empty slot. A VM that dies between
         * the two CASes loses one name of room, never a slot. Relaxed:
         * the count only bounds. */
        uint32_t u;
        do {
            u = ck_pr_load_32(&a->used);
            if (u >= a->cap)
                return NULL;
        } while (!ck_pr_cas_32(&a->used, u, u + 1));
        for (;; i = (i + 1) & mask) {
            s = &slots(h)[i];
            if (ck_pr_cas_32(&s->name, 0, want))
                return s;
            if (ck_pr_load_32(&s->name) == want) {
                /* another VM named it first: give the room back */
                ck_pr_dec_32(&a->used);
                return s;
            }
        }
    }
}

uint32_t names_count(const shm_header_t *h)
{
    return area(h)->nslots;
}

name_slot_t *names_at(const shm_header_t *h, uint32_t i)
{
    return &slots(h)[i];
}
