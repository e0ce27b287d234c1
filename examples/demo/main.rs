//! The UTD Stream demo: starts a real engine and a real livekit-server on
//! loopback and walks through what the SDK does today, printing each step.
//!
//! Run it with `scripts/demo.sh` (or `cargo run --example demo` once
//! livekit-server is installed: `scripts/setup.sh livekit`).

mod calls;
mod media;
mod rooms;
mod signalling;
mod wake;

use std::time::{Duration, Instant};

use utd_engine::config::ApnsConfig;
use utd_engine::{DatabaseLocation, EngineConfig};
use utd_testkit::push::{ApnsKey, ApnsStandIn};
use utd_testkit::WiredLiveKit;

type DemoResult = Result<(), Box<dyn std::error::Error>>;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> DemoResult {
    let started = Instant::now();
    let dir = tempfile::tempdir()?;
    // Started on the main thread, which outlives it.
    let wired = WiredLiveKit::start()?;
    let mut config = EngineConfig::for_tests();
    wired.configure(&mut config);
    config.database = DatabaseLocation::File(dir.path().join("demo.db"));
    config.heartbeat_interval = Duration::from_secs(1);
    // Short enough to watch an unanswered call become missed.
    config.ring_timeout = Duration::from_secs(2);
    // VoIP pushes go to a loopback stand-in of APNs (Apple is not reachable
    // from here); it checks the JWT, headers and payload as Apple does.
    let key = ApnsKey::generate();
    let apns = ApnsStandIn::start(&key, "dev.utdstream.demo").await?;
    config.push.apns = Some(
        ApnsConfig::new(
            key.p8_pem.clone(),
            key.key_id.clone(),
            key.team_id.clone(),
            "dev.utdstream.demo",
        )
        .with_endpoint(apns.url()),
    );
    let engine = utd_engine::start(config.clone()).await?;
    say(&format!(
        "engine up at {} (SQLite at {}), livekit-server at {}",
        engine.base_url(),
        dir.path().join("demo.db").display(),
        wired.server.ws_url()
    ));

    let engine = signalling::run(&config, engine).await?;
    rooms::run(&config, &engine).await?;
    media::run(&config, &engine).await?;
    calls::run(&config, &engine).await?;
    wake::run(&config, &engine, &apns).await?;

    engine.shutdown().await;
    apns.shutdown().await;
    drop(wired);
    say(&format!("done in {:.1} s", started.elapsed().as_secs_f64()));
    Ok(())
}

fn say(line: &str) {
    println!("[demo] {line}");
}

async fn wait_until(what: &str, probe: impl Fn() -> bool) -> DemoResult {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !probe() {
        if Instant::now() > deadline {
            return Err(format!("timed out waiting: {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}
