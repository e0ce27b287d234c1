//! Live stream stage (engine-api.md §7): the host invites co-hosts, who get
//! camera + microphone through LiveKit `UpdateParticipant`.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use livekit_protocol::TrackSource;
use serde::Deserialize;
use serde_json::json;

use super::auth::User;
use super::errors::ApiError;
use super::extract::{ApiPath, JsonBody};
use super::room_caller::RoomCaller;
use super::token::livekit_room;
use crate::db::sql::Conn;
use crate::db::stage::{self, StageState};
use crate::db::DbError;
use crate::livekit::{set_publish, Applied};
use crate::state::AppState;

/// How long a stage invite waits for LiveKit to say whether the identity is
/// in the room (the invite records nothing without that answer).
const INVITE_WAIT: Duration = Duration::from_secs(2);

/// Sources a stage member may publish.
pub(crate) const STAGE_SOURCES: &[TrackSource] = &[TrackSource::Camera, TrackSource::Microphone];

/// `stage.updated`.
pub(crate) fn stage_message(stage: &StageState) -> String {
    json!({ "type": "stage.updated", "stage": stage }).to_string()
}

async fn read(state: &AppState, caller: &RoomCaller) -> Result<StageState, ApiError> {
    let (a, r) = (caller.app_id.clone(), caller.room.clone());
    Ok(state.db.call(move |c| stage::state(c, &a, &r)).await?)
}

/// Runs a stage change and reads the stage in the same transaction, so the
/// state (and its `version`) is exactly the one the change produced.
async fn apply<T, F>(
    state: &AppState,
    caller: &RoomCaller,
    mut op: F,
) -> Result<(T, StageState), ApiError>
where
    T: Send + 'static,
    F: FnMut(&Conn<'_>, &str, &str) -> Result<T, crate::db::DbError> + Send + 'static,
{
    let (a, r) = (caller.app_id.clone(), caller.room.clone());
    Ok(state
        .db
        .call(move |c| {
            let out = op(c, &a, &r)?;
            Ok((out, stage::state(c, &a, &r)?))
        })
        .await?)
}

/// Pushes `current` to subscribers and returns it.
fn push(state: &AppState, caller: &RoomCaller, current: StageState) -> Json<StageState> {
    state
        .hub
        .send_room(&caller.app_id, &caller.room, &stage_message(&current));
    Json(current)
}

/// The `stage.updated` a new subscriber of a live stream room gets first.
pub(crate) fn initial(
    conn: &Conn<'_>,
    app_id: &str,
    room: &str,
) -> Result<String, crate::db::DbError> {
    Ok(stage_message(&stage::state(conn, app_id, room)?))
}

/// `GET /api/v1/rooms/{room}/stage`.
pub async fn get(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<StageState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "live_stream").await?;
    Ok(Json(read(&state, &caller).await?))
}

/// Body of invite/remove.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityBody {
    identity: String,
}

/// `POST /api/v1/rooms/{room}/stage/invite`.
pub async fn invite(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
    JsonBody(body): JsonBody<IdentityBody>,
) -> Result<Json<StageState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "live_stream").await?;
    caller.require_host()?;
    super::session::validate_identity(&body.identity)?;
    if caller.owner.as_deref() == Some(body.identity.as_str()) {
        return Ok(Json(read(&state, &caller).await?));
    }
    // The grant goes to LiveKit first: an identity not in the room is a 404
    // and nothing is recorded.
    // Bounded: a frozen LiveKit gets a prompt error, not a stalled reply.
    let lk_room = livekit_room(&caller.app_id, &caller.room);
    let granted = tokio::time::timeout(
        INVITE_WAIT,
        set_publish(
            &state.room_client,
            &state.metrics,
            &lk_room,
            &body.identity,
            true,
            STAGE_SOURCES,
        ),
    )
    .await;
    match granted {
        Ok(Applied::Updated) => {}
        Ok(Applied::NotInRoom) => {
            return Err(ApiError::not_found("that identity is not in the room"))
        }
        Ok(Applied::Failed) => {
            return Err(ApiError::internal("LiveKit did not take the permission"))
        }
        Err(_) => {
            return Err(ApiError::internal(
                "LiveKit did not answer in time; nothing was recorded",
            ))
        }
    }
    // A revoke of an earlier removal may still be on its way: this grant is
    // the newest, and the worker sending that revoke sends it instead.
    let (i, lk) = (body.identity.clone(), lk_room.clone());
    let sources = crate::grants::source_names(STAGE_SOURCES);
    let (superseded, current) = apply(&state, &caller, move |c, a, r| {
        stage::add(c, a, r, &i)?;
        crate::db::grants::supersede(c, &lk, &i, true, &sources)
    })
    .await?;
    if superseded {
        crate::grants::send(&state, &lk_room, &body.identity);
    }
    Ok(push(&state, &caller, current))
}

