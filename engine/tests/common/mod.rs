//! Helpers shared by the engine tests: a running engine, apps, sessions and
//! signal sockets, all over real loopback HTTP/WebSocket.
#![allow(dead_code)]

pub mod calls;
pub mod chat;
pub mod cluster;
pub mod livekit;
pub mod push;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use utd_engine::admin_client::{AdminClient, AppCredentials};
use utd_engine::{EngineConfig, Plan, RunningEngine};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub struct Harness {
    pub engine: RunningEngine,
    pub admin: AdminClient,
    pub http: reqwest::Client,
}

impl Harness {
    pub async fn start() -> Harness {
        Self::with_config(EngineConfig::for_tests()).await
    }

    /// Starts an engine; when the tests run on PostgreSQL
    /// (`UTD_TEST_POSTGRES`), its database moves there (see
    /// `utd_testkit::database`), and with `UTD_TEST_REDIS` it joins Redis.
    pub async fn with_config(mut config: EngineConfig) -> Harness {
        config.database = utd_testkit::database::for_tests(&config.database)
            .await
            .expect("a test database");
        if let (Some(redis), None) = (utd_testkit::database::redis_server(), &config.cluster) {
            config.cluster = Some(utd_engine::ClusterConfig::new(
                utd_engine::ConnectionUrl::new(redis),
            ));
        }
        let engine = utd_engine::start(config).await.expect("engine starts");
        let admin = AdminClient::new(engine.base_url(), engine.admin_token());
        Harness {
            engine,
            admin,
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.engine.base_url())
    }

    pub async fn app(&self, plan: Plan) -> AppCredentials {
        self.admin
            .create_app("test app", plan)
            .await
            .expect("create app")
    }

    /// Mints a session; returns the whole reply.
    pub async fn mint(&self, app: &AppCredentials, identity: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url("/api/v1/auth/session"))
            .header("X-UTD-App-Id", &app.app_id)
            .header("X-UTD-App-Key", &app.app_key)
            .json(&json!({ "identity": identity, "device_id": "dev-1" }))
            .send()
            .await
            .expect("request");
        status_json(resp).await
    }

    pub async fn token_for(&self, app: &AppCredentials, identity: &str) -> String {
        let (status, body) = self.mint(app, identity).await;
        assert_eq!(status, 200, "{body}");
        body["user_token"].as_str().expect("user_token").to_owned()
    }

    pub async fn get(&self, path: &str, bearer: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(bearer)
            .send()
            .await
            .expect("request");
        status_json(resp).await
    }

    pub async fn post(&self, path: &str, bearer: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await
            .expect("request");
        status_json(resp).await
    }

    pub async fn counts(&self) -> std::collections::BTreeMap<String, i64> {
        self.engine.row_counts().await.expect("row counts")
    }

    pub async fn ws(&self, bearer: Option<&str>) -> Ws {
        connect_ws(&self.engine.ws_url(), bearer).await
    }
}

pub async fn connect_ws(url: &str, bearer: Option<&str>) -> Ws {
    let mut req = url.into_client_request().expect("ws request");
    if let Some(b) = bearer {
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {b}").parse().expect("header"),
        );
    }
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("ws connect");
    ws
}

pub async fn status_json(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("non-JSON body: {text}"))
    };
    (status, body)
}

/// Asserts the contract's error shape and returns the code.
pub fn error_code(body: &Value) -> String {
    let err = body
        .get("error")
        .unwrap_or_else(|| panic!("not an error body: {body}"));
    assert!(err["message"].is_string(), "{body}");
    err["code"].as_str().expect("code").to_owned()
}

/// Next JSON text message (skipping server pings), or the close frame as
/// `Err((code, reason))`.
pub async fn next_msg(ws: &mut Ws) -> Result<Value, (u16, String)> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a frame within 10 s");
        match frame {
            Some(Ok(Message::Text(t))) => {
                let v: Value = serde_json::from_str(t.as_str()).expect("json");
                if v["type"] == "ping" {
                    continue;
                }
                return Ok(v);
            }
            Some(Ok(Message::Close(Some(f)))) => {
                return Err((u16::from(f.code), f.reason.to_string()))
            }
            Some(Ok(Message::Close(None))) | None => return Err((1005, String::new())),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err((1006, e.to_string())),
        }
    }
}

/// Reads until the close frame and returns (code, reason).
pub async fn expect_close(ws: &mut Ws) -> (u16, String) {
    loop {
        if let Err(close) = next_msg(ws).await {
            return close;
        }
    }
}

pub async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::Text(v.to_string().into()))
        .await
        .expect("send");
}

/// Connects and consumes `hello`.
pub async fn connected(h: &Harness, bearer: &str) -> (Ws, Value) {
    let mut ws = h.ws(Some(bearer)).await;
    let hello = next_msg(&mut ws).await.expect("hello");
    assert_eq!(hello["type"], "hello", "{hello}");
    (ws, hello)
}

/// A LiveKit-style webhook signature of `body` with `key`/`secret`.
pub fn sign_webhook(key: &str, secret: &str, body: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(body.as_bytes());
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    livekit_api::access_token::AccessToken::with_api_key(key, secret)
        .with_sha256(&b64)
        .to_jwt()
        .expect("jwt")
}

/// Posts a webhook body with an optional `Authorization` value.
pub async fn deliver_webhook(h: &Harness, auth: Option<&str>, body: &str) -> (u16, Value) {
    let mut req = h
        .http
        .post(h.url("/api/v1/livekit/webhook"))
        .header("content-type", "application/webhook+json")
        .body(body.to_owned());
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    status_json(req.send().await.expect("request")).await
}

/// Posts a webhook body signed with the test config's LiveKit key pair.
pub async fn deliver_signed(h: &Harness, body: &str) -> (u16, Value) {
    let cfg = EngineConfig::for_tests();
    let auth = sign_webhook(&cfg.livekit_api_key, &cfg.livekit_api_secret, body);
    deliver_webhook(h, Some(&auth), body).await
}

/// A participant (or room) webhook event.
pub fn webhook_event(kind: &str, lk_room: &str, identity: &str) -> String {
    json!({
        "event": kind,
        "id": "EV_1",
        "createdAt": "1700000000",
        "room": {"sid": "RM_1", "name": lk_room},
        "participant": {"sid": "PA_1", "identity": identity},
    })
    .to_string()
}

/// Sends `signal` (`-STOP` freezes, `-CONT` resumes) to process `pid`: a
/// frozen livekit-server accepts connections and never answers.
/// Runs `sql` on the database of an engine configured with the SQLite file
/// `db`, or on the PostgreSQL database that stands for it (the engine may be
/// running: SQLite is in WAL mode).
pub async fn db_execute(db: &std::path::Path, sql: &str) {
    let location = file_database(db).await;
    utd_testkit::database::execute(&location, sql)
        .await
        .expect("sql on the engine database");
}

/// One integer from the database of an engine configured with the SQLite
/// file `db` (or the PostgreSQL database standing for it).
pub async fn db_i64(db: &std::path::Path, sql: &str) -> i64 {
    let location = file_database(db).await;
    utd_testkit::database::query_i64(&location, sql)
        .await
        .expect("query on the engine database")
}

async fn file_database(db: &std::path::Path) -> utd_engine::DatabaseLocation {
    utd_testkit::database::for_tests(&utd_engine::DatabaseLocation::File(db.to_owned()))
        .await
        .expect("a test database")
}

pub fn signal_process(pid: u32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill {signal} {pid}");
}
