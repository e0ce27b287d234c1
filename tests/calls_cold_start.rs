//! Wake-from-killed calling end to end: the engine pushes through the APNs
//! and FCM stand-ins to a callee with no client running, a controller built
//! from the push payload alone reconciles and answers, and both parties
//! hear each other through livekit-server.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::audio::{listen, sing};
use support::push::{calls_config, fcm_token, record, voip_token, PushStack};
use support::within;
use utd_engine::admin_client::AppCredentials;
use utd_stream::calls::{
    UTDAcceptOutcome, UTDCallController, UTDCallControllerEvent, UTDPushAction, UTDReconcileResult,
};
use utd_stream::push::call_kit_uuid;
use utd_stream::session::exported::UTDCallSession;
use utd_stream::types::{UTDCallEndReason, UTDCallStatus, UTDStreamType, UTDTrackSource};

const WAIT: Duration = Duration::from_secs(20);

/// The callee's phones: an iPhone (VoIP token) and an Android phone (FCM).
const IPHONE: &str = "iphone-1";
const ANDROID: &str = "android-1";

async fn controller(
    stack: &PushStack,
    app: &AppCredentials,
    user: &str,
    device: &str,
    tokens: Vec<utd_stream::push::UTDPushToken>,
    dir: Option<&std::path::Path>,
) -> Arc<UTDCallController> {
    UTDCallController::new(calls_config(stack.engine(), app, user, device, tokens, dir))
        .expect("controller")
}

/// Registers the callee's two phones' tokens, then "kills" both apps: no
/// client of the callee is running afterwards.
async fn callee_phones_registered_then_killed(stack: &PushStack, app: &AppCredentials) {
    for (device, token) in [(IPHONE, voip_token(1)), (ANDROID, fcm_token(1))] {
        let phone = controller(stack, app, "alice", device, vec![token], None).await;
        phone.clone().init().await.expect("callee init");
        assert_eq!(phone.push_tokens().len(), 1);
        phone.dispose().await;
    }
}

/// The caller, signed in and connected.
async fn caller(stack: &PushStack, app: &AppCredentials) -> Arc<UTDCallController> {
    let bob = controller(stack, app, "bob", "bob-phone", vec![], None).await;
    bob.clone().init().await.expect("caller init");
    bob
}

async fn call(bob: &Arc<UTDCallController>) -> Arc<UTDCallSession> {
    bob.clone()
        .start_call(
            "alice".into(),
            Some("Alice".into()),
            UTDStreamType::AudioCall,
        )
        .await
        .expect("call starts")
}

/// The VoIP push the engine sent for `call_id`, as the JSON PushKit hands over.
async fn voip_payload(stack: &PushStack, call_id: &str) -> String {
    let pushes = stack
        .apns
        .wait_for_pushes(1, WAIT)
        .await
        .expect("a VoIP push arrives");
    let push = pushes
        .iter()
        .find(|p| p.payload["call_id"] == call_id)
        .expect("the push is for this call");
    push.payload.to_string()
}

fn incoming_of(action: UTDPushAction) -> utd_stream::calls::UTDIncomingCall {
    match action {
        UTDPushAction::ReportIncoming { call } => call,
        other => panic!("expected an incoming call to report, got {other:?}"),
    }
}

