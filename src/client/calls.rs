//! Calls: the client's call-session factory and incoming invitations.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::broadcast;

use super::UTDStreamClient;
use crate::api::calls::CallWire;
use crate::error::UTDResult;
use crate::media;
use crate::runtime;
use crate::session::call::Call;
use crate::session::call_audio::CallAudioGate;
use crate::session::exported::{UTDCallInvitationListener, UTDCallSession};
use crate::signalling::CallPush;
use crate::subscription::UTDSubscription;
use crate::types::{UTDCall, UTDStreamType};

#[uniffi::export]
impl UTDStreamClient {
    /// A session for one 1:1 call of `streamType` (`audioCall` or
    /// `videoCall`; anything else is `invalidArgument`). The caller calls
    /// `start`; a callee device passes the invitation's call id to
    /// `ringing` / `accept` / `reject` / `busy`.
    pub fn call_session(&self, stream_type: UTDStreamType) -> UTDResult<Arc<UTDCallSession>> {
        self.check_alive()?;
        let call = Call::new(
            self.session_context(),
            media::default_transport(),
            stream_type,
            Arc::new(CallAudioGate::new_open()),
        )?;
        Ok(Arc::new(UTDCallSession::new(call)))
    }

    /// The calls ringing for this user right now (the user is the callee,
    /// not answered, not over), oldest first. For an app that starts up or
    /// comes to the foreground while a call is ringing.
    pub async fn pending_calls(self: Arc<Self>) -> UTDResult<Vec<UTDCall>> {
        self.check_alive()?;
        let auth = self.session_context().auth;
        Ok(runtime::run(async move {
            let session = auth.current().ok_or_else(crate::auth::not_authenticated)?;
            let calls = auth.api.pending_calls(&session.bearer).await?;
            calls.into_iter().map(UTDCall::try_from).collect()
        })
        .await?)
    }

    /// Delivers each incoming call to `listener`, once per call: first the
    /// calls ringing for this user right now (so a listener registered late,
    /// or on a device that was offline when the call was made, still hears
    /// of them), then every invitation pushed while signalling is connected
    /// (`connect()`) — every connected device of the callee gets it — and the
    /// calls found still ringing after each reconnect.
    pub fn observe_call_invitations(
        &self,
        listener: Arc<dyn UTDCallInvitationListener>,
    ) -> Arc<UTDSubscription> {
        // Subscribed before the catch-up so nothing falls between the two.
        let mut pushes = self.signalling.call_pushes();
        let auth = self.session_context().auth;
        let task = runtime::handle().spawn(async move {
            let mut delivered = Delivered::default();
            if let Some(session) = auth.current() {
                match auth.api.pending_calls(&session.bearer).await {
                    Ok(calls) => {
                        for wire in calls {
                            delivered.deliver(&*listener, wire);
                        }
                    }
                    Err(e) => {
                        tracing::warn!(target: "utd_stream::calls", "could not look for ringing calls: {e}")
                    }
                }
            }
            loop {
                match pushes.recv().await {
                    Ok(CallPush::Invitation(wire)) => delivered.deliver(&*listener, wire),
                    Ok(CallPush::Updated(_)) => {}
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(target: "utd_stream::calls", missed, "call pushes lagged");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
        Arc::new(UTDSubscription::new(move || task.abort()))
    }
}

/// How many delivered call ids a listener remembers.
const MAX_REMEMBERED_CALLS: usize = 1024;

/// The calls one listener has been told of.
#[derive(Default)]
struct Delivered(HashSet<String>);

impl Delivered {
    /// Hands `wire` to `listener` unless it already had it.
    fn deliver(&mut self, listener: &dyn UTDCallInvitationListener, wire: CallWire) {
        if self.0.len() >= MAX_REMEMBERED_CALLS {
            // Old calls are long over; forgetting them costs at most a
            // repeated invitation for a call that is still ringing.
            self.0.clear();
        }
        if !self.0.insert(wire.call_id.clone()) {
            return;
        }
        match UTDCall::try_from(wire) {
            Ok(call) => listener.on_invitation(call),
            Err(e) => tracing::warn!(target: "utd_stream::calls", "ignored an invitation: {e}"),
        }
    }
}
