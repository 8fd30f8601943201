//! The mutator replay, black box: real instrumented `go test -c -fuzz`
//! workers (Go 1.19 and 1.27) of fuzz targets that append every input they
//! receive to a file (`tests/replay`), driven with `Fuzz` calls of
//! `Timeout` 0 and a `Limit`. Every input the target saw must be the one
//! the replay computes, for every type, several arguments and the shared
//! scratch buffer of `[]byte` arguments; and [`rebuild`] from the header,
//! as a coordinator does it, must give the last one.
//!
//! The worker's PRNG is seeded with `GODEBUG=fuzzseed`, so the replay
//! knows its state before the first call and follows it across calls:
//! each call's header (`randState`, the start of its last chain) checks
//! that the replay kept in step.

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fuzzshm_go::corpus_file::{self, GoVersion};
use fuzzshm_go::mutate::{rebuild, Mutator};
use fuzzshm_go::rand::Pcg;
use fuzzshm_go::value::Value;
use fuzzshm_go::wire::FuzzArgs;
use fuzzshm_go::worker::{Worker, WorkerSpec};

/// `GODEBUG=fuzzseed`: the worker's PRNG is `newPcgRand` of this seed.
const FUZZ_SEED: u64 = 20261207;
/// How long one `Fuzz` call of at most a few hundred executions may take.
const CALL_DEADLINE: Duration = Duration::from_secs(60);

/// A directory under the target directory, removed when dropped.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new(tag: &str) -> ScratchDir {
        let dir = common::scratch(&format!("replay-{tag}-{}", std::process::id()));
        ScratchDir(dir)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn module() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/replay")
}

/// Runs `cmd` with `input` on its stdin; its stdout, or a panic with its
/// stderr if it fails or outlives `limit` (it is then killed by pid).
fn run(mut cmd: Command, input: Vec<u8>, limit: Duration) -> Vec<u8> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let pipe = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let stdout = pipe(Box::new(child.stdout.take().unwrap()));
    let stderr = pipe(Box::new(child.stderr.take().unwrap()));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let _ = writer.join();
    let (out, err) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(
        status.success(),
        "{what}: {status}: {}",
        String::from_utf8_lossy(&err)
    );
    out
}

/// How long a `go build` may take on a busy machine, cold cache.
const BUILD_LIMIT: Duration = Duration::from_secs(600);

/// The instrumented binary of `tests/replay`, built into `dir` (Go's
/// build cache under the target directory keeps a rebuild short).
fn build(go: &common::Go, dir: &Path) -> PathBuf {
    // One `go` build at a time: the machine is shared.
    static BUILD: Mutex<()> = Mutex::new(());
    let _held = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let out = dir.join(format!("replay-{}.test", go.name));
    let mut cmd = common::go_command(go, &module());
    cmd.args(["test", "-c", "-fuzz=.", "-o"]).arg(&out).arg(".");
    run(cmd, Vec::new(), BUILD_LIMIT);
    out
}

fn version(go: &common::Go) -> GoVersion {
    let out = common::go_command(go, &module())
        .arg("version")
        .output()
        .unwrap();
    GoVersion::parse(&String::from_utf8_lossy(&out.stdout)).expect("go version")
}

