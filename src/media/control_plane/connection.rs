//! One joined room over the signal WebSocket: its state, the pending AddTrack
//! requests, and the task that turns server messages into events.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use livekit_protocol as proto;
use livekit_signaling::{SignalClient, SignalEvent, SignalEvents};
use proto::signal_response::Message;
use tokio::sync::{broadcast, oneshot};

use super::convert::{add_track_refusal, disconnect_reason_from_proto, track_from_proto};
use super::room_state::RoomState;
use crate::error::UTDStreamError;
use crate::media::{DisconnectReason, TrackInfo, TrackSource, TransportEvent};

/// How long a resume of a dropped signal connection may take in total.
const RESUME_BUDGET: Duration = Duration::from_secs(10);

/// What a pending AddTrack resolves to.
pub(crate) type AddTrackOutcome = Result<TrackInfo, UTDStreamError>;

/// Mutable state of one connection, behind a short-lived lock.
pub(crate) struct ConnState {
    pub(crate) room: RoomState,
    /// AddTrack requests waiting for the server's answer, by client track id.
    pub(crate) pending_adds: HashMap<String, (TrackSource, oneshot::Sender<AddTrackOutcome>)>,
    /// Set once the connection ended; operations then fail with this reason.
    pub(crate) ended: Option<DisconnectReason>,
    next_cid: u64,
}

impl ConnState {
    /// A fresh client track id. The SFU queues a second AddTrack with a cid
    /// it already holds instead of answering it, so never reuse one.
    pub(crate) fn next_cid(&mut self, source: TrackSource) -> String {
        self.next_cid += 1;
        format!("utd-{source}-{}", self.next_cid)
    }
}

/// A joined room.
pub(crate) struct Connection {
    pub(crate) client: SignalClient,
    state: Mutex<ConnState>,
    /// Serialises publish/unpublish/mute so two calls for one source cannot
    /// both send an AddTrack.
    pub(crate) publish_lock: tokio::sync::Mutex<()>,
}

