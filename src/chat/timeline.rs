//! One conversation's timeline: loading, pagination, catch-up and typing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::timeline_state::{LocalEcho, TimelineState};
use super::types::UTDTimelineSnapshot;
use super::{lock, ChatInner};
use crate::api::chat::{HistoryAnchor, MessageWire};
use crate::error::{UTDErrorCode, UTDStreamError};
use crate::observe::Observable;

/// Size of the first page a timeline reads.
const FIRST_PAGE: u32 = 50;
/// At most one `typing: true` per this long on the wire (the engine's rule).
const TYPING_THROTTLE: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct Typing {
    last_true: Option<Instant>,
    announced: bool,
}

/// A conversation's timeline state and its observable snapshot.
#[derive(Debug)]
pub struct TimelineCore {
    pub(super) conversation_id: String,
    state: Mutex<TimelineState>,
    pub(super) out: Observable<UTDTimelineSnapshot>,
    loaded: AtomicBool,
    /// Serialises loads and catch-ups of this timeline.
    sync: tokio::sync::Mutex<()>,
    catch_up_running: AtomicBool,
    catch_up_again: AtomicBool,
    typing: Mutex<Typing>,
}

impl TimelineCore {
    pub(super) fn new(conversation_id: &str, me: &str) -> Self {
        Self {
            conversation_id: conversation_id.to_owned(),
            state: Mutex::new(TimelineState::new(me)),
            out: Observable::new(UTDTimelineSnapshot {
                items: Vec::new(),
                hit_start: false,
                receipts: Vec::new(),
            }),
            loaded: AtomicBool::new(false),
            sync: tokio::sync::Mutex::new(()),
            catch_up_running: AtomicBool::new(false),
            catch_up_again: AtomicBool::new(false),
            typing: Mutex::new(Typing::default()),
        }
    }

    pub(super) fn publish(&self, echoes: &[LocalEcho]) {
        let snapshot = lock(&self.state).snapshot(echoes);
        self.out.set(snapshot);
    }

    pub(super) fn with_state<R>(&self, f: impl FnOnce(&mut TimelineState) -> R) -> R {
        f(&mut lock(&self.state))
    }

    pub(super) fn is_loaded(&self) -> bool {
        self.loaded.load(Ordering::Acquire)
    }
}

impl ChatInner {
    /// The timeline of a conversation (one per conversation), loading its
    /// latest page the first time. A network failure leaves it to load on
    /// the next (re)connect; other refusals (not a member, chat off) fail.
    pub(super) async fn timeline(
        self: &Arc<Self>,
        conversation_id: &str,
    ) -> Result<Arc<TimelineCore>, UTDStreamError> {
        crate::api::chat::validate_id(conversation_id, "conversation id")?;
        let timeline = {
            let mut timelines = lock(&self.timelines);
            timelines
                .entry(conversation_id.to_owned())
                .or_insert_with(|| Arc::new(TimelineCore::new(conversation_id, &self.me)))
                .clone()
        };
        self.publish_timeline(conversation_id);
        if !timeline.is_loaded() {
            match self.load_timeline(&timeline).await {
                Ok(()) => {}
                Err(e) if e.is_network() => {}
                Err(e) => {
                    lock(&self.timelines).remove(conversation_id);
                    return Err(e);
                }
            }
        }
        Ok(timeline)
    }

    /// Reads the latest page (first load, or after a `reset`), then what
    /// changed while it was read.
    async fn load_timeline(&self, timeline: &TimelineCore) -> Result<(), UTDStreamError> {
        let _serial = timeline.sync.lock().await;
        self.load_latest(timeline).await?;
        self.catch_up_locked(timeline).await
    }

    async fn load_latest(&self, timeline: &TimelineCore) -> Result<(), UTDStreamError> {
        let bearer = self.bearer()?;
        let id = &timeline.conversation_id;
        // The counter before the page: changes after it are read next.
        let conversation = self.auth.api.conversation(&bearer, id).await?;
        let page = self
            .auth
            .api
            .history(&bearer, id, HistoryAnchor::Latest, FIRST_PAGE)
            .await?;
        let members = self.auth.api.members(&bearer, id).await.unwrap_or_default();
        timeline.with_state(|s| {
            s.reset_to_latest(page.messages, page.has_more_before, conversation.mod_seq);
            for m in &members {
                s.set_receipt(&m.identity, m.last_read_seq, m.last_delivered_seq);
            }
        });
        lock(&self.list).upsert(conversation);
        self.publish_list();
        timeline.loaded.store(true, Ordering::Release);
        self.publish_timeline(id);
        Ok(())
    }

