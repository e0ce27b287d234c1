//! Plan limits and gates of chat: `max_group_members`, `max_chatrooms` and
//! `max_friends` under concurrent requests (exactly the limit succeeds);
//! blocks stop direct conversations but not groups; the `chat` capability
//! on every route and on the WebSocket `typing`.

mod common;

use common::chat::*;
use common::{connected, error_code, next_msg, send, Harness};
use futures_util::future::join_all;
use serde_json::{json, Value};
use utd_engine::Plan;

fn limit_of(body: &Value) -> &str {
    body["error"]["limit"].as_str().unwrap_or("")
}

#[tokio::test]
async fn max_group_members_holds_under_concurrent_adds() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    set_plan(&h, &app, "pro", json!({"max_group_members": 5})).await;
    let alice = h.token_for(&app, "alice").await;
    let (s, e) = h
        .post(
            "/api/v1/chat/conversations",
            &alice,
            json!({"kind": "group", "title": "big", "members": ["a", "b", "c", "d", "e"]}),
        )
        .await;
    assert_eq!(
        (s, error_code(&e).as_str(), limit_of(&e)),
        (403, "limit_reached", "max_group_members")
    );
    let gid = id(&group(&h, &alice, "team", &[]).await);
    let path = format!("{}/members", conv_path(&gid));
    let adds = join_all(
        (0..20).map(|n| h.post(&path, &alice, json!({"identities": [format!("user{n}")]}))),
    )
    .await;
    let ok = adds.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 4, "the owner plus four");
    for (s, b) in adds.iter().filter(|(s, _)| *s != 200) {
        assert_eq!(
            (*s, error_code(b).as_str(), limit_of(b)),
            (403, "limit_reached", "max_group_members")
        );
    }
    let (_, members) = h.get(&path, &alice).await;
    assert_eq!(members["members"].as_array().unwrap().len(), 5);
    // Already members are ignored, not counted.
    let (s, _) = h
        .post(&path, &alice, json!({"identities": ["user0", "alice"]}))
        .await;
    assert!(s == 200 || s == 403);
    let (_, members) = h.get(&path, &alice).await;
    assert_eq!(members["members"].as_array().unwrap().len(), 5);
    h.engine.shutdown().await;
}