async fn status_becomes(session: &UTDCallSession, expected: UTDCallStatus) {
    support::eventually(WAIT, &format!("status {expected:?}"), || {
        session.status() == Some(expected)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_callee_is_rung_by_push_answers_from_the_payload_alone_and_both_hear() {
    let stack = PushStack::start_with(|_| {}).await;
    let app = stack.media.app().await;
    callee_phones_registered_then_killed(&stack, &app).await;
    let bob = caller(&stack, &app).await;
    let outgoing = call(&bob).await;
    let call_id = outgoing.call_id().expect("call id");
    let _bob_sings = sing(&outgoing.room(), 440.0);

    // Both phones were pushed; the FCM one is data-only, high priority.
    let payload = voip_payload(&stack, &call_id).await;
    let fcm = stack
        .fcm
        .wait_for_messages(1, WAIT)
        .await
        .expect("an FCM message arrives");
    assert_eq!(fcm[0].data.get("call_id"), Some(&call_id));
    assert!(!fcm[0].has_notification);

    // The iPhone wakes: a new controller, nothing but the payload.
    let dir = tempfile::tempdir().expect("state dir");
    let iphone = controller(
        &stack,
        &app,
        "alice",
        IPHONE,
        vec![voip_token(1)],
        Some(dir.path()),
    )
    .await;
    let (events, _sub) = record(&iphone);
    let shown = incoming_of(
        iphone
            .handle_call_push(payload.clone())
            .expect("a call push"),
    );
    assert_eq!(shown.call_id, call_id);
    assert_eq!(shown.call_kit_uuid, call_kit_uuid(&call_id));
    assert_eq!(shown.caller_identity.as_deref(), Some("bob"));
    iphone.mark_reported(call_id.clone());
    match iphone
        .clone()
        .reconcile(call_id.clone())
        .await
        .expect("reconcile")
    {
        UTDReconcileResult::Ringing { time_left_ms, .. } => {
            assert!(time_left_ms.is_some_and(|ms| ms > 0), "{time_left_ms:?}")
        }
        other => panic!("the call should still ring: {other:?}"),
    }

    // The Android phone shows it too, from its data message.
    let android = controller(&stack, &app, "alice", ANDROID, vec![fcm_token(1)], None).await;
    let android_call = incoming_of(
        android
            .handle_call_push_data(fcm[0].data.clone().into_iter().collect())
            .expect("a call push"),
    );
    assert_eq!(android_call.call_kit_uuid, shown.call_kit_uuid);

    // Accept tapped on the lock screen, then the app finishes starting.
    let accept = tokio::spawn(iphone.clone().accept_incoming(call_id.clone()));
    iphone.clone().init().await.expect("callee init");
    let session = match within(WAIT, "the accept", accept).await.expect("task") {
        Ok(UTDAcceptOutcome::Joined { session }) => session,
        other => panic!("the accept should join: {other:?}"),
    };
    status_becomes(&outgoing, UTDCallStatus::Active).await;
    let _alice_sings = sing(&session.room(), 660.0);
    let (alice_hears, _a) = listen(&session.room(), "bob").await;
    let (bob_hears, _b) = listen(&outgoing.room(), "alice").await;
    alice_hears.hear_tone(440.0, "bob to alice").await;
    bob_hears.hear_tone(660.0, "alice to bob").await;

    // Only one incoming call however many paths told of it.
    assert_eq!(events.incoming(&call_id), 1, "{:?}", events.all());

    // The Android phone is told the call was answered elsewhere.
    let ended = stack
        .fcm
        .wait_for_messages(2, WAIT)
        .await
        .expect("call_ended arrives");
    let ended = ended
        .iter()
        .find(|m| m.data.get("type").map(String::as_str) == Some("call_ended"))
        .expect("a call_ended message");
    assert_eq!(
        ended.data.get("reason").map(String::as_str),
        Some("answered_elsewhere")
    );
    match android
        .handle_call_push_data(ended.data.clone().into_iter().collect())
        .expect("a call push")
    {
        UTDPushAction::ReportEnded {
            reason,
            call_kit_uuid,
            ..
        } => {
            assert_eq!(reason, UTDCallEndReason::AnsweredElsewhere);
            assert_eq!(call_kit_uuid, shown.call_kit_uuid);
        }
        other => panic!("the Android UI should be dismissed: {other:?}"),
    }

    // Where the time went, phase by phase, in order.
    let t = iphone.call_timings(call_id.clone()).expect("timings");
    let phases = [
        t.push_received_at_ms,
        t.reported_at_ms,
        t.reconciled_at_ms,
        t.answered_at_ms,
        t.engine_accepted_at_ms,
        t.media_connected_at_ms,
    ];
    assert!(t.push_sent_at_ms.is_some(), "{t:?}");
    assert!(phases.iter().all(Option::is_some), "{t:?}");
    assert!(phases.windows(2).all(|w| w[0] <= w[1]), "{t:?}");
    support::eventually(WAIT, "first remote audio timed", || {
        iphone
            .call_timings(call_id.clone())
            .is_some_and(|t| t.first_remote_audio_at_ms.is_some())
    })
    .await;

    // A double accept is the same call, not a second join.
    match iphone.clone().accept_incoming(call_id.clone()).await {
        Ok(UTDAcceptOutcome::Joined { session: again }) => {
            assert!(Arc::ptr_eq(&again, &session))
        }
        other => panic!("a second accept should find the call: {other:?}"),
    }
    bob.clone().end().await.expect("hang up");
    events
        .wait("the call's end", |e| {
            e.iter().any(|e| {
                matches!(
                    e,
                    UTDCallControllerEvent::CallEnded {
                        reason: UTDCallEndReason::HangupCaller,
                        ..
                    }
                )
            })
        })
        .await;
    for c in [iphone, android, bob] {
        c.dispose().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_that_arrives_after_the_caller_cancelled_reconciles_to_cancelled() {
    let stack = PushStack::start_with(|_| {}).await;
    let app = stack.media.app().await;
    callee_phones_registered_then_killed(&stack, &app).await;
    let bob = caller(&stack, &app).await;
    let outgoing = call(&bob).await;
    let call_id = outgoing.call_id().expect("call id");
    let payload = voip_payload(&stack, &call_id).await;
    bob.clone().end().await.expect("cancel");
    status_becomes(&outgoing, UTDCallStatus::Cancelled).await;

    let iphone = controller(&stack, &app, "alice", IPHONE, vec![], None).await;
    let (events, _sub) = record(&iphone);
    incoming_of(iphone.handle_call_push(payload).expect("a call push"));
    let reconciled = iphone
        .clone()
        .reconcile(call_id.clone())
        .await
        .expect("reconcile");
    assert_eq!(
        reconciled,
        UTDReconcileResult::Over {
            reason: UTDCallEndReason::Cancelled
        }
    );
    events
        .wait("callEnded(cancelled)", |_| {
            events.ended(&call_id) == [UTDCallEndReason::Cancelled]
        })
        .await;
    // Answering it now is a typed outcome, not a join into nothing.
    iphone.clone().init().await.expect("init");
    match iphone.clone().accept_incoming(call_id.clone()).await {
        Ok(UTDAcceptOutcome::Over { reason }) => assert_eq!(reason, UTDCallEndReason::Cancelled),
        other => panic!("{other:?}"),
    }
    assert!(iphone.current_call().is_none());
    // The FCM phone that was rung got call_ended(cancelled).
    let messages = stack
        .fcm
        .wait_for_messages(2, WAIT)
        .await
        .expect("messages");
    assert!(messages.iter().any(
        |m| m.data.get("type").map(String::as_str) == Some("call_ended")
            && m.data.get("reason").map(String::as_str) == Some("cancelled")
    ));
    iphone.dispose().await;
    bob.dispose().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accept_tapped_before_the_app_was_ready_is_carried_out_after_a_killed_process() {
    let stack = PushStack::start_with(|_| {}).await;
    let app = stack.media.app().await;
    callee_phones_registered_then_killed(&stack, &app).await;
    let bob = caller(&stack, &app).await;
    let outgoing = call(&bob).await;
    let call_id = outgoing.call_id().expect("call id");
    let payload = voip_payload(&stack, &call_id).await;

    // First launch: the push is shown and Accept tapped, then the process
    // dies before init() ever ran.
    let dir = tempfile::tempdir().expect("state dir");
    let first = controller(&stack, &app, "alice", IPHONE, vec![], Some(dir.path())).await;
    incoming_of(first.handle_call_push(payload).expect("a call push"));
    let accept = tokio::spawn(first.clone().accept_incoming(call_id.clone()));
    support::eventually(WAIT, "the answer is written down", || {
        std::fs::read_to_string(dir.path().join("utd-call-intents.json"))
            .is_ok_and(|text| text.contains(&call_id))
    })
    .await;
    accept.abort();
    first.dispose().await;
    assert_eq!(outgoing.status(), Some(UTDCallStatus::Initiating));

    // Second launch: init() carries the answer out.
    let second = controller(&stack, &app, "alice", IPHONE, vec![], Some(dir.path())).await;
    let (events, _sub) = record(&second);
    second.clone().init().await.expect("init");
    events
        .wait("callJoined", |e| {
            e.iter().any(|e| matches!(e, UTDCallControllerEvent::CallJoined { call_id: id, .. } if *id == call_id))
        })
        .await;
    status_becomes(&outgoing, UTDCallStatus::Active).await;
    let joined = second.current_call().expect("in the call");
    let _bob_sings = sing(&outgoing.room(), 440.0);
    let (alice_hears, _a) = listen(&joined.room(), "bob").await;
    alice_hears.hear_tone(440.0, "bob to alice").await;
    // Carried out once: the record is gone.
    support::eventually(WAIT, "the answer record is cleared", || {
        std::fs::read_to_string(dir.path().join("utd-call-intents.json"))
            .is_ok_and(|text| !text.contains(&call_id))
    })
    .await;
    second.dispose().await;
    bob.dispose().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_invitation_and_a_push_for_the_same_call_are_one_incoming_call() {
    let stack = PushStack::start_with(|_| {}).await;
    let app = stack.media.app().await;
    let iphone = controller(&stack, &app, "alice", IPHONE, vec![voip_token(7)], None).await;
    let (events, _sub) = record(&iphone);
    iphone.clone().init().await.expect("init");
    let bob = caller(&stack, &app).await;
    let outgoing = call(&bob).await;
    let call_id = outgoing.call_id().expect("call id");
    events
        .wait("the invitation", |_| events.incoming(&call_id) == 1)
        .await;
    let payload = voip_payload(&stack, &call_id).await;
    let shown = incoming_of(iphone.handle_call_push(payload).expect("a call push"));
    assert_eq!(shown.call_kit_uuid, call_kit_uuid(&call_id));
    // A reconnect lists the call again: still one call.
    iphone.client().disconnect().await;
    iphone.client().connect().await.expect("reconnect");
    iphone
        .clone()
        .reconcile(call_id.clone())
        .await
        .expect("reconcile");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(events.incoming(&call_id), 1, "{:?}", events.all());
    assert_eq!(iphone.incoming_calls().len(), 1);
    iphone
        .clone()
        .reject(call_id.clone())
        .await
        .expect("decline");
    status_becomes(&outgoing, UTDCallStatus::Rejected).await;
    // The callee's own end event comes through its own socket, which may be
    // on another engine node than the caller's.
    support::eventually(WAIT, "the callee's call ended", || {
        !events.ended(&call_id).is_empty()
    })
    .await;
    assert_eq!(events.ended(&call_id), [UTDCallEndReason::Rejected]);
    iphone.dispose().await;
    bob.dispose().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_call_cannot_be_answered_and_a_second_device_learns_who_answered() {
    let stack = PushStack::start_with(|c| c.ring_timeout = Duration::from_secs(3)).await;
    let app = stack.media.app().await;
    let iphone = controller(&stack, &app, "alice", IPHONE, vec![], None).await;
    let ipad = controller(&stack, &app, "alice", "ipad-1", vec![], None).await;
    let (ipad_events, _sub) = record(&ipad);
    iphone.clone().init().await.expect("init");
    ipad.clone().init().await.expect("init");
    let bob = caller(&stack, &app).await;

    // Nobody answers: missed, and answering afterwards is a typed outcome.
    let missed = call(&bob).await;
    let missed_id = missed.call_id().expect("id");
    status_becomes(&missed, UTDCallStatus::Missed).await;
    match iphone.clone().accept_incoming(missed_id.clone()).await {
        Ok(UTDAcceptOutcome::Over { reason }) => assert_eq!(reason, UTDCallEndReason::RingTimeout),
        other => panic!("{other:?}"),
    }
    bob.clone().end().await.expect("end");

    // The iPhone answers: the iPad is told it was answered elsewhere.
    let answered = call(&bob).await;
    let answered_id = answered.call_id().expect("id");
    ipad_events
        .wait("the iPad rings", |_| {
            ipad_events.incoming(&answered_id) == 1
        })
        .await;
    match iphone.clone().accept_incoming(answered_id.clone()).await {
        Ok(UTDAcceptOutcome::Joined { .. }) => {}
        other => panic!("{other:?}"),
    }
    ipad_events
        .wait("answered elsewhere", |_| {
            ipad_events.ended(&answered_id) == [UTDCallEndReason::AnsweredElsewhere]
        })
        .await;
    // The iPad's late accept loses, typed.
    match ipad.clone().accept_incoming(answered_id.clone()).await {
        Ok(UTDAcceptOutcome::Over { reason }) => {
            assert_eq!(reason, UTDCallEndReason::AnsweredElsewhere)
        }
        other => panic!("{other:?}"),
    }
    for c in [iphone, ipad, bob] {
        c.dispose().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_without_calling_initialises_and_refuses_calls_as_not_activated() {
    let stack = PushStack::start_with(|_| {}).await;
    let app = stack.engine().app("free").await;
    let bob = controller(&stack, &app, "bob", "bob-phone", vec![], None).await;
    let (events, _sub) = record(&bob);
    bob.clone()
        .init()
        .await
        .expect("init succeeds without calling");
    assert_eq!(bob.signaling_enabled(), Some(false));
    let e = bob
        .clone()
        .start_call("alice".into(), None, UTDStreamType::AudioCall)
        .await
        .expect_err("refused");
    assert!(e.is_signaling_disabled(), "{e:?}");
    events
        .wait("callEnded(notActivated)", |e| {
            e.iter().any(|e| {
                matches!(
                    e,
                    UTDCallControllerEvent::CallEnded {
                        call_id: None,
                        reason: UTDCallEndReason::NotActivated
                    }
                )
            })
        })
        .await;
    bob.dispose().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_token_replaces_the_old_one_and_sign_out_stops_the_pushes() {
    let stack = PushStack::start_with(|_| {}).await;
    let app = stack.media.app().await;
    // An Android phone stays registered: its push shows when the engine
    // has dispatched a call.
    let android = controller(&stack, &app, "alice", ANDROID, vec![fcm_token(1)], None).await;
    android.clone().init().await.expect("init");
    android.dispose().await;
    let iphone = controller(&stack, &app, "alice", IPHONE, vec![voip_token(1)], None).await;
    iphone.clone().init().await.expect("init");
    // The OS rotates the VoIP token.
    iphone
        .clone()
        .register_push_token(voip_token(2).platform, voip_token(2).token)
        .await
        .expect("rotated");
    assert_eq!(iphone.push_tokens(), [voip_token(2)]);
    let bob = caller(&stack, &app).await;
    let first = call(&bob).await;
    let first_id = first.call_id().expect("id");
    let pushes = stack.apns.wait_for_pushes(1, WAIT).await.expect("a push");
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    assert_eq!(pushes[0].device_token, voip_token(2).token);
    assert_eq!(pushes[0].payload["call_id"], Value::String(first_id));
    bob.clone().end().await.expect("cancel");

    // Sign-out unregisters before the bearer goes: no more pushes.
    iphone.client().sign_out().await.expect("sign out");
    assert!(iphone.push_tokens().is_empty());
    let second = call(&bob).await;
    let second_id = second.call_id().expect("id");
    let dispatched = stack
        .fcm
        .wait_for_messages(3, WAIT)
        .await
        .expect("FCM pushes");
    assert!(dispatched
        .iter()
        .any(|m| m.data.get("call_id") == Some(&second_id)));
    assert!(
        stack
            .apns
            .pushes()
            .iter()
            .all(|p| p.payload["call_id"] != second_id.as_str()),
        "{:?}",
        stack.apns.pushes()
    );
    bob.dispose().await;
    iphone.dispose().await;
}

fn microphone_on(session: &UTDCallSession) -> bool {
    session
        .room()
        .local_participant()
        .is_some_and(|p| p.published_sources.contains(&UTDTrackSource::Microphone))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_the_audio_session_is_inactive_an_answered_call_joins_without_the_microphone() {
    let stack = PushStack::start_with(|_| {}).await;
    let app = stack.media.app().await;
    let iphone = controller(&stack, &app, "alice", IPHONE, vec![], None).await;
    // What the CallKit bridge does when it is set up.
    iphone.set_audio_session_active(false);
    let (events, _sub) = record(&iphone);
    iphone.clone().init().await.expect("init");
    let bob = caller(&stack, &app).await;
    let outgoing = call(&bob).await;
    let call_id = outgoing.call_id().expect("call id");
    events
        .wait("the invitation", |_| events.incoming(&call_id) == 1)
        .await;
    let callee = match iphone.clone().accept_incoming(call_id.clone()).await {
        Ok(UTDAcceptOutcome::Joined { session }) => session,
        other => panic!("the answer should join: {other:?}"),
    };
    status_becomes(&outgoing, UTDCallStatus::Active).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!microphone_on(&callee), "no microphone before activation");

    let _alice_voice = sing(&callee.room(), 660.0);
    let (alice_at_bob, _listening) = listen(&outgoing.room(), "alice").await;
    iphone.set_audio_session_active(true);
    support::eventually(WAIT, "the microphone goes on", || microphone_on(&callee)).await;
    alice_at_bob
        .hear_tone(660.0, "alice at bob once active")
        .await;

    iphone.set_audio_session_active(false);
    // Off is a mute: bob sees alice's microphone track muted.
    support::eventually(WAIT, "the microphone goes off on deactivation", || {
        outgoing.room().remote_participants().iter().any(|p| {
            p.identity == "alice"
                && p.tracks
                    .iter()
                    .any(|t| t.source == UTDTrackSource::Microphone && t.muted)
        })
    })
    .await;
    bob.clone().end().await.expect("hang up");
    iphone.dispose().await;
    bob.dispose().await;
}
