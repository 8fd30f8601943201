//! No leaks: thousands of create/close and create/drop cycles of every
//! backing leave the open descriptors, the mappings and the `fuzz-*` files
//! exactly as they were. Measured in a child process of its own, with a
//! private TMPDIR, so no other test's threads move the counts.

mod common;

use std::path::{Path, PathBuf};

use fuzzshm::SharedMem;

const CYCLES: usize = 2_000;

#[test]
fn child_main() {
    common::run_child(|role| match role {
        "cycles" => cycles(),
        other => panic!("unknown role {other}"),
    });
}

/// (open descriptors, mappings, files in TMPDIR)
fn footprint() -> (usize, usize, usize) {
    let fds = std::fs::read_dir("/proc/self/fd").unwrap().count();
    let maps = std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
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
            "create_in",
            Box::new(|| SharedMem::create_in(&dir, 64 << 10).unwrap()),
        ),
        #[cfg(target_os = "linux")]
        ("memfd", Box::new(|| SharedMem::memfd(64 << 10).unwrap())),
        (
            "from_fd of a dup",
            Box::new(|| {
                let owner = SharedMem::temp_file(4096).unwrap();
                SharedMem::from_fd(rustix::io::dup(&owner).unwrap()).unwrap()
            }),
        ),
        (
            "map_file of a dup",
            Box::new(|| {
                let owner = SharedMem::temp_file(4096).unwrap();
                SharedMem::map_file(rustix::io::dup(&owner).unwrap(), 100).unwrap()
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

fn private_tmpdir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("leaks");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn thousands_of_cycles_leak_nothing() {
    let dir = private_tmpdir();
    let status = common::child("cycles")
        .env("TMPDIR", &dir)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
}
