//! [`Error`]: every way a fuzzshm call can fail, as a value.

use core::fmt;

pub use rustix::io::Errno;

/// What went wrong, with the number that was wrong or the errno the kernel gave.
///
/// No function in this crate panics on bad input; each returns one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A system call failed, or was refused before it was made with the
    /// errno the kernel would have given: `EBADF` for a negative
    /// descriptor, `ftruncate`'s `EFBIG` for a size past `RLIMIT_FSIZE`
    /// (where the kernel would raise `SIGXFSZ` first).
    Os {
        /// The system call: `"mmap"`, `"openat"`, or with the argument
        /// that tells it apart (`"fcntl(F_SETFD)"`, `"openat($TMPDIR/fuzz-*)"`).
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
        mode: FileMode,
    },
    /// A worker's `fuzz_in` or `fuzz_out` descriptor (fd 3 or 4 when
    /// inherited) is neither a pipe nor a socket.
    NotPipe {
        /// The descriptor number.
        fd: i32,
        /// The `st_mode` that `fstat` reported.
        mode: FileMode,
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
    /// A descriptor a worker inherits (fd 3, 4 or 5) is not open: the
    /// process was not started by a coordinator
    /// ([`WorkerComm::from_inherited`](crate::WorkerComm::from_inherited)).
    NotInherited {
        /// The descriptor number.
        fd: i32,
    },
    /// One descriptor was given for two of a worker's three
    /// ([`WorkerComm::from_raw_fds`](crate::WorkerComm::from_raw_fds)): it
    /// would have two owners, and be closed twice.
    SameFd {
        /// The descriptor number.
        fd: i32,
    },
}

/// A file's `st_mode` (type and permissions), shown in octal as `ls` and
/// `stat` show it: `0o40755` is a directory.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileMode(pub u32);

impl fmt::Debug for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#o}", self.0)
    }
}

impl fmt::Display for FileMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// This crate's result type.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl Error {
    /// The errno of an [`Error::Os`], as the raw number; `None` for the others.
    #[must_use]
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

/// The status table: every `FUZZSHM_E*` code of the C ABI, its number and
/// its one-line message, written once. It calls `$then!` with the table,
/// so that each user generates what it needs from the same rows: this
/// module the messages `Display` starts with, `capi` the C constants,
/// `status_of`, `fuzzshm_strerror` and the list the tests compare with
/// `include/fuzzshm.h` (whose `#define`s and comments must match it).
///
/// `c_only` rows have no [`Error`] variant; `errors` rows map a variant to
/// its code. [`Error::Os`] has no row: its status is `-errno`. The numbers
/// are ABI: never change or reuse one.
macro_rules! status_table {
    ($then:ident) => {
        $then! {
            c_only {
                FUZZSHM_ENULL = 1, "a required pointer is null";
                FUZZSHM_ECLOSED = 2, "the handle is not open";
                FUZZSHM_EOPEN = 14, "the handle is already open: close it first";
            }
            errors {
                SizeOverflow => FUZZSHM_ESIZE_OVERFLOW = 3,
                    "the region would not fit in the address space";
                ValueTooLarge => FUZZSHM_EVALUE_TOO_LARGE = 4,
                    "the value exceeds the region's capacity";
                CorruptValueLen => FUZZSHM_ECORRUPT_VALUE_LEN = 5,
                    "the header's valueLen is negative or beyond the capacity";
                TooSmall => FUZZSHM_ETOO_SMALL = 6,
                    "the file is too small for the header or the size asked";
                TooLarge => FUZZSHM_ETOO_LARGE = 7,
                    "the file is larger than this process can map";
                NotRegularFile => FUZZSHM_ENOT_REGULAR_FILE = 8,
                    "the descriptor is not a regular file or memfd";
                NotPipe => FUZZSHM_ENOT_PIPE = 9,
                    "an inherited descriptor is not a pipe or socket";
                ShrinkRefused => FUZZSHM_ESHRINK = 10,
                    "regions never shrink";
                Misaligned => FUZZSHM_EMISALIGNED = 11,
                    "the memory is not aligned for the header";
                NameCollision => FUZZSHM_ENAME_COLLISION = 12,
                    "no free fuzz-* file name";
                AlreadyTaken => FUZZSHM_EALREADY_TAKEN = 13,
                    "the worker's descriptors were already taken";
                NotInherited => FUZZSHM_ENOT_INHERITED = 15,
                    "an inherited descriptor is not open";
                SameFd => FUZZSHM_ESAME_FD = 16,
                    "one descriptor was given twice";
            }
        }
    };
}
#[cfg(feature = "capi")]
pub(crate) use status_table;

/// Generates [`Error::summary`] from the status table.
macro_rules! summaries {
    (
        c_only { $($_c_name:ident = $_c_number:literal, $_c_message:literal;)* }
        errors { $($variant:ident => $_name:ident = $_number:literal, $message:literal;)* }
    ) => {
        impl Error {
            /// The status table's one-line message for this error, which
            /// `Display` starts with and the C `fuzzshm_strerror` returns;
            /// for [`Error::Os`], the class only (`Display` names the call).
            fn summary(&self) -> &'static str {
                match self {
                    Error::Os { .. } => "a system call failed",
                    $(Error::$variant { .. } => $message,)*
                }
            }
        }
    };
}
status_table!(summaries);

/// The status table's message, then what this instance holds; an
/// [`Error::Os`] names its call and errno instead.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let summary = self.summary();
        match *self {
            Error::Os { call, errno } => write!(f, "{call} failed: {errno}"),
            Error::SizeOverflow { capacity } => write!(f, "{summary} (capacity {capacity})"),
            Error::ValueTooLarge { len, capacity } => {
                write!(f, "{summary}: {len} bytes, capacity {capacity}")
            }
            Error::CorruptValueLen {
                value_len,
                capacity,
            } => write!(f, "{summary}: valueLen {value_len}, capacity {capacity}"),
            Error::TooSmall { size, needed } => {
                write!(f, "{summary}: {size} bytes, {needed} needed")
            }
            Error::TooLarge { size } => write!(f, "{summary}: {size} bytes"),
            Error::NotRegularFile { mode } => write!(f, "{summary} (st_mode {mode})"),
            Error::NotPipe { fd, mode } => write!(f, "{summary}: fd {fd} (st_mode {mode})"),
            Error::ShrinkRefused {
                capacity,
                requested,
            } => write!(f, "{summary}: capacity {capacity}, {requested} asked"),
            Error::Misaligned { addr, align } => {
                write!(f, "{summary}: address {addr:#x}, alignment {align}")
            }
            Error::NameCollision { attempts } => write!(f, "{summary} after {attempts} attempts"),
            Error::AlreadyTaken => f.write_str(summary),
            Error::NotInherited { fd } => write!(
                f,
                "{summary}: fd {fd} (was this process started by a coordinator?)"
            ),
            Error::SameFd { fd } => write!(f, "{summary}: fd {fd}"),
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
