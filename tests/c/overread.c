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
    printf("poisoning %d\n", fuzzshm_asan_poisoning());
    fuzzshm_t mem;
    if (fuzzshm_memfd(&mem, 4096) != 0) return 2;
    /* A mutator keeping the second half of the current input: the source
     * lies in the value area, partly past the new length; no report. */
    uint8_t *buffer;
    size_t capacity;
    if (fuzzshm_value_buffer(&mem, &buffer, &capacity) != 0) return 2;
    for (size_t i = 0; i < 200; i++) buffer[i] = (uint8_t)i;
    if (fuzzshm_set_value_len(&mem, 200) != 0) return 2;
    const uint8_t *data;
    size_t len;
    if (fuzzshm_value(&mem, &data, &len) != 0) return 2;
    if (fuzzshm_set_value(&mem, data + 100, 100) != 0) return 2;
    if (fuzzshm_value(&mem, &data, &len) != 0 || len != 100 || data[0] != 100) return 2;

    static const uint8_t input[] = "an input!!";
    if (fuzzshm_set_value(&mem, input, sizeof input - 1) != 0) return 2;
    if (fuzzshm_value(&mem, &data, &len) != 0 || len != sizeof input - 1) return 2;
    printf("reading %p\n", (const void *)(data + len));
    fflush(stdout);
    volatile const uint8_t *past = data + len;
    printf("read %d past the value unreported\n", *past);
    return fuzzshm_close(&mem) == 0 ? 0 : 2;
}
