//! Audio room seats (engine-api.md §6): the engine decides who may publish.

use axum::extract::State;
use axum::Json;
use livekit_protocol::TrackSource;
use serde::{Deserialize, Serialize};

use super::auth::User;
use super::errors::ApiError;
use super::extract::{ApiPath, JsonBody};
use super::room_caller::RoomCaller;
use super::token::livekit_room;
use crate::db::seats::{self, Outcome, Refusal, SeatsState, MAX_SEATS};
use crate::db::sql::Conn;
use crate::db::{DbError, TxFailure};
use crate::signal::protocol::seats_message;
use crate::state::AppState;

/// Sources a seated speaker may publish.
const SEAT_SOURCES: &[TrackSource] = &[TrackSource::Microphone];

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Conflict(m) => ApiError::conflict(m),
            Refusal::InvalidState(m) => ApiError::invalid_state(m),
            Refusal::Forbidden(m) => ApiError::forbidden(m),
            Refusal::NotFound(m) => ApiError::not_found(m),
            Refusal::InvalidArgument(m) => ApiError::invalid_argument(m),
        }
    }
}

async fn read_state(state: &AppState, app_id: &str, room: &str) -> Result<SeatsState, ApiError> {
    let (a, r) = (app_id.to_owned(), room.to_owned());
    Ok(state.db.call(move |c| seats::state(c, &a, &r)).await?)
}

/// How the transaction of a seat operation ends other than stored: a
/// storage failure, or a refusal (rolled back like one).
enum SeatTx {
    Db(DbError),
    Refused(Refusal),
}

impl From<DbError> for SeatTx {
    fn from(e: DbError) -> Self {
        SeatTx::Db(e)
    }
}

impl TxFailure for SeatTx {
    fn as_db_error(&self) -> Option<&DbError> {
        match self {
            SeatTx::Db(e) => Some(e),
            SeatTx::Refused(_) => None,
        }
    }
}

/// Runs a seat operation and, when it was not refused, reads the state in
/// the same transaction: the state (and its `version`) is exactly the one
/// the operation produced, even with other changes racing. A refusal rolls
/// the transaction back.
async fn apply<T, F>(
    state: &AppState,
    caller: &RoomCaller,
    mut op: F,
) -> Result<(T, SeatsState), ApiError>
where
    T: Send + 'static,
    F: FnMut(&Conn<'_>, &str, &str) -> Result<Outcome<T>, DbError> + Send + 'static,
{
    let (a, r) = (caller.app_id.clone(), caller.room.clone());
    let out = state
        .db
        .transact(move |c| match op(c, &a, &r)? {
            Ok(v) => Ok((v, seats::state(c, &a, &r)?)),
            Err(refusal) => Err(SeatTx::Refused(refusal)),
        })
        .await;
    match out {
        Ok(out) => Ok(out),
        Err(SeatTx::Refused(refusal)) => Err(refusal.into()),
        Err(SeatTx::Db(e)) => Err(e.into()),
    }
}

/// Applies publish changes in LiveKit, then pushes `current` (when `push`)
/// and returns it.
async fn changed(
    state: &AppState,
    caller: &RoomCaller,
    grants: &[(String, bool)],
    current: SeatsState,
    push: bool,
) -> Result<Json<SeatsState>, ApiError> {
    let lk_room = livekit_room(&caller.app_id, &caller.room);
    for (identity, publish) in grants {
        // Beside the reply, retried while LiveKit fails (crate::grants); a
        // participant not in the LiveKit room yet gets the grant through the
        // room token (`speaker`), so the seat stands either way.
        crate::grants::apply(state, &lk_room, identity, *publish, SEAT_SOURCES);
    }
    if push {
        state
            .hub
            .send_room(&caller.app_id, &caller.room, &seats_message(&current));
    }
    Ok(Json(current))
}

/// The message a new room subscriber gets first: `seats.updated` for an
/// audio room, `stage.updated` for a live stream, nothing for other rooms.
pub(crate) async fn current_state_message(
    state: &AppState,
    app_id: &str,
    room: &str,
) -> Option<String> {
    let (a, r) = (app_id.to_owned(), room.to_owned());
    let res = state
        .db
        .call(move |c| {
            Ok(match seats::room(c, &a, &r)? {
                Some((kind, _)) if kind == "audio_room" => {
                    Some(seats_message(&seats::state(c, &a, &r)?))
                }
                Some((kind, _)) if kind == "live_stream" => Some(super::stage::initial(c, &a, &r)?),
                _ => None,
            })
        })
        .await;
    match res {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "could not read room state for a subscriber");
            None
        }
    }
}

