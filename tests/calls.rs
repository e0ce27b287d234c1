//! 1:1 calls end to end through the exported API, across devices: the
//! engine decides every transition and pushes it to every device of both
//! parties; each session's status follows, never backwards, and both sides
//! end in the same terminal state. Real engine + real livekit-server.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use livekit_api::access_token::{AccessToken, VideoGrants};
use support::media::MediaStack;
use support::{client, eventually};
use utd_engine::admin_client::AppCredentials;
use utd_stream::media::livekit_ffi::LiveKitFfiTransport;
use utd_stream::media::{RoomTransport, TransportOptions};
use utd_stream::session::exported::{UTDCallInvitationListener, UTDCallSession};
use utd_stream::types::{
    UTDCall, UTDCallEndReason, UTDCallStatus as S, UTDStreamType, UTDTrackSource,
};
use utd_stream::{UTDErrorCode, UTDStreamClient};

const WAIT: Duration = Duration::from_secs(10);

/// One signed-in, connected device that records the invitations it gets.
struct Device {
    client: Arc<UTDStreamClient>,
    invitations: Arc<Invitations>,
}

#[derive(Default)]
struct Invitations(Mutex<Vec<UTDCall>>);

impl UTDCallInvitationListener for Invitations {
    fn on_invitation(&self, call: UTDCall) {
        if let Ok(mut seen) = self.0.lock() {
            seen.push(call);
        }
    }
}

impl Invitations {
    fn last(&self) -> Option<UTDCall> {
        self.0.lock().ok().and_then(|seen| seen.last().cloned())
    }
}

async fn device(
    stack: &MediaStack,
    app: &AppCredentials,
    identity: &str,
    device_id: &str,
) -> Device {
    let client = client(&stack.engine, app);
    client
        .clone()
        .authenticate(
            identity.into(),
            Some(identity.to_uppercase()),
            Some(device_id.into()),
        )
        .await
        .expect("authenticate");
    client.clone().connect().await.expect("signalling");
    let invitations = Arc::new(Invitations::default());
    // Kept running for the whole test: the handle is not cancelled.
    let _ = client.observe_call_invitations(invitations.clone());
    Device {
        client,
        invitations,
    }
}

impl Device {
    fn session(&self, stream_type: UTDStreamType) -> Arc<UTDCallSession> {
        self.client.call_session(stream_type).expect("call session")
    }

    async fn invitation(&self, call_id: &str) -> UTDCall {
        eventually(WAIT, "the invitation arrives", || {
            self.invitations
                .last()
                .is_some_and(|c| c.call_id == call_id)
        })
        .await;
        self.invitations.last().expect("invitation")
    }
}

