//! Golden bytes: what the API writes lands at Go's offsets in Go's
//! encoding (native endian, `int` pointer-sized, `bool` one byte), and
//! bytes placed at Go's offsets read back through the API.

use std::sync::atomic::Ordering;

use fuzzshm::{offsets, region_size, SharedMem, HEADER_SIZE};

/// Go's offsets, written out per pointer width rather than taken from the
/// crate, so a layout change cannot move both sides at once.
#[cfg(target_pointer_width = "64")]
const GO: [usize; 6] = [0, 8, 16, 24, 32, 40];
#[cfg(target_pointer_width = "32")]
const GO: [usize; 6] = [0, 8, 12, 20, 28, 32];

#[test]
fn offsets_are_gos() {
    let [count, value_len, rand_state, rand_inc, raw_in_mem, size] = GO;
    assert_eq!(offsets::COUNT, count);
    assert_eq!(offsets::VALUE_LEN, value_len);
    assert_eq!(offsets::RAND_STATE, rand_state);
    assert_eq!(offsets::RAND_INC, rand_inc);
    assert_eq!(offsets::RAW_IN_MEM, raw_in_mem);
    assert_eq!(HEADER_SIZE, size);
}

#[test]
fn region_size_is_header_plus_capacity_and_never_wraps() {
    assert_eq!(region_size(0), Some(HEADER_SIZE));
    assert_eq!(region_size(100 << 20), Some(HEADER_SIZE + (100 << 20)));
    assert_eq!(
        region_size(isize::MAX as usize - HEADER_SIZE),
        Some(isize::MAX as usize)
    );
    assert_eq!(region_size(isize::MAX as usize - HEADER_SIZE + 1), None);
    assert_eq!(region_size(usize::MAX), None);
}

/// The region's bytes, read straight from the mapping.
fn raw(mem: &SharedMem) -> &[u8] {
    // The bytes past the value too: readable under ASan from here on.
    let _ = mem.value_buffer();
    // SAFETY: the mapping is `mem.size()` bytes and outlives the borrow;
    // nothing writes it while the test reads.
    unsafe { std::slice::from_raw_parts(mem.as_ptr(), mem.size()) }
}

#[test]
fn api_writes_land_at_gos_offsets() {
    let mut mem = SharedMem::temp_file(32).unwrap();
    mem.set_value(b"golden").unwrap();
    let header = mem.header();
    header
        .count()
        .store(0x0102_0304_0506_0708, Ordering::Relaxed);
    header.set_rand_state(0x1112_1314_1516_1718);
    header.set_rand_inc(0x2122_2324_2526_2728);
    header.set_raw_in_mem(true);

    let bytes = raw(&mem);
    let [count, value_len, rand_state, rand_inc, raw_in_mem, size] = GO;
    let word = size_of::<usize>();
    assert_eq!(
        bytes[count..count + 8],
        0x0102_0304_0506_0708i64.to_ne_bytes()
    );
    assert_eq!(bytes[value_len..value_len + word], 6usize.to_ne_bytes());
    assert_eq!(
        bytes[rand_state..rand_state + 8],
        0x1112_1314_1516_1718u64.to_ne_bytes()
    );
    assert_eq!(
        bytes[rand_inc..rand_inc + 8],
        0x2122_2324_2526_2728u64.to_ne_bytes()
    );
    assert_eq!(bytes[raw_in_mem], 1);
    assert_eq!(&bytes[size..size + 6], b"golden");
    assert_eq!(bytes.len(), size + 32);

    mem.header().set_raw_in_mem(false);
    assert_eq!(raw(&mem)[raw_in_mem], 0);
}

#[test]
fn bytes_at_gos_offsets_read_back_through_the_api() {
    let mem = SharedMem::temp_file(32).unwrap();
    let [count, value_len, rand_state, rand_inc, raw_in_mem, size] = GO;
    let put = |offset: usize, bytes: &[u8]| {
        // SAFETY: every write is inside the mapping (offsets below the
        // header size plus 32), and no reference to these bytes is alive.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                mem.as_mut_ptr().wrapping_add(offset),
                bytes.len(),
            )
        }
    };
    put(count, &(-42i64).to_ne_bytes());
    put(value_len, &5isize.to_ne_bytes());
    put(rand_state, &u64::MAX.to_ne_bytes());
    put(rand_inc, &0x8000_0000_0000_0001u64.to_ne_bytes());
    put(raw_in_mem, &[1]);
    put(size, b"peer!");

    let header = mem.header();
    assert_eq!(header.count().load(Ordering::Relaxed), -42);
    assert_eq!(header.value_len(), 5);
    assert_eq!(header.rand_state(), u64::MAX);
    assert_eq!(header.rand_inc(), 0x8000_0000_0000_0001);
    assert!(header.raw_in_mem());
    assert_eq!(mem.value().unwrap(), b"peer!");
    assert_eq!(mem.value_copy().unwrap(), b"peer!");
}
