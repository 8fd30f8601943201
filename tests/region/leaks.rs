//! No leaks: thousands of create/close and create/drop cycles of every
//! backing leave the open descriptors, the mappings and the `fuzz-*` files
//! exactly as they were. Measured in a child process of its own, with a
//! private TMPDIR, so no other test's threads move the counts.

use crate::common;

use fuzzshm::SharedMem;

const CYCLES: usize = 2_000;

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "cycles" => cycles(),
        _ => return false,
    }
    true
}

/// (open descriptors, the crate's mappings, files in TMPDIR). Only the
/// mappings of region files count: a sanitizer's allocator maps memory of
/// its own as the heap grows, which is not ours to account for.
fn footprint() -> (usize, usize, usize) {
    let tmp = std::env::temp_dir().to_str().unwrap().to_owned();
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let maps = std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .filter(|line| {
            // An unnamed file is mapped as `<its directory>/#<inode> (deleted)`.
            line.contains("/fuzz-") || line.contains("memfd:fuzzshm") || line.contains(&tmp)
        })
        .count();
    let files = std::fs::read_dir(std::env::temp_dir()).unwrap().count();
    (fds, maps, files)
}

fn cycles() {
    let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
    // Everything std and the allocator set up lazily happens once first.
    SharedMem::temp_file(4096).unwrap().close().unwrap();
    let before = footprint();

    type Make<'a> = Box<dyn Fn() -> SharedMem + 'a>;
    let backings: Vec<(&str, Make)> = vec![
        (
            "temp_file",
            Box::new(|| SharedMem::temp_file(64 << 10).unwrap()),
        ),
        (
            "temp_file_in",
            Box::new(|| SharedMem::temp_file_in(&dir, 64 << 10).unwrap()),
        ),
        #[cfg(target_os = "linux")]
        ("memfd", Box::new(|| SharedMem::memfd(64 << 10).unwrap())),
        (
            "anonymous",
            Box::new(|| SharedMem::anonymous(64 << 10).unwrap()),
        ),
        (
            "anonymous_in",
            Box::new(|| SharedMem::anonymous_in(&dir, 64 << 10).unwrap()),
        ),
        (
            "from_fd of a dup",
            Box::new(|| {
                let owner = SharedMem::temp_file(4096).unwrap();
                let fd = rustix::io::dup(&owner).unwrap();
                // SAFETY: the two mappings of the file overlap only until
                // `owner` drops at the end of this closure, and no slice of
                // either is made meanwhile; after it, the returned region
                // is the file's only mapping.
                unsafe { SharedMem::from_fd(fd) }.unwrap()
            }),
        ),
        (
            "map_file of a dup",
            Box::new(|| {
                let owner = SharedMem::temp_file(4096).unwrap();
                let fd = rustix::io::dup(&owner).unwrap();
                // SAFETY: as for `from_fd` above: no slice of either
                // mapping until `owner` drops at the end of this closure.
                unsafe { SharedMem::map_file(fd, 100) }.unwrap()
            }),
        ),
    ];
    for (name, make) in &backings {
        for i in 0..CYCLES {
            let mut mem = make();
            mem.set_value(b"touch the pages").unwrap();
            if i % 2 == 0 {
                mem.close().unwrap();
            } else {
                drop(mem);
            }
        }
        assert_eq!(
            footprint(),
            before,
            "{name}: (fds, mappings, files) changed"
        );
    }
    // Resizing moves mappings; the old ones must go too.
    for _ in 0..CYCLES / 10 {
        let mut mem = SharedMem::temp_file(4096).unwrap();
        mem.resize(1 << 20).unwrap();
        mem.resize(8 << 20).unwrap();
        drop(mem);
    }
    assert_eq!(
        footprint(),
        before,
        "resize: (fds, mappings, files) changed"
    );
}

#[test]
fn thousands_of_cycles_leak_nothing() {
    let dir = common::private_tmpdir("leaks");
    common::passes_leaving_tmpdir_empty("cycles", &dir);
}
