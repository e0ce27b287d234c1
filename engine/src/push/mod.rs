//! Push dispatch (engine-api.md §4): a call rings the callee's devices
//! through APNs (VoIP) and FCM, and a chat message notifies offline members
//! (APNs alert, FCM notification; chat-api.md), via a durable outbox in
//! the database.
//!
//! The hooks here run inside the database closures of the call routes: the
//! call pushes are queued in the transaction that inserts the call, and a
//! transition out of ringing drops the unsent ones and queues `call_ended`
//! for the FCM devices that were rung. They only write rows (a closure may
//! run again on PostgreSQL); the caller wakes the dispatcher ([`wake`]) once
//! the transaction committed. The [`dispatcher`] does the sending, off the
//! request path.

mod apns;
pub mod config;
mod dispatcher;
mod fcm;
pub(crate) mod jwt;
pub(crate) mod outbox;
mod payload;

use tokio::sync::Notify;

use self::config::PushConfig;
use self::outbox::{NewPush, APNS, APNS_VOIP, FCM, KIND_CALL};
use self::payload::{is_apns_token, CALL_ENDED_TTL_MS, CHAT_MESSAGE_TTL_MS};
use crate::db::calls::CallRecord;
use crate::db::sql::Conn;
use crate::db::DbError;
use crate::ids::{now_ms, random_b64};
use crate::state::AppState;

/// The push senders of this engine (none when nothing is configured).
pub(crate) struct Push {
    apns: Option<apns::Apns>,
    fcm: Option<fcm::Fcm>,
    /// Wakes the dispatcher: rows were queued.
    wake: Notify,
    /// This engine's lease owner id in the outbox.
    owner: String,
}

impl Push {
    /// Checks the credentials and builds the clients; an error names the
    /// bad setting.
    pub(crate) fn new(config: &PushConfig) -> anyhow::Result<Push> {
        jwt::install_default_provider();
        Ok(Push {
            apns: config.apns.as_ref().map(apns::Apns::new).transpose()?,
            fcm: config.fcm.as_ref().map(fcm::Fcm::new).transpose()?,
            wake: Notify::new(),
            owner: format!("engine-{}", random_b64(9)),
        })
    }

    /// The platforms pushes go to (calls and chat).
    pub(crate) fn platforms(&self) -> Vec<&'static str> {
        let mut out = self.call_platforms();
        if self.apns.is_some() {
            out.push(APNS);
        }
        out
    }

    /// The platforms call pushes go to: PushKit VoIP and FCM.
    fn call_platforms(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.apns.is_some() {
            out.push(APNS_VOIP);
        }
        if self.fcm.is_some() {
            out.push(FCM);
        }
        out
    }

    /// The platforms chat notifications go to: regular APNs tokens (an
    /// alert to a VoIP token would have to report a call) and FCM.
    fn chat_platforms(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.apns.is_some() {
            out.push(APNS);
        }
        if self.fcm.is_some() {
            out.push(FCM);
        }
        out
    }

    fn enabled(&self) -> bool {
        self.apns.is_some() || self.fcm.is_some()
    }
}

/// In the transaction that inserts `call`: queues a call push to every
/// `apns_voip` / `fcm` token of the callee whose service is configured, due
/// now and dropped at the ring deadline. The caller [`wake`]s the dispatcher
/// after the commit.
pub(crate) fn call_created(
    push: &Push,
    conn: &Conn<'_>,
    call: &CallRecord,
    ring_timeout_ms: u64,
) -> Result<(), DbError> {
    if !push.enabled() {
        return Ok(());
    }
    let platforms = push.call_platforms();
    let tokens = outbox::tokens_of(conn, &call.app_id, &call.callee_identity, &platforms)?;
    let now = now_ms();
    let mut queued = 0;
    for (platform, token, device_id) in &tokens {
        if platform == APNS_VOIP && !is_apns_token(token) {
            tracing::warn!(
                call_id = %call.call_id,
                token = %payload::token_prefix(token),
                "apns_voip token is not hex; not pushed"
            );
            continue;
        }
        let row = NewPush {
            app_id: &call.app_id,
            call_id: &call.call_id,
            kind: KIND_CALL,
            platform,
            token,
            device_id: device_id.as_deref(),
            reason: None,
            expires_at_ms: call.created_at_ms.saturating_add(ring_timeout_ms),
        };
        if outbox::enqueue(conn, &row, now)? {
            queued += 1;
        }
    }
    if queued > 0 {
        tracing::info!(call_id = %call.call_id, pushes = queued, "call pushes queued");
    }
    Ok(())
}

