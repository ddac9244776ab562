/*
 * ets_impl.h: the shared tables' data, shared by ets.c (directory,
 * memory, recovery), ets_hash.c (set tables) and ets_skip.c (ordered
 * tables). Not for other modules: they use ets.h.
 *
 * NOTES (the whole design; each structure says who writes what)
 *   Readers take no lock. Every operation runs inside an epoch critical
 *   section (shm/epoch.h), and memory that a writer unlinks is retired,
 *   not freed, so a reader on another VM never reads memory that has been
 *   freed and reused. Entries never change once published, but for the
 *   value word of an integer value, which update-counter changes with one
 *   CAS: so a reader sees an entry whole, never torn.
 *   Writers take owner-id locks (ets_lock_t: the holder's VM id + 1), one
 *   per stripe of a set table's hash space (ETS_STRIPES), one for an
 *   ordered table, one for resizing a set table, one for the directory.
 *   Under a lock, each step that others can see is one store, and a
 *   journal in the lock (op, operands, the count before) names the step in
 *   progress, so that recovery (the dead VM's next incarnation, before it
 *   touches a table: vmproc/recover.c) finishes or undoes it.
 *   Memory: entries and small arrays are slab slots (shm/slab.h); larger
 *   ones are pool runs, owned by the allocating VM until published (so
 *   the pool's recovery frees the unpublished ones of a dead VM) and by
 *   ETS_OWNER_RUNS after. An object allocated and not yet published, and
 *   the objects unlinked and not yet retired, are named in the VM's record
 *   (ets_vm_t), so recovery frees or retires them: nothing leaks, but for
 *   a window of a few instructions between a slab's CAS and the record.
 */
#ifndef SHOAL_VMPROC_ETS_IMPL_H
#define SHOAL_VMPROC_ETS_IMPL_H

#include "shm/epoch.h"
#include "shm/pool.h"
#include "shm/slab.h"
#include "vmproc/ets.h"

#include <ck_pr.h>

/* Pool owners of table memory: runs (blocks, arrays, large entries) and
 * slabs. No recovery frees them. */
#define ETS_OWNER_RUNS POOL_OWNER_SHARED(0)
#define ETS_OWNER_SLABS POOL_OWNER_SHARED(1)

/* Stripes of a set table's hash space: the top ETS_STRIPE_BITS bits of a
 * key's hash pick its stripe, and its lock. 64: enough that 16 VMs
 * writing at random keys rarely meet, and the stripes' locks take one
 * page per table. */
#define ETS_STRIPE_BITS 6u
#define ETS_STRIPES (1u << ETS_STRIPE_BITS)

/* Hashes are term_hash >> 2: 62 bits, so that a fold's cursor (a hash)
 * is an integer of the language. Buckets are picked by the top bits. */
#define ETS_HASH_BITS 62u

/* Levels of an ordered table's skip list (1 in 4 nodes climbs a level:
 * 2^32 keys before the top level gets crowded). */
#define ETS_SKIP_LEVELS 16u

enum ets_kind { ETS_SET = 1, ETS_ORDERED };

/* Journal ops (ets_lock_t.op). */
enum ets_jop {
    J_NONE = 0,
    J_INS,    /* a: the new entry or node; `before`: the count before */
    J_REPL,   /* set: a: the new entry, b: the entry it replaces */
    J_VAL,    /* ordered: a: the node, b: its old value box (or NULL), c: the new one */
    J_DEL,    /* a: the entry or node unlinked; `before`: the count before */
    J_MIG,    /* set: a: the migration unit (a bucket index) */
    J_START,  /* resize lock: a: the new array */
    J_FINISH, /* resize lock: a: the old array being let go */
    J_NEW,    /* directory: a: the new table, c: its slot */
    J_DROP,   /* directory: a: the table dropped, c: its slot */
};

/* An owner-id lock with its journal and the counts it guards. 64 bytes,
 * one cache line: written only by the holder (and recovery). */
typedef struct ets_lock {
    uint32_t word;    /* holder VM id + 1 (recovery: ETS_RECOVERY + 1); 0 free */
    uint32_t op;      /* journal: enum ets_jop; J_NONE between operations */
    void *a, *b, *c;  /* journal operands */
    uint64_t before;  /* journal: the count before the operation */
    uint64_t count;   /* holder: entries under this lock */
    int64_t bytes;    /* holder: bytes of the entries under this lock */
    uint32_t mig_gen; /* holder (set stripes): the resize this stripe's progress is of */
    uint32_t mig_pos; /* holder (set stripes): units of this stripe migrated in it */
} ets_lock_t;

