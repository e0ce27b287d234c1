//! `UTDCallController`: the exported calls kit (thin; the behaviour is in
//! [`super::controller`]).

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::config::UTDCallsConfig;
use super::controller::CallController;
use super::registry::UTDIncomingCall;
use super::timings::UTDCallTimings;
use crate::client::UTDStreamClient;
use crate::error::{UTDResult, UTDStreamError};
use crate::push::payload::{parse_data, parse_json};
use crate::push::{UTDPushPlatform, UTDPushToken};
use crate::runtime;
use crate::session::exported::UTDCallSession;
use crate::subscription::UTDSubscription;
use crate::types::{UTDCallEndReason, UTDPlanLimits, UTDStreamType};

/// What the controller tells the host, in order.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum UTDCallControllerEvent {
    /// A call is ringing for this user: show it (once per call, however
    /// many paths told of it).
    IncomingCall {
        /// The call.
        call: UTDIncomingCall,
    },
    /// This device is in the call's media room (an outgoing call started,
    /// or an answer carried out, including one recorded before `init()`).
    CallJoined {
        /// The call.
        call_id: String,
        /// Its session (room, microphone, camera, status).
        session: Arc<UTDCallSession>,
    },
    /// A call shown or joined here is over (once per call): dismiss the OS
    /// call UI with `reason`. `callId` is null for a call that could not
    /// start (`notActivated`, `failed`).
    CallEnded {
        /// The call, when it got an id.
        call_id: Option<String>,
        /// Why.
        reason: UTDCallEndReason,
    },
}

/// What the host must do with a push, decided with no I/O.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UTDPushAction {
    /// Report this incoming call to the OS call UI now (iOS: before the
    /// PushKit handler returns), then `reconcile`.
    ReportIncoming {
        /// The call.
        call: UTDIncomingCall,
    },
    /// The call is already over: end (or, on iOS, report and at once end)
    /// the system call with `reason`.
    ReportEnded {
        /// The call.
        call_id: String,
        /// Its system-call UUID.
        call_kit_uuid: String,
        /// Why it is over.
        reason: UTDCallEndReason,
    },
}

/// Where a call stands after a `reconcile`.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
pub enum UTDReconcileResult {
    /// Still ringing: keep the OS UI up.
    Ringing {
        /// The call, with what the engine says of it.
        call: UTDIncomingCall,
        /// Time until it stops ringing, when known.
        time_left_ms: Option<u64>,
    },
    /// This device is in the call.
    InCall,
    /// Over: dismiss the OS UI with `reason`.
    Over {
        /// Why.
        reason: UTDCallEndReason,
    },
}

/// The outcome of an answer.
#[derive(Debug, Clone, uniffi::Enum)]
pub enum UTDAcceptOutcome {
    /// Answered here; this device is in the call's media room.
    Joined {
        /// The call's session.
        session: Arc<UTDCallSession>,
    },
    /// The call was over before the answer reached the engine (cancelled,
    /// missed, answered or declined elsewhere): nothing was joined.
    Over {
        /// Why.
        reason: UTDCallEndReason,
    },
}

/// Receives the controller's events.
#[uniffi::export(with_foreign)]
pub trait UTDCallControllerListener: Send + Sync {
    /// One event, in order.
    fn on_event(&self, event: UTDCallControllerEvent);
}

/// The 1:1 calling kit: incoming calls from every path as one stream,
/// wake-from-killed pushes, answers from the OS call UI (kept until they can
/// be carried out), outgoing calls. One per signed-in user and process.
#[derive(Debug, uniffi::Object)]
pub struct UTDCallController {
    inner: Arc<CallController>,
}

impl UTDCallController {
    /// The Rust-level controller (tests, benches, Rust apps).
    pub fn inner(&self) -> &Arc<CallController> {
        &self.inner
    }
}

#[uniffi::export]
impl UTDCallController {
    /// A controller for `config`. Does no I/O: build it in a PushKit / FCM
    /// handler and call `handleCallPush` right away.
    #[uniffi::constructor]
    pub fn new(config: UTDCallsConfig) -> UTDResult<Arc<Self>> {
        Ok(Arc::new(Self {
            inner: CallController::new(config)?,
        }))
    }

    /// Signs in, connects signalling, registers the configured push tokens,
    /// finds the calls ringing now and carries out answers tapped before
    /// it. Idempotent. A plan without calling is not an error: then
    /// `signalingEnabled` is false.
    pub async fn init(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.inner.clone();
        Ok(runtime::run(async move { inner.init().await }).await?)
    }

    /// The client underneath (presence, rooms, capabilities).
    pub fn client(&self) -> Arc<UTDStreamClient> {
        self.inner.client().clone()
    }

    /// Whether calling is in the app's plan; null when unknown.
    pub fn signaling_enabled(&self) -> Option<bool> {
        self.inner.signaling_enabled()
    }

    /// Whether chat is in the app's plan; null when unknown.
    pub fn chat_enabled(&self) -> Option<bool> {
        self.inner.client().chat_enabled()
    }

    /// The plan's limits; null when the engine reported none.
    pub fn plan_limits(&self) -> Option<UTDPlanLimits> {
        self.inner.client().plan_limits()
    }

    /// Calls `callee`; returns once this device is in the call room. A plan
    /// without calling throws the engine's refusal (`isSignalingDisabled`)
    /// after a `callEnded` event with `notActivated`.
    #[uniffi::method(default(callee_name = None))]
    pub async fn start_call(
        self: Arc<Self>,
        callee: String,
        callee_name: Option<String>,
        stream_type: UTDStreamType,
    ) -> UTDResult<Arc<UTDCallSession>> {
        let inner = self.inner.clone();
        Ok(runtime::run(async move {
            inner
                .start_call(&callee, callee_name.as_deref(), stream_type)
                .await
        })
        .await?)
    }

