//! The background task that owns the signal WebSocket.
//!
//! One loop: open → wait for hello → replay the watched presence set and the
//! subscribed rooms → pump messages → on loss, decide (retry with backoff,
//! re-mint an expired session, wait out a rate limit, or give up for good on
//! a ban / plan gate) and go round again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, timeout, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::{HeaderValue, AUTHORIZATION};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{connect_async_with_config, MaybeTlsStream, WebSocketStream};

use super::backoff::Backoff;
use super::protocol::{close_code, reference_key, ClientMessage, ServerMessage};
use super::{CallPush, Command, RoomPush, SignalShared, StageRequestedPush};
use crate::auth::{not_authenticated, AuthState};
use crate::error::{capability, UTDErrorCode, UTDStreamError};
use crate::types::{UTDCapabilities, UTDConnectionState, UTDPresence};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Used when the engine's hello does not say how often it pings.
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

/// What the task needs from its owner.
pub(super) struct Context {
    pub auth: Arc<AuthState>,
    pub shared: Arc<SignalShared>,
    pub backoff: Backoff,
}

/// Why one connection ended, which decides what happens next.
#[derive(Debug)]
enum Ended {
    /// `disconnect()` was called.
    Stopped,
    /// Refused for good (banned, signalling not in the plan, bad config).
    Fatal(UTDStreamError),
    /// The bearer expired or was revoked: re-mint and retry at once.
    Unauthenticated,
    /// Told to wait before reconnecting.
    RateLimited(Duration),
    /// Dropped or unreachable: retry with backoff.
    Lost(String),
}

pub(super) async fn run(
    ctx: Context,
    mut commands: mpsc::Receiver<Command>,
    ready: oneshot::Sender<Result<(), UTDStreamError>>,
) {
    let mut ready = Some(ready);
    let mut attempt: u32 = 0;
    let mut refreshed_without_success = false;
    ctx.shared.state.set(UTDConnectionState::Connecting);
    loop {
        let ended = match open(&ctx).await {
            Ok(socket) => {
                let outcome = pump(&ctx, socket, &mut commands, &mut ready).await;
                if outcome.reached_hello {
                    attempt = 0;
                    refreshed_without_success = false;
                }
                outcome.ended
            }
            Err(ended) => ended,
        };
        let wait = match ended {
            Ended::Stopped => {
                ctx.shared.state.set(UTDConnectionState::Disconnected);
                return;
            }
            Ended::Fatal(error) => {
                tracing::warn!(target: "utd_stream::signalling", "signalling refused: {error}");
                ctx.shared.state.set(UTDConnectionState::Failed {
                    code: error
                        .engine_code()
                        .unwrap_or_else(|| error.code().wire_code().to_owned()),
                    message: error.message(),
                });
                if let Some(ready) = ready.take() {
                    let _ = ready.send(Err(error));
                }
                return;
            }
            Ended::Unauthenticated if !refreshed_without_success => {
                refreshed_without_success = true;
                tracing::info!(target: "utd_stream::signalling", "session expired; minting a new one");
                match ctx.auth.refresh().await {
                    Ok(_) => continue,
                    Err(e) if e.is_forbidden() => {
                        ctx.shared.state.set(UTDConnectionState::Failed {
                            code: e
                                .engine_code()
                                .unwrap_or_else(|| e.code().wire_code().to_owned()),
                            message: e.message(),
                        });
                        if let Some(ready) = ready.take() {
                            let _ = ready.send(Err(e));
                        }
                        return;
                    }
                    Err(e) => Wait::Backoff(format!("could not renew the session: {e}")),
                }
            }
            Ended::Unauthenticated => {
                Wait::Backoff("the engine refused a freshly minted session".into())
            }
            Ended::RateLimited(delay) => Wait::Exactly(delay, "rate limited by the engine".into()),
            Ended::Lost(reason) => Wait::Backoff(reason),
        };
        let (delay, reason) = match wait {
            Wait::Exactly(delay, reason) => (delay, reason),
            Wait::Backoff(reason) => {
                if let Some(ready) = ready.take() {
                    // The very first attempt failed: report it, do not linger.
                    ctx.shared.state.set(UTDConnectionState::Disconnected);
                    let _ = ready.send(Err(UTDStreamError::network(format!(
                        "could not open the signalling connection: {reason}"
                    ))));
                    return;
                }
                attempt = attempt.saturating_add(1);
                (ctx.backoff.next_delay(attempt), reason)
            }
        };
        tracing::warn!(
            target: "utd_stream::signalling",
            attempt,
            retry_in_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            "signalling connection lost: {reason}"
        );
        ctx.shared.state.set(UTDConnectionState::Reconnecting {
            attempt: attempt.max(1),
            retry_in_ms: u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            reason,
        });
        if let Ended::Stopped = idle(delay, &mut commands).await {
            ctx.shared.state.set(UTDConnectionState::Disconnected);
            return;
        }
    }
}

