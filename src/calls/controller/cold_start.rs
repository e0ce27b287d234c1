//! Cold start: what a push means, answered with no I/O, and the reconcile
//! that asks the engine afterwards.

use super::*;

impl CallController {
    /// What to show for a push, answered at once with no I/O. Call it from
    /// the PushKit / FCM handler, then `reconcile` in the background.
    pub fn handle_push(&self, event: UTDCallPushEvent) -> UTDPushAction {
        let at = now_ms();
        match event {
            UTDCallPushEvent::Incoming { push } => {
                let call_id = push.call_id.clone();
                self.timings.push_sent(&call_id, push.sent_at_ms);
                self.timings
                    .mark(&call_id, timings::Phase::PushReceived, at);
                let call = incoming_from_push(&push);
                self.note(|r| r.saw_ringing(call.clone()));
                let registry = lock(&self.registry);
                match registry.phase(&call_id) {
                    Some(Phase::Over(reason)) => UTDPushAction::ReportEnded {
                        call_id,
                        call_kit_uuid: push.call_kit_uuid,
                        reason,
                    },
                    _ => UTDPushAction::ReportIncoming {
                        call: registry.call(&call_id).unwrap_or(call),
                    },
                }
            }
            UTDCallPushEvent::Ended { push } => {
                self.note(|r| r.saw_ended_push(&push.call_id, push.reason.clone()));
                let reason = match lock(&self.registry).phase(&push.call_id) {
                    Some(Phase::Over(reason)) => reason,
                    _ => push.reason,
                };
                UTDPushAction::ReportEnded {
                    call_id: push.call_id,
                    call_kit_uuid: push.call_kit_uuid,
                    reason,
                }
            }
        }
    }

    /// Asks the engine where `call_id` stands and brings the ledger (and
    /// the host, through events) up to date.
    pub async fn reconcile(&self, call_id: &str) -> Result<UTDReconcileResult, UTDStreamError> {
        crate::api::calls::validate_call_id(call_id)?;
        let session = self.session().await?;
        let read = self
            .client
            .session_context()
            .auth
            .api
            .get_call(&session.bearer, call_id)
            .await;
        let wire = match read {
            Ok(wire) => wire,
            Err(e) if matches!(e.code(), UTDErrorCode::NotFound | UTDErrorCode::Forbidden) => {
                // Not a call of this user's (or long gone): nothing to ring.
                let reason = UTDCallEndReason::Failed {
                    message: e.message(),
                };
                self.note(|r| r.finish(call_id, reason.clone()));
                return Ok(UTDReconcileResult::Over { reason });
            }
            Err(e) => return Err(e),
        };
        self.timings
            .mark(call_id, timings::Phase::Reconciled, now_ms());
        Ok(self.absorb(&wire, UTDCallSource::Reconcile))
    }

    /// Feeds an engine call into the ledger; returns where it stands here.
    pub(super) fn absorb(&self, wire: &CallWire, source: UTDCallSource) -> UTDReconcileResult {
        let mine_as_callee = self.client.identity().as_deref() == Some(&wire.callee_identity);
        let ringing = mine_as_callee.then(|| incoming_from_wire(wire, source));
        self.note(|r| r.saw_engine_state(&wire.call_id, state_of_wire(wire), ringing));
        let registry = lock(&self.registry);
        match registry.phase(&wire.call_id) {
            Some(Phase::Over(reason)) => UTDReconcileResult::Over { reason },
            Some(Phase::InCall) => UTDReconcileResult::InCall,
            _ => {
                let call = registry
                    .call(&wire.call_id)
                    .unwrap_or_else(|| incoming_from_wire(wire, source));
                let time_left_ms = call
                    .ring_expires_at_ms
                    .map(|deadline| deadline.saturating_sub(now_ms()));
                UTDReconcileResult::Ringing { call, time_left_ms }
            }
        }
    }
}
