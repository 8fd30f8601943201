//! Go's fuzzing mutator (`internal/fuzz/mutator.go` and
//! `mutators_byteslice.go`), draw for draw, and [`rebuild`]: the input a
//! worker tested, from what it left in shared memory.
//!
//! A worker never sends back the input it found. It runs chains of 5
//! mutations from the input it was given; at the start of each chain it
//! saves its PRNG into the header, and it counts executions. The last input
//! tested is the original with `((count-1) % 5) + 1` mutations applied from
//! the saved PRNG, which is what Go's coordinator recomputes
//! (`workerClient.fuzz`) and what [`rebuild`] does. Go 1.19 and 1.27 have the
//! same mutator (on 64-bit targets), so there is no version parameter.
//!
//! The mutator keeps one scratch buffer for `[]byte` and `string`
//! arguments, of capacity `maxPerVal = maxBytes/len(args) - 100`, where
//! `maxBytes` is the capacity of the shared memory's value area. A mutated
//! `[]byte` argument *is* that buffer: mutating another `[]byte` or
//! `string` argument later in the same chain rewrites the bytes the first
//! one shows (its length stays). The replay models the buffer, bytes past
//! the current length included, so it reproduces this too.

use crate::rand::Pcg;
use crate::value::Value;
use std::fmt;

/// Mutations per chain (`chainedMutations`).
pub const CHAINED_MUTATIONS: i64 = 5;

/// Go's `interesting8`.
const INTERESTING8: [i8; 9] = [-128, -1, 0, 1, 16, 32, 64, 100, 127];

/// `own`, then `base` widened to `$t`: Go's tables as its `init` extends
/// them.
macro_rules! extended {
    ($t:ty; $n:literal; $own:expr, $base:expr) => {{
        let (own, base) = ($own, $base);
        let mut table: [$t; $n] = [0; $n];
        let mut i = 0;
        while i < $n {
            table[i] = if i < own.len() {
                own[i]
            } else {
                base[i - own.len()] as $t
            };
            i += 1;
        }
        table
    }};
}

/// Go's `interesting16`: its own ten values, then `interesting8`'s.
const INTERESTING16: [i16; 19] = extended!(i16; 19;
    [-32768, -129, 128, 255, 256, 512, 1000, 1024, 4096, 32767], INTERESTING8);

/// Go's `interesting32`: its own eight values, then `interesting16`'s.
const INTERESTING32: [i32; 27] = extended!(i32; 27;
    [-2147483648, -100663046, -32769, 32768, 65535, 65536, 100663045, 2147483647], INTERESTING16);

/// Why a replay cannot follow the worker. Each is a case where Go's
/// mutator panics or never returns, so the worker died or hung on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MutateError {
    /// No values: Go divides by `len(vals)`.
    NoValues,
    /// A `[]byte` or `string` argument longer than `maxPerVal`: Go panics
    /// "cannot mutate bytes of length N".
    TooLong {
        /// Index of the argument.
        index: usize,
        /// Its length.
        len: usize,
        /// `maxBytes/len(args) - 100`.
        max_per_val: i64,
    },
    /// A random bound past 32 bits: Go panics "large Intn".
    LargeIntn(usize),
    /// An empty `[]byte`/`string` with a scratch capacity below 2: every
    /// byte-slice mutator refuses it, and Go's mutator loops forever.
    Stuck,
}

impl fmt::Display for MutateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MutateError::NoValues => f.write_str("no values to mutate"),
            MutateError::TooLong { index, len, max_per_val } => write!(
                f,
                "cannot mutate bytes of length {len} (argument {index}; at most {max_per_val} per value)"
            ),
            MutateError::LargeIntn(n) => write!(f, "large Intn: {n}"),
            MutateError::Stuck => f.write_str("an empty value with no room to grow: Go's mutator never returns"),
        }
    }
}

impl std::error::Error for MutateError {}

type Res<T> = Result<T, MutateError>;

