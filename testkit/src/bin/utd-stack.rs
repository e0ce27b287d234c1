//! `utd-stack`: the real livekit-server plus the engine, for the Kotlin and
//! Swift suites and the demo.
//!
//! ```text
//! utd-stack --env-file PATH [--watch-pid PID] [--database FILE] [--ring-timeout-secs N]
//! ```
//!
//! The engine's call ring timeout defaults to 8 s here (30 s in the engine)
//! so the foreign suites can watch an unanswered call become `missed`, while
//! a cold-start answer (a new controller from the push payload) still fits
//! in the ring on a slow CI machine.
//!
//! Starts livekit-server on free loopback ports, the loopback stand-ins of
//! APNs and FCM (`utd_testkit::push`), and the engine in-process on a file
//! database (or the run's PostgreSQL, and two nodes behind a balancer with
//! `UTD_TEST_NODES=2`: `utd_testkit::test_engine`) with push dispatch
//! pointed at those stand-ins (bundle id
//! `dev.utdstream.foreign`: VoIP topic `dev.utdstream.foreign.voip`; FCM
//! project `utd-foreign`), then writes PATH as JSON:
//! `{"engine_url","livekit_url","admin_token","control_url","apns_url",
//! "fcm_url", ...}`. Foreign tests read it (via `UTD_STACK_ENV`) and drive
//! the control endpoint:
//!
//! - `POST /engine/stop`: graceful engine stop (clients see their sockets close);
//! - `POST /engine/start`: the engine again, on the same port with the same
//!   database and the same push configuration, so a connected client can
//!   reconnect by itself;
//! - `GET /status`: `{"engine_running": bool}`;
//! - `GET /pushes/apns`: every push the APNs stand-in accepted so far, in
//!   arrival order, as `[{"device_token": hex, "payload": {...}}]` (`payload`
//!   is the JSON dictionary PushKit would hand the app);
//! - `GET /pushes/fcm`: every message the FCM stand-in accepted so far, in
//!   arrival order, as `[{"device_token": token, "data": {string: string}}]`
//!   (`data` is what `RemoteMessage.data` would hold);
//! - `POST /shutdown`: stops everything and exits.
//!
//! The push lists are never cleared during a run: a test tells its own
//! pushes by the (unique) device tokens it registered.
//!
//! It also exits on SIGINT/SIGTERM and, with `--watch-pid`, when that process
//! (the test script) is gone, so an interrupted run leaves nothing behind.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tokio::sync::{watch, Mutex};
use utd_engine::{ApnsConfig, DatabaseLocation, EngineConfig, FcmConfig};
use utd_testkit::push::{ApnsKey, ApnsStandIn, FcmStandIn};
use utd_testkit::test_engine::TestEngine;
use utd_testkit::{LiveKitServer, WiredLiveKit};

struct Args {
    env_file: PathBuf,
    watch_pid: Option<libc::pid_t>,
    database: Option<PathBuf>,
    ring_timeout: Duration,
}

/// Short enough for a test to wait out, long enough to answer in.
const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(8);

/// The app the engine pushes to: VoIP pushes go to `<bundle id>.voip`.
const APNS_BUNDLE_ID: &str = "dev.utdstream.foreign";

/// The Firebase project of the FCM stand-in.
const FCM_PROJECT: &str = "utd-foreign";

fn parse_args() -> Result<Args> {
    let mut env_file = None;
    let mut watch_pid = None;
    let mut database = None;
    let mut ring_timeout = DEFAULT_RING_TIMEOUT;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--env-file" => env_file = Some(PathBuf::from(value()?)),
            "--watch-pid" => {
                let raw = value()?;
                watch_pid = Some(
                    raw.parse()
                        .with_context(|| format!("--watch-pid {raw:?}"))?,
                );
            }
            "--database" => database = Some(PathBuf::from(value()?)),
            "--ring-timeout-secs" => {
                let raw = value()?;
                ring_timeout = Duration::from_secs(
                    raw.parse()
                        .with_context(|| format!("--ring-timeout-secs {raw:?}"))?,
                );
            }
            "-h" | "--help" => {
                println!("usage: utd-stack --env-file PATH [--watch-pid PID] [--database FILE] [--ring-timeout-secs N]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    Ok(Args {
        env_file: env_file.context("--env-file PATH is required")?,
        watch_pid,
        database,
        ring_timeout,
    })
}

