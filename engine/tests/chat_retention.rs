//! Retention (`history_days`) and attachments: history older than the plan
//! allows is never returned, a plan change applies at once, and the purge
//! deletes what fell out of retention and hands its uploads to the uploads
//! sweep. Messages are aged by rewriting `created_at_ms` in the engine's
//! database file (the engine keeps no clock of its own to fake).

mod common;

use std::path::Path;

use common::chat::*;
use common::push::{free_addr, wait_until};
use common::{error_code, Harness};
use serde_json::json;
use utd_engine::admin_client::AppCredentials;
use utd_engine::{DatabaseLocation, EngineConfig};

const DAY_MS: i64 = 86_400_000;

fn file_config(dir: &Path) -> EngineConfig {
    let mut config = EngineConfig::for_tests();
    config.bind = free_addr();
    config.database = DatabaseLocation::File(dir.join("engine.sqlite3"));
    config
}

async fn age(db: &Path, conv: &str, seqs: std::ops::RangeInclusive<u64>, days: i64) {
    sql(
        db,
        &format!(
            "UPDATE chat_messages SET created_at_ms = created_at_ms - {}
             WHERE conversation_id = '{conv}' AND seq BETWEEN {} AND {}",
            days * DAY_MS,
            seqs.start(),
            seqs.end()
        ),
    )
    .await;
}

/// A ready upload of `owner`, inserted as the uploads routes would leave it.
async fn ready_upload(db: &Path, app: &AppCredentials, owner: &str, id: &str, status: &str) {
    sql(
        db,
        &format!(
            "INSERT INTO uploads (upload_id, app_id, owner_identity, content_type, size, file_name,
                 object_key, status, created_at_ms, expires_at_ms, completed_at_ms)
             VALUES ('{id}', '{app}', '{owner}', 'image/png', 1234, 'cat.png', '{app}/{id}',
                 '{status}', 0, 9999999999999, 1)",
            app = app.app_id
        ),
    )
    .await;
}

#[tokio::test]
async fn history_older_than_history_days_is_not_returned_and_a_plan_change_applies_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let config = file_config(dir.path());
    let db = dir.path().join("engine.sqlite3");
    let h = Harness::with_config(config).await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let cid = id(&direct(&h, &alice, "bob").await);
    let mut sent = Vec::new();
    for n in 1..=10 {
        sent.push(say(&h, &alice, &cid, &format!("m{n}"), &format!("message {n}")).await);
    }
    // Pro keeps 30 days: four messages are 31 days old.
    age(&db, &cid, 1..=4, 31).await;
    let p = page(&h, &bob, &cid, "").await;
    assert_eq!(seqs(&p), (5..=10).collect::<Vec<_>>());
    assert_eq!(p["has_more_before"], false, "nothing older to show");
    let p = page(&h, &bob, &cid, "before=5").await;
    assert_eq!(seqs(&p), Vec::<u64>::new());
    assert_eq!(
        (p["has_more_before"].clone(), p["has_more_after"].clone()),
        (json!(false), json!(true))
    );
    assert!(seqs(&page(&h, &bob, &cid, "around=2").await)
        .iter()
        .all(|s| *s >= 5));
    let (_, ch) = h
        .get(&format!("{}/changes?since=0", conv_path(&cid)), &bob)
        .await;
    assert_eq!(seqs(&ch), (5..=10).collect::<Vec<_>>());
    let l = list(&h, &bob).await;
    assert_eq!(l["conversations"][0]["unread_count"], 6);
    assert_eq!(l["total_unread"], 6);
    let old = format!(
        "{}/messages/{}",
        conv_path(&cid),
        sent[0]["message_id"].as_str().unwrap()
    );
    let (s, _) = patch(&h, &old, &alice, json!({"text": "rewrite history"})).await;
    assert_eq!(s, 404);
    let (s, _) = delete(&h, &old, &alice).await;
    assert_eq!(s, 404);

    // A shorter retention applies to the very next read.
    age(&db, &cid, 5..=7, 2).await;
    set_plan(&h, &app, "pro", json!({"history_days": 1})).await;
    assert_eq!(seqs(&page(&h, &bob, &cid, "").await), [8, 9, 10]);
    assert_eq!(list(&h, &bob).await["total_unread"], 3);
    set_plan(&h, &app, "pro", json!({"history_days": 0})).await;
    assert_eq!(seqs(&page(&h, &bob, &cid, "").await), Vec::<u64>::new());
    let l = list(&h, &bob).await;
    assert_eq!(
        l["conversations"][0]["last_message"],
        serde_json::Value::Null
    );
    assert_eq!(l["conversations"][0]["last_seq"], 10, "the counters stay");
    // Back to the plan's 30 days: what was not purged yet is back too.
    set_plan(&h, &app, "pro", json!({})).await;
    assert_eq!(
        seqs(&page(&h, &bob, &cid, "").await),
        (5..=10).collect::<Vec<_>>()
    );
    h.engine.shutdown().await;
}

