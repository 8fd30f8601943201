//! One value line of a corpus file, read as Go's reader reads it: the line
//! is a Go expression (`go/parser`), which must be a one-argument call of a
//! fuzzable type (or `math.Float32frombits` / `math.Float64frombits`) on a
//! literal, `NaN`, `Inf` or a negated literal.
//!
//! Only the expressions that can form such a call are recognized; anything
//! else Go would parse (or reject) is an error here too. So the scanner's
//! checks that decide between a value and an error are all kept: literals
//! are validated as `go/scanner` validates them (digit separators, escapes,
//! prefixes), comments are skipped, and a NUL, an invalid UTF-8 sequence or
//! a byte order mark past the start make the line an error.

use super::number::{self, F32, F64};
use super::quote::decode_rune;
use crate::value::Value;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `Int`, `Float` and `Imag` keep their literal text.
    Int(String),
    Float(String),
    Imag,
    /// A rune literal's value.
    Char(u32),
    /// A string literal's value (escapes resolved).
    Str(Vec<u8>),
    /// `( ) [ ] , . ...` and the unary operators (`<-` included).
    Punct(&'static str),
}

type Res<T> = Result<T, String>;

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Lexer<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<u8> {
        self.s.get(self.pos + k).copied()
    }

    fn tokens(mut self) -> Res<Vec<Tok>> {
        let mut out = Vec::new();
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b'/' if self.peek_at(1) == Some(b'/') => self.pos = self.s.len(),
                b'/' if self.peek_at(1) == Some(b'*') => {
                    let end =
                        find(&self.s[self.pos + 2..], b"*/").ok_or("comment not terminated")?;
                    self.pos += 2 + end + 2;
                }
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                    let start = self.pos;
                    while matches!(
                        self.peek(),
                        Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_')
                    ) {
                        self.pos += 1;
                    }
                    if self.peek().is_some_and(|c| c >= 0x80) {
                        // A Unicode identifier: never a type name Go accepts.
                        return Err("expected []byte or primitive type".into());
                    }
                    out.push(Tok::Ident(ascii(&self.s[start..self.pos])));
                }
                b'0'..=b'9' => out.push(self.number()?),
                b'.' if self.peek_at(1).is_some_and(|c| c.is_ascii_digit()) => {
                    out.push(self.number()?)
                }
                b'.' if self.s[self.pos..].starts_with(b"...") => {
                    self.pos += 3;
                    out.push(Tok::Punct("..."));
                }
                b'\'' => out.push(self.rune_lit()?),
                b'"' => out.push(self.string_lit()?),
                b'`' => out.push(self.raw_string_lit()?),
                b'<' if self.peek_at(1) == Some(b'-') => {
                    self.pos += 2;
                    out.push(Tok::Punct("<-"));
                }
                _ => {
                    let p = ["(", ")", "[", "]", ",", ".", "-", "+", "!", "^", "&", "~"]
                        .into_iter()
                        .find(|p| p.as_bytes()[0] == c)
                        .ok_or_else(|| format!("unexpected character {:?}", char::from(c)))?;
                    self.pos += 1;
                    out.push(Tok::Punct(p));
                }
            }
        }
        Ok(out)
    }

    /// A number literal, checked as `go/scanner`'s `scanNumber` checks it.
    fn number(&mut self) -> Res<Tok> {
        let start = self.pos;
        let mut prefix = 0u8; // b'x', b'o', b'b', b'0' (legacy octal) or 0
        let mut has_digits = false;
        let mut bad_digit = false; // an 8 or 9 in an octal, a 2..9 in a binary
        let mut is_float = false;
        let digits = |lx: &mut Self, base: u32, has: &mut bool, bad: &mut bool| {
            while let Some(c) = lx.peek() {
                let ok = if base == 16 {
                    c.is_ascii_hexdigit()
                } else {
                    c.is_ascii_digit()
                };
                if !ok && c != b'_' {
                    break;
                }
                if c != b'_' {
                    *has = true;
                    *bad |= base < 10 && u32::from(c - b'0') >= base;
                }
                lx.pos += 1;
            }
        };
        let mut base = 10;
        if self.peek() != Some(b'.') {
            if self.peek() == Some(b'0') {
                self.pos += 1;
                match self.peek().map(|c| c.to_ascii_lowercase()) {
                    Some(p @ (b'x' | b'o' | b'b')) => {
                        self.pos += 1;
                        prefix = p;
                        base = match p {
                            b'x' => 16,
                            b'o' => 8,
                            _ => 2,
                        };
                    }
                    _ => {
                        prefix = b'0';
                        base = 8;
                        has_digits = true;
                    }
                }
            }
            digits(self, base, &mut has_digits, &mut bad_digit);
        }
        if self.peek() == Some(b'.') {
            is_float = true;
            if prefix == b'o' || prefix == b'b' {
                return Err("invalid radix point in literal".into());
            }
            self.pos += 1;
            digits(self, base, &mut has_digits, &mut bad_digit);
        }
        if !has_digits {
            return Err("literal has no digits".into());
        }
        match self.peek().map(|c| c.to_ascii_lowercase()) {
            Some(e @ (b'e' | b'p')) => {
                if e == b'e' && prefix != 0 && prefix != b'0' {
                    return Err("'e' exponent requires decimal mantissa".into());
                }
                if e == b'p' && prefix != b'x' {
                    return Err("'p' exponent requires hexadecimal mantissa".into());
                }
                self.pos += 1;
                is_float = true;
                if matches!(self.peek(), Some(b'+' | b'-')) {
                    self.pos += 1;
                }
                let (mut exp_digits, mut unused) = (false, false);
                digits(self, 10, &mut exp_digits, &mut unused);
                if !exp_digits {
                    return Err("exponent has no digits".into());
                }
            }
            _ if prefix == b'x' && is_float => {
                return Err("hexadecimal mantissa requires a 'p' exponent".into());
            }
            _ => {}
        }
        let imag = self.peek() == Some(b'i');
        if imag {
            self.pos += 1;
        }
        let lit = ascii(&self.s[start..self.pos]);
        if !is_float && !imag && bad_digit {
            return Err(format!("invalid digit in literal {lit}"));
        }
        if !separators_ok(&lit) {
            return Err("'_' must separate successive digits".into());
        }
        Ok(if imag {
            Tok::Imag
        } else if is_float {
            Tok::Float(lit)
        } else {
            Tok::Int(lit)
        })
    }

    /// One character or escape inside a rune or string literal delimited by
    /// `quote`. Returns the rune, or the byte of a `\x` / octal escape.
    fn char_in(&mut self, quote: u8) -> Res<Unquoted> {
        let c = self.peek().ok_or("literal not terminated")?;
        if c == b'\n' {
            return Err("literal not terminated".into());
        }
        if c != b'\\' {
            // The line was checked to be valid UTF-8 up front.
            let (r, w) = decode_rune(&self.s[self.pos..]).ok_or("illegal UTF-8 encoding")?;
            self.pos += w;
            return Ok(Unquoted::Rune(r));
        }
        self.pos += 1;
        let e = self.peek().ok_or("escape sequence not terminated")?;
        self.pos += 1;
        let simple = match e {
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(0x0a),
            b'r' => Some(0x0d),
            b't' => Some(0x09),
            b'v' => Some(0x0b),
            b'\\' => Some(u32::from(b'\\')),
            _ if e == quote => Some(u32::from(quote)),
            _ => None,
        };
        if let Some(r) = simple {
            return Ok(Unquoted::Rune(r));
        }
        let (n, base, max) = match e {
            b'0'..=b'7' => {
                self.pos -= 1;
                (3, 8, 255)
            }
            b'x' => (2, 16, 255),
            b'u' => (4, 16, 0x10ffff),
            b'U' => (8, 16, 0x10ffff),
            _ => return Err("unknown escape sequence".into()),
        };
        let mut x: u32 = 0;
        for _ in 0..n {
            let d = self
                .peek()
                .and_then(|c| char::from(c).to_digit(base))
                .ok_or("illegal character in escape sequence")?;
            x = x * base + d;
            self.pos += 1;
        }
        if x > max || (0xd800..0xe000).contains(&x) {
            return Err("escape is invalid Unicode code point".into());
        }
        Ok(if max == 255 {
            Unquoted::Byte(x as u8)
        } else {
            Unquoted::Rune(x)
        })
    }

    fn rune_lit(&mut self) -> Res<Tok> {
        self.pos += 1;
        let mut value = None;
        let mut n = 0;
        loop {
            match self.peek() {
                Some(b'\'') => {
                    self.pos += 1;
                    break;
                }
                None | Some(b'\n') => return Err("rune literal not terminated".into()),
                _ => {
                    value = Some(self.char_in(b'\'')?);
                    n += 1;
                }
            }
        }
        match (n, value) {
            (1, Some(Unquoted::Rune(r))) => Ok(Tok::Char(r)),
            (1, Some(Unquoted::Byte(b))) => Ok(Tok::Char(u32::from(b))),
            (0, _) => Err("empty rune literal or unescaped ' in rune literal".into()),
            _ => Err("illegal rune literal".into()),
        }
    }

    fn string_lit(&mut self) -> Res<Tok> {
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(Tok::Str(out));
                }
                None | Some(b'\n') => return Err("string literal not terminated".into()),
                _ => match self.char_in(b'"')? {
                    Unquoted::Byte(b) => out.push(b),
                    Unquoted::Rune(r) => {
                        let c = char::from_u32(r).ok_or("escape is invalid Unicode code point")?;
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                },
            }
        }
    }

    fn raw_string_lit(&mut self) -> Res<Tok> {
        self.pos += 1;
        let len = self.s[self.pos..]
            .iter()
            .position(|&c| c == b'`')
            .ok_or("raw string literal not terminated")?;
        // Go drops carriage returns from raw strings.
        let value = self.s[self.pos..self.pos + len]
            .iter()
            .copied()
            .filter(|&c| c != b'\r')
            .collect();
        self.pos += len + 1;
        Ok(Tok::Str(value))
    }
}