_Static_assert(sizeof(ets_lock_t) == SHOAL_CACHE_LINE, "a lock is one cache line");

/* A set table's entry: a slab slot (or a run, when large) holding copies
 * of its key and value. Immutable once linked, but for `value` when it
 * is an integer (update-counter CASes it) and `next` (writers of its
 * stripe relink it). */
typedef struct ets_entry {
    struct ets_entry *next;
    uint64_t hash;    /* 62 bits */
    term key, value;  /* copies, pointing into the data after the entry */
} ets_entry_t;

/* A set table's bucket array. In an array being migrated from (an old
 * array), a bucket whose entries have moved to the new array holds
 * ETS_MOVED. Chains are sorted by hash, and a bucket of 2^bits holds the
 * hashes whose top `bits` bits are its index: so a bucket splits into
 * two adjacent ones of the doubled array by cutting its chain, and two
 * merge into one by joining theirs. */
typedef struct ets_arr {
    uint32_t bits;          /* 2^bits buckets, bits >= ETS_STRIPE_BITS */
    uint32_t gen;           /* one more than the array it replaced */
    struct ets_arr *old;    /* resize lock holder: the array being migrated from; NULL after */
    uint32_t embedded;      /* 1: the first array, inside the table's block (never freed alone) */
    uint32_t pad0;
    uint64_t pad[5];
    ets_entry_t *b[];       /* writers of the bucket's stripe */
} ets_arr_t;

#define ETS_MOVED ((ets_entry_t *)(uintptr_t)1)

/* An ordered table's node: the key, the value word (an immediate value,
 * or a pointer to a value box: [value term][its data]), and its links. */
typedef struct ets_node {
    uint64_t vword;         /* update-counter (CAS) and the lock holder (store) */
    term key;
    uint32_t levels;        /* links in next[] */
    uint32_t pad;
    struct ets_node *next[]; /* the lock holder */
} ets_node_t;

/* A table: one block of the pool. */
typedef struct ets_table {
    /* read by every operation; written when created, dropped, resized */
    uint32_t name;          /* atom index + 1 */
    uint32_t kind;          /* enum ets_kind */
    uint32_t dropped;       /* directory lock holder: 1 once dropped */
    uint32_t levels;        /* ordered: the lock holder: levels in use */
    ets_arr_t *cur;         /* set: resize lock holder: the array in use */
    struct ets_table *znext;/* after the drop: the next dropped table of a VM's list */
    uint64_t zpos;          /* after the drop: how far freeing it got */
    char pad0[SHOAL_CACHE_LINE - 40];
    /* set: a migration seqlock per stripe, odd while a bucket of it splits */
    uint64_t seq[ETS_STRIPES];
    ets_lock_t resize;      /* set: starting and finishing a resize */
    ets_lock_t locks[ETS_STRIPES]; /* set: one per stripe; ordered: locks[0] */
    ets_node_t *head[ETS_SKIP_LEVELS]; /* ordered: the lock holder: the first node of each level */
} ets_table_t;

/* One directory slot: a table found by its name, lock-free. */
typedef struct ets_slot {
    uint32_t name;          /* atom index + 1; 0 never used; ETS_TOMB after a drop */
    uint32_t pad;
    ets_table_t *table;
} ets_slot_t;

#define ETS_TOMB UINT32_MAX

/* Retiring slots of a VM record. */
#define ETS_RETIRING 4

/* What a VM is doing, for recovery. Written by the VM only; read by the
 * recovery (its next incarnation) once the VM is dead. `table` and `pending` are meaningful
 * only while the VM is inside a critical section (its announce then keeps
 * them from being freed); `retiring` always (nobody else frees them). */
typedef struct ets_vm {
    ets_table_t *table;     /* the table of the operation in progress */
    void *pending[2];       /* allocated, not yet published (an entry or node, and its value box) */
    void *retiring[ETS_RETIRING]; /* unlinked, to retire once out of the critical section */
    ets_table_t *zombies;   /* dropped tables this VM frees, a bit at every operation */
    uint64_t rng;           /* skip list levels */
    uint32_t help;          /* the stripe it helps to migrate next */
    uint32_t retiring_bytes[ETS_RETIRING]; /* their sizes (no crash rule: a hint for the epoch) */
    uint32_t tick;          /* writes, to look at a table's size every few */
    char pad1[2 * SHOAL_CACHE_LINE - 96];
} ets_vm_t;

