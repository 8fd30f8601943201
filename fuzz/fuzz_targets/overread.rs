//! A target with a planted bug: it reads one byte past its input. Inputs
//! reach it the way a worker gets them, through a region (`set_value`, then
//! `value`), not in libFuzzer's exact-size heap copy; ASan must still
//! report the read, because fuzzshm poisons the bytes past the value.
//! `.ci/fuzz.sh` runs it and requires the use-after-poison report.
#![no_main]

use std::sync::Mutex;

use fuzzshm::SharedMem;
use libfuzzer_sys::fuzz_target;

/// One region for the whole run, as a worker has.
static REGION: Mutex<Option<SharedMem>> = Mutex::new(None);

/// The fuzzed code, and its bug.
fn target(input: &[u8]) -> u8 {
    let Some(&first) = input.first() else {
        return 0;
    };
    // SAFETY: none: this is the bug under test. The byte is mapped (the
    // capacity is larger than any input given), so only ASan can tell.
    first ^ unsafe { std::ptr::read_volatile(input.as_ptr().add(input.len())) }
}

fuzz_target!(|data: &[u8]| {
    let mut region = REGION.lock().unwrap();
    let mem = region.get_or_insert_with(|| SharedMem::memfd(1 << 16).unwrap());
    let input = &data[..data.len().min(mem.capacity() - 1)];
    mem.set_value(input).unwrap();
    std::hint::black_box(target(mem.value().unwrap()));
});
