//! Two engine nodes (processes) on one PostgreSQL database and one Redis:
//! what one node does reaches the sockets of the other, a node killed with
//! SIGKILL loses nothing that is in the database, presence and rate limits
//! hold across both, and a race split over both nodes has one winner.

mod common;

use std::time::{Duration, Instant};

use common::cluster::{next_of, Services, TwoNodes};
use common::livekit::{join_livekit, wait_permission, wait_permission_within};
use common::{error_code, send};
use futures_util::future::join_all;
use livekit_api::services::room::RoomClient;
use serde_json::{json, Value};
use utd_engine::Plan;

/// The bearer of `host`, who opened audio room `lobby` with `seats` free
/// seats through node A.
async fn lobby_with_host(
    nodes: &TwoNodes,
    app: &utd_engine::admin_client::AppCredentials,
    seats: u32,
) -> String {
    let host = nodes.a.token_for(app, "host").await;
    let (s, b) = nodes
        .a
        .post(
            "/api/v1/token",
            &host,
            json!({"room_name": "lobby", "stream_type": "audio_room", "as_host": true}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = nodes
        .a
        .put(
            "/api/v1/rooms/lobby/seats",
            &host,
            json!({"seat_count": seats, "seat_mode": "free"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    host
}

async fn watch(ws: &mut common::Ws, identity: &str) -> Value {
    send(
        ws,
        json!({"type": "presence.watch", "identities": [identity], "ref": "w"}),
    )
    .await;
    next_of(ws, "presence", Duration::from_secs(5))
        .await
        .expect("the current presence")
}

#[tokio::test]
async fn an_invitation_created_through_one_node_reaches_the_callee_on_the_other_within_a_second() {
    let nodes = TwoNodes::start(&[]).await;
    let app = nodes.app(Plan::Signaling).await;
    let alice = nodes.a.token_for(&app, "alice").await;
    let bob = nodes.b.token_for(&app, "bob").await;
    let mut alice_ws = nodes.a.connected(&alice).await;

    let started = Instant::now();
    let (s, call) = nodes
        .b
        .post(
            "/api/v1/calls",
            &bob,
            json!({"callee_identity": "alice", "type": "audio_call"}),
        )
        .await;
    assert_eq!(s, 201, "{call}");
    let invitation = next_of(&mut alice_ws, "call.invitation", Duration::from_secs(1))
        .await
        .expect("the invitation on node A within a second");
    assert_eq!(invitation["call"]["call_id"], call["call_id"]);
    println!("invitation across nodes: {:?}", started.elapsed());

    // Accepted through node A: the caller's socket on node B is told.
    let mut bob_ws = nodes.b.connected(&bob).await;
    let call_id = call["call_id"].as_str().unwrap();
    let (s, b) = nodes
        .a
        .post(
            &format!("/api/v1/calls/{call_id}/accept"),
            &alice,
            json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let update = next_of(&mut bob_ws, "call.updated", Duration::from_secs(2))
        .await
        .expect("the caller on node B is told");
    assert_eq!(update["call"]["status"], "active", "{update}");
}

#[tokio::test]
async fn a_call_ringing_when_its_node_is_killed_is_missed_at_its_deadline_and_both_parties_are_told(
) {
    let mut nodes = TwoNodes::start(&["--ring-timeout-secs", "2"]).await;
    let app = nodes.app(Plan::Signaling).await;
    let alice = nodes.a.token_for(&app, "alice").await;
    let bob = nodes.a.token_for(&app, "bob").await;
    let mut alice_ws = nodes.a.connected(&alice).await;
    let mut bob_ws = nodes.a.connected(&bob).await;

    let (s, call) = nodes
        .b
        .post(
            "/api/v1/calls",
            &bob,
            json!({"callee_identity": "alice", "type": "audio_call"}),
        )
        .await;
    assert_eq!(s, 201, "{call}");
    let created = Instant::now();
    next_of(&mut alice_ws, "call.invitation", Duration::from_secs(1))
        .await
        .expect("the invitation");
    // The node that created the call (and ran its ring clock) dies.
    nodes.b.kill();
    for (who, ws) in [("alice", &mut alice_ws), ("bob", &mut bob_ws)] {
        let missed = loop {
            let update = next_of(ws, "call.updated", Duration::from_secs(5))
                .await
                .unwrap_or_else(|| panic!("{who} is told the call was missed"));
            if update["call"]["status"] == "missed" {
                break update;
            }
        };
        assert_eq!(missed["call"]["call_id"], call["call_id"], "{missed}");
        assert_eq!(missed["call"]["end_reason"], "ring_timeout", "{missed}");
    }
    let took = created.elapsed();
    println!("missed after the creating node died: {took:?} (ring timeout 2 s)");
    assert!(
        took >= Duration::from_millis(1900) && took <= Duration::from_millis(3500),
        "at the deadline, within a sweep: {took:?}"
    );
}

#[tokio::test]
async fn one_webhook_delivered_to_both_nodes_changes_state_once() {
    let nodes = TwoNodes::start(&[]).await;
    let app = nodes.app(Plan::Signaling).await;
    let host = lobby_with_host(&nodes, &app, 4).await;
    let carol = nodes.b.token_for(&app, "carol").await;
    let (s, b) = nodes
        .b
        .post("/api/v1/rooms/lobby/seats/2/take", &carol, json!({}))
        .await;
    assert_eq!(s, 200, "{b}");
    let mut watcher = nodes.a.connected(&host).await;
    send(
        &mut watcher,
        json!({"type": "room.subscribe", "room_name": "lobby"}),
    )
    .await;
    let current = next_of(&mut watcher, "seats.updated", Duration::from_secs(5))
        .await
        .expect("the current seats");
    assert_eq!(current["seats"]["seats"][2]["identity"], "carol");

    // LiveKit retries: the same event reaches both nodes at once.
    let body = json!({
        "event": "participant_left",
        "id": "EV_cluster_once",
        "createdAt": "1700000000",
        "room": {"sid": "RM_1", "name": format!("{}_lobby", app.app_id)},
        "participant": {"sid": "PA_1", "identity": "carol"},
    })
    .to_string();
    let auth = common::sign_webhook("devkey", "secret", &body);
    let http = reqwest::Client::new();
    let deliveries = [&nodes.a, &nodes.b].map(|node| {
        http.post(node.url("/api/v1/livekit/webhook"))
            .header("content-type", "application/webhook+json")
            .header("authorization", &auth)
            .body(body.clone())
            .send()
    });
    for response in join_all(deliveries).await {
        assert_eq!(response.expect("delivered").status(), 204);
    }
    let freed = next_of(&mut watcher, "seats.updated", Duration::from_secs(2))
        .await
        .expect("the freed seat pushed");
    assert!(freed["seats"]["seats"][2]["identity"].is_null(), "{freed}");
    assert!(
        next_of(&mut watcher, "seats.updated", Duration::from_millis(700))
            .await
            .is_none(),
        "applied once: one push"
    );
    let (_, seats) = nodes.b.get("/api/v1/rooms/lobby/seats", &host).await;
    assert_eq!(seats["version"], freed["seats"]["version"], "{seats}");
}

#[tokio::test]
async fn presence_holds_across_nodes_and_a_killed_node_turns_its_users_offline_within_the_ttl() {
    let mut nodes = TwoNodes::start(&["--presence-ttl-secs", "2"]).await;
    let app = nodes.app(Plan::Signaling).await;
    let watcher = nodes.a.token_for(&app, "watcher").await;
    let carol = nodes.b.token_for(&app, "carol").await;
    let dave = nodes.a.token_for(&app, "dave").await;
    let mut w = nodes.a.connected(&watcher).await;
    assert_eq!(watch(&mut w, "carol").await["online"], false);

    let carol_ws = nodes.b.connected(&carol).await;
    let online = next_of(&mut w, "presence", Duration::from_secs(2))
        .await
        .expect("carol online, seen from node A");
    assert_eq!(
        (online["identity"].as_str(), online["online"].as_bool()),
        (Some("carol"), Some(true))
    );

    // A user on both nodes stays online until both sockets close.
    assert_eq!(watch(&mut w, "dave").await["online"], false);
    let dave_on_a = nodes.a.connected(&dave).await;
    let on = next_of(&mut w, "presence", Duration::from_secs(2))
        .await
        .expect("dave online");
    assert_eq!(on["online"], true);
    let dave_on_b = nodes.b.connected(&dave).await;
    drop(dave_on_b);
    assert!(
        next_of(&mut w, "presence", Duration::from_millis(800))
            .await
            .is_none(),
        "still online on node A"
    );
    drop(dave_on_a);
    let off = next_of(&mut w, "presence", Duration::from_secs(3))
        .await
        .expect("dave offline");
    assert_eq!(
        (off["identity"].as_str(), off["online"].as_bool()),
        (Some("dave"), Some(false))
    );

    // SIGKILL: node B says no goodbye; carol goes offline within the TTL.
    let killed = Instant::now();
    nodes.b.kill();
    drop(carol_ws);
    let offline = next_of(&mut w, "presence", Duration::from_secs(5))
        .await
        .expect("carol offline after her node died");
    assert_eq!(
        (offline["identity"].as_str(), offline["online"].as_bool()),
        (Some("carol"), Some(false))
    );
    assert!(offline["last_seen_ms"].is_u64(), "{offline}");
    let took = killed.elapsed();
    println!("offline after SIGKILL: {took:?}");
    assert!(
        took <= Duration::from_secs(4),
        "within the 2 s TTL plus a sweep: {took:?}"
    );
}

#[tokio::test]
async fn a_rate_limit_of_n_per_minute_across_both_nodes_admits_exactly_n() {
    let nodes = TwoNodes::start(&[]).await;
    let app = nodes.app(Plan::Signaling).await;
    // Minted before the limit: a mint takes a token too.
    let bearer = nodes.a.token_for(&app, "erin").await;
    nodes
        .a
        .admin()
        .set_rate_limits(&app.app_id, 7, 100_000)
        .await
        .expect("limits set");
    let requests = (0..20).map(|i| {
        let node = if i % 2 == 0 { &nodes.a } else { &nodes.b };
        node.get("/api/v1/me", &bearer)
    });
    let results = join_all(requests).await;
    let admitted = results.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(admitted, 7, "{results:?}");
    for (s, b) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!((*s, error_code(b)), (429, "rate_limited".to_owned()), "{b}");
    }
}

#[tokio::test]
async fn a_seat_race_of_twenty_takers_split_over_both_nodes_has_exactly_one_winner() {
    let nodes = TwoNodes::start(&[]).await;
    let app = nodes.app(Plan::Signaling).await;
    let host = lobby_with_host(&nodes, &app, 8).await;
    // A listener on node B sees the winner pushed.
    let mut listener_ws = nodes.b.connected(&host).await;
    send(
        &mut listener_ws,
        json!({"type": "room.subscribe", "room_name": "lobby"}),
    )
    .await;
    next_of(&mut listener_ws, "seats.updated", Duration::from_secs(5))
        .await
        .expect("the current seats");

    let mut bearers = Vec::new();
    for i in 0..20 {
        let node = if i % 2 == 0 { &nodes.a } else { &nodes.b };
        bearers.push(node.token_for(&app, &format!("u{i}")).await);
    }
    let takes = bearers.iter().enumerate().map(|(i, bearer)| {
        let node = if i % 2 == 0 { &nodes.a } else { &nodes.b };
        node.post("/api/v1/rooms/lobby/seats/3/take", bearer, json!({}))
    });
    let results = join_all(takes).await;
    let winners: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    for (s, b) in results.iter().filter(|(s, _)| *s != 200) {
        assert_eq!((*s, error_code(b)), (409, "conflict".to_owned()), "{b}");
    }
    let winner = winners[0]["seats"][3]["identity"].clone();
    let pushed = next_of(&mut listener_ws, "seats.updated", Duration::from_secs(2))
        .await
        .expect("the new grid pushed to node B's subscriber");
    assert_eq!(pushed["seats"]["seats"][3]["identity"], winner, "{pushed}");
}

#[tokio::test]
async fn a_node_that_loses_redis_is_not_ready_and_closes_its_sockets_with_1012() {
    let mut nodes = TwoNodes::start_on(Services::own(), &[]).await;
    let app = nodes.app(Plan::Signaling).await;
    let alice = nodes.a.token_for(&app, "alice").await;
    let mut ws = nodes.a.connected(&alice).await;
    let (s, ready) = nodes.a.get("/api/v1/ready", "").await;
    assert_eq!((s, ready["redis"].as_str()), (200, Some("ok")), "{ready}");

    nodes.services.kill_redis();
    // The socket is closed so that its client reconnects and catches up.
    let close = common::expect_close(&mut ws).await;
    assert_eq!(close, (1012, "try_again".to_owned()));
    let (s, ready) = nodes.a.get("/api/v1/ready", "").await;
    assert_eq!(
        (s, ready["status"].as_str()),
        (503, Some("not_ready")),
        "{ready}"
    );
    assert_eq!(ready["database"], "ok", "{ready}");
    assert_ne!(ready["redis"], "ok", "{ready}");
}

#[tokio::test]
async fn a_chat_member_on_the_other_node_gets_the_message_and_no_notification_while_connected() {
    let fcm = utd_testkit::FcmStandIn::start("utd-cluster")
        .await
        .expect("FCM stand-in");
    let dir = tempfile::tempdir().unwrap();
    let account = dir.path().join("fcm.json");
    std::fs::write(&account, fcm.service_account_json()).unwrap();
    let account = account.to_string_lossy().into_owned();
    let fcm_url = fcm.url();
    let nodes = TwoNodes::start(&[
        "--fcm-service-account-file",
        &account,
        "--fcm-endpoint",
        &fcm_url,
    ])
    .await;
    let app = nodes.app(Plan::Pro).await;
    let alice = nodes.a.token_for(&app, "alice").await;
    let bob = nodes.b.token_for(&app, "bob").await;
    let bob_token = common::push::fcm_token("bob");
    let (s, b) = nodes
        .b
        .post(
            "/api/v1/devices/push-token",
            &bob,
            json!({"platform": "fcm", "token": bob_token, "device_id": "pixel"}),
        )
        .await;
    assert_eq!(s, 204, "{b}");
    let (s, conv) = nodes
        .a
        .post(
            "/api/v1/chat/conversations/direct",
            &alice,
            json!({"identity": "bob"}),
        )
        .await;
    assert!(s == 200 || s == 201, "{s} {conv}");
    let messages = format!(
        "/api/v1/chat/conversations/{}/messages",
        conv["conversation_id"].as_str().unwrap()
    );

    // Bob is connected to node B: the message reaches his socket there, and
    // he is online for node A, so no notification.
    let mut bob_ws = nodes.b.connected(&bob).await;
    let (s, sent) = nodes
        .a
        .post(
            &messages,
            &alice,
            json!({"client_message_id": "m1", "text": "hi"}),
        )
        .await;
    assert_eq!(s, 201, "{sent}");
    let got = next_of(&mut bob_ws, "chat.message", Duration::from_secs(2))
        .await
        .expect("bob's socket on node B gets the message sent through node A");
    assert_eq!(got["message"]["message_id"], sent["message_id"], "{got}");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        fcm.messages().is_empty(),
        "online on another node: no notification"
    );

    // Offline everywhere: the next message is a notification.
    drop(bob_ws);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (s, _) = nodes
        .a
        .post(
            &messages,
            &alice,
            json!({"client_message_id": "m2", "text": "there?"}),
        )
        .await;
    assert_eq!(s, 201);
    let pushed = fcm
        .wait_for_messages(1, Duration::from_secs(5))
        .await
        .expect("a notification once bob is offline");
    assert_eq!(pushed[0].device_token, bob_token);
}

#[tokio::test]
async fn a_ban_through_one_node_closes_the_users_sockets_on_the_other() {
    let nodes = TwoNodes::start(&[]).await;
    let app = nodes.app(Plan::Signaling).await;
    let mallory = nodes.b.token_for(&app, "mallory").await;
    let mut on_b = nodes.b.connected(&mallory).await;
    nodes
        .a
        .admin()
        .ban(&app.app_id, "mallory")
        .await
        .expect("banned through node A");
    let close = tokio::time::timeout(Duration::from_secs(2), common::expect_close(&mut on_b))
        .await
        .expect("closed within 2 s");
    assert_eq!(close, (4403, "banned".to_owned()));
    let (s, b) = nodes.b.get("/api/v1/me", &mallory).await;
    assert_eq!((s, error_code(&b)), (403, "banned".to_owned()));
}

/// The next `typing` list of `conversation` within `wait`.
async fn typers(ws: &mut common::Ws, conversation: &str, wait: Duration) -> Option<Vec<String>> {
    let deadline = Instant::now() + wait;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = next_of(ws, "typing", left).await?;
        if m["conversation_id"] == conversation {
            let list = m["typers"].as_array().expect("typers is a list");
            return Some(
                list.iter()
                    .map(|t| t.as_str().expect("a typer is a string").to_owned())
                    .collect(),
            );
        }
    }
}

#[tokio::test]
async fn typers_on_both_nodes_make_one_list_and_a_dead_nodes_typer_expires_by_itself() {
    let mut nodes = TwoNodes::start(&[]).await;
    let app = nodes.app(Plan::Pro).await;
    let alice = nodes.a.token_for(&app, "alice").await;
    let bob = nodes.a.token_for(&app, "bob").await;
    let carol = nodes.b.token_for(&app, "carol").await;
    let (s, group) = nodes
        .a
        .post(
            "/api/v1/chat/conversations",
            &alice,
            json!({"kind": "group", "title": "typists", "members": ["bob", "carol"]}),
        )
        .await;
    assert_eq!(s, 201, "{group}");
    let id = group["conversation_id"].as_str().unwrap().to_owned();
    let mut bob_ws = nodes.a.connected(&bob).await;
    let mut alice_ws = nodes.a.connected(&alice).await;
    let mut carol_ws = nodes.b.connected(&carol).await;
    let typing = |on: bool| json!({"type": "typing", "conversation_id": id, "typing": on});
    let wait = Duration::from_secs(3);

    send(&mut alice_ws, typing(true)).await;
    assert_eq!(typers(&mut bob_ws, &id, wait).await.unwrap(), ["alice"]);
    send(&mut carol_ws, typing(true)).await;
    assert_eq!(
        typers(&mut bob_ws, &id, wait).await.unwrap(),
        ["alice", "carol"],
        "one list, though alice types through node A and carol through node B"
    );
    assert_eq!(
        typers(&mut carol_ws, &id, wait).await.unwrap(),
        ["alice"],
        "carol's socket on node B heard alice"
    );
    assert_eq!(
        typers(&mut carol_ws, &id, wait).await.unwrap(),
        ["alice", "carol"]
    );

    // Stops through either node are pushed at once.
    tokio::time::sleep(Duration::from_millis(1100)).await; // past the throttle
    send(&mut alice_ws, typing(false)).await;
    assert_eq!(typers(&mut bob_ws, &id, wait).await.unwrap(), ["carol"]);

    // Carol's node dies while she types: nobody is left to time her out
    // there, and the surviving node's sweep does it.
    let killed = Instant::now();
    nodes.b.kill();
    drop(carol_ws);
    let after = typers(&mut bob_ws, &id, Duration::from_secs(8))
        .await
        .expect("carol's typing expires though her node is gone");
    assert!(after.is_empty(), "{after:?}");
    let took = killed.elapsed();
    println!("a dead node's typer expired after {took:?}");
    assert!(
        took <= Duration::from_secs(6),
        "within the 5 s expiry plus a sweep: {took:?}"
    );
    assert!(
        typers(&mut bob_ws, &id, Duration::from_millis(500))
            .await
            .is_none(),
        "pushed once"
    );
}

#[tokio::test]
async fn a_second_node_with_a_running_nodes_id_refuses_to_start() {
    let mut nodes = TwoNodes::start(&["--presence-ttl-secs", "2"]).await;
    let started = Instant::now();
    let (status, stderr) = common::cluster::Node::refused(
        &nodes.database,
        &nodes.services.redis,
        &nodes.a.id,
        &["--presence-ttl-secs", "2"],
    )
    .await;
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "the node id \"{}\" is held by another running node",
            nodes.a.id
        )),
        "{stderr}"
    );
    // It waited out one TTL first: a node restarted after SIGKILL takes its
    // id back once the dead one's hold expired.
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let (s, _) = nodes.a.get("/api/v1/ready", "").await;
    assert_eq!(s, 200, "the running node is untouched");

    // A node killed without a goodbye: its id is free again after the TTL.
    nodes.b.kill();
    let back = common::cluster::Node::start(
        &nodes.database,
        &nodes.services.redis,
        &nodes.b.id,
        &["--presence-ttl-secs", "2"],
    );
    let (s, _) = back.get("/api/v1/ready", "").await;
    assert_eq!(s, 200, "node B is back under its own id");
}

