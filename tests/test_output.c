/*
 * test_output.c: standard output and error as a user's shell leaves them
 * (vmproc/out.c, supervisor/main.c): closed, full, a pipe whose reader
 * goes away, and a pipe that several VMs write long lines into.
 *
 * Each test runs the real binary with its fds set up by hand (a closed
 * fd, /dev/full, a pipe we close early), which lh_run cannot do, and
 * checks the exit status and what reached stderr.
 */
#include "tests/lang_harness.h"
#include "tests/unit.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* How the child's fd 1 and fd 2 are set up. */
enum fd_setup { FD_PIPE, FD_CLOSED, FD_DEV_FULL, FD_FILE };

typedef struct run {
    int status;      /* exit status, 128 + signal, or -1 */
    char err[8192];  /* what reached stderr (FD_PIPE only) */
    int out_fd;      /* read end of stdout (FD_PIPE), or the file (FD_FILE, an
                      * unlinked temporary file), left open for the test */
} run_t;

/* Start `shoal run FLAGS FILE` with stdout set up as `out` and stderr as
 * `err`. With FD_PIPE for stdout, r->out_fd is its read end; the caller
 * reads it and then calls finish(). */
static pid_t start(const char *path, const char *const *flags, enum fd_setup out,
                   enum fd_setup err, run_t *r, int *err_fd)
{
    int po[2] = {-1, -1}, pe[2] = {-1, -1};
    if ((out == FD_PIPE && pipe2(po, O_CLOEXEC) < 0) || (err == FD_PIPE && pipe2(pe, O_CLOEXEC) < 0))
        return -1;
    if (out == FD_FILE) {
        char tmpl[] = "/tmp/shoal-out-XXXXXX";
        po[0] = mkostemp(tmpl, O_CLOEXEC);
        if (po[0] < 0)
            return -1;
        unlink(tmpl);
    }
    const char *argv[32];
    int k = 0;
    argv[k++] = unit_shoal_path();
    argv[k++] = "run";
    for (int i = 0; flags && flags[i]; i++)
        argv[k++] = flags[i];
    argv[k++] = path;
    argv[k] = NULL;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        int devnull = open("/dev/null", O_RDONLY);
        dup2(devnull, 0);
        if (out == FD_PIPE)
            dup2(po[1], 1);
        else if (out == FD_FILE)
            dup2(po[0], 1); /* shares the offset: appends as a shell's > does */
        else if (out == FD_DEV_FULL)
            dup2(open("/dev/full", O_WRONLY), 1);
        else
            close(1);
        if (err == FD_PIPE)
            dup2(pe[1], 2);
        else if (err == FD_DEV_FULL)
            dup2(open("/dev/full", O_WRONLY), 2);
        else
            close(2);
        unsetenv("SHOAL_GC_TORTURE");
        unsetenv("SHOAL_MIGRATE_TORTURE");
        unit_child_name();
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    if (po[1] >= 0)
        close(po[1]);
    if (pe[1] >= 0)
        close(pe[1]);
    r->out_fd = po[0];
    *err_fd = pe[0];
    return pid;
}

