//! Drives the worker processes of a `go test -c -fuzz` binary over Go's
//! worker protocol, with fuzzshm's shared memory.

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
