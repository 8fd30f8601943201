//! Nothing left behind and faults as errors: close, drop and panics, orphaned
//! files, rlimits and a full tmpfs, a moving temp directory.

#[path = "../common/mod.rs"]
mod common;

mod cleanup;
mod faults_limits;
mod faults_tempdir;
mod orphans;

/// The child processes' entry: `common::child` runs this binary again
/// with a role, which the file it belongs to plays.
#[test]
fn child_main() {
    common::run_child(|role| {
        let played = cleanup::play(role)
            || orphans::play(role)
            || faults_limits::play(role)
            || faults_tempdir::play(role);
        assert!(played, "unknown role {role}");
    });
}
