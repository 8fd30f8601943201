//! memfd regions are sealed against shrinking and further seals, so a peer
//! cannot turn our next read into SIGBUS nor block growth.
#![cfg(target_os = "linux")]

use std::os::fd::AsFd;

use fuzzshm::SharedMem;
use rustix::fs::SealFlags;
use rustix::io::Errno;

#[test]
fn sealed_with_exactly_shrink_and_seal() {
    let mem = SharedMem::memfd(4096).unwrap();
    assert_eq!(
        rustix::fs::fcntl_get_seals(&mem).unwrap(),
        SealFlags::SHRINK | SealFlags::SEAL
    );
}

#[test]
fn a_peer_cannot_shrink_it_and_our_mapping_stays_readable() {
    let mut mem = SharedMem::memfd(1 << 20).unwrap();
    let payload = vec![0xa5; 1 << 20];
    mem.set_value(&payload).unwrap();
    // The peer holds the same file through its own descriptor.
    let peer = mem.as_fd().try_clone_to_owned().unwrap();
    for len in [0, 1, 4096, mem.size() as u64 - 1] {
        assert_eq!(rustix::fs::ftruncate(&peer, len), Err(Errno::PERM));
    }
    // Every byte, up to the last page, is still there.
    assert_eq!(mem.value().unwrap(), &payload[..]);
}

#[test]
fn a_peer_cannot_add_seals() {
    let mem = SharedMem::memfd(4096).unwrap();
    let peer = mem.as_fd().try_clone_to_owned().unwrap();
    for seal in [SealFlags::GROW, SealFlags::WRITE, SealFlags::FUTURE_WRITE] {
        assert_eq!(rustix::fs::fcntl_add_seals(&peer, seal), Err(Errno::PERM));
    }
}

#[test]
fn it_still_grows() {
    let mut mem = SharedMem::memfd(4096).unwrap();
    mem.set_value(b"kept").unwrap();
    mem.resize(64 << 20).unwrap();
    assert_eq!(mem.capacity(), 64 << 20);
    assert_eq!(mem.value().unwrap(), b"kept");
    assert_eq!(
        rustix::fs::fstat(&mem).unwrap().st_size as usize,
        mem.size()
    );
}
