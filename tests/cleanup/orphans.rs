//! Regions that cannot leak, and the clean-up of those that did, with real
//! processes: a coordinator killed with `SIGKILL` leaves nothing of its
//! `anonymous` and `anonymous_in` regions and exactly its eight named
//! ones; `remove_orphans` removes those eight and nothing else: not a live
//! process's files, not a name spelt otherwise than ours, not a directory
//! or a symbolic link named like ours.
//!
//! The children run with a private `TMPDIR` and their output captured.

use crate::common;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, ChildStdout, Output, Stdio};

use crate::common::{entries, private_tmpdir};
use fuzzshm::SharedMem;

/// Plays `role` in a child process; `false` if it is not one of this
/// file's roles.
pub fn play(role: &str) -> bool {
    match role {
        "coordinator" => coordinator(),
        "holder" => holder(),
        _ => return false,
    }
    true
}

/// What a child prints once its regions are all made. The test harness
/// may print on the same line before it (`test child_main ... `).
const READY: &str = "orphans: ready";

/// The names in `dir` that `pid` created, sorted.
fn names_of(dir: &Path, pid: u32) -> Vec<String> {
    let prefix = format!("fuzz-{pid}-");
    let mut names: Vec<String> = entries(dir)
        .into_iter()
        .filter(|name| name.starts_with(&prefix))
        .collect();
    names.sort();
    names
}

/// Eight regions of each kind that cannot leak, eight named ones, all in
/// use; says [`READY`] and waits to be killed.
fn coordinator() {
    let tmp = std::env::temp_dir();
    let dir = File::open(&tmp).unwrap();
    let mut regions = Vec::new();
    for _ in 0..8 {
        regions.push(SharedMem::anonymous(4096).unwrap());
        regions.push(SharedMem::anonymous_in(&dir, 4096).unwrap());
        regions.push(SharedMem::temp_file(4096).unwrap());
    }
    for (i, mem) in regions.iter_mut().enumerate() {
        mem.set_value(format!("region {i}").as_bytes()).unwrap();
    }
    // While alive, too, only the named regions have a name.
    assert_eq!(names_of(&tmp, std::process::id()).len(), 8);
    println!("{READY}");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}

/// Two named regions, held until the test closes this child's stdin.
fn holder() {
    let mut regions = [
        SharedMem::temp_file(4096).unwrap(),
        SharedMem::temp_file(4096).unwrap(),
    ];
    println!("{READY}");
    std::io::read_to_string(std::io::stdin()).unwrap();
    for (i, mem) in regions.iter_mut().enumerate() {
        // Still there, and still ours to write.
        mem.set_value(format!("held {i}").as_bytes()).unwrap();
    }
    for mem in regions {
        mem.close().unwrap();
    }
}

/// A child playing `role` with `TMPDIR` set to `dir`, started and ready;
/// killed if the test ends before it does.
struct Running {
    process: Child,
    stdout: BufReader<ChildStdout>,
}

