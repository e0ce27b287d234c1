//! One signal connection: authenticate, `hello`, then read client messages,
//! send pings, and write the bounded outbound queue until a close.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};

use super::hub::CloseReason;
use super::protocol::{self, ClientMessage};
use crate::http::auth::{authenticate_bearer, rate_limit};
use crate::http::errors::{ApiError, ErrorCode};
use crate::http::session::session_view;
use crate::ids::now_ms;
use crate::state::AppState;

/// How long one outbound frame may take to be written before the peer is
/// considered gone.
const WRITE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to keep reading for the peer's close reply after we closed.
const CLOSE_LINGER: Duration = Duration::from_secs(2);
/// How long a cluster node waits for Redis to confirm a subscription.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(5);
/// Minimum read-after-close time once our close frame is written.
const CLOSE_LINGER_AFTER_WRITE: Duration = Duration::from_millis(300);

fn close_for(err: &ApiError) -> (u16, String) {
    match err.code() {
        ErrorCode::Banned => (4403, "banned".into()),
        ErrorCode::Unauthenticated => (4401, "unauthenticated".into()),
        _ => (1011, "internal".into()),
    }
}

async fn close_now(mut socket: WebSocket, code: u16, reason: String) {
    let frame = CloseFrame {
        code,
        reason: reason.into(),
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, socket.send(Message::Close(Some(frame)))).await;
    // Give the client a moment to read the close before the TCP socket goes.
    let _ = tokio::time::timeout(CLOSE_LINGER, async {
        while let Some(Ok(msg)) = socket.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

/// Runs a connection to completion.
pub async fn run(state: AppState, socket: WebSocket, token: Option<String>) {
    let Some(token) = token else {
        return close_now(socket, 4401, "unauthenticated".into()).await;
    };
    let user = match authenticate_bearer(&state, &token).await {
        Ok(u) => u,
        Err(e) => {
            let (code, reason) = close_for(&e);
            return close_now(socket, code, reason).await;
        }
    };
    if !user.app.signaling_enabled() {
        return close_now(socket, 4403, "feature_disabled:signaling".into()).await;
    }
    if let Err(e) = rate_limit(&state, &user.app, &user.session.identity).await {
        let wait = e.retry_after_ms().unwrap_or(1000);
        return close_now(socket, 4429, format!("rate_limited:{wait}")).await;
    }

    let (tx, rx) = mpsc::channel::<String>(state.config.ws_queue_capacity.max(1));
    let heartbeat = state.config.heartbeat_interval;
    let view = session_view(&user.app, &user.session);
    let app_id = user.app.app_id.clone();
    let identity = user.session.identity.clone();
    let mut reg = state
        .hub
        .register(&app_id, &identity, &user.session.token_sha256, tx.clone());
    // On a cluster node: `hello` only once this node hears the user's
    // channel, so whatever the client fetches after `hello` and whatever is
    // published after that both reach it.
    let subscribed = std::mem::take(&mut reg.subscribed);
    if tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribed.wait())
        .await
        .is_err()
    {
        // Redis is unreachable: this node cannot promise delivery.
        state.hub.close(reg.id, 1012, "try_again");
    }
    // `hello` goes through the queue first; register() only fans out to
    // *other* connections, so nothing can precede it on this one.
    let hello = protocol::hello_message(&view, heartbeat.as_millis() as u64, reg.id);
    if tx.try_send(hello).is_err() {
        state.hub.close(reg.id, 4008, "slow_consumer");
    }
    // Kept for the replies to this connection's own requests (`reply`).
    let replies = tx;
    tracing::info!(app_id, identity, conn = reg.id, "signal connected");

    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, rx, reg.kill_rx.clone()));
    let mut kill_rx = reg.kill_rx;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    let mut last_inbound = Instant::now();
    let mut closing_since: Option<Instant> = None;
    let shutdown = state.shutdown.clone();

    loop {
        if closing_since.is_some_and(|t| t.elapsed() > CLOSE_LINGER + WRITE_TIMEOUT) {
            break;
        }
        tokio::select! {
            frame = stream.next() => {
                let Some(Ok(frame)) = frame else { break };
                last_inbound = Instant::now();
                match frame {
                    _ if frame_len(&frame) > super::MAX_CLIENT_MESSAGE => {
                        state.hub.close(reg.id, 1009, "message_too_big");
                        closing_since = Some(Instant::now());
                    }
                    Message::Text(text) => {
                        if closing_since.is_none() {
                            handle_text(&state, reg.id, &replies, &app_id, &identity, text.as_str()).await;
                        }
                    }
                    Message::Binary(_) => state.hub.send(
                        reg.id,
                        &protocol::error_message("invalid_argument", "binary frames are not supported", None),
                    ),
                    Message::Close(_) => {
                        state.hub.close(reg.id, 1000, "bye");
                        break;
                    }
                    Message::Ping(_) | Message::Pong(_) => {}
                }
            }
            _ = ticker.tick(), if closing_since.is_none() => {
                if last_inbound.elapsed() > heartbeat * 2 {
                    state.hub.close(reg.id, 4408, "heartbeat_timeout");
                } else {
                    state.hub.send(reg.id, &protocol::ping_message(now_ms()));
                    revalidate(&state, reg.id, &token).await;
                }
            }
            changed = kill_rx.changed(), if closing_since.is_none() => {
                if changed.is_err() || kill_rx.borrow().is_some() {
                    closing_since = Some(Instant::now());
                }
            }
            _ = shutdown.cancelled(), if closing_since.is_none() => {
                state.hub.close(reg.id, 1001, "server_shutdown");
                closing_since = Some(Instant::now());
            }
            _ = tokio::time::sleep(Duration::from_millis(50)), if closing_since.is_some() => {
                // The close frame is out; keep reading briefly so the peer's
                // pending data does not turn our TCP close into a reset.
                if writer.is_finished()
                    && closing_since.is_some_and(|t| t.elapsed() > CLOSE_LINGER_AFTER_WRITE)
                {
                    break;
                }
            }
        }
    }

    if let Some(at) = state.hub.unregister(reg.id) {
        // The last connection: the user stops typing everywhere.
        crate::chat::typing::user_gone(&state, &app_id, &identity).await;
        let (a, i) = (app_id.clone(), identity.clone());
        if let Err(e) = state
            .db
            .call(move |c| crate::db::presence::set_last_seen(c, &a, &i, at))
            .await
        {
            tracing::warn!(error = %e, "could not persist last seen");
        }
    }
    writer.abort();
    tracing::info!(app_id, identity, conn = reg.id, "signal disconnected");
}

