//! Media through the exported sessions, end to end: real engine, real
//! livekit-server, LiveKit's own media library. Every check is on what
//! another session actually received: a tone by frequency and level, a
//! video pattern by its bars.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::audio::{listen, sing};
use support::media::MediaStack;
use support::{client, eventually};
use utd_engine::admin_client::AppCredentials;
use utd_stream::session::exported::{
    UTDAudioRoomSession, UTDCallSession, UTDLiveStreamSession, UTDRoom, UTDVideoFrameListener,
};
use utd_stream::subscription::UTDSubscription;
use utd_stream::types::{
    UTDCallStatus, UTDSeatMode, UTDStreamType, UTDTrackSource, UTDVideoFrame, UTDVideoPixelFormat,
    UTDVideoPlane, UTDVideoRotation,
};
use utd_stream::{UTDErrorCode, UTDStreamClient};
use utd_testkit::signals::{pattern_i420, read_tone, shows_pattern};

const WAIT: Duration = Duration::from_secs(15);

const VIDEO: (u32, u32) = (320, 240);

/// Pushes the test pattern through `room`'s video sink at 30 fps.
fn film(room: &Arc<UTDRoom>) -> tokio::task::JoinHandle<()> {
    let sink = room.video_sink();
    let (width, height) = VIDEO;
    let [y, u, v] = pattern_i420(width, height);
    let mut frame = UTDVideoFrame {
        width,
        height,
        format: UTDVideoPixelFormat::I420,
        planes: vec![
            UTDVideoPlane {
                data: y,
                stride: width,
            },
            UTDVideoPlane {
                data: u,
                stride: width / 2,
            },
            UTDVideoPlane {
                data: v,
                stride: width / 2,
            },
        ],
        timestamp_us: 0,
        rotation: UTDVideoRotation::Deg0,
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_millis(33));
        loop {
            ticks.tick().await;
            frame.timestamp_us += 33_000;
            sink.push_frame(frame.clone()).expect("push video");
        }
    })
}

/// Keeps the newest decoded frame.
#[derive(Default)]
struct Eyes {
    last: Mutex<Option<UTDVideoFrame>>,
}

impl UTDVideoFrameListener for Eyes {
    fn on_frame(&self, frame: UTDVideoFrame) {
        *self.last.lock().unwrap() = Some(frame);
    }
}

fn track_of(room: &UTDRoom, identity: &str, source: UTDTrackSource) -> Option<String> {
    room.remote_participants()
        .into_iter()
        .find(|p| p.identity == identity)?
        .tracks
        .into_iter()
        .find(|t| t.source == source && t.subscribed)
        .map(|t| t.sid)
}

/// What a viewer's newest frame shows, for the check and its failure message.
fn describe(frame: &UTDVideoFrame) -> (bool, String) {
    // WebRTC's encoder lowers the resolution when the CPU is short (a loaded
    // 2-core CI machine): any size of the pushed aspect ratio counts, as long
    // as the bars are there at that size.
    let same_aspect =
        u64::from(frame.width) * u64::from(VIDEO.1) == u64::from(frame.height) * u64::from(VIDEO.0);
    let shows = frame.format == UTDVideoPixelFormat::I420
        && same_aspect
        && frame.width >= VIDEO.0 / 4
        && shows_pattern(
            &frame.planes[0].data,
            frame.planes[0].stride as usize,
            frame.width,
            frame.height,
            24,
        );
    let seen = format!(
        "{:?} {}x{}, pattern {}",
        frame.format,
        frame.width,
        frame.height,
        if shows { "shown" } else { "not shown" }
    );
    (shows, seen)
}

