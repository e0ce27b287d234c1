//! `POST /api/v1/livekit/webhook` (engine-api.md §9): LiveKit tells the
//! engine who left, which rooms finished and microphone mute changes; a
//! party leaving an active call's room (or the room finishing) ends the call.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use livekit_api::access_token::TokenVerifier;
use livekit_api::webhooks::WebhookReceiver;
use livekit_protocol::{DisconnectReason, TrackSource, WebhookEvent};

use super::errors::ApiError;
use crate::db::seats::{self, SeatsState};
use crate::db::stage::{self, StageState};
use crate::signal::protocol::seats_message;
use crate::state::AppState;

/// Splits `<app_id>_<room_name>` (app ids never hold `_`).
fn split_room(lk_room: &str) -> Option<(String, String)> {
    let (app, room) = lk_room.split_once('_')?;
    (!app.is_empty() && !room.is_empty()).then(|| (app.to_owned(), room.to_owned()))
}

/// Verifies the signature and returns the event; 401 when it does not hold.
fn verify(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<WebhookEvent, ApiError> {
    let auth = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::unauthenticated("missing webhook signature"))?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .unwrap_or(auth)
        .trim();
    let body = std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid_argument("webhook body is not UTF-8"))?;
    let receiver = WebhookReceiver::new(TokenVerifier::with_api_key(
        &state.config.livekit_api_key,
        &state.config.livekit_api_secret,
    ));
    receiver.receive(body, token).map_err(|e| match e {
        livekit_api::webhooks::WebhookError::InvalidData(_) => {
            ApiError::invalid_argument("webhook body is not a LiveKit event")
        }
        _ => ApiError::unauthenticated("bad webhook signature"),
    })
}

/// A finished room's state after clearing, by room kind.
enum Cleared {
    Seats(SeatsState),
    Stage(StageState),
    Unknown,
}

/// Pushes the seats state read right after a change (under the same lock, so
/// its `version` is the change's).
fn push_seats(state: &AppState, app_id: &str, room: &str, current: &SeatsState) {
    state.hub.send_room(app_id, room, &seats_message(current));
}

/// Pushes the stage state read right after a change.
fn push_stage(state: &AppState, app_id: &str, room: &str, current: &StageState) {
    state
        .hub
        .send_room(app_id, room, &super::stage::stage_message(current));
}

/// `POST /api/v1/livekit/webhook`.
pub async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let body =
        body.map_err(|_| ApiError::invalid_argument("webhook body unreadable or over 64 KiB"))?;
    let event = verify(&state, &headers, &body)?;
    let Some((app_id, room)) = event.room.as_ref().and_then(|r| split_room(&r.name)) else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let identity = event.participant.as_ref().map(|p| p.identity.clone());
    tracing::info!(event = %event.event, app_id, room, "livekit webhook");
    match event.event.as_str() {
        // LiveKit reports a participant that never finished connecting
        // (no media yet) as aborted rather than left: the same for seats.
        "participant_left" | "participant_connection_aborted" => {
            let Some(identity) = identity else {
                return Ok(StatusCode::NO_CONTENT);
            };
            // A party that left a call room for good ends an active call.
            // Not when the same identity took over the connection (rejoin
            // from the same app) or LiveKit moved it: it is still there.
            let reason = event
                .participant
                .as_ref()
                .map_or(0, |p| p.disconnect_reason);
            let replaced = reason == DisconnectReason::DuplicateIdentity as i32
                || reason == DisconnectReason::Migration as i32;
            if !replaced {
                super::calls::room_gone(&state, &app_id, &room, Some(identity.clone())).await?;
            }
            let (a, r) = (app_id.clone(), room.clone());
            let (seats_now, stage_now) = state
                .db
                .call(move |c| {
                    let left = seats::leave(c, &a, &r, &identity)?;
                    let seats_now = if left.changed {
                        Some(seats::state(c, &a, &r)?)
                    } else {
                        None
                    };
                    let stage_now = if stage::forget(c, &a, &r, &identity)? {
                        Some(stage::state(c, &a, &r)?)
                    } else {
                        None
                    };
                    Ok((seats_now, stage_now))
                })
                .await?;
            if let Some(current) = seats_now {
                push_seats(&state, &app_id, &room, &current);
            }
            if let Some(current) = stage_now {
                push_stage(&state, &app_id, &room, &current);
            }
        }
        "room_finished" => {
            super::calls::room_gone(&state, &app_id, &room, None).await?;
            let (a, r) = (app_id.clone(), room.clone());
            let cleared = state
                .db
                .call(move |c| {
                    seats::clear_room(c, &a, &r)?;
                    Ok(match seats::room(c, &a, &r)? {
                        Some((kind, _)) if kind == "audio_room" => {
                            Cleared::Seats(seats::state(c, &a, &r)?)
                        }
                        Some((kind, _)) if kind == "live_stream" => {
                            Cleared::Stage(stage::state(c, &a, &r)?)
                        }
                        _ => Cleared::Unknown,
                    })
                })
                .await?;
            match cleared {
                Cleared::Seats(current) => push_seats(&state, &app_id, &room, &current),
                Cleared::Stage(current) => push_stage(&state, &app_id, &room, &current),
                Cleared::Unknown => {}
            }
        }
        "track_published" | "track_unpublished" | "track_muted" | "track_unmuted" => {
            let (Some(identity), Some(track)) = (identity, event.track.as_ref()) else {
                return Ok(StatusCode::NO_CONTENT);
            };
            if track.source != TrackSource::Microphone as i32 {
                return Ok(StatusCode::NO_CONTENT);
            }
            let muted = match event.event.as_str() {
                "track_published" => track.muted,
                "track_unmuted" => false,
                _ => true,
            };
            let (a, r) = (app_id.clone(), room.clone());
            let changed = state
                .db
                .call(move |c| {
                    if seats::set_muted(c, &a, &r, &identity, muted)? {
                        Ok(Some(seats::state(c, &a, &r)?))
                    } else {
                        Ok(None)
                    }
                })
                .await?;
            if let Some(current) = changed {
                push_seats(&state, &app_id, &room, &current);
            }
        }
        _ => {}
    }
    Ok(StatusCode::NO_CONTENT)
}
