//! The checks APNs makes of a notification request, each answering the
//! status and reason string Apple documents in "Handling notification
//! responses from APNs", and the header rules of "Sending notification
//! requests to APNs".

use axum::http::HeaderMap;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::now_secs;

/// A refused request: the HTTP status and Apple's reason string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: u16,
    pub reason: String,
}

fn refuse(status: u16, reason: &str) -> Refusal {
    Refusal {
        status,
        reason: reason.to_owned(),
    }
}

/// Apple refuses provider tokens whose `iat` is more than one hour old.
const TOKEN_MAX_AGE_SECS: u64 = 3600;

/// Payload limits: 5 KB for VoIP notifications, 4 KB for all others.
const MAX_PAYLOAD_VOIP: usize = 5120;
const MAX_PAYLOAD: usize = 4096;

/// `apns-collapse-id` must not exceed 64 bytes.
const MAX_COLLAPSE_ID: usize = 64;

/// The `apns-push-type` values Apple documents, each with the suffix its
/// `apns-topic` carries after the bundle ID. `mdm` is absent: MDM pushes
/// take the topic of an MDM certificate, never a provider token.
const PUSH_TYPES: &[(&str, &str)] = &[
    ("alert", ""),
    ("background", ""),
    ("location", ".location-query"),
    ("voip", ".voip"),
    ("complication", ".complication"),
    ("fileprovider", ".pushkit.fileprovider"),
    ("liveactivity", ".push-type.liveactivity"),
    ("pushtotalk", ".voip-ptt"),
    ("widgets", ".push-type.widgets"),
    ("controls", ".push-type.controls"),
];

/// The headers APNs reads; each may appear once (else `DuplicateHeaders`).
const APNS_HEADERS: &[&str] = &[
    "authorization",
    "apns-push-type",
    "apns-id",
    "apns-expiration",
    "apns-priority",
    "apns-topic",
    "apns-collapse-id",
];

/// Verifies provider tokens as APNs does: ES256 with the team's key.
pub(crate) struct ProviderTokenVerifier {
    key: DecodingKey,
    key_id: String,
    team_id: String,
}

/// A provider token that passed every check.
pub(crate) struct ProviderToken {
    pub issued_at: u64,
}

impl ProviderTokenVerifier {
    pub(crate) fn new(public_pem: &str, key_id: &str, team_id: &str) -> anyhow::Result<Self> {
        Ok(ProviderTokenVerifier {
            key: DecodingKey::from_ec_pem(public_pem.as_bytes())?,
            key_id: key_id.to_owned(),
            team_id: team_id.to_owned(),
        })
    }

    /// The bearer token of `authorization`, if there is one at all.
    pub(crate) fn bearer(headers: &HeaderMap) -> Option<String> {
        let value = headers.get("authorization")?.to_str().ok()?.trim();
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
    }

    /// 403 `MissingProviderToken` without a bearer token; 403
    /// `InvalidProviderToken` for another algorithm, another `kid`, another
    /// `iss`, a bad signature or no `iat`; 403 `ExpiredProviderToken` when
    /// `iat` is over an hour old.
    pub(crate) fn check(&self, bearer: Option<&str>) -> Result<ProviderToken, Refusal> {
        let Some(token) = bearer else {
            return Err(refuse(403, "MissingProviderToken"));
        };
        let invalid = || refuse(403, "InvalidProviderToken");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(self.key_id.as_str()) {
            return Err(invalid());
        }
        let mut validation = Validation::new(Algorithm::ES256);
        // Apple's token carries only iss and iat: no exp, no aud.
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<Value>(token, &self.key, &validation)
            .map_err(|_| invalid())?
            .claims;
        if claims.get("iss").and_then(Value::as_str) != Some(self.team_id.as_str()) {
            return Err(invalid());
        }
        let issued_at = match claims.get("iat") {
            Some(Value::Number(n)) => n
                .as_u64()
                .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64)),
            _ => None,
        }
        .ok_or_else(invalid)?;
        if issued_at + TOKEN_MAX_AGE_SECS < now_secs() {
            return Err(refuse(403, "ExpiredProviderToken"));
        }
        Ok(ProviderToken { issued_at })
    }
}

