//! Registry of open signal connections: per-user fan-out, presence watchers,
//! bounded outbound queues and targeted closes (ban, logout, plan change).
//!
//! Everything here is synchronous under one mutex and never awaits, so it can
//! be called from handlers and socket tasks alike. On a node of a cluster
//! (crate::cluster) every delivery also goes to the other nodes, and the hub
//! subscribes this node to the channels of the users, rooms and watched
//! identities it holds sockets for; what other nodes publish comes back in
//! through [`Hub::deliver`].

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot, watch};

use super::protocol::presence_message;
use crate::cluster::bus::{presence_channel, room_channel, user_channel, Event};
use crate::cluster::presence::Change;
use crate::cluster::ClusterLink;

/// Why and how a connection is to be closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseReason {
    /// WebSocket close code.
    pub code: u16,
    /// Close reason text.
    pub reason: String,
}

type UserKey = (String, String);

struct Conn {
    user: UserKey,
    session_sha256: Vec<u8>,
    tx: mpsc::Sender<String>,
    kill: watch::Sender<Option<CloseReason>>,
    watching: HashSet<String>,
    rooms: HashSet<String>,
}

#[derive(Default)]
struct Inner {
    conns: HashMap<u64, Conn>,
    by_user: HashMap<UserKey, HashSet<u64>>,
    watchers: HashMap<UserKey, HashSet<u64>>,
    /// Subscribers of room events, by (app, un-prefixed room name).
    room_subs: HashMap<(String, String), HashSet<u64>>,
    /// Last-seen times of users who went offline since start (the database
    /// has the same value; this avoids a read racing the write).
    last_seen: HashMap<UserKey, u64>,
}

/// A watched identity: whether it is online (here), and its last-seen time
/// known in memory.
pub type WatchState = (String, bool, Option<u64>);

/// Most identities one connection may watch.
pub const MAX_WATCHED: usize = 1000;

/// Most rooms one connection may subscribe to.
pub const MAX_ROOMS: usize = 100;

/// The connection registry.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    /// Chat typing state of this node's sockets (never stored; shared
    /// through Redis on a cluster node, crate::cluster::typing).
    pub(crate) typing: crate::chat::typing::Registry,
    /// Set once at start on a node of a cluster.
    cluster: std::sync::OnceLock<ClusterLink>,
}

/// Handle a socket task keeps for its own connection.
pub struct Registration {
    /// Connection id.
    pub id: u64,
    /// Close requests for this connection.
    pub kill_rx: watch::Receiver<Option<CloseReason>>,
    /// On a cluster node: completes once this node hears the user's channel
    /// (nothing published after that can miss this connection).
    pub subscribed: Subscribed,
}

/// Completes when this node's pending channel subscriptions are confirmed
/// (at once on a single node).
#[derive(Default)]
pub struct Subscribed(Vec<oneshot::Receiver<()>>);

impl Subscribed {
    /// Waits for the confirmations (a lost one, when Redis is gone, counts
    /// as done: the socket is closed with 1012 then anyway).
    pub async fn wait(self) {
        for ack in self.0 {
            let _ = ack.await;
        }
    }
}

impl Inner {
    fn kill(&self, id: u64, code: u16, reason: &str) {
        if let Some(conn) = self.conns.get(&id) {
            // Only the first close reason counts.
            conn.kill.send_if_modified(|current| {
                if current.is_none() {
                    *current = Some(CloseReason {
                        code,
                        reason: reason.to_owned(),
                    });
                    true
                } else {
                    false
                }
            });
        }
    }

    /// Enqueues a message; a full queue closes the connection as a slow consumer.
    fn send(&self, id: u64, text: &str) {
        if let Some(conn) = self.conns.get(&id) {
            if let Err(mpsc::error::TrySendError::Full(_)) = conn.tx.try_send(text.to_owned()) {
                self.kill(id, 4008, "slow_consumer");
            }
        }
    }

    fn fan_out_presence(&self, user: &UserKey, online: bool, last_seen_ms: Option<u64>) {
        if let Some(watchers) = self.watchers.get(user) {
            let msg = presence_message(&user.1, online, last_seen_ms);
            for id in watchers {
                self.send(*id, &msg);
            }
        }
    }
}

