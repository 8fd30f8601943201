//! A hostile or corrupt peer writes whatever it likes into the header
//! through its own mapping of the same file. Every read API answers with an
//! error or a well-defined value: never a panic, never a read out of bounds.

use crate::model;

use std::sync::atomic::Ordering;

use fuzzshm::{offsets, Error, SharedMem, HEADER_SIZE};

const CAPACITY: usize = 256;

/// Our region and the peer's mapping of the same file.
fn region_and_peer() -> (SharedMem, SharedMem) {
    let mem = SharedMem::temp_file(CAPACITY).unwrap();
    let fd = rustix::io::dup(&mem).unwrap();
    // SAFETY: the test maps the file twice to play the peer. The peer
    // writes only through raw pointers (`model::poke`) and reads only
    // header atomics, raw bytes, or a `value()` slice that is a temporary
    // of its statement; every slice from `mem` (`read_everything`,
    // `writes_repair_a_corrupt_header`) is likewise dropped before the peer
    // acts again, so no slice of one mapping is alive while the other is
    // written.
    let peer = unsafe { SharedMem::from_fd(fd) }.unwrap();
    (mem, peer)
}

/// Calls every read API and checks each answer against the raw length.
fn read_everything(mem: &mut SharedMem) {
    let header = mem.header();
    let raw_len = header.value_len();
    let _ = (header.rand_state(), header.rand_inc(), header.raw_in_mem());
    let _ = header.count().load(Ordering::Relaxed);
    let valid = usize::try_from(raw_len).is_ok_and(|len| len <= CAPACITY);
    let refused = Error::CorruptValueLen {
        value_len: raw_len,
        capacity: CAPACITY,
    };
    match mem.value() {
        Ok(value) => {
            assert!(valid, "accepted valueLen {raw_len}");
            assert_eq!(value.len() as isize, raw_len);
        }
        Err(error) => {
            assert!(!valid, "refused valueLen {raw_len}");
            assert_eq!(error, refused);
        }
    }
    assert_eq!(
        mem.value_copy().map(|v| v.len()),
        mem.value().map(<[u8]>::len)
    );
    let mutable_len = mem.value_mut().map(|v| v.len());
    assert_eq!(mutable_len, mem.value().map(<[u8]>::len));
    assert_eq!(mem.value_buffer_mut().len(), CAPACITY);
}

#[test]
fn every_interesting_value_len() {
    let (mut mem, peer) = region_and_peer();
    for len in model::edge_value_lens(CAPACITY) {
        // SAFETY: no slice of either mapping is alive between reads.
        unsafe { model::poke(&peer, offsets::VALUE_LEN, &len.to_ne_bytes()) };
        assert_eq!(mem.header().value_len(), len);
        read_everything(&mut mem);
    }
}

#[test]
fn every_raw_in_mem_byte() {
    let (mem, peer) = region_and_peer();
    for byte in 0..=u8::MAX {
        // SAFETY: no slice of either mapping is alive between reads.
        unsafe { model::poke(&peer, offsets::RAW_IN_MEM, &[byte]) };
        assert_eq!(mem.header().raw_in_mem(), byte != 0, "byte {byte}");
    }
    // And we write it as Go does: exactly 1.
    mem.header().set_raw_in_mem(true);
    assert!(peer.header().raw_in_mem());
    let raw_in_mem = peer.as_ptr().wrapping_add(offsets::RAW_IN_MEM);
    // SAFETY: the offset is inside the peer's mapping; nothing writes it now.
    assert_eq!(unsafe { *raw_in_mem }, 1);
}

#[test]
fn random_header_bytes() {
    let (mut mem, peer) = region_and_peer();
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..20_000 {
        let mut header = [0u8; HEADER_SIZE];
        for chunk in header.chunks_mut(8) {
            let word = next().to_ne_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        // Every fourth round, a small length, so the valid path is walked too.
        if round % 4 == 0 {
            let len = (next() % (CAPACITY as u64 + 2)) as isize;
            let at = offsets::VALUE_LEN;
            header[at..at + size_of::<isize>()].copy_from_slice(&len.to_ne_bytes());
        }
        // SAFETY: no slice of either mapping is alive between reads.
        unsafe { model::poke(&peer, 0, &header) };
        read_everything(&mut mem);
    }
}

/// Writes through our API survive whatever the peer left in the header.
#[test]
fn writes_repair_a_corrupt_header() {
    let (mut mem, peer) = region_and_peer();
    // SAFETY: no slice of either mapping is alive yet.
    unsafe { model::poke(&peer, 0, &[0xff; HEADER_SIZE]) };
    assert!(mem.value().is_err());
    mem.set_value(b"clean").unwrap();
    assert_eq!(mem.value().unwrap(), b"clean");
    assert_eq!(peer.value().unwrap(), b"clean");
}
