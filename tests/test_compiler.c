/*
 * test_compiler.c: the compiler's errors, each at its exact line and
 * column (LANGUAGE.md: "FILE:LINE:COL: error: MESSAGE"), and the code
 * table a successful compile leaves.
 *
 * Errors are checked on the diag_t that reader_read + compiler_declare +
 * compiler_finish fill in (lh_compile, no prelude: these programs never
 * call map, foldl or sleep), and the printed form through program_load
 * and through `shoal run` (exit status 2, nothing run).
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include "shm/atom.h"
#include "shm/pool.h"
#include "vmproc/compiler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static shm_header_t *seg; /* the suite's segment for direct compiles */

static int init(void)
{
    seg = lh_segment(16u << 20, 64);
    return seg ? 0 : -1;
}

static int cleanup(void)
{
    if (seg)
        shm_destroy(seg);
    seg = NULL;
    return 0;
}

/* `src` fails to compile with `msg` (a substring) at line:col of t.shoal. */
static void compile_error(const char *src, int line, int col, const char *msg, unsigned at)
{
    diag_t d;
    int rc = lh_compile(seg, "t.shoal", src, &d);
    lh_check(rc == -1, at, __FILE__, "[%s] compiled, want an error \"%s\"", src, msg);
    if (rc != -1)
        return;
    lh_check(d.file && strcmp(d.file, "t.shoal") == 0, at, __FILE__, "[%s] error in file %s",
             src, d.file ? d.file : "(null)");
    lh_check(d.line == line && d.col == col, at, __FILE__, "[%s] error at %d:%d, want %d:%d (%s)",
             src, d.line, d.col, line, col, d.msg);
    lh_check(strstr(d.msg, msg) != NULL, at, __FILE__, "[%s] message \"%s\" lacks \"%s\"", src,
             d.msg, msg);
}
#define CERR(src, l, c, msg) compile_error((src), (l), (c), (msg), __LINE__)

static void compiles(const char *src, unsigned at)
{
    diag_t d;
    int rc = lh_compile(seg, "t.shoal", src, &d);
    lh_check(rc == 0, at, __FILE__, "[%s] does not compile: %d:%d: %s", src, d.line, d.col,
             d.msg);
    if (rc == 0) {
        code_table_t *ct = code_table(seg);
        lh_check(ct->main_index < ct->nfuncs && ct->funcs[ct->main_index]->arity == 0, at,
                 __FILE__, "[%s] main_index %u of %u functions", src, ct->main_index, ct->nfuncs);
    }
}
#define COMPILES(src) compiles((src), __LINE__)

/* ------------------------------------------------------------------ */
/* errors                                                              */

static void test_unbound_variable(void)
{
    CERR("(defn main ()\n  (print x))", 2, 10, "unbound variable x");
    /* a let binding ends with its let */
    CERR("(defn main ()\n  (let ((a 1)) a)\n  a)", 3, 3, "unbound variable a");
    /* parameters belong to their function */
    CERR("(defn f (y) y)\n(defn main () y)", 2, 15, "unbound variable y");
    /* a closure sees only what is in scope where it is written */
    CERR("(defn main () (fn () zz))", 1, 22, "unbound variable zz");
    /* a clause's pattern variables end with the clause */
    CERR("(defn main ()\n  (case 1\n    (x x)\n    (_ x)))", 4, 8, "unbound variable x");
    /* let binds sequentially: a binding does not see the later ones */
    CERR("(defn main () (let ((a b) (b 1)) a))", 1, 24, "unbound variable b");
    /* _ binds nothing, in a let as in a pattern (Erlang's _ = e) */
    CERR("(defn main () (let ((_ 5)) _))", 1, 28,
         "unbound variable _; _ matches anything and binds nothing, in a pattern or a let: "
         "give the value a name");
    CERR("(defn main () (case 5 (_ _)))", 1, 26, "unbound variable _");
}

static void test_undefined_function(void)
{
    CERR("(defn main () (frob 1 2))", 1, 16, "undefined function frob/2");
    CERR("(defn main ()\n\n     (nope))", 3, 7, "undefined function nope/0");
}

static void test_arity_top_level(void)
{
    CERR("(defn f (a b) a)\n(defn main ()\n  (f 1))", 3, 3,
         "f is defined with 2 arguments, called with 1");
    CERR("(defn main () (g))\n(defn g (a) a)", 1, 15, "g is defined with 1 argument, called with 0");
    /* a tail call is checked the same way */
    CERR("(defn loop (n) (loop n 1))\n(defn main () (loop 1))", 1, 16,
         "loop is defined with 1 argument, called with 2");
}

static void test_arity_builtin(void)
{
    CERR("(defn main ()\n  (car 1 2))", 2, 3, "car takes 1 argument, not 2");
    CERR("(defn main () (cons 1))", 1, 15, "cons takes 2 arguments, not 1");
    CERR("(defn main () (-))", 1, 15, "- takes 1 or more arguments, not 0");
    CERR("(defn main () (exit 1 2 3))", 1, 15, "exit takes 1 or 2 arguments, not 3");
    CERR("(defn main () (self 1))", 1, 15, "self takes 0 arguments, not 1");
    CERR("(defn main () (print (elem 1)))", 1, 22, "elem takes 2 arguments, not 1");
    CERR("(defn main () (map (fn (x) x)))", 1, 15, "map takes 2 arguments, not 1");
    CERR("(defn main () (< 1 2 3))", 1, 15, "< takes 2 arguments, not 3");
    CERR("(defn main () (spawn))", 1, 15, "spawn takes 1 or more arguments, not 0");
}

static void test_malformed_let(void)
{
    CERR("(defn main () (let x 1))", 1, 15, "malformed let");
    CERR("(defn main () (let ((x 1))))", 1, 15, "malformed let");
    CERR("(defn main ()\n  (let ((x 1) (y)) x))", 2, 15, "malformed let binding");
    CERR("(defn main () (let ((1 2)) 1))", 1, 21, "malformed let binding");
    CERR("(defn main () (let ((x 1 2)) x))", 1, 21, "malformed let binding");
    CERR("(defn main () (let ((if 2)) 1))", 1, 22, "cannot bind if");
    CERR("(defn main ()\n  (let ((a 1) (true 2)) a))", 2, 16, "cannot bind true");
}

static void test_malformed_if(void)
{
    CERR("(defn main () (if))", 1, 15, "malformed if");
    CERR("(defn main ()\n    (if true))", 2, 5, "malformed if");
    CERR("(defn main () (if 1 2 3 4))", 1, 15, "malformed if");
}

static void test_malformed_fn(void)
{
    CERR("(defn main () (fn (x)))", 1, 15, "malformed fn");
    CERR("(defn main () (fn))", 1, 15, "malformed fn");
    CERR("(defn main () (fn x x))", 1, 19, "malformed parameter list");
    CERR("(defn main () (fn (x 1) x))", 1, 22, "a parameter must be a name");
    CERR("(defn main () (fn (if) 1))", 1, 20, "cannot use if as a parameter");
}

