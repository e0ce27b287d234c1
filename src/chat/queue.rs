//! The send queue's worker: sends the store's messages one at a time, in
//! queue order, each with the same `client_message_id` on every attempt (the
//! engine answers a repeat with the original message, so a retry after a
//! lost reply never makes a copy).
//!
//! A failure that trying again can fix (network, timeout, server trouble,
//! rate limit, an expired session) holds back the rest of that
//! conversation, so order is kept, and the worker tries again after a
//! backoff or at the next (re)connect. A refusal (not a member, blocked,
//! invalid) marks that message failed for good and the next one goes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::store::StoredMessage;
use super::timeline_state::echo;
use super::types::{UTDChatAttachment, UTDSendState};
use super::{lock, ChatInner};
use crate::error::{UTDErrorCode, UTDStreamError};

const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// Shows the stored messages of a previous run as local echoes.
pub(super) fn restore_echoes(inner: &ChatInner) -> Result<(), UTDStreamError> {
    let pending = inner.store.pending(&inner.me)?;
    let mut echoes = lock(&inner.echoes);
    for m in pending {
        if m.discard {
            continue; // deleted by the app: never shown again
        }
        let state = match &m.failure {
            Some((reason, retryable)) => UTDSendState::Failed {
                reason: reason.clone(),
                retryable: *retryable,
            },
            None => UTDSendState::Queued,
        };
        echoes.push((m.conversation_id.clone(), echo_of(&inner.me, &m, state)));
    }
    Ok(())
}

pub(super) fn echo_of(
    me: &str,
    m: &StoredMessage,
    state: UTDSendState,
) -> super::timeline_state::LocalEcho {
    let attachments = m
        .attachments
        .iter()
        .map(|a| UTDChatAttachment {
            upload_id: a.upload_id.clone().filter(|_| a.ready),
            content_type: a.content_type.clone(),
            size: a.size,
            file_name: a.file_name.clone(),
            local_path: Some(a.path.to_string_lossy().into_owned()),
        })
        .collect();
    echo(
        me,
        &m.client_message_id,
        &m.text,
        m.created_at_ms,
        attachments,
        state,
    )
}

/// Whether trying the same request again can succeed.
pub(super) fn retryable(e: &UTDStreamError) -> bool {
    matches!(
        e.code(),
        UTDErrorCode::Network
            | UTDErrorCode::Timeout
            | UTDErrorCode::Server
            | UTDErrorCode::RateLimited
            | UTDErrorCode::Unauthenticated
            | UTDErrorCode::Internal
    )
}

pub(super) async fn run(inner: Arc<ChatInner>) {
    let mut delay = FIRST_RETRY;
    loop {
        if drain(&inner).await {
            delay = FIRST_RETRY;
            inner.queue_wake.notified().await;
        } else {
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = inner.queue_wake.notified() => {}
            }
            delay = (delay * 2).min(LAST_RETRY);
        }
    }
}

/// One pass over the queue; true when nothing is left to retry.
async fn drain(inner: &Arc<ChatInner>) -> bool {
    let pending = match inner.store.pending(&inner.me) {
        Ok(pending) => pending,
        Err(e) => {
            tracing::warn!(target: "utd_stream::chat", "the send queue cannot be read: {}", e.message());
            return false;
        }
    };
    let mut held_back: HashSet<String> = HashSet::new();
    for message in pending {
        if held_back.contains(&message.conversation_id) {
            continue;
        }
        if matches!(message.failure, Some((_, false))) {
            if message.discard {
                // Refused for good, so the engine has no copy to delete.
                if let Err(e) = inner.store.remove(&message.client_message_id) {
                    tracing::warn!(target: "utd_stream::chat", "a discarded message stays queued: {}", e.message());
                }
            }
            continue; // waits for retrySend
        }
        match send_one(inner, &message).await {
            Ok(()) => {}
            Err(e) => {
                if session_gone(inner) {
                    // Signed out or disposed while this pass ran (a task
                    // abort lands only at its next await): not the message's
                    // fault, so it stays queued as it was for the next run.
                    return false;
                }
                let again = retryable(&e);
                if e.code() == UTDErrorCode::Unauthenticated {
                    let _ = inner.auth.refresh().await;
                }
                let reason = e.message();
                let _ = inner
                    .store
                    .set_failure(&message.client_message_id, Some((&reason, again)));
                inner.update_echo(&message.client_message_id, |echo| {
                    echo.item.send_state = UTDSendState::Failed {
                        reason: reason.clone(),
                        retryable: again,
                    };
                });
                if again {
                    held_back.insert(message.conversation_id.clone());
                }
            }
        }
    }
    held_back.is_empty()
}

/// True when the signed-in user is no longer this chat's (signed out,
/// disposed, another user).
fn session_gone(inner: &ChatInner) -> bool {
    inner
        .auth
        .current()
        .is_none_or(|session| session.identity != inner.me)
}

async fn send_one(inner: &Arc<ChatInner>, message: &StoredMessage) -> Result<(), UTDStreamError> {
    let bearer = inner.bearer()?;
    let total: u64 = message.attachments.iter().map(|a| a.size).sum();
    let progress = |done: u64| {
        if total == 0 {
            1.0
        } else {
            done as f64 / total as f64
        }
    };
    let mut done: u64 = message
        .attachments
        .iter()
        .filter(|a| a.ready)
        .map(|a| a.size)
        .sum();
    inner.update_echo(&message.client_message_id, |echo| {
        echo.item.send_state = UTDSendState::Sending {
            progress: progress(done),
        };
    });
    let mut upload_ids = Vec::with_capacity(message.attachments.len());
    for attachment in &message.attachments {
        let mut attachment = attachment.clone();
        if !attachment.ready {
            super::upload::upload(inner, &bearer, &message.client_message_id, &mut attachment)
                .await?;
            done += attachment.size;
            inner.update_echo(&message.client_message_id, |echo| {
                echo.item.send_state = UTDSendState::Sending {
                    progress: progress(done),
                };
            });
        }
        match attachment.upload_id {
            Some(id) => upload_ids.push(id),
            None => return Err(UTDStreamError::internal("an uploaded attachment has no id")),
        }
    }
    inner.store.mark_attempted(&message.client_message_id)?;
    let sent = inner
        .auth
        .api
        .send_message(
            &bearer,
            &message.conversation_id,
            &message.client_message_id,
            &message.text,
            &upload_ids,
        )
        .await?;
    // The app may have edited or deleted the message while this request
    // (or an earlier one whose reply was lost) was on its way: the engine
    // then holds the text sent first, which is made what the app wants.
    // A failure here keeps the message queued: the next attempt gets the
    // same message back and compares again.
    let shown = match inner.store.current(&message.client_message_id)? {
        None | Some((_, true)) => {
            let tombstone = inner
                .auth
                .api
                .delete_message(&bearer, &message.conversation_id, &sent.message_id)
                .await?;
            if let Err(e) = inner.store.remove(&message.client_message_id) {
                tracing::warn!(target: "utd_stream::chat", "a deleted message stays queued: {}", e.message());
            }
            inner.merge_reply(&tombstone);
            inner.remove_echo(&message.client_message_id);
            return Ok(());
        }
        Some((text, false)) if text != sent.text && !sent.deleted => {
            inner
                .auth
                .api
                .edit_message(&bearer, &message.conversation_id, &sent.message_id, &text)
                .await?
        }
        Some(_) => sent,
    };
    // Merge first, then drop the echo: the row never disappears.
    inner.merge_reply(&shown);
    inner.store.remove(&message.client_message_id)?;
    inner.remove_echo(&message.client_message_id);
    Ok(())
}
