//! Typing indicators (chat-api.md "WebSocket"): client `typing` messages on
//! the signal WebSocket, never stored. At most one accepted update per
//! second per user and conversation (a `false` inside the second is applied
//! when the second is up), a typer expires 5 s after its last accepted
//! `true`, and every change of a conversation's typer list (start, stop,
//! expiry, a user's last connection closing, a member leaving) pushes the
//! whole list to the members.
//!
//! The registry is in memory, per node: it holds the typers whose `typing`
//! messages came in on this node's sockets, and throttles them. In one
//! process it is the whole truth and pushes its lists itself, with
//! `send_user`, never from inside a database transaction (the members are
//! read in a transaction of their own first). On a cluster node the members
//! of a conversation may type on different nodes: each accepted change also
//! goes to the shared typers in Redis ([`crate::cluster::typing`]), which
//! merge every node's and push the one list, expiries included; the local
//! registry then only throttles and remembers whom this node's sockets
//! were typing for.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::cluster::typing::Change;
use crate::state::AppState;

/// One accepted update per this long, per user and conversation.
pub const THROTTLE: Duration = Duration::from_secs(1);
/// A typer without a refresh for this long stops typing.
pub const EXPIRY: Duration = Duration::from_secs(5);

/// Slots above this many are pruned of the ones past their second.
const PRUNE_SLOTS_ABOVE: usize = 4096;

/// `(app_id, conversation_id)`.
type ConvKey = (String, String);
/// `(app_id, conversation_id, identity)`.
type SlotKey = (String, String, String);

struct Typer {
    expires_at: Instant,
    generation: u64,
}

struct Slot {
    last_accepted: Instant,
    /// A `false` that arrived inside the second, applied when it is up.
    pending_stop: Option<u64>,
}

#[derive(Default)]
struct Inner {
    typers: HashMap<ConvKey, BTreeMap<String, Typer>>,
    slots: HashMap<SlotKey, Slot>,
    next_generation: u64,
}

impl Inner {
    fn generation(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    fn remove_typer(&mut self, conv: &ConvKey, identity: &str) -> bool {
        let Some(map) = self.typers.get_mut(conv) else {
            return false;
        };
        let removed = map.remove(identity).is_some();
        if map.is_empty() {
            self.typers.remove(conv);
        }
        removed
    }

    fn list(&self, conv: &ConvKey) -> Vec<String> {
        self.typers
            .get(conv)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }
}

/// What an update asks of the caller.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Update {
    /// The typer list changed: push it.
    pub changed: bool,
    /// Check for expiry at this time (the typer's generation).
    pub expire: Option<(Instant, u64)>,
    /// Apply the pending stop at this time (its token).
    pub stop: Option<(Instant, u64)>,
}

