//! Layout: the header's bytes where Go puts them, checked by golden bytes and
//! by Go's own compiler.

#[path = "../common/mod.rs"]
mod common;

mod go_layout;
mod layout;
