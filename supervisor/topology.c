/*
 * topology.c: loading the topology with hwloc and placing VMs on it.
 *
 * Placement is hwloc_distrib over the root object: it divides the PUs
 * among the VMs by walking the tree from the top, so VMs spread over
 * packages first, then over NUMA groups and caches inside a package, and
 * a VM never straddles two subtrees when it need not. With more VMs than
 * PUs, VM i takes PU (i mod PUs) and the caller is told to warn.
 *
 * NOTES
 *   Supervisor only. Errors go to the caller's buffer; nothing prints.
 */
#include "supervisor/topology.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Commas outside parentheses become spaces: "pack:2,core:2" is
 * "pack:2 core:2". Inside parentheses (attributes such as
 * indexes=0,2,1,3) a comma keeps its hwloc meaning. */
static void unshell(char *s)
{
    int depth = 0;
    for (; *s; s++) {
        if (*s == '(')
            depth++;
        else if (*s == ')' && depth > 0)
            depth--;
        else if (*s == ',' && depth == 0)
            *s = ' ';
    }
}

static uint32_t count(hwloc_topology_t hw, hwloc_obj_type_t type)
{
    int n = hwloc_get_nbobjs_by_type(hw, type);
    return n > 0 ? (uint32_t)n : 0;
}

/* An XML topology of a large machine is a few MiB; more is a mistake. */
#define TOPO_XML_MAX (64u << 20)

/* Read the file ourselves, then hand hwloc the buffer: hwloc's EINVAL
 * cannot tell a missing file from a malformed one, and it would read a
 * FIFO or /dev/zero without end. *text is the buffer, which must outlive
 * hwloc_topology_load. */
static int set_xml(topo_t *t, const char *path, char **text, char *err, size_t errlen)
{
    char why[128];
    size_t len;
    *text = shoal_read_file(path, TOPO_XML_MAX, &len, why, sizeof why);
    if (!*text) {
        shoal_errf(err, errlen, "cannot read topology file \"%s\": %s", path, why);
        return -1;
    }
    if (len >= INT_MAX || hwloc_topology_set_xmlbuffer(t->hw, *text, (int)len + 1) < 0) {
        shoal_errf(err, errlen, "topology file \"%s\" is not a valid hwloc XML topology (%s)", path,
             strerror(errno));
        return -1;
    }
    t->source = TOPO_XML;
    return 0;
}

/* What hwloc would only call malformed, checked first so that the
 * message can say what is wrong: a level type hwloc does not know, a
 * last level that is not pu, or more PUs than TOPO_MAX_PUS (which hwloc
 * would take minutes to build). Levels are "type:N" or "N", each maybe
 * with "(attributes)" or "[memory]" after it; what this does not
 * understand it leaves to hwloc. */