static void test_malformed_case(void)
{
    CERR("(defn main () (case 1))", 1, 15, "malformed case");
    CERR("(defn main () (case 1 2))", 1, 23, "malformed clause");
    CERR("(defn main () (case 1 (x)))", 1, 23, "malformed clause");
    CERR("(defn main ()\n  (case 1 ((foo a) a)))", 2, 12, "malformed pattern");
    CERR("(defn main () (case 1 (x (when) 1)))", 1, 26, "malformed guard");
    CERR("(defn main () (case 1 (x (when 1 2) 1)))", 1, 26, "malformed guard");
    CERR("(defn main () (case 1 (x (when true))))", 1, 23, "clause has a guard but no body");
    CERR("(defn main () (case 1 ((cons a) 1)))", 1, 24, "malformed cons pattern");
    CERR("(defn main () (case 1 (() 1)))", 1, 24, "malformed pattern ()");
    CERR("(defn main () (case 1 (if 1)))", 1, 24, "cannot bind if");
}

static void test_malformed_receive(void)
{
    CERR("(defn main () (receive))", 1, 15, "malformed receive");
    CERR("(defn main () (receive (after 10)))", 1, 24, "malformed after");
    CERR("(defn main () (receive x))", 1, 24, "malformed clause");
    CERR("(defn main ()\n  (receive ((tuple a) (when) a)))", 2, 23, "malformed guard");
}

static void test_malformed_catch(void)
{
    CERR("(defn main () (catch))", 1, 15, "malformed catch");
    CERR("(defn main ()\n (catch 1 2))", 2, 2, "malformed catch");
}

static void test_malformed_cond(void)
{
    CERR("(defn main () (cond (true)))", 1, 21, "malformed cond clause");
    CERR("(defn main () (cond x))", 1, 21, "malformed cond clause");
    CERR("(defn main () (cond (true 1)\n    ()))", 2, 5, "malformed cond clause");
}

static void test_malformed_defn(void)
{
    CERR("(defn)", 1, 1, "malformed defn");
    CERR("(defn main () 1)\n(defn f ())", 2, 1, "malformed defn");
    CERR("(defn 1 () 1)", 1, 1, "malformed defn");
    CERR("\n  (defn f x 1)", 2, 11, "malformed parameter list");
    CERR("(defn if () 1)", 1, 7, "cannot define if");
    CERR("(defn main () 1)\n(defn false (x) x)", 2, 7, "cannot define false");
    CERR("(defn f (x) x)\n(defn f (y) y)\n(defn main () 1)", 2, 7, "f/1 is defined twice");
    CERR("(defn f (_) 1)", 1, 10, "cannot use _ as a parameter (a parameter is a name: to ignore an "
                                   "argument, name it _x, or _ with any letters after it)");
}

static void test_duplicate_parameter(void)
{
    CERR("(defn f (a b a) a)\n(defn main () (f 1 2 3))", 1, 14, "parameter a appears twice");
    CERR("(defn main () (fn (x y x) x))", 1, 24, "parameter x appears twice");
}

static void test_defn_not_top_level(void)
{
    CERR("(defn main ()\n  (defn g () 1))", 2, 3, "defn is only allowed at top level");
    CERR("(defn main () (let ((a (defn g () 1))) a))", 1, 24, "defn is only allowed at top level");
}

static void test_top_level_form(void)
{
    CERR("(print 1)", 1, 1, "only (defn name (params) body...) forms are allowed at top level");
    CERR("(defn main () 1)\n42", 2, 1, "only (defn");
    CERR("(defn main () 1)\n  foo", 2, 3, "only (defn");
    CERR("()", 1, 1, "only (defn");
    CERR("(defn main () 1)\n'(defn f () 1)", 2, 1, "only (defn");
}

static void test_missing_main(void)
{
    diag_t d;
    CU_ASSERT_EQUAL(lh_compile(seg, "t.shoal", "(defn f () 1)\n(defn g (x) x)", &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "no (defn main () ...)"));
    /* the error has no position of its own: program_load prints it at the
     * first file's 1:1 (test_program_load_messages) */
    CU_ASSERT_PTR_NULL(d.file);
    CU_ASSERT_EQUAL(lh_compile(seg, "t.shoal", "", &d), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(d.msg, "no (defn main () ...)"));
}

static void test_main_with_parameters(void)
{
    CERR("(defn helper () 1)\n(defn main (x) x)", 2, 1, "main must take no arguments");
    CERR("(defn main (a b)\n  a)", 1, 1, "main must take no arguments");
}

/* Errors that are not in the list above but that a user meets. */
static void test_other_errors(void)
{
    CERR("(defn main () ())", 1, 15, "() is not an expression");
    CERR("(defn main () car)", 1, 15, "builtin car can only be called");
    CERR("(defn main () (print if))", 1, 22, "if is a special form, not a value");
    CERR("(defn main () (when 1))", 1, 15, "when is only allowed inside a case or receive clause");
    CERR("(defn main () (after 1 2))", 1, 15, "after is only allowed inside receive");
    CERR("(defn f (x) x)\n(defn f (x y) x)\n(defn main () f)", 3, 15,
         "f is defined with several arities");
    CERR("(defn main () (quote))", 1, 15, "malformed quote");
    /* a read error comes back the same way */
    CERR("(defn main ()\n  \"open", 2, 3, "unterminated string");
}

/* The first error is reported, even when a later one is earlier in the
 * file's own order of passes: the declare pass checks every defn head
 * before any body is compiled. */
static void test_first_error_wins(void)
{
    CERR("(defn main () (print x))\n(defn main (y) y)\n(print 1)", 3, 1, "only (defn");
    CERR("(defn main () (print x))\n(defn g () (car))", 1, 22, "unbound variable x");
}

/* ------------------------------------------------------------------ */
/* what compiles                                                       */

static void test_valid_programs(void)
{
    /* a call before the definition of its callee */
    COMPILES("(defn main () (later 1))\n(defn later (x) x)");
    /* same name, several arities */
    COMPILES("(defn f (x) x)\n(defn f (x y) y)\n(defn main () (f (f 1) 2))");
    /* variables shadow builtins and top-level functions, so the arity of
     * the variable's value is checked when it runs, not here */
    COMPILES("(defn f (x) x)\n(defn main ()\n  (let ((car (fn (a b) a)) (f car)) (f 1 2)))");
    /* every special form, well formed */
    COMPILES("(defn main ()\n"
             "  (let ((a 1) (b (+ a 1)))\n"
             "    (if (< a b) 'yes)\n"
             "    (cond ((= a 2) 'two) (true 'other))\n"
             "    (do (and a b) (or false b))\n"
             "    (case (tuple a b)\n"
             "      ((tuple x y) (when (< x y)) x)\n"
             "      ((list p (cons q r)) p)\n"
             "      ('(1 2) 'lit)\n"
             "      (_ 'none))\n"
             "    (receive (m m) (after 0 'timeout))\n"
             "    (catch (error 'e))\n"
             "    ((fn (z) (+ z a)) 3)))");
    /* a defn body of several forms; main may take its arguments from (args) */
    COMPILES("(defn main () (args) (print 1) 'ok)");
    /* names that look like numbers but are symbols */
    COMPILES("(defn -x (+y) +y)\n(defn main () (-x 1))");
}