enum Unquoted {
    Rune(u32),
    Byte(u8),
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn ascii(b: &[u8]) -> String {
    b.iter().map(|&c| char::from(c)).collect()
}

/// `go/scanner`'s rule for `_` in a number: only between digits, or
/// between a base prefix (`0x`, `0o`, `0b`) and a digit.
fn separators_ok(lit: &str) -> bool {
    let b = lit.as_bytes();
    let hex = b.len() >= 2 && b[0] == b'0' && b[1].eq_ignore_ascii_case(&b'x');
    let prefixed =
        b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'x' | b'o' | b'b');
    // What came before: b'0' a digit (or a prefix), b'_', or b'.' anything else.
    let mut prev = if prefixed { b'0' } else { b'.' };
    for &c in &b[if prefixed { 2 } else { 0 }..] {
        let class = if c == b'_' {
            if prev != b'0' {
                return false;
            }
            b'_'
        } else if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            b'0'
        } else {
            if prev == b'_' {
                return false;
            }
            b'.'
        };
        prev = class;
    }
    prev != b'_'
}

/// The scanner's whole-source checks: valid UTF-8, no NUL, no byte order
/// mark except one at the very start (which is skipped).
fn source_checked(line: &[u8]) -> Res<&[u8]> {
    let line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
    let text = std::str::from_utf8(line).map_err(|_| "illegal UTF-8 encoding")?;
    if text.contains('\0') {
        return Err("illegal character NUL".into());
    }
    if text.contains('\u{feff}') {
        return Err("illegal byte order mark".into());
    }
    Ok(line)
}

