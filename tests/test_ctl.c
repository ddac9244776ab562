/*
 * test_ctl.c: the control socket's pieces that run without a live run:
 * the request parser (every verb, and refused requests of every kind),
 * run names and pids as users write them; and the exchange between the
 * supervisor's questions (ask.c) and the VMs' answers (vmproc/info.c) on
 * a world of VMs played by hand (tests/vm_world.h): a listing, a process
 * that moves between the question and the answer, an inspect of a waiting
 * process with messages, a process that is gone, a VM that is not
 * running, and an answer that does not hold together.
 */
#include "tests/unit.h"
#include "tests/vm_world.h"

#include "shm/info.h"
#include "shm/proctab.h"
#include "shm/vmtab.h"
#include "supervisor/ask.h"
#include "supervisor/ctl.h"
#include "supervisor/ctlproto.h"
#include "supervisor/stats.h"
#include "vmproc/compiler.h"
#include "vmproc/info.h"
#include "vmproc/msg.h"

#include <ck_pr.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* the parser                                                           */

static int parse(const char *line, ctl_req_t *r, char *err, size_t errlen)
{
    return ctl_parse(line, strlen(line), r, err, errlen);
}

static void test_parse_ok(void)
{
    ctl_req_t r;
    char err[256];
    CU_ASSERT_EQUAL(parse("shoal/1 stats", &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(r.verb, CTL_STATS);
    CU_ASSERT_EQUAL(parse("shoal/1 stats\r", &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(parse("  shoal/1\tps  ", &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(r.verb, CTL_PS);
    CU_ASSERT_EQUAL(r.vm, -1);
    CU_ASSERT_EQUAL(r.state, -1);
    CU_ASSERT_EQUAL(r.sort, CTL_SORT_PID);
    CU_ASSERT_EQUAL(r.limit, 0);
    CU_ASSERT_EQUAL(
        parse("shoal/1 ps vm=3 state=waiting sort=mailbox limit=7", &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(r.vm, 3);
    CU_ASSERT_EQUAL(r.state, PS_WAITING);
    CU_ASSERT_EQUAL(r.sort, CTL_SORT_MAILBOX);
    CU_ASSERT_EQUAL(r.limit, 7);
    CU_ASSERT_EQUAL(parse("shoal/1 inspect pid=<42> messages=5", &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(r.verb, CTL_INSPECT);
    CU_ASSERT_EQUAL(r.pid, 42);
    CU_ASSERT_EQUAL(r.messages, 5);
    CU_ASSERT_EQUAL(parse("shoal/1 policy show", &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(r.verb, CTL_POLICY_SHOW);
    CU_ASSERT_EQUAL(parse("shoal/1 policy use affinity", &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(r.verb, CTL_POLICY_USE);
    CU_ASSERT_STRING_EQUAL(r.name, "affinity");
    CU_ASSERT_EQUAL(
        parse("shoal/1 policy set steal.min_near=3 interval_ms=20", &r, err, sizeof err), 0);
    CU_ASSERT_EQUAL(r.verb, CTL_POLICY_SET);
    CU_ASSERT_EQUAL(r.n_sets, 2);
    CU_ASSERT_STRING_EQUAL(r.keys[0], "steal.min_near");
    CU_ASSERT_STRING_EQUAL(r.values[0], "3");
    CU_ASSERT_STRING_EQUAL(r.keys[1], "interval_ms");
    CU_ASSERT_STRING_EQUAL(r.values[1], "20");
}

/* Each of these is refused with a message that says why. */
static void test_parse_refused(void)
{
    static const struct {
        const char *line, *why;
    } cases[] = {
        {"", "empty request"},
        {"   ", "empty request"},
        {"stats", "not a shoal request"},
        {"shoal/2 stats", "speaks protocol shoal/1"},
        {"shoal/1", "no command"},
        {"shoal/1 frobnicate", "unknown command"},
        {"shoal/1 stats now", "unexpected argument"},
        {"shoal/1 ps vm=x", "vm must be"},
        {"shoal/1 ps vm=-1", "vm must be"},
        {"shoal/1 ps vm=99999999999999999999", "vm must be"},
        {"shoal/1 ps state=sleeping", "state must be"},
        {"shoal/1 ps sort=age", "sort must be"},
        {"shoal/1 ps limit=0", "limit must be"},
        {"shoal/1 ps limit=100001", "limit must be"},
        {"shoal/1 ps colour=red", "unknown argument"},
        {"shoal/1 ps vm", "expected KEY=VALUE"},
        {"shoal/1 ps =3", "expected KEY=VALUE"},
        {"shoal/1 ps vm=", "expected KEY=VALUE"},
        {"shoal/1 inspect", "pid=N is missing"},
        {"shoal/1 inspect pid=0", "not a pid"},
        {"shoal/1 inspect pid=<12", "not a pid"},
        {"shoal/1 inspect pid=12 messages=101", "messages must be"},
        {"shoal/1 policy", "show, use NAME or set"},
        {"shoal/1 policy show all", "unexpected argument"},
        {"shoal/1 policy use", "one policy name"},
        {"shoal/1 policy use a b", "one policy name"},
        {"shoal/1 policy set", "KEY=VALUE"},
        {"shoal/1 policy set x", "expected KEY=VALUE"},
        {"shoal/1 policy drop", "unknown subcommand"},
        {"shoal/1 st\001ats", "control byte 0x01"},
        {"shoal/1 stats\x1b[2J", "control byte 0x1b"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ctl_req_t r;
        char err[512] = "";
        int rc = parse(cases[i].line, &r, err, sizeof err);
        CU_ASSERT_EQUAL(rc, -1);
        if (!strstr(err, cases[i].why))
            fprintf(stderr, "\n  '%s': got '%s', wanted '%s'\n", cases[i].line, err, cases[i].why);
        CU_ASSERT_PTR_NOT_NULL(strstr(err, cases[i].why));
    }
}

static void test_parse_bounds(void)
{
    ctl_req_t r;
    char err[512];
    /* a NUL in the middle */
    CU_ASSERT_EQUAL(ctl_parse("shoal/1 st\0ats", 14, &r, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "NUL"));
    /* a word longer than CTL_MAX_WORD */
    char line[CTL_MAX_REQUEST + 16];
    int n = snprintf(line, sizeof line, "shoal/1 policy use ");
    memset(line + n, 'a', CTL_MAX_WORD + 1);
    line[n + CTL_MAX_WORD + 1] = 0;
    CU_ASSERT_EQUAL(parse(line, &r, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than"));
    /* too many words */
    n = snprintf(line, sizeof line, "shoal/1 policy set");
    for (int i = 0; i < 40; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, " k%d=1", i);
    CU_ASSERT_EQUAL(parse(line, &r, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "too many words"));
    /* longer than a request may be */
    memset(line, 'x', sizeof line);
    CU_ASSERT_EQUAL(ctl_parse(line, CTL_MAX_REQUEST, &r, err, sizeof err), -1);
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "longer than"));
    /* random bytes never crash it, and every refusal says something */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 20000; round++) {
        size_t len = (size_t)(x % 64);
        for (size_t i = 0; i < len; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            line[i] = (char)(x & 0xff);
        }
        if (round % 2 && len > 8)
            memcpy(line, "shoal/1 ", 8);
        err[0] = 0;
        if (ctl_parse(line, len, &r, err, sizeof err) < 0)
            CU_ASSERT(err[0] != 0);
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    }
}

/* A refusal quotes the word it refuses, escaped: a word of invalid
 * bytes grows four-fold, past the server's 512-byte buffer. Cut there by
 * vsnprintf, the message ended inside a UTF-8 sequence whenever a
 * character straddled the end (found by fuzz_ctl: a first word of 0x8e
 * bytes and two-byte characters). It must be cut before the character,
 * marked "...", and stay well-formed, whatever the buffer's size. */
static bool well_formed(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = u[i] < 0x20 || u[i] == 0x7f ? 0 : shoal_utf8_len(u + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

static void test_parse_cut_quote(void)
{
    static const char *const chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x90\x9f"};
    static const char *const before[] = {"", "shoal/1 ", "shoal/1 ps state=", "shoal/1 policy "};
    static const size_t lens[] = {512, 256, 64, 16};
    ctl_req_t r;
    size_t bad_msgs = 0, cut = 0;
    for (size_t b = 0; b < sizeof before / sizeof before[0]; b++)
        for (size_t c = 0; c < sizeof chars / sizeof chars[0]; c++)
            for (size_t k = 0; k <= 150; k++) {
                char line[512];
                size_t n = (size_t)snprintf(line, sizeof line, "%s", before[b]);
                if (b == 3)
                    n += (size_t)snprintf(line + n, sizeof line - n, "x");
                memset(line + n, 0x8e, k);
                n += k;
                while (n + strlen(chars[c]) <= strlen(before[b]) + CTL_MAX_WORD)
                    n += (size_t)snprintf(line + n, sizeof line - n, "%s", chars[c]);
                for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
                    char err[512];
                    memset(err, 0x55, sizeof err);
                    CU_ASSERT_EQUAL(ctl_parse(line, n, &r, err, lens[l]), -1);
                    bad_msgs += memchr(err, 0, lens[l]) == NULL || !well_formed(err);
                    cut += strstr(err, "'...") != NULL;
                }
            }
    CU_ASSERT_EQUAL(bad_msgs, 0);
    CU_ASSERT(cut > 0);
    /* the fuzzer's case, made exact: the 51 bytes before the quoted word,
     * 100 invalid bytes (400 escaped), one ASCII byte, then two-byte
     * characters, the 30th of which spans bytes 510 and 511 */
    char line[CTL_MAX_WORD + 1];
    memset(line, 0x8e, 100);
    line[100] = 'a';
    size_t len = 101;
    for (; len + 2 <= CTL_MAX_WORD; len += 2)
        memcpy(line + len, "\xdf\x8c", 2);
    char err[512];
    CU_ASSERT_EQUAL(ctl_parse(line, len, &r, err, sizeof err), -1);
    CU_ASSERT_TRUE(well_formed(err));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a shoal request"));
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "'..."));
    /* a word that fits is quoted whole */
    CU_ASSERT_EQUAL(parse("shoal/1 fr\xc3\xa9" "b", &r, err, sizeof err), -1);
    CU_ASSERT_STRING_EQUAL(err, "unknown command 'fr\xc3\xa9" "b'");
}

static void test_names_and_pids(void)
{
    char err[256];
    CU_ASSERT_TRUE(ctl_name_ok("default", err, sizeof err));
    CU_ASSERT_TRUE(ctl_name_ok("run-2.b_c", err, sizeof err));
    CU_ASSERT_FALSE(ctl_name_ok("", err, sizeof err));
    CU_ASSERT_FALSE(ctl_name_ok(".hidden", err, sizeof err));
    CU_ASSERT_FALSE(ctl_name_ok("../x", err, sizeof err));
    CU_ASSERT_FALSE(ctl_name_ok("a/b", err, sizeof err));
    CU_ASSERT_FALSE(ctl_name_ok("a b", err, sizeof err));
    char longname[CTL_MAX_NAME + 2];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CU_ASSERT_FALSE(ctl_name_ok(longname, err, sizeof err));
    uint64_t pid;
    CU_ASSERT_TRUE(ctl_parse_pid("17", &pid));
    CU_ASSERT_EQUAL(pid, 17);
    CU_ASSERT_TRUE(ctl_parse_pid("<262145>", &pid));
    CU_ASSERT_EQUAL(pid, 262145);
    CU_ASSERT_FALSE(ctl_parse_pid("", &pid));
    CU_ASSERT_FALSE(ctl_parse_pid("<>", &pid));
    CU_ASSERT_FALSE(ctl_parse_pid("-3", &pid));
    CU_ASSERT_FALSE(ctl_parse_pid("0", &pid));
    CU_ASSERT_FALSE(ctl_parse_pid("12x", &pid));
    CU_ASSERT_FALSE(ctl_parse_pid("99999999999999999999", &pid));
}

/* ------------------------------------------------------------------ */
/* questions and answers                                                */

static void world(vw_t *w, uint32_t n)
{
    CU_ASSERT_TRUE_FATAL(vw_open(w, n, 1, 256, 16u << 20, HEAP_FOLLOW_ON_GC));
    for (uint32_t i = 0; i < n; i++) {
        info_init(vw_rt(w, i));
        ck_pr_store_32(&shm_vm(w->h, i)->state, VM_RUNNING);
    }
}

/* Answer every VM's pending question, then let ask.c take the answers,
 * until the job is done (a bounded number of rounds). */
static bool settle(vw_t *w, ask_t *a)
{
    for (int round = 0; round < 32; round++) {
        if (ask_poll(a, 0))
            return true;
        for (uint32_t i = 0; i < w->n_vms; i++)
            info_serve(&w->s[i]);
    }
    return false;
}

static const info_rec_t *find(info_rec_t *recs, size_t n, uint64_t pid)
{
    for (size_t i = 0; i < n; i++)
        if (recs[i].pid == pid)
            return &recs[i];
    return NULL;
}

static void test_list(void)
{
    vw_t w;
    world(&w, 2);
    pcb_t *p0 = vw_proc_new(&w, 0), *p1 = vw_proc_new(&w, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p1);
    ck_pr_store_32(&proc_of(p0)->status, PS_WAITING);
    ck_pr_store_32(&proc_of(p1)->status, PS_RUNNABLE);
    ask_t *a = ask_new(w.h);
    CU_ASSERT_EQUAL(ask_list(a, -1, 0), 0);
    CU_ASSERT_TRUE(settle(&w, a));
    size_t n;
    info_rec_t *recs = ask_records(a, &n);
    CU_ASSERT_EQUAL(n, 2);
    const info_rec_t *r0 = find(recs, n, p0->pid), *r1 = find(recs, n, p1->pid);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r1);
    CU_ASSERT_EQUAL(r0->owner, 0);
    CU_ASSERT_EQUAL(r1->owner, 1);
    CU_ASSERT_EQUAL(r0->status, PS_WAITING);
    CU_ASSERT_EQUAL(r1->status, PS_RUNNABLE);
    /* heap bytes are the pages the process holds: what its VM counts */
    CU_ASSERT_EQUAL(r0->heap_bytes, shm_vm(w.h, 0)->heap_local + shm_vm(w.h, 0)->heap_remote);
    json_t *errs = ask_errors(a);
    CU_ASSERT_EQUAL(json_array_size(errs), 0);
    json_decref(errs);
    /* one VM's processes: only that VM is asked */
    CU_ASSERT_EQUAL(ask_list(a, 1, 0), 0);
    CU_ASSERT_FALSE(ask_poll(a, 0));
    info_serve(&w.s[1]);
    CU_ASSERT_TRUE(ask_poll(a, 0));
    recs = ask_records(a, &n);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(recs[0].pid, p1->pid);
    /* a VM's filter: the listing has what each VM answered for */
    CU_ASSERT_EQUAL(proctab_live(w.h), 2);
    ask_free(a);
    vw_proc_free(&w, p0, 0);
    vw_proc_free(&w, p1, 1);
    vw_close(&w);
}

/* Asked of VM 0, the process moves to VM 1 before VM 0 answers: VM 0 says
 * where it went, and VM 1 answers for it. */
static void test_list_moved(void)
{
    vw_t w;
    world(&w, 2);
    pcb_t *p = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    ck_pr_store_32(&proc_of(p)->status, PS_RUNNING);
    ask_t *a = ask_new(w.h);
    CU_ASSERT_EQUAL(ask_list(a, -1, 0), 0);
    CU_ASSERT_FALSE(ask_poll(a, 0)); /* the question is out to VM 0 */
    sched_hand_over(&w.s[0], p, 1, MIG_EXPLICIT, true);
    info_serve(&w.s[0]);
    CU_ASSERT_FALSE(ask_poll(a, 0)); /* VM 0 said: moved to 1; asked there */
    info_serve(&w.s[1]);
    CU_ASSERT_TRUE(ask_poll(a, 0));
    size_t n;
    info_rec_t *recs = ask_records(a, &n);
    CU_ASSERT_EQUAL_FATAL(n, 1);
    CU_ASSERT_EQUAL(recs[0].pid, p->pid);
    CU_ASSERT_EQUAL(recs[0].owner, 1);
    CU_ASSERT_EQUAL(recs[0].answer, INFO_HERE);
    CU_ASSERT_EQUAL(recs[0].migrations, 1);
    ask_free(a);
    sched_drain_inbound(&w.s[1]);
    runq_pop(&w.s[1]);
    vw_proc_free(&w, p, 1);
    vw_close(&w);
}

static void test_inspect_waiting(void)
{
    vw_t w;
    world(&w, 2);
    pcb_t *p = vw_proc_new(&w, 0), *q = vw_proc_new(&w, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    CU_ASSERT_PTR_NOT_NULL_FATAL(q);
    /* two messages from a process on VM 1; one taken into the mailbox;
     * then it waits in a receive that wants neither */
    CU_ASSERT_EQUAL(msg_send(vw_rt(&w, 1), p->pid, SIG_MSG, q->pid, mk_atom(A_OK), 0), SEND_OK);
    msg_take(vw_rt(&w, 0), p);
    CU_ASSERT_EQUAL(msg_send(vw_rt(&w, 1), p->pid, SIG_MSG, q->pid, mk_fix(42), 0), SEND_OK);
    ck_pr_store_32(&proc_of(p)->status, PS_WAITING);
    /* VM 1's row of the message matrix counts both, to VM 0 */
    CU_ASSERT_EQUAL(shm_msg_row(w.h, 1)[0], 2);
    ask_t *a = ask_new(w.h);
    CU_ASSERT_EQUAL(ask_inspect(a, p->pid, 10, 0), 0);
    CU_ASSERT_TRUE(settle(&w, a));
    uint32_t bytes;
    const unsigned char *ans = ask_inspect_answer(a, &bytes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ans);
    json_t *o = stats_inspect_json(w.h, ans, bytes);
    CU_ASSERT_PTR_NOT_NULL_FATAL(o);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "pid")), (json_int_t)p->pid);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(o, "vm")), 0);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(o, "state")), "waiting");
    json_t *mb = json_object_get(o, "mailbox_detail");
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(mb, "length")), 2);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(mb, "in_mailbox")), 1);
    CU_ASSERT_EQUAL(json_integer_value(json_object_get(mb, "in_inbox")), 1);
    json_t *msgs = json_object_get(mb, "messages");
    CU_ASSERT_EQUAL_FATAL(json_array_size(msgs), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(msgs, 0)), "ok");
    /* main/0 is where a world's process starts */
    json_t *stack = json_object_get(o, "stack");
    CU_ASSERT_EQUAL_FATAL(json_array_size(stack), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(stack, 0), "function")),
                           "main/0");
    json_decref(o);
    /* an answer cut short does not hold together */
    CU_ASSERT_PTR_NULL(stats_inspect_json(w.h, ans, sizeof(info_inspect_t) - 1));
    ask_free(a);
    msg_take(vw_rt(&w, 0), p);
    vw_proc_free(&w, p, 0);
    vw_proc_free(&w, q, 1);
    vw_close(&w);
}

