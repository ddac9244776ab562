/*
 * policy_cli.h: `shoal policy ...`: the policies and their parameters.
 *
 *   shoal policy list [--json]
 *
 * NOTES
 *   Supervisor process, before any run: prints to stdout, errors to
 *   stderr; returns the exit status.
 */
#ifndef SHOAL_SUPERVISOR_POLICY_CLI_H
#define SHOAL_SUPERVISOR_POLICY_CLI_H

/* argv[0] is "policy". */
int policy_cli_main(int argc, char **argv);

/* Print s as a JSON string (quotes and escapes) to stdout. */
void cli_json_string(const char *s);

#endif
