//! The text Go's encoder writes for one value: `strconv.Quote` and
//! `strconv.QuoteRune` (what `%q` prints) and the shortest `%v` of a float.

use super::printable::{NEW_IN_UNICODE_17, UNICODE_13};
use super::GoVersion;
use std::fmt;

/// Whether `r` is in one of `table`'s sorted inclusive ranges.
fn in_table(table: &[(u32, u32)], r: u32) -> bool {
    let i = table.partition_point(|&(_, hi)| hi < r);
    table.get(i).is_some_and(|&(lo, _)| lo <= r)
}

/// `strconv.IsPrint` of the Unicode version that `go` ships.
fn is_print(r: u32, go: GoVersion) -> bool {
    // Go 1.16..1.20 ship Unicode 13, 1.27 ships 17. 1.21..1.26 ship 15, for
    // which no table is kept: they get 17's, which differs only for code
    // points new in 16 and 17.
    in_table(UNICODE_13, r) || (go >= GoVersion::new(1, 21, 0) && in_table(NEW_IN_UNICODE_17, r))
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn push_hex(out: &mut Vec<u8>, prefix: &[u8], v: u32, digits: u32) {
    out.extend_from_slice(prefix);
    for i in (0..digits).rev() {
        out.push(HEX[(v >> (4 * i)) as usize & 0xf]);
    }
}

fn push_utf8(out: &mut Vec<u8>, r: u32) {
    // Callers pass valid scalar values only.
    let c = char::from_u32(r).unwrap_or(char::REPLACEMENT_CHARACTER);
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// One rune inside a quoted literal delimited by `quote`, escaped exactly as
/// strconv's `appendEscapedRune` does (not ASCII-only, not graphic-only).
fn push_escaped_rune(out: &mut Vec<u8>, r: u32, quote: u8, go: GoVersion) {
    if r == u32::from(quote) || r == u32::from(b'\\') {
        out.push(b'\\');
        out.push(r as u8);
        return;
    }
    if is_print(r, go) {
        push_utf8(out, r);
        return;
    }
    let short = match r {
        0x07 => Some(b'a'),
        0x08 => Some(b'b'),
        0x0c => Some(b'f'),
        0x0a => Some(b'n'),
        0x0d => Some(b'r'),
        0x09 => Some(b't'),
        0x0b => Some(b'v'),
        _ => None,
    };
    match short {
        Some(c) => out.extend_from_slice(&[b'\\', c]),
        None if r < 0x20 || r == 0x7f => push_hex(out, b"\\x", r, 2),
        None if r < 0x10000 => push_hex(out, b"\\u", r, 4),
        None => push_hex(out, b"\\U", r, 8),
    }
}

/// Decodes one UTF-8 sequence as Go's `utf8.DecodeRune` does: `None` for an
/// invalid or truncated one (Go's `(RuneError, 1)`), else the rune and its
/// width. Surrogates, overlong forms and values past U+10FFFF are invalid.
pub(super) fn decode_rune(s: &[u8]) -> Option<(u32, usize)> {
    let width = match s.first()? {
        0x00..=0x7f => 1,
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    let seq = s.get(..width)?;
    std::str::from_utf8(seq)
        .ok()?
        .chars()
        .next()
        .map(|c| (u32::from(c), width))
}

/// `strconv.Quote(s)`, bytes in, bytes out.
pub(super) fn quote_bytes(out: &mut Vec<u8>, mut s: &[u8], go: GoVersion) {
    out.push(b'"');
    while let Some(&b) = s.first() {
        match decode_rune(s) {
            Some((r, width)) => {
                push_escaped_rune(out, r, b'"', go);
                s = &s[width..];
            }
            None => {
                push_hex(out, b"\\x", u32::from(b), 2);
                s = &s[1..];
            }
        }
    }
    out.push(b'"');
}

/// `strconv.QuoteRune(r)` for a valid rune (what `%q` prints for a `byte`
/// or a valid `rune`).
pub(super) fn quote_rune(out: &mut Vec<u8>, r: char, go: GoVersion) {
    out.push(b'\'');
    push_escaped_rune(out, u32::from(r), b'\'', go);
    out.push(b'\'');
}

/// A float type as `%v` needs it.
pub(super) trait GoFloat: Copy + fmt::LowerExp + std::str::FromStr + PartialEq {
    /// Enough decimals to print any value of the type exactly.
    const EXACT: usize;
    fn is_nan(self) -> bool;
    fn is_infinite(self) -> bool;
    fn is_sign_negative(self) -> bool;
    fn abs(self) -> Self;
}

macro_rules! go_float {
    ($t:ty, $exact:expr) => {
        impl GoFloat for $t {
            const EXACT: usize = $exact;
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            fn is_infinite(self) -> bool {
                <$t>::is_infinite(self)
            }
            fn is_sign_negative(self) -> bool {
                <$t>::is_sign_negative(self)
            }
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
        }
    };
}

// The smallest denormals have 149 (f32) and 1074 (f64) decimals.
go_float!(f32, 160);
go_float!(f64, 1100);

/// The digits and decimal exponent of `{:e}` output (`d.ddde-7`).
fn split_sci(s: &str) -> (Vec<u8>, i32) {
    let (mantissa, exp) = s.split_once('e').unwrap_or((s, "0"));
    let digits = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    (digits, exp.parse().unwrap_or(0))
}

/// The shortest digits that read back as `x` (finite, positive), chosen as
/// Go's `strconv` chooses: the ones nearest the exact value, and on an
/// exact tie between two, the one ending in an even digit. Rust's `{:e}`
/// gives the same digits except on such ties, where it rounds up.
fn shortest_digits<F: GoFloat>(x: F) -> (Vec<u8>, i32) {
    let (digits, exp) = split_sci(&format!("{x:e}"));
    let (mut exact, exact_exp) = split_sci(&format!("{x:.*e}", F::EXACT));
    while exact.len() > 1 && exact.last() == Some(&b'0') {
        exact.pop();
    }
    let n = digits.len();
    if exact.len() != n + 1 || exact[n] != b'5' {
        return (digits, exp);
    }
    // Exactly halfway between `lower` and the next n-digit number.
    let lower = exact[..n].to_vec();
    let mut upper = lower.clone();
    let mut upper_exp = exact_exp;
    match upper.iter().rposition(|&d| d != b'9') {
        Some(i) => {
            upper[i] += 1;
            upper[i + 1..].fill(b'0');
        }
        None => {
            upper.fill(b'0');
            upper[0] = b'1';
            upper_exp += 1;
        }
    }
    let reads_back = |d: &[u8], e: i32| {
        let text = format!(
            "{}.{}e{e}",
            char::from(d[0]),
            String::from_utf8_lossy(&d[1..])
        );
        text.parse::<F>().is_ok_and(|y| y == x)
    };
    let lower_even = (lower[n - 1] - b'0') % 2 == 0;
    let (mut chosen, chosen_exp) =
        match (reads_back(&lower, exact_exp), reads_back(&upper, upper_exp)) {
            (true, true) if lower_even => (lower, exact_exp),
            (_, true) => (upper, upper_exp),
            (true, false) => (lower, exact_exp),
            (false, false) => return (digits, exp),
        };
    while chosen.len() > 1 && chosen.last() == Some(&b'0') {
        chosen.pop();
    }
    (chosen, chosen_exp)
}

/// Go's `%v` of a float: `strconv.FormatFloat(v, 'g', -1, bits)`, i.e. the
/// shortest digits that read back to the same value, in `%e` form when the
/// decimal exponent is below -4 or at least 6 (the precision `'g'` uses
/// for the shortest form), `+Inf`, `-Inf` and `NaN` for the specials.
pub(super) fn push_float_g<F: GoFloat>(out: &mut Vec<u8>, x: F) {
    if x.is_nan() {
        out.extend_from_slice(b"NaN");
        return;
    }
    let neg = x.is_sign_negative();
    if x.is_infinite() {
        out.extend_from_slice(if neg { b"-Inf" } else { b"+Inf" });
        return;
    }
    if neg {
        out.push(b'-');
    }
    let (digits, exp) = shortest_digits(x.abs());
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_first().unwrap_or((&b'0', &[]));
        out.push(*first);
        if !rest.is_empty() {
            out.push(b'.');
            out.extend_from_slice(rest);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let abs = exp.unsigned_abs();
        if abs < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(abs.to_string().as_bytes());
    } else if exp < 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-exp - 1) as usize));
        out.extend_from_slice(&digits);
    } else {
        // The point goes after exp+1 digits, padding with zeros if needed.
        let int_len = exp as usize + 1;
        if digits.len() <= int_len {
            out.extend_from_slice(&digits);
            out.extend(std::iter::repeat_n(b'0', int_len - digits.len()));
        } else {
            out.extend_from_slice(&digits[..int_len]);
            out.push(b'.');
            out.extend_from_slice(&digits[int_len..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &[u8], go: GoVersion) -> String {
        let mut out = Vec::new();
        quote_bytes(&mut out, s, go);
        String::from_utf8(out).unwrap()
    }

    fn g64(v: f64) -> String {
        let mut out = Vec::new();
        push_float_g(&mut out, v);
        String::from_utf8(out).unwrap()
    }

    // Expected strings: Go's fmt.Sprintf("%q") / ("%v") output (go1.19.8 and
    // go1.27.3 agree on all of these but the last quote case).
    #[test]
    fn quote_matches_strconv() {
        let go = GoVersion::GO1_27;
        assert_eq!(q(b"FUZZ", go), r#""FUZZ""#);
        assert_eq!(q(b"a\"b\\c'd", go), r#""a\"b\\c'd""#);
        assert_eq!(
            q(b"\x07\x08\x0c\n\r\t\x0b\x00\x1f\x7f", go),
            r#""\a\b\f\n\r\t\v\x00\x1f\x7f""#
        );
        assert_eq!(
            q(b"\xff\xc3\xe9\xed\xa0\x80", go),
            r#""\xff\xc3\xe9\xed\xa0\x80""#
        );
        assert_eq!(
            q("é\u{a0}\u{85}\u{feff}\u{fffd}".as_bytes(), go),
            r#""é\u00a0\u0085\ufeff�""#
        );
        assert_eq!(
            q("\u{e0001}\u{10ffff}😀".as_bytes(), go),
            r#""\U000e0001\U0010ffff😀""#
        );
        // U+1FAE8 (SHAKING FACE) is new in Unicode 15.
        assert_eq!(
            q("\u{1fae8}".as_bytes(), GoVersion::GO1_19),
            r#""\U0001fae8""#
        );
        assert_eq!(q("\u{1fae8}".as_bytes(), go), "\"\u{1fae8}\"");
    }

    #[test]
    fn quote_rune_matches_strconv() {
        let mut out = Vec::new();
        for c in ['\'', '"', '\\', '\0', 'é', '\u{80}', '\u{ff}'] {
            quote_rune(&mut out, c, GoVersion::GO1_27);
            out.push(b' ');
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"'\'' '"' '\\' '\x00' 'é' '\u0080' 'ÿ' "#
        );
    }

    #[test]
    fn float_g_matches_fmt() {
        let cases: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (1.5, "1.5"),
            (100000.0, "100000"),
            (123456.0, "123456"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (0.000123, "0.000123"),
            (1e21, "1e+21"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (0.1, "0.1"),
            (-2.5e-7, "-2.5e-07"),
            // Exactly halfway between two shortest candidates: Go takes the
            // even one (Rust's {:e} rounds up).
            (f64::from(f32::from_bits(0x486ed9e8)), "244583.625"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for &(v, want) in cases {
            assert_eq!(g64(v), want, "{v:e}");
        }
    }

    #[test]
    fn decode_rune_is_go_strict() {
        assert_eq!(decode_rune(b"\xed\xa0\x80"), None);
        assert_eq!(decode_rune(b"\xc0\x80"), None);
        assert_eq!(decode_rune(b"\xf4\x90\x80\x80"), None);
        assert_eq!(decode_rune(b"\xe2\x82"), None);
        assert_eq!(decode_rune("€x".as_bytes()), Some((0x20ac, 3)));
    }
}
