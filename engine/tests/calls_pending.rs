//! `GET /calls?role=callee&status=pending` (engine-api.md §5): the calls
//! ringing for a user right now, for a device that connects late.

mod common;

use std::time::Duration;

use common::calls::*;
use common::{connected, error_code, status_json, Harness};
use serde_json::{json, Value};
use utd_engine::{DatabaseLocation, EngineConfig, Plan};

const PENDING: &str = "/api/v1/calls?role=callee&status=pending";

/// `GET /api/v1/calls?role=callee&status=pending` as `bearer`: the list
/// (200 and the reply's exact shape asserted).
async fn pending(h: &Harness, bearer: &str) -> Vec<Value> {
    let (s, b) = h.get(PENDING, bearer).await;
    assert_eq!(s, 200, "{b}");
    let keys: Vec<&String> = b.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["calls"], "{b}");
    b["calls"].as_array().expect("an array").clone()
}

fn ids_of(calls: &[Value]) -> Vec<String> {
    calls.iter().map(id).collect()
}

/// The listing of pending calls: only calls ringing for the bearer's user
/// (as callee, in its app, not over, not answered), oldest first, each the
/// same Call object as `GET /calls/{id}`; reading it writes and pushes nothing.
#[tokio::test]
async fn pending_calls_list_only_the_calls_ringing_for_the_user() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let other_app = h.app(Plan::Signaling).await;
    h.admin
        .set_rate_limits(&app.app_id, 100_000, 1_000_000)
        .await
        .unwrap();
    let bob = session(&h, &app, "bob", None, Some("Bob")).await;
    let carol = session(&h, &app, "carol", None, None).await;
    let alice = session(&h, &app, "alice", Some("d1"), None).await;
    let alice2 = session(&h, &app, "alice", Some("d2"), None).await;
    let dave = session(&h, &app, "dave", None, None).await;
    let bob_elsewhere = session(&h, &other_app, "bob", None, None).await;
    let alice_elsewhere = session(&h, &other_app, "alice", None, None).await;

    let (s, b) = h.get(PENDING, &alice).await;
    assert_eq!((s, &b), (200, &json!({"calls": []})));

    // Distinct creation times, so "oldest first" is observable.
    let pause = || tokio::time::sleep(Duration::from_millis(5));
    let first = id(&call(&h, &bob, "alice").await);
    pause().await;
    let (s, second) = create(
        &h,
        &carol,
        json!({"callee_identity": "alice", "callee_name": "Al", "type": "video_call",
               "metadata": {"k": "v"}}),
    )
    .await;
    assert_eq!(s, 201, "{second}");
    let second = id(&second);
    pause().await;
    let third = id(&call(&h, &bob, "alice").await);
    pause().await;
    // Not alice's to answer: her own call, another user's, another app's.
    let outgoing = id(&call(&h, &alice, "dave").await);
    let others = id(&call(&h, &bob, "dave").await);
    let elsewhere = id(&call(&h, &bob_elsewhere, "alice").await);
    // Over or answered: rejected, busy, cancelled, hung up (rejected), active.
    for (who, action) in [
        ("callee", "reject"),
        ("callee", "busy"),
        ("caller", "cancel"),
        ("callee", "end"),
        ("callee", "accept"),
    ] {
        let c = id(&call(&h, &bob, "alice").await);
        let bearer = if who == "caller" { &bob } else { &alice };
        let (s, b) = act(&h, bearer, &c, action).await;
        assert_eq!(s, 200, "{action}: {b}");
    }
    // The second call is ringing now: still pending.
    let (s, _) = act(&h, &alice2, &second, "ringing").await;
    assert_eq!(s, 200);

    let (mut alice_ws, _) = connected(&h, &alice).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let before = h.counts().await;
    let listed = pending(&h, &alice).await;
    assert_eq!(
        ids_of(&listed),
        [first.as_str(), second.as_str(), third.as_str()]
    );
    for c in &listed {
        let (s, got) = h.get(&format!("/api/v1/calls/{}", id(c)), &alice).await;
        assert_eq!((s, &got), (200, c), "the same Call object as GET");
        assert!(c.get("join").is_none(), "{c}");
    }
    assert_eq!(listed[0]["status"], "initiating");
    assert_eq!(listed[1]["status"], "ringing");
    assert_eq!(
        (
            listed[1]["caller_identity"].as_str(),
            listed[1]["callee_name"].as_str(),
            listed[1]["type"].as_str(),
            &listed[1]["metadata"]
        ),
        (
            Some("carol"),
            Some("Al"),
            Some("video_call"),
            &json!({"k": "v"})
        )
    );
    let times: Vec<u64> = listed
        .iter()
        .map(|c| c["created_at_ms"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "{times:?}");
    // Every device of the user gets the same list; the defaults are the same
    // listing.
    assert_eq!(pending(&h, &alice2).await, listed);
    for query in [
        "",
        "?",
        "?role=callee",
        "?status=pending",
        "?status=pending&role=callee",
    ] {
        let (s, b) = h.get(&format!("/api/v1/calls{query}"), &alice).await;
        assert_eq!((s, &b), (200, &json!({ "calls": listed })), "{query:?}");
    }
    // The others: dave has alice's and bob's calls, bob and carol nothing,
    // alice of the other app only hers there.
    assert_eq!(
        ids_of(&pending(&h, &dave).await),
        [outgoing.as_str(), others.as_str()]
    );
    assert!(pending(&h, &bob).await.is_empty());
    assert!(pending(&h, &carol).await.is_empty());
    assert_eq!(
        ids_of(&pending(&h, &alice_elsewhere).await),
        [elsewhere.as_str()]
    );
    assert_eq!(h.counts().await, before, "a listing writes nothing");
    quiet(&mut alice_ws, 200).await;
    quiet(&mut bob_ws, 100).await;

    // Answered on one device: gone from every device's list.
    let (s, _) = act(&h, &alice2, &second, "accept").await;
    assert_eq!(s, 200);
    assert_eq!(
        ids_of(&pending(&h, &alice).await),
        [first.as_str(), third.as_str()]
    );
    h.engine.shutdown().await;
}

