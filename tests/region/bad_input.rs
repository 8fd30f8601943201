//! Every bad input gets a clear error value, nothing is lost and
//! nothing leaks. The fd-leak checks run in one child process, alone, so
//! other tests' descriptors cannot disturb the count.

use crate::common;

use std::os::fd::{AsFd, OwnedFd};

use fuzzshm::{Error, SharedMem, HEADER_SIZE};

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "every-bad-input" => every_bad_input(),
        _ => return false,
    }
    true
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

fn file_of_len(len: u64) -> OwnedFd {
    let file = tempfile_in_target();
    file.set_len(len).unwrap();
    file.into()
}

fn tempfile_in_target() -> std::fs::File {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "bad-input-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    file
}

fn every_bad_input() {
    // `temp_file` opens the temp directory once and keeps it for the
    // process: that one descriptor is no leak, so count from after it.
    SharedMem::temp_file(0).unwrap().close().unwrap();
    let before = open_fds();

    // Sizes that overflow the address space.
    for capacity in [
        usize::MAX,
        isize::MAX as usize,
        isize::MAX as usize - HEADER_SIZE + 1,
    ] {
        assert_eq!(
            SharedMem::temp_file(capacity).unwrap_err(),
            Error::SizeOverflow { capacity }
        );
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        assert_eq!(
            SharedMem::temp_file_in(&dir, capacity).unwrap_err(),
            Error::SizeOverflow { capacity }
        );
        #[cfg(target_os = "linux")]
        assert_eq!(
            SharedMem::memfd(capacity).unwrap_err(),
            Error::SizeOverflow { capacity }
        );
    }

    // Descriptors that are not regular files.
    let (reader, writer) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
    let dir: OwnedFd = std::fs::File::open("/").unwrap().into();
    let null: OwnedFd = std::fs::File::open("/dev/null").unwrap().into();
    for fd in [reader, dir, null] {
        let dup = fd.try_clone().unwrap();
        // SAFETY: a pipe, a directory or /dev/null, opened just above and
        // never mapped by this process; the call fails (asserted) before
        // mapping anything.
        let whole = unsafe { SharedMem::from_fd(fd) };
        assert!(matches!(whole, Err(Error::NotRegularFile { .. })));
        // SAFETY: as for `from_fd` just above.
        let part = unsafe { SharedMem::map_file(dup, 4096) };
        assert!(matches!(part, Err(Error::NotRegularFile { .. })));
    }
    drop(writer);

    // Files too small for the header, and sizes the file does not reach.
    for len in [0, 1, HEADER_SIZE as u64 - 1] {
        // SAFETY: a new, already unlinked file that nothing else in this
        // process maps (and that is too small to be mapped at all).
        let small = unsafe { SharedMem::from_fd(file_of_len(len)) };
        assert_eq!(
            small.unwrap_err(),
            Error::TooSmall {
                size: len,
                needed: HEADER_SIZE as u64
            }
        );
    }
    // SAFETY: a new, already unlinked file that nothing else in this
    // process maps.
    let headerless = unsafe { SharedMem::map_file(file_of_len(4096), HEADER_SIZE - 1) };
    assert_eq!(
        headerless.unwrap_err(),
        Error::TooSmall {
            size: HEADER_SIZE as u64 - 1,
            needed: HEADER_SIZE as u64
        }
    );
    // SAFETY: a new, already unlinked file that nothing else in this
    // process maps.
    let past_the_end = unsafe { SharedMem::map_file(file_of_len(4096), 8192) };
    assert_eq!(
        past_the_end.unwrap_err(),
        Error::TooSmall {
            size: 4096,
            needed: 8192
        }
    );

    // A file larger than the address space can map (sparse: no disk used).
    // Only a 32-bit process can meet one: on 64-bit targets no Linux file
    // may exceed i64::MAX, which is isize::MAX.
    if cfg!(target_pointer_width = "32") {
        let huge = isize::MAX as u64 + 1;
        let file = tempfile_in_target();
        file.set_len(huge).unwrap();
        // SAFETY: a new, already unlinked file that nothing else in this
        // process maps.
        let too_large = unsafe { SharedMem::from_fd(file.into()) };
        assert_eq!(too_large.unwrap_err(), Error::TooLarge { size: huge });
    }

    // Values over capacity: an error, and the region is unchanged.
    let mut mem = SharedMem::temp_file(8).unwrap();
    mem.set_value(b"kept").unwrap();
    assert_eq!(
        mem.set_value(b"123456789").unwrap_err(),
        Error::ValueTooLarge {
            len: 9,
            capacity: 8
        }
    );
    assert_eq!(
        mem.set_value_len(9).unwrap_err(),
        Error::ValueTooLarge {
            len: 9,
            capacity: 8
        }
    );
    assert_eq!(mem.value().unwrap(), b"kept");
    // Shrinking is refused too.
    assert_eq!(
        mem.resize(4).unwrap_err(),
        Error::ShrinkRefused {
            capacity: 8,
            requested: 4
        }
    );
    mem.close().unwrap();

    assert_eq!(open_fds(), before, "a descriptor leaked on an error path");
}

#[test]
fn every_bad_input_gets_its_error_and_leaks_nothing() {
    let output = common::output_of(common::child("every-bad-input"));
    common::assert_success(&output);
}

/// A peer's corrupt `valueLen`: every read API refuses it, never panics.
#[test]
fn corrupt_value_lengths_are_errors() {
    let mut mem = SharedMem::temp_file(16).unwrap();
    let fd = mem.as_fd().try_clone_to_owned().unwrap();
    // SAFETY: the test maps the file twice to play the peer. The peer
    // writes only the header (a raw pointer copy, and `set_value_len`'s
    // atomic store); no `&mut [u8]` is made from either mapping, and each
    // `&[u8]` from `mem` is a temporary dropped within its statement.
    let mut peer = unsafe { SharedMem::from_fd(fd) }.unwrap();
    for bad in [-1, isize::MIN, 17, isize::MAX] {
        // The peer writes the raw length through its own mapping.
        let at = fuzzshm::offsets::VALUE_LEN;
        // SAFETY: `at` is inside the peer's mapping; no reference to these
        // bytes is alive.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bad.to_ne_bytes().as_ptr(),
                peer.as_mut_ptr().wrapping_add(at),
                8.min(size_of::<isize>()),
            )
        };
        let expected = Error::CorruptValueLen {
            value_len: bad,
            capacity: 16,
        };
        assert_eq!(mem.header().value_len(), bad);
        assert_eq!(mem.value().unwrap_err(), expected);
        assert_eq!(mem.value_copy().unwrap_err(), expected);
        assert_eq!(mem.value_mut().unwrap_err(), expected);
        assert_eq!(peer.value().unwrap_err(), expected);
    }
    // Exactly the capacity is fine, and so is zero.
    peer.set_value_len(16).unwrap();
    assert_eq!(mem.value().unwrap().len(), 16);
    peer.set_value_len(0).unwrap();
    assert_eq!(mem.value().unwrap(), b"");
}
