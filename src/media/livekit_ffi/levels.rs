//! Audio levels for the active speakers. The library names speakers without
//! levels; WebRTC's own statistics of each speaker's microphone track carry
//! them (`audioLevel` of the received stream, or of our own source).

use std::time::Duration;

use super::proto;
use super::proto::ffi_event::Message as Event;
use super::proto::ffi_request::Message as Request;
use super::session::Session;
use crate::media::ActiveSpeaker;

/// How long the statistics of one track may take before its level is left
/// unknown (events behind this one wait for it).
const STATS_TIMEOUT: Duration = Duration::from_millis(500);

/// Fills each speaker's level from its microphone track's statistics; a
/// speaker whose track or statistics are not there keeps `None`.
pub(crate) async fn fill(session: &Session, speakers: &mut [ActiveSpeaker]) {
    for speaker in speakers {
        if let Some(track) = session.microphone_track(&speaker.identity) {
            speaker.level = level_of(session, track).await;
        }
    }
}

async fn level_of(session: &Session, track: u64) -> Option<f32> {
    let answer = super::call(
        &session.client,
        "reading track statistics",
        STATS_TIMEOUT,
        |async_id| {
            Request::GetStats(proto::GetStatsRequest {
                track_handle: track,
                request_async_id: Some(async_id),
            })
        },
    )
    .await
    .ok()?;
    let Event::GetStats(stats) = answer else {
        return None;
    };
    if stats.error.is_some() {
        return None;
    }
    stats
        .stats
        .iter()
        .filter_map(|s| match &s.stats {
            Some(proto::rtc_stats::Stats::InboundRtp(inbound)) => Some(inbound.inbound.audio_level),
            Some(proto::rtc_stats::Stats::MediaSource(source)) => Some(source.audio.audio_level),
            _ => None,
        })
        .map(|level| level.clamp(0.0, 1.0) as f32)
        .reduce(f32::max)
}
