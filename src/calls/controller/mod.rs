//! The controller's behaviour: its state, init and the follower of call
//! pushes here; cold-start push handling and reconcile in [`cold_start`],
//! accept / decline (carried out once ready, from a durable intent) in
//! [`answering`], outgoing calls in [`outgoing`].

mod answering;
mod cold_start;
mod outgoing;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{broadcast, watch};
use tokio::task::JoinHandle;

use super::config::UTDCallsConfig;
use super::exported::{
    UTDAcceptOutcome, UTDCallControllerEvent, UTDPushAction, UTDReconcileResult,
};
use super::intents::{IntentAction, IntentStore};
use super::registry::{
    AcceptStart, EngineState, Note, Phase, Registry, UTDCallSource, UTDIncomingCall,
};
use super::timings::{self, Timings, UTDCallTimings};
use crate::api::calls::CallWire;
use crate::auth::UserSession;
use crate::client::UTDStreamClient;
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media;
use crate::push::payload::UTDCallPushEvent;
use crate::push::{call_kit_uuid, UTDCallPush};
use crate::runtime;
use crate::session::call::Call;
use crate::session::call_audio::CallAudioGate;
use crate::session::exported::UTDCallSession;
use crate::signalling::CallPush;
use crate::types::{UTDCall, UTDCallEndReason, UTDCallStatus, UTDConnectionState, UTDStreamType};

/// How long the first-audio probe waits for the other party's audio.
const FIRST_AUDIO_WAIT: Duration = Duration::from_secs(30);

