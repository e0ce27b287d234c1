//! Compact JWS signing for the push providers: ES256 (APNs provider tokens)
//! and RS256 (FCM service-account assertions), from PEM keys.
//!
//! Signing goes through jsonwebtoken's RustCrypto provider directly rather
//! than its process-wide default: livekit-token installs an HMAC-only
//! provider as that default on first use, which cannot sign ES256/RS256.

use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::Value;

/// Makes the RustCrypto provider jsonwebtoken's process default when none is
/// chosen yet (it signs and verifies everything livekit-token's does, plus
/// ES256/RS256, so in-process verifiers of our tokens work too).
pub(crate) fn install_default_provider() {
    let _ = DEFAULT_PROVIDER.install_default();
}

fn check(key: EncodingKey, alg: Algorithm) -> anyhow::Result<EncodingKey> {
    let signer = (DEFAULT_PROVIDER.signer_factory)(&alg, &key)
        .map_err(|e| anyhow::anyhow!("unusable {alg:?} key: {e}"))?;
    signer
        .try_sign(b"probe")
        .map_err(|e| anyhow::anyhow!("unusable {alg:?} key: {e}"))?;
    Ok(key)
}

/// A P-256 private key in PKCS#8 PEM (an APNs `.p8` file).
pub(crate) fn ec_key(pem: &str) -> anyhow::Result<EncodingKey> {
    let key =
        EncodingKey::from_ec_pem(pem.as_bytes()).context("not a PKCS#8 PEM EC private key")?;
    check(key, Algorithm::ES256)
}

/// An RSA private key in PEM (PKCS#8 or PKCS#1).
pub(crate) fn rsa_key(pem: &str) -> anyhow::Result<EncodingKey> {
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).context("not a PEM RSA private key")?;
    check(key, Algorithm::RS256)
}

