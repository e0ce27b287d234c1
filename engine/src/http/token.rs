//! `POST /api/v1/token`: LiveKit room tokens with role-aware grants.

use axum::extract::State;
use axum::Json;
use livekit_api::access_token::{AccessToken, VideoGrants};
use serde::{Deserialize, Serialize};

use super::auth::UserOrApp;
use super::errors::{ApiError, Capability};
use super::extract::JsonBody;
use super::session::{admit_identity, store_session, validate_identity, validate_profile};
use crate::db::rooms::RoomClaim;
use crate::ids::is_valid_name_token;
use crate::state::AppState;

/// The four product types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamType {
    /// Seat-based audio room.
    AudioRoom,
    /// One host, many viewers, a stage of co-publishers.
    LiveStream,
    /// 1:1 audio call.
    AudioCall,
    /// 1:1 video call.
    VideoCall,
}

impl StreamType {
    fn as_str(self) -> &'static str {
        match self {
            StreamType::AudioRoom => "audio_room",
            StreamType::LiveStream => "live_stream",
            StreamType::AudioCall => "audio_call",
            StreamType::VideoCall => "video_call",
        }
    }
}

/// Body of the room-token mint.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    identity: Option<String>,
    name: Option<String>,
    device_id: Option<String>,
    room_name: String,
    stream_type: StreamType,
    #[serde(default)]
    as_host: bool,
}

/// Reply of the room-token mint.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    token: String,
    url: String,
    room_name: String,
    user_token: String,
    ws_url: Option<String>,
    role: &'static str,
}

/// The LiveKit room name of an app's room (never shown to clients).
pub(crate) fn livekit_room(app_id: &str, room_name: &str) -> String {
    format!("{app_id}_{room_name}")
}

/// Grants for a role. Publish rights are never granted to listeners; the
/// sources are limited by product (audio rooms are audio-only).
pub(crate) fn grants_for(livekit_room: &str, stream_type: StreamType, host: bool) -> VideoGrants {
    let sources: Vec<String> = match (stream_type, host) {
        (_, false) => vec![],
        (StreamType::AudioRoom | StreamType::AudioCall, true) => vec!["microphone".into()],
        (StreamType::LiveStream | StreamType::VideoCall, true) => {
            vec!["camera".into(), "microphone".into()]
        }
    };
    VideoGrants {
        room_join: true,
        room: livekit_room.to_owned(),
        room_admin: false,
        can_publish: Some(host),
        can_subscribe: Some(true),
        can_publish_data: Some(true),
        can_publish_sources: sources,
        can_update_own_metadata: Some(false),
        ..Default::default()
    }
}

/// Signs a LiveKit access token. `room_config`: what LiveKit applies when
/// this token's join is the one that creates the room.
pub(crate) fn sign_room_token(
    state: &AppState,
    identity: &str,
    name: Option<&str>,
    grants: VideoGrants,
    role: &str,
    room_config: Option<livekit_protocol::RoomConfiguration>,
) -> Result<String, ApiError> {
    let metadata = serde_json::json!({ "role": role }).to_string();
    let mut token = AccessToken::with_api_key(
        &state.config.livekit_api_key,
        &state.config.livekit_api_secret,
    )
    .with_identity(identity)
    .with_ttl(state.config.room_token_ttl)
    .with_grants(grants)
    .with_metadata(&metadata);
    if let Some(name) = name {
        token = token.with_name(name);
    }
    if let Some(config) = room_config {
        token = token.with_room_config(config);
    }
    token.to_jwt().map_err(|e| {
        tracing::error!(error = %e, "could not sign a room token");
        ApiError::internal("could not sign the room token")
    })
}