/// In the transaction that sends chat message `message_id`: queues its
/// notification to every `apns` / `fcm` token of `recipient` (a member
/// with no open connection) whose service is configured. Returns how many
/// were queued.
pub(crate) fn chat_message_sent(
    push: &Push,
    conn: &Conn<'_>,
    app_id: &str,
    message_id: &str,
    recipient: &str,
    now: u64,
) -> Result<usize, DbError> {
    if !push.enabled() {
        return Ok(0);
    }
    let platforms = push.chat_platforms();
    let mut queued = 0;
    for (platform, token, device_id) in outbox::tokens_of(conn, app_id, recipient, &platforms)? {
        if platform == APNS && !is_apns_token(&token) {
            tracing::warn!(message_id, token = %payload::token_prefix(&token),
                "apns token is not hex; not pushed");
            continue;
        }
        let expires = now.saturating_add(CHAT_MESSAGE_TTL_MS);
        if outbox::enqueue_chat(
            conn,
            app_id,
            message_id,
            &platform,
            &token,
            device_id.as_deref(),
            recipient,
            expires,
            now,
        )? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// Wakes the dispatcher after a transaction queued pushes (call pushes,
/// `call_ended`, chat notifications): only once it committed, so the
/// dispatcher's next claim sees the rows.
pub(crate) fn wake(push: &Push) {
    push.wake.notify_one();
}

/// With transitions of calls, in their transaction: for each one out of
/// ringing, unsent call pushes are dropped and `call_ended` is queued to the
/// FCM devices that were rung. Returns whether any `call_ended` was queued
/// (the caller then [`wake`]s the dispatcher after the commit). A failure
/// fails the transaction, transition included: on PostgreSQL a failed
/// statement aborts the whole transaction anyway, and a serialization
/// failure must reach [`crate::db::Db::call`] to be retried.
pub(crate) fn calls_changed(
    push: &Push,
    conn: &Conn<'_>,
    changes: &[CallRecord],
) -> Result<bool, DbError> {
    if !push.enabled() {
        return Ok(false);
    }
    let now = now_ms();
    let mut queued = false;
    for call in changes {
        let Some((reason, answered_by)) = payload::ending(call) else {
            continue;
        };
        let over = outbox::call_over(
            conn,
            &call.call_id,
            reason,
            answered_by.as_deref(),
            now,
            CALL_ENDED_TTL_MS,
        )?;
        if over.dropped > 0 {
            tracing::info!(call_id = %call.call_id, dropped = over.dropped,
                "unsent call pushes dropped: the call stopped ringing");
        }
        if over.queued > 0 {
            tracing::info!(call_id = %call.call_id, pushes = over.queued, reason,
                "call_ended pushes queued");
            queued = true;
        }
    }
    Ok(queued)
}

/// On start, before the first ring deadline sweep: drops queued pushes of
/// platforms this engine has no credentials for.
pub(crate) async fn prepare(state: &AppState) -> Result<(), DbError> {
    let platforms = state.push.platforms();
    let pruned = state
        .db
        .call(move |c| outbox::prune_platforms(c, &platforms))
        .await?;
    if pruned > 0 {
        tracing::info!(pruned, "queued pushes of unconfigured platforms dropped");
    }
    Ok(())
}

/// Starts the dispatcher (tracked, stops at shutdown) when any service is
/// configured; it picks up what an earlier run left queued.
pub(crate) fn spawn_dispatcher(state: &AppState) {
    if state.push.enabled() {
        state.tracker.spawn(dispatcher::run(state.clone()));
    }
}
