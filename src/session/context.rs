//! What every room session shares: the client's engine session, its
//! signalling connection, and the join sequence (session → room token →
//! media connect).

use std::sync::Arc;

use crate::api::credentials::BearerToken;
use crate::api::rooms::RoomTokenReply;
use crate::auth::{AuthState, UserSession};
use crate::error::UTDStreamError;
use crate::media::TransportOptions;
use crate::session::RoomCore;
use crate::signalling::Signalling;
use crate::types::UTDStreamType;

/// The client parts a session uses. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SessionContext {
    /// The client's engine session and REST facade.
    pub auth: Arc<AuthState>,
    /// The client's signalling connection (seat / stage pushes).
    pub signalling: Arc<Signalling>,
}

/// Who joins which room, and how.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// The joining user.
    pub identity: String,
    /// The (un-prefixed) room name.
    pub room_name: String,
    /// Audio room, live stream, or a call type.
    pub stream_type: UTDStreamType,
    /// Join as the room's host (owner).
    pub as_host: bool,
    /// Display name.
    pub name: Option<String>,
    /// Device id.
    pub device_id: Option<String>,
}

/// The engine's answer to a join: who we are in the room.
#[derive(Debug, Clone)]
pub struct Admission {
    /// The bearer the room token was minted with.
    pub bearer: BearerToken,
    /// The (un-prefixed) room name as the engine reports it.
    pub room_name: String,
    /// Whether the engine made us the host.
    pub is_host: bool,
}

impl SessionContext {
    /// Mints a room token for `request` (authenticating first when the client
    /// has no session for that identity) and connects `core` to the room.
    pub async fn join(
        &self,
        core: &Arc<RoomCore>,
        request: &JoinRequest,
        options: TransportOptions,
    ) -> Result<Admission, UTDStreamError> {
        let session = self.session_for(request).await?;
        let reply: RoomTokenReply = self
            .auth
            .api
            .room_token(
                &session.bearer,
                &request.room_name,
                request.stream_type,
                request.as_host,
                request.name.as_deref(),
            )
            .await?;
        core.connect(&reply.url, &reply.token, options).await?;
        Ok(Admission {
            bearer: session.bearer,
            room_name: reply.room_name,
            is_host: reply.role == "host",
        })
    }

    /// The bearer to call the engine with on behalf of `identity`: the
    /// client's current one while it is still that user (it may have been
    /// re-minted since the join), otherwise the one from the join.
    pub fn bearer_for(&self, identity: &str, joined_with: &BearerToken) -> BearerToken {
        match self.auth.current() {
            Some(session) if session.identity == identity => session.bearer,
            _ => joined_with.clone(),
        }
    }

    /// Opens signalling if it is not running and subscribes to `room`'s
    /// pushes. Without signalling (plan gate, engine unreachable) the session
    /// still works from REST replies; the reason is logged.
    pub async fn subscribe_room(&self, room: &str) {
        if let Err(e) = self.signalling.ensure_connected().await {
            tracing::warn!(target: "utd_stream::session", room, "no room pushes: signalling unavailable: {e}");
            return;
        }
        if let Err(e) = self.signalling.subscribe_room(room).await {
            tracing::warn!(target: "utd_stream::session", room, "no room pushes: subscribe refused: {e}");
        }
    }

    /// Drops this session's room subscription without waiting (a session
    /// dropped without `dispose`).
    pub fn release_room(&self, room: String) {
        let signalling = self.signalling.clone();
        crate::runtime::handle().spawn(async move {
            if let Err(e) = signalling.unsubscribe_room(&room).await {
                tracing::debug!(target: "utd_stream::session", "room unsubscribe: {e}");
            }
        });
    }

    async fn session_for(&self, request: &JoinRequest) -> Result<UserSession, UTDStreamError> {
        match self.auth.current() {
            Some(session) if session.identity == request.identity => Ok(session),
            _ => {
                self.auth
                    .authenticate(
                        &request.identity,
                        request.name.clone(),
                        request.device_id.clone(),
                    )
                    .await
            }
        }
    }
}