_Static_assert(sizeof(ets_vm_t) == 2 * SHOAL_CACHE_LINE, "a VM record is two lines");

/* The directory: in the pool, allocated before the fork. */
typedef struct ets_dir {
    ets_lock_t lock;        /* creating and dropping tables */
    uint32_t n_vms;         /* written before the fork */
    uint32_t pad;
    uint64_t seed;          /* of term_hash: per run */
    epoch_dom_t *epoch;
    slab_dom_t *slabs;
    ets_vm_t *vms;          /* n_vms records */
    char pad0[SHOAL_CACHE_LINE - 40];
    ets_slot_t slots[ETS_MAX_TABLES];
} ets_dir_t;

/* The holder id of a lock taken over by recovery. */
#define ETS_RECOVERY ((uint32_t)SHOAL_MAX_VMS + 2u)

/* --- ets.c: shared helpers ---------------------------------------------- */

ets_dir_t *ets_dir(const shm_header_t *h);

void ets_lock(const shm_header_t *h, ets_lock_t *l, uint32_t vm);
bool ets_trylock(ets_lock_t *l, uint32_t vm);
void ets_unlock(ets_lock_t *l);

/* Journal steps: begin names the step (operands first, then op); end
 * clears it. Both fence stores, so a crash leaves a prefix of them. */
void ets_journal(ets_lock_t *l, uint32_t op, void *a, void *b, void *c);
void ets_journal_end(ets_lock_t *l);

/* Memory for objects of a table: a slab slot up to SLAB_MAX bytes, else
 * a pool run owned by the VM. *size is what it takes (for the bytes
 * count). NULL (errno ENOMEM) when the pool is out. */
void *ets_obj_alloc(rt_t *rt, size_t bytes, size_t *size);
/* Make a run the tables' (a slot needs nothing): right before the store
 * that publishes it. */
void ets_obj_publish(const shm_header_t *h, void *obj);
/* Free an object no other VM can reach (never published, or past its
 * grace period), on behalf of `who`. */
void ets_obj_free(shm_header_t *h, uint32_t who, void *obj);

/* Name an object (of `bytes`) to retire once the operation's critical
 * section ends (call under the lock, right after the store that unlinked
 * it). */
void ets_retiring(ets_vm_t *me, void *obj, size_t bytes);

/* An operation on the table `name`: enter the critical section, find
 * the table, note it in the VM's record. NULL (out of the section again)
 * if there is none. ets_end leaves the section and retires what the
 * operation unlinked. */
ets_table_t *ets_begin(rt_t *rt, term name);
void ets_end(rt_t *rt);

/* table-new: the table `name` (kind for a new one); NULL with *full set
 * when the pool or the directory has no room. Outside an operation. */
ets_table_t *ets_create(rt_t *rt, term name, uint32_t kind, bool *full);
/* table-drop: false if there is no such table. Outside an operation. */
bool ets_drop(rt_t *rt, term name);

/* Retire obj for dead VM vm unless it is retired already (recovery). */
void ets_retire_for(shm_header_t *h, uint32_t vm, void *obj);
/* Free an unpublished object of a dead VM (recovery): a slot or a run
 * already the tables'; a run the VM still owns is the pool's to free. */
void ets_free_unpublished(shm_header_t *h, void *obj);

/* A random level of an ordered table's node (1 .. ETS_SKIP_LEVELS). */
uint32_t ets_random_levels(ets_vm_t *me);

/* Crash points (ets.h's hook). */
static inline void ets_crash_point(int step)
{
    SHOAL_CRASH_POINT(ets_crash_step, step);
}

/* Fences for the steps of a journaled operation: every store of a step
 * is visible before the next step's (store-store), which is also what
 * makes a crash leave a prefix of them. */
static inline void ets_step(void)
{
    ck_pr_fence_store();
}

/* --- ets_hash.c: set tables ---------------------------------------------- */

/* 64-byte-aligned sizes of an array of 2^bits buckets. */
size_t hash_arr_bytes(uint32_t bits);
/* A new table's first array (inside table-new, not yet published). */
void hash_init_table(ets_table_t *t, ets_arr_t *a);

/* Inside a critical section. The entry of `key` (hash hv), or NULL. */
ets_entry_t *hash_find(ets_table_t *t, term key, uint64_t hv);

