//! The "go test fuzz v1" corpus file: what Go writes to `testdata/fuzz/FuzzX/`
//! and to its cache, and what the coordinator puts in shared memory for each
//! call (`marshalCorpusFile` / `unmarshalCorpusFile` in `internal/fuzz`).
//!
//! ```text
//! go test fuzz v1
//! []byte("FUZZ")
//! int(-5)
//! ```
//!
//! [`marshal_for`] writes the bytes Go's encoder writes, so a file's sha256
//! name is the one Go gives it. The quoting follows `strconv.Quote`, whose
//! "printable" depends on the Unicode version of the toolchain: Go 1.19
//! (Unicode 13) and Go 1.27 (Unicode 17) write some inputs differently.
//! [`unmarshal`] accepts what Go's reader accepts, in both versions (the
//! reader did not change between them).

mod number;
mod parse;
mod printable;
mod quote;

use crate::value::Value;
use std::fmt;

/// The first line of every corpus file.
pub const VERSION_LINE: &str = "go test fuzz v1";

/// A Go release, as far as the encoding cares (and for the caller's own
/// version checks).
///
/// ```
/// use fuzzshm_go::corpus_file::GoVersion;
/// let v = GoVersion::parse("go version go1.19.8 linux/amd64").unwrap();
/// assert_eq!(v, GoVersion::new(1, 19, 8));
/// assert!(GoVersion::parse("go1.27.3").unwrap() >= GoVersion::GO1_27);
/// assert_eq!(GoVersion::parse("go1.22rc1"), Some(GoVersion::new(1, 22, 0)));
/// assert_eq!(GoVersion::parse("devel +abc"), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoVersion {
    /// 1.
    pub major: u32,
    /// The release: 19 in `go1.19.8`.
    pub minor: u32,
    /// The point release: 8 in `go1.19.8` (0 for a release candidate).
    pub patch: u32,
}

impl GoVersion {
    /// Go 1.19.0.
    pub const GO1_19: GoVersion = GoVersion::new(1, 19, 0);
    /// Go 1.27.0.
    pub const GO1_27: GoVersion = GoVersion::new(1, 27, 0);

    /// `go<major>.<minor>.<patch>`.
    pub const fn new(major: u32, minor: u32, patch: u32) -> GoVersion {
        GoVersion {
            major,
            minor,
            patch,
        }
    }

    /// The first `goX.Y[.Z]` word of `s`: `go version`'s output, or
    /// `runtime.Version()`. A pre-release suffix (`rc1`, `beta2`) or a
    /// vendor's (`-bigcorp`) is ignored. `None` if there is no such word
    /// (a `devel` toolchain, for one).
    pub fn parse(s: &str) -> Option<GoVersion> {
        s.split_whitespace().find_map(|word| {
            let rest = word.strip_prefix("go")?;
            let mut nums = rest.split('.').map(|part| {
                let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<u32>().ok()
            });
            let major = nums.next()??;
            let minor = nums.next()??;
            let patch = nums.next().flatten().unwrap_or(0);
            Some(GoVersion::new(major, minor, patch))
        })
    }
}

impl fmt::Display for GoVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "go{}.{}.{}", self.major, self.minor, self.patch)
    }
}

/// `marshal_for(values, GoVersion::GO1_27)`: fine for shared memory (any
/// version reads it); use [`marshal_for`] with the toolchain at hand for a
/// file whose name must be Go's.
pub fn marshal(values: &[Value]) -> Vec<u8> {
    marshal_for(values, GoVersion::GO1_27)
}

