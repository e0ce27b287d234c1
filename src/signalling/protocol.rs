//! Messages on the signal WebSocket (docs/engine-api.md, "Signal WebSocket").

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::models::SessionInfoWire;

/// A message from the engine.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "type")]
pub enum ServerMessage {
    /// First message after a successful upgrade.
    #[serde(rename = "hello")]
    Hello {
        identity: String,
        #[serde(default)]
        session: Option<SessionInfoWire>,
        #[serde(default)]
        heartbeat_ms: Option<u64>,
    },
    /// A watched user's presence, current or changed.
    #[serde(rename = "presence")]
    Presence {
        identity: String,
        online: bool,
        #[serde(default)]
        last_seen_ms: Option<u64>,
    },
    /// Server heartbeat; must be answered with a pong.
    #[serde(rename = "ping")]
    Ping {
        #[serde(default)]
        ts_ms: Option<u64>,
    },
    /// Confirms a client message that carried `ref`.
    #[serde(rename = "ack")]
    Ack {
        #[serde(rename = "ref")]
        reference: Value,
    },
    /// A client message was refused (the connection stays open).
    #[serde(rename = "error")]
    Error {
        code: String,
        #[serde(default)]
        message: Option<String>,
        #[serde(rename = "ref", default)]
        reference: Option<Value>,
    },
    /// Answer to a client `echo` (round-trip measurement).
    #[serde(rename = "echo")]
    Echo {
        #[serde(rename = "ref")]
        reference: Value,
    },
    /// A message type this SDK version does not know yet.
    #[serde(other)]
    Unknown,
}

/// A message to the engine.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "type")]
pub enum ClientMessage {
    /// Start receiving presence for these identities.
    #[serde(rename = "presence.watch")]
    PresenceWatch {
        identities: Vec<String>,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// Stop receiving presence for these identities.
    #[serde(rename = "presence.unwatch")]
    PresenceUnwatch {
        identities: Vec<String>,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// Heartbeat answer.
    #[serde(rename = "pong")]
    Pong {
        #[serde(skip_serializing_if = "Option::is_none")]
        ts_ms: Option<u64>,
    },
    /// Asks the engine to echo back (round-trip measurement).
    #[serde(rename = "echo")]
    Echo {
        #[serde(rename = "ref")]
        reference: String,
    },
}

impl ClientMessage {
    /// Tags the message with a correlation ref, when it can carry one.
    pub fn with_reference(mut self, value: String) -> Self {
        match &mut self {
            Self::PresenceWatch { reference, .. } | Self::PresenceUnwatch { reference, .. } => {
                *reference = Some(value);
            }
            Self::Echo { reference } => *reference = value,
            Self::Pong { .. } => {}
        }
        self
    }
}

/// A `ref` as the engine echoed it, as a string whatever its JSON type.
pub fn reference_key(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Close codes the engine uses (docs/engine-api.md).
pub mod close_code {
    /// The bearer is invalid, expired or revoked.
    pub const UNAUTHENTICATED: u16 = 4401;
    /// Banned, or the plan lacks signalling (`reason` says which).
    pub const FORBIDDEN: u16 = 4403;
    /// Too many connection attempts; reason `rate_limited:<ms>`.
    pub const RATE_LIMITED: u16 = 4429;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_and_unknown_server_messages() {
        let hello: ServerMessage = serde_json::from_str(
            r#"{"type":"hello","identity":"u1","heartbeat_ms":5000,"session":{"identity":"u1","signaling_enabled":true,"messaging_enabled":null,"plan":"signaling"}}"#,
        )
        .expect("hello");
        match hello {
            ServerMessage::Hello {
                session: Some(s),
                heartbeat_ms,
                ..
            } => {
                assert_eq!(s.signaling_enabled, Some(true));
                assert_eq!(s.messaging_enabled, None);
                assert_eq!(heartbeat_ms, Some(5000));
            }
            other => panic!("unexpected {other:?}"),
        }
        let later: ServerMessage =
            serde_json::from_str(r#"{"type":"call.invitation","call_id":"c1"}"#)
                .expect("unknown type");
        assert_eq!(later, ServerMessage::Unknown);
        assert!(
            serde_json::from_str::<ServerMessage>(r#"{"type":"presence","identity":1}"#).is_err()
        );
    }

    #[test]
    fn client_messages_serialize_to_the_contract() {
        let watch = ClientMessage::PresenceWatch {
            identities: vec!["u2".into()],
            reference: None,
        }
        .with_reference("7".into());
        assert_eq!(
            serde_json::to_string(&watch).expect("json"),
            r#"{"type":"presence.watch","identities":["u2"],"ref":"7"}"#
        );
        assert_eq!(reference_key(&Value::from(7)), "7");
    }
}