/// Records, in a stage change's transaction, that a former stage member
/// loses publishing; [`revoke`] sends it.
fn record_revoke(c: &Conn<'_>, app_id: &str, room: &str, identity: &str) -> Result<(), DbError> {
    crate::grants::record(
        c,
        &livekit_room(app_id, room),
        identity,
        false,
        STAGE_SOURCES,
    )
}

/// Sends a recorded revoke to LiveKit (tolerating the member's absence),
/// beside the reply and retried while LiveKit fails.
fn revoke(state: &AppState, caller: &RoomCaller, identity: &str) {
    let lk_room = livekit_room(&caller.app_id, &caller.room);
    crate::grants::send(state, &lk_room, identity);
}

/// `POST /api/v1/rooms/{room}/stage/remove`.
pub async fn remove(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
    JsonBody(body): JsonBody<IdentityBody>,
) -> Result<Json<StageState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "live_stream").await?;
    caller.require_host()?;
    super::session::validate_identity(&body.identity)?;
    if caller.owner.as_deref() == Some(body.identity.as_str()) {
        return Err(ApiError::invalid_state(
            "the host cannot be removed from the stage",
        ));
    }
    let i = body.identity.clone();
    let (was, current) = apply(&state, &caller, move |c, a, r| {
        let was = stage::remove(c, a, r, &i)?;
        if was {
            record_revoke(c, a, r, &i)?;
        }
        Ok(was)
    })
    .await?;
    if !was {
        return Err(ApiError::not_found("that identity is not on the stage"));
    }
    revoke(&state, &caller, &body.identity);
    Ok(push(&state, &caller, current))
}

/// `POST /api/v1/rooms/{room}/stage/request`.
pub async fn request(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<StageState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "live_stream").await?;
    if caller.is_host {
        return Ok(Json(read(&state, &caller).await?));
    }
    let i = caller.identity.clone();
    let (new, current) = apply(&state, &caller, move |c, a, r| stage::request(c, a, r, &i)).await?;
    let Some(req) = new else {
        return Ok(Json(current));
    };
    if let Some(owner) = &caller.owner {
        let msg = json!({
            "type": "stage.requested",
            "room_name": caller.room,
            "identity": req.identity,
            "name": req.name,
            "created_at_ms": req.created_at_ms,
        })
        .to_string();
        state.hub.send_user(&caller.app_id, owner, &msg);
    }
    Ok(push(&state, &caller, current))
}

/// `POST /api/v1/rooms/{room}/stage/leave`.
pub async fn leave(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<StageState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "live_stream").await?;
    if caller.is_host {
        return Err(ApiError::invalid_state("the host cannot leave the stage"));
    }
    let i = caller.identity.clone();
    let (was, current) = apply(&state, &caller, move |c, a, r| {
        let was = stage::forget(c, a, r, &i)?;
        if was {
            record_revoke(c, a, r, &i)?;
        }
        Ok(was)
    })
    .await?;
    if !was {
        return Ok(Json(current));
    }
    revoke(&state, &caller, &caller.identity);
    Ok(push(&state, &caller, current))
}
