//! The model a region is checked against, shared by `tests/region_model.rs`
//! (a `Region` over a heap buffer, run under Miri) and the fuzz targets in
//! `fuzz/` (real mappings, run under libFuzzer), so both drive the same
//! operations and the same hostile headers.
//!
//! The model is the region as plain bytes: the header bytes and the value
//! area. [`apply`] performs an [`Op`] on a region and on the model, checking
//! the operation's own answer; [`check`] then compares every read API with
//! what the model's bytes say. Any difference panics, which is a failed test
//! or a fuzzer crash.
#![allow(dead_code)] // each user takes the part it needs

use std::mem::size_of;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use arbitrary::Arbitrary;
use fuzzshm::{offsets, AsFd, Error, Region, Result, SharedMem, HEADER_SIZE};

/// The 64-bit header's size; a 32-bit header uses the first 32 of these bytes.
pub const MAX_HEADER: usize = 40;

/// Capacities stay below this, so every step can compare the whole value
/// area cheaply.
pub const MAX_CAPACITY: usize = 8 << 10;

/// One step a coordinator, a worker, or a hostile peer may take.
#[derive(Arbitrary, Debug, Clone)]
pub enum Op {
    /// `set_value(bytes)`: refused when longer than the capacity.
    SetValue(Vec<u8>),
    /// `set_value_len(len % (capacity + 2))`: so both the lengths that fit
    /// and the first one that does not (refused) are common.
    SetValueLen(u16),
    /// One byte written through `value_mut()`, at `at` modulo its length.
    WriteValue { at: u16, byte: u8 },
    /// One byte written through `value_buffer_mut()` (the whole capacity).
    WriteBuffer { at: u16, byte: u8 },
    /// `count().fetch_add(n)`: the worker counting executions.
    AddCount(i64),
    /// `count().store(n)`: the coordinator resetting it.
    StoreCount(i64),
    /// `set_rand_state(word)`.
    SetRandState(u64),
    /// `set_rand_inc(word)`.
    SetRandInc(u64),
    /// `set_raw_in_mem(raw)`.
    SetRawInMem(bool),
    /// A peer stores this `valueLen` (cut to Go's `int` on 32-bit targets).
    PeerValueLen(i64),
    /// A peer writes one header byte, at `at` modulo the header size.
    PeerByte { at: u8, byte: u8 },
    /// A peer overwrites the whole header (its first `HEADER_SIZE` bytes).
    PeerHeader([u8; MAX_HEADER]),
    /// `resize(capacity)` (modulo `MAX_CAPACITY`), where the backing can.
    Resize(u16),
}

/// The `valueLen`s at every edge: fitting, one past, the header's worth
/// past, negative, and the extremes.
pub fn edge_value_lens(capacity: usize) -> [isize; 12] {
    let cap = capacity as isize;
    [
        0,
        1,
        cap - 1,
        cap,
        cap + 1,
        cap + HEADER_SIZE as isize,
        -1,
        -cap,
        isize::MIN,
        isize::MIN + 1,
        isize::MAX,
        isize::MAX - cap,
    ]
}

/// What a region should hold: its header bytes and its value area.
#[derive(Debug, Clone)]
pub struct Model {
    header: [u8; HEADER_SIZE],
    value: Vec<u8>,
}

impl Model {
    /// A fresh region: every byte zero.
    pub fn new(capacity: usize) -> Model {
        Model {
            header: [0; HEADER_SIZE],
            value: vec![0; capacity],
        }
    }

    /// Takes the first `HEADER_SIZE` bytes of `bytes` as the header.
    pub fn set_header(&mut self, bytes: &[u8; MAX_HEADER]) {
        self.header.copy_from_slice(&bytes[..HEADER_SIZE]);
    }

    pub fn capacity(&self) -> usize {
        self.value.len()
    }

    fn bytes<const N: usize>(&self, at: usize) -> [u8; N] {
        self.header[at..at + N].try_into().unwrap()
    }

    fn put(&mut self, at: usize, bytes: &[u8]) {
        self.header[at..at + bytes.len()].copy_from_slice(bytes);
    }

    pub fn value_len(&self) -> isize {
        isize::from_ne_bytes(self.bytes::<{ size_of::<isize>() }>(offsets::VALUE_LEN))
    }