/// The calls kit's core; `UTDCallController` is its exported face.
pub struct CallController {
    config: UTDCallsConfig,
    client: Arc<UTDStreamClient>,
    registry: Mutex<Registry>,
    events: broadcast::Sender<UTDCallControllerEvent>,
    intents: IntentStore,
    timings: Arc<Timings>,
    /// True once `init()` finished: answers recorded earlier wait for it.
    ready: watch::Sender<bool>,
    /// Whether the plan lets this app call (false after a refusal).
    signaling_off: Mutex<bool>,
    init_lock: tokio::sync::Mutex<()>,
    auth_lock: tokio::sync::Mutex<()>,
    /// One call action at a time: a double-tapped Answer waits for the
    /// first and then finds the call answered.
    actions: tokio::sync::Mutex<()>,
    /// The call this device is in.
    current: Mutex<Option<Arc<UTDCallSession>>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Whether calls may publish the microphone (the CallKit bridge closes it
    /// until iOS activates the audio session).
    audio: Arc<CallAudioGate>,
    /// Set once the follower of call pushes runs (an `init()` that failed
    /// and is called again must not start a second one).
    following: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for CallController {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallController")
            .field("user_id", &self.config.user_id)
            .field("ready", &*self.ready.borrow())
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The engine's view of `wire` for the ledger.
fn state_of_wire(wire: &CallWire) -> EngineState {
    match wire.status.as_str() {
        "initiating" | "ringing" => EngineState::Pending,
        "active" => EngineState::Active,
        status => EngineState::Over {
            declined: matches!(status, "rejected" | "busy"),
            reason: UTDCallEndReason::from_wire(
                wire.end_reason.clone().unwrap_or_else(|| status.to_owned()),
            ),
        },
    }
}

/// The engine's view of a typed call for the ledger.
fn state_of_call(call: &UTDCall) -> EngineState {
    match call.status {
        UTDCallStatus::Initiating | UTDCallStatus::Ringing => EngineState::Pending,
        UTDCallStatus::Active => EngineState::Active,
        status => EngineState::Over {
            declined: matches!(status, UTDCallStatus::Rejected | UTDCallStatus::Busy),
            reason: call
                .end_reason
                .clone()
                .unwrap_or_else(|| UTDCallEndReason::from_wire(status.as_wire().to_owned())),
        },
    }
}

/// Why a call session's call is over for this device, once it is.
fn session_end_reason(call: &Call) -> Option<UTDCallEndReason> {
    let status = call.status.get()?;
    Some(match status {
        UTDCallStatus::AnsweredElsewhere => UTDCallEndReason::AnsweredElsewhere,
        UTDCallStatus::DeclinedElsewhere => UTDCallEndReason::DeclinedElsewhere,
        UTDCallStatus::Missed => UTDCallEndReason::RingTimeout,
        UTDCallStatus::Cancelled => UTDCallEndReason::Cancelled,
        s if s.is_terminal() => call
            .call
            .get()
            .and_then(|c| c.end_reason)
            .unwrap_or_else(|| UTDCallEndReason::from_wire(s.as_wire().to_owned())),
        _ => return None,
    })
}

fn incoming_from_wire(wire: &CallWire, source: UTDCallSource) -> UTDIncomingCall {
    UTDIncomingCall {
        call_id: wire.call_id.clone(),
        call_kit_uuid: call_kit_uuid(&wire.call_id),
        caller_identity: Some(wire.caller_identity.clone()),
        caller_name: wire.caller_name.clone(),
        stream_type: match wire.stream_type.as_str() {
            "video_call" => UTDStreamType::VideoCall,
            _ => UTDStreamType::AudioCall,
        },
        // The Call object has no deadline; the push carries it.
        ring_expires_at_ms: None,
        source,
    }
}

fn incoming_from_push(push: &UTDCallPush) -> UTDIncomingCall {
    UTDIncomingCall {
        call_id: push.call_id.clone(),
        call_kit_uuid: push.call_kit_uuid.clone(),
        caller_identity: push.caller_identity.clone(),
        caller_name: push.caller_name.clone(),
        stream_type: push.stream_type,
        ring_expires_at_ms: push.ring_expires_at_ms,
        source: UTDCallSource::Push,
    }
}

impl CallController {
    /// A controller for `config`. Does no I/O, so a PushKit handler can
    /// build one and call [`CallController::handle_push`] at once.
    pub fn new(config: UTDCallsConfig) -> Result<Arc<Self>, UTDStreamError> {
        if config.user_id.trim().is_empty() {
            return Err(UTDStreamError::invalid_argument("userId must not be empty"));
        }
        let client = Arc::new(UTDStreamClient::create(
            config.app_id.clone(),
            config.app_key.clone(),
            config.base_url.clone(),
            config.token_base_url.clone(),
        )?);
        let (events, _) = broadcast::channel(256);
        Ok(Arc::new(Self {
            intents: IntentStore::new(config.state_directory.as_deref()),
            config,
            client,
            registry: Mutex::new(Registry::default()),
            events,
            timings: Arc::default(),
            ready: watch::channel(false).0,
            signaling_off: Mutex::new(false),
            init_lock: tokio::sync::Mutex::new(()),
            auth_lock: tokio::sync::Mutex::new(()),
            actions: tokio::sync::Mutex::new(()),
            current: Mutex::new(None),
            audio: Arc::new(CallAudioGate::new_open()),
            tasks: Mutex::new(Vec::new()),
            following: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// The client underneath (presence, rooms, capabilities).
    pub fn client(&self) -> &Arc<UTDStreamClient> {
        &self.client
    }

    /// A receiver of the controller's events (Rust callers).
    pub fn subscribe(&self) -> broadcast::Receiver<UTDCallControllerEvent> {
        self.events.subscribe()
    }

    /// Whether `init()` has finished.
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Incoming calls ringing here now.
    pub fn incoming_calls(&self) -> Vec<UTDIncomingCall> {
        lock(&self.registry).ringing()
    }

    /// Timings of `call_id`'s phases on this device.
    pub fn timings(&self, call_id: &str) -> Option<UTDCallTimings> {
        self.timings.get(call_id)
    }

    /// The host reported `call_id` to the OS call UI.
    pub fn mark_reported(&self, call_id: &str) {
        self.timings
            .mark(call_id, timings::Phase::Reported, now_ms());
    }

    /// The call this device is in, if any.
    pub fn current_call(&self) -> Option<Arc<UTDCallSession>> {
        lock(&self.current).clone()
    }

    fn emit(&self, notes: Vec<Note>) {
        for note in notes {
            let event = match note {
                Note::Incoming(call) => UTDCallControllerEvent::IncomingCall { call },
                Note::Ended { call_id, reason } => {
                    let mut current = lock(&self.current);
                    if current
                        .as_ref()
                        .is_some_and(|s| s.call_id().as_deref() == Some(call_id.as_str()))
                    {
                        *current = None;
                    }
                    drop(current);
                    UTDCallControllerEvent::CallEnded {
                        call_id: Some(call_id),
                        reason,
                    }
                }
            };
            // No receiver is fine: the ledger keeps the state.
            let _ = self.events.send(event);
        }
    }

    fn note(&self, change: impl FnOnce(&mut Registry) -> Vec<Note>) {
        let notes = change(&mut lock(&self.registry));
        self.emit(notes);
    }

    /// A call session of `stream_type` over the client, on the default
    /// media transport.
    fn new_call(&self, stream_type: UTDStreamType) -> Result<Arc<Call>, UTDStreamError> {
        Call::new(
            self.client.session_context(),
            media::default_transport(),
            stream_type,
            self.audio.clone(),
        )
    }

    /// Whether the OS has handed the app the call's audio session: while it
    /// has not, calls join without the microphone; when it does, the current
    /// call's microphone goes on (and off again on deactivation). Returns at
    /// once: the gate is set before it returns, the microphone follows.
    pub fn set_audio_session_active(&self, active: bool) {
        self.audio.set(active);
        let Some(session) = self.current_call() else {
            return;
        };
        let call = session.inner().clone();
        runtime::handle().spawn(async move {
            if let Err(e) = call.apply_audio().await {
                tracing::warn!(target: "utd_stream::calls", active, "microphone not set for the audio session: {e}");
            }
        });
    }

    /// A session for this user, minting one if none exists yet (a cold
    /// start reconciles before `init()`).
    async fn session(&self) -> Result<UserSession, UTDStreamError> {
        let _one_mint = self.auth_lock.lock().await;
        let auth = self.client.session_context().auth;
        if let Some(session) = auth.current() {
            return Ok(session);
        }
        auth.authenticate(
            &self.config.user_id,
            self.config.user_name.clone(),
            self.config.device_id.clone(),
        )
        .await
    }

    // ---- init and the follower -------------------------------------------

    /// Authenticates, connects signalling, registers the configured push
    /// tokens, learns the calls ringing now, then carries out answers
    /// recorded before it. Idempotent. A plan without `signaling` is not an
    /// error here: `signalingEnabled` turns false and calls are refused
    /// with `notActivated`.
    pub async fn init(self: &Arc<Self>) -> Result<(), UTDStreamError> {
        let _one_init = self.init_lock.lock().await;
        if self.is_ready() {
            return Ok(());
        }
        self.session().await?;
        // Following before connecting: nothing falls between the two.
        self.start_follower();
        match self.client.signalling().connect().await {
            Ok(()) => *lock(&self.signaling_off) = false,
            Err(e) if e.is_signaling_disabled() => {
                tracing::info!(target: "utd_stream::calls", "calling is not in this app's plan");
                *lock(&self.signaling_off) = true;
            }
            Err(e) => return Err(e),
        }
        for token in &self.config.push_tokens {
            // A host without working push still gets foreground calls.
            if let Err(e) = self
                .client
                .register_token(token.platform, &token.token)
                .await
            {
                tracing::warn!(target: "utd_stream::calls", platform = token.platform.as_wire(), "push token not registered: {}", e.message());
            }
        }
        if !*lock(&self.signaling_off) {
            self.catch_up().await;
        }
        self.ready.send_replace(true);
        tracing::info!(target: "utd_stream::calls", "call controller ready");
        for intent in self.intents.load(now_ms()).await {
            let controller = self.clone();
            self.spawn(async move {
                let call_id = intent.call_id.clone();
                let result = match intent.action {
                    IntentAction::Accept => controller.accept_now(&call_id).await.map(drop),
                    IntentAction::Decline => controller.decline_now(&call_id).await,
                };
                if let Err(e) = result {
                    tracing::warn!(target: "utd_stream::calls", call_id, "recorded answer not carried out: {}", e.message());
                }
            });
        }
        Ok(())
    }

    /// The calls ringing now (after connecting, and after each reconnect:
    /// pushes may have been missed), and a re-read of the calls still
    /// ringing here that the listing no longer has (they ended meanwhile).
    async fn catch_up(&self) {
        let session = match self.session().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(target: "utd_stream::calls", "no session to catch up with: {}", e.message());
                return;
            }
        };
        let auth = self.client.session_context().auth;
        let listed = match auth.api.pending_calls(&session.bearer).await {
            Ok(listed) => listed,
            Err(e) => {
                tracing::warn!(target: "utd_stream::calls", "could not list ringing calls: {}", e.message());
                return;
            }
        };
        for wire in &listed {
            self.timings
                .mark(&wire.call_id, timings::Phase::InvitationReceived, now_ms());
            self.absorb(wire, UTDCallSource::PendingList);
        }
        let stale: Vec<String> = self
            .incoming_calls()
            .into_iter()
            .map(|c| c.call_id)
            .filter(|id| !listed.iter().any(|w| &w.call_id == id))
            .collect();
        for call_id in stale {
            if let Err(e) = self.reconcile(&call_id).await {
                tracing::warn!(target: "utd_stream::calls", call_id, "reconcile failed: {}", e.message());
            }
        }
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        let handle = runtime::handle().spawn(task);
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle);
    }

    /// Follows this user's call pushes and the connection state.
    fn start_follower(self: &Arc<Self>) {
        if self
            .following
            .swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return;
        }
        let mut pushes = self.client.signalling().call_pushes();
        let mut states = self.client.signalling().shared().state.watch();
        let weak = Arc::downgrade(self);
        self.spawn(async move {
            let mut was_connected = false;
            loop {
                tokio::select! {
                    push = pushes.recv() => {
                        let Some(controller) = weak.upgrade() else { return };
                        match push {
                            Ok(CallPush::Invitation(wire)) | Ok(CallPush::Updated(wire)) => {
                                controller.timings.mark(&wire.call_id, timings::Phase::InvitationReceived, now_ms());
                                controller.absorb(&wire, UTDCallSource::WebSocket);
                            }
                            Err(broadcast::error::RecvError::Lagged(missed)) => {
                                tracing::warn!(target: "utd_stream::calls", missed, "call pushes lagged; catching up");
                                controller.catch_up().await;
                            }
                            Err(broadcast::error::RecvError::Closed) => return,
                        }
                    }
                    changed = states.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let connected = matches!(*states.borrow_and_update(), UTDConnectionState::Connected);
                        if connected && !was_connected {
                            let Some(controller) = weak.upgrade() else { return };
                            if controller.is_ready() {
                                controller.catch_up().await;
                            }
                        }
                        was_connected = connected;
                    }
                }
            }
        });
    }

    async fn wait_ready(&self) -> Result<(), UTDStreamError> {
        let mut ready = self.ready.subscribe();
        ready
            .wait_for(|r| *r)
            .await
            .map(drop)
            .map_err(|_| UTDStreamError::disposed("UTDCallController"))
    }

    /// Whether the plan lets this app call: false once refused, else what
    /// the latest session said (null when the engine did not say).
    pub fn signaling_enabled(&self) -> Option<bool> {
        if *lock(&self.signaling_off) {
            return Some(false);
        }
        self.client.signaling_enabled()
    }

    /// Stops the controller: its tasks, the current call's media, the client.
    pub async fn dispose(&self) {
        let tasks: Vec<_> = lock(&self.tasks).drain(..).collect();
        for task in tasks {
            task.abort();
        }
        let current = lock(&self.current).take();
        if let Some(session) = current {
            session.inner().dispose().await;
        }
        self.client.dispose();
    }
}
