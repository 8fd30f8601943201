/* The checks the C test programs share: a failed one prints where, and
 * the program exits 1. */
#ifndef FUZZSHM_TEST_CHECK_H
#define FUZZSHM_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                             \
        }                                                                        \
    } while (0)

#endif
