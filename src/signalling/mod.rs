//! The signalling plane: one WebSocket to the engine carrying presence (and,
//! in later issues, call invitations, seats, stage and chat events).
//!
//! `Signalling` is the handle the client owns; the socket itself lives in a
//! background task (`connection`) that reconnects with jittered exponential
//! backoff and re-subscribes the watched presence set after every reconnect.

pub mod backoff;
mod connection;
pub mod protocol;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::auth::AuthState;
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::observe::Observable;
use crate::runtime;
use crate::types::{UTDConnectionState, UTDPresence};
use backoff::Backoff;
use protocol::ClientMessage;

/// How long a caller waits for the engine to confirm a message.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// State the connection task publishes and the client reads.
#[derive(Debug)]
pub struct SignalShared {
    /// The connection state.
    pub state: Observable<UTDConnectionState>,
    /// Presence of watched users, by identity.
    pub presence: Observable<BTreeMap<String, UTDPresence>>,
    /// Identities to watch: replayed after every (re)connect.
    watched: Mutex<BTreeSet<String>>,
}

impl SignalShared {
    fn watched(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.watched.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The identities currently watched, sorted.
    pub fn watched_list(&self) -> Vec<String> {
        self.watched().iter().cloned().collect()
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
}

impl std::fmt::Debug for Signalling {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signalling")
            .field("state", &self.shared.state.get())
            .field("watched", &self.shared.watched_list())
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
            }),
            running: Mutex::new(None),
            backoff,
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