/// Go's `mutator`: the PRNG and the scratch buffer.
///
/// ```
/// use fuzzshm_go::mutate::Mutator;
/// use fuzzshm_go::rand::Pcg;
/// use fuzzshm_go::value::Value;
/// let mut m = Mutator::new(Pcg::from_state(42, 3));
/// let mut chain = m.chain(&[Value::Bytes(b"seed".to_vec()), Value::Int(7)], 1 << 20);
/// for _ in 0..5 {
///     chain.mutate()?;
/// }
/// assert_eq!(chain.values().len(), 2);
/// # Ok::<(), fuzzshm_go::mutate::MutateError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Mutator {
    pcg: Pcg,
    /// The scratch slice's backing array, as far as it was ever written.
    /// Bytes past `scratch.len()` are zero, as Go allocates them.
    scratch: Vec<u8>,
    /// The scratch slice's length and capacity; no capacity yet is Go's nil.
    scratch_len: usize,
    scratch_cap: Option<usize>,
}

/// One argument during a chain: its own value, or a `[]byte` that is the
/// scratch slice `[:len]`.
#[derive(Debug, Clone)]
enum Slot {
    Own(Value),
    Scratch(usize),
}

/// A chain of mutations from one set of original values (the worker's
/// `copy(vals, originalVals)` starts one). It borrows the mutator, whose
/// scratch buffer its `[]byte` arguments may share.
#[derive(Debug)]
pub struct Chain<'m> {
    m: &'m mut Mutator,
    slots: Vec<Slot>,
    max_bytes: usize,
}

impl Mutator {
    /// `newMutator()` with a given PRNG (`restore` of a saved one).
    pub fn new(pcg: Pcg) -> Mutator {
        Mutator {
            pcg,
            scratch: Vec::new(),
            scratch_len: 0,
            scratch_cap: None,
        }
    }

    /// The PRNG as it is now (what the worker would `save`).
    pub fn pcg(&self) -> &Pcg {
        &self.pcg
    }

