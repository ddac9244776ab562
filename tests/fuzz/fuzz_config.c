/*
 * fuzz_config.c: the INI config loader on arbitrary bytes.
 *
 * config_parse is config_load after the file is read: inih fed line by
 * line through config.c's reader, then the keys of [run] checked. Any
 * input ends in options or in an error of the form FILE:LINE: message;
 * the options it sets stay within the bounds config.h states.
 */
#include "tests/fuzz/fuzz.h"

#include "supervisor/config.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    shoal_opts_t o;
    memset(&o, 0, sizeof o);
    char err[512];
    err[0] = 0;
    if (config_parse("fuzz.ini", (const char *)data, size, &o, err, sizeof err) < 0) {
        FUZZ_CHECK(strncmp(err, "fuzz.ini:", 9) == 0, err);
        FUZZ_CHECK(strlen(err) > 12, err);
    } else {
        FUZZ_CHECK(o.vms <= SHOAL_MAX_VMS, "vms out of range");
        FUZZ_CHECK(o.pool_mb <= CONFIG_POOL_MB_MAX, "pool_mb out of range");
        FUZZ_CHECK(o.proc_slots <= CONFIG_PROC_SLOTS_MAX, "proc_slots out of range");
        FUZZ_CHECK(o.heap_limit_mb <= CONFIG_HEAP_LIMIT_MB_MAX, "heap_limit_mb out of range");
        FUZZ_CHECK(o.atoms == 0 || (o.atoms >= CONFIG_ATOMS_MIN && o.atoms <= CONFIG_ATOMS_MAX),
                   "atoms out of range");
        FUZZ_CHECK(o.code_mb <= CONFIG_CODE_MB_MAX, "code_mb out of range");
        FUZZ_CHECK(o.source_mb <= CONFIG_SOURCE_MB_MAX, "source_mb out of range");
        FUZZ_CHECK(o.heap_follow <= 2, "heap_follow out of range");
        FUZZ_CHECK(!o.topology || *o.topology, "an empty topology");
    }
    config_free(&o);
    return 0;
}
