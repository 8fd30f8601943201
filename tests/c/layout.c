/* Prints every number fuzzshm.h defines, and the layout the C compiler
 * gives its types, as "name value" lines: tests/capi.rs compares each with
 * the Rust crate, so the header cannot drift from it. */
#include <stdalign.h>
#include <stdio.h>

#include "fuzzshm.h"

#define SHOW(name, value) printf("%s %lld\n", name, (long long)(value))

int main(void) {
    SHOW("HEADER_SIZE", FUZZSHM_HEADER_SIZE);
    SHOW("sizeof(fuzzshm_header_t)", sizeof(fuzzshm_header_t));
    SHOW("OFFSET_COUNT", offsetof(fuzzshm_header_t, count));
    SHOW("OFFSET_VALUE_LEN", offsetof(fuzzshm_header_t, value_len));
    SHOW("OFFSET_RAND_STATE", offsetof(fuzzshm_header_t, rand_state));
    SHOW("OFFSET_RAND_INC", offsetof(fuzzshm_header_t, rand_inc));
    SHOW("OFFSET_RAW_IN_MEM", offsetof(fuzzshm_header_t, raw_in_mem));
    SHOW("sizeof(value_len)", sizeof(((fuzzshm_header_t *)0)->value_len));
    SHOW("HANDLE_SIZE", FUZZSHM_HANDLE_SIZE);
    SHOW("sizeof(fuzzshm_t)", sizeof(fuzzshm_t));
    SHOW("alignof(fuzzshm_t)", alignof(fuzzshm_t));
    SHOW("FUZZ_IN_FD", FUZZSHM_FUZZ_IN_FD);
    SHOW("FUZZ_OUT_FD", FUZZSHM_FUZZ_OUT_FD);
    SHOW("MEM_FD", FUZZSHM_MEM_FD);
    SHOW("ENULL", FUZZSHM_ENULL);
    SHOW("ECLOSED", FUZZSHM_ECLOSED);
    SHOW("ESIZE_OVERFLOW", FUZZSHM_ESIZE_OVERFLOW);
    SHOW("EVALUE_TOO_LARGE", FUZZSHM_EVALUE_TOO_LARGE);
    SHOW("ECORRUPT_VALUE_LEN", FUZZSHM_ECORRUPT_VALUE_LEN);
    SHOW("ETOO_SMALL", FUZZSHM_ETOO_SMALL);
    SHOW("ETOO_LARGE", FUZZSHM_ETOO_LARGE);
    SHOW("ENOT_REGULAR_FILE", FUZZSHM_ENOT_REGULAR_FILE);
    SHOW("ENOT_PIPE", FUZZSHM_ENOT_PIPE);
    SHOW("ESHRINK", FUZZSHM_ESHRINK);
    SHOW("EMISALIGNED", FUZZSHM_EMISALIGNED);
    SHOW("ENAME_COLLISION", FUZZSHM_ENAME_COLLISION);
    SHOW("EALREADY_TAKEN", FUZZSHM_EALREADY_TAKEN);
    SHOW("EOPEN", FUZZSHM_EOPEN);
    SHOW("ENOT_INHERITED", FUZZSHM_ENOT_INHERITED);
    SHOW("ESAME_FD", FUZZSHM_ESAME_FD);
    return 0;
}
