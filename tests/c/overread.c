/* A C worker whose target reads one byte past the input it was handed.
 * Built with -fsanitize=address, the program carries the ASan runtime,
 * which the library finds at run time and uses to poison the bytes past
 * the value: the read is reported as a use-after-poison at the address
 * printed first. Built without it, the read goes unreported (the bytes are
 * mapped) and the program prints "unreported". tests/capi.rs runs both. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzzshm.h"

int main(void) {
    fuzzshm_t mem;
    if (fuzzshm_memfd(&mem, 4096) != 0) return 2;
    static const uint8_t input[] = "an input!!";
    if (fuzzshm_set_value(&mem, input, sizeof input - 1) != 0) return 2;
    const uint8_t *data;
    size_t len;
    if (fuzzshm_value(&mem, &data, &len) != 0 || len != sizeof input - 1) return 2;
    printf("reading %p\n", (const void *)(data + len));
    fflush(stdout);
    volatile const uint8_t *past = data + len;
    printf("read %d past the value unreported\n", *past);
    return fuzzshm_close(&mem) == 0 ? 0 : 2;
}
