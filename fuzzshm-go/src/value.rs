//! One argument of a Go fuzz function, of any type Go can fuzz.
//!
//! Go fuzzes `[]byte`, `string`, `bool`, `byte`, `rune`, every `int` and
//! `uint` width, `float32` and `float64` (`testing.F.Fuzz`). In Go `byte` is
//! `uint8` and `rune` is `int32`: one type each, two spellings. A corpus
//! file may use either spelling, so [`Value`] keeps the one it was read with,
//! but the two are the same Go value: they compare equal, hash alike and
//! are written alike (Go's encoder always writes `byte('…')`, and
//! `rune('…')` for a valid rune, `int32(n)` otherwise).

use std::hash::{Hash, Hasher};

/// One fuzz argument, as the worker and the corpus files carry it.
///
/// `int` and `uint` are 64 bits wide: Go's fuzzing coverage (and this
/// crate) runs on 64-bit targets only. `String` holds bytes because a Go
/// string is any byte sequence, not necessarily UTF-8.
///
/// Equality is Go's identity of an input, not Rust's `==` on the payload:
/// `Byte(x) == Uint8(x)`, `Rune(x) == Int32(x)`, and floats are equal when
/// their bits are (so a NaN equals itself and `0.0 != -0.0`), which is what
/// decides whether two inputs make the same corpus file.
///
/// ```
/// use fuzzshm_go::value::Value;
/// assert_eq!(Value::Byte(7), Value::Uint8(7));
/// assert_ne!(Value::Float64(0.0), Value::Float64(-0.0));
/// assert_eq!(Value::String(b"go".to_vec()).zero_like(), Value::String(Vec::new()));
/// ```
#[derive(Debug, Clone)]
pub enum Value {
    /// `[]byte`.
    Bytes(Vec<u8>),
    /// `string` (any bytes).
    String(Vec<u8>),
    /// `bool`.
    Bool(bool),
    /// `byte` (= `uint8`), read as `byte(…)`.
    Byte(u8),
    /// `rune` (= `int32`), read as `rune(…)`.
    Rune(i32),
    /// `int` (64-bit).
    Int(i64),
    /// `int8`.
    Int8(i8),
    /// `int16`.
    Int16(i16),
    /// `int32` (= `rune`), read as `int32(…)`.
    Int32(i32),
    /// `int64`.
    Int64(i64),
    /// `uint` (64-bit).
    Uint(u64),
    /// `uint8` (= `byte`), read as `uint8(…)`.
    Uint8(u8),
    /// `uint16`.
    Uint16(u16),
    /// `uint32`.
    Uint32(u32),
    /// `uint64`.
    Uint64(u64),
    /// `float32`, any bit pattern (NaN payloads are kept).
    Float32(f32),
    /// `float64`, any bit pattern (NaN payloads are kept).
    Float64(f64),
}

