//! Loopback stand-ins for Apple Push Notification service (APNs) and Firebase
//! Cloud Messaging (FCM), for engine tests and SDK end-to-end tests: the real
//! services cannot be reached from the test machines.
//!
//! A loopback stand-in checks what the real service checks — signatures,
//! headers, payload shape — and answers the real service's documented errors,
//! so a push path that passes against it is one the real service would take.
//!
//! - [`ApnsStandIn`]: HTTP/2 cleartext (prior knowledge) only, verifying the
//!   provider JWT (ES256) with the public half of a generated [`ApnsKey`].
//! - [`FcmStandIn`]: an OAuth 2.0 token endpoint verifying the service
//!   account's RS256 JWT assertion, and the HTTP v1 `messages:send` endpoint
//!   checking the access token and the message shape.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use utd_testkit::push::{ApnsKey, ApnsStandIn};
//!
//! let key = ApnsKey::generate();
//! let apns = ApnsStandIn::start(&key, "com.example.app").await?;
//! // point the engine at apns.url() with key.p8_pem, key.key_id, key.team_id
//! let pushes = apns.wait_for_pushes(1, Duration::from_secs(10)).await?;
//! assert_eq!(pushes[0].push_type, "voip");
//! apns.shutdown().await;
//! # Ok(()) }
//! ```

mod apns;
mod apns_checks;
mod fcm;
mod fcm_message;
mod google;
mod keys;
mod recorder;
mod script;
mod server;

pub use apns::{ApnsPush, ApnsRequest, ApnsStandIn};
pub use fcm::{FcmMessage, FcmStandIn};
pub use keys::ApnsKey;

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, the unit every recorded time uses.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Seconds since the Unix epoch, the unit of JWT `iat` / `exp` claims.
pub(crate) fn now_secs() -> u64 {
    now_ms() / 1000
}
