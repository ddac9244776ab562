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
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Builtins that call back into the program, or that do long work in
 * steps (sort), written in the language: every call is a reduction, so a
 * long list yields like any loop, and no C stack grows with it. Each is a
 * loop (tail calls) that builds its result reversed; a list that is not a
 * proper list is badarg, from car, cdr or reverse. Names start with % so
 * that no program can define them (compiler.c, prelude_of). */
static const char prelude[] =
    "(defn %map (f l) (%map-acc f l '()))\n"
    "(defn %map-acc (f l acc)\n"
    "  (if (null? l) (reverse acc) (%map-acc f (cdr l) (cons (f (car l)) acc))))\n"
    "(defn %foldl (f acc l)\n"
    "  (if (null? l) acc (%foldl f (f (car l) acc) (cdr l))))\n"
    "(defn %foldr (f acc l) (%foldl f acc (reverse l)))\n"
    /* Erlang's lists:filter: the predicate answers true or false */
    "(defn %filter (f l) (%filter-acc f l '()))\n"
    "(defn %filter-acc (f l acc)\n"
    "  (if (null? l) (reverse acc)\n"
    "    (let ((x (car l)))\n"
    "      (case (f x)\n"
    "        ('true (%filter-acc f (cdr l) (cons x acc)))\n"
    "        ('false (%filter-acc f (cdr l) acc))\n"
    "        (_ (error 'badarg))))))\n"
    "(defn %each (f l)\n"
    "  (if (null? l) 'ok (do (f (car l)) (%each f (cdr l)))))\n"
    "(defn %map-fold (f acc m) (%map-fold-list f acc (map->list m)))\n"
    "(defn %map-fold-list (f acc l)\n"
    "  (if (null? l) acc\n"
    "    (let ((e (car l))) (%map-fold-list f (f (elem 0 e) (elem 1 e) acc) (cdr l)))))\n"
    /* sort: sorted runs cut in C, then merged pairwise, each merge one
     * builtin call: the process yields between merges */
    "(defn %sort (l) (%merge-all (%sort-runs l)))\n"
    "(defn %merge-all (runs)\n"
    "  (cond ((null? runs) '())\n"
    "        ((null? (cdr runs)) (car runs))\n"
    "        (true (%merge-all (%merge-pairs runs '())))))\n"
    "(defn %merge-pairs (runs acc)\n"
    "  (cond ((null? runs) (reverse acc))\n"
    "        ((null? (cdr runs)) (reverse (cons (car runs) acc)))\n"
    "        (true (%merge-pairs (cdr (cdr runs)) (cons (%merge (car runs) (car (cdr runs))) acc)))))\n"
    /* sort-by: a bottom-up merge sort; the right run's head goes first
     * only when it must precede, so equals keep their order */
    "(defn %sort-by (f l) (%sort-by-all f (%singletons l '())))\n"
    "(defn %singletons (l acc)\n"
    "  (if (null? l) (reverse acc) (%singletons (cdr l) (cons (list (car l)) acc))))\n"
    "(defn %sort-by-all (f runs)\n"
    "  (cond ((null? runs) '())\n"
    "        ((null? (cdr runs)) (car runs))\n"
    "        (true (%sort-by-all f (%merge-by-pairs f runs '())))))\n"
    "(defn %merge-by-pairs (f runs acc)\n"
    "  (cond ((null? runs) (reverse acc))\n"
    "        ((null? (cdr runs)) (reverse (cons (car runs) acc)))\n"
    "        (true (%merge-by-pairs f (cdr (cdr runs))\n"
    "                 (cons (%merge-by f (car runs) (car (cdr runs)) '()) acc)))))\n"
    "(defn %merge-by (f a b acc)\n"
    "  (case a\n"
    "    ((cons x xs)\n"
    "     (case b\n"
    "       ((cons y ys) (if (f y x) (%merge-by f a ys (cons y acc)) (%merge-by f xs b (cons x acc))))\n"
    "       (_ (%rev-append acc a))))\n"
    "    (_ (%rev-append acc b))))\n"
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

const char *program_prelude(size_t *len)
{
    *len = sizeof prelude - 1;
    return prelude;
}