/* Read what is left of stderr, wait for the child (60 s at most). */
static void finish(pid_t pid, int err_fd, run_t *r)
{
    size_t n = 0;
    r->err[0] = 0;
    if (err_fd >= 0) {
        struct pollfd p = {err_fd, POLLIN, 0};
        while (poll(&p, 1, 60000) == 1) {
            ssize_t got = read(err_fd, r->err + n, sizeof r->err - 1 - n);
            if (got <= 0)
                break;
            n += (size_t)got;
            if (n == sizeof r->err - 1)
                break;
        }
        r->err[n] = 0;
        close(err_fd);
    }
    r->status = -1;
    int st;
    for (int i = 0; i < 600; i++) {
        pid_t w = waitpid(pid, &st, WNOHANG);
        if (w == pid) {
            r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            return;
        }
        struct timespec ts = {0, 100000000L};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

static const char printer[] =
    "(defn loop (n) (if (= n 0) 'ok (do (print \"line\" n) (loop (- n 1)))))\n"
    "(defn main () (loop 20000))\n";

/* A closed stdout: every write fails with EBADF, as on the closed fd, and
 * the run says so and exits 4. Before the fix, the segment's memfd took
 * fd 1 and print wrote into shared memory (SIGSEGV). */
static void test_stdout_closed(void)
{
    char *path = lh_temp_source(printer);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    static const char *const vm2[] = {"--vms", "2", NULL};
    for (int round = 0; round < 2; round++) {
        run_t r;
        int efd;
        pid_t pid = start(path, round ? vm2 : NULL, FD_CLOSED, FD_PIPE, &r, &efd);
        CU_ASSERT_FATAL(pid > 0);
        finish(pid, efd, &r);
        LH_CHECK(r.status == 4, "closed stdout: status %d, stderr: %s", r.status, r.err);
        LH_CHECK(strstr(r.err, "shoal: cannot write to standard output: Bad file descriptor"),
                 "closed stdout: stderr was: %s", r.err);
        LH_CHECK(!strstr(r.err, "not mapped"), "stderr was: %s", r.err);
    }
    unlink(path);
    free(path);
}

/* A full disk: the write error is reported and the status is 4, not 0
 * with the output lost. */
static void test_stdout_full(void)
{
    char *path = lh_temp_source(printer);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    run_t r;
    int efd;
    pid_t pid = start(path, NULL, FD_DEV_FULL, FD_PIPE, &r, &efd);
    CU_ASSERT_FATAL(pid > 0);
    finish(pid, efd, &r);
    LH_CHECK(r.status == 4, "/dev/full: status %d, stderr: %s", r.status, r.err);
    LH_CHECK(strstr(r.err, "cannot write to standard output: No space left on device"),
             "stderr was: %s", r.err);
    unlink(path);
    free(path);
}

/* `shoal run prog | head -2`: the reader goes away; the run stops the way
 * a Unix tool does (status 128 + SIGPIPE, nothing on stderr), not with
 * "VM 0 killed by signal 13" and status 3. */
static void test_stdout_pipe_closed(void)
{
    char *path = lh_temp_source(printer);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    static const char *const vm2[] = {"--vms", "2", NULL};
    run_t r;
    int efd;
    pid_t pid = start(path, vm2, FD_PIPE, FD_PIPE, &r, &efd);
    CU_ASSERT_FATAL(pid > 0);
    /* read two lines, then close the pipe, as head -2 does */
    char buf[64];
    int lines = 0;
    while (lines < 2 && read(r.out_fd, buf, 1) == 1)
        lines += buf[0] == '\n';
    close(r.out_fd);
    finish(pid, efd, &r);
    CU_ASSERT_EQUAL(lines, 2);
    LH_CHECK(r.status == 128 + SIGPIPE, "status %d, stderr: %s", r.status, r.err);
    LH_CHECK(r.err[0] == 0, "stderr was: %s", r.err);
    unlink(path);
    free(path);
}

/* A closed stderr: output still works, and 3,000 error reports that go
 * nowhere crash nothing. */
static void test_stderr_closed(void)
{
    static const char src[] =
        "(defn fail () (car 1))\n"
        "(defn many (n) (if (= n 0) 'ok (do (spawn fail) (many (- n 1)))))\n"
        "(defn wait (p) (if (alive p) (wait p) 'ok))\n"
        "(defn alive (p) (/= (process-info p) 'undefined))\n"
        "(defn main () (many 3000) (wait (spawn fail)) (sleep 100) (print \"done\"))\n";
    char *path = lh_temp_source(src);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    static const char *const vm2[] = {"--vms", "2", NULL};
    run_t r;
    int efd;
    pid_t pid = start(path, vm2, FD_PIPE, FD_CLOSED, &r, &efd);
    CU_ASSERT_FATAL(pid > 0);
    char out[256];
    ssize_t n = 0, k;
    while ((k = read(r.out_fd, out + n, sizeof out - 1 - (size_t)n)) > 0)
        n += k;
    out[n] = 0;
    close(r.out_fd);
    finish(pid, efd, &r);
    LH_CHECK(r.status == 0, "closed stderr: status %d", r.status);
    CU_ASSERT_STRING_EQUAL(out, "done\n");
    unlink(path);
    free(path);
}

/* Eight processes on four VMs print 200 lines of 4,992 bytes each into a
 * pipe (far past PIPE_BUF, so one write(2) per line would be split and
 * interleaved), or into a file: every line must arrive whole, its own
 * letter 4,992 times (LANGUAGE.md: print never interleaves). */
static void long_lines_whole(enum fd_setup out)
{
    static const char src[] =
        "(defn line (c n acc) (if (= n 0) acc (line c (- n 1) (str acc c))))\n"
        "(defn rep (c k) (if (= k 0) c (let ((h (rep c (- k 1)))) (str h h))))\n"
        "(defn writer (c parent n)\n"
        "  (let ((l (str (rep c 6) (rep c 6) (rep c 6) (line c 4800 \"\"))))\n"
        "    (writes l n) (send parent 'done)))\n"
        "(defn writes (l n) (if (= n 0) 'ok (do (print l) (writes l (- n 1)))))\n"
        "(defn wait (k) (if (= k 0) 'ok (receive ('done (wait (- k 1))))))\n"
        "(defn main ()\n"
        "  (each8 (list \"a\" \"b\" \"c\" \"d\" \"e\" \"f\" \"g\" \"h\") 0)\n"
        "  (wait 8))\n"
        "(defn each8 (l i) (if (null? l) 'ok\n"
        "  (do (spawn-on (rem i (vm-count)) writer (car l) (self) 200) (each8 (cdr l) (+ i 1)))))\n";
    char *path = lh_temp_source(src);
    CU_ASSERT_PTR_NOT_NULL_FATAL(path);
    static const char *const vm4[] = {"--vms", "4", NULL};
    run_t r;
    int efd;
    pid_t pid = start(path, vm4, out, FD_PIPE, &r, &efd);
    CU_ASSERT_FATAL(pid > 0);
    if (out == FD_FILE) {
        /* the file is whole once the run has ended */
        finish(pid, efd, &r);
        CU_ASSERT_EQUAL_FATAL(lseek(r.out_fd, 0, SEEK_SET), 0);
    }
    /* read everything, then check line by line */
    size_t cap = 1 << 23, n = 0;
    char *all = malloc(cap);
    CU_ASSERT_PTR_NOT_NULL_FATAL(all);
    ssize_t k;
    while ((k = read(r.out_fd, all + n, cap - n)) > 0) {
        n += (size_t)k;
        if (n == cap) {
            cap *= 2;
            all = realloc(all, cap);
            CU_ASSERT_PTR_NOT_NULL_FATAL(all);
        }
    }
    close(r.out_fd);
    if (out != FD_FILE)
        finish(pid, efd, &r);
    CU_ASSERT_EQUAL(r.status, 0);
    int lines = 0, broken = 0;
    size_t at = 0;
    while (at < n) {
        char *nl = memchr(all + at, '\n', n - at);
        size_t len = nl ? (size_t)(nl - (all + at)) : n - at;
        bool whole = len == 4992;
        for (size_t i = 1; whole && i < len; i++)
            whole = all[at + i] == all[at];
        broken += !whole;
        lines++;
        at += len + 1;
    }
    free(all);
    CU_ASSERT_EQUAL(lines, 1600);
    LH_CHECK(broken == 0, "%d of %d lines split or mixed", broken, lines);
    unlink(path);
    free(path);
}

static void test_long_lines_whole(void)
{
    long_lines_whole(FD_PIPE);
}

static void test_long_lines_whole_file(void)
{
    long_lines_whole(FD_FILE);
}

static CU_TestInfo tests[] = {
    {"a closed stdout is a write error: message, status 4", test_stdout_closed},
    {"stdout on a full device: message, status 4", test_stdout_full},
    {"the reader of stdout goes away: quiet stop, status 141", test_stdout_pipe_closed},
    {"a closed stderr: output works, error reports crash nothing", test_stderr_closed},
    {"8 processes on 4 VMs print 4,992-byte lines to a pipe: every line whole",
     test_long_lines_whole},
    {"the same into a file: every line whole", test_long_lines_whole_file},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(output, tests, NULL, NULL)