/// `base64url(header).base64url(claims).base64url(signature)`; `header` gets
/// its `alg` from `alg`.
pub(crate) fn sign(
    alg: Algorithm,
    mut header: Value,
    claims: &Value,
    key: &EncodingKey,
) -> anyhow::Result<String> {
    let name = match alg {
        Algorithm::ES256 => "ES256",
        Algorithm::RS256 => "RS256",
        other => anyhow::bail!("unsupported algorithm {other:?}"),
    };
    header["alg"] = Value::from(name);
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signer = (DEFAULT_PROVIDER.signer_factory)(&alg, key)
        .map_err(|e| anyhow::anyhow!("cannot sign {name}: {e}"))?;
    let signature = signer
        .try_sign(message.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot sign {name}: {e}"))?;
    Ok(format!("{message}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use jsonwebtoken::DecodingKey;
    use serde_json::json;

    // Throwaway keys generated for these tests only.
    pub(crate) const EC_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgp9GtxLHFbOaCvwIl
LGOREg42dQ8hDv4GOJCTjbxQreChRANCAATORk6Q/dxzE7GTzHAbW/5znmhu2Ngh
MgeaI+mTHe6fr4DS9aW/T3LS1hGubU/jaNR57GqXV5NYlPmT9aqbrUQL
-----END PRIVATE KEY-----
";
    const EC_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEzkZOkP3ccxOxk8xwG1v+c55obtjY
ITIHmiPpkx3un6+A0vWlv09y0tYRrm1P42jUeexql1eTWJT5k/Wqm61ECw==
-----END PUBLIC KEY-----
";
    pub(crate) const RSA_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDgN13X6+LUcose
SwgTYERWsguV/aNbLsABD6PSiKUA46vBeXAlfrC9URNLuG6ZJCZpOE9WOs6l0M2w
cLZeaHRsY4EdpRF9eynWL8+cXAyNoG/zpLVG0bXdGCEbuNhBXxe0AhcDxdSZS7H0
GWVCkK1WKkdh7KhD0fbpn52M0BO3yhpLC+aANZrmqoysH/wpZ7+z2cnFOSDmYkEv
ljMOsvWBW384+cMFe1hbnFwM263BEkLgqGxzxNPmGJ24kxSZpE/c6eTJt79TtiTl
/CrreY4qUKxcRpZ7UEcUzSxHhyxLPC5TAJrqiM/zRPup6Tfv0F/8BEnoGHaGXEiY
4VFAFTPjAgMBAAECggEAM8UU6fIRIbSA4rG4X6DupoXdnvg9a6RTuOr/jHD4iEgJ
NFbxyfaCoHPD3Mvs3Xc3VzwlNWfGpwqbM44SzaGYoB4phcrDSxHRCx9m9FdcnqbY
sozpPjzVnQMhQeFgLVfjhTCmV7yp5etQX2gttTzqiOaiLL4T6/Ti6fZszkKNCvY0
kHscGKicO/wTcPkGDa9ZQFK6T4wm0UtjWLwZBu75K3ocyZYRUBnotUR3hXBK1Qqr
26WdsMCPp9MyUIPJpwgHD1EyaXt/yhdFTp03n1iFNCaEPBjRdgZPcigrxIBn0M4I
NeL89TTS//V4KRLBV8RPSfjKZFaz8Ytva9GcwPGtYQKBgQDw7KhPNn/zTgU9o7er
uBOj50r1bDx2uRaabRS3/Ex3eb26w73uLP5vPWtKoy3zrnnkqFwuso6uud763Dmi
yNdH69mVL+3nJSg/RXbRvnAX+y96P9Q7c8Asjw6zsqrP1FS854mZ8fkeOWxwpbUz
FfmpgdoTrcAbqFJWD6RC9ux9bQKBgQDuPxATMp8sOMAdwCB2xDO2TED2jPwEBQ/A
Z7NTGDhWvTCtUcscImXjg+GtKNpRS4yCp8uCEAKj+2LPzJ025N7tskKyWvUQl7st
3jG8k0khhCEfHnWCgFwbdkD548MuoXAfIg4iDxDOrQxPOEK6+qGbXsG4rcYLjXP4
xkKpruU0jwKBgETJzWSQkwfNBwIKdK666CCsMWLRfJIJVsLQ0lGV399dCycALIKM
pjjsuG2fGcex0WvQBkHvCX4p49iMeIhZ/92xIXbPMIYGve8SzlIkpayzM2McRmST
MBOI5RG5ubuNTISDN26VACP5EVU4evwTEi2rvbBQs8Ex1hBsduIHzo4hAoGBAINX
3OLYi4vzlWZRXxRawi+EBmRmASGuMKrgAKqUtaqMDmPerdzK0eUF9cpitUkQH1yA
aN9BOFNy6Vyp7xouPwBHwCFXp7cIDzcQQdc2U6DYmPHw9tOFNEInhVa+TAJPGeLw
AV6hc6CdIiYiXBd8yM9BBAduNbp0tzS1CFdHhjDdAoGAQg3xnO8A4wZjp5VsBgY+
4eWQ6Kjsw2tyKHXYZ+bMCXNSH8eLTiYiKBMN6IagKKIgaPG//4seUIlTd34tE5NL
X+6QgAw6s3y4JsAmDI7wuwyky6tbkJMp76Xm1mIQMKUGgFqGK/mBGhU0kwya5nBo
yVwQh0ePlKJ1HSZRkzwgr1I=
-----END PRIVATE KEY-----
";
    const RSA_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA4Ddd1+vi1HKLHksIE2BE
VrILlf2jWy7AAQ+j0oilAOOrwXlwJX6wvVETS7humSQmaThPVjrOpdDNsHC2Xmh0
bGOBHaURfXsp1i/PnFwMjaBv86S1RtG13RghG7jYQV8XtAIXA8XUmUux9BllQpCt
VipHYeyoQ9H26Z+djNATt8oaSwvmgDWa5qqMrB/8KWe/s9nJxTkg5mJBL5YzDrL1
gVt/OPnDBXtYW5xcDNutwRJC4Khsc8TT5hiduJMUmaRP3Onkybe/U7Yk5fwq63mO
KlCsXEaWe1BHFM0sR4csSzwuUwCa6ojP80T7qek379Bf/ARJ6Bh2hlxImOFRQBUz
4wIDAQAB
-----END PUBLIC KEY-----
";

    /// Verifies `token` with `key` and returns (header, claims).
    pub(crate) fn verify(token: &str, alg: Algorithm, key: &DecodingKey) -> (Value, Value) {
        let (message, signature) = token.rsplit_once('.').expect("three parts");
        let verifier = (DEFAULT_PROVIDER.verifier_factory)(&alg, key).expect("verifier");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("b64 signature");
        jsonwebtoken::signature::Verifier::verify(&*verifier, message.as_bytes(), &signature)
            .expect("a valid signature");
        let (h, c) = message.split_once('.').unwrap();
        let part = |p: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap()
        };
        (part(h), part(c))
    }

    #[test]
    fn es256_and_rs256_tokens_verify_with_the_public_keys() {
        let key = ec_key(EC_KEY_PEM).unwrap();
        let t = sign(
            Algorithm::ES256,
            json!({"kid": "KEYID"}),
            &json!({"iss": "TEAM", "iat": 1}),
            &key,
        )
        .unwrap();
        let public = DecodingKey::from_ec_pem(EC_PUBLIC_PEM.as_bytes()).unwrap();
        let (h, c) = verify(&t, Algorithm::ES256, &public);
        assert_eq!(h, json!({"alg": "ES256", "kid": "KEYID"}));
        assert_eq!(c, json!({"iss": "TEAM", "iat": 1}));

        let key = rsa_key(RSA_KEY_PEM).unwrap();
        let t = sign(
            Algorithm::RS256,
            json!({"typ": "JWT", "kid": "k"}),
            &json!({"iss": "a@b"}),
            &key,
        )
        .unwrap();
        let public = DecodingKey::from_rsa_pem(RSA_PUBLIC_PEM.as_bytes()).unwrap();
        let (h, _) = verify(&t, Algorithm::RS256, &public);
        assert_eq!(h["alg"], "RS256");
    }

    #[test]
    fn malformed_keys_are_refused() {
        assert!(ec_key("not a key").is_err());
        assert!(ec_key(RSA_KEY_PEM).is_err());
        assert!(rsa_key(EC_KEY_PEM).is_err());
        assert!(rsa_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").is_err());
    }
}
