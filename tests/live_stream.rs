//! Live streams end to end through the exported API: the host broadcasts,
//! the stage is what grants publish (camera + microphone), stage changes are
//! pushed to everyone, and the host hears raised hands. Real engine + real
//! livekit-server; the default transport (LiveKit's FFI library) carries the media.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::media::MediaStack;
use support::{client, eventually};
use utd_engine::admin_client::AppCredentials;
use utd_stream::session::exported::{UTDLiveStreamSession, UTDStageRequestListener};
use utd_stream::types::{UTDStageRequest, UTDStageRole, UTDTrackSource};
use utd_stream::{UTDErrorCode, UTDStreamClient};

const WAIT: Duration = Duration::from_secs(10);

struct Member {
    _client: Arc<UTDStreamClient>,
    stream: Arc<UTDLiveStreamSession>,
}

async fn join(stack: &MediaStack, app: &AppCredentials, identity: &str, as_host: bool) -> Member {
    join_room(stack, app, "show", identity, as_host).await
}

async fn join_room(
    stack: &MediaStack,
    app: &AppCredentials,
    room: &str,
    identity: &str,
    as_host: bool,
) -> Member {
    let client = client(&stack.engine, app);
    let stream = client
        .clone()
        .join_live_stream(identity.into(), room.into(), as_host, None, None)
        .await
        .unwrap_or_else(|e| panic!("{identity} joins {room}: {e}"));
    Member {
        _client: client,
        stream,
    }
}

fn on_stage(member: &Member, identity: &str) -> bool {
    member.stream.stage().iter().any(|m| m.identity == identity)
}

fn published(member: &Member) -> Vec<UTDTrackSource> {
    let mut sources = member
        .stream
        .room()
        .local_participant()
        .map(|p| p.published_sources)
        .unwrap_or_default();
    sources.sort_by_key(|s| format!("{s:?}"));
    sources
}

#[derive(Default)]
struct RaisedHands(Mutex<Vec<UTDStageRequest>>);

impl UTDStageRequestListener for RaisedHands {
    fn on_stage_request(&self, request: UTDStageRequest) {
        if let Ok(mut seen) = self.0.lock() {
            seen.push(request);
        }
    }
}

