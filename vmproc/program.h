/*
 * program.h: the bridge between the supervisor and the language.
 *
 * The supervisor calls program_load before it forks any VM, so the code
 * it compiles into the segment is inherited by every VM and read-only
 * afterwards. Each VM then calls program_vm_main in place of the built-in
 * smoke loop (see vmproc/vm.c).
 *
 * NOTES
 *   program_load: supervisor only, before the fork. program_vm_main: in
 *   the VM process `vm_id`, after it registered in the VM table.
 */
#ifndef SHOAL_VMPROC_PROGRAM_H
#define SHOAL_VMPROC_PROGRAM_H

#include "shm/segment.h"

/* Compile the program into the segment's atom and code tables before the
 * fork; prints FILE:LINE:COL: error: messages; returns 0, or -1 on a
 * compile error (exit status 2). `files` are the program's source files in
 * order, `args` the program arguments (what followed `--`). */
int program_load(shm_header_t *h, int nfiles, char **files, int nargs, char **args);

/* The prelude's source (`len` bytes), which program_load compiles as the
 * file "<prelude>" before the program's files: a compile of program text
 * without it cannot call the builtins written in the language (map,
 * foldl, sort, sleep, ...). For the compile fuzzer. */
const char *program_prelude(size_t *len);

/* Run the scheduler of VM vm_id until the run stops; returns the VM's exit
 * code. The VM that runs main sets h->run.exit_status and then h->run.done
 * when main exits, and notifies the supervisor (vm_notify). */
int program_vm_main(shm_header_t *h, uint32_t vm_id);

#endif
