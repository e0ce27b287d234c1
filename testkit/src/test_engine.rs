//! The engine an end-to-end test (or `utd-stack`) runs, in process: one node
//! on the database the test asks for (moved to PostgreSQL when the run names
//! one, see [`crate::database`]), or, when `UTD_TEST_NODES=2` and the run
//! names a PostgreSQL and a Redis (`utd-services`), two nodes on one fresh
//! database and that Redis behind a round-robin [`Balancer`], whose URL is
//! the engine's: a test's clients land on both nodes as they would behind a
//! load balancer.

use anyhow::{bail, Context as _, Result};
use utd_engine::{ClusterConfig, ConnectionUrl, EngineConfig, RunningEngine};

use crate::balancer::Balancer;
use crate::database;

/// The variable asking for a two-node engine (`1` or unset: one node).
pub const NODES_ENV: &str = "UTD_TEST_NODES";

/// How many nodes this run's engines have.
pub fn node_count() -> usize {
    match std::env::var(NODES_ENV).ok().as_deref() {
        Some("2") => 2,
        _ => 1,
    }
}

/// One or two running engine nodes and the URL clients use.
pub struct TestEngine {
    // The configurations as started (ports fixed), for a restart.
    configs: Vec<EngineConfig>,
    running: Vec<RunningEngine>,
    url: String,
    _balancer: Option<Balancer>,
}

impl TestEngine {
    /// Starts the run's kind of engine from `config` (its `bind` and
    /// `database` are adjusted; everything else is kept).
    pub async fn start(mut config: EngineConfig) -> Result<TestEngine> {
        config.database = database::for_tests(&config.database).await?;
        if node_count() == 1 {
            let running = utd_engine::start(config.clone())
                .await
                .context("starting the engine")?;
            // A restart must come back on the same port.
            config.bind = running.local_addr();
            return Ok(TestEngine {
                url: running.base_url(),
                configs: vec![config],
                running: vec![running],
                _balancer: None,
            });
        }
        let (Some(_), Some(redis)) = (database::postgres_server(), database::redis_server()) else {
            bail!(
                "{NODES_ENV}=2 needs {} and {} (the utd-services binary starts both)",
                database::POSTGRES_ENV,
                database::REDIS_ENV
            );
        };
        // The balancer takes the engine's address: what was to reach the
        // engine (LiveKit's webhooks, see `WiredLiveKit`) reaches a node.
        let (listener, addr) = Balancer::bind(config.bind).await?;
        let url = format!("http://{addr}");
        config.public_url.get_or_insert_with(|| url.clone());
        let mut configs = Vec::new();
        let mut running = Vec::new();
        for node in ["a", "b"] {
            let mut node_config = config.clone();
            node_config.bind = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
            // A random node id (unique on the Redis all tests share: a
            // node skips what comes back with its own id) naming the node.
            let mut cluster = ClusterConfig::new(ConnectionUrl::new(redis.clone()));
            cluster.node_id = format!("{}-{node}", cluster.node_id);
            node_config.cluster = Some(cluster);
            let engine = utd_engine::start(node_config.clone())
                .await
                .with_context(|| format!("starting engine {node}"))?;
            node_config.bind = engine.local_addr();
            configs.push(node_config);
            running.push(engine);
        }
        let balancer = Balancer::serve(listener, configs.iter().map(|c| c.bind).collect());
        Ok(TestEngine {
            configs,
            running,
            url,
            _balancer: Some(balancer),
        })
    }

    /// `http://127.0.0.1:PORT` of the engine (the balancer with two nodes).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The admin bearer.
    pub fn admin_token(&self) -> &str {
        &self.configs[0].admin_token
    }

    /// How many nodes serve this engine.
    pub fn nodes(&self) -> usize {
        self.configs.len()
    }

    /// Whether the nodes are running (not stopped).
    pub fn is_running(&self) -> bool {
        !self.running.is_empty()
    }

    /// Open signal sockets over all nodes.
    pub fn signal_connections(&self) -> usize {
        self.running.iter().map(|e| e.signal_connections()).sum()
    }

    /// Stops every node gracefully (sockets closed with 1001).
    pub async fn stop(&mut self) {
        for engine in self.running.drain(..) {
            engine.shutdown().await;
        }
    }

    /// Starts the nodes again on the same ports and database.
    pub async fn start_again(&mut self) -> Result<()> {
        self.stop().await;
        for config in &self.configs {
            let engine = utd_engine::start(config.clone())
                .await
                .context("restarting the engine")?;
            self.running.push(engine);
        }
        Ok(())
    }
}
