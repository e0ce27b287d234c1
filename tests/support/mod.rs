//! Shared set-up for the SDK's end-to-end tests: a real engine (in-process,
//! SQLite file, or two nodes on PostgreSQL + Redis when the run asks for it)
//! on a loopback port, and helpers to make apps and clients.
#![allow(dead_code)] // each test binary uses a different subset

pub mod audio;
pub mod chat;
pub mod media;
pub mod push;
pub mod wire_tap;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use utd_engine::admin_client::{AdminClient, AppCredentials};
use utd_engine::{DatabaseLocation, EngineConfig};
use utd_stream::UTDStreamClient;
use utd_testkit::test_engine::TestEngine;

/// A running engine plus what it takes to restart it on the same port/DB:
/// one node, or two behind a balancer when the run asks for it
/// (`utd_testkit::test_engine`).
pub struct Engine {
    engine: TestEngine,
    _dir: tempfile::TempDir,
}

impl Engine {
    /// Starts an engine on a free port with a fresh SQLite file (or the
    /// run's PostgreSQL).
    pub async fn start() -> Engine {
        Self::start_with(|_| {}).await
    }

    /// Starts an engine after `adjust` edits its configuration.
    pub async fn start_with(adjust: impl FnOnce(&mut EngineConfig)) -> Engine {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = EngineConfig::for_tests();
        config.database = DatabaseLocation::File(dir.path().join("engine.db"));
        config.heartbeat_interval = Duration::from_secs(1);
        adjust(&mut config);
        let engine = TestEngine::start(config).await.expect("engine starts");
        Engine { engine, _dir: dir }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.engine.url()
    }

    /// The admin API client.
    pub fn admin(&self) -> AdminClient {
        AdminClient::new(self.url(), self.engine.admin_token())
    }

    /// Creates an app on `plan`.
    pub async fn app(&self, plan: &str) -> AppCredentials {
        self.admin()
            .create_app("e2e", plan_named(plan))
            .await
            .expect("create app")
    }

    /// Stops the engine gracefully (sockets close with 1001).
    pub async fn stop(&mut self) {
        self.engine.stop().await;
    }

    /// Starts it again on the same port with the same database.
    pub async fn restart(&mut self) {
        self.engine.start_again().await.expect("engine restarts");
    }
}

/// The engine plan called `name` (`free`, `signaling`, `pro`, `enterprise`).
pub fn plan_named(name: &str) -> utd_engine::plans::Plan {
    utd_engine::plans::Plan::parse(name).unwrap_or_else(|| panic!("no plan named {name}"))
}

/// A client of `app` on `engine`.
pub fn client(engine: &Engine, app: &AppCredentials) -> Arc<UTDStreamClient> {
    UTDStreamClient::new(app.app_id.clone(), app.app_key.clone(), engine.url(), None)
        .expect("client")
}

/// Waits until `probe` returns true, polling every 20 ms, for at most `limit`.
pub async fn eventually(limit: Duration, what: &str, mut probe: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + limit;
    while !probe() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {limit:?} waiting for: {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `f` with a deadline, failing the test with `what` when it passes.
pub async fn within<T>(limit: Duration, what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, f)
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?}: {what}"))
}