/// Takes seat `index` of `lobby` through `node` (answered at once even with
/// LiveKit frozen).
async fn take_seat(node: &common::cluster::Node, bearer: &str, index: u32) {
    let path = format!("/api/v1/rooms/lobby/seats/{index}/take");
    let (s, b) = node.post(&path, bearer, json!({})).await;
    assert_eq!(s, 200, "{b}");
}

/// Publish permissions are recorded with the seat change that wants them
/// (the grant outbox). Node A runs with a LiveKit secret LiveKit refuses,
/// so its workers keep failing (as with an SFU it cannot reach) while
/// holding their leases; livekit-server is also frozen for a while. Alice
/// is seated through B, unseated through B and seated again through A, so
/// B's worker is still sending her first grant when the newest change is
/// made on the other node. Bob is seated through A, which is SIGKILLed while
/// its worker retries. LiveKit ends with the newest permission of each: B's
/// worker sends alice's newest when it settles, and B's sweep takes bob's
/// row over once A's lease has run out.
#[test]
fn grants_reach_livekit_newest_last_across_nodes_and_outlive_a_killed_node() {
    let lk = utd_testkit::LiveKitServer::start().expect("livekit-server");
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    rt.block_on(async {
        let (url, key, secret) = (lk.ws_url(), lk.api_key(), lk.api_secret());
        let livekit = |secret| {
            [
                "--livekit-url",
                &url,
                "--livekit-api-key",
                key,
                "--livekit-api-secret",
                secret,
            ]
        };
        let mut nodes = TwoNodes::start_each(
            Services::get(),
            &livekit("not-the-secret"),
            &livekit(secret),
        )
        .await;
        let app = nodes.app(Plan::Signaling).await;
        lobby_with_host(&nodes, &app, 8).await;
        let rooms = RoomClient::with_api_key(&lk.http_url(), key, secret);
        let lk_room = format!("{}_lobby", app.app_id);
        let mut bearers = Vec::new();
        let mut in_livekit = Vec::new();
        for who in ["alice", "bob"] {
            // Room tokens from B, whose secret LiveKit accepts.
            let bearer = nodes.b.token_for(&app, who).await;
            let (s, b) = nodes
                .b
                .post(
                    "/api/v1/token",
                    &bearer,
                    json!({"room_name": "lobby", "stream_type": "audio_room", "as_host": false}),
                )
                .await;
            assert_eq!(s, 200, "{b}");
            in_livekit.push(join_livekit(&url, b["token"].as_str().expect("a token")).await);
            wait_permission(&rooms, &lk_room, who, |p| !p.can_publish).await;
            bearers.push(bearer);
        }
        let (alice, bob) = (&bearers[0], &bearers[1]);

        common::signal_process(lk.pid(), "-STOP");
        take_seat(&nodes.b, alice, 1).await;
        let (s, b) = nodes
            .b
            .post("/api/v1/rooms/lobby/seats/leave", alice, json!({}))
            .await;
        assert_eq!(s, 200, "{b}");
        take_seat(&nodes.a, alice, 2).await;
        common::signal_process(lk.pid(), "-CONT");
        wait_permission(&rooms, &lk_room, "alice", |p| p.can_publish).await;

        take_seat(&nodes.a, bob, 3).await;
        // A's worker has leased bob's row and LiveKit has refused it.
        tokio::time::sleep(Duration::from_secs(1)).await;
        nodes.a.kill();
        let killed = Instant::now();
        // After A's 20 s lease, a sweep (every second) on B.
        wait_permission_within(&rooms, &lk_room, "bob", Duration::from_secs(40), |p| {
            p.can_publish
        })
        .await;
        println!(
            "bob's grant was sent by node B {:?} after A was killed",
            killed.elapsed()
        );
        // Alice's newest stays: nothing older landed after it.
        wait_permission(&rooms, &lk_room, "alice", |p| p.can_publish).await;
        for participant in in_livekit {
            participant.abort();
        }
    });
}