/* Writers (inside a critical section; they take the stripe's lock).
 * put: link e, replacing an entry of the same key, if any (*replaced
 * set). insert_new: link e only if the key is absent (false if present).
 * remove: unlink the key's entry (returned, or NULL), unless its value
 * takes more than `room` heap words (then *need says how many, and
 * nothing changes: table-take makes room first). counter: the
 * entry of e's key, linking e if the key is absent (*linked set). Each
 * returns with e published or still the caller's (pending), and names
 * what it unlinked to retire. A table dropped meanwhile: *gone set,
 * nothing done. */
void hash_put(rt_t *rt, ets_table_t *t, ets_entry_t *e, bool *replaced, bool *gone);
bool hash_insert_new(rt_t *rt, ets_table_t *t, ets_entry_t *e, bool *gone);
ets_entry_t *hash_remove(rt_t *rt, ets_table_t *t, term key, uint64_t hv, uint64_t room,
                         uint64_t *need, bool *gone);
ets_entry_t *hash_counter(rt_t *rt, ets_table_t *t, ets_entry_t *e, bool *linked, bool *gone);

/* After an operation (outside the stripe lock, inside the critical
 * section): start or help a resize. */
void hash_after_write(rt_t *rt, ets_table_t *t, uint32_t stripe);

uint64_t hash_count(const ets_table_t *t);
int64_t hash_bytes(const ets_table_t *t);

/* Room past `max` that a chunk's output needs: a group of entries of
 * equal hashes is never split (62-bit hashes: two equal are rare). */
#define ETS_CHUNK_SLACK 16

/* A fold's chunk: up to `max` entries with hash >= *cursor, in hash
 * order, whole groups of equal hashes; *cursor moves past them (to
 * 2^62 at the end). Returns how many were put in out[]. */
size_t hash_chunk(ets_table_t *t, uint64_t *cursor, ets_entry_t **out, size_t max);

/* Recovery: repair what the dead VM's journals in t say (the stripes and
 * resize lock it held, taken over). named[i] is set if a journal named
 * pending[i] (the dead VM's unpublished objects): it then decided its
 * fate (linked, or freed). */
void hash_recover(shm_header_t *h, ets_table_t *t, uint32_t vm, void *const pending[2],
                  bool named[2]);
/* Free a dropped table, a bit at a time: true once it is all freed
 * (then the block itself is the caller's to free). */
bool hash_free_some(shm_header_t *h, uint32_t who, ets_table_t *t, size_t budget);
int hash_check(const shm_header_t *h, ets_table_t *t, char *why, size_t n);

/* --- ets_skip.c: ordered tables ------------------------------------------ */

void skip_init_table(ets_table_t *t);
ets_node_t *skip_find(ets_table_t *t, term key);
/* The first node with a key above `after` (or the first of all when
 * `from_start`), and the nodes after it: up to max. */
size_t skip_chunk(ets_table_t *t, bool from_start, term after, ets_node_t **out, size_t max);
/* The value term of a node (its vword read once). */
term skip_value(uint64_t vword);

/* As the set table's writers (n: a new node with its key and value word;
 * its value box, if any, is the VM's pending[1]). put: link n, or give
 * the node of its key n's value (*linked false: n stays the caller's). */
void skip_put(rt_t *rt, ets_table_t *t, ets_node_t *n, bool *linked, bool *gone);
bool skip_insert_new(rt_t *rt, ets_table_t *t, ets_node_t *n, bool *gone);
ets_node_t *skip_remove(rt_t *rt, ets_table_t *t, term key, uint64_t room, uint64_t *need,
                        bool *gone);
ets_node_t *skip_counter(rt_t *rt, ets_table_t *t, ets_node_t *n, bool *linked, bool *gone);
uint64_t skip_count(const ets_table_t *t);
int64_t skip_bytes(const ets_table_t *t);
/* Bytes of a node and of a value box for a value of `words` words. */
size_t skip_node_bytes(uint32_t levels, uint64_t key_words);
size_t skip_box_bytes(uint64_t value_words);

void skip_recover(shm_header_t *h, ets_table_t *t, uint32_t vm, void *const pending[2],
                  bool named[2]);
bool skip_free_some(shm_header_t *h, uint32_t who, ets_table_t *t, size_t budget);
int skip_check(const shm_header_t *h, ets_table_t *t, char *why, size_t n);

#endif