/// How long to wait before the next attempt.
enum Wait {
    Exactly(Duration, String),
    Backoff(String),
}

/// Sleeps between attempts while still answering commands.
async fn idle(delay: Duration, commands: &mut mpsc::Receiver<Command>) -> Ended {
    let deadline = Instant::now() + delay;
    loop {
        tokio::select! {
            _ = sleep_until(deadline) => return Ended::Lost(String::new()),
            command = commands.recv() => match command {
                None | Some(Command::Close) => return Ended::Stopped,
                Some(Command::Send { reply, .. }) => {
                    if let Some(reply) = reply {
                        let _ = reply.send(Err(UTDStreamError::network("signalling is reconnecting")));
                    }
                }
            },
        }
    }
}

async fn open(ctx: &Context) -> Result<Socket, Ended> {
    let session = ctx
        .auth
        .current()
        .ok_or_else(|| Ended::Fatal(not_authenticated()))?;
    let url = ctx.auth.api.signal_url().map_err(Ended::Fatal)?;
    let mut request = url.as_str().into_client_request().map_err(|e| {
        Ended::Fatal(UTDStreamError::invalid_argument(format!(
            "bad signal URL: {e}"
        )))
    })?;
    let bearer =
        HeaderValue::from_str(&format!("Bearer {}", session.bearer.expose())).map_err(|_| {
            Ended::Fatal(UTDStreamError::protocol(
                "the engine minted a bearer that is not a valid header",
            ))
        })?;
    request.headers_mut().insert(AUTHORIZATION, bearer);
    // TCP_NODELAY: signalling messages are small and latency-bound (a pong
    // or an ack must not wait for a delayed ACK).
    let connecting = connect_async_with_config(request, None, true);
    match timeout(CONNECT_TIMEOUT, connecting).await {
        Err(_) => Err(Ended::Lost(format!("no answer within {CONNECT_TIMEOUT:?}"))),
        Ok(Ok((socket, _response))) => Ok(socket),
        Ok(Err(WsError::Http(response))) => {
            let status = response.status().as_u16();
            let body = response
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned();
            Err(classify_refusal(UTDStreamError::from_engine_reply(
                status, &body, None,
            )))
        }
        Ok(Err(e)) => Err(Ended::Lost(e.to_string())),
    }
}

/// Maps an engine refusal (HTTP or close frame) to what the loop does next.
fn classify_refusal(error: UTDStreamError) -> Ended {
    match error.code() {
        UTDErrorCode::Unauthenticated => Ended::Unauthenticated,
        UTDErrorCode::RateLimited => Ended::RateLimited(Duration::from_millis(
            error.retry_after_ms().unwrap_or(1000),
        )),
        UTDErrorCode::Banned | UTDErrorCode::FeatureDisabled | UTDErrorCode::Forbidden => {
            Ended::Fatal(error)
        }
        _ => Ended::Lost(error.message()),
    }
}

/// How one connected socket ended.
struct PumpOutcome {
    /// The engine's hello arrived (the connection was fully up).
    reached_hello: bool,
    ended: Ended,
}

impl From<Ended> for PumpOutcome {
    fn from(ended: Ended) -> Self {
        Self {
            reached_hello: false,
            ended,
        }
    }
}

