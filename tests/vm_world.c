/*
 * vm_world.c: several VMs in one test process (see vm_world.h).
 */
#include "tests/vm_world.h"

#include "vmproc/msg.h"

#include "shm/proctab.h"
#include "shm/vmtab.h"
#include "vmproc/code.h"
#include "vmproc/interp.h"
#include "vmproc/program.h"

#include <ck_pr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* program_load of `src`, written to a temp file. */
static int load_program(shm_header_t *h, const char *src)
{
    const char *dir = getenv("TMPDIR");
    char path[256];
    snprintf(path, sizeof path, "%s/shoal-vw-XXXXXX.shoal", dir && *dir ? dir : "/tmp");
    int fd = mkstemps(path, 6);
    if (fd < 0)
        return -1;
    size_t len = strlen(src);
    ssize_t k = write(fd, src, len);
    close(fd);
    char *files[] = {path};
    int rc = k == (ssize_t)len ? program_load(h, 1, files, 0, NULL) : -1;
    unlink(path);
    return rc;
}

bool vw_open(vw_t *w, uint32_t n_vms, uint32_t n_nodes, uint32_t slots, uint64_t pool_bytes,
             enum heap_follow follow)
{
    return vw_open_program(w, n_vms, n_nodes, slots, pool_bytes, follow, "(defn main () 'ok)\n");
}

bool vw_open_program(vw_t *w, uint32_t n_vms, uint32_t n_nodes, uint32_t slots, uint64_t pool_bytes,
                     enum heap_follow follow, const char *src)
{
    memset(w, 0, sizeof *w);
    if (n_vms == 0 || n_vms > VW_MAX_VMS || n_nodes == 0)
        return false;
    shm_config_t c;
    shm_config_default(&c, n_vms, n_nodes);
    c.proc_slots = slots;
    c.atom_cap = 16384; /* room for a table name per directory slot (test_ets) */
    c.atom_bytes = 1u << 20;
    c.code_bytes = 4u << 20;
    c.pool_bytes = pool_bytes;
    w->h = shm_create(&c);
    if (!w->h)
        return false;
    w->n_vms = n_vms;
    w->h->cfg.heap_follow = follow;
    snprintf(w->h->topology, sizeof w->h->topology, "pack:1,numa:%u,core:%u,pu:1", n_nodes,
             n_vms);
    for (uint32_t i = 0; i < n_vms; i++) {
        shm_vm(w->h, i)->id = i;
        shm_vm(w->h, i)->node = i % n_nodes;
    }
    if (load_program(w->h, src) < 0) {
        shm_destroy(w->h);
        w->h = NULL;
        return false;
    }
    for (uint32_t i = 0; i < n_vms; i++) {
        rt_t *rt = vw_rt(w, i);
        rt->h = w->h;
        rt->vm = i;
        rt->node = shm_vm(w->h, i)->node;
        rt->rng = 0x9E3779B97F4A7C15ull ^ i;
        rt->default_heap_limit_words = w->h->cfg.heap_limit_bytes / sizeof(term);
        rt->sched = &w->s[i];
    }
    return true;
}

void vw_close(vw_t *w)
{
    for (uint32_t i = 0; i < VW_MAX_VMS; i++)
        sched_free(&w->s[i]);
    if (w->h)
        shm_destroy(w->h);
    w->h = NULL;
}

pcb_t *vw_proc_new(vw_t *w, uint32_t vm)
{
    rt_t *rt = vw_rt(w, vm);
    pcb_t *pcb = proctab_claim(w->h, vm);
    if (!pcb)
        return NULL;
    code_table_t *ct = code_table(w->h);
    if (heap_init(rt, pcb, rt->node) < 0 ||
        interp_start(rt, pcb, ct->funcs[ct->main_index]->value, NULL, 0) < 0) {
        heap_release(rt, pcb);
        proctab_release(w->h, pcb);
        return NULL;
    }
    proctab_publish(w->h, pcb);
    heap_attach(rt, proc_of(pcb));
    return pcb;
}

void vw_proc_free(vw_t *w, pcb_t *pcb, uint32_t owner)
{
    msg_free_closed(vw_rt(w, owner), pcb);
    heap_release(vw_rt(w, owner), pcb);
    proctab_release(w->h, pcb);
}

void vw_free_all(vw_t *w)
{
    for (uint32_t i = 0; i < w->h->cfg.proc_slots; i++) {
        pcb_t *pcb = shm_pcb(w->h, i);
        if (ck_pr_load_32(&pcb->state) == PCB_LIVE)
            vw_proc_free(w, pcb, pcb->owner);
    }
}

uint64_t vw_inbound(const vw_t *w, uint32_t vm)
{
    return ck_pr_load_64(&shm_vm(w->h, vm)->inbound);
}

size_t vw_inbound_slots(const vw_t *w, uint32_t vm, uint32_t *out, size_t max)
{
    size_t n = 0;
    for (uint64_t at = vw_inbound(w, vm); at && n < max; n++) {
        out[n] = (uint32_t)at - 1;
        at = proc_of(shm_pcb(w->h, (uint32_t)at - 1))->inbound_next;
    }
    return n;
}

size_t vw_runq_slots(const vw_t *w, uint32_t vm, uint32_t *out, size_t max)
{
    size_t n = 0;
    for (pcb_t *p = w->s[vm].rq_head; p && n < max; p = proc_of(p)->rq_next)
        out[n++] = p->slot;
    return n;
}

pcb_t *vw_next(vw_t *w, uint32_t vm)
{
    sched_drain_inbound(&w->s[vm]);
    return runq_pop(&w->s[vm]);
}
