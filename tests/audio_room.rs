//! Audio rooms end to end through the exported API: the engine decides who
//! publishes, LiveKit pushes it, the session reflects it, and seat changes
//! are pushed to every participant. Real engine + real livekit-server (with
//! webhooks); the default transport (LiveKit's FFI library) carries the media.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use support::media::MediaStack;
use support::{client, eventually};
use utd_engine::admin_client::AppCredentials;
use utd_stream::session::exported::UTDAudioRoomSession;
use utd_stream::types::{UTDSeatMode, UTDTrackSource};
use utd_stream::{UTDErrorCode, UTDStreamClient};

const WAIT: Duration = Duration::from_secs(10);

struct Member {
    _client: Arc<UTDStreamClient>,
    room: Arc<UTDAudioRoomSession>,
}

async fn join(
    stack: &MediaStack,
    app: &AppCredentials,
    room: &str,
    identity: &str,
    host_seats: Option<(u32, UTDSeatMode)>,
) -> Member {
    let client = client(&stack.engine, app);
    let session = client
        .clone()
        .join_audio_room(
            identity.into(),
            room.into(),
            host_seats.is_some(),
            Some(identity.to_uppercase()),
            None,
            host_seats.map(|(count, _)| count),
            host_seats.map(|(_, mode)| mode),
        )
        .await
        .unwrap_or_else(|e| panic!("{identity} joins {room}: {e}"));
    Member {
        _client: client,
        room: session,
    }
}