/// Runs one connected socket until it ends.
async fn pump(
    ctx: &Context,
    socket: Socket,
    commands: &mut mpsc::Receiver<Command>,
    ready: &mut Option<oneshot::Sender<Result<(), UTDStreamError>>>,
) -> PumpOutcome {
    let (mut sink, mut stream) = socket.split();

    let heartbeat = match timeout(HELLO_TIMEOUT, stream.next()).await {
        Err(_) => {
            return PumpOutcome::from(Ended::Lost(format!(
                "no hello from the engine within {HELLO_TIMEOUT:?}"
            )))
        }
        Ok(None) => return PumpOutcome::from(Ended::Lost("closed before hello".into())),
        Ok(Some(Err(e))) => return PumpOutcome::from(Ended::Lost(e.to_string())),
        Ok(Some(Ok(Message::Close(frame)))) => return classify_close(frame).into(),
        Ok(Some(Ok(Message::Text(text)))) => match serde_json::from_str::<ServerMessage>(&text) {
            Ok(ServerMessage::Hello {
                session,
                heartbeat_ms,
                ..
            }) => {
                if let Some(session) = session {
                    ctx.auth.capabilities.set(UTDCapabilities::from(&session));
                }
                heartbeat_ms
                    .map(Duration::from_millis)
                    .unwrap_or(DEFAULT_HEARTBEAT)
            }
            Ok(other) => {
                return PumpOutcome::from(Ended::Lost(format!(
                    "expected hello first, got {other:?}"
                )));
            }
            Err(e) => return PumpOutcome::from(Ended::Lost(format!("unreadable hello: {e}"))),
        },
        Ok(Some(Ok(other))) => {
            return PumpOutcome::from(Ended::Lost(format!("expected a text hello, got {other:?}")))
        }
    };

    ctx.shared.state.set(UTDConnectionState::Connected);
    tracing::info!(target: "utd_stream::signalling", "signalling connected");
    if let Some(ready) = ready.take() {
        let _ = ready.send(Ok(()));
    }

    if let Err(e) = replay(ctx, &mut sink).await {
        return PumpOutcome {
            reached_hello: true,
            ended: Ended::Lost(e),
        };
    }
    // Invitations are pushed only to connections open when the call was
    // made: look for calls ringing for this user now (off the pump).
    crate::runtime::handle().spawn(announce_pending_calls(ctx.auth.clone(), ctx.shared.clone()));

    // Two and a half missed heartbeats means the engine or the path is gone.
    let silence_limit = (heartbeat * 5 / 2).max(Duration::from_secs(2));
    let mut last_heard = Instant::now();
    let mut pending: HashMap<String, oneshot::Sender<Result<(), UTDStreamError>>> = HashMap::new();
    let mut next_ref: u64 = 1;

    let ended = loop {
        tokio::select! {
            incoming = stream.next() => {
                last_heard = Instant::now();
                match incoming {
                    Some(Ok(Message::Text(text))) => {
                        if let Some(reply) = handle_text(ctx, &text, &mut pending) {
                            if let Err(e) = send(&mut sink, &reply).await {
                                break Ended::Lost(e);
                            }
                        }
                    }
                    Some(Ok(Message::Close(frame))) => break classify_close(frame),
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Ended::Lost(e.to_string()),
                    None => break Ended::Lost("the engine closed the connection".into()),
                }
            }
            command = commands.recv() => match command {
                None | Some(Command::Close) => {
                    let goodbye = CloseFrame { code: CloseCode::Normal, reason: "client disconnect".into() };
                    let _ = timeout(Duration::from_secs(1), sink.send(Message::Close(Some(goodbye)))).await;
                    break Ended::Stopped;
                }
                Some(Command::Send { mut message, reply }) => {
                    if let Some(reply) = reply {
                        let reference = next_ref.to_string();
                        next_ref += 1;
                        message = message.with_reference(reference.clone());
                        pending.insert(reference, reply);
                    }
                    if let Err(e) = send(&mut sink, &message).await {
                        break Ended::Lost(e);
                    }
                }
            },
            _ = sleep_until(last_heard + silence_limit) => {
                break Ended::Lost(format!("no message from the engine for {silence_limit:?}"));
            }
        }
    };
    for (_, waiter) in pending.drain() {
        let _ = waiter.send(Err(UTDStreamError::network(
            "the signalling connection closed before the engine answered",
        )));
    }
    PumpOutcome {
        reached_hello: true,
        ended,
    }
}

/// Re-subscribes what the previous connection had: the watched presence set
/// (the engine answers with current presence) and every subscribed room (the
/// engine answers with its current state). No refs: nobody waits for these.
async fn replay(
    ctx: &Context,
    sink: &mut futures_util::stream::SplitSink<Socket, Message>,
) -> Result<(), String> {
    let watched = ctx.shared.watched_list();
    if !watched.is_empty() {
        let resubscribe = ClientMessage::PresenceWatch {
            identities: watched,
            reference: None,
        };
        send(sink, &resubscribe).await?;
    }
    for room_name in ctx.shared.subscribed_rooms() {
        let resubscribe = ClientMessage::RoomSubscribe {
            room_name,
            reference: None,
        };
        send(sink, &resubscribe).await?;
    }
    Ok(())
}

