/*
 * compiler_emit.c: the code and constants of a function being compiled
 * (fctx_t): instruction words with their line table, the value stack's
 * depth, jumps and their patches, constants hashed by value, and the
 * peephole that fuses an instruction with the ones before it into a
 * superinstruction (fuse). compiler.c compiles the forms through these.
 *
 * NOTES
 *   Supervisor only, before the fork, as compiler.c.
 */
#include "vmproc/compiler_impl.h"

#include <string.h>

static const int op_effect[] = {
#define OP(name, extra, effect, doc) effect,
#include "vmproc/opcodes.h"
#undef OP
};

size_t emit_word(compiler_t *c, fctx_t *f, uint32_t w)
{
    if (f->line > 0 && (f->nlines == 0 || f->lines[2 * f->nlines - 1] != (uint32_t)f->line)) {
        f->lines = grow(c, f->lines, &f->caplines, 2 * f->nlines + 2, sizeof *f->lines);
        f->lines[2 * f->nlines] = (uint32_t)f->ncode;
        f->lines[2 * f->nlines + 1] = (uint32_t)f->line;
        f->nlines++;
    }
    f->code = grow(c, f->code, &f->capcode, f->ncode + 1, sizeof *f->code);
    f->code[f->ncode] = w;
    return f->ncode++;
}

void adjust(fctx_t *f, int d)
{
    f->depth += d;
    if (f->depth > f->max_depth)
        f->max_depth = f->depth;
}

size_t here(const fctx_t *f)
{
    return f->ncode;
}

/* A jump lands at `pos`: no fusion may make it the middle of an
 * instruction. */
void mark_label(fctx_t *f, size_t pos)
{
    if (pos > f->label)
        f->label = pos;
}

/* The opcode of the one-word instruction at history entry i (the latest
 * is 0), if the entries 0..i are whole one-word instructions that end at
 * the code's end, and no jump lands after the start of entry i; else -1. */
int last_op(const fctx_t *f, int i)
{
    for (int j = 0; j <= i; j++)
        if (f->last[j] == NO_POS || f->last[j] + (size_t)j + 1 != f->ncode)
            return -1;
    if (f->label > f->last[i])
        return -1;
    return (int)(f->code[f->last[i]] & 0xffu);
}

static uint32_t last_a(const fctx_t *f, int i)
{
    return f->code[f->last[i]] >> 8;
}

/* Go back to where history entry i starts, to write a fused instruction
 * there: the words after it go, with their line-table entries. */
static size_t rewind_to(fctx_t *f, int i)
{
    size_t at = f->last[i];
    f->ncode = at;
    while (f->nlines > 0 && f->lines[2 * (f->nlines - 1)] > at)
        f->nlines--;
    f->last[0] = f->last[1] = f->last[2] = NO_POS;
    return at;
}

static bool is_compare(int op)
{
    return op == OP_LT || op == OP_GT || op == OP_LE || op == OP_GE || op == OP_EQ || op == OP_NE;
}

/* The LOAD2 a b that ends the code back into LOAD a; LOAD b, so that
 * the LOAD b can fuse with what follows instead. */
void split_load2(compiler_t *c, fctx_t *f)
{
    size_t at = f->last[0];
    uint32_t w = f->code[at];
    f->code[at] = ((w >> 8) & 0xfffu) << 8 | OP_LOAD;
    size_t at2 = emit_word(c, f, (w >> 20) << 8 | OP_LOAD);
    f->last[2] = f->last[1];
    f->last[1] = at;
    f->last[0] = at2;
}