static void test_inspect_gone(void)
{
    vw_t w;
    world(&w, 1);
    pcb_t *p = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    uint64_t pid = p->pid;
    ask_t *a = ask_new(w.h);
    /* gone before the question */
    vw_proc_free(&w, p, 0);
    CU_ASSERT_EQUAL(ask_inspect(a, pid, 0, 0), 0);
    CU_ASSERT_TRUE(settle(&w, a));
    uint32_t bytes;
    CU_ASSERT_PTR_NULL(ask_inspect_answer(a, &bytes));
    CU_ASSERT_TRUE(ask_not_found(a));
    /* gone between the question and the answer */
    p = vw_proc_new(&w, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p);
    pid = p->pid;
    CU_ASSERT_EQUAL(ask_inspect(a, pid, 0, 0), 0);
    CU_ASSERT_FALSE(ask_poll(a, 0));
    vw_proc_free(&w, p, 0);
    CU_ASSERT_TRUE(settle(&w, a));
    CU_ASSERT_TRUE(ask_not_found(a));
    ask_free(a);
    vw_close(&w);
}

/* A VM that is not running is given up on, not waited for; a VM that does
 * not answer by its deadline too; and one whose answer does not hold
 * together. Each is named in the errors. */
static void test_vm_trouble(void)
{
    vw_t w;
    world(&w, 2);
    pcb_t *p0 = vw_proc_new(&w, 0), *p1 = vw_proc_new(&w, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p1);
    ask_t *a = ask_new(w.h);

    ck_pr_store_32(&shm_vm(w.h, 1)->state, VM_STOPPED);
    CU_ASSERT_EQUAL(ask_list(a, -1, 0), 0);
    CU_ASSERT_TRUE(settle(&w, a));
    size_t n;
    ask_records(a, &n);
    CU_ASSERT_EQUAL(n, 1);
    json_t *e = ask_errors(a);
    CU_ASSERT_EQUAL(json_array_size(e), 1);
    CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(e, 0)), "VM 1 is not running");
    json_decref(e);
    ck_pr_store_32(&shm_vm(w.h, 1)->state, VM_RUNNING);

    /* VM 1 never answers: past the deadline, it is given up on */
    CU_ASSERT_EQUAL(ask_list(a, -1, 0), 0);
    CU_ASSERT_FALSE(ask_poll(a, 0));
    info_serve(&w.s[0]);
    CU_ASSERT_FALSE(ask_poll(a, (ASK_TIMEOUT_MS - 1) * 1000000ull));
    CU_ASSERT_TRUE(ask_poll(a, (ASK_TIMEOUT_MS + 1) * 1000000ull));
    e = ask_errors(a);
    CU_ASSERT_EQUAL(json_array_size(e), 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_array_get(e, 0)), "did not answer"));
    json_decref(e);
    /* its late answer to that question is not taken for the next one */
    info_serve(&w.s[1]);
    CU_ASSERT_EQUAL(ask_list(a, -1, 0), 0);
    CU_ASSERT_TRUE(settle(&w, a));
    ask_records(a, &n);
    CU_ASSERT_EQUAL(n, 2);

    /* an answer with the wrong count */
    CU_ASSERT_EQUAL(ask_list(a, -1, 0), 0);
    CU_ASSERT_FALSE(ask_poll(a, 0));
    info_serve(&w.s[0]);
    info_serve(&w.s[1]);
    ck_pr_store_32(&shm_info(w.h, 1)->n_out, 7);
    CU_ASSERT_TRUE(ask_poll(a, 0));
    e = ask_errors(a);
    CU_ASSERT_PTR_NOT_NULL(strstr(json_string_value(json_array_get(e, 0)), "does not hold"));
    json_decref(e);

    ask_free(a);
    vw_proc_free(&w, p0, 0);
    vw_proc_free(&w, p1, 1);
    vw_close(&w);
}