/// One line of the target's log, read with `like`'s types.
fn parse_line(line: &str, like: &[Value]) -> Vec<Value> {
    let fields: Vec<&str> = line.split(' ').collect();
    assert_eq!(fields.len(), like.len(), "{line}");
    let hex = |f: &str| -> Vec<u8> {
        let h = f.strip_prefix('x').expect("hex field");
        (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect()
    };
    fields
        .iter()
        .zip(like)
        .map(|(f, v)| match v {
            Value::Bytes(_) => Value::Bytes(hex(f)),
            Value::String(_) => Value::String(hex(f)),
            Value::Bool(_) => Value::Bool(f.parse().unwrap()),
            Value::Byte(_) => Value::Byte(f.parse().unwrap()),
            Value::Uint8(_) => Value::Uint8(f.parse().unwrap()),
            Value::Rune(_) => Value::Rune(f.parse().unwrap()),
            Value::Int32(_) => Value::Int32(f.parse().unwrap()),
            Value::Int(_) => Value::Int(f.parse().unwrap()),
            Value::Int8(_) => Value::Int8(f.parse().unwrap()),
            Value::Int16(_) => Value::Int16(f.parse().unwrap()),
            Value::Int64(_) => Value::Int64(f.parse().unwrap()),
            Value::Uint(_) => Value::Uint(f.parse().unwrap()),
            Value::Uint16(_) => Value::Uint16(f.parse().unwrap()),
            Value::Uint32(_) => Value::Uint32(f.parse().unwrap()),
            Value::Uint64(_) => Value::Uint64(f.parse().unwrap()),
            Value::Float32(_) => {
                Value::Float32(f32::from_bits(u32::from_str_radix(f, 16).unwrap()))
            }
            Value::Float64(_) => {
                Value::Float64(f64::from_bits(u64::from_str_radix(f, 16).unwrap()))
            }
        })
        .collect()
}

/// A worker of `target` logging to a fresh file, and the log's lines read
/// so far.
struct Session {
    worker: Worker,
    log: PathBuf,
    read: usize,
    name: String,
}

impl Session {
    fn start(go: &common::Go, binary: &Path, dir: &Path, target: &str) -> Session {
        let log = dir.join(format!("{target}.log"));
        let spec = WorkerSpec {
            binary: binary.to_path_buf(),
            dir: module(),
            target: target.into(),
            cache_dir: dir.join("cache"),
            env: vec![
                ("REPLAY_LOG".into(), log.clone().into()),
                ("GODEBUG".into(), format!("fuzzseed={FUZZ_SEED}").into()),
            ],
        };
        let worker = Worker::start(spec).unwrap_or_else(|e| panic!("{}: {target}: {e}", go.name));
        Session {
            worker,
            log,
            read: 0,
            name: format!("{} {target}", go.name),
        }
    }

    /// The inputs logged since the last call, read with `like`'s types.
    fn new_inputs(&mut self, like: &[Value]) -> Vec<Vec<Value>> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let new = lines[self.read..]
            .iter()
            .map(|l| parse_line(l, like))
            .collect();
        self.read = lines.len();
        new
    }

    fn stop(mut self) {
        let ended = self.worker.stop().expect("a running worker");
        assert_eq!(
            ended.status.code(),
            Some(0),
            "{}: {}",
            self.name,
            ended.output
        );
    }
}

/// What one target's run showed.
#[derive(Default)]
struct Seen {
    executions: usize,
    /// Mutations that changed a `[]byte` argument other than the one
    /// mutated (through the shared scratch buffer).
    shared_buffer_rewrites: usize,
}

/// Drives `target` with one `Fuzz` call per limit (the seeds in turn),
/// replaying the worker's PRNG from its seed across the calls, and checks
/// every input the target received.
fn check_target(
    go: &common::Go,
    binary: &Path,
    dir: &Path,
    target: &str,
    seeds: &[Vec<Value>],
    limits: &[i64],
) -> Seen {
    let mut s = Session::start(go, binary, dir, target);
    let capacity = s.worker.mem().capacity();
    let mut state = Pcg::seeded(FUZZ_SEED, 1).state();
    let mut seen = Seen::default();
    for (call, (&limit, seed)) in limits.iter().zip(seeds.iter().cycle()).enumerate() {
        let entry = corpus_file::marshal(seed);
        let args = FuzzArgs {
            Timeout: 0,
            Limit: limit,
            Warmup: false,
            CoverageData: None,
        };
        let r = s
            .worker
            .fuzz(&entry, args, CALL_DEADLINE)
            .unwrap_or_else(|e| panic!("{}: {e}", s.name));
        assert_eq!(
            (r.Err.as_str(), r.InternalErr.as_str()),
            ("", ""),
            "{}",
            s.name
        );
        let header = s.worker.mem().header();
        let (count, header_state, inc) = (
            header.count().load(Ordering::Relaxed),
            header.rand_state(),
            header.rand_inc(),
        );
        assert_eq!(count, limit, "{}: call {call}", s.name);
        assert_eq!(inc, 3, "{}: a worker's only PRNG is stream 1", s.name);
        let inputs = s.new_inputs(seed);
        assert_eq!(
            inputs.len(),
            limit as usize,
            "{}: call {call}: executions logged",
            s.name
        );

        // The worker: chains of 5 mutations from the seed, the PRNG going on.
        let mut done = 0;
        let mut chain_start = state;
        while done < inputs.len() {
            chain_start = state;
            let mut m = Mutator::new(Pcg::from_state(state, inc));
            let mut chain = m.chain(seed, capacity);
            for _ in 0..(inputs.len() - done).min(5) {
                let before = chain.values();
                let picked = chain.pcg().clone().intn(seed.len()).unwrap();
                chain.mutate().unwrap();
                let after = chain.values();
                seen.shared_buffer_rewrites += (0..seed.len())
                    .filter(|&j| {
                        j != picked && matches!(seed[j], Value::Bytes(_)) && before[j] != after[j]
                    })
                    .count();
                let count = done + 1;
                assert_eq!(
                    after, inputs[done],
                    "{}: call {call} (limit {limit}), count {count}: replay differs from what the target got",
                    s.name
                );
                assert_eq!(
                    rebuild(seed, chain_start, inc, count as i64, capacity).unwrap(),
                    inputs[done],
                    "{}: call {call}, count {count}: rebuild",
                    s.name
                );
                done += 1;
            }
            drop(chain);
            state = m.pcg().state();
        }
        assert_eq!(
            header_state, chain_start,
            "{}: call {call}: randState is the last chain's start",
            s.name
        );
        // What a coordinator does: the header alone.
        assert_eq!(
            rebuild(seed, header_state, inc, count, capacity).unwrap(),
            inputs[inputs.len() - 1],
            "{}: call {call}: rebuild from the header",
            s.name
        );
        seen.executions += inputs.len();
    }
    s.stop();
    seen
}

