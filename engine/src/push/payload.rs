//! What goes over the wire to the providers (engine-api.md §4): the call
//! payload, the `call_ended` message, and the reason of an ended ringing.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::chat::db::PushContext;
use crate::db::calls::{CallRecord, Status};

/// TTL of a `call_ended` message (and how long it is retried).
pub const CALL_ENDED_TTL_MS: u64 = 60_000;

/// How long a chat notification is worth sending (and how long APNs / FCM
/// keep it for an offline device).
pub const CHAT_MESSAGE_TTL_MS: u64 = 24 * 3600 * 1000;

/// Longest text preview of a chat notification, in characters.
const PREVIEW_CHARS: usize = 200;

/// Why `call` stopped ringing, as `call_ended.reason`, and the device that
/// answered (it gets no `call_ended`); `None` while it still rings.
pub fn ending(call: &CallRecord) -> Option<(&'static str, Option<String>)> {
    let reason = match call.status {
        Status::Initiating | Status::Ringing => return None,
        Status::Cancelled => "cancelled",
        Status::Missed => "missed",
        Status::Active => "answered_elsewhere",
        Status::Rejected | Status::Busy => "declined_elsewhere",
        Status::Ended => "ended",
    };
    let answered = if call.answered {
        call.answered_by_device.clone()
    } else {
        None
    };
    Some((reason, answered))
}

/// The fields of a call push, in the order of the contract.
fn call_fields(
    call: &CallRecord,
    sent_at_ms: u64,
    ring_expires_at_ms: u64,
) -> Vec<(&'static str, Value)> {
    vec![
        ("type", json!("call")),
        ("call_id", json!(call.call_id)),
        ("caller_identity", json!(call.caller_identity)),
        ("caller_name", json!(call.caller_name)),
        ("call_type", json!(call.call_type)),
        ("sent_at_ms", json!(sent_at_ms)),
        ("ring_expires_at_ms", json!(ring_expires_at_ms)),
    ]
}

/// The APNs VoIP payload: the call fields as the top-level JSON object
/// (`caller_name` string or null).
pub fn apns_call(call: &CallRecord, sent_at_ms: u64, ring_expires_at_ms: u64) -> Value {
    Value::Object(
        call_fields(call, sent_at_ms, ring_expires_at_ms)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

/// FCM `data`: every value a string; a null `caller_name` is left out.
pub fn fcm_call_data(
    call: &CallRecord,
    sent_at_ms: u64,
    ring_expires_at_ms: u64,
) -> BTreeMap<String, String> {
    call_fields(call, sent_at_ms, ring_expires_at_ms)
        .into_iter()
        .filter_map(|(k, v)| {
            let s = match v {
                Value::Null => return None,
                Value::String(s) => s,
                other => other.to_string(),
            };
            Some((k.to_owned(), s))
        })
        .collect()
}

/// FCM `data` of a `call_ended`.
pub fn fcm_call_ended_data(call_id: &str, reason: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("type".to_owned(), "call_ended".to_owned()),
        ("call_id".to_owned(), call_id.to_owned()),
        ("reason".to_owned(), reason.to_owned()),
    ])
}

/// An FCM HTTP v1 `messages:send` body: a data-only message at high
/// priority that FCM keeps for `ttl_secs`, collapsed per call.
pub fn fcm_message(
    token: &str,
    data: &BTreeMap<String, String>,
    ttl_secs: u64,
    collapse_key: &str,
) -> Value {
    json!({
        "message": {
            "token": token,
            "data": data,
            "android": {
                "priority": "HIGH",
                "ttl": format!("{ttl_secs}s"),
                "collapse_key": collapse_key,
            },
        }
    })
}

/// The title and body of a chat notification: the sender (direct) or the
/// group's title with the sender before the text.
pub fn chat_alert(ctx: &PushContext) -> (String, String) {
    let mut preview: String = ctx.text.chars().take(PREVIEW_CHARS).collect();
    if preview.len() < ctx.text.len() {
        preview.push('…');
    }
    if preview.is_empty() {
        preview = match ctx.attachments {
            0 | 1 => "[attachment]".to_owned(),
            n => format!("[{n} attachments]"),
        };
    }
    if ctx.is_group {
        let title = ctx.title.clone().unwrap_or_else(|| "Group".to_owned());
        (title, format!("{}: {preview}", ctx.sender_identity))
    } else {
        (ctx.sender_identity.clone(), preview)
    }
}

