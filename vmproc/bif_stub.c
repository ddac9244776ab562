#include "vmproc/bif.h"
#include "vmproc/compiler.h"
BIF(bif_spawn_link) { return bif_error(proc_of(pcb), A_BADARG); }
BIF(bif_spawn_monitor) { return bif_error(proc_of(pcb), A_BADARG); }
BIF(bif_alivep) { return bif_error(proc_of(pcb), A_BADARG); }
BIF(bif_register) { return bif_error(proc_of(pcb), A_BADARG); }
BIF(bif_unregister) { return bif_error(proc_of(pcb), A_BADARG); }
BIF(bif_whereis) { return bif_error(proc_of(pcb), A_BADARG); }
