//! Room subscriptions on the signal WebSocket, end to end through the real
//! engine: the current state on subscribe, `seats.updated`, `stage.updated`
//! and `stage.requested` pushes, isolation between rooms, reference-counted
//! unsubscribe, and the replay after an engine restart. No livekit-server:
//! the engine records seats without LiveKit, and stage requests need none.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{client, eventually, within, Engine};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::broadcast::Receiver;
use utd_engine::admin_client::AppCredentials;
use utd_stream::api::credentials::{AppCredentials as SdkCredentials, BearerToken};
use utd_stream::api::EngineApi;
use utd_stream::signalling::{RoomPush, StageRequestedPush};
use utd_stream::types::UTDConnectionState;
use utd_stream::{UTDErrorCode, UTDStreamClient, UTDStreamType};

const WAIT: Duration = Duration::from_secs(10);

/// A user driving the engine's REST API directly (its own session).
struct Rest {
    api: EngineApi,
    bearer: BearerToken,
}

async fn rest_user(engine: &Engine, app: &AppCredentials, identity: &str) -> Rest {
    let api = EngineApi::new(
        SdkCredentials::new(app.app_id.clone(), app.app_key.clone()),
        &engine.url(),
        &engine.url(),
    )
    .expect("api");
    let reply = api
        .mint_session(identity, Some(&identity.to_uppercase()), None)
        .await
        .expect("session");
    Rest {
        api,
        bearer: BearerToken::new(reply.user_token),
    }
}

/// A signed-in client with its signalling connection open.
async fn connected(engine: &Engine, app: &AppCredentials, identity: &str) -> Arc<UTDStreamClient> {
    let client = client(engine, app);
    client
        .clone()
        .authenticate(identity.into(), None, None)
        .await
        .expect("authenticate");
    client.clone().connect().await.expect("connect");
    client
}

/// Creates an audio room owned by `host` with `seats` free-mode seats.
async fn audio_room(host: &Rest, room: &str, seats: u32) {
    host.api
        .room_token(&host.bearer, room, UTDStreamType::AudioRoom, true, None)
        .await
        .expect("host token creates the room");
    host.api
        .setup_seats(&host.bearer, room, seats, "free", None)
        .await
        .expect("set up seats");
}

/// The next push, whatever it is.
async fn next_push(pushes: &mut Receiver<RoomPush>, what: &str) -> RoomPush {
    within(WAIT, what, async {
        loop {
            match pushes.recv().await {
                Ok(push) => return push,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => panic!("the push channel closed"),
            }
        }
    })
    .await
}

/// Every push up to and including the first one matching `done`.
async fn pushes_until(
    pushes: &mut Receiver<RoomPush>,
    what: &str,
    done: impl Fn(&RoomPush) -> bool,
) -> Vec<RoomPush> {
    let mut seen = Vec::new();
    loop {
        let push = next_push(pushes, what).await;
        let finished = done(&push);
        seen.push(push);
        if finished {
            return seen;
        }
    }
}

/// Whether `push` is the seat grid of `room` with `identity` on seat `index`.
fn seated(push: &RoomPush, room: &str, index: usize, identity: &str) -> bool {
    matches!(push, RoomPush::Seats(s)
        if s.room_name == room
            && s.seats.get(index).and_then(|seat| seat.identity.as_deref()) == Some(identity))
}

