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

/* Exit statuses of `shoal`. */
enum {
    SHOAL_EXIT_OK = 0,
    SHOAL_EXIT_FAIL = 1,    /* could not start: a system call failed */
    SHOAL_EXIT_USAGE = 2,   /* bad command line, config, topology or program */
    SHOAL_EXIT_VM_DIED = 3, /* a VM died and the run was stopped */
    SHOAL_EXIT_OUTPUT = 5,  /* standard output could not be written */
    SHOAL_EXIT_SIGNAL = 128 /* + N: stopped by signal N */
};

/* Run the VMs of placement `p` on topology `t`: the smoke workload if
 * opts->smoke, else the program in opts->files. Returns the exit status. */
int run_main(const shoal_opts_t *opts, const topo_t *t, const topo_placement_t *p);

#endif
