//! [`Error`]: every way a fuzzshm call can fail, as a value.

use core::fmt;

pub use rustix::io::Errno;

/// What went wrong, with the number that was wrong or the errno the kernel gave.
///
/// No function in this crate panics on bad input; each returns one of these.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed; `call` names it (`"mmap"`, `"openat"`, ...).
    Os {
        /// The system call that failed.
        call: &'static str,
        /// What the kernel answered.
        errno: Errno,
    },
    /// Header size plus `capacity` does not fit in the address space
    /// (`isize::MAX` bytes: the most one mapping or slice may span).
    SizeOverflow {
        /// The capacity that was asked for.
        capacity: usize,
    },
    /// A value longer than the region's capacity (Go's `setValue` panics here).
    ValueTooLarge {
        /// The length that was asked for.
        len: usize,
        /// The region's capacity.
        capacity: usize,
    },
    /// The `valueLen` stored in the header is negative or larger than the
    /// region's capacity: a corrupt or hostile peer wrote it.
    CorruptValueLen {
        /// The raw value found in the header.
        value_len: isize,
        /// The region's capacity.
        capacity: usize,
    },
    /// The file (or memory) is too small: it cannot hold the header, or it is
    /// shorter than the size asked to be mapped (touching the excess would
    /// raise `SIGBUS`).
    TooSmall {
        /// The size found.
        size: u64,
        /// The size needed.
        needed: u64,
    },
    /// The file is larger than this process can map (Go: "fuzz temp file
    /// exceeds maximum size").
    TooLarge {
        /// The size found.
        size: u64,
    },
    /// The descriptor is not a regular file or memfd (it is a directory, a
    /// pipe, a socket, a device...).
    NotRegularFile {
        /// The `st_mode` that `fstat` reported.
        mode: u32,
    },
    /// An inherited descriptor (fd 3 or 4 of a worker) is not a pipe.
    NotPipe {
        /// The descriptor number.
        fd: i32,
        /// The `st_mode` that `fstat` reported.
        mode: u32,
    },
    /// `resize` was asked to make the region smaller; regions only grow, so
    /// a peer that still maps the old size can never fault.
    ShrinkRefused {
        /// The current capacity.
        capacity: usize,
        /// The capacity that was asked for.
        requested: usize,
    },
    /// Memory handed to [`Region::from_raw_parts`](crate::Region::from_raw_parts)
    /// is not aligned for the header.
    Misaligned {
        /// The address given.
        addr: usize,
        /// The alignment the header needs.
        align: usize,
    },
    /// No free `fuzz-*` name was found in the directory after this many tries.
    NameCollision {
        /// How many names were tried.
        attempts: u32,
    },
    /// The worker's descriptors were already taken by an earlier
    /// [`WorkerComm::from_inherited`](crate::WorkerComm::from_inherited).
    AlreadyTaken,
}

/// This crate's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// The errno of an [`Error::Os`], as the raw number; `None` for the others.
    pub fn raw_os_error(&self) -> Option<i32> {
        match self {
            Error::Os { errno, .. } => Some(errno.raw_os_error()),
            _ => None,
        }
    }

    /// Builds the `map_err` adapter for a failed system call.
    pub(crate) fn os(call: &'static str) -> impl FnOnce(Errno) -> Error {
        move |errno| Error::Os { call, errno }
    }
}

/// As derived, but file modes in octal, as `Display` and `ls` show them.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NotRegularFile { mode } => f
                .debug_struct("NotRegularFile")
                .field("mode", &format_args!("{mode:#o}"))
                .finish(),
            Error::NotPipe { fd, mode } => f
                .debug_struct("NotPipe")
                .field("fd", &fd)
                .field("mode", &format_args!("{mode:#o}"))
                .finish(),
            Error::Os { call, errno } => f
                .debug_struct("Os")
                .field("call", &call)
                .field("errno", &errno)
                .finish(),
            Error::SizeOverflow { capacity } => f
                .debug_struct("SizeOverflow")
                .field("capacity", &capacity)
                .finish(),
            Error::ValueTooLarge { len, capacity } => f
                .debug_struct("ValueTooLarge")
                .field("len", &len)
                .field("capacity", &capacity)
                .finish(),
            Error::CorruptValueLen {
                value_len,
                capacity,
            } => f
                .debug_struct("CorruptValueLen")
                .field("value_len", &value_len)
                .field("capacity", &capacity)
                .finish(),
            Error::TooSmall { size, needed } => f
                .debug_struct("TooSmall")
                .field("size", &size)
                .field("needed", &needed)
                .finish(),
            Error::TooLarge { size } => f.debug_struct("TooLarge").field("size", &size).finish(),
            Error::ShrinkRefused {
                capacity,
                requested,
            } => f
                .debug_struct("ShrinkRefused")
                .field("capacity", &capacity)
                .field("requested", &requested)
                .finish(),
            Error::Misaligned { addr, align } => f
                .debug_struct("Misaligned")
                .field("addr", &format_args!("{addr:#x}"))
                .field("align", &align)
                .finish(),
            Error::NameCollision { attempts } => f
                .debug_struct("NameCollision")
                .field("attempts", &attempts)
                .finish(),
            Error::AlreadyTaken => f.write_str("AlreadyTaken"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::Os { call, errno } => write!(f, "{call} failed: {errno}"),
            Error::SizeOverflow { capacity } => {
                write!(
                    f,
                    "a region of capacity {capacity} does not fit in the address space"
                )
            }
            Error::ValueTooLarge { len, capacity } => {
                write!(
                    f,
                    "value of {len} bytes exceeds the capacity of {capacity} bytes"
                )
            }
            Error::CorruptValueLen {
                value_len,
                capacity,
            } => write!(
                f,
                "corrupt valueLen {value_len} in the header (capacity {capacity})"
            ),
            Error::TooSmall { size, needed } => {
                write!(f, "size {size} is too small: {needed} bytes needed")
            }
            Error::TooLarge { size } => {
                write!(f, "file of {size} bytes exceeds the maximum mappable size")
            }
            Error::NotRegularFile { mode } => {
                write!(f, "not a regular file or memfd (st_mode {mode:#o})")
            }
            Error::NotPipe { fd, mode } => write!(f, "fd {fd} is not a pipe (st_mode {mode:#o})"),
            Error::ShrinkRefused {
                capacity,
                requested,
            } => write!(
                f,
                "cannot shrink a region from capacity {capacity} to {requested}"
            ),
            Error::Misaligned { addr, align } => {
                write!(f, "address {addr:#x} is not aligned to {align} bytes")
            }
            Error::NameCollision { attempts } => {
                write!(f, "no free fuzz-* name after {attempts} attempts")
            }
            Error::AlreadyTaken => {
                f.write_str("the worker's inherited descriptors were already taken")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

#[cfg(feature = "std")]
impl From<Error> for std::io::Error {
    fn from(error: Error) -> Self {
        match error {
            Error::Os { errno, .. } => errno.into(),
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}
