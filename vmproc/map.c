/*
 * map.c: persistent canonical maps (map.h has the layouts and why).
 *
 * An update copies the path from the root to the node it changes (at
 * most 17 nodes of at most 35 words, ~5 nodes for a million keys) and
 * shares everything else with the old map. Walks down a trie are loops;
 * the few recursive helpers recurse once per level of a trie, so at most
 * MAP_DEPTH + 1 deep, never with the size of a map.
 */
#include "vmproc/map.h"

#include "vmproc/sort.h"
#include "vmproc/termio.h"
#include "vmproc/wstack.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

/* Levels of 4-bit digits in a 64-bit hash; below them, collision nodes. */
#define MAP_DEPTH 16

/* ------------------------------------------------------------------ */
/* layouts                                                             */

static inline unsigned layout_of(const term *n)
{
    return (unsigned)(n[1] & 3u);
}

static inline unsigned dmap(const term *n)
{
    return (unsigned)(n[1] >> 32) & 0xffffu;
}

static inline unsigned nmap(const term *n)
{
    return (unsigned)(n[1] >> 48);
}

static inline term node_meta(unsigned dm, unsigned nm)
{
    return MAP_NODE | (term)dm << 32 | (term)nm << 48;
}

/* Bits set in a 16-bit map. Without the popcnt instruction in the target
 * (the default x86-64 one), __builtin_popcount is a call into libgcc:
 * 5% of a run of map operations. These few shifts and adds are inline. */
static inline unsigned pop(unsigned x)
{
#ifdef __POPCNT__
    return (unsigned)__builtin_popcount(x);
#else
    x = x - ((x >> 1) & 0x5555u);
    x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
    x = (x + (x >> 4)) & 0x0f0fu;
    return (x + (x >> 8)) & 0x1fu;
#endif
}

/* Digit d of a hash, from the top: a trie sorted by hash is then sorted
 * digit by digit, which map_build relies on. */
static inline unsigned digit(uint64_t hv, unsigned d)
{
    return (unsigned)(hv >> (60 - 4 * d)) & 15u;
}

static inline uint64_t flat_n(const term *n)
{
    return n[1] >> 2;
}

static inline uint64_t count_of(const term *n)
{
    return layout_of(n) == MAP_FLAT ? flat_n(n) : (uint64_t)fix_val(n[2]);
}

static inline uint64_t words_of(const term *n)
{
    return hdr_words(n[0]);
}

/* The first child of a trie node. */
static inline term *children(term *n)
{
    return n + 3 + 2 * pop(dmap(n));
}

static inline term *take(term **hp, uint64_t words)
{
    term *r = *hp;
    *hp += words;
    return r;
}

uint64_t map_size(term m)
{
    return count_of(box_ptr(m));
}

/* ------------------------------------------------------------------ */
/* keys: equality, order, hash                                         */

static inline bool is_imm_key(term k)
{
    return !is_boxed(k) && !is_cons(k);
}

/* (= a b) for keys: an immediate equals only itself. */
static inline bool keq(term a, term b)
{
    return a == b || (!is_imm_key(a) && !is_imm_key(b) && term_equal(a, b));
}

/* Term order, with the integers' and the atoms' cases (the usual keys)
 * without term_compare's walk. */
static inline int kcmp(const shm_header_t *h, term a, term b)
{
    if (is_fix(a) && is_fix(b))
        return (fix_val(a) > fix_val(b)) - (fix_val(a) < fix_val(b));
    if (is_atom(a) && is_atom(b))
        return atom_compare(h, a, b);
    return term_compare(h, a, b);
}

/* murmur3's finaliser: every input bit moves every output bit, so the
 * top digits of consecutive integers spread over the whole trie. */
static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint64_t float_bits(term t)
{
    double v = float_val(t);
    if (v == 0.0)
        v = 0.0; /* 0.0 = -0.0: the same key */
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits;
}

/* A compound key: every word that (=) looks at, in a fixed walk, with
 * each object's header (type and size) so that shapes cannot collide by
 * construction. */
static uint64_t hash_compound(term t)
{
    uint64_t x = 0x9e3779b97f4a7c15ull;
    wstack_t st;
    wstack_init(&st);
    wstack_push(&st, t);
    while (wstack_pop(&st, &t)) {
        uint64_t v;
        if (is_cons(t)) {
            v = TAG_CONS;
            wstack_push(&st, CDR(t));
            wstack_push(&st, CAR(t));
        } else if (!is_boxed(t)) {
            v = t;
        } else {
            term *b = box_ptr(t);
            unsigned ty = hdr_type(b[0]), from = box_term_start(ty);
            uint64_t n = hdr_words(b[0]);
            if (ty == BT_FLOAT) {
                v = float_bits(t) ^ b[0];
            } else if (ty == BT_STRING) {
                v = XXH3_64bits(str_bytes(t), str_len(t)) ^ b[0];
            } else {
                v = b[0];
                for (uint64_t i = 1; i < from; i++)
                    x = mix64(x ^ b[i]);
                for (uint64_t i = n; from && i-- > from;)
                    wstack_push(&st, b[i]);
            }
        }
        x = mix64(x ^ v);
    }
    wstack_free(&st);
    return x;
}

