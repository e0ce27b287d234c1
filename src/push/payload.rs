//! The call pushes the engine sends (docs/engine-api.md §4), parsed from
//! what the platform hands over: the VoIP push's JSON dictionary (APNs) or
//! the data message's string map (FCM).
//!
//! Lenient by design: iOS terminates an app that does not report a VoIP
//! push as a call, so every optional field may be missing or malformed
//! and the push still parses. Only a payload that is not a call push at
//! all (no `type` of ours, no usable `call_id`) is an error.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use super::callkit_uuid::call_kit_uuid;
use crate::error::{UTDResult, UTDStreamError};
use crate::types::{UTDCallEndReason, UTDStreamType};

/// Largest payload accepted (APNs caps VoIP pushes at 5 KiB, FCM data at 4 KiB).
const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

/// An incoming-call push: enough to show the call before any I/O.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDCallPush {
    /// The engine's call id.
    pub call_id: String,
    /// `callKitUuid(callId)`: report the system call with it.
    pub call_kit_uuid: String,
    /// Who calls; null when the push did not say.
    pub caller_identity: Option<String>,
    /// The caller's display name; null when the push did not say.
    pub caller_name: Option<String>,
    /// `audioCall` or `videoCall` (audio when the push did not say).
    pub stream_type: UTDStreamType,
    /// When the engine sent the push (engine clock, ms since the epoch).
    pub sent_at_ms: Option<u64>,
    /// When the call stops ringing (engine clock, ms since the epoch).
    pub ring_expires_at_ms: Option<u64>,
}

/// A `call_ended` push (FCM): dismiss the call's system UI.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Record)]
pub struct UTDCallEndedPush {
    /// The engine's call id.
    pub call_id: String,
    /// `callKitUuid(callId)`.
    pub call_kit_uuid: String,
    /// Why it is over for this device.
    pub reason: UTDCallEndReason,
}

/// What a call push says.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UTDCallPushEvent {
    /// A call is ringing for this user.
    Incoming {
        /// The call.
        push: UTDCallPush,
    },
    /// A call that rang this device is over (cancelled, missed, answered or
    /// declined on another device).
    Ended {
        /// The call and why.
        push: UTDCallEndedPush,
    },
}

impl UTDCallPushEvent {
    /// The call the push is about.
    pub fn call_id(&self) -> &str {
        match self {
            Self::Incoming { push } => &push.call_id,
            Self::Ended { push } => &push.call_id,
        }
    }
}

/// Parses a VoIP push's JSON payload (iOS: `payload.dictionaryPayload`
/// serialized). `invalidArgument` when it is not a call push.
#[uniffi::export]
pub fn parse_call_push(json: String) -> UTDResult<UTDCallPushEvent> {
    parse_json(&json).map_err(Arc::new)
}

/// Parses an FCM data message (`RemoteMessage.data`). `invalidArgument`
/// when it is not a call push.
#[uniffi::export]
pub fn parse_call_push_data(data: HashMap<String, String>) -> UTDResult<UTDCallPushEvent> {
    parse_data(data).map_err(Arc::new)
}

/// [`parse_call_push_data`] for Rust callers.
pub fn parse_data(data: HashMap<String, String>) -> Result<UTDCallPushEvent, UTDStreamError> {
    let fields = data
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    parse_fields(&fields)
}

/// [`parse_call_push`] for Rust callers.
pub fn parse_json(json: &str) -> Result<UTDCallPushEvent, UTDStreamError> {
    if json.len() > MAX_PAYLOAD_BYTES {
        return Err(not_a_call_push(format!(
            "the payload is {} bytes, more than any call push",
            json.len()
        )));
    }
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(fields)) => parse_fields(&fields),
        Ok(_) => Err(not_a_call_push("the payload is not a JSON object")),
        Err(e) => Err(not_a_call_push(format!("the payload is not JSON: {e}"))),
    }
}

fn not_a_call_push(why: impl std::fmt::Display) -> UTDStreamError {
    UTDStreamError::invalid_argument(format!("not a call push: {why}"))
}

/// Parses the fields of either form (FCM values are all strings).
pub fn parse_fields(fields: &Map<String, Value>) -> Result<UTDCallPushEvent, UTDStreamError> {
    let kind = fields
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| not_a_call_push("no \"type\""))?;
    let call_id = text(fields, "call_id")
        .filter(|id| is_call_id(id))
        .ok_or_else(|| not_a_call_push("no valid \"call_id\""))?;
    let call_kit_uuid = call_kit_uuid(&call_id);
    match kind {
        "call" => Ok(UTDCallPushEvent::Incoming {
            push: UTDCallPush {
                call_kit_uuid,
                caller_identity: text(fields, "caller_identity"),
                caller_name: text(fields, "caller_name"),
                stream_type: match fields.get("call_type").and_then(Value::as_str) {
                    Some("video_call") => UTDStreamType::VideoCall,
                    _ => UTDStreamType::AudioCall,
                },
                sent_at_ms: millis(fields, "sent_at_ms"),
                ring_expires_at_ms: millis(fields, "ring_expires_at_ms"),
                call_id,
            },
        }),
        "call_ended" => Ok(UTDCallPushEvent::Ended {
            push: UTDCallEndedPush {
                call_kit_uuid,
                reason: UTDCallEndReason::from_wire(
                    text(fields, "reason").unwrap_or_else(|| "ended".to_owned()),
                ),
                call_id,
            },
        }),
        other => Err(not_a_call_push(format!(
            "type {:?} is not a call push",
            other.chars().take(32).collect::<String>()
        ))),
    }
}

