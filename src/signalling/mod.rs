//! The signalling plane: one WebSocket to the engine carrying presence and
//! room events (seats, stage; and, in later issues, call invitations and
//! chat events).
//!
//! `Signalling` is the handle the client owns; the socket itself lives in a
//! background task (`connection`) that reconnects with jittered exponential
//! backoff and re-subscribes the watched presence set and the subscribed
//! rooms after every reconnect (so the engine sends their current state
//! again). Room events reach Rust callers as [`RoomPush`]es on a broadcast
//! channel ([`Signalling::room_pushes`]).

pub mod backoff;
mod chat_push;
mod connection;
pub mod protocol;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::api::calls::CallWire;
use crate::api::rooms::{validate_room_name, SeatsWire};
use crate::api::stage::StageWire;
use crate::auth::AuthState;
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::observe::Observable;
use crate::runtime;
use crate::types::{UTDConnectionState, UTDPresence};
use backoff::Backoff;
pub use chat_push::ChatPush;
use protocol::{ClientMessage, ServerMessage};

/// How long a caller waits for the engine to confirm a message.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Room pushes buffered per receiver before a slow one starts lagging.
const ROOM_PUSH_CAPACITY: usize = 256;

/// Chat pushes buffered per receiver: bursts are larger than room pushes,
/// and a receiver that lags anyway catches up over REST.
const CHAT_PUSH_CAPACITY: usize = 1024;

/// A room event pushed by the engine to room subscribers.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomPush {
    /// `seats.updated`: the seat grid of an audio room, current or changed.
    Seats(SeatsWire),
    /// `stage.updated`: the stage of a live stream, current or changed.
    Stage(StageWire),
    /// `stage.requested`: a viewer asked this user (the host) for the stage.
    StageRequested(StageRequestedPush),
}

impl RoomPush {
    /// The (un-prefixed) room the push is about.
    pub fn room_name(&self) -> &str {
        match self {
            Self::Seats(seats) => &seats.room_name,
            Self::Stage(stage) => &stage.room_name,
            Self::StageRequested(request) => &request.room_name,
        }
    }
}

/// A viewer's request to join the stage, as pushed to the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRequestedPush {
    /// The live stream's room.
    pub room_name: String,
    /// Who asked.
    pub identity: String,
    /// Their display name, if they gave one.
    pub name: Option<String>,
    /// When they asked (ms since the Unix epoch).
    pub created_at_ms: u64,
}

/// A call event pushed by the engine to this user's devices.
#[derive(Debug, Clone, PartialEq)]
pub enum CallPush {
    /// `call.invitation`: someone calls this user.
    Invitation(CallWire),
    /// `call.updated`: a call of this user changed.
    Updated(CallWire),
}

impl CallPush {
    /// The call the push is about.
    pub fn call(&self) -> &CallWire {
        match self {
            Self::Invitation(call) | Self::Updated(call) => call,
        }
    }
}

/// State the connection task publishes and the client reads.
#[derive(Debug)]
pub struct SignalShared {
    /// The connection state.
    pub state: Observable<UTDConnectionState>,
    /// Presence of watched users, by identity.
    pub presence: Observable<BTreeMap<String, UTDPresence>>,
    /// Identities to watch: replayed after every (re)connect.
    watched: Mutex<BTreeSet<String>>,
    /// Subscribed rooms with their subscriber counts (always ≥ 1): replayed
    /// after every (re)connect.
    rooms: Mutex<BTreeMap<String, usize>>,
    /// Where room pushes for subscribed rooms go out.
    room_pushes: broadcast::Sender<RoomPush>,
    /// Where call invitations and updates go out.
    call_pushes: broadcast::Sender<CallPush>,
    /// Where chat pushes go out.
    chat_pushes: broadcast::Sender<ChatPush>,
}