/* A fresh segment with `src` loaded by program_load, which must take it
 * without a word on stderr. */
static shm_header_t *load_ok(const char *src)
{
    shm_header_t *h = lh_segment(16u << 20, 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    char err[1024];
    CU_ASSERT_EQUAL_FATAL(lh_load(h, &src, 1, err, sizeof err, NULL), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    return h;
}

/* program_load on a real program: the code table, its functions and the
 * well-known atoms. */
static void test_code_table(void)
{
    shm_header_t *h = load_ok("(defn main () (helper 1 2))\n"
                              "(defn helper (a b)\n"
                              "  (let ((f (fn (x) (+ x a)))) (f b)))\n"
                              "(defn helper (a) (map (fn (y) y) (list a \"s\" 2.5)))\n");

    static const char *const names[] = {
#define X(id, name) name,
        WELL_KNOWN_ATOMS(X)
#undef X
    };
    for (uint32_t i = 0; i < A__COUNT; i++)
        LH_CHECK(atom_find(h, names[i], strlen(names[i])) == (int64_t)i, "atom %s is not %u",
                 names[i], i);

    code_table_t *ct = code_table(h);
    CU_ASSERT_FATAL(ct->main_index < ct->nfuncs);
    const func_t *m = ct->funcs[ct->main_index];
    CU_ASSERT_EQUAL(m->arity, 0);
    CU_ASSERT_EQUAL((int64_t)m->name, atom_find(h, "main", 4));
    CU_ASSERT_PTR_EQUAL(lh_func(h, "main", 0), m);

    const func_t *h2 = lh_func(h, "helper", 2), *h1 = lh_func(h, "helper", 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h1);
    CU_ASSERT_PTR_NOT_EQUAL(h1, h2);
    CU_ASSERT_EQUAL(h2->arity, 2);
    CU_ASSERT_EQUAL(h1->arity, 1);
    CU_ASSERT_PTR_NULL(lh_func(h, "helper", 3));
    CU_ASSERT_PTR_NULL(lh_func(h, "nosuch", 0));
    /* the prelude's functions are in the table under names no program can
     * write */
    CU_ASSERT_PTR_NOT_NULL(lh_func(h, "%map", 2));
    CU_ASSERT_PTR_NOT_NULL(lh_func(h, "%foldl", 3));

    /* every function: in its place, with sane frame sizes, and its value
     * a closure constant in the code area that names it */
    int closures = 0, bad = 0;
    for (uint32_t i = 0; i < ct->nfuncs; i++) {
        const func_t *f = ct->funcs[i];
        bad += f->index != i;
        bad += f->ncode == 0 || f->code == NULL;
        bad += f->nslots < f->arity || f->frame < f->nslots;
        bad += (f->nconsts > 0) != (f->consts != NULL);
        if (f->name == A_FN) {
            closures++;
            continue;
        }
        bad += !is_closure(f->value) || box_ptr(f->value)[1] != (term)(uintptr_t)f;
        bad += pool_contains(h, box_ptr(f->value));
    }
    CU_ASSERT_EQUAL(bad, 0);
    /* (fn (x) (+ x a)) captures a; (fn (y) y) captures nothing */
    CU_ASSERT_EQUAL(closures, 2);
    int captures = 0;
    for (uint32_t i = 0; i < ct->nfuncs; i++)
        if (ct->funcs[i]->name == A_FN)
            captures += (int)ct->funcs[i]->nfree * 10 + (int)ct->funcs[i]->arity;
    CU_ASSERT_EQUAL(captures, 11 + 1);
    /* closures are not top-level functions */
    CU_ASSERT_PTR_NULL(code_find(h, A_FN, 1));
    /* no program arguments */
    CU_ASSERT_EQUAL(ct->args, T_NIL);
    shm_destroy(h);
}

/* Several files compile as one program: names are shared across files,
 * and an error names the file it is in. */
static void test_several_files(void)
{
    shm_header_t *h = lh_segment(16u << 20, 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    const char *ok[] = {"(defn main () (util 41))\n", "(defn util (x) (+ x 1))\n"};
    char err[1024], paths[2][128];
    CU_ASSERT_EQUAL(lh_load(h, ok, 2, err, sizeof err, paths), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_PTR_NOT_NULL(lh_func(h, "util", 1));
    shm_destroy(h);

    h = lh_segment(16u << 20, 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    const char *bad[] = {"(defn main () (util 41))\n", "(defn util (x)\n  (+ x y))\n"};
    CU_ASSERT_EQUAL(lh_load(h, bad, 2, err, sizeof err, paths), -1);
    char want[512];
    snprintf(want, sizeof want, "%s:2:8: error: unbound variable y\n", paths[1]);
    CU_ASSERT_STRING_EQUAL(err, want);
    shm_destroy(h);

    /* a defn defined twice across files */
    h = lh_segment(16u << 20, 64);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    const char *twice[] = {"(defn main () 1)\n(defn u () 1)\n", "\n(defn u () 2)\n"};
    CU_ASSERT_EQUAL(lh_load(h, twice, 2, err, sizeof err, paths), -1);
    snprintf(want, sizeof want, "%s:2:7: error: u/0 is defined twice\n", paths[1]);
    CU_ASSERT_STRING_EQUAL(err, want);
    shm_destroy(h);
}

/* program_load prints FILE:LINE:COL: error: MESSAGE, one line, for read
 * errors, compile errors and a missing main (at 1:1 of the first file). */
static void test_program_load_messages(void)
{
    static const struct {
        const char *src;
        const char *tail; /* what follows the path */
    } cases[] = {
        {"(defn main ()\n  (print \"x)\n", ":2:10: error: unterminated string\n"},
        {"(defn main ()\n  (car 1 2))\n", ":2:3: error: car takes 1 argument, not 2\n"},
        {"(defn f () 1)\n", ":1:1: error: no (defn main () ...) in the program\n"},
        {"(defn main (x) x)\n", ":1:1: error: main must take no arguments (use (args) for the "
                                "command line)\n"},
        {"(defn main () 1))\n", ":1:17: error: unexpected ')'\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shm_header_t *h = lh_segment(16u << 20, 64);
        CU_ASSERT_PTR_NOT_NULL_FATAL(h);
        char err[1024], paths[1][128], want[512];
        int rc = lh_load(h, &cases[i].src, 1, err, sizeof err, paths);
        snprintf(want, sizeof want, "%s%s", paths[0], cases[i].tail);
        LH_CHECK(rc == -1 && strcmp(err, want) == 0, "case %zu: rc %d, printed \"%s\", want \"%s\"",
                 i, rc, err, want);
        shm_destroy(h);
    }
}

/* `shoal run` on a program that does not compile: exit status 2, the
 * message on stderr, and no VM ran (nothing on stdout). */
static void test_run_exit_status(void)
{
    static const char *const flags[] = {"--vms", "1", NULL};
    lh_result_t r;
    lh_run("(defn main ()\n  (print \"before\")\n  (print (car 1 2)))\n", flags, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, ".shoal:3:10: error: car takes 1 argument, not 2\n"));
    lh_result_free(&r);

    lh_run("(defn main () (print \"ran\"))\n(defn f () x)\n", flags, NULL, NULL, &r);
    CU_ASSERT_EQUAL(r.status, 2);
    CU_ASSERT_STRING_EQUAL(r.out, "");
    CU_ASSERT_PTR_NOT_NULL(strstr(r.err, ".shoal:2:12: error: unbound variable x\n"));
    lh_result_free(&r);
}

/* LANGUAGE.md, "Special forms": a defn of a builtin's or a special
 * form's name is an error; a defn would otherwise silently replace the
 * builtin. Variables may still shadow a builtin's name. */
static void test_defn_of_builtin(void)
{
    CERR("(defn print (x) x)\n(defn main () (print 1))", 1, 7,
         "cannot define print: it is a builtin; give your function another name");
    CERR("(defn main () 1)\n(defn + (a b) a)", 2, 7, "cannot define +: it is a builtin");
    CERR("(defn main () 1)\n(defn map (f l x) l)", 2, 7, "cannot define map: it is a builtin");
    CERR("(defn receive () 1)", 1, 7, "cannot define receive: it is a special form");
    CERR("(defn after (x) x)", 1, 7, "cannot define after: it is a special form");
    compiles("(defn main () (let ((print 1) (list 2)) (+ print list)))", __LINE__);
    compiles("(defn main () ((fn (length) (+ length 1)) 1))", __LINE__);
    compiles("(defn print-all (x) x)\n(defn main () (print-all 1))", __LINE__);
}

/* (after ...) is the last clause of a receive; anywhere else it used to
 * read as a pattern, and the message was "cannot bind after". */
static void test_after_not_last(void)
{
    CERR("(defn main () (receive (after 0 1) (x x)))", 1, 24,
         "(after ...) must be the last clause of receive");
    CERR("(defn main ()\n  (receive (x x)\n    (after 5 1)\n    (after 0 2)))", 3, 5,
         "(after ...) must be the last clause of receive, and there can be only one");
    compiles("(defn main () (receive (x x) (after 'infinity 1)))", __LINE__);
    compiles("(defn main () (let ((t 'infinity)) (receive (after t 1))))", __LINE__);
}

/* What a newcomer from another Lisp writes is an error that says what
 * shoal writes instead; a call of a literal is an error at compile time,
 * not badfun when it runs; so is a literal timeout that cannot be. */
static void test_newcomer_errors(void)
{
    CERR("(defn main () (lambda (x) x))", 1, 16,
         "undefined function lambda/2; shoal writes (fn (params) body...)");
    CERR("(defn main () (begin 1 2))", 1, 16, "undefined function begin/2; shoal writes (do e1 e2 ...)");
    CERR("(defn main () (display 1))", 1, 16, "shoal writes (print x ...)");
    CERR("(defn main () (set! x 1))", 1, 16, "a variable cannot change");
    CERR("(defn main () (cond (else 1)))", 1, 22,
         "unbound variable else; the last test of a cond is written true");
    CERR("(defn main () nil)", 1, 15, "unbound variable nil; the empty list is written '()");
    CERR("(defn main () :ok)", 1, 15, "unbound variable :ok; an atom is written with a quote");
    CERR("(define (main) 1)", 1, 1,
         "only (defn name (params) body...) forms are allowed at top level (shoal has no define");
    CERR("(defn main () (1 2))", 1, 16, "a number cannot be called; for a list write (list ...)");
    CERR("(defn main () (\"f\" 2))", 1, 16, "a string cannot be called");
    CERR("(defn main () (receive (after -1 1)))", 1, 31,
         "the timeout of after must be a whole number of milliseconds, 0 or more, or 'infinity");
    CERR("(defn main () (receive (after 1.5 1)))", 1, 31, "the timeout of after must be");
    CERR("(defn main () (receive (after 'never 1)))", 1, 31, "the timeout of after must be");
    CERR("(defn main () (quote a b))", 1, 15, "malformed quote: expected (quote x), one form");
    /* a bound name is no mistake */
    compiles("(defn main () (let ((else 1) (nil 2)) (cond (else nil))))", __LINE__);
    compiles("(defn main () (let ((t 0)) (receive (after t 1))))", __LINE__);
}

/* Compile time grows with the program, not its square: name lookups and
 * constants are hashed. What is counted is every name or constant
 * comparison (compiler_compares); a linear scan of 20,000 definitions,
 * literals or bindings would make hundreds of millions. */
static void test_compile_is_linear(void)
{
    enum { N = 20000 };
    size_t cap = (size_t)N * 160, k = 0;
    char *src = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(src);
    /* N definitions, each calling the one before it, and taking it as a
     * value (f1 ... f{N-1}) */
    k += (size_t)snprintf(src + k, cap - k, "(defn f0 (a) a)\n");
    for (int i = 1; i < N; i++)
        k += (size_t)snprintf(src + k, cap - k, "(defn f%d (a) (f%d (list a f%d)))\n", i, i - 1,
                              i - 1);
    /* N string literals and N atoms in one function */
    k += (size_t)snprintf(src + k, cap - k, "(defn lits () (list");
    for (int i = 0; i < N; i++)
        k += (size_t)snprintf(src + k, cap - k, " \"s%d\" 'a%d", i, i);
    k += (size_t)snprintf(src + k, cap - k, "))\n");
    /* N bindings in one let, each reading the first; and a closure over
     * the last few */
    k += (size_t)snprintf(src + k, cap - k, "(defn lets (x) (let ((v0 x)");
    for (int i = 1; i < N; i++)
        k += (size_t)snprintf(src + k, cap - k, " (v%d v0)", i);
    k += (size_t)snprintf(src + k, cap - k, ") (fn () (list v0 v%d))))\n", N - 1);
    /* a function of N parameters */
    k += (size_t)snprintf(src + k, cap - k, "(defn wide (");
    for (int i = 0; i < N; i++)
        k += (size_t)snprintf(src + k, cap - k, " p%d", i);
    k += (size_t)snprintf(src + k, cap - k, ") p0)\n(defn main () (f%d 1))\n", N - 1);
    CU_ASSERT_FATAL(k < cap);

    shm_config_t cfg; /* the run's default atom table and code area */
    shm_config_default(&cfg, 1, 1);
    cfg.proc_slots = 64;
    cfg.pool_bytes = 16u << 20;
    shm_header_t *h = shm_create(&cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(h);
    diag_t d;
    uint64_t before = compiler_compares;
    int rc = lh_compile(h, "big.shoal", src, &d);
    uint64_t made = compiler_compares - before;
    LH_CHECK(rc == 0, "does not compile: %d:%d: %s", d.line, d.col, d.msg);
    /* about 480,000 here (4 per item); a quadratic compile makes N * N / 2 = 2e8 */
    LH_CHECK(made > 0 && made < 40ull * 6 * N, "%llu comparisons for %d items of each kind",
             (unsigned long long)made, N);
    if (rc == 0) {
        const func_t *f = lh_func(h, "f19999", 1);
        CU_ASSERT_PTR_NOT_NULL(f);
        CU_ASSERT_PTR_NOT_NULL(lh_func(h, "wide", N));
        CU_ASSERT_PTR_NULL(lh_func(h, "wide", N - 1));
        CU_ASSERT_PTR_NULL(lh_func(h, "f19999", 2));
    }
    shm_destroy(h);
    free(src);
}

/* The words after each opcode (opcodes.h), to walk compiled code. */
static const uint8_t op_extra[] = {
#define OP(name, extra, effect, doc) extra,
#include "vmproc/opcodes.h"
#undef OP
};

/* How many instructions `op` f has; *a (if not NULL) gets the A operand
 * of the last. */
static int count_op(const func_t *f, enum opcode op, uint32_t *a)
{
    int n = 0;
    for (uint32_t i = 0; i < f->ncode; i += 1 + op_extra[f->code[i] & 0xff])
        if ((f->code[i] & 0xff) == (uint32_t)op) {
            if (a)
                *a = f->code[i] >> 8;
            n++;
        }
    return n;
}

/* A receive starts after the receive mark (RECV_MARK on the slot) only
 * when every clause must match the same bound local variable. */
static void test_receive_mark(void)
{
    shm_header_t *h = load_ok(
        "(defn all (r) (receive ((tuple r v) v) ((tuple 'DOWN r _ why) why)))\n"
        "(defn keyed (r) (receive ((map-of r v) v) ((tuple 'reply r v) v) (after 5 'none)))\n"
        "(defn two (a r) (receive ((tuple a r v) v) ((tuple r v) v)))\n"
        "(defn alone (r) (receive (r 'same)))\n"
        "(defn mixed (r) (receive ((tuple r v) v) ('x 'x)))\n"
        "(defn apart (a r) (receive ((tuple a v) v) ((tuple r v) v)))\n"
        "(defn any () (receive (x x)))\n"
        "(defn own () (receive ((tuple x x) x)))\n"
        "(defn inner (r) (fn () (receive ((tuple r v) v))))\n"
        "(defn main () 'ok)\n");
    static const struct {
        const char *name;
        uint32_t arity;
        int marks;
        uint32_t slot;
    } want[] = {
        {"all", 1, 1, 0},   {"keyed", 1, 1, 0}, {"two", 2, 1, 1},   {"alone", 1, 1, 0},
        {"mixed", 1, 0, 0}, {"apart", 2, 0, 0}, {"any", 0, 0, 0},   {"own", 0, 0, 0},
        {"inner", 1, 0, 0},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const func_t *f = lh_func(h, want[i].name, want[i].arity);
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        uint32_t slot = UINT32_MAX;
        int n = count_op(f, OP_RECV_MARK, &slot);
        LH_CHECK(n == want[i].marks, "%s: %d RECV_MARKs, want %d", want[i].name, n, want[i].marks);
        if (n == 1)
            LH_CHECK(slot == want[i].slot, "%s: RECV_MARK on slot %u, want %u", want[i].name,
                     slot, want[i].slot);
    }
    /* a free variable of a closure is not a slot: no mark in the fn */
    code_table_t *ct = code_table(h);
    int in_closures = 0;
    for (uint32_t i = 0; i < ct->nfuncs; i++)
        if (ct->funcs[i]->name == A_FN)
            in_closures += count_op(ct->funcs[i], OP_RECV_MARK, NULL);
    CU_ASSERT_EQUAL(in_closures, 0);
    shm_destroy(h);
}

/* A top-level function's tail call of itself is TCALL_SELF (a loop); a
 * tail call of another, or a call of itself that is not in tail
 * position, is not. */
static void test_self_tail_call(void)
{
    shm_header_t *h = load_ok("(defn loop (i) (if (= i 0) 'done (loop (- i 1))))\n"
                              "(defn other (i) (loop i))\n"
                              "(defn deep (i) (if (= i 0) 0 (+ 1 (deep (- i 1)))))\n"
                              "(defn caught (i) (catch (caught i)))\n"
                              "(defn main () 'ok)\n");
    const func_t *loop = lh_func(h, "loop", 1), *other = lh_func(h, "other", 1);
    const func_t *deep = lh_func(h, "deep", 1), *caught = lh_func(h, "caught", 1);
    CU_ASSERT_FATAL(loop && other && deep && caught);
    CU_ASSERT_EQUAL(count_op(loop, OP_TCALL_SELF, NULL), 1);
    CU_ASSERT_EQUAL(count_op(loop, OP_TCALL_G, NULL), 0);
    CU_ASSERT_EQUAL(count_op(other, OP_TCALL_SELF, NULL), 0);
    CU_ASSERT_EQUAL(count_op(other, OP_TCALL_G, NULL), 1);
    CU_ASSERT_EQUAL(count_op(deep, OP_TCALL_SELF, NULL), 0);
    CU_ASSERT_EQUAL(count_op(caught, OP_TCALL_SELF, NULL), 0);
    shm_destroy(h);
}

/* An and, an or, a let or true as the test of an if or a cond clause
 * is compiled as jumps: its comparisons fuse with their jumps (J<cmp>),
 * and no boolean is pushed and then tested (JUMP_F, OR_JUMP, PUSH_TRUE);
 * the same forms as values still build the boolean. */
static void test_branch_tests(void)
{
    shm_header_t *h = load_ok(
        "(defn in (x) (if (and (> x 1) (< x 9)) 'in 'out))\n"
        "(defn out (x) (cond ((or (< x 1) (> x 9)) 'out) (true 'in)))\n"
        "(defn near (c qs) (cond ((let ((q (car qs))) (or (= q c) (= q (+ c 1)))) 'near) (true 'far)))\n"
        "(defn value (x) (and (> x 1) (< x 9)))\n"
        "(defn main () 'ok)\n");
    const func_t *in = lh_func(h, "in", 1), *out = lh_func(h, "out", 1);
    const func_t *near = lh_func(h, "near", 2), *value = lh_func(h, "value", 1);
    CU_ASSERT_FATAL(in && out && near && value);
    const enum opcode built[] = {OP_JUMP_F, OP_OR_JUMP, OP_PUSH_TRUE, OP_PUSH_FALSE};
    for (size_t i = 0; i < sizeof built / sizeof built[0]; i++) {
        CU_ASSERT_EQUAL(count_op(in, built[i], NULL), 0);
        CU_ASSERT_EQUAL(count_op(out, built[i], NULL), 0);
        CU_ASSERT_EQUAL(count_op(near, built[i], NULL), 0);
    }
    CU_ASSERT_EQUAL(count_op(in, OP_JGT_SI, NULL) + count_op(in, OP_JLT_SI, NULL), 2);
    CU_ASSERT_EQUAL(count_op(out, OP_JGT_SI, NULL) + count_op(out, OP_JLT_SI, NULL), 2);
    /* (= q c) reads both slots itself, (= q (+ c 1)) has c + 1 pushed */
    CU_ASSERT_EQUAL(count_op(near, OP_JEQ_SS, NULL), 1);
    CU_ASSERT_EQUAL(count_op(near, OP_JEQ, NULL), 1);
    CU_ASSERT_EQUAL(count_op(value, OP_PUSH_FALSE, NULL), 1);
    shm_destroy(h);
}

/* elem with its tuple in a local slot reads the slot itself: ELEM_SS
 * when the index is a local too, ELEM_KS when it is a literal, ELEM_S
 * when it is computed. */
static void test_elem_fused(void)
{
    shm_header_t *h = load_ok("(defn ss (k t) (elem k t))\n"
                              "(defn s (k t) (elem (+ k 1) t))\n"
                              "(defn plain (k t) (elem k (elem (id 0) t)))\n"
                              "(defn id (x) x)\n"
                              "(defn ks (t) (elem 3 t))\n"
                              "(defn far (t) (elem 4096 t))\n"
                              "(defn main () 'ok)\n");
    const func_t *ss = lh_func(h, "ss", 2), *s = lh_func(h, "s", 2);
    const func_t *plain = lh_func(h, "plain", 2), *ks = lh_func(h, "ks", 1);
    const func_t *far = lh_func(h, "far", 1);
    CU_ASSERT_FATAL(ss && s && plain && ks && far);
    CU_ASSERT_EQUAL(count_op(ss, OP_ELEM_SS, NULL), 1);
    CU_ASSERT_EQUAL(count_op(ss, OP_ELEM, NULL) + count_op(ss, OP_LOAD2, NULL), 0);
    CU_ASSERT_EQUAL(count_op(s, OP_ELEM_S, NULL), 1);
    CU_ASSERT_EQUAL(count_op(s, OP_ELEM, NULL), 0);
    /* the inner elem reads t itself; the outer one has both operands
     * on the stack */
    CU_ASSERT_EQUAL(count_op(plain, OP_ELEM_S, NULL), 1);
    CU_ASSERT_EQUAL(count_op(plain, OP_ELEM, NULL), 1);
    /* a literal index below 4096: one instruction, the index in A's top
     * 12 bits and the slot in its low 12 */
    uint32_t a = 0;
    CU_ASSERT_EQUAL(count_op(ks, OP_ELEM_KS, &a), 1);
    CU_ASSERT_EQUAL(a, 3u << 12 | 0);
    CU_ASSERT_EQUAL(count_op(ks, OP_PUSH_INT, NULL) + count_op(ks, OP_ELEM_S, NULL), 0);
    CU_ASSERT_EQUAL(count_op(far, OP_ELEM_KS, NULL), 0);
    CU_ASSERT_EQUAL(count_op(far, OP_ELEM_S, NULL), 1);
    shm_destroy(h);
}

/* A comparison of two local slots and its jump are one instruction
 * (J<cmp>_SS); a list pattern tests and binds head and tail in one
 * (T_CONS_GET); a loop pushes only the arguments that are not their own
 * parameter (TCALL_SELF_SOME, bit i for argument i), and all of them
 * (TCALL_SELF) when none stays or when A has too few bits; both go on
 * past the ALLOC of the locals (func_t.loop). */
static void test_loop_fused(void)
{
    shm_header_t *h = load_ok(
        "(defn cmps (a b) (list (if (< a b) 1 2) (if (> a b) 1 2) (if (<= a b) 1 2)\n"
        "                        (if (>= a b) 1 2) (if (= a b) 1 2) (if (/= a b) 1 2)))\n"
        "(defn pat (l) (case l ((cons h t) (list h t)) ((list a b c) c) (_ 0)))\n"
        "(defn count (i n acc) (if (= i n) acc (count (+ i 1) n (+ acc i))))\n"
        "(defn swap (a b n) (if (= n 0) a (swap b a (- n 1))))\n"
        "(defn shadow (x n) (if (= n 0) x (let ((x (+ x 1))) (shadow x (- n 1)))))\n"
        "(defn wide (n a b c d e f g h i j k l m o p q r s t u v w x)\n"
        "  (if (= n 0) a (wide (- n 1) a b c d e f g h i j k l m o p q r s t u v w x)))\n"
        "(defn main () 'ok)\n");
    const func_t *cmps = lh_func(h, "cmps", 2), *pat = lh_func(h, "pat", 1);
    const func_t *count = lh_func(h, "count", 3), *swap = lh_func(h, "swap", 3);
    const func_t *shadow = lh_func(h, "shadow", 2), *wide = lh_func(h, "wide", 24);
    CU_ASSERT_FATAL(cmps && pat && count && swap && shadow && wide);
    const enum opcode ss[] = {OP_JLT_SS, OP_JGT_SS, OP_JLE_SS, OP_JGE_SS, OP_JEQ_SS, OP_JNE_SS};
    uint32_t pair = 0;
    for (size_t i = 0; i < sizeof ss / sizeof ss[0]; i++)
        CU_ASSERT_EQUAL(count_op(cmps, ss[i], NULL), 1);
    CU_ASSERT_EQUAL(count_op(cmps, OP_LOAD2, NULL) + count_op(cmps, OP_LOAD, NULL), 0);
    /* two cells for (list a b c) and one for (cons h t), each one test */
    CU_ASSERT_EQUAL(count_op(pat, OP_T_CONS_GET, NULL), 4);
    /* n stays: i and acc are pushed, bits 0 and 2 */
    CU_ASSERT_EQUAL(count_op(count, OP_TCALL_SELF_SOME, &pair), 1);
    CU_ASSERT_EQUAL(pair, 5);
    CU_ASSERT_EQUAL(count_op(count, OP_TCALL_SELF, NULL), 0);
    CU_ASSERT_EQUAL(count_op(swap, OP_TCALL_SELF, NULL), 1);
    CU_ASSERT_EQUAL(count_op(swap, OP_TCALL_SELF_SOME, NULL), 0);
    CU_ASSERT_EQUAL(count_op(shadow, OP_TCALL_SELF, NULL), 1);
    CU_ASSERT_EQUAL(count_op(shadow, OP_TCALL_SELF_SOME, NULL), 0);
    CU_ASSERT_EQUAL(count_op(wide, OP_TCALL_SELF, NULL), 1);
    CU_ASSERT_EQUAL(count_op(wide, OP_TCALL_SELF_SOME, NULL), 0);
    /* a self tail call goes on past the ALLOC of the locals: shadow has
     * one local, count none (its code has no ALLOC) */
    CU_ASSERT_EQUAL(shadow->code[0] & 0xffu, (uint32_t)OP_ALLOC);
    CU_ASSERT_EQUAL(shadow->code[0] >> 8, 1u);
    CU_ASSERT_EQUAL(shadow->nlocals, 1u);
    CU_ASSERT_PTR_EQUAL(shadow->loop, shadow->code + 1);
    CU_ASSERT_EQUAL(count->nlocals, 0u);
    CU_ASSERT_PTR_EQUAL(count->loop, count->code);
    CU_ASSERT_NOT_EQUAL(count->code[0] & 0xffu, (uint32_t)OP_ALLOC);
    shm_destroy(h);
}

/* A let of a list's head or tail is one instruction (CAR_ST, CDR_ST: the
 * slot written in A's low 12 bits, the list's in its top 12); a let of a
 * field at a literal index too (ELEM_KST, the slot in the next word); a
 * comparison of a local with the head of a list and its jump are one
 * (J<cmp>_SC). */
static void test_head_fused(void)
{
    shm_header_t *h = load_ok(
        "(defn split (l) (let ((h (car l)) (t (cdr l))) (list h t)))\n"
        "(defn field (p) (let ((y (elem 1 p))) y))\n"
        "(defn has (x l) (cond ((null? l) 'false) ((< x (car l)) 'false) ((= x (car l)) 'true)\n"
        "                      ((>= x (car l)) (has x (cdr l))) (true 'odd)))\n"
        "(defn both (l) (if (< (car l) (car l)) 1 2))\n"
        "(defn main () 'ok)\n");
    const func_t *split = lh_func(h, "split", 1), *field = lh_func(h, "field", 1);
    const func_t *has = lh_func(h, "has", 2), *both = lh_func(h, "both", 1);
    CU_ASSERT_FATAL(split && field && has && both);
    uint32_t a = 0;
    /* l is slot 0, h slot 1, t slot 2 */
    CU_ASSERT_EQUAL(count_op(split, OP_CAR_ST, &a), 1);
    CU_ASSERT_EQUAL(a, 1u | 0u << 12);
    CU_ASSERT_EQUAL(count_op(split, OP_CDR_ST, &a), 1);
    CU_ASSERT_EQUAL(a, 2u | 0u << 12);
    CU_ASSERT_EQUAL(count_op(split, OP_STORE, NULL) + count_op(split, OP_CAR_S, NULL) +
                        count_op(split, OP_CDR_S, NULL),
                    0);
    CU_ASSERT_EQUAL(count_op(field, OP_ELEM_KST, &a), 1);
    CU_ASSERT_EQUAL(a, 0u | 1u << 12);
    CU_ASSERT_EQUAL(count_op(field, OP_STORE, NULL) + count_op(field, OP_ELEM_KS, NULL), 0);
    /* x is slot 0, l slot 1 */
    CU_ASSERT_EQUAL(count_op(has, OP_JLT_SC, NULL), 1);
    CU_ASSERT_EQUAL(count_op(has, OP_JEQ_SC, NULL), 1);
    CU_ASSERT_EQUAL(count_op(has, OP_JGE_SC, NULL), 1);
    CU_ASSERT_EQUAL(count_op(has, OP_CAR_S, NULL) + count_op(has, OP_JLT, NULL) +
                        count_op(has, OP_JEQ, NULL),
                    0);
    for (uint32_t i = 0; i < has->ncode; i += 1 + op_extra[has->code[i] & 0xff])
        if ((has->code[i] & 0xff) == OP_JLT_SC)
            CU_ASSERT_EQUAL(has->code[i + 1], 0u | 1u << 12);
    /* the left operand is a head itself: no slot to compare it from */
    CU_ASSERT_EQUAL(count_op(both, OP_JLT_SC, NULL), 0);
    CU_ASSERT_EQUAL(count_op(both, OP_JLT, NULL), 1);
    shm_destroy(h);
}

/* A loop whose last new argument is the tail of a list is one
 * instruction (TCALL_SELF_CDR: the bits of the arguments that change in
 * A's low 12, the list's slot in its top 12); not when the tail is not
 * the last one pushed, nor when a jump lands between the two. */
static void test_loop_cdr_fused(void)
{
    shm_header_t *h = load_ok(
        "(defn has (x l) (cond ((null? l) 'false) ((= x (car l)) 'true) (true (has x (cdr l)))))\n"
        "(defn idx (i l x) (cond ((null? l) -1) ((= x (car l)) i) (true (idx (+ i 1) (cdr l) x))))\n"
        "(defn len (l n) (if (null? l) n (len (cdr l) (+ n 1))))\n"
        "(defn alt (l k) (if (null? l) k (alt (if (= k 0) (cdr l) (cdr (cdr l))) k)))\n"
        "(defn main () 'ok)\n");
    const func_t *has = lh_func(h, "has", 2), *idx = lh_func(h, "idx", 3);
    const func_t *len = lh_func(h, "len", 2), *alt = lh_func(h, "alt", 2);
    CU_ASSERT_FATAL(has && idx && len && alt);
    uint32_t a = 0;
    /* x slot 0 stays, l slot 1 is the tail: bit 1, slot 1 */
    CU_ASSERT_EQUAL(count_op(has, OP_TCALL_SELF_CDR, &a), 1);
    CU_ASSERT_EQUAL(a, 2u | 1u << 12);
    CU_ASSERT_EQUAL(count_op(has, OP_TCALL_SELF_SOME, NULL) + count_op(has, OP_CDR_S, NULL), 0);
    /* i and l change (bits 0 and 1), l (slot 1) last */
    CU_ASSERT_EQUAL(count_op(idx, OP_TCALL_SELF_CDR, &a), 1);
    CU_ASSERT_EQUAL(a, 3u | 1u << 12);
    /* the tail is pushed first, the count last: no fusion */
    CU_ASSERT_EQUAL(count_op(len, OP_TCALL_SELF_CDR, NULL), 0);
    CU_ASSERT_EQUAL(count_op(len, OP_CDR_S, NULL), 1);
    /* the last argument's value comes from two branches: the jump from
     * the first lands on the call */
    CU_ASSERT_EQUAL(count_op(alt, OP_TCALL_SELF_CDR, NULL), 0);
    CU_ASSERT_EQUAL(count_op(alt, OP_TCALL_SELF_SOME, NULL), 1);
    shm_destroy(h);
}

/* map-of with literal keys builds from a template the compiler sorted
 * (MK_MAP_K): the template's keys in map order, each with the place of
 * its value among those pushed, a later duplicate's; a key that is not a
 * literal, or a 33rd key, leaves it to the builtin. map-get and set-elem
 * are instructions of their own. */
static void test_map_literal(void)
{
    shm_header_t *h = load_ok(
        "(defn lit (x) (map-of 'b x 'a 1 'b 2 5 3))\n"
        "(defn var (k) (map-of 'a 1 k 2))\n"
        "(defn wide () (map-of 0 0 1 1 2 2 3 3 4 4 5 5 6 6 7 7 8 8 9 9 10 10 11 11 12 12 13 13\n"
        "  14 14 15 15 16 16 17 17 18 18 19 19 20 20 21 21 22 22 23 23 24 24 25 25 26 26 27 27\n"
        "  28 28 29 29 30 30 31 31 32 32))\n"
        "(defn mg (m) (map-get m 'a 0))\n"
        "(defn se (t) (set-elem 0 t 1))\n"
        "(defn main () 'ok)\n");
    const func_t *lit = lh_func(h, "lit", 1), *var = lh_func(h, "var", 1);
    const func_t *wide = lh_func(h, "wide", 0), *mg = lh_func(h, "mg", 1);
    const func_t *se = lh_func(h, "se", 1);
    CU_ASSERT_FATAL(lit && var && wide && mg && se);
    /* map-get and set-elem are instructions, not calls of the builtin */
    CU_ASSERT_EQUAL(count_op(mg, OP_MAP_GET, NULL), 1);
    CU_ASSERT_EQUAL(count_op(se, OP_SET_ELEM, NULL), 1);
    CU_ASSERT_EQUAL(count_op(mg, OP_BIF, NULL) + count_op(se, OP_BIF, NULL), 0);
    uint32_t k = 0;
    CU_ASSERT_EQUAL_FATAL(count_op(lit, OP_MK_MAP_K, &k), 1);
    CU_ASSERT_EQUAL(count_op(lit, OP_BIF, NULL), 0);
    CU_ASSERT_FATAL(k < lit->nconsts && is_map(lit->consts[k]));
    /* 5 < a < b (numbers before atoms); b's value is the third pushed */
    const term *t = box_ptr(lit->consts[k]);
    CU_ASSERT_EQUAL(hdr_words(t[0]), 2 + 2 * 3);
    CU_ASSERT_EQUAL(t[2], mk_fix(5));
    CU_ASSERT_EQUAL(t[3], mk_atom((uint32_t)atom_find(h, "a", 1)));
    CU_ASSERT_EQUAL(t[4], mk_atom((uint32_t)atom_find(h, "b", 1)));
    CU_ASSERT_EQUAL(t[5], mk_fix(3));
    CU_ASSERT_EQUAL(t[6], mk_fix(1));
    CU_ASSERT_EQUAL(t[7], mk_fix(2));
    CU_ASSERT_EQUAL(count_op(var, OP_MK_MAP_K, NULL), 0);
    CU_ASSERT_EQUAL(count_op(var, OP_BIF, NULL), 1);
    CU_ASSERT_EQUAL(count_op(wide, OP_MK_MAP_K, NULL), 0);
    CU_ASSERT_EQUAL(count_op(wide, OP_BIF, NULL), 1);
    shm_destroy(h);
}

/* A let binding of _ evaluates its expression, in its turn, and drops
 * it: no slot, no STORE. */
static void test_let_underscore(void)
{
    shm_header_t *h = load_ok("(defn f (x) (let ((_ (print x)) (y 2) (_ (print y))) y))\n"
                              "(defn main () 'ok)\n");
    const func_t *f = lh_func(h, "f", 1);
    CU_ASSERT_FATAL(f != NULL);
    CU_ASSERT_EQUAL(f->nslots, 2); /* x and y */
    CU_ASSERT_EQUAL(count_op(f, OP_POP, NULL), 2);
    CU_ASSERT_EQUAL(count_op(f, OP_STORE, NULL), 1);
    shm_destroy(h);
}

static CU_TestInfo compiler_tests[] = {
    {"unbound variable", test_unbound_variable},
    {"undefined function", test_undefined_function},
    {"wrong arity of a top-level function", test_arity_top_level},
    {"wrong arity of a builtin", test_arity_builtin},
    {"malformed let", test_malformed_let},
    {"malformed if", test_malformed_if},
    {"malformed fn", test_malformed_fn},
    {"malformed case", test_malformed_case},
    {"malformed receive", test_malformed_receive},
    {"malformed catch", test_malformed_catch},
    {"malformed cond", test_malformed_cond},
    {"malformed defn", test_malformed_defn},
    {"duplicate parameter", test_duplicate_parameter},
    {"defn not at top level", test_defn_not_top_level},
    {"a top-level form that is not a defn", test_top_level_form},
    {"missing main", test_missing_main},
    {"main with parameters", test_main_with_parameters},
    {"other errors: (), builtins and special forms as values", test_other_errors},
    {"the first error is the one reported", test_first_error_wins},
    {"valid programs compile, main_index set", test_valid_programs},
    {"code table: main, arities, closures, atoms", test_code_table},
    {"several files: shared names, errors name their file", test_several_files},
    {"program_load prints FILE:LINE:COL: error: MESSAGE", test_program_load_messages},
    {"shoal run: compile error exits 2 and runs nothing", test_run_exit_status},
    {"a defn of a builtin's or special form's name is an error", test_defn_of_builtin},
    {"(after ...) must be the last clause of receive", test_after_not_last},
    {"another Lisp's forms, literal calls and timeouts say what to write", test_newcomer_errors},
    {"compile time is linear: 20,000 defns, literals, bindings, parameters", test_compile_is_linear},
    {"a receive whose every clause matches one bound local starts at the mark", test_receive_mark},
    {"a function's tail call of itself is TCALL_SELF, no other call is", test_self_tail_call},
    {"an and, or, let or true as a branch's test is jumps, no boolean", test_branch_tests},
    {"elem reads a tuple in a local slot itself (ELEM_S, ELEM_SS, ELEM_KS)", test_elem_fused},
    {"slot comparisons, list patterns and loops that keep arguments are fused", test_loop_fused},
    {"a let of a head, a tail or a field, and a comparison with a head, are fused",
     test_head_fused},
    {"a loop over a list's tail is one instruction (TCALL_SELF_CDR)", test_loop_cdr_fused},
    {"map-of with literal keys is built from a sorted template; map-get, set-elem inline", test_map_literal},
    {"a let binding of _ is evaluated and dropped", test_let_underscore},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(compiler, compiler_tests, init, cleanup)
