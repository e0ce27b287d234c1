//! Two engine processes sharing one PostgreSQL database and one Redis: the
//! multi-node mode as it is deployed (the `utd-engine` binary), so a node
//! can be killed with SIGKILL.
//!
//! PostgreSQL and Redis are the run's (`UTD_TEST_POSTGRES`,
//! `UTD_TEST_REDIS`) when set, else started here for the test.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use utd_engine::admin_client::{AdminClient, AppCredentials};
use utd_engine::Plan;
use utd_testkit::services::{Postgres, Redis};

use super::{connect_ws, next_msg, status_json, Ws};

const ADMIN_TOKEN: &str = "cluster-admin-token";

/// The run's PostgreSQL and Redis, or ones of this test.
pub struct Services {
    postgres: String,
    pub redis: String,
    owned: Option<(Postgres, Redis)>,
}

impl Services {
    /// The run's servers when the environment names them, else new ones.
    pub fn get() -> Services {
        match (
            utd_testkit::database::postgres_server(),
            utd_testkit::database::redis_server(),
        ) {
            (Some(postgres), Some(redis)) => Services {
                postgres,
                redis,
                owned: None,
            },
            _ => Self::own(),
        }
    }

    /// New servers for this test alone (it may kill them).
    pub fn own() -> Services {
        let pg = Postgres::start().expect("PostgreSQL starts");
        let redis = Redis::start().expect("Redis starts");
        Services {
            postgres: pg.url(),
            redis: redis.url(),
            owned: Some((pg, redis)),
        }
    }

    /// Kills this test's Redis.
    pub fn kill_redis(&mut self) {
        let (_, redis) = self.owned.as_mut().expect("a Redis of this test's own");
        redis.kill();
    }
}

/// One engine node (a child process), killed when dropped.
pub struct Node {
    child: Child,
    /// The node id it runs with.
    pub id: String,
    base: String,
    http: reqwest::Client,
}

impl Node {
    /// The `utd-engine` command of a node on `port` with `args` added.
    fn command(port: u16, database: &str, redis: &str, node_id: &str, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_utd-engine"));
        command
            .args(["--bind", &format!("127.0.0.1:{port}")])
            .args(["--database", database, "--redis", redis])
            .args(["--node-id", node_id, "--admin-token", ADMIN_TOKEN])
            .args(["--log-format", "text"])
            .args(args)
            .env("RUST_LOG", "error");
        if !args.contains(&"--livekit-url") {
            // No LiveKit in most of these tests: rooms are prepared beside
            // the replies and never waited for.
            command.args(["--livekit-url", "ws://127.0.0.1:9"]);
        }
        command
    }

    /// Starts `utd-engine` on a free port with `args` added.
    pub fn start(database: &str, redis: &str, node_id: &str, args: &[&str]) -> Node {
        let port = utd_testkit::ports::free_tcp_port().expect("a free port");
        let mut child = Self::command(port, database, redis, node_id, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("utd-engine starts");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("a first line");
        assert!(
            line.starts_with("utd-engine listening on "),
            "node {node_id} did not start: {line:?}"
        );
        Node {
            child,
            id: node_id.to_owned(),
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        }
    }

    /// Runs a node that is expected not to start: its exit status and
    /// what it printed on stderr.
    pub async fn refused(
        database: &str,
        redis: &str,
        node_id: &str,
        args: &[&str],
    ) -> (std::process::ExitStatus, String) {
        let port = utd_testkit::ports::free_tcp_port().expect("a free port");
        let mut command = Self::command(port, database, redis, node_id, args);
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("the node ran")
            .expect("utd-engine runs");
        (
            output.status,
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// SIGKILL: no goodbye to Redis, the database or the sockets.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn admin(&self) -> AdminClient {
        AdminClient::new(self.base.clone(), ADMIN_TOKEN)
    }

    pub async fn get(&self, path: &str, bearer: &str) -> (u16, Value) {
        self.request(reqwest::Method::GET, path, bearer, None).await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> (u16, Value) {
        self.request(reqwest::Method::POST, path, bearer, Some(body))
            .await
    }

    pub async fn put(&self, path: &str, bearer: &str, body: Value) -> (u16, Value) {
        self.request(reqwest::Method::PUT, path, bearer, Some(body))
            .await
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        bearer: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .bearer_auth(bearer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        status_json(request.send().await.expect("request")).await
    }

    /// A session's bearer (minted through this node).
    pub async fn token_for(&self, app: &AppCredentials, identity: &str) -> String {
        let resp = self
            .http
            .post(self.url("/api/v1/auth/session"))
            .header("X-UTD-App-Id", &app.app_id)
            .header("X-UTD-App-Key", &app.app_key)
            .json(&json!({ "identity": identity, "device_id": format!("{identity}-dev") }))
            .send()
            .await
            .expect("request");
        let (status, body) = status_json(resp).await;
        assert_eq!(status, 200, "{body}");
        body["user_token"].as_str().expect("user_token").to_owned()
    }

    /// A signal socket on this node, past `hello`.
    pub async fn connected(&self, bearer: &str) -> Ws {
        let ws_url = format!("{}/api/v1/signal", self.base.replacen("http", "ws", 1));
        let mut ws = connect_ws(&ws_url, Some(bearer)).await;
        let hello = next_msg(&mut ws).await.expect("hello");
        assert_eq!(hello["type"], "hello", "{hello}");
        ws
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Two nodes on one fresh database and one Redis.
pub struct TwoNodes {
    pub a: Node,
    pub b: Node,
    pub services: Services,
    /// The database URL both use.
    pub database: String,
}

impl TwoNodes {
    /// Both nodes started with `args` (e.g. a short ring timeout).
    pub async fn start(args: &[&str]) -> TwoNodes {
        Self::start_on(Services::get(), args).await
    }

    /// Both nodes on `services`.
    pub async fn start_on(services: Services, args: &[&str]) -> TwoNodes {
        Self::start_each(services, args, args).await
    }

    /// Node A with `a_args`, node B with `b_args`, on `services`.
    pub async fn start_each(services: Services, a_args: &[&str], b_args: &[&str]) -> TwoNodes {
        let database = utd_testkit::database::fresh_postgres(&services.postgres)
            .await
            .expect("a database");
        // One after the other: the second waits on the first's migration lock
        // anyway, and a failed first start is clearer this way.
        // Node ids are unique per Redis: the tests of this binary share one,
        // and a node skips what comes back with its own id.
        static PAIRS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let pair = PAIRS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = |name: &str| format!("{name}-{}-{pair}", std::process::id());
        let a = Node::start(&database, &services.redis, &id("node-a"), a_args);
        let b = Node::start(&database, &services.redis, &id("node-b"), b_args);
        TwoNodes {
            a,
            b,
            services,
            database,
        }
    }

    /// An app created through node A.
    pub async fn app(&self, plan: Plan) -> AppCredentials {
        self.a
            .admin()
            .create_app("cluster test app", plan)
            .await
            .expect("create app")
    }
}

/// The next message of `kind` within `wait` (others skipped), or None.
pub async fn next_of(ws: &mut Ws, kind: &str, wait: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, next_msg(ws)).await {
            Ok(Ok(m)) if m["type"] == kind => return Some(m),
            Ok(Ok(_)) => continue,
            Ok(Err(_)) | Err(_) => return None,
        }
    }
}
