//! Command line: `utd-engine [serve]` and `utd-engine admin …` (on the DB).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;

use crate::config::{
    ApnsConfig, ClusterConfig, ConnectionUrl, DatabaseLocation, EngineConfig, FcmConfig,
    PushConfig, S3Config,
};
use crate::db::Db;
use crate::plans::Plan;

/// The UTD-Stream reference engine.
#[derive(Debug, Parser)]
#[command(name = "utd-engine", version, about)]
pub struct Cli {
    /// Server options (also used by `admin` for `--database`).
    #[command(flatten)]
    pub serve: ServeArgs,
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Administer apps directly in the database.
    #[command(subcommand)]
    Admin(AdminCommand),
}

/// Server options.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address.
    #[arg(
        long,
        env = "UTD_BIND",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub bind: SocketAddr,
    /// SQLite file, `:memory:`, or a `postgres://` URL (shared by several
    /// engine nodes).
    #[arg(
        long,
        env = "UTD_DATABASE",
        default_value = "utd-engine.sqlite3",
        global = true
    )]
    pub database: String,
    /// LiveKit URL handed to clients.
    #[arg(
        long,
        env = "LIVEKIT_URL",
        default_value = "ws://127.0.0.1:7880",
        global = true
    )]
    pub livekit_url: String,
    /// LiveKit API key.
    #[arg(long, env = "LIVEKIT_API_KEY", default_value = "devkey", global = true)]
    pub livekit_api_key: String,
    /// LiveKit API secret.
    #[arg(
        long,
        env = "LIVEKIT_API_SECRET",
        default_value = "secret",
        hide_env_values = true,
        global = true
    )]
    pub livekit_api_secret: String,
    /// Admin bearer token (required to serve).
    #[arg(long, env = "UTD_ADMIN_TOKEN", hide_env_values = true, global = true)]
    pub admin_token: Option<String>,
    /// Public base URL used to build `ws_url`.
    #[arg(long, env = "UTD_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Session lifetime in seconds.
    #[arg(
        long,
        env = "UTD_SESSION_TTL_SECS",
        default_value_t = 86_400,
        global = true
    )]
    pub session_ttl_secs: u64,
    /// Room token lifetime in seconds.
    #[arg(
        long,
        env = "UTD_ROOM_TOKEN_TTL_SECS",
        default_value_t = 600,
        global = true
    )]
    pub room_token_ttl_secs: u64,
    /// Ring timeout of calls in seconds.
    #[arg(
        long,
        env = "UTD_RING_TIMEOUT_SECS",
        default_value_t = 30,
        global = true
    )]
    pub ring_timeout_secs: u64,
    /// Signal heartbeat interval in seconds.
    #[arg(long, env = "UTD_HEARTBEAT_SECS", default_value_t = 20, global = true)]
    pub heartbeat_secs: u64,
    /// Log format: json or text.
    #[arg(long, env = "UTD_LOG_FORMAT", default_value = "json", global = true)]
    pub log_format: String,
    /// APNs token-auth signing key (`.p8`, PKCS#8 PEM); with the other
    /// `--apns-*` credentials, calls ring iOS devices through PushKit.
    #[arg(long, env = "APNS_KEY_FILE", global = true)]
    pub apns_key_file: Option<PathBuf>,
    /// Key ID of the APNs signing key.
    #[arg(long, env = "APNS_KEY_ID", global = true)]
    pub apns_key_id: Option<String>,
    /// Apple developer Team ID.
    #[arg(long, env = "APNS_TEAM_ID", global = true)]
    pub apns_team_id: Option<String>,
    /// The iOS app's bundle id (VoIP topic `<bundle id>.voip`).
    #[arg(long, env = "APNS_BUNDLE_ID", global = true)]
    pub apns_bundle_id: Option<String>,
    /// APNs provider API base URL (default production; the sandbox is
    /// https://api.sandbox.push.apple.com).
    #[arg(long, env = "APNS_ENDPOINT", global = true)]
    pub apns_endpoint: Option<String>,
    /// FCM service-account key file (JSON); calls ring Android devices.
    #[arg(long, env = "FCM_SERVICE_ACCOUNT_FILE", global = true)]
    pub fcm_service_account_file: Option<PathBuf>,
    /// FCM API base URL (default https://fcm.googleapis.com).
    #[arg(long, env = "FCM_ENDPOINT", global = true)]
    pub fcm_endpoint: Option<String>,
    /// S3-compatible endpoint of chat attachment uploads (with `--s3-bucket`,
    /// `--s3-access-key` and `--s3-secret-key`); without it uploads are off.
    #[arg(long, env = "UTD_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
    /// Bucket of the uploads.
    #[arg(long, env = "UTD_S3_BUCKET", global = true)]
    pub s3_bucket: Option<String>,
    /// Region of the S3 signatures.
    #[arg(
        long,
        env = "UTD_S3_REGION",
        default_value = "us-east-1",
        global = true
    )]
    pub s3_region: String,
    /// S3 access key id.
    #[arg(long, env = "UTD_S3_ACCESS_KEY", global = true)]
    pub s3_access_key: Option<String>,
    /// S3 secret access key.
    #[arg(long, env = "UTD_S3_SECRET_KEY", hide_env_values = true, global = true)]
    pub s3_secret_key: Option<String>,
    /// Interval of the uploads sweep in seconds.
    #[arg(
        long,
        env = "UTD_UPLOADS_SWEEP_SECS",
        default_value_t = 60,
        global = true
    )]
    pub uploads_sweep_secs: u64,
    /// Redis of a multi-node cluster (`redis://[:password@]host:port`); needs
    /// a `postgres://` `--database` shared by every node. Without it this
    /// process is the only node.
    #[arg(long, env = "UTD_REDIS_URL", hide_env_values = true, global = true)]
    pub redis: Option<String>,
    /// This node's id in the cluster (default: random).
    #[arg(long, env = "UTD_NODE_ID", global = true)]
    pub node_id: Option<String>,
    /// Seconds a user stays online after their node stopped refreshing them
    /// (a node killed without a goodbye).
    #[arg(
        long,
        env = "UTD_PRESENCE_TTL_SECS",
        default_value_t = 15,
        global = true
    )]
    pub presence_ttl_secs: u64,
}