    /// Applies `changes?since=` until nothing more changed. Callers hold
    /// the timeline's `sync` lock.
    async fn catch_up_locked(&self, timeline: &TimelineCore) -> Result<(), UTDStreamError> {
        let bearer = self.bearer()?;
        loop {
            let since = timeline.with_state(|s| s.applied_mod_seq());
            let page = self
                .auth
                .api
                .changes(&bearer, &timeline.conversation_id, since)
                .await?;
            if page.reset {
                return self.load_latest(timeline).await;
            }
            let more = page.has_more && !page.messages.is_empty();
            timeline.with_state(|s| s.merge_changes(page.messages, page.mod_seq));
            self.publish_timeline(&timeline.conversation_id);
            if !more {
                return Ok(());
            }
        }
    }

    /// Brings a timeline up to date (after a reconnect, a lag or a gap in
    /// the pushes). Calls made while one runs are folded into one more run.
    pub(super) fn request_catch_up(self: &Arc<Self>, timeline: Arc<TimelineCore>) {
        timeline.catch_up_again.store(true, Ordering::Release);
        if timeline.catch_up_running.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = self.clone();
        crate::runtime::handle().spawn(async move {
            while timeline.catch_up_again.swap(false, Ordering::AcqRel) {
                let result = if timeline.is_loaded() {
                    let _serial = timeline.sync.lock().await;
                    inner.catch_up_locked(&timeline).await
                } else {
                    inner.load_timeline(&timeline).await
                };
                if let Err(e) = result {
                    tracing::info!(target: "utd_stream::chat", "catch-up of a timeline failed: {}", e.message());
                }
            }
            timeline.catch_up_running.store(false, Ordering::Release);
            // A request that raced the end of the loop runs now.
            if timeline.catch_up_again.load(Ordering::Acquire) {
                inner.request_catch_up(timeline);
            }
        });
    }

    /// Reads up to `count` older messages; returns whether the start of
    /// the conversation is reached.
    pub(super) async fn paginate_backwards(
        &self,
        timeline: &TimelineCore,
        count: u32,
    ) -> Result<bool, UTDStreamError> {
        let _serial = timeline.sync.lock().await;
        if !timeline.is_loaded() {
            self.load_latest(timeline).await?;
        }
        let (oldest, hit_start) = timeline.with_state(|s| (s.oldest_seq(), s.hit_start()));
        if hit_start {
            return Ok(true);
        }
        let anchor = match oldest {
            Some(seq) => HistoryAnchor::Before(seq),
            None => HistoryAnchor::Latest,
        };
        let page = self
            .auth
            .api
            .history(&self.bearer()?, &timeline.conversation_id, anchor, count)
            .await?;
        let hit = timeline.with_state(|s| {
            s.merge_older_page(page.messages, page.has_more_before);
            s.hit_start()
        });
        self.publish_timeline(&timeline.conversation_id);
        Ok(hit)
    }

    /// Merges a message the engine returned to this device (send, edit,
    /// delete) into its timeline and the list.
    pub(super) fn merge_reply(&self, message: &MessageWire) {
        if let Some(timeline) = self.open_timeline(&message.conversation_id) {
            timeline.with_state(|s| s.merge(message.clone()));
        }
        {
            let mut list = lock(&self.list);
            list.on_message(message, None, None);
            list.on_updated(message);
        }
        self.publish_list();
        self.publish_timeline(&message.conversation_id);
    }

    /// Marks everything loaded as read; returns the new unread count.
    pub(super) async fn mark_read(&self, timeline: &TimelineCore) -> Result<u64, UTDStreamError> {
        let id = &timeline.conversation_id;
        let seq = timeline
            .with_state(|s| s.newest_seq())
            .or_else(|| lock(&self.list).get(id).map(|c| c.last_seq))
            .unwrap_or(0);
        if seq == 0 {
            return Ok(0);
        }
        let reply = self.auth.api.mark_read(&self.bearer()?, id, seq).await?;
        {
            let mut list = lock(&self.list);
            list.on_unread(id, reply.unread_count, reply.total_unread);
            list.on_own_positions(id, reply.last_read_seq, reply.last_delivered_seq);
        }
        self.publish_list();
        Ok(reply.unread_count)
    }

    /// Tells the members whether this user types, throttled: at most one
    /// `true` per second reaches the engine; a stop after an announced
    /// start is always sent. Not connected: nothing to tell (Ok).
    pub(super) async fn set_typing(
        &self,
        timeline: &TimelineCore,
        typing: bool,
    ) -> Result<(), UTDStreamError> {
        let send = {
            let mut state = lock(&timeline.typing);
            let now = Instant::now();
            if typing {
                let due = state
                    .last_true
                    .is_none_or(|t| now.duration_since(t) >= TYPING_THROTTLE);
                if due {
                    state.last_true = Some(now);
                    state.announced = true;
                }
                due
            } else {
                std::mem::take(&mut state.announced)
            }
        };
        if !send {
            return Ok(());
        }
        match self
            .signalling
            .send_typing(&timeline.conversation_id, typing)
            .await
        {
            Err(e) if e.code() == UTDErrorCode::Network => Ok(()),
            other => other,
        }
    }
}
