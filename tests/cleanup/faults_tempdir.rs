//! The temp directory moves under a long-lived process: removed and
//! re-created, renamed, a relative `TMPDIR` after a `chdir`, an empty
//! `TMPDIR`. `temp_file` must follow what `TMPDIR` names at each call, or
//! fail with a clear error; never create in a stale directory. Each case
//! runs in a child process, which changes its own environment and working
//! directory.

use crate::common;

use std::path::{Path, PathBuf};

use crate::common::{entries, path_of, private_tmpdir};
use fuzzshm::{Error, SharedMem};
use rustix::io::Errno;

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "moving-temp-dir" => moving_temp_dir(),
        "relative-temp-dir" => relative_temp_dir(),
        "empty-temp-dir" => empty_temp_dir(),
        _ => return false,
    }
    true
}

/// Creates a region and checks its file is in `dir` (by the directory's
/// current path) and removed from there on close.
fn lands_in(dir: &Path) {
    let mem = SharedMem::temp_file(64).unwrap();
    let path = path_of(&mem);
    assert_eq!(path.parent().unwrap(), dir.canonicalize().unwrap());
    assert_eq!(entries(dir).len(), 1, "{:?}", entries(dir));
    mem.close().unwrap();
    assert!(entries(dir).is_empty(), "left: {:?}", entries(dir));
}

fn moving_temp_dir() {
    let dir = std::env::temp_dir();
    lands_in(&dir);

    // Removed and re-created: the new directory.
    std::fs::remove_dir(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    lands_in(&dir);

    // Renamed away: a clear error while nothing is there...
    let moved = dir.with_extension("moved");
    let _ = std::fs::remove_dir_all(&moved);
    std::fs::rename(&dir, &moved).unwrap();
    match SharedMem::temp_file(64) {
        Err(Error::Os { call, errno }) => {
            assert_eq!(errno, Errno::NOENT);
            assert!(call.contains("$TMPDIR"), "{call}");
        }
        other => panic!("expected ENOENT for a missing TMPDIR, got {other:?}"),
    }
    // ...and nothing in the renamed directory, ever.
    std::fs::create_dir(&dir).unwrap();
    lands_in(&dir);
    assert!(entries(&moved).is_empty(), "{:?}", entries(&moved));
    std::fs::remove_dir(&moved).unwrap();

    // A region created before the move is removed by path, as Go's is:
    // the directory moved away, so `close` reports that it could not.
    let held = SharedMem::temp_file(64).unwrap();
    std::fs::rename(&dir, &moved).unwrap();
    std::fs::create_dir(&dir).unwrap();
    match held.close() {
        Err(Error::Os { call, errno }) => assert_eq!((call, errno), ("unlinkat", Errno::NOENT)),
        other => panic!("expected ENOENT from unlinkat, got {other:?}"),
    }
    assert_eq!(entries(&moved).len(), 1, "{:?}", entries(&moved));
    lands_in(&dir);
}

fn relative_temp_dir() {
    let base = std::env::temp_dir();
    for side in ["one", "two"] {
        std::fs::create_dir_all(base.join(side).join("tmp")).unwrap();
    }
    std::env::set_var("TMPDIR", "tmp");
    for side in ["one", "two", "one"] {
        std::env::set_current_dir(base.join(side)).unwrap();
        lands_in(&base.join(side).join("tmp"));
    }
}

fn empty_temp_dir() {
    let mem = SharedMem::temp_file(64).expect("an empty TMPDIR is /tmp");
    assert_eq!(path_of(&mem).parent().unwrap(), Path::new("/tmp"));
}

fn run(role: &str, tmpdir: impl AsRef<std::ffi::OsStr>) {
    let mut cmd = common::child(role);
    cmd.env("TMPDIR", tmpdir);
    common::assert_success(&common::output_of(cmd));
}

#[test]
fn temp_file_follows_a_temp_dir_that_is_removed_re_created_or_renamed() {
    let dir: PathBuf = private_tmpdir("faults-moving-temp-dir").join("tmp");
    std::fs::create_dir(&dir).unwrap();
    run("moving-temp-dir", &dir);
}

#[test]
fn temp_file_resolves_a_relative_tmpdir_at_each_call() {
    let base = private_tmpdir("faults-relative-temp-dir");
    run("relative-temp-dir", &base);
}

#[test]
fn an_empty_tmpdir_is_tmp() {
    run("empty-temp-dir", "");
}