#[tokio::test]
async fn max_chatrooms_holds_under_concurrent_creates_and_for_every_member_added() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    set_plan(&h, &app, "pro", json!({"max_chatrooms": 3})).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let creates = join_all((0..10).map(|n| {
        h.post(
            "/api/v1/chat/conversations",
            &alice,
            json!({"kind": "group", "title": format!("g{n}")}),
        )
    }))
    .await;
    assert_eq!(creates.iter().filter(|(s, _)| *s == 201).count(), 3);
    for (s, b) in creates.iter().filter(|(s, _)| *s != 201) {
        assert_eq!((*s, limit_of(b)), (403, "max_chatrooms"));
    }
    // Bob is in three groups of his own: Alice cannot add him to a fourth,
    // nor create one with him; direct conversations do not count.
    for n in 0..3 {
        group(&h, &bob, &format!("bob{n}"), &[]).await;
    }
    direct(&h, &bob, "carol").await;
    let carol = h.token_for(&app, "carol").await;
    let cg = id(&group(&h, &carol, "carol's", &[]).await);
    let (s, e) = h
        .post(
            &format!("{}/members", conv_path(&cg)),
            &carol,
            json!({"identities": ["dave", "bob"]}),
        )
        .await;
    assert_eq!((s, limit_of(&e)), (403, "max_chatrooms"));
    let (_, members) = h.get(&format!("{}/members", conv_path(&cg)), &carol).await;
    assert_eq!(
        members["members"].as_array().unwrap().len(),
        1,
        "nobody added"
    );
    let (s, e) = h
        .post(
            "/api/v1/chat/conversations",
            &carol,
            json!({"kind": "group", "title": "with bob", "members": ["bob"]}),
        )
        .await;
    assert_eq!((s, limit_of(&e)), (403, "max_chatrooms"));
    // Leaving one frees a place.
    let l = list(&h, &bob).await;
    let some_group = l["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "group")
        .map(id)
        .unwrap();
    let (s, _) = delete(&h, &format!("{}/members/bob", conv_path(&some_group)), &bob).await;
    assert_eq!(s, 204);
    let (s, b) = h
        .post(
            &format!("{}/members", conv_path(&cg)),
            &carol,
            json!({"identities": ["bob"]}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn max_friends_holds_under_concurrent_adds() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    set_plan(&h, &app, "pro", json!({"max_friends": 4})).await;
    let alice = h.token_for(&app, "alice").await;
    let adds = join_all((0..12).map(|n| {
        let path = format!("/api/v1/chat/contacts/friend{n}");
        let (h, alice) = (&h, &alice);
        async move { put(h, &path, alice, None).await }
    }))
    .await;
    let ok: Vec<&Value> = adds
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(ok.len(), 4);
    for (s, b) in adds.iter().filter(|(s, _)| *s != 200) {
        assert_eq!((*s, limit_of(b)), (403, "max_friends"));
    }
    // One already there is answered as it is, at the limit too.
    let name = ok[0]["identity"].as_str().unwrap().to_owned();
    let (s, again) = put(&h, &format!("/api/v1/chat/contacts/{name}"), &alice, None).await;
    assert_eq!(
        (s, again["added_at_ms"].clone()),
        (200, ok[0]["added_at_ms"].clone())
    );
    let (_, l) = h.get("/api/v1/chat/contacts", &alice).await;
    assert_eq!(l["contacts"].as_array().unwrap().len(), 4);
    let (s, _) = delete(&h, &format!("/api/v1/chat/contacts/{name}"), &alice).await;
    assert_eq!(s, 204);
    let (s, _) = put(&h, "/api/v1/chat/contacts/newcomer", &alice, None).await;
    assert_eq!(s, 200);
    let (s, _) = put(&h, "/api/v1/chat/contacts/alice", &alice, None).await;
    assert_eq!(s, 400, "not yourself");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn a_blocked_user_cannot_open_or_write_a_direct_conversation_but_groups_are_unaffected() {
    let h = Harness::start().await;
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let bob = h.token_for(&app, "bob").await;
    let mallory = h.token_for(&app, "mallory").await;
    let existing = id(&direct(&h, &mallory, "bob").await);
    let gid = id(&group(&h, &alice, "all", &["bob", "mallory"]).await);

    let (s, b) = put(&h, "/api/v1/chat/blocks/mallory", &bob, None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["identity"], "mallory");
    let (_, l) = h.get("/api/v1/chat/blocks", &bob).await;
    assert_eq!(l["blocks"].as_array().unwrap().len(), 1);

    // Either way round: no opening, no writing, no typing.
    for (me, peer) in [(&mallory, "bob"), (&bob, "mallory")] {
        let (s, e) = h
            .post(
                "/api/v1/chat/conversations/direct",
                me,
                json!({"identity": peer}),
            )
            .await;
        assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"));
        let (s, e) = send_text(&h, me, &existing, &format!("x-{peer}"), "hello?").await;
        assert_eq!((s, error_code(&e).as_str()), (403, "forbidden"));
    }
    let (mut wm, _) = connected(&h, &mallory).await;
    send(
        &mut wm,
        json!({"type": "typing", "conversation_id": existing, "typing": true, "ref": 1}),
    )
    .await;
    let e = next_msg(&mut wm).await.unwrap();
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("forbidden")),
        "{e}"
    );
    // The group is unaffected.
    say(&h, &mallory, &gid, "g1", "hi all").await;
    say(&h, &bob, &gid, "g2", "hi").await;
    // Reads still work in the blocked direct conversation.
    let (s, _) = h
        .post(
            &format!("{}/messages", conv_path(&existing)),
            &bob,
            json!({"client_message_id": "z", "text": "x"}),
        )
        .await;
    assert_eq!(s, 403);
    let (s, _) = h
        .get(&format!("{}/messages", conv_path(&existing)), &bob)
        .await;
    assert_eq!(s, 200);
    // Unblocked: back to normal.
    let (s, _) = delete(&h, "/api/v1/chat/blocks/mallory", &bob).await;
    assert_eq!(s, 204);
    say(&h, &mallory, &existing, "after", "sorry").await;
    let (s, _) = put(&h, "/api/v1/chat/blocks/bob", &bob, None).await;
    assert_eq!(s, 400, "not yourself");
    h.engine.shutdown().await;
}

#[tokio::test]
async fn without_the_chat_capability_every_route_and_typing_answer_feature_disabled() {
    let h = Harness::start().await;
    // A Pro app to make a conversation in, then its plan drops to Free:
    // the change applies to the next request.
    let app = chat_app(&h).await;
    let alice = h.token_for(&app, "alice").await;
    let cid = id(&direct(&h, &alice, "bob").await);
    let m = say(&h, &alice, &cid, "m1", "hi").await;
    let mid = m["message_id"].as_str().unwrap().to_owned();
    let before = h.counts().await;

    for plan in [Plan::Free, Plan::Signaling] {
        h.admin.set_plan(&app.app_id, plan, true).await.unwrap();
        let c = conv_path(&cid);
        let msg = format!("{c}/messages/{mid}");
        let calls: Vec<(reqwest::Method, String, Option<Value>)> = vec![
            (
                reqwest::Method::GET,
                "/api/v1/chat/conversations".into(),
                None,
            ),
            (
                reqwest::Method::POST,
                "/api/v1/chat/conversations".into(),
                Some(json!({"kind": "group", "title": "t"})),
            ),
            (
                reqwest::Method::POST,
                "/api/v1/chat/conversations/direct".into(),
                Some(json!({"identity": "carol"})),
            ),
            (reqwest::Method::GET, c.clone(), None),
            (
                reqwest::Method::PATCH,
                c.clone(),
                Some(json!({"title": "t"})),
            ),
            (reqwest::Method::GET, format!("{c}/members"), None),
            (
                reqwest::Method::POST,
                format!("{c}/members"),
                Some(json!({"identities": ["x"]})),
            ),
            (reqwest::Method::DELETE, format!("{c}/members/bob"), None),
            (
                reqwest::Method::PUT,
                format!("{c}/members/bob/role"),
                Some(json!({"role": "admin"})),
            ),
            (reqwest::Method::GET, format!("{c}/messages"), None),
            (
                reqwest::Method::POST,
                format!("{c}/messages"),
                Some(json!({"client_message_id": "m2", "text": "x"})),
            ),
            (
                reqwest::Method::PATCH,
                msg.clone(),
                Some(json!({"text": "x"})),
            ),
            (reqwest::Method::DELETE, msg.clone(), None),
            (reqwest::Method::GET, format!("{c}/changes?since=0"), None),
            (
                reqwest::Method::POST,
                format!("{c}/read"),
                Some(json!({"seq": 1})),
            ),
            (
                reqwest::Method::POST,
                format!("{c}/delivered"),
                Some(json!({"seq": 1})),
            ),
            (reqwest::Method::GET, "/api/v1/chat/contacts".into(), None),
            (
                reqwest::Method::PUT,
                "/api/v1/chat/contacts/bob".into(),
                None,
            ),
            (
                reqwest::Method::DELETE,
                "/api/v1/chat/contacts/bob".into(),
                None,
            ),
            (reqwest::Method::GET, "/api/v1/chat/blocks".into(), None),
            (reqwest::Method::PUT, "/api/v1/chat/blocks/bob".into(), None),
            (
                reqwest::Method::DELETE,
                "/api/v1/chat/blocks/bob".into(),
                None,
            ),
        ];
        for (method, path, body) in calls {
            let (s, e) = req(&h, method.clone(), &path, &alice, body).await;
            assert_eq!(s, 403, "{method} {path}: {e}");
            assert_eq!(error_code(&e), "feature_disabled", "{method} {path}");
            assert_eq!(e["error"]["capability"], "chat", "{method} {path}");
        }
    }
    assert_eq!(h.counts().await, before, "refusals write nothing");

    // Signaling (the socket is allowed, chat is not): typing is refused.
    let (mut ws, _) = connected(&h, &alice).await;
    send(
        &mut ws,
        json!({"type": "typing", "conversation_id": cid, "typing": true, "ref": "t1"}),
    )
    .await;
    let e = next_msg(&mut ws).await.unwrap();
    assert_eq!(
        (
            e["type"].as_str(),
            e["code"].as_str(),
            e["capability"].as_str(),
            e["ref"].as_str()
        ),
        (
            Some("error"),
            Some("feature_disabled"),
            Some("chat"),
            Some("t1")
        ),
        "{e}"
    );
    // An admin override turns chat on for the Signaling plan.
    let resp = h
        .http
        .put(h.url(&format!("/admin/v1/apps/{}/plan", app.app_id)))
        .bearer_auth(h.engine.admin_token())
        .json(&json!({"plan": "signaling", "messaging_enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    send(
        &mut ws,
        json!({"type": "typing", "conversation_id": cid, "typing": true, "ref": "t2"}),
    )
    .await;
    // The list and the ack (in either order: a cluster node's list comes
    // back through Redis).
    let got = [
        next_msg(&mut ws).await.unwrap(),
        next_msg(&mut ws).await.unwrap(),
    ];
    assert!(got.iter().any(|m| m["type"] == "typing"), "{got:?}");
    assert!(
        got.contains(&json!({"type": "ack", "ref": "t2"})),
        "{got:?}"
    );
    // Nothing the refused requests asked for happened.
    assert_eq!(
        list(&h, &alice).await["conversations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(seqs(&page(&h, &alice, &cid, "").await), [1]);
    assert_eq!(
        page(&h, &alice, &cid, "").await["messages"][0]["text"],
        "hi"
    );
    let (_, c) = h.get("/api/v1/chat/contacts", &alice).await;
    assert_eq!(c["contacts"], json!([]));
    let (_, b) = h.get("/api/v1/chat/blocks", &alice).await;
    assert_eq!(b["blocks"], json!([]));
    h.engine.shutdown().await;
}
