/* The checks the C test programs share: a failed one prints where, and
 * the program exits 1. */
#ifndef FUZZSHM_TEST_CHECK_H
#define FUZZSHM_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#include "fuzzshm.h"

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

/* A call's status must be `expected`; if not, says which call, what it
 * returned and what that means. */
#define EXPECT_STATUS(call, expected)                                            \
    do {                                                                         \
        int status_ = (call);                                                    \
        if (status_ != (expected)) {                                             \
            fprintf(stderr, "%s:%d: %s = %d (%s), expected %d\n", __FILE__,      \
                    __LINE__, #call, status_, fuzzshm_strerror(status_),         \
                    (expected));                                                 \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

#define OK(call) EXPECT_STATUS(call, 0)

#endif
