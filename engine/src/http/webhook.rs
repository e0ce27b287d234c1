//! `POST /api/v1/livekit/webhook` (engine-api.md §9): LiveKit tells the
//! engine who left, which rooms finished and microphone mute changes; a
//! party leaving an active call's room (or the room finishing) ends the call.
//!
//! LiveKit may deliver an event to any engine node, twice, or late. All the
//! state changes of one event happen in one transaction that first admits it
//! ([`webhooks::admit`]): a known event id is a duplicate and a `created_at`
//! older than the newest applied event of its room / participant is stale;
//! neither applies anything (still `204`, so LiveKit stops retrying). Pushes
//! and LiveKit calls follow the commit of an applied event only.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use livekit_api::access_token::TokenVerifier;
use livekit_api::webhooks::WebhookReceiver;
use livekit_protocol::{DisconnectReason, TrackSource, WebhookEvent};

use std::sync::atomic::{AtomicU64, Ordering};

use super::calls::is_call_id;
use super::errors::ApiError;
use crate::db::calls::{self, CallRecord, RoomEvent};
use crate::db::seats::{self, SeatsState};
use crate::db::sql::Conn;
use crate::db::stage::{self, StageState};
use crate::db::webhooks::{self, Admission, Scope};
use crate::db::DbError;
use crate::ids::now_ms;
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

/// What an admitted event does, decided from the event alone (before the
/// transaction, so a re-run of the transaction decides nothing anew).
#[derive(Debug, Clone)]
enum Action {
    /// Only moves its watermark (`room_started`, `participant_joined`): a
    /// later-arriving older event of the room / participant is then stale.
    Mark,
    /// `participant_left` / `participant_connection_aborted`: frees the
    /// seat / stage slot; `departed` (not replaced by a rejoin or moved by
    /// LiveKit) also ends an active call of the room.
    Left { identity: String, departed: bool },
    /// `room_finished`: clears the room, ends an active call of the room.
    Finished,
    /// A microphone track event: the seat's `muted`.
    Mic { identity: String, muted: bool },
}

/// The state changes of an applied event, to publish after the commit.
#[derive(Default)]
struct Applied {
    /// Call transitions, oldest first (each a `call.updated` push).
    calls: Vec<CallRecord>,
    /// Whether push outbox rows were queued (wake the dispatcher).
    queued: bool,
    /// The seats state after a change.
    seats: Option<SeatsState>,
    /// The stage state after a change.
    stage: Option<StageState>,
}

/// What one transaction did with an event.
enum Outcome {
    Applied(Box<Applied>),
    Dropped(Admission),
}

/// The action and watermark scope of an event, or `None` for events the
/// engine ignores (they touch nothing, not even the event log).
fn action_of(event: &WebhookEvent) -> Option<(Action, Scope, String)> {
    let identity = event.participant.as_ref().map(|p| p.identity.clone());
    match event.event.as_str() {
        "room_started" => Some((Action::Mark, Scope::Room, String::new())),
        "room_finished" => Some((Action::Finished, Scope::Room, String::new())),
        "participant_joined" => {
            let identity = identity?;
            Some((Action::Mark, Scope::Participant, identity))
        }
        // LiveKit reports a participant that never finished connecting
        // (no media yet) as aborted rather than left: the same for seats.
        "participant_left" | "participant_connection_aborted" => {
            let identity = identity?;
            // A party that left a call room for good ends an active call.
            // Not when the same identity took over the connection (rejoin
            // from the same app) or LiveKit moved it: it is still there.
            let reason = event
                .participant
                .as_ref()
                .map_or(0, |p| p.disconnect_reason);
            let replaced = reason == DisconnectReason::DuplicateIdentity as i32
                || reason == DisconnectReason::Migration as i32;
            let action = Action::Left {
                identity: identity.clone(),
                departed: !replaced,
            };
            Some((action, Scope::Participant, identity))
        }
        "track_published" | "track_unpublished" | "track_muted" | "track_unmuted" => {
            let (identity, track) = (identity?, event.track.as_ref()?);
            if track.source != TrackSource::Microphone as i32 {
                return None;
            }
            let muted = match event.event.as_str() {
                "track_published" => track.muted,
                "track_unmuted" => false,
                _ => true,
            };
            let action = Action::Mic {
                identity: identity.clone(),
                muted,
            };
            Some((action, Scope::Mic, identity))
        }
        _ => None,
    }
}

