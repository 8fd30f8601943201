//! What the fuzz targets share: the model (`tests/model`, which
//! `tests/region_model.rs` runs under Miri too) and the backings a region
//! can have.
#![allow(dead_code)] // each target takes the part it needs

#[path = "../../tests/model/mod.rs"]
pub mod model;

use arbitrary::Arbitrary;
use fuzzshm::{region_size, SharedMem};

use model::{Heap, Mapped, Subject};

/// Where a region's memory comes from.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Backing {
    /// `Region::from_raw_parts` over a heap buffer (no system call).
    Heap,
    /// `SharedMem::memfd`: sealed anonymous memory.
    Memfd,
    /// `SharedMem::temp_file`: a `fuzz-*` file in the temp directory.
    TempFile,
    /// `SharedMem::temp_file_in` the temp directory, given as a descriptor.
    CreateIn,
    /// `SharedMem::map_file` of a file someone else created (and removed).
    MapFile,
    /// `SharedMem::from_fd`: the whole file, sized by `fstat`, as a worker
    /// maps its fd 5.
    FromFd,
}

impl Backing {
    /// Every backing, for targets that try them all.
    pub const ALL: [Backing; 6] = [
        Backing::Heap,
        Backing::Memfd,
        Backing::TempFile,
        Backing::CreateIn,
        Backing::MapFile,
        Backing::FromFd,
    ];

    /// A fresh, zeroed region with `capacity` value bytes. A mapped one
    /// comes with a peer's second mapping of the same descriptor.
    pub fn open(self, capacity: usize) -> Box<dyn Subject> {
        let mem = match self {
            Backing::Heap => return Box::new(Heap::new(capacity)),
            Backing::Memfd => SharedMem::memfd(capacity),
            Backing::TempFile => SharedMem::temp_file(capacity),
            Backing::CreateIn => {
                let dir = std::fs::File::open(std::env::temp_dir()).expect("the temp dir");
                SharedMem::temp_file_in(&dir, capacity)
            }
            Backing::MapFile | Backing::FromFd => {
                // The creator's file is removed when it closes; the
                // duplicate descriptor keeps it alive for the mapping.
                let creator = SharedMem::temp_file(capacity).expect("a temp file");
                let fd = fuzzshm::AsFd::as_fd(&creator)
                    .try_clone_to_owned()
                    .expect("dup");
                assert_eq!(creator.close(), Ok(()));
                // SAFETY: the creator's mapping is gone with it, so this is
                // the file's only mapping; `Mapped::new` adds the peer's.
                unsafe {
                    match self {
                        Backing::MapFile => SharedMem::map_file(fd, region_size(capacity).unwrap()),
                        _ => SharedMem::from_fd(fd),
                    }
                }
            }
        };
        Box::new(Mapped::new(mem.expect("the region")))
    }
}