impl ServeArgs {
    /// Builds the engine configuration.
    pub fn to_config(&self) -> anyhow::Result<EngineConfig> {
        let admin_token = self
            .admin_token
            .clone()
            .filter(|t| !t.is_empty())
            .ok_or_else(|| anyhow::anyhow!("--admin-token / UTD_ADMIN_TOKEN is required"))?;
        let defaults = EngineConfig::for_tests();
        Ok(EngineConfig {
            bind: self.bind,
            database: DatabaseLocation::parse(&self.database),
            livekit_url: self.livekit_url.clone(),
            livekit_api_key: self.livekit_api_key.clone(),
            livekit_api_secret: self.livekit_api_secret.clone(),
            admin_token,
            session_ttl: Duration::from_secs(self.session_ttl_secs.max(1)),
            room_token_ttl: Duration::from_secs(self.room_token_ttl_secs.max(1)),
            ring_timeout: Duration::from_secs(self.ring_timeout_secs.max(1)),
            heartbeat_interval: Duration::from_secs(self.heartbeat_secs.max(1)),
            public_url: self.public_url.clone(),
            push: self.push_config()?,
            s3: self.s3_config()?,
            uploads_sweep_interval: Duration::from_secs(self.uploads_sweep_secs.max(1)),
            cluster: self.cluster_config()?,
            ..defaults
        })
    }

    /// The cluster membership: `--redis` with a PostgreSQL database, or none.
    pub fn cluster_config(&self) -> anyhow::Result<Option<ClusterConfig>> {
        let Some(redis) = self.redis.as_deref().filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        if !matches!(
            DatabaseLocation::parse(&self.database),
            DatabaseLocation::Postgres(_)
        ) {
            anyhow::bail!(
                "--redis [UTD_REDIS_URL] joins a cluster, whose nodes share a postgres:// --database"
            );
        }
        let mut cluster = ClusterConfig::new(ConnectionUrl::new(redis));
        if let Some(node_id) = self.node_id.as_deref().filter(|n| !n.is_empty()) {
            cluster.node_id = node_id.to_owned();
        }
        cluster.presence_ttl = Duration::from_secs(self.presence_ttl_secs.max(1));
        Ok(Some(cluster))
    }

