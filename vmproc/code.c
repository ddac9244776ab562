/*
 * code.c: allocation in the code area (see code.h for who writes it).
 */
#include "vmproc/code.h"

#include <errno.h>

void code_init(shm_header_t *h)
{
    code_table_t *ct = code_table(h);
    ct->used = SHOAL_ALIGN_UP(sizeof *ct, 16);
    ct->cap = h->cfg.code_bytes;
    ct->nfuncs = 0;
    ct->main_index = UINT32_MAX;
    ct->funcs = NULL;
    ct->args = T_NIL;
    ct->tables = NULL;
    ct->end_code[0] = OP_END;
    ct->end_code[1] = OP_END;
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