fn all_types_seeds() -> Vec<Vec<Value>> {
    use Value::*;
    vec![
        vec![
            Bytes(b"abcdefghij".to_vec()),
            String(
                "h\u{e9}llo\u{1fae8}\u{85}"
                    .as_bytes()
                    .iter()
                    .copied()
                    .chain([0xff, 0])
                    .collect(),
            ),
            Bool(true),
            Byte(250),
            Rune(-5),
            Int(i64::MAX - 50),
            Int8(-128),
            Int16(32760),
            Int32(i32::MIN + 1),
            Int64(-7),
            Uint(u64::MAX - 3),
            Uint8(0),
            Uint16(65535),
            Uint32(5),
            Uint64(0),
            Float32(1.5),
            Float64(-2.5e300),
            Bytes(b"ZYXWVUTSRQ".to_vec()),
        ],
        vec![
            Bytes(Vec::new()),
            String(Vec::new()),
            Bool(false),
            Byte(0),
            Rune(0x10ffff),
            Int(i64::MIN),
            Int8(127),
            Int16(-32768),
            Int32(i32::MAX),
            Int64(i64::MAX),
            Uint(0),
            Uint8(255),
            Uint16(0),
            Uint32(u32::MAX),
            Uint64(u64::MAX),
            Float32(f32::MAX),
            Float64(f64::from_bits(0x7ff8_0000_0000_0000)),
            Bytes(vec![0xff; 3]),
        ],
        vec![
            Bytes((0..=255).collect()),
            String(b"\"quoted\"\n\t".to_vec()),
            Bool(true),
            Byte(b'\''),
            Rune(0xd800),
            Int(0),
            Int8(0),
            Int16(0),
            Int32(-1),
            Int64(0),
            Uint(1),
            Uint8(1),
            Uint16(1),
            Uint32(0),
            Uint64(1),
            Float32(f32::from_bits(0x7fc0_0001)),
            Float64(f64::INFINITY),
            Bytes(b"x".to_vec()),
        ],
    ]
}

const LIMITS: &[i64] = &[5, 13, 1, 40, 2, 100, 7, 25, 5, 50, 3, 60, 9, 4, 30, 11];

/// Every type, mutated by Go and replayed; the two `[]byte` arguments
/// share the buffer.
#[test]
fn every_type_replays_exactly() {
    for go in common::toolchains() {
        let dir = ScratchDir::new(&format!("all-{}", go.name));
        let binary = build(&go, &dir.0);
        let seen = check_target(&go, &binary, &dir.0, "FuzzAll", &all_types_seeds(), LIMITS);
        assert_eq!(seen.executions, LIMITS.iter().sum::<i64>() as usize);
    }
}

/// Several `[]byte` and `string` arguments: the shared scratch buffer
/// rewrites earlier arguments, and the replay must show the same bytes.
#[test]
fn shared_scratch_buffer_replays_exactly() {
    use Value::*;
    for go in common::toolchains() {
        let dir = ScratchDir::new(&format!("bytes-{}", go.name));
        let binary = build(&go, &dir.0);
        let two = vec![
            vec![
                Bytes(b"0123456789".to_vec()),
                Bytes(b"abcdefghijklmnop".to_vec()),
            ],
            vec![Bytes(Vec::new()), Bytes(b"x".to_vec())],
            vec![Bytes(vec![7; 300]), Bytes(b"short".to_vec())],
        ];
        let seen = check_target(&go, &binary, &dir.0, "FuzzTwoBytes", &two, LIMITS);
        assert!(
            seen.shared_buffer_rewrites > 20,
            "{}: {} rewrites",
            go.name,
            seen.shared_buffer_rewrites
        );
        let three = vec![
            vec![
                Bytes(b"AAAAAAAAAAAA".to_vec()),
                String(b"ssssss".to_vec()),
                Bytes(b"BBBBBBBB".to_vec()),
            ],
            vec![Bytes(b"a".to_vec()), String(Vec::new()), Bytes(vec![0; 64])],
        ];
        let seen = check_target(&go, &binary, &dir.0, "FuzzBytesStringBytes", &three, LIMITS);
        assert!(
            seen.shared_buffer_rewrites > 20,
            "{}: {} rewrites",
            go.name,
            seen.shared_buffer_rewrites
        );
    }
}