/// The data fields of a chat notification, every value a string.
pub fn chat_data(ctx: &PushContext) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("type".to_owned(), "chat.message".to_owned()),
        ("conversation_id".to_owned(), ctx.conversation_id.clone()),
        ("message_id".to_owned(), ctx.message_id.clone()),
        ("seq".to_owned(), ctx.seq.to_string()),
        ("sender_identity".to_owned(), ctx.sender_identity.clone()),
    ])
}

/// The APNs alert payload of a chat notification: `aps` (alert, badge =
/// the recipient's total unread, sound, `thread-id` = the conversation,
/// `mutable-content` for a notification service extension) and the data
/// fields at top level (`seq` a number).
pub fn apns_chat(ctx: &PushContext) -> Value {
    let (title, body) = chat_alert(ctx);
    json!({
        "aps": {
            "alert": {"title": title, "body": body},
            "badge": ctx.badge,
            "sound": "default",
            "thread-id": ctx.conversation_id,
            "mutable-content": 1,
        },
        "type": "chat.message",
        "conversation_id": ctx.conversation_id,
        "message_id": ctx.message_id,
        "seq": ctx.seq,
        "sender_identity": ctx.sender_identity,
    })
}

/// The FCM HTTP v1 body of a chat notification: a `notification` (shown by
/// the system when the app is in the background) with the data fields,
/// collapsed per conversation (`collapse_key` for the devices FCM holds
/// messages for, the Android notification `tag` on the device).
pub fn fcm_chat_message(token: &str, ctx: &PushContext, ttl_secs: u64) -> Value {
    let (title, body) = chat_alert(ctx);
    json!({
        "message": {
            "token": token,
            "notification": {"title": title, "body": body},
            "data": chat_data(ctx),
            "android": {
                "priority": "HIGH",
                "ttl": format!("{ttl_secs}s"),
                "collapse_key": ctx.conversation_id,
                "notification": {
                    "tag": ctx.conversation_id,
                    "notification_count": ctx.badge.min(i32::MAX as u64),
                },
            },
        }
    })
}

/// Whole seconds left until `deadline_ms`, rounded up, at least 1.
pub fn secs_left(deadline_ms: u64, now_ms: u64) -> u64 {
    deadline_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
}

/// A device token as logs show it: its first 8 characters.
pub fn token_prefix(token: &str) -> String {
    let head: String = token.chars().take(8).collect();
    if head.len() < token.len() {
        format!("{head}…")
    } else {
        head
    }
}

