//! Messages on the signal WebSocket (docs/engine-api.md, "Signal WebSocket").

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::calls::CallWire;
use crate::api::chat::{ConversationWire, MessageWire};
use crate::api::models::SessionInfoWire;
use crate::api::rooms::SeatsWire;
use crate::api::stage::StageWire;

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
    /// The seat grid of a subscribed audio room, current or changed.
    #[serde(rename = "seats.updated")]
    SeatsUpdated { seats: SeatsWire },
    /// The stage of a subscribed live stream, current or changed.
    #[serde(rename = "stage.updated")]
    StageUpdated { stage: StageWire },
    /// A viewer asked the host (this user) to join the stage.
    #[serde(rename = "stage.requested")]
    StageRequested {
        room_name: String,
        identity: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        created_at_ms: u64,
    },
    /// A call to this user (sent to all of the callee's devices).
    #[serde(rename = "call.invitation")]
    CallInvitation { call: CallWire },
    /// A call of this user changed (sent to all devices of both parties).
    #[serde(rename = "call.updated")]
    CallUpdated { call: CallWire },
    /// A new message in one of this user's conversations (the user's own
    /// sends too), with the user's unread counts after it.
    #[serde(rename = "chat.message")]
    ChatMessage {
        message: MessageWire,
        #[serde(default)]
        unread_count: Option<u64>,
        #[serde(default)]
        total_unread: Option<u64>,
    },
    /// A message was edited or deleted (the tombstone).
    #[serde(rename = "chat.message.updated")]
    ChatMessageUpdated { message: MessageWire },
    /// A member's read / delivered position moved.
    #[serde(rename = "chat.receipt")]
    ChatReceipt {
        conversation_id: String,
        identity: String,
        last_read_seq: u64,
        last_delivered_seq: u64,
    },
    /// This user's own read position moved (on any device).
    #[serde(rename = "chat.unread")]
    ChatUnread {
        conversation_id: String,
        unread_count: u64,
        total_unread: u64,
    },
    /// A conversation was created, renamed, or its members changed.
    #[serde(rename = "chat.conversation")]
    ChatConversation { conversation: ConversationWire },
    /// This user was removed from a conversation or left it.
    #[serde(rename = "chat.removed")]
    ChatRemoved { conversation_id: String },
    /// A conversation's typer list changed.
    #[serde(rename = "typing")]
    Typing {
        conversation_id: String,
        #[serde(default)]
        typers: Vec<String>,
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
    /// Start receiving a room's `seats.updated` / `stage.updated` (the
    /// engine answers with the current state first).
    #[serde(rename = "room.subscribe")]
    RoomSubscribe {
        room_name: String,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// Stop receiving a room's pushes.
    #[serde(rename = "room.unsubscribe")]
    RoomUnsubscribe {
        room_name: String,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
    /// This user starts or stops typing in a conversation.
    #[serde(rename = "typing")]
    Typing {
        conversation_id: String,
        typing: bool,
        #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
        reference: Option<String>,
    },
}

impl ClientMessage {
    /// Tags the message with a correlation ref, when it can carry one.
    pub fn with_reference(mut self, value: String) -> Self {
        match &mut self {
            Self::PresenceWatch { reference, .. }
            | Self::PresenceUnwatch { reference, .. }
            | Self::RoomSubscribe { reference, .. }
            | Self::RoomUnsubscribe { reference, .. }
            | Self::Typing { reference, .. } => {
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
            serde_json::from_str(r#"{"type":"poll.created","poll":{}}"#).expect("unknown type");
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

    #[test]
    fn room_pushes_parse() {
        let seats: ServerMessage = serde_json::from_str(
            r#"{"type":"seats.updated","seats":{"room_name":"lobby","seat_count":2,"seat_mode":"free",
                "seats":[{"index":0,"identity":"u1","name":"U1","muted":false},
                         {"index":1,"identity":null,"name":null,"muted":false}],
                "requests":[]}}"#,
        )
        .expect("seats.updated");
        match seats {
            ServerMessage::SeatsUpdated { seats } => {
                assert_eq!(seats.room_name, "lobby");
                assert_eq!(seats.seat_count, 2);
                assert_eq!(seats.seats[0].identity.as_deref(), Some("u1"));
                assert_eq!(seats.seats[1].identity, None);
            }
            other => panic!("unexpected {other:?}"),
        }

        let stage: ServerMessage = serde_json::from_str(
            r#"{"type":"stage.updated","stage":{"room_name":"show",
                "members":[{"identity":"h","name":"Host","role":"host"}],
                "requests":[{"identity":"v9","name":null,"created_at_ms":5}]}}"#,
        )
        .expect("stage.updated");
        match stage {
            ServerMessage::StageUpdated { stage } => {
                assert_eq!(stage.room_name, "show");
                assert_eq!(stage.members[0].role, "host");
                assert_eq!(stage.requests[0].identity, "v9");
                assert_eq!(stage.requests[0].created_at_ms, 5);
            }
            other => panic!("unexpected {other:?}"),
        }

        let requested: ServerMessage = serde_json::from_str(
            r#"{"type":"stage.requested","room_name":"show","identity":"v9","name":"Vee","created_at_ms":42}"#,
        )
        .expect("stage.requested");
        assert_eq!(
            requested,
            ServerMessage::StageRequested {
                room_name: "show".into(),
                identity: "v9".into(),
                name: Some("Vee".into()),
                created_at_ms: 42,
            }
        );
        let minimal: ServerMessage = serde_json::from_str(
            r#"{"type":"stage.requested","room_name":"show","identity":"v9","name":null}"#,
        )
        .expect("stage.requested without a time");
        assert!(matches!(
            minimal,
            ServerMessage::StageRequested {
                name: None,
                created_at_ms: 0,
                ..
            }
        ));

        // A push missing its payload is malformed, not silently unknown.
        assert!(serde_json::from_str::<ServerMessage>(r#"{"type":"seats.updated"}"#).is_err());
        assert!(serde_json::from_str::<ServerMessage>(
            r#"{"type":"stage.updated","stage":{"room_name":"show"}}"#
        )
        .is_err());
    }

    #[test]
    fn chat_pushes_parse_and_typing_serializes() {
        let push: ServerMessage = serde_json::from_str(
            r#"{"type":"chat.message","unread_count":2,"total_unread":5,"message":{
                "message_id":"msg_1","conversation_id":"conv_1","seq":4,"mod_seq":9,
                "sender_identity":"u2","client_message_id":"c","text":"hi","attachments":[],
                "created_at_ms":1,"edited_at_ms":null,"deleted":false}}"#,
        )
        .expect("chat.message");
        assert!(matches!(
            push,
            ServerMessage::ChatMessage { ref message, unread_count: Some(2), total_unread: Some(5) }
                if message.seq == 4
        ));
        let typing: ServerMessage =
            serde_json::from_str(r#"{"type":"typing","conversation_id":"conv_1","typers":["u2"]}"#)
                .expect("typing");
        assert_eq!(
            typing,
            ServerMessage::Typing {
                conversation_id: "conv_1".into(),
                typers: vec!["u2".into()]
            }
        );
        // A chat push without its message is malformed, not silently unknown.
        assert!(serde_json::from_str::<ServerMessage>(r#"{"type":"chat.message"}"#).is_err());
        let out = ClientMessage::Typing {
            conversation_id: "conv_1".into(),
            typing: true,
            reference: None,
        }
        .with_reference("9".into());
        assert_eq!(
            serde_json::to_string(&out).expect("json"),
            r#"{"type":"typing","conversation_id":"conv_1","typing":true,"ref":"9"}"#
        );
    }

    #[test]
    fn room_subscriptions_serialize_to_the_contract() {
        let subscribe = ClientMessage::RoomSubscribe {
            room_name: "lobby".into(),
            reference: None,
        };
        assert_eq!(
            serde_json::to_string(&subscribe).expect("json"),
            r#"{"type":"room.subscribe","room_name":"lobby"}"#
        );
        assert_eq!(
            serde_json::to_string(&subscribe.with_reference("3".into())).expect("json"),
            r#"{"type":"room.subscribe","room_name":"lobby","ref":"3"}"#
        );
        let unsubscribe = ClientMessage::RoomUnsubscribe {
            room_name: "lobby".into(),
            reference: None,
        }
        .with_reference("4".into());
        assert_eq!(
            serde_json::to_string(&unsubscribe).expect("json"),
            r#"{"type":"room.unsubscribe","room_name":"lobby","ref":"4"}"#
        );
    }
}
