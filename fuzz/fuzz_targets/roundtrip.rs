//! Any input through `set_value`, then `value_copy`, is the input again:
//! for every backing, through our view and a peer's, with a capacity that
//! fits it exactly, one with room to spare, and one a byte short (refused,
//! the region unchanged).
#![no_main]

#[path = "../common/mod.rs"]
mod common;

use common::model::{apply, Model, Op};
use common::Backing;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let set = Op::SetValue(data.to_vec());
    for backing in Backing::ALL {
        for capacity in [data.len(), data.len() + 1, data.len().saturating_sub(1)] {
            let mut region = backing.open(capacity);
            let mut model = Model::new(capacity);
            apply(&mut *region, &mut model, &set);
            region.verify(&model);
            if capacity >= data.len() {
                assert_eq!(region.region().value_copy().as_deref(), Ok(data));
            } else {
                assert_eq!(region.region().value(), Ok(&[][..]));
            }
            region.close();
        }
    }
});