/// Waits until `viewer` sees `identity`'s camera showing the pattern.
async fn see_pattern(viewer: &Arc<UTDRoom>, identity: &str) -> Arc<UTDSubscription> {
    eventually(WAIT, &format!("{identity}'s camera is subscribed"), || {
        track_of(viewer, identity, UTDTrackSource::Camera).is_some()
    })
    .await;
    let sid = track_of(viewer, identity, UTDTrackSource::Camera).expect("camera track");
    let eyes = Arc::new(Eyes::default());
    let subscription = viewer
        .clone()
        .observe_remote_video(sid, eyes.clone())
        .await
        .expect("observe video");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let newest = eyes.last.lock().unwrap().as_ref().map(describe);
        match newest {
            Some((true, _)) => return subscription,
            seen if tokio::time::Instant::now() >= deadline => panic!(
                "timed out after {WAIT:?} waiting for {identity}'s pattern (pushed at {VIDEO:?}); \
                 newest frame: {}",
                seen.map_or("none".into(), |(_, s)| s)
            ),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

async fn audio_room(
    stack: &MediaStack,
    app: &AppCredentials,
    identity: &str,
    host: bool,
) -> (Arc<UTDStreamClient>, Arc<UTDAudioRoomSession>) {
    let client = client(&stack.engine, app);
    let session = client
        .clone()
        .join_audio_room(
            identity.into(),
            "lounge".into(),
            host,
            None,
            None,
            host.then_some(4),
            host.then_some(UTDSeatMode::Free),
        )
        .await
        .unwrap_or_else(|e| panic!("{identity} joins: {e}"));
    (client, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seated_speaker_is_heard_and_leaving_the_seat_takes_the_track_away() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let (_h, host) = audio_room(&stack, &app, "host", true).await;
    let (_s, speaker) = audio_room(&stack, &app, "speaker", false).await;
    let _voice = sing(&speaker.room(), 440.0);
    let refused = speaker.room().set_microphone(true).await.unwrap_err();
    assert_eq!(
        refused.code(),
        UTDErrorCode::Forbidden,
        "a listener cannot publish"
    );

    speaker.clone().take_seat(1).await.expect("take a seat");
    let (ears, _listening) = listen(&host.room(), "speaker").await;
    ears.hear_tone(440.0, "the seated speaker").await;
    eventually(
        WAIT,
        "the speaker is named as speaking, with a level",
        || {
            host.room()
                .active_speakers()
                .iter()
                .any(|s| s.identity == "speaker" && s.level.is_some_and(|l| l > 0.01))
        },
    )
    .await;
    eprintln!(
        "active speakers at the host: {:?}",
        host.room().active_speakers()
    );
    eventually(WAIT, "the SFU rates the speaker's connection", || {
        host.room()
            .connection_qualities()
            .iter()
            .any(|q| q.identity == "speaker")
    })
    .await;

    speaker.clone().leave_seat().await.expect("leave the seat");
    eventually(
        WAIT,
        "the speaker's microphone track is gone at the host",
        || {
            host.room()
                .remote_participants()
                .iter()
                .find(|p| p.identity == "speaker")
                .is_some_and(|p| {
                    !p.tracks
                        .iter()
                        .any(|t| t.source == UTDTrackSource::Microphone)
                })
        },
    )
    .await;
    ears.clear();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        read_tone(&ears.last(300)).level < 0.02,
        "nothing is heard after leaving the seat"
    );
}

async fn live(
    stack: &MediaStack,
    app: &AppCredentials,
    identity: &str,
    host: bool,
) -> (Arc<UTDStreamClient>, Arc<UTDLiveStreamSession>) {
    let client = client(&stack.engine, app);
    let session = client
        .clone()
        .join_live_stream(identity.into(), "show".into(), host, None, None)
        .await
        .unwrap_or_else(|e| panic!("{identity} joins: {e}"));
    (client, session)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_see_and_hear_the_host_and_a_co_host_only_while_on_stage() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let (_h, host) = live(&stack, &app, "host", true).await;
    let (_v, viewer) = live(&stack, &app, "viewer", false).await;
    let (_g, guest) = live(&stack, &app, "guest", false).await;
    let _host_voice = sing(&host.room(), 440.0);
    let _host_camera = film(&host.room());
    host.clone().go_live(true).await.expect("go live");
    let _watching = see_pattern(&viewer.room(), "host").await;
    let (host_at_viewer, _l1) = listen(&viewer.room(), "host").await;
    host_at_viewer.hear_tone(440.0, "the host").await;

    let _guest_voice = sing(&guest.room(), 660.0);
    let _guest_camera = film(&guest.room());
    host.clone()
        .invite_to_stage("guest".into())
        .await
        .expect("invite");
    eventually(WAIT, "the guest may publish", || guest.room().can_publish()).await;
    guest
        .room()
        .set_microphone(true)
        .await
        .expect("guest microphone");
    guest.room().set_camera(true).await.expect("guest camera");
    let (guest_at_host, _l2) = listen(&host.room(), "guest").await;
    guest_at_host
        .hear_tone(660.0, "the co-host at the host")
        .await;
    let (guest_at_viewer, _l3) = listen(&viewer.room(), "guest").await;
    guest_at_viewer
        .hear_tone(660.0, "the co-host at a viewer")
        .await;
    let _watching_guest = see_pattern(&viewer.room(), "guest").await;

    host.clone()
        .remove_from_stage("guest".into())
        .await
        .expect("remove");
    eventually(WAIT, "the guest's tracks are gone at the viewer", || {
        viewer
            .room()
            .remote_participants()
            .iter()
            .find(|p| p.identity == "guest")
            .is_some_and(|p| p.tracks.is_empty())
    })
    .await;
}

async fn caller_and_callee(
    stack: &MediaStack,
    app: &AppCredentials,
) -> (
    Vec<Arc<UTDStreamClient>>,
    Arc<UTDCallSession>,
    Arc<UTDCallSession>,
) {
    let mut clients = Vec::new();
    for who in ["alice", "bob"] {
        let c = client(&stack.engine, app);
        c.clone()
            .authenticate(who.into(), None, None)
            .await
            .expect("authenticate");
        c.clone().connect().await.expect("signalling");
        clients.push(c);
    }
    let caller = clients[0]
        .call_session(UTDStreamType::VideoCall)
        .expect("caller session");
    let callee = clients[1]
        .call_session(UTDStreamType::VideoCall)
        .expect("callee session");
    let call = caller
        .clone()
        .start("bob".into(), None, None)
        .await
        .expect("start");
    callee.clone().accept(call.call_id).await.expect("accept");
    eventually(WAIT, "both active", || {
        caller.status() == Some(UTDCallStatus::Active)
            && callee.status() == Some(UTDCallStatus::Active)
    })
    .await;
    (clients, caller, callee)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_parties_of_a_video_call_hear_and_see_each_other_for_over_seventy_seconds() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let (_clients, caller, callee) = caller_and_callee(&stack, &app).await;
    let _alice_voice = sing(&caller.room(), 440.0);
    let _bob_voice = sing(&callee.room(), 660.0);
    let _alice_camera = film(&caller.room());
    let _bob_camera = film(&callee.room());
    let (alice_at_bob, _l1) = listen(&callee.room(), "alice").await;
    let (bob_at_alice, _l2) = listen(&caller.room(), "bob").await;
    alice_at_bob.hear_tone(440.0, "alice at bob").await;
    bob_at_alice.hear_tone(660.0, "bob at alice").await;
    let _bob_sees = see_pattern(&callee.room(), "alice").await;
    let _alice_sees = see_pattern(&caller.room(), "bob").await;

    // Past livekit-server's 60 s join timeout for participants without media:
    // real media keeps the call up and flowing.
    tokio::time::sleep(Duration::from_secs(70)).await;
    assert_eq!(caller.status(), Some(UTDCallStatus::Active));
    assert_eq!(callee.status(), Some(UTDCallStatus::Active));
    alice_at_bob.clear();
    bob_at_alice.clear();
    alice_at_bob
        .hear_tone(440.0, "alice at bob after 70 s")
        .await;
    bob_at_alice
        .hear_tone(660.0, "bob at alice after 70 s")
        .await;
    caller.clone().end().await.expect("hang up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_sfu_dies_reports_it_at_once_and_still_hangs_up() {
    let mut stack = MediaStack::start().await;
    let app = stack.app().await;
    let (_clients, caller, callee) = caller_and_callee(&stack, &app).await;
    let _alice_voice = sing(&caller.room(), 440.0);
    let (alice_at_bob, _l) = listen(&callee.room(), "alice").await;
    alice_at_bob.hear_tone(440.0, "alice at bob").await;

    stack.livekit.kill();
    eventually(
        Duration::from_secs(5),
        "both rooms report the media connection down",
        || !caller.room().is_connected() && !callee.room().is_connected(),
    )
    .await;
    let started = tokio::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(15), caller.clone().end())
        .await
        .expect("hanging up does not hang while the SFU is down")
        .expect("hang up");
    eventually(WAIT, "both sides see the call ended", || {
        caller.status() == Some(UTDCallStatus::Ended)
            && callee.status() == Some(UTDCallStatus::Ended)
    })
    .await;
    eprintln!("hung up {:?} after the SFU died", started.elapsed());
}
