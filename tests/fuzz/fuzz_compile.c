/*
 * fuzz_compile.c: the reader and the compiler on arbitrary bytes.
 *
 * As tests/lang_harness.c lh_compile does, and program_load before the
 * fork: a small segment, the well-known atoms interned in their order,
 * then the prelude and the input compiled into its code area. Whatever
 * the input, the compile ends in code or in an error (a diag_t with a
 * position and a message); never a crash, a sanitizer report or a leak
 * (the compiler longjmps out of any depth on an error, and must free
 * what it held).
 *
 * The segment is small (4,096 atoms, 4 MiB of code), so that inputs
 * reach the "atom table full" and "code area full" errors too. It is made
 * once: a new memfd per input cost a third of the time in page faults.
 * Before each input its atom table is emptied and the code area written
 * so far is zeroed and emptied, so that no input depends on the last.
 * The prelude's forms are read once too (the compiler does not change
 * forms).
 */
#include "tests/fuzz/fuzz.h"

#include "shm/atom.h"
#include "shm/segment.h"
#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "vmproc/program.h"
#include "vmproc/reader.h"

#include <string.h>

static const char FILE_NAME[] = "fuzz.shoal";

static shm_header_t *segment(void)
{
    shm_config_t c;
    shm_config_default(&c, 1, 1);
    c.proc_slots = 64;
    c.atom_cap = 4096;
    c.atom_bytes = 256u << 10;
    c.code_bytes = 4u << 20;
    c.pool_bytes = 4u << 20;
    return shm_create(&c);
}

static void prepare_atoms(shm_header_t *h)
{
    static const char *const names[] = {
#define X(id, name) name,
        WELL_KNOWN_ATOMS(X)
#undef X
    };
    code_init(h);
    for (size_t i = 0; i < A__COUNT; i++)
        FUZZ_CHECK(atom_intern(h, names[i], strlen(names[i])) == (int64_t)i,
                   "well-known atoms out of order");
}

static void check_diag(const diag_t *d)
{
    FUZZ_CHECK(d->msg[0] != 0, "an error without a message");
    FUZZ_CHECK(memchr(d->msg, 0, sizeof d->msg) != NULL, "a message not terminated");
    /* an error in a form has its position; one about the whole program
     * (no main) may have none */
    FUZZ_CHECK(!d->file || (d->line >= 1 && d->col >= 1), "an error without a position");
}

static shm_header_t *seg;
static reader_arena_t *pre_arena; /* the prelude's forms, for the life of the process */
static ast_t **pre_forms;
static size_t pre_n;

/* The segment as shm_create leaves it, for the next input. */
static void reset(void)
{
    code_table_t *ct = code_table(seg);
    memset(ct, 0, ct->used); /* what the last compile wrote */
    atom_init(seg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    diag_t d;
    memset(&d, 0, sizeof d);
    if (!seg) {
        seg = segment();
        FUZZ_CHECK(seg != NULL, "cannot make a segment");
        size_t plen;
        const char *pre = program_prelude(&plen);
        FUZZ_CHECK(reader_read("<prelude>", pre, plen, &pre_arena, &pre_forms, &pre_n, &d) == 0,
                   d.msg);
    } else {
        reset();
    }
    prepare_atoms(seg);
    compiler_t *c = compiler_new(seg);
    FUZZ_CHECK(c != NULL, "out of memory");
    FUZZ_CHECK(compiler_declare(c, pre_forms, pre_n, &d) == 0, d.msg);

    reader_arena_t *arena = NULL;
    ast_t **forms;
    size_t n;
    if (reader_read(FILE_NAME, (const char *)data, size, &arena, &forms, &n, &d) < 0 ||
        compiler_declare(c, forms, n, &d) < 0 || compiler_finish(c, &d) < 0)
        check_diag(&d);
    else
        FUZZ_CHECK(atom_check(seg) == NULL, "the atom table is inconsistent after a compile");
    compiler_free(c);
    reader_free(arena);
    return 0;
}