    /// The push credentials: all four `--apns-*` credentials or none, and an
    /// optional FCM service account; key files are read here.
    pub fn push_config(&self) -> anyhow::Result<PushConfig> {
        Ok(PushConfig {
            apns: self.apns_config()?,
            fcm: self.fcm_config()?,
        })
    }

    /// The uploads bucket: endpoint, bucket and both keys, or none of them.
    pub fn s3_config(&self) -> anyhow::Result<Option<S3Config>> {
        let given = |v: &Option<String>| v.as_deref().filter(|s| !s.is_empty()).map(str::to_owned);
        let parts = [
            ("--s3-endpoint [UTD_S3_ENDPOINT]", given(&self.s3_endpoint)),
            ("--s3-bucket [UTD_S3_BUCKET]", given(&self.s3_bucket)),
            (
                "--s3-access-key [UTD_S3_ACCESS_KEY]",
                given(&self.s3_access_key),
            ),
            (
                "--s3-secret-key [UTD_S3_SECRET_KEY]",
                given(&self.s3_secret_key),
            ),
        ];
        let missing: Vec<&str> = parts
            .iter()
            .filter(|p| p.1.is_none())
            .map(|p| p.0)
            .collect();
        if missing.len() == parts.len() {
            return Ok(None);
        }
        anyhow::ensure!(
            missing.is_empty(),
            "uploads need every S3 setting; missing: {}",
            missing.join(", ")
        );
        let [endpoint, bucket, access_key, secret_key] = parts.map(|p| p.1.unwrap_or_default());
        anyhow::ensure!(
            endpoint.starts_with("http://") || endpoint.starts_with("https://"),
            "--s3-endpoint must be an http(s) URL"
        );
        Ok(Some(S3Config {
            endpoint,
            bucket,
            region: self.s3_region.clone(),
            access_key,
            secret_key,
        }))
    }

    fn apns_config(&self) -> anyhow::Result<Option<ApnsConfig>> {
        let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        let parts = [
            (
                "--apns-key-file [APNS_KEY_FILE]",
                self.apns_key_file.is_some(),
            ),
            ("--apns-key-id [APNS_KEY_ID]", given(&self.apns_key_id)),
            ("--apns-team-id [APNS_TEAM_ID]", given(&self.apns_team_id)),
            (
                "--apns-bundle-id [APNS_BUNDLE_ID]",
                given(&self.apns_bundle_id),
            ),
        ];
        let missing: Vec<&str> = parts.iter().filter(|p| !p.1).map(|p| p.0).collect();
        if missing.len() == parts.len() {
            anyhow::ensure!(
                !given(&self.apns_endpoint),
                "--apns-endpoint [APNS_ENDPOINT] is set but no APNs credentials are"
            );
            return Ok(None);
        }
        anyhow::ensure!(
            missing.is_empty(),
            "APNs push needs all of its credentials; missing: {}",
            missing.join(", ")
        );
        let path = self.apns_key_file.as_ref().expect("checked above");
        let key = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the APNs key {}: {e}", path.display()))?;
        let config = ApnsConfig::new(
            key,
            self.apns_key_id.clone().unwrap_or_default(),
            self.apns_team_id.clone().unwrap_or_default(),
            self.apns_bundle_id.clone().unwrap_or_default(),
        );
        Ok(Some(
            match self.apns_endpoint.as_deref().filter(|e| !e.is_empty()) {
                Some(endpoint) => config.with_endpoint(endpoint),
                None => config,
            },
        ))
    }

