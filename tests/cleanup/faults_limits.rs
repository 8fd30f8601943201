//! Faults from the system's limits, set up for real: a resize the address
//! space cannot take (and `RLIMIT_AS`), `RLIMIT_FSIZE` below the region's
//! size, and a tmpfs too small for the value. Each limit is set in a child
//! process of its own, which must end normally (no `SIGXFSZ`, no `SIGBUS`)
//! having left the file's size, the mapping and the directory as they were.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use fuzzshm::{Error, SharedMem};
use rustix::io::Errno;
use rustix::process::Resource;

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "resize-under-rlimit-as" => resize_under_rlimit_as(),
        "under-rlimit-fsize" => under_rlimit_fsize(),
        "on-a-full-tmpfs" => on_a_full_tmpfs(),
        _ => return false,
    }
    true
}

/// The regions a test tries: each backing the crate creates.
fn each_backing(capacity: usize) -> Vec<(&'static str, fuzzshm::Result<SharedMem>)> {
    let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
    vec![
        ("temp_file", SharedMem::temp_file(capacity)),
        ("temp_file_in", SharedMem::temp_file_in(&dir, capacity)),
        #[cfg(target_os = "linux")]
        ("memfd", SharedMem::memfd(capacity)),
        ("anonymous", SharedMem::anonymous(capacity)),
        ("anonymous_in", SharedMem::anonymous_in(&dir, capacity)),
    ]
}

fn file_size(mem: &SharedMem) -> u64 {
    rustix::fs::fstat(mem).unwrap().st_size as u64
}

fn errno_of(result: fuzzshm::Result<impl std::fmt::Debug>) -> Errno {
    match result {
        Err(Error::Os { errno, .. }) => errno,
        other => panic!("expected a system call's error, got {other:?}"),
    }
}

/// Asserts a refused resize left the region exactly as it was: the same
/// address and size, the same file size, the value readable, and the
/// region still able to grow within the limits.
fn assert_untouched(name: &str, mem: &mut SharedMem, before: (*const u8, usize, u64)) {
    assert_eq!(
        (mem.as_ptr(), mem.size(), file_size(mem)),
        before,
        "{name}: (address, size, file size) changed"
    );
    assert_eq!(mem.value().unwrap(), b"kept", "{name}");
    mem.set_value(b"still usable").unwrap();
}

// On 32-bit targets every size a region may have (up to `isize::MAX`) can
// fit the address space; `RLIMIT_AS` below covers them.
#[cfg(target_pointer_width = "64")]
#[test]
fn a_resize_past_the_address_space_leaves_everything_as_it_was() {
    for (name, mem) in each_backing(16) {
        let mut mem = mem.unwrap();
        mem.set_value(b"kept").unwrap();
        let before = (mem.as_ptr(), mem.size(), file_size(&mem));
        // 1 PiB: more than a 47-bit address space can map.
        let refused = mem.resize(1 << 50);
        assert_eq!(errno_of(refused), Errno::NOMEM, "{name}");
        assert_untouched(name, &mut mem, before);
        mem.set_value(b"kept").unwrap();
        mem.resize(1 << 20).unwrap();
        assert_eq!(
            file_size(&mem),
            fuzzshm::region_size(1 << 20).unwrap() as u64,
            "{name}"
        );
        assert_eq!(mem.value().unwrap(), b"kept", "{name}");
    }
}

/// The address space this process uses now, from `/proc/self/status`.
fn address_space_in_use() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

fn resize_under_rlimit_as() {
    let mut regions: Vec<_> = each_backing(4096)
        .into_iter()
        .map(|(name, mem)| (name, mem.unwrap()))
        .collect();
    common::lower_rlimit(Resource::As, address_space_in_use() + (64 << 20));
    for (name, mem) in &mut regions {
        mem.set_value(b"kept").unwrap();
        let before = (mem.as_ptr(), mem.size(), file_size(mem));
        assert_eq!(errno_of(mem.resize(1 << 30)), Errno::NOMEM, "{name}");
        assert_untouched(name, mem, before);
    }
}

#[test]
fn a_resize_refused_under_rlimit_as_leaves_everything_as_it_was() {
    let dir = common::private_tmpdir("faults-rlimit-as");
    common::passes_leaving_tmpdir_empty("resize-under-rlimit-as", &dir);
}

const FSIZE_LIMIT: u64 = 256 << 10;

