//! A 1:1 call on one device: the engine's call plus this device's view of
//! it ([`CallMachine`]), and the call's media room.
//!
//! The engine is the authority. Every REST reply and every `call.updated`
//! push goes through the machine, so late or duplicated news never moves the
//! call backwards, and both parties end in the engine's terminal state.
//! After a signalling reconnect the call is re-read (pushes may have been
//! missed while offline). Reaching a terminal status leaves the media room.

use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::api::calls::{CallJoinWire, CallWire};
use crate::api::credentials::BearerToken;
use crate::auth::{not_authenticated, UserSession};
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::media::{RoomTransport, TransportOptions};
use crate::observe::Observable;
use crate::runtime;
use crate::session::call_audio::CallAudioGate;
use crate::session::call_machine::{CallAction, CallMachine, CallRole, EngineView, Permit};
use crate::session::context::SessionContext;
use crate::session::RoomCore;
use crate::signalling::CallPush;
use crate::types::{UTDCall, UTDCallStatus, UTDConnectionState, UTDStreamType};

/// The call this session is about, once started or loaded.
#[derive(Debug)]
struct Current {
    call_id: String,
    machine: CallMachine,
    bearer: BearerToken,
}

/// One device's 1:1 call session.
#[derive(Debug)]
pub struct Call {
    /// The call's media room (connected while the call is live on this device).
    pub core: Arc<RoomCore>,
    /// This device's view of the call's status; None before a call.
    pub status: Observable<Option<UTDCallStatus>>,
    /// The engine's call as last seen; None before a call.
    pub call: Observable<Option<UTDCall>>,
    stream_type: UTDStreamType,
    ctx: SessionContext,
    current: Mutex<Option<Current>>,
    follower: Mutex<Option<JoinHandle<()>>>,
    /// One action at a time: a double-tapped Answer waits for the first and
    /// then finds the call already answered, instead of joining twice.
    actions: tokio::sync::Mutex<()>,
    /// Whether the microphone may be on (closed while iOS has not activated
    /// the call's audio session).
    audio: Arc<CallAudioGate>,
    /// What the media room was last told of the microphone; None before the
    /// join. Serialises `apply_audio` with itself.
    microphone: tokio::sync::Mutex<Option<bool>>,
}

impl Call {
    /// A session for calls of `stream_type` (audio or video call) whose
    /// microphone follows `audio`.
    pub fn new(
        ctx: SessionContext,
        transport: Arc<dyn RoomTransport>,
        stream_type: UTDStreamType,
        audio: Arc<CallAudioGate>,
    ) -> Result<Arc<Call>, UTDStreamError> {
        if !stream_type.is_call() {
            return Err(UTDStreamError::invalid_argument(format!(
                "a call session needs audioCall or videoCall, not {}",
                stream_type.as_wire()
            )));
        }
        Ok(Arc::new(Call {
            core: RoomCore::new(transport),
            status: Observable::new(None),
            call: Observable::new(None),
            stream_type,
            ctx,
            current: Mutex::new(None),
            follower: Mutex::new(None),
            actions: tokio::sync::Mutex::new(()),
            audio,
            microphone: tokio::sync::Mutex::new(None),
        }))
    }

    /// The session's call type.
    pub fn stream_type(&self) -> UTDStreamType {
        self.stream_type
    }

    /// The call id, once started or loaded.
    pub fn call_id(&self) -> Option<String> {
        lock(&self.current).as_ref().map(|c| c.call_id.clone())
    }