#[tokio::test]
async fn attachments_are_ready_uploads_of_the_sender_and_the_purge_deletes_them_with_their_messages(
) {
    let dir = tempfile::tempdir().unwrap();
    let config = file_config(dir.path());
    let db = dir.path().join("engine.sqlite3");
    let h = Harness::with_config(config.clone()).await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let cid = id(&direct(&h, &alice, "bob").await);
    let msgs = format!("{}/messages", conv_path(&cid));
    ready_upload(&db, &app, "alice", "upl_AAAAAAAAAAAAAAAAAAAAAA", "ready").await;
    ready_upload(&db, &app, "alice", "upl_BBBBBBBBBBBBBBBBBBBBBB", "ready").await;
    ready_upload(&db, &app, "alice", "upl_PPPPPPPPPPPPPPPPPPPPPP", "pending").await;
    ready_upload(&db, &app, "bob", "upl_CCCCCCCCCCCCCCCCCCCCCC", "ready").await;

    for (attachments, why) in [
        (json!(["upl_PPPPPPPPPPPPPPPPPPPPPP"]), "not completed"),
        (json!(["upl_CCCCCCCCCCCCCCCCCCCCCC"]), "someone else's"),
        (json!(["upl_ZZZZZZZZZZZZZZZZZZZZZZ"]), "unknown"),
        (
            json!(["upl_AAAAAAAAAAAAAAAAAAAAAA", "upl_AAAAAAAAAAAAAAAAAAAAAA"]),
            "twice",
        ),
    ] {
        let (s, e) = h
            .post(
                &msgs,
                &alice,
                json!({"client_message_id": "bad", "attachments": attachments}),
            )
            .await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (400, "invalid_argument"),
            "{why}: {e}"
        );
    }
    let (s, with_file) = h
        .post(
            &msgs,
            &alice,
            json!({"client_message_id": "photo", "text": "", "attachments": ["upl_AAAAAAAAAAAAAAAAAAAAAA"]}),
        )
        .await;
    assert_eq!(s, 201, "{with_file}");
    assert_eq!(
        with_file["attachments"],
        json!([{"upload_id": "upl_AAAAAAAAAAAAAAAAAAAAAA", "content_type": "image/png",
                "size": 1234, "file_name": "cat.png"}])
    );
    let mid = with_file["message_id"].as_str().unwrap().to_owned();
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM uploads WHERE message_id = '{mid}'")
        )
        .await,
        1
    );
    // Attached once: another message cannot take it.
    let (s, _) = h
        .post(
            &msgs,
            &alice,
            json!({"client_message_id": "again", "attachments": ["upl_AAAAAAAAAAAAAAAAAAAAAA"]}),
        )
        .await;
    assert_eq!(s, 400);
    // A deleted message gives its file up at once.
    let (s, doomed) = h
        .post(&msgs, &alice, json!({"client_message_id": "doomed", "text": "x", "attachments": ["upl_BBBBBBBBBBBBBBBBBBBBBB"]}))
        .await;
    assert_eq!(s, 201);
    let (s, tomb) = delete(
        &h,
        &format!("{msgs}/{}", doomed["message_id"].as_str().unwrap()),
        &alice,
    )
    .await;
    assert_eq!((s, tomb["attachments"].clone()), (200, json!([])));
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM uploads WHERE upload_id = 'upl_BBBBBBBBBBBBBBBBBBBBBB' AND status <> 'purge'").await,
        0
    );
    for n in 1..=3 {
        say(&h, &bob, &cid, &format!("b{n}"), "recent").await;
    }
    // The photo and the tombstone fall out of retention.
    age(&db, &cid, 1..=2, 31).await;
    h.engine.shutdown().await;

    // The purge runs when the engine starts (and then periodically).
    let h = Harness::with_config(config).await;
    let messages = "SELECT COUNT(*) FROM chat_messages";
    wait_until("the purge", || async { count(&db, messages).await == 3 }).await;
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM uploads WHERE upload_id = 'upl_AAAAAAAAAAAAAAAAAAAAAA' AND status <> 'purge'").await,
        0,
        "the photo's upload is handed to the uploads sweep (or already gone)"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM uploads WHERE upload_id = 'upl_CCCCCCCCCCCCCCCCCCCCCC' AND status = 'ready'").await,
        1,
        "unattached uploads are not chat's"
    );
    // What is left reads as before; the counters never go back.
    let p = page(&h, &alice, &cid, "").await;
    assert_eq!(seqs(&p), [3, 4, 5]);
    let next = say(&h, &alice, &cid, "after-purge", "still counting").await;
    assert_eq!(next["seq"], 6);
    h.engine.shutdown().await;
}
