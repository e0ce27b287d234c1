//! Keys generated at run time (no private key is committed): the APNs
//! token-signing key as Apple hands it out (a `.p8` file), the FCM service
//! account's RSA key, and the random identifiers both services issue.

use std::sync::OnceLock;

use p256::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rand_core::{OsRng, RngCore};

/// An APNs token-signing key, as Apple's developer account hands it out: the
/// private key as the PKCS#8 PEM a `.p8` file holds, its 10-character key ID
/// and the 10-character Team ID that issues provider tokens with it.
#[derive(Clone, Debug)]
pub struct ApnsKey {
    /// The EC P-256 private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`),
    /// exactly what a `.p8` file from Apple holds.
    pub p8_pem: String,
    /// The public half (SPKI PEM, `-----BEGIN PUBLIC KEY-----`), which the
    /// stand-in verifies provider tokens with.
    pub public_pem: String,
    /// The 10-character key identifier, the provider token's `kid`.
    pub key_id: String,
    /// The 10-character Team ID, the provider token's `iss`.
    pub team_id: String,
}

impl ApnsKey {
    /// A fresh P-256 key with random key and team IDs (fast: each call makes
    /// a new one).
    pub fn generate() -> ApnsKey {
        let secret = p256::SecretKey::random(&mut OsRng);
        let p8_pem = secret
            .to_pkcs8_pem(LineEnding::LF)
            .expect("a generated P-256 key encodes as PKCS#8")
            .to_string();
        let public_pem = secret
            .public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("a P-256 public key encodes as SPKI");
        ApnsKey {
            p8_pem,
            public_pem,
            key_id: random_apple_id(),
            team_id: random_apple_id(),
        }
    }
}

/// The RSA-2048 key of the stand-in service account, PEM encoded.
pub(crate) struct RsaKeyPair {
    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as in a Google key file.
    pub private_pem: String,
    /// SPKI PEM, which the token endpoint verifies assertions with.
    pub public_pem: String,
}

/// One RSA key per test process: generating a 2048-bit key takes long in a
/// debug build, and each stand-in still gets its own `private_key_id`.
pub(crate) fn service_account_rsa_key() -> &'static RsaKeyPair {
    static KEY: OnceLock<RsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};
        let private =
            rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA-2048 key generation succeeds");
        let private_pem = private
            .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
            .expect("an RSA key encodes as PKCS#8")
            .to_string();
        let public_pem = rsa::RsaPublicKey::from(&private)
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .expect("an RSA public key encodes as SPKI");
        RsaKeyPair {
            private_pem,
            public_pem,
        }
    })
}

/// `n` random bytes from the OS.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// `n` random bytes as lowercase hex (`2n` characters).
pub(crate) fn random_hex(n: usize) -> String {
    random_bytes(n).iter().map(|b| format!("{b:02x}")).collect()
}

/// A random (version 4) UUID in canonical lowercase form, as APNs makes for
/// a request that carries no `apns-id`.
pub(crate) fn random_uuid() -> String {
    let mut b = random_bytes(16);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A random decimal string of `len` digits (a service account's `client_id`).
pub(crate) fn random_digits(len: usize) -> String {
    random_bytes(len)
        .iter()
        .enumerate()
        .map(|(i, b)| {
            // No leading zero, like Google's numeric IDs.
            let digit = if i == 0 { 1 + b % 9 } else { b % 10 };
            char::from(b'0' + digit)
        })
        .collect()
}

/// A 10-character identifier of uppercase letters and digits, the form of
/// Apple's key IDs and Team IDs.
fn random_apple_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    random_bytes(10)
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}