    /// Caller: calls `callee_identity`. Joins the call's media room and
    /// publishes (microphone; camera too for a video call) at once, so the
    /// callee finds the caller there on answering.
    pub async fn start(
        self: &Arc<Self>,
        callee_identity: &str,
        callee_name: Option<&str>,
        metadata: Value,
    ) -> Result<UTDCall, UTDStreamError> {
        let _one_at_a_time = self.actions.lock().await;
        if self.call_id().is_some() {
            return Err(UTDStreamError::invalid_state(
                "this session already has a call; use a new call session for another call",
            ));
        }
        let session = self.session()?;
        self.follow().await;
        let reply = self
            .ctx
            .auth
            .api
            .create_call(
                &session.bearer,
                callee_identity,
                callee_name,
                self.stream_type,
                &metadata,
            )
            .await?;
        let call = UTDCall::try_from(reply.call.clone())?;
        {
            let mut current = lock(&self.current);
            if current.is_some() {
                return Err(UTDStreamError::invalid_state(
                    "this session started another call meanwhile",
                ));
            }
            *current = Some(Current {
                call_id: call.call_id.clone(),
                machine: CallMachine::new(CallRole::Caller, call.status, None),
                bearer: session.bearer.clone(),
            });
        }
        self.status.set(Some(call.status));
        self.call.set(Some(call.clone()));
        if let Err(e) = self.join_media(reply.join.as_ref()).await {
            // Nobody should be rung for a call the caller cannot be in.
            self.abandon().await;
            return Err(e);
        }
        Ok(call)
    }

    /// Callee: this device is ringing for `call_id`.
    pub async fn ringing(self: &Arc<Self>, call_id: &str) -> Result<UTDCall, UTDStreamError> {
        self.act(call_id, CallAction::Ringing).await
    }

    /// Callee: answers on this device; joins the media room and publishes.
    pub async fn accept(self: &Arc<Self>, call_id: &str) -> Result<UTDCall, UTDStreamError> {
        self.act(call_id, CallAction::Accept).await
    }

    /// Callee: declines.
    pub async fn reject(self: &Arc<Self>, call_id: &str) -> Result<UTDCall, UTDStreamError> {
        self.act(call_id, CallAction::Reject).await
    }

    /// Callee: declines because busy.
    pub async fn busy(self: &Arc<Self>, call_id: &str) -> Result<UTDCall, UTDStreamError> {
        self.act(call_id, CallAction::Busy).await
    }

    /// Either side: hangs up (cancels before an answer). Harmless when there
    /// is no call or it is already over.
    pub async fn end(self: &Arc<Self>) -> Result<(), UTDStreamError> {
        let Some(call_id) = self.call_id() else {
            return Ok(());
        };
        self.act(&call_id, CallAction::End).await.map(drop)
    }

    /// Hangs up a call this device is in (the caller's live call, or the
    /// callee's answered one) so the other side is not left in it, stops
    /// following the call and leaves the media room. A callee device that
    /// has not answered does not decline by disposing: the call keeps
    /// ringing on the user's other devices.
    pub async fn dispose(&self) {
        let in_call = lock(&self.current).as_ref().is_some_and(|c| {
            let status = c.machine.status();
            match c.machine.role() {
                CallRole::Caller => !status.is_terminal(),
                CallRole::Callee => status == UTDCallStatus::Active,
            }
        });
        if in_call {
            self.abandon().await;
        }
        if let Some(follower) = lock(&self.follower).take() {
            follower.abort();
        }
        if let Err(e) = self.core.leave().await {
            tracing::debug!(target: "utd_stream::session", "leave on dispose: {e}");
        }
    }

