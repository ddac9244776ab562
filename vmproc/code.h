/*
 * code.h: the code table, compiled functions and constants in the shared
 * segment's code area.
 *
 * NOTES
 *   Written by the supervisor only, before the fork (program_load), and
 *   read-only afterwards: every VM runs the same code at the same address,
 *   so a func_t pointer or a constant term is valid in every VM, and a
 *   process can move between VMs in the middle of a function.
 *   Constant terms (strings, floats, quoted data, the program arguments)
 *   live in the code area; the collector never copies them because they
 *   are outside the pool.
 */
#ifndef SHOAL_VMPROC_CODE_H
#define SHOAL_VMPROC_CODE_H

#include "shm/segment.h"
#include "vmproc/term.h"

enum opcode {
#define OP(name, extra, effect, doc) OP_##name,
#include "vmproc/opcodes.h"
#undef OP
    OP__COUNT
};

typedef struct func {
    const uint32_t *code;
    const uint32_t *loop; /* where a self tail call goes on: past the ALLOC of
                           * the locals, which the call clears itself (interp.c) */
    const term *consts;
    uint32_t ncode, nconsts;
    uint32_t arity;
    uint32_t nslots;     /* arguments + locals */
    uint32_t nlocals;    /* nslots - arity: what the ALLOC at code[0] pushes, if any */
    uint32_t frame;      /* words of value stack the frame can use, slots included */
    uint32_t call_bytes; /* room a call of it needs between sp and the control
                          * frames: frame and two ctl_t, in bytes */
    uint32_t nfree;      /* free variables (closures from `fn`) */
    uint32_t index;      /* in the function table */
    uint32_t name;       /* atom of the name ("fn" for closures) */
    term value;          /* top-level functions: a closure constant, to pass as a value */
    /* where the code came from, for stack traces: (code offset, source
     * line) pairs, one where the line changes, offsets ascending; read
     * only when a process dies with an error (code_line) */
    const uint32_t *lines;
    uint32_t nlines;
    const char *file;
} func_t;

typedef struct code_table {
    uint64_t used, cap;  /* bump allocation in the code area */
    uint32_t nfuncs, main_index;
    func_t **funcs;
    uint32_t *find_index; /* code_find's hash of top-level (name, arity): func index + 1,
                           * or 0; NULL in a table built by hand (then it scans) */
    uint32_t find_mask;   /* slots - 1 */
    term args;           /* (args): the program's arguments, a constant list of strings */
    void *tables;        /* the directory of shared tables (ets.c), in the pool */
    uint32_t end_code[2];/* the return address of a process's bottom frame: END */
} code_table_t;

static inline code_table_t *code_table(const shm_header_t *h)
{
    return shm_at(h, h->layout.code_off);
}

/* Whether addr is in the code area: compiled code and its constants (a
 * defn's value, literals), immutable once the VMs run and at the same
 * address in every VM, so a process may point at them from anywhere. */
static inline bool code_holds(const shm_header_t *h, const void *addr)
{
    const char *a = addr, *lo = (const char *)code_table(h);
    return a >= lo && a < lo + h->cfg.code_bytes;
}

/* Supervisor only: prepare the code area of a new segment. */
void code_init(shm_header_t *h);

/* The slot where code_find starts looking for (name, arity). */
static inline size_t code_find_slot(uint32_t name, uint32_t arity, size_t mask)
{
    return (size_t)(((((uint64_t)name << 32) | arity) * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* The top-level function named by atom `name` with that arity, or NULL. */
const func_t *code_find(const shm_header_t *h, uint32_t name, uint32_t arity);

/* The source line of the instruction at code offset `pc` of f (0 if
 * unknown). */
uint32_t code_line(const func_t *f, uint32_t pc);

/* Supervisor only: `bytes` from the code area (8-byte aligned), or NULL
 * with errno ENOSPC. */
void *code_alloc(shm_header_t *h, size_t bytes);

#endif
