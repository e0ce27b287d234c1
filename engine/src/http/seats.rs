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

/// Publish permissions a seat change sets: identity, may publish.
type Grants = Vec<(String, bool)>;

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
///
/// `grants_of` names the publish permissions the operation's result changes;
/// they are recorded in the same transaction (crate::grants) and returned
/// for [`changed`] to send.
async fn apply<T, F, G>(
    state: &AppState,
    caller: &RoomCaller,
    mut op: F,
    grants_of: G,
) -> Result<(T, SeatsState, Grants), ApiError>
where
    T: Send + 'static,
    F: FnMut(&Conn<'_>, &str, &str) -> Result<Outcome<T>, DbError> + Send + 'static,
    G: Fn(&T) -> Grants + Send + 'static,
{
    let (a, r) = (caller.app_id.clone(), caller.room.clone());
    let lk_room = livekit_room(&a, &r);
    let out = state
        .db
        .transact(move |c| match op(c, &a, &r)? {
            Ok(v) => {
                let grants = grants_of(&v);
                for (identity, publish) in &grants {
                    crate::grants::record(c, &lk_room, identity, *publish, SEAT_SOURCES)?;
                }
                Ok((v, seats::state(c, &a, &r)?, grants))
            }
            Err(refusal) => Err(SeatTx::Refused(refusal)),
        })
        .await;
    match out {
        Ok(out) => Ok(out),
        Err(SeatTx::Refused(refusal)) => Err(refusal.into()),
        Err(SeatTx::Db(e)) => Err(e.into()),
    }
}

/// Sends the recorded publish changes to LiveKit, then pushes `current`
/// (when `push`) and returns it.
async fn changed(
    state: &AppState,
    caller: &RoomCaller,
    grants: &[(String, bool)],
    current: SeatsState,
    push: bool,
) -> Result<Json<SeatsState>, ApiError> {
    let lk_room = livekit_room(&caller.app_id, &caller.room);
    for (identity, _) in grants {
        // Beside the reply, retried while LiveKit fails (crate::grants); a
        // participant not in the LiveKit room yet gets the grant through the
        // room token (`speaker`), so the seat stands either way.
        crate::grants::send(state, &lk_room, identity);
    }
    if push {
        state
            .hub
            .send_room(&caller.app_id, &caller.room, &seats_message(&current));
    }
    Ok(Json(current))
}

/// `identity`'s permission when `changes`, none otherwise.
fn only_if(changes: bool, identity: &str, publish: bool) -> Grants {
    if changes {
        vec![(identity.to_owned(), publish)]
    } else {
        Vec::new()
    }
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
    let (_, current, grants) = apply(
        &state,
        &caller,
        move |c, a, r| Ok(Ok(seats::setup(c, a, r, n, mode)?)),
        |removed: &Vec<String>| removed.iter().map(|i| (i.clone(), false)).collect(),
    )
    .await?;
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
    let me = caller.identity.clone();
    let (seated, current, grants) = apply(
        &state,
        &caller,
        move |c, a, r| seats::take(c, a, r, index, &i, host),
        move |seated: &bool| only_if(*seated, &me, true),
    )
    .await?;
    changed(&state, &caller, &grants, current, seated).await
}

/// `POST /api/v1/rooms/{room}/seats/leave`.
pub async fn leave(
    State(state): State<AppState>,
    user: User,
    ApiPath(room): ApiPath<String>,
) -> Result<Json<SeatsState>, ApiError> {
    let caller = RoomCaller::resolve(&state, &user, &room, "audio_room").await?;
    let (i, me, host) = (
        caller.identity.clone(),
        caller.identity.clone(),
        caller.is_host,
    );
    let (left, current, grants) = apply(
        &state,
        &caller,
        move |c, a, r| Ok(Ok(seats::leave(c, a, r, &i)?)),
        // The host keeps publishing rights as host even off a seat.
        move |left: &seats::Left| only_if(left.was_seated && !host, &me, false),
    )
    .await?;
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
    let (request_id, current, _) = apply(
        &state,
        &caller,
        move |c, a, r| seats::request(c, a, r, &i),
        |_| Vec::new(),
    )
    .await?;
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
    let (_, current, grants) = apply(
        &state,
        &caller,
        move |c, a, r| seats::approve(c, a, r, request_id),
        |identity: &String| vec![(identity.clone(), true)],
    )
    .await?;
    changed(&state, &caller, &grants, current, true).await
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
    let (i, idx, invited) = (req.identity.clone(), req.seat_index, req.identity);
    let (seated, current, grants) = apply(
        &state,
        &caller,
        move |c, a, r| seats::invite(c, a, r, &i, idx),
        move |seated: &bool| only_if(*seated, &invited, true),
    )
    .await?;
    changed(&state, &caller, &grants, current, seated).await
}
