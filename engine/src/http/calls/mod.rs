//! 1:1 calls (engine-api.md §5): create, read, list (pending, as callee) and
//! act on a call, with `call.invitation` / `call.updated` pushes. The call's
//! LiveKit room is in [`room`], the ring deadline sweeper in [`ring`].

use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::auth::User;
use super::errors::{ApiError, Capability};
use super::extract::{ApiPath, JsonBody};
use super::session::{validate_identity, validate_profile};
use super::token::{grants_for, livekit_room, sign_room_token, StreamType};
use crate::db::calls::{self, ActResult, Acted, Action, CallRecord, Decision, Side, Status};
use crate::db::sql::Conn;
use crate::db::DbError;
use crate::ids::{now_ms, random_b64};
use crate::state::AppState;

mod ring;
mod room;

pub(crate) use ring::start_ring_sweeper;
use room::{after, ensure_room, join_for};
pub(crate) use room::{close_room, party_of_room, party_token};

/// Largest `metadata` object, serialized (compact JSON, as the engine stores it).
pub const MAX_METADATA_BYTES: usize = 4096;

/// Prefix of every call id (and call room name).
pub const CALL_ID_PREFIX: &str = "call_";

/// A new call id: the prefix plus 128 random bits (22 base64url chars).
fn new_call_id() -> String {
    format!("{CALL_ID_PREFIX}{}", random_b64(16))
}

/// True for strings shaped like a call id (anything else names no call).
pub(crate) fn is_call_id(value: &str) -> bool {
    value.strip_prefix(CALL_ID_PREFIX).is_some_and(|rest| {
        rest.len() == 22
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// `call.invitation` / `call.updated`.
pub(crate) fn call_message(kind: &str, call: &CallRecord) -> String {
    json!({ "type": kind, "call": call }).to_string()
}

/// How many locks order the pushes of calls ([`in_order`]).
const ORDER_SHARDS: usize = 64;

/// Per-call (hashed) locks, each held from before a transaction of a call
/// until its pushes are out, so the pushes of one call leave this engine in
/// commit order even though they are sent after the commit (a database
/// closure may run more than once on PostgreSQL, so it sends nothing).
static ORDER: [tokio::sync::Mutex<()>; ORDER_SHARDS] =
    [const { tokio::sync::Mutex::const_new(()) }; ORDER_SHARDS];

/// Waits for the ordering lock of `call_id` (see [`ORDER`]).
pub(crate) async fn in_order(call_id: &str) -> tokio::sync::MutexGuard<'static, ()> {
    // FNV-1a: stable and cheap; only spreads calls over the shards.
    let hash = call_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    ORDER[(hash % ORDER_SHARDS as u64) as usize].lock().await
}

/// In the transaction of `changes` (transitions of calls): their push
/// outbox rows ([`crate::push::calls_changed`]); true when the dispatcher
/// is to be woken after the commit.
fn outbox(state: &AppState, conn: &Conn<'_>, changes: &[CallRecord]) -> Result<bool, DbError> {
    crate::push::calls_changed(&state.push, conn, changes)
}

/// Publishes committed transitions (under [`in_order`]): `call.updated` to
/// both parties' connections, and a wake of the push dispatcher when
/// `call_ended` rows were queued (engine-api.md §4).
pub(crate) fn publish(state: &AppState, changes: &[CallRecord], queued: bool) {
    for change in changes {
        push_updated(state, change);
    }
    if queued {
        crate::push::wake(&state.push);
    }
}

/// Pushes `call.updated` to every connection of both parties.
fn push_updated(state: &AppState, call: &CallRecord) {
    let msg = call_message("call.updated", call);
    state
        .hub
        .send_user(&call.app_id, &call.caller_identity, &msg);
    state
        .hub
        .send_user(&call.app_id, &call.callee_identity, &msg);
}

fn ring_timeout_ms(state: &AppState) -> u64 {
    state.config.ring_timeout.as_millis() as u64
}

/// Media room credentials of one party.
#[derive(Debug, Serialize)]
pub struct Join {
    token: String,
    url: String,
    room_name: String,
}

/// A call, with the join credentials for `create` and `accept`.
#[derive(Debug, Serialize)]
pub struct CallReply {
    #[serde(flatten)]
    call: CallRecord,
    #[serde(skip_serializing_if = "Option::is_none")]
    join: Option<Join>,
}

fn require_signaling(user: &User) -> Result<(), ApiError> {
    if user.app.signaling_enabled() {
        Ok(())
    } else {
        Err(ApiError::feature_disabled(Capability::Signaling))
    }
}

/// The two call types.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallType {
    /// Audio only.
    AudioCall,
    /// Audio and video.
    VideoCall,
}

/// Body of `POST /api/v1/calls`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateCall {
    callee_identity: String,
    callee_name: Option<String>,
    #[serde(rename = "type")]
    call_type: CallType,
    metadata: Option<Map<String, Value>>,
}