/// Writes queued messages in order; on a close request, sends the close frame
/// after the frame in flight (never interrupting one mid-write).
async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut rx: mpsc::Receiver<String>,
    mut kill_rx: watch::Receiver<Option<CloseReason>>,
) {
    loop {
        let close = kill_rx.borrow().clone();
        if let Some(reason) = close {
            let frame = CloseFrame {
                code: reason.code,
                reason: reason.reason.into(),
            };
            let _ =
                tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
            return;
        }
        tokio::select! {
            biased;
            changed = kill_rx.changed() => {
                if changed.is_err() { return; }
            }
            msg = rx.recv() => {
                let Some(text) = msg else { return };
                match tokio::time::timeout(WRITE_TIMEOUT, sink.send(Message::Text(text.into()))).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
            }
        }
    }
}

/// Re-checks the session at each heartbeat: revoked, expired, banned (also by
/// the CLI) or a plan that lost signaling close the connection.
async fn revalidate(state: &AppState, id: u64, token: &str) {
    match authenticate_bearer(state, token).await {
        Ok(user) if !user.app.signaling_enabled() => {
            state.hub.close(id, 4403, "feature_disabled:signaling")
        }
        Ok(_) => {}
        Err(e) if e.code() == ErrorCode::Internal => {}
        Err(e) => {
            let (code, reason) = close_for(&e);
            state.hub.close(id, code, &reason);
        }
    }
}

fn frame_len(frame: &Message) -> usize {
    match frame {
        Message::Text(text) => text.len(),
        Message::Binary(bytes) => bytes.len(),
        _ => 0,
    }
}

/// Queues a reply to this connection's own request. Fan-out never waits (a
/// reader that falls behind is cut off with 4008); a reply waits for room in
/// the queue instead, and the next request is read only after it, so a big
/// answer (one `presence` per identity of a 500-identity watch) arrives whole.
/// The wait is bounded by one heartbeat interval: nothing is read meanwhile,
/// and a longer wait would make a client that sends but never reads look
/// silent (4408) rather than slow (4008).
async fn reply(state: &AppState, id: u64, replies: &mpsc::Sender<String>, text: String) {
    let wait = state.config.heartbeat_interval;
    match tokio::time::timeout(wait, replies.send(text)).await {
        // Sent, or the writer is gone because the connection is closing.
        Ok(_) => {}
        Err(_) => state.hub.close(id, 4008, "slow_consumer"),
    }
}

