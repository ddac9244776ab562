/*
 * client.h: the commands that talk to a running run over its control
 * socket: `shoal stats`, `ps`, `inspect`, `top` (top.c) and `policy`.
 *
 * Each connects to the run's socket (ctl.h says where), sends one request
 * line (ctlproto.h), reads the one-line JSON reply and prints it: as a
 * table by default, as the JSON object itself with --json, and for stats
 * also in the Prometheus text format with --prometheus.
 *
 * Exit status: 0 done; 1 the run answered with an error (no such
 * process, a refused policy change); 2 bad command line; 4 the run could
 * not be reached (no such run, refused, no answer in time).
 *
 * NOTES
 *   Runs in its own process, never in a supervisor or a VM; it maps no
 *   shared memory. Messages go to stderr, prefixed "shoal: ".
 */
#ifndef SHOAL_SUPERVISOR_CLIENT_H
#define SHOAL_SUPERVISOR_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether `cmd` is one of the client commands. */
bool client_command(const char *cmd);

/* Run a client command; argv[0] is the command. Returns the exit status. */
int client_main(int argc, char **argv);

/* For top.c: connect to run `name` (-1 with why in err), and make one
 * request on the connection: the reply object, or NULL with why (and
 * *unreachable set when the connection failed rather than the run
 * answering with an error). */
int client_connect(const char *name, char *err, size_t errlen);
json_t *client_request(int fd, const char *line, int timeout_ms, char *err, size_t errlen,
                       bool *unreachable);

/* Helpers shared with top.c. */
json_int_t client_int(const json_t *o, const char *key);
double client_real(const json_t *o, const char *key);
const char *client_str(const json_t *o, const char *key);
void client_bytes(uint64_t n, char *buf, size_t len); /* "12.5 KiB" */
void client_count(double n, char *buf, size_t len);   /* "1.2M" */

#endif