    /// Delivers the controller's events: first an `incomingCall` for each
    /// call ringing now, then every event as it happens.
    pub fn observe_events(
        &self,
        listener: Arc<dyn UTDCallControllerListener>,
    ) -> Arc<UTDSubscription> {
        let mut events = self.inner.subscribe();
        let replayed = self.inner.incoming_calls();
        let task = runtime::handle().spawn(async move {
            let mut seen: Vec<String> = Vec::new();
            for call in replayed {
                seen.push(call.call_id.clone());
                listener.on_event(UTDCallControllerEvent::IncomingCall { call });
            }
            loop {
                match events.recv().await {
                    Ok(UTDCallControllerEvent::IncomingCall { call }) if seen.contains(&call.call_id) => {}
                    Ok(event) => listener.on_event(event),
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(target: "utd_stream::calls", missed, "controller events lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Arc::new(UTDSubscription::new(move || task.abort()))
    }

    /// The incoming calls ringing here now.
    pub fn incoming_calls(&self) -> Vec<UTDIncomingCall> {
        self.inner.incoming_calls()
    }

    /// The call this device is in, if any.
    pub fn current_call(&self) -> Option<Arc<UTDCallSession>> {
        self.inner.current_call()
    }

    /// A VoIP push (its payload dictionary as JSON): what to report, at
    /// once and with no I/O. `invalidArgument` when it is not a call push.
    pub fn handle_call_push(&self, json: String) -> UTDResult<UTDPushAction> {
        let event = parse_json(&json).map_err(Arc::new)?;
        Ok(self.inner.handle_push(event))
    }

    /// An FCM data message: what to show or dismiss, at once and with no
    /// I/O. `invalidArgument` when it is not a call push.
    pub fn handle_call_push_data(&self, data: HashMap<String, String>) -> UTDResult<UTDPushAction> {
        let event = parse_data(data).map_err(Arc::new)?;
        Ok(self.inner.handle_push(event))
    }

    /// Asks the engine where `callId` stands (signing in first if needed,
    /// without waiting for `init()`): still ringing, or over and why.
    pub async fn reconcile(self: Arc<Self>, call_id: String) -> UTDResult<UTDReconcileResult> {
        let inner = self.inner.clone();
        Ok(runtime::run(async move { inner.reconcile(&call_id).await }).await?)
    }

    /// Answers `callId`. Written down durably first and carried out once
    /// `init()` is done, so an answer tapped during a cold start is not lost
    /// (even if the process dies: the next `init()` carries it out). A call
    /// that ended meanwhile is the `over` outcome, never an error.
    pub async fn accept_incoming(self: Arc<Self>, call_id: String) -> UTDResult<UTDAcceptOutcome> {
        let inner = self.inner.clone();
        Ok(runtime::run(async move { inner.accept_incoming(&call_id).await }).await?)
    }

    /// Declines `callId` (hangs up if this device is in it), kept like an
    /// answer until carried out. Harmless for a call that is over.
    pub async fn reject(self: Arc<Self>, call_id: String) -> UTDResult<()> {
        let inner = self.inner.clone();
        Ok(runtime::run(async move { inner.reject(&call_id).await }).await?)
    }

    /// Hangs up the call this device is in. Harmless when there is none.
    pub async fn end(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.inner.clone();
        Ok(runtime::run(async move { inner.end().await }).await?)
    }

    /// Whether the OS has handed the app the call's audio session. iOS
    /// CallKit activates it itself (`provider(_:didActivate:)`): the CallKit
    /// bridge sets false when it is set up, so calls join without the
    /// microphone, and true on activation, which turns the current call's
    /// microphone on (false again on deactivation turns it off). Returns at
    /// once; the microphone follows. Other hosts never call it: the
    /// microphone is then on from the join.
    pub fn set_audio_session_active(&self, active: bool) {
        self.inner.set_audio_session_active(active);
    }

    /// Registers a (rotated) push token of this device.
    pub async fn register_push_token(
        self: Arc<Self>,
        platform: UTDPushPlatform,
        token: String,
    ) -> UTDResult<()> {
        let inner = self.inner.clone();
        Ok(
            runtime::run(async move { inner.client().register_token(platform, &token).await })
                .await?,
        )
    }

    /// Unregisters this device's push tokens (on sign-out).
    pub async fn unregister_push(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.inner.clone();
        Ok(runtime::run(async move { inner.client().unregister_all_push_tokens().await }).await?)
    }

    /// The push tokens registered by this controller's client.
    pub fn push_tokens(&self) -> Vec<UTDPushToken> {
        self.inner.client().push_tokens()
    }

    /// The host reported `callId` to the OS call UI (for the timings).
    pub fn mark_reported(&self, call_id: String) {
        self.inner.mark_reported(&call_id);
    }

    /// The timestamps of `callId`'s phases on this device.
    pub fn call_timings(&self, call_id: String) -> Option<UTDCallTimings> {
        self.inner.timings(&call_id)
    }

    /// Stops the controller, leaves the current call's media and closes
    /// the client. Idempotent.
    pub async fn dispose(self: Arc<Self>) {
        let inner = self.inner.clone();
        let _ = runtime::run(async move {
            inner.dispose().await;
            Ok::<(), UTDStreamError>(())
        })
        .await;
    }
}
