//! Keeping chat current: pushes applied as they come, and a catch-up after
//! every (re)connect and whenever pushes were lost (a lagging receiver):
//! the list is read again and every open timeline whose counter moved asks
//! `changes?since=` for the rest. Merging is idempotent, so a message seen
//! by both paths is shown once.

use std::sync::Arc;

use tokio::sync::broadcast::error::RecvError;

use super::{lock, ChatInner};
use crate::error::UTDStreamError;
use crate::signalling::ChatPush;
use crate::types::UTDConnectionState;

/// Most list pages read in one refresh (100 conversations each).
const MAX_LIST_PAGES: usize = 100;

pub(super) async fn run(inner: Arc<ChatInner>) {
    let mut pushes = inner.signalling.chat_pushes();
    let mut states = inner.signalling.shared().state.watch();
    let mut was_connected = false;
    // The first read: the list, and the queue's turn.
    catch_up_all(&inner).await;
    loop {
        tokio::select! {
            push = pushes.recv() => match push {
                Ok(push) => apply(&inner, push),
                Err(RecvError::Lagged(missed)) => {
                    tracing::info!(target: "utd_stream::chat", "{missed} chat pushes missed: catching up");
                    catch_up_all(&inner).await;
                }
                Err(RecvError::Closed) => return,
            },
            changed = states.changed() => {
                if changed.is_err() {
                    return;
                }
                let connected = *states.borrow_and_update() == UTDConnectionState::Connected;
                if connected && !was_connected {
                    catch_up_all(&inner).await;
                }
                if !connected {
                    // Nobody is known to type while this device hears nothing.
                    for typers in lock(&inner.typers).values() {
                        typers.set(Vec::new());
                    }
                }
                was_connected = connected;
            }
        }
    }
}

/// Reads the whole list, then catches up every open timeline behind it.
async fn catch_up_all(inner: &Arc<ChatInner>) {
    if let Err(e) = refresh_list(inner).await {
        tracing::info!(target: "utd_stream::chat", "conversation list not read: {}", e.message());
    }
    let timelines: Vec<_> = lock(&inner.timelines).values().cloned().collect();
    for timeline in timelines {
        let listed = lock(&inner.list)
            .get(&timeline.conversation_id)
            .map(|c| c.mod_seq);
        let applied = timeline.with_state(|s| s.applied_mod_seq());
        if !timeline.is_loaded() || listed.is_none_or(|m| m > applied) {
            inner.request_catch_up(timeline);
        }
    }
    inner.queue_wake.notify_one();
}

