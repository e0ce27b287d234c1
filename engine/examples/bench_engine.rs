//! The engine under load, as its own process (`scripts/bench.sh engine`,
//! release build), in both of its modes: SQLite in one process, and one node
//! of a cluster on PostgreSQL + Redis (both started here, on this machine).
//! Per mode: requests per second of session mints and `GET /me` next to the
//! trivial health endpoint measured in the same run, then the engine's
//! memory per idle signal socket at 1k / 5k / 10k sockets and the presence
//! push latency a connected user sees while they are open.
//!
//! Usage: bench_engine [--mode sqlite|cluster|both] [--seconds S]
//!                     [--connections C] [--sockets 1000,5000,10000]
//! The engine binary is looked up next to this example's directory
//! (`target/<profile>/utd-engine`); the process limit on open files must
//! allow the sockets (scripts/bench.sh raises it to the hard limit). The
//! cluster mode needs PostgreSQL 15 (`/usr/lib/postgresql/15/bin` or
//! `UTD_POSTGRES_BIN_DIR`) and `redis-server`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};
use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::Message;
use utd_testkit::database::fresh_postgres;
use utd_testkit::services::{Postgres, Redis};

const ADMIN_TOKEN: &str = "bench-admin-token";

/// Presence round trips per measurement (the median is printed).
const PRESENCE_RUNS: usize = 20;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `--database <file>`: SQLite, one engine process.
    Sqlite,
    /// `--database postgres://… --redis redis://…`: one node of a cluster.
    Cluster,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Sqlite => "sqlite",
            Mode::Cluster => "cluster",
        }
    }
}

struct Args {
    modes: Vec<Mode>,
    seconds: u64,
    connections: usize,
    sockets: Vec<usize>,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        modes: vec![Mode::Sqlite, Mode::Cluster],
        seconds: 5,
        connections: 16,
        sockets: vec![1_000, 5_000, 10_000],
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--mode" => {
                args.modes = match value.as_str() {
                    "sqlite" => vec![Mode::Sqlite],
                    "cluster" => vec![Mode::Cluster],
                    "both" => vec![Mode::Sqlite, Mode::Cluster],
                    other => bail!("--mode {other}: sqlite, cluster or both"),
                }
            }
            "--seconds" => args.seconds = value.parse()?,
            "--connections" => args.connections = value.parse()?,
            "--sockets" => {
                args.sockets = value.split(',').map(str::parse).collect::<Result<_, _>>()?
            }
            other => bail!("unknown flag {other} (--mode, --seconds, --connections, --sockets)"),
        }
    }
    args.sockets.sort_unstable();
    args.sockets.dedup();
    Ok(args)
}

/// Where the engine keeps its state.
enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A shared PostgreSQL database and Redis: this process is one node.
    Cluster { database: String, redis: String },
}

/// The engine as a child process, killed when dropped.
struct Engine {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Engine {
    async fn start(backend: &Backend) -> Result<Self> {
        let exe = std::env::current_exe()?;
        // target/<profile>/examples/bench_engine → target/<profile>/utd-engine
        let bin: PathBuf = exe
            .parent()
            .and_then(|examples| examples.parent())
            .map(|profile| profile.join("utd-engine"))
            .context("no target directory")?;
        if !bin.exists() {
            bail!(
                "{} missing: cargo build -p utd-engine --bin utd-engine",
                bin.display()
            );
        }
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut command = Command::new(&bin);
        command.args(["--bind", &format!("127.0.0.1:{port}")]);
        match backend {
            Backend::Sqlite => {
                command.arg("--database").arg(dir.path().join("engine.db"));
            }
            Backend::Cluster { database, redis } => {
                command
                    .args(["--database", database])
                    .args(["--redis", redis])
                    .args(["--node-id", "bench-node-1"]);
            }
        }
        let mut child = command
            .env("UTD_ADMIN_TOKEN", ADMIN_TOKEN)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("engine stdout")?;
        // The readiness line, read on a thread of its own (the pipe is
        // blocking); the rest of the output is drained there too.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("utd-engine listening on") {
                    let _ = ready_tx.send(());
                }
            }
        });
        let ready =
            tokio::task::spawn_blocking(move || ready_rx.recv_timeout(Duration::from_secs(30)))
                .await?;
        // Dropped (killed) on an early return from here on.
        let mut engine = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        if ready.is_err() {
            if let Some(status) = engine.child.try_wait()? {
                bail!("the engine exited during startup ({status})");
            }
            bail!("the engine did not start within 30 s");
        }
        Ok(engine)
    }

    /// Resident memory of the engine process, in bytes.
    fn rss(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .context("no VmRSS")?
            .parse()?;
        Ok(kb * 1024)
    }
}

