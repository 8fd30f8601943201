//! Real child processes for the multi-process tests: a test binary runs
//! again as a child, with a role in the environment, and the child's
//! `#[test] fn child_main` dispatches on it.
//!
//! Each test file that spawns children declares:
//!
//! ```ignore
//! #[test]
//! fn child_main() {
//!     common::run_child(|role| match role {
//!         "worker" => worker(),
//!         other => panic!("unknown role {other}"),
//!     });
//! }
//! ```
#![allow(dead_code)] // each test file uses the part it needs

use std::process::Command;

/// The environment variable that carries a child's role.
const ROLE_VAR: &str = "FUZZSHM_TEST_ROLE";

/// A command that runs this test binary again as a child playing `role`.
/// Its stdout and stderr are inherited, so its failures show in the log.
pub fn child(role: &str) -> Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args(["--exact", "child_main", "--nocapture", "--test-threads=1"])
        .env(ROLE_VAR, role);
    cmd
}

/// In a child, runs `body` with its role and exits: status 0, or 101 if it
/// panicked (after unwinding, so destructors ran). The child never reaches
/// the test harness's summary, which would mix with the parent's. In the
/// parent's own test run, does nothing.
pub fn run_child(body: impl FnOnce(&str) + std::panic::UnwindSafe) {
    if let Ok(role) = std::env::var(ROLE_VAR) {
        let outcome = std::panic::catch_unwind(|| body(&role));
        std::process::exit(if outcome.is_ok() { 0 } else { 101 });
    }
}