/// A value reduced to its Go type and bits: what equality and hashing see.
#[derive(PartialEq, Eq, Hash)]
enum Identity<'a> {
    Bytes(&'a [u8]),
    String(&'a [u8]),
    Bool(bool),
    Uint8(u8),
    Int32(i32),
    Int(i64),
    Int8(i8),
    Int16(i16),
    Int64(i64),
    Uint(u64),
    Uint16(u16),
    Uint32(u32),
    Uint64(u64),
    Float32(u32),
    Float64(u64),
}

impl Value {
    /// The Go type, as Go's `%T` prints it (so `uint8` for a `byte`,
    /// `int32` for a `rune`, `[]uint8` for a `[]byte`): what
    /// `reflect.Type.String()` gives for a fuzz function's parameter.
    pub fn go_type(&self) -> &'static str {
        match self.identity() {
            Identity::Bytes(_) => "[]uint8",
            Identity::String(_) => "string",
            Identity::Bool(_) => "bool",
            Identity::Uint8(_) => "uint8",
            Identity::Int32(_) => "int32",
            Identity::Int(_) => "int",
            Identity::Int8(_) => "int8",
            Identity::Int16(_) => "int16",
            Identity::Int64(_) => "int64",
            Identity::Uint(_) => "uint",
            Identity::Uint16(_) => "uint16",
            Identity::Uint32(_) => "uint32",
            Identity::Uint64(_) => "uint64",
            Identity::Float32(_) => "float32",
            Identity::Float64(_) => "float64",
        }
    }

    /// The zero value of the same type and spelling: what Go's coordinator
    /// fuzzes from when a target has no seed corpus at all (one entry of
    /// zero values, `zeroValue` in `internal/fuzz`).
    pub fn zero_like(&self) -> Value {
        match self {
            Value::Bytes(_) => Value::Bytes(Vec::new()),
            Value::String(_) => Value::String(Vec::new()),
            Value::Bool(_) => Value::Bool(false),
            Value::Byte(_) => Value::Byte(0),
            Value::Rune(_) => Value::Rune(0),
            Value::Int(_) => Value::Int(0),
            Value::Int8(_) => Value::Int8(0),
            Value::Int16(_) => Value::Int16(0),
            Value::Int32(_) => Value::Int32(0),
            Value::Int64(_) => Value::Int64(0),
            Value::Uint(_) => Value::Uint(0),
            Value::Uint8(_) => Value::Uint8(0),
            Value::Uint16(_) => Value::Uint16(0),
            Value::Uint32(_) => Value::Uint32(0),
            Value::Uint64(_) => Value::Uint64(0),
            Value::Float32(_) => Value::Float32(0.0),
            Value::Float64(_) => Value::Float64(0.0),
        }
    }

    /// Whether Go's minimizer works on this argument (`[]byte` and `string`
    /// only), and so whether a `Minimize` call may name its index.
    pub fn is_minimizable(&self) -> bool {
        matches!(self, Value::Bytes(_) | Value::String(_))
    }

    /// Whether `other` has the same Go type (`byte` and `uint8` are one
    /// type, as are `rune` and `int32`): Go's corpus check
    /// ("mismatched types") compares exactly this.
    pub fn same_type(&self, other: &Value) -> bool {
        self.go_type() == other.go_type()
    }

    fn identity(&self) -> Identity<'_> {
        match self {
            Value::Bytes(b) => Identity::Bytes(b),
            Value::String(s) => Identity::String(s),
            Value::Bool(v) => Identity::Bool(*v),
            Value::Byte(v) | Value::Uint8(v) => Identity::Uint8(*v),
            Value::Rune(v) | Value::Int32(v) => Identity::Int32(*v),
            Value::Int(v) => Identity::Int(*v),
            Value::Int8(v) => Identity::Int8(*v),
            Value::Int16(v) => Identity::Int16(*v),
            Value::Int64(v) => Identity::Int64(*v),
            Value::Uint(v) => Identity::Uint(*v),
            Value::Uint16(v) => Identity::Uint16(*v),
            Value::Uint32(v) => Identity::Uint32(*v),
            Value::Uint64(v) => Identity::Uint64(*v),
            Value::Float32(v) => Identity::Float32(v.to_bits()),
            Value::Float64(v) => Identity::Float64(v.to_bits()),
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for Value {}

impl Hash for Value {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.identity().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn byte_and_uint8_rune_and_int32_are_one_go_type_each() {
        assert_eq!(Value::Byte(200), Value::Uint8(200));
        assert_eq!(Value::Rune(-5), Value::Int32(-5));
        assert_ne!(Value::Byte(1), Value::Int8(1));
        assert_ne!(Value::Bytes(b"a".to_vec()), Value::String(b"a".to_vec()));
        assert!(Value::Byte(0).same_type(&Value::Uint8(9)));
        assert_eq!(Value::Rune(0).go_type(), "int32");
        let set: HashSet<Value> = [Value::Byte(3), Value::Uint8(3)].into_iter().collect();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn floats_compare_by_bits() {
        let nan = f64::from_bits(0x7ff8_0000_0000_0001);
        assert_eq!(Value::Float64(nan), Value::Float64(nan));
        assert_ne!(
            Value::Float64(nan),
            Value::Float64(f64::from_bits(0x7ff8_0000_0000_0000))
        );
        assert_ne!(Value::Float32(0.0), Value::Float32(-0.0));
    }

    #[test]
    fn zero_like_keeps_type_and_spelling() {
        let z = Value::Uint8(9).zero_like();
        assert!(matches!(z, Value::Uint8(0)));
        assert!(matches!(Value::Float32(-1.5).zero_like(), Value::Float32(x) if x.to_bits() == 0));
        assert!(Value::String(b"x".to_vec()).is_minimizable());
        assert!(!Value::Int(1).is_minimizable());
    }
}
