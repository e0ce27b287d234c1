//! Catch-up and badges: a client offline while 500 messages (and edits)
//! arrive catches up through the list's mod_seq and `changes` with nothing
//! missing or doubled; past the gap it is told to reset; unread counts stay
//! right across two devices of one user.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::chat::*;
use common::{connected, Harness};
use futures_util::future::join_all;
use serde_json::{json, Value};

/// Applies every `changes` page after `since` into `local` (by seq, the
/// latest form wins); returns the final mod_seq and whether a reset came.
async fn catch_up(
    h: &Harness,
    bearer: &str,
    cid: &str,
    mut since: u64,
    local: &mut BTreeMap<u64, Value>,
) -> (u64, bool) {
    loop {
        let (s, ch) = h
            .get(
                &format!("{}/changes?since={since}&limit=100", conv_path(cid)),
                bearer,
            )
            .await;
        assert_eq!(s, 200, "{ch}");
        if ch["reset"] == true {
            return (ch["mod_seq"].as_u64().unwrap(), true);
        }
        let mut last = since;
        let mut seen = HashSet::new();
        for m in ch["messages"].as_array().unwrap() {
            let ms = m["mod_seq"].as_u64().unwrap();
            assert!(ms > last, "ascending mod_seq");
            last = ms;
            assert!(
                seen.insert(m["seq"].as_u64().unwrap()),
                "a message twice in one page"
            );
            local.insert(m["seq"].as_u64().unwrap(), m.clone());
        }
        since = ch["mod_seq"].as_u64().unwrap();
        if ch["has_more"] == false {
            return (since, false);
        }
    }
}