/// `POST /api/v1/token`.
pub async fn mint(
    State(state): State<AppState>,
    auth: UserOrApp,
    JsonBody(req): JsonBody<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    if !is_valid_name_token(&req.room_name) {
        return Err(ApiError::invalid_argument(
            "room_name must be 1..=128 characters of [A-Za-z0-9_.@:-]",
        ));
    }
    validate_profile(req.name.as_deref(), req.device_id.as_deref())?;
    let (app, identity, name, existing) = match &auth {
        UserOrApp::User(user) => {
            if let Some(claimed) = &req.identity {
                if claimed != &user.session.identity {
                    return Err(ApiError::forbidden(
                        "identity does not match the bearer's identity",
                    ));
                }
            }
            let name = req.name.clone().or_else(|| user.session.name.clone());
            (
                user.app.clone(),
                user.session.identity.clone(),
                name,
                Some(user.token.clone()),
            )
        }
        UserOrApp::App(app) => {
            let identity = req.identity.clone().ok_or_else(|| {
                ApiError::invalid_argument("identity is required with app headers")
            })?;
            validate_identity(&identity)?;
            (app.clone(), identity, req.name.clone(), None)
        }
    };

    if matches!(
        req.stream_type,
        StreamType::AudioCall | StreamType::VideoCall
    ) {
        // Call rooms are only reachable through a call: `room_name` must be
        // the room of a call this identity is a party to (engine-api.md §3).
        if existing.is_none() {
            admit_identity(&state, &app, &identity).await?;
        }
        if !app.signaling_enabled() {
            return Err(ApiError::feature_disabled(Capability::Signaling));
        }
        let device = match &auth {
            UserOrApp::User(user) => user.session.device_id.clone(),
            UserOrApp::App(_) => req.device_id.clone(),
        };
        let (call, side) = super::calls::party_of_room(
            &state,
            &app.app_id,
            &req.room_name,
            req.stream_type,
            &identity,
            device.as_deref(),
        )
        .await?;
        let user_token = match existing {
            Some(t) => t,
            None => {
                store_session(
                    &state,
                    &app,
                    &identity,
                    name.as_deref(),
                    req.device_id.as_deref(),
                )
                .await?
                .0
            }
        };
        let token = super::calls::party_token(&state, &call, &identity, name.as_deref(), side)?;
        let role = match side {
            crate::db::calls::Side::Caller => "caller",
            crate::db::calls::Side::Callee => "callee",
        };
        tracing::info!(app_id = %app.app_id, identity, room = %req.room_name, role, "call room token minted");
        return Ok(Json(TokenResponse {
            token,
            url: state.config.livekit_url.clone(),
            room_name: req.room_name,
            user_token,
            ws_url: Some(state.ws_url.clone()),
            role,
        }));
    }

    // For app-header requests the ban and rate-limit checks happen here,
    // before anything is written (the bearer path already did them).
    if existing.is_none() {
        admit_identity(&state, &app, &identity).await?;
    }

    let (app_id, room, kind, ident, as_host) = (
        app.app_id.clone(),
        req.room_name.clone(),
        req.stream_type.as_str(),
        identity.clone(),
        req.as_host,
    );
    let claim = state
        .db
        .call(move |c| crate::db::rooms::claim(c, &app_id, &room, kind, &ident, as_host))
        .await?;
    let host = match claim {
        RoomClaim::Host => true,
        RoomClaim::Audience => false,
        RoomClaim::WrongType => {
            return Err(ApiError::conflict(
                "the room exists with another stream_type",
            ))
        }
        RoomClaim::OwnedByOther => {
            return Err(ApiError::forbidden("the room is hosted by someone else"))
        }
    };
    // The session is stored only once the room check passed, so a refused
    // request leaves no session behind.
    let user_token = match existing {
        Some(t) => t,
        None => {
            store_session(
                &state,
                &app,
                &identity,
                name.as_deref(),
                req.device_id.as_deref(),
            )
            .await?
            .0
        }
    };
    // A seated listener / stage co-host re-minting (or minting after being
    // promoted before joining LiveKit) gets the speaker's publish grant.
    let speaker = if host {
        false
    } else {
        let (a, r, i, kind) = (
            app.app_id.clone(),
            req.room_name.clone(),
            identity.clone(),
            req.stream_type,
        );
        state
            .db
            .call(move |c| match kind {
                StreamType::AudioRoom => crate::db::seats::is_seated(c, &a, &r, &i),
                StreamType::LiveStream => crate::db::stage::is_member(c, &a, &r, &i),
                _ => Ok(false),
            })
            .await?
    };
    let role = if host {
        "host"
    } else if speaker {
        "speaker"
    } else {
        "audience"
    };
    let lk_room = livekit_room(&app.app_id, &req.room_name);
    let grants = grants_for(&lk_room, req.stream_type, host || speaker);
    let token = sign_room_token(&state, &identity, name.as_deref(), grants, role, None)?;
    tracing::info!(app_id = %app.app_id, identity, room = %req.room_name, role, "room token minted");
    Ok(Json(TokenResponse {
        token,
        url: state.config.livekit_url.clone(),
        room_name: req.room_name,
        user_token,
        ws_url: app.signaling_enabled().then(|| state.ws_url.clone()),
        role,
    }))
}