    async fn act(
        self: &Arc<Self>,
        call_id: &str,
        action: CallAction,
    ) -> Result<UTDCall, UTDStreamError> {
        let _one_at_a_time = self.actions.lock().await;
        self.load(call_id).await?;
        let (bearer, permit) = {
            let mut guard = lock(&self.current);
            let current = guard
                .as_mut()
                .ok_or_else(|| UTDStreamError::internal("the call vanished from the session"))?;
            let permit = current.machine.permit(action)?;
            if permit == Permit::Send {
                current.machine.note_sending(action);
            }
            (current.bearer.clone(), permit)
        };
        if permit == Permit::AlreadyDone {
            return self.latest_call();
        }
        let reply = self
            .ctx
            .auth
            .api
            .act_on_call(&bearer, call_id, action.wire())
            .await;
        let reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                self.with_machine(|m| m.note_refused(action));
                if e.code() == UTDErrorCode::Conflict || e.code() == UTDErrorCode::InvalidState {
                    // Someone else moved the call (another device answered):
                    // show what actually happened.
                    self.refresh().await;
                }
                return Err(e);
            }
        };
        let call = self.apply(reply.call.clone())?;
        if action == CallAction::Accept && self.status.get() == Some(UTDCallStatus::Active) {
            if let Err(e) = self.join_media(reply.join.as_ref()).await {
                self.abandon().await;
                return Err(e);
            }
        }
        Ok(call)
    }

    /// Ends the call after this device failed to join its media room, so
    /// the other side is not left waiting. Best effort.
    async fn abandon(&self) {
        let Some((call_id, bearer)) = lock(&self.current)
            .as_ref()
            .map(|c| (c.call_id.clone(), c.bearer.clone()))
        else {
            return;
        };
        self.with_machine(|m| m.note_sending(CallAction::End));
        match self
            .ctx
            .auth
            .api
            .act_on_call(&bearer, &call_id, CallAction::End.wire())
            .await
        {
            Ok(reply) => {
                if let Err(e) = self.apply(reply.call) {
                    tracing::warn!(target: "utd_stream::session", "ignored a call reply: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(target: "utd_stream::session", call_id, "could not end the call: {e}")
            }
        }
    }

    /// Makes `call_id` this session's call (reading it from the engine) when
    /// the session has none yet; refuses a different one.
    async fn load(self: &Arc<Self>, call_id: &str) -> Result<(), UTDStreamError> {
        match self.call_id() {
            Some(existing) if existing == call_id => return Ok(()),
            Some(existing) => {
                return Err(UTDStreamError::invalid_state(format!(
                    "this session is for call {existing}; use a new call session for {call_id}"
                )))
            }
            None => {}
        }
        let session = self.session()?;
        self.follow().await;
        let wire = self.ctx.auth.api.get_call(&session.bearer, call_id).await?;
        let call = UTDCall::try_from(wire.clone())?;
        if call.stream_type != self.stream_type {
            return Err(UTDStreamError::invalid_argument(format!(
                "call {call_id} is a {}, this session is for {}",
                call.stream_type.as_wire(),
                self.stream_type.as_wire()
            )));
        }
        let role = if call.caller_identity == session.identity {
            CallRole::Caller
        } else {
            CallRole::Callee
        };
        {
            let mut current = lock(&self.current);
            if current.is_none() {
                let mut machine =
                    CallMachine::new(role, UTDCallStatus::Initiating, session.device_id.clone());
                machine.apply(&engine_view(&call));
                *current = Some(Current {
                    call_id: call.call_id.clone(),
                    machine,
                    bearer: session.bearer.clone(),
                });
            }
        }
        self.publish_state(call);
        Ok(())
    }

    /// Runs `wire` through the machine and publishes the result.
    fn apply(&self, wire: CallWire) -> Result<UTDCall, UTDStreamError> {
        let call = UTDCall::try_from(wire)?;
        let changed = {
            let mut guard = lock(&self.current);
            match guard.as_mut() {
                Some(current) if current.call_id == call.call_id => {
                    current.machine.apply(&engine_view(&call))
                }
                _ => None,
            }
        };
        self.publish_state(call.clone());
        if changed.is_some_and(|status| status.is_terminal()) {
            let core = self.core.clone();
            runtime::handle().spawn(async move {
                if let Err(e) = core.leave().await {
                    tracing::debug!(target: "utd_stream::session", "leaving the ended call's room: {e}");
                }
            });
        }
        Ok(call)
    }

    /// Publishes the machine's status and the engine's call, keeping the
    /// newest call object (by update time) when news cross.
    fn publish_state(&self, call: UTDCall) {
        let status = lock(&self.current).as_ref().map(|c| c.machine.status());
        self.status.set(status);
        self.call.update(|latest| {
            if latest
                .as_ref()
                .is_none_or(|l| l.call_id != call.call_id || l.updated_at_ms <= call.updated_at_ms)
            {
                *latest = Some(call);
            }
        });
    }

    fn latest_call(&self) -> Result<UTDCall, UTDStreamError> {
        self.call
            .get()
            .ok_or_else(|| UTDStreamError::internal("the call is not known yet"))
    }

    fn with_machine(&self, edit: impl FnOnce(&mut CallMachine)) {
        if let Some(current) = lock(&self.current).as_mut() {
            edit(&mut current.machine);
        }
    }

    /// Re-reads the call from the engine (after a reconnect or a refusal).
    async fn refresh(&self) {
        let Some((call_id, bearer)) = lock(&self.current)
            .as_ref()
            .map(|c| (c.call_id.clone(), c.bearer.clone()))
        else {
            return;
        };
        match self.ctx.auth.api.get_call(&bearer, &call_id).await {
            Ok(wire) => {
                if let Err(e) = self.apply(wire) {
                    tracing::warn!(target: "utd_stream::session", "ignored a call refresh: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(target: "utd_stream::session", call_id, "could not re-read the call: {e}")
            }
        }
    }

    /// Joins the call's media room with the engine's credentials and
    /// publishes the microphone (unless the audio gate is closed) and the
    /// camera for a video call.
    async fn join_media(&self, join: Option<&CallJoinWire>) -> Result<(), UTDStreamError> {
        let join = join.ok_or_else(|| {
            UTDStreamError::protocol("the engine's call reply carried no join credentials")
        })?;
        if !self.core.connected.get() {
            self.core
                .connect(&join.url, &join.token, TransportOptions::default())
                .await?;
        }
        *self.microphone.lock().await = None;
        self.apply_audio().await?;
        if self.stream_type.has_video() {
            self.core.set_camera(true).await?;
        }
        Ok(())
    }

    /// Turns the microphone on or off as the audio gate says, once the media
    /// room is joined (before that, the join applies it). Idempotent.
    pub async fn apply_audio(&self) -> Result<(), UTDStreamError> {
        let mut microphone = self.microphone.lock().await;
        if !self.core.connected.get() {
            return Ok(());
        }
        let wanted = self.audio.is_open();
        if *microphone == Some(wanted) {
            return Ok(());
        }
        self.core.set_microphone(wanted).await?;
        *microphone = Some(wanted);
        Ok(())
    }

    /// Starts following this user's call pushes (once per session) and makes
    /// sure signalling is up so they arrive.
    async fn follow(self: &Arc<Self>) {
        {
            let mut follower = lock(&self.follower);
            if follower.is_some() {
                return;
            }
            let pushes = self.ctx.signalling.call_pushes();
            let states = self.ctx.signalling.shared().state.watch();
            *follower = Some(runtime::handle().spawn(follow(Arc::downgrade(self), pushes, states)));
        }
        if let Err(e) = self.ctx.signalling.ensure_connected().await {
            tracing::warn!(target: "utd_stream::session", "call updates only from replies: signalling unavailable: {e}");
        }
    }

    fn session(&self) -> Result<UserSession, UTDStreamError> {
        self.ctx.auth.current().ok_or_else(not_authenticated)
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if let Some(follower) = lock(&self.follower).take() {
            follower.abort();
        }
    }
}

/// Applies call pushes for the session's call, and re-reads the call after
/// each signalling reconnect.
async fn follow(
    call: std::sync::Weak<Call>,
    mut pushes: broadcast::Receiver<CallPush>,
    mut states: tokio::sync::watch::Receiver<UTDConnectionState>,
) {
    let mut was_connected = *states.borrow_and_update() == UTDConnectionState::Connected;
    loop {
        tokio::select! {
            push = pushes.recv() => {
                let Some(session) = call.upgrade() else { return };
                match push {
                    Ok(push) => {
                        let wire = push.call().clone();
                        if session.call_id().as_deref() == Some(wire.call_id.as_str()) {
                            if let Err(e) = session.apply(wire) {
                                tracing::warn!(target: "utd_stream::session", "ignored a call push: {e}");
                            }
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => session.refresh().await,
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
            changed = states.changed() => {
                if changed.is_err() {
                    return;
                }
                let connected = *states.borrow_and_update() == UTDConnectionState::Connected;
                if connected && !was_connected {
                    let Some(session) = call.upgrade() else { return };
                    session.refresh().await;
                }
                was_connected = connected;
            }
        }
    }
}

fn engine_view(call: &UTDCall) -> EngineView {
    EngineView {
        status: call.status,
        answered_by_device: call.answered_by_device.clone(),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