/// Applies one engine message; returns a message to send back, if any.
fn handle_text(
    ctx: &Context,
    text: &str,
    pending: &mut HashMap<String, oneshot::Sender<Result<(), UTDStreamError>>>,
) -> Option<ClientMessage> {
    let message = match serde_json::from_str::<ServerMessage>(text) {
        Ok(message) => message,
        Err(e) => {
            // A malformed message is the engine's bug; keep the connection.
            tracing::warn!(target: "utd_stream::signalling", "ignored a malformed engine message: {e}");
            return None;
        }
    };
    tracing::trace!(target: "utd_stream::signalling", "← {message:?}");
    match message {
        ServerMessage::Ping { ts_ms } => return Some(ClientMessage::Pong { ts_ms }),
        ServerMessage::Presence {
            identity,
            online,
            last_seen_ms,
        } => {
            if ctx.shared.watched_list().binary_search(&identity).is_ok() {
                ctx.shared.presence.update(|map| {
                    map.insert(
                        identity.clone(),
                        UTDPresence {
                            identity,
                            online,
                            last_seen_ms,
                        },
                    );
                });
            }
        }
        ServerMessage::Ack { reference } | ServerMessage::Echo { reference } => {
            if let Some(waiter) = pending.remove(&reference_key(&reference)) {
                let _ = waiter.send(Ok(()));
            }
        }
        ServerMessage::Error {
            code,
            message,
            reference,
        } => {
            let error = UTDStreamError::from_engine(
                0,
                Some(code),
                message.unwrap_or_else(|| "the engine refused the message".into()),
                None,
                None,
            );
            match reference.and_then(|r| pending.remove(&reference_key(&r))) {
                Some(waiter) => {
                    let _ = waiter.send(Err(error));
                }
                None => tracing::warn!(target: "utd_stream::signalling", "engine error: {error}"),
            }
        }
        ServerMessage::Hello { session, .. } => {
            if let Some(session) = session {
                ctx.auth.capabilities.set(UTDCapabilities::from(&session));
            }
        }
        ServerMessage::SeatsUpdated { seats } => {
            ctx.shared.publish_room_push(RoomPush::Seats(seats));
        }
        ServerMessage::StageUpdated { stage } => {
            ctx.shared.publish_room_push(RoomPush::Stage(stage));
        }
        ServerMessage::StageRequested {
            room_name,
            identity,
            name,
            created_at_ms,
        } => {
            ctx.shared
                .publish_room_push(RoomPush::StageRequested(StageRequestedPush {
                    room_name,
                    identity,
                    name,
                    created_at_ms,
                }));
        }
        ServerMessage::CallInvitation { call } => {
            ctx.shared.publish_call_push(CallPush::Invitation(call));
        }
        ServerMessage::CallUpdated { call } => {
            ctx.shared.publish_call_push(CallPush::Updated(call));
        }
        chat @ (ServerMessage::ChatMessage { .. }
        | ServerMessage::ChatMessageUpdated { .. }
        | ServerMessage::ChatReceipt { .. }
        | ServerMessage::ChatUnread { .. }
        | ServerMessage::ChatConversation { .. }
        | ServerMessage::ChatRemoved { .. }
        | ServerMessage::Typing { .. }) => ctx.shared.publish_chat(chat),
        ServerMessage::Unknown => {}
    }
    None
}

/// Announces the calls ringing for this user right now as invitations
/// (listeners drop the calls they already delivered).
async fn announce_pending_calls(auth: Arc<AuthState>, shared: Arc<SignalShared>) {
    let Some(session) = auth.current() else {
        return;
    };
    match auth.api.pending_calls(&session.bearer).await {
        Ok(calls) => {
            for call in calls {
                shared.publish_call_push(CallPush::Invitation(call));
            }
        }
        Err(e) => {
            tracing::warn!(target: "utd_stream::signalling", "could not look for ringing calls: {e}")
        }
    }
}