    pub fn count(&self) -> i64 {
        i64::from_ne_bytes(self.bytes(offsets::COUNT))
    }

    pub fn rand_state(&self) -> u64 {
        u64::from_ne_bytes(self.bytes(offsets::RAND_STATE))
    }

    pub fn rand_inc(&self) -> u64 {
        u64::from_ne_bytes(self.bytes(offsets::RAND_INC))
    }

    pub fn raw_in_mem(&self) -> bool {
        self.header[offsets::RAW_IN_MEM] != 0
    }

    /// What `value()` must answer: the first `valueLen` bytes, or
    /// `CorruptValueLen` if no region of this capacity can hold that many.
    pub fn value(&self) -> Result<&[u8]> {
        let value_len = self.value_len();
        match usize::try_from(value_len) {
            Ok(len) if len <= self.capacity() => Ok(&self.value[..len]),
            _ => Err(Error::CorruptValueLen {
                value_len,
                capacity: self.capacity(),
            }),
        }
    }

    fn set_value_len(&mut self, len: usize) {
        self.put(offsets::VALUE_LEN, &(len as isize).to_ne_bytes());
    }
}

/// A region under test, with what it is backed by.
pub trait Subject {
    /// The region, for the read APIs.
    fn region(&self) -> &Region;
    /// `set_value`.
    fn set_value(&mut self, bytes: &[u8]) -> Result<()>;
    /// `set_value_len`.
    fn set_value_len(&mut self, len: usize) -> Result<()>;
    /// `value_mut`.
    fn value_mut(&mut self) -> Result<&mut [u8]>;
    /// `value_buffer_mut`.
    fn value_buffer_mut(&mut self) -> &mut [u8];
    /// `resize(capacity)`, or `None` where the backing cannot grow.
    fn resize(&mut self, capacity: usize) -> Option<Result<()>>;
    /// Writes `bytes` into the header at `offset` as a peer process would:
    /// plain stores, through its own view, no checks.
    fn peer_write(&mut self, offset: usize, bytes: &[u8]);
    /// [`check`]s every view of the region against `model`.
    fn verify(&mut self, model: &Model) {
        check(self.region(), model);
    }
    /// Releases the region, asserting that this succeeds.
    fn close(self: Box<Self>) {}
}

/// Performs `op` on `subject` and on `model`, asserting the operation's own
/// answer (success, or the error the model predicts).
pub fn apply(subject: &mut (impl Subject + ?Sized), model: &mut Model, op: &Op) {
    let capacity = model.capacity();
    match *op {
        Op::SetValue(ref bytes) => {
            let len = bytes.len();
            let expected = if len <= capacity {
                model.value[..len].copy_from_slice(bytes);
                model.set_value_len(len);
                Ok(())
            } else {
                Err(Error::ValueTooLarge { len, capacity })
            };
            assert_eq!(subject.set_value(bytes), expected);
        }
        Op::SetValueLen(len) => {
            let len = usize::from(len) % (capacity + 2);
            let expected = if len <= capacity {
                model.set_value_len(len);
                Ok(())
            } else {
                Err(Error::ValueTooLarge { len, capacity })
            };
            assert_eq!(subject.set_value_len(len), expected);
        }
        Op::WriteValue { at, byte } => {
            let expected = model.value().map(<[u8]>::len);
            match subject.value_mut() {
                Ok(value) => {
                    assert_eq!(Ok(value.len()), expected);
                    if !value.is_empty() {
                        let at = usize::from(at) % value.len();
                        value[at] = byte;
                        model.value[at] = byte;
                    }
                }
                Err(error) => assert_eq!(Err(error), expected),
            }
        }
        Op::WriteBuffer { at, byte } => {
            let buffer = subject.value_buffer_mut();
            assert_eq!(buffer.len(), capacity);
            if capacity > 0 {
                let at = usize::from(at) % capacity;
                buffer[at] = byte;
                model.value[at] = byte;
            }
        }
        Op::AddCount(n) => {
            subject
                .region()
                .header()
                .count()
                .fetch_add(n, Ordering::Relaxed);
            model.put(offsets::COUNT, &model.count().wrapping_add(n).to_ne_bytes());
        }
        Op::StoreCount(n) => {
            subject
                .region()
                .header()
                .count()
                .store(n, Ordering::Relaxed);
            model.put(offsets::COUNT, &n.to_ne_bytes());
        }
        Op::SetRandState(word) => {
            subject.region().header().set_rand_state(word);
            model.put(offsets::RAND_STATE, &word.to_ne_bytes());
        }
        Op::SetRandInc(word) => {
            subject.region().header().set_rand_inc(word);
            model.put(offsets::RAND_INC, &word.to_ne_bytes());
        }
        Op::SetRawInMem(raw) => {
            subject.region().header().set_raw_in_mem(raw);
            model.put(offsets::RAW_IN_MEM, &[u8::from(raw)]);
        }
        Op::PeerValueLen(len) => peer_write(
            subject,
            model,
            offsets::VALUE_LEN,
            &(len as isize).to_ne_bytes(),
        ),
        Op::PeerByte { at, byte } => {
            peer_write(subject, model, usize::from(at) % HEADER_SIZE, &[byte])
        }
        Op::PeerHeader(ref bytes) => peer_write(subject, model, 0, &bytes[..HEADER_SIZE]),
        Op::Resize(requested) => {
            let requested = usize::from(requested) % MAX_CAPACITY;
            if let Some(outcome) = subject.resize(requested) {
                let expected = if requested < capacity {
                    Err(Error::ShrinkRefused {
                        capacity,
                        requested,
                    })
                } else {
                    model.value.resize(requested, 0);
                    Ok(())
                };
                assert_eq!(outcome, expected);
            }
        }
    }
}

