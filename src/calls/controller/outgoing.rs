//! Calling out, and hanging up the call this device is in.

use std::sync::Arc;

use super::*;

impl CallController {
    /// Calls `callee`; returns the session once this device is in the call
    /// room. One call at a time.
    pub async fn start_call(
        &self,
        callee: &str,
        callee_name: Option<&str>,
        stream_type: UTDStreamType,
    ) -> Result<Arc<UTDCallSession>, UTDStreamError> {
        if !self.is_ready() {
            return Err(UTDStreamError::invalid_state(
                "call init() before startCall",
            ));
        }
        if let Some(current) = self.current_call() {
            if current.status().is_some_and(|s| !s.is_terminal()) {
                return Err(UTDStreamError::invalid_state(
                    "a call is in progress: end() it first",
                ));
            }
        }
        let call = self.new_call(stream_type)?;
        match call
            .start(
                callee,
                callee_name,
                serde_json::Value::Object(Default::default()),
            )
            .await
        {
            Ok(started) => {
                lock(&self.registry).started_outgoing(&started.call_id);
                let session = Arc::new(UTDCallSession::new(call.clone()));
                self.joined(&started.call_id, &session, Some(started.clone()));
                // The callee may have answered or declined already.
                self.note(|r| r.saw_engine_state(&started.call_id, state_of_call(&started), None));
                Ok(session)
            }
            Err(e) => {
                call.dispose().await;
                let reason = if e.is_signaling_disabled() {
                    *lock(&self.signaling_off) = true;
                    UTDCallEndReason::NotActivated
                } else {
                    UTDCallEndReason::Failed {
                        message: e.message(),
                    }
                };
                let _ = self.events.send(UTDCallControllerEvent::CallEnded {
                    call_id: None,
                    reason,
                });
                Err(e)
            }
        }
    }

    /// Hangs up the call this device is in (cancels an unanswered outgoing
    /// call). Harmless when there is none.
    pub async fn end(&self) -> Result<(), UTDStreamError> {
        let Some(session) = self.current_call() else {
            return Ok(());
        };
        let call = session.inner().clone();
        let ended = call.end().await;
        if let (Some(call_id), Some(engine_call)) = (call.call_id(), call.call.get()) {
            self.note(|r| r.saw_engine_state(&call_id, state_of_call(&engine_call), None));
            if let Some(reason) = session_end_reason(&call) {
                self.note(|r| r.finish(&call_id, reason));
            }
        }
        call.dispose().await;
        *lock(&self.current) = None;
        ended
    }
}
