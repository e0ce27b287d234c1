//! The four product types a session can be.

use std::sync::Arc;

use crate::error::{UTDResult, UTDStreamError};

/// The four canonical product types. Each has a wire value (what the engine
/// and tokens use) and the `isCall` / `hasVideo` helpers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, uniffi::Enum)]
pub enum UTDStreamType {
    /// A 1:1 audio call.
    AudioCall,
    /// A 1:1 video call.
    VideoCall,
    /// One host broadcasting to viewers, with a stage of co-publishers.
    LiveStream,
    /// Seat-based speakers and listeners, audio only.
    AudioRoom,
}

impl UTDStreamType {
    /// Every type, in declaration order.
    pub const ALL: [UTDStreamType; 4] = [
        UTDStreamType::AudioCall,
        UTDStreamType::VideoCall,
        UTDStreamType::LiveStream,
        UTDStreamType::AudioRoom,
    ];

    /// The wire value as a static string (Rust callers).
    pub fn as_wire(self) -> &'static str {
        match self {
            Self::AudioCall => "audio_call",
            Self::VideoCall => "video_call",
            Self::LiveStream => "live_stream",
            Self::AudioRoom => "audio_room",
        }
    }

    /// Parses a wire value (Rust callers).
    pub fn parse_wire(value: &str) -> Result<Self, UTDStreamError> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_wire() == value)
            .ok_or_else(|| {
                UTDStreamError::invalid_argument(format!(
                    "unknown stream type {value:?} (expected audio_call, video_call, live_stream or audio_room)"
                ))
            })
    }
}

#[uniffi::export]
impl UTDStreamType {
    /// The value the engine uses for this type (`"audio_call"`, ...).
    pub fn wire_value(&self) -> String {
        self.as_wire().to_owned()
    }

    /// True for the two 1:1 call types.
    pub fn is_call(&self) -> bool {
        matches!(self, Self::AudioCall | Self::VideoCall)
    }

    /// True for the types that publish camera video by default.
    pub fn has_video(&self) -> bool {
        matches!(self, Self::VideoCall | Self::LiveStream)
    }
}

/// Parses an engine wire value (`"video_call"`, ...) into a stream type.
#[uniffi::export]
pub fn stream_type_from_wire_value(value: String) -> UTDResult<UTDStreamType> {
    UTDStreamType::parse_wire(&value).map_err(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_round_trip_and_helpers_hold() {
        for t in UTDStreamType::ALL {
            assert_eq!(UTDStreamType::parse_wire(t.as_wire()).ok(), Some(t));
        }
        assert!(UTDStreamType::AudioCall.is_call() && !UTDStreamType::AudioCall.has_video());
        assert!(UTDStreamType::VideoCall.is_call() && UTDStreamType::VideoCall.has_video());
        assert!(!UTDStreamType::LiveStream.is_call() && UTDStreamType::LiveStream.has_video());
        assert!(!UTDStreamType::AudioRoom.is_call() && !UTDStreamType::AudioRoom.has_video());
        assert!(UTDStreamType::parse_wire("group_call").is_err());
    }
}