#[tokio::test]
async fn a_client_offline_while_500_messages_arrive_catches_up_with_none_missing_or_doubled() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let cid = id(&direct(&h, &alice, "bob").await);

    // Alice is in sync at the start.
    let first = say(&h, &bob, &cid, "b0", "before the night").await;
    let mut local: BTreeMap<u64, Value> = BTreeMap::new();
    let (since, reset) = catch_up(&h, &alice, &cid, 0, &mut local).await;
    assert!(!reset);
    assert_eq!(since, 1);
    assert_eq!(local.len(), 1);

    // A night offline: 500 messages, ten concurrently at a time, and some
    // of them edited or deleted afterwards.
    let mut sent = vec![first];
    for batch in 0..50 {
        let replies = join_all((0..10).map(|n| {
            let (h, bob, cid) = (&h, &bob, &cid);
            async move {
                let k = batch * 10 + n;
                send_text(h, bob, cid, &format!("b{}", k + 1), &format!("msg {k}")).await
            }
        }))
        .await;
        for (s, m) in replies {
            assert_eq!(s, 201, "{m}");
            sent.push(m);
        }
    }
    for m in sent.iter().skip(1).step_by(50) {
        let path = format!(
            "{}/messages/{}",
            conv_path(&cid),
            m["message_id"].as_str().unwrap()
        );
        let (s, b) = patch(&h, &path, &bob, json!({"text": "edited"})).await;
        assert_eq!(s, 200, "{b}");
    }
    let deleted = sent[7]["message_id"].as_str().unwrap().to_owned();
    let (s, _) = delete(&h, &format!("{}/messages/{deleted}", conv_path(&cid)), &bob).await;
    assert_eq!(s, 200);

    // Back: the list says what there is to fetch.
    let l = list(&h, &alice).await;
    let entry = &l["conversations"][0];
    assert_eq!(entry["last_seq"], 501);
    assert_eq!(entry["mod_seq"], 512);
    assert_eq!(entry["unread_count"], 500, "501 from bob, one deleted");
    assert_eq!(l["total_unread"], 500);
    let (mod_seq, reset) = catch_up(&h, &alice, &cid, since, &mut local).await;
    assert!(!reset);
    assert_eq!(mod_seq, 512);
    assert_eq!(
        local.keys().copied().collect::<Vec<_>>(),
        (1..=501).collect::<Vec<_>>()
    );
    let edited = local.values().filter(|m| m["text"] == "edited").count();
    assert_eq!(edited, 10);
    assert_eq!(local.values().filter(|m| m["deleted"] == true).count(), 1);
    // Every server message in its latest form, none left behind.
    for m in &sent {
        let seq = m["seq"].as_u64().unwrap();
        assert_eq!(local[&seq]["message_id"], m["message_id"]);
    }
    let (_, ch) = h
        .get(
            &format!("{}/changes?since={mod_seq}", conv_path(&cid)),
            &alice,
        )
        .await;
    assert_eq!(ch["messages"], json!([]));
    assert_eq!(ch["has_more"], false);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn past_the_gap_the_client_is_told_to_reset_to_the_latest_page() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let cid = id(&direct(&h, &alice, "bob").await);
    for batch in 0..101 {
        let replies = join_all((0..10).map(|n| {
            let (h, bob, cid) = (&h, &bob, &cid);
            async move { send_text(h, bob, cid, &format!("g{batch}-{n}"), "x").await }
        }))
        .await;
        assert!(replies.iter().all(|(s, _)| *s == 201));
    }
    // 1010 modifications: since=9 is 1001 behind, since=10 exactly 1000.
    let (_, ch) = h
        .get(&format!("{}/changes?since=9", conv_path(&cid)), &alice)
        .await;
    assert_eq!(
        (ch["reset"].clone(), ch["mod_seq"].clone()),
        (json!(true), json!(1010))
    );
    assert_eq!(ch["messages"], json!([]));
    let (_, ch) = h
        .get(&format!("{}/changes?since=10", conv_path(&cid)), &alice)
        .await;
    assert_eq!(ch["reset"], false);
    assert_eq!(ch["has_more"], true);
    assert_eq!(ch["messages"].as_array().unwrap().len(), 50);
    assert_eq!(ch["mod_seq"], 60);
    // A counter the conversation never reached is a reset too.
    let (_, ch) = h
        .get(&format!("{}/changes?since=5000", conv_path(&cid)), &alice)
        .await;
    assert_eq!(ch["reset"], true);
    // What a reset means: the latest page.
    let p = page(&h, &alice, &cid, "").await;
    assert_eq!(seqs(&p), (961..=1010).collect::<Vec<_>>());
    assert_eq!(p["has_more_before"], true);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn unread_counts_stay_right_across_two_devices_of_one_user() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let phone = h.token_for(&app, "alice").await;
    let tablet = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let carol = h.token_for(&app, "carol").await;
    let (mut wp, _) = connected(&h, &phone).await;
    let (mut wt, _) = connected(&h, &tablet).await;
    let with_bob = id(&direct(&h, &bob, "alice").await);
    let with_carol = id(&direct(&h, &carol, "alice").await);

    for n in 1..=3 {
        say(&h, &bob, &with_bob, &format!("b{n}"), "hi").await;
    }
    say(&h, &carol, &with_carol, "c1", "yo").await;
    for ws in [&mut wp, &mut wt] {
        let mut counts = Vec::new();
        for _ in 0..4 {
            let m = next_of(ws, "chat.message").await;
            counts.push((
                m["unread_count"].as_u64().unwrap(),
                m["total_unread"].as_u64().unwrap(),
            ));
        }
        assert_eq!(counts, [(1, 1), (2, 2), (3, 3), (1, 4)]);
    }

    // The phone reads Bob's conversation: both devices clear that badge.
    let (s, r) = h
        .post(
            &format!("{}/read", conv_path(&with_bob)),
            &phone,
            json!({"seq": 3}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        (r["unread_count"].as_u64(), r["total_unread"].as_u64()),
        (Some(0), Some(1))
    );
    for ws in [&mut wt, &mut wp] {
        let u = next_of(ws, "chat.unread").await;
        assert_eq!(
            u,
            json!({"type": "chat.unread", "conversation_id": with_bob, "unread_count": 0, "total_unread": 1})
        );
    }
    let l = list(&h, &tablet).await;
    assert_eq!(l["total_unread"], 1);
    let counts: BTreeMap<String, u64> = l["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (id(c), c["unread_count"].as_u64().unwrap()))
        .collect();
    assert_eq!(counts[&with_bob], 0);
    assert_eq!(counts[&with_carol], 1);

    // A message deleted before it was read drops from the badge at once.
    let m = say(&h, &carol, &with_carol, "c2", "oops").await;
    assert_eq!(next_of(&mut wt, "chat.message").await["total_unread"], 2);
    let path = format!(
        "{}/messages/{}",
        conv_path(&with_carol),
        m["message_id"].as_str().unwrap()
    );
    let (s, _) = delete(&h, &path, &carol).await;
    assert_eq!(s, 200);
    let u = next_of(&mut wt, "chat.unread").await;
    assert_eq!(
        (u["unread_count"].as_u64(), u["total_unread"].as_u64()),
        (Some(1), Some(1))
    );
    // A read from the tablet reaches the phone.
    h.post(
        &format!("{}/read", conv_path(&with_carol)),
        &tablet,
        json!({"seq": 2}),
    )
    .await;
    let after_delete = next_of(&mut wp, "chat.unread").await;
    assert_eq!(after_delete["total_unread"], 1);
    let u = next_of(&mut wp, "chat.unread").await;
    assert_eq!(
        (u["unread_count"].as_u64(), u["total_unread"].as_u64()),
        (Some(0), Some(0))
    );
    h.engine.shutdown().await;
}
