//! The LiveKit room of a call: created beside the replies (its settings also
//! ride in the parties' tokens), deleted when the call is over, and the party
//! tokens.

// The call rules and helpers of the parent.
use super::*;

/// LiveKit `empty_timeout` of a call room: long enough for an unanswered
/// call's room to wait for its first join, short enough not to linger.
pub(super) fn empty_timeout_secs(state: &AppState) -> u32 {
    u32::try_from(state.config.ring_timeout.as_secs().saturating_add(30)).unwrap_or(u32::MAX)
}

/// Creates (or re-asserts) the call's LiveKit room in the background, best
/// effort (logged): no call route waits on LiveKit, so a frozen SFU cannot
/// hold a reply while the ring clock runs. A party's join never finds the
/// room missing its cap: the party tokens carry the same room configuration
/// (`call_room_config`), which LiveKit applies when that join creates it.
pub(super) fn ensure_room(state: &AppState, call: &CallRecord) {
    let state = state.clone();
    let lk_room = livekit_room(&call.app_id, &call.call_id);
    tokio::spawn(async move {
        crate::livekit::create_call_room(
            &state.room_client,
            &state.metrics,
            &lk_room,
            empty_timeout_secs(&state),
        )
        .await
    });
}

/// Deletes the LiveKit room of a call that is over, in the background (best
/// effort, logged), so nobody lingers in it.
pub(crate) fn close_room(state: &AppState, call: &CallRecord) {
    let state = state.clone();
    let lk_room = livekit_room(&call.app_id, &call.call_id);
    tokio::spawn(async move {
        crate::livekit::delete_room(&state.room_client, &state.metrics, &lk_room).await
    });
}

/// After a committed action: deletes the room if the call ended.
pub(super) fn after(state: &AppState, acted: &Acted) {
    if let Some(last) = acted.changes.last() {
        if last.status.is_terminal() {
            close_room(state, last);
        }
    }
}

/// The LiveKit token of a call party (`caller` / `callee`: publish audio,
/// plus camera for video calls).
pub(crate) fn party_token(
    state: &AppState,
    call: &CallRecord,
    identity: &str,
    name: Option<&str>,
    side: Side,
) -> Result<String, ApiError> {
    let kind = match call.call_type.as_str() {
        "video_call" => StreamType::VideoCall,
        _ => StreamType::AudioCall,
    };
    let role = match side {
        Side::Caller => "caller",
        Side::Callee => "callee",
    };
    let lk_room = livekit_room(&call.app_id, &call.call_id);
    let grants = grants_for(&lk_room, kind, true);
    let config = crate::livekit::call_room_config(&lk_room, empty_timeout_secs(state));
    sign_room_token(state, identity, name, grants, role, Some(config))
}

pub(super) fn join_for(
    state: &AppState,
    call: &CallRecord,
    identity: &str,
    name: Option<&str>,
    side: Side,
) -> Result<Join, ApiError> {
    Ok(Join {
        token: party_token(state, call, identity, name, side)?,
        url: state.config.livekit_url.clone(),
        room_name: call.call_id.clone(),
    })
}

/// For `POST /api/v1/token` with a call stream type: the call whose room
/// `room_name` is, checked for `identity` (from a device `device`). The
/// caller may mint while the call is not over; the callee only while it is
/// active, from the device that answered.
pub(crate) async fn party_of_room(
    state: &AppState,
    app_id: &str,
    room_name: &str,
    stream_type: StreamType,
    identity: &str,
    device: Option<&str>,
) -> Result<(CallRecord, Side), ApiError> {
    if !is_call_id(room_name) {
        return Err(ApiError::not_found("no such call room"));
    }
    let st = state.clone();
    let (a, id, i) = (app_id.to_owned(), room_name.to_owned(), identity.to_owned());
    let timeout = ring_timeout_ms(state);
    let order = in_order(room_name).await;
    let (acted, queued) = state
        .db
        .call(move |c| {
            let acted = calls::act(c, &a, &id, &i, None, None, timeout)?;
            let queued = outbox(&st, c, &acted.changes)?;
            Ok((acted, queued))
        })
        .await?;
    publish(state, &acted.changes, queued);
    drop(order);
    after(state, &acted);
    let (call, side) = match acted.result {
        ActResult::NotFound => return Err(ApiError::not_found("no such call room")),
        ActResult::Done(call, side) => (*call, side),
        other => return Err(refusal(other)),
    };
    let kind = match stream_type {
        StreamType::VideoCall => "video_call",
        _ => "audio_call",
    };
    if call.call_type != kind {
        return Err(ApiError::conflict(
            "the call room is of another stream_type",
        ));
    }
    match side {
        Side::Caller if call.status.is_terminal() => {
            Err(ApiError::invalid_state("the call is over"))
        }
        Side::Callee if call.status != Status::Active => Err(ApiError::invalid_state(
            "the callee joins a call by accepting it",
        )),
        Side::Callee if call.answered_by_device.as_deref() != device => Err(ApiError::conflict(
            "the call was answered on another device",
        )),
        _ => {
            ensure_room(state, &call);
            Ok((call, side))
        }
    }
}