static void report(const diag_t *d, const char *fallback_file)
{
    char file[PATH_MAX], msg[4 * sizeof d->msg];
    shoal_escape(file, sizeof file, d->file ? d->file : fallback_file);
    shoal_escape(msg, sizeof msg, d->msg);
    if (d->file)
        fprintf(stderr, "%s:%d:%d: error: %s\n", file, d->line, d->col, msg);
    else
        fprintf(stderr, "%s:1:1: error: %s\n", file, msg);
}

/* Read one source file, within the run's source limit (--source-mb). */
static char *read_source(shm_header_t *h, const char *path, size_t *len)
{
    char why[128], name[PATH_MAX];
    char *text = shoal_read_file(path, h->cfg.source_bytes, len, why, sizeof why);
    if (text)
        return text;
    int e = errno;
    shoal_escape(name, sizeof name, *path ? path : "\"\""); /* an empty name shows as "" */
    if (e == EFBIG)
        fprintf(stderr,
                "shoal: cannot read %s: it is larger than the source file limit, %llu MiB "
                "(raise it with --source-mb N)\n",
                name, (unsigned long long)(h->cfg.source_bytes >> 20));
    else
        fprintf(stderr, "shoal: cannot read %s: %s\n", name, why);
    return NULL;
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

typedef struct file_id {
    dev_t dev;
    ino_t ino;
    int i; /* its place on the command line */
} file_id_t;

static int by_id(const void *a, const void *b)
{
    const file_id_t *x = a, *y = b;
    if (x->dev != y->dev)
        return x->dev < y->dev ? -1 : 1;
    if (x->ino != y->ino)
        return x->ino < y->ino ? -1 : 1;
    return x->i - y->i;
}

/* One file given twice would be "defined twice" at every defn: say so
 * instead (sorted by device and inode, so that 10,000 files cost no
 * 50 million comparisons). True if it printed. */
static bool same_file_twice(int nfiles, char **files)
{
    file_id_t *ids = malloc((size_t)nfiles * sizeof *ids);
    if (!ids)
        return false; /* only a better message is lost */
    int n = 0;
    for (int i = 0; i < nfiles; i++) {
        struct stat st;
        if (stat(files[i], &st) == 0) /* else read_source reports it */
            ids[n++] = (file_id_t){st.st_dev, st.st_ino, i};
    }
    qsort(ids, (size_t)n, sizeof *ids, by_id);
    int first = -1, second = -1;
    for (int k = 1; k < n; k++)
        if (ids[k].dev == ids[k - 1].dev && ids[k].ino == ids[k - 1].ino &&
            (second < 0 || ids[k].i < second)) {
            first = ids[k - 1].i;
            second = ids[k].i;
        }
    free(ids);
    if (second < 0)
        return false;
    char x[PATH_MAX], y[PATH_MAX];
    shoal_escape(x, sizeof x, files[first]);
    shoal_escape(y, sizeof y, files[second]);
    if (strcmp(files[first], files[second]) == 0)
        fprintf(stderr, "shoal: %s is given twice\n", x);
    else
        fprintf(stderr, "shoal: %s and %s are the same file\n", x, y);
    return true;
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
            fprintf(stderr, "shoal: the atom table is too small (raise it with --atoms N)\n");
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
    if (same_file_twice(nfiles, files))
        goto out;
    for (size_t i = 0; i < nsrc; i++) {
        const char *name = i == 0 ? "<prelude>" : files[i - 1];
        const char *src = prelude;
        size_t len = sizeof prelude - 1;
        if (i > 0) {
            texts[i] = read_source(h, name, &len);
            if (!texts[i])
                goto out;
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
        fprintf(stderr, "shoal: the program arguments do not fit the code area (raise it with "
                        "--code-mb N)\n");
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
    /* The code table is read-only after the fork (DESIGN.md): make this
     * VM's view of it so, and a stray write is a fault here, not a
     * corrupted program in every VM. It is page aligned in the segment.
     * (The atom table stays writable: string->atom adds atoms, shm/atom.h
     * says how.) */
    char *lo = shm_at(h, h->layout.code_off);
    size_t len = (size_t)h->cfg.code_bytes;
    if (mprotect(lo, SHOAL_ALIGN_UP(len, SHOAL_PAGE), PROT_READ) < 0) {
        fprintf(stderr, "shoal: VM %u: cannot protect the code tables: %s\n", vm_id,
                strerror(errno));
        return 1;
    }
    return sched_main(h, vm_id);
}