/// Call ids as the engine makes them (`call_` + base64url); the id ends
/// up in URL paths, so nothing else is accepted.
fn is_call_id(value: &str) -> bool {
    crate::api::calls::validate_call_id(value).is_ok()
}

/// A non-empty string field, trimmed to a sane length.
fn text(fields: &Map<String, Value>, key: &str) -> Option<String> {
    let value = fields.get(key)?.as_str()?;
    (!value.is_empty()).then(|| value.chars().take(256).collect())
}

/// A millisecond timestamp given as a JSON number or a decimal string.
fn millis(fields: &Map<String, Value>, key: &str) -> Option<u64> {
    match fields.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "call_Yf3abcdefghijklmnopqrs";

    #[test]
    fn an_apns_payload_parses_with_every_field() {
        let json = format!(
            r#"{{"type":"call","call_id":"{ID}","caller_identity":"bob","caller_name":"Bob","call_type":"video_call","sent_at_ms":1700000000000,"ring_expires_at_ms":1700000030000}}"#
        );
        let UTDCallPushEvent::Incoming { push } = parse_json(&json).expect("parses") else {
            panic!("not incoming");
        };
        assert_eq!(push.call_id, ID);
        assert_eq!(push.call_kit_uuid, "9d350f04-df41-5513-9d7a-e44d26e3f4a7");
        assert_eq!(push.caller_identity.as_deref(), Some("bob"));
        assert_eq!(push.caller_name.as_deref(), Some("Bob"));
        assert_eq!(push.stream_type, UTDStreamType::VideoCall);
        assert_eq!(push.sent_at_ms, Some(1_700_000_000_000));
        assert_eq!(push.ring_expires_at_ms, Some(1_700_000_030_000));
    }

    #[test]
    fn an_fcm_data_message_parses_from_strings() {
        let data: HashMap<String, String> = [
            ("type", "call"),
            ("call_id", ID),
            ("caller_identity", "bob"),
            ("call_type", "audio_call"),
            ("sent_at_ms", "12"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let UTDCallPushEvent::Incoming { push } = parse_call_push_data(data).expect("parses")
        else {
            panic!("not incoming");
        };
        assert_eq!(push.caller_name, None);
        assert_eq!(push.stream_type, UTDStreamType::AudioCall);
        assert_eq!(push.sent_at_ms, Some(12));
        assert_eq!(push.ring_expires_at_ms, None);
    }

    #[test]
    fn missing_or_malformed_optional_fields_never_fail() {
        for json in [
            format!(r#"{{"type":"call","call_id":"{ID}"}}"#),
            format!(
                r#"{{"type":"call","call_id":"{ID}","caller_name":7,"call_type":"hologram","sent_at_ms":"soon","ring_expires_at_ms":-1,"aps":{{}}}}"#
            ),
            format!(r#"{{"type":"call","call_id":"{ID}","caller_identity":null}}"#),
        ] {
            let event = parse_json(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(event.call_id(), ID);
        }
    }

    #[test]
    fn call_ended_carries_its_reason() {
        for (wire, reason) in [
            ("cancelled", UTDCallEndReason::Cancelled),
            ("missed", UTDCallEndReason::RingTimeout),
            ("answered_elsewhere", UTDCallEndReason::AnsweredElsewhere),
            ("declined_elsewhere", UTDCallEndReason::DeclinedElsewhere),
            (
                "beamed_up",
                UTDCallEndReason::Other {
                    reason: "beamed_up".into(),
                },
            ),
        ] {
            let json = format!(r#"{{"type":"call_ended","call_id":"{ID}","reason":"{wire}"}}"#);
            let UTDCallPushEvent::Ended { push } = parse_json(&json).expect("parses") else {
                panic!("not ended");
            };
            assert_eq!(push.reason, reason, "{wire}");
        }
    }

    #[test]
    fn what_is_not_a_call_push_is_a_typed_error() {
        for json in [
            "".to_owned(),
            "[1]".to_owned(),
            "{}".to_owned(),
            r#"{"type":"chat.message","call_id":"call_x"}"#.to_owned(),
            r#"{"type":"call"}"#.to_owned(),
            r#"{"type":"call","call_id":"../../admin"}"#.to_owned(),
            format!(
                r#"{{"type":"call","call_id":"{ID}","pad":"{}"}}"#,
                "x".repeat(20_000)
            ),
        ] {
            let e = parse_json(&json).expect_err(&json);
            assert_eq!(e.code(), crate::error::UTDErrorCode::InvalidArgument);
            assert!(e.message().contains("not a call push"), "{}", e.message());
        }
    }
}