/// `POST /api/v1/calls`.
pub async fn create(
    State(state): State<AppState>,
    user: User,
    JsonBody(req): JsonBody<CreateCall>,
) -> Result<(StatusCode, Json<CallReply>), ApiError> {
    validate_identity(&req.callee_identity)?;
    validate_profile(req.callee_name.as_deref(), None)?;
    let metadata = Value::Object(req.metadata.unwrap_or_default());
    if metadata.to_string().len() > MAX_METADATA_BYTES {
        return Err(ApiError::invalid_argument(format!(
            "metadata is over {MAX_METADATA_BYTES} bytes serialized"
        )));
    }
    if req.callee_identity == user.session.identity {
        return Err(ApiError::invalid_argument("a user cannot call themselves"));
    }
    require_signaling(&user)?;

    let now = now_ms();
    let mut call = CallRecord {
        call_id: String::new(),
        app_id: user.app.app_id.clone(),
        call_type: match req.call_type {
            CallType::AudioCall => "audio_call",
            CallType::VideoCall => "video_call",
        }
        .to_owned(),
        status: Status::Initiating,
        caller_identity: user.session.identity.clone(),
        caller_name: user.session.name.clone(),
        callee_identity: req.callee_identity,
        callee_name: req.callee_name,
        metadata,
        created_at_ms: now,
        updated_at_ms: now,
        answered: false,
        answered_by_device: None,
        end_reason: None,
    };
    // A fresh 128-bit id never collides in practice; the loop only keeps a
    // collision from being an error.
    let mut stored = false;
    for _ in 0..4 {
        call.call_id = new_call_id();
        let (st, record) = (state.clone(), call.clone());
        let timeout = ring_timeout_ms(&state);
        // Held until the invitation is out, so no later transition of this
        // call can be pushed before it.
        let order = in_order(&call.call_id).await;
        stored = state
            .db
            .call(move |c| {
                calls::insert_with(c, &record, |tx| {
                    crate::push::call_created(&st.push, tx, &record, timeout)
                })
            })
            .await?;
        if stored {
            let invitation = call_message("call.invitation", &call);
            state
                .hub
                .send_user(&call.app_id, &call.callee_identity, &invitation);
            let updated = call_message("call.updated", &call);
            state
                .hub
                .send_user(&call.app_id, &call.caller_identity, &updated);
            crate::push::wake(&state.push);
            drop(order);
            break;
        }
    }
    if !stored {
        return Err(ApiError::internal("could not allocate a call id"));
    }
    // Prepared beside the reply (see ensure_room for why the cap holds
    // whichever comes first, CreateRoom or the caller's join).
    ensure_room(&state, &call);
    ring::deadline_set(
        &state,
        call.created_at_ms.saturating_add(ring_timeout_ms(&state)),
    );
    tracing::info!(
        app_id = %call.app_id,
        call_id = %call.call_id,
        caller = %call.caller_identity,
        callee = %call.callee_identity,
        "call created"
    );
    let name = user.session.name.clone();
    let join = join_for(
        &state,
        &call,
        &user.session.identity,
        name.as_deref(),
        Side::Caller,
    )?;
    Ok((
        StatusCode::CREATED,
        Json(CallReply {
            call,
            join: Some(join),
        }),
    ))
}

/// Runs [`calls::act`] for `user`, pushing every committed transition under
/// [`in_order`] (so pushes of one call go out in commit order).
async fn run_act(
    state: &AppState,
    user: &User,
    call_id: &str,
    action: Option<Action>,
) -> Result<Acted, ApiError> {
    if !is_call_id(call_id) {
        return Err(ApiError::not_found("no such call"));
    }
    let st = state.clone();
    let (app_id, id, identity) = (
        user.app.app_id.clone(),
        call_id.to_owned(),
        user.session.identity.clone(),
    );
    let device = user.session.device_id.clone();
    let timeout = ring_timeout_ms(state);
    let order = in_order(call_id).await;
    let (acted, queued) = state
        .db
        .call(move |c| {
            let acted = calls::act(
                c,
                &app_id,
                &id,
                &identity,
                action,
                device.as_deref(),
                timeout,
            )?;
            let queued = outbox(&st, c, &acted.changes)?;
            Ok((acted, queued))
        })
        .await?;
    publish(state, &acted.changes, queued);
    drop(order);
    after(state, &acted);
    Ok(acted)
}

/// `GET /api/v1/calls/{call_id}`.
pub async fn get(
    State(state): State<AppState>,
    user: User,
    ApiPath(call_id): ApiPath<String>,
) -> Result<Json<CallRecord>, ApiError> {
    require_signaling(&user)?;
    let acted = run_act(&state, &user, &call_id, None).await?;
    match acted.result {
        ActResult::Done(call, _) => Ok(Json(*call)),
        other => Err(refusal(other)),
    }
}

/// Reply of `GET /api/v1/calls`.
#[derive(Debug, Serialize)]
pub struct CallList {
    calls: Vec<CallRecord>,
}

