//! Nothing is left behind: no file after `close`, after `Drop`, after a
//! panic while a region is held (caught, or ending the process); the file is
//! created in `TMPDIR`, named `fuzz-<pid>-` and 8 hex digits, with mode 0600; and
//! the descriptor is close-on-exec.
//!
//! Each check that lists the temp directory runs in a child process with
//! `TMPDIR` set to a directory of its own, so parallel tests cannot race.

use crate::common;

use crate::common::{entries, path_of, private_tmpdir};
use fuzzshm::SharedMem;

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "lifecycles" => lifecycles(),
        "panic-holding-a-region" => {
            let _mem = SharedMem::temp_file(4096).unwrap();
            assert_eq!(entries(&std::env::temp_dir()).len(), 1);
            panic!("planted: the region must still be removed while unwinding");
        }
        "fork-server" => fork_server(),
        _ => return false,
    }
    true
}

/// A fork server: a child forked without `exec` drops and closes its
/// copies of the parent's regions; the parent's files stay, and the
/// parent's own close removes them. A region the child creates is named
/// with the child's pid, not its parent's.
fn fork_server() {
    let tmp = std::env::temp_dir();
    let dir = std::fs::File::open(&tmp).unwrap();
    let regions = [
        SharedMem::temp_file(4096).unwrap(),
        SharedMem::temp_file_in(&dir, 4096).unwrap(),
    ];
    let names = entries(&tmp);
    assert_eq!(names.len(), 2);
    // SAFETY: this child process runs its one test on its main thread; the
    // forked child makes only system calls (munmap, close, getpid, and
    // `temp_file_in`'s, which allocates nothing) and exits with `_exit`,
    // running no destructor of the parent's state.
    match unsafe { libc::fork() } {
        0 => {
            let [first, second] = regions;
            drop(first);
            let closed = second.close().is_ok();
            // Left behind on purpose, for the parent to read its name.
            let created = SharedMem::temp_file_in(&dir, 16).map(std::mem::forget);
            // SAFETY: ends the forked child at once, as after a fork.
            unsafe { libc::_exit(if closed && created.is_ok() { 0 } else { 1 }) }
        }
        -1 => panic!("fork failed"),
        child => {
            let mut status = 0;
            // SAFETY: waits for the child just forked; `status` is ours.
            assert_eq!(unsafe { libc::waitpid(child, &mut status, 0) }, child);
            assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
            let mut new = entries(&tmp);
            new.retain(|name| !names.contains(name));
            assert_eq!(new.len(), 1, "the child's own region: {new:?}");
            let prefix = format!("fuzz-{child}-");
            assert!(new[0].starts_with(&prefix), "{} is not {prefix}*", new[0]);
            std::fs::remove_file(tmp.join(&new[0])).unwrap();
        }
    }
    assert_eq!(
        entries(&tmp),
        names,
        "the forked child removed its parent's files"
    );
    for mem in regions {
        mem.close().expect("the parent removes its own files");
    }
    assert!(entries(&tmp).is_empty());
}

#[test]
fn a_forked_child_never_removes_its_parents_files() {
    let dir = private_tmpdir("cleanup-fork-server");
    common::passes_leaving_tmpdir_empty("fork-server", &dir);
}

fn lifecycles() {
    let tmp = std::env::temp_dir();
    // While it lives: one file, in TMPDIR, named and protected as Go's.
    let mem = SharedMem::temp_file(4096).unwrap();
    let path = path_of(&mem);
    assert_eq!(path.parent().unwrap(), tmp.canonicalize().unwrap());
    let name = path.file_name().unwrap().to_str().unwrap();
    let suffix = name.strip_prefix("fuzz-").expect("named fuzz-*");
    let (pid, random) = suffix.split_once('-').expect("fuzz-<pid>-<random>");
    assert_eq!(pid, std::process::id().to_string(), "{name}");
    assert_eq!(random.len(), 8, "{name}");
    assert!(random.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    let mode = rustix::fs::fstat(&mem).unwrap().st_mode & 0o7777;
    assert_eq!(mode, 0o600);
    assert_eq!(entries(&tmp), [name]);

    mem.close().unwrap();
    assert!(entries(&tmp).is_empty(), "left after close");

    drop(SharedMem::temp_file(4096).unwrap());
    assert!(entries(&tmp).is_empty(), "left after drop");

    let caught = std::panic::catch_unwind(|| {
        let _mem = SharedMem::temp_file(4096).unwrap();
        panic!("planted");
    });
    assert!(caught.is_err());
    assert!(entries(&tmp).is_empty(), "left after a caught panic");

    // Many at once get distinct names, and all go.
    let many: Vec<SharedMem> = (0..64).map(|_| SharedMem::temp_file(16).unwrap()).collect();
    assert_eq!(entries(&tmp).len(), 64);
    drop(many);
    assert!(entries(&tmp).is_empty());
}

#[test]
fn temp_files_are_named_protected_and_always_removed() {
    let dir = private_tmpdir("cleanup-lifecycles");
    let mut cmd = common::child("lifecycles");
    // Its planted (and caught) panic prints no backtrace, even where the
    // environment asks for one; a failing run shows the panic's message.
    cmd.env("RUST_BACKTRACE", "0").env("TMPDIR", &dir);
    common::assert_success(&common::output_of(cmd));
    assert!(entries(&dir).is_empty());
}

#[test]
fn a_panic_that_ends_the_process_still_removes_the_file() {
    let dir = private_tmpdir("cleanup-panic");
    let mut cmd = common::child("panic-holding-a-region");
    cmd.env("RUST_BACKTRACE", "0").env("TMPDIR", &dir);
    // Its output captured: the planted panic's message is checked here,
    // and reaches the terminal only if this test fails.
    let output = common::output_of(cmd);
    let printed = common::printed(&output);
    assert_eq!(
        output.status.code(),
        Some(101),
        "the child was meant to panic:\n{printed}"
    );
    assert!(
        printed.contains("planted: the region must still be removed while unwinding"),
        "the child failed, but not by the planted panic:\n{printed}"
    );
    assert!(entries(&dir).is_empty(), "left: {:?}", entries(&dir));
}

#[test]
fn create_in_removes_from_its_directory_even_after_a_rename() {
    let dir = private_tmpdir("cleanup-create-in");
    let dir_fd = std::fs::File::open(&dir).unwrap();
    let mem = SharedMem::temp_file_in(&dir_fd, 100).unwrap();
    assert_eq!(entries(&dir).len(), 1);
    let moved = dir.with_file_name("cleanup-create-in-moved");
    let _ = std::fs::remove_dir_all(&moved);
    std::fs::rename(&dir, &moved).unwrap();
    mem.close().unwrap();
    assert!(entries(&moved).is_empty());
}

#[test]
fn every_descriptor_is_close_on_exec() {
    let mut regions = vec![SharedMem::temp_file(64).unwrap()];
    #[cfg(target_os = "linux")]
    regions.push(SharedMem::memfd(64).unwrap());
    let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
    regions.push(SharedMem::temp_file_in(&dir, 64).unwrap());
    regions.push(SharedMem::anonymous(64).unwrap());
    regions.push(SharedMem::anonymous_in(&dir, 64).unwrap());
    for mem in &regions {
        let flags = rustix::io::fcntl_getfd(mem).unwrap();
        assert!(flags.contains(rustix::io::FdFlags::CLOEXEC), "{mem:?}");
    }
}