/// The call's callee, as `go/ast` would classify it.
enum Callee {
    ByteSlice,
    Named(String),
    /// `math.Float32frombits` (false) or `math.Float64frombits` (true).
    FromBits(bool),
}

/// The argument: an optional unary operator and a literal or identifier.
struct Arg {
    op: Option<&'static str>,
    operand: Tok,
}

fn parse_call(toks: &[Tok]) -> Res<(Callee, Arg)> {
    let p = |s| Tok::Punct(s);
    let at = |i: usize| toks.get(i);
    let (callee, mut i) = match at(0) {
        Some(Tok::Punct("[")) => {
            if at(1) != Some(&p("]")) {
                return Err("expected []byte or primitive type".into());
            }
            if at(2) != Some(&Tok::Ident("byte".into())) {
                return Err("expected []byte".into());
            }
            (Callee::ByteSlice, 3)
        }
        Some(Tok::Ident(x)) if at(1) == Some(&p(".")) => {
            let sel = match at(2) {
                Some(Tok::Ident(sel)) => sel,
                _ => return Err("expected selector".into()),
            };
            match (x.as_str(), sel.as_str()) {
                ("math", "Float32frombits") => (Callee::FromBits(false), 3),
                ("math", "Float64frombits") => (Callee::FromBits(true), 3),
                _ => return Err("invalid selector type".into()),
            }
        }
        Some(Tok::Ident(x)) => (Callee::Named(x.clone()), 1),
        _ => return Err("expected call expression".into()),
    };
    if at(i) != Some(&p("(")) {
        return Err("expected call expression".into());
    }
    i += 1;
    let op = match at(i) {
        Some(Tok::Punct(o @ ("-" | "+" | "!" | "^" | "&" | "~" | "<-"))) => {
            i += 1;
            Some(*o)
        }
        _ => None,
    };
    let operand = match at(i) {
        Some(
            t @ (Tok::Ident(_)
            | Tok::Int(_)
            | Tok::Float(_)
            | Tok::Imag
            | Tok::Char(_)
            | Tok::Str(_)),
        ) => t.clone(),
        Some(Tok::Punct(")")) if op.is_none() => {
            return Err("expected call expression with 1 argument; got 0".into())
        }
        _ => return Err("literal value required for primitive type".into()),
    };
    i += 1;
    if at(i) == Some(&p("...")) {
        i += 1;
    }
    if at(i) == Some(&p(",")) {
        i += 1;
    }
    if at(i) != Some(&p(")")) {
        return Err("expected call expression with 1 argument".into());
    }
    if i + 1 != toks.len() {
        return Err("expected 'EOF'".into());
    }
    Ok((callee, Arg { op, operand }))
}

