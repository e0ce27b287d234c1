//! What the benches share: the process set-up (a real livekit-server wired
//! to the in-process engine on a temporary SQLite file, or the engine alone
//! for chat; rate limits out of the way), step deadlines, the flags and the
//! statistics table.

use std::error::Error;
use std::future::Future;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use utd_engine::{DatabaseLocation, EngineConfig};
use utd_testkit::livekit::LIVEKIT_SERVER_VERSION;
use utd_testkit::WiredLiveKit;

pub type BenchError = Box<dyn Error + Send + Sync>;
pub type BenchResult<T> = Result<T, BenchError>;

/// How long any single step may take before the bench fails.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs `bench` with an engine configuration wired to a fresh livekit-server,
/// prints the failure (exit code 1) or lets `bench` print its table.
#[allow(dead_code)] // every bench but chat
pub fn main_with<F, Fut>(bench: F) -> ExitCode
where
    F: FnOnce(EngineConfig, Instant) -> Fut,
    Fut: Future<Output = BenchResult<()>>,
{
    match run_with(bench, true) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[bench] FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Like [`main_with`] for benches that never touch media (chat): no
/// livekit-server is started, so none of its start-up or load is in the
/// numbers.
#[allow(dead_code)] // only the chat bench
pub fn main_without_livekit<F, Fut>(bench: F) -> ExitCode
where
    F: FnOnce(EngineConfig, Instant) -> Fut,
    Fut: Future<Output = BenchResult<()>>,
{
    match run_with(bench, false) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("[bench] FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_with<F, Fut>(bench: F, livekit: bool) -> BenchResult<()>
where
    F: FnOnce(EngineConfig, Instant) -> Fut,
    Fut: Future<Output = BenchResult<()>>,
{
    let started = Instant::now();
    let db_dir = tempfile::tempdir()?;
    // Started on the main thread, which outlives it.
    let wired = if livekit {
        Some(WiredLiveKit::start()?)
    } else {
        None
    };
    let mut config = EngineConfig::for_tests();
    if let Some(wired) = &wired {
        wired.configure(&mut config);
    }
    config.database = DatabaseLocation::File(db_dir.path().join("bench.db"));
    // Hundreds of requests a minute per user: keep the rate limiter out of
    // the measurement.
    config.default_per_user_per_minute = 1_000_000;
    config.default_per_app_per_minute = 1_000_000;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(bench(config, started));
    runtime.shutdown_timeout(Duration::from_secs(5));
    // Engine (inside the bench) first, then LiveKit, then the database.
    drop(wired);
    drop(db_dir);
    result
}

/// Runs `step`, failing with `what` when it fails or exceeds [`STEP_TIMEOUT`].
pub async fn within<T, E: Into<BenchError>>(
    what: &str,
    step: impl Future<Output = Result<T, E>>,
) -> BenchResult<T> {
    match tokio::time::timeout(STEP_TIMEOUT, step).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(format!("{what}: {}", e.into()).into()),
        Err(_) => Err(format!("{what}: not done within {STEP_TIMEOUT:?}").into()),
    }
}

/// Prints the title line (with build and server facts) and the column heads.
#[allow(dead_code)] // every bench but chat
pub fn print_header(title: &str) {
    println!(
        "{title}, {} build, livekit-server {LIVEKIT_SERVER_VERSION}, LiveKit FFI transport",
        build_kind()
    );
    print_column_heads();
}

/// Like [`print_header`] for a bench that ran without LiveKit.
#[allow(dead_code)] // only the chat bench
pub fn print_header_without_livekit(title: &str) {
    println!("{title}, {} build", build_kind());
    print_column_heads();
}

fn build_kind() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

fn print_column_heads() {
    println!(
        "{:<40} {:>5} {:>10} {:>10} {:>11}",
        "metric", "runs", "median ms", "p99 ms", "÷ baseline"
    );
}

/// One row of the table.
pub struct Stats {
    runs: usize,
    median_ms: f64,
    p99_ms: f64,
}

impl Stats {
    /// Median (mean of the middle two for an even count) and nearest-rank p99.
    pub fn of(samples: &[Duration]) -> Stats {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let n = sorted.len();
        let at = |index: usize| sorted.get(index).copied().unwrap_or_default();
        let median = match n {
            0 => Duration::ZERO,
            _ if n % 2 == 1 => at(n / 2),
            _ => (at(n / 2 - 1) + at(n / 2)) / 2,
        };
        // Nearest rank: the smallest sample with at least 99% at or below it.
        let p99 = at((99 * n).div_ceil(100).saturating_sub(1));
        Stats {
            runs: n,
            median_ms: median.as_secs_f64() * 1e3,
            p99_ms: p99.as_secs_f64() * 1e3,
        }
    }

    /// Prints this row, with its median as a ratio of `baseline`'s.
    pub fn row(&self, label: &str, baseline: &Stats) {
        println!(
            "{:<40} {:>5} {:>10.2} {:>10.2} {:>11.2}",
            label,
            self.runs,
            self.median_ms,
            self.p99_ms,
            self.median_ms / baseline.median_ms
        );
    }
}

/// `--runs N` and `--warmup N`, the flags of the media and push benches.
#[allow(dead_code)] // the room and call benches take more flags
pub struct Options {
    /// Measured runs.
    pub runs: usize,
    /// Unmeasured runs first.
    pub warmup: usize,
}

#[allow(dead_code)]
impl Options {
    /// Parses the flags (None for `--help`); `usage` goes into errors.
    pub fn parse(
        args: impl Iterator<Item = String>,
        runs: usize,
        warmup: usize,
        usage: &str,
    ) -> BenchResult<Option<Options>> {
        Self::parse_with(args, runs, warmup, usage, &mut [])
    }

    /// Like [`Options::parse`], also taking a bench's own numeric flags:
    /// each `(flag, value)` holds the default and receives the argument.
    pub fn parse_with(
        mut args: impl Iterator<Item = String>,
        runs: usize,
        warmup: usize,
        usage: &str,
        extra: &mut [(&str, &mut usize)],
    ) -> BenchResult<Option<Options>> {
        let mut options = Options { runs, warmup };
        while let Some(arg) = args.next() {
            if matches!(arg.as_str(), "-h" | "--help") {
                return Ok(None);
            }
            let value = args
                .next()
                .ok_or_else(|| format!("{arg} needs a value\n{usage}"))?;
            let number = value
                .parse()
                .map_err(|_| format!("{arg} needs a number, not {value:?}\n{usage}"))?;
            match arg.as_str() {
                "--runs" => options.runs = number,
                "--warmup" => options.warmup = number,
                other => match extra.iter_mut().find(|(flag, _)| *flag == other) {
                    Some((_, value)) => **value = number,
                    None => return Err(format!("unknown argument {other:?}\n{usage}").into()),
                },
            }
        }
        if options.runs == 0 {
            return Err("--runs must be at least 1".into());
        }
        Ok(Some(options))
    }
}
