//! Engine configuration, shared by the binary (flags/env) and in-process starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use crate::push::config::{
    ApnsConfig, FcmConfig, PushConfig, APNS_PRODUCTION, APNS_SANDBOX, FCM_DEFAULT_ENDPOINT,
};

/// Where the engine keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseLocation {
    /// A private in-memory SQLite database: gone when the engine stops.
    Memory,
    /// A SQLite database file (created if missing), opened in WAL mode.
    File(PathBuf),
    /// A PostgreSQL database, which several engine nodes may share.
    Postgres(ConnectionUrl),
}

impl DatabaseLocation {
    /// Parses the CLI form: `:memory:`, a `postgres://` (or
    /// `postgresql://`) URL, or a SQLite file path.
    pub fn parse(value: &str) -> Self {
        if value == ":memory:" {
            DatabaseLocation::Memory
        } else if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            DatabaseLocation::Postgres(ConnectionUrl(value.to_owned()))
        } else {
            DatabaseLocation::File(PathBuf::from(value))
        }
    }
}

/// A PostgreSQL or Redis URL; its password never reaches `Debug` output or a
/// log line.
#[derive(Clone, PartialEq, Eq)]
pub struct ConnectionUrl(String);

impl ConnectionUrl {
    /// Wraps a `postgres://user:password@host:port/database` or
    /// `redis://:password@host:port` URL.
    pub fn new(url: impl Into<String>) -> Self {
        ConnectionUrl(url.into())
    }

    /// The URL with its password, for the driver only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ConnectionUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    let _ = url.set_password(Some("<redacted>"));
                }
                write!(f, "{url}")
            }
            Err(_) => f.write_str("<unparsable database URL>"),
        }
    }
}

/// The S3-compatible bucket chat attachments are uploaded to
/// (docs/uploads-api.md). The secret never reaches a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Base URL of the S3 endpoint (`http(s)://host:port`); objects are
    /// addressed path-style (`<endpoint>/<bucket>/<key>`).
    pub endpoint: String,
    /// Bucket name.
    pub bucket: String,
    /// Region of the SigV4 signatures (`us-east-1` for most self-hosted stores).
    pub region: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .finish()
    }
}

/// Default of [`EngineConfig::http_header_timeout`].
pub const DEFAULT_HTTP_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything the engine needs to run. Secrets in here are never logged.
#[derive(Clone)]
pub struct EngineConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Where data lives: SQLite (embedded) or PostgreSQL (multi-node).
    pub database: DatabaseLocation,
    /// LiveKit URL handed to clients in room tokens.
    pub livekit_url: String,
    /// LiveKit API key used to sign room tokens and verify webhooks.
    pub livekit_api_key: String,
    /// LiveKit API secret (never leaves the engine).
    pub livekit_api_secret: String,
    /// Bearer token of the `/admin/v1` surface.
    pub admin_token: String,
    /// Lifetime of user sessions (`user_token`).
    pub session_ttl: Duration,
    /// Lifetime of LiveKit room tokens.
    pub room_token_ttl: Duration,
    /// Unanswered calls become `missed` after this long.
    pub ring_timeout: Duration,
    /// Interval of server pings on the signal WebSocket.
    pub heartbeat_interval: Duration,
    /// Public base URL (`http(s)://host:port`) used to build `ws_url`; derived
    /// from the bound address when `None`.
    pub public_url: Option<String>,
    /// Capacity of each connection's outbound queue before it is closed as a
    /// slow consumer.
    pub ws_queue_capacity: usize,
    /// Default per-user requests per minute for newly created apps.
    pub default_per_user_per_minute: u32,
    /// Default per-app requests per minute for newly created apps.
    pub default_per_app_per_minute: u32,
    /// APNs / FCM credentials of push dispatch (none: nothing is pushed).
    pub push: PushConfig,
    /// The uploads bucket (none: every uploads route answers 404).
    pub s3: Option<S3Config>,
    /// Validity of a presigned upload PUT (contract: 10 minutes).
    pub upload_put_validity: Duration,
    /// Validity of a presigned download GET (contract: 5 minutes).
    pub upload_get_validity: Duration,
    /// A pending upload not completed within this long of its creation is
    /// expired and swept (contract: 1 hour).
    pub upload_pending_ttl: Duration,
    /// Interval of the uploads sweep (expired pending and purged uploads).
    pub uploads_sweep_interval: Duration,
    /// How long a connection may take to send a request head; a silent
    /// connection is closed after it, so idle sockets cannot pile up.
    pub http_header_timeout: Duration,
    /// Several engine nodes sharing one PostgreSQL database: what crosses
    /// nodes goes through Redis. None: this process is the only node.
    pub cluster: Option<ClusterConfig>,
}

