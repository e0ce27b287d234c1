//! `UTDCallSession`: the exported 1:1 call.

use std::sync::Arc;

use serde_json::Value;

use super::handle::SessionHandle;
use super::listeners::{UTDCallListener, UTDCallStatusListener};
use super::room::UTDRoom;
use crate::error::{UTDResult, UTDStreamError};
use crate::runtime;
use crate::session::call::Call;
use crate::subscription::UTDSubscription;
use crate::types::{UTDCall, UTDCallStatus, UTDStreamType};

/// A 1:1 audio or video call on this device. The caller `start`s; the
/// callee's devices get an invitation and answer with `ringing`, `accept`,
/// `reject` or `busy`; either side `end`s. The engine decides every
/// transition; `status` is this device's view (a callee device also sees
/// `answeredElsewhere` / `declinedElsewhere`), never moves backwards, and
/// ends in the same terminal state on both sides.
#[derive(Debug, uniffi::Object)]
pub struct UTDCallSession {
    handle: SessionHandle<Call>,
}

impl UTDCallSession {
    /// Wraps a Rust-level call session.
    pub fn new(inner: Arc<Call>) -> Self {
        let (core, stream_type, room_name) =
            (inner.core.clone(), inner.stream_type(), String::new());
        Self {
            handle: SessionHandle::new("UTDCallSession", inner, core, stream_type, room_name),
        }
    }

    /// The Rust-level session (benches, Rust apps).
    pub fn inner(&self) -> &Arc<Call> {
        self.handle.inner()
    }
}

#[uniffi::export]
impl UTDCallSession {
    /// The call's media room: connection, canPublish, participants, events,
    /// microphone, camera.
    pub fn room(&self) -> Arc<UTDRoom> {
        self.handle.room()
    }

    /// `audioCall` or `videoCall`.
    pub fn stream_type(&self) -> UTDStreamType {
        self.handle.inner().stream_type()
    }

    /// The call id; null before `start` / the first callee action.
    pub fn call_id(&self) -> Option<String> {
        self.handle.inner().call_id()
    }

    /// This device's view of the call status; null before a call.
    pub fn status(&self) -> Option<UTDCallStatus> {
        self.handle.inner().status.get()
    }

    /// The engine's call as last seen; null before a call.
    pub fn call(&self) -> Option<UTDCall> {
        self.handle.inner().call.get()
    }

    /// Observes `status`: the current one (once there is a call), then each change.
    pub fn observe_status(&self, listener: Arc<dyn UTDCallStatusListener>) -> Arc<UTDSubscription> {
        Arc::new(self.handle.inner().status.subscribe(move |status| {
            if let Some(status) = status {
                listener.on_status(status);
            }
        }))
    }

    /// Observes the engine's call object (current first, once there is one).
    pub fn observe_call(&self, listener: Arc<dyn UTDCallListener>) -> Arc<UTDSubscription> {
        Arc::new(self.handle.inner().call.subscribe(move |call| {
            if let Some(call) = call {
                listener.on_call(call);
            }
        }))
    }

    /// Caller: calls `calleeIdentity` (all of the callee's devices get an
    /// invitation). `metadataJson` is a JSON object (≤ 4 KiB) handed to the
    /// callee. Joins the call room and publishes at once. One call per session.
    #[uniffi::method(default(callee_name = None, metadata_json = None))]
    pub async fn start(
        self: Arc<Self>,
        callee_identity: String,
        callee_name: Option<String>,
        metadata_json: Option<String>,
    ) -> UTDResult<UTDCall> {
        let inner = self.handle.alive()?;
        let metadata = match metadata_json.as_deref() {
            None => Value::Object(Default::default()),
            Some(text) => serde_json::from_str::<Value>(text)
                .ok()
                .filter(Value::is_object)
                .ok_or_else(|| {
                    UTDStreamError::invalid_argument("metadataJson must be a JSON object")
                })?,
        };
        Ok(runtime::run(async move {
            inner
                .start(&callee_identity, callee_name.as_deref(), metadata)
                .await
        })
        .await?)
    }

    /// Callee: tells the caller this device is ringing.
    pub async fn ringing(self: Arc<Self>, call_id: String) -> UTDResult<UTDCall> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.ringing(&call_id).await }).await?)
    }

    /// Callee: answers on this device, joins the call room and publishes.
    /// When another device answered first this fails, and `status` shows
    /// `answeredElsewhere`: with `invalidState` when this session already
    /// knew, with `conflict` when both answered at the same moment. Also
    /// `invalidState` when the call is over.
    pub async fn accept(self: Arc<Self>, call_id: String) -> UTDResult<UTDCall> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.accept(&call_id).await }).await?)
    }

    /// Callee: declines (the caller sees `rejected`, the callee's other
    /// devices `declinedElsewhere`).
    pub async fn reject(self: Arc<Self>, call_id: String) -> UTDResult<UTDCall> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.reject(&call_id).await }).await?)
    }

    /// Callee: declines because busy (the caller sees `busy`).
    pub async fn busy(self: Arc<Self>, call_id: String) -> UTDResult<UTDCall> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.busy(&call_id).await }).await?)
    }

    /// Hangs up: cancels a call not answered yet, ends an answered one, and
    /// leaves the call room. Harmless when there is no call or it is over.
    pub async fn end(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.handle.alive()?;
        Ok(runtime::run(async move { inner.end().await }).await?)
    }

    /// Hangs up a call this device is in (the caller's live call, the
    /// callee's answered one; best effort), stops following it and leaves
    /// its room. An unanswered callee device does not decline by disposing.
    /// Later actions fail with `disposed`. Idempotent.
    pub async fn dispose(self: Arc<Self>) {
        if !self.handle.begin_dispose() {
            return;
        }
        let inner = self.handle.inner().clone();
        let _ = runtime::run(async move {
            inner.dispose().await;
            Ok(())
        })
        .await;
    }
}
