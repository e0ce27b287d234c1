//! The shape FCM's HTTP v1 `projects.messages.send` requires of a request
//! body: `{"message": Message, "validate_only"?: bool}`, parsed as Google's
//! proto-JSON front end does (unknown names refused, both `snake_case` and
//! `lowerCamel` field names accepted) and checked against FCM's rules.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::google::ApiError;

/// Data payloads may hold 4096 bytes (keys and values) for most messages,
/// 2048 for messages to topics.
const MAX_DATA: usize = 4096;
const MAX_DATA_TOPIC: usize = 2048;

/// The longest `android.ttl` FCM keeps a message: 4 weeks.
const MAX_TTL_SECS: u64 = 2_419_200;

/// Fields of `SendMessageRequest`, of `Message` and of `AndroidConfig`, each
/// as `(proto name, JSON name)`.
const REQUEST_FIELDS: &[(&str, &str)] =
    &[("message", "message"), ("validate_only", "validateOnly")];
const MESSAGE_FIELDS: &[(&str, &str)] = &[
    ("name", "name"),
    ("data", "data"),
    ("notification", "notification"),
    ("android", "android"),
    ("webpush", "webpush"),
    ("apns", "apns"),
    ("fcm_options", "fcmOptions"),
    ("token", "token"),
    ("topic", "topic"),
    ("condition", "condition"),
];
const ANDROID_FIELDS: &[(&str, &str)] = &[
    ("collapse_key", "collapseKey"),
    ("priority", "priority"),
    ("ttl", "ttl"),
    ("restricted_package_name", "restrictedPackageName"),
    ("data", "data"),
    ("notification", "notification"),
    ("fcm_options", "fcmOptions"),
    ("direct_boot_ok", "directBootOk"),
    ("bandwidth_constrained_ok", "bandwidthConstrainedOk"),
    ("restricted_satellite_ok", "restrictedSatelliteOk"),
];
const NOTIFICATION_FIELDS: &[(&str, &str)] =
    &[("title", "title"), ("body", "body"), ("image", "image")];
/// Fields of `AndroidNotification`.
const ANDROID_NOTIFICATION_FIELDS: &[(&str, &str)] = &[
    ("title", "title"),
    ("body", "body"),
    ("icon", "icon"),
    ("color", "color"),
    ("sound", "sound"),
    ("tag", "tag"),
    ("click_action", "clickAction"),
    ("body_loc_key", "bodyLocKey"),
    ("body_loc_args", "bodyLocArgs"),
    ("title_loc_key", "titleLocKey"),
    ("title_loc_args", "titleLocArgs"),
    ("channel_id", "channelId"),
    ("ticker", "ticker"),
    ("sticky", "sticky"),
    ("event_time", "eventTime"),
    ("local_only", "localOnly"),
    ("notification_priority", "notificationPriority"),
    ("default_sound", "defaultSound"),
    ("default_vibrate_timings", "defaultVibrateTimings"),
    ("default_light_settings", "defaultLightSettings"),
    ("vibrate_timings", "vibrateTimings"),
    ("visibility", "visibility"),
    ("notification_count", "notificationCount"),
    ("light_settings", "lightSettings"),
    ("image", "image"),
    ("bypass_proxy_notification", "bypassProxyNotification"),
    ("proxy", "proxy"),
];
/// String fields of `Notification` / `AndroidNotification` the stand-in
/// type-checks (Google refuses another JSON type for a string field).
const NOTIFICATION_STRINGS: &[(&str, &str)] = &[
    ("title", "title"),
    ("body", "body"),
    ("image", "image"),
    ("icon", "icon"),
    ("color", "color"),
    ("sound", "sound"),
    ("tag", "tag"),
    ("click_action", "clickAction"),
    ("channel_id", "channelId"),
    ("ticker", "ticker"),
];

/// The notification a device shows: `android.notification`'s fields over
/// `message.notification`'s.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shown {
    pub title: Option<String>,
    pub body: Option<String>,
    /// `android.notification.tag` (a later notification of the same tag
    /// replaces the shown one).
    pub tag: Option<String>,
    /// `android.notification.notification_count`.
    pub count: Option<i64>,
}

