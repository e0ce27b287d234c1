//! The exported chat objects: `UTDChat` (the list, conversations, members)
//! and `UTDTimeline` (one conversation). Thin: the logic is in the
//! sibling modules.

use std::path::PathBuf;
use std::sync::Arc;

use super::timeline::TimelineCore;
use super::types::{
    UTDChatMember, UTDChatRole, UTDConversation, UTDConversationList, UTDOutgoingAttachment,
    UTDSendState, UTDTimelineItem, UTDTimelineSnapshot,
};
use super::{lock, ChatCore, ChatInner};
use crate::api::chat::{MAX_ATTACHMENTS, MAX_TEXT_CHARS};
use crate::error::{UTDResult, UTDStreamError};
use crate::runtime;
use crate::subscription::UTDSubscription;

/// Receives the conversation list.
#[uniffi::export(with_foreign)]
pub trait UTDConversationListListener: Send + Sync {
    /// The current list, then each change.
    fn on_conversations(&self, list: UTDConversationList);
}

/// Receives a timeline's snapshots.
#[uniffi::export(with_foreign)]
pub trait UTDTimelineListener: Send + Sync {
    /// The current snapshot, then each change (rows keep their `key`).
    fn on_timeline(&self, snapshot: UTDTimelineSnapshot);
}

/// Receives who types in a conversation.
#[uniffi::export(with_foreign)]
pub trait UTDTypersListener: Send + Sync {
    /// The other members typing now (sorted), then each change.
    fn on_typers(&self, typers: Vec<String>);
}

/// Chat of the signed-in user: `client.chat(storeDirectory)`.
#[derive(Debug, uniffi::Object)]
pub struct UTDChat {
    core: ChatCore,
}

impl UTDChat {
    /// Wraps a started chat core.
    pub fn new(core: ChatCore) -> Self {
        Self { core }
    }

    /// The core (Rust callers).
    pub fn core(&self) -> &ChatCore {
        &self.core
    }

    fn inner(&self) -> Arc<ChatInner> {
        self.core.inner().clone()
    }
}

fn conversation(inner: &ChatInner, wire: crate::api::chat::ConversationWire) -> UTDConversation {
    let out = UTDConversation::from_wire(&wire, &inner.me);
    lock(&inner.list).upsert(wire);
    inner.publish_list();
    out
}

#[uniffi::export]
impl UTDChat {
    /// The signed-in identity this chat belongs to.
    pub fn identity(&self) -> String {
        self.core.identity().to_owned()
    }

    /// The conversation list now (newest activity first) and the badge total.
    pub fn conversations(&self) -> UTDConversationList {
        self.core.inner().list_out.get()
    }

    /// Observes the conversation list (current value first).
    pub fn observe_conversations(
        &self,
        listener: Arc<dyn UTDConversationListListener>,
    ) -> Arc<UTDSubscription> {
        Arc::new(
            self.core
                .inner()
                .list_out
                .subscribe(move |list| listener.on_conversations(list)),
        )
    }

    /// Reads the list from the engine again (it is also read after every
    /// (re)connect by itself).
    pub async fn refresh(self: Arc<Self>) -> UTDResult<()> {
        let inner = self.inner();
        Ok(runtime::run(async move { super::sync::refresh_list(&inner).await }).await?)
    }

