//! The C ABI, from C: `include/fuzzshm.h` compiled by the C compiler and
//! checked number by number against the crate (the handle's size, which
//! the crate keeps private, by the unit tests of `src/capi/handle.rs`), and a C coordinator and a C
//! worker (`tests/c/pair.c`) in two processes, and `fuzzshm_spawn`
//! (`tests/c/spawn.c`), plain and under AddressSanitizer, linked against the static
//! library built as the README says (`--no-default-features --features
//! capi`, `panic = "abort"`), for the target these tests run on.
//!
//! Needs `--features capi` (`.ci/test` passes it) and a C compiler (`cc`,
//! or `$CC`).
#![cfg(feature = "capi")]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{c_char, c_int, CStr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use fuzzshm::{offsets, HEADER_SIZE};

mod common;

// The C ABI as the Rust library exports it too (`#[no_mangle]` functions of
// a private module), declared as `include/fuzzshm.h` declares it.
extern "C" {
    fn fuzzshm_strerror(status: c_int) -> *const c_char;
}

/// [`fuzzshm_strerror`]'s message for `status`.
fn strerror(status: c_int) -> &'static str {
    // SAFETY: `fuzzshm_strerror` takes any number.
    let message = unsafe { fuzzshm_strerror(status) };
    // SAFETY: `fuzzshm_strerror` returns a static, NUL-terminated string.
    let message = unsafe { CStr::from_ptr(message) };
    message.to_str().unwrap()
}

const TARGET: &str = env!("FUZZSHM_TARGET");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const SCRATCH: &str = env!("CARGO_TARGET_TMPDIR");

fn root(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

fn scratch(path: &str) -> PathBuf {
    Path::new(SCRATCH).join("capi").join(path)
}

/// The C compiler for this target; `c++` for the C++ check.
fn compiler(cxx: bool) -> Command {
    let (var, default) = if cxx { ("CXX", "c++") } else { ("CC", "cc") };
    let mut command = Command::new(std::env::var(var).unwrap_or_else(|_| default.into()));
    command.arg(format!("-I{ROOT}/include"));
    command.args(["-Wall", "-Wextra", "-Werror"]);
    if cfg!(all(target_arch = "x86", target_pointer_width = "32")) {
        command.arg("-m32");
    }
    command
}

/// Runs a test program to success, within [`common::WAIT_BOUND`], and
/// returns its standard output.
fn run(command: &mut Command) -> String {
    run_within(command, common::WAIT_BOUND)
}

/// Runs a compiler to success, within [`common::BUILD_BOUND`].
fn build(command: &mut Command) {
    run_within(command, common::BUILD_BOUND);
}

fn run_within(command: &mut Command, bound: std::time::Duration) -> String {
    String::from_utf8(common::succeeded_within(command, bound).stdout).expect("UTF-8 output")
}

/// The staticlib, built once per test run, for this target.
fn staticlib() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let target_dir = scratch("build");
        build(
            Command::new(option_env!("CARGO").unwrap_or("cargo"))
                .current_dir(ROOT)
                .args(["rustc", "--quiet", "--lib", "--profile", "capi"])
                .args(["--no-default-features", "--features", "capi"])
                .args(["--crate-type", "staticlib", "--target", TARGET])
                .arg("--target-dir")
                .arg(&target_dir)
                // A sanitizer's flags for the tests would demand its runtime
                // from a C program that does not link it.
                .env_remove("RUSTFLAGS")
                .env_remove("CARGO_ENCODED_RUSTFLAGS"),
        );
        target_dir.join(TARGET).join("capi").join("libfuzzshm.a")
    })
}

/// `tests/c/<name>.c` compiled (and linked with the staticlib if `link`).
fn c_program(name: &str, link: bool) -> PathBuf {
    c_program_with(name, link, &[])
}

/// [`c_program`] with extra compiler flags, built as `<name><flags>`.
fn c_program_with(name: &str, link: bool, flags: &[&str]) -> PathBuf {
    let exe = scratch(&format!("{name}{}", flags.concat()));
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    let mut command = compiler(false);
    command
        .arg("-std=c11")
        .args(flags)
        .arg(root(&format!("tests/c/{name}.c")));
    if link {
        command.arg(staticlib()).arg("-lpthread");
    }
    build(command.arg("-o").arg(&exe));
    exe
}

