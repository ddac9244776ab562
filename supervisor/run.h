/*
 * run.h: one run of shoal: the segment, the VMs, and the supervisor's
 * event loop until every VM is reaped.
 *
 * NOTES
 *   Supervisor only; single-threaded. run_main prints its own reports
 *   ("shoal: VM 1 (pid 42) killed by signal 9 (Killed); stopping the run")
 *   to stderr and the smoke results to stdout, and returns the exit status;
 *   it never calls exit().
 */
#ifndef SHOAL_SUPERVISOR_RUN_H
#define SHOAL_SUPERVISOR_RUN_H

#include "supervisor/config.h"
#include "supervisor/topology.h"

/* The exit statuses of `shoal` (SHOAL_EXIT_*) are in shm/common.h: the
 * VMs write some of them. */

/* Run the VMs of placement `p` on topology `t`: the smoke workload if
 * opts->smoke, else the program in opts->files. Returns the exit status. */
int run_main(const shoal_opts_t *opts, const topo_t *t, const topo_placement_t *p);

#endif