    /// The one direct conversation with `identity` (created on first use).
    pub async fn direct_conversation(
        self: Arc<Self>,
        identity: String,
    ) -> UTDResult<UTDConversation> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            let wire = inner
                .auth
                .api
                .open_direct(&inner.bearer()?, &identity)
                .await?;
            Ok(conversation(&inner, wire))
        })
        .await?)
    }

    /// A new group owned by this user, with `members` (others) in it.
    pub async fn create_group(
        self: Arc<Self>,
        title: String,
        members: Vec<String>,
    ) -> UTDResult<UTDConversation> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            let wire = inner
                .auth
                .api
                .create_group(&inner.bearer()?, &title, &members)
                .await?;
            Ok(conversation(&inner, wire))
        })
        .await?)
    }

    /// Renames a group (owner or admin).
    pub async fn rename(
        self: Arc<Self>,
        conversation_id: String,
        title: String,
    ) -> UTDResult<UTDConversation> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            let wire = inner
                .auth
                .api
                .rename_conversation(&inner.bearer()?, &conversation_id, &title)
                .await?;
            Ok(conversation(&inner, wire))
        })
        .await?)
    }

    /// The members of a conversation.
    pub async fn members(
        self: Arc<Self>,
        conversation_id: String,
    ) -> UTDResult<Vec<UTDChatMember>> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            let members = inner
                .auth
                .api
                .members(&inner.bearer()?, &conversation_id)
                .await?;
            Ok(members.into_iter().map(UTDChatMember::from).collect())
        })
        .await?)
    }

    /// Adds members to a group (owner or admin); returns every member.
    pub async fn add_members(
        self: Arc<Self>,
        conversation_id: String,
        identities: Vec<String>,
    ) -> UTDResult<Vec<UTDChatMember>> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            let members = inner
                .auth
                .api
                .add_members(&inner.bearer()?, &conversation_id, &identities)
                .await?;
            Ok(members.into_iter().map(UTDChatMember::from).collect())
        })
        .await?)
    }

    /// Removes a member from a group (owner or admin).
    pub async fn remove_member(
        self: Arc<Self>,
        conversation_id: String,
        identity: String,
    ) -> UTDResult<()> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            inner
                .auth
                .api
                .remove_member(&inner.bearer()?, &conversation_id, &identity)
                .await
        })
        .await?)
    }

    /// Leaves a group; it leaves the list too.
    pub async fn leave(self: Arc<Self>, conversation_id: String) -> UTDResult<()> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            let me = inner.me.clone();
            inner
                .auth
                .api
                .remove_member(&inner.bearer()?, &conversation_id, &me)
                .await?;
            lock(&inner.list).remove(&conversation_id);
            inner.publish_list();
            Ok(())
        })
        .await?)
    }

    /// Sets a member's role (owner only; `admin` or `member`).
    pub async fn set_role(
        self: Arc<Self>,
        conversation_id: String,
        identity: String,
        role: UTDChatRole,
    ) -> UTDResult<UTDChatMember> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            let member = inner
                .auth
                .api
                .set_role(&inner.bearer()?, &conversation_id, &identity, role.wire())
                .await?;
            Ok(UTDChatMember::from(member))
        })
        .await?)
    }

    /// The timeline of a conversation, its latest page loaded (offline:
    /// this device's unsent messages, and the page once connected).
    pub async fn timeline(self: Arc<Self>, conversation_id: String) -> UTDResult<Arc<UTDTimeline>> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            let core = inner.timeline(&conversation_id).await?;
            Ok(Arc::new(UTDTimeline { inner, core }))
        })
        .await?)
    }

    /// A download URL of an attachment (`UTDChatAttachment.uploadId`),
    /// valid for a few minutes (the engine's presign: 5). Readable by the
    /// uploader and by the members of a conversation holding a message that
    /// attaches it; anything else is `notFound`, and so is an attachment
    /// not uploaded completely yet.
    pub async fn attachment_url(self: Arc<Self>, upload_id: String) -> UTDResult<String> {
        let inner = self.inner();
        Ok(runtime::run(async move {
            let upload = inner.auth.api.upload(&inner.bearer()?, &upload_id).await?;
            upload.get.map(|get| get.url).ok_or_else(|| {
                UTDStreamError::new(
                    crate::error::UTDErrorCode::NotFound,
                    "the attachment is not uploaded completely yet",
                )
            })
        })
        .await?)
    }

    /// Unread messages over every conversation (the engine's count).
    pub fn total_unread(&self) -> u64 {
        self.core.inner().list_out.get().total_unread
    }
}

/// One conversation's messages, this device's unsent ones included.
#[derive(Debug, uniffi::Object)]
pub struct UTDTimeline {
    inner: Arc<ChatInner>,
    core: Arc<TimelineCore>,
}

#[uniffi::export]
impl UTDTimeline {
    /// The conversation.
    pub fn conversation_id(&self) -> String {
        self.core.conversation_id.clone()
    }

    /// What the timeline shows now.
    pub fn snapshot(&self) -> UTDTimelineSnapshot {
        self.core.out.get()
    }

    /// Observes the timeline: the current snapshot first, then one per
    /// change. Rows are keyed (`key`): a UI diffing by key updates the
    /// local echo in place when the engine's message replaces it.
    pub fn observe(&self, listener: Arc<dyn UTDTimelineListener>) -> Arc<UTDSubscription> {
        Arc::new(self.core.out.subscribe(move |s| listener.on_timeline(s)))
    }

