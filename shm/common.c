/*
 * common.c: the failure path behind SHOAL_ASSERT and UNREACHABLE, the
 * death of a crash-test hook, and the two helpers every layer's input
 * checks share: reading a bounded regular file, and escaping what a
 * message quotes.
 *
 * An internal invariant that does not hold is a bug in shoal, not bad
 * input: print where, and abort so that a core dump or the sanitizer
 * shows the stack. In a VM this is a VM crash, contained by the
 * supervisor like any other.
 */
#include "shm/common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

void shoal_errf(char *buf, size_t n, const char *fmt, ...)
{
    if (!buf || n == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

void shoal_assert_fail(const char *file, int line, const char *cond, const char *msg)
{
    fprintf(stderr, "shoal: internal error at %s:%d: %s (%s)\n", file, line, msg, cond);
    abort();
}

void shoal_crash_now(void)
{
    raise(SIGKILL);
    abort(); /* not reached: SIGKILL cannot be caught */
}

static const char *file_kind(mode_t m)
{
    if (S_ISCHR(m))
        return "a character device";
    if (S_ISBLK(m))
        return "a block device";
    if (S_ISFIFO(m))
        return "a FIFO";
    if (S_ISSOCK(m))
        return "a socket";
    return "not a regular file";
}

char *shoal_read_file(const char *path, uint64_t max, size_t *len, char *why, size_t whylen)
{
    /* O_NONBLOCK: opening a FIFO for reading would otherwise wait for a
     * writer before we could see what it is. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        shoal_errf(why, whylen, "%s", strerror(e));
        errno = e;
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        shoal_errf(why, whylen, "%s", strerror(e));
        errno = e;
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        if (S_ISDIR(st.st_mode)) {
            shoal_errf(why, whylen, "%s", strerror(EISDIR));
            errno = EISDIR;
        } else {
            shoal_errf(why, whylen, "it is %s, not a regular file", file_kind(st.st_mode));
            errno = EINVAL;
        }
        return NULL;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        shoal_errf(why, whylen, "it is larger than %llu bytes", (unsigned long long)max);
        errno = EFBIG;
        return NULL;
    }
    /* Else st_size is a hint (a /proc file says 0; a file can grow):
     * reading is what counts, and it stops one byte past max. */
    uint64_t cap = (uint64_t)st.st_size < max ? (uint64_t)st.st_size + 1 : max + 1;
    if (cap < 4096)
        cap = 4096;
    size_t n = 0;
    char *buf = malloc((size_t)cap + 1);
    int e = buf ? 0 : ENOMEM;
    while (!e) {
        if (n == cap) {
            if (n > max)
                break;
            uint64_t c2 = cap * 2 > max + 1 ? max + 1 : cap * 2;
            char *b = realloc(buf, (size_t)c2 + 1);
            if (!b) {
                e = ENOMEM;
                break;
            }
            buf = b;
            cap = c2;
        }
        ssize_t k = read(fd, buf + n, (size_t)(cap - n));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            e = errno;
        else if (k == 0)
            break;
        else
            n += (size_t)k;
    }
    close(fd);
    if (!e && n > max) {
        shoal_errf(why, whylen, "it is larger than %llu bytes", (unsigned long long)max);
        e = EFBIG;
    } else if (e) {
        shoal_errf(why, whylen, "%s", strerror(e));
    }
    if (e) {
        free(buf);
        errno = e;
        return NULL;
    }
    buf[n] = 0;
    *len = n;
    return buf;
}

void shoal_stack_start(shoal_stack_t *s)
{
    char here;
    struct rlimit rl;
    size_t lim = 8u << 20;
    if (getrlimit(RLIMIT_STACK, &rl) == 0)
        lim = rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (256u << 20) ? 256u << 20
                                                                          : (size_t)rl.rlim_cur;
    s->top = (uintptr_t)&here;
    s->budget = lim > (2u << 20) ? lim - (1u << 20) : lim / 2;
}

size_t shoal_utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t k;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        k = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        k = 3;
        lo = c == 0xe0 ? 0xa0 : 0x80; /* no overlong form */
        hi = c == 0xed ? 0x9f : 0xbf; /* no surrogate */
    } else if (c >= 0xf0 && c <= 0xf4) {
        k = 4;
        lo = c == 0xf0 ? 0x90 : 0x80;
        hi = c == 0xf4 ? 0x8f : 0xbf; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < k || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < k; i++)
        if (s[i] < 0x80 || s[i] > 0xbf)
            return 0;
    return k;
}

char *shoal_escape(char *dst, size_t n, const char *src)
{
    if (n == 0)
        return dst;
    const unsigned char *s = (const unsigned char *)src;
    size_t o = 0;
    while (*s) {
        /* a NUL ends a sequence early, so 4 never reads past the string */
        size_t k = *s >= 0x20 && *s < 0x7f ? 1 : *s >= 0x80 ? shoal_utf8_len(s, 4) : 0;
        if (k > 0) {
            if (o + k >= n)
                break;
            memcpy(dst + o, s, k);
            o += k;
            s += k;
        } else {
            if (o + 4 >= n)
                break;
            snprintf(dst + o, 5, "\\x%02x", *s);
            o += 4;
            s++;
        }
    }
    dst[o] = 0;
    return dst;
}

uint64_t *vm_heartbeat_word;
uint32_t vm_beat_steps;