/// Body of `PUT seats`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    seat_count: i64,
    seat_mode: SeatMode,
    #[allow(dead_code)] // accepted for client bookkeeping; not interpreted
    mode_id: Option<String>,
}

/// Seat modes.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SeatMode {
    /// Anyone may take a free seat.
    Free,
    /// Listeners request; the host approves.
    Request,
}

/// `PUT /api/v1/rooms/{room}/seats`.
pub async fn setup(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
    JsonBody(req): JsonBody<SetupRequest>,
) -> Result<Json<SeatsState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "audio_room").await?;
    caller.require_host()?;
    if !(1..=MAX_SEATS).contains(&req.seat_count) {
        return Err(ApiError::invalid_argument("seat_count must be 1..=50"));
    }
    if req.mode_id.as_ref().is_some_and(|m| m.len() > 128) {
        return Err(ApiError::invalid_argument(
            "mode_id must be at most 128 characters",
        ));
    }
    let mode = match req.seat_mode {
        SeatMode::Free => "free",
        SeatMode::Request => "request",
    };
    let n = req.seat_count;
    let (removed, current) = apply(&state, &caller, move |c, a, r| {
        Ok(Ok(seats::setup(c, a, r, n, mode)?))
    })
    .await?;
    let grants: Vec<(String, bool)> = removed.into_iter().map(|i| (i, false)).collect();
    // A layout change is a change even when nobody moved.
    changed(&state, &caller, &grants, current, true).await
}

/// `GET /api/v1/rooms/{room}/seats`.
pub async fn get(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<SeatsState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "audio_room").await?;
    Ok(Json(
        read_state(&state, &caller.app_id, &caller.room).await?,
    ))
}

/// `POST /api/v1/rooms/{room}/seats/{index}/take`.
pub async fn take(
    State(state): State<AppState>,
    user: User,
    ApiPath((room, index)): ApiPath<(String, i64)>,
) -> Result<Json<SeatsState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "audio_room").await?;
    let (i, host) = (caller.identity.clone(), caller.is_host);
    let (seated, current) = apply(&state, &caller, move |c, a, r| {
        seats::take(c, a, r, index, &i, host)
    })
    .await?;
    let grants = if seated {
        vec![(caller.identity.clone(), true)]
    } else {
        vec![]
    };
    changed(&state, &caller, &grants, current, seated).await
}

/// `POST /api/v1/rooms/{room}/seats/leave`.
pub async fn leave(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<SeatsState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "audio_room").await?;
    let i = caller.identity.clone();
    let (left, current) = apply(&state, &caller, move |c, a, r| {
        Ok(Ok(seats::leave(c, a, r, &i)?))
    })
    .await?;
    // The host keeps publishing rights as host even off a seat.
    let grants = if left.was_seated && !caller.is_host {
        vec![(caller.identity.clone(), false)]
    } else {
        vec![]
    };
    changed(&state, &caller, &grants, current, left.changed).await
}

/// Reply of a seat request.
#[derive(Debug, Serialize)]
pub struct RequestResponse {
    request_id: i64,
}

/// `POST /api/v1/rooms/{room}/seats/requests`.
pub async fn request(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<RequestResponse>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "audio_room").await?;
    let i = caller.identity.clone();
    let (request_id, current) =
        apply(&state, &caller, move |c, a, r| seats::request(c, a, r, &i)).await?;
    state
        .hub
        .send_room(&caller.app_id, &caller.room, &seats_message(&current));
    Ok(Json(RequestResponse { request_id }))
}

/// `POST /api/v1/rooms/{room}/seats/requests/{request_id}/approve`.
pub async fn approve(
    State(state): State<AppState>,
    user: User,
    ApiPath((room, request_id)): ApiPath<(String, i64)>,
) -> Result<Json<SeatsState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "audio_room").await?;
    caller.require_host()?;
    let (identity, current) = apply(&state, &caller, move |c, a, r| {
        seats::approve(c, a, r, request_id)
    })
    .await?;
    changed(&state, &caller, &[(identity, true)], current, true).await
}

/// Body of a seat invite.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteRequest {
    identity: String,
    seat_index: Option<i64>,
}

/// `POST /api/v1/rooms/{room}/seats/invite`.
pub async fn invite(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
    JsonBody(req): JsonBody<InviteRequest>,
) -> Result<Json<SeatsState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "audio_room").await?;
    caller.require_host()?;
    super::session::validate_identity(&req.identity)?;
    let (i, idx) = (req.identity.clone(), req.seat_index);
    let (seated, current) = apply(&state, &caller, move |c, a, r| {
        seats::invite(c, a, r, &i, idx)
    })
    .await?;
    let grants = if seated {
        vec![(req.identity, true)]
    } else {
        vec![]
    };
    changed(&state, &caller, &grants, current, seated).await
}
