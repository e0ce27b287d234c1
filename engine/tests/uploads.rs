//! Uploads (docs/uploads-api.md) against the in-process engine and a real
//! versitygw: presigned PUTs the store itself refuses when tampered, expired
//! or of another type / size, completion checks, reads and the sweep.

mod common;

use std::time::Duration;

use common::{error_code, Harness};
use rusty_s3::S3Action as _;
use serde_json::{json, Value};
use utd_engine::config::S3Config;
use utd_engine::{DatabaseLocation, EngineConfig, Plan};
use utd_testkit::s3::VersityGw;

fn s3_config(s3: &VersityGw) -> EngineConfig {
    let mut config = EngineConfig::for_tests();
    config.s3 = Some(S3Config {
        endpoint: s3.endpoint(),
        bucket: s3.bucket().to_owned(),
        region: s3.region().to_owned(),
        access_key: s3.access_key().to_owned(),
        secret_key: s3.secret_key().to_owned(),
    });
    config
}

async fn presign(h: &Harness, bearer: &str, content_type: &str, size: usize) -> Value {
    let (status, body) = h
        .post(
            "/api/v1/uploads",
            bearer,
            json!({ "content_type": content_type, "size": size, "file_name": "a.png" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["put"]["method"], "PUT");
    assert_eq!(body["upload"]["status"], "pending");
    body
}

/// PUTs `bytes` to the presigned URL with the given type; returns the status.
async fn put(url: &str, content_type: &str, bytes: Vec<u8>) -> u16 {
    reqwest::Client::new()
        .put(url)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .expect("PUT")
        .status()
        .as_u16()
}

fn id(body: &Value) -> String {
    body["upload"]["upload_id"].as_str().unwrap().to_owned()
}

async fn complete(h: &Harness, bearer: &str, upload_id: &str) -> (u16, Value) {
    h.post(
        &format!("/api/v1/uploads/{upload_id}/complete"),
        bearer,
        json!({}),
    )
    .await
}

fn png(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

#[tokio::test]
async fn an_upload_goes_up_is_completed_and_comes_back_to_its_owner_only() {
    let s3 = VersityGw::start().unwrap();
    let h = Harness::with_config(s3_config(&s3)).await;
    let app = h.app(Plan::Pro).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let bytes = png(10_000);
    let up = presign(&h, &alice, "image/png", bytes.len()).await;
    let upload_id = id(&up);
    assert!(
        upload_id.starts_with("upl_") && upload_id.len() == 26,
        "{upload_id}"
    );
    assert_eq!(up["put"]["headers"]["content-length"], "10000");

    // Nothing there yet.
    let (status, body) = complete(&h, &alice, &upload_id).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (409, "invalid_state"),
        "{body}"
    );

    let url = up["put"]["url"].as_str().unwrap();
    assert_eq!(put(url, "image/png", bytes.clone()).await, 200);
    assert!(s3
        .object_path(&format!("{}/{upload_id}", app.app_id))
        .is_file());

    // Someone else can neither complete nor read it.
    let (status, body) = complete(&h, &bob, &upload_id).await;
    assert_eq!((status, error_code(&body).as_str()), (404, "not_found"));
    let (status, _) = h.get(&format!("/api/v1/uploads/{upload_id}"), &bob).await;
    assert_eq!(status, 404);

    let (status, body) = complete(&h, &alice, &upload_id).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert!(body["completed_at_ms"].as_u64().is_some());
    // Again: still 200, still ready.
    let (status, again) = complete(&h, &alice, &upload_id).await;
    assert_eq!((status, &again["status"]), (200, &json!("ready")));

    let (status, got) = h.get(&format!("/api/v1/uploads/{upload_id}"), &alice).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["file_name"], "a.png");
    let download = reqwest::get(got["get"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(download.status().as_u16(), 200);
    assert_eq!(download.bytes().await.unwrap().to_vec(), bytes);
    let (status, _) = h.get(&format!("/api/v1/uploads/{upload_id}"), &bob).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_store_refuses_a_tampered_expired_or_differently_sized_or_typed_put() {
    let s3 = VersityGw::start().unwrap();
    let mut config = s3_config(&s3);
    config.upload_put_validity = Duration::from_secs(2);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Pro).await;
    let alice = h.token_for(&app, "alice").await;
    let up = presign(&h, &alice, "image/png", 1000).await;
    let upload_id = id(&up);
    let url = up["put"]["url"].as_str().unwrap().to_owned();

    // The signature changed in its last hex digit.
    let last = url.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &url[..url.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    assert_eq!(put(&tampered, "image/png", png(1000)).await, 403);
    // Another length, another type than signed.
    assert_eq!(put(&url, "image/png", png(999)).await, 403);
    assert_eq!(put(&url, "image/jpeg", png(1000)).await, 403);
    let (status, body) = complete(&h, &alice, &upload_id).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("nothing uploaded"));

    // Past its validity the right request is refused too.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    assert_eq!(put(&url, "image/png", png(1000)).await, 403);
    let (status, _) = complete(&h, &alice, &upload_id).await;
    assert_eq!(status, 409);
    let (_, got) = h.get(&format!("/api/v1/uploads/{upload_id}"), &alice).await;
    assert_eq!(got["status"], "pending");
    assert!(got.get("get").is_none(), "{got}");
}

#[tokio::test]
async fn an_object_of_another_size_is_refused_at_complete_and_deleted() {
    let s3 = VersityGw::start().unwrap();
    let h = Harness::with_config(s3_config(&s3)).await;
    let app = h.app(Plan::Pro).await;
    let alice = h.token_for(&app, "alice").await;
    let up = presign(&h, &alice, "image/png", 1000).await;
    let upload_id = id(&up);
    let key = format!("{}/{upload_id}", app.app_id);
    // The root credentials can write anything to the key.
    let bucket = s3.rusty_bucket().unwrap();
    let creds = s3.credentials();
    let url = bucket
        .put_object(Some(&creds), &key)
        .sign(Duration::from_secs(60));
    assert_eq!(put(url.as_str(), "image/png", png(500)).await, 200);
    assert!(s3.object_path(&key).is_file());

    let (status, body) = complete(&h, &alice, &upload_id).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (409, "invalid_state"),
        "{body}"
    );
    assert!(
        !s3.object_path(&key).exists(),
        "the wrong object was deleted"
    );
    // The same for a wrong type.
    assert_eq!(put(url.as_str(), "text/plain", png(1000)).await, 200);
    let (status, _) = complete(&h, &alice, &upload_id).await;
    assert_eq!(status, 409);
    assert!(!s3.object_path(&key).exists());
    let (_, got) = h.get(&format!("/api/v1/uploads/{upload_id}"), &alice).await;
    assert_eq!(got["status"], "pending");

    // A right PUT afterwards, through the presigned URL, completes.
    let signed = up["put"]["url"].as_str().unwrap();
    assert_eq!(put(signed, "image/png", png(1000)).await, 200);
    let (status, body) = complete(&h, &alice, &upload_id).await;
    assert_eq!((status, &body["status"]), (200, &json!("ready")));
}

#[tokio::test]
async fn types_sizes_plans_and_a_missing_store_are_refused() {
    let s3 = VersityGw::start().unwrap();
    let h = Harness::with_config(s3_config(&s3)).await;
    let pro = h.app(Plan::Pro).await;
    let alice = h.token_for(&pro, "alice").await;
    let ask = |t: &'static str, size: u64| json!({ "content_type": t, "size": size });

    let (status, body) = h
        .post(
            "/api/v1/uploads",
            &alice,
            ask("application/x-msdownload", 10),
        )
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (400, "invalid_argument")
    );
    let (status, body) = h.post("/api/v1/uploads", &alice, ask("image/png", 0)).await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (400, "invalid_argument")
    );
    let cap = 25 * 1024 * 1024;
    let (status, body) = h
        .post("/api/v1/uploads", &alice, ask("video/mp4", cap + 1))
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (403, "limit_reached"),
        "{body}"
    );
    assert_eq!(body["error"]["limit"], "max_upload_bytes");
    let (status, _) = h
        .post("/api/v1/uploads", &alice, ask("video/mp4", cap))
        .await;
    assert_eq!(status, 201);

    for plan in [Plan::Free, Plan::Signaling] {
        let app = h.app(plan).await;
        let user = h.token_for(&app, "carol").await;
        let (status, body) = h.post("/api/v1/uploads", &user, ask("image/png", 10)).await;
        assert_eq!(
            (status, error_code(&body).as_str()),
            (403, "feature_disabled")
        );
        assert_eq!(body["error"]["capability"], "chat");
    }

    let bare = Harness::start().await;
    let app = bare.app(Plan::Pro).await;
    let user = bare.token_for(&app, "alice").await;
    let (status, body) = bare
        .post("/api/v1/uploads", &user, ask("image/png", 10))
        .await;
    assert_eq!(
        (status, error_code(&body).as_str()),
        (404, "not_found"),
        "{body}"
    );
    let (status, _) = bare
        .get("/api/v1/uploads/upl_xxxxxxxxxxxxxxxxxxxxxx", &user)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn the_sweep_deletes_expired_pending_and_purged_uploads_with_their_objects() {
    let s3 = VersityGw::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("engine.sqlite3");
    let mut config = s3_config(&s3);
    config.database = DatabaseLocation::File(db_path.clone());
    config.upload_pending_ttl = Duration::from_secs(2);
    config.uploads_sweep_interval = Duration::from_millis(200);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Pro).await;
    let alice = h.token_for(&app, "alice").await;

    // One left pending with its object, one completed then marked for purge
    // (what chat's retention purge does), one completed and kept.
    let mut ids = Vec::new();
    for _ in 0..3 {
        let up = presign(&h, &alice, "text/plain", 64).await;
        assert_eq!(
            put(up["put"]["url"].as_str().unwrap(), "text/plain", png(64)).await,
            200
        );
        ids.push(id(&up));
    }
    for upload_id in &ids[1..] {
        let (status, body) = complete(&h, &alice, upload_id).await;
        assert_eq!(status, 200, "{body}");
    }
    common::db_execute(
        &db_path,
        &format!(
            "UPDATE uploads SET status = 'purge' WHERE upload_id = '{}'",
            ids[1]
        ),
    )
    .await;
    let path = |i: usize| s3.object_path(&format!("{}/{}", app.app_id, ids[i]));

    // The purge row goes at the next round; the pending one once expired.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows = common::db_i64(&db_path, "SELECT COUNT(*) FROM uploads").await;
        if rows == 1 && !path(0).exists() && !path(1).exists() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not swept: {rows} rows"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(path(2).is_file(), "a ready upload is kept");
    for (i, want) in [(0, 404), (1, 404), (2, 200)] {
        let (status, _) = h.get(&format!("/api/v1/uploads/{}", ids[i]), &alice).await;
        assert_eq!(status, want, "upload {i}");
    }
}

