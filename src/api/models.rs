//! Wire shapes of engine replies (docs/engine-api.md). Internal: the public
//! records in `crate::types` are built from these with `From`.

use serde::Deserialize;

/// Session facts shared by the session mint, `GET /me` and the WS `hello`.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct SessionInfoWire {
    pub identity: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub device_id: Option<String>,
    #[serde(default)]
    pub expires_at_ms: Option<u64>,
    #[serde(default)]
    pub plan: Option<String>,
    #[serde(default)]
    pub signaling_enabled: Option<bool>,
    #[serde(default)]
    pub messaging_enabled: Option<bool>,
    #[serde(default)]
    pub limits: Option<LimitsWire>,
}

/// Plan limits; every field may be null (the engine did not report it).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct LimitsWire {
    #[serde(default)]
    pub history_days: Option<i32>,
    #[serde(default)]
    pub max_group_members: Option<i32>,
    #[serde(default)]
    pub max_friends: Option<i32>,
    #[serde(default)]
    pub max_chatrooms: Option<i32>,
    #[serde(default)]
    pub max_upload_bytes: Option<i64>,
}

/// `POST /api/v1/auth/session` reply.
#[derive(Clone, Deserialize)]
pub struct SessionReply {
    pub user_token: String,
    #[serde(flatten)]
    pub info: SessionInfoWire,
}

impl std::fmt::Debug for SessionReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionReply")
            .field("user_token", &"[redacted]")
            .field("info", &self.info)
            .finish()
    }
}
