//! A participant in a real livekit-server and what LiveKit says of its
//! permission.

use std::time::Duration;

use livekit_api::services::room::RoomClient;
use livekit_protocol::ParticipantPermission;

/// Joins LiveKit's signal endpoint with a room token, which makes the
/// participant appear in the room (no media is needed for permissions); the
/// socket is read in the background until the task is aborted.
pub async fn join_livekit(ws_url: &str, token: &str) -> tokio::task::JoinHandle<()> {
    let url = format!("{ws_url}/rtc?access_token={token}&protocol=15&auto_subscribe=1");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("livekit signal connect");
    tokio::spawn(async move {
        use futures_util::StreamExt as _;
        while let Some(Ok(_)) = ws.next().await {}
    })
}

/// The permission LiveKit holds for `identity` (None: not in the room).
pub async fn permission_of(
    rooms: &RoomClient,
    lk_room: &str,
    identity: &str,
) -> Option<ParticipantPermission> {
    let list = rooms.list_participants(lk_room).await.ok()?;
    list.into_iter()
        .find(|p| p.identity == identity)
        .and_then(|p| p.permission)
}

/// Waits up to `within` for `identity`'s permission to satisfy `want`.
pub async fn wait_permission_within(
    rooms: &RoomClient,
    lk_room: &str,
    identity: &str,
    within: Duration,
    want: impl Fn(&ParticipantPermission) -> bool,
) -> ParticipantPermission {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let found = permission_of(rooms, lk_room, identity).await;
        match found {
            Some(p) if want(&p) => return p,
            other => assert!(
                tokio::time::Instant::now() < deadline,
                "{identity} in {lk_room}: permission never matched: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// [`wait_permission_within`] 10 s.
pub async fn wait_permission(
    rooms: &RoomClient,
    lk_room: &str,
    identity: &str,
    want: impl Fn(&ParticipantPermission) -> bool,
) -> ParticipantPermission {
    wait_permission_within(rooms, lk_room, identity, Duration::from_secs(10), want).await
}
