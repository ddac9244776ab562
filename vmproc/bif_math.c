/*
 * bif_math.c: integer and float builtins (LANGUAGE.md, "Builtins",
 * Integers and Floats): the bitwise operators, abs, the conversions
 * between floats and integers, and the math functions.
 *
 * Errors, as in Erlang: a bitwise operator on a non-integer, a result
 * that does not fit in 63 bits, an argument outside a function's domain
 * and a result that is not finite are badarith; a negative shift count,
 * and a non-number given to abs, float, the conversions or a math
 * function, are badarg.
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"

#include <math.h>

/* ------------------------------------------------------------------ */
/* bitwise                                                             */

static bool two_ints(term *args)
{
    return is_fix(args[0]) && is_fix(args[1]);
}

BIF(bif_band)
{
    return two_ints(args) ? (args[0] & args[1]) : bif_error(proc_of(pcb), A_BADARITH);
}

BIF(bif_bor)
{
    return two_ints(args) ? (args[0] | args[1]) : bif_error(proc_of(pcb), A_BADARITH);
}

BIF(bif_bxor)
{
    return two_ints(args) ? mk_fix(fix_val(args[0]) ^ fix_val(args[1]))
                          : bif_error(proc_of(pcb), A_BADARITH);
}

BIF(bif_bnot)
{
    return is_fix(args[0]) ? mk_fix(~fix_val(args[0])) : bif_error(proc_of(pcb), A_BADARITH);
}

/* a << n (left) or a >> n (right, arithmetic), n >= 0 */
static term shift(proc_t *p, term *args, bool left)
{
    if (!two_ints(args))
        return bif_error(p, A_BADARITH);
    int64_t a = fix_val(args[0]), n = fix_val(args[1]);
    if (n < 0)
        return bif_error(p, A_BADARG);
    if (!left)
        return mk_fix(n >= 63 ? (a < 0 ? -1 : 0) : a >> n);
    if (a == 0)
        return mk_fix(0);
    int64_t r;
    if (n >= 63 || __builtin_mul_overflow(a, (int64_t)1 << n, &r) || !fix_fits(r))
        return bif_error(p, A_BADARITH);
    return mk_fix(r);
}

BIF(bif_bsl)
{
    return shift(proc_of(pcb), args, true);
}

BIF(bif_bsr)
{
    return shift(proc_of(pcb), args, false);
}

/* ------------------------------------------------------------------ */
/* numbers                                                             */

BIF(bif_abs)
{
    term x = args[0];
    if (is_fix(x))
        return fix_val(x) == FIX_MIN ? bif_error(proc_of(pcb), A_BADARITH)
                                     : mk_fix(fix_val(x) < 0 ? -fix_val(x) : fix_val(x));
    if (!is_float(x))
        return bif_error(proc_of(pcb), A_BADARG);
    /* fabs: -0.0 too becomes 0.0 */
    return signbit(float_val(x)) ? bif_float_result(rt, pcb, fabs(float_val(x))) : x;
}

BIF(bif_float)
{
    term x = args[0];
    if (is_float(x))
        return x;
    if (!is_fix(x))
        return bif_error(proc_of(pcb), A_BADARG);
    return bif_float_result(rt, pcb, (double)fix_val(x));
}

/* An integer from a float already rounded one way: badarith when it does
 * not fit in 63 bits. */
static term to_int(pcb_t *pcb, term x, double (*round_fn)(double))
{
    if (is_fix(x))
        return x;
    if (!is_float(x))
        return bif_error(proc_of(pcb), A_BADARG);
    double d = round_fn(float_val(x));
    /* 2^62 is exact as a double; every double below it in magnitude, and
     * -2^62 itself, is a 63-bit integer */
    if (!(d >= -4611686018427387904.0 && d < 4611686018427387904.0))
        return bif_error(proc_of(pcb), A_BADARITH);
    return mk_fix((int64_t)d);
}

BIF(bif_trunc)
{
    return to_int(pcb, args[0], trunc);
}

BIF(bif_round)
{
    return to_int(pcb, args[0], round); /* C's round: halves away from zero */
}

BIF(bif_floor)
{
    return to_int(pcb, args[0], floor);
}

BIF(bif_ceil)
{
    return to_int(pcb, args[0], ceil);
}

/* ------------------------------------------------------------------ */
/* math functions: numbers in, a float out                             */

static term math1(rt_t *rt, pcb_t *pcb, term x, double (*fn)(double))
{
    if (!bif_is_num(x))
        return bif_error(proc_of(pcb), A_BADARG);
    /* outside the domain is NaN, a pole is an infinity: both badarith */
    return bif_float_result(rt, pcb, fn(bif_num_val(x)));
}

static term math2(rt_t *rt, pcb_t *pcb, term *args, double (*fn)(double, double))
{
    if (!bif_is_num(args[0]) || !bif_is_num(args[1]))
        return bif_error(proc_of(pcb), A_BADARG);
    return bif_float_result(rt, pcb, fn(bif_num_val(args[0]), bif_num_val(args[1])));
}

BIF(bif_sqrt)
{
    return math1(rt, pcb, args[0], sqrt);
}

BIF(bif_exp)
{
    return math1(rt, pcb, args[0], exp);
}

BIF(bif_log)
{
    return math1(rt, pcb, args[0], log);
}

BIF(bif_sin)
{
    return math1(rt, pcb, args[0], sin);
}

BIF(bif_cos)
{
    return math1(rt, pcb, args[0], cos);
}

BIF(bif_tan)
{
    return math1(rt, pcb, args[0], tan);
}

BIF(bif_atan2)
{
    return math2(rt, pcb, args, atan2);
}

BIF(bif_pow)
{
    return math2(rt, pcb, args, pow);
}