/// Checks the string fields of a notification object and reads the shown
/// ones into `shown` (present fields override).
fn notification_fields(
    obj: &Map<String, Value>,
    path: &str,
    shown: &mut Shown,
) -> Result<(), ApiError> {
    for (proto, json) in NOTIFICATION_STRINGS {
        if let Some(v) = field(obj, (proto, json)) {
            let text = string(v, &format!("{path}.{proto}"))?.to_owned();
            match *proto {
                "title" => shown.title = Some(text),
                "body" => shown.body = Some(text),
                "tag" => shown.tag = Some(text),
                _ => {}
            }
        }
    }
    if let Some(v) = field(obj, ("notification_count", "notificationCount")) {
        let n = v
            .as_i64()
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| invalid_value(&format!("{path}.notification_count"), "TYPE_INT32", v))?;
        shown.count = Some(n);
    }
    Ok(())
}

/// Where a message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Token(String),
    Topic(String),
    Condition(String),
}

/// A send request that passed every shape check.
#[derive(Clone, Debug)]
pub(crate) struct SendRequest {
    pub target: Target,
    /// The data the device gets: `android.data` when present (it overrides
    /// `message.data` whole), else `message.data`.
    pub data: BTreeMap<String, String>,
    /// `android.priority` as its enum name, `NORMAL` or `HIGH`.
    pub android_priority: Option<String>,
    pub ttl: Option<String>,
    pub collapse_key: Option<String>,
    pub has_notification: bool,
    /// What the device shows, when the message has a notification.
    pub shown: Option<Shown>,
    pub validate_only: bool,
}

/// Parses and checks a `messages:send` body; every refusal is FCM's 400
/// `INVALID_ARGUMENT` in Google's error shape.
pub(crate) fn parse_send_request(body: &[u8]) -> Result<SendRequest, ApiError> {
    let request: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_field(None, format!("Invalid JSON payload received. {e}")))?;
    let request = object(&request, "")?;
    known_fields(request, REQUEST_FIELDS, "")?;
    let validate_only = match field(request, REQUEST_FIELDS[1]) {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => return Err(invalid_value("validate_only", "TYPE_BOOL", other)),
    };
    let Some(message) = field(request, REQUEST_FIELDS[0]) else {
        return Err(ApiError::invalid_message(
            "message",
            "Recipient of the message is not set.",
        ));
    };
    let message = object(message, "message")?;
    known_fields(message, MESSAGE_FIELDS, "message")?;

    let target = target(message)?;
    let mut data = string_map(field(message, ("data", "data")), "message.data")?;
    let mut shown = Shown::default();
    let mut has_notification = match field(message, ("notification", "notification")) {
        None => false,
        Some(n) => {
            let n = object(n, "message.notification")?;
            known_fields(n, NOTIFICATION_FIELDS, "message.notification")?;
            notification_fields(n, "message.notification", &mut shown)?;
            true
        }
    };
    for (proto, json) in [
        ("webpush", "webpush"),
        ("apns", "apns"),
        ("fcm_options", "fcmOptions"),
    ] {
        if let Some(v) = field(message, (proto, json)) {
            object(v, &format!("message.{proto}"))?;
        }
    }

    let (mut android_priority, mut ttl, mut collapse_key) = (None, None, None);
    if let Some(android) = field(message, ("android", "android")) {
        let android = object(android, "message.android")?;
        known_fields(android, ANDROID_FIELDS, "message.android")?;
        android_priority = field(android, ("priority", "priority"))
            .map(priority)
            .transpose()?;
        ttl = field(android, ("ttl", "ttl")).map(duration).transpose()?;
        collapse_key = field(android, ("collapse_key", "collapseKey"))
            .map(|v| string(v, "message.android.collapse_key").map(str::to_owned))
            .transpose()?;
        if let Some(v) = field(android, ("data", "data")) {
            data = string_map(Some(v), "message.android.data")?;
        }
        if let Some(n) = field(android, ("notification", "notification")) {
            let n = object(n, "message.android.notification")?;
            known_fields(
                n,
                ANDROID_NOTIFICATION_FIELDS,
                "message.android.notification",
            )?;
            notification_fields(n, "message.android.notification", &mut shown)?;
            has_notification = true;
        }
    }

    let size: usize = data.iter().map(|(k, v)| k.len() + v.len()).sum();
    let limit = match target {
        Target::Token(_) => MAX_DATA,
        Target::Topic(_) | Target::Condition(_) => MAX_DATA_TOPIC,
    };
    if size > limit {
        return Err(ApiError::fcm(
            400,
            "INVALID_ARGUMENT",
            "Android message is too big",
        ));
    }

    Ok(SendRequest {
        target,
        data,
        android_priority,
        ttl,
        collapse_key,
        has_notification,
        shown: has_notification.then_some(shown),
        validate_only,
    })
}