async fn status_becomes(session: &UTDCallSession, expected: S, who: &str) {
    eventually(WAIT, &format!("{who} sees {expected:?}"), || {
        session.status() == Some(expected)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_ring_accept_talk_and_hang_up_on_both_sides() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "alice-phone").await;
    let bob = device(&stack, &app, "bob", "bob-phone").await;

    let caller = alice.session(UTDStreamType::VideoCall);
    let call = caller
        .clone()
        .start(
            "bob".into(),
            Some("Bob".into()),
            Some(r#"{"topic":"lunch"}"#.into()),
        )
        .await
        .expect("start");
    assert_eq!(call.status, S::Initiating);
    assert!(
        caller.room().is_connected(),
        "the caller waits in the call room"
    );

    let invitation = bob.invitation(&call.call_id).await;
    assert_eq!(invitation.caller_identity, "alice");
    assert_eq!(invitation.caller_name.as_deref(), Some("ALICE"));
    assert_eq!(invitation.stream_type, UTDStreamType::VideoCall);
    assert_eq!(invitation.metadata_json, r#"{"topic":"lunch"}"#);

    let callee = bob.session(UTDStreamType::VideoCall);
    callee
        .clone()
        .ringing(call.call_id.clone())
        .await
        .expect("ringing");
    status_becomes(&caller, S::Ringing, "the caller").await;
    callee
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect("accept");
    assert_eq!(callee.status(), Some(S::Active));
    status_becomes(&caller, S::Active, "the caller").await;
    assert!(callee.room().is_connected());
    let local = callee.room().local_participant().expect("in the room");
    assert!(local
        .published_sources
        .contains(&UTDTrackSource::Microphone));
    assert!(local.published_sources.contains(&UTDTrackSource::Camera));
    eventually(WAIT, "each side sees the other in the room", || {
        caller
            .room()
            .remote_participants()
            .iter()
            .any(|p| p.identity == "bob")
            && callee
                .room()
                .remote_participants()
                .iter()
                .any(|p| p.identity == "alice")
    })
    .await;

    callee.clone().end().await.expect("hang up");
    callee
        .clone()
        .end()
        .await
        .expect("hanging up twice is harmless");
    assert_eq!(callee.status(), Some(S::Ended));
    status_becomes(&caller, S::Ended, "the caller").await;
    assert_eq!(
        caller.call().and_then(|c| c.end_reason),
        Some(UTDCallEndReason::HangupCallee)
    );
    eventually(WAIT, "both leave the room", || {
        !caller.room().is_connected() && !callee.room().is_connected()
    })
    .await;
    caller
        .clone()
        .end()
        .await
        .expect("ending an ended call is harmless");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_busy_and_cancel_end_the_same_way_on_both_sides() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let bob = device(&stack, &app, "bob", "b1").await;

    for (answer, caller_sees, callee_sees) in [
        ("reject", S::Rejected, S::Rejected),
        ("busy", S::Busy, S::Busy),
        ("cancel", S::Cancelled, S::Cancelled),
    ] {
        let caller = alice.session(UTDStreamType::AudioCall);
        let call = caller
            .clone()
            .start("bob".into(), None, None)
            .await
            .expect("start");
        bob.invitation(&call.call_id).await;
        let callee = bob.session(UTDStreamType::AudioCall);
        callee
            .clone()
            .ringing(call.call_id.clone())
            .await
            .expect("ringing");
        match answer {
            "reject" => drop(
                callee
                    .clone()
                    .reject(call.call_id.clone())
                    .await
                    .expect("reject"),
            ),
            "busy" => drop(
                callee
                    .clone()
                    .busy(call.call_id.clone())
                    .await
                    .expect("busy"),
            ),
            _ => caller.clone().end().await.expect("cancel while ringing"),
        }
        status_becomes(&caller, caller_sees, "the caller").await;
        status_becomes(&callee, callee_sees, "the callee").await;
        let late = callee
            .clone()
            .accept(call.call_id.clone())
            .await
            .expect_err("accepting a finished call");
        assert_eq!(late.code(), UTDErrorCode::InvalidState, "{answer}: {late}");
        assert_eq!(
            callee.status(),
            Some(callee_sees),
            "{answer}: nothing moved back"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_call_becomes_missed_on_both_sides() {
    let stack = MediaStack::start_with(|c| c.ring_timeout = Duration::from_secs(2)).await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let bob = device(&stack, &app, "bob", "b1").await;
    let caller = alice.session(UTDStreamType::AudioCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    bob.invitation(&call.call_id).await;
    let callee = bob.session(UTDStreamType::AudioCall);
    callee
        .clone()
        .ringing(call.call_id.clone())
        .await
        .expect("ringing");
    status_becomes(&caller, S::Missed, "the caller").await;
    status_becomes(&callee, S::Missed, "the callee").await;
    assert_eq!(
        caller.call().and_then(|c| c.end_reason),
        Some(UTDCallEndReason::RingTimeout)
    );
    eventually(WAIT, "the caller left the room", || {
        !caller.room().is_connected()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_device_answers_and_the_other_is_told_and_stops() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let bob_phone = device(&stack, &app, "bob", "bob-phone").await;
    let bob_tablet = device(&stack, &app, "bob", "bob-tablet").await;

    let caller = alice.session(UTDStreamType::AudioCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    bob_phone.invitation(&call.call_id).await;
    bob_tablet.invitation(&call.call_id).await;
    let phone = bob_phone.session(UTDStreamType::AudioCall);
    let tablet = bob_tablet.session(UTDStreamType::AudioCall);
    phone
        .clone()
        .ringing(call.call_id.clone())
        .await
        .expect("phone rings");
    tablet
        .clone()
        .ringing(call.call_id.clone())
        .await
        .expect("tablet rings");

    phone
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect("the phone answers");
    status_becomes(&tablet, S::AnsweredElsewhere, "the tablet").await;
    status_becomes(&caller, S::Active, "the caller").await;
    let second = tablet
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect_err("the tablet cannot answer too");
    assert_eq!(second.code(), UTDErrorCode::InvalidState, "{second}");
    assert!(!tablet.room().is_connected(), "the tablet never joined");
    assert_eq!(phone.status(), Some(S::Active));

    caller.clone().end().await.expect("hang up");
    status_becomes(&phone, S::Ended, "the phone").await;
    assert_eq!(
        tablet.status(),
        Some(S::AnsweredElsewhere),
        "terminal stays"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_devices_answering_at_once_make_exactly_one_answer() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let phone_device = device(&stack, &app, "bob", "bob-phone").await;
    let tablet_device = device(&stack, &app, "bob", "bob-tablet").await;
    let caller = alice.session(UTDStreamType::AudioCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    phone_device.invitation(&call.call_id).await;
    tablet_device.invitation(&call.call_id).await;
    let phone = phone_device.session(UTDStreamType::AudioCall);
    let tablet = tablet_device.session(UTDStreamType::AudioCall);
    let (a, b) = tokio::join!(
        phone.clone().accept(call.call_id.clone()),
        tablet.clone().accept(call.call_id.clone())
    );
    assert_eq!(
        a.is_ok() as u8 + b.is_ok() as u8,
        1,
        "one answer: {a:?} / {b:?}"
    );
    let (winner, loser) = if a.is_ok() {
        (&phone, &tablet)
    } else {
        (&tablet, &phone)
    };
    assert_eq!(winner.status(), Some(S::Active));
    status_becomes(loser, S::AnsweredElsewhere, "the other device").await;
    status_becomes(&caller, S::Active, "the caller").await;
    caller.clone().end().await.expect("hang up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_else_gets_into_the_call_room() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let bob = device(&stack, &app, "bob", "b1").await;
    let mallory = device(&stack, &app, "mallory", "m1").await;
    let caller = alice.session(UTDStreamType::AudioCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    bob.invitation(&call.call_id).await;
    let callee = bob.session(UTDStreamType::AudioCall);
    callee
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect("accept");

    // Through the SDK: a third user cannot act on or read the call.
    let intruder = mallory.session(UTDStreamType::AudioCall);
    let refused = intruder
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect_err("not a party");
    assert_eq!(refused.code(), UTDErrorCode::Forbidden, "{refused}");

    // Straight to LiveKit with a valid token: the room is capped at two.
    let room = format!("{}_{}", app.app_id, call.room_name);
    let token = AccessToken::with_api_key(stack.livekit.api_key(), stack.livekit.api_secret())
        .with_identity("mallory")
        .with_grants(VideoGrants {
            room_join: true,
            room,
            ..VideoGrants::default()
        })
        .to_jwt()
        .expect("token");
    let transport = LiveKitFfiTransport::new();
    let full = transport
        .connect(&stack.livekit.ws_url(), &token, TransportOptions::default())
        .await
        .expect_err("the call room is full");
    assert_eq!(full.code(), UTDErrorCode::Conflict, "{full}");
    caller.clone().end().await.expect("hang up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn illegal_moves_are_refused_with_typed_errors() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let bob = device(&stack, &app, "bob", "b1").await;
    assert_eq!(
        alice
            .client
            .call_session(UTDStreamType::LiveStream)
            .expect_err("not a call type")
            .code(),
        UTDErrorCode::InvalidArgument
    );
    let caller = alice.session(UTDStreamType::AudioCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    let again = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect_err("one call per session");
    assert_eq!(again.code(), UTDErrorCode::InvalidState);
    let own = alice.session(UTDStreamType::AudioCall);
    let not_callee = own
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect_err("the caller cannot accept");
    assert_eq!(not_callee.code(), UTDErrorCode::Forbidden);
    let bad_meta = alice
        .session(UTDStreamType::AudioCall)
        .start("bob".into(), None, Some("[1,2]".into()))
        .await
        .expect_err("metadata must be an object");
    assert_eq!(bad_meta.code(), UTDErrorCode::InvalidArgument);
    let myself = alice
        .session(UTDStreamType::AudioCall)
        .start("alice".into(), None, None)
        .await
        .expect_err("calling yourself");
    assert_eq!(myself.code(), UTDErrorCode::InvalidArgument);
    let callee = bob.session(UTDStreamType::VideoCall);
    let wrong_type = callee
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect_err("an audio call in a video session");
    assert_eq!(wrong_type.code(), UTDErrorCode::InvalidArgument);
    caller.clone().end().await.expect("cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_engine_restart_while_ringing_leaves_both_sides_consistent() {
    let mut stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let bob = device(&stack, &app, "bob", "b1").await;
    let caller = alice.session(UTDStreamType::AudioCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    bob.invitation(&call.call_id).await;
    let callee = bob.session(UTDStreamType::AudioCall);
    callee
        .clone()
        .ringing(call.call_id.clone())
        .await
        .expect("ringing");
    status_becomes(&caller, S::Ringing, "the caller").await;

    stack.engine.restart().await;
    // The call survived; answering after the restart reaches both sides
    // (the caller re-reads the call when its signalling reconnects).
    let accepted = callee
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect("accept after restart");
    assert_eq!(accepted.status, S::Active);
    status_becomes(&caller, S::Active, "the caller").await;
    caller.clone().end().await.expect("hang up");
    status_becomes(&callee, S::Ended, "the callee").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disposing_a_live_call_hangs_up_but_an_unanswered_device_does_not_decline() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let bob_phone = device(&stack, &app, "bob", "bob-phone").await;
    let bob_tablet = device(&stack, &app, "bob", "bob-tablet").await;
    let caller = alice.session(UTDStreamType::AudioCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    bob_tablet.invitation(&call.call_id).await;
    let tablet = bob_tablet.session(UTDStreamType::AudioCall);
    tablet
        .clone()
        .ringing(call.call_id.clone())
        .await
        .expect("ringing");
    tablet.clone().dispose().await;
    // Still ringing for the caller: the phone can answer.
    bob_phone.invitation(&call.call_id).await;
    let phone = bob_phone.session(UTDStreamType::AudioCall);
    phone
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect("the phone answers");
    status_becomes(&caller, S::Active, "the caller").await;

    phone.clone().dispose().await;
    status_becomes(&caller, S::Ended, "the caller").await;
    assert_eq!(
        caller.call().and_then(|c| c.end_reason),
        Some(UTDCallEndReason::HangupCallee)
    );
    let after = phone.clone().end().await.expect_err("disposed");
    assert_eq!(after.code(), UTDErrorCode::Disposed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_double_tapped_answer_answers_once() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let bob = device(&stack, &app, "bob", "b1").await;
    let caller = alice.session(UTDStreamType::VideoCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    bob.invitation(&call.call_id).await;
    let callee = bob.session(UTDStreamType::VideoCall);
    let (first, second) = tokio::join!(
        callee.clone().accept(call.call_id.clone()),
        callee.clone().accept(call.call_id.clone())
    );
    assert_eq!(first.expect("first tap").status, S::Active);
    assert_eq!(second.expect("second tap").status, S::Active);
    assert!(callee.room().is_connected());
    status_becomes(&caller, S::Active, "the caller").await;
    caller.clone().end().await.expect("hang up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_that_comes_online_while_a_call_rings_still_gets_the_invitation() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let caller = alice.session(UTDStreamType::AudioCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");

    // Bob's device signs in after the call was made: the engine's push went
    // to nobody, the catch-up after connecting announces it.
    let late = device(&stack, &app, "bob", "late-phone").await;
    let invitation = late.invitation(&call.call_id).await;
    assert_eq!(invitation.caller_identity, "alice");
    let pending = late.client.clone().pending_calls().await.expect("pending");
    assert_eq!(
        pending
            .iter()
            .map(|c| c.call_id.as_str())
            .collect::<Vec<_>>(),
        vec![call.call_id.as_str()]
    );
    // Reconnecting does not announce the same call twice.
    late.client.clone().disconnect().await;
    late.client.clone().connect().await.expect("reconnect");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let announced = late.invitations.0.lock().map(|v| v.len()).unwrap_or(0);
    assert_eq!(announced, 1, "one announcement per call");

    let callee = late.session(UTDStreamType::AudioCall);
    callee
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect("accept");
    let after = late.client.clone().pending_calls().await.expect("pending");
    assert!(
        after.is_empty(),
        "an answered call is not pending: {after:?}"
    );
    caller.clone().end().await.expect("hang up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_dropping_out_of_the_media_room_ends_the_call_for_the_other() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let alice = device(&stack, &app, "alice", "a1").await;
    let bob = device(&stack, &app, "bob", "b1").await;
    let caller = alice.session(UTDStreamType::AudioCall);
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    bob.invitation(&call.call_id).await;
    let callee = bob.session(UTDStreamType::AudioCall);
    callee
        .clone()
        .accept(call.call_id.clone())
        .await
        .expect("accept");
    status_becomes(&caller, S::Active, "the caller").await;

    // The callee's app loses its media connection without hanging up (a
    // crash): LiveKit's webhook tells the engine, which ends the call.
    callee
        .inner()
        .core
        .leave()
        .await
        .expect("drop out of the room");
    status_becomes(&caller, S::Ended, "the caller").await;
    assert_eq!(
        caller.call().and_then(|c| c.end_reason),
        Some(UTDCallEndReason::HangupCallee)
    );
    status_becomes(&callee, S::Ended, "the callee").await;
}