/// Every `#define FUZZSHM_*` number in the header, by name without prefix.
fn header_numbers() -> BTreeMap<String, i64> {
    let header = std::fs::read_to_string(root("include/fuzzshm.h")).unwrap();
    header
        .lines()
        .filter_map(|line| line.strip_prefix("#define FUZZSHM_"))
        .filter_map(|rest| {
            let (name, value) = rest.split_once(' ')?;
            let value = value.split_whitespace().next()?;
            Some((name.to_owned(), value.parse::<i64>().ok()?))
        })
        .collect()
}

#[test]
fn header_numbers_and_layout_match_the_crate() {
    let printed: BTreeMap<String, i64> = run(&mut Command::new(c_program("layout", false)))
        .lines()
        .map(|line| {
            let (name, value) = line.rsplit_once(' ').unwrap();
            (name.to_owned(), value.parse().unwrap())
        })
        .collect();
    let usize = |n: usize| i64::try_from(n).unwrap();
    let defined = header_numbers();
    let expected: BTreeMap<&str, i64> = [
        ("HEADER_SIZE", usize(HEADER_SIZE)),
        ("sizeof(fuzzshm_header_t)", usize(HEADER_SIZE)),
        ("OFFSET_COUNT", usize(offsets::COUNT)),
        ("OFFSET_VALUE_LEN", usize(offsets::VALUE_LEN)),
        ("OFFSET_RAND_STATE", usize(offsets::RAND_STATE)),
        ("OFFSET_RAND_INC", usize(offsets::RAND_INC)),
        ("OFFSET_RAW_IN_MEM", usize(offsets::RAW_IN_MEM)),
        ("sizeof(value_len)", usize(size_of::<isize>())),
        // The handle's storage as the header defines it (`FUZZSHM_ALIGN_8`
        // for the alignment); src/capi/handle.rs checks that against the
        // crate's handle.
        ("HANDLE_SIZE", defined["HANDLE_SIZE"]),
        ("sizeof(fuzzshm_t)", defined["HANDLE_SIZE"]),
        ("alignof(fuzzshm_t)", 8),
        ("FUZZ_IN_FD", fuzzshm::FUZZ_IN_FD.into()),
        ("FUZZ_OUT_FD", fuzzshm::FUZZ_OUT_FD.into()),
        ("MEM_FD", fuzzshm::MEM_FD.into()),
    ]
    .into_iter()
    // Every status code, as the header numbers it (the test below checks
    // each against the library's message for that number).
    .chain(
        defined
            .iter()
            .filter_map(|(name, &number)| name.starts_with('E').then_some((name.as_str(), number))),
    )
    .collect();
    for (name, value) in &expected {
        assert_eq!(printed.get(*name), Some(value), "{name}: C against Rust");
    }
    // No number in the header escapes the comparison above.
    for name in defined.keys() {
        assert!(
            expected.contains_key(name.as_str()),
            "FUZZSHM_{name} is in fuzzshm.h but not compared with the crate"
        );
    }
    assert_eq!(printed.len(), expected.len(), "layout.c prints {printed:?}");
}

/// The status table as `fuzzshm.h` writes it: each `#define FUZZSHM_E*`
/// line's name, number and comment, in the header's order.
fn header_statuses() -> Vec<(String, i32, String)> {
    let header = std::fs::read_to_string(root("include/fuzzshm.h")).unwrap();
    header
        .lines()
        .filter(|line| line.starts_with("#define FUZZSHM_E"))
        .map(|line| {
            let line = line.strip_prefix("#define ").unwrap();
            let (name, rest) = line.split_once(' ').unwrap();
            let (number, comment) = rest.split_once(' ').unwrap();
            let comment = comment.trim_start().strip_prefix("/* ");
            let comment = comment.and_then(|comment| comment.strip_suffix(" */"));
            let comment = comment.unwrap_or_else(|| panic!("{name}: no /* comment */"));
            (name.to_owned(), number.parse().unwrap(), comment.to_owned())
        })
        .collect()
}

