/*
 * trace.c: stack traces of processes that errors ended (see trace.h).
 */
#include "vmproc/trace.h"

#include "shm/atom.h"

#include <stdio.h>

/* One frame: f, running the instruction that covers code word pc - 1
 * (pc is past an instruction's first word, or a call's return address). */
static void frame(const shm_header_t *h, sbuf_t *b, const func_t *f, const uint32_t *pc)
{
    size_t len;
    const char *name = atom_name(h, f->name, &len);
    uint32_t at = pc > f->code ? (uint32_t)(pc - 1 - f->code) : 0;
    char num[64];
    sbuf_puts(b, "  at ");
    sbuf_put(b, name, len);
    snprintf(num, sizeof num, "/%u (", f->arity);
    sbuf_puts(b, num);
    sbuf_puts(b, f->file ? f->file : "?");
    snprintf(num, sizeof num, ":%u)\n", code_line(f, at));
    sbuf_puts(b, num);
}

void trace_print(const shm_header_t *h, sbuf_t *b, proc_t *p)
{
    if (!p->trace_fn || !p->stack_hi)
        return;
    frame(h, b, p->trace_fn, p->trace_pc);
    uint64_t shown = 1, more = 0;
    for (ctl_t *c = (ctl_t *)((char *)p->stack_hi - p->trace_ctl); (term *)c < p->stack_hi; c++) {
        /* calls only (not catch or guard frames), and not the bottom
         * frame, whose return address is the end of the process */
        if (ctl_kind(c) != CTL_CALL || c->pc <= c->func->code || c->pc > c->func->code + c->func->ncode)
            continue;
        if (shown < TRACE_FRAMES) {
            frame(h, b, c->func, c->pc);
            shown++;
        } else {
            more++;
        }
    }
    if (more) {
        char num[64];
        snprintf(num, sizeof num, "  ... %llu more\n", (unsigned long long)more);
        sbuf_puts(b, num);
    }
}
