//! The pure region logic against a model, with no system call: a `Region`
//! over a heap buffer, driven by the fuzz targets' operations and hostile
//! headers (`tests/model`), compared with the model after every step.
//! Runs under Miri (`bash .ci/miri.sh`) on 64-bit and 32-bit targets, which
//! also checks the 32-bit header's split PRNG words.

mod model;

use std::ptr::NonNull;

use arbitrary::{Arbitrary, Unstructured};
use fuzzshm::{Error, Region, HEADER_SIZE};
use model::{apply, check, check_debug, Heap, Model, Op, Subject};

/// A small PCG-style generator: the bytes the operations are decoded from.
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

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// `steps` operations decoded from random bytes, as the fuzzer decodes its
/// inputs.
fn random_ops(seed: u64, steps: usize) -> Vec<Op> {
    let bytes = Rng(seed).bytes(steps * 24);
    let mut input = Unstructured::new(&bytes);
    let mut ops = Vec::with_capacity(steps);
    while ops.len() < steps && !input.is_empty() {
        ops.push(Op::arbitrary(&mut input).unwrap());
    }
    ops
}

/// Runs `ops` on a fresh heap region of `capacity`, checking every step.
fn run(capacity: usize, ops: &[Op]) {
    let mut heap = Heap::new(capacity);
    let mut model = Model::new(capacity);
    check(heap.region(), &model);
    for (step, op) in ops.iter().enumerate() {
        apply(&mut heap, &mut model, op);
        check(heap.region(), &model);
        if step % 16 == 0 {
            check_debug(heap.region(), &model);
        }
    }
}

#[test]
fn random_operations_match_the_model() {
    let (seeds, steps) = if cfg!(miri) { (4, 100) } else { (64, 2_000) };
    for seed in 0..seeds {
        let ops = random_ops(seed, steps);
        assert_eq!(ops.len(), steps);
        for capacity in [0, 1, 7, 64] {
            run(capacity, &ops);
        }
    }
}

#[test]
fn every_edge_value_len() {
    let capacity = 64;
    let mut ops = vec![Op::SetValue(b"before the peer".to_vec())];
    for len in model::edge_value_lens(capacity) {
        ops.push(Op::PeerValueLen(len as i64));
        ops.push(Op::WriteValue { at: 3, byte: 0xa5 });
        ops.push(Op::WriteBuffer { at: 5, byte: 0x5a });
    }
    run(capacity, &ops);
}

#[test]
fn random_whole_headers() {
    let rounds = if cfg!(miri) { 200 } else { 20_000 };
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let ops: Vec<Op> = (0..rounds)
        .map(|round| {
            let mut header = [0u8; model::MAX_HEADER];
            header.copy_from_slice(&rng.bytes(model::MAX_HEADER));
            // Every fourth header, a length that fits, so reads succeed too.
            if round % 4 == 0 {
                let len = (rng.next() % 66) as isize;
                let at = fuzzshm::offsets::VALUE_LEN;
                header[at..at + size_of::<isize>()].copy_from_slice(&len.to_ne_bytes());
            }
            Op::PeerHeader(header)
        })
        .collect();
    run(64, &ops);
}

#[test]
fn op_decoding_is_total() {
    // Any bytes decode to some operations: the fuzzer's inputs never fail.
    let mut rng = Rng(7);
    for len in 0..64 {
        let bytes = rng.bytes(len);
        let mut input = Unstructured::new(&bytes);
        assert!(Vec::<Op>::arbitrary(&mut input).is_ok());
    }
}

#[test]
fn from_raw_parts_checks_what_it_can() {
    #[derive(Clone, Copy)]
    #[repr(C, align(8))]
    struct Word([u8; 8]);
    let mut words = vec![Word([0; 8]); 16];
    let base = NonNull::new(words.as_mut_ptr().cast::<u8>()).unwrap();
    // SAFETY: `words` outlives the calls and is unused otherwise (and so
    // for the two calls below).
    let too_small = unsafe { Region::from_raw_parts(base, HEADER_SIZE - 1) };
    assert_eq!(
        too_small.unwrap_err(),
        Error::TooSmall {
            size: HEADER_SIZE as u64 - 1,
            needed: HEADER_SIZE as u64
        }
    );
    // SAFETY: one byte in is still inside `words`.
    let one_in = unsafe { base.add(1) };
    // SAFETY: as above.
    let misaligned = unsafe { Region::from_raw_parts(one_in, HEADER_SIZE) };
    assert!(matches!(
        misaligned,
        Err(Error::Misaligned { align: 8, .. })
    ));
    // SAFETY: as above.
    let exact = unsafe { Region::from_raw_parts(base, HEADER_SIZE) }.unwrap();
    assert_eq!((exact.capacity(), exact.value().unwrap()), (0, &[][..]));
}