uint64_t map_hash_mask = ~0ull;

uint64_t map_hash(term key)
{
    uint64_t hv;
    if (is_imm_key(key))
        hv = mix64(key);
    else if (is_float(key))
        hv = mix64(float_bits(key) ^ 0x5bd1e995u);
    else if (is_string(key))
        hv = XXH3_64bits(str_bytes(key), str_len(key));
    else
        hv = hash_compound(key);
    return hv & map_hash_mask;
}

/* ------------------------------------------------------------------ */
/* reading                                                             */

/* A key among the n sorted keys k[]: true and its index, or false and
 * where it would go. */
static bool flat_find(const shm_header_t *h, const term *k, uint64_t n, term key, uint64_t *at)
{
    uint64_t lo = 0, hi = n;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = kcmp(h, k[mid], key);
        if (c == 0) {
            *at = mid;
            return true;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *at = lo;
    return false;
}

/* The index of an immediate key among the c keys k[], or c: it matches
 * only its own word, and a scan of at most 32 words beats ordering atoms
 * by name. */
static inline uint64_t flat_scan(const term *k, uint64_t c, term key)
{
    uint64_t i = 0;
    while (i < c && k[i] != key)
        i++;
    return i;
}

static term flat_get(const shm_header_t *h, const term *n, term key)
{
    uint64_t c = flat_n(n), i;
    const term *k = n + 2;
    if (is_imm_key(key)) {
        i = flat_scan(k, c, key);
        return i < c ? k[c + i] : T_NONE;
    }
    return flat_find(h, k, c, key, &i) ? k[c + i] : T_NONE;
}

/* Index of key in a collision node, or -1. */
static int64_t coll_find(const term *n, term key)
{
    uint64_t c = count_of(n);
    for (uint64_t i = 0; i < c; i++)
        if (keq(n[3 + 2 * i], key))
            return (int64_t)i;
    return -1;
}

term map_get(const shm_header_t *h, term m, term key)
{
    term *n = box_ptr(m);
    if (layout_of(n) == MAP_FLAT)
        return flat_get(h, n, key);
    uint64_t hv = map_hash(key);
    for (unsigned d = 0;; d++) {
        if (layout_of(n) == MAP_COLL) {
            int64_t i = coll_find(n, key);
            return i < 0 ? T_NONE : n[4 + 2 * i];
        }
        unsigned bit = 1u << digit(hv, d), dm = dmap(n), nm = nmap(n);
        if (dm & bit) {
            unsigned i = pop(dm & (bit - 1));
            return keq(n[3 + 2 * i], key) ? n[4 + 2 * i] : T_NONE;
        }
        if (!(nm & bit))
            return T_NONE;
        n = box_ptr(children(n)[pop(nm & (bit - 1))]);
    }
}

/* ------------------------------------------------------------------ */
/* bulk building                                                       */

typedef struct cmp_ctx {
    const shm_header_t *h;
} cmp_ctx_t;

static int cmp_hash_key(const void *a, const void *b, void *ctx)
{
    const map_entry_t *x = a, *y = b;
    if (x->hash != y->hash)
        return x->hash < y->hash ? -1 : 1;
    return kcmp(((cmp_ctx_t *)ctx)->h, x->key, y->key);
}

static int cmp_key(const void *a, const void *b, void *ctx)
{
    const map_entry_t *x = a, *y = b;
    return kcmp(((cmp_ctx_t *)ctx)->h, x->key, y->key);
}

ssize_t map_prepare(const shm_header_t *h, map_entry_t *e, size_t n)
{
    cmp_ctx_t ctx = {h};
    for (size_t i = 0; i < n; i++)
        e[i].hash = map_hash(e[i].key);
    if (sort_stable(e, n, sizeof *e, cmp_hash_key, &ctx) < 0)
        return -1;
    /* equal keys are neighbours now, in their first order: keep the last */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k > 0 && e[k - 1].hash == e[i].hash && keq(e[k - 1].key, e[i].key))
            e[k - 1] = e[i];
        else
            e[k++] = e[i];
    }
    if (k <= MAP_FLAT_MAX && sort_stable(e, k, sizeof *e, cmp_key, &ctx) < 0)
        return -1;
    return (ssize_t)k;
}