/// The literal kind and text Go's reader goes on with (`val`, `kind`).
enum Lit {
    Int(String),
    Float(String),
    Char(u32),
    Str(Vec<u8>),
    Other,
}

fn literal(arg: Arg) -> Res<Lit> {
    Ok(match (arg.op, arg.operand) {
        (Some(op), Tok::Ident(name)) => {
            if name != "Inf" {
                return Err("expected operation on int or float type".into());
            }
            Lit::Float(if op == "-" { "-Inf" } else { "+Inf" }.into())
        }
        (Some(op), operand) => {
            if op != "-" {
                return Err(format!("unsupported operation on int/float: {op}"));
            }
            match operand {
                Tok::Int(s) => Lit::Int(format!("-{s}")),
                Tok::Float(s) => Lit::Float(format!("-{s}")),
                // "-'x'" and "-\"x\"" are never valid after unquoting.
                Tok::Char(_) | Tok::Str(_) => return Err("invalid syntax".into()),
                _ => Lit::Other,
            }
        }
        (None, Tok::Ident(name)) => {
            if name != "NaN" {
                return Err("literal value required for primitive type".into());
            }
            Lit::Float("NaN".into())
        }
        (None, Tok::Int(s)) => Lit::Int(s),
        (None, Tok::Float(s)) => Lit::Float(s),
        (None, Tok::Char(c)) => Lit::Char(c),
        (None, Tok::Str(s)) => Lit::Str(s),
        (None, _) => Lit::Other,
    })
}

