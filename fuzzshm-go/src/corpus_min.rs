//! `-minimize-corpus`, which Go lacks: the smallest set of `testdata` and
//! cache entries that covers the coverage bits all of them cover.
//!
//! Every entry is run once (a warmup call) for its coverage. The `f.Add`
//! seeds always run, so their bits count as covered. Then a greedy set
//! cover: repeatedly keep the entry that adds the most bits not yet
//! covered (the smaller file on a tie, testdata before cache), until all
//! are. The others are removed and named. Entries that fail are kept:
//! they are regression tests.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::coordinator::read_dir_files;
use crate::corpus_file;
use crate::value::Value;
use crate::wire::FuzzArgs;
use crate::worker::{Worker, WorkerSpec};

/// A file of the corpus and what it covers.
struct File {
    path: PathBuf,
    size: usize,
    cache: bool,
    coverage: Vec<u8>,
}

/// What `-minimize-corpus` did.
#[derive(Debug, Default)]
pub struct Report {
    /// The files removed.
    pub removed: Vec<PathBuf>,
    /// The files kept (those that fail included).
    pub kept: Vec<PathBuf>,
    /// Coverage bits of seeds and files together, unchanged by the removal.
    pub bits: u32,
}

/// Runs every entry of `testdata` and `cache` (and the `seeds`, marshalled)
/// once on a worker, and removes the files whose coverage the others give.
///
/// # Errors
///
/// A message: no worker, a binary without coverage, a worker error.
pub fn minimize_corpus(
    spec: WorkerSpec,
    seeds: &[Vec<u8>],
    testdata: &Path,
    cache: Option<&Path>,
    hang_margin: Duration,
) -> Result<Report, String> {
    let mut worker = Worker::start(spec).map_err(|e| e.to_string())?;
    let mut run = |data: &[u8]| -> Result<Option<Vec<u8>>, String> {
        let args = FuzzArgs {
            Timeout: 100_000_000,
            Limit: 1,
            Warmup: true,
            CoverageData: None,
        };
        match worker.fuzz(data, args, Duration::from_millis(100) + hang_margin) {
            Ok(r) if !r.InternalErr.is_empty() => {
                Err(format!("fuzzing process error: {}", r.InternalErr))
            }
            Ok(r) if !r.Err.is_empty() => Ok(None),
            Ok(r) => r.CoverageData.map(Some).ok_or_else(|| {
                "-minimize-corpus needs coverage: the test binary was not built with -fuzz"
                    .to_string()
            }),
            Err(_) => {
                worker.restart().map_err(|e| e.to_string())?;
                Ok(None)
            }
        }
    };
    let listed: Vec<(PathBuf, Vec<u8>)> = read_dir_files(testdata);
    let testdata_values: Vec<Vec<Value>> = listed
        .iter()
        .filter_map(|(_, d)| corpus_file::unmarshal(d).ok())
        .collect();
    let mut covered: Option<Vec<u8>> = None;
    let or_into = |covered: &mut Option<Vec<u8>>, cov: &[u8]| match covered {
        Some(c) => c.iter_mut().zip(cov).for_each(|(a, b)| *a |= b),
        None => *covered = Some(cov.to_vec()),
    };
    for seed in seeds {
        // The harvest gives testdata files too: they are not seeds here.
        let is_file = corpus_file::unmarshal(seed).is_ok_and(|v| testdata_values.contains(&v));
        if !is_file {
            if let Some(cov) = run(seed)? {
                or_into(&mut covered, &cov);
            }
        }
    }
    let mut report = Report::default();
    let mut files = Vec::new();
    let cached = cache.map(read_dir_files).unwrap_or_default();
    for (cache_file, (path, data)) in listed
        .into_iter()
        .map(|f| (false, f))
        .chain(cached.into_iter().map(|f| (true, f)))
    {
        match corpus_file::unmarshal(&data)
            .ok()
            .map(|_| run(&data))
            .transpose()?
        {
            Some(Some(coverage)) => files.push(File {
                path,
                size: data.len(),
                cache: cache_file,
                coverage,
            }),
            // Fails, or does not parse: not ours to remove.
            _ => report.kept.push(path),
        }
    }
    let all = files.iter().fold(covered.clone(), |mut acc, f| {
        or_into(&mut acc, &f.coverage);
        acc
    });
    let Some(all) = all else { return Ok(report) };
    report.bits = all.iter().map(|b| b.count_ones()).sum();
    let mut have = covered.unwrap_or_else(|| vec![0; all.len()]);
    let gain = |have: &[u8], f: &File| -> u32 {
        f.coverage
            .iter()
            .zip(have)
            .map(|(c, h)| (c & !h).count_ones())
            .sum()
    };
    while have != all {
        let best = (0..files.len())
            .filter(|&i| gain(&have, &files[i]) > 0)
            .min_by_key(|&i| {
                (
                    std::cmp::Reverse(gain(&have, &files[i])),
                    files[i].size,
                    files[i].cache,
                )
            });
        let Some(best) = best else { break };
        let f = files.swap_remove(best);
        have.iter_mut().zip(&f.coverage).for_each(|(h, c)| *h |= c);
        report.kept.push(f.path);
    }
    for f in files {
        fs::remove_file(&f.path).map_err(|e| format!("removing {}: {e}", f.path.display()))?;
        report.removed.push(f.path);
    }
    worker.stop();
    Ok(report)
}
