/*
 * program.c: loading a program before the fork, and running it in a VM.
 *
 * program_load reads and compiles the source files (with the prelude, the
 * builtins written in the language) into the segment's atom and code
 * tables; program_vm_main hands the VM to the scheduler.
 */
#include "vmproc/program.h"

#include "shm/atom.h"
#include "vmproc/code.h"
#include "vmproc/compiler.h"
#include "vmproc/ets.h"
#include "vmproc/reader.h"
#include "vmproc/sched.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Builtins that call back into the program. Names start with % so that no
 * program can name them. */
static const char prelude[] =
    "(defn %map (f l) (%map-acc f l '()))\n"
    "(defn %map-acc (f l acc)\n"
    "  (if (null? l) (reverse acc) (%map-acc f (cdr l) (cons (f (car l)) acc))))\n"
    "(defn %foldl (f acc l)\n"
    "  (if (null? l) acc (%foldl f (f (car l) acc) (cdr l))))\n"
    /* Erlang's timer:sleep: a receive that matches nothing */
    "(defn %sleep (ms) (receive (after ms 'ok)))\n"
    /* Shared tables: a chunk of entries at a time (%table-chunk, a short
     * operation), f called on each outside any operation, with no lock. */
    "(defn %table-fold (t f acc) (%table-fold-go t f acc (%table-chunk t 'start)))\n"
    "(defn %table-fold-go (t f acc c)\n"
    "  (let ((acc2 (%table-fold-each f (elem 1 c) acc)))\n"
    "    (if (= (elem 0 c) 'end) acc2 (%table-fold-go t f acc2 (%table-chunk t (elem 0 c))))))\n"
    "(defn %table-fold-each (f l acc)\n"
    "  (if (null? l) acc\n"
    "      (let ((e (car l))) (%table-fold-each f (cdr l) (f (elem 0 e) (elem 1 e) acc)))))\n"
    "(defn %table->list (t) (reverse (%table-list-go t (%table-chunk t 'start) '())))\n"
    "(defn %table-list-go (t c acc)\n"
    "  (let ((acc2 (%table-list-onto (elem 1 c) acc)))\n"
    "    (if (= (elem 0 c) 'end) acc2 (%table-list-go t (%table-chunk t (elem 0 c)) acc2))))\n"
    "(defn %table-list-onto (l acc)\n"
    "  (if (null? l) acc (%table-list-onto (cdr l) (cons (car l) acc))))\n";

static char *read_file(const char *path, size_t *len)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        errno = EISDIR;
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t k = fread(buf + n, 1, cap - n, f);
        n += k;
        if (k == 0)
            break;
        if (n == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) {
                free(buf);
                buf = NULL;
                errno = ENOMEM;
            }
            buf = b;
        }
    }
    int e = ferror(f) ? EIO : 0;
    fclose(f);
    if (buf && e) {
        free(buf);
        errno = e;
        return NULL;
    }
    *len = n;
    return buf;
}

static void report(const diag_t *d, const char *fallback_file)
{
    if (d->file)
        fprintf(stderr, "%s:%d:%d: error: %s\n", d->file, d->line, d->col, d->msg);
    else
        fprintf(stderr, "%s:1:1: error: %s\n", fallback_file, d->msg);
}

static int args_constant(shm_header_t *h, int nargs, char **args)
{
    term l = T_NIL;
    for (int i = nargs; i-- > 0;) {
        size_t n = strlen(args[i]);
        uint64_t w = str_words(n);
        term *s = code_alloc(h, w * sizeof(term));
        term *cell = code_alloc(h, 2 * sizeof(term));
        if (!s || !cell)
            return -1;
        memset(s, 0, w * sizeof(term));
        s[0] = mk_hdr(w, BT_STRING);
        s[1] = n;
        memcpy(&s[2], args[i], n);
        cell[0] = mk_box(s);
        cell[1] = l;
        l = mk_cons_ptr(cell);
    }
    code_table(h)->args = l;
    return 0;
}

int program_load(shm_header_t *h, int nfiles, char **files, int nargs, char **args)
{
    code_init(h);
    static const char *const names[] = {
#define X(id, name) name,
        WELL_KNOWN_ATOMS(X)
#undef X
    };
    for (size_t i = 0; i < A__COUNT; i++)
        if (atom_intern(h, names[i], strlen(names[i])) != (int64_t)i) {
            fprintf(stderr, "shoal: the atom table is too small\n");
            return -1;
        }
    compiler_t *c = compiler_new(h);
    if (!c) {
        fprintf(stderr, "shoal: out of memory\n");
        return -1;
    }
    int rc = -1;
    size_t nsrc = (size_t)nfiles + 1;
    reader_arena_t **arenas = calloc(nsrc, sizeof *arenas);
    char **texts = calloc(nsrc, sizeof *texts);
    diag_t d = {0};
    if (!arenas || !texts) {
        fprintf(stderr, "shoal: out of memory\n");
        goto out;
    }
    for (size_t i = 0; i < nsrc; i++) {
        const char *name = i == 0 ? "<prelude>" : files[i - 1];
        const char *src = prelude;
        size_t len = sizeof prelude - 1;
        if (i > 0) {
            texts[i] = read_file(name, &len);
            if (!texts[i]) {
                fprintf(stderr, "shoal: cannot read %s: %s\n", name, strerror(errno));
                goto out;
            }
            src = texts[i];
        }
        ast_t **forms;
        size_t n;
        if (reader_read(name, src, len, &arenas[i], &forms, &n, &d) < 0 ||
            compiler_declare(c, forms, n, &d) < 0) {
            report(&d, name);
            goto out;
        }
    }
    if (compiler_finish(c, &d) < 0) {
        report(&d, files[0]);
        goto out;
    }
    if (ets_init(h) < 0) {
        fprintf(stderr, "shoal: the pool cannot hold the table directory\n");
        goto out;
    }
    if (args_constant(h, nargs, args) < 0) {
        fprintf(stderr, "shoal: the program arguments do not fit the code area\n");
        goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; arenas && i < nsrc; i++)
        reader_free(arenas[i]);
    for (size_t i = 0; texts && i < nsrc; i++)
        free(texts[i]);
    free(arenas);
    free(texts);
    compiler_free(c);
    return rc;
}

int program_vm_main(shm_header_t *h, uint32_t vm_id)
{
    /* The atom and code tables are read-only after the fork (DESIGN.md):
     * make this VM's view of them so, and a stray write is a fault here,
     * not a corrupted program in every VM. They are contiguous and page
     * aligned in the segment. */
    char *lo = shm_at(h, h->layout.atom_off);
    size_t len = (size_t)(h->layout.code_off + h->cfg.code_bytes - h->layout.atom_off);
    if (mprotect(lo, SHOAL_ALIGN_UP(len, SHOAL_PAGE), PROT_READ) < 0) {
        fprintf(stderr, "shoal: VM %u: cannot protect the code tables: %s\n", vm_id,
                strerror(errno));
        return 1;
    }
    return sched_main(h, vm_id);
}