fn under_rlimit_fsize() {
    common::lower_rlimit(Resource::Fsize, FSIZE_LIMIT);
    for (name, refused) in each_backing(1 << 20) {
        assert_eq!(errno_of(refused), Errno::FBIG, "{name}");
    }
    for (name, mem) in each_backing(4096) {
        let mut mem = mem.unwrap();
        mem.set_value(b"kept").unwrap();
        let before = (mem.as_ptr(), mem.size(), file_size(&mem));
        assert_eq!(errno_of(mem.resize(1 << 20)), Errno::FBIG, "{name}");
        assert_untouched(name, &mut mem, before);
        mem.resize(64 << 10).unwrap();
    }
}

#[test]
fn rlimit_fsize_is_an_efbig_error_never_sigxfsz_and_leaves_nothing() {
    let dir = common::private_tmpdir("faults-rlimit-fsize");
    // The child ending normally is the proof: SIGXFSZ would kill it.
    common::passes_leaving_tmpdir_empty("under-rlimit-fsize", &dir);
}

/// A tmpfs of `size` bytes mounted at `path` for the life of the value.
struct SmallTmpfs(PathBuf);

impl SmallTmpfs {
    /// `None` where this system does not let the test mount one (not root,
    /// or no mount namespace of its own): a visible skip, and a failure
    /// under CI.
    fn mount(path: &Path, size: &str) -> Option<SmallTmpfs> {
        std::fs::create_dir_all(path).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .output();
        let refused = match mounted {
            Ok(output) if output.status.success() => return Some(SmallTmpfs(path.to_owned())),
            Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            Err(error) => format!("no mount command: {error}"),
        };
        common::skip(&format!(
            "the full-tmpfs test cannot mount a tmpfs here: {refused}"
        ));
        None
    }
}

impl Drop for SmallTmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).output();
    }
}

const TMPFS_SIZE: usize = 64 << 10;

fn on_a_full_tmpfs() {
    let mut mem = SharedMem::temp_file(1 << 20).expect("a sparse file fits");
    // Beyond what the file system holds: an error, not SIGBUS.
    let too_big = vec![0xa5; 200 << 10];
    assert_eq!(errno_of(mem.set_value(&too_big)), Errno::NOSPC);
    // What fits still goes through, and reads back.
    let fits: Vec<u8> = (0..(16 << 10)).map(|i| i as u8).collect();
    mem.set_value(&fits).unwrap();
    assert_eq!(mem.value().unwrap(), &fits[..]);
    // The opt-in for writers outside the crate cannot reserve it all...
    assert_eq!(errno_of(mem.reserve_whole()), Errno::NOSPC);
    assert_eq!(mem.value().unwrap(), &fits[..]);
    // ...but can on a region that fits, and then covers a resize too.
    let mut small = SharedMem::temp_file(8 << 10).unwrap();
    small.reserve_whole().unwrap();
    small.value_buffer_mut().fill(1);
    let before = (small.as_ptr(), small.size(), file_size(&small));
    assert_eq!(errno_of(small.resize(1 << 20)), Errno::NOSPC);
    assert_eq!(
        (small.as_ptr(), small.size(), file_size(&small)),
        before,
        "a refused resize changed the region"
    );
    small.resize(12 << 10).unwrap();
    small.value_buffer_mut().fill(2);
    drop(small);
    mem.close().unwrap();

    // A file system already full when the region is created: even the
    // header's first store is an error.
    let filler = std::env::temp_dir().join("filler");
    let written = std::fs::write(&filler, vec![0u8; 2 * TMPFS_SIZE]);
    assert!(
        written.is_err(),
        "the filler fit in the tmpfs, which it fills"
    );
    let mut late = SharedMem::temp_file(4096).expect("a sparse file fits");
    assert_eq!(errno_of(late.set_value_len(0)), Errno::NOSPC);
    assert_eq!(errno_of(late.set_value(b"x")), Errno::NOSPC);
    assert_eq!(errno_of(late.reserve_whole()), Errno::NOSPC);
    drop(late);
    std::fs::remove_file(&filler).unwrap();
}

#[test]
fn a_full_tmpfs_is_an_enospc_error_never_sigbus() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("faults-small-tmpfs");
    let Some(tmpfs) = SmallTmpfs::mount(&path, &TMPFS_SIZE.to_string()) else {
        return;
    };
    common::passes_leaving_tmpdir_empty("on-a-full-tmpfs", &tmpfs.0);
}