fn main() -> Result<()> {
    let args = parse_args()?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        // Logs go to a file in CI; colour codes would only garble it.
        .with_ansi(false)
        .init();

    // Started on the main thread, which lives as long as the process.
    let wired = WiredLiveKit::start()?;

    let dir = tempfile::Builder::new().prefix("utd-stack-").tempdir()?;
    let database = args
        .database
        .clone()
        .unwrap_or_else(|| dir.path().join("engine.db"));
    let mut config = EngineConfig::for_tests();
    wired.configure(&mut config);
    config.database = DatabaseLocation::File(database);
    config.ring_timeout = args.ring_timeout;
    // Chat attachments for the Kotlin/Swift suites: a real versitygw when
    // scripts/setup.sh versitygw installed it, else the engine runs without
    // uploads (their routes answer 404) and everything else still works.
    // Started on the main thread, like LiveKit, so it lives as long as we do.
    let s3 = match utd_testkit::s3::versitygw_binary() {
        Ok(_) => Some(utd_testkit::s3::VersityGw::start()?),
        Err(e) => {
            tracing::warn!(error = %e, "no versitygw: uploads are off");
            None
        }
    };
    if let Some(s3) = &s3 {
        config.s3 = Some(utd_engine::config::S3Config {
            endpoint: s3.endpoint(),
            bucket: s3.bucket().to_owned(),
            region: s3.region().to_owned(),
            access_key: s3.access_key().to_owned(),
            secret_key: s3.secret_key().to_owned(),
        });
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let result = runtime.block_on(serve(config, &wired.server, &args));
    let _ = std::fs::remove_file(&args.env_file);
    // Explicit order: engine (inside serve) first, then LiveKit, then the
    // temp dir with the database.
    drop(wired);
    drop(s3);
    drop(dir);
    result
}

struct Stack {
    /// The engine (its nodes keep their configuration, push credentials
    /// included, for a restart: `POST /engine/start`).
    engine: Mutex<TestEngine>,
    apns: ApnsStandIn,
    fcm: FcmStandIn,
    /// Flips to true once, when the stack should exit.
    exit: watch::Sender<bool>,
}

impl Stack {
    async fn exit_requested(&self) {
        let mut exit = self.exit.subscribe();
        // Err only if the sender is gone, which means we are exiting anyway.
        let _ = exit.wait_for(|requested| *requested).await;
    }
}

/// Starts both push stand-ins and points `config`'s push dispatch at them.
async fn push_stand_ins(config: &mut EngineConfig) -> Result<(ApnsStandIn, FcmStandIn)> {
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, APNS_BUNDLE_ID)
        .await
        .context("starting the APNs stand-in")?;
    let fcm = FcmStandIn::start(FCM_PROJECT)
        .await
        .context("starting the FCM stand-in")?;
    config.push.apns = Some(
        ApnsConfig::new(key.p8_pem, key.key_id, key.team_id, APNS_BUNDLE_ID)
            .with_endpoint(apns.url()),
    );
    config.push.fcm = Some(
        FcmConfig::from_service_account_json(&fcm.service_account_json())
            .context("the FCM stand-in's service account")?
            .with_endpoint(fcm.url()),
    );
    Ok((apns, fcm))
}