/// The typing state of every conversation (held by the signal hub).
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<Inner>,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies `identity`'s `typing` update at `now`; on a change, `notify`
    /// gets the new list under the lock (so pushes of one conversation
    /// leave in the order of its changes).
    pub(crate) fn update(
        &self,
        app_id: &str,
        conversation_id: &str,
        identity: &str,
        typing: bool,
        now: Instant,
        notify: impl FnOnce(&[String]),
    ) -> Update {
        let mut inner = self.lock();
        let conv: ConvKey = (app_id.to_owned(), conversation_id.to_owned());
        let slot_key: SlotKey = (
            app_id.to_owned(),
            conversation_id.to_owned(),
            identity.to_owned(),
        );
        if inner.slots.len() > PRUNE_SLOTS_ABOVE {
            inner.slots.retain(|_, s| {
                s.pending_stop.is_some() || now.duration_since(s.last_accepted) < THROTTLE
            });
        }
        let is_typing = inner
            .typers
            .get(&conv)
            .is_some_and(|m| m.contains_key(identity));
        let throttled_since = inner
            .slots
            .get(&slot_key)
            .filter(|s| now.duration_since(s.last_accepted) < THROTTLE)
            .map(|s| s.last_accepted);
        if let Some(since) = throttled_since {
            if typing {
                // Still typing: whatever stop was waiting is void.
                if let Some(slot) = inner.slots.get_mut(&slot_key) {
                    slot.pending_stop = None;
                }
                return Update::default();
            }
            if !is_typing {
                return Update::default();
            }
            let token = inner.generation();
            if let Some(slot) = inner.slots.get_mut(&slot_key) {
                slot.pending_stop = Some(token);
            }
            return Update {
                stop: Some((since + THROTTLE, token)),
                ..Update::default()
            };
        }
        inner.slots.insert(
            slot_key,
            Slot {
                last_accepted: now,
                pending_stop: None,
            },
        );
        let update = if typing {
            let generation = inner.generation();
            let expires_at = now + EXPIRY;
            inner.typers.entry(conv.clone()).or_default().insert(
                identity.to_owned(),
                Typer {
                    expires_at,
                    generation,
                },
            );
            Update {
                changed: !is_typing,
                expire: Some((expires_at, generation)),
                stop: None,
            }
        } else {
            Update {
                changed: inner.remove_typer(&conv, identity),
                ..Update::default()
            }
        };
        if update.changed {
            notify(&inner.list(&conv));
        }
        update
    }

    /// The expiry check of `generation`: true when the typer went (and
    /// `notify` got the new list, under the lock).
    pub(crate) fn expire(
        &self,
        app_id: &str,
        conversation_id: &str,
        identity: &str,
        generation: u64,
        now: Instant,
        notify: impl FnOnce(&[String]),
    ) -> bool {
        let mut inner = self.lock();
        let conv: ConvKey = (app_id.to_owned(), conversation_id.to_owned());
        let due = inner
            .typers
            .get(&conv)
            .and_then(|m| m.get(identity))
            .is_some_and(|t| t.generation == generation && t.expires_at <= now);
        let gone = due && inner.remove_typer(&conv, identity);
        if gone {
            notify(&inner.list(&conv));
        }
        gone
    }

    /// Applies the pending stop `token`: true when the typer went (and
    /// `notify` got the new list, under the lock).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply_stop(
        &self,
        app_id: &str,
        conversation_id: &str,
        identity: &str,
        token: u64,
        now: Instant,
        notify: impl FnOnce(&[String]),
    ) -> bool {
        let mut inner = self.lock();
        let slot_key: SlotKey = (
            app_id.to_owned(),
            conversation_id.to_owned(),
            identity.to_owned(),
        );
        match inner.slots.get_mut(&slot_key) {
            Some(slot) if slot.pending_stop == Some(token) => {
                slot.pending_stop = None;
                slot.last_accepted = now;
            }
            _ => return false,
        }
        let conv: ConvKey = (app_id.to_owned(), conversation_id.to_owned());
        let gone = inner.remove_typer(&conv, identity);
        if gone {
            notify(&inner.list(&conv));
        }
        gone
    }

    /// A user left everything (last connection closed): the conversations
    /// whose lists changed.
    pub(crate) fn remove_user(&self, app_id: &str, identity: &str) -> Vec<String> {
        let mut inner = self.lock();
        inner
            .slots
            .retain(|(a, _, i), _| !(a == app_id && i == identity));
        let convs: Vec<ConvKey> = inner
            .typers
            .iter()
            .filter(|((a, _), m)| a == app_id && m.contains_key(identity))
            .map(|(k, _)| k.clone())
            .collect();
        for conv in &convs {
            inner.remove_typer(conv, identity);
        }
        convs.into_iter().map(|(_, c)| c).collect()
    }

    /// A member left one conversation: true when its list changed (and
    /// `notify` got the new list, under the lock).
    pub(crate) fn remove_member(
        &self,
        app_id: &str,
        conversation_id: &str,
        identity: &str,
        notify: impl FnOnce(&[String]),
    ) -> bool {
        let mut inner = self.lock();
        inner.slots.remove(&(
            app_id.to_owned(),
            conversation_id.to_owned(),
            identity.to_owned(),
        ));
        let conv: ConvKey = (app_id.to_owned(), conversation_id.to_owned());
        let gone = inner.remove_typer(&conv, identity);
        if gone {
            notify(&inner.list(&conv));
        }
        gone
    }

    /// Runs `f` with the conversation's current typers, under the lock (so
    /// pushes of one conversation leave in the order of its changes).
    pub(crate) fn with_current<R>(
        &self,
        app_id: &str,
        conversation_id: &str,
        f: impl FnOnce(&[String]) -> R,
    ) -> R {
        let inner = self.lock();
        let list = inner.list(&(app_id.to_owned(), conversation_id.to_owned()));
        f(&list)
    }
}

