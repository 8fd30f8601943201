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

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use fuzzshm::{CoordinatorComm, SharedMem};

use fuzzshm_go::corpus_file::{self, GoVersion};
use fuzzshm_go::mutate::{rebuild, Mutator};
use fuzzshm_go::rand::Pcg;
use fuzzshm_go::value::Value;
use fuzzshm_go::wire::{Call, FuzzArgs, FuzzResponse};
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
    let status = common::poll_child(&mut child, limit, &format!("{what} to finish"), |c| {
        c.try_wait().unwrap()
    });
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

/// A worker on a region of a chosen capacity, driven with fuzzshm alone:
/// [`Worker`] always has Go's 100 MiB, where no input comes near
/// `maxPerVal` and the mutators' capacity checks never refuse anything.
struct SmallWorker {
    child: Child,
    calls: Option<File>,
    answers: mpsc::Receiver<String>,
    reader: Option<JoinHandle<()>>,
    mem: SharedMem,
}

impl SmallWorker {
    fn start(spec: &WorkerSpec, capacity: usize) -> SmallWorker {
        let mut cmd = spec.command();
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mem = SharedMem::anonymous(capacity).unwrap();
        let (child, comm) = CoordinatorComm::spawn(cmd, mem).unwrap();
        let (send, answers) = mpsc::channel();
        let out = BufReader::new(File::from(comm.fuzz_out));
        let reader = thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut w = SmallWorker {
            child,
            calls: Some(File::from(comm.fuzz_in)),
            answers,
            reader: Some(reader),
            mem: comm.mem,
        };
        w.call(&Call {
            Ping: Some(Default::default()),
            ..Call::default()
        });
        w
    }

    /// One call, one answer line within [`CALL_DEADLINE`] (else the
    /// worker is killed by pid and the test fails).
    fn call(&mut self, call: &Call) -> String {
        let line = serde_json::to_string(call).unwrap();
        writeln!(self.calls.as_mut().unwrap(), "{line}").unwrap();
        match self.answers.recv_timeout(CALL_DEADLINE) {
            Ok(answer) => answer,
            Err(e) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("no answer to {line}: {e}");
            }
        }
    }

    fn fuzz(&mut self, entry: &[u8], args: FuzzArgs) -> FuzzResponse {
        self.mem.header().count().store(0, Ordering::Relaxed);
        self.mem.set_value(entry).unwrap();
        let answer = self.call(&Call {
            Fuzz: Some(args),
            ..Call::default()
        });
        serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
    }

    /// Closes the worker's input and waits (boundedly) for its exit code;
    /// past [`CALL_DEADLINE`] it is killed by pid.
    fn stop(mut self) -> Option<i32> {
        self.end()
    }

    fn end(&mut self) -> Option<i32> {
        self.calls = None;
        let deadline = Instant::now() + CALL_DEADLINE;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                break self.child.wait().unwrap();
            }
            thread::sleep(Duration::from_millis(10));
        };
        let _ = self.reader.take().map(JoinHandle::join);
        status.code()
    }
}

impl Drop for SmallWorker {
    /// A failed test leaves no process behind either.
    fn drop(&mut self) {
        if self.reader.is_some() {
            let _ = self.child.kill();
            self.end();
        }
    }
}

enum Conn {
    Go(Worker),
    Small(SmallWorker),
}

/// A worker of `target` logging to a fresh file, and the log's lines read
/// so far.
struct Session {
    conn: Conn,
    log: PathBuf,
    read: usize,
    name: String,
}

impl Session {
    /// On Go's region size (through [`Worker`]), or on `small` bytes.
    fn start(
        go: &common::Go,
        binary: &Path,
        dir: &Path,
        target: &str,
        small: Option<usize>,
    ) -> Session {
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
        let conn = match small {
            None => Conn::Go(
                Worker::start(spec).unwrap_or_else(|e| panic!("{}: {target}: {e}", go.name)),
            ),
            Some(capacity) => Conn::Small(SmallWorker::start(&spec, capacity)),
        };
        let name = format!(
            "{} {target}{}",
            go.name,
            small.map_or(String::new(), |c| format!(" ({c} bytes)"))
        );
        Session {
            conn,
            log,
            read: 0,
            name,
        }
    }