async fn serve(mut config: EngineConfig, livekit: &LiveKitServer, args: &Args) -> Result<()> {
    let (apns, fcm) = push_stand_ins(&mut config).await?;
    let engine = TestEngine::start(config.clone()).await?;
    let engine_url = engine.url();
    let admin_token = engine.admin_token().to_owned();
    let nodes = engine.nodes();
    let apns_url = apns.url();
    let fcm_url = fcm.url();
    let s3_endpoint = config.s3.as_ref().map(|s3| s3.endpoint.clone());
    let stack = Arc::new(Stack {
        engine: Mutex::new(engine),
        apns,
        fcm,
        exit: watch::channel(false).0,
    });

    let control = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let control_url = format!("http://{}", control.local_addr()?);
    let app = Router::new()
        .route("/engine/stop", post(stop_engine))
        .route("/engine/start", post(start_engine))
        .route("/status", get(status))
        .route("/pushes/apns", get(apns_pushes))
        .route("/pushes/fcm", get(fcm_messages))
        .route("/shutdown", post(shutdown))
        .with_state(stack.clone());
    let exit = stack.clone();
    let control_server = tokio::spawn(async move {
        axum::serve(control, app)
            .with_graceful_shutdown(async move { exit.exit_requested().await })
            .await
    });

    write_env_file(
        &args.env_file,
        &json!({
            "engine_url": engine_url,
            "livekit_url": livekit.ws_url(),
            "livekit_http_url": livekit.http_url(),
            "livekit_api_key": livekit.api_key(),
            "livekit_api_secret": livekit.api_secret(),
            "admin_token": admin_token,
            "control_url": control_url,
            "apns_url": apns_url,
            "apns_bundle_id": APNS_BUNDLE_ID,
            "fcm_url": fcm_url,
            "fcm_project_id": FCM_PROJECT,
            // null when versitygw is not installed (uploads answer 404).
            "s3_endpoint": s3_endpoint,
            "ring_timeout_ms": u64::try_from(args.ring_timeout.as_millis()).unwrap_or(u64::MAX),
            "engine_nodes": nodes,
        }),
    )?;
    tracing::info!(%engine_url, nodes, livekit = %livekit.ws_url(), %control_url, "utd-stack ready");

    tokio::select! {
        _ = stack.exit_requested() => tracing::info!("shutdown requested: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
        _ = terminated() => tracing::info!("SIGTERM: stopping"),
        _ = parent_gone(args.watch_pid) => tracing::info!("watched process is gone: stopping"),
    }
    // Ends the control server too, whichever branch won.
    stack.exit.send_replace(true);
    stack.engine.lock().await.stop().await;
    let served = match tokio::time::timeout(Duration::from_secs(5), control_server).await {
        Ok(Ok(Ok(()))) | Err(_) => Ok(()),
        Ok(Ok(Err(e))) => Err(e).context("control server"),
        Ok(Err(e)) => Err(e).context("control server task"),
    };
    // The engine is gone, so nothing pushes any more. Once the control
    // server has let go of the stack, the stand-ins close their connections;
    // otherwise dropping them stops their listeners all the same.
    if let Ok(stack) = Arc::try_unwrap(stack) {
        stack.apns.shutdown().await;
        stack.fcm.shutdown().await;
    }
    served
}

/// Writes the env file atomically, so a reader polling for it never sees a
/// half-written JSON.
fn write_env_file(path: &Path, value: &serde_json::Value) -> Result<()> {
    let partial = path.with_extension("partial");
    std::fs::write(&partial, serde_json::to_vec_pretty(value)?)
        .with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, path).with_context(|| format!("renaming to {}", path.display()))
}

async fn stop_engine(State(stack): State<Arc<Stack>>) -> Json<serde_json::Value> {
    let mut engine = stack.engine.lock().await;
    if engine.is_running() {
        engine.stop().await;
        tracing::info!("engine stopped");
    }
    Json(json!({ "engine_running": false }))
}

async fn start_engine(
    State(stack): State<Arc<Stack>>,
) -> Result<Json<serde_json::Value>, (StatusCode, String)> {
    let mut engine = stack.engine.lock().await;
    if !engine.is_running() {
        // Same bind addresses and database: to a client it is the same
        // engine coming back.
        engine
            .start_again()
            .await
            .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{e:#}")))?;
        tracing::info!(url = %engine.url(), "engine started again");
    }
    Ok(Json(json!({ "engine_running": true })))
}

async fn status(State(stack): State<Arc<Stack>>) -> Json<serde_json::Value> {
    Json(json!({ "engine_running": stack.engine.lock().await.is_running() }))
}

/// The APNs stand-in's accepted pushes so far, oldest first.
async fn apns_pushes(State(stack): State<Arc<Stack>>) -> Json<serde_json::Value> {
    let pushes = stack.apns.pushes();
    Json(serde_json::Value::Array(
        pushes
            .into_iter()
            .map(|p| json!({ "device_token": p.device_token, "payload": p.payload }))
            .collect(),
    ))
}

/// The FCM stand-in's accepted messages so far, oldest first.
async fn fcm_messages(State(stack): State<Arc<Stack>>) -> Json<serde_json::Value> {
    let messages = stack.fcm.messages();
    Json(serde_json::Value::Array(
        messages
            .into_iter()
            .map(|m| json!({ "device_token": m.device_token, "data": m.data }))
            .collect(),
    ))
}

async fn shutdown(State(stack): State<Arc<Stack>>) -> StatusCode {
    stack.exit.send_replace(true);
    StatusCode::ACCEPTED
}

async fn terminated() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut signal) => {
            signal.recv().await;
        }
        // Without a handler, SIGTERM's default action still ends the process.
        Err(_) => std::future::pending().await,
    }
}

async fn parent_gone(pid: Option<libc::pid_t>) {
    let Some(pid) = pid else {
        return std::future::pending().await;
    };
    loop {
        // SAFETY: signal 0 sends nothing; it only checks that the pid exists.
        if unsafe { libc::kill(pid, 0) } != 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