impl Running {
    /// Starts the child, its output captured, and waits for [`READY`].
    fn start(role: &str, dir: &Path) -> Running {
        let mut cmd = common::child(role);
        cmd.env("TMPDIR", dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut process = cmd.spawn().unwrap();
        let stdout = BufReader::new(process.stdout.take().unwrap());
        let mut running = Running { process, stdout };
        let mut line = String::new();
        while !line.contains(READY) {
            line.clear();
            if running.stdout.read_line(&mut line).unwrap() == 0 {
                common::assert_success(&running.finish());
                panic!("the {role} ended before it was ready");
            }
        }
        running
    }

    /// Closes the child's stdin and waits for it to end.
    fn finish(mut self) -> Output {
        drop(self.process.stdin.take());
        let mut stdout = Vec::new();
        self.stdout.read_to_end(&mut stdout).unwrap();
        let mut stderr = Vec::new();
        if let Some(mut pipe) = self.process.stderr.take() {
            pipe.read_to_end(&mut stderr).unwrap();
        }
        let status = self.process.wait().unwrap();
        Output {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Reaped already (`finish`, `wait`), this sends nothing.
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// Entries under the dead coordinator's pid that are not ours to remove:
/// names spelt otherwise, a directory, symbolic links (one to a file, one
/// dangling). Returns every name planted in `dir`, sorted.
fn plant_what_is_not_ours(dir: &Path, dead: u32) -> Vec<String> {
    let files = [
        "fuzz-123".to_owned(),  // Go's os.CreateTemp("", "fuzz-*")
        format!("fuzz-{dead}"), // the same, with the dead pid for digits
        "fuzz-abc-12345678".to_owned(),
        format!("notfuzz-{dead}-12345678"),
        format!("fuzz-0{dead}-12345678"),
        format!("fuzz-{dead}-ABCDEF12"),
        format!("fuzz-{dead}-1234567"),
        format!("fuzz-{dead}-123456789"),
        format!("fuzz-{dead}-12345678.tmp"),
        "target-of-a-link".to_owned(),
    ];
    for name in &files {
        std::fs::write(dir.join(name), b"not ours").unwrap();
    }
    let directory = format!("fuzz-{dead}-0badc0de");
    std::fs::create_dir(dir.join(&directory)).unwrap();
    // Not listed, and never looked into.
    std::fs::write(
        dir.join(&directory).join(format!("fuzz-{dead}-00000001")),
        b"",
    )
    .unwrap();
    let link = format!("fuzz-{dead}-5ca1ab1e");
    std::os::unix::fs::symlink("target-of-a-link", dir.join(&link)).unwrap();
    let dangling = format!("fuzz-{dead}-deadbeef");
    std::os::unix::fs::symlink("/nonexistent/fuzz", dir.join(&dangling)).unwrap();
    let mut planted: Vec<String> = files.into_iter().collect();
    planted.extend([directory, link, dangling]);
    planted.sort();
    planted
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

#[test]
fn a_killed_coordinator_leaves_only_named_files_and_remove_orphans_takes_exactly_those() {
    let dir = private_tmpdir("orphans-killed-coordinator");
    let dir_fd = File::open(&dir).unwrap();
    let holder = Running::start("holder", &dir);
    let mut coordinator = Running::start("coordinator", &dir);
    let (dead, live) = (coordinator.process.id(), holder.process.id());

    // Both creators are alive: nothing is an orphan.
    assert_eq!(fuzzshm::remove_orphans_in(&dir_fd).unwrap(), 0);
    assert_eq!(entries(&dir).len(), 8 + 2);

    coordinator.process.kill().unwrap();
    let status = coordinator.process.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "{status}");

    // Of the coordinator's 24 regions, only the 8 named ones left a trace.
    let orphaned = names_of(&dir, dead);
    let held = names_of(&dir, live);
    assert_eq!((orphaned.len(), held.len()), (8, 2), "{:?}", entries(&dir));
    assert_eq!(entries(&dir).len(), 8 + 2, "{:?}", entries(&dir));
    for name in &orphaned {
        let size = std::fs::metadata(dir.join(name)).unwrap().len();
        assert_eq!(size, fuzzshm::region_size(4096).unwrap() as u64, "{name}");
    }

    let planted = plant_what_is_not_ours(&dir, dead);
    let kept = sorted(held.iter().chain(&planted).cloned().collect());

    // The same descriptor as the first call: each call lists the
    // directory from its first entry.
    assert_eq!(fuzzshm::remove_orphans_in(&dir_fd).unwrap(), 8);
    assert_eq!(sorted(entries(&dir)), kept);
    assert_eq!(fuzzshm::remove_orphans(&dir).unwrap(), 0);
    assert_eq!(fuzzshm::remove_orphans_in(&dir_fd).unwrap(), 0);
    assert_eq!(sorted(entries(&dir)), kept);
    let inside = dir.join(format!("fuzz-{dead}-0badc0de"));
    assert_eq!(entries(&inside).len(), 1, "looked into a directory");
    assert_eq!(
        std::fs::read(dir.join(format!("fuzz-{dead}-5ca1ab1e"))).unwrap(),
        b"not ours",
        "followed a symbolic link"
    );

    // The live holder's regions were untouched: it writes them, closes
    // them, and its files go with them.
    common::assert_success(&holder.finish());
    assert_eq!(sorted(entries(&dir)), planted);
}

#[test]
fn an_unnamed_region_has_no_name_and_can_never_be_given_one() {
    let dir = private_tmpdir("orphans-unnamed");
    let dir_fd = File::open(&dir).unwrap();
    let mut mem = SharedMem::anonymous_in(&dir_fd, 4096).unwrap();
    mem.set_value(b"input").unwrap();
    assert_eq!(rustix::fs::fstat(&mem).unwrap().st_nlink, 0);
    assert_eq!(entries(&dir), Vec::<String>::new());
    #[cfg(target_os = "linux")]
    {
        // `linkat(AT_EMPTY_PATH)` names an `O_TMPFILE` file made without
        // `O_EXCL`; ours refuses (`ENOENT`), as an unlinked file does.
        let named = rustix::fs::linkat(
            &mem,
            "",
            &dir_fd,
            "fuzz-named-later",
            rustix::fs::AtFlags::EMPTY_PATH,
        );
        assert_eq!(named, Err(rustix::io::Errno::NOENT));
    }
    assert_eq!(entries(&dir), Vec::<String>::new());
    assert_eq!(mem.value().unwrap(), b"input");
}
