/*
 * test_common.c: the helpers every layer's input checks share
 * (shm/common.c): escaping what a message quotes, UTF-8 lengths, and
 * reading a bounded regular file.
 */
#include "tests/unit.h"

#include "shm/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_escape(void)
{
    char out[64];
    /* printable ASCII and well-formed UTF-8 pass */
    CU_ASSERT_STRING_EQUAL(shoal_escape(out, sizeof out, "a b\\c \"q\""), "a b\\c \"q\"");
    CU_ASSERT_STRING_EQUAL(shoal_escape(out, sizeof out, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9f"),
                           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9f");
    /* control bytes, DEL and bytes that are not UTF-8 become \xNN */
    CU_ASSERT_STRING_EQUAL(shoal_escape(out, sizeof out, "\x1b[31m\n\t\x7f"), "\\x1b[31m\\x0a\\x09\\x7f");
    CU_ASSERT_STRING_EQUAL(shoal_escape(out, sizeof out, "\xff\xfe"), "\\xff\\xfe");
    CU_ASSERT_STRING_EQUAL(shoal_escape(out, sizeof out, "\xc0\x80"), "\\xc0\\x80");       /* overlong */
    CU_ASSERT_STRING_EQUAL(shoal_escape(out, sizeof out, "\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* surrogate */
    CU_ASSERT_STRING_EQUAL(shoal_escape(out, sizeof out, "\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
    CU_ASSERT_STRING_EQUAL(shoal_escape(out, sizeof out, "ab\xc3"), "ab\\xc3"); /* cut short */
    /* the end of the buffer never splits an escape or a character */
    char small[7];
    CU_ASSERT_STRING_EQUAL(shoal_escape(small, sizeof small, "ab\x01\x02"), "ab\\x01");
    CU_ASSERT_STRING_EQUAL(shoal_escape(small, sizeof small, "abcd\xc3\xa9\xc3\xa9"), "abcd\xc3\xa9");
    CU_ASSERT_STRING_EQUAL(shoal_escape(small, sizeof small, "abcde\xc3\xa9"), "abcde");
    CU_ASSERT_STRING_EQUAL(shoal_escape(small, 1, "abc"), "");
}

static void test_utf8_len(void)
{
    CU_ASSERT_EQUAL(shoal_utf8_len((const unsigned char *)"a", 1), 1);
    CU_ASSERT_EQUAL(shoal_utf8_len((const unsigned char *)"\xc3\xa9", 2), 2);
    CU_ASSERT_EQUAL(shoal_utf8_len((const unsigned char *)"\xc3\xa9", 1), 0);
    CU_ASSERT_EQUAL(shoal_utf8_len((const unsigned char *)"\xe2\x82\xac", 3), 3);
    CU_ASSERT_EQUAL(shoal_utf8_len((const unsigned char *)"\xf0\x9f\x90\x9f", 4), 4);
    CU_ASSERT_EQUAL(shoal_utf8_len((const unsigned char *)"\x80", 1), 0);
    CU_ASSERT_EQUAL(shoal_utf8_len((const unsigned char *)"\xc1\xbf", 2), 0);
    CU_ASSERT_EQUAL(shoal_utf8_len((const unsigned char *)"\xe0\x80\x80", 3), 0);
    CU_ASSERT_EQUAL(shoal_utf8_len((const unsigned char *)"\xf5\x80\x80\x80", 4), 0);
}

static void test_read_file(void)
{
    char dir[] = "/tmp/shoal-common-XXXXXX", path[64], why[128];
    CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/f", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("0123456789", f);
    fclose(f);
    size_t len = 0;
    char *t = shoal_read_file(path, 10, &len, why, sizeof why);
    CU_ASSERT_PTR_NOT_NULL_FATAL(t);
    CU_ASSERT_EQUAL(len, 10);
    CU_ASSERT_STRING_EQUAL(t, "0123456789"); /* NUL-terminated */
    free(t);
    /* one byte over the limit */
    CU_ASSERT_PTR_NULL(shoal_read_file(path, 9, &len, why, sizeof why));
    CU_ASSERT_EQUAL(errno, EFBIG);
    CU_ASSERT_STRING_EQUAL(why, "it is larger than 9 bytes");
    /* not regular files */
    CU_ASSERT_PTR_NULL(shoal_read_file(dir, 100, &len, why, sizeof why));
    CU_ASSERT_EQUAL(errno, EISDIR);
    CU_ASSERT_PTR_NULL(shoal_read_file("/dev/zero", 100, &len, why, sizeof why));
    CU_ASSERT_EQUAL(errno, EINVAL);
    CU_ASSERT_STRING_EQUAL(why, "it is a character device, not a regular file");
    unlink(path);
    CU_ASSERT_EQUAL_FATAL(mkfifo(path, 0600), 0);
    CU_ASSERT_PTR_NULL(shoal_read_file(path, 100, &len, why, sizeof why)); /* does not block */
    CU_ASSERT_STRING_EQUAL(why, "it is a FIFO, not a regular file");
    unlink(path);
    CU_ASSERT_PTR_NULL(shoal_read_file(path, 100, &len, why, sizeof why));
    CU_ASSERT_EQUAL(errno, ENOENT);
    rmdir(dir);
    /* a file whose size says 0 is read to its end all the same */
    t = shoal_read_file("/proc/self/status", 1u << 20, &len, why, sizeof why);
    CU_ASSERT_PTR_NOT_NULL(t);
    CU_ASSERT(t && len > 0 && strstr(t, "Name:") != NULL);
    free(t);
}

static CU_TestInfo common_tests[] = {
    {"shoal_escape: \\xNN for control and non-UTF-8 bytes, never cut", test_escape},
    {"shoal_utf8_len: well-formed sequences only", test_utf8_len},
    {"shoal_read_file: regular files within the limit", test_read_file},
    CU_TEST_INFO_NULL,
};

UNIT_SUITE(common, common_tests, NULL, NULL)
