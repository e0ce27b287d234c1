//! `POST /api/v1/livekit/webhook` (engine-api.md §9): LiveKit tells the
//! engine who left, which rooms finished and microphone mute changes.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use livekit_api::access_token::TokenVerifier;
use livekit_api::webhooks::WebhookReceiver;
use livekit_protocol::{TrackSource, WebhookEvent};

use super::errors::ApiError;
use crate::db::seats;
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

async fn push_seats(state: &AppState, app_id: &str, room: &str) -> Result<(), ApiError> {
    let (a, r) = (app_id.to_owned(), room.to_owned());
    let current = state.db.call(move |c| seats::state(c, &a, &r)).await?;
    state.hub.send_room(app_id, room, &seats_message(&current));
    Ok(())
}

async fn push_stage(state: &AppState, app_id: &str, room: &str) -> Result<(), ApiError> {
    let (a, r) = (app_id.to_owned(), room.to_owned());
    let current = state
        .db
        .call(move |c| crate::db::stage::state(c, &a, &r))
        .await?;
    state
        .hub
        .send_room(app_id, room, &super::stage::stage_message(&current));
    Ok(())
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
            let (a, r) = (app_id.clone(), room.clone());
            let (seat_freed, stage_changed) = state
                .db
                .call(move |c| {
                    let seat = seats::leave(c, &a, &r, &identity)?;
                    let stage = crate::db::stage::forget(c, &a, &r, &identity)?;
                    Ok((seat, stage))
                })
                .await?;
            if seat_freed {
                push_seats(&state, &app_id, &room).await?;
            }
            if stage_changed {
                push_stage(&state, &app_id, &room).await?;
            }
        }
        "room_finished" => {
            let (a, r) = (app_id.clone(), room.clone());
            let kind = state
                .db
                .call(move |c| {
                    seats::clear_room(c, &a, &r)?;
                    Ok(seats::room(c, &a, &r)?.map(|(kind, _)| kind))
                })
                .await?;
            match kind.as_deref() {
                Some("audio_room") => push_seats(&state, &app_id, &room).await?,
                Some("live_stream") => push_stage(&state, &app_id, &room).await?,
                _ => {}
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
                .call(move |c| seats::set_muted(c, &a, &r, &identity, muted))
                .await?;
            if changed {
                push_seats(&state, &app_id, &room).await?;
            }
        }
        _ => {}
    }
    Ok(StatusCode::NO_CONTENT)
}
