/*
 * bif_type.c: type tests (LANGUAGE.md, "Builtins", Types).
 */
#include "vmproc/bif.h"

BIF(bif_intp)
{
    return bif_bool(is_fix(args[0]));
}

BIF(bif_floatp)
{
    return bif_bool(is_float(args[0]));
}

BIF(bif_atomp)
{
    return bif_bool(is_atom(args[0]));
}

BIF(bif_stringp)
{
    return bif_bool(is_string(args[0]));
}

BIF(bif_listp)
{
    return bif_bool(is_nil(args[0]) || is_cons(args[0]));
}

BIF(bif_tuplep)
{
    return bif_bool(is_tuple(args[0]));
}

BIF(bif_pidp)
{
    return bif_bool(is_pid(args[0]));
}

BIF(bif_funp)
{
    return bif_bool(is_closure(args[0]));
}