fn peer_write(
    subject: &mut (impl Subject + ?Sized),
    model: &mut Model,
    offset: usize,
    bytes: &[u8],
) {
    subject.peer_write(offset, bytes);
    model.put(offset, bytes);
}

/// Compares every read API of `region` with `model`.
pub fn check(region: &Region, model: &Model) {
    assert_eq!(region.capacity(), model.capacity());
    assert_eq!(region.size(), HEADER_SIZE + model.capacity());
    let header = region.header();
    assert_eq!(header.value_len(), model.value_len());
    assert_eq!(header.count().load(Ordering::Relaxed), model.count());
    assert_eq!(header.rand_state(), model.rand_state());
    assert_eq!(header.rand_inc(), model.rand_inc());
    assert_eq!(header.raw_in_mem(), model.raw_in_mem());
    assert_eq!(region.value(), model.value());
    assert_eq!(region.value_copy(), model.value().map(<[u8]>::to_vec));
    // The whole value area, whatever `valueLen` says: no write went astray.
    assert!(
        region.value_buffer() == model.value.as_slice(),
        "the value area differs"
    );
}

/// `Debug` shows the header as the model has it, whatever its bytes. (Apart
/// from [`check`] because formatting is most of Miri's time per step.)
pub fn check_debug(region: &Region, model: &Model) {
    let shown = format!("{region:?}");
    for field in [
        format!("value_len: {}", model.value_len()),
        format!("count: {}", model.count()),
        format!("raw_in_mem: {}", model.raw_in_mem()),
    ] {
        assert!(shown.contains(&field), "{shown} lacks {field}");
    }
}

/// Writes `bytes` at `offset` into the memory `region` views, as a peer
/// process would: plain stores, no atomics, no checks of the value.
///
/// # Safety
///
/// No reference into those bytes of the memory (through `region` or any
/// other view of it in this process) is alive during the call, and no
/// other thread writes them meanwhile.
pub unsafe fn poke(region: &Region, offset: usize, bytes: &[u8]) {
    assert!(
        offset + bytes.len() <= region.size(),
        "poke past the region"
    );
    // SAFETY: the range is inside the region (asserted), whose memory is
    // writable; the caller keeps every reference off it meanwhile.
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            region.as_mut_ptr().wrapping_add(offset),
            bytes.len(),
        )
    }
}

/// The `Subject` methods that a backing passes straight to its region.
macro_rules! forward_to {
    ($field:ident) => {
        fn region(&self) -> &Region {
            &self.$field
        }
        fn set_value(&mut self, bytes: &[u8]) -> Result<()> {
            self.$field.set_value(bytes)
        }
        fn set_value_len(&mut self, len: usize) -> Result<()> {
            self.$field.set_value_len(len)
        }
        fn value_mut(&mut self) -> Result<&mut [u8]> {
            self.$field.value_mut()
        }
        fn value_buffer_mut(&mut self) -> &mut [u8] {
            self.$field.value_buffer_mut()
        }
    };
}