/// A call whose ring timeout is due is never listed, even when its timer has
/// not fired yet: the listing applies the timeout (and pushes it) first.
#[tokio::test]
async fn pending_calls_never_include_an_expired_call() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.sqlite3");
    let mut config = EngineConfig::for_tests();
    config.database = DatabaseLocation::File(path.clone());
    config.ring_timeout = Duration::from_secs(600);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", Some("d1"), None).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let (mut alice_ws, _) = connected(&h, &alice).await;
    let old = id(&call(&h, &bob, "alice").await);
    let fresh = id(&call(&h, &bob, "alice").await);
    for _ in 0..2 {
        next_call(&mut alice_ws, "call.invitation").await;
        next_call(&mut bob_ws, "call.updated").await;
    }
    assert_eq!(
        ids_of(&pending(&h, &alice).await),
        [old.as_str(), fresh.as_str()]
    );

    // The first call's ring deadline passes (it was created 601 s ago, as
    // far as the database knows); its timer, due in ten minutes, is still
    // asleep.
    common::db_execute(
        &path,
        &format!(
            "UPDATE calls SET created_at_ms = created_at_ms - 601000,
                 updated_at_ms = updated_at_ms - 601000 WHERE call_id = '{old}'"
        ),
    )
    .await;
    let row = format!("SELECT COUNT(*) FROM calls WHERE call_id = '{old}'");
    assert_eq!(common::db_i64(&path, &row).await, 1);

    let listed = pending(&h, &alice).await;
    assert_eq!(
        ids_of(&listed),
        [fresh.as_str()],
        "the due call is not listed"
    );
    // The listing made it missed, pushed to both parties, as a GET would.
    let missed = next_call(&mut alice_ws, "call.updated").await;
    assert_eq!(next_call(&mut bob_ws, "call.updated").await, missed);
    assert_eq!(
        (
            missed["call_id"].as_str(),
            missed["status"].as_str(),
            missed["end_reason"].as_str()
        ),
        (Some(old.as_str()), Some("missed"), Some("ring_timeout"))
    );
    let (s, got) = h.get(&format!("/api/v1/calls/{old}"), &bob).await;
    assert_eq!((s, &got), (200, &missed));
    // Once only: the next listing is the same and pushes nothing.
    assert_eq!(pending(&h, &alice).await, listed);
    quiet(&mut alice_ws, 200).await;
    quiet(&mut bob_ws, 100).await;
    h.engine.shutdown().await;
}

