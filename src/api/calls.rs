//! 1:1 calls (docs/engine-api.md §5): create, read, and act on a call.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::credentials::BearerToken;
use super::{validate_identity, Auth, EngineApi};
use crate::error::UTDStreamError;
use crate::types::UTDStreamType;

/// A call as the engine reports it. Debug is safe (no tokens in it).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CallWire {
    /// `call_` + 22 base64url characters.
    pub call_id: String,
    /// `audio_call` or `video_call`.
    #[serde(rename = "type")]
    pub stream_type: String,
    /// The engine's status (`initiating`, `ringing`, `active`, terminal ones).
    pub status: String,
    /// Who called.
    pub caller_identity: String,
    /// The caller's display name.
    #[serde(default)]
    pub caller_name: Option<String>,
    /// Who is called.
    pub callee_identity: String,
    /// The callee's display name as the caller gave it.
    #[serde(default)]
    pub callee_name: Option<String>,
    /// The media room (equals the call id).
    pub room_name: String,
    /// The caller's metadata object.
    #[serde(default)]
    pub metadata: Value,
    /// Creation time (ms since the Unix epoch).
    #[serde(default)]
    pub created_at_ms: u64,
    /// Last transition (ms since the Unix epoch).
    #[serde(default)]
    pub updated_at_ms: u64,
    /// The callee device that answered, once active (null without device ids).
    #[serde(default)]
    pub answered_by_device: Option<String>,
    /// Why the call ended, once terminal.
    #[serde(default)]
    pub end_reason: Option<String>,
}

/// Media room credentials for one party. Debug hides the token.
#[derive(Clone, Deserialize)]
pub struct CallJoinWire {
    /// LiveKit JWT.
    pub token: String,
    /// LiveKit URL.
    pub url: String,
    /// The call's room.
    pub room_name: String,
}

impl std::fmt::Debug for CallJoinWire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallJoinWire")
            .field("token", &"[redacted]")
            .field("url", &self.url)
            .field("room_name", &self.room_name)
            .finish()
    }
}

/// A call plus, for `create` and `accept`, this party's join credentials.
#[derive(Debug, Clone, Deserialize)]
pub struct CallReply {
    /// The call.
    #[serde(flatten)]
    pub call: CallWire,
    /// Join credentials (create: caller; accept: callee).
    #[serde(default)]
    pub join: Option<CallJoinWire>,
}

/// `GET /calls?role=callee&status=pending` reply.
#[derive(Debug, Deserialize)]
struct CallList {
    calls: Vec<CallWire>,
}

#[derive(Serialize)]
struct CreateCall<'a> {
    callee_identity: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    callee_name: Option<&'a str>,
    #[serde(rename = "type")]
    stream_type: &'static str,
    metadata: &'a Value,
}

/// The engine caps metadata at 4 KiB serialized; checked here first so the
/// app gets a precise error without a round trip.
pub const MAX_METADATA_BYTES: usize = 4096;

/// Call ids are `call_` + base64url; anything else never reaches a URL path.
pub fn validate_call_id(call_id: &str) -> Result<(), UTDStreamError> {
    let ok = call_id.starts_with("call_")
        && call_id.len() <= 64
        && call_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(UTDStreamError::invalid_argument(format!(
            "{call_id:?} is not a call id (call_ followed by letters, digits, - and _)"
        )))
    }
}

impl EngineApi {
    /// `POST /calls`: calls `callee_identity`; returns the call (initiating)
    /// and the caller's join credentials.
    pub async fn create_call(
        &self,
        bearer: &BearerToken,
        callee_identity: &str,
        callee_name: Option<&str>,
        stream_type: UTDStreamType,
        metadata: &Value,
    ) -> Result<CallReply, UTDStreamError> {
        validate_identity(callee_identity)?;
        if !stream_type.is_call() {
            return Err(UTDStreamError::invalid_argument(format!(
                "{} is not a call type (audioCall or videoCall)",
                stream_type.as_wire()
            )));
        }
        if !metadata.is_object() {
            return Err(UTDStreamError::invalid_argument(
                "call metadata must be a JSON object",
            ));
        }
        let size = serde_json::to_vec(metadata).map(|v| v.len()).unwrap_or(0);
        if size > MAX_METADATA_BYTES {
            return Err(UTDStreamError::invalid_argument(format!(
                "call metadata is {size} bytes; at most {MAX_METADATA_BYTES} are allowed"
            )));
        }
        let body = CreateCall {
            callee_identity,
            callee_name,
            stream_type: stream_type.as_wire(),
            metadata,
        };
        self.call(
            Method::POST,
            self.base(),
            "api/v1/calls",
            Auth::User(bearer),
            Some(&body),
        )
        .await
    }

    /// `GET /calls/{id}`: the authoritative state.
    pub async fn get_call(
        &self,
        bearer: &BearerToken,
        call_id: &str,
    ) -> Result<CallWire, UTDStreamError> {
        validate_call_id(call_id)?;
        let path = format!("api/v1/calls/{call_id}");
        self.call::<(), _>(Method::GET, self.base(), &path, Auth::User(bearer), None)
            .await
    }

    /// `GET /calls?role=callee&status=pending`: the calls ringing for this
    /// user right now (initiating or ringing, this user the callee), oldest
    /// first.
    pub async fn pending_calls(
        &self,
        bearer: &BearerToken,
    ) -> Result<Vec<CallWire>, UTDStreamError> {
        let list: CallList = self
            .call::<(), _>(
                Method::GET,
                self.base(),
                "api/v1/calls?role=callee&status=pending",
                Auth::User(bearer),
                None,
            )
            .await?;
        Ok(list.calls)
    }

    /// `POST /calls/{id}/{action}` (`ringing`, `accept`, `reject`, `busy`,
    /// `cancel`, `end`): the call after the action (`join` on accept).
    pub async fn act_on_call(
        &self,
        bearer: &BearerToken,
        call_id: &str,
        action: &str,
    ) -> Result<CallReply, UTDStreamError> {
        validate_call_id(call_id)?;
        let path = format!("api/v1/calls/{call_id}/{action}");
        self.call::<(), _>(Method::POST, self.base(), &path, Auth::User(bearer), None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_ids_are_checked_before_they_reach_a_path() {
        assert!(validate_call_id("call_Yf3abcdefghijklmnopqrs").is_ok());
        for bad in ["", "Yf3", "call_../x", "call_a/b", "call_a?b"] {
            assert!(validate_call_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_reply_with_join_hides_the_token_in_debug() {
        let reply: CallReply = serde_json::from_str(
            r#"{"call_id":"call_x","type":"audio_call","status":"initiating","caller_identity":"a","caller_name":null,"callee_identity":"b","callee_name":"B","room_name":"call_x","metadata":{},"created_at_ms":1,"updated_at_ms":1,"join":{"token":"secret.jwt","url":"ws://x","room_name":"call_x"}}"#,
        )
        .expect("reply");
        assert_eq!(reply.call.status, "initiating");
        let debug = format!("{reply:?}");
        assert!(!debug.contains("secret.jwt"), "{debug}");
    }
}