    /// Starts a chain from `originals`; `max_bytes` is the capacity of the
    /// shared memory's value area (`cap(mem.valueRef())`).
    pub fn chain(&mut self, originals: &[Value], max_bytes: usize) -> Chain<'_> {
        Chain {
            m: self,
            slots: originals.iter().cloned().map(Slot::Own).collect(),
            max_bytes,
        }
    }

    /// `rand(n)`: `intn(n)`, an error where Go panics.
    fn rand(&mut self, n: usize) -> Res<usize> {
        self.pcg.intn(n).ok_or(MutateError::LargeIntn(n))
    }

    /// `chooseLen(n)`: a length in `[1, n]` (1 for `n = 0`), short ones
    /// preferred: 90 % at most 8, 9 % at most 32.
    fn choose_len(&mut self, n: usize) -> Res<usize> {
        let x = self.rand(100)?;
        let bound = if x < 90 {
            n.min(8)
        } else if x < 99 {
            n.min(32)
        } else {
            n
        };
        Ok(self.rand(bound)? + 1)
    }

    /// `randByteOrder()`: little endian when the draw is even.
    fn little_endian(&mut self) -> bool {
        self.pcg.bool()
    }

    /// Go's `mutateInt(v, max)` (`lower = -max`) and `mutateUInt(v, max)`
    /// (`lower = 0`): add or subtract 1 to 100 (even odds, redrawn at a
    /// bound), never past `lower` or `upper`.
    fn mutate_integer(&mut self, v: i128, lower: i128, upper: i128) -> Res<i128> {
        loop {
            if self.rand(2)? == 0 {
                if v >= upper {
                    continue;
                }
                let max = (upper - v).min(100) as usize;
                return Ok(v + 1 + self.rand(max)? as i128);
            }
            if v <= lower {
                continue;
            }
            let max = (v - lower).min(100) as usize;
            return Ok(v - 1 - self.rand(max)? as i128);
        }
    }

    /// `mutateInt(v, max)`, for a signed type of maximum `max`.
    fn mutate_int(&mut self, v: i64, max: i64) -> Res<i64> {
        let max = i128::from(max);
        Ok(self.mutate_integer(v.into(), -max, max)? as i64)
    }

    /// `mutateUInt(v, max)`, for an unsigned type of maximum `max`.
    fn mutate_uint(&mut self, v: u64, max: u64) -> Res<u64> {
        Ok(self.mutate_integer(v.into(), 0, max.into())? as u64)
    }

    fn mutate_float(&mut self, mut v: f64, max_value: f64) -> Res<f64> {
        // Go's int(max): truncation (max is always positive here).
        let bound = |max: f64| max as usize;
        loop {
            match self.rand(4)? {
                0 => {
                    if v >= max_value {
                        continue;
                    }
                    let mut max = 100.0;
                    if v > 0.0 && max_value - v < max {
                        max = max_value - v;
                    }
                    v += (1 + self.rand(bound(max))?) as f64;
                }
                1 => {
                    if v <= -max_value {
                        continue;
                    }
                    let mut max = 100.0;
                    if v < 0.0 && max_value + v < max {
                        max = max_value + v;
                    }
                    v -= (1 + self.rand(bound(max))?) as f64;
                }
                2 => {
                    let abs = v.abs();
                    if v == 0.0 || abs >= max_value {
                        continue;
                    }
                    let mut max = 10.0;
                    if max_value / abs < max {
                        max = max_value / abs;
                    }
                    v *= (1 + self.rand(bound(max))?) as f64;
                }
                _ => {
                    if v == 0.0 {
                        continue;
                    }
                    v /= (1 + self.rand(10)?) as f64;
                }
            }
            return Ok(v);
        }
    }

    /// `mutateBytes(&m.scratch)`: one byte-slice mutator, chosen at random
    /// among the 18 until one accepts the slice.
    fn mutate_bytes(&mut self) -> Res<()> {
        let cap = self.scratch_cap.unwrap_or(0);
        if self.scratch_len == 0 && cap < 2 {
            return Err(MutateError::Stuck);
        }
        loop {
            let which = self.rand(18)?;
            if let Some(len) = self.byte_slice_mutator(which, self.scratch_len, cap)? {
                self.scratch_len = len;
                return Ok(());
            }
        }
    }

    /// The `which`-th of Go's `byteSliceMutators` on the scratch slice of
    /// length `l` and capacity `c`: its new length, or `None` where Go's
    /// returns nil (after the same draws, with the bytes untouched).
    fn byte_slice_mutator(&mut self, which: usize, l: usize, c: usize) -> Res<Option<usize>> {
        Ok(match which {
            // removeBytes
            0 => {
                if l <= 1 {
                    return Ok(None);
                }
                let pos0 = self.rand(l)?;
                let pos1 = pos0 + self.choose_len(l - pos0)?;
                self.copy(pos0, pos1, l - pos1);
                Some(l - (pos1 - pos0))
            }
            // insertRandomBytes
            1 => {
                let pos = self.rand(l + 1)?;
                let n = self.choose_len(1024)?;
                if l + n >= c {
                    return Ok(None);
                }
                self.grow(l + n);
                self.copy(pos + n, pos, l - pos);
                for i in 0..n {
                    self.scratch[pos + i] = self.rand(256)? as u8;
                }
                Some(l + n)
            }
            // duplicateBytes
            2 => {
                if l <= 1 {
                    return Ok(None);
                }
                let (src, dst) = self.two_positions(l)?;
                let n = self.choose_len(l - src)?;
                if l + 2 * n >= c {
                    return Ok(None);
                }
                self.grow(l + 2 * n);
                self.copy(l + n, src, n);
                self.copy(dst + n, dst, l - dst);
                self.copy(dst, l + n, n);
                Some(l + n)
            }
            // overwriteBytes
            3 => {
                if l <= 1 {
                    return Ok(None);
                }
                let (src, dst) = self.two_positions(l)?;
                let n = self.choose_len(l - src - 1)?;
                self.copy(dst, src, n.min(l - dst));
                Some(l)
            }
            // bitFlip
            4 => {
                if l == 0 {
                    return Ok(None);
                }
                let pos = self.rand(l)?;
                self.scratch[pos] ^= 1 << self.rand(8)?;
                Some(l)
            }
            // xorByte
            5 => {
                if l == 0 {
                    return Ok(None);
                }
                let pos = self.rand(l)?;
                self.scratch[pos] ^= (1 + self.rand(255)?) as u8;
                Some(l)
            }
            // swapByte
            6 => {
                if l <= 1 {
                    return Ok(None);
                }
                let (src, dst) = self.two_positions(l)?;
                self.scratch.swap(src, dst);
                Some(l)
            }
            // arithmeticUint8
            7 => {
                if l == 0 {
                    return Ok(None);
                }
                let pos = self.rand(l)?;
                let v = (self.rand(35)? + 1) as u8;
                let b = &mut self.scratch[pos];
                *b = if self.pcg.bool() {
                    b.wrapping_add(v)
                } else {
                    b.wrapping_sub(v)
                };
                Some(l)
            }
            // arithmeticUint16/32/64
            8..=10 => {
                let width = 2 << (which - 8);
                if l < width {
                    return Ok(None);
                }
                let mut v = (self.rand(35)? + 1) as u64;
                if self.pcg.bool() {
                    v = v.wrapping_neg();
                }
                let pos = self.rand(l - (width - 1))?;
                let le = self.little_endian();
                let old = self.load(pos, width, le);
                self.store(pos, width, le, old.wrapping_add(v));
                Some(l)
            }
            // overwriteInterestingUint8
            11 => {
                if l == 0 {
                    return Ok(None);
                }
                let pos = self.rand(l)?;
                self.scratch[pos] = INTERESTING8[self.rand(INTERESTING8.len())?] as u8;
                Some(l)
            }
            // overwriteInterestingUint16/32
            12 | 13 => {
                let width = if which == 12 { 2 } else { 4 };
                if l < width {
                    return Ok(None);
                }
                let pos = self.rand(l - (width - 1))?;
                let v = if which == 12 {
                    u64::from(INTERESTING16[self.rand(INTERESTING16.len())?] as u16)
                } else {
                    u64::from(INTERESTING32[self.rand(INTERESTING32.len())?] as u32)
                };
                let le = self.little_endian();
                self.store(pos, width, le, v);
                Some(l)
            }
            // insertConstantBytes
            14 => {
                if l <= 1 {
                    return Ok(None);
                }
                let dst = self.rand(l)?;
                let n = self.choose_len(4096)?;
                if l + n >= c {
                    return Ok(None);
                }
                self.grow(l + n);
                self.copy(dst + n, dst, l - dst);
                let rb = self.rand(256)? as u8;
                self.scratch[dst..dst + n].fill(rb);
                Some(l + n)
            }
            // overwriteConstantBytes
            15 => {
                if l <= 1 {
                    return Ok(None);
                }
                let dst = self.rand(l)?;
                let n = self.choose_len(l - dst)?;
                let rb = self.rand(256)? as u8;
                self.scratch[dst..dst + n].fill(rb);
                Some(l)
            }
            // shuffleBytes
            16 => {
                if l <= 1 {
                    return Ok(None);
                }
                let dst = self.rand(l)?;
                let n = self.choose_len(l - dst)?;
                if n <= 2 {
                    return Ok(None);
                }
                for i in (1..n).rev() {
                    let j = self.rand(i + 1)?;
                    self.scratch.swap(dst + i, dst + j);
                }
                Some(l)
            }
            // swapBytes
            _ => {
                if l <= 1 {
                    return Ok(None);
                }
                let (src, dst) = self.two_positions(l)?;
                let n = self.choose_len(l - src.max(dst) - 1)?;
                if (src > dst && dst + n >= src) || (dst > src && src + n >= dst) {
                    return Ok(None);
                }
                if l + n >= c {
                    return Ok(None);
                }
                self.grow(l + n);
                self.copy(l, dst, n);
                self.copy(dst, src, n);
                self.copy(src, l, n);
                Some(l)
            }
        })
    }

    /// Two distinct positions below `l`: `src`, then `dst` drawn until it
    /// differs.
    fn two_positions(&mut self, l: usize) -> Res<(usize, usize)> {
        let src = self.rand(l)?;
        let mut dst = self.rand(l)?;
        while dst == src {
            dst = self.rand(l)?;
        }
        Ok((src, dst))
    }

    /// Makes the backing array hold at least `len` bytes (new ones zero).
    fn grow(&mut self, len: usize) {
        if self.scratch.len() < len {
            self.scratch.resize(len, 0);
        }
    }

    /// Go's `copy` of `n` bytes within the backing array (a memmove).
    fn copy(&mut self, dst: usize, src: usize, n: usize) {
        self.scratch.copy_within(src..src + n, dst);
    }

    fn load(&self, pos: usize, width: usize, le: bool) -> u64 {
        let bytes = &self.scratch[pos..pos + width];
        let fold = |acc: u64, &b: &u8| acc << 8 | u64::from(b);
        if le {
            bytes.iter().rev().fold(0, fold)
        } else {
            bytes.iter().fold(0, fold)
        }
    }

    fn store(&mut self, pos: usize, width: usize, le: bool, v: u64) {
        for i in 0..width {
            let shift = if le { 8 * i } else { 8 * (width - 1 - i) };
            self.scratch[pos + i] = (v >> shift) as u8;
        }
    }

    /// Puts `v` in the scratch slice as Go does before `mutateBytes`:
    /// a new buffer of capacity `max_per_val` the first time (or when it is
    /// too small), else the old one resliced to `len(v)` and overwritten.
    fn load_scratch(&mut self, v: &[u8], max_per_val: i64) {
        if (self.scratch_cap.unwrap_or(0) as i64) < max_per_val {
            self.scratch = v.to_vec();
            self.scratch_cap = Some(max_per_val as usize);
        } else {
            self.grow(v.len());
            self.scratch[..v.len()].copy_from_slice(v);
        }
        self.scratch_len = v.len();
    }
}

