/*
 * segment.c: creating, laying out and checking the shared segment.
 *
 * NOTES
 *   Supervisor only: shm_create and shm_destroy. A VM only checks the
 *   mapping it inherited. The memfd is kept open (and inherited by every
 *   VM) so that a restarted VM, forked again from the supervisor, gets the
 *   same mapping at the same address.
 */
#include "shm/segment.h"

#include "shm/atom.h"
#include "shm/names.h"
#include "shm/info.h"
#include "shm/plan.h"
#include "shm/pool.h"
#include "shm/proctab.h"
#include "shm/slab.h"
#include "shm/vmtab.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

shm_header_t *shm_seg;

/* 2 MiB alignment for the pages lets the kernel use huge pages for them. */
#define POOL_ALIGN (2u << 20)

void shm_config_default(shm_config_t *cfg, uint32_t n_vms, uint32_t n_nodes)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->n_vms = n_vms;
    cfg->n_nodes = n_nodes ? n_nodes : 1;
    /* 256 Ki slots: room for the 100,000-process tests with headroom; a
     * PCB is 256 bytes, so the table reserves 64 MiB of address space. */
    cfg->proc_slots = 256u * 1024;
    /* 64 Ki atoms: every atom and top-level function name a program
     * writes, which 60,000 definitions fill (--atoms raises it). */
    shm_config_atoms(cfg, 64u * 1024);
    /* 64 MiB of code: about a million lines of typical source. */
    /* registered names are few (servers, not workers); 4,096 is a table
     * of 128 KiB */
    cfg->name_cap = 4096;
    cfg->code_bytes = 64u << 20;
    /* 4 GiB of pool: enough for a 64 MiB heap and its copy baseline and for
     * 100,000 small processes; untouched pages cost nothing. */
    cfg->pool_bytes = 4ull << 30;
    /* 1 GiB: far above any test or benchmark heap (64 MiB), far below what
     * would hurt the machine. */
    cfg->heap_limit_bytes = 1ull << 30;
    /* 64 MiB of source: about a million lines, well past what compiles
     * into the default code area; it bounds what `shoal run /dev/zero`
     * style mistakes can cost. */
    cfg->source_bytes = 64ull << 20;
    /* a second of waiting: a server between two requests a second apart
     * is collected once per request, and a process that is done working
     * soon holds no more than a new one */
    cfg->hibernate_ms = SHM_HIBERNATE_MS_DEFAULT;
}

void shm_config_atoms(shm_config_t *cfg, uint32_t cap)
{
    cfg->atom_cap = cap;
    /* 1 MiB of index and 3 MiB of names for the default 64 Ki */
    cfg->atom_bytes = atom_index_bytes(cap) + (uint64_t)cap * SHM_ATOM_NAME_BYTES;
}

static uint64_t page_up(uint64_t x)
{
    return SHOAL_ALIGN_UP(x, SHOAL_PAGE);
}

