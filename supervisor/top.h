/*
 * top.h: `shoal top`, a live view of a running run in the terminal.
 *
 * NOTES
 *   Client process only (client.h). It puts the terminal in raw mode on
 *   the alternate screen and always restores it: on q, on SIGINT, SIGTERM
 *   and SIGHUP, when the run ends, and on any error.
 */
#ifndef SHOAL_SUPERVISOR_TOP_H
#define SHOAL_SUPERVISOR_TOP_H

/* Watch run `name`, refreshing every `interval` seconds, processes
 * sorted by `sort` (a ctlproto sort key). Returns the exit status. */
int top_main(const char *name, double interval, const char *sort);

#endif
