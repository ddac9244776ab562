/*
 * topology.h: the machine the VMs run on, and where each VM goes.
 *
 * The topology comes from hwloc: this machine by default, or a synthetic
 * description ("pack:2 numa:2 core:2 pu:1") or an XML file exported by
 * hwloc (lstopo foo.xml), so that placement can be planned and tested for
 * machines we do not have. Placement gives each VM a cpuset. VMs get
 * disjoint cpusets spread evenly over the machine (hwloc_distrib walks
 * packages, then NUMA groups and caches, then cores), until there are
 * more VMs than PUs: then VM i takes PU (i mod PUs) and VMs share PUs.
 *
 * NOTES
 *   Supervisor only; single-threaded. A topo_t and its placements are
 *   private memory. The VM table in the segment carries what the VMs need
 *   (cpuset text, node, L3), and topo_vm_distance works from that.
 *   Errors: functions return 0 or -1 and write a message (no "shoal:"
 *   prefix, no newline) into the caller's buffer; nothing here prints.
 */
#ifndef SHOAL_SUPERVISOR_TOPOLOGY_H
#define SHOAL_SUPERVISOR_TOPOLOGY_H

#include "shm/vmtab.h"

#include <hwloc.h>

enum topo_source {
    TOPO_MACHINE = 0, /* this machine: binding is possible */
    TOPO_SYNTHETIC,   /* a synthetic description: placement is only recorded */
    TOPO_XML          /* an XML file: placement is only recorded */
};

/* The most PUs a topology may have. hwloc's own loading and placement
 * grow faster than linearly in the PUs: 4,096 load in 0.2 s, 16,384 in
 * 12 s, 1,000,000 not in minutes. The largest machines today have a few
 * thousand. */
#define TOPO_MAX_PUS 4096u

/* Bytes of a VM's cpuset text (the shm_vm_t field has the same size). */
#define TOPO_CPUSET_TEXT 64

typedef struct topo {
    hwloc_topology_t hw;
    enum topo_source source;
    char desc[256];      /* the synthetic description or the XML path, as given */
    uint32_t n_packages; /* counts of the loaded topology */
    uint32_t n_nodes;    /* NUMA nodes, >= 1 */
    uint32_t n_l3;
    uint32_t n_cores; /* >= 1: a topology without cores counts its PUs */
    uint32_t n_pus;
} topo_t;

/* Where one VM goes. */
typedef struct topo_vm {
    char cpuset[TOPO_CPUSET_TEXT]; /* hwloc list text, e.g. "0-1" or "3" */
    uint32_t node;                 /* NUMA node containing the cpuset (logical index); if the
                                    * cpuset spans several nodes, the node of its first PU */
    uint32_t l3;                   /* L3 containing the cpuset (logical index), or UINT32_MAX */
    uint32_t n_pus;                /* PUs in the cpuset */
} topo_vm_t;

typedef struct topo_placement {
    uint32_t n_vms;
    bool shared;       /* more VMs than PUs: VMs share PUs */
    char warning[128]; /* non-empty when the caller should warn the user */
    topo_vm_t *vms;    /* n_vms entries */
} topo_placement_t;

/* Load a topology. `desc` NULL or "" means this machine. Otherwise it is an
 * XML file if it names an existing file or ends in ".xml", else a synthetic
 * description, in which commas outside parentheses may stand for spaces
 * ("pack:2,numa:2,core:2,pu:1") so that it fits in one shell word. */
int topo_load(topo_t *t, const char *desc, char *err, size_t errlen);
void topo_free(topo_t *t);

/* One line: where the topology came from and its counts, e.g.
 * `synthetic "pack:2 core:2": 2 packages, 1 NUMA node, 0 L3, 4 cores, 4 PUs`.
 * Returns the length snprintf would have written. */
int topo_describe(const topo_t *t, char *buf, size_t len);

/* Where the topology came from: "this machine", `synthetic "..."` or
 * `XML file "..."`. */
int topo_source_text(const topo_t *t, char *buf, size_t len);

/* Place n_vms (1..SHOAL_MAX_VMS) VMs. On success the caller frees the
 * placement with topo_placement_free. */
int topo_place(const topo_t *t, uint32_t n_vms, topo_placement_t *p, char *err, size_t errlen);
void topo_placement_free(topo_placement_t *p);

/* Distance class between two VMs of a placement, or of the VM table. */
enum vm_distance topo_distance(const topo_placement_t *p, uint32_t a, uint32_t b);
enum vm_distance topo_vm_distance(const shm_vm_t *a, const shm_vm_t *b);

/* The NUMA node set of node `node` (logical index), for memory binding;
 * NULL if there is no such node. Owned by the topology. */
hwloc_const_nodeset_t topo_nodeset(const topo_t *t, uint32_t node);

#endif
