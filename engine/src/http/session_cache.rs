//! Bearers and apps looked up in the last moments, so a request does not
//! read the database for the session or app it read an instant ago.
//!
//! An entry is used for at most [`TTL`]; whatever changes what it holds is
//! forgotten at once on every node: a logout, a ban or unban, and any change
//! of the app (plan, capabilities, limits) go through [`forget`], which
//! clears this node's entries and tells the others (crate::cluster). Changes
//! made with the `admin` CLI straight in the database reach running nodes
//! within the TTL. Expiry is checked on every use, cached or not.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::cluster::bus::Event;
use crate::db::apps::AppRecord;
use crate::db::sessions::SessionLookup;
use crate::state::AppState;

/// How long a looked-up session is reused.
pub const TTL: Duration = Duration::from_secs(2);
/// Above this many entries, stale ones are dropped before inserting.
const PRUNE_ABOVE: usize = 50_000;

/// What to forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Forget {
    /// One bearer (logout).
    Session(Vec<u8>),
    /// Every session of a user (ban, unban).
    User { app_id: String, identity: String },
    /// Every session of an app (plan, capabilities, limits).
    App(String),
}

/// The cache of one node.
#[derive(Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<Vec<u8>, (SessionLookup, Instant)>>,
    /// Apps by id (app-header requests; apps are never deleted and their
    /// keys never change, so only app changes are forgotten).
    apps: Mutex<HashMap<String, (AppRecord, Instant)>>,
}

impl SessionCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Vec<u8>, (SessionLookup, Instant)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The session of `token_sha256` if it was read less than [`TTL`] ago.
    pub fn get(&self, token_sha256: &[u8]) -> Option<SessionLookup> {
        let entries = self.lock();
        let (lookup, at) = entries.get(token_sha256)?;
        (at.elapsed() < TTL).then(|| lookup.clone())
    }

    /// Remembers a session just read.
    pub fn put(&self, lookup: SessionLookup) {
        let mut entries = self.lock();
        if entries.len() >= PRUNE_ABOVE {
            entries.retain(|_, (_, at)| at.elapsed() < TTL);
        }
        entries.insert(
            lookup.session.token_sha256.clone(),
            (lookup, Instant::now()),
        );
    }

    /// The app `app_id` if it was read less than [`TTL`] ago.
    pub fn app(&self, app_id: &str) -> Option<AppRecord> {
        let apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        let (app, at) = apps.get(app_id)?;
        (at.elapsed() < TTL).then(|| app.clone())
    }

    /// Remembers an app just read.
    pub fn put_app(&self, app: AppRecord) {
        let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
        if apps.len() >= PRUNE_ABOVE {
            apps.retain(|_, (_, at)| at.elapsed() < TTL);
        }
        apps.insert(app.app_id.clone(), (app, Instant::now()));
    }

    /// Forgets on this node only (what other nodes ask for).
    pub fn forget_here(&self, what: &Forget) {
        if let Forget::App(app_id) = what {
            let mut apps = self.apps.lock().unwrap_or_else(|p| p.into_inner());
            apps.remove(app_id);
        }
        let mut entries = self.lock();
        match what {
            Forget::Session(sha) => {
                entries.remove(sha);
            }
            Forget::User { app_id, identity } => entries.retain(|_, (l, _)| {
                !(l.session.app_id == *app_id && l.session.identity == *identity)
            }),
            Forget::App(app_id) => entries.retain(|_, (l, _)| l.session.app_id != *app_id),
        }
    }
}

/// Forgets on this node and on every other node of the cluster.
pub fn forget(state: &AppState, what: Forget) {
    state.sessions.forget_here(&what);
    if let Some(link) = state.hub.cluster() {
        link.bus.publish(Event::ForgetSessions(what.into()));
    }
}

/// [`Forget`] as it travels between nodes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ForgetWire {
    app: Option<String>,
    identity: Option<String>,
    session_sha256_hex: Option<String>,
}

impl From<Forget> for ForgetWire {
    fn from(what: Forget) -> Self {
        match what {
            Forget::Session(sha) => ForgetWire {
                app: None,
                identity: None,
                session_sha256_hex: Some(sha.iter().map(|b| format!("{b:02x}")).collect()),
            },
            Forget::User { app_id, identity } => ForgetWire {
                app: Some(app_id),
                identity: Some(identity),
                session_sha256_hex: None,
            },
            Forget::App(app_id) => ForgetWire {
                app: Some(app_id),
                identity: None,
                session_sha256_hex: None,
            },
        }
    }
}

impl ForgetWire {
    /// Back to a [`Forget`]; None when malformed.
    pub fn parse(&self) -> Option<Forget> {
        match (&self.app, &self.identity, &self.session_sha256_hex) {
            (_, _, Some(hex)) => {
                if !hex.len().is_multiple_of(2) {
                    return None;
                }
                let sha = (0..hex.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                    .collect::<Option<Vec<u8>>>()?;
                Some(Forget::Session(sha))
            }
            (Some(app), Some(identity), None) => Some(Forget::User {
                app_id: app.clone(),
                identity: identity.clone(),
            }),
            (Some(app), None, None) => Some(Forget::App(app.clone())),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forgets_travel_between_nodes_unchanged() {
        for what in [
            Forget::Session(vec![0, 255, 16]),
            Forget::User {
                app_id: "app_1".into(),
                identity: "alice".into(),
            },
            Forget::App("app_1".into()),
        ] {
            let wire = ForgetWire::from(what.clone());
            let text = serde_json::to_string(&wire).unwrap();
            let back: ForgetWire = serde_json::from_str(&text).unwrap();
            assert_eq!(back.parse(), Some(what));
        }
        let odd = ForgetWire {
            app: None,
            identity: None,
            session_sha256_hex: Some("abc".into()),
        };
        assert_eq!(odd.parse(), None);
    }
}