/* Superinstructions (interp.c has their fast paths): `op a` about to be
 * emitted, fused with the instructions before it when they are
 *   LOAD s; ADD_I k              -> LOAD_ADDI s 2k
 *   LOAD s; RET                  -> RET_SLOT s
 *   LOAD s; PUSH_INT k; CMP; JUMP_F -> J<CMP>_SI s 2k+1 (jump unless s CMP k)
 *   LOAD2 a b; CMP; JUMP_F       -> J<CMP>_SS a|b<<12 (jump unless a CMP b)
 *   CMP; JUMP_F                  -> J<CMP> (jump unless a CMP b)
 *   ADD; RET (SUB; RET)          -> ADD_RET; RET (SUB_RET; RET)
 *   LOAD s; ADD (SUB, MUL)       -> ADD_S s (SUB_S, MUL_S): top + slot s
 *   PUSH_K k; ADD (SUB, MUL)     -> ADD_K k (SUB_K, MUL_K)
 *   LOAD2 a b; ADD (SUB, MUL)    -> ADD_SS a b (SUB_SS, MUL_SS)
 *   LOAD s; CAR (CDR)            -> CAR_S s (CDR_S s)
 *   LOAD t; ELEM (LOAD2 i t; ELEM) -> ELEM_S t (ELEM_SS i t)
 *   PUSH_INT k; LOAD t; ELEM     -> ELEM_KS t|k<<12 (k and t below 4096)
 *   CAR_S l; STORE d (CDR_S)     -> CAR_ST d|l<<12 (CDR_ST): a let of the
 *                                   head (tail) of a list (slots below 4096)
 *   ELEM_KS t|k<<12; STORE d     -> ELEM_KST t|k<<12 d: a let of a field
 *   LOAD a; CAR_S l; CMP; JUMP_F -> J<CMP>_SC a|l<<12 (jump unless a CMP
 *                                   the head of l; slots below 4096)
 *   CDR_S l; TCALL_SELF_SOME m   -> TCALL_SELF_CDR m|l<<12: a loop whose
 *                                   last new argument is the tail of a
 *                                   list (m and l below 4096)
 *   LOAD s; NULLP; JUMP_F        -> JNULL_S s (jump unless s is '())
 *   NULLP; JUMP_F                -> JNULL
 *   LOAD a; LOAD b               -> LOAD2 a b (both below 4096), split
 *                                   again before an ADD_I, RET, PUSH_INT,
 *                                   CAR, CDR or NULLP
 *                                   so that LOAD b fuses with it
 * and, in emit_call_g, LOAD or LOAD_ADDI; CALL_G -> LOAD_CALL or
 * LOAD_ADDI_CALL; CALL_G
 * (the integers in the fused forms are pre-shifted or tagged: A is 24
 * bits, so 2k+1 fits the 32-bit word)
 * The fused code does what the sequence did, errors included. Returns
 * the position of the fused instruction, whose jump (if any) is in A,
 * relative to the word after its first; NO_POS if nothing was fused. */
