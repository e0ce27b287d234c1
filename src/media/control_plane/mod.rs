//! The control-plane transport: a real LiveKit participant without WebRTC.
//!
//! It joins a real livekit-server over the signal WebSocket using the
//! official `livekit-signaling` client, and so sees exactly what a media
//! client sees on the control plane:
//!
//! - the JoinResponse (room, local identity and sid, the granted permission,
//!   the other participants);
//! - ParticipantUpdates: remote joins, leaves and track changes, and the local
//!   participant's permission changes pushed after
//!   RoomService.UpdateParticipant ([`TransportEvent::PermissionChanged`]);
//! - the SFU's real decision on publishing: [`RoomTransport::publish`] sends
//!   an AddTrack request and succeeds only when livekit-server answers with
//!   TrackPublishedResponse; a RequestResponse NOT_ALLOWED becomes
//!   `Forbidden` (the granted permission is also checked before asking);
//! - active speaker updates, server-initiated unpublish and leave, and
//!   resuming the signal session when the WebSocket drops. Keep-alive pings
//!   are sent by `livekit-signaling` itself.
//!
//! # What it cannot do
//!
//! There is no WebRTC underneath, so:
//!
//! - **No media.** "Published" means the SFU accepted the AddTrack and holds
//!   the track as pending; no RTP ever flows, so the server never makes the
//!   track live and other participants do not see it (they would only after
//!   the first RTP packet). When publish permission for a source is revoked,
//!   the transport applies the server's rule (tracks of a disallowed source
//!   are removed) to its accepted tracks and emits
//!   [`TransportEvent::LocalTrackUnpublishedByServer`]. `unpublish` and mute
//!   only change the local view (LiveKit unpublishes by renegotiating the
//!   peer connection, which does not exist here); mute is still signalled.
//! - **No data messages.** [`RoomTransport::send_data`] fails with
//!   `Unsupported`, and `DataReceived` is never emitted: LiveKit carries data
//!   on WebRTC data channels.
//! - **No session past livekit-server's join timeout.** The server removes a
//!   participant that never opens a WebRTC connection about 60 s after it
//!   joined (JOIN_TIMEOUT). The transport then emits
//!   `Disconnected { reason: JoinFailure }` and later operations fail with
//!   `Unsupported`, saying so. Keep each session well under a minute.
//! - `dynacast` has no effect (it tunes a publisher connection there is none
//!   of); `adaptive_stream` and `auto_subscribe` are sent to the server.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use livekit_protocol as proto;
use livekit_signaling::{SignalClient, SignalOptions, SignalSdkOptions};
use tokio::sync::{broadcast, oneshot};

use crate::error::UTDStreamError;
use crate::media::{
    not_connected, publish_forbidden, unpublishable, DisconnectReason, JoinedRoom, ParticipantInfo,
    Permission, RoomTransport, TrackSource, TransportEvent, TransportOptions, TransportResult,
    EVENT_CHANNEL_CAPACITY,
};

mod connection;
pub(crate) mod convert;
mod room_state;

use connection::Connection;
use convert::{join_error, source_to_proto, track_type_for};

/// How long livekit-server keeps a participant that has no WebRTC
/// connection (its JOIN_TIMEOUT): the longest a control-plane session lasts.
pub const CONTROL_PLANE_SESSION_LIMIT: Duration = Duration::from_secs(60);

/// How long `publish` waits for the SFU to accept or refuse an AddTrack.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// The control-plane transport (see the module docs for what it cannot do).
#[derive(Clone)]
pub struct ControlPlaneTransport {
    shared: Arc<Shared>,
}

struct Shared {
    events: broadcast::Sender<TransportEvent>,
    current: Mutex<Option<Arc<Connection>>>,
    /// Serialises connect and disconnect.
    lifecycle: tokio::sync::Mutex<()>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Dropping the last handle without `disconnect` must not leave a
        // participant in the room until the server's join timeout.
        let current = self
            .current
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let (Some(connection), Ok(runtime)) = (current, tokio::runtime::Handle::try_current()) {
            if connection.end_locally() {
                runtime.spawn(async move { connection.client.close().await });
            }
        }
    }
}

impl Default for ControlPlaneTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for ControlPlaneTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlaneTransport")
            .field("connected", &self.live_connection().is_some())
            .finish()
    }
}

/// Why an operation cannot run on a connection that ended.
fn ended_error(what: &str, reason: &DisconnectReason) -> UTDStreamError {
    match reason {
        DisconnectReason::JoinFailure => UTDStreamError::unsupported(format!(
            "cannot {what}: the control-plane transport's session ended because livekit-server \
             removes a participant without a WebRTC connection after {} s (JOIN_TIMEOUT); \
             this transport has no WebRTC, so connect again for a new session",
            CONTROL_PLANE_SESSION_LIMIT.as_secs()
        )),
        other => UTDStreamError::invalid_state(format!(
            "cannot {what}: the room connection ended ({other:?}); connect again"
        )),
    }
}