/// True for an APNs device token (hex digits; Apple's are 64).
pub fn is_apns_token(token: &str) -> bool {
    !token.is_empty() && token.len() <= 200 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(status: Status, name: Option<&str>) -> CallRecord {
        CallRecord {
            call_id: "call_AAAAAAAAAAAAAAAAAAAAAA".into(),
            app_id: "1".into(),
            call_type: "video_call".into(),
            status,
            caller_identity: "bob".into(),
            caller_name: name.map(str::to_owned),
            callee_identity: "alice".into(),
            callee_name: None,
            metadata: json!({}),
            created_at_ms: 1_000,
            updated_at_ms: 1_000,
            answered: false,
            answered_by_device: None,
            end_reason: None,
        }
    }

    #[test]
    fn the_apns_payload_is_the_call_fields_at_top_level() {
        let p = apns_call(&call(Status::Initiating, None), 5, 31_000);
        assert_eq!(
            p,
            json!({"type": "call", "call_id": "call_AAAAAAAAAAAAAAAAAAAAAA",
                   "caller_identity": "bob", "caller_name": null, "call_type": "video_call",
                   "sent_at_ms": 5, "ring_expires_at_ms": 31_000})
        );
    }

    #[test]
    fn fcm_data_is_strings_and_omits_a_null_name() {
        let d = fcm_call_data(&call(Status::Initiating, None), 5, 31_000);
        assert!(!d.contains_key("caller_name"));
        assert_eq!(d["sent_at_ms"], "5");
        assert_eq!(d["ring_expires_at_ms"], "31000");
        let d = fcm_call_data(&call(Status::Initiating, Some("Bob")), 5, 31_000);
        assert_eq!(d["caller_name"], "Bob");
        assert_eq!(d.len(), 7);
        let m = fcm_message("tok", &d, 26, "call_x");
        assert_eq!(m["message"]["android"]["ttl"], "26s");
        assert_eq!(m["message"]["android"]["priority"], "HIGH");
        assert!(m["message"].get("notification").is_none());
    }

    #[test]
    fn endings_map_the_status_and_skip_the_answering_device() {
        assert_eq!(ending(&call(Status::Ringing, None)), None);
        assert_eq!(
            ending(&call(Status::Cancelled, None)),
            Some(("cancelled", None))
        );
        assert_eq!(ending(&call(Status::Missed, None)), Some(("missed", None)));
        assert_eq!(
            ending(&call(Status::Busy, None)).unwrap().0,
            "declined_elsewhere"
        );
        assert_eq!(
            ending(&call(Status::Rejected, None)).unwrap().0,
            "declined_elsewhere"
        );
        let mut c = call(Status::Active, None);
        c.answered = true;
        c.answered_by_device = Some("ios-1".into());
        assert_eq!(
            ending(&c),
            Some(("answered_elsewhere", Some("ios-1".to_owned())))
        );
        c.status = Status::Ended;
        assert_eq!(ending(&c).unwrap().0, "ended");
    }

    fn chat(is_group: bool, text: &str, attachments: usize) -> PushContext {
        PushContext {
            conversation_id: "conv_AAAAAAAAAAAAAAAAAAAAAA".into(),
            is_group,
            title: is_group.then(|| "Team".to_owned()),
            message_id: "msg_AAAAAAAAAAAAAAAAAAAAAA".into(),
            seq: 7,
            sender_identity: "bob".into(),
            text: text.into(),
            attachments,
            badge: 3,
        }
    }

    #[test]
    fn chat_alerts_name_the_sender_and_preview_the_text() {
        assert_eq!(
            chat_alert(&chat(false, "hi", 0)),
            ("bob".to_owned(), "hi".to_owned())
        );
        assert_eq!(
            chat_alert(&chat(true, "hi", 0)),
            ("Team".to_owned(), "bob: hi".to_owned())
        );
        assert_eq!(chat_alert(&chat(false, "", 1)).1, "[attachment]");
        assert_eq!(chat_alert(&chat(false, "", 3)).1, "[3 attachments]");
        let long = "é".repeat(300);
        let body = chat_alert(&chat(false, &long, 0)).1;
        assert_eq!(body.chars().count(), PREVIEW_CHARS + 1);
        let p = apns_chat(&chat(false, "hi", 0));
        assert_eq!(p["aps"]["thread-id"], "conv_AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(p["aps"]["badge"], 3);
        assert_eq!(p["seq"], 7);
        let m = fcm_chat_message("tok", &chat(true, "hi", 0), 60);
        assert_eq!(m["message"]["data"]["seq"], "7");
        assert_eq!(
            m["message"]["android"]["collapse_key"],
            "conv_AAAAAAAAAAAAAAAAAAAAAA"
        );
        assert_eq!(m["message"]["notification"]["body"], "bob: hi");
    }

    #[test]
    fn helpers() {
        assert_eq!(secs_left(10_500, 0), 11);
        assert_eq!(secs_left(10_000, 20_000), 1);
        assert_eq!(token_prefix("0123456789abcdef"), "01234567…");
        assert_eq!(token_prefix("abc"), "abc");
        assert!(is_apns_token(&"ab".repeat(32)));
        assert!(!is_apns_token("ab/../x"));
        assert!(!is_apns_token(""));
    }
}