static size_t fuse(compiler_t *c, fctx_t *f, enum opcode op, int32_t a)
{
    int op0 = last_op(f, 0);
    if (op0 == OP_LOAD2 && (op == OP_ADD_I || op == OP_RET || op == OP_PUSH_INT ||
                            op == OP_CAR || op == OP_CDR || op == OP_NULLP)) {
        split_load2(c, f);
        op0 = OP_LOAD;
    }
    if (op0 == OP_LOAD && op == OP_LOAD && last_a(f, 0) < 4096 && a >= 0 && a < 4096) {
        uint32_t *at = &f->code[f->last[0]];
        *at = (uint32_t)a << 20 | (*at & 0xfffff00u) | OP_LOAD2;
        return f->last[0];
    }
    if (op0 == OP_LOAD && op == OP_ADD_I) {
        uint32_t s = last_a(f, 0);
        size_t at = rewind_to(f, 0);
        emit_word(c, f, s << 8 | OP_LOAD_ADDI);
        emit_word(c, f, (uint32_t)(a * 2));
        f->last[0] = at;
        return at;
    }
    if (op0 == OP_LOAD && op == OP_RET) {
        uint32_t s = last_a(f, 0);
        size_t at = rewind_to(f, 0);
        emit_word(c, f, s << 8 | OP_RET_SLOT);
        f->last[0] = at;
        return at;
    }
    if (op == OP_RET && (op0 == OP_ADD || op0 == OP_SUB)) {
        /* the RET stays: ADD_RET's slow path goes on to it */
        uint32_t *at = &f->code[f->last[0]];
        *at = (*at & ~0xffu) | (op0 == OP_ADD ? OP_ADD_RET : OP_SUB_RET);
        return NO_POS;
    }
    if ((op == OP_ADD || op == OP_SUB || op == OP_MUL) &&
        (op0 == OP_LOAD || op0 == OP_PUSH_K || op0 == OP_LOAD2)) {
        /* the operand (or both) read by the arithmetic itself: one
         * dispatch less; A stays as it was */
        static const enum opcode with[][3] = {
            {OP_ADD_S, OP_SUB_S, OP_MUL_S},
            {OP_ADD_K, OP_SUB_K, OP_MUL_K},
            {OP_ADD_SS, OP_SUB_SS, OP_MUL_SS},
        };
        int row = op0 == OP_LOAD ? 0 : op0 == OP_PUSH_K ? 1 : 2;
        int col = op == OP_ADD ? 0 : op == OP_SUB ? 1 : 2;
        uint32_t *at = &f->code[f->last[0]];
        *at = (*at & ~0xffu) | with[row][col];
        return f->last[0];
    }
    if (op == OP_ELEM && op0 == OP_LOAD && last_op(f, 1) == OP_PUSH_INT) {
        int32_t k = (int32_t)f->code[f->last[1]] >> 8;
        uint32_t s = last_a(f, 0);
        if (k >= 0 && k < 4096 && s < 4096) {
            size_t at = rewind_to(f, 1);
            emit_word(c, f, (uint32_t)k << 20 | s << 8 | OP_ELEM_KS);
            f->last[0] = at;
            return at;
        }
    }
    if (op == OP_ELEM && (op0 == OP_LOAD || op0 == OP_LOAD2)) {
        uint32_t *at = &f->code[f->last[0]];
        *at = (*at & ~0xffu) | (op0 == OP_LOAD ? OP_ELEM_S : OP_ELEM_SS);
        return f->last[0];
    }
    if ((op == OP_CAR || op == OP_CDR) && op0 == OP_LOAD) {
        uint32_t *at = &f->code[f->last[0]];
        *at = (*at & ~0xffu) | (op == OP_CAR ? OP_CAR_S : OP_CDR_S);
        return f->last[0];
    }
    if (op == OP_STORE && (op0 == OP_CAR_S || op0 == OP_CDR_S) && a >= 0 && a < 4096 &&
        last_a(f, 0) < 4096) {
        uint32_t *at = &f->code[f->last[0]];
        *at = ((uint32_t)a | last_a(f, 0) << 12) << 8 | (op0 == OP_CAR_S ? OP_CAR_ST : OP_CDR_ST);
        return f->last[0];
    }
    if (op == OP_TCALL_SELF_SOME && op0 == OP_CDR_S && a > 0 && a < 4096 &&
        last_a(f, 0) < 4096) {
        uint32_t *at = &f->code[f->last[0]];
        *at = ((uint32_t)a | last_a(f, 0) << 12) << 8 | OP_TCALL_SELF_CDR;
        return f->last[0];
    }
    if (op == OP_STORE && op0 == OP_ELEM_KS) {
        uint32_t tk = last_a(f, 0);
        size_t at = rewind_to(f, 0);
        emit_word(c, f, tk << 8 | OP_ELEM_KST);
        emit_word(c, f, (uint32_t)a);
        return at;
    }
    if (op == OP_JUMP_F && op0 == OP_NULLP) {
        if (last_op(f, 1) == OP_LOAD) {
            uint32_t s = last_a(f, 1);
            size_t at = rewind_to(f, 1);
            emit_word(c, f, ((uint32_t)a << 8) | OP_JNULL_S);
            emit_word(c, f, s);
            return at;
        }
        size_t at = rewind_to(f, 0);
        emit_word(c, f, ((uint32_t)a << 8) | OP_JNULL);
        return at;
    }
    if (op == OP_JUMP_F && is_compare(op0)) {
        static const enum opcode plain[] = {[OP_LT] = OP_JLT, [OP_GT] = OP_JGT, [OP_LE] = OP_JLE,
                                            [OP_GE] = OP_JGE, [OP_EQ] = OP_JEQ, [OP_NE] = OP_JNE};
        static const enum opcode with_k[] = {[OP_LT] = OP_JLT_SI, [OP_GT] = OP_JGT_SI,
                                             [OP_LE] = OP_JLE_SI, [OP_GE] = OP_JGE_SI,
                                             [OP_EQ] = OP_JEQ_SI, [OP_NE] = OP_JNE_SI};
        static const enum opcode with_ss[] = {[OP_LT] = OP_JLT_SS, [OP_GT] = OP_JGT_SS,
                                              [OP_LE] = OP_JLE_SS, [OP_GE] = OP_JGE_SS,
                                              [OP_EQ] = OP_JEQ_SS, [OP_NE] = OP_JNE_SS};
        static const enum opcode with_sc[] = {[OP_LT] = OP_JLT_SC, [OP_GT] = OP_JGT_SC,
                                              [OP_LE] = OP_JLE_SC, [OP_GE] = OP_JGE_SC,
                                              [OP_EQ] = OP_JEQ_SC, [OP_NE] = OP_JNE_SC};
        if (last_op(f, 1) == OP_CAR_S && last_op(f, 2) == OP_LOAD && last_a(f, 1) < 4096 &&
            last_a(f, 2) < 4096) {
            uint32_t pair = last_a(f, 2) | last_a(f, 1) << 12;
            size_t at = rewind_to(f, 2);
            emit_word(c, f, ((uint32_t)a << 8) | with_sc[op0]);
            emit_word(c, f, pair);
            return at;
        }
        if (last_op(f, 1) == OP_LOAD2) {
            uint32_t pair = last_a(f, 1);
            size_t at = rewind_to(f, 1);
            emit_word(c, f, ((uint32_t)a << 8) | with_ss[op0]);
            emit_word(c, f, pair);
            return at;
        }
        if (last_op(f, 1) == OP_PUSH_INT && last_op(f, 2) == OP_LOAD) {
            int32_t k = (int32_t)f->code[f->last[1]] >> 8;
            uint32_t s = last_a(f, 2);
            size_t at = rewind_to(f, 2);
            emit_word(c, f, ((uint32_t)a << 8) | with_k[op0]);
            emit_word(c, f, s);
            emit_word(c, f, (uint32_t)(k * 2 + 1));
            return at;
        }
        size_t at = rewind_to(f, 0);
        emit_word(c, f, ((uint32_t)a << 8) | plain[op0]);
        return at;
    }
    return NO_POS;
}

