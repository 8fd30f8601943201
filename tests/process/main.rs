//! Coordinator and worker across real processes: Go's fds, spawning, faults
//! of the fds, crash consistency under SIGKILL, `count` under load, threads.

#[path = "../common/mod.rs"]
mod common;

mod count_load;
mod crash;
mod faults_worker;
mod spawn;
mod threads;
mod worker_comm;

/// The child processes' entry: `common::child` runs this binary again
/// with a role, which the file it belongs to plays.
#[test]
fn child_main() {
    common::run_child(|role| {
        let played = worker_comm::play(role)
            || spawn::play(role)
            || faults_worker::play(role)
            || crash::play(role)
            || count_load::play(role);
        assert!(played, "unknown role {role}");
    });
}