/// Eight bytes aligned to eight, as the header needs (`u64` is only
/// 4-aligned on i686).
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Word([u8; 8]);

/// A region over a heap buffer: the pure logic, with no system call (what
/// Miri runs). It cannot resize.
pub struct Heap {
    region: Region,
    // The buffer `region` points into; never touched again, only dropped
    // (after `region`, which has no destructor).
    _words: Vec<Word>,
}

impl Heap {
    pub fn new(capacity: usize) -> Heap {
        let mut words = vec![Word([0; 8]); (HEADER_SIZE + capacity).div_ceil(8)];
        let base = NonNull::new(words.as_mut_ptr().cast::<u8>()).unwrap();
        // SAFETY: the buffer is valid for reads and writes of `HEADER_SIZE +
        // capacity` bytes (it has at least that many), 8-aligned, and lives
        // in `_words` as long as the region; its heap block does not move
        // when the `Vec` does, and it is reached only through the region.
        let region = unsafe { Region::from_raw_parts(base, HEADER_SIZE + capacity) }.unwrap();
        Heap {
            region,
            _words: words,
        }
    }
}

impl Subject for Heap {
    forward_to!(region);
    fn resize(&mut self, _capacity: usize) -> Option<Result<()>> {
        None
    }
    fn peer_write(&mut self, offset: usize, bytes: &[u8]) {
        // SAFETY: `&mut self`: no slice borrowed from this heap region is
        // alive, and it is this thread's alone.
        unsafe { poke(&self.region, offset, bytes) };
    }
}

/// A mapped region and a peer's second mapping of the same descriptor,
/// through which the peer writes.
///
/// Both fields are private, so every reference into either mapping is
/// borrowed from the `Mapped` itself: the borrow checker then keeps a
/// slice from one mapping from being alive while the other is written.
pub struct Mapped {
    mem: SharedMem,
    peer: SharedMem,
}

impl Mapped {
    /// `mem`, and a peer mapping of a duplicate of its descriptor.
    pub fn new(mem: SharedMem) -> Mapped {
        let fd = mem.as_fd().try_clone_to_owned().expect("dup");
        // SAFETY: this second mapping of `mem`'s file is on purpose, to
        // play the peer; `mem` is the only other one (every caller passes a
        // region it just made, and the maker of a `map_file` or `from_fd`
        // one closed its own mapping first). Both live only in this
        // `Mapped`'s private fields and are reached through its `&self` and
        // `&mut self` methods, so no reference from `peer` is alive while
        // `mem`'s `set_value`, `value_mut` or `value_buffer_mut` writes (nor
        // the other way round); `peer` is only read (`verify`) or written
        // through raw pointers (`poke` in `peer_write`), never through a
        // `&mut [u8]`.
        let peer = unsafe { SharedMem::from_fd(fd) }.expect("the peer maps the region");
        Mapped { mem, peer }
    }
}

impl Subject for Mapped {
    forward_to!(mem);
    fn resize(&mut self, capacity: usize) -> Option<Result<()>> {
        Some(self.mem.resize(capacity))
    }
    fn peer_write(&mut self, offset: usize, bytes: &[u8]) {
        // SAFETY: `&mut self`: every reference into either mapping is
        // borrowed from this `Mapped` (its fields are private), so none is
        // alive now, and no other thread holds it.
        unsafe { poke(&self.peer, offset, bytes) };
    }
    /// Both views: ours, and the peer's once it has adopted the current
    /// size with `remap`.
    fn verify(&mut self, model: &Model) {
        check(&self.mem, model);
        let resized = self.peer.size() != self.mem.size();
        assert_eq!(self.peer.remap(), Ok(resized));
        check(&self.peer, model);
    }
    /// Unmaps and closes both, which must succeed.
    fn close(self: Box<Self>) {
        assert_eq!(self.peer.close(), Ok(()));
        assert_eq!(self.mem.close(), Ok(()));
    }
}