/// The header's status codes are the library's, through the symbol a C
/// program links: each comment is `fuzzshm_strerror`'s message for its
/// number, and every other positive number is unknown to the library.
#[test]
fn header_status_codes_and_comments_are_the_status_table() {
    let statuses = header_statuses();
    for (name, number, comment) in &statuses {
        assert_eq!(strerror(*number), comment, "{name}");
    }
    // Numbers are distinct and positive (0 is success, negatives -errno).
    let numbers: BTreeSet<i32> = statuses.iter().map(|&(_, number, _)| number).collect();
    assert_eq!(numbers.len(), statuses.len());
    assert!(numbers.iter().all(|&number| number > 0));
    // No status of the library is missing from the header.
    for number in (1..=1000).filter(|number| !numbers.contains(number)) {
        assert_eq!(
            strerror(number),
            "unknown fuzzshm status",
            "status {number}"
        );
    }
}

/// The function names a text declares: the identifier before each `(` of
/// a line that `declares` picks.
fn names(text: &str, declares: impl Fn(&str) -> bool) -> BTreeSet<String> {
    text.lines()
        .filter(|line| declares(line))
        .filter_map(|line| {
            let before = &line[..line.find('(')?];
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            Some(before[start..].to_owned())
        })
        .collect()
}

#[test]
fn header_declares_exactly_the_exported_functions() {
    let header = std::fs::read_to_string(root("include/fuzzshm.h")).unwrap();
    let declared = names(&header, |line| {
        !line.starts_with([' ', '#', '/', 'F']) && line.contains("fuzzshm_") && line.ends_with(");")
    });
    let mut exported = BTreeSet::new();
    for file in std::fs::read_dir(root("src/capi")).unwrap() {
        let rust = std::fs::read_to_string(file.unwrap().path()).unwrap();
        exported.extend(names(&rust, |line| {
            line.contains("extern \"C\" fn fuzzshm_")
        }));
    }
    assert_eq!(declared, exported);
    for returns_each_type in ["fuzzshm_region_size", "fuzzshm_header", "fuzzshm_strerror"] {
        assert!(declared.contains(returns_each_type), "{returns_each_type}");
    }
}

#[test]
fn header_compiles_as_cxx() {
    build(
        compiler(true)
            .args(["-std=c++11", "-x", "c++", "-fsyntax-only"])
            .arg(root("include/fuzzshm.h")),
    );
}

#[test]
fn header_compiles_as_c99_pedantic() {
    // The header alone, and a program including it, without C11.
    build(
        compiler(false)
            .args(["-std=c99", "-pedantic", "-x", "c", "-fsyntax-only"])
            .arg(root("include/fuzzshm.h")),
    );
    let exe = scratch("c99");
    std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
    build(
        compiler(false)
            .args(["-std=c99", "-pedantic"])
            .arg(root("tests/c/c99.c"))
            .arg("-o")
            .arg(&exe),
    );
    let output = run(&mut Command::new(exe));
    assert_eq!(
        output,
        format!(
            "c99: size {} alignment 8\n",
            header_numbers()["HANDLE_SIZE"]
        )
    );
}

/// `tests/c/pair.c`, linked once for every backing.
fn pair() -> &'static Path {
    static PAIR: OnceLock<PathBuf> = OnceLock::new();
    PAIR.get_or_init(|| c_program("pair", true))
}

/// Runs a C test program with a TMPDIR of its own: it must succeed, say
/// `ok_line`, and leave nothing in that TMPDIR (regions removed on close,
/// or never named).
fn passes_leaving_nothing(program: &mut Command, ok_line: &str) {
    let dir = tempfile::tempdir().unwrap();
    let output = run(program.env("TMPDIR", dir.path()));
    assert!(output.contains(ok_line), "{output}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left in TMPDIR: {left:?}");
}

