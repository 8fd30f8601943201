//! Drives the worker processes of a `go test -c -fuzz` binary over Go's
//! worker protocol, with fuzzshm's shared memory.

/// `println!` that a closed stdout (`fuzzshm-go ... | head`) cannot turn
/// into a panic: the line is dropped and the run goes on to its end, which
/// stops its workers and writes any crasher.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

pub mod budget;
pub mod coordinator;
pub mod corpus_file;
pub mod corpus_min;
pub mod gotool;
pub mod harvest;
pub mod mutate;
pub mod rand;
pub mod value;
pub mod wire;
pub mod worker;
