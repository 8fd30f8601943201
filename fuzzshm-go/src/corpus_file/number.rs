//! `strconv.ParseInt(s, 0, bits)`, `ParseUint(s, 0, bits)` and
//! `ParseFloat(s, bits)` on what the corpus reader hands them: a Go integer
//! or float literal the scanner accepted, with an optional leading `-`, or
//! `NaN`, `+Inf`, `-Inf`.

/// Removes the digit separators of an already validated literal.
fn strip_underscores(s: &str) -> String {
    s.chars().filter(|&c| c != '_').collect()
}

/// The magnitude of an integer literal in Go's base-0 syntax (`0x`, `0o`,
/// `0b`, a leading `0` for octal), or `None` if it is not one or overflows
/// 64 bits.
fn parse_magnitude(lit: &str) -> Result<u64, &'static str> {
    let s = strip_underscores(lit);
    let lower = s.to_ascii_lowercase();
    let (digits, radix) = if let Some(d) = lower.strip_prefix("0x") {
        (d, 16)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (d, 8)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (d, 2)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (&lower[1..], 8)
    } else {
        (lower.as_str(), 10)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err("invalid syntax");
    }
    u64::from_str_radix(digits, radix).map_err(|_| "value out of range")
}

/// `strconv.ParseInt(s, 0, bits)`.
pub(super) fn parse_int(s: &str, bits: u32) -> Result<i64, &'static str> {
    let (neg, lit) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let mag = parse_magnitude(lit)?;
    let limit = 1u64 << (bits - 1);
    if (!neg && mag >= limit) || (neg && mag > limit) {
        return Err("value out of range");
    }
    Ok(if neg {
        (mag as i64).wrapping_neg()
    } else {
        mag as i64
    })
}

/// `strconv.ParseUint(s, 0, bits)`.
pub(super) fn parse_uint(s: &str, bits: u32) -> Result<u64, &'static str> {
    let mag = parse_magnitude(s)?;
    if bits < 64 && mag >> bits != 0 {
        return Err("value out of range");
    }
    Ok(mag)
}

/// A float format: explicit mantissa bits and exponent bits.
#[derive(Clone, Copy)]
pub(super) struct Format {
    mant_bits: u32,
    exp_bits: u32,
}

/// `float32`.
pub(super) const F32: Format = Format {
    mant_bits: 23,
    exp_bits: 8,
};
/// `float64`.
pub(super) const F64: Format = Format {
    mant_bits: 52,
    exp_bits: 11,
};

/// `strconv.ParseFloat(s, bits)`, as raw bits of the format (`float32`
/// bits in the low 32). Out of range is an error, as in Go; underflow to
/// zero or a denormal is not.
pub(super) fn parse_float(s: &str, fmt: Format) -> Result<u64, &'static str> {
    let is32 = fmt.mant_bits == 23;
    match s {
        // Go's math.NaN() is 0x7ff8000000000001; float32(math.NaN()) keeps
        // only the top payload bit.
        "NaN" => {
            return Ok(if is32 {
                0x7fc0_0000
            } else {
                0x7ff8_0000_0000_0001
            })
        }
        "+Inf" => {
            return Ok(if is32 {
                0x7f80_0000
            } else {
                0x7ff0_0000_0000_0000
            })
        }
        "-Inf" => {
            return Ok(if is32 {
                0xff80_0000
            } else {
                0xfff0_0000_0000_0000
            })
        }
        _ => {}
    }
    let (neg, lit) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let lit = strip_underscores(lit).to_ascii_lowercase();
    let bits = if let Some(hex) = lit.strip_prefix("0x") {
        parse_hex_float(hex, fmt)?
    } else {
        // ParseFloat knows no 0o / 0b, and reads a leading 0 as decimal.
        if !lit
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'+' | b'-'))
        {
            return Err("invalid syntax");
        }
        if is32 {
            let v: f32 = lit.parse().map_err(|_| "invalid syntax")?;
            u64::from(v.to_bits())
        } else {
            let v: f64 = lit.parse().map_err(|_| "invalid syntax")?;
            v.to_bits()
        }
    };
    let exp_all_ones = ((1u64 << fmt.exp_bits) - 1) << fmt.mant_bits;
    if bits & exp_all_ones == exp_all_ones {
        return Err("value out of range");
    }
    let sign = 1u64 << (fmt.mant_bits + fmt.exp_bits);
    Ok(if neg { bits | sign } else { bits })
}

/// A hexadecimal float (`1.8p3`, without its `0x`), correctly rounded
/// (to nearest, ties to even) into `fmt`; infinite on overflow.
fn parse_hex_float(s: &str, fmt: Format) -> Result<u64, &'static str> {
    let (mant, exp) = s.split_once('p').ok_or("invalid syntax")?;
    let exp: i64 = match exp.strip_prefix('+') {
        Some(e) => e.parse(),
        None => exp.parse(),
    }
    .map_err(|_| "invalid syntax")?;
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return Err("invalid syntax");
    }
    // Keep the first 30 significant hex digits exactly (120 bits), the
    // rest as a sticky bit: more than enough to round 53 bits.
    let mut m: u128 = 0;
    let mut e2: i64 = exp;
    let mut kept = 0;
    let mut sticky = false;
    for (i, c) in int.chars().chain(frac.chars()).enumerate() {
        let d = c.to_digit(16).ok_or("invalid syntax")?;
        let in_frac = i >= int.len();
        if m == 0 && d == 0 {
            if in_frac {
                e2 -= 4;
            }
            continue;
        }
        if kept < 30 {
            m = m << 4 | u128::from(d);
            kept += 1;
            if in_frac {
                e2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !in_frac {
                e2 += 4;
            }
        }
    }
    Ok(round_binary(m, sticky, e2, fmt))
}

