//! `fuzzshm-go`: `go test -fuzz`, with fuzzshm's coordinator.

fn main() {}
