//! `-fuzztime` and `-fuzzminimizetime` values: a Go duration (`10s`,
//! `1m30s`, `500ms`) or a count of executions (`1000x`).

use std::fmt;
use std::time::Duration;

/// A time or execution budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// No bound (a duration of 0, as in Go).
    Unbounded,
    /// Stop after this long.
    Time(Duration),
    /// Stop after this many executions.
    Execs(u64),
}

impl Budget {
    /// Parses `go test`'s spelling: `Nx` or a Go duration.
    ///
    /// ```
    /// use fuzzshm_go::budget::Budget;
    /// use std::time::Duration;
    /// assert_eq!(Budget::parse("1000x"), Ok(Budget::Execs(1000)));
    /// assert_eq!(Budget::parse("1m30s"), Ok(Budget::Time(Duration::from_secs(90))));
    /// assert_eq!(Budget::parse("0"), Ok(Budget::Unbounded));
    /// assert!(Budget::parse("ten").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// A message naming the bad value, as `go test` words it.
    pub fn parse(s: &str) -> Result<Budget, String> {
        if let Some(n) = s.strip_suffix('x') {
            return match n.parse::<u64>() {
                Ok(0) | Err(_) => Err(format!("invalid count {s:?}")),
                Ok(n) => Ok(Budget::Execs(n)),
            };
        }
        match parse_duration(s) {
            Some(d) if d.is_zero() => Ok(Budget::Unbounded),
            Some(d) => Ok(Budget::Time(d)),
            None => Err(format!("invalid duration {s:?}")),
        }
    }

    /// The time part as Go's `Timeout` (nanoseconds, 0 for none).
    pub fn timeout_nanos(self) -> i64 {
        match self {
            Budget::Time(d) => i64::try_from(d.as_nanos()).unwrap_or(i64::MAX),
            _ => 0,
        }
    }

    /// The count part as Go's `Limit` (0 for none).
    pub fn limit(self) -> i64 {
        match self {
            Budget::Execs(n) => i64::try_from(n).unwrap_or(i64::MAX),
            _ => 0,
        }
    }
}

impl fmt::Display for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Budget::Unbounded => f.write_str("0s"),
            Budget::Time(d) => write!(f, "{d:?}"),
            Budget::Execs(n) => write!(f, "{n}x"),
        }
    }
}

/// Go's `time.ParseDuration` for non-negative values: a sequence of
/// decimal numbers, each with a unit (`ns`, `us`, `µs`, `ms`, `s`, `m`,
/// `h`); `0` alone is allowed.
pub fn parse_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = s.strip_prefix('+').unwrap_or(s);
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..num_len].parse().ok()?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total += number * nanos_per;
    }
    (total < u64::MAX as f64).then(|| Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_as_go_reads_them() {
        assert_eq!(
            parse_duration("1h2m3.5s"),
            Some(Duration::from_millis(3_723_500))
        );
        assert_eq!(parse_duration("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("-1s"), None);
        assert_eq!(Budget::parse("0x"), Err("invalid count \"0x\"".into()));
    }
}