static int check_synthetic(const char *desc, const char *text, char *err, size_t errlen)
{
    unsigned long long pus = 1;
    bool overflow = false, last_pu = false, any = false;
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if (!*p)
            break;
        const char *tok = p;
        int depth = 0;
        while (*p && (depth > 0 || (*p != ' ' && *p != '\t' && *p != '\n'))) {
            if (*p == '(' || *p == '[')
                depth++;
            else if ((*p == ')' || *p == ']') && depth > 0)
                depth--;
            p++;
        }
        if (*tok == '(' || *tok == '[')
            continue; /* global attributes, or memory attached to the level above */
        size_t len = strcspn(tok, "([ \t\n");
        const char *colon = memchr(tok, ':', len);
        const char *num = colon ? colon + 1 : tok;
        size_t numlen = len - (size_t)(num - tok);
        unsigned long long n = 0;
        if (numlen == 0)
            return 0; /* hwloc's to judge */
        for (size_t i = 0; i < numlen; i++) {
            if (num[i] < '0' || num[i] > '9')
                return 0;
            overflow |= __builtin_mul_overflow(n, 10ull, &n) ||
                        __builtin_add_overflow(n, (unsigned long long)(num[i] - '0'), &n);
        }
        /* a bare number is a level hwloc names itself, the last one PU */
        last_pu = true;
        if (colon) {
            char type[32];
            size_t tl = (size_t)(colon - tok);
            if (tl == 0 || tl >= sizeof type)
                return 0;
            memcpy(type, tok, tl);
            type[tl] = 0;
            hwloc_obj_type_t ty;
            if (hwloc_type_sscanf(type, &ty, NULL, 0) < 0) {
                shoal_errf(err, errlen,
                           "synthetic topology \"%s\": unknown level type \"%s\" (levels are "
                           "types such as pack, numa, l3, core and pu)",
                           desc, type);
                return -1;
            }
            last_pu = ty == HWLOC_OBJ_PU;
        }
        any = true;
        overflow |= __builtin_mul_overflow(pus, n, &pus);
    }
    if (!any)
        return 0;
    if (overflow) {
        shoal_errf(err, errlen,
                   "synthetic topology \"%s\" is too large: more PUs than shoal handles (%u)", desc,
                   TOPO_MAX_PUS);
        return -1;
    }
    if (pus > TOPO_MAX_PUS) {
        shoal_errf(err, errlen,
                   "synthetic topology \"%s\" is too large: %llu PUs, and shoal handles at most %u",
                   desc, pus, TOPO_MAX_PUS);
        return -1;
    }
    if (pus == 0) {
        shoal_errf(err, errlen, "synthetic topology \"%s\": a level has 0 objects", desc);
        return -1;
    }
    if (!last_pu) {
        shoal_errf(err, errlen,
                   "synthetic topology \"%s\": the last level must be pu, as in \"pack:2 core:2 "
                   "pu:1\"",
                   desc);
        return -1;
    }
    return 0;
}

static int set_synthetic(topo_t *t, const char *desc, char *err, size_t errlen)
{
    /* A synthetic description never holds a '/': this was meant as a file. */
    if (strchr(desc, '/')) {
        shoal_errf(err, errlen, "cannot read topology file \"%s\": %s", desc, strerror(ENOENT));
        return -1;
    }
    char text[sizeof t->desc];
    snprintf(text, sizeof text, "%s", desc);
    unshell(text);
    if (check_synthetic(desc, text, err, errlen) < 0)
        return -1;
    if (hwloc_topology_set_synthetic(t->hw, text) < 0) {
        shoal_errf(err, errlen,
             "malformed synthetic topology \"%s\" (expected levels such as "
             "\"pack:2 numa:2 core:2 pu:1\", or an XML file)",
             desc);
        return -1;
    }
    t->source = TOPO_SYNTHETIC;
    return 0;
}