    /// Loads up to `count` older messages; true once the start is reached.
    pub async fn paginate_backwards(self: Arc<Self>, count: u32) -> UTDResult<bool> {
        let (inner, core) = (self.inner.clone(), self.core.clone());
        Ok(runtime::run(async move { inner.paginate_backwards(&core, count).await }).await?)
    }

    /// Queues a message and returns its local echo at once; the message is
    /// on disk before this returns and is sent in order, surviving restarts.
    #[uniffi::method(default(attachments = []))]
    pub async fn send(
        self: Arc<Self>,
        text: String,
        attachments: Vec<UTDOutgoingAttachment>,
    ) -> UTDResult<UTDTimelineItem> {
        let (inner, core) = (self.inner.clone(), self.core.clone());
        Ok(runtime::run(async move {
            let item = tokio::task::spawn_blocking({
                let inner = inner.clone();
                let conversation_id = core.conversation_id.clone();
                move || enqueue(&inner, &conversation_id, &text, &attachments)
            })
            .await
            .map_err(|e| UTDStreamError::internal(format!("send failed: {e}")))??;
            let _ = inner.set_typing(&core, false).await;
            Ok(item)
        })
        .await?)
    }

    /// Edits one of this user's messages (by row `key`). An unsent one is
    /// changed in the queue.
    pub async fn edit(self: Arc<Self>, key: String, text: String) -> UTDResult<()> {
        let (inner, core) = (self.inner.clone(), self.core.clone());
        Ok(runtime::run(async move {
            // Empty text is allowed on a message with attachments, as the
            // engine allows it.
            let sent = core.with_state(|s| {
                s.by_key(&key)
                    .map(|m| (m.message_id.clone(), !m.attachments.is_empty()))
            });
            match sent {
                Some((message_id, has_attachments)) => {
                    check_text(&text, has_attachments)?;
                    let edited = inner
                        .auth
                        .api
                        .edit_message(&inner.bearer()?, &core.conversation_id, &message_id, &text)
                        .await?;
                    inner.merge_reply(&edited);
                    Ok(())
                }
                None => {
                    let (cmid, has_attachments) = unsent(&inner, &key)?;
                    check_text(&text, has_attachments)?;
                    if !inner.store.set_text(&cmid, &text)? {
                        // Sent between the look-up and the write: its text
                        // on the engine is the old one.
                        return Err(UTDStreamError::invalid_state(
                            "the message was sent meanwhile; edit it again",
                        ));
                    }
                    inner.update_echo(&cmid, |e| e.item.text = text.clone());
                    Ok(())
                }
            }
        })
        .await?)
    }

    /// Deletes a message (by row `key`): a tombstone stays in its place. An
    /// unsent one is taken out of the queue; if a send of it may have
    /// reached the engine (its reply was lost), the queue deletes the
    /// engine's copy, whose tombstone then shows.
    pub async fn delete(self: Arc<Self>, key: String) -> UTDResult<()> {
        let (inner, core) = (self.inner.clone(), self.core.clone());
        Ok(runtime::run(async move {
            let message_id = core.with_state(|s| s.by_key(&key).map(|m| m.message_id.clone()));
            match message_id {
                Some(message_id) => {
                    let tombstone = inner
                        .auth
                        .api
                        .delete_message(&inner.bearer()?, &core.conversation_id, &message_id)
                        .await?;
                    inner.merge_reply(&tombstone);
                    Ok(())
                }
                None => {
                    let cmid = unsent_cmid(&inner, &key)?;
                    if inner.store.attempted(&cmid)? {
                        // A request left already: the engine may hold it
                        // (a lost reply). The queue sends it again, which
                        // returns the engine's copy, and deletes that.
                        inner.store.discard(&cmid)?;
                        inner.queue_wake.notify_one();
                    } else {
                        // Never sent: gone for good. Should the queue be
                        // sending it right now, it deletes what it sent.
                        inner.store.remove(&cmid)?;
                    }
                    inner.remove_echo(&cmid);
                    Ok(())
                }
            }
        })
        .await?)
    }