/// The corpus file Go `go` writes for `values`, byte for byte.
///
/// Each value is one line: `[]byte(%q)`, `string(%q)`, `byte(%q)`,
/// `rune(%q)` for a valid rune and `int32(n)` otherwise, `%T(%v)` for the
/// other numbers and bools, and `math.Float64frombits(0x…)` /
/// `math.Float32frombits(0x…)` for a NaN that is not Go's `math.NaN()`.
/// Go panics on no values; this writes the version line alone, which
/// [`unmarshal`] reads back as no values.
///
/// ```
/// use fuzzshm_go::corpus_file::{marshal_for, GoVersion};
/// use fuzzshm_go::value::Value;
/// let file = marshal_for(&[Value::Bytes(b"FUZZ\xff".to_vec()), Value::Rune(-1)], GoVersion::GO1_19);
/// assert_eq!(file, b"go test fuzz v1\n[]byte(\"FUZZ\\xff\")\nint32(-1)\n");
/// ```
pub fn marshal_for(values: &[Value], go: GoVersion) -> Vec<u8> {
    let mut out = Vec::with_capacity(32 + values.len() * 16);
    out.extend_from_slice(VERSION_LINE.as_bytes());
    out.push(b'\n');
    for v in values {
        push_value(&mut out, v, go);
        out.push(b'\n');
    }
    out
}

fn push_value(out: &mut Vec<u8>, v: &Value, go: GoVersion) {
    let mut typed = |ty: &str, val: &dyn fmt::Display| {
        out.extend_from_slice(format!("{ty}({val})").as_bytes());
    };
    match v {
        Value::Int(x) => typed("int", x),
        Value::Int8(x) => typed("int8", x),
        Value::Int16(x) => typed("int16", x),
        Value::Int64(x) => typed("int64", x),
        Value::Uint(x) => typed("uint", x),
        Value::Uint16(x) => typed("uint16", x),
        Value::Uint32(x) => typed("uint32", x),
        Value::Uint64(x) => typed("uint64", x),
        Value::Bool(x) => typed("bool", x),
        // float32(math.NaN()) on every platform Go fuzzes with coverage.
        Value::Float32(x) if x.is_nan() && x.to_bits() != 0x7fc0_0000 => {
            out.extend_from_slice(format!("math.Float32frombits(0x{:x})", x.to_bits()).as_bytes());
        }
        Value::Float64(x) if x.is_nan() && x.to_bits() != 0x7ff8_0000_0000_0001 => {
            out.extend_from_slice(format!("math.Float64frombits(0x{:x})", x.to_bits()).as_bytes());
        }
        Value::Float32(x) => {
            out.extend_from_slice(b"float32(");
            quote::push_float_g(out, *x);
            out.push(b')');
        }
        Value::Float64(x) => {
            out.extend_from_slice(b"float64(");
            quote::push_float_g(out, *x);
            out.push(b')');
        }
        Value::String(s) => {
            out.extend_from_slice(b"string(");
            quote::quote_bytes(out, s, go);
            out.push(b')');
        }
        Value::Rune(r) | Value::Int32(r) => match u32::try_from(*r).ok().and_then(char::from_u32) {
            Some(c) => {
                out.extend_from_slice(b"rune(");
                quote::quote_rune(out, c, go);
                out.push(b')');
            }
            None => typed("int32", r),
        },
        Value::Byte(b) | Value::Uint8(b) => {
            out.extend_from_slice(b"byte(");
            quote::quote_rune(out, char::from(*b), go);
            out.push(b')');
        }
        Value::Bytes(b) => {
            out.extend_from_slice(b"[]byte(");
            quote::quote_bytes(out, b, go);
            out.push(b')');
        }
    }
}