impl ControlPlaneTransport {
    /// A transport that is not connected yet.
    pub fn new() -> Self {
        let (events, _) = broadcast::channel(EVENT_CHANNEL_CAPACITY);
        Self {
            shared: Arc::new(Shared {
                events,
                current: Mutex::new(None),
                lifecycle: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn current(&self) -> Option<Arc<Connection>> {
        self.shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn live_connection(&self) -> Option<Arc<Connection>> {
        self.current().filter(|c| c.state().ended.is_none())
    }

    /// The connection for an operation, or why there is none.
    fn connection(&self, what: &str) -> TransportResult<Arc<Connection>> {
        let connection = self.current().ok_or_else(|| not_connected(what))?;
        let ended = connection.state().ended.clone();
        match ended {
            None => Ok(connection),
            Some(reason) => Err(ended_error(what, &reason)),
        }
    }

    /// Sends an AddTrack for `source` WITHOUT checking the granted permission
    /// first, so tests can show that livekit-server itself refuses (NOT_ALLOWED
    /// becomes `Forbidden`). Apps use [`RoomTransport::publish`].
    #[doc(hidden)]
    pub async fn publish_without_local_check(&self, source: TrackSource) -> TransportResult<()> {
        self.request_publish(source, false).await
    }

    async fn request_publish(&self, source: TrackSource, check_first: bool) -> TransportResult<()> {
        if !source.is_publishable() {
            return Err(unpublishable(source));
        }
        let connection = self.connection("publish")?;
        let _serial = connection.publish_lock.lock().await;
        let (request, reply) = {
            let mut state = connection.state();
            if let Some(reason) = &state.ended {
                return Err(ended_error("publish", reason));
            }
            if state.room.local_tracks.contains_key(&source) {
                return Ok(());
            }
            if check_first && !state.room.permission.allows_publishing(source) {
                return Err(publish_forbidden(source, &state.room.permission));
            }
            let cid = state.next_cid(source);
            let (tx, rx) = oneshot::channel();
            state.pending_adds.insert(cid.clone(), (source, tx));
            let request = proto::AddTrackRequest {
                cid,
                name: source.to_string(),
                r#type: track_type_for(source) as i32,
                source: source_to_proto(source) as i32,
                ..Default::default()
            };
            (request, rx)
        };
        let cid = request.cid.clone();
        connection
            .client
            .send(proto::signal_request::Message::AddTrack(request))
            .await;
        match tokio::time::timeout(PUBLISH_TIMEOUT, reply).await {
            Ok(Ok(outcome)) => outcome.map(|_| ()),
            Ok(Err(_)) => {
                let ended = connection.state().ended.clone();
                Err(ended_error(
                    "publish",
                    &ended.unwrap_or(DisconnectReason::ConnectionLost),
                ))
            }
            Err(_) => {
                connection.state().pending_adds.remove(&cid);
                Err(UTDStreamError::new(
                    crate::error::UTDErrorCode::Timeout,
                    format!(
                        "livekit-server did not answer the {source} publish within {} s",
                        PUBLISH_TIMEOUT.as_secs()
                    ),
                ))
            }
        }
    }

    /// Mutes or unmutes our track for `source`; false when not published.
    async fn set_muted(&self, source: TrackSource, muted: bool) -> TransportResult<bool> {
        let connection = self.connection(if muted { "mute" } else { "unmute" })?;
        let _serial = connection.publish_lock.lock().await;
        let sid = {
            let mut state = connection.state();
            let Some(track) = state.room.local_tracks.get_mut(&source) else {
                return Ok(false);
            };
            if track.muted == muted {
                return Ok(true);
            }
            track.muted = muted;
            track.sid.clone()
        };
        connection
            .client
            .send(proto::signal_request::Message::Mute(
                proto::MuteTrackRequest { sid, muted },
            ))
            .await;
        Ok(true)
    }

    async fn set_source(&self, source: TrackSource, enabled: bool) -> TransportResult<()> {
        let published = self.set_muted(source, !enabled).await?;
        if enabled && !published {
            self.publish(source).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl RoomTransport for ControlPlaneTransport {
    async fn connect(
        &self,
        url: &str,
        token: &str,
        options: TransportOptions,
    ) -> TransportResult<JoinedRoom> {
        let _serial = self.shared.lifecycle.lock().await;
        if self.live_connection().is_some() {
            return Err(UTDStreamError::invalid_state(
                "already connected to a room: disconnect first",
            ));
        }
        let mut signal_options = SignalOptions::default();
        signal_options.auto_subscribe = options.auto_subscribe;
        signal_options.adaptive_stream = options.adaptive_stream;
        // Self-hosted servers have no region list; never reach out for one.
        signal_options.region_failover = false;
        let mut sdk = SignalSdkOptions::default();
        sdk.sdk_version = Some(env!("CARGO_PKG_VERSION").to_string());
        signal_options.sdk_options = sdk;

        let (client, join, signal_events) = SignalClient::connect(url, token, signal_options, None)
            .await
            .map_err(|e| join_error(&e))?;
        let (room, joined) = match room_state::RoomState::from_join(&join) {
            Ok(parsed) => parsed,
            Err(error) => {
                client.close().await;
                return Err(error);
            }
        };
        let connection = Arc::new(Connection::new(client, room));
        *self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(connection.clone());
        tokio::spawn(connection.run(signal_events, self.shared.events.clone()));
        Ok(joined)
    }

    async fn publish(&self, source: TrackSource) -> TransportResult<()> {
        self.request_publish(source, true).await
    }

    async fn unpublish(&self, source: TrackSource) -> TransportResult<()> {
        let connection = self.connection("unpublish")?;
        let _serial = connection.publish_lock.lock().await;
        let mut state = connection.state();
        if let Some(track) = state.room.local_tracks.remove(&source) {
            let identity = state.room.local_identity.clone();
            let _ = self.shared.events.send(TransportEvent::TrackUnpublished {
                identity,
                local: true,
                track,
            });
        }
        Ok(())
    }

    async fn set_microphone(&self, enabled: bool) -> TransportResult<()> {
        self.set_source(TrackSource::Microphone, enabled).await
    }

    async fn set_camera(&self, enabled: bool) -> TransportResult<()> {
        self.set_source(TrackSource::Camera, enabled).await
    }

    async fn send_data(
        &self,
        _payload: Vec<u8>,
        _reliable: bool,
        _destination_identities: Vec<String>,
    ) -> TransportResult<()> {
        Err(UTDStreamError::unsupported(
            "the control-plane transport cannot send data messages: LiveKit carries them on \
             WebRTC data channels and this transport has no WebRTC (use the `livekit` transport)",
        ))
    }

    async fn disconnect(&self) -> TransportResult<()> {
        let _serial = self.shared.lifecycle.lock().await;
        let Some(connection) = self
            .shared
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return Ok(());
        };
        if !connection.end_locally() {
            return Ok(()); // the server already ended it and said why
        }
        connection
            .client
            .send(proto::signal_request::Message::Leave(proto::LeaveRequest {
                reason: proto::DisconnectReason::ClientInitiated as i32,
                action: proto::leave_request::Action::Disconnect as i32,
                ..Default::default()
            }))
            .await;
        connection.client.close().await;
        let _ = self.shared.events.send(TransportEvent::Disconnected {
            reason: DisconnectReason::ClientInitiated,
        });
        Ok(())
    }

    fn events(&self) -> broadcast::Receiver<TransportEvent> {
        self.shared.events.subscribe()
    }

    fn permission(&self) -> Option<Permission> {
        self.live_connection()
            .map(|c| c.state().room.permission.clone())
    }

    fn published_sources(&self) -> Vec<TrackSource> {
        let Some(connection) = self.live_connection() else {
            return Vec::new();
        };
        let state = connection.state();
        let mut sources: Vec<TrackSource> = state.room.local_tracks.keys().copied().collect();
        sources.sort_by_key(|s| *s as u8);
        sources
    }

    fn remote_participants(&self) -> Vec<ParticipantInfo> {
        self.live_connection()
            .map(|c| c.state().room.remote_participants())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::UTDErrorCode;

    #[test]
    fn an_ended_session_says_why_operations_fail() {
        let e = ended_error("publish", &DisconnectReason::JoinFailure);
        assert_eq!(e.kind(), UTDErrorCode::Unsupported);
        assert!(e.message().contains("JOIN_TIMEOUT"), "{e}");
        assert!(e.message().contains("control-plane transport"), "{e}");
        let e = ended_error("publish", &DisconnectReason::ParticipantRemoved);
        assert_eq!(e.kind(), UTDErrorCode::InvalidState);
    }

    #[tokio::test]
    async fn operations_before_connect_are_invalid_state_and_data_is_unsupported() {
        let transport = ControlPlaneTransport::new();
        let e = transport
            .publish(TrackSource::Microphone)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), UTDErrorCode::InvalidState);
        let e = transport
            .publish(TrackSource::ScreenShare)
            .await
            .unwrap_err();
        assert_eq!(e.kind(), UTDErrorCode::InvalidArgument);
        let e = transport
            .send_data(vec![1], true, vec![])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), UTDErrorCode::Unsupported);
        assert!(transport.permission().is_none());
        transport.disconnect().await.expect("disconnect is a no-op");
    }
}
