/*
 * bif_tuple.c: tuple builtins (LANGUAGE.md, "Builtins", Tuples). (tuple
 * ...) itself is an opcode (MK_TUPLE).
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"

BIF(bif_elem)
{
    term i = args[0], t = args[1];
    if (!is_fix(i) || !is_tuple(t) || fix_val(i) < 0 || (uint64_t)fix_val(i) >= tuple_size(t))
        return bif_error(proc_of(pcb), A_BADARG);
    return tuple_elems(t)[fix_val(i)];
}

BIF(bif_tuple_size)
{
    return is_tuple(args[0]) ? mk_fix((int64_t)tuple_size(args[0]))
                             : bif_error(proc_of(pcb), A_BADARG);
}