/// `GET /chat/conversations`, every page.
pub(super) async fn refresh_list(inner: &Arc<ChatInner>) -> Result<(), UTDStreamError> {
    let bearer = inner.bearer()?;
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    let mut total = 0;
    for _ in 0..MAX_LIST_PAGES {
        let page = inner
            .auth
            .api
            .list_conversations(&bearer, cursor.as_deref())
            .await?;
        total = page.total_unread;
        all.extend(page.conversations);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // What the list brought to this device is delivered to it.
    let behind: Vec<(String, u64)> = all
        .iter()
        .filter(|c| c.last_seq > c.last_delivered_seq)
        .map(|c| (c.conversation_id.clone(), c.last_seq))
        .collect();
    lock(&inner.list).replace(all, total);
    inner.publish_list();
    for (conversation_id, seq) in behind {
        report_delivered(inner, &conversation_id, seq);
    }
    Ok(())
}

/// Tells the engine this device has the messages of a conversation up to
/// `seq` (the members' `lastDeliveredSeq`). Reports are coalesced: one
/// request at a time per conversation, carrying the highest `seq` asked
/// for meanwhile; positions only move forward on the engine, so a late or
/// repeated report changes nothing. A failure is left to the next list
/// read (every (re)connect) to report again.
pub(super) fn report_delivered(inner: &Arc<ChatInner>, conversation_id: &str, seq: u64) {
    {
        let mut delivered = lock(&inner.delivered);
        let entry = delivered
            .entry(conversation_id.to_owned())
            .or_insert((0, false));
        if seq <= entry.0 {
            return;
        }
        entry.0 = seq;
        if entry.1 {
            return; // the running report picks the new seq up
        }
        entry.1 = true;
    }
    let inner = inner.clone();
    let conversation_id = conversation_id.to_owned();
    crate::runtime::handle().spawn(async move {
        let mut reported = 0;
        loop {
            let target = {
                let mut delivered = lock(&inner.delivered);
                let Some(entry) = delivered.get_mut(&conversation_id) else {
                    return;
                };
                if entry.0 <= reported {
                    entry.1 = false;
                    return;
                }
                entry.0
            };
            let result = match inner.bearer() {
                Ok(bearer) => {
                    inner
                        .auth
                        .api
                        .mark_delivered(&bearer, &conversation_id, target)
                        .await
                }
                Err(e) => Err(e),
            };
            match result {
                Ok(reply) => {
                    lock(&inner.list).on_own_positions(
                        &conversation_id,
                        reply.last_read_seq,
                        reply.last_delivered_seq,
                    );
                    inner.publish_list();
                    reported = target;
                }
                Err(e) => {
                    tracing::info!(target: "utd_stream::chat", "delivery not reported: {}", e.message());
                    let mut delivered = lock(&inner.delivered);
                    // Forgotten, so the next list read reports it again.
                    delivered.remove(&conversation_id);
                    return;
                }
            }
        }
    });
}

fn apply(inner: &Arc<ChatInner>, push: ChatPush) {
    match push {
        ChatPush::Message {
            message,
            unread_count,
            total_unread,
        } => {
            let listed = lock(&inner.list).on_message(&message, unread_count, total_unread);
            if !listed {
                fetch_conversation(inner, message.conversation_id.clone());
            }
            inner.publish_list();
            if message.sender_identity != inner.me {
                report_delivered(inner, &message.conversation_id, message.seq);
            }
            merge_pushed(inner, message);
        }
        ChatPush::MessageUpdated(message) => {
            lock(&inner.list).on_updated(&message);
            inner.publish_list();
            merge_pushed(inner, message);
        }
        ChatPush::Receipt {
            conversation_id,
            identity,
            last_read_seq,
            last_delivered_seq,
        } => {
            if identity == inner.me {
                lock(&inner.list).on_own_positions(
                    &conversation_id,
                    last_read_seq,
                    last_delivered_seq,
                );
                inner.publish_list();
            }
            if let Some(timeline) = inner.open_timeline(&conversation_id) {
                let changed = timeline
                    .with_state(|s| s.set_receipt(&identity, last_read_seq, last_delivered_seq));
                if changed {
                    inner.publish_timeline(&conversation_id);
                }
            }
        }
        ChatPush::Unread {
            conversation_id,
            unread_count,
            total_unread,
        } => {
            lock(&inner.list).on_unread(&conversation_id, unread_count, total_unread);
            inner.publish_list();
        }
        ChatPush::Conversation(conversation) => {
            lock(&inner.list).upsert(conversation);
            inner.publish_list();
        }
        ChatPush::Removed { conversation_id } => {
            lock(&inner.list).remove(&conversation_id);
            inner.publish_list();
            inner.typers_of(&conversation_id).set(Vec::new());
        }
        ChatPush::Typing {
            conversation_id,
            mut typers,
        } => {
            typers.retain(|t| *t != inner.me);
            typers.sort();
            inner.typers_of(&conversation_id).set(typers);
        }
    }
}

/// Merges a pushed message into its open timeline; a gap in the pushes'
/// counters (some were missed) starts a catch-up.
fn merge_pushed(inner: &Arc<ChatInner>, message: crate::api::chat::MessageWire) {
    let Some(timeline) = inner.open_timeline(&message.conversation_id) else {
        return;
    };
    let conversation_id = message.conversation_id.clone();
    let gap = timeline.with_state(|s| {
        let gap = message.mod_seq > s.applied_mod_seq() + 1;
        s.merge_push(message);
        gap
    });
    inner.publish_timeline(&conversation_id);
    if gap && timeline.is_loaded() {
        inner.request_catch_up(timeline);
    }
}

fn fetch_conversation(inner: &Arc<ChatInner>, conversation_id: String) {
    let inner = inner.clone();
    crate::runtime::handle().spawn(async move {
        let Ok(bearer) = inner.bearer() else { return };
        match inner.auth.api.conversation(&bearer, &conversation_id).await {
            Ok(conversation) => {
                lock(&inner.list).upsert(conversation);
                inner.publish_list();
            }
            Err(e) => {
                tracing::info!(target: "utd_stream::chat", "a new conversation was not read: {}", e.message());
            }
        }
    });
}
