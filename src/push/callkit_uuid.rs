//! The system-call UUID of a call: the same on every path (VoIP push,
//! WebSocket invitation, cold start), so CallKit / Telecom see one call.

use uuid::Uuid;

/// The namespace of call UUIDs: UUIDv5 of the URL
/// `https://utd-stream.dev/calls` in the RFC 9562 URL namespace. Fixed
/// forever: changing it would split one call into two system calls
/// across SDK versions.
fn namespace() -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_URL, b"https://utd-stream.dev/calls")
}

/// The deterministic (version 5) UUID of `call_id`, lowercase with
/// hyphens. Report calls to CallKit / ConnectionService with it.
#[uniffi::export]
pub fn call_kit_uuid(call_id: &str) -> String {
    Uuid::new_v5(&namespace(), call_id.as_bytes())
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Computed independently (Python's `uuid.uuid5`); the Kotlin and
    /// Swift suites assert the same vectors through the bindings.
    const VECTORS: [(&str, &str); 3] = [
        (
            "call_AAAAAAAAAAAAAAAAAAAAAA",
            "0e900213-bd54-5b9a-af2e-00d34e636a3c",
        ),
        (
            "call_Yf3abcdefghijklmnopqrs",
            "9d350f04-df41-5513-9d7a-e44d26e3f4a7",
        ),
        (
            "call_0123456789-_abcdefghij",
            "af1360bb-175c-5b58-b6f7-dd0648f31bb8",
        ),
    ];

    #[test]
    fn the_namespace_is_the_documented_one() {
        assert_eq!(
            namespace().to_string(),
            "f235dc3e-50b4-51f6-836e-5188fe9d6a3c"
        );
    }

    #[test]
    fn uuids_match_the_vectors_and_are_version_5() {
        for (call_id, expected) in VECTORS {
            let uuid = call_kit_uuid(call_id);
            assert_eq!(uuid, expected, "{call_id}");
            assert_eq!(Uuid::parse_str(&uuid).map(|u| u.get_version_num()), Ok(5));
        }
    }
}