/* The end of the run of entries from i that share digit d. */
static size_t run_end(const map_entry_t *e, size_t i, size_t hi, unsigned d)
{
    unsigned f = digit(e[i].hash, d);
    size_t j = i + 1;
    while (j < hi && digit(e[j].hash, d) == f)
        j++;
    return j;
}

static uint64_t trie_words(const map_entry_t *e, size_t lo, size_t hi, unsigned d)
{
    if (d == MAP_DEPTH)
        return 3 + 2 * (uint64_t)(hi - lo);
    uint64_t w = 3;
    for (size_t i = lo; i < hi;) {
        size_t j = run_end(e, i, hi, d);
        w += j - i == 1 ? 2 : 1 + trie_words(e, i, j, d + 1);
        i = j;
    }
    return w;
}

uint64_t map_build_words(const map_entry_t *e, size_t n)
{
    return n <= MAP_FLAT_MAX ? 2 + 2 * (uint64_t)n : trie_words(e, 0, n, 0);
}

static term build_flat(const map_entry_t *e, size_t n, term **hp)
{
    term *m = take(hp, 2 + 2 * (uint64_t)n);
    m[0] = mk_hdr(2 + 2 * (uint64_t)n, BT_MAP);
    m[1] = MAP_FLAT | (term)n << 2;
    for (size_t i = 0; i < n; i++) {
        m[2 + i] = e[i].key;
        m[2 + n + i] = e[i].value;
    }
    return mk_box(m);
}

/* The trie of entries e[lo, hi) (sorted by hash, then key; two or more)
 * below digit d. */
static term build_trie(const map_entry_t *e, size_t lo, size_t hi, unsigned d, term **hp)
{
    uint64_t c = hi - lo;
    if (d == MAP_DEPTH) {
        /* one full hash: the entries are in key order already */
        term *n = take(hp, 3 + 2 * c);
        n[0] = mk_hdr(3 + 2 * c, BT_MAP);
        n[1] = MAP_COLL;
        n[2] = mk_fix((int64_t)c);
        for (uint64_t i = 0; i < c; i++) {
            n[3 + 2 * i] = e[lo + i].key;
            n[4 + 2 * i] = e[lo + i].value;
        }
        return mk_box(n);
    }
    unsigned dm = 0, nm = 0;
    for (size_t i = lo; i < hi;) {
        size_t j = run_end(e, i, hi, d);
        if (j - i == 1)
            dm |= 1u << digit(e[i].hash, d);
        else
            nm |= 1u << digit(e[i].hash, d);
        i = j;
    }
    uint64_t w = 3 + 2 * pop(dm) + pop(nm);
    term *n = take(hp, w);
    n[0] = mk_hdr(w, BT_MAP);
    n[1] = node_meta(dm, nm);
    n[2] = mk_fix((int64_t)c);
    term *pair = n + 3, *child = children(n);
    for (size_t i = lo; i < hi;) {
        size_t j = run_end(e, i, hi, d);
        if (j - i == 1) {
            *pair++ = e[i].key;
            *pair++ = e[i].value;
        } else {
            *child++ = build_trie(e, i, j, d + 1, hp);
        }
        i = j;
    }
    return mk_box(n);
}

term map_build(const map_entry_t *e, size_t n, term **hp)
{
    return n <= MAP_FLAT_MAX ? build_flat(e, n, hp) : build_trie(e, 0, n, 0, hp);
}

/* ------------------------------------------------------------------ */
/* walking                                                             */

static map_entry_t *collect(term *n, map_entry_t *e)
{
    if (layout_of(n) == MAP_FLAT) {
        uint64_t c = flat_n(n);
        for (uint64_t i = 0; i < c; i++) {
            e->key = n[2 + i];
            e->value = n[2 + c + i];
            e++;
        }
        return e;
    }
    uint64_t nd = layout_of(n) == MAP_COLL ? count_of(n) : pop(dmap(n));
    for (uint64_t i = 0; i < nd; i++) {
        e->key = n[3 + 2 * i];
        e->value = n[4 + 2 * i];
        e++;
    }
    if (layout_of(n) == MAP_NODE) {
        unsigned nn = pop(nmap(n));
        for (unsigned j = 0; j < nn; j++)
            e = collect(box_ptr(children(n)[j]), e);
    }
    return e;
}

void map_entries(term m, map_entry_t *e)
{
    collect(box_ptr(m), e);
}

/* Entries whose keys are all integers, in key order: a radix sort by
 * bytes of the key word, least significant first (integer words order
 * as the integers do once the sign bit is flipped), skipping the bytes
 * every key shares, so small keys take two passes. The keys are distinct;
 * the entries go to tmp and back. */