/// Go's reader reads what ours reads: entries in unusual but valid
/// spellings, run once unmutated (warmup), reach the target as the values
/// `unmarshal` gives; and `marshal`'s own output reaches it unchanged.
#[test]
fn go_reads_our_files_and_we_read_go_spellings() {
    let lenient = "go test fuzz v1\r\n\
        []byte(`raw\\n`) // a comment\n\
        \n\
        \t string(\"\\u00e9\\xff\\377\\U0001F600\")  \n\
        bool(false)\n\
        uint8(0x_ff)\n\
        int32(-0b101)\n\
        int(-0o17)\n\
        int8(017)\n\
        int16(1_000)\n\
        rune('\\'')\n\
        int64(-0x7fff_ffff_ffff_ffff)\n\
        uint(0B11)\n\
        byte(65)\n\
        uint16(0xFFFF)\n\
        uint32(4_294_967_295)\n\
        uint64(0o1777777777777777777777)\n\
        float32(0x1.8p-3)\n\
        math.Float64frombits(0x7ff0000000000001)\n\
        []byte(\"\\x00\\a\\b\\f\\n\\r\\t\\v\",)\n";
    let lenient_values = corpus_file::unmarshal(lenient.as_bytes()).unwrap();
    for go in common::toolchains() {
        let dir = ScratchDir::new(&format!("read-{}", go.name));
        let binary = build(&go, &dir.0);
        let v = version(&go);
        let mut s = Session::start(&go, &binary, &dir.0, "FuzzAll");
        let mut files: Vec<(Vec<u8>, Vec<Value>)> = all_types_seeds()
            .into_iter()
            .map(|seed| (corpus_file::marshal_for(&seed, v), seed))
            .collect();
        files.push((lenient.as_bytes().to_vec(), lenient_values.clone()));
        for (file, want) in files {
            let args = FuzzArgs {
                Timeout: 0,
                Limit: 1,
                Warmup: true,
                CoverageData: None,
            };
            let r = s.worker.fuzz(&file, args, CALL_DEADLINE).unwrap();
            assert_eq!(
                r.InternalErr,
                "",
                "{}: {}",
                s.name,
                String::from_utf8_lossy(&file)
            );
            let got = s.new_inputs(&want);
            assert_eq!(
                got,
                [want],
                "{}: {}",
                s.name,
                String::from_utf8_lossy(&file)
            );
        }
        s.stop();
    }
}