/* Emit opcode with operand A; returns its position. */
size_t emit(compiler_t *c, fctx_t *f, enum opcode op, int32_t a)
{
    /* A is 24 bits: a signed jump, or a count or index below 2^23 (and
     * 0xffffff, RECV_START's "no timeout") */
    if ((a < -(1 << 23) || a >= (1 << 23)) && a != 0xffffff)
        die_at(c, NULL, "a form too large to compile: more than %u arguments or elements",
               1u << 23);
    adjust(f, op_effect[op]);
    size_t at = fuse(c, f, op, a);
    if (at != NO_POS)
        return at;
    at = emit_word(c, f, ((uint32_t)a << 8) | (uint32_t)op);
    f->last[2] = f->last[1];
    f->last[1] = f->last[0];
    f->last[0] = at;
    return at;
}

/* Patch the jump operand at `pos` (a word index: the opcode word when
 * `in_a`, else an extra word) of the instruction ending at `next` so that
 * it lands on `target`. */
void patch(fctx_t *f, size_t pos, bool in_a, size_t next, size_t target)
{
    mark_label(f, target);
    int32_t off = (int32_t)target - (int32_t)next;
    if (in_a)
        f->code[pos] = (f->code[pos] & 0xffu) | ((uint32_t)off << 8);
    else
        f->code[pos] = (uint32_t)off;
}

/* A jump with the offset in A, patched later with patch_a. */
size_t emit_jump(compiler_t *c, fctx_t *f, enum opcode op)
{
    return emit(c, f, op, 0);
}

void patch_a(fctx_t *f, size_t pos, size_t target)
{
    patch(f, pos, true, pos + 1, target);
}

static size_t term_slot(term t, size_t mask)
{
    return (size_t)((t * 0x9e3779b97f4a7c15ull) >> 32) & mask;
}

/* The index of constant t in f, added if new (equal terms share one). */
uint32_t add_const(compiler_t *c, fctx_t *f, term t)
{
    if ((f->nconsts + 1) * 2 > f->kcap) {
        size_t cap = f->kcap ? f->kcap * 2 : 64;
        uint32_t *ix = c_alloc(c, cap * sizeof *ix);
        for (size_t i = 0; i < f->nconsts; i++) {
            size_t j = term_slot(f->consts[i], cap - 1);
            while (ix[j])
                j = (j + 1) & (cap - 1);
            ix[j] = (uint32_t)i + 1;
        }
        f->kindex = ix;
        f->kcap = cap;
    }
    size_t j = term_slot(t, f->kcap - 1);
    for (; f->kindex[j]; j = (j + 1) & (f->kcap - 1)) {
        compiler_compares++;
        if (f->consts[f->kindex[j] - 1] == t)
            return f->kindex[j] - 1;
    }
    /* the index is an instruction's 24-bit operand */
    if (f->nconsts >= (1u << 23))
        die_at(c, NULL, "too many constants in one function (at most %u)", 1u << 23);
    f->consts = grow(c, f->consts, &f->capconsts, f->nconsts + 1, sizeof *f->consts);
    f->consts[f->nconsts] = t;
    f->kindex[j] = (uint32_t)f->nconsts + 1;
    return (uint32_t)f->nconsts++;
}

void push_const(compiler_t *c, fctx_t *f, term t)
{
    if (t == T_NIL)
        emit(c, f, OP_PUSH_NIL, 0);
    else if (t == mk_atom(A_FALSE))
        emit(c, f, OP_PUSH_FALSE, 0);
    else if (t == mk_atom(A_TRUE))
        emit(c, f, OP_PUSH_TRUE, 0);
    else if (is_fix(t) && fix_val(t) >= -(1 << 23) && fix_val(t) < (1 << 23))
        emit(c, f, OP_PUSH_INT, (int32_t)fix_val(t));
    else
        emit(c, f, OP_PUSH_K, (int32_t)add_const(c, f, t));
}