static void sort_int_keys(map_entry_t *e, map_entry_t *tmp, size_t n)
{
    const uint64_t flip = 1ull << 63;
    map_entry_t *src = e, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t at[256] = {0};
        for (size_t i = 0; i < n; i++)
            at[((src[i].key ^ flip) >> shift) & 0xff]++;
        if (at[((src[0].key ^ flip) >> shift) & 0xff] == n)
            continue;
        for (size_t b = 0, sum = 0; b < 256; b++) {
            size_t c = at[b];
            at[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[at[((src[i].key ^ flip) >> shift) & 0xff]++] = src[i];
        map_entry_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != e)
        memcpy(e, src, n * sizeof *e);
}

int map_sorted(const shm_header_t *h, term m, term *keys, term *vals)
{
    term *n = box_ptr(m);
    uint64_t c = count_of(n);
    if (layout_of(n) == MAP_FLAT) {
        if (keys)
            memcpy(keys, n + 2, c * sizeof(term));
        if (vals)
            memcpy(vals, n + 2 + c, c * sizeof(term));
        return 0;
    }
    map_entry_t *e = malloc(c * sizeof *e);
    if (!e) {
        errno = ENOMEM;
        return -1;
    }
    collect(n, e);
    bool ints = true;
    for (uint64_t i = 0; i < c && ints; i++)
        ints = is_fix(e[i].key);
    map_entry_t *tmp = ints ? malloc(c * sizeof *tmp) : NULL;
    if (tmp) {
        sort_int_keys(e, tmp, c);
        free(tmp);
    } else {
        cmp_ctx_t ctx = {h};
        if (sort_stable(e, c, sizeof *e, cmp_key, &ctx) < 0) {
            free(e);
            return -1;
        }
    }
    for (uint64_t i = 0; i < c; i++) {
        if (keys)
            keys[i] = e[i].key;
        if (vals)
            vals[i] = e[i].value;
    }
    free(e);
    return 0;
}

/* ------------------------------------------------------------------ */
/* updating: node copies                                               */

/* n with the value of pair i replaced. */
static term set_value(const term *n, uint64_t i, term value, term **hp)
{
    uint64_t w = words_of(n);
    term *r = take(hp, w);
    memcpy(r, n, w * sizeof(term));
    r[4 + 2 * i] = value;
    return mk_box(r);
}

/* A trie node with a new pair at `bit`. */
static term insert_pair(const term *n, unsigned bit, term key, term value, term **hp)
{
    unsigned dm = dmap(n), nm = nmap(n), i = pop(dm & (bit - 1)), nd = pop(dm);
    uint64_t w = words_of(n) + 2;
    term *r = take(hp, w);
    r[0] = mk_hdr(w, BT_MAP);
    r[1] = node_meta(dm | bit, nm);
    r[2] = mk_fix(fix_val(n[2]) + 1);
    memcpy(r + 3, n + 3, 2 * i * sizeof(term));
    r[3 + 2 * i] = key;
    r[4 + 2 * i] = value;
    memcpy(r + 5 + 2 * i, n + 3 + 2 * i, (2 * (nd - i) + pop(nm)) * sizeof(term));
    return mk_box(r);
}

/* A trie node with the pair at `bit` removed (count - 1). */
static term remove_pair(const term *n, unsigned bit, term **hp)
{
    unsigned dm = dmap(n), i = pop(dm & (bit - 1));
    uint64_t w = words_of(n) - 2;
    term *r = take(hp, w);
    r[0] = mk_hdr(w, BT_MAP);
    r[1] = node_meta(dm & ~bit, nmap(n));
    r[2] = mk_fix(fix_val(n[2]) - 1);
    memcpy(r + 3, n + 3, 2 * i * sizeof(term));
    memcpy(r + 3 + 2 * i, n + 5 + 2 * i, (w - 3 - 2 * i) * sizeof(term));
    return mk_box(r);
}

/* A trie node whose pair at `bit` became the child `sub` (count + 1: sub
 * holds that pair and a new one). */
static term pair_to_child(const term *n, unsigned bit, term sub, term **hp)
{
    unsigned dm = dmap(n), nm = nmap(n), i = pop(dm & (bit - 1)), nd = pop(dm);
    unsigned j = pop(nm & (bit - 1)), nn = pop(nm);
    uint64_t w = words_of(n) - 1;
    term *r = take(hp, w);
    r[0] = mk_hdr(w, BT_MAP);
    r[1] = node_meta(dm & ~bit, nm | bit);
    r[2] = mk_fix(fix_val(n[2]) + 1);
    term *src = (term *)n + 3, *dst = r + 3;
    memcpy(dst, src, 2 * i * sizeof(term));
    memcpy(dst + 2 * i, src + 2 * (i + 1), 2 * (nd - i - 1) * sizeof(term));
    const term *oc = n + 3 + 2 * nd;
    term *nc = r + 3 + 2 * (nd - 1);
    memcpy(nc, oc, j * sizeof(term));
    nc[j] = sub;
    memcpy(nc + j + 1, oc + j, (nn - j) * sizeof(term));
    return mk_box(r);
}

/* A trie node whose child at `bit` folded into the pair (key, value)
 * (count - 1: the child lost a key). */
static term child_to_pair(const term *n, unsigned bit, term key, term value, term **hp)
{
    unsigned dm = dmap(n), nm = nmap(n), i = pop(dm & (bit - 1)), nd = pop(dm);
    unsigned j = pop(nm & (bit - 1)), nn = pop(nm);
    uint64_t w = words_of(n) + 1;
    term *r = take(hp, w);
    r[0] = mk_hdr(w, BT_MAP);
    r[1] = node_meta(dm | bit, nm & ~bit);
    r[2] = mk_fix(fix_val(n[2]) - 1);
    memcpy(r + 3, n + 3, 2 * i * sizeof(term));
    r[3 + 2 * i] = key;
    r[4 + 2 * i] = value;
    memcpy(r + 5 + 2 * i, n + 3 + 2 * i, 2 * (nd - i) * sizeof(term));
    const term *oc = n + 3 + 2 * nd;
    term *nc = r + 3 + 2 * (nd + 1);
    memcpy(nc, oc, j * sizeof(term));
    memcpy(nc + j, oc + j + 1, (nn - j - 1) * sizeof(term));
    return mk_box(r);
}

/* A trie node with its child at `bit` replaced, and `delta` keys more. */
static term set_child(const term *n, unsigned bit, term child, int delta, term **hp)
{
    uint64_t w = words_of(n);
    term *r = take(hp, w);
    memcpy(r, n, w * sizeof(term));
    r[2] = mk_fix(fix_val(n[2]) + delta);
    children(r)[pop(nmap(n) & (bit - 1))] = child;
    return mk_box(r);
}

/* The trie of two keys below digit d (their hashes agree above it). */
static term two_keys(const shm_header_t *h, term k1, uint64_t h1, term v1, term k2, uint64_t h2,
                     term v2, unsigned d, term **hp)
{
    if (d == MAP_DEPTH) {
        term *n = take(hp, 7);
        bool first = kcmp(h, k1, k2) < 0;
        n[0] = mk_hdr(7, BT_MAP);
        n[1] = MAP_COLL;
        n[2] = mk_fix(2);
        n[3] = first ? k1 : k2;
        n[4] = first ? v1 : v2;
        n[5] = first ? k2 : k1;
        n[6] = first ? v2 : v1;
        return mk_box(n);
    }
    unsigned f1 = digit(h1, d), f2 = digit(h2, d);
    if (f1 == f2) {
        term *n = take(hp, 4);
        n[0] = mk_hdr(4, BT_MAP);
        n[1] = node_meta(0, 1u << f1);
        n[2] = mk_fix(2);
        n[3] = two_keys(h, k1, h1, v1, k2, h2, v2, d + 1, hp);
        return mk_box(n);
    }
    term *n = take(hp, 7);
    bool first = f1 < f2;
    n[0] = mk_hdr(7, BT_MAP);
    n[1] = node_meta((1u << f1) | (1u << f2), 0);
    n[2] = mk_fix(2);
    n[3] = first ? k1 : k2;
    n[4] = first ? v1 : v2;
    n[5] = first ? k2 : k1;
    n[6] = first ? v2 : v1;
    return mk_box(n);
}

/* Words of the two_keys trie below digit d (at most MAP_DEPTH), at most. */
static uint64_t two_keys_words(unsigned d)
{
    SHOAL_ASSERT(d <= MAP_DEPTH, "two keys part above the collision nodes");
    return 4 * (uint64_t)(MAP_DEPTH - d) + 7;
}

/* A collision node with key set to value; T_NONE if it is there already
 * with that very value. */
static term coll_put(const shm_header_t *h, const term *n, term key, term value, term **hp,
                     int *added)
{
    int64_t at = coll_find(n, key);
    if (at >= 0) {
        *added = 0;
        return n[4 + 2 * at] == value ? T_NONE : set_value(n, (uint64_t)at, value, hp);
    }
    uint64_t c = count_of(n), i = 0;
    while (i < c && kcmp(h, n[3 + 2 * i], key) < 0)
        i++;
    term *r = take(hp, words_of(n) + 2);
    r[0] = mk_hdr(words_of(n) + 2, BT_MAP);
    r[1] = MAP_COLL;
    r[2] = mk_fix((int64_t)c + 1);
    memcpy(r + 3, n + 3, 2 * i * sizeof(term));
    r[3 + 2 * i] = key;
    r[4 + 2 * i] = value;
    memcpy(r + 5 + 2 * i, n + 3 + 2 * i, 2 * (c - i) * sizeof(term));
    *added = 1;
    return mk_box(r);
}

/* ------------------------------------------------------------------ */
/* updating: flat maps                                                 */

/* Whether the room [*hp, lim) holds `words`; if not, *need says it. */
static bool fits(term **hp, const term *lim, uint64_t words, uint64_t *need)
{
    if ((uint64_t)(lim - *hp) >= words)
        return true;
    *need = words;
    return false;
}

/* The entries, ready for map_build, of a flat map of MAP_FLAT_MAX keys
 * with one more: the trie it becomes. */
static void grown(const shm_header_t *h, term m, term key, term value, map_entry_t *e)
{
    map_entries(m, e);
    e[MAP_FLAT_MAX].key = key;
    e[MAP_FLAT_MAX].value = value;
    /* 33 entries sort without memory (sort.h): this cannot fail */
    ssize_t ne = map_prepare(h, e, MAP_FLAT_MAX + 1);
    SHOAL_ASSERT(ne == MAP_FLAT_MAX + 1, "33 distinct keys");
    (void)ne;
}

static term flat_put(const shm_header_t *h, term m, term key, term value, term **hp,
                     const term *lim, uint64_t *need)
{
    const term *n = box_ptr(m);
    uint64_t c = flat_n(n), i;
    const term *k = n + 2;
    /* a key already there found by flat_get's scan; only a new key needs
     * the place that the order gives */
    bool found = is_imm_key(key) ? (i = flat_scan(k, c, key)) < c || flat_find(h, k, c, key, &i)
                                 : flat_find(h, k, c, key, &i);
    if (found) {
        if (k[c + i] == value)
            return m;
        if (!fits(hp, lim, words_of(n), need))
            return T_NONE;
        term *r = take(hp, words_of(n));
        memcpy(r, n, words_of(n) * sizeof(term));
        r[2 + c + i] = value;
        return mk_box(r);
    }
    if (c == MAP_FLAT_MAX) {
        /* the 33rd key: the map becomes a trie */
        map_entry_t e[MAP_FLAT_MAX + 1];
        grown(h, m, key, value, e);
        if (!fits(hp, lim, map_build_words(e, MAP_FLAT_MAX + 1), need))
            return T_NONE;
        return map_build(e, MAP_FLAT_MAX + 1, hp);
    }
    uint64_t w = 2 + 2 * (c + 1);
    if (!fits(hp, lim, w, need))
        return T_NONE;
    term *r = take(hp, w);
    r[0] = mk_hdr(w, BT_MAP);
    r[1] = MAP_FLAT | (c + 1) << 2;
    term *rk = r + 2, *rv = r + 2 + c + 1;
    memcpy(rk, k, i * sizeof(term));
    rk[i] = key;
    memcpy(rk + i + 1, k + i, (c - i) * sizeof(term));
    memcpy(rv, k + c, i * sizeof(term));
    rv[i] = value;
    memcpy(rv + i + 1, k + c + i, (c - i) * sizeof(term));
    return mk_box(r);
}

static term flat_remove(const shm_header_t *h, term m, term key, term **hp, const term *lim,
                        uint64_t *need)
{
    const term *n = box_ptr(m);
    uint64_t c = flat_n(n), i;
    const term *k = n + 2;
    if (!flat_find(h, k, c, key, &i))
        return m;
    uint64_t w = 2 + 2 * (c - 1);
    if (!fits(hp, lim, w, need))
        return T_NONE;
    term *r = take(hp, w);
    r[0] = mk_hdr(w, BT_MAP);
    r[1] = MAP_FLAT | (c - 1) << 2;
    term *rk = r + 2, *rv = r + 2 + c - 1;
    memcpy(rk, k, i * sizeof(term));
    memcpy(rk + i, k + i + 1, (c - i - 1) * sizeof(term));
    memcpy(rv, k + c, i * sizeof(term));
    memcpy(rv + i, k + c + i + 1, (c - i - 1) * sizeof(term));
    return mk_box(r);
}

/* ------------------------------------------------------------------ */
/* updating: tries                                                     */

/* The walk from the root towards key: the nodes passed and the bit taken
 * in each, and where it stopped. */
typedef struct path {
    term *node[MAP_DEPTH + 1];
    unsigned bit[MAP_DEPTH + 1];
    unsigned depth;     /* of the last node */
    uint64_t words;     /* of all the nodes on it */
} path_t;

enum stop { AT_PAIR, AT_OTHER_PAIR, AT_EMPTY, AT_COLL };

static enum stop descend(term m, term key, uint64_t hv, path_t *p)
{
    term *n = box_ptr(m);
    p->words = 0;
    for (unsigned d = 0;; d++) {
        p->node[d] = n;
        p->depth = d;
        p->words += words_of(n);
        if (layout_of(n) == MAP_COLL)
            return AT_COLL;
        unsigned bit = 1u << digit(hv, d), dm = dmap(n), nm = nmap(n);
        p->bit[d] = bit;
        if (dm & bit)
            return keq(n[3 + 2 * pop(dm & (bit - 1))], key) ? AT_PAIR : AT_OTHER_PAIR;
        if (!(nm & bit))
            return AT_EMPTY;
        n = box_ptr(children(n)[pop(nm & (bit - 1))]);
    }
}

static term trie_put(const shm_header_t *h, term m, term key, term value, term **hp,
                     const term *lim, uint64_t *need)
{
    uint64_t hv = map_hash(key);
    path_t p;
    enum stop s = descend(m, key, hv, &p);
    unsigned d = p.depth;
    term *n = p.node[d];
    unsigned bit = p.bit[d];
    if (s == AT_PAIR && n[4 + 2 * pop(dmap(n) & (bit - 1))] == value)
        return m;
    /* the path copied, a node 2 words larger at most, and, when a pair
     * becomes a child, the chain of nodes its two keys need below it */
    uint64_t chain = s == AT_OTHER_PAIR ? two_keys_words(d + 1) : 0;
    if (!fits(hp, lim, p.words + 2 + chain, need))
        return T_NONE;
    term r;
    int added = 1;
    switch (s) {
    case AT_COLL:
        r = coll_put(h, n, key, value, hp, &added);
        if (r == T_NONE)
            return m;
        break;
    case AT_PAIR: {
        uint64_t i = pop(dmap(n) & (bit - 1));
        r = set_value(n, i, value, hp);
        added = 0;
        break;
    }
    case AT_OTHER_PAIR: {
        uint64_t i = pop(dmap(n) & (bit - 1));
        term k = n[3 + 2 * i];
        term sub = two_keys(h, k, map_hash(k), n[4 + 2 * i], key, hv, value, d + 1, hp);
        r = pair_to_child(n, bit, sub, hp);
        break;
    }
    default:
        r = insert_pair(n, bit, key, value, hp);
        break;
    }
    while (d-- > 0)
        r = set_child(p.node[d], p.bit[d], r, added, hp);
    return r;
}

/* The flat map of a trie's entries but key's (it had MAP_FLAT_MAX + 1). */
static term trie_to_flat(const shm_header_t *h, term m, term key, term **hp)
{
    map_entry_t e[MAP_FLAT_MAX + 1];
    map_entries(m, e);
    size_t k = 0;
    for (size_t i = 0; i < MAP_FLAT_MAX + 1; i++)
        if (!keq(e[i].key, key))
            e[k++] = e[i];
    SHOAL_ASSERT(k == MAP_FLAT_MAX, "the key was in the map");
    cmp_ctx_t ctx = {h};
    /* 32 entries: sort_stable sorts them in place, without scratch */
    sort_stable(e, k, sizeof *e, cmp_key, &ctx);
    return build_flat(e, k, hp);
}

static term trie_remove(const shm_header_t *h, term m, term key, term **hp, const term *lim,
                        uint64_t *need)
{
    uint64_t hv = map_hash(key);
    path_t p;
    enum stop s = descend(m, key, hv, &p);
    unsigned d = p.depth;
    term *n = p.node[d];
    int64_t ci = -1;
    if (s == AT_COLL && (ci = coll_find(n, key)) < 0)
        return m;
    if (s == AT_OTHER_PAIR || s == AT_EMPTY)
        return m;
    /* the path copied, one node a word larger at most; or the flat map
     * the trie becomes */
    if (!fits(hp, lim, p.words + 1 + 2 + 2 * MAP_FLAT_MAX, need))
        return T_NONE;
    if (count_of(box_ptr(m)) == MAP_FLAT_MAX + 1)
        return trie_to_flat(h, m, key, hp);
    /* n loses the key. A node below the root left with one key folds
     * into its parent: that key is `carried` up as a pair (a node of two
     * keys holds two pairs: a child would hold two keys itself). */
    term r = T_NONE, ck = T_NONE, cv = T_NONE;
    bool carry = false;
    if (d > 0 && count_of(n) == 2) {
        carry = true;
        uint64_t other;
        if (s == AT_COLL)
            other = ci == 0 ? 1 : 0;
        else
            other = pop(dmap(n) & (p.bit[d] - 1)) == 0 ? 1 : 0;
        ck = n[3 + 2 * other];
        cv = n[4 + 2 * other];
    } else if (s == AT_COLL) {
        uint64_t c = count_of(n), w = words_of(n) - 2;
        term *t = take(hp, w);
        t[0] = mk_hdr(w, BT_MAP);
        t[1] = MAP_COLL;
        t[2] = mk_fix((int64_t)c - 1);
        memcpy(t + 3, n + 3, 2 * (uint64_t)ci * sizeof(term));
        memcpy(t + 3 + 2 * ci, n + 5 + 2 * ci, 2 * (c - (uint64_t)ci - 1) * sizeof(term));
        r = mk_box(t);
    } else {
        r = remove_pair(n, p.bit[d], hp);
    }
    while (d-- > 0) {
        term *pn = p.node[d];
        if (carry) {
            if (d > 0 && count_of(pn) == 2)
                continue; /* pn held only the carried key and the lost one */
            r = child_to_pair(pn, p.bit[d], ck, cv, hp);
            carry = false;
        } else {
            r = set_child(pn, p.bit[d], r, -1, hp);
        }
    }
    SHOAL_ASSERT(!carry, "the root of a trie keeps more than one key");
    return r;
}

/* ------------------------------------------------------------------ */
/* the interface                                                       */

term map_put(const shm_header_t *h, term m, term key, term value, term **hp, const term *lim,
             uint64_t *need)
{
    if (layout_of(box_ptr(m)) == MAP_FLAT)
        return flat_put(h, m, key, value, hp, lim, need);
    return trie_put(h, m, key, value, hp, lim, need);
}

term map_remove(const shm_header_t *h, term m, term key, term **hp, const term *lim,
                uint64_t *need)
{
    if (layout_of(box_ptr(m)) == MAP_FLAT)
        return flat_remove(h, m, key, hp, lim, need);
    return trie_remove(h, m, key, hp, lim, need);
}

/* ------------------------------------------------------------------ */
/* checking (tests)                                                    */

static const char *check_trie(const shm_header_t *h, const term *n, unsigned d, uint64_t prefix,
                              uint64_t *count)
{
    if (!is_hdr(n[0]) || hdr_type(n[0]) != BT_MAP)
        return "a trie child is not a map node";
    if (d == MAP_DEPTH) {
        if (layout_of(n) != MAP_COLL)
            return "a node below the last digit is not a collision node";
        uint64_t c = count_of(n);
        if (c < 2 || words_of(n) != 3 + 2 * c)
            return "a collision node's size or count is wrong";
        for (uint64_t i = 0; i < c; i++) {
            if (map_hash(n[3 + 2 * i]) != prefix)
                return "a collision node holds a key of another hash";
            if (i > 0 && kcmp(h, n[1 + 2 * i], n[3 + 2 * i]) >= 0)
                return "a collision node's keys are not in term order";
        }
        *count = c;
        return NULL;
    }
    if (layout_of(n) != MAP_NODE)
        return "a trie node above the last digit is not a node";
    unsigned dm = dmap(n), nm = nmap(n);
    if (dm & nm)
        return "a bit is both a pair and a child";
    if (words_of(n) != 3 + 2 * (uint64_t)pop(dm) + pop(nm))
        return "a node's size does not match its bitmaps";
    uint64_t mask = d == 0 ? 0 : ~0ull << (64 - 4 * d);
    uint64_t total = 0;
    unsigned i = 0;
    for (unsigned b = 0; b < 16; b++) {
        if (!(dm & (1u << b)))
            continue;
        uint64_t hv = map_hash(n[3 + 2 * i]);
        if ((hv & mask) != (prefix & mask) || digit(hv, d) != b)
            return "a key is in the wrong place for its hash";
        i++;
        total++;
    }
    unsigned j = 0;
    for (unsigned b = 0; b < 16; b++) {
        if (!(nm & (1u << b)))
            continue;
        term c = children((term *)n)[j++];
        if (!is_boxed(c))
            return "a child is not boxed";
        uint64_t sub;
        /* at the last level this is the keys' whole hash */
        uint64_t pfx = (prefix & mask) | ((uint64_t)b << (60 - 4 * d));
        const char *why = check_trie(h, box_ptr(c), d + 1, pfx, &sub);
        if (why)
            return why;
        if (sub < 2)
            return "a child holds fewer than two keys (not canonical)";
        total += sub;
    }
    if (!is_fix(n[2]) || (uint64_t)fix_val(n[2]) != total)
        return "a node's count is wrong";
    *count = total;
    return NULL;
}

const char *map_check(const shm_header_t *h, term m)
{
    if (!is_map(m))
        return "not a map";
    term *n = box_ptr(m);
    if (layout_of(n) == MAP_FLAT) {
        uint64_t c = flat_n(n);
        if (c > MAP_FLAT_MAX)
            return "a flat map is too large";
        if (words_of(n) != 2 + 2 * c)
            return "a flat map's size is wrong";
        for (uint64_t i = 1; i < c; i++)
            if (kcmp(h, n[1 + i], n[2 + i]) >= 0)
                return "a flat map's keys are not in term order";
        return NULL;
    }
    uint64_t total;
    const char *why = check_trie(h, n, 0, 0, &total);
    if (why)
        return why;
    if (total <= MAP_FLAT_MAX)
        return "a trie holds too few keys (it should be flat)";
    return NULL;
}