/// Values for the encoder check, and their input lines for
/// `tests/replay/encode`: every code point as a rune and within strings,
/// every byte, and pseudo-random byte strings, floats and integers.
fn encoder_cases() -> Vec<(Value, String)> {
    let hex = |b: &[u8]| -> String {
        std::iter::once("x".to_string())
            .chain(b.iter().map(|x| format!("{x:02x}")))
            .collect()
    };
    let mut r = Pcg::seeded(7, 1);
    let mut cases = Vec::new();
    for c in (0..=0x10ffff).chain([-1, i32::MIN, i32::MAX, 0x110000]) {
        cases.push((Value::Rune(c), format!("r {c}")));
    }
    for c in 0..=255u8 {
        cases.push((Value::Byte(c), format!("c {c}")));
    }
    for start in (0..=0x10ffffu32).step_by(64) {
        let s: String = (start..start + 64).filter_map(char::from_u32).collect();
        cases.push((
            Value::String(s.clone().into_bytes()),
            format!("s {}", hex(s.as_bytes())),
        ));
    }
    for _ in 0..5000 {
        let len = r.intn(24).unwrap();
        let bytes: Vec<u8> = (0..len)
            .flat_map(|_| match r.intn(3).unwrap() {
                // A random code point, encoded (surrogates as Go never
                // would: three bytes that are not UTF-8).
                0 => {
                    let c = r.intn(0x110000).unwrap() as u32;
                    match char::from_u32(c) {
                        Some(ch) => ch.to_string().into_bytes(),
                        None => vec![0xed, 0xa0 | (c >> 6 & 0x1f) as u8, 0x80 | (c & 0x3f) as u8],
                    }
                }
                1 => vec![r.intn(128).unwrap() as u8],
                _ => vec![r.intn(256).unwrap() as u8],
            })
            .collect();
        cases.push((Value::Bytes(bytes.clone()), format!("b {}", hex(&bytes))));
        cases.push((Value::String(bytes.clone()), format!("s {}", hex(&bytes))));
    }
    let bits64 = |r: &mut Pcg| u64::from(r.uint32()) << 32 | u64::from(r.uint32());
    for i in 0..20000 {
        let b = match i % 4 {
            0 => bits64(&mut r),
            // Short decimals, integers and powers of ten: the 'g' cut-offs.
            1 => (f64::from(r.uint32() % 2_000_000) / 10f64.powi(r.intn(12).unwrap() as i32))
                .to_bits(),
            2 => 10f64.powi(r.intn(40).unwrap() as i32 - 20).to_bits(),
            _ => f64::from(f32::from_bits(r.uint32())).to_bits(),
        };
        cases.push((Value::Float64(f64::from_bits(b)), format!("d {b:x}")));
        let b32 = match i % 3 {
            0 => r.uint32(),
            1 => (r.uint32() as f32 / 10f32.powi(r.intn(10).unwrap() as i32)).to_bits(),
            _ => 10f32.powi(r.intn(20).unwrap() as i32 - 10).to_bits(),
        };
        cases.push((Value::Float32(f32::from_bits(b32)), format!("f {b32:x}")));
    }
    for special in [
        0x7ff8_0000_0000_0001,
        0x7ff8_0000_0000_0000,
        0xfff8_0000_0000_0001,
        0x7ff0_0000_0000_0000,
        1,
        0x8000_0000_0000_0000,
    ] {
        cases.push((
            Value::Float64(f64::from_bits(special)),
            format!("d {special:x}"),
        ));
    }
    for special in [
        0x7fc0_0000u32,
        0xffc0_0000,
        0x7f80_0001,
        0x7f80_0000,
        1,
        0x8000_0000,
    ] {
        cases.push((
            Value::Float32(f32::from_bits(special)),
            format!("f {special:x}"),
        ));
    }
    for _ in 0..2000 {
        let v = bits64(&mut r) as i64;
        cases.push((Value::Int(v), format!("i int {v}")));
        cases.push((Value::Int8(v as i8), format!("i int8 {}", v as i8)));
        cases.push((Value::Int16(v as i16), format!("i int16 {}", v as i16)));
        cases.push((Value::Int64(v), format!("i int64 {v}")));
        cases.push((Value::Uint(v as u64), format!("u uint {}", v as u64)));
        cases.push((Value::Uint16(v as u16), format!("u uint16 {}", v as u16)));
        cases.push((Value::Uint32(v as u32), format!("u uint32 {}", v as u32)));
        cases.push((Value::Uint64(v as u64), format!("u uint64 {}", v as u64)));
    }
    cases
}

/// The encoder writes, value for value, the line Go writes: every code
/// point quoted with each toolchain's own idea of "printable", floats in
/// Go's shortest `%v`, the NaN rule, the int32/rune split. Same bytes,
/// same sha256 file names.
#[test]
fn encoder_writes_what_go_writes() {
    let cases = encoder_cases();
    let input: String = cases.iter().map(|(_, line)| format!("{line}\n")).collect();
    for go in common::toolchains() {
        let dir = ScratchDir::new(&format!("encode-{}", go.name));
        let v = version(&go);
        let bin = dir.0.join("encode");
        let mut cmd = common::go_command(&go, &module());
        cmd.args(["build", "-o"]).arg(&bin).arg("./encode");
        run(cmd, Vec::new(), BUILD_LIMIT);
        let out = run(Command::new(&bin), input.clone().into_bytes(), BUILD_LIMIT);
        let go_lines: Vec<&[u8]> = out.split(|&c| c == b'\n').collect();
        assert_eq!(
            go_lines.len(),
            cases.len() + 1,
            "{}: one line per value",
            go.name
        );
        let mut wrong = Vec::new();
        for ((value, input), want) in cases.iter().zip(&go_lines) {
            let file = corpus_file::marshal_for(std::slice::from_ref(value), v);
            let ours = &file[corpus_file::VERSION_LINE.len() + 1..file.len() - 1];
            if ours != *want {
                wrong.push(format!(
                    "{input}: go {:?}, ours {:?}",
                    String::from_utf8_lossy(want),
                    String::from_utf8_lossy(ours)
                ));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} ({v}): {} of {} lines differ, e.g.\n{}",
            go.name,
            wrong.len(),
            cases.len(),
            wrong[..wrong.len().min(10)].join("\n")
        );
    }
}