/// A field by either of its names; JSON `null` is the same as absent.
fn field<'a>(obj: &'a Map<String, Value>, (proto, json): (&str, &str)) -> Option<&'a Value> {
    obj.get(proto)
        .or_else(|| obj.get(json))
        .filter(|v| !v.is_null())
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ApiError> {
    value.as_object().ok_or_else(|| {
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" at '{path}'")
        };
        ApiError::bad_field(
            (!path.is_empty()).then_some(path),
            format!("Invalid JSON payload received. Expected an object{at}, got {value}."),
        )
    })
}

fn known_fields(
    obj: &Map<String, Value>,
    known: &[(&str, &str)],
    path: &str,
) -> Result<(), ApiError> {
    for name in obj.keys() {
        if !known.iter().any(|(p, j)| name == p || name == j) {
            let at = if path.is_empty() {
                String::new()
            } else {
                format!(" at '{path}'")
            };
            return Err(ApiError::bad_field(
                (!path.is_empty()).then_some(path),
                format!("Invalid JSON payload received. Unknown name \"{name}\"{at}: Cannot find field."),
            ));
        }
    }
    Ok(())
}

fn invalid_value(path: &str, type_name: &str, value: &Value) -> ApiError {
    ApiError::bad_field(
        Some(path),
        format!("Invalid value at '{path}' ({type_name}), {value}"),
    )
}

fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, ApiError> {
    value
        .as_str()
        .ok_or_else(|| invalid_value(path, "TYPE_STRING", value))
}

/// Exactly one of `token`, `topic`, `condition`.
fn target(message: &Map<String, Value>) -> Result<Target, ApiError> {
    let mut target = None;
    for name in ["token", "topic", "condition"] {
        let Some(value) = field(message, (name, name)) else {
            continue;
        };
        if target.is_some() {
            return Err(ApiError::bad_field(
                Some("message"),
                format!(
                    "Invalid value at 'message' (oneof), oneof field 'target' is already set. \
                     Cannot set '{name}'"
                ),
            ));
        }
        let value = string(value, &format!("message.{name}"))?;
        target = Some(match name {
            "token" => {
                if !valid_registration_token(value) {
                    return Err(ApiError::fcm(
                        400,
                        "INVALID_ARGUMENT",
                        super::google::fcm_message("INVALID_ARGUMENT"),
                    ));
                }
                Target::Token(value.to_owned())
            }
            "topic" => {
                let topic = value.strip_prefix("/topics/").unwrap_or(value);
                let ok = !topic.is_empty()
                    && topic.len() <= 900
                    && topic
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.~%".contains(&b));
                if !ok {
                    return Err(ApiError::invalid_message(
                        "message.topic",
                        "Invalid topic name.",
                    ));
                }
                Target::Topic(topic.to_owned())
            }
            _ => {
                if value.trim().is_empty() {
                    return Err(ApiError::invalid_message(
                        "message.condition",
                        "Invalid condition.",
                    ));
                }
                Target::Condition(value.to_owned())
            }
        });
    }
    target
        .ok_or_else(|| ApiError::invalid_message("message", "Recipient of the message is not set."))
}

/// Registration tokens are opaque but made of URL-safe base64 characters
/// and colons.
fn valid_registration_token(token: &str) -> bool {
    !token.is_empty()
        && token.len() <= 4096
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b))
}

/// `map<string, string>`: every value a string, no key FCM reserves.
fn string_map(value: Option<&Value>, path: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(value) = value else {
        return Ok(BTreeMap::new());
    };
    let Some(map) = value.as_object() else {
        return Err(invalid_value(path, "Map", value));
    };
    let mut out = BTreeMap::new();
    for (index, (key, value)) in map.iter().enumerate() {
        let Some(value) = value.as_str() else {
            return Err(invalid_value(
                &format!("{path}[{index}].value"),
                "TYPE_STRING",
                value,
            ));
        };
        if reserved_data_key(key) {
            return Err(ApiError::invalid_message(
                &format!("{path}[{index}].key"),
                format!("Invalid data payload key: {key}"),
            ));
        }
        out.insert(key.clone(), value.to_owned());
    }
    Ok(out)
}

/// Keys FCM uses itself: `from`, `notification`, `message_type`, and any
/// starting with `google` or `gcm`.
fn reserved_data_key(key: &str) -> bool {
    let lower = key.to_ascii_lowercase();
    matches!(lower.as_str(), "from" | "notification" | "message_type")
        || lower.starts_with("google")
        || lower.starts_with("gcm")
}