    fn fcm_config(&self) -> anyhow::Result<Option<FcmConfig>> {
        let endpoint = self.fcm_endpoint.as_deref().filter(|e| !e.is_empty());
        let Some(path) = &self.fcm_service_account_file else {
            anyhow::ensure!(
                endpoint.is_none(),
                "--fcm-endpoint [FCM_ENDPOINT] is set but --fcm-service-account-file \
                 [FCM_SERVICE_ACCOUNT_FILE] is not"
            );
            return Ok(None);
        };
        let json = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read the FCM service account {}: {e}",
                path.display()
            )
        })?;
        let config = FcmConfig::from_service_account_json(&json)
            .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?;
        Ok(Some(match endpoint {
            Some(endpoint) => config.with_endpoint(endpoint),
            None => config,
        }))
    }
}

/// Admin subcommands (they print JSON on stdout).
#[derive(Debug, Clone, Subcommand)]
pub enum AdminCommand {
    /// Create an app; prints app_id, app_key, server_secret.
    CreateApp {
        /// App name.
        #[arg(long)]
        name: String,
        /// Plan: free, signaling, pro, enterprise.
        #[arg(long, default_value = "free")]
        plan: String,
    },
    /// Change an app's plan.
    SetPlan {
        /// App id.
        app_id: String,
        /// Plan.
        #[arg(long)]
        plan: String,
        /// Report capability flags and limits as null.
        #[arg(long)]
        no_report_capabilities: bool,
    },
    /// Ban an identity (revokes its sessions).
    Ban {
        /// App id.
        app_id: String,
        /// Identity.
        identity: String,
        /// Reason.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Lift a ban.
    Unban {
        /// App id.
        app_id: String,
        /// Identity.
        identity: String,
    },
    /// Set rate limits.
    SetRateLimits {
        /// App id.
        app_id: String,
        /// Requests per minute per user.
        #[arg(long)]
        per_user: u32,
        /// Requests per minute per app.
        #[arg(long)]
        per_app: u32,
    },
    /// Print an app (no secret).
    ShowApp {
        /// App id.
        app_id: String,
    },
}

fn parse_plan(value: &str) -> anyhow::Result<Plan> {
    Plan::parse(value).ok_or_else(|| anyhow::anyhow!("unknown plan {value:?}"))
}

fn need(found: bool, app_id: &str) -> anyhow::Result<()> {
    anyhow::ensure!(found, "no such app {app_id}");
    Ok(())
}

/// Runs an admin command against the database; returns the JSON to print.
pub fn run_admin(database: &str, command: AdminCommand) -> anyhow::Result<serde_json::Value> {
    // On a thread of its own: the PostgreSQL driver blocks on a runtime of
    // its own, which cannot run on a thread that is already in one (the
    // binary's `main` is async).
    std::thread::scope(|s| {
        s.spawn(move || admin_on_this_thread(database, command))
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the admin command panicked")))
    })
}

fn admin_on_this_thread(
    database: &str,
    command: AdminCommand,
) -> anyhow::Result<serde_json::Value> {
    let db = Db::open(&DatabaseLocation::parse(database))?;
    let defaults = EngineConfig::for_tests();
    // One transaction. Storage errors leave the closure as `DbError` (so
    // PostgreSQL can run it again after a serialization failure, which is
    // why it works on a copy of the command); a refusal (unknown plan or
    // app) is the inner error and writes nothing.
    let out = db.call_blocking(move |c| {
        Ok(match command.clone() {
            AdminCommand::CreateApp { name, plan } => match parse_plan(&plan) {
                Err(e) => Err(e),
                Ok(plan) => {
                    let app = crate::db::apps::create_app(
                        c,
                        &name,
                        plan,
                        defaults.default_per_user_per_minute,
                        defaults.default_per_app_per_minute,
                    )?;
                    Ok(json!({
                        "app_id": app.record.app_id,
                        "app_key": app.record.app_key,
                        "server_secret": app.server_secret,
                        "plan": plan,
                    }))
                }
            },
            AdminCommand::SetPlan {
                app_id,
                plan,
                no_report_capabilities,
            } => match parse_plan(&plan) {
                Err(e) => Err(e),
                Ok(plan) => {
                    let found = crate::db::apps::set_plan(
                        c,
                        &app_id,
                        plan,
                        !no_report_capabilities,
                        None,
                        None,
                        &Default::default(),
                    )?;
                    need(found, &app_id).map(|()| json!({ "app_id": app_id, "plan": plan }))
                }
            },
            AdminCommand::Ban {
                app_id,
                identity,
                reason,
            } => {
                let found = crate::db::apps::ban(c, &app_id, &identity, reason.as_deref())?;
                need(found, &app_id).map(|()| json!({ "banned": identity }))
            }
            AdminCommand::Unban { app_id, identity } => {
                let found = crate::db::apps::unban(c, &app_id, &identity)?;
                need(found, &app_id).map(|()| json!({ "unbanned": identity }))
            }
            AdminCommand::SetRateLimits {
                app_id,
                per_user,
                per_app,
            } => {
                let found = crate::db::apps::set_rate_limits(c, &app_id, per_user, per_app)?;
                need(found, &app_id).map(
                    |()| json!({ "per_user_per_minute": per_user, "per_app_per_minute": per_app }),
                )
            }
            AdminCommand::ShowApp { app_id } => match crate::db::apps::get_app(c, &app_id)? {
                None => Err(anyhow::anyhow!("no such app {app_id}")),
                Some(app) => serde_json::to_value(crate::http::admin::app_view(&app))
                    .map_err(anyhow::Error::from),
            },
        })
    })?;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> anyhow::Result<EngineConfig> {
        let mut argv = vec!["utd-engine", "--admin-token", "t"];
        argv.extend_from_slice(extra);
        Cli::try_parse_from(argv)?.serve.to_config()
    }

    #[test]
    fn push_flags_need_every_apns_credential() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("AuthKey.p8");
        std::fs::write(&key, crate::push::jwt::tests::EC_KEY_PEM).unwrap();
        let key = key.to_str().unwrap();
        let e = args(&["--apns-key-file", key, "--apns-key-id", "K"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--apns-team-id [APNS_TEAM_ID]")
                && e.contains("--apns-bundle-id [APNS_BUNDLE_ID]")
                && !e.contains("--apns-key-id"),
            "{e}"
        );
        let e = args(&["--apns-endpoint", "http://x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("no APNs credentials"), "{e}");
        let c = args(&[
            "--apns-key-file",
            key,
            "--apns-key-id",
            "K",
            "--apns-team-id",
            "T",
            "--apns-bundle-id",
            "com.example",
            "--apns-endpoint",
            "http://127.0.0.1:1/",
        ])
        .unwrap();
        let apns = c.push.apns.clone().expect("apns");
        assert_eq!(apns.endpoint, "http://127.0.0.1:1");
        assert_eq!(apns.voip_topic(), "com.example.voip");
        assert!(c.push.fcm.is_none());
        assert!(!format!("{c:?}").contains("PRIVATE KEY"));
    }

    #[test]
    fn s3_flags_come_all_together_and_the_secret_is_redacted() {
        assert!(args(&[]).unwrap().s3.is_none());
        let e = args(&["--s3-endpoint", "http://127.0.0.1:9000"])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--s3-bucket") && e.contains("--s3-secret-key"),
            "{e}"
        );
        let c = args(&[
            "--s3-endpoint",
            "http://127.0.0.1:9000",
            "--s3-bucket",
            "b",
            "--s3-access-key",
            "AK",
            "--s3-secret-key",
            "very-secret",
        ])
        .unwrap();
        let s3 = c.s3.clone().expect("s3");
        assert_eq!((s3.bucket.as_str(), s3.region.as_str()), ("b", "us-east-1"));
        assert!(!format!("{c:?}").contains("very-secret"));
    }

    #[test]
    fn no_push_flags_configure_nothing_and_a_bad_account_file_is_named() {
        let c = args(&[]).unwrap();
        assert!(!c.push.any());
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sa.json");
        std::fs::write(&file, "{}").unwrap();
        let e = args(&["--fcm-service-account-file", file.to_str().unwrap()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("sa.json") && e.contains("lacks"), "{e}");
        let e = args(&["--fcm-endpoint", "http://x"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("--fcm-service-account-file"), "{e}");
    }
}