/// With a short ring timeout: listed while ringing, gone once missed.
#[tokio::test]
async fn a_missed_call_leaves_the_pending_list() {
    let mut config = EngineConfig::for_tests();
    config.ring_timeout = Duration::from_secs(1);
    let h = Harness::with_config(config).await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", None, None).await;
    let c = id(&call(&h, &bob, "alice").await);
    assert_eq!(ids_of(&pending(&h, &alice).await), [c.as_str()]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(pending(&h, &alice).await.is_empty());
    let (_, got) = h.get(&format!("/api/v1/calls/{c}"), &alice).await;
    assert_eq!(got["status"], "missed");
    h.engine.shutdown().await;
}

/// The listing's checks: bearer (401), ban, rate limit, query (400), plan.
#[tokio::test]
async fn pending_calls_check_auth_query_and_plan() {
    let h = Harness::start().await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", None, None).await;
    call(&h, &bob, "alice").await;

    // No bearer, a bogus one: 401, whatever the query.
    for path in [PENDING, "/api/v1/calls", "/api/v1/calls?role=caller"] {
        let resp = h.http.get(h.url(path)).send().await.unwrap();
        let (s, e) = status_json(resp).await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (401, "unauthenticated"),
            "{path}"
        );
        let resp = h
            .http
            .get(h.url(path))
            .bearer_auth("utdst_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
            .send()
            .await
            .unwrap();
        let (s, e) = status_json(resp).await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (401, "unauthenticated"),
            "{path}"
        );
    }
    // App headers are not a bearer.
    let resp = h
        .http
        .get(h.url(PENDING))
        .header("X-UTD-App-Id", &app.app_id)
        .header("X-UTD-App-Key", &app.app_key)
        .send()
        .await
        .unwrap();
    let (s, e) = status_json(resp).await;
    assert_eq!((s, error_code(&e).as_str()), (401, "unauthenticated"));

    // Only role=callee and status=pending, each at most once.
    for query in [
        "?role=caller",
        "?role=",
        "?role",
        "?role=CALLEE",
        "?status=ringing",
        "?status=active",
        "?status=",
        "?role=callee&status=pending&role=callee",
        "?status=pending&status=pending",
        "?limit=10",
        "?role=callee&status=pending&before_ms=1",
        "?=x",
    ] {
        let (s, e) = h.get(&format!("/api/v1/calls{query}"), &alice).await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (400, "invalid_argument"),
            "{query}: {e}"
        );
    }
    let (_, e) = h.get("/api/v1/calls?role=caller", &alice).await;
    assert_eq!(
        e["error"]["message"],
        "unsupported role: only role=callee is supported"
    );
    let (_, e) = h.get("/api/v1/calls?limit=10", &alice).await;
    assert_eq!(
        e["error"]["message"],
        "unknown query parameter \"limit\": only role=callee and status=pending are supported"
    );
    // Other methods than GET and POST: 405.
    let resp = h
        .http
        .delete(h.url(PENDING))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let (s, e) = status_json(resp).await;
    assert_eq!((s, error_code(&e).as_str()), (405, "invalid_argument"));

    // A plan without signaling: the query is checked first, then the plan.
    let free = h.app(Plan::Free).await;
    let f = session(&h, &free, "alice", None, None).await;
    let (s, e) = h.get("/api/v1/calls?role=caller", &f).await;
    assert_eq!((s, error_code(&e).as_str()), (400, "invalid_argument"));
    let (s, e) = h.get(PENDING, &f).await;
    assert_eq!(
        (
            s,
            error_code(&e).as_str(),
            e["error"]["capability"].as_str()
        ),
        (403, "feature_disabled", Some("signaling"))
    );

    // Banned: 403 banned. Rate limited: 429.
    let mallory = session(&h, &app, "mallory", None, None).await;
    h.admin.ban(&app.app_id, "mallory").await.unwrap();
    let (s, e) = h.get(PENDING, &mallory).await;
    assert_eq!((s, error_code(&e).as_str()), (403, "banned"));
    h.admin.set_rate_limits(&app.app_id, 1, 1000).await.unwrap();
    let mut limited = false;
    for _ in 0..3 {
        let (s, e) = h.get(PENDING, &alice).await;
        if s == 429 {
            assert_eq!(error_code(&e), "rate_limited");
            limited = true;
            break;
        }
        assert_eq!(s, 200, "{e}");
    }
    assert!(limited, "the per-user bucket of 1/min runs out");
    h.engine.shutdown().await;
}

