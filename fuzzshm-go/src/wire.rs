//! The JSON calls and answers of Go's worker protocol (`internal/fuzz`,
//! `worker.go`): one compact object per line in each direction, with Go's
//! field names, durations in nanoseconds and byte slices in padded base64
//! (`null` for none).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One call to a worker: exactly one member is set (Go's `call`).
#[derive(Debug, Clone, Default, Serialize)]
#[allow(non_snake_case)] // Go's field names are the wire format.
pub struct Call {
    /// Liveness check; answered with `{}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Ping: Option<PingArgs>,
    /// Run (warmup) or mutate and run (fuzzing) the value in the region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Fuzz: Option<FuzzArgs>,
    /// Shrink one argument of the value in the region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub Minimize: Option<MinimizeArgs>,
}

/// Go's `pingArgs`: no fields.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PingArgs {}

/// Go's `fuzzArgs`.
#[derive(Debug, Clone, Default, Serialize)]
#[allow(non_snake_case)]
pub struct FuzzArgs {
    /// How long to fuzz in this call, in nanoseconds; 0: no bound.
    pub Timeout: i64,
    /// The most executions in this call; 0: no bound.
    pub Limit: i64,
    /// Run the value once, unmutated, and report its coverage.
    pub Warmup: bool,
    /// The coordinator's coverage mask; `None` keeps the worker's own.
    #[serde(with = "base64_opt")]
    pub CoverageData: Option<Vec<u8>>,
}

/// Go's `minimizeArgs`.
#[derive(Debug, Clone, Default, Serialize)]
#[allow(non_snake_case)]
pub struct MinimizeArgs {
    /// Time budget in nanoseconds; 0: no bound.
    pub Timeout: i64,
    /// Execution budget; 0: no bound.
    pub Limit: i64,
    /// `None`: minimize a crasher; else keep at least one of these bits.
    #[serde(with = "base64_opt")]
    pub KeepCoverage: Option<Vec<u8>>,
    /// Which argument (0-based) to shrink: a `[]byte` or `string` one.
    pub Index: usize,
}

/// Go's `fuzzResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(non_snake_case)]
#[serde(default)]
pub struct FuzzResponse {
    /// Wall time of the call in the worker, in nanoseconds.
    pub TotalDuration: i64,
    /// Run time of the input that found coverage, in nanoseconds.
    pub InterestingDuration: i64,
    /// Executions in the call (the header's `count` is authoritative).
    pub Count: i64,
    /// Warmup: the input's coverage; fuzzing: the full snapshot of the
    /// first mutant with bits outside the worker's mask.
    #[serde(with = "base64_opt")]
    pub CoverageData: Option<Vec<u8>>,
    /// Non-empty: the fuzz function failed on the last input run.
    pub Err: String,
    /// Non-empty: a problem in the worker, never a crasher.
    pub InternalErr: String,
}

/// Go's `minimizeResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[allow(non_snake_case)]
#[serde(default)]
pub struct MinimizeResponse {
    /// The minimized input was marshalled into the region.
    pub WroteToMem: bool,
    /// The failure of the minimized input (crasher case).
    pub Err: String,
    /// Coverage of the minimized input (interesting case).
    #[serde(with = "base64_opt")]
    pub CoverageData: Option<Vec<u8>>,
    /// Time spent, in nanoseconds.
    pub Duration: i64,
    /// Always 0 on the wire: read the header's `count`.
    pub Count: i64,
}

/// Go's `pingResponse`: no fields (any object is accepted).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PingResponse {}

/// `[]byte` as Go's `encoding/json` spells it: padded base64, or `null`.
mod base64_opt {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => s.serialize_str(&STANDARD.encode(b)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| STANDARD.decode(t).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_are_spelt_as_go_encodes_them() {
        let call = Call {
            Fuzz: Some(FuzzArgs {
                Timeout: 100_000_000,
                Limit: 1,
                Warmup: true,
                CoverageData: Some(vec![0, 1, 2]),
            }),
            ..Call::default()
        };
        assert_eq!(
            serde_json::to_string(&call).unwrap(),
            r#"{"Fuzz":{"Timeout":100000000,"Limit":1,"Warmup":true,"CoverageData":"AAEC"}}"#
        );
        let ping = Call {
            Ping: Some(PingArgs {}),
            ..Call::default()
        };
        assert_eq!(serde_json::to_string(&ping).unwrap(), r#"{"Ping":{}}"#);
    }

    #[test]
    fn answers_are_read_as_go_writes_them() {
        let r: FuzzResponse = serde_json::from_str(
            r#"{"TotalDuration":5,"InterestingDuration":0,"Count":7,"CoverageData":null,"Err":"boom","InternalErr":""}"#,
        )
        .unwrap();
        assert_eq!((r.Count, r.CoverageData, r.Err.as_str()), (7, None, "boom"));
        let r: MinimizeResponse =
            serde_json::from_str(r#"{"WroteToMem":true,"CoverageData":"AQI=","Unknown":1}"#)
                .unwrap();
        assert!(r.WroteToMem);
        assert_eq!(r.CoverageData, Some(vec![1, 2]));
    }
}