/// The `typing` message.
pub(crate) fn typing_message(conversation_id: &str, typers: &[String]) -> String {
    json!({"type": "typing", "conversation_id": conversation_id, "typers": typers}).to_string()
}

/// Pushes `typers` (a conversation's list) to `members`.
fn send_to_members(
    state: &AppState,
    app_id: &str,
    conversation_id: &str,
    members: &[String],
    typers: &[String],
) {
    let msg = typing_message(conversation_id, typers);
    for member in members {
        state.hub.send_user(app_id, member, &msg);
    }
}

/// What a change of the registry's list does with the new list: in one
/// process, push it to `members`; on a cluster node nothing (the shared
/// typers push the merged list, see [`share`]).
fn push_locally<'a>(
    state: &'a AppState,
    app_id: &'a str,
    conversation_id: &'a str,
    members: &'a [String],
) -> impl FnOnce(&[String]) + 'a {
    move |typers| {
        if state.hub.cluster().is_none() {
            send_to_members(state, app_id, conversation_id, members, typers);
        }
    }
}

/// On a cluster node, applies `identity`'s change to the shared typers
/// (which push the merged list to `members` when it changed).
async fn share(
    state: &AppState,
    app_id: &str,
    conversation_id: &str,
    identity: &str,
    change: Change,
    members: &[String],
) {
    let Some(link) = state.hub.cluster() else {
        return;
    };
    if let Err(e) = link
        .typing
        .apply(app_id, conversation_id, identity, change, members)
        .await
    {
        tracing::warn!(error = %e, "typing: shared typers unreachable; not pushed");
        return;
    }
    if change == Change::Start {
        // Applied by now, so due on Redis's clock by then: this expiry is
        // pushed on time and on its own (the shared sweep is the backstop
        // for a node that dies first).
        expire_at(
            state,
            Instant::now() + EXPIRY,
            app_id,
            conversation_id,
            identity,
        );
    }
}

/// At `at`, expires `identity` from the conversation's shared typers unless
/// they typed again (dropped at shutdown).
fn expire_at(state: &AppState, at: Instant, app_id: &str, conversation_id: &str, identity: &str) {
    let state = state.clone();
    let (a, c, i) = (
        app_id.to_owned(),
        conversation_id.to_owned(),
        identity.to_owned(),
    );
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = state.shutdown.cancelled() => return,
        }
        if let Some(link) = state.hub.cluster() {
            if let Err(e) = link.typing.expire(&a, &c, &i).await {
                tracing::warn!(error = %e, "typing: shared typers unreachable; expiry left to the sweep");
            }
        }
    });
}

async fn members_of(state: &AppState, conversation_id: &str) -> Option<Vec<String>> {
    let id = conversation_id.to_owned();
    match state
        .db
        .call(move |c| super::db::member_identities(c, &id))
        .await
    {
        Ok(members) => Some(members),
        Err(e) => {
            tracing::warn!(error = %e, "typing: members unreadable; not pushed");
            None
        }
    }
}

/// Why a `typing` message is refused: `(code, message)` for the `error`.
pub(crate) type Refused = (&'static str, &'static str);

