//! Random identifiers, secret hashing and the validation of names on the wire.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Prefix of every user token.
pub const USER_TOKEN_PREFIX: &str = "utdst_";

/// `bytes` random bytes, base64url without padding.
pub fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill(&mut buf[..]);
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new user token: the prefix plus 256 random bits (43 base64url chars).
pub fn new_user_token() -> String {
    format!("{USER_TOKEN_PREFIX}{}", random_b64(32))
}

/// A new publishable app key.
pub fn new_app_key() -> String {
    format!("pk_{}", random_b64(24))
}

/// A new server secret (shown once, stored hashed).
pub fn new_server_secret() -> String {
    format!("sk_{}", random_b64(32))
}

/// A new app id: 10 decimal digits, no leading zero.
pub fn new_app_id() -> String {
    let mut rng = rand::rng();
    let n: u64 = rng.random_range(1_000_000_000..10_000_000_000);
    n.to_string()
}

/// SHA-256 of a secret, raw bytes.
pub fn sha256(value: &str) -> Vec<u8> {
    Sha256::digest(value.as_bytes()).to_vec()
}

/// SHA-256 of a secret, lowercase hex.
pub fn sha256_hex(value: &str) -> String {
    sha256(value).iter().map(|b| format!("{b:02x}")).collect()
}

/// True if `token` has the shape of a user token; checked before any lookup
/// so garbage never reaches the database.
pub fn looks_like_user_token(token: &str) -> bool {
    match token.strip_prefix(USER_TOKEN_PREFIX) {
        Some(rest) => {
            rest.len() >= 32
                && rest.len() <= 128
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }
        None => false,
    }
}

/// Compares two secrets without an early exit, so timing does not reveal how
/// many leading bytes matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Identity and room-name rule: 1..=128 chars of `[A-Za-z0-9_.@:-]`.
pub fn is_valid_name_token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'@' | b':' | b'-'))
}

/// Free-text rule (display names, device ids): 1..=`max` characters.
pub fn is_valid_text(value: &str, max: usize) -> bool {
    let n = value.chars().count();
    n >= 1 && n <= max
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_tokens_have_the_documented_shape() {
        let t = new_user_token();
        assert!(looks_like_user_token(&t), "{t}");
        assert_eq!(t.len(), USER_TOKEN_PREFIX.len() + 43);
        assert!(!looks_like_user_token("utdst_short"));
        assert!(!looks_like_user_token("Bearer x"));
    }

    #[test]
    fn names_follow_the_contract_alphabet() {
        assert!(is_valid_name_token("alice@example.com:1_2-3"));
        assert!(!is_valid_name_token(""));
        assert!(!is_valid_name_token("a b"));
        assert!(!is_valid_name_token(&"a".repeat(129)));
    }
}