async fn handle_text(
    state: &AppState,
    id: u64,
    replies: &mpsc::Sender<String>,
    app_id: &str,
    identity: &str,
    text: &str,
) {
    let envelope = match protocol::parse(text) {
        Ok(e) => e,
        Err(refusal) => {
            let msg = protocol::error_message(
                "invalid_argument",
                &refusal.message,
                refusal.reference.as_ref(),
            );
            return reply(state, id, replies, msg).await;
        }
    };
    let reference = envelope.reference;
    match envelope.message {
        ClientMessage::Pong => {}
        ClientMessage::Echo(payload) => {
            if let Some(r) = &reference {
                reply(state, id, replies, protocol::echo_message(r, &payload)).await;
            }
            return;
        }
        ClientMessage::Unwatch(identities) => state.hub.unwatch(id, &identities),
        ClientMessage::Typing {
            conversation_id,
            typing,
        } => {
            let done = crate::chat::typing::client_update(
                state,
                app_id,
                identity,
                &conversation_id,
                typing,
            )
            .await;
            if let Err((code, message)) = done {
                let msg = if code == "feature_disabled" {
                    protocol::feature_disabled_message("chat", reference.as_ref())
                } else {
                    protocol::error_message(code, message, reference.as_ref())
                };
                return reply(state, id, replies, msg).await;
            }
        }
        ClientMessage::RoomUnsubscribe(room) => state.hub.unsubscribe_room(id, &room),
        ClientMessage::RoomSubscribe(room) => {
            let Some(subscribed) = state.hub.subscribe_room(id, &room) else {
                let msg = protocol::error_message(
                    "invalid_argument",
                    "too many room subscriptions on this connection",
                    reference.as_ref(),
                );
                return reply(state, id, replies, msg).await;
            };
            // Heard before the state is read: no change falls in between.
            let _ = tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribed.wait()).await;
            // The current state first (rooms of other types or not yet
            // known get no initial message).
            if let Some(text) =
                crate::http::seats::current_state_message(state, app_id, &room).await
            {
                reply(state, id, replies, text).await;
            }
        }
        ClientMessage::Watch(identities) => {
            let (mut states, subscribed) = match state.hub.watch(id, &identities) {
                Ok(s) => s,
                Err(message) => {
                    let msg =
                        protocol::error_message("invalid_argument", &message, reference.as_ref());
                    return reply(state, id, replies, msg).await;
                }
            };
            // Heard before presence is read: no change falls in between.
            let _ = tokio::time::timeout(SUBSCRIBE_TIMEOUT, subscribed.wait()).await;
            if state.hub.cluster().is_some() {
                let away: Vec<String> = states
                    .iter()
                    .filter(|(_, online, _)| !online)
                    .map(|(i, _, _)| i.clone())
                    .collect();
                let elsewhere = crate::cluster::online_flags(state, app_id, &away).await;
                for (identity, online) in away.iter().zip(elsewhere) {
                    if let Some(s) = states.iter_mut().find(|s| &s.0 == identity) {
                        s.1 = online;
                    }
                }
            }
            let offline: Vec<String> = states
                .iter()
                .filter(|(_, online, cached)| !online && cached.is_none())
                .map(|(i, _, _)| i.clone())
                .collect();
            let app = app_id.to_owned();
            let stored = if offline.is_empty() {
                Vec::new()
            } else {
                match state
                    .db
                    .call(move |c| crate::db::presence::last_seen(c, &app, &offline))
                    .await
                {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not read last seen");
                        Vec::new()
                    }
                }
            };
            for (identity, online, cached) in states {
                let last_seen = cached.or_else(|| {
                    stored
                        .iter()
                        .find(|(i, _)| *i == identity)
                        .and_then(|(_, at)| *at)
                });
                reply(
                    state,
                    id,
                    replies,
                    protocol::presence_message(&identity, online, last_seen),
                )
                .await;
            }
        }
    }
    if let Some(r) = &reference {
        reply(state, id, replies, protocol::ack_message(r)).await;
    }
}