/// Handles a client's `typing` message: the chat capability (the plan as
/// it is now), membership, no block in a direct conversation, then the
/// throttle; pushes and timers as the update asks.
pub(crate) async fn client_update(
    state: &AppState,
    app_id: &str,
    identity: &str,
    conversation_id: &str,
    typing: bool,
) -> Result<(), Refused> {
    let (a, c, i) = (
        app_id.to_owned(),
        conversation_id.to_owned(),
        identity.to_owned(),
    );
    // Held until the list is out: the pushes of one conversation leave this
    // node in the order of its changes (chat's pushes take it too).
    let _order = super::pushes::in_order(conversation_id).await;
    let checked = state
        .db
        .call(move |conn| {
            let chat =
                crate::db::apps::get_app(conn, &a)?.is_some_and(|app| app.messaging_enabled());
            if !chat {
                return Ok(Err(("feature_disabled", "")));
            }
            let Some(conv) = super::db::conversation(conn, &a, &c)? else {
                return Ok(Err(("forbidden", "not a member of this conversation")));
            };
            if super::db::member(conn, &c, &i)?.is_none() {
                return Ok(Err(("forbidden", "not a member of this conversation")));
            }
            if typing {
                if let Some(peer) = conv.peer_of(&i) {
                    if super::db::blocked_either(conn, &a, &i, peer)? {
                        return Ok(Err(("forbidden", "a block stands between these two users")));
                    }
                }
            }
            Ok(Ok(super::db::member_identities(conn, &c)?))
        })
        .await;
    let members = match checked {
        Ok(Ok(members)) => members,
        Ok(Err(refused)) => return Err(refused),
        Err(e) => {
            tracing::warn!(error = %e, "typing: storage failure");
            return Err(("internal", "storage failure"));
        }
    };
    let update = state.hub.typing.update(
        app_id,
        conversation_id,
        identity,
        typing,
        Instant::now(),
        push_locally(state, app_id, conversation_id, &members),
    );
    // Every accepted `true` refreshes the shared expiry, even when this
    // node's list did not change.
    if typing && update.expire.is_some() {
        share(
            state,
            app_id,
            conversation_id,
            identity,
            Change::Start,
            &members,
        )
        .await;
    } else if !typing && update.changed {
        share(
            state,
            app_id,
            conversation_id,
            identity,
            Change::Stop,
            &members,
        )
        .await;
    }
    if let Some((at, generation)) = update.expire {
        schedule(
            state,
            at,
            app_id,
            conversation_id,
            identity,
            Timer::Expiry(generation),
        );
    }
    if let Some((at, token)) = update.stop {
        schedule(
            state,
            at,
            app_id,
            conversation_id,
            identity,
            Timer::Stop(token),
        );
    }
    Ok(())
}

/// What a timer checks when it fires.
#[derive(Clone, Copy)]
enum Timer {
    /// Whether the typer of this generation expired.
    Expiry(u64),
    /// Whether this pending stop still stands.
    Stop(u64),
}

/// At `at`, reads the members and runs the timer's check, which pushes the
/// new list when it changed (dropped at shutdown). Under the conversation's
/// ordering lock, so timers that fire in order apply in order even when one
/// member read takes longer than the next.
fn schedule(
    state: &AppState,
    at: Instant,
    app_id: &str,
    conversation_id: &str,
    identity: &str,
    timer: Timer,
) {
    let state = state.clone();
    let (a, c, i) = (
        app_id.to_owned(),
        conversation_id.to_owned(),
        identity.to_owned(),
    );
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep_until(at) => {}
            _ = state.shutdown.cancelled() => return,
        }
        let _order = super::pushes::in_order(&c).await;
        let Some(members) = members_of(&state, &c).await else {
            return;
        };
        let notify = push_locally(&state, &a, &c, &members);
        let registry = &state.hub.typing;
        match timer {
            // On a cluster node the shared typers are settled on their own
            // clock (see `share`).
            Timer::Expiry(g) => {
                registry.expire(&a, &c, &i, g, Instant::now(), notify);
            }
            Timer::Stop(t) => {
                if registry.apply_stop(&a, &c, &i, t, Instant::now(), notify) {
                    share(&state, &a, &c, &i, Change::Stop, &members).await;
                }
            }
        }
    });
}

/// A user's last connection (on this node) closed: they stop typing
/// everywhere they typed through this node.
pub(crate) async fn user_gone(state: &AppState, app_id: &str, identity: &str) {
    for conversation_id in state.hub.typing.remove_user(app_id, identity) {
        let _order = super::pushes::in_order(&conversation_id).await;
        let Some(members) = members_of(state, &conversation_id).await else {
            continue;
        };
        state.hub.typing.with_current(
            app_id,
            &conversation_id,
            push_locally(state, app_id, &conversation_id, &members),
        );
        share(
            state,
            app_id,
            &conversation_id,
            identity,
            Change::Stop,
            &members,
        )
        .await;
    }
}