#[tokio::test]
async fn members_of_the_conversation_holding_the_attachment_can_read_it() {
    let s3 = VersityGw::start().unwrap();
    let h = Harness::with_config(s3_config(&s3)).await;
    let app = h.app(Plan::Pro).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let carol = h.token_for(&app, "carol").await;
    let up = presign(&h, &alice, "image/png", 300).await;
    let upload_id = id(&up);
    assert_eq!(
        put(up["put"]["url"].as_str().unwrap(), "image/png", png(300)).await,
        200
    );
    let (status, body) = complete(&h, &alice, &upload_id).await;
    assert_eq!(status, 200, "{body}");

    let conv = common::chat::direct(&h, &alice, "bob").await;
    let conv = common::chat::id(&conv);
    let (status, body) = h
        .post(
            &format!("{}/messages", common::chat::conv_path(&conv)),
            &alice,
            json!({"client_message_id": "m1", "text": "look", "attachments": [upload_id]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (status, got) = h.get(&format!("/api/v1/uploads/{upload_id}"), &bob).await;
    assert_eq!(status, 200, "{got}");
    let download = reqwest::get(got["get"]["url"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(download.bytes().await.unwrap().to_vec(), png(300));
    // Not a member: not even told it exists; nor can a member complete it.
    let (status, _) = h.get(&format!("/api/v1/uploads/{upload_id}"), &carol).await;
    assert_eq!(status, 404);
    let (status, _) = complete(&h, &bob, &upload_id).await;
    assert_eq!(status, 404);
}
