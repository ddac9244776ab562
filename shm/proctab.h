/*
 * proctab.h: the process table, slots of process control blocks (PCBs).
 *
 * A pid is a slot number plus a generation: pid = (gen + 1) * proc_slots +
 * slot, where gen is the slot's stored generation (so no pid is 0, and a
 * zeroed table is a table of free slots).
 * The generation of a slot grows each time the slot is freed, so a dead pid
 * never aliases a live one, and pids are unique for the whole run.
 *
 * NOTES
 *   `state` changes only by compare-and-swap, which makes claiming a slot a
 *   single atomic step: FREE -> CLAIMED(vm) -> LIVE -> FREEING(vm) -> FREE.
 *   A VM that dies between claim and publish leaves CLAIMED(vm), and one
 *   that dies while it frees a slot leaves FREEING(vm): its next
 *   incarnation finishes both (proctab_finish_free).
 *   `owner` is the one rule of DESIGN.md: the VM that may touch the heap,
 *   stack and mailbox consumer side. It changes only by CAS.
 *   Everything below the identity group belongs to the owner VM, except
 *   the fields marked "any VM".
 *   The live-slot bitmap (layout.live_off) has one bit per slot, set
 *   (atomic OR) before a slot is published LIVE and cleared (atomic AND)
 *   before it is freed, so every LIVE slot's bit is set except while its
 *   process is being freed. It lets the process list and the live count
 *   skip free slots without reading them (a word of 64 slots at a time).
 *   It is a hint: a reader checks the slot's state and pid, and recovery
 *   can rebuild it from the table.
 */
#ifndef SHOAL_SHM_PROCTAB_H
#define SHOAL_SHM_PROCTAB_H

#include "shm/segment.h"

#include <stddef.h>

#define PCB_FREE 0u
#define PCB_LIVE 1u
#define PCB_CLAIMED(vm) (0x80000000u | (uint32_t)(vm))
#define PCB_IS_CLAIMED(s) (((s) & 0xc0000000u) == 0x80000000u)
#define PCB_FREEING(vm) (0x40000000u | (uint32_t)(vm))
#define PCB_IS_FREEING(s) (((s) & 0xc0000000u) == 0x40000000u)
#define PCB_STATE_VM(s) ((s) & 0x3fffffffu)
#define PCB_NO_OWNER 0xffffffffu

typedef struct pcb {
    /* identity and ownership: CAS only */
    uint32_t state;   /* PCB_FREE, PCB_CLAIMED(vm) or PCB_LIVE */
    uint32_t owner;   /* VM id, or PCB_NO_OWNER */
    uint32_t gen;     /* generation of the slot; grows when the slot is freed */
    uint32_t slot;    /* this slot's index, constant */
    uint64_t pid;     /* gen * proc_slots + slot while claimed or live */
    uint32_t regname; /* its registered name, atom + 1, or 0: CAS by any VM
                         (vmproc/register.c); 0 again when claimed */
    uint32_t pad1;

    /* process state (vmproc/proc.h gives the meaning): its first 32
     * bytes, which any VM may touch (a sender, a waker), share this first
     * line with the fields above, which a sender reads too; the rest,
     * from the second line on, is the owner VM's only */
    uint64_t body[60];
} pcb_t;
_Static_assert(sizeof(pcb_t) == 512, "a PCB is 512 bytes, eight to a page");
_Static_assert(offsetof(pcb_t, body) == SHOAL_CACHE_LINE / 2, "the body's shared part ends the first line");

static inline pcb_t *shm_pcb(const shm_header_t *h, uint32_t slot)
{
    return (pcb_t *)shm_at(h, h->layout.proc_off) + slot;
}

/* Initialise the table of a fresh segment: zeroed memory already is one
 * (shm_create calls it). */
void proctab_init(shm_header_t *h);

/* Claim a free slot for VM `vm`. Returns the PCB in state CLAIMED(vm) with
 * its pid set, or NULL with errno EAGAIN when the table is full. */
pcb_t *proctab_claim(shm_header_t *h, uint32_t vm);

/* Make a claimed slot live (release: its fields are visible first). */
void proctab_publish(shm_header_t *h, pcb_t *p);

/* Free a slot (live or claimed) on behalf of VM `vm`: its generation
 * grows, so its pid dies. */
void proctab_release(shm_header_t *h, pcb_t *p);

/* The live PCB of `pid`, or NULL if that process does not exist (any more). */
pcb_t *proctab_lookup(const shm_header_t *h, uint64_t pid);

/* Bytes of the map of written table pages for `slots` slots (the segment
 * layout reserves it after the table). */
uint64_t proctab_map_bytes(uint32_t slots);

/* Call visit(p, ctx) for every slot on a page of the table that a claim
 * ever wrote (the others hold only free slots); returns the sum of what
 * visit returned. Any process. */
size_t proctab_each(const shm_header_t *h, size_t (*visit)(pcb_t *p, void *ctx), void *ctx);

/* A slot that a dead incarnation of a VM left CLAIMED or FREEING: make it
 * FREE with the next generation, whatever step the dead releaser reached.
 * The caller is that VM's next incarnation (nobody else moves such a
 * slot). */
void proctab_finish_free(shm_header_t *h, pcb_t *p);

/* The next incarnation of VM `vm` (or a test): free the slots a dead
 * incarnation left CLAIMED(vm) or FREEING(vm). Returns how many. */
size_t proctab_recover_vm(shm_header_t *h, uint32_t vm);

/* Live slots now (a count of the bitmap's bits; for stats and tests). */
size_t proctab_live(const shm_header_t *h);

/* Words of the live-slot bitmap for `slots` slots. */
static inline uint64_t proctab_live_words(uint32_t slots)
{
    return ((uint64_t)slots + 63) / 64;
}

/* The first slot at or after `from` whose bit is set in the live-slot
 * bitmap, or UINT32_MAX. The caller checks the slot's state and pid: the
 * bit says only that the slot is, or was a moment ago, in use. */
uint32_t proctab_next_live(const shm_header_t *h, uint32_t from);

#endif