/// Maps the engine's close frame to what happens next.
fn classify_close(frame: Option<CloseFrame>) -> Ended {
    let Some(frame) = frame else {
        return Ended::Lost("the engine closed the connection without a reason".into());
    };
    let code = u16::from(frame.code);
    let reason = frame.reason.to_string();
    match code {
        close_code::UNAUTHENTICATED => Ended::Unauthenticated,
        close_code::FORBIDDEN => {
            let (engine_code, capability_name) = match reason.split_once(':') {
                Some((code, capability)) => (code.to_owned(), Some(capability.to_owned())),
                None => (reason.clone(), None),
            };
            let message = match (engine_code.as_str(), capability_name.as_deref()) {
                ("banned", _) => "the user is banned from this app".to_owned(),
                ("feature_disabled", Some(capability::SIGNALING)) => {
                    "the app's plan does not include signalling (calls, presence)".to_owned()
                }
                ("feature_disabled", Some(other)) => {
                    format!("the app's plan does not include {other}")
                }
                _ => format!("the engine refused the signalling connection ({reason})"),
            };
            Ended::Fatal(UTDStreamError::from_engine(
                403,
                Some(engine_code),
                message,
                capability_name,
                None,
            ))
        }
        close_code::RATE_LIMITED => {
            let delay = reason
                .split_once(':')
                .and_then(|(_, ms)| ms.parse::<u64>().ok())
                .unwrap_or(1000);
            Ended::RateLimited(Duration::from_millis(delay))
        }
        _ => Ended::Lost(format!(
            "the engine closed the connection ({code} {reason})"
        )),
    }
}

async fn send(
    sink: &mut futures_util::stream::SplitSink<Socket, Message>,
    message: &ClientMessage,
) -> Result<(), String> {
    let text =
        serde_json::to_string(message).map_err(|e| format!("could not encode a message: {e}"))?;
    sink.send(Message::text(text))
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(code: u16, reason: &str) -> Ended {
        classify_close(Some(CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        }))
    }

    #[test]
    fn close_codes_decide_retry_or_give_up() {
        assert!(matches!(
            close(4401, "unauthenticated"),
            Ended::Unauthenticated
        ));
        match close(4403, "feature_disabled:signaling") {
            Ended::Fatal(e) => assert!(e.is_signaling_disabled() && e.is_forbidden()),
            other => panic!("{other:?}"),
        }
        match close(4403, "banned") {
            Ended::Fatal(e) => assert!(e.is_banned()),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(close(4429, "rate_limited:1500"), Ended::RateLimited(d) if d == Duration::from_millis(1500))
        );
        assert!(matches!(close(1001, "going away"), Ended::Lost(_)));
        assert!(matches!(classify_close(None), Ended::Lost(_)));
    }

    #[tokio::test]
    async fn room_messages_become_pushes_for_subscribed_rooms() {
        let api = crate::api::EngineApi::new(
            crate::api::credentials::AppCredentials::new("1234567890".into(), "pk_x".into()),
            "http://127.0.0.1:9",
            "http://127.0.0.1:9",
        )
        .expect("api");
        let signalling =
            super::super::Signalling::new(Arc::new(AuthState::new(api)), Backoff::default());
        let ctx = Context {
            auth: signalling.auth.clone(),
            shared: signalling.shared().clone(),
            backoff: Backoff::default(),
        };
        let mut pending = HashMap::new();
        let mut pushes = signalling.room_pushes();
        ctx.shared.add_room_subscriber("show");

        let requested = r#"{"type":"stage.requested","room_name":"show","identity":"v9","name":"V","created_at_ms":7}"#;
        assert!(handle_text(&ctx, requested, &mut pending).is_none());
        assert_eq!(
            pushes.try_recv().expect("pushed"),
            RoomPush::StageRequested(StageRequestedPush {
                room_name: "show".into(),
                identity: "v9".into(),
                name: Some("V".into()),
                created_at_ms: 7,
            })
        );
        let stage = r#"{"type":"stage.updated","stage":{"room_name":"show","members":[]}}"#;
        handle_text(&ctx, stage, &mut pending);
        assert!(matches!(pushes.try_recv(), Ok(RoomPush::Stage(s)) if s.room_name == "show"));

        // Another room's state is not for us.
        let seats = r#"{"type":"seats.updated","seats":{"room_name":"lobby","seat_count":0,"seat_mode":"free","seats":[]}}"#;
        handle_text(&ctx, seats, &mut pending);
        assert!(pushes.try_recv().is_err());
    }
}
