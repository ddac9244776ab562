/*
 * fuzz.h: what the libFuzzer targets in tests/fuzz/ share.
 *
 * Each target is one fuzz_NAME.c with LLVMFuzzerTestOneInput, linked with
 * -fsanitize=fuzzer against a libshoal.a built by clang with AddressSanitizer
 * and UBSan (make fuzz; see scripts/fuzz.sh). A crash, a sanitizer report
 * or a leak is a finding; so is an error without a clear message, which
 * the targets check with FUZZ_CHECK (an abort, reported like a crash).
 *
 * NOTES
 *   Single-threaded: libFuzzer calls the target from one thread.
 */
#ifndef SHOAL_TESTS_FUZZ_H
#define SHOAL_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond, what)                                                  \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: fuzz check failed: %s (%s)\n", __FILE__,   \
                    __LINE__, #cond, (what));                                   \
            abort();                                                            \
        }                                                                       \
    } while (0)

#endif