/// One trimmed, non-empty value line, as `parseCorpusValue` reads it.
pub(super) fn parse_value(line: &[u8]) -> Res<Value> {
    let line = source_checked(line)?;
    let toks = Lexer { s: line, pos: 0 }.tokens()?;
    let (callee, arg) = parse_call(&toks)?;
    let name = match callee {
        Callee::ByteSlice => {
            return match (arg.op, arg.operand) {
                (None, Tok::Str(s)) => Ok(Value::Bytes(s)),
                _ => Err("string literal required for type []byte".into()),
            }
        }
        Callee::FromBits(wide) => {
            let (kind_ok, v) = match literal(arg)? {
                Lit::Int(s) => (true, s),
                Lit::Float(s) => (wide, s),
                _ => (false, String::new()),
            };
            if !kind_ok {
                return Err("integer literal required for math.FloatNNfrombits type".into());
            }
            return if wide {
                Ok(Value::Float64(f64::from_bits(number::parse_uint(&v, 64)?)))
            } else {
                Ok(Value::Float32(f32::from_bits(
                    number::parse_uint(&v, 32)? as u32
                )))
            };
        }
        Callee::Named(name) => name,
    };
    if name == "bool" {
        return match (arg.op, arg.operand) {
            (None, Tok::Ident(id)) if id == "true" => Ok(Value::Bool(true)),
            (None, Tok::Ident(id)) if id == "false" => Ok(Value::Bool(false)),
            (None, Tok::Ident(_)) => Err("true or false required for type bool".into()),
            _ => Err("malformed bool".into()),
        };
    }
    let lit = literal(arg)?;
    let int = |bits| match &lit {
        Lit::Int(s) => number::parse_int(s, bits).map_err(String::from),
        _ => Err("integer literal required for int types".to_string()),
    };
    let uint = |bits| match &lit {
        Lit::Int(s) => number::parse_uint(s, bits).map_err(String::from),
        _ => Err("integer literal required for uint types".to_string()),
    };
    let float = |fmt| match &lit {
        Lit::Int(s) | Lit::Float(s) => number::parse_float(s, fmt).map_err(String::from),
        _ => Err("float or integer literal required for float type".to_string()),
    };
    Ok(match name.as_str() {
        "string" => match lit {
            Lit::Str(s) => Value::String(s),
            _ => return Err("string literal value required for type string".into()),
        },
        "byte" => match lit {
            Lit::Int(_) => Value::Byte(uint(8)? as u8),
            Lit::Char(c) if c < 256 => Value::Byte(c as u8),
            Lit::Char(_) => return Err("can only encode single byte to a byte type".into()),
            _ => return Err("character literal required for byte/rune types".into()),
        },
        "rune" => match lit {
            Lit::Int(_) => Value::Rune(int(32)? as i32),
            Lit::Char(c) => Value::Rune(c as i32),
            _ => return Err("character literal required for byte/rune types".into()),
        },
        "int" => Value::Int(int(64)?),
        "int8" => Value::Int8(int(8)? as i8),
        "int16" => Value::Int16(int(16)? as i16),
        "int32" => Value::Int32(int(32)? as i32),
        "int64" => Value::Int64(int(64)?),
        "uint" => Value::Uint(uint(64)?),
        "uint8" => Value::Uint8(uint(8)? as u8),
        "uint16" => Value::Uint16(uint(16)? as u16),
        "uint32" => Value::Uint32(uint(32)? as u32),
        "uint64" => Value::Uint64(uint(64)?),
        "float32" => Value::Float32(f32::from_bits(float(F32)? as u32)),
        "float64" => Value::Float64(f64::from_bits(float(F64)?)),
        _ => return Err("expected []byte or primitive type".into()),
    })
}
