//! JSON messages of the signal WebSocket (engine-api.md §11).

use serde_json::{json, Map, Value};

use crate::http::session::SessionView;

/// `hello`, always the first server message.
pub fn hello_message(session: &SessionView, heartbeat_ms: u64, connection_id: u64) -> String {
    json!({
        "type": "hello",
        "identity": session.identity,
        "session": session,
        "heartbeat_ms": heartbeat_ms,
        "connection_id": connection_id.to_string(),
    })
    .to_string()
}

/// `presence`.
pub fn presence_message(identity: &str, online: bool, last_seen_ms: Option<u64>) -> String {
    json!({
        "type": "presence",
        "identity": identity,
        "online": online,
        "last_seen_ms": if online { None } else { last_seen_ms },
    })
    .to_string()
}

/// `ping`.
pub fn ping_message(ts_ms: u64) -> String {
    json!({ "type": "ping", "ts_ms": ts_ms }).to_string()
}

/// `ack`.
pub fn ack_message(reference: &Value) -> String {
    json!({ "type": "ack", "ref": reference }).to_string()
}

/// `echo` reply.
pub fn echo_message(reference: &Value, payload: &Value) -> String {
    json!({ "type": "echo", "ref": reference, "payload": payload }).to_string()
}

/// `error`.
pub fn error_message(code: &str, message: &str, reference: Option<&Value>) -> String {
    let mut m = Map::new();
    m.insert("type".into(), "error".into());
    m.insert("code".into(), code.into());
    m.insert("message".into(), message.into());
    if let Some(r) = reference {
        m.insert("ref".into(), r.clone());
    }
    Value::Object(m).to_string()
}

/// `error` `feature_disabled` naming the capability (as REST's body).
pub fn feature_disabled_message(capability: &str, reference: Option<&Value>) -> String {
    let mut m = Map::new();
    m.insert("type".into(), "error".into());
    m.insert("code".into(), "feature_disabled".into());
    m.insert(
        "message".into(),
        format!("the {capability} capability is not enabled for this app's plan").into(),
    );
    m.insert("capability".into(), capability.into());
    if let Some(r) = reference {
        m.insert("ref".into(), r.clone());
    }
    Value::Object(m).to_string()
}

/// `seats.updated`.
pub fn seats_message(seats: &crate::db::seats::SeatsState) -> String {
    json!({ "type": "seats.updated", "seats": seats }).to_string()
}

/// A client message, parsed just enough to dispatch.
#[derive(Debug)]
pub enum ClientMessage {
    /// Heartbeat answer.
    Pong,
    /// Start watching identities.
    Watch(Vec<String>),
    /// Stop watching identities.
    Unwatch(Vec<String>),
    /// Round trip.
    Echo(Value),
    /// Receive a room's seat/stage events.
    RoomSubscribe(String),
    /// Stop receiving a room's events.
    RoomUnsubscribe(String),
    /// Chat typing state of the sender in a conversation.
    Typing {
        /// The conversation.
        conversation_id: String,
        /// Typing or stopped.
        typing: bool,
    },
}

/// A message with its optional `ref`.
#[derive(Debug)]
pub struct Envelope {
    /// The message.
    pub message: ClientMessage,
    /// The client's reference, echoed in `ack`/`error`/`echo`.
    pub reference: Option<Value>,
}

/// A refused client message: the reason and whatever `ref` could be read.
#[derive(Debug)]
pub struct Refusal {
    /// Human text.
    pub message: String,
    /// The `ref`, if readable.
    pub reference: Option<Value>,
}

/// Most identities in one watch/unwatch message.
pub const MAX_IDENTITIES_PER_MESSAGE: usize = 500;

fn valid_ref(value: &Value) -> bool {
    match value {
        Value::String(s) => s.len() <= 64,
        Value::Number(n) => n.is_i64() || n.is_u64(),
        _ => false,
    }
}

