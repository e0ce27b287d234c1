//! Answering: accept and decline, written down first and carried out once
//! the controller is ready; the media join and its timings.

use std::sync::Arc;

use super::*;

impl CallController {
    /// Answers `call_id`: written down first, carried out once `init()` is
    /// done (at once when it is).
    pub async fn accept_incoming(
        self: &Arc<Self>,
        call_id: &str,
    ) -> Result<UTDAcceptOutcome, UTDStreamError> {
        crate::api::calls::validate_call_id(call_id)?;
        self.timings
            .mark(call_id, timings::Phase::Answered, now_ms());
        if let Err(e) = self
            .intents
            .record(call_id, IntentAction::Accept, now_ms())
            .await
        {
            tracing::warn!(target: "utd_stream::calls", call_id, "answer kept in memory only: {}", e.message());
        }
        self.wait_ready().await?;
        self.accept_now(call_id).await
    }

    async fn clear_intent(&self, call_id: &str) {
        if let Err(e) = self.intents.clear(call_id).await {
            tracing::warn!(target: "utd_stream::calls", call_id, "answer record not cleared: {}", e.message());
        }
    }

    /// A call session for answering `call_id`, of the type the ledger (or a
    /// reconcile) knows; None when the reconcile found the call over.
    async fn session_for(&self, call_id: &str) -> Result<Option<Arc<Call>>, UTDStreamError> {
        let known = lock(&self.registry).call(call_id).map(|c| c.stream_type);
        let stream_type = match known {
            Some(t) => t,
            None => match self.reconcile(call_id).await? {
                UTDReconcileResult::Over { .. } => return Ok(None),
                _ => match lock(&self.registry).call(call_id) {
                    Some(c) => c.stream_type,
                    None => return Ok(None),
                },
            },
        };
        self.new_call(stream_type).map(Some)
    }

    pub(super) async fn accept_now(
        self: &Arc<Self>,
        call_id: &str,
    ) -> Result<UTDAcceptOutcome, UTDStreamError> {
        let _one_action = self.actions.lock().await;
        let start = lock(&self.registry).begin_accept(call_id);
        match start {
            Err(reason) => {
                self.clear_intent(call_id).await;
                return Ok(UTDAcceptOutcome::Over { reason });
            }
            Ok(AcceptStart::AlreadyInCall) => {
                self.clear_intent(call_id).await;
                return Ok(match self.current_call() {
                    Some(session) => UTDAcceptOutcome::Joined { session },
                    None => UTDAcceptOutcome::Over {
                        reason: UTDCallEndReason::Other {
                            reason: "left".to_owned(),
                        },
                    },
                });
            }
            Ok(AcceptStart::Go) => {}
        }
        let call = match self.session_for(call_id).await {
            Ok(Some(call)) => call,
            Ok(None) => {
                self.clear_intent(call_id).await;
                let reason = match lock(&self.registry).phase(call_id) {
                    Some(Phase::Over(reason)) => reason,
                    _ => UTDCallEndReason::Other {
                        reason: "unknown".to_owned(),
                    },
                };
                return Ok(UTDAcceptOutcome::Over { reason });
            }
            Err(e) => {
                lock(&self.registry).accept_interrupted(call_id);
                return Err(e);
            }
        };
        let engine_accepted = self.mark_when_active(&call, call_id);
        let accepted = call.accept(call_id).await;
        engine_accepted.abort();
        match accepted {
            Ok(_) if call.status.get() == Some(UTDCallStatus::Active) => {
                let at = now_ms();
                self.timings
                    .mark(call_id, timings::Phase::EngineAccepted, at);
                self.timings
                    .mark(call_id, timings::Phase::MediaConnected, at);
                lock(&self.registry).accepted(call_id);
                let session = Arc::new(UTDCallSession::new(call.clone()));
                self.joined(call_id, &session, call.call.get());
                self.clear_intent(call_id).await;
                Ok(UTDAcceptOutcome::Joined { session })
            }
            result => {
                let reason = session_end_reason(&call);
                call.dispose().await;
                match (reason, result) {
                    (Some(reason), _) => {
                        self.note(|r| r.finish(call_id, reason.clone()));
                        self.clear_intent(call_id).await;
                        Ok(UTDAcceptOutcome::Over { reason })
                    }
                    (None, Err(e)) => {
                        lock(&self.registry).accept_interrupted(call_id);
                        Err(e)
                    }
                    (None, Ok(_)) => {
                        lock(&self.registry).accept_interrupted(call_id);
                        Err(UTDStreamError::internal(
                            "the engine accepted but the call is not active",
                        ))
                    }
                }
            }
        }
    }

