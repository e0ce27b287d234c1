//! Typing over the signal WebSocket (chat-api.md): the full typer list is
//! pushed on every change, a typer expires by itself, one update per second
//! is accepted, a stop inside the second is applied when it is up, and a
//! user whose last connection closes stops typing.

mod common;

use std::time::{Duration, Instant};

use common::chat::*;
use common::{connected, next_msg, send, Harness, Ws};
use serde_json::{json, Value};

async fn typing(ws: &mut Ws, conv: &str, on: bool, r: &str) {
    send(
        ws,
        json!({"type": "typing", "conversation_id": conv, "typing": on, "ref": r}),
    )
    .await;
}

/// The next `typing` list and the next other message, in whichever order
/// they come.
async fn list_and_ack(ws: &mut Ws) -> (Value, Value) {
    let first = next_msg(ws).await.unwrap();
    let second = next_msg(ws).await.unwrap();
    if first["type"] == "typing" {
        (first, second)
    } else {
        (second, first)
    }
}

fn typers(msg: &Value) -> Vec<String> {
    msg["typers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn typing_appears_for_the_members_and_expires_by_itself() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let carol = h.token_for(&app, "carol").await;
    let gid = id(&group(&h, &alice, "g", &["bob", "carol"]).await);
    let (mut wa, _) = connected(&h, &alice).await;
    let (mut wb, _) = connected(&h, &bob).await;
    let (mut wc, _) = connected(&h, &carol).await;

    typing(&mut wa, &gid, true, "a1").await;
    let started = Instant::now();
    for ws in [&mut wb, &mut wc] {
        let t = next_of(ws, "typing").await;
        assert_eq!(
            t,
            json!({"type": "typing", "conversation_id": gid, "typers": ["alice"]})
        );
    }
    // The typer gets the list too, and the ack (a cluster node's list comes
    // back through Redis, so in either order).
    let (list, ack) = list_and_ack(&mut wa).await;
    assert_eq!(typers(&list), ["alice"]);
    assert_eq!(ack, json!({"type": "ack", "ref": "a1"}));
    typing(&mut wc, &gid, true, "c1").await;
    assert_eq!(
        typers(&next_of(&mut wb, "typing").await),
        ["alice", "carol"]
    );

    // Nobody refreshes: both expire about 5 s after they started.
    let t = next_of(&mut wb, "typing").await;
    assert_eq!(typers(&t), ["carol"]);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(4_800) && waited < Duration::from_millis(7_000),
        "{waited:?}"
    );
    assert_eq!(
        typers(&next_of(&mut wb, "typing").await),
        Vec::<String>::new()
    );

    // A refresh keeps it: typing every 2 s for 7 s never expires.
    typing(&mut wa, &gid, true, "a2").await;
    assert_eq!(typers(&next_of(&mut wb, "typing").await), ["alice"]);
    for n in 0..3 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        typing(&mut wa, &gid, true, &format!("r{n}")).await;
    }
    let pushed = drain(&mut wb, Duration::from_millis(500)).await;
    assert!(pushed.iter().all(|m| m["type"] != "typing"), "{pushed:?}");
    typing(&mut wa, &gid, false, "a3").await;
    // Inside the second of the last refresh: applied when it is up.
    let stop = next_of(&mut wb, "typing").await;
    assert_eq!(typers(&stop), Vec::<String>::new());
    h.engine.shutdown().await;
}

#[tokio::test]
async fn one_update_per_second_is_applied_and_a_stop_waits_for_the_second() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let cid = id(&direct(&h, &alice, "bob").await);
    let (mut wa, _) = connected(&h, &alice).await;
    let (mut wb, _) = connected(&h, &bob).await;

    let t0 = Instant::now();
    typing(&mut wa, &cid, true, "1").await;
    assert_eq!(typers(&next_of(&mut wb, "typing").await), ["alice"]);
    // A burst inside the second: acknowledged, not applied, not pushed.
    for n in 0..5 {
        typing(&mut wa, &cid, n % 2 == 0, &format!("burst{n}")).await;
    }
    let mut acks = 0;
    while acks < 6 {
        let m = next_msg(&mut wa).await.unwrap();
        if m["type"] == "ack" {
            acks += 1;
        }
    }
    // The burst ended on a stop: it is applied when the second is up.
    typing(&mut wa, &cid, false, "stop").await;
    let t = next_of(&mut wb, "typing").await;
    assert_eq!(typers(&t), Vec::<String>::new());
    let at = t0.elapsed();
    assert!(
        at >= Duration::from_millis(950) && at < Duration::from_millis(2_500),
        "{at:?}"
    );
    let rest = drain(&mut wb, Duration::from_millis(1_200)).await;
    assert!(
        rest.iter().all(|m| m["type"] != "typing"),
        "one push per change: {rest:?}"
    );

    // Outsiders and bad messages.
    let carol = h.token_for(&app, "carol").await;
    let (mut wc, _) = connected(&h, &carol).await;
    typing(&mut wc, &cid, true, "c").await;
    let e = next_msg(&mut wc).await.unwrap();
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("forbidden"), Some("c")),
        "{e}"
    );
    send(
        &mut wc,
        json!({"type": "typing", "conversation_id": "nope", "typing": true}),
    )
    .await;
    assert_eq!(next_msg(&mut wc).await.unwrap()["code"], "invalid_argument");
    send(&mut wc, json!({"type": "typing", "conversation_id": cid})).await;
    assert_eq!(next_msg(&mut wc).await.unwrap()["code"], "invalid_argument");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_user_whose_last_connection_closes_stops_typing() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let phone = h.token_for(&app, "alice").await;
    let laptop = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let cid = id(&direct(&h, &phone, "bob").await);
    let (mut wp, _) = connected(&h, &phone).await;
    let (mut wl, _) = connected(&h, &laptop).await;
    let (mut wb, _) = connected(&h, &bob).await;

    typing(&mut wp, &cid, true, "1").await;
    assert_eq!(typers(&next_of(&mut wb, "typing").await), ["alice"]);
    // One device goes: still online, still typing.
    wl.close(None).await.unwrap();
    let pushed = drain(&mut wb, Duration::from_millis(500)).await;
    assert!(pushed.iter().all(|m| m["type"] != "typing"), "{pushed:?}");
    // The last one goes: stopped at once (long before the 5 s expiry).
    let t0 = Instant::now();
    wp.close(None).await.unwrap();
    assert_eq!(
        typers(&next_of(&mut wb, "typing").await),
        Vec::<String>::new()
    );
    assert!(t0.elapsed() < Duration::from_secs(3));
    h.engine.shutdown().await;
}
