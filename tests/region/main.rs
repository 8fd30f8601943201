//! A region and its backings in one process: hostile headers, every bad
//! input, memfd seals, resize across processes, memory, leaks.

#[path = "../common/mod.rs"]
mod common;
#[path = "../model/mod.rs"]
mod model;

mod bad_input;
mod hostile_peer;
mod leaks;
mod memfd;
mod memory;
mod resize;

/// The child processes' entry: `common::child` runs this binary again
/// with a role, which the file it belongs to plays.
#[test]
fn child_main() {
    common::run_child(|role| {
        let played = bad_input::play(role) || resize::play(role) || leaks::play(role);
        assert!(played, "unknown role {role}");
    });
}