/// The ring deadline is a row: a call whose deadline the database says has
/// passed (as for a call made by a node that died since) is turned `missed`
/// by the engine's sweeper within about a second, with no request, pushed
/// to both parties once; a call that became due while no engine ran is
/// missed as soon as one starts.
#[tokio::test]
async fn the_sweeper_expires_a_call_at_its_stored_deadline_without_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("engine.sqlite3");
    let mut config = EngineConfig::for_tests();
    config.database = DatabaseLocation::File(path.clone());
    config.ring_timeout = Duration::from_secs(600);
    let h = Harness::with_config(config.clone()).await;
    let app = h.app(Plan::Signaling).await;
    let bob = session(&h, &app, "bob", None, None).await;
    let alice = session(&h, &app, "alice", None, None).await;
    let (mut bob_ws, _) = connected(&h, &bob).await;
    let (mut alice_ws, _) = connected(&h, &alice).await;
    let c = id(&call(&h, &bob, "alice").await);
    next_call(&mut alice_ws, "call.invitation").await;
    next_call(&mut bob_ws, "call.updated").await;
    let back_dated = |call_id: &str| {
        format!(
            "UPDATE calls SET created_at_ms = created_at_ms - 601000,
                 updated_at_ms = updated_at_ms - 601000 WHERE call_id = '{call_id}'"
        )
    };

    common::db_execute(&path, &back_dated(&c)).await;
    let moved = tokio::time::Instant::now();
    let missed = tokio::time::timeout(
        Duration::from_secs(3),
        next_call(&mut alice_ws, "call.updated"),
    )
    .await
    .expect("missed by the sweeper");
    assert!(
        moved.elapsed() < Duration::from_millis(2_000),
        "{:?}",
        moved.elapsed()
    );
    assert_eq!(next_call(&mut bob_ws, "call.updated").await, missed);
    assert_eq!(
        (
            missed["call_id"].as_str(),
            missed["status"].as_str(),
            missed["end_reason"].as_str()
        ),
        (Some(c.as_str()), Some("missed"), Some("ring_timeout"))
    );
    // Once only.
    quiet(&mut alice_ws, 1_500).await;
    quiet(&mut bob_ws, 100).await;

    // Due while the engine is stopped: missed by the next one at start.
    let later = id(&call(&h, &bob, "alice").await);
    h.engine.shutdown().await;
    common::db_execute(&path, &back_dated(&later)).await;
    let status =
        format!("SELECT COUNT(*) FROM calls WHERE call_id = '{later}' AND status = 'missed'");
    assert_eq!(common::db_i64(&path, &status).await, 0);
    let h = Harness::with_config(config).await;
    assert_eq!(common::db_i64(&path, &status).await, 1);
    h.engine.shutdown().await;
}
