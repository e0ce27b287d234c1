//! Chat: conversations, timelines and the durable send queue
//! (docs/chat-sdk.md).
//!
//! `ChatInner` holds the state every part shares: the conversation list,
//! the open timelines, this device's unsent messages and typers. Two
//! background tasks drive it: `sync` (pushes in, catch-up after every
//! (re)connect or lag) and `queue` (sends the store's messages in order).
//! `exported` is the thin UTDChat / UTDTimeline layer over it.

pub mod conversation_list;
pub mod exported;
mod queue;
pub mod store;
mod sync;
mod timeline;
pub mod timeline_state;
pub mod types;
mod upload;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::api::credentials::BearerToken;
use crate::auth::{not_authenticated, AuthState};
use crate::error::UTDStreamError;
use crate::observe::Observable;
use crate::runtime;
use crate::signalling::Signalling;
use conversation_list::ConversationListState;
use store::OutboxStore;
use timeline::TimelineCore;
use timeline_state::LocalEcho;
use types::UTDConversationList;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What chat's parts share.
#[derive(Debug)]
pub struct ChatInner {
    auth: Arc<AuthState>,
    signalling: Arc<Signalling>,
    me: String,
    store: OutboxStore,
    list: Mutex<ConversationListState>,
    list_out: Observable<UTDConversationList>,
    timelines: Mutex<HashMap<String, Arc<TimelineCore>>>,
    /// This device's unsent messages, by conversation, in queue order.
    echoes: Mutex<Vec<(String, LocalEcho)>>,
    typers: Mutex<HashMap<String, Arc<Observable<Vec<String>>>>>,
    /// Per conversation: the highest `seq` this device has to report as
    /// delivered, and whether a report is on its way.
    delivered: Mutex<HashMap<String, (u64, bool)>>,
    queue_wake: Notify,
}

impl ChatInner {
    fn bearer(&self) -> Result<BearerToken, UTDStreamError> {
        self.auth
            .current()
            .map(|s| s.bearer)
            .ok_or_else(not_authenticated)
    }

    fn publish_list(&self) {
        let snapshot = lock(&self.list).snapshot(&self.me);
        self.list_out.set(snapshot);
    }

    fn open_timeline(&self, conversation_id: &str) -> Option<Arc<TimelineCore>> {
        lock(&self.timelines).get(conversation_id).cloned()
    }

    fn echoes_of(&self, conversation_id: &str) -> Vec<LocalEcho> {
        lock(&self.echoes)
            .iter()
            .filter(|(c, _)| c == conversation_id)
            .map(|(_, e)| e.clone())
            .collect()
    }

    /// Rebuilds a timeline's snapshot (after its state or its echoes moved).
    fn publish_timeline(&self, conversation_id: &str) {
        if let Some(timeline) = self.open_timeline(conversation_id) {
            timeline.publish(&self.echoes_of(conversation_id));
        }
    }

    fn typers_of(&self, conversation_id: &str) -> Arc<Observable<Vec<String>>> {
        lock(&self.typers)
            .entry(conversation_id.to_owned())
            .or_insert_with(|| Arc::new(Observable::new(Vec::new())))
            .clone()
    }

    /// Updates one echo's row in place (state, text) and republishes.
    fn update_echo(&self, client_message_id: &str, edit: impl FnOnce(&mut LocalEcho)) {
        let conversation = {
            let mut echoes = lock(&self.echoes);
            match echoes
                .iter_mut()
                .find(|(_, e)| e.item.client_message_id == client_message_id)
            {
                Some((conversation, echo)) => {
                    edit(echo);
                    conversation.clone()
                }
                None => return,
            }
        };
        self.publish_timeline(&conversation);
    }

    fn remove_echo(&self, client_message_id: &str) {
        let conversation = {
            let mut echoes = lock(&self.echoes);
            let position = echoes
                .iter()
                .position(|(_, e)| e.item.client_message_id == client_message_id);
            position.map(|i| echoes.remove(i).0)
        };
        if let Some(conversation) = conversation {
            self.publish_timeline(&conversation);
        }
    }
}

/// The chat of one signed-in user on one client; stops its tasks when
/// dropped or shut down.
#[derive(Debug)]
pub struct ChatCore {
    inner: Arc<ChatInner>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl ChatCore {
    /// Starts chat for the signed-in user, with the send queue in `store`:
    /// the queued messages of a previous run are shown and sent again.
    pub fn start(
        auth: Arc<AuthState>,
        signalling: Arc<Signalling>,
        store: OutboxStore,
    ) -> Result<Self, UTDStreamError> {
        let me = auth.current().ok_or_else(not_authenticated)?.identity;
        let inner = Arc::new(ChatInner {
            auth,
            signalling,
            me,
            store,
            list: Mutex::new(ConversationListState::default()),
            list_out: Observable::new(UTDConversationList::default()),
            timelines: Mutex::new(HashMap::new()),
            echoes: Mutex::new(Vec::new()),
            typers: Mutex::new(HashMap::new()),
            delivered: Mutex::new(HashMap::new()),
            queue_wake: Notify::new(),
        });
        queue::restore_echoes(&inner)?;
        let handle = runtime::handle();
        let tasks = vec![
            handle.spawn(sync::run(inner.clone())),
            handle.spawn(queue::run(inner.clone())),
        ];
        Ok(Self {
            inner,
            tasks: Mutex::new(tasks),
        })
    }

    /// The shared state (exported objects, tests).
    pub fn inner(&self) -> &Arc<ChatInner> {
        &self.inner
    }

    /// The identity this chat belongs to.
    pub fn identity(&self) -> &str {
        &self.inner.me
    }

    /// Stops the background tasks (queued messages stay in the store).
    pub fn shutdown(&self) {
        for task in lock(&self.tasks).drain(..) {
            task.abort();
        }
    }
}

impl Drop for ChatCore {
    fn drop(&mut self) {
        self.shutdown();
    }
}