impl SignalShared {
    fn watched(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.watched.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rooms(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, usize>> {
        self.rooms.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The identities currently watched, sorted.
    pub fn watched_list(&self) -> Vec<String> {
        self.watched().iter().cloned().collect()
    }

    /// The rooms currently subscribed, sorted.
    pub fn subscribed_rooms(&self) -> Vec<String> {
        self.rooms().keys().cloned().collect()
    }

    /// Broadcasts a call push (listeners drop invitations they already
    /// delivered). Having no receivers is fine.
    fn publish_call_push(&self, push: CallPush) {
        let _ = self.call_pushes.send(push);
    }

    /// Broadcasts `push` if its room is subscribed; a late push for a room
    /// no longer subscribed is dropped. Having no receivers is fine.
    fn publish_room_push(&self, push: RoomPush) {
        if self.rooms().contains_key(push.room_name()) {
            let _ = self.room_pushes.send(push);
        } else {
            tracing::debug!(
                target: "utd_stream::signalling",
                room = push.room_name(),
                "dropped a push for a room not subscribed"
            );
        }
    }

    /// Broadcasts a chat message of the engine (no receiver: dropped; the
    /// chat layer catches up over REST when it starts).
    pub(crate) fn publish_chat(&self, message: ServerMessage) {
        if let Some(push) = ChatPush::from_server(message) {
            let _ = self.chat_pushes.send(push);
        }
    }

    /// Adds one subscriber of `room`.
    fn add_room_subscriber(&self, room: &str) {
        *self.rooms().entry(room.to_owned()).or_insert(0) += 1;
    }

    /// Drops one subscriber of `room`; true when that was the last one (the
    /// room left the set). False, too, for a room that was not subscribed.
    fn remove_room_subscriber(&self, room: &str) -> bool {
        let mut rooms = self.rooms();
        match rooms.get_mut(room) {
            Some(count) if *count > 1 => {
                *count -= 1;
                false
            }
            Some(_) => {
                rooms.remove(room);
                true
            }
            None => false,
        }
    }
}

/// A request for the connection task.
#[derive(Debug)]
enum Command {
    /// Send a message; if `reply` is set, tag it with a ref and answer when
    /// the engine acknowledges (or refuses) it.
    Send {
        message: ClientMessage,
        reply: Option<oneshot::Sender<Result<(), UTDStreamError>>>,
    },
    /// Close the socket and stop reconnecting.
    Close,
}

struct Running {
    commands: mpsc::Sender<Command>,
    task: JoinHandle<()>,
}

/// The client's handle on the signalling connection.
pub struct Signalling {
    auth: Arc<AuthState>,
    shared: Arc<SignalShared>,
    running: Mutex<Option<Running>>,
    backoff: Backoff,
    /// Serialises `connect` / `ensure_connected`, so two callers never race
    /// to start (and abort) each other's connection task.
    connecting: tokio::sync::Mutex<()>,
    /// Orders room-set changes with the messages that announce them, so a
    /// subscribe and an unsubscribe of one room reach the engine in the
    /// order the set changed.
    room_ops: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Signalling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signalling")
            .field("state", &self.shared.state.get())
            .field("watched", &self.shared.watched_list())
            .field("rooms", &self.shared.subscribed_rooms())
            .finish()
    }
}

impl Signalling {
    /// A disconnected handle using `auth` for its bearer.
    pub fn new(auth: Arc<AuthState>, backoff: Backoff) -> Self {
        Self {
            auth,
            shared: Arc::new(SignalShared {
                state: Observable::new(UTDConnectionState::Disconnected),
                presence: Observable::new(BTreeMap::new()),
                watched: Mutex::new(BTreeSet::new()),
                rooms: Mutex::new(BTreeMap::new()),
                room_pushes: broadcast::channel(ROOM_PUSH_CAPACITY).0,
                call_pushes: broadcast::channel(ROOM_PUSH_CAPACITY).0,
                chat_pushes: broadcast::channel(CHAT_PUSH_CAPACITY).0,
            }),
            running: Mutex::new(None),
            backoff,
            connecting: tokio::sync::Mutex::new(()),
            room_ops: tokio::sync::Mutex::new(()),
        }
    }

    /// Published state (connection, presence).
    pub fn shared(&self) -> &Arc<SignalShared> {
        &self.shared
    }

    /// Opens the WebSocket and waits for the engine's hello. Fails with the
    /// engine's typed error when refused (banned, signalling not in the
    /// plan) or with `network` when the first attempt cannot reach it; once
    /// connected, drops are retried in the background until `disconnect`.
    pub async fn connect(&self) -> Result<(), UTDStreamError> {
        let _serial = self.connecting.lock().await;
        self.start().await
    }

    /// Connects only when no connection task is running (a running task,
    /// connected or reconnecting, is left alone). Returns Ok if already
    /// running; otherwise behaves like [`Signalling::connect`].
    pub async fn ensure_connected(&self) -> Result<(), UTDStreamError> {
        let _serial = self.connecting.lock().await;
        if self.is_running() {
            return Ok(());
        }
        self.start().await
    }

    /// Whether a connection task is alive (connected, connecting or waiting
    /// to reconnect). A task that gave up (refused, or the first attempt
    /// failed) is not.
    fn is_running(&self) -> bool {
        self.lock_running()
            .as_ref()
            .is_some_and(|running| !running.task.is_finished())
    }

    /// Replaces any connection task with a new one and waits for its first
    /// connection. Callers hold `connecting`.
    async fn start(&self) -> Result<(), UTDStreamError> {
        self.disconnect().await;
        let (commands, receiver) = mpsc::channel(64);
        let (ready, ready_rx) = oneshot::channel();
        let task = runtime::handle().spawn(connection::run(
            connection::Context {
                auth: self.auth.clone(),
                shared: self.shared.clone(),
                backoff: self.backoff,
            },
            receiver,
            ready,
        ));
        *self.lock_running() = Some(Running { commands, task });
        match ready_rx.await {
            Ok(result) => result,
            Err(_) => Err(UTDStreamError::internal(
                "the signalling task ended before reporting its first connection",
            )),
        }
    }

    /// Closes the socket (code 1000) and stops reconnecting. Idempotent.
    pub async fn disconnect(&self) {
        let running = self.lock_running().take();
        if let Some(Running { commands, task }) = running {
            let _ = commands.send(Command::Close).await;
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
        self.shared.state.set(UTDConnectionState::Disconnected);
    }

    /// Stops everything now without waiting (dispose from a sync context).
    pub fn abort(&self) {
        if let Some(Running { commands, task }) = self.lock_running().take() {
            // Best effort: let the task send a close frame, then make sure it ends.
            let _ = commands.try_send(Command::Close);
            runtime::handle().spawn(async move {
                let abort = task.abort_handle();
                if tokio::time::timeout(Duration::from_secs(2), task)
                    .await
                    .is_err()
                {
                    abort.abort();
                }
            });
        }
        self.shared.state.set(UTDConnectionState::Disconnected);
    }

    /// Adds identities to the watched set. When connected, returns once the
    /// engine confirmed; otherwise they are sent on the next (re)connect.
    pub async fn watch(&self, identities: Vec<String>) -> Result<(), UTDStreamError> {
        for identity in &identities {
            crate::api::validate_identity(identity)?;
        }
        self.shared.watched().extend(identities.iter().cloned());
        let message = ClientMessage::PresenceWatch {
            identities,
            reference: None,
        };
        self.send_replayable(message).await
    }

    /// Removes identities from the watched set and forgets their presence.
    pub async fn unwatch(&self, identities: Vec<String>) -> Result<(), UTDStreamError> {
        {
            let mut watched = self.shared.watched();
            for identity in &identities {
                watched.remove(identity);
            }
        }
        self.shared.presence.update(|map| {
            for identity in &identities {
                map.remove(identity);
            }
        });
        let message = ClientMessage::PresenceUnwatch {
            identities,
            reference: None,
        };
        self.send_replayable(message).await
    }

    /// Every call invitation and call update for this user, from now on
    /// (callers filter by call id). Same lagging rule as room pushes.
    pub fn call_pushes(&self) -> broadcast::Receiver<CallPush> {
        self.shared.call_pushes.subscribe()
    }

    /// Every chat push for this user, from now on. A receiver more than
    /// 1024 pushes behind gets `RecvError::Lagged` (the chat layer then
    /// catches up over REST).
    pub fn chat_pushes(&self) -> broadcast::Receiver<ChatPush> {
        self.shared.chat_pushes.subscribe()
    }

    /// Sends this user's typing state for a conversation and waits for the
    /// engine's ack (a refusal, e.g. not a member, is its typed error).
    pub async fn send_typing(
        &self,
        conversation_id: &str,
        typing: bool,
    ) -> Result<(), UTDStreamError> {
        self.send_acknowledged(ClientMessage::Typing {
            conversation_id: conversation_id.to_owned(),
            typing,
            reference: None,
        })
        .await
    }

    /// Every [`RoomPush`] for every subscribed room, from now on. Callers
    /// filter by [`RoomPush::room_name`]. A receiver that falls more than
    /// 256 pushes behind gets `RecvError::Lagged` and skips the oldest.
    pub fn room_pushes(&self) -> broadcast::Receiver<RoomPush> {
        self.shared.room_pushes.subscribe()
    }

    /// Adds one subscriber of `room_name` (reference-counted). The set is
    /// replayed (`room.subscribe`) after every (re)connect, so the engine
    /// sends the current state again. When connected, sends `room.subscribe`
    /// and returns once the engine acknowledged it; the current state (for a
    /// room the engine knows) is broadcast before this returns. When not
    /// connected, returns Ok: it is sent on the next connect. On a refusal
    /// (e.g. too many rooms) the subscriber is not added.
    pub async fn subscribe_room(&self, room_name: &str) -> Result<(), UTDStreamError> {
        validate_room_name(room_name)?;
        let queued = {
            let _order = self.room_ops.lock().await;
            self.shared.add_room_subscriber(room_name);
            self.enqueue(ClientMessage::RoomSubscribe {
                room_name: room_name.to_owned(),
                reference: None,
            })
            .await
        };
        let result = match queued {
            Ok(answer) => Self::await_answer(answer).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => Ok(()),
            // Replayed after the next (re)connect.
            Err(e) if e.code() == UTDErrorCode::Network => Ok(()),
            Err(e) => {
                // Not subscribed after all: take the subscriber back out,
                // telling the engine (without waiting) if it was the last.
                let _order = self.room_ops.lock().await;
                if self.shared.remove_room_subscriber(room_name) {
                    let _ = self
                        .enqueue(ClientMessage::RoomUnsubscribe {
                            room_name: room_name.to_owned(),
                            reference: None,
                        })
                        .await;
                }
                Err(e)
            }
        }
    }

    /// Drops one subscriber of `room_name`. When the count reaches zero the
    /// room leaves the set (its late pushes are dropped) and, when
    /// connected, `room.unsubscribe` is sent and acknowledged. A room that
    /// is not subscribed is ignored.
    pub async fn unsubscribe_room(&self, room_name: &str) -> Result<(), UTDStreamError> {
        validate_room_name(room_name)?;
        let queued = {
            let _order = self.room_ops.lock().await;
            if !self.shared.remove_room_subscriber(room_name) {
                return Ok(());
            }
            self.enqueue(ClientMessage::RoomUnsubscribe {
                room_name: room_name.to_owned(),
                reference: None,
            })
            .await
        };
        let result = match queued {
            Ok(answer) => Self::await_answer(answer).await,
            Err(e) => Err(e),
        };
        match result {
            // A new connection starts without the room anyway.
            Err(e) if e.code() == UTDErrorCode::Network => Ok(()),
            other => other,
        }
    }

    /// Measures one WebSocket round trip (client echo → engine echo).
    pub async fn round_trip(&self) -> Result<Duration, UTDStreamError> {
        let started = Instant::now();
        self.send_acknowledged(ClientMessage::Echo {
            reference: String::new(),
        })
        .await?;
        Ok(started.elapsed())
    }

    /// Sends a message whose effect the connection task replays after a
    /// reconnect anyway: a lost connection is not the caller's failure.
    async fn send_replayable(&self, message: ClientMessage) -> Result<(), UTDStreamError> {
        match self.send_acknowledged(message).await {
            Err(e) if e.code() == UTDErrorCode::Network => Ok(()),
            other => other,
        }
    }

    async fn send_acknowledged(&self, message: ClientMessage) -> Result<(), UTDStreamError> {
        let answer = self.enqueue(message).await?;
        Self::await_answer(answer).await
    }

    /// Hands `message` to the connection task, tagged for an answer.
    async fn enqueue(
        &self,
        message: ClientMessage,
    ) -> Result<oneshot::Receiver<Result<(), UTDStreamError>>, UTDStreamError> {
        let commands = match &*self.lock_running() {
            Some(running) => running.commands.clone(),
            None => return Err(UTDStreamError::network("signalling is not connected")),
        };
        let (reply, answer) = oneshot::channel();
        commands
            .send(Command::Send {
                message,
                reply: Some(reply),
            })
            .await
            .map_err(|_| UTDStreamError::network("signalling is not connected"))?;
        Ok(answer)
    }

    /// Waits for the engine's answer to an enqueued message.
    async fn await_answer(
        answer: oneshot::Receiver<Result<(), UTDStreamError>>,
    ) -> Result<(), UTDStreamError> {
        match tokio::time::timeout(ACK_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(UTDStreamError::network(
                "the signalling connection closed before the engine answered",
            )),
            Err(_) => Err(UTDStreamError::new(
                UTDErrorCode::Timeout,
                format!("the engine did not answer within {ACK_TIMEOUT:?}"),
            )),
        }
    }

    fn lock_running(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for Signalling {
    fn drop(&mut self) {
        if let Some(running) = self.lock_running().take() {
            running.task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::credentials::AppCredentials;
    use crate::api::EngineApi;

    fn signalling() -> Signalling {
        let api = EngineApi::new(
            AppCredentials::new("1234567890".into(), "pk_test".into()),
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
        )
        .expect("api");
        Signalling::new(Arc::new(AuthState::new(api)), Backoff::default())
    }

    fn seats(room: &str) -> RoomPush {
        let wire: SeatsWire = serde_json::from_value(serde_json::json!({
            "room_name": room,
            "seat_count": 1,
            "seat_mode": "free",
            "seats": [{"index": 0, "identity": null, "name": null, "muted": false}],
        }))
        .expect("seats state");
        RoomPush::Seats(wire)
    }

    #[tokio::test]
    async fn room_subscriptions_are_reference_counted_while_disconnected() {
        let signalling = signalling();
        signalling.subscribe_room("lobby").await.expect("queued");
        signalling.subscribe_room("lobby").await.expect("queued");
        signalling.subscribe_room("show").await.expect("queued");
        assert_eq!(signalling.shared().subscribed_rooms(), ["lobby", "show"]);

        signalling
            .unsubscribe_room("lobby")
            .await
            .expect("one left");
        assert_eq!(signalling.shared().subscribed_rooms(), ["lobby", "show"]);
        signalling
            .unsubscribe_room("lobby")
            .await
            .expect("last one");
        assert_eq!(signalling.shared().subscribed_rooms(), ["show"]);
        signalling
            .unsubscribe_room("lobby")
            .await
            .expect("not subscribed: ignored");
        assert_eq!(signalling.shared().subscribed_rooms(), ["show"]);

        let err = signalling
            .subscribe_room("no spaces")
            .await
            .expect_err("bad room name");
        assert_eq!(err.code(), UTDErrorCode::InvalidArgument);
        assert!(signalling.unsubscribe_room("").await.is_err());
        assert_eq!(signalling.shared().subscribed_rooms(), ["show"]);
    }

    #[tokio::test]
    async fn only_pushes_of_subscribed_rooms_are_broadcast() {
        let signalling = signalling();
        // No receiver yet: publishing must not fail or panic.
        signalling.shared().add_room_subscriber("lobby");
        signalling.shared().publish_room_push(seats("lobby"));

        let mut pushes = signalling.room_pushes();
        signalling.shared().publish_room_push(seats("other"));
        signalling.shared().publish_room_push(seats("lobby"));
        let push = pushes.try_recv().expect("lobby push");
        assert_eq!(push.room_name(), "lobby");
        assert!(pushes.try_recv().is_err(), "the other room was dropped");

        assert!(signalling.shared().remove_room_subscriber("lobby"));
        signalling.shared().publish_room_push(seats("lobby"));
        assert!(pushes.try_recv().is_err(), "late push after unsubscribe");

        let request = RoomPush::StageRequested(StageRequestedPush {
            room_name: "show".into(),
            identity: "v9".into(),
            name: None,
            created_at_ms: 1,
        });
        assert_eq!(request.room_name(), "show");
    }

    #[tokio::test]
    async fn ensure_connected_reports_an_unreachable_engine() {
        let signalling = signalling();
        // Not signed in: the task gives up at once, so nothing is running.
        let err = signalling.ensure_connected().await.expect_err("no session");
        assert_eq!(err.code(), UTDErrorCode::InvalidState);
        let deadline = Instant::now() + Duration::from_secs(5);
        while signalling.is_running() {
            assert!(Instant::now() < deadline, "the refused task ends");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A task that gave up does not count as running: try again.
        let again = signalling
            .ensure_connected()
            .await
            .expect_err("still no session");
        assert_eq!(again.code(), UTDErrorCode::InvalidState);
    }
}