int shm_layout_compute(const shm_config_t *cfg, shm_layout_t *out)
{
    if (cfg->n_vms == 0 || cfg->n_vms > SHOAL_MAX_VMS || cfg->n_nodes == 0 ||
        cfg->n_nodes > SHOAL_MAX_NODES || cfg->proc_slots == 0 || cfg->pool_bytes == 0 ||
        cfg->atom_cap == 0 || cfg->atom_cap > (1u << 30) ||
        cfg->atom_bytes <= atom_index_bytes(cfg->atom_cap) || cfg->name_cap == 0 ||
        cfg->name_cap > (1u << 24)) {
        errno = EINVAL;
        return -1;
    }
    memset(out, 0, sizeof *out);
    uint64_t off = page_up(sizeof(shm_header_t));
    out->vm_off = off;
    off = page_up(off + (uint64_t)SHOAL_MAX_VMS * sizeof(shm_vm_t));
    out->plan_off = off;
    off = page_up(off + (uint64_t)cfg->n_vms * sizeof(shm_plan_t));
    out->proc_off = off;
    off = page_up(off + (uint64_t)cfg->proc_slots * sizeof(pcb_t));
    out->proc_map_off = off;
    off = page_up(off + proctab_map_bytes(cfg->proc_slots));
    out->live_off = off;
    off = page_up(off + proctab_live_words(cfg->proc_slots) * sizeof(uint64_t));
    out->info_off = off;
    off = page_up(off + (uint64_t)cfg->n_vms * sizeof(shm_info_t));
    out->msgs_off = off;
    off = page_up(off + (uint64_t)cfg->n_vms * shm_msg_row_words(cfg->n_vms) * sizeof(uint64_t));
    out->atom_off = off;
    off = page_up(off + cfg->atom_bytes);
    out->names_off = off;
    off = page_up(off + names_table_bytes(cfg->name_cap));
    out->code_off = off;
    off = page_up(off + cfg->code_bytes);
    out->heap_slab_off = off;
    off = page_up(off + slab_bytes(cfg->n_vms));

    out->pages_per_node = cfg->pool_bytes / SHOAL_PAGE / cfg->n_nodes;
    if (out->pages_per_node == 0) {
        errno = EINVAL;
        return -1;
    }
    /* Round each node's range to whole 64-page bitmap words. */
    out->pages_per_node = (out->pages_per_node + 63) & ~(uint64_t)63;
    out->pool_pages = out->pages_per_node * cfg->n_nodes;

    out->pool_ctl_off = off;
    off = page_up(off + pool_ctl_bytes(cfg));
    out->pool_desc_off = off;
    off = page_up(off + out->pool_pages * POOL_DESC_BYTES);
    out->pool_bitmap_off = off;
    off = page_up(off + out->pool_pages / 8);
    off = SHOAL_ALIGN_UP(off, POOL_ALIGN);
    out->pool_pages_off = off;
    off += out->pool_pages * SHOAL_PAGE;
    out->total_bytes = off;
    return 0;
}

shm_header_t *shm_create(const shm_config_t *cfg)
{
    shm_layout_t layout;
    if (shm_layout_compute(cfg, &layout) < 0)
        return NULL;
    int fd = memfd_create("shoal", MFD_CLOEXEC);
    if (fd >= 0 && fd <= 2) {
        /* Never one of the standard fds: print would write into the
         * segment. (main makes 0, 1 and 2 valid first, so this is a
         * second line of defence for other callers.) */
        int high = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        close(fd);
        fd = high;
    }
    if (fd < 0)
        return NULL;
    if (ftruncate(fd, (off_t)layout.total_bytes) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    void *base = mmap(NULL, layout.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        int e = errno;
        close(fd);
        errno = e;
        return NULL;
    }
    shm_header_t *h = base;
    h->magic = SHM_MAGIC;
    h->version = SHM_LAYOUT_VERSION;
    h->header_bytes = sizeof *h;
    h->base = (uintptr_t)base;
    h->cfg = *cfg;
    h->layout = layout;
    h->supervisor_pid = (int32_t)getpid();
    h->memfd = fd;
    for (uint32_t i = 0; i < SHOAL_MAX_VMS; i++)
        shm_vm(h, i)->id = i;
    plan_init(h);
    proctab_init(h);
    atom_init(h);
    names_table_init(h);
    pool_init(h);
    slab_init(shm_at(h, layout.heap_slab_off), cfg->n_vms, POOL_OWNER_HEAP_SLABS);
    shm_seg = h;
    return h;
}

void shm_destroy(shm_header_t *h)
{
    if (!h)
        return;
    int fd = h->memfd;
    munmap(h, h->layout.total_bytes);
    close(fd);
    if (shm_seg == h)
        shm_seg = NULL;
}

int shm_check_mapping(const shm_header_t *h)
{
    if (!h || h->magic != SHM_MAGIC || h->version != SHM_LAYOUT_VERSION ||
        h->base != (uintptr_t)h) {
        errno = EFAULT;
        return -1;
    }
    return 0;
}
