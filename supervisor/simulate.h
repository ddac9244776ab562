/*
 * simulate.h: `shoal simulate`: a policy's real decisions against a
 * synthetic workload on a synthetic topology (supervisor/sim.h has the
 * engine).
 */
#ifndef SHOAL_SUPERVISOR_SIMULATE_H
#define SHOAL_SUPERVISOR_SIMULATE_H

/* argv[0] is "simulate". Returns the exit status. */
int simulate_cli_main(int argc, char **argv);

#endif
