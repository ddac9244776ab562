#include "supervisor/simulate.h"
#include <stdio.h>
int simulate_cli_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "shoal: simulate: not yet\n");
    return 2;
}
