//! Who is calling a room operation (seats, stage): the shared checks every
//! room route starts with.

use super::auth::User;
use super::errors::{ApiError, Capability};
use crate::ids::is_valid_name_token;
use crate::state::AppState;

/// The caller of a room route: app, identity, room, and whether they host it.
pub(crate) struct RoomCaller {
    pub app_id: String,
    pub identity: String,
    pub room: String,
    /// The room's owner (host), if it has one yet.
    pub owner: Option<String>,
    pub is_host: bool,
}

impl RoomCaller {
    /// Checks signaling, the room name, and that `room` is a known room of
    /// `kind` (`audio_room`, `live_stream`); anything else is `not_found`.
    pub async fn resolve(
        state: &AppState,
        user: &User,
        room: &str,
        kind: &'static str,
    ) -> Result<Self, ApiError> {
        if !user.app.signaling_enabled() {
            return Err(ApiError::feature_disabled(Capability::Signaling));
        }
        if !is_valid_name_token(room) {
            // No room can have such a name.
            return Err(ApiError::not_found("no such room"));
        }
        let (app_id, name) = (user.app.app_id.clone(), room.to_owned());
        let found = state
            .db
            .call(move |c| crate::db::seats::room(c, &app_id, &name))
            .await?;
        match found {
            Some((found_kind, owner)) if found_kind == kind => Ok(Self {
                app_id: user.app.app_id.clone(),
                identity: user.session.identity.clone(),
                room: room.to_owned(),
                is_host: owner.as_deref() == Some(user.session.identity.as_str()),
                owner,
            }),
            _ => Err(ApiError::not_found(match kind {
                "audio_room" => "no such audio room",
                "live_stream" => "no such live stream room",
                _ => "no such room",
            })),
        }
    }

    /// Refuses callers who do not host the room.
    pub fn require_host(&self) -> Result<(), ApiError> {
        if self.is_host {
            Ok(())
        } else {
            Err(ApiError::forbidden("only the room's host may do this"))
        }
    }
}
