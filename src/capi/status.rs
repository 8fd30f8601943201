//! The status codes: one per [`Error`] variant and three of the C ABI's
//! own, generated from the crate's status table with their messages, and
//! [`fuzzshm_strerror`], which gives them to C.

use core::ffi::{c_char, c_int};

use crate::error::{status_table, Error, Result};

/// Generates, from the status table, the `FUZZSHM_E*` constants,
/// `STATUSES` (for the tests), [`status_of`] and the messages of
/// [`fuzzshm_strerror`].
macro_rules! c_statuses {
    (
        c_only { $($c_name:ident = $c_number:literal, $c_message:literal;)* }
        errors { $($variant:ident => $name:ident = $number:literal, $message:literal;)* }
    ) => {
        $(
            #[doc = concat!("Status ", $c_number, ": ", $c_message, ".")]
            pub const $c_name: c_int = $c_number;
        )*
        $(
            #[doc = concat!(
                "Status ", $number, ": ", $message,
                " ([`Error::", stringify!($variant), "`])."
            )]
            pub const $name: c_int = $number;
        )*

        /// Every `FUZZSHM_E*` status code, by its C name, in the order of
        /// the status table; `fuzzshm_strerror` gives each one's message.
        #[cfg(test)]
        pub const STATUSES: &[(&str, c_int)] = &[
            $((stringify!($c_name), $c_name),)*
            $((stringify!($name), $name),)*
        ];

        /// The status code for an error: a `FUZZSHM_E*` code or `-errno`.
        pub(super) fn status_of(error: Error) -> c_int {
            match error {
                Error::Os { errno, .. } => -errno.raw_os_error(),
                $(Error::$variant { .. } => $name,)*
            }
        }

        /// The status table's message for a positive status, NUL-terminated.
        pub(super) fn message_of(status: c_int) -> Option<&'static str> {
            match status {
                $($c_name => Some(concat!($c_message, "\0")),)*
                $($name => Some(concat!($message, "\0")),)*
                _ => None,
            }
        }
    };
}
status_table!(c_statuses);

pub(super) fn status(result: Result<()>) -> c_int {
    result.map_or_else(status_of, |()| 0)
}

/// A static, NUL-terminated description of a status; for `-errno` it
/// names the class only (use `strerror(-status)` for the rest).
#[no_mangle]
pub extern "C" fn fuzzshm_strerror(status: c_int) -> *const c_char {
    let text = match (status, message_of(status)) {
        (0, _) => "success\0",
        (_, Some(message)) => message,
        (code, None) if code < 0 => "a system call failed; -status is its errno\0",
        (_, None) => "unknown fuzzshm status\0",
    };
    text.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeSet;

    /// `Display` starts with the message `fuzzshm_strerror` gives for the
    /// error's status: one wording, in Rust and in C.
    #[test]
    fn display_starts_with_the_c_message() {
        let errors = [
            Error::SizeOverflow { capacity: 1 },
            Error::ValueTooLarge {
                len: 2,
                capacity: 1,
            },
            Error::CorruptValueLen {
                value_len: -1,
                capacity: 1,
            },
            Error::TooSmall { size: 1, needed: 2 },
            Error::TooLarge { size: 1 },
            Error::NotRegularFile {
                mode: crate::FileMode(0o40755),
            },
            Error::NotPipe {
                fd: 3,
                mode: crate::FileMode(0),
            },
            Error::ShrinkRefused {
                capacity: 2,
                requested: 1,
            },
            Error::Misaligned { addr: 1, align: 8 },
            Error::NameCollision { attempts: 1 },
            Error::AlreadyTaken,
            Error::NotInherited { fd: 3 },
            Error::SameFd { fd: 3 },
        ];
        let codes: BTreeSet<c_int> = errors.iter().map(|&error| status_of(error)).collect();
        assert_eq!(codes.len(), STATUSES.len() - 3, "an error per code");
        for error in errors {
            let message = message_of(status_of(error)).unwrap();
            let message = message.strip_suffix('\0').unwrap();
            let shown = alloc::format!("{error}");
            assert!(shown.starts_with(message), "{shown:?} against {message:?}");
        }
    }
}
