//! The initial corpus as Go's own coordinator makes it: the `f.Add` seeds,
//! `testdata/fuzz/FuzzX/*` (read and checked by Go's reader), or one
//! zero-valued entry when there are none.
//!
//! A foreign coordinator cannot run `f.Add`. The test binary can: run as a
//! coordinator, it marshals each seed into its worker's region for the
//! warmup (or, with none, fuzzes a zero-valued entry), and starts its
//! workers as `os.Args[0]`. So this runs the test
//! binary as a coordinator with `argv[0]` set to this program, which then
//! plays the worker ([`serve`]): it records each warmup value, answers
//! with empty coverage, and on the first non-warmup call writes an end
//! mark and waits. The coordinator is then stopped with `SIGINT`, its
//! clean stop: it closes its workers' pipes and removes its region file.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fuzzshm::WorkerComm;
use rustix::process::{kill_process, Pid, Signal};

/// The environment variable naming the file the harvesting worker writes.
pub const HARVEST_ENV: &str = "FUZZSHM_GO_HARVEST";

/// The end mark after the last entry.
const END: u64 = u64::MAX;

/// How long Go's coordinator may take to start and warm its corpus up.
const HARVEST_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs `binary` as Go's coordinator of `target` in `dir`, with this
/// program (`me`) as its worker, and returns the marshalled entries of
/// its initial corpus, in Go's order.
///
/// # Errors
///
/// The test binary's own output when it stops before fuzzing (a corrupt
/// testdata file, a target that fails before `F.Fuzz`), or a message.
pub fn initial_corpus(
    binary: &Path,
    me: &Path,
    dir: &Path,
    target: &str,
) -> Result<Vec<Vec<u8>>, String> {
    let fd = rustix::fs::memfd_create("fuzzshm-go-harvest", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| format!("memfd_create: {e}"))?;
    let mut sink = File::from(fd);
    let path = format!(
        "/proc/{}/fd/{}",
        std::process::id(),
        std::os::fd::AsRawFd::as_raw_fd(&sink)
    );
    let mut cmd = Command::new(binary);
    cmd.arg0(me)
        .current_dir(dir)
        .arg(format!("-test.fuzz=^{target}$"))
        // Read by Go's coordinator only; a path that does not exist is an
        // empty cache (the real one is read by fuzzshm-go itself).
        .arg("-test.fuzzcachedir=/nonexistent/fuzzshm-go")
        // Only fuzzing: no test, and no other target's seed corpus, runs.
        .args([
            "-test.run=^$",
            "-test.parallel=1",
            "-test.timeout=0",
            "-test.paniconexit0",
        ])
        .env(HARVEST_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // If this process dies (SIGKILL included) while Go's coordinator runs,
    // the kernel interrupts it: Go's clean stop, its region file removed.
    let interrupt_with_parent = || {
        // SAFETY: `prctl` touches no memory of ours.
        if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) } == -1 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    };
    // SAFETY: between fork and exec the closure makes one system call,
    // prctl, which is async-signal-safe; it allocates nothing.
    unsafe { cmd.pre_exec(interrupt_with_parent) };
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("running {}: {e}", binary.display()))?;
    let output = crate::worker::capture(child.stdout.take(), child.stderr.take());
    let deadline = Instant::now() + HARVEST_TIMEOUT;
    let entries = loop {
        if let Some(entries) = read_entries(&mut sink)? {
            break Ok(entries);
        }
        if let Ok(Some(status)) = child.try_wait() {
            // A last look: the end mark may have come with the exit.
            break read_entries(&mut sink)?.ok_or_else(|| {
                let out = output.text();
                format!(
                    "{}{}",
                    out,
                    if out.is_empty() {
                        format!("test binary exited: {status}\n")
                    } else {
                        String::new()
                    }
                )
            });
        }
        if Instant::now() > deadline {
            break Err(format!(
                "the test binary did not warm its corpus up within {HARVEST_TIMEOUT:?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = kill_process(Pid::from_child(&child), Signal::INT);
    let stop = Instant::now() + Duration::from_secs(5);
    while matches!(child.try_wait(), Ok(None)) && Instant::now() < stop {
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
    entries
}

/// The entries once the end mark is there; `None` before.
fn read_entries(sink: &mut File) -> Result<Option<Vec<Vec<u8>>>, String> {
    let mut all = Vec::new();
    sink.seek(SeekFrom::Start(0))
        .and_then(|_| sink.read_to_end(&mut all))
        .map_err(|e| e.to_string())?;
    let mut entries = Vec::new();
    let mut rest = &all[..];
    while rest.len() >= 8 {
        let len = u64::from_le_bytes(rest[..8].try_into().unwrap_or_default());
        rest = &rest[8..];
        if len == END {
            return Ok(Some(entries));
        }
        let Some(entry) = usize::try_from(len).ok().and_then(|len| rest.get(..len)) else {
            break;
        };
        entries.push(entry.to_vec());
        rest = &rest[entry.len()..];
    }
    Ok(None)
}

/// The harvesting worker: serves Go's coordinator on fds 3, 4 and 5 until
/// the first non-warmup call, writing each warmup value to the file named
/// by [`HARVEST_ENV`]. Returns the exit code.
///
/// # Safety
///
/// As [`WorkerComm::from_inherited`]: this process was started as a Go
/// fuzz worker and nothing else in it owns fds 3, 4 and 5.
pub unsafe fn serve() -> i32 {
    let Some(path) = std::env::var_os(HARVEST_ENV) else {
        eprintln!("fuzzshm-go: started as a fuzz worker without {HARVEST_ENV}");
        return 2;
    };
    // SAFETY: the caller's contract.
    match unsafe { serve_calls(&path) } {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("fuzzshm-go harvest: {e}");
            70
        }
    }
}

/// # Safety
///
/// As [`serve`].
unsafe fn serve_calls(path: &OsString) -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: the caller's contract.
    let comm = unsafe { WorkerComm::from_inherited() }?;
    let mut sink = OpenOptions::new().append(true).open(path)?;
    let mut calls = BufReader::new(File::from(comm.fuzz_in));
    let mut answers = File::from(comm.fuzz_out);
    let mut line = String::new();
    let mut recorded = 0usize;
    loop {
        line.clear();
        if calls.read_line(&mut line)? == 0 {
            return Ok(()); // the coordinator closed our input: stop
        }
        let call: serde_json::Value = serde_json::from_str(&line)?;
        let answer = if call.get("Ping").is_some_and(|p| !p.is_null()) {
            serde_json::json!({})
        } else if let Some(fuzz) = call.get("Fuzz").filter(|f| !f.is_null()) {
            let warmup = fuzz.get("Warmup") == Some(&serde_json::Value::Bool(true));
            // With no seed, Go warms nothing up and fuzzes one zero-valued
            // entry: the value of its first call.
            if warmup || recorded == 0 {
                let value = comm.mem.value()?;
                let mut record = (value.len() as u64).to_le_bytes().to_vec();
                record.extend_from_slice(value);
                sink.write_all(&record)?;
                recorded += 1;
            }
            if !warmup {
                sink.write_all(&END.to_le_bytes())?;
                continue; // no answer: wait to be stopped
            }
            comm.mem.header().count().store(1, Ordering::Relaxed);
            // Empty coverage of the mask's length (none if none was sent).
            let cover = fuzz
                .get("CoverageData")
                .and_then(|c| c.as_str())
                .map(|b64| {
                    use base64::Engine;
                    let len = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_or(0, |m| m.len());
                    base64::engine::general_purpose::STANDARD.encode(vec![0u8; len])
                });
            serde_json::json!({"Count": 1, "CoverageData": cover})
        } else {
            return Err(format!("unexpected call while harvesting: {}", line.trim()).into());
        };
        answers.write_all(format!("{answer}\n").as_bytes())?;
    }
}