/// 400 `DuplicateHeaders` when any header APNs reads appears twice.
pub(crate) fn check_duplicates(headers: &HeaderMap) -> Result<(), Refusal> {
    for name in APNS_HEADERS {
        if headers.get_all(*name).iter().count() > 1 {
            return Err(refuse(400, "DuplicateHeaders"));
        }
    }
    Ok(())
}

/// The `apns-id` to answer with: the request's, which must be a canonical
/// UUID (400 `BadMessageId` otherwise), or `None` when it has none.
pub(crate) fn check_apns_id(headers: &HeaderMap) -> Result<Option<String>, Refusal> {
    let Some(value) = headers.get("apns-id") else {
        return Ok(None);
    };
    let id = value
        .to_str()
        .map_err(|_| refuse(400, "BadMessageId"))?
        .to_owned();
    if is_uuid(&id) {
        Ok(Some(id))
    } else {
        Err(refuse(400, "BadMessageId"))
    }
}

/// 8-4-4-4-12 hexadecimal digits.
fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, len)| g.len() == len && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The device token of `/3/device/<token>`: 400 `MissingDeviceToken` when
/// empty, 400 `BadDeviceToken` unless it is hexadecimal bytes.
pub(crate) fn check_device_token(token: &str) -> Result<(), Refusal> {
    if token.is_empty() {
        return Err(refuse(400, "MissingDeviceToken"));
    }
    let hex = token.bytes().all(|b| b.is_ascii_hexdigit());
    // Device tokens are opaque bytes (32 today; Apple warns the length may
    // change), sent as hex: an even number of hex digits, within reason.
    if !hex || token.len() % 2 != 0 || token.len() > 400 {
        return Err(refuse(400, "BadDeviceToken"));
    }
    Ok(())
}