fn identities(obj: &Map<String, Value>) -> Result<Vec<String>, String> {
    let Some(Value::Array(items)) = obj.get("identities") else {
        return Err("identities must be an array of identities".into());
    };
    if items.is_empty() || items.len() > MAX_IDENTITIES_PER_MESSAGE {
        return Err(format!(
            "identities must hold 1..={MAX_IDENTITIES_PER_MESSAGE} entries"
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match item.as_str() {
            Some(s) if crate::ids::is_valid_name_token(s) => out.push(s.to_owned()),
            _ => return Err("identities must be 1..=128 characters of [A-Za-z0-9_.@:-]".into()),
        }
    }
    Ok(out)
}

/// Parses one text frame.
pub fn parse(text: &str) -> Result<Envelope, Refusal> {
    let value: Value = serde_json::from_str(text).map_err(|e| Refusal {
        message: format!("invalid JSON: {e}"),
        reference: None,
    })?;
    let Value::Object(obj) = value else {
        return Err(Refusal {
            message: "a message must be a JSON object".into(),
            reference: None,
        });
    };
    let reference = match obj.get("ref") {
        None | Some(Value::Null) => None,
        Some(r) if valid_ref(r) => Some(r.clone()),
        Some(_) => {
            return Err(Refusal {
                message: "ref must be a string of at most 64 characters or an integer".into(),
                reference: None,
            })
        }
    };
    let refuse = |message: String| Refusal {
        message,
        reference: reference.clone(),
    };
    let kind = obj
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| refuse("missing type".into()))?;
    let message = match kind {
        "pong" => ClientMessage::Pong,
        "presence.watch" => ClientMessage::Watch(identities(&obj).map_err(refuse)?),
        "presence.unwatch" => ClientMessage::Unwatch(identities(&obj).map_err(refuse)?),
        "echo" => {
            if reference.is_none() {
                return Err(refuse("echo needs a ref".into()));
            }
            ClientMessage::Echo(obj.get("payload").cloned().unwrap_or(Value::Null))
        }
        "room.subscribe" | "room.unsubscribe" => {
            let room = match obj.get("room_name").and_then(Value::as_str) {
                Some(r) if crate::ids::is_valid_name_token(r) => r.to_owned(),
                _ => {
                    return Err(refuse(
                        "room_name must be 1..=128 characters of [A-Za-z0-9_.@:-]".into(),
                    ))
                }
            };
            if kind == "room.subscribe" {
                ClientMessage::RoomSubscribe(room)
            } else {
                ClientMessage::RoomUnsubscribe(room)
            }
        }
        "typing" => {
            let conversation_id = match obj.get("conversation_id").and_then(Value::as_str) {
                Some(c) if crate::chat::is_conversation_id(c) => c.to_owned(),
                _ => {
                    return Err(refuse(
                        "conversation_id must be a conversation id (conv_ and 22 base64url \
                         characters)"
                            .into(),
                    ))
                }
            };
            let Some(typing) = obj.get("typing").and_then(Value::as_bool) else {
                return Err(refuse("typing must be a boolean".into()));
            };
            ClientMessage::Typing {
                conversation_id,
                typing,
            }
        }
        other => return Err(refuse(format!("unknown message type {other:?}"))),
    };
    Ok(Envelope { message, reference })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_types_keep_their_ref() {
        let r = parse(r#"{"type":"nope","ref":"r1"}"#).unwrap_err();
        assert_eq!(r.reference, Some(Value::from("r1")));
    }

    #[test]
    fn typing_needs_a_conversation_id_and_a_boolean() {
        let ok =
            r#"{"type":"typing","conversation_id":"conv_AAAAAAAAAAAAAAAAAAAAAA","typing":true}"#;
        assert!(matches!(
            parse(ok).unwrap().message,
            ClientMessage::Typing { typing: true, .. }
        ));
        assert!(parse(r#"{"type":"typing","conversation_id":"x","typing":true}"#).is_err());
        let no_bool = r#"{"type":"typing","conversation_id":"conv_AAAAAAAAAAAAAAAAAAAAAA"}"#;
        assert!(parse(no_bool).is_err());
    }

    #[test]
    fn watch_validates_identities() {
        assert!(parse(r#"{"type":"presence.watch","identities":["a","b"]}"#).is_ok());
        assert!(parse(r#"{"type":"presence.watch","identities":["a b"]}"#).is_err());
        assert!(parse(r#"{"type":"presence.watch","identities":[]}"#).is_err());
    }
}
