/*
 * bif_table.c: the shared-table builtins (LANGUAGE.md, "Shared tables"),
 * as registry entries over ets.c, which holds the tables themselves.
 */
#include "vmproc/bif.h"

#include "vmproc/ets.h"

BIF(bif_table_new)
{
    return ets_new(rt, pcb, args[0]);
}

BIF(bif_table_put)
{
    return ets_put(rt, pcb, args);
}

BIF(bif_table_get)
{
    return ets_get(rt, pcb, args);
}

BIF(bif_table_delete)
{
    return ets_delete(rt, pcb, args);
}

BIF(bif_table_size)
{
    return ets_size(rt, pcb, args[0]);
}

BIF(bif_table_update_counter)
{
    return ets_update_counter(rt, pcb, args);
}