impl RaisedHands {
    fn identities(&self) -> Vec<String> {
        self.0
            .lock()
            .map(|seen| seen.iter().map(|r| r.identity.clone()).collect())
            .unwrap_or_default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stage_is_what_grants_publish_and_the_viewer_follows_it() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host = join(&stack, &app, "host", true).await;
    assert!(host.stream.is_host());
    host.stream
        .clone()
        .go_live(true)
        .await
        .expect("host goes live");
    assert_eq!(
        published(&host),
        vec![UTDTrackSource::Camera, UTDTrackSource::Microphone]
    );
    assert_eq!(host.stream.stage()[0].role, UTDStageRole::Host);

    let viewer = join(&stack, &app, "viewer", false).await;
    assert!(!viewer.stream.room().can_publish());
    let refused = viewer
        .stream
        .clone()
        .go_live(true)
        .await
        .expect_err("a viewer cannot broadcast");
    assert_eq!(refused.code(), UTDErrorCode::Forbidden);
    eventually(WAIT, "the viewer sees the host, allowed to publish", || {
        viewer
            .stream
            .room()
            .remote_participants()
            .iter()
            .any(|p| p.identity == "host" && p.can_publish)
    })
    .await;

    host.stream
        .clone()
        .invite_to_stage("viewer".into())
        .await
        .expect("invite");
    eventually(WAIT, "the viewer's canPublish follows the invite", || {
        viewer.stream.room().can_publish()
    })
    .await;
    eventually(
        WAIT,
        "the viewer is pushed the stage with itself on it",
        || {
            viewer
                .stream
                .stage()
                .iter()
                .any(|m| m.identity == "viewer" && m.role == UTDStageRole::CoHost)
        },
    )
    .await;
    viewer
        .stream
        .clone()
        .go_live(true)
        .await
        .expect("co-host broadcasts");
    assert_eq!(
        published(&viewer),
        vec![UTDTrackSource::Camera, UTDTrackSource::Microphone]
    );

    host.stream
        .clone()
        .remove_from_stage("viewer".into())
        .await
        .expect("remove");
    eventually(WAIT, "demotion revokes the viewer's publish", || {
        !viewer.stream.room().can_publish()
    })
    .await;
    eventually(WAIT, "the demoted viewer's tracks go away", || {
        published(&viewer).is_empty()
    })
    .await;
    eventually(
        WAIT,
        "the viewer is pushed the stage without itself",
        || !on_stage(&viewer, "viewer"),
    )
    .await;
    let again = viewer
        .stream
        .room()
        .set_camera(true)
        .await
        .expect_err("off stage");
    assert_eq!(again.code(), UTDErrorCode::Forbidden);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_raised_hand_reaches_the_host_and_a_co_host_can_step_down() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host = join(&stack, &app, "host", true).await;
    let hands = Arc::new(RaisedHands::default());
    let subscription = host.stream.observe_stage_requests(hands.clone());
    let viewer = join(&stack, &app, "viewer", false).await;

    viewer
        .stream
        .clone()
        .request_stage()
        .await
        .expect("raise a hand");
    eventually(WAIT, "the host hears the raised hand", || {
        hands.identities() == vec!["viewer".to_string()]
    })
    .await;
    eventually(WAIT, "the host's stage lists the request", || {
        host.stream
            .stage_state()
            .is_some_and(|s| s.requests.iter().any(|r| r.identity == "viewer"))
    })
    .await;

    host.stream
        .clone()
        .invite_to_stage("viewer".into())
        .await
        .expect("invite");
    eventually(WAIT, "on stage: may publish", || {
        viewer.stream.room().can_publish()
    })
    .await;
    viewer
        .stream
        .clone()
        .go_live(false)
        .await
        .expect("audio only");
    assert_eq!(published(&viewer), vec![UTDTrackSource::Microphone]);

    let stage = viewer
        .stream
        .clone()
        .leave_stage()
        .await
        .expect("step down");
    assert!(!stage.members.iter().any(|m| m.identity == "viewer"));
    eventually(WAIT, "stepping down revokes publish", || {
        !viewer.stream.room().can_publish()
    })
    .await;
    assert!(published(&viewer).is_empty(), "camera and mic are off");
    eventually(WAIT, "the host is pushed the smaller stage", || {
        !on_stage(&host, "viewer")
    })
    .await;

    let host_leaving = host
        .stream
        .clone()
        .leave_stage()
        .await
        .expect_err("the host cannot leave the stage");
    assert_eq!(host_leaving.code(), UTDErrorCode::InvalidState);
    subscription.cancel();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_number_of_co_hosts_and_viewers_cannot_manage_the_stage() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host = join(&stack, &app, "host", true).await;
    let mut viewers = Vec::new();
    for i in 0..6 {
        viewers.push(join(&stack, &app, &format!("viewer{i}"), false).await);
    }
    for i in 0..6 {
        host.stream
            .clone()
            .invite_to_stage(format!("viewer{i}"))
            .await
            .expect("invite");
    }
    for viewer in &viewers {
        eventually(WAIT, "every invited viewer may publish", || {
            viewer.stream.room().can_publish()
        })
        .await;
    }
    assert_eq!(host.stream.stage().len(), 7, "host + 6 co-hosts, no cap");

    let outsider = join(&stack, &app, "outsider", false).await;
    for error in [
        outsider
            .stream
            .clone()
            .invite_to_stage("outsider".into())
            .await
            .expect_err("invite"),
        outsider
            .stream
            .clone()
            .remove_from_stage("viewer0".into())
            .await
            .expect_err("remove"),
    ] {
        assert_eq!(error.code(), UTDErrorCode::Forbidden, "{error}");
    }
    assert!(on_stage(&host, "viewer0"));
    assert!(!outsider.stream.room().can_publish());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_streams_viewers_never_see_this_streams_stage() {
    let stack = MediaStack::start().await;
    let app = stack.app().await;
    let host_a = join_room(&stack, &app, "show-a", "host-a", true).await;
    let viewer_a = join_room(&stack, &app, "show-a", "viewer-a", false).await;
    let viewer_b = join_room(&stack, &app, "show-b", "viewer-b", false).await;
    let b_before = viewer_b.stream.stage_state();

    host_a
        .stream
        .clone()
        .invite_to_stage("viewer-a".into())
        .await
        .expect("invite in A");
    eventually(WAIT, "A's viewer is promoted", || {
        viewer_a.stream.room().can_publish()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        viewer_b.stream.stage_state(),
        b_before,
        "B's stage did not move"
    );
    assert!(viewer_b.stream.room().remote_participants().is_empty());
    let wrong_room = host_a
        .stream
        .clone()
        .invite_to_stage("viewer-b".into())
        .await
        .expect_err("viewer-b is not in A");
    assert_eq!(wrong_room.code(), UTDErrorCode::NotFound);
}