/// Nothing is pushed for a while.
async fn assert_quiet(pushes: &mut Receiver<RoomPush>, room: &str) {
    tokio::time::sleep(Duration::from_millis(500)).await;
    loop {
        match pushes.try_recv() {
            Ok(push) => assert_ne!(push.room_name(), room, "unexpected push {push:?}"),
            Err(TryRecvError::Lagged(_)) => continue,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Closed) => panic!("the push channel closed"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_gets_the_current_seats_then_every_change() {
    let engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let host = rest_user(&engine, &app, "host").await;
    let bob = rest_user(&engine, &app, "bob").await;
    audio_room(&host, "lobby", 4).await;

    let alice = connected(&engine, &app, "alice").await;
    let mut pushes = alice.signalling().room_pushes();
    alice
        .signalling()
        .subscribe_room("lobby")
        .await
        .expect("subscribe");
    // The current state is broadcast before the subscribe returns.
    match pushes.try_recv() {
        Ok(RoomPush::Seats(seats)) => {
            assert_eq!(seats.room_name, "lobby");
            assert_eq!(seats.seat_count, 4);
            assert_eq!(seats.seat_mode, "free");
            assert!(seats.seats.iter().all(|s| s.identity.is_none()));
        }
        other => panic!("expected the current seats at once, got {other:?}"),
    }

    let reply = bob
        .api
        .take_seat(&bob.bearer, "lobby", 2)
        .await
        .expect("bob takes seat 2");
    let push = next_push(&mut pushes, "seats.updated after bob's take").await;
    assert!(seated(&push, "lobby", 2, "bob"), "{push:?}");
    match &push {
        RoomPush::Seats(seats) => {
            assert_eq!(
                seats.seats, reply.seats,
                "the push is the REST reply's state"
            );
            assert_eq!(seats.seats[2].name.as_deref(), Some("BOB"));
        }
        other => panic!("{other:?}"),
    }

    bob.api
        .leave_seat(&bob.bearer, "lobby")
        .await
        .expect("bob leaves");
    let push = next_push(&mut pushes, "seats.updated after bob left").await;
    match push {
        RoomPush::Seats(seats) => assert!(seats.seats.iter().all(|s| s.identity.is_none())),
        other => panic!("{other:?}"),
    }
    alice.clone().disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_hears_stage_requests_and_stage_changes() {
    let engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let host_rest = rest_user(&engine, &app, "host").await;
    let viewer = rest_user(&engine, &app, "viewer").await;
    host_rest
        .api
        .room_token(
            &host_rest.bearer,
            "show",
            UTDStreamType::LiveStream,
            true,
            None,
        )
        .await
        .expect("host token creates the live stream");

    let host = connected(&engine, &app, "host").await;
    let mut pushes = host.signalling().room_pushes();
    host.signalling()
        .subscribe_room("show")
        .await
        .expect("subscribe");
    match pushes.try_recv() {
        Ok(RoomPush::Stage(stage)) => {
            assert_eq!(stage.room_name, "show");
            assert_eq!(stage.members.len(), 1);
            assert_eq!(stage.members[0].identity, "host");
            assert_eq!(stage.members[0].role, "host");
            assert!(stage.requests.is_empty());
        }
        other => panic!("expected the current stage at once, got {other:?}"),
    }

    let reply = viewer
        .api
        .request_stage(&viewer.bearer, "show")
        .await
        .expect("viewer asks for the stage");
    assert_eq!(reply.requests.len(), 1);
    assert_eq!(reply.requests[0].identity, "viewer");

    let seen = pushes_until(
        &mut pushes,
        "stage.requested and stage.updated",
        |p| matches!(p, RoomPush::Stage(s) if !s.requests.is_empty()),
    )
    .await;
    let requested = seen
        .iter()
        .find_map(|p| match p {
            RoomPush::StageRequested(r) => Some(r.clone()),
            _ => None,
        })
        .expect("stage.requested before the new stage");
    assert_eq!(
        requested,
        StageRequestedPush {
            room_name: "show".into(),
            identity: "viewer".into(),
            name: Some("VIEWER".into()),
            created_at_ms: reply.requests[0].created_at_ms,
        }
    );
    assert!(requested.created_at_ms > 0);
    match seen.last() {
        Some(RoomPush::Stage(stage)) => {
            assert_eq!(stage.members, reply.members);
            assert_eq!(stage.requests, reply.requests);
        }
        other => panic!("{other:?}"),
    }

    // The rest of the stage facade, on paths that need no LiveKit.
    let fetched = viewer
        .api
        .get_stage(&viewer.bearer, "show")
        .await
        .expect("anyone reads the stage");
    assert_eq!(fetched.members, reply.members);
    assert_eq!(fetched.requests, reply.requests);
    let again = viewer
        .api
        .request_stage(&viewer.bearer, "show")
        .await
        .expect("a duplicate request changes nothing");
    assert_eq!(again.requests.len(), 1);
    let not_on_stage = host_rest
        .api
        .remove_from_stage(&host_rest.bearer, "show", "viewer")
        .await
        .expect_err("the viewer is not a co-host");
    assert_eq!(not_on_stage.code(), UTDErrorCode::NotFound);
    let host_stays = host_rest
        .api
        .leave_stage(&host_rest.bearer, "show")
        .await
        .expect_err("the host cannot leave the stage");
    assert_eq!(host_stays.code(), UTDErrorCode::InvalidState);
    let not_host = viewer
        .api
        .invite_to_stage(&viewer.bearer, "show", "viewer")
        .await
        .expect_err("only the host invites");
    assert_eq!(not_host.code(), UTDErrorCode::Forbidden);
    viewer
        .api
        .leave_stage(&viewer.bearer, "show")
        .await
        .expect("leaving when not on stage is a no-op");
    host.clone().disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_of_one_room_never_hears_another() {
    let engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let host = rest_user(&engine, &app, "host").await;
    let bob = rest_user(&engine, &app, "bob").await;
    audio_room(&host, "room-a", 2).await;
    audio_room(&host, "room-b", 2).await;

    let alice = connected(&engine, &app, "alice").await;
    let carol = connected(&engine, &app, "carol").await;
    let mut alice_pushes = alice.signalling().room_pushes();
    let mut carol_pushes = carol.signalling().room_pushes();
    alice
        .signalling()
        .subscribe_room("room-a")
        .await
        .expect("alice subscribes to A");
    carol
        .signalling()
        .subscribe_room("room-b")
        .await
        .expect("carol subscribes to B");

    // A change in B, then one in A: B's push would reach alice first.
    bob.api
        .take_seat(&bob.bearer, "room-b", 1)
        .await
        .expect("bob sits in B");
    bob.api
        .take_seat(&bob.bearer, "room-a", 0)
        .await
        .expect("bob sits in A");

    let carol_saw = pushes_until(&mut carol_pushes, "carol sees bob in B", |p| {
        seated(p, "room-b", 1, "bob")
    })
    .await;
    assert!(
        carol_saw.iter().all(|p| p.room_name() == "room-b"),
        "{carol_saw:?}"
    );
    let alice_saw = pushes_until(&mut alice_pushes, "alice sees bob in A", |p| {
        seated(p, "room-a", 0, "bob")
    })
    .await;
    assert!(
        alice_saw.iter().all(|p| p.room_name() == "room-a"),
        "alice heard another room: {alice_saw:?}"
    );
    assert_quiet(&mut alice_pushes, "room-b").await;
    alice.clone().disconnect().await;
    carol.clone().disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsubscribing_stops_pushes_once_the_last_subscriber_left() {
    let engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let host = rest_user(&engine, &app, "host").await;
    let bob = rest_user(&engine, &app, "bob").await;
    audio_room(&host, "lobby", 4).await;
    audio_room(&host, "marker", 4).await;

    let alice = connected(&engine, &app, "alice").await;
    let signalling = alice.signalling();
    let mut pushes = signalling.room_pushes();
    signalling.subscribe_room("lobby").await.expect("first");
    signalling.subscribe_room("lobby").await.expect("second");
    signalling.subscribe_room("marker").await.expect("marker");
    let initial = pushes_until(&mut pushes, "the initial states", |p| {
        p.room_name() == "marker"
    })
    .await;
    assert_eq!(
        initial.iter().filter(|p| p.room_name() == "lobby").count(),
        2,
        "each subscribe gets the current state: {initial:?}"
    );

    // One of two subscribers leaves: pushes keep coming.
    signalling
        .unsubscribe_room("lobby")
        .await
        .expect("drop one");
    bob.api
        .take_seat(&bob.bearer, "lobby", 1)
        .await
        .expect("bob sits");
    let push = next_push(&mut pushes, "lobby still pushed").await;
    assert!(seated(&push, "lobby", 1, "bob"), "{push:?}");

    // The last one leaves: nothing more for the lobby.
    signalling
        .unsubscribe_room("lobby")
        .await
        .expect("drop last");
    assert_eq!(signalling.shared().subscribed_rooms(), ["marker"]);
    bob.api
        .leave_seat(&bob.bearer, "lobby")
        .await
        .expect("bob leaves the lobby");
    bob.api
        .take_seat(&bob.bearer, "marker", 3)
        .await
        .expect("bob sits in the marker room");
    // The lobby's push, had it come, would precede the marker's.
    let seen = pushes_until(&mut pushes, "the marker room's change", |p| {
        seated(p, "marker", 3, "bob")
    })
    .await;
    assert!(
        seen.iter().all(|p| p.room_name() == "marker"),
        "pushed after unsubscribe: {seen:?}"
    );
    assert_quiet(&mut pushes, "lobby").await;

    // Unsubscribing a room that is not subscribed is harmless.
    signalling.unsubscribe_room("lobby").await.expect("ignored");
    alice.clone().disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_are_replayed_after_an_engine_restart() {
    let mut engine = Engine::start().await;
    let app = engine.app("signaling").await;
    let host = rest_user(&engine, &app, "host").await;
    let bob = rest_user(&engine, &app, "bob").await;
    audio_room(&host, "lobby", 4).await;
    bob.api
        .take_seat(&bob.bearer, "lobby", 0)
        .await
        .expect("bob sits before the restart");

    let alice = connected(&engine, &app, "alice").await;
    let mut pushes = alice.signalling().room_pushes();
    alice
        .signalling()
        .subscribe_room("lobby")
        .await
        .expect("subscribe");
    let first = next_push(&mut pushes, "the current state").await;
    assert!(seated(&first, "lobby", 0, "bob"), "{first:?}");

    engine.stop().await;
    eventually(WAIT, "alice notices the engine is gone", || {
        matches!(
            alice.connection_state(),
            UTDConnectionState::Reconnecting { .. }
        )
    })
    .await;
    assert!(
        matches!(pushes.try_recv(), Err(TryRecvError::Empty)),
        "nothing pushed while the engine is down"
    );
    engine.restart().await;
    eventually(WAIT, "alice reconnected by herself", || {
        alice.connection_state() == UTDConnectionState::Connected
    })
    .await;

    // Only the replayed room.subscribe can produce this push.
    let replayed = next_push(&mut pushes, "the state again after the reconnect").await;
    assert!(seated(&replayed, "lobby", 0, "bob"), "{replayed:?}");

    bob.api
        .take_seat(&bob.bearer, "lobby", 0)
        .await
        .expect("same seat: no change");
    host.api
        .invite_to_speak(&host.bearer, "lobby", "carol", Some(2))
        .await
        .expect("the host seats carol");
    let push = next_push(&mut pushes, "a change after the restart").await;
    assert!(seated(&push, "lobby", 2, "carol"), "{push:?}");
    alice.clone().disconnect().await;
}
