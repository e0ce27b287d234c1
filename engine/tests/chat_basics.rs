//! Chat (chat-api.md) end to end over HTTP and the signal WebSocket: a 1:1
//! conversation and a group of three, with pushes, receipts, edits and
//! deletes; a retried send is one message; a direct conversation opened by
//! both sides at once is one; history pages.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::chat::*;
use common::{connected, error_code, Harness};
use futures_util::future::join_all;
use serde_json::{json, Value};

#[tokio::test]
async fn two_users_chat_one_to_one_with_pushes_receipts_edits_and_deletes() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let (mut wa, _) = connected(&h, &alice).await;
    let (mut wb, _) = connected(&h, &bob).await;

    // Alice opens it (201), Bob's devices hear of it, Bob opening gets it (200).
    let (s, conv) = h
        .post(
            "/api/v1/chat/conversations/direct",
            &alice,
            json!({"identity": "bob"}),
        )
        .await;
    assert_eq!(s, 201, "{conv}");
    let cid = id(&conv);
    assert_eq!(conv["kind"], "direct");
    assert_eq!(conv["peer_identity"], "bob");
    assert_eq!(conv["member_count"], 2);
    assert_eq!(conv["title"], Value::Null);
    assert_eq!(conv["last_seq"], 0);
    assert_eq!(conv["last_message"], Value::Null);
    let pushed = next_of(&mut wb, "chat.conversation").await;
    assert_eq!(pushed["conversation"]["conversation_id"], cid.as_str());
    assert_eq!(pushed["conversation"]["peer_identity"], "alice");
    let (s, again) = h
        .post(
            "/api/v1/chat/conversations/direct",
            &bob,
            json!({"identity": "alice"}),
        )
        .await;
    assert_eq!((s, id(&again)), (200, cid.clone()));

    // A message: seq 1, pushed to both with each one's unread counts.
    let m1 = say(&h, &alice, &cid, "a-1", "hello bob").await;
    assert_eq!(
        (m1["seq"].as_u64(), m1["mod_seq"].as_u64()),
        (Some(1), Some(1))
    );
    assert_eq!(m1["sender_identity"], "alice");
    assert_eq!(m1["deleted"], false);
    assert_eq!(m1["edited_at_ms"], Value::Null);
    assert_eq!(m1["attachments"], json!([]));
    let at_bob = next_of(&mut wb, "chat.message").await;
    assert_eq!(at_bob["message"], m1);
    assert_eq!(
        (
            at_bob["unread_count"].as_u64(),
            at_bob["total_unread"].as_u64()
        ),
        (Some(1), Some(1))
    );
    let at_alice = next_of(&mut wa, "chat.message").await;
    assert_eq!(
        (
            at_alice["unread_count"].as_u64(),
            at_alice["total_unread"].as_u64()
        ),
        (Some(0), Some(0))
    );

    let m2 = say(&h, &bob, &cid, "b-1", "hi alice").await;
    assert_eq!(m2["seq"], 2);
    // Sending moved Bob's own positions.
    let (_, mine) = h.get(&conv_path(&cid), &bob).await;
    assert_eq!(
        (
            mine["last_read_seq"].as_u64(),
            mine["unread_count"].as_u64()
        ),
        (Some(2), Some(0))
    );
    let (_, hers) = h.get(&conv_path(&cid), &alice).await;
    assert_eq!(hers["unread_count"], 1);
    assert_eq!(hers["last_message"]["seq"], 2);
    assert_eq!(hers["mod_seq"], 2);

    // Alice reads: Bob gets the receipt, Alice the unread change.
    let (s, r) = h
        .post(
            &format!("{}/read", conv_path(&cid)),
            &alice,
            json!({"seq": 2}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        r,
        json!({"last_read_seq": 2, "last_delivered_seq": 2, "unread_count": 0, "total_unread": 0})
    );
    let receipt = next_of(&mut wb, "chat.receipt").await;
    assert_eq!(
        receipt,
        json!({"type": "chat.receipt", "conversation_id": cid, "identity": "alice",
               "last_read_seq": 2, "last_delivered_seq": 2})
    );
    let unread = next_of(&mut wa, "chat.unread").await;
    assert_eq!(
        (
            unread["unread_count"].as_u64(),
            unread["total_unread"].as_u64()
        ),
        (Some(0), Some(0))
    );
    // Positions never go back; a seq past the end is capped.
    let (_, r) = h
        .post(
            &format!("{}/read", conv_path(&cid)),
            &alice,
            json!({"seq": 1}),
        )
        .await;
    assert_eq!(r["last_read_seq"], 2);
    let (_, r) = h
        .post(
            &format!("{}/delivered", conv_path(&cid)),
            &alice,
            json!({"seq": 99}),
        )
        .await;
    assert_eq!(r["last_delivered_seq"], 2);

    // Edit: same seq, a new mod_seq, pushed as chat.message.updated.
    let path1 = format!(
        "{}/messages/{}",
        conv_path(&cid),
        m1["message_id"].as_str().unwrap()
    );
    let (s, e) = patch(&h, &path1, &bob, json!({"text": "not mine"})).await;
    assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"));
    let (s, edited) = patch(&h, &path1, &alice, json!({"text": "hello, bob"})).await;
    assert_eq!(s, 200, "{edited}");
    assert_eq!(
        (edited["seq"].as_u64(), edited["mod_seq"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(edited["text"], "hello, bob");
    assert!(edited["edited_at_ms"].as_u64().is_some());
    let up = next_of(&mut wb, "chat.message.updated").await;
    assert_eq!(up["message"], edited);

    // Delete: a tombstone keeping seq; again changes nothing; no edit after.
    let (s, gone) = delete(&h, &path1, &alice).await;
    assert_eq!(s, 200, "{gone}");
    assert_eq!(
        (gone["seq"].as_u64(), gone["mod_seq"].as_u64()),
        (Some(1), Some(4))
    );
    assert_eq!(
        (gone["deleted"].clone(), gone["text"].clone()),
        (json!(true), json!(""))
    );
    let (s, again) = delete(&h, &path1, &alice).await;
    assert_eq!((s, again["mod_seq"].as_u64()), (200, Some(4)));
    let (s, e) = patch(&h, &path1, &alice, json!({"text": "back"})).await;
    assert_eq!((s, error_code(&e).as_str()), (409, "invalid_state"));
    assert_eq!(
        next_of(&mut wb, "chat.message.updated").await["message"]["deleted"],
        true
    );

    // History keeps both in seq order; changes since 2 has the tombstone only.
    let p = page(&h, &bob, &cid, "").await;
    assert_eq!(seqs(&p), [1, 2]);
    assert_eq!(
        (p["has_more_before"].clone(), p["has_more_after"].clone()),
        (json!(false), json!(false))
    );
    let (s, ch) = h
        .get(&format!("{}/changes?since=2", conv_path(&cid)), &bob)
        .await;
    assert_eq!(s, 200, "{ch}");
    assert_eq!(ch["reset"], false);
    assert_eq!(ch["has_more"], false);
    assert_eq!(ch["mod_seq"], 4);
    assert_eq!(ch["messages"].as_array().unwrap().len(), 1);
    assert_eq!(ch["messages"][0]["deleted"], true);

    // The list: one conversation, the newest message, the counts.
    let l = list(&h, &bob).await;
    assert_eq!(l["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(l["next_cursor"], Value::Null);
    assert_eq!(l["total_unread"], 0);
    assert_eq!(l["conversations"][0]["last_message"]["seq"], 2);
    assert_eq!(l["conversations"][0]["mod_seq"], 4);

    // Strangers see nothing.
    let carol = h.token_for(&app, "carol").await;
    let (s, _) = h.get(&conv_path(&cid), &carol).await;
    assert_eq!(s, 404);
    let (s, _) = send_text(&h, &carol, &cid, "c-1", "let me in").await;
    assert_eq!(s, 404);
    let (s, e) = h
        .post(
            "/api/v1/chat/conversations/direct",
            &alice,
            json!({"identity": "alice"}),
        )
        .await;
    assert_eq!((s, error_code(&e).as_str()), (400, "invalid_argument"));
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_group_of_three_with_roles_membership_changes_and_unread_counts() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let carol = h.token_for(&app, "carol").await;
    let dave = h.token_for(&app, "dave").await;
    let (mut wb, _) = connected(&h, &bob).await;
    let (mut wc, _) = connected(&h, &carol).await;

    let g = group(&h, &alice, "Trip", &["bob", "carol", "alice", "bob"]).await;
    let gid = id(&g);
    assert_eq!(
        (g["kind"].clone(), g["title"].clone()),
        (json!("group"), json!("Trip"))
    );
    assert_eq!(
        (g["member_count"].as_u64(), g["my_role"].as_str()),
        (Some(3), Some("owner"))
    );
    assert_eq!(g["peer_identity"], Value::Null);
    for ws in [&mut wb, &mut wc] {
        let c = next_of(ws, "chat.conversation").await;
        assert_eq!(c["conversation"]["conversation_id"], gid.as_str());
        assert_eq!(c["conversation"]["my_role"], "member");
    }

    say(&h, &alice, &gid, "a1", "who drives?").await;
    say(&h, &bob, &gid, "b1", "me").await;
    let m3 = say(&h, &carol, &gid, "c1", "ok").await;
    assert_eq!(m3["seq"], 3);
    // Carol saw two messages of others before hers, then her own: 2 unread,
    // her send moved her read position to 3 → 0.
    let mut at_carol = Vec::new();
    for _ in 0..3 {
        let m = next_of(&mut wc, "chat.message").await;
        at_carol.push((
            m["message"]["seq"].as_u64().unwrap(),
            m["unread_count"].as_u64().unwrap(),
        ));
    }
    assert_eq!(at_carol, [(1, 1), (2, 2), (3, 0)]);
    let (_, at_alice) = h.get(&conv_path(&gid), &alice).await;
    assert_eq!(at_alice["unread_count"], 2);

    // Members and roles.
    let path = format!("{}/members", conv_path(&gid));
    let (s, e) = h.post(&path, &bob, json!({"identities": ["dave"]})).await;
    assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"));
    let (s, m) = put(
        &h,
        &format!("{path}/bob/role"),
        &alice,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!((s, m["role"].as_str()), (200, Some("admin")), "{m}");
    let (s, e) = put(
        &h,
        &format!("{path}/alice/role"),
        &alice,
        Some(json!({"role": "member"})),
    )
    .await;
    assert_eq!((s, error_code(&e).as_str()), (400, "invalid_argument"));
    let (s, e) = put(
        &h,
        &format!("{path}/carol/role"),
        &bob,
        Some(json!({"role": "admin"})),
    )
    .await;
    assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"));
    let (s, all) = h
        .post(&path, &bob, json!({"identities": ["dave", "carol"]}))
        .await;
    assert_eq!(s, 200, "{all}");
    let names: Vec<&str> = all["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["identity"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4);
    assert!(names.contains(&"dave"));
    let (s, _) = h.get(&conv_path(&gid), &dave).await;
    assert_eq!(s, 200);
    // An admin removes neither the owner nor another admin.
    let (s, e) = delete(&h, &format!("{path}/alice"), &bob).await;
    assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"));
    // Carol leaves: told so; the others see the conversation change.
    let (s, _) = delete(&h, &format!("{path}/carol"), &carol).await;
    assert_eq!(s, 204);
    let removed = next_of(&mut wc, "chat.removed").await;
    assert_eq!(removed["conversation_id"], gid.as_str());
    let c = next_of(&mut wb, "chat.conversation").await;
    assert_eq!(c["conversation"]["member_count"], 3);
    let (s, _) = send_text(&h, &carol, &gid, "c2", "back?").await;
    assert_eq!(s, 404);
    // The owner leaves: the oldest admin takes over.
    let (s, _) = delete(&h, &format!("{path}/alice"), &alice).await;
    assert_eq!(s, 204);
    let (_, members) = h.get(&path, &bob).await;
    let roles: Vec<(String, String)> = members["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["identity"].as_str().unwrap().to_owned(),
                m["role"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("bob".into(), "owner".into()),
            ("dave".into(), "member".into())
        ]
    );
    // The new owner renames; a plain member cannot.
    let (s, v) = patch(&h, &conv_path(&gid), &bob, json!({"title": "Road trip"})).await;
    assert_eq!((s, v["title"].as_str()), (200, Some("Road trip")));
    let (s, _) = patch(&h, &conv_path(&gid), &dave, json!({"title": "Mine"})).await;
    assert_eq!(s, 403);
    // A direct conversation's membership does not change.
    let d = direct(&h, &bob, "dave").await;
    let (s, _) = h
        .post(
            &format!("{}/members", conv_path(&id(&d))),
            &bob,
            json!({"identities": ["carol"]}),
        )
        .await;
    assert_eq!(s, 400);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn the_same_send_retried_five_times_is_one_message_also_concurrently() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let (mut wb, _) = connected(&h, &bob).await;
    let cid = id(&direct(&h, &alice, "bob").await);

    let mut replies = Vec::new();
    for n in 0..5 {
        // Whatever the body of a retry, the original comes back.
        replies.push(send_text(&h, &alice, &cid, "retry-1", &format!("take {n}")).await);
    }
    assert_eq!(replies[0].0, 201);
    for (s, m) in &replies[1..] {
        assert_eq!(*s, 200);
        assert_eq!(*m, replies[0].1);
    }
    assert_eq!(replies[0].1["text"], "take 0");

    let concurrent = join_all((0..5).map(|_| send_text(&h, &alice, &cid, "retry-2", "once"))).await;
    let created = concurrent.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{concurrent:?}");
    let ids: HashSet<&str> = concurrent
        .iter()
        .map(|(_, m)| m["message_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1);

    // The same client id of another sender is another message.
    let (s, _) = send_text(&h, &bob, &cid, "retry-1", "mine").await;
    assert_eq!(s, 201);
    assert_eq!(seqs(&page(&h, &bob, &cid, "").await), [1, 2, 3]);
    // One chat.message per message, none for the retries.
    let pushed = drain(&mut wb, Duration::from_millis(500)).await;
    let pushed: Vec<u64> = pushed
        .iter()
        .filter(|m| m["type"] == "chat.message")
        .map(|m| m["message"]["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(pushed, [1, 2, 3]);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_direct_conversation_opened_concurrently_by_both_sides_is_one() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let opens = join_all((0..20).map(|n| {
        let (me, peer) = if n % 2 == 0 {
            (&alice, "bob")
        } else {
            (&bob, "alice")
        };
        h.post(
            "/api/v1/chat/conversations/direct",
            me,
            json!({"identity": peer}),
        )
    }))
    .await;
    let created = opens.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(created, 1, "{opens:?}");
    assert!(opens.iter().all(|(s, _)| *s == 200 || *s == 201));
    let ids: HashSet<String> = opens.iter().map(|(_, c)| id(c)).collect();
    assert_eq!(ids.len(), 1);
    assert_eq!(
        list(&h, &alice).await["conversations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        list(&h, &bob).await["conversations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    h.engine.shutdown().await;
}

#[tokio::test]
async fn history_pages_before_after_and_around_with_has_more_flags() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let cid = id(&direct(&h, &alice, "bob").await);
    for n in 1..=30 {
        say(&h, &alice, &cid, &format!("m{n}"), &format!("message {n}")).await;
    }
    let latest = page(&h, &alice, &cid, "limit=10").await;
    assert_eq!(seqs(&latest), (21..=30).collect::<Vec<_>>());
    assert_eq!(
        (
            latest["has_more_before"].clone(),
            latest["has_more_after"].clone()
        ),
        (json!(true), json!(false))
    );
    let before = page(&h, &alice, &cid, "before=21&limit=10").await;
    assert_eq!(seqs(&before), (11..=20).collect::<Vec<_>>());
    assert_eq!(
        (
            before["has_more_before"].clone(),
            before["has_more_after"].clone()
        ),
        (json!(true), json!(true))
    );
    let first = page(&h, &alice, &cid, "before=11&limit=50").await;
    assert_eq!(seqs(&first), (1..=10).collect::<Vec<_>>());
    assert_eq!(first["has_more_before"], false);
    let after = page(&h, &alice, &cid, "after=25").await;
    assert_eq!(seqs(&after), (26..=30).collect::<Vec<_>>());
    assert_eq!(
        (
            after["has_more_before"].clone(),
            after["has_more_after"].clone()
        ),
        (json!(true), json!(false))
    );
    let around = page(&h, &alice, &cid, "around=15&limit=5").await;
    assert_eq!(seqs(&around), [13, 14, 15, 16, 17]);
    let edge = page(&h, &alice, &cid, "around=2&limit=6").await;
    assert_eq!(seqs(&edge), [1, 2, 3, 4, 5, 6]);
    assert_eq!(edge["has_more_before"], false);
    let past = page(&h, &alice, &cid, "after=30").await;
    assert_eq!(seqs(&past), Vec::<u64>::new());
    assert_eq!(
        (
            past["has_more_before"].clone(),
            past["has_more_after"].clone()
        ),
        (json!(true), json!(false))
    );
    // Default page size 50: everything.
    assert_eq!(seqs(&page(&h, &alice, &cid, "").await).len(), 30);

    for bad in [
        "limit=0",
        "limit=101",
        "before=1&after=2",
        "before=-1",
        "nope=1",
        "limit=x",
        "before=9223372036854775808",
    ] {
        let (s, e) = h
            .get(&format!("{}/messages?{bad}", conv_path(&cid)), &alice)
            .await;
        assert_eq!(
            (s, error_code(&e).as_str()),
            (400, "invalid_argument"),
            "{bad}"
        );
    }
    let (s, _) = h.get(&format!("{}/changes", conv_path(&cid)), &alice).await;
    assert_eq!(s, 400, "since is required");
    let (s, _) = h
        .post(
            &format!("{}/read", conv_path(&cid)),
            &alice,
            json!({"seq": 9_223_372_036_854_775_808u64}),
        )
        .await;
    assert_eq!(s, 400, "past int64");

    // Text rules.
    let long = "é".repeat(4000);
    let (s, _) = send_text(&h, &alice, &cid, "long", &long).await;
    assert_eq!(s, 201);
    let (s, _) = send_text(&h, &alice, &cid, "too-long", &format!("{long}x")).await;
    assert_eq!(s, 400);
    let (s, _) = send_text(&h, &alice, &cid, "empty", "").await;
    assert_eq!(s, 400);
    let (s, _) = send_text(&h, &alice, &cid, "bad id!", "x").await;
    assert_eq!(s, 400);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn the_conversation_list_pages_newest_activity_first() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let mut ids = Vec::new();
    for n in 0..7 {
        ids.push(id(&direct(&h, &alice, &format!("peer{n}")).await));
        tokio::time::sleep(Duration::from_millis(3)).await;
    }
    // Activity in conversation 2 moves it to the top.
    say(&h, &alice, &ids[2], "x", "bump").await;
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=3&cursor={c}"),
            None => "?limit=3".to_owned(),
        };
        let (s, p) = h
            .get(&format!("/api/v1/chat/conversations{q}"), &alice)
            .await;
        assert_eq!(s, 200, "{p}");
        for c in p["conversations"].as_array().unwrap() {
            seen.push(id(c));
        }
        match p["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut want: Vec<String> = ids.iter().rev().cloned().collect();
    want.retain(|i| *i != ids[2]);
    want.insert(0, ids[2].clone());
    assert_eq!(seen, want);
    let (s, _) = h
        .get("/api/v1/chat/conversations?cursor=garbage", &alice)
        .await;
    assert_eq!(s, 400);
    h.engine.shutdown().await;
}
