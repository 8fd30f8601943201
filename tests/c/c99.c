/* fuzzshm.h in C99 (tests/capi.rs compiles this with -std=c99 -pedantic
 * -Werror): the handle keeps its size and alignment without _Alignas.
 * Prints them, measured without C11's alignof. */
#include <stddef.h>
#include <stdio.h>

#include "fuzzshm.h"

struct after_a_char {
    char c;
    fuzzshm_t handle;
};

int main(void) {
    fuzzshm_t handle = {0}; /* the zero initialiser compiles without warning */
    (void)handle;
    printf("c99: size %u alignment %u\n", (unsigned)sizeof(fuzzshm_t),
           (unsigned)offsetof(struct after_a_char, handle));
    return 0;
}