/// `AndroidMessagePriority`: its names (Google's parser takes them in any
/// case, as the Admin SDKs send `"high"`) or its numbers (0, 1).
fn priority(value: &Value) -> Result<String, ApiError> {
    let name = match value {
        Value::String(s) if s.eq_ignore_ascii_case("normal") => Some("NORMAL"),
        Value::String(s) if s.eq_ignore_ascii_case("high") => Some("HIGH"),
        Value::Number(n) if n.as_u64() == Some(0) => Some("NORMAL"),
        Value::Number(n) if n.as_u64() == Some(1) => Some("HIGH"),
        _ => None,
    };
    name.map(str::to_owned).ok_or_else(|| {
        invalid_value(
            "message.android.priority",
            "type.googleapis.com/google.firebase.fcm.v1.AndroidMessagePriority",
            value,
        )
    })
}

/// A `google.protobuf.Duration` in JSON: seconds with up to nine fractional
/// digits and an `s`, e.g. `"12.5s"`; FCM takes 0 to 4 weeks.
fn duration(value: &Value) -> Result<String, ApiError> {
    const PATH: &str = "message.android.ttl";
    let bad = || invalid_value(PATH, "type.googleapis.com/google.protobuf.Duration", value);
    let text = value.as_str().ok_or_else(bad)?;
    let number = text.strip_suffix('s').ok_or_else(bad)?;
    let (negative, number) = match number.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, number),
    };
    let (whole, fraction) = match number.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (number, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || whole.len() > 12 || fraction.is_some_and(|f| !digits(f) || f.len() > 9) {
        return Err(bad());
    }
    let seconds: u64 = whole.parse().map_err(|_| bad())?;
    let has_fraction = fraction.is_some_and(|f| f.bytes().any(|b| b != b'0'));
    if negative && (seconds > 0 || has_fraction) {
        return Err(ApiError::invalid_message(PATH, "TTL must not be negative."));
    }
    if seconds > MAX_TTL_SECS || (seconds == MAX_TTL_SECS && has_fraction) {
        return Err(ApiError::invalid_message(
            PATH,
            "TTL must be at most 2419200 seconds (4 weeks).",
        ));
    }
    Ok(text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: Value) -> Result<SendRequest, ApiError> {
        parse_send_request(v.to_string().as_bytes())
    }

    #[test]
    fn durations() {
        for ok in ["0s", "12.5s", "3.000000001s", "2419200s"] {
            assert!(duration(&Value::from(ok)).is_ok(), "{ok}");
        }
        for bad in ["12", "1.0000000001s", "-1s", "2419201s", "s", "1.s", "abc"] {
            assert!(duration(&Value::from(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn shapes() {
        let ok = parse(serde_json::json!({"message": {"token": "abc:DEF_1",
            "data": {"k": "v"}, "android": {"priority": "high", "ttl": "30s", "collapseKey": "c"}}}))
        .unwrap();
        assert_eq!(ok.android_priority.as_deref(), Some("HIGH"));
        assert_eq!(ok.collapse_key.as_deref(), Some("c"));
        assert!(parse(serde_json::json!({"message": {"token": "a", "topic": "b"}})).is_err());
        assert!(parse(serde_json::json!({"message": {}})).is_err());
        assert!(parse(serde_json::json!({"message": {"token": "a", "colour": 1}})).is_err());
        assert!(
            parse(serde_json::json!({"message": {"token": "a", "data": {"from": "x"}}})).is_err()
        );
        assert!(
            parse(serde_json::json!({"message": {"token": "a", "data": {"gcm.x": "x"}}})).is_err()
        );
        let shown = parse(serde_json::json!({"message": {"token": "a",
            "notification": {"title": "T", "body": "B"},
            "android": {"notification": {"tag": "t", "notification_count": 2, "body": "B2"}}}}))
        .unwrap()
        .shown
        .unwrap();
        assert_eq!(
            shown,
            Shown {
                title: Some("T".into()),
                body: Some("B2".into()),
                tag: Some("t".into()),
                count: Some(2)
            }
        );
        assert!(parse(serde_json::json!({"message": {"token": "a",
            "android": {"notification": {"badge": 1}}}}))
        .is_err());
        assert!(parse(serde_json::json!({"message": {"token": "a",
            "notification": {"title": 1}}}))
        .is_err());
        let big = "x".repeat(4097);
        assert!(parse(serde_json::json!({"message": {"token": "a", "data": {"k": big}}})).is_err());
    }
}
