/*
 * code.c: allocation in the code area (see code.h for who writes it).
 */
#include "vmproc/code.h"

#include "vmproc/compiler.h"

#include <errno.h>

void code_init(shm_header_t *h)
{
    code_table_t *ct = code_table(h);
    ct->used = SHOAL_ALIGN_UP(sizeof *ct, 16);
    ct->cap = h->cfg.code_bytes;
    ct->nfuncs = 0;
    ct->main_index = UINT32_MAX;
    ct->funcs = NULL;
    ct->find_index = NULL;
    ct->find_mask = 0;
    ct->args = T_NIL;
    ct->tables = NULL;
    ct->end_code[0] = OP_END;
    ct->end_code[1] = OP_END;
}

const func_t *code_find(const shm_header_t *h, uint32_t name, uint32_t arity)
{
    code_table_t *ct = code_table(h);
    if (ct->find_index) {
        for (size_t j = code_find_slot(name, arity, ct->find_mask); ct->find_index[j];
             j = (j + 1) & ct->find_mask) {
            const func_t *f = ct->funcs[ct->find_index[j] - 1];
            if (f->name == name && f->arity == arity)
                return f;
        }
        return NULL;
    }
    /* Closures are named `fn`, which no top-level function can be. */
    for (uint32_t i = 0; i < ct->nfuncs; i++)
        if (ct->funcs[i]->name == name && ct->funcs[i]->arity == arity && name != A_FN)
            return ct->funcs[i];
    return NULL;
}

void *code_alloc(shm_header_t *h, size_t bytes)
{
    code_table_t *ct = code_table(h);
    uint64_t off = SHOAL_ALIGN_UP(ct->used, 16);
    if (off + bytes > ct->cap) {
        errno = ENOSPC;
        return NULL;
    }
    ct->used = off + bytes;
    return (char *)ct + off;
}