/// The query of `GET /api/v1/calls`, as raw pairs (in order, repeats kept).
type ListQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// Checks the query of `GET /api/v1/calls`: only `role=callee` and
/// `status=pending`, each optional and at most once (the only listing).
fn check_list_query(query: ListQuery) -> Result<(), ApiError> {
    let Query(pairs) =
        query.map_err(|e| ApiError::invalid_argument(format!("invalid query string: {e}")))?;
    let (mut role, mut status) = (false, false);
    for (key, value) in &pairs {
        let (seen, want) = match key.as_str() {
            "role" => (&mut role, "callee"),
            "status" => (&mut status, "pending"),
            _ => {
                let key: String = key.chars().take(64).collect();
                return Err(ApiError::invalid_argument(format!(
                    "unknown query parameter {key:?}: only role=callee and status=pending are supported"
                )));
            }
        };
        if std::mem::replace(seen, true) {
            return Err(ApiError::invalid_argument(format!(
                "query parameter {key} given more than once"
            )));
        }
        if value != want {
            return Err(ApiError::invalid_argument(format!(
                "unsupported {key}: only {key}={want} is supported"
            )));
        }
    }
    Ok(())
}

/// `GET /api/v1/calls?role=callee&status=pending`: the calls ringing for
/// the bearer's user right now (so a device that connects late finds them).
pub async fn list(
    State(state): State<AppState>,
    user: User,
    query: ListQuery,
) -> Result<Json<CallList>, ApiError> {
    check_list_query(query)?;
    require_signaling(&user)?;
    let st = state.clone();
    let (app_id, identity) = (user.app.app_id.clone(), user.session.identity.clone());
    let timeout = ring_timeout_ms(&state);
    let (listed, queued) = state
        .db
        .call(move |c| {
            let listed = calls::pending_for_callee(c, &app_id, &identity, timeout)?;
            let queued = outbox(&st, c, &listed.expired)?;
            Ok((listed, queued))
        })
        .await?;
    // Expiry is terminal: whatever transition of these calls committed
    // before it still holds its call's lock until pushed, so taking the
    // locks now keeps commit order.
    for call in &listed.expired {
        let _order = in_order(&call.call_id).await;
        push_updated(&state, call);
    }
    if queued {
        crate::push::wake(&state.push);
    }
    for call in &listed.expired {
        tracing::info!(app_id = %call.app_id, call_id = %call.call_id, "call missed (ring timeout)");
        close_room(&state, call);
    }
    Ok(Json(CallList {
        calls: listed.calls,
    }))
}

/// The error of a result that is not `Done`.
fn refusal(result: ActResult) -> ApiError {
    match result {
        ActResult::NotFound | ActResult::Done(..) => ApiError::not_found("no such call"),
        ActResult::NotParty => ApiError::forbidden("only the caller or the callee may do this"),
        ActResult::Refused(Decision::OtherDevice) => {
            ApiError::conflict("the call was answered on another device")
        }
        ActResult::Refused(Decision::Terminal) => ApiError::invalid_state("the call is over"),
        ActResult::Refused(_) => {
            ApiError::forbidden("this action belongs to the other party of the call")
        }
    }
}

async fn action(
    state: AppState,
    user: User,
    call_id: String,
    action: Action,
) -> Result<Json<CallReply>, ApiError> {
    require_signaling(&user)?;
    let acted = run_act(&state, &user, &call_id, Some(action)).await?;
    let (call, side) = match acted.result {
        ActResult::Done(call, side) => (*call, side),
        other => return Err(refusal(other)),
    };
    let join = if action == Action::Accept && call.status == Status::Active {
        // Re-asserts the room (and its cap) before the callee joins.
        ensure_room(&state, &call);
        let name = user
            .session
            .name
            .clone()
            .or_else(|| call.callee_name.clone());
        Some(join_for(
            &state,
            &call,
            &user.session.identity,
            name.as_deref(),
            side,
        )?)
    } else {
        None
    };
    tracing::info!(
        app_id = %call.app_id,
        call_id = %call.call_id,
        action = ?action,
        status = call.status.as_str(),
        "call action"
    );
    Ok(Json(CallReply { call, join }))
}

macro_rules! action_route {
    ($name:ident, $action:expr, $doc:literal) => {
        #[doc = $doc]
        pub async fn $name(
            State(state): State<AppState>,
            user: User,
            ApiPath(call_id): ApiPath<String>,
        ) -> Result<Json<CallReply>, ApiError> {
            action(state, user, call_id, $action).await
        }
    };
}

action_route!(
    ringing,
    Action::Ringing,
    "`POST /api/v1/calls/{call_id}/ringing`."
);
action_route!(
    accept,
    Action::Accept,
    "`POST /api/v1/calls/{call_id}/accept`."
);
action_route!(
    reject,
    Action::Reject,
    "`POST /api/v1/calls/{call_id}/reject`."
);
action_route!(busy, Action::Busy, "`POST /api/v1/calls/{call_id}/busy`.");
action_route!(
    cancel,
    Action::Cancel,
    "`POST /api/v1/calls/{call_id}/cancel`."
);
action_route!(end, Action::End, "`POST /api/v1/calls/{call_id}/end`.");