int topo_load(topo_t *t, const char *desc, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    if (desc && strlen(desc) >= sizeof t->desc) {
        shoal_errf(err, errlen, "topology description too long (%zu bytes, at most %zu)", strlen(desc),
             sizeof t->desc - 1);
        errno = ENAMETOOLONG;
        return -1;
    }
    if (hwloc_topology_init(&t->hw) < 0) {
        shoal_errf(err, errlen, "hwloc: cannot initialise a topology: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    char *xml = NULL;
    if (desc && *desc) {
        snprintf(t->desc, sizeof t->desc, "%s", desc);
        if (is_file(desc) || ends_with(desc, ".xml"))
            rc = set_xml(t, desc, &xml, err, errlen);
        else
            rc = set_synthetic(t, desc, err, errlen);
    }
    if (rc == 0 && hwloc_topology_load(t->hw) < 0) {
        shoal_errf(err, errlen, "hwloc: cannot load the topology%s%s: %s", *t->desc ? " " : "", t->desc,
             strerror(errno));
        rc = -1;
    }
    free(xml);
    if (rc == 0) {
        t->n_packages = count(t->hw, HWLOC_OBJ_PACKAGE);
        t->n_nodes = count(t->hw, HWLOC_OBJ_NUMANODE);
        t->n_l3 = count(t->hw, HWLOC_OBJ_L3CACHE);
        t->n_cores = count(t->hw, HWLOC_OBJ_CORE);
        t->n_pus = count(t->hw, HWLOC_OBJ_PU);
        if (t->n_nodes == 0)
            t->n_nodes = 1;
        if (t->n_cores == 0)
            t->n_cores = t->n_pus;
        if (t->n_pus == 0) {
            shoal_errf(err, errlen, "the topology has no processing units");
            rc = -1;
        } else if (t->n_pus > TOPO_MAX_PUS) {
            shoal_errf(err, errlen, "the topology is too large: %u PUs, and shoal handles at most %u",
                       t->n_pus, TOPO_MAX_PUS);
            rc = -1;
        } else if (t->n_nodes > SHOAL_MAX_NODES) {
            shoal_errf(err, errlen, "the topology has %u NUMA nodes; shoal handles at most %u",
                 t->n_nodes, SHOAL_MAX_NODES);
            rc = -1;
        }
    }
    if (rc < 0) {
        int e = errno;
        hwloc_topology_destroy(t->hw);
        t->hw = NULL;
        errno = e ? e : EINVAL;
    }
    return rc;
}

void topo_free(topo_t *t)
{
    if (t && t->hw) {
        hwloc_topology_destroy(t->hw);
        t->hw = NULL;
    }
}

int topo_source_text(const topo_t *t, char *buf, size_t len)
{
    switch (t->source) {
    case TOPO_MACHINE:
        return snprintf(buf, len, "this machine");
    case TOPO_SYNTHETIC:
        return snprintf(buf, len, "synthetic \"%s\"", t->desc);
    case TOPO_XML:
        return snprintf(buf, len, "XML file \"%s\"", t->desc);
    }
    UNREACHABLE();
    return -1;
}

static const char *plural(uint32_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int topo_describe(const topo_t *t, char *buf, size_t len)
{
    char src[300];
    topo_source_text(t, src, sizeof src);
    return snprintf(buf, len, "%s: %u %s, %u %s, %u L3, %u %s, %u %s", src, t->n_packages,
                    plural(t->n_packages, "package", "packages"), t->n_nodes,
                    plural(t->n_nodes, "NUMA node", "NUMA nodes"), t->n_l3, t->n_cores,
                    plural(t->n_cores, "core", "cores"), t->n_pus, plural(t->n_pus, "PU", "PUs"));
}

/* The first object of `type` whose cpuset contains `set`, or NULL. */
static hwloc_obj_t containing(hwloc_topology_t hw, hwloc_obj_type_t type, hwloc_const_cpuset_t set)
{
    int n = hwloc_get_nbobjs_by_type(hw, type);
    for (int i = 0; i < n; i++) {
        hwloc_obj_t o = hwloc_get_obj_by_type(hw, type, (unsigned)i);
        if (o && o->cpuset && !hwloc_bitmap_iszero(o->cpuset) &&
            hwloc_bitmap_isincluded(set, o->cpuset))
            return o;
    }
    return NULL;
}

static uint32_t node_of(hwloc_topology_t hw, hwloc_const_cpuset_t set)
{
    hwloc_obj_t o = containing(hw, HWLOC_OBJ_NUMANODE, set);
    if (o)
        return o->logical_index;
    /* The cpuset spans several nodes (fewer VMs than nodes): the VM's
     * memory comes from the node of its first PU. */
    int first = hwloc_bitmap_first(set);
    int n = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
    for (int i = 0; first >= 0 && i < n; i++) {
        o = hwloc_get_obj_by_type(hw, HWLOC_OBJ_NUMANODE, (unsigned)i);
        if (o && o->cpuset && hwloc_bitmap_isset(o->cpuset, (unsigned)first))
            return o->logical_index;
    }
    return 0;
}

static int fill(const topo_t *t, topo_vm_t *vm, uint32_t i, hwloc_const_cpuset_t set, char *err,
                size_t errlen)
{
    int n = hwloc_bitmap_list_snprintf(vm->cpuset, sizeof vm->cpuset, set);
    if (n < 0 || (size_t)n >= sizeof vm->cpuset) {
        shoal_errf(err, errlen, "the cpuset of VM %u does not fit in %d characters", i,
             TOPO_CPUSET_TEXT - 1);
        errno = ERANGE;
        return -1;
    }
    int w = hwloc_bitmap_weight(set);
    vm->n_pus = w > 0 ? (uint32_t)w : 0;
    vm->node = node_of(t->hw, set);
    hwloc_obj_t l3 = containing(t->hw, HWLOC_OBJ_L3CACHE, set);
    vm->l3 = l3 ? l3->logical_index : UINT32_MAX;
    return 0;
}

int topo_place(const topo_t *t, uint32_t n_vms, topo_placement_t *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (n_vms == 0 || n_vms > SHOAL_MAX_VMS) {
        shoal_errf(err, errlen, "cannot place %u VMs (1..%u)", n_vms, SHOAL_MAX_VMS);
        errno = EINVAL;
        return -1;
    }
    p->vms = calloc(n_vms, sizeof *p->vms);
    hwloc_bitmap_t *sets = calloc(n_vms, sizeof *sets);
    int rc = -1;
    if (!p->vms || !sets) {
        shoal_errf(err, errlen, "out of memory");
        errno = ENOMEM;
        goto out;
    }
    p->n_vms = n_vms;
    if (n_vms <= t->n_pus) {
        /* hwloc_distrib allocates the n cpusets itself (hwloc_bitmap_dup). */
        hwloc_obj_t root = hwloc_get_root_obj(t->hw);
        if (hwloc_distrib(t->hw, &root, 1, sets, n_vms, INT_MAX, 0) < 0) {
            shoal_errf(err, errlen, "hwloc_distrib: %s", strerror(errno));
            goto out;
        }
    } else {
        p->shared = true;
        snprintf(p->warning, sizeof p->warning, "%u VMs on %u PUs; VMs share PUs", n_vms, t->n_pus);
        for (uint32_t i = 0; i < n_vms; i++) {
            hwloc_obj_t pu = hwloc_get_obj_by_type(t->hw, HWLOC_OBJ_PU, i % t->n_pus);
            sets[i] = hwloc_bitmap_dup(pu->cpuset);
        }
    }
    for (uint32_t i = 0; i < n_vms; i++) {
        if (!sets[i]) {
            shoal_errf(err, errlen, "out of memory");
            errno = ENOMEM;
            goto out;
        }
        SHOAL_ASSERT(!hwloc_bitmap_iszero(sets[i]), "hwloc_distrib gave an empty cpuset");
        SHOAL_ASSERT(p->shared || i == 0 || !hwloc_bitmap_intersects(sets[i], sets[i - 1]),
                     "placement cpusets overlap");
        if (fill(t, &p->vms[i], i, sets[i], err, errlen) < 0)
            goto out;
    }
    rc = 0;
out:
    if (sets) {
        for (uint32_t i = 0; i < n_vms; i++)
            if (sets[i])
                hwloc_bitmap_free(sets[i]);
        free(sets);
    }
    if (rc < 0) {
        int e = errno;
        topo_placement_free(p);
        errno = e;
    }
    return rc;
}

void topo_placement_free(topo_placement_t *p)
{
    if (!p)
        return;
    free(p->vms);
    p->vms = NULL;
    p->n_vms = 0;
}

enum vm_distance topo_distance(const topo_placement_t *p, uint32_t a, uint32_t b)
{
    SHOAL_ASSERT(a < p->n_vms && b < p->n_vms, "VM index out of the placement");
    return vm_distance_of(a, b, p->vms[a].node, p->vms[b].node, p->vms[a].l3, p->vms[b].l3);
}

enum vm_distance topo_vm_distance(const shm_vm_t *a, const shm_vm_t *b)
{
    return vm_distance_of(a->id, b->id, a->node, b->node, a->l3, b->l3);
}

hwloc_const_nodeset_t topo_nodeset(const topo_t *t, uint32_t node)
{
    hwloc_obj_t o = hwloc_get_obj_by_type(t->hw, HWLOC_OBJ_NUMANODE, node);
    return o ? o->nodeset : NULL;
}
