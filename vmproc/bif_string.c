/*
 * bif_string.c: string builtins (LANGUAGE.md, "Builtins", Strings).
 */
#include "vmproc/bif.h"

#include "vmproc/compiler.h"
#include "vmproc/termio.h"

#include <errno.h>
#include <stdlib.h>

/* The printed forms of args, strings unquoted, into b; `spaces` puts a
 * space between them (print), else none (str). */
void bif_print_args(rt_t *rt, term *args, uint32_t argc, bool spaces, sbuf_t *b)
{
    for (uint32_t i = 0; i < argc; i++) {
        if (spaces && i)
            sbuf_put(b, " ", 1);
        term_print(rt->h, b, args[i], true);
    }
}

BIF(bif_str)
{
    sbuf_t b = {0};
    bif_print_args(rt, args, argc, false, &b);
    if (b.oom || !bif_room(rt, pcb, str_words(b.len))) {
        sbuf_free(&b);
        return T_NONE;
    }
    term s = bif_mk_string(proc_of(pcb), b.s ? b.s : "", b.len);
    sbuf_free(&b);
    return s;
}

BIF(bif_string_length)
{
    return is_string(args[0]) ? mk_fix((int64_t)str_len(args[0]))
                              : bif_error(proc_of(pcb), A_BADARG);
}

BIF(bif_string_to_int)
{
    proc_t *p = proc_of(pcb);
    if (!is_string(args[0]))
        return bif_error(p, A_BADARG);
    const char *s = str_bytes(args[0]);
    uint64_t n = str_len(args[0]), i = 0;
    if (n && (s[0] == '-' || s[0] == '+'))
        i++;
    if (i == n || n > 40)
        return bif_error(p, A_BADARG);
    for (uint64_t k = i; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return bif_error(p, A_BADARG);
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno == ERANGE || !fix_fits(v))
        return bif_error(p, A_BADARG);
    return mk_fix(v);
}
