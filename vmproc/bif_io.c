/*
 * bif_io.c: output and the program's surroundings (LANGUAGE.md,
 * "Builtins", Output and Program): print, args, now-ms, cpu-us, random.
 */
#include "vmproc/bif.h"

#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "vmproc/interp.h"
#include "vmproc/out.h"
#include "vmproc/termio.h"

#include <time.h>


BIF(bif_print)
{
    sbuf_t b = {0};
    bif_print_args(rt, args, argc, true, &b);
    sbuf_put(&b, "\n", 1);
    /* A failed write is the run's business, not the process's: out.c
     * records it and the supervisor stops the run. */
    if (!b.oom)
        out_write(rt->h, rt->vm, b.s, b.len);
    sbuf_free(&b);
    return mk_atom(A_OK);
}

BIF(bif_args)
{
    return code_table(rt->h)->args;
}

BIF(bif_now_ms)
{
    return mk_fix(interp_now_ns() / 1000000);
}

/* The CPU time of this VM's OS process (one thread): what a benchmark
 * compares with Lua's os.clock and BEAM's statistics(runtime), which are
 * CPU times too, so that on a loaded machine no side is charged for the
 * time it spent waiting for a core. */
BIF(bif_cpu_us)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return mk_fix((int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000);
}

static uint64_t next_random(rt_t *rt)
{
    /* xorshift64*: fast, good enough for (random n), private per VM */
    uint64_t x = rt->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rt->rng = x;
    return x * 0x2545F4914F6CDD1Dull;
}

BIF(bif_random)
{
    if (!is_fix(args[0]) || fix_val(args[0]) <= 0)
        return bif_error(proc_of(pcb), A_BADARG);
    return mk_fix((int64_t)(next_random(rt) % (uint64_t)fix_val(args[0])));
}
