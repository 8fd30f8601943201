//! The pure region logic against a model, with no system call: a `Region`
//! over a heap buffer, driven by random operations and hostile header
//! bytes, compared after every step with a `Vec<u8>` and the header
//! fields. Runs under Miri (`bash .ci/miri.sh`), on 64-bit and 32-bit
//! targets, which also checks the 32-bit header's split PRNG words.

use std::ptr::NonNull;
use std::sync::atomic::Ordering;

use fuzzshm::{offsets, Error, Region, HEADER_SIZE};

/// Eight bytes aligned to eight, as the header needs (`u64` is only
/// 4-aligned on i686).
#[derive(Clone, Copy)]
#[repr(C, align(8))]
struct Word([u8; 8]);

/// A region over `words`, which must outlive it.
fn region_over(words: &mut [Word]) -> Region {
    let base = NonNull::new(words.as_mut_ptr().cast::<u8>()).unwrap();
    // SAFETY: `words` is valid for reads and writes of its whole length,
    // outlives the region (the callers keep it alive), and is reached only
    // through the region while the region is used.
    unsafe { Region::from_raw_parts(base, words.len() * 8) }.unwrap()
}

/// What the region should hold.
struct Model {
    buffer: Vec<u8>,
    len: isize,
    count: i64,
    rand_state: u64,
    rand_inc: u64,
    raw_in_mem: bool,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let x = self.0;
        (x ^ (x >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd) ^ (x >> 29)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn check(region: &Region, model: &Model) {
    let header = region.header();
    assert_eq!(header.value_len(), model.len);
    assert_eq!(header.count().load(Ordering::Relaxed), model.count);
    assert_eq!(header.rand_state(), model.rand_state);
    assert_eq!(header.rand_inc(), model.rand_inc);
    assert_eq!(header.raw_in_mem(), model.raw_in_mem);
    let capacity = model.buffer.len();
    match usize::try_from(model.len) {
        Ok(len) if len <= capacity => {
            assert_eq!(region.value().unwrap(), &model.buffer[..len]);
            assert_eq!(region.value_copy().unwrap(), &model.buffer[..len]);
        }
        _ => assert_eq!(
            region.value().unwrap_err(),
            Error::CorruptValueLen {
                value_len: model.len,
                capacity
            }
        ),
    }
}

/// Writes `bytes` at `offset` as a peer would: through the raw pointer.
fn peer_write(region: &Region, offset: usize, bytes: &[u8]) {
    assert!(offset + bytes.len() <= region.len());
    // SAFETY: in bounds (asserted); the pointer shares the buffer's
    // provenance; no reference into these bytes is alive during the copy.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), region.as_ptr().add(offset), bytes.len())
    }
}

fn run(seed: u64, capacity: usize, steps: usize) {
    let mut words = vec![Word([0; 8]); (HEADER_SIZE + capacity).div_ceil(8)];
    let mut region = region_over(&mut words);
    let capacity = region.capacity();
    let mut model = Model {
        buffer: vec![0; capacity],
        len: 0,
        count: 0,
        rand_state: 0,
        rand_inc: 0,
        raw_in_mem: false,
    };
    let mut rng = Rng(seed);
    for _ in 0..steps {
        match rng.below(9) {
            0 => {
                let len = rng.below(capacity + 3);
                let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                match region.set_value(&bytes) {
                    Ok(()) => {
                        model.buffer[..len].copy_from_slice(&bytes);
                        model.len = len as isize;
                    }
                    Err(error) => {
                        assert!(len > capacity);
                        assert_eq!(error, Error::ValueTooLarge { len, capacity });
                    }
                }
            }
            1 => {
                let len = rng.below(capacity + 3);
                match region.set_value_len(len) {
                    Ok(()) => model.len = len as isize,
                    Err(error) => assert_eq!(error, Error::ValueTooLarge { len, capacity }),
                }
            }
            2 => {
                let (i, byte) = (rng.next() as usize, rng.next() as u8);
                if let Ok(value) = region.value_mut() {
                    if !value.is_empty() {
                        let at = i % value.len();
                        value[at] = byte;
                        model.buffer[at] = byte;
                    }
                }
            }
            3 if capacity > 0 => {
                let (at, byte) = (rng.below(capacity), rng.next() as u8);
                region.value_buffer_mut()[at] = byte;
                model.buffer[at] = byte;
            }
            4 => {
                model.count = model.count.wrapping_add(1);
                region.header().count().fetch_add(1, Ordering::Relaxed);
                model.rand_state = rng.next();
                region.header().set_rand_state(model.rand_state);
            }
            5 => {
                model.rand_inc = rng.next();
                region.header().set_rand_inc(model.rand_inc);
                model.raw_in_mem = rng.next() % 2 == 0;
                region.header().set_raw_in_mem(model.raw_in_mem);
            }
            6 => {
                // A hostile valueLen: anything at all.
                model.len = match rng.below(4) {
                    0 => -(rng.below(4) as isize) - 1,
                    1 => (capacity + 1 + rng.below(4)) as isize,
                    2 => rng.next() as isize,
                    _ => rng.below(capacity + 1) as isize,
                };
                peer_write(&region, offsets::VALUE_LEN, &model.len.to_ne_bytes());
            }
            7 => {
                let byte = rng.next() as u8;
                peer_write(&region, offsets::RAW_IN_MEM, &[byte]);
                model.raw_in_mem = byte != 0;
            }
            _ => {
                // The whole header, random, as a corrupt peer leaves it.
                let bytes: Vec<u8> = (0..HEADER_SIZE).map(|_| rng.next() as u8).collect();
                peer_write(&region, 0, &bytes);
                let word = |at: usize, n: usize| {
                    let mut b = [0u8; 8];
                    b[..n].copy_from_slice(&bytes[at..at + n]);
                    u64::from_ne_bytes(b)
                };
                model.count = word(offsets::COUNT, 8) as i64;
                model.len = if cfg!(target_pointer_width = "64") {
                    word(offsets::VALUE_LEN, 8) as i64 as isize
                } else {
                    word(offsets::VALUE_LEN, 4) as u32 as i32 as isize
                };
                model.rand_state = word(offsets::RAND_STATE, 8);
                model.rand_inc = word(offsets::RAND_INC, 8);
                model.raw_in_mem = bytes[offsets::RAW_IN_MEM] != 0;
            }
        }
        check(&region, &model);
    }
}

#[test]
fn random_operations_match_the_model() {
    let (seeds, steps) = if cfg!(miri) { (4, 150) } else { (64, 2_000) };
    for seed in 0..seeds {
        for capacity in [0, 1, 7, 64] {
            run(seed, capacity, steps);
        }
    }
}

#[test]
fn from_raw_parts_checks_what_it_can() {
    let mut words = vec![Word([0; 8]); 16];
    let base = NonNull::new(words.as_mut_ptr().cast::<u8>()).unwrap();
    // SAFETY (all three): `words` outlives the calls and is unused otherwise.
    let too_small = unsafe { Region::from_raw_parts(base, HEADER_SIZE - 1) };
    assert_eq!(
        too_small.unwrap_err(),
        Error::TooSmall {
            size: HEADER_SIZE as u64 - 1,
            needed: HEADER_SIZE as u64
        }
    );
    // SAFETY: as above; one byte in is still inside `words`.
    let misaligned = unsafe { Region::from_raw_parts(base.add(1), HEADER_SIZE) };
    assert!(matches!(
        misaligned,
        Err(Error::Misaligned { align: 8, .. })
    ));
    // SAFETY: as above.
    let exact = unsafe { Region::from_raw_parts(base, HEADER_SIZE) }.unwrap();
    assert_eq!((exact.capacity(), exact.value().unwrap()), (0, &[][..]));
}
