//! What both stand-in suites share: the clock, device tokens and the HTTP/2
//! client a provider uses.
#![allow(dead_code)] // each suite uses a subset

use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const BUNDLE: &str = "com.example.utd";
pub const WAIT: Duration = Duration::from_secs(10);

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn device_token(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// HTTP/2 with prior knowledge, as a provider talks to APNs (without TLS
/// here: the stand-in is cleartext on loopback).
pub fn h2_client() -> reqwest::Client {
    reqwest::Client::builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}