/// Default of [`ClusterConfig::presence_ttl`].
pub const DEFAULT_PRESENCE_TTL: Duration = Duration::from_secs(15);

/// How this node joins the others (docs/architecture.md, "Several nodes").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterConfig {
    /// The Redis every node of the cluster uses.
    pub redis: ConnectionUrl,
    /// This node's name, unique in the cluster (logs, metrics, presence).
    pub node_id: String,
    /// How long a user stays online after their node stopped refreshing them
    /// (a node killed without a goodbye); refreshed every third of it.
    pub presence_ttl: Duration,
}

impl ClusterConfig {
    /// A node of the cluster on `redis`, with a random node id.
    pub fn new(redis: ConnectionUrl) -> Self {
        ClusterConfig {
            redis,
            node_id: format!("node-{:08x}", rand::random::<u32>()),
            presence_ttl: DEFAULT_PRESENCE_TTL,
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    // Hand-written so that secrets never reach a log line through `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("bind", &self.bind)
            .field("database", &self.database)
            .field("livekit_url", &self.livekit_url)
            .field("livekit_api_key", &self.livekit_api_key)
            .field("livekit_api_secret", &"<redacted>")
            .field("admin_token", &"<redacted>")
            .field("session_ttl", &self.session_ttl)
            .field("room_token_ttl", &self.room_token_ttl)
            .field("ring_timeout", &self.ring_timeout)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("public_url", &self.public_url)
            .field("push", &self.push)
            .field("s3", &self.s3)
            .field("upload_put_validity", &self.upload_put_validity)
            .field("upload_get_validity", &self.upload_get_validity)
            .field("upload_pending_ttl", &self.upload_pending_ttl)
            .field("uploads_sweep_interval", &self.uploads_sweep_interval)
            .field("http_header_timeout", &self.http_header_timeout)
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl EngineConfig {
    /// A configuration for tests: loopback with a free port, in-memory database,
    /// the livekit-server `--dev` key pair and a fixed admin token.
    pub fn for_tests() -> Self {
        EngineConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database: DatabaseLocation::Memory,
            livekit_url: "ws://127.0.0.1:7880".to_owned(),
            livekit_api_key: "devkey".to_owned(),
            livekit_api_secret: "secret".to_owned(),
            admin_token: "test-admin-token".to_owned(),
            session_ttl: Duration::from_secs(24 * 3600),
            room_token_ttl: Duration::from_secs(600),
            ring_timeout: Duration::from_secs(30),
            heartbeat_interval: Duration::from_secs(5),
            public_url: None,
            ws_queue_capacity: 256,
            default_per_user_per_minute: 1_200,
            default_per_app_per_minute: 120_000,
            push: PushConfig::default(),
            s3: None,
            upload_put_validity: Duration::from_secs(600),
            upload_get_validity: Duration::from_secs(300),
            upload_pending_ttl: Duration::from_secs(3600),
            uploads_sweep_interval: Duration::from_secs(60),
            http_header_timeout: DEFAULT_HTTP_HEADER_TIMEOUT,
            cluster: None,
        }
    }
}