#[test]
fn c_coordinator_and_worker_over_a_memfd() {
    passes_leaving_nothing(Command::new(pair()).arg("memfd"), "pair memfd: ok");
}

#[test]
fn c_coordinator_and_worker_over_an_anonymous_region() {
    passes_leaving_nothing(Command::new(pair()).arg("anonymous"), "pair anonymous: ok");
}

#[test]
fn c_coordinator_and_worker_over_a_temp_file() {
    passes_leaving_nothing(Command::new(pair()).arg("temp"), "pair temp: ok");
}

#[test]
fn c_worker_comm_refuses_a_bad_fd_5_and_leaves_fds_3_4_5_untaken() {
    passes_leaving_nothing(&mut Command::new(c_program("inherit", true)), "inherit: ok");
}

#[test]
fn c_handles_copied_refused_or_misused_harm_nothing() {
    passes_leaving_nothing(&mut Command::new(c_program("handles", true)), "handles: ok");
}

#[test]
fn a_c_target_reading_past_its_input_is_reported_under_asan_and_only_then() {
    // Without ASan: the byte is mapped, the read goes unreported.
    let plain = run(&mut Command::new(c_program("overread", true)));
    assert!(plain.contains("poisoning 0"), "{plain}");
    assert!(plain.contains("unreported"), "{plain}");

    // With ASan in the program, the library finds its runtime and poisons.
    let mut asan = Command::new(c_program_with("overread", true, &["-fsanitize=address"]));
    asan.env("ASAN_OPTIONS", "detect_leaks=0");
    let output = common::output_of(asan);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let address = stdout
        .lines()
        .find_map(|line| line.strip_prefix("reading "))
        .unwrap_or_else(|| panic!("no address in {stdout}\n{stderr}"));
    assert!(stdout.contains("poisoning 1"), "{stdout}");
    assert!(!output.status.success(), "not reported:\n{stdout}");
    assert!(stderr.contains("use-after-poison"), "{stderr}");
    assert!(
        stderr.contains(&format!("READ of size 1 at {address}")),
        "the report is not about {address}:\n{stderr}"
    );
}

#[test]
fn a_forked_c_child_closing_its_copy_leaves_the_parents_file() {
    passes_leaving_nothing(
        &mut Command::new(c_program("forkclose", true)),
        "forkclose: ok",
    );
}

#[test]
fn c_spawn_places_the_worker_s_fds_keeps_no_stray_end_and_hands_the_region_back() {
    passes_leaving_nothing(&mut Command::new(c_program("spawn", true)), "spawn: ok");
}

#[test]
fn c_spawn_under_asan() {
    let exe = c_program_with("spawn", true, &["-fsanitize=address"]);
    let mut program = Command::new(exe);
    program.env("ASAN_OPTIONS", "detect_leaks=0");
    passes_leaving_nothing(&mut program, "spawn: ok");
}

/// `tests/c/forkserver.c`, with and without ASan: children forked while a
/// thread reads a value a peer process keeps resizing never wait on the
/// poisoning. The program bounds each child's wait itself; the whole run
/// is bounded here too, and killed past it.
#[test]
fn a_c_fork_server_child_never_waits_on_the_poisoning() {
    const BOUND: std::time::Duration = std::time::Duration::from_secs(300);
    for flags in [&[][..], &["-fsanitize=address"]] {
        let log = tempfile::tempfile().unwrap();
        let mut child = Command::new(c_program_with("forkserver", true, flags))
            .env("ASAN_OPTIONS", "detect_leaks=0")
            .stdout(log.try_clone().unwrap())
            .stderr(log.try_clone().unwrap())
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > BOUND {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("forkserver {flags:?}: did not exit within {BOUND:?}, killed");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        };
        let mut printed = String::new();
        let mut log = log;
        std::io::Seek::rewind(&mut log).unwrap();
        std::io::Read::read_to_string(&mut log, &mut printed).unwrap();
        assert!(
            status.success(),
            "forkserver {flags:?}: {status}\n{printed}"
        );
        assert!(
            printed.contains("forks, ok"),
            "forkserver {flags:?}:\n{printed}"
        );
    }
}