impl Hub {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves consistent-enough maps;
        // keep serving instead of cascading the panic.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a connection whose queue sender the caller created (so it
    /// could enqueue `hello` first). Announces the user online if this is
    /// their first connection.
    pub fn register(
        &self,
        app_id: &str,
        identity: &str,
        session_sha256: &[u8],
        tx: mpsc::Sender<String>,
    ) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (kill, kill_rx) = watch::channel(None);
        let user = (app_id.to_owned(), identity.to_owned());
        let mut inner = self.lock();
        inner.conns.insert(
            id,
            Conn {
                user: user.clone(),
                session_sha256: session_sha256.to_vec(),
                tx,
                kill,
                watching: HashSet::new(),
                rooms: HashSet::new(),
            },
        );
        let set = inner.by_user.entry(user.clone()).or_default();
        set.insert(id);
        let first_here = set.len() == 1;
        let mut subscribed = Subscribed::default();
        match self.cluster() {
            Some(link) if first_here => {
                subscribed
                    .0
                    .push(link.bus.subscribe(user_channel(app_id, identity)));
                // Online is announced once Redis says no node had the user.
                link.presence.change(Change::Up {
                    app: app_id.to_owned(),
                    identity: identity.to_owned(),
                });
            }
            Some(_) => {}
            None if first_here => inner.fan_out_presence(&user, true, None),
            None => {}
        }
        Registration {
            id,
            kill_rx,
            subscribed,
        }
    }

    /// Removes a connection. Returns the time the user went offline if this
    /// was their last connection (to be persisted).
    pub fn unregister(&self, id: u64) -> Option<u64> {
        let mut inner = self.lock();
        let conn = inner.conns.remove(&id)?;
        for watched in &conn.watching {
            let key = (conn.user.0.clone(), watched.clone());
            if let Some(set) = inner.watchers.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    inner.watchers.remove(&key);
                    self.leave_channel(presence_channel(&key.0, &key.1));
                }
            }
        }
        for room in &conn.rooms {
            let key = (conn.user.0.clone(), room.clone());
            if let Some(set) = inner.room_subs.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    inner.room_subs.remove(&key);
                    self.leave_channel(room_channel(&key.0, &key.1));
                }
            }
        }
        let now_empty = match inner.by_user.get_mut(&conn.user) {
            Some(set) => {
                set.remove(&id);
                set.is_empty()
            }
            None => false,
        };
        if !now_empty {
            return None;
        }
        inner.by_user.remove(&conn.user);
        let at = crate::ids::now_ms();
        inner.last_seen.insert(conn.user.clone(), at);
        match self.cluster() {
            Some(link) => {
                link.bus
                    .unsubscribe(user_channel(&conn.user.0, &conn.user.1));
                // Offline is announced once Redis says no node has the user.
                link.presence.change(Change::Down {
                    app: conn.user.0.clone(),
                    identity: conn.user.1.clone(),
                    at_ms: at,
                });
            }
            None => inner.fan_out_presence(&conn.user, false, Some(at)),
        }
        Some(at)
    }

    /// Enqueues a message for one connection.
    pub fn send(&self, id: u64, text: &str) {
        self.lock().send(id, text);
    }

    /// Adds watched identities; returns for each whether it is online now and
    /// its in-memory last-seen time, or an error if the cap would be exceeded.
    /// On a cluster node, `online` is whether the identity has a socket on
    /// *this* node, and the returned [`Subscribed`] completes once this node
    /// hears the identities' presence channels.
    pub fn watch(
        &self,
        id: u64,
        identities: &[String],
    ) -> Result<(Vec<WatchState>, Subscribed), String> {
        let mut inner = self.lock();
        let mut subscribed = Subscribed::default();
        let Some(conn) = inner.conns.get_mut(&id) else {
            return Ok((vec![], subscribed));
        };
        let new: HashSet<&String> = identities
            .iter()
            .filter(|i| !conn.watching.contains(*i))
            .collect();
        if conn.watching.len() + new.len() > MAX_WATCHED {
            return Err(format!("at most {MAX_WATCHED} identities can be watched"));
        }
        let app_id = conn.user.0.clone();
        for i in identities {
            conn.watching.insert(i.clone());
        }
        let mut out = Vec::with_capacity(identities.len());
        for i in identities {
            let key = (app_id.clone(), i.clone());
            let watchers = inner.watchers.entry(key.clone()).or_default();
            if watchers.is_empty() {
                if let Some(link) = self.cluster() {
                    subscribed
                        .0
                        .push(link.bus.subscribe(presence_channel(&app_id, i)));
                }
            }
            watchers.insert(id);
            let online = inner.by_user.contains_key(&key);
            out.push((i.clone(), online, inner.last_seen.get(&key).copied()));
        }
        Ok((out, subscribed))
    }

    /// Removes watched identities.
    pub fn unwatch(&self, id: u64, identities: &[String]) {
        let mut inner = self.lock();
        let Some(conn) = inner.conns.get_mut(&id) else {
            return;
        };
        let app_id = conn.user.0.clone();
        for i in identities {
            conn.watching.remove(i);
        }
        for i in identities {
            let key = (app_id.clone(), i.clone());
            if let Some(set) = inner.watchers.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    inner.watchers.remove(&key);
                    self.leave_channel(presence_channel(&app_id, i));
                }
            }
        }
    }

    /// Subscribes a connection to a room's events; None at the cap. The
    /// [`Subscribed`] completes once this node hears the room's channel.
    pub fn subscribe_room(&self, id: u64, room: &str) -> Option<Subscribed> {
        let mut inner = self.lock();
        let mut subscribed = Subscribed::default();
        let Some(conn) = inner.conns.get_mut(&id) else {
            return Some(subscribed);
        };
        if !conn.rooms.contains(room) && conn.rooms.len() >= MAX_ROOMS {
            return None;
        }
        conn.rooms.insert(room.to_owned());
        let key = (conn.user.0.clone(), room.to_owned());
        let subscribers = inner.room_subs.entry(key.clone()).or_default();
        if subscribers.is_empty() {
            if let Some(link) = self.cluster() {
                subscribed
                    .0
                    .push(link.bus.subscribe(room_channel(&key.0, room)));
            }
        }
        subscribers.insert(id);
        Some(subscribed)
    }

    /// Ends a room subscription.
    pub fn unsubscribe_room(&self, id: u64, room: &str) {
        let mut inner = self.lock();
        let Some(conn) = inner.conns.get_mut(&id) else {
            return;
        };
        conn.rooms.remove(room);
        let key = (conn.user.0.clone(), room.to_owned());
        if let Some(set) = inner.room_subs.get_mut(&key) {
            set.remove(&id);
            if set.is_empty() {
                inner.room_subs.remove(&key);
                self.leave_channel(room_channel(&key.0, room));
            }
        }
    }

    /// Sends a message to every subscriber of a room (on every node).
    pub fn send_room(&self, app_id: &str, room: &str, text: &str) {
        self.local_send_room(app_id, room, text);
        self.publish(|| Event::Room {
            app: app_id.to_owned(),
            room: room.to_owned(),
            text: text.to_owned(),
        });
    }

    fn local_send_room(&self, app_id: &str, room: &str, text: &str) {
        let inner = self.lock();
        if let Some(ids) = inner.room_subs.get(&(app_id.to_owned(), room.to_owned())) {
            for id in ids {
                inner.send(*id, text);
            }
        }
    }

    /// Sends a message to every connection of a user (on every node).
    pub fn send_user(&self, app_id: &str, identity: &str, text: &str) {
        self.local_send_user(app_id, identity, text);
        self.publish(|| Event::User {
            app: app_id.to_owned(),
            identity: identity.to_owned(),
            text: text.to_owned(),
        });
    }

    fn local_send_user(&self, app_id: &str, identity: &str, text: &str) {
        let inner = self.lock();
        if let Some(ids) = inner.by_user.get(&(app_id.to_owned(), identity.to_owned())) {
            for id in ids {
                inner.send(*id, text);
            }
        }
    }

    /// Whether a user has at least one open connection on this node
    /// (`crate::cluster::is_online` answers for every node).
    pub fn is_online(&self, app_id: &str, identity: &str) -> bool {
        self.lock()
            .by_user
            .contains_key(&(app_id.to_owned(), identity.to_owned()))
    }

    /// Closes one connection.
    pub fn close(&self, id: u64, code: u16, reason: &str) {
        self.lock().kill(id, code, reason);
    }

    /// Closes every connection of a user (on every node).
    pub fn close_user(&self, app_id: &str, identity: &str, code: u16, reason: &str) {
        self.local_close_user(app_id, identity, code, reason);
        self.publish(|| Event::CloseUser {
            app: app_id.to_owned(),
            identity: identity.to_owned(),
            code,
            reason: reason.to_owned(),
        });
    }

    fn local_close_user(&self, app_id: &str, identity: &str, code: u16, reason: &str) {
        let inner = self.lock();
        let key = (app_id.to_owned(), identity.to_owned());
        if let Some(ids) = inner.by_user.get(&key) {
            for id in ids {
                inner.kill(*id, code, reason);
            }
        }
    }

    /// Closes every connection opened with one session of `identity` (on
    /// every node).
    pub fn close_session(
        &self,
        app_id: &str,
        identity: &str,
        session_sha256: &[u8],
        code: u16,
        reason: &str,
    ) {
        self.local_close_session(session_sha256, code, reason);
        self.publish(|| Event::CloseSession {
            app: app_id.to_owned(),
            identity: identity.to_owned(),
            session_sha256_hex: hex(session_sha256),
            code,
            reason: reason.to_owned(),
        });
    }

    fn local_close_session(&self, session_sha256: &[u8], code: u16, reason: &str) {
        let inner = self.lock();
        for (id, conn) in &inner.conns {
            if conn.session_sha256 == session_sha256 {
                inner.kill(*id, code, reason);
            }
        }
    }

    /// Closes every connection of an app (on every node).
    pub fn close_app(&self, app_id: &str, code: u16, reason: &str) {
        self.local_close_app(app_id, code, reason);
        self.publish(|| Event::CloseApp {
            app: app_id.to_owned(),
            code,
            reason: reason.to_owned(),
        });
    }

    fn local_close_app(&self, app_id: &str, code: u16, reason: &str) {
        let inner = self.lock();
        for (id, conn) in &inner.conns {
            if conn.user.0 == app_id {
                inner.kill(*id, code, reason);
            }
        }
    }

    /// Closes every connection (shutdown).
    pub fn close_all(&self, code: u16, reason: &str) {
        let inner = self.lock();
        for id in inner.conns.keys() {
            inner.kill(*id, code, reason);
        }
    }

    /// Number of open connections.
    pub fn connection_count(&self) -> usize {
        self.lock().conns.len()
    }

    /// Makes this hub a cluster node's (once, at start).
    pub(crate) fn join_cluster(&self, link: ClusterLink) {
        if self.cluster.set(link).is_err() {
            tracing::error!("the hub joined a cluster twice; kept the first");
        }
    }

    /// The cluster link, on a cluster node.
    pub(crate) fn cluster(&self) -> Option<&ClusterLink> {
        self.cluster.get()
    }

    /// The users with a connection on this node.
    pub(crate) fn local_users(&self) -> Vec<(String, String)> {
        self.lock().by_user.keys().cloned().collect()
    }

    /// Tells this node's watchers of a user that they went on- or offline
    /// (the cluster's presence decided it).
    pub(crate) fn deliver_presence(
        &self,
        app_id: &str,
        identity: &str,
        online: bool,
        last_seen_ms: Option<u64>,
    ) {
        let mut inner = self.lock();
        let key = (app_id.to_owned(), identity.to_owned());
        if let Some(at) = last_seen_ms {
            inner.last_seen.insert(key.clone(), at);
        }
        inner.fan_out_presence(&key, online, last_seen_ms);
    }

    /// Applies what another node published, to this node's sockets only.
    pub(crate) fn deliver(&self, event: Event) {
        match event {
            Event::User {
                app,
                identity,
                text,
            } => self.local_send_user(&app, &identity, &text),
            Event::Room { app, room, text } => self.local_send_room(&app, &room, &text),
            Event::Presence {
                app,
                identity,
                online,
                last_seen_ms,
            } => self.deliver_presence(&app, &identity, online, last_seen_ms),
            Event::CloseUser {
                app,
                identity,
                code,
                reason,
            } => self.local_close_user(&app, &identity, code, &reason),
            Event::CloseSession {
                session_sha256_hex,
                code,
                reason,
                ..
            } => {
                if let Some(sha) = unhex(&session_sha256_hex) {
                    self.local_close_session(&sha, code, &reason);
                }
            }
            Event::CloseApp { app, code, reason } => self.local_close_app(&app, code, &reason),
            // Not the hub's: the session cache's (crate::cluster).
            Event::ForgetSessions(_) => {}
        }
    }

    fn publish(&self, event: impl FnOnce() -> Event) {
        if let Some(link) = self.cluster() {
            link.bus.publish(event());
        }
    }

    fn leave_channel(&self, channel: String) {
        if let Some(link) = self.cluster() {
            link.bus.unsubscribe(channel);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}