/// The bits of `fmt` nearest to `(m + sticky·ε) · 2^e2` (ties to even),
/// with `m` below 2^120.
fn round_binary(m: u128, sticky: bool, e2: i64, fmt: Format) -> u64 {
    if m == 0 {
        return 0;
    }
    let p = i64::from(fmt.mant_bits) + 1;
    let bias = (1i64 << (fmt.exp_bits - 1)) - 1;
    let emin = 1 - bias;
    let width = 128 - i64::from(m.leading_zeros());
    let lead = e2 + width - 1;
    // Exponent of the result's lowest bit: p bits below the leading one, but
    // never below the denormals' grid.
    let mut lsb = (lead - (p - 1)).max(emin - i64::from(fmt.mant_bits));
    let shift = lsb - e2;
    let mut q = if shift <= 0 {
        m << -shift
    } else if shift >= 128 {
        0 // below half the smallest denormal
    } else {
        let q = m >> shift;
        let rem = m & ((1u128 << shift) - 1);
        let half = 1u128 << (shift - 1);
        let odd = q & 1 == 1;
        q + u128::from(rem > half || (rem == half && (sticky || odd)))
    };
    if q >> p != 0 {
        // Rounding carried into a new leading bit.
        q >>= 1;
        lsb += 1;
    }
    if q == 0 {
        return 0;
    }
    let top = lsb + (128 - i64::from(q.leading_zeros())) - 1;
    if top > bias {
        return ((1u64 << fmt.exp_bits) - 1) << fmt.mant_bits;
    }
    let mask = (1u64 << fmt.mant_bits) - 1;
    if top < emin {
        return q as u64; // denormal: lsb is the grid's
    }
    ((top + bias) as u64) << fmt.mant_bits | (q as u64 & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Expected values: Go's strconv on the same strings (go1.19.8, go1.27.3).
    #[test]
    fn ints_as_strconv() {
        assert_eq!(parse_int("-0x10", 64), Ok(-16));
        assert_eq!(parse_int("0o17", 8), Ok(15));
        assert_eq!(parse_int("017", 8), Ok(15));
        assert_eq!(parse_int("0b1_0", 8), Ok(2));
        assert_eq!(parse_int("1_000", 16), Ok(1000));
        assert_eq!(parse_int("-128", 8), Ok(-128));
        assert!(parse_int("128", 8).is_err());
        assert_eq!(parse_int("-9223372036854775808", 64), Ok(i64::MIN));
        assert!(parse_int("9223372036854775808", 64).is_err());
        assert_eq!(parse_uint("0xff", 8), Ok(255));
        assert!(parse_uint("256", 8).is_err());
        assert!(parse_uint("-1", 8).is_err());
        assert_eq!(parse_uint("18446744073709551615", 64), Ok(u64::MAX));
    }

    #[test]
    fn floats_as_strconv() {
        let f64b = |s| parse_float(s, F64).map(f64::from_bits);
        let f32b = |s| parse_float(s, F32).map(|b| f32::from_bits(b as u32));
        assert_eq!(f64b("1.5"), Ok(1.5));
        assert_eq!(f64b("-0"), Ok(-0.0));
        assert_eq!(f64b("017"), Ok(17.0));
        assert_eq!(f64b("1_000.5"), Ok(1000.5));
        assert_eq!(f64b("0x1.8p3"), Ok(12.0));
        assert_eq!(f64b("0x.8p1"), Ok(1.0));
        assert_eq!(f64b("0x1p-1074"), Ok(5e-324));
        assert_eq!(f64b("0x1p-1075"), Ok(0.0));
        assert_eq!(f64b("0x1.8p-1075"), Ok(5e-324));
        assert_eq!(f64b("0x1.fffffffffffff8p0"), Ok(2.0));
        assert_eq!(f64b("0x1.fffffffffffffp1023"), Ok(f64::MAX));
        assert!(f64b("0x1p1024").is_err());
        assert!(f64b("0x10").is_err());
        assert!(f64b("0o17").is_err());
        assert!(f64b("1e309").is_err());
        assert_eq!(f64b("1e-400"), Ok(0.0));
        assert_eq!(f32b("0x1p-149"), Ok(f32::from_bits(1)));
        assert_eq!(f32b("3.4028235e38"), Ok(f32::MAX));
        assert!(f32b("1e39").is_err());
        assert_eq!(f32b("0x1.000001p0"), Ok(1.0));
        assert_eq!(f32b("0x1.000003p0"), Ok(f32::from_bits(0x3f80_0002)));
        assert_eq!(parse_float("NaN", F64), Ok(0x7ff8_0000_0000_0001));
        assert_eq!(parse_float("NaN", F32), Ok(0x7fc0_0000));
    }
}