    /// Marks the engine's accept as soon as the call turns active (the
    /// accept call itself returns only after the media join).
    fn mark_when_active(self: &Arc<Self>, call: &Arc<Call>, call_id: &str) -> JoinHandle<()> {
        let mut status = call.status.watch();
        let weak = Arc::downgrade(self);
        let call_id = call_id.to_owned();
        runtime::handle().spawn(async move {
            if status
                .wait_for(|s| *s == Some(UTDCallStatus::Active))
                .await
                .is_ok()
            {
                if let Some(controller) = weak.upgrade() {
                    controller
                        .timings
                        .mark(&call_id, timings::Phase::EngineAccepted, now_ms());
                }
            }
        })
    }

    /// This device is in `call_id`'s media room: remember the session, tell
    /// the host, and time the other party's first audio.
    pub(super) fn joined(
        &self,
        call_id: &str,
        session: &Arc<UTDCallSession>,
        call: Option<UTDCall>,
    ) {
        *lock(&self.current) = Some(session.clone());
        // The audio session may have been activated between the join (which
        // read the gate) and now, when the session became current.
        let media = session.inner().clone();
        runtime::handle().spawn(async move {
            if let Err(e) = media.apply_audio().await {
                tracing::warn!(target: "utd_stream::calls", "microphone not set after the join: {e}");
            }
        });
        let _ = self.events.send(UTDCallControllerEvent::CallJoined {
            call_id: call_id.to_owned(),
            session: session.clone(),
        });
        let me = self.client.identity();
        let Some(peer) = call.map(|c| {
            if Some(&c.caller_identity) == me.as_ref() {
                c.callee_identity
            } else {
                c.caller_identity
            }
        }) else {
            return;
        };
        let transport = session.inner().core.transport().clone();
        let (timings, call_id) = (self.timings.clone(), call_id.to_owned());
        self.spawn(async move {
            let deadline = tokio::time::Instant::now() + FIRST_AUDIO_WAIT;
            while tokio::time::Instant::now() < deadline {
                match transport.remote_audio(&peer).await {
                    Ok(mut stream) => {
                        let first = tokio::time::timeout_at(deadline, stream.next()).await;
                        if let Ok(Some(_)) = first {
                            timings.mark(&call_id, timings::Phase::FirstRemoteAudio, now_ms());
                        }
                        return;
                    }
                    // Phones play remote audio through the platform.
                    Err(e) if e.code() == UTDErrorCode::Unsupported => return,
                    // The other party is not in the room yet.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
        });
    }

    /// Declines `call_id` (hangs up when this device is in it): written
    /// down first, carried out once `init()` is done.
    pub async fn reject(self: &Arc<Self>, call_id: &str) -> Result<(), UTDStreamError> {
        crate::api::calls::validate_call_id(call_id)?;
        if let Err(e) = self
            .intents
            .record(call_id, IntentAction::Decline, now_ms())
            .await
        {
            tracing::warn!(target: "utd_stream::calls", call_id, "decline kept in memory only: {}", e.message());
        }
        self.wait_ready().await?;
        self.decline_now(call_id).await
    }

    pub(super) async fn decline_now(self: &Arc<Self>, call_id: &str) -> Result<(), UTDStreamError> {
        let go = {
            let _one_action = self.actions.lock().await;
            let start = lock(&self.registry).begin_decline(call_id);
            match start {
                Err(_) => None,
                Ok(false) => Some(false),
                Ok(true) => Some(true),
            }
        };
        match go {
            None => {
                self.clear_intent(call_id).await;
                Ok(())
            }
            Some(false) => {
                self.clear_intent(call_id).await;
                self.end().await
            }
            Some(true) => self.decline_at_engine(call_id).await,
        }
    }

    async fn decline_at_engine(self: &Arc<Self>, call_id: &str) -> Result<(), UTDStreamError> {
        let _one_action = self.actions.lock().await;
        let call = match self.session_for(call_id).await {
            Ok(Some(call)) => call,
            Ok(None) => {
                self.clear_intent(call_id).await;
                return Ok(());
            }
            Err(e) => {
                lock(&self.registry).decline_interrupted(call_id);
                return Err(e);
            }
        };
        let declined = call.reject(call_id).await;
        let reason = session_end_reason(&call);
        call.dispose().await;
        match (declined, reason) {
            (Ok(reply), _) => {
                self.note(|r| r.saw_engine_state(call_id, state_of_call(&reply), None));
            }
            (Err(_), Some(reason)) => self.note(|r| r.finish(call_id, reason)),
            (Err(e), None) => {
                lock(&self.registry).decline_interrupted(call_id);
                return Err(e);
            }
        }
        self.clear_intent(call_id).await;
        Ok(())
    }
}
