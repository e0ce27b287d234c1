//! Server-side LiveKit calls: publish permissions of seated / staged users,
//! and the rooms of 1:1 calls.

use std::time::{Duration, Instant};

use livekit_api::services::room::{CreateRoomOptions, RoomClient, UpdateParticipantOptions};
use livekit_protocol::{ParticipantPermission, TrackSource};

use crate::metrics::Metrics;

/// Per-request timeout of RoomService calls.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The HTTP base of a LiveKit URL (`ws://` → `http://`, `wss://` → `https://`).
pub fn http_url(livekit_url: &str) -> String {
    if let Some(rest) = livekit_url.strip_prefix("wss://") {
        format!("https://{rest}")
    } else if let Some(rest) = livekit_url.strip_prefix("ws://") {
        format!("http://{rest}")
    } else {
        livekit_url.to_owned()
    }
}

/// A RoomService client for the configured LiveKit.
pub fn room_client(livekit_url: &str, api_key: &str, api_secret: &str) -> RoomClient {
    RoomClient::with_api_key(&http_url(livekit_url), api_key, api_secret)
        .with_failover(false)
        .with_request_timeout(REQUEST_TIMEOUT)
}

/// The complete permission of a participant: always subscribe and publish
/// data; publish only the given sources when `publish`.
pub fn permission(publish: bool, sources: &[TrackSource]) -> ParticipantPermission {
    ParticipantPermission {
        can_subscribe: true,
        can_publish: publish,
        can_publish_data: true,
        can_publish_sources: if publish {
            sources.iter().map(|s| *s as i32).collect()
        } else {
            vec![]
        },
        can_update_metadata: false,
        ..Default::default()
    }
}

/// How an `UpdateParticipant` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// LiveKit took the new permission.
    Updated,
    /// The participant is not in the LiveKit room (yet): the grant applies
    /// through the next room token instead.
    NotInRoom,
    /// LiveKit could not be reached or refused (logged).
    Failed,
}

/// Sends the complete permission of `identity` in `lk_room` to LiveKit.
pub async fn set_publish(
    client: &RoomClient,
    metrics: &Metrics,
    lk_room: &str,
    identity: &str,
    publish: bool,
    sources: &[TrackSource],
) -> Applied {
    let options = UpdateParticipantOptions {
        permission: Some(permission(publish, sources)),
        ..Default::default()
    };
    let started = Instant::now();
    let result = client.update_participant(lk_room, identity, options).await;
    observe(metrics, "UpdateParticipant", result.is_ok(), started);
    match result {
        Ok(_) => {
            tracing::info!(
                room = lk_room,
                identity,
                publish,
                "participant permission updated"
            );
            Applied::Updated
        }
        Err(e) => {
            let text = e.to_string();
            if text.contains("not_found") || text.contains("not found") {
                tracing::info!(
                    room = lk_room,
                    identity,
                    publish,
                    "participant not in the LiveKit room; grant applies at join"
                );
                Applied::NotInRoom
            } else {
                tracing::warn!(room = lk_room, identity, publish, error = %text, "UpdateParticipant failed");
                Applied::Failed
            }
        }
    }
}

/// Most participants of a call room: the two parties.
pub const CALL_MAX_PARTICIPANTS: u32 = 2;

/// How long a call room stays once its last participant left.
pub const CALL_DEPARTURE_TIMEOUT_SECS: u32 = 20;

/// The settings of a call room. The engine creates the room with them, and
/// the parties' tokens carry them too, so the first join creates the room
/// with its cap if LiveKit had not answered `CreateRoom` yet.
pub fn call_room_config(
    lk_room: &str,
    empty_timeout_secs: u32,
) -> livekit_protocol::RoomConfiguration {
    livekit_protocol::RoomConfiguration {
        name: lk_room.to_owned(),
        empty_timeout: empty_timeout_secs,
        departure_timeout: CALL_DEPARTURE_TIMEOUT_SECS,
        max_participants: CALL_MAX_PARTICIPANTS,
        ..Default::default()
    }
}

/// Creates (or re-asserts) the LiveKit room of a call: at most two
/// participants, closed soon after it is left empty. `empty_timeout_secs`
/// covers the wait for the first join. Best effort: false (logged) when
/// LiveKit could not be reached or refused.
pub async fn create_call_room(
    client: &RoomClient,
    metrics: &Metrics,
    lk_room: &str,
    empty_timeout_secs: u32,
) -> bool {
    let config = call_room_config(lk_room, empty_timeout_secs);
    let options = CreateRoomOptions {
        empty_timeout: config.empty_timeout,
        departure_timeout: config.departure_timeout,
        max_participants: config.max_participants,
        ..Default::default()
    };
    let started = Instant::now();
    let result = client.create_room(lk_room, options).await;
    observe(metrics, "CreateRoom", result.is_ok(), started);
    match result {
        Ok(_) => {
            tracing::info!(room = lk_room, "call room created in LiveKit");
            true
        }
        Err(e) => {
            tracing::warn!(room = lk_room, error = %e, "CreateRoom of a call room failed");
            false
        }
    }
}

/// Deletes a LiveKit room (disconnecting whoever is still in it). Best
/// effort: failures are logged.
pub async fn delete_room(client: &RoomClient, metrics: &Metrics, lk_room: &str) {
    let started = Instant::now();
    let result = client.delete_room(lk_room).await;
    observe(metrics, "DeleteRoom", result.is_ok(), started);
    match result {
        Ok(()) => tracing::info!(room = lk_room, "LiveKit room deleted"),
        Err(e) => {
            let text = e.to_string();
            if text.contains("not_found") || text.contains("not found") {
                tracing::info!(room = lk_room, "LiveKit room already gone");
            } else {
                tracing::warn!(room = lk_room, error = %text, "DeleteRoom failed");
            }
        }
    }
}

/// One RoomService call's latency on `/metrics`, by method and outcome.
fn observe(metrics: &Metrics, method: &'static str, ok: bool, started: Instant) {
    let outcome = if ok { "ok" } else { "failed" };
    metrics.observe(
        "livekit_call",
        &[("method", method), ("outcome", outcome)],
        started.elapsed(),
    );
}
