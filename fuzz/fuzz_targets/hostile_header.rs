//! A peer writes arbitrary header bytes, then every read API is called: no
//! panic, no read out of bounds, `CorruptValueLen` exactly when `valueLen`
//! is impossible. And files of arbitrary size, mapped whole or in part:
//! `TooSmall` exactly when the size cannot hold what is asked.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use std::io::Write;

use arbitrary::Arbitrary;
use common::model::{apply, check, check_debug, Model, Op, MAX_CAPACITY, MAX_HEADER};
use common::Backing;
use fuzzshm::{Error, SharedMem, HEADER_SIZE};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    backing: Backing,
    capacity: u16,
    /// Set before the peer strikes (refused if over the capacity).
    value: Vec<u8>,
    header: [u8; MAX_HEADER],
    /// A file of this many bytes (modulo `MAX_CAPACITY`) that starts with
    /// `header`, mapped whole with `from_fd` and in part with `map_file`.
    file_len: u16,
    map_len: u16,
}

fuzz_target!(|input: Input| {
    let capacity = usize::from(input.capacity) % MAX_CAPACITY;
    let mut region = input.backing.open(capacity);
    let mut model = Model::new(capacity);
    for op in [
        Op::SetValue(input.value),
        Op::PeerHeader(input.header),
        // value_mut and value_buffer_mut: their lengths are asserted.
        Op::WriteValue { at: 0, byte: 0xa5 },
        Op::WriteBuffer {
            at: u16::MAX,
            byte: 0x5a,
        },
    ] {
        apply(&mut *region, &mut model, &op);
        region.verify(&model);
    }
    check_debug(region.region(), &model);
    region.close();

    let file_len = usize::from(input.file_len) % MAX_CAPACITY;
    let map_len = usize::from(input.map_len) % MAX_CAPACITY;
    let header = &input.header[..HEADER_SIZE.min(file_len)];
    // SAFETY: `file` makes a new, already removed file; this is its only
    // mapping.
    let whole = unsafe { SharedMem::from_fd(file(file_len, header).into()) };
    if file_len < HEADER_SIZE {
        assert!(matches!(whole, Err(Error::TooSmall { .. })), "{whole:?}");
    } else {
        read_file_region(&whole.unwrap(), header, file_len);
    }
    // SAFETY: as for `whole`: another new file, mapped only here.
    let part = unsafe { SharedMem::map_file(file(file_len, header).into(), map_len) };
    if file_len < HEADER_SIZE || map_len < HEADER_SIZE || map_len > file_len {
        assert!(matches!(part, Err(Error::TooSmall { .. })), "{part:?}");
    } else {
        read_file_region(&part.unwrap(), header, map_len);
    }
});

/// A new, already removed file of `len` bytes that starts with `header`.
fn file(len: usize, header: &[u8]) -> std::fs::File {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("fuzzshm-hostile-{}-{serial}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .expect("a new file");
    std::fs::remove_file(&path).expect("remove");
    file.set_len(len as u64).expect("set_len");
    file.write_all(header).expect("write");
    file
}

/// A region of `len` bytes over a file that starts with `header` and is
/// zero after it.
fn read_file_region(mem: &SharedMem, header: &[u8], len: usize) {
    let mut model = Model::new(len - HEADER_SIZE);
    let mut whole = [0; MAX_HEADER];
    whole[..header.len()].copy_from_slice(header);
    model.set_header(&whole);
    check(mem, &model);
    check_debug(mem, &model);
}