impl Chain<'_> {
    /// Go's `mutate(vals, maxBytes)`: picks one argument at random and
    /// mutates it by the rules of its type.
    ///
    /// # Errors
    ///
    /// [`MutateError`] where Go's mutator would panic or never return; the
    /// chain is then unusable.
    pub fn mutate(&mut self) -> Res<()> {
        let n = self.slots.len();
        if n == 0 {
            return Err(MutateError::NoValues);
        }
        let max_per_val = (self.max_bytes / n) as i64 - 100;
        let m = &mut *self.m;
        let i = m.rand(n)?;
        let v = match &self.slots[i] {
            Slot::Own(v) => v.clone(),
            Slot::Scratch(len) => Value::Bytes(m.scratch[..*len].to_vec()),
        };
        let mutated = match v {
            Value::Int(x) => Value::Int(m.mutate_int(x, i64::MAX)?),
            Value::Int8(x) => Value::Int8(m.mutate_int(i64::from(x), i8::MAX.into())? as i8),
            Value::Int16(x) => Value::Int16(m.mutate_int(i64::from(x), i16::MAX.into())? as i16),
            Value::Int64(x) => Value::Int64(m.mutate_int(x, i64::MAX)?),
            Value::Rune(x) => Value::Rune(m.mutate_int(i64::from(x), i32::MAX.into())? as i32),
            Value::Int32(x) => Value::Int32(m.mutate_int(i64::from(x), i32::MAX.into())? as i32),
            Value::Uint(x) => Value::Uint(m.mutate_uint(x, u64::MAX)?),
            Value::Uint16(x) => Value::Uint16(m.mutate_uint(u64::from(x), u16::MAX.into())? as u16),
            Value::Uint32(x) => Value::Uint32(m.mutate_uint(u64::from(x), u32::MAX.into())? as u32),
            Value::Uint64(x) => Value::Uint64(m.mutate_uint(x, u64::MAX)?),
            Value::Byte(x) => Value::Byte(m.mutate_uint(u64::from(x), u8::MAX.into())? as u8),
            Value::Uint8(x) => Value::Uint8(m.mutate_uint(u64::from(x), u8::MAX.into())? as u8),
            Value::Float32(x) => {
                Value::Float32(m.mutate_float(f64::from(x), f64::from(f32::MAX))? as f32)
            }
            Value::Float64(x) => Value::Float64(m.mutate_float(x, f64::MAX)?),
            Value::Bool(x) => Value::Bool(if m.rand(2)? == 1 { !x } else { x }),
            Value::String(s) | Value::Bytes(s) => {
                if s.len() as i64 > max_per_val {
                    return Err(MutateError::TooLong {
                        index: i,
                        len: s.len(),
                        max_per_val,
                    });
                }
                if (m.scratch_cap.unwrap_or(0) as i64) < max_per_val {
                    // A new buffer: arguments that shared the old one keep it.
                    for slot in &mut self.slots {
                        if let Slot::Scratch(len) = *slot {
                            *slot = Slot::Own(Value::Bytes(m.scratch[..len].to_vec()));
                        }
                    }
                }
                m.load_scratch(&s, max_per_val);
                m.mutate_bytes()?;
                self.slots[i] = if matches!(self.slots[i], Slot::Own(Value::String(_))) {
                    Slot::Own(Value::String(m.scratch[..m.scratch_len].to_vec()))
                } else {
                    Slot::Scratch(m.scratch_len)
                };
                return Ok(());
            }
        };
        self.slots[i] = Slot::Own(mutated);
        Ok(())
    }

    /// The PRNG as it is now: its next draw picks the argument the next
    /// [`mutate`](Self::mutate) changes (`intn(len(args))`).
    pub fn pcg(&self) -> &Pcg {
        &self.m.pcg
    }

    /// The values as the fuzz function would see them now (a `[]byte` that
    /// shares the scratch buffer shows its current bytes).
    pub fn values(&self) -> Vec<Value> {
        self.slots
            .iter()
            .map(|s| match s {
                Slot::Own(v) => v.clone(),
                Slot::Scratch(len) => Value::Bytes(self.m.scratch[..*len].to_vec()),
            })
            .collect()
    }
}

