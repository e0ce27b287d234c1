//! Removes credentials from text before it leaves the SDK.
//!
//! Applied to every forwarded log message, so a careless `debug!` of a
//! request or a URL cannot leak a bearer, a LiveKit JWT or an app key.

/// Prefix of the engine's opaque user session tokens (docs/engine-api.md).
pub const SESSION_TOKEN_PREFIX: &str = "utdst_";

const REDACTED: &str = "[redacted]";

/// Returns `text` with bearer tokens, JWTs, session tokens and credential
/// query/JSON values replaced by `[redacted]`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some((start, skip_to)) = next_secret(rest) {
        out.push_str(&rest[..start]);
        out.push_str(REDACTED);
        rest = &rest[skip_to..];
    }
    out.push_str(rest);
    out
}

/// Finds the next secret in `s`: (where the redaction starts, where it ends).
fn next_secret(s: &str) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize)> = None;
    let mut consider = |candidate: Option<(usize, usize)>| {
        if let Some(c) = candidate {
            if best.is_none_or(|b| c.0 < b.0) {
                best = Some(c);
            }
        }
    };
    // "Bearer <token>": keep the word, hide the token.
    consider(find_ci(s, "bearer ").map(|i| {
        let start = i + "bearer ".len();
        (start, start + token_len(&s[start..]))
    }));
    // A JWT (LiveKit room tokens): header segments start with "eyJ".
    consider(s.find("eyJ").map(|i| (i, i + token_len(&s[i..]))));
    consider(
        s.find(SESSION_TOKEN_PREFIX)
            .map(|i| (i, i + token_len(&s[i..]))),
    );
    // key=value and "key":"value" for credential-named keys.
    for key in [
        "token",
        "access_token",
        "user_token",
        "app_key",
        "server_secret",
        "secret",
        "api_secret",
    ] {
        consider(find_value_of(s, key));
    }
    best.filter(|(start, end)| end > start)
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack
        .as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn token_len(s: &str) -> usize {
    s.find(|c: char| {
        !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | '+' | '/' | '='))
    })
    .unwrap_or(s.len())
}

/// `key=VALUE` or `"key":"VALUE"` (optionally with spaces): the VALUE span.
fn find_value_of(s: &str, key: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(pos) = s[from..].find(key) {
        let at = from + pos;
        let before_ok = at == 0 || !is_key_char(s.as_bytes()[at - 1]);
        let mut i = at + key.len();
        let bytes = s.as_bytes();
        if before_ok && (i >= bytes.len() || !is_key_char(bytes[i])) {
            if bytes.get(i) == Some(&b'"') {
                i += 1;
            }
            while bytes.get(i) == Some(&b' ') {
                i += 1;
            }
            if matches!(bytes.get(i), Some(b'=') | Some(b':')) {
                i += 1;
                while bytes.get(i) == Some(&b' ') {
                    i += 1;
                }
                if bytes.get(i) == Some(&b'"') {
                    i += 1;
                }
                let len = token_len(&s[i..]);
                if len > 0 {
                    return Some((i, i + len));
                }
            }
        }
        from = at + key.len();
    }
    None
}

fn is_key_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn hides_bearers_jwts_and_credential_values() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2lnbmF0dXJl";
        let cases = [
            (
                "Authorization: Bearer utdst_abc123",
                "Authorization: Bearer [redacted]",
            ),
            (&format!("token {jwt} ok") as &str, "token [redacted] ok"),
            ("GET /ws?token=abc.def&x=1", "GET /ws?token=[redacted]&x=1"),
            (
                r#"{"app_key":"k_123","name":"a"}"#,
                r#"{"app_key":"[redacted]","name":"a"}"#,
            ),
            ("session utdst_zzz9 minted", "session [redacted] minted"),
            ("nothing secret here", "nothing secret here"),
        ];
        for (input, expected) in cases {
            assert_eq!(redact(input), expected, "input: {input}");
        }
    }

    #[test]
    fn keys_inside_other_words_are_left_alone() {
        assert_eq!(redact("tokenizer=fast"), "tokenizer=fast");
        assert_eq!(redact("user_tokens: 3"), "user_tokens: 3");
    }
}
