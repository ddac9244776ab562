/*
 * program.c: placeholder until the language lands (reader, compiler,
 * interpreter, scheduler). It refuses to run programs, so that `shoal run
 * FILE` fails clearly rather than doing nothing; `--smoke` works without it.
 */
#include "vmproc/program.h"

#include <stdio.h>

int program_load(shm_header_t *h, int nfiles, char **files, int nargs, char **args)
{
    (void)h;
    (void)nfiles;
    (void)files;
    (void)nargs;
    (void)args;
    fprintf(stderr, "shoal: running programs is not built yet; use --smoke\n");
    return -1;
}

int program_vm_main(shm_header_t *h, uint32_t vm_id)
{
    (void)h;
    (void)vm_id;
    return 0;
}