/// Applies an admitted event, in its transaction.
fn apply(
    state: &AppState,
    c: &Conn<'_>,
    app_id: &str,
    room: &str,
    action: &Action,
) -> Result<Applied, DbError> {
    let mut applied = Applied::default();
    let timeout = state.config.ring_timeout.as_millis() as u64;
    let mut call_room = |c: &Conn<'_>, event: RoomEvent<'_>| -> Result<(), DbError> {
        if is_call_id(room) {
            applied.calls = calls::room_gone(c, app_id, room, event, timeout)?;
            applied.queued = crate::push::calls_changed(&state.push, c, &applied.calls)?;
        }
        Ok(())
    };
    match action {
        Action::Mark => {}
        Action::Left { identity, departed } => {
            if *departed {
                call_room(c, RoomEvent::Left(identity))?;
            }
            if seats::leave(c, app_id, room, identity)?.changed {
                applied.seats = Some(seats::state(c, app_id, room)?);
            }
            if stage::forget(c, app_id, room, identity)? {
                applied.stage = Some(stage::state(c, app_id, room)?);
            }
        }
        Action::Finished => {
            call_room(c, RoomEvent::Finished)?;
            seats::clear_room(c, app_id, room)?;
            match seats::room(c, app_id, room)? {
                Some((kind, _)) if kind == "audio_room" => {
                    applied.seats = Some(seats::state(c, app_id, room)?);
                }
                Some((kind, _)) if kind == "live_stream" => {
                    applied.stage = Some(stage::state(c, app_id, room)?);
                }
                _ => {}
            }
        }
        Action::Mic { identity, muted } => {
            if seats::set_muted(c, app_id, room, identity, *muted)? {
                applied.seats = Some(seats::state(c, app_id, room)?);
            }
        }
    }
    Ok(applied)
}

/// After the commit of an applied event: `call.updated` to both parties of
/// each call transition (and a wake of the push dispatcher), the deletion of
/// a call room a party left, and the seats / stage state.
fn publish(state: &AppState, app_id: &str, room: &str, action: &Action, applied: Applied) {
    crate::http::calls::publish(state, &applied.calls, applied.queued);
    if let Some(last) = applied.calls.last() {
        tracing::info!(
            app_id = %last.app_id,
            call_id = %last.call_id,
            status = last.status.as_str(),
            end_reason = last.end_reason.as_deref().unwrap_or(""),
            "call over (livekit room)"
        );
        // The other party should not linger in the room (a finished room
        // is gone already).
        if last.status.is_terminal() && matches!(action, Action::Left { .. }) {
            crate::http::calls::close_room(state, last);
        }
    }
    if let Some(current) = applied.seats {
        state.hub.send_room(app_id, room, &seats_message(&current));
    }
    if let Some(current) = applied.stage {
        state
            .hub
            .send_room(app_id, room, &super::stage::stage_message(&current));
    }
}

/// How often a node prunes old event ids and watermarks (at most).
const PRUNE_EVERY_MS: u64 = 10 * 60 * 1000;

/// When this process last pruned (ms since the epoch; 0: never).
static LAST_PRUNE_MS: AtomicU64 = AtomicU64::new(0);

/// Now and then (at most every [`PRUNE_EVERY_MS`] per process, on the
/// webhook traffic itself), deletes event ids and watermarks older than
/// [`webhooks::RETENTION_MS`] in a transaction of its own, in the
/// background. Any node may do it; doing it twice is harmless.
fn prune_now_and_then(state: &AppState) {
    let now = now_ms();
    let last = LAST_PRUNE_MS.load(Ordering::Relaxed);
    if now.saturating_sub(last) < PRUNE_EVERY_MS
        || LAST_PRUNE_MS
            .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
    {
        return;
    }
    let db = state.db.clone();
    let before = now.saturating_sub(webhooks::RETENTION_MS);
    tokio::spawn(async move {
        match db.call(move |c| webhooks::prune(c, before)).await {
            Ok(0) => {}
            Ok(rows) => tracing::debug!(rows, "pruned old livekit webhook events"),
            Err(e) => tracing::warn!(error = %e, "pruning livekit webhook events failed"),
        }
    });
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
    let Some(lk_room) = event.room.as_ref().map(|r| r.name.clone()) else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let Some((app_id, room)) = split_room(&lk_room) else {
        return Ok(StatusCode::NO_CONTENT);
    };
    tracing::info!(event = %event.event, id = %event.id, app_id, room, "livekit webhook");
    let Some((action, scope, identity)) = action_of(&event) else {
        return Ok(StatusCode::NO_CONTENT);
    };
    prune_now_and_then(&state);
    let admitted = webhooks::Event {
        id: event.id.clone(),
        kind: event.event.clone(),
        lk_room,
        scope,
        identity,
        created_at: event.created_at,
    };
    // A call room's transitions leave in order with the call's own actions.
    let order = match is_call_id(&room) {
        true => Some(crate::http::calls::in_order(&room).await),
        false => None,
    };
    let st = state.clone();
    let (a, r, act) = (app_id.clone(), room.clone(), action.clone());
    let outcome = state
        .db
        .call(move |c| match webhooks::admit(c, &admitted, now_ms())? {
            Admission::Apply => Ok(Outcome::Applied(Box::new(apply(&st, c, &a, &r, &act)?))),
            dropped => Ok(Outcome::Dropped(dropped)),
        })
        .await?;
    let outcome = match outcome {
        Outcome::Applied(applied) => {
            publish(&state, &app_id, &room, &action, *applied);
            drop(order);
            return Ok(StatusCode::NO_CONTENT);
        }
        dropped => dropped,
    };
    match outcome {
        Outcome::Applied(_) => {}
        Outcome::Dropped(Admission::Stale { newest }) => tracing::debug!(
            event = %event.event,
            id = %event.id,
            created_at = event.created_at,
            newest,
            app_id,
            room,
            "stale livekit webhook dropped"
        ),
        Outcome::Dropped(_) => tracing::debug!(
            event = %event.event,
            id = %event.id,
            app_id,
            room,
            "duplicate livekit webhook dropped"
        ),
    }
    Ok(StatusCode::NO_CONTENT)
}
