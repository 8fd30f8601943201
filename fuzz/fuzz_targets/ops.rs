//! A sequence of operations (writes, header fields, a peer's stores,
//! resizes) on a real region, compared with the model after every step,
//! through our mapping and through a peer's second mapping of the same file.
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use arbitrary::Arbitrary;
use common::model::{apply, Model, Op, MAX_CAPACITY};
use common::Backing;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    backing: Backing,
    capacity: u16,
    ops: Vec<Op>,
}

fuzz_target!(|input: Input| {
    let capacity = usize::from(input.capacity) % MAX_CAPACITY;
    let mut region = input.backing.open(capacity);
    let mut model = Model::new(capacity);
    region.verify(&model);
    for op in &input.ops {
        apply(&mut *region, &mut model, op);
        region.verify(&model);
    }
    region.close();
});