/* The live-slot bitmap lists exactly the live slots. */
static void test_live_bitmap(void)
{
    vw_t w;
    world(&w, 1);
    pcb_t *p[70];
    for (int i = 0; i < 70; i++) {
        p[i] = vw_proc_new(&w, 0);
        CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    }
    for (int i = 0; i < 70; i += 3)
        vw_proc_free(&w, p[i], 0), p[i] = NULL;
    size_t seen = 0, live = 0;
    for (uint32_t s = proctab_next_live(w.h, 0); s != UINT32_MAX;
         s = proctab_next_live(w.h, s + 1)) {
        CU_ASSERT_EQUAL(shm_pcb(w.h, s)->state, PCB_LIVE);
        seen++;
    }
    for (int i = 0; i < 70; i++)
        live += p[i] != NULL;
    CU_ASSERT_EQUAL(seen, live);
    CU_ASSERT_EQUAL(proctab_live(w.h), live);
    for (int i = 0; i < 70; i++)
        if (p[i])
            vw_proc_free(&w, p[i], 0);
    CU_ASSERT_EQUAL(proctab_next_live(w.h, 0), UINT32_MAX);
    CU_ASSERT_EQUAL(proctab_live(w.h), 0);
    vw_close(&w);
}

static CU_TestInfo ctl_tests[] = {
    {"requests of every verb parse", test_parse_ok},
    {"bad requests are refused with a reason", test_parse_refused},
    {"NUL, long words, many words, long lines, random bytes", test_parse_bounds},
    {"a refusal quoting a long word is cut between characters", test_parse_cut_quote},
    {"run names and pids as users write them", test_names_and_pids},
    {"a listing asks each owner", test_list},
    {"a process that moves between question and answer", test_list_moved},
    {"inspect of a waiting process with messages", test_inspect_waiting},
    {"inspect of a process that is gone", test_inspect_gone},
    {"a VM stopped, late, or answering nonsense is given up on", test_vm_trouble},
    {"the live-slot bitmap lists the live slots", test_live_bitmap},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(ctl, ctl_tests, NULL, NULL)