    fn fuzz(&mut self, entry: &[u8], args: FuzzArgs) -> FuzzResponse {
        match &mut self.conn {
            Conn::Go(w) => w.fuzz(entry, args, CALL_DEADLINE).unwrap_or_else(|e| {
                panic!("{}: {e}\n{}", self.name, String::from_utf8_lossy(entry))
            }),
            Conn::Small(w) => w.fuzz(entry, args),
        }
    }

    fn mem(&self) -> &SharedMem {
        match &self.conn {
            Conn::Go(w) => w.mem(),
            Conn::Small(w) => &w.mem,
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

    fn stop(self) {
        let (code, output) = match self.conn {
            Conn::Go(mut w) => {
                let ended = w.stop().expect("a running worker");
                (ended.status.code(), ended.output)
            }
            Conn::Small(w) => (w.stop(), String::new()),
        };
        assert_eq!(code, Some(0), "{}: {output}", self.name);
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
    small: Option<usize>,
) -> Seen {
    let mut s = Session::start(go, binary, dir, target, small);
    let capacity = s.mem().capacity();
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
        let r = s.fuzz(&entry, args);
        assert_eq!(
            (r.Err.as_str(), r.InternalErr.as_str()),
            ("", ""),
            "{}",
            s.name
        );
        let header = s.mem().header();
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
        let seen = check_target(
            &go,
            &binary,
            &dir.0,
            "FuzzAll",
            &all_types_seeds(),
            LIMITS,
            None,
        );
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
        let seen = check_target(&go, &binary, &dir.0, "FuzzTwoBytes", &two, LIMITS, None);
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
        let seen = check_target(
            &go,
            &binary,
            &dir.0,
            "FuzzBytesStringBytes",
            &three,
            LIMITS,
            None,
        );
        assert!(
            seen.shared_buffer_rewrites > 20,
            "{}: {} rewrites",
            go.name,
            seen.shared_buffer_rewrites
        );
    }
}

/// Inputs near `maxPerVal` (`capacity / args - 100`) on a small region:
/// the insertions, duplications and swaps that would reach the scratch
/// buffer's capacity are refused, after their draws, as Go refuses them.
#[test]
fn inputs_near_the_capacity_replay_exactly() {
    use Value::*;
    const CAPACITY: usize = 4096;
    let text = |n: usize| (0..n).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>();
    for go in common::toolchains() {
        let dir = ScratchDir::new(&format!("small-{}", go.name));
        let binary = build(&go, &dir.0);
        // maxPerVal 1948 per argument.
        let two = vec![
            vec![Bytes(text(1940)), Bytes(text(1000))],
            vec![Bytes(text(1948)), Bytes(Vec::new())],
            vec![Bytes(text(1800)), Bytes(text(1947))],
        ];
        let seen = check_target(
            &go,
            &binary,
            &dir.0,
            "FuzzTwoBytes",
            &two,
            LIMITS,
            Some(CAPACITY),
        );
        assert_eq!(seen.executions, LIMITS.iter().sum::<i64>() as usize);
        // maxPerVal 127 per argument.
        let mut all = all_types_seeds();
        all[0][0] = Bytes(text(127));
        all[1][1] = String(text(120));
        all[2][0] = Bytes(text(125));
        all[2][17] = Bytes(text(127));
        check_target(
            &go,
            &binary,
            &dir.0,
            "FuzzAll",
            &all,
            LIMITS,
            Some(CAPACITY),
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
        let mut s = Session::start(&go, &binary, &dir.0, "FuzzAll", None);
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
            let r = s.fuzz(&file, args);
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

/// Writes `v` as a value line in one of the many spellings Go's reader
/// accepts: any integer base with `_` separators, rune literals and their
/// escapes, interpreted or raw strings, decimal, integer or hexadecimal
/// floats, `math.FloatNNfrombits`, comments, spaces and a trailing comma.
struct Speller(Pcg);

impl Speller {
    fn pick(&mut self, n: usize) -> usize {
        self.0.intn(n).unwrap()
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.pick(100) < percent
    }

    /// Digits of `n` in `base`, with `_` between some of them.
    fn digits(&mut self, mut n: u64, base: u64) -> String {
        let mut d = Vec::new();
        loop {
            d.push(std::char::from_digit((n % base) as u32, base as u32).unwrap());
            n /= base;
            if n == 0 {
                break;
            }
        }
        let upper = self.chance(30);
        let mut out = String::new();
        for (i, c) in d.iter().rev().enumerate() {
            if i > 0 && self.chance(10) {
                out.push('_');
            }
            out.push(if upper { c.to_ascii_uppercase() } else { *c });
        }
        out
    }

    fn int_lit(&mut self, neg: bool, mag: u64) -> String {
        let sign = if neg { "-" } else { "" };
        let sep = |s: &mut Self| if s.chance(20) { "_" } else { "" };
        let body = match self.pick(5) {
            0 => {
                let p = if self.chance(50) { "0x" } else { "0X" };
                format!("{p}{}{}", sep(self), self.digits(mag, 16))
            }
            1 => {
                let p = if self.chance(50) { "0o" } else { "0O" };
                format!("{p}{}{}", sep(self), self.digits(mag, 8))
            }
            2 => {
                let p = if self.chance(50) { "0b" } else { "0B" };
                format!("{p}{}{}", sep(self), self.digits(mag, 2))
            }
            3 => format!("0{}{}", sep(self), self.digits(mag, 8)),
            _ => self.digits(mag, 10),
        };
        format!("{sign}{body}")
    }

    /// One character inside a literal quoted by `quote`, or an escape.
    fn char_in(&mut self, c: char, quote: char) -> String {
        let n = c as u32;
        let raw_ok = !matches!(c, '\n' | '\\' | '\0' | '\u{feff}') && c != quote;
        // In a string, \x and octal escapes are bytes: only ASCII is one.
        let byte_escape = n < if quote == '"' { 128 } else { 256 };
        match self.pick(6) {
            0 if byte_escape => format!("\\x{n:02x}"),
            1 if byte_escape => format!("\\{n:03o}"),
            2 if n < 0x10000 => format!("\\u{n:04X}"),
            3 => format!("\\U{n:08x}"),
            4 => match c {
                '\u{7}' => "\\a".into(),
                '\u{8}' => "\\b".into(),
                '\u{c}' => "\\f".into(),
                '\n' => "\\n".into(),
                '\r' => "\\r".into(),
                '\t' => "\\t".into(),
                '\u{b}' => "\\v".into(),
                '\\' => "\\\\".into(),
                _ if c == quote => format!("\\{c}"),
                _ if raw_ok => c.to_string(),
                _ => format!("\\U{n:08x}"),
            },
            _ if raw_ok => c.to_string(),
            _ => format!("\\U{n:08x}"),
        }
    }

    fn string_lit(&mut self, bytes: &[u8]) -> String {
        let text = std::str::from_utf8(bytes).ok();
        if let Some(t) = text.filter(|t| !t.contains(['`', '\r', '\n', '\0', '\u{feff}'])) {
            if self.chance(30) {
                return format!("`{t}`");
            }
        }
        let mut out = String::from("\"");
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = (1..=rest.len().min(4)).find(|&l| std::str::from_utf8(&rest[..l]).is_ok());
            match len {
                Some(l) => {
                    let c = std::str::from_utf8(&rest[..l])
                        .unwrap()
                        .chars()
                        .next()
                        .unwrap();
                    out += &self.char_in(c, '"');
                    rest = &rest[l..];
                }
                None => {
                    out += &if self.chance(50) {
                        format!("\\x{:02X}", rest[0])
                    } else {
                        format!("\\{:03o}", rest[0])
                    };
                    rest = &rest[1..];
                }
            }
        }
        out.push('"');
        out
    }

    /// A float literal for a finite, non-negative `x` of `bits` bits.
    fn float_lit(&mut self, x: f64, bits: u32) -> String {
        match self.pick(4) {
            0 if x.fract() == 0.0 && x < 1e15 => {
                // An integer literal; ParseFloat reads a leading 0 as decimal.
                let zero = if self.chance(30) { "0" } else { "" };
                format!("{zero}{}", self.digits(x as u64, 10))
            }
            1 if x != 0.0 => {
                // Exact hexadecimal: mantissa and exponent of the value.
                let (m, e) = if bits == 32 {
                    let b = (x as f32).to_bits();
                    let (exp, frac) = ((b >> 23) & 0xff, u64::from(b & 0x7f_ffff));
                    if exp == 0 {
                        (frac, -149)
                    } else {
                        (frac | 1 << 23, exp as i64 - 150)
                    }
                } else {
                    let b = x.to_bits();
                    let (exp, frac) = ((b >> 52) & 0x7ff, b & 0xf_ffff_ffff_ffff);
                    if exp == 0 {
                        (frac, -1074)
                    } else {
                        (frac | 1 << 52, exp as i64 - 1075)
                    }
                };
                let p = if self.chance(50) { "0x" } else { "0X" };
                let e_char = if self.chance(50) { 'p' } else { 'P' };
                format!("{p}{}{e_char}{e}", self.digits(m, 16))
            }
            2 => format!("{x:e}")
                .replace('e', if self.chance(50) { "e" } else { "E+" })
                .replace("E+-", "E-"),
            _ => {
                let s = if bits == 32 {
                    format!("{:?}", x as f32)
                } else {
                    format!("{x:?}")
                };
                s.replace("inf", "Inf")
            }
        }
    }

    fn float_value(
        &mut self,
        name: &str,
        bits_hex: u64,
        x: f64,
        bits: u32,
        standard_nan: bool,
    ) -> String {
        let from_bits = if bits == 32 {
            "math.Float32frombits"
        } else {
            "math.Float64frombits"
        };
        if (x.is_nan() && !standard_nan) || self.chance(10) {
            let lit = self.int_lit(false, bits_hex);
            return format!("{from_bits}({lit})");
        }
        if x.is_nan() {
            return format!("{name}(NaN)");
        }
        if x.is_infinite() {
            let op = if x < 0.0 {
                "-"
            } else {
                ["+", "!", "^", "~", "<-"][self.pick(5)]
            };
            return format!("{name}({op}Inf)");
        }
        let neg = if x.is_sign_negative() { "-" } else { "" };
        let lit = self.float_lit(x.abs(), bits);
        format!("{name}({neg}{lit})")
    }

    fn line(&mut self, v: &Value) -> String {
        let int = |s: &mut Self, name: &str, n: i64| {
            let lit = s.int_lit(n < 0, n.unsigned_abs());
            format!("{name}({lit})")
        };
        let uint = |s: &mut Self, name: &str, n: u64| {
            let lit = s.int_lit(false, n);
            format!("{name}({lit})")
        };
        let call = match v {
            Value::Bytes(b) => format!("[]byte({})", self.string_lit(b)),
            Value::String(b) => format!("string({})", self.string_lit(b)),
            Value::Bool(b) => format!("bool({b})"),
            Value::Byte(b) | Value::Uint8(b) => match self.pick(3) {
                0 => format!("byte('{}')", self.char_in(char::from(*b), '\'')),
                1 => uint(self, "byte", u64::from(*b)),
                _ => uint(self, "uint8", u64::from(*b)),
            },
            Value::Rune(r) | Value::Int32(r) => match (
                self.pick(3),
                u32::try_from(*r).ok().and_then(char::from_u32),
            ) {
                (0, Some(c)) => format!("rune('{}')", self.char_in(c, '\'')),
                (1, _) => int(self, "rune", i64::from(*r)),
                _ => int(self, "int32", i64::from(*r)),
            },
            Value::Int(n) => int(self, "int", *n),
            Value::Int8(n) => int(self, "int8", i64::from(*n)),
            Value::Int16(n) => int(self, "int16", i64::from(*n)),
            Value::Int64(n) => int(self, "int64", *n),
            Value::Uint(n) => uint(self, "uint", *n),
            Value::Uint16(n) => uint(self, "uint16", u64::from(*n)),
            Value::Uint32(n) => uint(self, "uint32", u64::from(*n)),
            Value::Uint64(n) => uint(self, "uint64", *n),
            Value::Float32(x) => self.float_value(
                "float32",
                u64::from(x.to_bits()),
                f64::from(*x),
                32,
                x.to_bits() == 0x7fc0_0000,
            ),
            Value::Float64(x) => self.float_value(
                "float64",
                x.to_bits(),
                *x,
                64,
                x.to_bits() == 0x7ff8_0000_0000_0001,
            ),
        };
        // Spaces and comments where Go's scanner skips them.
        let call = if self.chance(20) {
            call.replacen('(', " ( ", 1)
        } else {
            call
        };
        let call = if self.chance(10) {
            format!(
                "{})",
                call.strip_suffix(')').unwrap_or(&call).to_string() + ","
            )
        } else {
            call
        };
        let pre = ["", " ", "\t", "/* c */ ", "\u{a0}"][self.pick(5)];
        let post = ["", " ", " // note", "\r", "/**/"][self.pick(5)];
        format!("{pre}{call}{post}")
    }

    /// The line with one random edit: most are no longer valid, some are.
    fn corrupt(&mut self, line: &str) -> String {
        let mut chars: Vec<char> = line.chars().collect();
        // The characters that matter to Go's scanner; separators most.
        let noise: Vec<char> = "___..'\"()-+xXoObBeEpPi0189aAfF \\`/*,\t:uU~"
            .chars()
            .collect();
        let at = self.pick(chars.len());
        match self.pick(4) {
            0 => {
                chars.remove(at);
            }
            1 => chars.insert(at, noise[self.pick(noise.len())]),
            2 => chars[at] = noise[self.pick(noise.len())],
            _ if at + 1 < chars.len() => chars.swap(at, at + 1),
            _ => chars.push(noise[self.pick(noise.len())]),
        }
        chars.into_iter().collect()
    }
}

/// Go's reader and ours agree, line for line: pseudo-random values of every
/// type in random valid spellings read as the value on both sides, and
/// randomly broken lines are rejected by both or read alike by both.
#[test]
fn go_and_we_read_the_same_lines() {
    let seeds = all_types_seeds();
    let mut speller = Speller(Pcg::seeded(11, 1));
    let mut files = Vec::new();
    let mut mutator = Mutator::new(Pcg::seeded(12, 1));
    for i in 0..4000 {
        // Values: the seeds, mutated a little by Go's own rules.
        let seed = &seeds[i % seeds.len()];
        let mut chain = mutator.chain(seed, 1 << 20);
        for _ in 0..speller.pick(6) {
            chain.mutate().unwrap();
        }
        let values = chain.values();
        let mut lines: Vec<String> = values.iter().map(|v| speller.line(v)).collect();
        let broken = i % 2 == 1;
        let at = speller.pick(lines.len());
        if broken {
            lines[at] = speller.corrupt(&lines[at]);
        }
        let file = format!("go test fuzz v1\n{}\n", lines.join("\n"));
        match corpus_file::unmarshal(file.as_bytes()) {
            Ok(ours)
                if ours.len() == values.len()
                    && ours.iter().zip(&values).all(|(a, b)| a.same_type(b)) =>
            {
                if !broken {
                    assert_eq!(ours, values, "we misread our own spelling:\n{file}");
                }
                files.push((file, Some(ours)));
            }
            // Read as other types or counts: the target could not take it.
            Ok(_) => {}
            Err(_) => files.push((file, None)),
        }
    }
    let rejected = files.iter().filter(|(_, v)| v.is_none()).count();
    // Both sides of the question get asked: about 750 broken lines, most
    // rejected, some still valid (an edit inside a string, a space).
    let accepted_broken = files.len() - rejected - 750;
    assert!(
        rejected > 300 && accepted_broken > 50,
        "{rejected} rejected, {accepted_broken} broken but valid"
    );
    for go in common::toolchains() {
        let dir = ScratchDir::new(&format!("lines-{}", go.name));
        let binary = build(&go, &dir.0);
        let mut s = Session::start(&go, &binary, &dir.0, "FuzzAll", None);
        for (file, ours) in &files {
            let args = FuzzArgs {
                Timeout: 0,
                Limit: 1,
                Warmup: true,
                CoverageData: None,
            };
            let r = s.fuzz(file.as_bytes(), args);
            assert_eq!(r.Err, "", "{}:\n{file}", s.name);
            match ours {
                Some(values) => {
                    assert_eq!(
                        r.InternalErr, "",
                        "{}: Go rejects what we read:\n{file}",
                        s.name
                    );
                    assert_eq!(
                        s.new_inputs(values),
                        std::slice::from_ref(values),
                        "{}: Go reads otherwise:\n{file}",
                        s.name
                    );
                }
                None => {
                    assert!(
                        r.InternalErr.contains("malformed line")
                            || r.InternalErr.contains("unknown encoding"),
                        "{}: Go reads what we reject ({:?}):\n{file}",
                        s.name,
                        corpus_file::unmarshal(file.as_bytes())
                            .unwrap_err()
                            .to_string()
                    );
                    assert!(s.new_inputs(&seeds[0]).is_empty());
                }
            }
        }
        s.stop();
    }
}