/// A member left a conversation (removed or left): they stop typing there,
/// whichever node they typed through. `members` are the ones who remain.
/// Called after the removal committed, under the conversation's ordering
/// lock ([`super::pushes::in_order`]).
pub(crate) async fn member_gone(
    state: &AppState,
    app_id: &str,
    conversation_id: &str,
    identity: &str,
    members: &[String],
) {
    state.hub.typing.remove_member(
        app_id,
        conversation_id,
        identity,
        push_locally(state, app_id, conversation_id, members),
    );
    share(
        state,
        app_id,
        conversation_id,
        identity,
        Change::Stop,
        members,
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &[String]) {}

    #[test]
    fn one_update_per_second_and_expiry_by_generation() {
        let r = Registry::default();
        let t0 = Instant::now();
        let mut pushed = Vec::new();
        let u = r.update("1", "c", "bob", true, t0, |l| pushed.push(l.to_vec()));
        assert!(u.changed);
        assert_eq!(pushed, [["bob"]]);
        let (at, g1) = u.expire.unwrap();
        assert_eq!(at, t0 + EXPIRY);
        // A refresh inside the second is not applied.
        let u = r.update("1", "c", "bob", true, t0 + Duration::from_millis(500), none);
        assert_eq!(u, Update::default());
        // After it: applied, no change, a new generation.
        let u = r.update(
            "1",
            "c",
            "bob",
            true,
            t0 + Duration::from_millis(1200),
            none,
        );
        assert!(!u.changed);
        let (at2, g2) = u.expire.unwrap();
        assert!(at2 > at && g2 != g1);
        // The first timer finds a newer generation.
        assert!(!r.expire("1", "c", "bob", g1, at, none));
        assert!(r.with_current("1", "c", |l| l == ["bob"]));
        let mut last = None;
        assert!(r.expire("1", "c", "bob", g2, at2, |l| last = Some(l.to_vec())));
        assert_eq!(last, Some(vec![]));
        assert!(r.with_current("1", "c", <[String]>::is_empty));
    }

    #[test]
    fn a_stop_inside_the_second_waits_for_it() {
        let r = Registry::default();
        let t0 = Instant::now();
        r.update("1", "c", "bob", true, t0, none);
        let u = r.update(
            "1",
            "c",
            "bob",
            false,
            t0 + Duration::from_millis(300),
            none,
        );
        assert!(!u.changed);
        let (at, token) = u.stop.unwrap();
        assert_eq!(at, t0 + THROTTLE);
        assert!(r.apply_stop("1", "c", "bob", token, at, none));
        assert!(!r.apply_stop("1", "c", "bob", token, at, none), "once");
        // A true inside the second voids the pending stop.
        let t1 = t0 + Duration::from_secs(10);
        r.update("1", "c", "ann", true, t1, none);
        let (_, token) = r
            .update(
                "1",
                "c",
                "ann",
                false,
                t1 + Duration::from_millis(100),
                none,
            )
            .stop
            .unwrap();
        r.update("1", "c", "ann", true, t1 + Duration::from_millis(200), none);
        assert!(!r.apply_stop("1", "c", "ann", token, t1 + THROTTLE, none));
        assert!(r.with_current("1", "c", |l| l == ["ann"]));
    }

    #[test]
    fn users_leaving_stop_typing() {
        let r = Registry::default();
        let t0 = Instant::now();
        r.update("1", "c1", "bob", true, t0, none);
        r.update("1", "c2", "bob", true, t0, none);
        r.update("1", "c2", "ann", true, t0, none);
        r.update("2", "c1", "bob", true, t0, none);
        let mut gone = r.remove_user("1", "bob");
        gone.sort();
        assert_eq!(gone, ["c1", "c2"]);
        assert!(r.with_current("1", "c2", |l| l == ["ann"]));
        assert!(r.with_current("2", "c1", |l| l == ["bob"]));
        assert!(r.remove_member("1", "c2", "ann", none));
        assert!(!r.remove_member("1", "c2", "ann", none));
    }
}