struct App {
    id: String,
    key: String,
}

async fn create_app(http: &reqwest::Client, base: &str) -> Result<App> {
    let app: Value = http
        .post(format!("{base}/admin/v1/apps"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"name": "bench", "plan": "pro"}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let id = app["app_id"].as_str().context("app_id")?.to_owned();
    http.put(format!("{base}/admin/v1/apps/{id}/rate-limits"))
        .bearer_auth(ADMIN_TOKEN)
        .json(&json!({"per_user_per_minute": 1_000_000, "per_app_per_minute": 1_000_000}))
        .send()
        .await?
        .error_for_status()?;
    Ok(App {
        key: app["app_key"].as_str().context("app_key")?.to_owned(),
        id,
    })
}

async fn mint(http: &reqwest::Client, base: &str, app: &App, identity: &str) -> Result<String> {
    let session: Value = http
        .post(format!("{base}/api/v1/auth/session"))
        .header("X-UTD-App-Id", &app.id)
        .header("X-UTD-App-Key", &app.key)
        .json(&json!({"identity": identity}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(session["user_token"]
        .as_str()
        .context("user_token")?
        .to_owned())
}

/// Requests per second of `request` from `connections` concurrent clients
/// over `seconds`; returns (ok/s, refused count).
async fn throughput(
    connections: usize,
    seconds: u64,
    request: impl Fn(u64) -> reqwest::RequestBuilder + Send + Sync + 'static,
) -> (f64, u64) {
    let request = Arc::new(request);
    let ok = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (request, ok, refused, counter) = (
                request.clone(),
                ok.clone(),
                refused.clone(),
                counter.clone(),
            );
            tokio::spawn(async move {
                while Instant::now() < until {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    match request(n).send().await {
                        Ok(r) if r.status().is_success() => {
                            // Read the body: a reply counts once it is whole.
                            let _ = r.bytes().await;
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    (
        ok.load(Ordering::Relaxed) as f64 / elapsed,
        refused.load(Ordering::Relaxed),
    )
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open_socket(ws_url: &str, bearer: &str) -> Result<Ws> {
    let mut req = ws_url.into_client_request()?;
    req.headers_mut()
        .insert("authorization", format!("Bearer {bearer}").parse()?);
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await?;
    // The hello.
    match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
        Ok(Some(Ok(Message::Text(_)))) => Ok(ws),
        other => bail!("no hello: {other:?}"),
    }
}

/// Keeps an idle socket alive: answers the engine's pings, nothing else.
fn idle(mut ws: Ws) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(text) = msg {
                if text.as_str().contains("\"ping\"") {
                    if let Ok(v) = serde_json::from_str::<Value>(text.as_str()) {
                        let pong = json!({"type": "pong", "ts_ms": v["ts_ms"]}).to_string();
                        if ws.send(Message::Text(pong.into())).await.is_err() {
                            return;
                        }
                    }
                }
            }
        }
    })
}

/// Median milliseconds from a probe user's connect to the `presence` push
/// at a watcher, over `runs`.
async fn presence_latency(ws_url: &str, watcher: &str, probe: &str, runs: usize) -> Result<f64> {
    let mut watching = open_socket(ws_url, watcher).await?;
    let watch = json!({"type": "presence.watch", "identities": ["probe"], "ref": "w"});
    watching
        .send(Message::Text(watch.to_string().into()))
        .await?;
    let mut samples = Vec::with_capacity(runs);
    let mut expect_online = true;
    let mut probe_socket: Option<Ws> = None;
    // The initial state and the ack first.
    loop {
        let msg = next_json(&mut watching).await?;
        if msg["type"] == "ack" {
            break;
        }
    }
    for _ in 0..runs * 2 {
        let started = Instant::now();
        if expect_online {
            probe_socket = Some(open_socket(ws_url, probe).await?);
        } else if let Some(mut s) = probe_socket.take() {
            s.close(None).await?;
        }
        loop {
            let msg = next_json(&mut watching).await?;
            if msg["type"] == "presence" && msg["online"] == expect_online {
                break;
            }
        }
        if expect_online {
            samples.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        expect_online = !expect_online;
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[samples.len() / 2])
}

async fn next_json(ws: &mut Ws) -> Result<Value> {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                if v["type"] != "ping" {
                    return Ok(v);
                }
            }
            Ok(Some(Ok(_))) => {}
            other => bail!("socket ended: {other:?}"),
        }
    }
}

/// One idle-socket level of a mode.
struct SocketRow {
    sockets: usize,
    rss: u64,
    kb_per_socket: f64,
    presence_ms: f64,
}

/// What one mode measured.
struct Report {
    mode: Mode,
    health: f64,
    mints: f64,
    me: f64,
    presence_idle: f64,
    sockets: Vec<SocketRow>,
}

/// Measures one engine (started here, stopped on return), printing as it goes.
async fn run_mode(args: &Args, mode: Mode, backend: &Backend) -> Result<Report> {
    match mode {
        Mode::Sqlite => {
            println!("\n== sqlite: one engine process, SQLite file (--database <tmp>/engine.db) ==")
        }
        Mode::Cluster => println!(
            "\n== cluster: ONE node of a cluster on PostgreSQL + Redis \
             (--database postgres://… --redis redis://…; both servers on this machine) =="
        ),
    }
    let engine = Engine::start(backend).await?;
    let base = engine.base.clone();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .build()?;
    let app = Arc::new(create_app(&http, &base).await?);
    let bearer = mint(&http, &base, &app, "bench-reader").await?;

    let (c, b) = (http.clone(), base.clone());
    let (health, health_refused) = throughput(args.connections, args.seconds, move |_| {
        c.get(format!("{b}/api/v1/health"))
    })
    .await;
    let (c, b, a) = (http.clone(), base.clone(), app.clone());
    let (mints, mint_refused) = throughput(args.connections, args.seconds, move |n| {
        c.post(format!("{b}/api/v1/auth/session"))
            .header("X-UTD-App-Id", &a.id)
            .header("X-UTD-App-Key", &a.key)
            .json(&json!({"identity": format!("user-{}", n % 10_000)}))
    })
    .await;
    let (c, b, t) = (http.clone(), base.clone(), bearer.clone());
    let (me, me_refused) = throughput(args.connections, args.seconds, move |_| {
        c.get(format!("{b}/api/v1/me")).bearer_auth(&t)
    })
    .await;
    println!(
        "{:<34} {:>12} {:>10} {:>12}",
        "endpoint", "ok/s", "refused", "÷ health"
    );
    for (name, rate, refused) in [
        ("GET /api/v1/health (baseline)", health, health_refused),
        ("POST /api/v1/auth/session (mint)", mints, mint_refused),
        ("GET /api/v1/me", me, me_refused),
    ] {
        println!(
            "{name:<34} {rate:>12.0} {refused:>10} {:>12.2}",
            rate / health
        );
    }

    let ws_url = format!("{}/api/v1/signal", base.replace("http://", "ws://"));
    let watcher = mint(&http, &base, &app, "watcher").await?;
    let probe = mint(&http, &base, &app, "probe").await?;
    let idle_bearer = mint(&http, &base, &app, "idle").await?;
    let before = engine.rss()?;
    let presence_idle = presence_latency(&ws_url, &watcher, &probe, PRESENCE_RUNS).await?;
    let whose = match mode {
        Mode::Sqlite => "the engine process",
        Mode::Cluster => "this node (PostgreSQL and Redis not counted)",
    };
    println!(
        "\nmemory: resident set (RSS) of {whose}; per socket = (RSS - RSS before sockets) ÷ sockets"
    );
    println!(
        "presence push: a probe user connects, until a watcher's socket gets `presence` online \
         (median of {PRESENCE_RUNS}{})",
        match mode {
            Mode::Sqlite => "",
            Mode::Cluster => "; through Redis",
        }
    );
    println!(
        "RSS before sockets: {:.1} MB; presence push with no idle socket: {presence_idle:.2} ms",
        before as f64 / 1e6
    );
    println!(
        "{:>8} {:>10} {:>14} {:>20} {:>16}",
        "sockets", "RSS MB", "KB per socket", "presence push ms", "÷ no sockets"
    );
    let mut rows = Vec::new();
    let mut sockets = Vec::new();
    for &target in &args.sockets {
        while sockets.len() < target {
            let batch = (target - sockets.len()).min(200);
            let opened = futures_util::future::join_all(
                (0..batch).map(|_| open_socket(&ws_url, &idle_bearer)),
            )
            .await;
            for ws in opened {
                let ws =
                    ws.with_context(|| format!("socket {} (open files limit?)", sockets.len()))?;
                sockets.push(idle(ws));
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let rss = engine.rss()?;
        let kb_per_socket = rss.saturating_sub(before) as f64 / target as f64 / 1024.0;
        let presence_ms = presence_latency(&ws_url, &watcher, &probe, PRESENCE_RUNS).await?;
        println!(
            "{target:>8} {:>10.1} {kb_per_socket:>14.1} {presence_ms:>20.2} {:>16.2}",
            rss as f64 / 1e6,
            presence_ms / presence_idle
        );
        rows.push(SocketRow {
            sockets: target,
            rss,
            kb_per_socket,
            presence_ms,
        });
    }
    for s in sockets {
        s.abort();
    }
    drop(engine);
    Ok(Report {
        mode,
        health,
        mints,
        me,
        presence_idle,
        sockets: rows,
    })
}

/// Both modes side by side (each ratio is ÷ that mode's own health baseline).
fn print_summary(reports: &[Report]) {
    println!(
        "\n== summary: ok/s (÷ the same mode's health, same run); memory and presence per level =="
    );
    let mut header = format!("{:<34}", "");
    for r in reports {
        let label = match r.mode {
            Mode::Sqlite => "sqlite (1 process)",
            Mode::Cluster => "cluster (1 node)",
        };
        header.push_str(&format!(" {label:>22}"));
    }
    println!("{header}");
    let line = |name: &str, cell: &dyn Fn(&Report) -> String| {
        let mut out = format!("{name:<34}");
        for r in reports {
            out.push_str(&format!(" {:>22}", cell(r)));
        }
        println!("{out}");
    };
    line("GET /api/v1/health ok/s", &|r| format!("{:.0}", r.health));
    line("POST /api/v1/auth/session ok/s", &|r| {
        format!("{:.0} ({:.2})", r.mints, r.mints / r.health)
    });
    line("GET /api/v1/me ok/s", &|r| {
        format!("{:.0} ({:.2})", r.me, r.me / r.health)
    });
    line("presence push ms, no sockets", &|r| {
        format!("{:.2}", r.presence_idle)
    });
    let levels: Vec<usize> = reports[0].sockets.iter().map(|s| s.sockets).collect();
    for level in levels {
        let row = |r: &Report| {
            r.sockets
                .iter()
                .find(|s| s.sockets == level)
                .map(|s| (s.rss, s.kb_per_socket, s.presence_ms))
        };
        line(&format!("RSS MB at {level} sockets"), &|r| {
            row(r).map_or("-".into(), |(rss, _, _)| format!("{:.1}", rss as f64 / 1e6))
        });
        line(&format!("KB per socket at {level}"), &|r| {
            row(r).map_or("-".into(), |(_, kb, _)| format!("{kb:.1}"))
        });
        line(&format!("presence push ms at {level}"), &|r| {
            row(r).map_or("-".into(), |(_, _, ms)| {
                format!("{ms:.2} ({:.2})", ms / r.presence_idle)
            })
        });
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let modes: Vec<&str> = args.modes.iter().map(|m| m.name()).collect();
    println!(
        "engine bench: modes {}; {} s per endpoint, {} HTTP connections; idle sockets {:?}; \
         bench client, engine{} share this machine's {} CPUs",
        modes.join(" + "),
        args.seconds,
        args.connections,
        args.sockets,
        if args.modes.contains(&Mode::Cluster) {
            ", PostgreSQL and Redis"
        } else {
            ""
        },
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let mut reports = Vec::new();
    for &mode in &args.modes {
        let report = match mode {
            Mode::Sqlite => run_mode(&args, mode, &Backend::Sqlite).await?,
            Mode::Cluster => {
                // Started right here, on the main thread: the servers are
                // killed when the thread that started them ends (a blocking
                // pool thread would end while they still serve).
                let postgres = Postgres::start().context("starting PostgreSQL")?;
                let redis = Redis::start().context("starting Redis")?;
                let backend = Backend::Cluster {
                    database: fresh_postgres(&postgres.url()).await?,
                    redis: redis.url(),
                };
                // The engine stops inside, before the servers are dropped.
                run_mode(&args, mode, &backend).await?
            }
        };
        reports.push(report);
    }
    if reports.len() > 1 {
        print_summary(&reports);
    }
    Ok(())
}