fn seat_holder(member: &Member, index: usize) -> Option<String> {
    member
        .room
        .seats()
        .and_then(|s| s.seats.get(index).and_then(|seat| seat.identity.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_is_what_grants_publish_and_every_participant_sees_it() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host = join(&stack, &app, "lobby", "host", Some((4, UTDSeatMode::Free))).await;
    assert!(host.room.is_host());
    assert!(
        host.room.room().can_publish(),
        "the host publishes from the start"
    );
    let listener = join(&stack, &app, "lobby", "listener", None).await;
    assert!(!listener.room.is_host());
    assert_eq!(listener.room.seats().map(|s| s.seat_count), Some(4));
    assert!(
        !listener.room.room().can_publish(),
        "listeners join without publish"
    );

    let refused = listener
        .room
        .room()
        .set_microphone(true)
        .await
        .expect_err("no seat, no microphone");
    assert_eq!(refused.code(), UTDErrorCode::Forbidden);

    listener
        .room
        .clone()
        .take_seat(1)
        .await
        .expect("take seat 1 (waits for LiveKit's grant, then mic on)");
    assert!(listener.room.room().can_publish());
    let local = listener.room.room().local_participant().expect("connected");
    assert_eq!(local.published_sources, vec![UTDTrackSource::Microphone]);
    assert_eq!(
        local.permission.can_publish_sources,
        vec![UTDTrackSource::Microphone]
    );
    eventually(WAIT, "the host is pushed the new seat grid", || {
        seat_holder(&host, 1).as_deref() == Some("listener")
    })
    .await;
    eventually(
        WAIT,
        "the host's room sees the listener may publish",
        || {
            host.room
                .room()
                .remote_participants()
                .iter()
                .any(|p| p.identity == "listener" && p.can_publish)
        },
    )
    .await;

    listener
        .room
        .clone()
        .leave_seat()
        .await
        .expect("leave the seat");
    eventually(WAIT, "canPublish false as pushed by LiveKit", || {
        !listener.room.room().can_publish()
    })
    .await;
    let again = listener
        .room
        .room()
        .set_microphone(true)
        .await
        .expect_err("off the seat");
    assert_eq!(again.code(), UTDErrorCode::Forbidden);
    eventually(WAIT, "the host is pushed the freed seat", || {
        seat_holder(&host, 1).is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_mode_host_approves_and_invites_to_a_chosen_seat() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host = join(
        &stack,
        &app,
        "stage",
        "host",
        Some((5, UTDSeatMode::Request)),
    )
    .await;
    let asker = join(&stack, &app, "stage", "asker", None).await;
    let guest = join(&stack, &app, "stage", "guest", None).await;

    let refused = asker
        .room
        .clone()
        .take_seat(2)
        .await
        .expect_err("request mode: listeners cannot just sit");
    assert_eq!(refused.code(), UTDErrorCode::Forbidden);

    let request_id = asker.room.clone().request_to_speak().await.expect("ask");
    assert_eq!(
        asker
            .room
            .clone()
            .request_to_speak()
            .await
            .expect("ask twice"),
        request_id,
        "asking twice is the same request"
    );
    eventually(WAIT, "the host is pushed the request", || {
        host.room
            .seats()
            .is_some_and(|s| s.requests.iter().any(|r| r.request_id == request_id))
    })
    .await;
    let seats = host
        .room
        .clone()
        .approve_speaker(request_id)
        .await
        .expect("approve");
    assert_eq!(
        seats.seat_of("asker"),
        Some(0),
        "the lowest free seat (the host sits on none)"
    );
    eventually(WAIT, "the asker may publish once approved", || {
        asker.room.room().can_publish()
    })
    .await;
    asker
        .room
        .room()
        .set_microphone(true)
        .await
        .expect("a seated asker publishes");

    host.room
        .clone()
        .invite_to_speak("guest".into(), Some(3))
        .await
        .expect("invite the guest to seat 3");
    eventually(WAIT, "the guest may publish once invited", || {
        guest.room.room().can_publish()
    })
    .await;
    eventually(WAIT, "the guest is pushed its seat", || {
        guest.room.seats().and_then(|s| s.seat_of("guest")) == Some(3)
    })
    .await;
    let taken = host
        .room
        .clone()
        .invite_to_speak("host".into(), Some(3))
        .await
        .expect_err("seat 3 is taken");
    assert_eq!(taken.code(), UTDErrorCode::Conflict);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_operations_by_a_listener_are_forbidden() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host = join(
        &stack,
        &app,
        "club",
        "host",
        Some((3, UTDSeatMode::Request)),
    )
    .await;
    let listener = join(&stack, &app, "club", "listener", None).await;
    let request_id = listener.room.clone().request_to_speak().await.expect("ask");

    let errors = [
        listener
            .room
            .clone()
            .setup_seats(8, None, None)
            .await
            .expect_err("setup"),
        listener
            .room
            .clone()
            .invite_to_speak("listener".into(), None)
            .await
            .expect_err("invite"),
        listener
            .room
            .clone()
            .approve_speaker(request_id)
            .await
            .expect_err("approve"),
    ];
    for error in errors {
        assert_eq!(error.code(), UTDErrorCode::Forbidden, "{error}");
    }
    let seats = host.room.clone().get_seats().await.expect("seats");
    assert_eq!(seats.seat_count, 3, "nothing changed");
    assert!(seats.seats.iter().all(|s| s.identity.is_none()));
    assert!(!listener.room.room().can_publish());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_takers_of_one_seat_make_exactly_one_speaker() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host = join(&stack, &app, "race", "host", Some((2, UTDSeatMode::Free))).await;
    let takers = join_all((0..20).map(|i| {
        let (stack, app) = (&stack, &app);
        async move { join(stack, app, "race", &format!("taker{i:02}"), None).await }
    }))
    .await;

    let results = join_all(takers.iter().map(|t| t.room.clone().take_seat(0))).await;
    let winners: Vec<usize> = (0..results.len()).filter(|&i| results[i].is_ok()).collect();
    assert_eq!(winners.len(), 1, "exactly one winner: {results:?}");
    for result in &results {
        if let Err(e) = result {
            assert_eq!(e.code(), UTDErrorCode::Conflict, "losers get conflict: {e}");
        }
    }
    let winner = &takers[winners[0]];
    assert!(winner.room.room().can_publish());
    let winner_identity = format!("taker{:02}", winners[0]);
    eventually(WAIT, "everyone is pushed the same winner", || {
        takers
            .iter()
            .chain(std::iter::once(&host))
            .all(|m| seat_holder(m, 0).as_deref() == Some(winner_identity.as_str()))
    })
    .await;
    for (i, taker) in takers.iter().enumerate() {
        if i != winners[0] {
            assert!(!taker.room.room().can_publish(), "taker{i:02} got no grant");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_room_never_sees_the_first_rooms_events() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host_a = join(
        &stack,
        &app,
        "room-a",
        "host-a",
        Some((3, UTDSeatMode::Free)),
    )
    .await;
    let host_b = join(
        &stack,
        &app,
        "room-b",
        "host-b",
        Some((3, UTDSeatMode::Free)),
    )
    .await;
    let seen_b = host_b.room.seats().expect("b's grid");
    let speaker_a = join(&stack, &app, "room-a", "speaker-a", None).await;
    speaker_a
        .room
        .clone()
        .take_seat(2)
        .await
        .expect("take a seat in A");
    eventually(WAIT, "A's host sees A's speaker", || {
        seat_holder(&host_a, 2).as_deref() == Some("speaker-a")
    })
    .await;
    // A change in A has been pushed and seen; give B the same time to be wrong.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(host_b.room.seats(), Some(seen_b), "B's grid did not move");
    let b_remotes = host_b.room.room().remote_participants();
    assert!(
        b_remotes.is_empty(),
        "nobody from A appears in B: {b_remotes:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_speaker_leaving_the_room_frees_the_seat_for_everyone() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host = join(&stack, &app, "den", "host", Some((2, UTDSeatMode::Free))).await;
    let speaker = join(&stack, &app, "den", "speaker", None).await;
    speaker.room.clone().take_seat(0).await.expect("seated");
    eventually(WAIT, "the host sees the speaker seated", || {
        seat_holder(&host, 0).as_deref() == Some("speaker")
    })
    .await;

    speaker
        .room
        .clone()
        .leave()
        .await
        .expect("leave the media room");
    assert!(!speaker.room.room().is_connected());
    eventually(
        WAIT,
        "LiveKit's webhook frees the seat, pushed to the host",
        || seat_holder(&host, 0).is_none(),
    )
    .await;
    eventually(
        WAIT,
        "the departed speaker still hears seat updates",
        || seat_holder(&speaker, 0).is_none(),
    )
    .await;

    speaker.room.clone().rejoin().await.expect("rejoin");
    assert!(speaker.room.room().is_connected());
    assert!(!speaker.room.room().can_publish(), "rejoined as a listener");
    speaker.room.clone().dispose().await;
    let disposed = speaker
        .room
        .clone()
        .get_seats()
        .await
        .expect_err("disposed");
    assert_eq!(disposed.code(), UTDErrorCode::Disposed);
}