/// The delivery headers of a request that passed their checks.
pub(crate) struct DeliveryHeaders {
    /// Empty when `apns-push-type` was absent (Apple accepts that on iOS).
    pub push_type: String,
    pub topic: String,
    pub priority: u8,
    /// 0 when `apns-expiration` was absent.
    pub expiration: u64,
    pub collapse_id: Option<String>,
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ()> {
    match headers.get(name) {
        None => Ok(None),
        Some(v) => v.to_str().map(Some).map_err(|_| ()),
    }
}

/// Checks the delivery headers against the app's bundle ID:
/// 400 `MissingTopic`, `InvalidPushType`, `DeviceTokenNotForTopic` (a topic
/// of this app that is not the one the push type takes, e.g. a VoIP push to
/// the bare bundle ID: the VoIP token belongs to `<bundle>.voip`),
/// `TopicDisallowed` (a topic of another app), `BadPriority`,
/// `BadExpirationDate`, `BadCollapseId`.
pub(crate) fn check_delivery_headers(
    headers: &HeaderMap,
    bundle_id: &str,
) -> Result<DeliveryHeaders, Refusal> {
    let topic = match header_str(headers, "apns-topic") {
        Ok(Some(t)) if !t.trim().is_empty() => t.trim().to_owned(),
        Ok(_) => return Err(refuse(400, "MissingTopic")),
        Err(()) => return Err(refuse(400, "BadTopic")),
    };
    let push_type = match header_str(headers, "apns-push-type") {
        Ok(None) => String::new(),
        Ok(Some(t)) => t.trim().to_owned(),
        Err(()) => return Err(refuse(400, "InvalidPushType")),
    };
    check_topic(&push_type, &topic, bundle_id)?;

    let priority = match header_str(headers, "apns-priority") {
        // Apple: without the header the priority is 10.
        Ok(None) => 10,
        Ok(Some(p)) => match p.trim() {
            "10" => 10,
            "5" => 5,
            "1" => 1,
            _ => return Err(refuse(400, "BadPriority")),
        },
        Err(()) => return Err(refuse(400, "BadPriority")),
    };
    // Apple: a background push always uses priority 5; 10 is an error.
    if push_type == "background" && priority == 10 {
        return Err(refuse(400, "BadPriority"));
    }

    let expiration = match header_str(headers, "apns-expiration") {
        Ok(None) => 0,
        Ok(Some(e)) => e
            .trim()
            .parse::<u64>()
            .map_err(|_| refuse(400, "BadExpirationDate"))?,
        Err(()) => return Err(refuse(400, "BadExpirationDate")),
    };

    let collapse_id = match headers.get("apns-collapse-id") {
        None => None,
        Some(v) => {
            if v.as_bytes().len() > MAX_COLLAPSE_ID {
                return Err(refuse(400, "BadCollapseId"));
            }
            Some(
                v.to_str()
                    .map_err(|_| refuse(400, "BadCollapseId"))?
                    .to_owned(),
            )
        }
    };

    Ok(DeliveryHeaders {
        push_type,
        topic,
        priority,
        expiration,
        collapse_id,
    })
}

fn check_topic(push_type: &str, topic: &str, bundle_id: &str) -> Result<(), Refusal> {
    let of_this_app = topic == bundle_id
        || topic
            .strip_prefix(bundle_id)
            .is_some_and(|rest| rest.starts_with('.'));
    if !of_this_app {
        return Err(refuse(400, "TopicDisallowed"));
    }
    if push_type.is_empty() {
        // Without a push type APNs infers it; any topic of the app will do.
        return Ok(());
    }
    let Some((_, suffix)) = PUSH_TYPES.iter().find(|(name, _)| *name == push_type) else {
        return Err(refuse(400, "InvalidPushType"));
    };
    if topic.len() == bundle_id.len() + suffix.len() && topic.ends_with(suffix) {
        Ok(())
    } else {
        Err(refuse(400, "DeviceTokenNotForTopic"))
    }
}

/// The JSON payload: 400 `PayloadEmpty` when there is none, 413
/// `PayloadTooLarge` over 5120 bytes for VoIP or 4096 bytes otherwise.
///
/// A body that is not a JSON dictionary answers 400 `BadPayload`: Apple
/// documents that the payload must be a JSON dictionary but lists no reason
/// string for one that is not, so this stand-in names it (any client must
/// treat an unknown 400 reason as a permanent refusal of that push anyway).
pub(crate) fn check_payload(body: &[u8], push_type: &str) -> Result<Value, Refusal> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(refuse(400, "PayloadEmpty"));
    }
    let limit = if push_type == "voip" {
        MAX_PAYLOAD_VOIP
    } else {
        MAX_PAYLOAD
    };
    if body.len() > limit {
        return Err(refuse(413, "PayloadTooLarge"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(payload @ Value::Object(_)) => Ok(payload),
        _ => Err(refuse(400, "BadPayload")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_follow_the_push_type() {
        let b = "com.example.app";
        assert!(check_topic("voip", "com.example.app.voip", b).is_ok());
        assert!(check_topic("alert", "com.example.app", b).is_ok());
        assert!(check_topic("", "com.example.app.voip", b).is_ok());
        assert_eq!(
            check_topic("voip", "com.example.app", b)
                .unwrap_err()
                .reason,
            "DeviceTokenNotForTopic"
        );
        assert_eq!(
            check_topic("voip", "com.other.app.voip", b)
                .unwrap_err()
                .reason,
            "TopicDisallowed"
        );
        assert_eq!(
            check_topic("voip", "com.example.apple.voip", b)
                .unwrap_err()
                .reason,
            "TopicDisallowed"
        );
        assert_eq!(
            check_topic("fax", "com.example.app", b).unwrap_err().reason,
            "InvalidPushType"
        );
    }

    #[test]
    fn uuids_and_tokens() {
        assert!(is_uuid("eabeae54-14a8-11e5-b60b-1697f925ec7b"));
        assert!(!is_uuid("eabeae54-14a8-11e5-b60b-1697f925ec7"));
        assert!(!is_uuid("not-a-uuid"));
        assert!(check_device_token(&"ab".repeat(32)).is_ok());
        assert_eq!(
            check_device_token("xyz").unwrap_err().reason,
            "BadDeviceToken"
        );
        assert_eq!(
            check_device_token("").unwrap_err().reason,
            "MissingDeviceToken"
        );
    }
}