/// Why a corpus file could not be read. The messages are Go's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The file is empty.
    Empty,
    /// There is no newline, so no value line.
    NoValues,
    /// The first line is not `go test fuzz v1` (a trailing `\r` is allowed).
    Version(Vec<u8>),
    /// A value line is not one of the accepted forms.
    Line {
        /// 1-based line number in the file (the version line is 1).
        number: usize,
        /// The line, trimmed of white space.
        text: Vec<u8>,
        /// What is wrong with it.
        reason: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Empty => f.write_str("cannot unmarshal empty string"),
            ParseError::NoValues => f.write_str("must include version and at least one value"),
            ParseError::Version(v) => write!(
                f,
                "unknown encoding version: {}",
                String::from_utf8_lossy(v)
            ),
            ParseError::Line {
                number,
                text,
                reason,
            } => {
                write!(
                    f,
                    "malformed line {number} {:?}: {reason}",
                    String::from_utf8_lossy(text)
                )
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// Go's `unicode.IsSpace`, which `bytes.TrimSpace` trims.
fn is_go_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n'
            | '\u{0b}'
            | '\u{0c}'
            | '\r'
            | ' '
            | '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// `bytes.TrimSpace`: Unicode white space off both ends; an invalid UTF-8
/// byte stops the trimming.
fn trim_space(mut s: &[u8]) -> &[u8] {
    while let Some((r, w)) = quote::decode_rune(s) {
        if !char::from_u32(r).is_some_and(is_go_space) {
            break;
        }
        s = &s[w..];
    }
    loop {
        let start = (s.len().saturating_sub(4)..s.len())
            .find(|&i| quote::decode_rune(&s[i..]).is_some_and(|(_, w)| i + w == s.len()));
        match start.and_then(|i| quote::decode_rune(&s[i..]).map(|(r, _)| (i, r))) {
            Some((i, r)) if char::from_u32(r).is_some_and(is_go_space) => s = &s[..i],
            _ => return s,
        }
    }
}

/// Reads a corpus file as Go's reader does.
///
/// The first line must be `go test fuzz v1` (an `\r` before its newline is
/// allowed). Each further line is trimmed of white space; blank lines are
/// skipped; the others must each be one value. Go's reader also accepts
/// `uint8(…)`/`int32(…)`, integer literals for `byte`/`rune`, any base
/// (`0x`, `0o`, `0b`, `_` separators), hex floats, raw strings, comments,
/// and a file with a version line and no values (an empty list; the caller
/// checks the count against the fuzz function, as Go does).
///
/// # Errors
///
/// [`ParseError`] naming the first line Go would reject, and why.
///
/// ```
/// use fuzzshm_go::corpus_file::unmarshal;
/// use fuzzshm_go::value::Value;
/// let file = b"go test fuzz v1\r\n[]byte(`raw`)\n\n  uint8(0x_ff) // a comment\n";
/// assert_eq!(unmarshal(file)?, vec![Value::Bytes(b"raw".to_vec()), Value::Byte(255)]);
/// assert!(unmarshal(b"go test fuzz v1\nint(1.5)").is_err());
/// # Ok::<(), fuzzshm_go::corpus_file::ParseError>(())
/// ```
pub fn unmarshal(file: &[u8]) -> Result<Vec<Value>, ParseError> {
    if file.is_empty() {
        return Err(ParseError::Empty);
    }
    let mut lines = file.split(|&c| c == b'\n');
    let first = lines.next().unwrap_or_default();
    let version = first.strip_suffix(b"\r").unwrap_or(first);
    if version != VERSION_LINE.as_bytes() {
        if !file.contains(&b'\n') {
            return Err(ParseError::NoValues);
        }
        return Err(ParseError::Version(version.to_vec()));
    }
    if !file.contains(&b'\n') {
        return Err(ParseError::NoValues);
    }
    let mut values = Vec::new();
    for (i, line) in lines.enumerate() {
        let line = trim_space(line);
        if line.is_empty() {
            continue;
        }
        let value = parse::parse_value(line).map_err(|reason| ParseError::Line {
            number: i + 2,
            text: line.to_vec(),
            reason,
        })?;
        values.push(value);
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(line: &str) -> Result<Value, ParseError> {
        let file = format!("{VERSION_LINE}\n{line}\n");
        unmarshal(file.as_bytes()).map(|mut v| {
            assert_eq!(v.len(), 1, "{line}");
            v.remove(0)
        })
    }

    // Each expected line is what go1.19.8 and go1.27.3 write for the value
    // (fmt.Sprintf("%T(%v)") / "%q" and the NaN rule, from Go's public API).
    #[test]
    fn marshal_writes_go_lines() {
        let cases: Vec<(Value, &str)> = vec![
            (Value::Bytes(b"FUZZ".to_vec()), r#"[]byte("FUZZ")"#),
            (Value::Bytes(vec![]), r#"[]byte("")"#),
            (
                Value::String(b"a\tb\"\xfe".to_vec()),
                r#"string("a\tb\"\xfe")"#,
            ),
            (Value::Bool(true), "bool(true)"),
            (Value::Byte(b'\''), r"byte('\'')"),
            (Value::Uint8(0xe9), "byte('é')"),
            (Value::Byte(0x80), r"byte('\u0080')"),
            (Value::Byte(0), r"byte('\x00')"),
            (Value::Rune('x' as i32), "rune('x')"),
            (Value::Int32(0x1f600), "rune('😀')"),
            (Value::Rune(-1), "int32(-1)"),
            (Value::Rune(0xd800), "int32(55296)"),
            (Value::Rune(0x110000), "int32(1114112)"),
            (Value::Int(i64::MIN), "int(-9223372036854775808)"),
            (Value::Int8(-128), "int8(-128)"),
            (Value::Int16(300), "int16(300)"),
            (Value::Int64(7), "int64(7)"),
            (Value::Uint(u64::MAX), "uint(18446744073709551615)"),
            (Value::Uint16(65535), "uint16(65535)"),
            (Value::Uint32(1), "uint32(1)"),
            (Value::Uint64(2), "uint64(2)"),
            (Value::Float32(1.1), "float32(1.1)"),
            (Value::Float32(16777216.0), "float32(1.6777216e+07)"),
            (
                Value::Float32(f32::from_bits(0x486ed9e8)),
                "float32(244583.62)",
            ),
            (
                Value::Float32(f32::from_bits(0x4a21dbc9)),
                "float32(2.6518902e+06)",
            ),
            (Value::Float32(f32::from_bits(0x7fc0_0000)), "float32(NaN)"),
            (
                Value::Float32(f32::from_bits(0x7fc0_0001)),
                "math.Float32frombits(0x7fc00001)",
            ),
            (
                Value::Float64(f64::from_bits(0x7ff8_0000_0000_0001)),
                "float64(NaN)",
            ),
            (
                Value::Float64(f64::from_bits(0x7ff8_0000_0000_0000)),
                "math.Float64frombits(0x7ff8000000000000)",
            ),
            (Value::Float64(-0.0), "float64(-0)"),
            (Value::Float64(f64::INFINITY), "float64(+Inf)"),
            (Value::Float64(1e100), "float64(1e+100)"),
        ];
        for (v, line) in cases {
            let file = marshal(std::slice::from_ref(&v));
            assert_eq!(
                String::from_utf8(file).unwrap(),
                format!("go test fuzz v1\n{line}\n")
            );
            assert_eq!(one(line), Ok(v), "{line}");
        }
    }

    #[test]
    fn round_trips_every_byte_and_odd_runes() {
        let all: Vec<u8> = (0..=255).collect();
        let mut vals = vec![Value::Bytes(all.clone()), Value::String(all)];
        vals.extend((0..=255u8).map(Value::Byte));
        vals.extend(
            [
                -1,
                0,
                0x7f,
                0x80,
                0xfffd,
                0xfeff,
                0xd7ff,
                0xe000,
                0x10ffff,
                0x110000,
                i32::MIN,
            ]
            .map(Value::Rune),
        );
        for go in [GoVersion::GO1_19, GoVersion::GO1_27] {
            assert_eq!(unmarshal(&marshal_for(&vals, go)).unwrap(), vals);
        }
    }

    #[test]
    fn reads_what_go_reads() {
        let ok: &[(&str, Value)] = &[
            ("uint8(255)", Value::Uint8(255)),
            ("int32(-5)", Value::Int32(-5)),
            ("byte(0x41)", Value::Byte(0x41)),
            ("rune(-1)", Value::Rune(-1)),
            ("rune('\\U0010ffff')", Value::Rune(0x10ffff)),
            ("byte('\\377')", Value::Byte(255)),
            ("int(0b1_01)", Value::Int(5)),
            ("int(-0o17)", Value::Int(-15)),
            ("int(017)", Value::Int(15)),
            ("float64(017)", Value::Float64(17.0)),
            ("float64(-Inf)", Value::Float64(f64::NEG_INFINITY)),
            ("float64(!Inf)", Value::Float64(f64::INFINITY)),
            ("float32(0x1p-2)", Value::Float32(0.25)),
            ("float64(.5e1)", Value::Float64(5.0)),
            ("float64(5)", Value::Float64(5.0)),
            (
                "math.Float64frombits(0x7ff8000000000000)",
                Value::Float64(f64::from_bits(0x7ff8_0000_0000_0000)),
            ),
            ("string(`a\\n`)", Value::String(b"a\\n".to_vec())),
            (
                "string(\"\\u00e9\\xff\")",
                Value::String(b"\xc3\xa9\xff".to_vec()),
            ),
            ("[]byte(\"x\",)", Value::Bytes(b"x".to_vec())),
            ("[]byte(\"x\"...)", Value::Bytes(b"x".to_vec())),
            ("/* c */ int ( 5 ) // c", Value::Int(5)),
            ("\u{feff}int(5)", Value::Int(5)),
            ("bool(false)", Value::Bool(false)),
        ];
        for (line, want) in ok {
            assert_eq!(one(line).as_ref(), Ok(want), "{line}");
        }
        let bad = [
            "int(1.5)",
            "int8(128)",
            "uint(-1)",
            "byte(256)",
            "byte('Ā')",
            "[]uint8(\"x\")",
            "[]byte('x')",
            "[4]byte(\"x\")",
            "string(x)",
            "string(1)",
            "bool(1)",
            "bool(-true)",
            "int(+5)",
            "int((5))",
            "(int(5))",
            "int(5)(6)",
            "int(5, 6)",
            "int()",
            "int(5);",
            "int(08)",
            "int(1__0)",
            "int(0x)",
            "float64(0x1.8)",
            "float64(1e)",
            "float64(0o1.5)",
            "float64(1e309)",
            "float32(1e39)",
            "float64(-NaN)",
            "float64(Inf)",
            "float64(1i)",
            "rune('ab')",
            "rune('')",
            "rune(-'a')",
            "string(\"\\'\")",
            "rune('\\\"')",
            "string(\"\\ud800\")",
            "int(5) x",
            "Int(5)",
            "math.NaN(1)",
            "math.Float32frombits(-1)",
            "int(5\u{feff})",
            "int(5 /* x)",
            "string(\"a",
            "uint16(65536)",
            "complex128(1)",
        ];
        for line in bad {
            assert!(one(line).is_err(), "{line} was accepted");
        }
    }

    #[test]
    fn file_level_rules() {
        assert_eq!(unmarshal(b""), Err(ParseError::Empty));
        assert_eq!(unmarshal(b"go test fuzz v1"), Err(ParseError::NoValues));
        assert_eq!(unmarshal(b"go test fuzz v1\n"), Ok(vec![]));
        assert_eq!(
            unmarshal(b"go test fuzz v2\nint(1)"),
            Err(ParseError::Version(b"go test fuzz v2".to_vec()))
        );
        assert_eq!(
            unmarshal(b"go test fuzz v1\r\n\t\xc2\xa0int(1)\r\n\n"),
            Ok(vec![Value::Int(1)])
        );
        let err = unmarshal(b"go test fuzz v1\nint(1)\n  int(x)  \n").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"malformed line 3 "int(x)": literal value required for primitive type"#
        );
        assert!(
            unmarshal(b"go test fuzz v1\n[]byte(\"\xff\")").is_err(),
            "raw invalid UTF-8"
        );
        assert!(
            unmarshal(b"go test fuzz v1\n[]byte(\"\0\")").is_err(),
            "raw NUL"
        );
    }
}