impl Connection {
    pub(crate) fn new(client: SignalClient, room: RoomState) -> Self {
        Self {
            client,
            state: Mutex::new(ConnState {
                room,
                pending_adds: HashMap::new(),
                ended: None,
                next_cid: 0,
            }),
            publish_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The state. Never held across an await.
    pub(crate) fn state(&self) -> MutexGuard<'_, ConnState> {
        // A panic while holding the lock cannot leave the maps half-updated
        // in a way later readers would misread, so keep going.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the connection ended by us (no Disconnected event from the task).
    /// Returns false when it had already ended.
    pub(crate) fn end_locally(&self) -> bool {
        let mut state = self.state();
        if state.ended.is_some() {
            return false;
        }
        state.ended = Some(DisconnectReason::ClientInitiated);
        state.pending_adds.clear();
        true
    }

    /// Ends the connection because of the server or the network, once.
    async fn end(&self, reason: DisconnectReason, events: &broadcast::Sender<TransportEvent>) {
        {
            let mut state = self.state();
            if state.ended.is_some() {
                return;
            }
            state.ended = Some(reason.clone());
            // Dropping the senders wakes every waiting publish with an error.
            state.pending_adds.clear();
        }
        self.client.close().await;
        let _ = events.send(TransportEvent::Disconnected { reason });
    }

    fn emit_all(events: &broadcast::Sender<TransportEvent>, list: Vec<TransportEvent>) {
        for event in list {
            // No subscriber is not an error: sessions may not listen yet.
            let _ = events.send(event);
        }
    }

    /// Handles one server message. Returns false when the session is over.
    async fn handle(&self, message: Message, events: &broadcast::Sender<TransportEvent>) -> bool {
        match message {
            Message::Update(update) => {
                let list = self.state().room.apply_update(&update.participants);
                Self::emit_all(events, list);
            }
            Message::SpeakersChanged(changed) => {
                if let Some(event) = self.state().room.apply_speakers(&changed.speakers) {
                    let _ = events.send(event);
                }
            }
            Message::TrackPublished(published) => self.accepted(published, events),
            Message::RequestResponse(response) => self.refused(response),
            Message::TrackUnpublished(unpublished) => {
                let list = self
                    .state()
                    .room
                    .local_track_unpublished(&unpublished.track_sid);
                Self::emit_all(events, list);
            }
            Message::Mute(mute) => {
                // A server-side mute (RoomService.MutePublishedTrack).
                let mut state = self.state();
                if let Some(track) = state
                    .room
                    .local_tracks
                    .values_mut()
                    .find(|t| t.sid == mute.sid)
                {
                    track.muted = mute.muted;
                }
            }
            Message::Leave(leave) => {
                let resume = leave.action() == proto::leave_request::Action::Resume;
                if !resume {
                    self.end(disconnect_reason_from_proto(leave.reason), events)
                        .await;
                    return false;
                }
                return self.resume(events).await;
            }
            // Media negotiation, quality, subscription and token refresh
            // messages have no meaning without WebRTC (the crate keeps the
            // refreshed token itself).
            _ => {}
        }
        true
    }

    fn accepted(
        &self,
        published: proto::TrackPublishedResponse,
        events: &broadcast::Sender<TransportEvent>,
    ) {
        let mut state = self.state();
        let Some((source, reply)) = state.pending_adds.remove(&published.cid) else {
            return; // a publish that already timed out
        };
        let Some(track) = published.track.as_ref().map(track_from_proto) else {
            let _ = reply.send(Err(UTDStreamError::protocol(
                "livekit-server accepted the track without describing it",
            )));
            return;
        };
        state.room.local_tracks.insert(source, track.clone());
        let identity = state.room.local_identity.clone();
        // Emit under the lock so a permission update handled next cannot
        // report the track's removal before its publication.
        let _ = events.send(TransportEvent::TrackPublished {
            identity,
            local: true,
            track: track.clone(),
        });
        let _ = reply.send(Ok(track));
    }

    fn refused(&self, response: proto::RequestResponse) {
        let Some(proto::request_response::Request::AddTrack(request)) = response.request else {
            return;
        };
        if response.reason == proto::request_response::Reason::Ok as i32 {
            return;
        }
        if let Some((source, reply)) = self.state().pending_adds.remove(&request.cid) {
            let _ = reply.send(Err(add_track_refusal(
                source,
                response.reason,
                &response.message,
            )));
        }
    }

    /// Resumes the signal session after the WebSocket dropped.
    async fn resume(&self, events: &broadcast::Sender<TransportEvent>) -> bool {
        let _ = events.send(TransportEvent::Reconnecting);
        let deadline = tokio::time::Instant::now() + RESUME_BUDGET;
        let mut delay = Duration::from_millis(250);
        loop {
            let attempt = tokio::time::timeout_at(
                deadline,
                self.client
                    .restart(proto::ReconnectReason::RrSignalDisconnected),
            )
            .await;
            match attempt {
                Ok(Ok(_)) => {
                    self.client.set_reconnected().await;
                    let _ = events.send(TransportEvent::Reconnected);
                    return true;
                }
                Ok(Err(livekit_signaling::SignalError::LeaveRequest { reason, .. })) => {
                    self.end(disconnect_reason_from_proto(reason as i32), events)
                        .await;
                    return false;
                }
                Ok(Err(error)) if tokio::time::Instant::now() + delay < deadline => {
                    tracing::debug!("resuming the control-plane signal session failed: {error}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
                _ => {
                    self.end(DisconnectReason::ConnectionLost, events).await;
                    return false;
                }
            }
        }
    }

    /// Reads server messages until the session ends.
    pub(crate) async fn run(
        self: Arc<Self>,
        mut signal: SignalEvents,
        events: broadcast::Sender<TransportEvent>,
    ) {
        while let Some(event) = signal.recv().await {
            if self.state().ended.is_some() {
                return;
            }
            let keep_going = match event {
                SignalEvent::Message(message) => self.handle(*message, &events).await,
                SignalEvent::Close(why) => {
                    tracing::debug!("control-plane signal connection closed: {why}");
                    self.resume(&events).await
                }
            };
            if !keep_going {
                return;
            }
        }
        self.end(DisconnectReason::ConnectionLost, &events).await;
    }
}