/// The input a worker tested last in a `Fuzz` call, as Go's coordinator
/// recomputes it: `original` (the values it put in shared memory) with
/// `((count-1) % 5) + 1` mutations from the PRNG state the header holds.
///
/// `count`, `rand_state` and `rand_inc` are the header's after the call;
/// `max_bytes` is the capacity of the value area (the region's size minus
/// the 40-byte header), which the worker's mutator used too. A `count` of
/// 0 or less gives the original (Go's arithmetic gives no mutations).
///
/// # Errors
///
/// [`MutateError`] where Go's mutator panics or never returns (so the
/// worker could not have tested such an input).
///
/// ```
/// use fuzzshm_go::mutate::rebuild;
/// use fuzzshm_go::value::Value;
/// let seed = [Value::Bytes(b"FUZZ".to_vec())];
/// let one = rebuild(&seed, 0x591d3eb5c64b21eb, 3, 1, 100 << 20)?;
/// let six = rebuild(&seed, 0x591d3eb5c64b21eb, 3, 6, 100 << 20)?;
/// assert_eq!(one, six); // count 6 is the first mutation of a new chain
/// assert_eq!(rebuild(&seed, 1, 3, 0, 100 << 20)?, seed);
/// # Ok::<(), fuzzshm_go::mutate::MutateError>(())
/// ```
pub fn rebuild(
    original: &[Value],
    rand_state: u64,
    rand_inc: u64,
    count: i64,
    max_bytes: usize,
) -> Result<Vec<Value>, MutateError> {
    let mutations = (count.wrapping_sub(1) % CHAINED_MUTATIONS) + 1;
    let mut m = Mutator::new(Pcg::from_state(rand_state, rand_inc));
    let mut chain = m.chain(original, max_bytes);
    for _ in 0..mutations {
        chain.mutate()?;
    }
    Ok(chain.values())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain_values(seed: &[Value], state: u64, steps: usize, max_bytes: usize) -> Vec<Vec<Value>> {
        let mut m = Mutator::new(Pcg::from_state(state, 3));
        let mut chain = m.chain(seed, max_bytes);
        (0..steps)
            .map(|_| {
                chain.mutate().unwrap();
                chain.values()
            })
            .collect()
    }

    #[test]
    fn rebuild_is_a_prefix_of_one_chain() {
        let seed = [
            Value::Bytes(b"hello".to_vec()),
            Value::String(b"w".to_vec()),
            Value::Int8(-128),
        ];
        let all = chain_values(&seed, 77, 5, 4096);
        for count in 1..=10i64 {
            let want = &all[((count - 1) % 5) as usize];
            assert_eq!(
                &rebuild(&seed, 77, 3, count, 4096).unwrap(),
                want,
                "count {count}"
            );
        }
    }

    #[test]
    fn bytes_arguments_share_the_scratch_buffer() {
        // Chains whose first mutation hits argument 0 and second argument 1:
        // both are then views of one buffer, so they agree on their common
        // prefix, and argument 0 changed without being mutated again.
        let seed = [
            Value::Bytes(b"abcdefgh".to_vec()),
            Value::Bytes(b"ABCDEFGH".to_vec()),
        ];
        let mut seen = 0;
        for state in 0..300u64 {
            let steps = chain_values(&seed, state, 2, 1 << 16);
            let (one, two) = (&steps[0], &steps[1]);
            if one[1] != seed[1] || one[0] == seed[0] || two[1] == seed[1] {
                continue;
            }
            let (Value::Bytes(a), Value::Bytes(b)) = (&two[0], &two[1]) else {
                unreachable!()
            };
            let n = a.len().min(b.len());
            assert_eq!(a[..n], b[..n], "state {state}");
            assert_ne!(
                two[0], one[0],
                "state {state}: argument 0 kept its own bytes"
            );
            seen += 1;
        }
        assert!(
            seen > 10,
            "only {seen} chains mutated argument 0 then argument 1"
        );
    }

    #[test]
    fn numbers_stay_in_go_bounds() {
        let mut m = Mutator::new(Pcg::from_state(5, 3));
        for _ in 0..2000 {
            for v in [127, 120, -127, -128, 0] {
                let got = m.mutate_int(v, 127).unwrap();
                assert!((-128..=127).contains(&got) && got != v, "{v} -> {got}");
            }
            for v in [0, 1, 65535, 65500] {
                let got = m.mutate_uint(v, 65535).unwrap();
                assert!(got <= 65535 && got != v, "{v} -> {got}");
            }
            let f = m
                .mutate_float(f64::from(f32::MAX), f64::from(f32::MAX))
                .unwrap();
            assert!(f <= f64::from(f32::MAX));
        }
    }

    #[test]
    fn interesting_tables_are_gos() {
        assert_eq!(
            INTERESTING16[9..],
            [32767, -128, -1, 0, 1, 16, 32, 64, 100, 127]
        );
        assert_eq!(
            INTERESTING32[..9],
            [
                i32::MIN,
                -100663046,
                -32769,
                32768,
                65535,
                65536,
                100663045,
                i32::MAX,
                -32768
            ]
        );
        assert_eq!(INTERESTING32[8..], INTERESTING16.map(i32::from));
    }

    #[test]
    fn go_panics_are_errors() {
        assert_eq!(rebuild(&[], 1, 3, 1, 4096), Err(MutateError::NoValues));
        let long = [Value::String(vec![b'x'; 200])];
        assert!(matches!(
            rebuild(&long, 1, 3, 1, 250),
            Err(MutateError::TooLong {
                index: 0,
                len: 200,
                ..
            })
        ));
        // maxPerVal 1: an empty input can never grow.
        assert_eq!(
            rebuild(&[Value::Bytes(vec![])], 1, 3, 1, 101),
            Err(MutateError::Stuck)
        );
    }
}