    /// Sends a failed message again (same idempotency key). A key that is
    /// not one of this device's unsent messages (never sent from here, or
    /// on the engine already) is `invalidArgument`.
    pub fn retry_send(&self, key: String) -> UTDResult<()> {
        // The echo outlives the engine's reply for a moment (the row is
        // merged first so it never disappears): that message is sent.
        if self.core.with_state(|s| s.by_key(&key).is_some()) {
            return Err(Arc::new(UTDStreamError::invalid_argument(format!(
                "the message {key:?} is sent already"
            ))));
        }
        let cmid = unsent_cmid(&self.inner, &key)?;
        self.inner.store.set_failure(&cmid, None)?;
        self.inner
            .update_echo(&cmid, |e| e.item.send_state = UTDSendState::Queued);
        self.inner.queue_wake.notify_one();
        Ok(())
    }

    /// Marks every loaded message read; returns the conversation's unread
    /// count after it (the engine's).
    pub async fn mark_read(self: Arc<Self>) -> UTDResult<u64> {
        let (inner, core) = (self.inner.clone(), self.core.clone());
        Ok(runtime::run(async move { inner.mark_read(&core).await }).await?)
    }

    /// Says whether this user types. Call it on every keystroke: at most one
    /// start per second reaches the engine; a stop is always sent (sending
    /// a message stops too). The engine forgets a start after 5 s.
    pub async fn set_typing(self: Arc<Self>, typing: bool) -> UTDResult<()> {
        let (inner, core) = (self.inner.clone(), self.core.clone());
        Ok(runtime::run(async move { inner.set_typing(&core, typing).await }).await?)
    }

    /// The other members typing now.
    pub fn typers(&self) -> Vec<String> {
        self.inner.typers_of(&self.core.conversation_id).get()
    }

    /// Observes who types (current value first).
    pub fn observe_typers(&self, listener: Arc<dyn UTDTypersListener>) -> Arc<UTDSubscription> {
        Arc::new(
            self.inner
                .typers_of(&self.core.conversation_id)
                .subscribe(move |t| listener.on_typers(t)),
        )
    }

    /// Unread messages in this conversation (the engine's count).
    pub fn unread_count(&self) -> u64 {
        lock(&self.inner.list)
            .get(&self.core.conversation_id)
            .map_or(0, |c| c.unread_count)
    }
}

fn check_text(text: &str, has_attachments: bool) -> Result<(), UTDStreamError> {
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS || (chars == 0 && !has_attachments) {
        return Err(UTDStreamError::invalid_argument(format!(
            "a message is 1..={MAX_TEXT_CHARS} characters (empty only with attachments)"
        )));
    }
    Ok(())
}

fn unsent_cmid(inner: &ChatInner, key: &str) -> Result<String, UTDStreamError> {
    unsent(inner, key).map(|(cmid, _)| cmid)
}

/// The client message id of this device's unsent message `key`, and
/// whether it has attachments.
fn unsent(inner: &ChatInner, key: &str) -> Result<(String, bool), UTDStreamError> {
    lock(&inner.echoes)
        .iter()
        .find(|(_, e)| e.item.key == key)
        .map(|(_, e)| {
            (
                e.item.client_message_id.clone(),
                !e.item.attachments.is_empty(),
            )
        })
        .ok_or_else(|| UTDStreamError::invalid_argument(format!("no message with key {key:?}")))
}

/// A fresh idempotency key: random, 24 base-62 characters.
fn new_client_message_id() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..24)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

fn enqueue(
    inner: &ChatInner,
    conversation_id: &str,
    text: &str,
    attachments: &[UTDOutgoingAttachment],
) -> Result<UTDTimelineItem, UTDStreamError> {
    check_text(text, !attachments.is_empty())?;
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(UTDStreamError::invalid_argument(format!(
            "at most {MAX_ATTACHMENTS} attachments per message"
        )));
    }
    let files: Vec<(PathBuf, String, Option<String>)> = attachments
        .iter()
        .map(|a| {
            (
                PathBuf::from(&a.path),
                a.content_type.clone(),
                a.file_name.clone(),
            )
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let stored = inner.store.enqueue(
        &inner.me,
        conversation_id,
        &new_client_message_id(),
        text,
        now,
        &files,
    )?;
    let echo = super::queue::echo_of(&inner.me, &stored, UTDSendState::Queued);
    let item = echo.item.clone();
    lock(&inner.echoes).push((conversation_id.to_owned(), echo));
    inner.publish_timeline(conversation_id);
    inner.queue_wake.notify_one();
    Ok(item)
}
