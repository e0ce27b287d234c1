//! Registry of open signal connections: per-user fan-out, presence watchers,
//! bounded outbound queues and targeted closes (ban, logout, plan change).
//!
//! Everything here is synchronous under one mutex and never awaits, so it can
//! be called from handlers and socket tasks alike.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use tokio::sync::{mpsc, watch};

use super::protocol::presence_message;

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

/// Most identities one connection may watch.
pub const MAX_WATCHED: usize = 1000;

/// Most rooms one connection may subscribe to.
pub const MAX_ROOMS: usize = 100;

/// The connection registry.
#[derive(Default)]
pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    /// Chat typing state (in memory only; chat-api.md).
    pub(crate) typing: crate::chat::typing::Registry,
}

/// Handle a socket task keeps for its own connection.
pub struct Registration {
    /// Connection id.
    pub id: u64,
    /// Close requests for this connection.
    pub kill_rx: watch::Receiver<Option<CloseReason>>,
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
        if set.len() == 1 {
            inner.fan_out_presence(&user, true, None);
        }
        Registration { id, kill_rx }
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
                }
            }
        }
        for room in &conn.rooms {
            let key = (conn.user.0.clone(), room.clone());
            if let Some(set) = inner.room_subs.get_mut(&key) {
                set.remove(&id);
                if set.is_empty() {
                    inner.room_subs.remove(&key);
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
        inner.fan_out_presence(&conn.user, false, Some(at));
        Some(at)
    }

    /// Enqueues a message for one connection.
    pub fn send(&self, id: u64, text: &str) {
        self.lock().send(id, text);
    }

    /// Adds watched identities; returns for each whether it is online now and
    /// its in-memory last-seen time, or an error if the cap would be exceeded.
    pub fn watch(
        &self,
        id: u64,
        identities: &[String],
    ) -> Result<Vec<(String, bool, Option<u64>)>, String> {
        let mut inner = self.lock();
        let Some(conn) = inner.conns.get_mut(&id) else {
            return Ok(vec![]);
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
            inner.watchers.entry(key.clone()).or_default().insert(id);
            let online = inner.by_user.contains_key(&key);
            out.push((i.clone(), online, inner.last_seen.get(&key).copied()));
        }
        Ok(out)
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
                }
            }
        }
    }

    /// Subscribes a connection to a room's events; false at the cap.
    pub fn subscribe_room(&self, id: u64, room: &str) -> bool {
        let mut inner = self.lock();
        let Some(conn) = inner.conns.get_mut(&id) else {
            return true;
        };
        if !conn.rooms.contains(room) && conn.rooms.len() >= MAX_ROOMS {
            return false;
        }
        conn.rooms.insert(room.to_owned());
        let key = (conn.user.0.clone(), room.to_owned());
        inner.room_subs.entry(key).or_default().insert(id);
        true
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
            }
        }
    }

    /// Sends a message to every subscriber of a room.
    pub fn send_room(&self, app_id: &str, room: &str, text: &str) {
        let inner = self.lock();
        if let Some(ids) = inner.room_subs.get(&(app_id.to_owned(), room.to_owned())) {
            for id in ids {
                inner.send(*id, text);
            }
        }
    }

    /// Sends a message to every connection of a user.
    pub fn send_user(&self, app_id: &str, identity: &str, text: &str) {
        let inner = self.lock();
        if let Some(ids) = inner.by_user.get(&(app_id.to_owned(), identity.to_owned())) {
            for id in ids {
                inner.send(*id, text);
            }
        }
    }

    /// Whether a user has at least one open connection.
    pub fn is_online(&self, app_id: &str, identity: &str) -> bool {
        self.lock()
            .by_user
            .contains_key(&(app_id.to_owned(), identity.to_owned()))
    }

    /// Closes one connection.
    pub fn close(&self, id: u64, code: u16, reason: &str) {
        self.lock().kill(id, code, reason);
    }

    /// Closes every connection of a user.
    pub fn close_user(&self, app_id: &str, identity: &str, code: u16, reason: &str) {
        let inner = self.lock();
        let key = (app_id.to_owned(), identity.to_owned());
        if let Some(ids) = inner.by_user.get(&key) {
            for id in ids {
                inner.kill(*id, code, reason);
            }
        }
    }

    /// Closes every connection opened with one session.
    pub fn close_session(&self, session_sha256: &[u8], code: u16, reason: &str) {
        let inner = self.lock();
        for (id, conn) in &inner.conns {
            if conn.session_sha256 == session_sha256 {
                inner.kill(*id, code, reason);
            }
        }
    }

    /// Closes every connection of an app.
    pub fn close_app(&self, app_id: &str, code: u16, reason: &str) {
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
}
